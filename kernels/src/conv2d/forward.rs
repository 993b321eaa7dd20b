//! Forward convolution: per tile of output pixels, im2col then one GEMM onto the bias.
use super::im2col::{fill_spread, im2col_spread, Sample};
use super::Conv2d;
use crate::activation::relu_f32;
use crate::error::{check_len, mul, nonzero};
use crate::{Backend, KernelError, Layout};

/// `output = conv2d(input, filter) + bias` over `batch` examples, TensorFlow semantics
/// (`tf.nn.conv2d` NHWC/HWIO with `g`'s strides and SAME/VALID padding, then `tf.nn.bias_add`).
///
/// `input` is `batch × input_len` (NHWC), `filter` is HWIO `[kh, kw, c_in, c_out]`, `bias` is
/// `[c_out]`, `output` is `batch × output_len` (NHWC) and is overwritten. `scratch` must be
/// exactly [`Conv2d::scratch_len`] long; its contents on entry do not matter and on return are
/// unspecified.
///
/// The `batch · out_h · out_w` output pixels are processed `g.tile()` at a time (a tile may span
/// two examples; the last one may be short): im2col of the tile into `scratch`, then
/// `out_tile = bias + patches · filter` through [`Gemm::gemm_acc`](crate::Gemm::gemm_acc). With [`crate::Portable`]
/// each output is `bias + Σ_p patch[p] · filter[p]` summed in patch (HWIO) order, so the bits do
/// not depend on the tile size.
///
/// After the checks, a backend with its own algorithm for `g`
/// ([`LayerAlgorithms::conv_forward`](crate::LayerAlgorithms::conv_forward), the host's
/// Winograd transforms say) computes the layer instead; [`crate::Portable`] never does.
///
/// # Errors
/// Nothing is written when an error is returned.
/// * [`KernelError::Zero`] (`batch`) if `batch == 0`;
/// * [`KernelError::Overflow`] (`input`, then `output`) if `batch` times an example's length
///   overflows `usize`;
/// * [`KernelError::Length`] naming the first slice (in signature order) whose length differs
///   from what `g` and `batch` imply.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_f32<G: Backend + ?Sized>(
    g: &Conv2d,
    gemm: &G,
    batch: usize,
    input: &[f32],
    filter: &[f32],
    bias: &[f32],
    scratch: &mut [f32],
    output: &mut [f32],
) -> Result<(), KernelError> {
    pass(
        g,
        gemm,
        batch,
        input,
        (filter, bias, false),
        scratch,
        output,
    )
}

/// [`conv2d_f32`] then ReLU ([`relu_f32`]), applied to each tile of output pixels as soon as
/// its product is done (while it is still in cache): the same bits as the two calls, one pass
/// over `output` fewer.
///
/// # Errors
/// As [`conv2d_f32`]; nothing is written when an error is returned.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_relu_f32<G: Backend + ?Sized>(
    g: &Conv2d,
    gemm: &G,
    batch: usize,
    input: &[f32],
    filter: &[f32],
    bias: &[f32],
    scratch: &mut [f32],
    output: &mut [f32],
) -> Result<(), KernelError> {
    pass(g, gemm, batch, input, (filter, bias, true), scratch, output)
}

/// [`conv2d_u8`] then ReLU, fused as in [`conv2d_relu_f32`].
///
/// # Errors
/// As [`conv2d_f32`]; nothing is written when an error is returned.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_relu_u8<G: Backend + ?Sized>(
    g: &Conv2d,
    gemm: &G,
    batch: usize,
    input: &[u8],
    filter: &[f32],
    bias: &[f32],
    scratch: &mut [f32],
    output: &mut [f32],
) -> Result<(), KernelError> {
    pass(g, gemm, batch, input, (filter, bias, true), scratch, output)
}

/// As [`conv2d_f32`] but the input is `u8` frames normalised on the fly as `(x − 128) / 255`
/// (an f32 subtraction then an f32 division, the same bits as TensorFlow's). Padding cells are
/// 0.0 in the *normalised* space, as TensorFlow pads the normalised tensor.
///
/// The result equals, bit for bit, [`conv2d_f32`] fed the normalised frames, without keeping an
/// f32 copy of the input.
///
/// # Errors
/// As [`conv2d_f32`]; nothing is written when an error is returned.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_u8<G: Backend + ?Sized>(
    g: &Conv2d,
    gemm: &G,
    batch: usize,
    input: &[u8],
    filter: &[f32],
    bias: &[f32],
    scratch: &mut [f32],
    output: &mut [f32],
) -> Result<(), KernelError> {
    pass(
        g,
        gemm,
        batch,
        input,
        (filter, bias, false),
        scratch,
        output,
    )
}

/// The checks, then the backend's own algorithm if it takes the layer, else the kernels' loop;
/// ReLU on the output if `relu`.
fn pass<T: Sample, G: Backend + ?Sized>(
    g: &Conv2d,
    gemm: &G,
    batch: usize,
    input: &[T],
    (filter, bias, relu): (&[f32], &[f32], bool),
    scratch: &mut [f32],
    output: &mut [f32],
) -> Result<(), KernelError> {
    check(g, batch, input, filter, bias, scratch, output)?;
    if T::offer_forward(gemm, g, batch, input, (filter, bias, relu), output) {
        return Ok(());
    }
    forward(g, gemm, batch, input, filter, bias, relu, scratch, output)
}

/// The forward pass's argument checks, in signature order.
fn check<T>(
    g: &Conv2d,
    batch: usize,
    input: &[T],
    filter: &[f32],
    bias: &[f32],
    scratch: &[f32],
    output: &[f32],
) -> Result<(), KernelError> {
    nonzero("batch", batch)?;
    let input_len = mul("input", batch, g.input_len())?;
    let output_len = mul("output", batch, g.output_len())?;
    check_len("input", input_len, input.len())?;
    check_len("filter", g.filter_len(), filter.len())?;
    check_len("bias", g.bias_len(), bias.len())?;
    check_len("scratch", g.scratch_len(), scratch.len())?;
    check_len("output", output_len, output.len())
}

/// Im2col + GEMM over tiles of output pixels, on checked slices; ReLU on each tile if `relu`.
#[allow(clippy::too_many_arguments)]
fn forward<T: Sample, G: Backend + ?Sized>(
    g: &Conv2d,
    gemm: &G,
    batch: usize,
    input: &[T],
    filter: &[f32],
    bias: &[f32],
    relu: bool,
    scratch: &mut [f32],
    output: &mut [f32],
) -> Result<(), KernelError> {
    let c_out = g.bias_len();
    let patch = g.patch_len();
    for (first, rows) in g.tiles(batch) {
        let out_tile = &mut output[first * c_out..][..rows * c_out];
        let cols = &mut scratch[..rows * patch];
        im2col_spread(gemm, g, input, first, cols);
        fill_spread(gemm, bias, out_tile);
        gemm.gemm_acc(
            rows,
            patch,
            c_out,
            cols,
            Layout::RowMajor,
            filter,
            Layout::RowMajor,
            out_tile,
        );
        if relu {
            gemm.fill_rows(rows, (out_tile, c_out), &|_, chunk| relu_f32(chunk));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::reference::{assert_close, bits, sweep, widen, Shape};
    use super::*;
    use crate::test_data::{self, draw_f32, draw_u8};
    use crate::{Hwc, Padding, Portable};
    use std::vec;
    use std::vec::Vec;

    /// Runs `conv2d_f32` with `Portable` on NaN-filled scratch and output.
    fn run(g: &Conv2d, batch: usize, x: &[f32], f: &[f32], bias: &[f32]) -> Vec<f32> {
        let mut scratch = vec![f32::NAN; g.scratch_len()];
        let mut y = vec![f32::NAN; batch * g.output_len()];
        conv2d_f32(g, &Portable, batch, x, f, bias, &mut scratch, &mut y).unwrap();
        y
    }

    #[test]
    fn hand_computed_same_padding_odd_and_even() {
        // Reference: by hand. A 3×3 box filter of ones, bias 0.5, stride 2, SAME.
        let ones = [1.0f32; 9];
        // 3×3 input 1..9: out 2×2, pad_total 2 → one padded row/column before, one after.
        let g = Conv2d::new(Hwc::new(3, 3, 1), [3, 3], 1, [2, 2], Padding::Same, 3).unwrap();
        let x: Vec<f32> = (1..=9).map(|v| v as f32).collect();
        let y = run(&g, 1, &x, &ones, &[0.5]);
        assert_eq!(y, [12.5, 16.5, 24.5, 28.5]);
        // 4×4 input 1..16: out 2×2, pad_total 1 → TensorFlow pads only after (bottom/right).
        let g = Conv2d::new(Hwc::new(4, 4, 1), [3, 3], 1, [2, 2], Padding::Same, 3).unwrap();
        let x: Vec<f32> = (1..=16).map(|v| v as f32).collect();
        let y = run(&g, 1, &x, &ones, &[0.5]);
        // (0,0): rows 0..3 × cols 0..3 = 1+2+3+5+6+7+9+10+11 = 54;
        // (0,1): cols 2..4 (4 is padding) = 3+4+7+8+11+12 = 45; (1,0): rows 2..4 = 9+10+11+13+14+15
        // = 72; (1,1): 11+12+15+16 = 54.
        assert_eq!(y, [54.5, 45.5, 72.5, 54.5]);
    }

    #[test]
    fn matches_f64_direct_convolution_over_the_sweep() {
        // Reference: f64 direct convolution (reference.rs). Tolerance |err| ≤ 1e-5 + 1e-5·|y|.
        let mut rng = test_data::rng(1);
        let cases = sweep();
        assert!(cases.len() > 100);
        for (s, tile) in cases {
            let g = s.conv2d(tile);
            assert_eq!(g.output(), Hwc::new(s.out_h(), s.out_w(), s.c_out), "{s:?}");
            let x = draw_f32(&mut rng, s.in_len(), -1.0, 1.0);
            let f = draw_f32(&mut rng, s.filter_len(), -1.0, 1.0);
            let bias = draw_f32(&mut rng, s.c_out, -1.0, 1.0);
            let y = run(&g, s.batch, &x, &f, &bias);
            let want = s.forward(&widen(&x), &widen(&f), &widen(&bias));
            assert_close("conv2d_f32", &y, &want, 1e-5, 1e-5);
        }
    }

    #[test]
    fn bits_do_not_depend_on_the_tile() {
        let s = Shape {
            batch: 3,
            h: 7,
            w: 5,
            c_in: 3,
            kh: 3,
            kw: 4,
            c_out: 5,
            sh: 2,
            sw: 1,
            same: true,
        };
        let mut rng = test_data::rng(2);
        let (x, f, bias) = (
            draw_f32(&mut rng, s.in_len(), -1.0, 1.0),
            draw_f32(&mut rng, s.filter_len(), -1.0, 1.0),
            draw_f32(&mut rng, 5, -1.0, 1.0),
        );
        let pixels = s.out_h() * s.out_w();
        let want = bits(&run(&s.conv2d(1), 3, &x, &f, &bias));
        for tile in [2, 3, 7, pixels, pixels * 3 + 5] {
            assert_eq!(
                bits(&run(&s.conv2d(tile), 3, &x, &f, &bias)),
                want,
                "{tile}"
            );
        }
    }

    #[test]
    fn fused_relu_equals_conv_then_relu_bit_for_bit() {
        // Reference: conv2d_f32 / conv2d_u8 then relu_f32 over the whole output, several tiles.
        let s = Shape {
            batch: 2,
            h: 9,
            w: 7,
            c_in: 3,
            kh: 3,
            kw: 3,
            c_out: 5,
            sh: 1,
            sw: 2,
            same: true,
        };
        let mut rng = test_data::rng(4);
        let x = draw_f32(&mut rng, s.in_len(), -1.0, 1.0);
        let frames = draw_u8(&mut rng, s.in_len());
        let f = draw_f32(&mut rng, s.filter_len(), -1.0, 1.0);
        let bias = draw_f32(&mut rng, 5, -1.0, 1.0);
        let g = s.conv2d(7);
        let mut scratch = vec![f32::NAN; g.scratch_len()];
        let mut want = run(&g, 2, &x, &f, &bias);
        assert!(want.iter().any(|&v| v < 0.0), "some outputs are negative");
        relu_f32(&mut want);
        let mut got = vec![f32::NAN; want.len()];
        conv2d_relu_f32(&g, &Portable, 2, &x, &f, &bias, &mut scratch, &mut got).unwrap();
        assert_eq!(bits(&got), bits(&want));
        let mut want = vec![f32::NAN; want.len()];
        conv2d_u8(
            &g,
            &Portable,
            2,
            &frames,
            &f,
            &bias,
            &mut scratch,
            &mut want,
        )
        .unwrap();
        relu_f32(&mut want);
        conv2d_relu_u8(&g, &Portable, 2, &frames, &f, &bias, &mut scratch, &mut got).unwrap();
        assert_eq!(bits(&got), bits(&want));
    }

    #[test]
    fn u8_equals_f32_on_the_normalised_frames_bit_for_bit() {
        let s = Shape {
            batch: 2,
            h: 9,
            w: 7,
            c_in: 3,
            kh: 5,
            kw: 5,
            c_out: 4,
            sh: 4,
            sw: 2,
            same: true,
        };
        let mut rng = test_data::rng(3);
        let mut frames = draw_u8(&mut rng, s.in_len());
        frames[..256]
            .iter_mut()
            .enumerate()
            .for_each(|(i, b)| *b = i as u8);
        let normalised: Vec<f32> = frames.iter().map(|&b| (b as f32 - 128.0) / 255.0).collect();
        let (f, bias) = (
            draw_f32(&mut rng, s.filter_len(), -1.0, 1.0),
            draw_f32(&mut rng, 4, -1.0, 1.0),
        );
        for tile in [1, 5, 64] {
            let g = s.conv2d(tile);
            let mut scratch = vec![f32::NAN; g.scratch_len()];
            let mut y = vec![f32::NAN; s.out_len()];
            conv2d_u8(&g, &Portable, 2, &frames, &f, &bias, &mut scratch, &mut y).unwrap();
            assert_eq!(bits(&y), bits(&run(&g, 2, &normalised, &f, &bias)));
        }
        // And the normalisation itself against f64: (b − 128) / 255 correctly rounded.
        for b in 0..=255u8 {
            let want = (f64::from(b) - 128.0) / 255.0;
            assert_eq!((b as f32 - 128.0) / 255.0, want as f32);
        }
    }

    #[test]
    fn wrong_lengths_are_reported_and_nothing_is_written() {
        let s = Shape {
            batch: 2,
            h: 5,
            w: 4,
            c_in: 2,
            kh: 3,
            kw: 3,
            c_out: 3,
            sh: 1,
            sw: 2,
            same: true,
        };
        let g = s.conv2d(4);
        let lens = [s.in_len(), s.filter_len(), 3, g.scratch_len(), s.out_len()];
        let names = ["input", "filter", "bias", "scratch", "output"];
        for (which, name) in names.iter().enumerate() {
            for delta in [-1isize, 1] {
                let mut len = lens;
                len[which] = (len[which] as isize + delta) as usize;
                let x = vec![0.5f32; len[0]];
                let frames = vec![7u8; len[0]];
                let f = vec![0.5f32; len[1]];
                let bias = vec![0.5f32; len[2]];
                let mut scratch = vec![-3.0f32; len[3]];
                let mut y = vec![-7.0f32; len[4]];
                let want = Err(KernelError::Length {
                    arg: name,
                    expected: lens[which],
                    got: len[which],
                });
                assert_eq!(
                    conv2d_f32(&g, &Portable, 2, &x, &f, &bias, &mut scratch, &mut y),
                    want
                );
                assert_eq!(
                    conv2d_u8(&g, &Portable, 2, &frames, &f, &bias, &mut scratch, &mut y),
                    want
                );
                assert!(scratch.iter().all(|&v| v == -3.0) && y.iter().all(|&v| v == -7.0));
            }
        }
    }

    #[test]
    fn zero_and_overflowing_batches_are_rejected() {
        // input_len 1, output_len 2: batch = usize::MAX fits the input but not the output.
        let g = Conv2d::new(Hwc::new(1, 1, 1), [1, 1], 2, [1, 1], Padding::Valid, 1).unwrap();
        let mut y = [f32::NAN; 2];
        let mut scratch = [f32::NAN; 1];
        let f = [1.0, 2.0];
        let call = |batch, y: &mut [f32], scratch: &mut [f32]| {
            conv2d_f32(&g, &Portable, batch, &[1.0], &f, &[0.0; 2], scratch, y)
        };
        assert_eq!(
            call(0, &mut y, &mut scratch),
            Err(KernelError::Zero { arg: "batch" })
        );
        assert_eq!(
            call(usize::MAX, &mut y, &mut scratch),
            Err(KernelError::Overflow { arg: "output" })
        );
        assert!(y.iter().all(|v| v.is_nan()));
        let r = conv2d_u8(
            &g,
            &Portable,
            usize::MAX,
            &[1],
            &f,
            &[0.0; 2],
            &mut scratch,
            &mut y,
        );
        assert_eq!(r, Err(KernelError::Overflow { arg: "output" }));
        // input_len 2: batch = usize::MAX overflows the input first.
        let g = Conv2d::new(Hwc::new(1, 2, 1), [1, 1], 1, [1, 1], Padding::Valid, 1).unwrap();
        let r = conv2d_f32(
            &g,
            &Portable,
            usize::MAX,
            &[1.0; 2],
            &[1.0],
            &[0.0],
            &mut scratch,
            &mut y,
        );
        assert_eq!(r, Err(KernelError::Overflow { arg: "input" }));
        assert!(y.iter().all(|v| v.is_nan()));
        // And batch 1 works: y = [1·1, 1·2].
        assert_eq!(call(1, &mut y, &mut scratch), Ok(()));
        assert_eq!(y, [1.0, 2.0]);
    }
}
