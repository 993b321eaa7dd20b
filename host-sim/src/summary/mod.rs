//! What a training run shows: TensorBoard summaries (activation and parameter histograms under
//! the seed's tags, learning scalars, frames) and the end-of-run learning diagnosis.
//!
//! # What is logged, and when
//! Summary steps are every `--summary-every`-th step (by default `--steps / 12`) (0-based, so step 0 shows the initial
//! state) and the last step. All values of a summary step describe the same model, W_t (the
//! parameters *before* step t's update) and the batch of step t:
//!
//! | tag | kind | when |
//! |---|---|---|
//! | `loss/loss` | scalar | every step |
//! | `train/learning_rate`, `train/frames_per_second` | scalar | summary steps |
//! | the seed's activation tags (`con1_before_relu`, … `softmax_output_distribution`) | histogram | summary steps |
//! | the seed's parameter tags (`weights_conv1`, … `softmax_biases`) | histogram | summary steps |
//! | `<tag>/delta_from_init` (W_t − W₀; W₀ itself is in `<run>/initial/`) | histogram | summary steps where it is not all zero (not step 0) |
//! | `update_ratio/<tag>` (‖W_{t+1} − W_t‖/‖W_t‖), `drift/<tag>` (‖W_t − W₀‖/‖W₀‖) | scalar | summary steps |
//! | `relu_zero_fraction/<layer>` (exact zeros after the ReLU, whole batch), `dead_units/<layer>` (channels or units zero for every frame of the batch) | scalar | summary steps |
//! | `non_finite/<tag>` (NaN and ±inf dropped from that histogram) | scalar | only when non-zero |
//! | `frame_resized/image/<i>`, i < 8 (TF1's names for `max_outputs > 1`) | PNG image | summary steps |
//! | `eval/held_out_error`, `eval/constant_error`, `eval/mean_confidence` (of the held-out frames) | scalar | end of run, at step `--steps` |
//!
//! Histograms are v2 tensors, trimmed, never NaN or infinite. Each summary step is one event,
//! flushed (and `sync_data`'d) before training goes on, so a killed run leaves a file that loads
//! up to its last summary.
//!
//! # Modules
//! * [`fill`]: sharded histogram fill, identical for any thread count.
//! * [`observer`]: [`HistogramObserver`], the activations of a summary step, read in place.
//! * [`params`]: [`ParamTracker`], W₀ and the learning scalars.
//! * [`history`]: the per-tensor record the diagnosis is computed from, kept on disk.
//! * [`diagnosis`]: the numbers and verdicts — receiving updates, improving, visible, dead units.
//! * [`divergence`]: where and how a run's loss or parameters stopped being finite.
//! * [`report`]: the verdicts in words: the table, the answer, the advice, `diagnosis.md`.
//! * [`canvas`], [`plot`], [`overview`]: the PNG pictures — per tensor the bands of W and
//!   W − W₀, and the run's overview (loss and drift).
//! * [`run`]: [`RunLog`], which ties them to one run directory.
//! * [`rebuild`]: `host-sim diagnose DIR`, the same report from a run directory's event files.

pub mod canvas;
pub mod diagnosis;
pub mod divergence;
pub mod fill;
pub mod history;
pub mod observer;
pub mod overview;
pub mod params;
pub mod plot;
pub mod rebuild;
pub mod report;
pub mod run;

pub use divergence::Divergence;
pub use observer::HistogramObserver;
pub use params::ParamTracker;
pub use run::RunLog;
