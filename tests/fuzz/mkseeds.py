#!/usr/bin/env python3
"""Write the seed inputs of the fuzz corpora (tests/fuzz/corpus/<target>/seed-*).

A development tool (python3, standard library only); the build does not run it. Run from the
repository root after changing it: python3 tests/fuzz/mkseeds.py. Seeds are small on purpose:
`make check` replays every corpus file, and libFuzzer mutates small inputs faster. Header-only
copies of the fixture GGUF files keep the structure (the targets also open with truncated data
allowed). Files the fuzzers found (crash-*, slow-*, cov-*) live beside the seeds and are never
touched here.
"""
import glob
import hashlib
import json
import os
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")
FIX = os.path.join(ROOT, "tests", "fixtures")
HOST = os.path.join(ROOT, "tests", "hostile")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def read(path):
    with open(path, "rb") as f:
        return f.read()


# ---------------------------------------------------------------------------------------
# GGUF: a tiny writer (v1 u32 lengths, v2/v3 u64, either byte order) and a header measurer
U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
FIXED = {U8: "B", I8: "b", U16: "H", I16: "h", U32: "I", I32: "i", F32: "f", BOOL: "B",
         U64: "Q", I64: "q", F64: "d"}


class W:
    def __init__(self, version=3, be=False):
        self.v, self.e = version, ">" if be else "<"
        self.b = bytearray()

    def p(self, fmt, *a):
        self.b += struct.pack(self.e + fmt, *a)

    def n(self, x):  # a length or count
        self.p("I" if self.v == 1 else "Q", x)

    def s(self, text):
        data = text.encode() if isinstance(text, str) else text
        self.n(len(data))
        self.b += data

    def val(self, t, x):
        if t == STRING:
            self.s(x)
        elif t == ARRAY:
            et, items = x
            self.p("I", et)
            self.n(len(items))
            for it in items:
                self.val(et, it)
        else:
            self.p(FIXED[t], x)


def gguf(kvs, tensors, version=3, be=False, align=32):
    """tensors: (name, ggml type, dims innermost first, nbytes)"""
    w = W(version, be)
    w.b += b"GGUF"
    w.p("I", version)
    w.n(len(tensors))
    w.n(len(kvs))
    for k, t, x in kvs:
        w.s(k)
        w.p("I", t)
        w.val(t, x)
    off = 0
    offs = []
    for name, typ, dims, nbytes in tensors:
        off = (off + align - 1) // align * align
        offs.append(off)
        w.s(name)
        w.p("I", len(dims))
        for d in dims:
            w.n(d)
        w.p("I", typ)
        w.p("Q", off)
        off += nbytes
    start = (len(w.b) + align - 1) // align * align
    w.b += bytes(start - len(w.b))
    for (name, typ, dims, nbytes), o in zip(tensors, offs):
        w.b += bytes(start + o - len(w.b))
        w.b += bytes((i * 7 + 3) & 0xFF for i in range(nbytes))
    return bytes(w.b)


def gguf_header_len(data):
    """Bytes up to the data section of a little-endian v2/v3 GGUF (the fixtures are)."""
    pos = 8

    def u32():
        nonlocal pos
        pos += 4
        return struct.unpack_from("<I", data, pos - 4)[0]

    def u64():
        nonlocal pos
        pos += 8
        return struct.unpack_from("<Q", data, pos - 8)[0]

    def skip(t):
        nonlocal pos
        if t == STRING:
            n = u64()
            pos += n
        elif t == ARRAY:
            et, n = u32(), u64()
            if et in FIXED:
                size = n * struct.calcsize(FIXED[et])
                pos += size
            else:
                for _ in range(n):
                    skip(et)
        else:
            size = struct.calcsize(FIXED[t])
            pos += size

    nt, nkv = u64(), u64()
    align = 32
    for _ in range(nkv):
        k = data[pos + 8:pos + 8 + struct.unpack_from("<Q", data, pos)[0]]
        pos += 8 + len(k)
        t = u32()
        if k == b"general.alignment":
            align = struct.unpack_from("<I", data, pos)[0]
        skip(t)
    for _ in range(nt):
        n = u64()
        pos += n
        nd = u32()
        pos += 8 * nd + 4 + 8
    return (pos + align - 1) // align * align


def small_ggufs():
    vocab = ["<unk>", "<s>", "</s>"] + ["tok%d" % i for i in range(40)] + ["\u00e9t\u00e9", "\u2581a"]
    llama_kv = [
        ("general.architecture", STRING, "llama"),
        ("general.name", STRING, "seed"),
        ("general.file_type", U32, 7),
        ("llama.context_length", U32, 128),
        ("llama.embedding_length", U32, 32),
        ("llama.block_count", U32, 1),
        ("llama.attention.head_count", U32, 2),
        ("llama.attention.layer_norm_rms_epsilon", F32, 1e-5),
        ("tokenizer.ggml.model", STRING, "llama"),
        ("tokenizer.ggml.tokens", ARRAY, (STRING, vocab)),
        ("tokenizer.ggml.scores", ARRAY, (F32, [float(-i) for i in range(len(vocab))])),
        ("tokenizer.ggml.token_type", ARRAY, (I32, [1] * len(vocab))),
        ("tokenizer.ggml.bos_token_id", U32, 1),
        ("general.tags", ARRAY, (ARRAY, [(U8, [1, 2]), (U8, [])])),
        ("x.u8", U8, 200), ("x.i8", I8, -3), ("x.u16", U16, 65535), ("x.i16", I16, -300),
        ("x.bool", BOOL, 1), ("x.u64", U64, 1 << 40), ("x.i64", I64, -(1 << 40)),
        ("x.f64", F64, 0.25),
    ]
    tensors = [
        ("token_embd.weight", 8, [32, 4], 4 * 34),          # Q8_0: 34 bytes per 32
        ("blk.0.attn_norm.weight", 0, [32], 128),           # F32
        ("blk.0.ffn_down.weight", 12, [256, 2], 2 * 144),   # Q4_K: 144 bytes per 256
        ("output.weight", 1, [32, 2], 128),                 # F16
        ("empty", 0, [0, 4], 0),
    ]
    out = {"v3-llama": gguf(llama_kv, tensors)}
    out["v3-be"] = gguf(llama_kv[:8], tensors[:2], be=True)
    out["v2"] = gguf(llama_kv[:9], tensors[1:2], version=2)
    out["v1"] = gguf(llama_kv[:9], tensors[1:2], version=1)
    out["align64"] = gguf([("general.alignment", U32, 64)] + llama_kv[:3], tensors[:2], align=64)
    out["split"] = gguf([("general.architecture", STRING, "llama"), ("split.no", U16, 0),
                         ("split.count", U16, 1), ("split.tensors.count", I32, 2)], tensors[:2])
    out["no-tensors"] = gguf(llama_kv[:4], [])
    return out


# ---------------------------------------------------------------------------------------
def st(header, data=b""):
    h = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(h)) + h + data


def st_header_only(path, extra=64):
    data = read(path)
    n = struct.unpack_from("<Q", data)[0]
    return data[:8 + n + extra]


def small_sts():
    out = {}
    out["f32"] = st({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}, bytes(16))
    out["meta"] = st({"__metadata__": {"format": "pt", "k": "v"},
                      "b": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]},
                      "a": {"dtype": "F8_E4M3", "shape": [2, 1], "data_offsets": [6, 8]},
                      "s": {"dtype": "I64", "shape": [], "data_offsets": [8, 16]},
                      "z": {"dtype": "U8", "shape": [0], "data_offsets": [16, 16]}}, bytes(16))
    out["f4"] = st({"q": {"dtype": "F4", "shape": [4], "data_offsets": [0, 2]},
                    "e": {"dtype": "F8_E8M0", "shape": [1], "data_offsets": [2, 3]}}, bytes(3))
    h = b'{"x":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}   '
    out["padded"] = struct.pack("<Q", len(h)) + h + b"\x00\x3c"
    for d in ("st-gptq-b4-g128-sym", "st-ct-fp8-e4m3-channel"):
        out[d] = st_header_only(os.path.join(FIX, d, "model.safetensors"))
    return out


def main():
    ggufs = small_ggufs()
    sts = small_sts()
    # fuzz_gguf: synthetic files, fixture headers, the hostile corpus
    for k, v in ggufs.items():
        put("fuzz_gguf", k + ".gguf", v)
    for f in ("tiny256-Q4_K_M.llq.gguf", "stories260K-Q6_K.llq.gguf"):
        put("fuzz_gguf", f, read(os.path.join(FIX, "llq-headers", f)))
    put("fuzz_gguf", "odd.gguf", read(os.path.join(FIX, "qinspect", "odd.gguf")))
    for f in ("stories260K-f32-00002-of-00003.gguf", "stories260K-q8_0.gguf"):
        data = read(os.path.join(FIX, f))
        put("fuzz_gguf", "hdr-" + f, data[:gguf_header_len(data) + 64])
    for f in sorted(glob.glob(os.path.join(HOST, "gguf", "*.gguf"))):
        put("fuzz_gguf", "hostile-" + os.path.basename(f), read(f))
    # fuzz_safetensors
    for k, v in sts.items():
        put("fuzz_safetensors", k + ".safetensors", v)
    for f in sorted(glob.glob(os.path.join(HOST, "safetensors", "*.safetensors"))):
        if os.path.getsize(f) <= 8192:
            put("fuzz_safetensors", "hostile-" + os.path.basename(f), read(f))
    # fuzz_probe: one of each kind, and near misses
    put("fuzz_probe", "gguf", ggufs["v3-llama"])
    put("fuzz_probe", "gguf-be", ggufs["v3-be"])
    put("fuzz_probe", "st", sts["meta"])
    put("fuzz_probe", "st-padded", sts["padded"])
    put("fuzz_probe", "json", b'{"weight_map":{}}')
    put("fuzz_probe", "text", b"GGUU not a model\n")
    put("fuzz_probe", "zip", b"PK\x03\x04" + bytes(26))
    # fuzz_pipe: the same inputs through a pipe
    for k in ("v3-llama", "v3-be", "v1", "align64", "no-tensors"):
        put("fuzz_pipe", k + ".gguf", ggufs[k])
    put("fuzz_pipe", "hdr-stories260K-q8_0.gguf",
        read(os.path.join(CORPUS, "fuzz_gguf", "seed-hdr-stories260K-q8_0.gguf")))
    for k in ("f32", "meta", "f4", "padded"):
        put("fuzz_pipe", k + ".safetensors", sts[k])
    for f in ("array-nested-9.gguf", "trunc-mid-array.gguf", "string-len-past-eof.gguf",
              "align-2e31.gguf", "data-past-eof.gguf"):
        put("fuzz_pipe", "hostile-" + f, read(os.path.join(HOST, "gguf", f)))
    # fuzz_json: config files as metadata
    for f in ("stories260K-hf/config.json", "st-gptq-b4-g128-sym/config.json",
              "st-gptq-b4-g128-sym/quantize_config.json", "st-ct-fp8-e4m3-channel/config.json",
              "tiny256-hf/config.json"):
        p = os.path.join(FIX, f)
        if os.path.exists(p):
            put("fuzz_json", f.replace("/", "-"), read(p))
    put("fuzz_json", "types.json", json.dumps({
        "i": 1, "neg": -5, "big": 18446744073709551615, "f": 0.5, "t": True, "n": None,
        "s": "\u00e9", "ai": [1, 2, 3], "af": [1.5, 2], "as": ["a", "b"], "mixed": [1, "a", None],
        "objs": [{"a": 1}], "nested": {"deeper": {"k": [True, False]}}, "empty": [], "eo": {}}))
    put("fuzz_json", "deep.json", "{\"a\":" * 40 + "1" + "}" * 40)
    # fuzz_st_index: index files for the target's shards (a, b in shard 1; c in shard 2)
    s1, s2 = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"
    put("fuzz_st_index", "good.json", json.dumps(
        {"metadata": {"total_size": 22}, "weight_map": {"a": s1, "b": s1, "c": s2}}))
    put("fuzz_st_index", "total-wrong.json", json.dumps(
        {"metadata": {"total_size": "22"}, "weight_map": {"a": s1, "b": s1, "c": s2}}))
    put("fuzz_st_index", "wrong-shard.json", json.dumps({"weight_map": {"a": s2, "b": s1, "c": s2}}))
    put("fuzz_st_index", "missing.json", json.dumps({"weight_map": {"a": s1, "b": s1}}))
    put("fuzz_st_index", "outside.json", json.dumps({"weight_map": {"a": "../" + s1, "c": "/" + s2}}))
    put("fuzz_st_index", "extra.json", json.dumps(
        {"weight_map": {"a": s1, "b": s1, "c": s2, "d": "model-00003-of-00003.safetensors"}}))
    for f in sorted(glob.glob(os.path.join(HOST, "safetensors", "d*", "*.index.json"))):
        put("fuzz_st_index", "hostile-" + os.path.basename(os.path.dirname(f)), read(f))
    # fuzz_qverify: manifests of every kind qverify -c reads
    sha = hashlib.sha256(b"abc").hexdigest()
    put("fuzz_qverify", "gnu.sha256", "%s  file.gguf\n%s *bin mode\n# comment\n\n" % (sha, sha))
    put("fuzz_qverify", "bsd.tag", "SHA256 (file.gguf) = %s\nXXH3 (x) = %s\nXXH64_LE (y) = %s\n"
        % (sha, "0123456789abcdef", "0123456789abcdef"))
    put("fuzz_qverify", "escaped", "\\%s  a\\\\b\\nc\n\\SHA1 (d\\re) = %s\n"
        % (sha, hashlib.sha1(b"").hexdigest()))
    put("fuzz_qverify", "xxhsum", "%s  f1\n%s  f2\n%s  f3\n%s  f4\r\n"
        % ("0" * 32, "1" * 16, "2" * 8, "3" * 40))
    put("fuzz_qverify", "ours", "xxh64     deba5045b6e401e4  m.gguf:blk.1.attn_norm.weight\n"
        "sha256    %s  m.gguf\nheader:sha256  %s  m.gguf\n"
        "uuid      1e0ef3c2-3b18-5a3b-8f3a-1c2d3e4f5a6b  m.gguf\n"
        "sha1      %s  a:b:c:d\n" % (sha, sha, hashlib.sha1(b"").hexdigest()))
    hashes = read(os.path.join(FIX, "gguf-hash", "stories260K-f32-00002-of-00003.gguf.hash.txt"))
    put("fuzz_qverify", "llama-gguf-hash", b"".join(hashes.splitlines(True)[:12]))


if __name__ == "__main__":
    main()
