#!/usr/bin/env bash
# Regenerates firmware/common/model/tiny.vq8, the int8 TINY model the boards build in with
# include_bytes!: a deterministic host-sim run on the boards' portable kernels (--exact), then
# `host-sim quantize` calibrated on 256 training frames. The same commands give the same bytes on
# any machine; host-sim/tests/boards.rs checks that they do.
#   tools/tiny_model.sh [WORKDIR]     (default: a fresh temporary directory)
set -euo pipefail
cd "$(dirname "$0")/.."
work="${1:-$(mktemp -d)}"
cargo build -q -p host-sim --release
bin=target/release/host-sim
"$bin" --config tiny --exact --steps 300 --batch 16 --lr 1e-3 --seed 0 --summary-every 100 \
  --checkpoint-every 300 --logdir "$work" > "$work/train.log"
run="$(ls -d "$work"/tiny-seed0-*)"
"$bin" quantize --checkpoint "$run" --out firmware/common/model/tiny.vq8
"$bin" eval --checkpoint "$run" --model firmware/common/model/tiny.vq8
