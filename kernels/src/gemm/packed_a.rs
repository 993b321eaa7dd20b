//! Strategy 2 (row-major `B`, `n >= 2·NR`): pack one `MR`-row strip of `A` pre-broadcast and
//! sweep every micro-panel of `B` past it, reading `B`'s rows in place.
//!
//! Order (outer to inner): `m` in blocks of [`MC`] rows, `k` in blocks of [`KC`], `m` in strips
//! of [`MR`] rows (one packed, pre-broadcast strip each), `n` in micro-panels of [`NR`]. The
//! ragged last micro-panel, if any, goes through [`packed_b::k_block`] within the same `k`
//! block, so every element still sees its `k` blocks in ascending order.
//!
//! Why this order: the micro-kernel reads `B` in place, so the `KC × n` block of `B` it sweeps
//! should sit in L1 (16 KiB at the conv2 shape, `n` = 128), and the `MC × n` block of `C` that
//! every `k` block loads and stores again should sit in L2 (128 KiB there). `A` is read once.

use super::blocking::{Product, Scratch, MR, SCRATCH};
use super::kernel::{micro_kernel_broadcast_a, NR};
use super::pack::pack_a_broadcast;
use super::packed_b::{self, load_tile, store_tile};
use super::Layout;

/// Depth of one `k` block: the pre-broadcast strip is `MR × KC` 4-lane groups (2 KiB). The `B`
/// block it meets, `KC × n` f32, is 16 KiB at `n` = 128: L1-resident while every strip of an
/// `m` block passes. (96, the whole scratch, left that block in L2 and ran about a fifth slower
/// at the conv2 shape; 16 spends too much on loading and storing `C`.)
pub(super) const KC: usize = 32;

/// Rows of `C` per `m` block: the `MC × n` block of `C` (128 KiB at `n` = 128) stays in L2
/// while its `k` blocks pass.
pub(super) const MC: usize = 256;

const _: () = assert!(MC % MR == 0, "only the last m block has a ragged strip");

const _: () = assert!(KC * MR * 4 <= SCRATCH, "the strip fits the scratch");
const _: () = assert!(KC <= packed_b::KC, "the ragged panel reuses this k block");

/// `C += A · B` for a row-major `B`.
pub(super) fn gemm_acc(g: Product<'_>, c: &mut [f32], scratch: &mut Scratch) {
    debug_assert!(g.b_layout == Layout::RowMajor);
    let n_full = g.n - g.n % NR;
    let mut ic = 0;
    while ic < g.m {
        let m_end = g.m.min(ic + MC);
        let mut pc = 0;
        while pc < g.k {
            let kc = KC.min(g.k - pc);
            let mut ir = ic;
            while ir + MR <= m_end {
                strip::<MR>(g, c, scratch, ir, pc, kc, n_full);
                ir += MR;
            }
            match m_end - ir {
                1 => strip::<1>(g, c, scratch, ir, pc, kc, n_full),
                2 => strip::<2>(g, c, scratch, ir, pc, kc, n_full),
                3 => strip::<3>(g, c, scratch, ir, pc, kc, n_full),
                4 => strip::<4>(g, c, scratch, ir, pc, kc, n_full),
                5 => strip::<5>(g, c, scratch, ir, pc, kc, n_full),
                6 => strip::<6>(g, c, scratch, ir, pc, kc, n_full),
                7 => strip::<7>(g, c, scratch, ir, pc, kc, n_full),
                _ => {}
            }
            if n_full < g.n {
                packed_b::k_block(g, c, scratch, pc, kc, ic..m_end, n_full);
            }
            pc += KC;
        }
        ic = m_end;
    }
}

/// Rows `ir..ir + R`, columns `0..n_full` of `C` over the `k` block `pc..pc + kc`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn strip<const R: usize>(
    g: Product<'_>,
    c: &mut [f32],
    scratch: &mut Scratch,
    ir: usize,
    pc: usize,
    kc: usize,
    n_full: usize,
) {
    pack_a_broadcast::<R>(g.a, g.a_layout, g.m, g.k, ir, pc, kc, &mut scratch.0);
    let a_strip = &scratch.0[..kc * R];
    // Whole rows, so that `chunks_exact` knows every row's length and the column window's
    // bounds check is loop-invariant.
    let b_block = &g.b[pc * g.n..(pc + kc) * g.n];
    let mut jc = 0;
    while jc < n_full {
        let mut acc = [[0.0f32; NR]; R];
        load_tile(&mut acc, c, g.n, ir, jc, NR);
        let b_rows = b_block
            .chunks_exact(g.n)
            .map_while(|row| row.get(jc..).and_then(|row| row.first_chunk::<NR>()));
        micro_kernel_broadcast_a(a_strip, b_rows, &mut acc);
        store_tile(&acc, c, g.n, ir, jc, NR);
        jc += NR;
    }
}
