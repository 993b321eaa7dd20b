//! Square roots: the standard library's where the `std` feature allows, `libm`'s otherwise.
//!
//! IEEE 754 rounds a square root correctly, so both give the same bits (NaN payloads aside);
//! the choice is speed. `libm`'s x86 `sqrtf`/`sqrt` are inline assembly in the legacy SSE
//! encoding: in code built for AVX (the host's x86-64-v3) every call then mixes SSE with AVX
//! and stalls (LRN's backward pass ran 4× slower), and the loop around it cannot be
//! vectorised. `f32::sqrt` is an LLVM intrinsic: `vsqrtss`, or `vsqrtps` across a loop.

/// `√x` in `f32`, correctly rounded.
#[inline(always)]
pub(crate) fn sqrtf(x: f32) -> f32 {
    #[cfg(feature = "std")]
    {
        x.sqrt()
    }
    #[cfg(not(feature = "std"))]
    {
        libm::sqrtf(x)
    }
}

/// `√x` in `f64`, correctly rounded.
#[inline(always)]
pub(crate) fn sqrt(x: f64) -> f64 {
    #[cfg(feature = "std")]
    {
        x.sqrt()
    }
    #[cfg(not(feature = "std"))]
    {
        libm::sqrt(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both paths are IEEE square roots: exact squares come back exact, and the neighbours of
    /// the correctly rounded root square to the wrong side of `x` (checked in f64, exactly).
    #[test]
    fn roots_are_correctly_rounded() {
        for bits in (0x0080_0000u32..0x7f80_0000).step_by(7_919) {
            let x = f32::from_bits(bits);
            let r = sqrtf(x);
            let err = |v: f32| ((v as f64) * (v as f64) - x as f64).abs();
            let below = f32::from_bits(r.to_bits() - 1);
            let above = f32::from_bits(r.to_bits() + 1);
            assert!(
                err(r) <= err(below) && err(r) <= err(above),
                "sqrtf({x:e}) = {r:e}"
            );
            assert_eq!(r.to_bits(), libm::sqrtf(x).to_bits(), "sqrtf({x:e})");
            let xd = x as f64 * 1.000_000_1;
            assert_eq!(sqrt(xd).to_bits(), libm::sqrt(xd).to_bits(), "sqrt({xd:e})");
        }
        assert_eq!(sqrtf(0.0).to_bits(), 0);
        assert_eq!(sqrtf(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(sqrtf(f32::INFINITY), f32::INFINITY);
        assert!(sqrtf(-1.0).is_nan() && sqrt(-1.0).is_nan());
        assert_eq!(sqrtf(6.25), 2.5);
        assert_eq!(sqrt(1e300 * 1e-300 * 4.0), 2.0);
    }
}
