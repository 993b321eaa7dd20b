//! Valence's numeric core: every kernel of the valence network, forward and backward, its
//! optimisers and initialisers — `#![no_std]`, heap-free, over caller-provided buffers.
//!
//! * Layouts and semantics are TensorFlow's: activations NHWC, conv filters HWIO
//!   `[kh, kw, c_in, c_out]`, dense weights `[in, out]`, SAME/VALID padding as `tf.nn`.
//! * Geometry is validated once by a constructor (`Conv2d::new`, `Pool2d::new`, `Lrn::new`,
//!   `Dense::new`) with checked arithmetic; its length queries cannot fail afterwards.
//! * Every kernel checks every slice length before it writes anything and returns
//!   [`KernelError`] naming the argument, the expected and the actual length.
//! * Kernels that produce a *parameter* gradient accumulate into it (`+=`), so micro-batches
//!   add up; kernels that produce an *activation* gradient overwrite it.
//! * Exact maths comes from `libm` only (square roots from `std` with the `std` feature: the
//!   same correctly rounded bits, faster on the host); fast approximations live in [`approx`]
//!   under their own names.
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod activation;
pub mod approx;
pub mod conv2d;
pub mod data;
pub mod dense;
pub mod error;
pub mod gemm;
pub mod geometry;
pub mod histogram;
pub mod init;
pub mod loss;
pub mod lrn;
pub mod net;
pub mod optim;
pub mod pool;
pub mod quant;
pub mod rng;
mod sqrt;
#[cfg(test)]
pub(crate) mod test_data;

// The `std` feature links std for one thing: its square root (see `sqrt`).
#[cfg(feature = "std")]
extern crate std;

pub use error::KernelError;
pub use gemm::{Backend, Exec, Gemm, LayerAlgorithms, Layout, Portable};
pub use geometry::{Axis, Hwc, Padding};
