//! TensorFlow's default histogram bucket limits, built at compile time.
//!
//! TensorFlow (`core/lib/histogram/histogram.cc`, `InitDefaultBucketsInner`) grows positive edges
//! by 10 % from `1e-12` while they stay below `1e20`, mirrors them to the negative side and closes
//! both ends with `±DBL_MAX`:
//!
//! ```text
//! [-DBL_MAX, -e[773], …, -e[0], 0.0, e[0], …, e[773], DBL_MAX]     e[k] = 1e-12 · 1.1^k (repeated f64 products)
//! ```
//!
//! The table is produced by a `const fn` that repeats TensorFlow's loop in f64. Compile-time
//! float arithmetic is IEEE-754 round-to-nearest (the compiler uses a soft-float), so the edges
//! are the bits TensorFlow computes on x86-64, whatever the target's own FPU does.

/// Number of positive edges below `DBL_MAX` (`1e-12 · 1.1^k < 1e20`).
pub const POSITIVE_EDGES: usize = count_positive_edges();

/// Number of bucket limits, and so of buckets: both signs of the edges, `0.0` and `±DBL_MAX`.
pub const BUCKETS: usize = 2 * POSITIVE_EDGES + 3;

/// Index in [`LIMITS`] of the `0.0` limit; bucket `ZERO_LIMIT + 1` holds `[0, 1e-12)`.
pub const ZERO_LIMIT: usize = POSITIVE_EDGES + 1;

// TensorFlow's loop gives 774 edges; a change here would silently shift every bucket.
const _: () = assert!(POSITIVE_EDGES == 774);
const _: () = assert!(BUCKETS == 1551);

/// Right edges of TensorFlow's default buckets, strictly increasing: bucket `i` holds the values
/// `v` with `LIMITS[i - 1] <= v < LIMITS[i]` (bucket 0: `v < -DBL_MAX`).
///
/// A `static` rather than a `const` so the 12 KiB table exists once (in flash on a board).
pub static LIMITS: [f64; BUCKETS] = build_limits();

const FIRST_EDGE: f64 = 1.0e-12;
const EDGE_BOUND: f64 = 1.0e20;
const GROWTH: f64 = 1.1;

const fn count_positive_edges() -> usize {
    let mut v = FIRST_EDGE;
    let mut n = 0;
    while v < EDGE_BOUND {
        n += 1;
        v *= GROWTH;
    }
    n
}

const fn build_limits() -> [f64; BUCKETS] {
    let mut limits = [0.0; BUCKETS];
    limits[0] = -f64::MAX;
    limits[ZERO_LIMIT] = 0.0;
    limits[BUCKETS - 1] = f64::MAX;
    let mut v = FIRST_EDGE;
    let mut k = 0;
    while k < POSITIVE_EDGES {
        limits[ZERO_LIMIT + 1 + k] = v;
        limits[ZERO_LIMIT - 1 - k] = -v;
        v *= GROWTH;
        k += 1;
    }
    limits
}

/// The bucket TensorFlow puts `v` in: `std::upper_bound(limits, v)`, the index of the first limit
/// strictly greater than `v` (so a value equal to a limit goes to the bucket on its right).
///
/// Binary search over [`LIMITS`]: 11 comparisons, 35–50 ns a value on the (shared) host, most
/// of `Histogram::add`. Every finite `f64` below `DBL_MAX` lands in `1..BUCKETS`; `-0.0` goes
/// with `+0.0` into `[0, 1e-12)`. Keep NaN out: it compares false with every limit and would come
/// back as bucket 0. `v >= DBL_MAX` returns `BUCKETS`, one past the last bucket (TensorFlow would
/// write past its array there; no `f32` gets that far).
#[inline]
pub fn bucket_index(v: f64) -> usize {
    LIMITS.partition_point(|&limit| limit <= v)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    /// TensorFlow's `InitDefaultBucketsInner` written plainly with vectors, run at run time.
    fn tf_reference() -> Vec<f64> {
        let mut pos = Vec::new();
        let mut v = 1.0e-12_f64;
        while v < 1.0e20 {
            pos.push(v);
            v *= 1.1;
        }
        pos.push(f64::MAX);
        let mut neg: Vec<f64> = pos.iter().map(|x| -x).collect();
        neg.reverse();
        let mut out = neg;
        out.push(0.0);
        out.extend_from_slice(&pos);
        out
    }

    #[test]
    fn table_matches_tf_loop_bit_for_bit() {
        let reference = tf_reference();
        assert_eq!(reference.len(), BUCKETS);
        assert_eq!(BUCKETS, 1551);
        for (i, (a, b)) in LIMITS.iter().zip(&reference).enumerate() {
            assert_eq!(a.to_bits(), b.to_bits(), "limit {i}: {a} vs {b}");
        }
    }

    #[test]
    fn table_shape() {
        assert_eq!(LIMITS[0], -f64::MAX);
        assert_eq!(LIMITS[BUCKETS - 1], f64::MAX);
        assert_eq!(LIMITS[ZERO_LIMIT].to_bits(), 0.0f64.to_bits());
        assert_eq!(LIMITS[ZERO_LIMIT + 1], 1.0e-12);
        // Last positive edge: the largest product still below 1e20.
        let last = LIMITS[BUCKETS - 2];
        assert!(last < 1.0e20 && last * 1.1 >= 1.0e20, "{last}");
        assert!(LIMITS.windows(2).all(|w| w[0] < w[1]));
        for k in 0..POSITIVE_EDGES {
            assert_eq!(LIMITS[ZERO_LIMIT - 1 - k], -LIMITS[ZERO_LIMIT + 1 + k]);
        }
    }

    /// Reference: a linear scan for the first limit `> v` (upper_bound by definition).
    fn linear_upper_bound(v: f64) -> usize {
        LIMITS.iter().position(|&l| l > v).unwrap_or(BUCKETS)
    }

    #[test]
    fn exact_edges_go_right() {
        for (i, &edge) in LIMITS.iter().enumerate().take(BUCKETS - 1) {
            assert_eq!(bucket_index(edge), i + 1, "edge {i} = {edge}");
            // Just below an edge stays in the bucket whose right edge it is.
            let below = next_down(edge);
            if i > 0 {
                assert_eq!(bucket_index(below), i, "below edge {i} = {edge}");
            }
        }
        assert_eq!(bucket_index(f64::MAX), BUCKETS);
        assert_eq!(bucket_index(f64::NEG_INFINITY), 0);
    }

    #[test]
    fn around_every_edge_matches_linear_scan() {
        for &edge in LIMITS.iter() {
            for x in [
                edge,
                next_down(edge),
                next_up(edge),
                edge * 0.999_999,
                edge * 1.000_001,
            ] {
                if x.is_finite() {
                    assert_eq!(bucket_index(x), linear_upper_bound(x), "{x:e}");
                    assert_eq!(bucket_index(-x), linear_upper_bound(-x), "{:e}", -x);
                }
            }
        }
        for x in [f64::MIN_POSITIVE, 5.0e-324, 1.0e-300, 1.0e300] {
            assert_eq!(bucket_index(x), linear_upper_bound(x), "{x:e}");
            assert_eq!(bucket_index(-x), linear_upper_bound(-x), "{:e}", -x);
        }
    }

    #[test]
    fn zero_and_signed_zero() {
        assert_eq!(bucket_index(0.0), ZERO_LIMIT + 1);
        assert_eq!(bucket_index(-0.0), ZERO_LIMIT + 1);
        assert_eq!(bucket_index(9.0e-13), ZERO_LIMIT + 1);
        assert_eq!(bucket_index(-9.0e-13), ZERO_LIMIT);
        assert_eq!(bucket_index(-1.0e-12), ZERO_LIMIT);
    }

    #[test]
    fn f32_extremes_and_sweep_match_linear_scan() {
        let specials = [
            f32::MAX,
            -f32::MAX,
            f32::MIN_POSITIVE,
            -f32::MIN_POSITIVE,
            1.0e-45,
            -1.0e-45,
            1.0,
            -1.0,
            0.1,
            1.0e20,
            -1.0e20,
            9.9e19,
        ];
        for &v in &specials {
            let x = f64::from(v);
            assert_eq!(bucket_index(x), linear_upper_bound(x), "{v}");
        }
        assert_eq!(bucket_index(f64::from(f32::MAX)), BUCKETS - 1);
        assert_eq!(bucket_index(f64::from(-f32::MAX)), 1);
        // A geometric sweep over both signs.
        let mut v = 1.0e-15_f64;
        while v < 1.0e25 {
            assert_eq!(bucket_index(v), linear_upper_bound(v), "{v}");
            assert_eq!(bucket_index(-v), linear_upper_bound(-v), "{}", -v);
            v *= 1.037;
        }
    }

    fn next_up(x: f64) -> f64 {
        -next_down(-x)
    }

    fn next_down(x: f64) -> f64 {
        if x == 0.0 {
            -f64::from_bits(1)
        } else if x > 0.0 {
            f64::from_bits(x.to_bits() - 1)
        } else {
            f64::from_bits(x.to_bits() + 1)
        }
    }
}
