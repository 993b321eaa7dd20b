//! Format version 2: a checkpoint as a safetensors file (the layout is in the [parent
//! module](super)); also any safetensors file's `F32` tensors, for `host-sim import`.
//!
//! The `safetensors` crate writes the file and parses and validates its header (offsets
//! contiguous, every byte length matching its dtype and shape); this module adds what a
//! checkpoint needs on top: the metadata, the CRCs, and clear errors for a short or long file.

use std::borrow::Cow;
use std::collections::HashMap;

use safetensors::tensor::Metadata;
use safetensors::{Dtype, SafeTensorError, View};

use super::{check_length, check_names, Checkpoint, FormatError, NamedTensor, OptimizerKind};
use crate::checksum::{le_bytes, params_crc32};

/// The `format` metadata value of a Valence checkpoint.
const FORMAT: &str = "valence-checkpoint";
/// The prefix of the run's settings among the metadata keys (they cannot collide with the
/// format's own keys, e.g. the `--optimizer` flag with `optimizer`).
const ATTR_PREFIX: &str = "run.";
const METADATA_CRC: &str = "metadata_crc32";
/// The bytes before the JSON header: its length as a `u64`.
const LEN_BYTES: usize = 8;

/// A tensor as the `safetensors` crate serialises it: `F32`, little-endian.
struct F32View<'a>(&'a NamedTensor);

impl View for F32View<'_> {
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }

    fn shape(&self) -> &[usize] {
        &self.0.shape
    }

    fn data(&self) -> Cow<'_, [u8]> {
        le_bytes(&self.0.data)
    }

    fn data_len(&self) -> usize {
        4 * self.0.data.len()
    }
}

/// The file's bytes of `ckpt`.
pub(super) fn encode(ckpt: &Checkpoint) -> Result<Vec<u8>, FormatError> {
    check_names(ckpt.params.iter().chain(&ckpt.slots), "parameter or slot")?;
    for t in ckpt.params.iter().chain(&ckpt.slots) {
        check_length(&t.name, &t.shape, t.data.len())?;
        if t.name.is_empty() || t.name.contains(',') || t.name == "__metadata__" {
            return Err(FormatError::Malformed(format!(
                "the tensor name {:?} cannot be stored (empty, with a comma, or `__metadata__`)",
                t.name
            )));
        }
    }
    let names = |ts: &[NamedTensor]| {
        ts.iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut meta: HashMap<String, String> = [
        ("format", FORMAT.to_owned()),
        ("format_version", super::FORMAT_VERSION.to_string()),
        ("config", ckpt.config.clone()),
        ("step", ckpt.step.to_string()),
        ("optimizer", ckpt.optimizer.as_str().to_owned()),
        (
            "rng",
            ckpt.rng
                .iter()
                .map(|w| format!("{w:016x}"))
                .collect::<Vec<_>>()
                .join(","),
        ),
        ("data_position", ckpt.data_position.to_string()),
        ("params", names(&ckpt.params)),
        ("slots", names(&ckpt.slots)),
        ("params_crc32", format!("{:08x}", crc(&ckpt.params))),
        ("slots_crc32", format!("{:08x}", crc(&ckpt.slots))),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (k, v) in &ckpt.attrs {
        if meta
            .insert(format!("{ATTR_PREFIX}{k}"), v.clone())
            .is_some()
        {
            return Err(FormatError::Malformed(format!(
                "two attributes are named {k:?}"
            )));
        }
    }
    meta.insert(
        METADATA_CRC.to_owned(),
        format!("{:08x}", metadata_crc(&meta)),
    );
    let views = ckpt
        .params
        .iter()
        .chain(&ckpt.slots)
        .map(|t| (t.name.as_str(), F32View(t)));
    safetensors::serialize(views, Some(meta)).map_err(|e| {
        FormatError::Malformed(format!(
            "the safetensors encoder refused the checkpoint: {e}"
        ))
    })
}

/// The `f32`s whose little-endian bytes are `bytes` (a multiple of 4 long; any alignment).
fn from_le_bytes(bytes: &[u8]) -> Vec<f32> {
    let mut v: Vec<f32> = bytemuck::pod_collect_to_vec(bytes);
    if cfg!(target_endian = "big") {
        for x in &mut v {
            *x = f32::from_bits(x.to_bits().swap_bytes());
        }
    }
    v
}

/// CRC-32 of the tensors' little-endian bytes, in the order given: the run's checksum.
fn crc(tensors: &[NamedTensor]) -> u32 {
    params_crc32(tensors.iter().map(|t| t.data.as_slice()))
}

/// CRC-32 of every metadata entry but [`METADATA_CRC`], sorted by key, as `key NUL value NUL`.
fn metadata_crc(meta: &HashMap<String, String>) -> u32 {
    let mut entries: Vec<_> = meta.iter().filter(|(k, _)| *k != METADATA_CRC).collect();
    entries.sort();
    let mut h = crc32fast::Hasher::new();
    for (k, v) in entries {
        for part in [k, v] {
            h.update(part.as_bytes());
            h.update(&[0]);
        }
    }
    h.finalize()
}

/// A parsed safetensors file: its header and its data section.
struct File<'a> {
    header: Metadata,
    data: &'a [u8],
}

impl<'a> File<'a> {
    /// Checks the length against the header and the header itself.
    fn parse(bytes: &'a [u8]) -> Result<Self, FormatError> {
        let Some(len) = bytes.first_chunk::<LEN_BYTES>() else {
            return Err(FormatError::Truncated {
                expected: LEN_BYTES as u64,
                got: bytes.len() as u64,
            });
        };
        // A JSON header opens with `{`; anything else is another format, not a damaged file.
        if bytes.get(LEN_BYTES).is_some_and(|&b| b != b'{') {
            return Err(FormatError::BadMagic);
        }
        let header_end = u64::from_le_bytes(*len).saturating_add(LEN_BYTES as u64);
        let got = bytes.len() as u64;
        if header_end > got {
            return Err(FormatError::Truncated {
                expected: header_end,
                got,
            });
        }
        match safetensors::SafeTensors::read_metadata(bytes) {
            Ok((n, header)) => Ok(Self {
                header,
                data: &bytes[LEN_BYTES + n..],
            }),
            Err(SafeTensorError::MetadataIncompleteBuffer) => {
                // The header is valid and its tensors end elsewhere than the file: say where.
                let json = &bytes[LEN_BYTES..header_end as usize];
                let expected = serde_json::from_slice::<Metadata>(json)
                    .map_or(got, |h| header_end + h.data_len() as u64);
                Err(if expected > got {
                    FormatError::Truncated { expected, got }
                } else {
                    FormatError::TrailingBytes {
                        extra: got - expected,
                    }
                })
            }
            Err(e) => Err(FormatError::Malformed(format!(
                "invalid safetensors header: {e}"
            ))),
        }
    }

    /// The `F32` tensor `name`.
    fn tensor(&self, name: &str) -> Result<NamedTensor, FormatError> {
        let info = self.header.info(name).ok_or_else(|| {
            FormatError::Malformed(format!(
                "the metadata lists the tensor {name:?}, the file has none"
            ))
        })?;
        if info.dtype != Dtype::F32 {
            return Err(FormatError::Malformed(format!(
                "tensor {name}: dtype {}, expected F32 (convert it, e.g. with .float() in PyTorch)",
                info.dtype
            )));
        }
        // The crate checked the offsets against the data section and the dtype and shape.
        let bytes = &self.data[info.data_offsets.0..info.data_offsets.1];
        NamedTensor::new(name, info.shape.clone(), from_le_bytes(bytes))
    }
}

/// Decodes a version-2 checkpoint file.
pub(super) fn decode(bytes: &[u8]) -> Result<Checkpoint, FormatError> {
    let file = File::parse(bytes)?;
    let meta = file
        .header
        .metadata()
        .as_ref()
        .ok_or(FormatError::NotValence)?;
    let get = |key: &str| {
        meta.get(key)
            .map(String::as_str)
            .ok_or_else(|| FormatError::Malformed(format!("no `{key}` in the metadata")))
    };
    if meta.get("format").map(String::as_str) != Some(FORMAT) {
        return Err(FormatError::NotValence);
    }
    let version = get("format_version")?;
    if version != super::FORMAT_VERSION.to_string() {
        return Err(match version.parse() {
            Ok(found) => FormatError::UnsupportedVersion {
                found,
                supported: super::FORMAT_VERSION,
            },
            Err(_) => FormatError::Malformed(format!("format_version {version:?}")),
        });
    }
    let stored = hex32(METADATA_CRC, get(METADATA_CRC)?)?;
    let computed = metadata_crc(meta);
    if stored != computed {
        return Err(FormatError::Crc {
            what: "metadata",
            stored,
            computed,
        });
    }

    let number = |key: &str| {
        let s = get(key)?;
        s.parse::<u64>()
            .map_err(|_| FormatError::Malformed(format!("`{key}` is {s:?}, not a count")))
    };
    let optimizer = get("optimizer")?;
    let optimizer = OptimizerKind::from_name(optimizer)
        .ok_or_else(|| FormatError::Malformed(format!("unknown optimiser {optimizer:?}")))?;
    let rng = split(get("rng")?)
        .map(|w| {
            u64::from_str_radix(w, 16)
                .map_err(|_| FormatError::Malformed(format!("rng word {w:?} is not hex")))
        })
        .collect::<Result<_, _>>()?;
    let params = tensors(&file, get("params")?)?;
    let slots = tensors(&file, get("slots")?)?;
    check_names(params.iter().chain(&slots), "parameter or slot")?;
    let listed = params.len() + slots.len();
    if listed != file.header.offset_keys().len() {
        return Err(FormatError::Malformed(format!(
            "the file holds {} tensors, the metadata lists {listed}",
            file.header.offset_keys().len()
        )));
    }
    for (what, key, list) in [
        ("parameters", "params_crc32", &params),
        ("optimiser slots", "slots_crc32", &slots),
    ] {
        let stored = hex32(key, get(key)?)?;
        let computed = crc(list);
        if stored != computed {
            return Err(FormatError::Crc {
                what,
                stored,
                computed,
            });
        }
    }
    let mut attrs: Vec<(String, String)> = meta
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(ATTR_PREFIX)?.to_owned(), v.clone())))
        .collect();
    attrs.sort();
    Ok(Checkpoint {
        config: get("config")?.to_owned(),
        step: number("step")?,
        optimizer,
        rng,
        data_position: number("data_position")?,
        attrs,
        params,
        slots,
    })
}

/// The items of a comma-separated list (none in an empty string).
fn split(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').filter(|_| !list.is_empty())
}

fn tensors(file: &File<'_>, names: &str) -> Result<Vec<NamedTensor>, FormatError> {
    split(names).map(|n| file.tensor(n)).collect()
}

fn hex32(key: &str, s: &str) -> Result<u32, FormatError> {
    u32::from_str_radix(s, 16)
        .map_err(|_| FormatError::Malformed(format!("`{key}` is {s:?}, not 8 hex digits")))
}

/// Every `F32` tensor of a safetensors file: a Valence checkpoint's parameters and slots, checked
/// as [`Checkpoint::from_bytes`] checks them, or, for a file from elsewhere without Valence's
/// metadata (`safetensors.torch.save_file`, a Hugging Face model), its tensors in the file's
/// order.
///
/// # Errors
/// A [`FormatError`] for a file that is not a valid safetensors file, a Valence checkpoint that
/// fails its checks, or a tensor of another dtype than `F32`.
pub fn read_tensors(bytes: &[u8]) -> Result<Vec<NamedTensor>, FormatError> {
    match decode(bytes) {
        Ok(ckpt) => Ok(ckpt.params.into_iter().chain(ckpt.slots).collect()),
        Err(FormatError::NotValence) => {
            let file = File::parse(bytes)?;
            file.header
                .offset_keys()
                .iter()
                .map(|n| file.tensor(n))
                .collect()
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::tests::sample;
    use crate::checksum::params_crc32;

    /// The JSON header of a file's bytes.
    fn header(bytes: &[u8]) -> serde_json::Value {
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        serde_json::from_slice(&bytes[8..8 + n]).unwrap()
    }

    /// Rebuilds a file from a header edited as JSON and the original data section.
    fn with_header(bytes: &[u8], edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let mut h = header(bytes);
        edit(&mut h);
        let json = serde_json::to_vec(&h).unwrap();
        let mut out = (json.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(&json);
        out.extend_from_slice(&bytes[8 + n..]);
        out
    }

    /// Sets metadata `key` to `value` and re-seals the metadata CRC, so content checks are reached.
    fn with_meta(bytes: &[u8], key: &str, value: Option<&str>) -> Vec<u8> {
        with_header(bytes, |h| {
            let m = h["__metadata__"].as_object_mut().unwrap();
            match value {
                Some(v) => m.insert(key.into(), v.into()),
                None => m.remove(key),
            };
            let map: HashMap<String, String> = m
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect();
            m.insert(
                METADATA_CRC.into(),
                format!("{:08x}", metadata_crc(&map)).into(),
            );
        })
    }

    #[test]
    fn round_trip_is_exact() {
        let c = sample();
        let bytes = c.to_bytes().unwrap();
        let back = Checkpoint::from_bytes(&bytes).unwrap();
        let bits = |t: &[NamedTensor]| {
            t.iter()
                .map(|t| {
                    (
                        t.name.clone(),
                        t.shape.clone(),
                        t.data.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(bits(&back.params), bits(&c.params));
        assert_eq!(bits(&back.slots), bits(&c.slots));
        assert_eq!(back, c);
        assert_eq!(back.param("biases1").unwrap().shape, vec![8]);
        assert!(back.param("nope").is_none());
        // A long configuration (a network's whole description) has no length limit.
        let mut long = c.clone();
        long.config = "layer\n".repeat(10_000);
        assert_eq!(
            Checkpoint::from_bytes(&long.to_bytes().unwrap()).unwrap(),
            long
        );
    }

    #[test]
    fn layout_is_plain_safetensors_with_the_documented_metadata() {
        let c = sample();
        let bytes = c.to_bytes().unwrap();
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let h = header(&bytes);
        let t = &h["weights1/Adam"];
        assert_eq!(t["dtype"], "F32");
        assert_eq!(t["shape"], serde_json::json!([5, 5, 3, 8]));
        let [start, end] = [0, 1].map(|i| t["data_offsets"][i].as_u64().unwrap() as usize);
        let data = &bytes[8 + n + start..8 + n + end];
        let first = f32::from_le_bytes(data[..4].try_into().unwrap());
        assert_eq!(first.to_bits(), c.slots[0].data[0].to_bits());
        let m = &h["__metadata__"];
        for (k, v) in [
            ("format", "valence-checkpoint"),
            ("format_version", "2"),
            ("config", "tiny"),
            ("step", "123456789012"),
            ("optimizer", "adam"),
            ("rng", "853c49e6748fea9b,da3e39cb94b95bdb,ffffffffffffffff"),
            ("data_position", "3000000017"),
            ("params", "weights1,biases1,scalar,empty"),
            ("slots", "weights1/Adam,weights1/Adam_1"),
            ("run.lr", "0.0001"),
            ("run.seed", "42"),
        ] {
            assert_eq!(m[k], v, "{k}");
        }
        // The parameters' CRC is the run's checksum: zlib's CRC-32 of their bytes in order.
        let params = c.params.iter().map(|t| t.data.as_slice());
        assert_eq!(m["params_crc32"], format!("{:08x}", params_crc32(params)));
    }

    #[test]
    fn each_corruption_gives_its_error() {
        let good = sample().to_bytes().unwrap();
        #[track_caller]
        fn e(b: &[u8]) -> FormatError {
            match Checkpoint::from_bytes(b) {
                Ok(_) => panic!("read without an error"),
                Err(e) => e,
            }
        }
        let n = u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;

        assert_eq!(
            e(b""),
            FormatError::Truncated {
                expected: 8,
                got: 0
            }
        );
        assert_eq!(e(b"PK\x03\x04 not a checkpoint"), FormatError::BadMagic);
        for cut in [good.len() - 1, good.len() / 2, 8 + n] {
            assert_eq!(
                e(&good[..cut]),
                FormatError::Truncated {
                    expected: good.len() as u64,
                    got: cut as u64
                },
                "cut at {cut}"
            );
        }
        assert_eq!(
            e(&good[..20]),
            FormatError::Truncated {
                expected: 8 + n as u64,
                got: 20
            }
        );
        let mut longer = good.clone();
        longer.push(0);
        assert_eq!(e(&longer), FormatError::TrailingBytes { extra: 1 });

        // One flipped bit in the data section is caught by the tensors' CRC; in the header, by
        // the JSON parser, the crate's checks or the metadata CRC.
        for at in [8 + n, good.len() / 2, good.len() - 1] {
            let mut flipped = good.clone();
            flipped[at] ^= 0x10;
            assert!(matches!(e(&flipped), FormatError::Crc { .. }), "byte {at}");
        }
        for at in (8..8 + n).step_by(7) {
            let mut flipped = good.clone();
            flipped[at] ^= 0x04;
            let err = e(&flipped);
            assert!(!err.to_string().contains('\n'), "{err}");
        }
        let step = good
            .windows(14)
            .position(|w| w == b"\"123456789012\"")
            .unwrap();
        let mut digit = good.clone();
        digit[step + 1] = b'2';
        assert!(
            matches!(
                e(&digit),
                FormatError::Crc {
                    what: "metadata",
                    ..
                }
            ),
            "{:?}",
            e(&digit)
        );

        // Content errors behind a valid metadata CRC.
        let version = with_meta(&good, "format_version", Some("3"));
        assert_eq!(
            e(&version),
            FormatError::UnsupportedVersion {
                found: 3,
                supported: 2
            }
        );
        assert_eq!(
            e(&with_meta(&good, "format", None)),
            FormatError::NotValence
        );
        let bad = |key: &str, value: Option<&str>, needle: &str| {
            let msg = e(&with_meta(&good, key, value)).to_string();
            assert!(msg.contains(needle), "{key}: {needle:?} not in {msg}");
        };
        bad("optimizer", Some("lbfgs"), "unknown optimiser \"lbfgs\"");
        bad("step", None, "no `step` in the metadata");
        bad("step", Some("-1"), "`step` is \"-1\"");
        bad("rng", Some("xyz"), "rng word \"xyz\"");
        bad("params", Some("weights1,nope"), "lists the tensor \"nope\"");
        bad(
            "params",
            Some("weights1,biases1,scalar"),
            "holds 6 tensors, the metadata lists 5",
        );
        bad(
            "slots",
            Some("weights1/Adam,weights1"),
            "two parameter or slot tensors",
        );
        bad("params_crc32", Some("zz"), "not 8 hex digits");
        let other = with_meta(&good, "params_crc32", Some("00000000"));
        assert!(matches!(
            e(&other),
            FormatError::Crc {
                what: "parameters",
                stored: 0,
                ..
            }
        ));

        // Another dtype than F32 (same byte length, so the crate's checks pass).
        let f16 = with_header(&good, |h| {
            h["biases1"]["dtype"] = "I32".into();
        });
        assert!(e(&f16)
            .to_string()
            .contains("tensor biases1: dtype I32, expected F32"));
        // Offsets that overlap: refused by the safetensors crate, before any tensor is read.
        let overlap = with_header(&good, |h| {
            h["scalar"]["data_offsets"] = serde_json::json!([0, 4]);
        });
        assert!(
            matches!(e(&overlap), FormatError::Malformed(m) if m.contains("invalid safetensors header")),
        );
        // A huge shape: refused by the crate's checked arithmetic, nothing allocated.
        let huge = with_header(&good, |h| {
            h["biases1"]["shape"] = serde_json::json!([1u64 << 62, 1u64 << 62]);
        });
        assert!(matches!(e(&huge), FormatError::Malformed(_)));
        // A plain safetensors file (no metadata) is not a checkpoint, but its tensors are read.
        let plain = with_header(&good, |h| {
            h.as_object_mut().unwrap().remove("__metadata__");
        });
        // Hugging Face's files carry `{"format": "pt"}`: not Valence's either.
        let pt = with_header(&good, |h| {
            h["__metadata__"] = serde_json::json!({"format": "pt"});
        });
        for other in [plain, pt] {
            assert_eq!(e(&other), FormatError::NotValence);
            let tensors = read_tensors(&other).unwrap();
            assert_eq!(tensors.len(), 6);
            assert!(tensors.contains(&sample().params[0]));
        }
        // Every error is one line.
        assert!(!e(&good[..40]).to_string().contains('\n'));
    }

    #[test]
    fn encoding_refuses_what_could_not_be_read_back() {
        let mut c = sample();
        c.params[1].data.push(0.0);
        assert!(matches!(
            c.to_bytes(),
            Err(FormatError::TensorLength { .. })
        ));
        for name in ["weights1/Adam", "", "a,b", "__metadata__"] {
            let mut c = sample();
            c.slots[1].name = name.into();
            assert!(
                matches!(c.to_bytes(), Err(FormatError::Malformed(_))),
                "{name:?}"
            );
        }
        let mut c = sample();
        c.attrs.push(("seed".into(), "1".into()));
        assert!(
            matches!(c.to_bytes(), Err(FormatError::Malformed(m)) if m.contains("two attributes"))
        );
        assert!(NamedTensor::new("x", vec![2, 2], vec![0.0; 3]).is_err());
    }
}
