//! The worker threads of a command: how many (`--threads`, or one per core) and the pool that
//! runs the parallel parts (loading frames, filling histograms).

use anyhow::{Context, Result};
use rayon::ThreadPool;

/// The number of worker threads: `flag` (a `--threads` value), or every core the system reports
/// (1 where it reports none).
pub fn threads_or_all_cores(flag: Option<usize>) -> usize {
    flag.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    })
}

/// A pool of `threads` worker threads.
///
/// # Errors
/// If the operating system refuses the threads.
pub fn pool(threads: usize) -> Result<ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .context("starting the worker threads")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_and_its_absence_means_every_core() {
        assert_eq!(threads_or_all_cores(Some(2)), 2);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(threads_or_all_cores(None), cores);
        assert_eq!(pool(3).unwrap().current_num_threads(), 3);
    }
}
