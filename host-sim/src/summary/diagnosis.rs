//! The end-of-run learning diagnosis: per parameter tensor, did it learn, and can TensorBoard's
//! Distributions chart show it? Plus the plain-language answer to the seed's question.
//!
//! # Criteria
//! * **Learned**: the final drift ‖W − W₀‖/‖W₀‖ is at least [`LEARNED_DRIFT`] (0.1 %). Adam
//!   moves every weight by about `lr` per step whatever the gradient's size, so a tensor that
//!   receives any gradient passes this after a few steps (at lr 1e-4, σ ≈ 0.03, ten steps give
//!   ≈ √10·1e-4/0.03 ≈ 1 %); a tensor below it has (almost) no gradient reaching it.
//! * **Visible in Distributions**: the largest move of any of the nine percentile lines
//!   between the first and the last summary, `max_i |p_i(last) − p_i(first)|`, is at least
//!   [`VISIBLE_FRACTION`] (5 %) of the chart's vertical range, `max_t p_8(t) − min_t p_0(t)`
//!   (the y-axis TensorBoard fits to the whole series). The chart is about 200 px tall, so 5 % is
//!   ≈ 10 px: a band that moves less reads as a flat band; one pixel (0.5 %) is not a
//!   perceptible trend.

use std::fmt::Write as _;

use super::history::Record;

/// Final drift at and above which a tensor counts as having learned.
pub const LEARNED_DRIFT: f64 = 1e-3;
/// Percentile move, as a fraction of the chart's range, at and above which the move is visible.
pub const VISIBLE_FRACTION: f64 = 0.05;

/// The verdict on one tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It moved, and the Distributions chart shows it.
    LearnedVisible,
    /// It moved, but its percentile lines shift by less than [`VISIBLE_FRACTION`] of the chart.
    LearnedInvisible,
    /// Its drift stayed under [`LEARNED_DRIFT`].
    NotLearning,
}

impl Verdict {
    /// The verdict in words.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::LearnedVisible => "learned, visible",
            Self::LearnedInvisible => "learned, invisible in Distributions",
            Self::NotLearning => "not learning",
        }
    }
}

/// The diagnosis of one tensor over a run.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorDiagnosis {
    /// The tensor's tag.
    pub tag: String,
    /// Weight (`true`) or bias.
    pub is_weight: bool,
    /// Number of values.
    pub len: usize,
    /// Standard deviation of W₀.
    pub initial_spread: f64,
    /// Drift at the last summary.
    pub drift: f64,
    /// RMS move per value at the last summary, ‖W − W₀‖/√n.
    pub rms_move: f64,
    /// Mean of the update ratios over the summaries.
    pub mean_update_ratio: f64,
    /// `max_i |p_i(last) − p_i(first)|`.
    pub percentile_move: f64,
    /// `max_t p_8(t) − min_t p_0(t)`.
    pub chart_range: f64,
    /// First and last summary step.
    pub steps: (u64, u64),
    /// The verdict.
    pub verdict: Verdict,
}

impl TensorDiagnosis {
    /// `percentile_move / chart_range` (0 for a chart of zero height: nothing moved).
    pub fn visible_fraction(&self) -> f64 {
        if self.chart_range > 0.0 {
            self.percentile_move / self.chart_range
        } else {
            0.0
        }
    }
}

/// A tensor to diagnose: tag, weight or bias, number of values, σ of W₀.
#[derive(Debug, Clone, Copy)]
pub struct TensorInfo {
    /// The tensor's tag.
    pub tag: &'static str,
    /// Weight (`true`) or bias.
    pub is_weight: bool,
    /// Number of values.
    pub len: usize,
    /// σ of W₀.
    pub initial_spread: f64,
}

/// Diagnoses every tensor of `tensors` (in that order) from its records; a tensor with no record
/// is left out.
pub fn diagnose(tensors: &[TensorInfo], records: &[Record]) -> Vec<TensorDiagnosis> {
    let mut out = Vec::new();
    for t in tensors {
        let mine: Vec<&Record> = records.iter().filter(|r| r.tag == t.tag).collect();
        let (Some(first), Some(last)) = (mine.first(), mine.last()) else {
            continue;
        };
        let percentile_move = first
            .w
            .iter()
            .zip(&last.w)
            .map(|(a, b)| (b - a).abs())
            .fold(0.0, f64::max);
        let top = mine.iter().map(|r| r.w[8]).fold(f64::MIN, f64::max);
        let bottom = mine.iter().map(|r| r.w[0]).fold(f64::MAX, f64::min);
        let mean_update_ratio =
            mine.iter().map(|r| r.update_ratio).sum::<f64>() / mine.len() as f64;
        let mut d = TensorDiagnosis {
            tag: t.tag.to_owned(),
            is_weight: t.is_weight,
            len: t.len,
            initial_spread: t.initial_spread,
            drift: last.drift,
            rms_move: last.rms_move,
            mean_update_ratio,
            percentile_move,
            chart_range: (top - bottom).max(0.0),
            steps: (first.step, last.step),
            verdict: Verdict::NotLearning,
        };
        d.verdict = if d.drift < LEARNED_DRIFT {
            Verdict::NotLearning
        } else if d.visible_fraction() >= VISIBLE_FRACTION {
            Verdict::LearnedVisible
        } else {
            Verdict::LearnedInvisible
        };
        out.push(d);
    }
    out
}

fn pct(x: f64) -> String {
    format!("{:.2} %", 100.0 * x)
}

/// The table as plain text (what the trainer prints at the end of a run).
pub fn table(diags: &[TensorDiagnosis]) -> String {
    let mut s = format!(
        "{:<18} {:>10} {:>9} {:>10} {:>11} {:>10}  {}\n",
        "tensor", "σ(W₀)", "drift", "rms move", "upd ratio", "pct move", "verdict"
    );
    for d in diags {
        let _ = writeln!(
            s,
            "{:<18} {:>10.3e} {:>9} {:>10.2e} {:>11.2e} {:>10}  {}",
            d.tag,
            d.initial_spread,
            pct(d.drift),
            d.rms_move,
            d.mean_update_ratio,
            pct(d.visible_fraction()),
            d.verdict.as_str()
        );
    }
    s
}

fn range_of(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.fold(None, |acc, x| match acc {
        None => Some((x, x)),
        Some((lo, hi)) => Some((lo.min(x), hi.max(x))),
    })
}

fn span(r: Option<(f64, f64)>, f: impl Fn(f64) -> String) -> String {
    match r {
        None => "—".to_owned(),
        Some((lo, hi)) if f(lo) == f(hi) => f(lo),
        Some((lo, hi)) => format!("{}–{}", f(lo), f(hi)),
    }
}

/// The plain-language answer to "did the weights learn, and why do they look frozen while the
/// biases move?", generated from the numbers.
pub fn answer(diags: &[TensorDiagnosis]) -> String {
    let weights: Vec<&TensorDiagnosis> = diags.iter().filter(|d| d.is_weight).collect();
    let biases: Vec<&TensorDiagnosis> = diags.iter().filter(|d| !d.is_weight).collect();
    let count = |v: &[&TensorDiagnosis], verdict: Verdict| {
        v.iter().filter(|d| d.verdict == verdict).count()
    };
    let learned: Vec<&TensorDiagnosis> = weights
        .iter()
        .copied()
        .filter(|d| d.verdict != Verdict::NotLearning)
        .collect();
    let invisible: Vec<&TensorDiagnosis> = weights
        .iter()
        .copied()
        .filter(|d| d.verdict == Verdict::LearnedInvisible)
        .collect();
    let mut s = String::new();
    let yes = match learned.len() {
        0 => "No",
        n if n == weights.len() => "Yes",
        _ => "Partly",
    };
    let _ = write!(
        s,
        "**Did the weights learn?** {yes}: {} of {} weight tensors moved by at least {} of their norm \
         (drift {}; each step changes a tensor by {} of its norm on average).",
        learned.len(),
        weights.len(),
        pct(LEARNED_DRIFT),
        span(range_of(learned.iter().map(|d| d.drift)), pct),
        span(
            range_of(learned.iter().map(|d| d.mean_update_ratio)),
            |x| format!("{x:.1e}")
        ),
    );
    if !invisible.is_empty() {
        let names: Vec<&str> = invisible.iter().map(|d| d.tag.as_str()).collect();
        let _ = write!(
            s,
            "\n\n**Why do they look frozen?** In {} ({}), a typical weight moved by {} (RMS of \
             W − W₀) while the weights started spread with σ = {}: the move is {} of the spread, \
             so the nine percentile lines of the Distributions chart shift by only {} of the \
             chart's height — less than the {} (about 10 px) an eye notices. Adam's steps are about \
             `lr` per weight and change sign from step to step, so the net move grows like √T·lr, \
             not T·lr.",
            if invisible.len() == weights.len() {
                "every weight tensor".to_owned()
            } else {
                format!("{} of {} weight tensors", invisible.len(), weights.len())
            },
            names.join(", "),
            span(range_of(invisible.iter().map(|d| d.rms_move)), |x| format!(
                "{x:.1e}"
            )),
            span(
                range_of(invisible.iter().map(|d| d.initial_spread)),
                |x| format!("{x:.3}")
            ),
            span(
                range_of(
                    invisible
                        .iter()
                        .map(|d| d.rms_move / d.initial_spread.max(f64::MIN_POSITIVE))
                ),
                pct
            ),
            span(range_of(invisible.iter().map(|d| d.visible_fraction())), pct),
            pct(VISIBLE_FRACTION),
        );
    }
    let visible_w: Vec<&str> = weights
        .iter()
        .filter(|d| d.verdict == Verdict::LearnedVisible)
        .map(|d| d.tag.as_str())
        .collect();
    if !visible_w.is_empty() {
        let _ = write!(
            s,
            " Visible weight tensors: {} (a narrow start, such as softmax_weights' σ = 1/1024, \
             leaves the same moves room to show).",
            visible_w.join(", ")
        );
    }
    let _ = write!(
        s,
        "\n\n**Why do the biases move?** {} of {} bias tensors show their learning in the \
         Distributions chart. A bias tensor starts as a spike — every value exactly 0.1 (or 0 for \
         softmax_biases) — so the chart's range at the start is zero and is made of the moves \
         alone: the same lr-sized steps open a fan that fills the chart.",
        count(&biases, Verdict::LearnedVisible),
        biases.len()
    );
    let _ = write!(
        s,
        "\n\n**What to look at instead:** the `<tag>/delta_from_init` histograms (W − W₀, centred on \
         zero, so the chart's range is the moves themselves), the `drift/<tag>` and \
         `update_ratio/<tag>` scalars, and the plots below."
    );
    s
}

/// `diagnosis.md`: the criteria, the table, a plot per weight tensor and the answer.
///
/// `plots` lists `(tag, path relative to diagnosis.md)` of the weight plots.
pub fn markdown(run: &str, diags: &[TensorDiagnosis], plots: &[(String, String)]) -> String {
    let mut s = format!("# Learning diagnosis — {run}\n\n");
    let steps = diags.first().map_or((0, 0), |d| d.steps);
    let _ = writeln!(
        s,
        "Summaries from step {} to step {}. Per parameter tensor: σ(W₀), the spread it started \
         with; drift ‖W − W₀‖/‖W₀‖ at the last summary (for a tensor that starts at zero, \
         ‖W − W₀‖/‖W‖); the RMS move per value ‖W − W₀‖/√n; the mean update ratio ‖ΔW‖/‖W‖ of \
         one step; and *pct move*, how far the nine Distributions percentiles moved between the \
         first and the last summary, as a fraction of the chart's vertical range \
         (max p₁₀₀ − min p₀ over the run).\n\n\
         Verdicts: *learned* when the drift is at least {}; *visible* when the percentile move \
         is at least {} of the chart's range (≈ 10 px of TensorBoard's ≈ 200-px chart).\n",
        steps.0,
        steps.1,
        pct(LEARNED_DRIFT),
        pct(VISIBLE_FRACTION)
    );
    s.push_str(
        "| tensor | values | σ(W₀) | drift | RMS move | mean update ratio | pct move / chart range | verdict |\n\
         |---|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for d in diags {
        let _ = writeln!(
            s,
            "| `{}` | {} | {:.3e} | {} | {:.2e} | {:.2e} | {} | {} |",
            d.tag,
            d.len,
            d.initial_spread,
            pct(d.drift),
            d.rms_move,
            d.mean_update_ratio,
            pct(d.visible_fraction()),
            d.verdict.as_str()
        );
    }
    s.push_str("\n## The answer\n\n");
    s.push_str(&answer(diags));
    s.push_str("\n\n## Plots\n\nEach plot shows, over the summary steps, the nine percentile bands of W as TensorBoard's Distributions chart draws them (top) and the same bands of W − W₀ (bottom).\n\n");
    for (tag, path) in plots {
        let _ = writeln!(s, "### `{tag}`\n\n![{tag}]({path})\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(step: u64, tag: &str, w: [f64; 9], drift: f64) -> Record {
        Record {
            step,
            tag: tag.to_owned(),
            drift,
            update_ratio: 1e-3,
            rms_move: drift * 0.02,
            w,
            delta: [0.0; 9],
        }
    }

    fn spread(lo: f64, hi: f64) -> [f64; 9] {
        core::array::from_fn(|i| lo + (hi - lo) * i as f64 / 8.0)
    }

    #[test]
    fn verdicts_follow_the_thresholds() {
        let tensors = [
            TensorInfo {
                tag: "w_frozen_look",
                is_weight: true,
                len: 100,
                initial_spread: 0.02,
            },
            TensorInfo {
                tag: "b_spike",
                is_weight: false,
                len: 10,
                initial_spread: 0.0,
            },
            TensorInfo {
                tag: "w_dead",
                is_weight: true,
                len: 100,
                initial_spread: 0.02,
            },
        ];
        let records = vec![
            rec(0, "w_frozen_look", spread(-0.04, 0.04), 0.0),
            rec(0, "b_spike", [0.1; 9], 0.0),
            rec(0, "w_dead", spread(-0.04, 0.04), 0.0),
            // Shifted by 0.0008; the chart spans -0.04 to 0.0408 over the run.
            rec(9, "w_frozen_look", spread(-0.0392, 0.0408), 0.03),
            rec(9, "b_spike", spread(0.099, 0.101), 0.01),
            rec(9, "w_dead", spread(-0.04, 0.04), 1e-4),
        ];
        let d = diagnose(&tensors, &records);
        assert_eq!(d.len(), 3);
        assert_eq!(d[0].verdict, Verdict::LearnedInvisible);
        assert!((d[0].visible_fraction() - 0.0008 / 0.0808).abs() < 1e-9);
        assert_eq!(d[1].verdict, Verdict::LearnedVisible);
        // The spike's range is the fan itself: a 0.001 move over a 0.002 range.
        assert!((d[1].visible_fraction() - 0.5).abs() < 1e-9);
        assert_eq!(d[2].verdict, Verdict::NotLearning);
        assert_eq!(d[0].steps, (0, 9));
        let a = answer(&d);
        assert!(
            a.starts_with("**Did the weights learn?** Partly: 1 of 2"),
            "{a}"
        );
        assert!(a.contains("w_frozen_look"), "{a}");
        assert!(a.contains("1 of 1 bias tensors"), "{a}");
        let md = markdown("r", &d, &[("w".into(), "diagnosis/w.png".into())]);
        assert!(md.contains("| `b_spike` | 10 |"), "{md}");
        assert!(md.contains("![w](diagnosis/w.png)"), "{md}");
        assert!(table(&d).lines().count() == 4);
    }
}
