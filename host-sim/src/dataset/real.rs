//! A directory of real frames: `labels.csv` plus the PNG/JPEG files it names.
//!
//! # `labels.csv`
//! ```text
//! file,valence,confidence
//! # a comment
//! happy/0001.png,0.8,1.0
//! sad/0002.jpg,-0.6,0.5
//! ```
//! * Three comma-separated columns: the frame's path relative to the directory, its valence in
//!   [−1, 1] and a confidence weight in (0, 1]. Spaces around a field are ignored; quoting is not
//!   supported, so a file name cannot contain a comma or a double quote.
//! * The header line `file,valence,confidence` is optional: when present it must be the first
//!   line that is not blank or a comment.
//! * For a classification network (softmax cross-entropy over `K` classes) the columns are
//!   `file,class` instead: the class index, a whole number in `0..K` (header `file,class`).
//! * Blank lines and lines starting with `#` are skipped; `\r\n` endings and a UTF-8 byte-order
//!   mark are accepted.
//! * A file is named once: a row repeating an earlier row's file (same labels or conflicting
//!   ones) is refused, as is an absolute path or one that leaves the directory through `..`.
//!
//! The format of a frame is read from its content, not its extension. Frames may have any size
//! and channel count (grayscale, RGB, RGBA; square or not). Each is converted to the network's
//! channels — 1: luma (the `image` crate's Rec. 709 weights, 0.2126 R + 0.7152 G + 0.0722 B);
//! 3: RGB (gray replicated, alpha dropped); 4: RGBA (opaque alpha added) — and resized to the
//! network's `h × w` (stretched, as `tf.image.resize` does, with a triangle filter), then kept as
//! `h·w·c` bytes in HWC order. Frames are decoded in parallel on the
//! current rayon pool; the first error in file order is the one reported, whatever the thread
//! count, and every error names the file and, where it applies, the line of `labels.csv`.

use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use rayon::prelude::*;

/// The labels file every data directory must hold.
pub const LABELS_FILE: &str = "labels.csv";
const HEADER: [&str; 3] = ["file", "valence", "confidence"];
const CLASS_HEADER: [&str; 2] = ["file", "class"];

/// Why a data directory could not be loaded. Each message is one line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The directory has no `labels.csv`.
    #[error(
        "{0} not found: a data directory needs labels.csv with the columns file,valence,confidence"
    )]
    MissingLabels(PathBuf),
    /// `labels.csv` could not be read.
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A line of `labels.csv` is malformed.
    #[error("{path}:{line}: {reason}")]
    Row {
        /// `labels.csv`'s path.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A frame named by `labels.csv` does not exist.
    #[error("{file} not found (named at {csv}:{line})")]
    MissingFile {
        /// The frame's path.
        file: PathBuf,
        /// `labels.csv`'s path.
        csv: PathBuf,
        /// 1-based line number.
        line: usize,
    },
    /// A frame could not be read or decoded.
    #[error("{file} (named at {csv}:{line}) cannot be read as an image")]
    Image {
        /// The frame's path.
        file: PathBuf,
        /// `labels.csv`'s path.
        csv: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The decoder's error.
        source: image::ImageError,
    },
    /// `labels.csv` names no frame.
    #[error("{0} lists no frames")]
    Empty(PathBuf),
    /// The network's input has a channel count no image converts to.
    #[error("{dir}: frames convert to 1 (gray), 3 (RGB) or 4 (RGBA) channels; the network's input has {channels}")]
    Channels {
        /// The data directory.
        dir: PathBuf,
        /// The network's input channels.
        channels: usize,
    },
}

/// One labelled frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// The frame's path as written in `labels.csv` (relative to the data directory).
    pub file: String,
    /// `h · w · c` bytes, HWC order.
    pub pixels: Vec<u8>,
    /// The label, in [−1, 1] (0 for a classification row).
    pub valence: f32,
    /// The example's weight in the loss, in (0, 1] (1 for a classification row).
    pub confidence: f32,
    /// The class index of a classification row.
    pub class: Option<u32>,
}

/// The frames a network reads: `h × w` pixels of `c` channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameShape {
    /// Rows.
    pub h: usize,
    /// Columns.
    pub w: usize,
    /// Channels: 1 (gray), 3 (RGB) or 4 (RGBA).
    pub c: usize,
}

impl FrameShape {
    /// A square RGB frame of `side` pixels (the valence networks').
    pub const fn square_rgb(side: usize) -> Self {
        Self {
            h: side,
            w: side,
            c: 3,
        }
    }
}

/// Every frame of a data directory, in `labels.csv` order.
#[derive(Debug, Clone, PartialEq)]
pub struct RealDataset {
    /// The shape of every frame.
    pub shape: FrameShape,
    /// The frames, in the order `labels.csv` lists them.
    pub examples: Vec<Example>,
}

/// A parsed row of `labels.csv`.
struct Row {
    line: usize,
    file: String,
    valence: f32,
    confidence: f32,
    class: Option<u32>,
}

/// Loads `dir/labels.csv` and every frame it names, converted to `shape`'s channels and
/// resized to its `h × w`. `classes` is `Some(K)` for a classification network: rows are then
/// `file,class` with a class in `0..K`.
///
/// # Errors
/// A [`DataError`] naming the file (and line of `labels.csv`) of the first problem: no
/// `labels.csv`, a malformed row (a class out of range included), a missing or undecodable
/// frame, or no frame at all; [`DataError::Channels`] for a channel count other than 1, 3, 4.
///
/// # Panics
/// If `shape.h` or `shape.w` is 0 or does not fit in a `u32` (a validated network's never is).
pub fn load_dir(
    dir: &Path,
    shape: FrameShape,
    classes: Option<usize>,
) -> Result<RealDataset, DataError> {
    let side = |n: usize| {
        u32::try_from(n)
            .ok()
            .filter(|&s| s > 0)
            .expect("frame size in 1..=u32::MAX")
    };
    let size = (side(shape.w), side(shape.h));
    if ![1, 3, 4].contains(&shape.c) {
        return Err(DataError::Channels {
            dir: dir.to_path_buf(),
            channels: shape.c,
        });
    }
    let csv = dir.join(LABELS_FILE);
    let text = match std::fs::read(&csv) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|_| DataError::Row {
            path: csv.clone(),
            line: 1,
            reason: "not UTF-8 text".into(),
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(DataError::MissingLabels(csv))
        }
        Err(source) => return Err(DataError::Io { path: csv, source }),
    };
    let rows = parse_labels(&text, classes).map_err(|(line, reason)| DataError::Row {
        path: csv.clone(),
        line,
        reason,
    })?;
    if rows.is_empty() {
        return Err(DataError::Empty(csv));
    }
    // Every frame is attempted and the results kept in order, so the error reported is the
    // first in file order whatever the scheduling.
    let results: Vec<Result<Example, DataError>> = rows
        .into_par_iter()
        .map(|row| load_frame(dir, &csv, size, shape.c, row))
        .collect();
    let examples = results.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(RealDataset { shape, examples })
}

/// `img` resized to `(w, h)` unless it has that size already.
fn fit<P: image::Pixel<Subpixel = u8> + 'static>(
    img: image::ImageBuffer<P, Vec<u8>>,
    (w, h): (u32, u32),
) -> Vec<u8> {
    if img.dimensions() == (w, h) {
        img.into_raw()
    } else {
        image::imageops::resize(&img, w, h, FilterType::Triangle).into_raw()
    }
}

fn load_frame(
    dir: &Path,
    csv: &Path,
    size: (u32, u32),
    channels: usize,
    row: Row,
) -> Result<Example, DataError> {
    let path = dir.join(&row.file);
    let image_error = |source| DataError::Image {
        file: path.clone(),
        csv: csv.to_path_buf(),
        line: row.line,
        source,
    };
    let reader = match image::ImageReader::open(&path) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(DataError::MissingFile {
                file: path,
                csv: csv.to_path_buf(),
                line: row.line,
            })
        }
        Err(e) => return Err(image_error(image::ImageError::IoError(e))),
    };
    let decoded = reader
        .with_guessed_format()
        .map_err(|e| image_error(image::ImageError::IoError(e)))?
        .decode()
        .map_err(image_error)?;
    // Converted first, then resized: what `tf.image.rgb_to_grayscale` then `resize` does.
    let pixels = match channels {
        1 => fit(decoded.to_luma8(), size),
        4 => fit(decoded.to_rgba8(), size),
        _ => fit(decoded.to_rgb8(), size),
    };
    Ok(Example {
        file: row.file,
        pixels,
        valence: row.valence,
        confidence: row.confidence,
        class: row.class,
    })
}

/// Parses the text of `labels.csv` into rows, or `(line, reason)` for the first bad line.
fn parse_labels(text: &str, classes: Option<usize>) -> Result<Vec<Row>, (usize, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rows: Vec<Row> = Vec::new();
    // The file's path without `.` components → the index of its row.
    let mut seen = std::collections::HashMap::new();
    let mut first = true;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = trimmed.split(',').map(str::trim).collect();
        let header: &[&str] = if classes.is_some() {
            &CLASS_HEADER
        } else {
            &HEADER
        };
        let is_header = first
            && fields.len() == header.len()
            && fields
                .iter()
                .zip(header)
                .all(|(f, h)| f.eq_ignore_ascii_case(h));
        first = false;
        if is_header {
            continue;
        }
        let row = match classes {
            Some(k) => parse_class_row(line, &fields, k),
            None => parse_row(line, &fields),
        }
        .map_err(|reason| (line, reason))?;
        let key = inside_path(&row.file).map_err(|reason| (line, reason))?;
        if let Some(&k) = seen.get(&key) {
            let before: &Row = &rows[k];
            let how = if (before.valence, before.confidence, before.class)
                == (row.valence, row.confidence, row.class)
            {
                "repeats"
            } else {
                "conflicts with"
            };
            return Err((
                line,
                format!(
                    "{} {how} line {} (each file is listed once)",
                    row.file, before.line
                ),
            ));
        }
        seen.insert(key, rows.len());
        rows.push(row);
    }
    Ok(rows)
}

/// `file` as components joined by `/`, without `.` components; an error if it is absolute or
/// leaves the data directory (`..`).
fn inside_path(file: &str) -> Result<String, String> {
    use std::path::Component;
    let mut parts = Vec::new();
    // Backslashes too: a Windows-style `..\x` would leave the directory on Windows.
    for c in Path::new(&file.replace('\\', "/")).components() {
        match c {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => {
                return Err(format!("{file} leaves the data directory (`..`)"));
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!(
                    "{file} is absolute; name frames relative to the data directory"
                ));
            }
        }
    }
    if parts.is_empty() {
        return Err(format!("{file} names no file"));
    }
    Ok(parts.join("/"))
}

/// The file column: non-empty, unquoted.
fn file_field(file: &str) -> Result<String, String> {
    if file.is_empty() {
        return Err("the file column is empty".into());
    }
    if file.contains('"') {
        return Err("quoted fields are not supported".into());
    }
    Ok(file.to_owned())
}

/// A classification row: `file,class` with the class in `0..classes`.
fn parse_class_row(line: usize, fields: &[&str], classes: usize) -> Result<Row, String> {
    let [file, class] = fields else {
        return Err(format!(
            "expected 2 columns (file,class) for a network of {classes} classes, found {}",
            fields.len()
        ));
    };
    let file = file_field(file)?;
    let class = class
        .parse::<u32>()
        .ok()
        .filter(|&k| (k as usize) < classes)
        .ok_or_else(|| format!("class {class:?} is not a whole number in 0..{classes}"))?;
    Ok(Row {
        line,
        file,
        valence: 0.0,
        confidence: 1.0,
        class: Some(class),
    })
}

fn parse_row(line: usize, fields: &[&str]) -> Result<Row, String> {
    let [file, valence, confidence] = fields else {
        return Err(format!(
            "expected 3 columns (file,valence,confidence), found {}",
            fields.len()
        ));
    };
    let file = file_field(file)?;
    let number = |name: &str, s: &str| {
        s.parse::<f32>()
            .map_err(|_| format!("{name} {s:?} is not a number"))
            .and_then(|x| {
                if x.is_finite() {
                    Ok(x)
                } else {
                    Err(format!("{name} {s:?} is not finite"))
                }
            })
    };
    let valence = number("valence", valence)?;
    if !(-1.0..=1.0).contains(&valence) {
        return Err(format!("valence {valence} is outside [-1, 1]"));
    }
    let confidence = number("confidence", confidence)?;
    if !(confidence > 0.0 && confidence <= 1.0) {
        return Err(format!("confidence {confidence} is outside (0, 1]"));
    }
    Ok(Row {
        line,
        file,
        valence,
        confidence,
        class: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageFormat, Rgb, RgbImage};

    fn write_image(dir: &Path, name: &str, w: u32, h: u32, color: [u8; 3], format: ImageFormat) {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        RgbImage::from_pixel(w, h, Rgb(color))
            .save_with_format(path, format)
            .unwrap();
    }

    fn write_labels(dir: &Path, text: &str) {
        std::fs::write(dir.join(LABELS_FILE), text).unwrap();
    }

    /// A directory with a 10×6 PNG (red), a 16×16 JPEG (grey) and a 4×4 PNG in a sub-directory.
    fn sample_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        write_image(dir.path(), "a.png", 10, 6, [200, 10, 30], ImageFormat::Png);
        write_image(
            dir.path(),
            "b.jpg",
            16,
            16,
            [128, 128, 128],
            ImageFormat::Jpeg,
        );
        write_image(dir.path(), "sub/c.png", 4, 4, [0, 255, 1], ImageFormat::Png);
        dir
    }

    fn error(dir: &Path) -> String {
        let msg = format!(
            "{:#}",
            anyhow::Error::from(load_dir(dir, FrameShape::square_rgb(8), None).unwrap_err())
        );
        assert!(!msg.contains('\n'), "one line: {msg}");
        msg
    }

    #[test]
    fn loads_png_and_jpeg_resized_with_their_labels() {
        let dir = sample_dir();
        write_labels(
            dir.path(),
            "\u{feff}file,valence,confidence\r\n# comment\r\n\r\na.png, 0.5 ,1\r\nb.jpg,-1,0.25\nsub/c.png,1,1e-3\n",
        );
        let data = load_dir(dir.path(), FrameShape::square_rgb(8), None).unwrap();
        assert_eq!(data.shape, FrameShape::square_rgb(8));
        let got: Vec<(&str, f32, f32)> = data
            .examples
            .iter()
            .map(|e| (e.file.as_str(), e.valence, e.confidence))
            .collect();
        assert_eq!(
            got,
            [
                ("a.png", 0.5, 1.0),
                ("b.jpg", -1.0, 0.25),
                ("sub/c.png", 1.0, 1e-3)
            ]
        );
        // A uniform image stays uniform through any resampling; PNG is lossless, so the bytes
        // are exactly the colour drawn. JPEG of a flat grey is within 2 levels.
        for e in &data.examples {
            assert_eq!(e.pixels.len(), 8 * 8 * 3);
        }
        assert!(data.examples[0]
            .pixels
            .chunks(3)
            .all(|p| p == [200, 10, 30]));
        assert!(data.examples[2].pixels.chunks(3).all(|p| p == [0, 255, 1]));
        assert!(data.examples[1]
            .pixels
            .iter()
            .all(|&v| v.abs_diff(128) <= 2));
    }

    #[test]
    fn resizing_keeps_hwc_order_and_the_header_is_optional() {
        let dir = tempfile::tempdir().unwrap();
        // Quadrants of four colours, 16×16 → 4×4: the triangle filter's support (4 source
        // pixels each side at this scale) keeps each corner pixel inside one quadrant, so the
        // corners are pure and show where (x, y, channel) land in the HWC buffer.
        let colour = |x: u32, y: u32| match (x < 8, y < 8) {
            (true, true) => [255, 0, 0],
            (false, true) => [0, 0, 255],
            (true, false) => [0, 255, 0],
            (false, false) => [255, 255, 255],
        };
        RgbImage::from_fn(16, 16, |x, y| Rgb(colour(x, y)))
            .save(dir.path().join("quadrants.png"))
            .unwrap();
        write_labels(dir.path(), "quadrants.png,0,1\n");
        let data = load_dir(dir.path(), FrameShape::square_rgb(4), None).unwrap();
        let px = &data.examples[0].pixels;
        for (x, y) in [(0, 0), (3, 0), (0, 3), (3, 3)] {
            let at = (y * 4 + x) * 3;
            assert_eq!(
                px[at..at + 3],
                colour(x as u32 * 5, y as u32 * 5),
                "pixel ({x}, {y})"
            );
        }
    }

    #[test]
    fn format_is_read_from_the_content() {
        let dir = tempfile::tempdir().unwrap();
        write_image(
            dir.path(),
            "really_a_png.jpg",
            3,
            3,
            [9, 8, 7],
            ImageFormat::Png,
        );
        write_labels(dir.path(), "really_a_png.jpg,0,1\n");
        let data = load_dir(dir.path(), FrameShape::square_rgb(3), None).unwrap();
        assert!(data.examples[0].pixels.chunks(3).all(|p| p == [9, 8, 7]));
    }

    #[test]
    fn missing_labels_or_frames_are_named() {
        let dir = sample_dir();
        let msg = error(dir.path());
        assert!(msg.contains("labels.csv not found"), "{msg}");

        write_labels(
            dir.path(),
            "file,valence,confidence\na.png,0,1\n\nnope/gone.png,0,1\n",
        );
        let msg = error(dir.path());
        assert!(
            msg.contains("gone.png not found") && msg.contains("labels.csv:4"),
            "{msg}"
        );

        write_labels(dir.path(), "# nothing\nfile,valence,confidence\n");
        assert!(error(dir.path()).contains("lists no frames"));
    }

    #[test]
    fn unreadable_images_are_named() {
        let dir = sample_dir();
        std::fs::write(dir.path().join("corrupt.png"), b"\x89PNG\r\n\x1a\n garbage").unwrap();
        std::fs::write(dir.path().join("text.jpg"), b"hello").unwrap();
        let mut truncated = std::fs::read(dir.path().join("a.png")).unwrap();
        truncated.truncate(truncated.len() / 2);
        std::fs::write(dir.path().join("half.png"), truncated).unwrap();
        std::fs::create_dir(dir.path().join("adir.png")).unwrap();
        for (name, line) in [
            ("corrupt.png", 2),
            ("text.jpg", 2),
            ("half.png", 2),
            ("adir.png", 2),
        ] {
            write_labels(dir.path(), &format!("a.png,0,1\n{name},0,1\nb.jpg,0,1\n"));
            let msg = error(dir.path());
            assert!(
                msg.contains(name)
                    && msg.contains(&format!("labels.csv:{line}"))
                    && msg.contains("cannot be read"),
                "{msg}"
            );
        }
    }

    #[test]
    fn the_first_bad_frame_in_file_order_is_reported() {
        let dir = sample_dir();
        let mut text = String::new();
        for i in 0..40 {
            text.push_str(&format!("missing{i}.png,0,1\n"));
        }
        write_labels(dir.path(), &text);
        for _ in 0..3 {
            assert!(error(dir.path()).contains("missing0.png"));
        }
    }

    #[test]
    fn malformed_rows_name_their_line() {
        let dir = sample_dir();
        for (row, needle) in [
            (
                "a.png,0.5",
                "expected 3 columns (file,valence,confidence), found 2",
            ),
            ("a.png,0.5,1,extra", "found 4"),
            (",0.5,1", "file column is empty"),
            ("\"a.png\",0.5,1", "quoted"),
            ("a.png,happy,1", "valence \"happy\" is not a number"),
            ("a.png,0.5,", "confidence \"\" is not a number"),
            ("a.png,1.5,1", "valence 1.5 is outside [-1, 1]"),
            ("a.png,-1.01,1", "outside [-1, 1]"),
            ("a.png,NaN,1", "not finite"),
            ("a.png,0,inf", "not finite"),
            ("a.png,0,0", "confidence 0 is outside (0, 1]"),
            ("a.png,0,-0.5", "outside (0, 1]"),
            ("a.png,0,1.0001", "outside (0, 1]"),
            ("b.jpg,0,1", "b.jpg repeats line 3"),
            ("./b.jpg,0,1", "./b.jpg repeats line 3"),
            ("b.jpg,0.5,1", "b.jpg conflicts with line 3"),
            ("sub/../a.png,0,1", "sub/../a.png leaves the data directory"),
            ("../x/a.png,0,1", "leaves the data directory"),
            ("/etc/a.png,0,1", "/etc/a.png is absolute"),
            (".,0,1", "names no file"),
        ] {
            write_labels(
                dir.path(),
                &format!("file,valence,confidence\n# c\nb.jpg,0,1\n{row}\n"),
            );
            let msg = error(dir.path());
            assert!(
                msg.contains("labels.csv:4: ") && msg.contains(needle),
                "{row}: {msg}"
            );
        }
        // A header anywhere but first is a malformed row.
        write_labels(dir.path(), "b.jpg,0,1\nfile,valence,confidence\n");
        assert!(error(dir.path()).contains("labels.csv:2: valence \"valence\""));
        std::fs::write(dir.path().join(LABELS_FILE), b"a.png,0,1\n\xff\xfe\n").unwrap();
        assert!(error(dir.path()).contains("not UTF-8"));
    }

    /// The first pixel of `dir/name` loaded as `shape`, with its example's length checked.
    fn pixel(dir: &Path, name: &str, shape: FrameShape) -> Vec<u8> {
        write_labels(dir, &format!("{name},0,1\n"));
        let data = load_dir(dir, shape, None).unwrap();
        let px = &data.examples[0].pixels;
        assert_eq!(px.len(), shape.h * shape.w * shape.c, "{name} as {shape:?}");
        px[..shape.c].to_vec()
    }

    #[test]
    fn frames_of_any_size_convert_to_the_networks_channels() {
        let dir = tempfile::tempdir().unwrap();
        // Uniform frames stay uniform through the resize, so one pixel tells the conversion.
        write_image(
            dir.path(),
            "rgb.png",
            10,
            6,
            [200, 10, 30],
            ImageFormat::Png,
        );
        image::GrayImage::from_pixel(5, 9, image::Luma([77]))
            .save(dir.path().join("gray.png"))
            .unwrap();
        image::RgbaImage::from_pixel(3, 4, image::Rgba([1, 2, 3, 4]))
            .save(dir.path().join("rgba.png"))
            .unwrap();
        let tall = |c| FrameShape { h: 49, w: 10, c };
        // RGB → gray by Rec. 709 luma: 0.2126·200 + 0.7152·10 + 0.0722·30 = 51.84.
        let luma = pixel(dir.path(), "rgb.png", tall(1))[0];
        assert!(luma.abs_diff(52) <= 1, "luma {luma}");
        // Gray → RGB replicates; gray → RGBA adds an opaque alpha.
        assert_eq!(pixel(dir.path(), "gray.png", tall(3)), [77, 77, 77]);
        assert_eq!(pixel(dir.path(), "gray.png", tall(4)), [77, 77, 77, 255]);
        assert_eq!(pixel(dir.path(), "gray.png", tall(1)), [77]);
        // RGBA keeps its alpha as RGBA and drops it as RGB.
        assert_eq!(pixel(dir.path(), "rgba.png", tall(4)), [1, 2, 3, 4]);
        assert_eq!(pixel(dir.path(), "rgba.png", tall(3)), [1, 2, 3]);
        // RGB → RGBA, non-square both ways.
        let wide = FrameShape { h: 3, w: 17, c: 4 };
        assert_eq!(pixel(dir.path(), "rgb.png", wide), [200, 10, 30, 255]);
        // Two channels convert from nothing: refused naming the directory.
        write_labels(dir.path(), "rgb.png,0,1\n");
        let two = FrameShape { h: 4, w: 4, c: 2 };
        let msg = load_dir(dir.path(), two, None).unwrap_err().to_string();
        assert!(msg.contains("the network's input has 2"), "{msg}");
    }

    #[test]
    fn class_rows_carry_their_class() {
        let dir = sample_dir();
        write_labels(dir.path(), "file,class\na.png,3\nb.jpg,0\n");
        let data = load_dir(dir.path(), FrameShape::square_rgb(4), Some(4)).unwrap();
        let classes: Vec<Option<u32>> = data.examples.iter().map(|e| e.class).collect();
        assert_eq!(classes, [Some(3), Some(0)]);
        write_labels(dir.path(), "a.png,4\n");
        let msg = format!(
            "{:#}",
            anyhow::Error::from(
                load_dir(dir.path(), FrameShape::square_rgb(4), Some(4)).unwrap_err()
            )
        );
        assert!(
            msg.contains("labels.csv:1: class \"4\" is not a whole number in 0..4"),
            "{msg}"
        );
    }
}
