//! [`HistogramObserver`]: the activation histograms and dead-ReLU counts of a summary step.

use kernels::histogram::Histogram;
use kernels::net::{Observer, Probe, Stage, MAX_LAYERS};
use rayon::ThreadPool;

use super::fill::fill;

/// What one probe saw during a summary step (all forward passes of the step added up).
#[derive(Debug, Clone)]
pub struct ProbeStats {
    /// Every value the probe saw; NaN and ±inf are only counted ([`Histogram::non_finite`]).
    pub hist: Box<Histogram>,
    /// Values seen, finite or not.
    pub size: u64,
    /// Exact zeros seen (`0.0` or `-0.0`).
    pub zeros: u64,
}

impl ProbeStats {
    /// Fraction of exact zeros: after a ReLU, the units that are off ("dead") for these inputs.
    pub fn zero_fraction(&self) -> f64 {
        if self.size == 0 {
            0.0
        } else {
            self.zeros as f64 / self.size as f64
        }
    }
}

/// An [`Observer`] that histograms every probed tensor in place while the network computes it:
/// the slice the network hands over is read by [`fill`] on the pool's threads, never copied.
///
/// Give it to `Net::train_step` only on summary steps (`&mut ()` otherwise), so ordinary steps
/// pay nothing.
#[derive(Debug)]
pub struct HistogramObserver<'p> {
    pool: &'p ThreadPool,
    seen: Vec<Option<(Probe, ProbeStats)>>,
}

/// The place of `probe` in forward order: its layer's two stages, before and after the
/// activation.
fn index(probe: Probe) -> usize {
    2 * probe.index + usize::from(probe.stage == Stage::Output)
}

impl<'p> HistogramObserver<'p> {
    /// An observer that has seen nothing yet, filling histograms on `pool`.
    pub fn new(pool: &'p ThreadPool) -> Self {
        Self {
            pool,
            seen: vec![None; 2 * MAX_LAYERS],
        }
    }

    /// What `probe` saw, `None` if it was not reached.
    pub fn get(&self, probe: Probe) -> Option<&ProbeStats> {
        self.seen
            .get(index(probe))?
            .as_ref()
            .filter(|(p, _)| *p == probe)
            .map(|(_, s)| s)
    }

    /// Every probe that saw something, in forward order.
    pub fn iter(&self) -> impl Iterator<Item = (Probe, &ProbeStats)> {
        self.seen.iter().flatten().map(|(p, s)| (*p, s))
    }
}

impl Observer for HistogramObserver<'_> {
    fn observe(&mut self, probe: Probe, values: &[f32]) {
        let filled = fill(self.pool, values);
        let zeros = if probe.is_relu_output() {
            filled.zeros
        } else {
            0
        };
        let slot = &mut self.seen[index(probe)];
        match slot {
            Some((_, s)) => {
                s.hist.merge(&filled.hist);
                s.size += values.len() as u64;
                s.zeros += zeros;
            }
            None => {
                *slot = Some((
                    probe,
                    ProbeStats {
                        hist: filled.hist,
                        size: values.len() as u64,
                        zeros,
                    },
                ))
            }
        }
    }
}

/// The layer name of a post-ReLU probe, for the `dead_relu/<layer>` scalars.
pub fn relu_layer(probe: Probe) -> Option<&'static str> {
    probe.is_relu_output().then_some(probe.layer)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use kernels::net::ValenceConfig;

    /// TINY's probe tagged `tag`.
    pub(crate) fn probe(tag: &str) -> Probe {
        let plan = ValenceConfig::TINY.plan().unwrap();
        let probe = plan.probes().find(|p| p.tag == tag).unwrap();
        probe
    }

    #[test]
    fn nan_and_inf_are_counted_not_histogrammed_and_zeros_only_after_relu() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let mut obs = HistogramObserver::new(&pool);
        obs.observe(probe("con1_before_relu"), &[0.0, -1.0, f32::NAN, 2.0]);
        obs.observe(
            probe("con1_output_distribution"),
            &[0.0, 0.0, f32::NAN, 2.0],
        );
        obs.observe(probe("con1_output_distribution"), &[f32::INFINITY, 0.0]);
        let before = obs.get(probe("con1_before_relu")).unwrap();
        assert_eq!(before.hist.non_finite(), 1);
        assert_eq!(before.hist.num(), 3, "NaN is not in the histogram");
        assert_eq!(before.zeros, 0, "zeros count only after a ReLU");
        let after = obs.get(probe("con1_output_distribution")).unwrap();
        assert_eq!((after.size, after.zeros), (6, 3));
        assert_eq!(after.hist.non_finite(), 2);
        assert_eq!(after.hist.num(), 4);
        assert_eq!(after.zero_fraction(), 0.5);
        let rows: Vec<[f64; 3]> = after.hist.rows().collect();
        assert!(rows.iter().flatten().all(|x| x.is_finite()), "{rows:?}");
        assert_eq!(rows.iter().map(|r| r[2]).sum::<f64>(), 4.0);
        assert!(obs.get(probe("softmax_output_distribution")).is_none());
        assert_eq!(obs.iter().count(), 2);
        assert_eq!(
            relu_layer(probe("local2_output_distribution")),
            Some("local2")
        );
        assert_eq!(relu_layer(probe("pool1_output_distribution")), None);
    }
}
