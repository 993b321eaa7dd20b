//! The optimisers against TensorFlow's own TF1 optimisers run in graph mode
//! (`tests/fixtures/{adam,momentum,clip}.json`, written by `tools/gen_golden.py`): ten steps
//! each, a different gradient every step, parameters (and optimiser slots) compared after every
//! step, so an error in the bias correction or the step count shows up at the step it bites.
//! Each test states its tolerance (`|got − want| ≤ atol + rtol·|want|`) and why.

mod common;

use common::{check_close, load_fixture};
use kernels::optim::{
    adam_keras_step_f32, adam_step_f32, clip_by_global_norm_f32, momentum_step_f32, Adam,
    AdamKeras, BetaPowers, Momentum,
};
use serde::Deserialize;

const STEPS: usize = 10;

#[derive(Deserialize)]
struct AdamCase {
    name: String,
    lr: f32,
    beta1: f32,
    beta2: f32,
    epsilon: f32,
    initial: Vec<f32>,
    grads: Vec<Vec<f32>>,
    params: Vec<Vec<f32>>,
    m: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
}

#[test]
fn adam_matches_tf1_adam_optimizer() {
    // params: atol 1e-6, rtol 1e-6. TensorFlow's ApplyAdam writes m += (g − m)(1 − β1) where
    // the formula is β1·m + (1 − β1)·g, keeps β^t as a running f32 product rather than a power,
    // and rounds lr·√(1 − β2^t)/(1 − β1^t) in its own order: each step's update (≤ lr·few) is
    // then a few ulps off, and ten steps of lr ≤ 0.1 add up to well under 1e-6.
    // m, v: rtol 1e-5 (a few ulps per step, compounded over ten steps) plus an atol far below
    // the smallest non-zero value of each slot (gradients go down to 1e-3·N(0,1)).
    const PARAMS: (f32, f32) = (1e-6, 1e-6);
    const M: (f32, f32) = (1e-10, 1e-5);
    const V: (f32, f32) = (1e-16, 1e-5);
    let fx = load_fixture::<AdamCase>("adam", 3);
    let reference = fx.reference();
    let mut worst = [0.0f32; 3];
    for case in &fx.cases {
        let cfg = Adam::tf1(case.lr);
        // The fixture's hyper-parameters are TF1's defaults, and `tf1` must be them.
        assert_eq!(cfg.lr, case.lr, "{}: lr", case.name);
        assert_eq!(cfg.beta1, case.beta1, "{}: beta1", case.name);
        assert_eq!(cfg.beta2, case.beta2, "{}: beta2", case.name);
        assert_eq!(cfg.epsilon, case.epsilon, "{}: epsilon", case.name);
        assert_eq!(cfg.weight_decay, 0.0, "{}: weight_decay", case.name);
        assert_eq!(case.grads.len(), STEPS, "{}: steps", case.name);
        assert_eq!(case.params.len(), STEPS, "{}: steps", case.name);

        let n = case.initial.len();
        let mut params = case.initial.clone();
        let (mut m, mut v) = (vec![0.0; n], vec![0.0; n]);
        let mut powers = BetaPowers::new(&cfg);
        for t in 0..STEPS {
            let step = t + 1;
            adam_step_f32(
                &cfg,
                &mut powers,
                &mut params,
                &case.grads[t],
                &mut m,
                &mut v,
            )
            .unwrap();
            let what = |x: &str| format!("{} {x} after step {step} vs {reference}", case.name);
            worst[0] = worst[0].max(check_close(&what("m"), &m, &case.m[t], M.0, M.1));
            worst[1] = worst[1].max(check_close(&what("v"), &v, &case.v[t], V.0, V.1));
            worst[2] = worst[2].max(check_close(
                &what("params"),
                &params,
                &case.params[t],
                PARAMS.0,
                PARAMS.1,
            ));
        }
    }
    println!(
        "adam vs {reference}: {} cases x {STEPS} steps; worst |diff|/tol: m {:.1e}, v {:.1e}, \
         params {:.1e}",
        fx.cases.len(),
        worst[0],
        worst[1],
        worst[2]
    );
    // Within the tolerances above, and in fact bit for bit: TF1's ApplyAdam does not fuse,
    // and the β powers are the same running f32 products.
    assert_eq!(worst, [0.0; 3], "Adam is bit-exact with {reference}");
}

#[derive(Deserialize)]
struct MomentumCase {
    name: String,
    lr: f32,
    momentum: f32,
    nesterov: bool,
    initial: Vec<f32>,
    grads: Vec<Vec<f32>>,
    params: Vec<Vec<f32>>,
    accum: Vec<Vec<f32>>,
}

#[test]
fn momentum_matches_tf1_momentum_optimizer() {
    // accum: atol 1e-6, rtol 1e-6: accum = 0.9·accum + g is one multiply and one add per step,
    // the same operations as TensorFlow's, so it should agree to an ulp or two.
    // params: atol 1e-6, rtol 1e-6: Nesterov's var −= g·lr + accum·momentum·lr may group the
    // products differently (an ulp of an update ≤ 0.1·|accum|, accum ≤ ~30), over ten steps.
    const TOL: (f32, f32) = (1e-6, 1e-6);
    let fx = load_fixture::<MomentumCase>("momentum", 4);
    let reference = fx.reference();
    let (mut wa, mut wp) = (0.0f32, 0.0f32);
    let mut nesterov_cases = 0;
    for case in &fx.cases {
        let cfg = Momentum {
            lr: case.lr,
            momentum: case.momentum,
            nesterov: case.nesterov,
            weight_decay: 0.0,
        };
        nesterov_cases += usize::from(case.nesterov);
        assert_eq!(case.grads.len(), STEPS, "{}: steps", case.name);
        let mut params = case.initial.clone();
        let mut accum = vec![0.0; params.len()];
        for t in 0..STEPS {
            momentum_step_f32(&cfg, &mut params, &case.grads[t], &mut accum).unwrap();
            let what = |x: &str| format!("{} {x} after step {} vs {reference}", case.name, t + 1);
            wa = wa.max(check_close(
                &what("accum"),
                &accum,
                &case.accum[t],
                TOL.0,
                TOL.1,
            ));
            wp = wp.max(check_close(
                &what("params"),
                &params,
                &case.params[t],
                TOL.0,
                TOL.1,
            ));
        }
    }
    assert_eq!(nesterov_cases, 2, "Nesterov cases");
    println!(
        "momentum vs {reference}: {} cases x {STEPS} steps; worst |diff|/tol: accum {wa:.1e}, \
         params {wp:.1e}",
        fx.cases.len()
    );
}

#[derive(Deserialize)]
struct ClipCase {
    name: String,
    clip_norm: f32,
    grads: Vec<f32>,
    norm: f32,
    clipped: Vec<f32>,
}

#[test]
fn clip_by_global_norm_matches_tensorflow() {
    // norm: rtol 1e-5: TensorFlow sums per tensor (l2_loss, halved then doubled) and then over
    // tensors, another order than one pass over the flat slice; up to 72 terms.
    // clipped: atol 1e-7, rtol 1e-5: each value is g·scale, scale = clip_norm/norm, so it
    // inherits the norm's relative error (an exact copy when nothing is clipped).
    let fx = load_fixture::<ClipCase>("clip", 3);
    let reference = fx.reference();
    let mut clipped_cases = 0;
    for case in &fx.cases {
        let mut grads = case.grads.clone();
        let norm = clip_by_global_norm_f32(&mut grads, case.clip_norm).unwrap();
        check_close(
            &format!("{} norm vs {reference}", case.name),
            &[norm],
            &[case.norm],
            0.0,
            1e-5,
        );
        check_close(
            &format!("{} clipped vs {reference}", case.name),
            &grads,
            &case.clipped,
            1e-7,
            1e-5,
        );
        if case.norm > case.clip_norm {
            clipped_cases += 1;
        } else {
            // TensorFlow's scale clip_norm·(1/clip_norm) rounds to exactly 1 here and leaves
            // the gradients bit for bit as they were; so must we.
            assert_eq!(case.clipped, case.grads, "{}: fixture", case.name);
            assert_eq!(
                grads, case.grads,
                "{}: unclipped gradients changed",
                case.name
            );
        }
    }
    assert_eq!(clipped_cases, 2, "cases that actually clip");
    println!(
        "clip_by_global_norm vs {reference}: {} cases",
        fx.cases.len()
    );
}

/// `tests/fixtures/adam_keras.json`: Keras 3's `tf.keras.optimizers.Adam` applied eagerly.
#[derive(Deserialize)]
struct AdamKerasCase {
    name: String,
    lr: f32,
    beta1: f64,
    beta2: f64,
    epsilon: f64,
    initial: Vec<f32>,
    grads: Vec<Vec<f32>>,
    params: Vec<Vec<f32>>,
    m: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
}

#[test]
fn adam_keras_matches_keras_3_adam_bit_for_bit() {
    // Tolerance 0: every step's parameters and slots are compared bit for bit. Keras runs one
    // unfused f32 TensorFlow op at a time, and the kernel does the same operations in the
    // same order, with the hyper-parameters rounded where Keras rounds them.
    let fx = load_fixture::<AdamKerasCase>("adam_keras", 3);
    let reference = fx.reference();
    let bits = |xs: &[f32]| xs.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for case in &fx.cases {
        let cfg = AdamKeras::keras(case.lr);
        // The fixture's hyper-parameters are Keras's defaults, and `keras` must be them.
        assert_eq!(
            (cfg.beta1, cfg.beta2, cfg.epsilon),
            (case.beta1, case.beta2, case.epsilon),
            "{}",
            case.name
        );
        assert_eq!(case.params.len(), STEPS, "{}: steps", case.name);
        let n = case.initial.len();
        let mut params = case.initial.clone();
        let (mut m, mut v) = (vec![0.0; n], vec![0.0; n]);
        for t in 0..STEPS {
            let step = u32::try_from(t + 1).unwrap();
            adam_keras_step_f32(&cfg, step, &mut params, &case.grads[t], &mut m, &mut v).unwrap();
            let what = |x: &str| format!("{} {x} after step {step} vs {reference}", case.name);
            assert_eq!(bits(&m), bits(&case.m[t]), "{}", what("m"));
            assert_eq!(bits(&v), bits(&case.v[t]), "{}", what("v"));
            assert_eq!(bits(&params), bits(&case.params[t]), "{}", what("params"));
        }
    }
    println!(
        "adam_keras vs {reference}: {} cases x {STEPS} steps, bit for bit",
        fx.cases.len()
    );
}
