//! [`RunLog`]: everything a training run writes for TensorBoard and for the diagnosis.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use kernels::histogram::Histogram;
use kernels::net::ParamSpec;
use rayon::ThreadPool;

use crate::checkpoint::{has_checkpoint, Checkpoint, OptimizerKind};
use crate::network::{load_params, param_tensors};
use crate::tensorboard::proto::summary::Value;
use crate::tensorboard::summary as values;
use crate::tensorboard::EventWriter;

use super::diagnosis::{
    self, HeldOut, LayerHealth, RunDiagnosis, RunOutcome, TensorDiagnosis, TensorInfo,
};
use super::history::{History, Record};
use super::observer::HistogramObserver;
use super::overview::{self, Drift, Overview};
use super::params::ParamTracker;
use super::plot::{self, Panel};
use super::report::{self, Report};

/// Frames of the batch shown per summary step as `frame_resized/image/<i>`.
pub const MAX_IMAGES: usize = 8;
/// The subdirectory of a run that holds W₀ (a checkpoint of the initial parameters).
pub const INITIAL_DIR: &str = "initial";
/// The subdirectory of a run that holds the diagnosis plots and history.
pub const DIAGNOSIS_DIR: &str = "diagnosis";
/// The diagnosis report, in the run directory.
pub const DIAGNOSIS_FILE: &str = "diagnosis.md";
/// The overview picture at the top of the report, in [`DIAGNOSIS_DIR`].
pub const OVERVIEW_FILE: &str = "overview.png";
/// The per-tensor learning record, in [`DIAGNOSIS_DIR`].
pub const HISTORY_FILE: &str = "history.tsv";

/// Where W₀ comes from for a run starting at `first_step` with parameters `params`: a run at
/// step 0 without `<run>/initial/` saves them there; any other loads it, so `initial/` is written
/// once and never rewritten. Returns W₀ and whether it is the true start of the run (`false`:
/// no `initial/`, drift counts from the resume).
///
/// # Errors
/// I/O and format errors of the `initial/` checkpoint, and a parameter it lacks or holds with
/// another shape than the network's (named, with the directory).
pub fn initial_params(
    run_dir: &Path,
    first_step: u64,
    specs: &[ParamSpec],
    params: &[f32],
    config: &str,
) -> Result<(Vec<f32>, bool)> {
    let dir = run_dir.join(INITIAL_DIR);
    if !has_checkpoint(&dir) {
        if first_step == 0 {
            Checkpoint {
                config: config.to_owned(),
                step: 0,
                optimizer: OptimizerKind::None,
                rng: Vec::new(),
                data_position: 0,
                attrs: Vec::new(),
                params: param_tensors(specs, params)?,
                slots: Vec::new(),
            }
            .save(&dir)?;
        }
        return Ok((params.to_vec(), first_step == 0));
    }
    let ckpt = Checkpoint::load(&dir)?;
    let mut w0 = params.to_vec();
    load_params(&ckpt, specs, &mut w0)
        .with_context(|| format!("reading W₀ from {}", dir.display()))?;
    Ok((w0, true))
}

/// What one summary step logs besides the histograms.
#[derive(Debug, Clone, Copy)]
pub struct StepScalars {
    /// The learning rate of the step.
    pub learning_rate: f32,
    /// Training throughput so far (the one value that depends on the machine).
    pub frames_per_second: f64,
}

/// The event file, the learning tracker and the diagnosis history of one run.
#[derive(Debug)]
pub struct RunLog {
    writer: EventWriter,
    tracker: ParamTracker,
    history: History,
    run_dir: PathBuf,
    every: u64,
    steps: u64,
    /// `[h, w]` of the RGB frames shown as images.
    frame: [usize; 2],
    /// `(step, loss)` of every step of this session, for the run's verdict and overview.
    losses: Vec<(u64, f32)>,
    /// The ReLU layers at the last summary.
    relu: Vec<LayerHealth>,
}

/// What [`RunLog::finish`] found: the tensors' diagnoses and the run's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// Per tensor.
    pub tensors: Vec<TensorDiagnosis>,
    /// The run.
    pub run: RunDiagnosis,
}

/// `true` for a W − W₀ histogram that is left out of the summaries: all zero (at step 0), its
/// spike would flatten every later slice of the Histograms tab. A board's ingested log follows
/// the same rule.
pub fn delta_left_out(delta: &Histogram) -> bool {
    delta.min() == Some(0.0) && delta.max() == Some(0.0)
}

/// `relu_zero_fraction/<layer>` and `dead_units/<layer>`: one ReLU layer's health, as a run's
/// summaries and a board's ingested log both write it.
pub fn relu_values(layer: &str, zero_fraction: f64, dead_fraction: f64) -> [Value; 2] {
    [
        values::scalar(&format!("relu_zero_fraction/{layer}"), zero_fraction as f32),
        values::scalar(&format!("dead_units/{layer}"), dead_fraction as f32),
    ]
}

/// `update_ratio/<tag>` and `drift/<tag>`: one parameter tensor's learning scalars, as a run's
/// summaries and a board's ingested log both write them.
pub fn learning_values(tag: &str, update_ratio: f64, drift: f64) -> [Value; 2] {
    [
        values::scalar(&format!("update_ratio/{tag}"), update_ratio as f32),
        values::scalar(&format!("drift/{tag}"), drift as f32),
    ]
}

fn push_histogram(out: &mut Vec<Value>, tag: &str, hist: &Histogram) {
    if let Some(v) = values::histogram(tag, hist) {
        out.push(v);
    }
    // Written only when non-zero: a tag that exists means something went wrong.
    if hist.non_finite() > 0 {
        out.push(values::scalar(
            &format!("non_finite/{tag}"),
            hist.non_finite() as f32,
        ));
    }
}

impl RunLog {
    /// Opens a new event file in `run_dir` and logs `SessionLog START` at `first_step` (every
    /// run, fresh or resumed, so TensorBoard drops what a stopped run logged after its
    /// checkpoint), and the diagnosis history (kept up to `first_step`).
    ///
    /// # Errors
    /// I/O errors creating the files.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        run_dir: &Path,
        first_step: u64,
        every: u64,
        steps: u64,
        specs: &[ParamSpec],
        w0: Vec<f32>,
        frame: [usize; 2],
    ) -> Result<Self> {
        // The history first: a resume that fails on it leaves no new event file behind.
        let path = run_dir.join(DIAGNOSIS_DIR).join(HISTORY_FILE);
        let history =
            History::open(&path, first_step).with_context(|| format!("{}", path.display()))?;
        let mut writer = EventWriter::create(run_dir)
            .with_context(|| format!("creating an event file in {}", run_dir.display()))?;
        if let Err(e) = writer
            .session_start(first_step)
            .and_then(|()| writer.flush())
        {
            let path = writer.path().to_owned();
            drop(writer);
            // Best effort: a file holding only its version record is no use to anyone.
            let _ = std::fs::remove_file(&path);
            return Err(e).with_context(|| format!("{}", path.display()));
        }
        Ok(Self {
            writer,
            tracker: ParamTracker::new(specs, w0),
            history,
            run_dir: run_dir.to_owned(),
            every: every.max(1),
            steps,
            frame,
            losses: Vec::new(),
            relu: Vec::new(),
        })
    }

    /// The event file.
    pub fn event_file(&self) -> &Path {
        self.writer.path()
    }

    /// `true` on summary steps: every `every`-th step (0-based) and the last.
    pub fn is_summary_step(&self, step: u64) -> bool {
        step.is_multiple_of(self.every) || step + 1 == self.steps
    }

    /// Logs `loss/loss` (every step; reaches the file at the next flush).
    ///
    /// # Errors
    /// The writer's error, naming the event file.
    pub fn loss(&mut self, step: u64, loss: f32) -> Result<()> {
        self.losses.push((step, loss));
        let r = self.writer.scalar(step, "loss/loss", loss);
        self.named(r)
    }

    /// Writes everything logged so far to disk. Called before each checkpoint, so a run resumed
    /// from it finds every earlier step's loss in the file.
    ///
    /// # Errors
    /// The writer's error, naming the event file.
    pub fn flush(&mut self) -> Result<()> {
        let r = self.writer.flush();
        self.named(r)
    }

    /// `r` with the event file's name on its error.
    fn named<T>(&self, r: std::io::Result<T>) -> Result<T> {
        r.with_context(|| format!("{}", self.writer.path().display()))
    }

    /// Remembers the parameters before the optimiser step of a summary step.
    pub fn capture_before(&mut self, params: &[f32]) {
        self.tracker.capture_before(params);
    }

    /// Logs summary step `step`: the activations `obs` saw, W and W − W₀ of the parameters
    /// captured by [`capture_before`](Self::capture_before), update ratios (from `after`, the
    /// parameters after the step's update), drift, ReLU zeros and dead units, the first frames of
    /// `frames` (`h·w·3` RGB bytes each), the scalars; then flushes the file. W − W₀ is left out while it is all zero (at
    /// step 0): its spike would flatten every later slice of the Histograms tab, and W₀ is in
    /// `<run>/initial/`.
    ///
    /// # Errors
    /// Writer and history I/O errors.
    pub fn summary(
        &mut self,
        pool: &ThreadPool,
        step: u64,
        obs: &HistogramObserver<'_>,
        after: &[f32],
        frames: &[u8],
        scalars: StepScalars,
    ) -> Result<()> {
        let mut out = vec![
            values::scalar("train/learning_rate", scalars.learning_rate),
            values::scalar("train/frames_per_second", scalars.frames_per_second as f32),
        ];
        let mut relu = Vec::new();
        for (probe, stats) in obs.iter() {
            push_histogram(&mut out, probe.tag(), &stats.hist);
            if let Some(layer) = stats.relu_layer {
                let health = LayerHealth {
                    layer,
                    zero_fraction: stats.zero_fraction(),
                    dead_fraction: stats.dead_fraction(),
                };
                out.extend(relu_values(
                    layer,
                    health.zero_fraction,
                    health.dead_fraction,
                ));
                relu.push(health);
            }
        }
        let stats = self.tracker.measure(pool, after);
        let mut records = Vec::with_capacity(stats.len());
        for s in &stats {
            push_histogram(&mut out, s.tag, &s.hist);
            if !delta_left_out(&s.delta_hist) {
                push_histogram(
                    &mut out,
                    &format!("{}/delta_from_init", s.tag),
                    &s.delta_hist,
                );
            }
            out.extend(learning_values(s.tag, s.update_ratio, s.drift));
            records.push(Record {
                step,
                tag: s.tag.to_owned(),
                drift: s.drift,
                update_ratio: s.update_ratio,
                rms_move: s.rms_move,
                w: s.percentiles(),
                delta: s.delta_percentiles(),
            });
        }
        // TF1's ImageSummary names images `<tag>/image/<i>` when max_outputs > 1.
        let [h, w] = self.frame;
        let frame_len = h * w * 3;
        if frame_len > 0 {
            for (i, frame) in frames.chunks_exact(frame_len).take(MAX_IMAGES).enumerate() {
                out.push(values::image(
                    &format!("frame_resized/image/{i}"),
                    w as u32,
                    h as u32,
                    frame,
                )?);
            }
        }
        let r = self.writer.summary(step, out);
        self.named(r)?;
        self.flush()?;
        self.history
            .append(records)
            .with_context(|| format!("{}", self.history.path().display()))?;
        self.relu = relu;
        Ok(())
    }

    /// Logs the held-out results (if any) at `step` (the step count of the finished run),
    /// flushes, and writes `diagnosis.md` with the overview picture and one band plot per
    /// tensor. `diverged_at` is the first step whose loss or parameters were not finite, if any.
    ///
    /// # Errors
    /// Writer, plot and report I/O errors, naming the file.
    pub fn finish(
        &mut self,
        step: u64,
        diverged_at: Option<u64>,
        held_out: Option<HeldOut>,
    ) -> Result<Finished> {
        if let Some(h) = held_out {
            let r = self.writer.summary(
                step,
                vec![
                    values::scalar("eval/held_out_error", h.error as f32),
                    values::scalar("eval/constant_error", h.constant_error as f32),
                    values::scalar("eval/mean_confidence", h.mean_confidence as f32),
                ],
            );
            self.named(r)?;
        }
        self.flush()?;
        let tensors = self.tracker.tensor_infos();
        let outcome = RunOutcome {
            diverged_at,
            loss: std::mem::take(&mut self.losses),
            held_out,
        };
        write_report(
            &self.run_dir,
            &tensors,
            self.history.records(),
            &outcome,
            &self.relu,
        )
    }
}

/// Diagnoses `tensors` from `records`, `outcome` and `relu`, and writes `diagnosis.md`, one band
/// plot per tensor and the overview into `run_dir` (what the end of a run and
/// `host-sim diagnose` share).
///
/// # Errors
/// Plot and report I/O errors.
pub fn write_report(
    run_dir: &Path,
    tensors: &[TensorInfo],
    records: &[Record],
    outcome: &RunOutcome,
    relu: &[LayerHealth],
) -> Result<Finished> {
    let diags = diagnosis::diagnose(tensors, records);
    let run = diagnosis::diagnose_run(outcome);
    let dir = run_dir.join(DIAGNOSIS_DIR);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut plots = Vec::new();
    let mut drift = Vec::new();
    for t in tensors {
        let mine: Vec<&Record> = records.iter().filter(|r| r.tag == t.tag).collect();
        if mine.is_empty() {
            continue;
        }
        let steps: Vec<u64> = mine.iter().map(|r| r.step).collect();
        let w: Vec<[f64; 9]> = mine.iter().map(|r| r.w).collect();
        let d: Vec<[f64; 9]> = mine.iter().map(|r| r.delta).collect();
        let title_w = format!("{}: W (the Distributions chart)", t.tag);
        let title_d = format!("{}/delta_from_init: W - W0", t.tag);
        // A tag may hold `/` (TensorBoard's groups, `conv1/weights`): one file per tag, flat.
        let file = format!("{}.png", t.tag.replace(['/', '\\'], "_"));
        plot::write_png(
            &dir.join(&file),
            &[
                Panel {
                    title: &title_w,
                    steps: &steps,
                    percentiles: &w,
                },
                Panel {
                    title: &title_d,
                    steps: &steps,
                    percentiles: &d,
                },
            ],
        )
        .with_context(|| format!("writing {}", dir.join(&file).display()))?;
        plots.push((t.tag.to_owned(), format!("{DIAGNOSIS_DIR}/{file}")));
        drift.push(Drift {
            tag: t.tag,
            is_weight: t.is_weight,
            points: mine.iter().map(|r| (r.step, r.drift)).collect(),
        });
    }
    let overview_file = dir.join(OVERVIEW_FILE);
    overview::write_png(
        &overview_file,
        &Overview {
            loss: &outcome.loss,
            held_out: outcome.held_out,
            diverged_at: match run.progress {
                diagnosis::Progress::Diverged(step) => Some(step),
                _ => None,
            },
            drift: &drift,
        },
    )
    .with_context(|| format!("writing {}", overview_file.display()))?;
    let name = run_dir
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let overview_path = format!("{DIAGNOSIS_DIR}/{OVERVIEW_FILE}");
    let md = report::markdown(&Report {
        run: &name,
        tensors: &diags,
        verdict: &run,
        relu,
        overview: Some(&overview_path),
        plots: &plots,
    });
    let md_file = run_dir.join(DIAGNOSIS_FILE);
    std::fs::write(&md_file, md).with_context(|| format!("writing {}", md_file.display()))?;
    Ok(Finished {
        tensors: diags,
        run,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::observer::tests::probe;
    use crate::tensorboard::proto::event::What;
    use crate::tensorboard::proto::summary::value::Kind;
    use crate::tensorboard::proto::Event;
    use crate::tensorboard::read_records;
    use kernels::net::{Observer, ValenceConfig};
    use prost::Message;

    /// Every summary value in the run's event file, as (step, value).
    fn values_in(dir: &Path) -> Vec<(i64, Value)> {
        let file = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().contains("tfevents"))
            .unwrap();
        let (records, cut) = read_records(&file).unwrap();
        assert!(cut.is_none(), "{cut:?}");
        records
            .iter()
            .filter_map(|r| {
                let e = Event::decode(&r[..]).unwrap();
                match e.what {
                    Some(What::Summary(s)) => Some((e.step, s.value)),
                    _ => None,
                }
            })
            .flat_map(|(step, v)| v.into_iter().map(move |v| (step, v)))
            .collect()
    }

    #[test]
    fn a_nan_in_a_probed_tensor_is_counted_in_a_scalar_and_never_written() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("run");
        let specs = ValenceConfig::TINY.params().unwrap();
        let n = specs[15].offset + specs[15].len;
        let w0: Vec<f32> = (0..n).map(|i| (i % 5) as f32 * 0.01).collect();
        let mut log = RunLog::start(&dir, 0, 1, 1, &specs, w0.clone(), [2, 2]).unwrap();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let mut obs = HistogramObserver::new(&pool, &ValenceConfig::TINY.plan().unwrap());
        obs.observe(probe("con1_before_relu"), &[1.0, f32::NAN, -2.0, f32::NAN]);
        // conv1 of TINY has 8 channels: two pixels, channel 0 fires once, 7 channels dead.
        let mut relu = [0.0f32; 16];
        relu[0] = 1.0;
        obs.observe(probe("con1_output_distribution"), &relu);
        log.capture_before(&w0);
        let mut after = w0.clone();
        after[0] += 0.5;
        let frames = vec![7u8; 2 * 2 * 3];
        let scalars = StepScalars {
            learning_rate: 0.1,
            frames_per_second: 1.0,
        };
        log.summary(&pool, 0, &obs, &after, &frames, scalars)
            .unwrap();
        let values = values_in(&dir);
        let find = |tag: &str| {
            values
                .iter()
                .find(|(_, v)| v.tag == tag)
                .unwrap_or_else(|| panic!("no {tag}"))
                .1
                .clone()
        };
        assert_eq!(
            find("non_finite/con1_before_relu").kind,
            Some(Kind::SimpleValue(2.0))
        );
        assert!(!values
            .iter()
            .any(|(_, v)| v.tag == "non_finite/con1_output_distribution"));
        assert_eq!(
            find("relu_zero_fraction/conv1").kind,
            Some(Kind::SimpleValue(15.0 / 16.0))
        );
        assert_eq!(
            find("dead_units/conv1").kind,
            Some(Kind::SimpleValue(7.0 / 8.0))
        );
        // W − W₀ is all zero at step 0: no delta_from_init histogram.
        assert!(!values
            .iter()
            .any(|(_, v)| v.tag.ends_with("/delta_from_init")));
        let Some(Kind::Tensor(t)) = find("con1_before_relu").kind else {
            panic!("not a histogram tensor")
        };
        let rows: Vec<f64> = t
            .tensor_content
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
            .collect();
        assert!(rows.iter().all(|x| x.is_finite()), "{rows:?}");
        let count: f64 = rows.chunks_exact(3).map(|r| r[2]).sum();
        assert_eq!(count, 2.0, "the two finite values only");
        assert_eq!(rows[0], -2.0, "first left edge = min");
        assert_eq!(rows[rows.len() - 2], 1.0, "last right edge = max");
        assert!(values.iter().any(|(_, v)| v.tag == "frame_resized/image/0"));
        // update ratio of weights_conv1: ‖ΔW‖ = 0.5 over ‖W₀‖.
        let w = &w0[..specs[0].len];
        let norm = w.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
        let Some(Kind::SimpleValue(r)) = find("update_ratio/weights_conv1").kind else {
            panic!()
        };
        assert!((f64::from(r) - 0.5 / norm).abs() < 1e-6 * (0.5 / norm));
        let held_out = HeldOut {
            error: 0.5,
            constant_error: 0.6,
            mean_confidence: 0.5,
            classes: None,
        };
        let done = log.finish(1, None, Some(held_out)).unwrap();
        assert_eq!(done.tensors.len(), 16);
        let md = std::fs::read_to_string(dir.join(DIAGNOSIS_FILE)).unwrap();
        assert!(
            md.contains("| conv1 | 93.75 % | 87.50 % | **high** |"),
            "{md}"
        );
        for file in ["weights_conv1.png", "biases_conv1.png", OVERVIEW_FILE] {
            assert!(dir.join(DIAGNOSIS_DIR).join(file).is_file(), "{file}");
        }
    }
}
