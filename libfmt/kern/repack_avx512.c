/* repack_avx512.c - GPTQ <-> AWQ qweight transposition with AVX-512 (see repack_int.h).
 *
 * The AVX2 scheme on 16 tiles: each 512-bit vector carries tiles c..c+7 in its low half and
 * c+8..c+15 in its high half, so the word transpose stays within 256-bit halves and every
 * nibble-transposed vector is 16 consecutive words of one AWQ input row. The swaps use
 * vpternlogd (bit select). Compiled with -mavx512f/bw/vl/dq; reached only after cpu.c
 * confirmed AVX-512.
 */
#if defined(__x86_64__) || defined(__i386__)
#include "kern/repack_simd.h"

/* 8x8 word transpose inside each 256-bit half */
static inline void transpose8x32x2(__m512i r[8])
{
    __m512i t[8], u[8];
    QF_UNROLL
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    QF_UNROLL
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
        u[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
        u[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
        u[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    const __m512i lo = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13);
    const __m512i hi = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
    QF_UNROLL
    for (int i = 0; i < 4; i++) {
        r[i] = _mm512_permutex2var_epi64(u[i], lo, u[i + 4]);
        r[i + 4] = _mm512_permutex2var_epi64(u[i], hi, u[i + 4]);
    }
}

/* b takes the low fields of a >> s, a the low fields of b << s (mask m = low fields) */
#define SWAP(a, b, s, m, mh)                                                                 \
    do {                                                                                     \
        const __m512i b_ = b;                                                                \
        b = _mm512_ternarylogic_epi32(m, _mm512_srli_epi32(a, s), b_, 0xCA);                 \
        a = _mm512_ternarylogic_epi32(mh, _mm512_slli_epi32(b_, s), a, 0xCA);                \
    } while (0)

static inline void transpose_nibbles(__m512i x[8])
{
    const __m512i m16 = _mm512_set1_epi32(0x0000FFFF), h16 = _mm512_set1_epi32((int)0xFFFF0000u);
    const __m512i m8 = _mm512_set1_epi32(0x00FF00FF), h8 = _mm512_set1_epi32((int)0xFF00FF00u);
    const __m512i m4 = _mm512_set1_epi32(0x0F0F0F0F), h4 = _mm512_set1_epi32((int)0xF0F0F0F0u);
    SWAP(x[0], x[4], 16, m16, h16);
    SWAP(x[1], x[5], 16, m16, h16);
    SWAP(x[2], x[6], 16, m16, h16);
    SWAP(x[3], x[7], 16, m16, h16);
    SWAP(x[0], x[2], 8, m8, h8);
    SWAP(x[1], x[3], 8, m8, h8);
    SWAP(x[4], x[6], 8, m8, h8);
    SWAP(x[5], x[7], 8, m8, h8);
    SWAP(x[0], x[1], 4, m4, h4);
    SWAP(x[2], x[3], 4, m4, h4);
    SWAP(x[4], x[5], 4, m4, h4);
    SWAP(x[6], x[7], 4, m4, h4);
}

static void g2a_avx512(const void *restrict src, void *restrict dst, uint64_t in, uint64_t out)
{
    const uint8_t *s = src;
    uint8_t *d = dst;
    const uint64_t ow = out / 8, nv = ow / 16 * 16;
    for (uint64_t r = 0; r < in / 8; r++) {
        for (uint64_t c = 0; c < nv; c += 16) {
            const uint8_t *p = s + 4 * (r * out + 8 * c);
            __m512i v[8], x[8];
            QF_UNROLL
            for (int t = 0; t < 8; t++) {
                const __m256i a = _mm256_loadu_si256((const __m256i *)(p + 32 * t));
                const __m256i b = _mm256_loadu_si256((const __m256i *)(p + 32 * (t + 8)));
                v[t] = _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1);
            }
            transpose8x32x2(v);
            QF_UNROLL
            for (int q = 0; q < 8; q++)
                x[q] = v[ORD[q]];
            transpose_nibbles(x);
            QF_UNROLL
            for (int k = 0; k < 8; k++)
                _mm512_storeu_si512((void *)(d + 4 * ((8 * r + (uint64_t)k) * ow + c)), x[k]);
        }
        qfi_repack_g2a_tiles(s, d, out, r, nv, ow);
    }
}

static void a2g_avx512(const void *restrict src, void *restrict dst, uint64_t in, uint64_t out)
{
    const uint8_t *s = src;
    uint8_t *d = dst;
    const uint64_t ow = out / 8, nv = ow / 16 * 16;
    for (uint64_t r = 0; r < in / 8; r++) {
        for (uint64_t c = 0; c < nv; c += 16) {
            __m512i x[8], v[8];
            QF_UNROLL
            for (int k = 0; k < 8; k++)
                x[k] = _mm512_loadu_si512(
                    (const void *)(s + 4 * ((8 * r + (uint64_t)k) * ow + c)));
            transpose_nibbles(x);
            QF_UNROLL
            for (int j = 0; j < 8; j++)
                v[j] = x[INV[j]];
            transpose8x32x2(v);
            uint8_t *p = d + 4 * (r * out + 8 * c);
            QF_UNROLL
            for (int t = 0; t < 8; t++) {
                _mm256_storeu_si256((__m256i *)(p + 32 * t), _mm512_castsi512_si256(v[t]));
                _mm256_storeu_si256((__m256i *)(p + 32 * (t + 8)),
                                    _mm512_extracti64x4_epi64(v[t], 1));
            }
        }
        qfi_repack_a2g_tiles(s, d, out, r, nv, ow);
    }
}

const struct qfi_repack_fns qfi_repack_fns_avx512 = {"avx512", g2a_avx512, a2g_avx512};
#endif
