//! The FULL network's max-pools at batch 128, forward and backward, the host's own pool
//! (`FastGemm`'s `pool_forward` / `pool_backward`) against the kernels' loops spread over the
//! same threads (`map_rows`, as the training loop runs them without the host's pool), in wall
//! time. The two alternate call by call, so a machine shared with other work slows both alike;
//! the minimum and the median of each are printed.
//!
//! `cargo run --release -p host-sim --example pool_time [-- THREADS [CALLS]]` (default 2
//! threads, 60 calls of each).

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use host_sim::fast_gemm::FastGemm;
use kernels::net::ValenceConfig;
use kernels::pool::{max_pool_backward_f32, max_pool_f32};
use kernels::rng::Rng;
use kernels::{Exec, LayerAlgorithms};

/// The FULL network's batch in the TensorFlow comparison.
const BATCH: usize = 128;

/// `f`'s wall time.
fn timed(f: impl FnOnce()) -> Duration {
    let started = Instant::now();
    f();
    started.elapsed()
}

/// `min … median` of `times`, in ms.
fn summary(mut times: Vec<Duration>) -> String {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    format!(
        "{:.2} ms min, {:.2} ms median",
        ms(times[0]),
        ms(times[times.len() / 2])
    )
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let threads: usize = args
        .next()
        .map_or(Ok(2), |a| a.parse())
        .context("THREADS")?;
    let calls: usize = args.next().map_or(Ok(60), |a| a.parse()).context("CALLS")?;
    let own = FastGemm::new(threads)?;
    let loops = FastGemm::new(threads)?.without_own_layers();
    let plan = ValenceConfig::FULL.plan()?;
    for name in ["pool1", "pool2", "pool3"] {
        let g = plan.pool(name).context("FULL has this pool")?;
        let (i, o) = (g.input_len(), g.output_len());
        let mut rng = Rng::new(1, 0);
        // ReLU outputs: about half exactly zero, so windows tie as in training.
        let x: Vec<f32> = (0..BATCH * i)
            .map(|_| (2.0 * rng.next_f32() - 1.0).max(0.0))
            .collect();
        let dy: Vec<f32> = (0..BATCH * o).map(|_| 2.0 * rng.next_f32() - 1.0).collect();
        let (mut y, mut dx) = (vec![0.0; BATCH * o], vec![0.0; BATCH * i]);
        let mut t: [Vec<Duration>; 4] = Default::default();
        for _ in 0..calls {
            t[0].push(timed(|| assert!(own.pool_forward(&g, BATCH, &x, &mut y))));
            let f = |r, x: &[f32], y: &mut [f32]| max_pool_f32(&g, r, x, y);
            t[1].push(timed(|| {
                loops.map_rows(BATCH, (&x, i), (&mut y, o), &f).unwrap()
            }));
            t[2].push(timed(|| {
                assert!(own.pool_backward(&g, BATCH, &x, &dy, &mut dx))
            }));
            let f =
                |r, x: &[f32], dy: &[f32], dx: &mut [f32]| max_pool_backward_f32(&g, r, x, dy, dx);
            t[3].push(timed(|| {
                loops
                    .map_rows2(BATCH, (&x, i), (&dy, o), (&mut dx, i), &f)
                    .unwrap()
            }));
        }
        let [fwd, fwd_loops, bwd, bwd_loops] = t;
        println!("{name} forward,  host pool: {}", summary(fwd));
        println!("{name} forward,  kernels:   {}", summary(fwd_loops));
        println!("{name} backward, host pool: {}", summary(bwd));
        println!("{name} backward, kernels:   {}", summary(bwd_loops));
    }
    Ok(())
}
