//! 2-D max-pooling, TensorFlow semantics (NHWC, `tf.nn.max_pool2d` and its CPU `MaxPoolGrad`).
//!
//! Padded cells never win: a window only looks at the input cells it covers (TensorFlow treats
//! the padding as −∞). Every window covers at least one input cell, because TensorFlow's SAME
//! rule pads less than a window on each side.
//!
//! Ties and NaN follow TensorFlow's CPU `MaxPoolGrad` arg-max rule exactly: the window is scanned
//! in row-major order (rows, then columns) and a cell replaces the current maximum only if
//! `current < cell`. So on ties the first cell in row-major window order wins; a NaN wins its
//! window only if it is the window's first input cell (then the output is NaN and the gradient
//! goes to it), and is passed over anywhere else. The forward pass uses the same rule, so the
//! output is always the value of the cell the gradient goes to. (TensorFlow's forward `MaxPool`
//! goes through Eigen's `max` and may treat NaN differently; for finite inputs both agree.)

mod backward;
mod forward;

pub use backward::max_pool_backward_f32;
pub(crate) use forward::max_pool;
pub use forward::max_pool_f32;

use crate::error::{check_len, mul, nonzero, KernelError};
use crate::{Axis, Hwc, Padding};

/// A max-pooling layer's geometry, validated once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Pool2d {
    input: Hwc,
    output: Hwc,
    window: [usize; 2],
    stride: [usize; 2],
    /// Padding cells before the first input row / column.
    pad_before: [usize; 2],
    padding: Padding,
}

impl Pool2d {
    /// Validates a `window[0] × window[1]` max-pool with strides `stride` over one `input`
    /// example, resolving TensorFlow's output size and padding (see [`Axis::resolve`]).
    ///
    /// # Errors
    /// [`KernelError::Zero`] naming `input`, `window` or `stride` for a zero size,
    /// [`KernelError::TooSmall`] naming `input` when a VALID window is larger than the input,
    /// [`KernelError::Overflow`] naming the size that overflows.
    pub const fn new(
        input: Hwc,
        window: [usize; 2],
        stride: [usize; 2],
        padding: Padding,
    ) -> Result<Self, KernelError> {
        if let Err(e) = input.checked_len("input") {
            return Err(e);
        }
        let rows = match Axis::resolve(
            input.h, window[0], stride[0], padding, "input", "window", "stride",
        ) {
            Ok(a) => a,
            Err(e) => return Err(e),
        };
        let cols = match Axis::resolve(
            input.w, window[1], stride[1], padding, "input", "window", "stride",
        ) {
            Ok(a) => a,
            Err(e) => return Err(e),
        };
        let output = Hwc::new(rows.out, cols.out, input.c);
        // Never larger than the input, but checked all the same.
        if let Err(e) = output.checked_len("output") {
            return Err(e);
        }
        Ok(Self {
            input,
            output,
            window,
            stride,
            pad_before: [rows.pad_before, cols.pad_before],
            padding,
        })
    }

    /// One example's input shape.
    pub const fn input(&self) -> Hwc {
        self.input
    }

    /// One example's output shape (same channels as the input).
    pub const fn output(&self) -> Hwc {
        self.output
    }

    /// The window, `[rows, cols]`.
    pub const fn window(&self) -> [usize; 2] {
        self.window
    }

    /// The strides, `[rows, cols]`.
    pub const fn stride(&self) -> [usize; 2] {
        self.stride
    }

    /// The padding scheme.
    pub const fn padding(&self) -> Padding {
        self.padding
    }

    /// Padding cells before the first input row and column.
    pub const fn pad_before(&self) -> [usize; 2] {
        self.pad_before
    }

    /// `h · w · c` of one input example.
    pub const fn input_len(&self) -> usize {
        self.input.len()
    }

    /// `h · w · c` of one output example.
    pub const fn output_len(&self) -> usize {
        self.output.len()
    }

    /// The input cells `[lo, hi)` along `axis` (0 rows, 1 cols) covered by output index `o`
    /// (padding cells left out; never empty for `o` below the output size).
    ///
    /// # Panics
    /// If `axis > 1` (an index out of bounds).
    #[inline(always)]
    pub const fn span(&self, axis: usize, o: usize) -> (usize, usize) {
        let size = if axis == 0 {
            self.input.h
        } else {
            self.input.w
        };
        let start = o * self.stride[axis];
        let lo = start.saturating_sub(self.pad_before[axis]);
        let hi = (start + self.window[axis]).saturating_sub(self.pad_before[axis]);
        let hi = if hi < size { hi } else { size };
        debug_assert!(lo < hi, "every window covers an input cell");
        (lo, hi)
    }

    /// The output indices `[lo, hi)` along `axis` (0 rows, 1 cols) whose windows cover input
    /// index `i` ([`Pool2d::span`] inverted): those a gradient computed per input cell gathers
    /// from. Empty (`lo == hi`) for a cell no window covers (VALID's leftover rows and columns).
    ///
    /// # Panics
    /// If `axis > 1` (an index out of bounds).
    #[inline(always)]
    pub const fn covering(&self, axis: usize, i: usize) -> (usize, usize) {
        let outputs = if axis == 0 {
            self.output.h
        } else {
            self.output.w
        };
        let (k, s) = (self.window[axis], self.stride[axis]);
        // Window `o` covers padded positions [o·s, o·s + k), input `i` sits at `i + pad`.
        let at = i + self.pad_before[axis];
        let lo = (at + 1).saturating_sub(k).div_ceil(s);
        let hi = at / s + 1;
        let hi = if hi < outputs { hi } else { outputs };
        if lo < hi {
            (lo, hi)
        } else {
            (hi, hi)
        }
    }

    /// Validates `batch` and the lengths `a` (input-sized) and `b` (output-sized).
    pub(crate) const fn check(
        &self,
        batch: usize,
        a_name: &'static str,
        a_len: usize,
        b_name: &'static str,
        b_len: usize,
    ) -> Result<(usize, usize), KernelError> {
        if let Err(e) = nonzero("batch", batch) {
            return Err(e);
        }
        let n_in = match mul("batch", batch, self.input_len()) {
            Ok(v) => v,
            Err(e) => return Err(e),
        };
        // The output is never larger than the input, so this cannot overflow.
        let n_out = batch * self.output_len();
        if let Err(e) = check_len(a_name, n_in, a_len) {
            return Err(e);
        }
        if let Err(e) = check_len(b_name, n_out, b_len) {
            return Err(e);
        }
        Ok((n_in, n_out))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    #[test]
    fn seed_pool_shape() {
        // pool1: 24×24×128, 3×3 stride 2 VALID → 11×11×128.
        let g = Pool2d::new(Hwc::new(24, 24, 128), [3, 3], [2, 2], Padding::Valid).unwrap();
        assert_eq!(g.output(), Hwc::new(11, 11, 128));
        assert_eq!(g.input_len(), 24 * 24 * 128);
        assert_eq!(g.output_len(), 11 * 11 * 128);
        // SAME on 5×5, 3×3 stride 2 → 3×3, pad_total = 2·2 + 3 − 5 = 2, before 1.
        let s = Pool2d::new(Hwc::new(5, 5, 1), [3, 3], [2, 2], Padding::Same).unwrap();
        assert_eq!(s.output(), Hwc::new(3, 3, 1));
        assert_eq!(s.pad_before(), [1, 1]);
        assert_eq!(s.span(0, 0), (0, 2));
        assert_eq!(s.span(0, 2), (3, 5));
    }

    #[test]
    fn covering_inverts_span() {
        // Reference: brute force over every output index with `span`.
        let geometries = [
            (Hwc::new(24, 24, 1), [3, 3], [2, 2], Padding::Valid),
            (Hwc::new(7, 6, 1), [3, 3], [2, 2], Padding::Same),
            (Hwc::new(9, 11, 1), [2, 3], [1, 2], Padding::Same),
            (Hwc::new(9, 11, 1), [2, 3], [1, 2], Padding::Valid),
            (Hwc::new(5, 5, 1), [2, 2], [3, 3], Padding::Valid),
            (Hwc::new(2, 3, 1), [5, 4], [2, 3], Padding::Same),
            (Hwc::new(49, 10, 1), [60, 2], [1, 1], Padding::Same),
        ];
        for (x, k, s, p) in geometries {
            let g = Pool2d::new(x, k, s, p).unwrap();
            for (axis, size, outputs) in [(0, x.h, g.output().h), (1, x.w, g.output().w)] {
                for i in 0..size {
                    let want: std::vec::Vec<usize> = (0..outputs)
                        .filter(|&o| (g.span(axis, o).0..g.span(axis, o).1).contains(&i))
                        .collect();
                    let (lo, hi) = g.covering(axis, i);
                    assert!(lo <= hi, "{g:?} axis {axis} input {i}");
                    assert_eq!(
                        (lo..hi).collect::<std::vec::Vec<_>>(),
                        want,
                        "{g:?} axis {axis} input {i}"
                    );
                }
            }
        }
    }

    #[test]
    fn new_reports_bad_geometry() {
        let x = Hwc::new(4, 4, 2);
        assert_eq!(
            Pool2d::new(x, [0, 2], [1, 1], Padding::Same),
            Err(KernelError::Zero { arg: "window" })
        );
        assert_eq!(
            Pool2d::new(x, [2, 2], [1, 0], Padding::Same),
            Err(KernelError::Zero { arg: "stride" })
        );
        assert_eq!(
            Pool2d::new(Hwc::new(4, 0, 2), [2, 2], [1, 1], Padding::Same),
            Err(KernelError::Zero { arg: "input" })
        );
        assert_eq!(
            Pool2d::new(x, [5, 2], [1, 1], Padding::Valid),
            Err(KernelError::TooSmall {
                arg: "input",
                min: 5,
                got: 4
            })
        );
        assert_eq!(
            Pool2d::new(Hwc::new(usize::MAX, 2, 1), [1, 1], [1, 1], Padding::Valid),
            Err(KernelError::Overflow { arg: "input" })
        );
        // A SAME window larger than the input is fine: one output covering everything.
        let big = Pool2d::new(Hwc::new(2, 2, 1), [3, 3], [2, 2], Padding::Same).unwrap();
        assert_eq!(big.output(), Hwc::new(1, 1, 1));
    }
}
