//! The Armv7E-M DSP instructions the kernels of this module are built from, as plain functions:
//! the instructions themselves with the crate's `dsp` feature on an Arm target (Rust's own
//! `target_feature = "dsp"` is unstable, so it cannot select them), portable equivalents
//! elsewhere, so that the very same kernel code runs — and is tested — on the host.
//!
//! Values are packed pairs of 16-bit lanes in a `u32`: lane 0 in bits 0–15, lane 1 in bits
//! 16–31 (Arm's "bottom" and "top" halves), or four bytes, byte 0 in bits 0–7.
//!
//! LLVM (Rust 1.95) does not form `SMLAD` from the portable expression (it emits an `SMLABB` +
//! `SMLATT` pair) and `core::arch::arm`'s DSP intrinsics are unstable, hence the small
//! `asm!` wrappers.

/// `acc + a.lane0 · b.lane0 + a.lane1 · b.lane1` (signed 16-bit lanes), wrapping in `i32` as
/// `SMLAD` does (it only sets the sticky Q flag on overflow).
#[inline(always)]
pub(crate) fn smlad(a: u32, b: u32, acc: i32) -> i32 {
    imp::smlad(a, b, acc)
}

/// Bytes 0 and 2 of `x`, sign-extended into lanes 0 and 1 (`SXTB16`).
#[inline(always)]
pub(crate) fn sxtb16(x: u32) -> u32 {
    imp::sxtb16(x)
}

/// Bytes 1 and 3 of `x`, sign-extended into lanes 0 and 1 (`SXTB16 …, ROR #8`).
#[inline(always)]
pub(crate) fn sxtb16_ror8(x: u32) -> u32 {
    imp::sxtb16_ror8(x)
}

/// `a` plus bytes 0 and 2 of `x` sign-extended, lane by lane, each lane wrapping at 16 bits
/// (`SXTAB16`).
#[inline(always)]
pub(crate) fn sxtab16(a: u32, x: u32) -> u32 {
    imp::sxtab16(a, x)
}

/// `a` plus bytes 1 and 3 of `x` sign-extended, lane by lane (`SXTAB16 …, ROR #8`).
#[inline(always)]
pub(crate) fn sxtab16_ror8(a: u32, x: u32) -> u32 {
    imp::sxtab16_ror8(a, x)
}

/// The signed maximum of each of the four bytes of `a` and `b` (`SSUB8` then `SEL`).
#[inline(always)]
pub(crate) fn max_s8x4(a: u32, b: u32) -> u32 {
    imp::max_s8x4(a, b)
}

/// The first four bytes of `b` as one word, byte 0 in bits 0–7 (one `LDR` on Arm); 0 if `b` is
/// shorter (callers pass 4-byte chunks).
#[inline(always)]
pub(crate) fn word(b: &[i8]) -> u32 {
    // A 4-byte array copy becomes one (unaligned) LDR; four byte reads would stay four LDRBs.
    b.first_chunk::<4>()
        .map_or(0, |a| u32::from_le_bytes(a.map(|v| v as u8)))
}

/// Lane `i` (0 or 1) of `x` as a signed value.
#[inline(always)]
pub(crate) fn lane(x: u32, i: usize) -> i32 {
    i32::from((x >> (16 * i)) as i16)
}

/// Two values packed into lanes 0 and 1 (each truncated to 16 bits).
#[inline(always)]
pub(crate) fn pack(lo: i32, hi: i32) -> u32 {
    u32::from(lo as u16) | (u32::from(hi as u16) << 16)
}

#[cfg(all(feature = "dsp", target_arch = "arm"))]
#[allow(unsafe_code)]
mod imp {
    use core::arch::asm;

    #[inline(always)]
    pub(super) fn max_s8x4(a: u32, b: u32) -> u32 {
        let (r, _t): (u32, u32);
        // SAFETY: register-only instructions, no memory, no stack. SSUB8 sets the APSR.GE bits
        // that SEL reads, inside this one block; they are not NZCV, which Rust's code may rely
        // on, but the block does not claim `preserves_flags`.
        unsafe {
            asm!("ssub8 {t}, {a}, {b}", "sel {r}, {a}, {b}", t = out(reg) _t, r = lateout(reg) r,
                 a = in(reg) a, b = in(reg) b, options(pure, nomem, nostack));
        }
        r
    }

    #[inline(always)]
    pub(super) fn smlad(a: u32, b: u32, acc: i32) -> i32 {
        let r: i32;
        // SAFETY: a register-only instruction: no memory, no stack; it may set the sticky Q
        // flag, which nothing in Rust reads (`preserves_flags` covers the NZCV flags only).
        unsafe {
            asm!("smlad {r}, {a}, {b}, {c}", r = lateout(reg) r, a = in(reg) a, b = in(reg) b,
                 c = in(reg) acc, options(pure, nomem, nostack, preserves_flags));
        }
        r
    }

    #[inline(always)]
    pub(super) fn sxtb16(x: u32) -> u32 {
        let r: u32;
        // SAFETY: a register-only instruction; no memory, no stack, no flags.
        unsafe {
            asm!("sxtb16 {r}, {x}", r = lateout(reg) r, x = in(reg) x,
                 options(pure, nomem, nostack, preserves_flags));
        }
        r
    }

    #[inline(always)]
    pub(super) fn sxtb16_ror8(x: u32) -> u32 {
        let r: u32;
        // SAFETY: a register-only instruction; no memory, no stack, no flags.
        unsafe {
            asm!("sxtb16 {r}, {x}, ror #8", r = lateout(reg) r, x = in(reg) x,
                 options(pure, nomem, nostack, preserves_flags));
        }
        r
    }

    #[inline(always)]
    pub(super) fn sxtab16(a: u32, x: u32) -> u32 {
        let r: u32;
        // SAFETY: a register-only instruction; no memory, no stack, no flags.
        unsafe {
            asm!("sxtab16 {r}, {a}, {x}", r = lateout(reg) r, a = in(reg) a, x = in(reg) x,
                 options(pure, nomem, nostack, preserves_flags));
        }
        r
    }

    #[inline(always)]
    pub(super) fn sxtab16_ror8(a: u32, x: u32) -> u32 {
        let r: u32;
        // SAFETY: a register-only instruction; no memory, no stack, no flags.
        unsafe {
            asm!("sxtab16 {r}, {a}, {x}, ror #8", r = lateout(reg) r, a = in(reg) a,
                 x = in(reg) x, options(pure, nomem, nostack, preserves_flags));
        }
        r
    }
}

#[cfg(not(all(feature = "dsp", target_arch = "arm")))]
mod imp {
    use super::{lane, pack};

    #[inline(always)]
    pub(super) fn max_s8x4(a: u32, b: u32) -> u32 {
        let (a, b) = (a.to_le_bytes(), b.to_le_bytes());
        u32::from_le_bytes(core::array::from_fn(|i| (a[i] as i8).max(b[i] as i8) as u8))
    }

    #[inline(always)]
    pub(super) fn smlad(a: u32, b: u32, acc: i32) -> i32 {
        acc.wrapping_add(lane(a, 0) * lane(b, 0))
            .wrapping_add(lane(a, 1) * lane(b, 1))
    }

    #[inline(always)]
    pub(super) fn sxtb16(x: u32) -> u32 {
        pack(i32::from(x as i8), i32::from((x >> 16) as i8))
    }

    #[inline(always)]
    pub(super) fn sxtb16_ror8(x: u32) -> u32 {
        sxtb16(x.rotate_right(8))
    }

    #[inline(always)]
    pub(super) fn sxtab16(a: u32, x: u32) -> u32 {
        let e = sxtb16(x);
        pack(lane(a, 0) + lane(e, 0), lane(a, 1) + lane(e, 1))
    }

    #[inline(always)]
    pub(super) fn sxtab16_ror8(a: u32, x: u32) -> u32 {
        sxtab16(a, x.rotate_right(8))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference: the Armv7-M Architecture Reference Manual's pseudocode for SMLAD, SXTB16 and
    // SXTAB16, written out by hand (i64 lanes; expected bit patterns worked out below).

    #[test]
    fn smlad_is_the_wrapping_dual_product_sum() {
        let vals = [
            0u32,
            1,
            0xffff,
            0x8000_8000,
            0x7fff_7fff,
            0x1234_fedc,
            0x8001_0002,
        ];
        for &a in &vals {
            for &b in &vals {
                for acc in [0, -5, i32::MAX, i32::MIN] {
                    let s = |x: u32, i: u32| i64::from((x >> (16 * i)) as u16 as i16);
                    let want = i64::from(acc) + s(a, 0) * s(b, 0) + s(a, 1) * s(b, 1);
                    assert_eq!(smlad(a, b, acc), want as i32, "{a:#x} {b:#x} {acc}");
                }
            }
        }
    }

    #[test]
    fn sign_extensions_pick_the_right_bytes() {
        // bytes: b0 = 0x01, b1 = 0xff, b2 = 0x80, b3 = 0x7f
        assert_eq!(sxtb16(0x7f80_ff01), 0xff80_0001);
        assert_eq!(sxtb16_ror8(0x7f80_ff01), 0x007f_ffff);
        // −zp = −3 in both lanes, plus (1, −128) and (−1, 127).
        let a = pack(-3, -3);
        assert_eq!(sxtab16(a, 0x7f80_ff01), pack(-2, -131));
        assert_eq!(sxtab16_ror8(a, 0x7f80_ff01), pack(-4, 124));
        // Lanes wrap at 16 bits without carrying into each other.
        assert_eq!(sxtab16(0xffff_ffff, 0x0001_0001), 0);
        assert_eq!(lane(pack(-255, 255), 0), -255);
        assert_eq!(lane(pack(-255, 255), 1), 255);
    }

    #[test]
    fn max_is_per_signed_byte() {
        // bytes (1, −1, −128, 127) against (2, −2, 127, −128): (2, −1, 127, 127).
        assert_eq!(max_s8x4(0x7f80_ff01, 0x807f_fe02), 0x7f7f_ff02);
        assert_eq!(max_s8x4(0x8080_8080, 0x8080_8080), 0x8080_8080);
    }
}
