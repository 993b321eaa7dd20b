"""Reads safetensors files with the `safetensors` Python package, as a PyTorch or numpy user
would, and prints what it found as JSON (host-sim/tests/checkpoint.rs compares it with Rust's
view of the same file).

    python3 read_safetensors.py FILE...           # one JSON object per file, in a list
    python3 read_safetensors.py --write OUT FILE  # OUT: FILE's tensors re-saved by numpy, no metadata

For each file: every tensor's dtype, shape and the CRC-32 of its bytes (through
`safetensors.numpy.load_file`), the metadata and the first tensor again (through
`safe_open(..., framework="np")`), and the three CRC-32s of Valence's metadata recomputed here
with zlib, as the checkpoint module documents them.
"""

import json
import sys
import zlib

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file


def crc_of(tensors, names):
    return "%08x" % zlib.crc32(b"".join(tensors[n].astype("<f4").tobytes() for n in names))


def names(meta, key):
    return meta[key].split(",") if meta.get(key) else []


def read(path):
    tensors = load_file(path)
    with safe_open(path, framework="np") as f:
        meta = f.metadata() or {}
        keys = list(f.keys())
        first = f.get_tensor(keys[0])
    entries = sorted((k, v) for k, v in meta.items() if k != "metadata_crc32")
    return {
        "tensors": {
            k: {"dtype": str(v.dtype), "shape": list(v.shape), "crc32": "%08x" % zlib.crc32(v.tobytes())}
            for k, v in tensors.items()
        },
        "metadata": meta,
        "safe_open_agrees": bool(np.array_equal(first, tensors[keys[0]])),
        "params_crc32": crc_of(tensors, names(meta, "params")),
        "slots_crc32": crc_of(tensors, names(meta, "slots")),
        "metadata_crc32": "%08x"
        % zlib.crc32(b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in entries)),
    }


if __name__ == "__main__":
    if sys.argv[1] == "--write":
        save_file(load_file(sys.argv[3]), sys.argv[2])
    else:
        print(json.dumps([read(p) for p in sys.argv[1:]]))
