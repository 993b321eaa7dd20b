//! The micro-kernels: `C[MR×NR] += A[MR×kc] · B[kc×NR]`, one per instruction set, chosen at
//! run time.
//!
//! Every variant updates each `c[i][j]` by one fused multiply-add per `p = 0, 1, …, kc − 1` in
//! that order, starting from `C`'s value: a chain of correctly rounded `fma`s. The bits therefore
//! depend neither on the variant, nor on `MR`/`NR`, nor on how the caller tiles `C` or blocks
//! `k` (a stored and reloaded f32 partial sum is exact) — `tests` holds every variant to the
//! generic one's bits, and `FastGemm`'s results to the same bits for any thread count.

/// One instruction set's micro-kernel.
pub(super) trait MicroKernel {
    /// Rows of the `C` tile.
    const MR: usize;
    /// Columns of the `C` tile (and of a packed `B` panel).
    const NR: usize;

    /// `C += A · B` over one `MR × NR` tile.
    ///
    /// # Safety
    /// `a.add(i * rsa + p * csa)` is readable for `i < MR`, `p < kc`; `b` holds `kc · NR` packed
    /// values (row `p` at `b[p · NR ..]`); `c.add(i * rsc + j)` is readable and writable for
    /// `i < MR`, `j < NR`, and no other thread touches those cells meanwhile. The CPU has the
    /// variant's features ([`Isa::detect`] chose it).
    unsafe fn run(
        kc: usize,
        a: *const f32,
        rsa: usize,
        csa: usize,
        b: &[f32],
        c: *mut f32,
        rsc: usize,
    );
}

/// The instruction sets with a micro-kernel, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// AVX-512F: an 8 × 32 tile in 16 zmm accumulators.
    Avx512,
    /// AVX2 with FMA: a 6 × 16 tile in 12 ymm accumulators.
    Avx2Fma,
    /// Plain Rust with `f32::mul_add` (any CPU): a 4 × 8 tile.
    Generic,
}

impl Isa {
    /// The best instruction set this CPU runs.
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return Self::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Self::Avx2Fma;
            }
        }
        Self::Generic
    }

    /// Every instruction set this CPU runs (the tests sweep them all).
    pub fn available() -> Vec<Self> {
        let best = Self::detect();
        [Self::Avx512, Self::Avx2Fma, Self::Generic]
            .into_iter()
            .filter(|&isa| isa as u8 >= best as u8)
            .collect()
    }
}

/// Plain Rust, one `mul_add` per product: the fallback, and the reference the SIMD variants are
/// tested against bit for bit.
pub(super) struct Generic;

impl MicroKernel for Generic {
    const MR: usize = 4;
    const NR: usize = 8;

    unsafe fn run(
        kc: usize,
        a: *const f32,
        rsa: usize,
        csa: usize,
        b: &[f32],
        c: *mut f32,
        rsc: usize,
    ) {
        let mut acc = [[0.0f32; Self::NR]; Self::MR];
        for (i, row) in acc.iter_mut().enumerate() {
            for (j, x) in row.iter_mut().enumerate() {
                // SAFETY: i < MR, j < NR (the caller's contract).
                *x = unsafe { *c.add(i * rsc + j) };
            }
        }
        for (p, bp) in b[..kc * Self::NR].chunks_exact(Self::NR).enumerate() {
            for (i, row) in acc.iter_mut().enumerate() {
                // SAFETY: i < MR, p < kc (the caller's contract).
                let ai = unsafe { *a.add(i * rsa + p * csa) };
                for (x, &bj) in row.iter_mut().zip(bp) {
                    *x = ai.mul_add(bj, *x);
                }
            }
        }
        for (i, row) in acc.iter().enumerate() {
            for (j, &x) in row.iter().enumerate() {
                // SAFETY: as above.
                unsafe { *c.add(i * rsc + j) = x };
            }
        }
    }
}

/// AVX-512F, 8 × 32.
#[cfg(target_arch = "x86_64")]
pub(super) struct Avx512;

#[cfg(target_arch = "x86_64")]
impl MicroKernel for Avx512 {
    const MR: usize = 8;
    const NR: usize = 32;

    unsafe fn run(
        kc: usize,
        a: *const f32,
        rsa: usize,
        csa: usize,
        b: &[f32],
        c: *mut f32,
        rsc: usize,
    ) {
        // SAFETY: forwarded contract; `Isa::detect` saw avx512f.
        unsafe { avx512_8x32(kc, a, rsa, csa, b, c, rsc) }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn avx512_8x32(
    kc: usize,
    a: *const f32,
    rsa: usize,
    csa: usize,
    b: &[f32],
    c: *mut f32,
    rsc: usize,
) {
    use std::arch::x86_64::{_mm512_fmadd_ps, _mm512_loadu_ps, _mm512_set1_ps, _mm512_storeu_ps};
    const MR: usize = 8;
    let b = &b[..kc * 32];
    // SAFETY (every block below): the caller's contract bounds `c` to MR rows of 32 and `a` to
    // MR rows of kc; `b` was bounds-checked by the slice above.
    let mut acc = [[unsafe { _mm512_loadu_ps(c) }; 2]; MR];
    for (i, row) in acc.iter_mut().enumerate() {
        let ci = unsafe { c.add(i * rsc) };
        *row = unsafe { [_mm512_loadu_ps(ci), _mm512_loadu_ps(ci.add(16))] };
    }
    let mut ap = a;
    for bp in b.chunks_exact(32) {
        let (b0, b1) = unsafe {
            (
                _mm512_loadu_ps(bp.as_ptr()),
                _mm512_loadu_ps(bp.as_ptr().add(16)),
            )
        };
        for (i, row) in acc.iter_mut().enumerate() {
            let ai = _mm512_set1_ps(unsafe { *ap.add(i * rsa) });
            row[0] = _mm512_fmadd_ps(ai, b0, row[0]);
            row[1] = _mm512_fmadd_ps(ai, b1, row[1]);
        }
        ap = ap.wrapping_add(csa);
    }
    for (i, row) in acc.iter().enumerate() {
        let ci = unsafe { c.add(i * rsc) };
        unsafe {
            _mm512_storeu_ps(ci, row[0]);
            _mm512_storeu_ps(ci.add(16), row[1]);
        }
    }
}

/// AVX2 + FMA, 6 × 16.
#[cfg(target_arch = "x86_64")]
pub(super) struct Avx2Fma;

#[cfg(target_arch = "x86_64")]
impl MicroKernel for Avx2Fma {
    const MR: usize = 6;
    const NR: usize = 16;

    unsafe fn run(
        kc: usize,
        a: *const f32,
        rsa: usize,
        csa: usize,
        b: &[f32],
        c: *mut f32,
        rsc: usize,
    ) {
        // SAFETY: forwarded contract; `Isa::detect` saw avx2 and fma.
        unsafe { avx2_6x16(kc, a, rsa, csa, b, c, rsc) }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2_6x16(
    kc: usize,
    a: *const f32,
    rsa: usize,
    csa: usize,
    b: &[f32],
    c: *mut f32,
    rsc: usize,
) {
    use std::arch::x86_64::{_mm256_fmadd_ps, _mm256_loadu_ps, _mm256_set1_ps, _mm256_storeu_ps};
    const MR: usize = 6;
    let b = &b[..kc * 16];
    // SAFETY (every block below): as in `avx512_8x32`, with 6 rows of 16.
    let mut acc = [[unsafe { _mm256_loadu_ps(c) }; 2]; MR];
    for (i, row) in acc.iter_mut().enumerate() {
        let ci = unsafe { c.add(i * rsc) };
        *row = unsafe { [_mm256_loadu_ps(ci), _mm256_loadu_ps(ci.add(8))] };
    }
    let mut ap = a;
    for bp in b.chunks_exact(16) {
        let (b0, b1) = unsafe {
            (
                _mm256_loadu_ps(bp.as_ptr()),
                _mm256_loadu_ps(bp.as_ptr().add(8)),
            )
        };
        for (i, row) in acc.iter_mut().enumerate() {
            let ai = _mm256_set1_ps(unsafe { *ap.add(i * rsa) });
            row[0] = _mm256_fmadd_ps(ai, b0, row[0]);
            row[1] = _mm256_fmadd_ps(ai, b1, row[1]);
        }
        ap = ap.wrapping_add(csa);
    }
    for (i, row) in acc.iter().enumerate() {
        let ci = unsafe { c.add(i * rsc) };
        unsafe {
            _mm256_storeu_ps(ci, row[0]);
            _mm256_storeu_ps(ci.add(8), row[1]);
        }
    }
}
