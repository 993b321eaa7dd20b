//! The protobuf messages of an event file, declared with `prost`'s derive (no `protoc`, no build
//! script), keeping only the fields Valence writes.
//!
//! Field numbers follow TensorBoard's `tensorboard/compat/proto/{event,summary,histogram,tensor,
//! tensor_shape,types}.proto`, checked against the descriptors of the `tensorboard` 2.21.0 Python
//! package. Fields that the `.proto` files put in a `oneof` are a Rust enum here, as `prost-build`
//! would make them: proto3 omits a plain field equal to its default, but a `oneof` member is
//! written even when zero, so a scalar of `0.0` still reaches the file. Fields are declared in
//! field-number order, so `encode_to_vec` gives the same bytes as TensorFlow's writers.
//!
//! Names follow `prost-build`'s convention: a nested message `Summary.Value` is
//! [`summary::Value`], and so on.

/// One record's payload: a time, a step and one thing that happened (`event.proto`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Event {
    /// Seconds since the Unix epoch, with a fraction.
    #[prost(double, tag = "1")]
    pub wall_time: f64,
    /// The training step the event belongs to.
    #[prost(int64, tag = "2")]
    pub step: i64,
    /// What happened (`oneof what`).
    #[prost(oneof = "event::What", tags = "3, 5, 7")]
    pub what: Option<event::What>,
}

/// [`Event`]'s nested types.
pub mod event {
    /// `Event.what`: the members Valence writes.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum What {
        /// The file's format version, `"brain.Event:2"`, in the first record of every file.
        #[prost(string, tag = "3")]
        FileVersion(String),
        /// Summary values: scalars, histograms, images.
        #[prost(message, tag = "5")]
        Summary(super::Summary),
        /// A session marker; `START` makes loaders drop data at this step and later.
        #[prost(message, tag = "7")]
        SessionLog(super::SessionLog),
    }
}

/// A session marker (`event.proto`, `SessionLog`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct SessionLog {
    /// A [`session_log::SessionStatus`].
    #[prost(enumeration = "session_log::SessionStatus", tag = "1")]
    pub status: i32,
    /// Path of the checkpoint, for `CHECKPOINT`.
    #[prost(string, tag = "2")]
    pub checkpoint_path: String,
    /// Free text.
    #[prost(string, tag = "3")]
    pub msg: String,
}

/// [`SessionLog`]'s nested types.
pub mod session_log {
    /// `SessionLog.SessionStatus`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum SessionStatus {
        /// Not set.
        StatusUnspecified = 0,
        /// A (re)start: loaders purge every event at this step or later that came before it.
        Start = 1,
        /// A clean stop.
        Stop = 2,
        /// A checkpoint was written.
        Checkpoint = 3,
    }
}

/// A set of tagged values (`summary.proto`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Summary {
    /// The values, each with its own tag.
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<summary::Value>,
}

/// [`Summary`]'s nested types.
pub mod summary {
    /// One tagged value (`Summary.Value`).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Value {
        /// The name the chart shows, e.g. `loss` or `conv1/weights`.
        #[prost(string, tag = "1")]
        pub tag: String,
        /// The value itself (`oneof value`).
        #[prost(oneof = "value::Kind", tags = "2, 4, 5, 8")]
        pub kind: Option<value::Kind>,
        /// Which plugin reads a `tensor` value, and how.
        #[prost(message, optional, tag = "9")]
        pub metadata: Option<super::SummaryMetadata>,
    }

    /// [`Value`]'s nested types.
    pub mod value {
        /// `Summary.Value.value`: the members Valence writes.
        #[derive(Clone, PartialEq, prost::Oneof)]
        pub enum Kind {
            /// A v1 scalar, read by every loader.
            #[prost(float, tag = "2")]
            SimpleValue(f32),
            /// A v1 image.
            #[prost(message, tag = "4")]
            Image(super::Image),
            /// A v1 histogram.
            #[prost(message, tag = "5")]
            Histo(super::super::HistogramProto),
            /// A v2 tensor summary (histograms as `[k, 3]` doubles).
            #[prost(message, tag = "8")]
            Tensor(super::super::TensorProto),
        }
    }

    /// An encoded image (`Summary.Image`).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Image {
        /// Height in pixels.
        #[prost(int32, tag = "1")]
        pub height: i32,
        /// Width in pixels.
        #[prost(int32, tag = "2")]
        pub width: i32,
        /// Channels: 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA.
        #[prost(int32, tag = "3")]
        pub colorspace: i32,
        /// The PNG (or JPEG) file's bytes.
        #[prost(bytes = "vec", tag = "4")]
        pub encoded_image_string: Vec<u8>,
    }
}

/// A v1 histogram (`histogram.proto`): `bucket[i]` values below `bucket_limit[i]`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HistogramProto {
    /// Smallest value.
    #[prost(double, tag = "1")]
    pub min: f64,
    /// Largest value.
    #[prost(double, tag = "2")]
    pub max: f64,
    /// Number of values.
    #[prost(double, tag = "3")]
    pub num: f64,
    /// Sum of the values.
    #[prost(double, tag = "4")]
    pub sum: f64,
    /// Sum of their squares.
    #[prost(double, tag = "5")]
    pub sum_squares: f64,
    /// Right edge of each bucket, strictly increasing (packed).
    #[prost(double, repeated, tag = "6")]
    pub bucket_limit: Vec<f64>,
    /// Count of each bucket (packed).
    #[prost(double, repeated, tag = "7")]
    pub bucket: Vec<f64>,
}

/// Which plugin owns a summary value (`summary.proto`, `SummaryMetadata`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct SummaryMetadata {
    /// The plugin and its private data.
    #[prost(message, optional, tag = "1")]
    pub plugin_data: Option<summary_metadata::PluginData>,
    /// A [`DataClass`]: how the data server stores the value.
    #[prost(enumeration = "DataClass", tag = "4")]
    pub data_class: i32,
}

/// [`SummaryMetadata`]'s nested types.
pub mod summary_metadata {
    /// `SummaryMetadata.PluginData`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PluginData {
        /// `"histograms"`, `"scalars"`, `"images"`, …
        #[prost(string, tag = "1")]
        pub plugin_name: String,
        /// The plugin's own serialized metadata (empty for histograms).
        #[prost(bytes = "vec", tag = "2")]
        pub content: Vec<u8>,
    }
}

/// `summary.proto`'s `DataClass`: how the data server indexes a tensor summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum DataClass {
    /// Not set: the server falls back on the plugin name.
    Unknown = 0,
    /// A rank-0 numeric tensor per step.
    Scalar = 1,
    /// Any tensor per step (histograms).
    Tensor = 2,
    /// A sequence of blobs per step (images).
    BlobSequence = 3,
}

/// `types.proto`'s `DataType`, the members Valence writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum DataType {
    /// Not a type.
    DtInvalid = 0,
    /// `float32`.
    DtFloat = 1,
    /// `float64`.
    DtDouble = 2,
}

/// A dense tensor (`tensor.proto`), its elements as raw little-endian bytes in row-major order.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorProto {
    /// A [`DataType`].
    #[prost(enumeration = "DataType", tag = "1")]
    pub dtype: i32,
    /// The shape.
    #[prost(message, optional, tag = "2")]
    pub tensor_shape: Option<TensorShapeProto>,
    /// The elements, little-endian, row-major.
    #[prost(bytes = "vec", tag = "4")]
    pub tensor_content: Vec<u8>,
}

/// A tensor's shape (`tensor_shape.proto`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorShapeProto {
    /// The dimensions, outermost first.
    #[prost(message, repeated, tag = "2")]
    pub dim: Vec<tensor_shape_proto::Dim>,
}

/// [`TensorShapeProto`]'s nested types.
pub mod tensor_shape_proto {
    /// One dimension.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Dim {
        /// Its size.
        #[prost(int64, tag = "1")]
        pub size: i64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn file_version_event_matches_tensorboard_md() {
        let event = Event {
            wall_time: 1.0,
            step: 0,
            what: Some(event::What::FileVersion("brain.Event:2".into())),
        };
        let data = event.encode_to_vec();
        assert_eq!(
            data,
            unhex("09000000000000f03f1a0d627261696e2e4576656e743a32")
        );
        // And framed, the whole record of TENSORBOARD.md.
        assert_eq!(
            super::super::record::encode_record(&data),
            unhex("1800000000000000 a37f4b22 09000000000000f03f1a0d627261696e2e4576656e743a32 86bf577a")
        );
    }

    #[test]
    fn scalar_event_matches_tensorboard_md() {
        let event = Event {
            wall_time: 1.0,
            step: 1,
            what: Some(event::What::Summary(Summary {
                value: vec![summary::Value {
                    tag: "loss".into(),
                    kind: Some(summary::value::Kind::SimpleValue(0.5)),
                    metadata: None,
                }],
            })),
        };
        assert_eq!(
            super::super::record::encode_record(&event.encode_to_vec()),
            unhex("1a00000000000000 129bd82d 09000000000000f03f10012a0d0a0b0a046c6f7373150000003f 27f95db1")
        );
    }

    #[test]
    fn zero_scalar_is_still_written() {
        // A oneof member is present even at its default: `0.0` must not vanish from the file.
        let v = summary::Value {
            tag: "x".into(),
            kind: Some(summary::value::Kind::SimpleValue(0.0)),
            metadata: None,
        };
        // 0a 01 'x' | 15 (field 2, fixed32) 00000000
        assert_eq!(v.encode_to_vec(), unhex("0a0178 1500000000"));
    }

    #[test]
    fn session_start_uses_field_7() {
        let event = Event {
            wall_time: 0.0,
            step: 3,
            what: Some(event::What::SessionLog(SessionLog {
                status: session_log::SessionStatus::Start as i32,
                ..Default::default()
            })),
        };
        // 10 03 (step 3) | 3a (field 7, length-delimited) 02 | 08 01 (status START)
        assert_eq!(event.encode_to_vec(), unhex("1003 3a02 0801"));
    }

    #[test]
    fn doubles_are_packed() {
        let h = HistogramProto {
            bucket_limit: vec![1.0, 2.0],
            ..Default::default()
        };
        // 32 (field 6, length-delimited) 10 (16 bytes) then two LE doubles.
        assert_eq!(
            h.encode_to_vec(),
            unhex("3210 000000000000f03f 0000000000000040")
        );
    }
}
