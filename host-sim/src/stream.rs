//! Memory hints for the host's memory-bound passes (max-pool, LRN).
//!
//! Copies that bypass the caches: a layer's output that is written once and read only by the
//! next layer, tens of megabytes later, need not be read into the cache first (a plain store
//! to a line not in cache fetches it: a third more memory traffic for a pass that writes as
//! much as it reads). Prefetches of what a pass reads or writes next: on this project's
//! reference machine the hardware prefetcher alone kept too few lines in flight for passes
//! that do real work per line (LRN ran 2.5× slower per value on maps too big for the cache
//! than on cached ones), and a first write to a line that is not cached waits to read it.
#![allow(unsafe_code)]

use std::arch::x86_64::{
    _mm_loadu_ps, _mm_prefetch, _mm_sfence, _mm_stream_ps, _MM_HINT_ET0, _MM_HINT_T0,
};

/// `dst = src`, the 64-byte lines of `dst` written with non-temporal stores (SSE's `movntps`,
/// on every x86-64 CPU); the unaligned head and tail with plain stores.
/// Ends with a store fence, so the values are visible to any thread that later synchronises
/// with this one (rayon's join does).
///
/// # Panics
/// If the lengths differ.
pub(crate) fn copy(dst: &mut [f32], src: &[f32]) {
    assert_eq!(dst.len(), src.len(), "stream::copy lengths");
    const LINE: usize = 16;
    // Values before the first 64-byte boundary of `dst` (f32s are 4-byte aligned).
    let head = dst.as_ptr().align_offset(64).min(dst.len());
    let lines = (dst.len() - head) / LINE;
    let (d_head, d_rest) = dst.split_at_mut(head);
    let (s_head, s_rest) = src.split_at(head);
    d_head.copy_from_slice(s_head);
    let (d_lines, d_tail) = d_rest.split_at_mut(lines * LINE);
    let (s_lines, s_tail) = s_rest.split_at(lines * LINE);
    for (d, s) in d_lines
        .chunks_exact_mut(LINE)
        .zip(s_lines.chunks_exact(LINE))
    {
        for q in 0..4 {
            // SAFETY: `d` and `s` hold 16 values, so `4q..4q + 4` is inside both; `d` starts
            // on a 64-byte boundary (the split above), so `d + 4q` is 16-byte aligned as
            // `movntps` needs. SSE is part of x86-64.
            unsafe {
                let v = _mm_loadu_ps(s.as_ptr().add(4 * q));
                _mm_stream_ps(d.as_mut_ptr().add(4 * q), v);
            }
        }
    }
    d_tail.copy_from_slice(s_tail);
    // SAFETY: a fence has no memory operands. It orders the non-temporal stores before any
    // later store (the one that tells another thread this work is done).
    unsafe { _mm_sfence() };
}

/// Asks for the 64-byte lines holding `x` to be brought into the caches to be read (SSE's
/// `prefetcht0`): what a pass reads next, while it works on the current data.
#[inline(always)]
pub(crate) fn prefetch(x: &[f32]) {
    lines::<_MM_HINT_T0>(x);
}

/// Asks for the 64-byte lines holding `x` to be brought into the caches owned, to be written
/// (`prefetchw`): the store that comes later does not wait to read the line first.
#[inline(always)]
pub(crate) fn prefetch_for_write(x: &[f32]) {
    lines::<_MM_HINT_ET0>(x);
}

/// One prefetch of kind `HINT` per 64-byte line of `x`.
#[inline(always)]
fn lines<const HINT: i32>(x: &[f32]) {
    for line in x.chunks(16) {
        // SAFETY: a prefetch is a hint: it never faults and changes no value; the address is
        // inside `x` anyway. SSE is part of x86-64.
        unsafe { _mm_prefetch::<HINT>(line.as_ptr().cast()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_every_value_at_every_alignment_and_length() {
        // Reference: the source itself; offsets 0..16 put the 64-byte boundary anywhere.
        let src: Vec<f32> = (0..200).map(|i| i as f32 * 0.5 - 7.0).collect();
        let mut dst = vec![f32::NAN; 240];
        for offset in 0..16 {
            for len in [0, 1, 15, 16, 17, 31, 33, 64, 100, 200] {
                dst.fill(f32::NAN);
                copy(&mut dst[offset..offset + len], &src[..len]);
                assert_eq!(&dst[offset..offset + len], &src[..len], "{offset} {len}");
                assert!(dst[..offset].iter().all(|v| v.is_nan()));
                assert!(dst[offset + len..].iter().all(|v| v.is_nan()));
            }
        }
    }
}
