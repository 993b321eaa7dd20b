//! Adam, exactly as TensorFlow 1's `tf.compat.v1.train.AdamOptimizer`, with optional decoupled
//! weight decay as TensorFlow's `DecoupledWeightDecayExtension` (`tf.contrib.opt.AdamWOptimizer`).

use super::{non_negative, positive, unit_interval};
use crate::error::{check_len, KernelError};
use crate::{Exec, Portable};

/// Adam's hyper-parameters.
///
/// All fields are checked by [`adam_step_f32`] on every call (see [`Adam::check`]).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Adam {
    /// Learning rate, finite and `>= 0`.
    pub lr: f32,
    /// Decay of the first-moment average, `0 <= beta1 < 1`.
    pub beta1: f32,
    /// Decay of the second-moment average, `0 <= beta2 < 1`.
    pub beta2: f32,
    /// Added to `√v` in the denominator, finite and `> 0`.
    pub epsilon: f32,
    /// Decoupled weight decay per step, `0 <= weight_decay < 1`; 0 disables it. Not multiplied
    /// by `lr` (TensorFlow's extension does not; Keras 3's `AdamW` does).
    pub weight_decay: f32,
}

impl Adam {
    /// TensorFlow 1's defaults: `beta1 = 0.9`, `beta2 = 0.999`, `epsilon = 1e-8` (Keras
    /// defaults to `1e-7`), no weight decay.
    pub const fn tf1(lr: f32) -> Self {
        Self {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            weight_decay: 0.0,
        }
    }

    /// Checks every field against its documented range.
    ///
    /// # Errors
    /// [`KernelError::InvalidParam`] naming the first offending field (`lr`, `beta1`, `beta2`,
    /// `epsilon`, `weight_decay`, in that order); NaN and infinities are always rejected.
    pub fn check(&self) -> Result<(), KernelError> {
        non_negative("lr", self.lr)?;
        unit_interval("beta1", self.beta1)?;
        unit_interval("beta2", self.beta2)?;
        positive("epsilon", self.epsilon)?;
        unit_interval("weight_decay", self.weight_decay)
    }
}

/// TensorFlow 1's `beta1_power` and `beta2_power` variables: `β1ᵗ` and `β2ᵗ` for the next
/// step `t`, kept as optimiser state and multiplied once per step.
///
/// `AdamOptimizer` creates them at `β1` and `β2` (the powers for step 1) beside the slots and,
/// in `_finish`, after every step's updates, multiplies each by its `β` in `f32`. Keeping that
/// running product (rather than a power, or a loop of `t` products) reproduces TensorFlow's
/// bits at any step at the cost of two multiplications. Why not `powf`: the product drifts
/// from the correctly rounded power by up to half an ulp per step, and Adam amplifies that by
/// `1/(1 − β1ᵗ)`; at `t = 2` with `β = 0.999` a power would change the step size by about
/// 3·10⁻⁶ relative to TensorFlow's. The product never reaches 0 for the defaults: it sticks
/// at a subnormal where `x·β` rounds back to `x` (after 964 steps for 0.9, 96 901 for 0.999).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BetaPowers {
    /// `β1ᵗ` for the next step, in `[0, 1)`.
    pub beta1_power: f32,
    /// `β2ᵗ` for the next step, in `[0, 1)`.
    pub beta2_power: f32,
}

impl BetaPowers {
    /// The powers before step 1: `β1` and `β2`, as TensorFlow creates the variables.
    pub const fn new(cfg: &Adam) -> Self {
        Self {
            beta1_power: cfg.beta1,
            beta2_power: cfg.beta2,
        }
    }

    /// Checks both powers are in `[0, 1)` (so `1 − βᵗ` is positive).
    ///
    /// # Errors
    /// [`KernelError::InvalidParam`] naming `beta1_power` or `beta2_power` (NaN included).
    pub fn check(&self) -> Result<(), KernelError> {
        unit_interval("beta1_power", self.beta1_power)?;
        unit_interval("beta2_power", self.beta2_power)
    }
}

/// One Adam step on a flat parameter slice, TensorFlow 1's dense `ApplyAdam` CPU functor,
/// followed by its `_finish` (the powers are multiplied by their `β`).
///
/// With `b1ᵗ = powers.beta1_power` and `b2ᵗ = powers.beta2_power` (see [`BetaPowers`]), in
/// `f32`, operation by operation, no fused multiply-add:
///
/// ```text
/// alpha = lr · √(1 − b2ᵗ) / (1 − b1ᵗ)
/// w     = w − weight_decay · w               (only when weight_decay ≠ 0)
/// m     = m + (g − m) · (1 − beta1)
/// v     = v + (g·g − v) · (1 − beta2)
/// w     = w − (m · alpha) / (√v + epsilon)
/// b1ᵗ   = b1ᵗ · beta1,  b2ᵗ = b2ᵗ · beta2
/// ```
///
/// The decay uses the weight *before* this step's Adam update, as TensorFlow's
/// `DecoupledWeightDecayExtension` does (it runs `var -= weight_decay * var` as a control
/// dependency of the Adam op); Adam's update does not read `w`, so the order of the two only
/// matters for rounding, and this is TensorFlow's order. Skipping the decay when it is 0 keeps
/// plain Adam bit-identical to `AdamOptimizer` (`w − 0·w` would turn `−0` into `+0` and `±∞`
/// into NaN).
///
/// `params`, `m`, `v` and `powers` are updated in place. The caller owns the moments
/// (zero-initialised before step 1, as TensorFlow's slots) and the powers
/// ([`BetaPowers::new`] before step 1), and keeps them together: a resumed run must restore
/// all three. Non-finite gradients propagate as in TensorFlow.
///
/// # Errors
/// Nothing is written when an error is returned.
/// * [`KernelError::InvalidParam`] if `cfg` is out of range (see [`Adam::check`]) or a power is
///   (see [`BetaPowers::check`]).
/// * [`KernelError::Length`] naming `grads`, `m` or `v` if its length differs from
///   `params.len()`.
pub fn adam_step_f32(
    cfg: &Adam,
    powers: &mut BetaPowers,
    params: &mut [f32],
    grads: &[f32],
    m: &mut [f32],
    v: &mut [f32],
) -> Result<(), KernelError> {
    adam_step_f32_with(&Portable, cfg, powers, params, grads, m, v)
}

/// [`adam_step_f32`] with the elements spread by `exec` ([`Exec::map_lanes`]): every element
/// is updated alone, so any split gives the same bits.
///
/// # Errors
/// As [`adam_step_f32`]; nothing is written then.
pub fn adam_step_f32_with<E: Exec + ?Sized>(
    exec: &E,
    cfg: &Adam,
    powers: &mut BetaPowers,
    params: &mut [f32],
    grads: &[f32],
    m: &mut [f32],
    v: &mut [f32],
) -> Result<(), KernelError> {
    cfg.check()?;
    powers.check()?;
    let n = params.len();
    check_len("grads", n, grads.len())?;
    check_len("m", n, m.len())?;
    check_len("v", n, v.len())?;

    let update = Update {
        alpha: cfg.lr * crate::sqrt::sqrtf(1.0 - powers.beta2_power) / (1.0 - powers.beta1_power),
        one_minus_beta1: 1.0 - cfg.beta1,
        one_minus_beta2: 1.0 - cfg.beta2,
        epsilon: cfg.epsilon,
        decay: cfg.weight_decay,
    };
    update.apply(exec, params, grads, m, v);
    powers.beta1_power *= cfg.beta1;
    powers.beta2_power *= cfg.beta2;
    Ok(())
}

/// The per-element update both Adams share (this one and [`super::adam_keras`]); they differ
/// only in how these `f32` coefficients are rounded.
pub(super) struct Update {
    pub(super) alpha: f32,
    pub(super) one_minus_beta1: f32,
    pub(super) one_minus_beta2: f32,
    pub(super) epsilon: f32,
    /// Decoupled weight decay; 0 skips it (see [`adam_step_f32`] for why skip, not multiply).
    pub(super) decay: f32,
}

impl Update {
    /// `params`, `m` and `v` in place, as [`adam_step_f32`]'s formula, spread by `exec`; the
    /// caller has checked that the four slices have one length.
    pub(super) fn apply<E: Exec + ?Sized>(
        &self,
        exec: &E,
        params: &mut [f32],
        grads: &[f32],
        m: &mut [f32],
        v: &mut [f32],
    ) {
        exec.map_lanes(&[grads], &mut [params, m, v], &|read, write| {
            // `map_lanes` hands back the lanes it was given, so this always matches.
            let ([g], [w, m, v]) = (read, write) else {
                return;
            };
            self.apply_chunk(w, g, m, v);
        });
    }

    /// [`Update::apply`] on one chunk, on the calling thread.
    fn apply_chunk(&self, params: &mut [f32], grads: &[f32], m: &mut [f32], v: &mut [f32]) {
        debug_assert!(grads.len() == params.len() && m.len() == params.len());
        debug_assert!(v.len() == params.len());
        for (((w, &g), m), v) in params
            .iter_mut()
            .zip(grads)
            .zip(m.iter_mut())
            .zip(v.iter_mut())
        {
            if self.decay != 0.0 {
                *w -= self.decay * *w;
            }
            *m += (g - *m) * self.one_minus_beta1;
            *v += (g * g - *v) * self.one_minus_beta2;
            *w -= (*m * self.alpha) / (crate::sqrt::sqrtf(*v) + self.epsilon);
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    /// Gradient scales per parameter: ordinary, small, large, below epsilon's reach, and so on.
    const SCALES: [f32; 6] = [1.0, 1e-3, 256.0, 1e-6, 0.5, 4096.0];
    const W0: [f32; 6] = [0.5, -1.25, 0.0, 3.0, -0.007_812_5, 1024.0];

    /// Varied gradients (signs change, some steps are exactly 0), reproducible in Python.
    fn grad(t: u32, i: usize) -> f32 {
        let k = ((i as i32) * 7 + (t as i32) * 13) % 17 - 8;
        (k as f32 / 4.0) * SCALES[i]
    }

    fn bits(xs: &[f32]) -> Vec<u32> {
        xs.iter().map(|x| x.to_bits()).collect()
    }

    fn run(cfg: &Adam, steps: u32) -> ([f32; 6], [f32; 6], [f32; 6]) {
        let (mut w, mut m, mut v) = (W0, [0.0; 6], [0.0; 6]);
        let mut powers = BetaPowers::new(cfg);
        for t in 1..=steps {
            let g: Vec<f32> = (0..6).map(|i| grad(t, i)).collect();
            adam_step_f32(cfg, &mut powers, &mut w, &g, &mut m, &mut v).unwrap();
        }
        (w, m, v)
    }

    /// The powers for step `t` as the state holds them: `t − 1` steps (on no parameters) from
    /// [`BetaPowers::new`].
    fn powers_at(beta: f32, t: u32) -> f32 {
        let cfg = Adam {
            beta1: beta,
            beta2: beta,
            ..Adam::tf1(1e-3)
        };
        let mut p = BetaPowers::new(&cfg);
        for _ in 1..t {
            adam_step_f32(&cfg, &mut p, &mut [], &[], &mut [], &mut []).unwrap();
        }
        assert_eq!(p.beta1_power.to_bits(), p.beta2_power.to_bits());
        p.beta1_power
    }

    /// The formula the state replaces: `β^step` recomputed by `step − 1` products at every
    /// step (stopping at the product's fixed point).
    fn repeated_product(beta: f32, step: u32) -> f32 {
        let mut power = beta;
        for _ in 1..step {
            let next = power * beta;
            if next == power {
                break;
            }
            power = next;
        }
        power
    }

    /// One step as it was computed before the powers became state.
    fn step_with_repeated_product(
        cfg: &Adam,
        t: u32,
        w: &mut [f32],
        g: &[f32],
        m: &mut [f32],
        v: &mut [f32],
    ) {
        let (b1p, b2p) = (
            repeated_product(cfg.beta1, t),
            repeated_product(cfg.beta2, t),
        );
        let alpha = cfg.lr * crate::sqrt::sqrtf(1.0 - b2p) / (1.0 - b1p);
        for i in 0..w.len() {
            if cfg.weight_decay != 0.0 {
                w[i] -= cfg.weight_decay * w[i];
            }
            m[i] += (g[i] - m[i]) * (1.0 - cfg.beta1);
            v[i] += (g[i] * g[i] - v[i]) * (1.0 - cfg.beta2);
            w[i] -= (m[i] * alpha) / (crate::sqrt::sqrtf(v[i]) + cfg.epsilon);
        }
    }

    #[test]
    fn powers_as_state_give_the_repeated_products_bits_over_1500_steps() {
        for cfg in [
            Adam::tf1(1e-3),
            Adam {
                weight_decay: 0.01,
                beta1: 0.5,
                beta2: 0.99,
                ..Adam::tf1(0.25)
            },
        ] {
            let (mut w, mut m, mut v) = (W0, [0.0; 6], [0.0; 6]);
            let (mut w0, mut m0, mut v0) = (W0, [0.0; 6], [0.0; 6]);
            let mut powers = BetaPowers::new(&cfg);
            for t in 1..=1500 {
                let g: Vec<f32> = (0..6).map(|i| grad(t, i)).collect();
                adam_step_f32(&cfg, &mut powers, &mut w, &g, &mut m, &mut v).unwrap();
                step_with_repeated_product(&cfg, t, &mut w0, &g, &mut m0, &mut v0);
                assert_eq!(bits(&w), bits(&w0), "w at step {t}");
                assert_eq!(
                    (bits(&m), bits(&v)),
                    (bits(&m0), bits(&v0)),
                    "m, v at step {t}"
                );
                let next = [
                    repeated_product(cfg.beta1, t + 1),
                    repeated_product(cfg.beta2, t + 1),
                ];
                assert_eq!(bits(&[powers.beta1_power, powers.beta2_power]), bits(&next));
            }
        }
    }

    // Reference: a Python transcription of TF1's AdamOptimizer (f32 beta-power variables
    // updated in `_finish`) and of the `ApplyAdamNonCuda` functor, each f32 operation computed
    // in IEEE double and rounded to f32 (double rounding is innocuous for + − × ÷ √ since
    // 53 ≥ 2·24 + 2), 12 steps, `grad` and `W0` as above:
    //
    //   f32 = lambda x: struct.unpack('<f', struct.pack('<f', x))[0]
    //   lr, b1, b2, eps, wd = map(f32, (1e-3, 0.9, 0.999, 1e-8, wd)); b1p, b2p = b1, b2
    //   for t in 1..=12:
    //     alpha = f32(f32(lr * f32(sqrt(f32(1 - b2p)))) / f32(1 - b1p))
    //     for i: if wd: w = f32(w - f32(wd * w))
    //            m = f32(m + f32(f32(g - m) * f32(1 - b1)))
    //            v = f32(v + f32(f32(f32(g * g) - v) * f32(1 - b2)))
    //            w = f32(w - f32(f32(m * alpha) / f32(f32(sqrt(v)) + eps)))
    //     b1p = f32(b1p * b1); b2p = f32(b2p * b2)
    const ADAM_W: [u32; 6] = [
        0x3efef656, 0xbf9feeb0, 0xbac2c755, 0x4040234d, 0xbbc78bc4, 0x447fffbd,
    ];
    const ADAM_M: [u32; 6] = [
        0xbd3950ac, 0xb6cbef40, 0xc1f91905, 0x32de1be2, 0xbd0facd4, 0x44095e88,
    ];
    const ADAM_V: [u32; 6] = [
        0x3c7c8e76, 0x32a4e769, 0x4492c88c, 0x28a0879c, 0x3b9be0e1, 0x48845c26,
    ];
    /// The same with `weight_decay = 0.01` (moments are unaffected by the decay).
    const ADAMW_W: [u32; 6] = [
        0x3ee1f906, 0xbf8dc1fb, 0xbab5e9c7, 0x402a5007, 0xbbaefefe, 0x4462e9e1,
    ];

    #[test]
    fn tf1_defaults_are_pythons_doubles_rounded_once_to_f32() {
        // `AdamOptimizer(learning_rate, beta1=0.9, beta2=0.999, epsilon=1e-8)`: `_prepare`
        // converts each Python double to an f32 tensor once. Hexadecimal values: Python's
        // `struct.pack('<f', value)`.
        let a = Adam::tf1(1e-4);
        assert_eq!(a.beta1.to_bits(), (0.9f64 as f32).to_bits());
        assert_eq!(a.beta1.to_bits(), 0x3f66_6666);
        assert_eq!(a.beta2.to_bits(), (0.999f64 as f32).to_bits());
        assert_eq!(a.beta2.to_bits(), 0x3f7f_be77);
        assert_eq!(a.epsilon.to_bits(), (1e-8f64 as f32).to_bits());
        assert_eq!(a.epsilon.to_bits(), 0x322b_cc77);
        assert_eq!(a.lr.to_bits(), (1e-4f64 as f32).to_bits());
        assert_eq!(a.weight_decay, 0.0);
    }

    #[test]
    fn matches_an_f32_transcription_of_tensorflow_bit_for_bit() {
        let (w, m, v) = run(&Adam::tf1(1e-3), 12);
        assert_eq!(bits(&w), ADAM_W);
        assert_eq!(bits(&m), ADAM_M);
        assert_eq!(bits(&v), ADAM_V);
        let cfg = Adam {
            weight_decay: 0.01,
            ..Adam::tf1(1e-3)
        };
        let (w, m, v) = run(&cfg, 12);
        assert_eq!(bits(&w), ADAMW_W);
        assert_eq!(bits(&m), ADAM_M);
        assert_eq!(bits(&v), ADAM_V);
    }

    #[test]
    fn beta_power_reproduces_tensorflows_f32_accumulator() {
        // Python: p = f32(beta); repeat t−1 times p = f32(p * f32(beta)).
        let cases: [(f32, u32, u32); 10] = [
            (0.9, 1, 0x3f666666),
            (0.9, 2, 0x3f4f5c28),
            (0.9, 10, 0x3eb285f8),
            (0.9, 1000, 0x00000004),
            (0.999, 1, 0x3f7fbe77),
            (0.999, 2, 0x3f7f7cff),
            (0.999, 10, 0x3f7d7397),
            (0.999, 1000, 0x3ebc4335),
            (0.999, 100_000, 0x000001f4),
            (0.999, 200_000, 0x000001f4),
        ];
        for (beta, t, want) in cases {
            assert_eq!(powers_at(beta, t).to_bits(), want, "beta {beta} t {t}");
        }
        assert_eq!(powers_at(0.0, 5), 0.0);
    }

    #[test]
    fn beta_power_stays_close_to_the_exact_power() {
        // Each multiplication rounds by at most half an ulp (2^-24 relative), so after t steps
        // the relative drift from (beta as f64)^t is at most about t · 2^-24.
        for beta in [0.9f32, 0.99, 0.999] {
            for t in 1..=200u32 {
                let exact = f64::from(beta).powi(t as i32);
                let got = f64::from(repeated_product(beta, t));
                let bound = f64::from(t) * 2f64.powi(-24) * exact;
                assert!((got - exact).abs() <= bound, "beta {beta} t {t}");
            }
        }
    }

    /// Plain f64 Adam (with TF's f32 beta-power accumulator, which is part of TF's semantics).
    fn reference(cfg: &Adam, steps: u32) -> ([f64; 6], [f64; 6], [f64; 6]) {
        let (b1, b2) = (f64::from(cfg.beta1), f64::from(cfg.beta2));
        let (lr, eps, wd) = (
            f64::from(cfg.lr),
            f64::from(cfg.epsilon),
            f64::from(cfg.weight_decay),
        );
        let mut w = W0.map(f64::from);
        let (mut m, mut v) = ([0.0f64; 6], [0.0f64; 6]);
        let (mut b1p, mut b2p) = (cfg.beta1, cfg.beta2);
        for t in 1..=steps {
            let alpha = lr * (1.0 - f64::from(b2p)).sqrt() / (1.0 - f64::from(b1p));
            for i in 0..6 {
                let g = f64::from(grad(t, i));
                w[i] -= wd * w[i];
                m[i] = b1 * m[i] + (1.0 - b1) * g;
                v[i] = b2 * v[i] + (1.0 - b2) * g * g;
                w[i] -= alpha * m[i] / (v[i].sqrt() + eps);
            }
            b1p *= cfg.beta1;
            b2p *= cfg.beta2;
        }
        (w, m, v)
    }

    fn assert_close(got: &[f32], want: &[f64], atol: f64, rtol: f64, what: &str) {
        for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
            let err = (f64::from(g) - w).abs();
            assert!(err <= atol + rtol * w.abs(), "{what}[{i}]: {g} vs {w}");
        }
    }

    #[test]
    fn tracks_an_f64_reference_over_many_steps() {
        // Tolerance |a − b| ≤ atol + rtol·|b|: per step, w rounds to half an ulp (2^-24
        // relative) and the update carries a few ulps relative; over 15 steps that is below
        // rtol = 2e-6 for w and 1e-5 for the moments (whose f32 rounding is not contracted
        // away); atol covers the entries whose gradients cancel to tiny moments.
        for cfg in [
            Adam::tf1(1e-3),
            Adam {
                weight_decay: 0.01,
                ..Adam::tf1(1e-3)
            },
            Adam {
                lr: 0.25,
                beta1: 0.5,
                beta2: 0.75,
                epsilon: 1e-3,
                weight_decay: 0.0,
            },
        ] {
            let (w, m, v) = run(&cfg, 15);
            let (rw, rm, rv) = reference(&cfg, 15);
            assert_close(&w, &rw, 1e-9, 2e-6, "w");
            assert_close(&m, &rm, 1e-12, 1e-5, "m");
            assert_close(&v, &rv, 1e-18, 1e-5, "v");
        }
    }

    #[test]
    fn first_step_moves_each_weight_by_about_lr() {
        // Hand computation: at t = 1, m = 0.1·g, v = 0.001·g², alpha = lr·√0.001/0.1, so
        // Δw = −lr·g·√0.001 / (√0.001·|g| + ε) = −lr·sign(g) for |g| ≫ ε (relative 1e-5 here).
        let lr = 0.01;
        let mut w = [1.0f32, 1.0, 1.0, 1.0];
        let g = [2.0f32, -0.5, 1e-3, 0.0];
        let (mut m, mut v) = ([0.0; 4], [0.0; 4]);
        let mut p = BetaPowers::new(&Adam::tf1(lr));
        adam_step_f32(&Adam::tf1(lr), &mut p, &mut w, &g, &mut m, &mut v).unwrap();
        let want = [1.0 - 0.01, 1.0 + 0.01, 1.0 - 0.01, 1.0];
        assert_close(&w, &want, 1e-7, 1e-5, "w");
        assert_close(&m, &[0.2, -0.05, 1e-4, 0.0], 0.0, 1e-6, "m");
        // v uses the f32 parameter: 1 − f32(0.999) = 0.000 999 987 (1.3e-5 below 0.001).
        let b2 = 1.0 - f64::from(0.999f32);
        assert_close(&v, &[4.0 * b2, 0.25 * b2, 1e-6 * b2, 0.0], 0.0, 1e-6, "v");
    }

    #[test]
    fn weight_decay_applies_to_the_old_weight_and_is_not_scaled_by_lr() {
        // lr = 0: only the decay acts, w ← w − 0.25·w exactly.
        let cfg = Adam {
            lr: 0.0,
            weight_decay: 0.25,
            ..Adam::tf1(0.0)
        };
        let mut w = [4.0f32, -2.0, 0.0];
        let (mut m, mut v) = ([0.0; 3], [0.0; 3]);
        let mut p = BetaPowers::new(&cfg);
        adam_step_f32(&cfg, &mut p, &mut w, &[1.0, 1.0, 1.0], &mut m, &mut v).unwrap();
        assert_eq!(w, [3.0, -1.5, 0.0]);
        // Without decay, lr = 0 leaves −0 and ∞ as they are (no `w − 0·w`).
        let mut w = [-0.0f32, f32::INFINITY];
        let (mut m, mut v) = ([0.0; 2], [0.0; 2]);
        let mut p = BetaPowers::new(&Adam::tf1(0.0));
        adam_step_f32(&Adam::tf1(0.0), &mut p, &mut w, &[1.0, 1.0], &mut m, &mut v).unwrap();
        assert_eq!(w[0].to_bits(), (-0.0f32).to_bits());
        assert_eq!(w[1], f32::INFINITY);
    }

    #[test]
    fn empty_slices_are_fine() {
        let mut p = BetaPowers::new(&Adam::tf1(1e-3));
        adam_step_f32(&Adam::tf1(1e-3), &mut p, &mut [], &[], &mut [], &mut []).unwrap();
    }

    #[test]
    fn invalid_config_is_rejected_and_nothing_is_written() {
        let base = Adam::tf1(1e-3);
        let bad: [(Adam, &str); 14] = [
            (Adam { lr: -1e-3, ..base }, "lr"),
            (
                Adam {
                    lr: f32::NAN,
                    ..base
                },
                "lr",
            ),
            (
                Adam {
                    lr: f32::INFINITY,
                    ..base
                },
                "lr",
            ),
            (Adam { beta1: 1.0, ..base }, "beta1"),
            (
                Adam {
                    beta1: -0.1,
                    ..base
                },
                "beta1",
            ),
            (
                Adam {
                    beta1: f32::NAN,
                    ..base
                },
                "beta1",
            ),
            (Adam { beta2: 1.0, ..base }, "beta2"),
            (
                Adam {
                    beta2: f32::NAN,
                    ..base
                },
                "beta2",
            ),
            (
                Adam {
                    epsilon: 0.0,
                    ..base
                },
                "epsilon",
            ),
            (
                Adam {
                    epsilon: -1e-8,
                    ..base
                },
                "epsilon",
            ),
            (
                Adam {
                    epsilon: f32::INFINITY,
                    ..base
                },
                "epsilon",
            ),
            (
                Adam {
                    weight_decay: -0.01,
                    ..base
                },
                "weight_decay",
            ),
            (
                Adam {
                    weight_decay: 1.0,
                    ..base
                },
                "weight_decay",
            ),
            (
                Adam {
                    weight_decay: f32::NAN,
                    ..base
                },
                "weight_decay",
            ),
        ];
        for (cfg, arg) in bad {
            let (mut w, mut m, mut v) = ([f32::NAN; 3], [f32::NAN; 3], [f32::NAN; 3]);
            let (w0, m0, v0) = (bits(&w), bits(&m), bits(&v));
            let mut p = BetaPowers::new(&base);
            let err = adam_step_f32(&cfg, &mut p, &mut w, &[1.0; 3], &mut m, &mut v);
            assert_eq!(p, BetaPowers::new(&base));
            assert_eq!(err, Err(KernelError::InvalidParam { arg }));
            assert_eq!((bits(&w), bits(&m), bits(&v)), (w0, m0, v0));
        }
    }

    #[test]
    fn bad_powers_and_wrong_lengths_are_rejected_and_nothing_is_written() {
        let cfg = Adam::tf1(1e-3);
        let (mut w, mut m, mut v) = ([1.0f32; 3], [0.5f32; 3], [0.25f32; 3]);
        let g = [1.0f32; 3];
        for (bad, arg) in [
            (
                BetaPowers {
                    beta1_power: 1.0,
                    beta2_power: 0.5,
                },
                "beta1_power",
            ),
            (
                BetaPowers {
                    beta1_power: 0.5,
                    beta2_power: f32::NAN,
                },
                "beta2_power",
            ),
            (
                BetaPowers {
                    beta1_power: -0.5,
                    beta2_power: 0.5,
                },
                "beta1_power",
            ),
        ] {
            let mut p = bad;
            assert_eq!(
                adam_step_f32(&cfg, &mut p, &mut w, &g, &mut m, &mut v),
                Err(KernelError::InvalidParam { arg })
            );
            assert_eq!(p.beta1_power.to_bits(), bad.beta1_power.to_bits());
        }
        let mut p = BetaPowers::new(&cfg);
        assert_eq!(
            adam_step_f32(&cfg, &mut p, &mut w, &g[..2], &mut m, &mut v),
            Err(KernelError::Length {
                arg: "grads",
                expected: 3,
                got: 2
            })
        );
        let mut m4 = [0.5f32; 4];
        assert_eq!(
            adam_step_f32(&cfg, &mut p, &mut w, &g, &mut m4, &mut v),
            Err(KernelError::Length {
                arg: "m",
                expected: 3,
                got: 4
            })
        );
        let mut v2 = [0.25f32; 2];
        assert_eq!(
            adam_step_f32(&cfg, &mut p, &mut w, &g, &mut m, &mut v2),
            Err(KernelError::Length {
                arg: "v",
                expected: 3,
                got: 2
            })
        );
        assert_eq!((w, m, v), ([1.0; 3], [0.5; 3], [0.25; 3]));
        assert_eq!((m4, v2), ([0.5; 4], [0.25; 2]));
        assert_eq!(p, BetaPowers::new(&cfg));
    }
}
