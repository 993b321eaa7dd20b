//! The zero-copy, fully validating model file parser.

use super::crc32::crc32;
use super::error::ModelError;
use super::format::{
    sections, LayerSpan, ACTIVATIONS, ACTIVATION_NAMES, ACT_RECORD, FORMAT_VERSION, HEADER_LEN,
    INPUT_OF, INPUT_SCALE, LAYERS, LAYER_NAMES, MAGIC, OUTPUT_OF, TRAILER_LEN,
};
use crate::lrn::Lrn;
use crate::net::{Geometry, ValenceConfig, LRN_ALPHA, LRN_BETA, LRN_BIAS, LRN_DEPTH_RADIUS};
use crate::quant::{LrnS8, QuantParams, QuantizedMultiplier};

/// A parsed, validated int8 model borrowing the file's bytes (nothing is copied).
#[derive(Debug, Clone, Copy)]
pub struct QuantModel<'a> {
    bytes: &'a [u8],
    config: ValenceConfig,
    geometry: Geometry,
    activations: [QuantParams; ACTIVATIONS],
    layers: [LayerSpan; LAYERS],
}

/// One layer's parameters inside the file.
#[derive(Debug, Clone, Copy)]
pub struct LayerView<'a> {
    bytes: &'a [u8],
    span: LayerSpan,
}

pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

impl<'a> LayerView<'a> {
    /// Output channels.
    pub const fn channels(&self) -> usize {
        self.span.channels
    }

    /// Channel `c`'s weight scale (`c < channels()`).
    ///
    /// # Panics
    /// If `c >= channels()`.
    pub fn weight_scale(&self, c: usize) -> f32 {
        assert!(c < self.span.channels, "channel out of range");
        f32::from_bits(u32_at(self.bytes, self.span.scales + 4 * c))
    }

    /// Channel `c`'s `i32` bias.
    ///
    /// # Panics
    /// If `c >= channels()`.
    pub fn bias(&self, c: usize) -> i32 {
        assert!(c < self.span.channels, "channel out of range");
        u32_at(self.bytes, self.span.bias + 4 * c) as i32
    }

    /// The weights as stored: `i8` two's-complement bytes, HWIO (conv) or `[in, out]` (dense).
    pub fn weight_bytes(&self) -> &'a [u8] {
        &self.bytes[self.span.weights..self.span.weights + self.span.weights_len]
    }
}

/// The quantisation of the network's input: scale `1/255`, zero point 0.
pub(crate) fn input_params() -> QuantParams {
    match QuantParams::new(INPUT_SCALE, 0) {
        Ok(p) => p,
        Err(_) => unreachable!("1/255 is a valid scale"),
    }
}

/// An LRN layer of the network over `channels`.
pub(crate) fn lrn(channels: usize) -> Result<Lrn, crate::KernelError> {
    Lrn::new(channels, LRN_DEPTH_RADIUS, LRN_BIAS, LRN_ALPHA, LRN_BETA)
}

impl<'a> QuantModel<'a> {
    /// Validates a whole model file (see the [module documentation](super) for the order of the
    /// checks) and returns a view of it. Reads nothing outside `bytes`; never panics.
    ///
    /// # Errors
    /// The first failed check, as a [`ModelError`]: [`Truncated`](ModelError::Truncated),
    /// [`BadMagic`](ModelError::BadMagic), [`UnsupportedVersion`](ModelError::UnsupportedVersion)
    /// (naming the file's version), [`HeaderLength`](ModelError::HeaderLength),
    /// [`Config`](ModelError::Config), [`PayloadLength`](ModelError::PayloadLength),
    /// [`TrailingBytes`](ModelError::TrailingBytes), [`Checksum`](ModelError::Checksum),
    /// [`InvalidQuant`](ModelError::InvalidQuant).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ModelError> {
        let got = bytes.len();
        // Magic, version and header length first, so a file of another version says so.
        if got < 8 {
            return Err(ModelError::Truncated {
                expected: HEADER_LEN + TRAILER_LEN,
                got,
            });
        }
        let magic = [bytes[0], bytes[1], bytes[2], bytes[3]];
        if magic != MAGIC {
            return Err(ModelError::BadMagic { found: magic });
        }
        let version = u16_at(bytes, 4);
        if version != FORMAT_VERSION {
            return Err(ModelError::UnsupportedVersion {
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let header_len = u16_at(bytes, 6);
        if usize::from(header_len) != HEADER_LEN {
            return Err(ModelError::HeaderLength { found: header_len });
        }
        if got < HEADER_LEN + TRAILER_LEN {
            return Err(ModelError::Truncated {
                expected: HEADER_LEN + TRAILER_LEN,
                got,
            });
        }
        // u32 → usize may not fit on a 16-bit target; saturating keeps it an error there.
        let size = |at: usize| usize::try_from(u32_at(bytes, at)).unwrap_or(usize::MAX);
        let config = ValenceConfig {
            input: size(8),
            conv: [size(12), size(16), size(20), size(24), size(28)],
            dense: [size(32), size(36)],
            tile: size(40),
        };
        let geometry = config.geometry().map_err(ModelError::Config)?;
        let s = sections(&geometry).map_err(ModelError::Config)?;
        let declared = size(44);
        if declared != s.payload_len {
            return Err(ModelError::PayloadLength {
                expected: s.payload_len,
                declared,
            });
        }
        // `sections` checked that this sum fits.
        let total = HEADER_LEN + s.payload_len + TRAILER_LEN;
        if got < total {
            return Err(ModelError::Truncated {
                expected: total,
                got,
            });
        }
        if got > total {
            return Err(ModelError::TrailingBytes {
                expected: total,
                got,
            });
        }
        let body = total - TRAILER_LEN;
        let stored = u32_at(bytes, body);
        let computed = crc32(&bytes[..body]);
        if stored != computed {
            return Err(ModelError::Checksum { stored, computed });
        }

        let mut activations = [input_params(); ACTIVATIONS];
        for (i, a) in activations.iter_mut().enumerate() {
            let at = HEADER_LEN + i * ACT_RECORD;
            let scale = f32::from_bits(u32_at(bytes, at));
            let zero_point = u32_at(bytes, at + 4) as i32;
            *a = QuantParams::new(scale, zero_point).map_err(|_| ModelError::InvalidQuant {
                tensor: ACTIVATION_NAMES[i],
                what: "scale or zero point",
            })?;
        }
        let model = Self {
            bytes,
            config,
            geometry,
            activations,
            layers: s.layers,
        };
        model.check_values()?;
        Ok(model)
    }

    /// Every weight scale and the multipliers and LRN layers the scales imply.
    fn check_values(&self) -> Result<(), ModelError> {
        for (l, name) in LAYER_NAMES.iter().enumerate() {
            let (input, output) = self.layer_io(l);
            let view = self.layer(l);
            for c in 0..view.channels() {
                let s = view.weight_scale(c);
                let bad = |what| ModelError::InvalidQuant { tensor: name, what };
                if !(s.is_finite() && s > 0.0) {
                    return Err(bad("weight scale"));
                }
                let real = f64::from(input.scale()) * f64::from(s) / f64::from(output.scale());
                QuantizedMultiplier::from_real(real).map_err(|_| bad("rescaling multiplier"))?;
            }
        }
        for (norm, conv, channels) in [(1, 0, self.config.conv[0]), (3, 2, self.config.conv[1])] {
            let lrn = lrn(channels).map_err(ModelError::Config)?;
            LrnS8::new(&lrn, self.activations[conv], self.activations[norm]).map_err(|_| {
                ModelError::InvalidQuant {
                    tensor: ACTIVATION_NAMES[norm],
                    what: "LRN quantisation",
                }
            })?;
        }
        Ok(())
    }

    /// The network sizes in the header.
    pub const fn config(&self) -> ValenceConfig {
        self.config
    }

    /// The validated geometry of [`QuantModel::config`].
    pub const fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    /// The quantisation of activation `i` of [`ACTIVATION_NAMES`](super::ACTIVATION_NAMES).
    ///
    /// # Panics
    /// If `i >= ACTIVATIONS`.
    pub fn activation(&self, i: usize) -> QuantParams {
        self.activations[i]
    }

    /// Layer `i` of [`LAYER_NAMES`](super::LAYER_NAMES).
    ///
    /// # Panics
    /// If `i >= LAYERS`.
    pub fn layer(&self, i: usize) -> LayerView<'a> {
        LayerView {
            bytes: self.bytes,
            span: self.layers[i],
        }
    }

    /// The input and output quantisation of layer `i`.
    pub(crate) fn layer_io(&self, i: usize) -> (QuantParams, QuantParams) {
        let input = match INPUT_OF[i] {
            Some(a) => self.activations[a],
            None => input_params(),
        };
        (input, self.activations[OUTPUT_OF[i]])
    }

    /// The whole file.
    pub const fn bytes(&self) -> &'a [u8] {
        self.bytes
    }
}
