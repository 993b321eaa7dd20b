//! Winograd convolutions for the host's 3×3 stride-1 layers, forward and both backward passes.
//!
//! A 3×3 convolution computed as `F(m, 3)` tiles (see [`transform`]) needs `(m + 2)²`
//! multiplications per output tile and channel pair instead of `9·m²`: with `F(3, 3)`, 2.72×
//! fewer on an 11×11 map once its 12×12 tiling is paid for, 2.25× on a 5×5 one.
//! Every pass works in the Winograd domain of `α² = (m + 2)²` points `ξ`, where the
//! convolution is one matrix product per point:
//! * forward: `V = Bᵀ d B` per input tile and channel, `U = G g Gᵀ` per filter, then
//!   `M[ξ] = V[ξ]·U[ξ]` (tiles × c_in times c_in × c_out) and `Y = Aᵀ M A + bias`;
//! * input gradient, the exact adjoint: `Z = A dY Aᵀ`, `N[ξ] = Z[ξ]·U[ξ]ᵀ`, and each tile's
//!   `B N Bᵀ` added into the (overlapping) input cells it came from;
//! * filter gradient: `dU[ξ] = V[ξ]ᵀ·Z[ξ]` summed over tiles, then `dg = Gᵀ dU G`.
//!
//! The transforms run in plain Rust on one tile and 16 channels at a time, with the matrices
//! as compile-time tables (see [`block`]), so the compiler keeps the tile in vector registers
//! (zmm ones when the fast GEMM runs AVX-512, all but the output-gradient transform: see
//! `isa.rs`) and drops the zero terms; the products are [`FastGemm`]'s, on one thread each.
//! Work is split into units — groups of images for the forward pass and the input gradient,
//! groups of input channels for the filter gradient — that each run alone on a pool thread
//! with per-thread scratch, and every value is summed in an order fixed by the geometry, so
//! the bits do not depend on the number of threads. They differ from the im2col path's by
//! rounding (the transforms' own rounding included), within the TensorFlow golden tests'
//! tolerances.

pub mod block;
mod isa;
pub mod transform;

use std::cell::RefCell;
use std::sync::Mutex;

use kernels::conv2d::Conv2d;
use kernels::Layout;
use rayon::prelude::*;

use crate::fast_gemm::{at_least, images_per_unit, FastGemm};
use block::{load, sandwich, store, Lanes, Tables, F2, F3, LANES};
use isa::widest;
use transform::{Transform, R, TILE_SIDES};

/// Below this many channel pairs (`c_in · c_out`) the transforms cost more than the products
/// they save; such layers keep im2col + GEMM.
const MIN_CHANNEL_PAIRS: usize = 64;
/// Tiles per product in the forward pass and the input gradient: a unit's transformed tiles
/// (`α² × rows × channels`) stay near L2 between the transforms and the products. 16 to 144
/// measured within noise of each other (`examples/conv_cpu_time.rs`).
const ROWS_PER_CHUNK: usize = 48;
/// Tiles per product in the filter gradient, where the products' depth is the tiles: deeper
/// products amortise loading the `c_in × c_out` gradients.
const ROWS_PER_FILTER_CHUNK: usize = 96;

/// The host's Winograd algorithm (see the module documentation).
#[derive(Debug)]
pub struct Winograd {
    transforms: Vec<Transform>,
    /// The transformed filters of the current call (or the filter gradients' blocks); one call
    /// runs at a time, so one buffer is reused (no allocation per step).
    shared: Mutex<Vec<f32>>,
}

impl Default for Winograd {
    fn default() -> Self {
        Self {
            transforms: TILE_SIDES.iter().map(|&m| Transform::new(m)).collect(),
            shared: Mutex::new(Vec::new()),
        }
    }
}

/// One layer's tiling: its geometry and the transform chosen for it.
#[derive(Debug, Clone, Copy)]
struct Tiling<'t> {
    t: &'t Transform,
    /// Input map (h, w, channels).
    input: (usize, usize, usize),
    /// Output map (h, w, channels).
    output: (usize, usize, usize),
    /// Padding rows and columns before the input.
    pad: (usize, usize),
    /// Tiles down and across one output map.
    tiles: (usize, usize),
}

impl Tiling<'_> {
    fn tiles_per_image(&self) -> usize {
        self.tiles.0 * self.tiles.1
    }
    fn input_len(&self) -> usize {
        self.input.0 * self.input.1 * self.input.2
    }
    fn output_len(&self) -> usize {
        self.output.0 * self.output.1 * self.output.2
    }
}

thread_local! {
    /// A pool thread's scratch for one unit (grown, never shrunk).
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// `Σ lens` values of `buf` (grown as needed) from its first 64-byte boundary, cut into
/// consecutive pieces of `lens`.
fn pieces<const N: usize>(buf: &mut Vec<f32>, lens: [usize; N]) -> [&mut [f32]; N] {
    // A block of lanes is one zmm register: from a cache line's start, loading or storing it
    // touches one line, not two (on malloc's 16-byte boundaries the AVX-512 forward pass
    // gained 3 % over AVX2, from lines' starts 10 %; `examples/conv_cpu_time.rs`). An f32
    // pointer is 4-aligned, so a boundary is at most 15 values in (`min` only keeps the slice
    // in range regardless).
    let all = at_least(buf, lens.iter().sum::<usize>() + LANES - 1);
    let skip = all.as_ptr().align_offset(64).min(LANES - 1);
    let mut rest = &mut all[skip..];
    lens.map(|len| {
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(len);
        rest = tail;
        head
    })
}

/// Runs `f` on this thread's scratch split into pieces of the given lengths.
fn with_scratch<const N: usize, R>(lens: [usize; N], f: impl FnOnce([&mut [f32]; N]) -> R) -> R {
    SCRATCH.with_borrow_mut(|s| f(pieces(s, lens)))
}

impl Winograd {
    /// The tiling of `g` if Winograd applies: a 3×3 kernel at stride 1 with enough channel
    /// pairs. The tile side is the one with the fewest products per image (`tiles · α²`),
    /// the smaller side on a tie.
    fn tiling(&self, g: &Conv2d) -> Option<Tiling<'_>> {
        let (i, o) = (g.input(), g.output());
        if g.kernel() != [3, 3] || g.stride() != [1, 1] || i.c * o.c < MIN_CHANNEL_PAIRS {
            return None;
        }
        let [pad_h, pad_w] = g.pad_before();
        let tiles = |t: &Transform| (o.h.div_ceil(t.m), o.w.div_ceil(t.m));
        let cost = |t: &Transform| {
            let (th, tw) = tiles(t);
            th * tw * t.alpha * t.alpha
        };
        let t = self.transforms.iter().min_by_key(|t| cost(t))?;
        Some(Tiling {
            t,
            input: (i.h, i.w, i.c),
            output: (o.h, o.w, o.c),
            pad: (pad_h, pad_w),
            tiles: tiles(t),
        })
    }

    fn shared(&self) -> std::sync::MutexGuard<'_, Vec<f32>> {
        // A panic in another call cannot leave the buffer in a state worth refusing: it is
        // scratch, rewritten before every read.
        self.shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `output = conv2d(input, filter) + bias`, then ReLU if `relu`, if Winograd applies to `g`
    /// (see [`kernels::LayerAlgorithms::conv_forward`]); `false` otherwise.
    #[allow(clippy::too_many_arguments)]
    pub fn forward(
        &self,
        gemm: &FastGemm,
        g: &Conv2d,
        input: &[f32],
        filter: &[f32],
        bias: &[f32],
        relu: bool,
        output: &mut [f32],
    ) -> bool {
        let Some(tl) = self.tiling(g) else {
            return false;
        };
        let conv = (input, filter, bias, relu);
        match tl.t.m {
            2 => self.forward_with::<4, 2, F2>(gemm, &tl, conv, output),
            _ => self.forward_with::<5, 3, F3>(gemm, &tl, conv, output),
        }
        true
    }

    /// The forward pass of `(input, filter, bias, relu)`.
    fn forward_with<const A: usize, const M: usize, T: Tables<A, M>>(
        &self,
        gemm: &FastGemm,
        tl: &Tiling<'_>,
        (input, filter, bias, relu): (&[f32], &[f32], &[f32], bool),
        output: &mut [f32],
    ) {
        let mut shared = self.shared();
        let channels = (tl.input.2, tl.output.2);
        let u = filter_transform::<A, M, T>(gemm, channels, filter, false, &mut shared);
        let images = images_per_unit(
            input.len() / tl.input_len(),
            tl.tiles_per_image(),
            ROWS_PER_CHUNK,
            gemm.threads(),
        );
        let (in_len, out_len) = (tl.input_len(), tl.output_len());
        gemm.pool().install(|| {
            output
                .par_chunks_mut(images * out_len)
                .zip(input.par_chunks(images * in_len))
                .for_each(|(out, inp)| {
                    let n = out.len() / out_len;
                    forward_unit::<A, M, T>(gemm, tl, n, inp, u, (bias, relu), out);
                });
        });
    }

    /// Overwrites `d_input` with the input gradient if Winograd applies to `g` (see
    /// [`kernels::LayerAlgorithms::conv_backward_input`]); `false` otherwise.
    pub fn backward_input(
        &self,
        gemm: &FastGemm,
        g: &Conv2d,
        d_output: &[f32],
        filter: &[f32],
        d_input: &mut [f32],
    ) -> bool {
        let Some(tl) = self.tiling(g) else {
            return false;
        };
        match tl.t.m {
            2 => self.backward_input_with::<4, 2, F2>(gemm, &tl, d_output, filter, d_input),
            _ => self.backward_input_with::<5, 3, F3>(gemm, &tl, d_output, filter, d_input),
        }
        true
    }

    fn backward_input_with<const A: usize, const M: usize, T: Tables<A, M>>(
        &self,
        gemm: &FastGemm,
        tl: &Tiling<'_>,
        d_output: &[f32],
        filter: &[f32],
        d_input: &mut [f32],
    ) {
        let mut shared = self.shared();
        let channels = (tl.input.2, tl.output.2);
        let ut = filter_transform::<A, M, T>(gemm, channels, filter, true, &mut shared);
        let images = images_per_unit(
            d_input.len() / tl.input_len(),
            tl.tiles_per_image(),
            ROWS_PER_CHUNK,
            gemm.threads(),
        );
        let (in_len, out_len) = (tl.input_len(), tl.output_len());
        gemm.pool().install(|| {
            d_input
                .par_chunks_mut(images * in_len)
                .zip(d_output.par_chunks(images * out_len))
                .for_each(|(d_in, d_out)| {
                    let n = d_in.len() / in_len;
                    input_grad_unit::<A, M, T>(gemm, tl, n, d_out, ut, d_in);
                });
        });
    }

    /// Adds the filter gradient to `d_filter` if Winograd applies to `g` (see
    /// [`kernels::LayerAlgorithms::conv_backward_filter`]); `false` otherwise.
    pub fn backward_filter(
        &self,
        gemm: &FastGemm,
        g: &Conv2d,
        batch: usize,
        input: &[f32],
        d_output: &[f32],
        d_filter: &mut [f32],
    ) -> bool {
        let Some(tl) = self.tiling(g) else {
            return false;
        };
        match tl.t.m {
            2 => self.backward_filter_with::<4, 2, F2>(gemm, &tl, batch, input, d_output, d_filter),
            _ => self.backward_filter_with::<5, 3, F3>(gemm, &tl, batch, input, d_output, d_filter),
        }
        true
    }

    /// The filter gradient in chunks of [`ROWS_PER_FILTER_CHUNK`] tiles. Per chunk, each
    /// thread first transforms its block of input channels (`V`) and its block of output
    /// channels (`Z`) — every transform done once — then, after all have, adds
    /// `V[ξ]ᵀ·Z[ξ]` for its input channels and every output channel to its `dU`. Each `dU`
    /// value sums over the tiles in tile order, chunk after chunk, whatever the blocks, so the
    /// bits do not depend on the number of threads.
    fn backward_filter_with<const A: usize, const M: usize, T: Tables<A, M>>(
        &self,
        gemm: &FastGemm,
        tl: &Tiling<'_>,
        batch: usize,
        input: &[f32],
        d_output: &[f32],
        d_filter: &mut [f32],
    ) {
        let ((h, w, c_in), (oh, ow, c_out)) = (tl.input, tl.output);
        let (points, per_image) = (A * A, tl.tiles_per_image());
        let threads = gemm.threads().max(1);
        let (ci_block, co_block) = (c_in.div_ceil(threads), c_out.div_ceil(threads));
        let images = ROWS_PER_FILTER_CHUNK.div_ceil(per_image).clamp(1, batch);
        let max_rows = images * per_image;
        let plane = c_in * c_out;
        let lens = [
            points * plane,
            9 * plane,
            points * max_rows * c_in,
            points * max_rows * c_out,
        ];
        let mut shared = self.shared();
        let [du, grads, v, z] = pieces(&mut shared, lens);
        du.fill(0.0);
        let (v_block, z_block) = (points * max_rows * ci_block, points * max_rows * co_block);
        gemm.pool().install(|| {
            for first in (0..batch).step_by(images) {
                let n = images.min(batch - first);
                let rows = n * per_image;
                // Transforms: thread k's input-channel and output-channel blocks.
                let mut v_parts: Vec<Option<&mut [f32]>> =
                    v.chunks_mut(v_block).map(Some).collect();
                let mut z_parts: Vec<Option<&mut [f32]>> =
                    z.chunks_mut(z_block).map(Some).collect();
                let tasks = v_parts.len().max(z_parts.len());
                v_parts.resize_with(tasks, || None);
                z_parts.resize_with(tasks, || None);
                v_parts
                    .into_par_iter()
                    .zip(z_parts)
                    .enumerate()
                    .for_each(|(k, (vk, zk))| {
                        if let Some(vk) = vk {
                            let cb = vk.len() / (points * max_rows);
                            widest!(
                                gemm.isa(),
                                for (row, (e, ty, tx)) in tiles_of(tl, n).enumerate() {
                                    let e = first + e;
                                    let image = &input[e * h * w * c_in..][..h * w * c_in];
                                    let channels = (k * ci_block, cb);
                                    input_transform::<A, M, T>(
                                        tl,
                                        image,
                                        (ty, tx),
                                        channels,
                                        vk,
                                        (row, rows),
                                    );
                                }
                            );
                        }
                        // The output-gradient transform stays AVX2: see `input_grad_unit`.
                        if let Some(zk) = zk {
                            let cb = zk.len() / (points * max_rows);
                            for (row, (e, ty, tx)) in tiles_of(tl, n).enumerate() {
                                let e = first + e;
                                let image = &d_output[e * oh * ow * c_out..][..oh * ow * c_out];
                                let channels = (k * co_block, cb);
                                output_grad_transform::<A, M, T>(
                                    tl,
                                    image,
                                    (ty, tx),
                                    channels,
                                    zk,
                                    (row, rows),
                                );
                            }
                        }
                    });
                // Products: dU[ξ] += V[ξ]ᵀ·Z[ξ], V[ξ] being rows × cb row-major (cb × rows
                // column-major), Z[ξ] one rows × cob block per output-channel block.
                let (v, z) = (&*v, &*z);
                du.par_chunks_mut(points * ci_block * c_out)
                    .zip(v.par_chunks(v_block))
                    .for_each(|(du_k, vk)| {
                        let cb = du_k.len() / (points * c_out);
                        for xi in 0..points {
                            let a = &vk[xi * rows * cb..][..rows * cb];
                            let du_xi = &mut du_k[xi * cb * c_out..][..cb * c_out];
                            for (j, zj) in z.chunks(z_block).enumerate() {
                                let cob = zj.len() / (points * max_rows);
                                let b = &zj[xi * rows * cob..][..rows * cob];
                                gemm.gemm_acc_columns_here(
                                    (cb, rows, cob),
                                    (a, Layout::ColMajor),
                                    (b, Layout::RowMajor),
                                    du_xi,
                                    c_out,
                                    j * co_block,
                                );
                            }
                        }
                    });
            }
            // dg = Gᵀ dU G, plane by plane (each block's dU[ξ] and dg[tap] are cb × c_out).
            grads
                .par_chunks_mut(9 * ci_block * c_out)
                .zip(du.par_chunks(points * ci_block * c_out))
                .for_each(|(dg, du_k)| {
                    let cb_plane = dg.len() / 9;
                    let (mut t, mut g) = ([[[0.0; LANES]; A]; A], [[[0.0; LANES]; R]; R]);
                    widest!(
                        gemm.isa(),
                        for (p, lanes) in blocks(cb_plane) {
                            point_tile::<A>(du_k, (0, 1), cb_plane, (p, lanes), &mut t);
                            sandwich(&T::GT, &t, &mut g);
                            for (tap, cell) in g.iter().flatten().enumerate() {
                                store(&mut dg[tap * cb_plane + p..], cell, lanes);
                            }
                        }
                    );
                });
        });
        // d_filter is HWIO: tap, input channel, output channel.
        for (b, dg) in grads.chunks(9 * ci_block * c_out).enumerate() {
            let cb = dg.len() / (9 * c_out);
            for (tap, dg_tap) in dg.chunks(cb * c_out).enumerate() {
                let dst = &mut d_filter[(tap * c_in + b * ci_block) * c_out..][..cb * c_out];
                for (d, &s) in dst.iter_mut().zip(dg_tap) {
                    *d += s;
                }
            }
        }
    }
}

/// The tiles `(image, ty, tx)` of `images` images in row order.
fn tiles_of(tl: &Tiling<'_>, images: usize) -> impl Iterator<Item = (usize, usize, usize)> {
    let (th, tw) = tl.tiles;
    (0..images).flat_map(move |e| (0..th).flat_map(move |ty| (0..tw).map(move |tx| (e, ty, tx))))
}

/// The blocks of channels `(first, lanes)` of a `c`-channel vector.
fn blocks(c: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..c).step_by(LANES).map(move |c0| (c0, LANES.min(c - c0)))
}

/// `U[ξ] = G g Gᵀ` for every channel pair, as `α²` matrices `c_in × c_out` — or, `transposed`,
/// `c_out × c_in` (the input gradient's) — in `buf`, spread over `gemm`'s pool (every value is
/// computed alone).
fn filter_transform<'b, const A: usize, const M: usize, T: Tables<A, M>>(
    gemm: &FastGemm,
    (c_in, c_out): (usize, usize),
    filter: &[f32],
    transposed: bool,
    buf: &'b mut Vec<f32>,
) -> &'b [f32] {
    let plane = c_in * c_out;
    let flipped_len = if transposed { 9 * plane } else { 0 };
    let [u, flipped] = pieces(buf, [A * A * plane, flipped_len]);
    // The filter is HWIO: tap (kh, kw) is a c_in × c_out plane. The transposed U is the
    // transform of the planes transposed first (9 of them rather than α²).
    let planes = if transposed {
        // In 16 × 16 squares, so that both sides stay in cache lines already loaded (a plain
        // strided transpose of conv4's planes was a sixth of its input gradient's time).
        const SQUARE: usize = 16;
        gemm.pool().install(|| {
            flipped
                .par_chunks_mut(plane)
                .zip(filter.par_chunks(plane))
                .for_each(|(dst, src)| {
                    for ci0 in (0..c_in).step_by(SQUARE) {
                        for co0 in (0..c_out).step_by(SQUARE) {
                            for ci in ci0..c_in.min(ci0 + SQUARE) {
                                for co in co0..c_out.min(co0 + SQUARE) {
                                    dst[co * c_in + ci] = src[ci * c_out + co];
                                }
                            }
                        }
                    }
                });
        });
        &*flipped
    } else {
        filter
    };
    // One range of every plane per thread: its slices of the α² matrices.
    let piece = plane.div_ceil(gemm.threads().max(1)).div_ceil(LANES) * LANES;
    let mut parts: Vec<Vec<&mut [f32]>> = Vec::new();
    for u_plane in u.chunks_mut(plane) {
        for (k, slice) in u_plane.chunks_mut(piece).enumerate() {
            match parts.get_mut(k) {
                Some(part) => part.push(slice),
                None => parts.push(vec![slice]),
            }
        }
    }
    gemm.pool().install(|| {
        parts.into_par_iter().enumerate().for_each(|(k, mut outs)| {
            let (mut g, mut t) = ([[[0.0; LANES]; R]; R], [[[0.0; LANES]; A]; A]);
            widest!(
                gemm.isa(),
                for (p, lanes) in blocks(outs[0].len()) {
                    let at = k * piece + p;
                    for (kh, row) in g.iter_mut().enumerate() {
                        for (kw, cell) in row.iter_mut().enumerate() {
                            load(cell, &planes[(kh * R + kw) * plane + at..], lanes);
                        }
                    }
                    sandwich(&T::G, &g, &mut t);
                    for (out, cell) in outs.iter_mut().zip(t.iter().flatten()) {
                        store(&mut out[p..], cell, lanes);
                    }
                }
            );
        });
    });
    u
}

/// `V = Bᵀ d B` of the input tile `(ty, tx)` of one image (channels `c0 .. c0 + cb`, zero
/// outside the map) into row `row` of the `α²` matrices of `v` (`rows × cb` each).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn input_transform<const A: usize, const M: usize, T: Tables<A, M>>(
    tl: &Tiling<'_>,
    image: &[f32],
    (ty, tx): (usize, usize),
    (c0, cb): (usize, usize),
    v: &mut [f32],
    (row, rows): (usize, usize),
) {
    let (h, w, c) = tl.input;
    // Every cell is written below (padding with zeros), so the tiles need no zero fill.
    let (mut d, mut t) = ([[[0.0; LANES]; A]; A], [[[0.0; LANES]; A]; A]);
    for (b0, lanes) in blocks(cb) {
        for (u, d_row) in d.iter_mut().enumerate() {
            let y = (ty * M + u).wrapping_sub(tl.pad.0);
            for (t, cell) in d_row.iter_mut().enumerate() {
                let x = (tx * M + t).wrapping_sub(tl.pad.1);
                if y < h && x < w {
                    load(cell, &image[(y * w + x) * c + c0 + b0..], lanes);
                } else {
                    *cell = [0.0; LANES];
                }
            }
        }
        sandwich(&T::BT, &d, &mut t);
        for (xi, cell) in t.iter().flatten().enumerate() {
            store(&mut v[(xi * rows + row) * cb + b0..], cell, lanes);
        }
    }
}

/// `Z = A dY Aᵀ` of the output-gradient tile `(ty, tx)` of one image (channels
/// `c0 .. c0 + cb`, zero outside the map) into row `row` of the `α²` matrices of `z`
/// (`rows × cb` each).
#[inline(always)]
fn output_grad_transform<const A: usize, const M: usize, T: Tables<A, M>>(
    tl: &Tiling<'_>,
    image: &[f32],
    (ty, tx): (usize, usize),
    (c0, cb): (usize, usize),
    z: &mut [f32],
    (row, rows): (usize, usize),
) {
    let (h, w, c) = tl.output;
    // Every cell is written below (outside the map with zeros): no zero fill per tile.
    let (mut dy, mut t) = ([[[0.0; LANES]; M]; M], [[[0.0; LANES]; A]; A]);
    for (b0, lanes) in blocks(cb) {
        for (r, dy_row) in dy.iter_mut().enumerate() {
            let y = ty * M + r;
            for (s, cell) in dy_row.iter_mut().enumerate() {
                let x = tx * M + s;
                if y < h && x < w {
                    load(cell, &image[(y * w + x) * c + c0 + b0..], lanes);
                } else {
                    *cell = [0.0; LANES];
                }
            }
        }
        sandwich(&T::A, &dy, &mut t);
        for (xi, cell) in t.iter().flatten().enumerate() {
            store(&mut z[(xi * rows + row) * cb + b0..], cell, lanes);
        }
    }
}

/// Row `row` of the `α²` matrices of `src` (`rows × c` each), channels `c0 .. c0 + lanes`,
/// as a tile.
#[inline(always)]
fn point_tile<const A: usize>(
    src: &[f32],
    (row, rows): (usize, usize),
    c: usize,
    (c0, lanes): (usize, usize),
    t: &mut [[Lanes; A]; A],
) {
    for (xi, cell) in t.iter_mut().flatten().enumerate() {
        load(cell, &src[(xi * rows + row) * c + c0..], lanes);
    }
}

/// The forward pass of `images` images (`input`, `output` are theirs) with the transformed
/// filters `u`.
#[allow(clippy::too_many_arguments)]
fn forward_unit<const A: usize, const M: usize, T: Tables<A, M>>(
    gemm: &FastGemm,
    tl: &Tiling<'_>,
    images: usize,
    input: &[f32],
    u: &[f32],
    (bias, relu): (&[f32], bool),
    output: &mut [f32],
) {
    let ((h, w, c_in), (oh, ow, c_out)) = (tl.input, tl.output);
    let rows = images * tl.tiles_per_image();
    let points = A * A;
    with_scratch([points * rows * c_in, points * rows * c_out], |[v, mm]| {
        widest!(
            gemm.isa(),
            for (row, (e, ty, tx)) in tiles_of(tl, images).enumerate() {
                let image = &input[e * h * w * c_in..][..h * w * c_in];
                input_transform::<A, M, T>(tl, image, (ty, tx), (0, c_in), v, (row, rows));
            }
        );
        mm.fill(0.0);
        let plane = c_in * c_out;
        for xi in 0..points {
            gemm.gemm_acc_here(
                rows,
                c_in,
                c_out,
                &v[xi * rows * c_in..][..rows * c_in],
                Layout::RowMajor,
                &u[xi * plane..][..plane],
                Layout::RowMajor,
                &mut mm[xi * rows * c_out..][..rows * c_out],
            );
        }
        // Y = Aᵀ M A, plus the bias.
        let (mut t, mut y) = ([[[0.0; LANES]; A]; A], [[[0.0; LANES]; M]; M]);
        widest!(
            gemm.isa(),
            for (row, (e, ty, tx)) in tiles_of(tl, images).enumerate() {
                for (c0, lanes) in blocks(c_out) {
                    point_tile::<A>(mm, (row, rows), c_out, (c0, lanes), &mut t);
                    sandwich(&T::AT, &t, &mut y);
                    for (r, y_row) in y.iter().enumerate() {
                        let oy = ty * M + r;
                        for (s, cell) in y_row.iter().enumerate() {
                            let ox = tx * M + s;
                            if oy >= oh || ox >= ow {
                                continue;
                            }
                            let out =
                                &mut output[((e * oh + oy) * ow + ox) * c_out + c0..][..lanes];
                            for ((o, &v), &b) in out.iter_mut().zip(cell).zip(&bias[c0..]) {
                                let y = v + b;
                                // ReLU as `kernels::activation::relu_f32` (NaN and −0.0 pass).
                                *o = if relu && y < 0.0 { 0.0 } else { y };
                            }
                        }
                    }
                }
            }
        );
    });
}

/// The input gradient of `images` images (`d_out`, `d_in` are theirs) with the transposed
/// transformed filters `ut`.
fn input_grad_unit<const A: usize, const M: usize, T: Tables<A, M>>(
    gemm: &FastGemm,
    tl: &Tiling<'_>,
    images: usize,
    d_out: &[f32],
    ut: &[f32],
    d_in: &mut [f32],
) {
    let ((h, w, c_in), (oh, ow, c_out)) = (tl.input, tl.output);
    let rows = images * tl.tiles_per_image();
    let points = A * A;
    with_scratch([points * rows * c_out, points * rows * c_in], |[z, nn]| {
        // Compiled for AVX2 even on an AVX-512 CPU: with AVX-512's masks LLVM vectorises the
        // sandwich's first pass (3 rows in, 5 out) across the 5 rows — masked gathers of the
        // weights, scatters (`vscatterqps`) into the temporary — instead of unrolling it, and
        // both passes that use it measured 8–12 % slower (`examples/conv_cpu_time.rs`).
        for (row, (e, ty, tx)) in tiles_of(tl, images).enumerate() {
            let image = &d_out[e * oh * ow * c_out..][..oh * ow * c_out];
            output_grad_transform::<A, M, T>(tl, image, (ty, tx), (0, c_out), z, (row, rows));
        }
        nn.fill(0.0);
        let plane = c_in * c_out;
        for xi in 0..points {
            gemm.gemm_acc_here(
                rows,
                c_out,
                c_in,
                &z[xi * rows * c_out..][..rows * c_out],
                Layout::RowMajor,
                &ut[xi * plane..][..plane],
                Layout::RowMajor,
                &mut nn[xi * rows * c_in..][..rows * c_in],
            );
        }
        // Each tile's B N Bᵀ is added into the input cells it was read from, tiles in row
        // order (they overlap by two cells).
        d_in.fill(0.0);
        let (mut t, mut dd) = ([[[0.0; LANES]; A]; A], [[[0.0; LANES]; A]; A]);
        widest!(
            gemm.isa(),
            for (row, (e, ty, tx)) in tiles_of(tl, images).enumerate() {
                for (c0, lanes) in blocks(c_in) {
                    point_tile::<A>(nn, (row, rows), c_in, (c0, lanes), &mut t);
                    sandwich(&T::B, &t, &mut dd);
                    for (u, dd_row) in dd.iter().enumerate() {
                        let y = (ty * M + u).wrapping_sub(tl.pad.0);
                        if y >= h {
                            continue;
                        }
                        for (t, cell) in dd_row.iter().enumerate() {
                            let x = (tx * M + t).wrapping_sub(tl.pad.1);
                            if x >= w {
                                continue;
                            }
                            let out = &mut d_in[((e * h + y) * w + x) * c_in + c0..][..lanes];
                            for (o, &v) in out.iter_mut().zip(cell) {
                                *o += v;
                            }
                        }
                    }
                }
            }
        );
    });
}

#[cfg(test)]
mod tests {
    use kernels::conv2d::{
        conv2d_backward_filter_f32, conv2d_backward_input_f32, conv2d_f32, Conv2d,
    };
    use kernels::rng::Rng;
    use kernels::{Hwc, Padding};

    use crate::fast_gemm::{FastGemm, Isa};

    fn values(n: usize, seed: u64, scale: f32) -> Vec<f32> {
        let mut rng = Rng::new(seed, 0);
        (0..n)
            .map(|_| scale * (2.0 * rng.next_f32() - 1.0))
            .collect()
    }

    /// One case's three passes in f64, by the definition of a SAME/VALID correlation.
    struct Reference {
        y: Vec<f64>,
        d_input: Vec<f64>,
        d_filter: Vec<f64>,
    }

    fn reference(g: &Conv2d, n: usize, x: &[f32], f: &[f32], b: &[f32], dy: &[f32]) -> Reference {
        let (i, o) = (g.input(), g.output());
        let [ph, pw] = g.pad_before();
        let mut r = Reference {
            y: vec![0.0; n * g.output_len()],
            d_input: vec![0.0; n * g.input_len()],
            d_filter: vec![0.0; g.filter_len()],
        };
        for e in 0..n {
            for oy in 0..o.h {
                for ox in 0..o.w {
                    let out = ((e * o.h + oy) * o.w + ox) * o.c;
                    for (y, &bv) in r.y[out..][..o.c].iter_mut().zip(b) {
                        *y = f64::from(bv);
                    }
                    for kh in 0..3 {
                        for kw in 0..3 {
                            let (y, xx) = ((oy + kh).wrapping_sub(ph), (ox + kw).wrapping_sub(pw));
                            if y >= i.h || xx >= i.w {
                                continue;
                            }
                            let inp = ((e * i.h + y) * i.w + xx) * i.c;
                            for ci in 0..i.c {
                                for co in 0..o.c {
                                    let fi = ((kh * 3 + kw) * i.c + ci) * o.c + co;
                                    let (xv, fv) = (f64::from(x[inp + ci]), f64::from(f[fi]));
                                    let dyv = f64::from(dy[out + co]);
                                    r.y[out + co] += xv * fv;
                                    r.d_input[inp + ci] += dyv * fv;
                                    r.d_filter[fi] += dyv * xv;
                                }
                            }
                        }
                    }
                }
            }
        }
        r
    }

    /// `|got − want| ≤ tol·(1 + |want|)`.
    fn assert_close(what: &str, got: &[f32], want: &[f64], tol: f64) {
        assert_eq!(got.len(), want.len(), "{what}");
        let worst = got
            .iter()
            .zip(want)
            .map(|(&g, &w)| (f64::from(g) - w).abs() / (1.0 + w.abs()))
            .fold(0.0, f64::max);
        assert!(
            worst <= tol,
            "{what}: worst relative error {worst:.2e} > {tol:.0e}"
        );
    }

    #[test]
    fn every_pass_matches_the_direct_convolution() {
        // Reference: the f64 direct correlation above. Values O(1) (filters scaled by
        // 1/√(9·c_in)); the transforms add rounding of the tile's partial sums, ~1e-6 here.
        let gemm = FastGemm::new(2).unwrap();
        let cases = [
            (2, (11, 11, 32), 32, Padding::Same),
            (3, (5, 5, 64), 48, Padding::Same),
            (1, (6, 7, 16), 24, Padding::Same),
            (2, (13, 9, 8), 8, Padding::Valid),
            (1, (2, 3, 16), 8, Padding::Same),
        ];
        for (seed, &(n, (h, w, c), k, padding)) in cases.iter().enumerate() {
            let g = Conv2d::new(Hwc::new(h, w, c), [3, 3], k, [1, 1], padding, 64).unwrap();
            let seed = seed as u64 * 10;
            let x = values(n * g.input_len(), seed, 1.0);
            let f = values(g.filter_len(), seed + 1, 1.0 / (9.0 * c as f32).sqrt());
            let b = values(k, seed + 2, 1.0);
            let dy = values(n * g.output_len(), seed + 3, 1.0);
            let want = reference(&g, n, &x, &f, &b, &dy);
            let mut scratch = vec![0.0; g.scratch_len()];
            let mut y = vec![f32::NAN; n * g.output_len()];
            conv2d_f32(&g, &gemm, n, &x, &f, &b, &mut scratch, &mut y).unwrap();
            assert_close(&format!("forward {h}x{w}x{c}→{k}"), &y, &want.y, 1e-5);
            let mut dx = vec![f32::NAN; n * g.input_len()];
            conv2d_backward_input_f32(&g, &gemm, n, &dy, &f, &mut scratch, &mut dx).unwrap();
            assert_close(
                &format!("d_input {h}x{w}x{c}→{k}"),
                &dx,
                &want.d_input,
                1e-5,
            );
            // The filter gradient accumulates: start from 1.0 and take it off the reference.
            let mut df = vec![1.0; g.filter_len()];
            conv2d_backward_filter_f32(&g, &gemm, n, &x, &dy, &mut scratch, &mut df).unwrap();
            let want_df: Vec<f64> = want.d_filter.iter().map(|d| d + 1.0).collect();
            // d_filter sums batch·h·w products of O(1) values: scale the tolerance with it.
            let terms = (n * h * w) as f64;
            assert_close(
                &format!("d_filter {h}x{w}x{c}→{k}"),
                &df,
                &want_df,
                1e-6 * terms.sqrt() * 4.0,
            );
        }
    }

    #[test]
    fn fused_relu_equals_the_forward_pass_then_relu() {
        use kernels::activation::relu_f32;
        use kernels::conv2d::conv2d_relu_f32;
        let gemm = FastGemm::new(2).unwrap();
        let g = Conv2d::new(Hwc::new(5, 5, 32), [3, 3], 24, [1, 1], Padding::Same, 64).unwrap();
        let n = 3;
        let x = values(n * g.input_len(), 5, 1.0);
        let f = values(g.filter_len(), 6, 0.1);
        let b = values(24, 7, 0.5);
        let mut scratch = vec![0.0; g.scratch_len()];
        let mut want = vec![0.0; n * g.output_len()];
        conv2d_f32(&g, &gemm, n, &x, &f, &b, &mut scratch, &mut want).unwrap();
        assert!(want.iter().any(|&v| v < 0.0), "some outputs are negative");
        relu_f32(&mut want);
        let mut got = vec![f32::NAN; want.len()];
        conv2d_relu_f32(&g, &gemm, n, &x, &f, &b, &mut scratch, &mut got).unwrap();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(&want));
    }

    /// The three passes' bits on `n` images of `g` (inputs from fixed seeds).
    fn pass_bits(gemm: &FastGemm, g: &Conv2d, n: usize) -> [Vec<u32>; 3] {
        let k = g.output().c;
        let x = values(n * g.input_len(), 1, 1.0);
        let f = values(g.filter_len(), 2, 0.1);
        let b = values(k, 3, 1.0);
        let dy = values(n * g.output_len(), 4, 1.0);
        let mut scratch = vec![0.0; g.scratch_len()];
        let mut y = vec![0.0; n * g.output_len()];
        conv2d_f32(g, gemm, n, &x, &f, &b, &mut scratch, &mut y).unwrap();
        let mut dx = vec![0.0; n * g.input_len()];
        conv2d_backward_input_f32(g, gemm, n, &dy, &f, &mut scratch, &mut dx).unwrap();
        let mut df = vec![0.0; g.filter_len()];
        conv2d_backward_filter_f32(g, gemm, n, &x, &dy, &mut scratch, &mut df).unwrap();
        [y, dx, df].map(|v| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>())
    }

    #[test]
    fn bits_do_not_depend_on_the_thread_count() {
        let g = Conv2d::new(Hwc::new(11, 11, 24), [3, 3], 40, [1, 1], Padding::Same, 64).unwrap();
        let one = pass_bits(&FastGemm::new(1).unwrap(), &g, 7);
        for threads in [2, 3, 5] {
            let gemm = FastGemm::new(threads).unwrap();
            assert!(pass_bits(&gemm, &g, 7) == one, "{threads} threads");
        }
    }

    #[test]
    fn avx512_transforms_give_the_avx2_bits() {
        // Reference: the same passes compiled for AVX2 (the crate's target). The GEMM's
        // micro-kernels give the same bits on either instruction set (fast_gemm's tests), so
        // any difference would be the transforms'.
        let available = Isa::available();
        if !available.contains(&Isa::Avx512) || !available.contains(&Isa::Avx2Fma) {
            println!("skipped: this CPU lacks AVX-512F or AVX2 + FMA ({available:?})");
            return;
        }
        // F(2, 3) on the 4×4 map, F(3, 3) on the others; 24 and 40 channels leave partial
        // blocks of lanes, VALID padding tiles past the map's edge.
        let cases = [
            ((4, 4, 24), 40, Padding::Same),
            ((11, 11, 24), 40, Padding::Same),
            ((5, 5, 64), 48, Padding::Same),
            ((13, 9, 16), 8, Padding::Valid),
        ];
        for ((h, w, c), k, padding) in cases {
            let g = Conv2d::new(Hwc::new(h, w, c), [3, 3], k, [1, 1], padding, 64).unwrap();
            for threads in [1, 2] {
                let run = |isa| pass_bits(&FastGemm::with_isa(threads, isa).unwrap(), &g, 3);
                let (wide, narrow) = (run(Isa::Avx512), run(Isa::Avx2Fma));
                for (pass, (a, b)) in ["forward", "d_input", "d_filter"]
                    .iter()
                    .zip(wide.iter().zip(&narrow))
                {
                    assert!(
                        a == b,
                        "{pass} {h}x{w}x{c}→{k} {padding:?}, {threads} threads"
                    );
                }
            }
        }
    }
}
