//! int8 values to the q15 pairs the matrix kernel reads, with the zero point removed.

use super::insn::{pack, sxtab16, sxtab16_ror8, word};

/// Words of `len` values as q15 pairs.
pub(crate) const fn words(len: usize) -> usize {
    len.div_ceil(2)
}

/// `src − zero_point` as q15 pairs into column `col` of the `cols` interleaved columns in `dst`
/// (`cols ·` [`words`]`(src.len())` long), CMSIS-NN's `arm_q7_to_q15_reordered_with_offset`:
/// each group of four values `x0 x1 x2 x3` becomes the two words `(x0, x2)`, `(x1, x3)` — the
/// order in which `SXTB16` and `SXTB16 ROR #8` unpack four filter bytes — and group `g` of
/// column `col` lands at words `2·(g·cols + col)`, so the matrix kernel reads the columns' groups
/// side by side; the last `len % 4` values follow all the groups, column after column, in
/// order, `(x0, x1)`, `(x2, 0)`.
///
/// The differences lie in `−255..=255`, so the 16-bit lanes never wrap.
pub(crate) fn q7_to_q15_reordered(
    src: &[i8],
    zero_point: i8,
    dst: &mut [i32],
    col: usize,
    cols: usize,
) {
    debug_assert!(col < cols && dst.len() == cols * words(src.len()));
    let zp = i32::from(zero_point);
    let minus_zp = pack(-zp, -zp);
    let split = src.len() / 4 * 4;
    let (groups, rest) = src.split_at(split);
    let (dst_groups, dst_rest) = dst.split_at_mut(split / 2 * cols);
    // Chunks of `2·cols` words starting at this column's first: the first two of each are its.
    let dst_groups = dst_groups.get_mut(2 * col..).unwrap_or_default();
    for (s, d) in groups.chunks_exact(4).zip(dst_groups.chunks_mut(2 * cols)) {
        if let [d0, d1, ..] = d {
            let v = word(s);
            *d0 = sxtab16(minus_zp, v) as i32;
            *d1 = sxtab16_ror8(minus_zp, v) as i32;
        }
    }
    let tail = words(rest.len());
    for (s, d) in rest.chunks(2).zip(&mut dst_rest[col * tail..]) {
        let hi = s.get(1).map_or(0, |&v| i32::from(v) - zp);
        *d = pack(i32::from(s[0]) - zp, hi) as i32;
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::quant::dsp::insn::lane;

    #[test]
    fn groups_are_reordered_and_interleaved_and_the_tail_is_not() {
        // Reference: the layout spelled out by hand for 7 values at zero point −3 (x + 3), as
        // the only column and as column 1 of 2.
        let src = [10i8, 11, 12, 13, -128, 127, 0];
        let lanes = |d: &[i32]| -> std::vec::Vec<[i32; 2]> {
            d.iter()
                .map(|&w| [lane(w as u32, 0), lane(w as u32, 1)])
                .collect()
        };
        let mut dst = [0x5555_5555; 4];
        q7_to_q15_reordered(&src, -3, &mut dst, 0, 1);
        assert_eq!(lanes(&dst), [[13, 15], [14, 16], [-125, 130], [3, 0]]);
        let mut dst = [0x5555_5555; 8];
        q7_to_q15_reordered(&src, -3, &mut dst, 1, 2);
        let u = [0x5555, 0x5555];
        assert_eq!(
            lanes(&dst),
            [u, u, [13, 15], [14, 16], u, u, [-125, 130], [3, 0]]
        );
        // The extremes: −128 − 127 and 127 + 128.
        let mut dst = [0; 1];
        q7_to_q15_reordered(&[-128, 127], 127, &mut dst, 0, 1);
        assert_eq!(lanes(&dst), [[-255, 0]]);
        q7_to_q15_reordered(&[-128, 127], -128, &mut dst, 0, 1);
        assert_eq!(lanes(&dst), [[0, 255]]);
    }
}
