//! `host-sim bench --profile`: where a step's time goes.
//!
//! [`Timed`] wraps a backend and clocks each matrix product and each row-kernel call (LRN,
//! max-pool by layer and pass; im2col, the convolutions' fills and ReLU together), so the report gives GFLOP/s per layer forward and backward and,
//! against the step's wall time, the share spent outside the GEMMs. The element-wise passes
//! ([`Exec::map_lanes`]: the optimiser's step, zeroing the gradients) are clocked apart. Only the timed steps are
//! recorded ([`Timed::reset`] after warm-up). The clock reads cost about 50 ns a call, which
//! the FULL network's few dozen calls a step do not feel.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

use kernels::conv2d::Conv2d;
use kernels::gemm::{LaneKernel, RowFill, RowKernel, RowKernel2};
use kernels::lrn::Lrn;
use kernels::net::{LayerGeometry, ValenceConfig};
use kernels::pool::Pool2d;
use kernels::{Backend, Exec, Gemm, KernelError, LayerAlgorithms, Layout};

/// Time and work of one kind of call.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tally {
    /// Calls made.
    pub calls: u64,
    /// Seconds spent in them.
    pub secs: f64,
    /// Floating-point operations done (2 per multiply-add; 0 for row kernels).
    pub flops: f64,
}

/// The one label of every [`Exec::fill_rows`] call: the convolutions' im2col, their bias and
/// zero fills, and ReLU forward and backward.
const FILLS: &str = "im2col, fills and ReLU";
/// The label of an [`Exec::map_lanes`] call that reads gradients: an optimiser's step.
const OPTIMIZER: &str = "optimizer step";
/// The label of an [`Exec::map_lanes`] call that reads nothing: zeroing the gradients.
const ZEROING: &str = "zero gradients";

/// A backend that clocks every call of `inner` (see the module documentation).
pub struct Timed<'a> {
    inner: &'a dyn Backend,
    /// `(gemm k, gemm n)` of each layer's forward product → its name.
    layers: Vec<((usize, usize), String)>,
    tallies: Mutex<BTreeMap<String, Tally>>,
}

impl<'a> Timed<'a> {
    /// Wraps `inner`; layer names come from `cfg`'s plan. Layers whose products have the same
    /// shape (the seed's conv4 and conv5) share one line, named `conv4+conv5`.
    ///
    /// # Errors
    /// `cfg`'s plan errors.
    pub fn new(inner: &'a dyn Backend, cfg: &ValenceConfig) -> Result<Self, KernelError> {
        let plan = cfg.plan()?;
        let mut layers: Vec<((usize, usize), String)> = Vec::new();
        for l in plan.layers() {
            let shape = match l.geometry {
                LayerGeometry::Conv(c) => (c.patch_len(), c.bias_len()),
                LayerGeometry::Dense(d) => (d.inputs(), d.outputs()),
                LayerGeometry::MaxPool(_) | LayerGeometry::Lrn(_) => continue,
            };
            match layers.iter_mut().find(|(s, _)| *s == shape) {
                Some((_, name)) => {
                    name.push('+');
                    name.push_str(l.layer.name);
                }
                None => layers.push((shape, l.layer.name.to_owned())),
            }
        }
        Ok(Self {
            inner,
            layers,
            tallies: Mutex::new(BTreeMap::new()),
        })
    }

    /// Forgets what was recorded (call it after the warm-up steps).
    pub fn reset(&self) {
        self.lock().clear();
    }

    /// What was recorded, by label (`"<layer> <pass>"`), in label order.
    pub fn tallies(&self) -> BTreeMap<String, Tally> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Tally>> {
        // A panic while holding the lock cannot leave a half-updated tally worth refusing.
        self.tallies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn record(&self, label: String, started: Instant, flops: f64) {
        let secs = started.elapsed().as_secs_f64();
        let mut t = self.lock();
        let e = t.entry(label).or_default();
        e.calls += 1;
        e.secs += secs;
        e.flops += flops;
    }

    /// The layer and pass of a product: conv and dense layers alike run their forward pass as
    /// (RowMajor, RowMajor) over `(patch or inputs) × outputs`, `d_input` as (RowMajor,
    /// ColMajor) and `d_weights` as (ColMajor, RowMajor).
    fn gemm_label(&self, m: usize, k: usize, n: usize, la: Layout, lb: Layout) -> String {
        let name = |shape: (usize, usize)| {
            self.layers
                .iter()
                .find(|(s, _)| *s == shape)
                .map(|(_, name)| name.as_str())
        };
        let found = match (la, lb) {
            (Layout::RowMajor, Layout::RowMajor) => name((k, n)).map(|l| (l, "forward")),
            (Layout::RowMajor, Layout::ColMajor) => name((n, k)).map(|l| (l, "d_input")),
            (Layout::ColMajor, Layout::RowMajor) => name((m, n)).map(|l| (l, "d_weights")),
            (Layout::ColMajor, Layout::ColMajor) => None,
        };
        found.map_or_else(
            || format!("gemm {m}x{k}x{n} {la:?} {lb:?}"),
            |(layer, pass)| format!("{layer} {pass}"),
        )
    }
}

impl Gemm for Timed<'_> {
    fn gemm_acc(
        &self,
        m: usize,
        k: usize,
        n: usize,
        a: &[f32],
        a_layout: Layout,
        b: &[f32],
        b_layout: Layout,
        c: &mut [f32],
    ) {
        let started = Instant::now();
        self.inner.gemm_acc(m, k, n, a, a_layout, b, b_layout, c);
        let flops = 2.0 * m as f64 * k as f64 * n as f64;
        self.record(self.gemm_label(m, k, n, a_layout, b_layout), started, flops);
    }
}

impl Timed<'_> {
    /// Runs a convolution offered to the host's own algorithm; when taken, records it under
    /// the layer and pass with the direct convolution's operation count (so its GFLOP/s are
    /// comparable with the im2col products'), marked with the host's algorithm.
    fn conv(&self, g: &Conv2d, batch: usize, pass: &str, run: impl FnOnce() -> bool) -> bool {
        let started = Instant::now();
        let taken = run();
        if taken {
            let shape = (g.patch_len(), g.bias_len());
            let layer = self.layers.iter().find(|(s, _)| *s == shape);
            let name = layer.map_or("conv", |(_, name)| name.as_str());
            let flops = 2.0 * (batch * g.output().pixels() * g.patch_len() * g.bias_len()) as f64;
            // The host takes 3×3 stride-1 layers as Winograd transforms, the others' forward
            // pass and filter gradient as im2col units of whole images.
            let how = if g.kernel() == [3, 3] && g.stride() == [1, 1] {
                "Winograd"
            } else {
                "units"
            };
            self.record(format!("{name} {pass} ({how})"), started, flops);
        }
        taken
    }

    /// Runs a row kernel (LRN, max-pool) offered to the host's own algorithm; when taken,
    /// records it under the label its rows of `input` and `output` values give it, as
    /// [`Exec::map_rows`] does for the kernels' own loops.
    fn rows(&self, input: usize, output: usize, pass: &str, run: impl FnOnce() -> bool) -> bool {
        let started = Instant::now();
        let taken = run();
        if taken {
            self.record(row_label(input, output, pass), started, 0.0);
        }
        taken
    }
}

impl LayerAlgorithms for Timed<'_> {
    fn lrn_forward(&self, g: &Lrn, rows: usize, input: &[f32], output: &mut [f32]) -> bool {
        let c = g.channels();
        self.rows(c, c, "forward", || {
            self.inner.lrn_forward(g, rows, input, output)
        })
    }

    fn lrn_backward(
        &self,
        g: &Lrn,
        rows: usize,
        input: &[f32],
        d_output: &[f32],
        relu: bool,
        d_input: &mut [f32],
    ) -> bool {
        let c = g.channels();
        self.rows(c, c, "backward", || {
            self.inner
                .lrn_backward(g, rows, input, d_output, relu, d_input)
        })
    }

    fn pool_forward(&self, g: &Pool2d, batch: usize, input: &[f32], output: &mut [f32]) -> bool {
        self.rows(g.input_len(), g.output_len(), "forward", || {
            self.inner.pool_forward(g, batch, input, output)
        })
    }

    fn pool_backward(
        &self,
        g: &Pool2d,
        batch: usize,
        input: &[f32],
        d_output: &[f32],
        d_input: &mut [f32],
    ) -> bool {
        self.rows(g.input_len(), g.output_len(), "backward", || {
            self.inner.pool_backward(g, batch, input, d_output, d_input)
        })
    }

    fn conv_forward(
        &self,
        g: &Conv2d,
        batch: usize,
        input: &[f32],
        filter: &[f32],
        bias: &[f32],
        relu: bool,
        output: &mut [f32],
    ) -> bool {
        self.conv(g, batch, "forward", || {
            self.inner
                .conv_forward(g, batch, input, filter, bias, relu, output)
        })
    }

    fn conv_forward_u8(
        &self,
        g: &Conv2d,
        batch: usize,
        input: &[u8],
        filter: &[f32],
        bias: &[f32],
        relu: bool,
        output: &mut [f32],
    ) -> bool {
        self.conv(g, batch, "forward", || {
            self.inner
                .conv_forward_u8(g, batch, input, filter, bias, relu, output)
        })
    }

    fn conv_backward_filter_u8(
        &self,
        g: &Conv2d,
        batch: usize,
        input: &[u8],
        d_output: &[f32],
        d_filter: &mut [f32],
    ) -> bool {
        self.conv(g, batch, "d_weights", || {
            self.inner
                .conv_backward_filter_u8(g, batch, input, d_output, d_filter)
        })
    }

    fn conv_backward_input(
        &self,
        g: &Conv2d,
        batch: usize,
        d_output: &[f32],
        filter: &[f32],
        d_input: &mut [f32],
    ) -> bool {
        self.conv(g, batch, "d_input", || {
            self.inner
                .conv_backward_input(g, batch, d_output, filter, d_input)
        })
    }

    fn conv_backward_filter(
        &self,
        g: &Conv2d,
        batch: usize,
        input: &[f32],
        d_output: &[f32],
        d_filter: &mut [f32],
    ) -> bool {
        self.conv(g, batch, "d_weights", || {
            self.inner
                .conv_backward_filter(g, batch, input, d_output, d_filter)
        })
    }
}

/// LRN keeps the row width (channels); max-pool shrinks it (one example's map per row).
fn row_label(input: usize, output: usize, pass: &str) -> String {
    let op = if input == output { "LRN" } else { "max-pool" };
    format!("{op} {input} {pass}")
}

impl Exec for Timed<'_> {
    fn map_rows(
        &self,
        rows: usize,
        input: (&[f32], usize),
        output: (&mut [f32], usize),
        f: &RowKernel<'_>,
    ) -> Result<(), KernelError> {
        let label = row_label(input.1, output.1, "forward");
        let started = Instant::now();
        let r = self.inner.map_rows(rows, input, output, f);
        self.record(label, started, 0.0);
        r
    }

    fn map_rows2(
        &self,
        rows: usize,
        input: (&[f32], usize),
        other: (&[f32], usize),
        output: (&mut [f32], usize),
        f: &RowKernel2<'_>,
    ) -> Result<(), KernelError> {
        let label = row_label(input.1, other.1, "backward");
        let started = Instant::now();
        let r = self.inner.map_rows2(rows, input, other, output, f);
        self.record(label, started, 0.0);
        r
    }

    fn fill_rows(&self, rows: usize, output: (&mut [f32], usize), f: &RowFill<'_>) {
        let started = Instant::now();
        self.inner.fill_rows(rows, output, f);
        self.record(FILLS.to_owned(), started, 0.0);
    }

    fn map_lanes(&self, read: &[&[f32]], write: &mut [&mut [f32]], f: &LaneKernel<'_>) {
        let label = if read.is_empty() { ZEROING } else { OPTIMIZER };
        let started = Instant::now();
        self.inner.map_lanes(read, write, f);
        self.record(label.to_owned(), started, 0.0);
    }
}

/// The report: one line per label (share of `wall` seconds, GFLOP/s), then the share outside
/// the GEMMs and outside every clocked call.
pub fn report(tallies: &BTreeMap<String, Tally>, wall: f64) -> String {
    let mut out = String::new();
    let (mut gemm, mut rows, mut lanes) = (0.0, 0.0, 0.0);
    for (label, t) in tallies {
        let rate = if t.flops > 0.0 {
            gemm += t.secs;
            format!("{:7.1} GFLOP/s", t.flops / t.secs / 1e9)
        } else {
            if label == OPTIMIZER || label == ZEROING {
                lanes += t.secs;
            } else {
                rows += t.secs;
            }
            String::new()
        };
        out.push_str(&format!(
            "  {label:<34} {:5.1} %  {:8.2} ms/call  {rate}\n",
            100.0 * t.secs / wall,
            1e3 * t.secs / t.calls as f64,
        ));
    }
    out.push_str(&format!(
        "  outside the GEMMs: {:.1} % (LRN, max-pool, im2col, fills and ReLU {:.1} %, optimizer \
         step and zeroing {:.1} %, the rest unclocked {:.1} %)\n",
        100.0 * (wall - gemm) / wall,
        100.0 * rows / wall,
        100.0 * lanes / wall,
        100.0 * (wall - gemm - rows - lanes) / wall
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fast_gemm::FastGemm;
    use kernels::net::Network;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn element_wise_passes_keep_the_inner_backends_threads_and_are_clocked_by_kind() {
        let two = FastGemm::new(2).unwrap();
        let timed = Timed::new(&two, &Network::TINY).unwrap();
        let calls = AtomicUsize::new(0);
        let count = |_: &[&[f32]], _: &mut [&mut [f32]]| {
            calls.fetch_add(1, Ordering::Relaxed);
        };
        let (g, mut w) = (vec![1.0f32; 1 << 20], vec![0.0f32; 1 << 20]);
        timed.map_lanes(&[&g], &mut [&mut w], &count);
        assert_eq!(calls.load(Ordering::Relaxed), 2, "one chunk per thread");
        timed.map_lanes(&[], &mut [&mut w], &count);
        let t = timed.tallies();
        assert_eq!((t[OPTIMIZER].calls, t[ZEROING].calls), (1, 1), "{t:?}");
    }

    #[test]
    fn optimizer_and_zeroing_have_their_own_share_and_leave_the_unclocked_rest() {
        let tally = |secs: f64, flops: f64| Tally {
            calls: 2,
            secs,
            flops,
        };
        let tallies: BTreeMap<String, Tally> = [
            ("conv2 forward".to_owned(), tally(0.5, 1e9)),
            ("LRN 128 forward".to_owned(), tally(0.2, 0.0)),
            (OPTIMIZER.to_owned(), tally(0.075, 0.0)),
            (ZEROING.to_owned(), tally(0.025, 0.0)),
        ]
        .into();
        let out = report(&tallies, 1.0);
        // Hand-computed: 1 s of wall time, 0.5 s in GEMMs, 0.2 s in row kernels, 0.1 s in the
        // element-wise passes, 0.2 s in none of them.
        assert!(
            out.contains(
                "outside the GEMMs: 50.0 % (LRN, max-pool, im2col, fills and ReLU 20.0 %, \
                 optimizer step and zeroing 10.0 %, the rest unclocked 20.0 %)"
            ),
            "{out}"
        );
        let line = out
            .lines()
            .find(|l| l.contains(OPTIMIZER))
            .unwrap_or_default();
        assert!(
            line.contains(" 7.5 %") && line.contains(" 37.50 ms/call"),
            "{out}"
        );
    }
}
