//! `host-sim quantize` and `host-sim eval` as a user runs them: a briefly trained TINY network,
//! quantised to int8, must keep its held-out error within 2 % of the valence range, and bad
//! model files must be refused with a clear message.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Training of the test network: measured (release) to reach a held-out error about half the
/// constant predictor's (0.248 vs 0.498) in about 25 s of a debug build.
const STEPS: &str = "400";
const BATCH: &str = "8";
const LR: &str = "0.001";
const SEED: &str = "1";

fn host_sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_host-sim"))
        .args(args)
        .output()
        .expect("the host-sim binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn ok(out: Output) -> String {
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    stdout
}

/// The number after `label` on its line of `stdout`.
fn number(stdout: &str, label: &str) -> f64 {
    let line = stdout
        .lines()
        .find(|l| l.contains(label))
        .unwrap_or_else(|| panic!("no `{label}` in:\n{stdout}"));
    let rest = &line[line.find(label).unwrap() + label.len()..];
    rest.split_whitespace()
        .next()
        .and_then(|w| w.trim_end_matches(',').parse().ok())
        .unwrap_or_else(|| panic!("no number after `{label}` in `{line}`"))
}

fn train_tiny(logdir: &Path) -> (PathBuf, String) {
    let logdir = logdir.to_str().unwrap();
    let stdout = ok(host_sim(&[
        "train",
        "--config",
        "tiny",
        "--steps",
        STEPS,
        "--batch",
        BATCH,
        "--lr",
        LR,
        "--seed",
        SEED,
        "--checkpoint-every",
        STEPS,
        "--logdir",
        logdir,
    ]));
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("checkpoint: "))
        .unwrap_or_else(|| panic!("no checkpoint line in:\n{stdout}"));
    (PathBuf::from(line.trim()), stdout)
}

#[test]
fn int8_keeps_the_trained_tiny_networks_error_and_bad_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (ckpt, train_out) = train_tiny(&dir.path().join("runs"));
    let ckpt = ckpt.to_str().unwrap();
    let model = dir.path().join("tiny.vq8");
    let model_s = model.to_str().unwrap();

    let q = ok(host_sim(&[
        "quantize",
        "--checkpoint",
        ckpt,
        "--out",
        model_s,
        "--frames",
        "128",
    ]));
    assert!(q.contains("wrote"), "{q}");
    let bytes = std::fs::read(&model).unwrap();
    assert_eq!(&bytes[..4], b"VQ8M");

    let e = ok(host_sim(&[
        "eval",
        "--checkpoint",
        ckpt,
        "--model",
        model_s,
    ]));
    let f32_err = number(&e, "f32 weighted error:");
    let int8_err = number(&e, "int8 weighted error:");
    let constant = number(&e, "):");
    let mean_delta = number(&e, "prediction: mean");
    println!("{train_out}\n{q}\n{e}");
    // The eval's f32 error is the trainer's own held-out figure.
    let trained = number(&train_out, "held-out weighted error:");
    assert!((f32_err - trained).abs() <= 1e-4, "{f32_err} vs {trained}");
    // The budget: 2 % of the valence range [-1, 1].
    assert!(
        (int8_err - f32_err).abs() <= 0.02 * 2.0,
        "int8 {int8_err} vs f32 {f32_err}"
    );
    // The int8 predictions track the f32 ones frame by frame, not just on average.
    assert!(mean_delta <= 0.02, "mean |int8 − f32| = {mean_delta}");
    // The network did learn: clearly better than the best constant predictor.
    assert!(
        f32_err < 0.7 * constant,
        "f32 {f32_err} vs constant {constant}"
    );

    // Corrupt, truncated, wrong-version files: a clean error naming the cause.
    let refuse = |bytes: &[u8], needle: &str| {
        let bad = dir.path().join("bad.vq8");
        std::fs::write(&bad, bytes).unwrap();
        let out = host_sim(&[
            "eval",
            "--checkpoint",
            ckpt,
            "--model",
            bad.to_str().unwrap(),
        ]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.starts_with("error: "), "{stderr}");
        assert!(stderr.contains(needle), "{needle:?} not in {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    };
    let mut corrupt = bytes.clone();
    corrupt[bytes.len() / 2] ^= 0x40;
    refuse(&corrupt, "corrupt: CRC-32");
    refuse(&bytes[..bytes.len() - 1], "truncated");
    refuse(&bytes[..20], "truncated");
    // A version-1 file (the valence sizes only, no layer table).
    let mut v1 = bytes.clone();
    v1[4] = 1;
    refuse(
        &v1,
        "unsupported model format version 1 (this build reads version 2)",
    );
    refuse(b"not a model at all", "not a Valence int8 model");
}
