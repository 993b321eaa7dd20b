//! LRN backward with the window sum factored out: one division per channel instead of one per
//! channel and window cell. For hosts that trade [`lrn_backward_f32`]'s exact TensorFlow bits
//! for speed (the fast path); boards and `--exact` keep [`lrn_backward_f32`].

use super::{check_two, lrn_backward_f32, Lrn, BLOCK};
use crate::error::check_len;
use crate::KernelError;

/// Channels beyond a block on either side whose terms the block also needs (its windows reach
/// that far). Deeper radii go through [`lrn_backward_f32`].
const HALO: usize = BLOCK;
/// Channels whose terms one block holds: the block and its halo on both sides.
const SPAN: usize = BLOCK + 2 * HALO;

/// The gradient of [`lrn_f32`](super::lrn_f32) with respect to its input, TensorFlow's
/// `LRNGrad` re-associated: `d_input[k] = pow[k]·dy[k] + x[k] · Σ_{j ∈ window(k)} t[j]` with
/// `t[j] = (−2αβ · (x[j] · pow[j])) / norm[j] · dy[j]` and `pow = norm^−β` — the same terms as
/// [`lrn_backward_f32`]'s `Σ_j (x[k] · (−2αβ · y[j]) / norm[j] + [k = j]·pow[j]) · dy[j]`, with
/// `x[k]` taken out of the sum, so each `norm[j]` divides once rather than once per window
/// cell. Overwrites `d_input`.
///
/// The rounding differs from [`lrn_backward_f32`]'s (a few f32 ulps relative to the terms'
/// size, within TensorFlow's golden tolerances); every sum still runs in one fixed order, so the
/// bits depend on nothing but the inputs. As in TensorFlow a zero `d_output[j]` contributes
/// nothing; a non-finite input may give NaN where [`lrn_backward_f32`] gives a number. A depth
/// radius beyond 64 channels goes through [`lrn_backward_f32`] (same result, its bits).
///
/// # Errors
/// As [`lrn_backward_f32`]: [`KernelError::Zero`] if `rows` is 0, [`KernelError::Overflow`] if
/// `rows · channels` overflows, [`KernelError::Length`] naming `input`, `d_output` or
/// `d_input` when its length is not `rows · channels`. Nothing is written on error.
pub fn lrn_backward_factored_f32(
    g: &Lrn,
    rows: usize,
    input: &[f32],
    d_output: &[f32],
    d_input: &mut [f32],
) -> Result<(), KernelError> {
    let n = check_two(g, rows, "input", input.len(), "d_output", d_output.len())?;
    check_len("d_input", n, d_input.len())?;
    let c = g.channels();
    let reach = g.depth_radius().min(c - 1);
    if reach > HALO {
        return lrn_backward_f32(g, rows, input, d_output, d_input);
    }
    let ab2 = g.alpha_beta_2();
    let mut norms = [0.0f32; SPAN];
    let mut pows = [0.0f32; SPAN];
    let mut terms = [0.0f32; SPAN];
    let mut sums = [0.0f32; BLOCK];
    for ((x, dy), dx) in input
        .chunks_exact(c)
        .zip(d_output.chunks_exact(c))
        .zip(d_input.chunks_exact_mut(c))
    {
        for (k0, dx_block) in (0..).step_by(BLOCK).zip(dx.chunks_mut(BLOCK)) {
            let k1 = k0 + dx_block.len();
            // The channels j whose windows reach the block, norms and terms recomputed for the
            // halo (2·reach of 64 channels more, against eight fewer divisions per channel).
            let (j0, j1) = (k0.saturating_sub(reach), (k1 + reach).min(c));
            let span = j1 - j0;
            let (norms, pows, terms) = (&mut norms[..span], &mut pows[..span], &mut terms[..span]);
            g.norms(x, j0, norms);
            pows.copy_from_slice(norms);
            g.pow_neg_beta(pows);
            let js = x[j0..j1].iter().zip(&dy[j0..j1]).zip(&*norms).zip(&*pows);
            for (t, (((&xj, &gs), &norm), &pow)) in terms.iter_mut().zip(js) {
                let share = ab2 * (xj * pow) / norm * gs;
                *t = if gs == 0.0 { 0.0 } else { share };
            }
            // Σ over each k's window in ascending j, summed across the block one window offset
            // at a time (a vector loop), clipped windows at the row's ends included: a cell
            // outside the row is simply not in `terms`.
            let sums = &mut sums[..k1 - k0];
            window_sums(terms, k0 - j0, reach, sums);
            let ks = x[k0..k1]
                .iter()
                .zip(&dy[k0..k1])
                .zip(&pows[k0 - j0..k1 - j0]);
            for ((d, &s), ((&xk, &gs), &pow)) in dx_block.iter_mut().zip(&*sums).zip(ks) {
                let own = if gs == 0.0 { 0.0 } else { pow * gs };
                let cross = if s == 0.0 { 0.0 } else { xk * s };
                *d = own + cross;
            }
        }
    }
    Ok(())
}

/// `sums[i] = Σ terms[at + i + o − reach]` over the offsets `o = 0 ..= 2·reach` whose cell lies
/// inside `terms`, in ascending `o`.
#[inline(always)]
fn window_sums(terms: &[f32], at: usize, reach: usize, sums: &mut [f32]) {
    sums.fill(0.0);
    for o in 0..=2 * reach {
        // Output i's cell at + i + o − reach exists for i in [lo, hi).
        let lo = reach.saturating_sub(at + o).min(sums.len());
        let hi = sums.len().min((terms.len() + reach).saturating_sub(at + o));
        if lo >= hi {
            continue;
        }
        let first = at + lo + o - reach;
        for (s, &t) in sums[lo..hi]
            .iter_mut()
            .zip(&terms[first..first + (hi - lo)])
        {
            *s += t;
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::backward::tests::{lrn_grad_ref, to64};
    use super::super::forward::tests::PARAMS;
    use super::*;
    use crate::test_data::{self, draw_f32};
    use std::vec;

    #[test]
    fn matches_f64_analytic_gradient() {
        // Reference: the f64 analytic gradient (itself checked against finite differences in
        // backward.rs); tolerance 2e-6 + 1e-5·|b|, the exact kernel's. Depths across the block and
        // halo sizes, radii up to the halo and beyond it (the exact kernel's fallback), zero
        // output gradients.
        let mut rng = test_data::rng(5);
        for &(bias, alpha, beta) in &PARAMS {
            for c in [1, 3, 17, 64, 65, 128, 130, 200] {
                for r in [0, 1, 4, 5, 63, 64, 65, 1000] {
                    let g = Lrn::new(c, r, bias, alpha, beta).unwrap();
                    let rows = 2;
                    let x = draw_f32(&mut rng, rows * c, -3.0, 3.0);
                    let mut dy = draw_f32(&mut rng, rows * c, -1.0, 1.0);
                    for d in dy.iter_mut().step_by(5) {
                        *d = 0.0;
                    }
                    let mut dx = vec![f32::NAN; x.len()];
                    lrn_backward_factored_f32(&g, rows, &x, &dy, &mut dx).unwrap();
                    let p = (f64::from(bias), f64::from(alpha), f64::from(beta));
                    let want = lrn_grad_ref(c, r, p, &to64(&x), &to64(&dy));
                    for (i, (&a, &b)) in dx.iter().zip(&want).enumerate() {
                        let a = f64::from(a);
                        assert!(
                            (a - b).abs() <= 2e-6 + 1e-5 * b.abs(),
                            "p={p:?} r={r} c={c} i={i}: {a} vs {b}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn radius_beyond_the_halo_gives_the_exact_kernels_bits() {
        let mut rng = test_data::rng(6);
        let g = Lrn::new(150, HALO + 1, 1.0, 0.5, 0.75).unwrap();
        let x = draw_f32(&mut rng, 300, -3.0, 3.0);
        let dy = draw_f32(&mut rng, 300, -1.0, 1.0);
        let (mut a, mut b) = (vec![f32::NAN; 300], vec![f32::NAN; 300]);
        lrn_backward_factored_f32(&g, 2, &x, &dy, &mut a).unwrap();
        lrn_backward_f32(&g, 2, &x, &dy, &mut b).unwrap();
        assert!(a.iter().zip(&b).all(|(a, b)| a.to_bits() == b.to_bits()));
    }

    #[test]
    fn zero_output_gradient_is_skipped_like_tensorflow() {
        // As the exact kernel: an infinite input whose window gets only zero gradients leaves
        // d_input at 0 rather than 0 · ∞ = NaN.
        let g = Lrn::new(3, 1, 1.0, 0.5, 0.75).unwrap();
        let mut dx = [f32::NAN; 3];
        lrn_backward_factored_f32(&g, 1, &[f32::INFINITY, 1.0, 2.0], &[0.0; 3], &mut dx).unwrap();
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
                lrn_backward_factored_f32(&g, 2, &x[..xn], &dy[..dyn_], &mut dx[..dxn]),
                Err(KernelError::Length {
                    arg,
                    expected: 8,
                    got
                })
            );
        }
        assert_eq!(
            lrn_backward_factored_f32(&g, 0, &x, &x, &mut dx),
            Err(KernelError::Zero { arg: "rows" })
        );
        assert!(dx.iter().all(|&v| v == 7.0));
    }
}
