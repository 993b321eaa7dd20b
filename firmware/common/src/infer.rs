//! int8 inference on the board: the model file `host-sim quantize` wrote, built into the image.

use kernels::data::{FrameSpec, Split, Synthetic};
use kernels::quant::net::{ModelError, QuantLayout, QuantModel, QuantNet};
use kernels::quant::QuantizedMultiplier;

use crate::{Error, CONFIG, SETTINGS};

/// The int8 TINY model (`tools/tiny_model.sh` regenerates it with `host-sim quantize`).
pub static MODEL: &[u8] = include_bytes!("../model/tiny.vq8");

/// The int8 network's buffers for one frame at a time.
pub const LAYOUT: QuantLayout = match QuantLayout::new(&CONFIG, 1) {
    Ok(l) => l,
    Err(_) => panic!("TINY has a valid int8 layout"),
};

/// The buffers [`predict`] runs the int8 network in, sized by [`LAYOUT`].
pub struct Buffers<'a> {
    /// `LAYOUT.bytes_len()` bytes.
    pub bytes: &'a mut [i8],
    /// `LAYOUT.words_len()` words.
    pub words: &'a mut [i32],
    /// `LAYOUT.multipliers_len()` multipliers.
    pub multipliers: &'a mut [QuantizedMultiplier],
}

/// Predicts the first [`SETTINGS`]`.predict` held-out frames (seed [`SETTINGS`]`.seed`) with
/// [`MODEL`] and logs each prediction's bits.
///
/// # Errors
/// A rejected model file (corrupt, another network), wrong buffer lengths.
// Each phase in a frame of its own, none inlined: a model (4 KB with its plan), its network
// (5 KB) and their `Result`s would otherwise all share one frame, beside the training's.
#[inline(never)]
pub fn predict(buffers: Buffers<'_>, frame: &mut [u8]) -> Result<(), Error> {
    run(parse()?, buffers, frame)
}

#[inline(never)]
fn parse() -> Result<QuantModel<'static>, ModelError> {
    QuantModel::parse(MODEL, &CONFIG)
}

#[inline(never)]
fn run(model: QuantModel<'_>, buffers: Buffers<'_>, frame: &mut [u8]) -> Result<(), Error> {
    defmt::println!("int8 {=usize} bytes", LAYOUT.total_bytes());
    let mut net = QuantNet::new(model, 1, buffers.bytes, buffers.words, buffers.multipliers)?;
    let data = Synthetic::new(
        FrameSpec::new(CONFIG.input.h, CONFIG.input.w)?,
        SETTINGS.seed,
        Split::HeldOut,
    );
    for i in 0..SETTINGS.predict {
        data.frame_u8(u64::from(i), frame)?;
        let mut out = [0.0f32];
        net.forward(frame, &mut out)?;
        defmt::println!("predict {=u32} {=u32:x}", i, out[0].to_bits());
    }
    Ok(())
}
