//! Training TINY on the board: the one module that uses `kernels::net::Net`.

use kernels::data::{FrameSpec, Split, Synthetic};
use kernels::histogram::Histogram;
use kernels::net::{Net, OptimizerKind, ParamSpec};
use kernels::optim::Adam;
use kernels::{KernelError, Portable};

use crate::counts::{LayerTimer, StepCounts};
use crate::relu::ReluStats;
use crate::{log, Counter, Error, CONFIG, LAYOUT, PARAMS, PLAN, SETTINGS};

/// The step (0-based) whose instruction counts are logged: the second, an ordinary step (no
/// histograms), after the first has touched every page of code and data.
pub const COUNTED_STEP: u32 = 1;

/// Where a summary step keeps W_t while Adam makes W_{t+1}: the arena's activations, scratch
/// and gradient buffers, which only a forward or backward pass uses (`ArenaLayout`'s regions
/// are public; Adam touches parameters, gradients and optimiser state only).
const BEFORE: usize = LAYOUT.activations.offset;

const _: () = assert!(
    LAYOUT.arena_len() - BEFORE >= PARAMS,
    "W_t must fit where the activations live"
);

/// What a training run leaves behind.
#[derive(Debug, Clone, PartialEq)]
pub struct Trained {
    /// CRC-32 (zlib's) of all parameters' little-endian bytes, as `host-sim` prints it.
    pub crc32: u32,
    /// The instructions of step [`COUNTED_STEP`].
    pub counts: StepCounts,
}

/// `true` on the steps host-sim summarises: every `summary_every`-th (0-based) and the last.
const fn is_summary_step(step: u32) -> bool {
    step.is_multiple_of(SETTINGS.summary_every) || step + 1 == SETTINGS.steps
}

#[inline(never)]
fn open(arena: &mut [f32]) -> Result<Net<'_>, KernelError> {
    Net::training(&CONFIG, 1, OptimizerKind::Adam, arena)
}

/// `Σ (a − b)²` in f64 in index order, as host-sim's learning scalars sum it (`b = 0`: `Σ a²`).
fn sq_distance(a: &[f32], b: Option<&[f32]>) -> f64 {
    let mut sum = 0.0f64;
    for (i, &x) in a.iter().enumerate() {
        let d = f64::from(x) - b.map_or(0.0, |b| f64::from(b[i]));
        sum += d * d;
    }
    sum
}

/// Logs W and W − W₀ of every tensor (`params` is W_t, before the step's update). Not inlined:
/// its histogram (12 KiB) takes stack only while it runs, not during the training passes or the
/// int8 phase, which need the stack more.
#[inline(never)]
fn log_histograms(step: u32, specs: &[ParamSpec], params: &[f32], w0: &[f32]) -> Result<(), Error> {
    let mut hist = Histogram::new();
    let hist = &mut hist;
    for spec in specs {
        let r = spec.offset..spec.offset + spec.len;
        hist.clear();
        hist.add_slice(&params[r.clone()]);
        log::histogram(step, spec.tag, "", hist)?;
        hist.clear();
        for (&w, &w0) in params[r.clone()].iter().zip(&w0[r]) {
            hist.add(w - w0);
        }
        log::histogram(step, spec.tag, "/delta_from_init", hist)?;
    }
    Ok(())
}

/// The optimiser step of a summary step: keeps W_t (see [`BEFORE`]) while Adam makes W_{t+1},
/// then logs every tensor's learning sums. Not inlined: its `Net` must not add to the training
/// loop's stack frame.
#[inline(never)]
fn summary_update(
    arena: &mut [f32],
    w0: &[f32],
    specs: &[ParamSpec],
    adam: &Adam,
    step: u32,
) -> Result<(), Error> {
    let (params, rest) = arena.split_at_mut(PARAMS);
    rest[BEFORE - PARAMS..][..PARAMS].copy_from_slice(params);
    // TF1's Adam counts from 1.
    open(arena)?.adam_step(adam, step + 1)?;
    let (after, rest) = arena.split_at(PARAMS);
    let before = &rest[BEFORE - PARAMS..][..PARAMS];
    for spec in specs {
        let r = spec.offset..spec.offset + spec.len;
        log::learning(
            step,
            spec.tag,
            [
                sq_distance(&before[r.clone()], None),
                sq_distance(&w0[r.clone()], None),
                sq_distance(&before[r.clone()], Some(&w0[r.clone()])),
                sq_distance(&after[r.clone()], Some(&before[r])),
            ],
        );
    }
    Ok(())
}

/// Initialises the parameters and keeps a copy in `w0`. Not inlined, as [`run_step`].
#[inline(never)]
fn init(arena: &mut [f32], w0: &mut [f32]) -> Result<(), Error> {
    let mut net = open(arena)?;
    net.init_params(SETTINGS.seed)?;
    kernels::error::check_len("w0", PARAMS, w0.len())?;
    w0.copy_from_slice(net.params());
    Ok(())
}

/// Step `step`: its frames through the forward and backward passes, then, unless the step is a
/// summary step (whose update [`summary_update`] makes), Adam. Returns the step's loss. Not
/// inlined: the network (4 KB with its plan) lives in this frame only, never beside the
/// summary's buffers or the int8 phase's.
#[inline(never)]
fn run_step<C: Counter>(
    arena: &mut [f32],
    frame: &mut [u8],
    data: &Synthetic,
    step: u32,
    adam: &Adam,
    summarise: bool,
    timer: &mut LayerTimer<'_, '_, C>,
) -> Result<f32, Error> {
    let s = SETTINGS;
    let mut net = open(arena)?;
    net.zero_grads();
    let mut loss = 0.0f32;
    for k in 0..s.batch {
        timer.lap();
        let index = u64::from(step) * u64::from(s.batch) + u64::from(k);
        let label = data.frame_u8(index, frame)?;
        timer.counts.data += timer.lap();
        // Each frame's share of the batch's mean loss, added in frame order as host-sim
        // --micro-batch 1 adds them.
        loss += net.train_step(
            &Portable,
            frame,
            &[label.valence],
            &[label.confidence],
            s.batch as usize,
            timer,
        )?;
    }
    let work = timer.since_start();
    if !summarise {
        timer.lap();
        // TF1's Adam counts from 1.
        net.adam_step(adam, step + 1)?;
        timer.counts.optimizer = timer.lap();
        timer.counts.step = work + timer.counts.optimizer;
    }
    Ok(loss)
}

/// Trains TINY as [`SETTINGS`] say over `arena` ([`crate::ARENA_LEN`] `f32`s), one frame at a
/// time through `frame` ([`crate::FRAME_LEN`] bytes), logging each step's loss and, on summary
/// steps, each parameter tensor's histograms and learning sums (against W₀, kept in `w0`,
/// [`PARAMS`] `f32`s).
///
/// # Errors
/// A kernel's error (a wrong arena or frame length), or a histogram that cannot be logged.
pub fn train<C: Counter>(
    arena: &mut [f32],
    frame: &mut [u8],
    w0: &mut [f32],
    counter: &mut C,
) -> Result<Trained, Error> {
    let s = SETTINGS;
    let specs = &PLAN.params()[..];
    let adam = Adam::tf1(s.lr);
    let data = Synthetic::new(
        FrameSpec::new(CONFIG.input.h, CONFIG.input.w)?,
        s.seed,
        Split::Train,
    );
    init(arena, w0)?;
    let mut counted = StepCounts::default();
    for step in 0..s.steps {
        let summarise = is_summary_step(step);
        let mut relu = ReluStats::default();
        let mut timer = LayerTimer::new(counter, summarise.then_some(&mut relu));
        let loss = run_step(arena, frame, &data, step, &adam, summarise, &mut timer)?;
        log::loss(step + 1, loss);
        if !summarise {
            if step == COUNTED_STEP {
                counted = timer.counts.clone();
            }
            continue;
        }
        relu.log(step);
        log_histograms(step, specs, &arena[..PARAMS], w0)?;
        summary_update(arena, w0, specs, &adam, step)?;
    }
    // host-sim hashes the parameters' little-endian bytes; both boards are little-endian.
    const _: () = assert!(cfg!(target_endian = "little"));
    Ok(Trained {
        crc32: kernels::quant::net::crc32(bytemuck::cast_slice(&arena[..PARAMS])),
        counts: counted,
    })
}
