//! The geometry of one synthetic frame, validated once.

use crate::error::{mul, nonzero, KernelError};

/// Bytes per pixel: frames are interleaved RGB.
pub const CHANNELS: usize = 3;

/// The size of a synthetic `u8` frame in HWC RGB layout (`h · w · 3` bytes, row-major, the
/// channel fastest), validated once so that [`FrameSpec::len`] cannot fail afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FrameSpec {
    h: usize,
    w: usize,
    len: usize,
}

impl FrameSpec {
    /// A frame of `h` rows and `w` columns. Any positive size works; the valence network uses
    /// 64×64 (TINY) and 96×96 (FULL).
    ///
    /// # Errors
    /// [`KernelError::Zero`] naming `h` or `w` if it is zero; [`KernelError::Overflow`] naming
    /// `w` if `h · w · 3` does not fit in `usize`.
    pub const fn new(h: usize, w: usize) -> Result<Self, KernelError> {
        if let Err(e) = nonzero("h", h) {
            return Err(e);
        }
        if let Err(e) = nonzero("w", w) {
            return Err(e);
        }
        let pixels = match mul("w", h, w) {
            Ok(v) => v,
            Err(e) => return Err(e),
        };
        let len = match mul("w", pixels, CHANNELS) {
            Ok(v) => v,
            Err(e) => return Err(e),
        };
        // The drawing maths runs in f32 over pixel coordinates; beyond 2^24 px a side the
        // coordinates would no longer be exact integers plus one half.
        if h > 1 << 23 {
            return Err(KernelError::Overflow { arg: "h" });
        }
        if w > 1 << 23 {
            return Err(KernelError::Overflow { arg: "w" });
        }
        Ok(Self { h, w, len })
    }

    /// Rows.
    pub const fn h(&self) -> usize {
        self.h
    }

    /// Columns.
    pub const fn w(&self) -> usize {
        self.w
    }

    /// `h · w · 3`: the exact length of the caller's frame buffer.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Always `false`: a validated frame has at least one pixel. (Clippy wants it next to `len`.)
    pub const fn is_empty(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_h_w_3() {
        let s = FrameSpec::new(64, 64).unwrap();
        assert_eq!((s.h(), s.w(), s.len()), (64, 64, 12_288));
        let s = FrameSpec::new(96, 80).unwrap();
        assert_eq!(s.len(), 96 * 80 * 3);
        assert_eq!(FrameSpec::new(1, 1).unwrap().len(), 3);
    }

    #[test]
    fn zero_sizes_are_refused() {
        assert_eq!(FrameSpec::new(0, 64), Err(KernelError::Zero { arg: "h" }));
        assert_eq!(FrameSpec::new(64, 0), Err(KernelError::Zero { arg: "w" }));
    }

    #[test]
    fn overflow_is_refused_on_every_target() {
        assert_eq!(
            FrameSpec::new(usize::MAX, 2),
            Err(KernelError::Overflow { arg: "w" })
        );
        // h·w fits, ·3 does not.
        assert_eq!(
            FrameSpec::new(usize::MAX / 2, 2),
            Err(KernelError::Overflow { arg: "w" })
        );
        assert_eq!(
            FrameSpec::new((1 << 23) + 1, 1),
            Err(KernelError::Overflow { arg: "h" })
        );
        assert_eq!(
            FrameSpec::new(1, (1 << 23) + 1),
            Err(KernelError::Overflow { arg: "w" })
        );
    }
}
