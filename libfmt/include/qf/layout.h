/* qf/layout.h - quantized layouts inside a container: physical tensors grouped into logical ones.
 *
 * A GPTQ or AWQ checkpoint stores one linear layer as several physical tensors (qweight, qzeros,
 * scales, g_idx). qf_layout_scan() recognises the layout from the model's quantization config
 * (config.json "quantization_config.*", quantize_config.json, quant_config.json) and from the
 * tensor names and dtypes, checks every group against the config, and lists logical tensors:
 * one per quantized layer (name "<layer>.weight", shape [out, in]) plus every other tensor
 * passed through unchanged (scheme = its storage type name, "f16").
 *
 * Supported layouts: "gptq" (v1 and v2 zero points, bits 2/3/4/8, any group size or per-channel,
 * act-order g_idx) and "awq" (AutoAWQ GEMM and GEMV, 4 bits), "compressed-tensors"
 * (pack-quantized int 2..8 bits per tensor / channel / group with optional g_idx, and
 * float-quantized FP8 E4M3 per tensor / channel / group / block) and "fp8" (Hugging Face
 * FineGrainedFP8: e4m3 weight with block-wise weight_scale_inv), "bitsandbytes" (4-bit NF4 / FP4
 * with plain or double-quantized absmax; shape from the quant_state JSON) and "mlx" (MLX affine,
 * bits 2..8, from config.json "quantization" or, without one, weight U32 / scales / biases
 * triples). Other quantization methods named in a config are rejected with QF_EUNSUPPORTED.
 *
 * Thread-safety: a scanned layout is immutable; qf_layout_dequantize may run in many threads at
 * once on the same layout and model.
 */
#ifndef QF_LAYOUT_H
#define QF_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "qf/error.h"
#include "qf/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Layout families (struct qf_ltensor.family). */
enum qf_lfamily {
    QF_LAYOUT_PLAIN = 0,  /* a physical tensor passed through */
    QF_LAYOUT_GPTQ = 1,
    QF_LAYOUT_AWQ_GEMM = 2,
    QF_LAYOUT_AWQ_GEMV = 3,
    QF_LAYOUT_BNB = 4,        /* bitsandbytes 4-bit: NF4 / FP4 blocks, optional double quant */
    QF_LAYOUT_CT_PACK = 5,    /* compressed-tensors pack-quantized int4 / int8 */
    QF_LAYOUT_CT_FLOAT = 6,   /* compressed-tensors float-quantized FP8 */
    QF_LAYOUT_FP8 = 7,        /* Hugging Face "fp8" (e4m3 weight, weight_scale_inv) */
    QF_LAYOUT_MLX = 8         /* MLX affine: uint32-packed weight, scales, biases */
};

/* Roles of the physical parts of a logical tensor (index into struct qf_ltensor.parts). */
enum qf_lpart {
    QF_LPART_QWEIGHT = 0,
    QF_LPART_QZEROS = 1,
    QF_LPART_SCALES = 2,
    QF_LPART_G_IDX = 3,
    /* family-specific extra parts (bnb: quant_map, nested_absmax, nested_quant_map,
     * quant_state; compressed-tensors: weight_shape); each family documents its use */
    QF_LPART_AUX0 = 4,
    QF_LPART_AUX1 = 5,
    QF_LPART_AUX2 = 6,
    QF_LPART_AUX3 = 7,
    QF_LPART_MAX = 8
};
/* Generic roles: QWEIGHT is the packed or coded weight (bnb: the uint8 codes; FP8: the e4m3
 * weight), SCALES the per-group scales (bnb: absmax; FP8: weight_scale / weight_scale_inv),
 * QZEROS the zero points (MLX: biases). */

/* One logical tensor. All pointers are borrowed from the layout (and the model it was scanned
 * from): valid until qf_layout_free(). */
struct qf_ltensor {
    const char *name;        /* "model.layers.0.self_attn.q_proj.weight" */
    const char *scheme;      /* "gptq int4 g128 asym act-order v1", "awq gemm int4 g128", "f16" */
    int family;              /* enum qf_lfamily */
    int n_dims;
    uint64_t shape[QF_MAX_DIMS]; /* logical shape; quantized layers are [out, in] */
    uint64_t nelem;
    /* physical tensors owned by this logical tensor: parts[0] for a plain tensor; for a
     * quantized layer indexed by enum qf_lpart (NULL where absent, e.g. AWQ g_idx) */
    const struct qf_tensor *parts[QF_LPART_MAX];
    size_t n_parts;          /* plain: 1; quantized: QF_LPART_MAX (some entries may be NULL) */
    uint64_t nbytes;         /* all bytes of all parts */
    double bpw;              /* nbytes * 8 / nelem: true bits per weight incl. scales and zeros */
    /* quantization parameters (quantized layers only) */
    int bits;                /* 2, 3, 4, 8 */
    int64_t group_size;      /* in elements of the input dimension; equals `in` for per-channel */
    int sym;                 /* 1 if the config declares symmetric quantization */
    int act_order;           /* 1 if g_idx is not the trivial i / group_size */
    int zero_offset;         /* added to stored zero points: 1 for GPTQ v1, 0 otherwise */
    int64_t block_rows;      /* FP8 scales: output rows per scale row (block-wise: 128; per
                              * channel: 1; per tensor: out); 0 for the other families */
};

struct qf_layout;

/* Recognise the model's layout and group its tensors. flags: 0 (reserved).
 * Returns QF_OK and a layout freed with qf_layout_free(), or:
 *  QF_EFORMAT       a group is inconsistent (shapes of qweight/qzeros/scales disagree, g_idx out
 *                   of range, wrong dtype, group size not dividing in, config disagreeing with
 *                   the tensors, quantized tensors without a config); err names the layer
 *  QF_EUNSUPPORTED  a quantization method or variant this library does not read
 *  QF_ENOMEM, QF_EIO.
 * A model without a quantization config and without quantized tensor names gets a layout of
 * plain tensors only (name "none"). Reads g_idx tensors (small) to classify act-order. */
QF_API int qf_layout_scan(struct qf_model *m, unsigned flags, struct qf_layout **out,
                          struct qf_error *err);

/* Free a layout. NULL is a no-op. */
QF_API void qf_layout_free(struct qf_layout *l);

/* The layout's name: "gptq", "awq", "compressed-tensors", "fp8", "bitsandbytes", "mlx" or
 * "none". */
QF_API const char *qf_layout_name(const struct qf_layout *l);

/* Logical tensors in the model's tensor order (a group appears where its first part was). */
QF_API size_t qf_layout_n_tensors(const struct qf_layout *l);
QF_API const struct qf_ltensor *qf_layout_tensor(const struct qf_layout *l, size_t i);
QF_API const struct qf_ltensor *qf_layout_find(const struct qf_layout *l, const char *name);

/* Non-fatal findings (e.g. a config key missing and a default assumed), one line each; NULL past
 * the end. */
QF_API const char *qf_layout_warning(const struct qf_layout *l, size_t i);

/* Dequantize rows [row0, row0 + nrows) of logical tensor t (rows of a [out, in] tensor are
 * output channels; a plain tensor's rows are its last dimension) into out, nrows * row_len
 * floats. nrows == UINT64_MAX means "to the end". Arithmetic follows each producer's own
 * reference: GPTQ scale * (q - z) in f32 (exact), AWQ (q - z) * scale rounded to f16,
 * compressed-tensors (q - z) * scale rounded to the scale's dtype (bf16 / f16), HF fp8
 * e4m3 * weight_scale_inv in f32, bitsandbytes quant_map[code] * absmax in f32 rounded to the
 * quant_state dtype (double quant: absmax = nested_quant_map[u8] * nested_absmax + offset in
 * f32), MLX scales * q + biases in f32 rounded to the scales' dtype. GPTQ v1
 * zero points decode field-wise as (stored & maxq) + 1 (an all-ones field gives 2^bits).
 * Returns QF_OK, QF_EINVAL (rows out of range, t not from l), QF_EFORMAT (data outside the file),
 * QF_EUNSUPPORTED (a plain storage type without a decoder), QF_ENOMEM. */
QF_API int qf_layout_dequantize(struct qf_model *m, const struct qf_layout *l,
                                const struct qf_ltensor *t, uint64_t row0, uint64_t nrows,
                                float *out, struct qf_error *err);

#ifdef __cplusplus
}
#endif
#endif /* QF_LAYOUT_H */
