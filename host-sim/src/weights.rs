//! Moving parameters between a checkpoint and files numpy, TensorFlow and PyTorch users read and
//! supply: a directory of `.npy` files, one per seed variable, and one safetensors file.
//!
//! `export` writes both: `<name>.npy` per parameter and [`EXPORT_FILE`] (`model.safetensors`,
//! the parameters only, with the checkpoint's metadata; see [`crate::checkpoint`]). `import`
//! takes either: a directory of `.npy` files, or any safetensors file whose `F32` tensors carry
//! the parameters' names (Valence's own, or one written by `safetensors.torch.save_file`).
//!
//! Every tensor has its TensorFlow shape (conv filters HWIO `[kh, kw, c_in, c_out]`, dense
//! weights `[in, out]`), so `tf.Variable.assign(np.load(...))` takes it as it is; PyTorch wants
//! conv filters as `[c_out, c_in, kh, kw]` (`torch.from_numpy(w).permute(3, 2, 0, 1)`) and dense
//! weights transposed.

use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};

use crate::checkpoint::{v2, Checkpoint, NamedTensor, OptimizerKind};
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

/// The safetensors file `export` writes beside the `.npy` files.
pub const EXPORT_FILE: &str = "model.safetensors";

/// Writes every parameter of the checkpoint in `checkpoint_dir` as `out/<name>.npy` and all of
/// them as `out/`[`EXPORT_FILE`], creating `out` if needed, and returns the files written (the
/// `.npy` files first, in the network's order) and the parameters' checksum ([`params_crc32`]).
///
/// The safetensors file is the checkpoint without its optimiser state: the parameters, the
/// network, the step and the run's settings in its metadata (`host-sim import` reads it back).
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
    let path = out.join(EXPORT_FILE);
    let weights = Checkpoint {
        optimizer: OptimizerKind::None,
        slots: Vec::new(),
        ..ckpt
    };
    let bytes = weights
        .to_bytes()
        .with_context(|| format!("encoding {}", path.display()))?;
    std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    written.push(path);
    Ok((written, checksum(&weights)))
}

/// Reads every parameter of `config`'s network from `from` and saves them as a checkpoint in
/// `out`: step 0, no optimiser state, no RNG state (a run resumed from it starts its optimiser
/// afresh). `from` is a directory holding `<name>.npy` per parameter (other files ignored) or a
/// safetensors file holding a tensor per parameter name (other tensors ignored). Returns the
/// checkpoint's path and the parameters' checksum ([`params_crc32`]).
///
/// Every tensor is checked before anything is written: `F32` (`<f4` in C order for `.npy`),
/// the parameter's exact shape in the network, finite values. `out` must be new or an empty
/// directory unless `force` (then its checkpoint is replaced).
///
/// # Errors
/// A file or tensor that is missing or fails a check (the message names the file and the
/// tensor, the expected and the found shape), an `out` that holds files without `force`, or a
/// checkpoint that cannot be saved.
pub fn import(from: &Path, out: &Path, config: ConfigName, force: bool) -> Result<(PathBuf, u32)> {
    let specs = config.network().params()?;
    let safetensors = if from.is_file() {
        let bytes = std::fs::read(from).with_context(|| format!("reading {}", from.display()))?;
        Some(v2::read_tensors(&bytes).with_context(|| from.display().to_string())?)
    } else {
        None
    };
    let params = specs
        .iter()
        .map(|s| {
            // Where the tensor came from (for messages), its shape and its data.
            let (place, shape, data) = match &safetensors {
                Some(tensors) => {
                    let t = tensors
                        .iter()
                        .find(|t| t.name == s.name)
                        .with_context(|| format!("{}: no tensor `{}`", from.display(), s.name))?;
                    let place = format!("{}: tensor `{}`", from.display(), s.name);
                    (place, t.shape.clone(), t.data.clone())
                }
                None => {
                    let path = from.join(format!("{}.npy", s.name));
                    let a = npy::read(&path)?;
                    (path.display().to_string(), a.shape, a.data)
                }
            };
            ensure!(
                shape == s.dims(),
                "{place}: shape {shape:?} found, `{}` of the {} network needs {:?}",
                s.name,
                config.as_str(),
                s.dims()
            );
            if let Some(i) = data.iter().position(|x| !x.is_finite()) {
                bail!(
                    "{place}: element {i} is {}; parameters must be finite",
                    data[i]
                );
            }
            Ok(NamedTensor::new(s.name, shape, data)?)
        })
        .collect::<Result<Vec<_>>>()?;
    if !force {
        check_empty(out)?;
    }
    let ckpt = Checkpoint {
        config: config.description(),
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

/// `Ok` if `dir` does not exist or is an empty directory.
fn check_empty(dir: &Path) -> Result<()> {
    let mut entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => bail!("{}: {e}", dir.display()),
    };
    match entries.next() {
        None => Ok(()),
        Some(_) if crate::checkpoint::has_checkpoint(dir) => bail!(
            "{} holds a checkpoint; pass --force to replace it, or choose a new --out",
            dir.display()
        ),
        Some(_) => bail!(
            "{} is not empty; pass --force to write into it, or choose a new --out",
            dir.display()
        ),
    }
}

fn checksum(ckpt: &Checkpoint) -> u32 {
    params_crc32(ckpt.params.iter().map(|t| t.data.as_slice()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed_like_checkpoint() -> Checkpoint {
        let params = ValenceConfig::TINY
            .params()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let data = (0..s.len)
                    .map(|j| (i * 1000 + j) as f32 / 7.0 - 3.0)
                    .collect();
                NamedTensor::new(s.name, s.dims().to_vec(), data).unwrap()
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
        assert_eq!(files.len(), 17);
        assert!(dir.path().join("npy/weight_softmax.npy").exists());
        assert_eq!(files[16], dir.path().join("npy").join(EXPORT_FILE));
        // From the .npy files, then from the safetensors file: the same parameters.
        for (from, to) in [("npy", "back"), ("npy/model.safetensors", "back2")] {
            let (_, crc_in) = import(
                &dir.path().join(from),
                &dir.path().join(to),
                ConfigName::Tiny,
                false,
            )
            .unwrap();
            assert_eq!(crc_in, crc_out);
            let back = Checkpoint::load(&dir.path().join(to)).unwrap();
            assert_eq!(back.params, original.params);
            assert_eq!(
                (back.step, back.optimizer, back.slots.len()),
                (0, OptimizerKind::None, 0)
            );
            assert_eq!(back.config, "tiny");
        }
        // The exported file keeps the checkpoint's step and network, not its optimiser state.
        let bytes = std::fs::read(&files[16]).unwrap();
        let exported = Checkpoint::from_bytes(&bytes).unwrap();
        assert_eq!(
            (exported.step, exported.optimizer, exported.slots.len()),
            (17, OptimizerKind::None, 0)
        );
        assert_eq!(exported.params, original.params);
    }

    #[test]
    fn import_from_safetensors_names_the_missing_or_bad_tensor() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = seed_like_checkpoint();
        let file = dir.path().join("w.safetensors");
        let import_err = |c: &Checkpoint| {
            std::fs::write(&file, c.to_bytes().unwrap()).unwrap();
            let out = dir.path().join("out");
            let msg = format!(
                "{:#}",
                import(&file, &out, ConfigName::Tiny, false).unwrap_err()
            );
            assert!(!out.exists(), "nothing written");
            msg
        };
        c.params.retain(|t| t.name != "bias_local2");
        let msg = import_err(&c);
        assert!(
            msg.contains("w.safetensors: no tensor `bias_local2`"),
            "{msg}"
        );
        let mut c = seed_like_checkpoint();
        c.params[2].shape = vec![c.params[2].data.len()];
        c.params[2].data[1] = f32::INFINITY;
        let msg = import_err(&c);
        assert!(
            msg.contains(&format!("tensor `{}`: shape [", c.params[2].name)),
            "{msg}"
        );
        c.params[2].shape = ValenceConfig::TINY.params().unwrap()[2].dims().to_vec();
        let msg = import_err(&c);
        assert!(msg.contains("element 1 is inf"), "{msg}");
        std::fs::write(&file, b"not safetensors at all").unwrap();
        let msg = format!(
            "{:#}",
            import(&file, &dir.path().join("out"), ConfigName::Tiny, false).unwrap_err()
        );
        assert!(
            msg.contains("w.safetensors: ") && msg.contains("not a Valence checkpoint"),
            "{msg}"
        );
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
                ConfigName::Tiny,
                false
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
                ConfigName::Tiny,
                false
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

    /// Writes `name.npy` with `shape` and `data` into `dir`.
    fn put(dir: &Path, name: &str, shape: &[usize], data: &[f32]) {
        npy::write(&dir.join(format!("{name}.npy")), shape, data).unwrap();
    }

    #[test]
    fn import_checks_every_file_against_the_parameter_table() {
        let dir = tempfile::tempdir().unwrap();
        seed_like_checkpoint().save(dir.path()).unwrap();
        let npy = dir.path().join("npy");
        export(dir.path(), &npy).unwrap();
        let spec = ValenceConfig::TINY.params().unwrap()[2];
        let good = npy::read(&npy.join(format!("{}.npy", spec.name))).unwrap();
        let mut nan = good.data.clone();
        nan[2] = f32::NAN;
        let file = format!("{}.npy", spec.name);
        let dims = format!("{:?}", spec.dims());
        for (shape, data, needles) in [
            (vec![], vec![1.0], vec!["shape [] found", dims.as_str()]),
            (vec![0], vec![], vec!["shape [0] found", dims.as_str()]),
            (
                vec![good.data.len()],
                good.data.clone(),
                vec!["found", dims.as_str()],
            ),
            (good.shape.clone(), nan, vec!["element 2 is NaN"]),
        ] {
            put(&npy, spec.name, &shape, &data);
            let out = dir.path().join("out");
            let msg = format!(
                "{:#}",
                import(&npy, &out, ConfigName::Tiny, false).unwrap_err()
            );
            assert!(msg.contains(&file), "{msg}");
            for n in needles {
                assert!(msg.contains(n), "{n:?} not in {msg}");
            }
            assert!(!out.exists(), "nothing written");
        }
        put(&npy, spec.name, &good.shape, &good.data);
        // The FULL network's shapes differ from TINY's.
        let msg = format!(
            "{:#}",
            import(&npy, &dir.path().join("o"), ConfigName::Full, false).unwrap_err()
        );
        assert!(msg.contains("of the full network needs"), "{msg}");
    }

    #[test]
    fn import_refuses_a_run_or_a_non_empty_directory_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let mut trained = seed_like_checkpoint();
        trained.params[0].data[0] = 42.0;
        trained.save(&run).unwrap();
        let npy = dir.path().join("npy");
        seed_like_checkpoint()
            .save(&dir.path().join("src"))
            .unwrap();
        export(&dir.path().join("src"), &npy).unwrap();
        let msg = format!(
            "{:#}",
            import(&npy, &run, ConfigName::Tiny, false).unwrap_err()
        );
        assert!(
            msg.contains("holds a checkpoint") && msg.contains("--force"),
            "{msg}"
        );
        assert_eq!(
            Checkpoint::load(&run).unwrap(),
            trained,
            "the run is untouched"
        );
        let other = dir.path().join("other");
        std::fs::create_dir(&other).unwrap();
        std::fs::write(other.join("notes.txt"), "mine").unwrap();
        let msg = format!(
            "{:#}",
            import(&npy, &other, ConfigName::Tiny, false).unwrap_err()
        );
        assert!(msg.contains("is not empty"), "{msg}");
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        import(&npy, &empty, ConfigName::Tiny, false).unwrap();
        import(&npy, &run, ConfigName::Tiny, true).unwrap();
        assert_eq!(
            Checkpoint::load(&run).unwrap().step,
            0,
            "replaced with --force"
        );
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
