#!/usr/bin/env bash
# Runs the `conv2_forward` criterion group (benches/kernels.rs) at the seed's conv2 shape and
# prints the portable conv2 forward's GFLOP/s, matrixmultiply's single-thread sgemm GFLOP/s at
# the equivalent GEMM shape (same run), and their ratio. The issue asks for ratio >= 25 %.
# `portable_gemm` (Portable's GEMM alone on the same matrices) is printed too: it splits the
# gap into im2col + tiling and the GEMM kernel itself.
#
#   tools/bench_ratio.sh                 # default criterion settings of the bench (2 s, 10 samples)
#   tools/bench_ratio.sh --measurement-time 5 --sample-size 20   # extra args go to criterion
#
# Host builds target x86-64-v3 (.cargo/config.toml). The SSE2 baseline, in its own target dir:
#   CARGO_TARGET_DIR=/tmp/sse2 CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C target-cpu=x86-64" tools/bench_ratio.sh
#
# Figures come from criterion's estimates.json (median and mean of the per-call time) and the
# FLOP count the bench declares as its throughput (2·m·k·n).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
shape="${SHAPE:-full}"

# matrixmultiply only threads with its `threading` feature (not enabled here); pin it anyway.
export MATMUL_NUM_THREADS=1
cargo bench --bench kernels -- "^conv2_forward/(portable|portable_gemm|matrixmultiply)/${shape}\$" "$@" >&2

echo "build: rustflags ${CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS:-from .cargo/config.toml (-C target-cpu=x86-64-v3)}"
python3 - "$target/criterion/conv2_forward" "$shape" <<'PY'
import json, sys, os
root, shape = sys.argv[1], sys.argv[2]
rate = {}
for name in ("portable", "portable_gemm", "matrixmultiply"):
    d = os.path.join(root, name, shape)
    est = json.load(open(os.path.join(d, "new", "estimates.json")))
    bench = json.load(open(os.path.join(d, "new", "benchmark.json")))
    flops = bench["throughput"]["Elements"]
    med, mean = est["median"]["point_estimate"], est["mean"]["point_estimate"]  # ns per call
    rate[name] = (flops / med, flops / mean)
    print(f"{name:>15}: {flops / med:7.2f} GFLOP/s (median)  {flops / mean:7.2f} GFLOP/s (mean)"
          f"  [{med / 1e6:.2f} ms/call, {flops / 1e6:.0f} MFLOP]")
p, m = rate["portable"], rate["matrixmultiply"]
print(f"{'ratio':>15}: {100 * p[0] / m[0]:6.1f} % (median)  {100 * p[1] / m[1]:6.1f} % (mean)"
      f"  — target >= 25 %")
PY
