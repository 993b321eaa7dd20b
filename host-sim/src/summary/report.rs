//! The diagnosis in words: the table the trainer prints, the answer to the seed's question, the
//! advice, and `diagnosis.md`. Every sentence is generated from the numbers of
//! [`super::diagnosis`], so the wording cannot drift from them.

use std::fmt::Write as _;

use super::diagnosis::{
    LayerHealth, Progress, RunDiagnosis, TensorDiagnosis, UpdateSize, Updates, Visibility,
    CHART_HEIGHT_PX, DEAD_FLAG, IMPROVING_RATIO, RECEIVING_DRIFT, TYPICAL_UPDATE_RATIO,
    UPDATE_RATIO_FACTOR, VISIBLE_FRACTION,
};

/// The words of the per-tensor verdict, "moves but the model does not improve" among them.
pub fn verdict(d: &TensorDiagnosis, run: &RunDiagnosis) -> String {
    match (run.progress, d.updates) {
        (Progress::Diverged(step), _) => format!("diverged at step {step}"),
        (_, Updates::NotReceiving) => "not receiving updates".to_owned(),
        (Progress::NotImproving, Updates::Receiving) => {
            "moves but the model does not improve".to_owned()
        }
        (Progress::Improving, Updates::Receiving) => "moves; the model improves".to_owned(),
    }
}

fn pct(x: f64) -> String {
    format!("{:.2} %", 100.0 * x)
}

fn px(fraction: f64) -> String {
    format!("{:.1} px", fraction * f64::from(CHART_HEIGHT_PX))
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

fn sci(x: f64) -> String {
    format!("{x:.1e}")
}

/// The table as plain text (what the trainer prints at the end of a run).
pub fn table(diags: &[TensorDiagnosis], run: &RunDiagnosis) -> String {
    let mut s = format!(
        "{:<18} {:>10} {:>9} {:>10} {:>10} {:>8} {:>8}  {:<20} {}\n",
        "tensor",
        "σ(W₀)",
        "drift",
        "rms move",
        "upd ratio",
        "inner",
        "min/max",
        "Distributions",
        "verdict"
    );
    for d in diags {
        let _ = writeln!(
            s,
            "{:<18} {:>10.3e} {:>9} {:>10.2e} {:>10.2e} {:>8} {:>8}  {:<20} {}",
            d.tag,
            d.initial_spread,
            pct(d.drift),
            d.rms_move,
            d.mean_update_ratio,
            pct(d.inner_fraction()),
            pct(d.outer_fraction()),
            d.visibility.as_str(),
            verdict(d, run)
        );
    }
    s
}

/// "Is the model improving?" in words.
fn progress_answer(run: &RunDiagnosis) -> String {
    let trend = run.loss_trend.map_or_else(String::new, |(a, b)| {
        format!(
            " The training loss went from {a:.4} (mean of the run's first tenth of steps) to \
             {b:.4} (last tenth), {:+.1} %.",
            100.0 * (b / a - 1.0)
        )
    });
    let held = run.held_out.map_or_else(
        || " There is no held-out error.".to_owned(),
        |h| match h.classes {
            Some(k) => format!(
                " The held-out error rate (1 − accuracy) is {:.4} against {:.4} for always \
                 answering the most frequent class (ratio {:.2}; improving means at most {:.2}); \
                 chance is 1/{k}.",
                h.error,
                h.constant_error,
                h.error / h.constant_error,
                IMPROVING_RATIO
            ),
            None => format!(
                " The held-out weighted error is {:.4} against {:.4} for the best constant \
                 predictor (ratio {:.2}; improving means at most {:.2}).",
                h.error,
                h.constant_error,
                h.error / h.constant_error,
                IMPROVING_RATIO
            ),
        },
    );
    match run.progress {
        Progress::Diverged(step) => format!(
            "**Is the model improving?** No — **the run diverged at step {step}**: its loss \
             became non-finite (NaN or ±inf) and training stopped; nothing after that step \
             means anything.{trend}"
        ),
        Progress::Improving => format!("**Is the model improving?** Yes.{held}{trend}"),
        Progress::NotImproving => format!("**Is the model improving?** No.{held}{trend}"),
    }
}

/// "Are the tensors receiving updates?" in words.
fn updates_answer(diags: &[TensorDiagnosis], run: &RunDiagnosis) -> String {
    let moving: Vec<&TensorDiagnosis> = diags
        .iter()
        .filter(|d| d.updates == Updates::Receiving)
        .collect();
    let yes = match moving.len() {
        0 => "No",
        n if n == diags.len() => "Yes",
        _ => "Partly",
    };
    let mut s = format!(
        "**Are the tensors receiving updates?** {yes}: {} of {} parameter tensors moved by at \
         least {} of their norm (drift {}; one step changes a tensor by {} of its norm on \
         average).",
        moving.len(),
        diags.len(),
        pct(RECEIVING_DRIFT),
        span(range_of(moving.iter().map(|d| d.drift)), pct),
        span(range_of(moving.iter().map(|d| d.mean_update_ratio)), sci),
    );
    let still: Vec<&str> = diags
        .iter()
        .filter(|d| d.updates == Updates::NotReceiving)
        .map(|d| d.tag.as_str())
        .collect();
    if !still.is_empty() {
        let _ = write!(
            s,
            " Not receiving updates: {} (no gradient reaches them: look for dead units below).",
            still.join(", ")
        );
    }
    if !moving.is_empty() && run.progress == Progress::NotImproving {
        s.push_str(
            " **The tensors move but the model does not improve**: moving is not learning \
             (Adam moves every weight by about `lr` per step whatever its gradient).",
        );
    }
    s
}

/// Why some tensors look frozen in the Distributions chart and others do not.
fn visibility_answer(diags: &[TensorDiagnosis]) -> String {
    let weights: Vec<&TensorDiagnosis> = diags.iter().filter(|d| d.is_weight).collect();
    let biases: Vec<&TensorDiagnosis> = diags.iter().filter(|d| !d.is_weight).collect();
    let not_inner: Vec<&TensorDiagnosis> = weights
        .iter()
        .copied()
        .filter(|d| d.visibility != Visibility::InnerBand)
        .collect();
    let mut s = format!(
        "**Can the Distributions chart show it?** Judged on the seven inner percentile lines \
         (6.7 %…93.3 %, the band the eye reads) and, apart, on the min/max lines, each as a \
         fraction of the chart's range; a move of {} of the range is {} of TensorBoard 2.21's \
         ≈{CHART_HEIGHT_PX}-px chart.",
        pct(VISIBLE_FRACTION),
        px(VISIBLE_FRACTION),
    );
    if !not_inner.is_empty() {
        let names: Vec<&str> = not_inner.iter().map(|d| d.tag.as_str()).collect();
        let _ = write!(
            s,
            " In {} ({}), a typical weight moved by {} (RMS of W − W₀) while the weights \
             started spread with σ = {}, so the inner lines moved only {} of the chart ({}): \
             **the bulk looks frozen**.",
            if not_inner.len() == weights.len() {
                "every weight tensor".to_owned()
            } else {
                format!("{} of {} weight tensors", not_inner.len(), weights.len())
            },
            names.join(", "),
            span(range_of(not_inner.iter().map(|d| d.rms_move)), sci),
            span(
                range_of(not_inner.iter().map(|d| d.initial_spread)),
                |x| format!("{x:.3}")
            ),
            span(range_of(not_inner.iter().map(|d| d.inner_fraction())), pct),
            span(range_of(not_inner.iter().map(|d| d.inner_fraction())), px),
        );
        let outer: Vec<&TensorDiagnosis> = not_inner
            .iter()
            .copied()
            .filter(|d| d.visibility == Visibility::OuterOnly)
            .collect();
        if !outer.is_empty() {
            let names: Vec<&str> = outer.iter().map(|d| d.tag.as_str()).collect();
            let _ = write!(
                s,
                " Only the faint min/max lines show a move, {} of the chart, in {}.",
                span(range_of(outer.iter().map(|d| d.outer_fraction())), pct),
                names.join(", ")
            );
        }
        s.push_str(
            " Adam's per-weight steps are about `lr` and change sign from step to step, so the \
             net move grows like √T·lr, a small fraction of a spread set by the initialiser.",
        );
    }
    let inner_w: Vec<&str> = weights
        .iter()
        .filter(|d| d.visibility == Visibility::InnerBand)
        .map(|d| d.tag.as_str())
        .collect();
    if !inner_w.is_empty() {
        let _ = write!(
            s,
            " Weight tensors whose inner band moves visibly: {}.",
            inner_w.join(", ")
        );
    }
    let _ = write!(
        s,
        "\n\n**Why do the biases move?** {} of {} bias tensors move visibly in the inner band. \
         A bias tensor starts as a spike — every value exactly 0.1 (or 0 for softmax_biases) — \
         so the chart's range at the start is zero and is made of the moves alone: the same \
         lr-sized steps open a fan that fills the chart.",
        biases
            .iter()
            .filter(|d| d.visibility == Visibility::InnerBand)
            .count(),
        biases.len()
    );
    s
}

/// The plain-language answer: the two verdicts, then what the charts can show.
pub fn answer(diags: &[TensorDiagnosis], run: &RunDiagnosis) -> String {
    format!(
        "{}\n\n{}\n\n{}",
        progress_answer(run),
        updates_answer(diags, run),
        visibility_answer(diags)
    )
}

/// What to try, per tensor whose update ratio is far from the rule of thumb and for the run,
/// each naming the TensorBoard view that shows the evidence. Empty if there is nothing to try.
pub fn advice(diags: &[TensorDiagnosis], run: &RunDiagnosis) -> Vec<String> {
    let mut out = Vec::new();
    match run.progress {
        Progress::Diverged(step) => out.push(format!(
            "**The run diverged at step {step}.** Lower the learning rate (÷10), add a warm-up \
             (a few hundred steps from lr/10) or decay it (`--lr-schedule cosine`), and check \
             the initialisation (weights far wider than Xavier's). Evidence: `loss/loss` \
             (Scalars) at step {step}, and `update_ratio/*` in the summaries before it."
        )),
        Progress::NotImproving => out.push(
            "**The model is not improving.** Train longer (FULL at the seed's lr 1e-4 predicts \
             a near-constant for its first ~900 steps), or raise the learning rate (×3) with a \
             warm-up. Evidence: `loss/loss` and `eval/held_out_error` against \
             `eval/constant_error` (Scalars); `drift/*` shows the tensors moving meanwhile."
                .to_owned(),
        ),
        Progress::Improving => {}
    }
    // After a divergence the update ratios describe a broken run: no per-tensor advice.
    let judged: &[TensorDiagnosis] = match run.progress {
        Progress::Diverged(_) => &[],
        _ => diags,
    };
    for d in judged {
        let r = d.mean_update_ratio;
        match d.update_size {
            UpdateSize::Typical => {}
            UpdateSize::TooSmall => out.push(format!(
                "`{}`: each step changes it by {} of its norm, over {UPDATE_RATIO_FACTOR}× below \
                 the ~{} rule of thumb — its updates are small for its scale (σ(W₀) = {:.3}). \
                 Try a larger learning rate, or a smaller initial scale; with a decaying \
                 schedule, check the rate has not decayed to nothing. Evidence: \
                 `update_ratio/{}` and `drift/{}` (Scalars), `{}/delta_from_init` \
                 (Histograms).",
                d.tag,
                sci(r),
                sci(TYPICAL_UPDATE_RATIO),
                d.initial_spread,
                d.tag,
                d.tag,
                d.tag
            )),
            UpdateSize::TooLarge => out.push(format!(
                "`{}`: each step changes it by {} of its norm, over {UPDATE_RATIO_FACTOR}× above \
                 the ~{} rule of thumb — its updates are large for its scale{}. If its \
                 `update_ratio` stays high or the loss is noisy, lower the learning rate, add a \
                 warm-up, or decay it (`--lr-schedule cosine`). Evidence: `update_ratio/{}` \
                 and `drift/{}` (Scalars), `{}/delta_from_init` (Histograms).",
                d.tag,
                sci(r),
                sci(TYPICAL_UPDATE_RATIO),
                if d.initial_spread < 1e-2 {
                    format!(
                        " (it starts small, σ(W₀) = {:.1e}, so lr-sized steps are large next \
                         to it: expected early on)",
                        d.initial_spread
                    )
                } else {
                    String::new()
                },
                d.tag,
                d.tag,
                d.tag
            )),
        }
    }
    out
}

/// The ReLU section: per layer the exact-zero and dead-unit fractions, and a flag with the usual
/// causes for a layer whose dead fraction is high.
fn relu_section(relu: &[LayerHealth]) -> String {
    let mut s = String::from(
        "`relu_zero_fraction/<layer>` is the fraction of exact zeros after the ReLU over the \
         summary batch: a ReLU is off for part of its inputs by design, so a high value alone is \
         no alarm. `dead_units/<layer>` is the fraction of channels (conv) or units (dense) that \
         output zero for *every* frame of the summary batch: no gradient passes them, so they \
         stay dead. Values at the last summary, over its one batch: with few frames, a unit \
         that fires rarely can look dead — watch the trend of `dead_units/<layer>`.\n\n\
         | layer | zeros after ReLU | dead units | |\n|---|---:|---:|---|\n",
    );
    for h in relu {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            h.layer,
            pct(h.zero_fraction),
            pct(h.dead_fraction),
            if h.flagged() { "**high**" } else { "" }
        );
    }
    let flagged: Vec<&str> = relu
        .iter()
        .filter(|h| h.flagged())
        .map(|h| h.layer)
        .collect();
    if flagged.is_empty() {
        let _ = write!(s, "\nNo layer has {} or more dead units.", pct(DEAD_FLAG));
    } else {
        let _ = write!(
            s,
            "\n**{} {} {} or more dead units.** The usual causes: a learning rate too high (one \
             large update pushes a unit's pre-activations below zero for every input, and its \
             gradient is zero from then on), an initialisation that is too wide or biases that \
             start negative, or inputs that are not normalised. Try a lower learning rate or a \
             warm-up, a small positive bias (the seed's 0.1), or a leaky ReLU. Evidence: \
             `dead_units/<layer>` (Scalars) and the `…_before_relu` histograms (mostly \
             negative).",
            flagged.join(", "),
            if flagged.len() == 1 { "has" } else { "have" },
            pct(DEAD_FLAG)
        );
    }
    s
}

/// What `diagnosis.md` is made of.
#[derive(Debug, Clone, Copy)]
pub struct Report<'a> {
    /// The run's name.
    pub run: &'a str,
    /// The tensors' diagnoses.
    pub tensors: &'a [TensorDiagnosis],
    /// The run's verdict.
    pub verdict: &'a RunDiagnosis,
    /// The ReLU layers at the last summary.
    pub relu: &'a [LayerHealth],
    /// The overview image, relative to `diagnosis.md`.
    pub overview: Option<&'a str>,
    /// `(tag, path relative to diagnosis.md)` of each tensor's band plot.
    pub plots: &'a [(String, String)],
}

/// `diagnosis.md`: the overview picture, the answer, the advice, ReLU health, the per-tensor
/// table with its criteria, and a band plot per tensor.
pub fn markdown(r: &Report<'_>) -> String {
    let mut s = format!("# Learning diagnosis — {}\n\n", r.run);
    if let Some(path) = r.overview {
        let _ = writeln!(
            s,
            "![overview]({path})\n\n*Top: the training loss per step (grey; mean c·|p − y| \
             over the batch) and its moving average (black), with the held-out error (blue) and \
             the best constant predictor's (red), both scaled by the held-out frames' mean \
             confidence into the loss's units. Bottom: each tensor's drift ‖W − W₀‖/‖W₀‖ \
             (log scale).*\n"
        );
    }
    s.push_str("## The answer\n\n");
    s.push_str(&answer(r.tensors, r.verdict));
    s.push_str("\n\n## What to try\n\n");
    let advice = advice(r.tensors, r.verdict);
    if advice.is_empty() {
        s.push_str(
            "Nothing stands out: the model improves and every update ratio is within \
             10× of the ~1e-3 rule of thumb.\n",
        );
    }
    for a in &advice {
        let _ = writeln!(s, "- {a}");
    }
    s.push_str("\n## ReLU health\n\n");
    s.push_str(&relu_section(r.relu));
    let steps = r.tensors.first().map_or((0, 0), |d| d.steps);
    let _ = write!(
        s,
        "\n\n## Per tensor\n\nSummaries from step {} to step {}. σ(W₀): the spread the tensor \
         started with. Drift: ‖W − W₀‖/‖W₀‖ at the last summary (for a tensor that starts at \
         zero, ‖W − W₀‖/‖W‖); *receiving updates* from {} on. RMS move: ‖W − W₀‖/√n. Update \
         ratio: the mean over the summaries of one step's ‖ΔW‖/‖W‖ (rule of thumb ~{}). \
         *Inner* and *min/max*: how far the seven inner percentile lines (6.7 %…93.3 %) and \
         the two outer ones moved between the first and the last summary, as a fraction of the \
         chart's range (max − min over the run); {} of the range ({}) counts as visible. The \
         pixels assume a chart of ≈{CHART_HEIGHT_PX} px: TensorBoard 2.21.0's Distributions \
         plot area is 142 px tall (measured in headless Chromium by `tools/chart_height.py`), \
         and its y-axis pads the data's range to round ticks.\n\n",
        steps.0,
        steps.1,
        pct(RECEIVING_DRIFT),
        sci(TYPICAL_UPDATE_RATIO),
        pct(VISIBLE_FRACTION),
        px(VISIBLE_FRACTION),
    );
    s.push_str(
        "| tensor | values | σ(W₀) | drift | RMS move | update ratio | inner lines / range | \
         min/max lines / range | Distributions | verdict |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---|---|\n",
    );
    for d in r.tensors {
        let _ = writeln!(
            s,
            "| `{}` | {} | {:.3e} | {} | {:.2e} | {:.2e} | {} | {} | {} | {} |",
            d.tag,
            d.len,
            d.initial_spread,
            pct(d.drift),
            d.rms_move,
            d.mean_update_ratio,
            pct(d.inner_fraction()),
            pct(d.outer_fraction()),
            d.visibility.as_str(),
            verdict(d, r.verdict)
        );
    }
    s.push_str(
        "\n## Plots\n\nPer tensor, over the summary steps: the nine percentile lines of W as \
         TensorBoard's Distributions chart draws them (top), and of W − W₀ (bottom, the \
         `<tag>/delta_from_init` histograms), with the zero line.\n\n",
    );
    for (tag, path) in r.plots {
        let _ = writeln!(s, "### `{tag}`\n\n![{tag}]({path})\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::super::diagnosis::tests::{rec, spread};
    use super::super::diagnosis::{diagnose, diagnose_run, HeldOut, RunOutcome, TensorInfo};
    use super::*;

    /// A weight that moves invisibly, one whose min/max line flares, a bias fanning out: the
    /// `--steps 60` picture.
    fn tensors() -> Vec<TensorDiagnosis> {
        let info = |tag, is_weight, initial_spread| TensorInfo {
            tag,
            is_weight,
            len: 100,
            initial_spread,
        };
        let mut flare = spread(-0.04, 0.04);
        flare[0] = -0.06;
        diagnose(
            &[
                info("weights_conv1", true, 0.02),
                info("weights_conv2", true, 0.02),
                info("conv1_biases", false, 0.0),
                info("softmax_biases", false, 0.0),
            ],
            &[
                rec(0, "weights_conv1", spread(-0.04, 0.04), 0.0, 3e-3),
                rec(0, "weights_conv2", spread(-0.04, 0.04), 0.0, 3e-3),
                rec(0, "conv1_biases", [0.1; 9], 0.0, 1e-3),
                rec(0, "softmax_biases", [0.0; 9], 0.0, 0.0),
                rec(59, "weights_conv1", spread(-0.0399, 0.0401), 0.02, 3e-3),
                rec(59, "weights_conv2", flare, 0.02, 3e-3),
                rec(59, "conv1_biases", spread(0.099, 0.101), 0.01, 1e-3),
                rec(59, "softmax_biases", [6e-3; 9], 1.0, 0.3),
            ],
        )
    }

    fn run(held: f64) -> RunDiagnosis {
        diagnose_run(&RunOutcome {
            diverged_at: None,
            loss: (0..60).map(|i| (i, 0.3 - 0.001 * i as f32)).collect(),
            held_out: Some(HeldOut {
                error: held,
                constant_error: 0.505,
                mean_confidence: 0.6,
                classes: None,
            }),
        })
    }

    #[test]
    fn a_run_that_moves_without_improving_says_so_in_those_words() {
        let d = tensors();
        let r = run(0.507);
        let a = answer(&d, &r);
        assert!(a.starts_with("**Is the model improving?** No."), "{a}");
        assert!(a.contains("0.5070 against 0.5050"), "{a}");
        assert!(
            a.contains("**Are the tensors receiving updates?** Yes: 4 of 4"),
            "{a}"
        );
        assert!(a.contains("move but the model does not improve"), "{a}");
        assert_eq!(verdict(&d[0], &r), "moves but the model does not improve");
        // Visibility: conv1's weights invisible, conv2's min line only, the bias fans out.
        assert!(
            a.contains("In every weight tensor (weights_conv1, weights_conv2)"),
            "{a}"
        );
        assert!(
            a.contains("min/max lines show a move, 20.00 % of the chart, in weights_conv2"),
            "{a}"
        );
        assert!(a.contains("2 of 2 bias tensors move visibly"), "{a}");
        assert!(a.contains("7.0 px"), "5 % of 140 px: {a}");
        let advice = advice(&d, &r);
        assert!(advice[0].contains("not improving"), "{advice:?}");
        assert!(advice[0].contains("`eval/constant_error`"), "{advice:?}");
        assert_eq!(advice.len(), 2, "{advice:?}");
        assert!(advice[1].starts_with("`softmax_biases`: each step changes it by 1.5e-1"));
        assert!(
            advice[1].contains("`update_ratio/softmax_biases`"),
            "{advice:?}"
        );
        let t = table(&d, &r);
        assert_eq!(t.lines().count(), 5, "{t}");
        assert!(t.contains("min/max lines only"), "{t}");
    }

    #[test]
    fn an_improving_run_and_a_diverged_one() {
        let d = tensors();
        let good = run(0.179);
        assert!(answer(&d, &good).starts_with("**Is the model improving?** Yes."));
        assert_eq!(verdict(&d[0], &good), "moves; the model improves");
        assert_eq!(
            advice(&d, &good).len(),
            1,
            "softmax_biases' large updates only"
        );
        let bad = diagnose_run(&RunOutcome {
            diverged_at: Some(1),
            loss: vec![(0, 0.3), (1, f32::NAN)],
            held_out: None,
        });
        let a = answer(&d, &bad);
        assert!(a.contains("**the run diverged at step 1**"), "{a}");
        assert_eq!(verdict(&d[2], &bad), "diverged at step 1");
        let advice = advice(&d, &bad);
        assert_eq!(
            advice.len(),
            1,
            "per-tensor ratios mean nothing after a divergence"
        );
        assert!(advice[0].contains("Lower the learning rate"), "{advice:?}");
    }

    #[test]
    fn the_report_flags_dead_units_and_links_every_picture() {
        let d = tensors();
        let r = run(0.507);
        let relu = [
            LayerHealth {
                layer: "conv2",
                zero_fraction: 0.77,
                dead_fraction: 0.0,
            },
            LayerHealth {
                layer: "local2",
                zero_fraction: 0.8,
                dead_fraction: 0.5,
            },
        ];
        let plots = vec![(
            "weights_conv1".to_owned(),
            "diagnosis/weights_conv1.png".to_owned(),
        )];
        let md = markdown(&Report {
            run: "r",
            tensors: &d,
            verdict: &r,
            relu: &relu,
            overview: Some("diagnosis/overview.png"),
            plots: &plots,
        });
        let overview = md.find("![overview](diagnosis/overview.png)").unwrap();
        assert!(
            overview < md.find("## The answer").unwrap(),
            "overview at the top"
        );
        assert!(md.contains("| conv2 | 77.00 % | 0.00 % |  |"), "{md}");
        assert!(
            md.contains("| local2 | 80.00 % | 50.00 % | **high** |"),
            "{md}"
        );
        assert!(
            md.contains("**local2 has 20.00 % or more dead units.**"),
            "{md}"
        );
        assert!(md.contains("learning rate too high"), "{md}");
        assert!(
            md.contains("![weights_conv1](diagnosis/weights_conv1.png)"),
            "{md}"
        );
        assert!(
            md.contains("| `conv1_biases` | 100 | 0.000e0 | 1.00 % |"),
            "{md}"
        );
    }
}
