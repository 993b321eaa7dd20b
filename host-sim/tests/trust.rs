//! No command destroys a run, no input aborts, every error names its file once (issue #10):
//! `--resume` of anything but a run, a run killed before its report, divergence, impossible
//! sizes, error messages end to end, canonical data paths and the held-out split.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use host_sim::checkpoint::{Checkpoint, CHECKPOINT_FILE};

fn host_sim_in(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_host-sim"))
        .current_dir(cwd)
        .args(args)
        .output()
        .expect("the host-sim binary runs")
}

fn host_sim(args: &[&str]) -> Output {
    host_sim_in(Path::new("."), args)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "host-sim failed:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Asserts a clean failure: status 2, one `error: ` line holding every needle, no panic, and no
/// part of the message said twice (the "X: X" of an error chained onto itself).
fn assert_error(out: &Output, needles: &[&str]) -> String {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let line = stderr.trim_end();
    assert!(
        line.starts_with("error: ") && !line.contains('\n'),
        "{stderr}"
    );
    assert!(!line.contains("panicked"), "{stderr}");
    for n in needles {
        assert!(line.contains(n), "{n:?} not in: {line}");
    }
    let parts: Vec<&str> = line["error: ".len()..].split(": ").collect();
    for (i, p) in parts.iter().enumerate() {
        assert!(!parts[i + 1..].contains(p), "{p:?} said twice in: {line}");
    }
    line.to_owned()
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

fn event_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("tfevents"))
        .collect();
    files.sort();
    files
}

const TINY: [&str; 8] = [
    "--config",
    "tiny",
    "--batch",
    "2",
    "--threads",
    "1",
    "--seed",
    "5",
];

fn tiny(extra: &[&str]) -> Output {
    let mut args = TINY.to_vec();
    args.extend_from_slice(extra);
    host_sim(&args)
}

#[test]
fn resume_accepts_only_a_run_directory_and_never_rewrites_initial() {
    let logdir = tempfile::tempdir().unwrap();
    let l = logdir.path().to_str().unwrap();
    ok(&tiny(&[
        "--steps",
        "2",
        "--checkpoint-every",
        "1",
        "--logdir",
        l,
    ]));
    let run = run_dir(logdir.path());
    let initial = run.join("initial");
    let w0 = std::fs::read(initial.join(CHECKPOINT_FILE)).unwrap();
    let files = event_files(&run);
    for (dir, needle) in [
        (initial.clone(), "initial parameters"),
        (run.join("diagnosis"), "inside the run"),
    ] {
        let out = tiny(&[
            "--steps",
            "4",
            "--lr",
            "0.5",
            "--resume",
            dir.to_str().unwrap(),
        ]);
        assert_error(&out, &[needle, "--resume"]);
    }
    // A resume at step 0 of an imported checkpoint writes initial/ once; later resumes load it.
    let ok_resume = tiny(&[
        "--steps",
        "3",
        "--checkpoint-every",
        "1",
        "--resume",
        run.to_str().unwrap(),
    ]);
    ok(&ok_resume);
    assert_eq!(std::fs::read(initial.join(CHECKPOINT_FILE)).unwrap(), w0);
    assert_eq!(event_files(&run).len(), files.len() + 1);
}

#[test]
fn a_run_killed_before_its_report_is_finished_by_resume() {
    let logdir = tempfile::tempdir().unwrap();
    let l = logdir.path().to_str().unwrap();
    ok(&tiny(&[
        "--steps",
        "3",
        "--checkpoint-every",
        "3",
        "--logdir",
        l,
    ]));
    let run = run_dir(logdir.path());
    // What a kill between the last checkpoint and the evaluation leaves: no report.
    std::fs::remove_file(run.join("diagnosis.md")).unwrap();
    let out = ok(&tiny(&["--steps", "3", "--resume", run.to_str().unwrap()]));
    assert!(out.contains("all 3 steps were done"), "{out}");
    assert!(out.contains("held-out weighted error"), "{out}");
    assert!(run.join("diagnosis.md").is_file());
    assert_eq!(Checkpoint::load(&run).unwrap().step, 3);
    // Asking for fewer steps than the checkpoint holds is still refused.
    let out = tiny(&["--steps", "2", "--resume", run.to_str().unwrap()]);
    assert_error(&out, &["already has 3 steps"]);
}

#[test]
fn a_diverging_run_stops_naming_the_step_and_keeps_its_last_good_checkpoint() {
    let logdir = tempfile::tempdir().unwrap();
    let l = logdir.path().to_str().unwrap();
    let out = tiny(&[
        "--steps",
        "20",
        "--lr",
        "1e30",
        "--checkpoint-every",
        "1",
        "--logdir",
        l,
    ]);
    let line = assert_error(&out, &["diverged at step "]);
    let step: u64 = line
        .split("diverged at step ")
        .nth(1)
        .and_then(|r| r.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no step in {line}"));
    let stdout = text(&out.stdout);
    assert!(!stdout.contains("Yes"), "{stdout}");
    assert!(
        stdout.contains(&format!("**the run diverged at step {step}**")),
        "{stdout}"
    );
    let run = run_dir(logdir.path());
    let md = std::fs::read_to_string(run.join("diagnosis.md")).unwrap();
    assert!(md.contains(&format!("diverged at step {step}")), "{md}");
    assert!(!md.contains("Yes"), "{md}");
    // The checkpoint is the last one before the bad step, with finite parameters.
    let ckpt = Checkpoint::load(&run).unwrap();
    assert_eq!(ckpt.step, step, "checkpoints come every step");
    assert!(ckpt
        .params
        .iter()
        .all(|t| t.data.iter().all(|x| x.is_finite())));
}

#[test]
fn impossible_sizes_are_named_errors() {
    let logdir = tempfile::tempdir().unwrap();
    let l = logdir.path().to_str().unwrap();
    let out = host_sim(&[
        "--config",
        "tiny",
        "--batch",
        "1000000000000",
        "--logdir",
        l,
    ]);
    assert_error(&out, &["--batch 1000000000000", "GiB"]);
    assert_eq!(
        std::fs::read_dir(logdir.path()).unwrap().count(),
        0,
        "nothing written"
    );
}

#[test]
fn errors_name_their_file_once() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let nowhere = t.join("nowhere");
    let n = nowhere.to_str().unwrap();
    assert_error(
        &host_sim(&["export", "--checkpoint", n, "--out", "x"]),
        &["nowhere/checkpoint.safetensors", "No such file"],
    );
    assert_error(
        &host_sim(&["import", "--from", n, "--out", "x"]),
        &["nowhere/weights1.npy", "No such file"],
    );
    assert_error(
        &host_sim(&["--config", "tiny", "--data", n]),
        &["--data", "nowhere", "No such file"],
    );

    // A corrupt history.tsv fails the resume naming it, and leaves no new file behind.
    let logdir = t.join("runs");
    ok(&tiny(&[
        "--steps",
        "2",
        "--checkpoint-every",
        "2",
        "--logdir",
        logdir.to_str().unwrap(),
    ]));
    let run = run_dir(&logdir);
    std::fs::write(run.join("diagnosis/history.tsv"), b"\xff\xfe not text").unwrap();
    let before = event_files(&run);
    let out = tiny(&["--steps", "4", "--resume", run.to_str().unwrap()]);
    assert_error(&out, &["history.tsv"]);
    assert_eq!(event_files(&run), before, "no stray event file");
    // A corrupt (here cut short) checkpoint names the file and what is wrong with it, once.
    let whole = std::fs::read(run.join(CHECKPOINT_FILE)).unwrap();
    std::fs::write(run.join(CHECKPOINT_FILE), &whole[..whole.len() / 2]).unwrap();
    let out = tiny(&["--steps", "4", "--resume", run.to_str().unwrap()]);
    assert_error(&out, &[CHECKPOINT_FILE, "truncated"]);
    assert_eq!(event_files(&run), before, "no stray event file");
}

/// A disk that fills up while a checkpoint is written (its temporary file made a link to
/// `/dev/full`): the error names the file, and the previous checkpoint stays.
#[test]
fn a_full_disk_is_named_and_the_last_checkpoint_kept() {
    if !Path::new("/dev/full").exists() {
        eprintln!("not checked: a full disk (this system has no /dev/full)");
        return;
    }
    let logdir = tempfile::tempdir().unwrap();
    let l = logdir.path().to_str().unwrap();
    ok(&tiny(&[
        "--steps",
        "2",
        "--checkpoint-every",
        "2",
        "--logdir",
        l,
    ]));
    let run = run_dir(logdir.path());
    let tmp = run.join(host_sim::checkpoint::TEMP_FILE);
    std::os::unix::fs::symlink("/dev/full", &tmp).unwrap();
    let out = tiny(&[
        "--steps",
        "3",
        "--checkpoint-every",
        "1",
        "--resume",
        run.to_str().unwrap(),
    ]);
    assert_error(
        &out,
        &[host_sim::checkpoint::TEMP_FILE, "No space left on device"],
    );
    assert_eq!(Checkpoint::load(&run).unwrap().step, 2);
}

/// An event file that cannot grow (a file-size limit of 80 KiB, past the 31 KB `initial/`
/// checkpoint; SIGXFSZ ignored so the write fails with EFBIG as on a full disk): the run stops
/// naming the event file, once.
#[test]
fn an_event_file_that_cannot_grow_is_named() {
    let logdir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "trap '' XFSZ; ulimit -f 80; exec \"$@\"", "sh"])
        .arg(env!("CARGO_BIN_EXE_host-sim"))
        .args(TINY)
        .args([
            "--steps",
            "50",
            "--summary-every",
            "1",
            "--checkpoint-every",
            "0",
        ])
        .arg("--logdir")
        .arg(logdir.path());
    let out = cmd.output().expect("sh runs");
    assert_error(&out, &["events.out.tfevents.", "File too large"]);

    // A resume whose new event file cannot take its first record leaves no file behind.
    let l = logdir.path().join("ok");
    ok(&tiny(&[
        "--steps",
        "2",
        "--checkpoint-every",
        "2",
        "--logdir",
        l.to_str().unwrap(),
    ]));
    let run = run_dir(&l);
    std::fs::remove_file(run.join("diagnosis/history.tsv")).unwrap();
    let before = event_files(&run);
    let out = Command::new("sh")
        .args(["-c", "trap '' XFSZ; ulimit -f 0; exec \"$@\"", "sh"])
        .arg(env!("CARGO_BIN_EXE_host-sim"))
        .args(TINY)
        .args(["--steps", "4", "--resume"])
        .arg(&run)
        .output()
        .expect("sh runs");
    assert_error(&out, &["creating an event file in", "File too large"]);
    assert_eq!(event_files(&run), before, "no stray event file");
}

#[test]
fn data_paths_are_canonical_and_the_held_out_split_is_a_flag() {
    let data = common::data_dir(14);
    let parent = data.path().parent().unwrap();
    let name = data.path().file_name().unwrap().to_str().unwrap();
    let logdir = tempfile::tempdir().unwrap();
    let l = logdir.path().to_str().unwrap();
    // A relative --data with a trailing slash, from the data's parent directory…
    let mut args = TINY.to_vec();
    let spelled = format!("{name}/");
    args.extend_from_slice(&[
        "--steps",
        "2",
        "--checkpoint-every",
        "2",
        "--data",
        &spelled,
    ]);
    args.extend_from_slice(&["--logdir", l]);
    ok(&host_sim_in(parent, &args));
    let run = run_dir(logdir.path());
    let r = run.to_str().unwrap();
    // …is the same directory as its absolute spelling on resume,
    let abs = data.path().to_str().unwrap();
    ok(&tiny(&["--steps", "3", "--data", abs, "--resume", r]));
    // and quantize and eval find it from anywhere.
    let model = logdir.path().join("m.vq8");
    let m = model.to_str().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let q = ok(&host_sim_in(
        elsewhere.path(),
        &[
            "quantize",
            "--checkpoint",
            r,
            "--out",
            m,
            "--frames",
            "1000000",
        ],
    ));
    // --frames is capped by the training frames there are (14 less the held-out 1).
    assert!(q.contains("calibrating on all 13 training frames"), "{q}");
    ok(&host_sim_in(
        elsewhere.path(),
        &["eval", "--checkpoint", r, "--model", m],
    ));

    // --holdout 0 trains on every frame and says there is nothing to evaluate on.
    let out = ok(&tiny(&[
        "--steps",
        "1",
        "--holdout",
        "0",
        "--data",
        abs,
        "--logdir",
        l,
    ]));
    assert!(out.contains("no held-out frames"), "{out}");
    // --val-data: too few held-out frames are said so, never as `ratio inf`.
    let val = common::data_dir(2);
    let v = val.path().to_str().unwrap();
    let val_logdir = tempfile::tempdir().unwrap();
    let vl = val_logdir.path().to_str().unwrap();
    let args = [
        "--steps",
        "2",
        "--data",
        abs,
        "--val-data",
        v,
        "--logdir",
        vl,
    ];
    let out = ok(&tiny(&args));
    assert!(out.contains("on only 2 frame(s), too few"), "{out}");
    assert!(!out.contains("inf"), "{out}");
    // Resuming it without --val-data would change which frames train: refused.
    let val_run = run_dir(val_logdir.path());
    let out = tiny(&[
        "--steps",
        "3",
        "--data",
        abs,
        "--resume",
        val_run.to_str().unwrap(),
    ]);
    assert_error(&out, &["--holdout none", "--holdout 0.1"]);
    // The split is a setting of the run: a resume cannot change it.
    let out = tiny(&[
        "--steps",
        "4",
        "--data",
        abs,
        "--holdout",
        "0.5",
        "--resume",
        r,
    ]);
    assert_error(&out, &["--holdout 0.1", "--holdout 0.5"]);
}

/// Kills a run at several points after a checkpoint and resumes it: TensorBoard's loader then
/// sees every step's loss exactly once (checkpoints every 3 steps, summaries every 1000).
#[test]
fn after_a_kill_and_resume_the_loss_holds_every_step_once() {
    for wait_ms in [0, 40, 120] {
        let tmp = tempfile::tempdir().unwrap();
        let logdir = tmp.path().join("runs");
        let mut args = TINY.to_vec();
        let l = logdir.to_str().unwrap().to_owned();
        args.extend_from_slice(&["--steps", "100000", "--summary-every", "1000"]);
        args.extend_from_slice(&["--checkpoint-every", "3", "--logdir", &l]);
        let mut child = Command::new(env!("CARGO_BIN_EXE_host-sim"))
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let run = loop {
            let found = std::fs::read_dir(&logdir).ok().and_then(|mut d| {
                d.next()
                    .map(|e| e.unwrap().path())
                    .filter(|p| p.join(CHECKPOINT_FILE).is_file())
            });
            if let Some(run) = found {
                std::thread::sleep(Duration::from_millis(wait_ms));
                break run;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "no checkpoint");
            std::thread::sleep(Duration::from_millis(5));
        };
        child.kill().unwrap();
        child.wait().unwrap();
        let total = Checkpoint::load(&run).unwrap().step + 2;
        let r = run.to_str().unwrap();
        let steps = total.to_string();
        ok(&tiny(&[
            "--steps",
            &steps,
            "--summary-every",
            "1000",
            "--resume",
            r,
        ]));
        let Some(loaded) = common::load(&[&run]) else {
            return;
        };
        let losses = loaded["runs"][0]["plugin"]["scalars"]["loss/loss"]
            .as_array()
            .unwrap_or_else(|| panic!("no loss/loss in {loaded}"));
        let logged: Vec<u64> = losses.iter().map(|p| p[0].as_u64().unwrap()).collect();
        assert_eq!(
            logged,
            (0..total).collect::<Vec<_>>(),
            "killed after {wait_ms} ms"
        );
    }
}
