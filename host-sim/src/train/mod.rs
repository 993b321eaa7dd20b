//! The trainer: `host-sim train` (the default command).
//!
//! One run = one [`kernels::net::Net`] over one arena, fed by a [`data::Source`], stepped by
//! Adam or SGD, with checkpoints in the run directory and a held-out evaluation at the end.
//! Everything that decides the numbers (frames, their order, the GEMM's blocking) depends only on
//! the seed and the flags, never on the thread count, so `--threads 1` and `--threads 2` end
//! with the same parameters, and the same summaries (see [`crate::summary`]): every value but
//! wall times and `train/frames_per_second`.
//!
//! Each run, fresh or resumed, opens a new event file in the run directory and logs a
//! `SessionLog START` at its first step; a fresh run saves its initial parameters in
//! `<run>/initial/` so a resumed run still measures drift from W₀. When stderr is not a terminal
//! the progress bar is hidden and each summary step prints one plain line.
//!
//! A run never damages itself: the event file is flushed before each checkpoint (a resume finds
//! every earlier loss), a loss or parameter that stops being finite ends the run before the next
//! checkpoint ([`Divergence`](crate::summary::Divergence)): the learning report calls it
//! diverged at that step, and the command fails; `initial/` is written once.
//!
//! [`train`] reads like the loop it runs: a [`Setup`] (threads, arena, frames, settings; nothing
//! written yet) and a [`Trainer`] over it, whose named steps are the loop's body. [`run_dir`]
//! places the run, [`state`] moves it in and out of checkpoints, [`eval`] scores it on held-out
//! frames.

pub mod data;
pub mod eval;
pub mod finish;
pub mod run_dir;
pub mod schedule;
pub mod setup;
pub mod state;
pub mod trainer;

use anyhow::Result;

use crate::cli::TrainArgs;
pub use finish::{RunReport, MIN_HELD_OUT_FRAMES};
use setup::Setup;
pub use trainer::Trainer;

/// Trains as the flags say and prints progress, the held-out result and the checksum.
///
/// Everything a resume checks (the checkpoint, the settings, the data) is checked before any
/// file is written. A run killed after its last step and before its report is finished by
/// `--resume` with the same `--steps`.
///
/// # Errors
/// Bad data, an unusable checkpoint, memory that cannot be had, an I/O failure (naming its
/// file), or a loss or parameter that stops being finite ("diverged at step N", after the
/// report is written), as a one-line message.
pub fn train(args: &TrainArgs) -> Result<RunReport> {
    let (setup, mut arena) = Setup::new(args)?;
    let mut trainer = Trainer::start(&setup, &mut arena)?;
    for step in trainer.remaining_steps() {
        trainer.next_batch(step)?;
        let mut probes = trainer.probes(step);
        if trainer.step(step, &mut probes)?.is_break() {
            break;
        }
        trainer.summarize(step, probes)?;
        trainer.show_progress(step);
        trainer.checkpoint(step + 1)?;
    }
    trainer.report_training();
    let held_out = trainer.evaluate()?;
    trainer.finish(held_out)
}
