//! Local response normalisation across channels, TensorFlow's `tf.nn.lrn` and its `LRNGrad`.
//!
//! For every pixel (a *row* of `channels` values, NHWC), with `r` the depth radius:
//! `sqr_sum[d] = Σ_{d' = max(0, d − r)}^{min(D − 1, d + r)} x[d']²`,
//! `norm[d] = alpha · sqr_sum[d] + bias` and `out[d] = x[d] · norm[d]^−beta`.
//!
//! Every `sqr_sum` is summed afresh in ascending `d'` (no sliding window whose running
//! subtraction would make the bits depend on the position), in the order TensorFlow's
//! `LRNGrad` uses for its own `norm`. The depth radius in the seed is 4 and depths are at most
//! a few hundred, so the fresh sum costs at most `2r + 1` multiply-adds per value. The kernels
//! work on blocks of 64 channels whose norms and powers sit on the stack, so that those
//! sums, the square roots and the products run as vector loops.

mod backward;
mod forward;

pub use backward::{lrn_backward_f32, lrn_backward_factored_f32, FACTORED_MAX_CHANNELS};
pub use forward::lrn_f32;
pub(crate) use forward::lrn_with;

use crate::error::{check_len, mul, nonzero, KernelError};

/// Channels per block of the LRN passes: two arrays of this many f32 (512 B) on the stack.
const BLOCK: usize = 64;

/// An LRN layer's parameters, validated once.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Lrn {
    channels: usize,
    depth_radius: usize,
    bias: f32,
    alpha: f32,
    beta: f32,
    /// `−2 · alpha · beta`, rounded as TensorFlow's `LaunchLRNGrad` rounds it (left to right).
    alpha_beta_2: f32,
}

impl Lrn {
    /// Validates the parameters of `tf.nn.lrn(depth_radius, bias, alpha, beta)` over rows of
    /// `channels` values.
    ///
    /// A depth radius larger than the depth is fine: the window is clipped to the channels.
    ///
    /// # Errors
    /// [`KernelError::Zero`] naming `channels` when it is 0; [`KernelError::InvalidParam`]
    /// naming `bias` unless it is finite and `> 0` (it keeps `norm` away from 0), `alpha` unless
    /// finite and `≥ 0`, `beta` unless finite and `≥ 0`.
    pub const fn new(
        channels: usize,
        depth_radius: usize,
        bias: f32,
        alpha: f32,
        beta: f32,
    ) -> Result<Self, KernelError> {
        if let Err(e) = nonzero("channels", channels) {
            return Err(e);
        }
        // Written so that NaN fails every test.
        if !(bias.is_finite() && bias > 0.0) {
            return Err(KernelError::InvalidParam { arg: "bias" });
        }
        if !(alpha.is_finite() && alpha >= 0.0) {
            return Err(KernelError::InvalidParam { arg: "alpha" });
        }
        if !(beta.is_finite() && beta >= 0.0) {
            return Err(KernelError::InvalidParam { arg: "beta" });
        }
        Ok(Self {
            channels,
            depth_radius,
            bias,
            alpha,
            beta,
            alpha_beta_2: -2.0 * alpha * beta,
        })
    }

    /// The number of channels `D` in each row.
    pub const fn channels(&self) -> usize {
        self.channels
    }

    /// The depth radius `r`: the window spans `2r + 1` channels before clipping.
    pub const fn depth_radius(&self) -> usize {
        self.depth_radius
    }

    /// `bias`, the constant added to `alpha · sqr_sum`.
    pub const fn bias(&self) -> f32 {
        self.bias
    }

    /// `alpha`, the scale of the squared sum.
    pub const fn alpha(&self) -> f32 {
        self.alpha
    }

    /// `beta`, the exponent.
    pub const fn beta(&self) -> f32 {
        self.beta
    }

    /// The channels `[lo, hi)` in the window of channel `d` (`d < channels`).
    #[inline(always)]
    pub(crate) const fn window(&self, d: usize) -> (usize, usize) {
        let lo = d.saturating_sub(self.depth_radius);
        let hi = d.saturating_add(self.depth_radius);
        let hi = if hi >= self.channels {
            self.channels
        } else {
            hi + 1
        };
        (lo, hi)
    }

    /// `alpha · Σ_{k ∈ window(d)} row[k]² + bias`, summed in ascending `k`; `row` is one pixel.
    #[inline(always)]
    pub(crate) fn norm(&self, row: &[f32], d: usize) -> f32 {
        let (lo, hi) = self.window(d);
        let mut sqr_sum = 0.0f32;
        for &v in &row[lo..hi] {
            sqr_sum += v * v;
        }
        self.alpha * sqr_sum + self.bias
    }

    /// `norm[d]` for the channels `d0..d0 + out.len()` of one pixel `row`, the same bits as
    /// [`norm`](Self::norm) gives each. Channels whose window is whole are summed across the
    /// block one window offset at a time (a loop LLVM vectorises), each still in ascending
    /// channel order from `0.0 + x[d − r]²`; the clipped ones at either end go through `norm`.
    #[inline]
    pub(crate) fn norms(&self, row: &[f32], d0: usize, out: &mut [f32]) {
        let (r, c) = (self.depth_radius, self.channels);
        let d1 = d0 + out.len();
        // Whole windows: r <= d and d + r < c. Empty when 2r >= c, so 2r < c below.
        let lo = d0.max(r);
        let hi = d1.min(c.saturating_sub(r));
        // The clipped channels: `[d0, lo)` and `[max(hi, lo), d1)` (all of them when none is
        // whole), visited alone rather than tested one by one across the block.
        let head = lo.min(d1);
        let tail = hi.max(head);
        for d in (d0..head).chain(tail..d1) {
            out[d - d0] = self.norm(row, d);
        }
        if lo < hi {
            let whole = &mut out[lo - d0..hi - d0];
            for (o, &v) in whole.iter_mut().zip(&row[lo - r..hi - r]) {
                *o = v * v; // = 0.0 + v², the first term of the sum
            }
            for k in lo - r + 1..=lo + r {
                for (o, &v) in whole.iter_mut().zip(&row[k..k + (hi - lo)]) {
                    *o += v * v;
                }
            }
            for o in whole {
                *o = self.alpha * *o + self.bias;
            }
        }
    }

    /// `norm^−beta` of every value, in place: for β = 0.75 exactly `1 / (√u · √√u)`
    /// (correctly rounded square roots give the same bits on every target and cost far less
    /// than `powf`), otherwise `libm::powf(norm, −beta)`.
    #[inline]
    pub(crate) fn pow_neg_beta(&self, norms: &mut [f32]) {
        if self.beta == 0.75 {
            for u in norms {
                let s = crate::sqrt::sqrtf(*u);
                *u = 1.0 / (s * crate::sqrt::sqrtf(s));
            }
        } else {
            for u in norms {
                *u = libm::powf(*u, -self.beta);
            }
        }
    }

    /// `−2 · alpha · beta`, rounded as TensorFlow's `LaunchLRNGrad` rounds it (left to right):
    /// the factor of every window term of the gradient.
    #[inline(always)]
    pub const fn alpha_beta_2(&self) -> f32 {
        self.alpha_beta_2
    }

    /// Validates `rows` and returns `rows · channels`, the length of every slice.
    pub(crate) const fn checked_len(&self, rows: usize) -> Result<usize, KernelError> {
        if let Err(e) = nonzero("rows", rows) {
            return Err(e);
        }
        mul("rows", rows, self.channels)
    }
}

/// Checks `rows` and two slices against `g`, naming them `a_name` and `b_name`.
pub(crate) const fn check_two(
    g: &Lrn,
    rows: usize,
    a_name: &'static str,
    a_len: usize,
    b_name: &'static str,
    b_len: usize,
) -> Result<usize, KernelError> {
    let n = match g.checked_len(rows) {
        Ok(n) => n,
        Err(e) => return Err(e),
    };
    if let Err(e) = check_len(a_name, n, a_len) {
        return Err(e);
    }
    if let Err(e) = check_len(b_name, n, b_len) {
        return Err(e);
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_validates_each_parameter() {
        let ok = Lrn::new(8, 4, 1.0, 0.001 / 9.0, 0.75);
        assert!(ok.is_ok());
        assert_eq!(ok.map(|g| g.channels()), Ok(8));
        assert_eq!(
            Lrn::new(0, 4, 1.0, 0.1, 0.75),
            Err(KernelError::Zero { arg: "channels" })
        );
        for bad in [0.0, -1.0, f32::NAN, f32::INFINITY] {
            assert_eq!(
                Lrn::new(4, 2, bad, 0.1, 0.75),
                Err(KernelError::InvalidParam { arg: "bias" })
            );
        }
        for bad in [-1e-9, f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            assert_eq!(
                Lrn::new(4, 2, 1.0, bad, 0.75),
                Err(KernelError::InvalidParam { arg: "alpha" })
            );
            assert_eq!(
                Lrn::new(4, 2, 1.0, 0.1, bad),
                Err(KernelError::InvalidParam { arg: "beta" })
            );
        }
        // Boundaries that are allowed: alpha = 0, beta = 0, a radius wider than the depth.
        assert!(Lrn::new(4, 2, 1e-30, 0.0, 0.0).is_ok());
        assert!(Lrn::new(1, usize::MAX, 1.0, 0.5, 1.0).is_ok());
    }

    #[test]
    fn window_clips_at_both_ends() {
        let g = Lrn::new(5, 2, 1.0, 1.0, 1.0).unwrap();
        assert_eq!(g.window(0), (0, 3));
        assert_eq!(g.window(2), (0, 5));
        assert_eq!(g.window(4), (2, 5));
        let wide = Lrn::new(3, usize::MAX, 1.0, 1.0, 1.0).unwrap();
        assert_eq!(wide.window(1), (0, 3));
        let zero = Lrn::new(3, 0, 1.0, 1.0, 1.0).unwrap();
        assert_eq!(zero.window(1), (1, 2));
    }

    #[test]
    fn rows_zero_and_overflow_are_errors() {
        let g = Lrn::new(usize::MAX / 2, 0, 1.0, 1.0, 1.0).unwrap();
        assert_eq!(g.checked_len(0), Err(KernelError::Zero { arg: "rows" }));
        assert_eq!(g.checked_len(3), Err(KernelError::Overflow { arg: "rows" }));
    }

    #[test]
    fn block_norms_equal_the_per_channel_definition_bit_for_bit() {
        // Blocks of several lengths walked across rows narrower and wider than BLOCK, radii from
        // 0 to beyond the depth; values of mixed magnitudes (so a different summation order
        // would round differently) and, in one row, infinities and a NaN.
        extern crate std;
        let mut rng = crate::test_data::rng(21);
        for c in [1, 2, 3, 8, 9, 17, 63, 64, 65, 130, 257] {
            for r in [0, 1, 2, 4, 5, 40, 300] {
                let g = Lrn::new(c, r, 1.0, 0.001 / 9.0, 0.75).unwrap();
                let mut x = crate::test_data::draw_f32(&mut rng, c, -3.0, 3.0);
                for (i, v) in x.iter_mut().enumerate() {
                    *v *= [1.0, 1e-3, 1e3, 0.1][i % 4];
                }
                if c == 65 && r == 4 {
                    (x[0], x[30], x[64]) = (f32::INFINITY, f32::NAN, f32::NEG_INFINITY);
                }
                for len in [1, 5, BLOCK] {
                    let mut out = [0.0f32; BLOCK];
                    let mut d0 = 0;
                    while d0 < c {
                        let n = len.min(c - d0);
                        g.norms(&x, d0, &mut out[..n]);
                        for (i, got) in out[..n].iter().enumerate() {
                            let want = g.norm(&x, d0 + i);
                            assert!(
                                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                                "c={c} r={r} block {d0}+{i}: {got:e} vs {want:e}"
                            );
                        }
                        d0 += n;
                    }
                }
            }
        }
    }

    #[test]
    fn three_quarter_power_is_close_to_powf() {
        // Reference: f64 powf; tolerance 2 ulp-ish relative (three roundings).
        let g = Lrn::new(1, 0, 1.0, 1.0, 0.75).unwrap();
        let mut u = 1e-3f32;
        while u < 1e6 {
            let mut p = [u];
            g.pow_neg_beta(&mut p);
            let got = f64::from(p[0]);
            let want = libm::pow(f64::from(u), -0.75);
            assert!(
                (got - want).abs() <= 3e-7 * want,
                "u={u} got={got} want={want}"
            );
            u *= 1.37;
        }
    }
}
