//! The overview picture at the top of `diagnosis.md`: the loss with the held-out and
//! constant-predictor lines (is the model improving?), and every tensor's drift (is it
//! receiving updates?), one above the other.

use std::io;
use std::path::Path;

use image::{Rgb, RgbImage};

use super::canvas::{self, dashed_hline, hline, line, rect, text, vline, CHAR_W, GRID, INK, WHITE};
use super::diagnosis::HeldOut;

const WIDTH: u32 = 720;
const LEFT: u32 = 88;
const RIGHT: u32 = 16;
const PLOT_H: u32 = 190;
const LOSS_PANEL: u32 = 262;
const LEGEND_ROW: u32 = 12;

const RAW: Rgb<u8> = Rgb([185, 185, 185]);
/// The held-out error's line.
pub const HELD_OUT: Rgb<u8> = Rgb([30, 90, 200]);
/// The constant predictor's line.
pub const CONSTANT: Rgb<u8> = Rgb([210, 40, 40]);
/// One colour per layer; a layer's weights are solid, its biases dashed.
const LAYERS: [Rgb<u8>; 8] = [
    Rgb([31, 119, 180]),
    Rgb([255, 127, 14]),
    Rgb([44, 160, 44]),
    Rgb([214, 39, 40]),
    Rgb([148, 103, 189]),
    Rgb([140, 86, 75]),
    Rgb([227, 119, 194]),
    Rgb([80, 80, 80]),
];

/// One tensor's drift over the summary steps.
#[derive(Debug, Clone)]
pub struct Drift<'a> {
    /// The tensor's tag.
    pub tag: &'a str,
    /// Weight (solid line) or bias (dashed).
    pub is_weight: bool,
    /// `(step, drift)` per summary.
    pub points: Vec<(u64, f64)>,
}

/// What the overview shows.
#[derive(Debug, Clone)]
pub struct Overview<'a> {
    /// `(step, loss)` per step.
    pub loss: &'a [(u64, f32)],
    /// The held-out evaluation, drawn as two horizontal lines in the loss's units.
    pub held_out: Option<HeldOut>,
    /// The step where the run diverged, marked with a vertical line.
    pub diverged_at: Option<u64>,
    /// Every tensor's drift, in parameter order (weight, bias, weight, …).
    pub drift: &'a [Drift<'a>],
}

/// Maps steps to x pixels over the plot's width.
#[derive(Debug, Clone, Copy)]
struct Steps {
    first: f64,
    last: f64,
}

impl Steps {
    fn x(self, step: u64) -> f64 {
        let plot_w = f64::from(WIDTH - LEFT - RIGHT - 1);
        let span = (self.last - self.first).max(1.0);
        f64::from(LEFT) + (step as f64 - self.first) / span * plot_w
    }
}

/// Draws the overview and writes the PNG to `path`.
///
/// # Errors
/// The PNG encoder's or the file's error.
pub fn write_png(path: &Path, o: &Overview<'_>) -> io::Result<()> {
    let legend_rows = (o.drift.len() as u32).div_ceil(4) + 1;
    let height = LOSS_PANEL + 22 + PLOT_H + 26 + LEGEND_ROW * legend_rows + 8;
    let mut img = RgbImage::from_pixel(WIDTH, height, WHITE);
    let all_steps = o
        .loss
        .iter()
        .map(|p| p.0)
        .chain(o.drift.iter().flat_map(|d| d.points.iter().map(|p| p.0)));
    let (first, last) = all_steps.fold((u64::MAX, 0), |(a, b), s| (a.min(s), b.max(s)));
    let steps = Steps {
        first: first.min(last) as f64,
        last: last as f64,
    };
    loss_panel(&mut img, 0, steps, o);
    drift_panel(&mut img, LOSS_PANEL, steps, o.drift);
    canvas::save(&img, path)
}

/// Frame, y labels and x labels of a plot whose area starts at `top`.
fn frame(img: &mut RgbImage, top: u32, steps: Steps, labels: &[(f64, String)]) {
    let bottom = top + PLOT_H - 1;
    for (y, label) in labels {
        let y = y.round() as u32;
        hline(img, LEFT, WIDTH - RIGHT, y, GRID);
        text(img, 4, y.saturating_sub(4), label, INK);
    }
    hline(img, LEFT, WIDTH - RIGHT, bottom + 1, INK);
    vline(img, LEFT - 1, top, bottom + 1, INK);
    let first = format!("step {}", steps.first);
    let last = format!("step {}", steps.last);
    text(img, LEFT, bottom + 6, &first, INK);
    let w = CHAR_W * last.len() as u32;
    text(img, WIDTH - RIGHT - w, bottom + 6, &last, INK);
}

fn loss_panel(img: &mut RgbImage, y0: u32, steps: Steps, o: &Overview<'_>) {
    let top = y0 + 22;
    let bottom = f64::from(top + PLOT_H - 1);
    text(
        img,
        LEFT,
        y0 + 6,
        "Is the model improving? loss per step, held-out error, constant predictor",
        INK,
    );
    let finite: Vec<(u64, f64)> = o
        .loss
        .iter()
        .filter(|p| p.1.is_finite())
        .map(|&(s, l)| (s, f64::from(l)))
        .collect();
    // A run logged without its held-out mean confidence (NaN) gets no lines: they would be in
    // other units than the loss.
    let lines: Vec<(f64, Rgb<u8>)> = o.held_out.map_or_else(Vec::new, |h| {
        vec![
            (h.error * h.mean_confidence, HELD_OUT),
            (h.constant_error * h.mean_confidence, CONSTANT),
        ]
    });
    let lines: Vec<(f64, Rgb<u8>)> = lines.into_iter().filter(|l| l.0.is_finite()).collect();
    let values = finite.iter().map(|p| p.1).chain(lines.iter().map(|l| l.0));
    let (lo, hi) = values.fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    let (lo, hi) = if lo > hi {
        (0.0, 1.0)
    } else {
        // A flat or one-point series still gets a readable axis: ±5 % of its value.
        let pad = 0.05 * (hi - lo).max(0.1 * hi.abs()).max(1e-6);
        ((lo - pad).max(0.0), hi + pad)
    };
    let to_y = |v: f64| bottom - (v - lo) / (hi - lo) * f64::from(PLOT_H - 1);
    let labels: Vec<(f64, String)> = [lo, 0.5 * (lo + hi), hi]
        .iter()
        .map(|&v| (to_y(v), format!("{v:.3}")))
        .collect();
    frame(img, top, steps, &labels);
    for w in finite.windows(2) {
        let (a, b) = (
            (steps.x(w[0].0), to_y(w[0].1)),
            (steps.x(w[1].0), to_y(w[1].1)),
        );
        line(img, a, b, RAW, false);
    }
    // A moving average over about 1/30 of the run: the trend through the batch noise.
    let k = (finite.len() / 30).max(1);
    let avg: Vec<(u64, f64)> = finite
        .windows(k)
        .map(|w| {
            (
                w[w.len() - 1].0,
                w.iter().map(|p| p.1).sum::<f64>() / k as f64,
            )
        })
        .collect();
    for w in avg.windows(2) {
        let (a, b) = (
            (steps.x(w[0].0), to_y(w[0].1)),
            (steps.x(w[1].0), to_y(w[1].1)),
        );
        line(img, a, b, INK, false);
    }
    for (i, &(v, c)) in lines.iter().enumerate() {
        let y = to_y(v).round() as u32;
        let phase = 5 * i as u32;
        dashed_hline(img, LEFT, WIDTH - RIGHT, y, c, phase);
        dashed_hline(img, LEFT, WIDTH - RIGHT, y + 1, c, phase);
    }
    if let Some(step) = o.diverged_at {
        let x = steps.x(step).round() as u32;
        vline(img, x, top, bottom as u32, CONSTANT);
        let label = format!("diverged at step {step}");
        let lx = x.min(WIDTH - RIGHT - CHAR_W * label.len() as u32);
        text(img, lx, top + 4, &label, CONSTANT);
    }
    let y = bottom as u32 + 22;
    let mut x = LEFT;
    let mut legend: Vec<(&str, Rgb<u8>)> = vec![("loss", RAW), ("moving average", INK)];
    if !lines.is_empty() {
        legend.push(("held-out error", HELD_OUT));
        legend.push(("constant predictor", CONSTANT));
    }
    for (label, c) in legend {
        rect(img, x, y, 14, 8, c);
        text(img, x + 18, y, label, INK);
        x += 18 + CHAR_W * label.len() as u32 + 12;
    }
}

fn drift_panel(img: &mut RgbImage, y0: u32, steps: Steps, drift: &[Drift<'_>]) {
    let top = y0 + 22;
    let bottom = f64::from(top + PLOT_H - 1);
    text(
        img,
        LEFT,
        y0 + 6,
        "Receiving updates? drift |W - W0| / |W0| per tensor (log scale)",
        INK,
    );
    // Drift is 0 at step 0 and cannot be drawn on a log scale: positive finite values only.
    let positive = |d: &Drift<'_>| -> Vec<(u64, f64)> {
        d.points
            .iter()
            .filter(|p| p.1 > 0.0 && p.1.is_finite())
            .copied()
            .collect()
    };
    let all: Vec<f64> = drift.iter().flat_map(&positive).map(|p| p.1).collect();
    let lo = all.iter().copied().fold(f64::MAX, f64::min);
    let hi = all.iter().copied().fold(f64::MIN, f64::max);
    let (lo, hi) = if lo > hi {
        (-4.0, 0.0)
    } else {
        let (a, b) = (lo.log10().floor(), hi.log10().ceil());
        (a, if b > a { b } else { a + 1.0 })
    };
    let to_y = |v: f64| bottom - (v.log10() - lo) / (hi - lo) * f64::from(PLOT_H - 1);
    let labels: Vec<(f64, String)> = (lo as i32..=hi as i32)
        .map(|e| (to_y(10f64.powi(e)), format!("1e{e}")))
        .collect();
    frame(img, top, steps, &labels);
    for (i, d) in drift.iter().enumerate() {
        let c = LAYERS[(i / 2) % LAYERS.len()];
        let pts = positive(d);
        for w in pts.windows(2) {
            let (a, b) = (
                (steps.x(w[0].0), to_y(w[0].1)),
                (steps.x(w[1].0), to_y(w[1].1)),
            );
            line(img, a, b, c, !d.is_weight);
        }
    }
    // Legend: four tensors a row, a solid or dashed stroke in the layer's colour.
    let y = bottom as u32 + 22;
    text(img, LEFT, y, "solid: weights, dashed: biases", INK);
    for (i, d) in drift.iter().enumerate() {
        let c = LAYERS[(i / 2) % LAYERS.len()];
        let (col, row) = (i as u32 % 4, i as u32 / 4 + 1);
        let (x, yy) = (LEFT - 80 + col * 176, y + row * LEGEND_ROW);
        let mid = f64::from(yy + 4);
        line(
            img,
            (f64::from(x), mid),
            (f64::from(x + 20), mid),
            c,
            !d.is_weight,
        );
        line(
            img,
            (f64::from(x), mid + 1.0),
            (f64::from(x + 20), mid + 1.0),
            c,
            !d.is_weight,
        );
        text(img, x + 24, yy, d.tag, INK);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overview_draws_loss_lines_and_every_tensor() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("overview.png");
        let loss: Vec<(u64, f32)> = (0..100).map(|s| (s, 0.5 - 0.002 * s as f32)).collect();
        let tags = [
            "weights_conv1",
            "biases_conv1",
            "softmax_weights",
            "softmax_biases",
        ];
        let drift: Vec<Drift<'_>> = tags
            .iter()
            .enumerate()
            .map(|(i, tag)| Drift {
                tag,
                is_weight: i % 2 == 0,
                points: (0..10u64)
                    .map(|k| (10 * k, 1e-3 * (k * (i as u64 + 1)) as f64))
                    .collect(),
            })
            .collect();
        let o = Overview {
            loss: &loss,
            held_out: Some(HeldOut {
                error: 0.5,
                constant_error: 0.6,
                mean_confidence: 0.5,
                classes: None,
            }),
            diverged_at: None,
            drift: &drift,
        };
        write_png(&path, &o).unwrap();
        let img = image::open(&path).unwrap().to_rgb8();
        assert_eq!(img.width(), WIDTH);
        let count = |c: Rgb<u8>| img.pixels().filter(|p| **p == c).count();
        // Two dashed 2-px lines across the plot, plus their legend swatches.
        assert!(count(HELD_OUT) > 600, "{}", count(HELD_OUT));
        assert!(count(CONSTANT) > 600, "{}", count(CONSTANT));
        assert!(count(RAW) > 300, "{}", count(RAW));
        for c in &LAYERS[..2] {
            assert!(count(*c) > 200, "{c:?}: {}", count(*c));
        }
    }
}
