/* convert_layout.c - the conversion engine's direct path from a GPTQ / AWQ layer to GGUF
 * blocks (qf/convert.h; the kernels of libfmt/repack.c):
 *   Q4_0 <- GPTQ 4-bit, every zero point 8        (q - 8) * d: exact
 *   Q8_0 <- GPTQ 8-bit, every zero point 128      (code - 128) * d: exact
 *   Q4_1 <- GPTQ / AWQ GEMM 4-bit, any zero points d = scale, m = f16(-scale * zero): exact
 *                                                  up to the f16 rounding of m (measured)
 * with group sizes a multiple of 32 (or one group per row of a multiple of 32), f16 scales,
 * no act-order. The output rows (the layer's output channels, in the order the plan writes
 * them: Q/K rows permuted for GGUF) are taken a chunk at a time: the chunk's columns of the
 * layer are gathered into a small GPTQ v2 layer, which the kernel turns into blocks. */
#include <stdlib.h>
#include <string.h>

#include "qf/layout.h"
#include "qf/types.h"
#include "convert_layout_int.h"
#include "layout_int.h"
#include "repack_int.h"

/* zero point (decoded) of column c in group g */
static uint32_t zero_at(const struct qf_ltensor *lt, const uint8_t *qz, uint64_t g, uint64_t c)
{
    const uint64_t out = lt->shape[0];
    if (lt->family == QF_LAYOUT_AWQ_GEMM) {
        uint32_t w = qfi_load_le32(qz + 4 * (g * (out / 8) + c / 8));
        return (w >> (4 * qfi_awq_inv[c % 8])) & 15u;
    }
    const unsigned b = (unsigned)lt->bits;
    const uint64_t nw = out * b / 32, bit = c * b;
    uint32_t w = qfi_load_le32(qz + 4 * (g * nw + bit / 32));
    return ((w >> (bit % 32)) & ((1u << b) - 1u)) + (uint32_t)lt->zero_offset;
}

int qfi_cl_repack_kind(struct qf_model *m, const struct qf_ltensor *lt, int type)
{
    const struct qf_tensor *qw = lt->parts[QF_LPART_QWEIGHT], *qz = lt->parts[QF_LPART_QZEROS];
    const struct qf_tensor *sc = lt->parts[QF_LPART_SCALES];
    if (lt->family != QF_LAYOUT_GPTQ && lt->family != QF_LAYOUT_AWQ_GEMM)
        return QFI_CL_NONE;
    const int b = lt->bits;
    const int kind = type == QF_TYPE_Q4_0 && b == 4 && lt->family == QF_LAYOUT_GPTQ ? QFI_CL_Q4_0
                   : type == QF_TYPE_Q8_0 && b == 8 && lt->family == QF_LAYOUT_GPTQ ? QFI_CL_Q8_0
                   : type == QF_TYPE_Q4_1 && b == 4                                 ? QFI_CL_Q4_1
                                                                                    : QFI_CL_NONE;
    const uint64_t out = lt->shape[0], in = lt->shape[1], G = (uint64_t)lt->group_size;
    if (!kind || lt->n_dims != 2 || lt->act_order || lt->group_size <= 0 || G % 32 ||
        in % G || out % 8 || !qw || !qz || !sc || sc->type != QF_TYPE_F16)
        return QFI_CL_NONE;
    const uint64_t ng = in / G, zw = lt->family == QF_LAYOUT_AWQ_GEMM ? out / 8 : out * b / 32;
    if (qw->nbytes != in * out / 8 * (uint64_t)b || qz->nbytes != 4 * ng * zw ||
        sc->nbytes != 2 * ng * out)
        return QFI_CL_NONE;
    /* zero points: 2^(b-1) everywhere for Q4_0 / Q8_0, a field's value (no GPTQ v1 2^b) */
    const uint8_t *z;
    void *own;
    struct qf_error e;
    if (qfi_layout_load(m, qz, &z, &own, &e))
        return QFI_CL_NONE; /* unreadable: the decoding path reports it */
    int ok = 1;
    for (uint64_t g = 0; ok && g < ng; g++)
        for (uint64_t c = 0; ok && c < out; c++) {
            uint32_t v = zero_at(lt, z, g, c);
            ok = kind == QFI_CL_Q4_1 ? v < 16u : v == 1u << (b - 1);
        }
    free(own);
    return ok ? kind : QFI_CL_NONE;
}

int qfi_cl_repack_rows(struct qf_model *m, const struct qf_ltensor *lt, int kind,
                       const uint64_t *cols, uint64_t nr, uint8_t *blocks, struct qf_error *err)
{
    const uint64_t out = lt->shape[0], in = lt->shape[1], G = (uint64_t)lt->group_size;
    const unsigned b = (unsigned)lt->bits;
    const uint64_t ng = in / G, wr = in * b / 32, zr = nr * b / 32;
    const int awq = lt->family == QF_LAYOUT_AWQ_GEMM;
    if (nr % 8)
        return qfi_error(err, QF_EINTERNAL, 0, NULL, -1, "'%s': chunk of %llu rows", lt->name,
                         (unsigned long long)nr);
    const uint8_t *qw = NULL, *qz = NULL, *sc = NULL;
    void *o1 = NULL, *o2 = NULL, *o3 = NULL;
    uint8_t *sw = calloc((size_t)(4 * wr * nr + 4 * ng * zr + 2 * ng * nr) + 4, 1);
    int rc = sw ? QF_OK : qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory");
    rc = rc ? rc : qfi_layout_load(m, lt->parts[QF_LPART_QWEIGHT], &qw, &o1, err);
    rc = rc ? rc : qfi_layout_load(m, lt->parts[QF_LPART_QZEROS], &qz, &o2, err);
    rc = rc ? rc : qfi_layout_load(m, lt->parts[QF_LPART_SCALES], &sc, &o3, err);
    uint8_t *sq = sw, *sz = sw + 4 * wr * nr, *ss = sz + 4 * ng * zr;
    for (uint64_t j = 0; !rc && j < nr; j++) {
        const uint64_t c = cols[j];
        if (c >= out) {
            rc = qfi_error(err, QF_EINTERNAL, 0, NULL, -1, "'%s': row %llu", lt->name,
                           (unsigned long long)c);
            break;
        }
        if (!awq) { /* GPTQ: the column's words as they are */
            for (uint64_t w = 0; w < wr; w++)
                memcpy(sq + 4 * (w * nr + j), qw + 4 * (w * out + c), 4);
        } else { /* AWQ GEMM: input i's nibble of column c, into GPTQ order */
            for (uint64_t i = 0; i < in; i++) {
                uint32_t v = qfi_load_le32(qw + 4 * (i * (out / 8) + c / 8));
                uint32_t q = (v >> (4 * qfi_awq_inv[c % 8])) & 15u;
                uint8_t *d = sq + 4 * ((i / 8) * nr + j);
                qfi_store_le32(d, qfi_load_le32(d) | q << (4 * (i % 8)));
            }
        }
        for (uint64_t g = 0; g < ng; g++) {
            uint8_t *d = sz + 4 * (g * zr + j * b / 32);
            uint32_t z = zero_at(lt, qz, g, c) & ((1u << b) - 1u);
            qfi_store_le32(d, qfi_load_le32(d) | z << ((j * b) % 32));
            memcpy(ss + 2 * (g * nr + j), sc + 2 * (g * out + c), 2);
        }
    }
    if (!rc) {
        if (kind == QFI_CL_Q4_0)
            rc = qfi_repack_gptq_to_q4_0(in, nr, G, QFI_GPTQ_V2, NULL, sq, sz, ss, blocks, err);
        else if (kind == QFI_CL_Q8_0)
            rc = qfi_repack_gptq_to_q8_0(in, nr, G, QFI_GPTQ_V2, NULL, sq, sz, ss, blocks, err);
        else
            rc = qfi_repack_gptq_to_q4_1(in, nr, G, QFI_GPTQ_V2, QFI_V1Z_REFUSE, NULL, sq, sz,
                                         ss, blocks, NULL, err);
    }
    free(o1);
    free(o2);
    free(o3);
    free(sw);
    return rc;
}
