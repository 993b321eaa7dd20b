//! The one error type every kernel returns.

use core::fmt;

/// Why a kernel or a geometry constructor refused its arguments.
///
/// Every variant names the offending argument, so a caller can tell which slice or size was
/// wrong without reading the kernel. Kernels return it *before* writing anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum KernelError {
    /// A slice has the wrong length.
    Length {
        /// The argument's name, as in the function signature.
        arg: &'static str,
        /// The length the geometry implies.
        expected: usize,
        /// The length passed.
        got: usize,
    },
    /// A size or stride that must be positive is zero.
    Zero {
        /// The argument's name.
        arg: &'static str,
    },
    /// A size computed from the arguments does not fit in `usize` (real on 32-bit targets).
    Overflow {
        /// The argument whose size overflowed.
        arg: &'static str,
    },
    /// A size is smaller than the geometry requires (e.g. a VALID window larger than its input).
    TooSmall {
        /// The argument's name.
        arg: &'static str,
        /// The smallest accepted value.
        min: usize,
        /// The value passed.
        got: usize,
    },
    /// A real-valued parameter is non-finite or outside its documented range.
    InvalidParam {
        /// The parameter's name.
        arg: &'static str,
    },
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Length { arg, expected, got } => {
                write!(f, "`{arg}` has length {got}, expected {expected}")
            }
            Self::Zero { arg } => write!(f, "`{arg}` must be positive, got 0"),
            Self::Overflow { arg } => write!(f, "the size of `{arg}` overflows usize"),
            Self::TooSmall { arg, min, got } => {
                write!(f, "`{arg}` is {got}, must be at least {min}")
            }
            Self::InvalidParam { arg } => write!(f, "`{arg}` is non-finite or out of range"),
        }
    }
}

impl core::error::Error for KernelError {}

/// `?` for `const fn`s, which cannot use the operator (shared by every module that validates
/// sizes at compile time).
macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return Err(e),
        }
    };
}
pub(crate) use tri;

/// Checks that `slice_len == expected`, naming `arg` otherwise.
///
/// # Errors
/// [`KernelError::Length`] when the lengths differ.
#[inline]
pub const fn check_len(arg: &'static str, expected: usize, got: usize) -> Result<(), KernelError> {
    if expected == got {
        Ok(())
    } else {
        Err(KernelError::Length { arg, expected, got })
    }
}

/// `a * b`, or [`KernelError::Overflow`] naming `arg`.
///
/// # Errors
/// [`KernelError::Overflow`] when the product does not fit in `usize`.
#[inline]
pub const fn mul(arg: &'static str, a: usize, b: usize) -> Result<usize, KernelError> {
    match a.checked_mul(b) {
        Some(v) => Ok(v),
        None => Err(KernelError::Overflow { arg }),
    }
}

/// `a + b`, or [`KernelError::Overflow`] naming `arg`.
///
/// # Errors
/// [`KernelError::Overflow`] when the sum does not fit in `usize`.
#[inline]
pub const fn add(arg: &'static str, a: usize, b: usize) -> Result<usize, KernelError> {
    match a.checked_add(b) {
        Some(v) => Ok(v),
        None => Err(KernelError::Overflow { arg }),
    }
}

/// Fails with [`KernelError::Zero`] naming `arg` when `value == 0`.
///
/// # Errors
/// [`KernelError::Zero`] when `value` is zero.
#[inline]
pub const fn nonzero(arg: &'static str, value: usize) -> Result<usize, KernelError> {
    if value == 0 {
        Err(KernelError::Zero { arg })
    } else {
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    #[test]
    fn display_names_argument_expected_and_got() {
        let e = KernelError::Length {
            arg: "filter",
            expected: 75,
            got: 74,
        };
        assert_eq!(e.to_string(), "`filter` has length 74, expected 75");
        assert_eq!(
            KernelError::Zero { arg: "stride" }.to_string(),
            "`stride` must be positive, got 0"
        );
    }

    #[test]
    fn checked_helpers_report_overflow() {
        assert_eq!(
            mul("x", usize::MAX, 2),
            Err(KernelError::Overflow { arg: "x" })
        );
        assert_eq!(
            add("y", usize::MAX, 1),
            Err(KernelError::Overflow { arg: "y" })
        );
        assert_eq!(mul("x", 3, 4), Ok(12));
        assert_eq!(check_len("a", 3, 3), Ok(()));
        assert_eq!(
            check_len("a", 3, 2),
            Err(KernelError::Length {
                arg: "a",
                expected: 3,
                got: 2
            })
        );
    }
}
