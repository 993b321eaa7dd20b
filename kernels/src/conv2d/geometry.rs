//! The validated geometry of a convolution.
use crate::{Hwc, KernelError, Padding};

/// A convolution's geometry, validated once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Conv2d {
    // TODO(helper): fields
    _todo: (),
}

impl Conv2d {
    /// Validates the geometry once (checked arithmetic); every length query after this is infallible.
    ///
    /// `tile` is the number of output pixels im2col'd at a time; the scratch holds one tile.
    ///
    /// # Errors
    /// See [`KernelError`].
    pub const fn new(
        input: Hwc,
        kernel: [usize; 2],
        c_out: usize,
        stride: [usize; 2],
        padding: Padding,
        tile: usize,
    ) -> Result<Self, KernelError> {
        let _ = (input, kernel, c_out, stride, padding, tile);
        todo!()
    }
    // Queries: input(), output(), input_len(), output_len(), filter_len(), bias_len(),
    // patch_len() (kh*kw*c_in), tile(), scratch_len().
}
