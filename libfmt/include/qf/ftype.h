/* qf/ftype.h - llama.cpp file types (llama_ftype, stored as GGUF general.file_type) and the
 * per-tensor type choice of llama-quantize.
 *
 * A file type such as "Q4_K_M" names a *recipe*, not one tensor type: llama-quantize gives
 * each tensor a type from the file type's base type (Q4_K), a mixing recipe that spends more
 * bits on some tensors (attn_v, ffn_down, output.weight, ...) and a shape fallback for rows
 * whose length is not a multiple of the chosen type's block size. qf_ftype_tensor_type()
 * reproduces that choice without reading any tensor data, so a tool can predict the exact
 * size of a quantized model, or check a file's label against the tensors it holds.
 *
 * Two versions of the recipe are known (see QF_QUANT_RECIPE_NEW): the default is the one of
 * llama.cpp b4748 (February 2025), verified tensor by tensor against files written by that
 * llama-quantize; the newer one follows the later llama-quant.cpp (different shape fallbacks
 * for Q2_K/Q3_K, attn_qkv handled like attn_v).
 *
 * Everything here is constant data or pure computation: thread-safe, no allocation except
 * in qf_ftype_plan (documented there).
 */
#ifndef QF_FTYPE_H
#define QF_FTYPE_H

#include <stddef.h>
#include <stdint.h>

#include "qf/error.h"
#include "qf/model.h"
#include "qf/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* llama_ftype values (GGUF general.file_type). Ids 4-6 and 33-35 were removed by llama.cpp but
 * still appear in old files; qf_ftype_info() knows their names. */
enum qf_ftype {
    QF_FTYPE_ALL_F32 = 0,
    QF_FTYPE_F16 = 1,
    QF_FTYPE_Q4_0 = 2,
    QF_FTYPE_Q4_1 = 3,
    QF_FTYPE_Q8_0 = 7,
    QF_FTYPE_Q5_0 = 8,
    QF_FTYPE_Q5_1 = 9,
    QF_FTYPE_Q2_K = 10,
    QF_FTYPE_Q3_K_S = 11,
    QF_FTYPE_Q3_K_M = 12,
    QF_FTYPE_Q3_K_L = 13,
    QF_FTYPE_Q4_K_S = 14,
    QF_FTYPE_Q4_K_M = 15,
    QF_FTYPE_Q5_K_S = 16,
    QF_FTYPE_Q5_K_M = 17,
    QF_FTYPE_Q6_K = 18,
    QF_FTYPE_IQ2_XXS = 19,
    QF_FTYPE_IQ2_XS = 20,
    QF_FTYPE_Q2_K_S = 21,
    QF_FTYPE_IQ3_XS = 22,
    QF_FTYPE_IQ3_XXS = 23,
    QF_FTYPE_IQ1_S = 24,
    QF_FTYPE_IQ4_NL = 25,
    QF_FTYPE_IQ3_S = 26,
    QF_FTYPE_IQ3_M = 27,
    QF_FTYPE_IQ2_S = 28,
    QF_FTYPE_IQ2_M = 29,
    QF_FTYPE_IQ4_XS = 30,
    QF_FTYPE_IQ1_M = 31,
    QF_FTYPE_BF16 = 32,
    QF_FTYPE_TQ1_0 = 36,
    QF_FTYPE_TQ2_0 = 37,
    QF_FTYPE_MXFP4_MOE = 38,
    QF_FTYPE_NVFP4 = 39,
    QF_FTYPE_Q1_0 = 40,
    QF_FTYPE_Q2_0 = 41,       /* id not confirmed by every llama.cpp version */
    QF_FTYPE_GUESSED = 1024,  /* never stored: "not specified" */
};

struct qf_ftype_info {
    int id;               /* enum qf_ftype */
    const char *name;     /* llama-quantize spelling: "Q4_K_M", "F16", "MXFP4_MOE" */
    const char *enum_name;/* llama.h suffix: "MOSTLY_Q4_K_M", "ALL_F32" */
    int base_type;        /* default tensor type (enum qf_type); QF_TYPE_INVALID if removed */
    int removed;          /* 1 for ids llama.cpp no longer produces (4-6, 33-35) */
};

/* Info of a file type id, or NULL if the id was never assigned. The result is static. */
QF_API const struct qf_ftype_info *qf_ftype_info(int ftype);

/* All known file types in id order (removed ones included); *n receives the count. */
QF_API const struct qf_ftype_info *qf_ftype_list(size_t *n);

/* Name of a file type ("Q4_K_M"), "?" if unknown. */
QF_API const char *qf_ftype_name(int ftype);

/* File type from a name, case-insensitive: llama-quantize names ("q4_k_m"), its aliases
 * ("Q4_K" = Q4_K_M, "Q3_K" = Q3_K_M, "Q5_K" = Q5_K_M), llama.h names ("MOSTLY_Q4_K_M",
 * "ALL_F32") or a decimal id. Returns -1 if unknown or removed. */
QF_API int qf_ftype_from_name(const char *name);

/* ---------------------------------------------------------------------------------------
 * Per-tensor type choice (llama-quantize's llama_tensor_get_type + shape fallback)
 */

/* Model-level facts the recipe depends on. Fill by hand or with qf_quant_model_init. */
struct qf_quant_model {
    char arch[64];        /* general.architecture; "falcon" has its own rules; "" = unknown */
    uint32_t n_layer;     /* {arch}.block_count: ffn_* layer indices count up to it */
    uint32_t n_head;      /* for gqa = n_head / n_head_kv (0 when unknown) */
    uint32_t n_head_kv;
    uint32_t n_expert;    /* 0 or 1 for dense models */
    uint32_t n_attn_v;    /* number of attn_v-like tensors (names containing attn_v.weight,
                             attn_qkv.weight or attn_kv_b.weight) */
    int has_output;       /* an "output.weight" tensor exists; if not, token_embd.weight takes
                             the output rule (tied embeddings) */
    int is_70b;           /* llama.cpp's LLM_TYPE_70B: llama, 80 layers, n_head != n_head_kv */
};

/* Options, as llama-quantize's command line. Zero-initialise, then set output_type and
 * token_embd_type to -1 unless overriding. */
struct qf_quant_opts {
    unsigned flags;       /* QF_QUANT_* below */
    int output_type;      /* --output-tensor-type, or -1 */
    int token_embd_type;  /* --token-embedding-type, or -1 */
};

#define QF_QUANT_PURE 0x01         /* --pure: no mixing, every eligible tensor gets the base */
#define QF_QUANT_LEAVE_OUTPUT 0x02 /* --leave-output-tensor */
#define QF_QUANT_IMATRIX 0x04      /* an importance matrix is used (changes a few rules) */
#define QF_QUANT_RECIPE_NEW 0x08   /* the later llama-quant.cpp: Q2_K/Q3_K rows fall back to
                                      Q4_0 (not IQ4_NL), attn_qkv/attn_kv_b follow the attn_v
                                      rule, the fallback applies also with --pure */
#define QF_QUANT_FALLBACK_F16 0x10 /* types with 32-element blocks fall back to F16 instead of
                                      being refused (the newest llama-quant.cpp) */

/* Running counters, in llama-quantize's processing order. Zero-initialise per model. */
struct qf_quant_state {
    uint32_t i_attn_v, i_ffn_down, i_ffn_gate, i_ffn_up;
    uint32_t n_fallback;  /* tensors that took a shape fallback so far */
};

/* What qf_ftype_tensor_type did (bits of *how). */
#define QF_QUANT_KEPT 0x01      /* not eligible for quantization: cur_type returned */
#define QF_QUANT_MIXED 0x02     /* the recipe chose a type other than the base type */
#define QF_QUANT_FALLBACK 0x04  /* the row length forced a fallback type */

/* Non-zero if llama-quantize would quantize this tensor at all (spec: >= 2 dimensions
 * counting only dimensions > 1, name ends with "weight", not a norm, not a gate-input,
 * position-embedding, conv or other small tensor; not output.weight under LEAVE_OUTPUT).
 * shape is row-major (shape[n_dims-1] is the row), as in struct qf_tensor. */
QF_API int qf_ftype_eligible(const char *name, int n_dims, const uint64_t *shape,
                             const struct qf_quant_opts *opts);

/* The type llama-quantize gives tensor `name` (row-major shape) when quantizing to ftype.
 * Call it for the model's tensors in llama-quantize's order (qf_ftype_order), with one
 * state per model: attn_v and ffn_* choices depend on running counts. cur_type is the
 * tensor's present type, returned unchanged for tensors that are not eligible. opts may be
 * NULL (defaults). If how is not NULL it receives QF_QUANT_* bits.
 * Returns a type (enum qf_type, >= 0), QF_EUNSUPPORTED when llama-quantize would refuse the
 * model ("Unsupported tensor size": no fallback fits the row length), or QF_EINVAL for an
 * unknown or removed ftype. */
QF_API int qf_ftype_tensor_type(int ftype, const struct qf_quant_model *mi,
                                const struct qf_quant_opts *opts, struct qf_quant_state *st,
                                const char *name, int n_dims, const uint64_t *shape,
                                int cur_type, unsigned *how);

/* Compare two tensor names in llama.cpp's loader order (which llama-quantize follows):
 * names not starting with "blk.N." first, sorted bytewise, then by layer number, bytewise
 * within a layer. Returns <0, 0, >0 like strcmp. */
QF_API int qf_ftype_name_cmp(const char *a, const char *b);

/* Fill *mi from a model: architecture facts (qf/arch.h), has_output and n_attn_v from its
 * tensor names (GGUF names; Hugging Face names are mapped with qf_arch_gguf_tensor_name). */
QF_API int qf_quant_model_init(struct qf_quant_model *mi, const struct qf_model *m);

/* Predict the type of every tensor of model m quantized to ftype: types[i] is the type of
 * qf_model_tensor(m, i) (caller provides qf_model_n_tensors(m) ints). Tensors are visited in
 * llama-quantize's order; Hugging Face names are mapped to GGUF names first, and for
 * non-GGUF models tensors that are not eligible are given F32 (what the GGUF converter
 * writes for them). Allocates a temporary index array. Returns QF_OK; QF_EUNSUPPORTED if
 * llama-quantize would refuse (err names the first offending tensor); QF_EINVAL for a bad
 * ftype; QF_ENOMEM. */
QF_API int qf_ftype_plan(const struct qf_model *m, int ftype, const struct qf_quant_opts *opts,
                         int *types, struct qf_error *err);

#ifdef __cplusplus
}
#endif
#endif /* QF_FTYPE_H */
