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
    debug_assert!(nr >= 1 && nr <= NR && pc + kc <= k && jc + nr <= n);
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
