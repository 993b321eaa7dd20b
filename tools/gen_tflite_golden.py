#!/usr/bin/env python3
"""Writes the TFLite int8 golden vectors for `tests/golden_tflite.rs`.

Each case is a one-op Keras model (Conv2D, Dense or MaxPool2D) converted with TensorFlow's
converter to full-integer int8 (representative dataset, int8 input and output), then run by
`tf.lite.Interpreter` with the *reference* kernels
(`experimental_op_resolver_type=OpResolverType.BUILTIN_REF`). The fixture records, per case,
everything a board would be given — float scales, zero points, int8 weights (HWIO / [in, out],
Valence's layouts), int32 bias, the fused activation — plus the int8 input and TFLite's exact
int8 output. The Rust side derives multipliers and activation ranges from the float scales with
its own prepare functions and must reproduce every output byte.

To make the activation ranges and zero points bite, some cases overwrite the output tensor's
(scale, zero point) in the converted flatbuffer before running it (a valid model: the kernel
simply requantises to other parameters); without that, a fused ReLU's range is always the
whole int8 range because the converter calibrates the output after the ReLU.

The `rounding_probe` cases are large enough that a kernel rounding its requantisation the other
way fails them: with TensorFlow 2.21, CONV_2D rounds twice (gemmlowp's SaturatingRoundingDoubling-
HighMul then RoundingDivideByPOT; rounding once disagrees on 2 of 16 384 outputs) while
FULLY_CONNECTED rounds once, `(x*m + 2^(30-shift)) >> (31-shift)` (rounding twice disagrees on 4 of
3 072, a 16-bit reduced multiplier on 1).

Run: TF_ENABLE_ONEDNN_OPTS=0 /opt/tfvenv/bin/python tools/gen_tflite_golden.py
Writes tests/fixtures/tflite_conv2d.json, tflite_dense.json, tflite_max_pool.json.
"""
import json
import os
import sys

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.lite.python import schema_py_generated as schema  # noqa: E402
from tensorflow.lite.tools import flatbuffer_utils  # noqa: E402

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")
ACT = {
    schema.ActivationFunctionType.NONE: "none",
    schema.ActivationFunctionType.RELU: "relu",
    schema.ActivationFunctionType.RELU6: "relu6",
    schema.ActivationFunctionType.RELU_N1_TO_1: "relu_n1_to_1",
}


def f32(x):
    """A float32 value as the JSON double that holds it exactly."""
    return float(np.float32(x))


def convert(model, rep, per_channel_dense=True):
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    conv._experimental_disable_per_channel_quantization_for_dense_layers = not per_channel_dense
    return conv.convert()


def rewrite_output(flat, scale, zero_point):
    """Overwrites the quantisation of the (single) op's output tensor."""
    m = flatbuffer_utils.convert_bytearray_to_object(flat)
    sg = m.subgraphs[0]
    t = sg.tensors[sg.operators[0].outputs[0]]
    t.quantization.scale = [scale]
    t.quantization.zeroPoint = [zero_point]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(m))


def run(flat, x_q):
    """Runs the model with the reference kernels; returns (interpreter, op, output)."""
    m = flatbuffer_utils.convert_bytearray_to_object(flat)
    ops = m.subgraphs[0].operators
    assert len(ops) == 1, f"expected one op, got {len(ops)}"
    op = ops[0]
    interp = tf.lite.Interpreter(
        model_content=flat,
        experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF,
    )
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    assert inp["dtype"] == np.int8
    interp.set_tensor(inp["index"], x_q)
    interp.invoke()
    out = interp.get_output_details()[0]
    assert out["dtype"] == np.int8
    return interp, op, interp.get_tensor(out["index"]).copy()


def qparams(interp, index):
    d = next(t for t in interp.get_tensor_details() if t["index"] == index)
    q = d["quantization_parameters"]
    return [f32(s) for s in q["scales"]], [int(z) for z in q["zero_points"]]


def activation(op):
    opts = op.builtinOptions
    return ACT[opts.fusedActivationFunction] if hasattr(opts, "fusedActivationFunction") else "none"


def common(interp, op, x_q, y_q):
    in_s, in_z = qparams(interp, op.inputs[0])
    out_s, out_z = qparams(interp, op.outputs[0])
    return {
        "input_scale": in_s[0],
        "input_zero_point": in_z[0],
        "output_scale": out_s[0],
        "output_zero_point": out_z[0],
        "activation": activation(op),
        "input": x_q.reshape(-1).astype(int).tolist(),
        "output": y_q.reshape(-1).astype(int).tolist(),
    }


def rep_data(rng, shape, lo, hi):
    def gen():
        for _ in range(16):
            yield [rng.uniform(lo, hi, size=shape).astype(np.float32)]

    return gen


def conv_case(rng, name, batch, h, w, c_in, kh, kw, c_out, sh, sw, padding, act,
              lo=-1.0, hi=1.0, out_q=None, gain=1.0):
    x_in = tf.keras.Input(shape=(h, w, c_in), batch_size=batch)
    layer = tf.keras.layers.Conv2D(c_out, (kh, kw), strides=(sh, sw), padding=padding,
                                   activation=act)
    model = tf.keras.Model(x_in, layer(x_in))
    # Per-channel magnitudes spread over two decades, so the per-channel scales differ.
    mag = gain * np.exp(rng.uniform(np.log(0.02), np.log(2.0), size=c_out)).astype(np.float32)
    f = (rng.standard_normal((kh, kw, c_in, c_out)) * mag).astype(np.float32)
    b = rng.uniform(-0.5, 0.5, size=c_out).astype(np.float32)
    layer.set_weights([f, b])
    flat = convert(model, rep_data(rng, (batch, h, w, c_in), lo, hi))
    if out_q is not None:
        flat = rewrite_output(flat, *out_q)
    x_q = rng.integers(-128, 128, size=(batch, h, w, c_in), dtype=np.int8)
    interp, op, y_q = run(flat, x_q)
    assert schema.BuiltinOperator.CONV_2D == flatbuffer_utils.convert_bytearray_to_object(
        flat).operatorCodes[op.opcodeIndex].builtinCode
    f_s, f_z = qparams(interp, op.inputs[1])
    assert all(z == 0 for z in f_z), "int8 conv weights are symmetric"
    assert len(f_s) == c_out
    filt = interp.get_tensor(op.inputs[1])  # OHWI
    bias = interp.get_tensor(op.inputs[2])
    assert filt.dtype == np.int8 and bias.dtype == np.int32
    case = {
        "name": name, "batch": batch, "h": h, "w": w, "c_in": c_in, "kh": kh, "kw": kw,
        "c_out": c_out, "stride": [sh, sw], "padding": padding.upper(),
        "filter_scales": f_s,
        "filter": np.transpose(filt, (1, 2, 3, 0)).reshape(-1).astype(int).tolist(),  # HWIO
        "bias": bias.astype(int).tolist(),
    }
    case.update(common(interp, op, x_q, y_q))
    assert tuple(y_q.shape[1:3]) == tuple(interp.get_output_details()[0]["shape"][1:3])
    return case


def dense_case(rng, name, batch, n_in, n_out, act, per_channel, lo=-1.0, hi=1.0, out_q=None,
               gain=1.0):
    x_in = tf.keras.Input(shape=(n_in,), batch_size=batch)
    layer = tf.keras.layers.Dense(n_out, activation=act)
    model = tf.keras.Model(x_in, layer(x_in))
    mag = gain * np.exp(rng.uniform(np.log(0.05), np.log(1.0), size=n_out)).astype(np.float32)
    wts = (rng.standard_normal((n_in, n_out)) * mag).astype(np.float32)
    b = rng.uniform(-0.5, 0.5, size=n_out).astype(np.float32)
    layer.set_weights([wts, b])
    flat = convert(model, rep_data(rng, (batch, n_in), lo, hi), per_channel_dense=per_channel)
    if out_q is not None:
        flat = rewrite_output(flat, *out_q)
    x_q = rng.integers(-128, 128, size=(batch, n_in), dtype=np.int8)
    interp, op, y_q = run(flat, x_q)
    f_s, f_z = qparams(interp, op.inputs[1])
    assert all(z == 0 for z in f_z)
    assert len(f_s) == (n_out if per_channel else 1), (name, len(f_s))
    wq = interp.get_tensor(op.inputs[1])  # [out, in]
    bias = interp.get_tensor(op.inputs[2])
    case = {
        "name": name, "batch": batch, "inputs": n_in, "outputs": n_out,
        "weight_scales": f_s,
        "weights": wq.T.reshape(-1).astype(int).tolist(),  # [in, out]
        "bias": bias.astype(int).tolist(),
    }
    case.update(common(interp, op, x_q, y_q))
    return case


def pool_case(rng, name, batch, h, w, c, ph, pw, sh, sw, padding):
    x_in = tf.keras.Input(shape=(h, w, c), batch_size=batch)
    y = tf.keras.layers.MaxPool2D((ph, pw), strides=(sh, sw), padding=padding)(x_in)
    model = tf.keras.Model(x_in, y)
    flat = convert(model, rep_data(rng, (batch, h, w, c), -0.7, 1.3))
    x_q = rng.integers(-128, 128, size=(batch, h, w, c), dtype=np.int8)
    interp, op, y_q = run(flat, x_q)
    case = {
        "name": name, "batch": batch, "h": h, "w": w, "c": c, "window": [ph, pw],
        "stride": [sh, sw], "padding": padding.upper(),
    }
    case.update(common(interp, op, x_q, y_q))
    return case


def main():
    rng = np.random.default_rng(20240521)
    relu6 = tf.nn.relu6
    conv = [
        # name, batch, h, w, c_in, kh, kw, c_out, sh, sw, padding, act, [lo, hi, out_q]
        ("c1_same_s1", 1, 5, 5, 1, 3, 3, 1, 1, 1, "same", None),
        ("odd_same_s2", 1, 7, 9, 3, 3, 3, 4, 2, 2, "same", None),
        ("valid_s1", 2, 6, 5, 2, 3, 2, 3, 1, 1, "valid", None),
        ("valid_s2x3", 1, 11, 10, 3, 4, 3, 5, 2, 3, "valid", None),
        ("same_s4_5x5_seedlike", 1, 13, 13, 3, 5, 5, 8, 4, 4, "same", "relu"),
        ("same_uneven_pad", 1, 7, 5, 2, 4, 4, 3, 2, 1, "same", None),
        ("cout17", 1, 6, 6, 3, 3, 3, 17, 1, 1, "same", "relu"),
        ("cin17_cout20", 1, 5, 4, 17, 3, 3, 20, 1, 2, "same", None),
        ("cin33_1x1", 2, 4, 3, 33, 1, 1, 18, 1, 1, "valid", None),
        ("kernel_larger_than_input_same", 1, 2, 3, 2, 5, 5, 3, 1, 1, "same", None),
        ("window_below_stride", 1, 10, 9, 2, 1, 2, 4, 3, 4, "same", None),
        ("relu6_calibrated", 1, 6, 7, 3, 3, 3, 6, 1, 1, "same", relu6, 0.0, 2.0),
        ("asym_input_zp", 1, 6, 6, 4, 3, 3, 5, 1, 1, "same", None, -0.2, 3.0),
        ("neg_input_zp", 1, 6, 6, 4, 2, 2, 5, 2, 2, "valid", None, -3.0, 0.1),
        # Rewritten output (scale, zero point): the activation range is narrower than int8.
        ("relu_out_zp_m20", 1, 7, 7, 3, 3, 3, 6, 1, 1, "same", "relu", -1.0, 1.0, (0.02, -20)),
        ("relu_out_zp_40", 2, 5, 6, 5, 3, 3, 9, 2, 1, "same", "relu", -1.0, 1.0, (0.03, 40)),
        # act_max = -100 + round(6 / 0.04) = 50 and 10 + round(6 / 0.1) = 70: with the weights
        # scaled up (gain), outputs above 6.0 are clamped there, below int8's 127.
        ("relu6_out_zp_m100", 1, 6, 6, 3, 3, 3, 7, 1, 1, "same", relu6, -1.0, 1.0,
         (0.04, -100), 4.0),
        ("relu6_out_zp_10", 1, 8, 5, 2, 3, 2, 4, 1, 1, "valid", relu6, -1.0, 1.0, (0.1, 10), 4.0),
        ("none_out_zp_127", 1, 5, 5, 3, 3, 3, 4, 1, 1, "same", None, -1.0, 1.0, (0.04, 127)),
        ("none_out_small_scale", 1, 5, 5, 3, 3, 3, 4, 2, 2, "same", None, -1.0, 1.0,
         (0.002, -3)),
        # Enough outputs (16 384) that rounding once instead of twice changes some of them.
        ("rounding_probe", 2, 16, 16, 8, 3, 3, 32, 1, 1, "same", None),
    ]
    cases = []
    for c in conv:
        args = list(c[1:12])
        kw = {}
        if len(c) > 12:
            kw["lo"], kw["hi"] = c[12], c[13]
        if len(c) > 14:
            kw["out_q"] = c[14]
        if len(c) > 15:
            kw["gain"] = c[15]
        cases.append(conv_case(rng, c[0], *args, **kw))
        print("conv", c[0], file=sys.stderr)
    dump("tflite_conv2d.json", cases)

    dense = [
        # name, batch, in, out, act, per_channel, [lo, hi, out_q]
        ("pt_1x1", 1, 1, 1, None, False),
        ("pt_small", 3, 7, 5, None, False),
        ("pt_relu", 2, 20, 17, "relu", False),
        # act_max = -30 + round(6 / 0.05) = 90.
        ("pt_relu6_out", 2, 16, 9, relu6, False, -1.0, 1.0, (0.05, -30), 4.0),
        ("pc_small", 3, 7, 5, None, True),
        ("pc_wide", 2, 33, 18, "relu", True, -0.3, 2.0),
        ("pc_relu_out", 2, 12, 6, "relu", True, -1.0, 1.0, (0.02, 15)),
        # Enough outputs that rounding twice instead of once changes some of them.
        ("pt_rounding_probe", 32, 64, 48, None, False),
        ("pc_rounding_probe", 32, 64, 48, None, True),
    ]
    cases = []
    for d in dense:
        kw = {}
        if len(d) > 6:
            kw["lo"], kw["hi"] = d[6], d[7]
        if len(d) > 8:
            kw["out_q"] = d[8]
        if len(d) > 9:
            kw["gain"] = d[9]
        cases.append(dense_case(rng, d[0], *d[1:6], **kw))
        print("dense", d[0], file=sys.stderr)
    dump("tflite_dense.json", cases)

    pool = [
        ("2x2_s2_valid", 1, 6, 6, 3, 2, 2, 2, 2, "valid"),
        ("3x3_s2_same_odd", 2, 7, 9, 5, 3, 3, 2, 2, "same"),
        ("3x2_s1x3_same", 1, 5, 8, 17, 3, 2, 1, 3, "same"),
        ("window_larger_than_input_same", 1, 2, 3, 2, 4, 5, 1, 2, "same"),
        ("1x1_s3", 1, 7, 7, 1, 1, 1, 3, 3, "valid"),
    ]
    cases = [pool_case(rng, p[0], *p[1:]) for p in pool]
    dump("tflite_max_pool.json", cases)


def dump(name, cases):
    doc = {
        "generator": "tools/gen_tflite_golden.py",
        "tensorflow": tf.__version__,
        "op_resolver": "BUILTIN_REF",
        "cases": cases,
    }
    os.makedirs(OUT_DIR, exist_ok=True)
    with open(os.path.join(OUT_DIR, name), "w") as fh:
        json.dump(doc, fh, separators=(",", ":"))
        fh.write("\n")


if __name__ == "__main__":
    main()
