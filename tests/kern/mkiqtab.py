#!/usr/bin/env python3
"""Generate libfmt/kern/kern_iqtab.c from the IQ lookup tables given as data.

Usage: python3 tests/kern/mkiqtab.py IQ-TABLES.TXT libfmt/kern/kern_iqtab.c

Rewrites, in place, the part of kern_iqtab.c between the lines BEGIN_MARK and END_MARK below
(the rest of that file, the builder of the quantizers' search tables, is written by hand).
The input format: a line 'table NAME TYPE COUNT' followed by COUNT hexadecimal values (two's
complement for signed types). Not run by the build; the output is committed. Only the Python
standard library is used.
"""
import sys

WANTED = [
    # input name, C name, C type, values per line
    ("kmask_iq2xs", "kern_kmask_iq2xs", "uint8_t", 8),
    ("ksigns_iq2xs", "kern_ksigns_iq2xs", "uint8_t", 8),
    ("kvalues_iq4nl", "kern_kvalues_iq4nl", "int8_t", 8),
    ("kvalues_fp4", "kern_kvalues_fp4", "int8_t", 8),
    ("iq2xxs_grid", "kern_iq2xxs_grid", "uint64_t", 4),
    ("iq2xs_grid", "kern_iq2xs_grid", "uint64_t", 4),
    ("iq2s_grid", "kern_iq2s_grid", "uint64_t", 4),
    ("iq3xxs_grid", "kern_iq3xxs_grid", "uint32_t", 6),
    ("iq3s_grid", "kern_iq3s_grid", "uint32_t", 6),
    ("iq1s_grid", "kern_iq1s_grid", "uint64_t", 4),
]

BEGIN_MARK = "/* BEGIN GENERATED TABLES (tests/kern/mkiqtab.py) */"
END_MARK = "/* END GENERATED TABLES */"

BITS = {"uint8_t": 8, "int8_t": 8, "uint32_t": 32, "uint64_t": 64}


def parse(path):
    tables = {}
    name = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            if line.startswith("table "):
                _, name, ctype, count = line.split()
                tables[name] = (ctype, int(count), [])
                continue
            if name is None:
                raise SystemExit("data before the first table line")
            tables[name][2].extend(int(tok, 16) for tok in line.split())
    for n, (ctype, count, vals) in tables.items():
        if len(vals) != count:
            raise SystemExit("table %s: %d values, expected %d" % (n, len(vals), count))
    return tables


def fmt(ctype, v):
    bits = BITS[ctype]
    if ctype == "int8_t":
        if v >= 128:
            v -= 256
        return "%d" % v
    width = bits // 4
    suffix = "u" if bits == 32 else ("ull" if bits == 64 else "")
    return "0x%0*x%s" % (width, v, suffix)


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    tables = parse(sys.argv[1])
    out = [BEGIN_MARK]
    for src, cname, ctype, per_line in WANTED:
        ttype, count, vals = tables[src]
        if ttype != ctype:
            raise SystemExit("table %s: type %s, expected %s" % (src, ttype, ctype))
        out.append("const %s %s[%d] = {" % (ctype, cname, count))
        for i in range(0, count, per_line):
            out.append("    " + ", ".join(fmt(ctype, v) for v in vals[i:i + per_line]) + ",")
        out.append("};")
        out.append("")
    out.append(END_MARK)
    with open(sys.argv[2], encoding="utf-8") as f:
        text = f.read()
    a = text.find(BEGIN_MARK)
    b = text.find(END_MARK)
    if a < 0 or b < a:
        raise SystemExit("%s: generated-region markers not found" % sys.argv[2])
    text = text[:a] + "\n".join(out) + text[b + len(END_MARK):]
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
