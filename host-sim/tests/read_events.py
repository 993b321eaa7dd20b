#!/usr/bin/env python3
"""Loads TensorBoard runs with TensorBoard's own loaders and prints what they saw, as JSON.

Usage: python3 read_events.py RUN_DIR [RUN_DIR ...]

Used by host-sim/tests/tensorboard_loader.rs; needs only the `tensorboard` package
(`pip install -r .ci/requirements.txt`). For each run directory, in argument order:

* "plugin": tensorboard.backend.event_processing.plugin_event_accumulator.EventAccumulator
  (what `tensorboard --load_fast=false` serves), storing everything: tags per plugin,
  scalars, histogram rows (`tensor_util.make_ndarray`) with their `compress_histogram`
  result, and image sizes (as stored and as read from the PNG header).
* "legacy": the older event_accumulator.EventAccumulator: its tags, scalars and image sizes.

Floats are printed with Python's repr (exact round trip); NaN or inf anywhere is an error.
"""

import json
import struct
import sys

try:
    from tensorboard import version as tb_version
    from tensorboard.backend.event_processing import event_accumulator as legacy_acc
    from tensorboard.backend.event_processing import plugin_event_accumulator as plugin_acc
    from tensorboard.plugins.distribution import compressor
    from tensorboard.util import tensor_util
except ImportError as e:  # the Rust test turns exit code 3 into its own failure message
    print(
        f"cannot import tensorboard ({e}): run `pip install -r .ci/requirements.txt`",
        file=sys.stderr,
    )
    sys.exit(3)


def png_size(data):
    """(width, height) from a PNG's IHDR chunk."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    return struct.unpack(">II", data[16:24])


def plugin_view(path):
    acc = plugin_acc.EventAccumulator(path, size_guidance={plugin_acc.TENSORS: 0})
    acc.Reload()
    tags = {p: sorted(acc.PluginTagToContent(p)) for p in sorted(acc.ActivePlugins())}
    scalars = {}
    for tag in tags.get("scalars", []):
        scalars[tag] = [
            [e.step, float(tensor_util.make_ndarray(e.tensor_proto).item())]
            for e in acc.Tensors(tag)
        ]
    histograms = {}
    for tag in tags.get("histograms", []):
        entries = []
        for e in acc.Tensors(tag):
            rows = tensor_util.make_ndarray(e.tensor_proto)
            # (basis_point, value) tuples, as the Distributions plugin serves them.
            compressed = compressor.compress_histogram(rows)
            entries.append(
                {
                    "step": e.step,
                    "dtype": str(rows.dtype),
                    "shape": list(rows.shape),
                    "rows": [[float(x) for x in row] for row in rows.tolist()],
                    "compressed": [[int(bp), float(v)] for bp, v in compressed],
                }
            )
        histograms[tag] = entries
    images = {}
    for tag in tags.get("images", []):
        entries = []
        for e in acc.Tensors(tag):
            # The image plugin's tensor: [width, height, encoded image ...] as strings.
            parts = tensor_util.make_ndarray(e.tensor_proto).tolist()
            w, h = png_size(parts[2])
            entries.append(
                {
                    "step": e.step,
                    "width": int(parts[0]),
                    "height": int(parts[1]),
                    "png_width": w,
                    "png_height": h,
                }
            )
        images[tag] = entries
    return {"tags": tags, "scalars": scalars, "histograms": histograms, "images": images}


def legacy_view(path):
    acc = legacy_acc.EventAccumulator(
        path,
        size_guidance={
            legacy_acc.SCALARS: 0,
            legacy_acc.IMAGES: 0,
            legacy_acc.TENSORS: 0,
            legacy_acc.HISTOGRAMS: 0,
            legacy_acc.COMPRESSED_HISTOGRAMS: 0,
        },
    )
    acc.Reload()
    tags = {k: sorted(v) for k, v in acc.Tags().items() if isinstance(v, list)}
    scalars = {t: [[e.step, float(e.value)] for e in acc.Scalars(t)] for t in tags["scalars"]}
    images = {
        t: [{"step": e.step, "width": e.width, "height": e.height} for e in acc.Images(t)]
        for t in tags["images"]
    }
    return {"tags": tags, "scalars": scalars, "images": images}


def main(paths):
    out = {
        "tensorboard_version": tb_version.VERSION,
        "runs": [{"path": p, "plugin": plugin_view(p), "legacy": legacy_view(p)} for p in paths],
    }
    json.dump(out, sys.stdout, allow_nan=False, indent=1)
    print()


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
