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

#endif /* QF_LAYOUT_INT_H */
