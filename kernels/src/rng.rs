//! A small deterministic random number generator: PCG32 (O'Neill's PCG-XSH-RR 64/32).
//!
//! The integer stream is exactly that of the reference `pcg32_srandom_r` / `pcg32_random_r`
//! (pcg-c-basic), so `Rng::new(42, 54)` prints what `pcg32-demo` prints. Everything derived from
//! it (`next_f32`, `below`, `next_normal`) uses integer arithmetic, correctly rounded IEEE
//! operations and `libm` only, so a seed gives the same bits on every target (x86-64, i686,
//! Cortex-M).

/// PCG's 64-bit LCG multiplier (the reference's `6364136223846793005ULL`).
const MULTIPLIER: u64 = 6_364_136_223_846_793_005;

/// `2^-24`: scales a 24-bit integer into `[0, 1)` exactly.
const TWO_POW_M24: f32 = 1.0 / 16_777_216.0;

/// `2^-32`: scales a 32-bit integer into `[0, 1)` exactly (in `f64`).
const TWO_POW_M32: f64 = 1.0 / 4_294_967_296.0;

/// PCG32: 64-bit state, 32-bit output, one of `2^63` streams.
///
/// Not `Copy`, so a generator is not duplicated (and its stream replayed) by accident; `clone`
/// it when a replay is what you want.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Rng {
    state: u64,
    /// Always odd: the stream selector `(stream << 1) | 1`.
    inc: u64,
}

impl Rng {
    /// Seeds exactly as the reference `pcg32_srandom_r(rng, seed, stream)`.
    ///
    /// The top bit of `stream` is dropped (the reference shifts it out), so `stream` and
    /// `stream ^ (1 << 63)` select the same sequence.
    pub const fn new(seed: u64, stream: u64) -> Self {
        let inc = (stream << 1) | 1;
        // The reference advances once from 0, adds the seed, and advances again.
        let state = 0u64.wrapping_mul(MULTIPLIER).wrapping_add(inc);
        let state = state.wrapping_add(seed);
        let state = state.wrapping_mul(MULTIPLIER).wrapping_add(inc);
        Self { state, inc }
    }

    /// The next 32 uniformly distributed bits (the reference `pcg32_random_r`).
    pub fn next_u32(&mut self) -> u32 {
        let old = self.state;
        self.state = old.wrapping_mul(MULTIPLIER).wrapping_add(self.inc);
        // XSH-RR: xorshift the high bits down, then rotate by the top five bits of the old state.
        let xorshifted = (((old >> 18) ^ old) >> 27) as u32;
        let rot = (old >> 59) as u32;
        xorshifted.rotate_right(rot)
    }

    /// A uniform `f32` in `[0, 1)`: the top 24 bits of one [`next_u32`](Self::next_u32) times
    /// `2^-24`.
    ///
    /// Every value is a multiple of `2^-24` and each of the `2^24` values is equally likely; the
    /// conversion is exact, so no rounding can produce 1.0.
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u32() >> 8) as f32 * TWO_POW_M24
    }

    /// A uniform integer in `[0, n)` without modulo bias (the reference `pcg32_boundedrand_r`).
    ///
    /// Outputs below `2^32 mod n` are rejected so that the accepted range is a multiple of `n`;
    /// at most half of the outputs are rejected (for `n = 2^31 + 1`), far fewer for small `n`.
    /// Following the reference exactly lets the demo's coin flips and dice rolls serve as a
    /// known-answer test.
    ///
    /// `n = 0` is read as `n = 2^32` (the modular reading of an empty range): it returns one
    /// [`next_u32`](Self::next_u32), any value. It never panics.
    pub fn below(&mut self, n: u32) -> u32 {
        if n == 0 {
            return self.next_u32();
        }
        // (2^32 - n) mod n == 2^32 mod n, computed in 32 bits.
        let threshold = n.wrapping_neg() % n;
        loop {
            let r = self.next_u32();
            if r >= threshold {
                return r % n;
            }
        }
    }

    /// A standard normal sample (mean 0, variance 1), by the Box–Muller transform in `f64`.
    ///
    /// Consumes exactly two [`next_u32`](Self::next_u32) outputs `a`, `b` per call:
    /// `u = (a + 1)·2^-32 ∈ (0, 1]`, `θ = 2π·b·2^-32`, `z = √(−2 ln u)·cos θ`, returned rounded
    /// to `f32`. The sine partner is discarded so that the generator carries no cached value:
    /// the stream position after `k` calls is always `2k` outputs.
    ///
    /// Deterministic on every target: the only transcendental functions are `libm::log` and
    /// `libm::cos` (pure software, pinned version), the rest (square root included) are
    /// correctly rounded IEEE operations. `u > 0` keeps the logarithm finite; the largest magnitude
    /// reachable is `√(64 ln 2) ≈ 6.66`, a tail of probability about `3·10^-11` that is cut.
    pub fn next_normal(&mut self) -> f32 {
        let a = self.next_u32();
        let b = self.next_u32();
        let u = (f64::from(a) + 1.0) * TWO_POW_M32;
        let theta = core::f64::consts::TAU * (f64::from(b) * TWO_POW_M32);
        let r = crate::sqrt::sqrt(-2.0 * libm::log(u));
        (r * libm::cos(theta)) as f32
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    // Independent reference for the hard-coded bits below: a Python transcription of
    // pcg-c-basic (arbitrary-precision integers masked to 64 bits) plus Python's `math` module
    // (IEEE double, glibc log/cos/sqrt) and `struct.pack('f', …)` for the rounding to f32.

    /// pcg-c-basic's `pcg32-demo` (seeded 42, 54), "Round 1", as printed by the reference and
    /// recorded in pcg-c's `test-high/expected/check-setseq-64-xsh-rr-32.out`.
    const DEMO_U32: [u32; 6] = [
        0xa15c_02b7,
        0x7b47_f409,
        0xba1d_3330,
        0x83d2_f293,
        0xbfa4_784b,
        0xcbed_606e,
    ];
    /// The same demo's next 65 `pcg32_boundedrand_r(rng, 2)`, 1 printed as H.
    const DEMO_COINS: &str = "HHTTTHTHHHTHTTTHHHHHTTTHHHTHTHTHTTHTTTHHHHHHTTTTHHTTTTTHTTTTTTTHT";
    /// Then 33 `pcg32_boundedrand_r(rng, 6) + 1`.
    const DEMO_ROLLS: [u32; 33] = [
        3, 4, 1, 1, 2, 2, 3, 2, 4, 3, 2, 4, 3, 3, 5, 2, 3, 1, 3, 1, 5, 1, 4, 1, 5, 6, 4, 6, 6, 2,
        6, 3, 3,
    ];

    #[test]
    fn u32_stream_matches_the_reference_demo() {
        let mut rng = Rng::new(42, 54);
        for &want in &DEMO_U32 {
            assert_eq!(rng.next_u32(), want);
        }
    }

    #[test]
    fn new_is_usable_in_const_context() {
        const SEEDED: Rng = Rng::new(42, 54);
        let mut rng = SEEDED;
        assert_eq!(rng.next_u32(), DEMO_U32[0]);
    }

    #[test]
    fn below_matches_the_reference_demo_coins_and_rolls() {
        let mut rng = Rng::new(42, 54);
        for _ in 0..DEMO_U32.len() {
            rng.next_u32();
        }
        let coins: std::string::String = (0..65)
            .map(|_| if rng.below(2) == 1 { 'H' } else { 'T' })
            .collect();
        assert_eq!(coins, DEMO_COINS);
        for &want in &DEMO_ROLLS {
            assert_eq!(rng.below(6) + 1, want);
        }
    }

    #[test]
    fn below_zero_reads_as_two_pow_32_and_one_is_always_zero() {
        let mut a = Rng::new(7, 3);
        let mut b = a.clone();
        assert_eq!(a.below(0), b.next_u32());
        for _ in 0..100 {
            assert_eq!(a.below(1), 0);
        }
    }

    #[test]
    fn below_rejects_the_biased_low_outputs() {
        // n = 2^31 + 1: threshold = 2^31 - 1, so the reference rejects every output below it.
        let n = (1u32 << 31) + 1;
        let mut a = Rng::new(1, 1);
        let mut b = a.clone();
        for _ in 0..200 {
            let got = a.below(n);
            let want = loop {
                let r = b.next_u32();
                if r >= (1u32 << 31) - 1 {
                    break r % n;
                }
            };
            assert_eq!(got, want);
            assert!(got < n);
        }
    }

    #[test]
    fn next_f32_is_the_top_24_bits_exactly() {
        let mut rng = Rng::new(42, 54);
        for &u in &DEMO_U32 {
            let want = f64::from(u >> 8) / 16_777_216.0;
            let got = rng.next_f32();
            assert_eq!(f64::from(got), want);
            assert!((0.0..1.0).contains(&got));
        }
        // Known answer as bits: 0xa15c02b7 >> 8 = 0xa15c02 → 0.630310177803039551 = 0x3f215c02.
        let mut rng = Rng::new(42, 54);
        assert_eq!(rng.next_f32().to_bits(), 0x3f21_5c02);
    }

    #[test]
    fn next_normal_known_answers() {
        // Python: u = (a+1)*2**-32; th = 2*pi*(b*2**-32); z = sqrt(-2*log(u))*cos(th)
        let mut rng = Rng::new(42, 54);
        let got: Vec<u32> = (0..4).map(|_| rng.next_normal().to_bits()).collect();
        assert_eq!(got, NORMAL_BITS_42_54);
    }

    /// First four `next_normal()` of `Rng::new(42, 54)` (generated by the Python reference).
    const NORMAL_BITS_42_54: [u32; 4] = [0xbf744f6e, 0xbf4b8589, 0x3e60def7, 0xbf427e7f];

    #[test]
    fn next_normal_consumes_two_outputs() {
        let mut a = Rng::new(5, 6);
        let mut b = a.clone();
        a.next_normal();
        b.next_u32();
        b.next_u32();
        assert_eq!(a, b);
    }

    /// Mean and variance of `n` samples, accumulated in f64.
    fn mean_var(xs: impl Iterator<Item = f64>) -> (f64, f64) {
        let (mut n, mut s, mut s2) = (0.0, 0.0, 0.0);
        for x in xs {
            n += 1.0;
            s += x;
            s2 += x * x;
        }
        let mean = s / n;
        (mean, s2 / n - mean * mean)
    }

    #[test]
    fn next_f32_statistics() {
        // U[0,1): mean 1/2 (standard error 9.1e-4 at n = 1e5), variance 1/12 (s.e. 2.4e-4).
        // Bounds are about 5 standard errors.
        let mut rng = Rng::new(2024, 1);
        let (mean, var) = mean_var((0..100_000).map(|_| f64::from(rng.next_f32())));
        assert!((mean - 0.5).abs() < 0.005, "mean {mean}");
        assert!((var - 1.0 / 12.0).abs() < 0.0012, "var {var}");
    }

    #[test]
    fn next_normal_statistics() {
        // N(0,1): mean s.e. 3.2e-3 at n = 1e5, variance s.e. 4.5e-3; bounds about 5 s.e.
        // The fraction beyond 2σ is 0.0455 (s.e. 6.6e-4).
        let mut rng = Rng::new(2024, 2);
        let xs: Vec<f64> = (0..100_000).map(|_| f64::from(rng.next_normal())).collect();
        let (mean, var) = mean_var(xs.iter().copied());
        assert!(mean.abs() < 0.016, "mean {mean}");
        assert!((var - 1.0).abs() < 0.023, "var {var}");
        let beyond = xs.iter().filter(|x| x.abs() > 2.0).count() as f64 / xs.len() as f64;
        assert!((beyond - 0.0455).abs() < 0.0035, "beyond 2σ {beyond}");
        assert!(xs.iter().all(|x| x.abs() < 6.67));
    }

    #[test]
    fn below_statistics() {
        // Each face of a die: p = 1/6, s.e. 1.2e-3 at n = 1e5; bound about 5 s.e.
        let mut rng = Rng::new(2024, 3);
        let mut counts = [0u32; 6];
        for _ in 0..100_000 {
            counts[rng.below(6) as usize] += 1;
        }
        for c in counts {
            let p = f64::from(c) / 100_000.0;
            assert!((p - 1.0 / 6.0).abs() < 0.006, "counts {counts:?}");
        }
    }

    #[test]
    fn streams_differ_and_seeds_differ() {
        let a: Vec<u32> = {
            let mut r = Rng::new(1, 1);
            (0..8).map(|_| r.next_u32()).collect()
        };
        let b: Vec<u32> = {
            let mut r = Rng::new(1, 2);
            (0..8).map(|_| r.next_u32()).collect()
        };
        let c: Vec<u32> = {
            let mut r = Rng::new(2, 1);
            (0..8).map(|_| r.next_u32()).collect()
        };
        assert_ne!(a, b);
        assert_ne!(a, c);
    }
}
