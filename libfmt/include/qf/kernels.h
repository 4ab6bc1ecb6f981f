/* qf/kernels.h - dequantize and quantize tensor data, with a selectable SIMD level.
 *
 * Every supported storage type converts to float32 ("dequantize") and, where a reference
 * quantizer exists, float32 converts back ("quantize"). The bytes produced equal those of the
 * ggml reference quantizers built without FMA contraction (what an x86-64 llama-quantize writes),
 * importance-matrix variants included; dequantized values are bit-exact. Every SIMD level gives
 * results identical to the scalar level, byte for byte and bit for bit.
 *
 * Thread-safety: qf_dequantize / qf_quantize / qf_type_* are reentrant and may run in many
 * threads at once. qf_simd_set() changes a process-wide setting; call it before starting
 * workers (a concurrent call is safe but workers may use either level for a while).
 */
#ifndef QF_KERNELS_H
#define QF_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "qf/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Convert n elements of type `type` (enum qf_type) at src into n floats at dst.
 * n must be a multiple of the type's block size; src holds exactly qf_type_nbytes(type, n, n)
 * bytes, little-endian; neither pointer needs any alignment. src and dst must not overlap.
 * Returns QF_OK, QF_EINVAL (bad n, NULL pointer with n > 0), QF_EUNSUPPORTED (no decoder for
 * this type, or the QF_SIMD environment variable asks for a level this CPU cannot run, see
 * qf_simd_level). n == 0 is a no-op. */
QF_API int qf_dequantize(int type, const void *src, float *dst, uint64_t n);

/* Quantize nrows rows of n_per_row floats (contiguous, row after row) into dst, which receives
 * nrows * (row size) bytes with no padding. n_per_row must be a multiple of the block size.
 * imatrix is NULL or n_per_row importance weights (per column, the same for every row: pass
 * one expert's slice at a time for 3-D tensors); types whose reference ignores it (Q8_0, F16,
 * ...) ignore it here too. Some types require it (qf_type_needs_imatrix).
 * Returns the number of bytes written, or a negative QF_E* code: QF_EINVAL (bad sizes, NULL,
 * missing imatrix where required), QF_EUNSUPPORTED (no quantizer for this type), QF_ELIMIT
 * (the size overflows int64). */
QF_API int64_t qf_quantize(int type, const float *src, void *dst, uint64_t nrows,
                           uint64_t n_per_row, const float *imatrix);

/* 1 if qf_dequantize / qf_quantize support the type, else 0. */
QF_API int qf_type_can_dequantize(int type);
QF_API int qf_type_can_quantize(int type);

/* 1 if quantizing to this type needs an importance matrix (IQ2_XXS, IQ2_XS, IQ1_S, as ggml
 * asserts), else 0. */
QF_API int qf_type_needs_imatrix(int type);

/* ---------------------------------------------------------------------------------------
 * SIMD level
 *
 * Levels are "scalar" (the portable reference), "avx2" (AVX2+FMA+F16C) and "avx512"
 * (AVX-512 F/BW/VL/DQ); "auto" means the best one this CPU and OS support, which is also the
 * default. The environment variable QF_SIMD, read once at first use, forces a level.
 */

/* Select a level by name ("scalar", "avx2", "avx512", "auto"). Returns QF_OK, QF_EINVAL for an
 * unknown name (also "sse2"/"neon", which this build does not have), or QF_EUNSUPPORTED when
 * this CPU/OS cannot run it; on error the current level is unchanged. Clears a QF_SIMD error. */
QF_API int qf_simd_set(const char *level);

/* Name of the level in use ("avx512"). If QF_SIMD named an unknown or unsupported level,
 * returns NULL and the kernels fail with QF_EUNSUPPORTED until qf_simd_set() succeeds:
 * a forced level is never silently replaced by another. */
QF_API const char *qf_simd_level(void);

/* The i-th level this CPU supports, from "scalar" (i = 0) up to the best; NULL past the end. */
QF_API const char *qf_simd_supported(size_t i);

#ifdef __cplusplus
}
#endif
#endif /* QF_KERNELS_H */
