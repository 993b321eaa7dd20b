//! int8 kernels against TensorFlow Lite's reference kernels, bit for bit.
//!
//! The fixtures (`tests/fixtures/tflite_*.json`) come from `tools/gen_tflite_golden.py`: one-op
//! models converted to full-integer int8 by TensorFlow's converter and run by
//! `tf.lite.Interpreter` with `OpResolverType.BUILTIN_REF`; each file names the TensorFlow
//! version. They carry the float scales, zero points, int8 weights, int32 biases, the fused
//! activation, the int8 input and TFLite's int8 output. This test derives the multipliers and
//! activation ranges with the crate's own *prepare* functions — what a board does — and
//! requires every output byte to be equal, from the portable kernels and from the DSP ones
//! (`quant::dsp`; here their portable equivalents of SMLAD and friends, the same code a
//! Cortex-M4 runs with the `dsp` feature).

use kernels::conv2d::Conv2d;
use kernels::dense::Dense;
use kernels::pool::Pool2d;
use kernels::quant::{
    conv2d_s8, conv2d_s8_smlad, conv2d_s8_smlad_cols_len, conv2d_s8_smlad_filter,
    conv2d_s8_smlad_scratch_len, dense_s8, dense_s8_smlad, dense_s8_smlad_cols_len,
    dense_s8_smlad_weights, max_pool_s8, max_pool_s8_simd, per_channel_multipliers, Activation,
    LayerQuant, QuantParams, QuantizedMultiplier,
};
use kernels::{Hwc, Padding};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture<C> {
    tensorflow: String,
    op_resolver: String,
    cases: Vec<C>,
}

#[derive(Deserialize)]
struct Quant {
    input_scale: f32,
    input_zero_point: i32,
    output_scale: f32,
    output_zero_point: i32,
    activation: String,
    input: Vec<i8>,
    output: Vec<i8>,
}

#[derive(Deserialize)]
struct ConvCase {
    name: String,
    batch: usize,
    h: usize,
    w: usize,
    c_in: usize,
    kh: usize,
    kw: usize,
    c_out: usize,
    stride: [usize; 2],
    padding: String,
    filter_scales: Vec<f32>,
    filter: Vec<i8>,
    bias: Vec<i32>,
    #[serde(flatten)]
    q: Quant,
}

#[derive(Deserialize)]
struct DenseCase {
    name: String,
    batch: usize,
    inputs: usize,
    outputs: usize,
    weight_scales: Vec<f32>,
    weights: Vec<i8>,
    bias: Vec<i32>,
    #[serde(flatten)]
    q: Quant,
}

#[derive(Deserialize)]
struct PoolCase {
    name: String,
    batch: usize,
    h: usize,
    w: usize,
    c: usize,
    window: [usize; 2],
    stride: [usize; 2],
    padding: String,
    #[serde(flatten)]
    q: Quant,
}

fn load<C: for<'de> Deserialize<'de>>(name: &str) -> Fixture<C> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let f: Fixture<C> = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(
        f.tensorflow, "2.21.0",
        "{name}: regenerate with the named TensorFlow"
    );
    assert_eq!(f.op_resolver, "BUILTIN_REF");
    assert!(!f.cases.is_empty());
    f
}

fn padding(s: &str) -> Padding {
    match s {
        "SAME" => Padding::Same,
        "VALID" => Padding::Valid,
        other => panic!("padding {other}"),
    }
}

impl Quant {
    fn params(&self) -> (QuantParams, QuantParams) {
        (
            QuantParams::new(self.input_scale, self.input_zero_point).unwrap(),
            QuantParams::new(self.output_scale, self.output_zero_point).unwrap(),
        )
    }

    fn layer(&self) -> (QuantParams, QuantParams, LayerQuant) {
        let act = match self.activation.as_str() {
            "none" => Activation::None,
            "relu" => Activation::Relu,
            "relu6" => Activation::Relu6,
            "relu_n1_to_1" => Activation::ReluN1To1,
            other => panic!("activation {other}"),
        };
        let (i, o) = self.params();
        (i, o, LayerQuant::new(&i, &o, act))
    }
}

/// Asserts byte equality, naming the first differing index.
#[track_caller]
fn assert_bytes(name: &str, got: &[i8], want: &[i8]) {
    assert_eq!(got.len(), want.len(), "{name}: length");
    if let Some(i) = (0..got.len()).find(|&i| got[i] != want[i]) {
        let n = got.iter().zip(want).filter(|(a, b)| a != b).count();
        panic!(
            "{name}: {n} bytes differ, first at {i}: got {}, TFLite {}",
            got[i], want[i]
        );
    }
}

#[test]
fn conv2d_s8_is_bit_exact_with_tflite_reference() {
    let f: Fixture<ConvCase> = load("tflite_conv2d.json");
    let (mut relu_clamped, mut per_channel) = (0, 0);
    for c in &f.cases {
        let (i, o, q) = c.q.layer();
        let mut m = vec![QuantizedMultiplier::ZERO; c.c_out];
        per_channel_multipliers(&i, &c.filter_scales, &o, &mut m).unwrap();
        per_channel += usize::from(m.windows(2).any(|w| w[0] != w[1]));
        relu_clamped += usize::from(q.range.min() > -128 || q.range.max() < 127);
        // Tiles: one pixel, an awkward size, and the whole batch at once.
        for tile in [1, 7, c.batch * c.h * c.w] {
            let g = Conv2d::new(
                Hwc::new(c.h, c.w, c.c_in),
                [c.kh, c.kw],
                c.c_out,
                c.stride,
                padding(&c.padding),
                tile,
            )
            .unwrap();
            let mut scratch = vec![0x55; g.scratch_len()];
            let mut y = vec![0x5a; c.q.output.len()];
            conv2d_s8(
                &g,
                &q,
                c.batch,
                &c.q.input,
                &c.filter,
                &c.bias,
                &m,
                &mut scratch,
                &mut y,
            )
            .unwrap();
            assert_bytes(&format!("{} (tile {tile})", c.name), &y, &c.q.output);
        }
        let g = Conv2d::new(
            Hwc::new(c.h, c.w, c.c_in),
            [c.kh, c.kw],
            c.c_out,
            c.stride,
            padding(&c.padding),
            1,
        )
        .unwrap();
        let mut filter = vec![0; c.filter.len()];
        conv2d_s8_smlad_filter(&g, &c.filter, &mut filter).unwrap();
        let mut scratch = vec![0x55; conv2d_s8_smlad_scratch_len(&g)];
        let mut cols = vec![0x5555; conv2d_s8_smlad_cols_len(&g)];
        let mut y = vec![0x5a; c.q.output.len()];
        conv2d_s8_smlad(
            &g,
            &q,
            c.batch,
            &c.q.input,
            &filter,
            &c.bias,
            &m,
            &mut scratch,
            &mut cols,
            &mut y,
        )
        .unwrap();
        assert_bytes(&format!("{} (dsp)", c.name), &y, &c.q.output);
    }
    // The sweep really covers narrowed activation ranges and distinct channel scales.
    assert!(relu_clamped >= 4, "{relu_clamped}");
    assert!(per_channel >= 10, "{per_channel}");
}

#[test]
fn dense_s8_is_bit_exact_with_tflite_reference() {
    let f: Fixture<DenseCase> = load("tflite_dense.json");
    let (mut pt, mut pc) = (0, 0);
    for c in &f.cases {
        let (i, o, q) = c.q.layer();
        let mut m = vec![QuantizedMultiplier::ZERO; c.weight_scales.len()];
        per_channel_multipliers(&i, &c.weight_scales, &o, &mut m).unwrap();
        if m.len() == 1 {
            pt += 1;
        } else {
            pc += 1;
        }
        let g = Dense::new(c.inputs, c.outputs).unwrap();
        let mut y = vec![0x5a; c.q.output.len()];
        dense_s8(&g, &q, c.batch, &c.q.input, &c.weights, &c.bias, &m, &mut y).unwrap();
        assert_bytes(&c.name, &y, &c.q.output);
        let mut w = vec![0; c.weights.len()];
        dense_s8_smlad_weights(&g, &c.weights, &mut w).unwrap();
        let mut cols = vec![0x5555; dense_s8_smlad_cols_len(&g)];
        let mut y = vec![0x5a; c.q.output.len()];
        dense_s8_smlad(
            &g, &q, c.batch, &c.q.input, &w, &c.bias, &m, &mut cols, &mut y,
        )
        .unwrap();
        assert_bytes(&format!("{} (dsp)", c.name), &y, &c.q.output);
    }
    assert!(pt >= 3 && pc >= 3, "per-tensor {pt}, per-channel {pc}");
}

#[test]
fn max_pool_s8_is_bit_exact_with_tflite_reference() {
    let f: Fixture<PoolCase> = load("tflite_max_pool.json");
    for c in &f.cases {
        // TFLite requires the pool's output to share the input's quantisation.
        let (i, o) = c.q.params();
        assert_eq!(i, o, "{}", c.name);
        assert_eq!(c.q.activation, "none");
        let g = Pool2d::new(
            Hwc::new(c.h, c.w, c.c),
            c.window,
            c.stride,
            padding(&c.padding),
        )
        .unwrap();
        let mut y = vec![0x5a; c.q.output.len()];
        max_pool_s8(&g, c.batch, &c.q.input, &mut y).unwrap();
        assert_bytes(&c.name, &y, &c.q.output);
        let mut y = vec![0x5a; c.q.output.len()];
        max_pool_s8_simd(&g, c.batch, &c.q.input, &mut y).unwrap();
        assert_bytes(&format!("{} (dsp)", c.name), &y, &c.q.output);
    }
}
