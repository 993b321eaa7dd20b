//! The `defmt` global logger over RISC-V semihosting: each frame, rzCOBS-encoded by
//! `defmt::Encoder`, is written to the host's stdout with `SYS_WRITE` (binary-safe), where
//! `defmt-print` decodes it. No ready-made crate does this for RISC-V with `riscv-semihosting`;
//! it is the same shape as `defmt-semihosting` on Cortex-M.
#![allow(unsafe_code)]

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

use riscv_semihosting::hio::{self, HostStream};

#[defmt::global_logger]
struct Logger;

/// The logger's state, touched only inside the critical section `acquire` opens.
struct State {
    taken: AtomicBool,
    restore: UnsafeCell<critical_section::RestoreState>,
    encoder: UnsafeCell<defmt::Encoder>,
    stdout: UnsafeCell<Option<HostStream>>,
}

// SAFETY: every cell is accessed between `acquire` and `release` only, inside one critical
// section, and `taken` refuses re-entry.
unsafe impl Sync for State {}

static STATE: State = State {
    taken: AtomicBool::new(false),
    restore: UnsafeCell::new(critical_section::RestoreState::invalid()),
    encoder: UnsafeCell::new(defmt::Encoder::new()),
    stdout: UnsafeCell::new(None),
};

/// Writes encoded bytes to the host's stdout, opening it on first use. A failed write loses
/// the frame: there is nowhere left to report it.
fn write(bytes: &[u8]) {
    // SAFETY: called only from within the logger's critical section (see `State`).
    let stdout = unsafe { &mut *STATE.stdout.get() };
    if stdout.is_none() {
        *stdout = hio::hstdout().ok();
    }
    if let Some(out) = stdout {
        let _ = out.write_all(bytes);
    }
}

// SAFETY: `acquire`/`release` bracket every frame in a critical section, and re-entry (a log
// call from inside a log call) panics instead of interleaving frames.
unsafe impl defmt::Logger for Logger {
    fn acquire() {
        // SAFETY: paired with `critical_section::release` in `release`.
        let restore = unsafe { critical_section::acquire() };
        if STATE.taken.load(Ordering::Relaxed) {
            panic!("defmt logger taken reentrantly");
        }
        STATE.taken.store(true, Ordering::Relaxed);
        // SAFETY: inside the critical section, with `taken` set.
        unsafe {
            STATE.restore.get().write(restore);
            (*STATE.encoder.get()).start_frame(write);
        }
    }

    unsafe fn flush() {
        // SYS_WRITE is synchronous: nothing is buffered.
    }

    unsafe fn release() {
        // SAFETY: `acquire` ran before, so we are inside its critical section.
        unsafe {
            (*STATE.encoder.get()).end_frame(write);
            STATE.taken.store(false, Ordering::Relaxed);
            critical_section::release(STATE.restore.get().read());
        }
    }

    unsafe fn write(bytes: &[u8]) {
        // SAFETY: between `acquire` and `release`.
        unsafe { (*STATE.encoder.get()).write(bytes, write) }
    }
}
