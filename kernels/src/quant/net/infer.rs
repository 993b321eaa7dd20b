//! int8 inference of any network table over caller-provided buffers.

use super::model::{LayerView, QuantModel};
use crate::error::{add, check_len, mul, tri};
use crate::net::{Activation as NetActivation, Inputs, LayerGeometry, Network, Plan, MAX_LAYERS};
use crate::quant::dsp::interleave_into;
use crate::quant::{
    conv2d_s8, conv2d_s8_smlad, conv2d_s8_smlad_cols_len, conv2d_s8_smlad_scratch_len, dense_s8,
    dense_s8_smlad, dense_s8_smlad_cols_len, lrn_s8, max_pool_s8, max_pool_s8_simd,
    per_channel_multipliers, Activation, LayerQuant, LrnS8, QuantizedMultiplier,
};
use crate::KernelError;

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
///   the weights per call and keeps the model itself in flash on a board; the DSP kernels get
///   them rearranged by the same pass).
/// * `words` (`i32`): one table per LRN layer, every layer's biases (decoded once), and the DSP
///   kernels' q15 columns.
/// * `multipliers`: every output channel's rescaling multiplier (derived once).
///
/// The lengths cover both [`Int8Kernels`], whichever a build runs, so a layout is the same on
/// every target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct QuantLayout {
    /// Largest number of frames one call takes.
    pub batch: usize,
    /// `i8`s of each ping-pong buffer: the largest activation (or frame) times `batch`.
    pub activation_len: usize,
    /// `i8`s of the im2col scratch (the largest convolution's, either kernel's).
    pub scratch_len: usize,
    /// `i8`s for the largest layer's weights.
    pub weights_len: usize,
    /// `i32`s reserved for each LRN table (an upper bound of [`LrnS8::table_len`]).
    pub lrn_table_len: usize,
    /// Number of LRN layers (one table each).
    pub lrn_tables: usize,
    /// Output channels of all layers: biases and multipliers.
    pub channels: usize,
    /// `i32`s of the DSP kernels' q15 columns (the largest conv or dense layer's).
    pub cols_len: usize,
}

impl QuantLayout {
    /// The buffers of `net` running `batch` frames per call.
    ///
    /// # Errors
    /// [`KernelError::Zero`] for `batch == 0`; [`Plan::new`]'s errors; [`KernelError::Overflow`]
    /// if a buffer length does not fit in `usize`.
    pub const fn new(net: &Network, batch: usize) -> Result<Self, KernelError> {
        if batch == 0 {
            return Err(KernelError::Zero { arg: "batch" });
        }
        let plan = tri!(Plan::new(net));
        let mut largest = tri!(net.frame_len());
        let (mut scratch_len, mut weights_len, mut channels, mut cols_len) = (0, 0, 0, 0);
        let (mut lrn_table_len, mut lrn_tables) = (0, 0);
        let mut l = 0;
        while l < plan.layer_count() {
            let layer = plan.layer(l);
            largest = max(largest, layer.output_len());
            match layer.geometry {
                LayerGeometry::Conv(g) => {
                    scratch_len = max(scratch_len, g.scratch_len());
                    scratch_len = max(scratch_len, conv2d_s8_smlad_scratch_len(&g));
                    cols_len = max(cols_len, conv2d_s8_smlad_cols_len(&g));
                    weights_len = max(weights_len, g.filter_len());
                    channels = tri!(add("channels", channels, g.bias_len()));
                }
                LayerGeometry::Dense(g) => {
                    cols_len = max(cols_len, dense_s8_smlad_cols_len(&g));
                    weights_len = max(weights_len, g.weights_len());
                    channels = tri!(add("channels", channels, g.bias_len()));
                }
                LayerGeometry::Lrn(g) => {
                    let bound = lrn_table_bound(g.channels(), g.depth_radius());
                    lrn_table_len = max(lrn_table_len, bound);
                    lrn_tables += 1;
                }
                LayerGeometry::MaxPool(_) => {}
            }
            l += 1;
        }
        let activation_len = tri!(mul("activations", largest, batch));
        let layout = Self {
            batch,
            activation_len,
            scratch_len,
            weights_len,
            lrn_table_len,
            lrn_tables,
            channels,
            cols_len,
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
        let tables = tri!(mul("words", self.lrn_tables, self.lrn_table_len));
        add(
            "words",
            tri!(add("words", tables, self.channels)),
            self.cols_len,
        )
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
const fn lrn_table_bound(channels: usize, depth_radius: usize) -> usize {
    let window = depth_radius.saturating_mul(2).saturating_add(1);
    let window = if channels < window { channels } else { window };
    let smax = (window as u64).saturating_mul(255 * 255);
    let bits = 64 - smax.leading_zeros();
    crate::quant::lrn::table_len(bits)
}

/// Which int8 kernels a [`QuantNet`] runs; both give the same bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Int8Kernels {
    /// [`conv2d_s8`], [`dense_s8`], [`max_pool_s8`]: plain Rust, TFLite's loops.
    Portable,
    /// [`conv2d_s8_smlad`], [`dense_s8_smlad`], [`max_pool_s8_simd`]: the DSP extension's
    /// instructions with the crate's `dsp` feature on Arm, their portable equivalents elsewhere
    /// (slower there than [`Int8Kernels::Portable`]; useful to test them).
    Dsp,
}

impl Int8Kernels {
    /// [`Int8Kernels::Dsp`] with the `dsp` feature on Arm, else [`Int8Kernels::Portable`].
    pub const DEFAULT: Self = if cfg!(all(feature = "dsp", target_arch = "arm")) {
        Self::Dsp
    } else {
        Self::Portable
    };
}

/// What layer `l` needs at run time besides its geometry.
#[derive(Debug, Clone, Copy)]
enum Prepared {
    /// A conv or dense layer: its requantisation and where its channels start in the biases
    /// and multipliers.
    Params { quant: LayerQuant, first: usize },
    /// An LRN layer and its table's index.
    Lrn { lrn: LrnS8, table: usize },
    /// A max-pool.
    Pool,
}

/// An int8 network: a parsed model and the buffers of a [`QuantLayout`], walking the model's
/// layer table.
#[derive(Debug)]
pub struct QuantNet<'m, 'a> {
    model: QuantModel<'m>,
    layout: QuantLayout,
    prepared: [Prepared; MAX_LAYERS],
    kernels: Int8Kernels,
    bytes: &'a mut [i8],
    words: &'a mut [i32],
    multipliers: &'a mut [QuantizedMultiplier],
}

impl<'m, 'a> QuantNet<'m, 'a> {
    /// *Prepare*: derives every multiplier, bias and LRN table of `model` into the caller's
    /// buffers (exactly the lengths of [`QuantLayout::new`]`(plan's network, batch)`).
    ///
    /// # Errors
    /// [`KernelError::Zero`] for `batch == 0`; [`KernelError::Length`] naming `bytes`, `words`
    /// or `multipliers` for a wrong buffer length; a multiplier or LRN error (the parser
    /// already checked these, so only a caller-built model can fail here).
    pub fn new(
        model: QuantModel<'m>,
        batch: usize,
        bytes: &'a mut [i8],
        words: &'a mut [i32],
        multipliers: &'a mut [QuantizedMultiplier],
    ) -> Result<Self, KernelError> {
        let plan = *model.plan();
        let layout = QuantLayout::new(&plan.network, batch)?;
        check_len("bytes", layout.bytes_len(), bytes.len())?;
        check_len("words", layout.words_len(), words.len())?;
        check_len("multipliers", layout.multipliers_len(), multipliers.len())?;

        let mut prepared = [Prepared::Pool; MAX_LAYERS];
        let bias_base = layout.lrn_tables * layout.lrn_table_len;
        let (mut next, mut tables) = (0, 0);
        let mut scales = [0.0f32; 64];
        for (l, pl) in plan.layers().iter().enumerate() {
            let (input, output) = model.layer_io(l);
            prepared[l] = match pl.geometry {
                LayerGeometry::Conv(_) | LayerGeometry::Dense(_) => {
                    let act = match pl.layer.activation {
                        NetActivation::Relu => Activation::Relu,
                        NetActivation::Linear => Activation::None,
                    };
                    let view = model.layer_view(l);
                    let c_out = view.channels();
                    for c in 0..c_out {
                        words[bias_base + next + c] = view.bias(c);
                    }
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
                    let p = Prepared::Params {
                        quant: LayerQuant::new(&input, &output, act),
                        first: next,
                    };
                    next += c_out;
                    p
                }
                LayerGeometry::Lrn(g) => {
                    let lrn = LrnS8::new(&g, input, output)?;
                    let t = layout.lrn_table_len;
                    debug_assert!(lrn.table_len() <= t);
                    lrn.fill_table(&mut words[tables * t..tables * t + lrn.table_len()])?;
                    tables += 1;
                    Prepared::Lrn {
                        lrn,
                        table: tables - 1,
                    }
                }
                LayerGeometry::MaxPool(_) => Prepared::Pool,
            };
        }
        Ok(Self {
            model,
            layout,
            prepared,
            kernels: Int8Kernels::DEFAULT,
            bytes,
            words,
            multipliers,
        })
    }

    /// Runs `kernels` from now on ([`QuantNet::new`] picks [`Int8Kernels::DEFAULT`]).
    pub fn use_kernels(&mut self, kernels: Int8Kernels) {
        self.kernels = kernels;
    }

    /// The kernels this network runs.
    pub const fn kernels(&self) -> Int8Kernels {
        self.kernels
    }

    /// The buffers' layout.
    pub const fn layout(&self) -> &QuantLayout {
        &self.layout
    }

    /// The model this network runs.
    pub const fn model(&self) -> &QuantModel<'m> {
        &self.model
    }

    /// Runs the network on `n` `u8` frames (`1 ≤ n ≤ batch`); see [`QuantNet::forward_inputs`].
    ///
    /// # Errors
    /// As [`QuantNet::forward_inputs`].
    pub fn forward(&mut self, frames: &[u8], out: &mut [f32]) -> Result<(), KernelError> {
        self.forward_inputs(Inputs::U8(frames), out)
    }

    /// Runs the network on `n` examples (`1 ≤ n ≤ batch`) and writes their outputs,
    /// dequantised, into `out` (`n × outputs`, overwritten). Integers only between the
    /// quantised input and the final dequantisation: a `u8` byte `x` enters as `x − 128`, `f32`
    /// features are quantised with the model's input record.
    ///
    /// # Errors
    /// [`KernelError::InvalidParam`] (`input`) for input of the other kind than the table's;
    /// [`KernelError::Length`] naming `frames` (empty, not a whole number of examples, or more
    /// than `batch`) or `out` (not `n × outputs` long); nothing is written then.
    pub fn forward_inputs(&mut self, x: Inputs<'_>, out: &mut [f32]) -> Result<(), KernelError> {
        let model = self.model;
        let plan = model.plan();
        let frame_len = plan.input_len();
        let got = x.len();
        if x.kind() != plan.network.input.kind {
            return Err(KernelError::InvalidParam { arg: "input" });
        }
        let n = got / frame_len;
        if got == 0 || got % frame_len != 0 || n > self.layout.batch {
            return Err(KernelError::Length {
                arg: "frames",
                expected: frame_len * self.layout.batch,
                got,
            });
        }
        check_len("out", n * plan.output_len(), out.len())?;

        let l = &self.layout;
        let (a, rest) = self.bytes.split_at_mut(l.activation_len);
        let (b, rest) = rest.split_at_mut(l.activation_len);
        let (scratch, wbuf) = rest.split_at_mut(l.scratch_len);
        let t = l.lrn_table_len;
        let (tables, rest) = self.words.split_at_mut(l.lrn_tables * t);
        let (biases, cols) = rest.split_at_mut(l.channels);
        let (tables, biases) = (&*tables, &*biases);
        let dsp = self.kernels == Int8Kernels::Dsp;
        match x {
            // x − 128 as i8 is the byte with its top bit flipped: exactly (x − 128)/255 at 1/255.
            Inputs::U8(frames) => {
                for (d, &v) in b.iter_mut().zip(frames) {
                    *d = (v ^ 0x80) as i8;
                }
            }
            Inputs::F32(features) => {
                let p = model.activation(0);
                for (d, &v) in b.iter_mut().zip(features) {
                    *d = p.quantize(v);
                }
            }
        }
        // Each layer reads one ping-pong buffer and writes the other; the input is in `b`.
        let (mut x, mut y) = (b, a);
        for (i, pl) in plan.layers().iter().enumerate() {
            let y_len = n * pl.output_len();
            match (pl.geometry, self.prepared[i]) {
                (LayerGeometry::Conv(g), Prepared::Params { quant, first }) => {
                    let c = g.bias_len();
                    let (b, m) = (
                        &biases[first..first + c],
                        &self.multipliers[first..first + c],
                    );
                    let x = &x[..n * g.input_len()];
                    let w = weights(model.layer_view(i), dsp.then_some(g.patch_len()), wbuf);
                    if dsp {
                        let s = &mut scratch[..conv2d_s8_smlad_scratch_len(&g)];
                        let cols = &mut cols[..conv2d_s8_smlad_cols_len(&g)];
                        conv2d_s8_smlad(&g, &quant, n, x, w, b, m, s, cols, &mut y[..y_len])?
                    } else {
                        let s = &mut scratch[..g.scratch_len()];
                        conv2d_s8(&g, &quant, n, x, w, b, m, s, &mut y[..y_len])?
                    }
                }
                (LayerGeometry::Dense(g), Prepared::Params { quant, first }) => {
                    let c = g.bias_len();
                    let (b, m) = (
                        &biases[first..first + c],
                        &self.multipliers[first..first + c],
                    );
                    let x = &x[..n * g.inputs()];
                    let w = weights(model.layer_view(i), dsp.then_some(g.inputs()), wbuf);
                    if dsp {
                        let cols = &mut cols[..dense_s8_smlad_cols_len(&g)];
                        dense_s8_smlad(&g, &quant, n, x, w, b, m, cols, &mut y[..y_len])?
                    } else {
                        dense_s8(&g, &quant, n, x, w, b, m, &mut y[..y_len])?
                    }
                }
                (LayerGeometry::MaxPool(g), _) => {
                    let (x, y) = (&x[..n * g.input_len()], &mut y[..y_len]);
                    if dsp {
                        max_pool_s8_simd(&g, n, x, y)?
                    } else {
                        max_pool_s8(&g, n, x, y)?
                    }
                }
                (LayerGeometry::Lrn(_), Prepared::Lrn { lrn, table }) => {
                    let rows = n * pl.output.pixels();
                    let table = &tables[table * t..table * t + lrn.table_len()];
                    lrn_s8(&lrn, table, rows, &x[..y_len], &mut y[..y_len])?
                }
                _ => unreachable!("QuantNet::new prepares every layer for its geometry"),
            }
            core::mem::swap(&mut x, &mut y);
        }
        let p = model.activation(plan.layer_count());
        let len = out.len();
        for (o, &q) in out.iter_mut().zip(&x[..len]) {
            *o = p.dequantize(q);
        }
        Ok(())
    }
}

/// The layer's weights as `i8`, copied into `buf`: as stored (`[len][channels]`), or for the
/// DSP kernels (`Some(len)`, the reduction length) rearranged as
/// [`dense_s8_smlad_weights`](crate::quant::dense_s8_smlad_weights) does.
fn weights<'b>(view: LayerView<'_>, dsp_len: Option<usize>, buf: &'b mut [i8]) -> &'b [i8] {
    let w = view.weight_bytes();
    let dst = &mut buf[..w.len()];
    match dsp_len {
        Some(len) => interleave_into(w, len, dst, |s| s as i8),
        None => {
            for (d, &s) in dst.iter_mut().zip(w) {
                *d = s as i8;
            }
        }
    }
    dst
}
