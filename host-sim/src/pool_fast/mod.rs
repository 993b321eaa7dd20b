//! The host's max-pool, forward and backward: the bits of [`kernels::pool`] (max-pool is exact,
//! so "the same result" means the same arg-max), at memory speed.
//!
//! Both passes run whole images as units over the pool's threads (images never share a value,
//! so the bits do not depend on the split). A window's running maximum stays in vector
//! registers, 4 × 16 channels at a time ([`simd`]: AVX-512 or AVX2, chosen at run time; the
//! kernels' loops keep it in memory, where it compiles to masked stores that stall the next
//! load), and each window cell's channels are read in one sweep. The arg-max rule is the
//! kernels': each window is scanned in row-major order from its first input cell, and a cell
//! replaces the maximum only when `maximum < cell` (ties → the first cell, a NaN only as the
//! window's first cell).
//!
//! The gradient is gathered instead of scattered: a first sweep writes every window's arg-max
//! (an input pixel per channel, one image's worth in a per-thread scratch), a second one
//! computes each `d_input` cell once, as the sum of the gradients of the windows covering it
//! that chose it, in ascending output order from `0.0` — exactly the sum the kernels'
//! zero-fill-then-scatter builds, without the zeroing pass and the read-modify-write of every
//! cell. Results are built a row at a time in a cache-resident scratch and copied out with
//! non-temporal stores ([`crate::stream`]): a plain store would first fetch each output line from
//! memory, a third more traffic for the backward pass.

mod simd;

use std::cell::RefCell;

use kernels::pool::Pool2d;
use rayon::prelude::*;

use crate::fast_gemm::Isa;
use crate::stream;
use simd::{Lanes, One};

/// Whether this module computes `g` with `isa`: it needs AVX2 or AVX-512 (elsewhere the
/// kernels' own loops run), and an image's pixels numbered in `u32` (the arg-max is stored as
/// one per channel).
pub(crate) fn takes(isa: Isa, g: &Pool2d) -> bool {
    isa != Isa::Generic && u32::try_from(g.input().pixels()).is_ok()
}

/// Runs `f` with the vector variant of `isa`, compiled for its features.
///
/// # Panics
/// If `isa` is [`Isa::Generic`] or this CPU lacks its features (see [`takes`]).
macro_rules! with_lanes {
    ($isa:expr, |$v:ident| $body:expr) => {
        match $isa {
            Isa::Avx512 => simd::Avx512::new()
                .expect("AVX-512F detected")
                .run(|$v| $body),
            Isa::Avx2Fma => simd::Avx2::new().expect("AVX2 detected").run(|$v| $body),
            _ => unreachable!("the pool declines {:?}", $isa),
        }
    };
}

/// `output` = the max-pool of `input` (whole examples of `g`), one image per unit of work on
/// `pool`, as [`kernels::pool::max_pool_f32`].
///
/// The caller has checked the lengths against `g` and the batch (see
/// [`kernels::LayerAlgorithms::pool_forward`]) and that the module [`takes`] `g`.
pub(crate) fn forward(
    pool: &rayon::ThreadPool,
    isa: Isa,
    g: &Pool2d,
    input: &[f32],
    output: &mut [f32],
) {
    let (i, o) = (g.input_len(), g.output_len());
    pool.install(|| {
        output
            .par_chunks_mut(o)
            .zip(input.par_chunks(i))
            .for_each(|(y, x)| {
                with_scratch(g, |s| {
                    with_lanes!(isa, |v| forward_image(v, g, x, y, &mut s.output_row));
                });
            });
    });
}

/// `d_input` = max-pool's input gradient (whole examples of `g`), one image per unit of work
/// on `pool`, as [`kernels::pool::max_pool_backward_f32`].
///
/// The caller has checked the lengths against `g` and the batch (see
/// [`kernels::LayerAlgorithms::pool_backward`]) and that the module [`takes`] `g`.
pub(crate) fn backward(
    pool: &rayon::ThreadPool,
    isa: Isa,
    g: &Pool2d,
    input: &[f32],
    d_output: &[f32],
    d_input: &mut [f32],
) {
    let (i, o) = (g.input_len(), g.output_len());
    pool.install(|| {
        d_input
            .par_chunks_mut(i)
            .zip(input.par_chunks(i))
            .zip(d_output.par_chunks(o))
            .for_each(|((dx, x), dy)| {
                with_scratch(g, |s| {
                    with_lanes!(isa, |v| backward_image(v, g, (x, dy), dx, s));
                });
            });
    });
}

/// A worker thread's buffers, sized for the largest layer seen (grown once, then reused).
#[derive(Default)]
struct Scratch {
    /// One image's arg-max: an input pixel per output value.
    arg: Vec<u32>,
    /// One output row, streamed to `output` when complete.
    output_row: Vec<f32>,
    /// One input row of the gradient, streamed to `d_input` when complete.
    input_row: Vec<f32>,
    /// [`Pool2d::covering`] of every input column (worked out once: it divides).
    covering_cols: Vec<(usize, usize)>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

/// Runs `f` on this thread's [`Scratch`], its buffers cut to `g`'s sizes.
fn with_scratch(g: &Pool2d, f: impl FnOnce(&mut Scratch)) {
    let (inp, out) = (g.input(), g.output());
    SCRATCH.with_borrow_mut(|s| {
        s.arg.resize(g.output_len(), 0);
        s.output_row.resize(out.w * out.c, 0.0);
        s.input_row.resize(inp.w * inp.c, 0.0);
        s.covering_cols.clear();
        s.covering_cols.extend((0..inp.w).map(|w| g.covering(1, w)));
        f(s);
    });
}

/// Vectors per group of channels a window sweep keeps in registers: 4 × 16 channels, 4
/// AVX-512 registers (8 AVX2 ones) of maxima and as many of arg-max pixels. (A running maximum
/// kept in memory instead compiles to masked stores, which stall the next load of it.)
const GROUP: usize = 4;

/// Runs `$body` for channel blocks `$ch..$ch + $k · N` of `$c` channels with `$lanes` of
/// `N` channels: groups of [`GROUP`] vectors of `$v`, then single vectors, then single
/// channels ([`One`]). `$k` is a `const` the body may pass as a const generic.
macro_rules! by_groups {
    ($v:expr, $c:expr, |$lanes:ident, $k:ident, $ch:ident| $body:expr) => {{
        let (v, c) = ($v, $c);
        let n = lanes_of(v);
        let mut $ch = 0;
        {
            const $k: usize = GROUP;
            let $lanes = v;
            while $ch + $k * n <= c {
                $body;
                $ch += $k * n;
            }
        }
        {
            const $k: usize = 1;
            let $lanes = v;
            while $ch + n <= c {
                $body;
                $ch += n;
            }
        }
        {
            const $k: usize = 1;
            let $lanes = One;
            while $ch < c {
                $body;
                $ch += 1;
            }
        }
    }};
}

/// `V::N` of a value.
#[inline(always)]
fn lanes_of<V: Lanes>(_: V) -> usize {
    V::N
}

/// One image's `y`, an output row at a time built in `row` and streamed to its place.
#[inline(always)]
fn forward_image<V: Lanes>(v: V, g: &Pool2d, x: &[f32], y: &mut [f32], row: &mut [f32]) {
    let (inp, out) = (g.input(), g.output());
    let c = inp.c;
    for (oh, y) in y.chunks_exact_mut(out.w * c).enumerate() {
        let rows = g.span(0, oh);
        for ow in 0..out.w {
            let cols = g.span(1, ow);
            let cell = &mut row[ow * c..][..c];
            let window = Window::new(x, inp.w, c, rows, cols);
            window.prefetch_below(g, oh);
            by_groups!(v, c, |lanes, K, ch| {
                let (best, _) = window.arg_max::<_, K>(lanes, ch);
                for (k, b) in best.into_iter().enumerate() {
                    lanes.store(&mut cell[ch + k * lanes_of(lanes)..], b);
                }
            });
        }
        stream::copy(y, row);
    }
}

/// Output row `oh`'s arg-max pixels (`h · width + w`, which [`takes`] keeps in `u32`) of one
/// image `x`, laid out as the output row.
#[inline(always)]
fn arg_max_row<V: Lanes>(v: V, g: &Pool2d, x: &[f32], oh: usize, arg: &mut [u32]) {
    let (inp, out) = (g.input(), g.output());
    let c = inp.c;
    let rows = g.span(0, oh);
    for ow in 0..out.w {
        let cols = g.span(1, ow);
        let arg = &mut arg[ow * c..][..c];
        let window = Window::new(x, inp.w, c, rows, cols);
        window.prefetch_below(g, oh);
        by_groups!(v, c, |lanes, K, ch| {
            let (_, at) = window.arg_max::<_, K>(lanes, ch);
            for (k, a) in at.into_iter().enumerate() {
                lanes.store_u(&mut arg[ch + k * lanes_of(lanes)..], a);
            }
        });
    }
}

/// One pooling window of one image.
#[derive(Clone, Copy)]
struct Window<'a> {
    /// The image.
    x: &'a [f32],
    /// Its width in pixels.
    width: usize,
    /// Its channels.
    c: usize,
    /// The input rows `[lo, hi)` the window covers.
    rows: (usize, usize),
    /// The input columns `[lo, hi)` the window covers.
    cols: (usize, usize),
}

impl<'a> Window<'a> {
    #[inline(always)]
    fn new(
        x: &'a [f32],
        width: usize,
        c: usize,
        rows: (usize, usize),
        cols: (usize, usize),
    ) -> Self {
        Self {
            x,
            width,
            c,
            rows,
            cols,
        }
    }

    /// Prefetches the cells of the window below (output row `oh + 1`, these columns) that
    /// this one does not cover: by the time the sweep gets there they are in the caches.
    #[inline(always)]
    fn prefetch_below(self, g: &Pool2d, oh: usize) {
        if oh + 1 < g.output().h {
            let (h0, h1) = g.span(0, oh + 1);
            let (w0, w1) = self.cols;
            for h in h0.max(self.rows.1)..h1 {
                stream::prefetch(
                    &self.x[(h * self.width + w0) * self.c..(h * self.width + w1) * self.c],
                );
            }
        }
    }

    /// The maximum and arg-max pixel of channels `ch..ch + K · N` under the module's rule, the
    /// window's cells in row-major order, each cell's channels read in one sweep. (The
    /// forward pass drops the pixels: the compiler removes their computation.)
    #[inline(always)]
    fn arg_max<V: Lanes, const K: usize>(self, v: V, ch: usize) -> ([V::F; K], [V::U; K]) {
        let ((h0, h1), (w0, w1)) = (self.rows, self.cols);
        let cell = |pixel: usize| &self.x[pixel * self.c + ch..][..K * V::N];
        // The first covered cell seeds the maximum unconditionally (TensorFlow's "no arg-max
        // yet"); comparing it with itself again below changes nothing.
        let first = h0 * self.width + w0;
        let mut best: [V::F; K] = std::array::from_fn(|k| v.load(&cell(first)[k * V::N..]));
        let mut at: [V::U; K] = [v.splat(first as u32); K];
        for h in h0..h1 {
            for w in w0..w1 {
                let pixel = h * self.width + w;
                let (x, p) = (cell(pixel), v.splat(pixel as u32));
                for k in 0..K {
                    (best[k], at[k]) = v.arg_max_first(best[k], at[k], v.load(&x[k * V::N..]), p);
                }
            }
        }
        (best, at)
    }
}

/// One image's `dx` from its input `x` and output gradient `dy`, an input row at a time: the
/// arg-max of the output rows whose windows reach it (into `s.arg`, once each), then each cell
/// the sum, from `0.0`, of the gradient of each window covering it that chose it, in
/// ascending output order — the order of the kernels' scatter — built in `s.input_row` and
/// streamed to its place. Reading the next input rows and writing the finished one alternate,
/// so the memory is kept busy both ways.
#[inline(always)]
fn backward_image<V: Lanes>(
    v: V,
    g: &Pool2d,
    (x, dy): (&[f32], &[f32]),
    dx: &mut [f32],
    s: &mut Scratch,
) {
    let (inp, out) = (g.input(), g.output());
    let c = inp.c;
    let out_row = out.w * c;
    // Output rows whose arg-max is in `s.arg`.
    let mut ready = 0;
    for (h, dx) in dx.chunks_exact_mut(inp.w * c).enumerate() {
        let (oh0, oh1) = g.covering(0, h);
        for oh in ready..oh1 {
            arg_max_row(v, g, x, oh, &mut s.arg[oh * out_row..][..out_row]);
        }
        ready = ready.max(oh1);
        for w in 0..inp.w {
            let (ow0, ow1) = s.covering_cols[w];
            let pixel = (h * inp.w + w) as u32;
            let sum = &mut s.input_row[w * c..][..c];
            let arg = &s.arg[..];
            by_groups!(v, c, |lanes, K, ch| {
                let n = lanes_of(lanes);
                let p = lanes.splat(pixel);
                let mut s = [lanes.zero(); K];
                for oh in oh0..oh1 {
                    for ow in ow0..ow1 {
                        let at = (oh * out.w + ow) * c + ch;
                        let (arg, dy) = (&arg[at..][..K * n], &dy[at..][..K * n]);
                        for k in 0..K {
                            let (a, d) = (lanes.load_u(&arg[k * n..]), lanes.load(&dy[k * n..]));
                            s[k] = lanes.add_where(s[k], a, p, d);
                        }
                    }
                }
                for (k, s) in s.into_iter().enumerate() {
                    lanes.store(&mut sum[ch + k * n..], s);
                }
            });
        }
        stream::copy(dx, &s.input_row);
    }
}

#[cfg(test)]
mod tests {
    use kernels::pool::{max_pool_backward_f32, max_pool_f32};
    use kernels::rng::Rng;
    use kernels::{Hwc, LayerAlgorithms, Padding};

    use super::*;
    use crate::fast_gemm::FastGemm;

    /// Odd shapes: channel counts around the 16-lane vectors and 64-channel groups, windows
    /// that overlap (stride < window), tile exactly, skip cells (stride > window) or exceed
    /// the input, both paddings.
    fn geometries() -> Vec<Pool2d> {
        let mut v = Vec::new();
        for (h, w) in [(7, 6), (5, 5), (2, 3), (9, 4)] {
            for c in [1, 3, 16, 17, 63, 64, 65, 80, 130] {
                for (k, s) in [
                    ([3, 3], [2, 2]),
                    ([2, 2], [2, 2]),
                    ([3, 3], [1, 1]),
                    ([2, 3], [1, 2]),
                    ([1, 2], [3, 2]),
                    ([4, 5], [2, 3]),
                ] {
                    for p in [Padding::Same, Padding::Valid] {
                        if let Ok(g) = Pool2d::new(Hwc::new(h, w, c), k, s, p) {
                            v.push(g);
                        }
                    }
                }
            }
        }
        v
    }

    /// Values that tie in every way the arg-max rule distinguishes: a few distinct values
    /// (many exact ties), ±0.0 (equal, different bits), NaN (a window's first cell or not),
    /// ±∞.
    fn input(n: usize, seed: u64) -> Vec<f32> {
        let mut rng = Rng::new(seed, 1);
        (0..n)
            .map(|_| match rng.next_u32() % 16 {
                0 => f32::NAN,
                1 => -0.0,
                2 => 0.0,
                3 => f32::INFINITY,
                4 => f32::NEG_INFINITY,
                r => (r as f32 - 10.0) * 0.25,
            })
            .collect()
    }

    /// Gradients with NaN and −0.0 among them (a cell that only receives −0.0 must come out
    /// +0.0, as the kernels' zero-then-add makes it).
    fn gradients(n: usize, seed: u64) -> Vec<f32> {
        let mut rng = Rng::new(seed, 2);
        (0..n)
            .map(|_| match rng.next_u32() % 32 {
                0 => f32::NAN,
                1 | 2 => -0.0,
                _ => 2.0 * rng.next_f32() - 1.0,
            })
            .collect()
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn same_bits_as_the_kernels_for_every_variant_and_thread_count() {
        // Reference: the kernels' own max_pool_f32 / max_pool_backward_f32, bit for bit
        // (max-pool is exact); outputs start as NaN so a value left unwritten shows.
        let variants: Vec<Isa> = Isa::available()
            .into_iter()
            .filter(|&isa| isa != Isa::Generic)
            .collect();
        assert!(
            !variants.is_empty(),
            "the host CPU has AVX2 (x86-64-v3 build)"
        );
        let geometries = geometries();
        for isa in variants {
            for threads in 1..=3 {
                let fast = FastGemm::with_isa(threads, isa).unwrap();
                for (n, g) in geometries.iter().enumerate() {
                    let batch = 3;
                    let x = input(batch * g.input_len(), n as u64);
                    let dy = gradients(batch * g.output_len(), n as u64);
                    let mut want = vec![f32::NAN; batch * g.output_len()];
                    max_pool_f32(g, batch, &x, &mut want).unwrap();
                    let mut got = vec![f32::NAN; want.len()];
                    assert!(fast.pool_forward(g, batch, &x, &mut got));
                    assert_eq!(bits(&got), bits(&want), "{isa:?} {threads}t forward {g:?}");

                    let mut want = vec![f32::NAN; x.len()];
                    max_pool_backward_f32(g, batch, &x, &dy, &mut want).unwrap();
                    let mut got = vec![f32::NAN; x.len()];
                    assert!(fast.pool_backward(g, batch, &x, &dy, &mut got));
                    assert_eq!(bits(&got), bits(&want), "{isa:?} {threads}t backward {g:?}");
                }
            }
        }
    }

    #[test]
    fn the_full_networks_pools_match_the_kernels_at_a_misaligned_offset() {
        // Reference: the kernels, bit for bit. The FULL network's pool1..pool3 shapes over
        // ReLU-like inputs (half exactly 0.0: the ties training meets), written one value
        // past a 64-byte boundary so the streamed stores take their unaligned head and tail.
        let plan = kernels::net::ValenceConfig::FULL.plan().unwrap();
        let fast = FastGemm::new(2).unwrap();
        for name in ["pool1", "pool2", "pool3"] {
            let g = plan.pool(name).unwrap();
            let batch = 2;
            let mut rng = Rng::new(7, 3);
            let x: Vec<f32> = (0..batch * g.input_len())
                .map(|_| (2.0 * rng.next_f32() - 1.0).max(0.0))
                .collect();
            let dy = gradients(batch * g.output_len(), 9);
            let mut want = vec![0.0; batch * g.output_len()];
            max_pool_f32(&g, batch, &x, &mut want).unwrap();
            let mut got = vec![f32::NAN; want.len() + 1];
            assert!(fast.pool_forward(&g, batch, &x, &mut got[1..]));
            assert_eq!(bits(&got[1..]), bits(&want), "{name} forward");
            let mut want = vec![0.0; x.len()];
            max_pool_backward_f32(&g, batch, &x, &dy, &mut want).unwrap();
            let mut got = vec![f32::NAN; x.len() + 1];
            assert!(fast.pool_backward(&g, batch, &x, &dy, &mut got[1..]));
            assert_eq!(bits(&got[1..]), bits(&want), "{name} backward");
        }
    }

    #[test]
    fn declines_without_vectors_or_own_layers() {
        // The kernels' own loops run then (the training loop's fallback).
        let g = Pool2d::new(Hwc::new(4, 4, 2), [2, 2], [2, 2], Padding::Valid).unwrap();
        let (x, dy) = (vec![1.0; 32], vec![1.0; 8]);
        let (mut y, mut dx) = (vec![0.0; 8], vec![0.0; 32]);
        let generic = FastGemm::with_isa(1, Isa::Generic).unwrap();
        let plain = FastGemm::new(1).unwrap().without_own_layers();
        for b in [&generic, &plain] {
            assert!(!b.pool_forward(&g, 2, &x, &mut y));
            assert!(!b.pool_backward(&g, 2, &x, &dy, &mut dx));
        }
        assert!(!takes(Isa::Generic, &g));
    }
}
