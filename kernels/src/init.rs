//! Parameter initialisers: constants, TensorFlow's truncated normal, and TensorFlow 1's Xavier
//! (Glorot) normal initialiser, drawing from [`Rng`].
//!
//! The random streams are ours (PCG32), not TensorFlow's (Philox), so the values differ from a
//! TensorFlow run with the same seed; the *distributions* are TensorFlow's.

use crate::error::{mul, nonzero, KernelError};
use crate::rng::Rng;

/// Samples at or beyond this many standard deviations are drawn again (TensorFlow's
/// `kTruncateValue`).
const TRUNCATE: f32 = 2.0;

/// Fills `out` with `value` (overwrites it).
pub fn constant_f32(value: f32, out: &mut [f32]) {
    out.fill(value);
}

/// Fills `out` (overwrites it) with a normal distribution of mean `mean` and standard deviation
/// `stddev`, truncated at two standard deviations, as `tf.random.truncated_normal`.
///
/// As TensorFlow's `TruncatedNormalDistribution`: draw a standard normal `z`
/// ([`Rng::next_normal`]), keep it if `|z| < 2` and draw again otherwise, then
/// `out[i] = z · stddev + mean` in `f32` (TensorFlow's `rnd * stddev + mean`). Elements are
/// filled in index order; each takes `2k` outputs of `rng`, `k ≥ 1` with `P(k = 1) ≈ 0.954`.
/// The kept distribution has standard deviation `stddev · 0.879 626`, not `stddev`.
///
/// # Errors
/// [`KernelError::InvalidParam`] naming `mean` unless it is finite, or `stddev` unless it is
/// finite and `>= 0`. Nothing is written and `rng` does not advance then.
pub fn truncated_normal_f32(
    rng: &mut Rng,
    mean: f32,
    stddev: f32,
    out: &mut [f32],
) -> Result<(), KernelError> {
    if !mean.is_finite() {
        return Err(KernelError::InvalidParam { arg: "mean" });
    }
    if !(stddev.is_finite() && stddev >= 0.0) {
        return Err(KernelError::InvalidParam { arg: "stddev" });
    }
    for x in out.iter_mut() {
        let z = loop {
            let z = rng.next_normal();
            if z.abs() < TRUNCATE {
                break z;
            }
        };
        *x = z * stddev + mean;
    }
    Ok(())
}

/// The standard deviation TensorFlow 1's Xavier normal initialiser passes to its truncated
/// normal: `√(1.3 / ((fan_in + fan_out) / 2))`, computed in `f64` and rounded once to `f32`,
/// exactly as the Python code computes it in double and `truncated_normal` converts it.
///
/// # Errors
/// [`KernelError::Zero`] naming `fan_in` or `fan_out` if it is 0.
pub fn xavier_stddev(fan_in: usize, fan_out: usize) -> Result<f32, KernelError> {
    nonzero("fan_in", fan_in)?;
    nonzero("fan_out", fan_out)?;
    // usize → f64 is exact below 2^53; the sum is formed in f64 so it cannot overflow usize.
    let n = (fan_in as f64 + fan_out as f64) / 2.0;
    Ok(crate::sqrt::sqrt(1.3 / n) as f32)
}

/// Fills `out` (overwrites it) as TensorFlow 1's `tf.contrib.layers.xavier_initializer(
/// uniform=False)` (and its alias `xavier_initializer_conv2d`) does: a truncated normal with
/// mean 0 and `σ = √(1.3 · 2 / (fan_in + fan_out))` ([`xavier_stddev`]).
///
/// That initialiser is `variance_scaling_initializer(factor=1.0, mode='FAN_AVG',
/// uniform=False)`, which in `tensorflow/contrib/layers/python/layers/initializers.py`
/// computes `n = (fan_in + fan_out) / 2.0` and
/// `trunc_stddev = math.sqrt(1.3 * factor / n)` ("To get stddev = math.sqrt(factor / n) need
/// to adjust for truncated"): the 1.3 roughly undoes the shrinking by truncation at 2σ, whose
/// exact factor is `0.879 626² ≈ 1/1.2925`. The drawn values therefore have standard deviation
/// `σ · 0.879 626 ≈ √(1.0058 · 2 / (fan_in + fan_out))` and all lie within `±2σ`.
///
/// Fans: for a conv filter `[kh, kw, c_in, c_out]` use [`conv_fans`]; for dense weights
/// `[in, out]` they are `(in, out)`.
///
/// # Errors
/// [`KernelError::Zero`] naming `fan_in` or `fan_out` if it is 0; nothing is written and `rng`
/// does not advance then.
pub fn xavier_normal_f32(
    rng: &mut Rng,
    fan_in: usize,
    fan_out: usize,
    out: &mut [f32],
) -> Result<(), KernelError> {
    let stddev = xavier_stddev(fan_in, fan_out)?;
    truncated_normal_f32(rng, 0.0, stddev, out)
}

/// TensorFlow's fans for a conv filter of shape `[kh, kw, c_in, c_out]`:
/// `(kh·kw·c_in, kh·kw·c_out)`, checked.
///
/// # Errors
/// [`KernelError::Zero`] naming `kernel`, `c_in` or `c_out` if a size is 0;
/// [`KernelError::Overflow`] naming `kernel`, `c_in` or `c_out` if a product overflows `usize`.
pub const fn conv_fans(
    kernel: [usize; 2],
    c_in: usize,
    c_out: usize,
) -> Result<(usize, usize), KernelError> {
    if kernel[0] == 0 || kernel[1] == 0 {
        return Err(KernelError::Zero { arg: "kernel" });
    }
    if c_in == 0 {
        return Err(KernelError::Zero { arg: "c_in" });
    }
    if c_out == 0 {
        return Err(KernelError::Zero { arg: "c_out" });
    }
    let receptive = match mul("kernel", kernel[0], kernel[1]) {
        Ok(v) => v,
        Err(e) => return Err(e),
    };
    let fan_in = match mul("c_in", receptive, c_in) {
        Ok(v) => v,
        Err(e) => return Err(e),
    };
    let fan_out = match mul("c_out", receptive, c_out) {
        Ok(v) => v,
        Err(e) => return Err(e),
    };
    Ok((fan_in, fan_out))
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;
    use std::vec::Vec;

    /// Standard deviation of a standard normal truncated to (−2, 2):
    /// √(1 − 2·2·φ(2) / (2Φ(2) − 1)) with φ(2) = 0.053 990 966 5, Φ(2) = 0.977 249 868.
    const TRUNC_STD: f64 = 0.879_625_7;

    fn mean_std(xs: &[f32]) -> (f64, f64) {
        let n = xs.len() as f64;
        let mean = xs.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
        let var = xs
            .iter()
            .map(|&x| (f64::from(x) - mean).powi(2))
            .sum::<f64>()
            / n;
        (mean, var.sqrt())
    }

    #[test]
    fn truncation_constant_is_right() {
        let phi2 = (-2.0f64).exp() / (2.0 * std::f64::consts::PI).sqrt();
        assert!((phi2 - 0.053_990_966_5).abs() < 1e-10);
        let want = (1.0 - 4.0 * phi2 / (2.0 * 0.977_249_868 - 1.0)).sqrt();
        assert!((want - TRUNC_STD).abs() < 1e-6);
    }

    #[test]
    fn constant_overwrites() {
        let mut out = [f32::NAN; 5];
        constant_f32(0.1, &mut out);
        assert_eq!(out, [0.1; 5]);
    }

    #[test]
    fn xavier_stddev_matches_tensorflow_python() {
        // Python: f32(math.sqrt(1.3 * 1.0 / ((75 + 3200) / 2.0))), conv1 5×5×3 → 128.
        assert_eq!(xavier_stddev(75, 3200).unwrap().to_bits(), 0x3ce6d195);
        // Plain check: √(2.6 / 3275).
        let want = (2.6f64 / 3275.0).sqrt();
        assert!((f64::from(xavier_stddev(75, 3200).unwrap()) - want).abs() < want * 1e-7);
    }

    #[test]
    fn known_answers_for_a_fixed_seed() {
        // Python reference (see rng.rs tests): PCG32 + Box–Muller in double, rejection at
        // |z| ≥ 2, f32(f32(z·σ) + mean).
        let mut rng = Rng::new(7, 11);
        let mut out = [f32::NAN; 6];
        xavier_normal_f32(&mut rng, 75, 3200, &mut out).unwrap();
        let bits: Vec<u32> = out.iter().map(|x| x.to_bits()).collect();
        assert_eq!(
            bits,
            [0x3c92977d, 0x3ba5c4f3, 0x3c3a5dc0, 0x3c1871f1, 0x3b61c1be, 0xbc543767]
        );
        let mut rng = Rng::new(7, 11);
        truncated_normal_f32(&mut rng, 0.5, 0.25, &mut out).unwrap();
        let bits: Vec<u32> = out.iter().map(|x| x.to_bits()).collect();
        assert_eq!(
            bits,
            [0x3f28a565, 0x3f0b7daa, 0x3f19d656, 0x3f152270, 0x3f07d316, 0x3ec5286e]
        );
    }

    #[test]
    fn xavier_statistics_match_tensorflows_truncated_normal() {
        // σ = √(2.6 / (300 + 700)); n = 100 000. Sample std s.e. ≈ 0.88σ/√(2n) ≈ 0.2 % — bound
        // 1 %; mean s.e. ≈ 0.0028σ — bound 0.015σ. Every value within ±2σ.
        let sigma = (2.6f64 / 1000.0).sqrt();
        let mut rng = Rng::new(2024, 7);
        let mut out = vec![f32::NAN; 100_000];
        xavier_normal_f32(&mut rng, 300, 700, &mut out).unwrap();
        let (mean, std) = mean_std(&out);
        assert!(mean.abs() < 0.015 * sigma, "mean {mean}");
        let want = sigma * TRUNC_STD;
        assert!((std - want).abs() < 0.01 * want, "std {std} want {want}");
        let limit = 2.0 * f64::from(xavier_stddev(300, 700).unwrap());
        assert!(out.iter().all(|&x| f64::from(x).abs() <= limit));
        // Not a plain normal: nothing in the tail, and the spread shows it.
        assert!(std < 0.9 * sigma);
    }

    #[test]
    fn truncated_normal_with_mean_and_zero_stddev() {
        let mut rng = Rng::new(1, 2);
        let mut out = vec![f32::NAN; 20_000];
        truncated_normal_f32(&mut rng, 3.0, 0.5, &mut out).unwrap();
        let (mean, std) = mean_std(&out);
        assert!((mean - 3.0).abs() < 0.02, "mean {mean}");
        assert!((std - 0.5 * TRUNC_STD).abs() < 0.02 * 0.5, "std {std}");
        assert!(out.iter().all(|&x| (2.0..=4.0).contains(&x)));
        let mut out = [f32::NAN; 4];
        truncated_normal_f32(&mut rng, -1.5, 0.0, &mut out).unwrap();
        assert_eq!(out, [-1.5; 4]);
    }

    #[test]
    fn invalid_arguments_write_nothing_and_keep_the_stream() {
        let fresh = Rng::new(3, 4);
        for (mean, stddev, arg) in [
            (f32::NAN, 1.0, "mean"),
            (f32::INFINITY, 1.0, "mean"),
            (0.0, -1.0, "stddev"),
            (0.0, f32::NAN, "stddev"),
            (0.0, f32::INFINITY, "stddev"),
        ] {
            let mut rng = fresh.clone();
            let mut out = [7.0f32; 3];
            assert_eq!(
                truncated_normal_f32(&mut rng, mean, stddev, &mut out),
                Err(KernelError::InvalidParam { arg })
            );
            assert_eq!(out, [7.0; 3]);
            assert_eq!(rng, fresh);
        }
        for (fi, fo, arg) in [(0, 5, "fan_in"), (5, 0, "fan_out")] {
            let mut rng = fresh.clone();
            let mut out = [7.0f32; 3];
            assert_eq!(
                xavier_normal_f32(&mut rng, fi, fo, &mut out),
                Err(KernelError::Zero { arg })
            );
            assert_eq!(out, [7.0; 3]);
            assert_eq!(rng, fresh);
        }
    }

    #[test]
    fn conv_fans_are_tensorflows_and_checked() {
        assert_eq!(conv_fans([5, 5], 3, 128), Ok((75, 3200)));
        assert_eq!(conv_fans([3, 3], 128, 256), Ok((1152, 2304)));
        assert_eq!(conv_fans([1, 1], 7, 9), Ok((7, 9)));
        assert_eq!(
            conv_fans([0, 3], 1, 1),
            Err(KernelError::Zero { arg: "kernel" })
        );
        assert_eq!(
            conv_fans([3, 0], 1, 1),
            Err(KernelError::Zero { arg: "kernel" })
        );
        assert_eq!(
            conv_fans([3, 3], 0, 1),
            Err(KernelError::Zero { arg: "c_in" })
        );
        assert_eq!(
            conv_fans([3, 3], 1, 0),
            Err(KernelError::Zero { arg: "c_out" })
        );
        let big = usize::MAX / 2 + 1;
        assert_eq!(
            conv_fans([big, 2], 1, 1),
            Err(KernelError::Overflow { arg: "kernel" })
        );
        assert_eq!(
            conv_fans([3, 3], big, 1),
            Err(KernelError::Overflow { arg: "c_in" })
        );
        assert_eq!(
            conv_fans([3, 3], 1, big),
            Err(KernelError::Overflow { arg: "c_out" })
        );
        const FANS: Result<(usize, usize), KernelError> = conv_fans([3, 3], 2, 4);
        assert_eq!(FANS, Ok((18, 36)));
    }
}
