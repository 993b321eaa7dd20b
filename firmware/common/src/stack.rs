//! Peak stack use by painting: fill the free stack with a pattern at boot, find the lowest word
//! that no longer holds it at the end.
#![allow(unsafe_code)]

/// The paint: a word no frame is likely to hold by chance.
const PAINT: u32 = 0xDEAD_BEEF;

/// Bytes left unpainted below the caller's frame, for [`paint`]'s own frame.
const MARGIN: usize = 256;

/// Paints the words from `bottom` (the lowest stack address, the end of the statics) up to a
/// little below the current stack pointer; returns the painted bytes.
///
/// # Safety
/// `bottom` must be word-aligned, and every address from `bottom` to the current stack pointer
/// must be unused RAM (the stack's free part): it is overwritten.
#[inline(never)]
pub unsafe fn paint(bottom: usize) -> usize {
    let here = 0u32;
    // The address of a local of this frame: the stack pointer, give or take this frame.
    let sp = core::ptr::addr_of!(here) as usize;
    let top = (sp - MARGIN) & !3;
    let mut p = bottom;
    while p < top {
        // SAFETY: the caller promises [bottom, sp) is free stack; `top` is below `sp`.
        unsafe { core::ptr::write_volatile(p as *mut u32, PAINT) };
        p += 4;
    }
    top.saturating_sub(bottom)
}

/// The deepest the stack reached since [`paint`]: bytes from `stack_top` down to the lowest word
/// that lost its paint.
///
/// # Safety
/// `bottom` must be the address given to [`paint`] and `stack_top` the stack's initial pointer.
pub unsafe fn peak(bottom: usize, stack_top: usize) -> usize {
    let mut p = bottom;
    // SAFETY: [bottom, stack_top) is this program's stack region, readable RAM.
    while p < stack_top && unsafe { core::ptr::read_volatile(p as *const u32) } == PAINT {
        p += 4;
    }
    stack_top - p
}

/// The end of a board's run: logs `result`'s error, the stack's peak against what was painted,
/// and whether the stack came within [`MARGIN`] bytes of `below` (what lies under the stack: the
/// statics or the heap). Returns `true` when the run succeeded and the stack kept clear.
///
/// # Safety
/// As [`peak`]: `bottom` was given to [`paint`] (which returned `painted`) and `top` is the
/// stack's initial pointer.
pub unsafe fn finish(
    result: Result<(), crate::Error>,
    bottom: usize,
    top: usize,
    painted: usize,
    below: &str,
) -> bool {
    let ok = match result {
        Ok(()) => true,
        Err(e) => {
            defmt::println!("error: {}", e);
            false
        }
    };
    // SAFETY: as the caller promises.
    let peak = unsafe { peak(bottom, top) };
    defmt::println!("stack {=usize} of {=usize}", peak, painted);
    let clear = peak + MARGIN < top - bottom;
    if !clear {
        defmt::println!("error: the stack reached the {=str}", below);
    }
    defmt::println!("done");
    ok && clear
}
