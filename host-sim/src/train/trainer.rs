//! [`Trainer`]: one run, step by step, over a [`Setup`]. [`super::train`] drives it:
//!
//! ```text
//! start → for each step: next_batch → probes → step → summarize → show_progress → checkpoint
//!       → report_training → evaluate → finish
//! ```
//!
//! The last three, the end of a run, are in [`super::finish`].

use std::io::IsTerminal;
use std::ops::{ControlFlow, Range};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{ensure, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use kernels::net::Net;
use kernels::optim::{Adam, AdamKeras};

use crate::checkpoint::Checkpoint;
use crate::cli::{ConfigName, OptimizerName};
use crate::summary::{self, run::StepScalars, Divergence, HistogramObserver, RunLog};

use super::data::Batch;
use super::run_dir::{new_run_dir, resumable_run_dir};
use super::setup::Setup;
use super::{schedule, state};

/// A run in progress: the network over its arena, the run directory and its log, the batch and
/// the progress shown.
pub struct Trainer<'a> {
    pub(super) setup: &'a Setup<'a>,
    pub(super) net: Net<'a>,
    pub(super) run_dir: PathBuf,
    /// The step this session started at (0, or the checkpoint's step on a resume).
    pub(super) first_step: u64,
    pub(super) log: RunLog,
    batch: Batch,
    /// Whether stderr is a terminal: the progress bar there, plain summary lines otherwise.
    tty: bool,
    pub(super) bar: ProgressBar,
    pub(super) started: Instant,
    pub(super) last_loss: f32,
    /// The step count of the last checkpoint saved (the resumed one on a resume).
    last_checkpoint: Option<u64>,
    pub(super) diverged: Option<Divergence>,
}

impl<'a> Trainer<'a> {
    /// Builds the network over `arena`, then resumes the run `--resume` names or initialises
    /// the parameters for a new run, creates the run directory, saves or loads W₀ and opens the
    /// event file. Everything a resume checks (the checkpoint, the settings) is checked before
    /// any file is written.
    ///
    /// # Errors
    /// An unusable `--resume` directory or checkpoint (naming the mismatch), a checkpoint that
    /// already has `--steps` steps, or an I/O failure naming its file.
    pub fn start(setup: &'a Setup<'a>, arena: &'a mut [f32]) -> Result<Self> {
        let args = setup.args;
        let mut net = Net::training(&setup.cfg, setup.micro, setup.net_opt, arena)?;
        let (run_dir, first_step) = match &args.resume {
            Some(dir) => {
                let run = resumable_run_dir(dir)?;
                let ckpt = Checkpoint::load(&run)?;
                let config = &setup.description;
                let step = state::restore(&mut net, &ckpt, config, setup.ckpt_opt, &setup.settings)
                    .with_context(|| format!("cannot resume {}", run.display()))?;
                (run, step)
            }
            None => {
                net.init_params(args.seed)?;
                (new_run_dir(args, setup.name), 0)
            }
        };
        ensure!(
            first_step <= args.steps,
            "the checkpoint already has {first_step} steps; ask for more with --steps"
        );
        ensure!(
            args.steps <= u64::from(u32::MAX),
            "--steps must be at most {}",
            u32::MAX
        );
        std::fs::create_dir_all(&run_dir)
            .with_context(|| format!("creating {}", run_dir.display()))?;
        print_header(setup, &net, &run_dir);

        let specs = *net.param_specs();
        let (w0, true_start) = summary::run::initial_params(
            &run_dir,
            first_step,
            &specs,
            net.params(),
            &setup.description,
        )?;
        if !true_start {
            println!(
                "note: {} has no initial parameters; drift is measured from step {first_step}",
                run_dir.display()
            );
        }
        let log = RunLog::start(
            &run_dir,
            first_step,
            args.summary_interval(),
            args.steps,
            &specs,
            w0,
            [setup.cfg.input.h, setup.cfg.input.w],
        )?;
        println!("TensorBoard event file: {}", log.event_file().display());
        println!(
            "watch it with: tensorboard --logdir {}",
            logdir(&run_dir).display()
        );
        let tty = std::io::stderr().is_terminal();
        let bar = if tty {
            progress_bar(args.steps, first_step)
        } else {
            ProgressBar::hidden()
        };
        Ok(Self {
            setup,
            net,
            run_dir,
            first_step,
            log,
            batch: Batch::default(),
            tty,
            bar,
            started: Instant::now(),
            last_loss: f32::NAN,
            last_checkpoint: (first_step > 0).then_some(first_step),
            diverged: None,
        })
    }

    /// The steps this session still has to do (0-based).
    pub fn remaining_steps(&self) -> Range<u64> {
        self.first_step..self.setup.args.steps
    }

    /// Draws the frames of `step`'s batch (a pure function of the seed and the step).
    ///
    /// # Errors
    /// A frame that cannot be read.
    pub fn next_batch(&mut self, step: u64) -> Result<()> {
        let s = self.setup;
        let (source, batch) = (&s.source, s.args.batch);
        // The closure borrows only what the pool may share: `Setup`'s kernels are not `Sync`.
        s.pool
            .install(|| source.fill_train(step, batch, &mut self.batch))
    }

    /// On summary steps, the observer that gathers the activation histograms during
    /// [`Trainer::step`] for [`Trainer::summarize`]; ordinary steps get `None` and pay nothing
    /// for the histograms.
    pub fn probes(&self, step: u64) -> Option<HistogramObserver<'a>> {
        let setup: &'a Setup<'a> = self.setup;
        self.log
            .is_summary_step(step)
            .then(|| HistogramObserver::new(&setup.pool, self.net.plan()))
    }

    /// Forward, backward and the optimiser's update on the batch; logs the loss, and with
    /// `--exact` prints its bits as a board does. Breaks when the loss or a parameter stops
    /// being finite (the divergence is kept for the report: nothing after it means anything).
    ///
    /// # Errors
    /// A kernel error or the event file's.
    pub fn step(
        &mut self,
        step: u64,
        probes: &mut Option<HistogramObserver<'_>>,
    ) -> Result<ControlFlow<()>> {
        let s = self.setup;
        let (gemm, batch, micro) = (&*s.gemm, s.args.batch, s.micro);
        self.net.zero_grads_with(gemm);
        // Each micro-batch returns its share of the batch's loss; the shares are added in
        // micro-batch order, the order a board adds them in (one share: the loss itself).
        let mut loss = 0.0;
        for start in (0..batch).step_by(micro) {
            let r = start..(start + micro).min(batch);
            let (x, y) = (
                self.batch.inputs(r.clone(), s.frame_len),
                self.batch.targets(r, s.cfg.loss),
            );
            loss += match probes.as_mut() {
                Some(o) => self.net.train(gemm, x, y, batch, o)?,
                None => self.net.train(gemm, x, y, batch, &mut ())?,
            };
        }
        self.last_loss = loss;
        self.log.loss(step, loss)?;
        if !loss.is_finite() {
            return Ok(self.diverge(step, format!("the loss is {loss}")));
        }
        if probes.is_some() {
            // A summary describes W_t, the parameters before this step's update.
            self.log.capture_before(self.net.params());
        }
        self.update(step)?;
        let params = self.net.params();
        let bad = self.net.param_specs().iter().find(|p| {
            !params[p.offset..p.offset + p.len]
                .iter()
                .all(|x| x.is_finite())
        });
        if let Some(p) = bad {
            let what = format!("`{}` is not finite after the update", p.name);
            return Ok(self.diverge(step, what));
        }
        if s.args.exact {
            let bits = loss.to_bits();
            self.bar
                .suspend(|| println!("step {} loss {bits:08x}", step + 1));
        }
        Ok(ControlFlow::Continue(()))
    }

    /// The optimiser's update with `step`'s learning rate.
    fn update(&mut self, step: u64) -> Result<()> {
        let lr = self.learning_rate(step);
        // t = step + 1: TF1's Adam counts from 1; `steps ≤ u32::MAX` was checked at the start.
        let t = (step + 1) as u32;
        let exec = &*self.setup.gemm;
        match self.setup.args.optimizer {
            OptimizerName::Adam => self.net.adam_step_with(exec, &Adam::tf1(lr), t)?,
            OptimizerName::AdamKeras => {
                self.net
                    .adam_keras_step_with(exec, &AdamKeras::keras(lr), t)?
            }
            OptimizerName::Sgd => self.net.sgd_step_with(exec, lr)?,
        }
        Ok(())
    }

    /// Keeps where and how the run diverged, and stops it.
    fn diverge(&mut self, step: u64, what: String) -> ControlFlow<()> {
        self.diverged = Some(Divergence {
            step,
            what,
            last_checkpoint: self.last_checkpoint,
        });
        ControlFlow::Break(())
    }

    /// `--lr` at `step` under `--lr-schedule`.
    fn learning_rate(&self, step: u64) -> f32 {
        let args = self.setup.args;
        schedule::learning_rate(args.lr_schedule, args.lr, step, args.steps)
    }

    /// Training frames per second in this session, `done` steps in.
    fn frames_per_second(&self, done: u64) -> f64 {
        let frames = (done - self.first_step) as f64 * self.setup.args.batch as f64;
        frames / self.started.elapsed().as_secs_f64()
    }

    /// Moves the progress bar past `step`, showing its loss and the throughput.
    pub fn show_progress(&self, step: u64) {
        let done = step + 1;
        let fps = self.frames_per_second(done);
        self.bar
            .set_message(format!("loss {:.4}  {fps:.0} frames/s", self.last_loss));
        self.bar.set_position(done);
    }

    /// On a summary step (`probes` is `Some`), writes its histograms, learning scalars and
    /// frames, and without a terminal one plain line.
    ///
    /// # Errors
    /// The event file's or the diagnosis history's I/O errors.
    pub fn summarize(&mut self, step: u64, probes: Option<HistogramObserver<'_>>) -> Result<()> {
        let Some(o) = probes else {
            return Ok(());
        };
        let s = self.setup;
        let fps = self.frames_per_second(step + 1);
        let scalars = StepScalars {
            learning_rate: self.learning_rate(step),
            frames_per_second: fps,
        };
        let rgb = super::data::rgb_frames(&self.batch.frames, s.cfg.input.c);
        self.log
            .summary(&s.pool, step, &o, self.net.params(), &rgb, scalars)?;
        if !self.tty {
            println!(
                "summary at step {step}/{}: loss {:.5}, {fps:.0} frames/s",
                s.args.steps, self.last_loss
            );
        }
        Ok(())
    }

    /// Saves a checkpoint after `done` steps when `--checkpoint-every` says so (and after the
    /// last step), once every loss up to it is in the event file.
    ///
    /// # Errors
    /// The event file's or the checkpoint's I/O errors, naming the file.
    pub fn checkpoint(&mut self, done: u64) -> Result<()> {
        let s = self.setup;
        let every = s.args.checkpoint_every;
        let due = every > 0 && (done.is_multiple_of(every) || done == s.args.steps);
        if !due {
            return Ok(());
        }
        // A resume from this checkpoint finds every earlier loss in the file.
        self.log.flush()?;
        state::capture(&self.net, &s.description, done, s.ckpt_opt, &s.settings)?
            .save(&self.run_dir)?;
        self.last_checkpoint = Some(done);
        Ok(())
    }
}

/// The directory TensorBoard is pointed at: the one holding the run.
pub(super) fn logdir(run_dir: &Path) -> &Path {
    run_dir.parent().unwrap_or(Path::new("."))
}

/// The run's first lines: the network, the arena, the flags that shape the run, the directory.
fn print_header(setup: &Setup<'_>, net: &Net<'_>, run_dir: &Path) {
    let args = setup.args;
    println!(
        "{} {}: {} parameters, arena {:.1} MiB; {} steps of {} frames{}, {:?} lr {} ({:?}), seed {}, {} thread(s){}",
        if matches!(setup.name, ConfigName::File(_)) {
            "network"
        } else {
            "valence"
        },
        setup.name.as_str(),
        net.params().len(),
        setup.layout.bytes() as f64 / (1 << 20) as f64,
        args.steps,
        args.batch,
        if setup.micro == args.batch {
            String::new()
        } else {
            format!(" in micro-batches of {}", setup.micro)
        },
        args.optimizer,
        args.lr,
        args.lr_schedule,
        args.seed,
        setup.threads,
        if args.exact { ", exact (portable) kernels" } else { "" }
    );
    println!("run directory: {}", run_dir.display());
}

/// The progress bar of a run of `steps` steps, starting at `first`.
fn progress_bar(steps: u64, first: u64) -> ProgressBar {
    let bar = ProgressBar::new(steps);
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:30} step {pos}/{len}  {msg}  [{elapsed_precise}, {eta} left]",
        )
        .expect("the template is valid"),
    );
    bar.set_position(first);
    bar
}
