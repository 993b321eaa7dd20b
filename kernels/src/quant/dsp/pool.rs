//! int8 max-pooling four channels at a time.

use super::insn::{max_s8x4, word};
use crate::pool::Pool2d;
use crate::KernelError;

/// [`max_pool_s8`](crate::quant::max_pool_s8) with four channels per 32-bit word (`SSUB8` +
/// `SEL` on Arm with the DSP extension): the same outputs, bit for bit. Channels beyond the
/// last multiple of four are compared one by one.
///
/// # Errors
/// As [`max_pool_s8`](crate::quant::max_pool_s8); nothing is written on error.
pub fn max_pool_s8_simd(
    g: &Pool2d,
    batch: usize,
    input: &[i8],
    output: &mut [i8],
) -> Result<(), KernelError> {
    g.check(batch, "input", input.len(), "output", output.len())?;
    let (inp, out) = (g.input(), g.output());
    let c = inp.c;
    let split = c / 4 * 4;
    for (x, y) in input
        .chunks_exact(g.input_len())
        .zip(output.chunks_exact_mut(g.output_len()))
    {
        for (pixel, best) in y.chunks_exact_mut(c).enumerate() {
            let (oh, ow) = (pixel / out.w, pixel % out.w);
            let ((h0, h1), (w0, w1)) = (g.span(0, oh), g.span(1, ow));
            // Padding never wins: the spans cover input cells only, and are never empty.
            let cell = |h: usize, w: usize| &x[(h * inp.w + w) * c..][..c];
            let (words, rest) = best.split_at_mut(split);
            for (k, dst) in words.chunks_exact_mut(4).enumerate() {
                let mut m = word(&cell(h0, w0)[4 * k..]);
                for h in h0..h1 {
                    for w in w0..w1 {
                        m = max_s8x4(m, word(&cell(h, w)[4 * k..]));
                    }
                }
                dst.copy_from_slice(&m.to_le_bytes().map(|b| b as i8));
            }
            for (j, dst) in rest.iter_mut().enumerate() {
                *dst = cell(h0, w0)[split + j];
                for h in h0..h1 {
                    for w in w0..w1 {
                        *dst = (*dst).max(cell(h, w)[split + j]);
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
    use super::*;
    use crate::quant::max_pool_s8;
    use crate::test_data::uniform_i8;
    use crate::{Hwc, Padding};
    use std::vec;

    #[test]
    fn equals_the_portable_kernel() {
        // Reference: the portable `max_pool_s8` (checked against the f32 pool and TFLite's
        // golden vectors), bit for bit, over channel counts of every remainder mod 4.
        for (h, w, c, win, s, pad) in [
            (15, 15, 16, [3, 3], [2, 2], Padding::Valid),
            (7, 9, 5, [3, 3], [2, 2], Padding::Same),
            (2, 3, 2, [4, 5], [1, 2], Padding::Same),
            (5, 8, 7, [3, 2], [1, 3], Padding::Same),
            (6, 6, 8, [2, 2], [2, 2], Padding::Valid),
        ] {
            let g = Pool2d::new(Hwc::new(h, w, c), win, s, pad).unwrap();
            let x = uniform_i8(c as u64, 3 * g.input_len());
            let mut want = vec![0x5a; 3 * g.output_len()];
            let mut got = vec![0x5a; 3 * g.output_len()];
            max_pool_s8(&g, 3, &x, &mut want).unwrap();
            max_pool_s8_simd(&g, 3, &x, &mut got).unwrap();
            assert_eq!(got, want, "{h}×{w}×{c}");
        }
        let g = Pool2d::new(Hwc::new(3, 3, 4), [2, 2], [1, 1], Padding::Valid).unwrap();
        let mut y = [7i8; 16];
        assert_eq!(
            max_pool_s8_simd(&g, 1, &[0; 35], &mut y),
            Err(KernelError::Length {
                arg: "input",
                expected: 36,
                got: 35
            })
        );
        assert_eq!(y, [7; 16]);
    }
}
