//! Training checkpoints: everything a resumed run needs to end with the very same bits as an
//! uninterrupted one, in one [safetensors](https://github.com/huggingface/safetensors) file
//! written atomically, which PyTorch, numpy and the `safetensors` Python package open as it is.
//!
//! # The file (`checkpoint.safetensors`, Valence checkpoint format version 2)
//! A plain safetensors file: a `u64` little-endian header length, a JSON header
//! `{name: {dtype, shape, data_offsets}, "__metadata__": {str: str}}`, then the raw
//! little-endian tensor data.
//!
//! - **Tensors**, all `F32` in C order with TensorFlow's shapes (conv filters HWIO, dense
//!   `[in, out]`): the parameters under the seed's variable names (`weights1`, …,
//!   `bias_softmax`, from the network's parameter table), and the optimiser's state beside them
//!   under TensorFlow 1's names: Adam's moments `weights1/Adam` and `weights1/Adam_1`, its
//!   `β1ᵗ`, `β2ᵗ` as the scalars `beta1_power` and `beta2_power`.
//! - **`__metadata__`** (every value a string):
//!
//! | key | value |
//! |---|---|
//! | `format`, `format_version` | `valence-checkpoint`, `2` |
//! | `config` | the network (`full`, `tiny`, or a network's description; any length) |
//! | `step`, `data_position` | optimiser steps done, frames consumed (decimal) |
//! | `optimizer` | `none` (fresh state), `adam` or `sgd` |
//! | `rng` | the random generators' state words, 16 hex digits each, comma-separated |
//! | `params`, `slots` | the parameter and optimiser-slot tensor names, in the network's order, comma-separated |
//! | `params_crc32` | CRC-32 of the parameters' bytes in `params` order: the checksum a run prints |
//! | `slots_crc32` | the same for the slots in `slots` order |
//! | `metadata_crc32` | CRC-32 of every other metadata entry, sorted by key, each as `key NUL value NUL` |
//! | `run.<flag>` | the run's settings that a resume must share (`run.lr`, `run.batch`, …) |
//!
//! safetensors has no checksum of its own; the three CRCs (IEEE, as zlib's `crc32`) cover every
//! tensor byte and every metadata entry, and are checked on load. Python checks them the same
//! way: `zlib.crc32(b"".join(t[n].tobytes() for n in meta["params"].split(",")))`.
//!
//! Reading checks the length against the header, the header (through the `safetensors` crate),
//! the format, the CRCs and then every name and dtype, so a corrupt file gives a [`FormatError`]
//! and never a panic or an absurd allocation. Checkpoints of format version 1 (`VALCKPT`,
//! `checkpoint.vckpt`, written before safetensors) are still read, see [`v1`].

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

pub mod v1;
pub mod v2;

/// The file a checkpoint directory holds.
pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";
/// The temporary file a checkpoint is written to before it is renamed to [`CHECKPOINT_FILE`].
pub const TEMP_FILE: &str = "ckpt.tmp";
/// The format version this module writes.
pub const FORMAT_VERSION: u32 = 2;

/// `true` if `dir` holds a checkpoint in either format (a run directory, its `initial/`, an
/// import).
pub fn has_checkpoint(dir: &Path) -> bool {
    dir.join(CHECKPOINT_FILE).is_file() || dir.join(v1::FILE).is_file()
}

/// A named `f32` tensor in C (row-major) order.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    /// The tensor's name, e.g. `weights1`.
    pub name: String,
    /// The dimensions, outermost first (TensorFlow's: conv filters HWIO, dense `[in, out]`).
    pub shape: Vec<usize>,
    /// The elements; `data.len()` is the product of `shape`.
    pub data: Vec<f32>,
}

impl NamedTensor {
    /// A tensor, checking that `data` fills `shape`.
    ///
    /// # Errors
    /// [`FormatError::TensorLength`] if the product of `shape` is not `data.len()`.
    pub fn new(
        name: impl Into<String>,
        shape: Vec<usize>,
        data: Vec<f32>,
    ) -> Result<Self, FormatError> {
        let name = name.into();
        check_length(&name, &shape, data.len())?;
        Ok(Self { name, shape, data })
    }
}

/// Checks that `len` elements fill `shape` (an overflowing shape counts as `u64::MAX`).
fn check_length(name: &str, shape: &[usize], len: usize) -> Result<(), FormatError> {
    let expected = shape
        .iter()
        .try_fold(1u64, |n, &d| n.checked_mul(d as u64))
        .unwrap_or(u64::MAX);
    if expected == len as u64 {
        Ok(())
    } else {
        Err(FormatError::TensorLength {
            name: name.to_string(),
            expected,
            got: len as u64,
        })
    }
}

/// Which optimiser the slots belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OptimizerKind {
    /// No optimiser state: a resumed run starts it afresh (e.g. imported weights).
    None,
    /// Adam (slots: first and second moments, and the β powers).
    Adam,
    /// Stochastic gradient descent (slots: momentum accumulators, if any).
    Sgd,
}

impl OptimizerKind {
    /// The name the file's `optimizer` metadata holds.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Adam => "adam",
            Self::Sgd => "sgd",
        }
    }

    /// The kind [`Self::as_str`] names.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::None, Self::Adam, Self::Sgd]
            .into_iter()
            .find(|k| k.as_str() == name)
    }
}

/// Everything a training run needs to continue exactly where it stopped.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// The network configuration (`full`, `tiny`, or a network's description).
    pub config: String,
    /// Optimiser steps done.
    pub step: u64,
    /// The optimiser the slots belong to.
    pub optimizer: OptimizerKind,
    /// The state words of every random generator, in an order the trainer defines.
    pub rng: Vec<u64>,
    /// Position in the data stream (frames consumed), so resuming draws the same next batch.
    pub data_position: u64,
    /// Facts the trainer wants to check on resume (seed, batch, learning rate…); read back sorted
    /// by key.
    pub attrs: Vec<(String, String)>,
    /// The network's parameters, named by the seed's variable names.
    pub params: Vec<NamedTensor>,
    /// The optimiser's per-parameter state.
    pub slots: Vec<NamedTensor>,
}

/// Why checkpoint bytes could not be decoded (or encoded).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// Fewer bytes than the header promises.
    #[error("truncated: {got} bytes, the header says {expected}")]
    Truncated {
        /// Bytes the file should have.
        expected: u64,
        /// Bytes it has.
        got: u64,
    },
    /// More bytes than the header promises.
    #[error("{extra} unexpected bytes after the end of the checkpoint")]
    TrailingBytes {
        /// How many.
        extra: u64,
    },
    /// Neither a safetensors file nor a version-1 Valence checkpoint.
    #[error("not a Valence checkpoint (neither a safetensors file nor VALCKPT)")]
    BadMagic,
    /// A valid safetensors file that lacks Valence's metadata (a model from elsewhere).
    #[error(
        "a safetensors file without Valence's `format` metadata, not a checkpoint; \
         `host-sim import --from FILE` takes its parameters"
    )]
    NotValence,
    /// Written by a different version of this format.
    #[error(
        "checkpoint format version {found} is not supported (this build reads versions 1 and {supported})"
    )]
    UnsupportedVersion {
        /// The file's version.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },
    /// The content does not match its checksum.
    #[error(
        "CRC mismatch of the {what}: stored {stored:08x}, computed {computed:08x} (the file is corrupt)"
    )]
    Crc {
        /// What the checksum covers (`parameters`, `optimiser slots`, `metadata`, `file`).
        what: &'static str,
        /// The CRC in the file.
        stored: u32,
        /// The CRC of the bytes read.
        computed: u32,
    },
    /// A tensor's element count disagrees with its shape.
    #[error("tensor {name}: its shape holds {expected} elements but {got} are stored")]
    TensorLength {
        /// The tensor.
        name: String,
        /// Product of the dimensions.
        expected: u64,
        /// Elements stored.
        got: u64,
    },
    /// Any other inconsistency (an invalid header, a missing metadata key, bad UTF-8, a duplicate
    /// name…).
    #[error("malformed checkpoint: {0}")]
    Malformed(String),
}

/// Why a checkpoint could not be saved or loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// A file-system operation failed.
    #[error("{path}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The file's content is wrong.
    #[error("{path}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: FormatError,
    },
}

impl Checkpoint {
    /// The parameter called `name`, if any.
    pub fn param(&self, name: &str) -> Option<&NamedTensor> {
        self.params.iter().find(|t| t.name == name)
    }

    /// Encodes the checkpoint as the bytes of a checkpoint file (format version 2, safetensors).
    ///
    /// # Errors
    /// [`FormatError::TensorLength`] if a tensor's data does not fill its shape,
    /// [`FormatError::Malformed`] for a name the file could not hold (empty, with a comma,
    /// duplicated across parameters and slots, `__metadata__`) or a duplicate attribute key.
    pub fn to_bytes(&self) -> Result<Vec<u8>, FormatError> {
        v2::encode(self)
    }

    /// Decodes a checkpoint file's bytes, of format version 2 (safetensors) or 1 (`VALCKPT`),
    /// checking everything.
    ///
    /// # Errors
    /// The [`FormatError`] that describes the first problem found: length, header, format and
    /// version, CRCs, then the content.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FormatError> {
        if bytes.starts_with(v1::MAGIC) {
            v1::decode(bytes)
        } else {
            v2::decode(bytes)
        }
    }

    /// Writes the checkpoint to `dir/`[`CHECKPOINT_FILE`] atomically, creating `dir` if needed.
    ///
    /// The bytes go to `dir/`[`TEMP_FILE`], which is flushed to disk and then renamed over the
    /// final name, and the directory is flushed too: after a crash the final name holds either the
    /// previous checkpoint or this one, never a partial file. A version-1 file the directory held
    /// ([`v1::FILE`], from a run resumed across the format change) is removed after that, so the
    /// directory holds one checkpoint. Returns the final path.
    ///
    /// # Errors
    /// [`CheckpointError::Format`] if the checkpoint cannot be encoded (see [`Self::to_bytes`]),
    /// [`CheckpointError::Io`] naming the path whose operation failed.
    pub fn save(&self, dir: &Path) -> Result<PathBuf, CheckpointError> {
        let path = dir.join(CHECKPOINT_FILE);
        let bytes = self.to_bytes().map_err(|source| CheckpointError::Format {
            path: path.clone(),
            source,
        })?;
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |source| CheckpointError::Io { path: p, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let tmp = dir.join(TEMP_FILE);
        let written = File::create(&tmp)
            .and_then(|mut f| f.write_all(&bytes).and_then(|()| f.sync_all()))
            .map_err(io(&tmp));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        let old = dir.join(v1::FILE);
        match std::fs::remove_file(&old) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&old)(e)),
            _ => {}
        }
        sync_dir(dir).map_err(io(dir))?;
        Ok(path)
    }

    /// Reads `dir/`[`CHECKPOINT_FILE`], or the version-1 `dir/`[`v1::FILE`] where only that
    /// exists (a run from before safetensors).
    ///
    /// # Errors
    /// [`CheckpointError::Io`] if it cannot be read, [`CheckpointError::Format`] if its content is
    /// wrong.
    pub fn load(dir: &Path) -> Result<Self, CheckpointError> {
        let mut path = dir.join(CHECKPOINT_FILE);
        if !path.is_file() && dir.join(v1::FILE).is_file() {
            path = dir.join(v1::FILE);
        }
        let bytes = std::fs::read(&path).map_err(|source| CheckpointError::Io {
            path: path.clone(),
            source,
        })?;
        Self::from_bytes(&bytes).map_err(|source| CheckpointError::Format { path, source })
    }
}

/// Makes a rename inside `dir` durable (POSIX needs the directory itself flushed).
#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Windows cannot open a directory as a file; its rename is durable once it returns.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Refuses two tensors of one name among `tensors`.
fn check_names<'a>(
    tensors: impl IntoIterator<Item = &'a NamedTensor>,
    what: &str,
) -> Result<(), FormatError> {
    let mut seen = std::collections::HashSet::new();
    for t in tensors {
        if !seen.insert(t.name.as_str()) {
            return Err(FormatError::Malformed(format!(
                "two {what} tensors are named {:?}",
                t.name
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernels::rng::Rng;

    /// A checkpoint whose tensors hold arbitrary bit patterns (what a lossy path would disturb).
    pub(super) fn sample() -> Checkpoint {
        let t = |name: &str, shape: Vec<usize>, seed: u32| {
            let n = shape.iter().product::<usize>();
            let mut rng = Rng::new(u64::from(seed), 0);
            let data = (0..n)
                .map(|_| f32::from_bits(rng.next_u32() & 0xbfff_ffff))
                .collect();
            NamedTensor::new(name, shape, data).unwrap()
        };
        Checkpoint {
            config: "tiny".into(),
            step: 123_456_789_012,
            optimizer: OptimizerKind::Adam,
            rng: vec![0x853c_49e6_748f_ea9b, 0xda3e_39cb_94b9_5bdb, u64::MAX],
            data_position: 3_000_000_017,
            attrs: vec![("lr".into(), "0.0001".into()), ("seed".into(), "42".into())],
            params: vec![
                t("weights1", vec![5, 5, 3, 8], 1),
                t("biases1", vec![8], 2),
                t("scalar", vec![], 3),
                t("empty", vec![0, 4], 4),
            ],
            slots: vec![
                t("weights1/Adam", vec![5, 5, 3, 8], 5),
                t("weights1/Adam_1", vec![5, 5, 3, 8], 6),
            ],
        }
    }

    #[test]
    fn save_and_load_through_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let ckpt = dir.path().join("nested/run1");
        let c = sample();
        let path = c.save(&ckpt).unwrap();
        assert_eq!(path, ckpt.join(CHECKPOINT_FILE));
        assert!(
            !ckpt.join(TEMP_FILE).exists(),
            "the temporary file is renamed away"
        );
        assert!(has_checkpoint(&ckpt));
        assert_eq!(Checkpoint::load(&ckpt).unwrap(), c);

        let missing = Checkpoint::load(&dir.path().join("none"))
            .unwrap_err()
            .to_string();
        assert!(missing.contains(CHECKPOINT_FILE), "{missing}");
        assert!(!has_checkpoint(&dir.path().join("none")));
        std::fs::write(&path, &c.to_bytes().unwrap()[..100]).unwrap();
        // The path, then the cause: anyhow's `{:#}` joins them as `error:` prints them.
        let msg = format!(
            "{:#}",
            anyhow::Error::from(Checkpoint::load(&ckpt).unwrap_err())
        );
        assert!(
            msg.contains(&format!("{CHECKPOINT_FILE}: truncated")),
            "{msg}"
        );
    }

    #[test]
    fn an_interrupted_save_leaves_the_previous_checkpoint_intact() {
        let dir = tempfile::tempdir().unwrap();
        let first = sample();
        first.save(dir.path()).unwrap();

        // A crash mid-write leaves a partial temporary file: loading ignores it, and the next
        // save replaces it.
        let partial = first.to_bytes().unwrap();
        std::fs::write(dir.path().join(TEMP_FILE), &partial[..partial.len() / 3]).unwrap();
        assert_eq!(Checkpoint::load(dir.path()).unwrap(), first);
        let mut second = sample();
        second.step += 1;
        second.save(dir.path()).unwrap();
        assert_eq!(Checkpoint::load(dir.path()).unwrap(), second);
        assert!(!dir.path().join(TEMP_FILE).exists());

        // A write that fails (the temporary name is taken by a directory) reports an error and
        // leaves the final name holding the previous checkpoint.
        std::fs::create_dir(dir.path().join(TEMP_FILE)).unwrap();
        let mut third = sample();
        third.step += 2;
        let err = third.save(dir.path()).unwrap_err().to_string();
        assert!(err.contains(TEMP_FILE), "{err}");
        assert_eq!(Checkpoint::load(dir.path()).unwrap(), second);
    }

    #[test]
    fn a_version_1_file_is_read_until_a_save_replaces_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(v1::FILE), v1::tests::FIXTURE).unwrap();
        assert!(has_checkpoint(dir.path()));
        let old = Checkpoint::load(dir.path()).unwrap();
        assert_eq!(old.step, 2);
        old.save(dir.path()).unwrap();
        assert!(!dir.path().join(v1::FILE).exists(), "one checkpoint stays");
        assert_eq!(Checkpoint::load(dir.path()).unwrap(), old);
    }
}
