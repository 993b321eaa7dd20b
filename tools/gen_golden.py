#!/usr/bin/env python3
"""Writes TensorFlow golden vectors for the kernels crate into tests/fixtures/*.json.

Run from anywhere (see tools/README.md):

    TF_ENABLE_ONEDNN_OPTS=0 CUDA_VISIBLE_DEVICES="" python tools/gen_golden.py

Every fixture records the TensorFlow and numpy versions that produced it and the numpy seed of
its inputs, so a re-run with the pinned versions (tools/requirements.txt) rewrites the same
bytes. Float32 values are written as the Python float of the float32 value
(`float(np.float32(x))`): the JSON decimal then names that exact f32, so Rust's serde_json reads
back the very same bits (a shorter decimal would go through f64 and could round twice).

Backward outputs come from `tf.GradientTape` with a random upstream gradient `dy`, so a kernel
that drops a factor of `dy` or mixes up two elements cannot pass. Optimisers run in TF1 graph
mode (`tf.compat.v1.Graph` + `Session`) because `tf.compat.v1.train.AdamOptimizer` and
`MomentumOptimizer` are what the seed used.
"""

import json
import os
import sys

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # Eigen kernels, not oneDNN's
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")

# One seed per fixture file, so adding a case to one file leaves the others' bytes alone.
SEEDS = {
    "conv2d": 1001,
    "conv2d_u8": 1002,
    "conv2d_3x3_same": 1012,
    "lrn": 1003,
    "max_pool": 1004,
    "relu_bias": 1005,
    "dense": 1006,
    "loss": 1007,
    "adam": 1008,
    "momentum": 1009,
    "clip": 1010,
    # Both were written with 1011 (on two branches); kept so that they regenerate the same bytes.
    "softmax_xent": 1011,
    "adam_keras": 1011,
}


def f32list(a):
    """A flat list of Python floats, each exactly an f32 value (row-major order)."""
    a = np.asarray(a, dtype=np.float32).ravel()
    assert np.all(np.isfinite(a)), "non-finite value in a fixture"
    return [float(v) for v in a]


def f32(x):
    return float(np.float32(x))


def normal(rng, shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def write(name, cases, extra=None):
    doc = {
        "generator": "tools/gen_golden.py",
        "tensorflow": tf.__version__,
        "numpy": np.__version__,
        "seed": SEEDS[name],
        "count": len(cases),
    }
    if extra:
        doc.update(extra)
    doc["cases"] = cases
    path = os.path.join(OUT_DIR, name + ".json")
    with open(path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print(f"{name}.json: {len(cases)} cases, {os.path.getsize(path)} bytes")


# ---------------------------------------------------------------------------------------------
# conv2d


CONV_CASES = [
    # (name, batch, (h, w, c_in), (kh, kw), c_out, (sh, sw), padding)
    ("7x9x3_k3_s1_same_b2", 2, (7, 9, 3), (3, 3), 4, (1, 1), "SAME"),
    ("7x9x3_k3_s1_valid", 1, (7, 9, 3), (3, 3), 4, (1, 1), "VALID"),
    ("11x11x8_k5_s2_same", 1, (11, 11, 8), (5, 5), 19, (2, 2), "SAME"),
    ("11x11x8_k5_s2_valid_b2", 2, (11, 11, 8), (5, 5), 19, (2, 2), "VALID"),
    ("13x6x17_k3_s4_same", 1, (13, 6, 17), (3, 3), 4, (4, 4), "SAME"),
    ("13x6x17_k3_s4_valid_b2", 2, (13, 6, 17), (3, 3), 4, (4, 4), "VALID"),
    ("5x5x1_k1_s1_same", 1, (5, 5, 1), (1, 1), 1, (1, 1), "SAME"),
    ("5x5x1_k1_s2_valid", 2, (5, 5, 1), (1, 1), 4, (2, 2), "VALID"),
    ("7x9x3_k2x3_s1x2_same", 1, (7, 9, 3), (2, 3), 4, (1, 2), "SAME"),
    ("7x9x3_k2x3_s1x2_valid_b2", 2, (7, 9, 3), (2, 3), 19, (1, 2), "VALID"),
    ("11x11x3_k3_s2x1_same", 1, (11, 11, 3), (3, 3), 4, (2, 1), "SAME"),
    ("11x11x17_k1_s1_valid", 1, (11, 11, 17), (1, 1), 19, (1, 1), "VALID"),
    ("5x5x8_k5_s1_same", 1, (5, 5, 8), (5, 5), 4, (1, 1), "SAME"),
    ("5x5x3_k5_s2_valid_b2", 2, (5, 5, 3), (5, 5), 1, (2, 2), "VALID"),
    ("13x6x1_k5_s4_same", 1, (13, 6, 1), (5, 5), 1, (4, 4), "SAME"),
    ("13x6x8_k5_s2_same_b2", 2, (13, 6, 8), (5, 5), 4, (2, 2), "SAME"),
    ("11x11x1_k3_s4_same", 1, (11, 11, 1), (3, 3), 19, (4, 4), "SAME"),
    # The seed's conv1 geometry (5x5, stride 4, SAME on 96x96x3) scaled down to 20x20x3.
    ("seed_conv1_20x20x3_k5_s4_same_b2", 2, (20, 20, 3), (5, 5), 8, (4, 4), "SAME"),
]

# 3x3 stride-1 SAME at the FULL network's spatial sizes, with enough channels to exercise a fast
# path's multi-tile (Winograd) transforms. A file of their own: TensorFlow 2.21.0's Eigen kernels
# round differently on different CPUs (on an AMD EPYC conv2d.json's inputs come out identical but
# its expected values move by up to 9.5e-6), so appending these to conv2d.json would have
# rewritten its existing cases.
CONV_3X3_SAME_CASES = [
    ("seed_conv2_11x11x32_k3_s1_same_b2", 2, (11, 11, 32), (3, 3), 32, (1, 1), "SAME"),
    ("seed_conv3to5_5x5x64_k3_s1_same_b3", 3, (5, 5, 64), (3, 3), 48, (1, 1), "SAME"),
    ("6x7x16_k3_s1_same", 1, (6, 7, 16), (3, 3), 24, (1, 1), "SAME"),  # odd tile edges
    ("13x13x8_k3_s1_same_b2", 2, (13, 13, 8), (3, 3), 8, (1, 1), "SAME"),
    ("4x4x5_k3_s1_same", 1, (4, 4, 5), (3, 3), 3, (1, 1), "SAME"),
]


def conv_forward(x, f, b, stride, padding):
    y = tf.nn.conv2d(x, f, strides=[1, stride[0], stride[1], 1], padding=padding)
    return tf.nn.bias_add(y, b)


def gen_conv2d_file(name, table):
    """Writes `<name>.json`: each case of `table` drawn from the file's own seed, in order."""
    rng = np.random.default_rng(SEEDS[name])
    cases = []
    for case_name, batch, (h, w, c), (kh, kw), co, stride, padding in table:
        x = normal(rng, (batch, h, w, c))
        # Scaled so that outputs and gradients are O(1) whatever the patch length.
        f = normal(rng, (kh, kw, c, co), 1.0 / np.sqrt(kh * kw * c))
        b = normal(rng, (co,), 0.5)
        xt, ft, bt = tf.constant(x), tf.constant(f), tf.constant(b)
        with tf.GradientTape() as tape:
            tape.watch([xt, ft, bt])
            y = conv_forward(xt, ft, bt, stride, padding)
        dy = normal(rng, tuple(y.shape))
        dx, df, db = tape.gradient(y, [xt, ft, bt], output_gradients=tf.constant(dy))
        oh, ow = int(y.shape[1]), int(y.shape[2])
        cases.append({
            "name": case_name,
            "batch": batch,
            "input_hwc": [h, w, c],
            "kernel": [kh, kw],
            "c_out": co,
            "stride": list(stride),
            "padding": padding,
            "output_hwc": [oh, ow, co],
            "input": f32list(x),
            "filter": f32list(f),
            "bias": f32list(b),
            "dy": f32list(dy),
            "output": f32list(y),
            "d_input": f32list(dx),
            "d_filter": f32list(df),
            "d_bias": f32list(db),
        })
    write(name, cases)


def gen_conv2d():
    gen_conv2d_file("conv2d", CONV_CASES)


def gen_conv2d_3x3_same():
    gen_conv2d_file("conv2d_3x3_same", CONV_3X3_SAME_CASES)


CONV_U8_CASES = [
    ("seed_conv1_20x20x3_k5_s4_same_b2", 2, (20, 20, 3), (5, 5), 8, (4, 4), "SAME"),
    ("9x7x3_k3_s2_valid", 1, (9, 7, 3), (3, 3), 4, (2, 2), "VALID"),
    ("11x11x1_k5_s1_same", 1, (11, 11, 1), (5, 5), 1, (1, 1), "SAME"),
]


def gen_conv2d_u8():
    rng = np.random.default_rng(SEEDS["conv2d_u8"])
    cases = []
    for name, batch, (h, w, c), (kh, kw), co, stride, padding in CONV_U8_CASES:
        x = rng.integers(0, 256, size=(batch, h, w, c), dtype=np.uint8)
        x.flat[0], x.flat[1] = 0, 255  # both ends of the byte range
        f = normal(rng, (kh, kw, c, co), 1.0 / np.sqrt(kh * kw * c))
        b = normal(rng, (co,), 0.5)
        ft, bt = tf.constant(f), tf.constant(b)
        with tf.GradientTape() as tape:
            tape.watch([ft, bt])
            xf = (tf.cast(tf.constant(x), tf.float32) - 128.0) / 255.0
            y = conv_forward(xf, ft, bt, stride, padding)
        dy = normal(rng, tuple(y.shape))
        df, db = tape.gradient(y, [ft, bt], output_gradients=tf.constant(dy))
        oh, ow = int(y.shape[1]), int(y.shape[2])
        cases.append({
            "name": name,
            "batch": batch,
            "input_hwc": [h, w, c],
            "kernel": [kh, kw],
            "c_out": co,
            "stride": list(stride),
            "padding": padding,
            "output_hwc": [oh, ow, co],
            "input": [int(v) for v in x.ravel()],
            "filter": f32list(f),
            "bias": f32list(b),
            "dy": f32list(dy),
            "output": f32list(y),
            "d_filter": f32list(df),
            "d_bias": f32list(db),
        })
    write("conv2d_u8", cases)


# ---------------------------------------------------------------------------------------------
# LRN

SEED_ALPHA = 0.001 / 9.0

LRN_CASES = [
    # (name, (n, h, w, depth), depth_radius, bias, alpha, beta, input scale, strong)
    ("d1_r0_strong_b075", (2, 2, 3, 1), 0, 1.0, 0.5, 0.75, 1.5, True),
    ("d1_r5_strong_b05", (1, 3, 2, 1), 5, 1.0, 0.5, 0.5, 1.5, True),
    ("d3_r2_strong_b1", (2, 2, 2, 3), 2, 1.0, 0.5, 1.0, 1.0, True),
    ("d3_r5_seed", (1, 3, 3, 3), 5, 1.0, SEED_ALPHA, 0.75, 1.0, False),
    ("d7_r1_strong_b075", (1, 2, 3, 7), 1, 1.0, 0.5, 0.75, 1.0, True),
    ("d7_r3_strong_b05", (2, 2, 1, 7), 3, 1.0, 0.4, 0.5, 1.0, True),
    ("d16_r4_seed", (2, 2, 2, 16), 4, 1.0, SEED_ALPHA, 0.75, 1.0, False),
    # Large activations (as after the seed's ReLU conv) so the seed's tiny alpha does something.
    ("d16_r4_seed_large", (1, 2, 3, 16), 4, 1.0, SEED_ALPHA, 0.75, 30.0, False),
    ("d16_r5_strong_b1", (1, 3, 2, 16), 5, 1.0, 0.5, 1.0, 1.0, True),
    ("d16_r1_strong_b05", (1, 2, 2, 16), 1, 1.0, 0.6, 0.5, 1.0, True),
    ("d20_r4_strong_b075", (2, 2, 2, 20), 4, 1.0, 0.5, 0.75, 1.0, True),
    ("d20_r2_bias2_b075", (1, 2, 3, 20), 2, 2.0, 0.3, 0.75, 1.5, True),
    ("d20_r0_strong_b1", (1, 3, 2, 20), 0, 1.0, 0.5, 1.0, 1.0, True),
    ("d20_r3_seed", (1, 2, 2, 20), 3, 1.0, SEED_ALPHA, 0.75, 1.0, False),
]


def gen_lrn():
    rng = np.random.default_rng(SEEDS["lrn"])
    cases = []
    for name, shape, r, bias, alpha, beta, scale, strong in LRN_CASES:
        x = normal(rng, shape, scale)
        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = tf.nn.lrn(xt, depth_radius=r, bias=bias, alpha=alpha, beta=beta)
        dy = normal(rng, shape)
        dx = tape.gradient(y, xt, output_gradients=tf.constant(dy))
        change = float(np.mean(np.abs(y.numpy() - x) / np.abs(x)))
        if strong:
            assert change >= 0.10, f"{name}: LRN changes its input by only {change:.3f}"
        n, h, w, d = shape
        cases.append({
            "name": name,
            "rows": n * h * w,
            "depth": d,
            "depth_radius": r,
            "bias": f32(bias),
            "alpha": f32(alpha),
            "beta": f32(beta),
            "mean_relative_change": round(change, 4),
            "input": f32list(x),
            "dy": f32list(dy),
            "output": f32list(y),
            "d_input": f32list(dx),
        })
    write("lrn", cases)


# ---------------------------------------------------------------------------------------------
# max pool

POOL_CASES = [
    # (name, batch, (h, w, c), (wh, ww), (sh, sw), padding)
    ("seed_pool1_11x11x4_w3_s2_valid_b2", 2, (11, 11, 4), (3, 3), (2, 2), "VALID"),
    ("seed_pool3_5x5x3_w3_s2_valid", 1, (5, 5, 3), (3, 3), (2, 2), "VALID"),
    ("8x8x2_w2_s2_same", 1, (8, 8, 2), (2, 2), (2, 2), "SAME"),
    ("7x9x3_w2_s2_same_b2", 2, (7, 9, 3), (2, 2), (2, 2), "SAME"),
    ("7x7x3_w3_s2_same", 1, (7, 7, 3), (3, 3), (2, 2), "SAME"),
    ("11x9x5_w3_s2_same_b2", 2, (11, 9, 5), (3, 3), (2, 2), "SAME"),
    ("5x6x4_w3_s1_same", 1, (5, 6, 4), (3, 3), (1, 1), "SAME"),
    ("4x4x1_w3_s1_same_b2", 2, (4, 4, 1), (3, 3), (1, 1), "SAME"),
]


def gen_max_pool():
    rng = np.random.default_rng(SEEDS["max_pool"])
    cases = []
    for name, batch, (h, w, c), win, stride, padding in POOL_CASES:
        x = normal(rng, (batch, h, w, c))
        assert len(np.unique(x)) == x.size, "ties would make the gradient ambiguous"
        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = tf.nn.max_pool2d(xt, ksize=list(win), strides=list(stride), padding=padding)
        dy = normal(rng, tuple(y.shape))
        dx = tape.gradient(y, xt, output_gradients=tf.constant(dy))
        cases.append({
            "name": name,
            "batch": batch,
            "input_hwc": [h, w, c],
            "window": list(win),
            "stride": list(stride),
            "padding": padding,
            "output_hwc": [int(y.shape[1]), int(y.shape[2]), c],
            "input": f32list(x),
            "dy": f32list(dy),
            "output": f32list(y),
            "d_input": f32list(dx),
        })
    write("max_pool", cases)


# ---------------------------------------------------------------------------------------------
# ReLU + bias_add, dense


def gen_relu_bias():
    rng = np.random.default_rng(SEEDS["relu_bias"])
    cases = []
    # (name, shape); the last axis is the channel axis that the bias runs along.
    for name, shape in [("rows1_c1", (1, 1)), ("rows5_c7", (5, 7)),
                        ("nhwc_2x3x3x5", (2, 3, 3, 5)), ("rows33_c16", (33, 16))]:
        x = normal(rng, shape)
        b = normal(rng, (shape[-1],), 0.5)
        xt, bt = tf.constant(x), tf.constant(b)
        with tf.GradientTape() as tape:
            tape.watch([xt, bt])
            y = tf.nn.relu(tf.nn.bias_add(xt, bt))
        dy = normal(rng, shape)
        dx, db = tape.gradient(y, [xt, bt], output_gradients=tf.constant(dy))
        cases.append({
            "name": name,
            "rows": int(np.prod(shape[:-1])),
            "channels": shape[-1],
            "input": f32list(x),
            "bias": f32list(b),
            "dy": f32list(dy),
            "output": f32list(y),
            "d_input": f32list(dx),
            "d_bias": f32list(db),
        })
    write("relu_bias", cases)


def gen_dense():
    rng = np.random.default_rng(SEEDS["dense"])
    cases = []
    for name, batch, n_in, n_out in [("b1_in1_out1", 1, 1, 1), ("b3_in7_out5", 3, 7, 5),
                                     ("b4_in33_out16", 4, 33, 16), ("b2_in64_out1", 2, 64, 1),
                                     ("b5_in16_out19", 5, 16, 19)]:
        x = normal(rng, (batch, n_in))
        wts = normal(rng, (n_in, n_out), 1.0 / np.sqrt(n_in))
        b = normal(rng, (n_out,), 0.5)
        xt, wt, bt = tf.constant(x), tf.constant(wts), tf.constant(b)
        with tf.GradientTape() as tape:
            tape.watch([xt, wt, bt])
            y = tf.matmul(xt, wt) + bt
        dy = normal(rng, (batch, n_out))
        dx, dw, db = tape.gradient(y, [xt, wt, bt], output_gradients=tf.constant(dy))
        cases.append({
            "name": name,
            "batch": batch,
            "inputs": n_in,
            "outputs": n_out,
            "input": f32list(x),
            "weights": f32list(wts),
            "bias": f32list(b),
            "dy": f32list(dy),
            "output": f32list(y),
            "d_input": f32list(dx),
            "d_weights": f32list(dw),
            "d_bias": f32list(db),
        })
    write("dense", cases)


# ---------------------------------------------------------------------------------------------
# losses


def gen_loss():
    rng = np.random.default_rng(SEEDS["loss"])
    cases = []
    for kind in ("weighted_abs", "mse"):
        for n in (1, 7, 64):
            p = rng.uniform(-1, 1, n).astype(np.float32)
            y = rng.uniform(-1, 1, n).astype(np.float32)
            c = rng.uniform(0, 1, n).astype(np.float32)
            assert np.all(p != y), "no exact zeros in p - y (TF's gradient is NaN there)"
            pt, yt, ct = tf.constant(p), tf.constant(y), tf.constant(c)
            with tf.GradientTape() as tape:
                tape.watch(pt)
                if kind == "weighted_abs":
                    # As the seed writes it.
                    loss = tf.reduce_mean(tf.multiply(tf.sqrt(tf.square(pt - yt)), ct))
                else:
                    loss = tf.reduce_mean(tf.square(pt - yt))
            dp = tape.gradient(loss, pt)
            case = {
                "name": f"{kind}_n{n}",
                "kind": kind,
                "pred": f32list(p),
                "target": f32list(y),
                "value": f32(loss.numpy()),
                "d_pred": f32list(dp),
            }
            if kind == "weighted_abs":
                case["confidence"] = f32list(c)
            cases.append(case)
    write("loss", cases)


def gen_softmax_xent():
    """`tf.nn.sparse_softmax_cross_entropy_with_logits`, summed and divided by `mean_over`
    (`tf.reduce_mean` when `mean_over` is the batch), and its gradient w.r.t. the logits."""
    rng = np.random.default_rng(SEEDS["softmax_xent"])
    cases = []
    # (batch, classes, logit scale, mean_over): 12 classes as the keyword-spotting example;
    # a scale of 40 makes exp overflow without the max shift; mean_over > batch is a
    # micro-batch's share.
    for n, k, scale, mean_over in ((1, 2, 1.0, 1), (3, 5, 3.0, 3), (16, 12, 2.0, 16),
                                   (4, 12, 40.0, 4), (3, 12, 1.0, 8)):
        z = normal(rng, (n, k), scale)
        labels = rng.integers(0, k, n).astype(np.int32)
        zt = tf.constant(z)
        with tf.GradientTape() as tape:
            tape.watch(zt)
            xent = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=zt)
            loss = tf.reduce_sum(xent) / float(mean_over)
        dz = tape.gradient(loss, zt)
        cases.append({
            "name": f"b{n}_k{k}_scale{scale:g}_mean{mean_over}",
            "classes": k,
            "mean_over": mean_over,
            "logits": f32list(z),
            "labels": [int(v) for v in labels],
            "value": f32(loss.numpy()),
            "d_logits": f32list(dz),
        })
    write("softmax_xent", cases)


# ---------------------------------------------------------------------------------------------
# optimisers (TF1 graph mode)

STEPS = 10


def run_v1_optimizer(make_opt, init, grads, slot_names):
    """Applies `grads[t]` at step t with a TF1 optimiser; returns params (and slots) per step."""
    graph = tf.Graph()
    with graph.as_default():
        var = tf.compat.v1.Variable(init, dtype=tf.float32)
        g_ph = tf.compat.v1.placeholder(tf.float32, shape=init.shape)
        opt = make_opt()
        train = opt.apply_gradients([(g_ph, var)])
        slots = [opt.get_slot(var, s) for s in slot_names]
        params, slot_vals = [], {s: [] for s in slot_names}
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            for g in grads:
                sess.run(train, {g_ph: g})
                params.append(f32list(sess.run(var)))
                for s, sv in zip(slot_names, slots):
                    slot_vals[s].append(f32list(sess.run(sv)))
    return params, slot_vals


def step_grads(rng, n, scales):
    gs = []
    for t in range(STEPS):
        g = normal(rng, (n,)) * np.float32(scales[t % len(scales)])
        gs.append(g.astype(np.float32))
    return gs


def adam_inputs(rng):
    """(name, lr, initial values, per-step gradients) of each Adam case, drawn from `rng` in case
    order: the cases both Adams are checked on."""
    for name, n, lr, init_scale, scales, zero_some in [
        ("n13_lr1e-2", 13, 0.01, 1.0, [1.0], False),
        # The seed's learning rate on Xavier-sized weights.
        ("n9_lr1e-4_seed", 9, 1e-4, 0.03, [1.0, 0.1], False),
        # Gradients spanning 1e-3..1e2 and exact zeros (v stays 0 until a non-zero arrives).
        ("n6_lr1e-1_scales", 6, 0.1, 1.0, [1e-3, 1.0, 1e2, 0.5], True),
    ]:
        init = normal(rng, (n,), init_scale)
        grads = step_grads(rng, n, scales)
        if zero_some:
            for t in range(0, STEPS, 2):
                grads[t][0] = 0.0
            for t in range(STEPS):
                grads[t][1] = 0.0
        yield name, lr, init, grads


def gen_adam():
    rng = np.random.default_rng(SEEDS["adam"])
    cases = []
    for name, lr, init, grads in adam_inputs(rng):
        params, slots = run_v1_optimizer(
            lambda lr=lr: tf.compat.v1.train.AdamOptimizer(lr), init, grads, ["m", "v"])
        cases.append({
            "name": name,
            "lr": f32(lr),
            "beta1": f32(0.9),
            "beta2": f32(0.999),
            "epsilon": f32(1e-8),
            "initial": f32list(init),
            "grads": [f32list(g) for g in grads],
            "params": params,
            "m": slots["m"],
            "v": slots["v"],
        })
    write("adam", cases, {"optimizer": "tf.compat.v1.train.AdamOptimizer (graph mode)"})


def gen_adam_keras():
    """Keras 3's `tf.keras.optimizers.Adam`, applied eagerly (as a custom training loop or
    `model.fit` without XLA does): its own arithmetic, not TF1's `ApplyAdam` kernel."""
    import keras

    rng = np.random.default_rng(SEEDS["adam_keras"])
    cases = []
    for name, lr, init, grads in adam_inputs(rng):
        opt = tf.keras.optimizers.Adam(learning_rate=lr)  # beta 0.9, 0.999, epsilon 1e-7
        var = tf.Variable(init)
        params, ms, vs = [], [], []
        for g in grads:
            opt.apply_gradients([(tf.constant(g), var)])
            params.append(f32list(var.numpy()))
            ms.append(f32list(opt._momentums[0].numpy()))
            vs.append(f32list(opt._velocities[0].numpy()))
        cases.append({
            "name": name,
            "lr": f32(lr),
            "beta1": opt.beta_1,
            "beta2": opt.beta_2,
            "epsilon": opt.epsilon,
            "initial": f32list(init),
            "grads": [f32list(g) for g in grads],
            "params": params,
            "m": ms,
            "v": vs,
        })
    write("adam_keras", cases, {
        "optimizer": "tf.keras.optimizers.Adam (Keras 3, eager apply_gradients)",
        "keras": keras.__version__,
    })


def gen_momentum():
    rng = np.random.default_rng(SEEDS["momentum"])
    cases = []
    for name, n, lr, nesterov, scales in [
        ("n11_lr1e-2", 11, 0.01, False, [1.0]),
        ("n11_lr1e-2_nesterov", 11, 0.01, True, [1.0]),
        ("n5_lr1e-1_scales", 5, 0.1, False, [1e-2, 1.0, 10.0]),
        ("n5_lr1e-1_scales_nesterov", 5, 0.1, True, [1e-2, 1.0, 10.0]),
    ]:
        init = normal(rng, (n,))
        grads = step_grads(rng, n, scales)
        params, slots = run_v1_optimizer(
            lambda lr=lr, nesterov=nesterov: tf.compat.v1.train.MomentumOptimizer(
                lr, 0.9, use_nesterov=nesterov),
            init, grads, ["momentum"])
        cases.append({
            "name": name,
            "lr": f32(lr),
            "momentum": f32(0.9),
            "nesterov": nesterov,
            "initial": f32list(init),
            "grads": [f32list(g) for g in grads],
            "params": params,
            "accum": slots["momentum"],
        })
    write("momentum", cases, {"optimizer": "tf.compat.v1.train.MomentumOptimizer (graph mode)"})


def gen_clip():
    rng = np.random.default_rng(SEEDS["clip"])
    cases = []
    for name, shapes, scale, clip_norm in [
        ("three_tensors_clipped", [(3, 3, 2, 4), (4,), (5, 2)], 1.0, 2.0),
        ("two_tensors_unclipped", [(7,), (2, 3)], 0.1, 5.0),
        ("one_tensor_large_clipped", [(40,)], 100.0, 1.0),
    ]:
        ts = [normal(rng, s, scale) for s in shapes]
        clipped, norm = tf.clip_by_global_norm([tf.constant(t) for t in ts], clip_norm)
        cases.append({
            "name": name,
            "shapes": [list(s) for s in shapes],
            "clip_norm": f32(clip_norm),
            "grads": f32list(np.concatenate([t.ravel() for t in ts])),
            "norm": f32(norm.numpy()),
            "clipped": f32list(np.concatenate([c.numpy().ravel() for c in clipped])),
        })
    write("clip", cases, {"op": "tf.clip_by_global_norm (tensors flattened into one slice)"})


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    only = set(sys.argv[1:])
    for name, fn in [("conv2d", gen_conv2d), ("conv2d_3x3_same", gen_conv2d_3x3_same),
                     ("conv2d_u8", gen_conv2d_u8), ("lrn", gen_lrn),
                     ("max_pool", gen_max_pool), ("relu_bias", gen_relu_bias),
                     ("dense", gen_dense), ("loss", gen_loss), ("adam", gen_adam),
                     ("adam_keras", gen_adam_keras), ("momentum", gen_momentum),
                     ("clip", gen_clip), ("softmax_xent", gen_softmax_xent)]:
        if not only or name in only:
            fn()


if __name__ == "__main__":
    main()
