//! Strategy 1: pack one `kc × NR` micro-panel of `B`, sweep it past every strip of `A`.
//!
//! Order (outer to inner): `k` in blocks of [`KC`], `m` in blocks of [`MC`], `n` in micro-panels
//! of [`NR`] (one packed `B` panel each), `m` in micro-tiles of [`MR`] rows.

use core::array;

use super::blocking::{Product, Scratch, MR, SCRATCH};
use super::kernel::{micro_kernel, NR};
use super::pack::pack_b;
use super::Layout;

/// Depth of one `k` block: the packed panel is `KC × NR` f32 (the whole scratch).
pub(super) const KC: usize = SCRATCH / NR;
/// Rows of `A` per `m` block: `MC × KC` f32 of `A` (96 KiB, 48 KiB with AVX) stay in L2 while
/// every `B` panel of the block streams past them.
pub(super) const MC: usize = 128;

const _: () = assert!(MC % MR == 0);

/// `C += A · B` over every column (any layouts).
pub(super) fn gemm_acc(g: Product<'_>, c: &mut [f32], scratch: &mut Scratch) {
    let mut pc = 0;
    while pc < g.k {
        let kc = KC.min(g.k - pc);
        let mut ic = 0;
        while ic < g.m {
            let mc = MC.min(g.m - ic);
            k_block(g, c, scratch, pc, kc, ic..ic + mc, 0);
            ic += MC;
        }
        pc += KC;
    }
}

/// Rows `rows`, columns `jc0..n` of `C` over the `k` block `pc..pc + kc` (`kc <= KC`).
pub(super) fn k_block(
    g: Product<'_>,
    c: &mut [f32],
    scratch: &mut Scratch,
    pc: usize,
    kc: usize,
    rows: core::ops::Range<usize>,
    jc0: usize,
) {
    debug_assert!(kc <= KC);
    let panel = scratch.0.as_flattened_mut();
    let mut jc = jc0;
    while jc < g.n {
        let nr = NR.min(g.n - jc);
        pack_b(g.b, g.b_layout, g.k, g.n, pc, kc, jc, nr, panel);
        let tile = Tile {
            g,
            pc,
            kc,
            jc,
            nr,
            panel: &panel[..kc * NR],
        };
        let mut ir = rows.start;
        while ir + MR <= rows.end {
            tile.run::<MR>(ir, c);
            ir += MR;
        }
        match rows.end - ir {
            1 => tile.run::<1>(ir, c),
            2 => tile.run::<2>(ir, c),
            3 => tile.run::<3>(ir, c),
            4 => tile.run::<4>(ir, c),
            5 => tile.run::<5>(ir, c),
            6 => tile.run::<6>(ir, c),
            7 => tile.run::<7>(ir, c),
            _ => {}
        }
        jc += NR;
    }
}

/// What every micro-tile of one packed panel shares.
struct Tile<'a> {
    g: Product<'a>,
    pc: usize,
    kc: usize,
    jc: usize,
    nr: usize,
    panel: &'a [f32],
}

impl Tile<'_> {
    /// Updates rows `ir..ir + R`, columns `jc..jc + nr` of `C` over this `k` block.
    #[inline(always)]
    fn run<const R: usize>(&self, ir: usize, c: &mut [f32]) {
        let (g, kc, nr) = (self.g, self.kc, self.nr);
        let mut acc = [[0.0f32; NR]; R];
        load_tile(&mut acc, c, g.n, ir, self.jc, nr);
        match g.a_layout {
            Layout::RowMajor => {
                let rows: [&[f32]; R] = array::from_fn(|i| &g.a[(ir + i) * g.k + self.pc..][..kc]);
                micro_kernel(
                    (0..kc).map(|p| array::from_fn(|i| rows[i][p])),
                    self.panel,
                    &mut acc,
                );
            }
            Layout::ColMajor => {
                let cols = g.a[self.pc * g.m + ir..].chunks(g.m).take(kc);
                micro_kernel(
                    cols.map_while(|col| col.first_chunk::<R>().copied()),
                    self.panel,
                    &mut acc,
                );
            }
        }
        store_tile(&acc, c, g.n, ir, self.jc, nr);
    }
}

/// `acc[i][..nr] = C[ir + i][jc..jc + nr]`; whole-width tiles copy a constant `NR` values
/// (inlined moves rather than a `memcpy` call).
#[inline(always)]
pub(super) fn load_tile<const R: usize>(
    acc: &mut [[f32; NR]; R],
    c: &[f32],
    n: usize,
    ir: usize,
    jc: usize,
    nr: usize,
) {
    for (i, acc_row) in acc.iter_mut().enumerate() {
        let c_row = &c[(ir + i) * n + jc..];
        if nr == NR {
            acc_row.copy_from_slice(&c_row[..NR]);
        } else {
            acc_row[..nr].copy_from_slice(&c_row[..nr]);
        }
    }
}

/// `C[ir + i][jc..jc + nr] = acc[i][..nr]`: the padded columns are never stored.
#[inline(always)]
pub(super) fn store_tile<const R: usize>(
    acc: &[[f32; NR]; R],
    c: &mut [f32],
    n: usize,
    ir: usize,
    jc: usize,
    nr: usize,
) {
    for (i, acc_row) in acc.iter().enumerate() {
        let c_row = &mut c[(ir + i) * n + jc..];
        if nr == NR {
            c_row[..NR].copy_from_slice(acc_row);
        } else {
            c_row[..nr].copy_from_slice(&acc_row[..nr]);
        }
    }
}
