//! Max-pool backward, TensorFlow's CPU `MaxPoolGrad`.

use super::Pool2d;
use crate::KernelError;

/// Channels per block of the arg-max search: a maximum and a pixel index each (768 B on the
/// stack).
const BLOCK: usize = 64;

/// The gradient of [`max_pool_f32`](super::max_pool_f32) with respect to its input;
/// overwrites `d_input`.
///
/// `d_input` is zeroed, then each output gradient, in ascending output order (example, row,
/// column, channel), is added to its window's arg-max input cell (rule in the
/// [module documentation](super): first cell in row-major window order on ties). Overlapping
/// windows (stride < window) therefore accumulate into a shared cell in that fixed order, as
/// TensorFlow's CPU kernel does.
///
/// # Errors
/// [`KernelError::Zero`] if `batch` is 0, [`KernelError::Overflow`] if `batch · input_len`
/// overflows, [`KernelError::Length`] naming `input`, `d_output` or `d_input` when its length
/// is not `batch` times the geometry's. Nothing is written on error.
pub fn max_pool_backward_f32(
    g: &Pool2d,
    batch: usize,
    input: &[f32],
    d_output: &[f32],
    d_input: &mut [f32],
) -> Result<(), KernelError> {
    let (n_in, _) = g.check(batch, "input", input.len(), "d_output", d_output.len())?;
    crate::error::check_len("d_input", n_in, d_input.len())?;
    let (inp, out) = (g.input(), g.output());
    let c = inp.c;
    // Per block of channels, the window's maximum and the input pixel holding it.
    let mut best = [0.0f32; BLOCK];
    let mut at = [0usize; BLOCK];
    for ((x, dy), dx) in input
        .chunks_exact(g.input_len())
        .zip(d_output.chunks_exact(g.output_len()))
        .zip(d_input.chunks_exact_mut(g.input_len()))
    {
        // Zeroed one example at a time, just before its gradients land, while it is in cache.
        dx.fill(0.0);
        for oh in 0..out.h {
            let (h0, h1) = g.span(0, oh);
            for ow in 0..out.w {
                let (w0, w1) = g.span(1, ow);
                let grads = &dy[(oh * out.w + ow) * c..][..c];
                for (ch0, grads) in (0..).step_by(BLOCK).zip(grads.chunks(BLOCK)) {
                    let n = grads.len();
                    let (best, at) = (&mut best[..n], &mut at[..n]);
                    // The arg-max of every channel of the block at once, one window cell at a
                    // time in row-major order (the first cell seeds it, see the forward pass), as
                    // a vector select; each channel still sees its cells in the rule's order.
                    let first = h0 * inp.w + w0;
                    best.copy_from_slice(&x[first * c + ch0..][..n]);
                    at.fill(first);
                    for h in h0..h1 {
                        for w in w0..w1 {
                            let pixel = h * inp.w + w;
                            let cell = &x[pixel * c + ch0..][..n];
                            for ((b, a), &v) in best.iter_mut().zip(at.iter_mut()).zip(cell) {
                                let wins = *b < v;
                                *b = if wins { v } else { *b };
                                *a = if wins { pixel } else { *a };
                            }
                        }
                    }
                    // Channels never share a cell, so only the outputs' order matters where
                    // several windows send to one cell; it stays ascending.
                    for (i, (&a, &gr)) in at.iter().zip(grads).enumerate() {
                        dx[a * c + ch0 + i] += gr;
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::forward::tests::{distinct_input, geometries, pool_ref};
    use super::*;
    use crate::{Hwc, Padding};
    use std::vec;
    use std::vec::Vec;

    fn grads(n: usize, seed: usize) -> Vec<f32> {
        // Small integers / 8: sums of a few stay exact in f32.
        (0..n)
            .map(|i| (((i * 31 + seed * 17) % 23) as f32 - 11.0) / 8.0)
            .collect()
    }

    #[test]
    fn routes_to_the_f64_reference_arg_max() {
        // Reference: route each d_output to the f64 reference arg-max and sum in f64; all terms
        // are multiples of 1/8 below 2^20, so the f32 result must be exact.
        for (n, g) in geometries().iter().enumerate() {
            let batch = 2;
            let x = distinct_input(batch * g.input_len(), n);
            let dy = grads(batch * g.output_len(), n);
            let mut dx = vec![f32::NAN; x.len()];
            max_pool_backward_f32(g, batch, &x, &dy, &mut dx).unwrap();
            let x64: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
            let (_, arg) = pool_ref(g, batch, &x64);
            let mut want = vec![0.0f64; x.len()];
            for (o, &a) in arg.iter().enumerate() {
                want[a] += f64::from(dy[o]);
            }
            for (k, (&a, &b)) in dx.iter().zip(&want).enumerate() {
                assert_eq!(f64::from(a), b, "{g:?} d_input {k}");
            }
        }
    }

    #[test]
    fn routes_ties_across_channel_blocks_like_the_reference() {
        // Reference: the f64 reference arg-max (first cell on ties), as above. Depths that cut
        // the 64-channel blocks unevenly, ReLU-like inputs (half exactly zero, so windows tie)
        // and overlapping windows; sums of multiples of 1/8 are exact.
        for c in [63, 64, 65, 130] {
            for p in [Padding::Same, Padding::Valid] {
                let g = Pool2d::new(Hwc::new(7, 6, c), [3, 3], [2, 2], p).unwrap();
                let batch = 2;
                let x: Vec<f32> = distinct_input(batch * g.input_len(), c)
                    .iter()
                    .map(|&v| if v < 0.0 { 0.0 } else { v })
                    .collect();
                let dy = grads(batch * g.output_len(), c);
                let mut dx = vec![f32::NAN; x.len()];
                max_pool_backward_f32(&g, batch, &x, &dy, &mut dx).unwrap();
                let x64: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
                let (_, arg) = pool_ref(&g, batch, &x64);
                let mut want = vec![0.0f64; x.len()];
                for (o, &a) in arg.iter().enumerate() {
                    want[a] += f64::from(dy[o]);
                }
                for (k, (&a, &b)) in dx.iter().zip(&want).enumerate() {
                    assert_eq!(f64::from(a), b, "c={c} {p:?} d_input {k}");
                }
            }
        }
    }

    #[test]
    fn finite_differences_away_from_ties() {
        // L = Σ w·pool(x) on the f64 reference forward, central differences with h = 1e-5
        // (inputs are ≥ 1/4096 apart, so no window changes its arg-max); L is piecewise linear,
        // so the tolerance is 1e-6 absolute.
        let small = geometries().into_iter().filter(|g| g.input_len() <= 300);
        for (n, g) in small.enumerate() {
            let g = &g;
            let batch = 1;
            let x = distinct_input(g.input_len(), n + 100);
            let w = grads(g.output_len(), n + 5);
            let mut dx = vec![f32::NAN; x.len()];
            max_pool_backward_f32(g, batch, &x, &w, &mut dx).unwrap();
            let x64: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
            let loss = |x: &[f64]| -> f64 {
                let (y, _) = pool_ref(g, batch, x);
                y.iter().zip(&w).map(|(&y, &w)| y * f64::from(w)).sum()
            };
            let h = 1e-5;
            for i in 0..x.len() {
                let mut xp = x64.clone();
                xp[i] += h;
                let mut xm = x64.clone();
                xm[i] -= h;
                let fd = (loss(&xp) - loss(&xm)) / (2.0 * h);
                assert!((f64::from(dx[i]) - fd).abs() <= 1e-6, "{g:?} i={i}");
            }
        }
    }

    #[test]
    fn ties_go_to_the_first_cell_in_row_major_order() {
        // 3×3 input of ones, 2×2 windows stride 1 VALID: each window's first cell is its
        // top-left, so d_input gets each output's gradient at (0,0), (0,1), (1,0), (1,1).
        let g = Pool2d::new(Hwc::new(3, 3, 1), [2, 2], [1, 1], Padding::Valid).unwrap();
        let mut dx = [f32::NAN; 9];
        max_pool_backward_f32(&g, 1, &[1.0; 9], &[1.0, 2.0, 4.0, 8.0], &mut dx).unwrap();
        assert_eq!(dx, [1.0, 2.0, 0.0, 4.0, 8.0, 0.0, 0.0, 0.0, 0.0]);
        // A tie between (0,1) and (1,0) in one 2×2 window: (0,1) comes first row-major.
        let g1 = Pool2d::new(Hwc::new(2, 2, 1), [2, 2], [1, 1], Padding::Valid).unwrap();
        let mut dx1 = [f32::NAN; 4];
        max_pool_backward_f32(&g1, 1, &[0.0, 5.0, 5.0, 1.0], &[3.0], &mut dx1).unwrap();
        assert_eq!(dx1, [0.0, 3.0, 0.0, 0.0]);
    }

    #[test]
    fn overlapping_windows_accumulate() {
        // 1×3 input, 1×2 windows stride 1: the middle maximum wins both windows.
        let g = Pool2d::new(Hwc::new(1, 3, 1), [1, 2], [1, 1], Padding::Valid).unwrap();
        let mut dx = [f32::NAN; 3];
        max_pool_backward_f32(&g, 1, &[0.0, 9.0, 1.0], &[0.5, 0.25], &mut dx).unwrap();
        assert_eq!(dx, [0.0, 0.75, 0.0]);
    }

    #[test]
    fn nan_gets_the_gradient_only_as_first_cell() {
        let g = Pool2d::new(Hwc::new(2, 2, 1), [2, 2], [1, 1], Padding::Valid).unwrap();
        let mut dx = [f32::NAN; 4];
        max_pool_backward_f32(&g, 1, &[f32::NAN, 1.0, 2.0, 3.0], &[1.0], &mut dx).unwrap();
        assert_eq!(dx, [1.0, 0.0, 0.0, 0.0]);
        max_pool_backward_f32(&g, 1, &[1.0, f32::NAN, 2.0, 0.5], &[1.0], &mut dx).unwrap();
        assert_eq!(dx, [0.0, 0.0, 1.0, 0.0]);
    }

    #[test]
    fn length_errors_leave_d_input_untouched() {
        let g = Pool2d::new(Hwc::new(4, 4, 2), [2, 2], [2, 2], Padding::Valid).unwrap();
        let x = [1.0f32; 64];
        let dy = [1.0f32; 17];
        let mut dx = [7.0f32; 64];
        for (xn, dyn_, dxn, arg, expected, got) in [
            (63, 16, 64, "input", 64, 63),
            (64, 17, 64, "d_output", 16, 17),
            (64, 16, 60, "d_input", 64, 60),
        ] {
            assert_eq!(
                max_pool_backward_f32(&g, 2, &x[..xn], &dy[..dyn_], &mut dx[..dxn]),
                Err(KernelError::Length { arg, expected, got })
            );
        }
        assert_eq!(
            max_pool_backward_f32(&g, 0, &x, &dy[..16], &mut dx),
            Err(KernelError::Zero { arg: "batch" })
        );
        assert!(dx.iter().all(|&v| v == 7.0));
    }
}
