//! A keyword-spotting classifier as a table: the worked example of a network that is not the
//! seed's.
//!
//! 49 frames × 10 MFCC coefficients of one second of audio (`f32`, one channel) → conv 10×4/2
//! SAME, 16 channels + ReLU → conv 3×3 SAME, 16 channels + ReLU → max-pool 2×2/2 → dense to 12
//! logits (ten keywords, "silence", "unknown"), trained with softmax cross-entropy. About 7.6 k
//! parameters.

use super::table::{Activation, Initializer, Input, InputKind, Layer, Loss, Network, Op, Param};
use crate::Padding;

const fn weights(name: &'static str, tag: &'static str) -> Param {
    Param {
        name,
        tag,
        init: Initializer::Xavier,
    }
}

const fn bias(name: &'static str, tag: &'static str) -> Param {
    Param {
        name,
        tag,
        init: Initializer::Constant(0.0),
    }
}

/// The keyword-spotting network.
pub const KWS: Network = Network {
    input: Input {
        h: 49,
        w: 10,
        c: 1,
        kind: InputKind::F32,
    },
    layers: &[
        Layer {
            name: "conv1",
            op: Op::Conv {
                kernel: [10, 4],
                stride: [2, 2],
                padding: Padding::Same,
                out: 16,
                weights: weights("conv1_weights", "conv1/weights"),
                bias: bias("conv1_bias", "conv1/bias"),
            },
            activation: Activation::Relu,
            tag: "conv1/output",
            pre_tag: "conv1/before_relu",
        },
        Layer {
            name: "conv2",
            op: Op::Conv {
                kernel: [3, 3],
                stride: [1, 1],
                padding: Padding::Same,
                out: 16,
                weights: weights("conv2_weights", "conv2/weights"),
                bias: bias("conv2_bias", "conv2/bias"),
            },
            activation: Activation::Relu,
            tag: "conv2/output",
            pre_tag: "conv2/before_relu",
        },
        Layer {
            name: "pool",
            op: Op::MaxPool {
                window: [2, 2],
                stride: [2, 2],
                padding: Padding::Valid,
            },
            activation: Activation::Linear,
            tag: "pool/output",
            pre_tag: "",
        },
        Layer {
            name: "logits",
            op: Op::Dense {
                out: 12,
                weights: weights("logits_weights", "logits/weights"),
                bias: bias("logits_bias", "logits/bias"),
            },
            activation: Activation::Linear,
            tag: "logits/output",
            pre_tag: "",
        },
    ],
    loss: Loss::SoftmaxCrossEntropy,
    tile: 16,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Hwc;

    #[test]
    fn kws_shapes_and_parameter_count_by_hand() {
        let p = KWS.plan().unwrap();
        // SAME, stride 2: ceil(49/2) = 25, ceil(10/2) = 5; VALID 2×2/2: 12 × 2.
        assert_eq!(p.find("conv1").unwrap().output, Hwc::new(25, 5, 16));
        assert_eq!(p.find("conv2").unwrap().output, Hwc::new(25, 5, 16));
        assert_eq!(p.find("pool").unwrap().output, Hwc::new(12, 2, 16));
        assert_eq!(p.output_len(), 12);
        let by_hand = 10 * 4 * 16 + 16 + 3 * 3 * 16 * 16 + 16 + 12 * 2 * 16 * 12 + 12;
        assert_eq!(p.param_len(), by_hand);
        assert_eq!(by_hand, 7_596);
    }

    #[test]
    fn kws_adam_arena_by_hand() {
        use crate::net::{ArenaLayout, OptimizerKind};
        // 7596 parameters × 4 (value, gradient, m, v) and Adam's β1ᵗ, β2ᵗ; outputs 25·5·16 ×2,
        // 12·2·16, 12; the scratch of conv2's 3·3·16 patch × tile 16; two gradient buffers of
        // 25·5·16; 12 logit gradients.
        let floats = 7596 * 4 + 2 + (2000 * 2 + 384 + 12) + 144 * 16 + 2 * 2000 + 12;
        let l = ArenaLayout::training(&KWS, 1, OptimizerKind::Adam).unwrap();
        assert_eq!(l.arena_len(), floats);
        assert_eq!(l.bytes(), 164_392);
    }
}
