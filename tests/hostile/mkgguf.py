#!/usr/bin/env python3
"""Write the hostile GGUF files of tests/hostile/gguf/ and their README.

A development tool (python3, standard library only); the build does not run it. Every file is
small and must be rejected by the GGUF reader with a one-line message. Re-run after changing
this script:  python3 tests/hostile/mkgguf.py  (from the repository root), then commit the
output. The layout follows spec/gguf.md (GGUF v3 unless a file says otherwise).
"""
import os
import struct
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gguf")

# value types
U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
# ggml types used here
T_F32, T_F16, T_Q4_0, T_Q8_0, T_F64 = 0, 1, 2, 8, 28


class G:
    """Little-endian GGUF v3 byte builder that records structural boundaries."""

    def __init__(self):
        self.b = bytearray()
        self.marks = []  # (offset, label)

    def mark(self, label):
        self.marks.append((len(self.b), label))

    def raw(self, data):
        self.b += data
        return self

    def u8(self, v):
        return self.raw(struct.pack("<B", v))

    def u16(self, v):
        return self.raw(struct.pack("<H", v))

    def u32(self, v):
        return self.raw(struct.pack("<I", v & 0xFFFFFFFF))

    def i32(self, v):
        return self.raw(struct.pack("<i", v))

    def u64(self, v):
        return self.raw(struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF))

    def s(self, text):
        data = text.encode() if isinstance(text, str) else text
        self.u64(len(data))
        return self.raw(data)

    def header(self, nt, nkv, version=3, magic=b"GGUF"):
        self.raw(magic)
        self.mark("magic")
        self.u32(version)
        self.mark("version")
        self.u64(nt)
        self.mark("tensor count")
        self.u64(nkv)
        self.mark("metadata count")
        return self

    def kv(self, key, vtype, payload):
        """payload: bytes already encoded"""
        self.s(key)
        self.mark("key '%s'" % (key if isinstance(key, str) else key.decode("latin-1")))
        self.u32(vtype)
        self.mark("value type of '%s'" % key)
        self.raw(payload)
        self.mark("value of '%s'" % key)
        return self

    def kv_str(self, key, val):
        return self.kv(key, STRING, struct.pack("<Q", len(val.encode())) + val.encode())

    def kv_u32(self, key, val):
        return self.kv(key, U32, struct.pack("<I", val))

    def ti(self, name, dims, ttype, off):
        self.s(name)
        self.mark("name of tensor '%s'" % (name if isinstance(name, str) else name.decode("latin-1")))
        self.u32(len(dims))
        self.mark("n_dims of a tensor")
        for d in dims:
            self.u64(d)
        self.mark("dims of a tensor")
        self.u32(ttype)
        self.mark("type of a tensor")
        self.u64(off)
        self.mark("offset of a tensor")
        return self

    def pad(self, align=32):
        while len(self.b) % align:
            self.b.append(0)
        return self

    def data(self, n, seed=1):
        self.raw(bytes((seed + 7 * i) & 0xFF for i in range(n)))
        return self


def str_array(items):
    out = struct.pack("<IQ", STRING, len(items))
    for it in items:
        d = it.encode()
        out += struct.pack("<Q", len(d)) + d
    return out


def base_kvs(g):
    g.kv_str("general.architecture", "llama")
    g.kv("tokenizer.ggml.tokens", ARRAY, str_array(["<unk>", "<s>", "</s>"]))
    g.kv_u32("llama.block_count", 1)


def valid():
    """A valid file: 3 KV, tensor 'tok.weight' F32 [4,2] and 'q.weight' Q8_0 [32]."""
    g = G().header(2, 3)
    base_kvs(g)
    g.ti("tok.weight", [4, 2], T_F32, 0)
    g.ti("q.weight", [32], T_Q8_0, 32)
    g.mark("end of tensor infos")
    g.pad()
    g.mark("data start")
    g.data(32)  # tensor 0: 32 bytes
    g.mark("end of tensor 'tok.weight'")
    g.data(34, 100)  # tensor 1: 34 bytes
    g.pad()
    return g


def one_tensor(name="t", dims=(8,), ttype=T_F32, off=0, data=32, kvs=None):
    g = G().header(1, len(kvs) if kvs else 0)
    for k in kvs or []:
        g.kv(*k)
    g.ti(name, list(dims), ttype, off)
    g.pad()
    g.data(data)
    g.pad()
    return g.b


def three_tensors(o1, o2, data=96):
    """F32 tensors of 5, 8 and 3 floats: canonical offsets are 0, 32, 64."""
    g = G().header(3, 0)
    g.ti("t0", [5], T_F32, 0)
    g.ti("t1", [8], T_F32, o1)
    g.ti("t2", [3], T_F32, o2)
    g.pad()
    g.data(data)
    return g.b


def nested(depth):
    if depth == 1:
        return struct.pack("<IQBB", U8, 2, 5, 6)
    return struct.pack("<IQ", ARRAY, 1) + nested(depth - 1)


def split_part(no, count, tensors_total, count_type=U16, name="p"):
    g = G().header(1, 3 + (1 if no == 0 else 0))
    if no == 0:
        g.kv_str("general.architecture", "llama")
    g.kv("split.no", U16, struct.pack("<H", no))
    g.kv("split.count", count_type,
         struct.pack("<H", count) if count_type == U16 else struct.pack("<I", count))
    g.kv("split.tensors.count", I32, struct.pack("<i", tensors_total))
    g.ti("%s%d.weight" % (name, no), [8], T_F32, 0)
    g.pad()
    g.data(32)
    return g.b


def main():
    files = {}  # name -> (bytes, reason)

    def add(name, data, why):
        assert name not in files, name
        files[name] = (bytes(data), why)

    # ---- truncations of a valid file at each structural boundary
    v = valid()
    full = bytes(v.b)
    seen = set()
    for off, label in v.marks:
        if off >= len(full) or off in seen:
            continue
        seen.add(off)
        add("trunc-%04d.gguf" % off, full[:off],
            "truncated at byte %d, right after the %s" % (off, label))
    add("trunc-mid-key.gguf", full[:30], "truncated inside the first key")
    add("trunc-mid-array.gguf", full[:90], "truncated inside the tokenizer.ggml.tokens array")
    add("trunc-mid-data.gguf", full[:len(full) - 50], "truncated inside the data of the last tensor")
    add("trunc-short-magic.gguf", b"GG", "2 bytes: shorter than the magic")

    # ---- header
    add("bad-magic.gguf", b"GGML" + full[4:], "magic 'GGML' instead of 'GGUF'")
    add("version-0.gguf", G().header(0, 0, version=0).b, "version 0")
    add("version-4.gguf", G().header(0, 0, version=4).b, "version 4 (only 1-3 exist)")
    add("version-garbage.gguf", G().header(0, 0, version=0x10003).b,
        "version 0x10003: neither byte order gives 1..3")
    add("count-tensors-negative.gguf", G().header(1 << 63, 0).b,
        "tensor count 2^63: negative as int64")
    add("count-tensors-2e64.gguf", G().header((1 << 64) - 1, 0).b,
        "tensor count 2^64-1: negative as int64")
    add("count-kv-2e32.gguf", G().header(0, 1 << 32).kv_u32("a", 1).b,
        "metadata count 2^32 in a tiny file")
    add("count-tensors-2e32.gguf", G().header(1 << 32, 0).ti("t", [8], T_F32, 0).b,
        "tensor count 2^32 in a tiny file")

    # ---- metadata
    add("string-len-huge.gguf", G().header(0, 1).u64(1 << 62).raw(b"general.name").u32(U8).u8(0).b,
        "key length 2^62")
    add("string-len-past-eof.gguf",
        G().header(0, 1).s("general.name").u32(STRING).u64(100).raw(b"only a few bytes").b,
        "string value of 100 bytes with 16 left")
    add("key-empty.gguf", G().header(0, 1).kv("", U32, struct.pack("<I", 1)).raw(bytes(8)).b,
        "empty metadata key")
    add("key-nul.gguf", G().header(0, 1).kv(b"general\0name", U32, struct.pack("<I", 1)).b,
        "metadata key with an embedded NUL")
    g = G().header(0, 2)
    g.kv_u32("general.alignment", 32).kv_u32("general.alignment", 32)
    add("key-duplicate.gguf", g.b, "general.alignment defined twice")
    add("value-type-13.gguf", G().header(0, 1).kv("k", 13, b"\0" * 8).b,
        "value type 13 (ids stop at 12)")
    add("value-type-huge.gguf", G().header(0, 1).kv("k", 0xFFFFFFFF, b"\0" * 8).b,
        "value type 0xffffffff")
    add("array-etype-bad.gguf", G().header(0, 1).kv("a", ARRAY, struct.pack("<IQ", 14, 1) + b"\0" * 8).b,
        "array element type 14")
    add("array-count-huge.gguf",
        G().header(0, 1).kv("a", ARRAY, struct.pack("<IQ", U64, (1 << 61) + 1) + b"\0" * 16).b,
        "array of 2^61+1 u64: byte count overflows 64 bits")
    add("array-count-past-eof.gguf",
        G().header(0, 1).kv("a", ARRAY, struct.pack("<IQ", U32, 1000) + b"\0" * 16).b,
        "array of 1000 u32 with 16 bytes left")
    add("array-strings-huge.gguf",
        G().header(0, 1).kv("a", ARRAY, struct.pack("<IQ", STRING, 1 << 40) + b"\0" * 16).b,
        "array of 2^40 strings (8 bytes each at least) in a tiny file")
    add("array-nested-9.gguf", G().header(0, 1).kv("deep", ARRAY, nested(9)).b,
        "arrays nested 9 deep (the limit is 8)")

    # ---- alignment (with one tensor so that the data layout matters)
    def aligned(vtype, payload):
        return one_tensor(kvs=[("general.alignment", vtype, payload)])

    add("align-0.gguf", aligned(U32, struct.pack("<I", 0)), "general.alignment 0")
    add("align-3.gguf", aligned(U32, struct.pack("<I", 3)), "general.alignment 3: not a power of two")
    add("align-2e31.gguf", aligned(U32, struct.pack("<I", 1 << 31)),
        "general.alignment 2^31: the data section would start past the end of the file")
    add("align-u64.gguf", aligned(U64, struct.pack("<Q", 32)), "general.alignment stored as u64")
    add("align-string.gguf", aligned(STRING, struct.pack("<Q", 2) + b"32"),
        "general.alignment stored as a string")

    # ---- tensor infos
    add("name-64.gguf", one_tensor(name="n" * 64), "tensor name of 64 bytes (at most 63)")
    add("name-empty.gguf", one_tensor(name=""), "empty tensor name")
    add("name-nul.gguf", one_tensor(name=b"blk.0\0x"), "tensor name with an embedded NUL")
    add("name-non-utf8.gguf", one_tensor(name=b"blk.\xff\xfe.weight"), "tensor name that is not UTF-8")
    add("name-overlong-utf8.gguf", one_tensor(name=b"blk\xc0\xae0"),
        "tensor name with an overlong UTF-8 sequence")
    g = G().header(2, 0)
    g.ti("same", [8], T_F32, 0).ti("same", [8], T_F32, 32).pad().data(64)
    add("name-duplicate.gguf", g.b, "two tensors named 'same'")
    add("dims-5.gguf", one_tensor(dims=(8, 1, 1, 1, 1)), "5 dimensions (at most 4)")
    add("dims-negative.gguf", one_tensor(dims=(8, 1 << 63)), "dimension 2^63: negative as int64")
    add("dims-overflow.gguf", one_tensor(dims=(1 << 32, 1 << 32)),
        "dimensions 2^32 x 2^32: element count overflows int64")
    add("dims-overflow-4d.gguf", one_tensor(dims=(1 << 16,) * 4),
        "dimensions (2^16)^4: element count overflows int64")
    add("dims-overflow-empty.gguf", one_tensor(dims=(1 << 40, 0, 1 << 40)),
        "dimensions 2^40 x 0 x 2^40: empty, but the other dimensions overflow int64")
    add("bytes-overflow.gguf", one_tensor(dims=(1 << 31, 1 << 30), ttype=T_F64),
        "f64 [2^31, 2^30]: 2^61 elements fit, 2^64 bytes do not")
    add("type-removed-4.gguf", one_tensor(dims=(32,), ttype=4), "type id 4 (q4_2, removed)")
    add("type-removed-31.gguf", one_tensor(dims=(32,), ttype=31), "type id 31 (q4_0_4_4, removed)")
    add("type-removed-36.gguf", one_tensor(dims=(32,), ttype=36), "type id 36 (iq4_nl_4_4, removed)")
    add("type-unknown-43.gguf", one_tensor(dims=(32,), ttype=43), "type id 43 (unknown)")
    add("type-negative.gguf", one_tensor(dims=(32,), ttype=0xFFFFFFFF), "type id -1")
    add("block-ne0.gguf", one_tensor(dims=(33, 2), ttype=T_Q4_0, data=64),
        "q4_0 rows of 33 elements (block size 32)")
    add("block-ne0-k.gguf", one_tensor(dims=(128,), ttype=12, data=144),
        "q4_K row of 128 elements (block size 256)")

    # ---- data layout
    add("offset-first-nonzero.gguf", one_tensor(off=32, data=64), "first tensor at offset 32, expected 0")
    add("offset-gap.gguf", three_tensors(64, 96, 128), "gap: second tensor at 64, expected 32")
    add("offset-overlap.gguf", three_tensors(0, 64), "overlap: second tensor at 0, expected 32")
    add("offset-misaligned.gguf", three_tensors(20, 64), "second tensor at 20: not aligned, expected 32")
    add("offset-reordered.gguf", three_tensors(64, 32), "tensors stored out of order")
    add("offset-out-of-bounds.gguf", three_tensors(32, (1 << 64) - 8),
        "third tensor at offset 2^64-8")
    add("data-past-eof.gguf", three_tensors(32, 64, 40),
        "offsets fine, but the file ends inside the second tensor")

    # ---- split sets (their part names matter: see README)
    add("split-count-mismatch-00001-of-00002.gguf", split_part(0, 3, 2),
        "named part 1 of 2, but split.count says 3")
    add("split-count-u32-00001-of-00002.gguf", split_part(0, 2, 2, count_type=U32),
        "split.count stored as u32 (llama.cpp reads u16)")
    add("split-missing-00001-of-00002.gguf", split_part(0, 2, 2),
        "part 1 of 2 whose part 2 does not exist")
    add("split-badno-00001-of-00002.gguf", split_part(0, 2, 2, name="a"),
        "part 1 of a set whose part 2 says split.no 0")
    add("split-badno-00002-of-00002.gguf", split_part(0, 2, 2, name="b"),
        "part 2 of 2 with split.no 0 (expected 1)")
    add("split-total-00001-of-00002.gguf", split_part(0, 2, 5, name="c"),
        "split.tensors.count 5 while the set holds 2 tensors")
    add("split-total-00002-of-00002.gguf", split_part(1, 2, 5, name="d"),
        "part 2 of the split-total set")
    add("split-renamed.gguf", split_part(0, 2, 2),
        "split.count 2 but no -NNNNN-of-MMMMM.gguf name: the other part cannot be found")

    os.makedirs(OUT, exist_ok=True)
    for old in os.listdir(OUT):
        if old.endswith(".gguf"):
            os.unlink(os.path.join(OUT, old))
    for name, (data, why) in sorted(files.items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    with open(os.path.join(OUT, "README"), "w") as f:
        f.write("Hostile GGUF files: every one must be rejected (negative code, one-line message).\n"
                "Written by tests/hostile/mkgguf.py; do not edit by hand. GGUF v3 little-endian\n"
                "unless stated. Files named split-* form deliberately broken split sets and may\n"
                "open when read alone (QF_OPEN_NO_SET).\n\n")
        width = max(len(n) for n in files)
        for name, (data, why) in sorted(files.items()):
            f.write("%-*s  %5d B  %s\n" % (width, name, len(data), why))
    print("wrote %d files to %s" % (len(files), OUT), file=sys.stderr)


if __name__ == "__main__":
    main()
