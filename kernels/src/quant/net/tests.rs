//! Tests of the model format and of int8 inference. References: values recomputed plainly in
//! the tests (f64), hand-written header bytes, and the f32 network for inference.

extern crate std;
use std::string::ToString;
use std::vec;
use std::vec::Vec;

use super::*;
use crate::data::{FrameSpec, Split, Synthetic};
use crate::net::valence::{layers, rgb};
use crate::net::{ArenaLayout, Inputs, Loss, Net, Network, ValenceConfig, KWS};
use crate::quant::{QuantParams, QuantizedMultiplier};
use crate::{KernelError, Portable};

/// The smallest network the topology allows (57 px frames), for byte-by-byte sweeps.
const MICRO: ValenceConfig = ValenceConfig {
    input: rgb(57),
    layers: &layers([2, 2, 3, 3, 3], [2, 2]),
    loss: Loss::WeightedAbs,
    tile: 4,
};

fn frames(cfg: &ValenceConfig, seed: u64, n: usize) -> Vec<u8> {
    let s = Synthetic::new(
        FrameSpec::new(cfg.input.h, cfg.input.w).unwrap(),
        seed,
        Split::Train,
    );
    let len = s.frame_len();
    let mut out = vec![0u8; n * len];
    for (i, f) in out.chunks_exact_mut(len).enumerate() {
        s.frame_u8(i as u64, f).unwrap();
    }
    out
}

/// A randomly initialised f32 network of `cfg` (with its hidden biases spread so that ReLUs
/// see both signs), its predictions on `n` frames, and the model file quantised from it.
struct Fixture {
    params: Vec<f32>,
    frames: Vec<u8>,
    f32_pred: Vec<f32>,
    ranges: RangeObserver,
    file: Vec<u8>,
}

fn fixture(cfg: &ValenceConfig, seed: u64, n: usize) -> Fixture {
    let layout = ArenaLayout::inference(cfg, n).unwrap();
    let mut arena = vec![0.0f32; layout.arena_len()];
    let mut net = Net::inference(cfg, n, &mut arena).unwrap();
    net.init_params(seed).unwrap();
    // The seed's output weights (σ = 1/1024) make every prediction ≈ 0; widen them so the
    // output varies across frames and tracking is measurable.
    let specs = *net.param_specs();
    let w = specs[specs.count() - 2];
    for v in &mut net.params_mut()[w.range()] {
        *v *= 300.0;
    }
    let frames = frames(cfg, seed, n);
    let mut ranges = RangeObserver::new();
    let f32_pred = net
        .forward(&Portable, &frames, &mut ranges)
        .unwrap()
        .to_vec();
    let params = net.params().to_vec();
    let mut file = vec![0u8; model_len(cfg).unwrap()];
    quantize_model(cfg, &params, &ranges, &mut file).unwrap();
    Fixture {
        params,
        frames,
        f32_pred,
        ranges,
        file,
    }
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// Rewrites the trailer so that a deliberately edited file passes the checksum.
fn reseal(file: &mut [u8]) {
    let body = file.len() - 4;
    let crc = crc32(&file[..body]);
    file[body..].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn header_bytes_by_hand() {
    let f = fixture(&ValenceConfig::TINY, 1, 2);
    let b = &f.file;
    assert_eq!(&b[..4], b"VQ8M");
    assert_eq!(&b[4..8], &[2, 0, 16, 0]);
    assert_eq!(le32(b, 8), 13, "layers");
    assert_eq!(le32(b, 12) as usize, b.len() - 16 - 4);
    // The input record: 64 × 64 × 3 u8.
    let input: Vec<u32> = (0..4).map(|k| le32(b, 16 + 4 * k)).collect();
    assert_eq!(input, [64, 64, 3, 0]);
    // conv1: op 0, ReLU, SAME; 5×5 kernel, stride 4, 8 channels.
    let conv1 = 32;
    assert_eq!(&b[conv1..conv1 + 4], &[0, 1, 0, 0]);
    let words: Vec<u32> = (0..7).map(|k| le32(b, conv1 + 4 + 4 * k)).collect();
    assert_eq!(words, [5, 5, 4, 4, 8, 0, 0]);
    // norm1: op 3, linear; depth radius 4 and the bits of 1.0, 0.001/9 (TensorFlow's: the
    // double rounded once), 0.75.
    let norm1 = conv1 + 32;
    assert_eq!(&b[norm1..norm1 + 4], &[3, 0, 0, 0]);
    let words: Vec<u32> = (0..4).map(|k| le32(b, norm1 + 4 + 4 * k)).collect();
    assert_eq!(words, [4, 1f32.to_bits(), 0x38e9_0453, 0.75f32.to_bits()]);
    // pool1: op 2, VALID, 3×3 window, stride 2.
    let pool1 = norm1 + 32;
    assert_eq!(&b[pool1..pool1 + 4], &[2, 0, 1, 0]);
    // softmax_linear: op 1, linear, 1 output.
    let out = 32 + 12 * 32;
    assert_eq!(&b[out..out + 8], &[1, 0, 0, 0, 1, 0, 0, 0]);
    // TINY: a 16 + 13·32-byte table, 14 activation records, 97 channels × 8 bytes, 7464
    // weights.
    assert_eq!(b.len(), 16 + 16 + 13 * 32 + 14 * 8 + 97 * 8 + 7464 + 4);
    assert_eq!(le32(b, b.len() - 4), crc32(&b[..b.len() - 4]));
}

#[test]
fn parameters_round_trip_within_half_a_step() {
    let cfg = ValenceConfig::TINY;
    let f = fixture(&cfg, 2, 4);
    let m = QuantModel::parse(&f.file, &cfg).unwrap();
    let plan = cfg.plan().unwrap();
    let specs = plan.params();
    // The u8 input's record is fixed; pools keep their input's; the rest are calibrated.
    assert_eq!(m.activation(0), QuantParams::new(1.0 / 255.0, 0).unwrap());
    for (l, pl) in plan.layers().iter().enumerate() {
        let want = match pl.layer.name {
            "pool1" | "pool2" | "pool3" => m.activation(l),
            _ => f.ranges.params(l + 1),
        };
        assert_eq!(m.activation(l + 1), want, "{}", pl.layer.name);
    }
    // A ReLU output's range starts at 0: zero point −128, scale max/255.
    let (_, hi) = f.ranges.range(1);
    assert_eq!(m.activation(1).zero_point(), -128);
    assert_eq!(m.activation(1).scale(), (f64::from(hi) / 255.0) as f32);
    let mut layers_with_params = 0;
    for (l, pl) in plan.layers().iter().enumerate() {
        let Some([wi, bi]) = pl.params else {
            assert!(m.layer(l).is_none());
            continue;
        };
        layers_with_params += 1;
        let (ws, bs) = (&specs[wi], &specs[bi]);
        let w = &f.params[ws.range()];
        let b = &f.params[bs.range()];
        let view = m.layer(l).unwrap();
        let c_out = view.channels();
        assert_eq!(c_out, bs.len);
        // Layer l's input is record l (the frame's for conv1).
        let s_in = f64::from(m.activation(l).scale());
        for (c, &b_c) in b.iter().enumerate() {
            let max_abs = (c..w.len())
                .step_by(c_out)
                .map(|k| f64::from(w[k]).abs())
                .fold(0.0, f64::max);
            let s = f64::from(view.weight_scale(c));
            assert!(s >= max_abs / 127.0 * (1.0 - 1e-7), "{l} {c}");
            for k in (c..w.len()).step_by(c_out) {
                let q = f64::from(view.weight_bytes()[k] as i8);
                assert!((q * s - f64::from(w[k])).abs() <= 0.5 * s * (1.0 + 1e-6));
            }
            let bias = f64::from(view.bias(c)) * s_in * s;
            assert!((bias - f64::from(b_c)).abs() <= 0.5 * s_in * s * (1.0 + 1e-6));
        }
    }
    assert_eq!(layers_with_params, 8);
}

#[test]
fn every_prefix_and_any_extra_byte_are_rejected() {
    let f = fixture(&MICRO, 3, 2);
    assert!(QuantModel::parse(&f.file, &MICRO).is_ok());
    for len in 0..f.file.len() {
        match QuantModel::parse(&f.file[..len], &MICRO) {
            Err(ModelError::Truncated { got, .. }) => assert_eq!(got, len),
            other => panic!("prefix {len}: {other:?}"),
        }
    }
    let mut long = f.file.clone();
    long.push(0);
    assert_eq!(
        QuantModel::parse(&long, &MICRO).unwrap_err(),
        ModelError::TrailingBytes {
            expected: f.file.len(),
            got: f.file.len() + 1
        }
    );
}

#[test]
fn every_byte_flip_is_rejected() {
    let f = fixture(&MICRO, 4, 2);
    let mut bad = f.file.clone();
    for i in 0..bad.len() {
        for mask in [0x01u8, 0x80, 0xFF] {
            bad[i] ^= mask;
            let e = QuantModel::parse(&bad, &MICRO).expect_err("a flipped byte must be rejected");
            match i {
                0..=3 => assert!(matches!(e, ModelError::BadMagic { .. })),
                4..=5 => assert!(matches!(e, ModelError::UnsupportedVersion { .. })),
                6..=7 => assert!(matches!(e, ModelError::HeaderLength { .. })),
                _ => {}
            }
            // The message never panics to format.
            let _ = e.to_string();
            bad[i] ^= mask;
        }
    }
    // A TINY file: every header byte and a spread of payload bytes.
    let t = fixture(&ValenceConfig::TINY, 4, 1);
    let mut bad = t.file.clone();
    for i in (0..64).chain((64..bad.len()).step_by(97)) {
        bad[i] ^= 0x10;
        assert!(
            QuantModel::parse(&bad, &ValenceConfig::TINY).is_err(),
            "byte {i}"
        );
        bad[i] ^= 0x10;
    }
}

#[test]
fn wrong_version_is_named() {
    let f = fixture(&MICRO, 5, 1);
    let mut bad = f.file.clone();
    bad[4..6].copy_from_slice(&1u16.to_le_bytes());
    reseal(&mut bad);
    let e = QuantModel::parse(&bad, &MICRO).unwrap_err();
    assert_eq!(
        e,
        ModelError::UnsupportedVersion {
            found: 1,
            supported: 2
        }
    );
    assert_eq!(
        e.to_string(),
        "unsupported model format version 1 (this build reads version 2)"
    );
    // A version-1 file's own header (magic, version 1, its 48-byte header) says the same.
    let v1 = [b'V', b'Q', b'8', b'M', 1, 0, 48, 0, 64, 0, 0, 0];
    assert_eq!(QuantModel::parse(&v1, &ValenceConfig::TINY).unwrap_err(), e);
    // Even with nothing after the version.
    assert_eq!(QuantModel::parse(&bad[..8], &MICRO).unwrap_err(), e);
    assert!(matches!(
        QuantModel::parse(b"PK\x03\x04zip!", &MICRO),
        Err(ModelError::BadMagic { found }) if &found == b"PK\x03\x04"
    ));
}

#[test]
fn checksummed_but_invalid_values_are_rejected() {
    let f = fixture(&MICRO, 6, 1);
    let edit = |at: usize, v: u32| {
        let mut b = f.file.clone();
        b[at..at + 4].copy_from_slice(&v.to_le_bytes());
        reseal(&mut b);
        QuantModel::parse(&b, &MICRO).unwrap_err()
    };
    // MICRO's 13 layers: a 16 + 13·32-byte table, then 14 activation records.
    let act = |i: usize| HEADER_LEN + 16 + 13 * 32 + 8 * i;
    // conv2 is layer 3, its output record 4.
    let conv2 = ModelError::InvalidQuant {
        tensor: "conv2",
        what: "scale or zero point",
    };
    assert_eq!(edit(act(4), 0f32.to_bits()), conv2);
    assert_eq!(edit(act(4), f32::NAN.to_bits()), conv2);
    assert_eq!(edit(act(4), (-1.0f32).to_bits()), conv2);
    assert_eq!(edit(act(4) + 4, 128), conv2);
    assert_eq!(edit(act(4) + 4, (-129i32) as u32), conv2);
    // The frame's record is fixed, and a pool keeps its input's.
    assert!(matches!(
        edit(act(0), 0.5f32.to_bits()),
        ModelError::InvalidQuant {
            tensor: "input",
            ..
        }
    ));
    assert!(matches!(
        edit(act(3) + 4, 5),
        ModelError::InvalidQuant {
            tensor: "pool1",
            ..
        }
    ));
    // conv1's first weight scale sits right after the activation records.
    let first_scale = act(14);
    assert_eq!(
        edit(first_scale, f32::INFINITY.to_bits()),
        ModelError::InvalidQuant {
            tensor: "conv1",
            what: "weight scale"
        }
    );
    // A scale so large that the multiplier exceeds 2^30.
    assert_eq!(
        edit(first_scale, 1e30f32.to_bits()),
        ModelError::InvalidQuant {
            tensor: "conv1",
            what: "rescaling multiplier"
        }
    );
    // The table: another input side, conv2 with 3 channels, a layer fewer.
    assert_eq!(edit(16, 64), ModelError::OtherInput);
    assert_eq!(
        edit(32 + 3 * 32 + 4 + 16, 3),
        ModelError::OtherLayer {
            index: 3,
            name: "conv2"
        }
    );
    assert_eq!(
        edit(8, 12),
        ModelError::LayerCount {
            found: 12,
            expected: 13
        }
    );
    // A payload length off by one no longer matches the file's length.
    let declared = le32(&f.file, 12);
    assert_eq!(
        edit(12, declared + 1),
        ModelError::Truncated {
            expected: f.file.len() + 1,
            got: f.file.len()
        }
    );
}

#[test]
fn a_model_of_another_network_names_the_first_layer_that_differs() {
    let f = fixture(&MICRO, 11, 1);
    let e = QuantModel::parse(&f.file, &ValenceConfig::TINY).unwrap_err();
    assert_eq!(e, ModelError::OtherInput);
    let same_input = ValenceConfig {
        input: rgb(57),
        ..ValenceConfig::TINY
    };
    let e = QuantModel::parse(&f.file, &same_input).unwrap_err();
    assert_eq!(
        e,
        ModelError::OtherLayer {
            index: 0,
            name: "conv1"
        }
    );
    assert_eq!(
        e.to_string(),
        "the model is for another network: its layer 0 differs from this network's `conv1`"
    );
    assert_eq!(
        QuantModel::parse(&f.file, &KWS).unwrap_err(),
        ModelError::LayerCount {
            found: 13,
            expected: 4
        }
    );
    // The names, tags, initialisers, loss and tile are not part of the int8 network.
    let retiled = ValenceConfig { tile: 7, ..MICRO };
    assert!(QuantModel::parse(&f.file, &retiled).is_ok());
}

#[test]
fn quantize_model_checks_its_arguments() {
    let cfg = MICRO;
    let f = fixture(&cfg, 7, 1);
    let mut out = vec![0u8; f.file.len() - 1];
    assert!(matches!(
        quantize_model(&cfg, &f.params, &f.ranges, &mut out),
        Err(ModelError::Argument(KernelError::Length { arg: "out", .. }))
    ));
    let mut out = vec![0u8; f.file.len()];
    assert!(matches!(
        quantize_model(&cfg, &f.params[1..], &f.ranges, &mut out),
        Err(ModelError::Argument(KernelError::Length {
            arg: "params",
            ..
        }))
    ));
    let mut p = f.params.clone();
    let last = p.len() - 2;
    p[last] = f32::NAN;
    assert_eq!(
        quantize_model(&cfg, &p, &f.ranges, &mut out),
        Err(ModelError::NonFinite {
            layer: "softmax_linear"
        })
    );
    // Deterministic: the same inputs give the same bytes.
    quantize_model(&cfg, &f.params, &f.ranges, &mut out).unwrap();
    assert_eq!(out, f.file);
}

#[test]
fn layout_of_tiny_by_hand() {
    let l = QuantLayout::new(&ValenceConfig::TINY, 1).unwrap();
    // Largest activation: the 64·64·3 frame; im2col: conv4's 16 pixels × 3·3·16; weights:
    // conv4's 3·3·16·16; LRN over 8 channels: window 8, S < 8·255² < 2^19 → 34·19.
    assert_eq!(l.activation_len, 12_288);
    assert_eq!(l.scratch_len, 2304);
    assert_eq!(l.weights_len, 2304);
    assert_eq!(l.lrn_table_len, 646);
    assert_eq!(l.channels, 97);
    assert_eq!(l.lrn_tables, 2);
    // The DSP kernels' q15 columns: two of conv3–5's 144-value patches, 72 words each.
    assert_eq!(l.cols_len, 144);
    assert_eq!(l.bytes_len(), 2 * 12_288 + 2304 + 2304);
    assert_eq!(l.words_len(), 2 * 646 + 97 + 144);
    assert_eq!(
        QuantLayout::new(&ValenceConfig::TINY, 0),
        Err(KernelError::Zero { arg: "batch" })
    );
}

struct Buffers {
    bytes: Vec<i8>,
    words: Vec<i32>,
    mult: Vec<QuantizedMultiplier>,
}

fn buffers(cfg: &ValenceConfig, batch: usize) -> Buffers {
    let l = QuantLayout::new(cfg, batch).unwrap();
    Buffers {
        bytes: vec![0x55; l.bytes_len()],
        words: vec![0x5555; l.words_len()],
        mult: vec![QuantizedMultiplier::ZERO; l.multipliers_len()],
    }
}

fn run(f: &Fixture, cfg: &ValenceConfig, batch: usize, frames: &[u8]) -> Vec<f32> {
    let model = QuantModel::parse(&f.file, cfg).unwrap();
    let mut b = buffers(cfg, batch);
    let mut net = QuantNet::new(model, batch, &mut b.bytes, &mut b.words, &mut b.mult).unwrap();
    let outputs = cfg.plan().unwrap().output_len();
    let mut out = vec![f32::NAN; frames.len() / cfg.frame_len().unwrap() * outputs];
    net.forward(frames, &mut out).unwrap();
    out
}

#[test]
fn int8_tracks_the_f32_network() {
    // Reference: the f32 network the model was quantised from, on the calibration frames.
    let cfg = ValenceConfig::TINY;
    let n = 16;
    let f = fixture(&cfg, 8, n);
    let q = run(&f, &cfg, n, &f.frames);
    let (lo, hi) = f
        .f32_pred
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let spread = f64::from(hi - lo);
    assert!(spread > 0.0);
    let step = f64::from(
        QuantModel::parse(&f.file, &cfg)
            .unwrap()
            .activation(13)
            .scale(),
    );
    let mut worst = 0.0f64;
    for (a, b) in q.iter().zip(&f.f32_pred) {
        worst = worst.max(f64::from(a - b).abs());
    }
    // Tolerance: 10 % of the spread of the f32 predictions plus two output steps.
    std::println!("worst |int8 − f32| {worst:.5}, spread {spread:.5}, step {step:.5}");
    assert!(worst <= 0.1 * spread + 2.0 * step, "{worst} vs {spread}");
}

#[test]
fn both_kernel_sets_give_the_same_bits() {
    // Reference: the portable kernels (each checked against TFLite's golden vectors); the DSP
    // ones (their portable equivalents here) on the same TINY model and frames, batches of 1
    // (one q15 column) and 3 (two, then one), must give the very same outputs.
    let cfg = ValenceConfig::TINY;
    let f = fixture(&cfg, 12, 3);
    let model = QuantModel::parse(&f.file, &cfg).unwrap();
    for (batch, frames) in [
        (1, &f.frames[..cfg.frame_len().unwrap()]),
        (3, &f.frames[..]),
    ] {
        let mut b = buffers(&cfg, batch);
        let mut net = QuantNet::new(model, batch, &mut b.bytes, &mut b.words, &mut b.mult).unwrap();
        assert_eq!(net.kernels(), Int8Kernels::DEFAULT);
        let mut out = [vec![f32::NAN; batch], vec![f32::NAN; batch]];
        for (k, o) in [Int8Kernels::Portable, Int8Kernels::Dsp]
            .into_iter()
            .zip(&mut out)
        {
            net.use_kernels(k);
            net.forward(frames, o).unwrap();
        }
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&out[0]), bits(&out[1]), "batch {batch}");
    }
}

#[test]
fn a_batch_gives_the_bits_of_single_frames() {
    let cfg = ValenceConfig::TINY;
    let f = fixture(&cfg, 9, 4);
    let all = run(&f, &cfg, 4, &f.frames);
    let len = cfg.frame_len().unwrap();
    for (i, frame) in f.frames.chunks_exact(len).enumerate() {
        let one = run(&f, &cfg, 1, frame);
        assert_eq!(one[0].to_bits(), all[i].to_bits());
    }
    // Fewer frames than the batch, in a batch-4 network.
    let two = run(&f, &cfg, 4, &f.frames[..2 * len]);
    assert_eq!(two, all[..2]);
}

#[test]
fn buffers_and_frames_are_checked() {
    let cfg = MICRO;
    let f = fixture(&cfg, 10, 2);
    let model = QuantModel::parse(&f.file, &cfg).unwrap();
    let mut b = buffers(&cfg, 2);
    let short = b.bytes.len() - 1;
    assert!(matches!(
        QuantNet::new(model, 2, &mut b.bytes[..short], &mut b.words, &mut b.mult),
        Err(KernelError::Length { arg: "bytes", .. })
    ));
    let short = b.words.len() - 1;
    assert!(matches!(
        QuantNet::new(model, 2, &mut b.bytes, &mut b.words[..short], &mut b.mult),
        Err(KernelError::Length { arg: "words", .. })
    ));
    assert!(matches!(
        QuantNet::new(model, 2, &mut b.bytes, &mut b.words, &mut []),
        Err(KernelError::Length {
            arg: "multipliers",
            ..
        })
    ));
    let mut net = QuantNet::new(model, 2, &mut b.bytes, &mut b.words, &mut b.mult).unwrap();
    let len = cfg.frame_len().unwrap();
    let mut out = [f32::NAN; 3];
    let frames = vec![0u8; 3 * len];
    for (fr, o) in [
        (&frames[..0], 0),
        (&frames[..len + 1], 1),
        (&frames[..3 * len], 3),
    ] {
        assert!(matches!(
            net.forward(fr, &mut out[..o]),
            Err(KernelError::Length { arg: "frames", .. })
        ));
    }
    assert!(matches!(
        net.forward(&frames[..len], &mut out[..2]),
        Err(KernelError::Length { arg: "out", .. })
    ));
    assert!(out.iter().all(|v| v.is_nan()), "nothing written on error");
}

#[test]
fn kws_f32_features_run_in_int8_and_track_the_f32_logits() {
    // Reference: the f32 KWS network the model was quantised from, on the calibration features.
    let net_table: Network = KWS;
    let n = 8;
    let layout = ArenaLayout::inference(&net_table, n).unwrap();
    let mut arena = vec![0.0f32; layout.arena_len()];
    let mut net = Net::inference(&net_table, n, &mut arena).unwrap();
    net.init_params(12).unwrap();
    let mut rng = crate::rng::Rng::new(12, 1);
    let x: Vec<f32> = (0..n * 49 * 10).map(|_| rng.next_normal()).collect();
    let mut ranges = RangeObserver::new();
    ranges.observe_input(&x);
    let want = net
        .forward_inputs(&Portable, Inputs::F32(&x), &mut ranges)
        .unwrap()
        .to_vec();
    assert_eq!(want.len(), n * 12);
    let mut file = vec![0u8; model_len(&net_table).unwrap()];
    quantize_model(&net_table, net.params(), &ranges, &mut file).unwrap();
    let model = QuantModel::parse(&file, &net_table).unwrap();
    let mut b = buffers(&net_table, n);
    let mut q = QuantNet::new(model, n, &mut b.bytes, &mut b.words, &mut b.mult).unwrap();
    let mut got = vec![f32::NAN; n * 12];
    q.forward_inputs(Inputs::F32(&x), &mut got).unwrap();
    let spread = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let step = model.activation(4).scale();
    let worst = got
        .iter()
        .zip(&want)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    // Tolerance: 10 % of the largest |logit| plus two output steps.
    assert!(worst <= 0.1 * spread + 2.0 * step, "{worst} vs {spread}");
    // u8 frames to an f32 network are refused.
    assert_eq!(
        q.forward(&[0u8; 490], &mut got[..12]),
        Err(KernelError::InvalidParam { arg: "input" })
    );
}
