//! Format version 1 (`VALCKPT`, the file `checkpoint.vckpt`), which Valence wrote before
//! safetensors: read only, so runs and `initial/` directories from before the change still
//! resume, export and diagnose. Its Adam moments, stored as `adam_m/<name>` and `adam_v/<name>`,
//! come back under version 2's names `<name>/Adam` and `<name>/Adam_1`.
//!
//! # Layout (every integer little-endian)
//! ```text
//! magic        8 bytes  "VALCKPT\0"
//! version      u32      1
//! total_len    u64      length of the whole file, CRC included (detects truncation)
//! config       str      e.g. "full" / "tiny"
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
//!
//! Reading checks the magic, the version, the length, the CRC and then every count and length
//! against the bytes that are actually there, so a corrupt file gives a [`FormatError`] and never a
//! panic or an absurd allocation.

use super::{check_names, Checkpoint, FormatError, NamedTensor, OptimizerKind};

/// The file name a version-1 checkpoint has in its directory.
pub const FILE: &str = "checkpoint.vckpt";
/// The bytes a version-1 file starts with.
pub const MAGIC: &[u8; 8] = b"VALCKPT\0";
const VERSION: u32 = 1;
/// magic + version + total length.
const PREAMBLE: usize = 8 + 4 + 8;
const CRC_LEN: usize = 4;
/// Bounds that no real checkpoint approaches; they keep a corrupt count from looking plausible.
const MAX_STR: usize = 4096;
const MAX_RANK: usize = 16;
/// Version 1's Adam moment prefixes and version 2's suffixes for them (TensorFlow 1's names).
const ADAM_RENAMES: [(&str, &str); 2] = [("adam_m/", "/Adam"), ("adam_v/", "/Adam_1")];

fn optimizer(code: u8) -> Option<OptimizerKind> {
    match code {
        0 => Some(OptimizerKind::None),
        1 => Some(OptimizerKind::Adam),
        2 => Some(OptimizerKind::Sgd),
        _ => None,
    }
}

/// Decodes a version-1 file's bytes, checking everything.
///
/// # Errors
/// The [`FormatError`] that describes the first problem found, in this order: magic, version,
/// length, CRC, then the content.
pub fn decode(bytes: &[u8]) -> Result<Checkpoint, FormatError> {
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
    if version != VERSION {
        return Err(FormatError::UnsupportedVersion {
            found: version,
            supported: super::FORMAT_VERSION,
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
        return Err(FormatError::Crc {
            what: "file",
            stored,
            computed,
        });
    }

    let mut r = Reader {
        bytes: body,
        at: PREAMBLE,
    };
    let config = r.str()?;
    let step = r.u64()?;
    let code = r.u8()?;
    let optimizer = optimizer(code)
        .ok_or_else(|| FormatError::Malformed(format!("unknown optimiser code {code}")))?;
    let n = r.count(8)?;
    let rng = (0..n).map(|_| r.u64()).collect::<Result<_, _>>()?;
    let data_position = r.u64()?;
    let n = r.count(8)?;
    let mut attrs: Vec<(String, String)> = (0..n)
        .map(|_| Ok((r.str()?, r.str()?)))
        .collect::<Result<_, FormatError>>()?;
    attrs.sort();
    // A tensor takes at least its name's length, rank and count: 16 bytes.
    let n = r.count(16)?;
    let params = (0..n).map(|_| r.tensor()).collect::<Result<Vec<_>, _>>()?;
    let n = r.count(16)?;
    let mut slots = (0..n).map(|_| r.tensor()).collect::<Result<Vec<_>, _>>()?;
    if r.at != body.len() {
        return Err(FormatError::Malformed(format!(
            "{} bytes left over after the last tensor",
            body.len() - r.at
        )));
    }
    check_names(&params, "parameter")?;
    check_names(&slots, "slot")?;
    for t in &mut slots {
        for (prefix, suffix) in ADAM_RENAMES {
            if let Some(param) = t.name.strip_prefix(prefix) {
                t.name = format!("{param}{suffix}");
            }
        }
    }
    Ok(Checkpoint {
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
pub(super) mod tests {
    use super::*;
    use crate::checksum::params_crc32;
    use kernels::net::ValenceConfig;

    /// A TINY checkpoint after 2 Adam steps, written by Valence before safetensors (see the
    /// fixture's README.md).
    pub(in crate::checkpoint) const FIXTURE: &[u8] =
        include_bytes!("../../tests/fixtures/v1-tiny-run/checkpoint.vckpt");

    /// Re-seals edited bytes with a correct length and CRC, so the content checks are reached.
    fn reseal(mut body: Vec<u8>) -> Vec<u8> {
        let total = (body.len() + CRC_LEN) as u64;
        body[12..PREAMBLE].copy_from_slice(&total.to_le_bytes());
        let crc = crc32fast::hash(&body);
        body.extend_from_slice(&crc.to_le_bytes());
        body
    }

    #[test]
    fn the_fixture_reads_with_the_values_its_run_printed() {
        let c = decode(FIXTURE).unwrap();
        assert_eq!(
            (c.config.as_str(), c.step, c.optimizer, c.data_position),
            ("tiny", 2, OptimizerKind::Adam, 2)
        );
        // The run that wrote it printed `parameters CRC-32: 6b5679ad`.
        let crc = params_crc32(c.params.iter().map(|t| t.data.as_slice()));
        assert_eq!(crc, 0x6b56_79ad);
        let specs = ValenceConfig::TINY.params().unwrap();
        let table: Vec<_> = specs.iter().map(|s| (s.name, s.dims().to_vec())).collect();
        let read: Vec<_> = c
            .params
            .iter()
            .map(|t| (t.name.as_str(), t.shape.clone()))
            .collect();
        assert_eq!(read, table);
        // Version 2's slot names: TensorFlow 1's.
        let slots: Vec<&str> = c.slots.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(slots.len(), 2 * specs.len() + 2);
        assert_eq!(slots[0], "weights1/Adam");
        assert_eq!(slots[specs.len()], "weights1/Adam_1");
        assert_eq!(slots[2 * specs.len()..], ["beta1_power", "beta2_power"]);
        assert!(c.attrs.is_sorted());
        assert!(c.attrs.contains(&("seed".into(), "3".into())));
    }

    #[test]
    fn each_corruption_gives_its_error() {
        let good = FIXTURE;
        let body = good[..good.len() - CRC_LEN].to_vec();
        let e = |b: &[u8]| decode(b).unwrap_err();

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
        let mut longer = good.to_vec();
        longer.push(0);
        assert_eq!(e(&longer), FormatError::TrailingBytes { extra: 1 });

        let mut v2 = good.to_vec();
        v2[8] = 2;
        assert_eq!(
            e(&v2),
            FormatError::UnsupportedVersion {
                found: 2,
                supported: 2
            }
        );

        // One flipped bit anywhere after the preamble is caught by the CRC.
        for at in [PREAMBLE, good.len() / 2, good.len() - 5, good.len() - 1] {
            let mut flipped = good.to_vec();
            flipped[at] ^= 0x10;
            assert!(
                matches!(e(&flipped), FormatError::Crc { what: "file", .. }),
                "byte {at}"
            );
        }

        // Content errors behind a valid CRC: the element count of the first tensor (its name,
        // rank 4 and four u64 dims come before it).
        let name_at = body
            .windows(12)
            .position(|w| w == b"\x08\0\0\0weights1")
            .unwrap();
        let count_at = name_at + 12 + 4 + 32;
        let n = 5 * 5 * 3 * 8u64;
        assert_eq!(body[count_at..count_at + 8], n.to_le_bytes());
        let mut wrong = body.clone();
        wrong[count_at..count_at + 8].copy_from_slice(&(n + 1).to_le_bytes());
        assert_eq!(
            e(&reseal(wrong)),
            FormatError::TensorLength {
                name: "weights1".into(),
                expected: n,
                got: n + 1
            }
        );
        // A huge shape with a matching count: refused before any allocation.
        let mut huge = body.clone();
        let dims_at = count_at - 32;
        huge[dims_at..dims_at + 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
        huge[count_at..count_at + 8].copy_from_slice(&((1u64 << 40) * 120).to_le_bytes());
        assert!(matches!(e(&reseal(huge)), FormatError::Malformed(m) if m.contains("exceed")));
        // A huge tensor count.
        let params_at = name_at - 4;
        let mut many = body.clone();
        many[params_at..params_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(e(&reseal(many)), FormatError::Malformed(m) if m.contains("count")));
        // An unknown optimiser code (after the config "tiny" and the step).
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
}
