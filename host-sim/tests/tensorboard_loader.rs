//! Event files written by `host_sim::tensorboard`, read back by TensorBoard's own Python loaders
//! (`tests/read_events.py`): every tag, every scalar, every histogram row and its Distributions
//! percentiles, image sizes, the purge a resumed run's `SessionLog START` causes, and a file cut
//! mid-record.
//!
//! Needs `python3` with the `tensorboard` package (`pip install -r .ci/requirements.txt`); without
//! it the check is skipped with a note, and fails under `VALENCE_REQUIRE_PYTHON=1` (as in CI), so
//! CI cannot pass without checking the format.

mod common;

use common::load;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use host_sim::tensorboard::{read_records, run_dir, Damage, EventWriter};
use kernels::histogram::{percentiles, Histogram, BASIS_POINTS};
use kernels::rng::Rng;
use serde_json::Value;

const HIST_TAGS: [&str; 4] = ["w/normal", "w/spike", "w/nonpositive", "w/wide"];
const IMAGE: (u32, u32) = (6, 4);

/// The loss the first run logs at `step`.
fn first_loss(step: u64) -> f32 {
    1.0 / (step as f32 + 1.0)
}

/// The loss the resumed run logs at `step` (different, so a purge failure shows).
fn resumed_loss(step: u64) -> f32 {
    -(step as f32) - 0.25
}

/// The values behind histogram `tag` at `step`; `resumed` for the second run's version.
fn hist_values(tag: &str, step: u64, resumed: bool) -> Vec<f32> {
    let mut rng = Rng::new(step, u64::from(resumed));
    let mut uniform = move || rng.next_f32();
    match tag {
        "w/normal" => {
            let sigma = 0.05 * (1.0 + step as f32 / 10.0) * if resumed { 3.0 } else { 1.0 };
            let mut v: Vec<f32> = (0..2000)
                .map(|_| (uniform() + uniform() + uniform() + uniform() - 2.0) * sigma)
                .collect();
            // Non-finite values must be counted apart, never written.
            v[17] = f32::NAN;
            v[500] = f32::INFINITY;
            v[1999] = f32::NEG_INFINITY;
            v
        }
        "w/spike" => {
            let mut v = vec![0.1f32; 64];
            v.push(f32::NAN);
            v
        }
        // The maximum sits exactly on a bucket limit (0), so the last row is [0, 0].
        "w/nonpositive" => vec![-3.0, -1.0e-5, -1.0e-5, -(step as f32) - 0.5, 0.0],
        "w/wide" => vec![
            -1.0e30,
            -2.5,
            0.0,
            1.0e-13,
            3.0,
            1.0e38,
            f32::MAX,
            step as f32,
        ],
        _ => unreachable!("{tag}"),
    }
}

fn hist_of(values: &[f32]) -> Box<Histogram> {
    let mut h = Box::new(Histogram::new());
    h.add_slice(values);
    h
}

fn rgb(width: u32, height: u32) -> Vec<u8> {
    (0..width * height * 3)
        .map(|i| (i * 37 % 251) as u8)
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// `[[step, value], …]` as pairs.
fn series(v: &Value) -> Vec<(u64, f64)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_u64().unwrap(), f(&p[1])))
        .collect()
}

/// What a loader should show for one run.
struct Expected {
    /// Scalars per tag, `(step, value)` in step order.
    scalars: BTreeMap<&'static str, Vec<(u64, f32)>>,
    /// Histogram values per tag, `(step, values)` in step order.
    histograms: BTreeMap<&'static str, Vec<(u64, Vec<f32>)>>,
    /// Steps of the image `frame`.
    image_steps: Vec<u64>,
}

/// Asserts one histogram entry of the loader's output against the values it was built from.
fn check_histogram(tag: &str, step: u64, got: &Value, values: &[f32]) {
    let ctx = format!("{tag} step {step}");
    assert_eq!(got["dtype"], "float64", "{ctx}");
    let rows: Vec<[f64; 3]> = got["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| [f(&r[0]), f(&r[1]), f(&r[2])])
        .collect();
    assert_eq!(got["shape"], serde_json::json!([rows.len(), 3]), "{ctx}");
    assert!(!rows.is_empty(), "{ctx}");

    // Independent facts about the values: finite count, min, max.
    let finite: Vec<f64> = values
        .iter()
        .filter(|v| v.is_finite())
        .map(|&v| f64::from(v))
        .collect();
    let min = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let max = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    assert!(
        rows.iter().flatten().all(|x| x.is_finite()),
        "{ctx}: {rows:?}"
    );
    let total: f64 = rows.iter().map(|r| r[2]).sum();
    assert_eq!(total, finite.len() as f64, "{ctx}: counts");
    assert_eq!(rows[0][0], min, "{ctx}: first left = min");
    assert_eq!(rows[rows.len() - 1][1], max, "{ctx}: last right = max");
    // Edges: each row's right is the next row's left; the inner limits (every right edge but
    // the last, which is max and may equal the limit before it) strictly increase; within a row
    // left ≤ right (equal only where min or max sits on the row's other edge).
    for (k, r) in rows.iter().enumerate() {
        assert!(r[0] <= r[1], "{ctx}: row {k} {r:?}");
        assert!(r[2] >= 0.0 && r[2].fract() == 0.0, "{ctx}: row {k} {r:?}");
    }
    for (k, w) in rows.windows(2).enumerate() {
        assert_eq!(
            w[0][1],
            w[1][0],
            "{ctx}: rows {k}, {} not contiguous",
            k + 1
        );
    }
    let inner: Vec<f64> = rows[..rows.len() - 1].iter().map(|r| r[1]).collect();
    assert!(
        inner.windows(2).all(|w| w[0] < w[1]),
        "{ctx}: inner limits {inner:?}"
    );

    // The same rows as the histogram gives (bit-exact through an f64 tensor and JSON repr).
    let hist = hist_of(values);
    assert_eq!(rows, hist.rows().collect::<Vec<_>>(), "{ctx}");

    // TensorBoard's compress_histogram against kernels::histogram::percentiles. The kernels
    // claim bit equality; the test allows |a − b| ≤ 0 + 1e-9·|b|.
    let ours = percentiles(&hist);
    let compressed = got["compressed"].as_array().unwrap();
    assert_eq!(compressed.len(), 9, "{ctx}");
    for (k, c) in compressed.iter().enumerate() {
        assert_eq!(c[0].as_u64(), Some(u64::from(BASIS_POINTS[k])), "{ctx}");
        let theirs = f(&c[1]);
        assert!(
            (ours[k] - theirs).abs() <= 1e-9 * theirs.abs(),
            "{ctx}: bp {}: ours {} vs compress_histogram {theirs}",
            BASIS_POINTS[k],
            ours[k]
        );
    }
}

/// Asserts what both loaders saw of one run.
fn check_run(name: &str, run: &Value, want: &Expected) {
    let plugin = &run["plugin"];
    let tags = &plugin["tags"];
    let want_scalar_tags: Vec<&str> = want.scalars.keys().copied().collect();
    let want_hist_tags: Vec<&str> = want.histograms.keys().copied().collect();
    assert_eq!(
        strings(&tags["scalars"]),
        want_scalar_tags,
        "{name}: {tags}"
    );
    assert_eq!(
        strings(&tags["histograms"]),
        want_hist_tags,
        "{name}: {tags}"
    );
    assert_eq!(strings(&tags["images"]), ["frame"], "{name}: {tags}");

    for (loader, view) in [("plugin", plugin), ("legacy", &run["legacy"])] {
        for (tag, points) in &want.scalars {
            let got = series(&view["scalars"][tag]);
            let expected: Vec<(u64, f64)> =
                points.iter().map(|&(s, v)| (s, f64::from(v))).collect();
            assert_eq!(got, expected, "{name}/{loader}: scalar {tag}");
        }
        let images = view["images"]["frame"].as_array().unwrap();
        let steps: Vec<u64> = images.iter().map(|i| i["step"].as_u64().unwrap()).collect();
        assert_eq!(steps, want.image_steps, "{name}/{loader}: image steps");
        for i in images {
            let size = (i["width"].as_u64(), i["height"].as_u64());
            let want_size = (Some(u64::from(IMAGE.0)), Some(u64::from(IMAGE.1)));
            assert_eq!(size, want_size, "{name}/{loader}: {i}");
            if loader == "plugin" {
                let png = (i["png_width"].as_u64(), i["png_height"].as_u64());
                assert_eq!(png, want_size, "{name}: PNG header {i}");
            }
        }
    }
    // The legacy loader lists the v2 histograms as plain tensors.
    let legacy_tensors = strings(&run["legacy"]["tags"]["tensors"]);
    assert_eq!(legacy_tensors, want_hist_tags, "{name}: legacy tensors");

    for (tag, entries) in &want.histograms {
        let got = plugin["histograms"][tag].as_array().unwrap();
        let steps: Vec<u64> = got.iter().map(|e| e["step"].as_u64().unwrap()).collect();
        let want_steps: Vec<u64> = entries.iter().map(|e| e.0).collect();
        assert_eq!(steps, want_steps, "{name}: histogram {tag} steps");
        for (g, (step, values)) in got.iter().zip(entries) {
            check_histogram(tag, *step, g, values);
        }
    }
}

/// Writes the first run (steps 0..=5) and returns the event file's path.
fn write_first_run(run: &Path) -> PathBuf {
    let mut w = EventWriter::create(run).unwrap();
    // Without this initial START the plugin loader would take the resumed run's START as the
    // initial one and purge nothing.
    w.session_start(0).unwrap();
    for step in 0..6u64 {
        if step == 0 {
            w.image(step, "frame", IMAGE.0, IMAGE.1, &rgb(IMAGE.0, IMAGE.1))
                .unwrap();
        }
        if step % 2 == 0 {
            for tag in HIST_TAGS {
                w.histogram(step, tag, &hist_of(&hist_values(tag, step, false)))
                    .unwrap();
            }
            // Nothing finite: nothing written, and no tag appears.
            w.histogram(step, "w/all_nan", &hist_of(&[f32::NAN, f32::INFINITY]))
                .unwrap();
        }
        w.scalar(step, "zero", 0.0).unwrap();
        // Last in the step, so the file's last record is `loss` at step 5.
        w.scalar(step, "loss", first_loss(step)).unwrap();
    }
    w.flush().unwrap();
    w.path().to_owned()
}

#[test]
fn tensorboard_loads_what_we_write() {
    let tmp = tempfile::tempdir().unwrap();
    let logdir = tmp.path().join("runs");
    let full = run_dir(&logdir, "full").unwrap();
    let cut = run_dir(&logdir, "cut").unwrap();

    // Run 1, then a copy of its file cut in the middle of its last record (`loss` at step 5).
    let first = write_first_run(&full);
    let bytes = std::fs::read(&first).unwrap();
    let (records, none) = read_records(&first).unwrap();
    assert_eq!(none, None);
    let last_len = 12 + records.last().unwrap().len() + 4;
    let last_start = bytes.len() - last_len;
    std::fs::create_dir_all(&cut).unwrap();
    let cut_file = cut.join(first.file_name().unwrap());
    std::fs::write(&cut_file, &bytes[..last_start + last_len / 2]).unwrap();
    let (cut_records, truncation) = read_records(&cut_file).unwrap();
    assert_eq!(cut_records.len(), records.len() - 1);
    let t = truncation.expect("the cut is reported");
    assert_eq!(t.offset, last_start as u64);
    assert_eq!(t.trailing, (last_len / 2) as u64);
    assert_eq!(t.damage, Damage::ShortData);

    // A resumed run in the same directory: a new file that sorts after the first, opening with
    // SessionLog START at step 3, so loaders drop the first run's steps 3, 4 and 5.
    let mut w = EventWriter::create(&full).unwrap();
    assert!(w.path() > first.as_path(), "{:?}", w.path());
    w.session_start(3).unwrap();
    for step in 3..5u64 {
        if step == 4 {
            let values = hist_values("w/normal", step, true);
            w.histogram(step, "w/normal", &hist_of(&values)).unwrap();
        }
        w.scalar(step, "loss", resumed_loss(step)).unwrap();
    }
    w.flush().unwrap();
    drop(w);

    let Some(out) = load(&[&full, &cut]) else {
        return;
    };
    let version = out["tensorboard_version"]
        .as_str()
        .unwrap_or("?")
        .to_owned();
    let runs = out["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);

    let first_hists = |steps: &[u64]| {
        let mut m = BTreeMap::new();
        for tag in HIST_TAGS {
            let entries: Vec<(u64, Vec<f32>)> = steps
                .iter()
                .map(|&s| (s, hist_values(tag, s, false)))
                .collect();
            m.insert(tag, entries);
        }
        m
    };

    let mut histograms = first_hists(&[0, 2]);
    histograms
        .get_mut("w/normal")
        .unwrap()
        .push((4, hist_values("w/normal", 4, true)));
    let full_want = Expected {
        scalars: BTreeMap::from([
            (
                "loss",
                vec![
                    (0, first_loss(0)),
                    (1, first_loss(1)),
                    (2, first_loss(2)),
                    (3, resumed_loss(3)),
                    (4, resumed_loss(4)),
                ],
            ),
            ("zero", (0..3).map(|s| (s, 0.0)).collect()),
        ]),
        histograms,
        image_steps: vec![0],
    };
    check_run(
        &format!("full (tensorboard {version})"),
        &runs[0],
        &full_want,
    );

    let cut_want = Expected {
        scalars: BTreeMap::from([
            ("loss", (0..5).map(|s| (s, first_loss(s))).collect()),
            ("zero", (0..6).map(|s| (s, 0.0)).collect()),
        ]),
        histograms: first_hists(&[0, 2, 4]),
        image_steps: vec![0],
    };
    check_run(&format!("cut (tensorboard {version})"), &runs[1], &cut_want);
}
