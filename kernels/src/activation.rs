//! Bias addition and ReLU, forward and backward (TensorFlow's `BiasAdd`, `BiasAddGrad`, `Relu`,
//! `ReluGrad`).

use crate::error::{check_len, mul, nonzero, KernelError};

/// Validates `rows` and a row length `cols` (named `cols_arg`), returning `rows · cols`.
const fn rows_len(rows: usize, cols_arg: &'static str, cols: usize) -> Result<usize, KernelError> {
    if let Err(e) = nonzero("rows", rows) {
        return Err(e);
    }
    if let Err(e) = nonzero(cols_arg, cols) {
        return Err(e);
    }
    mul("rows", rows, cols)
}

/// Adds `bias` to every row of `x` in place: `x[r·C + c] += bias[c]` with `C = bias.len()`.
///
/// One rounding per element, as TensorFlow's `BiasAdd`.
///
/// # Errors
/// [`KernelError::Zero`] naming `rows` or `bias` if either is empty/zero,
/// [`KernelError::Overflow`] if `rows · C` overflows, [`KernelError::Length`] naming `x` when
/// `x.len() != rows · C`. Nothing is written on error.
pub fn bias_add_f32(rows: usize, bias: &[f32], x: &mut [f32]) -> Result<(), KernelError> {
    let n = rows_len(rows, "bias", bias.len())?;
    check_len("x", n, x.len())?;
    for row in x.chunks_exact_mut(bias.len()) {
        for (v, &b) in row.iter_mut().zip(bias) {
            *v += b;
        }
    }
    Ok(())
}

/// ReLU in place: `x = if x < 0 { 0 } else { x }`.
///
/// This is TensorFlow's CPU `Relu` (Eigen's `cwiseMax(0)`, i.e. `std::max(x, 0)`) bit for bit:
/// a NaN stays NaN (so a diverging run stays visible) and `−0.0` stays `−0.0`.
pub fn relu_f32(x: &mut [f32]) {
    // A select rather than a conditional store, so that it vectorises; the same bits — NaN and −0.0 fail `< 0.0` and pass through unchanged.
    for v in x {
        *v = if *v < 0.0 { 0.0 } else { *v };
    }
}

/// ReLU's gradient in place, TensorFlow's `ReluGrad`: `d[i] *= (output[i] > 0) as 1.0 or 0.0`.
///
/// `output` is the ReLU's output (or, equivalently, its input: both are `> 0` at the same
/// places). Overwrites `d` (it is an activation gradient). Multiplying by the 0/1 mask rather
/// than storing 0 keeps TensorFlow's bits exactly: a NaN or infinite incoming gradient stays
/// NaN where the unit is off, and a negative one becomes `−0.0`. Where `output` is NaN the unit
/// counts as off.
///
/// # Errors
/// [`KernelError::Length`] naming `d` when `d.len() != output.len()`; nothing is written then.
pub fn relu_backward_f32(output: &[f32], d: &mut [f32]) -> Result<(), KernelError> {
    check_len("d", output.len(), d.len())?;
    for (g, &y) in d.iter_mut().zip(output) {
        *g *= if y > 0.0 { 1.0 } else { 0.0 };
    }
    Ok(())
}

/// The bias gradient: `d_bias[c] += Σ_r d_output[r·C + c]` with `C = d_bias.len()`.
///
/// Accumulates (it is a parameter gradient; the caller zeroes `d_bias` once per step), each
/// `d_bias[c]` summed over rows in ascending order starting from its current value, so
/// consecutive calls over consecutive row blocks give the same bits as one call.
///
/// # Errors
/// [`KernelError::Zero`] naming `rows` or `d_bias` if either is empty/zero,
/// [`KernelError::Overflow`] if `rows · C` overflows, [`KernelError::Length`] naming `d_output`
/// when its length is not `rows · C`. Nothing is written on error.
pub fn bias_backward_f32(
    rows: usize,
    d_output: &[f32],
    d_bias: &mut [f32],
) -> Result<(), KernelError> {
    let n = rows_len(rows, "d_bias", d_bias.len())?;
    check_len("d_output", n, d_output.len())?;
    // Rows outer, channels inner: each d_bias[c] still sees its rows in ascending order.
    for row in d_output.chunks_exact(d_bias.len()) {
        for (acc, &v) in d_bias.iter_mut().zip(row) {
            *acc += v;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::test_data::uniform_f32;
    use std::vec;

    #[test]
    fn bias_add_adds_per_channel() {
        // Hand-computed.
        let mut x = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        bias_add_f32(2, &[0.5, -1.0, 10.0], &mut x).unwrap();
        assert_eq!(x, [1.5, 1.0, 13.0, 4.5, 4.0, 16.0]);
    }

    #[test]
    fn relu_clamps_negatives_and_keeps_nan() {
        let mut x = [
            -1.0f32,
            0.0,
            -0.0,
            2.5,
            f32::NAN,
            f32::NEG_INFINITY,
            f32::INFINITY,
        ];
        relu_f32(&mut x);
        assert_eq!(x[..4], [0.0, 0.0, 0.0, 2.5]);
        assert!(x[2].is_sign_negative(), "−0.0 stays −0.0 as in TensorFlow");
        assert!(x[4].is_nan());
        assert_eq!(x[5..], [0.0, f32::INFINITY]);
    }

    #[test]
    fn relu_backward_masks_like_relugrad() {
        let out = [0.0f32, 1.0, 0.0, 3.0, f32::NAN, 0.0];
        let mut d = [5.0f32, 6.0, -7.0, -8.0, 9.0, f32::INFINITY];
        relu_backward_f32(&out, &mut d).unwrap();
        assert_eq!(d[..5], [0.0, 6.0, 0.0, -8.0, 0.0]);
        assert!(d[2].is_sign_negative());
        assert!(d[5].is_nan(), "∞·0 is NaN, as TensorFlow's gradients·mask");
    }

    #[test]
    fn relu_backward_matches_finite_differences() {
        // L = Σ w·relu(x), central differences in f64 with h = 1e-3 away from 0 (|x| > 0.01);
        // the derivative is exactly 0 or w there, so tolerance is 1e-9 absolute.
        let x = uniform_f32(5, 64, -2.0, 2.0);
        let w = uniform_f32(6, 64, -2.0, 2.0);
        let mut y = x.clone();
        relu_f32(&mut y);
        let mut d = w.clone();
        relu_backward_f32(&y, &mut d).unwrap();
        let relu64 = |v: f64| v.max(0.0);
        for i in 0..x.len() {
            if x[i].abs() < 0.01 {
                continue;
            }
            let h = 1e-3;
            let xi = f64::from(x[i]);
            let fd = f64::from(w[i]) * (relu64(xi + h) - relu64(xi - h)) / (2.0 * h);
            assert!((f64::from(d[i]) - fd).abs() <= 1e-9, "i={i}");
        }
    }

    #[test]
    fn bias_backward_accumulates_rows_in_order() {
        // Reference: f64 column sums plus the prior value; tolerance 1e-6 + 1e-6·|b|.
        let rows = 13;
        let c = 5;
        let d = uniform_f32(7, rows * c, -2.0, 2.0);
        let mut db = vec![0.25f32; c];
        bias_backward_f32(rows, &d, &mut db).unwrap();
        for j in 0..c {
            let want: f64 = 0.25 + (0..rows).map(|r| f64::from(d[r * c + j])).sum::<f64>();
            let a = f64::from(db[j]);
            assert!((a - want).abs() <= 1e-6 + 1e-6 * want.abs(), "c={j}");
        }
        // Splitting the rows into two calls gives the same bits as one call.
        let mut split = vec![0.25f32; c];
        bias_backward_f32(6, &d[..6 * c], &mut split).unwrap();
        bias_backward_f32(7, &d[6 * c..], &mut split).unwrap();
        assert_eq!(split, db);
        // It is the gradient of Σ w·(x + b): d/db_c = Σ_r w[r][c] — exact for one row.
        let mut one = [0.0f32; 2];
        bias_backward_f32(1, &[3.0, -4.0], &mut one).unwrap();
        assert_eq!(one, [3.0, -4.0]);
    }

    #[test]
    fn errors_leave_outputs_untouched() {
        let mut x = [7.0f32; 6];
        assert_eq!(
            bias_add_f32(2, &[1.0; 3], &mut x[..5]),
            Err(KernelError::Length {
                arg: "x",
                expected: 6,
                got: 5
            })
        );
        assert_eq!(
            bias_add_f32(0, &[1.0; 3], &mut x),
            Err(KernelError::Zero { arg: "rows" })
        );
        assert_eq!(
            bias_add_f32(2, &[], &mut x),
            Err(KernelError::Zero { arg: "bias" })
        );
        assert_eq!(
            bias_add_f32(usize::MAX, &[1.0; 3], &mut x),
            Err(KernelError::Overflow { arg: "rows" })
        );
        assert_eq!(
            relu_backward_f32(&[1.0; 5], &mut x),
            Err(KernelError::Length {
                arg: "d",
                expected: 5,
                got: 6
            })
        );
        let mut db = [7.0f32; 3];
        assert_eq!(
            bias_backward_f32(2, &[1.0; 5], &mut db),
            Err(KernelError::Length {
                arg: "d_output",
                expected: 6,
                got: 5
            })
        );
        assert_eq!(
            bias_backward_f32(0, &[], &mut db),
            Err(KernelError::Zero { arg: "rows" })
        );
        assert_eq!(
            bias_backward_f32(1, &[], &mut []),
            Err(KernelError::Zero { arg: "d_bias" })
        );
        assert_eq!(
            bias_backward_f32(usize::MAX, &[1.0; 6], &mut db),
            Err(KernelError::Overflow { arg: "rows" })
        );
        assert!(x.iter().chain(&db).all(|&v| v == 7.0));
    }
}
