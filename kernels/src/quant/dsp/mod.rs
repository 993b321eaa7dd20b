//! The int8 kernels on the Armv7E-M DSP extension. The convolution and the dense layer use its
//! dual 16-bit multiply-accumulate (`SMLAD`) the way CMSIS-NN's `arm_convolve_s8` does it: the patches
//! of two output pixels become q15 columns (zero point removed, `SXTAB16`), the filter stays
//! int8 in TFLite's `[c_out][kh][kw][c_in]` order and is unpacked four bytes at a time
//! (`SXTB16`), and each inner step multiplies two output channels by two columns. Max-pooling
//! compares four channels at once (`SSUB8` + `SEL`).
//!
//! The same code runs everywhere: on an Arm target with the `dsp` feature the primitives are
//! the instructions, elsewhere portable functions with the same results (`insn`), so the host
//! tests this path against the portable kernels ([`conv2d_s8`](super::conv2d_s8),
//! [`dense_s8`](super::dense_s8), [`max_pool_s8`](super::max_pool_s8)) and TFLite's golden vectors. Integer sums are exact
//! (wrapping), so the two paths give the same bits.

mod conv2d;
mod dense;
mod insn;
mod mat_mult;
mod pool;
mod q15;
mod transpose;

pub use conv2d::{conv2d_s8_smlad, conv2d_s8_smlad_cols_len, conv2d_s8_smlad_scratch_len};
pub use dense::{dense_s8_smlad, dense_s8_smlad_cols_len};
pub use pool::max_pool_s8_simd;
pub(crate) use transpose::transpose_into;
pub use transpose::transpose_s8;
