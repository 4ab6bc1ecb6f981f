/* qf/types.h - the storage types of tensors: every ggml type id and every safetensors dtype.
 *
 * Values 0..QF_GGML_TYPE_COUNT-1 are ggml type ids exactly as stored in GGUF files (ids that
 * ggml removed are present but have block size 0, which marks them invalid for data).
 * Values from QF_TYPE_EXT_BASE on are dtypes that exist only outside GGUF.
 *
 * Size rule (exact): a row of n elements of type t occupies (n / blck) * block_bytes bytes and n
 * must be a multiple of blck.  Thread-safe: the table is constant.
 */
#ifndef QF_TYPES_H
#define QF_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "qf/error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum qf_type {
    QF_TYPE_F32 = 0,
    QF_TYPE_F16 = 1,
    QF_TYPE_Q4_0 = 2,
    QF_TYPE_Q4_1 = 3,
    /* 4, 5: removed Q4_2, Q4_3 */
    QF_TYPE_Q5_0 = 6,
    QF_TYPE_Q5_1 = 7,
    QF_TYPE_Q8_0 = 8,
    QF_TYPE_Q8_1 = 9,
    QF_TYPE_Q2_K = 10,
    QF_TYPE_Q3_K = 11,
    QF_TYPE_Q4_K = 12,
    QF_TYPE_Q5_K = 13,
    QF_TYPE_Q6_K = 14,
    QF_TYPE_Q8_K = 15,
    QF_TYPE_IQ2_XXS = 16,
    QF_TYPE_IQ2_XS = 17,
    QF_TYPE_IQ3_XXS = 18,
    QF_TYPE_IQ1_S = 19,
    QF_TYPE_IQ4_NL = 20,
    QF_TYPE_IQ3_S = 21,
    QF_TYPE_IQ2_S = 22,
    QF_TYPE_IQ4_XS = 23,
    QF_TYPE_I8 = 24,
    QF_TYPE_I16 = 25,
    QF_TYPE_I32 = 26,
    QF_TYPE_I64 = 27,
    QF_TYPE_F64 = 28,
    QF_TYPE_IQ1_M = 29,
    QF_TYPE_BF16 = 30,
    /* 31-33: removed Q4_0_4_4, Q4_0_4_8, Q4_0_8_8 */
    QF_TYPE_TQ1_0 = 34,
    QF_TYPE_TQ2_0 = 35,
    /* 36-38: removed IQ4_NL_4_4, IQ4_NL_4_8, IQ4_NL_8_8 */
    QF_TYPE_MXFP4 = 39,
    QF_TYPE_NVFP4 = 40,
    QF_TYPE_Q1_0 = 41,
    QF_TYPE_Q2_0 = 42,
    QF_GGML_TYPE_COUNT = 43,

    /* dtypes found only in safetensors (and other non-GGUF containers) */
    QF_TYPE_EXT_BASE = 64,
    QF_TYPE_BOOL = 64,
    QF_TYPE_U8 = 65,
    QF_TYPE_U16 = 66,
    QF_TYPE_U32 = 67,
    QF_TYPE_U64 = 68,
    QF_TYPE_F8_E4M3 = 69,     /* torch float8_e4m3fn */
    QF_TYPE_F8_E5M2 = 70,
    QF_TYPE_F8_E8M0 = 71,     /* MX scale byte */
    QF_TYPE_F8_E4M3FNUZ = 72,
    QF_TYPE_F8_E5M2FNUZ = 73,
    QF_TYPE_F4 = 74,          /* E2M1, two per byte */
    QF_TYPE_F6_E2M3 = 75,     /* four per three bytes */
    QF_TYPE_F6_E3M2 = 76,
    QF_TYPE_C64 = 77,
    QF_TYPE_END = 78,

    QF_TYPE_INVALID = -1
};

/* Flags of struct qf_type_info. */
#define QF_TYPEF_VALID 0x01     /* usable for data (block size > 0) */
#define QF_TYPEF_QUANT 0x02     /* a block-quantized type (scales inside the blocks) */
#define QF_TYPEF_FLOAT 0x04     /* plain floating point element type */
#define QF_TYPEF_INT 0x08       /* plain integer element type (incl. BOOL) */
#define QF_TYPEF_GGUF 0x10      /* may appear in a GGUF file */
#define QF_TYPEF_REMOVED 0x20   /* a ggml id that ggml removed */

struct qf_type_info {
    int type;            /* enum qf_type */
    const char *name;    /* ggml type_name ("q4_K", "f16") or safetensors dtype ("F8_E4M3") */
    uint32_t blck;       /* elements per block (1 for plain types); 0 = invalid */
    uint32_t block_bytes;/* bytes per block */
    unsigned flags;      /* QF_TYPEF_* */
};

/* Info of a type, or NULL when t is not a known id. The result is static. */
QF_API const struct qf_type_info *qf_type_info(int t);

/* Name of a type ("q4_K"); "?" for unknown ids. */
QF_API const char *qf_type_name(int t);

/* Type from a name, case-insensitive, accepting ggml names ("q4_K", "Q4_K", "bf16") and
 * safetensors dtypes ("F8_E4M3", "BOOL", "U8", "I64"). Returns QF_TYPE_INVALID if unknown. */
QF_API int qf_type_from_name(const char *name);

/* Type from a safetensors dtype string (exact, case-sensitive as the format requires).
 * len is the string length. Returns QF_TYPE_INVALID if unknown. */
QF_API int qf_type_from_st_dtype(const char *s, size_t len);

/* Canonical safetensors dtype string of a type, or NULL if it has none (quantized ggml types). */
QF_API const char *qf_type_st_dtype(int t);

/* Bits per weight of a type (block_bytes * 8 / blck); 0 for invalid types. */
QF_API double qf_type_bpw(int t);

/* Exact byte size of nelem elements laid out as rows of row_len elements.
 * Returns QF_EFORMAT if row_len is not a multiple of the block size or the type is not
 * usable, QF_ELIMIT if the size overflows int64. row_len == 0 or nelem == 0 gives 0. */
QF_API int64_t qf_type_nbytes(int t, uint64_t row_len, uint64_t nelem);

#ifdef __cplusplus
}
#endif
#endif /* QF_TYPES_H */
