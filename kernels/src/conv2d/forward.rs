//! Forward convolution.
use super::Conv2d;
use crate::{Gemm, KernelError};

/// `output = conv2d(input, filter) + bias` over `batch` examples.
///
/// # Errors
/// [`KernelError::Length`] if a slice's length differs from what `g` and `batch` imply.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_f32<G: Gemm + ?Sized>(
    g: &Conv2d,
    gemm: &G,
    batch: usize,
    input: &[f32],
    filter: &[f32],
    bias: &[f32],
    scratch: &mut [f32],
    output: &mut [f32],
) -> Result<(), KernelError> {
    let _ = (g, gemm, batch, input, filter, bias, scratch, output);
    todo!()
}

/// As [`conv2d_f32`] but the input is `u8` frames normalised on the fly as `(x − 128) / 255`.
///
/// # Errors
/// As [`conv2d_f32`].
#[allow(clippy::too_many_arguments)]
pub fn conv2d_u8<G: Gemm + ?Sized>(
    g: &Conv2d,
    gemm: &G,
    batch: usize,
    input: &[u8],
    filter: &[f32],
    bias: &[f32],
    scratch: &mut [f32],
    output: &mut [f32],
) -> Result<(), KernelError> {
    let _ = (g, gemm, batch, input, filter, bias, scratch, output);
    todo!()
}
