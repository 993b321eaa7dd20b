//! Helpers shared by the integration tests: tolerance checks and fixture loading.
#![allow(dead_code)] // each test binary uses a different subset

use serde::de::DeserializeOwned;
use serde::Deserialize;

/// Asserts `|got − want| ≤ atol + rtol·|want|` element-wise, naming the first offending index.
#[track_caller]
pub fn assert_close(what: &str, got: &[f32], want: &[f32], atol: f32, rtol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let tol = atol + rtol * w.abs();
        assert!(
            (g - w).abs() <= tol,
            "{what}[{i}]: got {g}, want {w} (|diff| {} > atol {atol} + rtol {rtol}·|want|)",
            (g - w).abs()
        );
    }
}

/// A golden fixture written by `tools/gen_golden.py`: provenance plus its cases.
#[derive(Debug, Deserialize)]
pub struct Fixture<C> {
    /// `tf.__version__` of the TensorFlow that computed the expected values.
    pub tensorflow: String,
    /// The numpy seed of the fixture's random inputs.
    pub seed: u64,
    /// The number of cases the generator wrote; checked against `cases.len()`.
    pub count: usize,
    /// The cases, in the generator's order.
    pub cases: Vec<C>,
}

impl<C> Fixture<C> {
    /// The reference named in assertion messages, e.g. `TensorFlow 2.21.0 (seed 1001)`.
    pub fn reference(&self) -> String {
        format!("TensorFlow {} (seed {})", self.tensorflow, self.seed)
    }
}

/// Reads `tests/fixtures/<name>.json` and checks that it holds exactly `expected_cases` cases,
/// so a fixture that lost a case (or a generator that stopped writing one) fails the test.
///
/// # Panics
/// If the file is missing or malformed, or the case count differs.
#[track_caller]
pub fn load_fixture<C: DeserializeOwned>(name: &str, expected_cases: usize) -> Fixture<C> {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let fx: Fixture<C> =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {path}: {e}"));
    assert!(
        fx.tensorflow.starts_with("2."),
        "{path}: unexpected TensorFlow version {}",
        fx.tensorflow
    );
    assert_eq!(
        fx.count,
        fx.cases.len(),
        "{path}: declared vs read case count"
    );
    assert_eq!(fx.cases.len(), expected_cases, "{path}: number of cases");
    fx
}

/// `kernels::Padding` from the fixture's `"SAME"` / `"VALID"`.
#[track_caller]
pub fn padding(name: &str) -> kernels::Padding {
    match name {
        "SAME" => kernels::Padding::Same,
        "VALID" => kernels::Padding::Valid,
        other => panic!("unknown padding {other:?}"),
    }
}

/// A vector of NaNs: output buffers start as NaN so a kernel that skips an element fails.
pub fn nans(len: usize) -> Vec<f32> {
    vec![f32::NAN; len]
}

/// The host's fast matrix product (`matrixmultiply::sgemm`, SIMD and possibly FMA) behind the
/// kernels' [`kernels::Gemm`] seam: the golden tests run it too, because the fast path must meet
/// the same TensorFlow tolerances as [`kernels::Portable`].
pub struct MatrixMultiply;

/// Row kernels, im2col and fills run on the calling thread (the default methods).
impl kernels::Exec for MatrixMultiply {}
/// Every convolution as the kernels' im2col + GEMM.
impl kernels::LayerAlgorithms for MatrixMultiply {}

impl kernels::Gemm for MatrixMultiply {
    fn gemm_acc(
        &self,
        m: usize,
        k: usize,
        n: usize,
        a: &[f32],
        a_layout: kernels::Layout,
        b: &[f32],
        b_layout: kernels::Layout,
        c: &mut [f32],
    ) {
        assert_eq!(a.len(), m * k, "a");
        assert_eq!(b.len(), k * n, "b");
        assert_eq!(c.len(), m * n, "c");
        if m == 0 || n == 0 {
            return;
        }
        // (row stride, column stride) of an r × c matrix in each layout.
        let strides = |layout, rows: usize, cols: usize| match layout {
            kernels::Layout::RowMajor => (cols as isize, 1),
            kernels::Layout::ColMajor => (1, rows as isize),
        };
        let (rsa, csa) = strides(a_layout, m, k);
        let (rsb, csb) = strides(b_layout, k, n);
        // SAFETY: the lengths were asserted above, so every index that sgemm forms from
        // (m, k, n) and these strides lies inside `a`, `b` and `c`; `c` does not alias them.
        #[allow(unsafe_code)]
        unsafe {
            matrixmultiply::sgemm(
                m,
                k,
                n,
                1.0,
                a.as_ptr(),
                rsa,
                csa,
                b.as_ptr(),
                rsb,
                csb,
                1.0,
                c.as_mut_ptr(),
                n as isize,
                1,
            );
        }
    }
}

/// host-sim's fast GEMM (the path `host-sim` trains on), once per micro-kernel this CPU runs, on
/// two threads so its tiling is exercised too.
pub fn fast_gemms() -> Vec<(&'static str, &'static dyn kernels::Backend)> {
    use host_sim::fast_gemm::{FastGemm, Isa};
    static GEMMS: std::sync::OnceLock<Vec<FastGemm>> = std::sync::OnceLock::new();
    let gemms = GEMMS.get_or_init(|| {
        Isa::available()
            .into_iter()
            .map(|isa| FastGemm::with_isa(2, isa).expect("two worker threads start"))
            .collect()
    });
    gemms
        .iter()
        .map(|g| {
            let name = match g.isa() {
                Isa::Avx512 => "FastGemm AVX-512",
                Isa::Avx2Fma => "FastGemm AVX2+FMA",
                Isa::Generic => "FastGemm generic",
            };
            (name, g as &dyn kernels::Backend)
        })
        .collect()
}

/// The worst `|got − want| / (atol + rtol·|want|)` over a slice (≤ 1 means within tolerance),
/// printed by the golden tests (`--nocapture`) to show how much room each tolerance leaves.
pub fn worst_ratio(got: &[f32], want: &[f32], atol: f32, rtol: f32) -> f32 {
    got.iter()
        .zip(want)
        .map(|(&g, &w)| (g - w).abs() / (atol + rtol * w.abs()))
        .fold(0.0, f32::max)
}

/// [`assert_close`], then returns [`worst_ratio`] so a test can report the margin it had.
#[track_caller]
pub fn check_close(what: &str, got: &[f32], want: &[f32], atol: f32, rtol: f32) -> f32 {
    assert_close(what, got, want, atol, rtol);
    worst_ratio(got, want, atol, rtol)
}
