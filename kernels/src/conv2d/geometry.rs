//! The validated geometry of a convolution.
use crate::error::{mul, nonzero, tri};
use crate::{Axis, Hwc, KernelError, Padding};

/// A convolution's geometry, validated once.
///
/// Layouts are TensorFlow's: the input and output are NHWC, the filter HWIO
/// (`[kh, kw, c_in, c_out]`, row-major), the bias `[c_out]`. The output rows (one per output
/// pixel, `batch × out_h × out_w` of them) are computed `tile` at a time, so the scratch buffer
/// holds one tile of im2col patches: [`Conv2d::scratch_len`] `= tile · kh · kw · c_in` floats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Conv2d {
    input: Hwc,
    output: Hwc,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: Padding,
    pad_before: [usize; 2],
    tile: usize,
    input_len: usize,
    output_len: usize,
    patch_len: usize,
    filter_len: usize,
    scratch_len: usize,
}

impl Conv2d {
    /// Validates the geometry once (checked arithmetic); every length query after this is
    /// infallible.
    ///
    /// `input` is one example's shape, `kernel` is `[kh, kw]`, `stride` is `[sh, sw]`; output
    /// sizes and padding follow TensorFlow's SAME/VALID rules ([`Axis::resolve`]). `tile` is the
    /// number of output pixels im2col'd at a time; the scratch holds one tile. A tile larger
    /// than `batch × out_h × out_w` is allowed (the work is then done in one tile).
    ///
    /// # Errors
    /// * [`KernelError::Zero`] if an input size (`input`), a kernel size (`kernel`), a stride
    ///   (`stride`), `c_out` or `tile` is zero;
    /// * [`KernelError::TooSmall`] (`input`) if a VALID kernel is larger than the input;
    /// * [`KernelError::Overflow`] if one of the lengths (`input`, `output`, `filter`,
    ///   `scratch`) or the SAME padding span does not fit in `usize`.
    pub const fn new(
        input: Hwc,
        kernel: [usize; 2],
        c_out: usize,
        stride: [usize; 2],
        padding: Padding,
        tile: usize,
    ) -> Result<Self, KernelError> {
        let input_len = tri!(input.checked_len("input"));
        tri!(nonzero("c_out", c_out));
        tri!(nonzero("tile", tile));
        let rows = tri!(Axis::resolve(
            input.h, kernel[0], stride[0], padding, "input", "kernel", "stride"
        ));
        let cols = tri!(Axis::resolve(
            input.w, kernel[1], stride[1], padding, "input", "kernel", "stride"
        ));
        let output = Hwc::new(rows.out, cols.out, c_out);
        let output_len = tri!(output.checked_len("output"));
        let taps = tri!(mul("filter", kernel[0], kernel[1]));
        let patch_len = tri!(mul("filter", taps, input.c));
        let filter_len = tri!(mul("filter", patch_len, c_out));
        let scratch_len = tri!(mul("scratch", tile, patch_len));
        Ok(Self {
            input,
            output,
            kernel,
            stride,
            padding,
            pad_before: [rows.pad_before, cols.pad_before],
            tile,
            input_len,
            output_len,
            patch_len,
            filter_len,
            scratch_len,
        })
    }

    /// One input example's shape.
    pub const fn input(&self) -> Hwc {
        self.input
    }

    /// One output example's shape (`c` is `c_out`).
    pub const fn output(&self) -> Hwc {
        self.output
    }

    /// `[kh, kw]`.
    pub const fn kernel(&self) -> [usize; 2] {
        self.kernel
    }

    /// `[sh, sw]`.
    pub const fn stride(&self) -> [usize; 2] {
        self.stride
    }

    /// The padding scheme.
    pub const fn padding(&self) -> Padding {
        self.padding
    }

    /// Padding cells before the first input row and column, `[top, left]` (TensorFlow puts the
    /// odd cell after).
    pub const fn pad_before(&self) -> [usize; 2] {
        self.pad_before
    }

    /// `h · w · c_in`: one input example's length.
    pub const fn input_len(&self) -> usize {
        self.input_len
    }

    /// `out_h · out_w · c_out`: one output example's length.
    pub const fn output_len(&self) -> usize {
        self.output_len
    }

    /// `kh · kw · c_in · c_out`: the HWIO filter's length.
    pub const fn filter_len(&self) -> usize {
        self.filter_len
    }

    /// `c_out`: the bias's length.
    pub const fn bias_len(&self) -> usize {
        self.output.c
    }

    /// `kh · kw · c_in`: one im2col patch, i.e. one row of the scratch.
    pub const fn patch_len(&self) -> usize {
        self.patch_len
    }

    /// Output pixels processed per tile.
    pub const fn tile(&self) -> usize {
        self.tile
    }

    /// The tiles the kernels walk over `batch` examples' output pixels, in order: `(first,
    /// rows)` covers the batch's output pixels `first..first + rows` (GEMM rows), every tile
    /// [`tile`](Self::tile) rows long but the last. The caller has checked that
    /// `batch · output_len` fits a `usize`, so pixel indices times `c_out` do too.
    pub(crate) fn tiles(&self, batch: usize) -> impl Iterator<Item = (usize, usize)> {
        let pixels = batch.saturating_mul(self.out_pixels());
        let tile = self.tile;
        (0..pixels)
            .step_by(tile)
            .map(move |first| (first, tile.min(pixels - first)))
    }

    /// `tile · patch_len`: the exact length every kernel requires of its `scratch`.
    pub const fn scratch_len(&self) -> usize {
        self.scratch_len
    }

    /// `out_h · out_w`: output pixels (GEMM rows) per example.
    pub(super) const fn out_pixels(&self) -> usize {
        self.output.h * self.output.w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(
        input: Hwc,
        kernel: [usize; 2],
        c_out: usize,
        stride: [usize; 2],
        padding: Padding,
        tile: usize,
    ) -> Result<Conv2d, KernelError> {
        Conv2d::new(input, kernel, c_out, stride, padding, tile)
    }

    #[test]
    fn lengths_of_the_seed_conv1_and_conv2() {
        // conv1: 96x96x3, 5x5 -> 128, stride 4, SAME: 24x24x128, pad_total 1 -> before 0.
        let g = conv(Hwc::new(96, 96, 3), [5, 5], 128, [4, 4], Padding::Same, 64).unwrap();
        assert_eq!(g.output(), Hwc::new(24, 24, 128));
        assert_eq!(g.pad_before(), [0, 0]);
        assert_eq!(g.input_len(), 96 * 96 * 3);
        assert_eq!(g.output_len(), 24 * 24 * 128);
        assert_eq!(g.patch_len(), 75);
        assert_eq!(g.filter_len(), 75 * 128);
        assert_eq!(g.bias_len(), 128);
        assert_eq!(g.tile(), 64);
        assert_eq!(g.scratch_len(), 64 * 75);
        // conv2: 11x11x128, 3x3 -> 128, SAME stride 1: 11x11, pad 1 each side.
        let g = conv(Hwc::new(11, 11, 128), [3, 3], 128, [1, 1], Padding::Same, 7).unwrap();
        assert_eq!(g.output(), Hwc::new(11, 11, 128));
        assert_eq!(g.pad_before(), [1, 1]);
        assert_eq!(g.patch_len(), 1152);
        assert_eq!(g.scratch_len(), 7 * 1152);
        assert_eq!(g.kernel(), [3, 3]);
        assert_eq!(g.stride(), [1, 1]);
        assert_eq!(g.padding(), Padding::Same);
        assert_eq!(g.input(), Hwc::new(11, 11, 128));
    }

    #[test]
    fn unequal_axes_resolve_separately() {
        // h: 7, k 2, s 3, VALID -> (7-2)/3+1 = 2; w: 5, k 4, s 1 -> 2.
        let g = conv(Hwc::new(7, 5, 2), [2, 4], 3, [3, 1], Padding::Valid, 1).unwrap();
        assert_eq!(g.output(), Hwc::new(2, 2, 3));
        // SAME: h 7/s2 -> 4, pad_total 3*2+4-7 = 3 -> before 1; w 5/s1 -> 5, pad 3 -> before 1.
        let g = conv(Hwc::new(7, 5, 2), [4, 4], 3, [2, 1], Padding::Same, 1).unwrap();
        assert_eq!(g.output(), Hwc::new(4, 5, 3));
        assert_eq!(g.pad_before(), [1, 1]);
    }

    #[test]
    fn zero_sizes_are_rejected() {
        let hwc = Hwc::new(5, 5, 2);
        let s = Padding::Same;
        let zero = |arg| Err(KernelError::Zero { arg });
        assert_eq!(
            conv(Hwc::new(0, 5, 2), [3, 3], 4, [1, 1], s, 4),
            zero("input")
        );
        assert_eq!(
            conv(Hwc::new(5, 0, 2), [3, 3], 4, [1, 1], s, 4),
            zero("input")
        );
        assert_eq!(
            conv(Hwc::new(5, 5, 0), [3, 3], 4, [1, 1], s, 4),
            zero("input")
        );
        assert_eq!(conv(hwc, [0, 3], 4, [1, 1], s, 4), zero("kernel"));
        assert_eq!(conv(hwc, [3, 0], 4, [1, 1], s, 4), zero("kernel"));
        assert_eq!(conv(hwc, [3, 3], 0, [1, 1], s, 4), zero("c_out"));
        assert_eq!(conv(hwc, [3, 3], 4, [0, 1], s, 4), zero("stride"));
        assert_eq!(conv(hwc, [3, 3], 4, [1, 0], s, 4), zero("stride"));
        assert_eq!(conv(hwc, [3, 3], 4, [1, 1], s, 0), zero("tile"));
    }

    #[test]
    fn valid_kernel_larger_than_input_is_too_small() {
        let v = Padding::Valid;
        let too_small = |min, got| {
            Err(KernelError::TooSmall {
                arg: "input",
                min,
                got,
            })
        };
        assert_eq!(
            conv(Hwc::new(2, 9, 1), [3, 3], 1, [1, 1], v, 1),
            too_small(3, 2)
        );
        assert_eq!(
            conv(Hwc::new(9, 1, 1), [3, 2], 1, [1, 1], v, 1),
            too_small(2, 1)
        );
        // SAME pads instead, so the same shapes are fine.
        assert!(conv(Hwc::new(1, 1, 1), [5, 5], 1, [1, 1], Padding::Same, 1).is_ok());
    }

    #[test]
    fn overflowing_lengths_are_rejected_on_any_word_size() {
        // usize::MAX / 2 times 3 overflows whatever the width of usize.
        let half = usize::MAX / 2;
        let over = |arg| Err(KernelError::Overflow { arg });
        let (s, v) = (Padding::Same, Padding::Valid);
        assert_eq!(
            conv(Hwc::new(half, 3, 1), [1, 1], 1, [1, 1], v, 1),
            over("input")
        );
        // The input fits (half·1·1) but the output has 3 channels per pixel.
        assert_eq!(
            conv(Hwc::new(half, 1, 1), [1, 1], 3, [1, 1], v, 1),
            over("output")
        );
        // The patch fits (half) but the filter is patch · c_out.
        assert_eq!(
            conv(Hwc::new(1, 1, half), [1, 1], 3, [1, 1], v, 1),
            over("filter")
        );
        // kh·kw overflows before c_in is even looked at.
        assert_eq!(
            conv(Hwc::new(1, 1, 1), [half, 3], 1, [1, 1], s, 1),
            over("filter")
        );
        // The scratch is tile · patch_len.
        assert_eq!(
            conv(Hwc::new(1, 1, 3), [1, 1], 1, [1, 1], v, half),
            over("scratch")
        );
        // SAME's padding span (out − 1)·stride + k overflows.
        assert_eq!(
            conv(Hwc::new(usize::MAX, 1, 1), [usize::MAX, 1], 1, [1, 1], s, 1),
            over("kernel")
        );
    }
}
