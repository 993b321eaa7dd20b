//! Small reused shape types (CMSIS-NN's `dims`/`stride`/`padding` structs) and TensorFlow's
//! output-size and padding rules.

use crate::error::{add, mul, nonzero, KernelError};

/// The shape of one example's activation tensor, NHWC without the N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Hwc {
    /// Height in pixels.
    pub h: usize,
    /// Width in pixels.
    pub w: usize,
    /// Channels (the fastest-varying index).
    pub c: usize,
}

impl Hwc {
    /// A shape from its three sizes.
    pub const fn new(h: usize, w: usize, c: usize) -> Self {
        Self { h, w, c }
    }

    /// `h * w * c`, checked; errors name `arg`.
    ///
    /// # Errors
    /// [`KernelError::Zero`] if a size is zero, [`KernelError::Overflow`] if the product overflows.
    pub const fn checked_len(&self, arg: &'static str) -> Result<usize, KernelError> {
        if self.h == 0 || self.w == 0 || self.c == 0 {
            return Err(KernelError::Zero { arg });
        }
        let hw = match mul(arg, self.h, self.w) {
            Ok(v) => v,
            Err(e) => return Err(e),
        };
        mul(arg, hw, self.c)
    }

    /// `h * w * c` for a shape a geometry constructor already checked; saturates at
    /// `usize::MAX` for any other (use [`Hwc::checked_len`] to tell).
    pub const fn len(&self) -> usize {
        self.h.saturating_mul(self.w).saturating_mul(self.c)
    }

    /// `true` if a size is zero (never the case for a shape a geometry constructor accepted).
    pub const fn is_empty(&self) -> bool {
        self.h == 0 || self.w == 0 || self.c == 0
    }

    /// `h * w` for a shape a geometry constructor already checked; saturates at `usize::MAX`
    /// for any other.
    pub const fn pixels(&self) -> usize {
        self.h.saturating_mul(self.w)
    }
}

/// TensorFlow's two padding schemes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Padding {
    /// `out = ceil(in / stride)`; zeros (or −∞ for max-pool) around the input,
    /// `pad_before = pad_total / 2`, the rest after.
    Same,
    /// `out = (in − k) / stride + 1`; no padding.
    Valid,
}

/// One spatial axis of a sliding window, resolved: output size and padding before the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Axis {
    /// Output size along this axis.
    pub out: usize,
    /// Padding cells before the first input cell (`pad_total / 2` for SAME, 0 for VALID).
    pub pad_before: usize,
}

impl Axis {
    /// Resolves TensorFlow's output size and padding for an input of `input` cells, a window of
    /// `k` cells and a stride of `stride`; errors name `arg_k` / `arg_stride` / `arg_input`.
    ///
    /// # Errors
    /// [`KernelError::Zero`] for a zero size or stride, [`KernelError::TooSmall`] when a VALID
    /// window is larger than the input, [`KernelError::Overflow`] on overflow.
    pub const fn resolve(
        input: usize,
        k: usize,
        stride: usize,
        padding: Padding,
        arg_input: &'static str,
        arg_k: &'static str,
        arg_stride: &'static str,
    ) -> Result<Self, KernelError> {
        if let Err(e) = nonzero(arg_input, input) {
            return Err(e);
        }
        if let Err(e) = nonzero(arg_k, k) {
            return Err(e);
        }
        if let Err(e) = nonzero(arg_stride, stride) {
            return Err(e);
        }
        match padding {
            Padding::Valid => {
                if k > input {
                    return Err(KernelError::TooSmall {
                        arg: arg_input,
                        min: k,
                        got: input,
                    });
                }
                Ok(Self {
                    out: (input - k) / stride + 1,
                    pad_before: 0,
                })
            }
            Padding::Same => {
                // ceil(input / stride) without overflowing `input + stride - 1`.
                let out = input / stride + if input % stride == 0 { 0 } else { 1 };
                // (out - 1) * stride + k - input, clamped at 0, with checked arithmetic.
                let span = match mul(arg_stride, out - 1, stride) {
                    Ok(v) => v,
                    Err(e) => return Err(e),
                };
                let span = match add(arg_k, span, k) {
                    Ok(v) => v,
                    Err(e) => return Err(e),
                };
                let pad_total = span.saturating_sub(input);
                Ok(Self {
                    out,
                    pad_before: pad_total / 2,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axis(input: usize, k: usize, s: usize, p: Padding) -> Result<Axis, KernelError> {
        Axis::resolve(input, k, s, p, "input", "k", "stride")
    }

    #[test]
    fn same_padding_matches_tensorflow_rule() {
        // The seed's conv1: 96 px, 5x5, stride 4 -> 24, pad_total = 23*4+5-96 = 1, before 0.
        assert_eq!(
            axis(96, 5, 4, Padding::Same),
            Ok(Axis {
                out: 24,
                pad_before: 0
            })
        );
        // 3x3 stride 1 on 11 -> 11, pad_total 2, before 1.
        assert_eq!(
            axis(11, 3, 1, Padding::Same),
            Ok(Axis {
                out: 11,
                pad_before: 1
            })
        );
        // 7 px, k 4, stride 2 -> out 4, pad_total = 3*2+4-7 = 3, before 1 (after 2).
        assert_eq!(
            axis(7, 4, 2, Padding::Same),
            Ok(Axis {
                out: 4,
                pad_before: 1
            })
        );
        // Window smaller than stride: pad_total clamps at 0.
        assert_eq!(
            axis(10, 1, 4, Padding::Same),
            Ok(Axis {
                out: 3,
                pad_before: 0
            })
        );
    }

    #[test]
    fn valid_padding_matches_tensorflow_rule() {
        assert_eq!(
            axis(24, 3, 2, Padding::Valid),
            Ok(Axis {
                out: 11,
                pad_before: 0
            })
        );
        assert_eq!(
            axis(5, 3, 2, Padding::Valid),
            Ok(Axis {
                out: 2,
                pad_before: 0
            })
        );
        assert_eq!(
            axis(2, 3, 1, Padding::Valid),
            Err(KernelError::TooSmall {
                arg: "input",
                min: 3,
                got: 2
            })
        );
    }

    #[test]
    fn zero_and_overflow_are_errors() {
        assert_eq!(
            axis(0, 3, 1, Padding::Same),
            Err(KernelError::Zero { arg: "input" })
        );
        assert_eq!(
            axis(5, 0, 1, Padding::Same),
            Err(KernelError::Zero { arg: "k" })
        );
        assert_eq!(
            axis(5, 3, 0, Padding::Same),
            Err(KernelError::Zero { arg: "stride" })
        );
        assert_eq!(
            axis(usize::MAX, usize::MAX, 1, Padding::Same),
            Err(KernelError::Overflow { arg: "k" })
        );
        assert_eq!(
            Hwc::new(usize::MAX, 2, 1).checked_len("x"),
            Err(KernelError::Overflow { arg: "x" })
        );
    }
}
