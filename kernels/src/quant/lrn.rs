//! Integer LRN: Valence's own int8 local response normalisation (TFLite has none).

use super::params::QuantParams;
use crate::error::check_len;
use crate::lrn::Lrn;
use crate::KernelError;

/// Table segments per octave of `S`, as a power of two.
const SEG_BITS: u32 = 5;
const SEGS: usize = 1 << SEG_BITS;
/// `i32`s per octave in the table: its fraction bits, then `SEGS + 1` nodes (both ends, so an
/// octave never mixes two scales).
const OCTAVE_LEN: usize = SEGS + 2;
/// The largest table entry is below `2^ENTRY_BITS`: `|d| · entry` stays far inside `i64`.
const ENTRY_BITS: i32 = 30;

/// `i32`s of the table of an int8 LRN whose squared sums are below `2^octaves`.
pub(crate) const fn table_len(octaves: u32) -> usize {
    OCTAVE_LEN * octaves as usize
}

/// An int8 LRN layer (Valence's own; TFLite has none): the f32 LRN's parameters and the two
/// quantisations, validated once.
///
/// With `d = x − input_zero_point` (`|d| ≤ 255`) the real input is `s_in · d`, and
/// `tf.nn.lrn` gives the output in output steps
///
/// ```text
/// y / s_out = d · f(S),   S = Σ_{window} d²,   f(S) = (s_in / s_out) · (bias + alpha · s_in² · S)^−beta
/// ```
///
/// so everything but the integer `S` folds into one decreasing function `f`, tabulated once at
/// *prepare* time ([`LrnS8::fill_table`], `f64`) in fixed point with **a scale per octave**:
/// for every octave `2^e ≤ S < 2^(e+1)` that `S` can reach, the fraction bits `F_e`, as many
/// as keep `f(2^e) · 2^F_e < 2^30` (at most 62), and the 33 nodes
/// `round(f(2^e · (1 + j/32)) · 2^F_e)`, `j = 0..=32`. Every octave thus keeps about 30
/// significant bits however far `f` falls from `f(0) = (s_in / s_out) · bias^−β` (one scale
/// for the whole table, set by `f(0)`, left large sums of a small `bias` with a handful of
/// bits). The table holds `34·E` `i32` values, `E` the bit length of the largest possible `S`
/// (for the seed's depth radius 4 and a zero point of ±128, `S < 2^20`: 680 entries, 2.7 KB).
/// At run time ([`lrn_s8`], integers only) `S` is summed exactly in `u32`, located by its
/// leading bit, `f` is interpolated linearly between two nodes of its octave (exact on the
/// nodes; below `2^5` every integer is a node), and `d · f` is shifted right by that octave's
/// `F_e` rounding half away from zero, then offset by the output zero point and saturated.
/// (`S = 0` means `d = 0`: the output is the zero point.)
///
/// Error: linear interpolation of `u^−β` over a segment `[S₀, S₀(1 + 1/32)]` errs by at most
/// `β(β+1)/8 · 32^−2` relative (`1.6·10^−4` for β = 0.75, `2.4·10^−4` for β = 1), i.e. at most
/// `0.062` output step at `|y| = 255` steps; table rounding adds at most `2^−26` relative
/// (a node is at least `2^(29−β/32)` units when `F_e < 62`; an octave capped at 62 fraction
/// bits has `f < 2^−32`, so its outputs are below `2^−24` steps). With the final rounding's
/// half step, the output is within [`LrnS8::MAX_ERROR_LSB`] `= 0.57` output steps of
/// [`crate::lrn::lrn_f32`] on the dequantised input (divided by the output scale, offset by the
/// output zero point, clamped to int8's range) for β ≤ 1, for every layer [`LrnS8::new`]
/// accepts. The tests measure it over random layers (bias, alpha, β ≤ 1, radius, channels,
/// scales and zero points drawn at random) and over the seed's parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LrnS8 {
    lrn: Lrn,
    input: QuantParams,
    output: QuantParams,
    /// `S < 2^octaves` for every reachable squared sum.
    octaves: u32,
}

impl LrnS8 {
    /// The largest difference, in output steps, between [`lrn_s8`] and the f32 LRN of the
    /// dequantised input (divided by the output scale, offset by the output zero point and
    /// clamped to `−128..=127`), for β ≤ 1 and every layer [`LrnS8::new`] accepts: half a step
    /// for the final rounding plus the table's interpolation error (the analytic bound; the
    /// tests assert it over random layers and 0.52 at the seed's parameters).
    pub const MAX_ERROR_LSB: f32 = 0.57;

    /// *Prepare*: validates an int8 LRN computing `lrn` from `input`-quantised values to
    /// `output`-quantised ones.
    ///
    /// # Errors
    /// * [`KernelError::Overflow`] naming `depth_radius` if the window (`min(2r + 1,
    ///   channels)` values of up to `255²`) could overflow the `u32` squared sum;
    /// * [`KernelError::InvalidParam`] naming `output` if `f(0) = (s_in / s_out) · bias^−β`
    ///   is `≥ 2^30` (every nonzero input would saturate), or `beta` if `beta > 4` (the table's
    ///   interpolation error is only bounded for moderate β).
    pub fn new(lrn: &Lrn, input: QuantParams, output: QuantParams) -> Result<Self, KernelError> {
        let r = lrn.depth_radius();
        let window = r.saturating_mul(2).saturating_add(1).min(lrn.channels());
        let zp = input.zero_point();
        let dmax = (zp + 128).max(127 - zp) as u64;
        let smax = (window as u64).saturating_mul(dmax * dmax);
        if smax > u64::from(u32::MAX) {
            return Err(KernelError::Overflow {
                arg: "depth_radius",
            });
        }
        if lrn.beta() > 4.0 {
            return Err(KernelError::InvalidParam { arg: "beta" });
        }
        let octaves = 32 - (smax as u32).leading_zeros();
        // f is largest at S = 0: below 2^30 there, every octave's scale has F_e ≥ 0. f(0) is
        // positive (scales and bias are positive and finite), or +∞ for a scale ratio beyond
        // f64, which this refuses too.
        if f(lrn, &input, &output, 0.0) >= libm::ldexp(1.0, ENTRY_BITS) {
            return Err(KernelError::InvalidParam { arg: "output" });
        }
        Ok(Self {
            lrn: *lrn,
            input,
            output,
            octaves,
        })
    }

    /// The number of `i32` entries of the table [`LrnS8::fill_table`] writes and [`lrn_s8`]
    /// reads: `34 · E`.
    pub const fn table_len(&self) -> usize {
        table_len(self.octaves)
    }

    /// The channels per row.
    pub const fn channels(&self) -> usize {
        self.lrn.channels()
    }

    /// *Prepare* (floating point): writes the table of `round(f(S) · 2^F)` (see the
    /// [`LrnS8`] documentation).
    ///
    /// # Errors
    /// [`KernelError::Length`] naming `table` unless it is [`LrnS8::table_len`] long; nothing
    /// is written then.
    pub fn fill_table(&self, table: &mut [i32]) -> Result<(), KernelError> {
        check_len("table", self.table_len(), table.len())?;
        let f = |s: f64| f(&self.lrn, &self.input, &self.output, s);
        for (e, octave) in table.chunks_exact_mut(OCTAVE_LEN).enumerate() {
            let start = libm::ldexp(1.0, e as i32);
            // f ≤ f(0) < 2^30 (checked by `new`), so F_e ≥ 0; F_e ≤ 62 keeps the shift valid
            // (an octave that needs more has f < 2^−32: its outputs round to 0 steps anyway).
            let bits = frac_bits(f(start)).clamp(0, 62);
            let scale = libm::ldexp(1.0, bits);
            octave[0] = bits;
            for (j, node) in octave[1..].iter_mut().enumerate() {
                let s = start * (1.0 + j as f64 / SEGS as f64);
                *node = libm::round(f(s) * scale) as i32;
            }
        }
        Ok(())
    }

    /// `f(S) · 2^F_e` interpolated from `table` (integers only), and `F_e`. Any table
    /// contents give some value without panicking.
    #[inline]
    fn interpolate(&self, table: &[i32], s: u32) -> (i64, u32) {
        if s == 0 {
            return (0, 0);
        }
        let e = 31 - s.leading_zeros();
        debug_assert!(e < self.octaves);
        let octave = &table[e as usize * OCTAVE_LEN..(e as usize + 1) * OCTAVE_LEN];
        // Clamped so that a table not written by `fill_table` cannot make the shift overflow.
        let bits = octave[0].clamp(0, 62) as u32;
        let nodes = &octave[1..];
        if e < SEG_BITS {
            // Every integer in this octave is a node.
            let j = ((s - (1 << e)) << (SEG_BITS - e)) as usize;
            return (i64::from(nodes[j]), bits);
        }
        let r = e - SEG_BITS;
        let j = ((s >> r) as usize) - SEGS;
        let rem = i64::from(s & ((1 << r) - 1));
        let (n0, n1) = (i64::from(nodes[j]), i64::from(nodes[j + 1]));
        (n0 + (((n1 - n0) * rem) >> r), bits)
    }
}

/// The fraction bits `F` that put a positive finite `x` in `[2^29, 2^30)` when scaled by
/// `2^F` (`x = m · 2^k`, `m ∈ [0.5, 1)`: `F = 30 − k`).
fn frac_bits(x: f64) -> i32 {
    ENTRY_BITS - libm::frexp(x).1
}

/// `(s_in / s_out) · (bias + alpha · s_in² · s)^−beta` in f64.
fn f(lrn: &Lrn, input: &QuantParams, output: &QuantParams, s: f64) -> f64 {
    let s_in = f64::from(input.scale());
    let u = f64::from(lrn.bias()) + f64::from(lrn.alpha()) * s_in * s_in * s;
    s_in / f64::from(output.scale()) * libm::pow(u, -f64::from(lrn.beta()))
}

/// Integer LRN over `rows` pixels of `g.channels()` int8 values (see the
/// [`LrnS8`] documentation); overwrites `output`. `table` must hold what
/// [`LrnS8::fill_table`] wrote for `g` (its contents are not checked; any values give some
/// output without panicking).
///
/// Within [`LrnS8::MAX_ERROR_LSB`] output steps of TensorFlow's f32 LRN of the dequantised
/// input. Integers only; each squared sum is exact, so the order is immaterial.
///
/// # Errors
/// [`KernelError::Zero`] if `rows` is 0, [`KernelError::Overflow`] (`rows`) if
/// `rows · channels` overflows, [`KernelError::Length`] naming `table`, `input` or `output`
/// (in that order) when its length is wrong. Nothing is written on error.
pub fn lrn_s8(
    g: &LrnS8,
    table: &[i32],
    rows: usize,
    input: &[i8],
    output: &mut [i8],
) -> Result<(), KernelError> {
    let n = g.lrn.checked_len(rows)?;
    check_len("table", g.table_len(), table.len())?;
    check_len("input", n, input.len())?;
    check_len("output", n, output.len())?;
    let c = g.channels();
    let zp_in = g.input.zero_point();
    let zp_out = i64::from(g.output.zero_point());
    for (x, y) in input.chunks_exact(c).zip(output.chunks_exact_mut(c)) {
        for (k, out) in y.iter_mut().enumerate() {
            let (lo, hi) = g.lrn.window(k);
            let mut s = 0u32;
            for &v in &x[lo..hi] {
                let d = (i32::from(v) - zp_in).unsigned_abs();
                // Cannot overflow: `LrnS8::new` bounded window · 255² by u32::MAX.
                s += d * d;
            }
            let d = i64::from(i32::from(x[k]) - zp_in);
            let (f, shift) = g.interpolate(table, s);
            let v = d * f;
            // Round half away from zero: |v| < 2^41 (|f| < 2^33 even for a garbage table),
            // so adding `half` (at most 2^61) cannot overflow.
            let half = (1i64 << shift) >> 1;
            let mag = (v.abs() + half) >> shift;
            let r = if v < 0 { -mag } else { mag } + zp_out;
            *out = r.clamp(-128, 127) as i8;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::lrn::lrn_f32;
    use crate::net::{LRN_ALPHA, LRN_BETA, LRN_BIAS, LRN_DEPTH_RADIUS};
    use crate::test_data::uniform_i8;
    use std::vec;
    use std::vec::Vec;

    /// Rows that sweep the input range: every constant row, a single spike of every value
    /// among zero-point cells, ramps, and pseudo-random rows.
    fn sweep_rows(channels: usize, zp: i8) -> Vec<i8> {
        let mut rows = Vec::new();
        for v in -128..=127i8 {
            rows.extend(core::iter::repeat_n(v, channels));
        }
        for v in -128..=127i8 {
            let mut r = vec![zp; channels];
            r[channels / 2] = v;
            rows.extend(r);
        }
        for start in (-128..=127).step_by(5) {
            rows.extend((0..channels).map(|i| ((start + 11 * i as i32) as u8) as i8));
        }
        rows.extend(uniform_i8(0x1234_5678, 300 * channels));
        rows
    }

    /// The measured bound the tests assert (tighter than the analytic `MAX_ERROR_LSB`).
    const MEASURED_BOUND: f32 = 0.52;

    struct Measured {
        max_error: f32,
        max_change: f32,
    }

    /// Runs lrn_s8 and the f32 reference on the sweep; returns the largest error in output
    /// steps and the largest relative change |lrn(x) − x| / |x| of the f32 LRN.
    fn measure(lrn: &Lrn, input: QuantParams, output: QuantParams) -> Measured {
        let g = LrnS8::new(lrn, input, output).unwrap();
        let mut table = vec![0; g.table_len()];
        g.fill_table(&mut table).unwrap();
        let c = lrn.channels();
        let x = sweep_rows(c, input.zero_point() as i8);
        let rows = x.len() / c;
        let mut y = vec![0x5a; x.len()];
        lrn_s8(&g, &table, rows, &x, &mut y).unwrap();
        let xf: Vec<f32> = x.iter().map(|&v| input.dequantize(v)).collect();
        let mut yf = vec![f32::NAN; x.len()];
        lrn_f32(lrn, rows, &xf, &mut yf).unwrap();
        let mut m = Measured {
            max_error: 0.0,
            max_change: 0.0,
        };
        for i in 0..x.len() {
            let want = (yf[i] / output.scale() + output.zero_point() as f32).clamp(-128.0, 127.0);
            m.max_error = m.max_error.max((f32::from(y[i]) - want).abs());
            if xf[i] != 0.0 {
                m.max_change = m.max_change.max(((yf[i] - xf[i]) / xf[i]).abs());
            }
        }
        m
    }

    #[test]
    fn error_bound_at_the_seed_parameters() {
        // The seed's LRN (r = 4, bias 1, alpha 0.001/9, beta 0.75) over 16 and 37 channels,
        // for post-ReLU inputs (zero point −128) and signed ones, output quantised like the
        // input. Bound: |y − y_f32| ≤ MAX_ERROR_LSB output steps.
        for c in [16, 37] {
            let lrn = Lrn::new(c, LRN_DEPTH_RADIUS, LRN_BIAS, LRN_ALPHA, LRN_BETA).unwrap();
            for (s, zp) in [(0.05, -128), (0.1, 0), (0.02, 17), (0.2, -128)] {
                let p = QuantParams::new(s, zp).unwrap();
                let m = measure(&lrn, p, p);
                std::println!(
                    "seed c{c} s{s} zp{zp}: {} steps, change {}",
                    m.max_error,
                    m.max_change
                );
                assert!(m.max_error <= MEASURED_BOUND, "{}", m.max_error);
            }
        }
    }

    #[test]
    fn error_bound_where_lrn_changes_the_output_by_more_than_ten_percent() {
        // Parameters where normalisation is far from the identity; asserts that the f32 LRN
        // changes some output by ≥ 10 % (so a near-identity cannot pass) and the bound.
        #[allow(clippy::type_complexity)]
        let sets: [(usize, usize, f32, f32, f32, f32, i32, f32, i32); 5] = [
            // channels, r, bias, alpha, beta, s_in, zp_in, s_out, zp_out
            (16, 4, 1.0, 1e-3 / 9.0, 0.75, 0.5, -128, 0.25, -128),
            (16, 2, 2.0, 0.1, 0.75, 0.05, 0, 0.02, 0),
            (20, 3, 1.0, 1e-2, 0.5, 0.1, -30, 0.05, 10),
            (9, 5, 0.5, 1e-3, 1.0, 0.2, 5, 0.1, -3),
            (24, 2, 1.0, 5e-3, 0.75, 0.08, -128, 0.03, -128),
        ];
        for (c, r, bias, alpha, beta, s_in, zp_in, s_out, zp_out) in sets {
            let lrn = Lrn::new(c, r, bias, alpha, beta).unwrap();
            let m = measure(
                &lrn,
                QuantParams::new(s_in, zp_in).unwrap(),
                QuantParams::new(s_out, zp_out).unwrap(),
            );
            std::println!(
                "c{c} r{r} b{bias} a{alpha} beta{beta}: {} steps, change {}",
                m.max_error,
                m.max_change
            );
            assert!(m.max_change >= 0.1, "near-identity: {}", m.max_change);
            assert!(m.max_error <= MEASURED_BOUND, "{}", m.max_error);
        }
        const { assert!(MEASURED_BOUND <= LrnS8::MAX_ERROR_LSB) };
    }

    /// `lo · (hi/lo)^u`, `u` uniform in `[0, 1)`: every decade between `lo` and `hi` equally
    /// likely.
    fn log_uniform(rng: &mut crate::rng::Rng, lo: f32, hi: f32) -> f32 {
        lo * libm::powf(hi / lo, rng.next_f32())
    }

    #[test]
    fn error_bound_holds_for_random_layers() {
        // Every parameter at random (seeded): channels 1–40, depth radius 0–8, bias 1e-4–10,
        // alpha 1e-5–10, β in [0, 1], input scale 1e-3–2, both zero points anywhere in int8,
        // and the output scale anywhere from 10^-4 to 4 times the one a quantiser would pick
        // (the largest output, a lone input value, over 127): a small output scale makes f(0)
        // large, where one table scale for all sums lost precision. Layers `LrnS8::new`
        // refuses are skipped (counted: the bound is promised for the accepted ones).
        // Reference: `lrn_f32` on the dequantised input; bound: `MAX_ERROR_LSB` output steps.
        let mut rng = crate::test_data::rng(0x00c7_a7e5);
        let (mut worst, mut accepted) = (0.0f32, 0);
        let mut worst_at = std::string::String::new();
        for _ in 0..300 {
            let c = 1 + rng.below(40) as usize;
            let r = rng.below(9) as usize;
            let bias = log_uniform(&mut rng, 1e-4, 10.0);
            let alpha = log_uniform(&mut rng, 1e-5, 10.0);
            let beta = rng.next_f32();
            let s_in = log_uniform(&mut rng, 1e-3, 2.0);
            let zp_in = (rng.next_u32() >> 24) as u8 as i8 as i32;
            let y_max = (1..=(zp_in + 128).max(127 - zp_in))
                .map(|d| {
                    let x = f64::from(s_in) * f64::from(d);
                    let u = f64::from(bias) + f64::from(alpha) * x * x;
                    x * libm::pow(u, -f64::from(beta))
                })
                .fold(0.0, f64::max);
            let s_out = (y_max / 127.0) as f32 * log_uniform(&mut rng, 1e-4, 4.0);
            let zp_out = (rng.next_u32() >> 24) as u8 as i8 as i32;
            let lrn = Lrn::new(c, r, bias, alpha, beta).unwrap();
            let (pi, po) = (
                QuantParams::new(s_in, zp_in).unwrap(),
                QuantParams::new(s_out, zp_out).unwrap(),
            );
            if LrnS8::new(&lrn, pi, po).is_err() {
                continue;
            }
            accepted += 1;
            let m = measure(&lrn, pi, po);
            if m.max_error > worst {
                worst = m.max_error;
                worst_at = std::format!(
                    "c{c} r{r} bias {bias} alpha {alpha} beta {beta} in ({s_in}, {zp_in}) \
                     out ({s_out}, {zp_out})"
                );
            }
        }
        std::println!("{accepted} random layers accepted; worst {worst} steps at {worst_at}");
        assert!(accepted >= 200, "only {accepted} accepted");
        assert!(worst <= LrnS8::MAX_ERROR_LSB, "{worst} steps at {worst_at}");
    }

    #[test]
    fn error_bound_holds_where_a_single_table_scale_lost_precision() {
        // The sweep that found 1.44 steps at bias 0.01 and 5.77 at bias 0.001 with one scale
        // for the whole table (alpha 1, β 1, depth radius 6, input scale ≈ 0.8): the largest
        // sums kept only a few bits of f.
        for bias in [0.01, 0.001, 1e-4] {
            for (zp_in, s_out, zp_out) in [(-128, 0.01, 0), (0, 5e-4, -20), (40, 1e-4, -128)] {
                let lrn = Lrn::new(24, 6, bias, 1.0, 1.0).unwrap();
                let pi = QuantParams::new(0.8, zp_in).unwrap();
                let po = QuantParams::new(s_out, zp_out).unwrap();
                let m = measure(&lrn, pi, po);
                assert!(
                    m.max_error <= LrnS8::MAX_ERROR_LSB,
                    "bias {bias} zp {zp_in}: {} steps",
                    m.max_error
                );
            }
        }
    }

    #[test]
    fn table_size_and_errors() {
        // The seed's radius 4 with zero point −128: S ≤ 9·255² < 2^20 → 34·20 entries.
        let lrn = Lrn::new(64, LRN_DEPTH_RADIUS, LRN_BIAS, LRN_ALPHA, LRN_BETA).unwrap();
        let p = QuantParams::new(0.05, -128).unwrap();
        let g = LrnS8::new(&lrn, p, p).unwrap();
        assert_eq!(g.table_len(), 680);
        let mut table = vec![7; 679];
        assert_eq!(
            g.fill_table(&mut table),
            Err(KernelError::Length {
                arg: "table",
                expected: 680,
                got: 679
            })
        );
        assert!(table.iter().all(|&v| v == 7));
        let mut table = vec![0; 680];
        g.fill_table(&mut table).unwrap();
        let mut y = [5i8; 64];
        let err = |arg, expected, got| Err(KernelError::Length { arg, expected, got });
        assert_eq!(
            lrn_s8(&g, &table[..679], 1, &[0; 64], &mut y),
            err("table", 680, 679)
        );
        assert_eq!(
            lrn_s8(&g, &table, 1, &[0; 63], &mut y),
            err("input", 64, 63)
        );
        assert_eq!(
            lrn_s8(&g, &table, 1, &[0; 64], &mut y[..60]),
            err("output", 64, 60)
        );
        assert_eq!(
            lrn_s8(&g, &table, 0, &[], &mut []),
            Err(KernelError::Zero { arg: "rows" })
        );
        assert_eq!(
            lrn_s8(&g, &table, usize::MAX, &[], &mut []),
            Err(KernelError::Overflow { arg: "rows" })
        );
        assert_eq!(y, [5; 64]);
        // A window too wide for the u32 squared sum, and an absurd output scale.
        let wide = Lrn::new(100_000, 50_000, 1.0, 1e-4, 0.75).unwrap();
        assert_eq!(
            LrnS8::new(&wide, p, p),
            Err(KernelError::Overflow {
                arg: "depth_radius"
            })
        );
        let tiny = QuantParams::new(1e-30, 0).unwrap();
        assert_eq!(
            LrnS8::new(&lrn, p, tiny),
            Err(KernelError::InvalidParam { arg: "output" })
        );
        // Garbage tables give some output, never a panic.
        let table = vec![i32::MIN; 680];
        let x: Vec<i8> = (0..64).map(|i| (i * 4 - 128) as i8).collect();
        lrn_s8(&g, &table, 1, &x, &mut y).unwrap();
    }
}
