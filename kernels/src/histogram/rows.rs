//! Reading a [`Histogram`] out: TensorBoard's v2 rows and TensorFlow's v1 bucket list.

use super::accumulator::Histogram;
use super::edges::{BUCKETS, LIMITS};

/// Iterator over a histogram's trimmed v2 rows `[left, right, count]`; see [`Histogram::rows`].
#[derive(Clone, Debug)]
pub struct Rows<'a> {
    hist: &'a Histogram,
    first: usize,
    next: usize,
    /// One past the last non-empty bucket (`first == end` when empty).
    end: usize,
}

impl<'a> Rows<'a> {
    pub(super) fn new(hist: &'a Histogram) -> Self {
        let (first, end) = match hist.nonzero_range() {
            Some(r) => (*r.start(), *r.end() + 1),
            None => (0, 0),
        };
        Self {
            hist,
            first,
            next: first,
            end,
        }
    }

    /// The row of bucket `index` (within the trimmed range).
    fn row(&self, index: usize) -> [f64; 3] {
        let (min, max) = self.hist.raw_min_max();
        debug_assert!(index >= self.first && index < self.end);
        let left = if index == self.first {
            min
        } else {
            LIMITS[index - 1]
        };
        let right = if index + 1 == self.end {
            max
        } else {
            LIMITS[index]
        };
        [left, right, self.hist.counts()[index] as f64]
    }
}

impl Iterator for Rows<'_> {
    type Item = [f64; 3];

    fn next(&mut self) -> Option<[f64; 3]> {
        if self.next >= self.end {
            return None;
        }
        let row = self.row(self.next);
        self.next += 1;
        Some(row)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.end - self.next;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Rows<'_> {}

/// Iterator over `(bucket_limit, bucket)` pairs in TensorFlow's v1 `HistogramProto` form; see
/// [`Histogram::proto_buckets`].
#[derive(Clone, Debug)]
pub struct ProtoBuckets<'a> {
    counts: &'a [u64; BUCKETS],
    next: usize,
    end: usize,
}

impl<'a> ProtoBuckets<'a> {
    pub(super) fn new(hist: &'a Histogram, trim: bool) -> Self {
        let (next, end) = if trim {
            match hist.nonzero_range() {
                Some(r) => (*r.start(), *r.end() + 1),
                None => (0, 0),
            }
        } else {
            (0, BUCKETS)
        };
        // Untrimmed, the collapse always yields at least one entry (an empty histogram gives
        // `(DBL_MAX, 0)`), so TensorFlow's `bucket_size() == 0` fallback is never needed.
        Self {
            counts: hist.counts(),
            next,
            end,
        }
    }
}

impl Iterator for ProtoBuckets<'_> {
    type Item = (f64, u64);

    fn next(&mut self) -> Option<(f64, u64)> {
        if self.next >= self.end {
            return None;
        }
        // `EncodeToProto(…, preserve_zero_buckets = false)`: a run of empty buckets becomes one
        // zero entry whose limit is the run's last right edge.
        let mut i = self.next;
        let count = self.counts[i];
        if count == 0 {
            while i + 1 < self.end && self.counts[i + 1] == 0 {
                i += 1;
            }
        }
        self.next = i + 1;
        Some((LIMITS[i], count))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::histogram::edges::ZERO_LIMIT;
    use std::boxed::Box;
    use std::vec::Vec;

    fn hist(values: &[f32]) -> Box<Histogram> {
        let mut h = Box::new(Histogram::new());
        h.add_slice(values);
        h
    }

    fn index_of(v: f64) -> usize {
        LIMITS.iter().position(|&l| l > v).unwrap()
    }

    #[test]
    fn rows_single_value_is_min_max_row() {
        let h = hist(&[0.1; 7]);
        let rows: Vec<_> = h.rows().collect();
        let x = 0.1f32 as f64;
        assert_eq!(rows, std::vec![[x, x, 7.0]]);
    }

    #[test]
    fn rows_keep_inner_empty_buckets_and_clamp_ends() {
        let h = hist(&[1.0, 1.0, 5.0, -2.0]);
        let (lo, hi) = (index_of(-2.0), index_of(5.0));
        let rows: Vec<_> = h.rows().collect();
        assert_eq!(rows.len(), hi - lo + 1);
        assert_eq!(h.rows().len(), rows.len());
        assert_eq!(rows[0], [-2.0, LIMITS[lo], 1.0]);
        assert_eq!(*rows.last().unwrap(), [LIMITS[hi - 1], 5.0, 1.0]);
        for (k, r) in rows.iter().enumerate().skip(1).take(rows.len() - 2) {
            assert_eq!(r[0], LIMITS[lo + k - 1]);
            assert_eq!(r[1], LIMITS[lo + k]);
            let want = if lo + k == index_of(1.0) { 2.0 } else { 0.0 };
            assert_eq!(r[2], want, "row {k}");
        }
        let total: f64 = rows.iter().map(|r| r[2]).sum();
        assert_eq!(total, 4.0);
    }

    #[test]
    fn proto_buckets_untrimmed_is_tf_encode() {
        // Reference: EncodeToProto's loop written plainly over the counts.
        let h = hist(&[0.0, 1.0, 1.0, 3.0, -1.0e-3]);
        let c = h.counts();
        let mut want = Vec::new();
        let mut i = 0;
        while i < BUCKETS {
            let mut end = LIMITS[i];
            let mut count = c[i];
            i += 1;
            if count == 0 {
                while i < BUCKETS && c[i] == 0 {
                    end = LIMITS[i];
                    count = c[i];
                    i += 1;
                }
            }
            want.push((end, count));
        }
        let got: Vec<_> = h.proto_buckets(false).collect();
        assert_eq!(got, want);
        assert_eq!(got.first().unwrap().1, 0);
        assert_eq!(*got.last().unwrap(), (f64::MAX, 0));
        // Trimmed: drop exactly the leading and trailing zero entries.
        let trimmed: Vec<_> = h.proto_buckets(true).collect();
        assert_eq!(&trimmed[..], &want[1..want.len() - 1]);
        assert_eq!(trimmed[0], (LIMITS[index_of(-1.0e-3)], 1));
        assert!(trimmed.contains(&(LIMITS[ZERO_LIMIT + 1], 1)));
    }

    #[test]
    fn proto_buckets_of_empty_histogram() {
        let h = Box::new(Histogram::new());
        let got: Vec<_> = h.proto_buckets(false).collect();
        assert_eq!(got, std::vec![(f64::MAX, 0)]);
        assert_eq!(h.proto_buckets(true).count(), 0);
    }
}
