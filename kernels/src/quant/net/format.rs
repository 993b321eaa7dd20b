//! The file format's constants and the byte offsets a configuration implies.

use crate::error::{add, mul};
use crate::net::{Geometry, ValenceConfig};
use crate::KernelError;

/// The first four bytes of every model file.
pub const MAGIC: [u8; 4] = *b"VQ8M";
/// The format version this code writes and reads.
pub const FORMAT_VERSION: u16 = 1;
/// Bytes of the fixed header (magic, version, header length, sizes, payload length).
pub const HEADER_LEN: usize = 48;
/// Bytes of the CRC-32 trailer.
pub(crate) const TRAILER_LEN: usize = 4;
/// Number of activation records.
pub const ACTIVATIONS: usize = 10;
/// The activation tensors with their own quantisation, in file order. Pools share their
/// input's; the input frame's is fixed ([`INPUT_SCALE`], zero point 0).
pub const ACTIVATION_NAMES: [&str; ACTIVATIONS] = [
    "conv1", "norm1", "conv2", "norm2", "conv3", "conv4", "conv5", "local1", "local2", "output",
];
/// Number of layers with parameters.
pub const LAYERS: usize = 8;
/// The layers with parameters, in file order (the f32 parameter table's order).
pub const LAYER_NAMES: [&str; LAYERS] = [
    "conv1",
    "conv2",
    "conv3",
    "conv4",
    "conv5",
    "local1",
    "local2",
    "softmax_linear",
];
/// The input's scale: a frame byte `x` enters as `x − 128` at scale `1/255`, zero point 0.
pub const INPUT_SCALE: f32 = 1.0 / 255.0;

/// Bytes of one activation record (scale f32, zero point i32).
pub(crate) const ACT_RECORD: usize = 8;

/// Index in [`ACTIVATION_NAMES`] of each layer's input (`None`: the frame).
pub(crate) const INPUT_OF: [Option<usize>; LAYERS] = [
    None,
    Some(1),
    Some(3),
    Some(4),
    Some(5),
    Some(6),
    Some(7),
    Some(8),
];
/// Index in [`ACTIVATION_NAMES`] of each layer's output.
pub(crate) const OUTPUT_OF: [usize; LAYERS] = [0, 2, 4, 5, 6, 7, 8, 9];

/// Where one layer's values lie in the file (absolute byte offsets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// Every section of a file for one configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sections {
    pub layers: [LayerSpan; LAYERS],
    pub payload_len: usize,
}

/// `(channels, weights)` of each layer.
pub(crate) const fn layer_sizes(g: &Geometry) -> [(usize, usize); LAYERS] {
    let c = [g.conv1, g.conv2, g.conv3, g.conv4, g.conv5];
    let d = [g.local1, g.local2, g.softmax];
    [
        (c[0].bias_len(), c[0].filter_len()),
        (c[1].bias_len(), c[1].filter_len()),
        (c[2].bias_len(), c[2].filter_len()),
        (c[3].bias_len(), c[3].filter_len()),
        (c[4].bias_len(), c[4].filter_len()),
        (d[0].bias_len(), d[0].weights_len()),
        (d[1].bias_len(), d[1].weights_len()),
        (d[2].bias_len(), d[2].weights_len()),
    ]
}

macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return Err(e),
        }
    };
}

/// The sections of a file for geometry `g`, with checked arithmetic (a 32-bit `usize` must not
/// wrap on a hostile header).
pub(crate) const fn sections(g: &Geometry) -> Result<Sections, KernelError> {
    let sizes = layer_sizes(g);
    let empty = LayerSpan {
        channels: 0,
        scales: 0,
        bias: 0,
        weights: 0,
        weights_len: 0,
    };
    let mut layers = [empty; LAYERS];
    let mut at = HEADER_LEN + ACTIVATIONS * ACT_RECORD;
    let mut i = 0;
    while i < LAYERS {
        let (c, l) = sizes[i];
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
        i += 1;
    }
    // The trailer must fit too.
    let _ = tri!(add("model", at, TRAILER_LEN));
    Ok(Sections {
        layers,
        payload_len: at - HEADER_LEN,
    })
}

/// Bytes of the model file of `cfg`: header, payload and checksum.
///
/// # Errors
/// As [`ValenceConfig::geometry`]; [`KernelError::Overflow`] (`model`) if the length does not fit
/// in `usize`.
pub const fn model_len(cfg: &ValenceConfig) -> Result<usize, KernelError> {
    let g = tri!(cfg.geometry());
    let s = tri!(sections(&g));
    Ok(HEADER_LEN + s.payload_len + TRAILER_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiny_model_length_by_hand() {
        // TINY: 7561 parameters as i8, plus 97 channels × (f32 scale + i32 bias − one f32
        // bias already counted among the parameters) … computed plainly: weights 7561 − 97
        // biases = 7464 i8, 97 × 8 bytes of scales and biases, 80 bytes of activations.
        let weights = 7561 - 97;
        assert_eq!(
            model_len(&ValenceConfig::TINY),
            Ok(48 + 80 + 97 * 8 + weights + 4)
        );
    }
}
