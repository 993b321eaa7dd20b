//! The convolution's requantisation in fewer instructions.

use crate::quant::{rounding_divide_by_pot, QuantizedMultiplier};

/// [`QuantizedMultiplier::apply`] (TFLite's double rounding), the same value for every input,
/// computed with one 64-bit multiply-add and no branch on the sign:
/// `SaturatingRoundingDoublingHighMul(a, b)` rounds `a·b / 2^31` to nearest with ties upward,
/// which is `(a·b + 2^30) >> 31` (an arithmetic shift floors); only `i32::MIN · i32::MIN`
/// leaves `i32`, and saturates.
#[inline(always)]
pub(crate) fn apply(m: QuantizedMultiplier, x: i32) -> i32 {
    let s = m.shift();
    let (left, right) = if s > 0 {
        (s as u32, 0)
    } else {
        (0, s.unsigned_abs())
    };
    let x = x.wrapping_shl(left);
    let high = (i64::from(x) * i64::from(m.multiplier()) + (1 << 30)) >> 31;
    let high = if high > i64::from(i32::MAX) {
        i32::MAX
    } else {
        high as i32
    };
    rounding_divide_by_pot(high, right)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equals_the_reference_multiplier() {
        // Reference: `QuantizedMultiplier::apply` (checked against i128 arithmetic in
        // `fixed`), over every shift, extreme and ordinary multipliers and inputs, including
        // the one saturating product and left shifts that wrap.
        let xs = [
            0,
            1,
            -1,
            2,
            -3,
            1000,
            -77_777,
            1 << 20,
            -(1 << 24) - 5,
            i32::MAX,
            i32::MIN,
            i32::MIN + 1,
        ];
        let ms = [
            0,
            1 << 30,
            (1 << 30) + 12_345,
            i32::MAX,
            -(1 << 30),
            i32::MIN,
            1_518_500_250,
        ];
        for shift in -31..=30 {
            for &mm in &ms {
                let m = QuantizedMultiplier::from_parts(mm, shift).unwrap();
                for &x in &xs {
                    assert_eq!(apply(m, x), m.apply(x), "{mm} · 2^{shift}, x = {x}");
                }
            }
        }
    }
}
