#!/usr/bin/env python3
"""Cross-check `qinspect --json` against an independent GGUF parser (this file, written from
the format specification, standard library only) on every GGUF given on the command line:
tensor names, types, shapes (ne order), data offsets and every metadata value must agree.
Not run by `make check` (it reads files outside the project); usage:
    crosscheck_gguf.py QINSPECT FILE.gguf...
"""
import json
import math
import struct
import subprocess
import sys

TYPES = {0: "f32", 1: "f16", 2: "q4_0", 3: "q4_1", 6: "q5_0", 7: "q5_1", 8: "q8_0", 9: "q8_1",
         10: "q2_K", 11: "q3_K", 12: "q4_K", 13: "q5_K", 14: "q6_K", 15: "q8_K", 16: "iq2_xxs",
         17: "iq2_xs", 18: "iq3_xxs", 19: "iq1_s", 20: "iq4_nl", 21: "iq3_s", 22: "iq2_s",
         23: "iq4_xs", 24: "i8", 25: "i16", 26: "i32", 27: "i64", 28: "f64", 29: "iq1_m",
         30: "bf16", 34: "tq1_0", 35: "tq2_0", 39: "mxfp4"}
SCAL = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q",
        11: "<q", 12: "<d"}


def parse(path):
    b = open(path, "rb").read()
    pos = 0

    def rd(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, b, pos)
        pos += struct.calcsize(fmt)
        return v[0]

    def rstr():
        n = rd("<Q")
        nonlocal pos
        s = b[pos:pos + n]
        pos += n
        return s.decode("utf-8", "replace")

    def rval(t):
        if t in SCAL:
            return rd(SCAL[t])
        if t == 8:
            return rstr()
        if t == 9:
            et = rd("<I")
            n = rd("<Q")
            return [rval(et) for _ in range(n)]
        raise ValueError("type %d" % t)

    assert b[:4] == b"GGUF"
    pos = 4
    ver = rd("<I")
    nt = rd("<Q")
    nkv = rd("<Q")
    kv = {}
    for _ in range(nkv):
        k = rstr()
        t = rd("<I")
        kv[k] = rval(t)
    ts = []
    for _ in range(nt):
        name = rstr()
        nd = rd("<I")
        ne = [rd("<Q") for _ in range(nd)]
        t = rd("<I")
        off = rd("<Q")
        ts.append((name, TYPES.get(t, str(t)), ne, off))
    return ver, kv, ts


def same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, float) and math.isnan(a):
            return isinstance(b, float) and math.isnan(b)
        return abs(float(a) - float(b)) <= 1e-6 * max(1.0, abs(float(a)))
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def main():
    qi = sys.argv[1]
    bad = 0
    for path in sys.argv[2:]:
        ver, kv, ts = parse(path)
        out = subprocess.run([qi, "--json", "--full", "--no-set", path], capture_output=True)
        d = json.loads(out.stdout)
        m = d["models"][0]
        errs = []
        if m["version"] != ver:
            errs.append("version")
        qt = m["tensors"]
        if len(qt) != len(ts):
            errs.append("tensor count %d vs %d" % (len(qt), len(ts)))
        for (name, t, ne, off), q in zip(ts, qt):
            if (q["name"], q["type"], q["ne"], q["data_offset"]) != (name, t, ne, off):
                errs.append("tensor %s: %s vs %s" % (name, (q["name"], q["type"], q["ne"], q["data_offset"]), (name, t, ne, off)))
        qm = m["metadata"]
        if set(qm) != set(kv):
            errs.append("keys differ: %s" % (set(qm) ^ set(kv)))
        for k, v in kv.items():
            if k in qm and not same(v, qm[k]["value"]):
                errs.append("key %s differs" % k)
        print("%s %s: %d tensors, %d keys%s" % ("ok  " if not errs else "FAIL", path, len(ts), len(kv),
                                                "" if not errs else ": " + "; ".join(errs[:5])))
        bad += bool(errs)
    print("%d files, %d failed" % (len(sys.argv) - 2, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
