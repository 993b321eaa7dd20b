//! The portable GEMM's entry point and the bit-exactness tests of every strategy.

use super::blocking::{self, Product};
use super::{Gemm, Layout};

/// The portable GEMM: plain safe Rust, no `mul_add`, the same bits on every target (see
/// [`Gemm`]).
///
/// Cache-blocked and register-tiled (a `4 × 8` accumulator tile that LLVM vectorises, two
/// blocking strategies picked by shape), yet each `c[i][j]` still gets
/// `c = c + a[i][p] * b[p][j]` for `p = 0, 1, …, k − 1` in order, starting from its current
/// value, so the result equals the naive triple loop bit for bit. No heap; the only buffer is
/// one 6 KiB stack array, and the deepest call chain measured about 7.5 KiB of stack on
/// `thumbv7em-none-eabihf` (release), 6.6 KiB on x86_64.
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
        super::assert_gemm_lengths(m, k, n, a.len(), b.len(), c.len());
        let g = Product {
            m,
            k,
            n,
            a,
            a_layout,
            b,
            b_layout,
        };
        blocking::gemm_acc(g, c);
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::blocking::Scratch;
    use super::super::{packed_a, packed_b};
    use super::*;
    use crate::rng::Rng;
    use crate::test_data;
    use std::vec::Vec;

    const LAYOUTS: [(Layout, Layout); 4] = [
        (Layout::RowMajor, Layout::RowMajor),
        (Layout::RowMajor, Layout::ColMajor),
        (Layout::ColMajor, Layout::RowMajor),
        (Layout::ColMajor, Layout::ColMajor),
    ];

    /// `len` values in [-1, 1) scaled by 2^-4 … 2^3, so sums mix magnitudes and round
    /// differently in every order but the reference one.
    fn values(rng: &mut Rng, len: usize) -> Vec<f32> {
        (0..len)
            .map(|_| {
                let unit = 2.0 * rng.next_f32() - 1.0;
                unit * (1u32 << rng.below(8)) as f32 / 16.0
            })
            .collect()
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
                    acc += a_ip * b_pj; // rounded product, then rounded sum: never fused
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
    /// values, so the accumulate semantics are checked too) and compares every bit. With
    /// `every_strategy`, also runs each blocking strategy directly on the shape, so both are
    /// tested on every shape whichever one `Portable` would pick.
    fn check_with(
        rng: &mut Rng,
        (m, k, n): (usize, usize, usize),
        (a_layout, b_layout): (Layout, Layout),
        every_strategy: bool,
    ) {
        let a = values(rng, m * k);
        let b = values(rng, k * n);
        let c0 = values(rng, m * n);
        let mut want = c0.clone();
        naive(m, k, n, &a, a_layout, &b, b_layout, &mut want);
        let g = Product {
            m,
            k,
            n,
            a: &a,
            a_layout,
            b: &b,
            b_layout,
        };
        let mut runs: Vec<(&str, Vec<f32>)> = Vec::new();
        let mut got = c0.clone();
        Portable.gemm_acc(m, k, n, &a, a_layout, &b, b_layout, &mut got);
        runs.push(("Portable", got));
        if every_strategy && m * n * k != 0 {
            let mut got = c0.clone();
            packed_b::gemm_acc(g, &mut got, &mut Scratch::new());
            runs.push(("packed_b", got));
            if b_layout == Layout::RowMajor {
                let mut got = c0;
                packed_a::gemm_acc(g, &mut got, &mut Scratch::new());
                runs.push(("packed_a", got));
            }
        }
        for (name, got) in runs {
            for (idx, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(
                    same(*g, *w),
                    "{name} {m}x{k}x{n} {a_layout:?}/{b_layout:?}: c[{}][{}] = {g:e} ({:#x}), \
                     want {w:e} ({:#x})",
                    idx / n,
                    idx % n,
                    g.to_bits(),
                    w.to_bits()
                );
            }
        }
    }

    fn check(rng: &mut Rng, m: usize, k: usize, n: usize, a_layout: Layout, b_layout: Layout) {
        check_with(rng, (m, k, n), (a_layout, b_layout), true);
    }

    /// Every `m`, `n` in 0..20 against a spread of `k` (all of 0..20 is `k_sweep`'s job).
    fn sweep_small(seed: u64, a_layout: Layout, b_layout: Layout) {
        let mut rng = test_data::rng(seed);
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
        let mut rng = test_data::rng(2);
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
        // Crossing the k blocks (KC), the m blocks (MC) and the NR / MR edges.
        let mut rng = test_data::rng(3);
        for (a_layout, b_layout) in LAYOUTS {
            for (m, k, n) in [
                (17, 257, 33),
                (3, packed_a::KC - 1, 17),
                (6, packed_a::KC, 16),
                (7, packed_a::KC + 1, 23),
                (3, packed_b::KC - 1, 9),
                (6, packed_b::KC, 8),
                (7, packed_b::KC + 1, 15),
                (packed_b::MC + 5, 2 * packed_b::KC + 3, 17),
                (packed_a::MC + 5, 2 * packed_a::KC + 3, 21),
                (1, 1152, 128),
            ] {
                check(&mut rng, m, k, n, a_layout, b_layout);
            }
        }
    }

    #[test]
    fn conv2_shape_row_major_matches_reference_bits() {
        check(
            &mut test_data::rng(4),
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
            &mut test_data::rng(5),
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
            &mut test_data::rng(6),
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
            &mut test_data::rng(7),
            121,
            1152,
            128,
            Layout::ColMajor,
            Layout::ColMajor,
        );
    }

    #[test]
    fn products_are_rounded_before_the_sum_never_fused() {
        // (1 + 2⁻¹²)² = 1 + 2⁻¹¹ + 2⁻²⁴ rounds (a tie, to even) to 1 + 2⁻¹¹, so adding it to
        // c = −(1 + 2⁻¹¹) gives exactly 0; a fused multiply-add would keep 2⁻²⁴. Shapes large
        // enough for both strategies' vector paths, on whatever vector width this build has.
        let a_ip = 1.0 + f32::EPSILON * 2048.0; // 1 + 2⁻¹²
        let c0 = -(1.0 + f32::EPSILON * 4096.0); // −(1 + 2⁻¹¹)
        assert_eq!(
            a_ip.mul_add(a_ip, c0),
            f32::EPSILON / 2.0,
            "the fused value differs"
        );
        for (a_layout, b_layout) in LAYOUTS {
            let (m, k, n) = (9, 1, 40);
            let mut c = std::vec![c0; m * n];
            Portable.gemm_acc(
                m,
                k,
                n,
                &std::vec![a_ip; m * k],
                a_layout,
                &std::vec![a_ip; k * n],
                b_layout,
                &mut c,
            );
            assert!(
                c.iter().all(|v| v.to_bits() == 0),
                "{a_layout:?}/{b_layout:?}: {c:?}"
            );
        }
    }

    #[test]
    fn reads_c_nan_stays_exactly_where_it_was() {
        // Finite A and B: a NaN in C must survive (the kernel reads C), and must not leak
        // into any other element (no stray reads across tiles or k blocks).
        let (m, k, n) = (13, 2 * packed_b::KC + 5, 19);
        let mut rng = test_data::rng(8);
        for (a_layout, b_layout) in LAYOUTS {
            let a = values(&mut rng, m * k);
            let b = values(&mut rng, k * n);
            let mut c = values(&mut rng, m * n);
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
        let (m, k, n) = (9, 21, 21);
        let mut rng = test_data::rng(9);
        for (a_layout, b_layout) in LAYOUTS {
            let mut a = values(&mut rng, m * k);
            let mut b = values(&mut rng, k * n);
            a[a_layout.index(4, 20, m, k)] = f32::NAN; // row 4 of C
            b[b_layout.index(0, 20, k, n)] = f32::NAN; // column 20 of C (the ragged panel)
            let mut c = values(&mut rng, m * n);
            Portable.gemm_acc(m, k, n, &a, a_layout, &b, b_layout, &mut c);
            for i in 0..m {
                for j in 0..n {
                    assert_eq!(c[i * n + j].is_nan(), i == 4 || j == 20, "c[{i}][{j}]");
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
