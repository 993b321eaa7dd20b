//! `--config PATH`: the keyword-spotting network file (examples/networks/kws.toml, the kernels'
//! KWS table) through everything host-sim does — training past chance, TensorBoard tags from
//! the table, resume, export/import, quantize/eval, diagnose, bench — most of it after the file
//! is gone (the checkpoint records the table); a bad file and bad class labels fail with one
//! line naming where.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use host_sim::tensorboard::proto::event::What;
use host_sim::tensorboard::proto::Event;
use host_sim::tensorboard::read_records;
use prost::Message;

/// The short run: measured (release, seed 1) at 0.81 held-out accuracy after 60 steps of 32 at
/// lr 0.003 (chance 1/12 = 0.083); well under a second of training in a debug build, whose
/// numeric crates are optimised.
const STEPS: &str = "60";
const BATCH: &str = "32";
const LR: &str = "0.003";
const CHANCE: f64 = 1.0 / 12.0;

fn host_sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_host-sim"))
        .args(args)
        .output()
        .expect("the host-sim binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn ok(args: &[&str]) -> String {
    let out = host_sim(args);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        out.status.success(),
        "{args:?}\nstdout: {stdout}\nstderr: {stderr}"
    );
    stdout
}

/// Exit status 2, one `error:` line on stderr holding every needle, no panic.
fn fails(args: &[&str], needles: &[&str]) -> String {
    let out = host_sim(args);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| panic!("no error line: {stderr}"));
    for n in needles {
        assert!(line.contains(n), "`{n}` not in: {line}");
    }
    line.to_owned()
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

fn after<'a>(stdout: &'a str, prefix: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` in:\n{stdout}"))
        .trim()
}

/// A copy of examples/networks/kws.toml in `dir`.
fn kws_file(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/networks/kws.toml");
    let dst = dir.join("kws.toml");
    std::fs::copy(src, &dst).unwrap();
    dst
}

/// Every summary tag of the event files in `run`.
fn tags(run: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(run).unwrap() {
        let path = entry.unwrap().path();
        if !path.to_string_lossy().contains("tfevents") {
            continue;
        }
        for r in read_records(&path).unwrap().0 {
            if let Some(What::Summary(s)) = Event::decode(&r[..]).unwrap().what {
                out.extend(s.value.into_iter().map(|v| v.tag));
            }
        }
    }
    out
}

#[test]
fn the_kws_file_trains_past_chance_and_every_command_works_from_its_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let file = kws_file(tmp.path());
    let (file, logdir) = (file.to_str().unwrap(), tmp.path().join("runs"));
    let logdir = logdir.to_str().unwrap();
    let train = |steps: &str, extra: &[&str]| {
        let mut args = vec![
            "--steps", steps, "--batch", BATCH, "--lr", LR, "--seed", "1", "--logdir", logdir,
        ];
        args.extend_from_slice(extra);
        ok(&args)
    };

    // Straight through, and the same run stopped halfway and resumed without --config.
    let straight = train(STEPS, &["--config", file]);
    let accuracy = number(&straight, "held-out accuracy:");
    assert!(accuracy >= 3.0 * CHANCE, "accuracy {accuracy}:\n{straight}");
    assert!(straight.contains("chance 1/12 = 0.0833"), "{straight}");
    let run = PathBuf::from(after(&straight, "checkpoint: "));
    assert!(run
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("kws-seed1-"));
    let half = train("30", &["--config", file]);
    let halfway = after(&half, "checkpoint: ").to_owned();

    // Summaries carry the table's tags.
    let logged = tags(&run);
    for tag in [
        "conv1/weights",
        "conv2/bias",
        "logits/weights/delta_from_init",
        "conv1/before_relu",
        "conv2/output",
        "pool/output",
        "logits/output",
        "relu_zero_fraction/conv1",
        "dead_units/conv2",
        "drift/logits/weights",
        "update_ratio/conv1/bias",
        "loss/loss",
        "eval/held_out_error",
        // The 49×10 gray examples, as RGB images.
        "frame_resized/image/0",
    ] {
        assert!(logged.contains(tag), "no `{tag}` in {logged:?}");
    }

    // The file is gone: the checkpoints hold the table.
    std::fs::remove_file(file).unwrap();
    let resumed = train(STEPS, &["--resume", &halfway]);
    assert_eq!(
        after(&resumed, "parameters CRC-32: "),
        after(&straight, "parameters CRC-32: "),
        "a resumed run ends where the straight one does"
    );
    fails(
        &["--config", "tiny", "--steps", "40", "--resume", &halfway],
        &[
            "the checkpoint is of the network `kws`",
            "this run's is `tiny`",
        ],
    );

    let run = run.to_str().unwrap();
    let npy = tmp.path().join("npy");
    let exported = ok(&[
        "export",
        "--checkpoint",
        run,
        "--out",
        npy.to_str().unwrap(),
    ]);
    assert!(npy.join("conv1_weights.npy").is_file() && npy.join("logits_bias.npy").is_file());
    let model = tmp.path().join("kws.int8");
    let quantized = ok(&[
        "quantize",
        "--checkpoint",
        run,
        "--out",
        model.to_str().unwrap(),
    ]);
    assert!(quantized.contains("logits"), "{quantized}");
    let eval = ok(&[
        "eval",
        "--checkpoint",
        run,
        "--model",
        model.to_str().unwrap(),
    ]);
    let (f32_acc, int8_acc) = (
        number(&eval, "f32 accuracy:"),
        number(&eval, "int8 accuracy:"),
    );
    assert_eq!(f32_acc, accuracy, "{eval}");
    assert!(
        int8_acc >= 3.0 * CHANCE && (int8_acc - f32_acc).abs() <= 0.03,
        "{eval}"
    );
    assert!(number(&eval, "same class as f32:") >= 0.95, "{eval}");
    let diagnosed = ok(&["diagnose", run]);
    assert!(diagnosed.contains("conv1/weights"), "{diagnosed}");
    let report = std::fs::read_to_string(Path::new(run).join("diagnosis.md")).unwrap();
    assert!(report.contains("diagnosis/conv1_weights.png"), "{report}");
    // The verdict judges a classifier by its error rate against the most frequent class.
    let verdict = format!(
        "held-out error rate (1 − accuracy) is {:.4}",
        1.0 - accuracy
    );
    assert!(
        report.contains(&verdict) && report.contains("chance is 1/12"),
        "{report}"
    );

    // Import needs the table (the .npy files carry none): the file again, then the same bits.
    let file = kws_file(tmp.path());
    let imported = tmp.path().join("imported");
    let import = ok(&[
        "import",
        "--from",
        npy.to_str().unwrap(),
        "--out",
        imported.to_str().unwrap(),
        "--config",
        file.to_str().unwrap(),
    ]);
    assert_eq!(
        after(&import, "parameters CRC-32: "),
        after(&exported, "parameters CRC-32: ")
    );
    let bench = ok(&[
        "bench",
        "--config",
        file.to_str().unwrap(),
        "--batch",
        "4",
        "--warmup",
        "1",
        "--steps",
        "2",
    ]);
    assert!(number(&bench, "training:") > 0.0, "{bench}");
}

#[test]
fn a_bad_network_file_exits_2_naming_the_file_the_field_and_the_line() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.toml");
    std::fs::write(
        &bad,
        "tile = 16\ninput = { height = 49, width = 10, channels = 1, kind = \"f32\" }\n\
         loss = { kind = \"softmax-cross-entropy\", classes = 12 }\n\n\
         [[layers]]\nop = \"conv\"\nname = \"c\"\nkernal = [3, 3]\n",
    )
    .unwrap();
    let bad = bad.to_str().unwrap();
    for cmd in [&["--config", bad][..], &["bench", "--config", bad]] {
        fails(
            cmd,
            &["bad.toml", "layers[0]", "unknown field `kernal`", "line 5"],
        );
    }
    let classes = tmp.path().join("classes.json");
    let json = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/networks/kws.toml"),
    )
    .unwrap()
    .replace("classes = 12", "classes = 10");
    std::fs::write(&classes, json).unwrap();
    // A .json name with TOML inside: parsed as JSON, line 1.
    fails(
        &["--config", classes.to_str().unwrap()],
        &["classes.json", "line 1"],
    );
    let toml = classes.with_extension("toml");
    std::fs::rename(&classes, &toml).unwrap();
    fails(
        &["--config", toml.to_str().unwrap()],
        &["loss.classes: 10 classes", "`logits` has 12 outputs"],
    );
}

#[test]
fn data_of_any_size_and_channels_trains_a_classifier_and_bad_labels_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let file = kws_file(tmp.path());
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    // RGB 30×20, gray 10×49, RGBA 7×7 (PNG) and an RGB JPEG: all become 49×10×1.
    let mut csv = String::from("file,class\n");
    for i in 0..24u32 {
        let name = format!("f{i}.{}", if i % 4 == 3 { "jpg" } else { "png" });
        let v = (i * 10) as u8;
        let path = data.join(&name);
        match i % 4 {
            0 => image::RgbImage::from_pixel(30, 20, image::Rgb([v, 0, 0])).save(&path),
            1 => image::GrayImage::from_pixel(10, 49, image::Luma([v])).save(&path),
            2 => image::RgbaImage::from_pixel(7, 7, image::Rgba([0, v, 0, 9])).save(&path),
            _ => image::RgbImage::from_pixel(16, 16, image::Rgb([v, v, v])).save(&path),
        }
        .unwrap();
        csv.push_str(&format!("{name},{}\n", i % 12));
    }
    std::fs::write(data.join("labels.csv"), &csv).unwrap();
    let (file, data_s) = (file.to_str().unwrap(), data.to_str().unwrap());
    let logdir = tmp.path().join("runs");
    let args = |steps| {
        vec![
            "--config".to_owned(),
            file.to_owned(),
            "--data".to_owned(),
            data_s.to_owned(),
            "--holdout".to_owned(),
            "0.25".to_owned(),
            "--steps".to_owned(),
            steps,
            "--batch".to_owned(),
            "4".to_owned(),
            "--logdir".to_owned(),
            logdir.to_str().unwrap().to_owned(),
        ]
    };
    let run = args("3".into());
    let out = ok(&run.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        out.contains("held-out accuracy:") && out.contains("on 6 examples"),
        "{out}"
    );

    for (row, needle) in [
        ("f0.png,12", "class \"12\" is not a whole number in 0..12"),
        ("f0.png,-1", "class \"-1\""),
        ("f0.png,0.5,1", "expected 2 columns (file,class)"),
    ] {
        std::fs::write(
            data.join("labels.csv"),
            format!("file,class\nf1.png,1\n{row}\n"),
        )
        .unwrap();
        let run = args("1".into());
        fails(
            &run.iter().map(String::as_str).collect::<Vec<_>>(),
            &["labels.csv:3: ", needle],
        );
    }
}
