//! Convolution against TensorFlow's own numbers (`tests/fixtures/conv2d*.json`, written by
//! `tools/gen_golden.py` with `tf.nn.conv2d` + `tf.nn.bias_add` and `tf.GradientTape`):
//! `conv2d.json` sweeps kernels, strides and paddings on small shapes; `conv2d_3x3_same.json`
//! holds 3×3 stride-1 SAME convolutions at the FULL network's spatial sizes (11×11 as conv2,
//! 5×5 as conv3–5) with up to 64 input channels, the shapes a Winograd fast path tiles.
//!
//! Every case runs with tiles of 1, 5, one example's output pixels and more than the whole
//! batch's, through the reference [`kernels::Portable`] GEMM, `matrixmultiply` and host-sim's
//! `FastGemm` (each micro-kernel this CPU runs): tiling must not change the result, and the
//! fast paths have to meet the same tolerances. The 3×3 stride-1 SAME cases' gradients are also
//! checked against central finite differences of an f64 forward pass, a reference that does not
//! depend on TensorFlow.
//!
//! Tolerances (`|got − want| ≤ atol + rtol·|want|`) and why:
//! * forward and `d_input`: atol 1e-5, rtol 1e-4. Each value is a sum of at most
//!   3·3·64 = 576 (forward) or 5·5·19 = 475 (`d_input`) products; the generator scales filters
//!   by 1/√(kh·kw·c_in) so values are O(1) (|value| ≤ 4.5 in the 3×3 fixture). TensorFlow's
//!   Eigen contraction adds in another order (and the fast GEMM may fuse), which moves a sum of
//!   n terms by about √n ulps of its largest partial sums: √576 · 2⁻²⁴ · 4.5 ≈ 6e-6 at 576
//!   terms, inside atol alone, so sums that cancel to near zero pass too. So the tolerance
//!   holds for the 3×3 fixture unchanged: a numpy f64 recomputation of all its values put
//!   TensorFlow's within 2.3e-6 (0.09 of the tolerance).
//! * `d_filter` and `d_bias`: atol 1e-4, rtol 1e-4. They reduce over batch × output pixels
//!   (up to 2·13·13 = 338 terms) of O(1) products, so values reach ~64 and their partial sums
//!   carry proportionally larger rounding: √338 · 2⁻²⁴ · 64 ≈ 7e-5, again inside atol alone,
//!   so this tolerance holds unchanged too; TensorFlow's values are within 3.6e-5 of the f64
//!   recomputation (0.12 of the tolerance).

mod common;

use common::{check_close, fast_gemms, load_fixture, nans, padding, Fixture, MatrixMultiply};
use kernels::activation::bias_backward_f32;
use kernels::conv2d::{
    conv2d_backward_filter_f32, conv2d_backward_filter_u8, conv2d_backward_input_f32, conv2d_f32,
    conv2d_u8, Conv2d,
};
use kernels::rng::Rng;
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

    /// The convolutions a Winograd fast path takes over: 3×3, stride 1, SAME.
    fn is_3x3_s1_same(&self) -> bool {
        self.kernel == [3, 3] && self.stride == [1, 1] && self.padding == "SAME"
    }
}

/// Both f32 fixtures: the sweep over kernels, strides and paddings, and the 3×3 stride-1 SAME
/// cases at the FULL network's sizes.
fn f32_fixtures() -> [Fixture<ConvCase>; 2] {
    [
        load_fixture("conv2d", 18),
        load_fixture("conv2d_3x3_same", 5),
    ]
}

/// The conv d_bias is a plain reduction of `dy` over batch × pixels.
fn check_d_bias(what: &str, geo: &Geometry, dy: &[f32], want: &[f32]) -> f32 {
    let mut d_bias = vec![0.0; geo.c_out];
    bias_backward_f32(geo.rows(), dy, &mut d_bias).unwrap();
    check_close(what, &d_bias, want, RED_ATOL, RED_RTOL)
}

#[test]
fn conv2d_f32_matches_tensorflow() {
    check_f32_against_tensorflow("conv2d", 18);
}

#[test]
fn conv2d_3x3_same_matches_tensorflow() {
    check_f32_against_tensorflow("conv2d_3x3_same", 5);
}

/// Forward, `d_input`, `d_filter` and `d_bias` of every case of the fixture `name` (holding
/// `count` cases), every tile and every GEMM against TensorFlow's; prints the worst `|diff|/tol`
/// of each.
fn check_f32_against_tensorflow(name: &str, count: usize) {
    let fx = load_fixture::<ConvCase>(name, count);
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
        "{name} f32 vs {reference}: {} cases; worst |diff|/tol: output {:.1e}, d_input {:.1e}, \
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
    for case in f32_fixtures().iter().flat_map(|fx| &fx.cases) {
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

/// The step of the central differences. The loss is linear in the input and in the filter, so a
/// central difference has no truncation error at any step; what remains is f64 rounding, about
/// 1e-16 · Σ|dy·y| / step ≤ 1e-10 (Σ|dy·y| < 1e4 in the fixtures), far below every tolerance.
const FD_STEP: f64 = 1e-2;

/// Gradient elements checked per tensor and case: the first and the last (a corner pixel of the
/// input, a corner tap of the filter: both meet SAME padding) and this many drawn at random.
const FD_RANDOM_COORDINATES: usize = 6;

#[test]
fn conv2d_3x3_s1_same_gradients_match_finite_differences() {
    // Guards the backward passes of a Winograd fast path with a reference independent of
    // TensorFlow: `d_input` and `d_filter` of loss = Σ dy·y, at a few coordinates, against
    // central differences of an f64 forward pass. TensorFlow's own values at the same
    // coordinates are checked too, which keeps the finite differences honest.
    let mut rng = Rng::new(12, 3);
    // |diff|/tol of the kernels' d_input, d_filter, then TensorFlow's d_input, d_filter.
    let mut worst = [0.0f32; 4];
    let mut cases = 0;
    for fx in f32_fixtures() {
        for case in fx.cases.iter().filter(|c| c.geo.is_3x3_s1_same()) {
            cases += 1;
            let geo = &case.geo;
            let wide = |v: &[f32]| v.iter().map(|&v| f64::from(v)).collect::<Vec<_>>();
            let (mut input, mut filter) = (wide(&case.input), wide(&case.filter));
            let (bias, dy) = (wide(&case.bias), wide(&case.dy));
            let at_input = coordinates(&mut rng, input.len());
            let fd_input: Vec<f32> = at_input
                .iter()
                .map(|&i| {
                    central_difference(&mut input, i, |x| loss_f64(geo, x, &filter, &bias, &dy))
                })
                .collect();
            let at_filter = coordinates(&mut rng, filter.len());
            let fd_filter: Vec<f32> = at_filter
                .iter()
                .map(|&i| {
                    central_difference(&mut filter, i, |f| loss_f64(geo, &input, f, &bias, &dy))
                })
                .collect();
            let what = |grad: &str, at: &[usize], by: &str| {
                format!(
                    "{} {grad} at {at:?} ({by}) vs central differences of an f64 forward pass",
                    geo.name
                )
            };
            let pick = |v: &[f32], at: &[usize]| at.iter().map(|&i| v[i]).collect::<Vec<_>>();

            let tf = fx.reference();
            worst[2] = worst[2].max(check_close(
                &what("d_input", &at_input, &tf),
                &pick(&case.d_input, &at_input),
                &fd_input,
                FWD_ATOL,
                FWD_RTOL,
            ));
            worst[3] = worst[3].max(check_close(
                &what("d_filter", &at_filter, &tf),
                &pick(&case.d_filter, &at_filter),
                &fd_filter,
                RED_ATOL,
                RED_RTOL,
            ));

            for tile in geo.tiles() {
                let g = geo.conv(tile);
                for (gemm_name, gemm) in gemms() {
                    let by = format!("tile {tile}, {gemm_name}");
                    let mut scratch = nans(g.scratch_len());
                    let mut d_input = nans(case.d_input.len());
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
                    worst[0] = worst[0].max(check_close(
                        &what("d_input", &at_input, &by),
                        &pick(&d_input, &at_input),
                        &fd_input,
                        FWD_ATOL,
                        FWD_RTOL,
                    ));
                    let mut d_filter = vec![0.0; case.d_filter.len()];
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
                    worst[1] = worst[1].max(check_close(
                        &what("d_filter", &at_filter, &by),
                        &pick(&d_filter, &at_filter),
                        &fd_filter,
                        RED_ATOL,
                        RED_RTOL,
                    ));
                }
            }
        }
    }
    assert_eq!(cases, 6, "3×3 stride-1 SAME cases in the f32 fixtures");
    println!(
        "conv2d 3x3 s1 SAME gradients vs f64 central differences: {cases} cases, {} coordinates \
         per tensor; worst |diff|/tol: kernels d_input {:.1e}, d_filter {:.1e}; TensorFlow \
         d_input {:.1e}, d_filter {:.1e}",
        FD_RANDOM_COORDINATES + 2,
        worst[0],
        worst[1],
        worst[2],
        worst[3]
    );
}

/// The first and last index below `len` and [`FD_RANDOM_COORDINATES`] drawn from `rng`.
fn coordinates(rng: &mut Rng, len: usize) -> Vec<usize> {
    let n = u32::try_from(len).expect("fixture tensors are far below 2^32 elements");
    let mut at = vec![0, len - 1];
    at.extend((0..FD_RANDOM_COORDINATES).map(|_| rng.below(n) as usize));
    at
}

/// `∂loss/∂v[i]` by a central difference of `loss` with step [`FD_STEP`]; `v` is restored.
fn central_difference(v: &mut [f64], i: usize, loss: impl Fn(&[f64]) -> f64) -> f32 {
    let v0 = v[i];
    v[i] = v0 + FD_STEP;
    let up = loss(v);
    v[i] = v0 - FD_STEP;
    let down = loss(v);
    v[i] = v0;
    ((up - down) / (2.0 * FD_STEP)) as f32
}

/// `Σ dy·(conv(input, filter) + bias)` in f64: a direct loop over TensorFlow's NHWC/HWIO layout
/// and SAME/VALID padding, sharing no code with the kernels.
fn loss_f64(geo: &Geometry, input: &[f64], filter: &[f64], bias: &[f64], dy: &[f64]) -> f64 {
    let [h, w, c_in] = geo.input_hwc;
    let [kh, kw] = geo.kernel;
    let [sh, sw] = geo.stride;
    let [oh, ow, c_out] = geo.output_hwc;
    // TensorFlow's SAME: pad_total = max((out − 1)·stride + k − in, 0), the smaller half before.
    let pad_before = |out: usize, stride: usize, k: usize, len: usize| {
        if geo.padding == "SAME" {
            ((out - 1) * stride + k).saturating_sub(len) / 2
        } else {
            0
        }
    };
    let (top, left) = (pad_before(oh, sh, kh, h), pad_before(ow, sw, kw, w));
    let mut loss = 0.0;
    for n in 0..geo.batch {
        for oy in 0..oh {
            for ox in 0..ow {
                let pixel = (n * oh + oy) * ow + ox;
                for co in 0..c_out {
                    let mut y = bias[co];
                    for ky in 0..kh {
                        let Some(iy) = (oy * sh + ky).checked_sub(top).filter(|&iy| iy < h) else {
                            continue;
                        };
                        for kx in 0..kw {
                            let Some(ix) = (ox * sw + kx).checked_sub(left).filter(|&ix| ix < w)
                            else {
                                continue;
                            };
                            for ci in 0..c_in {
                                y += input[((n * h + iy) * w + ix) * c_in + ci]
                                    * filter[((ky * kw + kx) * c_in + ci) * c_out + co];
                            }
                        }
                    }
                    loss += dy[pixel * c_out + co] * y;
                }
            }
        }
    }
    loss
}
