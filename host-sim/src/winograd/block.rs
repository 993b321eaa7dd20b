//! The transforms on one tile and one block of [`LANES`] channels, in fixed-size arrays the
//! compiler keeps in vector registers: every transform of the three passes is the same
//! "sandwich" `W·D·Wᵀ` of a small matrix `W` around a square tile `D` of channel vectors.

use super::transform::R;

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
    // Each sum starts from −0.0, the identity of addition (−0 + x = x for every x, +0
    // included): the first term then costs no extra rounding and the arrays need no memset.
    // Zero weights are skipped; with the constant tables the test folds away.
    let mut tmp = [[[0.0f32; LANES]; RI]; RO];
    for i in 0..RO {
        for x in 0..RI {
            let mut acc = [-0.0f32; LANES];
            for y in 0..RI {
                let wv = w[i][y];
                if wv == 0.0 {
                    continue;
                }
                for l in 0..LANES {
                    acc[l] += wv * d[y][x][l];
                }
            }
            tmp[i][x] = acc;
        }
    }
    for i in 0..RO {
        for j in 0..RO {
            let mut acc = [-0.0f32; LANES];
            for x in 0..RI {
                let wv = w[j][x];
                if wv == 0.0 {
                    continue;
                }
                for l in 0..LANES {
                    acc[l] += wv * tmp[i][x][l];
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

/// `M × N` transposed, at compile time.
const fn transpose<const M: usize, const N: usize>(m: [[f32; N]; M]) -> [[f32; M]; N] {
    let mut t = [[0.0; M]; N];
    let mut i = 0;
    while i < M {
        let mut j = 0;
        while j < N {
            t[j][i] = m[i][j];
            j += 1;
        }
        i += 1;
    }
    t
}

/// One `F(M, 3)` (`A = M + 2`) as compile-time matrices, each oriented as the sandwich that uses
/// it wants it. Being constants, their zero entries cost nothing: [`sandwich`] skips them
/// (the `F(3, 3)` data transform has 16 non-zero entries of 25). The values are
/// [`Transform::new`](super::transform::Transform::new)'s derivation, typed in and checked
/// against it.
pub trait Tables<const A: usize, const M: usize> {
    /// `Bᵀ`: input tile → `V`.
    const BT: [[f32; A]; A];
    /// `Aᵀ`: `M` → output tile.
    const AT: [[f32; A]; M];
    /// `G`: filter → `U`.
    const G: [[f32; R]; A];
    /// `B`: `N` → input-gradient tile.
    const B: [[f32; A]; A] = transpose(Self::BT);
    /// `A`: output-gradient tile → `Z`.
    const A: [[f32; M]; A] = transpose(Self::AT);
    /// `Gᵀ`: `dU` → filter gradient.
    const GT: [[f32; A]; R] = transpose(Self::G);
}

/// `F(2, 3)`: points 0, 1, −1, ∞.
pub struct F2;

impl Tables<4, 2> for F2 {
    const BT: [[f32; 4]; 4] = [
        [-1.0, 0.0, 1.0, 0.0],
        [0.0, 1.0, 1.0, 0.0],
        [0.0, -1.0, 1.0, 0.0],
        [0.0, -1.0, 0.0, 1.0],
    ];
    const AT: [[f32; 4]; 2] = [[1.0, 1.0, 1.0, 0.0], [0.0, 1.0, -1.0, 1.0]];
    const G: [[f32; 3]; 4] = [
        [-1.0, 0.0, 0.0],
        [0.5, 0.5, 0.5],
        [0.5, -0.5, 0.5],
        [0.0, 0.0, 1.0],
    ];
}

/// `F(3, 3)`: points 0, 1, −1, −½, ∞.
pub struct F3;

impl Tables<5, 3> for F3 {
    const BT: [[f32; 5]; 5] = [
        [-0.5, -1.0, 0.5, 1.0, 0.0],
        [0.0, 0.5, 1.5, 1.0, 0.0],
        [0.0, -0.5, -0.5, 1.0, 0.0],
        [0.0, -1.0, 0.0, 1.0, 0.0],
        [0.0, -0.5, -1.0, 0.5, 1.0],
    ];
    const AT: [[f32; 5]; 3] = [
        [1.0, 1.0, 1.0, 1.0, 0.0],
        [0.0, 1.0, -1.0, -0.5, 0.0],
        [0.0, 1.0, 1.0, 0.25, 1.0],
    ];
    const G: [[f32; 3]; 5] = [
        [-2.0, 0.0, 0.0],
        [1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0],
        [-1.0, 1.0, -1.0],
        [8.0 / 3.0, -4.0 / 3.0, 2.0 / 3.0],
        [0.0, 0.0, 1.0],
    ];
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::winograd::transform::Transform;

    /// The typed-in tables against the derivation (bit for bit, as f32).
    fn check<const A: usize, const M: usize, T: Tables<A, M>>() {
        let t = Transform::new(M);
        assert_eq!(T::BT.concat(), t.bt, "F({M}, 3) Bᵀ");
        assert_eq!(T::AT.concat(), t.at, "F({M}, 3) Aᵀ");
        assert_eq!(T::G.concat(), t.g, "F({M}, 3) G");
        assert_eq!(transpose(T::B), T::BT);
        assert_eq!(transpose(T::A), T::AT);
        assert_eq!(transpose(T::GT), T::G);
    }

    #[test]
    fn the_tables_are_the_derived_transforms() {
        check::<4, 2, F2>();
        check::<5, 3, F3>();
    }
}
