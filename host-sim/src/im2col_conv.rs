//! The host's forward pass and filter gradient for the convolutions the Winograd transforms do
//! not take (the FULL network's conv1: 5×5 at stride 4 on `u8` frames): the batch is split into
//! units of whole images, and each unit's im2col, bias, product and ReLU run on one pool
//! thread, in cache. The
//! kernels' own loop makes four parallel sections per tile of output pixels (im2col, bias fill,
//! product, ReLU), and at conv1's 72 tiles per batch of 128 waking the pool for each cost more
//! than the work. The bits are the kernels' loop's on [`FastGemm`]: each output starts from its
//! bias, adds the product as one chain of fused multiply-adds, then takes its ReLU.

use std::cell::RefCell;

use kernels::activation::relu_f32;
use kernels::conv2d::{im2col_f32, im2col_u8, Conv2d};
use kernels::{KernelError, Layout};
use rayon::prelude::*;

use crate::fast_gemm::{at_least, images_per_unit, FastGemm};

/// Output pixels per unit: a unit's patches (`rows × patch_len`) stay in L2.
const ROWS_PER_UNIT: usize = 512;

/// A convolution's input: `f32` features or `u8` frames.
#[derive(Debug, Clone, Copy)]
pub enum Frames<'a> {
    /// Features, as they are.
    F32(&'a [f32]),
    /// Frame bytes, normalised as [`kernels::conv2d::normalise_u8`].
    U8(&'a [u8]),
}

impl Frames<'_> {
    /// The patches of output pixels `first ..` of a `batch`-example input, into `cols`.
    fn im2col(
        self,
        g: &Conv2d,
        batch: usize,
        first: usize,
        cols: &mut [f32],
    ) -> Result<(), KernelError> {
        match self {
            Frames::F32(x) => im2col_f32(g, batch, x, first, cols),
            Frames::U8(x) => im2col_u8(g, batch, x, first, cols),
        }
    }
}

thread_local! {
    /// A pool thread's patches (grown, never shrunk: no allocation per step).
    static PATCHES: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// `output = conv2d(input, filter) + bias`, then ReLU if `relu`, over `batch` examples whose
/// slices the caller checked against `g` (see [`kernels::LayerAlgorithms::conv_forward`]).
///
/// # Errors
/// im2col's, should the slices not fit `g` after all; `output` is then partly written.
#[allow(clippy::too_many_arguments)]
pub fn forward(
    gemm: &FastGemm,
    g: &Conv2d,
    batch: usize,
    input: Frames<'_>,
    filter: &[f32],
    bias: &[f32],
    relu: bool,
    output: &mut [f32],
) -> Result<(), KernelError> {
    let (pixels, patch, c_out) = (g.output().pixels(), g.patch_len(), g.bias_len());
    let images = images_per_unit(batch, pixels, ROWS_PER_UNIT, gemm.threads());
    let unit = |(u, out): (usize, &mut [f32])| {
        let rows = out.len() / c_out;
        let first = u * images * pixels;
        PATCHES.with_borrow_mut(|patches| {
            let patches = at_least(patches, rows * patch);
            input.im2col(g, batch, first, patches)?;
            for row in out.chunks_exact_mut(c_out) {
                row.copy_from_slice(bias);
            }
            gemm.gemm_acc_here(
                rows,
                patch,
                c_out,
                patches,
                Layout::RowMajor,
                filter,
                Layout::RowMajor,
                out,
            );
            if relu {
                relu_f32(out);
            }
            Ok(())
        })
    };
    gemm.pool().install(|| {
        output
            .par_chunks_mut(images * g.output_len())
            .enumerate()
            .map(unit)
            .collect()
    })
}

/// Adds the filter gradient of `batch` examples to `d_filter`: per image, its patches (in
/// cache) times its output gradient from zero, on one pool thread; then the images' products
/// added to `d_filter` in image order. The split is fixed by the batch, not the threads, so
/// the bits do not depend on their number (they differ from the kernels' single chain over
/// every pixel by rounding). `partials` is the per-image products' buffer, grown as needed.
///
/// # Errors
/// im2col's, should the slices not fit `g` after all; `d_filter` is then untouched.
#[allow(clippy::too_many_arguments)]
pub fn backward_filter(
    gemm: &FastGemm,
    g: &Conv2d,
    batch: usize,
    input: Frames<'_>,
    d_output: &[f32],
    partials: &mut Vec<f32>,
    d_filter: &mut [f32],
) -> Result<(), KernelError> {
    let (pixels, patch, c_out) = (g.output().pixels(), g.patch_len(), g.bias_len());
    let len = g.filter_len();
    let partials = at_least(partials, batch * len);
    let image = |(e, part): (usize, &mut [f32])| {
        PATCHES.with_borrow_mut(|patches| {
            let patches = at_least(patches, pixels * patch);
            input.im2col(g, batch, e * pixels, patches)?;
            part.fill(0.0);
            // The pixels × patch_len patches are their transpose patch_len × pixels stored
            // column-major.
            gemm.gemm_acc_here(
                patch,
                pixels,
                c_out,
                patches,
                Layout::ColMajor,
                &d_output[e * pixels * c_out..][..pixels * c_out],
                Layout::RowMajor,
                part,
            );
            Ok(())
        })
    };
    gemm.pool().install(|| {
        partials
            .par_chunks_mut(len)
            .enumerate()
            .map(image)
            .collect::<Result<(), KernelError>>()
    })?;
    for part in partials.chunks(len) {
        for (d, &p) in d_filter.iter_mut().zip(part) {
            *d += p;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernels::conv2d::{conv2d_relu_u8, conv2d_u8};
    use kernels::rng::Rng;
    use kernels::{Hwc, Padding};

    #[test]
    fn the_filter_gradient_matches_f64_and_any_thread_count() {
        // Reference: d_filter[p][co] = Σ_pixels patch[p]·d_out[co] in f64, from the kernels'
        // im2col (the golden tests hold it to TensorFlow's patches).
        let g = Conv2d::new(Hwc::new(20, 20, 3), [5, 5], 8, [4, 4], Padding::Same, 7).unwrap();
        let n = 6;
        let mut rng = Rng::new(4, 0);
        let frames: Vec<u8> = (0..n * g.input_len())
            .map(|_| rng.next_u32() as u8)
            .collect();
        let dy: Vec<f32> = (0..n * g.output_len())
            .map(|_| rng.next_f32() - 0.5)
            .collect();
        let (pixels, patch) = (n * g.output().pixels(), g.patch_len());
        let mut cols = vec![0.0; pixels * patch];
        im2col_u8(&g, n, &frames, 0, &mut cols).unwrap();
        let mut want = vec![1.0f64; g.filter_len()];
        for (row, d) in cols.chunks(patch).zip(dy.chunks(8)) {
            for (p, &x) in row.iter().enumerate() {
                for (co, &dv) in d.iter().enumerate() {
                    want[p * 8 + co] += f64::from(x) * f64::from(dv);
                }
            }
        }
        let mut first: Option<Vec<u32>> = None;
        for threads in [1, 2, 3] {
            let gemm = FastGemm::new(threads).unwrap();
            let mut got = vec![1.0f32; g.filter_len()];
            let mut partials = Vec::new();
            let input = Frames::U8(&frames);
            backward_filter(&gemm, &g, n, input, &dy, &mut partials, &mut got).unwrap();
            for (i, (&a, &b)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (f64::from(a) - b).abs() <= 1e-5 * (1.0 + b.abs()),
                    "{i}: {a} vs {b}"
                );
            }
            let bits: Vec<u32> = got.iter().map(|x| x.to_bits()).collect();
            assert_eq!(
                *first.get_or_insert(bits.clone()),
                bits,
                "{threads} threads"
            );
        }
    }

    #[test]
    fn the_units_give_the_kernels_loops_bits() {
        // Reference: the kernels' own tiled loop on the same GEMM (FastGemm without its own
        // convolutions), which the golden tests hold to TensorFlow's numbers.
        let g = Conv2d::new(Hwc::new(20, 20, 3), [5, 5], 8, [4, 4], Padding::Same, 7).unwrap();
        let n = 5;
        let mut rng = Rng::new(3, 0);
        let frames: Vec<u8> = (0..n * g.input_len())
            .map(|_| rng.next_u32() as u8)
            .collect();
        let filter: Vec<f32> = (0..g.filter_len()).map(|_| rng.next_f32() - 0.5).collect();
        let bias: Vec<f32> = (0..8).map(|_| rng.next_f32() - 0.5).collect();
        let plain = FastGemm::new(2).unwrap().without_own_layers();
        let mut scratch = vec![0.0; g.scratch_len()];
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for relu in [false, true] {
            let mut want = vec![f32::NAN; n * g.output_len()];
            let run = if relu { conv2d_relu_u8 } else { conv2d_u8 };
            run(
                &g,
                &plain,
                n,
                &frames,
                &filter,
                &bias,
                &mut scratch,
                &mut want,
            )
            .unwrap();
            for threads in [1, 3] {
                let gemm = FastGemm::new(threads).unwrap();
                let mut got = vec![f32::NAN; want.len()];
                let input = Frames::U8(&frames);
                forward(&gemm, &g, n, input, &filter, &bias, relu, &mut got).unwrap();
                assert_eq!(bits(&got), bits(&want), "relu {relu}, {threads} threads");
            }
        }
    }
}
