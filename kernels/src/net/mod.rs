//! Networks as data: a [`Network`] is a `const` table (input, layers in order, loss, per
//! parameter its name, tag and initialiser); [`Plan`] validates and resolves it in a `const fn`;
//! [`ArenaLayout`] sizes the one caller-provided `f32` arena from it, also in a `const fn`, so a
//! board writes `static ARENA: [f32; N]` with `N` from the plan and a network that does not fit
//! fails to compile; and [`Net`] is the one forward / backward / optimiser implementation that
//! walks any table, on the desktop (`host-sim`) and on the boards.
//!
//! The seed's valence network is two tables, [`Network::FULL`] and [`Network::TINY`]; [`KWS`]
//! is a keyword-spotting classifier (`f32` features, softmax cross-entropy).
//!
//! A board sizes its arena from the plan, at compile time:
//!
//! ```
//! use kernels::net::{ArenaLayout, OptimizerKind, KWS};
//!
//! const LAYOUT: ArenaLayout = match ArenaLayout::training(&KWS, 1, OptimizerKind::Adam) {
//!     Ok(layout) => layout,
//!     Err(_) => panic!("KWS must be a valid network"),
//! };
//! const _: () = assert!(LAYOUT.bytes() <= 240 * 1024, "must fit the board's RAM");
//! static ARENA: [f32; LAYOUT.arena_len()] = [0.0; LAYOUT.arena_len()];
//! assert_eq!(ARENA.len() * 4, 164_392);
//! ```
//!
//! and a network that does not fit fails to compile (the seed's FULL network's 7.9 M parameters
//! alone take 127 MB with their gradients and Adam's moments):
//!
//! ```compile_fail
//! use kernels::net::{ArenaLayout, Network, OptimizerKind};
//!
//! const LAYOUT: ArenaLayout = match ArenaLayout::training(&Network::FULL, 1, OptimizerKind::Adam) {
//!     Ok(layout) => layout,
//!     Err(_) => panic!("FULL must be a valid network"),
//! };
//! const _: () = assert!(LAYOUT.bytes() <= 240 * 1024, "must fit the board's RAM");
//! ```

mod arena;
#[cfg(test)]
mod gradcheck;
mod kws;
mod params;
mod plan;
mod probe;
mod table;
mod train;
pub(crate) mod valence;

pub use arena::{
    ArenaLayout, OptimizerKind, Region, TINY_RAM_BUDGET, TINY_STACK_ALLOWANCE, TINY_TRAINING_BYTES,
};
pub use kws::KWS;
pub use params::{Init, ParamSpec};
pub use plan::{LayerGeometry, Params, Plan, PlannedLayer, MAX_LAYERS, MAX_PARAMS};
pub use probe::{Observer, Probe, Stage};
pub use table::{Activation, Initializer, Input, InputKind, Layer, Loss, Network, Op, Param};
pub use train::{Inputs, Net, Targets};
pub use valence::{ValenceConfig, LRN_ALPHA, LRN_BETA, LRN_BIAS, LRN_DEPTH_RADIUS};
