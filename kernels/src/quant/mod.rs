//! Fixed-point inference: TensorFlow Lite's int8 quantisation scheme, bit-exact with its
//! reference kernels (`tensorflow/lite/kernels/internal/reference/integer_ops/`).
//!
//! A real value is `scale · (q − zero_point)` with `q` an `i8` ([`QuantParams`]). Weights are
//! symmetric (zero point 0) with one scale per output channel or one per tensor; biases are
//! `i32` at scale `input_scale · weight_scale`. Each layer accumulates in `i32` and rescales with
//! a Q31 multiplier and a power-of-two shift ([`QuantizedMultiplier`]), rounding as TensorFlow
//! 2.21's interpreter does: twice for `CONV_2D` (TFLite's default `MultiplyByQuantizedMultiplier`,
//! [`QuantizedMultiplier::apply`]), once for `FULLY_CONNECTED`
//! ([`QuantizedMultiplier::apply_single_rounding`]) — the golden vectors tell the two apart.
//!
//! Floating point appears only in the *prepare* functions ([`QuantizedMultiplier::from_real`],
//! [`per_channel_multipliers`], [`ActivationRange::from_activation`], [`LrnS8::new`] and
//! [`LrnS8::fill_table`], and the boundary conversions [`quantize_s8`] / [`dequantize_s8`]),
//! which a board runs once or a host runs ahead of time. The int8 kernels themselves
//! ([`conv2d_s8`], [`dense_s8`], [`max_pool_s8`], [`relu_s8`], [`lrn_s8`]) use integers only.
//!
//! Integer sums are exact (wrapping two's-complement `i32`, which is associative), so the
//! order of every reduction is immaterial: the bits are the same for every tile size.

mod conv2d;
mod dense;
pub mod dsp;
mod fixed;
mod lrn;
mod multiplier;
pub mod net;
mod params;
mod pool;

pub use conv2d::conv2d_s8;
pub use dense::dense_s8;
pub use dsp::{
    conv2d_s8_smlad, conv2d_s8_smlad_cols_len, conv2d_s8_smlad_filter, conv2d_s8_smlad_scratch_len,
    dense_s8_smlad, dense_s8_smlad_cols_len, dense_s8_smlad_weights, max_pool_s8_simd,
};
pub use fixed::{rounding_divide_by_pot, saturate_s8, saturating_rounding_doubling_high_mul};
pub use lrn::{lrn_s8, LrnS8};
pub use multiplier::{per_channel_multipliers, QuantizedMultiplier};
pub use params::{
    dequantize_s8, quantize_s8, relu_s8, Activation, ActivationRange, LayerQuant, QuantParams,
};
pub use pool::max_pool_s8;
