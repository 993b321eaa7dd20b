//! `kernels::histogram` against TensorFlow 2.21's `HistogramSummary` op and tensorboard 2.21's
//! `compress_histogram` (fixtures from `tools/gen_histogram_golden.py`).
//!
//! * Buckets: the v1 proto TensorFlow wrote (untrimmed, empty runs collapsed) must equal
//!   `Histogram::proto_buckets(false)` exactly — limits bit for bit, counts equal — and min, max,
//!   num, sum and sum_squares bit for bit.
//! * Percentiles: `percentiles()` against `compress_histogram` on the f64 v2 rows within
//!   `|a − b| ≤ 1e-300 + 1e-9·|b|` (the atol only absorbs exact zeros); in practice they are equal.
//! * TensorBoard's own v1→v2 conversion casts rows to f32 and numpy then sums the weights in
//!   f32; its figures are checked within `1e-30 + 1e-4·|b|` (largest seen: 1.6e-5 relative) or
//!   recorded as null where that f32 path overflowed to inf (`extremes`).

use std::path::PathBuf;

use kernels::histogram::{percentiles, Histogram};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    case: String,
    tensorflow: String,
    values_f32_bits: Vec<u32>,
    num: f64,
    min_bits: u64,
    max_bits: u64,
    sum_bits: u64,
    sum_squares_bits: u64,
    bucket_limit_bits: Vec<u64>,
    bucket: Vec<u64>,
    percentiles_bits: Vec<u64>,
    percentiles_tb_v1: Vec<Option<f64>>,
}

const CASES: [&str; 8] = [
    "normal",
    "uniform",
    "spike_0p1",
    "relu",
    "negatives",
    "tiny",
    "extremes",
    "single",
];

fn load(case: &str) -> Fixture {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests",
        "fixtures",
        &format!("histogram_{case}.json"),
    ]
    .iter()
    .collect();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let fixture: Fixture = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{case}: {e}"));
    assert_eq!(fixture.case, case);
    assert!(
        fixture.tensorflow.starts_with("2.21"),
        "{}",
        fixture.tensorflow
    );
    fixture
}

fn histogram_of(fixture: &Fixture) -> Box<Histogram> {
    let values: Vec<f32> = fixture
        .values_f32_bits
        .iter()
        .map(|&b| f32::from_bits(b))
        .collect();
    let mut h = Box::new(Histogram::new());
    h.add_slice(&values);
    h
}

#[track_caller]
fn assert_close_f64(what: &str, got: f64, want: f64, atol: f64, rtol: f64) {
    assert!(
        (got - want).abs() <= atol + rtol * want.abs(),
        "{what}: got {got:e}, want {want:e} (atol {atol:e} + rtol {rtol:e}·|want|)"
    );
}

#[test]
fn buckets_and_statistics_equal_tensorflow() {
    for case in CASES {
        let f = load(case);
        let h = histogram_of(&f);
        let (limits, counts): (Vec<u64>, Vec<u64>) = h
            .proto_buckets(false)
            .map(|(l, c)| (l.to_bits(), c))
            .unzip();
        assert_eq!(limits, f.bucket_limit_bits, "{case}: bucket_limit");
        assert_eq!(counts, f.bucket, "{case}: bucket");
        assert_eq!(h.num() as f64, f.num, "{case}: num");
        assert_eq!(h.min().unwrap().to_bits(), f.min_bits, "{case}: min");
        assert_eq!(h.max().unwrap().to_bits(), f.max_bits, "{case}: max");
        assert_eq!(h.sum().to_bits(), f.sum_bits, "{case}: sum");
        assert_eq!(
            h.sum_squares().to_bits(),
            f.sum_squares_bits,
            "{case}: sum_squares"
        );
        assert_eq!(h.non_finite(), 0);
    }
}

#[test]
fn trimmed_buckets_are_tf_buckets_without_empty_ends() {
    for case in CASES {
        let f = load(case);
        let h = histogram_of(&f);
        let first = f.bucket.iter().position(|&c| c != 0).unwrap();
        let last = f.bucket.iter().rposition(|&c| c != 0).unwrap();
        let trimmed: Vec<(u64, u64)> = h
            .proto_buckets(true)
            .map(|(l, c)| (l.to_bits(), c))
            .collect();
        let want: Vec<(u64, u64)> = (first..=last)
            .map(|i| (f.bucket_limit_bits[i], f.bucket[i]))
            .collect();
        assert_eq!(trimmed, want, "{case}");
        // The v2 rows span exactly [min, max] and hold every value.
        let rows: Vec<[f64; 3]> = h.rows().collect();
        assert_eq!(rows[0][0].to_bits(), f.min_bits, "{case}");
        assert_eq!(rows[rows.len() - 1][1].to_bits(), f.max_bits, "{case}");
        assert_eq!(rows.iter().map(|r| r[2]).sum::<f64>(), f.num, "{case}");
    }
}

#[test]
fn percentiles_equal_tensorboard_compress_histogram() {
    for case in CASES {
        let f = load(case);
        let got = percentiles(&histogram_of(&f));
        for (k, (&g, &w)) in got.iter().zip(&f.percentiles_bits).enumerate() {
            let w = f64::from_bits(w);
            assert_close_f64(&format!("{case} percentile {k}"), g, w, 1e-300, 1e-9);
        }
        for (k, (&g, w)) in got.iter().zip(&f.percentiles_tb_v1).enumerate() {
            if let Some(w) = *w {
                assert_close_f64(&format!("{case} tb-v1 percentile {k}"), g, w, 1e-30, 1e-4);
            }
        }
    }
}

#[test]
fn percentiles_bit_exact_against_tensorboard() {
    // Stronger than the tolerance above: the port repeats numpy's operations in the same order.
    for case in CASES {
        let f = load(case);
        let got = percentiles(&histogram_of(&f));
        let got_bits: Vec<u64> = got.iter().map(|g| g.to_bits()).collect();
        assert_eq!(got_bits, f.percentiles_bits, "{case}: {got:?}");
    }
}
