//! The quantiser: calibrated activation ranges and an f32 parameter block in, a model file out.

use super::crc32::crc32;
use super::error::ModelError;
use super::format::{
    sections, ACTIVATIONS, ACT_RECORD, FORMAT_VERSION, HEADER_LEN, INPUT_OF, LAYERS, LAYER_NAMES,
    MAGIC, TRAILER_LEN,
};
use super::model::{input_params, QuantModel};
use crate::error::check_len;
use crate::net::{Observer, Probe, ValenceConfig};
use crate::quant::QuantParams;

/// The f32 network's probe whose range sets each activation's quantisation, in
/// [`ACTIVATION_NAMES`](super::ACTIVATION_NAMES) order (after the ReLU where one follows).
const CALIBRATED: [Probe; ACTIVATIONS] = [
    Probe::Conv1Output,
    Probe::Norm1Output,
    Probe::Conv2Output,
    Probe::Norm2Output,
    Probe::Conv3Output,
    Probe::Conv4Output,
    Probe::Conv5Output,
    Probe::Local1Output,
    Probe::Local2Output,
    Probe::SoftmaxOutput,
];

/// Records the minimum and maximum of every calibrated activation while the f32 network runs
/// forward ([`crate::net::Net::forward`] with this as its observer) over calibration frames.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RangeObserver {
    min: [f32; ACTIVATIONS],
    max: [f32; ACTIVATIONS],
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
            min: [f32::INFINITY; ACTIVATIONS],
            max: [f32::NEG_INFINITY; ACTIVATIONS],
        }
    }

    /// The `(min, max)` seen for activation `i` of [`ACTIVATION_NAMES`](super::ACTIVATION_NAMES)
    /// (`(∞, −∞)` before any value).
    ///
    /// # Panics
    /// If `i >= ACTIVATIONS`.
    pub fn range(&self, i: usize) -> (f32, f32) {
        (self.min[i], self.max[i])
    }

    /// *Prepare*: the quantisation of activation `i`: the range widened to hold 0 (so real 0 is
    /// exact), over 255 steps, zero point `−128 − lo / scale` rounded. An empty or all-zero
    /// range gets scale `2^−10`.
    ///
    /// # Panics
    /// If `i >= ACTIVATIONS`.
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
}

impl Observer for RangeObserver {
    fn observe(&mut self, probe: Probe, values: &[f32]) {
        let Some(i) = CALIBRATED.iter().position(|&p| p == probe) else {
            return;
        };
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
}

fn put_u32(out: &mut [u8], at: usize, v: u32) {
    out[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// *Prepare* (floating point): quantises the f32 parameter block `params` of a `cfg` network
/// (in [`ValenceConfig::params`] order, e.g. [`crate::net::Net::params`]) with the activation
/// ranges of `ranges`, and writes the model file into `out` (exactly
/// [`model_len`](super::model_len)`(cfg)` bytes). Returns the file's CRC-32.
///
/// Weights are symmetric per output channel, `scale_c = max|w_c| / 127` — raised when needed so
/// the bias fits in `i32` (`|b| / (s_in · scale_c) ≤ 2^30`), `2^−20` for an all-zero channel — and
/// rounded to nearest (ties away from zero); biases `round(b / (s_in · scale_c))` in `f64`.
/// The result is checked by parsing it back, so whatever this returns `Ok` for,
/// [`QuantModel::parse`] accepts.
///
/// # Errors
/// Geometry errors of `cfg` as [`ModelError::Config`]; [`ModelError::Argument`] with
/// [`KernelError::Length`](crate::KernelError::Length) naming `params` or `out`;
/// [`ModelError::NonFinite`] for a non-finite parameter; [`ModelError::InvalidQuant`] when a
/// rescaling multiplier falls out of range. `out` may be partly written on the last two.
pub fn quantize_model(
    cfg: &ValenceConfig,
    params: &[f32],
    ranges: &RangeObserver,
    out: &mut [u8],
) -> Result<u32, ModelError> {
    let g = cfg.geometry().map_err(ModelError::Config)?;
    let specs = cfg.params().map_err(ModelError::Config)?;
    let total_params = cfg.param_len().map_err(ModelError::Config)?;
    let s = sections(&g).map_err(ModelError::Config)?;
    check_len("params", total_params, params.len())?;
    let total = HEADER_LEN + s.payload_len + TRAILER_LEN;
    check_len("out", total, out.len())?;
    let as_u32 = |v: usize, arg| u32::try_from(v).map_err(|_| ModelError::Config(arg));
    let overflow = crate::KernelError::Overflow { arg: "model" };

    out[..4].copy_from_slice(&MAGIC);
    out[4..6].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    out[6..8].copy_from_slice(&(HEADER_LEN as u16).to_le_bytes());
    let sizes = [
        cfg.input,
        cfg.conv[0],
        cfg.conv[1],
        cfg.conv[2],
        cfg.conv[3],
        cfg.conv[4],
        cfg.dense[0],
        cfg.dense[1],
        cfg.tile,
        s.payload_len,
    ];
    for (k, &v) in sizes.iter().enumerate() {
        put_u32(out, 8 + 4 * k, as_u32(v, overflow)?);
    }
    let mut acts = [input_params(); ACTIVATIONS];
    for (i, a) in acts.iter_mut().enumerate() {
        *a = ranges.params(i);
        let at = HEADER_LEN + i * ACT_RECORD;
        put_u32(out, at, a.scale().to_bits());
        put_u32(out, at + 4, a.zero_point() as u32);
    }
    for l in 0..LAYERS {
        let span = s.layers[l];
        let (w, b) = (&specs[2 * l], &specs[2 * l + 1]);
        let weights = &params[w.offset..w.offset + w.len];
        let bias = &params[b.offset..b.offset + b.len];
        if weights.iter().chain(bias).any(|v| !v.is_finite()) {
            return Err(ModelError::NonFinite {
                layer: LAYER_NAMES[l],
            });
        }
        let s_in = f64::from(match INPUT_OF[l] {
            Some(a) => acts[a].scale(),
            None => input_params().scale(),
        });
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
    QuantModel::parse(out)?;
    Ok(crc)
}
