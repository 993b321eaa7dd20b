//! Fast approximate maths built on `micromath`, under their own names and with their error
//! stated and tested. Nothing here is used by the exact kernels (see the crate docs).

use crate::lrn::{lrn_with, Lrn};
use crate::KernelError;
use micromath::F32Ext;

/// Largest relative error of [`lrn_f32_approx`]'s outputs against exact maths for β = 0.75
/// (the seed's) and β = 0.5, measured over the sweep in this module's tests (`norm` from
/// 1e−6 to 1e6, plus every power of two and its predecessor in between): 1.2e−5 measured,
/// stated with margin.
pub const MAX_REL_ERROR_BETA_075: f32 = 2e-5;

/// Largest relative error of [`lrn_f32_approx`]'s outputs against exact maths for any other
/// β in `[0, 2]`, measured over the same sweep (2.5e−3 measured at β = 2, stated with margin).
/// The error grows with β beyond that range.
pub const MAX_REL_ERROR: f32 = 3e-3;

/// `u^−0.5` from micromath's bit-trick `invsqrt` (≈ 3.4 % error) refined by two Newton steps
/// `q ← q·(1.5 − 0.5·u·q²)`, which square the error twice: multiplications only.
#[inline(always)]
fn inv_sqrt(u: f32) -> f32 {
    let mut q = F32Ext::invsqrt(u);
    q = q * (1.5 - 0.5 * u * q * q);
    q * (1.5 - 0.5 * u * q * q)
}

/// Largest `|β · log₂ u|` handed to micromath's `powf`: its `exp` panics (exponent overflow,
/// with overflow checks) or returns garbage when the result leaves the normal range, so powers
/// beyond `2^±100` are computed exactly instead.
const POWF_MAX_LOG2: f32 = 100.0;

/// `⌊log₂ u⌋` of a normal `u`, from its exponent bits.
#[inline(always)]
fn binary_exponent(u: f32) -> i32 {
    ((u.to_bits() >> 23) & 0xff) as i32 - 127
}

/// `u^−beta` approximately for a normal positive finite `u` whose power stays within
/// `2^±100`; exactly (libm) for any other `u` (NaN of either sign, ±0, subnormals, ±∞,
/// negatives), where micromath's bit tricks are wrong or panic.
#[inline(always)]
pub(crate) fn pow_neg_approx(u: f32, beta: f32) -> f32 {
    if !(u.is_normal() && u > 0.0) {
        return libm::powf(u, -beta);
    }
    if beta == 0.75 {
        // u^−3/4 = q² · q^−1/2 with q = u^−1/2.
        let q = inv_sqrt(u);
        q * q * inv_sqrt(q)
    } else if beta == 0.5 {
        inv_sqrt(u)
    } else if beta * (binary_exponent(u).unsigned_abs() + 1) as f32 > POWF_MAX_LOG2 {
        libm::powf(u, -beta)
    } else if u >= 1.0 {
        F32Ext::powf(u, -beta)
    } else {
        // micromath's `ln` is far less accurate below 1 (it inverts with a bit trick, ~12 %
        // error measured), so take the logarithm of the exact reciprocal instead.
        F32Ext::powf(1.0 / u, beta)
    }
}

/// [`lrn_f32`](crate::lrn::lrn_f32) with `norm^−β` approximated by micromath, for boards where
/// square roots, division or `powf` are slow (no FPU, or a slow one).
///
/// `norm` is computed exactly as in [`lrn_f32`](crate::lrn::lrn_f32) (same order, same bits);
/// only the power differs: for β = 0.75 and β = 0.5 a bit-trick inverse square root refined by
/// Newton steps (multiplications only, relative error ≤ [`MAX_REL_ERROR_BETA_075`]); for other
/// β, micromath's `powf` (`exp(−β·ln u)`, relative error ≤ [`MAX_REL_ERROR`] for β ≤ 2).
/// The bounds hold while every `norm` is a normal finite f32 (true when `bias ≥ f32::MIN_POSITIVE`
/// and the squared sums do not overflow); a `norm` outside that range (NaN, ∞, subnormal) or
/// whose power leaves `2^±100` gets the exact `powf` instead. Overwrites `output`. The
/// gradient is the exact [`lrn_backward_f32`](crate::lrn::lrn_backward_f32).
///
/// # Errors
/// As [`lrn_f32`](crate::lrn::lrn_f32): [`KernelError::Zero`] if `rows` is 0,
/// [`KernelError::Overflow`] if `rows · channels` overflows, [`KernelError::Length`] naming
/// `input` or `output`. Nothing is written on error.
pub fn lrn_f32_approx(
    g: &Lrn,
    rows: usize,
    input: &[f32],
    output: &mut [f32],
) -> Result<(), KernelError> {
    lrn_with(g, rows, input, output, |g, norms| {
        for u in norms {
            *u = pow_neg_approx(*u, g.beta());
        }
    })
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::lrn::lrn_f32;
    use crate::test_data::{self, draw_f32};
    use std::vec;
    use std::vec::Vec;

    /// The sweep: log-spaced `u` over [1e−6, 1e6] (ratio 1 + 1/1024), every power of two and
    /// its predecessor (where micromath's `ln` polynomial is worst), and the seed's range
    /// [1, 1.1] densely.
    fn sweep() -> Vec<f32> {
        let mut v = Vec::new();
        let mut u = 1e-6f32;
        while u < 1e6 {
            v.push(u);
            u *= 1.0 + 1.0 / 1024.0;
        }
        for k in -19..=19 {
            let p = libm::ldexpf(1.0, k);
            v.push(p);
            v.push(f32::from_bits(p.to_bits() - 1));
            v.push(f32::from_bits(p.to_bits() + 1));
        }
        v.extend((0..4096).map(|i| 1.0 + i as f32 * (0.1 / 4096.0)));
        v
    }

    fn max_rel_error(beta: f32) -> f64 {
        let mut worst = 0.0f64;
        for u in sweep() {
            let got = f64::from(pow_neg_approx(u, beta));
            let want = libm::pow(f64::from(u), -f64::from(beta));
            worst = worst.max(((got - want) / want).abs());
        }
        worst
    }

    #[test]
    fn stated_error_bounds_hold_over_the_sweep() {
        // Reference: f64 `pow`. The output adds one rounding (x · p), ≤ 6e−8 relative.
        for beta in [0.75f32, 0.5] {
            let e = max_rel_error(beta) + 6e-8;
            assert!(e <= f64::from(MAX_REL_ERROR_BETA_075), "β={beta}: {e:e}");
        }
        for beta in [0.0f32, 0.1, 0.25, 0.7, 1.0, 1.5, 2.0] {
            let e = max_rel_error(beta) + 6e-8;
            assert!(e <= f64::from(MAX_REL_ERROR), "β={beta}: {e:e}");
        }
    }

    #[test]
    fn close_to_exact_lrn_for_seed_and_other_params() {
        // Reference: the exact `lrn_f32`, itself within ~3e−7 relative of the truth;
        // tolerance 1e−30 + (bound + 5e−7)·|exact|.
        let params = [
            (4, 1.0f32, 0.001f32 / 9.0, 0.75f32, MAX_REL_ERROR_BETA_075),
            (2, 1.0, 0.5, 0.75, MAX_REL_ERROR_BETA_075),
            (5, 2.0, 1e-4, 0.75, MAX_REL_ERROR_BETA_075),
            (3, 1.0, 0.5, 0.5, MAX_REL_ERROR_BETA_075),
            (1, 1.0, 0.5, 1.0, MAX_REL_ERROR),
            (4, 0.01, 0.3, 0.6, MAX_REL_ERROR),
        ];
        let mut rng = test_data::rng(12345);
        for &(r, bias, alpha, beta, bound) in &params {
            let depth = 17;
            let g = Lrn::new(depth, r, bias, alpha, beta).unwrap();
            let rows = 8;
            let x = draw_f32(&mut rng, rows * depth, -4.0, 4.0);
            let mut exact = vec![f32::NAN; x.len()];
            lrn_f32(&g, rows, &x, &mut exact).unwrap();
            let mut approx = vec![f32::NAN; x.len()];
            lrn_f32_approx(&g, rows, &x, &mut approx).unwrap();
            for (i, (&a, &e)) in approx.iter().zip(&exact).enumerate() {
                let tol = 1e-30 + (f64::from(bound) + 5e-7) * f64::from(e).abs();
                assert!(
                    (f64::from(a) - f64::from(e)).abs() <= tol,
                    "β={beta} r={r} i={i}: {a} vs {e}"
                );
            }
        }
    }

    #[test]
    fn length_errors_leave_output_untouched() {
        let g = Lrn::new(4, 2, 1.0, 0.1, 0.75).unwrap();
        let mut y = [7.0f32; 8];
        assert_eq!(
            lrn_f32_approx(&g, 2, &[1.0; 7], &mut y),
            Err(KernelError::Length {
                arg: "input",
                expected: 8,
                got: 7
            })
        );
        assert_eq!(
            lrn_f32_approx(&g, 2, &[1.0; 8], &mut y[..7]),
            Err(KernelError::Length {
                arg: "output",
                expected: 8,
                got: 7
            })
        );
        assert_eq!(
            lrn_f32_approx(&g, 0, &[], &mut []),
            Err(KernelError::Zero { arg: "rows" })
        );
        assert!(y.iter().all(|&v| v == 7.0));
    }
}
