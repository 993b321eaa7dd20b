//! The nine numbers of TensorBoard's Distributions chart, computed on the device.
//!
//! A port of TensorBoard's `plugins/distribution/compressor.py` `compress_histogram` (checked
//! against tensorboard 2.21.0) that streams over the rows instead of building numpy arrays:
//!
//! * `weights = cumsum(count · 10000 / Σcount)` (`Σcount` replaced by 1 when 0), a sequential
//!   f64 running sum, each term `(count · 10000) / Σcount` rounded as numpy does;
//! * for each basis point `bp`, the row `i` is `searchsorted(weights, bp, side="right")`, the
//!   first row whose cumulative weight exceeds `bp`; the value is the linear interpolation of
//!   `bp` from `[weights[i-1], weights[i]]` onto `[lhs, rhs]` with
//!   `lhs = min` for the first row or when `weights[i-1] == 0`, else `max(right[i-1], min)`,
//!   and `rhs = min(right[i], max)` (min = first row's left edge, max = last row's right edge);
//! * basis points past the last row get `max`; no rows give nine zeros.
//!
//! Python's `min`/`max` keep their first argument on ties and so do the helpers here, so even
//! the sign of a zero matches.

use super::accumulator::Histogram;
use crate::error::KernelError;

/// TensorBoard's `NORMAL_HISTOGRAM_BPS`: the normal CDF at −∞, −1.5σ, −σ, −½σ, 0, ½σ, σ, 1.5σ, +∞
/// in basis points (1/100 of a percent).
pub const BASIS_POINTS: [u32; 9] = [0, 668, 1587, 3085, 5000, 6915, 8413, 9332, 10000];

/// The nine values TensorBoard's Distributions chart shows for `hist` (its trimmed v2 rows through
/// `compress_histogram`), computed in f64 without allocating. An empty histogram gives zeros.
///
/// Equal to TensorBoard's result on the [`Histogram::rows`] tensor bit for bit; on the v1 form
/// (collapsed empty runs) too, since empty rows change no cumulative weight. For a v1 `histo`
/// TensorBoard converts the rows to f32 first and numpy then accumulates the weights in f32:
/// its figures move by up to ~1e-5 relative (1.6e-5 seen in the golden tests) and overflow to
/// inf when the data spans ±3.4e38; the f64 v2 tensor avoids both.
pub fn percentiles(hist: &Histogram) -> [f64; 9] {
    compress(hist.rows())
}

/// [`percentiles`] for arbitrary v2 rows `[left, right, count]`, as a histogram tensor holds them.
///
/// Counts should be whole numbers (as every histogram's are): numpy sums them pairwise, this
/// sums them in order, and the two agree exactly only while the sum is exact.
///
/// # Errors
/// [`KernelError::InvalidParam`] (`"rows"`) if an edge is non-finite or a count is negative or
/// non-finite: the cumulative weights would not be sorted and `searchsorted` has no meaning.
pub fn percentiles_of_rows(rows: &[[f64; 3]]) -> Result<[f64; 9], KernelError> {
    let valid = rows
        .iter()
        .all(|r| r[0].is_finite() && r[1].is_finite() && r[2].is_finite() && r[2] >= 0.0);
    if !valid {
        return Err(KernelError::InvalidParam { arg: "rows" });
    }
    Ok(compress(rows.iter().copied()))
}

/// Python's `max(a, b)`: `a` unless `b` is strictly greater.
fn py_max(a: f64, b: f64) -> f64 {
    if b > a {
        b
    } else {
        a
    }
}

/// Python's `min(a, b)`: `a` unless `b` is strictly smaller.
fn py_min(a: f64, b: f64) -> f64 {
    if b < a {
        b
    } else {
        a
    }
}

/// `compressor._lerp`, with Python's evaluation order.
fn lerp(x: f64, x0: f64, x1: f64, y0: f64, y1: f64) -> f64 {
    y0 + (x - x0) * (y1 - y0) / (x1 - x0)
}

/// Two passes over `rows`: the total and the end edges, then one forward sweep. Basis points are
/// increasing and the weights non-decreasing, so each `searchsorted` result is at or after the
/// previous one and the sweep never goes back.
fn compress<I: Iterator<Item = [f64; 3]> + Clone>(rows: I) -> [f64; 9] {
    let mut total = 0.0;
    let mut first_left = None;
    let mut last_right = 0.0;
    for r in rows.clone() {
        first_left.get_or_insert(r[0]);
        last_right = r[1];
        total += r[2];
    }
    let Some(min) = first_left else {
        return [0.0; 9];
    };
    let max = last_right;
    let denom = if total == 0.0 { 1.0 } else { total };
    let scale = f64::from(BASIS_POINTS[8]);

    let mut out = [max; 9];
    let mut rows = rows;
    let mut current = rows.next();
    let mut index = 0usize;
    let mut cum_prev = 0.0; // weights[index - 1], or 0 for the first row
    let mut prev_right = min; // right edge of row index - 1 (unused while index == 0)
    let mut cum = current.map_or(0.0, |r| r[2] * scale / denom);

    for (slot, &bp) in out.iter_mut().zip(BASIS_POINTS.iter()) {
        let bp = f64::from(bp);
        // searchsorted(weights, bp, side="right")
        while let Some(r) = current {
            if cum > bp {
                break;
            }
            prev_right = r[1];
            cum_prev = cum;
            current = rows.next();
            index += 1;
            if let Some(next) = current {
                cum = cum_prev + next[2] * scale / denom;
            }
        }
        let Some(row) = current else {
            // Past the last row: this and every later basis point is `max` (already in `out`).
            break;
        };
        // weights[i] > bp >= weights[i-1], so compress_histogram's equal-weights skip never fires.
        debug_assert!(cum != cum_prev);
        let lhs = if index == 0 || cum_prev == 0.0 {
            min
        } else {
            py_max(prev_right, min)
        };
        let rhs = py_min(row[1], max);
        *slot = lerp(bp, cum_prev, cum, lhs, rhs);
    }
    out
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::test_data::uniform_f32;
    use std::boxed::Box;
    use std::vec::Vec;

    /// compress_histogram transcribed literally (arrays, searchsorted as a scan, the skip loop),
    /// the independent reference for the streaming version.
    fn reference(rows: &[[f64; 3]]) -> [f64; 9] {
        if rows.is_empty() {
            return [0.0; 9];
        }
        let (minmin, maxmax) = (rows[0][0], rows[rows.len() - 1][1]);
        let total: f64 = rows.iter().map(|r| r[2]).sum();
        let denom = if total == 0.0 { 1.0 } else { total };
        let mut weights = Vec::new();
        let mut acc = 0.0;
        for (k, r) in rows.iter().enumerate() {
            let w = r[2] * 10000.0 / denom;
            acc = if k == 0 { w } else { acc + w };
            weights.push(acc);
        }
        let mut result = Vec::new();
        let mut j = 0;
        'outer: while j < 9 {
            let bp = BASIS_POINTS[j] as f64;
            let mut i = weights
                .iter()
                .position(|&w| w > bp)
                .unwrap_or(weights.len());
            loop {
                if i >= weights.len() {
                    break 'outer;
                }
                let cumsum = weights[i];
                let cumsum_prev = if i > 0 { weights[i - 1] } else { 0.0 };
                if cumsum == cumsum_prev {
                    i += 1;
                    continue;
                }
                let lhs = if i == 0 || cumsum_prev == 0.0 {
                    minmin
                } else {
                    py_max(rows[i - 1][1], minmin)
                };
                let rhs = py_min(rows[i][1], maxmax);
                result.push(lhs + (bp - cumsum_prev) * (rhs - lhs) / (cumsum - cumsum_prev));
                j += 1;
                break;
            }
        }
        while result.len() < 9 {
            result.push(maxmax);
        }
        result.try_into().unwrap()
    }

    fn assert_bits(got: [f64; 9], want: [f64; 9]) {
        for k in 0..9 {
            assert_eq!(
                got[k].to_bits(),
                want[k].to_bits(),
                "bp {}: {got:?} vs {want:?}",
                BASIS_POINTS[k]
            );
        }
    }

    #[test]
    fn empty_gives_zeros() {
        assert_eq!(percentiles(&Histogram::new()), [0.0; 9]);
        assert_eq!(percentiles_of_rows(&[]), Ok([0.0; 9]));
    }

    #[test]
    fn spike_gives_the_value_everywhere() {
        let mut h = Box::new(Histogram::new());
        h.add_slice(&[0.1; 64]);
        assert_eq!(percentiles(&h), [0.1f32 as f64; 9]);
    }

    #[test]
    fn hand_computed_two_rows() {
        // Rows [0,1]:1 and [1,3]:3 → weights 2500, 10000.
        // bp 668: row 0, 0 + 668/2500·1 = 0.2672. bp 5000: row 1, 1 + (5000−2500)/7500·2 = 5/3.
        let p = percentiles_of_rows(&[[0.0, 1.0, 1.0], [1.0, 3.0, 3.0]]).unwrap();
        let want = [0.0, 0.2672, 0.6348, 1.0 + 585.0 / 7500.0 * 2.0, 5.0 / 3.0];
        for k in 0..5 {
            // atol 1e-15 + rtol 1e-15: one rounding in the lerp.
            assert!(
                (p[k] - want[k]).abs() <= 1e-15 + 1e-15 * want[k].abs(),
                "{k}: {p:?}"
            );
        }
        assert_eq!(p[8], 3.0);
    }

    #[test]
    fn streaming_equals_literal_transcription() {
        let cases: [&[[f64; 3]]; 5] = [
            &[[-1.0, 0.0, 3.0], [0.0, 0.0, 0.0], [0.0, 2.0, 1.0]],
            &[[0.0, 1.0, 0.0], [1.0, 2.0, 5.0], [2.0, 3.0, 0.0]],
            &[[1.0, 1.0, 1.0]],
            &[[0.0, 1.0, 0.0], [1.0, 2.0, 0.0]],
            &[
                [-5.0, -4.0, 1.0],
                [-4.0, 1.0, 7.0],
                [1.0, 2.0, 1.0],
                [2.0, 9.0, 3.0],
            ],
        ];
        for rows in cases {
            assert_bits(percentiles_of_rows(rows).unwrap(), reference(rows));
        }
    }

    #[test]
    fn histogram_matches_reference_and_collapsed_form() {
        let mut h = Box::new(Histogram::new());
        for x in uniform_f32(12345, 4000, -3.0, 3.0) {
            h.add(libm::tanf(x) * 0.3);
        }
        let rows: Vec<[f64; 3]> = h.rows().collect();
        let p = percentiles(&h);
        assert_bits(p, reference(&rows));
        // The v1 form (empty runs collapsed), as TensorBoard's conversion builds its rows.
        let (min, max) = (h.min().unwrap(), h.max().unwrap());
        let pb: Vec<(f64, u64)> = h.proto_buckets(true).collect();
        let mut collapsed = Vec::new();
        for (k, &(limit, count)) in pb.iter().enumerate() {
            let left = if k == 0 { min } else { pb[k - 1].0 };
            let right = if k + 1 == pb.len() { max } else { limit };
            collapsed.push([left, right, count as f64]);
        }
        assert!(collapsed.len() < rows.len());
        assert_bits(percentiles_of_rows(&collapsed).unwrap(), p);
        assert!(p.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!((p[0], p[8]), (min, max));
    }

    #[test]
    fn invalid_rows_are_refused() {
        let bad: [&[[f64; 3]]; 4] = [
            &[[0.0, 1.0, -1.0]],
            &[[0.0, 1.0, f64::NAN]],
            &[[f64::NEG_INFINITY, 1.0, 1.0]],
            &[[0.0, f64::INFINITY, 1.0]],
        ];
        for rows in bad {
            assert_eq!(
                percentiles_of_rows(rows),
                Err(KernelError::InvalidParam { arg: "rows" })
            );
        }
    }
}
