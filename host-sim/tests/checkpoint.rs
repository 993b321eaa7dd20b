//! Checkpoint files as other tools and older Valence builds see them: the `safetensors` Python
//! package reads a run's checkpoint and its export, `import` takes a file that package wrote, a
//! version-1 run resumes; and the FULL network's checkpoint size and write/load time (an ignored
//! test that prints them).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use host_sim::checkpoint::{Checkpoint, NamedTensor, OptimizerKind, CHECKPOINT_FILE};
use kernels::net::ValenceConfig;
use serde_json::Value;

fn host_sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_host-sim"))
        .args(args)
        .output()
        .expect("the host-sim binary runs")
}

/// The `parameters CRC-32: xxxxxxxx` value a command prints.
fn crc(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "host-sim failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .find_map(|l| l.strip_prefix("parameters CRC-32: "))
        .unwrap_or_else(|| panic!("no checksum in: {text}"))
        .to_owned()
}

/// The flags of the run that wrote the version-1 fixture (tests/fixtures/v1-tiny-run).
const FIXTURE_RUN: [&str; 12] = [
    "--config",
    "tiny",
    "--batch",
    "4",
    "--lr",
    "1e-3",
    "--seed",
    "3",
    "--exact",
    "--checkpoint-every",
    "2",
    "--logdir",
];

/// Trains TINY as the fixture's run did, for `steps` steps, under `logdir`; returns the run
/// directory and the checksum.
fn fixture_like_run(logdir: &Path, steps: &str) -> (PathBuf, String) {
    let mut args = FIXTURE_RUN.to_vec();
    args.extend_from_slice(&[logdir.to_str().unwrap(), "--steps", steps]);
    let sum = crc(&host_sim(&args));
    let runs: Vec<PathBuf> = std::fs::read_dir(logdir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    (runs[0].clone(), sum)
}

fn export(checkpoint: &Path, out: &Path) -> String {
    crc(&host_sim(&[
        "export",
        "--checkpoint",
        checkpoint.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]))
}

fn import(from: &Path, out: &Path) -> String {
    crc(&host_sim(&[
        "import",
        "--from",
        from.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--config",
        "tiny",
    ]))
}

/// Runs tests/read_safetensors.py with `args`; `None` without Python, numpy or safetensors.
fn read_safetensors(args: &[&Path]) -> Option<Output> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/read_safetensors.py");
    let out = common::python(
        &["numpy", "safetensors"],
        "the safetensors Python package reading our checkpoints",
    )?
    .arg(&script)
    .args(args)
    .output()
    .expect("python3 ran a moment ago");
    assert!(
        out.status.success(),
        "{} failed: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(out)
}

/// Asserts that Python's view of a file (`py`, from read_safetensors.py) holds exactly `tensors`,
/// bit for bit, and that its recomputed CRCs are the ones in the metadata.
fn assert_python_sees(py: &Value, tensors: &[&NamedTensor]) {
    let seen = py["tensors"].as_object().unwrap();
    assert_eq!(seen.len(), tensors.len(), "{seen:?}");
    for t in tensors {
        let p = &seen[&t.name];
        assert_eq!(p["dtype"], "float32", "{}", t.name);
        assert_eq!(p["shape"], serde_json::json!(t.shape), "{}", t.name);
        let bytes: Vec<u8> = t.data.iter().flat_map(|x| x.to_le_bytes()).collect();
        let ours = format!("{:08x}", crc32fast::hash(&bytes));
        assert_eq!(p["crc32"], ours.as_str(), "{}", t.name);
    }
    let meta = &py["metadata"];
    for key in ["params_crc32", "slots_crc32", "metadata_crc32"] {
        assert_eq!(py[key], meta[key], "{key}");
    }
    assert_eq!(py["safe_open_agrees"], true);
}

#[test]
fn the_safetensors_package_reads_a_checkpoint_and_an_export_and_import_reads_its_files() {
    let logdir = tempfile::tempdir().unwrap();
    let (run, trained) = fixture_like_run(logdir.path(), "2");
    let out = tempfile::tempdir().unwrap();
    assert_eq!(export(&run, out.path()), trained);
    let exported = out.path().join("model.safetensors");
    let checkpoint = run.join(CHECKPOINT_FILE);
    let Some(py) = read_safetensors(&[&checkpoint, &exported]) else {
        return;
    };
    let py: Value = serde_json::from_slice(&py.stdout).unwrap();
    let ckpt = Checkpoint::load(&run).unwrap();

    // The checkpoint: parameters and TF1-named optimiser slots, the run's facts as metadata.
    let all: Vec<&NamedTensor> = ckpt.params.iter().chain(&ckpt.slots).collect();
    assert_python_sees(&py[0], &all);
    let meta = &py[0]["metadata"];
    assert_eq!(meta["params_crc32"], trained.as_str(), "the run's checksum");
    for (k, v) in [
        ("format", "valence-checkpoint"),
        ("format_version", "2"),
        ("config", "tiny"),
        ("step", "2"),
        ("optimizer", "adam"),
        ("data_position", "2"),
        ("run.seed", "3"),
        ("run.batch", "4"),
        ("run.exact", "true"),
    ] {
        assert_eq!(meta[k], v, "{k}");
    }
    let tensors = py[0]["tensors"].as_object().unwrap();
    for name in [
        "weights1/Adam",
        "weights1/Adam_1",
        "beta1_power",
        "beta2_power",
    ] {
        assert!(tensors.contains_key(name), "{name}");
    }
    assert_eq!(tensors["beta1_power"]["shape"], serde_json::json!([]));

    // The export: the parameters alone.
    let params: Vec<&NamedTensor> = ckpt.params.iter().collect();
    assert_python_sees(&py[1], &params);
    assert_eq!(py[1]["metadata"]["params_crc32"], trained.as_str());
    assert_eq!(py[1]["metadata"]["optimizer"], "none");

    // A file numpy's safetensors writes (no metadata at all) is imported as it is.
    let plain = out.path().join("plain.safetensors");
    read_safetensors(&[Path::new("--write"), &plain, &exported]).unwrap();
    let back = tempfile::tempdir().unwrap();
    assert_eq!(import(&plain, back.path()), trained);
}

#[test]
fn a_version_1_run_exports_and_resumes_to_the_uninterrupted_runs_bits() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1-tiny-run");
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::copy(
        fixture.join("checkpoint.vckpt"),
        run.join("checkpoint.vckpt"),
    )
    .unwrap();

    // The checksum the run that wrote it printed (see the fixture's README.md).
    assert_eq!(export(&run, &tmp.path().join("out")), "6b5679ad");

    let whole = tempfile::tempdir().unwrap();
    let (_, uninterrupted) = fixture_like_run(whole.path(), "4");
    let mut args = FIXTURE_RUN.to_vec();
    let logdir = tmp.path().join("logs");
    args.extend_from_slice(&[
        logdir.to_str().unwrap(),
        "--steps",
        "4",
        "--resume",
        run.to_str().unwrap(),
    ]);
    assert_eq!(crc(&host_sim(&args)), uninterrupted);
    assert!(!run.join("checkpoint.vckpt").exists(), "replaced");
    assert_eq!(Checkpoint::load(&run).unwrap().step, 4);
}

/// A FULL checkpoint as a run with Adam writes it: every parameter, both moments per parameter
/// and the two β powers.
fn full_adam_checkpoint() -> Checkpoint {
    let specs = ValenceConfig::FULL.params().unwrap();
    let tensor = |name: String, dims: &[usize], salt: u32| {
        let n = dims.iter().product::<usize>() as u32;
        let data = (0..n)
            .map(|j| (j % 1000) as f32 * 1e-3 + salt as f32)
            .collect();
        NamedTensor::new(name, dims.to_vec(), data).unwrap()
    };
    let params = specs
        .iter()
        .map(|s| tensor(s.name.to_owned(), s.dims(), 1))
        .collect();
    let mut slots: Vec<NamedTensor> = ["Adam", "Adam_1"]
        .iter()
        .flat_map(|slot| {
            specs
                .iter()
                .map(move |s| tensor(format!("{}/{slot}", s.name), s.dims(), 2))
        })
        .collect();
    slots.push(NamedTensor::new("beta1_power", vec![], vec![0.9]).unwrap());
    slots.push(NamedTensor::new("beta2_power", vec![], vec![0.999]).unwrap());
    Checkpoint {
        config: "full".into(),
        step: 1200,
        optimizer: OptimizerKind::Adam,
        rng: Vec::new(),
        data_position: 1200,
        attrs: vec![("seed".into(), "0".into())],
        params,
        slots,
    }
}

fn median(mut d: Vec<Duration>) -> Duration {
    d.sort();
    d[d.len() / 2]
}

/// Prints the FULL checkpoint's file size and median save (with its fsyncs) and load times:
/// `cargo test -p host-sim --test checkpoint -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a check: run it with --ignored --nocapture"]
fn full_checkpoint_size_and_time() {
    let ckpt = full_adam_checkpoint();
    let dir = tempfile::tempdir().unwrap();
    let (mut save, mut load) = (Vec::new(), Vec::new());
    let mut path = std::path::PathBuf::new();
    for _ in 0..7 {
        let t = Instant::now();
        path = ckpt.save(dir.path()).unwrap();
        save.push(t.elapsed());
        let t = Instant::now();
        let back = Checkpoint::load(dir.path()).unwrap();
        load.push(t.elapsed());
        assert_eq!(back.params.len(), ckpt.params.len());
    }
    let bytes = std::fs::metadata(&path).unwrap().len();
    println!(
        "{}: {bytes} bytes ({:.1} MiB), save {:.0} ms, load {:.0} ms (medians of 7)",
        path.file_name().unwrap().to_string_lossy(),
        bytes as f64 / (1 << 20) as f64,
        median(save).as_secs_f64() * 1e3,
        median(load).as_secs_f64() * 1e3,
    );
}
