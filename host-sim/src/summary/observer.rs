//! [`HistogramObserver`]: the activation histograms and ReLU health of a summary step.

use kernels::histogram::Histogram;
use kernels::net::{Observer, Plan, Probe, Stage, MAX_LAYERS};
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
        fraction(self.zeros, self.size)
    }

    /// Fraction of channels (conv) or units (dense) that output zero for every frame of the
    /// summary batch (`dead_units/<layer>`): no gradient reaches their weights through the ReLU,
    /// so they stay dead. 0 for a probe that is not a ReLU output.
    pub fn dead_fraction(&self) -> f64 {
        let dead = self.alive.iter().filter(|&&a| !a).count();
        fraction(dead as u64, self.alive.len() as u64)
    }
}

/// `part / whole`, 0 for an empty whole: the ReLU health fractions, here and as read from a
/// board's counts (`host-sim ingest`).
pub fn fraction(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
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
        !alive.is_empty() && values.len().is_multiple_of(alive.len()),
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
/// Give it to `Net::train` only on summary steps (`&mut ()` otherwise), so ordinary steps
/// pay nothing.
#[derive(Debug)]
pub struct HistogramObserver<'p> {
    pool: &'p ThreadPool,
    /// Per layer of the plan, its output's width (channels or units): what a dead unit is.
    widths: Vec<usize>,
    seen: Vec<Option<(Probe, ProbeStats)>>,
}

/// The place of `probe` in forward order: its layer's two stages, before and after the
/// activation.
fn index(probe: Probe) -> usize {
    2 * probe.index + usize::from(probe.stage == Stage::Output)
}

impl<'p> HistogramObserver<'p> {
    /// An observer of the network planned as `plan` that has seen nothing yet, filling
    /// histograms on `pool`.
    pub fn new(pool: &'p ThreadPool, plan: &Plan) -> Self {
        Self {
            pool,
            widths: plan.layers().iter().map(|l| l.output.c).collect(),
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
        let relu = relu_layer(probe);
        let zeros = if relu.is_some() { filled.zeros } else { 0 };
        let width = match relu {
            Some(_) => self.widths.get(probe.index).copied().unwrap_or(0),
            None => 0,
        };
        let (_, slot) = self.seen[index(probe)].get_or_insert_with(|| {
            (
                probe,
                ProbeStats {
                    hist: Box::new(Histogram::new()),
                    size: 0,
                    zeros: 0,
                    relu_layer: relu,
                    alive: vec![false; width],
                },
            )
        });
        slot.hist.merge(&filled.hist);
        slot.size += values.len() as u64;
        slot.zeros += zeros;
        if !slot.alive.is_empty() {
            mark_alive(&mut slot.alive, values);
        }
    }
}

/// The layer name of a post-ReLU probe, for the `relu_zero_fraction/<layer>` and
/// `dead_units/<layer>` scalars; `None` for other probes.
pub fn relu_layer(probe: Probe) -> Option<&'static str> {
    probe.is_relu_output().then_some(probe.layer)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use kernels::net::{
        Activation, Initializer, Input, InputKind, Layer, Loss, Network, Op, Param, ValenceConfig,
    };
    use kernels::Padding;

    /// TINY's probe tagged `tag`.
    pub(crate) fn probe(tag: &str) -> Probe {
        probe_of(&ValenceConfig::TINY, tag)
    }

    fn probe_of(net: &Network, tag: &str) -> Probe {
        let plan = net.plan().unwrap();
        let probe = plan.probes().find(|p| p.tag == tag).unwrap();
        probe
    }

    const fn param(name: &'static str) -> Param {
        Param {
            name,
            tag: name,
            init: Initializer::Constant(0.1),
        }
    }

    /// Two ReLU layers of widths 2 (a 1×1 conv) and 4 (dense), so that hand-made tensors are
    /// whole rows.
    const NARROW: Network = Network {
        input: Input {
            h: 2,
            w: 1,
            c: 1,
            kind: InputKind::F32,
        },
        layers: &[
            Layer {
                name: "conv1",
                op: Op::Conv {
                    kernel: [1, 1],
                    stride: [1, 1],
                    padding: Padding::Same,
                    out: 2,
                    weights: param("w1"),
                    bias: param("b1"),
                },
                activation: Activation::Relu,
                tag: "conv1_out",
                pre_tag: "conv1_pre",
            },
            Layer {
                name: "local1",
                op: Op::Dense {
                    out: 4,
                    weights: param("w2"),
                    bias: param("b2"),
                },
                activation: Activation::Relu,
                tag: "local1_out",
                pre_tag: "local1_pre",
            },
        ],
        loss: Loss::Mse,
        tile: 4,
    };

    fn pool() -> ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
    }

    #[test]
    fn nan_and_inf_are_counted_not_histogrammed_and_zeros_only_after_relu() {
        let pool = pool();
        let mut obs = HistogramObserver::new(&pool, &NARROW.plan().unwrap());
        let (pre, out) = (
            probe_of(&NARROW, "conv1_pre"),
            probe_of(&NARROW, "conv1_out"),
        );
        obs.observe(pre, &[0.0, -1.0, f32::NAN, 2.0]);
        obs.observe(out, &[0.0, 0.0, f32::NAN, 2.0]);
        obs.observe(out, &[f32::INFINITY, 0.0]);
        let before = obs.get(pre).unwrap();
        assert_eq!(before.hist.non_finite(), 1);
        assert_eq!(before.hist.num(), 3, "NaN is not in the histogram");
        assert_eq!(before.zeros, 0, "zeros count only after a ReLU");
        let after = obs.get(out).unwrap();
        assert_eq!((after.size, after.zeros), (6, 3));
        assert_eq!(after.hist.non_finite(), 2);
        assert_eq!(after.hist.num(), 4);
        assert_eq!(after.zero_fraction(), 0.5);
        let rows: Vec<[f64; 3]> = after.hist.rows().collect();
        assert!(rows.iter().flatten().all(|x| x.is_finite()), "{rows:?}");
        assert_eq!(rows.iter().map(|r| r[2]).sum::<f64>(), 4.0);
        assert!(obs.get(probe_of(&NARROW, "local1_out")).is_none());
        assert_eq!(obs.iter().count(), 2);
        assert_eq!(after.dead_fraction(), 0.0, "NaN and inf are not dead");
        assert_eq!(before.dead_fraction(), 0.0);
        assert_eq!(
            relu_layer(probe("local2_output_distribution")),
            Some("local2")
        );
        assert_eq!(relu_layer(probe("con3_output_distribution")), Some("conv3"));
        assert_eq!(relu_layer(probe("con3_before_relu")), None);
        assert_eq!(relu_layer(probe("pool1_output_distribution")), None);
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
        // fraction is 10 of 16, but only one unit of four is dead.
        let pool = pool();
        let mut obs = HistogramObserver::new(&pool, &NARROW.plan().unwrap());
        let local1 = probe_of(&NARROW, "local1_out");
        obs.observe(local1, &frame0);
        obs.observe(local1, &frame1);
        let s = obs.get(local1).unwrap();
        assert_eq!(s.zero_fraction(), 10.0 / 16.0);
        assert_eq!(s.dead_fraction(), 0.25);
    }
}
