//! The third part of the host seam: a host's own algorithm for the layers it knows a faster
//! way to compute (the host's Winograd transforms for 3×3 stride-1 convolutions, say).
//!
//! The kernels validate every slice first and then offer the call here; only when the host
//! declines (the default, and what a board does) do they run their own code. A host that
//! computes a layer its own way must give TensorFlow's result within the golden tests'
//! tolerances, and the same bits for any number of threads.

use crate::conv2d::Conv2d;
use crate::lrn::Lrn;
use crate::pool::Pool2d;

/// Optional host algorithms for convolutions, LRN and max-pool; see the module documentation. Each method
/// returns `true` when it computed the result, `false` (the default) when the kernel should.
///
/// The slices have been checked against `g` and `batch` (`batch ≥ 1`): `input` and `d_input`
/// are `batch × g.input_len()`, `output` and `d_output` `batch × g.output_len()`, `filter` and
/// `d_filter` `g.filter_len()`, `bias` `g.bias_len()`.
pub trait LayerAlgorithms {
    /// `output = conv2d(input, filter) + bias` (overwrites `output`), as
    /// [`conv2d_f32`](crate::conv2d::conv2d_f32); then, if `relu`, ReLU as
    /// [`relu_f32`](crate::activation::relu_f32) (as [`conv2d_relu_f32`](crate::conv2d::conv2d_relu_f32)).
    #[allow(clippy::too_many_arguments)]
    fn conv_forward(
        &self,
        _g: &Conv2d,
        _batch: usize,
        _input: &[f32],
        _filter: &[f32],
        _bias: &[f32],
        _relu: bool,
        _output: &mut [f32],
    ) -> bool {
        false
    }

    /// As [`LayerAlgorithms::conv_forward`] for `u8` frames normalised as
    /// [`normalise_u8`](crate::conv2d::normalise_u8) ([`conv2d_u8`](crate::conv2d::conv2d_u8),
    /// [`conv2d_relu_u8`](crate::conv2d::conv2d_relu_u8)).
    #[allow(clippy::too_many_arguments)]
    fn conv_forward_u8(
        &self,
        _g: &Conv2d,
        _batch: usize,
        _input: &[u8],
        _filter: &[f32],
        _bias: &[f32],
        _relu: bool,
        _output: &mut [f32],
    ) -> bool {
        false
    }

    /// Overwrites `d_input` with the input gradient, as
    /// [`conv2d_backward_input_f32`](crate::conv2d::conv2d_backward_input_f32).
    fn conv_backward_input(
        &self,
        _g: &Conv2d,
        _batch: usize,
        _d_output: &[f32],
        _filter: &[f32],
        _d_input: &mut [f32],
    ) -> bool {
        false
    }

    /// Adds the filter gradient to `d_filter`, as
    /// [`conv2d_backward_filter_f32`](crate::conv2d::conv2d_backward_filter_f32).
    fn conv_backward_filter(
        &self,
        _g: &Conv2d,
        _batch: usize,
        _input: &[f32],
        _d_output: &[f32],
        _d_filter: &mut [f32],
    ) -> bool {
        false
    }

    /// As [`LayerAlgorithms::conv_backward_filter`] for `u8` frames, as
    /// [`conv2d_backward_filter_u8`](crate::conv2d::conv2d_backward_filter_u8).
    fn conv_backward_filter_u8(
        &self,
        _g: &Conv2d,
        _batch: usize,
        _input: &[u8],
        _d_output: &[f32],
        _d_filter: &mut [f32],
    ) -> bool {
        false
    }

    /// Overwrites `output` with LRN over `rows` pixels, as [`lrn_f32`](crate::lrn::lrn_f32)
    /// (`input` and `output` are `rows · g.channels()` long).
    fn lrn_forward(&self, _g: &Lrn, _rows: usize, _input: &[f32], _output: &mut [f32]) -> bool {
        false
    }

    /// Overwrites `d_input` with LRN's input gradient over `rows` pixels, as
    /// [`lrn_backward_f32`](crate::lrn::lrn_backward_f32) (`input`, `d_output` and `d_input`
    /// are `rows · g.channels()` long); then, if `relu`, with the gradient of the ReLU whose
    /// output `input` is, as [`relu_backward_f32`](crate::activation::relu_backward_f32)`(input,
    /// d_input)`.
    fn lrn_backward(
        &self,
        _g: &Lrn,
        _rows: usize,
        _input: &[f32],
        _d_output: &[f32],
        _relu: bool,
        _d_input: &mut [f32],
    ) -> bool {
        false
    }

    /// Overwrites `output` with the max-pool of `batch` examples, as
    /// [`max_pool_f32`](crate::pool::max_pool_f32), bit for bit (max-pool is exact: a host
    /// must keep its arg-max rule, ties and NaN included). The slices have been checked against
    /// `g` as the convolutions' are.
    fn pool_forward(
        &self,
        _g: &Pool2d,
        _batch: usize,
        _input: &[f32],
        _output: &mut [f32],
    ) -> bool {
        false
    }

    /// Overwrites `d_input` with max-pool's input gradient, as
    /// [`max_pool_backward_f32`](crate::pool::max_pool_backward_f32), bit for bit (the same
    /// arg-max, and the gradients of overlapping windows added in the same order).
    fn pool_backward(
        &self,
        _g: &Pool2d,
        _batch: usize,
        _input: &[f32],
        _d_output: &[f32],
        _d_input: &mut [f32],
    ) -> bool {
        false
    }
}

/// The portable backend computes every convolution with the kernels' im2col + GEMM.
impl LayerAlgorithms for super::Portable {}
