//! What a training run shows: TensorBoard summaries (activation and parameter histograms under
//! the seed's tags, learning scalars, frames) and the end-of-run learning diagnosis.
//!
//! # What is logged, and when
//! Summary steps are every `--summary-every`-th step (0-based, so step 0 shows the initial
//! state) and the last step. All values of a summary step describe the same model, W_t (the
//! parameters *before* step t's update) and the batch of step t:
//!
//! | tag | kind | when |
//! |---|---|---|
//! | `loss/loss` | scalar | every step |
//! | `train/learning_rate`, `train/frames_per_second` | scalar | summary steps |
//! | the seed's activation tags (`con1_before_relu`, … `softmax_output_distribution`) | histogram | summary steps |
//! | the seed's parameter tags (`weights_conv1`, … `softmax_biases`) and `<tag>/delta_from_init` (W_t − W₀) | histogram | summary steps |
//! | `update_ratio/<tag>` (‖W_{t+1} − W_t‖/‖W_t‖), `drift/<tag>` (‖W_t − W₀‖/‖W₀‖) | scalar | summary steps |
//! | `dead_relu/<layer>` (fraction of exact zeros after the ReLU, whole batch) | scalar | summary steps |
//! | `non_finite/<tag>` (NaN and ±inf dropped from that histogram) | scalar | only when non-zero |
//! | `frame_resized/image/<i>`, i < 8 (TF1's names for `max_outputs > 1`) | PNG image | summary steps |
//! | `eval/held_out_error`, `eval/constant_error` | scalar | end of run, at step `--steps` |
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
//! * [`diagnosis`]: the verdicts, the table, `diagnosis.md` and the answer in words.
//! * [`divergence`]: the report of a run whose loss or parameters stopped being finite.
//! * [`plot`]: PNG band plots of W and W − W₀.
//! * [`run`]: [`RunLog`], which ties them to one run directory.

pub mod diagnosis;
pub mod divergence;
pub mod fill;
pub mod history;
pub mod observer;
pub mod params;
pub mod plot;
pub mod run;

pub use divergence::Divergence;
pub use observer::HistogramObserver;
pub use params::ParamTracker;
pub use run::RunLog;
