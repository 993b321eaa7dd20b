//! Every kernel at the seed's shapes (`ValenceConfig::FULL`, batch 8) and at the TINY shapes,
//! with `kernels::Portable` on one thread; `fast_layers` runs each GEMM-backed FULL layer, forward
//! and backward, through both `Portable` and host-sim's `FastGemm` (one thread), so a
//! regression of either shows; `fast_rows` does the same for the row-independent layers (LRN,
//! max-pool, the latter also through the host's own pool) split over two threads.
//!
//! `cargo bench --bench kernels` (a few minutes; `-- conv2_forward` for one group).
//! `tools/bench_ratio.sh` runs `conv2_forward` and prints the portable conv2 forward's GFLOP/s
//! next to `matrixmultiply::sgemm`'s at the equivalent GEMM shape, and their ratio.
//!
//! Benchmark ids are `group/what/shape`, shape `full` or `tiny`. GEMM-backed kernels report
//! FLOP/s (`2·m·k·n` per call); the others report elements per second.

use std::hint::black_box;
use std::time::Duration;

use criterion::{
    criterion_group, criterion_main, BatchSize, BenchmarkGroup, BenchmarkId, Criterion, Throughput,
};
use host_sim::fast_gemm::FastGemm;
use host_sim::lrn_avx512;
use kernels::activation::{relu_backward_f32, relu_f32};
use kernels::approx::lrn_f32_approx;
use kernels::conv2d::{
    conv2d_backward_filter_f32, conv2d_backward_filter_u8, conv2d_backward_input_f32, conv2d_f32,
    conv2d_u8, Conv2d,
};
use kernels::dense::{dense_backward_input_f32, dense_backward_weights_f32, dense_f32, Dense};
use kernels::histogram::Histogram;
use kernels::lrn::{lrn_backward_f32, lrn_f32, Lrn};
use kernels::net::{
    ArenaLayout, Net, OptimizerKind, Plan, ValenceConfig, LRN_ALPHA, LRN_BETA, LRN_BIAS,
    LRN_DEPTH_RADIUS,
};
use kernels::optim::{
    adam_step_f32, adam_step_f32_with, momentum_step_f32, Adam, BetaPowers, Momentum,
};
use kernels::pool::{max_pool_backward_f32, max_pool_f32, Pool2d};
use kernels::rng::Rng;
use kernels::{Backend, Gemm, Layout, Portable};

/// Examples per call, as the seed trains.
const BATCH: usize = 8;

/// Examples per call of the `fast_rows` max-pool benches: the FULL comparison's batch.
const POOL_BATCH: usize = 128;

/// Values the histogram bench adds (about one FULL activation tensor).
const HISTOGRAM_VALUES: usize = 1 << 20;

type Group<'a> = BenchmarkGroup<'a, criterion::measurement::WallTime>;

/// Deterministic values in [-1, 1) from the kernels' own PCG32: the bench needs no rand crate.
fn fill(seed: u64, len: usize) -> Vec<f32> {
    let mut rng = Rng::new(seed, 0);
    (0..len).map(|_| 2.0 * rng.next_f32() - 1.0).collect()
}

/// Deterministic bytes, as camera frames.
fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = Rng::new(seed, 0);
    (0..len).map(|_| (rng.next_u32() >> 24) as u8).collect()
}

/// The two network sizes, with the label their benchmark ids carry.
fn shapes() -> [(&'static str, ValenceConfig, Plan); 2] {
    let full = ValenceConfig::FULL;
    let tiny = ValenceConfig::TINY;
    [
        ("full", full, full.plan().expect("FULL plan")),
        ("tiny", tiny, tiny.plan().expect("TINY plan")),
    ]
}

/// `2·m·k·n` of a convolution's GEMMs over `BATCH` examples: m output pixels, k patch, n c_out.
fn conv_flops(g: &Conv2d) -> u64 {
    let m = BATCH * g.output().pixels();
    (2 * m * g.patch_len() * g.bias_len()) as u64
}

fn conv2_forward(crit: &mut Criterion) {
    let mut group = crit.benchmark_group("conv2_forward");
    for (label, _, geo) in shapes() {
        let g = geo.conv("conv2").expect("conv2");
        let (m, k, n) = (BATCH * g.output().pixels(), g.patch_len(), g.bias_len());
        group.throughput(Throughput::Elements((2 * m * k * n) as u64));

        let input = fill(1, BATCH * g.input_len());
        let filter = fill(2, g.filter_len());
        let bias = fill(3, g.bias_len());
        let mut scratch = vec![0.0; g.scratch_len()];
        let mut output = vec![0.0; BATCH * g.output_len()];
        group.bench_function(BenchmarkId::new("portable", label), |b| {
            b.iter(|| {
                conv2d_f32(
                    &g,
                    &Portable,
                    BATCH,
                    black_box(&input),
                    black_box(&filter),
                    &bias,
                    &mut scratch,
                    &mut output,
                )
                .unwrap()
            })
        });

        // The same GEMM through `Portable` alone, on all m patches at once: the gap to
        // `portable` is im2col + tiling, the gap to `matrixmultiply` the GEMM kernel itself.
        let a = fill(4, m * k);
        let mut c = fill(5, m * n);
        group.bench_function(BenchmarkId::new("portable_gemm", label), |b| {
            b.iter(|| {
                Portable.gemm_acc(
                    m,
                    k,
                    n,
                    black_box(&a),
                    Layout::RowMajor,
                    black_box(&filter),
                    Layout::RowMajor,
                    &mut c,
                )
            })
        });

        // The equivalent GEMM: all m patches at once (no im2col, no tiling), row-major,
        // C += A·B as `Gemm::gemm_acc` does.
        group.bench_function(BenchmarkId::new("matrixmultiply", label), |b| {
            b.iter(|| {
                // SAFETY: a, filter and c hold m·k, k·n and m·n f32 and the strides describe
                // exactly those dense row-major matrices; c is not aliased.
                unsafe {
                    matrixmultiply::sgemm(
                        m,
                        k,
                        n,
                        1.0,
                        black_box(a.as_ptr()),
                        k as isize,
                        1,
                        black_box(filter.as_ptr()),
                        n as isize,
                        1,
                        1.0,
                        c.as_mut_ptr(),
                        n as isize,
                        1,
                    )
                }
            })
        });
    }
    group.finish();
}

fn conv2_backward(crit: &mut Criterion) {
    let mut group = crit.benchmark_group("conv2_backward");
    for (label, _, geo) in shapes() {
        let g = geo.conv("conv2").expect("conv2");
        group.throughput(Throughput::Elements(conv_flops(&g)));
        let input = fill(1, BATCH * g.input_len());
        let filter = fill(2, g.filter_len());
        let d_output = fill(3, BATCH * g.output_len());
        let mut scratch = vec![0.0; g.scratch_len()];
        let mut d_input = vec![0.0; BATCH * g.input_len()];
        let mut d_filter = vec![0.0; g.filter_len()];
        group.bench_function(BenchmarkId::new("input", label), |b| {
            b.iter(|| {
                conv2d_backward_input_f32(
                    &g,
                    &Portable,
                    BATCH,
                    black_box(&d_output),
                    black_box(&filter),
                    &mut scratch,
                    &mut d_input,
                )
                .unwrap()
            })
        });
        group.bench_function(BenchmarkId::new("filter", label), |b| {
            b.iter(|| {
                conv2d_backward_filter_f32(
                    &g,
                    &Portable,
                    BATCH,
                    black_box(&input),
                    black_box(&d_output),
                    &mut scratch,
                    &mut d_filter,
                )
                .unwrap()
            })
        });
    }
    group.finish();
}

fn conv1_u8(crit: &mut Criterion) {
    let mut group = crit.benchmark_group("conv1_u8");
    for (label, _, geo) in shapes() {
        let g = geo.conv("conv1").expect("conv1");
        group.throughput(Throughput::Elements(conv_flops(&g)));
        let frames = bytes(1, BATCH * g.input_len());
        let filter = fill(2, g.filter_len());
        let bias = fill(3, g.bias_len());
        let d_output = fill(4, BATCH * g.output_len());
        let mut scratch = vec![0.0; g.scratch_len()];
        let mut output = vec![0.0; BATCH * g.output_len()];
        let mut d_filter = vec![0.0; g.filter_len()];
        group.bench_function(BenchmarkId::new("forward", label), |b| {
            b.iter(|| {
                conv2d_u8(
                    &g,
                    &Portable,
                    BATCH,
                    black_box(&frames),
                    black_box(&filter),
                    &bias,
                    &mut scratch,
                    &mut output,
                )
                .unwrap()
            })
        });
        group.bench_function(BenchmarkId::new("backward_filter", label), |b| {
            b.iter(|| {
                conv2d_backward_filter_u8(
                    &g,
                    &Portable,
                    BATCH,
                    black_box(&frames),
                    black_box(&d_output),
                    &mut scratch,
                    &mut d_filter,
                )
                .unwrap()
            })
        });
    }
    group.finish();
}

fn lrn(crit: &mut Criterion) {
    let mut group = crit.benchmark_group("lrn");
    for (label, _, geo) in shapes() {
        // norm1: over conv1's output, the seed's parameters.
        let shape = geo.conv("conv1").expect("conv1").output();
        let g = geo.lrn("norm1").expect("norm1");
        assert_eq!(
            g,
            Lrn::new(shape.c, LRN_DEPTH_RADIUS, LRN_BIAS, LRN_ALPHA, LRN_BETA)
                .expect("the seed's LRN")
        );
        let rows = BATCH * shape.pixels();
        let len = rows * shape.c;
        group.throughput(Throughput::Elements(len as u64));
        // conv1 + ReLU outputs are non-negative and mostly below 1.
        let input: Vec<f32> = fill(1, len).iter().map(|v| v.abs()).collect();
        let d_output = fill(2, len);
        let mut output = vec![0.0; len];
        let mut d_input = vec![0.0; len];
        group.bench_function(BenchmarkId::new("forward", label), |b| {
            b.iter(|| lrn_f32(&g, rows, black_box(&input), &mut output).unwrap())
        });
        group.bench_function(BenchmarkId::new("forward_approx", label), |b| {
            b.iter(|| lrn_f32_approx(&g, rows, black_box(&input), &mut output).unwrap())
        });
        // The host's AVX-512 passes (the kernels' bits), where this CPU has AVX-512F.
        if lrn_avx512::supports(&g) {
            group.bench_function(BenchmarkId::new("forward_avx512", label), |b| {
                b.iter(|| lrn_avx512::forward(&g, black_box(&input), &mut output))
            });
            group.bench_function(BenchmarkId::new("backward_avx512", label), |b| {
                b.iter(|| {
                    let (x, dy) = (black_box(&input), black_box(&d_output));
                    lrn_avx512::backward(&g, x, dy, false, &mut d_input)
                })
            });
        }
        group.bench_function(BenchmarkId::new("backward", label), |b| {
            b.iter(|| {
                lrn_backward_f32(
                    &g,
                    rows,
                    black_box(&input),
                    black_box(&d_output),
                    &mut d_input,
                )
                .unwrap()
            })
        });
    }
    group.finish();
}

fn pool(crit: &mut Criterion) {
    let mut group = crit.benchmark_group("max_pool");
    for (label, _, geo) in shapes() {
        let g: Pool2d = geo.pool("pool1").expect("pool1");
        group.throughput(Throughput::Elements((BATCH * g.input_len()) as u64));
        let input = fill(1, BATCH * g.input_len());
        let d_output = fill(2, BATCH * g.output_len());
        let mut output = vec![0.0; BATCH * g.output_len()];
        let mut d_input = vec![0.0; BATCH * g.input_len()];
        group.bench_function(BenchmarkId::new("forward", label), |b| {
            b.iter(|| max_pool_f32(&g, BATCH, black_box(&input), &mut output).unwrap())
        });
        group.bench_function(BenchmarkId::new("backward", label), |b| {
            b.iter(|| {
                max_pool_backward_f32(
                    &g,
                    BATCH,
                    black_box(&input),
                    black_box(&d_output),
                    &mut d_input,
                )
                .unwrap()
            })
        });
    }
    group.finish();
}

fn dense_layer(group: &mut Group<'_>, id: &str, g: Dense) {
    group.throughput(Throughput::Elements(
        (2 * BATCH * g.inputs() * g.outputs()) as u64,
    ));
    let input = fill(1, BATCH * g.inputs());
    let weights = fill(2, g.weights_len());
    let bias = fill(3, g.bias_len());
    let d_output = fill(4, BATCH * g.outputs());
    let mut output = vec![0.0; BATCH * g.outputs()];
    let mut d_input = vec![0.0; BATCH * g.inputs()];
    let mut d_weights = vec![0.0; g.weights_len()];
    group.bench_function(BenchmarkId::new("forward", id), |b| {
        b.iter(|| {
            dense_f32(
                &g,
                &Portable,
                BATCH,
                black_box(&input),
                black_box(&weights),
                &bias,
                &mut output,
            )
            .unwrap()
        })
    });
    group.bench_function(BenchmarkId::new("backward_input", id), |b| {
        b.iter(|| {
            dense_backward_input_f32(
                &g,
                &Portable,
                BATCH,
                black_box(&d_output),
                black_box(&weights),
                &mut d_input,
            )
            .unwrap()
        })
    });
    group.bench_function(BenchmarkId::new("backward_weights", id), |b| {
        b.iter(|| {
            dense_backward_weights_f32(
                &g,
                &Portable,
                BATCH,
                black_box(&input),
                black_box(&d_output),
                &mut d_weights,
            )
            .unwrap()
        })
    });
}

fn dense(crit: &mut Criterion) {
    let mut group = crit.benchmark_group("dense");
    for (label, _, geo) in shapes() {
        dense_layer(
            &mut group,
            &format!("{label}_local1"),
            geo.dense("local1").expect("local1"),
        );
        dense_layer(
            &mut group,
            &format!("{label}_local2"),
            geo.dense("local2").expect("local2"),
        );
    }
    group.finish();
}

fn relu(crit: &mut Criterion) {
    let mut group = crit.benchmark_group("relu");
    for (label, _, geo) in shapes() {
        let len = BATCH * geo.conv("conv1").expect("conv1").output_len();
        group.throughput(Throughput::Elements(len as u64));
        // Half the values negative, in random places: after one in-place pass none would be,
        // so each iteration gets a fresh copy (the copy is not timed).
        let pre = fill(1, len);
        let output: Vec<f32> = pre.iter().map(|v| v.max(0.0)).collect();
        let d_output = fill(2, len);
        group.bench_function(BenchmarkId::new("forward", label), |b| {
            b.iter_batched_ref(
                || pre.clone(),
                |x| relu_f32(black_box(x)),
                BatchSize::LargeInput,
            )
        });
        group.bench_function(BenchmarkId::new("backward", label), |b| {
            b.iter_batched_ref(
                || d_output.clone(),
                |d| relu_backward_f32(black_box(&output), d).unwrap(),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

/// The optimisers on one thread; `adam_fast` is Adam spread over `FastGemm`'s two threads
/// (`Exec::map_lanes`: the same bits; TINY's 7.6 k parameters stay in one call).
fn optim(crit: &mut Criterion) {
    let mut group = crit.benchmark_group("optim");
    let two = FastGemm::new(2).expect("two worker threads start");
    for (label, cfg, _) in shapes() {
        // Every parameter of the network: 7.9 M for FULL.
        let len = cfg.param_len().expect("parameter count");
        group.throughput(Throughput::Elements(len as u64));
        let mut params = fill(1, len);
        let grads: Vec<f32> = fill(2, len).iter().map(|v| v * 1e-3).collect();
        let mut m = vec![0.0; len];
        let mut v = vec![0.0; len];
        let adam = Adam::tf1(1e-4);
        let mut powers = BetaPowers::new(&adam);
        group.bench_function(BenchmarkId::new("adam", label), |b| {
            b.iter(|| {
                adam_step_f32(
                    &adam,
                    &mut powers,
                    &mut params,
                    black_box(&grads),
                    &mut m,
                    &mut v,
                )
                .unwrap()
            })
        });
        group.bench_function(BenchmarkId::new("adam_fast", label), |b| {
            b.iter(|| {
                let (p, g) = (&mut params, black_box(&grads));
                adam_step_f32_with(&two, &adam, &mut powers, p, g, &mut m, &mut v).unwrap()
            })
        });
        let momentum = Momentum {
            lr: 1e-4,
            momentum: 0.9,
            nesterov: false,
            weight_decay: 0.0,
        };
        group.bench_function(BenchmarkId::new("momentum", label), |b| {
            b.iter(|| momentum_step_f32(&momentum, &mut params, black_box(&grads), &mut m).unwrap())
        });
    }
    group.finish();
}

fn histogram(crit: &mut Criterion) {
    let mut group = crit.benchmark_group("histogram");
    group.throughput(Throughput::Elements(HISTOGRAM_VALUES as u64));
    // Activations span decades: scale [-1, 1) values by 10^(-3..3).
    let values: Vec<f32> = fill(1, HISTOGRAM_VALUES)
        .iter()
        .zip(fill(2, HISTOGRAM_VALUES))
        .map(|(v, e)| v * 10f32.powf(3.0 * e))
        .collect();
    let mut hist = Histogram::new();
    group.bench_function("add_slice/1M", |b| {
        b.iter(|| {
            hist.clear();
            hist.add_slice(black_box(&values));
        })
    });
    group.finish();
}

fn net(crit: &mut Criterion) {
    let mut group = crit.benchmark_group("net");
    let cfg = ValenceConfig::TINY;
    let layout = ArenaLayout::training(&cfg, BATCH, OptimizerKind::Adam).expect("TINY layout");
    let mut arena = vec![0.0f32; layout.arena_len()];
    let mut net = Net::training(&cfg, BATCH, OptimizerKind::Adam, &mut arena).expect("TINY net");
    net.init_params(1).unwrap();
    let frames = bytes(1, BATCH * cfg.frame_len().unwrap());
    let target: Vec<f32> = fill(2, BATCH).iter().map(|v| v.abs()).collect();
    let confidence = vec![1.0f32; BATCH];
    let adam = Adam::tf1(1e-4);
    let mut step = 0u32;
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("train_step_adam/tiny", |b| {
        b.iter(|| {
            step = step.wrapping_add(1).max(1);
            net.zero_grads();
            let loss = net
                .train_step(
                    &Portable,
                    black_box(&frames),
                    &target,
                    &confidence,
                    BATCH,
                    &mut (),
                )
                .unwrap();
            net.adam_step(&adam, step).unwrap();
            loss
        })
    });
    group.finish();
}

/// The portable path and its fast host twin (`FastGemm`, one thread, the best micro-kernel).
fn backends() -> [(&'static str, Box<dyn Backend>); 3] {
    let fast = FastGemm::new(1).expect("one worker thread starts");
    let loops = FastGemm::new(1)
        .expect("one worker thread starts")
        .without_own_layers();
    [
        ("portable", Box::new(Portable)),
        ("fast", Box::new(fast)),
        ("fast_gemm_only", Box::new(loops)),
    ]
}

/// Every GEMM-backed FULL layer, forward and backward, portable next to fast (the host's own
/// layer algorithms: Winograd for conv2–conv5, im2col units for conv1) and `fast_gemm_only`
/// (the kernels' im2col loops on the fast GEMM): conv1 (u8 frames, k = 75), conv2 (k = 1152,
/// n = 128), conv3 (1152 → 256), conv4/conv5 (2304 → 256), local1, local2. Ids are
/// `fast_layers/<layer>_<pass>/<backend>`; FLOP/s throughout (the direct convolution's count,
/// so Winograd's are effective rates).
fn fast_layers(crit: &mut Criterion) {
    let mut group = crit.benchmark_group("fast_layers");
    let plan = ValenceConfig::FULL.plan().expect("FULL plan");
    let conv = |name| plan.conv(name).expect("FULL has this conv layer");
    let backends = backends();
    let g = conv("conv1");
    group.throughput(Throughput::Elements(conv_flops(&g)));
    let frames = bytes(1, BATCH * g.input_len());
    let (filter, bias) = (fill(2, g.filter_len()), fill(3, g.bias_len()));
    let d_output = fill(4, BATCH * g.output_len());
    let (mut scratch, mut out) = (
        vec![0.0; g.scratch_len()],
        vec![0.0; BATCH * g.output_len()],
    );
    let mut d_filter = vec![0.0; g.filter_len()];
    for (name, gemm) in &backends {
        let gemm = &**gemm;
        group.bench_function(BenchmarkId::new("conv1_forward", name), |b| {
            b.iter(|| {
                let x = black_box(&frames);
                conv2d_u8(&g, gemm, BATCH, x, &filter, &bias, &mut scratch, &mut out).unwrap()
            })
        });
        group.bench_function(BenchmarkId::new("conv1_d_filter", name), |b| {
            b.iter(|| {
                let (x, dy) = (black_box(&frames), &d_output);
                conv2d_backward_filter_u8(&g, gemm, BATCH, x, dy, &mut scratch, &mut d_filter)
                    .unwrap()
            })
        });
    }
    for (layer, g) in [
        ("conv2", conv("conv2")),
        ("conv3", conv("conv3")),
        ("conv4", conv("conv4")),
    ] {
        group.throughput(Throughput::Elements(conv_flops(&g)));
        let input = fill(1, BATCH * g.input_len());
        let (filter, bias) = (fill(2, g.filter_len()), fill(3, g.bias_len()));
        let d_output = fill(4, BATCH * g.output_len());
        let mut scratch = vec![0.0; g.scratch_len()];
        let mut out = vec![0.0; BATCH * g.output_len()];
        let mut d_input = vec![0.0; BATCH * g.input_len()];
        let mut d_filter = vec![0.0; g.filter_len()];
        for (name, gemm) in &backends {
            let gemm = &**gemm;
            group.bench_function(BenchmarkId::new(format!("{layer}_forward"), name), |b| {
                b.iter(|| {
                    let x = black_box(&input);
                    conv2d_f32(&g, gemm, BATCH, x, &filter, &bias, &mut scratch, &mut out).unwrap()
                })
            });
            group.bench_function(BenchmarkId::new(format!("{layer}_d_input"), name), |b| {
                b.iter(|| {
                    let dy = black_box(&d_output);
                    conv2d_backward_input_f32(
                        &g,
                        gemm,
                        BATCH,
                        dy,
                        &filter,
                        &mut scratch,
                        &mut d_input,
                    )
                    .unwrap()
                })
            });
            group.bench_function(BenchmarkId::new(format!("{layer}_d_filter"), name), |b| {
                b.iter(|| {
                    let (x, dy) = (black_box(&input), &d_output);
                    conv2d_backward_filter_f32(&g, gemm, BATCH, x, dy, &mut scratch, &mut d_filter)
                        .unwrap()
                })
            });
        }
    }
    for layer in ["local1", "local2"] {
        let g = plan.dense(layer).expect("FULL has this dense layer");
        group.throughput(Throughput::Elements(
            (2 * BATCH * g.inputs() * g.outputs()) as u64,
        ));
        let input = fill(1, BATCH * g.inputs());
        let (weights, bias) = (fill(2, g.weights_len()), fill(3, g.bias_len()));
        let d_output = fill(4, BATCH * g.outputs());
        let mut out = vec![0.0; BATCH * g.outputs()];
        let mut d_input = vec![0.0; BATCH * g.inputs()];
        let mut d_weights = vec![0.0; g.weights_len()];
        for (name, gemm) in &backends {
            let gemm = &**gemm;
            group.bench_function(BenchmarkId::new(format!("{layer}_forward"), name), |b| {
                b.iter(|| {
                    dense_f32(
                        &g,
                        gemm,
                        BATCH,
                        black_box(&input),
                        &weights,
                        &bias,
                        &mut out,
                    )
                    .unwrap()
                })
            });
            group.bench_function(BenchmarkId::new(format!("{layer}_d_input"), name), |b| {
                b.iter(|| {
                    let dy = black_box(&d_output);
                    dense_backward_input_f32(&g, gemm, BATCH, dy, &weights, &mut d_input).unwrap()
                })
            });
            group.bench_function(BenchmarkId::new(format!("{layer}_d_weights"), name), |b| {
                b.iter(|| {
                    let (x, dy) = (black_box(&input), &d_output);
                    dense_backward_weights_f32(&g, gemm, BATCH, x, dy, &mut d_weights).unwrap()
                })
            });
        }
    }
    group.finish();
}

/// The row-independent FULL layers as the network runs them, portable next to fast: norm1
/// (LRN over conv1's 24×24×128 output) through `Exec` — `Portable` in one call, `FastGemm`
/// split over two threads (the same kernels, the same bits) — and pool1 (3×3 stride 2 over
/// it) at batch 128, forward and backward, through `Portable`, the kernels' loops on two
/// threads (`fast_kernels`) and the host's own pool on two threads (`fast`, the same bits).
/// Ids are `fast_rows/<layer>_<pass>/<backend>`; elements (input values) per second.
fn fast_rows(crit: &mut Criterion) {
    let mut group = crit.benchmark_group("fast_rows");
    let plan = ValenceConfig::FULL.plan().expect("FULL plan");
    let lrn = plan.lrn("norm1").expect("norm1");
    let pool = plan.pool("pool1").expect("pool1");
    let two = FastGemm::new(2).expect("two worker threads start");
    let backends: [(&str, &dyn Backend); 2] = [("portable", &Portable), ("fast", &two)];

    let c = lrn.channels();
    let rows = BATCH * plan.conv("conv1").expect("conv1").output().pixels();
    group.throughput(Throughput::Elements((rows * c) as u64));
    // conv1 + ReLU outputs: non-negative, mostly below 1.
    let x: Vec<f32> = fill(1, rows * c).iter().map(|v| v.abs()).collect();
    let dy = fill(2, rows * c);
    let (mut y, mut dx) = (vec![0.0; rows * c], vec![0.0; rows * c]);
    for (name, b) in backends {
        group.bench_function(BenchmarkId::new("norm1_forward", name), |bch| {
            bch.iter(|| {
                let f = |r, x: &[f32], y: &mut [f32]| lrn_f32(&lrn, r, x, y);
                b.map_rows(rows, (black_box(&x), c), (&mut y, c), &f)
                    .unwrap()
            })
        });
        group.bench_function(BenchmarkId::new("norm1_backward", name), |bch| {
            bch.iter(|| {
                let f =
                    |r, x: &[f32], dy: &[f32], dx: &mut [f32]| lrn_backward_f32(&lrn, r, x, dy, dx);
                let (x, dy) = ((&black_box(&x)[..], c), (&dy[..], c));
                b.map_rows2(rows, x, dy, (&mut dx, c), &f).unwrap()
            })
        });
    }

    // Max-pool as the training loop runs it: the backend's own pool if it has one (`fast`:
    // host-sim's whole-image channel blocks), else the kernels' code spread over the rows
    // (`portable` in one call; `fast_kernels`: the kernels' code over two threads).
    let kernels_on_two = FastGemm::new(2)
        .expect("two worker threads start")
        .without_own_layers();
    let backends: [(&str, &dyn Backend); 3] = [
        ("portable", &Portable),
        ("fast_kernels", &kernels_on_two),
        ("fast", &two),
    ];
    // At the batch TensorFlow is compared at: 38 MB of input, past the caches, so these
    // measure the memory speed the host's pool aims at.
    const BATCH: usize = POOL_BATCH;
    let (i, o) = (pool.input_len(), pool.output_len());
    group.throughput(Throughput::Elements((BATCH * i) as u64));
    // ReLU-like input: half exactly zero, so windows tie as after conv1's ReLU.
    let x: Vec<f32> = fill(3, BATCH * i).iter().map(|v| v.max(0.0)).collect();
    let dy = fill(4, BATCH * o);
    let (mut y, mut dx) = (vec![0.0; BATCH * o], vec![0.0; BATCH * i]);
    for (name, b) in backends {
        group.bench_function(BenchmarkId::new("pool1_forward", name), |bch| {
            bch.iter(|| {
                let x = black_box(&x);
                if !b.pool_forward(&pool, BATCH, x, &mut y) {
                    let f = |r, x: &[f32], y: &mut [f32]| max_pool_f32(&pool, r, x, y);
                    b.map_rows(BATCH, (x, i), (&mut y, o), &f).unwrap()
                }
            })
        });
        group.bench_function(BenchmarkId::new("pool1_backward", name), |bch| {
            bch.iter(|| {
                let x = black_box(&x);
                if !b.pool_backward(&pool, BATCH, x, &dy, &mut dx) {
                    let f = |r, x: &[f32], dy: &[f32], dx: &mut [f32]| {
                        max_pool_backward_f32(&pool, r, x, dy, dx)
                    };
                    b.map_rows2(BATCH, (x, i), (&dy, o), (&mut dx, i), &f)
                        .unwrap()
                }
            })
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = conv2_forward, conv2_backward, conv1_u8, lrn, pool, dense, relu, optim, histogram, net,
        fast_layers, fast_rows
}
criterion_main!(benches);
