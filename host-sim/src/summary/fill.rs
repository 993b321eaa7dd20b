//! Filling a [`Histogram`] from a large slice on several threads with a result that does not
//! depend on the thread count.

use kernels::histogram::Histogram;
use rayon::prelude::*;
use rayon::ThreadPool;

/// Values per shard. Fixed (never derived from the thread count), so the shards, and therefore
/// the merged sums, are the same for `--threads 1` and `--threads 8`. 32 Ki values cost about
/// 1.3 ms each; FULL's conv1 output at batch 32 (2.4 M values) makes 73 shards.
pub const CHUNK: usize = 1 << 15;

/// A histogram of a slice plus its count of exact zeros (`0.0` or `-0.0`).
#[derive(Debug, Clone)]
pub struct Filled {
    /// Every value of the slice (NaN and ±inf counted apart, see [`Histogram::non_finite`]).
    pub hist: Box<Histogram>,
    /// How many values were exactly zero.
    pub zeros: u64,
}

/// Histograms `values` in shards of [`CHUNK`] on `pool`, reading the slice in place (no copy),
/// then merges the shards' histograms as a left fold in ascending shard order — the
/// determinism rule of [`Histogram::merge`].
pub fn fill(pool: &ThreadPool, values: &[f32]) -> Filled {
    let shards: Vec<Filled> = pool.install(|| {
        values
            .par_chunks(CHUNK)
            .map(|chunk| {
                let mut hist = Box::new(Histogram::new());
                hist.add_slice(chunk);
                let zeros = chunk.iter().filter(|&&v| v == 0.0).count() as u64;
                Filled { hist, zeros }
            })
            .collect()
    });
    let mut shards = shards.into_iter();
    let mut total = shards.next().unwrap_or_else(|| Filled {
        hist: Box::new(Histogram::new()),
        zeros: 0,
    });
    for shard in shards {
        total.hist.merge(&shard.hist);
        total.zeros += shard.zeros;
    }
    total
}

/// `Σ (a_i − b_i)²` in f64, summed in index order (one fixed order whatever the threads).
///
/// # Panics
/// If the slices' lengths differ (a caller bug: both are views of one parameter tensor).
pub fn sq_distance(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "sq_distance of unequal slices");
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = f64::from(x) - f64::from(y);
            d * d
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(threads: usize) -> ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    }

    #[test]
    fn sharded_fill_counts_like_one_pass_and_ignores_the_thread_count() {
        let values: Vec<f32> = (0..3 * CHUNK + 17)
            .map(|i| {
                if i % 5 == 0 {
                    0.0
                } else {
                    ((i as f32) * 0.618).sin()
                }
            })
            .collect();
        let one = fill(&pool(1), &values);
        let two = fill(&pool(2), &values);
        assert_eq!(one.hist, two.hist, "bits equal for 1 and 2 threads");
        assert_eq!(one.zeros, two.zeros);
        let mut plain = Histogram::new();
        plain.add_slice(&values);
        assert_eq!(one.hist.counts(), plain.counts());
        assert_eq!((one.hist.min(), one.hist.max()), (plain.min(), plain.max()));
        assert_eq!(one.hist.num(), values.len() as u64);
        let zeros = values.iter().filter(|&&v| v == 0.0).count() as u64;
        assert_eq!(one.zeros, zeros);
        // Sums differ from the one-pass sums only by rounding.
        let rel = (one.hist.sum() - plain.sum()).abs() / plain.sum().abs().max(1.0);
        assert!(rel < 1e-12, "{rel}");
    }

    #[test]
    fn empty_slice_gives_an_empty_histogram() {
        let f = fill(&pool(1), &[]);
        assert!(f.hist.is_empty());
        assert_eq!(f.zeros, 0);
    }

    #[test]
    fn sq_distance_is_the_plain_sum() {
        assert_eq!(sq_distance(&[1.0, 2.0, -1.0], &[0.0, 4.0, 1.0]), 9.0);
    }
}
