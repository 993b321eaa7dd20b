//! The end of a run: how fast it trained, its held-out evaluation, its learning report and
//! [`RunReport`].

use std::path::PathBuf;

use anyhow::{bail, Result};

use crate::checksum::params_crc32;
use crate::summary;
use crate::summary::diagnosis::HeldOut;

use super::data::classes_of;
use super::eval;
use super::trainer::{logdir, Trainer};

/// What a finished run reports.
#[derive(Debug, Clone, PartialEq)]
pub struct RunReport {
    /// The run directory (event files, checkpoint).
    pub run_dir: PathBuf,
    /// Steps done in total (including those before a resume).
    pub steps: u64,
    /// The loss of the last step (NaN when a resume only finished the evaluation).
    pub last_loss: f32,
    /// Number of held-out frames evaluated.
    pub held_out_frames: usize,
    /// Held-out `Σ c·|p − y| / Σ c` of the trained network, for a classification network its
    /// error rate `1 − accuracy` (NaN without held-out frames).
    pub held_out_error: f64,
    /// The same for the best constant predictor (the held-out confidence-weighted median; the
    /// most frequent class).
    pub constant_error: f64,
    /// A classification network's held-out accuracy (NaN for regression or without frames).
    pub accuracy: f64,
    /// A classification network's chance level, `1 / classes` (NaN for regression).
    pub chance: f64,
    /// CRC-32 of all parameters' little-endian bytes.
    pub params_crc32: u32,
}

/// Fewer held-out frames than this give no error ratio: the weighted median of a handful of
/// frames fits them almost exactly (of one frame, exactly: the ratio would be infinite).
pub const MIN_HELD_OUT_FRAMES: usize = 10;

impl Trainer<'_> {
    /// Clears the progress bar and says how many steps ran, how fast.
    pub fn report_training(&self) {
        self.bar.finish_and_clear();
        let steps = self.setup.args.steps;
        if self.first_step < steps {
            let elapsed = self.started.elapsed().as_secs_f64();
            let done = self.diverged.as_ref().map_or(steps, |d| d.step + 1);
            let trained = (done - self.first_step) as f64 * self.setup.args.batch as f64;
            println!(
                "trained {} steps in {elapsed:.1} s ({:.0} frames/s); last loss {:.5}",
                done - self.first_step,
                trained / elapsed,
                self.last_loss
            );
        } else {
            println!("all {steps} steps were done; finishing the evaluation and the report");
        }
    }

    /// The held-out error of the network and of the best constant predictor, printed; `None`
    /// without held-out frames or after a divergence (the predictions are not finite then).
    ///
    /// # Errors
    /// A held-out frame that cannot be read, or a kernel error.
    pub fn evaluate(&mut self) -> Result<Option<HeldOut>> {
        if self.diverged.is_some() {
            return Ok(None);
        }
        let s = self.setup;
        let held_out = eval::held_out(
            &mut self.net,
            &*s.gemm,
            &s.source,
            &s.pool,
            s.micro,
            s.frame_len,
        )?;
        let frames = s.source.held_out_len();
        match held_out {
            None => {
                println!("held-out evaluation: no held-out frames (--holdout 0); nothing measured");
            }
            Some(HeldOut {
                classes: Some(k),
                error,
                constant_error,
                ..
            }) => println!(
                "held-out accuracy: {:.4} on {frames} examples  (chance 1/{k} = {:.4}; always the most frequent class: {:.4})",
                1.0 - error,
                1.0 / k as f64,
                1.0 - constant_error,
            ),
            Some(h) if frames < MIN_HELD_OUT_FRAMES => println!(
                "held-out weighted error: {:.4} on only {frames} frame(s), too few to compare with the constant predictor (at least {MIN_HELD_OUT_FRAMES}: raise --holdout or pass --val-data)",
                h.error
            ),
            Some(h) => println!(
                "held-out weighted error: {:.4}  (best constant predictor, the weighted median: {:.4}; ratio {:.2})",
                h.error,
                h.constant_error,
                h.error / h.constant_error
            ),
        }
        Ok(held_out)
    }

    /// Writes the learning report (with `held_out`, from [`Trainer::evaluate`]), prints it and
    /// the parameters' checksum.
    ///
    /// # Errors
    /// The report's I/O errors, or the divergence ("diverged at step N: …") once the report is
    /// written.
    pub fn finish(mut self, held_out: Option<HeldOut>) -> Result<RunReport> {
        let s = self.setup;
        let held_out_frames = s.source.held_out_len();
        // Too few held-out frames say nothing about the constant predictor: the report then
        // judges the run by its loss trend.
        let comparable = held_out.filter(|_| held_out_frames >= MIN_HELD_OUT_FRAMES);
        let diverged_at = self.diverged.as_ref().map(|d| d.step);
        let done = self.log.finish(s.args.steps, diverged_at, comparable)?;
        println!(
            "\nlearning diagnosis:\n{}",
            summary::report::table(&done.tensors, &done.run)
        );
        println!("{}\n", summary::report::answer(&done.tensors, &done.run));
        let report_path = self.run_dir.join(summary::run::DIAGNOSIS_FILE);
        println!("diagnosis report: {}", report_path.display());
        if let Some(d) = self.diverged {
            bail!(
                "{d}; try a lower --lr (learning diagnosis: {})",
                report_path.display()
            );
        }
        let (held_out_error, constant_error) =
            held_out.map_or((f64::NAN, f64::NAN), |h| (h.error, h.constant_error));
        let (accuracy, chance) = match (classes_of(&s.cfg), held_out) {
            (Some(k), Some(h)) => (1.0 - h.error, 1.0 / k as f64),
            (Some(k), None) => (f64::NAN, 1.0 / k as f64),
            (None, _) => (f64::NAN, f64::NAN),
        };
        println!(
            "TensorBoard logs: {}  (view: tensorboard --logdir {})",
            self.run_dir.display(),
            logdir(&self.run_dir).display()
        );
        let params = self.net.params();
        let crc = params_crc32(
            self.net
                .param_specs()
                .iter()
                .map(|p| &params[p.offset..p.offset + p.len]),
        );
        println!("parameters CRC-32: {crc:08x}");
        if s.args.checkpoint_every > 0 {
            println!("checkpoint: {}", self.run_dir.display());
        }
        Ok(RunReport {
            run_dir: self.run_dir,
            steps: s.args.steps,
            last_loss: self.last_loss,
            held_out_frames,
            held_out_error,
            constant_error,
            accuracy,
            chance,
            params_crc32: crc,
        })
    }
}
