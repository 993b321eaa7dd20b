//! The running histogram: TensorFlow's default buckets, counts, min, max, sum, sum of squares.

use core::ops::RangeInclusive;

use super::edges::{bucket_index, BUCKETS};
use super::rows::{ProtoBuckets, Rows};

/// A running histogram over TensorFlow's default buckets ([`LIMITS`](super::LIMITS)), heap-free.
///
/// Adding a value does what TensorFlow's `HistogramSummary` op does for it (`histogram.cc`,
/// `Histogram::Add`): widen to f64, count it in bucket `upper_bound(limits, v)`, update min and
/// max with strict comparisons (the first of equal values wins: `-0.0` then `0.0` keeps `-0.0`),
/// `sum += v`, `sum_squares += v·v`, in the order the values arrive. Where TensorFlow refuses
/// NaN and ±inf, this counts them apart ([`nan`](Self::nan), [`pos_inf`](Self::pos_inf),
/// [`neg_inf`](Self::neg_inf)); they never enter buckets, `num`, min, max or the sums, so the
/// histogram is always safe to write to TensorBoard. Subnormal inputs count as zeros of their
/// sign, as in TensorFlow, whose CPU threads run with denormals-are-zero.
///
/// # Size
/// 12 472 bytes on every target (1551 `u64` counts, four `f64` and four `u64` totals), aligned
/// like `u64` (8 on x86-64 and Cortex-M, 4 on i686).
/// Put it in a `static`, an arena or a `Box`, not in a small task stack; [`new`](Self::new) is a
/// `const fn` for that, and [`clear`](Self::clear) reuses one in place.
///
/// Counts are `u64`, not `u32` (which would halve the size): a ReLU layer's exact zeros all land
/// in the one bucket `[0, 1e-12)`, and the seed's conv1 alone yields 75 M values per batch of
/// 1024, so a `u32` bucket of a histogram kept over a run overflows within a hundred steps.
/// TensorFlow itself counts in f64. Counts saturate at `u64::MAX` instead of wrapping.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    counts: [u64; BUCKETS],
    num: u64,
    nan: u64,
    pos_inf: u64,
    neg_inf: u64,
    min: f64,
    max: f64,
    sum: f64,
    sum_squares: f64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl Histogram {
    /// An empty histogram (TensorFlow's `Clear`: min `DBL_MAX`, max `-DBL_MAX`, all else zero).
    pub const fn new() -> Self {
        Self {
            counts: [0; BUCKETS],
            num: 0,
            nan: 0,
            pos_inf: 0,
            neg_inf: 0,
            min: f64::MAX,
            max: -f64::MAX,
            sum: 0.0,
            sum_squares: 0.0,
        }
    }

    /// The histogram whose accessors report these parts: bucket counts ([`counts`](Self::counts)),
    /// `[min, max]`, `[sum, sum_squares]` and `[nan, +inf, -inf]`. This is how a histogram logged
    /// by a board is read back on the host (`host-sim ingest`). `num` is the (saturating) sum of
    /// `counts`; when it is 0, `min_max` and `sums` are ignored and the result is empty.
    pub fn from_parts(
        counts: &[u64; BUCKETS],
        min_max: [f64; 2],
        sums: [f64; 2],
        non_finite: [u64; 3],
    ) -> Self {
        let num = counts.iter().fold(0u64, |n, &c| n.saturating_add(c));
        let mut h = Self::new();
        h.counts = *counts;
        h.num = num;
        [h.nan, h.pos_inf, h.neg_inf] = non_finite;
        if num > 0 {
            [h.min, h.max] = min_max;
            [h.sum, h.sum_squares] = sums;
        }
        h
    }

    /// Empties the histogram in place (no 12 KiB temporary on the stack).
    pub fn clear(&mut self) {
        self.counts.fill(0);
        self.num = 0;
        self.nan = 0;
        self.pos_inf = 0;
        self.neg_inf = 0;
        self.min = f64::MAX;
        self.max = -f64::MAX;
        self.sum = 0.0;
        self.sum_squares = 0.0;
    }

    /// Adds one value; NaN and ±inf are only counted apart, a subnormal counts as a signed zero.
    #[inline]
    pub fn add(&mut self, v: f32) {
        if v.is_nan() {
            self.nan = self.nan.saturating_add(1);
            return;
        }
        if v.is_infinite() {
            if v > 0.0 {
                self.pos_inf = self.pos_inf.saturating_add(1);
            } else {
                self.neg_inf = self.neg_inf.saturating_add(1);
            }
            return;
        }
        // TensorFlow's CPU threads run with denormals-are-zero: the op sees a subnormal f32 as a
        // zero of the same sign (checked against TF 2.21: [-1e-45] gives min = max = -0.0).
        let v = if v.is_subnormal() {
            f32::from_bits(v.to_bits() & 0x8000_0000)
        } else {
            v
        };
        let x = f64::from(v);
        let b = bucket_index(x);
        // Finite f32 lie strictly inside (-DBL_MAX, DBL_MAX): never bucket 0, never past the end.
        debug_assert!(b > 0 && b < BUCKETS);
        self.counts[b] = self.counts[b].saturating_add(1);
        if self.min > x {
            self.min = x;
        }
        if self.max < x {
            self.max = x;
        }
        self.num = self.num.saturating_add(1);
        self.sum += x;
        self.sum_squares += x * x;
    }

    /// Adds every value of `values` in index order (the order the sums are taken in).
    pub fn add_slice(&mut self, values: &[f32]) {
        for &v in values {
            self.add(v);
        }
    }

    /// Adds `other`'s contents to `self`.
    ///
    /// Counts, `num`, the non-finite counts, min and max come out exactly as if `other`'s values
    /// had been added after `self`'s (min/max use the same strict comparisons, so even the sign of
    /// a zero minimum matches that order). The sums are `self.sum + other.sum`, which is *not*
    /// bit-equal to adding `other`'s values one by one, and f64 addition is not associative.
    ///
    /// Determinism rule: merge partial histograms in one fixed order — a left fold over shards in
    /// ascending shard index (`total = shard[0]; total.merge(&shard[1]); …`) — never in the order
    /// threads finish. Then every run and every target gives the same bits.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, &b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a = a.saturating_add(b);
        }
        if other.num > 0 {
            if self.min > other.min {
                self.min = other.min;
            }
            if self.max < other.max {
                self.max = other.max;
            }
        }
        self.num = self.num.saturating_add(other.num);
        self.nan = self.nan.saturating_add(other.nan);
        self.pos_inf = self.pos_inf.saturating_add(other.pos_inf);
        self.neg_inf = self.neg_inf.saturating_add(other.neg_inf);
        self.sum += other.sum;
        self.sum_squares += other.sum_squares;
    }

    /// Number of finite values added (TensorFlow's `num`).
    pub const fn num(&self) -> u64 {
        self.num
    }

    /// True when no finite value was added (non-finite ones may have been).
    pub const fn is_empty(&self) -> bool {
        self.num == 0
    }

    /// Smallest finite value added, `None` when empty.
    pub const fn min(&self) -> Option<f64> {
        if self.num == 0 {
            None
        } else {
            Some(self.min)
        }
    }

    /// Largest finite value added, `None` when empty.
    pub const fn max(&self) -> Option<f64> {
        if self.num == 0 {
            None
        } else {
            Some(self.max)
        }
    }

    /// Sum of the finite values, in f64, in the order they were added (0 when empty).
    pub const fn sum(&self) -> f64 {
        self.sum
    }

    /// Sum of the squares of the finite values, in f64 (0 when empty).
    pub const fn sum_squares(&self) -> f64 {
        self.sum_squares
    }

    /// Number of NaN values offered to [`add`](Self::add).
    pub const fn nan(&self) -> u64 {
        self.nan
    }

    /// Number of `+inf` values offered.
    pub const fn pos_inf(&self) -> u64 {
        self.pos_inf
    }

    /// Number of `-inf` values offered.
    pub const fn neg_inf(&self) -> u64 {
        self.neg_inf
    }

    /// NaN and ±inf together: the number to report as a scalar next to the histogram.
    pub const fn non_finite(&self) -> u64 {
        self.nan
            .saturating_add(self.pos_inf)
            .saturating_add(self.neg_inf)
    }

    /// Every bucket's count; bucket `i` is `[LIMITS[i-1], LIMITS[i])`.
    pub const fn counts(&self) -> &[u64; BUCKETS] {
        &self.counts
    }

    /// The first and last non-empty bucket: the range TENSORBOARD.md's trim rule keeps.
    /// `None` when empty.
    pub fn nonzero_range(&self) -> Option<RangeInclusive<usize>> {
        let first = self.counts.iter().position(|&c| c != 0)?;
        let last = self.counts.iter().rposition(|&c| c != 0)?;
        Some(first..=last)
    }

    /// The trimmed v2 rows `[left, right, count]`, one per bucket from the first to the last
    /// non-empty one (inner empty buckets included), with the first `left` replaced by `min` and
    /// the last `right` by `max` — what TensorBoard's own v1→v2 conversion produces, and what a
    /// `[k, 3]` DT_DOUBLE histogram tensor should hold. Empty histogram: no rows.
    pub fn rows(&self) -> Rows<'_> {
        Rows::new(self)
    }

    /// The `(bucket_limit, bucket)` pairs TensorFlow's `EncodeToProto(…, false)` writes into a v1
    /// `HistogramProto`: every run of empty buckets collapsed into one zero entry ending at the
    /// run's last limit. `trim = false` reproduces TensorFlow exactly (leading and trailing zero
    /// entries, last limit `DBL_MAX`; an empty histogram gives `(DBL_MAX, 0)`); `trim = true`
    /// keeps only the first through the last non-empty bucket, as TENSORBOARD.md requires for
    /// files (empty histogram: nothing).
    pub fn proto_buckets(&self, trim: bool) -> ProtoBuckets<'_> {
        ProtoBuckets::new(self, trim)
    }

    /// Raw min/max fields (TensorFlow's sentinels `DBL_MAX`/`-DBL_MAX` when empty), for the rows.
    pub(super) const fn raw_min_max(&self) -> (f64, f64) {
        (self.min, self.max)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::edges::{LIMITS, ZERO_LIMIT};
    use super::*;
    use crate::test_data;
    use std::boxed::Box;
    use std::vec::Vec;

    /// Deterministic spread of values over many magnitudes (about 2^-60 … 2^28) and both signs.
    fn sample(n: usize, seed: u64) -> Vec<f32> {
        let mut rng = test_data::rng(seed);
        (0..n)
            .map(|_| {
                let mant = rng.next_f32(); // [0, 1)
                let exp = rng.below(60) as i32 - 40;
                let sign = if rng.next_u32() & 1 == 0 { 1.0 } else { -1.0 };
                sign * (1.0 + mant) * libm::powf(2.0, exp as f32 * 1.5)
            })
            .collect()
    }

    /// Reference histogram: linear scan for the bucket, plain f64 sums.
    fn reference(values: &[f32]) -> (Vec<u64>, u64, f64, f64, f64, f64) {
        let mut counts = std::vec![0u64; BUCKETS];
        let (mut min, mut max, mut sum, mut sq, mut num) = (f64::MAX, -f64::MAX, 0.0, 0.0, 0);
        for &v in values.iter().filter(|v| v.is_finite()) {
            let x = v as f64;
            let b = LIMITS.iter().position(|&l| l > x).unwrap();
            counts[b] += 1;
            min = min.min(x);
            max = max.max(x);
            sum += x;
            sq += x * x;
            num += 1;
        }
        (counts, num, min, max, sum, sq)
    }

    #[test]
    fn size_is_documented() {
        assert_eq!(core::mem::size_of::<Histogram>(), 12_472);
        // 8 on x86-64 and ARM (AAPCS), 4 on i686 where u64/f64 are 4-aligned.
        assert_eq!(
            core::mem::align_of::<Histogram>(),
            core::mem::align_of::<u64>()
        );
    }

    #[test]
    fn add_matches_reference() {
        let values = sample(5000, 0x9E37_79B9_7F4A_7C15);
        let mut h = Box::new(Histogram::new());
        h.add_slice(&values);
        let (counts, num, min, max, sum, sq) = reference(&values);
        assert_eq!(&h.counts()[..], &counts[..]);
        assert_eq!(h.num(), num);
        assert_eq!(h.min(), Some(min));
        assert_eq!(h.max(), Some(max));
        // Same order, same operations: bit-equal sums.
        assert_eq!(h.sum().to_bits(), sum.to_bits());
        assert_eq!(h.sum_squares().to_bits(), sq.to_bits());
    }

    #[test]
    fn zero_negatives_and_f32_extremes() {
        let mut h = Box::new(Histogram::new());
        h.add_slice(&[0.0, -0.0, -2.5, f32::MAX, -f32::MAX, 1.0e-13]);
        let c = h.counts();
        assert_eq!(c[ZERO_LIMIT + 1], 3, "0, -0 and 1e-13 share [0, 1e-12)");
        assert_eq!(c[BUCKETS - 1], 1, "f32::MAX in [e773, DBL_MAX)");
        assert_eq!(c[1], 1, "-f32::MAX in [-DBL_MAX, -e773)");
        assert_eq!(c[0], 0);
        let b = LIMITS.iter().position(|&l| l > -2.5).unwrap();
        assert!(LIMITS[b - 1] <= -2.5 && -2.5 < LIMITS[b]);
        assert_eq!(c[b], 1);
        assert_eq!(h.num(), 6);
        assert_eq!(h.min(), Some(-(f32::MAX as f64)));
        assert_eq!(h.max(), Some(f32::MAX as f64));
        assert_eq!(h.nonzero_range(), Some(1..=BUCKETS - 1));
    }

    #[test]
    fn first_signed_zero_wins_min_and_max_like_tf() {
        let mut h = Box::new(Histogram::new());
        h.add_slice(&[-0.0, 0.0]);
        assert_eq!(h.min().unwrap().to_bits(), (-0.0f64).to_bits());
        assert_eq!(h.max().unwrap().to_bits(), (-0.0f64).to_bits());
    }

    #[test]
    fn subnormals_are_signed_zeros_like_tf() {
        // TF 2.21 HistogramSummary on [1e-38, -1e-45, 2.0]: min 0.0, max 2.0, sum 2.0, both
        // subnormals in [0, 1e-12); on [-1e-45] alone: min = max = -0.0, sum 0.0.
        let mut h = Box::new(Histogram::new());
        h.add_slice(&[1.0e-38, -1.0e-45, 2.0]);
        assert_eq!(h.counts()[ZERO_LIMIT + 1], 2);
        assert_eq!(h.min().unwrap().to_bits(), 0.0f64.to_bits());
        assert_eq!((h.max(), h.sum(), h.sum_squares()), (Some(2.0), 2.0, 4.0));
        let mut h = Box::new(Histogram::new());
        h.add(-1.0e-45);
        assert_eq!(h.counts()[ZERO_LIMIT + 1], 1);
        assert_eq!(h.min().unwrap().to_bits(), (-0.0f64).to_bits());
        assert_eq!(h.max().unwrap().to_bits(), (-0.0f64).to_bits());
        assert_eq!(h.sum().to_bits(), 0.0f64.to_bits());
    }

    #[test]
    fn non_finite_counted_apart() {
        let mut h = Box::new(Histogram::new());
        h.add_slice(&[
            f32::NAN,
            1.0,
            f32::INFINITY,
            -f32::NAN,
            f32::NEG_INFINITY,
            f32::INFINITY,
            -3.0,
        ]);
        assert_eq!((h.nan(), h.pos_inf(), h.neg_inf()), (2, 2, 1));
        assert_eq!(h.non_finite(), 5);
        assert_eq!(h.num(), 2);
        assert_eq!(h.counts().iter().sum::<u64>(), 2);
        assert_eq!((h.min(), h.max()), (Some(-3.0), Some(1.0)));
        assert_eq!((h.sum(), h.sum_squares()), (-2.0, 10.0));
        assert_eq!(h.counts()[0], 0, "-inf never reaches bucket 0");
    }

    #[test]
    fn only_non_finite_is_empty() {
        let mut h = Box::new(Histogram::new());
        h.add_slice(&[f32::NAN, f32::INFINITY]);
        assert!(h.is_empty());
        assert_eq!((h.min(), h.max(), h.nonzero_range()), (None, None, None));
        assert_eq!(h.rows().count(), 0);
    }

    #[test]
    fn merge_equals_adding_both_streams() {
        let a = sample(3000, 1);
        let mut b = sample(2000, 2);
        b[7] = f32::NAN;
        b[8] = f32::NEG_INFINITY;
        let mut ha = Box::new(Histogram::new());
        ha.add_slice(&a);
        let mut hb = Box::new(Histogram::new());
        hb.add_slice(&b);
        let mut all = Box::new(Histogram::new());
        all.add_slice(&a);
        all.add_slice(&b);

        let mut merged = ha.clone();
        merged.merge(&hb);
        assert_eq!(&merged.counts()[..], &all.counts()[..]);
        assert_eq!(
            (merged.num(), merged.min(), merged.max()),
            (all.num(), all.min(), all.max())
        );
        assert_eq!(
            (merged.nan(), merged.pos_inf(), merged.neg_inf()),
            (all.nan(), all.pos_inf(), all.neg_inf())
        );
        // Sums differ only by re-association: |a − b| ≤ 1e-12·Σ|x| (atol 0, rtol on the abs sum).
        let abs: f64 = a
            .iter()
            .chain(&b)
            .filter(|v| v.is_finite())
            .map(|&v| (v as f64).abs())
            .sum();
        let sq_abs = all.sum_squares();
        assert!((merged.sum() - all.sum()).abs() <= 1e-12 * abs);
        assert!((merged.sum_squares() - sq_abs).abs() <= 1e-12 * sq_abs);

        // Counts, min and max are order-independent.
        let mut other_way = hb.clone();
        other_way.merge(&ha);
        assert_eq!(&other_way.counts()[..], &all.counts()[..]);
        assert_eq!((other_way.min(), other_way.max()), (all.min(), all.max()));
    }

    #[test]
    fn merge_sums_exact_when_partial_sums_are_exact() {
        // Small integers: every partial sum is exact, so merge is bit-equal to add-all.
        let a: Vec<f32> = (0..100).map(|i| (i % 17) as f32 - 8.0).collect();
        let b: Vec<f32> = (0..50).map(|i| (i % 5) as f32 * 3.0).collect();
        let mut merged = Box::new(Histogram::new());
        merged.add_slice(&a);
        let mut hb = Box::new(Histogram::new());
        hb.add_slice(&b);
        merged.merge(&hb);
        let mut all = Box::new(Histogram::new());
        all.add_slice(&a);
        all.add_slice(&b);
        assert_eq!(*merged, *all);
    }

    #[test]
    fn merge_with_empty_is_identity_both_ways() {
        let mut h = Box::new(Histogram::new());
        h.add_slice(&[0.5, -7.0, 3.0e10]);
        let before = h.clone();
        h.merge(&Histogram::new());
        assert_eq!(*h, *before);
        let mut e = Box::new(Histogram::new());
        e.merge(&before);
        assert_eq!(*e, *before);
    }

    #[test]
    fn from_parts_rebuilds_what_the_accessors_report() {
        let mut h = Histogram::new();
        h.add_slice(&[0.5, -3.0, 1e-3, f32::NAN, f32::INFINITY, 0.5]);
        let min_max = [h.min().unwrap(), h.max().unwrap()];
        let back = Histogram::from_parts(
            h.counts(),
            min_max,
            [h.sum(), h.sum_squares()],
            [h.nan(), h.pos_inf(), h.neg_inf()],
        );
        assert_eq!(back, h);
        let empty = Histogram::from_parts(&[0; BUCKETS], [1.0, 2.0], [3.0, 4.0], [0; 3]);
        assert_eq!(empty, Histogram::new());
    }

    #[test]
    fn clear_resets_everything() {
        let mut h = Box::new(Histogram::new());
        h.add_slice(&[1.0, f32::NAN, -1.0e-20, f32::INFINITY]);
        h.clear();
        assert_eq!(*h, Histogram::new());
        assert_eq!(h.min(), None);
        assert_eq!(h.non_finite(), 0);
    }

    #[test]
    fn nonzero_range_trims() {
        let mut h = Box::new(Histogram::new());
        assert_eq!(h.nonzero_range(), None);
        h.add(1.0);
        let one = LIMITS.iter().position(|&l| l > 1.0).unwrap();
        assert_eq!(h.nonzero_range(), Some(one..=one));
        h.add(-1.0);
        let minus_one = LIMITS.iter().position(|&l| l > -1.0).unwrap();
        assert_eq!(h.nonzero_range(), Some(minus_one..=one));
    }
}
