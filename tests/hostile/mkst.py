#!/usr/bin/env python3
"""Write the hostile safetensors corpus into tests/hostile/safetensors/.

Development tool (python3 standard library only); the build does not run it. Every file and
directory written here must be refused by the safetensors reader with an error message; the
unit test check_safetensors.c (test_hostile) opens each one. README.md lists why each is bad.

Usage: python3 tests/hostile/mkst.py   (from the repository root)
"""
import json
import os
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "safetensors")


def st(header, data=b"", n=None, pad=True):
    """A safetensors file: u64 LE N, header bytes, data. header may be str, bytes or a dict."""
    if isinstance(header, dict):
        header = json.dumps(header, separators=(",", ":"))
    if isinstance(header, str):
        header = header.encode("utf-8")
    if pad and n is None:
        header += b" " * (-len(header) % 8)
    if n is None:
        n = len(header)
    return struct.pack("<Q", n) + header + data


def t(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


GOOD = {"__metadata__": {"format": "pt"}, "w": t("F32", [2, 2], 0, 16)}
GOOD_DATA = bytes(range(16))

# (name, description, bytes)
FILES = [
    ("empty", "zero bytes: no header length", b""),
    ("len7", "7 bytes: the 8-byte header length is cut", b"\x02\x00\x00\x00\x00\x00\x00"),
    ("n0", "header length 0: no JSON object fits", st(b"", n=0, pad=False)),
    ("n1", "header length 1", st(b"{", n=1, pad=False)),
    ("n-huge", "header length 2^64-1, over the 100,000,000-byte maximum",
     st(b"{}", n=(1 << 64) - 1, pad=False)),
    ("n-max-plus-1", "header length 100,000,001, one over the maximum",
     st(b"{}", n=100000001, pad=False)),
    ("n-past-eof", "header length 4096 in a 16-byte file", st(b"{}      ", n=4096, pad=False)),
    ("not-utf8", "header holds the byte 0xff",
     st(b'{"w\xff":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"\x00")),
    ("utf8-surrogate", "header holds an encoded UTF-16 surrogate (ED A0 80)",
     st(b'{"\xed\xa0\x80":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"\x00")),
    ("utf8-overlong", "header holds an overlong encoding of '/' (C0 AF)",
     st(b'{"\xc0\xaf":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"\x00")),
    ("bad-json", "header is not JSON (unterminated object)", st(b'{"w":{"dtype":"F32"')),
    ("json-array", "header is a JSON array, not an object", st(b"[]")),
    ("json-string", "header is a JSON string", st(b'"{}"')),
    ("nul-padding", "header padded with NUL bytes instead of spaces",
     st(b"{}\x00\x00\x00\x00\x00\x00", pad=False)),
    ("deep-array", "100000 nested '[' (parser depth bomb)", st(b"[" * 100000, pad=False)),
    ("deep-object", "20000 nested objects in __metadata__",
     st(b'{"__metadata__":' + b'{"a":' * 20000 + b'"x"' + b"}" * 20000 + b"}")),
    ("duplicate-tensor", "the same tensor name twice",
     st(b'{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
        b'"w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', b"\x00\x01")),
    ("duplicate-field", "dtype given twice in one tensor entry",
     st(b'{"w":{"dtype":"U8","dtype":"I8","shape":[1],"data_offsets":[0,1]}}', b"\x00")),
    ("unknown-dtype", "dtype \"F31\" is not in the table", st({"w": t("F31", [1], 0, 4)}, b"\0" * 4)),
    ("lowercase-dtype", "dtype \"f32\": the names are case-sensitive",
     st({"w": t("f32", [1], 0, 4)}, b"\0" * 4)),
    ("ggml-dtype", "dtype \"Q4_K\": ggml block types are not safetensors dtypes",
     st({"w": t("Q4_K", [256], 0, 144)}, b"\0" * 144)),
    ("dtype-number", "dtype is a number", st(b'{"w":{"dtype":17,"shape":[1],"data_offsets":[0,4]}}',
                                             b"\0" * 4)),
    ("missing-shape", "tensor entry without shape",
     st(b'{"w":{"dtype":"F32","data_offsets":[0,4]}}', b"\0" * 4)),
    ("missing-offsets", "tensor entry without data_offsets",
     st(b'{"w":{"dtype":"F32","shape":[1]}}', b"")),
    ("entry-not-object", "tensor entry is an array", st(b'{"w":["F32",[1],[0,4]]}', b"\0" * 4)),
    ("negative-dim", "shape [-1]", st(b'{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}',
                                      b"\0" * 4)),
    ("float-dim", "shape [2.0]: dimensions are integers",
     st(b'{"w":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}', b"\0" * 8)),
    ("string-dim", "shape [\"2\"]",
     st(b'{"w":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}}', b"\0" * 8)),
    ("huge-dim", "a dimension of 2^64 does not fit in 64 bits",
     st(b'{"w":{"dtype":"U8","shape":[18446744073709551616],"data_offsets":[0,1]}}', b"\0")),
    ("too-many-dims", "shape with 9 dimensions (cap 8)",
     st({"w": t("U8", [1] * 9, 0, 1)}, b"\0")),
    ("shape-product-overflow", "2^32 x 2^32 x 2 elements overflow 64 bits",
     st({"w": t("U8", [1 << 32, 1 << 32, 2], 0, 0)})),
    ("bits-overflow", "2^61 U64 elements: the bit count overflows 64 bits",
     st({"w": t("U64", [1 << 61], 0, 0)})),
    ("f4-odd", "3 F4 elements are 12 bits, not whole bytes", st({"w": t("F4", [3], 0, 2)}, b"\0\0")),
    ("size-mismatch", "F32 [2,3] needs 24 bytes, data_offsets give 16",
     st({"w": t("F32", [2, 3], 0, 16)}, b"\0" * 16)),
    ("offsets-one", "data_offsets with one number",
     st(b'{"w":{"dtype":"U8","shape":[1],"data_offsets":[0]}}', b"\0")),
    ("offsets-three", "data_offsets with three numbers",
     st(b'{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1,1]}}', b"\0")),
    ("offsets-negative", "data_offsets [-1,0]",
     st(b'{"w":{"dtype":"U8","shape":[1],"data_offsets":[-1,0]}}', b"\0")),
    ("offsets-float", "data_offsets [0,1.5]",
     st(b'{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1.5]}}', b"\0\0")),
    ("end-before-begin", "second tensor has data_offsets [8,4]",
     st({"a": t("U8", [8], 0, 8), "b": t("U8", [0], 8, 4)}, b"\0" * 8)),
    ("gap-start", "the first tensor begins at 4, bytes 0..4 are not covered",
     st({"w": t("U8", [4], 4, 8)}, b"\0" * 8)),
    ("gap-middle", "4 uncovered bytes between two tensors",
     st({"a": t("U8", [4], 0, 4), "b": t("U8", [4], 8, 12)}, b"\0" * 12)),
    ("overlap", "two tensors share bytes 4..8",
     st({"a": t("U8", [8], 0, 8), "b": t("U8", [8], 4, 12)}, b"\0" * 12)),
    ("ten-same-offsets", "ten tensors all claim [0,16]",
     st({"t%d" % i: t("F32", [4], 0, 16) for i in range(10)}, b"\0" * 16)),
    ("trailing-bytes", "one byte after the last tensor (polyglot room)", st(GOOD, GOOD_DATA + b"\0")),
    ("trailing-empty", "an empty header {} followed by 100 bytes", st(b"{}", b"\0" * 100)),
    ("data-past-eof", "the tensor runs 8 bytes past the end of the file", st(GOOD, GOOD_DATA[:8])),
    ("offset-past-eof", "data_offsets of 2^40 in a small file",
     st({"w": t("U8", [1 << 40], 0, 1 << 40)}, b"\0")),
    ("meta-number", "__metadata__ value is a number", st({"__metadata__": {"format": 1}})),
    ("meta-object", "__metadata__ value is an object",
     st({"__metadata__": {"format": {"a": "b"}}})),
    ("meta-array", "__metadata__ is an array", st({"__metadata__": ["pt"]})),
    ("meta-string", "__metadata__ is a string", st({"__metadata__": "pt"})),
    ("nul-name", "a tensor name with an embedded NUL (\\u0000)",
     st(b'{"a\\u0000b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"\0")),
    ("long-name", "a tensor name of 5000 bytes (cap 4096)",
     st({"n" * 5000: t("U8", [1], 0, 1)}, b"\0")),
]


def index(weight_map, metadata=None):
    d = {}
    if metadata is not None:
        d["metadata"] = metadata
    d["weight_map"] = weight_map
    return json.dumps(d, indent=2).encode()


def shard(names, dtype="F32"):
    """A valid shard holding 4-byte F32 scalars-ish tensors [1] named names."""
    h = {"__metadata__": {"format": "pt"}}
    for i, n in enumerate(sorted(names)):
        h[n] = t(dtype, [1], 4 * i, 4 * i + 4)
    return st(h, b"\0" * (4 * len(names)))


S1 = "model-00001-of-00002.safetensors"
S2 = "model-00002-of-00002.safetensors"
WM = {"a": S1, "b": S1, "c": S2}

# (name, description, {file: bytes})
DIRS = [
    ("shard-missing", "the index lists a shard that is not there",
     {"model.safetensors.index.json": index(WM, {"total_size": 12}), S1: shard(["a", "b"])}),
    ("shard-outside", "weight_map points to ../ (outside the directory)",
     {"model.safetensors.index.json": index({"a": S1, "b": S1, "c": "../" + S2}),
      S1: shard(["a", "b"]), S2: shard(["c"])}),
    ("shard-absolute", "weight_map points to an absolute path",
     {"model.safetensors.index.json": index({"a": "/etc/passwd"}), S1: shard(["a"])}),
    ("tensor-two-shards", "tensor b is in both shards",
     {"model.safetensors.index.json": index(WM), S1: shard(["a", "b"]), S2: shard(["b", "c"])}),
    ("tensor-not-in-map", "shard 2 holds tensor d that weight_map does not list",
     {"model.safetensors.index.json": index(WM), S1: shard(["a", "b"]), S2: shard(["c", "d"])}),
    ("map-tensor-absent", "weight_map lists tensor e that no shard holds",
     {"model.safetensors.index.json": index(dict(WM, e=S2)), S1: shard(["a", "b"]),
      S2: shard(["c"])}),
    ("map-wrong-shard", "weight_map puts c in shard 1, but it is in shard 2",
     {"model.safetensors.index.json": index(dict(WM, c=S1)), S1: shard(["a", "b"]),
      S2: shard(["c"])}),
    ("map-not-object", "weight_map is an array",
     {"model.safetensors.index.json": b'{"weight_map": ["' + S1.encode() + b'"]}',
      S1: shard(["a"])}),
    ("map-value-number", "a weight_map value is a number",
     {"model.safetensors.index.json": b'{"weight_map": {"a": 1}}', S1: shard(["a"])}),
    ("index-bad-json", "the index is not JSON",
     {"model.safetensors.index.json": b'{"weight_map": {', S1: shard(["a"])}),
    ("index-duplicate-key", "the index repeats a weight_map key",
     {"model.safetensors.index.json":
      b'{"weight_map": {"a": "' + S1.encode() + b'", "a": "' + S1.encode() + b'"}}',
      S1: shard(["a"])}),
    ("shard-corrupt", "shard 2 is cut short by 3 bytes",
     {"model.safetensors.index.json": index(WM), S1: shard(["a", "b"]), S2: shard(["c"])[:-3]}),
    ("siblings-missing", "no index, shard 2 of 2 is missing",
     {S1: shard(["a", "b"])}),
    ("config-only", "config.json and no weights",
     {"config.json": b'{"model_type": "llama", "hidden_size": 64}'}),
    ("config-broken", "valid weights, but config.json is not JSON",
     {"model.safetensors": shard(["a"]), "config.json": b'{"hidden_size": 64,'}),
    ("config-not-object", "config.json is a JSON array",
     {"model.safetensors": shard(["a"]), "config.json": b"[1, 2, 3]"}),
    ("two-unrelated", "two unrelated .safetensors files and no index or model.safetensors",
     {"a.safetensors": shard(["a"]), "b.safetensors": shard(["b"])}),
]


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    readme = [
        "# Hostile safetensors inputs",
        "",
        "Written by `tests/hostile/mkst.py` (run it again to regenerate). The safetensors reader",
        "must refuse every entry here with a negative error code and a one-line message;",
        "`tests/unit/check_safetensors.c` (test_hostile) opens each, with and without probing.",
        "Directories are model directories or sharded checkpoints opened as a whole.",
        "",
        "| entry | why it is bad |",
        "|---|---|",
    ]
    for i, (name, why, data) in enumerate(FILES):
        fn = "%02d-%s.safetensors" % (i, name)
        with open(os.path.join(OUT, fn), "wb") as f:
            f.write(data)
        readme.append("| `%s` | %s |" % (fn, why))
    for i, (name, why, files) in enumerate(DIRS):
        dn = "d%02d-%s" % (i, name)
        os.makedirs(os.path.join(OUT, dn))
        for fn, data in files.items():
            with open(os.path.join(OUT, dn, fn), "wb") as f:
                f.write(data)
        readme.append("| `%s/` | %s |" % (dn, why))
    readme.append("")
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write("\n".join(readme))
    print("wrote %d files and %d directories to %s" % (len(FILES), len(DIRS), OUT),
          file=sys.stderr)


if __name__ == "__main__":
    main()
