//! Whole-network gradient checks of tables that are not the seed's: the keyword-spotting
//! classifier (f32 input, cross-entropy) and a small MSE regressor whose first layer is a
//! parameter-free max-pool, with LRN on `f32` features. Reference: central finite differences
//! of the loss, evaluated in f64 from the f32 forward pass.

extern crate std;
use std::vec;
use std::vec::Vec;

use super::*;
use crate::rng::Rng;
use crate::{KernelError, Padding, Portable};

/// `f32` features, normally distributed.
fn features(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed, 5);
    (0..n).map(|_| rng.next_normal()).collect()
}

/// Central differences of `loss` with step `h(w)` (`w` the entry's value) for the entry with
/// the largest gradient of each tensor and its first entry, against the analytic gradient
/// `grads`; tolerance `atol + rtol·|fd|`. Returns how many entries it checked.
pub(super) fn check_every_tensor(
    net: &mut Net<'_>,
    grads: &[f32],
    h: &dyn Fn(f32) -> f32,
    atol: f64,
    rtol: f64,
    loss: &mut dyn FnMut(&mut Net<'_>) -> f64,
) -> usize {
    let specs = *net.param_specs();
    let mut checked = 0;
    for spec in specs.iter() {
        let g = &grads[spec.range()];
        let big = (0..spec.len)
            .max_by(|&a, &b| g[a].abs().total_cmp(&g[b].abs()))
            .unwrap();
        for i in [big, 0] {
            let idx = spec.offset + i;
            let w0 = net.params()[idx];
            let h = h(w0);
            net.params_mut()[idx] = w0 + h;
            let up = loss(net);
            net.params_mut()[idx] = w0 - h;
            let down = loss(net);
            net.params_mut()[idx] = w0;
            let fd = (up - down) / (2.0 * f64::from(h));
            let an = f64::from(grads[idx]);
            assert!(
                (fd - an).abs() <= atol + rtol * fd.abs(),
                "{}[{i}]: analytic {an}, finite difference {fd}",
                spec.name
            );
            checked += 1;
        }
    }
    checked
}

#[test]
fn kws_cross_entropy_gradients_match_finite_differences() {
    // Step 3e-4: KWS pools 2×2 over a strided conv, so larger steps cross ReLU and max-pool
    // switches (at 1e-2 some differences are 20 % off, converging as the step shrinks).
    // Tolerance 1e-3 abs (the f32 forward's rounding, ~1e-7 of a loss near 2.5, over 2h)
    // + 2 % rel.
    let n = 3;
    let layout = ArenaLayout::training(&KWS, n, OptimizerKind::Sgd).unwrap();
    let mut arena = vec![f32::NAN; layout.arena_len()];
    let mut net = Net::training(&KWS, n, OptimizerKind::Sgd, &mut arena).unwrap();
    net.init_params(21).unwrap();
    // Spread the biases so that they, too, have measurable gradients and ReLUs see both signs.
    let specs = *net.param_specs();
    let mut rng = Rng::new(21, 2);
    for spec in specs.iter().filter(|s| !s.is_weight) {
        for v in &mut net.params_mut()[spec.range()] {
            *v = 0.1 * rng.next_normal();
        }
    }
    let x = features(n * 49 * 10, 1);
    let labels = [3u32, 11, 0];
    net.zero_grads();
    let loss = net
        .train(
            &Portable,
            Inputs::F32(&x),
            Targets::Labels(&labels),
            n,
            &mut (),
        )
        .unwrap();
    let grads = net.grads().to_vec();
    // The loss by hand, in f64, from the f32 logits.
    let mut xent = |net: &mut Net<'_>| -> f64 {
        let z = net
            .forward_inputs(&Portable, Inputs::F32(&x), &mut ())
            .unwrap();
        let mut sum = 0.0;
        for (row, &label) in z.chunks_exact(12).zip(&labels) {
            let m = row.iter().fold(f64::MIN, |m, &v| m.max(f64::from(v)));
            let lse = m + row
                .iter()
                .map(|&v| (f64::from(v) - m).exp())
                .sum::<f64>()
                .ln();
            sum += lse - f64::from(row[label as usize]);
        }
        sum / n as f64
    };
    assert!((xent(&mut net) - f64::from(loss)).abs() < 1e-5 * f64::from(loss));
    assert_eq!(
        check_every_tensor(&mut net, &grads, &|_| 3e-4, 1e-3, 0.02, &mut xent),
        12
    );
}

/// f32 features 6×4×2 → max-pool 2×2/2 (no parameters, so no gradient below it) → LRN →
/// conv 3×3 SAME, 3 channels + ReLU → dense to 2 outputs, MSE.
const POOL_FIRST: Network = Network {
    input: Input {
        h: 6,
        w: 4,
        c: 2,
        kind: InputKind::F32,
    },
    layers: &[
        Layer {
            name: "pool",
            op: Op::MaxPool {
                window: [2, 2],
                stride: [2, 2],
                padding: Padding::Valid,
            },
            activation: Activation::Linear,
            tag: "pool",
            pre_tag: "",
        },
        Layer {
            name: "norm",
            op: Op::Lrn {
                depth_radius: 1,
                bias: 1.0,
                alpha: 0.5,
                beta: 0.75,
            },
            activation: Activation::Linear,
            tag: "norm",
            pre_tag: "",
        },
        Layer {
            name: "conv",
            op: Op::Conv {
                kernel: [3, 3],
                stride: [1, 1],
                padding: Padding::Same,
                out: 3,
                weights: Param {
                    name: "conv_w",
                    tag: "conv/w",
                    init: Initializer::Xavier,
                },
                bias: Param {
                    name: "conv_b",
                    tag: "conv/b",
                    init: Initializer::Constant(0.1),
                },
            },
            activation: Activation::Relu,
            tag: "conv",
            pre_tag: "conv/pre",
        },
        Layer {
            name: "out",
            op: Op::Dense {
                out: 2,
                weights: Param {
                    name: "out_w",
                    tag: "out/w",
                    init: Initializer::TruncatedNormal { stddev: 0.5 },
                },
                bias: Param {
                    name: "out_b",
                    tag: "out/b",
                    init: Initializer::Constant(0.0),
                },
            },
            activation: Activation::Linear,
            tag: "out",
            pre_tag: "",
        },
    ],
    loss: Loss::Mse,
    tile: 4,
};

#[test]
fn mse_through_a_parameter_free_first_layer_and_lrn_matches_finite_differences() {
    let n = 2;
    let layout = ArenaLayout::training(&POOL_FIRST, n, OptimizerKind::Sgd).unwrap();
    let mut arena = vec![f32::NAN; layout.arena_len()];
    let mut net = Net::training(&POOL_FIRST, n, OptimizerKind::Sgd, &mut arena).unwrap();
    net.init_params(4).unwrap();
    let x = features(n * 6 * 4 * 2, 2);
    let y = [0.5f32, -1.0, 2.0, 0.25];
    net.zero_grads();
    let loss = net
        .train(&Portable, Inputs::F32(&x), Targets::Values(&y), n, &mut ())
        .unwrap();
    let grads = net.grads().to_vec();
    // Step 1e-3, tolerance 1e-4 abs + 1 % rel (a small network: few switches, a small loss).
    // tf.reduce_mean over the batch's 2 × 2 outputs, by hand in f64.
    let mut mse = |net: &mut Net<'_>| -> f64 {
        let p = net
            .forward_inputs(&Portable, Inputs::F32(&x), &mut ())
            .unwrap();
        let sq: f64 = p
            .iter()
            .zip(&y)
            .map(|(&p, &y)| (f64::from(p) - f64::from(y)).powi(2))
            .sum();
        sq / 4.0
    };
    assert!((mse(&mut net) - f64::from(loss)).abs() < 1e-5 * f64::from(loss));
    assert_eq!(
        check_every_tensor(&mut net, &grads, &|_| 1e-3, 1e-4, 0.01, &mut mse),
        8
    );
}

#[test]
fn wrong_inputs_targets_and_labels_are_errors() {
    let layout = ArenaLayout::training(&KWS, 2, OptimizerKind::Adam).unwrap();
    let mut arena = vec![0.0; layout.arena_len()];
    let mut net = Net::training(&KWS, 2, OptimizerKind::Adam, &mut arena).unwrap();
    let x = features(2 * 490, 3);
    let train = |net: &mut Net<'_>, x, t| net.train(&Portable, x, t, 2, &mut ());
    assert_eq!(
        train(&mut net, Inputs::U8(&[0; 980]), Targets::Labels(&[0, 1])),
        Err(KernelError::InvalidParam { arg: "input" })
    );
    assert_eq!(
        train(&mut net, Inputs::F32(&x), Targets::Values(&[0.0; 24])),
        Err(KernelError::InvalidParam { arg: "targets" })
    );
    assert_eq!(
        train(&mut net, Inputs::F32(&x), Targets::Labels(&[0, 12])),
        Err(KernelError::InvalidParam { arg: "labels" })
    );
    assert_eq!(
        train(&mut net, Inputs::F32(&x), Targets::Labels(&[0])),
        Err(KernelError::Length {
            arg: "labels",
            expected: 2,
            got: 1
        })
    );
    assert!(matches!(
        train(&mut net, Inputs::F32(&x[..489]), Targets::Labels(&[0])),
        Err(KernelError::Length { arg: "frames", .. })
    ));
}

#[test]
fn plan_refuses_tables_that_make_no_network() {
    let with = |layers: &'static [Layer], loss| Network {
        layers,
        loss,
        ..POOL_FIRST
    };
    assert_eq!(
        with(&[], Loss::Mse).plan().unwrap_err(),
        KernelError::Zero { arg: "layers" }
    );
    const MANY: [Layer; MAX_LAYERS + 1] = [POOL_FIRST.layers[1]; MAX_LAYERS + 1];
    assert_eq!(
        with(&MANY, Loss::Mse).plan().unwrap_err(),
        KernelError::Length {
            arg: "layers",
            expected: MAX_LAYERS,
            got: MAX_LAYERS + 1
        }
    );
    // The seed's loss needs one output; cross-entropy at least two classes.
    assert_eq!(
        with(POOL_FIRST.layers, Loss::WeightedAbs)
            .plan()
            .unwrap_err(),
        KernelError::Length {
            arg: "output",
            expected: 1,
            got: 2
        }
    );
    const P: Param = Param {
        name: "p",
        tag: "p",
        init: Initializer::Xavier,
    };
    const ONE_LOGIT: [Layer; 1] = [Layer {
        op: Op::Dense {
            out: 1,
            weights: P,
            bias: P,
        },
        ..POOL_FIRST.layers[3]
    }];
    assert_eq!(
        with(&ONE_LOGIT, Loss::SoftmaxCrossEntropy)
            .plan()
            .unwrap_err(),
        KernelError::TooSmall {
            arg: "output",
            min: 2,
            got: 1
        }
    );
    // u8 frames need a convolution first.
    let u8_pool = Network {
        input: Input {
            kind: InputKind::U8,
            ..POOL_FIRST.input
        },
        ..POOL_FIRST
    };
    assert_eq!(
        u8_pool.plan().unwrap_err(),
        KernelError::InvalidParam { arg: "input" }
    );
    // A pool window larger than its input.
    let tiny_input = Network {
        input: Input {
            h: 1,
            ..POOL_FIRST.input
        },
        ..POOL_FIRST
    };
    assert!(matches!(
        tiny_input.plan(),
        Err(KernelError::TooSmall { .. })
    ));
}
