//! The Armv7E-M DSP instructions the kernels of this module are built from, as plain functions:
//! the instructions themselves with the crate's `dsp` feature on an Arm target (Rust's own
//! `target_feature = "dsp"` is unstable, so it cannot select them), portable equivalents
//! elsewhere, so that the very same kernel code runs — and is tested — on the host.
//!
//! Values are packed pairs of 16-bit lanes in a `u32`: lane 0 in bits 0–15, lane 1 in bits
//! 16–31 (Arm's "bottom" and "top" halves), or four bytes, byte 0 in bits 0–7.
//!
//! This is the crate's only `unsafe` code (`asm!`), confined to the Arm implementation: LLVM
//! (Rust 1.95) does not form `SMLAD` from the portable expression (it emits an `SMLABB` +
//! `SMLATT` pair) and `core::arch::arm`'s DSP intrinsics are unstable, hence one-instruction
//! wrappers; and the matrix kernel's two inner loops ([`mac_2x2`], [`mac_2x1`]) are whole `asm!`
//! loops, because LLVM's register allocation of them in Rust (12 values live in the 12 free
//! registers) spilled an accumulator or not depending on the caller, swinging the convolution
//! cases by up to 14 % (2.23 to 2.54 instructions per MAC on case (a) of `firmware/int8-bench`).

/// `acc + a.lane0 · b.lane0 + a.lane1 · b.lane1` (signed 16-bit lanes), wrapping in `i32` as
/// `SMLAD` does (it only sets the sticky Q flag on overflow).
#[inline(always)]
pub(crate) fn smlad(a: u32, b: u32, acc: i32) -> i32 {
    imp::smlad(a, b, acc)
}

/// The matrix kernel's inner loop for a channel pair and two columns: for each whole group
/// `g` (`n = min(w.len() / 8, x.len() / 4)` of them), with `a`, `b` the pair's 4-byte words
/// `w[8g..8g + 4]`, `w[8g + 4..8g + 8]` and `x[4g..4g + 4]` the columns' words (see
/// [`mat_mult`](super::mat_mult)), adds to `s = [a·col0, a·col1, b·col0, b·col1]`:
/// `SXTB16` unpacks `a` and `b`, eight `SMLAD`s accumulate.
///
/// On Arm with the `dsp` feature this is one `asm!` loop of 20 instructions per 16
/// multiply-accumulates: written in Rust, LLVM's register allocation of the same loop (12 values
/// live, 12 registers free) spilled an accumulator in some callers and not in others.
#[inline(always)]
pub(crate) fn mac_2x2(w: &[i8], x: &[i32], s: [i32; 4]) -> [i32; 4] {
    imp::mac_2x2(w, x, s)
}

/// [`mac_2x2`] for one column: `x[2g..2g + 2]` are its words, `n = min(w.len() / 8,
/// x.len() / 2)`, `s = [a·col, b·col]` (13 instructions per 8 multiply-accumulates on Arm).
#[inline(always)]
pub(crate) fn mac_2x1(w: &[i8], x: &[i32], s: [i32; 2]) -> [i32; 2] {
    imp::mac_2x1(w, x, s)
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
    pub(super) fn mac_2x2(w: &[i8], x: &[i32], s: [i32; 4]) -> [i32; 4] {
        let n = (w.len() / 8).min(x.len() / 4);
        let [mut s0, mut s1, mut s2, mut s3] = s;
        if n == 0 {
            return s;
        }
        // SAFETY: the loop runs n ≥ 1 times, reading 8 bytes from `w` and 16 from `x` each
        // time: w[..8n] and x[..4n], inside both slices by the choice of n. The `w` reads are
        // single LDRs, which Armv7-M allows unaligned (LDRD would not be); `x` is word-aligned.
        // Registers only otherwise; SUBS sets the flags (not `preserves_flags`), SMLAD may set
        // the sticky Q flag, which nothing reads.
        unsafe {
            asm!(
                "2:",
                "ldr {a}, [{w}], #4",
                "ldr {b}, [{w}], #4",
                "ldr {t}, [{x}], #16",
                "sxtb16 {a1}, {a}, ror #8",
                "sxtb16 {a}, {a}",
                "sxtb16 {b1}, {b}, ror #8",
                "sxtb16 {b}, {b}",
                "smlad {s0}, {a}, {t}, {s0}",
                "smlad {s2}, {b}, {t}, {s2}",
                "ldr {t}, [{x}, #-12]",
                "smlad {s0}, {a1}, {t}, {s0}",
                "smlad {s2}, {b1}, {t}, {s2}",
                "ldr {t}, [{x}, #-8]",
                "smlad {s1}, {a}, {t}, {s1}",
                "smlad {s3}, {b}, {t}, {s3}",
                "ldr {t}, [{x}, #-4]",
                "smlad {s1}, {a1}, {t}, {s1}",
                "smlad {s3}, {b1}, {t}, {s3}",
                "subs {n}, {n}, #1",
                "bne 2b",
                w = inout(reg) w.as_ptr() => _,
                x = inout(reg) x.as_ptr() => _,
                n = inout(reg) n => _,
                s0 = inout(reg) s0,
                s1 = inout(reg) s1,
                s2 = inout(reg) s2,
                s3 = inout(reg) s3,
                a = out(reg) _,
                a1 = out(reg) _,
                b = out(reg) _,
                b1 = out(reg) _,
                t = out(reg) _,
                options(readonly, nostack),
            );
        }
        [s0, s1, s2, s3]
    }

    #[inline(always)]
    pub(super) fn mac_2x1(w: &[i8], x: &[i32], s: [i32; 2]) -> [i32; 2] {
        let n = (w.len() / 8).min(x.len() / 2);
        let [mut s0, mut s1] = s;
        if n == 0 {
            return s;
        }
        // SAFETY: the loop runs n ≥ 1 times, reading 8 bytes from `w` (two LDRs, unaligned
        // allowed) and 8 from `x` (LDRD: `x` is word-aligned) each time: w[..8n] and x[..2n],
        // inside both slices by the choice of n. Registers only otherwise; SUBS sets the flags.
        unsafe {
            asm!(
                "2:",
                "ldr {a}, [{w}], #4",
                "ldr {b}, [{w}], #4",
                "ldrd {p}, {q}, [{x}], #8",
                "sxtb16 {a1}, {a}, ror #8",
                "sxtb16 {a}, {a}",
                "sxtb16 {b1}, {b}, ror #8",
                "sxtb16 {b}, {b}",
                "smlad {s0}, {a}, {p}, {s0}",
                "smlad {s1}, {b}, {p}, {s1}",
                "smlad {s0}, {a1}, {q}, {s0}",
                "smlad {s1}, {b1}, {q}, {s1}",
                "subs {n}, {n}, #1",
                "bne 2b",
                w = inout(reg) w.as_ptr() => _,
                x = inout(reg) x.as_ptr() => _,
                n = inout(reg) n => _,
                s0 = inout(reg) s0,
                s1 = inout(reg) s1,
                a = out(reg) _,
                a1 = out(reg) _,
                b = out(reg) _,
                b1 = out(reg) _,
                p = out(reg) _,
                q = out(reg) _,
                options(readonly, nostack),
            );
        }
        [s0, s1]
    }

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
    use super::{lane, pack, word};

    #[inline(always)]
    pub(super) fn mac_2x2(w: &[i8], x: &[i32], mut s: [i32; 4]) -> [i32; 4] {
        for (ab, x) in w.chunks_exact(8).zip(x.chunks_exact(4)) {
            let (a, b) = (word(&ab[..4]), word(&ab[4..]));
            let (a0, a1, b0, b1) = (sxtb16(a), sxtb16_ror8(a), sxtb16(b), sxtb16_ror8(b));
            let (p0, p1, q0, q1) = (x[0] as u32, x[1] as u32, x[2] as u32, x[3] as u32);
            s[0] = smlad(a1, p1, smlad(a0, p0, s[0]));
            s[1] = smlad(a1, q1, smlad(a0, q0, s[1]));
            s[2] = smlad(b1, p1, smlad(b0, p0, s[2]));
            s[3] = smlad(b1, q1, smlad(b0, q0, s[3]));
        }
        s
    }

    #[inline(always)]
    pub(super) fn mac_2x1(w: &[i8], x: &[i32], mut s: [i32; 2]) -> [i32; 2] {
        for (ab, p) in w.chunks_exact(8).zip(x.chunks_exact(2)) {
            let (a, b) = (word(&ab[..4]), word(&ab[4..]));
            let (p0, p1) = (p[0] as u32, p[1] as u32);
            s[0] = smlad(sxtb16_ror8(a), p1, smlad(sxtb16(a), p0, s[0]));
            s[1] = smlad(sxtb16_ror8(b), p1, smlad(sxtb16(b), p0, s[1]));
        }
        s
    }

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
