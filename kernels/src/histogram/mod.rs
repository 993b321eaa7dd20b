//! TensorFlow-compatible running histograms and TensorBoard's distribution percentiles.
//!
//! * [`LIMITS`]: TensorFlow's 1551 default bucket limits, computed at compile time.
//! * [`Histogram`]: a fixed-size accumulator (12 472 bytes, no heap) that buckets values as
//!   TensorFlow's `HistogramSummary` op does, counts NaN/±inf apart, merges exactly, and reads
//!   out as trimmed v2 rows ([`Histogram::rows`]) or TensorFlow's v1 bucket list
//!   ([`Histogram::proto_buckets`]).
//! * [`percentiles`]: the nine values of TensorBoard's Distributions chart, so a board can stream
//!   nine numbers per tensor instead of a histogram.
//!
//! Golden tests (`tests/golden_histogram.rs`) compare buckets, limits and statistics bit for bit
//! with TensorFlow 2.21's op and the percentiles with tensorboard 2.21's `compress_histogram`.

mod accumulator;
mod edges;
mod percentiles;
mod rows;

pub use accumulator::Histogram;
pub use edges::{bucket_index, BUCKETS, LIMITS, POSITIVE_EDGES, ZERO_LIMIT};
pub use percentiles::{percentiles, percentiles_of_rows, BASIS_POINTS};
pub use rows::{ProtoBuckets, Rows};
