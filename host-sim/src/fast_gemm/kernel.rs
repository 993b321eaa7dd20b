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
    /// Rows of the `C` tile (and of a packed `A` strip).
    const MR: usize;
    /// Columns of the `C` tile (and of a packed `B` panel).
    const NR: usize;

    /// `C += A · B` over one `MR × NR` tile, `kc = a.kc`.
    ///
    /// `a` holds the `MR × kc` block of `A` (see [`Strip`]); `b = (values, rsb)` holds row `p`
    /// of the `kc × NR` panel at `values[p · rsb ..][.. NR]` (`rsb = NR` packed, `B`'s row
    /// length in place).
    ///
    /// # Panics
    /// If `b.0` is shorter than `(kc − 1) · rsb + NR`, or `a.data` than its last value's index.
    ///
    /// # Safety
    /// `c.add(i * rsc + j)` is readable and writable for `i < MR`, `j < NR`, and no other thread
    /// touches those cells meanwhile. The CPU has the variant's features ([`Isa::available`]
    /// lists it).
    unsafe fn run(a: Strip<'_>, b: (&[f32], usize), c: *mut f32, rsc: usize);

    /// Packs `rows.len() ≤ MR` rows of a row-major `A`, each `kc = strip.len() / MR` long, into
    /// one strip (column `p` at `strip[p · MR ..]`), zero past the last row.
    fn pack_rows(rows: &[&[f32]], strip: &mut [f32]) {
        scatter(rows, strip, Self::MR);
    }

    /// Packs `columns.len() ≤ NR` columns of a column-major `B`, each `kc = panel.len() / NR`
    /// long, into one panel (row `p` at `panel[p · NR ..]`), zero past the last column.
    fn pack_columns(columns: &[&[f32]], panel: &mut [f32]) {
        scatter(columns, panel, Self::NR);
    }
}

/// The `MR × kc` block of `A` one micro-kernel call reads: value `(i, p)` at
/// `data[i · rs + p · cs]` — a packed strip (`rs = 1`, `cs = MR`, see [`Strip::packed`]) or `MR`
/// rows of a row-major `A` read in place (`rs` its row length, `cs = 1`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Strip<'a> {
    pub data: &'a [f32],
    pub rs: usize,
    pub cs: usize,
    pub kc: usize,
}

impl<'a> Strip<'a> {
    /// A packed strip: `data` holds `kc` columns of `mr` values one after the other.
    pub fn packed(data: &'a [f32], mr: usize) -> Self {
        Self {
            data,
            rs: 1,
            cs: mr,
            kc: data.len() / mr,
        }
    }

    /// Where each of the first `MR` rows starts; value `(i, p)` is then at `rows[i] + p · cs`.
    ///
    /// # Panics
    /// If `data` is too short for value `(MR − 1, kc − 1)`: every value read through the
    /// pointers is then inside `data`.
    fn rows<const MR: usize>(&self) -> [*const f32; MR] {
        if let Some(last_p) = self.kc.checked_sub(1) {
            let last = (MR - 1) * self.rs + last_p * self.cs;
            assert!(last < self.data.len(), "A's strip ends past its slice");
        }
        let start = self.data.as_ptr();
        std::array::from_fn(|i| start.wrapping_add(i * self.rs))
    }
}

/// The `kc` rows (each `nr` long) of a panel stored at row stride `b.1`.
///
/// # Panics
/// If `b.0` is shorter than `(kc − 1) · b.1 + nr`.
fn panel_rows(
    (values, rsb): (&[f32], usize),
    kc: usize,
    nr: usize,
) -> impl Iterator<Item = &[f32]> {
    let values = &values[..kc.saturating_sub(1) * rsb + nr];
    (0..kc).map(move |p| &values[p * rsb..][..nr])
}

/// `out[p · width + i] = lines[i][p]` for `p < out.len() / width`, zero for `i ≥ lines.len()`:
/// the plain packing loop (strided stores).
fn scatter(lines: &[&[f32]], out: &mut [f32], width: usize) {
    out.fill(0.0);
    for (i, line) in lines.iter().enumerate() {
        for (p, &x) in line[..out.len() / width].iter().enumerate() {
            out[p * width + i] = x;
        }
    }
}

/// [`scatter`] with every full group of 8 lines through 8 × 8 register transposes: strided
/// scalar stores cost a fifth of a conv layer's forward pass (row-major `A`) and most of a dense
/// layer's `d_input` at a small batch (column-major `B`).
///
/// # Safety
/// The CPU has AVX.
#[cfg(target_arch = "x86_64")]
unsafe fn scatter_avx(lines: &[&[f32]], out: &mut [f32], width: usize) {
    let kc = out.len() / width;
    if lines.len() < width {
        out.fill(0.0);
    }
    for (g, group) in lines.chunks(8).enumerate() {
        let out = &mut out[g * 8..];
        match <&[&[f32]; 8]>::try_from(group) {
            // SAFETY: the caller's contract.
            Ok(group) => unsafe { transpose_8(group, kc, out, width) },
            Err(_) => {
                for (i, line) in group.iter().enumerate() {
                    for (p, &x) in line[..kc].iter().enumerate() {
                        out[p * width + i] = x;
                    }
                }
            }
        }
    }
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

    unsafe fn run(a: Strip<'_>, b: (&[f32], usize), c: *mut f32, rsc: usize) {
        let rows = a.rows::<{ <Generic as MicroKernel>::MR }>();
        let mut acc = [[0.0f32; Self::NR]; Self::MR];
        for (i, row) in acc.iter_mut().enumerate() {
            for (j, x) in row.iter_mut().enumerate() {
                // SAFETY: i < MR, j < NR (the caller's contract).
                *x = unsafe { *c.add(i * rsc + j) };
            }
        }
        for (p, bp) in panel_rows(b, a.kc, Self::NR).enumerate() {
            for (row, r) in acc.iter_mut().zip(rows) {
                // SAFETY: p < kc, so the value is inside A's slice (`rows` checked).
                let ai = unsafe { *r.add(p * a.cs) };
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

    unsafe fn run(a: Strip<'_>, b: (&[f32], usize), c: *mut f32, rsc: usize) {
        // SAFETY: forwarded contract; `Isa::available` saw avx512f.
        unsafe { avx512_8x32(a, b, c, rsc) }
    }

    fn pack_rows(rows: &[&[f32]], strip: &mut [f32]) {
        // SAFETY: avx512f implies avx (this kernel runs only where `Isa::available` saw it).
        unsafe { scatter_avx(rows, strip, Self::MR) }
    }

    fn pack_columns(columns: &[&[f32]], panel: &mut [f32]) {
        // SAFETY: as above.
        unsafe { scatter_avx(columns, panel, Self::NR) }
    }
}

/// `out[p · width + i] = rows[i][p]` for `p < kc`, `i < 8`.
///
/// # Panics
/// If a row is shorter than `kc` or `out` than `(kc − 1) · width + 8`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
fn transpose_8(rows: &[&[f32]; 8], kc: usize, out: &mut [f32], width: usize) {
    use std::arch::x86_64::{
        _mm256_loadu_ps, _mm256_permute2f128_ps as lanes, _mm256_shuffle_ps as shuffle,
        _mm256_storeu_ps, _mm256_unpackhi_ps as hi, _mm256_unpacklo_ps as lo,
    };
    let rows = rows.map(|r| &r[..kc]);
    let blocks = kc / 8;
    for q in 0..blocks {
        let at = q * 8;
        // An array literal, not `rows.map(..)`, which stayed an out-of-line call returning the
        // vectors through memory.
        // SAFETY: each row holds kc ≥ 8·(q + 1) values.
        let r = unsafe {
            [
                _mm256_loadu_ps(rows[0][at..].as_ptr()),
                _mm256_loadu_ps(rows[1][at..].as_ptr()),
                _mm256_loadu_ps(rows[2][at..].as_ptr()),
                _mm256_loadu_ps(rows[3][at..].as_ptr()),
                _mm256_loadu_ps(rows[4][at..].as_ptr()),
                _mm256_loadu_ps(rows[5][at..].as_ptr()),
                _mm256_loadu_ps(rows[6][at..].as_ptr()),
                _mm256_loadu_ps(rows[7][at..].as_ptr()),
            ]
        };
        let t = [
            lo(r[0], r[1]),
            hi(r[0], r[1]),
            lo(r[2], r[3]),
            hi(r[2], r[3]),
            lo(r[4], r[5]),
            hi(r[4], r[5]),
            lo(r[6], r[7]),
            hi(r[6], r[7]),
        ];
        let u = [
            shuffle::<0x44>(t[0], t[2]),
            shuffle::<0xEE>(t[0], t[2]),
            shuffle::<0x44>(t[1], t[3]),
            shuffle::<0xEE>(t[1], t[3]),
            shuffle::<0x44>(t[4], t[6]),
            shuffle::<0xEE>(t[4], t[6]),
            shuffle::<0x44>(t[5], t[7]),
            shuffle::<0xEE>(t[5], t[7]),
        ];
        let columns = [
            lanes::<0x20>(u[0], u[4]),
            lanes::<0x20>(u[1], u[5]),
            lanes::<0x20>(u[2], u[6]),
            lanes::<0x20>(u[3], u[7]),
            lanes::<0x31>(u[0], u[4]),
            lanes::<0x31>(u[1], u[5]),
            lanes::<0x31>(u[2], u[6]),
            lanes::<0x31>(u[3], u[7]),
        ];
        for (j, column) in columns.into_iter().enumerate() {
            let at = &mut out[(q * 8 + j) * width..][..8];
            // SAFETY: `at` is 8 long.
            unsafe { _mm256_storeu_ps(at.as_mut_ptr(), column) };
        }
    }
    for p in blocks * 8..kc {
        for (i, row) in rows.iter().enumerate() {
            out[p * width + i] = row[p];
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn avx512_8x32(a: Strip<'_>, b: (&[f32], usize), c: *mut f32, rsc: usize) {
    use std::arch::x86_64::{_mm512_fmadd_ps, _mm512_loadu_ps, _mm512_set1_ps, _mm512_storeu_ps};
    const MR: usize = 8;
    let b = panel_rows(b, a.kc, 32);
    let rows = a.rows::<MR>();
    // SAFETY (every block below): the caller's contract bounds `c` to MR rows of 32; `b` is read
    // through bounds-checked slices of 32 values, `a` inside the slice `Strip::rows` checked.
    let mut acc = [[unsafe { _mm512_loadu_ps(c) }; 2]; MR];
    for (i, row) in acc.iter_mut().enumerate() {
        let ci = unsafe { c.add(i * rsc) };
        *row = unsafe { [_mm512_loadu_ps(ci), _mm512_loadu_ps(ci.add(16))] };
    }
    for (p, bp) in b.enumerate() {
        let (b0, b1) = unsafe {
            (
                _mm512_loadu_ps(bp.as_ptr()),
                _mm512_loadu_ps(bp.as_ptr().add(16)),
            )
        };
        for (row, r) in acc.iter_mut().zip(rows) {
            // p < kc: inside A's slice (`rows` checked).
            let ai = _mm512_set1_ps(unsafe { *r.add(p * a.cs) });
            row[0] = _mm512_fmadd_ps(ai, b0, row[0]);
            row[1] = _mm512_fmadd_ps(ai, b1, row[1]);
        }
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

    unsafe fn run(a: Strip<'_>, b: (&[f32], usize), c: *mut f32, rsc: usize) {
        // SAFETY: forwarded contract; `Isa::available` saw avx2 and fma.
        unsafe { avx2_6x16(a, b, c, rsc) }
    }

    fn pack_columns(columns: &[&[f32]], panel: &mut [f32]) {
        // SAFETY: avx2 implies avx (this kernel runs only where `Isa::available` saw it).
        unsafe { scatter_avx(columns, panel, Self::NR) }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2_6x16(a: Strip<'_>, b: (&[f32], usize), c: *mut f32, rsc: usize) {
    use std::arch::x86_64::{_mm256_fmadd_ps, _mm256_loadu_ps, _mm256_set1_ps, _mm256_storeu_ps};
    const MR: usize = 6;
    let b = panel_rows(b, a.kc, 16);
    let rows = a.rows::<MR>();
    // SAFETY (every block below): as in `avx512_8x32`, with 6 rows of 16.
    let mut acc = [[unsafe { _mm256_loadu_ps(c) }; 2]; MR];
    for (i, row) in acc.iter_mut().enumerate() {
        let ci = unsafe { c.add(i * rsc) };
        *row = unsafe { [_mm256_loadu_ps(ci), _mm256_loadu_ps(ci.add(8))] };
    }
    for (p, bp) in b.enumerate() {
        let (b0, b1) = unsafe {
            (
                _mm256_loadu_ps(bp.as_ptr()),
                _mm256_loadu_ps(bp.as_ptr().add(8)),
            )
        };
        for (row, r) in acc.iter_mut().zip(rows) {
            // p < kc: inside A's slice (`rows` checked).
            let ai = _mm256_set1_ps(unsafe { *r.add(p * a.cs) });
            row[0] = _mm256_fmadd_ps(ai, b0, row[0]);
            row[1] = _mm256_fmadd_ps(ai, b1, row[1]);
        }
    }
    for (i, row) in acc.iter().enumerate() {
        let ci = unsafe { c.add(i * rsc) };
        unsafe {
            _mm256_storeu_ps(ci, row[0]);
            _mm256_storeu_ps(ci.add(8), row[1]);
        }
    }
}
