//! LRN forward, `tf.nn.lrn`.

use super::{check_two, Lrn, BLOCK};
use crate::KernelError;

/// Local response normalisation over `rows` pixels of `g.channels()` values:
/// `output[d] = input[d] · (alpha · Σ_{window(d)} input² + bias)^−beta`.
///
/// `rows` is `batch · h · w` of an NHWC tensor. Each squared sum runs in ascending channel
/// order; β = 0.75 uses `1 / (√u · √√u)`, any other β `libm::powf`. Overwrites `output`.
/// Non-finite inputs follow IEEE arithmetic, nothing is clamped: a NaN makes every output whose
/// window holds it NaN.
///
/// # Errors
/// [`KernelError::Zero`] if `rows` is 0, [`KernelError::Overflow`] if `rows · channels`
/// overflows, [`KernelError::Length`] naming `input` or `output` when its length is not
/// `rows · channels`. Nothing is written on error.
pub fn lrn_f32(g: &Lrn, rows: usize, input: &[f32], output: &mut [f32]) -> Result<(), KernelError> {
    lrn_with(g, rows, input, output, Lrn::pow_neg_beta)
}

/// The LRN forward loop with `pow` turning a block's norms into their `norm^−β` in place:
/// [`Lrn::pow_neg_beta`] for [`lrn_f32`], an approximation for
/// [`lrn_f32_approx`](crate::approx::lrn_f32_approx). Checks as [`lrn_f32`].
pub(crate) fn lrn_with(
    g: &Lrn,
    rows: usize,
    input: &[f32],
    output: &mut [f32],
    pow: impl Fn(&Lrn, &mut [f32]),
) -> Result<(), KernelError> {
    check_two(g, rows, "input", input.len(), "output", output.len())?;
    let c = g.channels();
    let mut pows = [0.0f32; BLOCK];
    for (x, y) in input.chunks_exact(c).zip(output.chunks_exact_mut(c)) {
        let blocks = x.chunks(BLOCK).zip(y.chunks_mut(BLOCK));
        for (d0, (x_block, y_block)) in (0..).step_by(BLOCK).zip(blocks) {
            let pows = &mut pows[..y_block.len()];
            g.norms(x, d0, pows);
            pow(g, pows);
            for ((out, &xv), &p) in y_block.iter_mut().zip(x_block).zip(pows.iter()) {
                *out = xv * p;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    extern crate std;
    use super::*;
    use crate::test_data::{self, draw_f32};
    use std::vec;
    use std::vec::Vec;

    /// The f64 reference: `x / (bias + alpha · Σ x²)^beta`, written plainly.
    pub(crate) fn lrn_ref(
        depth: usize,
        r: usize,
        bias: f64,
        alpha: f64,
        beta: f64,
        x: &[f64],
    ) -> Vec<f64> {
        let mut out = vec![0.0; x.len()];
        for (row, o) in x.chunks(depth).zip(out.chunks_mut(depth)) {
            for d in 0..depth {
                let lo = d.saturating_sub(r);
                let hi = (d + r).min(depth - 1);
                let s: f64 = (lo..=hi).map(|k| row[k] * row[k]).sum();
                o[d] = row[d] / libm::pow(bias + alpha * s, beta);
            }
        }
        out
    }

    /// Parameter sets: the seed's, and strong ones where LRN changes the output a lot.
    pub(crate) const PARAMS: [(f32, f32, f32); 5] = [
        (1.0, 0.001 / 9.0, 0.75),
        (1.0, 0.5, 0.75),
        (1.0, 0.5, 0.5),
        (1.0, 0.5, 1.0),
        (2.0, 1e-4, 0.0),
    ];

    #[test]
    fn matches_f64_reference_over_radii_depths_and_params() {
        // Reference: f64 re-computation; tolerance |a − b| ≤ 1e-6 + 2e-6·|b| (a handful of f32
        // roundings on outputs of magnitude ≤ 3).
        let mut rng = test_data::rng(1);
        for &(bias, alpha, beta) in &PARAMS {
            for r in 0..=5 {
                for depth in [1, 3, 8, 17] {
                    let g = Lrn::new(depth, r, bias, alpha, beta).unwrap();
                    let rows = 3;
                    let x = draw_f32(&mut rng, rows * depth, -3.0, 3.0);
                    let mut y = vec![f32::NAN; x.len()];
                    lrn_f32(&g, rows, &x, &mut y).unwrap();
                    let x64: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
                    let want = lrn_ref(
                        depth,
                        r,
                        f64::from(bias),
                        f64::from(alpha),
                        f64::from(beta),
                        &x64,
                    );
                    for (i, (&a, &b)) in y.iter().zip(&want).enumerate() {
                        let a = f64::from(a);
                        assert!(
                            (a - b).abs() <= 1e-6 + 2e-6 * b.abs(),
                            "p={bias},{alpha},{beta} r={r} D={depth} i={i}: {a} vs {b}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn strong_setting_really_normalises() {
        // Hand-computed: D = 2, r = 1, bias 1, alpha 0.5, beta 1, x = [1, 2]:
        // norm = 1 + 0.5·5 = 3.5 for both, out = [1/3.5, 2/3.5].
        let g = Lrn::new(2, 1, 1.0, 0.5, 1.0).unwrap();
        let mut y = [f32::NAN; 2];
        lrn_f32(&g, 1, &[1.0, 2.0], &mut y).unwrap();
        assert!((y[0] - 1.0 / 3.5).abs() <= 1e-7 && (y[1] - 2.0 / 3.5).abs() <= 1e-7);
    }

    #[test]
    fn three_quarter_power_path_is_the_documented_formula() {
        // The exact bits promised: x · (1 / (√u · √√u)) with u = alpha·Σx² + bias.
        let g = Lrn::new(3, 1, 1.0, 0.001 / 9.0, 0.75).unwrap();
        let x = [0.5f32, -1.25, 2.0];
        let mut y = [f32::NAN; 3];
        lrn_f32(&g, 1, &x, &mut y).unwrap();
        let u = (0.001f32 / 9.0) * (0.5f32 * 0.5 + 1.25 * 1.25) + 1.0;
        let s = crate::sqrt::sqrtf(u);
        assert_eq!(
            y[0].to_bits(),
            (0.5 * (1.0 / (s * crate::sqrt::sqrtf(s)))).to_bits()
        );
    }

    #[test]
    fn length_errors_leave_output_untouched() {
        let g = Lrn::new(4, 2, 1.0, 0.1, 0.75).unwrap();
        let x = [1.0f32; 8];
        let mut y = [7.0f32; 8];
        assert_eq!(
            lrn_f32(&g, 2, &x[..7], &mut y),
            Err(KernelError::Length {
                arg: "input",
                expected: 8,
                got: 7
            })
        );
        assert_eq!(
            lrn_f32(&g, 2, &x, &mut y[..7]),
            Err(KernelError::Length {
                arg: "output",
                expected: 8,
                got: 7
            })
        );
        assert_eq!(
            lrn_f32(&g, 0, &x, &mut y),
            Err(KernelError::Zero { arg: "rows" })
        );
        assert_eq!(
            lrn_f32(&g, usize::MAX, &x, &mut y),
            Err(KernelError::Overflow { arg: "rows" })
        );
        assert!(y.iter().all(|&v| v == 7.0));
    }
}
