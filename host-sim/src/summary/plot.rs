//! The PNG plots of the diagnosis: per weight tensor, the Distributions bands of W and of
//! W − W₀ over the summary steps, drawn directly into an RGB buffer with an 8×8 bitmap font
//! (no system fonts, no font files: it works on a fresh machine).

use std::io;
use std::path::Path;

use image::{Rgb, RgbImage};

const WIDTH: u32 = 720;
const PANEL: u32 = 250;
const LEFT: u32 = 88;
const RIGHT: u32 = 16;
const TOP: u32 = 22;
const PLOT_H: u32 = 190;

const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
const INK: Rgb<u8> = Rgb([40, 40, 40]);
const GRID: Rgb<u8> = Rgb([215, 215, 215]);
/// TensorBoard-like orange, outer band (p0–p8) lightest to inner band (p3–p5) darkest.
const BANDS: [Rgb<u8>; 4] = [
    Rgb([255, 224, 196]),
    Rgb([255, 196, 145]),
    Rgb([250, 160, 90]),
    Rgb([235, 125, 45]),
];
const MEDIAN: Rgb<u8> = Rgb([150, 60, 0]);

/// One panel: a title and the nine percentiles at each step.
#[derive(Debug, Clone)]
pub struct Panel<'a> {
    /// Title (ASCII; other characters print as `?`).
    pub title: &'a str,
    /// The summary steps, ascending.
    pub steps: &'a [u64],
    /// The nine percentiles at each step (same length as `steps`).
    pub percentiles: &'a [[f64; 9]],
}

/// Draws `panels` one under the other and writes the PNG to `path`.
///
/// # Errors
/// The PNG encoder's or the file's error.
pub fn write_png(path: &Path, panels: &[Panel<'_>]) -> io::Result<()> {
    let mut img = RgbImage::from_pixel(WIDTH, PANEL * panels.len().max(1) as u32, WHITE);
    for (i, p) in panels.iter().enumerate() {
        draw_panel(&mut img, PANEL * i as u32, p);
    }
    img.save(path).map_err(io::Error::other)
}

fn draw_panel(img: &mut RgbImage, y0: u32, p: &Panel<'_>) {
    draw_text(img, LEFT, y0 + 6, p.title, INK);
    let (x0, plot_w) = (LEFT, WIDTH - LEFT - RIGHT);
    let (top, bottom) = (y0 + TOP, y0 + TOP + PLOT_H - 1);
    if p.steps.is_empty() || p.steps.len() != p.percentiles.len() {
        draw_text(img, x0, top + 20, "no data", INK);
        return;
    }
    let lo = p.percentiles.iter().map(|q| q[0]).fold(f64::MAX, f64::min);
    let hi = p.percentiles.iter().map(|q| q[8]).fold(f64::MIN, f64::max);
    let pad = if hi > lo {
        0.05 * (hi - lo)
    } else {
        lo.abs() * 0.01 + 1e-12
    };
    let (lo, hi) = (lo - pad, hi + pad);
    let to_y = |v: f64| -> f64 { f64::from(bottom) - (v - lo) / (hi - lo) * f64::from(PLOT_H - 1) };
    // Grid: the bottom, middle and top values, labelled; zero if inside.
    for v in [lo, 0.5 * (lo + hi), hi] {
        let y = to_y(v).round() as u32;
        hline(img, x0, x0 + plot_w, y, GRID);
        draw_text(img, 4, y.saturating_sub(4), &format!("{v:+.2e}"), INK);
    }
    if lo < 0.0 && hi > 0.0 {
        hline(
            img,
            x0,
            x0 + plot_w,
            to_y(0.0).round() as u32,
            Rgb([170, 170, 170]),
        );
    }
    let (s0, s1) = (p.steps[0] as f64, p.steps[p.steps.len() - 1] as f64);
    for px in 0..plot_w {
        let t = if plot_w > 1 {
            f64::from(px) / f64::from(plot_w - 1)
        } else {
            0.0
        };
        let q = interpolate(p.steps, p.percentiles, s0 + t * (s1 - s0));
        let x = x0 + px;
        for (b, color) in BANDS.iter().enumerate() {
            let (ya, yb) = (to_y(q[b]), to_y(q[8 - b]));
            vline(img, x, yb.round() as u32, ya.round() as u32, *color);
        }
        let ym = to_y(q[4]).round() as u32;
        vline(img, x, ym.saturating_sub(1), ym, MEDIAN);
    }
    // Axes and step labels.
    hline(img, x0, x0 + plot_w, bottom + 1, INK);
    vline(img, x0.saturating_sub(1), top, bottom + 1, INK);
    let first = format!("step {}", p.steps[0]);
    let last = format!("step {}", p.steps[p.steps.len() - 1]);
    draw_text(img, x0, bottom + 6, &first, INK);
    let w = 8 * last.len() as u32;
    draw_text(img, (x0 + plot_w).saturating_sub(w), bottom + 6, &last, INK);
}

/// The percentiles at step `s`, linear between the two summaries around it.
fn interpolate(steps: &[u64], q: &[[f64; 9]], s: f64) -> [f64; 9] {
    let i = steps.partition_point(|&x| (x as f64) <= s);
    if i == 0 {
        return q[0];
    }
    if i >= steps.len() {
        return q[steps.len() - 1];
    }
    let (a, b) = (steps[i - 1] as f64, steps[i] as f64);
    let t = if b > a { (s - a) / (b - a) } else { 0.0 };
    core::array::from_fn(|k| q[i - 1][k] + t * (q[i][k] - q[i - 1][k]))
}

fn put(img: &mut RgbImage, x: u32, y: u32, c: Rgb<u8>) {
    if x < img.width() && y < img.height() {
        img.put_pixel(x, y, c);
    }
}

fn hline(img: &mut RgbImage, x0: u32, x1: u32, y: u32, c: Rgb<u8>) {
    for x in x0..x1 {
        put(img, x, y, c);
    }
}

fn vline(img: &mut RgbImage, x: u32, y0: u32, y1: u32, c: Rgb<u8>) {
    for y in y0.min(y1)..=y0.max(y1) {
        put(img, x, y, c);
    }
}

/// ASCII text in font8x8's public-domain 8×8 glyphs, top-left corner at (`x`, `y`).
fn draw_text(img: &mut RgbImage, x: u32, y: u32, text: &str, c: Rgb<u8>) {
    for (i, ch) in text.chars().enumerate() {
        let code = if ch.is_ascii() {
            ch as usize
        } else {
            b'?' as usize
        };
        let glyph = font8x8::legacy::BASIC_LEGACY[code];
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..8 {
                if bits >> col & 1 == 1 {
                    put(img, x + 8 * i as u32 + col, y + row as u32, c);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_is_linear_between_summaries_and_flat_outside() {
        let steps = [0, 10];
        let q = [[0.0; 9], [1.0; 9]];
        assert_eq!(interpolate(&steps, &q, 5.0), [0.5; 9]);
        assert_eq!(interpolate(&steps, &q, 10.0), [1.0; 9]);
        assert_eq!(interpolate(&steps, &q, -1.0), [0.0; 9]);
        assert_eq!(interpolate(&steps[..1], &q[..1], 3.0), [0.0; 9]);
    }

    #[test]
    fn a_plot_is_a_png_of_the_expected_size_with_bands_drawn() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.png");
        let steps = [0, 5, 10];
        let q: Vec<[f64; 9]> = (0..3)
            .map(|i| core::array::from_fn(|k| (k as f64 - 4.0) * (1.0 + i as f64)))
            .collect();
        let panels = [
            Panel {
                title: "W",
                steps: &steps,
                percentiles: &q,
            },
            Panel {
                title: "W - W0",
                steps: &steps[..1],
                percentiles: &q[..1],
            },
        ];
        write_png(&path, &panels).unwrap();
        let img = image::open(&path).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (WIDTH, 2 * PANEL));
        let orange = img.pixels().filter(|p| BANDS.contains(p)).count();
        assert!(orange > 10_000, "{orange} band pixels");
    }
}
