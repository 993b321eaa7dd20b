//! The Winograd minimal-filtering matrices `F(m, 3)` (Lavin & Gray, 2016), derived by
//! Toom-Cook from interpolation points rather than typed in.
//!
//! For a correlation `y[i] = Σₖ d[i + k]·g[k]` (`m` outputs, a 3-tap filter, `α = m + 2`
//! inputs): `y = Aᵀ[(G·g) ⊙ (Bᵀ·d)]`. It is the transpose of the Toom-Cook linear convolution
//! `s = C[(G·g) ⊙ (H·h)]` (evaluate both polynomials at α − 1 points and ∞, multiply,
//! interpolate): the correlation matrix is `T(g)ᵀ = Hᵀ diag(G·g) Cᵀ`, so `Aᵀ = Hᵀ`, `Bᵀ = Cᵀ`.
//! Each Lagrange denominator is moved from `Bᵀ` into `G`, so that the data transform `Bᵀ`
//! has small integer entries for integer points, as in Lavin's tables. In 2-D the transforms
//! apply along both axes: `Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A`.

/// One `F(m, 3)`: the three matrices, row-major, as `f32`.
#[derive(Debug, Clone, PartialEq)]
pub struct Transform {
    /// Output tile side.
    pub m: usize,
    /// Input tile side, `m + 2`.
    pub alpha: usize,
    /// `Bᵀ`, `α × α`: input tile → Winograd domain.
    pub bt: Vec<f32>,
    /// `G`, `α × 3`: filter → Winograd domain.
    pub g: Vec<f32>,
    /// `Aᵀ`, `m × α`: Winograd domain → output tile.
    pub at: Vec<f32>,
}

/// Filter taps of every transform here.
pub const R: usize = 3;

/// The finite interpolation points of `F(m, 3)` for the tile sides used (∞ is the last point
/// of each). `F(3, 3)` takes −½ as its fourth point: against the TensorFlow golden vectors at
/// 11×11×32 and 5×5×64 its worst error was 0.29–0.46 of the tolerance, against 0.39–0.51 with
/// ½ or 2; `F(4, 3)` (0, ±1, ±2) reached 0.89, too close to the tolerance to be used.
fn points(m: usize) -> &'static [f64] {
    match m {
        2 => &[0.0, 1.0, -1.0],
        3 => &[0.0, 1.0, -1.0, -0.5],
        _ => panic!("F({m}, 3) has no points here"),
    }
}

/// The output tile sides this module provides.
pub const TILE_SIDES: [usize; 2] = [2, 3];

/// Coefficients (lowest power first) of `Π (x − rootᵢ)`.
fn poly_from_roots(roots: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut c = vec![1.0];
    for r in roots {
        let mut next = vec![0.0; c.len() + 1];
        for (i, &ci) in c.iter().enumerate() {
            next[i + 1] += ci;
            next[i] -= r * ci;
        }
        c = next;
    }
    c
}

impl Transform {
    /// `F(m, 3)` for `m` in [`TILE_SIDES`].
    ///
    /// # Panics
    /// For any other `m` (a programming error: the caller picks from `TILE_SIDES`).
    pub fn new(m: usize) -> Self {
        let p = points(m);
        let alpha = m + R - 1;
        assert_eq!(p.len(), alpha - 1);
        let mut bt = vec![0.0f64; alpha * alpha];
        let mut g = vec![0.0f64; alpha * R];
        let mut at = vec![0.0f64; m * alpha];
        for (i, &pi) in p.iter().enumerate() {
            // Row i of Cᵀ is the Lagrange basis polynomial Lᵢ = Πⱼ≠ᵢ (x − pⱼ) / Πⱼ≠ᵢ (pᵢ − pⱼ):
            // its numerator goes to Bᵀ, its denominator to G.
            let others = || {
                p.iter()
                    .enumerate()
                    .filter(|&(j, _)| j != i)
                    .map(|(_, &pj)| pj)
            };
            let numerator = poly_from_roots(others());
            let denominator: f64 = others().map(|pj| pi - pj).product();
            bt[i * alpha..][..numerator.len()].copy_from_slice(&numerator);
            for (k, gk) in g[i * R..][..R].iter_mut().enumerate() {
                *gk = pi.powi(k as i32) / denominator;
            }
            for (r, row) in at.chunks_mut(alpha).enumerate() {
                row[i] = pi.powi(r as i32);
            }
        }
        // The point at infinity: Cᵀ's last row is Π (x − pⱼ), G's picks the top tap, Aᵀ's the
        // top power.
        let last = alpha - 1;
        bt[last * alpha..].copy_from_slice(&poly_from_roots(p.iter().copied()));
        g[last * R + R - 1] = 1.0;
        at[(m - 1) * alpha + last] = 1.0;
        let narrow = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect();
        Self {
            m,
            alpha,
            bt: narrow(bt),
            g: narrow(g),
            at: narrow(at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `y = Aᵀ[(G g) ⊙ (Bᵀ d)]` in f64 from the f32 matrices.
    fn winograd_1d(t: &Transform, d: &[f64], g: &[f64]) -> Vec<f64> {
        let a = t.alpha;
        let gg: Vec<f64> = (0..a)
            .map(|i| (0..R).map(|k| f64::from(t.g[i * R + k]) * g[k]).sum())
            .collect();
        let bd: Vec<f64> = (0..a)
            .map(|i| (0..a).map(|k| f64::from(t.bt[i * a + k]) * d[k]).sum())
            .collect();
        (0..t.m)
            .map(|r| {
                (0..a)
                    .map(|i| f64::from(t.at[r * a + i]) * gg[i] * bd[i])
                    .sum()
            })
            .collect()
    }

    #[test]
    fn every_tile_side_computes_the_correlation() {
        // Reference: the direct correlation y[i] = Σₖ d[i + k]·g[k] in f64. The f32 matrices'
        // entries (1/6, 1/24, …) are rounded, so allow 1e-6 relative.
        let mut rng = kernels::rng::Rng::new(7, 0);
        for m in TILE_SIDES {
            let t = Transform::new(m);
            for _ in 0..20 {
                let d: Vec<f64> = (0..t.alpha)
                    .map(|_| f64::from(rng.next_f32()) - 0.5)
                    .collect();
                let g: Vec<f64> = (0..R).map(|_| f64::from(rng.next_f32()) - 0.5).collect();
                let y = winograd_1d(&t, &d, &g);
                for (i, &yi) in y.iter().enumerate() {
                    let want: f64 = (0..R).map(|k| d[i + k] * g[k]).sum();
                    assert!(
                        (yi - want).abs() <= 1e-6,
                        "F({m},3) y[{i}] = {yi}, want {want}"
                    );
                }
            }
        }
    }
}
