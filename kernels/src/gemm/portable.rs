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

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    const LAYOUTS: [(Layout, Layout); 4] = [
        (Layout::RowMajor, Layout::RowMajor),
        (Layout::RowMajor, Layout::ColMajor),
        (Layout::ColMajor, Layout::RowMajor),
        (Layout::ColMajor, Layout::ColMajor),
    ];

    /// A 64-bit LCG (Knuth's MMIX constants): values in [-1, 1) scaled by 2^-4 … 2^3, so sums
    /// mix magnitudes and round differently in every order but the reference one.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            self.0 >> 33
        }
        fn value(&mut self) -> f32 {
            let unit = (self.next() & 0xff_ffff) as f32 / (1u32 << 23) as f32 - 1.0;
            let scale = (1u32 << (self.next() % 8)) as f32 / 16.0;
            unit * scale
        }
        fn vec(&mut self, len: usize) -> Vec<f32> {
            (0..len).map(|_| self.value()).collect()
        }
    }

    /// The reference order, written plainly: `acc = c; acc = acc + a·b` for `p` ascending.
    #[allow(clippy::too_many_arguments)]
    fn naive(
        m: usize,
        k: usize,
        n: usize,
        a: &[f32],
        a_layout: Layout,
        b: &[f32],
        b_layout: Layout,
        c: &mut [f32],
    ) {
        for i in 0..m {
            for j in 0..n {
                let mut acc = c[i * n + j];
                for p in 0..k {
                    let a_ip = match a_layout {
                        Layout::RowMajor => a[i * k + p],
                        Layout::ColMajor => a[p * m + i],
                    };
                    let b_pj = match b_layout {
                        Layout::RowMajor => b[p * n + j],
                        Layout::ColMajor => b[j * k + p],
                    };
                    acc = acc + a_ip * b_pj;
                }
                c[i * n + j] = acc;
            }
        }
    }

    /// Same bits, except that any NaN matches any NaN (Rust leaves NaN payloads unspecified).
    fn same(x: f32, y: f32) -> bool {
        x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
    }

    /// Runs `Portable` and the reference on the same random inputs (C pre-filled with random
    /// values, so the accumulate semantics are checked too) and compares every bit.
    fn check(rng: &mut Lcg, m: usize, k: usize, n: usize, a_layout: Layout, b_layout: Layout) {
        let a = rng.vec(m * k);
        let b = rng.vec(k * n);
        let c0 = rng.vec(m * n);
        let mut want = c0.clone();
        naive(m, k, n, &a, a_layout, &b, b_layout, &mut want);
        let mut got = c0;
        Portable.gemm_acc(m, k, n, &a, a_layout, &b, b_layout, &mut got);
        for (idx, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                same(*g, *w),
                "{m}x{k}x{n} {a_layout:?}/{b_layout:?}: c[{}][{}] = {g:e} ({:#x}), want {w:e} ({:#x})",
                idx / n,
                idx % n,
                g.to_bits(),
                w.to_bits()
            );
        }
    }

    /// Every `m`, `n` in 0..20 against a spread of `k` (all of 0..20 is `k_sweep`'s job).
    fn sweep_small(seed: u64, a_layout: Layout, b_layout: Layout) {
        let mut rng = Lcg(seed);
        for m in 0..20 {
            for n in 0..20 {
                for k in [0, 1, 2, 3, 4, 5, 7, 8, 9, 12, 16, 17, 19] {
                    check(&mut rng, m, k, n, a_layout, b_layout);
                }
            }
        }
    }

    #[test]
    fn small_shapes_row_row_match_reference_bits() {
        sweep_small(11, Layout::RowMajor, Layout::RowMajor);
    }

    #[test]
    fn small_shapes_row_col_match_reference_bits() {
        sweep_small(12, Layout::RowMajor, Layout::ColMajor);
    }

    #[test]
    fn small_shapes_col_row_match_reference_bits() {
        sweep_small(13, Layout::ColMajor, Layout::RowMajor);
    }

    #[test]
    fn small_shapes_col_col_match_reference_bits() {
        sweep_small(14, Layout::ColMajor, Layout::ColMajor);
    }

    #[test]
    fn k_sweep_matches_reference_bits() {
        let mut rng = Lcg(2);
        for (a_layout, b_layout) in LAYOUTS {
            for k in 0..20 {
                for (m, n) in [(5, 11), (4, 8), (1, 1)] {
                    check(&mut rng, m, k, n, a_layout, b_layout);
                }
            }
        }
    }

    #[test]
    fn block_edges_match_reference_bits() {
        // Crossing the k block (KC), the m block (MC) and the NR / MR edges.
        let mut rng = Lcg(3);
        for (a_layout, b_layout) in LAYOUTS {
            for (m, k, n) in [
                (17, 257, 33),
                (3, blocking::KC - 1, 9),
                (6, blocking::KC, 8),
                (7, blocking::KC + 1, 15),
                (blocking::MC + 5, 2 * blocking::KC + 3, 17),
                (1, 1152, 128),
            ] {
                check(&mut rng, m, k, n, a_layout, b_layout);
            }
        }
    }

    #[test]
    fn conv2_shape_row_major_matches_reference_bits() {
        check(
            &mut Lcg(4),
            121,
            1152,
            128,
            Layout::RowMajor,
            Layout::RowMajor,
        );
    }

    #[test]
    fn conv2_shape_b_col_major_matches_reference_bits() {
        check(
            &mut Lcg(5),
            121,
            1152,
            128,
            Layout::RowMajor,
            Layout::ColMajor,
        );
    }

    #[test]
    fn conv2_shape_a_col_major_matches_reference_bits() {
        check(
            &mut Lcg(6),
            121,
            1152,
            128,
            Layout::ColMajor,
            Layout::RowMajor,
        );
    }

    #[test]
    fn conv2_shape_both_col_major_matches_reference_bits() {
        check(
            &mut Lcg(7),
            121,
            1152,
            128,
            Layout::ColMajor,
            Layout::ColMajor,
        );
    }

    #[test]
    fn reads_c_nan_stays_exactly_where_it_was() {
        // Finite A and B: a NaN in C must survive (the kernel reads C), and must not leak
        // into any other element (no stray reads across tiles or k blocks).
        let (m, k, n) = (13, 2 * blocking::KC + 5, 19);
        let mut rng = Lcg(8);
        for (a_layout, b_layout) in LAYOUTS {
            let a = rng.vec(m * k);
            let b = rng.vec(k * n);
            let mut c = rng.vec(m * n);
            let nan_at = |idx: usize| idx % 7 == 3;
            for (idx, v) in c.iter_mut().enumerate() {
                if nan_at(idx) {
                    *v = f32::NAN;
                }
            }
            Portable.gemm_acc(m, k, n, &a, a_layout, &b, b_layout, &mut c);
            for (idx, v) in c.iter().enumerate() {
                assert_eq!(v.is_nan(), nan_at(idx), "c[{idx}] = {v}");
            }
        }
    }

    #[test]
    fn nan_in_a_or_b_poisons_its_row_or_column() {
        let (m, k, n) = (9, 21, 10);
        let mut rng = Lcg(9);
        for (a_layout, b_layout) in LAYOUTS {
            let mut a = rng.vec(m * k);
            let mut b = rng.vec(k * n);
            a[a_layout.index(4, 20, m, k)] = f32::NAN; // row 4 of C
            b[b_layout.index(0, 9, k, n)] = f32::NAN; // column 9 of C (the NR edge)
            let mut c = rng.vec(m * n);
            Portable.gemm_acc(m, k, n, &a, a_layout, &b, b_layout, &mut c);
            for i in 0..m {
                for j in 0..n {
                    assert_eq!(c[i * n + j].is_nan(), i == 4 || j == 9, "c[{i}][{j}]");
                }
            }
        }
    }

    #[test]
    fn infinities_in_the_padding_do_not_leak() {
        // Padded B columns are zero; inf · 0 = NaN there must never be stored.
        let (m, k, n) = (5, 3, 3);
        let a = [f32::INFINITY; 15];
        let b = [1.0f32; 9];
        let mut c = [0.0f32; 15];
        Portable.gemm_acc(m, k, n, &a, Layout::RowMajor, &b, Layout::RowMajor, &mut c);
        assert!(c.iter().all(|&v| v == f32::INFINITY));
    }

    #[test]
    fn k_zero_leaves_c_unchanged_and_empty_is_a_no_op() {
        let mut c = [f32::NAN, 1.5, -0.0, 3.0];
        Portable.gemm_acc(
            2,
            0,
            2,
            &[],
            Layout::RowMajor,
            &[],
            Layout::ColMajor,
            &mut c,
        );
        assert!(c[0].is_nan());
        assert_eq!(
            c[1..].iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            [1.5f32.to_bits(), (-0.0f32).to_bits(), 3.0f32.to_bits()]
        );
        Portable.gemm_acc(
            0,
            3,
            4,
            &[],
            Layout::RowMajor,
            &[0.0; 12],
            Layout::RowMajor,
            &mut [],
        );
        Portable.gemm_acc(
            3,
            4,
            0,
            &[0.0; 12],
            Layout::ColMajor,
            &[],
            Layout::RowMajor,
            &mut [],
        );
    }

    #[test]
    #[should_panic(expected = "gemm_acc")]
    fn wrong_length_panics() {
        let mut c = [0.0f32; 4];
        Portable.gemm_acc(
            2,
            2,
            2,
            &[0.0; 3],
            Layout::RowMajor,
            &[0.0; 4],
            Layout::RowMajor,
            &mut c,
        );
    }
}
