/* convert_layout_int.h - GPTQ / AWQ layers written as GGUF blocks by the repack kernels
 * (internal; libfmt/convert_layout.c says which layers qualify). */
#ifndef QF_CONVERT_LAYOUT_INT_H
#define QF_CONVERT_LAYOUT_INT_H

#include <stdint.h>

#include "qf_int.h"

struct qf_ltensor;

enum { QFI_CL_NONE = 0, QFI_CL_Q4_0 = 1, QFI_CL_Q8_0 = 2, QFI_CL_Q4_1 = 3 };

/* The direct path for writing layer lt as GGUF type `type` (QFI_CL_*), or QFI_CL_NONE when
 * the layer must be decoded and quantized. Reads the zero points. */
QFI_HIDDEN int qfi_cl_repack_kind(struct qf_model *m, const struct qf_ltensor *lt, int type);

/* Blocks of nr output rows (nr a multiple of 8): row j is the layer's output channel cols[j]. */
QFI_HIDDEN int qfi_cl_repack_rows(struct qf_model *m, const struct qf_ltensor *lt, int kind,
                                  const uint64_t *cols, uint64_t nr, uint8_t *blocks,
                                  struct qf_error *err);

#endif /* QF_CONVERT_LAYOUT_INT_H */
