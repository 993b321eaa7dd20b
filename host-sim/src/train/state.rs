//! A run's state in and out of a [`Checkpoint`]: parameters, optimiser slots, step, and the
//! settings a resumed run must share with the run it continues.

use anyhow::{bail, ensure, Context, Result};
use kernels::net::Net;

use crate::checkpoint::{Checkpoint, NamedTensor, OptimizerKind};
use crate::network::{load_params, param_tensors};

/// Optimiser-slot tensor name suffixes: Adam's first and second moments per parameter tensor, as
/// TensorFlow 1 names them (`weights1/Adam`, `weights1/Adam_1`).
const ADAM_SLOTS: [&str; 2] = ["Adam", "Adam_1"];
/// Adam's `β1ᵗ` and `β2ᵗ`, scalar tensors named as TensorFlow 1 names its variables; they follow
/// the moments in the network's optimiser state.
const ADAM_POWERS: [&str; 2] = ["beta1_power", "beta2_power"];

/// The checkpoint of `net` after `step` steps. `settings` are the flags that must not change
/// across a resume (they are stored as attributes and compared by [`restore`]).
///
/// # Errors
/// If a parameter's length does not fill its shape (a broken table).
pub fn capture(
    net: &Net<'_>,
    config: &str,
    step: u64,
    optimizer: OptimizerKind,
    settings: &[(String, String)],
) -> Result<Checkpoint> {
    let specs = net.param_specs();
    let params = param_tensors(specs, net.params())?;
    let mut slots = Vec::new();
    if optimizer == OptimizerKind::Adam {
        let state = net.opt_state();
        let p = net.params().len();
        for (k, slot) in ADAM_SLOTS.iter().enumerate() {
            for s in specs {
                let data = state[k * p + s.offset..k * p + s.offset + s.len].to_vec();
                slots.push(NamedTensor::new(
                    format!("{}/{slot}", s.name),
                    s.dims().to_vec(),
                    data,
                )?);
            }
        }
        for (k, name) in ADAM_POWERS.iter().enumerate() {
            slots.push(NamedTensor::new(*name, Vec::new(), vec![state[2 * p + k]])?);
        }
    }
    Ok(Checkpoint {
        config: config.to_owned(),
        step,
        optimizer,
        rng: Vec::new(),
        // Synthetic frames and the real-data permutation are pure functions of the position.
        data_position: step,
        attrs: settings.to_vec(),
        params,
        slots,
    })
}

/// Loads `ckpt` into `net` and returns the step to continue from. Checks the network
/// configuration, every tensor's shape and the stored settings; a checkpoint without optimiser
/// state (imported weights) restarts the optimiser from zero.
///
/// # Errors
/// A message naming the first mismatch.
pub fn restore(
    net: &mut Net<'_>,
    ckpt: &Checkpoint,
    config: &str,
    optimizer: OptimizerKind,
    settings: &[(String, String)],
) -> Result<u64> {
    crate::network_file::check_same(&ckpt.config, config)?;
    for (key, value) in settings {
        if let Some((_, stored)) = ckpt.attrs.iter().find(|(k, _)| k == key) {
            ensure!(
                stored == value,
                "the checkpoint was trained with --{key} {stored}, this run has --{key} {value}"
            );
        }
    }
    let specs = *net.param_specs();
    let p = net.params().len();
    load_params(ckpt, &specs, net.params_mut())?;
    net.opt_state_mut().fill(0.0);
    match (ckpt.optimizer, optimizer) {
        (OptimizerKind::None, _) => Ok(0),
        (OptimizerKind::Adam, OptimizerKind::Adam) => {
            for (k, slot) in ADAM_SLOTS.iter().enumerate() {
                for s in &specs {
                    let name = format!("{}/{slot}", s.name);
                    let t = ckpt
                        .slots
                        .iter()
                        .find(|t| t.name == name)
                        .with_context(|| {
                            format!("the checkpoint has no optimiser slot `{name}`")
                        })?;
                    ensure!(
                        t.data.len() == s.len,
                        "optimiser slot `{name}` has {} values, expected {}",
                        t.data.len(),
                        s.len
                    );
                    net.opt_state_mut()[k * p + s.offset..k * p + s.offset + s.len]
                        .copy_from_slice(&t.data);
                }
            }
            for (k, name) in ADAM_POWERS.iter().enumerate() {
                let t = ckpt
                    .slots
                    .iter()
                    .find(|t| t.name == *name)
                    .with_context(|| {
                        format!(
                            "the checkpoint has no optimiser slot `{name}` (Adam's β^t): it was \
                         written by an older Valence, which did not keep it, and cannot be resumed"
                        )
                    })?;
                ensure!(
                    t.data.len() == 1,
                    "optimiser slot `{name}` has {} values, expected 1",
                    t.data.len()
                );
                net.opt_state_mut()[2 * p + k] = t.data[0];
            }
            Ok(ckpt.step)
        }
        (OptimizerKind::Sgd, OptimizerKind::Sgd) => Ok(ckpt.step),
        (stored, wanted) => {
            bail!("the checkpoint holds {stored:?} optimiser state, this run uses {wanted:?}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernels::net::{ArenaLayout, OptimizerKind as NetOptimizer, ValenceConfig};
    use kernels::optim::Adam;
    use kernels::Portable;

    /// A TINY Adam network after `steps` steps on blank frames.
    fn trained(arena: &mut Vec<f32>, steps: u32) -> Net<'_> {
        let cfg = ValenceConfig::TINY;
        let layout = ArenaLayout::training(&cfg, 1, NetOptimizer::Adam).unwrap();
        arena.resize(layout.arena_len(), 0.0);
        let mut net = Net::training(&cfg, 1, NetOptimizer::Adam, arena).unwrap();
        net.init_params(7).unwrap();
        let frame = vec![200u8; cfg.frame_len().unwrap()];
        for t in 1..=steps {
            net.zero_grads();
            net.train_step(&Portable, &frame, &[0.5], &[1.0], 1, &mut ())
                .unwrap();
            net.adam_step(&Adam::tf1(1e-3), t).unwrap();
        }
        net
    }

    #[test]
    fn adam_beta_powers_round_trip_and_an_old_checkpoint_is_refused() {
        let mut a = Vec::new();
        let net = trained(&mut a, 3);
        let ckpt = capture(&net, "tiny", 3, OptimizerKind::Adam, &[]).unwrap();
        // After 3 steps the state holds the powers for step 4: 0.9^4 and 0.999^4 as TF1's
        // running f32 products (Python: p = f32(beta); 3 times p = f32(p * f32(beta))).
        let powers: Vec<u32> = ["beta1_power", "beta2_power"]
            .iter()
            .map(|n| ckpt.slots.iter().find(|t| t.name == *n).unwrap().data[0].to_bits())
            .collect();
        assert_eq!(powers, [0x3f27_f62a, 0x3f7e_fa41]);

        let mut b = Vec::new();
        let mut fresh = trained(&mut b, 0);
        assert_eq!(
            restore(&mut fresh, &ckpt, "tiny", OptimizerKind::Adam, &[]).unwrap(),
            3
        );
        let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(fresh.opt_state()), bits(net.opt_state()));

        let mut old = ckpt.clone();
        old.slots.retain(|t| t.name != "beta1_power");
        let err = restore(&mut fresh, &old, "tiny", OptimizerKind::Adam, &[]).unwrap_err();
        assert!(
            err.to_string().contains("no optimiser slot `beta1_power`"),
            "{err}"
        );
    }
}
