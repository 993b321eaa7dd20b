//! int8 inference of the whole network over caller-provided buffers.

use super::format::{layer_sizes, LAYERS, OUTPUT_OF};
use super::model::{lrn, LayerView, QuantModel};
use crate::error::{add, check_len, mul};
use crate::net::{ValenceConfig, LRN_DEPTH_RADIUS};
use crate::quant::{
    conv2d_s8, dense_s8, lrn_s8, max_pool_s8, per_channel_multipliers, Activation, LayerQuant,
    LrnS8, QuantizedMultiplier,
};
use crate::KernelError;

macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return Err(e),
        }
    };
}

const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

/// The buffers of an int8 network running `batch` frames per call: three slices, one per
/// element type, because the kernels take typed slices and the crate has no `unsafe` to carve
/// one byte arena into `i32`s.
///
/// * `bytes` (`i8`): two ping-pong activation buffers of `activation_len`, the convolutions'
///   shared im2col scratch, and room for the largest layer's weights (copied from the model as
///   each layer runs: the file's bytes are `u8`, the kernels take `i8`; this costs one pass over
///   the weights per call and keeps the model itself in flash on a board).
/// * `words` (`i32`): the two LRN tables and every layer's biases (decoded once).
/// * `multipliers`: every output channel's rescaling multiplier (derived once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct QuantLayout {
    /// Largest number of frames one call takes.
    pub batch: usize,
    /// `i8`s of each ping-pong buffer: the largest activation (or frame) times `batch`.
    pub activation_len: usize,
    /// `i8`s of the im2col scratch (the largest convolution's).
    pub scratch_len: usize,
    /// `i8`s for the largest layer's weights.
    pub weights_len: usize,
    /// `i32`s reserved for each LRN table (an upper bound of [`LrnS8::table_len`]).
    pub lrn_table_len: usize,
    /// Output channels of all layers: biases and multipliers.
    pub channels: usize,
}

impl QuantLayout {
    /// The buffers of a `cfg` network running up to `batch` frames per call.
    ///
    /// # Errors
    /// [`KernelError::Zero`] for `batch == 0`; geometry errors of `cfg`;
    /// [`KernelError::Overflow`] if a length does not fit in `usize`.
    pub const fn new(cfg: &ValenceConfig, batch: usize) -> Result<Self, KernelError> {
        if batch == 0 {
            return Err(KernelError::Zero { arg: "batch" });
        }
        let g = tri!(cfg.geometry());
        let frame = tri!(cfg.frame_len());
        let acts = [
            frame,
            g.conv1.output_len(),
            g.pool1.output_len(),
            g.conv2.output_len(),
            g.pool2.output_len(),
            g.conv3.output_len(),
            g.conv4.output_len(),
            g.conv5.output_len(),
            g.pool3.output_len(),
            g.local1.outputs(),
            g.local2.outputs(),
        ];
        let mut largest = 1;
        let mut i = 0;
        while i < acts.len() {
            largest = max(largest, acts[i]);
            i += 1;
        }
        let activation_len = tri!(mul("activations", largest, batch));
        let convs = [g.conv1, g.conv2, g.conv3, g.conv4, g.conv5];
        let sizes = layer_sizes(&g);
        let (mut scratch_len, mut weights_len, mut channels) = (0, 0, 0);
        let mut l = 0;
        while l < LAYERS {
            if l < 5 {
                scratch_len = max(scratch_len, convs[l].scratch_len());
            }
            weights_len = max(weights_len, sizes[l].1);
            channels = tri!(add("channels", channels, sizes[l].0));
            l += 1;
        }
        let lrn_table_len = max(lrn_table_bound(cfg.conv[0]), lrn_table_bound(cfg.conv[1]));
        let layout = Self {
            batch,
            activation_len,
            scratch_len,
            weights_len,
            lrn_table_len,
            channels,
        };
        // Every length and the total must fit, so that the queries below cannot overflow.
        let _ = tri!(layout.checked_total_bytes());
        Ok(layout)
    }

    const fn checked_bytes_len(&self) -> Result<usize, KernelError> {
        let two = tri!(mul("bytes", self.activation_len, 2));
        let with_scratch = tri!(add("bytes", two, self.scratch_len));
        add("bytes", with_scratch, self.weights_len)
    }

    const fn checked_words_len(&self) -> Result<usize, KernelError> {
        let tables = tri!(mul("words", self.lrn_table_len, 2));
        add("words", tables, self.channels)
    }

    const fn checked_total_bytes(&self) -> Result<usize, KernelError> {
        let bytes = tri!(self.checked_bytes_len());
        let words = tri!(mul("words", tri!(self.checked_words_len()), 4));
        let mult = core::mem::size_of::<QuantizedMultiplier>();
        let multipliers = tri!(mul("multipliers", self.channels, mult));
        add(
            "total bytes",
            tri!(add("total bytes", bytes, words)),
            multipliers,
        )
    }

    /// Length of the `bytes` (`i8`) buffer. Saturates at `usize::MAX` for a layout that
    /// [`QuantLayout::new`] would have refused (the fields are public).
    pub const fn bytes_len(&self) -> usize {
        saturate(self.checked_bytes_len())
    }

    /// Length of the `words` (`i32`) buffer; saturates as [`QuantLayout::bytes_len`].
    pub const fn words_len(&self) -> usize {
        saturate(self.checked_words_len())
    }

    /// Length of the `multipliers` buffer.
    pub const fn multipliers_len(&self) -> usize {
        self.channels
    }

    /// Total bytes of the three buffers; saturates as [`QuantLayout::bytes_len`].
    pub const fn total_bytes(&self) -> usize {
        saturate(self.checked_total_bytes())
    }
}

/// The value, or `usize::MAX` for a length that overflowed.
const fn saturate(len: Result<usize, KernelError>) -> usize {
    match len {
        Ok(v) => v,
        Err(_) => usize::MAX,
    }
}

/// The largest [`LrnS8::table_len`] over every input zero point: the squared sum of a window of
/// `min(2r + 1, channels)` values of at most 255 in magnitude has at most `E` bits.
const fn lrn_table_bound(channels: usize) -> usize {
    let window = 2 * LRN_DEPTH_RADIUS + 1;
    let window = if channels < window { channels } else { window };
    let smax = (window as u64) * 255 * 255;
    let bits = 64 - smax.leading_zeros();
    crate::quant::lrn::table_len(bits)
}

/// The int8 valence network: a parsed model and the buffers of a [`QuantLayout`].
#[derive(Debug)]
pub struct QuantNet<'m, 'a> {
    model: QuantModel<'m>,
    layout: QuantLayout,
    norm: [LrnS8; 2],
    quant: [LayerQuant; LAYERS],
    /// First channel of each layer in `multipliers` and in the biases of `words`.
    first: [usize; LAYERS],
    bytes: &'a mut [i8],
    words: &'a mut [i32],
    multipliers: &'a mut [QuantizedMultiplier],
}

impl<'m, 'a> QuantNet<'m, 'a> {
    /// *Prepare*: a network running `model` on up to `batch` frames per call over the three
    /// buffers (exactly [`QuantLayout::new`]`(&model.config(), batch)`'s `bytes_len`,
    /// `words_len` and `multipliers_len` long). Decodes the biases, derives the multipliers and
    /// fills the LRN tables (floating point, once).
    ///
    /// # Errors
    /// As [`QuantLayout::new`]; [`KernelError::Length`] naming `bytes`, `words` or `multipliers`
    /// for a wrong length (nothing written then). The model was validated when parsed, so
    /// nothing else can fail.
    pub fn new(
        model: QuantModel<'m>,
        batch: usize,
        bytes: &'a mut [i8],
        words: &'a mut [i32],
        multipliers: &'a mut [QuantizedMultiplier],
    ) -> Result<Self, KernelError> {
        let cfg = model.config();
        let layout = QuantLayout::new(&cfg, batch)?;
        check_len("bytes", layout.bytes_len(), bytes.len())?;
        check_len("words", layout.words_len(), words.len())?;
        check_len("multipliers", layout.multipliers_len(), multipliers.len())?;

        let mut quant = [LayerQuant {
            input_zero_point: 0,
            output_zero_point: 0,
            range: crate::quant::ActivationRange::FULL,
        }; LAYERS];
        let mut first = [0; LAYERS];
        let bias_base = 2 * layout.lrn_table_len;
        let mut next = 0;
        let mut scales = [0.0f32; 64];
        for l in 0..LAYERS {
            let (input, output) = model.layer_io(l);
            // Every layer but the last is followed by a ReLU, fused as the output clamp.
            let act = if l + 1 < LAYERS {
                Activation::Relu
            } else {
                Activation::None
            };
            quant[l] = LayerQuant::new(&input, &output, act);
            first[l] = next;
            let view = model.layer(l);
            let c_out = view.channels();
            for c in 0..c_out {
                words[bias_base + next + c] = view.bias(c);
            }
            // Multipliers in blocks, through the one prepare function TFLite's semantics live in.
            let mut c0 = 0;
            while c0 < c_out {
                let n = (c_out - c0).min(scales.len());
                for (j, s) in scales[..n].iter_mut().enumerate() {
                    *s = view.weight_scale(c0 + j);
                }
                per_channel_multipliers(
                    &input,
                    &scales[..n],
                    &output,
                    &mut multipliers[next + c0..next + c0 + n],
                )?;
                c0 += n;
            }
            next += c_out;
        }
        let norm = [
            LrnS8::new(&lrn(cfg.conv[0])?, model.activation(0), model.activation(1))?,
            LrnS8::new(&lrn(cfg.conv[1])?, model.activation(2), model.activation(3))?,
        ];
        let t = layout.lrn_table_len;
        norm[0].fill_table(&mut words[..norm[0].table_len()])?;
        norm[1].fill_table(&mut words[t..t + norm[1].table_len()])?;
        debug_assert!(norm[0].table_len() <= t && norm[1].table_len() <= t);
        Ok(Self {
            model,
            layout,
            norm,
            quant,
            first,
            bytes,
            words,
            multipliers,
        })
    }

    /// The buffers' layout.
    pub const fn layout(&self) -> &QuantLayout {
        &self.layout
    }

    /// The model this network runs.
    pub const fn model(&self) -> &QuantModel<'m> {
        &self.model
    }

    /// Runs the network on `n` frames (`frames.len() == n · input² · 3`, `1 ≤ n ≤ batch`) and
    /// writes the `n` valence predictions, dequantised, into `out` (overwritten). Integers only
    /// between the frame bytes and the final dequantisation.
    ///
    /// # Errors
    /// [`KernelError::Length`] naming `frames` (empty, not a whole number of frames, or more
    /// than `batch`) or `out` (not `n` long); nothing is written then.
    pub fn forward(&mut self, frames: &[u8], out: &mut [f32]) -> Result<(), KernelError> {
        let g = *self.model.geometry();
        let frame_len = g.conv1.input_len();
        let n = frames.len() / frame_len;
        if frames.is_empty() || frames.len() % frame_len != 0 || n > self.layout.batch {
            return Err(KernelError::Length {
                arg: "frames",
                expected: frame_len * self.layout.batch,
                got: frames.len(),
            });
        }
        check_len("out", n, out.len())?;

        let l = &self.layout;
        let (a, rest) = self.bytes.split_at_mut(l.activation_len);
        let (b, rest) = rest.split_at_mut(l.activation_len);
        let (scratch, wbuf) = rest.split_at_mut(l.scratch_len);
        let t = l.lrn_table_len;
        let (tables, biases) = self.words.split_at(2 * t);
        let model = self.model;
        let layer = |i: usize| {
            let (f, c) = (self.first[i], model.layer(i).channels());
            (
                model.layer(i),
                &self.quant[i],
                &biases[f..f + c],
                &self.multipliers[f..f + c],
            )
        };
        let table = |k: usize| &tables[k * t..k * t + self.norm[k].table_len()];

        // x − 128 as i8 is the byte with its top bit flipped: exactly (x − 128)/255 at 1/255.
        for (d, &x) in b.iter_mut().zip(frames) {
            *d = (x ^ 0x80) as i8;
        }
        let convs = [g.conv1, g.conv2, g.conv3, g.conv4, g.conv5];
        let mut conv = |i: usize, x: &[i8], y: &mut [i8]| {
            let cg = &convs[i];
            let (view, q, bias, m) = layer(i);
            conv2d_s8(
                cg,
                q,
                n,
                &x[..n * cg.input_len()],
                weights(view, wbuf),
                bias,
                m,
                &mut scratch[..cg.scratch_len()],
                &mut y[..n * cg.output_len()],
            )
        };
        conv(0, b, a)?;
        let rows = n * g.conv1.output().pixels();
        lrn_s8(
            &self.norm[0],
            table(0),
            rows,
            &a[..rows * convs[0].output().c],
            &mut b[..rows * convs[0].output().c],
        )?;
        pool(&g.pool1, n, b, a)?;
        conv(1, a, b)?;
        let rows = n * g.conv2.output().pixels();
        let len = rows * convs[1].output().c;
        lrn_s8(&self.norm[1], table(1), rows, &b[..len], &mut a[..len])?;
        pool(&g.pool2, n, a, b)?;
        conv(2, b, a)?;
        conv(3, a, b)?;
        conv(4, b, a)?;
        pool(&g.pool3, n, a, b)?;
        let denses = [g.local1, g.local2, g.softmax];
        let mut dense = |i: usize, x: &[i8], y: &mut [i8]| {
            let dg = &denses[i - 5];
            let (view, q, bias, m) = layer(i);
            dense_s8(
                dg,
                q,
                n,
                &x[..n * dg.inputs()],
                weights(view, wbuf),
                bias,
                m,
                &mut y[..n * dg.outputs()],
            )
        };
        dense(5, b, a)?;
        dense(6, a, b)?;
        dense(7, b, a)?;
        let p = model.activation(OUTPUT_OF[LAYERS - 1]);
        for (o, &q) in out.iter_mut().zip(&a[..n]) {
            *o = p.dequantize(q);
        }
        Ok(())
    }
}

/// The layer's weights as `i8`, copied into `buf`.
fn weights<'b>(view: LayerView<'_>, buf: &'b mut [i8]) -> &'b [i8] {
    let w = view.weight_bytes();
    let dst = &mut buf[..w.len()];
    for (d, &s) in dst.iter_mut().zip(w) {
        *d = s as i8;
    }
    dst
}

fn pool(g: &crate::pool::Pool2d, n: usize, x: &[i8], y: &mut [i8]) -> Result<(), KernelError> {
    max_pool_s8(g, n, &x[..n * g.input_len()], &mut y[..n * g.output_len()])
}
