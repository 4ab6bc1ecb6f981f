/* kern_ref.h - scalar reference kernels, one pair per block type (internal).
 *
 * kern_dq_<t>(src, dst, nblocks): dequantize nblocks consecutive blocks of type t to f32.
 * kern_q_<t>(src, dst, n_per_row, imatrix): quantize ONE row of n_per_row values (a multiple of
 *   the block size) into blocks; imatrix is NULL or n_per_row importance weights, used exactly
 *   where the reference quantizer uses them. The row matters: some types use per-row statistics.
 *
 * These are the specification: plain C11, built with -ffp-contract=off, bit-identical to the
 * reference quantizers (see ../shared spec ggml-types.md). SIMD tables must match them byte for
 * byte. Files: kern_scalar.c (plain, legacy and K types), kern_iq.c (IQ*, TQ*, MXFP4, NVFP4,
 * Q1_0, Q2_0), kern_iqtab.c (IQ grids as data).
 */
#ifndef QF_KERN_REF_H
#define QF_KERN_REF_H

#include <stddef.h>
#include <stdint.h>

#define KERN_DQ(t) void kern_dq_##t(const void *restrict src, float *restrict dst, size_t nblocks)
#define KERN_Q(t)                                                                              \
    void kern_q_##t(const float *restrict src, void *restrict dst, int64_t n_per_row,          \
                    const float *restrict imatrix)

/* kern_scalar.c */
KERN_DQ(f32); KERN_Q(f32);
KERN_DQ(f16); KERN_Q(f16);
KERN_DQ(bf16); KERN_Q(bf16);
KERN_DQ(f64);
KERN_DQ(i8); KERN_DQ(i16); KERN_DQ(i32); KERN_DQ(i64);
KERN_DQ(q4_0); KERN_Q(q4_0);
KERN_DQ(q4_1); KERN_Q(q4_1);
KERN_DQ(q5_0); KERN_Q(q5_0);
KERN_DQ(q5_1); KERN_Q(q5_1);
KERN_DQ(q8_0); KERN_Q(q8_0);
KERN_DQ(q8_1); KERN_Q(q8_1);
KERN_DQ(q2_K); KERN_Q(q2_K);
KERN_DQ(q3_K); KERN_Q(q3_K);
KERN_DQ(q4_K); KERN_Q(q4_K);
KERN_DQ(q5_K); KERN_Q(q5_K);
KERN_DQ(q6_K); KERN_Q(q6_K);
KERN_DQ(q8_K); KERN_Q(q8_K);
/* code books of safetensors layouts (one element per byte / nibble) */
KERN_DQ(f8_e4m3); KERN_DQ(f8_e5m2); KERN_DQ(f8_e8m0); KERN_DQ(f8_e4m3fnuz); KERN_DQ(f8_e5m2fnuz);

/* kern_iq.c */
KERN_DQ(iq2_xxs); KERN_Q(iq2_xxs);
KERN_DQ(iq2_xs); KERN_Q(iq2_xs);
KERN_DQ(iq2_s); KERN_Q(iq2_s);
KERN_DQ(iq3_xxs); KERN_Q(iq3_xxs);
KERN_DQ(iq3_s); KERN_Q(iq3_s);
KERN_DQ(iq1_s); KERN_Q(iq1_s);
KERN_DQ(iq1_m); KERN_Q(iq1_m);
KERN_DQ(iq4_nl); KERN_Q(iq4_nl);
KERN_DQ(iq4_xs); KERN_Q(iq4_xs);
KERN_DQ(tq1_0); KERN_Q(tq1_0);
KERN_DQ(tq2_0); KERN_Q(tq2_0);
KERN_DQ(mxfp4); KERN_Q(mxfp4);
KERN_DQ(nvfp4); KERN_Q(nvfp4);
KERN_DQ(q1_0); KERN_Q(q1_0);
KERN_DQ(q2_0); KERN_Q(q2_0);
KERN_DQ(f4); /* E2M1 pairs, low nibble first */

/* shared scalar conversions (kern_scalar.c) */
float kern_f16_to_f32(uint16_t h);
uint16_t kern_f32_to_f16(float f);
float kern_bf16_to_f32(uint16_t h);
uint16_t kern_f32_to_bf16(float f);

#endif /* QF_KERN_REF_H */
