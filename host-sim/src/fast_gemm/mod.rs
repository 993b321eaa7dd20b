//! The host's fast [`Gemm`]: SIMD micro-kernels (AVX-512, or AVX2 + FMA, chosen at run time,
//! with a plain-Rust fallback) over one tile of `C` per thread, the tiles spread over a rayon
//! pool.
//!
//! Every variant sums each element of `C` as one chain of fused multiply-adds over `k` in order,
//! starting from `C` (see `kernel.rs`), so the bits depend neither on the thread count nor on the
//! tiling nor on the instruction set — the tests hold this to the bit. They differ from
//! [`kernels::Portable`]'s (FMA rounds once per product-and-sum), within the golden tests'
//! tolerances. This module holds SIMD intrinsics and the tiles' shared pointer into `C`; the
//! crate's other `unsafe` code is `winograd::isa`'s one call of a target-feature function, the
//! AVX-512 LRN (`lrn_avx512`), the max-pool's vector module (`pool_fast`) and the memory
//! hints (`stream`: non-temporal copies and prefetches).
#![allow(unsafe_code)]

mod kernel;
mod tile;

pub use kernel::Isa;
pub(crate) use tile::at_least;

use kernels::activation::relu_backward_f32;
use kernels::conv2d::Conv2d;
use kernels::gemm::{LaneKernel, RowFill, RowKernel, RowKernel2};
use kernels::lrn::{lrn_backward_factored_f32, Lrn};
#[cfg(target_arch = "x86_64")]
use kernels::pool::Pool2d;
use kernels::{Exec, Gemm, KernelError, LayerAlgorithms, Layout};
use rayon::prelude::*;
use std::sync::Mutex;

use crate::im2col_conv::{self, Frames};
use crate::lrn_avx512;
#[cfg(target_arch = "x86_64")]
use crate::pool_fast;
use crate::winograd::Winograd;

/// Row tiles are multiples of this, a multiple of every micro-kernel height (8, 6, 4), so
/// threads' tiles cut no micro-tile (only `C`'s own edges take the slower edge path). The bits
/// do not depend on the tiling either way.
pub const ROW_ALIGN: usize = 24;
/// Column tiles are multiples of this, a multiple of every micro-kernel width (32, 16, 8).
pub const COL_ALIGN: usize = 96;
/// Element-wise chunks ([`Exec::map_lanes`]) are multiples of this many `f32`s (a 64-byte cache
/// line), so every chunk but the last runs its vector loop without a scalar tail.
const LANE_ALIGN: usize = 16;
/// Below this many multiply-adds the tiles run on the calling thread: waking the pool would
/// cost more than the product. (The tiling, hence the bits, is unchanged.)
const PARALLEL_MIN_WORK: usize = 1 << 16;

/// A multi-threaded, SIMD `C += A·B` (see the module's documentation).
#[derive(Debug)]
pub struct FastGemm {
    pool: rayon::ThreadPool,
    isa: Isa,
    /// The 3×3 stride-1 convolutions' algorithm; `None` leaves every layer to the kernels'
    /// own code (see [`FastGemm::without_own_layers`]).
    winograd: Option<Winograd>,
    /// The per-image filter gradients of [`im2col_conv::backward_filter`] (reused: no
    /// allocation per step).
    partials: Mutex<Vec<f32>>,
}

impl FastGemm {
    /// A GEMM that runs on its own pool of `threads` worker threads.
    ///
    /// # Errors
    /// The pool's error if the operating system refuses to start the threads. `threads == 0`
    /// lets rayon choose (one per core).
    pub fn new(threads: usize) -> Result<Self, rayon::ThreadPoolBuildError> {
        Self::with_isa(threads, Isa::detect())
    }

    /// As [`FastGemm::new`], with the micro-kernel of `isa` (tests and benches compare them).
    ///
    /// # Errors
    /// As [`FastGemm::new`].
    ///
    /// # Panics
    /// If this CPU cannot run `isa` (it is not in [`Isa::available`]).
    pub fn with_isa(threads: usize, isa: Isa) -> Result<Self, rayon::ThreadPoolBuildError> {
        assert!(
            Isa::available().contains(&isa),
            "this CPU cannot run the {isa:?} micro-kernel"
        );
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("fast-gemm-{i}"))
            .build()?;
        Ok(Self {
            pool,
            isa,
            winograd: Some(Winograd::default()),
            partials: Mutex::new(Vec::new()),
        })
    }

    /// This GEMM without its own layer algorithms (Winograd and im2col units for the
    /// convolutions, LRN's factored gradient): every layer runs the kernels' own code, only
    /// the products are this GEMM's (tests and benches compare the two).
    #[must_use]
    pub fn without_own_layers(self) -> Self {
        Self {
            winograd: None,
            ..self
        }
    }

    /// The worker pool (the Winograd convolutions spread their units over it).
    pub(crate) fn pool(&self) -> &rayon::ThreadPool {
        &self.pool
    }

    /// The micro-kernel's instruction set.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// The number of worker threads.
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// The tile size `(rows, cols)` for an `m × n` product: one row block per thread, or one
    /// column block per thread. A row split makes every thread pack all of `B` (`k·n`), a column
    /// split all of `A` (`m·k`), so rows are split when `m ≥ n` (or the columns are too few to
    /// share), columns otherwise. Sides are rounded up to multiples of [`ROW_ALIGN`] and
    /// [`COL_ALIGN`].
    pub fn tiles(&self, m: usize, n: usize) -> (usize, usize) {
        let t = self.threads().max(1);
        let split = |x: usize, align: usize| x.div_ceil(t).div_ceil(align).max(1) * align;
        let (rows_shared, cols_shared) = (m >= ROW_ALIGN * t, n >= COL_ALIGN * t);
        if rows_shared && (m >= n || !cols_shared) {
            (split(m, ROW_ALIGN), n.max(1))
        } else if cols_shared {
            (m.max(1), split(n, COL_ALIGN))
        } else {
            (m.max(1), n.max(1))
        }
    }
}

/// Images per unit of work when a layer's batch is split into units of whole images that each
/// run on one pool thread: about `target_rows` rows (`rows_per_image` each), and a number of
/// units the `threads` share evenly.
pub(crate) fn images_per_unit(
    batch: usize,
    rows_per_image: usize,
    target_rows: usize,
    threads: usize,
) -> usize {
    let threads = threads.max(1);
    let units = (batch * rows_per_image).div_ceil(target_rows.max(1));
    batch.div_ceil(units.div_ceil(threads) * threads).max(1)
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

/// Row-independent kernels (LRN, max-pool, im2col, the convolutions' fills, ReLU) run as one
/// chunk of rows per thread; every row is computed alone, so the bits do not depend on the split.
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

    fn fill_rows(&self, rows: usize, output: (&mut [f32], usize), f: &RowFill<'_>) {
        let chunk = self.row_chunk(rows);
        let (out, row) = output;
        // Small fills (and lengths that break the contract) stay on the calling thread.
        if chunk >= rows
            || out.len() < PARALLEL_MIN_WORK
            || rows.checked_mul(row) != Some(out.len())
        {
            return f(0, out);
        }
        self.pool.install(|| {
            out.par_chunks_mut(chunk * row)
                .enumerate()
                .for_each(|(i, part)| f(i * chunk, part));
        });
    }

    fn map_lanes(&self, read: &[&[f32]], write: &mut [&mut [f32]], f: &LaneKernel<'_>) {
        let Some(len) = write.first().map(|lane| lane.len()) else {
            return f(read, write);
        };
        let chunk = len
            .div_ceil(self.threads().max(1))
            .next_multiple_of(LANE_ALIGN);
        let mut lens = read
            .iter()
            .map(|l| l.len())
            .chain(write.iter().map(|l| l.len()));
        // Small passes (and lanes that break the contract) stay on the calling thread.
        if chunk >= len || len < PARALLEL_MIN_WORK || lens.any(|l| l != len) {
            return f(read, write);
        }
        // Chunk `c` of every lane, gathered: a few small vectors a call, against millions of
        // elements.
        let chunks = len.div_ceil(chunk);
        let mut reads: Vec<Vec<&[f32]>> = (0..chunks).map(|_| Vec::new()).collect();
        let mut writes: Vec<Vec<&mut [f32]>> = (0..chunks).map(|_| Vec::new()).collect();
        for lane in read {
            for (c, part) in reads.iter_mut().zip(lane.chunks(chunk)) {
                c.push(part);
            }
        }
        for lane in write.iter_mut() {
            for (c, part) in writes.iter_mut().zip(lane.chunks_mut(chunk)) {
                c.push(part);
            }
        }
        self.pool.install(|| {
            reads
                .into_par_iter()
                .zip(writes)
                .for_each(|(read, mut write)| f(&read, &mut write));
        });
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
    /// If a slice length disagrees with `m`, `k` and `n`.
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
        self.product(m, k, n, a, a_layout, b, b_layout, c, true);
    }
}

impl FastGemm {
    /// [`Gemm::gemm_acc`] on the calling thread only, with the same bits (a Winograd unit's
    /// products, which already run one per pool thread).
    ///
    /// # Panics
    /// If a slice length disagrees with `m`, `k` and `n`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn gemm_acc_here(
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
        self.product(m, k, n, a, a_layout, b, b_layout, c, false);
    }

    /// A filter gradient as units of whole images (see [`crate::im2col_conv`]), unless
    /// [`FastGemm::without_own_layers`] asked for the kernels' own loops; `false` when not taken.
    fn units_backward_filter(
        &self,
        g: &Conv2d,
        batch: usize,
        input: Frames<'_>,
        d_output: &[f32],
        d_filter: &mut [f32],
    ) -> bool {
        if self.winograd.is_none() {
            return false;
        }
        // Scratch only: a panic elsewhere leaves nothing in it worth refusing.
        let mut partials = self
            .partials
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        im2col_conv::backward_filter(self, g, batch, input, d_output, &mut partials, d_filter)
            .is_ok()
    }

    /// A forward convolution as units of whole images (see [`crate::im2col_conv`]), unless
    /// [`FastGemm::without_own_layers`] asked for the kernels' own loops; `false` when not taken.
    fn units_forward(
        &self,
        g: &Conv2d,
        batch: usize,
        input: Frames<'_>,
        (filter, bias, relu): (&[f32], &[f32], bool),
        output: &mut [f32],
    ) -> bool {
        self.winograd.is_some()
            && im2col_conv::forward(self, g, batch, input, filter, bias, relu, output).is_ok()
    }

    /// `C[.., col0 .. col0 + n] += A·B` on the calling thread, where `C` has `m` rows of
    /// `ldc` values (its other columns untouched): one column block of a wider matrix. Same
    /// bits as [`Gemm::gemm_acc`] into a dense `C`.
    ///
    /// # Panics
    /// If `a` or `b` disagrees with `m`, `k` and `n`, if `col0 + n > ldc`, or if `c` is
    /// shorter than `(m − 1)·ldc + col0 + n`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn gemm_acc_columns_here(
        &self,
        (m, k, n): (usize, usize, usize),
        (a, a_layout): (&[f32], Layout),
        (b, b_layout): (&[f32], Layout),
        c: &mut [f32],
        ldc: usize,
        col0: usize,
    ) {
        assert!(
            m.checked_mul(k) == Some(a.len()) && k.checked_mul(n) == Some(b.len()),
            "gemm_acc_columns_here: A or B disagrees with m, k, n"
        );
        let end = m
            .checked_sub(1)
            .and_then(|r| r.checked_mul(ldc))
            .and_then(|r| r.checked_add(col0 + n));
        assert!(
            col0 + n <= ldc && end.is_some_and(|end| end <= c.len()),
            "gemm_acc_columns_here: C is too short for its column block"
        );
        if m == 0 || n == 0 || k == 0 {
            return;
        }
        let (a, b) = (
            tile::View::dense(a, a_layout, m, k),
            tile::View::dense(b, b_layout, k, n),
        );
        // SAFETY: every cell (i, j), i < m, j < n, is c[i·ldc + col0 + j], within `c` (asserted
        // above); `c` is borrowed mutably for the call, which runs on this thread alone.
        unsafe {
            let c = c.as_mut_ptr().add(col0);
            run_tile(self.isa, k, a, (0, m), b, (0, n), c, ldc);
        }
    }

    /// `C += A·B`, its tiles over the pool when `parallel` (and the product is big enough).
    #[allow(clippy::too_many_arguments)]
    fn product(
        &self,
        m: usize,
        k: usize,
        n: usize,
        a: &[f32],
        a_layout: Layout,
        b: &[f32],
        b_layout: Layout,
        c: &mut [f32],
        parallel: bool,
    ) {
        kernels::gemm::assert_gemm_lengths(m, k, n, a.len(), b.len(), c.len());
        if m == 0 || n == 0 || k == 0 {
            return; // C += nothing: leave every bit of C as it is.
        }
        let (a, b) = (
            tile::View::dense(a, a_layout, m, k),
            tile::View::dense(b, b_layout, k, n),
        );
        let (rows, cols) = if parallel { self.tiles(m, n) } else { (m, n) };
        let (row_tiles, col_tiles) = (m.div_ceil(rows), n.div_ceil(cols));
        let c_ptr = SharedC(c.as_mut_ptr());
        let isa = self.isa;
        let tile = |t: usize| {
            let (r0, c0) = ((t / col_tiles) * rows, (t % col_tiles) * cols);
            let (rows, cols) = ((r0, rows.min(m - r0)), (c0, cols.min(n - c0)));
            let c = c_ptr.get();
            // SAFETY: the tiles partition C (m × n, row stride n), so each call's cells are its
            // own, and `c` stays mutably borrowed until every tile is done (the pool's `install`
            // and the sequential loop both return only then).
            unsafe { run_tile(isa, k, a, rows, b, cols, c, n) }
        };
        let tiles = row_tiles * col_tiles;
        let work = m.saturating_mul(k).saturating_mul(n);
        if !parallel || tiles == 1 || work < PARALLEL_MIN_WORK || self.threads() == 1 {
            (0..tiles).for_each(tile);
        } else {
            self.pool
                .install(|| (0..tiles).into_par_iter().for_each(tile));
        }
    }
}

/// [`tile::tile`] with the micro-kernel of `isa` (one of [`Isa::available`], checked when the
/// [`FastGemm`] was built).
///
/// # Safety
/// As [`tile::tile`]: the tile's cells of `c` (row stride `rsc`) are valid and this call's own.
#[allow(clippy::too_many_arguments)]
unsafe fn run_tile(
    isa: Isa,
    k: usize,
    a: tile::View<'_>,
    rows: (usize, usize),
    b: tile::View<'_>,
    cols: (usize, usize),
    c: *mut f32,
    rsc: usize,
) {
    // SAFETY: the caller's promise, and `isa` runs on this CPU (`FastGemm::with_isa` checked).
    unsafe {
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => tile::tile::<kernel::Avx512>(k, a, rows, b, cols, c, rsc),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma => tile::tile::<kernel::Avx2Fma>(k, a, rows, b, cols, c, rsc),
            _ => tile::tile::<kernel::Generic>(k, a, rows, b, cols, c, rsc),
        }
    }
}

/// 3×3 stride-1 convolutions with enough channels run as Winograd transforms (see
/// [`crate::winograd`]), the other convolutions' forward pass and filter gradient as im2col
/// units of whole images (see [`crate::im2col_conv`]), LRN's gradient with `x[k]` factored out of its window sums,
/// max-pool as whole images in channel blocks (see `pool_fast`); nothing after
/// [`FastGemm::without_own_layers`].
impl LayerAlgorithms for FastGemm {
    fn conv_forward(
        &self,
        g: &Conv2d,
        batch: usize,
        input: &[f32],
        filter: &[f32],
        bias: &[f32],
        relu: bool,
        output: &mut [f32],
    ) -> bool {
        let by_winograd = self.winograd.as_ref();
        by_winograd.is_some_and(|w| w.forward(self, g, input, filter, bias, relu, output))
            || self.units_forward(g, batch, Frames::F32(input), (filter, bias, relu), output)
    }

    fn conv_forward_u8(
        &self,
        g: &Conv2d,
        batch: usize,
        input: &[u8],
        filter: &[f32],
        bias: &[f32],
        relu: bool,
        output: &mut [f32],
    ) -> bool {
        self.units_forward(g, batch, Frames::U8(input), (filter, bias, relu), output)
    }

    fn conv_backward_input(
        &self,
        g: &Conv2d,
        _batch: usize,
        d_output: &[f32],
        filter: &[f32],
        d_input: &mut [f32],
    ) -> bool {
        self.winograd
            .as_ref()
            .is_some_and(|w| w.backward_input(self, g, d_output, filter, d_input))
    }

    fn conv_backward_filter(
        &self,
        g: &Conv2d,
        batch: usize,
        input: &[f32],
        d_output: &[f32],
        d_filter: &mut [f32],
    ) -> bool {
        let by_winograd = self.winograd.as_ref();
        by_winograd.is_some_and(|w| w.backward_filter(self, g, batch, input, d_output, d_filter))
            || self.units_backward_filter(g, batch, Frames::F32(input), d_output, d_filter)
    }

    fn conv_backward_filter_u8(
        &self,
        g: &Conv2d,
        batch: usize,
        input: &[u8],
        d_output: &[f32],
        d_filter: &mut [f32],
    ) -> bool {
        self.units_backward_filter(g, batch, Frames::U8(input), d_output, d_filter)
    }

    /// [`lrn_avx512::forward`] over the threads (every pixel alone) where it takes the layer:
    /// the kernels' bits, faster.
    fn lrn_forward(&self, g: &Lrn, rows: usize, input: &[f32], output: &mut [f32]) -> bool {
        let c = g.channels();
        self.winograd.is_some()
            && self.isa == Isa::Avx512
            && lrn_avx512::supports(g)
            && self
                .map_rows(rows, (input, c), (output, c), &|_, x, y| {
                    lrn_avx512::forward(g, x, y);
                    Ok(())
                })
                .is_ok()
    }

    /// [`lrn_backward_factored_f32`] (then [`relu_backward_f32`] if `relu`) over the threads
    /// (every pixel alone), in AVX-512 ([`lrn_avx512::backward`], the same bits) where that
    /// takes the layer.
    fn lrn_backward(
        &self,
        g: &Lrn,
        rows: usize,
        input: &[f32],
        d_output: &[f32],
        relu: bool,
        d_input: &mut [f32],
    ) -> bool {
        let c = g.channels();
        let simd = self.isa == Isa::Avx512 && lrn_avx512::supports(g);
        self.winograd.is_some()
            && self
                .map_rows2(
                    rows,
                    (input, c),
                    (d_output, c),
                    (d_input, c),
                    &|r, x, dy, dx| {
                        if simd {
                            lrn_avx512::backward(g, x, dy, relu, dx);
                            return Ok(());
                        }
                        lrn_backward_factored_f32(g, r, x, dy, dx)?;
                        if relu {
                            relu_backward_f32(x, dx)?;
                        }
                        Ok(())
                    },
                )
                .is_ok()
    }

    /// The host's max-pool (`pool_fast`, x86-64 only): whole images over the threads, 16
    /// channels a vector, each output line written once past the caches.
    #[cfg(target_arch = "x86_64")]
    fn pool_forward(&self, g: &Pool2d, _batch: usize, input: &[f32], output: &mut [f32]) -> bool {
        let takes = self.winograd.is_some() && pool_fast::takes(self.isa, g);
        if takes {
            pool_fast::forward(self.pool(), self.isa, g, input, output);
        }
        takes
    }

    /// The host's max-pool gradient (`pool_fast`, x86-64 only): gathered per input cell,
    /// each written once past the caches, without zeroing `d_input` first.
    #[cfg(target_arch = "x86_64")]
    fn pool_backward(
        &self,
        g: &Pool2d,
        _batch: usize,
        input: &[f32],
        d_output: &[f32],
        d_input: &mut [f32],
    ) -> bool {
        let takes = self.winograd.is_some() && pool_fast::takes(self.isa, g);
        if takes {
            pool_fast::backward(self.pool(), self.isa, g, input, d_output, d_input);
        }
        takes
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
    fn every_micro_kernel_matches_the_reference_over_awkward_shapes_and_all_layouts() {
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
            (9, 600, 40),  // k past one k-block (KC)
            (11, 3, 1100), // columns past one packed block (NC)
        ];
        let sweep =
            (0..20).flat_map(|m| (0..20).flat_map(move |n| [0, 1, 5, 19].map(|k| (m, k, n))));
        for isa in Isa::available() {
            let g = FastGemm::with_isa(2, isa).unwrap();
            for (m, k, n) in shapes.into_iter().chain(sweep.clone()) {
                for la in LAYOUTS {
                    for lb in LAYOUTS {
                        let what = format!("{isa:?} {m}x{k}x{n} {la:?} {lb:?}");
                        assert_close(
                            &run(&g, m, k, n, la, lb),
                            &reference(m, k, n, la, lb),
                            k,
                            &what,
                        );
                    }
                }
            }
        }
        // The portable GEMM meets the same reference, so the two agree to 2×tol.
        for (m, k, n) in shapes {
            assert_close(
                &run(&Portable, m, k, n, LAYOUTS[0], LAYOUTS[1]),
                &reference(m, k, n, LAYOUTS[0], LAYOUTS[1]),
                k,
                "Portable",
            );
        }
    }

    #[test]
    fn every_micro_kernel_gives_the_generic_bits() {
        let generic = FastGemm::with_isa(1, Isa::Generic).unwrap();
        for isa in Isa::available() {
            let g = FastGemm::with_isa(2, isa).unwrap();
            for (m, k, n) in [
                (17, 257, 33),
                (100, 600, 70),
                (8, 1000, 1100),
                (1, 3, 1),
                (70, 300, 100),
            ] {
                for la in LAYOUTS {
                    for lb in LAYOUTS {
                        assert_eq!(
                            bits(&run(&g, m, k, n, la, lb)),
                            bits(&run(&generic, m, k, n, la, lb)),
                            "{isa:?} {m}x{k}x{n} {la:?} {lb:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_read_in_place_gives_the_packed_bits() {
        // The same matrix stored row-major and column-major must give the same bits. A is read
        // in place (its cut last strip packed), except a column-major A with m within a cache
        // line of a multiple of 1024 (1024, 2047), which is packed. Tall (several MC blocks, a
        // cut strip), a k past KC, and short.
        for isa in Isa::available() {
            let g = FastGemm::with_isa(2, isa).unwrap();
            for (m, k, n) in [
                (403, 300, 70),
                (1030, 75, 40),
                (13, 600, 33),
                (7, 5, 3),
                (1024, 40, 40),
                (2047, 9, 33),
            ] {
                let rows = values(m * k, 1);
                let mut columns = vec![0.0; m * k];
                for i in 0..m {
                    for p in 0..k {
                        columns[p * m + i] = rows[i * k + p];
                    }
                }
                let b = values(k * n, 2);
                let product = |a: &[f32], la: Layout| {
                    let mut c = values(m * n, 3);
                    g.gemm_acc(m, k, n, a, la, &b, Layout::RowMajor, &mut c);
                    bits(&c)
                };
                assert_eq!(
                    product(&rows, Layout::RowMajor),
                    product(&columns, Layout::ColMajor),
                    "{isa:?} {m}x{k}x{n}"
                );
            }
        }
    }

    #[test]
    fn a_nan_in_c_stays_in_its_cell() {
        // Edge tiles run on copies and packing pads with zeros: nothing leaks between cells.
        let (m, k, n) = (13, 7, 45);
        for isa in Isa::available() {
            let g = FastGemm::with_isa(2, isa).unwrap();
            for poisoned in [0, 12 * n + 44, 5 * n + 33, 8 * n + 40] {
                let mut c = values(m * n, 3);
                c[poisoned] = f32::NAN;
                g.gemm_acc(
                    m,
                    k,
                    n,
                    &values(m * k, 1),
                    Layout::RowMajor,
                    &values(k * n, 2),
                    Layout::RowMajor,
                    &mut c,
                );
                for (i, x) in c.iter().enumerate() {
                    assert_eq!(x.is_nan(), i == poisoned, "{isa:?}: cell {i} of {poisoned}");
                }
            }
        }
    }

    #[test]
    fn bits_do_not_depend_on_the_thread_count() {
        let gemms: Vec<FastGemm> = [1, 2, 3].map(|t| FastGemm::new(t).unwrap()).into();
        // Tiles cut both the rows and the columns in different places for 1, 2 and 3 threads.
        assert_eq!(
            gemms.iter().map(FastGemm::threads).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        // Row tiles; column tiles (small m, wide n); k past a k-block; one tile; edges.
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
    fn one_tile_per_thread_on_the_side_that_copies_less() {
        let two = FastGemm::new(2).unwrap();
        // A dense layer at batch 32: columns; a conv tile: rows (1024 → 1032 = 43 · 24).
        assert_eq!(two.tiles(32, 2046), (32, 1056));
        assert_eq!(two.tiles(2048, 128), (1032, 128));
        // conv d_input (n = patch > m): columns; too small to share: one tile.
        assert_eq!(two.tiles(400, 2304), (400, 1152));
        assert_eq!(two.tiles(40, 100), (40, 100));
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
    use kernels::conv2d::{
        conv2d_backward_filter_f32, conv2d_backward_input_f32, conv2d_f32, Conv2d,
    };
    use kernels::lrn::{lrn_backward_f32, lrn_f32, Lrn};
    use kernels::rng::Rng;
    use kernels::Portable;
    use kernels::{Hwc, Padding};

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
    fn fills_cover_every_row_once_with_its_index() {
        // 1000 rows of 97 (above the inline threshold, so the pool splits them): each row
        // filled with its own index, as im2col uses `first` to find its output pixels.
        let (rows, row) = (1000, 97);
        assert!(rows * row >= PARALLEL_MIN_WORK);
        for threads in 1..=3 {
            let fast = FastGemm::new(threads).unwrap();
            let mut out = vec![f32::NAN; rows * row];
            fast.fill_rows(rows, (&mut out, row), &|first, chunk| {
                for (i, r) in chunk.chunks_exact_mut(row).enumerate() {
                    r.fill((first + i) as f32);
                }
            });
            for (i, r) in out.chunks_exact(row).enumerate() {
                assert!(
                    r.iter().all(|&v| v == i as f32),
                    "{threads} threads, row {i}"
                );
            }
        }
    }

    #[test]
    fn convolutions_give_the_same_bits_for_any_thread_count() {
        // Reference: the one-thread run. A tile of 576 patches of 144 (above the inline
        // threshold), so im2col and the fills are split between threads.
        let g = Conv2d::new(Hwc::new(12, 12, 16), [3, 3], 8, [1, 1], Padding::Same, 1024).unwrap();
        let batch = 4;
        let x = values(batch * g.input_len(), 3);
        let (w, b) = (values(g.filter_len(), 4), values(g.bias_len(), 5));
        let dy = values(batch * g.output_len(), 6);
        let run = |threads| {
            let fast = FastGemm::new(threads).unwrap();
            let mut scratch = vec![f32::NAN; g.scratch_len()];
            let mut y = vec![f32::NAN; batch * g.output_len()];
            conv2d_f32(&g, &fast, batch, &x, &w, &b, &mut scratch, &mut y).unwrap();
            let mut dw = vec![0.0; g.filter_len()];
            conv2d_backward_filter_f32(&g, &fast, batch, &x, &dy, &mut scratch, &mut dw).unwrap();
            let mut dx = vec![f32::NAN; batch * g.input_len()];
            conv2d_backward_input_f32(&g, &fast, batch, &dy, &w, &mut scratch, &mut dx).unwrap();
            (bits(&y), bits(&dw), bits(&dx))
        };
        let want = run(1);
        for threads in 2..=3 {
            assert!(run(threads) == want, "{threads} threads");
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
