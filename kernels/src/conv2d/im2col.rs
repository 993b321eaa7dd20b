//! im2col and its adjoint col2im over a tile of output pixels.
//!
//! A patch (one scratch row) is the HWIO-ordered window `[kh][kw][c_in]` of one output pixel.
//! Within one kernel row `ky` the in-range taps `kx_lo..kx_hi` read *consecutive* input pixels,
//! and NHWC keeps consecutive pixels of an image row contiguous, so each kernel row of a patch is
//! one contiguous copy framed by zero padding: `kh` copies per patch instead of `kh · kw · c_in`
//! scalar loads with bounds tests.

use super::Conv2d;
use crate::error::{check_len, mul, nonzero};
use crate::{Exec, KernelError, LayerAlgorithms};

/// A sample type the convolution can read its input as.
pub(super) trait Sample: Copy + Sync {
    /// Writes `src` into `dst` as normalised `f32` (the lengths are equal).
    fn load(dst: &mut [f32], src: &[Self]);

    /// Offers a checked forward pass on this input type (`layer`: filter, bias, ReLU) to the
    /// backend's own algorithm ([`LayerAlgorithms`]); `true` when it took it.
    #[allow(clippy::too_many_arguments)]
    fn offer_forward<G: LayerAlgorithms + ?Sized>(
        gemm: &G,
        g: &Conv2d,
        batch: usize,
        input: &[Self],
        layer: (&[f32], &[f32], bool),
        output: &mut [f32],
    ) -> bool;

    /// Offers a checked filter gradient on this input type to the backend's own algorithm;
    /// `true` when it took it.
    fn offer_filter_grad<G: LayerAlgorithms + ?Sized>(
        gemm: &G,
        g: &Conv2d,
        batch: usize,
        input: &[Self],
        d_output: &[f32],
        d_filter: &mut [f32],
    ) -> bool;
}

impl Sample for f32 {
    #[inline]
    fn load(dst: &mut [f32], src: &[Self]) {
        dst.copy_from_slice(src);
    }

    fn offer_forward<G: LayerAlgorithms + ?Sized>(
        gemm: &G,
        g: &Conv2d,
        batch: usize,
        input: &[Self],
        (filter, bias, relu): (&[f32], &[f32], bool),
        output: &mut [f32],
    ) -> bool {
        gemm.conv_forward(g, batch, input, filter, bias, relu, output)
    }

    fn offer_filter_grad<G: LayerAlgorithms + ?Sized>(
        gemm: &G,
        g: &Conv2d,
        batch: usize,
        input: &[Self],
        d_output: &[f32],
        d_filter: &mut [f32],
    ) -> bool {
        gemm.conv_backward_filter(g, batch, input, d_output, d_filter)
    }
}

/// A `u8` frame byte as the network sees it, `(x − 128) / 255`: a subtraction then a division,
/// each rounded to f32, exactly as TensorFlow evaluates `(tf.cast(x, tf.float32) - 128.0) /
/// 255.0`. The `u8` convolutions apply it on the fly; a host feeding an `f32` network the same
/// frames applies it first.
#[inline]
pub fn normalise_u8(x: u8) -> f32 {
    (f32::from(x) - 128.0) / 255.0
}

impl Sample for u8 {
    /// [`normalise_u8`] of every byte.
    #[inline]
    fn load(dst: &mut [f32], src: &[Self]) {
        debug_assert_eq!(dst.len(), src.len());
        for (d, &s) in dst.iter_mut().zip(src) {
            *d = normalise_u8(s);
        }
    }

    fn offer_forward<G: LayerAlgorithms + ?Sized>(
        gemm: &G,
        g: &Conv2d,
        batch: usize,
        input: &[Self],
        (filter, bias, relu): (&[f32], &[f32], bool),
        output: &mut [f32],
    ) -> bool {
        gemm.conv_forward_u8(g, batch, input, filter, bias, relu, output)
    }

    fn offer_filter_grad<G: LayerAlgorithms + ?Sized>(
        gemm: &G,
        g: &Conv2d,
        batch: usize,
        input: &[Self],
        d_output: &[f32],
        d_filter: &mut [f32],
    ) -> bool {
        gemm.conv_backward_filter_u8(g, batch, input, d_output, d_filter)
    }
}

/// One kernel row of one patch: cells `lo..hi` of the row (of `kw · c_in` cells) come from the
/// input run starting at `src` (an index into the whole batch's input); the cells before `lo`
/// and from `hi` on are padding. A kernel row wholly in the padding has `lo == hi == 0`.
#[derive(Clone, Copy)]
struct Run {
    lo: usize,
    hi: usize,
    src: usize,
}

/// Calls `f(row, ky, run)` for every output pixel `first..first + rows` (in that order) and every
/// kernel row `ky` (ascending).
///
/// `first + rows` must not exceed `batch · out_h · out_w` for the batch the caller validated.
#[inline(always)]
fn walk(g: &Conv2d, first: usize, rows: usize, mut f: impl FnMut(usize, usize, Run)) {
    let inp = g.input();
    let out = g.output();
    let [kh, kw] = g.kernel();
    let [sh, sw] = g.stride();
    let [pad_h, pad_w] = g.pad_before();
    let c = inp.c;
    let row_len = inp.w * c;
    // Position of pixel `first`; advanced by counting rather than dividing per pixel.
    let pixels = g.out_pixels();
    let mut base = (first / pixels) * g.input_len();
    let mut oy = (first % pixels) / out.w;
    let mut ox = first % out.w;
    for r in 0..rows {
        // Coordinates in the padded image, where the window starts at (y0, x0); they fit in
        // usize because `Conv2d::new` checked the padded span `(out − 1)·stride + k`.
        let y0 = oy * sh;
        let x0 = ox * sw;
        // Taps kx in lo..hi land inside the image: pad_w <= x0 + kx < pad_w + w.
        let kx_lo = pad_w.saturating_sub(x0).min(kw);
        let kx_hi = (pad_w + inp.w).saturating_sub(x0).min(kw).max(kx_lo);
        let inside = Run {
            lo: kx_lo * c,
            hi: kx_hi * c,
            // Only read when lo < hi, i.e. x0 + kx_lo >= pad_w.
            src: (x0 + kx_lo).saturating_sub(pad_w) * c,
        };
        for ky in 0..kh {
            let py = y0 + ky;
            if py < pad_h || py - pad_h >= inp.h || kx_lo == kx_hi {
                f(
                    r,
                    ky,
                    Run {
                        lo: 0,
                        hi: 0,
                        src: 0,
                    },
                );
            } else {
                let src = base + (py - pad_h) * row_len + inside.src;
                f(r, ky, Run { src, ..inside });
            }
        }
        ox += 1;
        if ox == out.w {
            ox = 0;
            oy += 1;
            if oy == out.h {
                oy = 0;
                base += g.input_len();
            }
        }
    }
}

/// [`im2col`] spread by `exec` over chunks of the tile's patches (each is written alone, so the
/// split changes no bit).
pub(super) fn im2col_spread<T: Sample, E: Exec + ?Sized>(
    exec: &E,
    g: &Conv2d,
    input: &[T],
    first: usize,
    scratch: &mut [f32],
) {
    let patch = g.patch_len();
    exec.fill_rows(scratch.len() / patch, (scratch, patch), &|r, chunk| {
        im2col(g, input, first + r, chunk);
    });
}

/// Sets every row of `rows` (`rows.len()` a multiple of `row.len()`) to `row`, spread by
/// `exec`: a tile's bias before its GEMM adds to it, or zeros.
pub(super) fn fill_spread<E: Exec + ?Sized>(exec: &E, row: &[f32], rows: &mut [f32]) {
    let n = row.len();
    exec.fill_rows(rows.len() / n, (rows, n), &|_, chunk| {
        for r in chunk.chunks_exact_mut(n) {
            r.copy_from_slice(row);
        }
    });
}

/// Writes the patches of output pixels `first .. first + rows` of a `batch`-example input
/// (`rows = cols.len() / g.patch_len()`) into `cols`, row-major, padding cells 0.0: the matrix
/// the convolutions multiply by the filter, for a host that runs its own products.
///
/// # Errors
/// Nothing is written when an error is returned.
/// * [`KernelError::Zero`] (`batch`) if `batch == 0`;
/// * [`KernelError::Overflow`] (`input`) if `batch` times an example's length overflows;
/// * [`KernelError::Length`] (`input`) if `input` is not `batch` examples long;
/// * [`KernelError::InvalidParam`] (`first`) if `first` lies beyond the batch's output pixels;
/// * [`KernelError::Length`] (`cols`) if `cols` is not a whole number of patches, or holds more
///   patches than the batch has output pixels from `first` on (`expected` is that maximum).
pub fn im2col_f32(
    g: &Conv2d,
    batch: usize,
    input: &[f32],
    first: usize,
    cols: &mut [f32],
) -> Result<(), KernelError> {
    check_im2col(g, batch, input.len(), first, cols.len())?;
    im2col(g, input, first, cols);
    Ok(())
}

/// [`im2col_f32`] of `u8` frames, each byte [`normalise_u8`]d (padding 0.0 in normalised space).
///
/// # Errors
/// As [`im2col_f32`]; nothing is written when an error is returned.
pub fn im2col_u8(
    g: &Conv2d,
    batch: usize,
    input: &[u8],
    first: usize,
    cols: &mut [f32],
) -> Result<(), KernelError> {
    check_im2col(g, batch, input.len(), first, cols.len())?;
    im2col(g, input, first, cols);
    Ok(())
}

/// The public im2col's argument checks.
fn check_im2col(
    g: &Conv2d,
    batch: usize,
    input_len: usize,
    first: usize,
    cols_len: usize,
) -> Result<(), KernelError> {
    nonzero("batch", batch)?;
    check_len("input", mul("input", batch, g.input_len())?, input_len)?;
    let pixels = mul("input", batch, g.output().pixels())?;
    if first > pixels {
        return Err(KernelError::InvalidParam { arg: "first" });
    }
    let patch = g.patch_len();
    let max = pixels.saturating_sub(first).saturating_mul(patch);
    if cols_len % patch != 0 || cols_len > max {
        return Err(KernelError::Length {
            arg: "cols",
            expected: max,
            got: cols_len,
        });
    }
    Ok(())
}

/// Fills `scratch` (`rows × patch_len`, row-major) with the patches of output pixels
/// `first..first + rows`, padding cells set to 0.0 (in normalised space for `u8`).
pub(super) fn im2col<T: Sample>(g: &Conv2d, input: &[T], first: usize, scratch: &mut [f32]) {
    let patch = g.patch_len();
    let krow = g.kernel()[1] * g.input().c;
    debug_assert_eq!(scratch.len() % patch, 0);
    let rows = scratch.len() / patch;
    walk(g, first, rows, |r, ky, run| {
        let start = r * patch + ky * krow;
        let dst = &mut scratch[start..start + krow];
        dst[..run.lo].fill(0.0);
        T::load(
            &mut dst[run.lo..run.hi],
            &input[run.src..run.src + run.hi - run.lo],
        );
        dst[run.hi..].fill(0.0);
    });
}

/// Adds every in-image cell of the patches in `scratch` (output pixels `first..`) to the input
/// cell it was read from, pixels ascending then patch index ascending; padding cells are dropped.
pub(super) fn col2im_add(g: &Conv2d, scratch: &[f32], first: usize, d_input: &mut [f32]) {
    let patch = g.patch_len();
    let krow = g.kernel()[1] * g.input().c;
    debug_assert_eq!(scratch.len() % patch, 0);
    let rows = scratch.len() / patch;
    walk(g, first, rows, |r, ky, run| {
        let start = r * patch + ky * krow;
        let src = &scratch[start + run.lo..start + run.hi];
        let dst = &mut d_input[run.src..run.src + src.len()];
        for (d, &s) in dst.iter_mut().zip(src) {
            *d += s;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::Sample;

    #[test]
    fn public_im2col_checks_its_arguments_and_writes_patches() {
        use super::{im2col_f32, Conv2d};
        use crate::{Hwc, KernelError, Padding};
        // 3×3 input 1..9, 2×2 kernel, stride 1, VALID: 4 patches of 4.
        let g = Conv2d::new(Hwc::new(3, 3, 1), [2, 2], 1, [1, 1], Padding::Valid, 4).unwrap();
        let x: [f32; 9] = core::array::from_fn(|i| (i + 1) as f32);
        let mut cols = [f32::NAN; 8];
        im2col_f32(&g, 1, &x, 2, &mut cols).unwrap();
        // Output pixels 2 and 3: rows 1..3 × columns 0..2 and 1..3.
        assert_eq!(cols, [4.0, 5.0, 7.0, 8.0, 5.0, 6.0, 8.0, 9.0]);
        let mut three = [0.0; 12];
        let too_many = KernelError::Length {
            arg: "cols",
            expected: 8,
            got: 12,
        };
        assert_eq!(im2col_f32(&g, 1, &x, 2, &mut three), Err(too_many));
        let mut partial = [0.0; 6];
        let partial_err = KernelError::Length {
            arg: "cols",
            expected: 16,
            got: 6,
        };
        assert_eq!(im2col_f32(&g, 1, &x, 0, &mut partial), Err(partial_err));
        let beyond = KernelError::InvalidParam { arg: "first" };
        assert_eq!(im2col_f32(&g, 1, &x, 5, &mut []), Err(beyond));
        assert_eq!(three, [0.0; 12], "nothing written on error");
    }

    #[test]
    fn frame_normalisation_is_tensorflows_for_every_byte() {
        // The seed's `(tf.cast(x, tf.float32) - 128.0) / 255.0`: 128.0 and 255.0 are exact in
        // f32, the subtraction of integers below 2^24 is exact, and one correctly rounded f32
        // division equals the exact quotient (computed in f64) rounded once to f32.
        let bytes: [u8; 256] = core::array::from_fn(|b| b as u8);
        let mut got = [0.0f32; 256];
        u8::load(&mut got, &bytes);
        for (b, g) in got.iter().enumerate() {
            let want = ((b as f64 - 128.0) / 255.0) as f32;
            assert_eq!(g.to_bits(), want.to_bits(), "byte {b}");
        }
    }
}
