//! Training data on the host. Synthetic valence frames come from `kernels` (shared with the
//! boards); [`classes`] generates examples for classification networks; [`real`] reads a
//! directory of labelled PNG/JPEG frames.

pub mod classes;
pub mod real;

pub use real::{load_dir, DataError, Example, FrameShape, RealDataset, LABELS_FILE};
