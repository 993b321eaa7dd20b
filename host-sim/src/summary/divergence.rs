//! A run whose loss or parameters stopped being finite: where and how. The learning report
//! words it (see [`super::report`]); a diverged run never gets a "learned" verdict.

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
        write!(f, "diverged at step {}: {}; ", self.step, self.what)?;
        match self.last_checkpoint {
            Some(step) => write!(f, "the last good checkpoint (step {step}) is kept"),
            None => write!(f, "no checkpoint was saved before it"),
        }
    }
}
