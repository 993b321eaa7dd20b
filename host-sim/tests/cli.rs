//! The `host-sim` binary as a user runs it: help, bad flags, export and import, bench.

use std::path::Path;
use std::process::{Command, Output};

use host_sim::checkpoint::{Checkpoint, NamedTensor, OptimizerKind};
use host_sim::weights::SEED_PARAMETER_NAMES;
use kernels::net::ValenceConfig;

fn host_sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_host-sim"))
        .args(args)
        .output()
        .expect("the host-sim binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts a failed run: non-zero exit, a message on stderr, no panic.
fn assert_clean_failure(out: &Output, needle: &str) {
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "should fail; stderr: {stderr}");
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains(needle), "{needle:?} not in: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("RUST_BACKTRACE"), "{stderr}");
}

#[test]
fn help_lists_every_flag_and_command() {
    let out = host_sim(&["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for flag in [
        "--config",
        "--steps",
        "--batch",
        "--lr ",
        "--lr-schedule",
        "--optimizer",
        "--seed",
        "--threads",
        "--exact",
        "--data",
        "--logdir",
        "--summary-every",
        "--checkpoint-every",
        "--resume",
        "--micro-batch",
        "train",
        "export",
        "import",
        "ingest",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
    assert!(help.contains("[default: "), "{help}");

    for (command, flags) in [
        ("export", &["--checkpoint", "--out"][..]),
        ("import", &["--from", "--out", "--config"][..]),
        ("train", &["--steps", "--resume"][..]),
        (
            "bench",
            &["--batch", "--threads", "--warmup", "--save", "--profile"][..],
        ),
    ] {
        let out = host_sim(&[command, "--help"]);
        assert!(out.status.success());
        let help = text(&out.stdout);
        for flag in flags {
            assert!(
                help.contains(flag),
                "{command} --help lacks {flag}:\n{help}"
            );
        }
    }
}

#[test]
fn bad_flags_fail_with_a_message_and_no_panic() {
    for (args, needle) in [
        (&["--batch", "0"][..], "--batch"),
        (&["--lr", "-1"][..], "--lr"),
        (&["--lr", "abc"][..], "--lr"),
        (&["--threads", "0"][..], "--threads"),
        (&["--steps", "0"][..], "--steps"),
        (&["--config", "huge"][..], "--config"),
        (&["--lr-schedule", "step"][..], "--lr-schedule"),
        (&["--no-such-flag"][..], "--no-such-flag"),
        (&["export", "--out", "x"][..], "--checkpoint"),
        (&["frobnicate"][..], "frobnicate"),
    ] {
        assert_clean_failure(&host_sim(args), needle);
    }
}

#[test]
fn a_missing_checkpoint_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere");
    let out = host_sim(&[
        "export",
        "--checkpoint",
        missing.to_str().unwrap(),
        "--out",
        dir.path().join("npy").to_str().unwrap(),
    ]);
    assert_clean_failure(&out, "nowhere");
}

fn seed_like_checkpoint() -> Checkpoint {
    // The TINY network's shapes: import checks each file against the network's table.
    let params = ValenceConfig::TINY
        .params()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let n = s.len;
            // Bit patterns that a lossy path would disturb: subnormals, signed zeros, odd mantissas.
            let data = (0..n as u32)
                .map(|j| {
                    f32::from_bits(
                        j.wrapping_mul(0x0101_0101).wrapping_add(i as u32 * 977) & 0xbf7f_ffff,
                    )
                })
                .collect();
            NamedTensor::new(s.name, s.dims().to_vec(), data).unwrap()
        })
        .collect();
    Checkpoint {
        config: "tiny".into(),
        step: 250,
        optimizer: OptimizerKind::Adam,
        rng: vec![7, 8],
        data_position: 8000,
        attrs: Vec::new(),
        params,
        slots: Vec::new(),
    }
}

fn run_ok(args: &[&Path]) -> String {
    let args: Vec<&str> = args.iter().map(|p| p.to_str().unwrap()).collect();
    let out = host_sim(&args);
    assert!(out.status.success(), "{:?}: {}", args, text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn export_then_import_through_npy_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let (ckpt, npy, back) = (
        dir.path().join("ckpt"),
        dir.path().join("npy"),
        dir.path().join("back"),
    );
    let original = seed_like_checkpoint();
    original.save(&ckpt).unwrap();

    let said = run_ok(&[
        Path::new("export"),
        Path::new("--checkpoint"),
        &ckpt,
        Path::new("--out"),
        &npy,
    ]);
    assert!(said.contains("wrote 16 .npy files"), "{said}");
    let crc = |out: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix("parameters CRC-32: "))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("no checksum in {out}"))
    };
    let expected = host_sim::checksum::params_crc32(original.params.iter().map(|t| &t.data[..]));
    assert_eq!(crc(&said), format!("{expected:08x}"));
    for name in SEED_PARAMETER_NAMES {
        assert!(npy.join(format!("{name}.npy")).is_file(), "{name}.npy");
    }
    let said = run_ok(&[
        Path::new("import"),
        Path::new("--from"),
        &npy,
        Path::new("--out"),
        &back,
        Path::new("--config"),
        Path::new("tiny"),
    ]);
    assert_eq!(crc(&said), format!("{expected:08x}"));

    let imported = Checkpoint::load(&back).unwrap();
    assert_eq!(imported.params.len(), original.params.len());
    for (a, b) in imported.params.iter().zip(&original.params) {
        assert_eq!((&a.name, &a.shape), (&b.name, &b.shape));
        let bits = |t: &NamedTensor| t.data.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(a), bits(b), "{}", a.name);
    }
    assert_eq!(imported.step, 0);
    assert_eq!(imported.optimizer, OptimizerKind::None);

    // A removed file makes import fail, naming it.
    std::fs::remove_file(npy.join("weights3.npy")).unwrap();
    let out = host_sim(&[
        "import",
        "--from",
        npy.to_str().unwrap(),
        "--out",
        back.to_str().unwrap(),
        "--config",
        "tiny",
    ]);
    assert_clean_failure(&out, "weights3.npy");
}

#[test]
fn ingest_names_the_file_and_line_it_cannot_read() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("missing.log");
    let out = host_sim(&["ingest", missing.to_str().unwrap()]);
    assert_clean_failure(&out, "missing.log");
    assert_eq!(
        text(&out.stderr).lines().count(),
        1,
        "{}",
        text(&out.stderr)
    );

    let bad = tmp.path().join("bad.log");
    std::fs::write(
        &bad,
        "board cortex-m4 seed 0 steps 8 batch 8 micro-batch 1 summary-every 4 lr 38d1b717\nstep one loss 0\n",
    )
    .unwrap();
    let logdir = tmp.path().join("runs");
    let out = host_sim(&[
        "ingest",
        bad.to_str().unwrap(),
        "--logdir",
        logdir.to_str().unwrap(),
    ]);
    assert_clean_failure(
        &out,
        "bad.log:2: expected the step (a decimal number), got `one`",
    );
    assert_eq!(
        text(&out.stderr).lines().count(),
        1,
        "{}",
        text(&out.stderr)
    );
    assert!(!logdir.exists(), "nothing is written for a bad log");
}

#[test]
fn bench_prints_its_figures_and_saves_what_a_comparison_needs() {
    let dir = tempfile::tempdir().unwrap();
    let save = dir.path().join("saved");
    let out = host_sim(&[
        "bench",
        "--config",
        "tiny",
        "--batch",
        "3",
        "--steps",
        "1",
        "--warmup",
        "1",
        "--threads",
        "2",
        "--save",
        save.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    for line in [
        "inference: ",
        "training: ",
        "peak RSS, inference: ",
        "peak RSS, training: ",
    ] {
        assert!(stdout.contains(line), "lacks {line:?}:\n{stdout}");
    }
    // The tiny network's 16 tensors, 3 frames of 64×64×3 bytes and their 3 predictions.
    for name in SEED_PARAMETER_NAMES {
        assert!(save.join(format!("{name}.npy")).is_file(), "{name}");
    }
    let frames = host_sim::npy::read(&save.join("frames.npy")).unwrap();
    assert_eq!(frames.shape, [3, 64, 64, 3]);
    assert!(frames
        .data
        .iter()
        .all(|&x| x == x.round() && (0.0..=255.0).contains(&x)));
    let predictions = host_sim::npy::read(&save.join("predictions.npy")).unwrap();
    assert_eq!(predictions.shape, [3]);
    assert!(predictions.data.iter().all(|x| x.is_finite()));

    assert_clean_failure(&host_sim(&["bench", "--steps", "0"]), "--steps");
    // A file where the directory should go: one clean line naming it.
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let out = host_sim(&[
        "bench",
        "--config",
        "tiny",
        "--batch",
        "1",
        "--steps",
        "1",
        "--save",
        file.to_str().unwrap(),
    ]);
    assert_clean_failure(&out, "file");
}
