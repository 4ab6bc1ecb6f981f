#!/usr/bin/env python3
"""Write tests/hostile/extra/: hostile inputs the GGUF and safetensors corpora do not have.

A development tool (python3, standard library only); the build does not run it. Re-run after
changing it: python3 tests/hostile/mkextra.py (from the repository root), then commit the
output. Every entry must be refused by every tool (tests/cli/hostile/). The themes:
  - lengths and counts just above 2^32 (a reader that keeps 32 bits sees a small, valid
    value) and just below it in GGUF v1, where they are 32-bit fields;
  - values near 2^63 and 2^64 in safetensors offsets and shapes;
  - big-endian files with little-endian counts, truncated big-endian files;
  - large JSON (many tensors, a long string) that is wrong only at its end;
  - shard directories whose shards are directories, symlink loops or /dev/zero, indexes and
    configs that are deeply nested, not UTF-8 or hold numbers out of range, and split sets
    whose second part is the first one again.
"""
import json
import os
import shutil
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "extra")
U8, STRING, ARRAY = 0, 8, 9
F32, Q4_0 = 0, 2


# ---------------------------------------------------------------------------------------
# GGUF
class G:
    def __init__(self, version=3, be=False):
        self.v, self.e, self.b = version, ">" if be else "<", bytearray()

    def p(self, fmt, *a):
        self.b += struct.pack(self.e + fmt, *a)
        return self

    def n(self, x):  # a length or a count: u32 in v1, else u64
        return self.p("I" if self.v == 1 else "Q", x)

    def s(self, text):
        data = text.encode() if isinstance(text, str) else text
        self.n(len(data))
        self.b += data
        return self

    def head(self, nt, nkv, magic=b"GGUF"):
        self.b += magic
        return self.p("I", self.v).n(nt).n(nkv)

    def raw(self, data):
        self.b += data
        return self

    def pad(self, a=32):
        self.b += bytes(-len(self.b) % a)
        return self


def tensor(g, name, dims, typ, off):
    g.s(name).p("I", len(dims))
    for d in dims:
        g.n(d)
    return g.p("I", typ).p("Q", off)


def gguf_cases():
    c = []
    g = G(1).head(0, 1).s("a").p("I", STRING).p("I", 0xFFFFFFFF).raw(b"abcdefgh")
    c.append(("v1-string-len-2e32m1.gguf", "GGUF v1: string length 2^32-1 with 8 bytes left", g.b))
    g = G(1).head(0xFFFFFFFF, 0).raw(bytes(32))
    c.append(("v1-count-tensors-2e32m1.gguf", "GGUF v1: tensor count 2^32-1", g.b))
    g = G(1).head(0, 1).s("a").p("I", ARRAY).p("I", U8).p("I", 0xFFFFFFFF).raw(b"\1\2\3")
    c.append(("v1-array-count-2e32m1.gguf", "GGUF v1: array of 2^32-1 u8 with 3 bytes left", g.b))
    g = G().head(0, 1).s("a").p("I", STRING).p("Q", (1 << 32) + 5).raw(b"hello")
    c.append(("string-len-2e32p5.gguf",
              "string length 2^32+5 followed by 5 bytes (32 bits of it would read 5)", g.b))
    g = G().head(0, 1).p("Q", (1 << 32) + 1).raw(b"k").p("I", U8).raw(b"\1")
    c.append(("key-len-2e32p1.gguf", "key length 2^32+1 followed by one byte", g.b))
    g = G().head(0, 1).s("a").p("I", ARRAY).p("I", U8).p("Q", (1 << 32) + 1).raw(b"\7")
    c.append(("array-count-2e32p1.gguf", "array of 2^32+1 u8 followed by one byte", g.b))
    g = G().head(0, 1).s("a").p("I", ARRAY).p("I", ARRAY).p("Q", 1).p("I", U8).p("Q", 1 << 60)
    c.append(("nested-count-huge.gguf", "array of one array of 2^60 u8", g.b + b"\0" * 8))
    g = tensor(G().head(1, 0), "t", [(1 << 32) + 1], F32, 0).pad().raw(bytes(32))
    c.append(("dim-2e32p1.gguf", "f32 tensor of 2^32+1 elements in a 96-byte file", g.b))
    g = G().head(1, 0).s("t").p("I", 0xFFFFFFFF).raw(bytes(40))
    c.append(("ndims-2e32m1.gguf", "tensor with 2^32-1 dimensions", g.b))
    g = tensor(G().head(1, 0), "t", [32, 2], Q4_0, 0).pad()
    g.b[4:8] = struct.pack(">I", 3)
    c.append(("be-counts-le.gguf",
              "big-endian version, little-endian counts (read big-endian: 2^56 tensors)",
              bytes(g.b) + bytes(36)))
    g = G(be=True).head(0, 2).s("general.architecture").p("I", STRING).s("llama").s("general.na")
    c.append(("be-trunc-mid-key.gguf", "big-endian file cut inside the second key", g.b))
    g = tensor(G(be=True).head(1, 0), "t", [32], F32, 0).pad().raw(bytes(64))
    c.append(("be-data-past-eof.gguf", "big-endian: 128 bytes of f32 data, 64 present", g.b))
    return c


def split_self():
    """Part 1 of a two-part set whose part 2 is a symlink to part 1."""
    g = G().head(1, 3).s("split.no").p("I", 2).p("H", 0)
    g.s("split.count").p("I", 2).p("H", 2).s("split.tensors.count").p("I", 5).p("i", 2)
    tensor(g, "a", [8], F32, 0).pad().raw(bytes(32))
    return bytes(g.b)


# ---------------------------------------------------------------------------------------
# safetensors
def st(header, data=b""):
    h = header if isinstance(header, bytes) else json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(h)) + h + data


def t(dtype, shape, b, e):
    return {"dtype": dtype, "shape": shape, "data_offsets": [b, e]}


def st_cases():
    c = []
    h = b'{}        '
    c.append(("st-n-2e32p10.safetensors",
              "header length 2^32+10 before a 10-byte header (32 bits of it would read 10)",
              struct.pack("<Q", (1 << 32) + 10) + h))
    c.append(("st-offsets-2e32p4.safetensors",
              "U8 [4] with data_offsets [0, 2^32+4] and 4 bytes of data",
              st({"w": t("U8", [4], 0, (1 << 32) + 4)}, b"\1\2\3\4")))
    c.append(("st-offsets-2e64m1.safetensors", "data_offsets [0, 2^64-1]",
              st({"w": t("U8", [4], 0, (1 << 64) - 1)}, b"\0" * 4)))
    c.append(("st-offsets-2e63.safetensors", "data_offsets [2^63, 2^63+4]",
              st({"w": t("U8", [4], 1 << 63, (1 << 63) + 4)}, b"\0" * 4)))
    c.append(("st-dim-2e63.safetensors", "shape [2^63]",
              st({"w": t("U8", [1 << 63], 0, 4)}, b"\0" * 4)))
    c.append(("st-zero-dim-size.safetensors", "F32 [0, 5] (no elements) with 4 bytes of data",
              st({"w": t("F32", [0, 5], 0, 4)}, b"\0" * 4)))
    c.append(("st-bom.safetensors", "header starts with a UTF-8 byte order mark",
              st(b"\xef\xbb\xbf" + json.dumps({"w": t("U8", [1], 0, 1)}).encode(), b"\0")))
    c.append(("st-whitespace-only.safetensors", "header of 1000 spaces", st(b" " * 1000)))
    c.append(("st-dtype-empty.safetensors", "dtype \"\"", st({"w": t("", [1], 0, 1)}, b"\0")))
    c.append(("st-offsets-1e400.safetensors", "data_offsets [0, 1e400]: out of any number range",
              st(b'{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1e400]}}', b"\0")))
    n = 5000
    hdr = {"t%05d" % i: t("U8", [1], i, i + 1) for i in range(n - 1)}
    hdr["t%05d" % (n - 1)] = t("U8", [1], n, n + 1)
    c.append(("st-many-tensors-gap.safetensors",
              "5000 tensors, the last one leaves a 1-byte gap before it", st(hdr, bytes(n + 1))))
    big = {"__metadata__": {"note": "x" * 200000}, "w": t("F32", [2], 0, 8)}
    c.append(("st-long-string-bad-end.safetensors",
              "a 200000-byte metadata string, then a tensor whose size does not match",
              st(big, b"\0" * 4)))
    return c


S1 = "model-00001-of-00001.safetensors"


def shard(names):
    h = {n: t("F32", [1], 4 * i, 4 * i + 4) for i, n in enumerate(sorted(names))}
    return st(h, bytes(4 * len(names)))


def index(wm):
    return json.dumps({"metadata": {"total_size": 4}, "weight_map": wm}).encode()


def dir_cases():
    """(name, description, {file: bytes | ('link', target) | ('dir',)})"""
    deep = b"[" * 20000 + b"]" * 20000
    return [
        ("dx-index-deep", "weight_map is 20000 nested arrays",
         {"model.safetensors.index.json": b'{"weight_map":' + deep + b"}", S1: shard(["a"])}),
        ("dx-index-huge-map", "weight_map of 5000 tensors, all in a shard that is not there",
         {"model.safetensors.index.json":
          index({"t%04d" % i: "model-00001-of-00002.safetensors" for i in range(5000)})}),
        ("dx-index-not-utf8", "a weight_map key that is not UTF-8",
         {"model.safetensors.index.json":
          b'{"weight_map":{"a\xff":"' + S1.encode() + b'"}}', S1: shard(["a"])}),
        ("dx-index-name-nul", "a weight_map value with an embedded NUL after a valid shard name",
         {"model.safetensors.index.json":
          b'{"weight_map":{"a":"' + S1.encode() + b'\\u0000.bak"}}', S1: shard(["a"])}),
        ("dx-shard-is-dir", "the shard named by the index is a directory",
         {"model.safetensors.index.json": index({"a": S1}), S1 + "/.keep": b""}),
        ("dx-shard-symlink-loop", "the shard is a symbolic link to itself",
         {"model.safetensors.index.json": index({"a": S1}), S1: ("link", S1)}),
        ("dx-shard-devzero", "the shard is a symbolic link to /dev/zero",
         {"model.safetensors.index.json": index({"a": S1}), S1: ("link", "/dev/zero")}),
        ("dx-config-deep", "valid weights, config.json is 20000 nested arrays",
         {"model.safetensors": shard(["a"]), "config.json": b'{"a":' + deep + b"}"}),
        ("dx-config-huge-number", "valid weights, config.json holds 1e999",
         {"model.safetensors": shard(["a"]), "config.json": b'{"hidden_size": 1e999}'}),
    ]


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    rows = []
    for name, why, data in gguf_cases() + st_cases():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        rows.append((name, "%d B" % len(data), why))
    p1, p2 = "split-self-00001-of-00002.gguf", "split-self-00002-of-00002.gguf"
    with open(os.path.join(OUT, p1), "wb") as f:
        f.write(split_self())
    os.symlink(p1, os.path.join(OUT, p2))
    rows.append((p1, "", "part 1 of 2; part 2 is a symbolic link to part 1"))
    rows.append((p2, "link", "part 2 of 2, which is part 1 again (split.no 0)"))
    for name, why, files in dir_cases():
        d = os.path.join(OUT, name)
        os.makedirs(d)
        for fn, data in files.items():
            p = os.path.join(d, fn)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            if isinstance(data, tuple):
                os.symlink(data[1], p)
            else:
                with open(p, "wb") as f:
                    f.write(data)
        rows.append((name + "/", "", why))
    with open(os.path.join(OUT, "README"), "w") as f:
        f.write("Extra hostile inputs, written by tests/hostile/mkextra.py; do not edit by hand.\n"
                "Every entry must be refused by every tool (tests/cli/hostile/).\n\n")
        w = max(len(r[0]) for r in rows)
        for name, size, why in rows:
            f.write("%-*s  %8s  %s\n" % (w, name, size, why))


if __name__ == "__main__":
    main()
