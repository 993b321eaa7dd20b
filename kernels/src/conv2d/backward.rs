//! Backward convolution: input and filter gradients, tiled like the forward pass.
use super::im2col::{col2im_add, im2col, Sample};
use super::Conv2d;
use crate::error::{check_len, mul, nonzero};
use crate::{Gemm, KernelError, Layout};

/// Overwrites `d_input` with the gradient of the loss w.r.t. the input (TensorFlow's
/// `Conv2DBackpropInput`), given `d_output` (`batch × output_len`, NHWC) and the HWIO `filter`.
///
/// Per tile of output pixels: `cols = d_output_tile · filterᵀ` (a `rows × patch_len` matrix,
/// computed by [`Gemm::gemm_acc`] from a zeroed `scratch`), then col2im adds each in-image cell
/// of `cols` to the input cell it was read from; padding cells are dropped. Every `d_input`
/// element sums its contributions in one fixed order — output pixels ascending (tiles ascending,
/// rows ascending), then patch index ascending — so the bits do not depend on the tile size.
///
/// `scratch` must be exactly [`Conv2d::scratch_len`] long; its contents on entry do not matter
/// and on return are unspecified.
///
/// # Errors
/// Nothing is written when an error is returned.
/// * [`KernelError::Zero`] (`batch`) if `batch == 0`;
/// * [`KernelError::Overflow`] (`d_output`, then `d_input`) if `batch` times an example's length
///   overflows `usize`;
/// * [`KernelError::Length`] naming the first slice (in signature order) whose length differs
///   from what `g` and `batch` imply.
pub fn conv2d_backward_input_f32<G: Gemm + ?Sized>(
    g: &Conv2d,
    gemm: &G,
    batch: usize,
    d_output: &[f32],
    filter: &[f32],
    scratch: &mut [f32],
    d_input: &mut [f32],
) -> Result<(), KernelError> {
    nonzero("batch", batch)?;
    let d_output_len = mul("d_output", batch, g.output_len())?;
    let d_input_len = mul("d_input", batch, g.input_len())?;
    check_len("d_output", d_output_len, d_output.len())?;
    check_len("filter", g.filter_len(), filter.len())?;
    check_len("scratch", g.scratch_len(), scratch.len())?;
    check_len("d_input", d_input_len, d_input.len())?;

    d_input.fill(0.0);
    let c_out = g.bias_len();
    let patch = g.patch_len();
    // Saturating: an overflowing tile · c_out exceeds the whole `d_output`, whose length fits.
    let chunk = g.tile().saturating_mul(c_out);
    let mut first = 0;
    for d_out_tile in d_output.chunks(chunk) {
        let rows = d_out_tile.len() / c_out;
        let cols = &mut scratch[..rows * patch];
        cols.fill(0.0);
        // The HWIO filter is patch_len × c_out row-major, i.e. its transpose c_out × patch_len
        // stored column-major.
        gemm.gemm_acc(
            rows,
            c_out,
            patch,
            d_out_tile,
            Layout::RowMajor,
            filter,
            Layout::ColMajor,
            cols,
        );
        col2im_add(g, cols, first, d_input);
        first += rows;
    }
    Ok(())
}

/// Adds the filter gradient to `d_filter` (accumulates: the caller zeroes it, and successive
/// calls — e.g. micro-batches — add up), TensorFlow's `Conv2DBackpropFilter`.
///
/// `d_filter += patchesᵀ · d_output` over every output pixel of the batch, where `patches` is
/// the im2col of `input`. Per tile, the patches are written to `scratch` and one
/// [`Gemm::gemm_acc`] call adds the tile's product; with [`crate::Portable`] each `d_filter`
/// element is updated in output-pixel order (examples ascending, then rows, then columns), one
/// rounding per term, so the bits depend neither on the tile size nor on how the batch is split
/// into consecutive calls.
///
/// `scratch` must be exactly [`Conv2d::scratch_len`] long; its contents on entry do not matter
/// and on return are unspecified.
///
/// # Errors
/// Nothing is written when an error is returned.
/// * [`KernelError::Zero`] (`batch`) if `batch == 0`;
/// * [`KernelError::Overflow`] (`input`, then `d_output`) if `batch` times an example's length
///   overflows `usize`;
/// * [`KernelError::Length`] naming the first slice (in signature order) whose length differs
///   from what `g` and `batch` imply.
pub fn conv2d_backward_filter_f32<G: Gemm + ?Sized>(
    g: &Conv2d,
    gemm: &G,
    batch: usize,
    input: &[f32],
    d_output: &[f32],
    scratch: &mut [f32],
    d_filter: &mut [f32],
) -> Result<(), KernelError> {
    backward_filter(g, gemm, batch, input, d_output, scratch, d_filter)
}

/// As [`conv2d_backward_filter_f32`] for `u8` frames normalised as `(x − 128) / 255` (padding is
/// 0.0 in normalised space); equal bit for bit to the f32 version fed the normalised frames.
/// Accumulates into `d_filter`.
///
/// # Errors
/// As [`conv2d_backward_filter_f32`]; nothing is written when an error is returned.
pub fn conv2d_backward_filter_u8<G: Gemm + ?Sized>(
    g: &Conv2d,
    gemm: &G,
    batch: usize,
    input: &[u8],
    d_output: &[f32],
    scratch: &mut [f32],
    d_filter: &mut [f32],
) -> Result<(), KernelError> {
    backward_filter(g, gemm, batch, input, d_output, scratch, d_filter)
}

fn backward_filter<T: Sample, G: Gemm + ?Sized>(
    g: &Conv2d,
    gemm: &G,
    batch: usize,
    input: &[T],
    d_output: &[f32],
    scratch: &mut [f32],
    d_filter: &mut [f32],
) -> Result<(), KernelError> {
    nonzero("batch", batch)?;
    let input_len = mul("input", batch, g.input_len())?;
    let d_output_len = mul("d_output", batch, g.output_len())?;
    check_len("input", input_len, input.len())?;
    check_len("d_output", d_output_len, d_output.len())?;
    check_len("scratch", g.scratch_len(), scratch.len())?;
    check_len("d_filter", g.filter_len(), d_filter.len())?;

    let c_out = g.bias_len();
    let patch = g.patch_len();
    // Saturating: an overflowing tile · c_out exceeds the whole `d_output`, whose length fits.
    let chunk = g.tile().saturating_mul(c_out);
    let mut first = 0;
    for d_out_tile in d_output.chunks(chunk) {
        let rows = d_out_tile.len() / c_out;
        let cols = &mut scratch[..rows * patch];
        im2col(g, input, first, cols);
        // The rows × patch_len patches (row-major) are their transpose patch_len × rows stored
        // column-major.
        gemm.gemm_acc(
            patch,
            rows,
            c_out,
            cols,
            Layout::ColMajor,
            d_out_tile,
            Layout::RowMajor,
            d_filter,
        );
        first += rows;
    }
    Ok(())
}
