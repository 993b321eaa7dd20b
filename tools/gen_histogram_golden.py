#!/usr/bin/env python3
"""Golden fixtures for `kernels::histogram` from TensorFlow's own histogram op.

For each case, a fixed float32 array goes through TensorFlow's v1 `HistogramSummary` op
(`tf.compat.v1.summary.histogram`, graph mode), whose C++ kernel builds the histogram with
`core/lib/histogram/histogram.cc` and encodes it with `EncodeToProto(..., false)`: NOT trimmed,
every run of empty buckets collapsed into one zero entry, last limit DBL_MAX. The fixture keeps
that proto as is (bucket_limit, bucket, min, max, num, sum, sum_squares; doubles as their IEEE
bits so the Rust side compares exactly whatever its JSON float parser does).

Percentiles: TensorBoard's `compressor.compress_histogram` on the v2 rows built from TF's proto
the way tensorboard's `data_compat._migrate_histogram_value` builds them (trim the empty ends,
left of first row = min, right of last row = max) but kept in float64, as a DT_DOUBLE histogram
tensor holds them (`percentiles`); and on tensorboard's own migration, which casts the rows to
float32 (`percentiles_tb_v1`, what TensorBoard shows for a v1 `histo`).

Exact doubles go out as IEEE bits: serde_json without its `float_roundtrip` feature parses
some decimals 1 ulp off (seen here on a percentile), so readable copies are for people only.
TensorFlow's CPU threads run with denormals-are-zero: the op counts a subnormal float32 as a
zero of its sign (the `tiny` case has some).

Run: /opt/tfvenv/bin/python tools/gen_histogram_golden.py   (needs tensorflow and tensorboard)
Writes tests/fixtures/histogram_<case>.json.
"""

import json
import os
import warnings
import struct
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf  # noqa: E402
import tensorboard  # noqa: E402
from tensorboard import data_compat  # noqa: E402
from tensorboard.plugins.distribution import compressor  # noqa: E402
from tensorboard.util import tensor_util  # noqa: E402

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")


def f64_bits(x):
    return struct.unpack("<Q", struct.pack("<d", float(x)))[0]


def f32_bits(x):
    return struct.unpack("<I", struct.pack("<f", np.float32(x)))[0]


def cases():
    rng = np.random.default_rng(20240607)
    f32 = np.float32
    out = {}
    out["normal"] = rng.normal(0.0, 1.0, 4096).astype(f32)
    out["uniform"] = rng.uniform(-1.0, 3.0, 4096).astype(f32)
    # The seed's bias initialiser: every element 0.1.
    out["spike_0p1"] = np.full(1000, 0.1, dtype=f32)
    # ReLU output: half exact zeros, the rest positive.
    out["relu"] = np.maximum(rng.normal(0.0, 0.5, 3000), 0.0).astype(f32)
    # Both signs over twelve decades, mostly negative.
    mags = 10.0 ** rng.uniform(-6.0, 6.0, 3000)
    signs = np.where(rng.uniform(size=3000) < 0.7, -1.0, 1.0)
    out["negatives"] = (signs * mags).astype(f32)
    # Around the first edge 1e-12 and below it, zeros of both signs, subnormals.
    tiny = list(1.0e-12 * (1.0 + rng.uniform(-0.5, 0.6, 500)))
    tiny += list(-1.0e-12 * (1.0 + rng.uniform(-0.5, 0.6, 200)))
    tiny += [0.0, -0.0, 1.0e-45, -1.0e-45, 1.0e-38, 1.0e-12, -1.0e-12, 1.1e-12, 1.21e-12]
    out["tiny"] = np.array(tiny, dtype=f32)
    # The ends of float32 and the neighbourhood of the last finite edge (~9.4e19).
    out["extremes"] = np.array(
        [3.4028235e38, -3.4028235e38, 1.0e20, -1.0e20, 9.0e19, 9.9e19, 1.0e30, -1.0e-30, 1.0, -1.0],
        dtype=f32,
    )
    out["single"] = np.array([3.5], dtype=f32)
    return out


def tf_histogram(values):
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, shape=[None])
        op = tf.compat.v1.summary.histogram("h", x)
        with tf.compat.v1.Session(graph=graph) as sess:
            serialized = sess.run(op, feed_dict={x: values})
    summary = tf.compat.v1.Summary()
    summary.ParseFromString(serialized)
    assert len(summary.value) == 1
    return summary.value[0]


def v2_rows_f64(histo):
    counts = list(histo.bucket)
    n = len(counts)
    start = next((i for i in range(n) if counts[i] > 0), n)
    end = next((i for i in reversed(range(n)) if counts[i] > 0), -1)
    if start > end:
        return np.zeros([0, 3], dtype=np.float64)
    inner = list(histo.bucket_limit[start:end])
    lefts = [histo.min] + inner
    rights = inner + [histo.max]
    return np.array([lefts, rights, counts[start : end + 1]], dtype=np.float64).transpose()


def tb_v1_rows(value):
    from tensorboard.compat.proto import summary_pb2

    tb_value = summary_pb2.Summary.Value()
    tb_value.ParseFromString(value.SerializeToString())
    migrated = data_compat.migrate_value(tb_value)
    return tensor_util.make_ndarray(migrated.tensor)


def main():
    # The float32 path overflows on the `extremes` case; that is recorded (as null), not an error.
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    os.makedirs(OUT_DIR, exist_ok=True)
    for name, values in cases().items():
        value = tf_histogram(values)
        histo = value.histo
        rows = v2_rows_f64(histo)
        pct = [bp_value[1] for bp_value in compressor.compress_histogram(rows)]
        tb_rows = tb_v1_rows(value)
        # float32 rows can overflow to inf (y1 - y0 across ±3.4e38): JSON null then.
        pct_tb = [float(bp_value[1]) for bp_value in compressor.compress_histogram(tb_rows)]
        pct_tb = [p if np.isfinite(p) else None for p in pct_tb]
        fixture = {
            "case": name,
            "generator": "tools/gen_histogram_golden.py",
            "tensorflow": tf.__version__,
            "tensorboard": tensorboard.__version__,
            "numpy": np.__version__,
            "values_f32_bits": [f32_bits(v) for v in values],
            "num": histo.num,
            "min_bits": f64_bits(histo.min),
            "max_bits": f64_bits(histo.max),
            "sum_bits": f64_bits(histo.sum),
            "sum_squares_bits": f64_bits(histo.sum_squares),
            "bucket_limit_bits": [f64_bits(v) for v in histo.bucket_limit],
            "bucket": [int(c) for c in histo.bucket],
            "percentiles_bits": [f64_bits(p) for p in pct],
            "percentiles": [float(p) for p in pct],
            "percentiles_tb_v1": pct_tb,
            # Readable copies, not used for exact comparisons.
            "min": histo.min,
            "max": histo.max,
            "sum": histo.sum,
        }
        assert all(float(c).is_integer() for c in histo.bucket)
        assert all(np.isfinite(p) for p in pct)
        path = os.path.join(OUT_DIR, f"histogram_{name}.json")
        with open(path, "w") as f:
            json.dump(fixture, f, separators=(",", ":"), allow_nan=False)
            f.write("\n")
        print(f"{path}: {len(values)} values, {len(histo.bucket)} proto buckets, "
              f"{len(rows)} v2 rows, percentiles {np.array(pct)}", file=sys.stderr)


if __name__ == "__main__":
    main()
