/* repack.c - lossless repacking of quantized linear layers (see repack_int.h).
 *
 * The scalar functions here are the reference the SIMD levels are tested against: they follow
 * the layout tables of gptq.md sections 3-5, awq.md sections 1 and 4 and ggml-types.md section 5
 * one field at a time.
 */
#include "repack_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kern/kern.h"
#include "qf/kernels.h"

const uint8_t qfi_awq_order[8] = {0, 2, 4, 6, 1, 3, 5, 7};
const uint8_t qfi_awq_inv[8] = {0, 4, 1, 5, 2, 6, 3, 7};

/* ---------------------------------------------------------------------------------------
 * qweight transposition, scalar reference
 */
void qfi_repack_g2a_tiles(const uint8_t *src, uint8_t *dst, uint64_t out, uint64_t r,
                          uint64_t c0, uint64_t c1)
{
    const uint64_t ow = out / 8; /* AWQ words per input row */
    for (uint64_t c = c0; c < c1; c++) {
        uint32_t g[8];
        for (int j = 0; j < 8; j++)
            g[j] = qfi_load_le32(src + 4 * (r * out + 8 * c + (uint64_t)j));
        for (int k = 0; k < 8; k++) { /* input row 8r + k */
            uint32_t a = 0;
            for (int p = 0; p < 8; p++)
                a |= ((g[qfi_awq_order[p]] >> (4 * k)) & 15u) << (4 * p);
            qfi_store_le32(dst + 4 * ((8 * r + (uint64_t)k) * ow + c), a);
        }
    }
}

void qfi_repack_a2g_tiles(const uint8_t *src, uint8_t *dst, uint64_t out, uint64_t r,
                          uint64_t c0, uint64_t c1)
{
    const uint64_t ow = out / 8;
    for (uint64_t c = c0; c < c1; c++) {
        uint32_t a[8];
        for (int k = 0; k < 8; k++)
            a[k] = qfi_load_le32(src + 4 * ((8 * r + (uint64_t)k) * ow + c));
        for (int j = 0; j < 8; j++) { /* column 8c + j */
            uint32_t g = 0;
            for (int k = 0; k < 8; k++)
                g |= ((a[k] >> (4 * qfi_awq_inv[j])) & 15u) << (4 * k);
            qfi_store_le32(dst + 4 * (r * out + 8 * c + (uint64_t)j), g);
        }
    }
}

static void g2a_scalar(const void *restrict src, void *restrict dst, uint64_t in, uint64_t out)
{
    for (uint64_t r = 0; r < in / 8; r++)
        qfi_repack_g2a_tiles(src, dst, out, r, 0, out / 8);
}

static void a2g_scalar(const void *restrict src, void *restrict dst, uint64_t in, uint64_t out)
{
    for (uint64_t r = 0; r < in / 8; r++)
        qfi_repack_a2g_tiles(src, dst, out, r, 0, out / 8);
}

static const struct qfi_repack_fns fns_scalar = {"scalar", g2a_scalar, a2g_scalar};

const struct qfi_repack_fns *qfi_repack_fns_level(const char *name)
{
    if (!name)
        return NULL;
    /* kern_level_table() knows which levels this CPU runs and resolves "auto" */
    const struct kern_table *t = kern_level_table(name);
    if (!t)
        return NULL;
    if (!strcmp(t->name, "scalar"))
        return &fns_scalar;
#if defined(__x86_64__) || defined(__i386__)
    if (!strcmp(t->name, "avx2"))
        return &qfi_repack_fns_avx2;
    if (!strcmp(t->name, "avx512"))
        return &qfi_repack_fns_avx512;
#endif
    return &fns_scalar; /* a level without repack kernels of its own (neon) */
}

const struct qfi_repack_fns *qfi_repack_fns(void)
{
    return qfi_repack_fns_level(qf_simd_level());
}

/* ---------------------------------------------------------------------------------------
 * Argument checks
 */
static int check_dims(uint64_t in, uint64_t out, uint64_t group_size, const char *what,
                      struct qf_error *err)
{
    uint64_t n;
    if (in == 0 || out == 0 || in % 8 || out % 8)
        return qfi_error(err, QF_EINVAL, 0, NULL, -1,
                         "%s: layer [%llu, %llu]: in and out must be non-zero multiples of 8",
                         what, (unsigned long long)out, (unsigned long long)in);
    if (group_size == 0 || in % group_size)
        return qfi_error(err, QF_EINVAL, 0, NULL, -1,
                         "%s: group size %llu does not divide in = %llu", what,
                         (unsigned long long)group_size, (unsigned long long)in);
    if (!qfi_mul_ok(in, out, &n) || n > (uint64_t)SIZE_MAX / 2)
        return qfi_error(err, QF_ELIMIT, 0, NULL, -1, "%s: layer [%llu, %llu] too large", what,
                         (unsigned long long)out, (unsigned long long)in);
    return QF_OK;
}

static int no_level(struct qf_error *err)
{
    return qfi_error(err, QF_EUNSUPPORTED, 0, NULL, -1,
                     "repack: no SIMD level in use (QF_SIMD names an unknown or unsupported "
                     "level)");
}

int qfi_repack_check_gidx(const void *g_idx, uint64_t in, uint64_t group_size,
                          struct qf_error *err)
{
    if (!g_idx)
        return QF_OK;
    if (group_size == 0)
        return qfi_error(err, QF_EINVAL, 0, NULL, -1, "g_idx check: group size 0");
    const uint8_t *p = g_idx;
    for (uint64_t i = 0; i < in; i++) {
        const int32_t g = (int32_t)qfi_load_le32(p + 4 * i);
        if (g < 0 || (uint64_t)g != i / group_size)
            return qfi_error(err, QF_EUNSUPPORTED, 0, NULL, -1,
                             "act-order g_idx (g_idx[%llu] = %ld, not %llu = i / group size "
                             "%llu): AWQ and GGUF blocks have no g_idx, the input rows would "
                             "have to be regrouped, which is not lossless",
                             (unsigned long long)i, (long)g,
                             (unsigned long long)(i / group_size),
                             (unsigned long long)group_size);
    }
    return QF_OK;
}

void qfi_repack_write_gidx(void *g_idx, uint64_t in, uint64_t group_size)
{
    uint8_t *p = g_idx;
    for (uint64_t i = 0; i < in; i++)
        qfi_store_le32(p + 4 * i, (uint32_t)(i / group_size));
}

/* ---------------------------------------------------------------------------------------
 * Zero points: fields of a bitstream row (gptq.md section 4)
 */
static uint32_t field_get(const uint8_t *row, int bits, uint64_t k)
{
    const uint64_t bit = (uint64_t)bits * k;
    const uint64_t w = bit / 32;
    const unsigned off = (unsigned)(bit % 32);
    uint64_t v = qfi_load_le32(row + 4 * w) >> off;
    if (off + (unsigned)bits > 32)
        v |= (uint64_t)qfi_load_le32(row + 4 * (w + 1)) << (32 - off);
    return (uint32_t)v & ((1u << bits) - 1);
}

static void field_set(uint8_t *row, int bits, uint64_t k, uint32_t v)
{
    const uint64_t bit = (uint64_t)bits * k;
    const uint64_t w = bit / 32;
    const unsigned off = (unsigned)(bit % 32);
    const uint64_t mask = (uint64_t)((1u << bits) - 1) << off;
    uint64_t x = qfi_load_le32(row + 4 * w);
    const int two = off + (unsigned)bits > 32;
    if (two)
        x |= (uint64_t)qfi_load_le32(row + 4 * (w + 1)) << 32;
    x = (x & ~mask) | ((uint64_t)v << off);
    qfi_store_le32(row + 4 * w, (uint32_t)x);
    if (two)
        qfi_store_le32(row + 4 * (w + 1), (uint32_t)(x >> 32));
}

static uint64_t zero_row_words(int bits, uint64_t out)
{
    return (out * (uint64_t)bits + 31) / 32;
}

static int check_bits(int bits, struct qf_error *err)
{
    if (bits != 2 && bits != 3 && bits != 4 && bits != 8)
        return qfi_error(err, QF_EINVAL, 0, NULL, -1, "GPTQ zero points: %d bits (2, 3, 4, 8)",
                         bits);
    return QF_OK;
}

static void report_reset(struct qfi_repack_report *rep)
{
    if (rep)
        memset(rep, 0, sizeof *rep);
}

static void report_ambiguous(struct qfi_repack_report *rep, uint64_t g, uint64_t col)
{
    if (!rep)
        return;
    if (rep->ambiguous_zeros++ == 0) {
        rep->first_group = g;
        rep->first_col = col;
    }
}

static int refuse_ambiguous(uint64_t g, uint64_t col, int bits, struct qf_error *err)
{
    return qfi_error(err, QF_EUNSUPPORTED, 0, NULL, -1,
                     "GPTQ v1 zero point of group %llu column %llu is stored as %u (all ones): "
                     "it decodes to %u, which a %d-bit field cannot hold; it is 0 for AutoGPTQ's "
                     "kernels or a borrow of GPTQModel's v2->v1 export (ambiguous)",
                     (unsigned long long)g, (unsigned long long)col, (1u << bits) - 1,
                     1u << bits, bits);
}

static uint32_t word_const(int bits)
{
    return bits == 2 ? 0x55555555u : bits == 4 ? 0x11111111u : 0x01010101u;
}

/* v1 row -> v2 row (zero points z). Returns QF_OK or the refusal. */
static int v1_row_to_v2(const uint8_t *src, uint8_t *dst, int bits, uint64_t g, uint64_t out,
                        int policy, struct qfi_repack_report *rep, struct qf_error *err)
{
    const uint32_t maxq = (1u << bits) - 1;
    const uint64_t nw = zero_row_words(bits, out);
    for (uint64_t k = 0; k < out; k++)
        if (field_get(src, bits, k) == maxq) {
            if (policy == QFI_V1Z_REFUSE)
                return refuse_ambiguous(g, k, bits, err);
            report_ambiguous(rep, g, k);
        }
    if (policy == QFI_V1Z_WORD && bits != 3) {
        for (uint64_t w = 0; w < nw; w++)
            qfi_store_le32(dst + 4 * w, qfi_load_le32(src + 4 * w) + word_const(bits));
        /* padding fields past out stay 0 */
        for (uint64_t k = out; k < nw * 32 / (uint64_t)bits; k++)
            field_set(dst, bits, k, 0);
        return QF_OK;
    }
    memset(dst, 0, 4 * nw);
    for (uint64_t k = 0; k < out; k++)
        field_set(dst, bits, k, (field_get(src, bits, k) + 1) & maxq);
    return QF_OK;
}

int qfi_repack_zeros_v1_to_v2(const void *src, void *dst, int bits, uint64_t ngroups,
                              uint64_t out, int policy, struct qfi_repack_report *rep,
                              struct qf_error *err)
{
    report_reset(rep);
    int rc = check_bits(bits, err);
    if (rc)
        return rc;
    const uint64_t nw = zero_row_words(bits, out);
    for (uint64_t g = 0; g < ngroups; g++) {
        rc = v1_row_to_v2((const uint8_t *)src + 4 * nw * g, (uint8_t *)dst + 4 * nw * g, bits,
                          g, out, policy, rep, err);
        if (rc)
            return rc;
    }
    return QF_OK;
}

int qfi_repack_zeros_v2_to_v1(const void *src, void *dst, int bits, uint64_t ngroups,
                              uint64_t out, struct qf_error *err)
{
    int rc = check_bits(bits, err);
    if (rc)
        return rc;
    const uint64_t nw = zero_row_words(bits, out);
    const uint32_t maxq = (1u << bits) - 1;
    for (uint64_t g = 0; g < ngroups; g++) {
        const uint8_t *s = (const uint8_t *)src + 4 * nw * g;
        uint8_t *d = (uint8_t *)dst + 4 * nw * g;
        memset(d, 0, 4 * nw);
        for (uint64_t k = 0; k < out; k++) {
            const uint32_t z = field_get(s, bits, k);
            if (z == 0)
                return qfi_error(err, QF_EUNSUPPORTED, 0, NULL, -1,
                                 "zero point 0 at group %llu column %llu cannot be stored in "
                                 "GPTQ v1 (z - 1 wraps to %u, which readers decode differently); "
                                 "keep checkpoint_format gptq_v2",
                                 (unsigned long long)g, (unsigned long long)k, maxq);
            field_set(d, bits, k, (z - 1) & maxq);
        }
    }
    return QF_OK;
}

/* ---------------------------------------------------------------------------------------
 * GPTQ 4-bit <-> AWQ GEMM
 */
/* natural nibble order (GPTQ, nibble j = column j) -> AWQ interleave, and back */
static uint32_t nib_to_awq(uint32_t g)
{
    uint32_t a = 0;
    for (int p = 0; p < 8; p++)
        a |= ((g >> (4 * qfi_awq_order[p])) & 15u) << (4 * p);
    return a;
}

static uint32_t nib_from_awq(uint32_t a)
{
    uint32_t g = 0;
    for (int j = 0; j < 8; j++)
        g |= ((a >> (4 * qfi_awq_inv[j])) & 15u) << (4 * j);
    return g;
}

/* One 4-bit v1 word (columns col0..col0+7 of group g) -> v2. */
static int v1_word4_to_v2(uint32_t w, uint64_t g, uint64_t col0, int policy,
                          struct qfi_repack_report *rep, uint32_t *res, struct qf_error *err)
{
    uint32_t v = 0;
    for (int k = 0; k < 8; k++) {
        const uint32_t f = (w >> (4 * k)) & 15u;
        if (f == 15) {
            if (policy == QFI_V1Z_REFUSE)
                return refuse_ambiguous(g, col0 + (uint64_t)k, 4, err);
            report_ambiguous(rep, g, col0 + (uint64_t)k);
        }
        v |= ((f + 1) & 15u) << (4 * k);
    }
    *res = policy == QFI_V1Z_WORD ? w + 0x11111111u : v;
    return QF_OK;
}

/* arguments of a GPTQ <-> AWQ repack, and the kernels of the level in use */
static int prologue(uint64_t in, uint64_t out, uint64_t group_size, int zero_format,
                    const char *what, const struct qfi_repack_fns **f, struct qf_error *err)
{
    int rc = check_dims(in, out, group_size, what, err);
    if (rc)
        return rc;
    if (zero_format != QFI_GPTQ_V1 && zero_format != QFI_GPTQ_V2)
        return qfi_error(err, QF_EINVAL, 0, NULL, -1, "%s: zero format %d", what, zero_format);
    if (!(*f = qfi_repack_fns()))
        return no_level(err);
    return QF_OK;
}

int qfi_repack_gptq_to_awq(uint64_t in, uint64_t out, uint64_t group_size, int zero_format,
                           int policy, const void *g_idx, const void *qweight, const void *qzeros,
                           void *awq_qweight, void *awq_qzeros, struct qfi_repack_report *rep,
                           struct qf_error *err)
{
    report_reset(rep);
    const struct qfi_repack_fns *f;
    int rc = prologue(in, out, group_size, zero_format, "GPTQ -> AWQ", &f, err);
    if (rc || (rc = qfi_repack_check_gidx(g_idx, in, group_size, err)))
        return rc;
    /* zeros first: a refusal leaves the qweight buffer untouched */
    const uint64_t ng = in / group_size, ow = out / 8;
    const uint8_t *zs = qzeros;
    uint8_t *zd = awq_qzeros;
    for (uint64_t g = 0; g < ng; g++) {
        for (uint64_t c = 0; c < ow; c++) {
            uint32_t w = qfi_load_le32(zs + 4 * (g * ow + c));
            if (zero_format == QFI_GPTQ_V1 &&
                (rc = v1_word4_to_v2(w, g, 8 * c, policy, rep, &w, err)))
                return rc;
            qfi_store_le32(zd + 4 * (g * ow + c), nib_to_awq(w));
        }
    }
    f->g2a(qweight, awq_qweight, in, out);
    return QF_OK;
}

int qfi_repack_awq_to_gptq(uint64_t in, uint64_t out, uint64_t group_size, int zero_format,
                           const void *awq_qweight, const void *awq_qzeros, void *qweight,
                           void *qzeros, void *g_idx_out, struct qf_error *err)
{
    const struct qfi_repack_fns *f;
    int rc = prologue(in, out, group_size, zero_format, "AWQ -> GPTQ", &f, err);
    if (rc)
        return rc;
    const uint64_t ng = in / group_size, ow = out / 8;
    const uint8_t *zs = awq_qzeros;
    uint8_t *zd = qzeros;
    for (uint64_t g = 0; g < ng; g++)
        for (uint64_t c = 0; c < ow; c++) {
            const uint32_t w = nib_from_awq(qfi_load_le32(zs + 4 * (g * ow + c)));
            qfi_store_le32(zd + 4 * (g * ow + c), w);
        }
    if (zero_format == QFI_GPTQ_V1) {
        /* in place: rows are word-aligned for 4 bits */
        for (uint64_t g = 0; g < ng; g++) {
            uint8_t *row = zd + 4 * ow * g;
            for (uint64_t k = 0; k < out; k++) {
                const uint32_t z = field_get(row, 4, k);
                if (z == 0)
                    return qfi_error(err, QF_EUNSUPPORTED, 0, NULL, -1,
                                     "AWQ -> GPTQ v1: zero point 0 at group %llu column %llu "
                                     "cannot be stored in v1 (AutoAWQ writes z = 0 legitimately); "
                                     "write checkpoint_format gptq_v2",
                                     (unsigned long long)g, (unsigned long long)k);
                field_set(row, 4, k, z - 1);
            }
        }
    }
    f->a2g(awq_qweight, qweight, in, out);
    if (g_idx_out)
        qfi_repack_write_gidx(g_idx_out, in, group_size);
    return QF_OK;
}

/* ---------------------------------------------------------------------------------------
 * GGUF Q4_0 / Q8_0 / Q4_1 <-> GPTQ
 */
enum { QK = 32, Q4_0_BYTES = 18, Q4_1_BYTES = 20, Q8_0_BYTES = 34 };

static int check_gguf_dims(uint64_t in, uint64_t out, uint64_t group_size, const char *what,
                           struct qf_error *err)
{
    int rc = check_dims(in, out, group_size, what, err);
    if (rc)
        return rc;
    if (group_size % QK)
        return qfi_error(err, QF_EUNSUPPORTED, 0, NULL, -1,
                         "%s: group size %llu is not a multiple of the 32-element block", what,
                         (unsigned long long)group_size);
    return QF_OK;
}

/* the constant qzeros of a symmetric layer: zero point 2^(bits-1) in every field */
static void write_sym_zeros(uint8_t *qzeros, int bits, int zero_format, uint64_t ngroups,
                            uint64_t out)
{
    const uint32_t w = bits == 4 ? (zero_format == QFI_GPTQ_V1 ? 0x77777777u : 0x88888888u)
                                 : (zero_format == QFI_GPTQ_V1 ? 0x7F7F7F7Fu : 0x80808080u);
    const uint64_t n = ngroups * zero_row_words(bits, out);
    for (uint64_t i = 0; i < n; i++)
        qfi_store_le32(qzeros + 4 * i, w);
}

static int from_blocks(int bits, uint64_t in, uint64_t out, int zero_format, const void *blocks,
                       void *qweight, void *qzeros, void *scales, void *g_idx,
                       struct qf_error *err)
{
    const char *what = bits == 4 ? "Q4_0 -> GPTQ" : "Q8_0 -> GPTQ";
    int rc = check_gguf_dims(in, out, QK, what, err);
    if (rc)
        return rc;
    if (zero_format != QFI_GPTQ_V1 && zero_format != QFI_GPTQ_V2)
        return qfi_error(err, QF_EINVAL, 0, NULL, -1, "%s: zero format %d", what, zero_format);
    const uint64_t nb = in / QK, bb = bits == 4 ? Q4_0_BYTES : Q8_0_BYTES;
    const uint64_t wpb = (uint64_t)(QK * bits / 32); /* qweight rows per block */
    uint8_t *qw = qweight, *sc = scales;
    for (uint64_t o = 0; o < out; o++)
        for (uint64_t b = 0; b < nb; b++) {
            const uint8_t *blk = (const uint8_t *)blocks + (o * nb + b) * bb;
            uint8_t code[QK];
            if (bits == 4)
                for (int j = 0; j < 16; j++) {
                    code[j] = blk[2 + j] & 15;
                    code[j + 16] = blk[2 + j] >> 4;
                }
            else
                for (int j = 0; j < QK; j++)
                    code[j] = blk[2 + j] ^ 0x80; /* int8 qs + 128 */
            for (uint64_t w = 0; w < wpb; w++) {
                uint32_t v = 0;
                for (int k = 0; k < 32 / bits; k++)
                    v |= (uint32_t)code[w * (uint64_t)(32 / bits) + (uint64_t)k] << (bits * k);
                qfi_store_le32(qw + 4 * ((b * wpb + w) * out + o), v);
            }
            memcpy(sc + 2 * (b * out + o), blk, 2); /* d, f16 bits unchanged */
        }
    write_sym_zeros(qzeros, bits, zero_format, nb, out);
    if (g_idx)
        qfi_repack_write_gidx(g_idx, in, QK);
    return QF_OK;
}

int qfi_repack_q4_0_to_gptq(uint64_t in, uint64_t out, int zero_format, const void *blocks,
                            void *qweight, void *qzeros, void *scales, void *g_idx,
                            struct qf_error *err)
{
    return from_blocks(4, in, out, zero_format, blocks, qweight, qzeros, scales, g_idx, err);
}

int qfi_repack_q8_0_to_gptq(uint64_t in, uint64_t out, int zero_format, const void *blocks,
                            void *qweight, void *qzeros, void *scales, void *g_idx,
                            struct qf_error *err)
{
    return from_blocks(8, in, out, zero_format, blocks, qweight, qzeros, scales, g_idx, err);
}

/* Decoded zero points of a GPTQ layer as one byte each, [ngroups, out] (malloc'd). */
static int decode_zeros(int bits, uint64_t ngroups, uint64_t out, int zero_format, int policy,
                        const void *qzeros, uint8_t **res, struct qfi_repack_report *rep,
                        struct qf_error *err)
{
    const uint64_t nw = zero_row_words(bits, out);
    uint8_t *z = malloc(ngroups * out);
    uint8_t *v2 = zero_format == QFI_GPTQ_V1 ? malloc(4 * nw * ngroups) : NULL;
    if (!z || (zero_format == QFI_GPTQ_V1 && !v2)) {
        free(z);
        free(v2);
        return qfi_error(err, QF_ENOMEM, 0, NULL, -1, "zero points: out of memory");
    }
    const uint8_t *src = qzeros;
    if (v2) {
        int rc = qfi_repack_zeros_v1_to_v2(qzeros, v2, bits, ngroups, out, policy, rep, err);
        if (rc) {
            free(z);
            free(v2);
            return rc;
        }
        src = v2;
    }
    for (uint64_t g = 0; g < ngroups; g++)
        for (uint64_t o = 0; o < out; o++)
            z[g * out + o] = (uint8_t)field_get(src + 4 * nw * g, bits, o);
    free(v2);
    *res = z;
    return QF_OK;
}

/* Code of input i, column o of a GPTQ qweight with 4 or 8 bits. */
static uint32_t code_at(const uint8_t *qw, int bits, uint64_t out, uint64_t i, uint64_t o)
{
    const uint64_t per = (uint64_t)(32 / bits);
    return (qfi_load_le32(qw + 4 * ((i / per) * out + o)) >> (bits * (int)(i % per))) &
           ((1u << bits) - 1);
}

static int to_blocks(int type_bits, int asym, uint64_t in, uint64_t out, uint64_t group_size,
                     int zero_format, int policy, const void *g_idx, const void *qweight,
                     const void *qzeros, const void *scales, void *blocks,
                     struct qfi_repack_report *rep, struct qf_error *err)
{
    const char *what = asym ? "GPTQ -> Q4_1" : type_bits == 4 ? "GPTQ -> Q4_0" : "GPTQ -> Q8_0";
    report_reset(rep);
    int rc = check_gguf_dims(in, out, group_size, what, err);
    if (rc)
        return rc;
    if (zero_format != QFI_GPTQ_V1 && zero_format != QFI_GPTQ_V2)
        return qfi_error(err, QF_EINVAL, 0, NULL, -1, "%s: zero format %d", what, zero_format);
    if ((rc = qfi_repack_check_gidx(g_idx, in, group_size, err)))
        return rc;
    const uint64_t ng = in / group_size, nb = in / QK;
    uint8_t *z = NULL;
    if ((rc = decode_zeros(type_bits, ng, out, zero_format, policy, qzeros, &z, rep, err)))
        return rc;
    const uint32_t mid = 1u << (type_bits - 1);
    if (!asym)
        for (uint64_t g = 0; g < ng; g++)
            for (uint64_t o = 0; o < out; o++)
                if (z[g * out + o] != mid) {
                    rc = qfi_error(err, QF_EUNSUPPORTED, 0, NULL, -1,
                                   "%s: zero point %u at group %llu column %llu; only a "
                                   "symmetric layer (every zero point %u) maps exactly",
                                   what, z[g * out + o], (unsigned long long)g,
                                   (unsigned long long)o, mid);
                    free(z);
                    return rc;
                }
    const uint8_t *sc = scales, *qw = qweight;
    const uint64_t bb = asym ? Q4_1_BYTES : type_bits == 4 ? Q4_0_BYTES : Q8_0_BYTES;
    double max_m = 0, max_abs = 0;
    for (uint64_t o = 0; o < out; o++)
        for (uint64_t b = 0; b < nb; b++) {
            uint8_t *blk = (uint8_t *)blocks + (o * nb + b) * bb;
            const uint64_t g = b * QK / group_size, i0 = b * QK;
            const uint16_t d = qfi_load_le16(sc + 2 * (g * out + o));
            qfi_store_le16(blk, d);
            if (type_bits == 8) {
                for (uint64_t e = 0; e < QK; e++)
                    blk[2 + e] = (uint8_t)(code_at(qw, 8, out, i0 + e, o) ^ 0x80);
                continue;
            }
            uint8_t *qs = blk + (asym ? 4 : 2);
            for (uint64_t j = 0; j < 16; j++)
                qs[j] = (uint8_t)(code_at(qw, 4, out, i0 + j, o) |
                                  code_at(qw, 4, out, i0 + j + 16, o) << 4);
            if (!asym)
                continue;
            const float s = kern_f16_to_f32(d);
            const uint32_t zz = z[g * out + o];
            const float m_exact = -s * (float)zz; /* exact: 11-bit mantissa times 4 bits */
            const uint16_t m16 = kern_f32_to_f16(m_exact);
            const float mm = kern_f16_to_f32(m16);
            if (!isfinite(s) || !isfinite(mm)) {
                free(z);
                return qfi_error(err, QF_EUNSUPPORTED, 0, NULL, -1,
                                 "%s: group %llu column %llu: scale %g times zero point %u does "
                                 "not fit an f16 minimum", what, (unsigned long long)g,
                                 (unsigned long long)o, (double)s, zz);
            }
            qfi_store_le16(blk + 2, m16);
            const double em = fabs((double)mm - (double)m_exact);
            if (em > max_m)
                max_m = em;
            for (uint64_t e = 0; e < QK; e++) {
                const uint32_t q = code_at(qw, 4, out, i0 + e, o);
                const float prod = (float)q * s;
                const float y = prod + mm;
                const float ref = s * (float)((int)q - (int)zz);
                const double ea = fabs((double)y - (double)ref);
                if (ea > max_abs)
                    max_abs = ea;
            }
        }
    free(z);
    if (rep) {
        rep->q41_max_m_err = max_m;
        rep->q41_max_abs_err = max_abs;
    }
    return QF_OK;
}

int qfi_repack_gptq_to_q4_0(uint64_t in, uint64_t out, uint64_t group_size, int zero_format,
                            const void *g_idx, const void *qweight, const void *qzeros,
                            const void *scales, void *blocks, struct qf_error *err)
{
    return to_blocks(4, 0, in, out, group_size, zero_format, QFI_V1Z_REFUSE, g_idx, qweight,
                     qzeros, scales, blocks, NULL, err);
}

int qfi_repack_gptq_to_q8_0(uint64_t in, uint64_t out, uint64_t group_size, int zero_format,
                            const void *g_idx, const void *qweight, const void *qzeros,
                            const void *scales, void *blocks, struct qf_error *err)
{
    return to_blocks(8, 0, in, out, group_size, zero_format, QFI_V1Z_REFUSE, g_idx, qweight,
                     qzeros, scales, blocks, NULL, err);
}

int qfi_repack_gptq_to_q4_1(uint64_t in, uint64_t out, uint64_t group_size, int zero_format,
                            int policy, const void *g_idx, const void *qweight,
                            const void *qzeros, const void *scales, void *blocks,
                            struct qfi_repack_report *rep, struct qf_error *err)
{
    return to_blocks(4, 1, in, out, group_size, zero_format, policy, g_idx, qweight, qzeros,
                     scales, blocks, rep, err);
}

int qfi_repack_awq_to_q4_1(uint64_t in, uint64_t out, uint64_t group_size,
                           const void *awq_qweight, const void *awq_qzeros, const void *scales,
                           void *blocks, struct qfi_repack_report *rep, struct qf_error *err)
{
    report_reset(rep);
    int rc = check_gguf_dims(in, out, group_size, "AWQ -> Q4_1", err);
    if (rc)
        return rc;
    void *qw = malloc(in / 2 * out), *qz = malloc(in / group_size * out / 2);
    if (!qw || !qz)
        rc = qfi_error(err, QF_ENOMEM, 0, NULL, -1, "AWQ -> Q4_1: out of memory");
    if (!rc)
        rc = qfi_repack_awq_to_gptq(in, out, group_size, QFI_GPTQ_V2, awq_qweight, awq_qzeros,
                                    qw, qz, NULL, err);
    if (!rc)
        rc = qfi_repack_gptq_to_q4_1(in, out, group_size, QFI_GPTQ_V2, QFI_V1Z_REFUSE, NULL, qw,
                                     qz, scales, blocks, rep, err);
    free(qw);
    free(qz);
    return rc;
}
