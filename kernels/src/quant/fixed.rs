//! gemmlowp's fixed-point primitives, as TFLite uses them (`fixedpoint/fixedpoint.h`).

/// The high 32 bits of `2·a·b`, rounded to nearest with ties toward +∞ (gemmlowp's nudge
/// `±2^30` then a truncating division), saturating the one
/// overflowing case `i32::MIN · i32::MIN` to `i32::MAX` — gemmlowp's
/// `SaturatingRoundingDoublingHighMul`.
///
/// Read as Q31 fractions in `[−1, 1)`, this is their product.
#[inline]
pub const fn saturating_rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    let ab = a as i64 * b as i64;
    let nudge: i64 = if ab >= 0 { 1 << 30 } else { 1 - (1 << 30) };
    // `/` truncates toward zero, as C++'s does; with the nudge that rounds to nearest, ties
    // upward (−0.5 → 0, 0.5 → 1).
    // The quotient fits: |ab| < 2^62 except for the case handled above.
    ((ab + nudge) / (1i64 << 31)) as i32
}

/// `x / 2^exponent` rounded to nearest, ties away from zero — gemmlowp's `RoundingDivideByPOT`.
///
/// gemmlowp requires `exponent ≤ 31`; larger exponents are treated as 31 here so that no input
/// can make it panic (every `i32` then rounds to −1, 0 or 1).
#[inline]
pub const fn rounding_divide_by_pot(x: i32, exponent: u32) -> i32 {
    let exponent = if exponent > 31 { 31 } else { exponent };
    let mask = ((1i64 << exponent) - 1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + if x < 0 { 1 } else { 0 };
    (x >> exponent) + if remainder > threshold { 1 } else { 0 }
}

/// `x` clamped to `i8`'s range.
#[inline]
pub const fn saturate_s8(x: i32) -> i8 {
    if x < i8::MIN as i32 {
        i8::MIN
    } else if x > i8::MAX as i32 {
        i8::MAX
    } else {
        x as i8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference: the exact rational `num / den` rounded half away from zero, in i128.
    fn round_div(num: i128, den: i128) -> i128 {
        let q = num / den;
        let r = num % den;
        if 2 * r.abs() >= den {
            q + num.signum()
        } else {
            q
        }
    }

    /// Reference: `num / den` (den > 0) rounded to nearest, ties toward +∞, in i128.
    fn round_up_div(num: i128, den: i128) -> i128 {
        (2 * num + den).div_euclid(2 * den)
    }

    #[test]
    fn doubling_high_mul_is_the_rounded_q31_product() {
        let vals = [
            0,
            1,
            -1,
            2,
            -2,
            12345,
            -98765,
            1 << 30,
            -(1 << 30),
            i32::MAX,
            i32::MIN + 1,
            0x4000_0001,
            -0x3fff_ffff,
            1_518_500_250,
        ];
        for &a in &vals {
            for &b in &vals {
                let want = round_up_div(2 * i128::from(a) * i128::from(b), 1 << 32);
                assert_eq!(
                    i128::from(saturating_rounding_doubling_high_mul(a, b)),
                    want,
                    "{a} · {b}"
                );
            }
        }
        // The one saturating case, and its neighbours that do not saturate.
        assert_eq!(
            saturating_rounding_doubling_high_mul(i32::MIN, i32::MIN),
            i32::MAX
        );
        assert_eq!(
            saturating_rounding_doubling_high_mul(i32::MIN, i32::MIN + 1),
            i32::MAX
        );
        assert_eq!(
            saturating_rounding_doubling_high_mul(i32::MIN, i32::MAX),
            i32::MIN + 1
        );
        // Ties: 2·a·b = ±2^31 exactly → ±0.5 → upward: 1 and 0; −1.5 → −1.
        assert_eq!(saturating_rounding_doubling_high_mul(1 << 15, 1 << 15), 1);
        assert_eq!(
            saturating_rounding_doubling_high_mul(-(1 << 15), 1 << 15),
            0
        );
        assert_eq!(saturating_rounding_doubling_high_mul(-3 << 15, 1 << 15), -1);
        // Just below the tie rounds toward zero.
        assert_eq!(saturating_rounding_doubling_high_mul(3, 1 << 29), 1);
        assert_eq!(saturating_rounding_doubling_high_mul(-1, 1 << 29), 0);
    }

    #[test]
    fn rounding_divide_rounds_half_away_from_zero() {
        assert_eq!(rounding_divide_by_pot(5, 1), 3); // 2.5
        assert_eq!(rounding_divide_by_pot(-5, 1), -3); // −2.5
        assert_eq!(rounding_divide_by_pot(-3, 2), -1); // −0.75
        assert_eq!(rounding_divide_by_pot(-2, 2), -1); // −0.5
        assert_eq!(rounding_divide_by_pot(-1, 2), 0); // −0.25
        assert_eq!(rounding_divide_by_pot(7, 0), 7);
        assert_eq!(rounding_divide_by_pot(i32::MAX, 31), 1);
        assert_eq!(rounding_divide_by_pot(i32::MIN, 31), -1);
        assert_eq!(rounding_divide_by_pot(i32::MIN, 40), -1);
        for x in -1000..1000 {
            for e in 0..12u32 {
                let want = round_div(i128::from(x), 1 << e);
                assert_eq!(
                    i128::from(rounding_divide_by_pot(x, e)),
                    want,
                    "{x} / 2^{e}"
                );
            }
        }
    }

    #[test]
    fn saturate_clamps_to_i8() {
        assert_eq!(saturate_s8(-129), -128);
        assert_eq!(saturate_s8(i32::MIN), -128);
        assert_eq!(saturate_s8(128), 127);
        assert_eq!(saturate_s8(-5), -5);
    }
}
