//! LRN forward and backward in AVX-512, with the kernels' bits: [`lrn_f32`] and
//! [`lrn_backward_factored_f32`] computed 16 channels at a time.
//!
//! The kernels' LRN is portable Rust that LLVM widens to 8 lanes (the host build targets AVX2);
//! each channel's window sum re-squares its `2r + 1` inputs, and `norm^−β` costs two square roots
//! and a division per channel. Here a pixel's squares are computed once into a zero-padded row on
//! the stack, every window sum is `2r + 1` unaligned loads and additions in ascending channel
//! order, and the square roots and divisions run on 16 lanes. Every operation is the one the
//! kernels perform, in their order and without fused multiply-adds, so the results are the same
//! bits (the tests hold both passes to the kernels' bit for bit): the padding adds `+0.0` to a
//! square sum that starts at `+0.0`, and `−0.0` (the identity of addition) to the backward
//! window sums that start at `−0.0`.
//!
//! The passes cover the seed's LRN (β = 0.75) on rows of at most [`MAX_CHANNELS`] channels with
//! a depth radius of at most [`MAX_RADIUS`] (after clipping to the row); [`supports`] says
//! which layers, and the caller keeps the kernels' code for the others and for CPUs without
//! AVX-512F.
//!
//! [`lrn_f32`]: kernels::lrn::lrn_f32
//! [`lrn_backward_factored_f32`]: kernels::lrn::lrn_backward_factored_f32
#![allow(unsafe_code)]

use kernels::lrn::{Lrn, FACTORED_MAX_CHANNELS};

/// The widest row the passes take: the kernels' factored gradient is defined up to this width.
pub const MAX_CHANNELS: usize = FACTORED_MAX_CHANNELS;

/// The largest depth radius (clipped to `channels − 1`) the passes take: the zero padding on
/// either side of a row on the stack.
pub const MAX_RADIUS: usize = LANES;

/// `f32` lanes of one zmm register.
const LANES: usize = 16;

/// Whether the passes take LRN `g` on this CPU: AVX-512F, β = 0.75 (the kernels' `1 / (√u·√√u)`),
/// at most [`MAX_CHANNELS`] channels and a clipped radius of at most [`MAX_RADIUS`].
pub fn supports(g: &Lrn) -> bool {
    let c = g.channels();
    let radius = g.depth_radius().min(c.saturating_sub(1));
    avx512f() && g.beta() == 0.75 && (1..=MAX_CHANNELS).contains(&c) && radius <= MAX_RADIUS
}

/// Whether this CPU runs AVX-512F.
fn avx512f() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// [`lrn_f32`](kernels::lrn::lrn_f32) over the whole rows of `input` (`g.channels()` values
/// each) into `output`, with the same bits.
///
/// # Panics
/// If [`supports`] is false for `g`, or the slices' lengths differ or are not whole rows.
pub fn forward(g: &Lrn, input: &[f32], output: &mut [f32]) {
    check(g, &[input.len(), output.len()]);
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `supports` checked that the CPU runs AVX-512F; the slices are whole rows of one
    // length (checked), which is all `x86::forward` indexes.
    unsafe {
        x86::forward(g, input, output)
    }
}

/// [`lrn_backward_factored_f32`](kernels::lrn::lrn_backward_factored_f32) over the whole rows of
/// `input`, `d_output` and `d_input`, with the same bits; then, if `relu`,
/// [`relu_backward_f32`](kernels::activation::relu_backward_f32)`(input, d_input)` in the same
/// pass (the gradient of the ReLU whose output `input` is), with its bits.
///
/// # Panics
/// If [`supports`] is false for `g`, or the slices' lengths differ or are not whole rows.
pub fn backward(g: &Lrn, input: &[f32], d_output: &[f32], relu: bool, d_input: &mut [f32]) {
    check(g, &[input.len(), d_output.len(), d_input.len()]);
    #[cfg(target_arch = "x86_64")]
    // SAFETY: as in `forward`.
    unsafe {
        if relu {
            x86::backward::<true>(g, input, d_output, d_input)
        } else {
            x86::backward::<false>(g, input, d_output, d_input)
        }
    }
    // Elsewhere `check` has panicked: nothing is supported.
    #[cfg(not(target_arch = "x86_64"))]
    let _ = relu;
}

/// Asserts that the passes take `g` and that every length is the same whole number of rows.
fn check(g: &Lrn, lens: &[usize]) {
    assert!(supports(g), "lrn_avx512: this CPU or LRN is not supported");
    let c = g.channels();
    assert!(
        lens.iter().all(|&n| n == lens[0] && n % c == 0),
        "lrn_avx512: slices of {lens:?} values are not the same whole rows of {c}"
    );
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Lrn, LANES, MAX_CHANNELS, MAX_RADIUS};

    /// A padded row on the stack: `MAX_RADIUS` values, the row rounded up to whole registers,
    /// and `MAX_RADIUS` values again.
    const PADDED: usize = MAX_RADIUS + MAX_CHANNELS + MAX_RADIUS;
    use crate::stream;
    use core::arch::x86_64::*;

    /// The mask of the lanes of register `i` that lie inside a row of `c` channels.
    #[inline]
    fn lanes(i: usize, c: usize) -> __mmask16 {
        let n = (c - i * LANES).min(LANES);
        ((1u32 << n) - 1) as __mmask16
    }

    /// The geometry of a pass: channels, registers per row, clipped radius.
    #[inline]
    fn shape(g: &Lrn) -> (usize, usize, usize) {
        let c = g.channels();
        (c, c.div_ceil(LANES), g.depth_radius().min(c - 1))
    }

    /// Squares row `x` into `sq[MAX_RADIUS..]`, zero in the lanes past the row.
    ///
    /// # Safety
    /// `x.len() == c`, `c ≤ MAX_CHANNELS`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn squares(x: &[f32], c: usize, regs: usize, sq: &mut [f32; PADDED]) {
        for i in 0..regs {
            // SAFETY: the mask keeps the load inside `x`; the store ends at
            // MAX_RADIUS + regs·16 ≤ PADDED − MAX_RADIUS.
            unsafe {
                let v = _mm512_maskz_loadu_ps(lanes(i, c), x.as_ptr().add(i * LANES));
                _mm512_storeu_ps(
                    sq.as_mut_ptr().add(MAX_RADIUS + i * LANES),
                    _mm512_mul_ps(v, v),
                );
            }
        }
    }

    /// The window sums of register `i`: `Σ_{o=0}^{2r} row[i·16 + lane − r + o]` from `start`,
    /// ascending, `row` the padded buffer.
    ///
    /// # Safety
    /// `r ≤ MAX_RADIUS`, `i < regs` of a row of at most `MAX_CHANNELS`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn window(row: &[f32; PADDED], i: usize, r: usize, start: __m512) -> __m512 {
        let mut s = start;
        // SAFETY: the loads span [MAX_RADIUS + 16i − r, MAX_RADIUS + 16i + 15 + r] ⊂ [0, PADDED).
        unsafe {
            let base = row.as_ptr().add(MAX_RADIUS + i * LANES - r);
            for o in 0..=2 * r {
                s = _mm512_add_ps(s, _mm512_loadu_ps(base.add(o)));
            }
        }
        s
    }

    /// `norm = alpha · sum + bias` and `norm^−0.75 = 1 / (√norm · √√norm)`, as the kernels round.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn norm_and_power(sum: __m512, alpha: __m512, bias: __m512) -> (__m512, __m512) {
        let norm = _mm512_add_ps(_mm512_mul_ps(alpha, sum), bias);
        let root = _mm512_sqrt_ps(norm);
        let pow = _mm512_div_ps(
            _mm512_set1_ps(1.0),
            _mm512_mul_ps(root, _mm512_sqrt_ps(root)),
        );
        (norm, pow)
    }

    /// How far ahead of the row being computed its rows are prefetched, at least: 4 KiB, eight
    /// rows of 128 channels (4, 16 and 64 KiB measured alike). Prefetching the outputs for
    /// writing too saved their read-for-ownership stall (see [`crate::stream`]).
    const AHEAD: usize = 4096;

    /// Values from one row to the row prefetched with it: whole rows, at least [`AHEAD`] bytes.
    #[inline]
    fn ahead(c: usize) -> usize {
        AHEAD.div_ceil(4 * c) * c
    }

    /// Row `at..at + c` of `data`, if `data` holds it.
    #[inline]
    fn row(data: &[f32], at: usize, c: usize) -> Option<&[f32]> {
        data.get(at..at.checked_add(c)?)
    }

    /// See [`super::forward`].
    ///
    /// # Safety
    /// The CPU runs AVX-512F; `g` passes [`super::supports`]; `input` and `output` are the same
    /// whole rows.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn forward(g: &Lrn, input: &[f32], output: &mut [f32]) {
        let (c, regs, r) = shape(g);
        let (alpha, bias) = (_mm512_set1_ps(g.alpha()), _mm512_set1_ps(g.bias()));
        // +0.0 padding: a square sum starts at +0.0, and +0.0 + +0.0 = +0.0.
        let mut sq = [0.0f32; PADDED];
        let ahead = ahead(c);
        for at in (0..input.len()).step_by(c) {
            let x = &input[at..at + c];
            let (y, later) = output[at..].split_at_mut(c);
            if let Some(next) = row(input, at + ahead, c) {
                stream::prefetch(next);
            }
            if let Some(next) = row(later, ahead - c, c) {
                stream::prefetch_for_write(next);
            }
            // SAFETY: the caller's promises; every masked access stays inside its row.
            unsafe {
                squares(x, c, regs, &mut sq);
                for i in 0..regs {
                    let m = lanes(i, c);
                    let sum = window(&sq, i, r, _mm512_setzero_ps());
                    let (_, pow) = norm_and_power(sum, alpha, bias);
                    let xv = _mm512_maskz_loadu_ps(m, x.as_ptr().add(i * LANES));
                    _mm512_mask_storeu_ps(y.as_mut_ptr().add(i * LANES), m, _mm512_mul_ps(xv, pow));
                }
            }
        }
    }

    /// See [`super::backward`].
    ///
    /// # Safety
    /// The CPU runs AVX-512F; `g` passes [`super::supports`]; the three slices are the same whole
    /// rows.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn backward<const RELU: bool>(
        g: &Lrn,
        input: &[f32],
        d_output: &[f32],
        d_input: &mut [f32],
    ) {
        let (c, regs, r) = shape(g);
        let (alpha, bias) = (_mm512_set1_ps(g.alpha()), _mm512_set1_ps(g.bias()));
        let ab2 = _mm512_set1_ps(g.alpha_beta_2());
        let neg_zero = _mm512_set1_ps(-0.0);
        let mut sq = [0.0f32; PADDED];
        // −0.0 padding: the window sums start at −0.0 and −0.0 is the identity of addition, so
        // the padding adds nothing, as the kernels add nothing beyond the row.
        let mut shares = [-0.0f32; PADDED];
        let ahead = ahead(c);
        for at in (0..input.len()).step_by(c) {
            let (x, dy) = (&input[at..at + c], &d_output[at..at + c]);
            let (dx, later) = d_input[at..].split_at_mut(c);
            if let Some(next) = row(input, at + ahead, c) {
                stream::prefetch(next);
            }
            if let Some(next) = row(d_output, at + ahead, c) {
                stream::prefetch(next);
            }
            if let Some(next) = row(later, ahead - c, c) {
                stream::prefetch_for_write(next);
            }
            // SAFETY: the caller's promises; every masked access stays inside its row, and the
            // buffers' accesses inside them (see `squares` and `window`).
            unsafe {
                squares(x, c, regs, &mut sq);
                // Per channel: its own term into dx, its window share into `shares`.
                for i in 0..regs {
                    let m = lanes(i, c);
                    let (norm, pow) =
                        norm_and_power(window(&sq, i, r, _mm512_setzero_ps()), alpha, bias);
                    let xv = _mm512_maskz_loadu_ps(m, x.as_ptr().add(i * LANES));
                    let d = _mm512_maskz_loadu_ps(m, dy.as_ptr().add(i * LANES));
                    let own = _mm512_mul_ps(pow, d);
                    let share = _mm512_mul_ps(
                        _mm512_div_ps(_mm512_mul_ps(ab2, _mm512_mul_ps(xv, pow)), norm),
                        d,
                    );
                    // Where dy is ±0 (LRNGrad skips it) both are +0.0; past the row the share is
                    // −0.0 padding.
                    let live = _mm512_cmp_ps_mask::<_CMP_NEQ_UQ>(d, _mm512_setzero_ps());
                    let share = _mm512_mask_blend_ps(m, neg_zero, _mm512_maskz_mov_ps(live, share));
                    _mm512_mask_storeu_ps(
                        dx.as_mut_ptr().add(i * LANES),
                        m,
                        _mm512_maskz_mov_ps(live, own),
                    );
                    _mm512_storeu_ps(shares.as_mut_ptr().add(MAX_RADIUS + i * LANES), share);
                }
                // dx[k] += x[k] · Σ_{j ∈ window(k)} share[j], the sum ascending from −0.0.
                for i in 0..regs {
                    let m = lanes(i, c);
                    let sum = window(&shares, i, r, neg_zero);
                    let xv = _mm512_maskz_loadu_ps(m, x.as_ptr().add(i * LANES));
                    let at = dx.as_mut_ptr().add(i * LANES);
                    let own = _mm512_maskz_loadu_ps(m, at);
                    let mut grad = _mm512_add_ps(own, _mm512_mul_ps(xv, sum));
                    if RELU {
                        // ReluGrad: times 1.0 where the ReLU's output is > 0, else 0.0 (NaN off).
                        let on = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(xv, _mm512_setzero_ps());
                        grad = _mm512_mul_ps(grad, _mm512_maskz_mov_ps(on, _mm512_set1_ps(1.0)));
                    }
                    _mm512_mask_storeu_ps(at, m, grad);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernels::activation::relu_backward_f32;
    use kernels::lrn::{lrn_backward_factored_f32, lrn_f32};
    use kernels::rng::Rng;

    /// Values in [-3, 3) scaled by mixed magnitudes (so any change of summation order would
    /// round differently), with zeros; `special` adds ±∞ and NaN.
    fn values(n: usize, seed: u64, special: bool) -> Vec<f32> {
        let mut rng = Rng::new(seed, 7);
        let mut v: Vec<f32> = (0..n)
            .map(|i| (6.0 * rng.next_f32() - 3.0) * [1.0, 1e-3, 1e3, 0.1, 0.0][i % 5])
            .collect();
        if special && n > 40 {
            (v[3], v[17], v[40]) = (f32::INFINITY, f32::NAN, f32::NEG_INFINITY);
        }
        v
    }

    fn same_bits(got: &[f32], want: &[f32], what: &str) {
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
                "{what}: value {i}: {g:e} vs the kernels' {w:e}"
            );
        }
    }

    /// Both passes give the kernels' bits over widths inside and across registers, radii from 0
    /// to the largest taken (and a radius wider than the row), the seed's and a strong alpha,
    /// with zeros, signed zero gradients and non-finite values.
    #[test]
    fn both_passes_have_the_kernels_bits() {
        if !avx512f() {
            println!("not checked: this CPU has no AVX-512F (the kernels' LRN runs instead)");
            return;
        }
        for c in [1, 2, 7, 16, 17, 33, 64, 100, 128, 255, 256] {
            for radius in [0, 1, 4, 5, 15, 16, 300] {
                for (alpha, bias) in [(0.001 / 9.0, 1.0), (0.5, 2.0)] {
                    let g = Lrn::new(c, radius, bias, alpha, 0.75).unwrap();
                    if !supports(&g) {
                        assert!(radius.min(c - 1) > MAX_RADIUS, "c={c} r={radius}");
                        continue;
                    }
                    let rows = 5;
                    let x = values(rows * c, c as u64, c > 40);
                    let mut dy = values(rows * c, 99 + radius as u64, false);
                    dy.iter_mut().step_by(7).for_each(|v| *v = -0.0);
                    let what = format!("c={c} r={radius} alpha={alpha}");

                    let (mut want, mut got) = (vec![0.0; x.len()], vec![f32::NAN; x.len()]);
                    lrn_f32(&g, rows, &x, &mut want).unwrap();
                    forward(&g, &x, &mut got);
                    same_bits(&got, &want, &format!("forward {what}"));

                    lrn_backward_factored_f32(&g, rows, &x, &dy, &mut want).unwrap();
                    got.fill(f32::NAN);
                    backward(&g, &x, &dy, false, &mut got);
                    same_bits(&got, &want, &format!("backward {what}"));

                    // With the ReLU before it: its gradient in the same pass, the same bits
                    // as the kernels' separate pass (x holds negatives, zeros and a NaN).
                    relu_backward_f32(&x, &mut want).unwrap();
                    got.fill(f32::NAN);
                    backward(&g, &x, &dy, true, &mut got);
                    same_bits(&got, &want, &format!("backward + ReLU {what}"));
                }
            }
        }
    }

    #[test]
    fn other_betas_and_wide_rows_are_left_to_the_kernels() {
        let lrn = |c, r, beta| Lrn::new(c, r, 1.0, 0.1, beta).unwrap();
        assert!(!supports(&lrn(64, 4, 0.5)));
        assert!(!supports(&lrn(MAX_CHANNELS + 1, 4, 0.75)));
        assert!(!supports(&lrn(64, MAX_RADIUS + 1, 0.75)));
        // A radius beyond the row is clipped to it.
        assert_eq!(supports(&lrn(8, 1000, 0.75)), avx512f());
    }
}
