//! Training checkpoints: everything a resumed run needs to end with the very same bits as an
//! uninterrupted one, in one versioned, CRC-checked binary file written atomically.
//!
//! # Layout (format version 1, every integer little-endian)
//! ```text
//! magic        8 bytes  "VALCKPT\0"
//! version      u32      1
//! total_len    u64      length of the whole file, CRC included (detects truncation)
//! config       str      "full" / "tiny", or a network file's table as JSON
//! step         u64      optimiser steps done
//! optimizer    u8       0 none (fresh state), 1 Adam, 2 SGD
//! rng          u32 count, then count × u64 state words
//! data_pos     u64      position in the data stream (frames consumed)
//! attrs        u32 count, then count × (str key, str value)
//! params       u32 count, then count × tensor
//! slots        u32 count, then count × tensor
//! crc32        u32      CRC-32 (IEEE) of every byte before it
//!
//! str     = u32 byte length, UTF-8 bytes
//! tensor  = str name, u32 rank, rank × u64 dims, u64 element count (= product of dims),
//!           element count × f32
//! ```
//! Parameters are named by the seed's TensorFlow variable names (`weights1`, …, `bias_softmax`,
//! see [`crate::weights::SEED_PARAMETER_NAMES`]); optimiser slots by whatever the optimiser
//! chooses (TensorFlow's would be `weights1/Adam` and `weights1/Adam_1`).
//!
//! Reading checks the magic, the version, the length, the CRC and then every count and length
//! against the bytes that are actually there, so a corrupt file gives a [`FormatError`] and never a
//! panic or an absurd allocation.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The file a checkpoint directory holds.
pub const CHECKPOINT_FILE: &str = "checkpoint.vckpt";
/// The temporary file a checkpoint is written to before it is renamed to [`CHECKPOINT_FILE`].
pub const TEMP_FILE: &str = "ckpt.tmp";
/// The format version this module writes and reads.
pub const FORMAT_VERSION: u32 = 1;

const MAGIC: &[u8; 8] = b"VALCKPT\0";
/// magic + version + total length.
const PREAMBLE: usize = 8 + 4 + 8;
const CRC_LEN: usize = 4;
/// Bounds that no real checkpoint approaches; they keep a corrupt count from looking plausible.
/// (A network file's run stores its whole table as the config string: up to 16 layers of names,
/// tags and sizes, about 5 KB.)
const MAX_STR: usize = 64 * 1024;
const MAX_RANK: usize = 16;

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
    /// Adam (slots: first and second moments).
    Adam,
    /// Stochastic gradient descent (slots: momentum accumulators, if any).
    Sgd,
}

impl OptimizerKind {
    const fn code(self) -> u8 {
        match self {
            Self::None => 0,
            Self::Adam => 1,
            Self::Sgd => 2,
        }
    }

    const fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Self::None),
            1 => Some(Self::Adam),
            2 => Some(Self::Sgd),
            _ => None,
        }
    }
}

/// Everything a training run needs to continue exactly where it stopped.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// The network configuration's name (`full`, `tiny`).
    pub config: String,
    /// Optimiser steps done.
    pub step: u64,
    /// The optimiser the slots belong to.
    pub optimizer: OptimizerKind,
    /// The state words of every random generator, in an order the trainer defines.
    pub rng: Vec<u64>,
    /// Position in the data stream (frames consumed), so resuming draws the same next batch.
    pub data_position: u64,
    /// Free-form facts the trainer wants to check on resume (seed, batch, learning rate…).
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
    /// Not a Valence checkpoint.
    #[error("not a Valence checkpoint (bad magic bytes)")]
    BadMagic,
    /// Written by a different version of this format.
    #[error(
        "checkpoint format version {found} is not supported (this build reads version {supported})"
    )]
    UnsupportedVersion {
        /// The file's version.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// The content does not match its checksum.
    #[error("CRC mismatch: stored {stored:08x}, computed {computed:08x} (the file is corrupt)")]
    Crc {
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
    /// Any other inconsistency (a count past the end of the data, bad UTF-8, a duplicate name…).
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

    /// Encodes the checkpoint as the bytes of a checkpoint file.
    ///
    /// # Errors
    /// [`FormatError::TensorLength`] if a tensor's data does not fill its shape,
    /// [`FormatError::Malformed`] for a duplicate tensor name or a string or rank over the
    /// format's bounds: such a file could not be read back.
    pub fn to_bytes(&self) -> Result<Vec<u8>, FormatError> {
        check_names(&self.params, "parameter")?;
        check_names(&self.slots, "slot")?;
        let mut w = Writer(Vec::new());
        w.0.extend_from_slice(MAGIC);
        w.u32(FORMAT_VERSION);
        w.u64(0); // total length, patched below
        w.str(&self.config)?;
        w.u64(self.step);
        w.0.push(self.optimizer.code());
        w.count(self.rng.len())?;
        for &word in &self.rng {
            w.u64(word);
        }
        w.u64(self.data_position);
        w.count(self.attrs.len())?;
        for (k, v) in &self.attrs {
            w.str(k)?;
            w.str(v)?;
        }
        for list in [&self.params, &self.slots] {
            w.count(list.len())?;
            for t in list {
                w.tensor(t)?;
            }
        }
        let total = (w.0.len() + CRC_LEN) as u64;
        w.0[12..PREAMBLE].copy_from_slice(&total.to_le_bytes());
        let crc = crc32fast::hash(&w.0);
        w.u32(crc);
        Ok(w.0)
    }

    /// Decodes a checkpoint file's bytes, checking everything.
    ///
    /// # Errors
    /// The [`FormatError`] that describes the first problem found, in this order: magic, version,
    /// length, CRC, then the content.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FormatError> {
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(FormatError::BadMagic);
        }
        if bytes.len() < PREAMBLE {
            return Err(FormatError::Truncated {
                expected: (PREAMBLE + CRC_LEN) as u64,
                got: bytes.len() as u64,
            });
        }
        let mut r = Reader { bytes, at: 8 };
        let version = r.u32()?;
        if version != FORMAT_VERSION {
            return Err(FormatError::UnsupportedVersion {
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let total = r.u64()?;
        let got = bytes.len() as u64;
        if got < total || total < (PREAMBLE + CRC_LEN) as u64 {
            return Err(FormatError::Truncated {
                expected: total.max((PREAMBLE + CRC_LEN) as u64),
                got,
            });
        }
        if got > total {
            return Err(FormatError::TrailingBytes { extra: got - total });
        }
        let (body, stored) = bytes.split_at(bytes.len() - CRC_LEN);
        let stored = u32::from_le_bytes([stored[0], stored[1], stored[2], stored[3]]);
        let computed = crc32fast::hash(body);
        if stored != computed {
            return Err(FormatError::Crc { stored, computed });
        }

        let mut r = Reader {
            bytes: body,
            at: PREAMBLE,
        };
        let config = r.str()?;
        let step = r.u64()?;
        let code = r.u8()?;
        let optimizer = OptimizerKind::from_code(code)
            .ok_or_else(|| FormatError::Malformed(format!("unknown optimiser code {code}")))?;
        let n = r.count(8)?;
        let rng = (0..n).map(|_| r.u64()).collect::<Result<_, _>>()?;
        let data_position = r.u64()?;
        let n = r.count(8)?;
        let attrs = (0..n)
            .map(|_| Ok((r.str()?, r.str()?)))
            .collect::<Result<_, FormatError>>()?;
        // A tensor takes at least its name's length, rank and count: 16 bytes.
        let n = r.count(16)?;
        let params = (0..n).map(|_| r.tensor()).collect::<Result<Vec<_>, _>>()?;
        let n = r.count(16)?;
        let slots = (0..n).map(|_| r.tensor()).collect::<Result<Vec<_>, _>>()?;
        if r.at != body.len() {
            return Err(FormatError::Malformed(format!(
                "{} bytes left over after the last tensor",
                body.len() - r.at
            )));
        }
        check_names(&params, "parameter")?;
        check_names(&slots, "slot")?;
        Ok(Self {
            config,
            step,
            optimizer,
            rng,
            data_position,
            attrs,
            params,
            slots,
        })
    }

    /// Writes the checkpoint to `dir/`[`CHECKPOINT_FILE`] atomically, creating `dir` if needed.
    ///
    /// The bytes go to `dir/`[`TEMP_FILE`], which is flushed to disk and then renamed over the
    /// final name, and the directory is flushed too: after a crash the final name holds either the
    /// previous checkpoint or this one, never a partial file. Returns the final path.
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
        sync_dir(dir).map_err(io(dir))?;
        Ok(path)
    }

    /// Reads `dir/`[`CHECKPOINT_FILE`].
    ///
    /// # Errors
    /// [`CheckpointError::Io`] if it cannot be read, [`CheckpointError::Format`] if its content is
    /// wrong.
    pub fn load(dir: &Path) -> Result<Self, CheckpointError> {
        let path = dir.join(CHECKPOINT_FILE);
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

fn check_names(tensors: &[NamedTensor], what: &str) -> Result<(), FormatError> {
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

struct Writer(Vec<u8>);

impl Writer {
    fn u32(&mut self, x: u32) {
        self.0.extend_from_slice(&x.to_le_bytes());
    }

    fn u64(&mut self, x: u64) {
        self.0.extend_from_slice(&x.to_le_bytes());
    }

    fn count(&mut self, n: usize) -> Result<(), FormatError> {
        let n = u32::try_from(n)
            .map_err(|_| FormatError::Malformed(format!("{n} items exceed the format's u32")))?;
        self.u32(n);
        Ok(())
    }

    fn str(&mut self, s: &str) -> Result<(), FormatError> {
        if s.len() > MAX_STR {
            return Err(FormatError::Malformed(format!(
                "a string of {} bytes exceeds {MAX_STR}",
                s.len()
            )));
        }
        self.count(s.len())?;
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }

    fn tensor(&mut self, t: &NamedTensor) -> Result<(), FormatError> {
        check_length(&t.name, &t.shape, t.data.len())?;
        if t.shape.len() > MAX_RANK {
            return Err(FormatError::Malformed(format!(
                "tensor {}: rank {} exceeds {MAX_RANK}",
                t.name,
                t.shape.len()
            )));
        }
        self.str(&t.name)?;
        self.count(t.shape.len())?;
        for &d in &t.shape {
            self.u64(d as u64);
        }
        self.u64(t.data.len() as u64);
        self.0.reserve(4 * t.data.len());
        for x in &t.data {
            self.0.extend_from_slice(&x.to_le_bytes());
        }
        Ok(())
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn take(&mut self, n: usize) -> Result<&[u8], FormatError> {
        if n > self.remaining() {
            return Err(FormatError::Malformed(format!(
                "a field of {n} bytes at offset {} runs past the end of the data",
                self.at
            )));
        }
        let s = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, FormatError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, FormatError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, FormatError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// A count of items that each take at least `min_item` bytes: checked against what is left,
    /// so a corrupt count fails here instead of driving an allocation.
    fn count(&mut self, min_item: usize) -> Result<usize, FormatError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_item) > self.remaining() {
            return Err(FormatError::Malformed(format!(
                "a count of {n} items at offset {} exceeds the remaining {} bytes",
                self.at - 4,
                self.remaining()
            )));
        }
        Ok(n)
    }

    fn str(&mut self) -> Result<String, FormatError> {
        let n = self.u32()? as usize;
        if n > MAX_STR {
            return Err(FormatError::Malformed(format!(
                "a string of {n} bytes exceeds {MAX_STR}"
            )));
        }
        let at = self.at;
        let b = self.take(n)?;
        String::from_utf8(b.to_vec())
            .map_err(|_| FormatError::Malformed(format!("the string at offset {at} is not UTF-8")))
    }

    fn tensor(&mut self) -> Result<NamedTensor, FormatError> {
        let name = self.str()?;
        let rank = self.u32()? as usize;
        if rank > MAX_RANK {
            return Err(FormatError::Malformed(format!(
                "tensor {name}: rank {rank} exceeds {MAX_RANK}"
            )));
        }
        let dims = (0..rank)
            .map(|_| self.u64())
            .collect::<Result<Vec<_>, _>>()?;
        let count = self.u64()?;
        let expected = dims.iter().try_fold(1u64, |n, &d| n.checked_mul(d));
        if expected != Some(count) {
            return Err(FormatError::TensorLength {
                name,
                expected: expected.unwrap_or(u64::MAX),
                got: count,
            });
        }
        let too_big = || {
            FormatError::Malformed(format!(
                "tensor {name}: {count} elements exceed the remaining data"
            ))
        };
        let shape = dims
            .iter()
            .map(|&d| usize::try_from(d))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| too_big())?;
        let len = usize::try_from(count)
            .ok()
            .and_then(|c| c.checked_mul(4))
            .filter(|&len| len <= self.remaining())
            .ok_or_else(too_big)?;
        let data = self
            .take(len)?
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Ok(NamedTensor { name, shape, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernels::rng::Rng;

    fn sample() -> Checkpoint {
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
            attrs: vec![("seed".into(), "42".into()), ("lr".into(), "0.0001".into())],
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

    fn bits(t: &[NamedTensor]) -> Vec<(String, Vec<usize>, Vec<u32>)> {
        t.iter()
            .map(|t| {
                (
                    t.name.clone(),
                    t.shape.clone(),
                    t.data.iter().map(|x| x.to_bits()).collect(),
                )
            })
            .collect()
    }

    /// Re-seals edited bytes with a correct length and CRC, so the content checks are reached.
    fn reseal(mut body: Vec<u8>) -> Vec<u8> {
        let total = (body.len() + CRC_LEN) as u64;
        body[12..PREAMBLE].copy_from_slice(&total.to_le_bytes());
        let crc = crc32fast::hash(&body);
        body.extend_from_slice(&crc.to_le_bytes());
        body
    }

    #[test]
    fn round_trip_is_exact() {
        let c = sample();
        let bytes = c.to_bytes().unwrap();
        let back = Checkpoint::from_bytes(&bytes).unwrap();
        assert_eq!(bits(&back.params), bits(&c.params));
        assert_eq!(bits(&back.slots), bits(&c.slots));
        assert_eq!(
            (
                &back.config,
                back.step,
                back.optimizer,
                &back.rng,
                back.data_position,
                &back.attrs
            ),
            (
                &c.config,
                c.step,
                c.optimizer,
                &c.rng,
                c.data_position,
                &c.attrs
            )
        );
        assert_eq!(back.param("biases1").unwrap().shape, vec![8]);
        assert!(back.param("nope").is_none());
        // The encoding is a pure function of the content.
        assert_eq!(back.to_bytes().unwrap(), bytes);
    }

    #[test]
    fn layout_starts_as_documented() {
        let bytes = sample().to_bytes().unwrap();
        assert_eq!(&bytes[..8], b"VALCKPT\0");
        assert_eq!(bytes[8..12], 1u32.to_le_bytes());
        assert_eq!(bytes[12..20], (bytes.len() as u64).to_le_bytes());
        assert_eq!(bytes[20..24], 4u32.to_le_bytes());
        assert_eq!(&bytes[24..28], b"tiny");
        let crc = crc32fast::hash(&bytes[..bytes.len() - 4]);
        assert_eq!(bytes[bytes.len() - 4..], crc.to_le_bytes());
    }

    #[test]
    fn each_corruption_gives_its_error() {
        let good = sample().to_bytes().unwrap();
        let body = good[..good.len() - CRC_LEN].to_vec();
        let e = |b: &[u8]| Checkpoint::from_bytes(b).unwrap_err();

        assert_eq!(e(b""), FormatError::BadMagic);
        assert_eq!(e(b"VALCKPX\0xxxxxxxxxxxxxxxx"), FormatError::BadMagic);
        assert!(matches!(e(&good[..15]), FormatError::Truncated { .. }));
        for cut in [good.len() - 1, good.len() / 2, PREAMBLE] {
            assert_eq!(
                e(&good[..cut]),
                FormatError::Truncated {
                    expected: good.len() as u64,
                    got: cut as u64
                }
            );
        }
        let mut longer = good.clone();
        longer.push(0);
        assert_eq!(e(&longer), FormatError::TrailingBytes { extra: 1 });

        let mut v2 = good.clone();
        v2[8] = 2;
        assert_eq!(
            e(&v2),
            FormatError::UnsupportedVersion {
                found: 2,
                supported: 1
            }
        );

        // One flipped bit anywhere after the preamble is caught by the CRC.
        for at in [PREAMBLE, good.len() / 2, good.len() - 5, good.len() - 1] {
            let mut flipped = good.clone();
            flipped[at] ^= 0x10;
            assert!(matches!(e(&flipped), FormatError::Crc { .. }), "byte {at}");
        }

        // Content errors behind a valid CRC: the element count of the first tensor.
        // Offset: preamble, "tiny" (4+4), step 8, optimizer 1, rng 4+24, data_pos 8,
        // attrs 4 + (4+4 + 4+2) + (4+2 + 4+6), params count 4, name "weights1" 4+8, rank 4, dims 32.
        let count_at = PREAMBLE + 8 + 8 + 1 + 28 + 8 + 4 + 14 + 16 + 4 + 12 + 4 + 32;
        assert_eq!(body[count_at..count_at + 8], 600u64.to_le_bytes());
        let mut wrong = body.clone();
        wrong[count_at..count_at + 8].copy_from_slice(&601u64.to_le_bytes());
        assert_eq!(
            e(&reseal(wrong)),
            FormatError::TensorLength {
                name: "weights1".into(),
                expected: 600,
                got: 601
            }
        );
        // A huge shape with a matching count: refused before any allocation.
        let mut huge = body.clone();
        let dims_at = count_at - 32;
        huge[dims_at..dims_at + 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
        huge[count_at..count_at + 8].copy_from_slice(&((1u64 << 40) * 120).to_le_bytes());
        assert!(matches!(e(&reseal(huge)), FormatError::Malformed(m) if m.contains("exceed")));
        // A huge tensor count.
        let params_at = count_at - 32 - 4 - 12 - 4;
        let mut many = body.clone();
        many[params_at..params_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(e(&reseal(many)), FormatError::Malformed(m) if m.contains("count")));
        // An unknown optimiser code.
        let mut opt = body.clone();
        opt[PREAMBLE + 8 + 8] = 7;
        assert_eq!(
            e(&reseal(opt)),
            FormatError::Malformed("unknown optimiser code 7".into())
        );
        // Invalid UTF-8 in the config name.
        let mut utf = body.clone();
        utf[PREAMBLE + 4] = 0xff;
        assert!(matches!(e(&reseal(utf)), FormatError::Malformed(m) if m.contains("UTF-8")));
        // Garbage after the last tensor.
        let mut extra = body.clone();
        extra.extend_from_slice(&[0; 3]);
        assert!(matches!(e(&reseal(extra)), FormatError::Malformed(m) if m.contains("left over")));
        // Every error is one line.
        assert!(!e(&good[..40]).to_string().contains('\n'));
    }

    #[test]
    fn encoding_refuses_what_could_not_be_read_back() {
        let mut c = sample();
        c.params[1].data.push(0.0);
        assert!(matches!(
            c.to_bytes(),
            Err(FormatError::TensorLength { .. })
        ));
        let mut c = sample();
        c.slots[1].name = "weights1/Adam".into();
        assert!(matches!(c.to_bytes(), Err(FormatError::Malformed(m)) if m.contains("two slot")));
        assert!(NamedTensor::new("x", vec![2, 2], vec![0.0; 3]).is_err());
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
        let back = Checkpoint::load(&ckpt).unwrap();
        assert_eq!(bits(&back.params), bits(&c.params));

        let missing = Checkpoint::load(&dir.path().join("none"))
            .unwrap_err()
            .to_string();
        assert!(missing.contains(CHECKPOINT_FILE), "{missing}");
        std::fs::write(&path, b"VALCKPT\0\x01\0\0\0").unwrap();
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
}
