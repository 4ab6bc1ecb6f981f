#!/usr/bin/env python3
"""Write tests/hostile/layouts/: quantized checkpoints (model.safetensors + config files) whose
layout is broken in one way each, made from the layout fixtures in tests/fixtures/. Every tool
must refuse them (tests/cli/hostile/). Run from the repository root:
    python3 tests/hostile/mklayouts.py
"""
import json
import os
import shutil
import struct

FIX = "tests/fixtures"
OUT = "tests/hostile/layouts"
DTYPE_SIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "U32": 4, "I16": 2,
              "U16": 2, "I8": 1, "U8": 1, "BOOL": 1, "F8_E4M3": 1}


def read_st(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    meta = h.pop("__metadata__", None)
    base = 8 + n
    tensors = {}
    for name, e in h.items():
        s, t = e["data_offsets"]
        tensors[name] = [e["dtype"], list(e["shape"]), b[base + s:base + t]]
    return meta, tensors


def write_st(path, meta, tensors):
    header = {}
    if meta is not None:
        header["__metadata__"] = meta
    off = 0
    blobs = []
    for name in sorted(tensors):
        dtype, shape, data = tensors[name]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(data)]}
        off += len(data)
        blobs.append(data)
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * (-len(hj) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)) + hj + b"".join(blobs))


def resize(t, shape):
    """Give tensor t a new shape and data of the matching size (zeros appended or cut)."""
    n = DTYPE_SIZE[t[0]]
    for d in shape:
        n *= d
    t[1] = shape
    t[2] = (t[2] + bytes(n))[:n]


def case(name, src, what, edit, config_edit=None):
    d = os.path.join(OUT, name)
    os.makedirs(d)
    meta, tensors = read_st(os.path.join(FIX, src, "model.safetensors"))
    edit(tensors)
    write_st(os.path.join(d, "model.safetensors"), meta, tensors)
    for cf in ("config.json", "quantize_config.json", "quant_config.json"):
        p = os.path.join(FIX, src, cf)
        if os.path.exists(p):
            j = json.load(open(p))
            if config_edit:  # edits the quantization settings, wherever they are declared
                config_edit(j.get("quantization_config", j) if cf == "config.json" else j)
            json.dump(j, open(os.path.join(d, cf), "w"), indent=2, sort_keys=True)
    return "%-32s %s" % (name + "/", what)


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    G = "model.layers.0.mlp.down_proj."
    K = "model.layers.0.self_attn.k_proj."
    lines = []

    def gidx_past(t):
        g = bytearray(t[G + "g_idx"][2])
        g[4 * 5:4 * 6] = struct.pack("<i", 1000)
        t[G + "g_idx"][2] = bytes(g)

    def gidx_negative(t):
        g = bytearray(t[G + "g_idx"][2])
        g[0:4] = struct.pack("<i", -1)
        t[G + "g_idx"][2] = bytes(g)

    lines.append(case("gptq-qzeros-rows", "st-gptq-b4-g128-sym",
                      "GPTQ qzeros with 5 group rows where scales and in/128 say 3",
                      lambda t: resize(t[G + "qzeros"], [5, t[G + "qzeros"][1][1]])))
    lines.append(case("gptq-scales-i32", "st-gptq-b4-g128-sym", "GPTQ scales stored as I32",
                      lambda t: t[G + "scales"].__setitem__(0, "I32") or
                      resize(t[G + "scales"], t[G + "scales"][1])))
    lines.append(case("gptq-qweight-1d", "st-gptq-b4-g128-sym", "GPTQ qweight with one dimension",
                      lambda t: resize(t[G + "qweight"], [t[G + "qweight"][1][0] *
                                                         t[G + "qweight"][1][1]])))
    lines.append(case("gptq-scales-missing", "st-gptq-b4-g128-sym",
                      "GPTQ layer without its scales tensor", lambda t: t.pop(G + "scales")))
    lines.append(case("gptq-gidx-past", "st-gptq-b4-g128-asym-descact",
                      "act-order g_idx entry 1000 with 3 groups", gidx_past))
    lines.append(case("gptq-gidx-negative", "st-gptq-b4-g128-asym-descact",
                      "act-order g_idx entry -1", gidx_negative))
    lines.append(case("gptq-gidx-length", "st-gptq-b4-g128-asym-descact",
                      "g_idx of 100 entries for in = 384",
                      lambda t: resize(t[G + "g_idx"], [100])))
    lines.append(case("gptq-group-not-dividing", "st-gptq-b4-g128-sym",
                      "config group_size 100 does not divide in = 384", lambda t: None,
                      lambda q: q.__setitem__("group_size", 100)))
    lines.append(case("awq-qweight-cols", "st-awq-gemm-b4-g128",
                      "AWQ qweight with 15 packed columns where scales say 128 outputs",
                      lambda t: resize(t[G + "qweight"], [t[G + "qweight"][1][0], 15])))
    lines.append(case("awq-scales-rows", "st-awq-gemm-b4-g128",
                      "AWQ scales with 7 group rows for in/128 = 3",
                      lambda t: resize(t[G + "scales"], [7, 128])))
    lines.append(case("bnb-absmax-missing", "st-bnb-nf4-bs64-dq",
                      "bitsandbytes layer without weight.absmax",
                      lambda t: t.pop(G + "weight.absmax")))
    lines.append(case("bnb-quant-state-json", "st-bnb-nf4-bs64-dq",
                      "bitsandbytes quant_state that is not JSON",
                      lambda t: t[G + "weight.quant_state.bitsandbytes__nf4"].__setitem__(
                          2, b"{\"shape\": [128, 3" + b" " * 150)))
    lines.append(case("bnb-absmax-count", "st-bnb-nf4-bs64-dq",
                      "bitsandbytes absmax of 7 blocks for 24576 bytes of codes",
                      lambda t: resize(t[G + "weight.absmax"], [7])))
    lines.append(case("ct-weight-shape", "st-ct-int4-g128-asym",
                      "compressed-tensors weight_shape [128, 999] beside a [128, 48] pack",
                      lambda t: t[G + "weight_shape"].__setitem__(2, struct.pack("<qq", 128, 999))))
    lines.append(case("ct-zero-point-rows", "st-ct-int4-g128-asym",
                      "compressed-tensors zero points for 40 rows of 128",
                      lambda t: resize(t[G + "weight_zero_point"], [5, 3])))
    lines.append(case("ct-scale-f64", "st-ct-int4-g128-asym",
                      "compressed-tensors weight_scale as I64",
                      lambda t: t[G + "weight_scale"].__setitem__(0, "I64") or
                      resize(t[G + "weight_scale"], t[G + "weight_scale"][1])))
    lines.append(case("fp8-scale-missing", "st-ct-fp8-e4m3-channel",
                      "FP8 e4m3 weight without its weight_scale",
                      lambda t: t.pop(G + "weight_scale")))
    M = "model.layers.0.mlp.up_proj."
    lines.append(case("mlx-biases-shape", "st-mlx-tiny", "MLX biases [2, 3] beside scales [2, 2]",
                      lambda t: resize(t[M + "biases"], [2, 3])))
    lines.append(case("mlx-scales-missing", "st-mlx-tiny", "MLX weight and biases, no scales",
                      lambda t: t.pop(M + "scales")))
    with open(os.path.join(OUT, "README"), "w") as f:
        f.write("Quantized checkpoints with a broken layout, written by tests/hostile/mklayouts.py"
                " from\nthe layout fixtures; do not edit by hand. Every tool must refuse each "
                "(tests/cli/hostile/).\n\n")
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
