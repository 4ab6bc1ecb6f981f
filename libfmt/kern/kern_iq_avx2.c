/* kern_iq_avx2.c - AVX2 and AVX-512 dequantizers of IQ4_NL, IQ4_XS, TQ1_0 and TQ2_0.
 *
 * Same signatures and bit-identical results as the scalar reference (kern_iq.c): every value is
 * one float product of the same two operands (block scale times an exactly converted small
 * integer), so vector and scalar agree on every input, NaN and Inf scales included. Block
 * layouts are documented in kern_iq.c.
 *
 * The functions carry their instruction set as a target attribute, so this file needs no
 * special compiler flags; they may only be called once the CPU and OS support is confirmed
 * (kern_cpu_features(): KERN_CPU_AVX2 for *_avx2, KERN_CPU_AVX512 for *_avx512), i.e. through
 * the dispatch tables. No table lives here: kern_avx2.c / kern_avx512.c reference these.
 */
#include "kern/kern_iqtab.h"

#if KERN_IQ_X86

#include <immintrin.h>
#include <string.h>

#include "kern/kern_ref.h"
#include "qf_int.h"

#define AVX2 __attribute__((target("avx2")))
#define AVX512 __attribute__((target("avx2,avx512f,avx512bw,avx512vl")))

static inline float blk_scale(const uint8_t *p)
{
    return kern_f16_to_f32(qfi_load_le16(p));
}

/* ---------------------------------------------------------------------------------------
 * AVX2
 */

/* 16 int8 values -> 16 floats times d, stored at y. */
AVX2 static inline void store16_i8(float *y, __m128i v, __m256 d)
{
    const __m256 a = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v));
    const __m256 b = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(v, 8)));
    _mm256_storeu_ps(y, _mm256_mul_ps(d, a));
    _mm256_storeu_ps(y + 8, _mm256_mul_ps(d, b));
}

/* 16 packed nibble pairs (element j low, j+16 high) through the IQ4 table, times d. */
AVX2 static inline void iq4_32_avx2(float *y, const uint8_t *qs, __m128i tbl, __m256 d)
{
    const __m128i m4 = _mm_set1_epi8(0x0f);
    const __m128i q = _mm_loadu_si128((const __m128i *)qs);
    const __m128i lo = _mm_shuffle_epi8(tbl, _mm_and_si128(q, m4));
    const __m128i hi = _mm_shuffle_epi8(tbl, _mm_and_si128(_mm_srli_epi16(q, 4), m4));
    store16_i8(y, lo, d);
    store16_i8(y + 16, hi, d);
}

AVX2 void kern_dq_iq4_nl_avx2(const void *restrict src, float *restrict dst, size_t nblocks)
{
    const uint8_t *b = src;
    const __m128i tbl = _mm_loadu_si128((const __m128i *)kern_kvalues_iq4nl);
    for (size_t i = 0; i < nblocks; i++, b += 18, dst += 32)
        iq4_32_avx2(dst, b + 2, tbl, _mm256_set1_ps(blk_scale(b)));
}

AVX2 void kern_dq_iq4_xs_avx2(const void *restrict src, float *restrict dst, size_t nblocks)
{
    const uint8_t *b = src;
    const __m128i tbl = _mm_loadu_si128((const __m128i *)kern_kvalues_iq4nl);
    for (size_t i = 0; i < nblocks; i++, b += 136) {
        const float d = blk_scale(b);
        const unsigned sh = qfi_load_le16(b + 2);
        for (int g = 0; g < 8; g++, dst += 32) {
            const int ls = ((b[4 + g / 2] >> (4 * (g % 2))) & 0xf) | (int)(((sh >> (2 * g)) & 3) << 4);
            iq4_32_avx2(dst, b + 8 + 16 * g, tbl, _mm256_set1_ps(d * (float)(ls - 32)));
        }
    }
}

/* 32 bytes of 2-bit codes, field l: (code - 1) * d for 32 consecutive elements. */
AVX2 static inline void tq2_32_avx2(float *y, __m256i q, int l, __m256 d)
{
    const __m256i c = _mm256_sub_epi8(_mm256_and_si256(_mm256_srli_epi16(q, 2 * l), _mm256_set1_epi8(3)),
                                      _mm256_set1_epi8(1));
    const __m128i c0 = _mm256_castsi256_si128(c), c1 = _mm256_extracti128_si256(c, 1);
    store16_i8(y, c0, d);
    store16_i8(y + 16, c1, d);
}

AVX2 void kern_dq_tq2_0_avx2(const void *restrict src, float *restrict dst, size_t nblocks)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nblocks; i++, b += 66, dst += 256) {
        const __m256 d = _mm256_set1_ps(blk_scale(b + 64));
        for (int c = 0; c < 2; c++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(b + 32 * c));
            for (int l = 0; l < 4; l++)
                tq2_32_avx2(dst + 128 * c + 32 * l, q, l, d);
        }
    }
}

/* Trit n of 16 bytes held as u16 lanes: ((b * 3^n mod 256) * 3) >> 8, minus 1, as int16. */
AVX2 static inline __m256i tq1_trit16(__m256i b16, int pow3)
{
    __m256i q = _mm256_and_si256(_mm256_mullo_epi16(b16, _mm256_set1_epi16((short)pow3)), _mm256_set1_epi16(0xff));
    q = _mm256_srli_epi16(_mm256_mullo_epi16(q, _mm256_set1_epi16(3)), 8);
    return _mm256_sub_epi16(q, _mm256_set1_epi16(1));
}

/* 16 int16 values -> 16 floats times d. */
AVX2 static inline void store16_i16(float *y, __m256i v, __m256 d)
{
    const __m256 a = _mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(_mm256_castsi256_si128(v)));
    const __m256 b = _mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(_mm256_extracti128_si256(v, 1)));
    _mm256_storeu_ps(y, _mm256_mul_ps(d, a));
    _mm256_storeu_ps(y + 8, _mm256_mul_ps(d, b));
}

static const int tq1_pow3[5] = {1, 3, 9, 27, 81};

/* Elements 240..255 from qh[4] (the same expression as the reference, 16 values). */
static inline void tq1_tail(float *y, const uint8_t *qh, float d)
{
    for (int n = 0; n < 4; n++)
        for (int j = 0; j < 4; j++) {
            const uint8_t q = (uint8_t)(qh[j] * tq1_pow3[n]);
            y[j + 4 * n] = (float)(((q * 3) >> 8) - 1) * d;
        }
}

AVX2 void kern_dq_tq1_0_avx2(const void *restrict src, float *restrict dst, size_t nblocks)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nblocks; i++, b += 54, dst += 256) {
        const float ds = blk_scale(b + 52);
        const __m256 d = _mm256_set1_ps(ds);
        const __m256i q0 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)b));
        const __m256i q1 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(b + 16)));
        const __m256i q2 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(b + 32)));
        for (int n = 0; n < 5; n++) {
            store16_i16(dst + 32 * n, tq1_trit16(q0, tq1_pow3[n]), d);
            store16_i16(dst + 32 * n + 16, tq1_trit16(q1, tq1_pow3[n]), d);
            store16_i16(dst + 160 + 16 * n, tq1_trit16(q2, tq1_pow3[n]), d);
        }
        tq1_tail(dst + 240, b + 48, ds);
    }
}

/* ---------------------------------------------------------------------------------------
 * AVX-512: the same with 16 floats per vector.
 */
AVX512 static inline void store16_i8_512(float *y, __m128i v, __m512 d)
{
    _mm512_storeu_ps(y, _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(v))));
}

AVX512 static inline void iq4_32_avx512(float *y, const uint8_t *qs, __m128i tbl, __m512 d)
{
    const __m128i m4 = _mm_set1_epi8(0x0f);
    const __m128i q = _mm_loadu_si128((const __m128i *)qs);
    store16_i8_512(y, _mm_shuffle_epi8(tbl, _mm_and_si128(q, m4)), d);
    store16_i8_512(y + 16, _mm_shuffle_epi8(tbl, _mm_and_si128(_mm_srli_epi16(q, 4), m4)), d);
}

AVX512 void kern_dq_iq4_nl_avx512(const void *restrict src, float *restrict dst, size_t nblocks)
{
    const uint8_t *b = src;
    const __m128i tbl = _mm_loadu_si128((const __m128i *)kern_kvalues_iq4nl);
    for (size_t i = 0; i < nblocks; i++, b += 18, dst += 32)
        iq4_32_avx512(dst, b + 2, tbl, _mm512_set1_ps(blk_scale(b)));
}

AVX512 void kern_dq_iq4_xs_avx512(const void *restrict src, float *restrict dst, size_t nblocks)
{
    const uint8_t *b = src;
    const __m128i tbl = _mm_loadu_si128((const __m128i *)kern_kvalues_iq4nl);
    for (size_t i = 0; i < nblocks; i++, b += 136) {
        const float d = blk_scale(b);
        const unsigned sh = qfi_load_le16(b + 2);
        for (int g = 0; g < 8; g++, dst += 32) {
            const int ls = ((b[4 + g / 2] >> (4 * (g % 2))) & 0xf) | (int)(((sh >> (2 * g)) & 3) << 4);
            iq4_32_avx512(dst, b + 8 + 16 * g, tbl, _mm512_set1_ps(d * (float)(ls - 32)));
        }
    }
}

AVX512 void kern_dq_tq2_0_avx512(const void *restrict src, float *restrict dst, size_t nblocks)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nblocks; i++, b += 66, dst += 256) {
        const __m512 d = _mm512_set1_ps(blk_scale(b + 64));
        for (int c = 0; c < 2; c++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(b + 32 * c));
            for (int l = 0; l < 4; l++) {
                const __m256i v = _mm256_sub_epi8(
                    _mm256_and_si256(_mm256_srli_epi16(q, 2 * l), _mm256_set1_epi8(3)), _mm256_set1_epi8(1));
                float *y = dst + 128 * c + 32 * l;
                store16_i8_512(y, _mm256_castsi256_si128(v), d);
                store16_i8_512(y + 16, _mm256_extracti128_si256(v, 1), d);
            }
        }
    }
}

/* Trits of 32 bytes in u16 lanes (AVX-512BW), minus 1, stored as 32 floats times d. */
AVX512 static inline void tq1_32_avx512(float *y, __m512i b16, int pow3, __m512 d)
{
    __m512i q = _mm512_and_si512(_mm512_mullo_epi16(b16, _mm512_set1_epi16((short)pow3)), _mm512_set1_epi16(0xff));
    q = _mm512_sub_epi16(_mm512_srli_epi16(_mm512_mullo_epi16(q, _mm512_set1_epi16(3)), 8), _mm512_set1_epi16(1));
    const __m512 a = _mm512_cvtepi32_ps(_mm512_cvtepi16_epi32(_mm512_castsi512_si256(q)));
    const __m512 c = _mm512_cvtepi32_ps(_mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(q, 1)));
    _mm512_storeu_ps(y, _mm512_mul_ps(d, a));
    _mm512_storeu_ps(y + 16, _mm512_mul_ps(d, c));
}

AVX512 void kern_dq_tq1_0_avx512(const void *restrict src, float *restrict dst, size_t nblocks)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nblocks; i++, b += 54, dst += 256) {
        const float ds = blk_scale(b + 52);
        const __m512 d = _mm512_set1_ps(ds);
        const __m256 d8 = _mm256_set1_ps(ds);
        const __m512i q01 = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)b));
        const __m256i q2 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(b + 32)));
        for (int n = 0; n < 5; n++) {
            tq1_32_avx512(dst + 32 * n, q01, tq1_pow3[n], d);
            store16_i16(dst + 160 + 16 * n, tq1_trit16(q2, tq1_pow3[n]), d8);
        }
        tq1_tail(dst + 240, b + 48, ds);
    }
}

#endif /* KERN_IQ_X86 */
