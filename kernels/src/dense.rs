//! Fully connected layers (`tf.matmul(x, W) + b`, weights `[in, out]`), forward and backward,
//! through the [`Gemm`] seam.

use crate::error::{check_len, mul, nonzero, KernelError};
use crate::{Gemm, Layout};

/// A dense layer's geometry, validated once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Dense {
    inputs: usize,
    outputs: usize,
}

impl Dense {
    /// Validates a layer from `inputs` features to `outputs` features.
    ///
    /// # Errors
    /// [`KernelError::Zero`] naming `inputs` or `outputs` when 0, [`KernelError::Overflow`]
    /// naming `weights` when `inputs · outputs` overflows.
    pub const fn new(inputs: usize, outputs: usize) -> Result<Self, KernelError> {
        if let Err(e) = nonzero("inputs", inputs) {
            return Err(e);
        }
        if let Err(e) = nonzero("outputs", outputs) {
            return Err(e);
        }
        if let Err(e) = mul("weights", inputs, outputs) {
            return Err(e);
        }
        Ok(Self { inputs, outputs })
    }

    /// Input features per example.
    pub const fn inputs(&self) -> usize {
        self.inputs
    }

    /// Output features per example.
    pub const fn outputs(&self) -> usize {
        self.outputs
    }

    /// `inputs · outputs`: the weights, row-major `[in, out]`.
    pub const fn weights_len(&self) -> usize {
        self.inputs * self.outputs
    }

    /// `outputs`: one bias per output feature.
    pub const fn bias_len(&self) -> usize {
        self.outputs
    }

    /// Validates `batch`, returning `(batch · inputs, batch · outputs)`.
    const fn batch_lens(&self, batch: usize) -> Result<(usize, usize), KernelError> {
        if let Err(e) = nonzero("batch", batch) {
            return Err(e);
        }
        let n_in = match mul("batch", batch, self.inputs) {
            Ok(v) => v,
            Err(e) => return Err(e),
        };
        match mul("batch", batch, self.outputs) {
            Ok(n_out) => Ok((n_in, n_out)),
            Err(e) => Err(e),
        }
    }
}

/// `output = input · weights + bias` for `batch` examples; overwrites `output`.
///
/// Each output row starts as `bias`, then `gemm.gemm_acc` adds `input · weights` (`[batch, in]`
/// times `[in, out]`, both row-major). With [`Portable`](crate::Portable) every output is
/// `bias + Σ_p x[p]·w[p]` summed in ascending `p`; TensorFlow adds the bias after the product,
/// which rounds differently (within the golden tolerances).
///
/// # Errors
/// [`KernelError::Zero`] if `batch` is 0, [`KernelError::Overflow`] if `batch · inputs` or
/// `batch · outputs` overflows, [`KernelError::Length`] naming `input`, `weights`, `bias` or
/// `output` when its length disagrees with `g` and `batch`. Nothing is written on error.
pub fn dense_f32<G: Gemm + ?Sized>(
    g: &Dense,
    gemm: &G,
    batch: usize,
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    output: &mut [f32],
) -> Result<(), KernelError> {
    let (n_in, n_out) = g.batch_lens(batch)?;
    check_len("input", n_in, input.len())?;
    check_len("weights", g.weights_len(), weights.len())?;
    check_len("bias", g.bias_len(), bias.len())?;
    check_len("output", n_out, output.len())?;
    for row in output.chunks_exact_mut(g.outputs) {
        row.copy_from_slice(bias);
    }
    gemm.gemm_acc(
        batch,
        g.inputs,
        g.outputs,
        input,
        Layout::RowMajor,
        weights,
        Layout::RowMajor,
        output,
    );
    Ok(())
}

/// The gradient with respect to the input: `d_input = d_output · weightsᵀ`; overwrites
/// `d_input` (it is an activation gradient).
///
/// `d_input` is zeroed, then `gemm_acc(batch, outputs, inputs)` multiplies `d_output`
/// (`[batch, out]`, row-major) by the weights read as the `[out, in]` matrix `weightsᵀ`
/// ([`Layout::ColMajor`] of the stored `[in, out]`), so no transpose is materialised.
///
/// # Errors
/// [`KernelError::Zero`] if `batch` is 0, [`KernelError::Overflow`] on overflow,
/// [`KernelError::Length`] naming `d_output`, `weights` or `d_input` when its length disagrees
/// with `g` and `batch`. Nothing is written on error.
pub fn dense_backward_input_f32<G: Gemm + ?Sized>(
    g: &Dense,
    gemm: &G,
    batch: usize,
    d_output: &[f32],
    weights: &[f32],
    d_input: &mut [f32],
) -> Result<(), KernelError> {
    let (n_in, n_out) = g.batch_lens(batch)?;
    check_len("d_output", n_out, d_output.len())?;
    check_len("weights", g.weights_len(), weights.len())?;
    check_len("d_input", n_in, d_input.len())?;
    d_input.fill(0.0);
    gemm.gemm_acc(
        batch,
        g.outputs,
        g.inputs,
        d_output,
        Layout::RowMajor,
        weights,
        Layout::ColMajor,
        d_input,
    );
    Ok(())
}

/// The gradient with respect to the weights: `d_weights += inputᵀ · d_output`; accumulates
/// (it is a parameter gradient; the caller zeroes `d_weights` once per step).
///
/// `gemm_acc(inputs, batch, outputs)` reads `input` (`[batch, in]`, row-major) as the
/// `[in, batch]` matrix `inputᵀ` ([`Layout::ColMajor`]). With [`Portable`](crate::Portable)
/// each weight's gradient is summed over examples in ascending order, starting from its current
/// value, so consecutive micro-batches give the same bits as one batch. The bias gradient is
/// [`bias_backward_f32`](crate::activation::bias_backward_f32) over `d_output`.
///
/// # Errors
/// [`KernelError::Zero`] if `batch` is 0, [`KernelError::Overflow`] on overflow,
/// [`KernelError::Length`] naming `input`, `d_output` or `d_weights` when its length disagrees
/// with `g` and `batch`. Nothing is written on error.
pub fn dense_backward_weights_f32<G: Gemm + ?Sized>(
    g: &Dense,
    gemm: &G,
    batch: usize,
    input: &[f32],
    d_output: &[f32],
    d_weights: &mut [f32],
) -> Result<(), KernelError> {
    let (n_in, n_out) = g.batch_lens(batch)?;
    check_len("input", n_in, input.len())?;
    check_len("d_output", n_out, d_output.len())?;
    check_len("d_weights", g.weights_len(), d_weights.len())?;
    gemm.gemm_acc(
        g.inputs,
        batch,
        g.outputs,
        input,
        Layout::ColMajor,
        d_output,
        Layout::RowMajor,
        d_weights,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::test_data::uniform_f32;
    use crate::Portable;
    use std::vec;
    use std::vec::Vec;

    fn close(a: f32, b: f64, what: &str) {
        // Tolerance for f32 dot products of length ≤ 40 with terms ≤ 1: 1e-5 + 1e-5·|b|.
        let a = f64::from(a);
        assert!((a - b).abs() <= 1e-5 + 1e-5 * b.abs(), "{what}: {a} vs {b}");
    }

    /// f64 reference forward: `y[b][o] = bias[o] + Σ_i x[b][i]·w[i][o]`.
    fn dense_ref(ni: usize, no: usize, x: &[f64], w: &[f64], bias: &[f64]) -> Vec<f64> {
        let batch = x.len() / ni;
        let mut y = vec![0.0; batch * no];
        for b in 0..batch {
            for o in 0..no {
                y[b * no + o] =
                    bias[o] + (0..ni).map(|i| x[b * ni + i] * w[i * no + o]).sum::<f64>();
            }
        }
        y
    }

    fn to64(v: &[f32]) -> Vec<f64> {
        v.iter().map(|&a| f64::from(a)).collect()
    }

    const SHAPES: [(usize, usize, usize); 5] =
        [(1, 1, 1), (3, 5, 2), (4, 17, 7), (2, 40, 1), (7, 1, 9)];

    #[test]
    fn forward_matches_f64_reference() {
        for (n, &(batch, ni, no)) in SHAPES.iter().enumerate() {
            let g = Dense::new(ni, no).unwrap();
            let x = uniform_f32(n as u64, batch * ni, -1.0, 1.0);
            let w = uniform_f32(100 + n as u64, g.weights_len(), -1.0, 1.0);
            let b = uniform_f32(200 + n as u64, g.bias_len(), -1.0, 1.0);
            let mut y = vec![f32::NAN; batch * no];
            dense_f32(&g, &Portable, batch, &x, &w, &b, &mut y).unwrap();
            let want = dense_ref(ni, no, &to64(&x), &to64(&w), &to64(&b));
            for (k, (&a, &b)) in y.iter().zip(&want).enumerate() {
                close(a, b, &std::format!("shape {n} y[{k}]"));
            }
        }
    }

    #[test]
    fn backward_matches_f64_reference_and_finite_differences() {
        // Reference: the f64 analytic gradients dx = dy·Wᵀ, dW = xᵀ·dy, and central differences
        // of L = Σ dy·dense_ref(x, W) (linear, so h = 1e-3 is exact up to rounding);
        // tolerance 1e-5 + 1e-5·|b|.
        for (n, &(batch, ni, no)) in SHAPES.iter().enumerate() {
            let g = Dense::new(ni, no).unwrap();
            let x = uniform_f32(300 + n as u64, batch * ni, -1.0, 1.0);
            let w = uniform_f32(400 + n as u64, g.weights_len(), -1.0, 1.0);
            let dy = uniform_f32(500 + n as u64, batch * no, -1.0, 1.0);
            let mut dx = vec![f32::NAN; x.len()];
            dense_backward_input_f32(&g, &Portable, batch, &dy, &w, &mut dx).unwrap();
            let mut dw = vec![0.0f32; w.len()];
            dense_backward_weights_f32(&g, &Portable, batch, &x, &dy, &mut dw).unwrap();
            let (x64, w64, dy64) = (to64(&x), to64(&w), to64(&dy));
            let zero_bias = vec![0.0; no];
            let loss = |x: &[f64], w: &[f64]| -> f64 {
                let y = dense_ref(ni, no, x, w, &zero_bias);
                y.iter().zip(&dy64).map(|(a, b)| a * b).sum()
            };
            let h = 1e-3;
            for i in 0..x.len() {
                let (b, ii) = (i / ni, i % ni);
                let analytic: f64 = (0..no).map(|o| dy64[b * no + o] * w64[ii * no + o]).sum();
                close(dx[i], analytic, "dx analytic");
                let (mut xp, mut xm) = (x64.clone(), x64.clone());
                xp[i] += h;
                xm[i] -= h;
                close(
                    dx[i],
                    (loss(&xp, &w64) - loss(&xm, &w64)) / (2.0 * h),
                    "dx fd",
                );
            }
            for k in 0..w.len() {
                let (ii, o) = (k / no, k % no);
                let analytic: f64 = (0..batch)
                    .map(|b| x64[b * ni + ii] * dy64[b * no + o])
                    .sum();
                close(dw[k], analytic, "dw analytic");
                let (mut wp, mut wm) = (w64.clone(), w64.clone());
                wp[k] += h;
                wm[k] -= h;
                close(
                    dw[k],
                    (loss(&x64, &wp) - loss(&x64, &wm)) / (2.0 * h),
                    "dw fd",
                );
            }
        }
    }

    #[test]
    fn weight_gradient_accumulates_across_micro_batches() {
        let g = Dense::new(6, 4).unwrap();
        let x = uniform_f32(9, 5 * 6, -1.0, 1.0);
        let dy = uniform_f32(10, 5 * 4, -1.0, 1.0);
        let mut once = vec![0.5f32; 24];
        dense_backward_weights_f32(&g, &Portable, 5, &x, &dy, &mut once).unwrap();
        let mut twice = vec![0.5f32; 24];
        dense_backward_weights_f32(&g, &Portable, 2, &x[..12], &dy[..8], &mut twice).unwrap();
        dense_backward_weights_f32(&g, &Portable, 3, &x[12..], &dy[8..], &mut twice).unwrap();
        assert_eq!(
            once, twice,
            "same bits: Portable sums examples in ascending order"
        );
        // And it really accumulated onto 0.5.
        let want: f64 = 0.5
            + (0..5)
                .map(|b| f64::from(x[b * 6]) * f64::from(dy[b * 4]))
                .sum::<f64>();
        close(once[0], want, "dw[0][0]");
    }

    #[test]
    fn new_validates() {
        assert_eq!(Dense::new(0, 3), Err(KernelError::Zero { arg: "inputs" }));
        assert_eq!(Dense::new(3, 0), Err(KernelError::Zero { arg: "outputs" }));
        assert_eq!(
            Dense::new(usize::MAX, 2),
            Err(KernelError::Overflow { arg: "weights" })
        );
        let g = Dense::new(1024, 2046).unwrap();
        assert_eq!((g.weights_len(), g.bias_len()), (1024 * 2046, 2046));
    }

    #[test]
    fn errors_leave_outputs_untouched() {
        let g = Dense::new(3, 2).unwrap();
        let (x, w, b) = ([1.0f32; 6], [1.0f32; 6], [1.0f32; 2]);
        let mut y = [7.0f32; 4];
        let len = |arg, expected, got| Err(KernelError::Length { arg, expected, got });
        assert_eq!(
            dense_f32(&g, &Portable, 2, &x[..5], &w, &b, &mut y),
            len("input", 6, 5)
        );
        assert_eq!(
            dense_f32(&g, &Portable, 2, &x, &w[..5], &b, &mut y),
            len("weights", 6, 5)
        );
        assert_eq!(
            dense_f32(&g, &Portable, 2, &x, &w, &b[..1], &mut y),
            len("bias", 2, 1)
        );
        assert_eq!(
            dense_f32(&g, &Portable, 2, &x, &w, &b, &mut y[..3]),
            len("output", 4, 3)
        );
        assert_eq!(
            dense_f32(&g, &Portable, 0, &x, &w, &b, &mut y),
            Err(KernelError::Zero { arg: "batch" })
        );
        assert_eq!(
            dense_f32(&g, &Portable, usize::MAX, &x, &w, &b, &mut y),
            Err(KernelError::Overflow { arg: "batch" })
        );
        let mut dx = [7.0f32; 6];
        let dy = [1.0f32; 4];
        assert_eq!(
            dense_backward_input_f32(&g, &Portable, 2, &dy[..3], &w, &mut dx),
            len("d_output", 4, 3)
        );
        assert_eq!(
            dense_backward_input_f32(&g, &Portable, 2, &dy, &w[..5], &mut dx),
            len("weights", 6, 5)
        );
        assert_eq!(
            dense_backward_input_f32(&g, &Portable, 2, &dy, &w, &mut dx[..5]),
            len("d_input", 6, 5)
        );
        let mut dw = [7.0f32; 6];
        assert_eq!(
            dense_backward_weights_f32(&g, &Portable, 2, &x[..5], &dy, &mut dw),
            len("input", 6, 5)
        );
        assert_eq!(
            dense_backward_weights_f32(&g, &Portable, 2, &x, &dy[..3], &mut dw),
            len("d_output", 4, 3)
        );
        assert_eq!(
            dense_backward_weights_f32(&g, &Portable, 2, &x, &dy, &mut dw[..5]),
            len("d_weights", 6, 5)
        );
        assert!(y.iter().chain(&dx).chain(&dw).all(|&v| v == 7.0));
    }
}
