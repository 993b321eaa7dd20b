//! The blocking loops around the micro-kernels: which strategy runs, and the one stack buffer.
//!
//! Two strategies give the same bits (each `C` element is owned by exactly one micro-tile per
//! `k` block, which loads it, adds its products for ascending `p` and stores it; the next `k`
//! block resumes from the stored value — blocking along `m` and `n` only decides which elements
//! are computed together, never the order of a sum):
//!
//! * [`packed_a`](super::packed_a): when `B` is row-major and at least two micro-panels wide,
//!   an `MR`-row strip of `A` is packed pre-broadcast and every micro-panel of `B` is read in
//!   place. No shuffle in the inner loop; `A` is read from memory once.
//! * [`packed_b`](super::packed_b): otherwise (column-major `B`, narrow `n`, and the ragged last
//!   micro-panel of the first strategy), a `kc × NR` micro-panel of `B` is packed and every
//!   strip of `A` is read in place, `a[i][p]` broadcast in registers.
//!
//! Stack: one [`Scratch`] of 6 KiB plus one `MR × NR` accumulator (128 B; 256 B with AVX),
//! whatever the shape.

use super::kernel::NR;
use super::{packed_a, packed_b, Layout};

/// Rows of `C` per micro-tile. The accumulator is 8 vector registers (see [`NR`]), leaving
/// room for the `B` row and the `A` values in the 16 that SSE2 and AVX have.
pub(super) const MR: usize = 4;

/// f32 values in the one stack buffer: 6 KiB.
pub(super) const SCRATCH: usize = 1536;

const _: () = assert!(SCRATCH * 4 <= 8 * 1024, "the stack budget is 8 KiB");

/// The one stack buffer, aligned to a cache line so that no packed row straddles two. Stored
/// as 4-lane groups so that [`packed_a`](super::packed_a) can use it whole; the other strategy
/// flattens it.
#[repr(align(64))]
pub(super) struct Scratch(pub(super) [[f32; 4]; SCRATCH / 4]);

impl Scratch {
    pub(super) const fn new() -> Self {
        Self([[0.0; 4]; SCRATCH / 4])
    }
}

/// The shared description of one product; lengths already checked by the caller.
#[derive(Clone, Copy)]
pub(super) struct Product<'a> {
    pub(super) m: usize,
    pub(super) k: usize,
    pub(super) n: usize,
    pub(super) a: &'a [f32],
    pub(super) a_layout: Layout,
    pub(super) b: &'a [f32],
    pub(super) b_layout: Layout,
}

/// `C += A · B` with the reference bits; picks the faster strategy for the shape.
pub(super) fn gemm_acc(g: Product<'_>, c: &mut [f32]) {
    if g.m == 0 || g.n == 0 || g.k == 0 {
        return;
    }
    let mut scratch = Scratch::new();
    if g.b_layout == Layout::RowMajor && g.n >= 2 * NR {
        packed_a::gemm_acc(g, c, &mut scratch);
    } else {
        packed_b::gemm_acc(g, c, &mut scratch);
    }
}

const _: () = assert!(
    MR <= 8,
    "the strategies' remainder matches cover up to 7 rows"
);
