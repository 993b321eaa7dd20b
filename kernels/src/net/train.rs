//! The one forward / backward / optimiser-step implementation, walking any [`Plan`] over the
//! arena.

use super::arena::{ArenaLayout, OptimizerKind};
use super::params::{Init, ParamSpec};
use super::plan::{LayerGeometry, Params, Plan, PlannedLayer};
use super::probe::{Observer, Stage};
use super::table::{Activation, InputKind, Loss, Network};
use crate::activation::{bias_backward_f32, relu_backward_f32, relu_f32};
use crate::conv2d::{
    conv2d_backward_filter_f32, conv2d_backward_filter_u8, conv2d_backward_input_f32, conv2d_f32,
    conv2d_relu_f32, conv2d_relu_u8, conv2d_u8, Conv2d,
};
use crate::dense::{dense_backward_input_f32, dense_backward_weights_f32, dense_f32, Dense};
use crate::error::{check_len, mul};
use crate::init::{constant_f32, truncated_normal_f32, xavier_normal_f32};
use crate::loss::{mse_f32, softmax_cross_entropy_f32, weighted_abs_error_f32};
use crate::lrn::{check_two, lrn_backward_f32, lrn_f32, Lrn};
use crate::optim::{
    adam_keras_step_f32_with, adam_step_f32_with, momentum_step_f32_with, sgd_step_f32_with, Adam,
    AdamKeras, BetaPowers, Momentum,
};
use crate::pool::{max_pool_backward_f32, max_pool_f32, Pool2d};
use crate::rng::Rng;
use crate::{Backend, Exec, Gemm, KernelError, Portable};

/// A batch of examples for [`Net::forward_inputs`] and [`Net::train`]: `n` inputs of the
/// table's [`Input`](super::Input) shape back to back, NHWC.
#[derive(Debug, Clone, Copy)]
pub enum Inputs<'x> {
    /// `u8` frames ([`InputKind::U8`]).
    U8(&'x [u8]),
    /// `f32` features ([`InputKind::F32`]).
    F32(&'x [f32]),
}

impl Inputs<'_> {
    /// Values in the batch (`n` times the table's input length for `n` examples).
    pub(crate) fn len(&self) -> usize {
        match self {
            Self::U8(x) => x.len(),
            Self::F32(x) => x.len(),
        }
    }

    /// The [`InputKind`] this batch is.
    pub(crate) fn kind(&self) -> InputKind {
        match self {
            Self::U8(_) => InputKind::U8,
            Self::F32(_) => InputKind::F32,
        }
    }
}

/// What a batch should have produced, matching the table's [`Loss`].
#[derive(Debug, Clone, Copy)]
pub enum Targets<'t> {
    /// [`Loss::WeightedAbs`]: one target and one confidence per example.
    Weighted {
        /// `y`, one per example.
        target: &'t [f32],
        /// `c`, one per example.
        confidence: &'t [f32],
    },
    /// [`Loss::Mse`]: one target per output of every example.
    Values(&'t [f32]),
    /// [`Loss::SoftmaxCrossEntropy`]: one class index per example.
    Labels(&'t [u32]),
}

/// A network over one caller-provided arena, walking its table's [`Plan`].
///
/// A training network ([`Net::training`]) keeps every layer's output for the backward pass and
/// accumulates parameter gradients across calls, so a board can train a batch of 8 one frame at
/// a time: [`Net::zero_grads`], eight [`Net::train_step`]s with `mean_over = 8`, one optimiser
/// step. An inference network ([`Net::inference`]) runs [`Net::forward`] only, in a smaller arena.
#[derive(Debug)]
pub struct Net<'a> {
    plan: Plan,
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

/// The arena cut into `l`'s regions. A free function, so a method can hold `&self.plan` beside
/// the parts instead of copying the plan (kilobytes of a board's stack).
fn split<'b>(l: &ArenaLayout, arena: &'b mut [f32]) -> Parts<'b> {
    let (params, rest) = arena.split_at_mut(l.params.len);
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

    /// The output slot alone (the first layer, whose input is the caller's).
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
    &params[spec.range()]
}

fn param_mut<'p>(params: &'p mut [f32], spec: &ParamSpec) -> &'p mut [f32] {
    &mut params[spec.range()]
}

/// The weight and bias specs of a layer with parameters.
fn weights_and_bias(specs: &Params, l: &PlannedLayer) -> (ParamSpec, ParamSpec) {
    match l.params {
        Some([w, b]) => (specs[w], specs[b]),
        None => unreachable!("the plan gives every conv and dense layer its parameters"),
    }
}

/// ReLU in place over `n` examples' values, spread by the backend (every value alone).
fn relu<B: Backend + ?Sized>(b: &B, n: usize, y: &mut [f32]) {
    let row = y.len() / n;
    b.fill_rows(n, (y, row), &|_, chunk| relu_f32(chunk));
}

/// ReLU's gradient in place over `n` examples, spread by the backend (every value alone).
///
/// # Errors
/// [`KernelError::Length`] naming `d` when its length is not `output`'s; nothing is written.
fn relu_back<B: Backend + ?Sized>(
    b: &B,
    n: usize,
    output: &[f32],
    d: &mut [f32],
) -> Result<(), KernelError> {
    check_len("d", output.len(), d.len())?;
    let row = d.len() / n;
    b.fill_rows(n, (d, row), &|first, chunk| {
        let output = &output[first * row..][..chunk.len()];
        // The lengths agree (checked above, and chunks are whole rows): the error cannot occur.
        let _ = relu_backward_f32(output, chunk);
    });
    Ok(())
}

/// LRN over `rows` pixels: the backend's own algorithm if it has one, otherwise [`lrn_f32`]
/// spread by the backend (every pixel is computed alone).
fn lrn<B: Backend + ?Sized>(
    b: &B,
    g: &Lrn,
    rows: usize,
    x: &[f32],
    y: &mut [f32],
) -> Result<(), KernelError> {
    let c = g.channels();
    check_two(g, rows, "input", x.len(), "output", y.len())?;
    if b.lrn_forward(g, rows, x, y) {
        return Ok(());
    }
    b.map_rows(rows, (x, c), (y, c), &|r, x, y| lrn_f32(g, r, x, y))
}

/// LRN's input gradient over `rows` pixels: the backend's own algorithm if it has one,
/// otherwise [`lrn_backward_f32`] spread by the backend. With `relu`, `x` is a ReLU's output and
/// that ReLU's gradient ([`relu_backward_f32`]) is applied to `dx` in the same pass, while the
/// rows are in cache: the same bits as a separate pass.
fn lrn_back<B: Backend + ?Sized>(
    b: &B,
    g: &Lrn,
    rows: usize,
    x: &[f32],
    dy: &[f32],
    relu: bool,
    dx: &mut [f32],
) -> Result<(), KernelError> {
    let c = g.channels();
    let n = check_two(g, rows, "input", x.len(), "d_output", dy.len())?;
    check_len("d_input", n, dx.len())?;
    if b.lrn_backward(g, rows, x, dy, relu, dx) {
        return Ok(());
    }
    b.map_rows2(rows, (x, c), (dy, c), (dx, c), &|r, x, dy, dx| {
        lrn_backward_f32(g, r, x, dy, dx)?;
        if relu {
            relu_backward_f32(x, dx)?;
        }
        Ok(())
    })
}

/// Max-pool over `n` examples: the backend's own algorithm if it has one, otherwise
/// [`max_pool_f32`] spread by the backend (every example is pooled alone).
fn pool<B: Backend + ?Sized>(
    b: &B,
    g: &Pool2d,
    n: usize,
    x: &[f32],
    y: &mut [f32],
) -> Result<(), KernelError> {
    g.check(n, "input", x.len(), "output", y.len())?;
    if b.pool_forward(g, n, x, y) {
        return Ok(());
    }
    b.map_rows(n, (x, g.input_len()), (y, g.output_len()), &|r, x, y| {
        max_pool_f32(g, r, x, y)
    })
}

/// Max-pool's input gradient over `n` examples: the backend's own algorithm if it has one,
/// otherwise [`max_pool_backward_f32`] spread by the backend.
fn pool_back<B: Backend + ?Sized>(
    b: &B,
    g: &Pool2d,
    n: usize,
    x: &[f32],
    dy: &[f32],
    dx: &mut [f32],
) -> Result<(), KernelError> {
    let (n_in, _) = g.check(n, "input", x.len(), "d_output", dy.len())?;
    check_len("d_input", n_in, dx.len())?;
    if b.pool_backward(g, n, x, dy, dx) {
        return Ok(());
    }
    let (i, o) = (g.input_len(), g.output_len());
    b.map_rows2(n, (x, i), (dy, o), (dx, i), &|r, x, dy, dx| {
        max_pool_backward_f32(g, r, x, dy, dx)
    })
}

/// An `f32` layer input: the caller's features for the first layer, a slot otherwise.
fn f32_input<'x>(x: Inputs<'x>) -> Result<&'x [f32], KernelError> {
    match x {
        Inputs::F32(x) => Ok(x),
        // The plan lets only a convolution read `u8` frames.
        Inputs::U8(_) => Err(KernelError::InvalidParam { arg: "input" }),
    }
}

/// Layer `l`'s op on `n` examples: without its activation, or, for a convolution with
/// `fused_relu`, with its ReLU applied tile by tile.
#[allow(clippy::too_many_arguments)]
fn layer_forward<G: Backend + ?Sized>(
    l: &PlannedLayer,
    specs: &Params,
    gemm: &G,
    n: usize,
    x: Inputs<'_>,
    p: &[f32],
    scratch: &mut [f32],
    y: &mut [f32],
    fused_relu: bool,
) -> Result<(), KernelError> {
    match &l.geometry {
        LayerGeometry::Conv(g) => {
            let (w, b) = weights_and_bias(specs, l);
            let scratch = &mut scratch[..g.scratch_len()];
            let (w, b) = (param(p, &w), param(p, &b));
            match (x, fused_relu) {
                (Inputs::U8(x), false) => conv2d_u8(g, gemm, n, x, w, b, scratch, y),
                (Inputs::F32(x), false) => conv2d_f32(g, gemm, n, x, w, b, scratch, y),
                (Inputs::U8(x), true) => conv2d_relu_u8(g, gemm, n, x, w, b, scratch, y),
                (Inputs::F32(x), true) => conv2d_relu_f32(g, gemm, n, x, w, b, scratch, y),
            }
        }
        LayerGeometry::Dense(g) => {
            let (w, b) = weights_and_bias(specs, l);
            dense_f32(g, gemm, n, f32_input(x)?, param(p, &w), param(p, &b), y)
        }
        LayerGeometry::MaxPool(g) => pool(gemm, g, n, f32_input(x)?, y),
        LayerGeometry::Lrn(g) => lrn(gemm, g, n * l.output.pixels(), f32_input(x)?, y),
    }
}

/// Which of the three gradient buffers holds the gradient of the current layer's output.
#[derive(Clone, Copy)]
enum GradBuf {
    DPred,
    A,
    B,
}

/// The current layer's output gradient (`d_out`) and the buffer its input gradient goes to.
fn grad_pair<'g>(
    at: GradBuf,
    d_pred: &'g mut [f32],
    a: &'g mut [f32],
    b: &'g mut [f32],
) -> (&'g mut [f32], &'g mut [f32], GradBuf) {
    match at {
        GradBuf::DPred => (d_pred, a, GradBuf::A),
        GradBuf::A => (a, b, GradBuf::B),
        GradBuf::B => (b, a, GradBuf::A),
    }
}

impl<'a> Net<'a> {
    /// A training network for `batch` examples per call, with `opt`'s state, over `arena`
    /// (exactly [`ArenaLayout::training`]`(net, batch, opt).arena_len()` long).
    ///
    /// # Errors
    /// [`Plan::new`]'s errors for `net`, [`KernelError::Zero`] for `batch == 0`, and
    /// [`KernelError::Length`] (`arena`) for a wrong arena length.
    pub fn training(
        net: &Network,
        batch: usize,
        opt: OptimizerKind,
        arena: &'a mut [f32],
    ) -> Result<Self, KernelError> {
        Self::with_layout(net, batch, Some(opt), arena)
    }

    /// An inference-only network (parameters, ping-pong activations, scratch) over `arena`
    /// (exactly [`ArenaLayout::inference`]`(net, batch).arena_len()` long).
    ///
    /// # Errors
    /// As [`Net::training`].
    pub fn inference(
        net: &Network,
        batch: usize,
        arena: &'a mut [f32],
    ) -> Result<Self, KernelError> {
        Self::with_layout(net, batch, None, arena)
    }

    /// Plans `net` once for both the layout and the network.
    fn with_layout(
        net: &Network,
        batch: usize,
        opt: Option<OptimizerKind>,
        arena: &'a mut [f32],
    ) -> Result<Self, KernelError> {
        let plan = net.plan()?;
        let layout = ArenaLayout::from_plan(&plan, batch, opt)?;
        check_len("arena", layout.arena_len(), arena.len())?;
        Ok(Self {
            plan,
            layout,
            opt,
            arena,
        })
    }

    /// The arena's layout.
    pub fn layout(&self) -> &ArenaLayout {
        &self.layout
    }

    /// The validated table this network walks.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The parameter table.
    pub fn param_specs(&self) -> &Params {
        self.plan.params()
    }

    /// All parameters, in [`Network::params`] order.
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

    /// The optimiser state (Adam: all `m`, then all `v`, then `β1ᵗ` and `β2ᵗ` for the next
    /// step; momentum: the accumulators).
    pub fn opt_state(&self) -> &[f32] {
        let r = self.layout.opt_state;
        &self.arena[r.offset..r.end()]
    }

    /// The optimiser state, mutable (to resume from a checkpoint).
    pub fn opt_state_mut(&mut self) -> &mut [f32] {
        let r = self.layout.opt_state;
        &mut self.arena[r.offset..r.end()]
    }

    /// The outputs of the first `n` examples of the last forward pass (`n` is capped at the
    /// batch): `n` predictions for the valence networks, `n × classes` logits for a classifier.
    pub fn predictions(&self, n: usize) -> &[f32] {
        let n = n.min(self.layout.batch);
        let (o, len) = slot_range(&self.layout, self.layout.slots - 1, n);
        let base = self.layout.activations.offset + o;
        &self.arena[base..base + len]
    }

    /// Draws every parameter with the table's initialisers. Tensor `i` uses the stream
    /// `Rng::new(seed, i)`, so each tensor's values do not depend on the others' sizes.
    ///
    /// # Errors
    /// An initialiser's parameter errors (a σ that is not finite and positive).
    pub fn init_params(&mut self, seed: u64) -> Result<(), KernelError> {
        let specs = self.plan.params();
        let params = split(&self.layout, self.arena).params;
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
        self.zero_grads_with(&Portable);
    }

    /// [`Net::zero_grads`] spread by `exec` ([`Exec::map_lanes`]).
    pub fn zero_grads_with<E: Exec + ?Sized>(&mut self, exec: &E) {
        let r = self.layout.grads;
        exec.map_lanes(
            &[],
            &mut [&mut self.arena[r.offset..r.end()]],
            &|_, grads| {
                for g in grads {
                    g.fill(0.0);
                }
            },
        );
    }

    fn parts(&mut self) -> Parts<'_> {
        split(&self.layout, self.arena)
    }

    /// The number of examples in `x`, checked against the table's input and the batch.
    fn check_batch(&self, x: Inputs<'_>) -> Result<usize, KernelError> {
        if x.kind() != self.plan.network.input.kind {
            return Err(KernelError::InvalidParam { arg: "input" });
        }
        let len = self.plan.input_len();
        let got = x.len();
        if got == 0 || len == 0 || got % len != 0 || got / len > self.layout.batch {
            return Err(KernelError::Length {
                arg: "frames",
                expected: mul("frames", len, self.layout.batch)?,
                got,
            });
        }
        Ok(got / len)
    }

    /// Runs the network on `n` `u8` frames (`frames.len() == n · h·w·c`, `1 ≤ n ≤ batch`),
    /// showing every probed tensor to `obs`, and returns the `n` examples' outputs.
    ///
    /// # Errors
    /// As [`Net::forward_inputs`].
    pub fn forward<G: Backend + ?Sized, O: Observer + ?Sized>(
        &mut self,
        gemm: &G,
        frames: &[u8],
        obs: &mut O,
    ) -> Result<&[f32], KernelError> {
        self.forward_inputs(gemm, Inputs::U8(frames), obs)
    }

    /// Runs the network on `n` examples (`1 ≤ n ≤ batch`), layer after layer as the table
    /// lists them, showing every probed tensor to `obs`, and returns the `n` examples' outputs.
    ///
    /// # Errors
    /// [`KernelError::InvalidParam`] (`input`) for `u8` frames to an `f32` table or the
    /// reverse; [`KernelError::Length`] (`frames`) when the input is empty, not a whole number
    /// of examples, or more than `batch` examples; nothing is written then.
    pub fn forward_inputs<G: Backend + ?Sized, O: Observer + ?Sized>(
        &mut self,
        gemm: &G,
        x: Inputs<'_>,
        obs: &mut O,
    ) -> Result<&[f32], KernelError> {
        let n = self.check_batch(x)?;
        let (plan, layout) = (&self.plan, self.layout);
        let specs = plan.params();
        let parts = split(&layout, self.arena);
        let mut slots = Slots {
            buf: parts.acts,
            layout,
            n,
        };
        let p: &[f32] = parts.params;
        let scratch = parts.scratch;
        for (i, l) in plan.layers().iter().enumerate() {
            let (x, y) = if i == 0 {
                (x, slots.out(0))
            } else {
                let (x, y) = slots.io(i);
                (Inputs::F32(x), y)
            };
            // A dense layer's input is the previous output flattened: NHWC already is
            // `tf.reshape(x, [-1, flat])`.
            let relu_layer = l.layer.activation == Activation::Relu;
            // A convolution whose pre-activation nobody looks at applies its ReLU per tile.
            let fused_relu = relu_layer
                && matches!(l.geometry, LayerGeometry::Conv(_))
                && !obs.wants(l.probe(Stage::PreActivation));
            layer_forward(l, specs, gemm, n, x, p, scratch, y, fused_relu)?;
            if relu_layer && !fused_relu {
                obs.observe(l.probe(Stage::PreActivation), y);
                relu(gemm, n, y);
            }
            obs.observe(l.probe(Stage::Output), y);
        }
        Ok(self.predictions(n))
    }

    /// The seed's step on `u8` frames: [`Net::train`] with [`Targets::Weighted`].
    ///
    /// # Errors
    /// As [`Net::train`].
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
        let targets = Targets::Weighted { target, confidence };
        self.train(gemm, Inputs::U8(frames), targets, mean_over, obs)
    }

    /// One forward pass, the table's loss summed over the `n` examples and divided by
    /// `mean_over`, and the backward pass; parameter gradients are *added* to [`Net::grads`].
    /// Returns this call's share of the loss (the whole batch's loss when `mean_over == n`).
    ///
    /// [`Loss::Mse`] divides by `mean_over × outputs` (`tf.reduce_mean` over every output).
    ///
    /// # Errors
    /// As [`Net::forward_inputs`]; [`KernelError::InvalidParam`] (`targets`) for targets of
    /// another loss than the table's; [`KernelError::Length`] when the targets do not match
    /// the `n` examples; [`KernelError::InvalidParam`] (`labels`) for a class index out of
    /// range; [`KernelError::Zero`] for `mean_over == 0`; [`KernelError::InvalidParam`]
    /// (`net`) on an inference network.
    pub fn train<G: Backend + ?Sized, O: Observer + ?Sized>(
        &mut self,
        gemm: &G,
        x: Inputs<'_>,
        targets: Targets<'_>,
        mean_over: usize,
        obs: &mut O,
    ) -> Result<f32, KernelError> {
        if self.layout.is_inference() {
            return Err(KernelError::InvalidParam { arg: "net" });
        }
        let n = self.check_batch(x)?;
        let outputs = self.plan.output_len();
        match (self.plan.network.loss, targets) {
            (Loss::WeightedAbs, Targets::Weighted { target, confidence }) => {
                check_len("target", n, target.len())?;
                check_len("confidence", n, confidence.len())?;
            }
            (Loss::Mse, Targets::Values(target)) => {
                check_len("target", mul("target", n, outputs)?, target.len())?;
            }
            (Loss::SoftmaxCrossEntropy, Targets::Labels(labels)) => {
                check_len("labels", n, labels.len())?;
                if labels.iter().any(|&c| c as usize >= outputs) {
                    return Err(KernelError::InvalidParam { arg: "labels" });
                }
            }
            _ => return Err(KernelError::InvalidParam { arg: "targets" }),
        }
        if mean_over == 0 {
            return Err(KernelError::Zero { arg: "mean_over" });
        }
        self.forward_inputs(gemm, x, obs)?;
        let (plan, layout) = (&self.plan, self.layout);
        let specs = plan.params();
        let last = plan.layer_count() - 1;
        let parts = split(&layout, self.arena);
        let slots = Slots {
            buf: parts.acts,
            layout,
            n,
        };
        let p: &[f32] = parts.params;
        let grads = parts.grads;
        let scratch = parts.scratch;
        let d_pred = &mut parts.d_pred[..n * outputs];
        let pred = slots.get(last);
        let loss = match targets {
            Targets::Weighted { target, confidence } => {
                weighted_abs_error_f32(pred, target, confidence, mean_over, d_pred)?
            }
            Targets::Values(target) => mse_f32(pred, target, mean_over * outputs, d_pred)?,
            Targets::Labels(labels) => {
                softmax_cross_entropy_f32(pred, outputs, labels, mean_over, d_pred)?
            }
        };

        // Layers before the first one with parameters need no gradient at all.
        let first = plan.layers().iter().position(|l| l.params.is_some());
        let Some(first) = first else {
            return Ok(loss);
        };
        let lens = |s: usize| layout.slot_len[s] * n;
        let (ga, gb) = (parts.grad_a, parts.grad_b);
        // Each layer reads its output's gradient in one buffer and writes its input's into the
        // other; the loss's gradient starts in d_pred.
        let mut at = GradBuf::DPred;
        // Whether the layer after this one already applied this layer's ReLU gradient.
        let mut relu_applied = false;
        for i in (first..=last).rev() {
            let l = plan.layer(i);
            let (d_out, d_in, next) = grad_pair(at, &mut *d_pred, &mut *ga, &mut *gb);
            let d_out = &mut d_out[..lens(i)];
            if l.layer.activation == Activation::Relu && !relu_applied {
                relu_back(gemm, n, slots.get(i), d_out)?;
            }
            // An LRN after a ReLU applies that ReLU's gradient with its own (its input is the
            // ReLU's output): one pass over the largest maps instead of two.
            relu_applied = i > first
                && matches!(l.geometry, LayerGeometry::Lrn(_))
                && plan.layer(i - 1).layer.activation == Activation::Relu;
            let input = if i == 0 {
                x
            } else {
                Inputs::F32(slots.get(i - 1))
            };
            // The first layer with parameters needs no input gradient.
            let d_in = if i > first {
                Some(&mut d_in[..lens(i - 1)])
            } else {
                None
            };
            let d_in = d_in.map(|d| (d, relu_applied));
            layer_backward(l, specs, gemm, n, input, d_out, p, grads, scratch, d_in)?;
            obs.backward_done(l.probe(Stage::Output));
            at = next;
        }
        Ok(loss)
    }

    /// One Adam step on all parameters with the accumulated gradients; `step` is t ≥ 1.
    ///
    /// The state holds the moments and `β1ᵗ`, `β2ᵗ` ([`BetaPowers`], multiplied once per step
    /// as TensorFlow 1 does). Step 1 starts the powers at `β1`, `β2` (as TensorFlow creates
    /// them with the zeroed slots); later steps continue from the stored powers, so a resumed
    /// run must restore them with the moments.
    ///
    /// # Errors
    /// [`KernelError::InvalidParam`] (`optimizer`) if the arena holds no Adam state;
    /// [`KernelError::Zero`] (`step`) for step 0; the optimiser's own parameter errors (a
    /// stored power outside `[0, 1)` included). Nothing is written then.
    pub fn adam_step(&mut self, adam: &Adam, step: u32) -> Result<(), KernelError> {
        self.adam_step_with(&Portable, adam, step)
    }

    /// [`Net::adam_step`] with the parameters spread by `exec` ([`Exec::map_lanes`]): the same
    /// bits for any split.
    ///
    /// # Errors
    /// As [`Net::adam_step`]; nothing is written then.
    pub fn adam_step_with<E: Exec + ?Sized>(
        &mut self,
        exec: &E,
        adam: &Adam,
        step: u32,
    ) -> Result<(), KernelError> {
        if self.opt != Some(OptimizerKind::Adam) {
            return Err(KernelError::InvalidParam { arg: "optimizer" });
        }
        if step == 0 {
            return Err(KernelError::Zero { arg: "step" });
        }
        let parts = self.parts();
        let state_len = parts.opt_state.len();
        let (m, rest) = parts.opt_state.split_at_mut(parts.params.len());
        let (v, stored) = rest.split_at_mut(parts.params.len());
        // The Adam layout keeps exactly two powers after the moments.
        let [beta1_power, beta2_power] = stored else {
            return Err(KernelError::Length {
                arg: "opt_state",
                expected: 2 * parts.params.len() + 2,
                got: state_len,
            });
        };
        let mut powers = if step == 1 {
            BetaPowers::new(adam)
        } else {
            BetaPowers {
                beta1_power: *beta1_power,
                beta2_power: *beta2_power,
            }
        };
        adam_step_f32_with(exec, adam, &mut powers, parts.params, parts.grads, m, v)?;
        (*beta1_power, *beta2_power) = (powers.beta1_power, powers.beta2_power);
        Ok(())
    }

    /// One Keras 3 Adam step on all parameters with the accumulated gradients; `step` is t ≥ 1.
    /// It uses the moments of the Adam state (Keras takes `β^t` as a power: the stored powers
    /// are left alone).
    ///
    /// # Errors
    /// [`KernelError::InvalidParam`] (`optimizer`) if the arena holds no Adam state; the
    /// optimiser's own errors ([`crate::optim::adam_keras_step_f32`]). Nothing is written then.
    pub fn adam_keras_step(&mut self, adam: &AdamKeras, step: u32) -> Result<(), KernelError> {
        self.adam_keras_step_with(&Portable, adam, step)
    }

    /// [`Net::adam_keras_step`] with the parameters spread by `exec` ([`Exec::map_lanes`]): the
    /// same bits for any split.
    ///
    /// # Errors
    /// As [`Net::adam_keras_step`]; nothing is written then.
    pub fn adam_keras_step_with<E: Exec + ?Sized>(
        &mut self,
        exec: &E,
        adam: &AdamKeras,
        step: u32,
    ) -> Result<(), KernelError> {
        if self.opt != Some(OptimizerKind::Adam) {
            return Err(KernelError::InvalidParam { arg: "optimizer" });
        }
        let parts = self.parts();
        let p = parts.params.len();
        let (m, rest) = parts.opt_state.split_at_mut(p);
        let (v, _powers) = rest.split_at_mut(p);
        adam_keras_step_f32_with(exec, adam, step, parts.params, parts.grads, m, v)
    }

    /// One momentum step on all parameters with the accumulated gradients.
    ///
    /// # Errors
    /// [`KernelError::InvalidParam`] (`optimizer`) if the arena holds no momentum state; the
    /// optimiser's own parameter errors.
    pub fn momentum_step(&mut self, momentum: &Momentum) -> Result<(), KernelError> {
        self.momentum_step_with(&Portable, momentum)
    }

    /// [`Net::momentum_step`] with the parameters spread by `exec` ([`Exec::map_lanes`]): the
    /// same bits for any split.
    ///
    /// # Errors
    /// As [`Net::momentum_step`].
    pub fn momentum_step_with<E: Exec + ?Sized>(
        &mut self,
        exec: &E,
        momentum: &Momentum,
    ) -> Result<(), KernelError> {
        if self.opt != Some(OptimizerKind::Momentum) {
            return Err(KernelError::InvalidParam { arg: "optimizer" });
        }
        let parts = self.parts();
        momentum_step_f32_with(exec, momentum, parts.params, parts.grads, parts.opt_state)
    }

    /// One plain SGD step on all parameters with the accumulated gradients.
    ///
    /// # Errors
    /// [`KernelError::InvalidParam`] (`optimizer`) on an inference network; `lr` errors.
    pub fn sgd_step(&mut self, lr: f32) -> Result<(), KernelError> {
        self.sgd_step_with(&Portable, lr)
    }

    /// [`Net::sgd_step`] with the parameters spread by `exec` ([`Exec::map_lanes`]): the same
    /// bits for any split.
    ///
    /// # Errors
    /// As [`Net::sgd_step`].
    pub fn sgd_step_with<E: Exec + ?Sized>(
        &mut self,
        exec: &E,
        lr: f32,
    ) -> Result<(), KernelError> {
        if self.opt.is_none() {
            return Err(KernelError::InvalidParam { arg: "optimizer" });
        }
        let parts = self.parts();
        sgd_step_f32_with(exec, lr, parts.params, parts.grads)
    }
}

/// Layer `l`'s parameter gradients (added) and, if `d_in` is given, its input gradient, from
/// `d_out`, the gradient of its op's output (the activation's gradient already applied). `d_in`
/// comes with whether to apply the ReLU gradient of the layer before (only an LRN does, see
/// [`lrn_back`]).
#[allow(clippy::too_many_arguments)]
fn layer_backward<G: Backend + ?Sized>(
    l: &PlannedLayer,
    specs: &Params,
    gemm: &G,
    n: usize,
    x: Inputs<'_>,
    d_out: &[f32],
    params: &[f32],
    grads: &mut [f32],
    scratch: &mut [f32],
    d_in: Option<(&mut [f32], bool)>,
) -> Result<(), KernelError> {
    let (d_in, relu_before) = match d_in {
        Some((d, relu)) => (Some(d), relu),
        None => (None, false),
    };
    match &l.geometry {
        LayerGeometry::Conv(g) => {
            let (w, b) = weights_and_bias(specs, l);
            conv_grads(g, gemm, n, x, d_out, params, grads, scratch, w, b, d_in)
        }
        LayerGeometry::Dense(g) => {
            let (w, b) = weights_and_bias(specs, l);
            let x = f32_input(x)?;
            dense_grads(g, gemm, n, x, d_out, params, grads, w, b, d_in)
        }
        // Layers without parameters only pass the gradient on.
        LayerGeometry::MaxPool(g) => match d_in {
            Some(dx) => pool_back(gemm, g, n, f32_input(x)?, d_out, dx),
            None => Ok(()),
        },
        LayerGeometry::Lrn(g) => match d_in {
            Some(dx) => {
                let rows = n * l.output.pixels();
                lrn_back(gemm, g, rows, f32_input(x)?, d_out, relu_before, dx)
            }
            None => Ok(()),
        },
    }
}

/// Filter, bias and (optionally) input gradients of one convolution.
#[allow(clippy::too_many_arguments)]
fn conv_grads<G: Backend + ?Sized>(
    g: &Conv2d,
    gemm: &G,
    n: usize,
    input: Inputs<'_>,
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
        Inputs::U8(x) => conv2d_backward_filter_u8(g, gemm, n, x, d_out, scratch, d_w)?,
        Inputs::F32(x) => conv2d_backward_filter_f32(g, gemm, n, x, d_out, scratch, d_w)?,
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
    use crate::net::gradcheck::check_every_tensor;
    use crate::net::Probe;
    use crate::net::ValenceConfig;
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
        for v in &mut net.params_mut()[specs[14].range()] {
            *v = rng.next_normal() * 0.5;
        }
        let x = frames(3, 1);
        let (y, c) = ([0.9f32, -0.8, 0.7], [1.0f32, 0.5, 0.8]);
        net.zero_grads();
        net.train_step(&Portable, &x, &y, &c, 3, &mut ()).unwrap();
        let grads = net.grads().to_vec();
        let h = |w0: f32| 1e-2f32.max(w0.abs() * 1e-2);
        let mut loss = |net: &mut Net<'_>| loss_f64(net, &x, &y, &c);
        let checked = check_every_tensor(&mut net, &grads, &h, 5e-3, 0.05, &mut loss);
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
    fn an_unobserved_pre_activation_is_fused_with_the_same_bits() {
        // Reference: the unfused pass (an observer that wants every probe shows each
        // pre-activation, then ReLU runs over it); `()` wants none, so the convolutions apply
        // their ReLU per tile. Outputs and the training step's gradients must agree bit for bit.
        struct All;
        impl Observer for All {
            fn observe(&mut self, _: Probe, _: &[f32]) {}
        }
        let run = |fused: bool| {
            let mut arena = training(2, OptimizerKind::Sgd);
            let mut net = Net::training(&TINY, 2, OptimizerKind::Sgd, &mut arena).unwrap();
            net.init_params(5).unwrap();
            let x = frames(2, 9);
            let (y, c) = ([0.3, -0.2], [1.0, 0.5]);
            if fused {
                net.train_step(&Portable, &x, &y, &c, 2, &mut ()).unwrap();
            } else {
                net.train_step(&Portable, &x, &y, &c, 2, &mut All).unwrap();
            }
            let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            (bits(net.predictions(2)), bits(net.grads()))
        };
        let (fused, unfused) = (run(true), run(false));
        assert!(
            fused.1.iter().any(|&g| g != 0),
            "the step computed gradients"
        );
        assert_eq!(fused, unfused);
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
        // The seed's `tf.summary.histogram` tags, in its forward order and spelling.
        let seed = [
            "con1_before_relu",
            "con1_output_distribution",
            "norm1_output_distribution",
            "pool1_output_distribution",
            "con2_before_relu",
            "conv2_output_distribution",
            "norm2_output_distribution",
            "pool2_output_distribution",
            "con3_before_relu",
            "con3_output_distribution",
            "con4_before_relu",
            "con4_output_distribution",
            "con5_before_relu",
            "con5_output_distribution",
            "pool3_output_distribution",
            "local1_before_relu",
            "local1_output_distribution",
            "local2_before_relu",
            "local2_output_distribution",
            "softmax_output_distribution",
        ];
        let tags: Vec<&str> = log.0.iter().map(|p| p.0.tag).collect();
        assert_eq!(tags, seed);
        let planned: Vec<Probe> = net.plan().probes().collect();
        let seen: Vec<Probe> = log.0.iter().map(|p| p.0).collect();
        assert_eq!(seen, planned);
        assert_eq!(log.0[1].0.layer, "conv1");
        assert!(log.0[1].0.is_relu_output() && !log.0[0].0.is_relu_output());
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
        let mut want: Vec<Probe> = net
            .plan()
            .probes()
            .filter(|p| p.stage == Stage::Output)
            .collect();
        want.reverse();
        assert_eq!(log.0, want);
        let names: Vec<&str> = log.0.iter().map(|p| p.layer).collect();
        assert_eq!(
            names,
            [
                "softmax_linear",
                "local2",
                "local1",
                "pool3",
                "conv5",
                "conv4",
                "conv3",
                "pool2",
                "norm2",
                "conv2",
                "pool1",
                "norm1",
                "conv1"
            ]
        );
        // A forward pass alone finishes no backward layer.
        log.0.clear();
        net.forward(&Portable, &frames(2, 8), &mut log).unwrap();
        assert!(log.0.is_empty());
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
