//! LRN backward, TensorFlow's CPU `LRNGrad`.

use super::{check_two, Lrn, BLOCK};
use crate::error::check_len;
use crate::KernelError;

/// The gradient of [`lrn_f32`](super::lrn_f32) with respect to its input, as TensorFlow's CPU
/// `LRNGrad` computes it. Overwrites `d_input`.
///
/// `norm` is recomputed from `input` (TensorFlow does the same rather than invert the output,
/// which is unstable for small inputs), and so is the forward output `y[j] = x[j]·norm[j]^−β`,
/// with the same bits as [`lrn_f32`](super::lrn_f32). Then, per row, `d_input` starts at 0 and
/// for each channel `j` in ascending order whose `d_output[j]` is non-zero, each `k` in `j`'s
/// window (ascending) receives
/// `d_input[k] += (x[k] · (−2αβ · y[j]) / norm[j] + [k = j]·norm[j]^−β) · d_output[j]`,
/// which is TensorFlow's order of operations and of accumulation.
///
/// Like TensorFlow, a zero `d_output[j]` is skipped, so it contributes nothing even where the
/// input is not finite.
///
/// # Errors
/// [`KernelError::Zero`] if `rows` is 0, [`KernelError::Overflow`] if `rows · channels`
/// overflows, [`KernelError::Length`] naming `input`, `d_output` or `d_input` when its length
/// is not `rows · channels`. Nothing is written on error.
pub fn lrn_backward_f32(
    g: &Lrn,
    rows: usize,
    input: &[f32],
    d_output: &[f32],
    d_input: &mut [f32],
) -> Result<(), KernelError> {
    let n = check_two(g, rows, "input", input.len(), "d_output", d_output.len())?;
    check_len("d_input", n, d_input.len())?;
    let c = g.channels();
    let ab2 = g.alpha_beta_2();
    let (mut norms, mut pows) = ([0.0f32; BLOCK], [0.0f32; BLOCK]);
    for ((x, dy), dx) in input
        .chunks_exact(c)
        .zip(d_output.chunks_exact(c))
        .zip(d_input.chunks_exact_mut(c))
    {
        dx.fill(0.0);
        for (j0, dy_block) in (0..).step_by(BLOCK).zip(dy.chunks(BLOCK)) {
            let norms = &mut norms[..dy_block.len()];
            let pows = &mut pows[..dy_block.len()];
            g.norms(x, j0, norms);
            pows.copy_from_slice(norms);
            g.pow_neg_beta(pows);
            for (i, &gs) in dy_block.iter().enumerate() {
                if gs == 0.0 {
                    continue;
                }
                let j = j0 + i;
                let (norm, pow) = (norms[i], pows[i]);
                let activations_ab2 = ab2 * (x[j] * pow);
                let (lo, hi) = g.window(j);
                for k in lo..hi {
                    let mut dyi = x[k] * activations_ab2 / norm;
                    if k == j {
                        dyi += pow;
                    }
                    dx[k] += dyi * gs;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::forward::tests::{lrn_ref, PARAMS};
    use super::*;
    use crate::test_data::{self, draw_f32};
    use std::vec;
    use std::vec::Vec;

    /// The f64 analytic gradient, written plainly:
    /// `dx[k] = Σ_j dy[j]·([k = j]·N_j^−β − 2αβ·x_j·x_k·N_j^(−β−1))` over `k ∈ window(j)`.
    fn lrn_grad_ref(
        depth: usize,
        r: usize,
        (bias, alpha, beta): (f64, f64, f64),
        x: &[f64],
        dy: &[f64],
    ) -> Vec<f64> {
        let mut dx = vec![0.0; x.len()];
        for b in 0..x.len() / depth {
            let row = &x[b * depth..][..depth];
            for j in 0..depth {
                let lo = j.saturating_sub(r);
                let hi = (j + r).min(depth - 1);
                let s: f64 = (lo..=hi).map(|k| row[k] * row[k]).sum();
                let n = bias + alpha * s;
                for k in lo..=hi {
                    let mut v = -2.0 * alpha * beta * row[j] * row[k] * libm::pow(n, -beta - 1.0);
                    if k == j {
                        v += libm::pow(n, -beta);
                    }
                    dx[b * depth + k] += dy[b * depth + j] * v;
                }
            }
        }
        dx
    }

    fn to64(v: &[f32]) -> Vec<f64> {
        v.iter().map(|&a| f64::from(a)).collect()
    }

    #[test]
    fn matches_f64_analytic_gradient() {
        // Reference: f64 analytic gradient; tolerance 2e-6 + 1e-5·|b| (the f32 kernel sums up to
        // 11 terms of mixed sign).
        let mut rng = test_data::rng(2);
        for &(bias, alpha, beta) in &PARAMS {
            for r in 0..=5 {
                for depth in [1, 3, 8, 17] {
                    let g = Lrn::new(depth, r, bias, alpha, beta).unwrap();
                    let rows = 3;
                    let x = draw_f32(&mut rng, rows * depth, -3.0, 3.0);
                    let dy = draw_f32(&mut rng, rows * depth, -1.0, 1.0);
                    let mut dx = vec![f32::NAN; x.len()];
                    lrn_backward_f32(&g, rows, &x, &dy, &mut dx).unwrap();
                    let p = (f64::from(bias), f64::from(alpha), f64::from(beta));
                    let want = lrn_grad_ref(depth, r, p, &to64(&x), &to64(&dy));
                    for (i, (&a, &b)) in dx.iter().zip(&want).enumerate() {
                        let a = f64::from(a);
                        assert!(
                            (a - b).abs() <= 2e-6 + 1e-5 * b.abs(),
                            "p={p:?} r={r} D={depth} i={i}: {a} vs {b}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn finite_differences_of_the_f64_forward_agree() {
        // L = Σ w·lrn(x) with fixed random w; central differences of the f64 reference forward
        // with h = 1e-6; tolerance 1e-5 + 1e-4·|fd| against the f32 kernel.
        let mut rng = test_data::rng(3);
        for &(bias, alpha, beta) in &PARAMS {
            for (r, depth) in [(0, 3), (2, 5), (4, 9), (5, 3)] {
                let g = Lrn::new(depth, r, bias, alpha, beta).unwrap();
                let rows = 2;
                let x = draw_f32(&mut rng, rows * depth, -2.0, 2.0);
                let w = draw_f32(&mut rng, rows * depth, -1.0, 1.0);
                let mut dx = vec![f32::NAN; x.len()];
                lrn_backward_f32(&g, rows, &x, &w, &mut dx).unwrap();
                let (b64, a64, be64) = (f64::from(bias), f64::from(alpha), f64::from(beta));
                let loss = |x: &[f64]| -> f64 {
                    let y = lrn_ref(depth, r, b64, a64, be64, x);
                    y.iter().zip(&w).map(|(&y, &w)| y * f64::from(w)).sum()
                };
                let h = 1e-6;
                for i in 0..x.len() {
                    let mut xp = to64(&x);
                    xp[i] += h;
                    let mut xm = to64(&x);
                    xm[i] -= h;
                    let fd = (loss(&xp) - loss(&xm)) / (2.0 * h);
                    let a = f64::from(dx[i]);
                    assert!(
                        (a - fd).abs() <= 1e-5 + 1e-4 * fd.abs(),
                        "i={i}: {a} vs {fd}"
                    );
                }
            }
        }
    }

    #[test]
    fn zero_output_gradient_is_skipped_like_tensorflow() {
        // An infinite input whose window only gets zero gradients leaves d_input finite (0),
        // because TensorFlow skips d_output[j] == 0 instead of multiplying NaN by 0.
        let g = Lrn::new(3, 1, 1.0, 0.5, 0.75).unwrap();
        let x = [f32::INFINITY, 1.0, 2.0];
        let mut dx = [f32::NAN; 3];
        lrn_backward_f32(&g, 1, &x, &[0.0, 0.0, 0.0], &mut dx).unwrap();
        assert_eq!(dx, [0.0; 3]);
    }

    #[test]
    fn length_errors_leave_d_input_untouched() {
        let g = Lrn::new(4, 2, 1.0, 0.1, 0.75).unwrap();
        let x = [1.0f32; 8];
        let mut dx = [7.0f32; 8];
        let dy = [1.0f32; 9];
        for (xn, dyn_, dxn, arg, got) in [
            (7, 8, 8, "input", 7),
            (8, 9, 8, "d_output", 9),
            (8, 8, 6, "d_input", 6),
        ] {
            assert_eq!(
                lrn_backward_f32(&g, 2, &x[..xn], &dy[..dyn_], &mut dx[..dxn]),
                Err(KernelError::Length {
                    arg,
                    expected: 8,
                    got
                })
            );
        }
        assert_eq!(
            lrn_backward_f32(&g, 0, &x, &x, &mut dx),
            Err(KernelError::Zero { arg: "rows" })
        );
        assert!(dx.iter().all(|&v| v == 7.0));
    }
}
