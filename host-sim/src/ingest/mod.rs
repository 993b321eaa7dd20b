//! `host-sim ingest`: a board's decoded log into TensorBoard event files, so a board's run opens
//! in the same dashboard as a desktop run: `loss/loss` at every step and every parameter
//! tensor's histogram at the summary steps, under the tags and steps `host-sim train` uses (a
//! board's histograms equal those of the matching `--exact` run, tensor by tensor).

pub mod parse;

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::cli::IngestArgs;
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
        writer.histogram(step, &h.tag, &h.hist)?;
        if h.hist.non_finite() > 0 {
            let tag = format!("non_finite/{}", h.tag);
            writer.summary(step, vec![values::scalar(&tag, h.hist.non_finite() as f32)])?;
        }
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
    Ok(IngestReport { run_dir, log })
}
