//! Optimisers over flat parameter slices; the caller owns the state.
//!
//! Each update follows the arithmetic of TensorFlow's dense CPU functors
//! (`tensorflow/core/kernels/training_ops.cc`) operation by operation, in `f32`, without fused
//! multiply-adds, so a step reproduces TensorFlow's bits wherever TensorFlow itself does not
//! fuse. Every element is independent: there is no reduction, so the result does not depend on
//! how the caller splits a parameter set into slices, and each `…_with` variant lets a host
//! spread the elements over its threads ([`crate::Exec::map_lanes`]) for the same bits.
//! Configurations are plain structs with public fields, checked on every call before anything
//! is written.

mod adam;
mod adam_keras;
mod clip;
mod momentum;

pub use adam::{adam_step_f32, adam_step_f32_with, Adam, BetaPowers};
pub use adam_keras::{adam_keras_step_f32, adam_keras_step_f32_with, AdamKeras};
pub use clip::clip_by_global_norm_f32;
pub use momentum::{
    momentum_step_f32, momentum_step_f32_with, sgd_step_f32, sgd_step_f32_with, Momentum,
};

use crate::error::KernelError;

/// `Ok` when `x` is finite and `x >= 0`, otherwise [`KernelError::InvalidParam`] naming `arg`.
fn non_negative(arg: &'static str, x: f32) -> Result<(), KernelError> {
    if x.is_finite() && x >= 0.0 {
        Ok(())
    } else {
        Err(KernelError::InvalidParam { arg })
    }
}

/// `Ok` when `0 <= x < 1` (which excludes NaN), otherwise [`KernelError::InvalidParam`].
fn unit_interval(arg: &'static str, x: f32) -> Result<(), KernelError> {
    if (0.0..1.0).contains(&x) {
        Ok(())
    } else {
        Err(KernelError::InvalidParam { arg })
    }
}

/// `Ok` when `x` is finite and `x > 0`, otherwise [`KernelError::InvalidParam`] naming `arg`.
fn positive(arg: &'static str, x: f32) -> Result<(), KernelError> {
    if x.is_finite() && x > 0.0 {
        Ok(())
    } else {
        Err(KernelError::InvalidParam { arg })
    }
}
