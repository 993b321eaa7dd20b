//! Backward convolution: input and filter gradients.
use super::Conv2d;
use crate::{Gemm, KernelError};

/// Overwrites `d_input` with the gradient of the loss w.r.t. the input.
///
/// # Errors
/// [`KernelError::Length`] on a wrong slice length.
pub fn conv2d_backward_input_f32<G: Gemm + ?Sized>(
    g: &Conv2d,
    gemm: &G,
    batch: usize,
    d_output: &[f32],
    filter: &[f32],
    scratch: &mut [f32],
    d_input: &mut [f32],
) -> Result<(), KernelError> {
    let _ = (g, gemm, batch, d_output, filter, scratch, d_input);
    todo!()
}

/// Adds the filter gradient to `d_filter` (accumulates).
///
/// # Errors
/// [`KernelError::Length`] on a wrong slice length.
pub fn conv2d_backward_filter_f32<G: Gemm + ?Sized>(
    g: &Conv2d,
    gemm: &G,
    batch: usize,
    input: &[f32],
    d_output: &[f32],
    scratch: &mut [f32],
    d_filter: &mut [f32],
) -> Result<(), KernelError> {
    let _ = (g, gemm, batch, input, d_output, scratch, d_filter);
    todo!()
}

/// As [`conv2d_backward_filter_f32`] for `u8` frames normalised as `(x − 128) / 255`.
///
/// # Errors
/// [`KernelError::Length`] on a wrong slice length.
pub fn conv2d_backward_filter_u8<G: Gemm + ?Sized>(
    g: &Conv2d,
    gemm: &G,
    batch: usize,
    input: &[u8],
    d_output: &[f32],
    scratch: &mut [f32],
    d_filter: &mut [f32],
) -> Result<(), KernelError> {
    let _ = (g, gemm, batch, input, d_output, scratch, d_filter);
    todo!()
}
