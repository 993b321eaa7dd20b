//! int8 max-pooling, TFLite's reference `integer_ops::MaxPool`.

use crate::pool::{max_pool, Pool2d};
use crate::KernelError;

/// Max-pooling over `batch` NHWC int8 examples; overwrites `output`. Bit-exact with TFLite's
/// reference int8 `MAX_POOL_2D` without a fused activation: the output shares the input's
/// quantisation (TFLite requires it), so the maximum of the quantised values is the quantised
/// maximum. Padding cells never win. (Integers have no ties to break.)
///
/// # Errors
/// [`KernelError::Zero`] if `batch` is 0, [`KernelError::Overflow`] if `batch · input_len`
/// overflows, [`KernelError::Length`] naming `input` or `output` when its length is not
/// `batch` times the geometry's. Nothing is written on error.
pub fn max_pool_s8(
    g: &Pool2d,
    batch: usize,
    input: &[i8],
    output: &mut [i8],
) -> Result<(), KernelError> {
    // Integers have no NaN and no ties to break: the f32 rule is plain max here.
    max_pool(g, batch, input, output)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::pool::max_pool_f32;
    use crate::{Hwc, Padding};
    use std::vec;
    use std::vec::Vec;

    #[test]
    fn equals_the_f32_pool_on_the_same_values() {
        // Reference: the f32 max-pool (itself tested against TensorFlow's rule) on the same
        // integers; max commutes with the monotone dequantisation.
        for (h, w, c, win, s, pad) in [
            (6, 6, 3, [2, 2], [2, 2], Padding::Valid),
            (7, 9, 5, [3, 3], [2, 2], Padding::Same),
            (2, 3, 2, [4, 5], [1, 2], Padding::Same),
            (5, 8, 17, [3, 2], [1, 3], Padding::Same),
        ] {
            let g = Pool2d::new(Hwc::new(h, w, c), win, s, pad).unwrap();
            let x: Vec<i8> = (0..2 * g.input_len())
                .map(|i| ((i * 7919 + 13) % 256) as u8 as i8)
                .collect();
            let xf: Vec<f32> = x.iter().map(|&v| f32::from(v)).collect();
            let mut y = vec![0x5a; 2 * g.output_len()];
            let mut yf = vec![f32::NAN; 2 * g.output_len()];
            max_pool_s8(&g, 2, &x, &mut y).unwrap();
            max_pool_f32(&g, 2, &xf, &mut yf).unwrap();
            let back: Vec<f32> = y.iter().map(|&v| f32::from(v)).collect();
            assert_eq!(back, yf);
        }
    }

    #[test]
    fn padding_never_wins_and_errors_write_nothing() {
        // All −128: padding (if it counted as anything larger) would show.
        let g = Pool2d::new(Hwc::new(3, 3, 1), [3, 3], [2, 2], Padding::Same).unwrap();
        let mut y = [0i8; 4];
        max_pool_s8(&g, 1, &[-128; 9], &mut y).unwrap();
        assert_eq!(y, [-128; 4]);
        let mut y = [7i8; 4];
        assert_eq!(
            max_pool_s8(&g, 1, &[0; 8], &mut y),
            Err(KernelError::Length {
                arg: "input",
                expected: 9,
                got: 8
            })
        );
        assert_eq!(
            max_pool_s8(&g, 0, &[0; 9], &mut y),
            Err(KernelError::Zero { arg: "batch" })
        );
        assert_eq!(y, [7; 4]);
    }
}
