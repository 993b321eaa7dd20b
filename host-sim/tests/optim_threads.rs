//! The optimisers' steps and gradient zeroing spread over `FastGemm`'s threads
//! (`Exec::map_lanes`) give the bits of the one-call path a board runs, on 1, 2 and 3 threads.
//!
//! Reference: the one-call functions (`adam_step_f32`, …), which `tests/golden_optim.rs` holds
//! to TensorFlow's bits; every element is updated alone, so the comparison is bit for bit.
//! Lengths are odd and above the size from which `FastGemm` splits (2¹⁶), so chunk edges fall
//! inside a vector loop's tail and between threads.

use host_sim::fast_gemm::FastGemm;
use host_sim::network_file;
use kernels::net::{ArenaLayout, Inputs, Net, OptimizerKind, Targets};
use kernels::optim::{
    adam_keras_step_f32, adam_keras_step_f32_with, adam_step_f32, adam_step_f32_with,
    momentum_step_f32, momentum_step_f32_with, sgd_step_f32, sgd_step_f32_with, Adam, AdamKeras,
    BetaPowers, Momentum,
};
use kernels::KernelError;

/// Odd lengths: just above the split threshold, and a larger one.
const LENS: [usize; 2] = [(1 << 16) + 17, 200_003];
const STEPS: u32 = 4;

fn bits(xs: &[f32]) -> Vec<u32> {
    xs.iter().map(|x| x.to_bits()).collect()
}

/// Varied values: signs change, magnitudes span 1e-4..1e2, some exact zeros.
fn values(len: usize, salt: u32) -> Vec<f32> {
    (0..len)
        .map(|i| {
            let k = (i as u32).wrapping_mul(2_654_435_761).wrapping_add(salt) >> 20;
            let scale = [1.0f32, 1e-4, 37.5, 0.0, 3e-2][i % 5];
            (k as f32 / 2048.0 - 1.0) * scale
        })
        .collect()
}

fn pools() -> Vec<FastGemm> {
    [1, 2, 3].map(|t| FastGemm::new(t).unwrap()).into()
}

#[test]
fn adam_gives_the_one_call_bits_on_1_2_3_threads() {
    let decayed = Adam {
        weight_decay: 0.01,
        ..Adam::tf1(1e-3)
    };
    for cfg in [Adam::tf1(1e-3), decayed] {
        for len in LENS {
            let (mut w0, mut m0, mut v0) = (values(len, 1), vec![0.0; len], vec![0.0; len]);
            let mut p0 = BetaPowers::new(&cfg);
            let mut threaded: Vec<_> = pools()
                .into_iter()
                .map(|pool| (pool, w0.clone(), m0.clone(), v0.clone(), p0))
                .collect();
            for t in 1..=STEPS {
                let g = values(len, 100 + t);
                adam_step_f32(&cfg, &mut p0, &mut w0, &g, &mut m0, &mut v0).unwrap();
                for (pool, w, m, v, p) in &mut threaded {
                    adam_step_f32_with(&*pool, &cfg, p, w, &g, m, v).unwrap();
                    let at = format!(
                        "{cfg:?}, {len} values, {} threads, step {t}",
                        pool.threads()
                    );
                    assert_eq!(bits(w), bits(&w0), "w: {at}");
                    assert_eq!((bits(m), bits(v)), (bits(&m0), bits(&v0)), "m, v: {at}");
                    assert_eq!(*p, p0, "powers: {at}");
                }
            }
        }
    }
}

#[test]
fn keras_adam_gives_the_one_call_bits_on_1_2_3_threads() {
    let cfg = AdamKeras::keras(1e-3);
    for len in LENS {
        let (mut w0, mut m0, mut v0) = (values(len, 2), vec![0.0; len], vec![0.0; len]);
        let mut threaded: Vec<_> = pools()
            .into_iter()
            .map(|pool| (pool, w0.clone(), m0.clone(), v0.clone()))
            .collect();
        for t in 1..=STEPS {
            let g = values(len, 200 + t);
            adam_keras_step_f32(&cfg, t, &mut w0, &g, &mut m0, &mut v0).unwrap();
            for (pool, w, m, v) in &mut threaded {
                adam_keras_step_f32_with(&*pool, &cfg, t, w, &g, m, v).unwrap();
                let at = format!("{len} values, {} threads, step {t}", pool.threads());
                assert_eq!(bits(w), bits(&w0), "w: {at}");
                assert_eq!((bits(m), bits(v)), (bits(&m0), bits(&v0)), "m, v: {at}");
            }
        }
    }
}

#[test]
fn momentum_and_sgd_give_the_one_call_bits_on_1_2_3_threads() {
    let cfg = |nesterov, weight_decay| Momentum {
        lr: 0.01,
        momentum: 0.9,
        nesterov,
        weight_decay,
    };
    for cfg in [cfg(false, 0.0), cfg(true, 0.0), cfg(true, 0.01)] {
        for len in LENS {
            let (mut w0, mut a0) = (values(len, 3), vec![0.0; len]);
            let mut threaded: Vec<_> = pools()
                .into_iter()
                .map(|pool| (pool, w0.clone(), a0.clone()))
                .collect();
            for t in 1..=STEPS {
                let g = values(len, 300 + t);
                momentum_step_f32(&cfg, &mut w0, &g, &mut a0).unwrap();
                for (pool, w, a) in &mut threaded {
                    momentum_step_f32_with(&*pool, &cfg, w, &g, a).unwrap();
                    let at = format!(
                        "{cfg:?}, {len} values, {} threads, step {t}",
                        pool.threads()
                    );
                    assert_eq!((bits(w), bits(a)), (bits(&w0), bits(&a0)), "{at}");
                }
            }
        }
    }
    for len in LENS {
        let mut w0 = values(len, 4);
        let mut threaded: Vec<_> = pools().into_iter().map(|p| (p, w0.clone())).collect();
        for t in 1..=STEPS {
            let g = values(len, 400 + t);
            sgd_step_f32(0.01, &mut w0, &g).unwrap();
            for (pool, w) in &mut threaded {
                sgd_step_f32_with(&*pool, 0.01, w, &g).unwrap();
                let at = format!("sgd, {len} values, {} threads, step {t}", pool.threads());
                assert_eq!(bits(w), bits(&w0), "{at}");
            }
        }
    }
}

#[test]
fn mismatched_lengths_are_errors_before_any_thread_writes() {
    let two = FastGemm::new(2).unwrap();
    let len = LENS[1];
    let cfg = Adam::tf1(1e-3);
    let (mut w, mut m, mut v) = (values(len, 5), vec![0.5; len], vec![0.25; len]);
    let (w_before, g) = (w.clone(), values(len - 1, 6));
    let mut p = BetaPowers::new(&cfg);
    let short = KernelError::Length {
        arg: "grads",
        expected: len,
        got: len - 1,
    };
    assert_eq!(
        adam_step_f32_with(&two, &cfg, &mut p, &mut w, &g, &mut m, &mut v),
        Err(short)
    );
    let keras = AdamKeras::keras(1e-3);
    assert_eq!(
        adam_keras_step_f32_with(&two, &keras, 1, &mut w, &g, &mut m, &mut v),
        Err(short)
    );
    let mom = Momentum {
        lr: 0.1,
        momentum: 0.9,
        nesterov: false,
        weight_decay: 0.0,
    };
    assert_eq!(
        momentum_step_f32_with(&two, &mom, &mut w, &g, &mut m),
        Err(short)
    );
    assert_eq!(sgd_step_f32_with(&two, 0.1, &mut w, &g), Err(short));
    let mut v_short = vec![0.25; len - 16];
    let g = values(len, 7);
    assert_eq!(
        adam_step_f32_with(&two, &cfg, &mut p, &mut w, &g, &mut m, &mut v_short),
        Err(KernelError::Length {
            arg: "v",
            expected: len,
            got: len - 16
        })
    );
    assert_eq!(bits(&w), bits(&w_before));
    assert!(m.iter().all(|&x| x == 0.5) && v.iter().all(|&x| x == 0.25));
    assert_eq!(p, BetaPowers::new(&cfg));
}

/// One dense layer, 331 → 401, MSE: 133 132 parameters, so `Net`'s steps are split.
const DENSE: &str = r#"
name = "dense"
tile = 16
input = { height = 1, width = 1, channels = 331, kind = "f32" }
loss = { kind = "mse" }

[[layers]]
op = "dense"
name = "dense"
out = 401
"#;

#[test]
fn net_steps_and_zeroing_give_the_one_call_bits_on_1_2_3_threads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dense.toml");
    std::fs::write(&path, DENSE).unwrap();
    let net = network_file::load(&path).unwrap().network;
    let batch = 3;
    let x = values(batch * 331, 8);
    let y = values(batch * 401, 9);
    // Forward and backward on FastGemm (its bits do not depend on the thread count either);
    // only the optimiser's `Exec` differs between the runs compared.
    let gemm = FastGemm::new(2).unwrap();
    for opt in [
        OptimizerKind::Adam,
        OptimizerKind::Momentum,
        OptimizerKind::Sgd,
    ] {
        let len = ArenaLayout::training(&net, batch, opt).unwrap().arena_len();
        // `exec = None`: the one-call methods; `Some`: their `_with` variants. Returns the whole
        // arena after `STEPS` steps: parameters, gradients, optimiser state and activations.
        let run = |exec: Option<&FastGemm>, keras: bool| -> Vec<f32> {
            let mut arena = vec![0.0f32; len];
            let mut n = Net::training(&net, batch, opt, &mut arena).unwrap();
            n.init_params(7).unwrap();
            assert!(n.params().len() > 1 << 17);
            for t in 1..=STEPS {
                match exec {
                    Some(e) => n.zero_grads_with(e),
                    None => n.zero_grads(),
                }
                assert!(n.grads().iter().all(|&g| g == 0.0), "{opt:?} step {t}");
                let targets = Targets::Values(&y);
                n.train(&gemm, Inputs::F32(&x), targets, batch, &mut ())
                    .unwrap();
                let r = match (opt, exec) {
                    (OptimizerKind::Adam, Some(e)) if keras => {
                        n.adam_keras_step_with(e, &AdamKeras::keras(1e-2), t)
                    }
                    (OptimizerKind::Adam, None) if keras => {
                        n.adam_keras_step(&AdamKeras::keras(1e-2), t)
                    }
                    (OptimizerKind::Adam, Some(e)) => n.adam_step_with(e, &Adam::tf1(1e-2), t),
                    (OptimizerKind::Adam, None) => n.adam_step(&Adam::tf1(1e-2), t),
                    (OptimizerKind::Momentum, e) => {
                        let m = Momentum {
                            lr: 0.01,
                            momentum: 0.9,
                            nesterov: true,
                            weight_decay: 0.0,
                        };
                        match e {
                            Some(e) => n.momentum_step_with(e, &m),
                            None => n.momentum_step(&m),
                        }
                    }
                    (OptimizerKind::Sgd, Some(e)) => n.sgd_step_with(e, 0.01),
                    (OptimizerKind::Sgd, None) => n.sgd_step(0.01),
                };
                r.unwrap();
            }
            arena
        };
        let kerases: &[bool] = if opt == OptimizerKind::Adam {
            &[false, true]
        } else {
            &[false]
        };
        for &keras in kerases {
            let want = bits(&run(None, keras));
            for pool in pools() {
                assert_eq!(
                    bits(&run(Some(&pool), keras)),
                    want,
                    "{opt:?}, keras {keras}, {} threads",
                    pool.threads()
                );
            }
        }
    }
}
