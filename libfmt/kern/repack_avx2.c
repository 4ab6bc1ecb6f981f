/* repack_avx2.c - GPTQ <-> AWQ qweight transposition with AVX2 (see repack_int.h).
 *
 * Eight tiles (8 input rows x 8 columns of 4-bit codes, 32 bytes) at a time: the 8x8 word
 * transpose turns the eight GPTQ tiles of one word row into vectors whose lane t holds a row of
 * tile t, three mask-and-swap stages transpose the nibbles inside every lane, and each result
 * vector is one AWQ input row of eight consecutive words. AWQ -> GPTQ runs the same steps
 * backwards. Bytes identical to the scalar reference; tails use its tile function.
 * Compiled with -mavx2; reached only after cpu.c confirmed AVX2.
 */
#if defined(__x86_64__) || defined(__i386__)
#include "kern/repack_simd.h"

static inline void transpose8x32(__m256i r[8])
{
    __m256i t[8], u[8];
    QF_UNROLL
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_epi32(r[i], r[i + 1]);
    }
    QF_UNROLL
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_unpacklo_epi64(t[i], t[i + 2]);
        u[i + 1] = _mm256_unpackhi_epi64(t[i], t[i + 2]);
        u[i + 2] = _mm256_unpacklo_epi64(t[i + 1], t[i + 3]);
        u[i + 3] = _mm256_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    QF_UNROLL
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_permute2x128_si256(u[i], u[i + 4], 0x20);
        r[i + 4] = _mm256_permute2x128_si256(u[i], u[i + 4], 0x31);
    }
}

/* swap the high-s-bit fields of a (under mask << s) with the low ones of b (under mask) */
#define SWAP(a, b, s, m)                                                                     \
    do {                                                                                     \
        const __m256i t_ = _mm256_and_si256(_mm256_xor_si256(_mm256_srli_epi32(a, s), b), m); \
        b = _mm256_xor_si256(b, t_);                                                         \
        a = _mm256_xor_si256(a, _mm256_slli_epi32(t_, s));                                   \
    } while (0)

/* transpose the 8x8 nibble matrix of every lane: row i = x[i], column j = nibble j */
static inline void transpose_nibbles(__m256i x[8])
{
    const __m256i m16 = _mm256_set1_epi32(0x0000FFFF), m8 = _mm256_set1_epi32(0x00FF00FF),
                  m4 = _mm256_set1_epi32(0x0F0F0F0F);
    SWAP(x[0], x[4], 16, m16);
    SWAP(x[1], x[5], 16, m16);
    SWAP(x[2], x[6], 16, m16);
    SWAP(x[3], x[7], 16, m16);
    SWAP(x[0], x[2], 8, m8);
    SWAP(x[1], x[3], 8, m8);
    SWAP(x[4], x[6], 8, m8);
    SWAP(x[5], x[7], 8, m8);
    SWAP(x[0], x[1], 4, m4);
    SWAP(x[2], x[3], 4, m4);
    SWAP(x[4], x[5], 4, m4);
    SWAP(x[6], x[7], 4, m4);
}

static void g2a_avx2(const void *restrict src, void *restrict dst, uint64_t in, uint64_t out)
{
    const uint8_t *s = src;
    uint8_t *d = dst;
    const uint64_t ow = out / 8, nv = ow / 8 * 8;
    for (uint64_t r = 0; r < in / 8; r++) {
        for (uint64_t c = 0; c < nv; c += 8) {
            const uint8_t *p = s + 4 * (r * out + 8 * c);
            __m256i v[8], x[8];
            QF_UNROLL
            for (int t = 0; t < 8; t++)
                v[t] = _mm256_loadu_si256((const __m256i *)(p + 32 * t));
            transpose8x32(v); /* v[j] lane t = word j of tile c + t */
            QF_UNROLL
            for (int q = 0; q < 8; q++)
                x[q] = v[ORD[q]];
            transpose_nibbles(x); /* x[k] lane t = AWQ word of input row 8r + k, tile c + t */
            QF_UNROLL
            for (int k = 0; k < 8; k++)
                _mm256_storeu_si256((__m256i *)(d + 4 * ((8 * r + (uint64_t)k) * ow + c)), x[k]);
        }
        qfi_repack_g2a_tiles(s, d, out, r, nv, ow);
    }
}

static void a2g_avx2(const void *restrict src, void *restrict dst, uint64_t in, uint64_t out)
{
    const uint8_t *s = src;
    uint8_t *d = dst;
    const uint64_t ow = out / 8, nv = ow / 8 * 8;
    for (uint64_t r = 0; r < in / 8; r++) {
        for (uint64_t c = 0; c < nv; c += 8) {
            __m256i x[8], v[8];
            QF_UNROLL
            for (int k = 0; k < 8; k++)
                x[k] = _mm256_loadu_si256(
                    (const __m256i *)(s + 4 * ((8 * r + (uint64_t)k) * ow + c)));
            transpose_nibbles(x); /* x[q] nibble k = code of row 8r+k, column AWQ_ORDER[q] */
            QF_UNROLL
            for (int j = 0; j < 8; j++)
                v[j] = x[INV[j]];
            transpose8x32(v); /* v[t] = the eight GPTQ words of tile c + t */
            uint8_t *p = d + 4 * (r * out + 8 * c);
            QF_UNROLL
            for (int t = 0; t < 8; t++)
                _mm256_storeu_si256((__m256i *)(p + 32 * t), v[t]);
        }
        qfi_repack_a2g_tiles(s, d, out, r, nv, ow);
    }
}

const struct qfi_repack_fns qfi_repack_fns_avx2 = {"avx2", g2a_avx2, a2g_avx2};
#endif
