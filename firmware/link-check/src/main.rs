//! Links the kernels into a bare-metal Cortex-M4F image. It is built, not run: the firmware
//! crates run the network under QEMU; this one only proves the crate links with no std.
#![no_std]
#![no_main]

use core::panic::PanicInfo;
use cortex_m_rt::entry;
use kernels::{Axis, Padding};

#[entry]
fn main() -> ! {
    // Touch the crate so its code is linked, with a value the optimiser cannot fold away.
    let input = core::hint::black_box(96usize);
    let axis = Axis::resolve(input, 5, 4, Padding::Same, "input", "k", "stride");
    core::hint::black_box(axis.is_ok());
    loop {
        core::hint::black_box(());
    }
}

#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    loop {
        core::hint::black_box(());
    }
}
