//! `.npy` files of little-endian `f32` (`<f4`), C order, any shape: what `numpy.save` writes for
//! a `float32` array and `numpy.load` reads back (TensorFlow and PyTorch load them through numpy).
//!
//! Writing produces format version 1.0 with the header padded to a multiple of 64 bytes, as numpy
//! does. Reading accepts versions 1.0, 2.0 and 3.0 (they differ only in the header's length field
//! and encoding) and checks the magic, the version, the header dictionary (`descr` `'<f4'`,
//! `fortran_order` `False`, `shape` a tuple of non-negative integers) and that the data is exactly
//! as long as the shape says. Any other file gives an [`NpyError`]; nothing is allocated beyond
//! the file's own size, so a corrupt header cannot request an absurd buffer.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The six magic bytes that open every `.npy` file.
const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// numpy pads the header so the data starts on this boundary.
const ALIGN: usize = 64;
/// A sanity bound on the number of dimensions (numpy's own limit is 64).
const MAX_RANK: usize = 64;

/// Why a `.npy` file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NpyError {
    /// The file could not be opened, read or written.
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The bytes are not a `.npy` file this module understands.
    #[error("{path}: {reason}")]
    Format {
        /// The file (empty when parsing bytes that came from no file).
        path: PathBuf,
        /// What is wrong, in one line.
        reason: String,
    },
}

/// An `f32` array read from a `.npy` file: its shape (C order) and its elements.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    /// The dimensions, outermost first; empty for a 0-d (scalar) array.
    pub shape: Vec<usize>,
    /// The elements in C (row-major) order; `data.len()` is the product of `shape`.
    pub data: Vec<f32>,
}

/// Encodes `data` with the given shape as the bytes of a version 1.0 `.npy` file.
///
/// # Errors
/// A `Format` error if the product of `shape` differs from `data.len()` (or overflows), or if
/// the shape has more than 64 dimensions.
pub fn to_bytes(shape: &[usize], data: &[f32]) -> Result<Vec<u8>, NpyError> {
    let fail = |reason: String| NpyError::Format {
        path: PathBuf::new(),
        reason,
    };
    if shape.len() > MAX_RANK {
        return Err(fail(format!(
            "{} dimensions; at most {MAX_RANK} are supported",
            shape.len()
        )));
    }
    let count = element_count(shape).ok_or_else(|| fail("shape overflows usize".into()))?;
    if count != data.len() {
        return Err(fail(format!(
            "shape {shape:?} holds {count} elements but {} were given",
            data.len()
        )));
    }
    let dims = match shape {
        [only] => format!("({only},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {dims}, }}");
    // magic (6) + version (2) + header length (2) + header, ending in '\n', padded with spaces.
    let unpadded = MAGIC.len() + 2 + 2 + header.len() + 1;
    header.extend(std::iter::repeat_n(
        ' ',
        unpadded.next_multiple_of(ALIGN) - unpadded,
    ));
    header.push('\n');
    let header_len =
        u16::try_from(header.len()).map_err(|_| fail("header longer than 65535 bytes".into()))?;

    let mut out = Vec::with_capacity(MAGIC.len() + 4 + header.len() + 4 * data.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&header_len.to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for x in data {
        out.extend_from_slice(&x.to_le_bytes());
    }
    Ok(out)
}

/// Decodes the bytes of a `.npy` file holding little-endian `f32` in C order.
///
/// # Errors
/// A `Format` error (with an empty path) naming the first thing that is wrong.
pub fn from_bytes(bytes: &[u8]) -> Result<Array, NpyError> {
    parse(bytes).map_err(|reason| NpyError::Format {
        path: PathBuf::new(),
        reason,
    })
}

/// Writes `data` with the given shape to `path` as a version 1.0 `.npy` file.
///
/// # Errors
/// As [`to_bytes`], or an `Io` error if the file cannot be written.
pub fn write(path: &Path, shape: &[usize], data: &[f32]) -> Result<(), NpyError> {
    let bytes = to_bytes(shape, data).map_err(|e| with_path(e, path))?;
    let io = |source| NpyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::create(path).map_err(io)?;
    file.write_all(&bytes).map_err(io)?;
    file.sync_all().map_err(io)
}

/// Reads the `.npy` file at `path`.
///
/// # Errors
/// An `Io` error if it cannot be read, a `Format` error (naming the file) if it is not a
/// little-endian `f32`, C-order `.npy` file whose data matches its shape.
pub fn read(path: &Path) -> Result<Array, NpyError> {
    let bytes = std::fs::read(path).map_err(|source| NpyError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    from_bytes(&bytes).map_err(|e| with_path(e, path))
}

fn with_path(e: NpyError, path: &Path) -> NpyError {
    match e {
        NpyError::Format { reason, .. } => NpyError::Format {
            path: path.to_path_buf(),
            reason,
        },
        other => other,
    }
}

fn element_count(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
}

fn parse(bytes: &[u8]) -> Result<Array, String> {
    if bytes.len() < MAGIC.len() + 2 || &bytes[..MAGIC.len()] != MAGIC {
        return Err("not a .npy file (the magic bytes \\x93NUMPY are missing)".into());
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let len_size = match (major, minor) {
        (1, 0) => 2,
        (2, 0) | (3, 0) => 4,
        _ => return Err(format!("unsupported .npy format version {major}.{minor}")),
    };
    let start = 8 + len_size;
    let len_bytes = bytes
        .get(8..start)
        .ok_or("truncated: the header length is missing")?;
    let header_len = len_bytes
        .iter()
        .rev()
        .fold(0usize, |n, &b| (n << 8) | usize::from(b));
    let end = start
        .checked_add(header_len)
        .filter(|&end| end <= bytes.len())
        .ok_or_else(|| {
            format!(
                "truncated: the header claims {header_len} bytes, {} remain",
                bytes.len() - start
            )
        })?;
    let header = std::str::from_utf8(&bytes[start..end])
        .map_err(|_| "the header is not text".to_string())?;
    let shape = parse_header(header)?;
    let count = element_count(&shape).ok_or("the shape's element count overflows")?;
    let data = &bytes[end..];
    if count.checked_mul(4) != Some(data.len()) {
        return Err(format!(
            "shape {shape:?} needs {count} f32 values but the file holds {} data bytes",
            data.len()
        ));
    }
    let data = data
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok(Array { shape, data })
}

/// Parses numpy's header, a Python dict literal such as
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`, and returns the shape.
fn parse_header(header: &str) -> Result<Vec<usize>, String> {
    let mut p = Lexer {
        rest: header.trim_end(),
    };
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    p.expect('{')?;
    loop {
        if p.eat('}') {
            break;
        }
        let key = p.string()?;
        p.expect(':')?;
        match key.as_str() {
            "descr" => descr = Some(p.string()?),
            "fortran_order" => fortran = Some(p.boolean()?),
            "shape" => shape = Some(p.tuple()?),
            other => return Err(format!("unexpected key '{other}' in the header")),
        }
        if !p.eat(',') {
            if p.eat('}') {
                break;
            }
            return Err(format!(
                "malformed header: expected ',' or '}}' at \"{}\"",
                p.preview()
            ));
        }
    }
    if !p.rest.trim().is_empty() {
        return Err("unexpected text after the header's dictionary".into());
    }
    let descr = descr.ok_or("the header has no 'descr'")?;
    if descr != "<f4" {
        return Err(format!(
            "dtype '{descr}' is not supported; save float32 little-endian ('<f4'), e.g. arr.astype('<f4')"
        ));
    }
    if fortran.ok_or("the header has no 'fortran_order'")? {
        return Err(
            "Fortran-order arrays are not supported; save np.ascontiguousarray(arr)".into(),
        );
    }
    shape.ok_or_else(|| "the header has no 'shape'".into())
}

/// A tokenizer over the few Python literals a `.npy` header uses.
struct Lexer<'a> {
    rest: &'a str,
}

impl Lexer<'_> {
    fn skip_space(&mut self) {
        self.rest = self.rest.trim_start();
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_space();
        match self.rest.strip_prefix(c) {
            Some(r) => {
                self.rest = r;
                true
            }
            None => false,
        }
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!(
                "malformed header: expected '{c}' at \"{}\"",
                self.preview()
            ))
        }
    }

    fn preview(&self) -> String {
        self.rest.chars().take(20).collect()
    }

    fn string(&mut self) -> Result<String, String> {
        self.skip_space();
        let quote = self
            .rest
            .chars()
            .next()
            .filter(|&q| q == '\'' || q == '"')
            .ok_or_else(|| {
                format!(
                    "malformed header: expected a string at \"{}\"",
                    self.preview()
                )
            })?;
        let body = &self.rest[1..];
        let close = body
            .find(quote)
            .ok_or("malformed header: unterminated string")?;
        self.rest = &body[close + 1..];
        Ok(body[..close].to_string())
    }

    fn boolean(&mut self) -> Result<bool, String> {
        self.skip_space();
        for (word, value) in [("True", true), ("False", false)] {
            if let Some(r) = self.rest.strip_prefix(word) {
                self.rest = r;
                return Ok(value);
            }
        }
        Err(format!(
            "malformed header: expected True or False at \"{}\"",
            self.preview()
        ))
    }

    fn tuple(&mut self) -> Result<Vec<usize>, String> {
        self.expect('(')?;
        let mut dims = Vec::new();
        loop {
            if self.eat(')') {
                return Ok(dims);
            }
            if dims.len() == MAX_RANK {
                return Err(format!("more than {MAX_RANK} dimensions"));
            }
            self.skip_space();
            let digits = self.rest.len()
                - self
                    .rest
                    .trim_start_matches(|c: char| c.is_ascii_digit())
                    .len();
            let dim = self.rest[..digits].parse::<usize>().map_err(|_| {
                format!(
                    "malformed header: expected a dimension at \"{}\"",
                    self.preview()
                )
            })?;
            // Python 2 wrote long integers with an `L` suffix.
            self.rest = self.rest[digits..]
                .strip_prefix('L')
                .unwrap_or(&self.rest[digits..]);
            dims.push(dim);
            if !self.eat(',') {
                self.expect(')')?;
                return Ok(dims);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values whose bits would show any rounding: subnormals, signed zero, extremes, NaN payload.
    fn awkward(n: usize) -> Vec<f32> {
        let special = [
            0.0,
            -0.0,
            1.0,
            -1.5,
            f32::MIN_POSITIVE,
            1e-45,
            f32::MAX,
            f32::MIN,
            f32::INFINITY,
            f32::from_bits(0x7fc0_1234),
            0.1,
        ];
        (0..n)
            .map(|i| {
                special
                    .get(i)
                    .copied()
                    .unwrap_or((i as f32 * 0.37).sin() * 1e3)
            })
            .collect()
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    fn format_reason(e: NpyError) -> String {
        match e {
            NpyError::Format { reason, .. } => reason,
            other => panic!("expected a format error, got {other}"),
        }
    }

    #[test]
    fn round_trip_is_exact_for_every_rank() {
        for shape in [
            vec![],
            vec![0],
            vec![1],
            vec![13],
            vec![2, 3],
            vec![5, 5, 3, 7],
            vec![2, 0, 4],
        ] {
            let n: usize = shape.iter().product();
            let data = awkward(n);
            let bytes = to_bytes(&shape, &data).unwrap();
            let header_end = 10 + usize::from(u16::from_le_bytes([bytes[8], bytes[9]]));
            assert_eq!(header_end % ALIGN, 0, "data starts aligned");
            assert_eq!(bytes[header_end - 1], b'\n');
            let back = from_bytes(&bytes).unwrap();
            assert_eq!(back.shape, shape);
            assert_eq!(bits(&back.data), bits(&data));
        }
    }

    #[test]
    fn header_is_numpys_text() {
        let bytes = to_bytes(&[2, 3], &[0.0; 6]).unwrap();
        let header = std::str::from_utf8(&bytes[10..74]).unwrap();
        assert!(header.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"));
        let one = to_bytes(&[4], &[0.0; 4]).unwrap();
        assert_eq!(one.len(), 2 * ALIGN + 4 * 4);
        assert!(String::from_utf8_lossy(&one).contains("'shape': (4,)"));
        let scalar = to_bytes(&[], &[2.0]).unwrap();
        assert!(String::from_utf8_lossy(&scalar).contains("'shape': ()"));
    }

    #[test]
    fn write_rejects_a_shape_that_disagrees_with_the_data() {
        assert!(format_reason(to_bytes(&[2, 3], &[0.0; 5]).unwrap_err()).contains("6 elements"));
        assert!(to_bytes(&[usize::MAX, 2], &[]).is_err());
        assert!(to_bytes(&[1; 65], &[0.0]).is_err());
    }

    #[test]
    fn reads_other_key_orders_and_versions() {
        let body = [1.0f32, 2.0];
        let mut header =
            b"{\"shape\": (2L,), \"fortran_order\": False, \"descr\": \"<f4\"}\n".to_vec();
        let mut v2 = b"\x93NUMPY\x02\x00".to_vec();
        v2.extend_from_slice(&(header.len() as u32).to_le_bytes());
        v2.append(&mut header);
        for x in body {
            v2.extend_from_slice(&x.to_le_bytes());
        }
        let a = from_bytes(&v2).unwrap();
        assert_eq!(a.shape, vec![2]);
        assert_eq!(a.data, body.to_vec());
    }

    /// A version 1.0 file with the given header text and `data_len` zero bytes of data.
    fn with_header(header: &str, data_len: usize) -> Vec<u8> {
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend(std::iter::repeat_n(0u8, data_len));
        out
    }

    #[test]
    fn corrupt_files_give_clear_errors() {
        let good = to_bytes(&[2, 2], &[1.0; 4]).unwrap();
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (Vec::new(), "magic"),
            (b"PK\x03\x04 not npy".to_vec(), "magic"),
            (
                {
                    let mut b = good.clone();
                    b[6] = 9;
                    b
                },
                "version 9.0",
            ),
            (good[..9].to_vec(), "header length"),
            (good[..40].to_vec(), "truncated"),
            (good[..good.len() - 1].to_vec(), "needs 4 f32"),
            (
                {
                    let mut b = good.clone();
                    b.push(0);
                    b
                },
                "needs 4 f32",
            ),
            (
                with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }\n", 8),
                "'<f8' is not supported",
            ),
            (
                with_header("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }\n", 4),
                "'>f4' is not supported",
            ),
            (
                with_header("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }\n", 4),
                "Fortran",
            ),
            (
                with_header("{'descr': '<f4', 'fortran_order': False}\n", 4),
                "no 'shape'",
            ),
            (
                with_header("{'descr': '<f4', 'shape': (1,)}\n", 4),
                "no 'fortran_order'",
            ),
            (
                with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }\n", 4),
                "expected a dimension",
            ),
            (
                with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}\n", 4),
                "unexpected key 'x'",
            ),
            (
                with_header("{'descr': '<f4' 'shape': (1,)}\n", 4),
                "expected ','",
            ),
            (with_header("{'descr: '<f4'}\n", 4), "malformed"),
            (
                // A corrupt header may claim a huge array; it must be refused, not allocated.
                with_header(
                    "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387903,), }\n",
                    4,
                ),
                "",
            ),
            (
                with_header(
                    "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }\n",
                    4,
                ),
                "expected a dimension",
            ),
        ];
        for (bytes, needle) in cases {
            let reason = format_reason(from_bytes(&bytes).unwrap_err());
            assert!(reason.contains(needle), "{reason:?} lacks {needle:?}");
            assert!(!reason.contains('\n'), "one line: {reason:?}");
        }
        let deep = format!(
            "{{'descr': '<f4', 'fortran_order': False, 'shape': ({}), }}\n",
            "1, ".repeat(70)
        );
        assert!(
            format_reason(from_bytes(&with_header(&deep, 4)).unwrap_err()).contains("more than 64")
        );
    }

    #[test]
    fn files_round_trip_and_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.npy");
        let data = awkward(24);
        write(&path, &[2, 3, 4], &data).unwrap();
        let back = read(&path).unwrap();
        assert_eq!(back.shape, vec![2, 3, 4]);
        assert_eq!(bits(&back.data), bits(&data));

        std::fs::write(&path, b"garbage").unwrap();
        let msg = read(&path).unwrap_err().to_string();
        assert!(msg.contains("w.npy") && msg.contains("magic"), "{msg}");
        let missing = dir.path().join("missing.npy");
        let msg = read(&missing).unwrap_err().to_string();
        assert!(msg.contains("missing.npy"), "{msg}");
    }
}
