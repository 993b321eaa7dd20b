//! int8 convolution, TFLite's reference `ConvPerChannel`, tiled like the f32 convolution.

use super::multiplier::QuantizedMultiplier;
use super::params::LayerQuant;
use crate::conv2d::Conv2d;
use crate::error::{check_len, mul, nonzero};
use crate::KernelError;

/// Output channels accumulated together: one `i32` accumulator each on the stack, so each
/// patch value is loaded once per block and the HWIO filter is read in contiguous runs.
pub(super) const BLOCK: usize = 16;

/// Checks that `multipliers` is per-tensor (1) or per-channel (`channels`).
pub(super) const fn check_multipliers(channels: usize, got: usize) -> Result<(), KernelError> {
    if got == 1 {
        Ok(())
    } else {
        check_len("multipliers", channels, got)
    }
}

/// int8 2-D convolution over `batch` examples, bit-exact with TFLite's reference int8
/// `CONV_2D` (`reference_integer_ops::ConvPerChannel`); overwrites `output`.
///
/// `input` is `batch × input_len` NHWC at the zero point `q.input_zero_point`, `filter` HWIO
/// `[kh, kw, c_in, c_out]` symmetric (zero point 0), `bias` `[c_out]` at scale
/// `input_scale · weight_scale[c]`, `multipliers` one per output channel (or one for the
/// whole tensor) from [`super::per_channel_multipliers`]. Each output is
/// `clamp(output_zero_point + M_c(bias_c + Σ filter · (x − input_zero_point)), q.range)` where
/// `M_c` is [`QuantizedMultiplier::apply`]; SAME padding cells count as the input zero point
/// (real 0), as TFLite skips them. The sum wraps in `i32` as TFLite's does in practice (only
/// reachable with patches of more than about 65 000 values).
///
/// `g` gives the geometry and the tile: output pixels are processed `g.tile()` at a time,
/// their patches copied into `scratch` (`i8`, exactly [`Conv2d::scratch_len`] long; contents
/// on entry do not matter, unspecified on return) with padding cells set to the input zero
/// point. Integer sums are exact, so the bits do not depend on the tile.
///
/// # Errors
/// Nothing is written when an error is returned.
/// * [`KernelError::Zero`] (`batch`) if `batch == 0`;
/// * [`KernelError::Overflow`] (`input`, then `output`) if `batch` times an example's length
///   overflows `usize`;
/// * [`KernelError::Length`] naming the first slice (in signature order) whose length differs
///   from what `g` and `batch` imply; `multipliers` must hold 1 or `c_out` values (the error
///   then expects `c_out`).
#[allow(clippy::too_many_arguments)]
pub fn conv2d_s8(
    g: &Conv2d,
    q: &LayerQuant,
    batch: usize,
    input: &[i8],
    filter: &[i8],
    bias: &[i32],
    multipliers: &[QuantizedMultiplier],
    scratch: &mut [i8],
    output: &mut [i8],
) -> Result<(), KernelError> {
    nonzero("batch", batch)?;
    let input_len = mul("input", batch, g.input_len())?;
    let output_len = mul("output", batch, g.output_len())?;
    check_len("input", input_len, input.len())?;
    check_len("filter", g.filter_len(), filter.len())?;
    check_len("bias", g.bias_len(), bias.len())?;
    check_multipliers(g.bias_len(), multipliers.len())?;
    check_len("scratch", g.scratch_len(), scratch.len())?;
    check_len("output", output_len, output.len())?;

    let c_out = g.bias_len();
    let patch = g.patch_len();
    let zp = i32::from(q.input_zero_point);
    for (first, rows) in g.tiles(batch) {
        let out_tile = &mut output[first * c_out..][..rows * c_out];
        let cols = &mut scratch[..rows * patch];
        im2col_s8(g, input, q.input_zero_point, first, cols);
        for (x, y) in cols
            .chunks_exact(patch)
            .zip(out_tile.chunks_exact_mut(c_out))
        {
            let mut c0 = 0;
            while c0 < c_out {
                let n = if c_out - c0 < BLOCK {
                    c_out - c0
                } else {
                    BLOCK
                };
                let mut acc = [0i32; BLOCK];
                for (p, &xv) in x.iter().enumerate() {
                    let xv = i32::from(xv) - zp;
                    let f = &filter[p * c_out + c0..][..n];
                    for (a, &w) in acc.iter_mut().zip(f) {
                        *a = a.wrapping_add(i32::from(w) * xv);
                    }
                }
                for (j, &a) in acc[..n].iter().enumerate() {
                    y[c0 + j] = requantize(q, bias, multipliers, c0 + j, a, |m, v| m.apply(v));
                }
                c0 += n;
            }
        }
    }
    Ok(())
}

/// Output channel `c`'s value from its sum `acc`: TFLite's `ConvPerChannel` epilogue (bias,
/// the double-rounding multiplier `apply`, the output zero point, the activation clamp).
#[inline(always)]
pub(super) fn requantize(
    q: &LayerQuant,
    bias: &[i32],
    multipliers: &[QuantizedMultiplier],
    c: usize,
    acc: i32,
    apply: impl Fn(QuantizedMultiplier, i32) -> i32,
) -> i8 {
    let m = if multipliers.len() == 1 {
        multipliers[0]
    } else {
        multipliers[c]
    };
    let v = apply(m, acc.wrapping_add(bias[c]));
    q.range
        .clamp(v.saturating_add(i32::from(q.output_zero_point)))
}

/// The patches (HWIO order `[kh][kw][c_in]`) of output pixels `first..first + rows` into
/// `scratch` (`rows × patch_len`), padding cells set to `pad`.
pub(super) fn im2col_s8(g: &Conv2d, input: &[i8], pad: i8, first: usize, scratch: &mut [i8]) {
    let (inp, out) = (g.input(), g.output());
    let kw = g.kernel()[1];
    let [sh, sw] = g.stride();
    let [pad_h, pad_w] = g.pad_before();
    let c = inp.c;
    let krow = kw * c;
    let patch = g.patch_len();
    let pixels = out.h * out.w;
    for (r, dst) in scratch.chunks_exact_mut(patch).enumerate() {
        let pixel = first + r;
        let base = (pixel / pixels) * g.input_len();
        let (oy, ox) = ((pixel % pixels) / out.w, pixel % out.w);
        // Window origin in padded coordinates; `Conv2d::new` checked (out − 1)·stride + k fits.
        let (y0, x0) = (oy * sh, ox * sw);
        // Taps kx in lo..hi land inside the image: pad_w ≤ x0 + kx < pad_w + w.
        let lo = pad_w.saturating_sub(x0).min(kw);
        let hi = (pad_w + inp.w).saturating_sub(x0).min(kw).max(lo);
        for (ky, row) in dst.chunks_exact_mut(krow).enumerate() {
            let py = y0 + ky;
            if py < pad_h || py - pad_h >= inp.h || lo == hi {
                row.fill(pad);
                continue;
            }
            let src = base + ((py - pad_h) * inp.w + (x0 + lo - pad_w)) * c;
            row[..lo * c].fill(pad);
            row[lo * c..hi * c].copy_from_slice(&input[src..src + (hi - lo) * c]);
            row[hi * c..].fill(pad);
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::params::{Activation, ActivationRange, QuantParams};
    use super::*;
    use crate::test_data::uniform_i8;
    use crate::{Hwc, Padding};
    use std::vec;
    use std::vec::Vec;

    /// Reference: TFLite's direct loop written plainly, in i64 (no wrapping reachable), with
    /// the requantisation done by an independent i128 computation of the two roundings.
    #[allow(clippy::too_many_arguments)]
    fn reference(
        g: &Conv2d,
        q: &LayerQuant,
        batch: usize,
        x: &[i8],
        f: &[i8],
        bias: &[i32],
        m: &[QuantizedMultiplier],
    ) -> Vec<i8> {
        let (inp, out) = (g.input(), g.output());
        let [kh, kw] = g.kernel();
        let [sh, sw] = g.stride();
        let [ph, pw] = g.pad_before();
        let mut y = Vec::new();
        for b in 0..batch {
            for oy in 0..out.h {
                for ox in 0..out.w {
                    for oc in 0..out.c {
                        let mut acc = 0i64;
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let iy = (oy * sh + ky) as isize - ph as isize;
                                let ix = (ox * sw + kx) as isize - pw as isize;
                                if iy < 0 || ix < 0 || iy >= inp.h as isize || ix >= inp.w as isize
                                {
                                    continue;
                                }
                                for ic in 0..inp.c {
                                    let xv = x[((b * inp.h + iy as usize) * inp.w + ix as usize)
                                        * inp.c
                                        + ic];
                                    let fv = f[((ky * kw + kx) * inp.c + ic) * out.c + oc];
                                    acc += i64::from(fv)
                                        * (i64::from(xv) - i64::from(q.input_zero_point));
                                }
                            }
                        }
                        acc += i64::from(bias[oc]);
                        let mm = m[if m.len() == 1 { 0 } else { oc }];
                        let v = requant(acc, mm) + i64::from(q.output_zero_point);
                        let v = v.clamp(i64::from(q.range.min()), i64::from(q.range.max()));
                        y.push(v as i8);
                    }
                }
            }
        }
        y
    }

    /// `x · multiplier · 2^(shift − 31)` rounded twice (the Q31 product ties upward, the
    /// shift ties away from zero), in i128.
    fn requant(x: i64, m: QuantizedMultiplier) -> i64 {
        let up = |num: i128, den: i128| -> i128 { (2 * num + den).div_euclid(2 * den) };
        let rdiv = |num: i128, den: i128| -> i128 {
            let q = num / den;
            if 2 * (num % den).abs() >= den {
                q + num.signum()
            } else {
                q
            }
        };
        let (l, r) = (m.shift().max(0), (-m.shift()).max(0));
        let high = up(
            2 * (i128::from(x) << l) * i128::from(m.multiplier()),
            1 << 32,
        );
        rdiv(high, 1 << r) as i64
    }

    fn run(
        g: &Conv2d,
        q: &LayerQuant,
        batch: usize,
        x: &[i8],
        f: &[i8],
        bias: &[i32],
        m: &[QuantizedMultiplier],
    ) -> Vec<i8> {
        let mut scratch = vec![0x55; g.scratch_len()];
        let mut y = vec![0x5a; batch * g.output_len()];
        conv2d_s8(g, q, batch, x, f, bias, m, &mut scratch, &mut y).unwrap();
        y
    }

    #[test]
    fn matches_the_direct_loop_over_a_sweep() {
        let input = QuantParams::new(0.02, -7).unwrap();
        let output = QuantParams::new(0.05, 9).unwrap();
        let mut seed = 1;
        for (h, w, c_in, k, c_out, s, same) in [
            (5, 5, 1, [3, 3], 1, [1, 1], true),
            (7, 6, 3, [3, 2], 17, [2, 1], true),
            (6, 7, 2, [4, 4], 5, [2, 3], true),
            (9, 9, 4, [3, 3], 33, [1, 1], false),
            (2, 3, 2, [5, 5], 3, [1, 1], true),
            (8, 5, 20, [1, 1], 16, [3, 2], false),
        ] {
            let pad = if same { Padding::Same } else { Padding::Valid };
            for tile in [1, 3, 1000] {
                let g = Conv2d::new(Hwc::new(h, w, c_in), k, c_out, s, pad, tile).unwrap();
                for act in [Activation::None, Activation::Relu6] {
                    seed += 1;
                    let q = LayerQuant::new(&input, &output, act);
                    let x = uniform_i8(seed, 2 * g.input_len());
                    let f = uniform_i8(seed + 100, g.filter_len());
                    let bias: Vec<i32> = uniform_i8(seed + 200, c_out)
                        .iter()
                        .map(|&b| i32::from(b) * 37)
                        .collect();
                    let m: Vec<QuantizedMultiplier> = (0..c_out)
                        .map(|c| QuantizedMultiplier::from_real(1e-3 * (1.0 + c as f64)).unwrap())
                        .collect();
                    let want = reference(&g, &q, 2, &x, &f, &bias, &m);
                    assert_eq!(run(&g, &q, 2, &x, &f, &bias, &m), want);
                    let one = &m[..1];
                    let want = reference(&g, &q, 2, &x, &f, &bias, one);
                    assert_eq!(run(&g, &q, 2, &x, &f, &bias, one), want);
                }
            }
        }
    }

    #[test]
    fn hand_computed_box_filter_with_zero_points() {
        // 3×3 ones, SAME stride 2 on a 3×3 input 1..9 at zero point 1 (real 0..8), bias 4,
        // multiplier 0.5, output zero point −3. Padding cells count as real 0.
        // Sums of (x − 1): (0,0): 0+1+3+4 = 8; (0,1): 1+2+4+5 = 12; (1,0): 3+4+6+7 = 20;
        // (1,1): 4+5+7+8 = 24. Out = round((s + 4)/2) − 3 = 3, 5, 9, 11.
        let g = Conv2d::new(Hwc::new(3, 3, 1), [3, 3], 1, [2, 2], Padding::Same, 2).unwrap();
        let q = LayerQuant {
            input_zero_point: 1,
            output_zero_point: -3,
            range: ActivationRange::FULL,
        };
        let x: Vec<i8> = (1..=9).collect();
        let half = QuantizedMultiplier::from_real(0.5).unwrap();
        assert_eq!(run(&g, &q, 1, &x, &[1; 9], &[4], &[half]), [3, 5, 9, 11]);
        // A ReLU-like range [4, 9] clamps the first and the last two.
        let q = LayerQuant {
            range: ActivationRange::new(4, 9).unwrap(),
            ..q
        };
        assert_eq!(run(&g, &q, 1, &x, &[1; 9], &[4], &[half]), [4, 5, 9, 9]);
    }

    #[test]
    fn wrong_lengths_are_reported_and_nothing_is_written() {
        let g = Conv2d::new(Hwc::new(5, 4, 2), [3, 3], 3, [1, 2], Padding::Same, 4).unwrap();
        let q = LayerQuant::new(
            &QuantParams::new(0.1, 0).unwrap(),
            &QuantParams::new(0.1, 0).unwrap(),
            Activation::None,
        );
        let one = QuantizedMultiplier::from_real(0.3).unwrap();
        let lens = [
            2 * g.input_len(),
            g.filter_len(),
            3,
            3,
            g.scratch_len(),
            2 * g.output_len(),
        ];
        let names = [
            "input",
            "filter",
            "bias",
            "multipliers",
            "scratch",
            "output",
        ];
        for which in 0..6 {
            for delta in [-1isize, 1] {
                let mut len = lens;
                len[which] = (len[which] as isize + delta) as usize;
                if which == 3 && len[3] == 2 {
                    len[3] = 4; // 2 would be wrong too, but 1 is per-tensor (valid)
                }
                let (x, f, b, m) = (
                    vec![1i8; len[0]],
                    vec![1i8; len[1]],
                    vec![1i32; len[2]],
                    vec![one; len[3]],
                );
                let (mut s, mut y) = (vec![-3i8; len[4]], vec![-7i8; len[5]]);
                let r = conv2d_s8(&g, &q, 2, &x, &f, &b, &m, &mut s, &mut y);
                assert_eq!(
                    r,
                    Err(KernelError::Length {
                        arg: names[which],
                        expected: lens[which],
                        got: len[which]
                    })
                );
                assert!(s.iter().all(|&v| v == -3) && y.iter().all(|&v| v == -7));
            }
        }
        let (x, f) = (vec![1i8; lens[0]], vec![1i8; lens[1]]);
        let (mut s, mut y) = (vec![0i8; lens[4]], vec![-7i8; lens[5]]);
        for (batch, want) in [
            (0, KernelError::Zero { arg: "batch" }),
            (usize::MAX, KernelError::Overflow { arg: "input" }),
        ] {
            let r = conv2d_s8(&g, &q, batch, &x, &f, &[1; 3], &[one], &mut s, &mut y);
            assert_eq!(r, Err(want));
        }
        assert!(y.iter().all(|&v| v == -7));
    }

    #[test]
    fn long_patches_wrap_instead_of_panicking() {
        // 1×1 conv over 70 000 channels of 127·(−128 − 127): the sum overflows i32.
        let c = 70_000;
        let g = Conv2d::new(Hwc::new(1, 1, c), [1, 1], 1, [1, 1], Padding::Valid, 1).unwrap();
        let q = LayerQuant {
            input_zero_point: 127,
            output_zero_point: 0,
            range: ActivationRange::FULL,
        };
        let x = vec![-128i8; c];
        let f = vec![127i8; c];
        let m = QuantizedMultiplier::from_real(1e-6).unwrap();
        let wrapped = (-255i64 * 127 * c as i64) as i32;
        let want = m.apply(wrapped);
        assert_eq!(
            run(&g, &q, 1, &x, &f, &[0], &[m]),
            [want.clamp(-128, 127) as i8]
        );
    }
}
