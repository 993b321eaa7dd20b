//! The matrix-product seam between the kernels' logic and whoever multiplies matrices.
//!
//! Convolution and dense layers call [`Gemm::gemm_acc`] and nothing else for their heavy lifting.
//! [`Portable`] is the reference: plain Rust, no `mul_add`, a fixed summation order, so it gives
//! the same bits on every target. A host may plug in a faster implementation (SIMD, FMA,
//! threads) through the same trait; it then only has to meet the TensorFlow golden tolerances.

mod blocking;
mod exec;
mod kernel;
mod layer_algorithms;
mod pack;
mod packed_a;
mod packed_b;
mod portable;

pub use exec::{Backend, Exec, LaneKernel, RowFill, RowKernel, RowKernel2};
pub use layer_algorithms::LayerAlgorithms;
pub use portable::Portable;

/// How a matrix is stored in its slice. Both layouts are dense (no padding between rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Layout {
    /// Element `(i, j)` of an `r × c` matrix is at `i * c + j`.
    RowMajor,
    /// Element `(i, j)` of an `r × c` matrix is at `j * r + i` (the row-major transpose).
    ColMajor,
}

impl Layout {
    /// The index of element `(i, j)` in an `rows × cols` matrix stored this way.
    #[inline(always)]
    pub const fn index(self, i: usize, j: usize, rows: usize, cols: usize) -> usize {
        match self {
            Self::RowMajor => i * cols + j,
            Self::ColMajor => j * rows + i,
        }
    }
}

/// Asserts the lengths of the [`Gemm`] contract; every implementation calls it first.
///
/// # Panics
/// If `a_len != m·k`, `b_len != k·n` or `c_len != m·n` (products checked, so an overflowing size
/// panics as well).
#[track_caller]
pub fn assert_gemm_lengths(m: usize, k: usize, n: usize, a_len: usize, b_len: usize, c_len: usize) {
    assert!(
        m.checked_mul(k) == Some(a_len)
            && k.checked_mul(n) == Some(b_len)
            && m.checked_mul(n) == Some(c_len),
        "gemm_acc: slice lengths disagree with m, k, n"
    );
}

/// An accumulating single-precision matrix product.
///
/// # Contract
/// `gemm_acc(m, k, n, a, a_layout, b, b_layout, c)` computes `C += A · B` where `A` is `m × k`
/// (`a.len() == m * k`), `B` is `k × n` (`b.len() == k * n`), stored as their layouts say, and
/// `C` is `m × n` row-major (`c.len() == m * n`). Callers (the kernels) validate every length
/// first; an implementation may panic when the contract is broken.
///
/// [`Portable`] defines the reference bits: each `c[i][j]` is updated as
/// `c = c + a[i][p] * b[p][j]` for `p = 0, 1, …, k − 1` in that order, each product and each sum
/// rounded to f32 (no fused multiply-add). Because the running value starts from `C`, splitting a
/// product into consecutive blocks along `k` (or along `m`, as the tiled convolution does) gives
/// exactly the same bits as one call.
pub trait Gemm {
    /// `C += A · B`; see the trait's contract.
    ///
    /// # Panics
    /// May panic if a slice length disagrees with `m`, `k` and `n`.
    #[allow(clippy::too_many_arguments)]
    fn gemm_acc(
        &self,
        m: usize,
        k: usize,
        n: usize,
        a: &[f32],
        a_layout: Layout,
        b: &[f32],
        b_layout: Layout,
        c: &mut [f32],
    );
}
