//! The file format's constants, the layer table's encoding, and the byte offsets a network
//! implies.

use crate::error::{add, mul, tri};
use crate::net::{Activation, InputKind, LayerGeometry, Network, Op, Plan, MAX_LAYERS};
use crate::{KernelError, Padding};

/// The first four bytes of every model file.
pub const MAGIC: [u8; 4] = *b"VQ8M";
/// The format version this code writes and reads.
pub const FORMAT_VERSION: u16 = 2;
/// Bytes of the fixed header (magic, version, header length, layer count, payload length).
pub const HEADER_LEN: usize = 16;
/// Bytes of the CRC-32 trailer.
pub(crate) const TRAILER_LEN: usize = 4;
/// Bytes of the input record of the layer table (h, w, c, kind).
pub const INPUT_RECORD: usize = 16;
/// Bytes of one layer record of the layer table.
pub const LAYER_RECORD: usize = 32;
/// Bytes of one activation record (scale f32, zero point i32).
pub(crate) const ACT_RECORD: usize = 8;
/// The input's scale for `u8` frames: a byte `x` enters as `x − 128` at scale `1/255`, zero
/// point 0.
pub const INPUT_SCALE: f32 = 1.0 / 255.0;

/// Where one layer's values lie in the file (absolute byte offsets); all 0 for a layer without
/// parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(crate) struct LayerSpan {
    /// Output channels `C`.
    pub channels: usize,
    /// `C` f32 scales.
    pub scales: usize,
    /// `C` i32 biases.
    pub bias: usize,
    /// The i8 weights.
    pub weights: usize,
    /// Number of weights `L`.
    pub weights_len: usize,
}

/// Every section of a file for one plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sections {
    /// First activation record (the input's, then one per layer).
    pub activations: usize,
    pub layers: [LayerSpan; MAX_LAYERS],
    pub payload_len: usize,
}

/// The layer table's bytes after the header: the input record, then one record per layer.
pub(crate) const fn table_len(layers: usize) -> usize {
    INPUT_RECORD + LAYER_RECORD * layers
}

/// A size as stored: sizes beyond `u32` (no board's) saturate, and then match no file.
fn sat(v: usize) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// The input record: `h, w, c, kind` (0 `u8`, 1 `f32`) as `u32`s.
pub(crate) fn encode_input(net: &Network) -> [u32; 4] {
    let i = net.input;
    let kind = match i.kind {
        InputKind::U8 => 0,
        InputKind::F32 => 1,
    };
    [sat(i.h), sat(i.w), sat(i.c), kind]
}

/// One layer record: `op, activation, padding, 0` as bytes, then seven `u32`s — conv: kernel
/// h, w, stride h, w, out channels; dense: outputs; max-pool: window h, w, stride h, w; LRN:
/// depth radius and the bits of bias, alpha, beta; unused words 0.
pub(crate) fn encode_layer(op: &Op, activation: Activation) -> [u8; LAYER_RECORD] {
    let pad = |p: Padding| match p {
        Padding::Same => 0,
        Padding::Valid => 1,
    };
    let (code, padding, words): (u8, u8, [u32; 7]) = match *op {
        Op::Conv {
            kernel,
            stride,
            padding,
            out,
            ..
        } => (
            0,
            pad(padding),
            [
                sat(kernel[0]),
                sat(kernel[1]),
                sat(stride[0]),
                sat(stride[1]),
                sat(out),
                0,
                0,
            ],
        ),
        Op::Dense { out, .. } => (1, 0, [sat(out), 0, 0, 0, 0, 0, 0]),
        Op::MaxPool {
            window,
            stride,
            padding,
        } => (
            2,
            pad(padding),
            [
                sat(window[0]),
                sat(window[1]),
                sat(stride[0]),
                sat(stride[1]),
                0,
                0,
                0,
            ],
        ),
        Op::Lrn {
            depth_radius,
            bias,
            alpha,
            beta,
        } => (
            3,
            0,
            [
                sat(depth_radius),
                bias.to_bits(),
                alpha.to_bits(),
                beta.to_bits(),
                0,
                0,
                0,
            ],
        ),
    };
    let act = match activation {
        Activation::Linear => 0,
        Activation::Relu => 1,
    };
    let mut out = [0u8; LAYER_RECORD];
    out[0] = code;
    out[1] = act;
    out[2] = padding;
    for (k, w) in words.iter().enumerate() {
        out[4 + 4 * k..8 + 4 * k].copy_from_slice(&w.to_le_bytes());
    }
    out
}

/// The sections of a file for `plan`, with checked arithmetic (a 32-bit `usize` must not wrap).
pub(crate) const fn sections(plan: &Plan) -> Result<Sections, KernelError> {
    let empty = LayerSpan {
        channels: 0,
        scales: 0,
        bias: 0,
        weights: 0,
        weights_len: 0,
    };
    let mut layers = [empty; MAX_LAYERS];
    let n = plan.layer_count();
    let activations = HEADER_LEN + table_len(n);
    let mut at = activations + ACT_RECORD * (n + 1);
    let mut i = 0;
    while i < n {
        let (c, l) = match plan.layer(i).geometry {
            LayerGeometry::Conv(g) => (g.bias_len(), g.filter_len()),
            LayerGeometry::Dense(g) => (g.bias_len(), g.weights_len()),
            LayerGeometry::MaxPool(_) | LayerGeometry::Lrn(_) => (0, 0),
        };
        if c > 0 {
            let four_c = tri!(mul("model", c, 4));
            let scales = at;
            let bias = tri!(add("model", scales, four_c));
            let weights = tri!(add("model", bias, four_c));
            at = tri!(add("model", weights, l));
            layers[i] = LayerSpan {
                channels: c,
                scales,
                bias,
                weights,
                weights_len: l,
            };
        }
        i += 1;
    }
    // The trailer must fit too.
    let _ = tri!(add("model", at, TRAILER_LEN));
    Ok(Sections {
        activations,
        layers,
        payload_len: at - HEADER_LEN,
    })
}

/// Bytes of the model file of `net`: header, layer table, payload and checksum.
///
/// # Errors
/// As [`Plan::new`]; [`KernelError::Overflow`] (`model`) if the length does not fit in `usize`.
pub const fn model_len(net: &Network) -> Result<usize, KernelError> {
    let plan = tri!(Plan::new(net));
    let s = tri!(sections(&plan));
    Ok(HEADER_LEN + s.payload_len + TRAILER_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiny_model_length_by_hand() {
        // TINY: 7561 parameters, of which 97 biases: 7464 i8 weights and 97 × (f32 scale +
        // i32 bias); a table of 16 + 13 × 32 bytes; 14 activation records of 8 bytes.
        let weights = 7561 - 97;
        assert_eq!(
            model_len(&Network::TINY),
            Ok(16 + 16 + 13 * 32 + 14 * 8 + 97 * 8 + weights + 4)
        );
    }
}
