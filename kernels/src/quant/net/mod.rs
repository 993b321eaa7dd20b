//! The whole valence network in int8: a compact, versioned model file, the quantiser that
//! writes it from a trained f32 network, and inference over caller-provided buffers — for
//! [`ValenceConfig::TINY`](crate::net::ValenceConfig::TINY) and
//! [`ValenceConfig::FULL`](crate::net::ValenceConfig::FULL) alike, from the same plan
//! ([`ValenceConfig::geometry`](crate::net::ValenceConfig::geometry)) as the f32 network.
//!
//! # Quantisation
//!
//! * The input frame's bytes `x` enter as `x − 128` (an `i8`) at scale `1/255`, zero point 0:
//!   exactly the f32 network's `(x − 128) / 255`, no rounding.
//! * Every activation tensor is affine int8 with a range calibrated on frames
//!   ([`RangeObserver`]): `[min(lo, 0), max(hi, 0)]` over 255 steps. ReLU is the fused clamp
//!   (so a ReLU output's zero point is −128); a max-pool's output shares its input's
//!   quantisation (the pooled values are a subset of the input's).
//! * Weights are symmetric per output channel (`scale = max|w| / 127`, values in −127..=127),
//!   biases `i32` at `input_scale · weight_scale[c]`. Convolutions requantise as TFLite's
//!   `CONV_2D`, dense layers as TensorFlow 2.21's `FULLY_CONNECTED` ([`crate::quant`]); LRN is
//!   [`LrnS8`](crate::quant::LrnS8), its table derived at load time from the two tensors'
//!   quantisation and the network's LRN constants.
//!
//! # File format, version 1
//!
//! Little-endian throughout; no alignment is assumed, so a board can `include_bytes!` the file
//! and [`QuantModel::parse`] it in place (zero-copy: the weights are read from the file's bytes).
//!
//! ```text
//! offset  size  field
//! 0       4     magic  "VQ8M"
//! 4       2     format version (u16) = 1
//! 6       2     header length (u16) = 48
//! 8       4     input   — side of the square RGB frame (u32)
//! 12      20    conv    — output channels of conv1 … conv5 (5 × u32)
//! 32      8     dense   — widths of local1, local2 (2 × u32)
//! 40      4     tile    — output pixels per im2col tile (u32)
//! 44      4     payload length in bytes (u32)
//! 48      P     payload:
//!                 10 activation records, each scale (f32) and zero point (i32, −128..=127),
//!                 in the order of ACTIVATION_NAMES: conv1, norm1, conv2, norm2, conv3, conv4,
//!                 conv5, local1, local2, output;
//!                 then for each of the 8 layers of LAYER_NAMES (conv1 … conv5, local1, local2,
//!                 softmax_linear), with C its output channels and L its weight count:
//!                   C weight scales (f32, finite, > 0),
//!                   C biases (i32),
//!                   L weights (i8), HWIO for convolutions, [in, out] for dense layers.
//! 48 + P  4     CRC-32 (IEEE 802.3 / zlib) of bytes 0 .. 48 + P (header and payload)
//! ```
//!
//! The configuration fixes every length, so `P` is checked against it and the file must be
//! exactly `48 + P + 4` bytes. [`QuantModel::parse`] checks, in this order: the length of the
//! fixed fields, magic, version, header length, the configuration (it must give a valid
//! geometry), the payload length, the file length, the checksum, and then every value (scales,
//! zero points, the multipliers they imply, the LRN layers). Nothing is used before all checks
//! pass; nothing is read outside the file.
//!
//! A file for another configuration parses; a caller expecting one network compares
//! [`QuantModel::config`] with it.

mod crc32;
mod error;
mod format;
mod infer;
mod model;
mod writer;

pub use crc32::crc32;
pub use error::ModelError;
pub use format::{
    model_len, ACTIVATIONS, ACTIVATION_NAMES, FORMAT_VERSION, HEADER_LEN, INPUT_SCALE, LAYERS,
    LAYER_NAMES, MAGIC,
};
pub use infer::{QuantLayout, QuantNet};
pub use model::{LayerView, QuantModel};
pub use writer::{quantize_model, RangeObserver};

#[cfg(test)]
mod tests;
