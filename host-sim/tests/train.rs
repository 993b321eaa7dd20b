//! Training as a user runs it: determinism across thread counts, resume, the exact path's
//! per-step loss bits, `.npy` export read by numpy, bad real data; and the FULL network's loss
//! falling on a fixed batch.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use host_sim::checkpoint::Checkpoint;
use host_sim::fast_gemm::FastGemm;
use host_sim::train::data::{Batch, Source};
use kernels::net::{ArenaLayout, Net, OptimizerKind, ValenceConfig};
use kernels::optim::Adam;

fn host_sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_host-sim"))
        .args(args)
        .output()
        .expect("the host-sim binary runs")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "host-sim failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `parameters CRC-32: xxxxxxxx` value a run prints last.
fn crc(out: &Output) -> String {
    let text = stdout(out);
    text.lines()
        .find_map(|l| l.strip_prefix("parameters CRC-32: "))
        .unwrap_or_else(|| panic!("no checksum in: {text}"))
        .to_owned()
}

/// The one run directory under `logdir`.
fn run_dir(logdir: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(logdir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

fn tiny(logdir: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "--config", "tiny", "--batch", "4", "--lr", "1e-3", "--seed", "3", "--logdir",
    ];
    args.push(logdir.to_str().unwrap());
    args.extend_from_slice(extra);
    host_sim(&args)
}

#[test]
fn the_thread_count_does_not_change_the_parameters() {
    // FULL too: FastGemm cuts each product into one tile per thread, so 1 and 2 threads really
    // take different paths through the GEMM.
    for config in [
        &["--config", "tiny", "--steps", "3", "--batch", "4"][..],
        &["--config", "full", "--steps", "1", "--batch", "2"][..],
    ] {
        let sums: Vec<String> = ["1", "2"]
            .iter()
            .map(|threads| {
                let dir = tempfile::tempdir().unwrap();
                let mut args = config.to_vec();
                args.extend_from_slice(&[
                    "--threads",
                    threads,
                    "--checkpoint-every",
                    "0",
                    "--logdir",
                    dir.path().to_str().unwrap(),
                ]);
                crc(&host_sim(&args))
            })
            .collect();
        assert_eq!(sums[0], sums[1], "{config:?}");
    }
}

#[test]
fn resume_ends_with_the_parameters_of_an_uninterrupted_run() {
    // Both Adams: TF1's keeps β^t as state in the checkpoint, Keras's takes it as a power.
    let mut finals = Vec::new();
    for optimizer in ["adam", "adam-keras"] {
        let whole = tempfile::tempdir().unwrap();
        let uninterrupted = crc(&tiny(
            whole.path(),
            &[
                "--steps",
                "6",
                "--checkpoint-every",
                "3",
                "--optimizer",
                optimizer,
            ],
        ));

        let parts = tempfile::tempdir().unwrap();
        crc(&tiny(
            parts.path(),
            &[
                "--steps",
                "3",
                "--checkpoint-every",
                "3",
                "--optimizer",
                optimizer,
            ],
        ));
        let dir = run_dir(parts.path());
        assert_eq!(Checkpoint::load(&dir).unwrap().step, 3);
        let resumed = tiny(
            parts.path(),
            &[
                "--steps",
                "6",
                "--checkpoint-every",
                "3",
                "--optimizer",
                optimizer,
                "--resume",
                dir.to_str().unwrap(),
            ],
        );
        assert_eq!(crc(&resumed), uninterrupted, "{optimizer}");
        assert_eq!(Checkpoint::load(&dir).unwrap().step, 6);
        finals.push(uninterrupted);
    }
    // The two flavours round differently (1 − β, ε), so their weights differ.
    assert_ne!(finals[0], finals[1]);
}

#[test]
fn resume_refuses_changed_settings() {
    let logdir = tempfile::tempdir().unwrap();
    crc(&tiny(
        logdir.path(),
        &["--steps", "2", "--checkpoint-every", "2"],
    ));
    let dir = run_dir(logdir.path());
    let out = host_sim(&[
        "--config",
        "tiny",
        "--batch",
        "8",
        "--lr",
        "1e-3",
        "--seed",
        "3",
        "--steps",
        "4",
        "--resume",
        dir.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--batch 4") && stderr.contains("--batch 8"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn exact_runs_print_each_steps_loss_bits_and_repeat_them() {
    let runs: Vec<Vec<String>> = (0..2)
        .map(|_| {
            let dir = tempfile::tempdir().unwrap();
            let text = stdout(&tiny(
                dir.path(),
                &["--steps", "3", "--exact", "--checkpoint-every", "0"],
            ));
            text.lines()
                .filter(|l| l.starts_with("step ") || l.starts_with("parameters CRC-32"))
                .map(str::to_owned)
                .collect()
        })
        .collect();
    assert_eq!(runs[0].len(), 4, "{:?}", runs[0]);
    for (k, line) in runs[0][..3].iter().enumerate() {
        let rest = line
            .strip_prefix(&format!("step {} loss ", k + 1))
            .unwrap_or_else(|| panic!("{line}"));
        let loss = f32::from_bits(u32::from_str_radix(rest, 16).unwrap());
        assert!(loss.is_finite() && loss > 0.0, "{line}");
    }
    assert_eq!(runs[0], runs[1]);
}

#[test]
fn exported_weights_are_read_by_numpy_with_the_checkpoints_values() {
    let logdir = tempfile::tempdir().unwrap();
    let trained = crc(&tiny(
        logdir.path(),
        &["--steps", "2", "--checkpoint-every", "2"],
    ));
    let dir = run_dir(logdir.path());
    let npy = tempfile::tempdir().unwrap();
    let out = host_sim(&[
        "export",
        "--checkpoint",
        dir.to_str().unwrap(),
        "--out",
        npy.path().to_str().unwrap(),
    ]);
    assert!(stdout(&out).contains(&format!("parameters CRC-32: {trained}")));

    let back = tempfile::tempdir().unwrap();
    let out = host_sim(&[
        "import",
        "--from",
        npy.path().to_str().unwrap(),
        "--out",
        back.path().to_str().unwrap(),
        "--config",
        "tiny",
    ]);
    assert!(stdout(&out).contains(&format!("parameters CRC-32: {trained}")));

    // numpy reads every file; it reports each array's shape and exact f64 sum.
    let script = "import sys, glob, os, numpy as np\nfor f in sorted(glob.glob(os.path.join(sys.argv[1], '*.npy'))):\n    a = np.load(f)\n    print(os.path.basename(f)[:-4], a.dtype, list(a.shape), repr(float(a.astype(np.float64).sum())))\n";
    let Some(mut py) = common::python(&["numpy"], "numpy reading the exported .npy files") else {
        return;
    };
    let py = py
        .args(["-c", script, npy.path().to_str().unwrap()])
        .output()
        .expect("python3 ran a moment ago");
    assert!(
        py.status.success(),
        "numpy failed: {}",
        String::from_utf8_lossy(&py.stderr)
    );
    let listing = String::from_utf8_lossy(&py.stdout).into_owned();
    let ckpt = Checkpoint::load(&dir).unwrap();
    assert_eq!(listing.lines().count(), 16, "{listing}");
    for t in &ckpt.params {
        let sum: f64 = t.data.iter().map(|&v| f64::from(v)).sum();
        let line = listing
            .lines()
            .find(|l| l.split(' ').next() == Some(t.name.as_str()))
            .unwrap_or_else(|| panic!("numpy did not list {}", t.name));
        let fields: Vec<&str> = line.split(' ').collect();
        assert_eq!(fields[1], "float32", "{line}");
        let shape: Vec<usize> = fields[2..fields.len() - 1]
            .join(" ")
            .trim_matches(['[', ']'])
            .split(", ")
            .map(|d| d.parse().unwrap())
            .collect();
        assert_eq!(shape, t.shape, "{line}");
        let numpy_sum: f64 = fields[fields.len() - 1].parse().unwrap();
        // Both sums add the same f32 values in f64; numpy's pairwise order may differ by rounding.
        assert!(
            (numpy_sum - sum).abs() <= 1e-9 * (1.0 + sum.abs()),
            "{line}: Rust sum {sum}"
        );
    }
}

fn train_on(data: &Path) -> Output {
    let logdir = tempfile::tempdir().unwrap();
    tiny(
        logdir.path(),
        &[
            "--steps",
            "2",
            "--checkpoint-every",
            "0",
            "--data",
            data.to_str().unwrap(),
        ],
    )
}

fn assert_fails_naming(out: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    for n in needles {
        assert!(stderr.contains(n), "{n:?} not in: {stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn real_data_trains_and_bad_data_stops_the_run_with_a_message() {
    let good = common::data_dir(12);
    let text = stdout(&train_on(good.path()));
    assert!(text.contains("held-out weighted error"), "{text}");

    let missing_csv = tempfile::tempdir().unwrap();
    assert_fails_naming(&train_on(missing_csv.path()), &["labels.csv"]);

    let malformed = common::data_dir(12);
    let csv: Vec<String> = std::fs::read_to_string(malformed.path().join("labels.csv"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let bad: Vec<String> = csv
        .iter()
        .map(|l| {
            if l.starts_with("f3.png,") {
                "f3.png,abc,0.5".to_owned()
            } else {
                l.clone()
            }
        })
        .collect();
    std::fs::write(malformed.path().join("labels.csv"), bad.join("\n")).unwrap();
    // The header is line 1, so f3.png's row is line 5.
    assert_fails_naming(&train_on(malformed.path()), &["labels.csv:5:", "abc"]);

    let missing_file = common::data_dir(12);
    std::fs::remove_file(missing_file.path().join("f7.png")).unwrap();
    assert_fails_naming(
        &train_on(missing_file.path()),
        &["f7.png not found", "labels.csv:9"],
    );

    let unreadable = common::data_dir(12);
    std::fs::write(unreadable.path().join("f2.png"), b"not an image").unwrap();
    assert_fails_naming(
        &train_on(unreadable.path()),
        &["f2.png", "labels.csv:4", "cannot be read as an image"],
    );
}

#[test]
fn the_full_networks_loss_falls_on_a_fixed_batch() {
    // The seed's network and optimiser (Adam, lr 1e-4) on four synthetic frames, ten steps.
    let cfg = ValenceConfig::FULL;
    let batch = 4;
    let layout = ArenaLayout::training(&cfg, batch, OptimizerKind::Adam).unwrap();
    let mut arena = vec![0.0f32; layout.arena_len()];
    let mut net = Net::training(&cfg, batch, OptimizerKind::Adam, &mut arena).unwrap();
    net.init_params(1).unwrap();
    let gemm = FastGemm::new(2).unwrap();
    let mut b = Batch::default();
    Source::synthetic(&cfg, 1)
        .unwrap()
        .fill_train(0, batch, &mut b)
        .unwrap();
    let mut losses = Vec::new();
    for t in 1..=10 {
        net.zero_grads();
        losses.push(
            net.train_step(&gemm, &b.frames, &b.target, &b.confidence, batch, &mut ())
                .unwrap(),
        );
        net.adam_step(&Adam::tf1(1e-4), t).unwrap();
    }
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
    assert!(losses[9] < 0.8 * losses[0], "loss {losses:?}");
}
