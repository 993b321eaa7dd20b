//! The command line: `host-sim [train] [FLAGS]`, `host-sim export …`, `host-sim import …`.
//!
//! Training is the default command, so `cargo run -p host-sim --release` with no arguments
//! trains. Every numeric flag is validated while parsing (clap reports a bad value with the
//! flag's name and exits with status 2), so the rest of the program never sees `--batch 0`.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use kernels::net::Network;

use crate::network_file::{NetworkFile, NetworkFileError};

/// Default number of optimiser steps. With the default batch and learning rate, FULL spends
/// its first ~900 steps predicting a near-constant (Adam's sign-like steps on 7.9 M parameters
/// have to line up first), then its held-out error drops below half the constant predictor's.
pub const DEFAULT_STEPS: u64 = 1200;
/// Default number of frames per step.
pub const DEFAULT_BATCH: usize = 16;
/// Default learning rate: the seed's Adam learning rate.
pub const DEFAULT_LR: f32 = 1e-4;
/// Default seed of every random choice (initial weights, synthetic data, shuffling).
pub const DEFAULT_SEED: u64 = 0;
/// Default directory that receives the TensorBoard event files.
pub const DEFAULT_LOGDIR: &str = "runs";
/// Summary points a run gets at least when `--summary-every` is not given: with fewer, the
/// Scalars charts of a short run have two points and fall back to a flat 0–1 axis.
pub const MIN_SUMMARY_POINTS: u64 = 12;

/// The summary interval when `--summary-every` is not given: `steps / 12` (at least 1), so a run
/// of any length gets at least [`MIN_SUMMARY_POINTS`] summaries (plus the last step); the default
/// 1200-step run gets one every 100 steps (a FULL summary step costs about two training steps).
pub const fn default_summary_every(steps: u64) -> u64 {
    let every = steps / MIN_SUMMARY_POINTS;
    if every == 0 {
        1
    } else {
        every
    }
}
/// Default number of steps between two checkpoints (0 = never).
pub const DEFAULT_CHECKPOINT_EVERY: u64 = 100;
/// Default fraction of a data directory's frames held out for evaluation.
pub const DEFAULT_HOLDOUT: f64 = 0.1;

/// Train the valence network on a desktop, or move its weights in and out of checkpoints.
#[derive(Debug, Clone, PartialEq, Parser)]
#[command(name = "host-sim", version, about, long_about = None)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    /// What to do; `train` when no command is given.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The training flags, accepted without the `train` word.
    #[command(flatten)]
    pub train: TrainArgs,
}

impl Args {
    /// The command to run, with `train` (and the top-level flags) filled in when none was named.
    pub fn into_command(self) -> Command {
        self.command.unwrap_or(Command::Train(self.train))
    }
}

/// The commands of `host-sim`.
#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum Command {
    /// Train the network (the default command).
    Train(TrainArgs),
    /// Write each parameter of a checkpoint as `<OUT>/<name>.npy` and all as
    /// `<OUT>/model.safetensors` (numpy, TensorFlow, PyTorch).
    Export(ExportArgs),
    /// Build a checkpoint (step 0, no optimiser state) from `<name>.npy` files or a safetensors
    /// file.
    Import(ImportArgs),
    /// Quantise a checkpoint to an int8 model file (calibrated on training frames).
    Quantize(QuantizeArgs),
    /// Compare an int8 model file with its f32 checkpoint on the held-out frames.
    Eval(EvalArgs),
    /// Rebuild a run directory's learning report (diagnosis.md and its pictures) from its event
    /// files and initial/ checkpoint.
    Diagnose(DiagnoseArgs),
    /// Turn a board's decoded log (`defmt-print` output) into TensorBoard event files.
    Ingest(IngestArgs),
    /// Time training and inference steps (frames/s) and report the peak resident memory.
    Bench(BenchArgs),
}

/// The arguments of `host-sim diagnose`.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct DiagnoseArgs {
    /// The run directory (event files, `initial/`); the report is written into it.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// Which network to run: `--config full|tiny|PATH`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ConfigName {
    /// The seed's network: 96×96×3 input, about 7.9 M parameters.
    Full,
    /// The board-sized network: 64×64×3 input, about 7.6 k parameters.
    Tiny,
    /// A network file ([`crate::network_file`]), read and validated once and kept for the
    /// process (so the name stays `Copy` like the built-in ones).
    File(&'static NetworkFile),
}

impl ConfigName {
    /// `full`, `tiny`, or else a network file's path: `--config`'s value parser.
    ///
    /// # Errors
    /// A one-line message (clap names the flag and the value before it): the file's field and
    /// what is wrong with it.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "full" => Ok(Self::Full),
            "tiny" => Ok(Self::Tiny),
            path => match crate::network_file::load(std::path::Path::new(path)) {
                Ok(f) => Ok(Self::File(Box::leak(Box::new(f)))),
                // clap's message already names the value: only the field and the problem.
                Err(e) if std::path::Path::new(path).exists() => Err(e.what),
                Err(e) => Err(format!(
                    "neither `full`, `tiny` nor a network file: {}",
                    e.what
                )),
            },
        }
    }

    /// The network a checkpoint's `config` entry describes ([`ConfigName::description`]).
    ///
    /// # Errors
    /// If it is neither `full`, `tiny` nor a valid table.
    pub fn from_description(description: &str) -> Result<Self, NetworkFileError> {
        match description {
            "full" => Ok(Self::Full),
            "tiny" => Ok(Self::Tiny),
            d => Ok(Self::File(Box::leak(Box::new(
                crate::network_file::from_description(d)?,
            )))),
        }
    }

    /// The name run directories and messages use: `full`, `tiny` or the file's network name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Tiny => "tiny",
            Self::File(f) => &f.name,
        }
    }

    /// The network's table.
    pub const fn network(self) -> Network {
        match self {
            Self::Full => Network::FULL,
            Self::Tiny => Network::TINY,
            Self::File(f) => f.network,
        }
    }

    /// What a checkpoint records: `full`, `tiny`, or the file's table as one line of JSON, so a
    /// checkpoint resumes, exports and quantises without the file.
    pub fn description(self) -> String {
        crate::network_file::description(self.as_str(), &self.network())
    }
}

/// How the learning rate changes over the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LrSchedule {
    /// The same learning rate at every step.
    Constant,
    /// Cosine decay from `--lr` at the first step to 0 after `--steps`.
    Cosine,
}

/// The optimiser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OptimizerName {
    /// Adam as TensorFlow 1's `AdamOptimizer` (β1 0.9, β2 0.999, ε 1e-8), as in the seed.
    Adam,
    /// Adam as Keras 3's `tf.keras.optimizers.Adam` (β1 0.9, β2 0.999, ε 1e-7), what
    /// TensorFlow 2 users train with: TF1's algorithm, rounded differently in the last bits.
    AdamKeras,
    /// Plain stochastic gradient descent.
    Sgd,
}

/// The flags of `host-sim train`.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct TrainArgs {
    /// Network to train: `full` (the seed's), `tiny` (the board's) or a network file (TOML or
    /// JSON, see examples/networks/) [default: full, or the resumed run's]
    #[arg(long, value_name = "full|tiny|PATH", value_parser = ConfigName::parse)]
    pub config: Option<ConfigName>,
    /// Number of optimiser steps; with --resume, the total including the steps already done.
    #[arg(long, value_name = "N", allow_negative_numbers = true, default_value_t = DEFAULT_STEPS, value_parser = clap::value_parser!(u64).range(1..))]
    pub steps: u64,
    /// Frames per step (at least 1).
    #[arg(long, value_name = "N", allow_negative_numbers = true, default_value_t = DEFAULT_BATCH, value_parser = positive_usize)]
    pub batch: usize,
    /// Learning rate: a finite number greater than 0.
    #[arg(long, value_name = "X", allow_negative_numbers = true, default_value_t = DEFAULT_LR, value_parser = positive_f32)]
    pub lr: f32,
    /// Learning-rate schedule.
    #[arg(long, value_enum, default_value_t = LrSchedule::Constant)]
    pub lr_schedule: LrSchedule,
    /// Optimiser.
    #[arg(long, value_enum, default_value_t = OptimizerName::Adam)]
    pub optimizer: OptimizerName,
    /// Seed of every random choice: initial weights, synthetic frames, shuffling.
    #[arg(long, value_name = "N", allow_negative_numbers = true, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    /// Worker threads, at least 1; the results do not depend on it [default: all cores].
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = positive_usize)]
    pub threads: Option<usize>,
    /// Run the portable kernels (the boards' bits) and print each step's loss as f32 bits in hex.
    #[arg(long)]
    pub exact: bool,
    /// Frames per forward/backward call; a step sums the gradients of its micro-batches in order,
    /// as a board does [default: 1 for --exact --config tiny (the boards' order), else --batch].
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = positive_usize)]
    pub micro_batch: Option<usize>,
    /// Train on DIR/labels.csv (`file,valence,confidence`; `file,class` for a classifier) and its
    /// PNG/JPEG frames of any size and channels, fitted to the network's input [default: synthetic frames]
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Directory that receives the TensorBoard event files.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_LOGDIR)]
    pub logdir: PathBuf,
    /// Steps between two TensorBoard summaries, at least 1 [default: --steps / 12, at least 1]
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(u64).range(1..))]
    pub summary_every: Option<u64>,
    /// Steps between two checkpoints; 0 writes none.
    #[arg(long, value_name = "N", allow_negative_numbers = true, default_value_t = DEFAULT_CHECKPOINT_EVERY)]
    pub checkpoint_every: u64,
    /// Continue the run in run directory DIR (never its initial/) [default: start afresh].
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    /// Fraction of --data's frames held out for evaluation, in [0, 1); 0 trains on every frame.
    #[arg(long, value_name = "FRACTION", allow_negative_numbers = true, default_value_t = DEFAULT_HOLDOUT, value_parser = holdout_fraction)]
    pub holdout: f64,
    /// Evaluate on DIR/labels.csv's frames and train on all of --data's [default: --holdout].
    #[arg(
        long,
        value_name = "DIR",
        requires = "data",
        conflicts_with = "holdout"
    )]
    pub val_data: Option<PathBuf>,
}

impl TrainArgs {
    /// Frames per forward/backward call of a run of `network` (`--config`'s, or the resumed
    /// run's): `--micro-batch`, else 1 for `--exact` TINY (a board trains one frame at a time),
    /// else the whole batch; never more than `--batch`.
    pub fn micro_batch(&self, network: ConfigName) -> usize {
        let default = if self.exact && network == ConfigName::Tiny {
            1
        } else {
            self.batch
        };
        self.micro_batch.unwrap_or(default).min(self.batch)
    }

    /// The summary interval: `--summary-every`, or [`default_summary_every`] of `--steps`.
    pub fn summary_interval(&self) -> u64 {
        self.summary_every
            .unwrap_or_else(|| default_summary_every(self.steps))
    }
}

/// The flags of `host-sim export`.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct ExportArgs {
    /// Checkpoint directory to read.
    #[arg(long, value_name = "DIR")]
    pub checkpoint: PathBuf,
    /// Directory to write the `.npy` files and `model.safetensors` into (created if missing;
    /// existing files replaced).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// The flags of `host-sim import`.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct ImportArgs {
    /// Directory holding one `<name>.npy` per seed variable (weights1 … bias_softmax), or a
    /// safetensors file holding an F32 tensor of each name.
    #[arg(long, value_name = "DIR|FILE")]
    pub from: PathBuf,
    /// Checkpoint directory to write: new or empty, unless --force.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Network the weights belong to (`full`, `tiny` or a network file): each file must have its
    /// parameter's exact shape.
    #[arg(long, value_name = "full|tiny|PATH", default_value = "full", value_parser = ConfigName::parse)]
    pub config: ConfigName,
    /// Write into --out even if it holds a run or other files (its checkpoint is replaced).
    #[arg(long)]
    pub force: bool,
}

/// Default number of training frames the activation ranges are calibrated on.
pub const DEFAULT_CALIBRATION_FRAMES: usize = 256;

/// The flags of `host-sim quantize`.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct QuantizeArgs {
    /// Checkpoint directory to read.
    #[arg(long, value_name = "DIR")]
    pub checkpoint: PathBuf,
    /// Model file to write (replaced if it exists).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Training frames to calibrate the activation ranges on (at least 1; at most the data's).
    #[arg(long, value_name = "N", allow_negative_numbers = true, default_value_t = DEFAULT_CALIBRATION_FRAMES, value_parser = positive_usize)]
    pub frames: usize,
    /// Calibrate on DIR/labels.csv's frames [default: the checkpoint's data].
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Seed of the synthetic frames [default: the checkpoint's].
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Worker threads, at least 1 [default: all cores].
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = positive_usize)]
    pub threads: Option<usize>,
}

/// The flags of `host-sim eval`.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct EvalArgs {
    /// Checkpoint directory of the f32 network.
    #[arg(long, value_name = "DIR")]
    pub checkpoint: PathBuf,
    /// int8 model file (from `host-sim quantize`).
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// Evaluate on DIR/labels.csv's held-out frames [default: the checkpoint's data].
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Seed of the synthetic frames [default: the checkpoint's].
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Worker threads, at least 1 [default: all cores].
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = positive_usize)]
    pub threads: Option<usize>,
    /// Also print the int8 predictions of the first N held-out frames as f32 bits in hex (what a
    /// board prints).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub show: usize,
}

/// The flags of `host-sim ingest`.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct IngestArgs {
    /// The board's log as `defmt-print` decodes it (see README: boards).
    #[arg(value_name = "LOG")]
    pub log: PathBuf,
    /// Directory that receives the run directory `<board>-seed<N>`.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_LOGDIR)]
    pub logdir: PathBuf,
}

/// The flags of `host-sim bench`.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct BenchArgs {
    /// Network to time: `full`, `tiny` or a network file.
    #[arg(long, value_name = "full|tiny|PATH", default_value = "full", value_parser = ConfigName::parse)]
    pub config: ConfigName,
    /// Frames per step (at least 1).
    #[arg(long, value_name = "N", allow_negative_numbers = true, default_value_t = DEFAULT_BATCH, value_parser = positive_usize)]
    pub batch: usize,
    /// Worker threads, at least 1 [default: all cores].
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = positive_usize)]
    pub threads: Option<usize>,
    /// Untimed steps before each measurement (at least 1).
    #[arg(long, value_name = "N", allow_negative_numbers = true, default_value_t = 2, value_parser = positive_usize)]
    pub warmup: usize,
    /// Timed training steps; inference times as many forward passes (at least 1).
    #[arg(long, value_name = "N", allow_negative_numbers = true, default_value_t = 10, value_parser = positive_usize)]
    pub steps: usize,
    /// Time the portable kernels (the boards' bits) instead of the fast host path.
    #[arg(long)]
    pub exact: bool,
    /// Also write the initial parameters (`<name>.npy`), the batch's frames (`frames.npy`) and
    /// the untrained network's predictions (`predictions.npy`) into DIR, for a comparison with
    /// another framework [default: write nothing].
    #[arg(long, value_name = "DIR")]
    pub save: Option<PathBuf>,
    /// Also clock every GEMM and LRN/max-pool call of the timed steps and print where the time
    /// goes (per layer and pass, GFLOP/s, share outside the GEMMs).
    #[arg(long)]
    pub profile: bool,
}

fn positive_usize(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("not a whole number: {e}")),
    }
}

fn holdout_fraction(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if (0.0..1.0).contains(&x) => Ok(x),
        Ok(_) => Err("must be at least 0 and less than 1".into()),
        Err(e) => Err(format!("not a number: {e}")),
    }
}

fn positive_f32(s: &str) -> Result<f32, String> {
    match s.parse::<f32>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        Ok(_) => Err("must be a finite number greater than 0".into()),
        Err(e) => Err(format!("not a number: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        let mut all = vec!["host-sim"];
        all.extend_from_slice(args);
        Args::try_parse_from(all).map(Args::into_command)
    }

    fn train(args: &[&str]) -> TrainArgs {
        match parse(args).expect("parses") {
            Command::Train(t) => t,
            other => panic!("expected train, got {other:?}"),
        }
    }

    #[test]
    fn clap_definition_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn no_arguments_train_with_the_defaults() {
        let t = train(&[]);
        assert_eq!(t.config, None);
        assert_eq!(t.steps, DEFAULT_STEPS);
        assert_eq!(t.batch, DEFAULT_BATCH);
        assert_eq!(t.lr.to_bits(), DEFAULT_LR.to_bits());
        assert_eq!(t.lr_schedule, LrSchedule::Constant);
        assert_eq!(t.optimizer, OptimizerName::Adam);
        assert_eq!(t.seed, DEFAULT_SEED);
        assert_eq!(t.threads, None);
        assert!(!t.exact);
        assert_eq!(t.micro_batch, None);
        assert_eq!(t.micro_batch(ConfigName::Full), DEFAULT_BATCH);
        // --exact TINY trains one frame per call, as a board does, also when the network comes
        // from a resumed checkpoint rather than from --config.
        let exact = train(&["--exact", "--resume", "r"]);
        assert_eq!(exact.micro_batch(ConfigName::Tiny), 1);
        assert_eq!(exact.micro_batch(ConfigName::Full), DEFAULT_BATCH);
        assert_eq!(t.data, None);
        assert_eq!(t.logdir, PathBuf::from(DEFAULT_LOGDIR));
        assert_eq!(t.summary_every, None);
        assert_eq!(t.summary_interval(), 100);
        assert_eq!(t.checkpoint_every, DEFAULT_CHECKPOINT_EVERY);
        assert_eq!(t.resume, None);
        assert_eq!(t.holdout.to_bits(), DEFAULT_HOLDOUT.to_bits());
        assert_eq!(t.val_data, None);
    }

    #[test]
    fn every_flag_is_parsed() {
        let flags = [
            "--config",
            "tiny",
            "--steps",
            "7",
            "--batch",
            "3",
            "--lr",
            "0.5",
            "--lr-schedule",
            "cosine",
            "--optimizer",
            "sgd",
            "--seed",
            "42",
            "--threads",
            "2",
            "--exact",
            "--micro-batch",
            "2",
            "--data",
            "d",
            "--logdir",
            "l",
            "--summary-every",
            "5",
            "--checkpoint-every",
            "0",
            "--resume",
            "r",
            "--holdout",
            "0",
        ];
        let t = train(&flags);
        let expected = TrainArgs {
            config: Some(ConfigName::Tiny),
            steps: 7,
            batch: 3,
            lr: 0.5,
            lr_schedule: LrSchedule::Cosine,
            optimizer: OptimizerName::Sgd,
            seed: 42,
            threads: Some(2),
            exact: true,
            micro_batch: Some(2),
            data: Some("d".into()),
            logdir: "l".into(),
            summary_every: Some(5),
            checkpoint_every: 0,
            resume: Some("r".into()),
            holdout: 0.0,
            val_data: None,
        };
        assert_eq!(t, expected);
        assert_eq!(t.summary_interval(), 5, "an explicit --summary-every wins");
        assert_eq!(t.micro_batch(ConfigName::Tiny), 2);
        // The same flags after an explicit `train` give the same arguments.
        let mut with_word = vec!["train"];
        with_word.extend_from_slice(&flags);
        assert_eq!(train(&with_word), expected);
    }

    #[test]
    fn bad_values_are_rejected_with_the_flag_named() {
        for (args, flag) in [
            (&["--batch", "0"][..], "--batch"),
            (&["--batch", "-3"][..], "--batch"),
            (&["--lr", "-1"][..], "--lr"),
            (&["--lr", "0"][..], "--lr"),
            (&["--lr", "NaN"][..], "--lr"),
            (&["--lr", "inf"][..], "--lr"),
            (&["--threads", "0"][..], "--threads"),
            (&["--micro-batch", "0"][..], "--micro-batch"),
            (&["--steps", "0"][..], "--steps"),
            (&["--summary-every", "0"][..], "--summary-every"),
            (&["--config", "huge"][..], "--config"),
            (&["--optimizer", "rmsprop"][..], "--optimizer"),
            (&["--seed", "x"][..], "--seed"),
            (&["--seed", "-1"][..], "--seed"),
            (&["--checkpoint-every", "-1"][..], "--checkpoint-every"),
            (&["--holdout", "1"][..], "--holdout"),
            (&["--holdout", "-0.1"][..], "--holdout"),
            (&["--holdout", "NaN"][..], "--holdout"),
            (&["--val-data", "v"][..], "--data"),
            (
                &["--data", "d", "--val-data", "v", "--holdout", "0"][..],
                "--holdout",
            ),
        ] {
            let err = parse(args).expect_err("must fail");
            let msg = err.to_string();
            assert!(msg.contains(flag), "{args:?}: {msg}");
        }
    }

    #[test]
    fn the_default_summary_interval_gives_every_run_at_least_twelve_points() {
        assert_eq!(default_summary_every(1200), 100);
        assert_eq!(default_summary_every(60), 5);
        assert_eq!(default_summary_every(11), 1);
        assert_eq!(default_summary_every(1), 1);
        for steps in 1..3000 {
            let every = default_summary_every(steps);
            // Summary steps: the multiples of `every` below `steps`, and the last step.
            let points = (0..steps)
                .filter(|s| s % every == 0 || s + 1 == steps)
                .count() as u64;
            assert!(points >= steps.min(MIN_SUMMARY_POINTS), "{steps}: {points}");
            assert!(points <= 2 * MIN_SUMMARY_POINTS + 1, "{steps}: {points}");
        }
        let t = train(&["--steps", "60"]);
        assert_eq!(t.summary_interval(), 5);
    }

    #[test]
    fn diagnose_takes_a_run_directory() {
        assert_eq!(
            parse(&["diagnose", "runs/r"]).unwrap(),
            Command::Diagnose(DiagnoseArgs {
                dir: "runs/r".into()
            })
        );
        assert!(parse(&["diagnose"]).is_err());
    }

    #[test]
    fn both_adams_are_offered() {
        assert_eq!(
            train(&["--optimizer", "adam"]).optimizer,
            OptimizerName::Adam
        );
        let keras = train(&["--optimizer", "adam-keras"]).optimizer;
        assert_eq!(keras, OptimizerName::AdamKeras);
    }

    #[test]
    fn export_and_import_take_their_directories() {
        assert_eq!(
            parse(&["export", "--checkpoint", "c", "--out", "o"]).unwrap(),
            Command::Export(ExportArgs {
                checkpoint: "c".into(),
                out: "o".into()
            })
        );
        assert_eq!(
            parse(&["import", "--from", "f", "--out", "o", "--config", "tiny"]).unwrap(),
            Command::Import(ImportArgs {
                from: "f".into(),
                out: "o".into(),
                config: ConfigName::Tiny,
                force: false,
            })
        );
        assert!(parse(&["export", "--out", "o"]).is_err());
        assert!(parse(&["import", "--from", "f"]).is_err());
        // Training flags belong to training only.
        assert!(parse(&["--steps", "3", "export", "--checkpoint", "c", "--out", "o"]).is_err());
    }

    #[test]
    fn help_states_each_default() {
        let help = Args::command().render_long_help().to_string();
        for needle in [
            "[default: full, or the resumed run's]",
            "[default: 1200]",
            "[default: 16]",
            "[default: 0.0001]",
            "[default: constant]",
            "[default: adam]",
            "[default: 0]",
            "[default: all cores]",
            "[default: synthetic frames]",
            "[default: runs]",
            "[default: 100]",
            "[default: --steps / 12, at least 1]",
            "[default: start afresh]",
        ] {
            assert!(help.contains(needle), "help lacks {needle}:\n{help}");
        }
    }
}
