//! Training TINY on the board: the one module that uses `kernels::net::Net`.

use kernels::data::{FrameSpec, Split, Synthetic};
use kernels::histogram::Histogram;
use kernels::net::{Net, OptimizerKind};
use kernels::optim::Adam;
use kernels::Portable;

use crate::counts::{LayerTimer, StepCounts};
use crate::{log, Counter, Error, CONFIG, SETTINGS};

/// The step (0-based) whose instruction counts are logged: the second, an ordinary step (no
/// histograms), after the first has touched every page of code and data.
pub const COUNTED_STEP: u32 = 1;

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

/// Trains TINY as [`SETTINGS`] say over `arena` ([`crate::ARENA_LEN`] `f32`s), one frame at a
/// time through `frame` ([`crate::FRAME_LEN`] bytes), logging each step's loss and, on summary
/// steps, each parameter tensor's histogram (filled in `hist`).
///
/// # Errors
/// A kernel's error (a wrong arena or frame length), or a histogram that cannot be logged.
pub fn train<C: Counter>(
    arena: &mut [f32],
    frame: &mut [u8],
    hist: &mut Histogram,
    counter: &mut C,
) -> Result<Trained, Error> {
    let s = SETTINGS;
    let mut net = Net::training(&CONFIG, 1, OptimizerKind::Adam, arena)?;
    net.init_params(s.seed)?;
    let data = Synthetic::new(
        FrameSpec::new(CONFIG.input, CONFIG.input)?,
        s.seed,
        Split::Train,
    );
    let adam = Adam::tf1(s.lr);
    let mut counted = StepCounts::default();
    for step in 0..s.steps {
        let mut timer = LayerTimer::new(counter);
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
                &mut timer,
            )?;
        }
        let work = timer.since_start();
        log::loss(step + 1, loss);
        if is_summary_step(step) {
            let params = net.params();
            for spec in net.param_specs() {
                hist.clear();
                hist.add_slice(&params[spec.offset..spec.offset + spec.len]);
                log::histogram(step, spec.tag, hist)?;
            }
        }
        timer.lap();
        // TF1's Adam counts from 1.
        net.adam_step(&adam, step + 1)?;
        timer.counts.optimizer = timer.lap();
        if step == COUNTED_STEP {
            let c = &mut timer.counts;
            c.step = work + c.optimizer;
            counted = timer.counts.clone();
        }
    }
    // host-sim hashes the parameters' little-endian bytes; both boards are little-endian.
    const _: () = assert!(cfg!(target_endian = "little"));
    Ok(Trained {
        crc32: kernels::quant::net::crc32(bytemuck::cast_slice(net.params())),
        counts: counted,
    })
}
