//! A network's parameters to and from a checkpoint's named tensors (the table a `--config`
//! name stands for is [`crate::cli::ConfigName::network`]).
//!
//! Every command that reads or writes parameters (train, diagnose, quantize, eval, import,
//! bench) goes through here rather than through the trainer, so the summaries and the other
//! commands do not depend on [`crate::train`].

use anyhow::{ensure, Context, Result};
use kernels::net::ParamSpec;

use crate::checkpoint::{Checkpoint, NamedTensor};
use crate::cli::ConfigName;

/// Every parameter of `params` (laid out as `specs` say) as a tensor with its name and its shape
/// in the network, in `specs` order: what a checkpoint stores.
///
/// # Errors
/// If a spec's length does not fill its shape (a broken table).
///
/// # Panics
/// If `params` is shorter than `specs` say.
pub fn param_tensors(specs: &[ParamSpec], params: &[f32]) -> Result<Vec<NamedTensor>> {
    specs
        .iter()
        .map(|s| {
            let data = params[s.offset..s.offset + s.len].to_vec();
            Ok(NamedTensor::new(s.name, s.dims().to_vec(), data)?)
        })
        .collect()
}

/// Copies every parameter of `ckpt` into `params` (laid out as `specs` say), checking that each
/// is there with the network's shape.
///
/// # Errors
/// A message naming the first missing or misshapen parameter.
///
/// # Panics
/// If `params` is shorter than `specs` say.
pub fn load_params(ckpt: &Checkpoint, specs: &[ParamSpec], params: &mut [f32]) -> Result<()> {
    for s in specs {
        let t = ckpt
            .param(s.name)
            .with_context(|| format!("the checkpoint has no parameter `{}`", s.name))?;
        ensure!(
            t.shape == s.dims(),
            "parameter `{}` has shape {:?} in the checkpoint, the network needs {:?}",
            s.name,
            t.shape,
            s.dims()
        );
        params[s.offset..s.offset + s.len].copy_from_slice(&t.data);
    }
    Ok(())
}

/// The network `ckpt` records and its parameters, laid out as that network's table says.
///
/// # Errors
/// If the checkpoint's network is neither `full`, `tiny` nor a valid table, or as
/// [`load_params`].
pub fn checkpoint_params(ckpt: &Checkpoint) -> Result<(ConfigName, Vec<f32>)> {
    let name = ConfigName::from_description(&ckpt.config)?;
    let cfg = name.network();
    let mut params = vec![0.0f32; cfg.param_len()?];
    load_params(ckpt, &cfg.params()?, &mut params)?;
    Ok((name, params))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::OptimizerKind;

    fn checkpoint(params: Vec<NamedTensor>) -> Checkpoint {
        Checkpoint {
            config: "tiny".into(),
            step: 0,
            optimizer: OptimizerKind::None,
            rng: Vec::new(),
            data_position: 0,
            attrs: Vec::new(),
            params,
            slots: Vec::new(),
        }
    }

    #[test]
    fn tensors_carry_the_seed_names_and_shapes_and_load_back() {
        let cfg = kernels::net::ValenceConfig::TINY;
        let specs = cfg.params().unwrap();
        // Distinct values, so a tensor loaded into the wrong range is seen.
        let params: Vec<f32> = (0..cfg.param_len().unwrap()).map(|i| i as f32).collect();
        let tensors = param_tensors(&specs, &params).unwrap();
        // The seed's first and last variables (TINY keeps FULL's names; its conv1 is 5×5×3→8).
        assert_eq!(tensors[0].name, "weights1");
        assert_eq!(tensors[0].shape, [5, 5, 3, 8]);
        assert_eq!(tensors.last().unwrap().name, "bias_softmax");
        let mut back = vec![f32::NAN; params.len()];
        load_params(&checkpoint(tensors), &specs, &mut back).unwrap();
        assert_eq!(back, params);
    }

    #[test]
    fn a_missing_or_misshapen_parameter_is_named() {
        let cfg = kernels::net::ValenceConfig::TINY;
        let specs = cfg.params().unwrap();
        let mut params = vec![0.0; cfg.param_len().unwrap()];
        let mut tensors = param_tensors(&specs, &params).unwrap();
        tensors.remove(1);
        let err = load_params(&checkpoint(tensors), &specs, &mut params).unwrap_err();
        assert_eq!(err.to_string(), "the checkpoint has no parameter `biases1`");

        let mut tensors = param_tensors(&specs, &params).unwrap();
        tensors[0] = NamedTensor::new("weights1", vec![3, 5, 5, 8], vec![0.0; 600]).unwrap();
        let err = load_params(&checkpoint(tensors), &specs, &mut params).unwrap_err();
        assert_eq!(
            err.to_string(),
            "parameter `weights1` has shape [3, 5, 5, 8] in the checkpoint, the network needs [5, 5, 3, 8]"
        );
    }
}
