//! `Portable::gemm_acc` against `matrixmultiply::sgemm` and host-sim's `FastGemm` (each micro-kernel
//! this CPU runs; all on one thread) at the valence network's GEMM shapes, forward and both
//! backward products. Criterion reports FLOP/s (`2·m·k·n` per call).
//!
//! `cargo bench --bench gemm -- --warm-up-time 1 --measurement-time 3`
//!
//! matrixmultiply picks AVX2+FMA at run time where the CPU has them; `Portable` is compiled for
//! the build's target (x86-64-v3, AVX2, by `.cargo/config.toml`) and never fuses, so the ratio
//! between the two is what the bit-exact path costs.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use host_sim::fast_gemm::{FastGemm, Isa};
use kernels::rng::Rng;
use kernels::{Gemm, Layout, Portable};

/// Deterministic values in [-1, 1) from the kernels' own PCG32: the bench needs no rand crate.
fn fill(seed: u64, len: usize) -> Vec<f32> {
    let mut rng = Rng::new(seed, 0);
    (0..len).map(|_| 2.0 * rng.next_f32() - 1.0).collect()
}

/// Row and column strides of an `rows × cols` matrix stored as `layout`.
fn strides(layout: Layout, rows: usize, cols: usize) -> (isize, isize) {
    match layout {
        Layout::RowMajor => (cols as isize, 1),
        Layout::ColMajor => (1, rows as isize),
    }
}

fn bench_shape(
    crit: &mut Criterion,
    name: &str,
    (m, k, n): (usize, usize, usize),
    a_layout: Layout,
    b_layout: Layout,
) {
    let a = fill(1, m * k);
    let b = fill(2, k * n);
    let mut c = fill(3, m * n);
    let mut group = crit.benchmark_group(format!("gemm/{name}"));
    group.throughput(Throughput::Elements((2 * m * k * n) as u64));
    let id = format!("{m}x{k}x{n}");
    group.bench_function(BenchmarkId::new("portable", &id), |bench| {
        bench.iter(|| {
            Portable.gemm_acc(
                m,
                k,
                n,
                black_box(&a),
                a_layout,
                black_box(&b),
                b_layout,
                &mut c,
            );
        })
    });
    let (rsa, csa) = strides(a_layout, m, k);
    let (rsb, csb) = strides(b_layout, k, n);
    group.bench_function(BenchmarkId::new("matrixmultiply", &id), |bench| {
        bench.iter(|| {
            // SAFETY: a, b and c hold m·k, k·n and m·n f32 and the strides describe exactly
            // those dense matrices; c is not aliased.
            unsafe {
                matrixmultiply::sgemm(
                    m,
                    k,
                    n,
                    1.0,
                    black_box(a.as_ptr()),
                    rsa,
                    csa,
                    black_box(b.as_ptr()),
                    rsb,
                    csb,
                    1.0,
                    c.as_mut_ptr(),
                    n as isize,
                    1,
                )
            }
        })
    });
    for isa in Isa::available() {
        let fast = FastGemm::with_isa(1, isa).expect("one worker thread starts");
        group.bench_function(BenchmarkId::new(format!("fast_{isa:?}"), &id), |bench| {
            bench.iter(|| {
                fast.gemm_acc(
                    m,
                    k,
                    n,
                    black_box(&a),
                    a_layout,
                    black_box(&b),
                    b_layout,
                    &mut c,
                );
            })
        });
    }
    group.finish();
}

fn gemm(crit: &mut Criterion) {
    use Layout::{ColMajor, RowMajor};
    // conv2 forward, FULL net: a tile of 121 output pixels × batch 8, patch 3·3·128, 128 filters.
    bench_shape(crit, "conv2", (968, 1152, 128), RowMajor, RowMajor);
    bench_shape(crit, "conv2_tile256", (256, 1152, 128), RowMajor, RowMajor);
    // conv backward-input (B = filterᵀ) and backward-filter (A = patchesᵀ, k = rows).
    bench_shape(
        crit,
        "conv2_bwd_input",
        (256, 128, 1152),
        RowMajor,
        ColMajor,
    );
    bench_shape(
        crit,
        "conv2_bwd_filter",
        (1152, 256, 128),
        ColMajor,
        RowMajor,
    );
    // local2 forward at batch 64.
    bench_shape(crit, "dense2046", (64, 2046, 2046), RowMajor, RowMajor);
    // FULL at its conv tile of 1024 output pixels (batch ≥ 8) and the dense layers at batch
    // 128 and at the default run's 16 (a dense layer's products are as tall as the batch):
    // each layer's forward, d_input (B = weightsᵀ) and d_weights (A = inputᵀ) product.
    for (name, (m, k, n)) in [
        ("full_conv1", (1024, 75, 128)),
        ("full_conv2", (1024, 1152, 128)),
        ("full_conv3", (1024, 1152, 256)),
        ("full_conv4", (1024, 2304, 256)),
        ("full_local1_b128", (128, 1024, 2046)),
        ("full_local2_b128", (128, 2046, 2046)),
        ("full_local1_b16", (16, 1024, 2046)),
        ("full_local2_b16", (16, 2046, 2046)),
    ] {
        bench_shape(crit, &format!("{name}_fwd"), (m, k, n), RowMajor, RowMajor);
        bench_shape(
            crit,
            &format!("{name}_d_input"),
            (m, n, k),
            RowMajor,
            ColMajor,
        );
        bench_shape(
            crit,
            &format!("{name}_d_weights"),
            (k, m, n),
            ColMajor,
            RowMajor,
        );
    }
    // TINY net: 3·3·8 patches, 8 filters.
    bench_shape(crit, "tiny", (1024, 72, 8), RowMajor, RowMajor);
}

criterion_group!(benches, gemm);
criterion_main!(benches);
