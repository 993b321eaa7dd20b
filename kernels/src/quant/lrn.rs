//! Integer LRN: Valence's own int8 local response normalisation (TFLite has none).

use super::params::QuantParams;
use crate::error::check_len;
use crate::lrn::Lrn;
use crate::KernelError;

/// Table nodes per octave of `S`, as a power of two.
const SEG_BITS: u32 = 5;
const SEGS: usize = 1 << SEG_BITS;

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
/// *prepare* time ([`LrnS8::fill_table`], `f64`) as fixed-point `round(f · 2^F)` with `F` as
/// large as keeps `f(0) · 2^F < 2^31`. The table has `f(0)` and, for every octave
/// `2^e ≤ S < 2^(e+1)` that `S` can reach, 32 nodes `f(2^e · (1 + j/32))`, plus the end node:
/// `2 + 32·E` `i32` values, `E` the bit length of the largest possible `S` (for the seed's depth
/// radius 4 and a zero point of ±128, `S < 2^20`: 642 entries, 2.5 KB). At run time
/// ([`lrn_s8`], integers only) `S` is summed exactly in `u32`, located by its leading bit,
/// `f` is interpolated linearly between two nodes (exact on the nodes; below `2^5` every
/// integer is a node), and `d · f` is shifted right by `F` rounding half away from zero, then
/// offset by the output zero point and saturated.
///
/// Error: linear interpolation of `u^−β` over a segment `[S₀, S₀(1 + 1/32)]` errs by at most
/// `β(β+1)/8 · 32^−2` relative (`1.6·10^−4` for β = 0.75, `2.4·10^−4` for β = 1), i.e. at most
/// `0.062` output step at `|y| = 255` steps; table rounding adds `< 2^−(F−8)`. With the final
/// rounding's half step, the output is within [`LrnS8::MAX_ERROR_LSB`] `= 0.57` output steps of
/// [`crate::lrn::lrn_f32`] on the dequantised input (divided by the output scale, offset by the
/// output zero point, clamped to int8's range) for β ≤ 1. Measured over full-range sweeps at
/// the seed's parameters and at five sets that change the output by 77–100 %: at most
/// `0.5124` steps; the tests assert `0.52`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LrnS8 {
    lrn: Lrn,
    input: QuantParams,
    output: QuantParams,
    /// `S < 2^octaves` for every reachable squared sum.
    octaves: u32,
    /// Fraction bits of the table entries.
    frac_bits: u32,
}

impl LrnS8 {
    /// The largest difference, in output steps, between [`lrn_s8`] and the f32 LRN of the
    /// dequantised input (divided by the output scale, offset by the output zero point and
    /// clamped to `−128..=127`), for β ≤ 1: half a step for the final rounding plus the table's
    /// interpolation error (the analytic bound; the measured maximum is 0.5124, and the tests
    /// assert 0.52 over the whole input range, at the seed's parameters and at parameters that
    /// change the output by more than 10 %).
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
        let f0 = f(lrn, &input, &output, 0.0);
        // f0 = m · 2^e with m ∈ [0.5, 1): f0 · 2^(30 − e) < 2^30.
        let (_, e) = libm::frexp(f0);
        let frac_bits = 30 - e;
        if frac_bits < 0 {
            return Err(KernelError::InvalidParam { arg: "output" });
        }
        // d · f ≤ 255 · 2^31 stays far inside i64 whatever F is; F ≤ 62 keeps the shift valid
        // (a smaller F only flushes outputs already far below one step).
        let frac_bits = frac_bits.min(62) as u32;
        Ok(Self {
            lrn: *lrn,
            input,
            output,
            octaves,
            frac_bits,
        })
    }

    /// The number of `i32` entries of the table [`LrnS8::fill_table`] writes and [`lrn_s8`]
    /// reads: `2 + 32 · E`.
    pub const fn table_len(&self) -> usize {
        2 + SEGS * self.octaves as usize
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
        let scale = libm::ldexp(1.0, self.frac_bits as i32);
        let node = |s: f64| libm::round(f(&self.lrn, &self.input, &self.output, s) * scale) as i32;
        table[0] = node(0.0);
        for e in 0..self.octaves {
            for j in 0..SEGS {
                let s = libm::ldexp(1.0 + j as f64 / SEGS as f64, e as i32);
                table[1 + e as usize * SEGS + j] = node(s);
            }
        }
        table[self.table_len() - 1] = node(libm::ldexp(1.0, self.octaves as i32));
        Ok(())
    }

    /// `f(S) · 2^F` interpolated from `table` (integers only).
    #[inline]
    fn interpolate(&self, table: &[i32], s: u32) -> i64 {
        if s == 0 {
            return i64::from(table[0]);
        }
        let e = 31 - s.leading_zeros();
        debug_assert!(e < self.octaves);
        let base = 1 + e as usize * SEGS;
        if e < SEG_BITS {
            // Every integer in this octave is a node.
            let j = ((s - (1 << e)) << (SEG_BITS - e)) as usize;
            return i64::from(table[base + j]);
        }
        let r = e - SEG_BITS;
        let j = ((s >> r) as usize) - SEGS;
        let rem = i64::from(s & ((1 << r) - 1));
        let (n0, n1) = (i64::from(table[base + j]), i64::from(table[base + j + 1]));
        n0 + (((n1 - n0) * rem) >> r)
    }
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
    let shift = g.frac_bits;
    let half = if shift == 0 { 0 } else { 1i64 << (shift - 1) };
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
            let v = d * g.interpolate(table, s);
            // Round half away from zero: |v| < 2^40, so adding `half` cannot overflow.
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

    #[test]
    fn table_size_and_errors() {
        // The seed's radius 4 with zero point −128: S ≤ 9·255² < 2^20 → 2 + 32·20 entries.
        let lrn = Lrn::new(64, LRN_DEPTH_RADIUS, LRN_BIAS, LRN_ALPHA, LRN_BETA).unwrap();
        let p = QuantParams::new(0.05, -128).unwrap();
        let g = LrnS8::new(&lrn, p, p).unwrap();
        assert_eq!(g.table_len(), 642);
        let mut table = vec![7; 641];
        assert_eq!(
            g.fill_table(&mut table),
            Err(KernelError::Length {
                arg: "table",
                expected: 642,
                got: 641
            })
        );
        assert!(table.iter().all(|&v| v == 7));
        let mut table = vec![0; 642];
        g.fill_table(&mut table).unwrap();
        let mut y = [5i8; 64];
        let err = |arg, expected, got| Err(KernelError::Length { arg, expected, got });
        assert_eq!(
            lrn_s8(&g, &table[..641], 1, &[0; 64], &mut y),
            err("table", 642, 641)
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
        let table = vec![i32::MIN; 642];
        let x: Vec<i8> = (0..64).map(|i| (i * 4 - 128) as i8).collect();
        lrn_s8(&g, &table, 1, &x, &mut y).unwrap();
    }
}
