//! TINY on a Cortex-M4F (QEMU `mps2-an386`): trains, predicts with the int8 model, logs through
//! `defmt` over semihosting and exits with the run's status. Its memory is all static (the
//! arena, the frame, W₀ sharing its place with the int8 buffers), so the linker
//! checks the 256 KiB budget.
#![no_std]
#![no_main]

use core::ptr::addr_of_mut;

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::SYST;
use cortex_m_rt::entry;
use cortex_m_semihosting::debug::{self, EXIT_FAILURE, EXIT_SUCCESS};
use defmt_semihosting as _;
use kernels::quant::QuantizedMultiplier;
use valence_board::{infer, stack, Counter, ARENA_LEN, FRAME_LEN, PARAMS};

static mut ARENA: [f32; ARENA_LEN] = [0.0; ARENA_LEN];
static mut FRAME: [u8; FRAME_LEN] = [0; FRAME_LEN];

const INT8_BYTES: usize = infer::LAYOUT.bytes_len();
const INT8_WORDS: usize = infer::LAYOUT.words_len();
/// `u32`s of [`PHASE`]: room for W₀ or for the int8 bytes (rounded up to words) and words.
const PHASE_LEN: usize = {
    let int8 = INT8_BYTES.div_ceil(4) + INT8_WORDS;
    if int8 > PARAMS {
        int8
    } else {
        PARAMS
    }
};
/// W₀ while training, then the int8 network's bytes and words: never needed together, and
/// 256 KiB has no room for both (30 KB and 34 KB).
static mut PHASE: [u32; PHASE_LEN] = [0; PHASE_LEN];
static mut INT8_MULTIPLIERS: [QuantizedMultiplier; infer::LAYOUT.multipliers_len()] =
    [QuantizedMultiplier::ZERO; infer::LAYOUT.multipliers_len()];

extern "C" {
    /// The lowest stack address (the end of the statics), from cortex-m-rt's `link.x`.
    static _stack_end: u32;
    /// The initial stack pointer, the top of RAM.
    static _stack_start: u32;
}

/// SysTick counts the processor clock down from 2^24 − 1; under `-icount shift=0` one
/// instruction takes 1 ns and the mps2 clock is 25 MHz, so a tick is 40 instructions.
const INSTRUCTIONS_PER_TICK: u64 = 40;
const RELOAD: u32 = (1 << 24) - 1;

/// Instructions from SysTick: ticks × 40, with the 24-bit counter's wraps folded in (reads must
/// be less than 2^24 ticks, 671 M instructions, apart: one layer is far less).
struct SysTickCounter {
    syst: SYST,
    last: u32,
    ticks: u64,
}

impl SysTickCounter {
    fn start(mut syst: SYST) -> Self {
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(RELOAD);
        syst.clear_current();
        syst.enable_counter();
        let last = SYST::get_current();
        Self {
            syst,
            last,
            ticks: 0,
        }
    }
}

impl Counter for SysTickCounter {
    fn instructions(&mut self) -> u64 {
        let _ = &self.syst; // owned, so nothing else reconfigures the timer
        let now = SYST::get_current();
        // Counting down: elapsed = last − now, modulo the 24-bit period.
        self.ticks += u64::from(self.last.wrapping_sub(now) & RELOAD);
        self.last = now;
        self.ticks * INSTRUCTIONS_PER_TICK
    }
}

#[entry]
fn main() -> ! {
    // Linker symbols: only their addresses are used.
    let (bottom, top) = (
        core::ptr::addr_of!(_stack_end) as usize,
        core::ptr::addr_of!(_stack_start) as usize,
    );
    // SAFETY: from the end of the statics up to the current stack pointer is free stack.
    let painted = unsafe { stack::paint(bottom) };
    let Some(peripherals) = cortex_m::Peripherals::take() else {
        defmt::println!("error: the core peripherals were already taken");
        exit(EXIT_FAILURE);
    };
    let mut counter = SysTickCounter::start(peripherals.SYST);
    // SAFETY: `main` runs once and nothing else touches these statics: each becomes one
    // exclusive reference for the whole run.
    let (arena, frame, phase, multipliers) = unsafe {
        (
            &mut *addr_of_mut!(ARENA),
            &mut *addr_of_mut!(FRAME),
            &mut *addr_of_mut!(PHASE),
            &mut *addr_of_mut!(INT8_MULTIPLIERS),
        )
    };
    let w0: &mut [f32] = bytemuck::cast_slice_mut(&mut phase[..PARAMS]);
    let result = valence_board::train("cortex-m4", arena, frame, w0, &mut counter).and_then(|()| {
        let (bytes, words) = phase.split_at_mut(INT8_BYTES.div_ceil(4));
        let bytes: &mut [i8] = bytemuck::cast_slice_mut(bytes);
        let int8 = infer::Buffers {
            bytes: &mut bytes[..INT8_BYTES],
            words: bytemuck::cast_slice_mut(&mut words[..INT8_WORDS]),
            multipliers,
        };
        infer::predict(int8, frame)
    });
    // SAFETY: the region painted above, and the stack's top.
    let ok = unsafe { stack::finish(result, bottom, top, painted, "statics") };
    let status = if ok { EXIT_SUCCESS } else { EXIT_FAILURE };
    exit(status);
}

/// Ends the program with `status` (QEMU exits with it); on a real board without a debugger
/// attached, sleeps instead.
fn exit(status: debug::ExitStatus) -> ! {
    debug::exit(status);
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    defmt::println!("panic: {}", defmt::Display2Format(info));
    exit(EXIT_FAILURE)
}
