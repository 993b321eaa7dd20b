//! The reference GEMM: fixed summation order, no FMA.

use super::{Gemm, Layout};

/// The portable GEMM: plain Rust, the same bits on every target (see [`Gemm`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Portable;

impl Gemm for Portable {
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
            a.len() == m * k && b.len() == k * n && c.len() == m * n,
            "gemm_acc: lengths"
        );
        // Reference loop; the register-tiled version must give these exact bits.
        for i in 0..m {
            for j in 0..n {
                let mut acc = c[i * n + j];
                for p in 0..k {
                    acc += a[a_layout.index(i, p, m, k)] * b[b_layout.index(p, j, k, n)];
                }
                c[i * n + j] = acc;
            }
        }
    }
}
