//! Instruction counts per layer: an [`Observer`] that reads the board's [`Counter`] each time the
//! network finishes a layer, forward ([`Observer::observe`] of the layer's output probe) and
//! backward ([`Observer::backward_done`]). Layers are the plan's, counted by their place in the
//! table and logged by their names, so another table needs no change here.

use kernels::net::{Observer, Probe, Stage, MAX_LAYERS};

use crate::relu::ReluStats;
use crate::{Counter, PLAN};

/// The instructions of one training step, by part.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepCounts {
    /// Each layer's forward pass, summed over the step's frames (table order).
    pub forward: [u64; MAX_LAYERS],
    /// Each layer's backward pass (the loss's gradient counts with the last layer).
    pub backward: [u64; MAX_LAYERS],
    /// Drawing the step's frames (`kernels::data`).
    pub data: u64,
    /// The Adam step.
    pub optimizer: u64,
    /// The whole step: data, forward, backward and Adam (histogram logging excluded).
    pub step: u64,
}

impl StepCounts {
    /// Logs every count (see [`crate::log`]), layers by name in table order.
    pub fn log(&self) {
        for (pass, counts) in [("forward", &self.forward), ("backward", &self.backward)] {
            for (l, &n) in PLAN.layers().iter().zip(counts) {
                defmt::println!("count {=str} {=str} {=u64}", pass, l.layer.name, n);
            }
        }
        defmt::println!("count data {=u64}", self.data);
        defmt::println!("count optimizer {=u64}", self.optimizer);
        defmt::println!("count step {=u64}", self.step);
    }
}

/// Times the layers of the forward and backward passes it is handed to and, on summary steps,
/// gathers the ReLU layers' zeros and dead units.
pub struct LayerTimer<'c, 'r, C: Counter> {
    counter: &'c mut C,
    start: u64,
    last: u64,
    /// What was measured so far.
    pub counts: StepCounts,
    /// The ReLU statistics to fill (summary steps only).
    pub relu: Option<&'r mut ReluStats>,
}

impl<'c, 'r, C: Counter> LayerTimer<'c, 'r, C> {
    /// A timer with every count at zero, filling `relu` if given.
    pub fn new(counter: &'c mut C, relu: Option<&'r mut ReluStats>) -> Self {
        let last = counter.instructions();
        Self {
            counter,
            start: last,
            last,
            counts: StepCounts::default(),
            relu,
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

impl<C: Counter> Observer for LayerTimer<'_, '_, C> {
    fn observe(&mut self, probe: Probe, values: &[f32]) {
        if let Some(relu) = self.relu.as_deref_mut() {
            relu.observe(probe, values);
        }
        if probe.stage == Stage::Output {
            let d = self.lap();
            if let Some(n) = self.counts.forward.get_mut(probe.index) {
                *n += d;
            }
        }
    }

    fn backward_done(&mut self, probe: Probe) {
        let d = self.lap();
        if let Some(n) = self.counts.backward.get_mut(probe.index) {
            *n += d;
        }
    }
}
