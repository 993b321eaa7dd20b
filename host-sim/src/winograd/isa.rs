//! The transforms compiled for the widest vectors the CPU has: the crate is built for AVX2
//! (`.cargo/config.toml`), so a [`Lanes`](super::block::Lanes) block of 16 `f32`s is two ymm
//! registers; on a CPU with AVX-512F (the fast GEMM's
//! [`Isa::Avx512`](crate::fast_gemm::Isa::Avx512), detected at run time) the same Rust runs
//! compiled for zmm, one register per block.
//!
//! The bits do not change: Rust never contracts `a * b + c` into a fused multiply-add nor
//! reorders a sum, whatever the target features, so both builds round every operation alike
//! (the tests hold the two to the bit).
//!
//! How: [`widest!`] hands its body to a `#[target_feature]` function as a closure with that one
//! call site, so LLVM inlines it there (with everything it calls that is `#[inline(always)]`)
//! and vectorises it with the function's features; the AVX2 fallback is the body written in
//! place. The one `unsafe` is the call of that function, made only when the CPU has the
//! features.
#![allow(unsafe_code)]

/// `$body` compiled for AVX-512F if `$isa` is [`Isa::Avx512`](crate::fast_gemm::Isa::Avx512),
/// for the crate's own target otherwise.
macro_rules! widest {
    ($isa:expr, $body:expr) => {
        if $isa == $crate::fast_gemm::Isa::Avx512 {
            $crate::winograd::isa::on_avx512(|| $body)
        } else {
            $body
        }
    };
}
pub(crate) use widest;

/// `f()` compiled for AVX-512F (see [`widest!`]).
///
/// # Panics
/// If the CPU lacks AVX-512F (a `FastGemm` refuses `Isa::Avx512` then:
/// [`FastGemm::with_isa`](crate::fast_gemm::FastGemm::with_isa)).
pub(crate) fn on_avx512<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        // Checked here (a cached flag: one load per unit of work) rather than trusted from the
        // caller, so that the unsafe call depends on nothing outside this module.
        assert!(
            std::arch::is_x86_feature_detected!("avx512f"),
            "the AVX-512 transforms on a CPU without AVX-512F"
        );
        // SAFETY: the CPU has AVX-512F, the only feature `avx512` enables.
        unsafe { avx512(f) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        drop(f);
        panic!("the AVX-512 transforms on a CPU that is not x86-64")
    }
}

/// `f()` with AVX-512F enabled. Only `avx512f` (what `Isa::Avx512` detects): the transforms
/// are `f32` adds, multiplies and moves, all in the foundation.
///
/// # Safety
/// The CPU has AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}
