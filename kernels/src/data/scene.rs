//! One frame's scene: every parameter drawn from the frame's own generator, in one fixed order.
//!
//! The draw order is part of the data set's definition (a board must draw the very same frames):
//! valence, head, mouth, eyes, colours, stroke, photometry, rater — then, in
//! [`render`](super::draw::render), one `u32` of pixel noise per pixel in raster order. Optional
//! elements (eyes, stroke) always consume their draws, so that switching one off never shifts
//! the parameters after it.

use super::frame::FrameSpec;
use crate::rng::Rng;

/// The mouth's largest sag (centre to ends, along the mouth's axis) as a fraction of its
/// half-width, reached at |valence| = 1.
pub(crate) const SAG_PER_HALF_WIDTH: f32 = 0.6;

/// Confidence reaches its contrast factor's maximum at this effective ink contrast × gain.
const FULL_CONTRAST: f32 = 0.35;

/// A filled, axis-aligned ellipse (head, eyes), with the per-pixel constants of its coverage
/// precomputed (see [`ellipse_coverage`](super::draw::ellipse_coverage)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Ellipse {
    pub cx: f32,
    pub cy: f32,
    pub rx: f32,
    pub ry: f32,
    pub inv_rx: f32,
    pub inv_ry: f32,
    pub r_min: f32,
    /// `q²` (normalised radius squared) below which coverage is 1; negative if never.
    pub inner2: f32,
    /// `q²` above which coverage is 0.
    pub outer2: f32,
}

impl Ellipse {
    /// An ellipse centred at `(cx, cy)` with radii `rx, ry > 0`.
    pub(crate) fn new(cx: f32, cy: f32, rx: f32, ry: f32) -> Self {
        debug_assert!(rx > 0.0 && ry > 0.0);
        let r_min = rx.min(ry);
        let inner = 1.0 - 0.5 / r_min;
        let outer = 1.0 + 0.5 / r_min;
        Self {
            cx,
            cy,
            rx,
            ry,
            inv_rx: 1.0 / rx,
            inv_ry: 1.0 / ry,
            r_min,
            inner2: if inner > 0.0 { inner * inner } else { -1.0 },
            outer2: outer * outer,
        }
    }
}

/// The mouth: a parabola segment in its own rotated frame `(u, v)` (u along the mouth, v
/// perpendicular, pointing down the image when the tilt is 0):
/// `v = sag · (1/2 − (u / half_width)²)` for `|u| ≤ half_width`, with round caps.
///
/// `sag > 0` puts the centre below the ends: a smile. The curve's vertical extent is centred on
/// `(cx, cy)` whatever the sign, so a smile and a frown cover the same region of the frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Arc {
    pub cx: f32,
    pub cy: f32,
    pub half_width: f32,
    pub sag: f32,
    pub cos: f32,
    pub sin: f32,
    pub thickness: f32,
}

/// A straight stroke with round caps (the distractor).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Segment {
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
    pub thickness: f32,
}

/// Every parameter of one frame. Colours are linear RGB in [0, 1] before gain and offset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Scene {
    pub valence: f32,
    pub confidence: f32,
    pub background: [f32; 3],
    /// Luminance added per pixel of offset from the frame's centre, along x and y.
    pub gradient: [f32; 2],
    pub centre: [f32; 2],
    pub head: Ellipse,
    pub head_colour: [f32; 3],
    pub eyes: [Ellipse; 2],
    pub eyes_visible: bool,
    pub mouth: Arc,
    pub ink: [f32; 3],
    pub stroke: Segment,
    pub stroke_visible: bool,
    pub stroke_colour: [f32; 3],
    pub gain: f32,
    pub offset: f32,
    /// Half-width of the uniform per-channel pixel noise (σ·√3).
    pub noise_amplitude: f32,
}

/// A uniform draw in [0, 1) from the top 24 bits (exact in f32).
#[inline]
pub(crate) fn unit(rng: &mut Rng) -> f32 {
    (rng.next_u32() >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// A uniform draw in [lo, hi).
#[inline]
fn uniform(rng: &mut Rng, lo: f32, hi: f32) -> f32 {
    lo + (hi - lo) * unit(rng)
}

/// A uniform draw in (−1, 1), symmetric: `(k + ½)·2⁻²² − 1` for a 23-bit `k`, so `x` and `−x` are
/// equally likely and 0 is never drawn.
#[inline]
fn symmetric(rng: &mut Rng) -> f32 {
    ((rng.next_u32() >> 9) as f32 + 0.5) * (1.0 / 4_194_304.0) - 1.0
}

#[inline]
fn clamp01(x: f32) -> f32 {
    super::draw::clamp(x, 0.0, 1.0)
}

impl Scene {
    /// Draws a scene for a frame of size `spec`, consuming a fixed number of draws from `rng`.
    pub(crate) fn sample(spec: &FrameSpec, rng: &mut Rng) -> Self {
        let h = spec.h() as f32;
        let w = spec.w() as f32;
        let s = h.min(w);

        // 1. The label.
        let valence = symmetric(rng);

        // 2. Head: a slightly tall ellipse near the centre.
        let rx = s * uniform(rng, 0.30, 0.40);
        let ry = rx * uniform(rng, 1.0, 1.2);
        let cx = 0.5 * w + 0.10 * w * symmetric(rng);
        let cy = 0.5 * h + 0.08 * h * symmetric(rng);
        let head = Ellipse::new(cx, cy, rx, ry);

        // 3. Mouth in the lower half of the head; its sag is the only carrier of the label.
        let mx = cx + 0.08 * rx * symmetric(rng);
        let my = cy + ry * uniform(rng, 0.35, 0.5);
        let half_width = rx * uniform(rng, 0.35, 0.55);
        let tilt = 0.2 * symmetric(rng);
        let thickness = (s * uniform(rng, 0.03, 0.05)).max(1.0);
        let mouth = Arc {
            cx: mx,
            cy: my,
            half_width,
            sag: valence * SAG_PER_HALF_WIDTH * half_width,
            cos: libm::cosf(tilt),
            sin: libm::sinf(tilt),
            thickness,
        };

        // 4. Eyes: context only, absent in one frame out of five.
        let eyes_visible = unit(rng) < 0.8;
        let spread = rx * uniform(rng, 0.30, 0.42);
        let ey = cy - ry * uniform(rng, 0.15, 0.35);
        let radius = (rx * uniform(rng, 0.09, 0.14)).max(0.8);
        let eye = |ex: f32| Ellipse::new(ex, ey, radius, radius * 1.2);
        let eyes = [eye(cx - spread), eye(cx + spread)];

        // 5. Colours: background, a linear luminance gradient, head, and ink (mouth and eyes)
        // darker than a light head or lighter than a dark one.
        let background = [unit(rng), unit(rng), unit(rng)];
        let amplitude = uniform(rng, 0.0, 0.4) / s;
        let angle = uniform(rng, 0.0, 2.0 * core::f32::consts::PI);
        let gradient = [amplitude * libm::cosf(angle), amplitude * libm::sinf(angle)];
        let head_colour = [
            uniform(rng, 0.1, 0.9),
            uniform(rng, 0.1, 0.9),
            uniform(rng, 0.1, 0.9),
        ];
        let contrast = uniform(rng, 0.2, 0.6);
        let head_mean = (head_colour[0] + head_colour[1] + head_colour[2]) * (1.0 / 3.0);
        let direction = if head_mean > 0.5 { -contrast } else { contrast };
        let ink = [
            clamp01(head_colour[0] + direction),
            clamp01(head_colour[1] + direction),
            clamp01(head_colour[2] + direction),
        ];
        // Clamping can eat into the nominal contrast; confidence uses what is left.
        let effective_contrast = ((ink[0] - head_colour[0]).abs()
            + (ink[1] - head_colour[1]).abs()
            + (ink[2] - head_colour[2]).abs())
            * (1.0 / 3.0);

        // 6. The distractor stroke: anywhere, any colour, half of the frames.
        let stroke_visible = unit(rng) < 0.5;
        let stroke = Segment {
            x0: w * unit(rng),
            y0: h * unit(rng),
            x1: w * unit(rng),
            y1: h * unit(rng),
            thickness: (s * uniform(rng, 0.015, 0.04)).max(1.0),
        };
        let stroke_colour = [unit(rng), unit(rng), unit(rng)];

        // 7. Photometry: exposure gain and offset, pixel noise.
        let gain = uniform(rng, 0.6, 1.2);
        let offset = uniform(rng, -0.15, 0.15);
        let sigma = uniform(rng, 0.0, 0.1);

        // 8. Confidence: how legible the mouth is (contrast, noise) times a rater's certainty.
        let rater = 1.0 - 0.5 * unit(rng);
        let legibility = (gain * effective_contrast / FULL_CONTRAST).min(1.0);
        let confidence = legibility * (1.0 - 3.0 * sigma) * rater;

        Self {
            valence,
            confidence,
            background,
            gradient,
            centre: [0.5 * w, 0.5 * h],
            head,
            head_colour,
            eyes,
            eyes_visible,
            mouth,
            ink,
            stroke,
            stroke_visible,
            stroke_colour,
            gain,
            offset,
            noise_amplitude: sigma * 1.732_050_8,
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    #[test]
    fn symmetric_draw_is_exactly_symmetric_and_never_zero() {
        // k = 0 and k = 2^23 − 1 are mirror images; the f64 reference is (k + ½)/2^22 − 1.
        for k in [0u32, 1, 12345, (1 << 22) - 1, 1 << 22, (1 << 23) - 1] {
            let x = (k as f32 + 0.5) * (1.0 / 4_194_304.0) - 1.0;
            let mirror = (((1u32 << 23) - 1 - k) as f32 + 0.5) * (1.0 / 4_194_304.0) - 1.0;
            assert_eq!(x, -mirror);
            assert_eq!(x as f64, (k as f64 + 0.5) / 4_194_304.0 - 1.0);
            assert!(x != 0.0 && x > -1.0 && x < 1.0);
        }
    }

    #[test]
    fn parameters_stay_in_their_documented_ranges() {
        let spec = FrameSpec::new(64, 96).unwrap();
        for i in 0..500 {
            let mut rng = Rng::new(7, i);
            let sc = Scene::sample(&spec, &mut rng);
            assert!(sc.valence > -1.0 && sc.valence < 1.0);
            assert!(
                sc.confidence > 0.0 && sc.confidence <= 1.0,
                "{}",
                sc.confidence
            );
            let m = sc.mouth;
            assert_eq!(m.sag, sc.valence * SAG_PER_HALF_WIDTH * m.half_width);
            // The whole stroke lies inside the frame: walk the curve in f64 (image point =
            // centre + u·(cos, sin) + v·(−sin, cos)) and keep half a thickness from each edge.
            let r = 0.5 * m.thickness as f64;
            for j in 0..=100 {
                let u = m.half_width as f64 * (j as f64 / 50.0 - 1.0);
                let t = u / m.half_width as f64;
                let v = m.sag as f64 * (0.5 - t * t);
                let x = m.cx as f64 + u * m.cos as f64 - v * m.sin as f64;
                let y = m.cy as f64 + u * m.sin as f64 + v * m.cos as f64;
                assert!(x - r > 0.0 && x + r < 96.0, "{m:?}");
                assert!(y - r > 0.0 && y + r < 64.0, "{m:?}");
            }
            assert!(m.thickness >= 1.0);
            for c in sc.ink.iter().chain(&sc.head_colour).chain(&sc.background) {
                assert!((0.0..=1.0).contains(c));
            }
        }
    }
}
