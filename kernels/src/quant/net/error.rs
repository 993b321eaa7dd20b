//! Why a model file was refused.

use core::fmt;

use crate::KernelError;

/// Why [`QuantModel::parse`](super::QuantModel::parse) refused a model file, or
/// [`quantize_model`](super::quantize_model) could not write one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ModelError {
    /// The file is shorter than its fixed header, or than the length its header implies.
    Truncated {
        /// Bytes needed.
        expected: usize,
        /// Bytes present.
        got: usize,
    },
    /// The file is longer than its header says.
    TrailingBytes {
        /// Bytes the header implies.
        expected: usize,
        /// Bytes present.
        got: usize,
    },
    /// The first four bytes are not `VQ8M`: not a Valence int8 model.
    BadMagic {
        /// The bytes found.
        found: [u8; 4],
    },
    /// A format version this code does not read.
    UnsupportedVersion {
        /// The file's version.
        found: u16,
        /// The version this code reads.
        supported: u16,
    },
    /// The header length field is not the one of this version.
    HeaderLength {
        /// The value found.
        found: u16,
    },
    /// The network the model is checked against is no valid network.
    Config(KernelError),
    /// The model has another number of layers than the network.
    LayerCount {
        /// The model's.
        found: usize,
        /// The network's.
        expected: usize,
    },
    /// The model's input (shape or kind) differs from the network's.
    OtherInput,
    /// One of the model's layers differs from the network's (op, sizes or activation).
    OtherLayer {
        /// Its position in the table.
        index: usize,
        /// The network's name for it.
        name: &'static str,
    },
    /// The payload length field disagrees with the one the network implies.
    PayloadLength {
        /// Implied by the network.
        expected: usize,
        /// Declared in the header.
        declared: usize,
    },
    /// The stored CRC-32 differs from the one of the contents: the file is corrupt.
    Checksum {
        /// Stored at the end of the file.
        stored: u32,
        /// Computed over the header and payload.
        computed: u32,
    },
    /// A quantisation value is unusable (e.g. a non-positive scale, a zero point outside int8,
    /// a rescaling multiplier out of range).
    InvalidQuant {
        /// The layer's name in the table, or `input`.
        tensor: &'static str,
        /// Which value.
        what: &'static str,
    },
    /// A parameter to quantise is not finite.
    NonFinite {
        /// The layer's name in the table.
        layer: &'static str,
    },
    /// A caller-provided argument is unusable (a wrong slice length, …).
    Argument(KernelError),
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Truncated { expected, got } => write!(
                f,
                "the model file is truncated: {got} bytes, at least {expected} needed"
            ),
            Self::TrailingBytes { expected, got } => write!(
                f,
                "the model file has {got} bytes, its header implies {expected}"
            ),
            Self::BadMagic { found } => write!(
                f,
                "not a Valence int8 model (magic {found:02x?}, expected \"VQ8M\")"
            ),
            Self::UnsupportedVersion { found, supported } => write!(
                f,
                "unsupported model format version {found} (this build reads version {supported})"
            ),
            Self::HeaderLength { found } => {
                write!(
                    f,
                    "the model header length is {found}, expected {}",
                    super::HEADER_LEN
                )
            }
            Self::Config(e) => write!(f, "the network is invalid: {e}"),
            Self::LayerCount { found, expected } => write!(
                f,
                "the model is for another network: {found} layers, this network has {expected}"
            ),
            Self::OtherInput => write!(
                f,
                "the model is for another network: its input differs from this network's"
            ),
            Self::OtherLayer { index, name } => write!(
                f,
                "the model is for another network: its layer {index} differs from this network's `{name}`"
            ),
            Self::PayloadLength { expected, declared } => write!(
                f,
                "the model header declares a {declared}-byte payload, the network needs {expected}"
            ),
            Self::Checksum { stored, computed } => write!(
                f,
                "the model file is corrupt: CRC-32 {computed:08x}, stored {stored:08x}"
            ),
            Self::InvalidQuant { tensor, what } => {
                write!(f, "the model's `{tensor}` has an invalid {what}")
            }
            Self::NonFinite { layer } => {
                write!(f, "layer `{layer}` has a non-finite parameter")
            }
            Self::Argument(e) => write!(f, "{e}"),
        }
    }
}

impl core::error::Error for ModelError {}

impl From<KernelError> for ModelError {
    fn from(e: KernelError) -> Self {
        Self::Argument(e)
    }
}
