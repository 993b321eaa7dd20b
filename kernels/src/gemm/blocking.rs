//! The blocking loops around the micro-kernel.
//!
//! Order (outer to inner): `k` in blocks of [`KC`], `m` in blocks of [`MC`], `n` in micro-panels
//! of [`NR`] (one packed `B` panel each), `m` in micro-tiles of [`MR`] rows. Every `C` element
//! is owned by exactly one micro-tile per `k` block, which loads it, adds its `kc` products in
//! ascending `p` and stores it; the next `k` block resumes from the stored value. Blocking along
//! `m` and `n` only decides which elements are computed together, never the order of a sum.
//!
//! Stack: one packed panel of `KC × NR` f32 = 6 KiB, plus one `MR × NR` accumulator (128 B).

use core::array;

use super::kernel::{micro_kernel, NR};
use super::pack::pack_b;
use super::Layout;

/// Rows of `C` per micro-tile. With [`NR`] = 8 the accumulator is 8 SSE registers (4 AVX),
/// leaving room for the `B` row and the broadcast `A` value.
pub(super) const MR: usize = 4;
/// Depth of one `k` block: sizes the packed `B` panel (`KC · NR · 4` bytes on the stack).
pub(super) const KC: usize = 192;
/// Rows of `A` per `m` block: `MC × KC` f32 of `A` (96 KiB) stay in L2 while every `B` panel of
/// the block streams past them.
pub(super) const MC: usize = 128;

const _: () = assert!(MC % MR == 0);
const _: () = assert!(
    KC * NR * 4 <= 8 * 1024,
    "the packed panel must fit the 8 KiB budget"
);

/// `C += A · B` with the reference bits; lengths already checked by the caller.
#[allow(clippy::too_many_arguments)]
pub(super) fn gemm_acc(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    a_layout: Layout,
    b: &[f32],
    b_layout: Layout,
    c: &mut [f32],
) {
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    let mut panel = [0.0f32; KC * NR];
    let mut pc = 0;
    while pc < k {
        let kc = KC.min(k - pc);
        let mut ic = 0;
        while ic < m {
            let mc = MC.min(m - ic);
            let mut jc = 0;
            while jc < n {
                let nr = NR.min(n - jc);
                pack_b(b, b_layout, k, n, pc, kc, jc, nr, &mut panel);
                let tile = Tile {
                    a,
                    a_layout,
                    m,
                    k,
                    n,
                    pc,
                    kc,
                    jc,
                    nr,
                    panel: &panel[..kc * NR],
                };
                let end = ic + mc;
                let mut ir = ic;
                while ir + MR <= end {
                    tile.run::<MR>(ir, c);
                    ir += MR;
                }
                match end - ir {
                    1 => tile.run::<1>(ir, c),
                    2 => tile.run::<2>(ir, c),
                    3 => tile.run::<3>(ir, c),
                    _ => {}
                }
                jc += NR;
            }
            ic += MC;
        }
        pc += KC;
    }
}

/// What every micro-tile of one packed panel shares.
struct Tile<'a> {
    a: &'a [f32],
    a_layout: Layout,
    m: usize,
    k: usize,
    n: usize,
    pc: usize,
    kc: usize,
    jc: usize,
    nr: usize,
    panel: &'a [f32],
}

const _: () = assert!(MR == 4, "Tile::run's remainder match covers MR - 1 rows");

impl Tile<'_> {
    /// Updates rows `ir..ir + R`, columns `jc..jc + nr` of `C` over this `k` block.
    #[inline(always)]
    fn run<const R: usize>(&self, ir: usize, c: &mut [f32]) {
        let (kc, nr) = (self.kc, self.nr);
        let mut acc = [[0.0f32; NR]; R];
        for (i, acc_row) in acc.iter_mut().enumerate() {
            acc_row[..nr].copy_from_slice(&c[(ir + i) * self.n + self.jc..][..nr]);
        }
        match self.a_layout {
            Layout::RowMajor => {
                let rows: [&[f32]; R] =
                    array::from_fn(|i| &self.a[(ir + i) * self.k + self.pc..][..kc]);
                micro_kernel(
                    (0..kc).map(|p| array::from_fn(|i| rows[i][p])),
                    self.panel,
                    &mut acc,
                );
            }
            Layout::ColMajor => {
                let cols = self.a[self.pc * self.m + ir..].chunks(self.m).take(kc);
                micro_kernel(
                    cols.map(|col| match col.first_chunk::<R>() {
                        Some(strip) => *strip,
                        None => [0.0; R], // unreachable: ir + R <= m
                    }),
                    self.panel,
                    &mut acc,
                );
            }
        }
        for (i, acc_row) in acc.iter().enumerate() {
            c[(ir + i) * self.n + self.jc..][..nr].copy_from_slice(&acc_row[..nr]);
        }
    }
}
