//! Placeholder until the golden tests land.
mod common;
#[test]
fn same_padding() {
    let a = kernels::Axis::resolve(96, 5, 4, kernels::Padding::Same, "i", "k", "s").unwrap();
    assert_eq!(a.out, 24);
    common::assert_close("x", &[1.0], &[1.0], 0.0, 0.0);
}
