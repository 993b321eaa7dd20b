//! Held-out evaluation: the confidence-weighted absolute error, and the best constant predictor's;
//! for classification networks, the accuracy and the most frequent class's share.

use anyhow::Result;
use kernels::net::Net;
use kernels::Backend;
use rayon::ThreadPool;

use crate::summary::diagnosis::HeldOut;

use super::data::{classes_of, Batch, Source};

/// Held-out error of the network and of the best constant predictor, `batch` frames per
/// forward pass — for a classification network the error rate `1 − accuracy` and the most
/// frequent class's (no confidence, so the loss chart draws no held-out lines) — `None` without
/// held-out frames.
///
/// # Errors
/// A held-out frame that cannot be read, or a forward pass the network refuses.
pub fn held_out(
    net: &mut Net<'_>,
    gemm: &dyn Backend,
    source: &Source,
    pool: &ThreadPool,
    batch: usize,
    frame_len: usize,
) -> Result<Option<HeldOut>> {
    let total = source.held_out_len();
    if total == 0 {
        return Ok(None);
    }
    let (mut pred, mut all) = (Vec::new(), Batch::default());
    let mut b = Batch::default();
    let mut start = 0;
    while start < total {
        let n = batch.min(total - start);
        pool.install(|| source.fill_held_out(start, n, &mut b))?;
        pred.extend_from_slice(net.forward_inputs(gemm, b.inputs(0..n, frame_len), &mut ())?);
        all.extend(&b);
        start += n;
    }
    if let Some(k) = classes_of(&net.plan().network) {
        return Ok(Some(HeldOut {
            error: 1.0 - accuracy(&pred, k, &all.labels),
            constant_error: 1.0 - majority_share(&all.labels),
            mean_confidence: f64::NAN,
            classes: Some(k),
        }));
    }
    let (target, confidence) = (all.target, all.confidence);
    let constant = weighted_median(&target, &confidence);
    let mean_confidence =
        confidence.iter().map(|&c| f64::from(c)).sum::<f64>() / confidence.len().max(1) as f64;
    Ok(Some(HeldOut {
        error: weighted_abs_error(&pred, &target, &confidence),
        constant_error: weighted_abs_error(&vec![constant; target.len()], &target, &confidence),
        mean_confidence,
        classes: None,
    }))
}

/// `Σ c·|p − y| / Σ c`: the seed's loss normalised by the total confidence, so a predictor's
/// error reads in valence units.
///
/// # Panics
/// If the slices' lengths differ.
pub fn weighted_abs_error(pred: &[f32], target: &[f32], confidence: &[f32]) -> f64 {
    assert!(pred.len() == target.len() && target.len() == confidence.len());
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for ((&p, &y), &c) in pred.iter().zip(target).zip(confidence) {
        num += f64::from(c) * (f64::from(p) - f64::from(y)).abs();
        den += f64::from(c);
    }
    if den > 0.0 {
        num / den
    } else {
        0.0
    }
}

/// The confidence-weighted median of `target`: the constant that minimises
/// [`weighted_abs_error`] over these examples (the lower weighted median).
///
/// # Panics
/// If the slices' lengths differ or are empty.
pub fn weighted_median(target: &[f32], confidence: &[f32]) -> f32 {
    assert!(!target.is_empty() && target.len() == confidence.len());
    let mut pairs: Vec<(f32, f32)> = target
        .iter()
        .copied()
        .zip(confidence.iter().copied())
        .collect();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = pairs.iter().map(|p| f64::from(p.1)).sum();
    let mut acc = 0.0;
    for &(y, c) in &pairs {
        acc += f64::from(c);
        if acc >= total / 2.0 {
            return y;
        }
    }
    pairs[pairs.len() - 1].0
}

/// The share of examples whose largest logit (the first on ties, as `tf.argmax`) is their
/// label; `logits` holds `classes` values per example.
///
/// # Panics
/// If `logits` is not `labels.len() × classes` long.
pub fn accuracy(logits: &[f32], classes: usize, labels: &[u32]) -> f64 {
    assert_eq!(logits.len(), labels.len() * classes);
    let right = logits
        .chunks_exact(classes)
        .zip(labels)
        .filter(|(l, &y)| argmax(l) == y as usize)
        .count();
    right as f64 / labels.len().max(1) as f64
}

/// The index of the largest of `logits`, the first on ties (as `tf.argmax`); 0 when empty.
pub fn argmax(logits: &[f32]) -> usize {
    logits
        .iter()
        .enumerate()
        .fold(0, |b, (k, &v)| if v > logits[b] { k } else { b })
}

/// The accuracy of the best constant predictor: the most frequent label's share.
pub fn majority_share(labels: &[u32]) -> f64 {
    let mut counts = std::collections::HashMap::new();
    for &y in labels {
        *counts.entry(y).or_insert(0usize) += 1;
    }
    counts
        .values()
        .max()
        .map_or(0.0, |&n| n as f64 / labels.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_error_by_hand() {
        // (1·0.5 + 3·0.25) / 4 = 0.3125
        assert_eq!(
            weighted_abs_error(&[0.0, 0.0], &[0.5, -0.25], &[1.0, 3.0]),
            0.3125
        );
    }

    #[test]
    fn weighted_median_minimises_the_weighted_error() {
        let y = [-0.9, -0.2, 0.1, 0.4, 0.8];
        let c = [0.1, 0.2, 0.3, 0.9, 0.2];
        let m = weighted_median(&y, &c);
        // Cumulative weights 0.1, 0.3, 0.6, 1.5 of 1.7: the median is 0.4.
        assert_eq!(m, 0.4);
        let at = |v: f32| weighted_abs_error(&[v; 5], &y, &c);
        for k in -100..=100 {
            let v = k as f32 / 100.0;
            assert!(at(m) <= at(v) + 1e-12, "constant {v} beats the median");
        }
    }

    #[test]
    fn accuracy_counts_argmax_hits_first_on_ties() {
        // Example 0: argmax 1 (label 1, right); example 1: a tie between 0 and 2 → 0 (label 2,
        // wrong); example 2: argmax 2 (label 2, right).
        let logits = [0.1, 0.9, 0.0, 0.5, 0.2, 0.5, -1.0, -2.0, 3.0];
        assert_eq!(accuracy(&logits, 3, &[1, 2, 2]), 2.0 / 3.0);
        assert_eq!(majority_share(&[1, 2, 2, 0]), 0.5);
        assert_eq!(majority_share(&[]), 0.0);
    }
}
