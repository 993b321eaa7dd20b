//! The pool's vector instructions: 16 channels at a time in one AVX-512 register or two AVX2
//! ones, chosen at run time. The pool's only `unsafe` code besides [`crate::stream`].
//!
//! A variant is a token that exists only once its features were detected ([`Avx512::new`],
//! [`Avx2::new`]), so its safe methods may use the intrinsics; the image loops run inside a
//! `#[target_feature]` function of the variant ([`Avx512::run`], [`Avx2::run`]), where those
//! methods inline into straight vector code.
#![allow(unsafe_code)]

use std::arch::x86_64::*;

/// Channels per vector.
const LANES: usize = 16;

/// `N` channels' max-pool steps, each lane exactly as the kernels' scalar rule. The slice
/// arguments must hold at least `N` values (the methods panic otherwise).
pub(crate) trait Lanes: Copy {
    /// Channels per step.
    const N: usize;
    /// `N` `f32`s.
    type F: Copy;
    /// `N` `u32`s (input pixels).
    type U: Copy;

    /// `x[..N]`.
    fn load(self, x: &[f32]) -> Self::F;
    /// `y[..N] = v`.
    fn store(self, y: &mut [f32], v: Self::F);
    /// `u32` lanes all `pixel`.
    fn splat(self, pixel: u32) -> Self::U;
    /// `arg[..N]`.
    fn load_u(self, arg: &[u32]) -> Self::U;
    /// `arg[..N] = v`.
    fn store_u(self, arg: &mut [u32], v: Self::U);
    /// Per lane `if best < v { (v, pixel) } else { (best, at) }`: a NaN `best` stays, a NaN
    /// `v` is passed over, an equal `v` (±0 included) leaves the first.
    fn arg_max_first(
        self,
        best: Self::F,
        at: Self::U,
        v: Self::F,
        pixel: Self::U,
    ) -> (Self::F, Self::U);
    /// Per lane `if arg == pixel { sum + dy } else { sum }`.
    fn add_where(self, sum: Self::F, arg: Self::U, pixel: Self::U, dy: Self::F) -> Self::F;
    /// All lanes `+0.0`.
    fn zero(self) -> Self::F;
}

/// One channel in plain Rust: the channels past the last full vector.
#[derive(Clone, Copy)]
pub(crate) struct One;

impl Lanes for One {
    const N: usize = 1;
    type F = f32;
    type U = u32;

    #[inline(always)]
    fn load(self, x: &[f32]) -> f32 {
        x[0]
    }

    #[inline(always)]
    fn store(self, y: &mut [f32], v: f32) {
        y[0] = v;
    }

    #[inline(always)]
    fn splat(self, pixel: u32) -> u32 {
        pixel
    }

    #[inline(always)]
    fn load_u(self, arg: &[u32]) -> u32 {
        arg[0]
    }

    #[inline(always)]
    fn store_u(self, arg: &mut [u32], v: u32) {
        arg[0] = v;
    }

    #[inline(always)]
    fn arg_max_first(self, best: f32, at: u32, v: f32, pixel: u32) -> (f32, u32) {
        if best < v {
            (v, pixel)
        } else {
            (best, at)
        }
    }

    #[inline(always)]
    fn add_where(self, sum: f32, arg: u32, pixel: u32, dy: f32) -> f32 {
        if arg == pixel {
            sum + dy
        } else {
            sum
        }
    }

    #[inline(always)]
    fn zero(self) -> f32 {
        0.0
    }
}

/// AVX-512F: one register per 16 channels, comparisons into mask registers.
#[derive(Clone, Copy)]
pub(crate) struct Avx512(());

impl Avx512 {
    /// The token, if this CPU has AVX-512F.
    pub(crate) fn new() -> Option<Self> {
        std::arch::is_x86_feature_detected!("avx512f").then_some(Self(()))
    }

    /// `f(self)` compiled for AVX-512F (`f` should be `#[inline(always)]` code over
    /// [`Lanes`]).
    pub(crate) fn run<R>(self, f: impl FnOnce(Self) -> R) -> R {
        #[target_feature(enable = "avx512f")]
        unsafe fn inner<R>(t: Avx512, f: impl FnOnce(Avx512) -> R) -> R {
            f(t)
        }
        // SAFETY: the token exists only where the CPU has AVX-512F.
        unsafe { inner(self, f) }
    }
}

impl Lanes for Avx512 {
    const N: usize = LANES;
    type F = __m512;
    type U = __m512i;

    #[inline(always)]
    fn load(self, x: &[f32]) -> __m512 {
        let x = &x[..LANES];
        // SAFETY: 16 readable values (sliced above); the token proves AVX-512F.
        unsafe { _mm512_loadu_ps(x.as_ptr()) }
    }

    #[inline(always)]
    fn store(self, y: &mut [f32], v: __m512) {
        let y = &mut y[..LANES];
        // SAFETY: 16 writable values (sliced above); the token proves AVX-512F.
        unsafe { _mm512_storeu_ps(y.as_mut_ptr(), v) }
    }

    #[inline(always)]
    fn splat(self, pixel: u32) -> __m512i {
        // SAFETY: the token proves AVX-512F. (The cast keeps the bits.)
        unsafe { _mm512_set1_epi32(pixel as i32) }
    }

    #[inline(always)]
    fn load_u(self, arg: &[u32]) -> __m512i {
        let arg = &arg[..LANES];
        // SAFETY: 16 readable values (sliced above); the token proves AVX-512F.
        unsafe { _mm512_loadu_si512(arg.as_ptr().cast()) }
    }

    #[inline(always)]
    fn store_u(self, arg: &mut [u32], v: __m512i) {
        let arg = &mut arg[..LANES];
        // SAFETY: 16 writable values (sliced above); the token proves AVX-512F.
        unsafe { _mm512_storeu_si512(arg.as_mut_ptr().cast(), v) }
    }

    #[inline(always)]
    fn arg_max_first(
        self,
        best: __m512,
        at: __m512i,
        v: __m512,
        pixel: __m512i,
    ) -> (__m512, __m512i) {
        // SAFETY: the token proves AVX-512F.
        unsafe {
            let wins = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(best, v);
            (
                _mm512_mask_blend_ps(wins, best, v),
                _mm512_mask_blend_epi32(wins, at, pixel),
            )
        }
    }

    #[inline(always)]
    fn add_where(self, sum: __m512, arg: __m512i, pixel: __m512i, dy: __m512) -> __m512 {
        // SAFETY: the token proves AVX-512F.
        unsafe { _mm512_mask_add_ps(sum, _mm512_cmpeq_epi32_mask(arg, pixel), sum, dy) }
    }

    #[inline(always)]
    fn zero(self) -> __m512 {
        // SAFETY: the token proves AVX-512F.
        unsafe { _mm512_setzero_ps() }
    }
}

/// AVX2: two registers per 16 channels, comparisons into lane masks.
#[derive(Clone, Copy)]
pub(crate) struct Avx2(());

impl Avx2 {
    /// The token, if this CPU has AVX2.
    pub(crate) fn new() -> Option<Self> {
        std::arch::is_x86_feature_detected!("avx2").then_some(Self(()))
    }

    /// `f(self)` compiled for AVX2 (`f` should be `#[inline(always)]` code over [`Lanes`]).
    pub(crate) fn run<R>(self, f: impl FnOnce(Self) -> R) -> R {
        #[target_feature(enable = "avx2")]
        unsafe fn inner<R>(t: Avx2, f: impl FnOnce(Avx2) -> R) -> R {
            f(t)
        }
        // SAFETY: the token exists only where the CPU has AVX2.
        unsafe { inner(self, f) }
    }
}

impl Lanes for Avx2 {
    const N: usize = LANES;
    type F = [__m256; 2];
    type U = [__m256i; 2];

    #[inline(always)]
    fn load(self, x: &[f32]) -> [__m256; 2] {
        let x = &x[..LANES];
        // SAFETY: 16 readable values (sliced above); the token proves AVX2.
        unsafe {
            [
                _mm256_loadu_ps(x.as_ptr()),
                _mm256_loadu_ps(x[8..].as_ptr()),
            ]
        }
    }

    #[inline(always)]
    fn store(self, y: &mut [f32], v: [__m256; 2]) {
        let y = &mut y[..LANES];
        // SAFETY: 16 writable values (sliced above); the token proves AVX2.
        unsafe {
            _mm256_storeu_ps(y.as_mut_ptr(), v[0]);
            _mm256_storeu_ps(y[8..].as_mut_ptr(), v[1]);
        }
    }

    #[inline(always)]
    fn splat(self, pixel: u32) -> [__m256i; 2] {
        // SAFETY: the token proves AVX2. (The cast keeps the bits.)
        let v = unsafe { _mm256_set1_epi32(pixel as i32) };
        [v, v]
    }

    #[inline(always)]
    fn load_u(self, arg: &[u32]) -> [__m256i; 2] {
        let arg = &arg[..LANES];
        // SAFETY: 16 readable values (sliced above); the token proves AVX2.
        unsafe {
            [
                _mm256_loadu_si256(arg.as_ptr().cast()),
                _mm256_loadu_si256(arg[8..].as_ptr().cast()),
            ]
        }
    }

    #[inline(always)]
    fn store_u(self, arg: &mut [u32], v: [__m256i; 2]) {
        let arg = &mut arg[..LANES];
        // SAFETY: 16 writable values (sliced above); the token proves AVX2.
        unsafe {
            _mm256_storeu_si256(arg.as_mut_ptr().cast(), v[0]);
            _mm256_storeu_si256(arg[8..].as_mut_ptr().cast(), v[1]);
        }
    }

    #[inline(always)]
    fn arg_max_first(
        self,
        best: [__m256; 2],
        at: [__m256i; 2],
        v: [__m256; 2],
        pixel: [__m256i; 2],
    ) -> ([__m256; 2], [__m256i; 2]) {
        // SAFETY: the token proves AVX2.
        let wins: [__m256; 2] =
            std::array::from_fn(|k| unsafe { _mm256_cmp_ps::<_CMP_LT_OQ>(best[k], v[k]) });
        // SAFETY: as above; the casts keep the bits.
        unsafe {
            (
                std::array::from_fn(|k| _mm256_blendv_ps(best[k], v[k], wins[k])),
                std::array::from_fn(|k| {
                    _mm256_castps_si256(_mm256_blendv_ps(
                        _mm256_castsi256_ps(at[k]),
                        _mm256_castsi256_ps(pixel[k]),
                        wins[k],
                    ))
                }),
            )
        }
    }

    #[inline(always)]
    fn add_where(
        self,
        sum: [__m256; 2],
        arg: [__m256i; 2],
        pixel: [__m256i; 2],
        dy: [__m256; 2],
    ) -> [__m256; 2] {
        // Adds +0.0 where the window chose another cell: the sum's bits stay as a skipped add
        // leaves them, because the sum starts at +0.0 and never becomes −0.0 (a
        // round-to-nearest sum is −0.0 only of two −0.0s).
        // SAFETY: the token proves AVX2; the casts keep the bits.
        std::array::from_fn(|k| unsafe {
            let chosen = _mm256_castsi256_ps(_mm256_cmpeq_epi32(arg[k], pixel[k]));
            _mm256_add_ps(sum[k], _mm256_and_ps(chosen, dy[k]))
        })
    }

    #[inline(always)]
    fn zero(self) -> [__m256; 2] {
        // SAFETY: the token proves AVX2.
        unsafe { [_mm256_setzero_ps(); 2] }
    }
}
