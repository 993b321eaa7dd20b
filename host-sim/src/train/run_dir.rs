//! Where a run's files go: a new run directory, or the one `--resume` names.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, ensure, Context, Result};

use crate::checkpoint::has_checkpoint;
use crate::cli::{ConfigName, TrainArgs};
use crate::summary::run::INITIAL_DIR;

/// `dir` made canonical (absolute, no `.`, `..` or symbolic links), or an error naming `flag`,
/// so a run records the same directory however it was spelled and from wherever it started.
///
/// # Errors
/// If `dir` does not exist or cannot be resolved.
pub fn canonical_dir(flag: &str, dir: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(dir).with_context(|| format!("{flag} {}", dir.display()))
}

/// `<logdir>/<config>-seed<N>-<unix seconds>`, with `-2`, `-3`, … appended when two runs start
/// within the same second.
pub fn new_run_dir(args: &TrainArgs, config: ConfigName) -> PathBuf {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let base = format!("{}-seed{}-{secs}", config.as_str(), args.seed);
    let mut dir = args.logdir.join(&base);
    let mut k = 2;
    while dir.exists() {
        dir = args.logdir.join(format!("{base}-{k}"));
        k += 1;
    }
    dir
}

/// The run directory `--resume DIR` names, canonical. Only a run's own directory is accepted:
/// never its `initial/` (W₀, which every drift figure is measured from) nor any directory
/// inside a run.
///
/// # Errors
/// If `dir` does not exist, is named `initial`, or lies inside a directory holding a checkpoint.
pub fn resumable_run_dir(dir: &Path) -> Result<PathBuf> {
    let canonical = canonical_dir("--resume", dir)?;
    ensure!(
        canonical.file_name() != Some(OsStr::new(INITIAL_DIR)),
        "--resume {}: this is a run's initial parameters (W₀), not a run; resume the run directory above it",
        dir.display()
    );
    if let Some(run) = canonical.ancestors().skip(1).find(|a| has_checkpoint(a)) {
        bail!(
            "--resume {}: this is inside the run {}; resume that directory",
            dir.display(),
            run.display()
        );
    }
    Ok(canonical)
}
