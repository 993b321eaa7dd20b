//! `host-sim quantize` and `host-sim eval`: a checkpoint's f32 network to an int8 model file
//! (`kernels::quant::net`), and the two networks side by side on the held-out frames.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{ensure, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use kernels::net::{ArenaLayout, Inputs, LayerGeometry, Net, Network};
use kernels::quant::net::{
    model_len, quantize_model, QuantLayout, QuantModel, QuantNet, RangeObserver,
};
use kernels::quant::QuantizedMultiplier;
use rayon::prelude::*;

use crate::checkpoint::Checkpoint;
use crate::cli::{EvalArgs, QuantizeArgs, DEFAULT_HOLDOUT};
use crate::fast_gemm::FastGemm;
use crate::network::checkpoint_params;
use crate::train::data::{classes_of, Batch, Source};
use crate::train::eval as metrics;
use crate::workers::{pool, threads_or_all_cores};

/// Frames per forward call of both networks.
const CHUNK: usize = 64;

/// The valence range `[-1, 1]`: eval reports differences in percent of it.
const VALENCE_RANGE: f64 = 2.0;

/// What `quantize` wrote.
#[derive(Debug, Clone)]
pub struct QuantizeReport {
    /// The model file.
    pub path: PathBuf,
    /// Its length in bytes.
    pub bytes: usize,
    /// Its CRC-32 (the file's trailer).
    pub crc32: u32,
}

/// What `eval` measured on the held-out frames.
#[derive(Debug, Clone)]
pub struct EvalReport {
    /// Number of held-out frames.
    pub frames: usize,
    /// Confidence-weighted mean absolute error of the f32 network; for a classification
    /// network its error rate, `1 − accuracy`.
    pub f32_error: f64,
    /// The same for the int8 network.
    pub int8_error: f64,
    /// The same for the best constant predictor (the weighted median; the most frequent class).
    pub constant_error: f64,
    /// Mean `|int8 − f32|` over the frames' predictions (every logit of a classifier).
    pub mean_abs_delta: f64,
    /// Largest `|int8 − f32|`.
    pub max_abs_delta: f64,
    /// A classification network's share of examples where int8 and f32 pick the same class
    /// (NaN for regression).
    pub agreement: f64,
}

impl EvalReport {
    /// `int8_error − f32_error` in percent of the valence range.
    pub fn difference_percent(&self) -> f64 {
        (self.int8_error - self.f32_error) / VALENCE_RANGE * 100.0
    }
}

/// A checkpoint's network and where its frames came from.
struct Loaded {
    cfg: Network,
    name: &'static str,
    params: Vec<f32>,
    seed: u64,
    data: Option<PathBuf>,
    /// The run's held-out fraction of `data` (the default for checkpoints that predate it).
    holdout: f64,
    val_data: Option<PathBuf>,
}

fn load(dir: &Path) -> Result<Loaded> {
    let ckpt = Checkpoint::load(dir)?;
    let (name, params) = checkpoint_params(&ckpt)?;
    let cfg = name.network();
    let attr = |k: &str| {
        ckpt.attrs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let seed = attr("seed").and_then(|s| s.parse().ok()).unwrap_or(0);
    let data = attr("data").filter(|d| d != "synthetic").map(PathBuf::from);
    let holdout = attr("holdout")
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_HOLDOUT);
    Ok(Loaded {
        cfg,
        name: name.as_str(),
        params,
        seed,
        data,
        holdout,
        val_data: attr("val-data").filter(|v| v != "none").map(PathBuf::from),
    })
}

fn source(
    l: &Loaded,
    data: Option<&PathBuf>,
    seed: Option<u64>,
    pool: &rayon::ThreadPool,
) -> Result<Source> {
    Source::open(
        &l.cfg,
        data.or(l.data.as_ref()).map(PathBuf::as_path),
        l.val_data.as_deref(),
        l.holdout,
        seed.unwrap_or(l.seed),
        pool,
    )
}

/// A progress bar over `frames` calibration frames on a terminal, nothing otherwise.
fn progress(frames: usize) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(frames as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:30} calibrating: frame {pos}/{len}  [{elapsed_precise}, {eta} left]",
        )
        .expect("the template is valid"),
    );
    bar
}

/// Calibrates the activation ranges of the checkpoint's network on `--frames` training frames,
/// quantises it and writes the model file.
///
/// # Errors
/// An unreadable checkpoint or data directory, a parameter that cannot be quantised, or an I/O
/// failure, as a one-line message.
pub fn quantize(args: &QuantizeArgs) -> Result<QuantizeReport> {
    let l = load(&args.checkpoint)?;
    let threads = threads_or_all_cores(args.threads);
    let pool = pool(threads)?;
    let gemm = FastGemm::new(threads).context("starting the GEMM threads")?;
    let src = source(&l, args.data.as_ref(), args.seed, &pool)?;
    // More frames than the data set's training frames would only see them again.
    let frames = match src.train_len() {
        Some(n) if n < args.frames => {
            println!(
                "note: calibrating on all {n} training frames of the data (--frames {} asks for more)",
                args.frames
            );
            n
        }
        _ => args.frames,
    };
    let chunk = CHUNK.min(frames);
    let mut arena = vec![0.0f32; ArenaLayout::inference(&l.cfg, chunk)?.arena_len()];
    let mut net = Net::inference(&l.cfg, chunk, &mut arena)?;
    net.params_mut().copy_from_slice(&l.params);
    let frame_len = l.cfg.frame_len()?;
    let mut ranges = RangeObserver::new();
    let mut batch = Batch::default();
    let bar = progress(frames);
    let mut done = 0;
    // Training batch `step` of `chunk` frames holds frames step·chunk ..: the first `frames`.
    for step in 0.. {
        if done >= frames {
            break;
        }
        pool.install(|| src.fill_train(step, chunk, &mut batch))?;
        let n = chunk.min(frames - done);
        let x = batch.inputs(0..n, frame_len);
        if let Inputs::F32(features) = x {
            ranges.observe_input(features);
        }
        net.forward_inputs(&gemm, x, &mut ranges)?;
        done += n;
        bar.set_position(done as u64);
    }
    bar.finish_and_clear();
    let mut file = vec![0u8; model_len(&l.cfg)?];
    let crc = quantize_model(&l.cfg, &l.params, &ranges, &mut file)
        .with_context(|| format!("quantising {}", args.checkpoint.display()))?;
    std::fs::write(&args.out, &file).with_context(|| format!("writing {}", args.out.display()))?;

    println!(
        "{}: calibrated on {done} training frames; activation ranges:",
        l.name
    );
    let model = QuantModel::parse(&file, &l.cfg)?;
    // Max-pools keep their input's quantisation: every other layer's output is calibrated.
    let calibrated = model.plan().layers().iter().enumerate();
    let calibrated = calibrated.filter(|(_, pl)| !matches!(pl.geometry, LayerGeometry::MaxPool(_)));
    for (i, pl) in calibrated {
        let name = pl.layer.name;
        let (lo, hi) = ranges.range(i + 1);
        let p = model.activation(i + 1);
        println!(
            "  {name:<7} [{lo:>10.4}, {hi:>10.4}]  scale {:.6e}  zero point {}",
            p.scale(),
            p.zero_point()
        );
    }
    println!(
        "wrote {} ({} bytes, {} parameters, CRC-32 {crc:08x})",
        args.out.display(),
        file.len(),
        l.params.len()
    );
    Ok(QuantizeReport {
        path: args.out.clone(),
        bytes: file.len(),
        crc32: crc,
    })
}

/// Runs the checkpoint's f32 network and the int8 model over the held-out frames and prints both
/// weighted errors, their difference in percent of the valence range, how closely the
/// predictions agree, and the constant predictor's error.
///
/// # Errors
/// An unreadable checkpoint, a rejected model file (corrupt, truncated, another version, another
/// network than the checkpoint's), bad data, as a one-line message.
pub fn eval(args: &EvalArgs) -> Result<EvalReport> {
    let l = load(&args.checkpoint)?;
    let bytes =
        std::fs::read(&args.model).with_context(|| format!("reading {}", args.model.display()))?;
    let model = QuantModel::parse(&bytes, &l.cfg).with_context(|| {
        format!(
            "{} is not a usable model of the checkpoint's `{}` network",
            args.model.display(),
            l.name
        )
    })?;
    let threads = threads_or_all_cores(args.threads);
    let pool = pool(threads)?;
    let gemm = FastGemm::new(threads).context("starting the GEMM threads")?;
    let src = source(&l, args.data.as_ref(), args.seed, &pool)?;
    let total = src.held_out_len();
    ensure!(
        total > 0,
        "{} was trained with --holdout 0: there are no held-out frames to evaluate on",
        args.checkpoint.display()
    );
    let frame_len = l.cfg.frame_len()?;

    let mut all = Batch::default();
    let mut b = Batch::default();
    let mut start = 0;
    while start < total {
        let n = CHUNK.min(total - start);
        pool.install(|| src.fill_held_out(start, n, &mut b))?;
        all.extend(&b);
        start += n;
    }
    // Each chunk's example count and inputs.
    let chunks: Vec<(usize, Inputs<'_>)> = (0..total)
        .step_by(CHUNK)
        .map(|s| {
            let r = s..(s + CHUNK).min(total);
            (r.len(), all.inputs(r, frame_len))
        })
        .collect();
    let outputs = l.cfg.plan()?.output_len();

    let mut arena = vec![0.0f32; ArenaLayout::inference(&l.cfg, CHUNK)?.arena_len()];
    let mut net = Net::inference(&l.cfg, CHUNK, &mut arena)?;
    net.params_mut().copy_from_slice(&l.params);
    let mut f32_pred = Vec::with_capacity(total * outputs);
    for &(_, x) in &chunks {
        f32_pred.extend_from_slice(net.forward_inputs(&gemm, x, &mut ())?);
    }

    // One int8 network per chunk, chunks in parallel (integers: the bits do not depend on it).
    let layout = QuantLayout::new(&l.cfg, CHUNK)?;
    let int8_pred: Vec<Vec<f32>> = pool.install(|| {
        chunks
            .par_iter()
            .map(|&(n, x)| -> Result<Vec<f32>> {
                let mut bytes = vec![0i8; layout.bytes_len()];
                let mut words = vec![0i32; layout.words_len()];
                let mut mult = vec![QuantizedMultiplier::ZERO; layout.multipliers_len()];
                let mut q = QuantNet::new(model, CHUNK, &mut bytes, &mut words, &mut mult)?;
                let mut out = vec![0.0f32; n * outputs];
                q.forward_inputs(x, &mut out)?;
                Ok(out)
            })
            .collect::<Result<_>>()
    })?;
    let int8_pred: Vec<f32> = int8_pred.concat();

    let deltas: Vec<f64> = int8_pred
        .iter()
        .zip(&f32_pred)
        .map(|(a, b)| f64::from(a - b).abs())
        .collect();
    if let Some(k) = classes_of(&l.cfg) {
        return Ok(eval_classes(
            &l,
            &all.labels,
            k,
            &f32_pred,
            &int8_pred,
            &deltas,
            &model,
            &layout,
        ));
    }
    let constant = metrics::weighted_median(&all.target, &all.confidence);
    let report = EvalReport {
        frames: total,
        f32_error: metrics::weighted_abs_error(&f32_pred, &all.target, &all.confidence),
        int8_error: metrics::weighted_abs_error(&int8_pred, &all.target, &all.confidence),
        constant_error: metrics::weighted_abs_error(
            &vec![constant; total],
            &all.target,
            &all.confidence,
        ),
        mean_abs_delta: deltas.iter().sum::<f64>() / total as f64,
        max_abs_delta: deltas.iter().copied().fold(0.0, f64::max),
        agreement: f64::NAN,
    };
    println!(
        "valence {} on {} held-out frames ({} int8 model bytes, {} int8 arena bytes per {CHUNK} frames)",
        l.name,
        total,
        bytes.len(),
        layout.total_bytes()
    );
    println!("  f32 weighted error:      {:.4}", report.f32_error);
    println!("  int8 weighted error:     {:.4}", report.int8_error);
    println!(
        "  int8 − f32:              {:+.4}  ({:+.2} % of the valence range; budget 2 %)",
        report.int8_error - report.f32_error,
        report.difference_percent()
    );
    println!(
        "  |int8 − f32| prediction: mean {:.4}, max {:.4}",
        report.mean_abs_delta, report.max_abs_delta
    );
    println!(
        "  constant predictor (weighted median {constant:.3}): {:.4}",
        report.constant_error
    );
    for (i, p) in int8_pred.iter().take(args.show).enumerate() {
        println!("int8 prediction {i} {:08x}", p.to_bits());
    }
    Ok(report)
}

/// `eval`'s report for a classification network of `classes` classes: both accuracies, how
/// often int8 picks f32's class, the chance level and the most frequent class's share.
#[allow(clippy::too_many_arguments)]
fn eval_classes(
    l: &Loaded,
    labels: &[u32],
    classes: usize,
    f32_logits: &[f32],
    int8_logits: &[f32],
    deltas: &[f64],
    model: &QuantModel<'_>,
    layout: &QuantLayout,
) -> EvalReport {
    let total = labels.len();
    let f32_acc = metrics::accuracy(f32_logits, classes, labels);
    let int8_acc = metrics::accuracy(int8_logits, classes, labels);
    // f32's choices as labels: int8's accuracy against them is the agreement.
    let f32_choice: Vec<u32> = f32_logits
        .chunks_exact(classes)
        .map(|l| metrics::argmax(l) as u32)
        .collect();
    let agreement = metrics::accuracy(int8_logits, classes, &f32_choice);
    let majority = metrics::majority_share(labels);
    let report = EvalReport {
        frames: total,
        f32_error: 1.0 - f32_acc,
        int8_error: 1.0 - int8_acc,
        constant_error: 1.0 - majority,
        mean_abs_delta: deltas.iter().sum::<f64>() / deltas.len().max(1) as f64,
        max_abs_delta: deltas.iter().copied().fold(0.0, f64::max),
        agreement,
    };
    println!(
        "{} on {total} held-out examples ({} int8 model bytes, {} int8 arena bytes per {CHUNK} examples)",
        l.name,
        model.bytes().len(),
        layout.total_bytes()
    );
    println!("  f32 accuracy:            {f32_acc:.4}");
    println!("  int8 accuracy:           {int8_acc:.4}");
    println!("  int8 − f32:              {:+.4}", int8_acc - f32_acc);
    println!("  same class as f32:       {agreement:.4}");
    println!(
        "  |int8 − f32| logit:      mean {:.4}, max {:.4}",
        report.mean_abs_delta, report.max_abs_delta
    );
    println!(
        "  chance 1/{classes}:              {:.4}; always the most frequent class: {majority:.4}",
        1.0 / classes as f64
    );
    report
}
