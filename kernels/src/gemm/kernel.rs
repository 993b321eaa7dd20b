//! The micro-kernel: one `MR × NR` tile of `C` updated over one block of `k`.
//!
//! Written as plain array arithmetic that LLVM's SLP vectoriser turns into 4-lane (SSE2/NEON)
//! or 8-lane (AVX) multiplies and adds across `j`; `a[i][p]` is broadcast. No `mul_add`: each
//! product and each sum is rounded to f32 separately, and `p` runs strictly ascending, so every
//! element gets the reference bits whatever the vector width.

/// Columns of `C` per micro-tile; the packed `B` micro-panel is `kc × NR`.
///
/// Two vector registers per row of the tile: 8 where vectors hold 4 lanes (SSE2, NEON, and a
/// board's scalar FPU, where the size only sets the loop shape), 16 with AVX's 8 lanes. The
/// `MR × NR` accumulator is then 8 registers either way. The bits do not depend on it.
pub(super) const NR: usize = if cfg!(target_feature = "avx") { 16 } else { 8 };

/// `acc[i][j] = acc[i][j] + a[i][p] * b[p][j]` for `p` ascending, where the `p`-th item of `a`
/// is column `p` of the `MR`-row strip of `A` and `b` is the packed micro-panel (`NR` values per
/// `p`). Runs for as many `p` as both supply.
#[inline(always)]
pub(super) fn micro_kernel<const MR: usize>(
    a: impl Iterator<Item = [f32; MR]>,
    b: &[f32],
    acc: &mut [[f32; NR]; MR],
) {
    for (a_col, b_row) in a.zip(b.chunks_exact(NR)) {
        let b_row: &[f32; NR] = match b_row.try_into() {
            Ok(row) => row,
            Err(_) => return, // unreachable: chunks_exact yields exactly NR values
        };
        for i in 0..MR {
            let a_ip = a_col[i];
            for j in 0..NR {
                acc[i][j] += a_ip * b_row[j];
            }
        }
    }
}

/// The same recurrence with `A` pre-broadcast and `B` read in place: `a[p * MR + i]` holds
/// four copies of `a[i][p]` (so the multiply reads a ready vector, no shuffle), and the `p`-th
/// item of `b` is row `p` of `B`, columns `jc..jc + NR`.
#[inline(always)]
pub(super) fn micro_kernel_broadcast_a<'b, const MR: usize>(
    a: &[[f32; 4]],
    b: impl Iterator<Item = &'b [f32; NR]>,
    acc: &mut [[f32; NR]; MR],
) {
    for (a_col, b_row) in a.chunks_exact(MR).zip(b) {
        for i in 0..MR {
            let a_ip = &a_col[i];
            for j in 0..NR {
                acc[i][j] += a_ip[j % 4] * b_row[j];
            }
        }
    }
}
