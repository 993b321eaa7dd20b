//! The boards against the desktop, bit for bit: each board's per-step losses, parameter
//! histograms, final CRC-32 and int8 predictions equal those of `host-sim --exact --config tiny`
//! (same seed, steps, batch, micro-batches of one frame) and `host-sim eval`.
//!
//! `a_board_log_ingests_to_the_summaries_and_diagnosis_of_the_exact_run` needs nothing but Rust:
//! it ingests a committed Cortex-M4 log (`tests/fixtures/cortex-m4.log`) and compares it with the
//! `--exact` run (histograms, learning and ReLU scalars, the learning report's tensor findings). `both_boards_match_the_host` builds
//! and runs the two firmware crates under QEMU and decodes their logs with `defmt-print`; where
//! QEMU, `defmt-print` or a Rust target is missing it prints what it did not check and passes,
//! unless `VALENCE_REQUIRE_BOARDS=1` (CI sets it).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use host_sim::ingest::{parse, BoardLog};
use host_sim::tensorboard::proto::event::What;
use host_sim::tensorboard::proto::summary::value::Kind;
use host_sim::tensorboard::proto::Event;
use host_sim::tensorboard::read_records;
use prost::Message;

const HOST_SIM: &str = env!("CARGO_BIN_EXE_host-sim");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host-sim lives in the workspace")
        .to_owned()
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// The scalars a board's log gives: learning (`update_ratio/…`, `drift/…`) and ReLU health
/// (`relu_zero_fraction/…`, `dead_units/…`).
const BOARD_SCALARS: [&str; 4] = [
    "update_ratio/",
    "drift/",
    "relu_zero_fraction/",
    "dead_units/",
];

/// Every histogram tensor (its `[k, 3]` f64 rows as TensorBoard reads them) and every scalar of
/// [`BOARD_SCALARS`] (as f32 bits) of the event files under `dir`, by (step, tag).
fn summaries(dir: &Path) -> BTreeMap<(i64, String), Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if !path.to_string_lossy().contains("tfevents") {
            continue;
        }
        let (records, cut) = read_records(&path).unwrap();
        assert!(cut.is_none(), "{}: {cut:?}", path.display());
        for r in records {
            let e = Event::decode(&r[..]).unwrap();
            if let Some(What::Summary(s)) = e.what {
                for v in s.value {
                    match v.kind {
                        Some(Kind::Tensor(t)) => {
                            out.insert((e.step, v.tag), t.tensor_content);
                        }
                        Some(Kind::SimpleValue(x))
                            if BOARD_SCALARS.iter().any(|p| v.tag.starts_with(p)) =>
                        {
                            out.insert((e.step, v.tag), x.to_bits().to_le_bytes().to_vec());
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    out
}

/// Runs `host-sim --exact` with the board's settings in `logdir`; returns its stdout and run dir.
fn exact_run(log: &BoardLog, logdir: &Path) -> (String, PathBuf) {
    let h = log.header;
    let stdout = run_ok(Command::new(HOST_SIM).args([
        "--config",
        "tiny",
        "--exact",
        "--steps",
        &h.steps.to_string(),
        "--batch",
        &h.batch.to_string(),
        "--micro-batch",
        &h.micro_batch.to_string(),
        "--summary-every",
        &h.summary_every.to_string(),
        "--seed",
        &h.seed.to_string(),
        // Rust prints the shortest decimal that parses back to the same f32.
        "--lr",
        &h.lr.to_string(),
        "--checkpoint-every",
        "0",
        "--threads",
        "2",
        "--logdir",
        logdir.to_str().unwrap(),
    ]));
    let run = std::fs::read_dir(logdir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .expect("host-sim made a run directory");
    (stdout, run)
}

/// The learning report's findings about the tensors: the table without its verdict column and
/// the paragraphs from "Can the Distributions chart show it?" on. The verdicts and the first two
/// paragraphs also weigh the held-out error, which a board does not measure (it predicts a
/// handful of frames in int8), so there the board's run is judged by its loss trend alone.
fn tensor_findings(stdout: &str) -> String {
    let start = stdout
        .find("learning diagnosis:")
        .expect("a learning diagnosis");
    let end = stdout.find("diagnosis report:").expect("a report path");
    let text = &stdout[start..end];
    let verdict = text
        .lines()
        .nth(1)
        .and_then(|header| header.split("verdict").next())
        .expect("a table header with a verdict column")
        .chars()
        .count();
    let table = text
        .lines()
        .take_while(|l| !l.is_empty())
        .map(|l| l.chars().take(verdict).collect::<String>() + "\n");
    let chart = text
        .find("**Can the Distributions chart show it?**")
        .expect("the chart paragraph");
    table.collect::<String>() + &text[chart..]
}

/// The board's losses, CRC-32 and (through `host-sim ingest`) histograms, learning scalars and
/// learning diagnosis against the host's.
fn compare_training(log_file: &Path) -> BoardLog {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(log_file).unwrap();
    let log = parse(&log_file.display().to_string(), &text).unwrap();
    assert!(log.done, "{}: the board did not finish", log_file.display());
    let (stdout, host_run) = exact_run(&log, &tmp.path().join("host"));

    let host_losses: Vec<(u32, u32)> = stdout
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("step ")?;
            let (step, bits) = rest.split_once(" loss ")?;
            Some((step.parse().ok()?, u32::from_str_radix(bits, 16).ok()?))
        })
        .collect();
    let board_losses: Vec<(u32, u32)> = log.losses.iter().map(|&(s, l)| (s, l.to_bits())).collect();
    assert_eq!(board_losses, host_losses, "{}: loss bits", log.board);
    assert_eq!(board_losses.len(), log.header.steps as usize);

    let host_crc = stdout
        .lines()
        .find_map(|l| l.strip_prefix("parameters CRC-32: "))
        .expect("host-sim prints the CRC-32");
    assert_eq!(
        format!("{:08x}", log.crc32.expect("the board logs its CRC-32")),
        host_crc,
        "{}: CRC-32",
        log.board
    );

    let board_dir = tmp.path().join("board");
    let ingested = run_ok(Command::new(HOST_SIM).args([
        "ingest",
        log_file.to_str().unwrap(),
        "--logdir",
        board_dir.to_str().unwrap(),
    ]));
    let run = board_dir.join(format!("{}-seed{}", log.board, log.header.seed));
    let board = summaries(&run);
    let host = summaries(&host_run);
    // 16 tensors at steps 0, 4 and 7: W, W − W₀ (not at step 0, where it is all zero), update
    // ratio, drift; 7 ReLU layers: zeros and dead units.
    assert_eq!(log.histograms.len(), 16 * 2 * 3);
    assert_eq!(log.relu.len(), 7 * 3);
    assert_eq!(
        board.len(),
        16 * 3 + 16 * 2 + (16 * 2 + 7 * 2) * 3,
        "{:?}",
        board.keys()
    );
    for (key, value) in &board {
        let want = host
            .get(key)
            .unwrap_or_else(|| panic!("the exact run has no {key:?}"));
        assert_eq!(value, want, "{}: {key:?}", log.board);
    }
    assert_eq!(
        tensor_findings(&ingested),
        tensor_findings(&stdout),
        "{}: learning report",
        log.board
    );
    assert!(
        ingested.contains("There is no held-out error."),
        "{}: the board's verdict rests on its loss alone:\n{ingested}",
        log.board
    );
    log
}

#[test]
fn a_board_log_ingests_to_the_summaries_and_diagnosis_of_the_exact_run() {
    compare_training(&root().join("host-sim/tests/fixtures/cortex-m4.log"));
}

/// Why the boards cannot be checked here, if they cannot.
fn missing_tools() -> Vec<String> {
    let mut missing = Vec::new();
    for tool in ["qemu-system-arm", "qemu-system-riscv32", "defmt-print"] {
        // Absent, or present but not working (a stub that fails counts as missing).
        let works = Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !works {
            missing.push(tool.to_owned());
        }
    }
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    for target in ["thumbv7em-none-eabihf", "riscv32imac-unknown-none-elf"] {
        if !installed.lines().any(|l| l.trim() == target) {
            missing.push(format!("the rust target {target}"));
        }
    }
    missing
}

/// A board crate: its directory, target, QEMU command line.
struct Board {
    dir: &'static str,
    target: &'static str,
    bin: &'static str,
    qemu: &'static [&'static str],
}

const BOARDS: [Board; 2] = [
    Board {
        dir: "cortex-m4",
        target: "thumbv7em-none-eabihf",
        bin: "valence-cortex-m4",
        qemu: &["qemu-system-arm", "-M", "mps2-an386", "-cpu", "cortex-m4"],
    },
    Board {
        dir: "riscv32",
        target: "riscv32imac-unknown-none-elf",
        bin: "valence-riscv32",
        qemu: &["qemu-system-riscv32", "-M", "virt", "-bios", "none"],
    },
];

/// Generous: the RISC-V run takes about 15 s on the development machine.
const QEMU_TIMEOUT: Duration = Duration::from_secs(300);

/// Builds the board's firmware in its own crate and target directory, runs it under QEMU and
/// decodes its log into `out`.
fn run_board(b: &Board, out: &Path) {
    let dir = root().join("firmware").join(b.dir);
    let mut build = Command::new("cargo");
    build.current_dir(&dir).args(["build", "--release"]);
    // The host's build settings must not leak into the firmware's own cargo configuration.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
    ] {
        build.env_remove(var);
    }
    run_ok(&mut build);
    let elf = dir
        .join("target")
        .join(b.target)
        .join("release")
        .join(b.bin);

    let mut qemu = Command::new(b.qemu[0]);
    qemu.args(&b.qemu[1..])
        .args([
            "-nographic",
            "-semihosting-config",
            "enable=on,target=native",
            "-icount",
            "shift=0",
            "-kernel",
        ])
        .arg(&elf)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = qemu.spawn().unwrap_or_else(|e| panic!("{qemu:?}: {e}"));
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut frames = Vec::new();
        stdout.read_to_end(&mut frames).map(|_| frames)
    });
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > QEMU_TIMEOUT {
            child.kill().unwrap();
            panic!("{}: QEMU still running after {QEMU_TIMEOUT:?}", b.dir);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let frames = reader.join().unwrap().unwrap();
    let mut decode = Command::new("defmt-print")
        .arg("-e")
        .arg(&elf)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("defmt-print runs");
    let mut stdin = decode.stdin.take().unwrap();
    let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &frames));
    let decoded = decode.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    std::fs::write(out, &decoded.stdout).unwrap();
    assert!(
        status.success(),
        "{}: the board exited with {status}; its log:\n{}",
        b.dir,
        String::from_utf8_lossy(&decoded.stdout)
    );
}

#[test]
fn both_boards_match_the_host() {
    let missing = missing_tools();
    if !missing.is_empty() {
        let msg = format!(
            "boards not checked against the host (missing: {}); install them as .ci/run does",
            missing.join(", ")
        );
        assert!(
            std::env::var_os("VALENCE_REQUIRE_BOARDS").is_none(),
            "{msg}"
        );
        // Straight to stderr: the test harness captures `println!` of passing tests.
        let _ = writeln!(std::io::stderr(), "{msg}");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();

    // The committed int8 model is what tools/tiny_model.sh makes, and host-sim eval's int8
    // predictions of the first held-out frames are the ones the boards must print.
    let model = tmp.path().join("tiny.vq8");
    let eval = run_ok(
        Command::new("bash")
            .arg(root().join("tools/tiny_model.sh"))
            .arg(tmp.path().join("model"))
            .arg(&model)
            .env("HOST_SIM", HOST_SIM),
    );
    let committed = std::fs::read(root().join("firmware/common/model/tiny.vq8")).unwrap();
    assert!(
        std::fs::read(&model).unwrap() == committed,
        "firmware/common/model/tiny.vq8 is not what tools/tiny_model.sh makes: rerun it"
    );
    let host_predictions: Vec<(u32, u32)> = eval
        .lines()
        .filter_map(|l| {
            let mut w = l.strip_prefix("int8 prediction ")?.split(' ');
            Some((
                w.next()?.parse().ok()?,
                u32::from_str_radix(w.next()?, 16).ok()?,
            ))
        })
        .collect();
    assert_eq!(host_predictions.len(), 4, "{eval}");

    for b in &BOARDS {
        let log_file = tmp.path().join(format!("{}.log", b.dir));
        run_board(b, &log_file);
        let log = compare_training(&log_file);
        let board_predictions: Vec<(u32, u32)> = log
            .predictions
            .iter()
            .map(|&(i, p)| (i, p.to_bits()))
            .collect();
        assert_eq!(board_predictions, host_predictions, "{}: int8", b.dir);
        // The linker holds statics and heap inside the 256 KiB RAM region; the stack is what
        // is left, and the painted stack must never have been used up.
        let (peak, painted) = log.stack.expect("the board logs its stack");
        assert!(peak < painted, "{}: stack {peak} of {painted}", b.dir);
        assert!(
            log.arena_bytes.unwrap() + peak <= 256 * 1024,
            "{}: arena and stack exceed 256 KiB",
            b.dir
        );
        println!(
            "{}: {} loss bits, {} histograms, CRC-32 {:08x}, {} int8 predictions equal the host's; arena {} B, int8 {} B, stack {peak} B",
            b.dir,
            log.losses.len(),
            log.histograms.len(),
            log.crc32.unwrap(),
            log.predictions.len(),
            log.arena_bytes.unwrap(),
            log.int8_bytes.unwrap()
        );
    }
}
