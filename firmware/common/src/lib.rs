//! What every valence board runs, written once: TINY's training with the seed's loss and Adam
//! (frames drawn on the board by `kernels::data`), the parameter histograms, ReLU health and
//! CRC-32 that `host-sim --exact --config tiny` computes, int8 inference with a model built into the image,
//! per-layer instruction counts and the peak stack, all logged through `defmt`.
//!
//! A board crate brings what differs between boards: its runtime and memory map, the `defmt`
//! transport, where the arena comes from (a `static` on Cortex-M4, an `embedded-alloc` heap on
//! RISC-V) and its instruction counter ([`Counter`]). Only the private `train` module touches
//! `kernels::net::Net`; everything else walks [`PLAN`], the table's validated plan, so another
//! table changes only [`CONFIG`].
//!
//! The log's lines are a small grammar that `host-sim ingest` and the boards test parse; it is
//! written down in [`log`].
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod counts;
pub mod infer;
pub mod log;
pub mod relu;
pub mod stack;
mod train;

use kernels::net::{ArenaLayout, OptimizerKind, Plan, ValenceConfig};
use kernels::KernelError;

/// Instructions retired since some fixed point (boot), read from the board's counter.
pub trait Counter {
    /// The current count. Must be monotonic between two calls at most one training layer apart.
    fn instructions(&mut self) -> u64;
}

/// The run every board makes; the host repeats it with
/// `host-sim --exact --config tiny --steps 8 --batch 8 --summary-every 4 --seed 0`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Seed of the initial weights and of the synthetic frames.
    pub seed: u64,
    /// Adam steps.
    pub steps: u32,
    /// Frames per step, trained one at a time (one-frame micro-batches).
    pub batch: u32,
    /// A histogram of every parameter tensor at steps `0, every, 2·every, …` and the last.
    pub summary_every: u32,
    /// Adam's learning rate (host-sim's default, the seed's).
    pub lr: f32,
    /// Held-out frames the int8 model predicts.
    pub predict: u32,
}

/// The boards' run: 8 Adam steps of 8 frames. Eight steps show the loss moving and three
/// summary steps (0, 4, 7) while the slower board (RISC-V, soft float) stays near a minute
/// under QEMU.
pub const SETTINGS: Settings = Settings {
    seed: 0,
    steps: 8,
    batch: 8,
    summary_every: 4,
    lr: 1e-4,
    predict: 4,
};

/// The network every board trains.
pub const CONFIG: ValenceConfig = ValenceConfig::TINY;

/// [`CONFIG`]'s plan: its layers (names, shapes) and parameter tensors. A `static` (in flash):
/// every use of a `const` of this size would copy its 3.7 KB onto the stack.
pub static PLAN: Plan = match CONFIG.plan() {
    Ok(p) => p,
    Err(_) => panic!("TINY is a valid network"),
};

/// The training arena's layout: one-frame micro-batches, Adam.
pub const LAYOUT: ArenaLayout = match ArenaLayout::training(&CONFIG, 1, OptimizerKind::Adam) {
    Ok(l) => l,
    Err(_) => panic!("TINY has a valid training layout"),
};

/// TINY's parameters: the length of W₀'s copy.
pub const PARAMS: usize = LAYOUT.params.len;

/// `f32`s of the training arena (a board's `static` or heap allocation).
pub const ARENA_LEN: usize = LAYOUT.arena_len();

/// Bytes of one `u8` frame.
pub const FRAME_LEN: usize = match CONFIG.frame_len() {
    Ok(n) => n,
    Err(_) => panic!("TINY has a valid frame size"),
};

/// Trains TINY over the board's memory: logs the header, the training arena's bytes, each
/// step's loss, the summary steps' ReLU health, histograms and learning sums, the CRC-32 and
/// the instruction counts. The board
/// then runs [`infer::predict`] (with memory the arena may have given back), logs its peak stack
/// and `done`.
///
/// `arena` is [`ARENA_LEN`] `f32`s, `frame` [`FRAME_LEN`] bytes, `w0` [`PARAMS`] `f32`s (the
/// initial parameters, for the learning diagnosis). The histogram a summary step fills one
/// tensor at a time (12 KiB) lives on the stack while it is logged: the stack is shared by the
/// training and int8 phases, a board's memory for buffers is not.
///
/// # Errors
/// Whatever stopped training.
pub fn train<C: Counter>(
    board: &str,
    arena: &mut [f32],
    frame: &mut [u8],
    w0: &mut [f32],
    counter: &mut C,
) -> Result<(), Error> {
    log::header(board);
    defmt::println!("arena {=usize} bytes", core::mem::size_of_val(arena));
    let trained = train::train(arena, frame, w0, counter)?;
    defmt::println!("crc {=u32:x}", trained.crc32);
    trained.counts.log();
    Ok(())
}

/// Why a board run stopped early.
#[derive(Debug, Clone, Copy, PartialEq, defmt::Format)]
pub enum Error {
    /// A kernel refused its arguments.
    Kernel(KernelError),
    /// The built-in int8 model file was rejected (corrupt, or not [`CONFIG`]'s table).
    Model(kernels::quant::net::ModelError),
    /// A bounded buffer was too small (names it).
    Capacity(&'static str),
}

impl From<KernelError> for Error {
    fn from(e: KernelError) -> Self {
        Self::Kernel(e)
    }
}

impl From<kernels::quant::net::ModelError> for Error {
    fn from(e: kernels::quant::net::ModelError) -> Self {
        Self::Model(e)
    }
}
