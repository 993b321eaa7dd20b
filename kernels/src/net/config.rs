//! Network sizes and the layer geometries they imply.

use crate::conv2d::Conv2d;
use crate::dense::Dense;
use crate::pool::Pool2d;
use crate::{Hwc, KernelError, Padding};

/// LRN `depth_radius` of both normalisation layers (the seed's `tf.nn.lrn(x, 4, …)`).
pub const LRN_DEPTH_RADIUS: usize = 4;
/// LRN `bias`.
pub const LRN_BIAS: f32 = 1.0;
/// LRN `alpha`: the seed writes `alpha=0.001 / 9.0`, which Python evaluates in double and
/// TensorFlow rounds once to the op's `f32` attribute. (`0.001 / 9.0` evaluated in `f32` is one
/// ulp above.)
pub const LRN_ALPHA: f32 = (0.001f64 / 9.0) as f32;
/// LRN `beta`.
pub const LRN_BETA: f32 = 0.75;

/// The sizes of a valence network; the topology is fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ValenceConfig {
    /// Side of the square RGB input frame, in pixels.
    pub input: usize,
    /// Output channels of conv1 … conv5.
    pub conv: [usize; 5],
    /// Widths of local1 and local2.
    pub dense: [usize; 2],
    /// Output pixels im2col'd at a time by every convolution (bounds the scratch).
    pub tile: usize,
}

/// Every layer's validated geometry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Geometry {
    /// 5×5, stride 4, SAME.
    pub conv1: Conv2d,
    /// 3×3, stride 2, VALID.
    pub pool1: Pool2d,
    /// 3×3, stride 1, SAME.
    pub conv2: Conv2d,
    /// 3×3, stride 2, VALID.
    pub pool2: Pool2d,
    /// 3×3, stride 1, SAME.
    pub conv3: Conv2d,
    /// 3×3, stride 1, SAME.
    pub conv4: Conv2d,
    /// 3×3, stride 1, SAME.
    pub conv5: Conv2d,
    /// 3×3, stride 2, VALID; its output is flattened row-major NHWC (`tf.reshape`).
    pub pool3: Pool2d,
    /// Flattened pool3 → `dense[0]`.
    pub local1: Dense,
    /// `dense[0]` → `dense[1]`.
    pub local2: Dense,
    /// `dense[1]` → 1, no activation (the seed's `softmax_linear`).
    pub softmax: Dense,
}

/// `?` for `const fn`s.
macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return Err(e),
        }
    };
}
pub(crate) use tri;

impl ValenceConfig {
    /// The seed's network: 96×96×3 frames, conv 128/128/256/256/256, dense 2046/2046.
    ///
    /// Its tile of 1024 output pixels (a 9.4 MB scratch) lets a desktop GEMM see tall matrices:
    /// with 128-pixel tiles the threaded GEMM re-packed the weights for every 64 rows, 13 % of
    /// a training step.
    pub const FULL: Self = Self {
        input: 96,
        conv: [128, 128, 256, 256, 256],
        dense: [2046, 2046],
        tile: 1024,
    };

    /// A board's network: 64×64×3 frames, conv 8/8/16/16/16, dense 16/16 (about 7.6 k parameters).
    pub const TINY: Self = Self {
        input: 64,
        conv: [8, 8, 16, 16, 16],
        dense: [16, 16],
        tile: 16,
    };

    /// Validates the sizes and resolves every layer's geometry.
    ///
    /// # Errors
    /// Any [`KernelError`] a layer constructor returns (zero sizes, an input too small for the
    /// three VALID pools — at least 57 px —, overflow).
    pub const fn geometry(&self) -> Result<Geometry, KernelError> {
        let c = self.conv;
        let frame = Hwc::new(self.input, self.input, 3);
        let conv1 = tri!(Conv2d::new(
            frame,
            [5, 5],
            c[0],
            [4, 4],
            Padding::Same,
            self.tile
        ));
        let pool1 = tri!(Pool2d::new(conv1.output(), [3, 3], [2, 2], Padding::Valid));
        let conv2 = tri!(Conv2d::new(
            pool1.output(),
            [3, 3],
            c[1],
            [1, 1],
            Padding::Same,
            self.tile
        ));
        let pool2 = tri!(Pool2d::new(conv2.output(), [3, 3], [2, 2], Padding::Valid));
        let conv3 = tri!(Conv2d::new(
            pool2.output(),
            [3, 3],
            c[2],
            [1, 1],
            Padding::Same,
            self.tile
        ));
        let conv4 = tri!(Conv2d::new(
            conv3.output(),
            [3, 3],
            c[3],
            [1, 1],
            Padding::Same,
            self.tile
        ));
        let conv5 = tri!(Conv2d::new(
            conv4.output(),
            [3, 3],
            c[4],
            [1, 1],
            Padding::Same,
            self.tile
        ));
        let pool3 = tri!(Pool2d::new(conv5.output(), [3, 3], [2, 2], Padding::Valid));
        let local1 = tri!(Dense::new(pool3.output_len(), self.dense[0]));
        let local2 = tri!(Dense::new(self.dense[0], self.dense[1]));
        let softmax = tri!(Dense::new(self.dense[1], 1));
        Ok(Geometry {
            conv1,
            pool1,
            conv2,
            pool2,
            conv3,
            conv4,
            conv5,
            pool3,
            local1,
            local2,
            softmax,
        })
    }

    /// Bytes of one `u8` RGB input frame.
    ///
    /// # Errors
    /// [`KernelError::Zero`] / [`KernelError::Overflow`] for an unusable input size.
    pub const fn frame_len(&self) -> Result<usize, KernelError> {
        Hwc::new(self.input, self.input, 3).checked_len("input")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The seed calls `tf.nn.lrn(x, 4, bias=1.0, alpha=0.001 / 9.0, beta=0.75)`: Python doubles
    // that TensorFlow stores as `f32` op attributes, each rounded once. The hexadecimal values
    // are Python's `struct.pack('<f', value)` of those doubles.

    #[test]
    fn lrn_alpha_is_pythons_double_rounded_once_to_f32() {
        assert_eq!(LRN_ALPHA.to_bits(), ((0.001f64 / 9.0) as f32).to_bits());
        assert_eq!(LRN_ALPHA.to_bits(), 0x38e9_0453);
        // The f32 evaluation that this replaces is one ulp above.
        assert_eq!((0.001f32 / 9.0).to_bits(), 0x38e9_0454);
    }

    #[test]
    fn lrn_bias_beta_and_radius_are_the_seeds() {
        assert_eq!(LRN_BIAS.to_bits(), 0x3f80_0000); // 1.0, exact in f32
        assert_eq!(LRN_BETA.to_bits(), 0x3f40_0000); // 0.75, exact in f32
        assert_eq!(LRN_DEPTH_RADIUS, 4); // an int attribute
    }

    #[test]
    fn full_matches_the_seed_table() {
        let g = ValenceConfig::FULL.geometry().unwrap();
        assert_eq!(g.conv1.output(), Hwc::new(24, 24, 128));
        assert_eq!(g.pool1.output(), Hwc::new(11, 11, 128));
        assert_eq!(g.conv2.output(), Hwc::new(11, 11, 128));
        assert_eq!(g.pool2.output(), Hwc::new(5, 5, 128));
        assert_eq!(g.conv5.output(), Hwc::new(5, 5, 256));
        assert_eq!(g.pool3.output(), Hwc::new(2, 2, 256));
        // The seed hard-codes the flattened size 1024.
        assert_eq!(g.local1.inputs(), 1024);
        assert_eq!(g.local2.outputs(), 2046);
        assert_eq!(g.softmax.outputs(), 1);
    }

    #[test]
    fn tiny_shapes() {
        let g = ValenceConfig::TINY.geometry().unwrap();
        assert_eq!(g.conv1.output(), Hwc::new(16, 16, 8));
        assert_eq!(g.pool1.output(), Hwc::new(7, 7, 8));
        assert_eq!(g.pool2.output(), Hwc::new(3, 3, 8));
        assert_eq!(g.pool3.output(), Hwc::new(1, 1, 16));
        assert_eq!(g.local1.inputs(), 16);
    }

    #[test]
    fn too_small_input_is_an_error_not_a_panic() {
        let cfg = ValenceConfig {
            input: 40,
            ..ValenceConfig::TINY
        };
        assert!(matches!(cfg.geometry(), Err(KernelError::TooSmall { .. })));
        let cfg = ValenceConfig {
            tile: 0,
            ..ValenceConfig::TINY
        };
        assert!(matches!(cfg.geometry(), Err(KernelError::Zero { .. })));
    }
}
