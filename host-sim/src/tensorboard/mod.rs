//! TensorBoard event files, written without TensorFlow.
//!
//! # Layout
//!
//! ```text
//! <logdir>/                       (default `runs/`; `tensorboard --logdir runs`)
//!   <run-name>/                   one run = one line per chart; `run_dir(logdir, run_name)`
//!     events.out.tfevents.<10-digit unix seconds>.<hostname>.<pid>.valence
//!     events.out.tfevents.…       a resumed run adds a file here, opened with `session_start`
//! ```
//!
//! TensorBoard reads a run's files in name order as one stream; [`EventWriter::create`] picks
//! the seconds so a new file sorts after the run's existing ones.
//!
//! Every run, fresh or resumed, starts its file with [`EventWriter::session_start`] at its first
//! step: a resumed run's `SessionLog START` then makes the loaders drop the orphaned steps the
//! stopped run logged after its last checkpoint — but only if the fresh run logged a START too.
//!
//! # Modules, one concept each
//! * [`record`]: TFRecord framing (length, masked CRC-32C, data, masked CRC-32C) and a reader
//!   that reports a cut or corrupt tail as a [`Truncation`].
//! * [`proto`]: the protobuf messages (`Event`, `Summary`, `HistogramProto`, `TensorProto`, …)
//!   as `prost` derives.
//! * [`summary`]: values as TensorBoard wants them — v1 scalars, v2 `[k, 3]` histogram tensors
//!   from [`kernels::histogram::Histogram`], PNG images.
//! * [`writer`]: [`EventWriter`], one file written in whole records.
//!
//! The facts these rely on (and the test vectors) are in the project's `TENSORBOARD.md`;
//! `host-sim/tests/tensorboard_loader.rs` checks the files with TensorBoard's own Python loaders
//! (tensorboard 2.21.0); the Rust data server (`tensorboard --load_fast=true`, data server 0.7.2)
//! was checked by hand to serve the same scalars, distributions, images, purge and cut file.

pub mod proto;
pub mod record;
pub mod summary;
pub mod writer;

use std::io;
use std::path::{Component, Path, PathBuf};

pub use record::{read_records, Damage, Truncation};
pub use writer::EventWriter;

/// The directory of run `run_name` under `logdir`: `<logdir>/<run-name>`.
///
/// A name may nest (`sweep/lr-1e-4` shows in TensorBoard as that run name) but must stay below
/// `logdir`.
///
/// # Errors
/// [`io::ErrorKind::InvalidInput`] if `run_name` is empty, absolute, or has a `.`/`..`
/// component.
pub fn run_dir(logdir: &Path, run_name: &str) -> io::Result<PathBuf> {
    let name = Path::new(run_name);
    let plain =
        !run_name.is_empty() && name.components().all(|c| matches!(c, Component::Normal(_)));
    // `components()` silently drops inner `.` components; refuse them explicitly.
    let dotted = run_name.split(['/', '\\']).any(|p| p == "." || p == "..");
    if !plain || dotted {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("run name {run_name:?} must be a relative path without . or .."),
        ));
    }
    Ok(logdir.join(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_dir_joins_and_refuses_escapes() {
        assert_eq!(
            run_dir(Path::new("runs"), "tiny-seed1").unwrap(),
            Path::new("runs/tiny-seed1")
        );
        assert_eq!(
            run_dir(Path::new("runs"), "sweep/a").unwrap(),
            Path::new("runs/sweep/a")
        );
        for bad in ["", "/abs", "../up", "a/../b", "./a", "a/./b", "."] {
            let err = run_dir(Path::new("runs"), bad).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
        }
    }
}
