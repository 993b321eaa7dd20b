//! Where the forward pass lets an observer see a tensor while it is computed.

use super::table::Activation;

/// Which of a layer's tensors a probe shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Stage {
    /// The op's output before the activation (ReLU layers only).
    PreActivation,
    /// The layer's output.
    Output,
}

/// A point of the forward pass: a layer's tensor, named by the layer and tagged by the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Probe {
    /// The layer's name in the table.
    pub layer: &'static str,
    /// The layer's position in the table.
    pub index: usize,
    /// The table's TensorBoard tag of this tensor's histogram.
    pub tag: &'static str,
    /// Before or after the activation.
    pub stage: Stage,
    /// The layer's activation.
    pub activation: Activation,
}

impl Probe {
    /// The histogram's tag.
    pub const fn tag(self) -> &'static str {
        self.tag
    }

    /// `true` for the post-ReLU outputs, whose exact zeros are the dead-ReLU fraction.
    pub const fn is_relu_output(self) -> bool {
        matches!(
            (self.stage, self.activation),
            (Stage::Output, Activation::Relu)
        )
    }
}

/// Sees each probed tensor once per forward pass, right after it is computed and before the
/// next layer overwrites or transforms it — so histograms fill without copying activations.
pub trait Observer {
    /// `values` is the whole probed tensor of the current (micro-)batch, NHWC.
    fn observe(&mut self, probe: Probe, values: &[f32]);

    /// Whether [`Observer::observe`] wants `probe` at all. A pre-activation nobody wants is
    /// never materialised: the layer applies its ReLU as it computes each tile of its output
    /// (same bits, one pass over the tensor fewer). `true` unless overridden.
    #[inline]
    fn wants(&self, probe: Probe) -> bool {
        let _ = probe;
        true
    }

    /// The backward pass has finished the layer whose output `probe` names
    /// ([`Stage::Output`]; its parameter gradients added, its input gradient written): a board
    /// reads its instruction counter here to time each layer's backward pass. Called once per
    /// layer, last layer first; the loss's gradient is part of the last layer's, and layers
    /// before the table's first layer with parameters (which need no gradient) are skipped.
    /// Does nothing unless overridden.
    #[inline]
    fn backward_done(&mut self, probe: Probe) {
        let _ = probe;
    }
}

/// The observer that looks at nothing.
impl Observer for () {
    #[inline]
    fn observe(&mut self, _: Probe, _: &[f32]) {}

    #[inline]
    fn wants(&self, _: Probe) -> bool {
        false
    }
}
