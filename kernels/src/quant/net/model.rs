//! The zero-copy, fully validating model file parser.

use super::crc32::crc32;
use super::error::ModelError;
use super::format::{
    encode_input, encode_layer, sections, table_len, LayerSpan, ACT_RECORD, FORMAT_VERSION,
    HEADER_LEN, INPUT_RECORD, INPUT_SCALE, LAYER_RECORD, MAGIC, TRAILER_LEN,
};
use crate::net::{Activation, InputKind, LayerGeometry, Network, Plan, MAX_LAYERS};
use crate::quant::{LrnS8, QuantParams, QuantizedMultiplier};

/// A parsed int8 model, validated against the network it is for, borrowing the file's bytes
/// (nothing is copied).
#[derive(Debug, Clone, Copy)]
pub struct QuantModel<'a> {
    bytes: &'a [u8],
    plan: Plan,
    activations: [QuantParams; MAX_LAYERS + 1],
    layers: [LayerSpan; MAX_LAYERS],
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

/// The quantisation of a `u8` frame: scale `1/255`, zero point 0.
pub(crate) fn input_params() -> QuantParams {
    match QuantParams::new(INPUT_SCALE, 0) {
        Ok(p) => p,
        Err(_) => unreachable!("1/255 is a valid scale"),
    }
}

impl<'a> QuantModel<'a> {
    /// Validates a whole model file against `net`, the network the caller runs (a board passes
    /// its own table), and returns a view of it. Checks, in this order: the fixed header's
    /// length, magic, version, header length, the file length the declared payload implies,
    /// the checksum, the layer table against `net`'s (layer count, input, every layer), the
    /// payload length `net` implies, and then every value (scales, zero points, the
    /// multipliers they imply, the LRN layers). Nothing is used before all checks pass;
    /// nothing is read outside `bytes`; never panics.
    ///
    /// # Errors
    /// The first failed check, as a [`ModelError`]: [`Truncated`](ModelError::Truncated),
    /// [`BadMagic`](ModelError::BadMagic), [`UnsupportedVersion`](ModelError::UnsupportedVersion)
    /// (naming the file's version, e.g. 1 for a file without a layer table),
    /// [`HeaderLength`](ModelError::HeaderLength), [`TrailingBytes`](ModelError::TrailingBytes),
    /// [`Checksum`](ModelError::Checksum), [`LayerCount`](ModelError::LayerCount),
    /// [`OtherInput`](ModelError::OtherInput), [`OtherLayer`](ModelError::OtherLayer),
    /// [`Config`](ModelError::Config) (`net` is no valid network),
    /// [`PayloadLength`](ModelError::PayloadLength), [`InvalidQuant`](ModelError::InvalidQuant).
    pub fn parse(bytes: &'a [u8], net: &Network) -> Result<Self, ModelError> {
        let got = bytes.len();
        let fixed = HEADER_LEN + TRAILER_LEN;
        // Magic, version and header length first, so a file of another version says so.
        if got < 8 {
            return Err(ModelError::Truncated {
                expected: fixed,
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
        if got < fixed {
            return Err(ModelError::Truncated {
                expected: fixed,
                got,
            });
        }
        // u32 → usize may not fit on a 16-bit target; saturating keeps it an error there.
        let size = |at: usize| usize::try_from(u32_at(bytes, at)).unwrap_or(usize::MAX);
        let count = size(8);
        let declared = size(12);
        let total = declared.saturating_add(fixed);
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

        let plan = net.plan().map_err(ModelError::Config)?;
        let expected = plan.layer_count();
        if count != expected {
            return Err(ModelError::LayerCount {
                found: count,
                expected,
            });
        }
        if declared < table_len(count) {
            return Err(ModelError::PayloadLength {
                expected: table_len(count),
                declared,
            });
        }
        let table = &bytes[HEADER_LEN..HEADER_LEN + table_len(count)];
        let input = encode_input(net);
        if (0..4).any(|k| u32_at(table, 4 * k) != input[k]) {
            return Err(ModelError::OtherInput);
        }
        for (i, l) in plan.layers().iter().enumerate() {
            let at = INPUT_RECORD + LAYER_RECORD * i;
            if table[at..at + LAYER_RECORD] != encode_layer(&l.layer.op, l.layer.activation) {
                return Err(ModelError::OtherLayer {
                    index: i,
                    name: l.layer.name,
                });
            }
        }
        let s = sections(&plan).map_err(ModelError::Config)?;
        if declared != s.payload_len {
            return Err(ModelError::PayloadLength {
                expected: s.payload_len,
                declared,
            });
        }

        let mut activations = [input_params(); MAX_LAYERS + 1];
        for (i, a) in activations.iter_mut().take(count + 1).enumerate() {
            let at = s.activations + i * ACT_RECORD;
            let scale = f32::from_bits(u32_at(bytes, at));
            let zero_point = u32_at(bytes, at + 4) as i32;
            *a = QuantParams::new(scale, zero_point).map_err(|_| ModelError::InvalidQuant {
                tensor: record_name(&plan, i),
                what: "scale or zero point",
            })?;
        }
        let model = Self {
            bytes,
            plan,
            activations,
            layers: s.layers,
        };
        model.check_values()?;
        Ok(model)
    }

    /// Every weight scale and the multipliers and LRN layers the scales imply; the input's and
    /// the pools' fixed quantisation; ReLU only where int8 fuses it.
    fn check_values(&self) -> Result<(), ModelError> {
        if self.plan.network.input.kind == InputKind::U8 && self.activations[0] != input_params() {
            return Err(ModelError::InvalidQuant {
                tensor: "input",
                what: "quantisation (u8 frames enter at 1/255, zero point 0)",
            });
        }
        for (l, pl) in self.plan.layers().iter().enumerate() {
            let name = pl.layer.name;
            let bad = |what| ModelError::InvalidQuant { tensor: name, what };
            let (input, output) = self.layer_io(l);
            match pl.geometry {
                LayerGeometry::Conv(_) | LayerGeometry::Dense(_) => {
                    let view = self.layer_view(l);
                    for c in 0..view.channels() {
                        let s = view.weight_scale(c);
                        if !(s.is_finite() && s > 0.0) {
                            return Err(bad("weight scale"));
                        }
                        let real =
                            f64::from(input.scale()) * f64::from(s) / f64::from(output.scale());
                        QuantizedMultiplier::from_real(real)
                            .map_err(|_| bad("rescaling multiplier"))?;
                    }
                }
                LayerGeometry::MaxPool(_) => {
                    if input != output {
                        return Err(bad("quantisation (a max-pool keeps its input's)"));
                    }
                }
                LayerGeometry::Lrn(g) => {
                    LrnS8::new(&g, input, output).map_err(|_| bad("LRN quantisation"))?;
                }
            }
            let fused = matches!(
                pl.geometry,
                LayerGeometry::Conv(_) | LayerGeometry::Dense(_)
            );
            if pl.layer.activation == Activation::Relu && !fused {
                return Err(bad(
                    "activation (int8 fuses ReLU into conv and dense layers only)",
                ));
            }
        }
        Ok(())
    }

    /// The network the model was checked against.
    pub const fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Activation record `i`: 0 is the input, `1 + l` layer `l`'s output.
    ///
    /// # Panics
    /// If `i > plan().layer_count()`.
    pub fn activation(&self, i: usize) -> QuantParams {
        assert!(
            i <= self.plan.layer_count(),
            "activation index out of range"
        );
        self.activations[i]
    }

    /// The parameters of layer `l`, `None` for a layer without any (or out of range).
    pub fn layer(&self, l: usize) -> Option<LayerView<'a>> {
        let span = *self.layers.get(l)?;
        (span.channels > 0).then_some(LayerView {
            bytes: self.bytes,
            span,
        })
    }

    /// The view of a layer that has parameters (empty otherwise).
    pub(crate) fn layer_view(&self, l: usize) -> LayerView<'a> {
        LayerView {
            bytes: self.bytes,
            span: self.layers[l],
        }
    }

    /// The input and output quantisation of layer `l`.
    pub(crate) fn layer_io(&self, l: usize) -> (QuantParams, QuantParams) {
        (self.activations[l], self.activations[l + 1])
    }

    /// The whole file.
    pub const fn bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

/// The name of activation record `i` (0: the input).
pub(crate) fn record_name(plan: &Plan, i: usize) -> &'static str {
    match i {
        0 => "input",
        _ => plan.layer(i - 1).layer.name,
    }
}
