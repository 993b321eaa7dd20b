//! The end-of-run learning diagnosis as numbers and verdicts: two questions kept apart, plus
//! what the Distributions chart can show and the ReLU layers' health. [`super::report`] turns
//! them into words.
//!
//! # Criteria
//! * **Receiving updates** (per tensor): the final drift ‖W − W₀‖/‖W₀‖ is at least
//!   [`RECEIVING_DRIFT`] (0.1 %). Adam moves every weight by about `lr` per step whatever the
//!   gradient's size, so any tensor a gradient reaches passes this within a few steps: it says
//!   the tensor *moves*, not that the model *learns*.
//! * **Update size** (per tensor): the mean update ratio ‖ΔW‖/‖W‖ against the rule of thumb of
//!   about 1e-3 per step; more than [`UPDATE_RATIO_FACTOR`] (10×) off either way is reported.
//! * **Improving** (the run): the held-out error is at most [`IMPROVING_RATIO`] (95 %) of the
//!   best constant predictor's; without a held-out error, the loss of the run's last tenth is at
//!   most 95 % of its first tenth's. A non-finite loss makes the run *diverged* at that step.
//! * **Visible in Distributions** (per tensor): how far the seven inner percentile lines
//!   (6.7 %…93.3 %, the band the eye reads) and, apart, the two outer lines (min/max) moved
//!   between the first and the last summary, each as a fraction of the chart's vertical range
//!   `max_t max − min_t min` (TensorBoard fits the y-axis to every line of the whole series).
//!   A move of at least [`VISIBLE_FRACTION`] (5 %) of the range is visible: see
//!   [`CHART_HEIGHT_PX`] for what that is in pixels.
//! * **Dead units** (per ReLU layer): the fraction of channels or units that output zero for
//!   every frame of the last summary batch; at least [`DEAD_FLAG`] (20 %) is flagged.

use super::history::Record;

/// Final drift at and above which a tensor counts as receiving updates.
pub const RECEIVING_DRIFT: f64 = 1e-3;
/// The rule of thumb for one step's update ratio ‖ΔW‖/‖W‖.
pub const TYPICAL_UPDATE_RATIO: f64 = 1e-3;
/// How far (as a factor) the mean update ratio may stray from [`TYPICAL_UPDATE_RATIO`] before the
/// report calls it too small or too large.
pub const UPDATE_RATIO_FACTOR: f64 = 10.0;
/// Held-out error over the constant predictor's (or last-tenth loss over first-tenth loss) at
/// and below which the model counts as improving.
pub const IMPROVING_RATIO: f64 = 0.95;
/// Move, as a fraction of the chart's range, at and above which a band's move is visible.
pub const VISIBLE_FRACTION: f64 = 0.05;
/// The height in pixels of a Distributions chart's plot area in TensorBoard 2.21.0 (default
/// card, not expanded), measured by `tools/chart_height.py`: `tensorboard --logdir` on
/// 127.0.0.1, a 1400×1000 screenshot of the Distributions tab in headless Chromium, and the
/// rows between the plot's top and bottom frame lines (142 px; the card is 330 × 235 px in
/// `tf-distribution-loader.ts`, the heading, x-axis and buttons take the rest). The y-axis is
/// padded to round ticks, so the data's own range spans about 120–142 px of it; 5 % is 7 px.
pub const CHART_HEIGHT_PX: u32 = 140;
/// Dead-unit fraction at and above which a layer is flagged.
pub const DEAD_FLAG: f64 = 0.2;

/// Is a tensor receiving updates?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Updates {
    /// Its drift reached [`RECEIVING_DRIFT`].
    Receiving,
    /// Its drift stayed under [`RECEIVING_DRIFT`]: (almost) no gradient reaches it.
    NotReceiving,
}

/// One step's update against the tensor's scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateSize {
    /// The mean update ratio is more than [`UPDATE_RATIO_FACTOR`] below the rule of thumb.
    TooSmall,
    /// Within a factor [`UPDATE_RATIO_FACTOR`] of the rule of thumb.
    Typical,
    /// More than [`UPDATE_RATIO_FACTOR`] above it.
    TooLarge,
}

/// Which lines of the Distributions chart show a tensor's move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// The inner band (6.7 %…93.3 %) moved by at least [`VISIBLE_FRACTION`] of the chart.
    InnerBand,
    /// Only the min/max lines did: the bulk of the chart looks frozen.
    OuterOnly,
    /// Neither did.
    Invisible,
}

impl Visibility {
    /// The verdict in words.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InnerBand => "visible (inner band)",
            Self::OuterOnly => "min/max lines only",
            Self::Invisible => "invisible",
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
    /// `max_{i=1..7} |p_i(last) − p_i(first)|`: the inner lines' largest move.
    pub inner_move: f64,
    /// `max_{i∈{0,8}} |p_i(last) − p_i(first)|`: the min/max lines' largest move.
    pub outer_move: f64,
    /// `max_t p_8(t) − min_t p_0(t)`: the chart's vertical range.
    pub chart_range: f64,
    /// First and last summary step.
    pub steps: (u64, u64),
    /// Is it receiving updates?
    pub updates: Updates,
    /// Its update ratio against the rule of thumb.
    pub update_size: UpdateSize,
    /// Which lines of the chart show it.
    pub visibility: Visibility,
}

impl TensorDiagnosis {
    /// `move / chart_range`, 0 for a chart of zero height (nothing moved).
    fn of_range(&self, m: f64) -> f64 {
        if self.chart_range > 0.0 {
            m / self.chart_range
        } else {
            0.0
        }
    }

    /// The inner lines' move as a fraction of the chart's range.
    pub fn inner_fraction(&self) -> f64 {
        self.of_range(self.inner_move)
    }

    /// The min/max lines' move as a fraction of the chart's range.
    pub fn outer_fraction(&self) -> f64 {
        self.of_range(self.outer_move)
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

/// The largest `|b_i − a_i|` over the percentile indices `idx`.
fn largest_move(a: &[f64; 9], b: &[f64; 9], idx: impl Iterator<Item = usize>) -> f64 {
    idx.map(|i| (b[i] - a[i]).abs()).fold(0.0, f64::max)
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
            inner_move: largest_move(&first.w, &last.w, 1..8),
            outer_move: largest_move(&first.w, &last.w, [0, 8].into_iter()),
            chart_range: (top - bottom).max(0.0),
            steps: (first.step, last.step),
            updates: Updates::NotReceiving,
            update_size: UpdateSize::Typical,
            visibility: Visibility::Invisible,
        };
        // `>=` is false for NaN: a diverged tensor does not count as receiving updates.
        d.updates = if d.drift >= RECEIVING_DRIFT {
            Updates::Receiving
        } else {
            Updates::NotReceiving
        };
        d.update_size = if mean_update_ratio * UPDATE_RATIO_FACTOR < TYPICAL_UPDATE_RATIO {
            UpdateSize::TooSmall
        } else if mean_update_ratio > TYPICAL_UPDATE_RATIO * UPDATE_RATIO_FACTOR {
            UpdateSize::TooLarge
        } else {
            UpdateSize::Typical
        };
        d.visibility = if d.inner_fraction() >= VISIBLE_FRACTION {
            Visibility::InnerBand
        } else if d.outer_fraction() >= VISIBLE_FRACTION {
            Visibility::OuterOnly
        } else {
            Visibility::Invisible
        };
        out.push(d);
    }
    out
}

/// What the held-out evaluation at the end of a run found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeldOut {
    /// `Σ c·|p − y| / Σ c` of the trained network.
    pub error: f64,
    /// The same for the best constant predictor (the confidence-weighted median).
    pub constant_error: f64,
    /// A classifier's class count: then `error` is its error rate `1 − accuracy` and
    /// `constant_error` the most frequent class's.
    pub classes: Option<usize>,
    /// Mean confidence of the held-out frames: the training loss, `mean(c·|p − y|)`, is in
    /// units of `error × mean confidence`.
    pub mean_confidence: f64,
}

/// How a run ended: the plain input of the run's verdict, whoever trained it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunOutcome {
    /// The first step whose loss (or parameters) went non-finite, if any.
    pub diverged_at: Option<u64>,
    /// `(step, loss)` of every step of the run that was seen, in step order.
    pub loss: Vec<(u64, f32)>,
    /// The held-out evaluation; `None` when there was none (a diverged run is not evaluated).
    pub held_out: Option<HeldOut>,
}

/// Is the model improving?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// It beats the constant predictor (or, without a held-out error, its loss fell).
    Improving,
    /// It does not.
    NotImproving,
    /// The loss went non-finite at this step.
    Diverged(u64),
}

/// The run's verdict and the numbers it rests on.
#[derive(Debug, Clone, PartialEq)]
pub struct RunDiagnosis {
    /// The verdict.
    pub progress: Progress,
    /// Mean loss over the first tenth of the steps seen (at least one step), and over the last
    /// tenth; `None` without a finite loss.
    pub loss_trend: Option<(f64, f64)>,
    /// The held-out evaluation.
    pub held_out: Option<HeldOut>,
}

impl RunDiagnosis {
    /// `error / constant_error` of the held-out evaluation.
    pub fn held_out_ratio(&self) -> Option<f64> {
        self.held_out.map(|h| h.error / h.constant_error)
    }
}

/// The run's verdict: diverged, improving or not (see the module's criteria).
pub fn diagnose_run(outcome: &RunOutcome) -> RunDiagnosis {
    let first_bad = outcome
        .loss
        .iter()
        .find(|(_, l)| !l.is_finite())
        .map(|&(s, _)| s);
    let diverged = match (outcome.diverged_at, first_bad) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let finite: Vec<f64> = outcome
        .loss
        .iter()
        .take_while(|(_, l)| l.is_finite())
        .map(|&(_, l)| f64::from(l))
        .collect();
    let loss_trend = (!finite.is_empty()).then(|| {
        let k = (finite.len() / 10).max(1);
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        (mean(&finite[..k]), mean(&finite[finite.len() - k..]))
    });
    let progress = if let Some(step) = diverged {
        Progress::Diverged(step)
    } else {
        let ratio = match (outcome.held_out, loss_trend) {
            (Some(h), _) => h.error / h.constant_error,
            (None, Some((start, end))) => end / start,
            (None, None) => f64::NAN,
        };
        if ratio <= IMPROVING_RATIO {
            Progress::Improving
        } else {
            Progress::NotImproving
        }
    };
    RunDiagnosis {
        progress,
        loss_trend,
        held_out: outcome.held_out,
    }
}

/// One ReLU layer's health at the last summary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayerHealth {
    /// The layer (`conv1` … `local2`).
    pub layer: &'static str,
    /// Fraction of exact zeros after the ReLU over the summary batch.
    pub zero_fraction: f64,
    /// Fraction of channels or units that were zero for every frame of the summary batch.
    pub dead_fraction: f64,
}

impl LayerHealth {
    /// `true` if the dead fraction reaches [`DEAD_FLAG`].
    pub fn flagged(&self) -> bool {
        self.dead_fraction >= DEAD_FLAG
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A record of `tag` at `step` (`rms_move` follows `drift`, `delta` is zero); the report's
    /// tests build theirs with it too.
    pub(in crate::summary) fn rec(
        step: u64,
        tag: &str,
        w: [f64; 9],
        drift: f64,
        update_ratio: f64,
    ) -> Record {
        Record {
            step,
            tag: tag.to_owned(),
            drift,
            update_ratio,
            rms_move: drift * 0.02,
            w,
            delta: [0.0; 9],
        }
    }

    /// Nine percentiles spread evenly from `lo` to `hi`.
    pub(in crate::summary) fn spread(lo: f64, hi: f64) -> [f64; 9] {
        core::array::from_fn(|i| lo + (hi - lo) * i as f64 / 8.0)
    }

    fn info(tag: &'static str, is_weight: bool) -> TensorInfo {
        TensorInfo {
            tag,
            is_weight,
            len: 100,
            initial_spread: 0.02,
        }
    }

    #[test]
    fn inner_band_and_min_max_lines_are_judged_apart() {
        let tensors = [
            info("w_outer", true),
            info("w_inner", true),
            info("w_still", true),
            info("b_spike", false),
        ];
        let mut outer_last = spread(-0.04, 0.04);
        // Only the max line moves: 0.04 → 0.06, on a chart from -0.04 to 0.06 (20 %); the
        // inner lines move 0.0008 (0.8 %).
        outer_last[8] = 0.06;
        for p in &mut outer_last[1..8] {
            *p += 0.0008;
        }
        let records = vec![
            rec(0, "w_outer", spread(-0.04, 0.04), 0.0, 1e-3),
            rec(0, "w_inner", spread(-0.04, 0.04), 0.0, 1e-3),
            rec(0, "w_still", spread(-0.04, 0.04), 0.0, 1e-6),
            rec(0, "b_spike", [0.1; 9], 0.0, 2e-2),
            rec(9, "w_outer", outer_last, 0.03, 1e-3),
            // Every line shifts by 0.008: 0.008 / 0.088 = 9.1 % of the chart.
            rec(9, "w_inner", spread(-0.032, 0.048), 0.05, 1e-3),
            rec(9, "w_still", spread(-0.04, 0.04), 5e-4, 1e-6),
            rec(9, "b_spike", spread(0.099, 0.101), 0.01, 2e-2),
        ];
        let d = diagnose(&tensors, &records);
        assert_eq!(d.len(), 4);
        assert_eq!(d[0].visibility, Visibility::OuterOnly);
        assert!((d[0].outer_fraction() - 0.02 / 0.1).abs() < 1e-9);
        assert!((d[0].inner_fraction() - 0.0008 / 0.1).abs() < 1e-9);
        assert_eq!(d[1].visibility, Visibility::InnerBand);
        assert!((d[1].inner_fraction() - 0.008 / 0.088).abs() < 1e-9);
        assert_eq!(d[2].visibility, Visibility::Invisible);
        assert_eq!(d[2].updates, Updates::NotReceiving);
        assert_eq!(d[2].update_size, UpdateSize::TooSmall);
        // The spike's range is the fan itself: the inner lines move 0.00075 of a 0.002 range.
        assert_eq!(d[3].visibility, Visibility::InnerBand);
        assert!((d[3].inner_fraction() - 0.375).abs() < 1e-9);
        assert_eq!(d[3].update_size, UpdateSize::TooLarge);
        assert_eq!(d[0].updates, Updates::Receiving);
        assert_eq!(d[0].update_size, UpdateSize::Typical);
        assert_eq!(d[0].steps, (0, 9));
    }

    fn losses(values: &[f32]) -> Vec<(u64, f32)> {
        values
            .iter()
            .enumerate()
            .map(|(i, &l)| (i as u64, l))
            .collect()
    }

    #[test]
    fn moving_tensors_do_not_make_an_improving_model() {
        // A falling loss but a held-out error equal to the constant predictor's (the --steps 60
        // case): not improving.
        let flat = RunOutcome {
            diverged_at: None,
            loss: (0..20).map(|i| (i, 0.5 - 0.001 * i as f32)).collect(),
            held_out: Some(HeldOut {
                error: 0.507,
                constant_error: 0.505,
                mean_confidence: 0.6,
                classes: None,
            }),
        };
        let r = diagnose_run(&flat);
        assert_eq!(r.progress, Progress::NotImproving);
        let (a, b) = r.loss_trend.unwrap();
        // Means of the first and the last two of 20 steps.
        assert!(
            (a - 0.4995).abs() < 1e-6 && (b - 0.4815).abs() < 1e-6,
            "{a} {b}"
        );
        let better = RunOutcome {
            held_out: Some(HeldOut {
                error: 0.179,
                constant_error: 0.505,
                mean_confidence: 0.6,
                classes: None,
            }),
            ..flat.clone()
        };
        assert_eq!(diagnose_run(&better).progress, Progress::Improving);
        assert!((diagnose_run(&better).held_out_ratio().unwrap() - 0.179 / 0.505).abs() < 1e-12);
        // Without a held-out error the loss trend decides: 10 steps, first and last step.
        let no_eval = RunOutcome {
            diverged_at: None,
            loss: losses(&[1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]),
            held_out: None,
        };
        let r = diagnose_run(&no_eval);
        assert_eq!(r.progress, Progress::Improving);
        assert_eq!(r.loss_trend, Some((1.0, f64::from(0.1f32))));
    }

    #[test]
    fn a_non_finite_loss_is_a_divergence_at_its_step() {
        let nan = RunOutcome {
            diverged_at: None,
            loss: losses(&[0.5, 0.4, f32::NAN, f32::NAN]),
            held_out: None,
        };
        let r = diagnose_run(&nan);
        assert_eq!(r.progress, Progress::Diverged(2));
        assert_eq!(
            r.loss_trend,
            Some((0.5, f64::from(0.4f32))),
            "finite steps only"
        );
        // The trainer's own report wins when it saw the divergence first (its parameters).
        let said = RunOutcome {
            diverged_at: Some(1),
            ..nan.clone()
        };
        assert_eq!(diagnose_run(&said).progress, Progress::Diverged(1));
        let inf_first = RunOutcome {
            diverged_at: None,
            loss: losses(&[f32::INFINITY]),
            held_out: None,
        };
        let r = diagnose_run(&inf_first);
        assert_eq!(r.progress, Progress::Diverged(0));
        assert_eq!(r.loss_trend, None);
        // A diverged tensor (NaN drift) is not "receiving updates".
        let d = diagnose(
            &[info("w", true)],
            &[rec(0, "w", spread(-1.0, 1.0), f64::NAN, f64::NAN)],
        );
        assert_eq!(d[0].updates, Updates::NotReceiving);
    }

    #[test]
    fn a_layer_is_flagged_from_a_fifth_of_dead_units() {
        let h = |dead| LayerHealth {
            layer: "conv2",
            zero_fraction: 0.77,
            dead_fraction: dead,
        };
        assert!(!h(0.0).flagged(), "many zeros, no dead unit");
        assert!(!h(0.19).flagged());
        assert!(h(0.2).flagged());
    }
}
