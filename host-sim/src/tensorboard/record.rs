//! TFRecord framing: how every event file stores its serialized `Event`s.
//!
//! A record is `u64 LE length | u32 LE masked_crc32c(length bytes) | data |
//! u32 LE masked_crc32c(data)` (TensorFlow's `core/lib/io/record_writer.cc`, TensorBoard's
//! `summary/writer/record_writer.py`). Both TensorBoard loaders stop at the first record that is
//! short or whose checksums do not match, so a writer must never leave a half-written record in
//! the middle of a file: [`encode_record`] builds a whole record in memory for one `write_all`.
//!
//! [`read_records`] reads a file back the way the loaders do, for tests (and for a crash-safety
//! check: after a crash, everything up to the last whole record must be there).

use std::io;
use std::path::Path;

/// Bytes of framing before the data: the length and its checksum.
pub const HEADER_LEN: usize = 12;
/// Bytes of framing after the data: the data's checksum.
pub const FOOTER_LEN: usize = 4;

/// TensorFlow's `crc32c::Mask`: rotate right by 15 and add a constant, so that a CRC stored
/// next to the data it covers does not checksum to something trivial.
pub const fn mask_crc(crc: u32) -> u32 {
    crc.rotate_right(15).wrapping_add(0xA282_EAD8)
}

/// The masked CRC-32C (Castagnoli) of `bytes`, as stored in a record.
pub fn masked_crc32c(bytes: &[u8]) -> u32 {
    mask_crc(crc32c::crc32c(bytes))
}

/// The whole record framing `data`: header, data and footer, ready for one `write_all`.
pub fn encode_record(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + data.len() + FOOTER_LEN);
    append_record(&mut out, data);
    out
}

/// Appends the whole record framing `data` to `out`.
pub fn append_record(out: &mut Vec<u8>, data: &[u8]) {
    // usize → u64 is lossless on every target Rust supports (usize is at most 64 bits).
    let len = (data.len() as u64).to_le_bytes();
    out.reserve(HEADER_LEN + data.len() + FOOTER_LEN);
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc32c(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc32c(data).to_le_bytes());
}

/// Why [`read_records`] stopped before the end of the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Damage {
    /// Fewer than [`HEADER_LEN`] bytes remain: a header cut short.
    ShortHeader,
    /// The length's checksum does not match: not a record boundary, or corrupt.
    BadLengthCrc,
    /// The header promises more data and footer than the file holds: a record cut short.
    ShortData,
    /// The data's checksum does not match.
    BadDataCrc,
}

/// The unreadable tail of a file: where the last whole record ended, and why the rest is not one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Truncation {
    /// Byte offset of the first byte not part of a whole record (the end of the last whole one).
    pub offset: u64,
    /// Bytes from `offset` to the end of the file.
    pub trailing: u64,
    /// What is wrong with those bytes.
    pub damage: Damage,
}

/// Reads `path` as a sequence of records, as TensorBoard's loaders do: returns the data of every
/// whole, checksum-valid record up to the first bad or partial one, and describes the rest (if
/// any) as a [`Truncation`]. A file that ends exactly after a record gives `None`.
///
/// # Errors
/// Only the file's own I/O errors; damage is a [`Truncation`], not an error.
pub fn read_records(path: &Path) -> io::Result<(Vec<Vec<u8>>, Option<Truncation>)> {
    Ok(parse_records(&std::fs::read(path)?))
}

/// [`read_records`] over bytes already in memory.
pub fn parse_records(bytes: &[u8]) -> (Vec<Vec<u8>>, Option<Truncation>) {
    let mut records = Vec::new();
    let mut pos = 0usize;
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        let damage = match next_record(rest) {
            Ok((data, used)) => {
                records.push(data.to_vec());
                pos += used;
                continue;
            }
            Err(damage) => damage,
        };
        let truncation = Truncation {
            offset: pos as u64,
            trailing: rest.len() as u64,
            damage,
        };
        return (records, Some(truncation));
    }
    (records, None)
}

/// The first record of `rest`: its data and the bytes it occupies.
fn next_record(rest: &[u8]) -> Result<(&[u8], usize), Damage> {
    let header = rest.get(..HEADER_LEN).ok_or(Damage::ShortHeader)?;
    let (len_bytes, len_crc) = header.split_at(8);
    if masked_crc32c(len_bytes) != u32::from_le_bytes(len_crc.try_into().expect("4 bytes")) {
        return Err(Damage::BadLengthCrc);
    }
    let len = u64::from_le_bytes(len_bytes.try_into().expect("8 bytes"));
    // A length that does not fit the address space cannot fit the file either.
    let total = usize::try_from(len)
        .ok()
        .and_then(|n| n.checked_add(HEADER_LEN + FOOTER_LEN))
        .ok_or(Damage::ShortData)?;
    let record = rest.get(..total).ok_or(Damage::ShortData)?;
    let (data, crc) = record[HEADER_LEN..].split_at(total - HEADER_LEN - FOOTER_LEN);
    if masked_crc32c(data) != u32::from_le_bytes(crc.try_into().expect("4 bytes")) {
        return Err(Damage::BadDataCrc);
    }
    Ok((data, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lowercase hex of `bytes`, no separators.
    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// TENSORBOARD.md: Event{wall_time=1.0, file_version="brain.Event:2"}, framed.
    const RECORD_1: &str = "1800000000000000 a37f4b22 \
        09000000000000f03f1a0d627261696e2e4576656e743a32 86bf577a";
    /// TENSORBOARD.md: Event{wall_time=1, step=1, value{tag="loss", simple_value=0.5}}, framed.
    const RECORD_2: &str = "1a00000000000000 129bd82d \
        09000000000000f03f10012a0d0a0b0a046c6f7373150000003f 27f95db1";

    #[test]
    fn crc32c_known_answers() {
        // TENSORBOARD.md (from TensorFlow's crc32c_test.cc): 32 zero bytes.
        assert_eq!(crc32c::crc32c(&[0u8; 32]), 0x8A91_36AA);
        let mut data = vec![0x1A, 0x11];
        data.extend_from_slice(b"CRC test, one two");
        assert_eq!(masked_crc32c(&data), 0x5794_D08A);
    }

    #[test]
    fn mask_is_rotate_and_add() {
        // The mask written out as TENSORBOARD.md states it, in u64 arithmetic mod 2^32.
        for c in [0u32, 1, 0x8A91_36AA, 0xFFFF_FFFF, 0x1234_5678] {
            let c64 = u64::from(c);
            let want = (((c64 >> 15) | (c64 << 17)) + 0xA282_EAD8) & 0xFFFF_FFFF;
            assert_eq!(u64::from(mask_crc(c)), want, "{c:#x}");
        }
    }

    #[test]
    fn whole_record_vectors() {
        for vector in [RECORD_1, RECORD_2] {
            let record = unhex(vector);
            let data = &record[HEADER_LEN..record.len() - FOOTER_LEN];
            assert_eq!(hex(&encode_record(data)), hex(&record));
            let (records, truncation) = parse_records(&record);
            assert_eq!(records, vec![data.to_vec()]);
            assert_eq!(truncation, None);
        }
    }

    #[test]
    fn every_cut_keeps_the_whole_records_before_it() {
        let mut file = unhex(RECORD_1);
        let first_len = file.len();
        file.extend(unhex(RECORD_2));
        for cut in 0..file.len() {
            let (records, truncation) = parse_records(&file[..cut]);
            let whole = usize::from(cut >= first_len);
            assert_eq!(records.len(), whole, "cut {cut}");
            let start = if whole == 1 { first_len } else { 0 };
            if cut == start {
                assert_eq!(truncation, None, "an empty tail is not damage");
                continue;
            }
            let t = truncation.unwrap_or_else(|| panic!("cut {cut} reported no damage"));
            assert_eq!(t.offset, start as u64, "cut {cut}");
            assert_eq!(t.trailing, (cut - start) as u64, "cut {cut}");
            let want = if cut - start < HEADER_LEN {
                Damage::ShortHeader
            } else {
                Damage::ShortData
            };
            assert_eq!(t.damage, want, "cut {cut}");
        }
    }

    #[test]
    fn flipped_bits_are_reported_not_read() {
        let good = unhex(RECORD_2);
        let mut bad_len = good.clone();
        bad_len[0] ^= 1;
        assert_eq!(
            parse_records(&bad_len).1.map(|t| t.damage),
            Some(Damage::BadLengthCrc)
        );
        let mut bad_data = good.clone();
        bad_data[HEADER_LEN + 3] ^= 0x40;
        let (records, t) = parse_records(&bad_data);
        assert!(records.is_empty());
        assert_eq!(t.map(|t| t.damage), Some(Damage::BadDataCrc));
    }

    #[test]
    fn absurd_length_is_short_data() {
        let len = u64::MAX.to_le_bytes();
        let mut bytes = len.to_vec();
        bytes.extend_from_slice(&masked_crc32c(&len).to_le_bytes());
        bytes.extend_from_slice(&[0; 8]);
        let (records, t) = parse_records(&bytes);
        assert!(records.is_empty());
        assert_eq!(t.map(|t| t.damage), Some(Damage::ShortData));
    }
}
