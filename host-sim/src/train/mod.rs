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
//! checkpoint ([`Divergence`]): the learning report calls it diverged at that step, and the
//! command fails; `initial/` is written once.

pub mod data;
pub mod eval;
pub mod schedule;
pub mod state;

use std::ffi::OsStr;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, ensure, Context, Result};
use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressStyle};
use kernels::net::{ArenaLayout, Net, OptimizerKind as NetOptimizer};
use kernels::optim::{Adam, AdamKeras};
use kernels::{Backend, Portable};

use crate::checkpoint::{Checkpoint, OptimizerKind};
use crate::checksum::params_crc32;
use crate::cli::{ConfigName, OptimizerName, TrainArgs};
use crate::fast_gemm::FastGemm;
use crate::summary::diagnosis::HeldOut;
use crate::summary::{self, run::StepScalars, Divergence, HistogramObserver, RunLog};
use data::{Batch, Source};

/// What a finished run reports.
#[derive(Debug, Clone, PartialEq)]
pub struct RunReport {
    /// The run directory (event files, checkpoint).
    pub run_dir: PathBuf,
    /// Steps done in total (including those before a resume).
    pub steps: u64,
    /// The loss of the last step (NaN when a resume only finished the evaluation).
    pub last_loss: f32,
    /// Number of held-out frames evaluated.
    pub held_out_frames: usize,
    /// Held-out `Σ c·|p − y| / Σ c` of the trained network, for a classification network its
    /// error rate `1 − accuracy` (NaN without held-out frames).
    pub held_out_error: f64,
    /// The same for the best constant predictor (the held-out confidence-weighted median; the
    /// most frequent class).
    pub constant_error: f64,
    /// A classification network's held-out accuracy (NaN for regression or without frames).
    pub accuracy: f64,
    /// A classification network's chance level, `1 / classes` (NaN for regression).
    pub chance: f64,
    /// CRC-32 of all parameters' little-endian bytes.
    pub params_crc32: u32,
}

/// Fewer held-out frames than this give no error ratio: the weighted median of a handful of
/// frames fits them almost exactly (of one frame, exactly: the ratio would be infinite).
pub const MIN_HELD_OUT_FRAMES: usize = 10;

/// The data directories of a run, canonical (absolute, no `.`, `..` or symbolic links), so a
/// run records the same `--data` however it was spelled and from whichever directory.
#[derive(Debug, Clone)]
struct DataDirs {
    data: Option<PathBuf>,
    val_data: Option<PathBuf>,
}

/// `dir` made canonical, or an error naming `flag`.
///
/// # Errors
/// If `dir` does not exist or cannot be resolved.
pub fn canonical_dir(flag: &str, dir: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(dir).with_context(|| format!("{flag} {}", dir.display()))
}

/// The flags a resumed run must share with the run it continues.
fn settings(args: &TrainArgs, dirs: &DataDirs) -> Vec<(String, String)> {
    let data = dirs
        .data
        .as_ref()
        .map_or_else(|| "synthetic".to_owned(), |d| d.display().to_string());
    let mut s = vec![
        ("batch".to_owned(), args.batch.to_string()),
        ("lr".to_owned(), format!("{:e}", args.lr)),
        (
            "lr-schedule".to_owned(),
            format!("{:?}", args.lr_schedule).to_lowercase(),
        ),
        (
            "optimizer".to_owned(),
            args.optimizer
                .to_possible_value()
                .map_or_else(String::new, |v| v.get_name().to_owned()),
        ),
        ("seed".to_owned(), args.seed.to_string()),
        ("data".to_owned(), data),
        ("exact".to_owned(), args.exact.to_string()),
    ];
    // Only when it differs from the batch, so checkpoints written before the flag still resume.
    if args.micro_batch() != args.batch {
        s.push(("micro-batch".to_owned(), args.micro_batch().to_string()));
    }
    // Which frames train; synthetic runs draw their held-out frames from a stream of their own.
    if dirs.data.is_some() {
        let (holdout, val) = match &dirs.val_data {
            Some(v) => ("none".to_owned(), v.display().to_string()),
            None => (args.holdout.to_string(), "none".to_owned()),
        };
        s.push(("holdout".to_owned(), holdout));
        s.push(("val-data".to_owned(), val));
    }
    // The cosine schedule's shape depends on the run's length.
    if args.lr_schedule == crate::cli::LrSchedule::Cosine {
        s.push(("steps".to_owned(), args.steps.to_string()));
    }
    s
}

/// `<logdir>/<config>-seed<N>-<unix seconds>`, with `-2`, `-3`, … appended when two runs start
/// within the same second.
fn new_run_dir(args: &TrainArgs, config: ConfigName) -> PathBuf {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let base = format!("{}-seed{}-{secs}", config.as_str(), args.seed);
    let mut dir = args.logdir.join(&base);
    let mut k = 2;
    while dir.exists() {
        dir = args.logdir.join(format!("{base}-{k}"));
        k += 1;
    }
    dir
}

/// The run directory `--resume DIR` names, canonical. Only a run's own directory is accepted:
/// never its `initial/` (W₀, which every drift figure is measured from) nor any directory
/// inside a run.
///
/// # Errors
/// If `dir` does not exist, is named `initial`, or lies inside a directory holding a checkpoint.
fn resumable_run_dir(dir: &Path) -> Result<PathBuf> {
    let canonical = canonical_dir("--resume", dir)?;
    ensure!(
        canonical.file_name() != Some(OsStr::new(summary::run::INITIAL_DIR)),
        "--resume {}: this is a run's initial parameters (W₀), not a run; resume the run directory above it",
        dir.display()
    );
    if let Some(run) = canonical.ancestors().skip(1).find(|a| has_checkpoint(a)) {
        bail!(
            "--resume {}: this is inside the run {}; resume that directory",
            dir.display(),
            run.display()
        );
    }
    Ok(canonical)
}

/// The network `--config` names; without it the resumed checkpoint's (so a run of a network
/// file resumes without the file), else `full`.
///
/// # Errors
/// If the checkpoint to resume cannot be read or names no valid network.
fn network_of(args: &TrainArgs) -> Result<ConfigName> {
    match (args.config, &args.resume) {
        (Some(c), _) => Ok(c),
        (None, Some(dir)) if has_checkpoint(dir) => {
            let ckpt = Checkpoint::load(dir)?;
            Ok(ConfigName::from_description(&ckpt.config)
                .with_context(|| format!("--resume {}", dir.display()))?)
        }
        // A bad --resume is reported by the resume itself.
        (None, _) => Ok(ConfigName::Full),
    }
}

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
    let name = network_of(args)?;
    let cfg = name.network();
    let threads = args.threads_or_all_cores();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .context("starting the worker threads")?;
    let gemm: Box<dyn Backend> = if args.exact {
        Box::new(Portable)
    } else {
        Box::new(FastGemm::new(threads).context("starting the GEMM threads")?)
    };
    let dirs = DataDirs {
        data: args
            .data
            .as_deref()
            .map(|d| canonical_dir("--data", d))
            .transpose()?,
        val_data: args
            .val_data
            .as_deref()
            .map(|d| canonical_dir("--val-data", d))
            .transpose()?,
    };
    let (net_opt, ckpt_opt) = match args.optimizer {
        // Both Adams keep the same moments (Keras's β^t is a power, so its stored powers stay
        // unused).
        OptimizerName::Adam | OptimizerName::AdamKeras => (NetOptimizer::Adam, OptimizerKind::Adam),
        OptimizerName::Sgd => (NetOptimizer::Sgd, OptimizerKind::Sgd),
    };
    // The arena holds one micro-batch; a step accumulates the gradients of all of them.
    let micro = args.micro_batch();
    let layout = ArenaLayout::training(&cfg, micro, net_opt)?;
    let mut arena = crate::memory::zeroed(
        layout.arena_len(),
        &if micro == args.batch {
            format!("the training arena of --batch {micro}")
        } else {
            format!("the training arena of --micro-batch {micro}")
        },
    )?;
    let source = Source::open(
        &cfg,
        dirs.data.as_deref(),
        dirs.val_data.as_deref(),
        args.holdout,
        args.seed,
        &pool,
    )?;
    let mut net = Net::training(&cfg, micro, net_opt, &mut arena)?;
    let settings = settings(args, &dirs);
    // What the checkpoints record: the network's name, or its whole table for a file's.
    let description = name.description();
    let config = description.as_str();

    let (run_dir, first_step) = match &args.resume {
        Some(dir) => {
            let run = resumable_run_dir(dir)?;
            let ckpt = Checkpoint::load(&run)?;
            let step = state::restore(&mut net, &ckpt, config, ckpt_opt, &settings)
                .with_context(|| format!("cannot resume {}", run.display()))?;
            (run, step)
        }
        None => {
            net.init_params(args.seed)?;
            (new_run_dir(args, name), 0)
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
    std::fs::create_dir_all(&run_dir).with_context(|| format!("creating {}", run_dir.display()))?;

    println!(
        "{} {}: {} parameters, arena {:.1} MiB; {} steps of {} frames{}, {:?} lr {} ({:?}), seed {}, {} thread(s){}",
        if matches!(name, ConfigName::File(_)) {
            "network"
        } else {
            "valence"
        },
        name.as_str(),
        net.params().len(),
        layout.bytes() as f64 / (1 << 20) as f64,
        args.steps,
        args.batch,
        if micro == args.batch {
            String::new()
        } else {
            format!(" in micro-batches of {micro}")
        },
        args.optimizer,
        args.lr,
        args.lr_schedule,
        args.seed,
        threads,
        if args.exact { ", exact (portable) kernels" } else { "" }
    );
    println!("run directory: {}", run_dir.display());

    let frame_len = cfg.frame_len()?;
    let specs = *net.param_specs();
    let (w0, true_start) =
        summary::run::initial_params(&run_dir, first_step, &specs, net.params(), config)?;
    if !true_start {
        println!(
            "note: {} has no initial parameters; drift is measured from step {first_step}",
            run_dir.display()
        );
    }
    let mut log = RunLog::start(
        &run_dir,
        first_step,
        args.summary_interval(),
        args.steps,
        &specs,
        w0,
        [cfg.input.h, cfg.input.w],
    )?;
    let logdir = run_dir.parent().unwrap_or(Path::new("."));
    println!("TensorBoard event file: {}", log.event_file().display());
    println!("watch it with: tensorboard --logdir {}", logdir.display());
    let tty = std::io::stderr().is_terminal();
    let mut batch = Batch::default();
    let bar = if tty {
        progress_bar(args.steps, first_step)
    } else {
        ProgressBar::hidden()
    };
    let started = Instant::now();
    let mut last_loss = f32::NAN;
    let mut last_checkpoint = (first_step > 0).then_some(first_step);
    let mut diverged = None;
    for step in first_step..args.steps {
        pool.install(|| source.fill_train(step, args.batch, &mut batch))?;
        net.zero_grads();
        let summarise = log.is_summary_step(step);
        // Summary steps only: ordinary steps pass `()` and pay nothing for the histograms.
        let mut obs = summarise.then(|| HistogramObserver::new(&pool, net.plan()));
        // Each micro-batch returns its share of the batch's loss; the shares are added in
        // micro-batch order, the order a board adds them in (one share: the loss itself).
        last_loss = 0.0;
        for start in (0..args.batch).step_by(micro) {
            let r = start..(start + micro).min(args.batch);
            let (x, y) = (
                batch.inputs(r.clone(), frame_len),
                batch.targets(r, cfg.loss),
            );
            last_loss += match obs.as_mut() {
                Some(o) => net.train(&*gemm, x, y, args.batch, o)?,
                None => net.train(&*gemm, x, y, args.batch, &mut ())?,
            };
        }
        log.loss(step, last_loss)?;
        if !last_loss.is_finite() {
            // Nothing after a non-finite loss means anything: stop, and report the divergence.
            diverged = Some((step, format!("the loss is {last_loss}")));
            break;
        }
        if summarise {
            log.capture_before(net.params());
        }
        let lr = schedule::learning_rate(args.lr_schedule, args.lr, step, args.steps);
        match args.optimizer {
            // t = step + 1: TF1's Adam counts from 1; `steps ≤ u32::MAX` was checked above.
            OptimizerName::Adam => net.adam_step(&Adam::tf1(lr), (step + 1) as u32)?,
            OptimizerName::AdamKeras => {
                net.adam_keras_step(&AdamKeras::keras(lr), (step + 1) as u32)?;
            }
            OptimizerName::Sgd => net.sgd_step(lr)?,
        }
        if let Some(s) = specs.iter().find(|s| {
            !net.params()[s.offset..s.offset + s.len]
                .iter()
                .all(|x| x.is_finite())
        }) {
            diverged = Some((step, format!("`{}` is not finite after the update", s.name)));
            break;
        }
        let done = step + 1;
        if args.exact {
            bar.suspend(|| println!("step {done} loss {:08x}", last_loss.to_bits()));
        }
        let fps = (done - first_step) as f64 * args.batch as f64 / started.elapsed().as_secs_f64();
        if let Some(o) = &obs {
            let scalars = StepScalars {
                learning_rate: lr,
                frames_per_second: fps,
            };
            let rgb = data::rgb_frames(&batch.frames, cfg.input.c);
            log.summary(&pool, step, o, net.params(), &rgb, scalars)?;
            if !tty {
                println!(
                    "summary at step {step}/{}: loss {last_loss:.5}, {fps:.0} frames/s",
                    args.steps
                );
            }
        }
        bar.set_message(format!("loss {last_loss:.4}  {fps:.0} frames/s"));
        bar.set_position(done);
        if args.checkpoint_every > 0 && (done % args.checkpoint_every == 0 || done == args.steps) {
            // Every loss up to `done` reaches the file before the checkpoint that resumes there.
            log.flush()?;
            state::capture(&net, config, done, ckpt_opt, &settings)?.save(&run_dir)?;
            last_checkpoint = Some(done);
        }
    }
    bar.finish_and_clear();
    let diverged = diverged.map(|(step, what)| Divergence {
        step,
        what,
        last_checkpoint,
    });
    if first_step < args.steps {
        let elapsed = started.elapsed().as_secs_f64();
        let done = diverged.as_ref().map_or(args.steps, |d| d.step + 1);
        let trained = (done - first_step) as f64 * args.batch as f64;
        println!(
            "trained {} steps in {elapsed:.1} s ({:.0} frames/s); last loss {last_loss:.5}",
            done - first_step,
            trained / elapsed
        );
    } else {
        println!(
            "all {} steps were done; finishing the evaluation and the report",
            args.steps
        );
    }

    // A diverged network's predictions are not finite: nothing to evaluate.
    let held_out_frames = source.held_out_len();
    let held_out = match diverged {
        Some(_) => None,
        None => evaluate(&mut net, &*gemm, &source, &pool, micro, frame_len)?,
    };
    let classes = data::classes_of(&cfg);
    let (accuracy, chance) = match (classes, held_out) {
        (Some(k), Some(h)) => (1.0 - h.error, 1.0 / k as f64),
        (Some(k), None) => (f64::NAN, 1.0 / k as f64),
        (None, _) => (f64::NAN, f64::NAN),
    };
    // Too few held-out frames say nothing about the constant predictor: the report then judges
    // the run by its loss trend.
    let comparable = held_out.filter(|_| held_out_frames >= MIN_HELD_OUT_FRAMES);
    match held_out {
        None if diverged.is_none() => {
            println!("held-out evaluation: no held-out frames (--holdout 0); nothing measured");
        }
        None => {}
        Some(h) if classes.is_some() => println!(
            "held-out accuracy: {:.4} on {held_out_frames} examples  (chance 1/{} = {chance:.4}; always the most frequent class: {:.4})",
            1.0 - h.error,
            classes.unwrap_or(0),
            1.0 - h.constant_error,
        ),
        Some(h) if comparable.is_none() => println!(
            "held-out weighted error: {:.4} on only {held_out_frames} frame(s), too few to compare with the constant predictor (at least {MIN_HELD_OUT_FRAMES}: raise --holdout or pass --val-data)",
            h.error
        ),
        Some(h) => println!(
            "held-out weighted error: {:.4}  (best constant predictor, the weighted median: {:.4}; ratio {:.2})",
            h.error,
            h.constant_error,
            h.error / h.constant_error
        ),
    }
    let done_report = log.finish(args.steps, diverged.as_ref().map(|d| d.step), comparable)?;
    println!(
        "\nlearning diagnosis:\n{}",
        summary::report::table(&done_report.tensors, &done_report.run)
    );
    println!(
        "{}\n",
        summary::report::answer(&done_report.tensors, &done_report.run)
    );
    let report_path = run_dir.join(summary::run::DIAGNOSIS_FILE);
    println!("diagnosis report: {}", report_path.display());
    if let Some(d) = diverged {
        anyhow::bail!(
            "{d}; try a lower --lr (learning diagnosis: {})",
            report_path.display()
        );
    }
    let (held_out_error, constant_error) =
        held_out.map_or((f64::NAN, f64::NAN), |h| (h.error, h.constant_error));
    println!(
        "TensorBoard logs: {}  (view: tensorboard --logdir {})",
        run_dir.display(),
        logdir.display()
    );
    let crc = params_crc32(
        specs
            .iter()
            .map(|s| &net.params()[s.offset..s.offset + s.len]),
    );
    println!("parameters CRC-32: {crc:08x}");
    if args.checkpoint_every > 0 {
        println!("checkpoint: {}", run_dir.display());
    }
    Ok(RunReport {
        run_dir,
        steps: args.steps,
        last_loss,
        held_out_frames,
        held_out_error,
        constant_error,
        accuracy,
        chance,
        params_crc32: crc,
    })
}

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

/// Held-out error of the network and of the best constant predictor — for a classification
/// network the error rate `1 − accuracy` and the most frequent class's (no confidence, so the
/// loss chart draws no held-out lines) — `None` without held-out frames.
fn evaluate(
    net: &mut Net<'_>,
    gemm: &dyn Backend,
    source: &Source,
    pool: &rayon::ThreadPool,
    batch: usize,
    frame_len: usize,
) -> Result<Option<HeldOut>> {
    let total = source.held_out_len();
    if total == 0 {
        return Ok(None);
    }
    let (mut pred, mut all) = (Vec::new(), Batch::default());
    let mut b = Batch::default();
    let mut start = 0;
    while start < total {
        let n = batch.min(total - start);
        pool.install(|| source.fill_held_out(start, n, &mut b))?;
        pred.extend_from_slice(net.forward_inputs(gemm, b.inputs(0..n, frame_len), &mut ())?);
        all.extend(&b);
        start += n;
    }
    if let Some(k) = data::classes_of(&net.plan().network) {
        return Ok(Some(HeldOut {
            error: 1.0 - eval::accuracy(&pred, k, &all.labels),
            constant_error: 1.0 - eval::majority_share(&all.labels),
            mean_confidence: f64::NAN,
            classes: Some(k),
        }));
    }
    let (target, confidence) = (all.target, all.confidence);
    let constant = eval::weighted_median(&target, &confidence);
    let mean_confidence =
        confidence.iter().map(|&c| f64::from(c)).sum::<f64>() / confidence.len().max(1) as f64;
    Ok(Some(HeldOut {
        error: eval::weighted_abs_error(&pred, &target, &confidence),
        constant_error: eval::weighted_abs_error(
            &vec![constant; target.len()],
            &target,
            &confidence,
        ),
        mean_confidence,
        classes: None,
    }))
}

/// `true` if `dir` holds a checkpoint (used by `--resume` error messages and tests).
pub fn has_checkpoint(dir: &Path) -> bool {
    dir.join(crate::checkpoint::CHECKPOINT_FILE).is_file()
}
