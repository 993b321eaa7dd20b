#!/usr/bin/env bash
# Regenerates the int8 TINY model the boards build in with include_bytes!
# (firmware/common/model/tiny.vq8): a deterministic host-sim run on the boards' portable kernels
# (--exact, micro-batches of one frame), then `host-sim quantize` calibrated on 256 training
# frames, then `host-sim eval` (which also prints the int8 predictions of the first held-out
# frames, the ones the boards predict). The same commands give the same bytes on any machine;
# host-sim/tests/boards.rs runs this script and checks that they do.
#   tools/tiny_model.sh [WORKDIR [OUT]]   (defaults: a fresh temporary directory, the file above)
# HOST_SIM names the host-sim binary to use (default: build it with cargo, release).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d)}"
out="${2:-$root/firmware/common/model/tiny.vq8}"
mkdir -p "$work"
bin="${HOST_SIM:-}"
if [ -z "$bin" ]; then
  cargo build -q --manifest-path "$root/Cargo.toml" -p host-sim --release
  bin="$root/target/release/host-sim"
fi
"$bin" --config tiny --exact --steps 3000 --batch 16 --lr 1e-3 --seed 0 --summary-every 1000 \
  --checkpoint-every 3000 --logdir "$work" > "$work/train.log"
run="$(ls -d "$work"/tiny-seed0-*)"
"$bin" quantize --checkpoint "$run" --out "$out"
"$bin" eval --checkpoint "$run" --model "$out" --show 4
