//! int8 fully connected layer, TFLite's reference `FullyConnected` (per-tensor) and
//! `FullyConnectedPerChannel`.

use super::conv2d::{check_multipliers, BLOCK};
use super::multiplier::QuantizedMultiplier;
use super::params::LayerQuant;
use crate::dense::Dense;
use crate::error::{check_len, mul, nonzero};
use crate::KernelError;

/// `output = clamp(output_zero_point + M_o(bias_o + Σ_i w[i][o] · (x_i − input_zero_point)))`
/// for `batch` examples, bit-exact with TensorFlow 2.21's int8 `FULLY_CONNECTED` (reference op
/// resolver); overwrites `output`.
///
/// `M_o` rounds *once* ([`QuantizedMultiplier::apply_single_rounding`]), unlike the
/// convolution: that is what TensorFlow 2.21's interpreter computes for this op (its golden
/// vectors disagree with the double-rounding form on a few outputs in a thousand).
///
/// `weights` are Valence's `[in, out]` row-major (TFLite stores `[out, in]`; the sum is the
/// same), symmetric (zero point 0); `bias` is `[out]` `i32`; `multipliers` holds one value
/// (per-tensor) or one per output (per-channel). The sum wraps in `i32` as TFLite's does.
///
/// # Errors
/// Nothing is written when an error is returned.
/// * [`KernelError::Zero`] (`batch`) if `batch == 0`;
/// * [`KernelError::Overflow`] (`batch`) if `batch · inputs` or `batch · outputs` overflows;
/// * [`KernelError::Length`] naming `input`, `weights`, `bias`, `multipliers` (1 or `outputs`
///   values; the error expects `outputs`) or `output`, in that order.
#[allow(clippy::too_many_arguments)]
pub fn dense_s8(
    g: &Dense,
    q: &LayerQuant,
    batch: usize,
    input: &[i8],
    weights: &[i8],
    bias: &[i32],
    multipliers: &[QuantizedMultiplier],
    output: &mut [i8],
) -> Result<(), KernelError> {
    nonzero("batch", batch)?;
    let n_in = mul("batch", batch, g.inputs())?;
    let n_out = mul("batch", batch, g.outputs())?;
    check_len("input", n_in, input.len())?;
    check_len("weights", g.weights_len(), weights.len())?;
    check_len("bias", g.bias_len(), bias.len())?;
    check_multipliers(g.outputs(), multipliers.len())?;
    check_len("output", n_out, output.len())?;

    let outs = g.outputs();
    let zp = i32::from(q.input_zero_point);
    for (x, y) in input
        .chunks_exact(g.inputs())
        .zip(output.chunks_exact_mut(outs))
    {
        let mut o0 = 0;
        while o0 < outs {
            let n = if outs - o0 < BLOCK { outs - o0 } else { BLOCK };
            let mut acc = [0i32; BLOCK];
            for (i, &xv) in x.iter().enumerate() {
                let xv = i32::from(xv) - zp;
                for (a, &w) in acc.iter_mut().zip(&weights[i * outs + o0..][..n]) {
                    *a = a.wrapping_add(i32::from(w) * xv);
                }
            }
            for (j, &a) in acc[..n].iter().enumerate() {
                y[o0 + j] = requantize(q, bias, multipliers, o0 + j, a);
            }
            o0 += n;
        }
    }
    Ok(())
}

/// Output `o`'s value from its sum `acc`: TFLite's `FullyConnected` epilogue (bias, the
/// single-rounding multiplier, the output zero point, the activation clamp).
#[inline(always)]
pub(super) fn requantize(
    q: &LayerQuant,
    bias: &[i32],
    multipliers: &[QuantizedMultiplier],
    o: usize,
    acc: i32,
) -> i8 {
    let m = if multipliers.len() == 1 {
        multipliers[0]
    } else {
        multipliers[o]
    };
    let v = m.apply_single_rounding(acc.wrapping_add(bias[o]));
    q.range
        .clamp(v.saturating_add(i32::from(q.output_zero_point)))
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::params::ActivationRange;
    use super::*;
    use crate::test_data::uniform_i8;
    use std::vec;
    use std::vec::Vec;

    #[test]
    fn hand_computed() {
        // 2 inputs → 2 outputs, input zero point 3, weights [[1, −2], [3, 4]] ([in, out]),
        // bias [10, −6], x = [5, 1] → x − 3 = [2, −2]:
        // o0 = 10 + 2·1 − 2·3 = 6; o1 = −6 + 2·(−2) − 2·4 = −18.
        // Per-channel multipliers 0.5 and 0.25, output zero point 1: 3 + 1 = 4; −4.5 → −4 (ties
        // upward) + 1 = −3.
        let g = Dense::new(2, 2).unwrap();
        let q = LayerQuant {
            input_zero_point: 3,
            output_zero_point: 1,
            range: ActivationRange::FULL,
        };
        let m = [
            QuantizedMultiplier::from_real(0.5).unwrap(),
            QuantizedMultiplier::from_real(0.25).unwrap(),
        ];
        let mut y = [99i8; 2];
        dense_s8(&g, &q, 1, &[5, 1], &[1, -2, 3, 4], &[10, -6], &m, &mut y).unwrap();
        assert_eq!(y, [4, -3]);
        // Per-tensor 0.5: 3 + 1 = 4; −9 + 1 = −8.
        dense_s8(
            &g,
            &q,
            1,
            &[5, 1],
            &[1, -2, 3, 4],
            &[10, -6],
            &m[..1],
            &mut y,
        )
        .unwrap();
        assert_eq!(y, [4, -8]);
    }

    #[test]
    fn matches_a_wide_integer_reference() {
        // Reference: the sum in i64, then floor(acc·m·2^shift / 2^31 + 1/2) in i128, the zero
        // point and the clamp, written plainly.
        for (n_in, n_out) in [(1, 1), (7, 5), (33, 18), (20, 40)] {
            let g = Dense::new(n_in, n_out).unwrap();
            let q = LayerQuant {
                input_zero_point: -9,
                output_zero_point: 4,
                range: ActivationRange::new(-20, 100).unwrap(),
            };
            let x = uniform_i8(1, 3 * n_in);
            let w = uniform_i8(2, n_in * n_out);
            let b: Vec<i32> = uniform_i8(3, n_out)
                .iter()
                .map(|&v| i32::from(v) * 50)
                .collect();
            let m: Vec<QuantizedMultiplier> = (0..n_out)
                .map(|o| QuantizedMultiplier::from_real(0.004 / (1.0 + o as f64)).unwrap())
                .collect();
            let mut y = vec![0x5a; 3 * n_out];
            dense_s8(&g, &q, 3, &x, &w, &b, &m, &mut y).unwrap();
            for bt in 0..3 {
                for o in 0..n_out {
                    let mut acc = i64::from(b[o]);
                    for i in 0..n_in {
                        acc += i64::from(w[i * n_out + o]) * (i64::from(x[bt * n_in + i]) + 9);
                    }
                    let den = 1i128 << (31 - m[o].shift());
                    let num = i128::from(acc) * i128::from(m[o].multiplier());
                    let v = (2 * num + den).div_euclid(2 * den) + 4;
                    assert_eq!(
                        i128::from(y[bt * n_out + o]),
                        v.clamp(-20, 100),
                        "{n_in} {o}"
                    );
                }
            }
        }
    }

    #[test]
    fn wrong_lengths_are_reported_and_nothing_is_written() {
        let g = Dense::new(3, 2).unwrap();
        let q = LayerQuant {
            input_zero_point: 0,
            output_zero_point: 0,
            range: ActivationRange::FULL,
        };
        let m = QuantizedMultiplier::from_real(0.1).unwrap();
        let lens = [6, 6, 2, 2, 4];
        let names = ["input", "weights", "bias", "multipliers", "output"];
        for which in 0..5 {
            let mut len = lens;
            len[which] += 1;
            let (x, w, b, mm) = (
                vec![1i8; len[0]],
                vec![1i8; len[1]],
                vec![1; len[2]],
                vec![m; len[3]],
            );
            let mut y = vec![-7i8; len[4]];
            assert_eq!(
                dense_s8(&g, &q, 2, &x, &w, &b, &mm, &mut y),
                Err(KernelError::Length {
                    arg: names[which],
                    expected: lens[which],
                    got: len[which]
                })
            );
            assert!(y.iter().all(|&v| v == -7));
        }
        let mut y = [-7i8; 4];
        for (batch, want) in [
            (0, KernelError::Zero { arg: "batch" }),
            (usize::MAX, KernelError::Overflow { arg: "batch" }),
        ] {
            assert_eq!(
                dense_s8(&g, &q, batch, &[0; 6], &[0; 6], &[0; 2], &[m], &mut y),
                Err(want)
            );
        }
        assert_eq!(y, [-7; 4]);
    }
}
