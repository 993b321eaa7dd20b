//! Rasterising a [`Scene`]: anti-aliased shapes composited in f32, then photometry, noise and
//! rounding to bytes.
//!
//! Anti-aliasing uses a pixel's distance `d` to a shape's edge, measured from the pixel's centre:
//! coverage = clamp(½ − d, 0, 1) for a filled shape (d signed, negative inside) and
//! clamp(½ + thickness/2 − d, 0, 1) for a stroke. Only `+ − × ÷`, comparisons and square roots
//! (correctly rounded) touch the pixels, in a fixed order, so every target gets the same bytes.

use super::frame::{FrameSpec, CHANNELS};
use super::scene::{Arc, Ellipse, Scene, Segment};
use crate::rng::Rng;

/// `x` limited to `[lo, hi]`. Unlike `f32::clamp` it cannot panic, and it returns `x` itself
/// (sign of zero included) when in range, so results never depend on `max`/`min`'s freedom in
/// choosing between ±0.
#[inline]
pub(crate) fn clamp(x: f32, lo: f32, hi: f32) -> f32 {
    if x < lo {
        lo
    } else if x > hi {
        hi
    } else {
        x
    }
}

#[inline]
fn clamp01(x: f32) -> f32 {
    clamp(x, 0.0, 1.0)
}

/// Coverage of the pixel centred at `(px, py)` by a filled ellipse:
/// `clamp(½ − (q − 1)·r_min, 0, 1)` with `q` the pixel's normalised radius
/// `√((dx/rx)² + (dy/ry)²)`. `(q − 1)·r` is the distance to the edge for a circle; for the
/// near-circles drawn here (aspect ≤ 1.2) scaling by the smaller radius keeps the edge ramp at
/// most one pixel wide. Pixels clearly inside or outside (by `q²` against precomputed bounds)
/// skip the square root.
#[inline]
pub(crate) fn ellipse_coverage(e: &Ellipse, px: f32, py: f32) -> f32 {
    let dx = px - e.cx;
    let dy = py - e.cy;
    if dx.abs() > e.rx + 1.0 || dy.abs() > e.ry + 1.0 {
        return 0.0;
    }
    let nx = dx * e.inv_rx;
    let ny = dy * e.inv_ry;
    let q2 = nx * nx + ny * ny;
    if q2 >= e.outer2 {
        0.0
    } else if q2 <= e.inner2 {
        1.0
    } else {
        clamp01(0.5 - (crate::sqrt::sqrtf(q2) - 1.0) * e.r_min)
    }
}

/// Distance from `(px, py)` to the mouth's centre line (with round caps).
///
/// In the mouth's own frame the curve is `f(t) = sag/2 − k·t²`, `k = sag / half_width²`. The
/// nearest curve parameter `t` solves `g(t) = (t − u) + (f(t) − v)·f′(t) = 0`; two Newton steps
/// from `t = u`, each clamped to the segment (the clamp is what makes the caps round), give the
/// distance within 0.002 px wherever it is below 3 px, i.e. wherever coverage is decided (tested
/// against a dense f64 search). The result is always the distance to *some* point of the curve,
/// so it never underestimates: far pixels, where Newton may stop early, stay uncovered.
#[inline]
pub(crate) fn arc_distance(a: &Arc, px: f32, py: f32) -> f32 {
    let dx = px - a.cx;
    let dy = py - a.cy;
    let u = a.cos * dx + a.sin * dy;
    let v = a.cos * dy - a.sin * dx;
    let hw = a.half_width;
    let k = a.sag / (hw * hw);
    let mut t = clamp(u, -hw, hw);
    for _ in 0..2 {
        let f = 0.5 * a.sag - k * t * t;
        let slope = -2.0 * k * t;
        let g = (t - u) + (f - v) * slope;
        let g_prime = 1.0 + slope * slope - 2.0 * k * (f - v);
        // g′ ≥ 0.28 within 4 px of the curve (radius of curvature ≥ half_width / 1.2 ≥ 5.6 px);
        // beyond the centre of curvature Newton is meaningless and the step is skipped.
        if g_prime > 0.25 {
            t = clamp(t - g / g_prime, -hw, hw);
        }
    }
    let eu = u - t;
    let ev = v - (0.5 * a.sag - k * t * t);
    crate::sqrt::sqrtf(eu * eu + ev * ev)
}

/// Coverage of the pixel centred at `(px, py)` by the mouth stroke.
#[inline]
pub(crate) fn arc_coverage(a: &Arc, px: f32, py: f32) -> f32 {
    // Every point of the curve lies within half_width + |sag|/2 of its centre.
    let reach = a.half_width + 0.5 * a.sag.abs() + 0.5 * a.thickness + 1.0;
    if (px - a.cx).abs() > reach || (py - a.cy).abs() > reach {
        return 0.0;
    }
    clamp01(0.5 + 0.5 * a.thickness - arc_distance(a, px, py))
}

/// Coverage of the pixel centred at `(px, py)` by a straight stroke with round caps.
#[inline]
pub(crate) fn segment_coverage(s: &Segment, px: f32, py: f32) -> f32 {
    let margin = 0.5 * s.thickness + 1.0;
    if px < s.x0.min(s.x1) - margin
        || px > s.x0.max(s.x1) + margin
        || py < s.y0.min(s.y1) - margin
        || py > s.y0.max(s.y1) + margin
    {
        return 0.0;
    }
    let ex = s.x1 - s.x0;
    let ey = s.y1 - s.y0;
    let rx = px - s.x0;
    let ry = py - s.y0;
    let len2 = ex * ex + ey * ey;
    let t = if len2 > 0.0 {
        clamp01((rx * ex + ry * ey) / len2)
    } else {
        0.0
    };
    let qx = rx - t * ex;
    let qy = ry - t * ey;
    clamp01(0.5 + 0.5 * s.thickness - crate::sqrt::sqrtf(qx * qx + qy * qy))
}

/// `dst ← dst + (src − dst)·alpha`, per channel.
#[inline]
fn over(dst: &mut [f32; 3], src: &[f32; 3], alpha: f32) {
    if alpha > 0.0 {
        for (d, s) in dst.iter_mut().zip(src) {
            *d += (*s - *d) * alpha;
        }
    }
}

/// Per-channel pixel noise from one `u32`: three 10-bit fields, each mapped to the centre of
/// one of 1024 equal bins of (−1, 1).
#[inline]
fn noise3(bits: u32) -> [f32; 3] {
    let field = |k: u32| (((bits >> (10 * k)) & 0x3FF) as f32 + 0.5) * (1.0 / 512.0) - 1.0;
    [field(0), field(1), field(2)]
}

/// The scene's f32 colour at the pixel centred at `(px, py)`, before photometry.
#[inline]
pub(crate) fn shade(scene: &Scene, px: f32, py: f32) -> [f32; 3] {
    let g = scene.gradient[0] * (px - scene.centre[0]) + scene.gradient[1] * (py - scene.centre[1]);
    let mut c = [
        scene.background[0] + g,
        scene.background[1] + g,
        scene.background[2] + g,
    ];
    over(
        &mut c,
        &scene.head_colour,
        ellipse_coverage(&scene.head, px, py),
    );
    // The stroke crosses the head but stays under the features, so the mouth is never hidden.
    if scene.stroke_visible {
        over(
            &mut c,
            &scene.stroke_colour,
            segment_coverage(&scene.stroke, px, py),
        );
    }
    if scene.eyes_visible {
        for eye in &scene.eyes {
            over(&mut c, &scene.ink, ellipse_coverage(eye, px, py));
        }
    }
    over(&mut c, &scene.ink, arc_coverage(&scene.mouth, px, py));
    c
}

/// Writes the frame: each pixel's shade, times gain, plus offset and noise (one `rng` draw per
/// pixel, raster order), clamped to [0, 1] and rounded to `u8`.
pub(crate) fn render(scene: &Scene, spec: &FrameSpec, rng: &mut Rng, out: &mut [u8]) {
    debug_assert_eq!(out.len(), spec.len());
    let row_len = spec.w() * CHANNELS;
    for (y, row) in out.chunks_exact_mut(row_len).enumerate() {
        let py = y as f32 + 0.5;
        for (x, pixel) in row.chunks_exact_mut(CHANNELS).enumerate() {
            let px = x as f32 + 0.5;
            let c = shade(scene, px, py);
            let n = noise3(rng.next_u32());
            for k in 0..CHANNELS {
                let v = scene.gain * c[k] + scene.offset + scene.noise_amplitude * n[k];
                // In range after the clamp, so `as` neither saturates nor sees NaN.
                pixel[k] = (clamp01(v) * 255.0 + 0.5) as u8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    /// Euclidean distance from a point to the parabola segment in f64 (reference for
    /// `arc_distance`): a coarse scan of the curve parameter (step half_width/200), then a fine
    /// scan (step 1/100 of that) around the best coarse sample. Sampling error < 0.001 px.
    fn arc_distance_f64(a: &Arc, px: f64, py: f64) -> f64 {
        let (cx, cy, hw, sag) = (a.cx as f64, a.cy as f64, a.half_width as f64, a.sag as f64);
        let (c, s) = (a.cos as f64, a.sin as f64);
        let dist = |u: f64| {
            let u = u.clamp(-hw, hw);
            let t = u / hw;
            let v = sag * (0.5 - t * t);
            let x = cx + u * c - v * s;
            let y = cy + u * s + v * c;
            ((px - x).powi(2) + (py - y).powi(2)).sqrt()
        };
        let step = hw / 200.0;
        let coarse = (0..=400)
            .map(|j| -hw + j as f64 * step)
            .map(|u| (dist(u), u))
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .unwrap()
            .1;
        (0..=200)
            .map(|j| dist(coarse - step + j as f64 * step / 100.0))
            .fold(f64::INFINITY, f64::min)
    }

    #[test]
    fn arc_distance_matches_exact_distance_near_the_stroke() {
        // Strongest curvature the generator draws (|sag| = 0.6·half_width), tilted both ways,
        // at the smallest 64-px half-width (6.7) and a larger one. Reference: sampled
        // f64 distance (sampling error < 0.001 px); tolerance 0.01 px + 1 % within 3 px of
        // the curve, where coverage is decided (thickness/2 + ½ ≤ 2.9 px at 96 px frames).
        // Beyond that the result must never be below the true distance.
        for (hw, sag, tilt) in [
            (10.0f32, 6.0f32, 0.2f32),
            (10.0, -6.0, -0.2),
            (10.0, 0.0, 0.1),
            (10.0, 3.0, 0.0),
            (6.7, 4.02, 0.2),
            (6.7, -4.02, 0.0),
        ] {
            let a = Arc {
                cx: 30.0,
                cy: 20.0,
                half_width: hw,
                sag,
                cos: libm::cosf(tilt),
                sin: libm::sinf(tilt),
                thickness: 3.0,
            };
            let mut checked = 0;
            for y in 5..35 {
                for x in 15..45 {
                    let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
                    let want = arc_distance_f64(&a, px as f64, py as f64);
                    let got = arc_distance(&a, px, py) as f64;
                    if want <= 3.0 {
                        assert!(
                            (got - want).abs() <= 0.01 + 0.01 * want,
                            "sag {sag} ({px}, {py}): {got} vs {want}"
                        );
                        checked += 1;
                    } else {
                        assert!(got >= want - 0.01, "sag {sag} ({px}, {py}): {got} < {want}");
                    }
                }
            }
            assert!(checked > 100);
        }
    }

    #[test]
    fn ellipse_coverage_is_one_inside_zero_outside_half_on_edge() {
        let e = Ellipse::new(10.0, 10.0, 5.0, 6.0);
        assert_eq!(ellipse_coverage(&e, 10.0, 10.0), 1.0);
        assert_eq!(ellipse_coverage(&e, 10.0, 17.0), 0.0);
        assert_eq!(ellipse_coverage(&e, 30.0, 10.0), 0.0);
        // On the edge along x: q = 1 exactly.
        assert_eq!(ellipse_coverage(&e, 15.0, 10.0), 0.5);
        // Everywhere, shortcuts included: the f64 formula clamp(½ − (q − 1)·r_min, 0, 1),
        // tolerance 1e-5 absolute (f32 rounding of q), on a quarter-pixel grid; also for an
        // eye smaller than a pixel, which is never fully covered.
        for e in [e, Ellipse::new(3.3, 2.7, 0.8, 0.96)] {
            for j in 0..100 {
                for i in 0..100 {
                    let (px, py) = (i as f32 * 0.25, j as f32 * 0.25);
                    let nx = (px as f64 - e.cx as f64) / e.rx as f64;
                    let ny = (py as f64 - e.cy as f64) / e.ry as f64;
                    let q = (nx * nx + ny * ny).sqrt();
                    let r_min = (e.rx as f64).min(e.ry as f64);
                    let want = (0.5 - (q - 1.0) * r_min).clamp(0.0, 1.0);
                    let got = ellipse_coverage(&e, px, py) as f64;
                    assert!((got - want).abs() <= 1e-5, "({px}, {py}): {got} vs {want}");
                }
            }
        }
    }

    #[test]
    fn segment_coverage_follows_the_distance_to_the_segment() {
        let s = Segment {
            x0: 2.0,
            y0: 2.0,
            x1: 12.0,
            y1: 2.0,
            thickness: 2.0,
        };
        // On the line: full; 1.5 px away: ½ + 1 − 1.5 = 0; beyond the cap: distance to (12, 2).
        assert_eq!(segment_coverage(&s, 7.0, 2.0), 1.0);
        assert_eq!(segment_coverage(&s, 7.0, 3.25), 0.25);
        assert_eq!(segment_coverage(&s, 7.0, 3.5), 0.0);
        assert_eq!(segment_coverage(&s, 13.0, 2.0), 0.5);
        // A degenerate segment is a dot.
        let dot = Segment { x1: 2.0, ..s };
        assert_eq!(segment_coverage(&dot, 2.0, 2.0), 1.0);
    }

    #[test]
    fn noise_fields_are_centred_bins() {
        assert_eq!(noise3(0), [-1.0 + 1.0 / 1024.0; 3]);
        assert_eq!(noise3(u32::MAX)[..], [1.0 - 1.0 / 1024.0; 3]);
        // 0x3FF in the middle field only.
        assert_eq!(
            noise3(0x3FF << 10),
            [-1.0 + 1.0 / 1024.0, 1.0 - 1.0 / 1024.0, -1.0 + 1.0 / 1024.0]
        );
    }
}
