//! Test-only references, written plainly and independently of the kernels: a direct f64
//! convolution with TensorFlow's NHWC/HWIO layout and SAME/VALID padding, its two gradients
//! and the tolerance check.
extern crate std;

use super::Conv2d;
use crate::{Hwc, Padding};
use std::vec::Vec;
use std::{format, vec};

/// A whole convolution problem, batch included.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub batch: usize,
    pub h: usize,
    pub w: usize,
    pub c_in: usize,
    pub kh: usize,
    pub kw: usize,
    pub c_out: usize,
    pub sh: usize,
    pub sw: usize,
    pub same: bool,
}

/// TensorFlow's rule for one axis, restated: `(out, pad_before)`.
fn out_and_pad(input: usize, k: usize, s: usize, same: bool) -> (usize, usize) {
    if same {
        let out = input.div_ceil(s);
        let total = ((out - 1) * s + k) as isize - input as isize;
        (out, (total.max(0) / 2) as usize)
    } else {
        ((input - k) / s + 1, 0)
    }
}

impl Shape {
    pub fn fits(&self) -> bool {
        self.same || (self.kh <= self.h && self.kw <= self.w)
    }
    pub fn out_h(&self) -> usize {
        out_and_pad(self.h, self.kh, self.sh, self.same).0
    }
    pub fn out_w(&self) -> usize {
        out_and_pad(self.w, self.kw, self.sw, self.same).0
    }
    pub fn in_len(&self) -> usize {
        self.batch * self.h * self.w * self.c_in
    }
    pub fn out_len(&self) -> usize {
        self.batch * self.out_h() * self.out_w() * self.c_out
    }
    pub fn filter_len(&self) -> usize {
        self.kh * self.kw * self.c_in * self.c_out
    }
    pub fn conv2d(&self, tile: usize) -> Conv2d {
        let padding = if self.same {
            Padding::Same
        } else {
            Padding::Valid
        };
        Conv2d::new(
            Hwc::new(self.h, self.w, self.c_in),
            [self.kh, self.kw],
            self.c_out,
            [self.sh, self.sw],
            padding,
            tile,
        )
        .unwrap()
    }

    /// Calls `f(x_index, filter_index, y_index)` for every multiply of the direct convolution.
    fn each_tap(&self, mut f: impl FnMut(usize, usize, usize)) {
        let (oh, ph) = out_and_pad(self.h, self.kh, self.sh, self.same);
        let (ow, pw) = out_and_pad(self.w, self.kw, self.sw, self.same);
        for b in 0..self.batch {
            for oy in 0..oh {
                for ox in 0..ow {
                    for ky in 0..self.kh {
                        let iy = (oy * self.sh + ky) as isize - ph as isize;
                        if iy < 0 || iy >= self.h as isize {
                            continue;
                        }
                        for kx in 0..self.kw {
                            let ix = (ox * self.sw + kx) as isize - pw as isize;
                            if ix < 0 || ix >= self.w as isize {
                                continue;
                            }
                            let (iy, ix) = (iy as usize, ix as usize);
                            for ci in 0..self.c_in {
                                let xi = ((b * self.h + iy) * self.w + ix) * self.c_in + ci;
                                let fi = ((ky * self.kw + kx) * self.c_in + ci) * self.c_out;
                                let yi = ((b * oh + oy) * ow + ox) * self.c_out;
                                for co in 0..self.c_out {
                                    f(xi, fi + co, yi + co);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `y = conv(x, f) + bias`.
    pub fn forward(&self, x: &[f64], f: &[f64], bias: &[f64]) -> Vec<f64> {
        let mut y: Vec<f64> = (0..self.out_len()).map(|i| bias[i % self.c_out]).collect();
        self.each_tap(|xi, fi, yi| y[yi] += x[xi] * f[fi]);
        y
    }

    /// `dL/dx` given `dL/dy`.
    pub fn backward_input(&self, dy: &[f64], f: &[f64]) -> Vec<f64> {
        let mut dx = vec![0.0; self.in_len()];
        self.each_tap(|xi, fi, yi| dx[xi] += dy[yi] * f[fi]);
        dx
    }

    /// `dL/df` given `dL/dy`.
    pub fn backward_filter(&self, x: &[f64], dy: &[f64]) -> Vec<f64> {
        let mut df = vec![0.0; self.filter_len()];
        self.each_tap(|xi, fi, yi| df[fi] += x[xi] * dy[yi]);
        df
    }
}

/// The sweep every reference test runs: spatial sizes 7×5, 9×9, 1×1; kernels 1×1, 3×3, 5×5,
/// 2×4; strides 1, 2, 4, (2, 1), (1, 3); SAME and VALID (VALID cases whose kernel exceeds the
/// input are left out). Channel counts (1, 3, 17 in; 1, 4, 19 out), batch (1..=3) and tile
/// (1, 3, 8, 64) cycle with the case index so that every value meets many geometries.
pub fn sweep() -> Vec<(Shape, usize)> {
    let mut cases = Vec::new();
    let mut i = 0;
    for (h, w) in [(7, 5), (9, 9), (1, 1)] {
        for (kh, kw) in [(1, 1), (3, 3), (5, 5), (2, 4)] {
            for (sh, sw) in [(1, 1), (2, 2), (4, 4), (2, 1), (1, 3)] {
                for same in [true, false] {
                    let s = Shape {
                        batch: 1 + (i / 2) % 3,
                        h,
                        w,
                        c_in: [1, 3, 17][i % 3],
                        kh,
                        kw,
                        c_out: [1, 4, 19][(i / 3) % 3],
                        sh,
                        sw,
                        same,
                    };
                    i += 1;
                    if s.fits() {
                        cases.push((s, [1, 3, 8, 64][i % 4]));
                    }
                }
            }
        }
    }
    cases
}

pub fn widen(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}

pub fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Asserts `|got − want| ≤ atol + rtol·|want|` element-wise (NaN fails).
pub fn assert_close(what: &str, got: &[f32], want: &[f64], atol: f64, rtol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let err = (f64::from(g) - w).abs();
        assert!(
            err <= atol + rtol * w.abs(),
            "{}",
            format!("{what}[{i}]: got {g}, want {w}, |err| {err:e}")
        );
    }
}
