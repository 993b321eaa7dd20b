//! The SMLAD matrix kernel, after CMSIS-NN's `arm_nn_mat_mult_kernel_s8_s16`: int8 filter rows
//! (unpacked four bytes at a time by `SXTB16`) times one or two q15 columns
//! ([`q7_to_q15_reordered`](super::q15::q7_to_q15_reordered)), two output channels × two
//! columns per inner step in four accumulators.

use super::insn::{lane, smlad, sxtb16, sxtb16_ror8, word};
use super::q15::words;

/// The rows' dot products with up to two columns; `y` holds `cols` (1 or 2) output rows of
/// `channels` values, `y[col · channels + c] = finish(c, filter[c] · column col)`.
///
/// `filter` is `channels` rows of `len` int8 values, `cols` one or two columns of
/// [`words`]`(len)` q15 pairs each. Sums wrap in `i32` (as `SMLAD` does, and as the portable
/// kernels' sums do: the same bits).
pub(crate) fn mat_mult(
    filter: &[i8],
    len: usize,
    cols: &[i32],
    y: &mut [i8],
    finish: impl Fn(usize, i32) -> i8,
) {
    let cw = words(len);
    let channels = filter.len() / len;
    debug_assert!(cols.len() == cw || cols.len() == 2 * cw);
    debug_assert_eq!(y.len(), channels * (cols.len() / cw));
    let row = |c: usize| &filter[c * len..][..len];
    let mut c = 0;
    if cols.len() == 2 * cw {
        let (x0, x1) = cols.split_at(cw);
        let (y0, y1) = y.split_at_mut(channels);
        while c + 1 < channels {
            let s = dot_2x2(row(c), row(c + 1), x0, x1);
            (y0[c], y1[c]) = (finish(c, s[0]), finish(c, s[1]));
            (y0[c + 1], y1[c + 1]) = (finish(c + 1, s[2]), finish(c + 1, s[3]));
            c += 2;
        }
        if c < channels {
            (y0[c], y1[c]) = (
                finish(c, dot_1x1(row(c), x0)),
                finish(c, dot_1x1(row(c), x1)),
            );
        }
    } else {
        while c + 1 < channels {
            let s = dot_2x1(row(c), row(c + 1), cols);
            (y[c], y[c + 1]) = (finish(c, s[0]), finish(c + 1, s[1]));
            c += 2;
        }
        if c < channels {
            y[c] = finish(c, dot_1x1(row(c), cols));
        }
    }
}

/// Splits a row of `len` values and its column at the last whole group of four.
#[inline(always)]
fn split<'w, 'x>(w: &'w [i8], x: &'x [i32]) -> ((&'w [i8], &'w [i8]), (&'x [i32], &'x [i32])) {
    let n = w.len() / 4 * 4;
    (w.split_at(n), x.split_at(n / 2))
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

/// Rows `w0`, `w1` times columns `x0`, `x1`: `[w0·x0, w0·x1, w1·x0, w1·x1]`.
#[inline(always)]
fn dot_2x2(w0: &[i8], w1: &[i8], x0: &[i32], x1: &[i32]) -> [i32; 4] {
    let ((w0, t0), (x0, u0)) = split(w0, x0);
    let ((w1, t1), (x1, u1)) = split(w1, x1);
    let mut s = [0i32; 4];
    for (((a, b), p), q) in w0
        .chunks_exact(4)
        .zip(w1.chunks_exact(4))
        .zip(x0.chunks_exact(2))
        .zip(x1.chunks_exact(2))
    {
        let (a, b) = (word(a), word(b));
        let (a0, a1, b0, b1) = (sxtb16(a), sxtb16_ror8(a), sxtb16(b), sxtb16_ror8(b));
        let (p0, p1, q0, q1) = (p[0] as u32, p[1] as u32, q[0] as u32, q[1] as u32);
        s[0] = smlad(a1, p1, smlad(a0, p0, s[0]));
        s[1] = smlad(a1, q1, smlad(a0, q0, s[1]));
        s[2] = smlad(b1, p1, smlad(b0, p0, s[2]));
        s[3] = smlad(b1, q1, smlad(b0, q0, s[3]));
    }
    [
        s[0].wrapping_add(tail(t0, u0)),
        s[1].wrapping_add(tail(t0, u1)),
        s[2].wrapping_add(tail(t1, u0)),
        s[3].wrapping_add(tail(t1, u1)),
    ]
}

/// Rows `w0`, `w1` times column `x`: `[w0·x, w1·x]`.
#[inline(always)]
fn dot_2x1(w0: &[i8], w1: &[i8], x: &[i32]) -> [i32; 2] {
    let ((w0, t0), (xm, u)) = split(w0, x);
    let (w1, t1) = w1.split_at(w0.len());
    let mut s = [0i32; 2];
    for ((a, b), p) in w0
        .chunks_exact(4)
        .zip(w1.chunks_exact(4))
        .zip(xm.chunks_exact(2))
    {
        let (a, b) = (word(a), word(b));
        let (p0, p1) = (p[0] as u32, p[1] as u32);
        s[0] = smlad(sxtb16_ror8(a), p1, smlad(sxtb16(a), p0, s[0]));
        s[1] = smlad(sxtb16_ror8(b), p1, smlad(sxtb16(b), p0, s[1]));
    }
    [
        s[0].wrapping_add(tail(t0, u)),
        s[1].wrapping_add(tail(t1, u)),
    ]
}

/// Row `w` times column `x`.
#[inline(always)]
fn dot_1x1(w: &[i8], x: &[i32]) -> i32 {
    let ((w, t), (xm, u)) = split(w, x);
    let mut s = 0i32;
    for (a, p) in w.chunks_exact(4).zip(xm.chunks_exact(2)) {
        let a = word(a);
        s = smlad(
            sxtb16_ror8(a),
            p[1] as u32,
            smlad(sxtb16(a), p[0] as u32, s),
        );
    }
    s.wrapping_add(tail(t, u))
}
