//! Network files: `--config PATH` names a [`Network`] table written as TOML (`.toml`) or JSON
//! (any other extension), with the table's own fields (see `examples/networks/`).
//!
//! ```toml
//! tile = 16
//! input = { height = 49, width = 10, channels = 1, kind = "f32" }
//! loss = { kind = "softmax-cross-entropy", classes = 12 }
//!
//! [[layers]]
//! op = "conv"               # conv | dense | max-pool | lrn
//! name = "conv1"
//! kernel = [10, 4]
//! stride = [2, 2]           # default [1, 1]
//! padding = "same"          # same | valid
//! out = 16
//! activation = "relu"       # relu | linear (the default)
//! ```
//!
//! What a layer may leave out gets the names the kernels' `KWS` table uses: output tag
//! `<layer>/output`, pre-activation tag `<layer>/before_relu` (ReLU layers), parameters
//! `<layer>_weights` (tag `<layer>/weights`, Xavier) and `<layer>_bias` (tag `<layer>/bias`,
//! constant 0); each parameter's `name`, `tag` and `init` (`"xavier"`, `{ constant = 0.1 }`,
//! `{ truncated_normal = { stddev = 0.01 } }`) can be given. The loss is `weighted-abs` (the
//! seed's), `mse`, or `softmax-cross-entropy` with its number of `classes`.
//!
//! A parsed file is checked by the kernels' [`Plan`](kernels::net::Plan) layer by layer, so
//! every error names the file, the field (`layers[1].kernel`) or layer, what is wrong and, where
//! the parser knows it, the line. The strings and the layer slice are leaked to get the
//! `&'static` a table holds: a handful of bytes, once per process.
//!
//! A checkpoint records its network by [`description`]: `full` or `tiny` for the built-in
//! tables, else the table serialised as one line of JSON (every field written, defaults
//! included), which [`from_description`] reads back without the file.

use std::collections::HashSet;
use std::path::Path;

use kernels::net::{
    Activation, Initializer, Input, InputKind, Layer, Loss, Network, Op, Param, MAX_LAYERS,
};
use kernels::Padding;
use serde::{Deserialize, Serialize};

/// A network file's top level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename = "network", deny_unknown_fields)]
struct FileNetwork {
    /// Run directories and messages call the network this [default: the file's stem].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    tile: usize,
    input: FileInput,
    loss: FileLoss,
    layers: Vec<FileLayer>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename = "input", deny_unknown_fields)]
struct FileInput {
    height: usize,
    width: usize,
    channels: usize,
    kind: FileKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum FileKind {
    U8,
    F32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    rename = "loss",
    tag = "kind",
    rename_all = "kebab-case",
    deny_unknown_fields
)]
enum FileLoss {
    WeightedAbs,
    Mse,
    SoftmaxCrossEntropy { classes: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum FilePadding {
    Same,
    Valid,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum FileActivation {
    #[default]
    Linear,
    Relu,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename = "initialiser", rename_all = "snake_case", deny_unknown_fields)]
enum FileInit {
    Xavier,
    Constant(f32),
    TruncatedNormal { stddev: f32 },
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename = "parameter", deny_unknown_fields)]
struct FileParam {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    init: Option<FileInit>,
}

/// The names, tags and activation every layer has.
#[derive(Debug, Clone, PartialEq)]
struct Common {
    name: String,
    activation: FileActivation,
    tag: Option<String>,
    pre_tag: Option<String>,
}

const fn unit_stride() -> [usize; 2] {
    [1, 1]
}

// Internally tagged (`op = "conv"`): serde cannot flatten `Common` into such variants and
// still refuse unknown fields, so each variant spells the common fields out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    rename = "layer",
    tag = "op",
    rename_all = "kebab-case",
    deny_unknown_fields
)]
enum FileLayer {
    Conv {
        name: String,
        kernel: [usize; 2],
        #[serde(default = "unit_stride")]
        stride: [usize; 2],
        padding: FilePadding,
        out: usize,
        #[serde(default)]
        activation: FileActivation,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tag: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pre_tag: Option<String>,
        #[serde(default)]
        weights: FileParam,
        #[serde(default)]
        bias: FileParam,
    },
    Dense {
        name: String,
        out: usize,
        #[serde(default)]
        activation: FileActivation,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tag: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pre_tag: Option<String>,
        #[serde(default)]
        weights: FileParam,
        #[serde(default)]
        bias: FileParam,
    },
    MaxPool {
        name: String,
        window: [usize; 2],
        #[serde(default = "unit_stride")]
        stride: [usize; 2],
        padding: FilePadding,
        #[serde(default)]
        activation: FileActivation,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tag: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pre_tag: Option<String>,
    },
    Lrn {
        name: String,
        depth_radius: usize,
        bias: f32,
        alpha: f32,
        beta: f32,
        #[serde(default)]
        activation: FileActivation,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tag: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pre_tag: Option<String>,
    },
}

impl FileLayer {
    fn common(&self) -> Common {
        let (name, activation, tag, pre_tag) = match self {
            Self::Conv {
                name,
                activation,
                tag,
                pre_tag,
                ..
            }
            | Self::Dense {
                name,
                activation,
                tag,
                pre_tag,
                ..
            }
            | Self::MaxPool {
                name,
                activation,
                tag,
                pre_tag,
                ..
            }
            | Self::Lrn {
                name,
                activation,
                tag,
                pre_tag,
                ..
            } => (name, activation, tag, pre_tag),
        };
        Common {
            name: name.clone(),
            activation: *activation,
            tag: tag.clone(),
            pre_tag: pre_tag.clone(),
        }
    }
}

/// A network read from a file (or a checkpoint's description).
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkFile {
    /// What run directories and messages call it: the file's `name`, else its stem.
    pub name: String,
    /// The table, validated by the kernels' plan.
    pub network: Network,
}

/// Why a network file was refused; displayed as one line naming the file.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {what}")]
pub struct NetworkFileError {
    /// The file (or `the checkpoint's network`).
    pub file: String,
    /// The field and what is wrong with it.
    pub what: String,
}

/// Reads and validates the network file `path` (TOML for `.toml`, else JSON).
///
/// # Errors
/// A [`NetworkFileError`] naming `path`: unreadable, not TOML/JSON, a missing, unknown or
/// mistyped field (with its path and line), or a table the kernels' plan refuses (naming the
/// layer).
pub fn load(path: &Path) -> Result<NetworkFile, NetworkFileError> {
    let file = path.display().to_string();
    let fail = |what: String| NetworkFileError {
        file: file.clone(),
        what,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read it: {e}")))?;
    let is_toml = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
    let parsed = if is_toml {
        parse_toml(&text)
    } else {
        parse_json(&text)
    }
    .map_err(fail)?;
    let stem = path.file_stem().map_or_else(
        || "network".to_owned(),
        |s| s.to_string_lossy().into_owned(),
    );
    build(parsed, stem).map_err(fail)
}

fn parse_toml(text: &str) -> Result<FileNetwork, String> {
    let de = toml::de::Deserializer::parse(text).map_err(|e| toml_error(text, &e))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        at_path(&path, &toml_error(text, &inner))
    })
}

/// `message (line N)` of a TOML error, on one line (its `Display` draws the line with a caret).
fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim().replace('\n', "; ");
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("{message} (line {line})")
        }
        None => message,
    }
}

fn parse_json(text: &str) -> Result<FileNetwork, String> {
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed: FileNetwork = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        at_path(&path, &e.into_inner().to_string())
    })?;
    de.end().map_err(|e| e.to_string())?;
    Ok(parsed)
}

/// `path: message`, or the message alone at the top level (`.`).
fn at_path(path: &str, message: &str) -> String {
    if path == "." || path.is_empty() {
        message.to_owned()
    } else {
        format!("{path}: {message}")
    }
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn param(p: &FileParam, layer: &str, role: &str, init: Initializer) -> Param {
    Param {
        name: leak(p.name.clone().unwrap_or_else(|| format!("{layer}_{role}"))),
        tag: leak(p.tag.clone().unwrap_or_else(|| format!("{layer}/{role}"))),
        init: p.init.map_or(init, |i| match i {
            FileInit::Xavier => Initializer::Xavier,
            FileInit::Constant(c) => Initializer::Constant(c),
            FileInit::TruncatedNormal { stddev } => Initializer::TruncatedNormal { stddev },
        }),
    }
}

const fn padding(p: FilePadding) -> Padding {
    match p {
        FilePadding::Same => Padding::Same,
        FilePadding::Valid => Padding::Valid,
    }
}

/// One layer of the table, its names defaulted.
fn layer(l: &FileLayer) -> Layer {
    let c = l.common();
    let op = match l {
        FileLayer::Conv {
            kernel,
            stride,
            padding: p,
            out,
            weights,
            bias,
            ..
        } => Op::Conv {
            kernel: *kernel,
            stride: *stride,
            padding: padding(*p),
            out: *out,
            weights: param(weights, &c.name, "weights", Initializer::Xavier),
            bias: param(bias, &c.name, "bias", Initializer::Constant(0.0)),
        },
        FileLayer::Dense {
            out, weights, bias, ..
        } => Op::Dense {
            out: *out,
            weights: param(weights, &c.name, "weights", Initializer::Xavier),
            bias: param(bias, &c.name, "bias", Initializer::Constant(0.0)),
        },
        FileLayer::MaxPool {
            window,
            stride,
            padding: p,
            ..
        } => Op::MaxPool {
            window: *window,
            stride: *stride,
            padding: padding(*p),
        },
        FileLayer::Lrn {
            depth_radius,
            bias,
            alpha,
            beta,
            ..
        } => Op::Lrn {
            depth_radius: *depth_radius,
            bias: *bias,
            alpha: *alpha,
            beta: *beta,
        },
    };
    let activation = match c.activation {
        FileActivation::Linear => Activation::Linear,
        FileActivation::Relu => Activation::Relu,
    };
    let pre_tag = match (c.pre_tag, activation) {
        (Some(t), _) => t,
        (None, Activation::Relu) => format!("{}/before_relu", c.name),
        (None, Activation::Linear) => String::new(),
    };
    Layer {
        tag: leak(c.tag.unwrap_or_else(|| format!("{}/output", c.name))),
        pre_tag: leak(pre_tag),
        name: leak(c.name),
        op,
        activation,
    }
}

/// The table of a parsed file, checked: names, initialisers, the loss's classes, and the
/// kernels' plan layer by layer (so the error names the first layer that does not fit).
fn build(f: FileNetwork, stem: String) -> Result<NetworkFile, String> {
    if f.layers.len() > MAX_LAYERS {
        return Err(format!(
            "layers: {} layers, at most {MAX_LAYERS} are supported",
            f.layers.len()
        ));
    }
    let layers: Vec<Layer> = f.layers.iter().map(layer).collect();
    check_names(&layers)?;
    let input = Input {
        h: f.input.height,
        w: f.input.width,
        c: f.input.channels,
        kind: match f.input.kind {
            FileKind::U8 => InputKind::U8,
            FileKind::F32 => InputKind::F32,
        },
    };
    let (loss, classes) = match f.loss {
        FileLoss::WeightedAbs => (Loss::WeightedAbs, None),
        FileLoss::Mse => (Loss::Mse, None),
        FileLoss::SoftmaxCrossEntropy { classes } => (Loss::SoftmaxCrossEntropy, Some(classes)),
    };
    let layers: &'static [Layer] = Box::leak(layers.into_boxed_slice());
    let network = Network {
        input,
        layers,
        loss,
        tile: f.tile,
    };
    if input.kind == InputKind::U8 && !matches!(layers.first().map(|l| l.op), Some(Op::Conv { .. }))
    {
        return Err(
            "layers[0]: a `u8` input must enter a `conv` layer (it normalises the bytes); use kind = \"f32\""
                .into(),
        );
    }
    // MSE constrains no output, so each prefix's plan fails only for its own layers.
    for i in 0..layers.len() {
        let prefix = Network {
            layers: &layers[..=i],
            loss: Loss::Mse,
            ..network
        };
        if let Err(e) = prefix.plan() {
            return Err(format!("layers[{i}] (`{}`): {e}", layers[i].name));
        }
    }
    let plan = network.plan().map_err(|e| format!("loss: {e}"))?;
    let outputs = plan.output_len();
    match (loss, classes) {
        (Loss::SoftmaxCrossEntropy, Some(k)) if k != outputs => {
            return Err(format!(
                "loss.classes: {k} classes, but the last layer `{}` has {outputs} outputs",
                layers[layers.len() - 1].name
            ))
        }
        (Loss::WeightedAbs, _) if outputs != 1 => {
            return Err(format!(
                "loss: `weighted-abs` needs one output, the last layer `{}` has {outputs}",
                layers[layers.len() - 1].name
            ))
        }
        _ => {}
    }
    Ok(NetworkFile {
        name: f.name.unwrap_or(stem),
        network,
    })
}

/// Layer names, parameter names and tags must each be unique (checkpoints, `.npy` files and
/// TensorBoard key on them) and non-empty; initialisers finite, σ positive.
fn check_names(layers: &[Layer]) -> Result<(), String> {
    let mut layer_names = HashSet::new();
    let mut param_names = HashSet::new();
    let mut tags = HashSet::new();
    for (i, l) in layers.iter().enumerate() {
        let at = |what: String| format!("layers[{i}] (`{}`): {what}", l.name);
        if l.name.is_empty() {
            return Err(format!("layers[{i}].name: must not be empty"));
        }
        if !layer_names.insert(l.name) {
            return Err(at("a second layer of this name".into()));
        }
        let mut layer_tags = vec![("tag", l.tag)];
        if l.activation == Activation::Relu {
            layer_tags.push(("pre_tag", l.pre_tag));
        }
        let params = match l.op {
            Op::Conv { weights, bias, .. } | Op::Dense { weights, bias, .. } => {
                vec![("weights", weights), ("bias", bias)]
            }
            Op::MaxPool { .. } | Op::Lrn { .. } => Vec::new(),
        };
        for (role, p) in &params {
            if p.name.is_empty() || p.name.contains(['/', '\\']) {
                return Err(at(format!(
                    "{role}.name {:?}: must be non-empty and hold no `/` (it names a .npy file)",
                    p.name
                )));
            }
            if !param_names.insert(p.name) {
                return Err(at(format!(
                    "{role}.name `{}` is used twice (each parameter is named once)",
                    p.name
                )));
            }
            layer_tags.push((
                if *role == "weights" {
                    "weights.tag"
                } else {
                    "bias.tag"
                },
                p.tag,
            ));
            let bad = match p.init {
                Initializer::Xavier => None,
                Initializer::Constant(c) => (!c.is_finite()).then_some(format!("constant {c}")),
                Initializer::TruncatedNormal { stddev } => (!(stddev.is_finite() && stddev > 0.0))
                    .then_some(format!("truncated_normal stddev {stddev}")),
            };
            if let Some(bad) = bad {
                return Err(at(format!(
                    "{role}.init: {bad} (must be finite, a stddev positive)"
                )));
            }
        }
        for (field, tag) in layer_tags {
            if tag.is_empty() {
                return Err(at(format!("{field}: must not be empty")));
            }
            if !tags.insert(tag) {
                return Err(at(format!(
                    "{field} `{tag}` is used twice (TensorBoard shows one chart per tag)"
                )));
            }
        }
    }
    Ok(())
}

/// The table as a file: every field written, names and tags included.
fn to_file(name: Option<&str>, net: &Network) -> FileNetwork {
    let file_param = |p: Param| FileParam {
        name: Some(p.name.to_owned()),
        tag: Some(p.tag.to_owned()),
        init: Some(match p.init {
            Initializer::Xavier => FileInit::Xavier,
            Initializer::Constant(c) => FileInit::Constant(c),
            Initializer::TruncatedNormal { stddev } => FileInit::TruncatedNormal { stddev },
        }),
    };
    let file_padding = |p: Padding| match p {
        Padding::Same => FilePadding::Same,
        Padding::Valid => FilePadding::Valid,
    };
    let layers = net
        .layers
        .iter()
        .map(|l| {
            let name = l.name.to_owned();
            let activation = match l.activation {
                Activation::Linear => FileActivation::Linear,
                Activation::Relu => FileActivation::Relu,
            };
            let tag = Some(l.tag.to_owned());
            // Written when it matters (a ReLU) or was set; a linear layer's is unused.
            let pre_tag = (l.activation == Activation::Relu || !l.pre_tag.is_empty())
                .then(|| l.pre_tag.to_owned());
            match l.op {
                Op::Conv {
                    kernel,
                    stride,
                    padding,
                    out,
                    weights,
                    bias,
                } => FileLayer::Conv {
                    name,
                    kernel,
                    stride,
                    padding: file_padding(padding),
                    out,
                    activation,
                    tag,
                    pre_tag,
                    weights: file_param(weights),
                    bias: file_param(bias),
                },
                Op::Dense { out, weights, bias } => FileLayer::Dense {
                    name,
                    out,
                    activation,
                    tag,
                    pre_tag,
                    weights: file_param(weights),
                    bias: file_param(bias),
                },
                Op::MaxPool {
                    window,
                    stride,
                    padding,
                } => FileLayer::MaxPool {
                    name,
                    window,
                    stride,
                    padding: file_padding(padding),
                    activation,
                    tag,
                    pre_tag,
                },
                Op::Lrn {
                    depth_radius,
                    bias,
                    alpha,
                    beta,
                } => FileLayer::Lrn {
                    name,
                    depth_radius,
                    bias,
                    alpha,
                    beta,
                    activation,
                    tag,
                    pre_tag,
                },
            }
        })
        .collect();
    let outputs = net.plan().map_or(0, |p| p.output_len());
    FileNetwork {
        name: name.map(str::to_owned),
        tile: net.tile,
        input: FileInput {
            height: net.input.h,
            width: net.input.w,
            channels: net.input.c,
            kind: match net.input.kind {
                InputKind::U8 => FileKind::U8,
                InputKind::F32 => FileKind::F32,
            },
        },
        loss: match net.loss {
            Loss::WeightedAbs => FileLoss::WeightedAbs,
            Loss::Mse => FileLoss::Mse,
            Loss::SoftmaxCrossEntropy => FileLoss::SoftmaxCrossEntropy { classes: outputs },
        },
        layers,
    }
}

/// What a checkpoint stores for `name`'s network `net`: `full` / `tiny` for the built-in
/// tables, else the table as one line of JSON.
pub fn description(name: &str, net: &Network) -> String {
    if *net == Network::FULL {
        "full".to_owned()
    } else if *net == Network::TINY {
        "tiny".to_owned()
    } else {
        // Serialising plain structs of numbers and strings cannot fail.
        serde_json::to_string(&to_file(Some(name), net)).unwrap_or_default()
    }
}

/// The network a checkpoint's [`description`] names.
///
/// # Errors
/// A [`NetworkFileError`] naming "the checkpoint's network" if the description is neither
/// `full`, `tiny` nor a valid table.
pub fn from_description(description: &str) -> Result<NetworkFile, NetworkFileError> {
    let builtin = |name: &str, network| NetworkFile {
        name: name.to_owned(),
        network,
    };
    match description {
        "full" => Ok(builtin("full", Network::FULL)),
        "tiny" => Ok(builtin("tiny", Network::TINY)),
        json => {
            let fail = |what| NetworkFileError {
                file: "the checkpoint's network".into(),
                what,
            };
            let parsed = parse_json(json)
                .map_err(|e| fail(format!("neither `full`, `tiny` nor a network table ({e})")))?;
            build(parsed, "network".to_owned()).map_err(fail)
        }
    }
}

/// `Ok` if the checkpoint's network `stored` and this run's `this` (both [`description`]s) are
/// the same table; names alone may differ.
///
/// # Errors
/// A one-line message naming both networks and summarising each.
pub fn check_same(stored: &str, this: &str) -> anyhow::Result<()> {
    if stored == this {
        return Ok(());
    }
    let this = from_description(this)?;
    let named = |f: &NetworkFile| format!("`{}` ({})", f.name, summary(&f.network));
    match from_description(stored) {
        Ok(s) if s.network == this.network => Ok(()),
        Ok(s) => anyhow::bail!(
            "the checkpoint is of the network {}, this run's is {}",
            named(&s),
            named(&this)
        ),
        Err(e) => anyhow::bail!("{e}; this run's network is {}", named(&this)),
    }
}

/// A one-line summary of `net` for messages: input, layer ops and outputs.
pub fn summary(net: &Network) -> String {
    let ops: Vec<&str> = net
        .layers
        .iter()
        .map(|l| match l.op {
            Op::Conv { .. } => "conv",
            Op::Dense { .. } => "dense",
            Op::MaxPool { .. } => "max-pool",
            Op::Lrn { .. } => "lrn",
        })
        .collect();
    let kind = match net.input.kind {
        InputKind::U8 => "u8",
        InputKind::F32 => "f32",
    };
    let outputs = net.plan().map_or(0, |p| p.output_len());
    format!(
        "{}×{}×{} {kind} → {} → {outputs}",
        net.input.h,
        net.input.w,
        net.input.c,
        ops.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernels::net::KWS;

    /// `net` as a TOML network file named `name` (every field written).
    fn to_toml(name: &str, net: &Network) -> Result<String, toml::ser::Error> {
        toml::to_string_pretty(&to_file(Some(name), net))
    }

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn the_built_in_tables_written_as_toml_and_json_parse_back_to_the_same_tables() {
        let dir = tempfile::tempdir().unwrap();
        for (name, net) in [
            ("full", Network::FULL),
            ("tiny", Network::TINY),
            ("kws", KWS),
        ] {
            let toml = write(
                dir.path(),
                &format!("{name}.toml"),
                &to_toml(name, &net).unwrap(),
            );
            let back = load(&toml).unwrap();
            assert_eq!(back.network, net, "{name} via TOML");
            assert_eq!(back.name, name);
            let json = serde_json::to_string_pretty(&to_file(None, &net)).unwrap();
            let json = write(dir.path(), &format!("{name}.json"), &json);
            assert_eq!(load(&json).unwrap().network, net, "{name} via JSON");
            // The checkpoint's description reads back too, without the file.
            let d = description(name, &net);
            assert_eq!(from_description(&d).unwrap().network, net, "{name}");
        }
        assert_eq!(description("x", &Network::TINY), "tiny");
        assert!(!description("kws", &KWS).contains('\n'));
    }

    #[test]
    fn the_committed_example_files_are_the_kernels_tables() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/networks");
        for (file, net) in [
            ("full.toml", Network::FULL),
            ("tiny.toml", Network::TINY),
            ("kws.toml", KWS),
        ] {
            let got = load(&dir.join(file)).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(got.network, net, "{file}");
        }
    }

    fn error_of(name: &str, text: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        load(&write(dir.path(), name, text))
            .unwrap_err()
            .to_string()
    }

    const KWS_HEAD: &str = "tile = 16\ninput = { height = 49, width = 10, channels = 1, kind = \"f32\" }\nloss = { kind = \"softmax-cross-entropy\", classes = 12 }\n";

    #[test]
    fn a_bad_file_is_refused_naming_the_file_the_field_and_the_line() {
        // A misspelt field: serde's path and the line.
        let e = error_of(
            "n.toml",
            &format!("{KWS_HEAD}[[layers]]\nop = \"conv\"\nname = \"c\"\nkernal = [3, 3]\n"),
        );
        assert!(e.contains("n.toml: layers[0]"), "{e}");
        assert!(e.contains("unknown field `kernal`"), "{e}");
        assert!(!e.contains('\n'), "{e}");
        // An unknown op.
        let e = error_of(
            "n.toml",
            &format!("{KWS_HEAD}[[layers]]\nop = \"convv\"\nname = \"c\"\n"),
        );
        assert!(e.contains("layers[0]") && e.contains("convv"), "{e}");
        // A wrong type, with its line.
        let e = error_of("n.toml", "tile = \"big\"\n");
        assert!(e.contains("tile") && e.contains("line 1"), "{e}");
        // TOML syntax.
        let e = error_of("n.toml", "tile = \n");
        assert!(e.contains("n.toml: ") && e.contains("line 1"), "{e}");
        // JSON, with serde_json's line and column.
        let e = error_of("n.json", "{\"tile\": 16,\n \"input\": 3}");
        assert!(
            e.contains("n.json: input: invalid type") && e.contains("line 2"),
            "{e}"
        );
        // A layer that does not fit its input: the plan's error, naming the layer.
        let e = error_of(
            "n.toml",
            &format!("{KWS_HEAD}[[layers]]\nop = \"max-pool\"\nname = \"p\"\nwindow = [60, 2]\npadding = \"valid\"\n"),
        );
        assert!(
            e.contains("layers[0] (`p`)") && e.contains("at least 60"),
            "{e}"
        );
        // Classes that are not the last layer's outputs.
        let e = error_of(
            "n.toml",
            &format!("{KWS_HEAD}[[layers]]\nop = \"dense\"\nname = \"d\"\nout = 10\n"),
        );
        assert!(
            e.contains("loss.classes: 12 classes") && e.contains("10 outputs"),
            "{e}"
        );
        // Two layers of one name, and a missing file.
        let e = error_of(
            "n.toml",
            &format!("{KWS_HEAD}[[layers]]\nop = \"dense\"\nname = \"d\"\nout = 12\n[[layers]]\nop = \"dense\"\nname = \"d\"\nout = 12\n"),
        );
        assert!(e.contains("layers[1] (`d`): a second layer"), "{e}");
        let e = load(Path::new("/nonexistent/n.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("/nonexistent/n.toml: cannot read it"), "{e}");
    }

    #[test]
    fn left_out_names_take_the_kws_tables_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "name = \"mini\"\n{KWS_HEAD}[[layers]]\nop = \"conv\"\nname = \"conv1\"\nkernel = [10, 4]\nstride = [2, 2]\npadding = \"same\"\nout = 16\nactivation = \"relu\"\n[[layers]]\nop = \"dense\"\nname = \"logits\"\nout = 12\n"
        );
        let got = load(&write(dir.path(), "x.toml", &text)).unwrap();
        assert_eq!(got.name, "mini");
        assert_eq!(got.network.layers[0], KWS.layers[0]);
        assert_eq!(got.network.layers[1], KWS.layers[3]);
        assert_eq!(summary(&got.network), "49×10×1 f32 → conv, dense → 12");
    }

    #[test]
    fn a_resume_accepts_the_same_table_under_another_name_and_refuses_another_table() {
        check_same(&description("kws", &KWS), &description("renamed", &KWS)).unwrap();
        check_same("tiny", "tiny").unwrap();
        let e = check_same(&description("kws", &KWS), "tiny")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "the checkpoint is of the network `kws` (49×10×1 f32 → conv, conv, max-pool, dense → 12), \
             this run's is `tiny` (64×64×3 u8 → conv, lrn, max-pool, conv, lrn, max-pool, conv, \
             conv, conv, max-pool, dense, dense, dense → 1)"
        );
        let e = check_same("huge", "tiny").unwrap_err().to_string();
        assert!(
            e.starts_with("the checkpoint's network: neither `full`, `tiny` nor"),
            "{e}"
        );
    }
}
