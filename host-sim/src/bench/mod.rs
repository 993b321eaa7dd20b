//! `host-sim bench`: training and inference throughput and peak resident memory.
//!
//! The numbers TensorFlow is compared with (`tools/compare_tensorflow.py`): one batch of
//! synthetic frames is drawn before the clock starts and reused, so the timed part is only the
//! network — forward passes for inference; gradient zeroing, forward, backward and an Adam step
//! for training — with no summaries, checkpoints or evaluation. Inference runs first on its own
//! smaller arena, so the peak resident set read after it is inference's own; the one read after
//! training is the process's peak, which training sets. `--profile` adds [`profile`]'s report.

pub mod profile;

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use kernels::net::{ArenaLayout, Net, Network, OptimizerKind};
use kernels::optim::Adam;
use kernels::{Backend, Portable};

use crate::cli::{BenchArgs, DEFAULT_LR};
use crate::fast_gemm::FastGemm;
use crate::npy;
use crate::train::data::{Batch, Source};

/// What `host-sim bench` measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BenchReport {
    /// Training frames per second (forward, backward and Adam step).
    pub train_fps: f64,
    /// Inference frames per second (forward only).
    pub infer_fps: f64,
    /// Peak resident set after the inference runs, in bytes (`None` without `/proc`).
    pub infer_peak_rss: Option<u64>,
    /// Peak resident set after the training runs, in bytes (`None` without `/proc`).
    pub train_peak_rss: Option<u64>,
}

/// Times `--warmup` untimed then `--steps` timed inference and training steps and prints the
/// figures, one per line, the last lines in the fixed form `tools/compare_tensorflow.py` reads.
///
/// # Errors
/// If the worker threads cannot start or a network cannot be built for the batch.
pub fn bench(args: &BenchArgs) -> Result<BenchReport> {
    let cfg = args.config.network();
    let threads = crate::workers::threads_or_all_cores(args.threads);
    let backend: Box<dyn Backend> = if args.exact {
        Box::new(Portable)
    } else {
        Box::new(FastGemm::new(threads).context("starting the GEMM threads")?)
    };
    let timed = profile::Timed::new(&*backend, &cfg)?;
    let backend: &dyn Backend = if args.profile { &timed } else { &*backend };
    let frame_len = cfg.frame_len()?;
    let mut batch = Batch::default();
    Source::synthetic(&cfg, 0)?.fill_train(0, args.batch, &mut batch)?;
    let x = batch.inputs(0..args.batch, frame_len);
    println!(
        "bench {}: batch {}, {threads} thread(s), {} kernels, {} warm-up + {} timed steps",
        args.config.as_str(),
        args.batch,
        if args.exact { "portable" } else { "fast" },
        args.warmup,
        args.steps
    );

    let infer_fps = {
        let mut arena = vec![0.0f32; ArenaLayout::inference(&cfg, args.batch)?.arena_len()];
        let mut net = Net::inference(&cfg, args.batch, &mut arena)?;
        net.init_params(0)?;
        if let Some(dir) = &args.save {
            let predictions = net.forward_inputs(backend, x, &mut ())?.to_vec();
            save(dir, &net, &batch, &predictions, &cfg)?;
        }
        frames_per_second(args, &timed, || {
            net.forward_inputs(backend, x, &mut ())?;
            Ok(())
        })?
    };
    let infer_profile = timed.tallies();
    let infer_peak_rss = peak_rss();

    let train_fps = {
        let opt = OptimizerKind::Adam;
        let mut arena = vec![0.0f32; ArenaLayout::training(&cfg, args.batch, opt)?.arena_len()];
        let mut net = Net::training(&cfg, args.batch, opt, &mut arena)?;
        net.init_params(0)?;
        let adam = Adam::tf1(DEFAULT_LR);
        let mut t = 0u32;
        frames_per_second(args, &timed, || {
            t += 1;
            net.zero_grads_with(backend);
            let y = batch.targets(0..args.batch, cfg.loss);
            net.train(backend, x, y, args.batch, &mut ())?;
            net.adam_step_with(backend, &adam, t)?;
            Ok(())
        })?
    };
    let train_peak_rss = peak_rss();

    let mib = |b: Option<u64>| b.map_or("unknown".to_owned(), |b| format!("{:.1}", mib(b)));
    println!("inference: {infer_fps:.1} frames/s");
    println!("training: {train_fps:.1} frames/s");
    println!("peak RSS, inference: {} MiB", mib(infer_peak_rss));
    println!("peak RSS, training: {} MiB", mib(train_peak_rss));
    if args.profile {
        let wall = |fps: f64| (args.steps * args.batch) as f64 / fps;
        println!("\nwhere a step's time goes, inference:");
        print!("{}", profile::report(&infer_profile, wall(infer_fps)));
        println!("training:");
        print!("{}", profile::report(&timed.tallies(), wall(train_fps)));
    }
    Ok(BenchReport {
        train_fps,
        infer_fps,
        infer_peak_rss,
        train_peak_rss,
    })
}

/// Writes the network's parameters as `<name>.npy`, the frames as `frames.npy` (`[n, h, w, c]`,
/// byte values as f32) and the predictions as `predictions.npy` (`[n, outputs]`, `[n]` for one
/// output) into `dir`.
fn save(
    dir: &Path,
    net: &Net<'_>,
    batch: &Batch,
    predictions: &[f32],
    cfg: &Network,
) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for s in net.param_specs() {
        let data = &net.params()[s.offset..s.offset + s.len];
        npy::write(&dir.join(format!("{}.npy", s.name)), s.dims(), data)?;
    }
    let frames: Vec<f32> = batch.frames.iter().map(|&b| f32::from(b)).collect();
    let n = batch.len();
    let i = cfg.input;
    npy::write(&dir.join("frames.npy"), &[n, i.h, i.w, i.c], &frames)?;
    let outputs = predictions.len() / n.max(1);
    let shape = if outputs == 1 {
        vec![n]
    } else {
        vec![n, outputs]
    };
    npy::write(&dir.join("predictions.npy"), &shape, predictions)?;
    println!(
        "wrote the initial parameters, frames and predictions to {}",
        dir.display()
    );
    Ok(())
}

/// Runs `step` `--warmup` times untimed, then `--steps` times timed; frames per second. The
/// profile keeps the timed steps only.
fn frames_per_second(
    args: &BenchArgs,
    timed: &profile::Timed<'_>,
    mut step: impl FnMut() -> Result<()>,
) -> Result<f64> {
    for _ in 0..args.warmup {
        step()?;
    }
    timed.reset();
    let started = Instant::now();
    for _ in 0..args.steps {
        step()?;
    }
    let secs = started.elapsed().as_secs_f64();
    Ok((args.steps * args.batch) as f64 / secs)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1 << 20)
}

/// The process's peak resident set (`VmHWM` of `/proc/self/status`) in bytes, where Linux has it.
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_hwm(&status)
}

/// `VmHWM:  1234 kB` → 1234 · 1024.
fn parse_vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let mut words = line["VmHWM:".len()..].split_whitespace();
    let kib: u64 = words.next()?.parse().ok()?;
    (words.next() == Some("kB")).then_some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::ConfigName;

    #[test]
    fn vm_hwm_is_read_in_kibibytes() {
        let status = "Name:\thost-sim\nVmPeak:\t  999 kB\nVmHWM:\t   20480 kB\nVmRSS:\t 100 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(20480 * 1024));
        assert_eq!(parse_vm_hwm("VmRSS:\t 100 kB\n"), None);
        assert_eq!(parse_vm_hwm("VmHWM:\t 100 MB\n"), None);
    }

    #[test]
    fn tiny_bench_reports_positive_figures() {
        let args = BenchArgs {
            config: ConfigName::Tiny,
            batch: 3,
            threads: Some(2),
            warmup: 1,
            steps: 2,
            exact: false,
            save: None,
            profile: true,
        };
        let r = bench(&args).unwrap();
        assert!(r.train_fps > 0.0 && r.infer_fps > 0.0, "{r:?}");
        // The peak only grows. Linux counts a thread's resident pages in batches (it syncs
        // them to the process every 64 page faults), so a later VmHWM reading may come back a
        // few pages lower than an earlier one (seen: 8 KiB, with other tests' threads running
        // in this process); 1 MiB covers that and nothing real.
        if let (Some(i), Some(t)) = (r.infer_peak_rss, r.train_peak_rss) {
            assert!(i > 0 && t + (1 << 20) >= i, "{r:?}");
        }
    }
}
