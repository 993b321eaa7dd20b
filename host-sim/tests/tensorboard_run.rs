//! A real `host-sim` run, read back by TensorBoard's own loader (`tests/read_events.py`): every
//! tag the seed logs plus Valence's learning tags, histogram rows finite and increasing with
//! counts equal to the tensors' sizes, the Distributions percentiles equal to the kernels', the
//! same values for `--threads 1` and `--threads 2`, and a run killed with SIGKILL that loads and
//! resumes.
//!
//! Needs `python3` with the `tensorboard` package (`pip install -r .ci/requirements.txt`).

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
        assert_eq!(got, steps, "{tag}");
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
        let v = &s[&format!("dead_relu/{layer}")];
        assert_eq!(v.len(), steps.len(), "{layer}");
        assert!(
            v.iter().all(|p| (0.0..=1.0).contains(&p.1)),
            "{layer}: {v:?}"
        );
    }
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
    assert!(stdout.contains("Did the weights learn?"), "{stdout}");
    let loaded = load(&[&dirs[0], &dirs[1]]);
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

    // The diagnosis: a report naming every tensor, and a plot per weight tensor.
    let md = std::fs::read_to_string(dirs[0].join("diagnosis.md")).unwrap();
    for spec in ValenceConfig::TINY.params().unwrap() {
        assert!(md.contains(&format!("| `{}` |", spec.tag)), "{md}");
        if spec.is_weight {
            let png = format!("diagnosis/{}.png", spec.tag);
            assert!(md.contains(&format!("]({png})")), "{png} not linked");
            let img = image_size(&dirs[0].join(&png));
            assert!(img.0 > 100 && img.1 > 100, "{png}: {img:?}");
        }
    }
    assert!(md.contains("## The answer"), "{md}");
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
    let loaded = load(&[&dir]);
    let run = &loaded["runs"][0];
    let killed_loss = scalars(run)["loss/loss"].len();
    assert!(killed_loss >= 2, "{killed_loss} loss values");
    // Every whole record is an event: the version, the START, then summaries (one per loss,
    // one per summary step).
    assert!(
        records.len() >= 2 + killed_loss,
        "{} records",
        records.len()
    );
    check_histograms_counts_only(run);

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
    let loaded = load(&[&dir]);
    let s = scalars(&loaded["runs"][0]);
    let steps: Vec<i64> = s["loss/loss"].iter().map(|p| p.0).collect();
    assert_eq!(
        steps,
        (0..total as i64).collect::<Vec<_>>(),
        "one loss per step"
    );
    let drift: Vec<i64> = s["drift/weights_conv1"].iter().map(|p| p.0).collect();
    assert_eq!(drift, (0..total as i64).collect::<Vec<_>>());
    // The diagnosis covers the whole run, from step 0.
    let md = std::fs::read_to_string(dir.join("diagnosis.md")).unwrap();
    assert!(
        md.contains(&format!("Summaries from step 0 to step {}", total - 1)),
        "{md}"
    );
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
