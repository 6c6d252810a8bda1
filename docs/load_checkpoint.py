#!/usr/bin/env python3
"""Read a Terrain checkpoint (safetensors) with numpy alone.

Usage:  python3 docs/load_checkpoint.py model.safetensors
Prints one line per tensor: name, shape, dtype and the sum of its elements.

As a library:  from load_checkpoint import load;  tensors, metadata = load(path)
The same file also loads with `safetensors.numpy.load_file` or `safetensors.torch.load_file`.
"""
import json
import struct
import sys

import numpy as np

DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4",
          "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?"}


def load(path):
    """Return ({name: numpy array}, {metadata key: value}) for a safetensors file."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    metadata = header.pop("__metadata__", {})
    data = raw[8 + n:]
    tensors = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        array = np.frombuffer(data[begin:end], dtype=DTYPES[entry["dtype"]])
        tensors[name] = array.reshape(entry["shape"])
    return tensors, metadata


if __name__ == "__main__":
    tensors, metadata = load(sys.argv[1])
    for name in sorted(tensors):
        t = tensors[name]
        print(name, "x".join(map(str, t.shape)) or "scalar", t.dtype, repr(float(t.astype(np.float64).sum())))
