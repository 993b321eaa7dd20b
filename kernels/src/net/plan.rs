//! The validated, resolved form of a [`Network`] table: every layer's geometry, the parameter
//! table and the probes, in fixed-capacity arrays (no heap), computed by a `const fn`.

use super::params::{Init, ParamSpec};
use super::probe::{Probe, Stage};
use super::table::{Activation, Initializer, InputKind, Layer, Loss, Network, Op, Param};
use crate::conv2d::Conv2d;
use crate::dense::Dense;
use crate::error::{add, mul, tri};
use crate::lrn::Lrn;
use crate::pool::Pool2d;
use crate::{Hwc, KernelError};

/// Most layers a table may have.
pub const MAX_LAYERS: usize = 16;
/// Most parameter tensors a table may have (a weight and a bias per layer).
pub const MAX_PARAMS: usize = 2 * MAX_LAYERS;

/// One layer's validated geometry.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LayerGeometry {
    /// A convolution.
    Conv(Conv2d),
    /// A dense layer over the flattened input.
    Dense(Dense),
    /// A max-pool.
    MaxPool(Pool2d),
    /// LRN over the input's channels.
    Lrn(Lrn),
}

/// One layer of a [`Plan`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PlannedLayer {
    /// The table's layer (name, tags, activation).
    pub layer: &'static Layer,
    /// Its position in the table.
    pub index: usize,
    /// Its geometry.
    pub geometry: LayerGeometry,
    /// One example's output shape (`1 × 1 × out` for a dense layer).
    pub output: Hwc,
    /// Indices in [`Plan::params`] of its weights and bias, for a layer with parameters.
    pub params: Option<[usize; 2]>,
}

impl PlannedLayer {
    /// One example's output length.
    pub const fn output_len(&self) -> usize {
        self.output.len()
    }

    /// The probes of this layer, in the order the forward pass shows them: before the
    /// activation (ReLU layers only), then the output.
    pub fn probes(&self) -> impl Iterator<Item = Probe> {
        let pre = match self.layer.activation {
            Activation::Relu => Some(self.probe(Stage::PreActivation)),
            Activation::Linear => None,
        };
        pre.into_iter()
            .chain(core::iter::once(self.probe(Stage::Output)))
    }

    /// This layer's probe at `stage`, tagged with the table's `pre_tag` before the activation
    /// and its `tag` after.
    pub const fn probe(&self, stage: Stage) -> Probe {
        let l = self.layer;
        Probe {
            layer: l.name,
            index: self.index,
            tag: match stage {
                Stage::PreActivation => l.pre_tag,
                Stage::Output => l.tag,
            },
            stage,
            activation: l.activation,
        }
    }
}

/// The parameter table of a plan: [`ParamSpec`]s in arena order.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Params {
    specs: [ParamSpec; MAX_PARAMS],
    len: usize,
}

impl core::ops::Deref for Params {
    type Target = [ParamSpec];
    fn deref(&self) -> &[ParamSpec] {
        &self.specs[..self.len]
    }
}

impl IntoIterator for Params {
    type Item = ParamSpec;
    type IntoIter = core::iter::Take<core::array::IntoIter<ParamSpec, MAX_PARAMS>>;
    fn into_iter(self) -> Self::IntoIter {
        self.specs.into_iter().take(self.len)
    }
}

impl<'p> IntoIterator for &'p Params {
    type Item = &'p ParamSpec;
    type IntoIter = core::slice::Iter<'p, ParamSpec>;
    fn into_iter(self) -> Self::IntoIter {
        self[..].iter()
    }
}

impl Params {
    /// Number of parameter tensors.
    pub const fn count(&self) -> usize {
        self.len
    }

    /// Tensor `i` (`i < count()`).
    ///
    /// # Panics
    /// If `i >= count()`.
    pub const fn get(&self, i: usize) -> &ParamSpec {
        assert!(i < self.len, "parameter index out of range");
        &self.specs[i]
    }

    /// Total number of `f32` parameters.
    pub const fn total_len(&self) -> usize {
        if self.len == 0 {
            0
        } else {
            self.specs[self.len - 1].offset + self.specs[self.len - 1].len
        }
    }
}

/// A validated network: everything the interpreter, the arena and the int8 model need.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Plan {
    /// The table it was made from.
    pub network: Network,
    layers: [PlannedLayer; MAX_LAYERS],
    len: usize,
    params: Params,
}

const EMPTY_LAYER: Layer = Layer {
    name: "",
    op: Op::MaxPool {
        window: [1, 1],
        stride: [1, 1],
        padding: crate::Padding::Valid,
    },
    activation: Activation::Linear,
    tag: "",
    pre_tag: "",
};

const EMPTY_SPEC: ParamSpec = ParamSpec {
    name: "",
    tag: "",
    shape: [0; 4],
    rank: 0,
    offset: 0,
    len: 0,
    init: Init::Constant(0.0),
    is_weight: false,
};

/// Resolves a table initialiser with the layer's fans.
const fn init(i: Initializer, fan_in: usize, fan_out: usize) -> Init {
    match i {
        Initializer::Xavier => Init::Xavier { fan_in, fan_out },
        Initializer::TruncatedNormal { stddev } => Init::TruncatedNormal { stddev },
        Initializer::Constant(v) => Init::Constant(v),
    }
}

/// The specs of one layer's weights (`shape`, `rank`, `len`) and bias (`out` values).
struct Tensors {
    weights: Param,
    bias: Param,
    shape: [usize; 4],
    rank: usize,
    len: usize,
    out: usize,
    fan_in: usize,
    fan_out: usize,
}

impl Plan {
    /// Validates `net` and resolves it.
    ///
    /// # Errors
    /// * [`KernelError::Zero`] (`layers`) for an empty table, [`KernelError::Length`]
    ///   (`layers`, expected [`MAX_LAYERS`]) for a longer one;
    /// * [`KernelError::InvalidParam`] (`input`) for a `u8` input whose first layer is not a
    ///   convolution;
    /// * [`KernelError::Length`] (`output`, expected 1) for [`Loss::WeightedAbs`] on more than
    ///   one output, [`KernelError::TooSmall`] (`output`, min 2) for
    ///   [`Loss::SoftmaxCrossEntropy`] on fewer than two classes;
    /// * any error of a layer's constructor ([`Conv2d::new`], [`Dense::new`], [`Pool2d::new`],
    ///   [`Lrn::new`]) and [`KernelError::Overflow`] for sizes that do not fit in `usize`.
    pub const fn new(net: &Network) -> Result<Self, KernelError> {
        let n = net.layers.len();
        if n == 0 {
            return Err(KernelError::Zero { arg: "layers" });
        }
        if n > MAX_LAYERS {
            return Err(KernelError::Length {
                arg: "layers",
                expected: MAX_LAYERS,
                got: n,
            });
        }
        let is_conv = matches!(net.layers[0].op, Op::Conv { .. });
        if matches!(net.input.kind, InputKind::U8) && !is_conv {
            return Err(KernelError::InvalidParam { arg: "input" });
        }
        let empty = PlannedLayer {
            layer: &EMPTY_LAYER,
            index: 0,
            geometry: LayerGeometry::Dense(match Dense::new(1, 1) {
                Ok(d) => d,
                Err(_) => panic!("1 × 1 is a dense layer"),
            }),
            output: Hwc::new(0, 0, 0),
            params: None,
        };
        let mut layers = [empty; MAX_LAYERS];
        let mut specs = [EMPTY_SPEC; MAX_PARAMS];
        let mut count = 0;
        let mut offset = 0;
        let mut shape = Hwc::new(net.input.h, net.input.w, net.input.c);
        let _ = tri!(shape.checked_len("input"));
        let table: &'static [Layer] = net.layers;
        let mut i = 0;
        while i < n {
            let layer = &table[i];
            let (geometry, output, tensors) = match layer.op {
                Op::Conv {
                    kernel,
                    stride,
                    padding,
                    out,
                    weights,
                    bias,
                } => {
                    let g = tri!(Conv2d::new(shape, kernel, out, stride, padding, net.tile));
                    let taps = tri!(mul("filter", kernel[0], kernel[1]));
                    let t = Tensors {
                        weights,
                        bias,
                        shape: [kernel[0], kernel[1], shape.c, out],
                        rank: 4,
                        len: g.filter_len(),
                        out,
                        fan_in: tri!(mul("conv fan_in", taps, shape.c)),
                        fan_out: tri!(mul("conv fan_out", taps, out)),
                    };
                    (LayerGeometry::Conv(g), g.output(), Some(t))
                }
                Op::Dense { out, weights, bias } => {
                    let inputs = tri!(shape.checked_len("dense input"));
                    let g = tri!(Dense::new(inputs, out));
                    let t = Tensors {
                        weights,
                        bias,
                        shape: [inputs, out, 1, 1],
                        rank: 2,
                        len: g.weights_len(),
                        out,
                        fan_in: inputs,
                        fan_out: out,
                    };
                    (LayerGeometry::Dense(g), Hwc::new(1, 1, out), Some(t))
                }
                Op::MaxPool {
                    window,
                    stride,
                    padding,
                } => {
                    let g = tri!(Pool2d::new(shape, window, stride, padding));
                    (LayerGeometry::MaxPool(g), g.output(), None)
                }
                Op::Lrn {
                    depth_radius,
                    bias,
                    alpha,
                    beta,
                } => {
                    let g = tri!(Lrn::new(shape.c, depth_radius, bias, alpha, beta));
                    (LayerGeometry::Lrn(g), shape, None)
                }
            };
            let _ = tri!(output.checked_len("output"));
            let params = match tensors {
                Some(t) => {
                    specs[count] = ParamSpec {
                        name: t.weights.name,
                        tag: t.weights.tag,
                        shape: t.shape,
                        rank: t.rank,
                        offset,
                        len: t.len,
                        init: init(t.weights.init, t.fan_in, t.fan_out),
                        is_weight: true,
                    };
                    offset = tri!(add("parameters", offset, t.len));
                    specs[count + 1] = ParamSpec {
                        name: t.bias.name,
                        tag: t.bias.tag,
                        shape: [t.out, 1, 1, 1],
                        rank: 1,
                        offset,
                        len: t.out,
                        init: init(t.bias.init, t.fan_in, t.fan_out),
                        is_weight: false,
                    };
                    offset = tri!(add("parameters", offset, t.out));
                    count += 2;
                    Some([count - 2, count - 1])
                }
                None => None,
            };
            layers[i] = PlannedLayer {
                layer,
                index: i,
                geometry,
                output,
                params,
            };
            shape = output;
            i += 1;
        }
        let outputs = shape.len();
        match net.loss {
            Loss::WeightedAbs if outputs != 1 => {
                return Err(KernelError::Length {
                    arg: "output",
                    expected: 1,
                    got: outputs,
                })
            }
            Loss::SoftmaxCrossEntropy if outputs < 2 => {
                return Err(KernelError::TooSmall {
                    arg: "output",
                    min: 2,
                    got: outputs,
                })
            }
            _ => {}
        }
        Ok(Self {
            network: *net,
            layers,
            len: n,
            params: Params { specs, len: count },
        })
    }

    /// The layers, first to last.
    pub fn layers(&self) -> &[PlannedLayer] {
        &self.layers[..self.len]
    }

    /// Number of layers.
    pub const fn layer_count(&self) -> usize {
        self.len
    }

    /// Layer `i` (`i < layer_count()`).
    ///
    /// # Panics
    /// If `i >= layer_count()`.
    pub const fn layer(&self, i: usize) -> &PlannedLayer {
        assert!(i < self.len, "layer index out of range");
        &self.layers[i]
    }

    /// The layer named `name`.
    pub fn find(&self, name: &str) -> Option<&PlannedLayer> {
        self.layers().iter().find(|l| l.layer.name == name)
    }

    /// The geometry of the convolution named `name`.
    pub fn conv(&self, name: &str) -> Option<Conv2d> {
        match self.find(name)?.geometry {
            LayerGeometry::Conv(g) => Some(g),
            _ => None,
        }
    }

    /// The geometry of the dense layer named `name`.
    pub fn dense(&self, name: &str) -> Option<Dense> {
        match self.find(name)?.geometry {
            LayerGeometry::Dense(g) => Some(g),
            _ => None,
        }
    }

    /// The geometry of the max-pool named `name`.
    pub fn pool(&self, name: &str) -> Option<Pool2d> {
        match self.find(name)?.geometry {
            LayerGeometry::MaxPool(g) => Some(g),
            _ => None,
        }
    }

    /// The geometry of the LRN layer named `name`.
    pub fn lrn(&self, name: &str) -> Option<Lrn> {
        match self.find(name)?.geometry {
            LayerGeometry::Lrn(g) => Some(g),
            _ => None,
        }
    }

    /// The parameter table, in arena order (weight then bias, layer by layer).
    pub const fn params(&self) -> &Params {
        &self.params
    }

    /// Total number of trainable parameters.
    pub const fn param_len(&self) -> usize {
        self.params.total_len()
    }

    /// One example's input length (bytes of a `u8` frame, or `f32`s).
    pub const fn input_len(&self) -> usize {
        let i = self.network.input;
        i.h * i.w * i.c
    }

    /// One example's output length (1 for the valence networks, the classes for a classifier).
    pub const fn output_len(&self) -> usize {
        self.layers[self.len - 1].output.len()
    }

    /// Every probe, in forward order.
    pub fn probes(&self) -> impl Iterator<Item = Probe> + '_ {
        self.layers().iter().flat_map(PlannedLayer::probes)
    }
}

impl Network {
    /// Validates the table and resolves it; see [`Plan::new`].
    ///
    /// # Errors
    /// As [`Plan::new`].
    pub const fn plan(&self) -> Result<Plan, KernelError> {
        Plan::new(self)
    }

    /// The parameter table, in arena order.
    ///
    /// # Errors
    /// As [`Plan::new`].
    pub const fn params(&self) -> Result<Params, KernelError> {
        match Plan::new(self) {
            Ok(p) => Ok(p.params),
            Err(e) => Err(e),
        }
    }

    /// Total number of trainable parameters.
    ///
    /// # Errors
    /// As [`Plan::new`].
    pub const fn param_len(&self) -> Result<usize, KernelError> {
        match Plan::new(self) {
            Ok(p) => Ok(p.param_len()),
            Err(e) => Err(e),
        }
    }

    /// Length of one example's input (bytes of a `u8` frame, or `f32`s).
    ///
    /// # Errors
    /// [`KernelError::Zero`] / [`KernelError::Overflow`] (`input`) for an unusable input size.
    pub const fn frame_len(&self) -> Result<usize, KernelError> {
        Hwc::new(self.input.h, self.input.w, self.input.c).checked_len("input")
    }
}
