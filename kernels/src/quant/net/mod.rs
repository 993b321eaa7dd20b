//! Any network table in int8: a compact, versioned model file that records the table, the
//! quantiser that writes it from a trained f32 network, and inference over caller-provided
//! buffers walking the same [`Plan`](crate::net::Plan) as the f32 network.
//!
//! # Quantisation
//!
//! * A `u8` input frame's bytes `x` enter as `x − 128` (an `i8`) at scale `1/255`, zero point
//!   0: exactly the f32 network's `(x − 128) / 255`, no rounding. `f32` input features are
//!   quantised with a calibrated record ([`RangeObserver::observe_input`]).
//! * Every layer's output is affine int8 with a range calibrated on examples
//!   ([`RangeObserver`]): `[min(lo, 0), max(hi, 0)]` over 255 steps. ReLU is the fused clamp of
//!   a conv or dense layer (so a ReLU output's zero point is −128); a max-pool's output keeps
//!   its input's quantisation (the pooled values are a subset of the input's).
//! * Weights are symmetric per output channel (`scale = max|w| / 127`, values in −127..=127),
//!   biases `i32` at `input_scale · weight_scale[c]`. Convolutions requantise as TFLite's
//!   `CONV_2D`, dense layers as TensorFlow 2.21's `FULLY_CONNECTED` ([`crate::quant`]); LRN is
//!   [`LrnS8`](crate::quant::LrnS8), its table derived at load time from the two tensors'
//!   quantisation and the layer's LRN constants.
//!
//! # File format, version 2
//!
//! Little-endian throughout; no alignment is assumed, so a board can `include_bytes!` the file
//! and [`QuantModel::parse`] it in place against its own table (zero-copy: the weights are read
//! from the file's bytes).
//!
//! ```text
//! offset  size  field
//! 0       4     magic  "VQ8M"
//! 4       2     format version (u16) = 2
//! 6       2     header length (u16) = 16
//! 8       4     layer count L (u32)
//! 12      4     payload length P in bytes (u32)
//! 16      P     payload:
//!                 the layer table: the input record (h, w, c, kind: 0 u8, 1 f32; 4 × u32),
//!                   then L layer records of 32 bytes: op (u8: 0 conv, 1 dense, 2 max-pool,
//!                   3 LRN), activation (u8: 0 linear, 1 ReLU), padding (u8: 0 SAME, 1 VALID),
//!                   0, then 7 × u32 — conv: kernel h, w, stride h, w, out channels; dense:
//!                   outputs; max-pool: window h, w, stride h, w; LRN: depth radius and the f32
//!                   bits of bias, alpha, beta; unused words 0;
//!                 L + 1 activation records, each scale (f32) and zero point (i32,
//!                   −128..=127): the input's, then every layer's output;
//!                 then for each conv or dense layer in table order, with C its output
//!                   channels and W its weight count:
//!                   C weight scales (f32, finite, > 0),
//!                   C biases (i32),
//!                   W weights (i8), HWIO for convolutions, [in, out] for dense layers.
//! 16 + P  4     CRC-32 (IEEE 802.3 / zlib) of bytes 0 .. 16 + P (header and payload)
//! ```
//!
//! The table records each layer's op, sizes and activation (not names, tags, initialisers, the
//! loss or the im2col tile, which do not change the integers). [`QuantModel::parse`] checks the
//! file against the caller's network: a model of another network is refused naming the first
//! layer that differs; a version-1 file (the valence network's sizes only, no table) is refused
//! as [`ModelError::UnsupportedVersion`] naming version 1.

mod crc32;
mod error;
mod format;
mod infer;
mod model;
mod writer;

pub use crc32::crc32;
pub use error::ModelError;
pub use format::{
    model_len, FORMAT_VERSION, HEADER_LEN, INPUT_RECORD, INPUT_SCALE, LAYER_RECORD, MAGIC,
};
pub use infer::{Int8Kernels, QuantLayout, QuantNet};
pub use model::{LayerView, QuantModel};
pub use writer::{quantize_model, RangeObserver};

#[cfg(test)]
mod tests;
