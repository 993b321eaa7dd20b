//! The keyword-spotting network of [`kernels::net::KWS`] trained on a Cortex-M4F board: the
//! table is data, the arena a `static` whose length the `const` plan gives, and a network that
//! does not fit the board's RAM fails to compile (the assertion below) — or, if the stack
//! allowance is wrong, to link (`memory.x` caps RAM at 256 KiB).
//!
//! `cargo run --release` boots it on QEMU (`mps2-an386`) and prints, over semihosting, the
//! arena's bytes and the loss of a few Adam steps on one synthetic example.
#![no_std]
#![no_main]

use core::panic::PanicInfo;
use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use kernels::net::{ArenaLayout, Inputs, Net, OptimizerKind, Targets, KWS};
use kernels::optim::Adam;
use kernels::rng::Rng;
use kernels::{KernelError, Portable};

/// One example per call (a board accumulates a batch one example at a time), Adam's state.
const LAYOUT: ArenaLayout = match ArenaLayout::training(&KWS, 1, OptimizerKind::Adam) {
    Ok(layout) => layout,
    Err(_) => panic!("KWS must be a valid network"),
};
/// `f32`s of the arena.
const ARENA_LEN: usize = LAYOUT.arena_len();
/// The board's RAM (`memory.x`) and the stack the kernels need beside the arena.
const RAM_BYTES: usize = 256 * 1024;
const STACK_BYTES: usize = 16 * 1024;
const _: () = assert!(
    LAYOUT.bytes() + STACK_BYTES <= RAM_BYTES,
    "KWS's Adam training arena must fit in the board's RAM"
);

/// The whole network's memory: parameters, gradients, Adam's moments, activations, scratch.
static mut ARENA: [f32; ARENA_LEN] = [0.0; ARENA_LEN];

/// One MFCC-like example: 49 frames × 10 coefficients.
const FEATURES: usize = 49 * 10;

#[entry]
fn main() -> ! {
    // SAFETY: `main` runs once, never returns, and is the only code that names ARENA, so this
    // is the one reference to it.
    let arena: &'static mut [f32] = unsafe { &mut *core::ptr::addr_of_mut!(ARENA) };
    hprintln!(
        "KWS training arena: {} f32 = {} bytes (batch 1, Adam; {} parameters)",
        ARENA_LEN,
        LAYOUT.bytes(),
        LAYOUT.params.len
    );
    let code = match train(arena) {
        Ok(()) => debug::EXIT_SUCCESS,
        Err(e) => {
            hprintln!("error: {}", e);
            debug::EXIT_FAILURE
        }
    };
    debug::exit(code);
    loop {
        core::hint::black_box(());
    }
}

/// A few Adam steps on one synthetic example of class 3, printing the loss after each.
fn train(arena: &mut [f32]) -> Result<(), KernelError> {
    let mut net = Net::training(&KWS, 1, OptimizerKind::Adam, arena)?;
    net.init_params(0)?;
    net.opt_state_mut().fill(0.0);
    let mut rng = Rng::new(0, 1);
    let mut x = [0.0f32; FEATURES];
    for v in &mut x {
        *v = rng.next_normal();
    }
    let adam = Adam::tf1(1e-3);
    for step in 1..=5 {
        net.zero_grads();
        let loss = net.train(
            &Portable,
            Inputs::F32(&x),
            Targets::Labels(&[3]),
            1,
            &mut (),
        )?;
        net.adam_step(&adam, step)?;
        hprintln!("step {} cross-entropy {}", step, loss);
    }
    Ok(())
}

#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    debug::exit(debug::EXIT_FAILURE);
    loop {
        core::hint::black_box(());
    }
}
