//! A resolved parameter tensor: name, summary tag, shape, place in the arena and initialiser.

/// How a tensor starts: a table's [`Initializer`](super::Initializer) with its fans resolved.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Init {
    /// TF1 `xavier_initializer_conv2d(uniform=False)` with these fans.
    Xavier {
        /// `kh·kw·c_in` (conv) or `inputs` (dense).
        fan_in: usize,
        /// `kh·kw·c_out` (conv) or `outputs` (dense).
        fan_out: usize,
    },
    /// `tf.truncated_normal(stddev=…)` around 0.
    TruncatedNormal {
        /// σ before truncation.
        stddev: f32,
    },
    /// `tf.constant(value)`.
    Constant(f32),
}

/// One trainable tensor of the network.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ParamSpec {
    /// Variable name (the table's; the seed's `weights1`, `biases1`, …): `.npy` file names.
    pub name: &'static str,
    /// Summary tag (the table's; the seed's `weights_conv1`, `local1_biases`, …).
    pub tag: &'static str,
    /// Shape in TensorFlow order (HWIO for conv filters, `[in, out]` for dense); `rank` entries used.
    pub shape: [usize; 4],
    /// Number of used entries of `shape`.
    pub rank: usize,
    /// Offset of the tensor inside the parameter block.
    pub offset: usize,
    /// `shape` product.
    pub len: usize,
    /// Its initialiser, resolved.
    pub init: Init,
    /// `true` for weights, `false` for biases.
    pub is_weight: bool,
}

impl ParamSpec {
    /// Where the tensor lives in the parameter block (and in the gradients, which share its
    /// order): `offset..offset + len`.
    pub const fn range(&self) -> core::ops::Range<usize> {
        self.offset..self.offset + self.len
    }

    /// The used part of [`shape`](Self::shape).
    pub fn dims(&self) -> &[usize] {
        &self.shape[..self.rank]
    }
}
