//! Property test: no public constructor or kernel panics, whatever the caller passes.
//!
//! Every case draws its geometry from a mix of edge sizes (0, 1, 2, small, huge,
//! `usize::MAX / 2`, `usize::MAX`) and its slice lengths from "right", "one off", "empty" and
//! "random", its floats from ordinary values and edge values (±0, ±∞, NaN of both signs,
//! subnormals, `f32::MAX`), then calls the constructor and, when that accepts, the kernels. An
//! `Err` is a correct answer; a panic (an overflow with overflow checks on, an index out of
//! bounds, an `unwrap`) fails the test, which names the case and the iteration that reproduces
//! it. Tests build with overflow checks (the dev profile's default), so an overflow that would
//! silently wrap in release panics here. Seeded, so every run draws the same inputs.

use std::panic::{catch_unwind, AssertUnwindSafe};

use kernels::activation::{bias_add_f32, bias_backward_f32, relu_backward_f32, relu_f32};
use kernels::approx::lrn_f32_approx;
use kernels::conv2d::{
    conv2d_backward_filter_f32, conv2d_backward_filter_u8, conv2d_backward_input_f32, conv2d_f32,
    conv2d_relu_f32, conv2d_relu_u8, conv2d_u8, im2col_f32, im2col_u8, Conv2d,
};
use kernels::data::{synthetic_frame_u8, FrameSpec, Split};
use kernels::dense::{dense_backward_input_f32, dense_backward_weights_f32, dense_f32, Dense};
use kernels::gemm::LaneKernel;
use kernels::histogram::{percentiles, percentiles_of_rows, Histogram};
use kernels::init::{conv_fans, truncated_normal_f32, xavier_normal_f32, xavier_stddev};
use kernels::loss::{mse_f32, softmax_cross_entropy_f32, weighted_abs_error_f32};
use kernels::lrn::{lrn_backward_f32, lrn_backward_factored_f32, lrn_f32, Lrn};
use kernels::net::{
    ArenaLayout, Layer, Net, Network, Observer, Op, OptimizerKind, ValenceConfig, KWS,
};
use kernels::optim::{
    adam_keras_step_f32, adam_keras_step_f32_with, adam_step_f32, adam_step_f32_with,
    clip_by_global_norm_f32, momentum_step_f32, momentum_step_f32_with, sgd_step_f32,
    sgd_step_f32_with, Adam, AdamKeras, BetaPowers, Momentum,
};
use kernels::pool::{max_pool_backward_f32, max_pool_f32, Pool2d};
use kernels::quant::net::{
    model_len, quantize_model, Int8Kernels, QuantLayout, QuantModel, QuantNet, RangeObserver,
};
use kernels::quant::{
    conv2d_s8, conv2d_s8_smlad, conv2d_s8_smlad_cols_len, conv2d_s8_smlad_filter,
    conv2d_s8_smlad_scratch_len, dense_s8, dense_s8_smlad, dense_s8_smlad_cols_len,
    dense_s8_smlad_weights, dequantize_s8, lrn_s8, max_pool_s8, max_pool_s8_simd,
    per_channel_multipliers, quantize_s8, relu_s8, rounding_divide_by_pot, saturate_s8,
    saturating_rounding_doubling_high_mul, Activation, ActivationRange, LayerQuant, LrnS8,
    QuantParams, QuantizedMultiplier,
};
use kernels::rng::Rng;
use kernels::{Axis, Exec, Hwc, Padding, Portable};

/// Iterations; each makes one constructor call and, mostly, one or more kernel calls.
const ITERATIONS: u64 = 200_000;
/// The longest slice a case allocates: sizes stay small so the whole test takes seconds.
const MAX_LEN: usize = 1 << 14;

/// Draws the inputs of one case. Half the cases draw every size small (so that constructors
/// accept and the kernels run), the other half mix in edge sizes.
struct Gen(Rng, bool);

impl Gen {
    fn below(&mut self, n: u32) -> u32 {
        self.0.below(n)
    }

    /// A size: small, or (in an edgy case) sometimes an edge.
    fn size(&mut self) -> usize {
        if !self.1 {
            return if self.below(8) == 0 {
                0
            } else {
                1 + self.below(4) as usize
            };
        }
        match self.below(16) {
            0 => 0,
            1 => 1,
            2 => usize::MAX / 2,
            3 => usize::MAX,
            4 => 1 << (self.below(usize::BITS - 1)),
            5 => u32::MAX as usize,
            6..=10 => 1 + self.below(4) as usize,
            _ => self.below(9) as usize,
        }
    }

    /// A small size only (for sizes that multiply into buffer lengths).
    fn small(&mut self, max: u32) -> usize {
        self.below(max + 1) as usize
    }

    /// The length of a slice whose expected length is `want`: right, one off, empty or random.
    fn len(&mut self, want: usize) -> usize {
        let fits = want <= MAX_LEN;
        match self.below(10) {
            0 => 0,
            1 if fits => want + 1,
            2 if fits && want > 0 => want - 1,
            3 => self.below(64) as usize,
            _ if fits => want,
            _ => self.below(64) as usize,
        }
    }

    fn f32(&mut self) -> f32 {
        const EDGE: [f32; 12] = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            f32::MAX,
            f32::MIN_POSITIVE,
            1e-45,
            -1e-45,
            1e30,
        ];
        match self.below(8) {
            0 => EDGE[self.below(EDGE.len() as u32) as usize],
            // NaN with the sign bit set (what `-x` of a NaN gives).
            1 => f32::from_bits(0xffc0_0000 | self.0.next_u32() >> 12),
            2 => f32::from_bits(self.0.next_u32()),
            _ => (self.0.next_f32() - 0.5) * 8.0,
        }
    }

    /// A positive parameter: ordinary, tiny, huge, an edge, or a value with its own code path.
    fn param(&mut self) -> f32 {
        match self.below(5) {
            0 => self.f32(),
            1 => [0.5, 0.75, 1.0, 2.0][self.below(4) as usize],
            2 => libm::ldexpf(1.0 + self.0.next_f32(), self.below(260) as i32 - 150),
            _ => self.0.next_f32() * 2.0,
        }
    }

    fn f32s(&mut self, want: usize) -> Vec<f32> {
        let n = self.len(want);
        (0..n).map(|_| self.f32()).collect()
    }

    fn u8s(&mut self, want: usize) -> Vec<u8> {
        let n = self.len(want);
        (0..n).map(|_| self.0.next_u32() as u8).collect()
    }

    fn i8s(&mut self, want: usize) -> Vec<i8> {
        let n = self.len(want);
        (0..n).map(|_| self.0.next_u32() as i8).collect()
    }

    fn i32s(&mut self, want: usize) -> Vec<i32> {
        let n = self.len(want);
        (0..n)
            .map(|_| self.0.next_u32() as i32 >> self.below(32))
            .collect()
    }

    fn hwc(&mut self) -> Hwc {
        Hwc::new(self.size(), self.size(), self.size())
    }

    fn pair(&mut self) -> [usize; 2] {
        [self.size(), self.size()]
    }

    fn padding(&mut self) -> Padding {
        if self.below(2) == 0 {
            Padding::Same
        } else {
            Padding::Valid
        }
    }

    fn quant(&mut self) -> Option<QuantParams> {
        let zp = self.0.next_u32() as i32 >> self.below(32);
        QuantParams::new(self.param(), zp).ok()
    }

    fn activation(&mut self) -> Activation {
        [
            Activation::None,
            Activation::Relu,
            Activation::Relu6,
            Activation::ReluN1To1,
        ][self.below(4) as usize]
    }

    fn layer_quant(&mut self) -> Option<LayerQuant> {
        let (i, o) = (self.quant()?, self.quant()?);
        Some(LayerQuant::new(&i, &o, self.activation()))
    }

    fn multipliers(&mut self, want: usize) -> Vec<QuantizedMultiplier> {
        let n = self.len(want);
        (0..n)
            .map(|_| {
                let m = self.0.next_u32() as i32;
                let s = self.below(80) as i32 - 40;
                QuantizedMultiplier::from_parts(m, s)
                    .or_else(|_| QuantizedMultiplier::from_real(0.5))
                    .unwrap()
            })
            .collect()
    }

    /// A network table: TINY with one size, one layer or the tile changed to an edge value,
    /// or one of the other tables. The changed layers are leaked (a table is `'static`); a
    /// few hundred bytes, in a fraction of the cases.
    fn config(&mut self) -> Network {
        let mut c = ValenceConfig::TINY;
        match self.below(8) {
            0 => c.input.h = self.size(),
            1 => c.input.w = self.size(),
            2 => c.input.c = self.size(),
            3 => {
                let mut layers = c.layers.to_vec();
                let i = self.below(layers.len() as u32) as usize;
                self.layer(&mut layers[i]);
                c.layers = Box::leak(layers.into_boxed_slice());
            }
            4 => c.tile = self.size(),
            5 => c = ValenceConfig::FULL,
            6 => c = KWS,
            _ => {}
        }
        c
    }

    /// One size of `layer` set to an edge value.
    fn layer(&mut self, layer: &mut Layer) {
        let k = self.below(2) as usize;
        match &mut layer.op {
            Op::Conv {
                kernel,
                stride,
                out,
                ..
            } => match self.below(3) {
                0 => kernel[k] = self.size(),
                1 => stride[k] = self.size(),
                _ => *out = self.size(),
            },
            Op::Dense { out, .. } => *out = self.size(),
            Op::MaxPool { window, stride, .. } => match self.below(2) {
                0 => window[k] = self.size(),
                _ => stride[k] = self.size(),
            },
            Op::Lrn { depth_radius, .. } => *depth_radius = self.size(),
        }
    }
}

/// One case: draws its inputs and makes its calls, returning how many calls it made.
type Case = fn(&mut Gen) -> u64;

fn conv(g: &mut Gen) -> u64 {
    let Ok(c) = Conv2d::new(g.hwc(), g.pair(), g.size(), g.pair(), g.padding(), g.size()) else {
        return 1;
    };
    let batch = g.small(3);
    let input_len = c.input_len().saturating_mul(batch);
    let output_len = c.output_len().saturating_mul(batch);
    let (x, xb) = (g.f32s(input_len), g.u8s(input_len));
    let (f, b) = (g.f32s(c.filter_len()), g.f32s(c.bias_len()));
    let mut scratch = g.f32s(c.scratch_len());
    let mut y = g.f32s(output_len);
    let _ = conv2d_f32(&c, &Portable, batch, &x, &f, &b, &mut scratch, &mut y);
    let _ = conv2d_u8(&c, &Portable, batch, &xb, &f, &b, &mut scratch, &mut y);
    let dy = g.f32s(output_len);
    let mut dx = g.f32s(input_len);
    let _ = conv2d_backward_input_f32(&c, &Portable, batch, &dy, &f, &mut scratch, &mut dx);
    let mut df = g.f32s(c.filter_len());
    let _ = conv2d_backward_filter_f32(&c, &Portable, batch, &x, &dy, &mut scratch, &mut df);
    let _ = conv2d_backward_filter_u8(&c, &Portable, batch, &xb, &dy, &mut scratch, &mut df);
    let _ = conv2d_relu_f32(&c, &Portable, batch, &x, &f, &b, &mut scratch, &mut y);
    let _ = conv2d_relu_u8(&c, &Portable, batch, &xb, &f, &b, &mut scratch, &mut y);
    // im2col at a drawn first pixel into a drawn number of patches (often too many).
    let first = g.size();
    let patches = g.small(5);
    let mut cols = g.f32s(c.patch_len().saturating_mul(patches));
    let _ = im2col_f32(&c, batch, &x, first, &mut cols);
    let _ = im2col_u8(&c, batch, &xb, first, &mut cols);
    let (Some(q), Some(scale_in), Some(scale_out)) = (g.layer_quant(), g.quant(), g.quant()) else {
        return 10;
    };
    let xq = g.i8s(input_len);
    let fq = g.i8s(c.filter_len());
    let bq = g.i32s(c.bias_len());
    let scales = g.f32s(c.output().c);
    let mut mult = g.multipliers(c.output().c);
    let _ = per_channel_multipliers(&scale_in, &scales, &scale_out, &mut mult);
    let mut scratch_q = g.i8s(c.scratch_len());
    let mut yq = g.i8s(output_len);
    let _ = conv2d_s8(&c, &q, batch, &xq, &fq, &bq, &mult, &mut scratch_q, &mut yq);
    // The DSP path: its own filter layout, scratch and q15 columns, sized by its own queries.
    let mut fd = g.i8s(c.filter_len());
    let _ = conv2d_s8_smlad_filter(&c, &fq, &mut fd);
    let mut scratch_d = g.i8s(conv2d_s8_smlad_scratch_len(&c));
    let mut cols = g.i32s(conv2d_s8_smlad_cols_len(&c));
    let _ = conv2d_s8_smlad(
        &c,
        &q,
        batch,
        &xq,
        &fd,
        &bq,
        &mult,
        &mut scratch_d,
        &mut cols,
        &mut yq,
    );
    14
}

fn dense(g: &mut Gen) -> u64 {
    let Ok(d) = Dense::new(g.size(), g.size()) else {
        return 1;
    };
    let batch = g.size().min(3);
    let (x, w, b) = (
        g.f32s(d.inputs().saturating_mul(batch)),
        g.f32s(d.weights_len()),
        g.f32s(d.bias_len()),
    );
    let mut y = g.f32s(d.outputs().saturating_mul(batch));
    let _ = dense_f32(&d, &Portable, batch, &x, &w, &b, &mut y);
    let mut dx = g.f32s(d.inputs().saturating_mul(batch));
    let _ = dense_backward_input_f32(&d, &Portable, batch, &y, &w, &mut dx);
    let mut dw = g.f32s(d.weights_len());
    let _ = dense_backward_weights_f32(&d, &Portable, batch, &x, &y, &mut dw);
    let Some(q) = g.layer_quant() else {
        return 4;
    };
    let xq = g.i8s(d.inputs().saturating_mul(batch));
    let wq = g.i8s(d.weights_len());
    let bq = g.i32s(d.bias_len());
    let mult = g.multipliers(d.outputs());
    let mut yq = g.i8s(d.outputs().saturating_mul(batch));
    let _ = dense_s8(&d, &q, batch, &xq, &wq, &bq, &mult, &mut yq);
    let mut wd = g.i8s(d.weights_len());
    let _ = dense_s8_smlad_weights(&d, &wq, &mut wd);
    let mut cols = g.i32s(dense_s8_smlad_cols_len(&d));
    let _ = dense_s8_smlad(&d, &q, batch, &xq, &wd, &bq, &mult, &mut cols, &mut yq);
    7
}

fn pool(g: &mut Gen) -> u64 {
    let Ok(p) = Pool2d::new(g.hwc(), g.pair(), g.pair(), g.padding()) else {
        return 1;
    };
    let batch = g.size().min(3);
    let x = g.f32s(p.input_len().saturating_mul(batch));
    let mut y = g.f32s(p.output_len().saturating_mul(batch));
    let _ = max_pool_f32(&p, batch, &x, &mut y);
    let mut dx = g.f32s(p.input_len().saturating_mul(batch));
    let _ = max_pool_backward_f32(&p, batch, &x, &y, &mut dx);
    let xq = g.i8s(p.input_len().saturating_mul(batch));
    let mut yq = g.i8s(p.output_len().saturating_mul(batch));
    let _ = max_pool_s8(&p, batch, &xq, &mut yq);
    let _ = max_pool_s8_simd(&p, batch, &xq, &mut yq);
    5
}

fn lrn(g: &mut Gen) -> u64 {
    let (c, r) = (g.size(), g.size());
    let Ok(l) = Lrn::new(c, r, g.param(), g.param(), g.param()) else {
        return 1;
    };
    let rows = g.size().min(4);
    let n = l.channels().saturating_mul(rows);
    let x = g.f32s(n);
    let mut y = g.f32s(n);
    let _ = lrn_f32(&l, rows, &x, &mut y);
    let _ = lrn_f32_approx(&l, rows, &x, &mut y);
    let mut dx = g.f32s(n);
    let _ = lrn_backward_f32(&l, rows, &x, &y, &mut dx);
    let _ = lrn_backward_factored_f32(&l, rows, &x, &y, &mut dx);
    let (Some(qi), Some(qo)) = (g.quant(), g.quant()) else {
        return 5;
    };
    let Ok(s8) = LrnS8::new(&l, qi, qo) else {
        return 6;
    };
    let mut table = g.i32s(s8.table_len());
    let _ = s8.fill_table(&mut table);
    let (xq, mut yq) = (g.i8s(n), g.i8s(n));
    let _ = lrn_s8(&s8, &table, rows, &xq, &mut yq);
    8
}

fn elementwise(g: &mut Gen) -> u64 {
    let n = g.small(64);
    let rows = g.size();
    let bias = g.f32s(n);
    let mut x = g.f32s(n.saturating_mul(rows.min(4)));
    let _ = bias_add_f32(rows, &bias, &mut x);
    relu_f32(&mut x);
    let mut d = g.f32s(x.len());
    let _ = relu_backward_f32(&x, &mut d);
    let mut db = g.f32s(n);
    let _ = bias_backward_f32(rows, &x, &mut db);
    let (p, t, c) = (g.f32s(n), g.f32s(n), g.f32s(n));
    let mut dp = g.f32s(n);
    let _ = weighted_abs_error_f32(&p, &t, &c, g.size(), &mut dp);
    let _ = mse_f32(&p, &t, g.size(), &mut dp);
    // Labels beyond the classes, edge class counts, logits of any length.
    let classes = g.size();
    let labels: Vec<u32> = (0..g.small(4)).map(|_| g.0.next_u32() % 16).collect();
    let n_logits = g.len(labels.len().saturating_mul(classes));
    let logits = g.f32s(n_logits);
    let n_d = g.len(logits.len());
    let mut d_logits = g.f32s(n_d);
    let _ = softmax_cross_entropy_f32(&logits, classes, &labels, g.size(), &mut d_logits);
    if let Some(q) = g.quant() {
        let mut xq = g.i8s(n);
        let _ = quantize_s8(&q, &p, &mut xq);
        let _ = dequantize_s8(&q, &xq, &mut dp);
        let _ = (q.quantize(g.f32()), q.dequantize(g.0.next_u32() as i8));
    }
    10
}

/// An [`Exec`] that cuts element-wise passes in two at element `.0` (clamped), as a host's
/// threads cut them; one call when the lanes' lengths differ, as [`Exec::map_lanes`] allows.
struct Halves(usize);

impl Exec for Halves {
    fn map_lanes(&self, read: &[&[f32]], write: &mut [&mut [f32]], f: &LaneKernel<'_>) {
        let len = write.first().map_or(0, |l| l.len());
        let mut lens = read
            .iter()
            .map(|l| l.len())
            .chain(write.iter().map(|l| l.len()));
        if lens.any(|l| l != len) {
            return f(read, write);
        }
        let at = self.0.min(len);
        let (r0, r1): (Vec<&[f32]>, Vec<&[f32]>) = read.iter().map(|l| l.split_at(at)).unzip();
        let (mut w0, mut w1): (Vec<&mut [f32]>, Vec<&mut [f32]>) =
            write.iter_mut().map(|l| l.split_at_mut(at)).unzip();
        f(&r0, &mut w0);
        f(&r1, &mut w1);
    }
}

fn optimisers(g: &mut Gen) -> u64 {
    let n = g.small(32);
    let mut w = g.f32s(n);
    let grads = g.f32s(n);
    let (mut m, mut v) = (g.f32s(n), g.f32s(n));
    let adam = Adam {
        lr: g.param(),
        beta1: g.param(),
        beta2: g.param(),
        epsilon: g.param(),
        weight_decay: g.param(),
    };
    let mut powers = BetaPowers {
        beta1_power: g.param(),
        beta2_power: g.param(),
    };
    let _ = adam_step_f32(&adam, &mut powers, &mut w, &grads, &mut m, &mut v);
    let keras = AdamKeras {
        lr: g.param(),
        beta1: f64::from(g.param()) * g.0.next_f32() as f64,
        beta2: 1.0 - f64::from(g.param()) * 1e-9,
        epsilon: f64::from(g.param()),
    };
    let _ = adam_keras_step_f32(
        &keras,
        g.0.next_u32() >> g.below(32),
        &mut w,
        &grads,
        &mut m,
        &mut v,
    );
    let mom = Momentum {
        lr: g.param(),
        momentum: g.param(),
        nesterov: g.below(2) == 0,
        weight_decay: g.param(),
    };
    let _ = momentum_step_f32(&mom, &mut w, &grads, &mut m);
    let _ = sgd_step_f32(g.param(), &mut w, &grads);
    let mut gr = g.f32s(n);
    let _ = clip_by_global_norm_f32(&mut gr, g.param());

    // The same through an `Exec` that splits them, with lengths that may not match.
    let halves = Halves(g.small(33));
    let [grads, mut m, mut v] = [(); 3].map(|()| {
        let len = g.len(n);
        g.f32s(len)
    });
    let p = &mut powers;
    let _ = adam_step_f32_with(&halves, &adam, p, &mut w, &grads, &mut m, &mut v);
    let step = g.0.next_u32() >> g.below(32);
    let _ = adam_keras_step_f32_with(&halves, &keras, step, &mut w, &grads, &mut m, &mut v);
    let _ = momentum_step_f32_with(&halves, &mom, &mut w, &grads, &mut m);
    let _ = sgd_step_f32_with(&halves, g.param(), &mut w, &grads);
    9
}

fn init(g: &mut Gen) -> u64 {
    let mut rng = Rng::new(u64::from(g.0.next_u32()), 0);
    let mut out = vec![0.0; g.small(64)];
    let _ = truncated_normal_f32(&mut rng, g.f32(), g.param(), &mut out);
    let (fi, fo) = (g.size(), g.size());
    let _ = xavier_stddev(fi, fo);
    let _ = xavier_normal_f32(&mut rng, fi, fo, &mut out);
    let _ = conv_fans(g.pair(), g.size(), g.size());
    let _ = Axis::resolve(g.size(), g.size(), g.size(), g.padding(), "i", "k", "s");
    let hwc = g.hwc();
    let _ = (
        hwc.checked_len("hwc"),
        hwc.len(),
        hwc.pixels(),
        hwc.is_empty(),
    );
    let _ = QuantizedMultiplier::from_real(f64::from(g.f32()) * f64::from(g.param()));
    if let Ok(q) = QuantizedMultiplier::from_parts(g.0.next_u32() as i32, g.below(80) as i32 - 40) {
        let x = g.0.next_u32() as i32;
        let _ = (q.apply(x), q.apply_single_rounding(x));
    }
    8
}

fn histogram(g: &mut Gen) -> u64 {
    let mut h = Histogram::new();
    for _ in 0..g.small(16) {
        h.add(g.f32());
    }
    h.add_slice(&g.f32s(8));
    let other = h.clone();
    h.merge(&other);
    let _ = percentiles(&h);
    let _ = h.rows().count();
    let _ = h.proto_buckets(g.below(2) == 0).count();
    let rows: Vec<[f64; 3]> = (0..g.small(6))
        .map(|_| [f64::from(g.f32()), f64::from(g.f32()), f64::from(g.f32())])
        .collect();
    let _ = percentiles_of_rows(&rows);
    6
}

fn frames(g: &mut Gen) -> u64 {
    let Ok(spec) = FrameSpec::new(g.size().min(70), g.size().min(70)) else {
        return 1;
    };
    let mut out = g.u8s(spec.len());
    let split = if g.below(2) == 0 {
        Split::Train
    } else {
        Split::HeldOut
    };
    let index = u64::from(g.0.next_u32()) << g.below(32);
    let _ = synthetic_frame_u8(&spec, u64::from(g.0.next_u32()), split, index, &mut out);
    2
}

fn layouts(g: &mut Gen) -> u64 {
    let cfg = g.config();
    let batch = g.size();
    let opt = [
        OptimizerKind::Sgd,
        OptimizerKind::Momentum,
        OptimizerKind::Adam,
    ][g.below(3) as usize];
    for layout in [
        ArenaLayout::training(&cfg, batch, opt),
        ArenaLayout::inference(&cfg, batch),
    ]
    .into_iter()
    .flatten()
    {
        let _ = (layout.arena_len(), layout.bytes(), layout.is_inference());
    }
    if let Ok(q) = QuantLayout::new(&cfg, batch) {
        let _ = (
            q.bytes_len(),
            q.words_len(),
            q.multipliers_len(),
            q.total_bytes(),
        );
    }
    let _ = (
        cfg.plan(),
        cfg.params(),
        cfg.param_len(),
        cfg.frame_len(),
        model_len(&cfg),
    );
    let bytes = g.u8s(64);
    let _ = QuantModel::parse(&bytes, &cfg);
    4
}

/// A whole network step, rarely (it costs milliseconds): any arena length, any frames.
fn net(g: &mut Gen) -> u64 {
    if g.below(200) != 0 {
        return 0;
    }
    let cfg = ValenceConfig::TINY;
    let batch = g.small(2);
    let opt = [
        OptimizerKind::Sgd,
        OptimizerKind::Momentum,
        OptimizerKind::Adam,
    ][g.below(3) as usize];
    let want = ArenaLayout::training(&cfg, batch.max(1), opt).map_or(0, |l| l.arena_len());
    let mut arena = vec![0.0; if g.below(4) == 0 { want / 2 } else { want }];
    let Ok(mut net) = Net::training(&cfg, batch, opt, &mut arena) else {
        return 1;
    };
    let _ = net.init_params(u64::from(g.0.next_u32()));
    let frame = cfg.frame_len().unwrap_or(0);
    let n = g.small(2);
    let frames = g.u8s(frame * n);
    let (y, c) = (g.f32s(n), g.f32s(n));
    let _ = net.train_step(&Portable, &frames, &y, &c, g.size(), &mut ());
    let _ = net.adam_step(&Adam::tf1(g.param()), g.0.next_u32());
    let _ = net.forward(&Portable, &frames, &mut ());
    5
}

/// The int8 network, rarely: a model quantised from random parameters and ranges observed on
/// random activations, buffers of any length, any frames.
fn quant_net(g: &mut Gen) -> u64 {
    if g.below(25) != 0 {
        return 0;
    }
    let cfg = ValenceConfig::TINY;
    // Finite parameters (a non-finite one is a `ModelError`, tested apart): the model exists.
    let n = g.len(cfg.param_len().unwrap_or(0));
    let params: Vec<f32> = (0..n).map(|_| g.0.next_f32() - 0.5).collect();
    let mut ranges = RangeObserver::new();
    let plan = cfg.plan().unwrap();
    for probe in plan.probes() {
        if g.below(2) == 0 {
            ranges.observe(probe, &g.f32s(8));
        }
    }
    let mut file = g.u8s(model_len(&cfg).unwrap_or(0));
    if quantize_model(&cfg, &params, &ranges, &mut file).is_err() {
        return 1;
    }
    let Ok(model) = QuantModel::parse(&file, &cfg) else {
        return 2;
    };
    let batch = g.small(2);
    let l = QuantLayout::new(&cfg, batch.max(1)).unwrap();
    // The activation buffers pass MAX_LEN: right (zeroed) three times in four, else one off.
    let off = usize::from(g.below(4) == 0);
    let mut bytes = vec![0i8; l.bytes_len() + off];
    let mut words = g.i32s(l.words_len());
    let mut mult = g.multipliers(l.multipliers_len());
    let Ok(mut net) = QuantNet::new(model, batch, &mut bytes, &mut words, &mut mult) else {
        return 3;
    };
    let n = g.small(2);
    let frames = vec![g.0.next_u32() as u8; n * cfg.frame_len().unwrap_or(0) + off];
    let mut out = vec![0.0; n + usize::from(g.below(4) == 0)];
    let _ = net.forward(&frames, &mut out);
    // The same model through the DSP kernels (portable stand-ins off Arm).
    net.use_kernels(Int8Kernels::Dsp);
    let _ = net.forward(&frames, &mut out);
    5
}

/// gemmlowp's fixed-point helpers and the int8 activation clamp, on any integers.
fn fixed_point(g: &mut Gen) -> u64 {
    let (a, b) = (g.0.next_u32() as i32, g.0.next_u32() as i32);
    let _ = saturating_rounding_doubling_high_mul(a, b);
    let _ = rounding_divide_by_pot(a, g.0.next_u32() >> g.below(32));
    let _ = saturate_s8(b);
    if let Ok(range) = ActivationRange::new(a as i8, b as i8) {
        let _ = range.clamp(a);
        relu_s8(range, &mut g.i8s(16));
    }
    if let Some(q) = g.quant() {
        let range = ActivationRange::from_activation(g.activation(), &q);
        relu_s8(range, &mut g.i8s(16));
    }
    6
}

const CASES: [(&str, Case); 13] = [
    ("conv", conv),
    ("dense", dense),
    ("pool", pool),
    ("lrn", lrn),
    ("elementwise", elementwise),
    ("optimisers", optimisers),
    ("init", init),
    ("histogram", histogram),
    ("frames", frames),
    ("layouts", layouts),
    ("net", net),
    ("quant_net", quant_net),
    ("fixed_point", fixed_point),
];

#[test]
fn no_public_constructor_or_kernel_panics_on_random_input() {
    // Keep the default hook's backtrace-free message but do not print one per caught panic.
    std::panic::set_hook(Box::new(|_| {}));
    let mut calls = 0u64;
    let mut panics = Vec::new();
    for i in 0..ITERATIONS {
        let (name, case) = CASES[(i / 2 % CASES.len() as u64) as usize];
        let mut g = Gen(Rng::new(0x5eed_2026, i), i % 2 == 1);
        match catch_unwind(AssertUnwindSafe(|| case(&mut g))) {
            Ok(n) => calls += n,
            Err(e) => {
                let msg = e
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| e.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                panics.push(format!("{name} (iteration {i}): {msg}"));
            }
        }
    }
    let _ = std::panic::take_hook();
    assert!(
        panics.is_empty(),
        "{} panics, first: {:#?}",
        panics.len(),
        &panics[..panics.len().min(10)]
    );
    println!("{ITERATIONS} cases, {calls} constructor and kernel calls, no panic");
    assert!(calls >= 100_000, "only {calls} calls");
}

/// The inputs a fuzzer found panicking (with overflow checks) before they were fixed.
#[test]
fn the_fuzzers_findings_are_errors_or_values() {
    // ArenaLayout::bytes(): an arena of more than usize::MAX / 4 floats is refused.
    let cfg = ValenceConfig::TINY;
    for batch in [usize::MAX / 2, usize::MAX / 64, 1 << (usize::BITS - 4)] {
        for l in [
            ArenaLayout::training(&cfg, batch, OptimizerKind::Adam),
            ArenaLayout::inference(&cfg, batch),
        ]
        .into_iter()
        .flatten()
        {
            assert!(l.arena_len() <= usize::MAX / 4, "batch {batch}");
            let _ = l.bytes();
        }
        if let Ok(q) = QuantLayout::new(&cfg, batch) {
            let _ = q.total_bytes();
        }
    }
    // lrn_f32_approx at beta 0.75 on a NaN with its sign bit set: NaN out, no panic.
    let l = Lrn::new(1, 0, 1.0, 1.0, 0.75).unwrap();
    let mut y = [0.0f32];
    lrn_f32_approx(&l, 1, &[f32::from_bits(0xffc0_0000)], &mut y).unwrap();
    assert!(y[0].is_nan());
    // A norm of 5.26e-20 at beta 2: micromath's powf overflowed; the exact power is 3.6e38.
    let l = Lrn::new(1, 0, 5.26e-20, 0.0, 2.0).unwrap();
    lrn_f32_approx(&l, 1, &[1.0], &mut y).unwrap();
    let want = libm::powf(5.26e-20, -2.0);
    assert_eq!(y[0], want);
}
