//! [`HistogramObserver`]: the activation histograms and ReLU health of a summary step.

use kernels::histogram::Histogram;
use kernels::net::{Observer, Probe, ValenceConfig};
use rayon::ThreadPool;

use super::fill::fill;

/// What one probe saw during a summary step (all forward passes of the step added up).
#[derive(Debug, Clone)]
pub struct ProbeStats {
    /// Every value the probe saw; NaN and ±inf are only counted ([`Histogram::non_finite`]).
    pub hist: Box<Histogram>,
    /// Values seen, finite or not.
    pub size: u64,
    /// Exact zeros seen (`0.0` or `-0.0`); counted after a ReLU only.
    pub zeros: u64,
    /// The layer, for a post-ReLU probe (`conv1` … `local2`).
    pub relu_layer: Option<&'static str>,
    /// After a ReLU: per channel (conv) or unit (dense), whether it output anything but zero
    /// for some frame of the summary batch. Empty for other probes.
    pub alive: Vec<bool>,
}

impl ProbeStats {
    /// Fraction of exact zeros after a ReLU (`relu_zero_fraction/<layer>`): units that are off
    /// for *some* inputs, which is how a ReLU normally works — not a sign of dead units.
    pub fn zero_fraction(&self) -> f64 {
        if self.size == 0 {
            0.0
        } else {
            self.zeros as f64 / self.size as f64
        }
    }

    /// Fraction of channels (conv) or units (dense) that output zero for every frame of the
    /// summary batch (`dead_units/<layer>`): no gradient reaches their weights through the ReLU,
    /// so they stay dead. 0 for a probe that is not a ReLU output.
    pub fn dead_fraction(&self) -> f64 {
        if self.alive.is_empty() {
            0.0
        } else {
            self.alive.iter().filter(|&&a| !a).count() as f64 / self.alive.len() as f64
        }
    }
}

/// Marks in `alive` (one flag per channel) every channel with a non-zero value in `values`, an
/// NHWC tensor (or `[batch, units]`) whose innermost dimension is `alive.len()`.
///
/// # Panics
/// If `values.len()` is not a multiple of `alive.len()`, or `alive` is empty: the network hands
/// over whole tensors of the layer whose width `alive` has.
pub fn mark_alive(alive: &mut [bool], values: &[f32]) {
    assert!(
        !alive.is_empty() && values.len() % alive.len() == 0,
        "{} values are not whole rows of {} channels",
        values.len(),
        alive.len()
    );
    for row in values.chunks_exact(alive.len()) {
        for (a, &v) in alive.iter_mut().zip(row) {
            // NaN counts as alive: it is reported apart, as non_finite/<tag>.
            *a |= v != 0.0;
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
    config: ValenceConfig,
    seen: Vec<Option<ProbeStats>>,
}

/// The position of `probe` in [`Probe::ALL`].
fn index(probe: Probe) -> usize {
    Probe::ALL
        .iter()
        .position(|&p| p == probe)
        .expect("Probe::ALL lists every probe")
}

impl<'p> HistogramObserver<'p> {
    /// An observer of the network `config` that has seen nothing yet, filling histograms on
    /// `pool`.
    pub fn new(pool: &'p ThreadPool, config: &ValenceConfig) -> Self {
        Self {
            pool,
            config: *config,
            seen: vec![None; Probe::ALL.len()],
        }
    }

    /// What `probe` saw, `None` if it was not reached.
    pub fn get(&self, probe: Probe) -> Option<&ProbeStats> {
        self.seen[index(probe)].as_ref()
    }

    /// Every probe that saw something, in forward order.
    pub fn iter(&self) -> impl Iterator<Item = (Probe, &ProbeStats)> {
        Probe::ALL
            .iter()
            .zip(&self.seen)
            .filter_map(|(&p, s)| s.as_ref().map(|s| (p, s)))
    }
}

impl Observer for HistogramObserver<'_> {
    fn observe(&mut self, probe: Probe, values: &[f32]) {
        let filled = fill(self.pool, values);
        let relu = relu_layer(&self.config, probe);
        let zeros = if relu.is_some() { filled.zeros } else { 0 };
        let slot = self.seen[index(probe)].get_or_insert_with(|| ProbeStats {
            hist: Box::new(Histogram::new()),
            size: 0,
            zeros: 0,
            relu_layer: relu.map(|(layer, _)| layer),
            alive: vec![false; relu.map_or(0, |(_, width)| width)],
        });
        slot.hist.merge(&filled.hist);
        slot.size += values.len() as u64;
        slot.zeros += zeros;
        if !slot.alive.is_empty() {
            mark_alive(&mut slot.alive, values);
        }
    }
}

/// The layer name and width (channels or units) of a post-ReLU probe of `config`, for the
/// `relu_zero_fraction/<layer>` and `dead_units/<layer>` scalars; `None` for other probes.
pub fn relu_layer(config: &ValenceConfig, probe: Probe) -> Option<(&'static str, usize)> {
    Some(match probe {
        Probe::Conv1Output => ("conv1", config.conv[0]),
        Probe::Conv2Output => ("conv2", config.conv[1]),
        Probe::Conv3Output => ("conv3", config.conv[2]),
        Probe::Conv4Output => ("conv4", config.conv[3]),
        Probe::Conv5Output => ("conv5", config.conv[4]),
        Probe::Local1Output => ("local1", config.dense[0]),
        Probe::Local2Output => ("local2", config.dense[1]),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_and_inf_are_counted_not_histogrammed_and_zeros_only_after_relu() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        // Two channels, so that the hand-made tensors below are whole rows.
        let cfg = ValenceConfig {
            conv: [2, 8, 16, 16, 16],
            ..ValenceConfig::TINY
        };
        let mut obs = HistogramObserver::new(&pool, &cfg);
        obs.observe(Probe::Conv1BeforeRelu, &[0.0, -1.0, f32::NAN, 2.0]);
        obs.observe(Probe::Conv1Output, &[0.0, 0.0, f32::NAN, 2.0]);
        obs.observe(Probe::Conv1Output, &[f32::INFINITY, 0.0]);
        let before = obs.get(Probe::Conv1BeforeRelu).unwrap();
        assert_eq!(before.hist.non_finite(), 1);
        assert_eq!(before.hist.num(), 3, "NaN is not in the histogram");
        assert_eq!(before.zeros, 0, "zeros count only after a ReLU");
        let after = obs.get(Probe::Conv1Output).unwrap();
        assert_eq!((after.size, after.zeros), (6, 3));
        assert_eq!(after.hist.non_finite(), 2);
        assert_eq!(after.hist.num(), 4);
        assert_eq!(after.zero_fraction(), 0.5);
        let rows: Vec<[f64; 3]> = after.hist.rows().collect();
        assert!(rows.iter().flatten().all(|x| x.is_finite()), "{rows:?}");
        assert_eq!(rows.iter().map(|r| r[2]).sum::<f64>(), 4.0);
        assert!(obs.get(Probe::SoftmaxOutput).is_none());
        assert_eq!(obs.iter().count(), 2);
        assert_eq!(after.dead_fraction(), 0.0, "NaN and inf are not dead");
        assert_eq!(before.dead_fraction(), 0.0);
        let tiny = ValenceConfig::TINY;
        assert_eq!(relu_layer(&tiny, Probe::Local2Output), Some(("local2", 16)));
        assert_eq!(relu_layer(&tiny, Probe::Conv3Output), Some(("conv3", 16)));
        assert_eq!(relu_layer(&tiny, Probe::Pool1Output), None);
    }

    #[test]
    fn a_dead_unit_is_zero_for_every_frame_and_pixel_of_the_batch() {
        // Hand-made NHWC ReLU output: 2 frames × 2 pixels × 4 channels. Channel 0 is zero
        // everywhere (dead); channel 1 fires once, in frame 1's second pixel (alive); channel 2
        // fires everywhere; channel 3 is zero in frame 0 and fires in frame 1 (alive).
        #[rustfmt::skip]
        let frame0 = [
            0.0, 0.0, 0.5, 0.0,
            0.0, 0.0, 0.1, 0.0,
        ];
        #[rustfmt::skip]
        let frame1 = [
            0.0, 0.0, 0.3, 0.2,
            -0.0, 1e-30, 0.7, 0.0,
        ];
        let mut alive = vec![false; 4];
        mark_alive(&mut alive, &frame0);
        assert_eq!(alive, [false, false, true, false], "frame 0 alone");
        mark_alive(&mut alive, &frame1);
        assert_eq!(alive, [false, true, true, true]);
        // Through the observer, the two frames arriving as two micro-batches: the exact-zero
        // fraction is 10 of 16, but only one channel of four is dead.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let cfg = ValenceConfig {
            dense: [4, 16],
            ..ValenceConfig::TINY
        };
        let mut obs = HistogramObserver::new(&pool, &cfg);
        obs.observe(Probe::Local1Output, &frame0);
        obs.observe(Probe::Local1Output, &frame1);
        let s = obs.get(Probe::Local1Output).unwrap();
        assert_eq!(s.zero_fraction(), 10.0 / 16.0);
        assert_eq!(s.dead_fraction(), 0.25);
    }
}
