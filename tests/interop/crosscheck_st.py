#!/usr/bin/env python3
"""Cross-check `qinspect --json` against the safetensors headers read with Python's json module:
names, dtypes, shapes and data offsets of every tensor, and __metadata__. Not run by make check.
usage: crosscheck_st.py QINSPECT FILE.safetensors..."""
import json
import struct
import subprocess
import sys

ST = {"F32": "f32", "F16": "f16", "BF16": "bf16", "I32": "i32", "I64": "i64", "I8": "i8", "U8": "u8",
      "I16": "i16", "F64": "f64", "BOOL": "bool", "U16": "u16", "U32": "u32", "U64": "u64",
      "F8_E4M3": "f8_e4m3", "F8_E5M2": "f8_e5m2"}
bad = 0
for path in sys.argv[2:]:
    b = open(path, "rb").read()
    n = struct.unpack_from("<Q", b, 0)[0]
    h = json.loads(b[8:8 + n])
    meta = h.pop("__metadata__", {}) or {}
    ts = sorted(h.items(), key=lambda kv: tuple(kv[1]["data_offsets"]))
    d = json.loads(subprocess.run([sys.argv[1], "--json", "--full", "--no-set", path],
                                  capture_output=True).stdout)
    m = d["models"][0]
    q = [t for t in m["tensors"]]
    errs = []
    if len(q) != len(ts):
        errs.append("count %d vs %d" % (len(q), len(ts)))
    for (name, info), t in zip(ts, q):
        want = (name, ST.get(info["dtype"], info["dtype"]), info["shape"], info["data_offsets"][0],
                info["data_offsets"][1] - info["data_offsets"][0], 8 + n + info["data_offsets"][0])
        got = (t["name"], t["type"], t["shape"], t["data_offset"], t["bytes"], t["offset"])
        if want != got:
            errs.append("%s: %s vs %s" % (name, got, want))
    qm = {k: v["value"] for k, v in m["metadata"].items() if v.get("origin") == "__metadata__"}
    if qm and qm != meta:
        errs.append("metadata %s vs %s" % (qm, meta))
    print("%s %s: %d tensors%s" % ("ok  " if not errs else "FAIL", path, len(ts),
                                   "" if not errs else ": " + "; ".join(errs[:4])))
    bad += bool(errs)
print("%d files, %d failed" % (len(sys.argv) - 2, bad))
sys.exit(1 if bad else 0)
