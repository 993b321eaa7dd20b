//! Where the forward pass lets an observer see a tensor while it is computed.

/// A point of the forward pass, named by the seed's summary tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[allow(missing_docs)] // each variant is documented by its tag
pub enum Probe {
    Conv1BeforeRelu,
    Conv1Output,
    Norm1Output,
    Pool1Output,
    Conv2BeforeRelu,
    Conv2Output,
    Norm2Output,
    Pool2Output,
    Conv3BeforeRelu,
    Conv3Output,
    Conv4BeforeRelu,
    Conv4Output,
    Conv5BeforeRelu,
    Conv5Output,
    Pool3Output,
    Local1BeforeRelu,
    Local1Output,
    Local2BeforeRelu,
    Local2Output,
    SoftmaxOutput,
}

impl Probe {
    /// Every probe, in forward order.
    pub const ALL: [Probe; 20] = [
        Self::Conv1BeforeRelu,
        Self::Conv1Output,
        Self::Norm1Output,
        Self::Pool1Output,
        Self::Conv2BeforeRelu,
        Self::Conv2Output,
        Self::Norm2Output,
        Self::Pool2Output,
        Self::Conv3BeforeRelu,
        Self::Conv3Output,
        Self::Conv4BeforeRelu,
        Self::Conv4Output,
        Self::Conv5BeforeRelu,
        Self::Conv5Output,
        Self::Pool3Output,
        Self::Local1BeforeRelu,
        Self::Local1Output,
        Self::Local2BeforeRelu,
        Self::Local2Output,
        Self::SoftmaxOutput,
    ];

    /// The seed's `tf.summary.histogram` tag, spelled exactly as the seed spells it
    /// (`con1_…` but `conv2_output_distribution`).
    pub const fn tag(self) -> &'static str {
        match self {
            Self::Conv1BeforeRelu => "con1_before_relu",
            Self::Conv1Output => "con1_output_distribution",
            Self::Norm1Output => "norm1_output_distribution",
            Self::Pool1Output => "pool1_output_distribution",
            Self::Conv2BeforeRelu => "con2_before_relu",
            Self::Conv2Output => "conv2_output_distribution",
            Self::Norm2Output => "norm2_output_distribution",
            Self::Pool2Output => "pool2_output_distribution",
            Self::Conv3BeforeRelu => "con3_before_relu",
            Self::Conv3Output => "con3_output_distribution",
            Self::Conv4BeforeRelu => "con4_before_relu",
            Self::Conv4Output => "con4_output_distribution",
            Self::Conv5BeforeRelu => "con5_before_relu",
            Self::Conv5Output => "con5_output_distribution",
            Self::Pool3Output => "pool3_output_distribution",
            Self::Local1BeforeRelu => "local1_before_relu",
            Self::Local1Output => "local1_output_distribution",
            Self::Local2BeforeRelu => "local2_before_relu",
            Self::Local2Output => "local2_output_distribution",
            Self::SoftmaxOutput => "softmax_output_distribution",
        }
    }

    /// `true` for the post-ReLU outputs, whose exact zeros are the dead-ReLU fraction.
    pub const fn is_relu_output(self) -> bool {
        matches!(
            self,
            Self::Conv1Output
                | Self::Conv2Output
                | Self::Conv3Output
                | Self::Conv4Output
                | Self::Conv5Output
                | Self::Local1Output
                | Self::Local2Output
        )
    }
}

/// Sees each probed tensor once per forward pass, right after it is computed and before the
/// next layer overwrites or transforms it — so histograms fill without copying activations.
pub trait Observer {
    /// `values` is the whole probed tensor of the current (micro-)batch, NHWC.
    fn observe(&mut self, probe: Probe, values: &[f32]);

    /// The backward pass has finished the layer whose forward output `probe` names (its
    /// parameter gradients added, its input gradient written): a board reads its instruction
    /// counter here to time each layer's backward pass. The loss's gradient is part of
    /// [`Probe::SoftmaxOutput`]'s layer. Does nothing unless overridden.
    #[inline]
    fn backward_done(&mut self, probe: Probe) {
        let _ = probe;
    }
}

/// The observer that looks at nothing.
impl Observer for () {
    #[inline]
    fn observe(&mut self, _: Probe, _: &[f32]) {}
}
