/* qf/lwrite.h - writing a quantized layout: a Hugging Face-style checkpoint directory whose
 * linear layers are GPTQ or AWQ groups (qweight, qzeros, scales, g_idx), compressed-tensors
 * pack-quantized int4 / int8 or float-quantized FP8 E4M3 layers, bitsandbytes NF4 / FP4
 * blocks (optionally double-quantized) or MLX affine groups, each with the config.json keys
 * the producing tool writes (llm-compressor's quantization_config, transformers'
 * BitsAndBytesConfig, mlx-lm's "quantization" and its copy). Encoding is round-to-nearest as
 * those tools do it (llm-compressor's min/max observer, bitsandbytes' blockwise quantizer,
 * mlx's affine quantizer); for the same float weights the tensors equal the tools' own.
 *
 *   qf_lwrite_plan_new(model, opts)   picks, for every logical tensor of the input (see
 *                                     qf/layout.h: a float model, or a GPTQ / AWQ checkpoint
 *                                     read through qf_layout_scan), whether it becomes a
 *                                     quantized group or is passed through;
 *   qf_lwrite_run(plan, dir)          streams it into dir: model.safetensors, config.json
 *                                     (the input's config.json, if any, with
 *                                     quantization_config set) and, for GPTQ,
 *                                     quantize_config.json, each written atomically (temporary
 *                                     file, fsync, rename).
 *
 * Which tensors are quantized: a 2-D tensor whose name ends in ".weight", that lies inside a
 * repeated block (a name containing "layers.N.", "blk.N.", "h.N." or "blocks.N.") and whose
 * module is a linear layer: the last module name ends in "_proj" or is one of fc1, fc2,
 * fc_in, fc_out, dense, dense_h_to_4h, dense_4h_to_h, query_key_value, c_attn, c_proj, c_fc,
 * w1, w2, w3, wq, wk, wv, wo, attn_q, attn_k, attn_v, attn_output, attn_qkv, ffn_gate, ffn_up,
 * ffn_down (the GGUF names). Embeddings, norms, lm_head / output and 1-D or 3-D tensors are
 * never quantized. A linear layer whose shape the target cannot hold (GPTQ: in and out
 * multiples of 32 and of the group size; AWQ: out a multiple of 8, in of the group size) is
 * passed through and named in a note (AWQ lists it in modules_to_not_convert).
 * Passed-through tensors keep their type when safetensors has it (F16, BF16, F32, integers);
 * GGUF block types (Q4_K, ...) are dequantized to F16; a quantized input layer that is not
 * quantized again is written as F16.
 * GGUF inputs keep their GGUF tensor names (and llama.cpp's Q/K row order): the output is a
 * valid GPTQ/AWQ layout for this library but not a checkpoint transformers can load.
 *
 * Encoding is round-to-nearest as the producing tools do it without calibration data
 * (AutoGPTQ Quantizer.find_params, AutoAWQ pseudo_quantize_tensor; spec gptq.md §2,
 * awq.md §1): lossy, and the error of every quantized tensor is measured in the same pass.
 *
 * Lossless repack: a GPTQ or AWQ input layer whose bits, groups and f16 scales the target can
 * hold as they are (GPTQ <-> AWQ 4-bit without act-order, GPTQ v1 <-> v2, AWQ GEMM <-> GEMV,
 * GPTQ act-order -> GPTQ keeping g_idx; a symmetric target needs a symmetric input) is not
 * rounded again: its codes are unpacked and packed in the target's layout. Its measured error
 * is then only the difference between the two layouts' reference decoders (AWQ rounds the
 * products to f16, GPTQ does not). An AWQ input written as GPTQ is asymmetric by default.
 *
 * Memory: one layer's packed output plus one chunk of rows of floats (and its codes),
 * whatever the model's size.
 *
 * Thread-safety: a plan is used by one thread at a time; the model must stay open while a
 * plan made from it exists.
 */
#ifndef QF_LWRITE_H
#define QF_LWRITE_H

#include <stddef.h>
#include <stdint.h>

#include "qf/convert.h"
#include "qf/error.h"
#include "qf/layout.h"
#include "qf/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* struct qf_lwrite_opts.gptq_format */
enum { QF_LW_GPTQ_AUTO = 0, QF_LW_GPTQ_V1 = 1, QF_LW_GPTQ_V2 = 2 };
/* struct qf_lwrite_opts.awq_version */
enum { QF_LW_AWQ_GEMM = 0, QF_LW_AWQ_GEMV = 1 };

struct qf_lwrite_opts {
    const char *layout;   /* "gptq", "awq", "ct-int4", "ct-int8", "ct-fp8", "bnb-nf4", "mlx",
                             "bnb-fp4" */
    int bits;             /* 0 = 4 (or a GPTQ input's, for GPTQ output); GPTQ 2, 3, 4, 8;
                             AWQ 4 */
    int64_t group_size;   /* 0 = 128 (or the input's when it is a GPTQ/AWQ checkpoint);
                             -1 = one group per output channel (GPTQ only) */
    int sym;              /* -1 = default (GPTQ: a GPTQ input's, else symmetric as AutoGPTQ;
                             AWQ: asymmetric, the only kind AWQ GEMM/GEMV hold), 0 asym,
                             1 sym */
    int gptq_format;      /* QF_LW_GPTQ_*: AUTO writes v1 ("gptq") unless an asymmetric zero
                             point of 0 occurs (v1 cannot hold it, gptq.md §5), then v2
                             ("gptq_v2"); V1 refuses such a model (QF_EUNSUPPORTED, before
                             anything is written); V2 always writes v2. AUTO and V1 with
                             asymmetric quantization decode and encode every layer twice (the
                             first pass only finds the zero points: the convention is in the
                             header, written before the data) */
    int awq_version;      /* QF_LW_AWQ_GEMM or QF_LW_AWQ_GEMV */
    int no_act_order;     /* 1: never keep an act-order g_idx of a GPTQ input (default: kept
                             when the output's group size equals the input's) */
    int double_quant;     /* bitsandbytes: 1 quantizes absmax again (bnb_4bit_use_double_quant) */
};

/* Defaults: layout NULL (must be set), bits 0, group_size 0, sym -1, AUTO, GEMM. */
QF_API void qf_lwrite_opts_init(struct qf_lwrite_opts *o);

/* One logical output tensor. */
struct qf_lwrite_item {
    const char *name;             /* logical name ("model.layers.0.mlp.down_proj.weight") */
    const struct qf_ltensor *src; /* the input's logical tensor (borrowed) */
    int quantized;                /* 1: written as a quantized group (parts below) */
    int out_type;                 /* passed through: the output type (enum qf_type) */
    int n_dims;
    uint64_t shape[QF_MAX_DIMS];  /* logical shape ([out, in] for a quantized layer) */
    uint64_t nbytes;              /* output bytes of all its tensors */
    uint64_t ngroups;             /* quantized: scale rows */
    int act_order;                /* quantized: the input's act-order g_idx is kept */
    int repacked;                 /* quantized: the input layer's codes, zero points and f16
                                     scales are written as they are (lossless; see below) */
    int lossy;                    /* 1 if values can change (error is measured) */
    int measured;                 /* 1 once qf_lwrite_run filled stats */
    struct qf_convert_stats stats;
};

struct qf_lwrite_plan;

/* Plan. QF_EINVAL for bad options (unknown layout, bits, group size, sym for AWQ, ...),
 * QF_EUNSUPPORTED if the input has no tensor to quantize, errors of qf_layout_scan. */
QF_API int qf_lwrite_plan_new(struct qf_model *m, const struct qf_lwrite_opts *o,
                              struct qf_lwrite_plan **out, struct qf_error *err);
QF_API void qf_lwrite_plan_free(struct qf_lwrite_plan *p);

QF_API size_t qf_lwrite_plan_n_items(const struct qf_lwrite_plan *p);
QF_API const struct qf_lwrite_item *qf_lwrite_plan_item(const struct qf_lwrite_plan *p,
                                                        size_t i);
/* Notes (one line each: layers left unquantized and why, act-order dropped, the v2 choice);
 * NULL past the end. */
QF_API const char *qf_lwrite_plan_note(const struct qf_lwrite_plan *p, size_t i);
/* A description of the target: "gptq int4 g128 sym v1", "awq gemm int4 g128". The GPTQ zero
 * point convention of AUTO is known only after qf_lwrite_run ("v1|v2" before). Borrowed. */
QF_API const char *qf_lwrite_plan_scheme(const struct qf_lwrite_plan *p);
/* Totals over the quantized items after a run, as qf_convert_plan_totals. */
QF_API void qf_lwrite_plan_totals(const struct qf_lwrite_plan *p, struct qf_convert_stats *all,
                                  size_t *worst);

struct qf_lwrite_run_opts {
    uint64_t chunk_elems; /* floats per chunk of rows (at least one row), 0 = 1 Mi */
    int no_fsync;         /* skip fsync (tests) */
    int force;            /* replace existing files in dir (else QF_EIO with EEXIST) */
    /* called after every chunk with tensor bytes done and in all; non-zero cancels (QF_EIO,
     * EINTR; nothing of the unfinished file appears). May be NULL. */
    int (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *ctx;
};

/* Write the planned checkpoint into directory dir (created if missing). Files appear one by
 * one, each complete: model.safetensors first, the JSON files last. */
QF_API int qf_lwrite_run(struct qf_lwrite_plan *p, const char *dir,
                         const struct qf_lwrite_run_opts *ro, struct qf_error *err);

#ifdef __cplusplus
}
#endif
#endif /* QF_LWRITE_H */
