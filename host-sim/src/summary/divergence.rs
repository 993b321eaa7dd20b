//! A run whose loss or parameters stopped being finite: what happened, and the report that takes
//! the learning diagnosis's place (a diverged run never gets a "learned" verdict).

use std::fmt;

/// Where and how a run diverged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// The step (0-based, as in `loss/loss`) whose loss or update was not finite.
    pub step: u64,
    /// What was not finite, e.g. "the loss is NaN".
    pub what: String,
    /// The step count of the last checkpoint saved before it, if any (kept as it was).
    pub last_checkpoint: Option<u64>,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "diverged at step {}: {}", self.step, self.what)
    }
}

impl Divergence {
    /// The plain-language answer printed instead of the learning diagnosis.
    pub fn answer(&self) -> String {
        let kept = match self.last_checkpoint {
            Some(step) => format!("the last good checkpoint (step {step}) is kept"),
            None => "no checkpoint was saved before it".to_owned(),
        };
        format!(
            "**Did the weights learn?** No: the run {self}. Training stopped there and {kept}; \
             a lower --lr usually avoids it."
        )
    }

    /// `diagnosis.md` of a diverged run of `run`.
    pub fn markdown(&self, run: &str) -> String {
        format!(
            "# Learning diagnosis — {run}\n\n## Diverged at step {}\n\n{}\n",
            self.step,
            self.answer()
        )
    }
}
