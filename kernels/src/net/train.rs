//! The one forward / backward / optimiser-step implementation over the arena.

use super::arena::{ArenaLayout, OptimizerKind};
use super::config::{Geometry, ValenceConfig, LRN_ALPHA, LRN_BETA, LRN_BIAS, LRN_DEPTH_RADIUS};
use super::params::{Init, ParamSpec, PARAM_TENSORS};
use super::probe::{Observer, Probe};
use crate::activation::{bias_backward_f32, relu_backward_f32, relu_f32};
use crate::conv2d::{
    conv2d_backward_filter_f32, conv2d_backward_filter_u8, conv2d_backward_input_f32, conv2d_f32,
    conv2d_u8, Conv2d,
};
use crate::dense::{dense_backward_input_f32, dense_backward_weights_f32, dense_f32, Dense};
use crate::error::{check_len, mul};
use crate::init::{constant_f32, truncated_normal_f32, xavier_normal_f32};
use crate::loss::weighted_abs_error_f32;
use crate::lrn::{lrn_backward_f32, lrn_f32, Lrn};
use crate::optim::{adam_step_f32, momentum_step_f32, sgd_step_f32, Adam, Momentum};
use crate::pool::{max_pool_backward_f32, max_pool_f32, Pool2d};
use crate::rng::Rng;
use crate::{Backend, Gemm, KernelError};

// Activation slots, in forward order.
const C1: usize = 0;
const N1: usize = 1;
const P1: usize = 2;
const C2: usize = 3;
const N2: usize = 4;
const P2: usize = 5;
const C3: usize = 6;
const C4: usize = 7;
const C5: usize = 8;
const P3: usize = 9;
const L1: usize = 10;
const L2: usize = 11;
const OUT: usize = 12;

/// The valence network over one caller-provided arena.
///
/// A training network ([`Net::training`]) keeps every activation for the backward pass and
/// accumulates parameter gradients across calls, so a board can train a batch of 8 one frame at
/// a time: [`Net::zero_grads`], eight [`Net::train_step`]s with `mean_over = 8`, one optimiser
/// step. An inference network ([`Net::inference`]) runs [`Net::forward`] only, in a smaller arena.
#[derive(Debug)]
pub struct Net<'a> {
    geo: Geometry,
    norm1: Lrn,
    norm2: Lrn,
    params: [ParamSpec; PARAM_TENSORS],
    layout: ArenaLayout,
    opt: Option<OptimizerKind>,
    arena: &'a mut [f32],
}

/// The arena cut into its regions.
struct Parts<'b> {
    params: &'b mut [f32],
    grads: &'b mut [f32],
    opt_state: &'b mut [f32],
    acts: &'b mut [f32],
    scratch: &'b mut [f32],
    grad_a: &'b mut [f32],
    grad_b: &'b mut [f32],
    d_pred: &'b mut [f32],
}

/// Where slot `slot` of `n` examples lives inside the activation region: every slot apart
/// (training) or alternating between two ping-pong halves (inference: each layer reads only
/// the previous one's output).
fn slot_range(layout: &ArenaLayout, slot: usize, n: usize) -> (usize, usize) {
    let len = layout.slot_len[slot] * n;
    if layout.is_inference() {
        ((slot % 2) * (layout.activations.len / 2), len)
    } else {
        let before: usize = layout.slot_len[..slot].iter().sum();
        (before * layout.batch, len)
    }
}

/// The activation region, viewed slot by slot.
struct Slots<'b> {
    buf: &'b mut [f32],
    layout: ArenaLayout,
    n: usize,
}

impl Slots<'_> {
    fn range(&self, slot: usize) -> (usize, usize) {
        slot_range(&self.layout, slot, self.n)
    }

    /// The output slot alone (conv1, whose input is the frame).
    fn out(&mut self, slot: usize) -> &mut [f32] {
        let (o, l) = self.range(slot);
        &mut self.buf[o..o + l]
    }

    /// `slot - 1` as input and `slot` as output; the two never overlap.
    fn io(&mut self, slot: usize) -> (&[f32], &mut [f32]) {
        let (oi, li) = self.range(slot - 1);
        let (oo, lo) = self.range(slot);
        if oi < oo {
            let (a, b) = self.buf.split_at_mut(oo);
            (&a[oi..oi + li], &mut b[..lo])
        } else {
            let (a, b) = self.buf.split_at_mut(oi);
            (&b[..li], &mut a[oo..oo + lo])
        }
    }

    fn get(&self, slot: usize) -> &[f32] {
        let (o, l) = self.range(slot);
        &self.buf[o..o + l]
    }
}

fn param<'p>(params: &'p [f32], spec: &ParamSpec) -> &'p [f32] {
    &params[spec.offset..spec.offset + spec.len]
}

fn param_mut<'p>(params: &'p mut [f32], spec: &ParamSpec) -> &'p mut [f32] {
    &mut params[spec.offset..spec.offset + spec.len]
}

/// LRN over `rows` pixels, spread by the backend (every pixel is computed alone).
fn lrn<B: Backend + ?Sized>(
    b: &B,
    g: &Lrn,
    rows: usize,
    x: &[f32],
    y: &mut [f32],
) -> Result<(), KernelError> {
    let c = g.channels();
    b.map_rows(rows, (x, c), (y, c), &|r, x, y| lrn_f32(g, r, x, y))
}

/// LRN's input gradient over `rows` pixels, spread by the backend.
fn lrn_back<B: Backend + ?Sized>(
    b: &B,
    g: &Lrn,
    rows: usize,
    x: &[f32],
    dy: &[f32],
    dx: &mut [f32],
) -> Result<(), KernelError> {
    let c = g.channels();
    b.map_rows2(rows, (x, c), (dy, c), (dx, c), &|r, x, dy, dx| {
        lrn_backward_f32(g, r, x, dy, dx)
    })
}

/// Max-pool over `n` examples, spread by the backend (every example is pooled alone).
fn pool<B: Backend + ?Sized>(
    b: &B,
    g: &Pool2d,
    n: usize,
    x: &[f32],
    y: &mut [f32],
) -> Result<(), KernelError> {
    b.map_rows(n, (x, g.input_len()), (y, g.output_len()), &|r, x, y| {
        max_pool_f32(g, r, x, y)
    })
}

/// Max-pool's input gradient over `n` examples, spread by the backend.
fn pool_back<B: Backend + ?Sized>(
    b: &B,
    g: &Pool2d,
    n: usize,
    x: &[f32],
    dy: &[f32],
    dx: &mut [f32],
) -> Result<(), KernelError> {
    let (i, o) = (g.input_len(), g.output_len());
    b.map_rows2(n, (x, i), (dy, o), (dx, i), &|r, x, dy, dx| {
        max_pool_backward_f32(g, r, x, dy, dx)
    })
}

/// conv + bias, observe, ReLU, observe.
#[allow(clippy::too_many_arguments)]
fn conv_relu<G: Gemm + ?Sized, O: Observer + ?Sized>(
    g: &Conv2d,
    gemm: &G,
    n: usize,
    input: &[f32],
    w: &[f32],
    b: &[f32],
    scratch: &mut [f32],
    out: &mut [f32],
    obs: &mut O,
    probes: [Probe; 2],
) -> Result<(), KernelError> {
    conv2d_f32(
        g,
        gemm,
        n,
        input,
        w,
        b,
        &mut scratch[..g.scratch_len()],
        out,
    )?;
    obs.observe(probes[0], out);
    relu_f32(out);
    obs.observe(probes[1], out);
    Ok(())
}

/// dense + bias, observe, ReLU (unless `probes[1]` is `None`), observe.
#[allow(clippy::too_many_arguments)]
fn dense_layer<G: Gemm + ?Sized, O: Observer + ?Sized>(
    g: &Dense,
    gemm: &G,
    n: usize,
    input: &[f32],
    w: &[f32],
    b: &[f32],
    out: &mut [f32],
    obs: &mut O,
    probes: (Probe, Option<Probe>),
) -> Result<(), KernelError> {
    dense_f32(g, gemm, n, input, w, b, out)?;
    obs.observe(probes.0, out);
    if let Some(after) = probes.1 {
        relu_f32(out);
        obs.observe(after, out);
    }
    Ok(())
}

impl<'a> Net<'a> {
    /// A training network for `batch` examples per call, with `opt`'s state, over `arena`
    /// (exactly [`ArenaLayout::training`]`(cfg, batch, opt).arena_len()` long).
    ///
    /// # Errors
    /// Geometry errors of `cfg`, [`KernelError::Zero`] for `batch == 0`, and
    /// [`KernelError::Length`] (`arena`) for a wrong arena length.
    pub fn training(
        cfg: &ValenceConfig,
        batch: usize,
        opt: OptimizerKind,
        arena: &'a mut [f32],
    ) -> Result<Self, KernelError> {
        let layout = ArenaLayout::training(cfg, batch, opt)?;
        Self::with_layout(cfg, layout, Some(opt), arena)
    }

    /// An inference-only network (parameters, ping-pong activations, scratch) over `arena`
    /// (exactly [`ArenaLayout::inference`]`(cfg, batch).arena_len()` long).
    ///
    /// # Errors
    /// As [`Net::training`].
    pub fn inference(
        cfg: &ValenceConfig,
        batch: usize,
        arena: &'a mut [f32],
    ) -> Result<Self, KernelError> {
        let layout = ArenaLayout::inference(cfg, batch)?;
        Self::with_layout(cfg, layout, None, arena)
    }

    fn with_layout(
        cfg: &ValenceConfig,
        layout: ArenaLayout,
        opt: Option<OptimizerKind>,
        arena: &'a mut [f32],
    ) -> Result<Self, KernelError> {
        check_len("arena", layout.arena_len(), arena.len())?;
        let lrn = |channels| Lrn::new(channels, LRN_DEPTH_RADIUS, LRN_BIAS, LRN_ALPHA, LRN_BETA);
        Ok(Self {
            geo: cfg.geometry()?,
            norm1: lrn(cfg.conv[0])?,
            norm2: lrn(cfg.conv[1])?,
            params: cfg.params()?,
            layout,
            opt,
            arena,
        })
    }

    /// The arena's layout.
    pub fn layout(&self) -> &ArenaLayout {
        &self.layout
    }

    /// The parameter table.
    pub fn param_specs(&self) -> &[ParamSpec; PARAM_TENSORS] {
        &self.params
    }

    /// All parameters, in [`ValenceConfig::params`] order.
    pub fn params(&self) -> &[f32] {
        let r = self.layout.params;
        &self.arena[r.offset..r.end()]
    }

    /// All parameters, mutable (to load a checkpoint or imported weights).
    pub fn params_mut(&mut self) -> &mut [f32] {
        let r = self.layout.params;
        &mut self.arena[r.offset..r.end()]
    }

    /// The accumulated gradients, same order as [`Net::params`] (empty for inference).
    pub fn grads(&self) -> &[f32] {
        let r = self.layout.grads;
        &self.arena[r.offset..r.end()]
    }

    /// The optimiser state (Adam: all `m`, then all `v`; momentum: the accumulators).
    pub fn opt_state(&self) -> &[f32] {
        let r = self.layout.opt_state;
        &self.arena[r.offset..r.end()]
    }

    /// The optimiser state, mutable (to resume from a checkpoint).
    pub fn opt_state_mut(&mut self) -> &mut [f32] {
        let r = self.layout.opt_state;
        &mut self.arena[r.offset..r.end()]
    }

    /// The first `n` predictions of the last forward pass (`n` is capped at the batch).
    pub fn predictions(&self, n: usize) -> &[f32] {
        let n = n.min(self.layout.batch);
        let (o, _) = slot_range(&self.layout, OUT, n);
        let base = self.layout.activations.offset + o;
        &self.arena[base..base + n]
    }

    /// Draws every parameter with the seed's initialisers. Tensor `i` uses the stream
    /// `Rng::new(seed, i)`, so each tensor's values do not depend on the others' sizes.
    pub fn init_params(&mut self, seed: u64) -> Result<(), KernelError> {
        let specs = self.params;
        let params = self.params_mut();
        for (i, spec) in specs.iter().enumerate() {
            let mut rng = Rng::new(seed, i as u64);
            let out = param_mut(params, spec);
            match spec.init {
                Init::Xavier { fan_in, fan_out } => {
                    xavier_normal_f32(&mut rng, fan_in, fan_out, out)?
                }
                Init::TruncatedNormal { stddev } => {
                    truncated_normal_f32(&mut rng, 0.0, stddev, out)?
                }
                Init::Constant(v) => constant_f32(v, out),
            }
        }
        Ok(())
    }

    /// Sets every gradient to zero (start of a batch).
    pub fn zero_grads(&mut self) {
        let r = self.layout.grads;
        self.arena[r.offset..r.end()].fill(0.0);
    }

    fn parts(&mut self) -> Parts<'_> {
        let l = &self.layout;
        let (params, rest) = self.arena.split_at_mut(l.params.len);
        let (grads, rest) = rest.split_at_mut(l.grads.len);
        let (opt_state, rest) = rest.split_at_mut(l.opt_state.len);
        let (acts, rest) = rest.split_at_mut(l.activations.len);
        let (scratch, rest) = rest.split_at_mut(l.scratch.len);
        let (grad_bufs, d_pred) = rest.split_at_mut(l.grad_buffers.len);
        let (grad_a, grad_b) = grad_bufs.split_at_mut(l.grad_buffers.len / 2);
        Parts {
            params,
            grads,
            opt_state,
            acts,
            scratch,
            grad_a,
            grad_b,
            d_pred,
        }
    }

    fn check_batch(&self, frames: &[u8], frame_len: usize) -> Result<usize, KernelError> {
        if frames.is_empty() || frame_len == 0 || frames.len() % frame_len != 0 {
            let expected = mul("frames", frame_len, self.layout.batch)?;
            return Err(KernelError::Length {
                arg: "frames",
                expected,
                got: frames.len(),
            });
        }
        let n = frames.len() / frame_len;
        if n > self.layout.batch {
            return Err(KernelError::Length {
                arg: "frames",
                expected: frame_len * self.layout.batch,
                got: frames.len(),
            });
        }
        Ok(n)
    }

    /// Runs the network on `n` frames (`frames.len() == n · input² · 3`, `1 ≤ n ≤ batch`),
    /// showing every probed tensor to `obs`, and returns the `n` predictions.
    ///
    /// # Errors
    /// [`KernelError::Length`] (`frames`) when `frames` is empty, not a whole number of frames,
    /// or more than `batch` frames; nothing is written then.
    pub fn forward<G: Backend + ?Sized, O: Observer + ?Sized>(
        &mut self,
        gemm: &G,
        frames: &[u8],
        obs: &mut O,
    ) -> Result<&[f32], KernelError> {
        let n = self.check_batch(frames, self.geo.conv1.input_len())?;
        let (geo, norm1, norm2, specs, layout) =
            (self.geo, self.norm1, self.norm2, self.params, self.layout);
        let parts = self.parts();
        let mut slots = Slots {
            buf: parts.acts,
            layout,
            n,
        };
        let p: &[f32] = parts.params;
        let scratch = parts.scratch;
        let w = |i: usize| param(p, &specs[i]);

        let g = &geo.conv1;
        let out = slots.out(C1);
        conv2d_u8(
            g,
            gemm,
            n,
            frames,
            w(0),
            w(1),
            &mut scratch[..g.scratch_len()],
            out,
        )?;
        obs.observe(Probe::Conv1BeforeRelu, out);
        relu_f32(out);
        obs.observe(Probe::Conv1Output, out);
        let (x, y) = slots.io(N1);
        lrn(gemm, &norm1, n * geo.conv1.output().pixels(), x, y)?;
        obs.observe(Probe::Norm1Output, y);
        let (x, y) = slots.io(P1);
        pool(gemm, &geo.pool1, n, x, y)?;
        obs.observe(Probe::Pool1Output, y);
        let (x, y) = slots.io(C2);
        conv_relu(
            &geo.conv2,
            gemm,
            n,
            x,
            w(2),
            w(3),
            scratch,
            y,
            obs,
            [Probe::Conv2BeforeRelu, Probe::Conv2Output],
        )?;
        let (x, y) = slots.io(N2);
        lrn(gemm, &norm2, n * geo.conv2.output().pixels(), x, y)?;
        obs.observe(Probe::Norm2Output, y);
        let (x, y) = slots.io(P2);
        pool(gemm, &geo.pool2, n, x, y)?;
        obs.observe(Probe::Pool2Output, y);
        let (x, y) = slots.io(C3);
        conv_relu(
            &geo.conv3,
            gemm,
            n,
            x,
            w(4),
            w(5),
            scratch,
            y,
            obs,
            [Probe::Conv3BeforeRelu, Probe::Conv3Output],
        )?;
        let (x, y) = slots.io(C4);
        conv_relu(
            &geo.conv4,
            gemm,
            n,
            x,
            w(6),
            w(7),
            scratch,
            y,
            obs,
            [Probe::Conv4BeforeRelu, Probe::Conv4Output],
        )?;
        let (x, y) = slots.io(C5);
        conv_relu(
            &geo.conv5,
            gemm,
            n,
            x,
            w(8),
            w(9),
            scratch,
            y,
            obs,
            [Probe::Conv5BeforeRelu, Probe::Conv5Output],
        )?;
        let (x, y) = slots.io(P3);
        pool(gemm, &geo.pool3, n, x, y)?;
        obs.observe(Probe::Pool3Output, y);
        // Flatten is free: pool3's NHWC output already is `tf.reshape(pool3, [-1, flat])`.
        let (x, y) = slots.io(L1);
        dense_layer(
            &geo.local1,
            gemm,
            n,
            x,
            w(10),
            w(11),
            y,
            obs,
            (Probe::Local1BeforeRelu, Some(Probe::Local1Output)),
        )?;
        let (x, y) = slots.io(L2);
        dense_layer(
            &geo.local2,
            gemm,
            n,
            x,
            w(12),
            w(13),
            y,
            obs,
            (Probe::Local2BeforeRelu, Some(Probe::Local2Output)),
        )?;
        let (x, y) = slots.io(OUT);
        dense_layer(
            &geo.softmax,
            gemm,
            n,
            x,
            w(14),
            w(15),
            y,
            obs,
            (Probe::SoftmaxOutput, None),
        )?;
        Ok(self.predictions(n))
    }

    /// One forward pass, the seed's loss `Σ c·|p − y| / mean_over` and the backward pass on `n`
    /// frames; parameter gradients are *added* to [`Net::grads`]. Returns this call's share of
    /// the loss (the whole batch's loss when `mean_over == n`).
    ///
    /// # Errors
    /// As [`Net::forward`]; [`KernelError::Length`] when `target` or `confidence` do not hold
    /// `n` values; [`KernelError::Zero`] for `mean_over == 0`; [`KernelError::InvalidParam`]
    /// (`net`) on an inference network.
    #[allow(clippy::too_many_arguments)]
    pub fn train_step<G: Backend + ?Sized, O: Observer + ?Sized>(
        &mut self,
        gemm: &G,
        frames: &[u8],
        target: &[f32],
        confidence: &[f32],
        mean_over: usize,
        obs: &mut O,
    ) -> Result<f32, KernelError> {
        if self.layout.is_inference() {
            return Err(KernelError::InvalidParam { arg: "net" });
        }
        let n = self.check_batch(frames, self.geo.conv1.input_len())?;
        check_len("target", n, target.len())?;
        check_len("confidence", n, confidence.len())?;
        if mean_over == 0 {
            return Err(KernelError::Zero { arg: "mean_over" });
        }
        self.forward(gemm, frames, obs)?;
        let (geo, norm1, norm2, specs, layout) =
            (self.geo, self.norm1, self.norm2, self.params, self.layout);
        let parts = self.parts();
        let slots = Slots {
            buf: parts.acts,
            layout,
            n,
        };
        let p: &[f32] = parts.params;
        let grads = parts.grads;
        let scratch = parts.scratch;
        let d_pred = &mut parts.d_pred[..n];
        let loss = weighted_abs_error_f32(slots.get(OUT), target, confidence, mean_over, d_pred)?;

        let lens = |s: usize| layout.slot_len[s] * n;
        let (ga, gb) = (parts.grad_a, parts.grad_b);
        // Each step reads the gradient in one ping-pong buffer and writes the next into the other.
        let wspec = |i: usize| specs[i];

        // softmax_linear: no activation.
        let d_l2 = &mut ga[..lens(L2)];
        dense_grads(
            &geo.softmax,
            gemm,
            n,
            slots.get(L2),
            d_pred,
            p,
            grads,
            wspec(14),
            wspec(15),
            Some(d_l2),
        )?;
        obs.backward_done(Probe::SoftmaxOutput);
        // local2, local1: ReLU then dense.
        relu_backward_f32(slots.get(L2), &mut ga[..lens(L2)])?;
        let d_l1 = &mut gb[..lens(L1)];
        dense_grads(
            &geo.local2,
            gemm,
            n,
            slots.get(L1),
            &ga[..lens(L2)],
            p,
            grads,
            wspec(12),
            wspec(13),
            Some(d_l1),
        )?;
        obs.backward_done(Probe::Local2Output);
        relu_backward_f32(slots.get(L1), &mut gb[..lens(L1)])?;
        let d_p3 = &mut ga[..lens(P3)];
        dense_grads(
            &geo.local1,
            gemm,
            n,
            slots.get(P3),
            &gb[..lens(L1)],
            p,
            grads,
            wspec(10),
            wspec(11),
            Some(d_p3),
        )?;
        obs.backward_done(Probe::Local1Output);
        // pool3 → conv5.
        pool_back(
            gemm,
            &geo.pool3,
            n,
            slots.get(C5),
            &ga[..lens(P3)],
            &mut gb[..lens(C5)],
        )?;
        obs.backward_done(Probe::Pool3Output);
        relu_backward_f32(slots.get(C5), &mut gb[..lens(C5)])?;
        conv_grads(
            &geo.conv5,
            gemm,
            n,
            ConvIn::F32(slots.get(C4)),
            &gb[..lens(C5)],
            p,
            grads,
            scratch,
            wspec(8),
            wspec(9),
            Some(&mut ga[..lens(C4)]),
        )?;
        obs.backward_done(Probe::Conv5Output);
        relu_backward_f32(slots.get(C4), &mut ga[..lens(C4)])?;
        conv_grads(
            &geo.conv4,
            gemm,
            n,
            ConvIn::F32(slots.get(C3)),
            &ga[..lens(C4)],
            p,
            grads,
            scratch,
            wspec(6),
            wspec(7),
            Some(&mut gb[..lens(C3)]),
        )?;
        obs.backward_done(Probe::Conv4Output);
        relu_backward_f32(slots.get(C3), &mut gb[..lens(C3)])?;
        conv_grads(
            &geo.conv3,
            gemm,
            n,
            ConvIn::F32(slots.get(P2)),
            &gb[..lens(C3)],
            p,
            grads,
            scratch,
            wspec(4),
            wspec(5),
            Some(&mut ga[..lens(P2)]),
        )?;
        obs.backward_done(Probe::Conv3Output);
        // pool2 → norm2 → conv2.
        pool_back(
            gemm,
            &geo.pool2,
            n,
            slots.get(N2),
            &ga[..lens(P2)],
            &mut gb[..lens(N2)],
        )?;
        obs.backward_done(Probe::Pool2Output);
        lrn_back(
            gemm,
            &norm2,
            n * geo.conv2.output().pixels(),
            slots.get(C2),
            &gb[..lens(N2)],
            &mut ga[..lens(C2)],
        )?;
        obs.backward_done(Probe::Norm2Output);
        relu_backward_f32(slots.get(C2), &mut ga[..lens(C2)])?;
        conv_grads(
            &geo.conv2,
            gemm,
            n,
            ConvIn::F32(slots.get(P1)),
            &ga[..lens(C2)],
            p,
            grads,
            scratch,
            wspec(2),
            wspec(3),
            Some(&mut gb[..lens(P1)]),
        )?;
        obs.backward_done(Probe::Conv2Output);
        // pool1 → norm1 → conv1 (no input gradient: the input is the frame).
        pool_back(
            gemm,
            &geo.pool1,
            n,
            slots.get(N1),
            &gb[..lens(P1)],
            &mut ga[..lens(N1)],
        )?;
        obs.backward_done(Probe::Pool1Output);
        lrn_back(
            gemm,
            &norm1,
            n * geo.conv1.output().pixels(),
            slots.get(C1),
            &ga[..lens(N1)],
            &mut gb[..lens(C1)],
        )?;
        obs.backward_done(Probe::Norm1Output);
        relu_backward_f32(slots.get(C1), &mut gb[..lens(C1)])?;
        conv_grads(
            &geo.conv1,
            gemm,
            n,
            ConvIn::U8(frames),
            &gb[..lens(C1)],
            p,
            grads,
            scratch,
            wspec(0),
            wspec(1),
            None,
        )?;
        obs.backward_done(Probe::Conv1Output);
        Ok(loss)
    }

    /// One Adam step on all parameters with the accumulated gradients; `step` is t ≥ 1.
    ///
    /// # Errors
    /// [`KernelError::InvalidParam`] (`optimizer`) if the arena holds no Adam state; the
    /// optimiser's own parameter errors.
    pub fn adam_step(&mut self, adam: &Adam, step: u32) -> Result<(), KernelError> {
        if self.opt != Some(OptimizerKind::Adam) {
            return Err(KernelError::InvalidParam { arg: "optimizer" });
        }
        let parts = self.parts();
        let (m, v) = parts.opt_state.split_at_mut(parts.params.len());
        adam_step_f32(adam, step, parts.params, parts.grads, m, v)
    }

    /// One momentum step on all parameters with the accumulated gradients.
    ///
    /// # Errors
    /// [`KernelError::InvalidParam`] (`optimizer`) if the arena holds no momentum state; the
    /// optimiser's own parameter errors.
    pub fn momentum_step(&mut self, momentum: &Momentum) -> Result<(), KernelError> {
        if self.opt != Some(OptimizerKind::Momentum) {
            return Err(KernelError::InvalidParam { arg: "optimizer" });
        }
        let parts = self.parts();
        momentum_step_f32(momentum, parts.params, parts.grads, parts.opt_state)
    }

    /// One plain SGD step on all parameters with the accumulated gradients.
    ///
    /// # Errors
    /// [`KernelError::InvalidParam`] (`optimizer`) on an inference network; `lr` errors.
    pub fn sgd_step(&mut self, lr: f32) -> Result<(), KernelError> {
        if self.opt.is_none() {
            return Err(KernelError::InvalidParam { arg: "optimizer" });
        }
        let parts = self.parts();
        sgd_step_f32(lr, parts.params, parts.grads)
    }
}

/// The input of a convolution's filter gradient.
enum ConvIn<'x> {
    U8(&'x [u8]),
    F32(&'x [f32]),
}

/// Filter, bias and (optionally) input gradients of one convolution.
#[allow(clippy::too_many_arguments)]
fn conv_grads<G: Gemm + ?Sized>(
    g: &Conv2d,
    gemm: &G,
    n: usize,
    input: ConvIn<'_>,
    d_out: &[f32],
    params: &[f32],
    grads: &mut [f32],
    scratch: &mut [f32],
    w: ParamSpec,
    b: ParamSpec,
    d_input: Option<&mut [f32]>,
) -> Result<(), KernelError> {
    let scratch = &mut scratch[..g.scratch_len()];
    let d_w = param_mut(grads, &w);
    match input {
        ConvIn::U8(x) => conv2d_backward_filter_u8(g, gemm, n, x, d_out, scratch, d_w)?,
        ConvIn::F32(x) => conv2d_backward_filter_f32(g, gemm, n, x, d_out, scratch, d_w)?,
    }
    bias_backward_f32(n * g.output().pixels(), d_out, param_mut(grads, &b))?;
    if let Some(d_in) = d_input {
        conv2d_backward_input_f32(g, gemm, n, d_out, param(params, &w), scratch, d_in)?;
    }
    Ok(())
}

/// Weight, bias and (optionally) input gradients of one dense layer.
#[allow(clippy::too_many_arguments)]
fn dense_grads<G: Gemm + ?Sized>(
    g: &Dense,
    gemm: &G,
    n: usize,
    input: &[f32],
    d_out: &[f32],
    params: &[f32],
    grads: &mut [f32],
    w: ParamSpec,
    b: ParamSpec,
    d_input: Option<&mut [f32]>,
) -> Result<(), KernelError> {
    dense_backward_weights_f32(g, gemm, n, input, d_out, param_mut(grads, &w))?;
    bias_backward_f32(n, d_out, param_mut(grads, &b))?;
    if let Some(d_in) = d_input {
        dense_backward_input_f32(g, gemm, n, d_out, param(params, &w), d_in)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::Portable;
    use std::vec;
    use std::vec::Vec;

    const TINY: ValenceConfig = ValenceConfig::TINY;

    fn frames(n: usize, seed: u64) -> Vec<u8> {
        let mut rng = Rng::new(seed, 99);
        (0..n * 64 * 64 * 3).map(|_| rng.next_u32() as u8).collect()
    }

    fn training(batch: usize, opt: OptimizerKind) -> Vec<f32> {
        vec![
            f32::NAN;
            ArenaLayout::training(&TINY, batch, opt)
                .unwrap()
                .arena_len()
        ]
    }

    /// The seed's loss of the current parameters, evaluated in f64 from the f32 predictions.
    fn loss_f64(net: &mut Net<'_>, x: &[u8], y: &[f32], c: &[f32]) -> f64 {
        let p = net.forward(&Portable, x, &mut ()).unwrap();
        p.iter()
            .zip(y)
            .zip(c)
            .map(|((&p, &y), &c)| f64::from(c) * (f64::from(p) - f64::from(y)).abs())
            .sum::<f64>()
            / y.len() as f64
    }

    #[test]
    fn backward_matches_finite_differences_through_the_whole_network() {
        // Reference: central differences of the loss through the f32 forward pass. Targets sit far
        // from the predictions (≈ 0), so |p − y| has no kink nearby; tolerance 5e-3 abs + 5 % rel,
        // loose because f32 forward noise and ReLU/max-pool switches enter the differences.
        let mut arena = training(3, OptimizerKind::Sgd);
        let mut net = Net::training(&TINY, 3, OptimizerKind::Sgd, &mut arena).unwrap();
        net.init_params(7).unwrap();
        // Larger output weights than the seed's σ = 1/1024, so every layer's gradient is measurable.
        let specs = *net.param_specs();
        let mut rng = Rng::new(3, 3);
        for v in &mut net.params_mut()[specs[14].offset..specs[14].offset + specs[14].len] {
            *v = rng.next_normal() * 0.5;
        }
        let x = frames(3, 1);
        let (y, c) = ([0.9f32, -0.8, 0.7], [1.0f32, 0.5, 0.8]);
        net.zero_grads();
        net.train_step(&Portable, &x, &y, &c, 3, &mut ()).unwrap();
        let grads = net.grads().to_vec();
        let mut checked = 0;
        for spec in specs.iter() {
            // The entry with the largest gradient of each tensor, and its first entry.
            let g = &grads[spec.offset..spec.offset + spec.len];
            let big = (0..spec.len)
                .max_by(|&a, &b| g[a].abs().total_cmp(&g[b].abs()))
                .unwrap();
            for i in [big, 0] {
                let idx = spec.offset + i;
                let w0 = net.params()[idx];
                let h = 1e-2f32.max(w0.abs() * 1e-2);
                net.params_mut()[idx] = w0 + h;
                let up = loss_f64(&mut net, &x, &y, &c);
                net.params_mut()[idx] = w0 - h;
                let down = loss_f64(&mut net, &x, &y, &c);
                net.params_mut()[idx] = w0;
                let fd = (up - down) / (2.0 * f64::from(h));
                let an = f64::from(grads[idx]);
                assert!(
                    (fd - an).abs() <= 5e-3 + 0.05 * fd.abs(),
                    "{}[{i}]: analytic {an}, finite difference {fd}",
                    spec.name
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 32);
    }

    #[test]
    fn adam_lowers_the_loss_on_a_fixed_batch() {
        let mut arena = training(4, OptimizerKind::Adam);
        let mut net = Net::training(&TINY, 4, OptimizerKind::Adam, &mut arena).unwrap();
        net.init_params(1).unwrap();
        net.opt_state_mut().fill(0.0);
        let x = frames(4, 2);
        let (y, c) = ([0.5f32, -0.5, 0.25, -0.75], [1.0f32; 4]);
        let adam = Adam::tf1(1e-2);
        let mut losses = Vec::new();
        for t in 1..=30 {
            net.zero_grads();
            losses.push(net.train_step(&Portable, &x, &y, &c, 4, &mut ()).unwrap());
            net.adam_step(&adam, t).unwrap();
        }
        assert!(
            losses[29] < 0.3 * losses[0],
            "loss went {} → {}",
            losses[0],
            losses[29]
        );
    }

    #[test]
    fn micro_batches_accumulate_to_the_full_batch_gradient() {
        let x = frames(4, 5);
        let (y, c) = ([0.5f32, -0.5, 0.25, -0.75], [1.0f32, 0.2, 0.7, 0.9]);
        let mut whole = training(4, OptimizerKind::Sgd);
        let mut net = Net::training(&TINY, 4, OptimizerKind::Sgd, &mut whole).unwrap();
        net.init_params(9).unwrap();
        net.zero_grads();
        let loss = net.train_step(&Portable, &x, &y, &c, 4, &mut ()).unwrap();
        let g_whole = net.grads().to_vec();

        let mut one = training(1, OptimizerKind::Sgd);
        let mut micro = Net::training(&TINY, 1, OptimizerKind::Sgd, &mut one).unwrap();
        micro.init_params(9).unwrap();
        micro.zero_grads();
        let mut micro_loss = 0.0;
        let frame = 64 * 64 * 3;
        for b in 0..4 {
            let xb = &x[b * frame..(b + 1) * frame];
            micro_loss += micro
                .train_step(&Portable, xb, &y[b..=b], &c[b..=b], 4, &mut ())
                .unwrap();
        }
        // Reference: the batch-4 gradient. The summation order over examples differs (per-example
        // partial sums vs one pass), so the two agree within rounding: atol 1e-6 + rtol 1e-4.
        for (i, (&a, &b)) in micro.grads().iter().zip(&g_whole).enumerate() {
            assert!(
                (a - b).abs() <= 1e-6 + 1e-4 * b.abs(),
                "grad {i}: micro {a}, whole {b}"
            );
        }
        assert!((micro_loss - loss).abs() <= 1e-6 + 1e-5 * loss.abs());
    }

    #[test]
    fn inference_arena_gives_the_training_forward_bits() {
        let x = frames(2, 4);
        let mut t_arena = training(2, OptimizerKind::Adam);
        let mut train = Net::training(&TINY, 2, OptimizerKind::Adam, &mut t_arena).unwrap();
        train.init_params(11).unwrap();
        let want: Vec<u32> = train
            .forward(&Portable, &x, &mut ())
            .unwrap()
            .iter()
            .map(|v| v.to_bits())
            .collect();
        let layout = ArenaLayout::inference(&TINY, 2).unwrap();
        let mut i_arena = vec![f32::NAN; layout.arena_len()];
        let mut infer = Net::inference(&TINY, 2, &mut i_arena).unwrap();
        infer.params_mut().copy_from_slice(train.params());
        let got: Vec<u32> = infer
            .forward(&Portable, &x, &mut ())
            .unwrap()
            .iter()
            .map(|v| v.to_bits())
            .collect();
        assert_eq!(got, want);
        assert_eq!(
            infer.train_step(&Portable, &x, &[0.0; 2], &[1.0; 2], 2, &mut ()),
            Err(KernelError::InvalidParam { arg: "net" })
        );
    }

    #[test]
    fn observer_sees_every_probe_once_in_forward_order_with_its_size() {
        struct Log(Vec<(Probe, usize)>);
        impl Observer for Log {
            fn observe(&mut self, probe: Probe, values: &[f32]) {
                self.0.push((probe, values.len()));
            }
        }
        let mut arena = training(2, OptimizerKind::Sgd);
        let mut net = Net::training(&TINY, 2, OptimizerKind::Sgd, &mut arena).unwrap();
        net.init_params(2).unwrap();
        let mut log = Log(Vec::new());
        net.forward(&Portable, &frames(2, 8), &mut log).unwrap();
        let probes: Vec<Probe> = log.0.iter().map(|p| p.0).collect();
        assert_eq!(probes, Probe::ALL.to_vec());
        assert_eq!(log.0[0].1, 2 * 16 * 16 * 8);
        assert_eq!(log.0[3].1, 2 * 7 * 7 * 8);
        assert_eq!(log.0[19].1, 2);
    }

    #[test]
    fn backward_names_each_finished_layer_once_in_backward_order() {
        struct Log(Vec<Probe>);
        impl Observer for Log {
            fn observe(&mut self, _: Probe, _: &[f32]) {}
            fn backward_done(&mut self, probe: Probe) {
                self.0.push(probe);
            }
        }
        let mut arena = training(2, OptimizerKind::Sgd);
        let mut net = Net::training(&TINY, 2, OptimizerKind::Sgd, &mut arena).unwrap();
        net.init_params(2).unwrap();
        let mut log = Log(Vec::new());
        net.train_step(&Portable, &frames(2, 8), &[0.5; 2], &[1.0; 2], 2, &mut log)
            .unwrap();
        // Every layer's output probe (the ones after its ReLU), last layer first.
        let mut want: Vec<Probe> = Probe::ALL
            .iter()
            .copied()
            .filter(|p| !p.tag().ends_with("before_relu"))
            .collect();
        want.reverse();
        assert_eq!(log.0, want);
    }

    #[test]
    fn bad_frames_and_arenas_are_errors() {
        let mut short = vec![0.0; 10];
        assert!(matches!(
            Net::training(&TINY, 1, OptimizerKind::Sgd, &mut short),
            Err(KernelError::Length { arg: "arena", .. })
        ));
        let mut arena = training(2, OptimizerKind::Sgd);
        let mut net = Net::training(&TINY, 2, OptimizerKind::Sgd, &mut arena).unwrap();
        net.init_params(0).unwrap();
        for len in [0, 5, 3 * 64 * 64 * 3] {
            assert!(matches!(
                net.forward(&Portable, &vec![0; len], &mut ()),
                Err(KernelError::Length { arg: "frames", .. })
            ));
        }
        let x = frames(2, 1);
        assert_eq!(
            net.train_step(&Portable, &x, &[0.0], &[1.0; 2], 2, &mut ()),
            Err(KernelError::Length {
                arg: "target",
                expected: 2,
                got: 1
            })
        );
        assert_eq!(
            net.adam_step(&Adam::tf1(0.1), 1),
            Err(KernelError::InvalidParam { arg: "optimizer" })
        );
    }
}
