/* kern.h - kernel tables and CPU dispatch (internal to libfmt/kern/).
 *
 * A kernel table holds, per type id, a dequantizer and a quantizer with the signatures of the
 * scalar reference (kern_ref.h): dq(src, dst, nblocks) and q(src_row, dst_row, n_per_row,
 * imatrix). A NULL entry means "no kernel at this level": the dispatcher then takes the entry of
 * the next lower level (avx512 -> avx2 -> scalar), so every level is complete.
 *
 * Every table must produce bytes (quantize) and float bits (dequantize) identical to the scalar
 * reference for every input, NaN and Inf included (for dequantizers that do arithmetic, only
 * which NaN payload comes out of NaN * NaN + NaN may differ: the C reference leaves that to the
 * compiler). SIMD kernels fall back to the scalar functions for tails, and for blocks or rows
 * whose inputs make the vector shortcut unsafe (NaN in a Q8_0/Q8_1 group, NaN or Inf in a Q8_K
 * super-block, non-finite or huge values in a K-quant super-block, an IQ4 group or an imatrix
 * row).
 *
 * kern_avx2.c and kern_avx512.c are compiled with their ISA flags and export only their table;
 * nothing else in them may be called before cpu.c has confirmed CPU and OS support. Both include
 * kern_kq.h, the K-quant and imatrix quantizers written once over a small vector layer.
 */
#ifndef QF_KERN_H
#define QF_KERN_H

#include <stddef.h>
#include <stdint.h>

#include "qf/types.h"
#include "kern/kern_ref.h"

typedef void (*kern_dq_fn)(const void *restrict src, float *restrict dst, size_t nblocks);
typedef void (*kern_q_fn)(const float *restrict src, void *restrict dst, int64_t n_per_row,
                          const float *restrict imatrix);

struct kern_table {
    const char *name;          /* "scalar", "avx2", "avx512" */
    kern_dq_fn dq[QF_TYPE_END];
    kern_q_fn q[QF_TYPE_END];
};

/* kern_scalar.c: the reference level (complete for every type with a reference kernel). */
extern const struct kern_table kern_table_scalar;
#if defined(__x86_64__) || defined(__i386__)
extern const struct kern_table kern_table_avx2;
extern const struct kern_table kern_table_avx512;
#endif
#if defined(__aarch64__)
extern const struct kern_table kern_table_neon; /* kern_neon.c */
#endif

/* kern_dispatch.c: the completed table of a level ("scalar", "avx2", "avx512", "auto"; every
 * entry filled from the levels below), or NULL if the CPU cannot run it / the name is unknown.
 * kern_active_table() is the level qf_dequantize/qf_quantize use (NULL after a bad QF_SIMD). */
const struct kern_table *kern_level_table(const char *name);
const struct kern_table *kern_active_table(void);

/* Extra scalar decoders of safetensors dtypes that have no ggml block layout (kern_scalar.c). */
void kern_dq_u8(const void *restrict src, float *restrict dst, size_t n);
void kern_dq_u16(const void *restrict src, float *restrict dst, size_t n);
void kern_dq_u32(const void *restrict src, float *restrict dst, size_t n);
void kern_dq_u64(const void *restrict src, float *restrict dst, size_t n);
void kern_dq_bool(const void *restrict src, float *restrict dst, size_t n);

/* Second half of the K-quant quantizers (kern_scalar.c), shared by every level: from the
 * sub-block fits (scales, mins, codes L) to the finished block y: scale/min codes, the
 * re-quantization of every element with the stored scales, and the packing. sw (sub-block
 * weight sums) is NULL for the reference path and non-NULL for the imatrix path. A SIMD level
 * only has to reproduce the fits bit for bit. x is the 256 inputs of the super-block.
 *   Q2_K: 16 fits QKX2/QKX3, L = codes 0..3.       Q3_K: 16 fits Q3S/QX, L = codes 0..7.
 *   Q4_K/Q5_K (nmax 15/31): 8 fits, L = 0..nmax.   Q6_K: 16 fits QX(16, 32), L = 0..63. */
void kern_q2_K_finish(const float *x, const float *scales, const float *mins, const float *sw,
                      uint8_t *L, uint8_t *y);
void kern_q3_K_finish(const float *x, const float *scales, const float *sw, int8_t *L,
                      uint8_t *y);
void kern_q45_K_finish(int nmax, const float *x, const float *scales, const float *mins,
                       const float *sw, uint8_t *L, uint8_t *y);
void kern_q6_K_finish(const float *x, const float *scales, int8_t *L, uint8_t *y);
/* The finish steps in parts, for levels that re-quantize with vectors: _scales writes the scale
 * fields (d, dmin, scale codes) from the fits, the level then re-quantizes every element of a
 * sub-block whose decoded scale is not 0 exactly as the finish does, and _pack packs L.
 * kern_q6_K_scales returns 0 when the block is all zero (fully written, nothing left to do). */
void kern_q2_K_scales(const float *scales, const float *mins, const float *sw, uint8_t *y);
void kern_q2_K_pack(const uint8_t *L, uint8_t *y);
void kern_q3_K_scales(const float *scales, const float *sw, uint8_t *y);
void kern_q3_K_pack(const int8_t *L, uint8_t *y);
void kern_q45_K_scales(int nmax, const float *scales, const float *mins, const float *sw,
                       uint8_t *y);
void kern_q45_K_pack(int nmax, const uint8_t *L, uint8_t *y);
int kern_q6_K_scales(const float *scales, uint8_t *y);
void kern_q6_K_pack(const int8_t *L, uint8_t *y);

/* Float -> integer conversion exactly as x86 cvttss2si does it: truncation toward zero, and
 * INT32_MIN for NaN and values outside the int32 range. The reference quantizers convert with C
 * casts such as (int8_t)(x*id + 8.5f), whose out-of-range behaviour C leaves undefined; we pin it
 * to what the x86-64 reference build does (convert to int32, keep the low bits), so that scalar
 * and SIMD code agree on every input. */
static inline int32_t kern_cvtt_i32(float v)
{
    if (v >= -2147483648.0f && v < 2147483648.0f)
        return (int32_t)v;
    return INT32_MIN;
}

/* (int8_t)(uint8_t)v without implementation-defined conversions. */
static inline int kern_low_s8(int32_t v)
{
    int b = (int)((uint32_t)v & 0xFF);
    return b >= 128 ? b - 256 : b;
}

/* ggml's nearest_int: round to nearest, ties to even, by adding 1.5*2^23 and reading the low
 * mantissa bits. Exact for |x| <= 2^22; for larger values, Inf and NaN it returns whatever the bit
 * pattern gives, and SIMD kernels reproduce the same bit trick. */
static inline int kern_nearest_int(float f)
{
    union {
        float f;
        uint32_t u;
    } v;
    v.f = f + 12582912.0f;
    return (int)(v.u & 0x007FFFFFu) - 0x00400000;
}

/* ---------------------------------------------------------------------------------------
 * CPU features (cpu.c)
 */
#define KERN_CPU_AVX2 0x01   /* AVX2 + FMA + F16C, and the OS saves YMM state */
#define KERN_CPU_AVX512 0x02 /* AVX512 F/BW/VL/DQ, and the OS saves ZMM/opmask state */

/* Features of this CPU usable under this OS (detected once, thread-safe). */
unsigned kern_cpu_features(void);

#endif /* QF_KERN_H */
