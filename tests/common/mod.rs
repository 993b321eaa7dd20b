//! Helpers shared by the integration tests: tolerance checks and fixture loading.
#![allow(dead_code)] // each test binary uses a different subset

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
