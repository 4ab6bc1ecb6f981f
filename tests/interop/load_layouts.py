#!/usr/bin/env python3
"""Load GPTQ / AWQ checkpoints written by `qconvert --layout` with the Python `safetensors`
package and torch, decode them with an independent numpy implementation of the spec formulas
(gptq.md §2-§7, awq.md §1-§2), and compare:

  1. the codes, zero points and f16 scales with an independent numpy round-to-nearest
     (AutoGPTQ Quantizer.find_params, AutoAWQ pseudo_quantize_tensor) of the input weights:
     they must be identical;
  2. the decoded weights with the input: max |error| and rmse must equal what qconvert
     reported (--json) for every quantized tensor;
  3. every passed-through tensor with the input, bit for bit;
  4. quantization_config with transformers' GPTQConfig / AwqConfig (when transformers is
     installed), and quantize_config.json with config.json.
With --fixtures DIR (the quantized-checkpoint fixture collection), the decoder itself is first
checked against AutoGPTQ's / AutoAWQ's own dequantized weights (reference.safetensors).

Not run by `make check`. Usage:
    load_layouts.py QCONVERT WORKDIR [--input HF_DIR] [--synth] [--fixtures DIR]
Without --input, --synth writes a random fp16 Llama-shaped checkpoint into WORKDIR.
Exit status 0 when everything agrees.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
import torch
from safetensors.torch import load_file, save_file

AWQ_ORDER = [0, 2, 4, 6, 1, 3, 5, 7]
FAILS = []


def fail(msg):
    FAILS.append(msg)
    print("  FAIL " + msg)


# --------------------------------------------------------------------------------------------
# Decoding (spec formulas, numpy)
def u32(t):
    return t.numpy().view(np.uint32) if isinstance(t, torch.Tensor) else t.view(np.uint32)


def unpack_stream(words, nfields, b):
    """words [R, C] uint32: each column is a little-endian bitstream; field k = bits [kb, kb+b).
    Returns [nfields, C] codes."""
    R, C = words.shape
    bits = ((words[:, :, None] >> np.arange(32, dtype=np.uint32)) & 1).astype(np.uint8)  # R,C,32
    bits = bits.transpose(1, 0, 2).reshape(C, R * 32)[:, : nfields * b].reshape(C, nfields, b)
    vals = (bits.astype(np.uint32) << np.arange(b, dtype=np.uint32)).sum(axis=2)
    return vals.T.astype(np.int64)  # nfields, C


def gptq_decode(p, qc):
    b = qc["bits"]
    qw = u32(p["qweight"])
    qz = u32(p["qzeros"])
    scales = p["scales"].float().numpy()
    gidx = p["g_idx"].numpy().astype(np.int64)
    inf, out = gidx.shape[0], qw.shape[1]
    q = unpack_stream(qw, inf, b)                     # [in, out]
    zf = unpack_stream(qz.T.copy(), out, b).T         # [ngroups, out] stored fields
    v1 = qc.get("checkpoint_format", "gptq") == "gptq"
    z = (zf & ((1 << b) - 1)) + (1 if v1 else 0)
    W = scales[gidx] * (q - z[gidx]).astype(np.float32)  # [in, out], f32
    return W.T.copy(), q.T.copy(), z, scales


def awq_decode(p, qc):
    G = qc["group_size"]
    qw = u32(p["qweight"])
    qz = u32(p["qzeros"])
    sc = p["scales"]
    shifts = np.arange(0, 32, 4, dtype=np.uint32)
    if qc["version"] == "gemm":
        inf, out = qw.shape[0], qw.shape[1] * 8
        nib = (qw[:, :, None] >> shifts) & 15                  # [in, out/8, 8] nibble p
        q = np.empty((inf, out), np.int64)
        zn = (qz[:, :, None] >> shifts) & 15
        z = np.empty((qz.shape[0], out), np.int64)
        for p_, col in enumerate(AWQ_ORDER):
            q[:, col::8] = nib[:, :, p_]
            z[:, col::8] = zn[:, :, p_]
        s16 = sc.numpy().astype(np.float16)                    # [ng, out]
    else:
        out, inf = qw.shape[0], qw.shape[1] * 8
        q = ((qw[:, :, None] >> shifts) & 15).reshape(out, inf).T.astype(np.int64)
        ng = inf // G
        z = ((qz[:, :, None] >> shifts) & 15).reshape(out, -1)[:, :ng].T.astype(np.int64)
        s16 = sc.numpy().astype(np.float16)[:, :ng].T.copy()  # [ng, out]
        if np.any(sc.numpy()[:, ng:] != 0):
            fail("AWQ GEMV scale padding is not zero")
    g = np.arange(inf) // G
    W = ((q - z[g]).astype(np.float32) * s16[g].astype(np.float32)).astype(np.float16)
    return W.astype(np.float32).T.copy(), q.T.copy(), z, s16.astype(np.float32)


# --------------------------------------------------------------------------------------------
# Independent round-to-nearest (numpy float32)
def rtn_gptq(w, b, G, sym):
    out, inf = w.shape
    G = inf if G == -1 else G
    x = w.reshape(out, inf // G, G).astype(np.float32)
    maxq = np.float32(2 ** b - 1)
    xmin = np.minimum(x.min(axis=2), np.float32(0))
    xmax = np.maximum(x.max(axis=2), np.float32(0))
    if sym:
        xmax = np.maximum(np.abs(xmin), xmax)
        xmin = np.where(xmin < 0, -xmax, xmin)
    both = (xmin == 0) & (xmax == 0)
    xmin = np.where(both, np.float32(-1), xmin)
    xmax = np.where(both, np.float32(1), xmax)
    s = ((xmax - xmin) / maxq).astype(np.float32)
    z = np.full_like(s, 2 ** (b - 1)) if sym else np.rint(-xmin / s).astype(np.float32)
    q = np.clip(np.rint(x / s[:, :, None]) + z[:, :, None], 0, maxq)
    return q.reshape(out, inf).astype(np.int64), z.T.astype(np.int64), \
        s.astype(np.float16).astype(np.float32).T


def rtn_awq(w, G):
    out, inf = w.shape
    x = w.reshape(out, inf // G, G).astype(np.float32)
    mx, mn = x.max(axis=2), x.min(axis=2)
    s = (np.maximum(mx - mn, np.float32(1e-5)) / np.float32(15)).astype(np.float32)
    z = np.clip(-np.rint(mn / s), 0, 15).astype(np.float32)
    q = np.clip(np.rint(x / s[:, :, None]) + z[:, :, None], 0, 15)
    return q.reshape(out, inf).astype(np.int64), z.T.astype(np.int64), \
        s.astype(np.float16).astype(np.float32).T


# --------------------------------------------------------------------------------------------
def load_dir(d):
    t = {}
    for f in sorted(os.listdir(d)):
        if f.endswith(".safetensors"):
            t.update(load_file(os.path.join(d, f)))
    return t


def groups(tensors):
    layers = {}
    for k in tensors:
        for part in ("qweight", "qzeros", "scales", "g_idx"):
            if k.endswith("." + part):
                layers.setdefault(k[: -len(part) - 1], {})[part] = tensors[k]
    return layers


def check_config(outdir, layout):
    cfg = json.load(open(os.path.join(outdir, "config.json")))
    qc = cfg["quantization_config"]
    if layout == "gptq":
        side = json.load(open(os.path.join(outdir, "quantize_config.json")))
        if side != qc:
            fail("%s: quantize_config.json differs from config.json's" % outdir)
    try:
        from transformers.utils.quantization_config import AwqConfig, GPTQConfig
        c = (GPTQConfig if layout == "gptq" else AwqConfig).from_dict(dict(qc))
        print("  transformers %s accepts it: bits=%s group_size=%s" %
              (type(c).__name__, c.bits, c.group_size))
    except ImportError:
        print("  (transformers not installed: config not checked by it)")
    except Exception as e:  # a refusal is a finding
        fail("%s: transformers refuses quantization_config: %r" % (outdir, e))
    return qc


def check_case(qconvert, indir, work, name, args):
    outdir = os.path.join(work, name)
    cmd = [qconvert, "--no-fsync", "--force", "--json", "--layout"] + args + [indir, "-o", outdir]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        fail("%s: qconvert exit %d: %s" % (name, r.returncode, r.stderr.strip()))
        return
    rep = json.loads(r.stdout)
    print("%s: %s" % (name, rep["scheme"]))
    qc = check_config(outdir, args[0])
    src = load_dir(indir)
    dst = load_dir(outdir)
    layers = groups(dst)
    reported = {t["name"]: t for t in rep["tensors"]}
    nq = 0
    for base, parts in sorted(layers.items()):
        w = src[base + ".weight"].float().numpy()
        if qc["quant_method"] == "gptq":
            W, q, z, s = gptq_decode(parts, qc)
            G = qc["group_size"]
            rq, rz, rs = rtn_gptq(w, qc["bits"], G, qc["sym"])
        else:
            W, q, z, s = awq_decode(parts, qc)
            rq, rz, rs = rtn_awq(w, qc["group_size"])
        nq += 1
        for what, a, b in (("codes", q, rq), ("zero points", z, rz), ("scales", s, rs)):
            if a.shape != b.shape or np.any(a != b):
                n = int(np.sum(a != b)) if a.shape == b.shape else -1
                fail("%s %s: %d %s differ from the independent RTN" % (name, base, n, what))
        err = W.astype(np.float64) - w.astype(np.float64)
        mx, rmse = float(np.abs(err).max()), float(np.sqrt(np.mean(err ** 2)))
        e = reported[base + ".weight"]["error"]
        ok = abs(mx - e["max_abs"]) <= 1e-7 * max(1.0, mx) and \
            abs(rmse - e["rmse"]) <= 1e-6 * max(rmse, 1e-12)
        if not ok:
            fail("%s %s: decoded max %.9g rmse %.9g, qconvert reported %.9g %.9g" %
                 (name, base, mx, rmse, e["max_abs"], e["rmse"]))
    for k, v in dst.items():
        if k.rsplit(".", 1)[-1] in ("qweight", "qzeros", "scales", "g_idx"):
            continue
        if k not in src or src[k].dtype != v.dtype or not torch.equal(src[k], v):
            fail("%s: passed-through tensor %s differs from the input" % (name, k))
    print("  %d quantized layers decoded; %d other tensors identical" %
          (nq, len(dst) - sum(len(p) for p in layers.values())))


UNDERFLOW = {"gptq-b2-g128-asym-descact", "gptq-b2-g32-asym", "gptq-b3-g128-asym-descact",
             "gptq-b3-gnone-asym"}  # fixture README: v1 zero underflow corrupts qzeros


def check_repack(qconvert, work, src_name, dst_name, args):
    """a qconvert output repacked into another layout: same codes, zero points and scales"""
    src = os.path.join(work, src_name)
    dst = os.path.join(work, dst_name)
    r = subprocess.run([qconvert, "--no-fsync", "--force", "--layout"] + args + [src, "-o", dst],
                       capture_output=True, text=True)
    if r.returncode != 0:
        fail("%s: qconvert exit %d: %s" % (dst_name, r.returncode, r.stderr.strip()))
        return
    qa = check_config(src, "gptq" if "gptq" in src_name else "awq")
    qb = check_config(dst, args[0])
    la, lb = groups(load_dir(src)), groups(load_dir(dst))
    for base in sorted(la):
        da = (gptq_decode if qa["quant_method"] == "gptq" else awq_decode)(la[base], qa)
        db = (gptq_decode if qb["quant_method"] == "gptq" else awq_decode)(lb[base], qb)
        for what, x, y in (("codes", da[1], db[1]), ("zero points", da[2], db[2]),
                           ("scales", da[3], db[3])):
            if x.shape != y.shape or np.any(x != y):
                fail("%s %s: %s changed by the repack" % (dst_name, base, what))
    print("%s: %d layers repacked from %s, codes, zero points and scales kept (%s)" %
          (dst_name, len(la), src_name, r.stderr.strip().splitlines()[0]))


def check_fixtures(fx):
    """fx: the fixture collection (gptq-*, awq-*) or tests/fixtures (st-gptq-*, st-awq-*)"""
    print("decoder against the tools' own dequantization (%s)" % fx)
    for case in sorted(os.listdir(fx)):
        kind = case[3:] if case.startswith("st-") else case
        if not (kind.startswith("gptq-") or kind.startswith("awq-")):
            continue
        d = os.path.join(fx, case)
        if not os.path.exists(os.path.join(d, "reference.safetensors")):
            continue
        qc = json.load(open(os.path.join(d, "config.json")))["quantization_config"]
        t = load_file(os.path.join(d, "model.safetensors"))
        ref = load_file(os.path.join(d, "reference.safetensors"))
        diffs = []
        for base, parts in sorted(groups(t).items()):
            W = (gptq_decode if kind.startswith("gptq") else awq_decode)(parts, qc)[0]
            want = ref[base + ".weight.dequant"].numpy()
            diffs.append(int(np.sum(W.view(np.uint32) != want.view(np.uint32))))
        underflow = kind in UNDERFLOW
        print("  %-30s elements differing per layer: %s%s" %
              (case, diffs, "  (v1 zero underflow: AutoGPTQ decodes it otherwise)"
               if underflow else ""))
        if any(diffs) and not underflow:
            fail("%s: decoder disagrees with the tool" % case)


def synth(work):
    d = os.path.join(work, "synth-in")
    os.makedirs(d, exist_ok=True)
    g = torch.Generator().manual_seed(7)
    hid, ffn, nl = 1024, 2816, 2
    t = {"model.embed_tokens.weight": torch.randn(4096, hid, generator=g) * 0.02,
         "model.norm.weight": torch.ones(hid), "lm_head.weight": torch.randn(4096, hid, generator=g) * 0.02}
    for i in range(nl):
        p = "model.layers.%d." % i
        for n, sh in (("self_attn.q_proj", (hid, hid)), ("self_attn.k_proj", (256, hid)),
                      ("self_attn.v_proj", (256, hid)), ("self_attn.o_proj", (hid, hid)),
                      ("mlp.gate_proj", (ffn, hid)), ("mlp.up_proj", (ffn, hid)),
                      ("mlp.down_proj", (hid, ffn))):
            w = torch.randn(*sh, generator=g) * 0.02
            idx = torch.randperm(w.numel(), generator=g)[: max(4, w.numel() // 1000)]
            w.view(-1)[idx] *= 20
            t[p + n + ".weight"] = w
        t[p + "input_layernorm.weight"] = torch.ones(hid)
        t[p + "post_attention_layernorm.weight"] = torch.ones(hid)
    save_file({k: v.half().contiguous() for k, v in t.items()}, os.path.join(d, "model.safetensors"),
              metadata={"format": "pt"})
    json.dump({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": hid,
               "intermediate_size": ffn, "num_hidden_layers": nl, "num_attention_heads": 16,
               "num_key_value_heads": 4, "vocab_size": 4096, "rms_norm_eps": 1e-5,
               "torch_dtype": "float16"}, open(os.path.join(d, "config.json"), "w"), indent=2)
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("qconvert")
    ap.add_argument("work")
    ap.add_argument("--input")
    ap.add_argument("--synth", action="store_true")
    ap.add_argument("--fixtures")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    if a.fixtures:
        check_fixtures(a.fixtures)
    inputs = []
    if a.input:
        inputs.append(a.input)
    if a.synth or not a.input:
        inputs.append(synth(a.work))
    cases = [
        ("gptq-b4-g128-sym", ["gptq", "--bits", "4", "--group-size", "128", "--sym"]),
        ("gptq-b4-g128-asym", ["gptq", "--bits", "4", "--group-size", "128", "--asym"]),
        ("gptq-b3-g64-asym", ["gptq", "--bits", "3", "--group-size", "64", "--asym"]),
        ("gptq-b2-g32-asym-v2", ["gptq", "--bits", "2", "--group-size", "32", "--asym",
                                 "--gptq-format", "v2"]),
        ("gptq-b8-perchannel-sym", ["gptq", "--bits", "8", "--group-size", "-1", "--sym"]),
        ("gptq-b3-perchannel-sym", ["gptq", "--bits", "3", "--group-size", "-1", "--sym"]),
        ("awq-gemm-g128", ["awq", "--group-size", "128"]),
        ("awq-gemv-g64", ["awq", "--awq-version", "gemv", "--group-size", "64"]),
        ("awq-gemv-g32", ["awq", "--awq-version", "gemv", "--group-size", "32"]),
    ]
    for i, indir in enumerate(inputs):
        print("== input %s" % indir)
        for name, args in cases:
            check_case(a.qconvert, indir, a.work, "%d-%s" % (i, name), args)
    for i in range(len(inputs)):
        check_repack(a.qconvert, a.work, "%d-awq-gemm-g128" % i, "%d-rp-awq2gptq" % i,
                     ["gptq", "--gptq-format", "v2"])
        check_repack(a.qconvert, a.work, "%d-gptq-b4-g128-asym" % i, "%d-rp-gptq2awq" % i,
                     ["awq", "--awq-version", "gemv"])
        check_repack(a.qconvert, a.work, "%d-awq-gemv-g64" % i, "%d-rp-gemv2gemm" % i,
                     ["awq", "--awq-version", "gemm"])
    print("%d failures" % len(FAILS))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
