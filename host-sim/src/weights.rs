//! Moving parameters between a checkpoint and a directory of `.npy` files, one per seed
//! variable, so numpy, TensorFlow and PyTorch users can read and supply them.
//!
//! Each file is `<name>.npy` with the tensor's TensorFlow shape (conv filters HWIO
//! `[kh, kw, c_in, c_out]`, dense weights `[in, out]`), so `tf.Variable.assign(np.load(...))`
//! takes it as it is; PyTorch wants conv filters as `[c_out, c_in, kh, kw]`
//! (`torch.from_numpy(w).permute(3, 2, 0, 1)`) and dense weights transposed.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::checkpoint::{Checkpoint, NamedTensor, OptimizerKind};
use crate::checksum::params_crc32;
use crate::cli::ConfigName;
use crate::npy;
use kernels::net::{Params, ValenceConfig};

/// FULL's parameter table.
const FULL_PARAMS: Params = match ValenceConfig::FULL.params() {
    Ok(specs) => specs,
    Err(_) => panic!("FULL has a valid geometry"),
};

/// The seed's variable names (its `name=` values), in the network's order: read off the
/// network's own parameter table, so the two cannot disagree.
pub const SEED_PARAMETER_NAMES: [&str; FULL_PARAMS.count()] = {
    let mut names = [""; FULL_PARAMS.count()];
    let mut i = 0;
    while i < FULL_PARAMS.count() {
        names[i] = FULL_PARAMS.get(i).name;
        i += 1;
    }
    names
};

/// Writes every parameter of the checkpoint in `checkpoint_dir` as `out/<name>.npy`, creating
/// `out` if needed, and returns the files written and the parameters' checksum
/// ([`params_crc32`]).
///
/// # Errors
/// If the checkpoint cannot be loaded, a parameter's name cannot be a file name, or a file
/// cannot be written.
pub fn export(checkpoint_dir: &Path, out: &Path) -> Result<(Vec<PathBuf>, u32)> {
    let ckpt = Checkpoint::load(checkpoint_dir)?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut written = Vec::with_capacity(ckpt.params.len());
    for t in &ckpt.params {
        let plain = !t.name.is_empty()
            && t.name != "."
            && t.name != ".."
            && !t.name.contains(['/', '\\', '\0']);
        if !plain {
            bail!(
                "parameter {:?} of {} cannot be used as a file name",
                t.name,
                checkpoint_dir.display()
            );
        }
        let path = out.join(format!("{}.npy", t.name));
        npy::write(&path, &t.shape, &t.data)?;
        written.push(path);
    }
    Ok((written, checksum(&ckpt)))
}

/// Reads `from/<name>.npy` for every name of [`SEED_PARAMETER_NAMES`] and saves them as a
/// checkpoint in `out`: step 0, no optimiser state, no RNG state (a run resumed from it starts
/// its optimiser afresh). Other files in `from` are ignored. Returns the checkpoint's path and
/// the parameters' checksum ([`params_crc32`]).
///
/// The shapes are recorded as found; the trainer checks them against the network when it loads
/// the checkpoint.
///
/// # Errors
/// If a file is missing or is not a valid `<f4` `.npy` file, or the checkpoint cannot be saved.
pub fn import(from: &Path, out: &Path, config: ConfigName) -> Result<(PathBuf, u32)> {
    let params = SEED_PARAMETER_NAMES
        .iter()
        .map(|name| {
            let a = npy::read(&from.join(format!("{name}.npy")))?;
            Ok(NamedTensor::new(*name, a.shape, a.data)?)
        })
        .collect::<Result<Vec<_>>>()?;
    let ckpt = Checkpoint {
        config: config.as_str().to_string(),
        step: 0,
        optimizer: OptimizerKind::None,
        rng: Vec::new(),
        data_position: 0,
        attrs: vec![("imported_from".into(), from.display().to_string())],
        params,
        slots: Vec::new(),
    };
    Ok((ckpt.save(out)?, checksum(&ckpt)))
}

fn checksum(ckpt: &Checkpoint) -> u32 {
    params_crc32(ckpt.params.iter().map(|t| t.data.as_slice()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed_like_checkpoint() -> Checkpoint {
        let params = SEED_PARAMETER_NAMES
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let shape = if name.starts_with("weights") {
                    vec![3, 3, 2, i + 1]
                } else {
                    vec![i + 1]
                };
                let n = shape.iter().product::<usize>();
                let data = (0..n).map(|j| (i * 1000 + j) as f32 / 7.0 - 3.0).collect();
                NamedTensor::new(*name, shape, data).unwrap()
            })
            .collect();
        Checkpoint {
            config: "tiny".into(),
            step: 17,
            optimizer: OptimizerKind::Adam,
            rng: vec![1, 2],
            data_position: 99,
            attrs: Vec::new(),
            params,
            slots: vec![NamedTensor::new("weights1/Adam", vec![1], vec![0.5]).unwrap()],
        }
    }

    #[test]
    fn export_then_import_is_exact() {
        let dir = tempfile::tempdir().unwrap();
        let original = seed_like_checkpoint();
        original.save(&dir.path().join("ckpt")).unwrap();
        let (files, crc_out) = export(&dir.path().join("ckpt"), &dir.path().join("npy")).unwrap();
        assert_eq!(files.len(), 16);
        assert!(dir.path().join("npy/weight_softmax.npy").exists());
        let (_, crc_in) = import(
            &dir.path().join("npy"),
            &dir.path().join("back"),
            ConfigName::Tiny,
        )
        .unwrap();
        assert_eq!(crc_in, crc_out);
        let back = Checkpoint::load(&dir.path().join("back")).unwrap();
        assert_eq!(back.params, original.params);
        assert_eq!(
            (back.step, back.optimizer, back.slots.len()),
            (0, OptimizerKind::None, 0)
        );
        assert_eq!(back.config, "tiny");
    }

    #[test]
    fn import_names_the_missing_or_bad_file() {
        let dir = tempfile::tempdir().unwrap();
        seed_like_checkpoint().save(dir.path()).unwrap();
        export(dir.path(), &dir.path().join("npy")).unwrap();
        std::fs::remove_file(dir.path().join("npy/bias_local2.npy")).unwrap();
        let msg = format!(
            "{:#}",
            import(
                &dir.path().join("npy"),
                &dir.path().join("x"),
                ConfigName::Full
            )
            .unwrap_err()
        );
        assert!(msg.contains("bias_local2.npy"), "{msg}");
        std::fs::write(dir.path().join("npy/bias_local2.npy"), b"junk").unwrap();
        let msg = format!(
            "{:#}",
            import(
                &dir.path().join("npy"),
                &dir.path().join("x"),
                ConfigName::Full
            )
            .unwrap_err()
        );
        assert!(
            msg.contains("bias_local2.npy") && msg.contains("magic"),
            "{msg}"
        );
        assert!(!dir
            .path()
            .join("x")
            .join(crate::checkpoint::CHECKPOINT_FILE)
            .exists());
    }

    #[test]
    fn export_refuses_names_that_are_paths() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = seed_like_checkpoint();
        c.params[0].name = "../escape".into();
        c.save(dir.path()).unwrap();
        let msg = export(dir.path(), &dir.path().join("npy"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("cannot be used as a file name"), "{msg}");
    }
}
