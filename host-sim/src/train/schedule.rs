//! The learning rate at each step.

use crate::cli::LrSchedule;

/// The learning rate of step `step` (0-based) of a `steps`-step run starting at `lr`.
///
/// Cosine decays from `lr` at step 0 towards 0 at step `steps` (never reached: the last step
/// still moves), as `tf.compat.v1.train.cosine_decay` with `alpha = 0`.
pub fn learning_rate(schedule: LrSchedule, lr: f32, step: u64, steps: u64) -> f32 {
    match schedule {
        LrSchedule::Constant => lr,
        LrSchedule::Cosine => {
            let progress = step.min(steps) as f64 / steps.max(1) as f64;
            (f64::from(lr) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())) as f32
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_is_constant() {
        assert_eq!(learning_rate(LrSchedule::Constant, 0.5, 7, 10), 0.5);
    }

    #[test]
    fn cosine_starts_at_lr_halves_midway_and_ends_near_zero() {
        assert_eq!(learning_rate(LrSchedule::Cosine, 0.5, 0, 10), 0.5);
        assert!((learning_rate(LrSchedule::Cosine, 0.5, 5, 10) - 0.25).abs() < 1e-7);
        // Step 9 of 10: 0.5·0.5·(1 + cos(0.9π)) = 0.25·(1 − 0.951057) = 0.0122359
        let last = learning_rate(LrSchedule::Cosine, 0.5, 9, 10);
        assert!((last - 0.012_235_87).abs() < 1e-7, "{last}");
    }
}
