/* qf/convert.h - converting a model: plan every output tensor, then stream the data.
 *
 * 1. qf_convert_plan_new(model, opts)  decides, for each input tensor, its output name, its
 *                                      target type and the path that gets it there:
 *      copy        the bytes are written unchanged (rows may be reordered: the Q/K permutation
 *                  between Hugging Face and GGUF layouts moves whole rows);
 *      requantize  rows are decoded to float32 and encoded in the target type, a bounded
 *                  chunk of rows at a time (dequantize, quantize and float-to-float
 *                  conversions are all this path).
 *    Every output size and offset is known once the plan exists: a dry run is the plan.
 * 2. qf_convert_run(plan, path)        streams: a pool of worker threads reads and converts
 *                                      chunks, one thread writes them in order through
 *                                      qf_writer (temporary file, fsync, rename). Memory is
 *                                      (chunk size x threads), whatever the model's size.
 *                                      Lossy tensors get their error measured in the same
 *                                      pass. Neither the bytes nor the errors depend on the
 *                                      thread count or the chunk size.
 *
 * The target types follow llama-quantize (spec: gguf-hash-and-tools.md §3): the file type's
 * mixing recipe and shape fallbacks (qf/ftype.h), tensors it never quantizes kept as they are,
 * metadata copied with general.quantization_version = 2 and general.file_type set last, split.*
 * keys dropped, tensors in llama.cpp's loader order. A GGUF quantized this way from an F32 or
 * BF16 GGUF equals llama-quantize's output byte for byte (for types whose quantizers are
 * bit-exact, see qf/kernels.h).
 * A safetensors checkpoint (file, shards or Hugging Face directory) of the Llama family
 * converts as llama.cpp's convert_hf_to_gguf.py does (hf-to-gguf-naming.md): GGUF names, Q/K
 * rows permuted, config.json mapped to GGUF keys, the SentencePiece vocabulary of
 * tokenizer.model (a BPE-only tokenizer.json is not converted: the plan then says
 * QF_CONVERT_PLAN_NO_VOCAB).
 * A checkpoint in a quantized layout (qf/layout.h: GPTQ, AWQ, compressed-tensors, ...) has
 * one item per logical tensor: a quantized layer is an item of its [out, in] shape whose src
 * is its qweight part and src_type F32 (rows decoded by qf_layout_dequantize, on the
 * requantize path). Where the target type holds the layer's codes, its blocks are made from
 * them instead, without loss: Q4_0 from GPTQ 4-bit with every zero point 8, Q8_0 from GPTQ
 * 8-bit with every zero point 128, group sizes a multiple of 32, no act-order; Q4_1 from GPTQ
 * / AWQ GEMM 4-bit likewise with any zero points (m = f16(-scale * zero): lossy, measured).
 *
 * Thread-safety: a plan is used by one thread at a time; qf_convert_run starts and joins its
 * own workers. The model must stay open while a plan made from it exists.
 */
#ifndef QF_CONVERT_H
#define QF_CONVERT_H

#include <stddef.h>
#include <stdint.h>

#include "qf/error.h"
#include "qf/ftype.h"
#include "qf/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------
 * Importance matrices (llama.cpp imatrix files: the GGUF format with "<name>.in_sum2" and
 * "<name>.counts" tensors, or the older binary .dat format)
 */
struct qf_imatrix;

/* Load an importance matrix. Values handed to the quantizers are, per tensor and column,
 * in_sum2 / counts (count 0 gives 1; the .dat format divides by its call count), one vector
 * of ne0 values per expert. Non-finite values are refused (QF_EFORMAT). Caller frees with
 * qf_imatrix_free. */
QF_API int qf_imatrix_load(const char *path, struct qf_imatrix **out, struct qf_error *err);
QF_API void qf_imatrix_free(struct qf_imatrix *im);
/* Number of entries, first dataset name ("" if none; borrowed) and chunk count (0 if
 * unknown). */
QF_API size_t qf_imatrix_n_entries(const struct qf_imatrix *im);
QF_API const char *qf_imatrix_dataset(const struct qf_imatrix *im);
QF_API uint64_t qf_imatrix_chunks(const struct qf_imatrix *im);
/* The values of tensor `name`: *ne0 per row, *n_mat vectors (experts). NULL if absent. */
QF_API const float *qf_imatrix_find(const struct qf_imatrix *im, const char *name,
                                    uint64_t *ne0, uint64_t *n_mat);

/* ---------------------------------------------------------------------------------------
 * Options
 */

/* --tensor-type PATTERN=TYPE: tensors whose (GGUF) name contains a match of the extended
 * regular expression `pattern` get `type` (first matching rule wins; the shape fallback
 * still applies). Only when the target's base type is quantized. */
struct qf_convert_rule {
    const char *pattern;
    int type; /* enum qf_type */
};

#define QF_CONVERT_ALLOW_REQUANTIZE 0x01 /* quantized inputs may be requantized to another
                                            quantized type (float targets never need this) */
#define QF_CONVERT_HF_NAMES 0x02         /* safetensors output: Hugging Face names of the
                                            Llama family, Q/K rows un-permuted */

struct qf_convert_opts {
    int ftype;            /* llama file type (enum qf_ftype) whose recipe picks the types; -1
                             to give every eligible tensor `type` instead */
    int type;             /* with ftype -1: the one target type (enum qf_type) */
    const char *format;   /* output container: "gguf" (also when NULL) or "safetensors" */
    unsigned flags;       /* QF_CONVERT_* */
    struct qf_quant_opts quant; /* QF_QUANT_PURE, QF_QUANT_LEAVE_OUTPUT, QF_QUANT_RECIPE_NEW,
                                   output_type, token_embd_type (-1 = none); QF_QUANT_IMATRIX
                                   is set by the planner when imatrix is given */
    const struct qf_convert_rule *rules;
    size_t n_rules;
    const struct qf_imatrix *imatrix; /* may be NULL; borrowed until the plan is freed */
    const char *imatrix_name;         /* written as quantize.imatrix.file (the path given) */
    uint32_t alignment;   /* GGUF data alignment, 0 = the input's general.alignment or 32 */
};

/* Defaults: ftype -1, type -1, GGUF, no overrides. */
QF_API void qf_convert_opts_init(struct qf_convert_opts *o);

/* ---------------------------------------------------------------------------------------
 * Plan
 */
enum qf_convert_path { QF_CONVERT_COPY = 0, QF_CONVERT_REQUANTIZE = 1 };

/* Bits of struct qf_convert_item.how, beside QF_QUANT_KEPT/MIXED/FALLBACK of qf/ftype.h */
#define QF_CONVERT_BY_RULE 0x100   /* a qf_convert_rule chose the type */
#define QF_CONVERT_PERMUTED 0x200  /* rows reordered (Q/K permutation) */

/* Error of a lossy tensor, measured against the float32 values it was made from. */
struct qf_convert_stats {
    uint64_t n;            /* values compared */
    uint64_t n_nonfinite;  /* non-finite input values */
    double sum_sq;         /* sum of squared input values */
    double sse;            /* sum of squared errors */
    double rmse;           /* sqrt(sse / n) */
    double max_abs;        /* largest absolute error */
    double snr_db;         /* 10 log10(sum_sq / sse); +infinity when sse == 0 */
};

/* One output tensor. */
struct qf_convert_item {
    const char *name;             /* output name */
    const struct qf_tensor *src;  /* the input tensor (borrowed from the model) */
    int src_type, type;           /* input and output type (enum qf_type) */
    int path;                     /* enum qf_convert_path */
    unsigned how;                 /* QF_QUANT_* and QF_CONVERT_* bits */
    int n_dims;
    uint64_t shape[QF_MAX_DIMS];  /* row-major, as struct qf_tensor */
    uint64_t nelem;
    uint64_t nbytes;              /* output data size */
    uint64_t offset;              /* absolute offset of the data in the output file */
    int lossy;                    /* 1 if the path can change values (error is measured) */
    int measured;                 /* 1 once qf_convert_run filled stats */
    struct qf_convert_stats stats;
};

/* Bits of qf_convert_plan_flags */
#define QF_CONVERT_PLAN_NO_VOCAB 0x01      /* Hugging Face input whose tokenizer could not be
                                              converted: the output has no vocabulary */
#define QF_CONVERT_PLAN_NEEDS_IMATRIX 0x02 /* a target type needs an importance matrix that
                                              was not given: qf_convert_run refuses */

struct qf_convert_plan;

/* Plan the conversion of m. Fails with QF_EUNSUPPORTED when a tensor cannot get the asked
 * type (no fallback fits its rows, a quantized type for safetensors output, requantizing
 * without QF_CONVERT_ALLOW_REQUANTIZE, an architecture or tokenizer that cannot be mapped),
 * QF_EINVAL for bad options, QF_EFORMAT for an unusable imatrix or tokenizer file. err
 * names the tensor. Caller frees with qf_convert_plan_free (before closing m). */
QF_API int qf_convert_plan_new(struct qf_model *m, const struct qf_convert_opts *o,
                               struct qf_convert_plan **out, struct qf_error *err);
QF_API void qf_convert_plan_free(struct qf_convert_plan *p);

/* Items in file order (the order their data is written). Borrowed from the plan. */
QF_API size_t qf_convert_plan_n_items(const struct qf_convert_plan *p);
QF_API const struct qf_convert_item *qf_convert_plan_item(const struct qf_convert_plan *p,
                                                          size_t i);
/* Output file size, header size, total tensor bytes and elements. */
QF_API uint64_t qf_convert_plan_file_size(const struct qf_convert_plan *p);
QF_API uint64_t qf_convert_plan_header_size(const struct qf_convert_plan *p);
QF_API uint64_t qf_convert_plan_data_bytes(const struct qf_convert_plan *p);
QF_API uint64_t qf_convert_plan_nelem(const struct qf_convert_plan *p);
/* QF_CONVERT_PLAN_* bits. */
QF_API unsigned qf_convert_plan_flags(const struct qf_convert_plan *p);
/* general.file_type written, or -1 if none. */
QF_API int qf_convert_plan_ftype(const struct qf_convert_plan *p);
/* Notes gathered while planning (one line each, e.g. why there is no vocabulary); NULL past
 * the end. */
QF_API const char *qf_convert_plan_note(const struct qf_convert_plan *p, size_t i);
/* Output metadata, in file order (GGUF; for safetensors the __metadata__ strings). */
QF_API size_t qf_convert_plan_n_kv(const struct qf_convert_plan *p);
QF_API const char *qf_convert_plan_kv(const struct qf_convert_plan *p, size_t i,
                                      const struct qf_value **val);

/* ---------------------------------------------------------------------------------------
 * Run
 */
struct qf_convert_run_opts {
    int threads;          /* worker threads, 0 = 1 */
    uint64_t chunk_elems; /* elements per chunk of rows (at least one row), 0 = 1 Mi */
    int no_fsync;         /* skip fsync (tests) */
    /* Called by the writing thread after every chunk with the bytes of tensor data written so
     * far and in all; a non-zero return cancels (the output is removed, QF_EIO with
     * sys_errno EINTR is returned). May be NULL. */
    int (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *ctx;
};

/* Write the planned file to path ("-" = standard output, GGUF only). Nothing appears at path
 * unless every byte was written, checked and synced. Fills every lossy item's stats. */
QF_API int qf_convert_run(struct qf_convert_plan *p, const char *path,
                          const struct qf_convert_run_opts *ro, struct qf_error *err);

/* Totals of the lossy items after a run: *worst receives the index of the item with the
 * lowest SNR (or SIZE_MAX if none was measured). */
QF_API void qf_convert_plan_totals(const struct qf_convert_plan *p,
                                   struct qf_convert_stats *all, size_t *worst);

#ifdef __cplusplus
}
#endif
#endif /* QF_CONVERT_H */
