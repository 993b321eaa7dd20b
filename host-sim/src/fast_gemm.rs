//! The host's fast [`Gemm`]: `matrixmultiply`'s SIMD `sgemm` over one tile of `C` per thread,
//! the tiles spread over a rayon pool.
//!
//! One tile per thread packs each operand once per thread (small fixed tiles made `sgemm` repack
//! the weights for every 64 rows: 12 % of a FULL training step). The bits still do not depend on
//! the thread count: `sgemm` sums every element of `C` over `k` in an order set by `k` alone, and
//! tile edges fall on multiples of [`ALIGN`], so every split shares one micro-tile grid — the
//! test `bits_do_not_depend_on_the_thread_count` holds this to the bit for 1, 2 and 3 threads.
//! They differ from [`kernels::Portable`]'s (SIMD and FMA round differently), within the golden
//! tests' tolerances.
#![allow(unsafe_code)] // `matrixmultiply::sgemm` takes raw pointers; see the SAFETY notes.

use kernels::gemm::{RowKernel, RowKernel2};
use kernels::{Exec, Gemm, KernelError, Layout};
use rayon::prelude::*;

/// Tile sides are multiples of this: a multiple of every micro-kernel side `matrixmultiply`'s
/// f32 kernels use (8, 16; 4, 6, 8 columns), so tiles never cut a micro-tile.
pub const ALIGN: usize = 48;
/// Below this many multiply-adds the tiles run on the calling thread: waking the pool would
/// cost more than the product. (The tiling, hence the bits, is unchanged.)
const PARALLEL_MIN_WORK: usize = 1 << 16;

/// A multi-threaded, SIMD `C += A·B` (see the module's documentation).
#[derive(Debug)]
pub struct FastGemm {
    pool: rayon::ThreadPool,
}

impl FastGemm {
    /// A GEMM that runs on its own pool of `threads` worker threads.
    ///
    /// # Errors
    /// The pool's error if the operating system refuses to start the threads. `threads == 0`
    /// lets rayon choose (one per core).
    pub fn new(threads: usize) -> Result<Self, rayon::ThreadPoolBuildError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("fast-gemm-{i}"))
            .build()?;
        Ok(Self { pool })
    }

    /// The number of worker threads.
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// The tile size `(rows, cols)` for an `m × n` product: one row block per thread, or, when
    /// `C` has too few rows for that (a dense layer at a small batch), one column block per
    /// thread. Sides are rounded up to multiples of [`ALIGN`].
    pub fn tiles(&self, m: usize, n: usize) -> (usize, usize) {
        let t = self.threads().max(1);
        let aligned = |x: usize| x.div_ceil(t).div_ceil(ALIGN).max(1) * ALIGN;
        if m >= ALIGN * t {
            (aligned(m), n.max(1))
        } else {
            (m.max(1), aligned(n))
        }
    }
}

/// `C`'s base pointer, shared by the tiles. Each tile writes only its own disjoint cells.
#[derive(Clone, Copy)]
struct SharedC(*mut f32);

impl SharedC {
    /// Through a method, so closures capture the whole (`Sync`) wrapper and not its raw field.
    fn get(self) -> *mut f32 {
        self.0
    }
}

// SAFETY: the pointer is only used to write disjoint tiles of one `&mut [f32]` borrowed for the
// whole parallel section (see `gemm_acc`).
unsafe impl Send for SharedC {}
// SAFETY: as above; tiles never alias.
unsafe impl Sync for SharedC {}

/// Row-independent kernels (LRN, max-pool) run as one chunk of rows per thread; every row is
/// computed alone, so the bits do not depend on the split.
impl Exec for FastGemm {
    fn map_rows(
        &self,
        rows: usize,
        input: (&[f32], usize),
        output: (&mut [f32], usize),
        f: &RowKernel<'_>,
    ) -> Result<(), KernelError> {
        let chunk = self.row_chunk(rows);
        let fits = |len: usize, row: usize| row > 0 && rows.checked_mul(row) == Some(len);
        if chunk >= rows || !fits(input.0.len(), input.1) || !fits(output.0.len(), output.1) {
            // One call: also where the kernel itself reports a length error.
            return f(rows, input.0, output.0);
        }
        let results: Vec<Result<(), KernelError>> = self.pool.install(|| {
            output
                .0
                .par_chunks_mut(chunk * output.1)
                .zip(input.0.par_chunks(chunk * input.1))
                .map(|(out, inp)| f(out.len() / output.1, inp, out))
                .collect()
        });
        results.into_iter().collect()
    }

    fn map_rows2(
        &self,
        rows: usize,
        input: (&[f32], usize),
        other: (&[f32], usize),
        output: (&mut [f32], usize),
        f: &RowKernel2<'_>,
    ) -> Result<(), KernelError> {
        let chunk = self.row_chunk(rows);
        let fits = |len: usize, row: usize| row > 0 && rows.checked_mul(row) == Some(len);
        if chunk >= rows
            || !fits(input.0.len(), input.1)
            || !fits(other.0.len(), other.1)
            || !fits(output.0.len(), output.1)
        {
            return f(rows, input.0, other.0, output.0);
        }
        let results: Vec<Result<(), KernelError>> = self.pool.install(|| {
            output
                .0
                .par_chunks_mut(chunk * output.1)
                .zip(input.0.par_chunks(chunk * input.1))
                .zip(other.0.par_chunks(chunk * other.1))
                .map(|((out, inp), oth)| f(out.len() / output.1, inp, oth, out))
                .collect()
        });
        results.into_iter().collect()
    }
}

impl FastGemm {
    /// Rows per chunk of a row-independent kernel: one chunk per thread.
    fn row_chunk(&self, rows: usize) -> usize {
        rows.div_ceil(self.threads().max(1)).max(1)
    }
}

impl Gemm for FastGemm {
    /// `C += A · B` (see [`Gemm`]).
    ///
    /// # Panics
    /// If a slice length disagrees with `m`, `k` and `n`, or a dimension exceeds `isize::MAX`.
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
        kernels::gemm::assert_gemm_lengths(m, k, n, a.len(), b.len(), c.len());
        if m == 0 || n == 0 || k == 0 {
            return; // C += nothing: leave every bit of C as it is.
        }
        let stride = |x: usize| isize::try_from(x).expect("dimension fits isize");
        // (row stride, column stride) of A (m × k) and B (k × n) in their slices.
        let (rsa, csa) = match a_layout {
            Layout::RowMajor => (stride(k), 1),
            Layout::ColMajor => (1, stride(m)),
        };
        let (rsb, csb) = match b_layout {
            Layout::RowMajor => (stride(n), 1),
            Layout::ColMajor => (1, stride(k)),
        };
        let (rows, cols) = self.tiles(m, n);
        let (row_tiles, col_tiles) = (m.div_ceil(rows), n.div_ceil(cols));
        let c_ptr = SharedC(c.as_mut_ptr());
        let tile = |t: usize| {
            let (r0, c0) = ((t / col_tiles) * rows, (t % col_tiles) * cols);
            let (mt, nt) = (rows.min(m - r0), cols.min(n - c0));
            // SAFETY: r0 < m and c0 < n, so every offset below stays inside its slice:
            // A's tile starts at (r0, 0), B's at (0, c0), C's at (r0, c0), and sgemm reads
            // mt × k of A, k × nt of B and writes mt × nt of C through the given strides, which
            // describe the slices' real layouts. Tiles partition C, so no two calls write the same
            // cell, and `c` stays mutably borrowed until every tile is done (the pool's `install`
            // and the sequential loop both return only then). A and B are only read.
            unsafe {
                matrixmultiply::sgemm(
                    mt,
                    k,
                    nt,
                    1.0,
                    a.as_ptr().offset(stride(r0) * rsa),
                    rsa,
                    csa,
                    b.as_ptr().offset(stride(c0) * csb),
                    rsb,
                    csb,
                    1.0,
                    c_ptr.get().offset(stride(r0) * stride(n) + stride(c0)),
                    stride(n),
                    1,
                );
            }
        };
        let tiles = row_tiles * col_tiles;
        let work = m.saturating_mul(k).saturating_mul(n);
        if tiles == 1 || work < PARALLEL_MIN_WORK || self.threads() == 1 {
            (0..tiles).for_each(tile);
        } else {
            self.pool
                .install(|| (0..tiles).into_par_iter().for_each(tile));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernels::rng::Rng;
    use kernels::Portable;

    const LAYOUTS: [Layout; 2] = [Layout::RowMajor, Layout::ColMajor];

    /// Deterministic values in [-1, 1) from the kernels' own PCG32.
    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut rng = Rng::new(seed, 0);
        (0..n).map(|_| 2.0 * rng.next_f32() - 1.0).collect()
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    fn run(g: &impl Gemm, m: usize, k: usize, n: usize, la: Layout, lb: Layout) -> Vec<f32> {
        let a = values(m * k, 1);
        let b = values(k * n, 2);
        let mut c = values(m * n, 3); // C is accumulated into, so it starts non-zero.
        g.gemm_acc(m, k, n, &a, la, &b, lb, &mut c);
        c
    }

    /// Reference: f64 sum of the products plus C's starting value, in plain loops.
    fn reference(m: usize, k: usize, n: usize, la: Layout, lb: Layout) -> Vec<f64> {
        let a = values(m * k, 1);
        let b = values(k * n, 2);
        let c = values(m * n, 3);
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut acc = f64::from(c[i * n + j]);
                for p in 0..k {
                    acc += f64::from(a[la.index(i, p, m, k)]) * f64::from(b[lb.index(p, j, k, n)]);
                }
                out[i * n + j] = acc;
            }
        }
        out
    }

    /// |fast − ref| ≤ atol + rtol·|ref| with atol = rtol = 1e-5 · max(1, k/16): inputs are in
    /// [-1, 1), so the rounding error of a k-term f32 sum grows with k.
    fn assert_close(got: &[f32], want: &[f64], k: usize, what: &str) {
        let tol = 1e-5 * (k as f64 / 16.0).max(1.0);
        for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
            let err = (f64::from(g) - w).abs();
            assert!(err <= tol + tol * w.abs(), "{what}: c[{i}] = {g}, want {w}");
        }
    }

    #[test]
    fn matches_the_reference_over_awkward_shapes_and_all_layouts() {
        let g = FastGemm::new(2).unwrap();
        let shapes = [
            (1, 1, 1),
            (1, 7, 1),
            (3, 5, 2),
            (17, 3, 19),
            (17, 257, 5),
            (2, 1, 300),
            (65, 9, 257),
            (64, 64, 64),
            (130, 31, 7),
            (300, 4, 33),
        ];
        for (m, k, n) in shapes
            .into_iter()
            .chain((0..20).map(|i| (i, 20 - i, i + 1)))
        {
            for la in LAYOUTS {
                for lb in LAYOUTS {
                    let what = format!("{m}x{k}x{n} {la:?} {lb:?}");
                    let want = reference(m, k, n, la, lb);
                    assert_close(&run(&g, m, k, n, la, lb), &want, k, &what);
                    // The portable GEMM meets the same reference, so the two agree to 2×tol.
                    assert_close(&run(&Portable, m, k, n, la, lb), &want, k, &what);
                }
            }
        }
    }

    #[test]
    fn bits_do_not_depend_on_the_thread_count() {
        let gemms: Vec<FastGemm> = [1, 2, 3].map(|t| FastGemm::new(t).unwrap()).into();
        assert_eq!(
            gemms.iter().map(FastGemm::threads).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        // Row tiles; column tiles (small m, wide n); k past sgemm's k-block; one tile; edges.
        for (m, k, n) in [
            (300, 37, 70),
            (5, 300, 1000),
            (200, 40, 600),
            (9, 9, 9),
            (1000, 700, 130),
            (97, 513, 101),
        ] {
            for la in LAYOUTS {
                for lb in LAYOUTS {
                    let one = bits(&run(&gemms[0], m, k, n, la, lb));
                    for g in &gemms[1..] {
                        assert_eq!(bits(&run(g, m, k, n, la, lb)), one, "{m}x{k}x{n}");
                    }
                }
            }
        }
    }

    #[test]
    fn empty_products_leave_c_untouched() {
        let g = FastGemm::new(2).unwrap();
        let mut c = vec![f32::NAN, -0.0, 1.5];
        g.gemm_acc(
            3,
            0,
            1,
            &[],
            Layout::RowMajor,
            &[],
            Layout::ColMajor,
            &mut c,
        );
        assert_eq!(bits(&c), bits(&[f32::NAN, -0.0, 1.5]));
        g.gemm_acc(
            0,
            4,
            5,
            &[],
            Layout::RowMajor,
            &[0.0; 20],
            Layout::RowMajor,
            &mut [],
        );
        g.gemm_acc(
            4,
            5,
            0,
            &[0.0; 20],
            Layout::ColMajor,
            &[],
            Layout::RowMajor,
            &mut [],
        );
    }

    #[test]
    fn one_tile_per_thread_rows_first() {
        let two = FastGemm::new(2).unwrap();
        assert_eq!(two.tiles(32, 2046), (32, 1056));
        assert_eq!(two.tiles(2048, 128), (1056, 128));
        assert_eq!(FastGemm::new(1).unwrap().tiles(2048, 128), (2064, 128));
    }

    #[test]
    #[should_panic(expected = "lengths")]
    fn wrong_lengths_panic() {
        FastGemm::new(1).unwrap().gemm_acc(
            2,
            2,
            2,
            &[0.0; 3],
            Layout::RowMajor,
            &[0.0; 4],
            Layout::RowMajor,
            &mut [0.0; 4],
        );
    }
}

#[cfg(test)]
mod exec_tests {
    use super::*;
    use kernels::lrn::{lrn_backward_f32, lrn_f32, Lrn};
    use kernels::rng::Rng;
    use kernels::Portable;

    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut rng = Rng::new(seed, 0);
        (0..n).map(|_| rng.next_f32() * 4.0 - 2.0).collect()
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn row_kernels_give_the_portable_bits_for_any_thread_count() {
        // Reference: the portable backend's single call. 37 rows of 19 channels: chunks of
        // 37, 19 + 18 and 13 + 13 + 11 rows.
        let g = Lrn::new(19, 4, 1.0, 0.5, 0.75).unwrap();
        let (rows, c) = (37, 19);
        let (x, dy) = (values(rows * c, 1), values(rows * c, 2));
        let kernel = |r: usize, x: &[f32], y: &mut [f32]| lrn_f32(&g, r, x, y);
        let kernel2 =
            |r: usize, x: &[f32], dy: &[f32], dx: &mut [f32]| lrn_backward_f32(&g, r, x, dy, dx);
        let mut want = vec![f32::NAN; rows * c];
        Portable
            .map_rows(rows, (&x, c), (&mut want, c), &kernel)
            .unwrap();
        let mut want2 = vec![f32::NAN; rows * c];
        Portable
            .map_rows2(rows, (&x, c), (&dy, c), (&mut want2, c), &kernel2)
            .unwrap();
        for threads in 1..=3 {
            let fast = FastGemm::new(threads).unwrap();
            let mut got = vec![f32::NAN; rows * c];
            fast.map_rows(rows, (&x, c), (&mut got, c), &kernel)
                .unwrap();
            assert_eq!(bits(&got), bits(&want), "{threads} threads");
            let mut got2 = vec![f32::NAN; rows * c];
            fast.map_rows2(rows, (&x, c), (&dy, c), (&mut got2, c), &kernel2)
                .unwrap();
            assert_eq!(bits(&got2), bits(&want2), "{threads} threads");
        }
    }

    #[test]
    fn a_wrong_length_reaches_the_kernel_as_its_error() {
        let g = Lrn::new(4, 1, 1.0, 0.5, 0.75).unwrap();
        let fast = FastGemm::new(2).unwrap();
        let mut y = vec![0.0; 7];
        let r = fast.map_rows(2, (&[0.0; 8], 4), (&mut y, 4), &|r, x, y| {
            lrn_f32(&g, r, x, y)
        });
        assert_eq!(
            r,
            Err(KernelError::Length {
                arg: "output",
                expected: 8,
                got: 7
            })
        );
    }
}
