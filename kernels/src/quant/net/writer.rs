//! The quantiser: calibrated activation ranges and an f32 parameter block in, a model file out.

use super::crc32::crc32;
use super::error::ModelError;
use super::format::{
    encode_input, encode_layer, sections, table_len, ACT_RECORD, FORMAT_VERSION, HEADER_LEN,
    INPUT_RECORD, LAYER_RECORD, MAGIC, TRAILER_LEN,
};
use super::model::{input_params, record_name, QuantModel};
use crate::error::check_len;
use crate::net::{InputKind, LayerGeometry, Network, Observer, Probe, Stage, MAX_LAYERS};
use crate::quant::QuantParams;

/// Activation records: the input's, then one per layer.
const RECORDS: usize = MAX_LAYERS + 1;

/// Records the minimum and maximum of every layer's output (after its activation) while the
/// f32 network runs forward ([`crate::net::Net::forward`] with this as its observer) over
/// calibration frames; for an `f32` input, [`RangeObserver::observe_input`] records the input's.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RangeObserver {
    min: [f32; RECORDS],
    max: [f32; RECORDS],
}

impl Default for RangeObserver {
    fn default() -> Self {
        Self::new()
    }
}

impl RangeObserver {
    /// No value seen yet (every range empty).
    pub const fn new() -> Self {
        Self {
            min: [f32::INFINITY; RECORDS],
            max: [f32::NEG_INFINITY; RECORDS],
        }
    }

    /// The `(min, max)` seen for record `i`: 0 the input, `1 + l` layer `l`'s output
    /// (`(∞, −∞)` before any value).
    ///
    /// # Panics
    /// If `i > MAX_LAYERS`.
    pub fn range(&self, i: usize) -> (f32, f32) {
        (self.min[i], self.max[i])
    }

    /// *Prepare*: the quantisation of activation `i`: the range widened to hold 0 (so real 0 is
    /// exact), over 255 steps, zero point `−128 − lo / scale` rounded. An empty or all-zero
    /// range gets scale `2^−10`.
    ///
    /// # Panics
    /// If `i > MAX_LAYERS`.
    pub fn params(&self, i: usize) -> QuantParams {
        let lo = if self.min[i] < 0.0 { self.min[i] } else { 0.0 };
        let hi = if self.max[i] > 0.0 { self.max[i] } else { 0.0 };
        let mut scale = (f64::from(hi) - f64::from(lo)) / 255.0;
        if !(scale.is_finite() && scale >= f64::from(f32::MIN_POSITIVE) * 256.0) {
            scale = 1.0 / 1024.0;
        }
        let scale = scale as f32;
        let zp = libm::round(-128.0 - f64::from(lo) / f64::from(scale)) as i32;
        match QuantParams::new(scale, zp.clamp(-128, 127)) {
            Ok(p) => p,
            Err(_) => unreachable!("scale is finite and positive, zero point clamped"),
        }
    }

    /// Widens record `i`'s range to hold `values`.
    fn widen(&mut self, i: usize, values: &[f32]) {
        for &v in values {
            // NaN compares false both ways and is skipped.
            if v < self.min[i] {
                self.min[i] = v;
            }
            if v > self.max[i] {
                self.max[i] = v;
            }
        }
    }

    /// Records the range of `f32` input features (an [`InputKind::F32`] network's input).
    pub fn observe_input(&mut self, values: &[f32]) {
        self.widen(0, values);
    }
}

impl Observer for RangeObserver {
    fn observe(&mut self, probe: Probe, values: &[f32]) {
        if probe.stage == Stage::Output && probe.index < MAX_LAYERS {
            self.widen(probe.index + 1, values);
        }
    }
}

fn put_u32(out: &mut [u8], at: usize, v: u32) {
    out[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// *Prepare* (floating point): quantises the f32 parameter block `params` of a `net` network
/// (in [`Network::params`] order, e.g. [`crate::net::Net::params`]) with the activation
/// ranges of `ranges`, and writes the model file — header, `net`'s layer table, quantisation,
/// parameters, checksum — into `out` (exactly [`model_len`](super::model_len)`(net)` bytes).
/// Returns the file's CRC-32.
///
/// A `u8` input's quantisation is fixed (1/255, zero point 0) and a max-pool's output keeps its
/// input's; every other record comes from `ranges`. Weights are symmetric per output channel,
/// `scale_c = max|w_c| / 127` — raised when needed so the bias fits in `i32`
/// (`|b| / (s_in · scale_c) ≤ 2^30`), `2^−20` for an all-zero channel — and rounded to nearest
/// (ties away from zero); biases `round(b / (s_in · scale_c))` in `f64`. The result is checked
/// by parsing it back, so whatever this returns `Ok` for, [`QuantModel::parse`] accepts.
///
/// # Errors
/// `net`'s plan errors as [`ModelError::Config`]; [`ModelError::Argument`] with
/// [`KernelError::Length`](crate::KernelError::Length) naming `params` or `out`;
/// [`ModelError::NonFinite`] for a non-finite parameter; [`ModelError::InvalidQuant`] when a
/// rescaling multiplier falls out of range or a layer cannot run in int8 (ReLU after a pool or
/// LRN). `out` may be partly written on the last two.
pub fn quantize_model(
    net: &Network,
    params: &[f32],
    ranges: &RangeObserver,
    out: &mut [u8],
) -> Result<u32, ModelError> {
    let plan = net.plan().map_err(ModelError::Config)?;
    let specs = plan.params();
    let s = sections(&plan).map_err(ModelError::Config)?;
    check_len("params", plan.param_len(), params.len())?;
    let total = HEADER_LEN + s.payload_len + TRAILER_LEN;
    check_len("out", total, out.len())?;
    let as_u32 = |v: usize| {
        u32::try_from(v)
            .map_err(|_| ModelError::Config(crate::KernelError::Overflow { arg: "model" }))
    };
    let n = plan.layer_count();

    out[..4].copy_from_slice(&MAGIC);
    out[4..6].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    out[6..8].copy_from_slice(&(HEADER_LEN as u16).to_le_bytes());
    put_u32(out, 8, as_u32(n)?);
    put_u32(out, 12, as_u32(s.payload_len)?);
    for (k, v) in encode_input(net).iter().enumerate() {
        put_u32(out, HEADER_LEN + 4 * k, *v);
    }
    for (i, l) in plan.layers().iter().enumerate() {
        let at = HEADER_LEN + INPUT_RECORD + LAYER_RECORD * i;
        out[at..at + LAYER_RECORD].copy_from_slice(&encode_layer(&l.layer.op, l.layer.activation));
    }
    debug_assert_eq!(s.activations, HEADER_LEN + table_len(n));
    let mut acts = [input_params(); RECORDS];
    if net.input.kind == InputKind::F32 {
        acts[0] = ranges.params(0);
    }
    for (i, l) in plan.layers().iter().enumerate() {
        acts[i + 1] = match l.geometry {
            LayerGeometry::MaxPool(_) => acts[i],
            _ => ranges.params(i + 1),
        };
    }
    for (i, a) in acts.iter().take(n + 1).enumerate() {
        let at = s.activations + i * ACT_RECORD;
        put_u32(out, at, a.scale().to_bits());
        put_u32(out, at + 4, a.zero_point() as u32);
    }
    for (l, pl) in plan.layers().iter().enumerate() {
        let Some([w, b]) = pl.params else {
            continue;
        };
        let span = s.layers[l];
        let (w, b) = (&specs[w], &specs[b]);
        let weights = &params[w.range()];
        let bias = &params[b.range()];
        if weights.iter().chain(bias).any(|v| !v.is_finite()) {
            return Err(ModelError::NonFinite {
                layer: record_name(&plan, l + 1),
            });
        }
        let s_in = f64::from(acts[l].scale());
        let c_out = span.channels;
        debug_assert_eq!(c_out, bias.len());
        for (c, &b_c) in bias.iter().enumerate() {
            let max_abs = weights
                .iter()
                .skip(c)
                .step_by(c_out)
                .fold(0.0f32, |m, &v| m.max(v.abs()));
            let for_bias = f64::from(b_c.abs()) / (s_in * f64::from(1u32 << 30));
            let mut scale = (f64::from(max_abs) / 127.0).max(for_bias) as f32;
            if !(scale > 0.0 && scale.is_finite()) {
                scale = 1.0 / (1u32 << 20) as f32;
            }
            put_u32(out, span.scales + 4 * c, scale.to_bits());
            let q = libm::round(f64::from(b_c) / (s_in * f64::from(scale)));
            put_u32(out, span.bias + 4 * c, (q as i32) as u32);
            let inv = f64::from(scale);
            for (k, &v) in weights.iter().enumerate().skip(c).step_by(c_out) {
                let q = libm::round(f64::from(v) / inv).clamp(-127.0, 127.0) as i8;
                out[span.weights + k] = q as u8;
            }
        }
    }
    let body = total - TRAILER_LEN;
    let crc = crc32(&out[..body]);
    put_u32(out, body, crc);
    QuantModel::parse(out, net)?;
    Ok(crc)
}
