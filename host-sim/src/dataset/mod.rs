//! Training data on the host. Synthetic frames come from `kernels` (shared with the boards);
//! [`real`] reads a directory of labelled PNG/JPEG frames.

pub mod real;

pub use real::{load_dir, DataError, Example, RealDataset, LABELS_FILE};
