//! A real `host-sim` run, read back by TensorBoard's own loader (`tests/read_events.py`): every
//! tag the seed logs plus Valence's learning tags, histogram rows finite and increasing with
//! counts equal to the tensors' sizes, the Distributions percentiles equal to the kernels', the
//! same values for `--threads 1` and `--threads 2`, a run killed with SIGKILL that loads and
//! resumes, and the learning report's verdicts on a short run checked against the numbers
//! TensorBoard itself loads.
//!
//! The loader checks need `python3` with the `tensorboard` package (`pip install -r
//! .ci/requirements.txt`); without it they are skipped with a note, or fail under
//! `VALENCE_REQUIRE_PYTHON=1` (as in CI).

mod common;

use common::load;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use host_sim::checkpoint::{Checkpoint, CHECKPOINT_FILE};
use host_sim::tensorboard::read_records;
use kernels::histogram::percentiles_of_rows;
use kernels::net::ValenceConfig;
use serde_json::Value;

const BATCH: usize = 4;

fn host_sim(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_host-sim"))
        .args(args)
        .output()
        .expect("the host-sim binary runs");
    assert!(
        out.status.success(),
        "host-sim {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The one run directory under `logdir`.
fn run_dir(logdir: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(logdir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

fn tags(run: &Value, plugin: &str) -> Vec<String> {
    run["plugin"]["tags"][plugin]
        .as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

/// `tag → [(step, value)]` of the plugin loader's scalars.
fn scalars(run: &Value) -> BTreeMap<String, Vec<(i64, f64)>> {
    run["plugin"]["scalars"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let pts = v
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p[0].as_i64().unwrap(), p[1].as_f64().unwrap()))
                .collect();
            (k.clone(), pts)
        })
        .collect()
}

/// `tag → number of values` of every histogram a TINY run logs.
fn expected_histograms() -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    let plan = ValenceConfig::TINY.plan().unwrap();
    for p in plan.probes() {
        m.insert(p.tag.to_owned(), BATCH * plan.layer(p.index).output_len());
    }
    for s in ValenceConfig::TINY.params().unwrap() {
        m.insert(s.tag.to_owned(), s.len);
        m.insert(format!("{}/delta_from_init", s.tag), s.len);
    }
    m
}

fn check_histograms(run: &Value, steps: &[i64]) {
    let expected = expected_histograms();
    assert_eq!(
        tags(run, "histograms"),
        expected.keys().cloned().collect::<Vec<_>>()
    );
    assert_eq!(expected["con1_before_relu"], BATCH * 16 * 16 * 8);
    for (tag, &size) in &expected {
        let entries = run["plugin"]["histograms"][tag].as_array().unwrap();
        let got: Vec<i64> = entries
            .iter()
            .map(|e| e["step"].as_i64().unwrap())
            .collect();
        // W − W₀ is all zero at step 0 and is not logged there (no spike in the Histograms tab).
        let want: Vec<i64> = if tag.ends_with("/delta_from_init") {
            steps.iter().copied().filter(|&s| s != 0).collect()
        } else {
            steps.to_vec()
        };
        assert_eq!(got, want, "{tag}");
        for e in entries {
            assert_eq!(e["dtype"], "float64", "{tag}");
            let rows: Vec<[f64; 3]> = e["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| [0, 1, 2].map(|i| r[i].as_f64().unwrap()))
                .collect();
            assert!(!rows.is_empty(), "{tag}");
            let edges: Vec<f64> = rows.iter().flat_map(|r| [r[0], r[1]]).collect();
            assert!(edges.iter().all(|x| x.is_finite()), "{tag}: {edges:?}");
            assert!(edges.windows(2).all(|w| w[0] <= w[1]), "{tag}: {edges:?}");
            let count: f64 = rows.iter().map(|r| r[2]).sum();
            assert_eq!(count, size as f64, "{tag} at {}", e["step"]);
            // The Distributions chart's nine numbers: TensorBoard's compress_histogram on the
            // loaded rows equals the kernels' percentile function.
            let ours = percentiles_of_rows(&rows).unwrap();
            let theirs = e["compressed"].as_array().unwrap();
            assert_eq!(theirs.len(), 9);
            for (a, t) in ours.iter().zip(theirs) {
                let b = t[1].as_f64().unwrap();
                assert!((a - b).abs() <= 1e-9 * b.abs(), "{tag}: {a} vs {b}");
            }
        }
    }
}

fn check_scalars_and_images(run: &Value, steps: &[i64], total: i64) {
    let s = scalars(run);
    let loss: Vec<i64> = s["loss/loss"].iter().map(|p| p.0).collect();
    assert_eq!(loss, (0..total).collect::<Vec<_>>(), "loss at every step");
    for tag in ["train/learning_rate", "train/frames_per_second"] {
        let got: Vec<i64> = s[tag].iter().map(|p| p.0).collect();
        assert_eq!(got, steps, "{tag}");
    }
    for layer in [
        "conv1", "conv2", "conv3", "conv4", "conv5", "local1", "local2",
    ] {
        let zeros = &s[&format!("relu_zero_fraction/{layer}")];
        let dead = &s[&format!("dead_units/{layer}")];
        assert_eq!(zeros.len(), steps.len(), "{layer}");
        assert_eq!(dead.len(), steps.len(), "{layer}");
        // A unit that is zero for every frame contributes all its values to the zeros: the
        // dead fraction can never exceed the zero fraction.
        for (z, d) in zeros.iter().zip(dead) {
            assert!(
                (0.0..=1.0).contains(&d.1) && d.1 <= z.1,
                "{layer}: {z:?} {d:?}"
            );
        }
    }
    assert!(!s.keys().any(|k| k.starts_with("dead_relu/")), "old tag");
    for spec in ValenceConfig::TINY.params().unwrap() {
        let drift = &s[&format!("drift/{}", spec.tag)];
        assert_eq!(drift[0], (0, 0.0), "{}: no drift at step 0", spec.tag);
        assert!(drift.last().unwrap().1 > 0.0, "{}: {drift:?}", spec.tag);
        let ratio = &s[&format!("update_ratio/{}", spec.tag)];
        // ‖ΔW‖/‖W‖ is written as 0 where ‖W‖ = 0: softmax_biases at step 0.
        let zero_start = spec.tag == "softmax_biases";
        assert!(
            ratio.iter().all(|p| p.1 > 0.0 || (zero_start && p.0 == 0)),
            "{}: {ratio:?}",
            spec.tag
        );
    }
    assert_eq!(s["eval/held_out_error"].len(), 1);
    assert_eq!(s["eval/held_out_error"][0].0, total);
    assert!(
        !s.keys().any(|k| k.starts_with("non_finite/")),
        "{:?}",
        s.keys()
    );
    let images = tags(run, "images");
    let want: Vec<String> = (0..BATCH)
        .map(|i| format!("frame_resized/image/{i}"))
        .collect();
    assert_eq!(images, want);
    for tag in &want {
        for e in run["plugin"]["images"][tag].as_array().unwrap() {
            assert_eq!(e["png_width"], 64);
            assert_eq!(e["png_height"], 64);
        }
    }
}

#[test]
fn a_short_run_loads_with_every_tag_and_the_same_values_for_any_thread_count() {
    let tmp = tempfile::tempdir().unwrap();
    let mut dirs = Vec::new();
    let mut stdouts = Vec::new();
    for threads in ["1", "2"] {
        let logdir = tmp.path().join(format!("t{threads}"));
        let out = host_sim(&[
            "--config",
            "tiny",
            "--steps",
            "4",
            "--batch",
            "4",
            "--summary-every",
            "2",
            "--checkpoint-every",
            "0",
            "--threads",
            threads,
            "--logdir",
            logdir.to_str().unwrap(),
        ]);
        stdouts.push(String::from_utf8_lossy(&out.stdout).into_owned());
        dirs.push(run_dir(&logdir));
    }
    let stdout = &stdouts[0];
    assert!(
        stdout.contains(&format!(
            "tensorboard --logdir {}",
            tmp.path().join("t1").display()
        )),
        "{stdout}"
    );
    assert!(stdout.contains("Is the model improving?"), "{stdout}");
    assert!(
        stdout.contains("Are the tensors receiving updates?"),
        "{stdout}"
    );
    // The diagnosis: a report naming every tensor, the overview on top, and a plot per tensor,
    // weights and biases.
    let md = std::fs::read_to_string(dirs[0].join("diagnosis.md")).unwrap();
    for spec in ValenceConfig::TINY.params().unwrap() {
        assert!(md.contains(&format!("| `{}` |", spec.tag)), "{md}");
        let png = format!("diagnosis/{}.png", spec.tag);
        assert!(md.contains(&format!("]({png})")), "{png} not linked");
        let img = image_size(&dirs[0].join(&png));
        assert!(img.0 > 100 && img.1 > 100, "{png}: {img:?}");
    }
    let overview = md
        .find("![overview](diagnosis/overview.png)")
        .expect("overview linked");
    assert!(overview < md.find("## The answer").unwrap(), "{md}");
    let img = image_size(&dirs[0].join("diagnosis/overview.png"));
    assert!(img.0 > 100 && img.1 > 100, "overview: {img:?}");
    let Some(loaded) = load(&[&dirs[0], &dirs[1]]) else {
        return;
    };
    let runs = loaded["runs"].as_array().unwrap();
    let steps = [0, 2, 3];
    for run in runs {
        check_histograms(run, &steps);
        check_scalars_and_images(run, &steps, 4);
    }
    // --threads 1 and --threads 2: the same histograms and scalars, bit for bit (JSON floats
    // are printed with repr and parsed exactly), except the throughput.
    assert_eq!(
        runs[0]["plugin"]["histograms"], runs[1]["plugin"]["histograms"],
        "histograms differ between --threads 1 and 2"
    );
    let (mut a, mut b) = (scalars(&runs[0]), scalars(&runs[1]));
    a.remove("train/frames_per_second");
    b.remove("train/frames_per_second");
    assert_eq!(a, b);
}

/// (width, height) of a PNG from its header.
fn image_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}", path.display());
    let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
    (be(16), be(20))
}

#[test]
fn a_run_killed_with_sigkill_loads_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let logdir = tmp.path().join("runs");
    let mut child = Command::new(env!("CARGO_BIN_EXE_host-sim"))
        .args([
            "--config",
            "tiny",
            "--steps",
            "100000",
            "--batch",
            "2",
            "--summary-every",
            "1",
            "--checkpoint-every",
            "2",
            "--threads",
            "1",
            "--logdir",
            logdir.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let dir = loop {
        let found = std::fs::read_dir(&logdir).ok().and_then(|mut d| {
            d.next()
                .map(|e| e.unwrap().path())
                .filter(|p| p.join(CHECKPOINT_FILE).is_file())
        });
        if let Some(dir) = found {
            // Let it run on past the checkpoint, so the kill lands mid-run.
            std::thread::sleep(Duration::from_millis(300));
            break dir;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no checkpoint after 60 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();

    // (a) TensorBoard reads the file up to the last whole record.
    let files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("tfevents"))
        .collect();
    assert_eq!(files.len(), 1);
    let (records, _cut) = read_records(&files[0]).unwrap();
    if let Some(loaded) = load(&[&dir]) {
        let run = &loaded["runs"][0];
        let killed_loss = scalars(run)["loss/loss"].len();
        assert!(killed_loss >= 2, "{killed_loss} loss values");
        // Every whole record is an event: the version, the START, then summaries (one per
        // loss, one per summary step).
        assert!(
            records.len() >= 2 + killed_loss,
            "{} records",
            records.len()
        );
        check_histograms_counts_only(run);
    }

    // (b) --resume continues from the checkpoint and finishes; the orphaned steps are dropped.
    let ckpt_step = Checkpoint::load(&dir).unwrap().step;
    let total = ckpt_step + 2;
    let out = host_sim(&[
        "--config",
        "tiny",
        "--steps",
        &total.to_string(),
        "--batch",
        "2",
        "--summary-every",
        "1",
        "--checkpoint-every",
        "2",
        "--threads",
        "1",
        "--resume",
        dir.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("drift is measured from"), "{stdout}");
    assert_eq!(Checkpoint::load(&dir).unwrap().step, total);
    // The diagnosis covers the whole run, from step 0.
    let md = std::fs::read_to_string(dir.join("diagnosis.md")).unwrap();
    assert!(
        md.contains(&format!("Summaries from step 0 to step {}", total - 1)),
        "{md}"
    );
    let Some(loaded) = load(&[&dir]) else {
        return;
    };
    let s = scalars(&loaded["runs"][0]);
    let steps: Vec<i64> = s["loss/loss"].iter().map(|p| p.0).collect();
    assert_eq!(
        steps,
        (0..total as i64).collect::<Vec<_>>(),
        "one loss per step"
    );
    let drift: Vec<i64> = s["drift/weights_conv1"].iter().map(|p| p.0).collect();
    assert_eq!(drift, (0..total as i64).collect::<Vec<_>>());
}

/// Histogram counts of a run cut at an arbitrary step: still the tensors' sizes (batch 2).
fn check_histograms_counts_only(run: &Value) {
    let specs = ValenceConfig::TINY.params().unwrap();
    for s in specs {
        for e in run["plugin"]["histograms"][s.tag].as_array().unwrap() {
            let count: f64 = e["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r[2].as_f64().unwrap())
                .sum();
            assert_eq!(count, s.len as f64, "{}", s.tag);
        }
    }
    for e in run["plugin"]["histograms"]["con1_before_relu"]
        .as_array()
        .unwrap()
    {
        let count: f64 = e["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r[2].as_f64().unwrap())
            .sum();
        assert_eq!(count, (2 * 16 * 16 * 8) as f64);
    }
}

/// The cells of `tag`'s row in `diagnosis.md`'s per-tensor table.
fn table_row<'a>(md: &'a str, tag: &str) -> Vec<&'a str> {
    let line = md
        .lines()
        .find(|l| l.starts_with(&format!("| `{tag}` |")))
        .unwrap_or_else(|| panic!("no row for {tag}:\n{md}"));
    line.trim_matches('|').split('|').map(str::trim).collect()
}

/// A percentage cell such as `0.26 %` as a fraction.
fn percent(cell: &str) -> f64 {
    cell.trim_end_matches(" %").parse::<f64>().unwrap() / 100.0
}

#[test]
fn a_short_tiny_run_moves_without_improving_and_the_report_says_so_with_tensorboards_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let logdir = tmp.path().join("runs");
    // No --summary-every: the default interval gives 60 steps 13 summaries, not 2.
    let out = host_sim(&[
        "--config",
        "tiny",
        "--steps",
        "60",
        "--batch",
        "8",
        "--checkpoint-every",
        "0",
        "--logdir",
        logdir.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let dir = run_dir(&logdir);
    // The words first (they need no Python): the tensors move, the model does not improve.
    let md = std::fs::read_to_string(dir.join("diagnosis.md")).unwrap();
    assert!(md.contains("**Is the model improving?** No."), "{md}");
    assert!(
        md.contains("**The tensors move but the model does not improve**"),
        "{md}"
    );
    assert!(
        stdout.contains("moves but the model does not improve"),
        "{stdout}"
    );
    let Some(loaded) = load(&[&dir]) else {
        return;
    };
    let run = &loaded["runs"][0];
    let s = scalars(run);
    let summary_steps: Vec<i64> = s["train/learning_rate"].iter().map(|p| p.0).collect();
    let mut want: Vec<i64> = (0..60).step_by(5).collect();
    want.push(59);
    assert_eq!(summary_steps, want);
    for layer in ["conv1", "conv5", "local2"] {
        assert!(s.contains_key(&format!("relu_zero_fraction/{layer}")));
        assert!(s.contains_key(&format!("dead_units/{layer}")));
    }

    // Is the model improving? Its held-out error, as TensorBoard loads it, is the constant
    // predictor's (within 5 %): no.
    let held = s["eval/held_out_error"][0].1;
    let constant = s["eval/constant_error"][0].1;
    assert!(held / constant > 0.95, "{held} vs {constant}");

    let histograms = &run["plugin"]["histograms"];
    for spec in ValenceConfig::TINY.params().unwrap() {
        let row = table_row(&md, spec.tag);
        // Receiving updates: the last drift/<tag> TensorBoard shows is at least 0.1 %.
        let drift = s[&format!("drift/{}", spec.tag)].last().unwrap().1;
        assert!(drift >= 1e-3, "{}: drift {drift}", spec.tag);
        assert_eq!(row[9], "moves but the model does not improve", "{row:?}");
        // No all-zero W − W₀ slice at step 0.
        let delta = histograms[format!("{}/delta_from_init", spec.tag)]
            .as_array()
            .unwrap();
        assert_eq!(delta[0]["step"], 5, "{}", spec.tag);
        // Visibility from the nine numbers TensorBoard's Distributions plugin computes
        // (compress_histogram on the loaded rows): inner lines 1..=7, outer lines 0 and 8, over
        // the chart's range max p8 − min p0.
        let p: Vec<Vec<f64>> = histograms[spec.tag]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                e["compressed"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|bp| bp[1].as_f64().unwrap())
                    .collect()
            })
            .collect();
        let (first, last) = (&p[0], &p[p.len() - 1]);
        let range = p.iter().map(|q| q[8]).fold(f64::MIN, f64::max)
            - p.iter().map(|q| q[0]).fold(f64::MAX, f64::min);
        let moved = |idx: &[usize]| {
            idx.iter()
                .map(|&i| (last[i] - first[i]).abs())
                .fold(0.0, f64::max)
                / range
        };
        let inner = moved(&[1, 2, 3, 4, 5, 6, 7]);
        let outer = moved(&[0, 8]);
        // The table prints percentages with two decimals.
        assert!(
            (percent(row[6]) - inner).abs() <= 5.1e-5,
            "{}: {row:?} vs {inner}",
            spec.tag
        );
        assert!(
            (percent(row[7]) - outer).abs() <= 5.1e-5,
            "{}: {row:?} vs {outer}",
            spec.tag
        );
        let expected = if inner >= 0.05 {
            "visible (inner band)"
        } else if outer >= 0.05 {
            "min/max lines only"
        } else {
            "invisible"
        };
        assert_eq!(
            row[8], expected,
            "{}: inner {inner}, outer {outer}",
            spec.tag
        );
        // The seed's complaint, pinned: the weights look frozen, the biases fan out.
        // softmax_weights starts narrow (σ = 1/1024), so lr-sized steps show.
        let pinned = if !spec.is_weight || spec.tag == "softmax_weights" {
            "visible (inner band)"
        } else {
            "invisible"
        };
        assert_eq!(row[8], pinned, "{}", spec.tag);
    }

    // `host-sim diagnose DIR` rebuilds the same report from the event files and initial/
    // alone: the same verdicts, the same numbers up to the f32 of the logged scalars.
    std::fs::remove_file(dir.join("diagnosis.md")).unwrap();
    std::fs::remove_file(dir.join("diagnosis/history.tsv")).unwrap();
    std::fs::remove_file(dir.join("diagnosis/overview.png")).unwrap();
    host_sim(&["diagnose", dir.to_str().unwrap()]);
    let again = std::fs::read_to_string(dir.join("diagnosis.md")).unwrap();
    assert!(dir.join("diagnosis/overview.png").is_file());
    for spec in ValenceConfig::TINY.params().unwrap() {
        let (a, b) = (table_row(&md, spec.tag), table_row(&again, spec.tag));
        assert_eq!(a[..3], b[..3], "{}", spec.tag);
        assert_eq!(a[8..], b[8..], "{}: verdicts", spec.tag);
        for col in [3, 6, 7] {
            assert!(
                (percent(a[col]) - percent(b[col])).abs() <= 1.01e-4,
                "{}: column {col}: {a:?} vs {b:?}",
                spec.tag
            );
        }
        for col in [4, 5] {
            let (x, y) = (
                a[col].parse::<f64>().unwrap(),
                b[col].parse::<f64>().unwrap(),
            );
            assert!(
                (x - y).abs() <= 0.01 * x.abs(),
                "{}: column {col}: {a:?} vs {b:?}",
                spec.tag
            );
        }
    }
    let answer =
        |m: &str| m[m.find("## The answer").unwrap()..m.find("## Per tensor").unwrap()].to_owned();
    assert_eq!(answer(&md), answer(&again));
}

#[test]
fn a_diverging_run_stops_and_is_reported_as_diverged_at_its_step() {
    let tmp = tempfile::tempdir().unwrap();
    let logdir = tmp.path().join("runs");
    let out = Command::new(env!("CARGO_BIN_EXE_host-sim"))
        .args([
            "--config",
            "tiny",
            "--steps",
            "20",
            "--batch",
            "4",
            "--lr",
            "1e30",
            "--checkpoint-every",
            "0",
            "--logdir",
            logdir.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let step: u64 = stderr
        .strip_prefix("error: diverged at step ")
        .and_then(|rest| rest.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(step < 20, "{stderr}");
    let md = std::fs::read_to_string(run_dir(&logdir).join("diagnosis.md")).unwrap();
    assert!(
        md.contains(&format!("**the run diverged at step {step}**")),
        "{md}"
    );
    assert!(md.contains("Lower the learning rate"), "{md}");
    let row = table_row(&md, "weights_conv1");
    assert_eq!(row[9], format!("diverged at step {step}"));
}
