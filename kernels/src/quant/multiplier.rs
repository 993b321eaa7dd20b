//! Real multipliers as a Q31 significand and a power-of-two shift (TFLite's
//! `QuantizeMultiplier`), and their application (`MultiplyByQuantizedMultiplier`).

use super::fixed::{rounding_divide_by_pot, saturating_rounding_doubling_high_mul};
use super::params::QuantParams;
use crate::error::check_len;
use crate::KernelError;

/// A real multiplier `m ≈ multiplier · 2^(shift − 31)`, `multiplier` a Q31 significand in
/// `[2^30, 2^31)` (or its negative, or 0) and `shift` in `−31..=30`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct QuantizedMultiplier {
    multiplier: i32,
    shift: i32,
}

impl QuantizedMultiplier {
    /// Multiplying by 0.
    pub const ZERO: Self = Self {
        multiplier: 0,
        shift: 0,
    };

    /// *Prepare* (floating point): TFLite's `QuantizeMultiplier` in its default configuration
    /// (not `TFLITE_SINGLE_ROUNDING`, not `TFLITE_EMULATE_FLOAT`): `real = q · 2^shift` with
    /// `q ∈ [0.5, 1)` (`frexp`), `multiplier = round(q · 2^31)` (ties away from zero),
    /// renormalised when that rounds up to `2^31`; multipliers below about `2^−31` flush to
    /// zero.
    ///
    /// # Errors
    /// [`KernelError::InvalidParam`] naming `real` if it is not finite or its shift would exceed
    /// 30 (`|real| ≳ 2^30`), where TFLite's `x · 2^shift` would overflow.
    pub fn from_real(real: f64) -> Result<Self, KernelError> {
        if !real.is_finite() {
            return Err(KernelError::InvalidParam { arg: "real" });
        }
        if real == 0.0 {
            return Ok(Self::ZERO);
        }
        let (q, mut shift) = libm::frexp(real);
        let mut q_fixed = libm::round(q * (1i64 << 31) as f64) as i64;
        debug_assert!(q_fixed.abs() <= 1 << 31);
        if q_fixed == 1 << 31 {
            q_fixed /= 2;
            shift += 1;
        }
        if shift < -31 {
            return Ok(Self::ZERO);
        }
        if shift > 30 {
            return Err(KernelError::InvalidParam { arg: "real" });
        }
        // q ∈ (−1, −0.5] may round to −2^31, which still fits.
        Ok(Self {
            multiplier: q_fixed as i32,
            shift,
        })
    }

    /// A multiplier from its parts, e.g. as stored by TFLite.
    ///
    /// # Errors
    /// [`KernelError::InvalidParam`] naming `shift` unless `−31 ≤ shift ≤ 30`.
    pub const fn from_parts(multiplier: i32, shift: i32) -> Result<Self, KernelError> {
        if shift < -31 || shift > 30 {
            return Err(KernelError::InvalidParam { arg: "shift" });
        }
        Ok(Self { multiplier, shift })
    }

    /// The Q31 significand.
    pub const fn multiplier(&self) -> i32 {
        self.multiplier
    }

    /// The power-of-two exponent (positive: a left shift before the Q31 product).
    pub const fn shift(&self) -> i32 {
        self.shift
    }

    /// `x · m`, rounded twice as TFLite's default `MultiplyByQuantizedMultiplier`:
    /// `RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x · 2^left, multiplier), right)`
    /// with `left = max(shift, 0)`, `right = max(−shift, 0)`.
    ///
    /// `x · 2^left` wraps on overflow (two's complement), which is what TFLite's C++ does on
    /// every target it runs on (formally undefined behaviour there).
    #[inline]
    pub const fn apply(&self, x: i32) -> i32 {
        let (left, right) = if self.shift > 0 {
            (self.shift as u32, 0)
        } else {
            (0, (-self.shift) as u32)
        };
        rounding_divide_by_pot(
            saturating_rounding_doubling_high_mul(x.wrapping_mul(1 << left), self.multiplier),
            right,
        )
    }

    /// `x · m` rounded once, to nearest with ties toward +∞: `(x · multiplier + 2^(30 − shift))
    /// >> (31 − shift)` in `i64` — TFLite's `MultiplyByQuantizedMultiplier` under
    /// `TFLITE_SINGLE_ROUNDING`, and ruy's. TensorFlow 2.21's interpreter computes int8
    /// `FULLY_CONNECTED` this way even with the reference op resolver (the golden fixtures
    /// show it: double rounding disagrees on some outputs, this on none), while its `CONV_2D`
    /// rounds twice ([`QuantizedMultiplier::apply`]).
    #[inline]
    pub const fn apply_single_rounding(&self, x: i32) -> i32 {
        let total = (31 - self.shift) as u32; // 1..=62 for shift in −31..=30
        let round = 1i64 << (total - 1);
        // |x · m| < 2^62, plus the rounding term, fits in i64; the shifted result fits in i32
        // for shift ≤ 0 and wraps (like TFLite's cast) for larger left shifts.
        ((x as i64 * self.multiplier as i64 + round) >> total) as i32
    }
}

/// *Prepare* (floating point): per output channel, the multiplier TFLite's
/// `PopulateConvolutionQuantizationParams` derives, `(input_scale · weight_scale[c]) /
/// output_scale` evaluated in `f64` from the `f32` scales, through
/// [`QuantizedMultiplier::from_real`]. Overwrites `multipliers`. Also right for a per-tensor
/// layer (one scale, one multiplier: TFLite's `GetQuantizedConvolutionMultipler` evaluates the
/// same expression).
///
/// # Errors
/// Nothing is written on error.
/// * [`KernelError::Length`] naming `multipliers` unless it is as long as `weight_scales`;
/// * [`KernelError::InvalidParam`] naming `weight_scales` if a scale is not finite and
///   positive, or `real` if a multiplier is out of range (see
///   [`QuantizedMultiplier::from_real`]).
pub fn per_channel_multipliers(
    input: &QuantParams,
    weight_scales: &[f32],
    output: &QuantParams,
    multipliers: &mut [QuantizedMultiplier],
) -> Result<(), KernelError> {
    check_len("multipliers", weight_scales.len(), multipliers.len())?;
    let real = |s: f32| f64::from(input.scale()) * f64::from(s) / f64::from(output.scale());
    for &s in weight_scales {
        if !(s.is_finite() && s > 0.0) {
            return Err(KernelError::InvalidParam {
                arg: "weight_scales",
            });
        }
        QuantizedMultiplier::from_real(real(s))?;
    }
    for (m, &s) in multipliers.iter_mut().zip(weight_scales) {
        *m = QuantizedMultiplier::from_real(real(s))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    fn qm(real: f64) -> (i32, i32) {
        let m = QuantizedMultiplier::from_real(real).unwrap();
        (m.multiplier(), m.shift())
    }

    #[test]
    fn quantize_multiplier_known_values() {
        // TFLite's quantization_util_test.cc (QuantizeMultiplierSmallerThanOneExp, ...GreaterThanOne).
        assert_eq!(qm(0.50 - 5e-9), (2_147_483_627, -1));
        assert_eq!(qm(0.50 - 1e-10), (1_073_741_824, 0));
        assert_eq!(qm(1.0 - 1e-9), (2_147_483_646, 0));
        assert_eq!(qm(1.25), (1_342_177_280, 1));
        assert_eq!(qm(1.75), (1_879_048_192, 1));
        assert_eq!(qm(2.0 - 1e-9), (2_147_483_647, 1));
        assert_eq!(qm(2.0 - 1e-11), (1_073_741_824, 2));
        // By hand: 0.5 = 0.5·2^0 → (2^30, 0); 1.0 = 0.5·2^1 → (2^30, 1); 2^-31 → (2^30, −30).
        assert_eq!(qm(0.0), (0, 0));
        assert_eq!(qm(0.5), (1 << 30, 0));
        assert_eq!(qm(1.0), (1 << 30, 1));
        assert_eq!(qm(0.25), (1 << 30, -1));
        assert_eq!(qm(-0.5), (-(1 << 30), 0));
        assert_eq!(qm(1.0 / 3.0), (1_431_655_765, -1));
        assert_eq!(qm(0.75), (1_610_612_736, 0));
        assert_eq!(qm(1e-3), (1_099_511_628, -9));
        assert_eq!(qm(2.0f64.powi(-31)), (1 << 30, -30));
        assert_eq!(qm(2.0f64.powi(-32)), (1 << 30, -31));
        // Below 2^-32 the shift would be < −31: flushed to zero.
        assert_eq!(qm(2.0f64.powi(-33)), (0, 0));
        // Rounding q·2^31 up to 2^31 renormalises: 1 − 2^-40 → (2^30, 1).
        assert_eq!(qm(1.0 - 2.0f64.powi(-40)), (1 << 30, 1));
        // The largest accepted shift is 30.
        assert_eq!(qm(2.0f64.powi(29) * 1.5), (3 << 29, 30));
        assert_eq!(
            QuantizedMultiplier::from_real(2.0f64.powi(30)),
            Err(KernelError::InvalidParam { arg: "real" })
        );
        assert_eq!(
            QuantizedMultiplier::from_real(f64::NAN),
            Err(KernelError::InvalidParam { arg: "real" })
        );
    }

    #[test]
    fn from_real_reconstructs_the_real_within_half_a_q31_step() {
        // Reference: multiplier · 2^(shift − 31) in f64 is exact; the rounding error is at most
        // half a unit of the Q31 significand: |m̃ − m| ≤ 2^(shift − 32).
        let mut r = 1.234_567e-7f64;
        while r < 1e8 {
            let (m, s) = qm(r);
            assert!((1 << 30..=i32::MAX).contains(&m), "{r}");
            let back = f64::from(m) * 2.0f64.powi(s - 31);
            assert!((back - r).abs() <= 2.0f64.powi(s - 32), "{r}: {back}");
            r *= 1.379;
        }
    }

    /// Reference: `x · m` for the real `m = multiplier · 2^(shift − 31)`, rounded as the two
    /// steps round: the Q31 product to nearest with ties upward (gemmlowp's nudge), then the
    /// right shift to nearest with ties away from zero.
    fn reference(x: i32, m: i32, shift: i32) -> i64 {
        let up = |num: i128, den: i128| -> i128 { (2 * num + den).div_euclid(2 * den) };
        let rdiv = |num: i128, den: i128| -> i128 {
            let q = num / den;
            if 2 * (num % den).abs() >= den {
                q + num.signum()
            } else {
                q
            }
        };
        let left = shift.max(0);
        let right = (-shift).max(0);
        let xl = i128::from(x) << left;
        let high = up(2 * xl * i128::from(m), 1 << 32);
        let high = high.clamp(i128::from(i32::MIN), i128::from(i32::MAX));
        rdiv(high, 1 << right) as i64
    }

    #[test]
    fn apply_matches_a_wide_integer_reference() {
        let xs = [
            0,
            1,
            -1,
            7,
            -7,
            127,
            -128,
            255,
            -255,
            1000,
            -12345,
            1 << 20,
            -(1 << 20),
            i32::MAX,
            i32::MIN + 1,
        ];
        let ms = [
            1 << 30,
            1_431_655_765,
            1_610_612_736,
            i32::MAX,
            1_099_511_628,
            -(1 << 30),
        ];
        for &x in &xs {
            for &m in &ms {
                for shift in [-31, -20, -9, -1, 0] {
                    let q = QuantizedMultiplier::from_parts(m, shift).unwrap();
                    assert_eq!(
                        i64::from(q.apply(x)),
                        reference(x, m, shift),
                        "{x} {m} {shift}"
                    );
                }
            }
        }
        // Left shifts on values that do not overflow.
        for x in [-1000, -3, 0, 5, 999] {
            let q = QuantizedMultiplier::from_parts(1_431_655_765, 3).unwrap();
            assert_eq!(i64::from(q.apply(x)), reference(x, 1_431_655_765, 3));
        }
    }

    #[test]
    fn apply_edge_cases() {
        // Double rounding differs from a single rounding: m = (0.5 + 2^-31)·2^-1, x = 5. The
        // exact product is 1.25 + 5·2^-32, which rounds once to 1; TFLite first rounds the Q31
        // product 2.5 + 5·2^-31 to 3, then halves 3 → 1.5 → 2.
        let q = QuantizedMultiplier::from_parts(1_073_741_825, -1).unwrap();
        assert_eq!(q.apply(5), 2);
        assert_eq!(reference(5, 1_073_741_825, -1), 2);
        // A tie in the Q31 product rounds upward (−5 · 0.5 = −2.5 → −2, 2.5 → 3); a tie in the
        // shift rounds away from zero (−5 · 0.25: −5·0.5 → −2, then −2/2 = −1; −6 · 0.25:
        // −3 then −1.5 → −2).
        let half = QuantizedMultiplier::from_parts(1 << 30, 0).unwrap();
        assert_eq!(half.apply(-5), -2);
        assert_eq!(half.apply(5), 3);
        assert_eq!(half.apply(-4), -2);
        let quarter = QuantizedMultiplier::from_parts(1 << 30, -1).unwrap();
        assert_eq!(quarter.apply(-5), -1);
        assert_eq!(quarter.apply(-6), -2);
        assert_eq!(quarter.apply(6), 2);
        // Saturation: i32::MIN · (−1.0 as Q31) saturates in SRDHM.
        let minus_one = QuantizedMultiplier::from_parts(i32::MIN, 0).unwrap();
        assert_eq!(minus_one.apply(i32::MIN), i32::MAX);
        assert_eq!(minus_one.apply(5), -5);
        // A left shift that overflows wraps (as TFLite's C++ does), never panics.
        let big = QuantizedMultiplier::from_parts(1 << 30, 30).unwrap();
        let _ = big.apply(i32::MAX);
        assert_eq!(big.apply(1), 1 << 29);
        assert_eq!(
            QuantizedMultiplier::from_parts(1, 31),
            Err(KernelError::InvalidParam { arg: "shift" })
        );
        assert_eq!(
            QuantizedMultiplier::from_parts(1, -32),
            Err(KernelError::InvalidParam { arg: "shift" })
        );
        assert_eq!(QuantizedMultiplier::ZERO.apply(i32::MAX), 0);
    }

    #[test]
    fn single_rounding_matches_a_wide_integer_reference() {
        // Reference: floor((x·m·2^shift)/2^31 + 1/2) in i128.
        for &x in &[
            0,
            1,
            -1,
            5,
            -5,
            255,
            -255,
            6376,
            -98_765,
            1 << 24,
            i32::MIN + 1,
        ] {
            for &(m, shift) in &[
                (1 << 30, 0),
                (1 << 30, -1),
                (1_073_741_825, -1),
                (1_643_100_000, -7),
            ] {
                let q = QuantizedMultiplier::from_parts(m, shift).unwrap();
                let num = i128::from(x) * i128::from(m);
                let den = 1i128 << (31 - shift);
                let want = (2 * num + den).div_euclid(2 * den);
                assert_eq!(
                    i128::from(q.apply_single_rounding(x)),
                    want,
                    "{x} {m} {shift}"
                );
            }
        }
        // The double-rounding example above rounds once here: 1.25 + 5·2^-32 → 1.
        let q = QuantizedMultiplier::from_parts(1_073_741_825, -1).unwrap();
        assert_eq!((q.apply(5), q.apply_single_rounding(5)), (2, 1));
        // Ties go up: −2.5 → −2, 2.5 → 3.
        let half = QuantizedMultiplier::from_parts(1 << 30, 0).unwrap();
        assert_eq!(
            (
                half.apply_single_rounding(-5),
                half.apply_single_rounding(5)
            ),
            (-2, 3)
        );
    }

    #[test]
    fn per_channel_multipliers_use_the_f64_product() {
        let input = QuantParams::new(0.007_843_137, -1).unwrap();
        let output = QuantParams::new(0.05, 3).unwrap();
        let scales = [0.001f32, 0.02, 3.5e-4];
        let mut m = [QuantizedMultiplier::ZERO; 3];
        per_channel_multipliers(&input, &scales, &output, &mut m).unwrap();
        for (m, &s) in m.iter().zip(&scales) {
            let real = f64::from(0.007_843_137f32) * f64::from(s) / f64::from(0.05f32);
            assert_eq!(*m, QuantizedMultiplier::from_real(real).unwrap());
        }
        let mut short = [QuantizedMultiplier::ZERO; 2];
        assert_eq!(
            per_channel_multipliers(&input, &scales, &output, &mut short),
            Err(KernelError::Length {
                arg: "multipliers",
                expected: 3,
                got: 2
            })
        );
        let one = QuantizedMultiplier::from_parts(1, 0).unwrap();
        let mut m = [one; 3];
        assert_eq!(
            per_channel_multipliers(&input, &[0.1, -0.1, 0.1], &output, &mut m),
            Err(KernelError::InvalidParam {
                arg: "weight_scales"
            })
        );
        assert_eq!(m, [one; 3], "nothing written on error");
    }
}
