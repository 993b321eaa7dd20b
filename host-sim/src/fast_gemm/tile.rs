//! One tile of `C`: the blocking loops, `B`'s packing and the edge tiles.
//!
//! `k` is cut into blocks of [`KC`] and the tile's columns into blocks of [`NC`]; each
//! `KC × NC` block of `B` is packed into `NR`-wide panels (zero-padded at the right edge) that
//! stay in L2 while every `MR`-row strip of `A` runs across them. `A` is read in place through
//! its strides (row- and column-major both stream), except a bottom strip shorter than `MR`,
//! which is copied zero-padded. A tile cut by `C`'s edges runs on a copy of its cells.
//! Scratch lives in one buffer per thread, grown (NaN-filled, so a cell the packing forgot
//! would poison the result) and never shrunk: no allocation per step.

use std::cell::RefCell;

use super::kernel::MicroKernel;

/// Depth of one block of the product: a packed `KC × NR` panel of `B` is 32 KiB for the AVX-512
/// kernel (L1).
const KC: usize = 256;
/// Width of one packed block of `B`: `KC × NC` floats are 512 KiB (L2).
const NC: usize = 512;

/// A read-only strided matrix: element `(i, j)` is `data[i · rs + j · cs]`.
#[derive(Debug, Clone, Copy)]
pub(super) struct View<'a> {
    pub data: &'a [f32],
    pub rs: usize,
    pub cs: usize,
}

impl View<'_> {
    fn index(&self, i: usize, j: usize) -> usize {
        i * self.rs + j * self.cs
    }
}

#[derive(Default)]
struct Scratch {
    /// Packed panels of one block of `B`.
    b: Vec<f32>,
    /// A short strip of `A`, zero-padded to `MR` rows.
    a: Vec<f32>,
    /// An edge tile of `C`.
    c: Vec<f32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// `v[..len]`, grown with NaN when shorter.
fn at_least(v: &mut Vec<f32>, len: usize) -> &mut [f32] {
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
            let panels = nc.div_ceil(nr_full);
            for pc in (0..k).step_by(KC) {
                let kc = KC.min(k - pc);
                let packed = at_least(&mut s.b, panels * kc * nr_full);
                pack_b(b, pc, kc, c0 + jc, nc, nr_full, packed);
                for ir in (0..mt).step_by(mr_full) {
                    let mr = mr_full.min(mt - ir);
                    let (ap, rsa, csa) = if mr == mr_full {
                        let last = a.index(r0 + ir + mr - 1, pc + kc - 1);
                        assert!(last < a.data.len(), "A is too short for its tile");
                        (a.data[a.index(r0 + ir, pc)..].as_ptr(), a.rs, a.cs)
                    } else {
                        let strip = at_least(&mut s.a, kc * mr_full);
                        pack_a_strip(a, r0 + ir, mr, pc, mr_full, strip);
                        (strip.as_ptr(), 1, mr_full)
                    };
                    for (jp, bp) in packed.chunks_exact(kc * nr_full).enumerate() {
                        let j = jc + jp * nr_full;
                        let nr = nr_full.min(nt - j);
                        // SAFETY: (r0 + ir, c0 + j) is a cell of the tile (the caller's contract).
                        let cp = unsafe { c.add((r0 + ir) * rsc + c0 + j) };
                        if mr == mr_full && nr == nr_full {
                            // SAFETY: `ap` covers MR rows × kc (asserted above, or the packed
                            // strip), `bp` is one packed panel, the MR × NR cells at `cp` are the
                            // tile's.
                            unsafe { K::run(kc, ap, rsa, csa, bp, cp, rsc) };
                        } else {
                            let edge = at_least(&mut s.c, mr_full * nr_full);
                            edge.fill(0.0);
                            for i in 0..mr {
                                for jj in 0..nr {
                                    // SAFETY: i < mr, jj < nr: inside the tile.
                                    edge[i * nr_full + jj] = unsafe { *cp.add(i * rsc + jj) };
                                }
                            }
                            // SAFETY: as above, with C the local MR × NR copy.
                            unsafe { K::run(kc, ap, rsa, csa, bp, edge.as_mut_ptr(), nr_full) };
                            for i in 0..mr {
                                for jj in 0..nr {
                                    // SAFETY: as above.
                                    unsafe { *cp.add(i * rsc + jj) = edge[i * nr_full + jj] };
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
fn pack_b(b: View<'_>, pc: usize, kc: usize, col: usize, nc: usize, nr: usize, out: &mut [f32]) {
    for (q, panel) in out.chunks_exact_mut(kc * nr).enumerate() {
        let j0 = col + q * nr;
        let width = nr.min(col + nc - j0);
        if b.cs == 1 {
            // Row-major: each panel row is a contiguous run of B's row.
            for (p, row) in panel.chunks_exact_mut(nr).enumerate() {
                let start = b.index(pc + p, j0);
                row[..width].copy_from_slice(&b.data[start..start + width]);
                row[width..].fill(0.0);
            }
        } else {
            // Column-major: walk each column down (contiguous reads, strided writes).
            panel.fill(0.0);
            for jj in 0..width {
                let start = b.index(pc, j0 + jj);
                let column = &b.data[start..][..(kc - 1) * b.rs + 1];
                for (p, &x) in column.iter().step_by(b.rs).enumerate() {
                    panel[p * nr + jj] = x;
                }
            }
        }
    }
}

/// Copies `A[row .. row + mr, pc .. pc + kc]` (`kc = out.len() / mr_full`) to `out` as `mr_full`
/// rows (element `(i, p)` at `out[p · mr_full + i]`), zero past row `mr`.
fn pack_a_strip(a: View<'_>, row: usize, mr: usize, pc: usize, mr_full: usize, out: &mut [f32]) {
    for (p, column) in out.chunks_exact_mut(mr_full).enumerate() {
        for (i, x) in column.iter_mut().enumerate() {
            *x = if i < mr {
                a.data[a.index(row + i, pc + p)]
            } else {
                0.0
            };
        }
    }
}
