//! The per-tensor band plots of the diagnosis: the Distributions bands of W and of W − W₀ over
//! the summary steps, each panel with its legend and zero line.

use std::io;
use std::path::Path;

use image::{Rgb, RgbImage};

use super::canvas::{self, dashed_hline, hline, rect, text, vline, CHAR_W, GRID, INK, WHITE};

const WIDTH: u32 = 720;
const PANEL: u32 = 268;
const LEFT: u32 = 88;
const RIGHT: u32 = 16;
const TOP: u32 = 22;
const PLOT_H: u32 = 190;

/// TensorBoard-like orange, outer band (min–max) lightest to inner band (p3–p5) darkest.
pub const BANDS: [Rgb<u8>; 4] = [
    Rgb([255, 224, 196]),
    Rgb([255, 196, 145]),
    Rgb([250, 160, 90]),
    Rgb([235, 125, 45]),
];
const MEDIAN: Rgb<u8> = Rgb([150, 60, 0]);
/// The zero line, drawn over the bands so it shows through them.
pub const ZERO: Rgb<u8> = Rgb([30, 90, 200]);
/// What each colour is: the bands between TensorBoard's basis points.
const LEGEND: [(&str, Rgb<u8>); 6] = [
    ("min-max", BANDS[0]),
    ("6.7-93.3%", BANDS[1]),
    ("15.9-84.1%", BANDS[2]),
    ("30.9-69.1%", BANDS[3]),
    ("median", MEDIAN),
    ("zero", ZERO),
];

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
    canvas::save(&img, path)
}

fn draw_panel(img: &mut RgbImage, y0: u32, p: &Panel<'_>) {
    text(img, LEFT, y0 + 6, p.title, INK);
    let (x0, plot_w) = (LEFT, WIDTH - LEFT - RIGHT);
    let (top, bottom) = (y0 + TOP, y0 + TOP + PLOT_H - 1);
    if p.steps.is_empty() || p.steps.len() != p.percentiles.len() {
        text(img, x0, top + 20, "no data", INK);
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
    // Grid: the bottom, middle and top values, labelled.
    for v in [lo, 0.5 * (lo + hi), hi] {
        let y = to_y(v).round() as u32;
        hline(img, x0, x0 + plot_w, y, GRID);
        text(img, 4, y.saturating_sub(4), &format!("{v:+.2e}"), INK);
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
    if lo <= 0.0 && hi >= 0.0 {
        let y = to_y(0.0).round() as u32;
        dashed_hline(img, x0, x0 + plot_w, y, ZERO, 0);
        text(img, x0 + plot_w - CHAR_W, y.saturating_sub(10), "0", ZERO);
    } else {
        let where_ = if lo > 0.0 { "below" } else { "above" };
        text(
            img,
            x0 + 4,
            top + 4,
            &format!("(zero is {where_} the chart)"),
            ZERO,
        );
    }
    // Axes, step labels and the legend.
    hline(img, x0, x0 + plot_w, bottom + 1, INK);
    vline(img, x0.saturating_sub(1), top, bottom + 1, INK);
    let first = format!("step {}", p.steps[0]);
    let last = format!("step {}", p.steps[p.steps.len() - 1]);
    text(img, x0, bottom + 6, &first, INK);
    let w = CHAR_W * last.len() as u32;
    text(img, (x0 + plot_w).saturating_sub(w), bottom + 6, &last, INK);
    let mut x = x0;
    let y = bottom + 22;
    for (label, color) in LEGEND {
        rect(img, x, y, 14, 8, color);
        text(img, x + 18, y, label, INK);
        x += 18 + CHAR_W * label.len() as u32 + 12;
    }
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
    fn a_plot_has_bands_a_zero_line_and_a_legend() {
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
        // The percentiles are symmetric about 0, so the zero line is the plot's middle row
        // (y = 22 + 189 − 94.5 = 116.5, rounded to 117): dashes across the plot, over the bands.
        let y = TOP + PLOT_H / 2;
        let row = (LEFT..WIDTH - RIGHT)
            .filter(|&x| img.get_pixel(x, y) == &ZERO)
            .count();
        assert!(row > 250, "{row} zero-line pixels on row {y}");
        // The legend's swatches: each colour in a 14×8 box under the plot.
        let legend_y = TOP + PLOT_H - 1 + 22;
        for c in [BANDS[0], BANDS[3], MEDIAN, ZERO] {
            let n = (LEFT..WIDTH)
                .filter(|&x| img.get_pixel(x, legend_y + 2) == &c)
                .count();
            assert!(n >= 14, "{c:?}: {n}");
        }
    }
}
