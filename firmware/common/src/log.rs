//! The lines a board logs, one `defmt` message each; `host-sim ingest` and the boards test parse
//! them from `defmt-print`'s output. Numbers whose bits matter are written as hex bit patterns
//! (f32 `to_bits`, f64 `to_bits`), so nothing is lost to decimal printing.
//!
//! ```text
//! board <name> seed <u64> steps <n> batch <n> micro-batch 1 summary-every <n> lr <f32 bits>
//! arena <bytes> bytes                                 (the f32 training arena)
//! step <1-based step> loss <f32 bits>
//! hist <0-based step> <tag>[/delta_from_init] num <n> min <f64 bits> max <f64 bits> sum <f64 bits> sum-sq <f64 bits> non-finite <nan> <+inf> <-inf> buckets <k>
//! buckets [<index>, <count>, <index>, <count>, …]    (k pairs in all, at most 16 a line, right after their hist line)
//! relu <0-based step> <layer> zeros <n> of <values> dead <units> of <width>   (each ReLU layer)
//! learn <0-based step> <tag> w-sq <f64 bits> w0-sq <f64 bits> moved-sq <f64 bits> step-sq <f64 bits>
//! crc <u32>
//! count <forward|backward> <layer> <instructions>     (one step: the sum over its frames)
//! count <data|optimizer|step> <instructions>
//! int8 <bytes> bytes                                  (the int8 network's buffers)
//! predict <held-out index> <f32 bits>
//! stack <peak bytes> of <painted bytes>
//! done
//! ```
//!
//! A histogram line describes the parameter tensor W_t *before* that step's Adam update, as
//! host-sim's summaries do, or W_t − W₀ (`/delta_from_init`). A `learn` line gives the sums
//! host-sim's learning scalars are made of, in f64 and index order: ‖W_t‖², ‖W₀‖², ‖W_t − W₀‖²
//! and ‖W_{t+1} − W_t‖².

use heapless::Vec;
use kernels::histogram::Histogram;

use crate::Error;

/// Bucket pairs per `buckets` line: short lines keep each defmt frame small.
const PAIRS_PER_LINE: usize = 16;

/// Logs the run's settings.
pub fn header(board: &str) {
    let s = crate::SETTINGS;
    defmt::println!(
        "board {=str} seed {=u64} steps {=u32} batch {=u32} micro-batch 1 summary-every {=u32} lr {=u32:x}",
        board,
        s.seed,
        s.steps,
        s.batch,
        s.summary_every,
        s.lr.to_bits()
    );
}

/// Logs one step's loss (`step` counts from 1, as `host-sim --exact` prints it).
pub fn loss(step: u32, loss: f32) {
    defmt::println!("step {=u32} loss {=u32:x}", step, loss.to_bits());
}

/// Logs `hist` as the histogram of tensor `tag` (the tag being `tag` then `suffix`) at
/// (0-based) step `step`: its totals, then its non-empty buckets.
///
/// # Errors
/// [`Error::Capacity`] if a count does not fit in `u32` (never for TINY's tensors).
pub fn histogram(step: u32, tag: &str, suffix: &str, hist: &Histogram) -> Result<(), Error> {
    let nonempty = hist.counts().iter().filter(|&&c| c != 0).count();
    let f = |x: Option<f64>| x.unwrap_or(f64::NAN).to_bits();
    defmt::println!(
        "hist {=u32} {=str}{=str} num {=u64} min {=u64:x} max {=u64:x} sum {=u64:x} sum-sq {=u64:x} non-finite {=u64} {=u64} {=u64} buckets {=usize}",
        step,
        tag,
        suffix,
        hist.num(),
        f(hist.min()),
        f(hist.max()),
        hist.sum().to_bits(),
        hist.sum_squares().to_bits(),
        hist.nan(),
        hist.pos_inf(),
        hist.neg_inf(),
        nonempty
    );
    let mut line: Vec<u32, { 2 * PAIRS_PER_LINE }> = Vec::new();
    for (i, &c) in hist.counts().iter().enumerate().filter(|(_, &c)| c != 0) {
        let count = u32::try_from(c).map_err(|_| Error::Capacity("histogram count"))?;
        // Bucket indices are below BUCKETS (1551), far inside u32.
        if line.push(i as u32).and(line.push(count)).is_err() {
            return Err(Error::Capacity("buckets line"));
        }
        if line.is_full() {
            defmt::println!("buckets {=[?]}", &line[..]);
            line.clear();
        }
    }
    if !line.is_empty() {
        defmt::println!("buckets {=[?]}", &line[..]);
    }
    Ok(())
}

/// Logs the learning sums of tensor `tag` at (0-based) step `step`: `[‖W_t‖², ‖W₀‖²,
/// ‖W_t − W₀‖², ‖W_{t+1} − W_t‖²]`.
pub fn learning(step: u32, tag: &str, sums: [f64; 4]) {
    defmt::println!(
        "learn {=u32} {=str} w-sq {=u64:x} w0-sq {=u64:x} moved-sq {=u64:x} step-sq {=u64:x}",
        step,
        tag,
        sums[0].to_bits(),
        sums[1].to_bits(),
        sums[2].to_bits(),
        sums[3].to_bits()
    );
}
