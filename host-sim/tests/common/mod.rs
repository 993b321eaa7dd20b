//! Helpers shared by host-sim's integration tests. Each test crate uses a subset of them.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Set to `1` (as `.ci/run` does) to make a missing Python or module fail the tests that need it
/// instead of skipping their interop checks.
pub const REQUIRE_PYTHON: &str = "VALENCE_REQUIRE_PYTHON";

/// The one way a test reaches Python: a `python3` command if the `python3` on PATH imports every
/// module of `modules`. Otherwise prints one line naming `what` was not checked and how to enable
/// it, and returns `None` (the caller skips that check and passes), or panics with that line when
/// `VALENCE_REQUIRE_PYTHON=1`.
pub fn python(modules: &[&str], what: &str) -> Option<Command> {
    let imports = format!("import {}", modules.join(", "));
    let probe = Command::new("python3").args(["-c", &imports]).output();
    let problem = match probe {
        Ok(out) if out.status.success() => return Some(Command::new("python3")),
        Ok(out) => format!(
            "python3 cannot `{imports}` ({})",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("no message")
        ),
        Err(e) => format!("no usable python3 ({e})"),
    };
    let line = format!(
        "not checked: {what}: {problem}; to check it, run `pip install -r .ci/requirements.txt`"
    );
    let required = std::env::var(REQUIRE_PYTHON).is_ok_and(|v| v == "1");
    assert!(!required, "{line} ({REQUIRE_PYTHON}=1)");
    // Straight to stderr: the test harness captures `eprintln!` of passing tests, and this line
    // is for whoever runs the tests.
    let _ = std::io::Write::write_all(&mut std::io::stderr(), format!("{line}\n").as_bytes());
    None
}

/// Runs `read_events.py` (TensorBoard's own loaders) on `dirs`; `None` when Python or TensorBoard
/// is missing (see [`python`]).
pub fn load(dirs: &[&Path]) -> Option<Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/read_events.py");
    let out = python(
        &["tensorboard"],
        "TensorBoard's loaders reading our event files",
    )?
    .arg(&script)
    .args(dirs)
    .output()
    .expect("python3 ran a moment ago");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{} failed ({}):\n{stderr}",
        script.display(),
        out.status
    );
    Some(serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "bad JSON from read_events.py ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    }))
}

/// Writes a labelled data directory of `n` 8×8 PNG frames, valence spread over [−1, 1).
pub fn data_dir(n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("file,valence,confidence\n");
    for i in 0..n {
        let img = image::RgbImage::from_fn(8, 8, |x, y| {
            image::Rgb([(x * 30) as u8, (y * 30) as u8, i as u8])
        });
        img.save(dir.path().join(format!("f{i}.png"))).unwrap();
        csv.push_str(&format!(
            "f{i}.png,{},0.5\n",
            (i as f32 / n as f32) * 2.0 - 1.0
        ));
    }
    std::fs::write(dir.path().join("labels.csv"), csv).unwrap();
    dir
}
