//! Gradient descent, plain and with (Nesterov) momentum, as TensorFlow's
//! `GradientDescentOptimizer` and `MomentumOptimizer` (`ApplyGradientDescent`,
//! `ApplyMomentum`), with optional decoupled weight decay as `tf.contrib.opt.MomentumWOptimizer`.

use super::{non_negative, unit_interval};
use crate::error::{check_len, KernelError};
use crate::{Exec, Portable};

/// Momentum's hyper-parameters.
///
/// All fields are checked by [`momentum_step_f32`] on every call (see [`Momentum::check`]).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Momentum {
    /// Learning rate, finite and `>= 0`.
    pub lr: f32,
    /// Decay of the accumulator, `0 <= momentum < 1`.
    pub momentum: f32,
    /// TensorFlow's `use_nesterov`: the weights track the look-ahead point.
    pub nesterov: bool,
    /// Decoupled weight decay per step, `0 <= weight_decay < 1`; 0 disables it. Not multiplied
    /// by `lr`, as in TensorFlow's `DecoupledWeightDecayExtension`.
    pub weight_decay: f32,
}

impl Momentum {
    /// Checks every field against its documented range.
    ///
    /// # Errors
    /// [`KernelError::InvalidParam`] naming the first offending field (`lr`, `momentum`,
    /// `weight_decay`, in that order); NaN and infinities are always rejected.
    pub fn check(&self) -> Result<(), KernelError> {
        non_negative("lr", self.lr)?;
        unit_interval("momentum", self.momentum)?;
        unit_interval("weight_decay", self.weight_decay)
    }
}

/// One momentum step on a flat parameter slice, TensorFlow's dense `ApplyMomentum` CPU functor.
///
/// In `f32`, operation by operation, no fused multiply-add:
///
/// ```text
/// w     = w − weight_decay · w                          (only when weight_decay ≠ 0)
/// accum = accum · momentum + g
/// w     = w − accum · lr                                (nesterov = false)
/// w     = w − (g · lr + (accum · momentum) · lr)        (nesterov = true)
/// ```
///
/// The decay uses the weight before this step's update and runs first, as TensorFlow's
/// `DecoupledWeightDecayExtension` does; skipping it when it is 0 keeps the plain optimiser
/// bit-identical to `MomentumOptimizer`.
///
/// `params` and `accum` are updated in place (overwritten); the caller zero-initialises `accum`
/// before the first step, as TensorFlow's slot.
///
/// # Errors
/// Nothing is written when an error is returned.
/// * [`KernelError::InvalidParam`] if `cfg` is out of range (see [`Momentum::check`]).
/// * [`KernelError::Length`] naming `grads` or `accum` if its length differs from
///   `params.len()`.
pub fn momentum_step_f32(
    cfg: &Momentum,
    params: &mut [f32],
    grads: &[f32],
    accum: &mut [f32],
) -> Result<(), KernelError> {
    momentum_step_f32_with(&Portable, cfg, params, grads, accum)
}

/// [`momentum_step_f32`] with the elements spread by `exec` ([`Exec::map_lanes`]): every
/// element is updated alone, so any split gives the same bits.
///
/// # Errors
/// As [`momentum_step_f32`]; nothing is written then.
pub fn momentum_step_f32_with<E: Exec + ?Sized>(
    exec: &E,
    cfg: &Momentum,
    params: &mut [f32],
    grads: &[f32],
    accum: &mut [f32],
) -> Result<(), KernelError> {
    cfg.check()?;
    let n = params.len();
    check_len("grads", n, grads.len())?;
    check_len("accum", n, accum.len())?;

    let (lr, mu, decay) = (cfg.lr, cfg.momentum, cfg.weight_decay);
    exec.map_lanes(&[grads], &mut [params, accum], &|read, write| {
        // `map_lanes` hands back the lanes it was given, so this always matches.
        let ([grads], [params, accum]) = (read, write) else {
            return;
        };
        for ((w, &g), a) in params.iter_mut().zip(*grads).zip(accum.iter_mut()) {
            if decay != 0.0 {
                *w -= decay * *w;
            }
            *a = *a * mu + g;
            if cfg.nesterov {
                *w -= g * lr + *a * mu * lr;
            } else {
                *w -= *a * lr;
            }
        }
    });
    Ok(())
}

/// One plain gradient-descent step, TensorFlow's `ApplyGradientDescent`: `w = w − g · lr` in
/// `f32`. `params` is updated in place (overwritten).
///
/// # Errors
/// Nothing is written when an error is returned.
/// * [`KernelError::InvalidParam`] (`lr`) unless `lr` is finite and `>= 0`.
/// * [`KernelError::Length`] (`grads`) if `grads.len() != params.len()`.
pub fn sgd_step_f32(lr: f32, params: &mut [f32], grads: &[f32]) -> Result<(), KernelError> {
    sgd_step_f32_with(&Portable, lr, params, grads)
}

/// [`sgd_step_f32`] with the elements spread by `exec` ([`Exec::map_lanes`]): every element is
/// updated alone, so any split gives the same bits.
///
/// # Errors
/// As [`sgd_step_f32`]; nothing is written then.
pub fn sgd_step_f32_with<E: Exec + ?Sized>(
    exec: &E,
    lr: f32,
    params: &mut [f32],
    grads: &[f32],
) -> Result<(), KernelError> {
    non_negative("lr", lr)?;
    check_len("grads", params.len(), grads.len())?;
    exec.map_lanes(&[grads], &mut [params], &|read, write| {
        // `map_lanes` hands back the lanes it was given, so this always matches.
        let ([grads], [params]) = (read, write) else {
            return;
        };
        for (w, &g) in params.iter_mut().zip(*grads) {
            *w -= g * lr;
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    fn cfg(lr: f32, momentum: f32, nesterov: bool, weight_decay: f32) -> Momentum {
        Momentum {
            lr,
            momentum,
            nesterov,
            weight_decay,
        }
    }

    #[test]
    fn hand_computed_two_steps() {
        // Dyadic values, so every f32 operation is exact and the hand result is the bits.
        // step 1: accum = g1 = [1, −2];           w = [1, 1] − 0.5·[1, −2]     = [0.5, 2]
        // step 2: accum = 0.5·[1, −2] + [2, 0.5] = [2.5, −0.5]; w = [0.5, 2] − 0.5·accum = [−0.75, 2.25]
        let c = cfg(0.5, 0.5, false, 0.0);
        let (mut w, mut a) = ([1.0f32, 1.0], [0.0f32; 2]);
        momentum_step_f32(&c, &mut w, &[1.0, -2.0], &mut a).unwrap();
        assert_eq!((w, a), ([0.5, 2.0], [1.0, -2.0]));
        momentum_step_f32(&c, &mut w, &[2.0, 0.5], &mut a).unwrap();
        assert_eq!((w, a), ([-0.75, 2.25], [2.5, -0.5]));
    }

    #[test]
    fn hand_computed_nesterov() {
        // accum = 0.5·[2, 4] + [1, −1] = [2, 1]
        // w −= g·lr + accum·mu·lr = [1, −1]·0.25 + [2, 1]·0.5·0.25 = [0.5, −0.125]
        let c = cfg(0.25, 0.5, true, 0.0);
        let (mut w, mut a) = ([0.0f32, 0.0], [2.0f32, 4.0]);
        momentum_step_f32(&c, &mut w, &[1.0, -1.0], &mut a).unwrap();
        assert_eq!(a, [2.0, 1.0]);
        assert_eq!(w, [-0.5, 0.125]);
    }

    #[test]
    fn hand_computed_weight_decay() {
        // w = 8 − 0.125·8 = 7, then accum = 0·0.5 + 2 = 2, w = 7 − 2·0.25 = 6.5.
        let c = cfg(0.25, 0.5, false, 0.125);
        let (mut w, mut a) = ([8.0f32], [0.0f32]);
        momentum_step_f32(&c, &mut w, &[2.0], &mut a).unwrap();
        assert_eq!(w, [6.5]);
        // Nesterov with decay: w = 7, accum = 2, w = 7 − (2·0.25 + 2·0.5·0.25) = 6.25.
        let c = cfg(0.25, 0.5, true, 0.125);
        let (mut w, mut a) = ([8.0f32], [0.0f32]);
        momentum_step_f32(&c, &mut w, &[2.0], &mut a).unwrap();
        assert_eq!(w, [6.25]);
    }

    /// Varied gradients: signs change, magnitudes span 1e-3..1e2.
    fn grad(t: u32, i: usize) -> f32 {
        let k = ((i as i32) * 5 + (t as i32) * 11) % 13 - 6;
        k as f32 * [1.0f32, 1e-3, 37.5, 0.3][i]
    }

    #[test]
    fn tracks_an_f64_reference_over_ten_steps() {
        // Tolerance |a − b| ≤ atol + rtol·|b| with rtol = 1e-5, atol = 1e-6: each step rounds a
        // few times at 2^-24 relative, and the accumulator keeps at most 1/(1 − 0.9) = 10 steps'
        // worth of error; atol covers weights that cross zero.
        for c in [
            cfg(0.01, 0.9, false, 0.0),
            cfg(0.01, 0.9, true, 0.0),
            cfg(0.003, 0.5, true, 0.01),
        ] {
            let mut w = [0.5f32, -1.0, 2.0, 0.0];
            let mut a = [0.0f32; 4];
            let mut rw = w.map(f64::from);
            let mut ra = [0.0f64; 4];
            let (lr, mu, wd) = (
                f64::from(c.lr),
                f64::from(c.momentum),
                f64::from(c.weight_decay),
            );
            for t in 1..=10 {
                let g: [f32; 4] = core::array::from_fn(|i| grad(t, i));
                momentum_step_f32(&c, &mut w, &g, &mut a).unwrap();
                for i in 0..4 {
                    let g = f64::from(g[i]);
                    rw[i] -= wd * rw[i];
                    ra[i] = mu * ra[i] + g;
                    rw[i] -= if c.nesterov {
                        lr * (g + mu * ra[i])
                    } else {
                        lr * ra[i]
                    };
                }
            }
            for i in 0..4 {
                let (got, want) = (f64::from(w[i]), rw[i]);
                assert!(
                    (got - want).abs() <= 1e-6 + 1e-5 * want.abs(),
                    "{c:?} w[{i}] {got} {want}"
                );
                let (got, want) = (f64::from(a[i]), ra[i]);
                assert!(
                    (got - want).abs() <= 1e-6 + 1e-5 * want.abs(),
                    "{c:?} a[{i}] {got} {want}"
                );
            }
        }
    }

    #[test]
    fn sgd_hand_computed() {
        let mut w = [1.0f32, -2.0, 0.5];
        sgd_step_f32(0.25, &mut w, &[4.0, -8.0, 0.0]).unwrap();
        assert_eq!(w, [0.0, 0.0, 0.5]);
    }

    #[test]
    fn errors_leave_everything_untouched() {
        let good = cfg(0.1, 0.9, false, 0.0);
        let bad: [(Momentum, &str); 8] = [
            (cfg(-0.1, 0.9, false, 0.0), "lr"),
            (cfg(f32::NAN, 0.9, false, 0.0), "lr"),
            (cfg(f32::INFINITY, 0.9, false, 0.0), "lr"),
            (cfg(0.1, 1.0, false, 0.0), "momentum"),
            (cfg(0.1, -0.5, true, 0.0), "momentum"),
            (cfg(0.1, f32::NAN, false, 0.0), "momentum"),
            (cfg(0.1, 0.9, false, -1e-4), "weight_decay"),
            (cfg(0.1, 0.9, false, f32::INFINITY), "weight_decay"),
        ];
        for (c, arg) in bad {
            let (mut w, mut a) = ([1.0f32; 2], [0.5f32; 2]);
            assert_eq!(
                momentum_step_f32(&c, &mut w, &[1.0; 2], &mut a),
                Err(KernelError::InvalidParam { arg })
            );
            assert_eq!((w, a), ([1.0; 2], [0.5; 2]));
        }
        let (mut w, mut a) = ([1.0f32; 2], [0.5f32; 2]);
        assert_eq!(
            momentum_step_f32(&good, &mut w, &[1.0; 3], &mut a),
            Err(KernelError::Length {
                arg: "grads",
                expected: 2,
                got: 3
            })
        );
        let mut a1 = [0.5f32; 1];
        assert_eq!(
            momentum_step_f32(&good, &mut w, &[1.0; 2], &mut a1),
            Err(KernelError::Length {
                arg: "accum",
                expected: 2,
                got: 1
            })
        );
        assert_eq!((w, a, a1), ([1.0; 2], [0.5; 2], [0.5; 1]));

        let mut w = [1.0f32; 2];
        assert_eq!(
            sgd_step_f32(f32::NAN, &mut w, &[1.0; 2]),
            Err(KernelError::InvalidParam { arg: "lr" })
        );
        assert_eq!(
            sgd_step_f32(-1.0, &mut w, &[1.0; 2]),
            Err(KernelError::InvalidParam { arg: "lr" })
        );
        assert_eq!(
            sgd_step_f32(0.1, &mut w, &[1.0; 1]),
            Err(KernelError::Length {
                arg: "grads",
                expected: 2,
                got: 1
            })
        );
        assert_eq!(w, [1.0; 2]);
    }
}
