//! [`Setup`]: what a run is built from, made and checked before any file is written — the
//! threads, the kernels, the arena's size, the frames and the settings a resume must match.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::ValueEnum;
use kernels::net::{ArenaLayout, Network, OptimizerKind as NetOptimizer};
use kernels::{Backend, Portable};
use rayon::ThreadPool;

use crate::checkpoint::{has_checkpoint, Checkpoint, OptimizerKind};
use crate::cli::{ConfigName, LrSchedule, OptimizerName, TrainArgs};
use crate::fast_gemm::FastGemm;
use crate::workers;

use super::data::Source;
use super::run_dir::canonical_dir;

/// The fixed parts of a run: everything a step reads but never changes.
pub struct Setup<'a> {
    /// The run's flags.
    pub(super) args: &'a TrainArgs,
    /// The network `--config` names (or the resumed run's).
    pub(super) name: ConfigName,
    /// Its table.
    pub(super) cfg: Network,
    /// What the checkpoints record of it: its name, or a network file's whole table.
    pub(super) description: String,
    /// Worker threads (of the pool and of the fast GEMM).
    pub(super) threads: usize,
    /// Loads frames and fills histograms.
    pub(super) pool: ThreadPool,
    /// The fast GEMM, or the boards' portable kernels with `--exact`.
    pub(super) gemm: Box<dyn Backend>,
    /// The optimiser state the arena holds.
    pub(super) net_opt: NetOptimizer,
    /// The optimiser state a checkpoint holds.
    pub(super) ckpt_opt: OptimizerKind,
    /// Frames per forward/backward call (the arena holds one micro-batch).
    pub(super) micro: usize,
    /// The training arena's layout.
    pub(super) layout: ArenaLayout,
    /// The run's frames.
    pub(super) source: Source,
    /// The flags a resumed run must share with the run it continues.
    pub(super) settings: Vec<(String, String)>,
    /// Bytes per frame.
    pub(super) frame_len: usize,
}

impl<'a> Setup<'a> {
    /// Starts the threads, sizes and allocates the training arena and loads the frames, in that
    /// order. The arena comes back apart: the network borrows it mutably for the whole run
    /// while everything else here is shared.
    ///
    /// # Errors
    /// Threads that cannot start, a data directory that does not resolve or load, or an arena
    /// bigger than the machine's memory, as a one-line message naming the flag or file.
    pub fn new(args: &'a TrainArgs) -> Result<(Self, Vec<f32>)> {
        let name = network_of(args)?;
        let cfg = name.network();
        let threads = workers::threads_or_all_cores(args.threads);
        let pool = workers::pool(threads)?;
        let gemm: Box<dyn Backend> = if args.exact {
            Box::new(Portable)
        } else {
            Box::new(FastGemm::new(threads).context("starting the GEMM threads")?)
        };
        let dirs = DataDirs::of(args)?;
        let (net_opt, ckpt_opt) = match args.optimizer {
            // Both Adams keep the same moments (Keras's β^t is a power, so its stored powers
            // stay unused).
            OptimizerName::Adam | OptimizerName::AdamKeras => {
                (NetOptimizer::Adam, OptimizerKind::Adam)
            }
            OptimizerName::Sgd => (NetOptimizer::Sgd, OptimizerKind::Sgd),
        };
        // The arena holds one micro-batch; a step accumulates the gradients of all of them.
        let micro = args.micro_batch(name);
        let layout = ArenaLayout::training(&cfg, micro, net_opt)?;
        let arena = crate::memory::zeroed(
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
        let setup = Self {
            args,
            name,
            cfg,
            description: name.description(),
            threads,
            pool,
            gemm,
            net_opt,
            ckpt_opt,
            micro,
            layout,
            source,
            settings: settings(args, &dirs, micro),
            frame_len: cfg.frame_len()?,
        };
        Ok((setup, arena))
    }
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

/// The data directories of a run, canonical, so a run records the same `--data` however it was
/// spelled and from whichever directory.
#[derive(Debug, Clone)]
struct DataDirs {
    data: Option<PathBuf>,
    val_data: Option<PathBuf>,
}

impl DataDirs {
    /// `--data` and `--val-data`, canonical.
    ///
    /// # Errors
    /// If either does not exist, naming the flag.
    fn of(args: &TrainArgs) -> Result<Self> {
        let canonical = |flag, dir: &Option<PathBuf>| {
            dir.as_deref().map(|d| canonical_dir(flag, d)).transpose()
        };
        Ok(Self {
            data: canonical("--data", &args.data)?,
            val_data: canonical("--val-data", &args.val_data)?,
        })
    }
}

/// The flags a resumed run must share with the run it continues.
fn settings(args: &TrainArgs, dirs: &DataDirs, micro: usize) -> Vec<(String, String)> {
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
    if micro != args.batch {
        s.push(("micro-batch".to_owned(), micro.to_string()));
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
    if args.lr_schedule == LrSchedule::Cosine {
        s.push(("steps".to_owned(), args.steps.to_string()));
    }
    s
}
