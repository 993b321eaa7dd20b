//! 2-D convolution, TensorFlow semantics (NHWC input, HWIO filter), as tiled im2col + GEMM.
//!
//! [`Conv2d`] validates a geometry once, including the tile size (output pixels per im2col
//! batch) that fixes the scratch length; the kernels then only check slice lengths. The bias
//! gradient is not here: `activation::bias_backward_f32` sums `d_output` over its rows.

mod backward;
mod forward;
mod geometry;
mod im2col;
#[cfg(test)]
mod reference;

pub use backward::{
    conv2d_backward_filter_f32, conv2d_backward_filter_u8, conv2d_backward_input_f32,
};
pub use forward::{conv2d_f32, conv2d_relu_f32, conv2d_relu_u8, conv2d_u8};
pub use geometry::Conv2d;
pub use im2col::{im2col_f32, im2col_u8, normalise_u8};
