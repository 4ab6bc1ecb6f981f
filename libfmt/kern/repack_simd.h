/* repack_simd.h - what the SIMD repack kernels (repack_avx2.c, repack_avx512.c) share. */
#ifndef QF_REPACK_SIMD_H
#define QF_REPACK_SIMD_H

#include "repack_int.h"

#include <immintrin.h>

/* the small loops over register arrays must unroll, or the arrays live in memory */
#if defined(__clang__)
#define QF_UNROLL _Pragma("clang loop unroll(full)")
#else
#define QF_UNROLL _Pragma("GCC unroll 8")
#endif

/* the AWQ interleave (qfi_awq_order / qfi_awq_inv), visible here so the register
 * permutations fold at compile time */
static const int ORD[8] = {0, 2, 4, 6, 1, 3, 5, 7}, INV[8] = {0, 4, 1, 5, 2, 6, 3, 7};

#endif /* QF_REPACK_SIMD_H */
