#!/usr/bin/env python3
"""Load compressed-tensors, bitsandbytes 4-bit and MLX checkpoints written by
`qconvert --layout` with the Python `safetensors` package and torch, decode them with an
independent numpy implementation of the spec formulas (bnb-compressed-mlx.md), and compare:

  1. the decoded weights with qtools' own decoding (`qconvert --type F32` of the output to
     GGUF, then to safetensors with --hf-names): identical, except where the spec leaves the rounding to the reader (MLX:
     within one unit in the last place of the scale's dtype);
  2. the decoded weights with the input weights: every error within half a quantization step
     (compressed-tensors; one step where an asymmetric zero point clamps); MLX codes, scales and biases against the spec's reference quantizer;
  3. quantization_config with transformers' BitsAndBytesConfig / CompressedTensorsConfig where
     transformers can build them.

Not run by `make check`. Usage:
    load_layouts2.py QCONVERT WORKDIR --input HF_DIR
Exit status 0 when everything agrees.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
import torch
from safetensors.torch import load_file

FAILS = []


def fail(msg):
    FAILS.append(msg)
    print("  FAIL " + msg)


def f32(t):
    return t.to(torch.float32).numpy()


def unpack_lsb(words, b, n):
    """words [R, C] int32: fields of b bits LSB-first along dim 1; first n fields per row."""
    w = words.numpy().view(np.uint32).astype(np.uint64)
    per = 32 // b
    fields = (w[:, :, None] >> (np.arange(per, dtype=np.uint64) * b)) & ((1 << b) - 1)
    return fields.reshape(w.shape[0], -1)[:, :n].astype(np.int64)


def ct_decode(p, qc):
    g = qc["config_groups"]["group_0"]["weights"]
    b = g["num_bits"]
    if "weight_packed" in p:
        out, inn = [int(v) for v in p["weight_shape"].tolist()]
        q = unpack_lsb(p["weight_packed"], b, inn) - (1 << (b - 1))
        sc = p["weight_scale"]
        G = inn if g.get("strategy") == "channel" else g["group_size"]
        gi = np.arange(inn) // G
        if "weight_zero_point" in p:
            zp = unpack_lsb(p["weight_zero_point"].T.contiguous(), b, out).T - (1 << (b - 1))
        else:
            zp = np.zeros((out, sc.shape[1]), dtype=np.int64)
        deq = (q - zp[:, gi]).astype(np.float32) * f32(sc)[:, gi]
        return torch.from_numpy(deq).to(sc.dtype).to(torch.float32).numpy(), f32(sc)[:, gi]
    # float-quantized FP8, per channel
    sc = p["weight_scale"]
    deq = f32(p["weight"]) * f32(sc)
    return torch.from_numpy(deq).to(sc.dtype).to(torch.float32).numpy(), None


def bnb_decode(p, name):
    qs_key = [k for k in p if k.startswith("weight.quant_state.bitsandbytes__")][0]
    qs = json.loads(bytes(p[qs_key].numpy().tobytes()).decode())
    shape = qs["shape"]
    n = int(np.prod(shape))
    bs = qs["blocksize"]
    raw = p["weight"].numpy().reshape(-1)
    codes = np.empty(raw.size * 2, dtype=np.int64)
    codes[0::2] = raw >> 4  # first element in the high nibble
    codes[1::2] = raw & 15
    codes = codes[:n]
    qmap = f32(p["weight.quant_map"])
    if "weight.nested_absmax" in p:
        nmap = f32(p["weight.nested_quant_map"])
        nabs = f32(p["weight.nested_absmax"])
        nbs = qs["nested_blocksize"]
        a = p["weight.absmax"].numpy().astype(np.int64)
        absmax = (nmap[a] * nabs[np.arange(a.size) // nbs]).astype(np.float32) + np.float32(
            qs["nested_offset"])
    else:
        absmax = f32(p["weight.absmax"])
    deq = (qmap[codes] * absmax[np.arange(n) // bs]).astype(np.float32)
    # bitsandbytes returns the weights in the model's dtype (quant_state "dtype")
    td = {"float16": torch.float16, "bfloat16": torch.bfloat16}.get(qs["dtype"], torch.float32)
    deq = torch.from_numpy(deq).to(td).to(torch.float32).numpy()
    return deq.reshape(shape), qmap


def mlx_decode(p, qc):
    b, G = qc["bits"], qc["group_size"]
    sc, bi = p["scales"], p["biases"]
    out = sc.shape[0]
    inn = p["weight"].shape[1] * 32 // b
    w = p["weight"].numpy().view(np.uint32)
    bits = ((w[:, :, None] >> np.arange(32, dtype=np.uint32)) & 1).astype(np.uint64)
    bits = bits.reshape(out, -1)[:, : inn * b].reshape(out, inn, b)
    q = (bits << np.arange(b, dtype=np.uint64)).sum(axis=2).astype(np.float32)
    gi = np.arange(inn) // G
    deq = f32(sc)[:, gi] * q + f32(bi)[:, gi]
    return deq, f32(sc)[:, gi]


def mlx_quantize(w, b, G):
    """The spec's reference quantizer (mlx/ops.cpp fallback), float32, per group: codes, s, bias."""
    n = (1 << b) - 1
    out, inn = w.shape
    g = w.reshape(out, inn // G, G).astype(np.float32)
    mn, mx = g.min(axis=2), g.max(axis=2)
    s = np.maximum((mx - mn) / np.float32(n), np.float32(1e-7)).astype(np.float32)
    use_min = np.abs(mn) > np.abs(mx)
    edge = np.where(use_min, mn, mx).astype(np.float32)
    s = np.where(use_min, s, -s).astype(np.float32)
    q0 = np.rint(edge / s)
    nz = q0 != 0
    s = np.where(nz, edge / np.where(nz, q0, 1), s).astype(np.float32)
    bias = np.where(nz, edge, 0).astype(np.float32)
    q = np.clip(np.rint((g - bias[:, :, None]) / s[:, :, None]), 0, n)
    return q.reshape(out, inn).astype(np.int64), s, bias


def groups(tensors, suffixes):
    out = {}
    for k, v in tensors.items():
        for s in suffixes:
            if k.endswith(s):
                out.setdefault(k[: -len(s)], {})[s.lstrip(".")] = v
                break
    return out


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        fail("%s: exit %d: %s" % (" ".join(cmd), r.returncode, r.stderr.strip()[-300:]))
    return r


def check_case(qconvert, indir, work, name, args, family):
    print("== %s (%s)" % (name, " ".join(args)))
    out = os.path.join(work, name)
    if run([qconvert, *args, "-f", indir, "-o", out]).returncode:
        return
    # qtools' decoding: to an F32 GGUF (GGUF names, llama.cpp's Q/K row order), then back to
    # safetensors with the Hugging Face names and row order
    mid = os.path.join(work, name + ".f32.gguf")
    back = os.path.join(work, name + ".f32.safetensors")
    if run([qconvert, "-t", "F32", "-f", out, "-o", mid]).returncode:
        return
    if run([qconvert, "-t", "F32", "--hf-names", "-f", mid, "-o", back]).returncode:
        return
    ours = load_file(back)
    t = load_file(os.path.join(out, "model.safetensors"))  # the real loader
    cfg = json.load(open(os.path.join(out, "config.json")))
    orig = load_file(os.path.join(indir, "model.safetensors")) if os.path.exists(
        os.path.join(indir, "model.safetensors")) else {}
    if family == "ct":
        qc = cfg["quantization_config"]
        layers = groups(t, [".weight_packed", ".weight_scale", ".weight_zero_point",
                            ".weight_shape", ".weight"])
        layers = {k: v for k, v in layers.items() if "weight_scale" in v}
    elif family == "bnb":
        layers = {}
        for k in t:
            if ".weight.quant_state.bitsandbytes__" in k:
                base = k.split(".weight.quant_state.")[0]
                layers[base] = {kk[len(base) + 1:]: vv for kk, vv in t.items()
                                if kk.startswith(base + ".weight")}
    else:
        qc = cfg["quantization"]
        layers = groups(t, [".weight", ".scales", ".biases"])
        layers = {k: v for k, v in layers.items() if "scales" in v}
    if not layers:
        fail("%s: no quantized layers found by the loader" % name)
    nchk = 0
    for base, p in sorted(layers.items()):
        if family == "ct":
            deq, step = ct_decode(p, qc)
        elif family == "bnb":
            deq, qmap = bnb_decode(p, base)
            step = None
        else:
            deq, step = mlx_decode(p, qc)
        mine = ours.get(base + ".weight")
        if mine is None:
            fail("%s: %s.weight missing from qconvert's F32 export" % (name, base))
            continue
        mine = mine.numpy()
        if mine.shape != deq.shape:
            fail("%s: %s shape %s vs %s" % (name, base, mine.shape, deq.shape))
            continue
        d = np.abs(mine - deq)
        if family == "mlx":
            sd = t[base + ".scales"].dtype
            tol = np.abs(torch.from_numpy(deq).to(sd).to(torch.float32).numpy() - deq) * 2 + 1e-30
            bad = d > np.maximum(tol, np.abs(deq) * (2.0 ** -10))
        else:
            bad = d != 0
        if bad.any():
            fail("%s: %s: %d of %d values differ from the spec decoding (max %g)" %
                 (name, base, int(bad.sum()), d.size, float(d.max())))
        w = orig.get(base + ".weight")
        if family == "mlx" and w is not None:
            # the codes, scales and biases against the spec's reference quantizer: scales and
            # biases equal after rounding to the stored dtype, codes equal except where the
            # f32 arithmetic lands within an ulp of a rounding tie
            q_ref, s_ref, b_ref = mlx_quantize(f32(w), qc["bits"], qc["group_size"])
            sd = p["scales"].dtype
            rs = torch.from_numpy(s_ref).to(sd).to(torch.float32).numpy()
            rb = torch.from_numpy(b_ref).to(sd).to(torch.float32).numpy()
            if (rs != f32(p["scales"])).any() or (rb != f32(p["biases"])).any():
                fail("%s: %s: scales/biases differ from the reference quantizer (%d, %d)" %
                     (name, base, int((rs != f32(p["scales"])).sum()),
                      int((rb != f32(p["biases"])).sum())))
            b = qc["bits"]
            wq = p["weight"].numpy().view(np.uint32)
            bits = ((wq[:, :, None] >> np.arange(32, dtype=np.uint32)) & 1).astype(np.uint64)
            inn = q_ref.shape[1]
            bits = bits.reshape(wq.shape[0], -1)[:, : inn * b].reshape(wq.shape[0], inn, b)
            q = (bits << np.arange(b, dtype=np.uint64)).sum(axis=2).astype(np.int64)
            dq = np.abs(q - q_ref)
            if dq.max() > 1 or (dq != 0).mean() > 1e-3:
                fail("%s: %s: %d codes differ from the reference quantizer (max %d)" %
                     (name, base, int((dq != 0).sum()), int(dq.max())))
        elif w is not None and step is not None:
            e = np.abs(deq - f32(w))
            # asymmetric: the zero point is rounded to an integer and the codes clamped, so an
            # edge value may be up to one step off (compressed-tensors' own quantizer does this)
            half = 1.0 if "weight_zero_point" in p else 0.5
            lim = np.abs(step) * half * 1.01 + np.abs(f32(w)) * 2.0 ** -7 + 1e-6
            if (e > lim).any():
                fail("%s: %s: %d errors beyond half a step (max %g)" %
                     (name, base, int((e > lim).sum()), float(e.max())))
        nchk += 1
    print("  %d layers loaded with safetensors/torch and decoded; agree with qtools" % nchk)
    if family == "bnb":
        try:
            from transformers import BitsAndBytesConfig
            BitsAndBytesConfig.from_dict(cfg["quantization_config"])
            print("  transformers BitsAndBytesConfig accepts quantization_config")
        except Exception as ex:  # reported, not a failure: optional package behaviour
            print("  transformers BitsAndBytesConfig: %s" % ex)
    if family == "ct":
        try:
            from transformers import CompressedTensorsConfig
            CompressedTensorsConfig.from_dict(cfg["quantization_config"])
            print("  transformers CompressedTensorsConfig accepts quantization_config")
        except Exception as ex:
            print("  transformers CompressedTensorsConfig: %s" % ex)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("qconvert")
    ap.add_argument("work")
    ap.add_argument("--input", required=True)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    cases = [
        ("ct-int4-g128-asym", ["--layout=ct-int4", "--group-size=128", "--asym"], "ct"),
        ("ct-int4-g128-sym", ["--layout=ct-int4", "--group-size=128", "--sym"], "ct"),
        ("ct-int4-channel", ["--layout=ct-int4", "--group-size=-1"], "ct"),
        ("ct-int8-g128", ["--layout=ct-int8", "--group-size=128"], "ct"),
        ("ct-fp8", ["--layout=ct-fp8"], "ct"),
        ("bnb-nf4", ["--layout=bnb-nf4"], "bnb"),
        ("bnb-nf4-dq", ["--layout=bnb-nf4", "--double-quant"], "bnb"),
        ("bnb-fp4-dq", ["--layout=bnb-fp4", "--double-quant"], "bnb"),
        ("mlx-4-g64", ["--layout=mlx", "--bits=4", "--group-size=64"], "mlx"),
        ("mlx-8-g32", ["--layout=mlx", "--bits=8", "--group-size=32"], "mlx"),
    ]
    for name, args, fam in cases:
        try:
            check_case(a.qconvert, a.input, a.work, name, args, fam)
        except Exception as ex:
            fail("%s: %s: %s" % (name, type(ex).__name__, ex))
    print("%d passed, %d failed" % (len(cases) - len({f.split(":")[0] for f in FAILS}),
                                   len({f.split(":")[0] for f in FAILS})))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
