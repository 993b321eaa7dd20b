//! The valence network as one plan: shapes, parameter table and arena layout as `const fn`s of a
//! [`ValenceConfig`], and the one forward/backward/optimiser implementation that the desktop
//! (`host-sim`) and the boards both run over a single caller-provided `f32` arena.
//!
//! Topology (the seed's, see DESIGN.md): conv1 5×5/4 SAME + ReLU → LRN → max-pool 3×3/2 VALID →
//! conv2 3×3 SAME + ReLU → LRN → pool → conv3, conv4, conv5 3×3 SAME + ReLU → pool → flatten →
//! local1, local2 dense + ReLU → one linear output. Only the sizes vary between
//! [`ValenceConfig::FULL`] (the seed's) and [`ValenceConfig::TINY`] (a board's).

mod arena;
mod config;
mod params;
mod probe;
mod train;

pub use arena::{ArenaLayout, OptimizerKind};
pub use config::{Geometry, ValenceConfig, LRN_ALPHA, LRN_BETA, LRN_BIAS, LRN_DEPTH_RADIUS};
pub use params::{Init, ParamSpec, PARAM_TENSORS};
pub use probe::{Observer, Probe};
pub use train::Net;
