//! The parameter checksum a run prints at its end: CRC-32 (IEEE, as zlib's `crc32`) of every
//! parameter's little-endian bytes, tensor after tensor in the network's order. Two runs (or a
//! run and a board) that print the same checksum hold the same parameter bits.

use std::borrow::Cow;

/// CRC-32 of the little-endian bytes of `tensors`, concatenated in the order given, hashed a
/// whole tensor at a time (a FULL network is 32 MB of them; four bytes per call cost 3–4× more).
pub fn params_crc32<'a>(tensors: impl IntoIterator<Item = &'a [f32]>) -> u32 {
    let mut h = crc32fast::Hasher::new();
    for t in tensors {
        h.update(&le_bytes(t));
    }
    h.finalize()
}

/// The little-endian bytes of `data`: on a little-endian machine its memory itself, no copy.
pub fn le_bytes(data: &[f32]) -> Cow<'_, [u8]> {
    if cfg!(target_endian = "little") {
        Cow::Borrowed(bytemuck::cast_slice(data))
    } else {
        Cow::Owned(data.iter().flat_map(|x| x.to_le_bytes()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_zlib() {
        // Reference: python3 zlib.crc32(struct.pack('<4f', 1.0, -2.5, 0.1, 3e38) + struct.pack('<2f', -0.0, 7.0)).
        let a = [1.0f32, -2.5, 0.1, 3e38];
        let b = [-0.0f32, 7.0];
        assert_eq!(params_crc32([&a[..]]), 0xe60a_255c);
        assert_eq!(params_crc32([&a[..], &b[..]]), 0x6565_3c2c);
        // Only the concatenated bytes count, not where one tensor ends.
        assert_eq!(
            params_crc32([&a[..3], &a[3..], &b[..], &[][..]]),
            0x6565_3c2c
        );
        assert_eq!(params_crc32(std::iter::empty()), 0);
    }
}
