/* repack_int.h - lossless repacking of one quantized linear layer between layouts (internal).
 *
 * Pure functions over the byte buffers of one layer [out, in] (little-endian words, any
 * alignment). Nothing here reads files; a caller maps the parts of a layer (qf_layout) and
 * hands their bytes over. Layouts (gptq.md, awq.md, ggml-types.md):
 *
 *   GPTQ 4-bit qweight  [in/8, out] I32   nibble k of word [r][o]  = code of input 8r+k, column o
 *   AWQ GEMM qweight    [in, out/8] I32   nibble p of word [i][c]  = code of input i, column
 *                                         8c + AWQ_ORDER[p], AWQ_ORDER = {0,2,4,6,1,3,5,7}
 *   GPTQ qzeros         [ngroups, ceil(out*b/32)] I32, bitstream along out; v1 stores z-1
 *   AWQ qzeros          [ngroups, out/8] I32, interleaved like qweight, stores z
 *   scales              [ngroups, out] F16 in both (copied unchanged, not handled here)
 *   GGUF Q4_0 / Q4_1 / Q8_0  rows = output channels, blocks of 32 inputs
 *
 * The qweight transposition has a scalar reference and AVX2 / AVX-512 variants (libfmt/kern/
 * repack_avx2.c, repack_avx512.c) that produce identical bytes; qfi_repack_fns() picks the level
 * qf_simd_level() names (QF_SIMD forces it), qfi_repack_fns_level() a given one.
 *
 * Dimensions: in and out are multiples of 8 (AWQ needs out % 8, the nibble transpose whole
 * words of 8 inputs), group_size divides in. Buffers must not overlap.
 */
#ifndef QF_REPACK_INT_H
#define QF_REPACK_INT_H

#include <stddef.h>
#include <stdint.h>

#include "qf_int.h"

/* nibble p of an AWQ word holds column 8c + QFI_AWQ_ORDER[p]; column j sits in nibble
 * QFI_AWQ_INV[j] */
extern const uint8_t qfi_awq_order[8];
extern const uint8_t qfi_awq_inv[8];

/* ---------------------------------------------------------------------------------------
 * qweight transposition kernels (one table per SIMD level)
 */
typedef void (*qfi_repack_qw_fn)(const void *restrict src, void *restrict dst, uint64_t in,
                                 uint64_t out);

struct qfi_repack_fns {
    const char *name;         /* "scalar", "avx2", "avx512" */
    qfi_repack_qw_fn g2a;     /* GPTQ qweight [in/8, out] -> AWQ qweight [in, out/8] */
    qfi_repack_qw_fn a2g;     /* AWQ qweight [in, out/8] -> GPTQ qweight [in/8, out] */
};

/* The table of the level in use (qf_simd_level()), or NULL after an invalid QF_SIMD. */
QFI_HIDDEN const struct qfi_repack_fns *qfi_repack_fns(void);
/* The table of a named level ("scalar", "avx2", "avx512", "auto"), NULL if unknown or if this
 * CPU cannot run it. */
QFI_HIDDEN const struct qfi_repack_fns *qfi_repack_fns_level(const char *name);

/* Scalar tiles for the SIMD levels' tails: tile columns [c0, c1) (a tile = 8 columns) of
 * word row r (GPTQ) / input rows 8r..8r+7 (AWQ). */
QFI_HIDDEN void qfi_repack_g2a_tiles(const uint8_t *src, uint8_t *dst, uint64_t out,
                                     uint64_t r, uint64_t c0, uint64_t c1);
QFI_HIDDEN void qfi_repack_a2g_tiles(const uint8_t *src, uint8_t *dst, uint64_t out,
                                     uint64_t r, uint64_t c0, uint64_t c1);

#if defined(__x86_64__) || defined(__i386__)
extern const struct qfi_repack_fns qfi_repack_fns_avx2;
extern const struct qfi_repack_fns qfi_repack_fns_avx512;
#endif

/* ---------------------------------------------------------------------------------------
 * Zero points
 */
/* GPTQ zero-point conventions (checkpoint_format). */
enum { QFI_GPTQ_V1 = 1, QFI_GPTQ_V2 = 2 };

/* What to do with a v1 field equal to maxq (decodes to 2^bits, which no b-bit field holds:
 * AutoGPTQ's kernels read it as 0, llama.cpp as 2^bits, GPTQModel's v2->v1 export produced it
 * by borrowing from the next field; gptq.md section 5). */
enum {
    QFI_V1Z_REFUSE = 0, /* QF_EUNSUPPORTED naming the first such field */
    QFI_V1Z_WRAP = 1,   /* read it as zero point 0 (field-wise (stored + 1) mod 2^bits) */
    QFI_V1Z_WORD = 2    /* undo GPTQModel's word-wide subtraction: word + 0x11111111 (4-bit),
                           0x55555555 (2-bit), 0x01010101 (8-bit); 3-bit as WRAP */
};

/* Findings of a conversion (zeroed by every function that takes one). */
struct qfi_repack_report {
    uint64_t ambiguous_zeros;   /* v1 fields equal to maxq met (see QFI_V1Z_*) */
    uint64_t first_group, first_col; /* where the first one was */
    double q41_max_m_err;       /* Q4_1: max |f16(m) - (-scale * zero)| over the groups */
    double q41_max_abs_err;     /* Q4_1: max |q*d + m - scale*(q - zero)| over the weights */
};

/* Is g_idx ([in] I32) the trivial i / group_size? QF_OK, or QF_EUNSUPPORTED with the reason
 * ("act-order g_idx ..."). g_idx NULL counts as trivial. */
QFI_HIDDEN int qfi_repack_check_gidx(const void *g_idx, uint64_t in, uint64_t group_size,
                                     struct qf_error *err);

/* Write the trivial g_idx [in] I32 (i / group_size). */
QFI_HIDDEN void qfi_repack_write_gidx(void *g_idx, uint64_t in, uint64_t group_size);

/* GPTQ qzeros v1 <-> v2 for bits 2, 3, 4, 8, qzeros [ngroups, ceil(out*bits/32)] words.
 * v1 -> v2: fields equal to maxq are counted in rep and handled by policy (QFI_V1Z_*).
 * v2 -> v1: a zero point 0 is refused (QF_EUNSUPPORTED naming group and column): v1 cannot
 * represent it (gptq.md section 5). Padding bits past column out are written as 0. */
QFI_HIDDEN int qfi_repack_zeros_v1_to_v2(const void *src, void *dst, int bits, uint64_t ngroups,
                                         uint64_t out, int policy, struct qfi_repack_report *rep,
                                         struct qf_error *err);
QFI_HIDDEN int qfi_repack_zeros_v2_to_v1(const void *src, void *dst, int bits, uint64_t ngroups,
                                         uint64_t out, struct qf_error *err);

/* ---------------------------------------------------------------------------------------
 * GPTQ 4-bit <-> AWQ GEMM, one layer (qweight and qzeros; scales and bias are unchanged)
 */
/* GPTQ -> AWQ. zero_format QFI_GPTQ_V1 or _V2 of the source; policy for ambiguous v1 zeros.
 * g_idx ([in] I32, may be NULL) must be trivial: act-order cannot be expressed in AWQ. */
QFI_HIDDEN int qfi_repack_gptq_to_awq(uint64_t in, uint64_t out, uint64_t group_size,
                                      int zero_format, int policy, const void *g_idx,
                                      const void *qweight, const void *qzeros,
                                      void *awq_qweight, void *awq_qzeros,
                                      struct qfi_repack_report *rep, struct qf_error *err);
/* AWQ -> GPTQ, zeros written in zero_format (v1 refuses a zero point 0). g_idx_out ([in] I32)
 * may be NULL. */
QFI_HIDDEN int qfi_repack_awq_to_gptq(uint64_t in, uint64_t out, uint64_t group_size,
                                      int zero_format, const void *awq_qweight,
                                      const void *awq_qzeros, void *qweight, void *qzeros,
                                      void *g_idx_out, struct qf_error *err);

/* ---------------------------------------------------------------------------------------
 * GGUF blocks <-> GPTQ (rows of the GGUF tensor = output channels; in % 32 == 0)
 */
/* Q4_0 [out rows of in/32 blocks] -> GPTQ 4-bit sym g32: qweight [in/8, out], qzeros
 * [in/32, out/8] (zero 8 in zero_format), scales [in/32, out] F16 (= d), g_idx [in] (may be
 * NULL). Exact: (q - 8) * d both ways. */
QFI_HIDDEN int qfi_repack_q4_0_to_gptq(uint64_t in, uint64_t out, int zero_format,
                                       const void *blocks, void *qweight, void *qzeros,
                                       void *scales, void *g_idx, struct qf_error *err);
/* Q8_0 -> GPTQ 8-bit sym g32: code = qs + 128, zero 128, qweight [in/4, out], qzeros
 * [in/32, out/4]. */
QFI_HIDDEN int qfi_repack_q8_0_to_gptq(uint64_t in, uint64_t out, int zero_format,
                                       const void *blocks, void *qweight, void *qzeros,
                                       void *scales, void *g_idx, struct qf_error *err);
/* GPTQ bits 4 / 8 with every zero point 2^(bits-1) and group_size a multiple of 32 -> Q4_0 /
 * Q8_0; anything else is refused (QF_EUNSUPPORTED, the first offending zero named). */
QFI_HIDDEN int qfi_repack_gptq_to_q4_0(uint64_t in, uint64_t out, uint64_t group_size,
                                       int zero_format, const void *g_idx, const void *qweight,
                                       const void *qzeros, const void *scales, void *blocks,
                                       struct qf_error *err);
QFI_HIDDEN int qfi_repack_gptq_to_q8_0(uint64_t in, uint64_t out, uint64_t group_size,
                                       int zero_format, const void *g_idx, const void *qweight,
                                       const void *qzeros, const void *scales, void *blocks,
                                       struct qf_error *err);
/* GPTQ 4-bit (any zeros, group_size a multiple of 32) -> Q4_1: d = scale, m = f16(-scale *
 * zero). Not exact: rep gets the largest m rounding error and the largest weight error.
 * Refused if -scale * zero overflows f16. */
QFI_HIDDEN int qfi_repack_gptq_to_q4_1(uint64_t in, uint64_t out, uint64_t group_size,
                                       int zero_format, int policy, const void *g_idx,
                                       const void *qweight, const void *qzeros,
                                       const void *scales, void *blocks,
                                       struct qfi_repack_report *rep, struct qf_error *err);
/* AWQ GEMM -> Q4_1 (through GPTQ v2; same report). */
QFI_HIDDEN int qfi_repack_awq_to_q4_1(uint64_t in, uint64_t out, uint64_t group_size,
                                      const void *awq_qweight, const void *awq_qzeros,
                                      const void *scales, void *blocks,
                                      struct qfi_repack_report *rep, struct qf_error *err);

#endif /* QF_REPACK_INT_H */
