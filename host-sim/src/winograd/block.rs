//! The transforms on one tile and one block of [`LANES`] channels, in fixed-size arrays the
//! compiler keeps in vector registers: every transform of the three passes is the same
//! "sandwich" `W·D·Wᵀ` of a small matrix `W` around a square tile `D` of channel vectors.

use super::transform::{Transform, R};

/// Channels per block: one AVX-512 register of `f32`.
pub const LANES: usize = 16;
/// One block of channels.
pub type Lanes = [f32; LANES];

/// `W · D · Wᵀ` for every lane: `out[i][j] = Σ_y Σ_x W[i][y]·D[y][x]·W[j][x]`, summed over `y`
/// first, each in ascending order (so the bits are fixed by the inputs).
#[inline(always)]
pub fn sandwich<const RO: usize, const RI: usize>(
    w: &[[f32; RI]; RO],
    d: &[[Lanes; RI]; RI],
    out: &mut [[Lanes; RO]; RO],
) {
    // Each sum starts from its first term (no zero-filled arrays: they became memset calls).
    let mut tmp = [[[0.0f32; LANES]; RI]; RO];
    for i in 0..RO {
        for x in 0..RI {
            let mut acc = [0.0f32; LANES];
            for l in 0..LANES {
                acc[l] = w[i][0] * d[0][x][l];
            }
            for y in 1..RI {
                for l in 0..LANES {
                    acc[l] += w[i][y] * d[y][x][l];
                }
            }
            tmp[i][x] = acc;
        }
    }
    for i in 0..RO {
        for j in 0..RO {
            let mut acc = [0.0f32; LANES];
            for l in 0..LANES {
                acc[l] = w[j][0] * tmp[i][0][l];
            }
            for x in 1..RI {
                for l in 0..LANES {
                    acc[l] += w[j][x] * tmp[i][x][l];
                }
            }
            out[i][j] = acc;
        }
    }
}

/// `dst = src[..lanes]` (the rest of `dst` untouched); a whole block is one fixed-size copy.
#[inline(always)]
pub fn load(dst: &mut Lanes, src: &[f32], lanes: usize) {
    if lanes == LANES {
        dst.copy_from_slice(&src[..LANES]);
    } else {
        dst[..lanes].copy_from_slice(&src[..lanes]);
    }
}

/// `dst[..lanes] = src[..lanes]`; a whole block is one fixed-size copy.
#[inline(always)]
pub fn store(dst: &mut [f32], src: &Lanes, lanes: usize) {
    if lanes == LANES {
        dst[..LANES].copy_from_slice(src);
    } else {
        dst[..lanes].copy_from_slice(&src[..lanes]);
    }
}

/// One `F(M, 3)` (`A = M + 2`) as fixed-size matrices, each oriented as the sandwich that
/// uses it wants it.
#[derive(Debug, Clone, Copy)]
pub struct Matrices<const A: usize, const M: usize> {
    /// `Bᵀ`: input tile → `V`.
    pub bt: [[f32; A]; A],
    /// `B`: `N` → input-gradient tile.
    pub b: [[f32; A]; A],
    /// `Aᵀ`: `M` → output tile.
    pub at: [[f32; A]; M],
    /// `A`: output-gradient tile → `Z`.
    pub a: [[f32; M]; A],
    /// `G`: filter → `U`.
    pub g: [[f32; R]; A],
    /// `Gᵀ`: `dU` → filter gradient.
    pub gt: [[f32; A]; R],
}

impl<const A: usize, const M: usize> Matrices<A, M> {
    /// The matrices of `t`.
    ///
    /// # Panics
    /// If `t` is not an `F(M, 3)` (a programming error: the caller dispatches on `t.m`).
    pub fn new(t: &Transform) -> Self {
        assert!(t.m == M && t.alpha == A, "F({}, 3) is not F({M}, 3)", t.m);
        let mut s = Self {
            bt: [[0.0; A]; A],
            b: [[0.0; A]; A],
            at: [[0.0; A]; M],
            a: [[0.0; M]; A],
            g: [[0.0; R]; A],
            gt: [[0.0; A]; R],
        };
        for i in 0..A {
            for j in 0..A {
                s.bt[i][j] = t.bt[i * A + j];
                s.b[j][i] = t.bt[i * A + j];
            }
            for r in 0..M {
                s.at[r][i] = t.at[r * A + i];
                s.a[i][r] = t.at[r * A + i];
            }
            for k in 0..R {
                s.g[i][k] = t.g[i * R + k];
                s.gt[k][i] = t.g[i * R + k];
            }
        }
        s
    }
}
