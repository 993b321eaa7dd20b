//! [`ParamTracker`]: per parameter tensor, the histograms of W and W − W₀ and the learning
//! scalars (update ratio, drift) of a summary step.

use kernels::histogram::{percentiles, Histogram};
use kernels::net::ParamSpec;
use rayon::ThreadPool;

use super::diagnosis::TensorInfo;
use super::fill::{fill, sq_distance};

/// One parameter tensor at one summary step.
#[derive(Debug, Clone)]
pub struct ParamStats {
    /// The seed's tag (`weights_conv1`, `local1_biases`, …).
    pub tag: &'static str,
    /// `true` for a weight tensor, `false` for a bias.
    pub is_weight: bool,
    /// Histogram of W at the step (before the step's update).
    pub hist: Box<Histogram>,
    /// Histogram of W − W₀.
    pub delta_hist: Box<Histogram>,
    /// ‖W_{t+1} − W_t‖ / ‖W_t‖: the relative size of this step's update (0 when ‖W_t‖ = 0).
    pub update_ratio: f64,
    /// ‖W_t − W₀‖ / ‖W₀‖; for a tensor that starts at zero, ‖W_t − W₀‖ / ‖W_t‖ (1 as soon as it
    /// moves at all, 0 while it stays at zero).
    pub drift: f64,
    /// ‖W_t − W₀‖ / √n: how far a typical value has moved from its start.
    pub rms_move: f64,
}

impl ParamStats {
    /// The nine Distributions percentiles of W.
    pub fn percentiles(&self) -> [f64; 9] {
        percentiles(&self.hist)
    }

    /// The nine Distributions percentiles of W − W₀.
    pub fn delta_percentiles(&self) -> [f64; 9] {
        percentiles(&self.delta_hist)
    }
}

/// Keeps W₀ and, on summary steps, the parameters just before the optimiser step.
#[derive(Debug)]
pub struct ParamTracker {
    specs: Vec<ParamSpec>,
    w0: Vec<f32>,
    before: Vec<f32>,
    delta: Vec<f32>,
}

impl ParamTracker {
    /// A tracker measuring drift from `w0` (all parameters, in `specs` order).
    ///
    /// # Panics
    /// If a spec lies outside `w0`.
    pub fn new(specs: &[ParamSpec], w0: Vec<f32>) -> Self {
        assert!(specs.iter().all(|s| s.offset + s.len <= w0.len()));
        Self {
            specs: specs.to_vec(),
            before: Vec::with_capacity(w0.len()),
            delta: Vec::new(),
            w0,
        }
    }

    /// The initial parameters W₀.
    pub fn w0(&self) -> &[f32] {
        &self.w0
    }

    /// Each tensor as the diagnosis sees it, in spec order; its `initial_spread` is the standard
    /// deviation of its W₀ (the spread the Distributions chart starts with).
    pub fn tensor_infos(&self) -> Vec<TensorInfo> {
        self.specs
            .iter()
            .map(|s| {
                let w = &self.w0[s.offset..s.offset + s.len];
                let n = w.len().max(1) as f64;
                let mean = w.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
                let var = w
                    .iter()
                    .map(|&x| (f64::from(x) - mean).powi(2))
                    .sum::<f64>()
                    / n;
                TensorInfo {
                    tag: s.tag,
                    is_weight: s.is_weight,
                    len: s.len,
                    initial_spread: var.sqrt(),
                }
            })
            .collect()
    }

    /// Remembers `params` (call right before the optimiser step of a summary step).
    pub fn capture_before(&mut self, params: &[f32]) {
        self.before.clear();
        self.before.extend_from_slice(params);
    }

    /// The statistics of every tensor, from the parameters captured by
    /// [`capture_before`](Self::capture_before) (W_t) and `after` (W_{t+1}).
    ///
    /// # Panics
    /// If nothing was captured or `after` has another length.
    pub fn measure(&mut self, pool: &ThreadPool, after: &[f32]) -> Vec<ParamStats> {
        assert_eq!(self.before.len(), self.w0.len(), "capture_before first");
        assert_eq!(after.len(), self.w0.len());
        let mut out = Vec::with_capacity(self.specs.len());
        for s in &self.specs {
            let r = s.offset..s.offset + s.len;
            let (w, w0) = (&self.before[r.clone()], &self.w0[r.clone()]);
            self.delta.clear();
            self.delta.extend(w.iter().zip(w0).map(|(&a, &b)| a - b));
            let hist = fill(pool, w).hist;
            let delta_hist = fill(pool, &self.delta).hist;
            let sums = LearningSums {
                w_sq: sum_sq(w),
                w0_sq: sum_sq(w0),
                moved_sq: sq_distance(w, w0),
                step_sq: sq_distance(&after[r], w),
            };
            let (drift, update_ratio, rms_move) = sums.scalars(s.len);
            out.push(ParamStats {
                tag: s.tag,
                is_weight: s.is_weight,
                hist,
                delta_hist,
                update_ratio,
                drift,
                rms_move,
            });
        }
        out
    }
}

/// ‖v‖ in f64, summed in index order.
pub fn norm_of(v: &[f32]) -> f64 {
    sum_sq(v).sqrt()
}

/// ‖v‖² in f64, summed in index order.
fn sum_sq(v: &[f32]) -> f64 {
    v.iter().map(|&x| f64::from(x) * f64::from(x)).sum()
}

/// The sums one tensor's learning scalars are made of, each in f64 and index order (the order a
/// board sums them in too: `host-sim ingest` reads them from a board's log).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LearningSums {
    /// ‖W_t‖².
    pub w_sq: f64,
    /// ‖W₀‖².
    pub w0_sq: f64,
    /// ‖W_t − W₀‖².
    pub moved_sq: f64,
    /// ‖W_{t+1} − W_t‖².
    pub step_sq: f64,
}

impl LearningSums {
    /// `(drift, update_ratio, rms_move)` of a tensor of `len` values; see [`ParamStats`].
    pub fn scalars(&self, len: usize) -> (f64, f64, f64) {
        let (w_norm, w0_norm) = (self.w_sq.sqrt(), self.w0_sq.sqrt());
        let moved = self.moved_sq.sqrt();
        let drift = if w0_norm > 0.0 {
            moved / w0_norm
        } else if w_norm > 0.0 {
            moved / w_norm
        } else {
            0.0
        };
        let update_ratio = if w_norm > 0.0 {
            self.step_sq.sqrt() / w_norm
        } else {
            0.0
        };
        (drift, update_ratio, moved / (len.max(1) as f64).sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernels::net::ValenceConfig;

    #[test]
    fn drift_update_ratio_and_delta_match_a_hand_computation() {
        let specs = ValenceConfig::TINY.params().unwrap();
        let n = specs[15].offset + specs[15].len;
        let w0: Vec<f32> = (0..n).map(|i| ((i % 7) as f32 - 3.0) * 0.01).collect();
        let mut t = ParamTracker::new(&specs, w0.clone());
        let w: Vec<f32> = w0.iter().map(|x| x + 0.001).collect();
        let after: Vec<f32> = w.iter().map(|x| x - 0.002).collect();
        t.capture_before(&w);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let stats = t.measure(&pool, &after);
        assert_eq!(stats.len(), 16);
        let s = &stats[0];
        assert_eq!(s.tag, "weights_conv1");
        let r = specs[0].offset..specs[0].offset + specs[0].len;
        let f = |v: &[f32]| v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
        let moved = (w[r.clone()].iter().zip(&w0[r.clone()]))
            .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
            .sum::<f64>()
            .sqrt();
        let want_drift = moved / f(&w0[r.clone()]);
        assert!(
            (s.drift - want_drift).abs() <= 1e-12 * want_drift,
            "{}",
            s.drift
        );
        let stepped = (after[r.clone()].iter().zip(&w[r.clone()]))
            .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
            .sum::<f64>()
            .sqrt();
        let want_ratio = stepped / f(&w[r.clone()]);
        assert!((s.update_ratio - want_ratio).abs() <= 1e-12 * want_ratio);
        assert!((s.rms_move - 0.001).abs() < 1e-6, "{}", s.rms_move);
        assert_eq!(s.delta_hist.num(), specs[0].len as u64);
        let p = s.delta_percentiles();
        assert!(p.iter().all(|&x| (x - 0.001).abs() < 2e-4), "{p:?}");
        // softmax_biases start at 0: drift is relative to the current norm.
        let mut z = ParamTracker::new(&specs, vec![0.0; n]);
        z.capture_before(&vec![0.0; n]);
        assert_eq!(z.measure(&pool, &vec![0.0; n])[15].drift, 0.0);
        z.capture_before(&vec![0.5; n]);
        assert!((z.measure(&pool, &vec![0.5; n])[15].drift - 1.0).abs() < 1e-12);
    }
}
