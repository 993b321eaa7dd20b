//! The other half of the host seam: running a row-independent kernel (LRN, max-pool, im2col,
//! ReLU) over chunks of its rows, and an element-wise one (the optimisers' steps, zeroing the
//! gradients) over chunks of its slices.
//!
//! Every row (a pixel for LRN, an example for pooling, a patch for im2col) and every element is
//! computed alone, so any split gives the same bits; the default methods run the whole range in
//! one call, which is what a board does.

use crate::KernelError;

/// A kernel over one chunk of rows: `(rows, input, output)`.
pub type RowKernel<'f> = dyn Fn(usize, &[f32], &mut [f32]) -> Result<(), KernelError> + Sync + 'f;
/// A kernel over one chunk of rows with a second input: `(rows, input, other, output)`.
pub type RowKernel2<'f> =
    dyn Fn(usize, &[f32], &[f32], &mut [f32]) -> Result<(), KernelError> + Sync + 'f;

/// A fill of one chunk of rows that reads only what it captures: `(first_row, output)`.
pub type RowFill<'f> = dyn Fn(usize, &mut [f32]) + Sync + 'f;

/// An element-wise kernel over one chunk of equal-length slices: `(read, write)`, the lanes
/// [`Exec::map_lanes`] was given, in the same number and order, each cut to the same elements.
pub type LaneKernel<'f> = dyn Fn(&[&[f32]], &mut [&mut [f32]]) + Sync + 'f;

/// Spreads row-independent and element-wise kernels; see the module documentation.
pub trait Exec {
    /// Calls `f` over consecutive chunks that together cover `rows` rows, row `r` of `input`
    /// being `input[r·in_row ..][.. in_row]` and of `output` likewise with `out_row`. The
    /// default makes one call with everything.
    ///
    /// # Errors
    /// The first error `f` returns (in row order).
    fn map_rows(
        &self,
        rows: usize,
        input: (&[f32], usize),
        output: (&mut [f32], usize),
        f: &RowKernel<'_>,
    ) -> Result<(), KernelError> {
        f(rows, input.0, output.0)
    }

    /// [`Exec::map_rows`] with a second input `other` (row length `other.1`).
    ///
    /// # Errors
    /// The first error `f` returns (in row order).
    fn map_rows2(
        &self,
        rows: usize,
        input: (&[f32], usize),
        other: (&[f32], usize),
        output: (&mut [f32], usize),
        f: &RowKernel2<'_>,
    ) -> Result<(), KernelError> {
        f(rows, input.0, other.0, output.0)
    }

    /// Calls `f(first, chunk)` over consecutive chunks of `output`'s rows (`output.1` values
    /// each) that together cover its `rows` rows, `first` being the chunk's first row: im2col,
    /// the convolutions' bias and zero fills and ReLU's passes, which may read anything they
    /// capture but write each row alone. The default makes one call, `f(0, output.0)`.
    fn fill_rows(&self, rows: usize, output: (&mut [f32], usize), f: &RowFill<'_>) {
        debug_assert_eq!(Some(output.0.len()), rows.checked_mul(output.1));
        f(0, output.0);
    }

    /// Calls `f` over aligned chunks of the lanes `read` and `write`, slices of one length:
    /// every call gets every lane, cut to the same range of elements, and the calls together
    /// cover each element once. For kernels that compute each element alone from the same
    /// element of every lane (an optimiser's step: gradients read; parameters and state
    /// updated). The default makes one call, `f(read, write)`; an implementation also makes one
    /// call when the lanes' lengths differ (the kernel's callers check them first).
    fn map_lanes(&self, read: &[&[f32]], write: &mut [&mut [f32]], f: &LaneKernel<'_>) {
        f(read, write);
    }
}

/// What a network pass needs from its host: a GEMM, a way to spread row-independent kernels and,
/// optionally, its own algorithm for some convolutions.
pub trait Backend: super::Gemm + Exec + super::LayerAlgorithms {}

impl<T: super::Gemm + Exec + super::LayerAlgorithms + ?Sized> Backend for T {}

/// The portable backend runs every kernel on the calling thread.
impl Exec for super::Portable {}
