//! The int8 kernels on the Armv7E-M DSP extension. The convolution and the dense layer use its
//! dual 16-bit multiply-accumulate (`SMLAD`) the way CMSIS-NN's `arm_convolve_s8` does: the
//! patches of two output pixels (two examples for the dense layer) become q15 columns (zero
//! point removed, `SXTAB16`); the filter stays int8, its rows in TFLite's `[kh][kw][c_in]` order
//! with pairs of output channels interleaved four bytes at a time
//! ([`conv2d_s8_smlad_filter`], [`dense_s8_smlad_weights`]), unpacked by `SXTB16`; each inner
//! step multiplies two output channels by two columns in four accumulators. Max-pooling compares
//! four channels at once (`SSUB8` + `SEL`).
//!
//! The same code runs everywhere: with the crate's `dsp` feature on Arm the primitives are the
//! instructions (`asm!`, the crate's only `unsafe`), elsewhere portable functions with the same
//! results, so the host tests this path against the portable kernels
//! ([`conv2d_s8`](super::conv2d_s8), [`dense_s8`](super::dense_s8),
//! [`max_pool_s8`](super::max_pool_s8)) and TFLite's golden vectors. Integer sums are exact
//! (wrapping), so the two paths give the same bits. [`QuantNet`](super::net::QuantNet) picks
//! this path by default where the instructions are real ([`Int8Kernels`](super::net::Int8Kernels)).

mod conv2d;
mod dense;
mod filter;
mod insn;
mod mat_mult;
mod pool;
mod q15;
mod requant;

pub use conv2d::{conv2d_s8_smlad, conv2d_s8_smlad_cols_len, conv2d_s8_smlad_scratch_len};
pub use dense::{dense_s8_smlad, dense_s8_smlad_cols_len};
pub(crate) use filter::interleave_into;
pub use filter::{conv2d_s8_smlad_filter, dense_s8_smlad_weights};
pub use pool::max_pool_s8_simd;
