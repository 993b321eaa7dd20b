//! The FULL network's 3×3 convolutions at batch 128, each pass, with the host's Winograd
//! algorithm and with im2col + the fast GEMM, on one worker thread, timed in the process's CPU
//! time (every thread's `/proc/self/task/*/schedstat`), so a machine shared with other work
//! still gives the work per busy core.
//!
//! `cargo run --release -p host-sim --example conv_cpu_time [-- FILTER]` (Linux only; FILTER
//! keeps the passes whose name, e.g. `conv4 d_input`, contains it). Each pass runs until
//! it has spent at least half a second on the CPU, three times; the best is printed, as
//! effective GFLOP/s (the direct convolution's operation count per CPU-second) and as the
//! Winograd / im2col speed ratio.

use std::time::Duration;

use anyhow::{Context, Result};
use host_sim::fast_gemm::FastGemm;
use kernels::conv2d::{conv2d_backward_filter_f32, conv2d_backward_input_f32, conv2d_f32, Conv2d};
use kernels::rng::Rng;
use kernels::{Hwc, Padding};

/// CPU time every thread of this process has run so far.
fn process_cpu_time() -> Result<Duration> {
    let mut ns = 0u64;
    for task in std::fs::read_dir("/proc/self/task").context("listing /proc/self/task")? {
        let path = task?.path().join("schedstat");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        ns += text
            .split_whitespace()
            .next()
            .and_then(|f| f.parse::<u64>().ok())
            .with_context(|| format!("{}: no nanoseconds in {text:?}", path.display()))?;
    }
    Ok(Duration::from_nanos(ns))
}

/// Deterministic values in [-scale, scale) from the kernels' own PCG32.
fn fill(seed: u64, len: usize, scale: f32) -> Vec<f32> {
    let mut rng = Rng::new(seed, 0);
    (0..len)
        .map(|_| scale * (2.0 * rng.next_f32() - 1.0))
        .collect()
}

/// Best CPU seconds per call of `f` over three rounds of at least half a CPU-second.
fn cpu_seconds_per_call(mut f: impl FnMut()) -> Result<f64> {
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let (start, mut calls) = (process_cpu_time()?, 0u32);
        while process_cpu_time()? - start < Duration::from_millis(500) {
            f();
            calls += 1;
        }
        best = best.min((process_cpu_time()? - start).as_secs_f64() / f64::from(calls));
    }
    Ok(best)
}

fn main() -> Result<()> {
    let only = std::env::args().nth(1).unwrap_or_default();
    let batch = 128;
    let winograd = FastGemm::new(1).context("starting the GEMM thread")?;
    let im2col = FastGemm::new(1)
        .context("starting the GEMM thread")?
        .without_own_layers();
    println!("batch {batch}, one worker thread, effective GFLOP per CPU-second");
    for (name, h, c) in [("conv2", 11, 128), ("conv4", 5, 256)] {
        let g = Conv2d::new(Hwc::new(h, h, c), [3, 3], c, [1, 1], Padding::Same, 1024)?;
        let x = fill(1, batch * g.input_len(), 1.0);
        let f = fill(2, g.filter_len(), 0.03);
        let b = fill(3, c, 0.1);
        let dy = fill(4, batch * g.output_len(), 1.0);
        let mut scratch = vec![0.0; g.scratch_len()];
        let (mut y, mut dx, mut df) = (
            vec![0.0; batch * g.output_len()],
            vec![0.0; batch * g.input_len()],
            vec![0.0; g.filter_len()],
        );
        let flops = 2.0 * (batch * g.output().pixels() * g.patch_len() * c) as f64;
        for pass in ["forward", "d_input", "d_weights"] {
            if !format!("{name} {pass}").contains(&only) {
                continue;
            }
            let mut time = |gemm: &FastGemm| {
                cpu_seconds_per_call(|| {
                    let r = match pass {
                        "forward" => conv2d_f32(&g, gemm, batch, &x, &f, &b, &mut scratch, &mut y),
                        "d_input" => conv2d_backward_input_f32(
                            &g,
                            gemm,
                            batch,
                            &dy,
                            &f,
                            &mut scratch,
                            &mut dx,
                        ),
                        _ => conv2d_backward_filter_f32(
                            &g,
                            gemm,
                            batch,
                            &x,
                            &dy,
                            &mut scratch,
                            &mut df,
                        ),
                    };
                    r.expect("the buffers fit the geometry");
                })
            };
            let (w, i) = (time(&winograd)?, time(&im2col)?);
            println!(
                "{name} {pass:<9}  Winograd {:6.1}  im2col {:6.1}  ratio {:.2}",
                flops / w / 1e9,
                flops / i / 1e9,
                i / w
            );
        }
    }
    Ok(())
}
