//! 2-D convolution, TensorFlow semantics (NHWC input, HWIO filter), as tiled im2col + GEMM.

mod backward;
mod forward;
mod geometry;

pub use backward::{
    conv2d_backward_filter_f32, conv2d_backward_filter_u8, conv2d_backward_input_f32,
};
pub use forward::{conv2d_f32, conv2d_u8};
pub use geometry::Conv2d;
