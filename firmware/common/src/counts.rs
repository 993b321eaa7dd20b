//! Instruction counts per layer: an [`Observer`] that reads the board's [`Counter`] each time the
//! network finishes a layer, forward ([`Observer::observe`] of the layer's output probe) and
//! backward ([`Observer::backward_done`]).

use kernels::net::{Observer, Probe};

use crate::Counter;

/// The layers, in forward order, each named by the probe of its output (after its ReLU).
pub const LAYERS: [(Probe, &str); 13] = [
    (Probe::Conv1Output, "conv1"),
    (Probe::Norm1Output, "norm1"),
    (Probe::Pool1Output, "pool1"),
    (Probe::Conv2Output, "conv2"),
    (Probe::Norm2Output, "norm2"),
    (Probe::Pool2Output, "pool2"),
    (Probe::Conv3Output, "conv3"),
    (Probe::Conv4Output, "conv4"),
    (Probe::Conv5Output, "conv5"),
    (Probe::Pool3Output, "pool3"),
    (Probe::Local1Output, "local1"),
    (Probe::Local2Output, "local2"),
    (Probe::SoftmaxOutput, "softmax_linear"),
];

fn layer(probe: Probe) -> Option<usize> {
    LAYERS.iter().position(|&(p, _)| p == probe)
}

/// The instructions of one training step, by part.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepCounts {
    /// Each layer's forward pass, summed over the step's frames ([`LAYERS`] order).
    pub forward: [u64; 13],
    /// Each layer's backward pass (the loss's gradient counts with `softmax_linear`).
    pub backward: [u64; 13],
    /// Drawing the step's frames (`kernels::data`).
    pub data: u64,
    /// The Adam step.
    pub optimizer: u64,
    /// The whole step: data, forward, backward and Adam (histogram logging excluded).
    pub step: u64,
}

impl StepCounts {
    /// Logs every count (see [`crate::log`]).
    pub fn log(&self) {
        for (pass, counts) in [("forward", &self.forward), ("backward", &self.backward)] {
            for ((_, name), &n) in LAYERS.iter().zip(counts) {
                defmt::println!("count {=str} {=str} {=u64}", pass, name, n);
            }
        }
        defmt::println!("count data {=u64}", self.data);
        defmt::println!("count optimizer {=u64}", self.optimizer);
        defmt::println!("count step {=u64}", self.step);
    }
}

/// Times the layers of the forward and backward passes it is handed to.
pub struct LayerTimer<'c, C: Counter> {
    counter: &'c mut C,
    start: u64,
    last: u64,
    /// What was measured so far.
    pub counts: StepCounts,
}

impl<'c, C: Counter> LayerTimer<'c, C> {
    /// A timer with every count at zero.
    pub fn new(counter: &'c mut C) -> Self {
        let last = counter.instructions();
        Self {
            counter,
            start: last,
            last,
            counts: StepCounts::default(),
        }
    }

    /// Instructions since [`new`](Self::new); also a new mark.
    pub fn since_start(&mut self) -> u64 {
        self.lap();
        self.last.wrapping_sub(self.start)
    }

    /// Instructions since the previous mark (or [`new`](Self::new)), and a new mark.
    pub fn lap(&mut self) -> u64 {
        let now = self.counter.instructions();
        let d = now.wrapping_sub(self.last);
        self.last = now;
        d
    }
}

impl<C: Counter> Observer for LayerTimer<'_, C> {
    fn observe(&mut self, probe: Probe, _: &[f32]) {
        if let Some(i) = layer(probe) {
            self.counts.forward[i] += self.lap();
        }
    }

    fn backward_done(&mut self, probe: Probe) {
        if let Some(i) = layer(probe) {
            self.counts.backward[i] += self.lap();
        }
    }
}
