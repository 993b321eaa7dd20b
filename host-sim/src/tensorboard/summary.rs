//! Summary values as TensorBoard expects them: a v1 scalar, a v2 histogram tensor, a PNG image.
//!
//! Each builder returns one [`summary::Value`]; [`EventWriter`](super::EventWriter) wraps values
//! in an [`Event`](super::proto::Event) and frames it.

use std::io;

use image::ImageEncoder;
use kernels::histogram::Histogram;

use super::proto::summary::{self, value::Kind};
use super::proto::summary_metadata::PluginData;
use super::proto::tensor_shape_proto::Dim;
use super::proto::{DataClass, DataType, SummaryMetadata, TensorProto, TensorShapeProto};

/// The plugin that draws histogram tensors (the Histograms and Distributions tabs).
pub const HISTOGRAMS_PLUGIN: &str = "histograms";
/// `Summary.Image.colorspace` for RGB.
pub const COLORSPACE_RGB: i32 = 3;

/// A v1 scalar (`simple_value`), which every loader reads. NaN and ±inf are written as they are:
/// TensorBoard draws them as such, and a NaN loss is news the user must see.
pub fn scalar(tag: &str, value: f32) -> summary::Value {
    summary::Value {
        tag: tag.to_owned(),
        kind: Some(Kind::SimpleValue(value)),
        metadata: None,
    }
}

/// `hist` as a v2 histogram: metadata `plugin_name: "histograms"`, `data_class: TENSOR`, and a
/// `DT_DOUBLE` tensor of shape `[k, 3]` holding [`Histogram::rows`] (`[left, right, count]`,
/// trimmed, first left = min, last right = max) — identical under both TensorBoard loaders.
///
/// `None` when `hist` holds no finite value: nothing is worth drawing, and an empty tensor only
/// adds a gap. The rows are finite by construction (the histogram counts NaN and ±inf apart);
/// report [`Histogram::non_finite`] as a scalar next to it if it can be non-zero.
pub fn histogram(tag: &str, hist: &Histogram) -> Option<summary::Value> {
    let rows = hist.rows();
    let k = rows.len();
    if k == 0 {
        return None;
    }
    let mut content = Vec::with_capacity(k * 3 * 8);
    for row in rows {
        // TENSORBOARD.md: one NaN or inf in a histogram breaks the whole tag for good.
        debug_assert!(row.iter().all(|x| x.is_finite()), "row {row:?}");
        for x in row {
            content.extend_from_slice(&x.to_le_bytes());
        }
    }
    // k ≤ BUCKETS (1551), far inside i64.
    let dims = [k as i64, 3];
    Some(summary::Value {
        tag: tag.to_owned(),
        kind: Some(Kind::Tensor(TensorProto {
            dtype: DataType::DtDouble as i32,
            tensor_shape: Some(TensorShapeProto {
                dim: dims.iter().map(|&size| Dim { size }).collect(),
            }),
            tensor_content: content,
        })),
        metadata: Some(SummaryMetadata {
            plugin_data: Some(PluginData {
                plugin_name: HISTOGRAMS_PLUGIN.to_owned(),
                content: Vec::new(),
            }),
            data_class: DataClass::Tensor as i32,
        }),
    })
}

/// An RGB image, `rgb` row-major `[height][width][3]`, as a v1 image summary holding a PNG.
///
/// # Errors
/// [`io::ErrorKind::InvalidInput`] if `rgb.len() != width · height · 3`, a side is zero, or a
/// side exceeds `i32::MAX` (the proto's field type); any PNG encoder failure as
/// [`io::ErrorKind::Other`].
pub fn image(tag: &str, width: u32, height: u32, rgb: &[u8]) -> io::Result<summary::Value> {
    let invalid = |msg: String| io::Error::new(io::ErrorKind::InvalidInput, msg);
    let (w, h) = match (i32::try_from(width), i32::try_from(height)) {
        (Ok(w), Ok(h)) if w > 0 && h > 0 => (w, h),
        _ => return Err(invalid(format!("image {tag}: bad size {width}×{height}"))),
    };
    let expected = u64::from(width) * u64::from(height) * 3;
    if rgb.len() as u64 != expected {
        return Err(invalid(format!(
            "image {tag}: {width}×{height} RGB needs {expected} bytes, got {}",
            rgb.len()
        )));
    }
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(rgb, width, height, image::ExtendedColorType::Rgb8)
        .map_err(io::Error::other)?;
    Ok(summary::Value {
        tag: tag.to_owned(),
        kind: Some(Kind::Image(summary::Image {
            height: h,
            width: w,
            colorspace: COLORSPACE_RGB,
            encoded_image_string: png,
        })),
        metadata: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows_of(value: &summary::Value) -> Vec<[f64; 3]> {
        let Some(Kind::Tensor(t)) = &value.kind else {
            panic!("not a tensor: {value:?}")
        };
        let dims: Vec<i64> = t
            .tensor_shape
            .as_ref()
            .unwrap()
            .dim
            .iter()
            .map(|d| d.size)
            .collect();
        assert_eq!(dims.len(), 2);
        assert_eq!(dims[1], 3);
        assert_eq!(t.tensor_content.len() as i64, dims[0] * 24);
        t.tensor_content
            .chunks_exact(24)
            .map(|c| {
                let f = |i: usize| f64::from_le_bytes(c[8 * i..8 * i + 8].try_into().unwrap());
                [f(0), f(1), f(2)]
            })
            .collect()
    }

    #[test]
    fn histogram_tensor_holds_the_rows() {
        let mut h = Box::new(Histogram::new());
        h.add_slice(&[-2.0, 0.5, 0.5, 3.0]);
        let v = histogram("w", &h).unwrap();
        assert_eq!(v.tag, "w");
        let meta = v.metadata.as_ref().unwrap();
        assert_eq!(meta.data_class, 2);
        let plugin = meta.plugin_data.as_ref().unwrap();
        assert_eq!(plugin.plugin_name, "histograms");
        assert!(plugin.content.is_empty());
        let Some(Kind::Tensor(t)) = &v.kind else {
            unreachable!()
        };
        assert_eq!(t.dtype, 2, "DT_DOUBLE");
        let rows = rows_of(&v);
        assert_eq!(rows, h.rows().collect::<Vec<_>>());
        assert_eq!(rows[0][0], -2.0);
        assert_eq!(rows.last().unwrap()[1], 3.0);
        assert_eq!(rows.iter().map(|r| r[2]).sum::<f64>(), 4.0);
    }

    #[test]
    fn nan_never_reaches_the_tensor() {
        let mut h = Box::new(Histogram::new());
        h.add_slice(&[f32::NAN, 1.0, f32::INFINITY, -1.0, f32::NEG_INFINITY]);
        assert_eq!(h.non_finite(), 3);
        let rows = rows_of(&histogram("w", &h).unwrap());
        assert!(rows.iter().flatten().all(|x| x.is_finite()), "{rows:?}");
        assert_eq!(rows.iter().map(|r| r[2]).sum::<f64>(), 2.0);
        assert_eq!((rows[0][0], rows.last().unwrap()[1]), (-1.0, 1.0));
    }

    #[test]
    fn empty_or_all_nan_histogram_gives_nothing() {
        assert!(histogram("w", &Histogram::new()).is_none());
        let mut h = Box::new(Histogram::new());
        h.add_slice(&[f32::NAN, f32::INFINITY]);
        assert!(histogram("w", &h).is_none());
    }

    #[test]
    fn image_is_a_png_of_the_right_size() {
        let (w, h) = (5u32, 3u32);
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| (i * 7) as u8).collect();
        let v = image("frame", w, h, &rgb).unwrap();
        let Some(Kind::Image(img)) = &v.kind else {
            panic!("{v:?}")
        };
        assert_eq!((img.width, img.height, img.colorspace), (5, 3, 3));
        let decoded =
            image::load_from_memory_with_format(&img.encoded_image_string, image::ImageFormat::Png)
                .unwrap()
                .to_rgb8();
        assert_eq!(decoded.dimensions(), (w, h));
        assert_eq!(decoded.as_raw(), &rgb);
    }

    #[test]
    fn image_refuses_wrong_lengths_and_sizes() {
        for (w, h, len) in [(2, 2, 11), (2, 2, 13), (0, 2, 0), (1u32 << 31, 1, 0)] {
            let err = image("x", w, h, &vec![0; len]).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{w}×{h} {len}");
        }
    }
}
