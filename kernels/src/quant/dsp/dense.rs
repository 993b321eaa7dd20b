//! int8 fully connected layer on `SMLAD`, two examples at a time.

use super::mat_mult::mat_mult;
use super::q15::{q7_to_q15_reordered, words};
use crate::dense::Dense;
use crate::error::{check_len, mul, nonzero};
use crate::quant::conv2d::check_multipliers;
use crate::quant::dense::requantize;
use crate::quant::{LayerQuant, QuantizedMultiplier};
use crate::KernelError;

/// `i32`s of [`dense_s8_smlad`]'s `cols`: two examples' inputs as q15 pairs.
pub const fn dense_s8_smlad_cols_len(g: &Dense) -> usize {
    words(g.inputs()).saturating_mul(2)
}

/// [`dense_s8`](crate::quant::dense_s8) on `SMLAD` (see the [module](super) documentation): the
/// same outputs, bit for bit, from the weights rearranged by
/// [`dense_s8_smlad_weights`](super::dense_s8_smlad_weights).
///
/// `cols` (`i32`, [`dense_s8_smlad_cols_len`]) is overwritten; its contents on entry do not
/// matter.
///
/// # Errors
/// As [`dense_s8`](crate::quant::dense_s8), with `cols` checked (after `multipliers`, before
/// `output`); nothing is written when an error is returned.
#[allow(clippy::too_many_arguments)]
pub fn dense_s8_smlad(
    g: &Dense,
    q: &LayerQuant,
    batch: usize,
    input: &[i8],
    weights: &[i8],
    bias: &[i32],
    multipliers: &[QuantizedMultiplier],
    cols: &mut [i32],
    output: &mut [i8],
) -> Result<(), KernelError> {
    nonzero("batch", batch)?;
    let n_in = mul("batch", batch, g.inputs())?;
    let n_out = mul("batch", batch, g.outputs())?;
    check_len("input", n_in, input.len())?;
    check_len("weights", g.weights_len(), weights.len())?;
    check_len("bias", g.bias_len(), bias.len())?;
    check_multipliers(g.outputs(), multipliers.len())?;
    check_len("cols", dense_s8_smlad_cols_len(g), cols.len())?;
    check_len("output", n_out, output.len())?;

    let (ins, outs) = (g.inputs(), g.outputs());
    let cw = words(ins);
    let zp = q.input_zero_point;
    for (x, y) in input.chunks(2 * ins).zip(output.chunks_mut(2 * outs)) {
        let rows = x.len() / ins;
        for (r, e) in x.chunks_exact(ins).enumerate() {
            q7_to_q15_reordered(e, zp, &mut cols[..rows * cw], r, rows);
        }
        mat_mult(weights, ins, &cols[..rows * cw], y, |o, acc| {
            requantize(q, bias, multipliers, o, acc)
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::quant::{dense_s8, dense_s8_smlad_weights, ActivationRange};
    use crate::test_data::uniform_i8;
    use std::vec;
    use std::vec::Vec;

    #[test]
    fn equals_the_portable_kernel_over_a_sweep() {
        // Reference: the portable `dense_s8` (checked against an i128 computation and TFLite's
        // golden vectors), bit for bit; inputs of every length mod 4, odd output counts, odd
        // and even batches, per-tensor and per-channel multipliers.
        for (n_in, n_out) in [(1, 1), (7, 5), (33, 18), (20, 40), (256, 64), (6, 3)] {
            for (batch, zp) in [(1, -9), (2, 127), (5, -128)] {
                let g = Dense::new(n_in, n_out).unwrap();
                let q = LayerQuant {
                    input_zero_point: zp,
                    output_zero_point: 4,
                    range: ActivationRange::new(-20, 100).unwrap(),
                };
                let x = uniform_i8((n_in + batch) as u64, batch * n_in);
                let w = uniform_i8((2 * n_out + 1) as u64, n_in * n_out);
                let b: Vec<i32> = uniform_i8(3, n_out)
                    .iter()
                    .map(|&v| i32::from(v) * 50)
                    .collect();
                let m: Vec<QuantizedMultiplier> = (0..n_out)
                    .map(|o| QuantizedMultiplier::from_real(0.004 / (1.0 + o as f64)).unwrap())
                    .collect();
                let mut wt = vec![0; w.len()];
                dense_s8_smlad_weights(&g, &w, &mut wt).unwrap();
                for m in [&m[..], &m[..1]] {
                    let mut want = vec![0x5a; batch * n_out];
                    dense_s8(&g, &q, batch, &x, &w, &b, m, &mut want).unwrap();
                    let mut got = vec![0x5a; batch * n_out];
                    let mut cols = vec![0x5555; dense_s8_smlad_cols_len(&g)];
                    dense_s8_smlad(&g, &q, batch, &x, &wt, &b, m, &mut cols, &mut got).unwrap();
                    assert_eq!(got, want, "{n_in} → {n_out}, batch {batch}");
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
        let lens = [6, 6, 2, 2, 4, 4];
        let names = ["input", "weights", "bias", "multipliers", "cols", "output"];
        for which in 0..6 {
            let mut len = lens;
            len[which] += 1;
            let (x, w, b, mm) = (
                vec![1i8; len[0]],
                vec![1i8; len[1]],
                vec![1; len[2]],
                vec![m; len[3]],
            );
            let (mut c, mut y) = (vec![-5; len[4]], vec![-7i8; len[5]]);
            assert_eq!(
                dense_s8_smlad(&g, &q, 2, &x, &w, &b, &mm, &mut c, &mut y),
                Err(KernelError::Length {
                    arg: names[which],
                    expected: lens[which],
                    got: len[which]
                })
            );
            assert!(y.iter().all(|&v| v == -7) && c.iter().all(|&v| v == -5));
        }
        let (mut c, mut y) = ([0; 4], [-7i8; 4]);
        for (batch, want) in [
            (0, KernelError::Zero { arg: "batch" }),
            (usize::MAX, KernelError::Overflow { arg: "batch" }),
        ] {
            assert_eq!(
                dense_s8_smlad(
                    &g,
                    &q,
                    batch,
                    &[0; 6],
                    &[0; 6],
                    &[0; 2],
                    &[m],
                    &mut c,
                    &mut y
                ),
                Err(want)
            );
        }
        assert_eq!(y, [-7; 4]);
    }
}
