//! The seed's valence network as two tables, [`Network::FULL`] and [`Network::TINY`]: the only
//! place that spells its topology, names and tags.
//!
//! conv1 5×5/4 SAME + ReLU → LRN → max-pool 3×3/2 VALID → conv2 3×3 SAME + ReLU → LRN → pool →
//! conv3, conv4, conv5 3×3 SAME + ReLU → pool → flatten → local1, local2 dense + ReLU → one
//! linear output, trained on the confidence-weighted absolute error. Only the sizes differ.

use super::table::{Activation, Initializer, Input, InputKind, Layer, Loss, Network, Op, Param};
use crate::Padding;

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

/// The seed's conv and local biases start at 0.1 (so ReLUs start open); the output's at 0.
const HIDDEN_BIAS: f32 = 0.1;
/// The seed's `weight_softmax` σ: `1 / 1024`.
const SOFTMAX_STDDEV: f32 = 1.0 / 1024.0;

/// The seed's name for a network table (both valence networks are [`Network`]s).
pub type ValenceConfig = Network;

const fn param(name: &'static str, tag: &'static str, init: Initializer) -> Param {
    Param { name, tag, init }
}

const fn conv(
    name: &'static str,
    kernel: usize,
    stride: usize,
    out: usize,
    params: [(&'static str, &'static str); 2],
    tags: [&'static str; 2],
) -> Layer {
    Layer {
        name,
        op: Op::Conv {
            kernel: [kernel, kernel],
            stride: [stride, stride],
            padding: Padding::Same,
            out,
            weights: param(params[0].0, params[0].1, Initializer::Xavier),
            bias: param(params[1].0, params[1].1, Initializer::Constant(HIDDEN_BIAS)),
        },
        activation: Activation::Relu,
        pre_tag: tags[0],
        tag: tags[1],
    }
}

const fn norm(name: &'static str, tag: &'static str) -> Layer {
    Layer {
        name,
        op: Op::Lrn {
            depth_radius: LRN_DEPTH_RADIUS,
            bias: LRN_BIAS,
            alpha: LRN_ALPHA,
            beta: LRN_BETA,
        },
        activation: Activation::Linear,
        tag,
        pre_tag: "",
    }
}

const fn pool(name: &'static str, tag: &'static str) -> Layer {
    Layer {
        name,
        op: Op::MaxPool {
            window: [3, 3],
            stride: [2, 2],
            padding: Padding::Valid,
        },
        activation: Activation::Linear,
        tag,
        pre_tag: "",
    }
}

const fn local(
    name: &'static str,
    out: usize,
    params: [(&'static str, &'static str); 2],
    tags: [&'static str; 2],
) -> Layer {
    Layer {
        name,
        op: Op::Dense {
            out,
            weights: param(params[0].0, params[0].1, Initializer::Xavier),
            bias: param(params[1].0, params[1].1, Initializer::Constant(HIDDEN_BIAS)),
        },
        activation: Activation::Relu,
        pre_tag: tags[0],
        tag: tags[1],
    }
}

/// The valence layers with conv channels `c` and dense widths `d`, with the seed's variable
/// names and summary tags (spelled as the seed spells them: `con1_…` but `conv2_output_…`).
pub(crate) const fn layers(c: [usize; 5], d: [usize; 2]) -> [Layer; 13] {
    [
        conv(
            "conv1",
            5,
            4,
            c[0],
            [("weights1", "weights_conv1"), ("biases1", "biases_conv1")],
            ["con1_before_relu", "con1_output_distribution"],
        ),
        norm("norm1", "norm1_output_distribution"),
        pool("pool1", "pool1_output_distribution"),
        conv(
            "conv2",
            3,
            1,
            c[1],
            [("weights2", "weights_conv2"), ("biases2", "biases_conv2")],
            ["con2_before_relu", "conv2_output_distribution"],
        ),
        norm("norm2", "norm2_output_distribution"),
        pool("pool2", "pool2_output_distribution"),
        conv(
            "conv3",
            3,
            1,
            c[2],
            [("weights3", "weights_conv3"), ("biases3", "biases_conv3")],
            ["con3_before_relu", "con3_output_distribution"],
        ),
        conv(
            "conv4",
            3,
            1,
            c[3],
            [("weights4", "weights_conv4"), ("biases4", "biases_conv4")],
            ["con4_before_relu", "con4_output_distribution"],
        ),
        conv(
            "conv5",
            3,
            1,
            c[4],
            [("weights5", "weights_conv5"), ("biases5", "biases_conv5")],
            ["con5_before_relu", "con5_output_distribution"],
        ),
        pool("pool3", "pool3_output_distribution"),
        local(
            "local1",
            d[0],
            [
                ("weight_local1", "local1_weights"),
                ("bias_local1", "local1_biases"),
            ],
            ["local1_before_relu", "local1_output_distribution"],
        ),
        local(
            "local2",
            d[1],
            [
                ("weight_local2", "local2_weights"),
                ("bias_local2", "local2_biases"),
            ],
            ["local2_before_relu", "local2_output_distribution"],
        ),
        Layer {
            name: "softmax_linear",
            op: Op::Dense {
                out: 1,
                weights: param(
                    "weight_softmax",
                    "softmax_weights",
                    Initializer::TruncatedNormal {
                        stddev: SOFTMAX_STDDEV,
                    },
                ),
                bias: param("bias_softmax", "softmax_biases", Initializer::Constant(0.0)),
            },
            activation: Activation::Linear,
            tag: "softmax_output_distribution",
            pre_tag: "",
        },
    ]
}

/// A square RGB camera frame of `side` pixels.
pub(crate) const fn rgb(side: usize) -> Input {
    Input {
        h: side,
        w: side,
        c: 3,
        kind: InputKind::U8,
    }
}

impl Network {
    /// The seed's network: 96×96×3 frames, conv 128/128/256/256/256, dense 2046/2046.
    ///
    /// Its tile of 1024 output pixels (a 9.4 MB scratch) lets a desktop GEMM see tall matrices:
    /// with 128-pixel tiles the threaded GEMM re-packed the weights for every 64 rows, 13 % of
    /// a training step.
    pub const FULL: Self = Self {
        input: rgb(96),
        layers: &layers([128, 128, 256, 256, 256], [2046, 2046]),
        loss: Loss::WeightedAbs,
        tile: 1024,
    };

    /// A board's network: 64×64×3 frames, conv 8/8/16/16/16, dense 16/16 (about 7.6 k parameters).
    pub const TINY: Self = Self {
        input: rgb(64),
        layers: &layers([8, 8, 16, 16, 16], [16, 16]),
        loss: Loss::WeightedAbs,
        tile: 16,
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Init;
    use crate::{Hwc, KernelError};

    // The seed's constants are Python doubles that TensorFlow rounds once to `f32` (op
    // attributes and variable initialisers): `tf.nn.lrn(x, 4, bias=1.0, alpha=0.001 / 9.0,
    // beta=0.75)`, `tf.constant_initializer(0.1)`, `truncated_normal_initializer(stddev=1/1024.0)`.
    // The hexadecimal values are Python's `struct.pack('<f', value)` of those doubles.

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
    fn hidden_bias_is_pythons_0_1_rounded_once_to_f32() {
        assert_eq!(HIDDEN_BIAS.to_bits(), (0.1f64 as f32).to_bits());
        assert_eq!(HIDDEN_BIAS.to_bits(), 0x3dcc_cccd);
    }

    #[test]
    fn softmax_stddev_is_one_over_1024_exactly() {
        assert_eq!(
            SOFTMAX_STDDEV.to_bits(),
            ((1.0f64 / 1024.0) as f32).to_bits()
        );
        assert_eq!(SOFTMAX_STDDEV.to_bits(), 0x3a80_0000);
    }

    #[test]
    fn full_matches_the_seed_table() {
        let p = ValenceConfig::FULL.plan().unwrap();
        let out = |name| p.find(name).unwrap().output;
        assert_eq!(out("conv1"), Hwc::new(24, 24, 128));
        assert_eq!(out("pool1"), Hwc::new(11, 11, 128));
        assert_eq!(out("conv2"), Hwc::new(11, 11, 128));
        assert_eq!(out("pool2"), Hwc::new(5, 5, 128));
        assert_eq!(out("conv5"), Hwc::new(5, 5, 256));
        assert_eq!(out("pool3"), Hwc::new(2, 2, 256));
        // The seed hard-codes the flattened size 1024.
        assert_eq!(p.dense("local1").unwrap().inputs(), 1024);
        assert_eq!(p.dense("local2").unwrap().outputs(), 2046);
        assert_eq!(p.output_len(), 1);
    }

    #[test]
    fn tiny_shapes() {
        let p = ValenceConfig::TINY.plan().unwrap();
        let out = |name| p.find(name).unwrap().output;
        assert_eq!(out("conv1"), Hwc::new(16, 16, 8));
        assert_eq!(out("pool1"), Hwc::new(7, 7, 8));
        assert_eq!(out("pool2"), Hwc::new(3, 3, 8));
        assert_eq!(out("pool3"), Hwc::new(1, 1, 16));
        assert_eq!(p.dense("local1").unwrap().inputs(), 16);
    }

    #[test]
    fn too_small_input_is_an_error_not_a_panic() {
        let cfg = ValenceConfig {
            input: rgb(40),
            ..ValenceConfig::TINY
        };
        assert!(matches!(cfg.plan(), Err(KernelError::TooSmall { .. })));
        let cfg = ValenceConfig {
            tile: 0,
            ..ValenceConfig::TINY
        };
        assert!(matches!(cfg.plan(), Err(KernelError::Zero { .. })));
    }

    #[test]
    fn full_has_the_seeds_parameter_count() {
        // conv: 5·5·3·128 + 3·3·128·128 + 3·3·128·256 + 2 · 3·3·256·256, biases 128+128+3·256;
        // dense: 1024·2046 + 2046·2046 + 2046, biases 2046 + 2046 + 1.
        let conv = 5 * 5 * 3 * 128
            + 9 * 128 * 128
            + 9 * 128 * 256
            + 2 * 9 * 256 * 256
            + 128
            + 128
            + 3 * 256;
        let dense = 1024 * 2046 + 2046 * 2046 + 2046 + 2046 + 2046 + 1;
        assert_eq!(ValenceConfig::FULL.param_len(), Ok(conv + dense));
        assert!(
            (7_800_000..8_000_000).contains(&(conv + dense)),
            "about 7.9 M parameters"
        );
    }

    #[test]
    fn tiny_has_about_7_6k_parameters_and_contiguous_offsets() {
        let p = ValenceConfig::TINY.params().unwrap();
        assert_eq!(p.count(), 16);
        let mut next = 0;
        for spec in &p {
            assert_eq!(spec.offset, next, "{}", spec.name);
            assert_eq!(
                spec.len,
                spec.dims().iter().product::<usize>(),
                "{}",
                spec.name
            );
            next += spec.len;
        }
        assert_eq!(next, 7561);
        assert_eq!(p[0].dims(), &[5, 5, 3, 8]);
        assert_eq!(
            p[0].init,
            Init::Xavier {
                fan_in: 75,
                fan_out: 200
            }
        );
        assert_eq!(p[1].init, Init::Constant(0.1));
        assert_eq!(p[14].name, "weight_softmax");
        assert_eq!(
            p[14].init,
            Init::TruncatedNormal {
                stddev: 1.0 / 1024.0
            }
        );
        assert_eq!(p[15].init, Init::Constant(0.0));
        assert_eq!(p[10].tag, "local1_weights");
        assert_eq!(
            p[10].init,
            Init::Xavier {
                fan_in: 16,
                fan_out: 16
            }
        );
    }
}
