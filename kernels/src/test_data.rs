//! Random test inputs, all drawn from the crate's own [`Rng`] (PCG32), so that no test carries
//! a generator of its own. Test-only.
//!
//! The seed-taking functions start a fresh generator, so `uniform_f32(7, n, ..)` is the same
//! data in every test that asks for it; the `draw_*` functions continue a generator the caller
//! owns, for tests that draw several inputs from one stream.
extern crate std;

use crate::rng::Rng;
use std::vec::Vec;

/// The stream every test generator uses; the seed alone tells data sets apart.
const STREAM: u64 = 0x7e57_da7a;

/// A fresh generator for `seed`.
pub fn rng(seed: u64) -> Rng {
    Rng::new(seed, STREAM)
}

/// `n` values uniform in `[lo, hi)`, from a fresh generator for `seed`.
pub fn uniform_f32(seed: u64, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    draw_f32(&mut rng(seed), n, lo, hi)
}

/// `n` bytes, each of the 256 values equally likely, from a fresh generator for `seed`.
pub fn uniform_i8(seed: u64, n: usize) -> Vec<i8> {
    draw_u8(&mut rng(seed), n)
        .into_iter()
        .map(|b| b as i8)
        .collect()
}

/// `n` values uniform in `[lo, hi)`: `lo + (hi − lo)·u` with `u` from [`Rng::next_f32`], a
/// multiple of `2^-24` — so exact for power-of-two widths such as `[-1, 1)`.
pub fn draw_f32(rng: &mut Rng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|_| lo + (hi - lo) * rng.next_f32()).collect()
}

/// `n` uniform bytes (the top eight bits of each [`Rng::next_u32`]).
pub fn draw_u8(rng: &mut Rng, n: usize) -> Vec<u8> {
    (0..n).map(|_| (rng.next_u32() >> 24) as u8).collect()
}
