//! The parameter table: every trainable tensor's name, summary tag, shape, place and initialiser.

use super::config::{tri, ValenceConfig};
use crate::error::{add, mul};
use crate::KernelError;

/// Number of parameter tensors (a weight and a bias per layer, eight layers).
pub const PARAM_TENSORS: usize = 16;

/// How a tensor starts (the seed's initialisers).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Init {
    /// TF1 `xavier_initializer_conv2d(uniform=False)` with these fans.
    Xavier {
        /// `kh·kw·c_in` (conv) or `inputs` (dense).
        fan_in: usize,
        /// `kh·kw·c_out` (conv) or `outputs` (dense).
        fan_out: usize,
    },
    /// `tf.truncated_normal(stddev=…)` around 0.
    TruncatedNormal {
        /// σ before truncation.
        stddev: f32,
    },
    /// `tf.constant(value)`.
    Constant(f32),
}

/// One trainable tensor of the network.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ParamSpec {
    /// The seed's variable name (`weights1`, `biases1`, …, `weight_softmax`): `.npy` file names.
    pub name: &'static str,
    /// The seed's summary tag (`weights_conv1`, `local1_biases`, …).
    pub tag: &'static str,
    /// Shape in TensorFlow order (HWIO for conv filters, `[in, out]` for dense); `rank` entries used.
    pub shape: [usize; 4],
    /// Number of used entries of `shape`.
    pub rank: usize,
    /// Offset of the tensor inside the parameter block.
    pub offset: usize,
    /// `shape` product.
    pub len: usize,
    /// The seed's initialiser.
    pub init: Init,
    /// `true` for weights, `false` for biases.
    pub is_weight: bool,
}

impl ParamSpec {
    /// The used part of [`shape`](Self::shape).
    pub fn dims(&self) -> &[usize] {
        &self.shape[..self.rank]
    }
}

const NAMES: [(&str, &str); PARAM_TENSORS] = [
    ("weights1", "weights_conv1"),
    ("biases1", "biases_conv1"),
    ("weights2", "weights_conv2"),
    ("biases2", "biases_conv2"),
    ("weights3", "weights_conv3"),
    ("biases3", "biases_conv3"),
    ("weights4", "weights_conv4"),
    ("biases4", "biases_conv4"),
    ("weights5", "weights_conv5"),
    ("biases5", "biases_conv5"),
    ("weight_local1", "local1_weights"),
    ("bias_local1", "local1_biases"),
    ("weight_local2", "local2_weights"),
    ("bias_local2", "local2_biases"),
    ("weight_softmax", "softmax_weights"),
    ("bias_softmax", "softmax_biases"),
];

/// The seed's conv and local biases start at 0.1 (so ReLUs start open); the output's at 0.
const HIDDEN_BIAS: f32 = 0.1;
/// The seed's `weight_softmax` σ: `1 / 1024`.
const SOFTMAX_STDDEV: f32 = 1.0 / 1024.0;

impl ValenceConfig {
    /// The parameter table, in arena order (weight then bias, layer by layer).
    ///
    /// # Errors
    /// As [`ValenceConfig::geometry`].
    pub const fn params(&self) -> Result<[ParamSpec; PARAM_TENSORS], KernelError> {
        let g = tri!(self.geometry());
        let convs = [g.conv1, g.conv2, g.conv3, g.conv4, g.conv5];
        let denses = [g.local1, g.local2, g.softmax];
        let empty = ParamSpec {
            name: "",
            tag: "",
            shape: [0; 4],
            rank: 0,
            offset: 0,
            len: 0,
            init: Init::Constant(0.0),
            is_weight: false,
        };
        let mut out = [empty; PARAM_TENSORS];
        let mut offset = 0;
        let mut i = 0;
        while i < 8 {
            let (w_shape, w_rank, fan_in, fan_out, bias_len, w_init, b_init) = if i < 5 {
                let c = convs[i];
                let k = c.kernel();
                let (cin, cout) = (c.input().c, c.output().c);
                let fan_in = tri!(mul("conv fan_in", k[0] * k[1], cin));
                let fan_out = tri!(mul("conv fan_out", k[0] * k[1], cout));
                (
                    [k[0], k[1], cin, cout],
                    4,
                    fan_in,
                    fan_out,
                    cout,
                    None,
                    HIDDEN_BIAS,
                )
            } else {
                let d = denses[i - 5];
                let (fin, fout) = (d.inputs(), d.outputs());
                if i == 7 {
                    let init = Init::TruncatedNormal {
                        stddev: SOFTMAX_STDDEV,
                    };
                    ([fin, fout, 1, 1], 2, fin, fout, fout, Some(init), 0.0)
                } else {
                    ([fin, fout, 1, 1], 2, fin, fout, fout, None, HIDDEN_BIAS)
                }
            };
            let w_len = if i < 5 {
                convs[i].filter_len()
            } else {
                denses[i - 5].weights_len()
            };
            let w_init = match w_init {
                Some(init) => init,
                None => Init::Xavier { fan_in, fan_out },
            };
            out[2 * i] = ParamSpec {
                name: NAMES[2 * i].0,
                tag: NAMES[2 * i].1,
                shape: w_shape,
                rank: w_rank,
                offset,
                len: w_len,
                init: w_init,
                is_weight: true,
            };
            offset = tri!(add("parameters", offset, w_len));
            out[2 * i + 1] = ParamSpec {
                name: NAMES[2 * i + 1].0,
                tag: NAMES[2 * i + 1].1,
                shape: [bias_len, 1, 1, 1],
                rank: 1,
                offset,
                len: bias_len,
                init: Init::Constant(b_init),
                is_weight: false,
            };
            offset = tri!(add("parameters", offset, bias_len));
            i += 1;
        }
        Ok(out)
    }

    /// Total number of trainable parameters.
    ///
    /// # Errors
    /// As [`ValenceConfig::geometry`].
    pub const fn param_len(&self) -> Result<usize, KernelError> {
        let p = tri!(self.params());
        Ok(p[PARAM_TENSORS - 1].offset + p[PARAM_TENSORS - 1].len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The seed's initialisers take Python doubles that TensorFlow rounds once to the
    // variable's f32: `tf.constant_initializer(0.1)` and
    // `tf.truncated_normal_initializer(stddev=1/1024.0)`. The hexadecimal values are Python's
    // `struct.pack('<f', value)`.

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
    }
}
