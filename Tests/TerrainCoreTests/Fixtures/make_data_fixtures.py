#!/usr/bin/env python3
"""Generates the data-reader test fixtures in Fixtures/data/ (used by DataReaderTests.swift).

Run from anywhere:  python3 Tests/TerrainCoreTests/Fixtures/make_data_fixtures.py
Needs numpy (written with numpy 2.x). All arrays are deterministic (no RNG), so the
Swift tests recompute the expected values from the same formulas. Output is a few KB.
"""
import gzip
import os
import struct
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "data")


def path(name):
    return os.path.join(OUT, name)


def lcg_bytes(n, seed=12345):
    """Pseudo-random bytes (incompressible enough that zlib stores them)."""
    out, x = bytearray(), seed
    for _ in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        out.append((x >> 16) & 0xFF)
    return bytes(out)


def arrays():
    return {
        # f4 3x4: 0.5*i - 1
        "f4": (np.arange(12, dtype=np.float32) * 0.5 - 1).reshape(3, 4),
        # f8 [5]: -1, -0.5, 0, 0.5, 1
        "f8": np.linspace(-1.0, 1.0, 5),
        "i8": np.array([-3, 0, 7, 2**40, -(2**62)], dtype=np.int64),
        "u1": np.array([[0, 1, 127], [128, 254, 255]], dtype=np.uint8),
        "b1": np.array([True, False, True, True, False, False]),
        # 0-d float64 scalar
        "scalar": np.array(3.25),
        # 3-d f4 2x3x4: i / 8
        "cube": (np.arange(24, dtype=np.float32) / 8).reshape(2, 3, 4),
        "i4": np.array([-(2**31), -1, 0, 2**31 - 1], dtype=np.int32),
        "i2": np.array([-32768, -1, 32767], dtype=np.int16),
        "i1": np.array([-128, -1, 127], dtype=np.int8),
        "u2": np.array([0, 65535], dtype=np.uint16),
        "u4": np.array([0, 2**32 - 1], dtype=np.uint32),
        "u8": np.array([0, 2**63 + 5], dtype=np.uint64),
        "empty": np.zeros((0, 3), dtype=np.float32),
        # compressible: deflate uses a dynamic-Huffman block for it
        "ramp": (np.arange(1500) % 97).astype(np.int16),
        # hard to compress (pseudo-random bytes)
        "noise": np.frombuffer(lcg_bytes(800), dtype=np.uint8),
    }


def write_idx(name, type_code, fmt, arr):
    header = bytes([0, 0, type_code, arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    data = arr.astype(fmt).tobytes()
    with open(path(name), "wb") as f:
        f.write(header + data)
    return header + data


def image_fixtures():
    """images_compressed.npz (np.savez_compressed): a tiny image set in two layouts.

    x_train uint8 [6, 5, 4, 3] (NHWC) with value (7*i + 3) % 256 at flat index i, x_test
    uint8 [2, 5, 4, 3] with (11*i + 5) % 256; xf_train / xf_test the same images as float32
    NCHW ([6, 3, 5, 4], [2, 3, 5, 4]); y_train [0, 1, 2, 0, 1, 2], y_test [2, 1] (int64).
    """
    x_train = ((np.arange(6 * 5 * 4 * 3) * 7 + 3) % 256).astype(np.uint8).reshape(6, 5, 4, 3)
    x_test = ((np.arange(2 * 5 * 4 * 3) * 11 + 5) % 256).astype(np.uint8).reshape(2, 5, 4, 3)
    np.savez_compressed(path("images_compressed.npz"), x_train=x_train, x_test=x_test,
                        xf_train=x_train.transpose(0, 3, 1, 2).astype(np.float32),
                        xf_test=x_test.transpose(0, 3, 1, 2).astype(np.float32),
                        y_train=np.array([0, 1, 2, 0, 1, 2], dtype=np.int64), y_test=np.array([2, 1], dtype=np.int64))


def main():
    os.makedirs(OUT, exist_ok=True)
    image_fixtures()
    a = arrays()
    np.savez(path("plain.npz"), **a)
    np.savez_compressed(path("compressed.npz"), **a)

    # Fortran-order 2x3x4 int32 holding 0..23 in C order.
    np.save(path("fortran.npy"), np.asfortranarray(np.arange(24, dtype=np.int32).reshape(2, 3, 4)))
    # Big-endian float64 2x3: i / 4.
    np.save(path("bigendian.npy"), (np.arange(6, dtype=">f8") / 4).reshape(2, 3))
    # Format versions 2.0 and 3.0 of a small float32 [4]: 1, 2, 3, 4.
    for version in [(2, 0), (3, 0)]:
        with open(path(f"v{version[0]}.npy"), "wb") as f:
            np.lib.format.write_array(f, np.arange(1, 5, dtype=np.float32), version=version)

    # Reference files for NPY.encode, which must match numpy byte for byte.
    np.save(path("encoded_f4.npy"), np.arange(1, 5, dtype=np.float32))
    np.save(path("encoded_i8.npy"), np.arange(-3, 3, dtype=np.int64).reshape(2, 3))
    np.save(path("encoded_f8_scalar.npy"), np.array(-2.5))

    # IDX: ubyte images 3x4x5 with value (37*i + 11) % 256, a float32 2x3, an int16 [4].
    images = ((np.arange(60) * 37 + 11) % 256).astype(np.uint8).reshape(3, 4, 5)
    raw = write_idx("images.idx3-ubyte", 0x08, ">u1", images)
    with open(path("images.idx3-ubyte.gz"), "wb") as f:
        f.write(gzip.compress(raw, mtime=0))
    write_idx("floats.idx2-float", 0x0D, ">f4", np.array([[0.5, -1.25, 3.0], [1e-3, 0.0, -7.5]], dtype=np.float32))
    write_idx("shorts.idx1-short", 0x0B, ">i2", np.array([-2, 300, -32768, 32767], dtype=np.int16))

    # Raw deflate streams of one source text, one per block type.
    # Part one: bytes drawn with weights 2^-k (plus every byte value at least once) in
    # scrambled order, so the literal code has lengths up to 15 bits (beyond the 10-bit
    # fast table); part two: words with repeats at many distances (length/distance pairs).
    skewed = bytearray()
    for k in range(11):
        skewed += bytes([65 + k]) * (1 << (10 - k))
    skewed += bytes(range(256))
    order = lcg_bytes(2 * len(skewed), seed=7)
    keys = [order[2 * i] << 8 | order[2 * i + 1] for i in range(len(skewed))]
    skewed = bytes(b for _, b in sorted(zip(keys, skewed)))
    words = [b"alpha", b"beta", b"gamma", b"delta", b"terrain", b"loss", b"landscape", b"\n"]
    text = b" ".join(words[(i * i + 3 * i) % len(words)] + str(i % 37).encode() for i in range(300))
    source = skewed + text
    with open(path("deflate_source.txt"), "wb") as f:
        f.write(source)
    for name, level, strategy in [("stored", 0, zlib.Z_DEFAULT_STRATEGY),
                                  ("fixed", 9, zlib.Z_FIXED),
                                  ("dynamic", 9, zlib.Z_DEFAULT_STRATEGY)]:
        c = zlib.compressobj(level, zlib.DEFLATED, -15, 8, strategy)
        stream = c.compress(source) + c.flush()
        assert (stream[0] >> 1) & 3 == {"stored": 0, "fixed": 1, "dynamic": 2}[name]
        with open(path(f"{name}.deflate"), "wb") as f:
            f.write(stream)

    # CSV with a header (quoted names and numbers, spaces, trailing blank line) and without.
    with open(path("with_header.csv"), "w", newline="") as f:
        f.write('x,"y, quoted",z\n1,2.5,-3\n"4", 5e-1 ,6\n7,8,9\n\n')
    with open(path("no_header.csv"), "w", newline="") as f:
        f.write("1,2\r\n3,4\r\n-5.5,6e2\r\n")


if __name__ == "__main__":
    main()
