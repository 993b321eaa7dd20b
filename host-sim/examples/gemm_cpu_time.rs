//! The fast GEMM at the FULL network's shapes on one thread, timed in the thread's own CPU time
//! (`/proc/thread-self/schedstat`, nanoseconds on a CPU), so a machine shared with other work
//! still gives its GFLOP/s per busy core: compare them with the core's FMA peak.
//!
//! `cargo run --release -p host-sim --example gemm_cpu_time [-- FILTER]` (Linux only). Each
//! shape runs until it has spent at least a fifth of a second on the CPU, five times; the best
//! of the five is printed. FILTER keeps the shapes whose name contains it.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use host_sim::fast_gemm::FastGemm;
use kernels::rng::Rng;
use kernels::{Gemm, Layout};

/// CPU time the calling thread has run so far.
fn thread_cpu_time() -> Result<Duration> {
    const PATH: &str = "/proc/thread-self/schedstat";
    let text = std::fs::read_to_string(PATH).with_context(|| format!("reading {PATH}"))?;
    let Some(ns) = text.split_whitespace().next().and_then(|f| f.parse().ok()) else {
        bail!("{PATH}: expected the nanoseconds on a CPU first, got {text:?}");
    };
    Ok(Duration::from_nanos(ns))
}

/// Deterministic values in [-1, 1) from the kernels' own PCG32.
fn fill(seed: u64, len: usize) -> Vec<f32> {
    let mut rng = Rng::new(seed, 0);
    (0..len).map(|_| 2.0 * rng.next_f32() - 1.0).collect()
}

fn main() -> Result<()> {
    use Layout::{ColMajor, RowMajor};
    let filter = std::env::args().nth(1).unwrap_or_default();
    // One worker: the tiles run on this thread, so its CPU time is the product's.
    let gemm = FastGemm::new(1).context("starting the GEMM thread")?;
    println!(
        "micro-kernel {:?}, one thread, GFLOP per CPU-second",
        gemm.isa()
    );
    // As benches/gemm.rs: the conv layers at their tile of 1024 output pixels, the dense
    // layers at batch 128 and 16; forward, d_input (B = weightsᵀ), d_weights (A = inputᵀ).
    for (layer, (m, k, n)) in [
        ("conv1", (1024, 75, 128)),
        ("conv2", (1024, 1152, 128)),
        ("conv3", (1024, 1152, 256)),
        ("conv4+conv5", (1024, 2304, 256)),
        ("local1 b128", (128, 1024, 2046)),
        ("local2 b128", (128, 2046, 2046)),
        ("local1 b16", (16, 1024, 2046)),
        ("local2 b16", (16, 2046, 2046)),
    ] {
        for (pass, (m, k, n), la, lb) in [
            ("forward", (m, k, n), RowMajor, RowMajor),
            ("d_input", (m, n, k), RowMajor, ColMajor),
            ("d_weights", (k, m, n), ColMajor, RowMajor),
        ] {
            let name = format!("{layer} {pass}");
            if !name.contains(&filter) {
                continue;
            }
            let (a, b, mut c) = (fill(1, m * k), fill(2, k * n), fill(3, m * n));
            let mut product = || gemm.gemm_acc(m, k, n, &a, la, &b, lb, &mut c);
            product(); // warm-up: scratch grown, operands in cache as in a step
            let mut best = f64::INFINITY;
            for _ in 0..5 {
                let (start, mut calls) = (thread_cpu_time()?, 0u32);
                while thread_cpu_time()? - start < Duration::from_millis(200) {
                    product();
                    calls += 1;
                }
                let secs = (thread_cpu_time()? - start).as_secs_f64() / f64::from(calls);
                best = best.min(secs);
            }
            let gflops = 2.0 * (m * k * n) as f64 / best / 1e9;
            println!("{name:22} {m:5} x {k:5} x {n:5}  {gflops:6.1}");
        }
    }
    Ok(())
}
