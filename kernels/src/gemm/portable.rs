//! The portable GEMM: cache-blocked and register-tiled, with the reference bits.

use super::{blocking, Gemm, Layout};

/// The portable GEMM: plain safe Rust, no `mul_add`, the same bits on every target (see
/// [`Gemm`]).
///
/// Blocked for the cache and tiled for registers (see the `blocking` module), yet each
/// `c[i][j]` still gets `c = c + a[i][p] * b[p][j]` for `p = 0, 1, …, k − 1` in order, so the
/// result equals the naive triple loop bit for bit. It needs no heap and at most 6.2 KiB of
/// stack (one packed `B` panel and one accumulator tile).
#[derive(Debug, Clone, Copy, Default)]
pub struct Portable;

impl Gemm for Portable {
    /// `C += A · B`; see [`Gemm`]'s contract.
    ///
    /// # Panics
    /// If `a.len() != m * k`, `b.len() != k * n` or `c.len() != m * n` (products computed with
    /// checked arithmetic, so an overflowing size panics as well).
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
    ) {
        assert!(
            m.checked_mul(k) == Some(a.len())
                && k.checked_mul(n) == Some(b.len())
                && m.checked_mul(n) == Some(c.len()),
            "gemm_acc: slice lengths disagree with m, k, n"
        );
        blocking::gemm_acc(m, k, n, a, a_layout, b, b_layout, c);
    }
}
