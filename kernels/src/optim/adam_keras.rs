//! Adam as Keras 3 computes it (`tf.keras.optimizers.Adam`, what TensorFlow 2 users train
//! with): the same algorithm as [`super::adam`], rounded differently in the last bits.

use super::adam::Update;
use super::{positive, unit_interval};
use crate::error::{check_len, KernelError};
use crate::{Exec, Portable};

/// Keras 3 Adam's hyper-parameters, held as Keras holds them.
///
/// Keras keeps `beta_1`, `beta_2` and `epsilon` as Python floats (doubles) and converts each
/// expression that uses them to `f32` only where it meets a tensor, so they are `f64` here:
/// `1 − beta_1` is rounded once from the double (TensorFlow 1 subtracts from the `f32` β),
/// and the power's base is `f32(beta_1)`. The learning rate is an `f32` variable in Keras.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AdamKeras {
    /// Learning rate, finite and `>= 0`.
    pub lr: f32,
    /// Keras's `beta_1`, `0 <= beta1 < 1`.
    pub beta1: f64,
    /// Keras's `beta_2`, `0 <= beta2 < 1`.
    pub beta2: f64,
    /// Keras's `epsilon`, finite and `> 0` as an `f32`.
    pub epsilon: f64,
}

impl AdamKeras {
    /// Keras 3's defaults: `beta_1 = 0.9`, `beta_2 = 0.999`, `epsilon = 1e-7` (TensorFlow 1's
    /// `AdamOptimizer` uses `1e-8`).
    pub const fn keras(lr: f32) -> Self {
        Self {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-7,
        }
    }

    /// Checks every field against its documented range.
    ///
    /// # Errors
    /// [`KernelError::InvalidParam`] naming the first offending field (`lr`, `beta1`, `beta2`,
    /// `epsilon`); NaN and infinities are always rejected.
    pub fn check(&self) -> Result<(), KernelError> {
        super::non_negative("lr", self.lr)?;
        // The f64 range test, then the f32 one: a β just below 1 must not round up to 1.
        for (arg, beta) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&beta) {
                return Err(KernelError::InvalidParam { arg });
            }
            unit_interval(arg, beta as f32)?;
        }
        positive("epsilon", self.epsilon as f32)
    }
}

/// One Keras 3 Adam step (`Adam.update_step`) on a flat parameter slice; `step` is Keras's
/// `iterations + 1`, 1 on the first call.
///
/// Keras evaluates, eagerly, one TensorFlow op at a time in `f32` (no fused multiply-add),
/// with `t = f32(step)`:
///
/// ```text
/// b1ᵗ   = pow(f32(beta_1), t),   b2ᵗ = pow(f32(beta_2), t)
/// alpha = lr · √(1 − b2ᵗ) / (1 − b1ᵗ)
/// m     = m + (g − m) · f32(1 − beta_1)        (1 − beta_1 in double, then rounded)
/// v     = v + (g² − v) · f32(1 − beta_2)
/// w     = w − (m · alpha) / (√v + f32(epsilon))
/// ```
///
/// The power is computed in double (libm's `pow`) and rounded once to `f32`; no state but the
/// moments is kept and the cost does not depend on `step`. TensorFlow's `Pow` calls glibc's
/// `powf`, which is not always correctly rounded: measured against glibc 2.36 for β ∈ {0.5,
/// 0.9, 0.95, 0.99, 0.999} and every t ≤ 200 000, the two powers differ by one ulp at 0.3 % of
/// the steps, but `1 − βᵗ`, all that Adam uses, differs at only two of the million (β = 0.999,
/// t = 2958 and 3606), where the step size differs by an ulp. (libm's own `powf` is a
/// different algorithm and already differs at β = 0.9, t = 3.)
///
/// # Errors
/// Nothing is written when an error is returned.
/// * [`KernelError::InvalidParam`] if `cfg` is out of range (see [`AdamKeras::check`]).
/// * [`KernelError::Zero`] (`step`) if `step == 0`.
/// * [`KernelError::Length`] naming `grads`, `m` or `v` if its length differs from
///   `params.len()`.
pub fn adam_keras_step_f32(
    cfg: &AdamKeras,
    step: u32,
    params: &mut [f32],
    grads: &[f32],
    m: &mut [f32],
    v: &mut [f32],
) -> Result<(), KernelError> {
    adam_keras_step_f32_with(&Portable, cfg, step, params, grads, m, v)
}

/// [`adam_keras_step_f32`] with the elements spread by `exec` ([`Exec::map_lanes`]): every
/// element is updated alone, so any split gives the same bits.
///
/// # Errors
/// As [`adam_keras_step_f32`]; nothing is written then.
pub fn adam_keras_step_f32_with<E: Exec + ?Sized>(
    exec: &E,
    cfg: &AdamKeras,
    step: u32,
    params: &mut [f32],
    grads: &[f32],
    m: &mut [f32],
    v: &mut [f32],
) -> Result<(), KernelError> {
    cfg.check()?;
    if step == 0 {
        return Err(KernelError::Zero { arg: "step" });
    }
    let n = params.len();
    check_len("grads", n, grads.len())?;
    check_len("m", n, m.len())?;
    check_len("v", n, v.len())?;

    let (beta1_power, beta2_power) = (power(cfg.beta1, step), power(cfg.beta2, step));
    Update {
        alpha: cfg.lr * crate::sqrt::sqrtf(1.0 - beta2_power) / (1.0 - beta1_power),
        one_minus_beta1: (1.0 - cfg.beta1) as f32,
        one_minus_beta2: (1.0 - cfg.beta2) as f32,
        epsilon: cfg.epsilon as f32,
        decay: 0.0,
    }
    .apply(exec, params, grads, m, v);
    Ok(())
}

/// Keras's `ops.power(ops.cast(beta, float32), ops.cast(iterations + 1, float32))`: `step` is
/// rounded to the nearest f32 as the cast does, and the power is computed in double and
/// rounded once (see [`adam_keras_step_f32`] for how that compares with glibc's `powf`).
fn power(beta: f64, step: u32) -> f32 {
    libm::pow(f64::from(beta as f32), f64::from(step as f32)) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keras_defaults_round_as_keras_rounds_them() {
        // Keras 3's `Adam(beta_1=0.9, beta_2=0.999, epsilon=1e-7)`: Python doubles, rounded
        // to f32 where they meet f32 tensors. `1 - 0.9` is the double 0.099 999 999 999 999 98,
        // which rounds to 0x3dcccccd; `1 - 0.999` to 0x3a83126f. TF1 subtracts from the f32 β:
        // 1 − f32(0.9) = 0x3dccccd0 and 1 − f32(0.999) = 0x3a831200.
        // Hexadecimal values: Python's `struct.pack('<f', value)`.
        let k = AdamKeras::keras(1e-3);
        assert_eq!(((1.0 - k.beta1) as f32).to_bits(), 0x3dcc_cccd);
        assert_eq!(((1.0 - k.beta2) as f32).to_bits(), 0x3a83_126f);
        assert_eq!((k.epsilon as f32).to_bits(), 0x33d6_bf95);
        assert_eq!((k.beta1 as f32).to_bits(), 0x3f66_6666);
        assert_eq!((k.beta2 as f32).to_bits(), 0x3f7f_be77);
        assert_eq!((1.0 - 0.9f32).to_bits(), 0x3dcc_ccd0);
        assert_eq!((1.0 - 0.999f32).to_bits(), 0x3a83_1200);
    }

    #[test]
    fn powers_are_glibcs_powf() {
        // glibc 2.36's `powf(f32(beta), t)` through Python's ctypes, as TensorFlow's `Pow` calls
        // it; t = 3 at β = 0.9 is where libm's `powf` is an ulp above.
        let cases: [(f64, u32, u32); 6] = [
            (0.9, 3, 0x3f3a_9fbd),
            (0.9, 9, 0x3ec6_5bf7),
            (0.999, 3, 0x3f7f_3b97),
            (0.999, 9, 0x3f7d_b48a),
            (0.999, 1000, 0x3ebc_4332),
            (0.999, 100_000, 0x0000_0019),
        ];
        for (beta, t, want) in cases {
            assert_eq!(power(beta, t).to_bits(), want, "beta {beta} t {t}");
        }
    }

    #[test]
    fn invalid_config_and_step_zero_are_rejected_and_nothing_is_written() {
        let base = AdamKeras::keras(1e-3);
        for (cfg, arg) in [
            (AdamKeras { lr: -1.0, ..base }, "lr"),
            (
                AdamKeras {
                    lr: f32::NAN,
                    ..base
                },
                "lr",
            ),
            (AdamKeras { beta1: 1.0, ..base }, "beta1"),
            // Below 1 as a double, 1 as an f32.
            (
                AdamKeras {
                    beta1: 1.0 - 1e-12,
                    ..base
                },
                "beta1",
            ),
            (
                AdamKeras {
                    beta2: f64::NAN,
                    ..base
                },
                "beta2",
            ),
            (
                AdamKeras {
                    epsilon: 0.0,
                    ..base
                },
                "epsilon",
            ),
            (
                AdamKeras {
                    epsilon: 1e-50,
                    ..base
                },
                "epsilon",
            ),
            (
                AdamKeras {
                    epsilon: 1e300,
                    ..base
                },
                "epsilon",
            ),
        ] {
            let (mut w, mut m, mut v) = ([1.0f32; 2], [0.5f32; 2], [0.25f32; 2]);
            let err = adam_keras_step_f32(&cfg, 1, &mut w, &[1.0; 2], &mut m, &mut v);
            assert_eq!(err, Err(KernelError::InvalidParam { arg }));
            assert_eq!((w, m, v), ([1.0; 2], [0.5; 2], [0.25; 2]));
        }
        let (mut w, mut m, mut v) = ([1.0f32; 2], [0.5f32; 2], [0.25f32; 2]);
        assert_eq!(
            adam_keras_step_f32(&base, 0, &mut w, &[1.0; 2], &mut m, &mut v),
            Err(KernelError::Zero { arg: "step" })
        );
        assert_eq!(
            adam_keras_step_f32(&base, 1, &mut w, &[1.0; 3], &mut m, &mut v),
            Err(KernelError::Length {
                arg: "grads",
                expected: 2,
                got: 3
            })
        );
        assert_eq!((w, m, v), ([1.0; 2], [0.5; 2], [0.25; 2]));
    }

    #[test]
    fn first_step_moves_each_weight_by_about_lr() {
        // Hand computation: at t = 1, m = 0.1·g, v = 0.001·g², alpha = lr·√0.001/0.1, so
        // Δw = −lr·g·√0.001 / (√0.001·|g| + ε) ≈ −lr·sign(g) for |g| ≫ ε (relative 1e-4).
        let lr = 0.01;
        let mut w = [1.0f32, 1.0, 1.0];
        let (mut m, mut v) = ([0.0; 3], [0.0; 3]);
        adam_keras_step_f32(
            &AdamKeras::keras(lr),
            1,
            &mut w,
            &[2.0, -0.5, 0.0],
            &mut m,
            &mut v,
        )
        .unwrap();
        for (got, want) in w.iter().zip([0.99f32, 1.01, 1.0]) {
            assert!((got - want).abs() <= 1e-6, "{got} vs {want}");
        }
    }
}
