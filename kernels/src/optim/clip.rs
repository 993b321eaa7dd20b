//! Gradient clipping by global norm, as `tf.clip_by_global_norm`.

use super::positive;
use crate::error::KernelError;

/// Scales `grads` in place (overwrites them) so that their global L2 norm is at most
/// `clip_norm`, as `tf.clip_by_global_norm`, and returns the norm *before* clipping.
///
/// Pass every gradient of the model as one slice (or call once per contiguous gradient
/// buffer that holds them all): the norm is global over `grads`.
///
/// * **Norm.** `√(Σ g²)`, the squares summed in `f64` in index order and the root taken in
///   `f64` (`libm::sqrt`), rounded once to `f32`. TensorFlow sums in `f32` through Eigen's
///   tree reductions, whose order depends on its packet size and thread count. The squares are
///   exact in `f64` and a fixed order is deterministic on every target; the result is within
///   one `f32` ulp of the exact norm of the inputs for fewer than 2²⁹ elements, inside
///   TensorFlow's own rounding noise rather than a copy of one particular summation order.
/// * **Scale.** TensorFlow's arithmetic, in `f32`:
///   `scale = clip_norm · min(1/norm, 1/clip_norm)`, then `g = g · scale`. This is
///   `clip_norm / max(norm, clip_norm)` up to rounding, but note that when the norm is within
///   the limit the scale is `clip_norm · (1/clip_norm)`, which is 1 for most `clip_norm` and
///   one ulp below 1 for some (41, 47, 55, …): like TensorFlow, the gradients are then scaled
///   by `1 − 2⁻²⁴`, not left alone. An all-zero gradient stays zero.
/// * **Non-finite norm** (a gradient is ±∞ or NaN, or the norm exceeds `f32::MAX`): like
///   TensorFlow, every gradient is set to NaN, and the non-finite norm is returned, so a
///   caller that checks `norm.is_finite()` can skip the step; one that does not sees NaN
///   parameters rather than silently wrong ones.
///
/// An empty `grads` has norm 0.
///
/// # Errors
/// [`KernelError::InvalidParam`] (`clip_norm`) unless `clip_norm` is finite and `> 0`
/// (TensorFlow requires `> 0`); `grads` is untouched then.
pub fn clip_by_global_norm_f32(grads: &mut [f32], clip_norm: f32) -> Result<f32, KernelError> {
    positive("clip_norm", clip_norm)?;
    let mut sum_sq = 0.0f64;
    for &g in grads.iter() {
        let g = f64::from(g);
        sum_sq += g * g;
    }
    let norm = crate::sqrt::sqrt(sum_sq) as f32;
    let scale = if norm.is_finite() {
        clip_norm * (1.0 / norm).min(1.0 / clip_norm)
    } else {
        f32::NAN
    };
    for g in grads.iter_mut() {
        *g *= scale;
    }
    Ok(norm)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    #[test]
    fn hand_computed_clip_and_no_clip() {
        // [3, 4] has norm 5. clip 2.5: scale = 2.5·min(0.2, 0.4) = 0.5 (exact in f32 after
        // rounding 2.5·0.2f), so [1.5, 2].
        let mut g = [3.0f32, 4.0];
        assert_eq!(clip_by_global_norm_f32(&mut g, 2.5), Ok(5.0));
        assert_eq!(g, [1.5, 2.0]);
        // clip 10: scale = 10·(1/10) rounds to exactly 1, so nothing changes.
        let mut g = [3.0f32, 4.0];
        assert_eq!(clip_by_global_norm_f32(&mut g, 10.0), Ok(5.0));
        assert_eq!(g, [3.0, 4.0]);
        // clip exactly at the norm: scale = 5·(1/5) = 1.
        let mut g = [-3.0f32, 4.0];
        assert_eq!(clip_by_global_norm_f32(&mut g, 5.0), Ok(5.0));
        assert_eq!(g, [-3.0, 4.0]);
    }

    #[test]
    fn unclipped_scale_can_be_one_ulp_below_one_as_in_tensorflow() {
        // Python/f32: 41·f32(1/41) = 0.99999994 (1 − 2^-24). 3·that rounds to 3 − 2^-22,
        // 4·that is exactly 4 − 2^-22.
        let mut g = [3.0f32, 4.0];
        assert_eq!(clip_by_global_norm_f32(&mut g, 41.0), Ok(5.0));
        assert_eq!(g, [3.0 - 2f32.powi(-22), 4.0 - 2f32.powi(-22)]);
    }

    #[test]
    fn zero_and_empty() {
        let mut g = [0.0f32; 4];
        assert_eq!(clip_by_global_norm_f32(&mut g, 1.0), Ok(0.0));
        assert_eq!(g, [0.0; 4]);
        assert_eq!(clip_by_global_norm_f32(&mut [], 1.0), Ok(0.0));
    }

    #[test]
    fn norm_and_scale_track_an_f64_reference() {
        // 10 007 varied values; reference norm in f64, scaled values in f64.
        // Tolerance: the norm within 1 ulp (2^-23 relative), each clipped value within
        // 3·2^-24 relative (scale rounding twice plus the product) of the f64 result.
        let xs: Vec<f32> = (0..10_007)
            .map(|i| {
                ((i * 7919 % 1000) as f32 - 499.5) * 1e-3 * if i % 3 == 0 { 10.0 } else { 1.0 }
            })
            .collect();
        let exact: f64 = xs
            .iter()
            .map(|&x| f64::from(x) * f64::from(x))
            .sum::<f64>()
            .sqrt();
        let clip = 7.0f32;
        let mut g = xs.clone();
        let norm = clip_by_global_norm_f32(&mut g, clip).unwrap();
        assert!((f64::from(norm) - exact).abs() <= exact * 2f64.powi(-23));
        assert!(exact > 7.0);
        for (&got, &x) in g.iter().zip(&xs) {
            let want = f64::from(x) * 7.0 / exact;
            assert!((f64::from(got) - want).abs() <= want.abs() * 3.0 * 2f64.powi(-24) + 1e-30);
        }
        // The clipped vector's norm is clip_norm up to rounding.
        let after: f64 = g
            .iter()
            .map(|&x| f64::from(x) * f64::from(x))
            .sum::<f64>()
            .sqrt();
        assert!((after - 7.0).abs() < 7.0 * 1e-6);
    }

    #[test]
    fn large_finite_values_do_not_overflow_the_sum() {
        // 3e20² overflows f32 but not f64: the norm is 5e20 and the result is finite.
        let mut g = [3e20f32, 4e20];
        let norm = clip_by_global_norm_f32(&mut g, 1.0).unwrap();
        assert!((f64::from(norm) - 5e20).abs() <= 5e20 * 2f64.powi(-23));
        assert!((f64::from(g[0]) - 0.6).abs() < 1e-6 && (f64::from(g[1]) - 0.8).abs() < 1e-6);
    }

    #[test]
    fn non_finite_norm_sets_every_gradient_to_nan_as_tensorflow() {
        for bad in [f32::INFINITY, f32::NEG_INFINITY, f32::NAN] {
            let mut g = [1.0f32, bad, -2.0];
            let norm = clip_by_global_norm_f32(&mut g, 1.0).unwrap();
            assert!(!norm.is_finite());
            assert!(g.iter().all(|x| x.is_nan()));
        }
        // A finite vector whose norm exceeds f32::MAX: the norm is +∞, gradients NaN.
        let mut g = [f32::MAX, f32::MAX];
        assert_eq!(clip_by_global_norm_f32(&mut g, 1.0), Ok(f32::INFINITY));
        assert!(g.iter().all(|x| x.is_nan()));
    }

    #[test]
    fn invalid_clip_norm_leaves_grads_untouched() {
        for c in [0.0f32, -1.0, f32::NAN, f32::INFINITY, -0.0] {
            let mut g = [3.0f32, 4.0];
            assert_eq!(
                clip_by_global_norm_f32(&mut g, c),
                Err(KernelError::InvalidParam { arg: "clip_norm" })
            );
            assert_eq!(g, [3.0, 4.0]);
        }
    }
}
