//! Backward convolution: input and filter gradients, tiled like the forward pass.
use super::im2col::{col2im_add, im2col_spread, Sample};
use super::Conv2d;
use crate::error::{check_len, mul, nonzero};
use crate::{Backend, KernelError, Layout};

/// Overwrites `d_input` with the gradient of the loss w.r.t. the input (TensorFlow's
/// `Conv2DBackpropInput`), given `d_output` (`batch × output_len`, NHWC) and the HWIO `filter`.
///
/// Per tile of output pixels: `cols = d_output_tile · filterᵀ` (a `rows × patch_len` matrix,
/// computed by [`Gemm::gemm_acc`](crate::Gemm::gemm_acc) from a zeroed `scratch`), then col2im adds each in-image cell
/// of `cols` to the input cell it was read from; padding cells are dropped. Every `d_input`
/// element sums its contributions in one fixed order — output pixels ascending (tiles ascending,
/// rows ascending), then patch index ascending — so the bits do not depend on the tile size.
///
/// After the checks, a backend with its own algorithm for `g`
/// ([`LayerAlgorithms::conv_backward_input`](crate::LayerAlgorithms::conv_backward_input))
/// computes the gradient instead; [`crate::Portable`] never does.
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
pub fn conv2d_backward_input_f32<G: Backend + ?Sized>(
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
    if gemm.conv_backward_input(g, batch, d_output, filter, d_input) {
        return Ok(());
    }

    d_input.fill(0.0);
    let c_out = g.bias_len();
    let patch = g.patch_len();
    for (first, rows) in g.tiles(batch) {
        let d_out_tile = &d_output[first * c_out..][..rows * c_out];
        let cols = &mut scratch[..rows * patch];
        gemm.fill_rows(rows, (&mut *cols, patch), &|_, chunk| chunk.fill(0.0));
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
    }
    Ok(())
}

/// Adds the filter gradient to `d_filter` (accumulates: the caller zeroes it, and successive
/// calls — e.g. micro-batches — add up), TensorFlow's `Conv2DBackpropFilter`.
///
/// `d_filter += patchesᵀ · d_output` over every output pixel of the batch, where `patches` is
/// the im2col of `input`. Per tile, the patches are written to `scratch` and one
/// [`Gemm::gemm_acc`](crate::Gemm::gemm_acc) call adds the tile's product; with [`crate::Portable`] each `d_filter`
/// element is updated in output-pixel order (examples ascending, then rows, then columns), one
/// rounding per term, so the bits depend neither on the tile size nor on how the batch is split
/// into consecutive calls.
///
/// After the checks, a backend with its own algorithm for `g`
/// ([`LayerAlgorithms::conv_backward_filter`](crate::LayerAlgorithms::conv_backward_filter))
/// computes the gradient instead; [`crate::Portable`] never does.
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
pub fn conv2d_backward_filter_f32<G: Backend + ?Sized>(
    g: &Conv2d,
    gemm: &G,
    batch: usize,
    input: &[f32],
    d_output: &[f32],
    scratch: &mut [f32],
    d_filter: &mut [f32],
) -> Result<(), KernelError> {
    filter_grad_pass(g, gemm, batch, input, d_output, scratch, d_filter)
}

/// As [`conv2d_backward_filter_f32`] for `u8` frames normalised as `(x − 128) / 255` (padding is
/// 0.0 in normalised space); equal bit for bit to the f32 version fed the normalised frames.
/// Accumulates into `d_filter`.
///
/// # Errors
/// As [`conv2d_backward_filter_f32`]; nothing is written when an error is returned.
pub fn conv2d_backward_filter_u8<G: Backend + ?Sized>(
    g: &Conv2d,
    gemm: &G,
    batch: usize,
    input: &[u8],
    d_output: &[f32],
    scratch: &mut [f32],
    d_filter: &mut [f32],
) -> Result<(), KernelError> {
    filter_grad_pass(g, gemm, batch, input, d_output, scratch, d_filter)
}

/// The checks, then the backend's own algorithm if it takes the gradient, else the kernels'
/// loop.
fn filter_grad_pass<T: Sample, G: Backend + ?Sized>(
    g: &Conv2d,
    gemm: &G,
    batch: usize,
    input: &[T],
    d_output: &[f32],
    scratch: &mut [f32],
    d_filter: &mut [f32],
) -> Result<(), KernelError> {
    check_filter_grad(g, batch, input, d_output, scratch, d_filter)?;
    if T::offer_filter_grad(gemm, g, batch, input, d_output, d_filter) {
        return Ok(());
    }
    backward_filter(g, gemm, batch, input, d_output, scratch, d_filter)
}

/// The filter gradient's argument checks, in signature order.
fn check_filter_grad<T>(
    g: &Conv2d,
    batch: usize,
    input: &[T],
    d_output: &[f32],
    scratch: &[f32],
    d_filter: &[f32],
) -> Result<(), KernelError> {
    nonzero("batch", batch)?;
    let input_len = mul("input", batch, g.input_len())?;
    let d_output_len = mul("d_output", batch, g.output_len())?;
    check_len("input", input_len, input.len())?;
    check_len("d_output", d_output_len, d_output.len())?;
    check_len("scratch", g.scratch_len(), scratch.len())?;
    check_len("d_filter", g.filter_len(), d_filter.len())
}

/// Im2col + GEMM over tiles of output pixels, on checked slices.
fn backward_filter<T: Sample, G: Backend + ?Sized>(
    g: &Conv2d,
    gemm: &G,
    batch: usize,
    input: &[T],
    d_output: &[f32],
    scratch: &mut [f32],
    d_filter: &mut [f32],
) -> Result<(), KernelError> {
    let c_out = g.bias_len();
    let patch = g.patch_len();
    for (first, rows) in g.tiles(batch) {
        let d_out_tile = &d_output[first * c_out..][..rows * c_out];
        let cols = &mut scratch[..rows * patch];
        im2col_spread(gemm, g, input, first, cols);
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
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::conv2d_f32;
    use super::super::reference::{assert_close, bits, sweep, widen, Shape};
    use super::*;
    use crate::test_data::{self, draw_f32, draw_u8};
    use crate::{Hwc, Padding, Portable};
    use std::vec;
    use std::vec::Vec;

    /// `d_input` from NaN-filled scratch and output.
    fn input_grad(g: &Conv2d, batch: usize, dy: &[f32], f: &[f32]) -> Vec<f32> {
        let mut scratch = vec![f32::NAN; g.scratch_len()];
        let mut dx = vec![f32::NAN; batch * g.input_len()];
        conv2d_backward_input_f32(g, &Portable, batch, dy, f, &mut scratch, &mut dx).unwrap();
        dx
    }

    /// `d_filter` accumulated onto `init`, from NaN-filled scratch.
    fn filter_grad(g: &Conv2d, batch: usize, x: &[f32], dy: &[f32], init: &[f32]) -> Vec<f32> {
        let mut scratch = vec![f32::NAN; g.scratch_len()];
        let mut df = init.to_vec();
        conv2d_backward_filter_f32(g, &Portable, batch, x, dy, &mut scratch, &mut df).unwrap();
        df
    }

    fn shape() -> Shape {
        // Odd sizes, unequal strides, a non-square kernel and SAME padding split unevenly
        // (h: pad_total 3 → 1 before, 2 after).
        Shape {
            batch: 2,
            h: 7,
            w: 5,
            c_in: 3,
            kh: 4,
            kw: 3,
            c_out: 4,
            sh: 2,
            sw: 1,
            same: true,
        }
    }

    #[test]
    fn input_gradient_matches_f64_reference_over_the_sweep() {
        // Reference: f64 direct-convolution adjoint. Tolerance |err| ≤ 1e-5 + 1e-5·|dx|.
        let mut rng = test_data::rng(11);
        for (s, tile) in sweep() {
            let g = s.conv2d(tile);
            let dy = draw_f32(&mut rng, s.out_len(), -1.0, 1.0);
            let f = draw_f32(&mut rng, s.filter_len(), -1.0, 1.0);
            let dx = input_grad(&g, s.batch, &dy, &f);
            let want = s.backward_input(&widen(&dy), &widen(&f));
            assert_close("d_input", &dx, &want, 1e-5, 1e-5);
        }
    }

    #[test]
    fn filter_gradient_matches_f64_reference_over_the_sweep() {
        // Reference: f64 sum of x·dy. Tolerance |err| ≤ 1e-5 + 1e-5·|df|. Accumulates onto a
        // random start, which the reference adds in f64.
        let mut rng = test_data::rng(12);
        for (s, tile) in sweep() {
            let g = s.conv2d(tile);
            let x = draw_f32(&mut rng, s.in_len(), -1.0, 1.0);
            let dy = draw_f32(&mut rng, s.out_len(), -1.0, 1.0);
            let init = draw_f32(&mut rng, s.filter_len(), -1.0, 1.0);
            let df = filter_grad(&g, s.batch, &x, &dy, &init);
            let mut want = s.backward_filter(&widen(&x), &widen(&dy));
            want.iter_mut()
                .zip(&init)
                .for_each(|(w, &i)| *w += f64::from(i));
            assert_close("d_filter", &df, &want, 1e-5, 1e-5);
        }
    }

    #[test]
    fn gradients_match_finite_differences_of_the_f32_forward() {
        // L = Σ w·y with y = conv2d_f32(x, f) and fixed random w; central differences with
        // h = 1e-2 on the f32 kernel, L summed in f64. The convolution is linear in x and in f,
        // so the only error is f32 rounding of y (~1e-7 per term, divided by 2h):
        // tolerance |err| ≤ 2e-3 + 1e-3·|grad|.
        let s = shape();
        let g = s.conv2d(5);
        let mut rng = test_data::rng(13);
        let (x, f, bias) = (
            draw_f32(&mut rng, s.in_len(), -1.0, 1.0),
            draw_f32(&mut rng, s.filter_len(), -1.0, 1.0),
            draw_f32(&mut rng, 4, -1.0, 1.0),
        );
        let w = draw_f32(&mut rng, s.out_len(), -1.0, 1.0);
        let loss = |x: &[f32], f: &[f32]| -> f64 {
            let mut scratch = vec![f32::NAN; g.scratch_len()];
            let mut y = vec![f32::NAN; s.out_len()];
            conv2d_f32(&g, &Portable, 2, x, f, &bias, &mut scratch, &mut y).unwrap();
            y.iter()
                .zip(&w)
                .map(|(&y, &w)| f64::from(y) * f64::from(w))
                .sum()
        };
        let dx = input_grad(&g, 2, &w, &f);
        let df = filter_grad(&g, 2, &x, &w, &vec![0.0; s.filter_len()]);
        let h = 1e-2f32;
        // Corners, borders (next to the padding) and the second example.
        let last = s.in_len() - 1;
        for i in [0, 4, 14, 52, 104, last - 3, last] {
            let (mut xp, mut xm) = (x.clone(), x.clone());
            xp[i] += h;
            xm[i] -= h;
            let fd = (loss(&xp, &f) - loss(&xm, &f)) / (f64::from(xp[i]) - f64::from(xm[i]));
            assert!(
                (fd - f64::from(dx[i])).abs() <= 2e-3 + 1e-3 * fd.abs(),
                "x[{i}]: {fd} vs {}",
                dx[i]
            );
        }
        for i in [0, 7, 50, 101, s.filter_len() - 1] {
            let (mut fp, mut fm) = (f.clone(), f.clone());
            fp[i] += h;
            fm[i] -= h;
            let fd = (loss(&x, &fp) - loss(&x, &fm)) / (f64::from(fp[i]) - f64::from(fm[i]));
            assert!(
                (fd - f64::from(df[i])).abs() <= 2e-3 + 1e-3 * fd.abs(),
                "f[{i}]: {fd} vs {}",
                df[i]
            );
        }
    }

    #[test]
    fn bits_do_not_depend_on_the_tile() {
        let s = Shape {
            batch: 3,
            ..shape()
        };
        let mut rng = test_data::rng(14);
        let (x, f, dy) = (
            draw_f32(&mut rng, s.in_len(), -1.0, 1.0),
            draw_f32(&mut rng, s.filter_len(), -1.0, 1.0),
            draw_f32(&mut rng, s.out_len(), -1.0, 1.0),
        );
        let init = draw_f32(&mut rng, s.filter_len(), -1.0, 1.0);
        let pixels = s.out_h() * s.out_w();
        let g1 = s.conv2d(1);
        let want_dx = bits(&input_grad(&g1, 3, &dy, &f));
        let want_df = bits(&filter_grad(&g1, 3, &x, &dy, &init));
        for tile in [2, 3, 7, pixels, pixels * 3 + 5] {
            let g = s.conv2d(tile);
            assert_eq!(
                bits(&input_grad(&g, 3, &dy, &f)),
                want_dx,
                "d_input, tile {tile}"
            );
            assert_eq!(
                bits(&filter_grad(&g, 3, &x, &dy, &init)),
                want_df,
                "d_filter, tile {tile}"
            );
        }
    }

    #[test]
    fn filter_gradient_accumulates() {
        let s = shape();
        let g = s.conv2d(6);
        let mut rng = test_data::rng(15);
        let (x, dy) = (
            draw_f32(&mut rng, s.in_len(), -1.0, 1.0),
            draw_f32(&mut rng, s.out_len(), -1.0, 1.0),
        );
        let zero = vec![0.0; s.filter_len()];
        // Two calls on one batch: 2× the f64 gradient within 1e-5 + 1e-5·|2·df|.
        let once = filter_grad(&g, 2, &x, &dy, &zero);
        let twice = filter_grad(&g, 2, &x, &dy, &once);
        let want: Vec<f64> = s
            .backward_filter(&widen(&x), &widen(&dy))
            .iter()
            .map(|v| 2.0 * v)
            .collect();
        assert_close("twice", &twice, &want, 1e-5, 1e-5);
        // One call on both examples = a call per example in order, bit for bit: the GEMM resumes
        // from d_filter, so splitting the batch is invisible.
        let (half_x, half_dy) = (s.in_len() / 2, s.out_len() / 2);
        let g1 = s.conv2d(6);
        let first = filter_grad(&g1, 1, &x[..half_x], &dy[..half_dy], &zero);
        let both = filter_grad(&g1, 1, &x[half_x..], &dy[half_dy..], &first);
        assert_eq!(bits(&both), bits(&once));
    }

    #[test]
    fn u8_filter_gradient_equals_f32_on_the_normalised_frames_bit_for_bit() {
        let s = Shape {
            c_in: 3,
            kh: 5,
            kw: 5,
            sh: 4,
            sw: 3,
            ..shape()
        };
        let mut rng = test_data::rng(16);
        let frames = draw_u8(&mut rng, s.in_len());
        let normalised: Vec<f32> = frames.iter().map(|&b| (b as f32 - 128.0) / 255.0).collect();
        let (dy, init) = (
            draw_f32(&mut rng, s.out_len(), -1.0, 1.0),
            draw_f32(&mut rng, s.filter_len(), -1.0, 1.0),
        );
        for tile in [1, 4, 100] {
            let g = s.conv2d(tile);
            let mut scratch = vec![f32::NAN; g.scratch_len()];
            let mut df = init.clone();
            conv2d_backward_filter_u8(&g, &Portable, 2, &frames, &dy, &mut scratch, &mut df)
                .unwrap();
            assert_eq!(
                bits(&df),
                bits(&filter_grad(&g, 2, &normalised, &dy, &init))
            );
        }
    }

    #[test]
    fn wrong_lengths_are_reported_and_nothing_is_written() {
        let s = shape();
        let g = s.conv2d(4);
        let err = |arg, expected, got: usize| Err(KernelError::Length { arg, expected, got });
        // Input gradient: d_output, filter, scratch, d_input.
        let lens = [s.out_len(), s.filter_len(), g.scratch_len(), s.in_len()];
        for (which, name) in ["d_output", "filter", "scratch", "d_input"]
            .iter()
            .enumerate()
        {
            for delta in [-1isize, 1] {
                let mut len = lens;
                len[which] = (len[which] as isize + delta) as usize;
                let (dy, f) = (vec![0.5; len[0]], vec![0.5; len[1]]);
                let (mut scratch, mut dx) = (vec![-3.0; len[2]], vec![-7.0; len[3]]);
                let r = conv2d_backward_input_f32(&g, &Portable, 2, &dy, &f, &mut scratch, &mut dx);
                assert_eq!(r, err(name, lens[which], len[which]));
                assert!(scratch.iter().all(|&v| v == -3.0) && dx.iter().all(|&v| v == -7.0));
            }
        }
        // Filter gradient: input, d_output, scratch, d_filter.
        let lens = [s.in_len(), s.out_len(), g.scratch_len(), s.filter_len()];
        for (which, name) in ["input", "d_output", "scratch", "d_filter"]
            .iter()
            .enumerate()
        {
            for delta in [-1isize, 1] {
                let mut len = lens;
                len[which] = (len[which] as isize + delta) as usize;
                let (x, frames, dy) = (vec![0.5; len[0]], vec![9u8; len[0]], vec![0.5; len[1]]);
                let (mut scratch, mut df) = (vec![-3.0; len[2]], vec![-7.0; len[3]]);
                let want = err(name, lens[which], len[which]);
                let r =
                    conv2d_backward_filter_f32(&g, &Portable, 2, &x, &dy, &mut scratch, &mut df);
                assert_eq!(r, want);
                let r = conv2d_backward_filter_u8(
                    &g,
                    &Portable,
                    2,
                    &frames,
                    &dy,
                    &mut scratch,
                    &mut df,
                );
                assert_eq!(r, want);
                assert!(scratch.iter().all(|&v| v == -3.0) && df.iter().all(|&v| v == -7.0));
            }
        }
    }

    #[test]
    fn zero_and_overflowing_batches_are_rejected() {
        // input_len 1, output_len 2.
        let g = Conv2d::new(Hwc::new(1, 1, 1), [1, 1], 2, [1, 1], Padding::Valid, 1).unwrap();
        let (mut scratch, mut dx, mut df) = ([f32::NAN; 1], [f32::NAN; 1], [-7.0f32; 2]);
        let f = [1.0, 2.0];
        for batch in [0, usize::MAX] {
            let want = if batch == 0 {
                (
                    KernelError::Zero { arg: "batch" },
                    KernelError::Zero { arg: "batch" },
                )
            } else {
                (
                    KernelError::Overflow { arg: "d_output" },
                    KernelError::Overflow { arg: "d_output" },
                )
            };
            let r = conv2d_backward_input_f32(&g, &Portable, batch, &f, &f, &mut scratch, &mut dx);
            assert_eq!(r, Err(want.0));
            let r =
                conv2d_backward_filter_f32(&g, &Portable, batch, &[1.0], &f, &mut scratch, &mut df);
            assert_eq!(r, Err(want.1));
            let r =
                conv2d_backward_filter_u8(&g, &Portable, batch, &[1], &f, &mut scratch, &mut df);
            assert_eq!(r, Err(want.1));
        }
        // input_len 2, output_len 1: the input side overflows first.
        let g = Conv2d::new(Hwc::new(1, 2, 1), [1, 2], 1, [1, 1], Padding::Valid, 1).unwrap();
        let mut scratch = [f32::NAN; 2];
        let r =
            conv2d_backward_input_f32(&g, &Portable, usize::MAX, &[1.0], &f, &mut scratch, &mut dx);
        assert_eq!(r, Err(KernelError::Overflow { arg: "d_input" }));
        let r = conv2d_backward_filter_f32(
            &g,
            &Portable,
            usize::MAX,
            &f,
            &[1.0],
            &mut scratch,
            &mut df,
        );
        assert_eq!(r, Err(KernelError::Overflow { arg: "input" }));
        assert!(dx[0].is_nan() && df == [-7.0; 2] && scratch.iter().all(|v| v.is_nan()));
        // batch 1 by hand: y = x0·f0 + x1·f1, so dx = dy·f and df += x·dy.
        let mut dx = [f32::NAN; 2];
        conv2d_backward_input_f32(&g, &Portable, 1, &[3.0], &f, &mut scratch, &mut dx).unwrap();
        assert_eq!(dx, [3.0, 6.0]);
        conv2d_backward_filter_f32(
            &g,
            &Portable,
            1,
            &[5.0, -1.0],
            &[3.0],
            &mut scratch,
            &mut df,
        )
        .unwrap();
        assert_eq!(df, [8.0, -10.0]);
    }
}
