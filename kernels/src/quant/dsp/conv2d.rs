//! int8 convolution on `SMLAD`, two output pixels at a time.

use super::mat_mult::mat_mult;
use super::q15::{q7_to_q15_reordered, words};
use super::requant;
use crate::conv2d::Conv2d;
use crate::error::{check_len, mul, nonzero};
use crate::quant::conv2d::{check_multipliers, im2col_s8, requantize};
use crate::quant::{LayerQuant, QuantizedMultiplier};
use crate::KernelError;

/// `i8`s of [`conv2d_s8_smlad`]'s `scratch`: two output pixels' im2col patches.
pub const fn conv2d_s8_smlad_scratch_len(g: &Conv2d) -> usize {
    g.patch_len().saturating_mul(2)
}

/// `i32`s of [`conv2d_s8_smlad`]'s `cols`: the same two patches as q15 pairs.
pub const fn conv2d_s8_smlad_cols_len(g: &Conv2d) -> usize {
    words(g.patch_len()).saturating_mul(2)
}

/// [`conv2d_s8`](crate::quant::conv2d_s8) on `SMLAD` (see the [module](super) documentation):
/// the same outputs, bit for bit, from the filter in TFLite's order.
///
/// `filter` is [`conv2d_s8_smlad_filter`](super::conv2d_s8_smlad_filter) of the HWIO one;
/// `scratch` (`i8`, [`conv2d_s8_smlad_scratch_len`]) and `cols`
/// (`i32`, [`conv2d_s8_smlad_cols_len`]) are overwritten, their contents on entry do not matter.
/// The tile of `g` is not used: this path works on two output pixels at a time.
///
/// # Errors
/// As [`conv2d_s8`](crate::quant::conv2d_s8), with `scratch` and then `cols` checked against
/// the lengths above; nothing is written when an error is returned.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_s8_smlad(
    g: &Conv2d,
    q: &LayerQuant,
    batch: usize,
    input: &[i8],
    filter: &[i8],
    bias: &[i32],
    multipliers: &[QuantizedMultiplier],
    scratch: &mut [i8],
    cols: &mut [i32],
    output: &mut [i8],
) -> Result<(), KernelError> {
    nonzero("batch", batch)?;
    let input_len = mul("input", batch, g.input_len())?;
    let output_len = mul("output", batch, g.output_len())?;
    check_len("input", input_len, input.len())?;
    check_len("filter", g.filter_len(), filter.len())?;
    check_len("bias", g.bias_len(), bias.len())?;
    check_multipliers(g.bias_len(), multipliers.len())?;
    check_len("scratch", conv2d_s8_smlad_scratch_len(g), scratch.len())?;
    check_len("cols", conv2d_s8_smlad_cols_len(g), cols.len())?;
    check_len("output", output_len, output.len())?;

    let (c_out, patch) = (g.bias_len(), g.patch_len());
    let cw = words(patch);
    let pixels = output_len / c_out;
    let zp = q.input_zero_point;
    let mut first = 0;
    while first < pixels {
        let rows = if pixels - first >= 2 { 2 } else { 1 };
        let patches = &mut scratch[..rows * patch];
        im2col_s8(g, input, zp, first, patches);
        for (r, p) in patches.chunks_exact(patch).enumerate() {
            q7_to_q15_reordered(p, zp, &mut cols[..rows * cw], r, rows);
        }
        mat_mult(
            filter,
            patch,
            &cols[..rows * cw],
            &mut output[first * c_out..][..rows * c_out],
            |c, acc| requantize(q, bias, multipliers, c, acc, requant::apply),
        );
        first += rows;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::quant::{
        conv2d_s8, conv2d_s8_smlad_filter, Activation, ActivationRange, QuantParams,
    };
    use crate::test_data::uniform_i8;
    use crate::{Hwc, Padding};
    use std::vec;
    use std::vec::Vec;

    #[test]
    fn equals_the_portable_kernel_over_a_sweep() {
        // Reference: the portable `conv2d_s8` (itself checked against a direct i64 loop and
        // TFLite's golden vectors), bit for bit. The sweep covers patches of every length
        // mod 4, odd pixel counts (a last single column), odd c_out (a last single channel),
        // batches of 1–3, per-tensor and per-channel multipliers, narrowed ranges and the
        // extreme zero points.
        let mut seed = 11;
        for (h, w, c_in, k, c_out, s, pad) in [
            (5, 5, 1, [3, 3], 1, [1, 1], Padding::Same),
            (7, 6, 3, [3, 2], 17, [2, 1], Padding::Same),
            (6, 7, 2, [4, 4], 5, [2, 3], Padding::Same),
            (9, 9, 4, [3, 3], 33, [1, 1], Padding::Valid),
            (2, 3, 2, [5, 5], 3, [1, 1], Padding::Same),
            (8, 5, 20, [1, 1], 16, [3, 2], Padding::Valid),
            (7, 7, 16, [3, 3], 32, [1, 1], Padding::Same),
            (16, 16, 3, [5, 5], 8, [4, 4], Padding::Same),
            (3, 3, 1, [1, 1], 2, [1, 1], Padding::Valid),
        ] {
            let g = Conv2d::new(Hwc::new(h, w, c_in), k, c_out, s, pad, 4).unwrap();
            for (batch, zp, act) in [
                (1, -7, Activation::None),
                (2, 127, Activation::Relu),
                (3, -128, Activation::Relu6),
            ] {
                seed += 1;
                let input = QuantParams::new(0.02, zp).unwrap();
                let output = QuantParams::new(0.05, 9).unwrap();
                let q = LayerQuant::new(&input, &output, act);
                let x = uniform_i8(seed, batch * g.input_len());
                let f = uniform_i8(seed + 100, g.filter_len());
                let bias: Vec<i32> = uniform_i8(seed + 200, c_out)
                    .iter()
                    .map(|&b| i32::from(b) * 37)
                    .collect();
                let m: Vec<QuantizedMultiplier> = (0..c_out)
                    .map(|c| QuantizedMultiplier::from_real(1e-3 * (1.0 + c as f64)).unwrap())
                    .collect();
                let mut rearranged = vec![0; f.len()];
                conv2d_s8_smlad_filter(&g, &f, &mut rearranged).unwrap();
                for m in [&m[..], &m[..1]] {
                    let mut want = vec![0x5a; batch * g.output_len()];
                    let mut s8 = vec![0x55; g.scratch_len()];
                    conv2d_s8(&g, &q, batch, &x, &f, &bias, m, &mut s8, &mut want).unwrap();
                    let mut got = vec![0x5a; want.len()];
                    let mut s8 = vec![0x55; conv2d_s8_smlad_scratch_len(&g)];
                    let mut cols = vec![0x5555; conv2d_s8_smlad_cols_len(&g)];
                    conv2d_s8_smlad(
                        &g,
                        &q,
                        batch,
                        &x,
                        &rearranged,
                        &bias,
                        m,
                        &mut s8,
                        &mut cols,
                        &mut got,
                    )
                    .unwrap();
                    assert_eq!(got, want, "{h}×{w}×{c_in} {k:?} → {c_out}, batch {batch}");
                }
            }
        }
        // The same with every value at an extreme: the largest products, a clamped range.
        let g = Conv2d::new(Hwc::new(4, 4, 5), [3, 3], 3, [1, 1], Padding::Same, 1).unwrap();
        let q = LayerQuant {
            input_zero_point: 127,
            output_zero_point: 0,
            range: ActivationRange::new(-100, 100).unwrap(),
        };
        let m = [QuantizedMultiplier::from_real(1e-4).unwrap()];
        for (xv, fv) in [(-128i8, -128i8), (-128, 127), (127, -128)] {
            let (x, f) = (vec![xv; g.input_len()], vec![fv; g.filter_len()]);
            let mut want = vec![0; g.output_len()];
            let mut s8 = vec![0; g.scratch_len()];
            conv2d_s8(&g, &q, 1, &x, &f, &[5; 3], &m, &mut s8, &mut want).unwrap();
            let mut got = vec![0; g.output_len()];
            let mut s8 = vec![0; conv2d_s8_smlad_scratch_len(&g)];
            let mut cols = vec![0; conv2d_s8_smlad_cols_len(&g)];
            conv2d_s8_smlad(&g, &q, 1, &x, &f, &[5; 3], &m, &mut s8, &mut cols, &mut got).unwrap();
            assert_eq!(got, want, "{xv} {fv}");
        }
    }

    #[test]
    fn wrong_lengths_are_reported_and_nothing_is_written() {
        let g = Conv2d::new(Hwc::new(5, 4, 2), [3, 3], 3, [1, 2], Padding::Same, 4).unwrap();
        let q = LayerQuant {
            input_zero_point: 0,
            output_zero_point: 0,
            range: ActivationRange::FULL,
        };
        let one = QuantizedMultiplier::from_real(0.3).unwrap();
        // patch 18: scratch 36 bytes, cols 18 words.
        let lens = [
            2 * g.input_len(),
            g.filter_len(),
            3,
            3,
            36,
            18,
            2 * g.output_len(),
        ];
        let names = [
            "input",
            "filter",
            "bias",
            "multipliers",
            "scratch",
            "cols",
            "output",
        ];
        for which in 0..7 {
            let mut len = lens;
            len[which] += 1;
            let (x, f, b, m) = (
                vec![1i8; len[0]],
                vec![1i8; len[1]],
                vec![1i32; len[2]],
                vec![one; len[3]],
            );
            let (mut s, mut c, mut y) = (vec![-3i8; len[4]], vec![-5; len[5]], vec![-7i8; len[6]]);
            let r = conv2d_s8_smlad(&g, &q, 2, &x, &f, &b, &m, &mut s, &mut c, &mut y);
            let want = KernelError::Length {
                arg: names[which],
                expected: lens[which],
                got: len[which],
            };
            assert_eq!(r, Err(want));
            assert!(s.iter().all(|&v| v == -3) && c.iter().all(|&v| v == -5));
            assert!(y.iter().all(|&v| v == -7));
        }
        let (x, f) = (vec![1i8; lens[0]], vec![1i8; lens[1]]);
        let (mut s, mut c, mut y) = (vec![0i8; 36], vec![0; 18], vec![-7i8; lens[6]]);
        for (batch, want) in [
            (0, KernelError::Zero { arg: "batch" }),
            (usize::MAX, KernelError::Overflow { arg: "input" }),
        ] {
            let r = conv2d_s8_smlad(
                &g,
                &q,
                batch,
                &x,
                &f,
                &[1; 3],
                &[one],
                &mut s,
                &mut c,
                &mut y,
            );
            assert_eq!(r, Err(want));
        }
        assert!(y.iter().all(|&v| v == -7));
    }
}
