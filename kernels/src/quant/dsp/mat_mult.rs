//! The SMLAD matrix kernel, after CMSIS-NN's `arm_nn_mat_mult_kernel_s8_s16`: int8 filter rows
//! (unpacked four bytes at a time by `SXTB16`) times one or two q15 columns
//! ([`q7_to_q15_reordered`](super::q15::q7_to_q15_reordered)), two output channels × two
//! columns per inner step in four accumulators.

use super::filter::tail_words;
use super::insn::{lane, mac_2x1, mac_2x2, smlad, sxtb16, sxtb16_ror8, word};
use super::q15::words;

/// The filter's dot products with up to two columns; `y` holds `cols` (1 or 2) output rows of
/// `channels` values, `y[col · channels + c] = finish(c, filter row c · column col)`.
///
/// `filter` is `channels` rows of `len` int8 values in the pair-interleaved layout of
/// [`dense_s8_smlad_weights`](super::dense_s8_smlad_weights), `cols` one or two columns of
/// [`words`]`(len)` q15 pairs each, interleaved as
/// [`q7_to_q15_reordered`](super::q15::q7_to_q15_reordered) writes them. Sums wrap in `i32` (as
/// `SMLAD` does, and as the portable kernels' sums do: the same bits).
pub(crate) fn mat_mult(
    filter: &[i8],
    len: usize,
    cols: &[i32],
    y: &mut [i8],
    finish: impl Fn(usize, i32) -> i8,
) {
    let cw = words(len);
    let channels = filter.len() / len;
    let n = cols.len() / cw;
    debug_assert!(n == 1 || n == 2);
    debug_assert_eq!(y.len(), channels * n);
    let pairs = filter.chunks_exact(2 * len);
    let odd = pairs.remainder();
    for (p, w) in pairs.enumerate() {
        let c = 2 * p;
        if n == 2 {
            let s = dot_2x2(w, len, cols);
            (y[c], y[channels + c]) = (finish(c, s[0]), finish(c, s[1]));
            (y[c + 1], y[channels + c + 1]) = (finish(c + 1, s[2]), finish(c + 1, s[3]));
        } else {
            let s = dot_2x1(w, len, cols);
            (y[c], y[c + 1]) = (finish(c, s[0]), finish(c + 1, s[1]));
        }
    }
    if !odd.is_empty() {
        let c = channels - 1;
        for col in 0..n {
            y[col * channels + c] = finish(c, dot_1(odd, cols, col, n));
        }
    }
}

/// The last `len % 4` products (values in natural order in the tail words).
#[inline(always)]
fn tail(w: &[i8], x: &[i32]) -> i32 {
    let mut acc = 0i32;
    for (j, &v) in w.iter().enumerate() {
        acc = acc.wrapping_add(i32::from(v) * lane(x[j / 2] as u32, j % 2));
    }
    acc
}

/// A channel pair `w` (`2·len` bytes, interleaved) times the two interleaved columns `x`:
/// `[c·x0, c·x1, (c+1)·x0, (c+1)·x1]`.
///
#[inline(always)]
fn dot_2x2(w: &[i8], len: usize, x: &[i32]) -> [i32; 4] {
    let n = len / 4 * 4;
    let (w, t) = w.split_at(2 * n);
    let (t0, t1) = t.split_at(len - n);
    let (x, u) = x.split_at(n);
    let (u0, u1) = u.split_at(tail_words(len));
    let s = mac_2x2(w, x, [0; 4]);
    [
        s[0].wrapping_add(tail(t0, u0)),
        s[1].wrapping_add(tail(t0, u1)),
        s[2].wrapping_add(tail(t1, u0)),
        s[3].wrapping_add(tail(t1, u1)),
    ]
}

/// A channel pair `w` times the one column `x`: `[c·x, (c+1)·x]`.
#[inline(always)]
fn dot_2x1(w: &[i8], len: usize, x: &[i32]) -> [i32; 2] {
    let n = len / 4 * 4;
    let (w, t) = w.split_at(2 * n);
    let (t0, t1) = t.split_at(len - n);
    let (x, u) = x.split_at(n / 2);
    let s = mac_2x1(w, x, [0; 2]);
    [
        s[0].wrapping_add(tail(t0, u)),
        s[1].wrapping_add(tail(t1, u)),
    ]
}

/// The odd last channel's row `w` (in order) times column `col` of the `cols` interleaved ones.
fn dot_1(w: &[i8], x: &[i32], col: usize, cols: usize) -> i32 {
    let n = w.len() / 4 * 4;
    let (w, t) = w.split_at(n);
    let (x, u) = x.split_at(n / 2 * cols);
    let tw = tail_words(t.len());
    let mut s = 0i32;
    for (a, p) in w
        .chunks_exact(4)
        .zip(x.chunks_exact(2).skip(col).step_by(cols))
    {
        let a = word(a);
        s = smlad(
            sxtb16_ror8(a),
            p[1] as u32,
            smlad(sxtb16(a), p[0] as u32, s),
        );
    }
    s.wrapping_add(tail(t, &u[col * tw..]))
}
