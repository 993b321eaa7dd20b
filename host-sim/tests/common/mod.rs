//! Helpers shared by host-sim's TensorBoard tests.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Runs `read_events.py` on `dirs`; panics with the way to fix it if Python or TensorBoard is
/// missing.
pub fn load(dirs: &[&Path]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/read_events.py");
    let hint = "TensorBoard's Python loader is needed: run `pip install -r .ci/requirements.txt` \
                (tensorboard==2.21.0) for the `python3` on PATH";
    let out = Command::new("python3")
        .arg(&script)
        .args(dirs)
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 ({e}). {hint}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{} failed ({}):\n{stderr}\n{hint}",
        script.display(),
        out.status
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "bad JSON from read_events.py ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}
