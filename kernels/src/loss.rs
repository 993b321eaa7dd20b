//! Losses and their gradients: the seed's confidence-weighted absolute error, the mean squared
//! error, and softmax cross-entropy over integer class labels.
//!
//! Each returns the loss and overwrites `d_pred` with `∂loss/∂pred` in one pass. The sum runs in
//! ascending index order in f32 (TensorFlow's `reduce_sum` uses a tree, so the loss may differ
//! from TensorFlow's in the last bits); each gradient is rounded exactly as TensorFlow's
//! graph gradient rounds it (see each function).

use crate::error::{check_len, nonzero, KernelError};

/// Validates the shared arguments, returning `1 / mean_over` as TensorFlow's `_MeanGrad`
/// rounds it.
fn check(
    pred: &[f32],
    target: &[f32],
    confidence: Option<&[f32]>,
    mean_over: usize,
    d_pred: &[f32],
) -> Result<f32, KernelError> {
    nonzero("pred", pred.len())?;
    nonzero("mean_over", mean_over)?;
    let n = pred.len();
    check_len("target", n, target.len())?;
    if let Some(c) = confidence {
        check_len("confidence", n, c.len())?;
    }
    check_len("d_pred", n, d_pred.len())?;
    Ok(1.0 / mean_over as f32)
}

/// `sign(x)` as TensorFlow's `Sign`: −1, 0 or 1, NaN for NaN.
#[inline(always)]
fn sign(x: f32) -> f32 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        // 0 for ±0, NaN stays NaN.
        x * 0.0
    }
}

/// The seed's loss, `Σ_i c_i·|p_i − y_i| / mean_over`; overwrites `d_pred` with its gradient
/// `d_pred[i] = (1/mean_over · c_i) · sign(p_i − y_i)` and returns the loss.
///
/// With `mean_over` = the batch size this is `tf.reduce_mean(confidence * tf.abs(pred − y))`;
/// pass a larger `mean_over` to split a batch into micro-batches whose gradients add up.
/// The gradient is rounded as TensorFlow's graph rounds it (`1/B` first, times `c`, times the
/// sign). At `p == y` it is 0: `tf.abs`'s registered gradient is `grad · sign(x)`, also 0 there
/// (a loss written as `sqrt(x²)` would give NaN in TensorFlow; this one never does). NaN in
/// `pred` or `target` gives a NaN loss and NaN gradient for that element, as in TensorFlow.
///
/// # Errors
/// [`KernelError::Zero`] naming `pred` if it is empty or `mean_over` if 0;
/// [`KernelError::Length`] naming `target`, `confidence` or `d_pred` when its length differs
/// from `pred`'s. Nothing is written on error.
pub fn weighted_abs_error_f32(
    pred: &[f32],
    target: &[f32],
    confidence: &[f32],
    mean_over: usize,
    d_pred: &mut [f32],
) -> Result<f32, KernelError> {
    let inv = check(pred, target, Some(confidence), mean_over, d_pred)?;
    let mut sum = 0.0f32;
    for (((&p, &y), &c), d) in pred.iter().zip(target).zip(confidence).zip(d_pred) {
        let diff = p - y;
        sum += c * diff.abs();
        *d = inv * c * sign(diff);
    }
    Ok(sum / mean_over as f32)
}

/// Mean squared error, `Σ_i (p_i − y_i)² / mean_over`; overwrites `d_pred` with
/// `d_pred[i] = 1/mean_over · ((p_i − y_i) · 2)` (TensorFlow's `_MeanGrad` then `_SquareGrad`
/// rounding) and returns the loss.
///
/// # Errors
/// [`KernelError::Zero`] naming `pred` if it is empty or `mean_over` if 0;
/// [`KernelError::Length`] naming `target` or `d_pred` when its length differs from `pred`'s.
/// Nothing is written on error.
pub fn mse_f32(
    pred: &[f32],
    target: &[f32],
    mean_over: usize,
    d_pred: &mut [f32],
) -> Result<f32, KernelError> {
    let inv = check(pred, target, None, mean_over, d_pred)?;
    let mut sum = 0.0f32;
    for ((&p, &y), d) in pred.iter().zip(target).zip(d_pred) {
        let diff = p - y;
        sum += diff * diff;
        *d = inv * (diff * 2.0);
    }
    Ok(sum / mean_over as f32)
}

/// Softmax cross-entropy over integer labels, `Σ_i (log Σ_j e^{z_ij} − z_i,label_i) / mean_over`,
/// as `tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)) /
/// mean_over` (`tf.reduce_mean` when `mean_over` is the batch); overwrites `d_logits` with its
/// gradient `(1/mean_over) · (softmax(z_i)_j − [j = label_i])` and returns the loss.
///
/// `logits` holds one row of `classes` values per example. Each row is shifted by its maximum
/// before `exp` (TensorFlow's Eigen kernel does the same), so large logits do not overflow.
/// `exp` and `log` are libm's; TensorFlow's vectorised `exp` may differ in the last bit.
///
/// # Errors
/// [`KernelError::Zero`] naming `logits` if it is empty, `classes` or `mean_over` if 0;
/// [`KernelError::Length`] naming `logits` when it is not `labels.len()` rows of `classes`,
/// or `d_logits` when its length differs from `logits`'; [`KernelError::InvalidParam`]
/// naming `labels` when a label is `classes` or more. Nothing is written on error.
pub fn softmax_cross_entropy_f32(
    logits: &[f32],
    classes: usize,
    labels: &[u32],
    mean_over: usize,
    d_logits: &mut [f32],
) -> Result<f32, KernelError> {
    nonzero("logits", logits.len())?;
    nonzero("classes", classes)?;
    nonzero("mean_over", mean_over)?;
    let rows = crate::error::mul("logits", labels.len(), classes)?;
    check_len("logits", rows, logits.len())?;
    check_len("d_logits", logits.len(), d_logits.len())?;
    if labels.iter().any(|&l| l as usize >= classes) {
        return Err(KernelError::InvalidParam { arg: "labels" });
    }
    let inv = 1.0 / mean_over as f32;
    let mut sum = 0.0f32;
    for ((z, d), &label) in logits
        .chunks_exact(classes)
        .zip(d_logits.chunks_exact_mut(classes))
        .zip(labels)
    {
        let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum_exp = 0.0f32;
        for (d, &v) in d.iter_mut().zip(z) {
            *d = libm::expf(v - max);
            sum_exp += *d;
        }
        sum += libm::logf(sum_exp) - (z[label as usize] - max);
        for (j, d) in d.iter_mut().enumerate() {
            let hot = if j == label as usize { 1.0 } else { 0.0 };
            *d = inv * (*d / sum_exp - hot);
        }
    }
    Ok(sum / mean_over as f32)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::test_data::uniform_f32;
    use std::vec;
    use std::vec::Vec;

    fn wabs_ref(p: &[f64], y: &[f64], c: &[f64], m: f64) -> f64 {
        p.iter()
            .zip(y)
            .zip(c)
            .map(|((p, y), c)| c * (p - y).abs())
            .sum::<f64>()
            / m
    }

    fn mse_ref(p: &[f64], y: &[f64], m: f64) -> f64 {
        p.iter().zip(y).map(|(p, y)| (p - y) * (p - y)).sum::<f64>() / m
    }

    fn to64(v: &[f32]) -> Vec<f64> {
        v.iter().map(|&a| f64::from(a)).collect()
    }

    #[test]
    fn hand_computed_values() {
        // p − y = [0.5, −1, 0], c = [2, 1, 3], B = 2: loss = (1 + 1 + 0)/2 = 1,
        // d = [2·1, 1·(−1), 0]/2 = [1, −0.5, 0].
        let mut d = [f32::NAN; 3];
        let l = weighted_abs_error_f32(
            &[1.0, 0.0, 0.25],
            &[0.5, 1.0, 0.25],
            &[2.0, 1.0, 3.0],
            2,
            &mut d,
        )
        .unwrap();
        assert_eq!(l, 1.0);
        assert_eq!(d, [1.0, -0.5, 0.0]);
        // MSE: (0.25 + 1 + 0)/2 = 0.625, d = 2·[0.5, −1, 0]/2 = [0.5, −1, 0].
        let l = mse_f32(&[1.0, 0.0, 0.25], &[0.5, 1.0, 0.25], 2, &mut d).unwrap();
        assert_eq!(l, 0.625);
        assert_eq!(d, [0.5, -1.0, 0.0]);
    }

    #[test]
    fn losses_match_f64_reference_and_finite_differences() {
        // Reference: the f64 losses; central differences with h = 1e-4 on elements with
        // |p − y| > 1e-3 (both losses are smooth there). Tolerances: loss 1e-6 + 1e-5·|b|,
        // gradient 1e-6 + 1e-4·|fd|.
        for (n, &(len, m)) in [(1usize, 1usize), (7, 7), (64, 64), (33, 100)]
            .iter()
            .enumerate()
        {
            let p = uniform_f32(n as u64, len, -1.0, 1.0);
            let y = uniform_f32(10 + n as u64, len, -1.0, 1.0);
            let c = uniform_f32(20 + n as u64, len, 0.0, 1.0);
            let (p64, y64, c64) = (to64(&p), to64(&y), to64(&c));
            let mf = m as f64;
            let mut d = vec![f32::NAN; len];
            let l = weighted_abs_error_f32(&p, &y, &c, m, &mut d).unwrap();
            let want = wabs_ref(&p64, &y64, &c64, mf);
            assert!((f64::from(l) - want).abs() <= 1e-6 + 1e-5 * want.abs());
            let mut dm = vec![f32::NAN; len];
            let lm = mse_f32(&p, &y, m, &mut dm).unwrap();
            let want_m = mse_ref(&p64, &y64, mf);
            assert!((f64::from(lm) - want_m).abs() <= 1e-6 + 1e-5 * want_m.abs());
            let h = 1e-4;
            for i in 0..len {
                if (p64[i] - y64[i]).abs() <= 1e-3 {
                    continue;
                }
                let (mut pp, mut pm) = (p64.clone(), p64.clone());
                pp[i] += h;
                pm[i] -= h;
                let fd =
                    (wabs_ref(&pp, &y64, &c64, mf) - wabs_ref(&pm, &y64, &c64, mf)) / (2.0 * h);
                assert!(
                    (f64::from(d[i]) - fd).abs() <= 1e-6 + 1e-4 * fd.abs(),
                    "wabs {i}"
                );
                let fd = (mse_ref(&pp, &y64, mf) - mse_ref(&pm, &y64, mf)) / (2.0 * h);
                assert!(
                    (f64::from(dm[i]) - fd).abs() <= 1e-6 + 1e-4 * fd.abs(),
                    "mse {i}"
                );
            }
        }
    }

    #[test]
    fn gradient_is_zero_at_equality_and_nan_for_nan() {
        let mut d = [f32::NAN; 3];
        let l = weighted_abs_error_f32(
            &[0.5, f32::NAN, 1.0],
            &[0.5, 0.0, 1.0],
            &[1.0; 3],
            3,
            &mut d,
        )
        .unwrap();
        assert!(l.is_nan());
        assert_eq!((d[0], d[2]), (0.0, 0.0));
        assert!(d[1].is_nan());
    }

    #[test]
    fn gradient_rounding_is_tensorflows() {
        // (1/3 · c) · sign, not c/3: pick c where the two roundings differ.
        let c = (1..1000)
            .map(|k| 1.0 + k as f32 / 1024.0)
            .find(|&c| (1.0f32 / 3.0) * c != c / 3.0)
            .unwrap();
        let mut d = [f32::NAN; 1];
        weighted_abs_error_f32(&[1.0], &[0.0], &[c], 3, &mut d).unwrap();
        assert_eq!(d[0].to_bits(), ((1.0f32 / 3.0) * c).to_bits());
    }

    #[test]
    fn errors_leave_d_pred_untouched() {
        let mut d = [7.0f32; 3];
        let v = [1.0f32; 4];
        let len = |arg, expected, got| Err(KernelError::Length { arg, expected, got });
        assert_eq!(
            weighted_abs_error_f32(&v[..3], &v, &v[..3], 3, &mut d),
            len("target", 3, 4)
        );
        assert_eq!(
            weighted_abs_error_f32(&v[..3], &v[..3], &v[..2], 3, &mut d),
            len("confidence", 3, 2)
        );
        assert_eq!(
            weighted_abs_error_f32(&v, &v, &v, 4, &mut d),
            len("d_pred", 4, 3)
        );
        assert_eq!(
            weighted_abs_error_f32(&v[..3], &v[..3], &v[..3], 0, &mut d),
            Err(KernelError::Zero { arg: "mean_over" })
        );
        assert_eq!(
            weighted_abs_error_f32(&[], &[], &[], 1, &mut []),
            Err(KernelError::Zero { arg: "pred" })
        );
        assert_eq!(mse_f32(&v[..3], &v, 3, &mut d), len("target", 3, 4));
        assert_eq!(mse_f32(&v, &v, 4, &mut d), len("d_pred", 4, 3));
        assert_eq!(
            mse_f32(&v[..3], &v[..3], 0, &mut d),
            Err(KernelError::Zero { arg: "mean_over" })
        );
        assert!(d.iter().all(|&x| x == 7.0));
    }

    #[test]
    fn cross_entropy_by_hand_and_with_huge_logits() {
        // Two classes, logits (0, ln 3): softmax (1/4, 3/4); label 1: loss ln(4/3), gradient
        // (1/4, −1/4) / mean_over.
        let z = [0.0f32, 3.0f32.ln()];
        let mut d = [f32::NAN; 2];
        let loss = softmax_cross_entropy_f32(&z, 2, &[1], 2, &mut d).unwrap();
        assert!((f64::from(loss) - (4.0f64 / 3.0).ln() / 2.0).abs() < 1e-7);
        assert!(
            (d[0] - 0.125).abs() < 1e-7 && (d[1] + 0.125).abs() < 1e-7,
            "{d:?}"
        );
        // Logits of 1000 would overflow exp without the max shift: the answer is that of (0, 1).
        let mut big = [f32::NAN; 2];
        let l_big = softmax_cross_entropy_f32(&[1000.0, 1001.0], 2, &[0], 1, &mut big).unwrap();
        let mut small = [f32::NAN; 2];
        let l_small = softmax_cross_entropy_f32(&[0.0, 1.0], 2, &[0], 1, &mut small).unwrap();
        assert_eq!((l_big, big), (l_small, small));
        assert!((f64::from(l_small) - (1.0 + 1f64.exp()).ln()).abs() < 1e-6);
    }

    #[test]
    fn cross_entropy_errors_leave_d_logits_untouched() {
        let mut d = [7.0f32; 6];
        let z = [0.5f32; 6];
        let ce = |z: &[f32], k, labels: &[u32], m, d: &mut [f32]| {
            softmax_cross_entropy_f32(z, k, labels, m, d)
        };
        assert_eq!(
            ce(&z, 3, &[0, 1, 2], 3, &mut d),
            Err(KernelError::Length {
                arg: "logits",
                expected: 9,
                got: 6
            })
        );
        assert_eq!(
            ce(&z, 3, &[0, 3], 2, &mut d),
            Err(KernelError::InvalidParam { arg: "labels" })
        );
        assert_eq!(
            ce(&z, 3, &[0, 1], 2, &mut d[..5]),
            Err(KernelError::Length {
                arg: "d_logits",
                expected: 6,
                got: 5
            })
        );
        assert_eq!(
            ce(&z, 0, &[], 2, &mut d),
            Err(KernelError::Zero { arg: "classes" })
        );
        assert_eq!(
            ce(&z, 3, &[0, 1], 0, &mut d),
            Err(KernelError::Zero { arg: "mean_over" })
        );
        assert_eq!(
            ce(&[], 3, &[], 1, &mut []),
            Err(KernelError::Zero { arg: "logits" })
        );
        assert!(d.iter().all(|&x| x == 7.0));
    }
}
