//! A network as data: the `const` table a caller writes — input, layers in order, loss — and the
//! parameter descriptions the checkpoints and summaries read.
//!
//! A table describes; [`Network::plan`](super::Plan) validates and resolves it (every layer's
//! geometry, the parameter table, the arena sizes), all in `const fn`s, so a table that does
//! not make a network fails to compile where it is used in a `const`.

use crate::Padding;

/// How the network's input arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum InputKind {
    /// `u8` frames (camera bytes), each byte entering as `(x − 128) / 255` exactly as the seed's
    /// `tf.cast(x, tf.float32) / 255 − 0.5` rounds it; the first layer must be a convolution.
    U8,
    /// `f32` features (for example MFCC frames), used as given.
    F32,
}

/// One example's input: `h × w × c` values, NHWC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Input {
    /// Rows.
    pub h: usize,
    /// Columns.
    pub w: usize,
    /// Channels.
    pub c: usize,
    /// `u8` frames or `f32` features.
    pub kind: InputKind,
}

/// How a parameter tensor starts.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Initializer {
    /// TF1 `xavier_initializer(uniform=False)`, fans from the layer (`kh·kw·c_in`/`kh·kw·c_out`
    /// for a convolution, `inputs`/`outputs` for a dense layer).
    Xavier,
    /// `tf.truncated_normal(stddev=…)` around 0.
    TruncatedNormal {
        /// σ before truncation.
        stddev: f32,
    },
    /// `tf.constant(value)`.
    Constant(f32),
}

/// One trainable tensor as the table names it.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Param {
    /// Variable name: `.npy` file names, checkpoint entries.
    pub name: &'static str,
    /// TensorBoard tag of its summaries.
    pub tag: &'static str,
    /// How it starts.
    pub init: Initializer,
}

/// What a layer computes before its activation.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Op {
    /// `tf.nn.conv2d` (HWIO filter) plus a per-channel bias.
    Conv {
        /// `[kh, kw]`.
        kernel: [usize; 2],
        /// `[sh, sw]`.
        stride: [usize; 2],
        /// SAME or VALID.
        padding: Padding,
        /// Output channels.
        out: usize,
        /// The filter.
        weights: Param,
        /// The bias.
        bias: Param,
    },
    /// A fully connected layer (`[in, out]` weights) over the flattened NHWC input.
    Dense {
        /// Output width.
        out: usize,
        /// The weights.
        weights: Param,
        /// The bias.
        bias: Param,
    },
    /// `tf.nn.max_pool`.
    MaxPool {
        /// `[wh, ww]`.
        window: [usize; 2],
        /// `[sh, sw]`.
        stride: [usize; 2],
        /// SAME or VALID.
        padding: Padding,
    },
    /// `tf.nn.lrn` across channels.
    Lrn {
        /// Half-width of the channel window.
        depth_radius: usize,
        /// `bias` (k).
        bias: f32,
        /// `alpha`.
        alpha: f32,
        /// `beta`.
        beta: f32,
    },
}

/// The function applied to a layer's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Activation {
    /// None: the layer's output is the op's.
    Linear,
    /// `max(x, 0)`.
    Relu,
}

/// One layer of the table.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Layer {
    /// The layer's name: observers and the int8 model file see tensors by it.
    pub name: &'static str,
    /// What it computes.
    pub op: Op,
    /// Applied after `op`.
    pub activation: Activation,
    /// TensorBoard tag of the output's histogram.
    pub tag: &'static str,
    /// TensorBoard tag of the histogram before the activation (unused for [`Activation::Linear`]).
    pub pre_tag: &'static str,
}

/// What training minimises; every loss is a mean over the batch (see [`Net::train`](super::Net)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Loss {
    /// The seed's `mean(c · |p − y|)` over one output per example, with a confidence `c` per
    /// example.
    WeightedAbs,
    /// `mean((p − y)²)` over every output of every example.
    Mse,
    /// `mean(sparse_softmax_cross_entropy_with_logits(labels, logits))`: the last layer's
    /// outputs are the logits of the classes, each example has an integer class label.
    SoftmaxCrossEntropy,
}

/// A whole network as a `const` table.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Network {
    /// One example's input.
    pub input: Input,
    /// The layers, first to last (at most [`MAX_LAYERS`](super::MAX_LAYERS)).
    pub layers: &'static [Layer],
    /// What training minimises.
    pub loss: Loss,
    /// Output pixels im2col'd at a time by every convolution (bounds the scratch).
    pub tile: usize,
}
