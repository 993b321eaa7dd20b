//! Max-pool forward.

use super::Pool2d;
use crate::KernelError;

/// Max-pooling over `batch` NHWC examples; overwrites `output`.
///
/// Each output is the value of its window's arg-max under the rule in the
/// [module documentation](super): first cell in row-major order on ties, padding never wins,
/// a NaN only when it is the window's first input cell.
///
/// # Errors
/// [`KernelError::Zero`] if `batch` is 0, [`KernelError::Overflow`] if `batch · input_len`
/// overflows, [`KernelError::Length`] naming `input` or `output` when its length is not
/// `batch` times the geometry's. Nothing is written on error.
pub fn max_pool_f32(
    g: &Pool2d,
    batch: usize,
    input: &[f32],
    output: &mut [f32],
) -> Result<(), KernelError> {
    max_pool(g, batch, input, output)
}

/// The max-pool loop for any ordered element type (f32 here, int8 in
/// [`max_pool_s8`](crate::quant::max_pool_s8)): the rule of [`max_pool_f32`], checks included.
pub(crate) fn max_pool<T: Copy + PartialOrd>(
    g: &Pool2d,
    batch: usize,
    input: &[T],
    output: &mut [T],
) -> Result<(), KernelError> {
    g.check(batch, "input", input.len(), "output", output.len())?;
    let (inp, out) = (g.input(), g.output());
    let c = inp.c;
    for (x, y) in input
        .chunks_exact(g.input_len())
        .zip(output.chunks_exact_mut(g.output_len()))
    {
        for oh in 0..out.h {
            let (h0, h1) = g.span(0, oh);
            for ow in 0..out.w {
                let (w0, w1) = g.span(1, ow);
                let best = &mut y[(oh * out.w + ow) * c..][..c];
                // The first covered cell seeds the maximum unconditionally (TensorFlow's
                // "no arg-max yet"), later cells replace it only when strictly greater.
                best.copy_from_slice(&x[(h0 * inp.w + w0) * c..][..c]);
                for h in h0..h1 {
                    for w in w0..w1 {
                        let cell = &x[(h * inp.w + w) * c..][..c];
                        for (b, &v) in best.iter_mut().zip(cell) {
                            if *b < v {
                                *b = v;
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    extern crate std;
    use super::*;
    use crate::{Hwc, Padding};
    use std::vec;
    use std::vec::Vec;

    /// All the geometries the tests sweep: the seed's windows, odd sizes, both paddings.
    pub(crate) fn geometries() -> Vec<Pool2d> {
        let mut v = Vec::new();
        for (h, w, c) in [(5, 5, 3), (7, 6, 2), (9, 11, 1), (2, 3, 4), (24, 24, 2)] {
            for (k, s) in [
                ([2, 2], [2, 2]),
                ([3, 3], [2, 2]),
                ([3, 3], [1, 1]),
                ([2, 3], [1, 2]),
            ] {
                for p in [Padding::Same, Padding::Valid] {
                    if let Ok(g) = Pool2d::new(Hwc::new(h, w, c), k, s, p) {
                        v.push(g);
                    }
                }
            }
        }
        v
    }

    /// A distinct-valued input so no window has ties: `i ↦ (i·A mod P)` is injective for
    /// `i < P` (P prime); values are multiples of 1/4096 in [−8, 8), exact in f32.
    pub(crate) fn distinct_input(n: usize, seed: usize) -> Vec<f32> {
        const P: usize = 65_521;
        assert!(n < P);
        let a = 7919 + 13 * seed;
        (0..n)
            .map(|i| ((i * a) % P) as f32 / 4096.0 - 8.0)
            .collect()
    }

    /// f64 reference: for each output, the max over the covered input cells (padding skipped),
    /// computed from TensorFlow's window formula with signed arithmetic.
    pub(crate) fn pool_ref(g: &Pool2d, batch: usize, x: &[f64]) -> (Vec<f64>, Vec<usize>) {
        let (i, o) = (g.input(), g.output());
        let [kh, kw] = g.window();
        let [sh, sw] = g.stride();
        let [ph, pw] = g.pad_before();
        let mut y = Vec::new();
        let mut arg = Vec::new();
        for b in 0..batch {
            for oh in 0..o.h {
                for ow in 0..o.w {
                    for ch in 0..i.c {
                        let mut best = f64::NEG_INFINITY;
                        let mut at = usize::MAX;
                        for dh in 0..kh {
                            for dw in 0..kw {
                                let hh = (oh * sh + dh) as isize - ph as isize;
                                let ww = (ow * sw + dw) as isize - pw as isize;
                                if hh < 0 || ww < 0 || hh >= i.h as isize || ww >= i.w as isize {
                                    continue;
                                }
                                let idx = ((b * i.h + hh as usize) * i.w + ww as usize) * i.c + ch;
                                if at == usize::MAX || x[idx] > best {
                                    best = x[idx];
                                    at = idx;
                                }
                            }
                        }
                        y.push(best);
                        arg.push(at);
                    }
                }
            }
        }
        (y, arg)
    }

    #[test]
    fn matches_f64_reference_on_every_geometry() {
        // Reference: the f64 naive window max; max-pool is exact, so the bits must agree.
        for (n, g) in geometries().iter().enumerate() {
            let batch = 2;
            let x = distinct_input(batch * g.input_len(), n);
            let mut y = vec![f32::NAN; batch * g.output_len()];
            max_pool_f32(g, batch, &x, &mut y).unwrap();
            let x64: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
            let (want, _) = pool_ref(g, batch, &x64);
            for (k, (&a, &b)) in y.iter().zip(&want).enumerate() {
                assert_eq!(f64::from(a), b, "{g:?} output {k}");
            }
        }
    }

    #[test]
    fn padding_never_wins_over_negative_inputs() {
        // All inputs −5 under SAME padding: a zero pad would win if padding counted as 0.
        let g = Pool2d::new(Hwc::new(3, 3, 1), [3, 3], [1, 1], Padding::Same).unwrap();
        let mut y = [f32::NAN; 9];
        max_pool_f32(&g, 1, &[-5.0; 9], &mut y).unwrap();
        assert_eq!(y, [-5.0; 9]);
        let mut y1 = [f32::NAN; 1];
        let g1 = Pool2d::new(Hwc::new(1, 1, 1), [3, 3], [2, 2], Padding::Same).unwrap();
        max_pool_f32(&g1, 1, &[f32::NEG_INFINITY], &mut y1).unwrap();
        assert_eq!(y1, [f32::NEG_INFINITY]);
    }

    #[test]
    fn signed_zero_ties_keep_the_first_cell() {
        // −0.0 == 0.0: the first cell in row-major order is the output, sign bit included.
        let g = Pool2d::new(Hwc::new(1, 2, 1), [1, 2], [1, 1], Padding::Valid).unwrap();
        let mut y = [f32::NAN];
        max_pool_f32(&g, 1, &[-0.0, 0.0], &mut y).unwrap();
        assert_eq!(y[0].to_bits(), (-0.0f32).to_bits());
        max_pool_f32(&g, 1, &[0.0, -0.0], &mut y).unwrap();
        assert_eq!(y[0].to_bits(), 0.0f32.to_bits());
    }

    #[test]
    fn nan_wins_only_as_first_cell() {
        // 2×2 window over 2×2 input, VALID.
        let g = Pool2d::new(Hwc::new(2, 2, 1), [2, 2], [1, 1], Padding::Valid).unwrap();
        let mut y = [0.0f32];
        max_pool_f32(&g, 1, &[f32::NAN, 1.0, 2.0, 3.0], &mut y).unwrap();
        assert!(y[0].is_nan());
        max_pool_f32(&g, 1, &[1.0, f32::NAN, 2.0, 0.5], &mut y).unwrap();
        assert_eq!(y, [2.0]);
    }

    #[test]
    fn length_errors_leave_output_untouched() {
        let g = Pool2d::new(Hwc::new(4, 4, 2), [2, 2], [2, 2], Padding::Valid).unwrap();
        let x = [1.0f32; 64];
        let mut y = [7.0f32; 16];
        assert_eq!(
            max_pool_f32(&g, 2, &x[..63], &mut y),
            Err(KernelError::Length {
                arg: "input",
                expected: 64,
                got: 63
            })
        );
        assert_eq!(
            max_pool_f32(&g, 2, &x, &mut y[..15]),
            Err(KernelError::Length {
                arg: "output",
                expected: 16,
                got: 15
            })
        );
        assert_eq!(
            max_pool_f32(&g, 0, &x, &mut y),
            Err(KernelError::Zero { arg: "batch" })
        );
        assert_eq!(
            max_pool_f32(&g, usize::MAX, &x, &mut y),
            Err(KernelError::Overflow { arg: "batch" })
        );
        assert!(y.iter().all(|&v| v == 7.0));
    }
}
