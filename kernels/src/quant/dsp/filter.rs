//! The filter layout the SMLAD matrix kernel reads: output channels in pairs, each pair's two
//! rows (the reduction innermost, as TFLite stores filters) interleaved four bytes at a time, so
//! that one 8-byte load brings four values of both channels.

use super::q15::words;
use crate::conv2d::Conv2d;
use crate::dense::Dense;
use crate::error::check_len;
use crate::KernelError;

/// [`conv2d_s8_smlad`](super::conv2d_s8_smlad)'s filter from the HWIO one: exactly
/// `g.filter_len()` bytes, rearranged (see [`dense_s8_smlad_weights`] for the layout, with
/// `len = kh·kw·c_in` and `channels = c_out`). A board does this once per model (or, as
/// `QuantNet` does, while copying a layer's weights out of flash).
///
/// # Errors
/// [`KernelError::Length`] naming `filter` or `dst` if its length is not `g.filter_len()`;
/// nothing is written then.
pub fn conv2d_s8_smlad_filter(
    g: &Conv2d,
    filter: &[i8],
    dst: &mut [i8],
) -> Result<(), KernelError> {
    check_len("filter", g.filter_len(), filter.len())?;
    check_len("dst", g.filter_len(), dst.len())?;
    interleave_into(filter, g.patch_len(), dst, |v| v);
    Ok(())
}

/// [`dense_s8_smlad`](super::dense_s8_smlad)'s weights from Valence's `[in, out]` ones: exactly
/// `g.weights_len()` bytes, with `len = in` and `channels = out`. Output channels go in pairs
/// `(c, c + 1)`; a pair's `2·len` bytes hold, for each whole group of four inputs, the four
/// weights of `c` then those of `c + 1`, and then the last `len % 4` weights of `c` and of
/// `c + 1`. An odd last channel's `len` weights follow in order.
///
/// # Errors
/// [`KernelError::Length`] naming `weights` or `dst` if its length is not `g.weights_len()`;
/// nothing is written then.
pub fn dense_s8_smlad_weights(
    g: &Dense,
    weights: &[i8],
    dst: &mut [i8],
) -> Result<(), KernelError> {
    check_len("weights", g.weights_len(), weights.len())?;
    check_len("dst", g.weights_len(), dst.len())?;
    interleave_into(weights, g.inputs(), dst, |v| v);
    Ok(())
}

/// The layout of [`dense_s8_smlad_weights`] from `src` (`len × channels`, channels innermost),
/// each value converted by `f`; lengths already checked (`dst.len() == src.len()`, a multiple
/// of `len > 0`).
pub(crate) fn interleave_into<T: Copy>(src: &[T], len: usize, dst: &mut [i8], f: impl Fn(T) -> i8) {
    debug_assert!(len > 0 && src.len() % len == 0 && src.len() == dst.len());
    let channels = src.len() / len;
    let n = len / 4 * 4;
    let mut i = 0;
    let mut put = |k: usize, c: usize| {
        dst[i] = f(src[k * channels + c]);
        i += 1;
    };
    let mut c = 0;
    while c + 1 < channels {
        for g in (0..n).step_by(4) {
            for cc in [c, c + 1] {
                for k in g..g + 4 {
                    put(k, cc);
                }
            }
        }
        for cc in [c, c + 1] {
            for k in n..len {
                put(k, cc);
            }
        }
        c += 2;
    }
    if c < channels {
        for k in 0..len {
            put(k, c);
        }
    }
}

/// Words of one column's tail (its last `len % 4` values).
pub(crate) const fn tail_words(len: usize) -> usize {
    words(len % 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_interleaved_by_fours_and_checked() {
        // Reference: the layout by hand. len 5, 3 channels; src[k][c] = 10k + c.
        let src: [i8; 15] = core::array::from_fn(|i| (10 * (i / 3) + i % 3) as i8);
        let g = Dense::new(5, 3).unwrap();
        let mut dst = [0i8; 15];
        dense_s8_smlad_weights(&g, &src, &mut dst).unwrap();
        assert_eq!(
            dst,
            [0, 10, 20, 30, 1, 11, 21, 31, 40, 41, 2, 12, 22, 32, 42]
        );
        let mut dst = [7i8; 15];
        assert_eq!(
            dense_s8_smlad_weights(&g, &src[..14], &mut dst),
            Err(KernelError::Length {
                arg: "weights",
                expected: 15,
                got: 14
            })
        );
        assert_eq!(
            dense_s8_smlad_weights(&g, &src, &mut dst[..14]),
            Err(KernelError::Length {
                arg: "dst",
                expected: 15,
                got: 14
            })
        );
        assert_eq!(dst, [7; 15]);
    }
}
