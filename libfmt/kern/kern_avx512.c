/* kern_avx512.c - AVX-512 (F, BW, VL, DQ) kernels. Built with -mavx512f -mavx512bw -mavx512vl
 * -mavx512dq -mfma -mf16c -mavx2; only the table is exported, installed only after cpu.c has seen
 * CPU and OS support. Entries left NULL use the AVX2 kernels.
 *
 * Same rules as kern_avx2.c: each element goes through the float operations of the scalar
 * reference in the same order (no FMA), float->int conversions are cvttps2dq, narrowing keeps the
 * low bits (vpmovdb/vpmovdw truncate, as the reference's casts do on x86), and reductions are
 * only used where their result does not depend on the order. The quantizers work on groups of
 * 16 blocks: per-block reductions first (independent, so they overlap in the pipeline), then
 * the 16 scales in one vector (IEEE division is exact whatever the width), then the codes.
 */
#include "kern/kern.h"

#if defined(__x86_64__) || defined(__i386__)

#include <float.h>
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "kern/kern_iqtab.h"

#define GROUP 16

static inline float h2f(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, 2);
    return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h)));
}

/* 16 floats -> 16 halves (RNE; NaN -> sign | 0x7E00 as kern_f32_to_f16) */
static inline void f32_to_f16x16(const float *f, uint16_t *h)
{
    const __m512 v = _mm512_loadu_ps(f);
    _mm256_storeu_si256((__m256i *)h, _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
    __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    while (nan) {
        const int i = __builtin_ctz(nan);
        h[i] = kern_f32_to_f16(f[i]);
        nan &= (__mmask16)(nan - 1);
    }
}

static inline void put16(uint8_t *p, uint16_t h)
{
    memcpy(p, &h, 2);
}

/* ---------------------------------------------------------------------------------------
 * Plain types
 */
static void dq_f16(const void *restrict src, float *restrict dst, size_t n)
{
    const uint8_t *s = src;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(s + 2 * i))));
        _mm512_storeu_ps(dst + i + 16,
                         _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(s + 2 * i + 32))));
    }
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(s + 2 * i))));
    kern_dq_f16(s + 2 * i, dst + i, n - i);
}

static void q_f16(const float *restrict src, void *restrict dst, int64_t n, const float *imx)
{
    (void)imx;
    uint8_t *d = dst;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 v = _mm512_loadu_ps(src + i);
        if (_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q)) {
            kern_q_f16(src + i, d + 2 * i, 16, NULL);
            continue;
        }
        _mm256_storeu_si256((__m256i *)(d + 2 * i), _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
    }
    kern_q_f16(src + i, d + 2 * i, n - i, NULL);
}

static void dq_bf16(const void *restrict src, float *restrict dst, size_t n)
{
    const uint8_t *s = src;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m512i h = _mm512_loadu_si512((const void *)(s + 2 * i));
        const __m512i lo = _mm512_cvtepu16_epi32(_mm512_castsi512_si256(h));
        const __m512i hi = _mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(h, 1));
        _mm512_storeu_si512((void *)(dst + i), _mm512_slli_epi32(lo, 16));
        _mm512_storeu_si512((void *)(dst + i + 16), _mm512_slli_epi32(hi, 16));
    }
    kern_dq_bf16(s + 2 * i, dst + i, n - i);
}

static void q_bf16(const float *restrict src, void *restrict dst, int64_t n, const float *imx)
{
    (void)imx;
    uint8_t *d = dst;
    int64_t i = 0;
    const __m512i absm = _mm512_set1_epi32(0x7FFFFFFF), inf = _mm512_set1_epi32(0x7F800000);
    const __m512i one = _mm512_set1_epi32(1), bias = _mm512_set1_epi32(0x7FFF);
    const __m512i quiet = _mm512_set1_epi32(0x40);
    for (; i + 16 <= n; i += 16) {
        const __m512i u = _mm512_loadu_si512((const void *)(src + i));
        const __mmask16 nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(u, absm), inf);
        const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), one);
        __m512i r = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, bias), lsb), 16);
        r = _mm512_mask_or_epi32(r, nan, _mm512_srli_epi32(u, 16), quiet);
        _mm256_storeu_si256((__m256i *)(d + 2 * i), _mm512_cvtepi32_epi16(r));
    }
    kern_q_bf16(src + i, d + 2 * i, n - i, NULL);
}

/* Imatrix paths of the legacy quantizers (kern_kq.h, included below). */
static void kq_legacy_row(int kind, const float *src, uint8_t *y, int64_t n, const float *imx);
enum { KL_Q4_0, KL_Q4_1, KL_Q5_0, KL_Q5_1 };

/* ---------------------------------------------------------------------------------------
 * Legacy dequantizers
 */
static void dq_q8_0(const void *restrict src, float *restrict dst, size_t nb)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nb; i++, b += 34, dst += 32) {
        const __m512 d = _mm512_set1_ps(h2f(b));
        const __m512 v0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(b + 2))));
        const __m512 v1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(b + 18))));
        _mm512_storeu_ps(dst, _mm512_mul_ps(v0, d));
        _mm512_storeu_ps(dst + 16, _mm512_mul_ps(v1, d));
    }
}

/* nibbles of 16 bytes: low -> elements 0..15, high -> elements 16..31 */
static inline void nibbles(const uint8_t *qs, __m512i *lo, __m512i *hi)
{
    const __m128i b = _mm_loadu_si128((const __m128i *)qs), m = _mm_set1_epi8(0x0F);
    *lo = _mm512_cvtepu8_epi32(_mm_and_si128(b, m));
    *hi = _mm512_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(b, 4), m));
}

static void dq_q4_0(const void *restrict src, float *restrict dst, size_t nb)
{
    const uint8_t *b = src;
    const __m512i eight = _mm512_set1_epi32(8);
    for (size_t i = 0; i < nb; i++, b += 18, dst += 32) {
        const __m512 d = _mm512_set1_ps(h2f(b));
        __m512i lo, hi;
        nibbles(b + 2, &lo, &hi);
        _mm512_storeu_ps(dst, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(lo, eight)), d));
        _mm512_storeu_ps(dst + 16, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(hi, eight)), d));
    }
}

static void dq_q4_1(const void *restrict src, float *restrict dst, size_t nb)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nb; i++, b += 20, dst += 32) {
        const __m512 d = _mm512_set1_ps(h2f(b)), m = _mm512_set1_ps(h2f(b + 2));
        __m512i lo, hi;
        nibbles(b + 4, &lo, &hi);
        _mm512_storeu_ps(dst, _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(lo), d), m));
        _mm512_storeu_ps(dst + 16, _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(hi), d), m));
    }
}

static inline void codes5(const uint8_t *qh, const uint8_t *qs, __m512i *lo, __m512i *hi)
{
    uint32_t h;
    memcpy(&h, qh, 4);
    nibbles(qs, lo, hi);
    const __m512i sixteen = _mm512_set1_epi32(16);
    *lo = _mm512_mask_or_epi32(*lo, (__mmask16)(h & 0xFFFF), *lo, sixteen);
    *hi = _mm512_mask_or_epi32(*hi, (__mmask16)(h >> 16), *hi, sixteen);
}

static void dq_q5_0(const void *restrict src, float *restrict dst, size_t nb)
{
    const uint8_t *b = src;
    const __m512i sixteen = _mm512_set1_epi32(16);
    for (size_t i = 0; i < nb; i++, b += 22, dst += 32) {
        const __m512 d = _mm512_set1_ps(h2f(b));
        __m512i lo, hi;
        codes5(b + 2, b + 6, &lo, &hi);
        _mm512_storeu_ps(dst, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(lo, sixteen)), d));
        _mm512_storeu_ps(dst + 16, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(hi, sixteen)), d));
    }
}

static void dq_q5_1(const void *restrict src, float *restrict dst, size_t nb)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nb; i++, b += 24, dst += 32) {
        const __m512 d = _mm512_set1_ps(h2f(b)), m = _mm512_set1_ps(h2f(b + 2));
        __m512i lo, hi;
        codes5(b + 4, b + 8, &lo, &hi);
        _mm512_storeu_ps(dst, _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(lo), d), m));
        _mm512_storeu_ps(dst + 16, _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(hi), d), m));
    }
}

/* ---------------------------------------------------------------------------------------
 * K-quant dequantizers
 */
static inline void k4_scale_min(const uint8_t *b, int j, int *sc, int *m)
{
    if (j < 4) {
        *sc = b[j] & 63;
        *m = b[j + 4] & 63;
    } else {
        *sc = (b[j + 4] & 0xF) | ((b[j - 4] >> 6) << 4);
        *m = (b[j + 4] >> 4) | ((b[j] >> 6) << 4);
    }
}

/* y[0..31] = d1 * q - m1 for 32 byte codes (0..255) */
static inline void affine32(float *y, __m256i codes, float d1, float m1)
{
    const __m512 dv = _mm512_set1_ps(d1), mv = _mm512_set1_ps(m1);
    const __m512 f0 = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm256_castsi256_si128(codes)));
    const __m512 f1 = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm256_extracti128_si256(codes, 1)));
    _mm512_storeu_ps(y, _mm512_sub_ps(_mm512_mul_ps(dv, f0), mv));
    _mm512_storeu_ps(y + 16, _mm512_sub_ps(_mm512_mul_ps(dv, f1), mv));
}

static void dq_q4_K(const void *restrict src, float *restrict dst, size_t nb)
{
    const uint8_t *b = src;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (size_t i = 0; i < nb; i++, b += 144) {
        const float d = h2f(b), dmin = h2f(b + 2);
        float ds[8], ms[8];
        for (int j = 0; j < 8; j++) {
            int sc, m;
            k4_scale_min(b + 4, j, &sc, &m);
            ds[j] = d * (float)sc;
            ms[j] = dmin * (float)m;
        }
        for (int c = 0; c < 4; c++, dst += 64) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(b + 16 + 32 * c));
            affine32(dst, _mm256_and_si256(q, m4), ds[2 * c], ms[2 * c]);
            affine32(dst + 32, _mm256_and_si256(_mm256_srli_epi16(q, 4), m4), ds[2 * c + 1],
                     ms[2 * c + 1]);
        }
    }
}

static void dq_q5_K(const void *restrict src, float *restrict dst, size_t nb)
{
    const uint8_t *b = src;
    const __m256i m4 = _mm256_set1_epi8(0x0F), sixteen = _mm256_set1_epi8(16);
    for (size_t i = 0; i < nb; i++, b += 176) {
        const float d = h2f(b), dmin = h2f(b + 2);
        float ds[8], ms[8];
        for (int j = 0; j < 8; j++) {
            int sc, m;
            k4_scale_min(b + 4, j, &sc, &m);
            ds[j] = d * (float)sc;
            ms[j] = dmin * (float)m;
        }
        const __m256i qh = _mm256_loadu_si256((const __m256i *)(b + 16));
        for (int c = 0; c < 4; c++, dst += 64) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(b + 48 + 32 * c));
            const __mmask32 h0 = _mm256_test_epi8_mask(qh, _mm256_set1_epi8((char)(1 << (2 * c))));
            const __mmask32 h1 = _mm256_test_epi8_mask(qh, _mm256_set1_epi8((char)(2 << (2 * c))));
            const __m256i ln = _mm256_and_si256(q, m4);
            const __m256i hn = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            const __m256i lo = _mm256_mask_add_epi8(ln, h0, ln, sixteen); /* nibble + 16 */
            const __m256i hi = _mm256_mask_add_epi8(hn, h1, hn, sixteen);
            affine32(dst, lo, ds[2 * c], ms[2 * c]);
            affine32(dst + 32, hi, ds[2 * c + 1], ms[2 * c + 1]);
        }
    }
}

/* y[0..15] = s0 * q, y[16..31] = s1 * q for 32 signed byte codes */
static inline void scaled32(float *y, __m256i codes, float s0, float s1)
{
    const __m512 f0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(codes)));
    const __m512 f1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(codes, 1)));
    _mm512_storeu_ps(y, _mm512_mul_ps(_mm512_set1_ps(s0), f0));
    _mm512_storeu_ps(y + 16, _mm512_mul_ps(_mm512_set1_ps(s1), f1));
}

static void dq_q6_K(const void *restrict src, float *restrict dst, size_t nb)
{
    const uint8_t *b = src;
    const __m256i m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(3);
    const __m256i b32 = _mm256_set1_epi8(32);
    for (size_t i = 0; i < nb; i++, b += 210) {
        const float d = h2f(b + 208);
        const int8_t *sc = (const int8_t *)(b + 192);
        float ds[16];
        for (int j = 0; j < 16; j++)
            ds[j] = d * (float)sc[j];
        for (int h = 0; h < 2; h++, dst += 128) {
            const __m256i ql0 = _mm256_loadu_si256((const __m256i *)(b + 64 * h));
            const __m256i ql1 = _mm256_loadu_si256((const __m256i *)(b + 64 * h + 32));
            const __m256i qh = _mm256_loadu_si256((const __m256i *)(b + 128 + 32 * h));
            const __m256i h0 = _mm256_slli_epi16(_mm256_and_si256(qh, m3), 4);
            const __m256i h1 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m3), 4);
            const __m256i h2 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m3), 4);
            const __m256i h3 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m3), 4);
            const __m256i q1 = _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(ql0, m4), h0), b32);
            const __m256i q2 = _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(ql1, m4), h1), b32);
            const __m256i q3 = _mm256_sub_epi8(
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4), h2), b32);
            const __m256i q4 = _mm256_sub_epi8(
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4), h3), b32);
            const float *s = ds + 8 * h;
            scaled32(dst, q1, s[0], s[1]);
            scaled32(dst + 32, q2, s[2], s[3]);
            scaled32(dst + 64, q3, s[4], s[5]);
            scaled32(dst + 96, q4, s[6], s[7]);
        }
    }
}

/* 16 byte codes -> 16 floats (signed bytes) */
static inline __m512 s8x16_to_f32(__m128i b)
{
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(b));
}

/* Q2_K: element 128h + 32s + l is bits 2s of qs[32h + l]; sub-block k = 16 elements:
 * y = (d * sc_k) * q - dmin * m_k */
static void dq_q2_K(const void *restrict src, float *restrict dst, size_t nb)
{
    const uint8_t *b = src;
    const __m256i m3 = _mm256_set1_epi8(3);
    for (size_t i = 0; i < nb; i++, b += 84) {
        const float d = h2f(b + 80), dmin = h2f(b + 82);
        int is = 0;
        for (int h = 0; h < 2; h++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(b + 16 + 32 * h));
            for (int sh = 0; sh < 4; sh++) {
                const __m256i c = _mm256_and_si256(_mm256_srli_epi16(q, 2 * sh), m3);
                for (int half = 0; half < 2; half++, dst += 16) {
                    const uint8_t sc = b[is++];
                    const __m512 dl = _mm512_set1_ps(d * (float)(sc & 0xF));
                    const __m512 ml = _mm512_set1_ps(dmin * (float)(sc >> 4));
                    const __m128i cb = half ? _mm256_extracti128_si256(c, 1) : _mm256_castsi256_si128(c);
                    _mm512_storeu_ps(dst, _mm512_sub_ps(_mm512_mul_ps(dl, s8x16_to_f32(cb)), ml));
                }
            }
        }
    }
}

/* Q3_K: low 2 bits as Q2_K, high bit (e div 32) of hmask[e mod 32]; y = (d * sc_j) * q with
 * q = low - (high ? 0 : 4) */
static void dq_q3_K(const void *restrict src, float *restrict dst, size_t nb)
{
    const uint8_t *b = src;
    const __m256i m3 = _mm256_set1_epi8(3), four = _mm256_set1_epi8(4);
    for (size_t i = 0; i < nb; i++, b += 110) {
        const float d = h2f(b + 108);
        const uint8_t *sb = b + 96;
        float dl[16];
        for (int j = 0; j < 16; j++) {
            const int lo = j < 8 ? (sb[j] & 0xF) : (sb[j - 8] >> 4);
            const int hi = (sb[8 + j % 4] >> (2 * (j / 4))) & 3;
            dl[j] = d * (float)((lo | (hi << 4)) - 32);
        }
        const __m256i hm = _mm256_loadu_si256((const __m256i *)b);
        int is = 0;
        for (int h = 0; h < 2; h++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(b + 32 + 32 * h));
            for (int sh = 0; sh < 4; sh++) {
                const __mmask32 hb = _mm256_test_epi8_mask(hm, _mm256_set1_epi8((char)(1 << (4 * h + sh))));
                __m256i c = _mm256_sub_epi8(_mm256_and_si256(_mm256_srli_epi16(q, 2 * sh), m3), four);
                c = _mm256_mask_add_epi8(c, hb, c, four);
                for (int half = 0; half < 2; half++, dst += 16) {
                    const __m128i cb = half ? _mm256_extracti128_si256(c, 1) : _mm256_castsi256_si128(c);
                    _mm512_storeu_ps(dst, _mm512_mul_ps(_mm512_set1_ps(dl[is++]), s8x16_to_f32(cb)));
                }
            }
        }
    }
}

/* ---------------------------------------------------------------------------------------
 * Legacy quantizers, 16 blocks at a time
 */

/* roundf: truncate, then +-1 where the dropped fraction is >= 0.5 (exact for every float) */
static inline __m512 round_away(__m512 v)
{
    const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m512 frac = _mm512_abs_ps(_mm512_sub_ps(v, t));
    const __mmask16 big = _mm512_cmp_ps_mask(frac, _mm512_set1_ps(0.5f), _CMP_GE_OQ);
    const __m512 one = _mm512_castsi512_ps(_mm512_ternarylogic_epi32(
        _mm512_castps_si512(v), _mm512_set1_epi32(0x80000000), _mm512_castps_si512(_mm512_set1_ps(1.0f)),
        0xEA)); /* (v & sign) | 1.0 */
    return _mm512_mask_add_ps(t, big, t, one);
}

/* Lane b of the result = max of the 16 lanes of r[b] (b = 0..15), for non-NaN inputs (the
 * order of a max over non-NaN values does not change its result). A transposing tree: 45
 * instructions for 16 reductions. */
static inline __m512 max16x16(const __m512 r[16])
{
    __m512 a[8], b[4], c[2];
    for (int i = 0; i < 8; i++)
        a[i] = _mm512_max_ps(_mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]),
                             _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]));
    for (int i = 0; i < 4; i++)
        b[i] = _mm512_max_ps(_mm512_shuffle_ps(a[2 * i], a[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_ps(a[2 * i], a[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    for (int i = 0; i < 2; i++)
        c[i] = _mm512_max_ps(_mm512_shuffle_f32x4(b[2 * i], b[2 * i + 1], 0x88),
                             _mm512_shuffle_f32x4(b[2 * i], b[2 * i + 1], 0xDD));
    return _mm512_max_ps(_mm512_shuffle_f32x4(c[0], c[1], 0x88),
                         _mm512_shuffle_f32x4(c[0], c[1], 0xDD));
}

/* roundf for |v| < 2^22: truncate v + copysign(0.5 - 2^-25, v). Exact in that range: below
 * a half the sum stays under the next integer, from a half on it reaches it. */
static inline __m512i round_away_small(__m512 v)
{
    const __m512 h = _mm512_castsi512_ps(_mm512_ternarylogic_epi32(
        _mm512_castps_si512(v), _mm512_set1_epi32(0x80000000),
        _mm512_castps_si512(_mm512_set1_ps(0x1.fffffep-2f)), 0xEA)); /* (v & sign) | h */
    return _mm512_cvttps_epi32(_mm512_add_ps(v, h));
}

/* Q8_0. A group with a NaN anywhere is done block by block by the scalar reference (its MAX
 * keeps a NaN only in the last position); everything else is exact here, Inf and subnormal
 * scales included, because vpmovdb keeps the low byte as the reference's int8 cast does. When
 * every absmax of the group is 0 or in [2^-100, FLT_MAX], |x * id| <= 127.0001 and the cheaper
 * rounding applies. */
static inline void q8_store(uint8_t *yb, int q81, uint16_t dh, float d, __m512i q0, __m512i q1)
{
    const int c = q81 ? 4 : 2;
    const __m128i b0 = _mm512_cvtepi32_epi8(q0), b1 = _mm512_cvtepi32_epi8(q1);
    put16(yb, dh);
    _mm_storeu_si128((__m128i *)(yb + c), b0);
    _mm_storeu_si128((__m128i *)(yb + c + 16), b1);
    if (q81) {
        /* s = d * sum of the stored (int8) codes; the integer sum is exact in any order */
        const int sum = _mm512_reduce_add_epi32(
            _mm512_add_epi32(_mm512_cvtepi8_epi32(b0), _mm512_cvtepi8_epi32(b1)));
        put16(yb + 2, kern_f32_to_f16((float)sum * d));
    }
}

/* Q8_0 and Q8_1 (q81: 36-byte blocks, d | s | codes). */
static inline void q8_row(const float *restrict x, uint8_t *restrict y, int64_t n, int q81)
{
    const int bs = q81 ? 36 : 34;
    int64_t nb = n / 32;
    float d[GROUP], id[GROUP];
    uint16_t dh[GROUP];
    while (nb > 0) {
        const int g = nb < GROUP ? (int)nb : GROUP;
        __mmask16 nan = 0;
        __m512 r[GROUP];
        for (int b = 0; b < GROUP; b++) {
            if (b >= g) {
                r[b] = _mm512_setzero_ps();
                continue;
            }
            const __m512 v0 = _mm512_loadu_ps(x + 32 * b), v1 = _mm512_loadu_ps(x + 32 * b + 16);
            nan |= _mm512_cmp_ps_mask(v0, v1, _CMP_UNORD_Q);
            r[b] = _mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1));
        }
        if (nan) {
            (q81 ? kern_q_q8_1 : kern_q_q8_0)(x, y, 32 * g, NULL);
        } else {
            const __mmask16 live = (__mmask16)((1u << g) - 1);
            const __m512 av = max16x16(r);
            const __m512 dv = _mm512_div_ps(av, _mm512_set1_ps(127.0f));
            const __mmask16 nz = _mm512_cmp_ps_mask(dv, _mm512_setzero_ps(), _CMP_NEQ_UQ);
            const __m512 idv = _mm512_maskz_div_ps(nz, _mm512_set1_ps(1.0f), dv);
            const __mmask16 tame =
                _mm512_cmp_ps_mask(av, _mm512_setzero_ps(), _CMP_EQ_OQ) |
                (_mm512_cmp_ps_mask(av, _mm512_set1_ps(0x1p-100f), _CMP_GE_OQ) &
                 _mm512_cmp_ps_mask(av, _mm512_set1_ps(FLT_MAX), _CMP_LE_OQ));
            _mm512_storeu_ps(d, dv);
            _mm512_storeu_ps(id, idv);
            f32_to_f16x16(d, dh);
            if ((tame & live) == live) {
                for (int b = 0; b < g; b++) {
                    const __m512 s = _mm512_set1_ps(id[b]);
                    const __m512i q0 = round_away_small(_mm512_mul_ps(_mm512_loadu_ps(x + 32 * b), s));
                    const __m512i q1 = round_away_small(_mm512_mul_ps(_mm512_loadu_ps(x + 32 * b + 16), s));
                    q8_store(y + bs * b, q81, dh[b], d[b], q0, q1);
                }
            } else {
                for (int b = 0; b < g; b++) {
                    const __m512 s = _mm512_set1_ps(id[b]);
                    const __m512 r0 = round_away(_mm512_mul_ps(_mm512_loadu_ps(x + 32 * b), s));
                    const __m512 r1 = round_away(_mm512_mul_ps(_mm512_loadu_ps(x + 32 * b + 16), s));
                    q8_store(y + bs * b, q81, dh[b], d[b], _mm512_cvttps_epi32(r0), _mm512_cvttps_epi32(r1));
                }
            }
        }
        x += 32 * g;
        y += bs * g;
        nb -= g;
    }
}

static void q_q8_0(const float *restrict x, void *restrict dst, int64_t n, const float *imx)
{
    (void)imx;
    q8_row(x, dst, n, 0);
}

static void q_q8_1(const float *restrict x, void *restrict dst, int64_t n, const float *imx)
{
    (void)imx;
    q8_row(x, dst, n, 1);
}

/* Q8_K (292 bytes / 256): d (f32) = 1 / iscale, iscale = -127 / max with max the signed absmax
 * (first occurrence), codes low byte of min(nearest(iscale * x), 127), 16 int16 sums of 16
 * codes. A super-block with a NaN or Inf is left to the scalar reference (NaN payloads would
 * reach the codes through the rounding trick). */
static void q_q8_K(const float *restrict x, void *restrict dst, int64_t n, const float *imx)
{
    (void)imx;
    uint8_t *y = dst;
    for (int64_t i = 0; i < n / 256; i++, x += 256, y += 292) {
        __m512 am = _mm512_setzero_ps();
        __mmask16 fin = 0xFFFF;
        for (int j = 0; j < 256; j += 16) {
            const __m512 a = _mm512_abs_ps(_mm512_loadu_ps(x + j));
            fin &= _mm512_cmp_ps_mask(a, _mm512_set1_ps(FLT_MAX), _CMP_LE_OQ);
            am = _mm512_max_ps(am, a);
        }
        if (fin != 0xFFFF) {
            kern_q_q8_K(x, y, 256, NULL);
            continue;
        }
        const float amax = _mm512_reduce_max_ps(am);
        if (amax == 0.0f) {
            memset(y, 0, 292);
            continue;
        }
        const __m512 at = _mm512_set1_ps(amax);
        int first = 0;
        for (int j = 0; j < 256; j += 16) {
            const __mmask16 hit =
                _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(x + j)), at, _CMP_EQ_OQ);
            if (hit) {
                first = j + __builtin_ctz(hit);
                break;
            }
        }
        const float iscale = -127.0f / x[first];
        const __m512 is = _mm512_set1_ps(iscale);
        for (int j = 0; j < 256; j += 16) {
            const __m512 v = _mm512_add_ps(_mm512_mul_ps(is, _mm512_loadu_ps(x + j)),
                                           _mm512_set1_ps(12582912.0f));
            __m512i q = _mm512_sub_epi32(_mm512_and_si512(_mm512_castps_si512(v),
                                                          _mm512_set1_epi32(0x007FFFFF)),
                                         _mm512_set1_epi32(0x00400000));
            q = _mm512_min_epi32(q, _mm512_set1_epi32(127));
            const __m128i b = _mm512_cvtepi32_epi8(q);
            _mm_storeu_si128((__m128i *)(y + 4 + j), b);
            const uint16_t sum = (uint16_t)_mm512_reduce_add_epi32(_mm512_cvtepi8_epi32(b));
            put16(y + 260 + j / 8, sum);
        }
        const float d = 1.0f / iscale;
        memcpy(y, &d, 4);
    }
}

/* Signed absmax of each block of a group (first occurrence, NaNs never win); d = max / -nmax. */
static inline void sym_scales(const float *x, int g, int nmax, float *d, float *id, uint16_t *dh)
{
    float max[GROUP];
    for (int b = 0; b < g; b++) {
        const __m512 v0 = _mm512_loadu_ps(x + 32 * b), v1 = _mm512_loadu_ps(x + 32 * b + 16);
        const __m512 a0 = _mm512_abs_ps(v0), a1 = _mm512_abs_ps(v1);
        /* max_ps returns its second operand when the first is NaN: NaNs drop out */
        const __m512 m = _mm512_max_ps(a1, _mm512_max_ps(a0, _mm512_setzero_ps()));
        const float amax = _mm512_reduce_max_ps(m);
        max[b] = 0.0f;
        if (amax > 0.0f) {
            const __m512 t = _mm512_set1_ps(amax);
            const uint32_t hit = (uint32_t)_mm512_cmp_ps_mask(a0, t, _CMP_EQ_OQ) |
                                 (uint32_t)_mm512_cmp_ps_mask(a1, t, _CMP_EQ_OQ) << 16;
            max[b] = x[32 * b + __builtin_ctz(hit)];
        }
    }
    const __mmask16 live = (__mmask16)((1u << g) - 1);
    const __m512 dv = _mm512_div_ps(_mm512_maskz_loadu_ps(live, max), _mm512_set1_ps((float)-nmax));
    const __mmask16 nz = _mm512_cmp_ps_mask(dv, _mm512_setzero_ps(), _CMP_NEQ_UQ);
    _mm512_storeu_ps(d, dv);
    _mm512_storeu_ps(id, _mm512_maskz_div_ps(nz, _mm512_set1_ps(1.0f), dv));
    f32_to_f16x16(d, dh);
}

/* (int8)(x*id + bias) clamped above to top, as int32 */
static inline __m512i sym_code16(__m512 v, __m512 id, __m512 bias, __m512i top)
{
    const __m512 t = _mm512_add_ps(_mm512_mul_ps(v, id), bias);
    const __m512i q = _mm512_cvttps_epi32(t);
    return _mm512_min_epi32(_mm512_srai_epi32(_mm512_slli_epi32(q, 24), 24), top);
}

static void q_q4_0(const float *restrict x, void *restrict dst, int64_t n, const float *imx)
{
    if (imx) {
        kq_legacy_row(KL_Q4_0, x, dst, n, imx);
        return;
    }
    uint8_t *y = dst;
    int64_t nb = n / 32;
    float d[GROUP], id[GROUP];
    uint16_t dh[GROUP];
    const __m512 bias = _mm512_set1_ps(8.5f);
    const __m512i top = _mm512_set1_epi32(15);
    while (nb > 0) {
        const int g = nb < GROUP ? (int)nb : GROUP;
        sym_scales(x, g, 8, d, id, dh);
        for (int b = 0; b < g; b++) {
            uint8_t *yb = y + 18 * b;
            const __m512 s = _mm512_set1_ps(id[b]);
            const __m512i q0 = sym_code16(_mm512_loadu_ps(x + 32 * b), s, bias, top);
            const __m512i q1 = sym_code16(_mm512_loadu_ps(x + 32 * b + 16), s, bias, top);
            put16(yb, dh[b]);
            /* unmasked q0 | q1 << 4, low byte, as the reference */
            const __m512i p = _mm512_or_si512(q0, _mm512_slli_epi32(q1, 4));
            _mm_storeu_si128((__m128i *)(yb + 2), _mm512_cvtepi32_epi8(p));
        }
        x += 32 * g;
        y += 18 * g;
        nb -= g;
    }
}

static inline void pack5(__m512i q0, __m512i q1, uint8_t *qh, uint8_t *qs)
{
    const __m512i nib = _mm512_set1_epi32(0x0F), b4 = _mm512_set1_epi32(0x10);
    const uint32_t h = (uint32_t)_mm512_test_epi32_mask(q0, b4) |
                       (uint32_t)_mm512_test_epi32_mask(q1, b4) << 16;
    memcpy(qh, &h, 4);
    const __m512i p = _mm512_or_si512(_mm512_and_si512(q0, nib),
                                      _mm512_slli_epi32(_mm512_and_si512(q1, nib), 4));
    _mm_storeu_si128((__m128i *)qs, _mm512_cvtepi32_epi8(p));
}

static void q_q5_0(const float *restrict x, void *restrict dst, int64_t n, const float *imx)
{
    if (imx) {
        kq_legacy_row(KL_Q5_0, x, dst, n, imx);
        return;
    }
    uint8_t *y = dst;
    int64_t nb = n / 32;
    float d[GROUP], id[GROUP];
    uint16_t dh[GROUP];
    const __m512 bias = _mm512_set1_ps(16.5f);
    const __m512i top = _mm512_set1_epi32(31);
    while (nb > 0) {
        const int g = nb < GROUP ? (int)nb : GROUP;
        sym_scales(x, g, 16, d, id, dh);
        for (int b = 0; b < g; b++) {
            uint8_t *yb = y + 22 * b;
            const __m512 s = _mm512_set1_ps(id[b]);
            const __m512i q0 = sym_code16(_mm512_loadu_ps(x + 32 * b), s, bias, top);
            const __m512i q1 = sym_code16(_mm512_loadu_ps(x + 32 * b + 16), s, bias, top);
            put16(yb, dh[b]);
            pack5(q0, q1, yb + 2, yb + 6);
        }
        x += 32 * g;
        y += 22 * g;
        nb -= g;
    }
}

/* min/max of each block (NaNs ignored; a zero extreme takes the sign of its first occurrence,
 * as the reference's sequential scan), then d = (max - min) / nmax for the group. */
static inline void asym_scales(const float *x, int g, int nmax, float *id, uint16_t *dh,
                               uint16_t *mh, float *mins)
{
    float d[GROUP], max[GROUP];
    for (int b = g; b < GROUP; b++)
        mins[b] = 0.0f;
    for (int b = 0; b < g; b++) {
        const __m512 v0 = _mm512_loadu_ps(x + 32 * b), v1 = _mm512_loadu_ps(x + 32 * b + 16);
        const __m512 mn = _mm512_min_ps(v1, _mm512_min_ps(v0, _mm512_set1_ps(FLT_MAX)));
        const __m512 mx = _mm512_max_ps(v1, _mm512_max_ps(v0, _mm512_set1_ps(-FLT_MAX)));
        float lo = _mm512_reduce_min_ps(mn), hi = _mm512_reduce_max_ps(mx);
        if (lo == 0.0f || hi == 0.0f) {
            const __m512 z = _mm512_setzero_ps();
            const uint32_t hit = (uint32_t)_mm512_cmp_ps_mask(v0, z, _CMP_EQ_OQ) |
                                 (uint32_t)_mm512_cmp_ps_mask(v1, z, _CMP_EQ_OQ) << 16;
            const float first_zero = x[32 * b + __builtin_ctz(hit)];
            if (lo == 0.0f)
                lo = first_zero;
            if (hi == 0.0f)
                hi = first_zero;
        }
        mins[b] = lo;
        max[b] = hi;
    }
    const __mmask16 live = (__mmask16)((1u << g) - 1);
    const __m512 mnv = _mm512_maskz_loadu_ps(live, mins), mxv = _mm512_maskz_loadu_ps(live, max);
    const __m512 dv = _mm512_div_ps(_mm512_sub_ps(mxv, mnv), _mm512_set1_ps((float)nmax));
    const __mmask16 nz = _mm512_cmp_ps_mask(dv, _mm512_setzero_ps(), _CMP_NEQ_UQ);
    _mm512_storeu_ps(d, dv);
    _mm512_storeu_ps(id, _mm512_maskz_div_ps(nz, _mm512_set1_ps(1.0f), dv));
    f32_to_f16x16(d, dh);
    f32_to_f16x16(mins, mh);
}

static inline __m512i asym_code16(__m512 v, __m512 mn, __m512 id)
{
    __m512 t = _mm512_mul_ps(_mm512_sub_ps(v, mn), id);
    t = _mm512_add_ps(t, _mm512_set1_ps(0.5f));
    return _mm512_cvttps_epi32(t);
}

static void q_q4_1(const float *restrict x, void *restrict dst, int64_t n, const float *imx)
{
    if (imx) {
        kq_legacy_row(KL_Q4_1, x, dst, n, imx);
        return;
    }
    uint8_t *y = dst;
    int64_t nb = n / 32;
    float id[GROUP], mins[GROUP];
    uint16_t dh[GROUP], mh[GROUP];
    const __m512i top = _mm512_set1_epi32(15);
    while (nb > 0) {
        const int g = nb < GROUP ? (int)nb : GROUP;
        asym_scales(x, g, 15, id, dh, mh, mins);
        for (int b = 0; b < g; b++) {
            uint8_t *yb = y + 20 * b;
            const __m512 s = _mm512_set1_ps(id[b]), mn = _mm512_set1_ps(mins[b]);
            __m512i q0 = asym_code16(_mm512_loadu_ps(x + 32 * b), mn, s);
            __m512i q1 = asym_code16(_mm512_loadu_ps(x + 32 * b + 16), mn, s);
            q0 = _mm512_min_epi32(_mm512_srai_epi32(_mm512_slli_epi32(q0, 24), 24), top);
            q1 = _mm512_min_epi32(_mm512_srai_epi32(_mm512_slli_epi32(q1, 24), 24), top);
            put16(yb, dh[b]);
            put16(yb + 2, mh[b]);
            const __m512i p = _mm512_or_si512(q0, _mm512_slli_epi32(q1, 4));
            _mm_storeu_si128((__m128i *)(yb + 4), _mm512_cvtepi32_epi8(p));
        }
        x += 32 * g;
        y += 20 * g;
        nb -= g;
    }
}

static void q_q5_1(const float *restrict x, void *restrict dst, int64_t n, const float *imx)
{
    if (imx) {
        kq_legacy_row(KL_Q5_1, x, dst, n, imx);
        return;
    }
    uint8_t *y = dst;
    int64_t nb = n / 32;
    float id[GROUP], mins[GROUP];
    uint16_t dh[GROUP], mh[GROUP];
    while (nb > 0) {
        const int g = nb < GROUP ? (int)nb : GROUP;
        asym_scales(x, g, 31, id, dh, mh, mins);
        for (int b = 0; b < g; b++) {
            uint8_t *yb = y + 24 * b;
            const __m512 s = _mm512_set1_ps(id[b]), mn = _mm512_set1_ps(mins[b]);
            const __m512i q0 = asym_code16(_mm512_loadu_ps(x + 32 * b), mn, s);
            const __m512i q1 = asym_code16(_mm512_loadu_ps(x + 32 * b + 16), mn, s);
            put16(yb, dh[b]);
            put16(yb + 2, mh[b]);
            pack5(q0, q1, yb + 4, yb + 8);
        }
        x += 32 * g;
        y += 24 * g;
        nb -= g;
    }
}


/* ---------------------------------------------------------------------------------------
 * K-quant quantizers: the vector layer of kern_kq.h, 16 lanes
 */
#define KQ_W 16
typedef __m512 vf;
typedef __m512i vi;
typedef __mmask16 vm;
static inline vf vf_set(float f) { return _mm512_set1_ps(f); }
static inline vf vf_load(const float *p) { return _mm512_loadu_ps(p); }
static inline void vf_store(float *p, vf v) { _mm512_storeu_ps(p, v); }
static inline vf vf_add(vf a, vf b) { return _mm512_add_ps(a, b); }
static inline vf vf_sub(vf a, vf b) { return _mm512_sub_ps(a, b); }
static inline vf vf_mul(vf a, vf b) { return _mm512_mul_ps(a, b); }
static inline vf vf_div(vf a, vf b) { return _mm512_div_ps(a, b); }
static inline vf vf_sqrt(vf a) { return _mm512_sqrt_ps(a); }
static inline vf vf_abs(vf a) { return _mm512_abs_ps(a); }
static inline vf vf_neg(vf a)
{
    return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(a), _mm512_set1_epi32(INT32_MIN)));
}
static inline vf vf_min(vf a, vf b) { return _mm512_min_ps(a, b); }
static inline vf vf_max(vf a, vf b) { return _mm512_max_ps(a, b); }
static inline vm vf_lt(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
static inline vm vf_gt(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
static inline vm vf_le(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ); }
static inline vm vf_ne(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_NEQ_UQ); }
static inline vf vf_sel(vm m, vf t, vf f) { return _mm512_mask_blend_ps(m, f, t); }
static inline vi vi_nearest(vf v)
{
    const __m512i i = _mm512_castps_si512(_mm512_add_ps(v, _mm512_set1_ps(12582912.0f)));
    return _mm512_sub_epi32(_mm512_and_si512(i, _mm512_set1_epi32(0x007FFFFF)),
                            _mm512_set1_epi32(0x00400000));
}
static inline vi vi_clamp(vi v, int lo, int hi)
{
    return _mm512_min_epi32(_mm512_max_epi32(v, _mm512_set1_epi32(lo)), _mm512_set1_epi32(hi));
}
static inline vf vi_tof(vi v) { return _mm512_cvtepi32_ps(v); }
static inline vi vi_fromf(vf v) { return _mm512_cvttps_epi32(v); }
static inline vi vi_add_const(vi v, int c) { return _mm512_add_epi32(v, _mm512_set1_epi32(c)); }
static inline vi vi_sel(vm m, vi t, vi f) { return _mm512_mask_blend_epi32(m, f, t); }
static inline void vi_store(int32_t *p, vi v) { _mm512_storeu_si512((void *)p, v); }
static inline void vi_store_u8(uint8_t *p, vi v) { _mm_storeu_si128((__m128i *)p, _mm512_cvtepi32_epi8(v)); }
static inline vm vm_and(vm a, vm b) { return (vm)(a & b); }
static inline vm vm_or(vm a, vm b) { return (vm)(a | b); }
static inline int vm_any(vm m) { return m != 0; }

static inline int vm_all(vm m) { return m == (vm)0xFFFF; }

#include "kern/kern_kq.h"

/* ---------------------------------------------------------------------------------------
 * IQ4_NL and IQ4_XS quantizers. Lane k fits block k of a group of 16 (32 elements each,
 * transposed: element j of lane k at [16 j + k]) with the float operations of kern_iq.c's
 * iq4_block in the same order.
 *
 * The level search: the scalar picks, for K[0] < v < K[15], the bracket K[lo] <= v < K[lo+1]
 * and then lo when (v - K[lo]) < (K[lo+1] - v), else lo+1. In float arithmetic that choice is
 * monotone in v, so it equals "lo+1 iff v >= T" for one float threshold T per bracket; T is
 * found by bisection over the floats of the bracket with the very same expression, so the
 * thresholds reproduce the scalar choice for every float. The code of v is then the number of
 * thresholds <= v (v <= K[0] and v >= K[15] give 0 and 15 by the same count).
 *
 * The count is looked up per bucket of u = v / 8 (computed as x * (id / 8), which is exactly
 * fl(x * id) / 8): bucket floor(u), entry floor(u) & 31 of 32-entry two-register permutes. The
 * thresholds are more than 8 apart, so a bucket holds at most one: code = base + (u >= T / 8).
 * Buckets 15 and -16 hold no threshold (all lie in (-116, 102)); their entries also serve
 * buckets -17 and 16, so they test u >= 0 and add 15: the fit's |v| stays below 136 and needs no
 * clamp. The final re-quantization clamps u to [-16, 16) and maps NaN to 15 as the scalar.
 *
 * A group whose inputs or importance weights are not finite or exceed 2^30 in magnitude is left
 * to the scalar reference (there infinite intermediates could meet and give NaNs whose sign
 * depends on operand order).
 */
struct iq4_lut {
    __m512 base0, base1, step0, step1, thr0, thr1, q0, q1, qd0, qd1;
    __m512 tm0, tm1; /* T_m / 8 by m (entry 0 unused, 16..31 +inf) */
    __m512 km0, km1; /* K[m] by m (16..31: K[15]) */
};

/* The scalar choice between K[m-1] and K[m] for v in that bracket: 1 = K[m]. */
static int iq4_pick_hi(float v, float a, float b)
{
    return !(v - a < b - v);
}

/* Order-preserving integer key of a float (and back). */
static int32_t iq4_key(float f)
{
    int32_t i;
    memcpy(&i, &f, 4);
    return i < 0 ? (int32_t)(INT32_MIN - i) - 1 : i;
}
static float iq4_unkey(int32_t k)
{
    const int32_t i = k < 0 ? (int32_t)(INT32_MIN - (k + 1)) : k;
    float f;
    memcpy(&f, &i, 4);
    return f;
}

static struct iq4_lut iq4_tables;
static pthread_once_t iq4_once = PTHREAD_ONCE_INIT;

static void iq4_lut_build(void);

/* The level tables, built once per process. */
static const struct iq4_lut *iq4_lut(void)
{
    pthread_once(&iq4_once, iq4_lut_build);
    return &iq4_tables;
}

static void iq4_lut_build(void)
{
    struct iq4_lut *t = &iq4_tables;
    const int8_t *K = kern_kvalues_iq4nl;
    float thr[16];
    for (int m = 1; m < 16; m++) {
        const float a = (float)K[m - 1], b = (float)K[m];
        /* smallest float v in (a, b) with pick_hi(v); pick_hi(b - ulp) holds */
        int64_t lo = iq4_key(a), hi = (int64_t)iq4_key(b) - 1;
        while (hi - lo > 1) {
            const int64_t mid = lo + (hi - lo) / 2;
            if (iq4_pick_hi(iq4_unkey((int32_t)mid), a, b))
                hi = mid;
            else
                lo = mid;
        }
        thr[m] = iq4_unkey((int32_t)hi);
    }
    float base[32], step[32], tb[32], ql[32], qd[32];
    for (int e = 0; e < 32; e++) {
        const int bk = e < 16 ? e : e - 32; /* bucket [8 bk, 8 bk + 8), entry bk & 31 */
        const float s = 8.0f * (float)bk, end = s + 8.0f;
        int cnt = 0;
        float in = 1e30f;
        for (int m = 1; m < 16; m++) {
            if (thr[m] <= s)
                cnt++;
            else if (thr[m] < end)
                in = thr[m] * 0.125f;
        }
        int add = in < 1e30f ? 1 : 0;
        if (bk == 15 || bk == -16) { /* also buckets -17 and 16: u < 0 -> 0, else 15 */
            cnt = 0;
            add = 15;
            in = 0.0f;
        }
        base[e] = (float)cnt;
        step[e] = (float)add;
        tb[e] = in;
        ql[e] = (float)K[cnt];
        qd[e] = (float)(K[cnt + add] - K[cnt]); /* exact */
    }
    t->base0 = _mm512_loadu_ps(base);
    t->base1 = _mm512_loadu_ps(base + 16);
    t->step0 = _mm512_loadu_ps(step);
    t->step1 = _mm512_loadu_ps(step + 16);
    t->thr0 = _mm512_loadu_ps(tb);
    t->thr1 = _mm512_loadu_ps(tb + 16);
    t->q0 = _mm512_loadu_ps(ql);
    t->q1 = _mm512_loadu_ps(ql + 16);
    t->qd0 = _mm512_loadu_ps(qd);
    t->qd1 = _mm512_loadu_ps(qd + 16);
    float tm[32], km[32];
    for (int m = 0; m < 32; m++) {
        tm[m] = m >= 1 && m < 16 ? thr[m] * 0.125f : m == 0 ? -1e30f : 1e30f;
        km[m] = (float)K[m < 16 ? m : 15];
    }
    t->tm0 = _mm512_loadu_ps(tm);
    t->tm1 = _mm512_loadu_ps(tm + 16);
    t->km0 = _mm512_loadu_ps(km);
    t->km1 = _mm512_loadu_ps(km + 16);
}

/* K[code(8 u)] as a float, for |u| < 17 (u = v / 8, not NaN). */
static inline __m512 iq4_level(const struct iq4_lut *t, __m512 u)
{
    const __m512i b = _mm512_cvt_roundps_epi32(u, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    const __mmask16 up =
        _mm512_cmp_ps_mask(u, _mm512_permutex2var_ps(t->thr0, b, t->thr1), _CMP_GE_OQ);
    const __m512 lo = _mm512_permutex2var_ps(t->q0, b, t->q1);
    return _mm512_mask_add_ps(lo, up, lo, _mm512_permutex2var_ps(t->qd0, b, t->qd1));
}

/* code(8 u) as int32 lanes, for |u| < 17. */
static inline __m512i iq4_count(const struct iq4_lut *t, __m512 u)
{
    const __m512i b = _mm512_cvt_roundps_epi32(u, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    const __mmask16 up =
        _mm512_cmp_ps_mask(u, _mm512_permutex2var_ps(t->thr0, b, t->thr1), _CMP_GE_OQ);
    __m512 r = _mm512_permutex2var_ps(t->base0, b, t->base1);
    r = _mm512_mask_add_ps(r, up, r, _mm512_permutex2var_ps(t->step0, b, t->step1));
    return _mm512_cvttps_epi32(r);
}

/* code(8 u) as int32 lanes for any u, NaN -> 15 as the scalar. */
static inline __m512i iq4_code(const struct iq4_lut *t, __m512 u)
{
    const __m512 c = _mm512_min_ps(_mm512_max_ps(u, _mm512_set1_ps(-16.0f)),
                                   _mm512_set1_ps(15.96875f));
    const __m512i b = _mm512_cvt_roundps_epi32(c, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    const __mmask16 up =
        _mm512_cmp_ps_mask(c, _mm512_permutex2var_ps(t->thr0, b, t->thr1), _CMP_GE_OQ);
    __m512 r = _mm512_permutex2var_ps(t->base0, b, t->base1);
    r = _mm512_mask_add_ps(r, up, r, _mm512_permutex2var_ps(t->step0, b, t->step1));
    r = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(u, u, _CMP_UNORD_Q), r, _mm512_set1_ps(15.0f));
    return _mm512_cvttps_epi32(r);
}

/* iq4_block of 16 lanes: xt, wt transposed (32 x 16); the scales into d (0 for lanes whose
 * absmax is below 1e-15). id holds the inverse scales divided by 8 (exact). */
static void iq4_fit16(const struct iq4_lut *t, const float *xt, const float *wt, float *d_out)
{
    const __m512 zero = _mm512_setzero_ps();
    /* absmax (order-free: no NaN here), then the signed value at its first occurrence (a
     * backward sweep: the last blend wins) */
    __m512 am[8], max = zero;
    for (int k = 0; k < 8; k++)
        am[k] = _mm512_abs_ps(_mm512_loadu_ps(xt + 16 * k));
    for (int j = 8; j < 32; j++)
        am[j & 7] = _mm512_max_ps(am[j & 7], _mm512_abs_ps(_mm512_loadu_ps(xt + 16 * j)));
    const __m512 amax = _mm512_max_ps(_mm512_max_ps(_mm512_max_ps(am[0], am[1]), _mm512_max_ps(am[2], am[3])),
                                      _mm512_max_ps(_mm512_max_ps(am[4], am[5]), _mm512_max_ps(am[6], am[7])));
    for (int j = 31; j >= 0; j--) {
        const __m512 x = _mm512_loadu_ps(xt + 16 * j);
        max = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(_mm512_abs_ps(x), amax, _CMP_EQ_OQ), max, x);
    }
    const __mmask16 tiny = _mm512_cmp_ps_mask(amax, _mm512_set1_ps(1e-15f), _CMP_LT_OQ);
    /* d = -max / K[0]; id = 1 / d */
    const __m512 neg = _mm512_castsi512_ps(
        _mm512_xor_si512(_mm512_castps_si512(max), _mm512_set1_epi32(INT32_MIN)));
    const __m512 d0 = _mm512_div_ps(neg, _mm512_set1_ps((float)kern_kvalues_iq4nl[0]));
    const __m512 eighth = _mm512_set1_ps(0.125f);
    __m512 id = _mm512_mul_ps(_mm512_div_ps(_mm512_set1_ps(1.0f), d0), eighth);
    __m512 sqx = zero, sq2 = zero;
    /* The 15 trials t = -7..7. id_t = (t - 127) / max is monotone in t, so is u_t = x * id_t / 8
     * and so is the code: over the trials element j of a lane only takes the codes between
     * those of u_-7 and u_7, and as |u_7 - u_-7| <= 14/8 |x / max| < 1.76 while thresholds are
     * more than 11/8 apart, those are c, c+1, c+2 at most, switching at the thresholds Ta, Tb
     * (+inf where absent). The products (w * q) * x and (w * q) * q of these codes are computed
     * once, each trial selects them by comparing u_t with Ta and Tb. The first fit (scale
     * -max / K[0]) is summed in the same sweep. */
    __m512 idt[15];
    for (int tr = -7; tr <= 7; tr++)
        idt[tr + 7] = _mm512_mul_ps(
            _mm512_div_ps(_mm512_set1_ps((float)(tr + kern_kvalues_iq4nl[0])), max), eighth);
    __m512 ta[32], tb[32], a0[32], a1[32], a2[32], b0[32], b1[32], b2[32];
    unsigned two = 0; /* elements where some lane has a second threshold */
    for (int j = 0; j < 32; j++) {
        const __m512 x = _mm512_loadu_ps(xt + 16 * j), w = _mm512_loadu_ps(wt + 16 * j);
        const __m512 q = iq4_level(t, _mm512_mul_ps(id, x)), wq = _mm512_mul_ps(w, q);
        sqx = _mm512_add_ps(sqx, _mm512_mul_ps(wq, x));
        sq2 = _mm512_add_ps(sq2, _mm512_mul_ps(wq, q));
        /* |u| < 17 in lanes that count; lanes with a tiny absmax compute garbage (never a
         * fault: permutes use the low index bits) and their fit is dropped */
        const __m512 ul = _mm512_mul_ps(x, idt[0]), uh = _mm512_mul_ps(x, idt[14]);
        const __m512 umin = _mm512_min_ps(ul, uh), umax = _mm512_max_ps(ul, uh);
        /* c: code of umin; the thresholds of c+1 and c+2 (+inf past 15) bound the codes
         * reached up to umax (a threshold above umax is never reached by any trial) */
        const __m512i c = iq4_count(t, umin);
        const __m512i c1 = _mm512_add_epi32(c, _mm512_set1_epi32(1)),
                      c2 = _mm512_add_epi32(c, _mm512_set1_epi32(2));
        ta[j] = _mm512_permutex2var_ps(t->tm0, c1, t->tm1);
        tb[j] = _mm512_permutex2var_ps(t->tm0, c2, t->tm1);
        const __m512 q0 = _mm512_permutex2var_ps(t->km0, c, t->km1),
                     q1 = _mm512_permutex2var_ps(t->km0, c1, t->km1);
        const __m512 wq0 = _mm512_mul_ps(w, q0), wq1 = _mm512_mul_ps(w, q1);
        a0[j] = _mm512_mul_ps(wq0, x);
        a1[j] = _mm512_mul_ps(wq1, x);
        b0[j] = _mm512_mul_ps(wq0, q0);
        b1[j] = _mm512_mul_ps(wq1, q1);
        if (_mm512_cmp_ps_mask(umax, tb[j], _CMP_GE_OQ)) {
            two |= 1u << j;
            const __m512 q2 = _mm512_permutex2var_ps(t->km0, c2, t->km1);
            const __m512 wq2 = _mm512_mul_ps(w, q2);
            a2[j] = _mm512_mul_ps(wq2, x);
            b2[j] = _mm512_mul_ps(wq2, q2);
        }
    }
    __mmask16 pos = _mm512_cmp_ps_mask(sq2, zero, _CMP_GT_OQ);
    __m512 d = _mm512_maskz_div_ps(pos, sqx, sq2);
    __m512 best = _mm512_mul_ps(d, sqx);
    /* five trials per sweep over the elements: ten independent sums in flight */
    for (int t0 = 0; t0 < 15; t0 += 5) {
        __m512 sx[5], s2[5];
        _Pragma("GCC unroll 8")
        for (int k = 0; k < 5; k++)
            sx[k] = s2[k] = zero;
        for (int j = 0; j < 32; j++) {
            const __m512 x = _mm512_loadu_ps(xt + 16 * j);
            const int both = two >> j & 1;
            _Pragma("GCC unroll 8")
            for (int k = 0; k < 5; k++) {
                const __m512 u = _mm512_mul_ps(idt[t0 + k], x);
                const __mmask16 ma = _mm512_cmp_ps_mask(u, ta[j], _CMP_GE_OQ);
                __m512 av = _mm512_mask_blend_ps(ma, a0[j], a1[j]);
                __m512 bv = _mm512_mask_blend_ps(ma, b0[j], b1[j]);
                if (both) {
                    const __mmask16 mb = _mm512_cmp_ps_mask(u, tb[j], _CMP_GE_OQ);
                    av = _mm512_mask_blend_ps(mb, av, a2[j]);
                    bv = _mm512_mask_blend_ps(mb, bv, b2[j]);
                }
                sx[k] = _mm512_add_ps(sx[k], av);
                s2[k] = _mm512_add_ps(s2[k], bv);
            }
        }
        _Pragma("GCC unroll 8")
        for (int k = 0; k < 5; k++) { /* in trial order, as the scalar */
            pos = _mm512_cmp_ps_mask(s2[k], zero, _CMP_GT_OQ);
            const __mmask16 acc = pos & _mm512_cmp_ps_mask(_mm512_mul_ps(sx[k], sx[k]),
                                                           _mm512_mul_ps(best, s2[k]), _CMP_GT_OQ);
            d = _mm512_mask_div_ps(d, acc, sx[k], s2[k]);
            best = _mm512_mask_mul_ps(best, acc, d, sx[k]);
        }
    }
    _mm512_storeu_ps(d_out, _mm512_mask_blend_ps(tiny, d, zero));
}

/* Codes of 32 elements x with inverse scale id, packed as IQ4_NL (element j low nibble of byte
 * j, element j + 16 high nibble). */
static inline void iq4_pack32(const struct iq4_lut *t, const float *x, float id, uint8_t *qs)
{
    const __m512 iv = _mm512_set1_ps(id * 0.125f);
    const __m512i c0 = iq4_code(t, _mm512_mul_ps(iv, _mm512_loadu_ps(x)));
    const __m512i c1 = iq4_code(t, _mm512_mul_ps(iv, _mm512_loadu_ps(x + 16)));
    _mm_storeu_si128((__m128i *)qs, _mm512_cvtepi32_epi8(_mm512_or_si512(c0, _mm512_slli_epi32(c1, 4))));
}

/* All n values of x (and of qw, if any) finite and within +-2^30. */
static int iq4_tame(const float *x, const float *qw, int n)
{
    const __m512 lim = _mm512_set1_ps(0x1p30f);
    __mmask16 ok = 0xFFFF;
    for (int i = 0; i < n; i += 16) {
        ok &= _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(x + i)), lim, _CMP_LE_OQ);
        if (qw)
            ok &= _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(qw + i)), lim, _CMP_LE_OQ);
    }
    return ok == 0xFFFF;
}

/* out[j] = element j of the 16 rows r[k] (a 16 x 16 transpose). */
static inline void transpose16(const __m512 r[16], __m512 out[16])
{
    __m512 t[16], u[16], v[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        u[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int h = 0; h < 16; h += 8)
        for (int i = 0; i < 4; i++) {
            v[h + i] = _mm512_shuffle_f32x4(u[h + i], u[h + i + 4], 0x88);
            v[h + i + 4] = _mm512_shuffle_f32x4(u[h + i], u[h + i + 4], 0xDD);
        }
    for (int i = 0; i < 8; i++) {
        out[i] = _mm512_shuffle_f32x4(v[i], v[i + 8], 0x88);
        out[i + 8] = _mm512_shuffle_f32x4(v[i], v[i + 8], 0xDD);
    }
}

/* dst[16 j + k] = src[32 k + j] for 16 blocks of 32 (k < nl; zero beyond). */
static void iq4_transpose(const float *src, int nl, float *dst)
{
    if (nl == 16) {
        for (int h = 0; h < 32; h += 16) {
            __m512 r[16], c[16];
            for (int k = 0; k < 16; k++)
                r[k] = _mm512_loadu_ps(src + 32 * k + h);
            transpose16(r, c);
            for (int j = 0; j < 16; j++)
                _mm512_storeu_ps(dst + 16 * (h + j), c[j]);
        }
        return;
    }
    for (int k = 0; k < 16; k++)
        for (int j = 0; j < 32; j++)
            dst[16 * j + k] = k < nl ? src[32 * k + j] : 0.0f;
}

/* Transpose 16 blocks of 32 (block k at x + 32 k; lanes k >= nl zero) and build the weights:
 * x^2, or qw * sqrt(sigma2 + x^2) with sigma2 = 2 sum(x^2) / sb from sig (per lane). */
static void iq4_prep(const float *x, const float *qw, int nl, const float *sig, float *xt,
                     float *wt)
{
    iq4_transpose(x, nl, xt);
    if (qw)
        iq4_transpose(qw, nl, wt);
    const __m512 s2 = qw ? _mm512_loadu_ps(sig) : _mm512_setzero_ps();
    for (int j = 0; j < 32; j++) {
        const __m512 v = _mm512_loadu_ps(xt + 16 * j), xx = _mm512_mul_ps(v, v);
        _mm512_storeu_ps(wt + 16 * j,
                         qw ? _mm512_mul_ps(_mm512_loadu_ps(wt + 16 * j),
                                            _mm512_sqrt_ps(_mm512_add_ps(s2, xx)))
                            : xx);
    }
}

static float iq4_sumsq(const float *x, int n)
{
    float s = 0.0f;
    for (int j = 0; j < n; j++)
        s = s + x[j] * x[j];
    return s;
}

/* Fit nl blocks of 32 at x (importance qw or NULL; sigma2 over groups of sb elements, 32 or
 * 256) into the scales d[16]. 0 when the inputs are not tame: the caller takes the scalar
 * reference. */
static int iq4_group(const struct iq4_lut *t, const float *x, const float *qw, int nl, int sb,
                     float *d)
{
    float xt[512], wt[512], sig[16];
    if (!iq4_tame(x, qw, 32 * nl))
        return 0;
    if (qw)
        for (int k = 0; k < 16; k += sb / 32) {
            const float s2 = k < nl ? iq4_sumsq(x + 32 * k, sb) * (2.f / (float)sb) : 0.0f;
            for (int g = 0; g < sb / 32; g++)
                sig[k + g] = s2;
        }
    iq4_prep(x, qw, nl, sig, xt, wt);
    iq4_fit16(t, xt, wt, d);
    return 1;
}

static void q_iq4_nl(const float *restrict x, void *restrict dst, int64_t n, const float *imx)
{
    uint8_t *y = dst;
    const struct iq4_lut *t = iq4_lut();
    float d[16];
    for (int64_t b0 = 0; b0 < n / 32; b0 += 16) {
        const int nl = n / 32 - b0 < 16 ? (int)(n / 32 - b0) : 16;
        const float *xb = x + 32 * b0, *qb = imx ? imx + 32 * b0 : NULL;
        uint8_t *yb = y + 18 * b0;
        if (!iq4_group(t, xb, qb, nl, 32, d)) {
            kern_q_iq4_nl(xb, yb, 32 * nl, qb);
            continue;
        }
        uint16_t dh[16];
        float id[16];
        f32_to_f16x16(d, dh);
        const __m512 dv = _mm512_loadu_ps(d);
        _mm512_storeu_ps(id, _mm512_maskz_div_ps(_mm512_cmp_ps_mask(dv, _mm512_setzero_ps(), _CMP_NEQ_UQ),
                                                 _mm512_set1_ps(1.0f), dv));
        for (int k = 0; k < nl; k++, yb += 18) {
            put16(yb, dh[k]);
            iq4_pack32(t, xb + 32 * k, id[k], yb + 2);
        }
    }
}

static void q_iq4_xs(const float *restrict x, void *restrict dst, int64_t n, const float *imx)
{
    uint8_t *y = dst;
    const struct iq4_lut *t = iq4_lut();
    float sc[16];
    for (int64_t s0 = 0; s0 < n / 256; s0 += 2) {
        const int ns = n / 256 - s0 < 2 ? 1 : 2;
        const float *xb = x + 256 * s0, *qb = imx ? imx + 256 * s0 : NULL;
        uint8_t *yb = y + 136 * s0;
        if (!iq4_group(t, xb, qb, 8 * ns, 256, sc)) {
            kern_q_iq4_xs(xb, yb, 256 * ns, qb);
            continue;
        }
        for (int s = 0; s < ns; s++, yb += 136) {
            const float *xs = xb + 256 * s, *scales = sc + 8 * s;
            float max_scale = 0, amax_scale = 0;
            for (int g = 0; g < 8; g++) {
                const float ad = fabsf(scales[g]);
                if (ad > amax_scale) {
                    amax_scale = ad;
                    max_scale = scales[g];
                }
            }
            const float dd = -max_scale / 32;
            put16(yb, kern_f32_to_f16(dd));
            const float id = dd != 0.0f ? 1 / dd : 0.0f;
            unsigned sh = 0;
            memset(yb + 4, 0, 4);
            for (int g = 0; g < 8; g++) {
                int l = kern_nearest_int(id * scales[g]);
                l = l < -32 ? -32 : l > 31 ? 31 : l;
                const float dl = dd * (float)l;
                iq4_pack32(t, xs + 32 * g, dl != 0.0f ? 1 / dl : 0.0f, yb + 8 + 16 * g);
                const unsigned ls = (unsigned)(l + 32);
                yb[4 + g / 2] |= (uint8_t)((ls & 0xf) << (4 * (g % 2)));
                sh |= (ls >> 4) << (2 * g);
            }
            put16(yb + 2, (uint16_t)sh);
        }
    }
}

/* ---------------------------------------------------------------------------------------
 * The table
 */
const struct kern_table kern_table_avx512 = {
    .name = "avx512",
    .dq = {
        [QF_TYPE_F16] = dq_f16,   [QF_TYPE_BF16] = dq_bf16, [QF_TYPE_Q4_0] = dq_q4_0,
        [QF_TYPE_Q4_1] = dq_q4_1, [QF_TYPE_Q5_0] = dq_q5_0, [QF_TYPE_Q5_1] = dq_q5_1,
        [QF_TYPE_Q8_0] = dq_q8_0, [QF_TYPE_Q4_K] = dq_q4_K, [QF_TYPE_Q5_K] = dq_q5_K,
        [QF_TYPE_Q6_K] = dq_q6_K, [QF_TYPE_Q2_K] = dq_q2_K, [QF_TYPE_Q3_K] = dq_q3_K,
    },
    .q = {
        [QF_TYPE_F16] = q_f16,    [QF_TYPE_BF16] = q_bf16,  [QF_TYPE_Q4_0] = q_q4_0,
        [QF_TYPE_Q4_1] = q_q4_1,  [QF_TYPE_Q5_0] = q_q5_0,  [QF_TYPE_Q5_1] = q_q5_1,
        [QF_TYPE_Q8_0] = q_q8_0,  [QF_TYPE_Q2_K] = kq_q2_K,  [QF_TYPE_Q3_K] = kq_q3_K,
        [QF_TYPE_Q4_K] = kq_q4_K, [QF_TYPE_Q5_K] = kq_q5_K,  [QF_TYPE_Q6_K] = kq_q6_K,
        [QF_TYPE_IQ4_NL] = q_iq4_nl, [QF_TYPE_IQ4_XS] = q_iq4_xs,
        [QF_TYPE_Q8_1] = q_q8_1,  [QF_TYPE_Q8_K] = q_q8_K,
    },
};

#else /* not x86: nothing to build */
typedef int kern_avx512_unused;
#endif
