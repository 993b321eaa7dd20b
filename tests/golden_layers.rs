//! LRN, max pool, ReLU + bias, dense and the losses against TensorFlow's own numbers
//! (`tests/fixtures/{lrn,max_pool,relu_bias,dense,loss,softmax_xent}.json`, written by
//! `tools/gen_golden.py`; backward values are `tf.GradientTape` gradients for a random `dy`).
//! Each test states its tolerance (`|got − want| ≤ atol + rtol·|want|`) and why.

mod common;

use common::{check_close, fast_gemms, load_fixture, nans, padding, MatrixMultiply};
use kernels::activation::{bias_add_f32, bias_backward_f32, relu_backward_f32, relu_f32};
use kernels::approx::{lrn_f32_approx, MAX_REL_ERROR, MAX_REL_ERROR_BETA_075};
use kernels::dense::{dense_backward_input_f32, dense_backward_weights_f32, dense_f32, Dense};
use kernels::loss::{mse_f32, softmax_cross_entropy_f32, weighted_abs_error_f32};
use kernels::lrn::{lrn_backward_f32, lrn_backward_factored_f32, lrn_f32, Lrn};
use kernels::pool::{max_pool_backward_f32, max_pool_f32, Pool2d};
use kernels::{Backend, Hwc, Portable};
use serde::Deserialize;

#[derive(Deserialize)]
struct LrnCase {
    name: String,
    rows: usize,
    depth: usize,
    depth_radius: usize,
    bias: f32,
    alpha: f32,
    beta: f32,
    input: Vec<f32>,
    dy: Vec<f32>,
    output: Vec<f32>,
    d_input: Vec<f32>,
}

#[test]
fn lrn_matches_tensorflow() {
    // Forward atol 1e-6, rtol 1e-5: TensorFlow's CPU LRN sums the window through a band-matrix
    // contraction and raises to −β as exp(−β·log u) (β = 0.75), both a few ulps from a direct
    // sum and √u·√√u; outputs are O(1).
    // d_input atol 1e-5, rtol 1e-4: LRNGrad combines the forward's rounding with a second
    // window sum of products of O(1) values, some of which cancel.
    const FWD: (f32, f32) = (1e-6, 1e-5);
    const BWD: (f32, f32) = (1e-5, 1e-4);
    let fx = load_fixture::<LrnCase>("lrn", 14);
    let reference = fx.reference();
    let (mut wf, mut wb, mut wd) = (0.0f32, 0.0f32, 0.0f32);
    for case in &fx.cases {
        let g = Lrn::new(
            case.depth,
            case.depth_radius,
            case.bias,
            case.alpha,
            case.beta,
        )
        .unwrap_or_else(|e| panic!("{}: Lrn::new: {e}", case.name));
        assert_eq!(g.channels(), case.depth);
        assert_eq!(case.rows * case.depth, case.input.len(), "{}", case.name);

        let mut output = nans(case.output.len());
        lrn_f32(&g, case.rows, &case.input, &mut output).unwrap();
        let what = format!("{} output vs {reference}", case.name);
        wf = wf.max(check_close(&what, &output, &case.output, FWD.0, FWD.1));

        let mut d_input = nans(case.d_input.len());
        lrn_backward_f32(&g, case.rows, &case.input, &case.dy, &mut d_input).unwrap();
        let what = format!("{} d_input vs {reference}", case.name);
        wb = wb.max(check_close(&what, &d_input, &case.d_input, BWD.0, BWD.1));

        // The host's fast path divides once per channel: the same tolerance.
        let mut d_input = nans(case.d_input.len());
        lrn_backward_factored_f32(&g, case.rows, &case.input, &case.dy, &mut d_input).unwrap();
        let what = format!("{} factored d_input vs {reference}", case.name);
        wd = wd.max(check_close(&what, &d_input, &case.d_input, BWD.0, BWD.1));
    }
    println!(
        "lrn vs {reference}: {} cases; worst |diff|/tol: output {wf:.1e}, d_input {wb:.1e}, \
         factored d_input {wd:.1e}",
        fx.cases.len()
    );
}

#[test]
fn lrn_approx_meets_its_stated_error_against_tensorflow() {
    // Tolerance: the bound `kernels::approx` documents against exact maths
    // (MAX_REL_ERROR_BETA_075 for β = 0.75 and 0.5, MAX_REL_ERROR otherwise), plus the exact
    // forward's own allowance against TensorFlow above (atol 1e-6, rtol 1e-5).
    let fx = load_fixture::<LrnCase>("lrn", 14);
    let reference = fx.reference();
    let mut worst = 0.0f32;
    for case in &fx.cases {
        let g = Lrn::new(
            case.depth,
            case.depth_radius,
            case.bias,
            case.alpha,
            case.beta,
        )
        .unwrap();
        let bound = if case.beta == 0.75 || case.beta == 0.5 {
            MAX_REL_ERROR_BETA_075
        } else {
            MAX_REL_ERROR
        };
        let mut output = nans(case.output.len());
        lrn_f32_approx(&g, case.rows, &case.input, &mut output).unwrap();
        let what = format!("{} approx output vs {reference}", case.name);
        worst = worst.max(check_close(
            &what,
            &output,
            &case.output,
            1e-6,
            bound + 1e-5,
        ));
    }
    println!(
        "lrn_f32_approx vs {reference}: {} cases; worst |diff|/tol {worst:.1e}",
        fx.cases.len()
    );
}

#[derive(Deserialize)]
struct PoolCase {
    name: String,
    batch: usize,
    input_hwc: [usize; 3],
    window: [usize; 2],
    stride: [usize; 2],
    padding: String,
    output_hwc: [usize; 3],
    input: Vec<f32>,
    dy: Vec<f32>,
    output: Vec<f32>,
    d_input: Vec<f32>,
}

#[test]
fn max_pool_matches_tensorflow() {
    // Forward: bit for bit (atol 0, rtol 0); a maximum involves no rounding.
    // d_input: atol 1e-6, rtol 1e-6. With overlapping windows (stride < window) an input cell
    // that wins several windows receives the sum of up to 9 O(1) values of `dy`, added in
    // TensorFlow's order or ours. (The inputs have no ties, so the routing is unambiguous.)
    let fx = load_fixture::<PoolCase>("max_pool", 8);
    let reference = fx.reference();
    let mut wb = 0.0f32;
    for case in &fx.cases {
        let [h, w, c] = case.input_hwc;
        let g = Pool2d::new(
            Hwc::new(h, w, c),
            case.window,
            case.stride,
            padding(&case.padding),
        )
        .unwrap_or_else(|e| panic!("{}: Pool2d::new: {e}", case.name));
        let [oh, ow, oc] = case.output_hwc;
        assert_eq!(
            g.output(),
            Hwc::new(oh, ow, oc),
            "{}: output shape",
            case.name
        );
        assert_eq!(
            g.input_len() * case.batch,
            case.input.len(),
            "{}",
            case.name
        );

        let mut output = nans(case.output.len());
        max_pool_f32(&g, case.batch, &case.input, &mut output).unwrap();
        let what = format!("{} output vs {reference}", case.name);
        check_close(&what, &output, &case.output, 0.0, 0.0);

        let mut d_input = nans(case.d_input.len());
        max_pool_backward_f32(&g, case.batch, &case.input, &case.dy, &mut d_input).unwrap();
        let what = format!("{} d_input vs {reference}", case.name);
        wb = wb.max(check_close(&what, &d_input, &case.d_input, 1e-6, 1e-6));
    }
    println!(
        "max_pool vs {reference}: {} cases; output bit-exact; worst d_input |diff|/tol {wb:.1e}",
        fx.cases.len()
    );
}

#[derive(Deserialize)]
struct ReluBiasCase {
    name: String,
    rows: usize,
    channels: usize,
    input: Vec<f32>,
    bias: Vec<f32>,
    dy: Vec<f32>,
    output: Vec<f32>,
    d_input: Vec<f32>,
    d_bias: Vec<f32>,
}

#[test]
fn relu_bias_matches_tensorflow() {
    // Forward and d_input: bit for bit (one f32 add, a max, and a select).
    // d_bias: atol 1e-6, rtol 1e-5: a sum over up to 33 rows of O(1) values, in another order.
    let fx = load_fixture::<ReluBiasCase>("relu_bias", 4);
    let reference = fx.reference();
    let mut wb = 0.0f32;
    for case in &fx.cases {
        assert_eq!(case.rows * case.channels, case.input.len(), "{}", case.name);
        let mut y = case.input.clone();
        bias_add_f32(case.rows, &case.bias, &mut y).unwrap();
        relu_f32(&mut y);
        let what = format!("{} output vs {reference}", case.name);
        check_close(&what, &y, &case.output, 0.0, 0.0);

        let mut d = case.dy.clone();
        relu_backward_f32(&y, &mut d).unwrap();
        let what = format!("{} d_input vs {reference}", case.name);
        check_close(&what, &d, &case.d_input, 0.0, 0.0);

        let mut d_bias = vec![0.0; case.channels];
        bias_backward_f32(case.rows, &d, &mut d_bias).unwrap();
        let what = format!("{} d_bias vs {reference}", case.name);
        wb = wb.max(check_close(&what, &d_bias, &case.d_bias, 1e-6, 1e-5));
    }
    println!(
        "relu+bias vs {reference}: {} cases; output, d_input bit-exact; worst d_bias |diff|/tol \
         {wb:.1e}",
        fx.cases.len()
    );
}

#[derive(Deserialize)]
struct DenseCase {
    name: String,
    batch: usize,
    inputs: usize,
    outputs: usize,
    input: Vec<f32>,
    weights: Vec<f32>,
    bias: Vec<f32>,
    dy: Vec<f32>,
    output: Vec<f32>,
    d_input: Vec<f32>,
    d_weights: Vec<f32>,
    d_bias: Vec<f32>,
}

#[test]
fn dense_matches_tensorflow() {
    // atol 1e-5, rtol 1e-4 for every output: each value is a sum of at most 64 products of
    // O(1) values (weights scaled by 1/√inputs), added in TensorFlow's (Eigen's) order or ours,
    // possibly fused by the fast GEMM; ~1e-6 apart at most.
    const TOL: (f32, f32) = (1e-5, 1e-4);
    let fx = load_fixture::<DenseCase>("dense", 5);
    let reference = fx.reference();
    let mut gemms: Vec<(&str, &dyn Backend)> =
        vec![("Portable", &Portable), ("matrixmultiply", &MatrixMultiply)];
    gemms.extend(fast_gemms());
    let mut worst = [0.0f32; 4];
    for case in &fx.cases {
        let g = Dense::new(case.inputs, case.outputs)
            .unwrap_or_else(|e| panic!("{}: Dense::new: {e}", case.name));
        assert_eq!(g.weights_len(), case.weights.len(), "{}", case.name);
        assert_eq!(g.bias_len(), case.bias.len(), "{}", case.name);
        for &(gemm_name, gemm) in &gemms {
            let what = |out: &str| format!("{} {out} ({gemm_name}) vs {reference}", case.name);

            let mut output = nans(case.output.len());
            dense_f32(
                &g,
                gemm,
                case.batch,
                &case.input,
                &case.weights,
                &case.bias,
                &mut output,
            )
            .unwrap();
            worst[0] = worst[0].max(check_close(
                &what("output"),
                &output,
                &case.output,
                TOL.0,
                TOL.1,
            ));

            let mut d_input = nans(case.d_input.len());
            dense_backward_input_f32(&g, gemm, case.batch, &case.dy, &case.weights, &mut d_input)
                .unwrap();
            worst[1] = worst[1].max(check_close(
                &what("d_input"),
                &d_input,
                &case.d_input,
                TOL.0,
                TOL.1,
            ));

            let mut d_weights = vec![0.0; case.d_weights.len()];
            dense_backward_weights_f32(&g, gemm, case.batch, &case.input, &case.dy, &mut d_weights)
                .unwrap();
            worst[2] = worst[2].max(check_close(
                &what("d_weights"),
                &d_weights,
                &case.d_weights,
                TOL.0,
                TOL.1,
            ));
        }
        let mut d_bias = vec![0.0; case.outputs];
        bias_backward_f32(case.batch, &case.dy, &mut d_bias).unwrap();
        let what = format!("{} d_bias vs {reference}", case.name);
        worst[3] = worst[3].max(check_close(&what, &d_bias, &case.d_bias, TOL.0, TOL.1));
    }
    println!(
        "dense vs {reference}: {} cases; worst |diff|/tol: output {:.1e}, d_input {:.1e}, \
         d_weights {:.1e}, d_bias {:.1e}",
        fx.cases.len(),
        worst[0],
        worst[1],
        worst[2],
        worst[3]
    );
}

#[derive(Deserialize)]
struct LossCase {
    name: String,
    kind: String,
    pred: Vec<f32>,
    target: Vec<f32>,
    #[serde(default)]
    confidence: Vec<f32>,
    value: f32,
    d_pred: Vec<f32>,
}

#[test]
fn losses_match_tensorflow() {
    // value: atol 1e-7, rtol 1e-5: a mean of up to 64 O(1) terms summed in another order.
    // d_pred: atol 1e-9, rtol 1e-5: TensorFlow differentiates the seed's sqrt(square(p − y))
    // as c/n · 0.5/√((p−y)²) · 2(p−y), a few roundings away from our c·sign(p−y)/n. (No case
    // has p == y, where TensorFlow gives NaN and we give 0.)
    const VALUE: (f32, f32) = (1e-7, 1e-5);
    const GRAD: (f32, f32) = (1e-9, 1e-5);
    let fx = load_fixture::<LossCase>("loss", 6);
    let reference = fx.reference();
    let (mut wv, mut wg) = (0.0f32, 0.0f32);
    for case in &fx.cases {
        let n = case.pred.len();
        let mut d_pred = nans(n);
        let value = match case.kind.as_str() {
            "weighted_abs" => {
                weighted_abs_error_f32(&case.pred, &case.target, &case.confidence, n, &mut d_pred)
            }
            "mse" => mse_f32(&case.pred, &case.target, n, &mut d_pred),
            other => panic!("{}: unknown loss kind {other:?}", case.name),
        }
        .unwrap();
        let what = format!("{} value vs {reference}", case.name);
        wv = wv.max(check_close(
            &what,
            &[value],
            &[case.value],
            VALUE.0,
            VALUE.1,
        ));
        let what = format!("{} d_pred vs {reference}", case.name);
        wg = wg.max(check_close(&what, &d_pred, &case.d_pred, GRAD.0, GRAD.1));
    }
    println!(
        "losses vs {reference}: {} cases; worst |diff|/tol: value {wv:.1e}, d_pred {wg:.1e}",
        fx.cases.len()
    );
}

#[derive(Deserialize)]
struct XentCase {
    name: String,
    classes: usize,
    mean_over: usize,
    logits: Vec<f32>,
    labels: Vec<u32>,
    value: f32,
    d_logits: Vec<f32>,
}

#[test]
fn softmax_cross_entropy_matches_tensorflow() {
    // value: atol 1e-6, rtol 1e-5: per row log(Σ exp) − z_label with libm's expf/logf against
    // Eigen's vectorised ones (each within an ulp or two), rows summed in another order.
    // d_logits: atol 1e-7, rtol 1e-5: softmax − one-hot, one or two roundings of exp apart.
    const VALUE: (f32, f32) = (1e-6, 1e-5);
    const GRAD: (f32, f32) = (1e-7, 1e-5);
    let fx = load_fixture::<XentCase>("softmax_xent", 5);
    let reference = fx.reference();
    let (mut wv, mut wg) = (0.0f32, 0.0f32);
    for case in &fx.cases {
        let mut d = nans(case.logits.len());
        let value = softmax_cross_entropy_f32(
            &case.logits,
            case.classes,
            &case.labels,
            case.mean_over,
            &mut d,
        )
        .unwrap();
        let what = format!("{} value vs {reference}", case.name);
        wv = wv.max(check_close(
            &what,
            &[value],
            &[case.value],
            VALUE.0,
            VALUE.1,
        ));
        let what = format!("{} d_logits vs {reference}", case.name);
        wg = wg.max(check_close(&what, &d, &case.d_logits, GRAD.0, GRAD.1));
    }
    println!(
        "softmax cross-entropy vs {reference}: {} cases; worst |diff|/tol: value {wv:.1e}, \
         d_logits {wg:.1e}",
        fx.cases.len()
    );
}
