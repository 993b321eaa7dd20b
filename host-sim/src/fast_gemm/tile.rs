//! One tile of `C`: the blocking loops, the packing and the edge tiles.
//!
//! BLIS's loop order: `k` is cut into blocks of [`KC`], the tile's columns into blocks of
//! [`NC`] and its rows into blocks of [`MC`]. `B`'s `KC × NC` block is packed into `NR`-wide
//! panels, and `A` is read in place, `MR` rows at a time (its `MC × KC` block stays in L2) —
//! except that a short product (a dense layer at a small batch) reads a row-major `B` in place
//! too, its rows being the panels' rows already, and that `A` is packed into `MR`-tall strips
//! where its column stride would alias in L1 (see `tile`); edges are packed zero-padded. One
//! `B` panel stays in L1 while every strip of the block runs across it. A tile cut by `C`'s
//! edges runs on a copy of its cells. Scratch lives in one
//! buffer per thread, grown (NaN-filled, so a cell the packing forgot would poison the result)
//! and never shrunk: no allocation per step.

use std::cell::RefCell;

use super::kernel::{MicroKernel, Strip};

/// Depth of one block of the product: a packed `KC × NR` panel of `B` is 32 KiB for the AVX-512
/// kernel (L1).
const KC: usize = 256;
/// Width of one packed block of `B`: `KC × NC` floats are 512 KiB (L2).
const NC: usize = 512;
/// Products with at most this many rows read a row-major `B` in place instead of packing it.
const IN_PLACE_MAX_ROWS: usize = 64;
/// A column stride (in floats) whose multiples map to one L1 cache set: 4 KiB.
const ALIASING_STRIDE: usize = 1024;
/// Floats in a cache line.
const LINE: usize = 16;
/// Height of one block of `A` (a multiple of every `MR`): `MC × KC` floats are 192 KiB.
const MC: usize = 192;

/// A read-only strided matrix: element `(i, j)` is `data[i · rs + j · cs]`.
#[derive(Debug, Clone, Copy)]
pub(super) struct View<'a> {
    pub data: &'a [f32],
    pub rs: usize,
    pub cs: usize,
}

impl<'a> View<'a> {
    /// The `rows × cols` matrix stored densely in `data` as `layout` says.
    pub fn dense(data: &'a [f32], layout: kernels::Layout, rows: usize, cols: usize) -> Self {
        match layout {
            kernels::Layout::RowMajor => Self {
                data,
                rs: cols,
                cs: 1,
            },
            kernels::Layout::ColMajor => Self {
                data,
                rs: 1,
                cs: rows,
            },
        }
    }

    fn index(&self, i: usize, j: usize) -> usize {
        i * self.rs + j * self.cs
    }
}

#[derive(Default)]
struct Scratch {
    /// Packed panels of one block of `B`.
    b: Vec<f32>,
    /// Packed strips of one block of `A`.
    a: Vec<f32>,
    /// An edge tile of `C`.
    c: Vec<f32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// `v[..len]`, grown with NaN when shorter (so a cell its user forgot to write poisons the
/// result rather than passing for zero): the host's scratch buffers, never shrunk.
pub(crate) fn at_least(v: &mut Vec<f32>, len: usize) -> &mut [f32] {
    if v.len() < len {
        v.resize(len, f32::NAN);
    }
    &mut v[..len]
}

/// `C[r0 .. r0 + mt, c0 .. c0 + nt] += A[r0 .. r0 + mt, ..k] · B[..k, c0 .. c0 + nt]`.
///
/// # Panics
/// If `a` or `b` is too short for the rows and columns asked for.
///
/// # Safety
/// `c.add(i · rsc + j)` is readable and writable for every cell `(i, j)` of the tile, and no
/// other thread touches those cells during the call. `K` runs on this CPU.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn tile<K: MicroKernel>(
    k: usize,
    a: View<'_>,
    (r0, mt): (usize, usize),
    b: View<'_>,
    (c0, nt): (usize, usize),
    c: *mut f32,
    rsc: usize,
) {
    let (mr_full, nr_full) = (K::MR, K::NR);
    SCRATCH.with_borrow_mut(|s| {
        for jc in (0..nt).step_by(NC) {
            let nc = NC.min(nt - jc);
            for pc in (0..k).step_by(KC) {
                let kc = KC.min(k - pc);
                let panels = nc.div_ceil(nr_full);
                // With few rows, a row-major B is read in place, full panels at its own row
                // stride: packing would copy every element once more for little reuse (most of
                // a dense layer's forward pass at a small batch). Only a cut last panel is
                // packed (zero-padded), as panel 0. Taller products reuse each panel enough that
                // the packed copy's contiguity pays.
                let in_place = b.cs == 1 && mt <= IN_PLACE_MAX_ROWS;
                let packed_b = if in_place {
                    let last = (panels - 1) * nr_full;
                    let packed = at_least(&mut s.b, kc * nr_full);
                    if nc - last < nr_full {
                        pack_b::<K>(b, pc, kc, c0 + jc + last, nc - last, packed);
                    }
                    packed
                } else {
                    let packed = at_least(&mut s.b, panels * kc * nr_full);
                    pack_b::<K>(b, pc, kc, c0 + jc, nc, packed);
                    packed
                };
                // A is read in place, `MR` rows at a time: packing it (transposes for a row-major
                // A, short strided copies for a column-major one) is bound by reading A from
                // memory and cost a conv layer's forward pass and its d_weights a tenth of their
                // time or more. Only a cut last strip is packed, as strip 0. Except where a
                // row's consecutive values lie within a cache line of a multiple of 4 KiB
                // apart: they would crowd into few L1 sets and evict each other between panels
                // (a dense layer's d_weights lost 15 % in place at 1024 inputs, 3 % at 2046).
                let off = a.cs % ALIASING_STRIDE;
                let a_in_place = a.cs == 1 || off.min(ALIASING_STRIDE - off) >= LINE;
                for ic in (0..mt).step_by(MC) {
                    let mc = MC.min(mt - ic);
                    let packed_a = if a_in_place {
                        let (full, packed) =
                            (mc / mr_full * mr_full, at_least(&mut s.a, kc * mr_full));
                        if full < mc {
                            pack_a::<K>(a, r0 + ic + full, mc - full, pc, kc, packed);
                        }
                        packed
                    } else {
                        let packed = at_least(&mut s.a, mc.div_ceil(mr_full) * kc * mr_full);
                        pack_a::<K>(a, r0 + ic, mc, pc, kc, packed);
                        packed
                    };
                    for jp in 0..panels {
                        let j = jc + jp * nr_full;
                        let nr = nr_full.min(nt - j);
                        let (bp, rsb) = if in_place && nr == nr_full {
                            let start = b.index(pc, c0 + j);
                            (&b.data[start..][..(kc - 1) * b.rs + nr_full], b.rs)
                        } else {
                            let q = if in_place { 0 } else { jp };
                            (&packed_b[q * kc * nr_full..][..kc * nr_full], nr_full)
                        };
                        for i in (ic..ic + mc).step_by(mr_full) {
                            let mr = mr_full.min(mt - i);
                            let ap = if a_in_place && mr == mr_full {
                                Strip {
                                    data: &a.data[a.index(r0 + i, pc)..],
                                    rs: a.rs,
                                    cs: a.cs,
                                    kc,
                                }
                            } else {
                                let q = if a_in_place { 0 } else { (i - ic) / mr_full };
                                Strip::packed(
                                    &packed_a[q * kc * mr_full..][..kc * mr_full],
                                    mr_full,
                                )
                            };
                            // SAFETY: (r0 + i, c0 + j) is a cell of the tile (the caller's
                            // contract).
                            let cp = unsafe { c.add((r0 + i) * rsc + c0 + j) };
                            if mr == mr_full && nr == nr_full {
                                // SAFETY: the MR × NR cells at `cp` are the tile's.
                                unsafe { K::run(ap, (bp, rsb), cp, rsc) };
                            } else {
                                let edge = at_least(&mut s.c, mr_full * nr_full);
                                edge.fill(0.0);
                                for ii in 0..mr {
                                    for jj in 0..nr {
                                        // SAFETY: ii < mr, jj < nr: inside the tile.
                                        edge[ii * nr_full + jj] = unsafe { *cp.add(ii * rsc + jj) };
                                    }
                                }
                                // SAFETY: C is the local MR × NR copy.
                                unsafe { K::run(ap, (bp, rsb), edge.as_mut_ptr(), nr_full) };
                                for ii in 0..mr {
                                    for jj in 0..nr {
                                        // SAFETY: as above.
                                        unsafe { *cp.add(ii * rsc + jj) = edge[ii * nr_full + jj] };
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    });
}

/// Packs `B[pc .. pc + kc, col .. col + nc]` into `nr`-wide panels (row `p` of panel `q` at
/// `out[(q · kc + p) · nr ..]`), zero past column `nc`.
fn pack_b<K: MicroKernel>(
    b: View<'_>,
    pc: usize,
    kc: usize,
    col: usize,
    nc: usize,
    out: &mut [f32],
) {
    let nr = K::NR;
    for (q, panel) in out.chunks_exact_mut(kc * nr).enumerate() {
        let j0 = col + q * nr;
        let width = nr.min(col + nc - j0);
        if b.cs == 1 {
            // Row-major: each panel row is a contiguous run of B's row.
            for (p, row) in panel.chunks_exact_mut(nr).enumerate() {
                let start = b.index(pc + p, j0);
                if width == K::NR {
                    // A length known at compile time: moves in registers, not a memcpy call.
                    row.copy_from_slice(&b.data[start..start + K::NR]);
                } else {
                    row[..width].copy_from_slice(&b.data[start..start + width]);
                    row[width..].fill(0.0);
                }
            }
        } else {
            debug_assert_eq!(b.rs, 1, "a dense matrix has one unit stride");
            const { assert!(K::NR <= 32, "a panel's columns fit the array below") };
            let mut columns = [&b.data[..0]; 32];
            for (jj, column) in columns.iter_mut().enumerate().take(width) {
                *column = &b.data[b.index(pc, j0 + jj)..][..kc];
            }
            K::pack_columns(&columns[..width], panel);
        }
    }
}

/// Packs `A[row .. row + mc, pc .. pc + kc]` into `mr`-tall strips (column `p` of strip `q` at
/// `out[(q · kc + p) · mr ..]`), zero past row `mc`.
fn pack_a<K: MicroKernel>(
    a: View<'_>,
    row: usize,
    mc: usize,
    pc: usize,
    kc: usize,
    out: &mut [f32],
) {
    let mr = K::MR;
    for (q, strip) in out.chunks_exact_mut(kc * mr).enumerate() {
        let i0 = row + q * mr;
        let height = mr.min(row + mc - i0);
        if a.rs == 1 {
            // Column-major: each strip column is a contiguous run of A's column.
            for (p, column) in strip.chunks_exact_mut(mr).enumerate() {
                let start = a.index(i0, pc + p);
                if height == K::MR {
                    // As in `pack_b`: a constant length, no memcpy call per 8 values.
                    column.copy_from_slice(&a.data[start..start + K::MR]);
                } else {
                    column[..height].copy_from_slice(&a.data[start..start + height]);
                    column[height..].fill(0.0);
                }
            }
        } else {
            debug_assert_eq!(a.cs, 1, "a dense matrix has one unit stride");
            const { assert!(K::MR <= 16, "a strip's rows fit the array below") };
            let mut rows = [&a.data[..0]; 16];
            for (ii, r) in rows.iter_mut().enumerate().take(height) {
                *r = &a.data[a.index(i0 + ii, pc)..][..kc];
            }
            K::pack_rows(&rows[..height], strip);
        }
    }
}
