/* layout_int.h - internal contract between libfmt/layout.c and the layout modules
 * (formats/gptq.c, formats/awq.c). Never installed. */
#ifndef QF_LAYOUT_INT_H
#define QF_LAYOUT_INT_H

#include "qf_int.h"
#include "qf/layout.h"

/* The quantization config as declared (config.json "quantization_config.*", quantize_config.json,
 * quant_config.json), synonyms folded: w_bit/wbits -> bits, q_group_size -> group_size,
 * checkpoint_format/format, quant_method/method, zero_point -> sym = !zero_point. */
struct qfi_qcfg {
    const char *origin;      /* "config.json", "quantize_config.json", ... */
    char method[32];         /* lower-cased; "" if absent */
    char format[32];         /* checkpoint_format / format, lower-cased; "" if absent */
    char version[32];        /* AWQ version, lower-cased; "" if absent */
    int64_t bits;            /* -1 if absent */
    int64_t group_size;      /* 0 if absent */
    int sym;                 /* -1 if absent */
    int desc_act;            /* -1 if absent */
    /* bitsandbytes (transformers BitsAndBytesConfig) */
    char quant_type[16];     /* bnb_4bit_quant_type, lower-cased; "" if absent */
    int double_quant;        /* bnb_4bit_use_double_quant; -1 if absent */
    int load_in_4bit;        /* -1 if absent */
    int load_in_8bit;        /* -1 if absent */
};

struct qf_layout {
    const char *name;
    struct qf_ltensor *t;
    size_t n, cap;
    unsigned char *claimed;  /* per physical tensor: owned by a quantized group */
    char **warnings;
    size_t n_warnings, cap_warnings;
    void **owned;
    size_t n_owned, cap_owned;
};

QFI_HIDDEN int qfi_layout_add(struct qf_layout *l, const struct qf_ltensor *t,
                              struct qf_error *err);
QFI_HIDDEN char *qfi_layout_strdup(struct qf_layout *l, const char *s);
QFI_HIDDEN int qfi_layout_warn(struct qf_layout *l, const char *fmt, ...) QF_PRINTF(2, 3);

/* Tensor data: a borrowed map or a malloc'd copy (*owned set; caller frees). Caps at 4 GiB. */
QFI_HIDDEN int qfi_layout_load(struct qf_model *m, const struct qf_tensor *t, const uint8_t **data,
                               void **owned, struct qf_error *err);
/* A whole small tensor of a float type as f32 (malloc'd; caller frees). */
QFI_HIDDEN int qfi_layout_load_f32(struct qf_model *m, const struct qf_tensor *t, float **out,
                                   struct qf_error *err);

/* Modules: group the model's tensors (scan) and dequantize one of their logical tensors. */
QFI_HIDDEN int qfi_gptq_scan(struct qf_model *m, struct qf_layout *l, const struct qfi_qcfg *c,
                             struct qf_error *err);
QFI_HIDDEN int qfi_gptq_dequant(struct qf_model *m, const struct qf_ltensor *t, uint64_t row0,
                                uint64_t nrows, float *out, struct qf_error *err);
QFI_HIDDEN int qfi_awq_scan(struct qf_model *m, struct qf_layout *l, const struct qfi_qcfg *c,
                            struct qf_error *err);
QFI_HIDDEN int qfi_awq_dequant(struct qf_model *m, const struct qf_ltensor *t, uint64_t row0,
                               uint64_t nrows, float *out, struct qf_error *err);

/* compressed-tensors (formats/ctensors.c): pack-quantized int and float-quantized FP8 layers;
 * AUX0 holds weight_shape. HF "fp8" (formats/fp8.c): e4m3 weight with weight_scale_inv. */
QFI_HIDDEN int qfi_ct_scan(struct qf_model *m, struct qf_layout *l, const struct qfi_qcfg *c,
                           struct qf_error *err);
QFI_HIDDEN int qfi_ct_dequant(struct qf_model *m, const struct qf_ltensor *t, uint64_t row0,
                              uint64_t nrows, float *out, struct qf_error *err);
QFI_HIDDEN int qfi_fp8_scan(struct qf_model *m, struct qf_layout *l, const struct qfi_qcfg *c,
                            struct qf_error *err);
QFI_HIDDEN int qfi_fp8_dequant(struct qf_model *m, const struct qf_ltensor *t, uint64_t row0,
                               uint64_t nrows, float *out, struct qf_error *err);
/* Shared FP8 decoder: W = e4m3(w) * scale[o / block_rows][i / group_size], each product
 * rounded to round_type (BF16/F16; anything else keeps the f32 product). */
QFI_HIDDEN int qfi_fp8_dequant_rows(struct qf_model *m, const struct qf_ltensor *t,
                                    int round_type, uint64_t row0, uint64_t nrows, float *out,
                                    struct qf_error *err);
/* QF_EFORMAT naming the layer if an unclaimed F8 "<layer>.weight" has no scale_name tensor. */
QFI_HIDDEN int qfi_fp8_orphans(struct qf_model *m, const struct qf_layout *l,
                               const char *scale_name, struct qf_error *err);
/* A quantized [out, in] logical tensor over parts (QF_LPART_MAX entries, NULL where absent):
 * nbytes and bpw summed from the parts; scheme left NULL. */
QFI_HIDDEN void qfi_layout_fill_2d(struct qf_ltensor *lt, const char *name, int family,
                                   uint64_t out, uint64_t in,
                                   const struct qf_tensor *const *parts, int bits, int64_t G,
                                   int64_t block_rows, int sym);
/* v rounded to nearest even in type (QF_TYPE_BF16 / QF_TYPE_F16), unchanged otherwise: the
 * result of a torch operation computed in that dtype. */
QFI_HIDDEN float qfi_ct_round(int type, float v);

/* Encoders (pure, for a layout writer). Signed codes q and zero points z are int8 in
 * [-2^(b-1), 2^(b-1)); scales float values representable in the scale dtype stype.
 * Word buffers are host-order uint32 the caller zeroes. */
/* weight_packed [nrows][ceil(in / (32/b))]: field j of word w = input w * (32/b) + j, stored
 * q + 2^(b-1), rows zero-padded (compressed-tensors pack_to_int32, packed_dim 1). */
QFI_HIDDEN void qfi_ct_pack_rows(const int8_t *q, uint64_t nrows, uint64_t in, int bits,
                                 uint32_t *packed);
/* weight_zero_point [ceil(out / (32/b))][ngroups] from z[o * ngroups + g] (packed_dim 0). */
QFI_HIDDEN void qfi_ct_pack_zeros(const int8_t *z, uint64_t out, uint64_t ngroups, int bits,
                                  uint32_t *packed);
/* calculate_qparams over groups of G consecutive inputs of nrows rows (min/max observer):
 * lo = min(min, 0), hi = max(max, 0); sym: s = max(|lo|, |hi|) / ((qmax - qmin) / 2);
 * asym: s = (hi - lo) / (qmax - qmin), z = clamp(qmin - lo / s, qmin, qmax), rounded to an
 * integer (ties to even) when is_int; s clamped to at least FLT_EPSILON; every operation
 * rounded to stype. Writes scale[r * ng + g] and (zero non-NULL) zero[r * ng + g] (0 sym).
 * int b bits: qmin = -2^(b-1), qmax = 2^(b-1) - 1; FP8 E4M3: -448, 448. */
QFI_HIDDEN void qfi_ct_minmax_params(const float *w, uint64_t nrows, uint64_t in, uint64_t G,
                                     float qmin, float qmax, int sym, int is_int, int stype,
                                     float *scale, int8_t *zero);
/* lifecycle.forward _quantize: q = round(clamp(rnd(rnd(w / s) + z), qmin, qmax)), rnd to
 * stype, ties to even; zero NULL for symmetric. */
QFI_HIDDEN void qfi_ct_quantize_rows(const float *w, uint64_t nrows, uint64_t in, uint64_t G,
                                     int bits, int stype, const float *scale, const int8_t *zero,
                                     int8_t *q);
/* FP8: q = e4m3(clamp(rnd(w / s), -448, 448)). */
QFI_HIDDEN void qfi_ct_fp8_quantize_rows(const float *w, uint64_t nrows, uint64_t in,
                                         uint64_t G, int stype, const float *scale, uint8_t *q);
/* float -> E4M3FN: saturating (|x| >= 448 and infinities give +-448), round to nearest even,
 * NaN -> 0x7F / 0xFF. */
QFI_HIDDEN uint8_t qfi_fp8_e4m3_encode(float x);
/* compressed-tensors pack (b dividing 32) <-> GPTQ v2: qweight [ceil(in/(32/b))][out] is
 * weight_packed transposed, qzeros [ngroups][ceil(out/(32/b))] weight_zero_point transposed;
 * zp NULL (symmetric) gives zero fields 2^(b-1). The reverse with sym set checks every zero
 * field is 2^(b-1) (QF_EFORMAT otherwise) and writes no zp. QF_EUNSUPPORTED for other b. */
QFI_HIDDEN int qfi_ct_to_gptq_v2(const uint32_t *packed, const uint32_t *zp, uint64_t out,
                                 uint64_t in, uint64_t ngroups, int bits, uint32_t *qweight,
                                 uint32_t *qzeros);
QFI_HIDDEN int qfi_gptq_v2_to_ct(const uint32_t *qweight, const uint32_t *qzeros, uint64_t out,
                                 uint64_t in, uint64_t ngroups, int bits, int sym,
                                 uint32_t *packed, uint32_t *zp);

/* bitsandbytes 4-bit (formats/bnb.c): parts QWEIGHT = weight (U8 codes), SCALES = absmax,
 * AUX0 = quant_map, AUX1 = nested_absmax, AUX2 = nested_quant_map, AUX3 = quant_state;
 * group_size = blocksize in flat elements. MLX affine (formats/mlx.c): QWEIGHT = weight (U32),
 * SCALES = scales, QZEROS = biases. */
QFI_HIDDEN int qfi_bnb_scan(struct qf_model *m, struct qf_layout *l, const struct qfi_qcfg *c,
                            struct qf_error *err);
QFI_HIDDEN int qfi_bnb_dequant(struct qf_model *m, const struct qf_ltensor *t, uint64_t row0,
                               uint64_t nrows, float *out, struct qf_error *err);
QFI_HIDDEN int qfi_mlx_scan(struct qf_model *m, struct qf_layout *l, const struct qfi_qcfg *c,
                            struct qf_error *err);
QFI_HIDDEN int qfi_mlx_dequant(struct qf_model *m, const struct qf_ltensor *t, uint64_t row0,
                               uint64_t nrows, float *out, struct qf_error *err);
/* Adds lt (parts set) under copies of name and scheme and marks its parts claimed. */
QFI_HIDDEN int qfi_layout_add_claimed(struct qf_layout *l, struct qf_ltensor *lt,
                                      const char *name, const char *scheme,
                                      struct qf_error *err);
/* 1 if config.json has an mlx-lm "quantization" (or its "quantization_config" copy) with bits
 * or group_size; 1 if some "P.weight" U32 / "P.scales" / "P.biases" triple exists. */
QFI_HIDDEN int qfi_mlx_has_config(const struct qf_model *m);
QFI_HIDDEN int qfi_mlx_triples(const struct qf_model *m);

/* bitsandbytes encoders (pure). Code books in file order (index = code): */
/* get_4bit_type("nf4" / "fp4") in f32 (FP4: bnb's own table divided by 12) */
QFI_HIDDEN void qfi_bnb_code4(int fp4, float code[16]);
/* create_dynamic_map(signed=True, 7, 8): the 256 float32 values bitsandbytes stores as
 * nested_quant_map, sorted ascending */
QFI_HIDDEN void qfi_bnb_dynamic_map(float map[256]);
/* bitsandbytes' default-backend blockwise quantizer over n values in blocks of bs (the last
 * block may be partial): absmax[b] = max |x| (nb = ceil(n / bs) entries); codes q[k] =
 * bucketize(clamp(x * (1 / max(absmax, 1e-38)), -1, 1)) on the midpoints of the sorted code
 * book (ties go to the lower value; equal entries keep index order), mapped back to file
 * order. ncode 16 (4-bit) or 256 (8-bit dynamic). */
QFI_HIDDEN void qfi_bnb_quantize_blocks(const float *x, uint64_t n, uint64_t bs,
                                        const float *code, int ncode, float *absmax,
                                        uint8_t *q);
/* the code bitsandbytes gives 0.0 (the pad of an odd element count) */
QFI_HIDDEN uint8_t qfi_bnb_code_of_zero(const float *code, int ncode);
/* codes -> bytes: element 2j in the high nibble of byte j; odd n pads the last low nibble */
QFI_HIDDEN void qfi_bnb_pack4(const uint8_t *codes, uint64_t n, uint8_t pad, uint8_t *bytes);
/* double quant of nb absmax values: offset = mean (returned), absmax - offset quantized in
 * blocks of nbs (256) with the dynamic map -> qabs[nb] and nested_absmax[ceil(nb / nbs)];
 * scratch holds nb floats. */
QFI_HIDDEN float qfi_bnb_double_quant(const float *absmax, uint64_t nb, uint64_t nbs,
                                      const float map[256], uint8_t *qabs,
                                      float *nested_absmax, float *scratch);

/* MLX affine encoders (pure): per row and group of G inputs, the reference quantizer of
 * mlx/ops.cpp (scales may be negative, zero exactly representable), f32 scales / biases
 * (scale[r * ng + g]) and codes q[r * in + k] in [0, 2^bits); then the per-row LSB-first
 * bitstream into words[nrows][in * bits / 32] (caller zeroes; in * bits % 32 == 0). */
QFI_HIDDEN void qfi_mlx_quantize(const float *w, uint64_t nrows, uint64_t in, uint64_t G,
                                 int bits, float *scales, float *biases, uint8_t *q);
QFI_HIDDEN void qfi_mlx_pack(const uint8_t *q, uint64_t nrows, uint64_t in, int bits,
                             uint32_t *words);

#endif /* QF_LAYOUT_INT_H */
