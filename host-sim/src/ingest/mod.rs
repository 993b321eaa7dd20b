//! `host-sim ingest`: a board's decoded log into TensorBoard event files, so a board's run opens
//! in the same dashboard as a desktop run: `loss/loss` at every step and, at the summary steps,
//! every parameter tensor's histograms (W and `…/delta_from_init`), learning scalars
//! (`update_ratio/…`, `drift/…`) and the ReLU layers' `relu_zero_fraction/…` and `dead_units/…`,
//! under the tags and steps `host-sim train` uses — a board's equal those of the matching
//! `--exact` run, tensor by tensor. Then the learning report, written by the code that ends
//! `host-sim train` and `host-sim diagnose` ([`write_report`]: `diagnosis.md`, the overview and
//! one band plot per tensor in the run directory).

pub mod parse;

use std::path::PathBuf;

use anyhow::{ensure, Context, Result};
use kernels::histogram::{percentiles, Histogram};
use kernels::net::{ArenaLayout, Net, OptimizerKind, ParamSpec, Plan, ValenceConfig};

use crate::cli::IngestArgs;
use crate::summary::diagnosis::{LayerHealth, RunOutcome};
use crate::summary::history::Record;
use crate::summary::params::ParamTracker;
use crate::summary::report;
use crate::summary::run::{
    delta_left_out, learning_values, relu_values, write_report, Finished, DIAGNOSIS_FILE,
};
use crate::tensorboard::summary as values;
use crate::tensorboard::EventWriter;
pub use parse::{parse, BoardLog};

/// What `ingest` wrote.
#[derive(Debug)]
pub struct IngestReport {
    /// The run directory that holds the event file.
    pub run_dir: PathBuf,
    /// The log, parsed.
    pub log: BoardLog,
    /// The learning report of the board's run: the tensors' diagnoses and the run's verdict.
    pub report: Finished,
}

/// W₀ of a TINY run with `seed`: a pure function of the seed, the same on every target.
fn initial_params(seed: u64) -> Result<Vec<f32>> {
    let cfg = ValenceConfig::TINY;
    let layout = ArenaLayout::training(&cfg, 1, OptimizerKind::Sgd)?;
    let mut arena = vec![0.0f32; layout.arena_len()];
    let mut net = Net::training(&cfg, 1, OptimizerKind::Sgd, &mut arena)?;
    net.init_params(seed)?;
    Ok(net.params().to_vec())
}

/// The diagnosis history of the board's summary steps: percentiles from its histograms, learning
/// scalars from its sums.
fn records(name: &str, log: &BoardLog, specs: &[ParamSpec]) -> Result<Vec<Record>> {
    let hist = |step: u32, tag: &str| {
        log.histograms
            .iter()
            .find(|h| h.step == step && h.tag == tag)
            .with_context(|| format!("{name}: no histogram `{tag}` at step {step}"))
    };
    let mut out = Vec::with_capacity(log.learning.len());
    for (step, tag, sums) in &log.learning {
        let spec = specs
            .iter()
            .find(|s| s.tag == tag)
            .with_context(|| format!("{name}: `{tag}` is not a TINY parameter tensor"))?;
        let (drift, update_ratio, rms_move) = sums.scalars(spec.len);
        out.push(Record {
            step: u64::from(*step),
            tag: tag.clone(),
            drift,
            update_ratio,
            rms_move,
            w: percentiles(&hist(*step, tag)?.hist),
            delta: percentiles(&hist(*step, &format!("{tag}/delta_from_init"))?.hist),
        });
    }
    Ok(out)
}

/// The ReLU layers' health at the board's last summary step, named by `plan`'s layers.
fn last_relu(name: &str, log: &BoardLog, plan: &Plan) -> Result<Vec<LayerHealth>> {
    let Some(last) = log.relu.iter().map(|r| r.step).max() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for r in log.relu.iter().filter(|r| r.step == last) {
        let layer = plan
            .find(&r.layer)
            .with_context(|| format!("{name}: `{}` is not a TINY layer", r.layer))?;
        out.push(LayerHealth {
            layer: layer.layer.name,
            zero_fraction: r.zero_fraction(),
            dead_fraction: r.dead_fraction(),
        });
    }
    Ok(out)
}

/// Reads the decoded log `args.log` and writes its events into a new run directory
/// `<logdir>/<board>-seed<N>` (`-2`, `-3`, … appended when it exists).
///
/// # Errors
/// An unreadable or malformed log (file and line named), an I/O error writing the events.
pub fn ingest(args: &IngestArgs) -> Result<IngestReport> {
    let name = args.log.display().to_string();
    let text = std::fs::read_to_string(&args.log).with_context(|| format!("reading {name}"))?;
    let log = parse(&name, &text)?;
    // The boards train TINY: its W₀ gives the initial spreads the diagnosis measures against,
    // and must be what the board's first histograms show.
    let plan = ValenceConfig::TINY.plan()?;
    let specs = ValenceConfig::TINY.params()?;
    let records = records(&name, &log, &specs)?;
    let relu = last_relu(&name, &log, &plan)?;
    let w0 = initial_params(log.header.seed)?;
    for h in log.histograms.iter().filter(|h| h.step == 0) {
        if let Some(s) = specs.iter().find(|s| s.tag == h.tag) {
            let mut want = Histogram::new();
            want.add_slice(&w0[s.offset..s.offset + s.len]);
            ensure!(
                *h.hist == want,
                "{name}: `{}` at step 0 is not seed {}'s initial TINY weights",
                s.tag,
                log.header.seed
            );
        }
    }
    let tensors = ParamTracker::new(&specs, w0).tensor_infos();
    let base = format!("{}-seed{}", log.board, log.header.seed);
    let mut run_dir = args.logdir.join(&base);
    let mut k = 2;
    while run_dir.exists() {
        run_dir = args.logdir.join(format!("{base}-{k}"));
        k += 1;
    }
    std::fs::create_dir_all(&run_dir).with_context(|| format!("creating {}", run_dir.display()))?;
    let mut writer = EventWriter::create(&run_dir)
        .with_context(|| format!("creating an event file in {}", run_dir.display()))?;
    writer.session_start(0)?;
    for &(step, loss) in &log.losses {
        // The board counts steps from 1 in its loss lines; events count from 0, as host-sim's.
        writer.scalar(u64::from(step.saturating_sub(1)), "loss/loss", loss)?;
    }
    for h in &log.histograms {
        let step = u64::from(h.step);
        // As host-sim's summaries: W − W₀ is left out while it is all zero (at step 0).
        if h.tag.ends_with("/delta_from_init") && delta_left_out(&h.hist) {
            continue;
        }
        writer.histogram(step, &h.tag, &h.hist)?;
        if h.hist.non_finite() > 0 {
            let tag = format!("non_finite/{}", h.tag);
            writer.summary(step, vec![values::scalar(&tag, h.hist.non_finite() as f32)])?;
        }
    }
    for r in &log.relu {
        writer.summary(
            u64::from(r.step),
            relu_values(&r.layer, r.zero_fraction(), r.dead_fraction()).into(),
        )?;
    }
    for r in &records {
        writer.summary(
            r.step,
            learning_values(&r.tag, r.update_ratio, r.drift).into(),
        )?;
    }
    writer.flush()?;
    println!(
        "{}: {} steps, {} parameter histograms from board {} (seed {}, batch {} in micro-batches of {})",
        name,
        log.losses.len(),
        log.histograms.len(),
        log.board,
        log.header.seed,
        log.header.batch,
        log.header.micro_batch
    );
    if let Some(crc) = log.crc32 {
        println!("parameters CRC-32: {crc:08x}");
    }
    println!("TensorBoard event file: {}", writer.path().display());
    println!(
        "watch it with: tensorboard --logdir {}",
        args.logdir.display()
    );
    // host-sim counts a step diverged when its loss is not finite; a board's parameters only
    // go non-finite through such a loss.
    let loss: Vec<(u64, f32)> = log
        .losses
        .iter()
        .map(|&(step, loss)| (u64::from(step.saturating_sub(1)), loss))
        .collect();
    let outcome = RunOutcome {
        diverged_at: loss.iter().find(|(_, l)| !l.is_finite()).map(|&(s, _)| s),
        loss,
        // A board predicts a handful of held-out frames in int8, too few to judge by.
        held_out: None,
    };
    let done = write_report(&run_dir, &tensors, &records, &outcome, &relu)?;
    println!(
        "\nlearning diagnosis:\n{}",
        report::table(&done.tensors, &done.run)
    );
    println!("{}\n", report::answer(&done.tensors, &done.run));
    println!(
        "diagnosis report: {}",
        run_dir.join(DIAGNOSIS_FILE).display()
    );
    Ok(IngestReport {
        run_dir,
        log,
        report: done,
    })
}
