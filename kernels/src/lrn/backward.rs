//! LRN backward, TensorFlow's CPU `LRNGrad`.

use super::{check_two, Lrn, BLOCK};
use crate::error::check_len;
use crate::KernelError;

/// The gradient of [`lrn_f32`](super::lrn_f32) with respect to its input, as TensorFlow's CPU
/// `LRNGrad` computes it. Overwrites `d_input`.
///
/// `norm` is recomputed from `input` (TensorFlow does the same rather than invert the output,
/// which is unstable for small inputs), and so is the forward output `y[j] = x[j]·norm[j]^−β`,
/// with the same bits as [`lrn_f32`](super::lrn_f32). Then, per row, `d_input` starts at 0 and
/// for each channel `j` in ascending order whose `d_output[j]` is non-zero, each `k` in `j`'s
/// window (ascending) receives
/// `d_input[k] += (x[k] · (−2αβ · y[j]) / norm[j] + [k = j]·norm[j]^−β) · d_output[j]`,
/// which is TensorFlow's order of operations and of accumulation.
///
/// Like TensorFlow, a zero `d_output[j]` is skipped, so it contributes nothing even where the
/// input is not finite.
///
/// # Errors
/// [`KernelError::Zero`] if `rows` is 0, [`KernelError::Overflow`] if `rows · channels`
/// overflows, [`KernelError::Length`] naming `input`, `d_output` or `d_input` when its length
/// is not `rows · channels`. Nothing is written on error.
pub fn lrn_backward_f32(
    g: &Lrn,
    rows: usize,
    input: &[f32],
    d_output: &[f32],
    d_input: &mut [f32],
) -> Result<(), KernelError> {
    backward::<false>(g, rows, input, d_output, d_input)
}

/// Channels up to which [`lrn_backward_factored_f32`] keeps a pixel's window terms on the
/// stack (2 KiB); wider layers take the per-term path with one division per channel.
pub const FACTORED_MAX_CHANNELS: usize = 256;

/// [`lrn_backward_f32`] with `x[k]` factored out of its window sum:
/// `d_input[k] = norm[k]^−β·dy[k] + x[k] · Σ_{j ∈ window(k)} q[j]` with
/// `q[j] = (−2αβ · y[j] / norm[j]) · dy[j]` (one division per channel, `q[j] = 0` where
/// `dy[j] == 0`, as `LRNGrad` skips those). TensorFlow multiplies, divides and adds each of a
/// channel's 2r + 1 terms separately; this does one addition per term, so the sums differ from
/// `LRNGrad`'s by roundings (within the golden tests' tolerances). A host's fast path; boards
/// keep the exact one. Layers wider than [`FACTORED_MAX_CHANNELS`] divide once per channel but
/// keep the per-term products.
///
/// # Errors
/// As [`lrn_backward_f32`]; nothing is written on error.
pub fn lrn_backward_factored_f32(
    g: &Lrn,
    rows: usize,
    input: &[f32],
    d_output: &[f32],
    d_input: &mut [f32],
) -> Result<(), KernelError> {
    let c = g.channels();
    if c > FACTORED_MAX_CHANNELS {
        return backward::<true>(g, rows, input, d_output, d_input);
    }
    let n = check_two(g, rows, "input", input.len(), "d_output", d_output.len())?;
    check_len("d_input", n, d_input.len())?;
    let ab2 = g.alpha_beta_2();
    let r = g.depth_radius().min(c - 1);
    let (mut norms, mut pows) = ([0.0f32; BLOCK], [0.0f32; BLOCK]);
    let (mut q, mut sums) = (
        [0.0f32; FACTORED_MAX_CHANNELS],
        [0.0f32; FACTORED_MAX_CHANNELS],
    );
    let (q, sums) = (&mut q[..c], &mut sums[..c]);
    for ((x, dy), dx) in input
        .chunks_exact(c)
        .zip(d_output.chunks_exact(c))
        .zip(d_input.chunks_exact_mut(c))
    {
        // Per channel: its own term into dx, its window share into q.
        for j0 in (0..c).step_by(BLOCK) {
            let len = BLOCK.min(c - j0);
            let (norms, pows) = (&mut norms[..len], &mut pows[..len]);
            g.norms(x, j0, norms);
            pows.copy_from_slice(norms);
            g.pow_neg_beta(pows);
            let block = (j0..j0 + len).zip(norms.iter().zip(pows.iter()));
            for (j, (&norm, &pow)) in block {
                let d = dy[j];
                let (own, share) = (pow * d, ab2 * (x[j] * pow) / norm * d);
                (dx[j], q[j]) = if d == 0.0 { (0.0, 0.0) } else { (own, share) };
            }
        }
        // Window sums, channels ascending within each: one vector pass per offset.
        sums.fill(-0.0);
        for o in (1..=r).rev() {
            for (s, &v) in sums[o..].iter_mut().zip(&q[..c - o]) {
                *s += v;
            }
        }
        for (s, &v) in sums.iter_mut().zip(q.iter()) {
            *s += v;
        }
        for o in 1..=r {
            for (s, &v) in sums[..c - o].iter_mut().zip(&q[o..]) {
                *s += v;
            }
        }
        for ((d, &xk), &s) in dx.iter_mut().zip(x).zip(sums.iter()) {
            *d += xk * s;
        }
    }
    Ok(())
}

/// The backward pass; `ONE_DIVISION` divides `−2αβ · y[j]` by `norm[j]` once per channel
/// (the wide layers of [`lrn_backward_factored_f32`]).
fn backward<const ONE_DIVISION: bool>(
    g: &Lrn,
    rows: usize,
    input: &[f32],
    d_output: &[f32],
    d_input: &mut [f32],
) -> Result<(), KernelError> {
    let n = check_two(g, rows, "input", input.len(), "d_output", d_output.len())?;
    check_len("d_input", n, d_input.len())?;
    let c = g.channels();
    let ab2 = g.alpha_beta_2();
    // Offsets beyond the depth add nothing: the window is clipped to the channels.
    let reach = g.depth_radius().min(c - 1);
    let mut norms = [0.0f32; BLOCK];
    let mut pows = [0.0f32; BLOCK];
    let mut scaled = [0.0f32; BLOCK];
    for ((x, dy), dx) in input
        .chunks_exact(c)
        .zip(d_output.chunks_exact(c))
        .zip(d_input.chunks_exact_mut(c))
    {
        dx.fill(0.0);
        for (j0, dy_block) in (0..).step_by(BLOCK).zip(dy.chunks(BLOCK)) {
            let len = dy_block.len();
            let (norms, pows, scaled) = (&mut norms[..len], &mut pows[..len], &mut scaled[..len]);
            g.norms(x, j0, norms);
            pows.copy_from_slice(norms);
            g.pow_neg_beta(pows);
            for ((a, &xj), &p) in scaled.iter_mut().zip(&x[j0..j0 + len]).zip(&*pows) {
                *a = ab2 * (xj * p);
            }
            if ONE_DIVISION {
                // `scaled` becomes `scaled / norm`, which the terms then only multiply.
                for (a, &n) in scaled.iter_mut().zip(norms.iter()) {
                    *a /= n;
                }
            }
            // One pass per window offset `o = k − j`, from `+reach` down to `−reach`: each
            // `d_input[k]` then receives its channels `j` in ascending order, as in the loop over
            // `j` outside and `k` inside that TensorFlow runs, and every pass is a vector loop
            // over the block's `j`.
            let terms = Terms {
                x,
                dy: dy_block,
                norms,
                pows,
                scaled,
                j0,
            };
            for o in (1..=reach).rev() {
                terms.add_to::<ONE_DIVISION>(dx, o, Offset::Above);
            }
            terms.add_to::<ONE_DIVISION>(dx, 0, Offset::Above);
            for o in 1..=reach {
                terms.add_to::<ONE_DIVISION>(dx, o, Offset::Below);
            }
        }
    }
    Ok(())
}

/// Whether a pass's `k` lies above (`k = j + o`) or below (`k = j − o`) its channel `j`.
#[derive(Clone, Copy)]
enum Offset {
    Above,
    Below,
}

/// One block of channels `j` of one pixel: what every `d_input[k]` it reaches needs.
struct Terms<'a> {
    /// The pixel's input, all channels.
    x: &'a [f32],
    /// The block's output gradients, `dy[i]` for channel `j0 + i`.
    dy: &'a [f32],
    /// The block's `norm[j]`.
    norms: &'a [f32],
    /// The block's `norm[j]^−β`.
    pows: &'a [f32],
    /// The block's `−2αβ · (x[j] · norm[j]^−β)`.
    scaled: &'a [f32],
    /// The block's first channel.
    j0: usize,
}

impl Terms<'_> {
    /// Adds, for every `j` of the block whose `k = j ± o` is a channel, `d_output[j]`'s
    /// share to `dx[k]`: `(x[k] · scaled[j] / norm[j] + [o = 0]·pow[j]) · dy[j]`, skipped (not
    /// added as a zero) where `dy[j] == 0`, as TensorFlow's `LRNGrad` skips it.
    /// With `DIVIDED`, `scaled` already holds `scaled / norm` and the share is
    /// `x[k] · scaled[j]`.
    #[inline(always)]
    fn add_to<const DIVIDED: bool>(&self, dx: &mut [f32], o: usize, side: Offset) {
        let (c, len) = (self.x.len(), self.dy.len());
        // The block's `i` (channel `j0 + i`) whose `k` lies in `[0, c)`.
        let (i0, i1) = match side {
            Offset::Above => (0, len.min((c - o).saturating_sub(self.j0))),
            Offset::Below => (o.saturating_sub(self.j0).min(len), len),
        };
        if i0 >= i1 {
            return;
        }
        let k0 = match side {
            Offset::Above => self.j0 + i0 + o,
            Offset::Below => self.j0 + i0 - o,
        };
        let n = i1 - i0;
        let own = o == 0;
        let channels = self.dy[i0..i1]
            .iter()
            .zip(&self.norms[i0..i1])
            .zip(&self.pows[i0..i1])
            .zip(&self.scaled[i0..i1]);
        let ks = dx[k0..k0 + n].iter_mut().zip(&self.x[k0..k0 + n]);
        for ((d, &xk), (((&gs, &norm), &pow), &scaled)) in ks.zip(channels) {
            let mut share = if DIVIDED {
                xk * scaled
            } else {
                xk * scaled / norm
            };
            if own {
                share += pow;
            }
            *d = if gs == 0.0 { *d } else { *d + share * gs };
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::forward::tests::{lrn_ref, PARAMS};
    use super::*;
    use crate::test_data::{self, draw_f32};
    use std::vec;
    use std::vec::Vec;

    /// The f64 analytic gradient, written plainly:
    /// `dx[k] = Σ_j dy[j]·([k = j]·N_j^−β − 2αβ·x_j·x_k·N_j^(−β−1))` over `k ∈ window(j)`.
    fn lrn_grad_ref(
        depth: usize,
        r: usize,
        (bias, alpha, beta): (f64, f64, f64),
        x: &[f64],
        dy: &[f64],
    ) -> Vec<f64> {
        let mut dx = vec![0.0; x.len()];
        for b in 0..x.len() / depth {
            let row = &x[b * depth..][..depth];
            for j in 0..depth {
                let lo = j.saturating_sub(r);
                let hi = (j + r).min(depth - 1);
                let s: f64 = (lo..=hi).map(|k| row[k] * row[k]).sum();
                let n = bias + alpha * s;
                for k in lo..=hi {
                    let mut v = -2.0 * alpha * beta * row[j] * row[k] * libm::pow(n, -beta - 1.0);
                    if k == j {
                        v += libm::pow(n, -beta);
                    }
                    dx[b * depth + k] += dy[b * depth + j] * v;
                }
            }
        }
        dx
    }

    fn to64(v: &[f32]) -> Vec<f64> {
        v.iter().map(|&a| f64::from(a)).collect()
    }

    type Pass = fn(&Lrn, usize, &[f32], &[f32], &mut [f32]) -> Result<(), KernelError>;

    #[test]
    fn matches_f64_analytic_gradient() {
        // Reference: f64 analytic gradient; tolerance 2e-6 + 1e-5·|b| (the f32 kernel sums up to
        // 11 terms of mixed sign).
        let mut rng = test_data::rng(2);
        for &(bias, alpha, beta) in &PARAMS {
            for r in 0..=5 {
                for depth in [1, 3, 8, 17] {
                    let g = Lrn::new(depth, r, bias, alpha, beta).unwrap();
                    let rows = 3;
                    let x = draw_f32(&mut rng, rows * depth, -3.0, 3.0);
                    let dy = draw_f32(&mut rng, rows * depth, -1.0, 1.0);
                    let p = (f64::from(bias), f64::from(alpha), f64::from(beta));
                    let want = lrn_grad_ref(depth, r, p, &to64(&x), &to64(&dy));
                    // The exact pass and the host's factored pass, same tolerance.
                    let passes: [Pass; 2] = [lrn_backward_f32, lrn_backward_factored_f32];
                    for pass in passes {
                        let mut dx = vec![f32::NAN; x.len()];
                        pass(&g, rows, &x, &dy, &mut dx).unwrap();
                        for (i, (&a, &b)) in dx.iter().zip(&want).enumerate() {
                            let a = f64::from(a);
                            assert!(
                                (a - b).abs() <= 2e-6 + 1e-5 * b.abs(),
                                "p={p:?} r={r} D={depth} i={i}: {a} vs {b}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_factored_pass_of_a_wide_layer_matches_the_f64_gradient() {
        // Beyond FACTORED_MAX_CHANNELS the factored pass divides once per channel and keeps the
        // per-term products; same reference and tolerance as above.
        let mut rng = test_data::rng(3);
        let depth = FACTORED_MAX_CHANNELS + 44;
        let g = Lrn::new(depth, 5, 1.0, 0.01, 0.75).unwrap();
        let x = draw_f32(&mut rng, 2 * depth, -3.0, 3.0);
        let dy = draw_f32(&mut rng, 2 * depth, -1.0, 1.0);
        let mut dx = vec![f32::NAN; x.len()];
        lrn_backward_factored_f32(&g, 2, &x, &dy, &mut dx).unwrap();
        let want = lrn_grad_ref(depth, 5, (1.0, 0.01, 0.75), &to64(&x), &to64(&dy));
        for (i, (&a, &b)) in dx.iter().zip(&want).enumerate() {
            let a = f64::from(a);
            assert!((a - b).abs() <= 2e-6 + 1e-5 * b.abs(), "i={i}: {a} vs {b}");
        }
    }

    #[test]
    fn finite_differences_of_the_f64_forward_agree() {
        // L = Σ w·lrn(x) with fixed random w; central differences of the f64 reference forward
        // with h = 1e-6; tolerance 1e-5 + 1e-4·|fd| against the f32 kernel.
        let mut rng = test_data::rng(3);
        for &(bias, alpha, beta) in &PARAMS {
            for (r, depth) in [(0, 3), (2, 5), (4, 9), (5, 3)] {
                let g = Lrn::new(depth, r, bias, alpha, beta).unwrap();
                let rows = 2;
                let x = draw_f32(&mut rng, rows * depth, -2.0, 2.0);
                let w = draw_f32(&mut rng, rows * depth, -1.0, 1.0);
                let mut dx = vec![f32::NAN; x.len()];
                lrn_backward_f32(&g, rows, &x, &w, &mut dx).unwrap();
                let (b64, a64, be64) = (f64::from(bias), f64::from(alpha), f64::from(beta));
                let loss = |x: &[f64]| -> f64 {
                    let y = lrn_ref(depth, r, b64, a64, be64, x);
                    y.iter().zip(&w).map(|(&y, &w)| y * f64::from(w)).sum()
                };
                let h = 1e-6;
                for i in 0..x.len() {
                    let mut xp = to64(&x);
                    xp[i] += h;
                    let mut xm = to64(&x);
                    xm[i] -= h;
                    let fd = (loss(&xp) - loss(&xm)) / (2.0 * h);
                    let a = f64::from(dx[i]);
                    assert!(
                        (a - fd).abs() <= 1e-5 + 1e-4 * fd.abs(),
                        "i={i}: {a} vs {fd}"
                    );
                }
            }
        }
    }

    /// TensorFlow's CPU `LRNGrad` loop as it is written there (`j` outside, `k` inside, one
    /// channel at a time), in f32 with its order of operations.
    fn lrn_grad_tf_loop(g: &Lrn, x: &[f32], dy: &[f32]) -> Vec<f32> {
        let c = g.channels();
        let mut dx = vec![0.0f32; x.len()];
        for ((x, dy), dx) in x.chunks(c).zip(dy.chunks(c)).zip(dx.chunks_mut(c)) {
            for j in 0..c {
                if dy[j] == 0.0 {
                    continue;
                }
                let norm = g.norm(x, j);
                let mut pow = [norm];
                g.pow_neg_beta(&mut pow);
                let a = g.alpha_beta_2() * (x[j] * pow[0]);
                let (lo, hi) = g.window(j);
                for k in lo..hi {
                    let mut v = x[k] * a / norm;
                    if k == j {
                        v += pow[0];
                    }
                    dx[k] += v * dy[j];
                }
            }
        }
        dx
    }

    #[test]
    fn same_bits_as_tensorflows_loop_order() {
        // Reference: TensorFlow's LRNGrad loop order (above), bit for bit: the offset-major
        // vector passes must sum every d_input[k] in the same order. Depths across the block
        // size, radii up to beyond the depth, values of mixed magnitude, zero gradients (skipped)
        // and, in one case, non-finite inputs.
        let mut rng = test_data::rng(4);
        for c in [1, 2, 5, 9, 63, 64, 65, 128, 130] {
            for r in [0, 1, 4, 5, 70, usize::MAX] {
                for &(bias, alpha, beta) in &PARAMS {
                    let g = Lrn::new(c, r, bias, alpha, beta).unwrap();
                    let rows = 2;
                    let mut x = draw_f32(&mut rng, rows * c, -3.0, 3.0);
                    let mut dy = draw_f32(&mut rng, rows * c, -1.0, 1.0);
                    for (i, (v, d)) in x.iter_mut().zip(dy.iter_mut()).enumerate() {
                        *v *= [1.0, 1e-3, 1e3, 0.1][i % 4];
                        if i % 7 == 3 {
                            *d = 0.0;
                        }
                    }
                    if c == 65 && r == 4 {
                        (x[0], x[30], x[64]) = (f32::INFINITY, f32::NAN, f32::NEG_INFINITY);
                        dy[1] = 0.0;
                    }
                    let mut dx = vec![f32::NAN; x.len()];
                    lrn_backward_f32(&g, rows, &x, &dy, &mut dx).unwrap();
                    let want = lrn_grad_tf_loop(&g, &x, &dy);
                    for (k, (a, b)) in dx.iter().zip(&want).enumerate() {
                        assert!(
                            a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                            "c={c} r={r} k={k}: {a:e} vs {b:e}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn zero_output_gradient_is_skipped_like_tensorflow() {
        // An infinite input whose window only gets zero gradients leaves d_input finite (0),
        // because TensorFlow skips d_output[j] == 0 instead of multiplying NaN by 0.
        let g = Lrn::new(3, 1, 1.0, 0.5, 0.75).unwrap();
        let x = [f32::INFINITY, 1.0, 2.0];
        let mut dx = [f32::NAN; 3];
        lrn_backward_f32(&g, 1, &x, &[0.0, 0.0, 0.0], &mut dx).unwrap();
        assert_eq!(dx, [0.0; 3]);
    }

    #[test]
    fn length_errors_leave_d_input_untouched() {
        let g = Lrn::new(4, 2, 1.0, 0.1, 0.75).unwrap();
        let x = [1.0f32; 8];
        let mut dx = [7.0f32; 8];
        let dy = [1.0f32; 9];
        for (xn, dyn_, dxn, arg, got) in [
            (7, 8, 8, "input", 7),
            (8, 9, 8, "d_output", 9),
            (8, 8, 6, "d_input", 6),
        ] {
            assert_eq!(
                lrn_backward_f32(&g, 2, &x[..xn], &dy[..dyn_], &mut dx[..dxn]),
                Err(KernelError::Length {
                    arg,
                    expected: 8,
                    got
                })
            );
        }
        assert_eq!(
            lrn_backward_f32(&g, 0, &x, &x, &mut dx),
            Err(KernelError::Zero { arg: "rows" })
        );
        assert!(dx.iter().all(|&v| v == 7.0));
    }
}
