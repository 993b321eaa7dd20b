//! Affine quantisation parameters, the boundary conversions, fused activation ranges and ReLU by
//! clamping.

use super::fixed::saturate_s8;
use crate::error::check_len;
use crate::KernelError;

/// An int8 tensor's affine quantisation: `real = scale · (q − zero_point)`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct QuantParams {
    scale: f32,
    zero_point: i8,
}

impl QuantParams {
    /// Validates `scale` and `zero_point`.
    ///
    /// # Errors
    /// [`KernelError::InvalidParam`] naming `scale` unless it is finite and `> 0`, or
    /// `zero_point` unless it lies in `−128..=127`.
    pub const fn new(scale: f32, zero_point: i32) -> Result<Self, KernelError> {
        if !(scale.is_finite() && scale > 0.0) {
            return Err(KernelError::InvalidParam { arg: "scale" });
        }
        if zero_point < i8::MIN as i32 || zero_point > i8::MAX as i32 {
            return Err(KernelError::InvalidParam { arg: "zero_point" });
        }
        Ok(Self {
            scale,
            zero_point: zero_point as i8,
        })
    }

    /// The real value of one quantisation step.
    pub const fn scale(&self) -> f32 {
        self.scale
    }

    /// The integer that stands for real 0.
    pub const fn zero_point(&self) -> i32 {
        self.zero_point as i32
    }

    /// `zero_point + round(x / scale)`, saturated to `i8` — TFLite's reference
    /// `AffineQuantize`: an `f32` division, `round` ties away from zero, then the clamp. NaN
    /// maps to the zero point.
    #[inline]
    pub fn quantize(&self, x: f32) -> i8 {
        // `as i32` saturates (and maps NaN to 0) where C++'s cast would be undefined.
        let q = libm::roundf(x / self.scale) as i32;
        saturate_s8(q.saturating_add(self.zero_point as i32))
    }

    /// `scale · (q − zero_point)`, one `f32` rounding (TFLite's reference `Dequantize`
    /// computes it in `f64` from the `f32` scale and rounds to `f32` once; the exact product of
    /// a 24-bit and a 9-bit significand fits in `f64`, so both give the same bits).
    #[inline]
    pub fn dequantize(&self, q: i8) -> f32 {
        self.scale * (i32::from(q) - self.zero_point as i32) as f32
    }
}

/// Quantises `input` into `output` with [`QuantParams::quantize`] (floating point: the boundary
/// where real data enters an int8 network).
///
/// # Errors
/// [`KernelError::Length`] naming `output` unless it is as long as `input`; nothing is written
/// then.
pub fn quantize_s8(p: &QuantParams, input: &[f32], output: &mut [i8]) -> Result<(), KernelError> {
    check_len("output", input.len(), output.len())?;
    for (o, &x) in output.iter_mut().zip(input) {
        *o = p.quantize(x);
    }
    Ok(())
}

/// Dequantises `input` into `output` with [`QuantParams::dequantize`].
///
/// # Errors
/// [`KernelError::Length`] naming `output` unless it is as long as `input`; nothing is written
/// then.
pub fn dequantize_s8(p: &QuantParams, input: &[i8], output: &mut [f32]) -> Result<(), KernelError> {
    check_len("output", input.len(), output.len())?;
    for (o, &q) in output.iter_mut().zip(input) {
        *o = p.dequantize(q);
    }
    Ok(())
}

/// A fused activation, as TFLite's `TfLiteFusedActivation` (the ones int8 kernels clamp).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Activation {
    /// No clamp beyond `i8`'s range.
    None,
    /// `max(x, 0)`.
    Relu,
    /// `min(max(x, 0), 6)`.
    Relu6,
    /// `min(max(x, −1), 1)`.
    ReluN1To1,
}

/// The quantised range `[min, max]` an int8 kernel clamps its output to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ActivationRange {
    min: i8,
    max: i8,
}

impl ActivationRange {
    /// The whole `i8` range: no activation.
    pub const FULL: Self = Self {
        min: i8::MIN,
        max: i8::MAX,
    };

    /// A range from its bounds.
    ///
    /// # Errors
    /// [`KernelError::InvalidParam`] naming `min` if `min > max`.
    pub const fn new(min: i8, max: i8) -> Result<Self, KernelError> {
        if min > max {
            return Err(KernelError::InvalidParam { arg: "min" });
        }
        Ok(Self { min, max })
    }

    /// *Prepare* (floating point): TFLite's `CalculateActivationRangeQuantized` for an int8
    /// output with parameters `output`: the bounds `zero_point + round(bound / scale)` (an `f32`
    /// division, ties away from zero), intersected with `−128..=127`.
    pub fn from_activation(activation: Activation, output: &QuantParams) -> Self {
        let q = |f: f32| -> i32 {
            output
                .zero_point()
                .saturating_add(libm::roundf(f / output.scale()) as i32)
        };
        let (lo, hi) = match activation {
            Activation::None => return Self::FULL,
            Activation::Relu => (q(0.0), i32::MAX),
            Activation::Relu6 => (q(0.0), q(6.0)),
            Activation::ReluN1To1 => (q(-1.0), q(1.0)),
        };
        // lo ≤ zero_point ≤ hi for a positive scale, so the clamped bounds stay ordered.
        let r = Self {
            min: saturate_s8(lo),
            max: saturate_s8(hi),
        };
        debug_assert!(r.min <= r.max);
        r
    }

    /// The lower bound.
    pub const fn min(&self) -> i8 {
        self.min
    }

    /// The upper bound.
    pub const fn max(&self) -> i8 {
        self.max
    }

    /// `x` clamped to `[min, max]`.
    #[inline]
    pub const fn clamp(&self, x: i32) -> i8 {
        if x < self.min as i32 {
            self.min
        } else if x > self.max as i32 {
            self.max
        } else {
            x as i8
        }
    }
}

/// What a conv or dense int8 layer needs besides its weights and multipliers: the input and
/// output zero points and the output clamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LayerQuant {
    /// The input tensor's zero point (TFLite's `input_offset` is its negative).
    pub input_zero_point: i8,
    /// The output tensor's zero point (TFLite's `output_offset`).
    pub output_zero_point: i8,
    /// The fused activation's clamp.
    pub range: ActivationRange,
}

impl LayerQuant {
    /// *Prepare*: the zero points of `input` and `output` and the clamp of `activation` on
    /// `output` ([`ActivationRange::from_activation`]).
    pub fn new(input: &QuantParams, output: &QuantParams, activation: Activation) -> Self {
        Self {
            input_zero_point: input.zero_point,
            output_zero_point: output.zero_point,
            range: ActivationRange::from_activation(activation, output),
        }
    }
}

/// ReLU (or ReLU6, …) on an int8 tensor whose input and output share their quantisation: clamps
/// every element of `x` to `range` in place (`range` from [`ActivationRange::from_activation`],
/// e.g. `[zero_point, 127]` for ReLU). This is exactly the clamp TFLite's int8 kernels apply
/// for a fused activation.
pub fn relu_s8(range: ActivationRange, x: &mut [i8]) {
    for v in x {
        *v = range.clamp(i32::from(*v));
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    #[test]
    fn new_validates() {
        assert!(QuantParams::new(0.1, -128).is_ok());
        assert!(QuantParams::new(0.1, 127).is_ok());
        let bad = |arg| Err(KernelError::InvalidParam { arg });
        assert_eq!(QuantParams::new(0.1, 128), bad("zero_point"));
        assert_eq!(QuantParams::new(0.1, -129), bad("zero_point"));
        assert_eq!(QuantParams::new(0.0, 0), bad("scale"));
        assert_eq!(QuantParams::new(-0.5, 0), bad("scale"));
        assert_eq!(QuantParams::new(f32::NAN, 0), bad("scale"));
        assert_eq!(QuantParams::new(f32::INFINITY, 0), bad("scale"));
    }

    #[test]
    fn quantize_rounds_half_away_and_saturates() {
        // By hand, scale 0.5, zero point −3: x/0.5 = 2x.
        let p = QuantParams::new(0.5, -3).unwrap();
        let cases = [
            (0.0f32, -3i8),
            (0.25, -2),  // 0.5 → 1
            (-0.25, -4), // −0.5 → −1
            (0.24, -3),
            (10.0, 17),
            (64.9, 127),
            (1e30, 127),
            (-1e30, -128),
            (-62.5, -128), // −125 − 3
            (-62.0, -127),
            (f32::NAN, -3),
            (f32::INFINITY, 127),
        ];
        let (xs, want): (std::vec::Vec<f32>, std::vec::Vec<i8>) = cases.iter().copied().unzip();
        let mut q = std::vec![99i8; xs.len()];
        quantize_s8(&p, &xs, &mut q).unwrap();
        assert_eq!(q, want);
    }

    #[test]
    fn dequantize_is_one_rounding_of_the_exact_product() {
        // Reference: the f64 product rounded to f32 once.
        let p = QuantParams::new(0.007_843_137, 5).unwrap();
        let qs: std::vec::Vec<i8> = (-128..=127).collect();
        let mut out = std::vec![f32::NAN; 256];
        dequantize_s8(&p, &qs, &mut out).unwrap();
        for (&q, &y) in qs.iter().zip(&out) {
            let want = (f64::from(0.007_843_137f32) * f64::from(i32::from(q) - 5)) as f32;
            assert_eq!(y.to_bits(), want.to_bits());
        }
        // Round trip: quantize(dequantize(q)) == q.
        for &q in &qs {
            assert_eq!(p.quantize(p.dequantize(q)), q);
        }
    }

    #[test]
    fn conversions_check_lengths_before_writing() {
        let p = QuantParams::new(1.0, 0).unwrap();
        let mut q = [7i8; 2];
        assert_eq!(
            quantize_s8(&p, &[1.0; 3], &mut q),
            Err(KernelError::Length {
                arg: "output",
                expected: 3,
                got: 2
            })
        );
        assert_eq!(q, [7; 2]);
        let mut y = [f32::NAN; 4];
        assert_eq!(
            dequantize_s8(&p, &[1; 3], &mut y),
            Err(KernelError::Length {
                arg: "output",
                expected: 3,
                got: 4
            })
        );
        assert!(y.iter().all(|v| v.is_nan()));
    }

    #[test]
    fn activation_ranges_follow_tflite() {
        // By hand: scale 0.05, zero point −100: 6/0.05 = 120 → [−100, 20]; ±1 → ±20.
        let p = QuantParams::new(0.05, -100).unwrap();
        let r = |a| ActivationRange::from_activation(a, &p);
        assert_eq!(r(Activation::None), ActivationRange::FULL);
        assert_eq!(
            r(Activation::Relu),
            ActivationRange::new(-100, 127).unwrap()
        );
        assert_eq!(
            r(Activation::Relu6),
            ActivationRange::new(-100, 20).unwrap()
        );
        assert_eq!(
            r(Activation::ReluN1To1),
            ActivationRange::new(-120, -80).unwrap()
        );
        // Bounds beyond int8 are clipped: scale 0.01, zp 10 → 6/0.01 = 600.
        let p = QuantParams::new(0.01, 10).unwrap();
        let r6 = ActivationRange::from_activation(Activation::Relu6, &p);
        assert_eq!((r6.min(), r6.max()), (10, 127));
        let p = QuantParams::new(0.01, 120).unwrap();
        let n1 = ActivationRange::from_activation(Activation::ReluN1To1, &p);
        assert_eq!((n1.min(), n1.max()), (20, 127));
        // A tiny scale cannot overflow.
        let p = QuantParams::new(f32::MIN_POSITIVE, 127).unwrap();
        let r6 = ActivationRange::from_activation(Activation::Relu6, &p);
        assert_eq!((r6.min(), r6.max()), (127, 127));
        assert_eq!(
            ActivationRange::new(3, 2),
            Err(KernelError::InvalidParam { arg: "min" })
        );
    }

    #[test]
    fn relu_clamps_in_place() {
        let p = QuantParams::new(0.1, -20).unwrap();
        let mut x: std::vec::Vec<i8> = (-128..=127).collect();
        relu_s8(
            ActivationRange::from_activation(Activation::Relu, &p),
            &mut x,
        );
        for (i, &v) in x.iter().enumerate() {
            let orig = i as i32 - 128;
            assert_eq!(i32::from(v), orig.max(-20));
        }
        let mut x: std::vec::Vec<i8> = (-128..=127).collect();
        relu_s8(
            ActivationRange::from_activation(Activation::Relu6, &p),
            &mut x,
        );
        for (i, &v) in x.iter().enumerate() {
            let orig = i as i32 - 128;
            assert_eq!(i32::from(v), orig.clamp(-20, 40));
        }
    }
}
