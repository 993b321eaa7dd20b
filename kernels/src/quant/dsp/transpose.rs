//! Matrix transposition: the SMLAD kernels read filters and weights with the reduction
//! innermost (TFLite's own order), Valence stores them with the output channel innermost.

use crate::error::{check_len, nonzero};
use crate::KernelError;

/// `src` (`rows × cols`, row-major) transposed into `dst` (`cols × rows`): an HWIO filter
/// (`rows = kh·kw·c_in`) becomes the `[c_out][kh][kw][c_in]` one of
/// [`conv2d_s8_smlad`](super::conv2d_s8_smlad), `[in, out]` dense weights (`rows = in`) the
/// `[out, in]` ones of [`dense_s8_smlad`](super::dense_s8_smlad).
///
/// # Errors
/// [`KernelError::Zero`] (`rows`) if `rows == 0`; [`KernelError::Length`] naming `src` if its
/// length is not a multiple of `rows` (expected: the next multiple), or `dst` if its length
/// differs from `src`'s. Nothing is written then.
pub fn transpose_s8(src: &[i8], rows: usize, dst: &mut [i8]) -> Result<(), KernelError> {
    nonzero("rows", rows)?;
    let rem = src.len() % rows;
    if rem != 0 {
        check_len("src", src.len() + (rows - rem), src.len())?;
    }
    check_len("dst", src.len(), dst.len())?;
    transpose_into(src, rows, dst, |v| v);
    Ok(())
}

/// [`transpose_s8`] over any element conversion, lengths already checked
/// (`src.len() == dst.len()`, a multiple of `rows > 0`).
pub(crate) fn transpose_into<T: Copy, U>(
    src: &[T],
    rows: usize,
    dst: &mut [U],
    f: impl Fn(T) -> U,
) {
    debug_assert!(rows > 0 && src.len() % rows == 0 && src.len() == dst.len());
    let cols = src.len() / rows;
    for (c, out) in dst.chunks_exact_mut(rows).enumerate() {
        for (r, d) in out.iter_mut().enumerate() {
            *d = f(src[r * cols + c]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposes_and_checks_lengths() {
        // [[1, 2, 3], [4, 5, 6]] → [[1, 4], [2, 5], [3, 6]], by hand.
        let mut dst = [0i8; 6];
        transpose_s8(&[1, 2, 3, 4, 5, 6], 2, &mut dst).unwrap();
        assert_eq!(dst, [1, 4, 2, 5, 3, 6]);
        let mut dst = [9i8; 6];
        assert_eq!(
            transpose_s8(&[1; 5], 2, &mut dst[..5]),
            Err(KernelError::Length {
                arg: "src",
                expected: 6,
                got: 5
            })
        );
        assert_eq!(
            transpose_s8(&[1; 6], 2, &mut dst[..4]),
            Err(KernelError::Length {
                arg: "dst",
                expected: 6,
                got: 4
            })
        );
        assert_eq!(
            transpose_s8(&[1; 6], 0, &mut dst),
            Err(KernelError::Zero { arg: "rows" })
        );
        assert_eq!(dst, [9; 6]);
    }
}
