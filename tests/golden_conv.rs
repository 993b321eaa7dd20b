//! Convolution against TensorFlow's own numbers (`tests/fixtures/conv2d*.json`, written by
//! `tools/gen_golden.py` with `tf.nn.conv2d` + `tf.nn.bias_add` and `tf.GradientTape`).
//!
//! Every case runs with tiles of 1, 5, one example's output pixels and more than the whole
//! batch's, through the reference [`kernels::Portable`] GEMM, `matrixmultiply` and host-sim's
//! `FastGemm` (each micro-kernel this CPU runs): tiling must not change the result, and the
//! fast paths have to meet the same tolerances.
//!
//! Tolerances (`|got − want| ≤ atol + rtol·|want|`) and why:
//! * forward and `d_input`: atol 1e-5, rtol 1e-4. Each value is a sum of at most
//!   5·5·17 = 425 (forward) or 5·5·19 = 475 (`d_input`) products; the generator scales filters
//!   by 1/√(kh·kw·c_in) so values are O(1). TensorFlow's Eigen contraction adds in another
//!   order (and the fast GEMM may fuse), which moves a sum of n terms by about √n ulps of its
//!   largest partial sums: ~1e-6 here. atol covers sums that cancel to near zero.
//! * `d_filter` and `d_bias`: atol 1e-4, rtol 1e-4. They reduce over batch × output pixels
//!   (up to 2·11·11 = 242 terms) of O(1) products, so values reach ~30 and their partial sums
//!   carry proportionally larger rounding.

mod common;

use common::{check_close, fast_gemms, load_fixture, nans, padding, MatrixMultiply};
use kernels::activation::bias_backward_f32;
use kernels::conv2d::{
    conv2d_backward_filter_f32, conv2d_backward_filter_u8, conv2d_backward_input_f32, conv2d_f32,
    conv2d_u8, Conv2d,
};
use kernels::{Backend, Hwc, Portable};
use serde::Deserialize;

const FWD_ATOL: f32 = 1e-5;
const FWD_RTOL: f32 = 1e-4;
const RED_ATOL: f32 = 1e-4;
const RED_RTOL: f32 = 1e-4;

#[derive(Deserialize)]
struct Geometry {
    name: String,
    batch: usize,
    input_hwc: [usize; 3],
    kernel: [usize; 2],
    c_out: usize,
    stride: [usize; 2],
    padding: String,
    output_hwc: [usize; 3],
}

#[derive(Deserialize)]
struct ConvCase {
    #[serde(flatten)]
    geo: Geometry,
    input: Vec<f32>,
    filter: Vec<f32>,
    bias: Vec<f32>,
    dy: Vec<f32>,
    output: Vec<f32>,
    d_input: Vec<f32>,
    d_filter: Vec<f32>,
    d_bias: Vec<f32>,
}

#[derive(Deserialize)]
struct ConvU8Case {
    #[serde(flatten)]
    geo: Geometry,
    input: Vec<u8>,
    filter: Vec<f32>,
    bias: Vec<f32>,
    dy: Vec<f32>,
    output: Vec<f32>,
    d_filter: Vec<f32>,
    d_bias: Vec<f32>,
}

/// The GEMMs every case runs through, with a name for the messages.
fn gemms() -> Vec<(&'static str, &'static dyn Backend)> {
    let mut all: Vec<(&'static str, &'static dyn Backend)> =
        vec![("Portable", &Portable), ("matrixmultiply", &MatrixMultiply)];
    all.extend(fast_gemms());
    all
}

impl Geometry {
    /// Tiles of 1, 5, one example's output pixels, and more than the whole batch's pixels.
    fn tiles(&self) -> [usize; 4] {
        let pixels = self.output_hwc[0] * self.output_hwc[1];
        [1, 5, pixels, self.batch * pixels + 3]
    }

    /// Builds the geometry for `tile` and checks it against the shapes TensorFlow produced.
    fn conv(&self, tile: usize) -> Conv2d {
        let [h, w, c] = self.input_hwc;
        let g = Conv2d::new(
            Hwc::new(h, w, c),
            self.kernel,
            self.c_out,
            self.stride,
            padding(&self.padding),
            tile,
        )
        .unwrap_or_else(|e| panic!("{}: Conv2d::new: {e}", self.name));
        let [oh, ow, oc] = self.output_hwc;
        assert_eq!(
            g.output(),
            Hwc::new(oh, ow, oc),
            "{}: output shape",
            self.name
        );
        assert_eq!(g.tile(), tile, "{}: tile", self.name);
        g
    }

    fn rows(&self) -> usize {
        self.batch * self.output_hwc[0] * self.output_hwc[1]
    }
}

/// The conv d_bias is a plain reduction of `dy` over batch × pixels.
fn check_d_bias(what: &str, geo: &Geometry, dy: &[f32], want: &[f32]) -> f32 {
    let mut d_bias = vec![0.0; geo.c_out];
    bias_backward_f32(geo.rows(), dy, &mut d_bias).unwrap();
    check_close(what, &d_bias, want, RED_ATOL, RED_RTOL)
}

#[test]
fn conv2d_f32_matches_tensorflow() {
    let fx = load_fixture::<ConvCase>("conv2d", 18);
    let reference = fx.reference();
    let mut worst = [0.0f32; 4];
    for case in &fx.cases {
        let geo = &case.geo;
        for tile in geo.tiles() {
            let g = geo.conv(tile);
            assert_eq!(g.input_len() * geo.batch, case.input.len(), "{}", geo.name);
            assert_eq!(g.filter_len(), case.filter.len(), "{}", geo.name);
            for (gemm_name, gemm) in gemms() {
                let what = |out: &str| {
                    format!(
                        "{} {out} (tile {tile}, {gemm_name}) vs {reference}",
                        geo.name
                    )
                };
                let mut scratch = nans(g.scratch_len());

                let mut output = nans(case.output.len());
                conv2d_f32(
                    &g,
                    gemm,
                    geo.batch,
                    &case.input,
                    &case.filter,
                    &case.bias,
                    &mut scratch,
                    &mut output,
                )
                .unwrap();
                let r = check_close(&what("output"), &output, &case.output, FWD_ATOL, FWD_RTOL);
                worst[0] = worst[0].max(r);

                let mut d_input = nans(case.d_input.len());
                scratch.fill(f32::NAN);
                conv2d_backward_input_f32(
                    &g,
                    gemm,
                    geo.batch,
                    &case.dy,
                    &case.filter,
                    &mut scratch,
                    &mut d_input,
                )
                .unwrap();
                let r = check_close(
                    &what("d_input"),
                    &d_input,
                    &case.d_input,
                    FWD_ATOL,
                    FWD_RTOL,
                );
                worst[1] = worst[1].max(r);

                let mut d_filter = vec![0.0; case.d_filter.len()];
                scratch.fill(f32::NAN);
                conv2d_backward_filter_f32(
                    &g,
                    gemm,
                    geo.batch,
                    &case.input,
                    &case.dy,
                    &mut scratch,
                    &mut d_filter,
                )
                .unwrap();
                let r = check_close(
                    &what("d_filter"),
                    &d_filter,
                    &case.d_filter,
                    RED_ATOL,
                    RED_RTOL,
                );
                worst[2] = worst[2].max(r);
            }
        }
        let r = check_d_bias(
            &format!("{} d_bias vs {reference}", geo.name),
            geo,
            &case.dy,
            &case.d_bias,
        );
        worst[3] = worst[3].max(r);
    }
    println!(
        "conv2d f32 vs {reference}: {} cases; worst |diff|/tol: output {:.1e}, d_input {:.1e}, \
         d_filter {:.1e}, d_bias {:.1e}",
        fx.cases.len(),
        worst[0],
        worst[1],
        worst[2],
        worst[3]
    );
}

#[test]
fn conv2d_u8_matches_tensorflow() {
    // TensorFlow normalises with `(tf.cast(x, tf.float32) - 128) / 255`; a kernel that
    // multiplies by 1/255 instead is at most an ulp away per input, well inside FWD_RTOL.
    let fx = load_fixture::<ConvU8Case>("conv2d_u8", 3);
    let reference = fx.reference();
    let mut worst = [0.0f32; 3];
    for case in &fx.cases {
        let geo = &case.geo;
        for tile in geo.tiles() {
            let g = geo.conv(tile);
            assert_eq!(g.input_len() * geo.batch, case.input.len(), "{}", geo.name);
            for (gemm_name, gemm) in gemms() {
                let what = |out: &str| {
                    format!(
                        "{} u8 {out} (tile {tile}, {gemm_name}) vs {reference}",
                        geo.name
                    )
                };
                let mut scratch = nans(g.scratch_len());

                let mut output = nans(case.output.len());
                conv2d_u8(
                    &g,
                    gemm,
                    geo.batch,
                    &case.input,
                    &case.filter,
                    &case.bias,
                    &mut scratch,
                    &mut output,
                )
                .unwrap();
                let r = check_close(&what("output"), &output, &case.output, FWD_ATOL, FWD_RTOL);
                worst[0] = worst[0].max(r);

                let mut d_filter = vec![0.0; case.d_filter.len()];
                scratch.fill(f32::NAN);
                conv2d_backward_filter_u8(
                    &g,
                    gemm,
                    geo.batch,
                    &case.input,
                    &case.dy,
                    &mut scratch,
                    &mut d_filter,
                )
                .unwrap();
                let r = check_close(
                    &what("d_filter"),
                    &d_filter,
                    &case.d_filter,
                    RED_ATOL,
                    RED_RTOL,
                );
                worst[1] = worst[1].max(r);
            }
        }
        let r = check_d_bias(
            &format!("{} u8 d_bias vs {reference}", geo.name),
            geo,
            &case.dy,
            &case.d_bias,
        );
        worst[2] = worst[2].max(r);
    }
    println!(
        "conv2d u8 vs {reference}: {} cases; worst |diff|/tol: output {:.1e}, d_filter {:.1e}, \
         d_bias {:.1e}",
        fx.cases.len(),
        worst[0],
        worst[1],
        worst[2]
    );
}

#[test]
fn conv2d_tiles_give_identical_bits_with_portable() {
    // The determinism rule: one fixed summation order whatever the tiling. With the Portable
    // GEMM every tile size must give the very same bits (not merely TF's tolerance).
    let fx = load_fixture::<ConvCase>("conv2d", 18);
    for case in &fx.cases {
        let geo = &case.geo;
        let mut first: Option<(Vec<f32>, Vec<f32>, Vec<f32>)> = None;
        for tile in geo.tiles() {
            let g = geo.conv(tile);
            let mut scratch = nans(g.scratch_len());
            let mut output = nans(case.output.len());
            conv2d_f32(
                &g,
                &Portable,
                geo.batch,
                &case.input,
                &case.filter,
                &case.bias,
                &mut scratch,
                &mut output,
            )
            .unwrap();
            let mut d_input = nans(case.d_input.len());
            conv2d_backward_input_f32(
                &g,
                &Portable,
                geo.batch,
                &case.dy,
                &case.filter,
                &mut scratch,
                &mut d_input,
            )
            .unwrap();
            let mut d_filter = vec![0.0; case.d_filter.len()];
            conv2d_backward_filter_f32(
                &g,
                &Portable,
                geo.batch,
                &case.input,
                &case.dy,
                &mut scratch,
                &mut d_filter,
            )
            .unwrap();
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            match &first {
                None => first = Some((output, d_input, d_filter)),
                Some((o, di, df)) => {
                    assert_eq!(bits(o), bits(&output), "{} output, tile {tile}", geo.name);
                    assert_eq!(
                        bits(di),
                        bits(&d_input),
                        "{} d_input, tile {tile}",
                        geo.name
                    );
                    assert_eq!(
                        bits(df),
                        bits(&d_filter),
                        "{} d_filter, tile {tile}",
                        geo.name
                    );
                }
            }
        }
    }
}
