//! Packing one `kc × NR` micro-panel of `B` into a contiguous stack buffer.
//!
//! The micro-kernel then reads `B` as one sequential, L1-resident stream whatever `B`'s layout
//! or row stride (a row stride of 512 bytes, as at the conv2 shape, would otherwise map every
//! row onto the same few L1 sets).

use super::kernel::NR;
use super::Layout;

/// Writes `out[p * NR + j] = B[pc + p][jc + j]` for `p < kc`, `j < nr`, and zero for
/// `nr <= j < NR` (those columns are computed and thrown away, never stored into `C`).
/// `B` is `k × n` stored as `layout`.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(super) fn pack_b(
    b: &[f32],
    layout: Layout,
    k: usize,
    n: usize,
    pc: usize,
    kc: usize,
    jc: usize,
    nr: usize,
    out: &mut [f32],
) {
    debug_assert!((1..=NR).contains(&nr) && pc + kc <= k && jc + nr <= n);
    let out = &mut out[..kc * NR];
    match layout {
        Layout::RowMajor => {
            for (p, dst) in out.chunks_exact_mut(NR).enumerate() {
                let src = &b[(pc + p) * n + jc..][..nr];
                dst[..nr].copy_from_slice(src);
                dst[nr..].fill(0.0);
            }
        }
        Layout::ColMajor => {
            if nr < NR {
                out.fill(0.0);
            }
            for j in 0..nr {
                let col = &b[(jc + j) * k + pc..][..kc];
                for (dst, &v) in out.chunks_exact_mut(NR).zip(col) {
                    dst[j] = v;
                }
            }
        }
    }
}

/// Writes `out[p * R + i] = [A[ir + i][pc + p]; 4]` for `p < kc`, `i < R`: an `R`-row strip of
/// `A` with every value already broadcast to a 4-lane vector. `A` is `m × k` stored as `layout`.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(super) fn pack_a_broadcast<const R: usize>(
    a: &[f32],
    layout: Layout,
    m: usize,
    k: usize,
    ir: usize,
    pc: usize,
    kc: usize,
    out: &mut [[f32; 4]],
) {
    debug_assert!(ir + R <= m && pc + kc <= k);
    let out = &mut out[..kc * R];
    match layout {
        Layout::RowMajor => {
            for i in 0..R {
                let row = &a[(ir + i) * k + pc..][..kc];
                for (dst, &v) in out.chunks_exact_mut(R).zip(row) {
                    dst[i] = [v; 4];
                }
            }
        }
        Layout::ColMajor => {
            for (p, dst) in out.chunks_exact_mut(R).enumerate() {
                let col = &a[(pc + p) * m + ir..][..R];
                for (d, &v) in dst.iter_mut().zip(col) {
                    *d = [v; 4];
                }
            }
        }
    }
}
