//! Tests of the model format and of int8 inference. References: values recomputed plainly in
//! the tests (f64), hand-written header bytes, and the f32 network for inference.

extern crate std;
use std::string::ToString;
use std::vec;
use std::vec::Vec;

use super::*;
use crate::data::{FrameSpec, Split, Synthetic};
use crate::net::{ArenaLayout, Net, ValenceConfig};
use crate::quant::QuantizedMultiplier;
use crate::{KernelError, Portable};

/// The smallest network the topology allows (57 px frames), for byte-by-byte sweeps.
const MICRO: ValenceConfig = ValenceConfig {
    input: 57,
    conv: [2, 2, 3, 3, 3],
    dense: [2, 2],
    tile: 4,
};

fn frames(cfg: &ValenceConfig, seed: u64, n: usize) -> Vec<u8> {
    let s = Synthetic::new(
        FrameSpec::new(cfg.input, cfg.input).unwrap(),
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
    let w = specs[14];
    for v in &mut net.params_mut()[w.offset..w.offset + w.len] {
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
    assert_eq!(&b[4..8], &[1, 0, 48, 0]);
    let sizes: Vec<u32> = (0..10).map(|k| le32(b, 8 + 4 * k)).collect();
    assert_eq!(&sizes[..9], &[64, 8, 8, 16, 16, 16, 16, 16, 16]);
    assert_eq!(sizes[9] as usize, b.len() - 48 - 4);
    // TINY: 80 bytes of activations, 97 channels × 8 bytes, 7464 weights.
    assert_eq!(b.len(), 48 + 80 + 97 * 8 + 7464 + 4);
    assert_eq!(le32(b, b.len() - 4), crc32(&b[..b.len() - 4]));
}

#[test]
fn parameters_round_trip_within_half_a_step() {
    let cfg = ValenceConfig::TINY;
    let f = fixture(&cfg, 2, 4);
    let m = QuantModel::parse(&f.file).unwrap();
    assert_eq!(m.config(), cfg);
    let specs = cfg.params().unwrap();
    for (i, want) in (0..ACTIVATIONS).map(|i| (i, f.ranges.params(i))) {
        assert_eq!(m.activation(i), want);
    }
    // A ReLU output's range starts at 0: zero point −128, scale max/255.
    let (_, hi) = f.ranges.range(0);
    assert_eq!(m.activation(0).zero_point(), -128);
    assert_eq!(m.activation(0).scale(), (f64::from(hi) / 255.0) as f32);
    for l in 0..LAYERS {
        let (ws, bs) = (&specs[2 * l], &specs[2 * l + 1]);
        let w = &f.params[ws.offset..ws.offset + ws.len];
        let b = &f.params[bs.offset..bs.offset + bs.len];
        let view = m.layer(l);
        let c_out = view.channels();
        assert_eq!(c_out, bs.len);
        let s_in = f64::from(if l == 0 {
            1.0 / 255.0
        } else {
            m.activation([1, 3, 4, 5, 6, 7, 8][l - 1]).scale()
        });
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
}

#[test]
fn every_prefix_and_any_extra_byte_are_rejected() {
    let f = fixture(&MICRO, 3, 2);
    assert!(QuantModel::parse(&f.file).is_ok());
    for len in 0..f.file.len() {
        match QuantModel::parse(&f.file[..len]) {
            Err(ModelError::Truncated { got, .. }) => assert_eq!(got, len),
            other => panic!("prefix {len}: {other:?}"),
        }
    }
    let mut long = f.file.clone();
    long.push(0);
    assert_eq!(
        QuantModel::parse(&long).unwrap_err(),
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
            let e = QuantModel::parse(&bad).expect_err("a flipped byte must be rejected");
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
        assert!(QuantModel::parse(&bad).is_err(), "byte {i}");
        bad[i] ^= 0x10;
    }
}

#[test]
fn wrong_version_is_named() {
    let f = fixture(&MICRO, 5, 1);
    let mut bad = f.file.clone();
    bad[4..6].copy_from_slice(&2u16.to_le_bytes());
    reseal(&mut bad);
    let e = QuantModel::parse(&bad).unwrap_err();
    assert_eq!(
        e,
        ModelError::UnsupportedVersion {
            found: 2,
            supported: 1
        }
    );
    assert_eq!(
        e.to_string(),
        "unsupported model format version 2 (this build reads version 1)"
    );
    // Even with nothing after the version.
    assert_eq!(QuantModel::parse(&bad[..8]).unwrap_err(), e);
    assert!(matches!(
        QuantModel::parse(b"PK\x03\x04zip!"),
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
        QuantModel::parse(&b).unwrap_err()
    };
    let act = |i: usize| HEADER_LEN + 8 * i;
    let conv2 = ModelError::InvalidQuant {
        tensor: "conv2",
        what: "scale or zero point",
    };
    assert_eq!(edit(act(2), 0f32.to_bits()), conv2);
    assert_eq!(edit(act(2), f32::NAN.to_bits()), conv2);
    assert_eq!(edit(act(2), (-1.0f32).to_bits()), conv2);
    assert_eq!(edit(act(2) + 4, 128), conv2);
    assert_eq!(edit(act(2) + 4, (-129i32) as u32), conv2);
    // conv1's first weight scale sits right after the activation records.
    let first_scale = HEADER_LEN + 8 * ACTIVATIONS;
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
    // Sizes: tile 0, a 40 px input (too small for the pools), an overflowing width, a payload
    // length off by one.
    assert_eq!(
        edit(40, 0),
        ModelError::Config(KernelError::Zero { arg: "tile" })
    );
    assert!(matches!(
        edit(8, 40),
        ModelError::Config(KernelError::TooSmall { .. })
    ));
    assert!(matches!(
        edit(36, u32::MAX),
        ModelError::Config(_) | ModelError::PayloadLength { .. }
    ));
    let declared = le32(&f.file, 44);
    assert_eq!(
        edit(44, declared + 1),
        ModelError::PayloadLength {
            expected: declared as usize,
            declared: declared as usize + 1
        }
    );
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
    assert_eq!(l.bytes_len(), 2 * 12_288 + 2304 + 2304);
    assert_eq!(l.words_len(), 2 * 646 + 97);
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
    let model = QuantModel::parse(&f.file).unwrap();
    let mut b = buffers(cfg, batch);
    let mut net = QuantNet::new(model, batch, &mut b.bytes, &mut b.words, &mut b.mult).unwrap();
    let mut out = vec![f32::NAN; frames.len() / cfg.frame_len().unwrap()];
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
    let step = f64::from(QuantModel::parse(&f.file).unwrap().activation(9).scale());
    let mut worst = 0.0f64;
    for (a, b) in q.iter().zip(&f.f32_pred) {
        worst = worst.max(f64::from(a - b).abs());
    }
    // Tolerance: 10 % of the spread of the f32 predictions plus two output steps.
    std::println!("worst |int8 − f32| {worst:.5}, spread {spread:.5}, step {step:.5}");
    assert!(worst <= 0.1 * spread + 2.0 * step, "{worst} vs {spread}");
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
    let model = QuantModel::parse(&f.file).unwrap();
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
