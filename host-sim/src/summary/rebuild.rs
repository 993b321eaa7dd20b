//! `host-sim diagnose DIR`: the learning report rebuilt from what a run directory keeps — its
//! event files and its `initial/` checkpoint (W₀) — so an older run, or one ingested from a
//! board, gets the same report as a run that just finished.
//!
//! What the event files give back: the nine Distributions percentiles of every W and W − W₀
//! histogram (from the histogram rows, as TensorBoard computes them), the `drift/*`,
//! `update_ratio/*`, `loss/loss`, `eval/*`, `relu_zero_fraction/*` and `dead_units/*` scalars
//! (as f32). The RMS move ‖W − W₀‖/√n is `drift · ‖W₀‖/√n`; for a tensor that starts at zero
//! (drift measured against ‖W‖) ‖W‖ comes from the histogram's bucket centres, an estimate
//! within the buckets' 10 % width. A `SessionLog START` at step s drops what was logged at s or
//! later before it, as TensorBoard's loaders do.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use kernels::histogram::percentiles_of_rows;
use kernels::net::Activation;
use prost::Message;

use crate::checkpoint::{has_checkpoint, Checkpoint};
use crate::network::checkpoint_params;
use crate::tensorboard::proto::event::What;
use crate::tensorboard::proto::session_log::SessionStatus;
use crate::tensorboard::proto::summary::value::Kind;
use crate::tensorboard::proto::Event;
use crate::tensorboard::read_records;

use super::diagnosis::{HeldOut, LayerHealth, RunOutcome};
use super::history::Record;
use super::params::{norm_of, ParamTracker};
use super::run::{write_report, Finished, INITIAL_DIR};

/// A histogram at one step: its nine percentiles and its values' root sum of squares
/// estimated from the bucket centres.
#[derive(Debug, Clone, Copy)]
struct Slice {
    percentiles: [f64; 9],
    norm: f64,
}

/// Every scalar and histogram of a run's event files, by tag and step.
#[derive(Debug, Default)]
struct Logged {
    scalars: BTreeMap<String, BTreeMap<u64, f32>>,
    histograms: BTreeMap<String, BTreeMap<u64, Slice>>,
}

impl Logged {
    /// Drops everything at `step` or later (a `SessionLog START` at `step`).
    fn purge_from(&mut self, step: u64) {
        for series in self.scalars.values_mut() {
            series.retain(|&s, _| s < step);
        }
        for series in self.histograms.values_mut() {
            series.retain(|&s, _| s < step);
        }
    }

    fn scalar(&self, tag: &str, step: u64) -> Option<f64> {
        self.scalars.get(tag)?.get(&step).map(|&v| f64::from(v))
    }

    fn last_scalar(&self, tag: &str) -> Option<f64> {
        self.scalars
            .get(tag)?
            .values()
            .next_back()
            .map(|&v| f64::from(v))
    }

    /// Adds one event file's events, in file order.
    fn read(&mut self, file: &Path) -> Result<()> {
        let (records, _cut) =
            read_records(file).with_context(|| format!("reading {}", file.display()))?;
        for (i, bytes) in records.iter().enumerate() {
            let event = Event::decode(&bytes[..])
                .with_context(|| format!("{}: record {i} is not an Event", file.display()))?;
            let step = u64::try_from(event.step).unwrap_or(0);
            match event.what {
                Some(What::SessionLog(log)) if log.status == SessionStatus::Start as i32 => {
                    self.purge_from(step);
                }
                Some(What::Summary(summary)) => {
                    for value in summary.value {
                        match value.kind {
                            Some(Kind::SimpleValue(v)) => {
                                self.scalars.entry(value.tag).or_default().insert(step, v);
                            }
                            Some(Kind::Tensor(t)) if t.tensor_content.len() % 24 == 0 => {
                                let rows: Vec<[f64; 3]> = t
                                    .tensor_content
                                    .chunks_exact(24)
                                    .map(|r| {
                                        core::array::from_fn(|k| {
                                            let b = &r[8 * k..8 * k + 8];
                                            f64::from_le_bytes(b.try_into().expect("8 bytes"))
                                        })
                                    })
                                    .collect();
                                let percentiles = percentiles_of_rows(&rows).map_err(|e| {
                                    anyhow::anyhow!(
                                        "{}: histogram `{}` at step {step}: {e}",
                                        file.display(),
                                        value.tag
                                    )
                                })?;
                                let norm = rows
                                    .iter()
                                    .map(|r| r[2] * (0.5 * (r[0] + r[1])).powi(2))
                                    .sum::<f64>()
                                    .sqrt();
                                self.histograms
                                    .entry(value.tag)
                                    .or_default()
                                    .insert(step, Slice { percentiles, norm });
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// The event files of `dir`, in name order (the order loaders read them in).
fn event_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading the run directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.to_string_lossy().contains("tfevents"))
        .collect();
    files.sort();
    Ok(files)
}

/// Rebuilds `diagnosis.md` and its pictures in `run_dir` from its event files and its
/// `initial/` checkpoint.
///
/// # Errors
/// A directory without event files or without `initial/`, an unknown network, a damaged event
/// or checkpoint, and I/O errors — each naming the file.
pub fn rebuild(run_dir: &Path) -> Result<Finished> {
    if !run_dir.is_dir() {
        bail!("{} is not a run directory", run_dir.display());
    }
    let initial = run_dir.join(INITIAL_DIR);
    if !has_checkpoint(&initial) {
        bail!(
            "{} has no initial/ checkpoint (W₀, written by every fresh run)",
            run_dir.display()
        );
    }
    let (name, w0) = checkpoint_params(&Checkpoint::load(&initial)?)
        .with_context(|| format!("reading W₀ from {}", initial.display()))?;
    let cfg = name.network();
    let specs = cfg.params()?;

    let files = event_files(run_dir)?;
    if files.is_empty() {
        bail!("{} has no TensorBoard event files", run_dir.display());
    }
    let mut logged = Logged::default();
    for f in &files {
        logged.read(f)?;
    }

    let tensors = ParamTracker::new(&specs, w0.clone()).tensor_infos();
    let mut records = Vec::new();
    for s in &specs {
        let n = s.len.max(1) as f64;
        let w0_norm = norm_of(&w0[s.offset..s.offset + s.len]);
        let Some(series) = logged.histograms.get(s.tag) else {
            continue;
        };
        let delta_tag = format!("{}/delta_from_init", s.tag);
        let deltas = logged.histograms.get(&delta_tag);
        for (&step, slice) in series {
            let drift = logged
                .scalar(&format!("drift/{}", s.tag), step)
                .unwrap_or(f64::NAN);
            // drift is ‖W − W₀‖ over ‖W₀‖, or over ‖W‖ for a tensor that starts at zero.
            let reference = if w0_norm > 0.0 { w0_norm } else { slice.norm };
            records.push(Record {
                step,
                tag: s.tag.to_owned(),
                drift,
                update_ratio: logged
                    .scalar(&format!("update_ratio/{}", s.tag), step)
                    .unwrap_or(f64::NAN),
                rms_move: drift * reference / n.sqrt(),
                w: slice.percentiles,
                // Not logged while W − W₀ is all zero (step 0).
                delta: deltas
                    .and_then(|d| d.get(&step))
                    .map_or([0.0; 9], |d| d.percentiles),
            });
        }
    }

    let held_out = match (
        logged.last_scalar("eval/held_out_error"),
        logged.last_scalar("eval/constant_error"),
    ) {
        (Some(error), Some(constant_error)) => Some(HeldOut {
            error,
            constant_error,
            // Runs before the scalar existed: no lines in the overview (see `overview`).
            mean_confidence: logged
                .last_scalar("eval/mean_confidence")
                .unwrap_or(f64::NAN),
            classes: crate::train::data::classes_of(&cfg),
        }),
        _ => None,
    };
    let loss = logged
        .scalars
        .get("loss/loss")
        .map(|s| s.iter().map(|(&step, &l)| (step, l)).collect())
        .unwrap_or_default();
    // The ReLU layers whose health scalars a run logs: the table's.
    let relu: Vec<LayerHealth> = cfg
        .layers
        .iter()
        .filter(|l| l.activation == Activation::Relu)
        .filter_map(|l| {
            let layer = l.name;
            Some(LayerHealth {
                layer,
                zero_fraction: logged.last_scalar(&format!("relu_zero_fraction/{layer}"))?,
                dead_fraction: logged.last_scalar(&format!("dead_units/{layer}"))?,
            })
        })
        .collect();
    // A diverged run logged its non-finite loss: the verdict finds the step in the series.
    let outcome = RunOutcome {
        diverged_at: None,
        loss,
        held_out,
    };
    write_report(run_dir, &tensors, &records, &outcome, &relu)
}
