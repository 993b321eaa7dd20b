//! TINY on a RISC-V rv32imac (QEMU `virt`, no FPU: every float operation is a soft-float call):
//! trains, predicts with the int8 model, logs through `defmt` over semihosting (the global
//! logger in [`logger`]) and exits with the run's status. Its buffers come from an
//! `embedded-alloc` heap that `memory.x` reserves inside the 256 KiB RAM region: the training
//! arena is freed before the int8 buffers are taken.
#![no_std]
#![no_main]

extern crate alloc;

mod logger;

use alloc::vec;

use embedded_alloc::LlffHeap as Heap;
use kernels::quant::QuantizedMultiplier;
use riscv_rt::entry;
use riscv_semihosting::debug::{self, EXIT_FAILURE, EXIT_SUCCESS};
use valence_board::{infer, stack, Counter, Error, ARENA_LEN, FRAME_LEN, PARAMS};

#[global_allocator]
static HEAP: Heap = Heap::empty();

extern "C" {
    /// The heap region riscv-rt's `link.x` reserves (`_heap_size` bytes, set in `memory.x`).
    static __sheap: u32;
    static __eheap: u32;
    /// The stack: from `__estack` (lowest) up to `_stack_start` (the initial stack pointer).
    static __estack: u32;
    static _stack_start: u32;
}

/// `minstret`: retired instructions, exact under QEMU `-icount`.
struct Minstret;

impl Counter for Minstret {
    fn instructions(&mut self) -> u64 {
        riscv::register::minstret::read64()
    }
}

fn run() -> Result<(), Error> {
    let mut frame = vec![0u8; FRAME_LEN];
    {
        let mut arena = vec![0.0f32; ARENA_LEN];
        let mut w0 = vec![0.0f32; PARAMS];
        valence_board::train("riscv32", &mut arena, &mut frame, &mut w0, &mut Minstret)?;
        // The arena and W₀ go back to the heap here, making room for the int8
        // buffers.
    }
    let l = infer::LAYOUT;
    let mut bytes = vec![0i8; l.bytes_len()];
    let mut words = vec![0i32; l.words_len()];
    let mut multipliers = vec![QuantizedMultiplier::ZERO; l.multipliers_len()];
    let buffers = infer::Buffers {
        bytes: &mut bytes,
        words: &mut words,
        multipliers: &mut multipliers,
    };
    infer::predict(buffers, &mut frame)
}

#[entry]
fn main() -> ! {
    // Linker symbols: only their addresses are used.
    let addr = |s: &u32| core::ptr::from_ref(s) as usize;
    // SAFETY: taking the address of an extern static reads nothing.
    let (heap_start, heap_end, bottom, top) = unsafe {
        (
            addr(&__sheap),
            addr(&__eheap),
            addr(&__estack),
            addr(&_stack_start),
        )
    };
    // SAFETY: from the stack's lowest address up to the current stack pointer is free stack.
    let painted = unsafe { stack::paint(bottom) };
    // SAFETY: called once, before any allocation, over the region link.x reserved for the heap.
    unsafe { HEAP.init(heap_start, heap_end - heap_start) };
    defmt::println!("heap {=usize} bytes", heap_end - heap_start);
    // SAFETY: the region painted above, and the stack's top.
    let ok = unsafe { stack::finish(run(), bottom, top, painted, "heap") };
    let status = if ok { EXIT_SUCCESS } else { EXIT_FAILURE };
    exit(status);
}

/// Ends the program with `status` (QEMU exits with it); on a real board without a debugger
/// attached, sleeps instead.
fn exit(status: debug::ExitStatus) -> ! {
    debug::exit(status);
    loop {
        riscv::asm::wfi();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    defmt::println!("panic: {}", defmt::Display2Format(info));
    exit(EXIT_FAILURE)
}
