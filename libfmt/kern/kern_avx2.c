/* kern_avx2.c - AVX2 + F16C kernels. Built with -mavx2 -mfma -mf16c; only the table is exported
 * and it is installed only after cpu.c has seen AVX2, FMA, F16C and OS support for YMM state.
 *
 * Every kernel reproduces kern_scalar.c bit for bit: the same float operations in the same order
 * per element (products and sums are separate instructions, never FMA), float->int conversions
 * with cvttps2dq (what kern_cvtt_i32 pins), ggml's nearest_int by the same bit trick, and
 * reductions only where their result is order-independent (max/min of non-NaN values, ties
 * resolved by looking the first occurrence up). Inputs a vector shortcut cannot mirror (NaN in a
 * Q8_0 block, non-finite or extreme values in a K-quant super-block) take the scalar path for
 * that block. Block data is read with unaligned loads; x86 is little-endian like the files.
 */
#include "kern/kern.h"

#if defined(__x86_64__) || defined(__i386__)

#include <float.h>
#include <immintrin.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------
 * helpers
 */
static inline float h2f(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, 2);
    return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h)));
}

/* f32 -> f16 of one value (RNE, as kern_f32_to_f16, NaN -> sign | 0x7E00). */
static inline void store_h(uint8_t *p, float f)
{
    uint16_t h;
    if (f != f)
        h = kern_f32_to_f16(f);
    else
        h = (uint16_t)_mm_extract_epi16(_mm_cvtps_ph(_mm_set_ss(f), _MM_FROUND_TO_NEAREST_INT), 0);
    memcpy(p, &h, 2);
}

/* Index of the first of 32 floats (4 vectors) equal to v; 32 if none. */
static inline int first_eq32(const __m256 x[4], float v)
{
    const __m256 t = _mm256_set1_ps(v);
    uint32_t m = 0;
    for (int k = 0; k < 4; k++)
        m |= (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(x[k], t, _CMP_EQ_OQ)) << (8 * k);
    return m ? __builtin_ctz(m) : 32;
}

/* Pack the low bytes of 4 x 8 int32 (each already in 0..255) into 32 bytes, in order. */
static inline __m256i pack_bytes32(__m256i a, __m256i b, __m256i c, __m256i d)
{
    const __m256i ab = _mm256_packus_epi32(a, b), cd = _mm256_packus_epi32(c, d);
    const __m256i abcd = _mm256_packus_epi16(ab, cd);
    return _mm256_permutevar8x32_epi32(abcd, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* Pack 2 x 8 int32 (each in 0..255) into 16 bytes, in order. */
static inline __m128i pack_bytes16(__m256i a, __m256i b)
{
    const __m256i ab = _mm256_permute4x64_epi64(_mm256_packus_epi32(a, b), 0xD8);
    return _mm_packus_epi16(_mm256_castsi256_si128(ab), _mm256_extracti128_si256(ab, 1));
}

/* (int8_t)(uint8_t)v per lane, as kern_low_s8 */
static inline __m256i low_s8(__m256i v)
{
    return _mm256_srai_epi32(_mm256_slli_epi32(v, 24), 24);
}

static const union {
    uint32_t u;
    float f;
} sign_bit = {0x80000000u};

/* ---------------------------------------------------------------------------------------
 * Plain types
 */
static void dq_f32(const void *restrict src, float *restrict dst, size_t n)
{
    memcpy(dst, src, n * 4);
}

static void q_f32(const float *restrict src, void *restrict dst, int64_t n, const float *imx)
{
    (void)imx;
    memcpy(dst, src, (size_t)n * 4);
}

static void dq_f16(const void *restrict src, float *restrict dst, size_t n)
{
    const uint8_t *s = src;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(s + 2 * i))));
        _mm256_storeu_ps(dst + i + 8,
                         _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(s + 2 * i + 16))));
    }
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(s + 2 * i))));
    kern_dq_f16(s + 2 * i, dst + i, n - i);
}

static void q_f16(const float *restrict src, void *restrict dst, int64_t n, const float *imx)
{
    (void)imx;
    uint8_t *d = dst;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(src + i);
        if (_mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q))) {
            kern_q_f16(src + i, d + 2 * i, 8, NULL); /* NaN: payload dropped as the reference */
            continue;
        }
        _mm_storeu_si128((__m128i *)(d + 2 * i), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
    }
    kern_q_f16(src + i, d + 2 * i, n - i, NULL);
}

static void dq_bf16(const void *restrict src, float *restrict dst, size_t n)
{
    const uint8_t *s = src;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256i h = _mm256_loadu_si256((const __m256i *)(s + 2 * i));
        const __m256i lo = _mm256_cvtepu16_epi32(_mm256_castsi256_si128(h));
        const __m256i hi = _mm256_cvtepu16_epi32(_mm256_extracti128_si256(h, 1));
        _mm256_storeu_si256((__m256i *)(dst + i), _mm256_slli_epi32(lo, 16));
        _mm256_storeu_si256((__m256i *)(dst + i + 8), _mm256_slli_epi32(hi, 16));
    }
    kern_dq_bf16(s + 2 * i, dst + i, n - i);
}

/* f32 bits -> bf16 in the low 16 bits of each lane, as kern_f32_to_bf16 */
static inline __m256i bf16_round8(__m256i u)
{
    const __m256i abs = _mm256_and_si256(u, _mm256_set1_epi32(0x7FFFFFFF));
    const __m256i isnan = _mm256_cmpgt_epi32(abs, _mm256_set1_epi32(0x7F800000));
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    const __m256i r = _mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7FFF)), lsb);
    const __m256i nan = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40));
    return _mm256_blendv_epi8(_mm256_srli_epi32(r, 16), nan, isnan);
}

static void q_bf16(const float *restrict src, void *restrict dst, int64_t n, const float *imx)
{
    (void)imx;
    uint8_t *d = dst;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256i a = bf16_round8(_mm256_loadu_si256((const __m256i *)(src + i)));
        const __m256i b = bf16_round8(_mm256_loadu_si256((const __m256i *)(src + i + 8)));
        const __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(a, b), 0xD8);
        _mm256_storeu_si256((__m256i *)(d + 2 * i), p);
    }
    kern_q_bf16(src + i, d + 2 * i, n - i, NULL);
}

/* Imatrix paths of the legacy quantizers (kern_kq.h, included below). */
static void kq_legacy_row(int kind, const float *src, uint8_t *y, int64_t n, const float *imx);
enum { KL_Q4_0, KL_Q4_1, KL_Q5_0, KL_Q5_1 };

/* ---------------------------------------------------------------------------------------
 * Legacy block types
 */
static void dq_q8_0(const void *restrict src, float *restrict dst, size_t nb)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nb; i++, b += 34, dst += 32) {
        const __m256 d = _mm256_set1_ps(h2f(b));
        for (int k = 0; k < 4; k++) {
            const __m128i q = _mm_loadl_epi64((const __m128i *)(b + 2 + 8 * k));
            const __m256 v = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q));
            _mm256_storeu_ps(dst + 8 * k, _mm256_mul_ps(v, d));
        }
    }
}

/* 32 nibble codes of a Q4 block as 4 x 8 int32, elements in order */
static inline void nibbles32(const uint8_t *qs, __m256i q[4])
{
    const __m128i b = _mm_loadu_si128((const __m128i *)qs);
    const __m128i m = _mm_set1_epi8(0x0F);
    const __m128i lo = _mm_and_si128(b, m), hi = _mm_and_si128(_mm_srli_epi16(b, 4), m);
    q[0] = _mm256_cvtepu8_epi32(lo);
    q[1] = _mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8));
    q[2] = _mm256_cvtepu8_epi32(hi);
    q[3] = _mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8));
}

static void dq_q4_0(const void *restrict src, float *restrict dst, size_t nb)
{
    const uint8_t *b = src;
    const __m256i eight = _mm256_set1_epi32(8);
    for (size_t i = 0; i < nb; i++, b += 18, dst += 32) {
        const __m256 d = _mm256_set1_ps(h2f(b));
        __m256i q[4];
        nibbles32(b + 2, q);
        for (int k = 0; k < 4; k++) {
            const __m256 v = _mm256_cvtepi32_ps(_mm256_sub_epi32(q[k], eight));
            _mm256_storeu_ps(dst + 8 * k, _mm256_mul_ps(v, d));
        }
    }
}

static void dq_q4_1(const void *restrict src, float *restrict dst, size_t nb)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nb; i++, b += 20, dst += 32) {
        const __m256 d = _mm256_set1_ps(h2f(b)), m = _mm256_set1_ps(h2f(b + 2));
        __m256i q[4];
        nibbles32(b + 4, q);
        for (int k = 0; k < 4; k++) {
            const __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(q[k]), d);
            _mm256_storeu_ps(dst + 8 * k, _mm256_add_ps(v, m));
        }
    }
}

/* Q5 codes: nibbles plus bit 4 from qh (bit e for element e) */
static inline void codes5(const uint8_t *qh, const uint8_t *qs, __m256i q[4])
{
    uint32_t h;
    memcpy(&h, qh, 4);
    const __m256i hv = _mm256_set1_epi32((int)h);
    const __m256i bit0 = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    const __m256i sixteen = _mm256_set1_epi32(16);
    nibbles32(qs, q);
    for (int k = 0; k < 4; k++) {
        const __m256i bits = _mm256_slli_epi32(bit0, 8 * k);
        const __m256i on = _mm256_cmpeq_epi32(_mm256_and_si256(hv, bits), bits);
        q[k] = _mm256_or_si256(q[k], _mm256_and_si256(on, sixteen));
    }
}

static void dq_q5_0(const void *restrict src, float *restrict dst, size_t nb)
{
    const uint8_t *b = src;
    const __m256i sixteen = _mm256_set1_epi32(16);
    for (size_t i = 0; i < nb; i++, b += 22, dst += 32) {
        const __m256 d = _mm256_set1_ps(h2f(b));
        __m256i q[4];
        codes5(b + 2, b + 6, q);
        for (int k = 0; k < 4; k++) {
            const __m256 v = _mm256_cvtepi32_ps(_mm256_sub_epi32(q[k], sixteen));
            _mm256_storeu_ps(dst + 8 * k, _mm256_mul_ps(v, d));
        }
    }
}

static void dq_q5_1(const void *restrict src, float *restrict dst, size_t nb)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nb; i++, b += 24, dst += 32) {
        const __m256 d = _mm256_set1_ps(h2f(b)), m = _mm256_set1_ps(h2f(b + 2));
        __m256i q[4];
        codes5(b + 4, b + 8, q);
        for (int k = 0; k < 4; k++) {
            const __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(q[k]), d);
            _mm256_storeu_ps(dst + 8 * k, _mm256_add_ps(v, m));
        }
    }
}

/* roundf(v): ties away from zero, exact for every float (trunc, then +-1 if the dropped
 * fraction is >= 0.5; Inf and NaN pass through) */
static inline __m256 round_away(__m256 v)
{
    const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 sgn = _mm256_set1_ps(sign_bit.f);
    const __m256 frac = _mm256_andnot_ps(sgn, _mm256_sub_ps(v, t));
    const __m256 big = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    const __m256 one = _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_and_ps(sgn, v));
    return _mm256_add_ps(t, _mm256_and_ps(big, one));
}

#define GROUP 8

/* Lane b of the result = max of the 8 lanes of r[b], for non-NaN inputs (order-independent). */
static inline __m256 max8x8(const __m256 r[8])
{
    __m256 a[4], c[2];
    for (int i = 0; i < 4; i++)
        a[i] = _mm256_max_ps(_mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]),
                             _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]));
    for (int i = 0; i < 2; i++)
        c[i] = _mm256_max_ps(_mm256_shuffle_ps(a[2 * i], a[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm256_shuffle_ps(a[2 * i], a[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    return _mm256_max_ps(_mm256_permute2f128_ps(c[0], c[1], 0x20),
                         _mm256_permute2f128_ps(c[0], c[1], 0x31));
}

/* 8 floats -> 8 halves (RNE; NaN -> sign | 0x7E00) */
static inline void f32_to_f16x8(const float *f, uint16_t *h)
{
    const __m256 v = _mm256_loadu_ps(f);
    _mm_storeu_si128((__m128i *)h, _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
    int nan = _mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    while (nan) {
        const int i = __builtin_ctz((unsigned)nan);
        h[i] = kern_f32_to_f16(f[i]);
        nan &= nan - 1;
    }
}

/* d = v / div per lane, id = d != 0 ? 1/d : 0 */
static inline void scales8(__m256 v, float div, float *d, float *id, uint16_t *dh)
{
    const __m256 dv = _mm256_div_ps(v, _mm256_set1_ps(div));
    const __m256 nz = _mm256_cmp_ps(dv, _mm256_setzero_ps(), _CMP_NEQ_UQ);
    _mm256_storeu_ps(d, dv);
    _mm256_storeu_ps(id, _mm256_and_ps(nz, _mm256_div_ps(_mm256_set1_ps(1.0f), dv)));
    f32_to_f16x8(d, dh);
}

/* roundf for |v| < 2^22: truncate v + copysign(0.5 - 2^-25, v) (see kern_avx512.c) */
static inline __m256i round_away_small(__m256 v)
{
    const __m256 sgn = _mm256_set1_ps(sign_bit.f);
    const __m256 h = _mm256_or_ps(_mm256_and_ps(v, sgn), _mm256_set1_ps(0x1.fffffep-2f));
    return _mm256_cvttps_epi32(_mm256_add_ps(v, h));
}

/* Q8_0, 8 blocks at a time: amax = max|x| (a group with a NaN is done by the scalar reference:
 * its MAX keeps a NaN only in the last position), d = amax / 127, q = roundf(x * id), low byte
 * of the int32. When every absmax is 0 or in [2^-100, FLT_MAX], |x * id| <= 127.0001 and the
 * cheaper rounding applies. */
static void q_q8_0(const float *restrict x, void *restrict dst, int64_t n, const float *imx)
{
    (void)imx;
    uint8_t *y = dst;
    const __m256 sgn = _mm256_set1_ps(sign_bit.f);
    const __m256i lowbyte = _mm256_set1_epi32(0xFF);
    int64_t nb = n / 32;
    float d[GROUP], id[GROUP];
    uint16_t dh[GROUP];
    while (nb > 0) {
        const int g = nb < GROUP ? (int)nb : GROUP;
        __m256 r[GROUP], nan = _mm256_setzero_ps();
        for (int b = g; b < GROUP; b++)
            r[b] = _mm256_setzero_ps();
        for (int b = 0; b < g; b++) {
            const float *xb = x + 32 * b;
            const __m256 v0 = _mm256_loadu_ps(xb), v1 = _mm256_loadu_ps(xb + 8);
            const __m256 v2 = _mm256_loadu_ps(xb + 16), v3 = _mm256_loadu_ps(xb + 24);
            nan = _mm256_or_ps(nan, _mm256_or_ps(_mm256_cmp_ps(v0, v1, _CMP_UNORD_Q),
                                                 _mm256_cmp_ps(v2, v3, _CMP_UNORD_Q)));
            r[b] = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sgn, v0), _mm256_andnot_ps(sgn, v1)),
                                 _mm256_max_ps(_mm256_andnot_ps(sgn, v2), _mm256_andnot_ps(sgn, v3)));
        }
        if (_mm256_movemask_ps(nan)) {
            kern_q_q8_0(x, y, 32 * g, NULL);
        } else {
            const __m256 av = max8x8(r);
            scales8(av, 127.0f, d, id, dh);
            const __m256 tame = _mm256_or_ps(
                _mm256_cmp_ps(av, _mm256_setzero_ps(), _CMP_EQ_OQ),
                _mm256_and_ps(_mm256_cmp_ps(av, _mm256_set1_ps(0x1p-100f), _CMP_GE_OQ),
                              _mm256_cmp_ps(av, _mm256_set1_ps(FLT_MAX), _CMP_LE_OQ)));
            if (_mm256_movemask_ps(tame) == 0xFF) {
                for (int b = 0; b < g; b++) {
                    uint8_t *yb = y + 34 * b;
                    const __m256 s = _mm256_set1_ps(id[b]);
                    __m256i q[4];
                    for (int k = 0; k < 4; k++) /* in [-127, 127]: packs does not saturate */
                        q[k] = round_away_small(_mm256_mul_ps(_mm256_loadu_ps(x + 32 * b + 8 * k), s));
                    const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]),
                                                         _mm256_packs_epi32(q[2], q[3]));
                    memcpy(yb, &dh[b], 2);
                    _mm256_storeu_si256((__m256i *)(yb + 2),
                                        _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
                }
            } else {
                for (int b = 0; b < g; b++) {
                    uint8_t *yb = y + 34 * b;
                    const __m256 s = _mm256_set1_ps(id[b]);
                    __m256i q[4];
                    for (int k = 0; k < 4; k++) {
                        const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + 32 * b + 8 * k), s);
                        q[k] = _mm256_and_si256(_mm256_cvttps_epi32(round_away(v)), lowbyte);
                    }
                    memcpy(yb, &dh[b], 2);
                    _mm256_storeu_si256((__m256i *)(yb + 2), pack_bytes32(q[0], q[1], q[2], q[3]));
                }
            }
        }
        x += 32 * g;
        y += 34 * g;
        nb -= g;
    }
}

/* Signed absmax of each block of a group (first occurrence, NaNs never win), then
 * d = max / -nmax for the group. */
static inline void sym_scales(const float *x, int g, int nmax, float *d, float *id, uint16_t *dh)
{
    const __m256 sgn = _mm256_set1_ps(sign_bit.f);
    __m256 r[GROUP], a[GROUP][4];
    for (int b = 0; b < GROUP; b++) {
        r[b] = _mm256_setzero_ps();
        if (b >= g)
            continue;
        for (int k = 0; k < 4; k++) {
            a[b][k] = _mm256_andnot_ps(sgn, _mm256_loadu_ps(x + 32 * b + 8 * k));
            r[b] = _mm256_max_ps(a[b][k], r[b]); /* a NaN |x| loses: max_ps keeps the 2nd */
        }
    }
    float amax[GROUP], max[GROUP] = {0};
    _mm256_storeu_ps(amax, max8x8(r));
    for (int b = 0; b < g; b++)
        if (amax[b] > 0.0f)
            max[b] = x[32 * b + first_eq32(a[b], amax[b])];
    scales8(_mm256_loadu_ps(max), (float)-nmax, d, id, dh);
}

/* (int8)(x*id + bias) clamped above to top, 32 codes as 4 x 8 int32 */
static inline void sym_codes(const float *x, float id, int nmax, __m256i q[4])
{
    const __m256 idv = _mm256_set1_ps(id), bias = _mm256_set1_ps((float)nmax + 0.5f);
    const __m256i top = _mm256_set1_epi32(2 * nmax - 1);
    for (int k = 0; k < 4; k++) {
        const __m256 t = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), idv), bias);
        q[k] = _mm256_min_epi32(low_s8(_mm256_cvttps_epi32(t)), top);
    }
}

static void q_q4_0(const float *restrict x, void *restrict dst, int64_t n, const float *imx)
{
    if (imx) {
        kq_legacy_row(KL_Q4_0, x, dst, n, imx);
        return;
    }
    uint8_t *y = dst;
    const __m256i lowbyte = _mm256_set1_epi32(0xFF);
    int64_t nb = n / 32;
    float d[GROUP], id[GROUP];
    uint16_t dh[GROUP];
    while (nb > 0) {
        const int g = nb < GROUP ? (int)nb : GROUP;
        sym_scales(x, g, 8, d, id, dh);
        for (int b = 0; b < g; b++) {
            uint8_t *yb = y + 18 * b;
            __m256i q[4];
            sym_codes(x + 32 * b, id[b], 8, q);
            memcpy(yb, &dh[b], 2);
            /* unmasked, as the reference: q0 | q1 << 4, low byte */
            const __m256i lo = _mm256_and_si256(_mm256_or_si256(q[0], _mm256_slli_epi32(q[2], 4)), lowbyte);
            const __m256i hi = _mm256_and_si256(_mm256_or_si256(q[1], _mm256_slli_epi32(q[3], 4)), lowbyte);
            _mm_storeu_si128((__m128i *)(yb + 2), pack_bytes16(lo, hi));
        }
        x += 32 * g;
        y += 18 * g;
        nb -= g;
    }
}

/* Pack 32 five-bit codes (low byte of each int32) into qh (u32) and qs[16]. */
static inline void pack5(__m256i q[4], uint8_t *qh, uint8_t *qs)
{
    const __m256i lowbyte = _mm256_set1_epi32(0xFF), nib = _mm256_set1_epi32(0x0F);
    uint32_t h = 0;
    for (int k = 0; k < 4; k++) {
        q[k] = _mm256_and_si256(q[k], lowbyte);
        h |= (uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_slli_epi32(q[k], 27))) << (8 * k);
    }
    memcpy(qh, &h, 4);
    const __m256i lo = _mm256_or_si256(_mm256_and_si256(q[0], nib),
                                       _mm256_slli_epi32(_mm256_and_si256(q[2], nib), 4));
    const __m256i hi = _mm256_or_si256(_mm256_and_si256(q[1], nib),
                                       _mm256_slli_epi32(_mm256_and_si256(q[3], nib), 4));
    _mm_storeu_si128((__m128i *)qs, pack_bytes16(lo, hi));
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
    while (nb > 0) {
        const int g = nb < GROUP ? (int)nb : GROUP;
        sym_scales(x, g, 16, d, id, dh);
        for (int b = 0; b < g; b++) {
            uint8_t *yb = y + 22 * b;
            __m256i q[4];
            sym_codes(x + 32 * b, id[b], 16, q);
            memcpy(yb, &dh[b], 2);
            pack5(q, yb + 2, yb + 6);
        }
        x += 32 * g;
        y += 22 * g;
        nb -= g;
    }
}

/* min/max of each block of a group (NaNs ignored; a zero extreme takes the sign of its first
 * occurrence, as the sequential scan), then d = (max - min) / nmax for the group. */
static inline void asym_scales(const float *x, int g, int nmax, float *id, uint16_t *dh,
                               uint16_t *mh, float *mins)
{
    __m256 rmin[GROUP], rmax[GROUP];
    for (int b = 0; b < GROUP; b++) {
        rmin[b] = rmax[b] = _mm256_setzero_ps();
        if (b >= g)
            continue;
        __m256 mn = _mm256_set1_ps(FLT_MAX), mx = _mm256_set1_ps(-FLT_MAX);
        for (int k = 0; k < 4; k++) {
            const __m256 v = _mm256_loadu_ps(x + 32 * b + 8 * k);
            mn = _mm256_min_ps(v, mn);
            mx = _mm256_max_ps(v, mx);
        }
        /* max8x8 of the negated minima gives the minima (no NaN is left in mn / mx) */
        rmin[b] = _mm256_xor_ps(mn, _mm256_set1_ps(sign_bit.f));
        rmax[b] = mx;
    }
    float lo[GROUP], hi[GROUP], d[GROUP];
    _mm256_storeu_ps(lo, _mm256_xor_ps(max8x8(rmin), _mm256_set1_ps(sign_bit.f)));
    _mm256_storeu_ps(hi, max8x8(rmax));
    for (int b = 0; b < GROUP; b++) {
        if (b >= g) {
            mins[b] = hi[b] = 0.0f;
            continue;
        }
        if (lo[b] == 0.0f || hi[b] == 0.0f) {
            __m256 v[4];
            for (int k = 0; k < 4; k++)
                v[k] = _mm256_loadu_ps(x + 32 * b + 8 * k);
            const float first_zero = x[32 * b + first_eq32(v, 0.0f)];
            if (lo[b] == 0.0f)
                lo[b] = first_zero;
            if (hi[b] == 0.0f)
                hi[b] = first_zero;
        }
        mins[b] = lo[b];
    }
    const __m256 range = _mm256_sub_ps(_mm256_loadu_ps(hi), _mm256_loadu_ps(mins));
    scales8(range, (float)nmax, d, id, dh);
    f32_to_f16x8(mins, mh);
}

static inline void asym_codes(const float *x, float min, float id, int nmax, int clamp,
                              __m256i q[4])
{
    const __m256 minv = _mm256_set1_ps(min), idv = _mm256_set1_ps(id), half = _mm256_set1_ps(0.5f);
    const __m256i top = _mm256_set1_epi32(nmax);
    for (int k = 0; k < 4; k++) {
        __m256 t = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + 8 * k), minv), idv);
        t = _mm256_add_ps(t, half);
        q[k] = _mm256_cvttps_epi32(t);
        if (clamp)
            q[k] = _mm256_min_epi32(low_s8(q[k]), top);
    }
}

static void q_q4_1(const float *restrict x, void *restrict dst, int64_t n, const float *imx)
{
    if (imx) {
        kq_legacy_row(KL_Q4_1, x, dst, n, imx);
        return;
    }
    uint8_t *y = dst;
    const __m256i lowbyte = _mm256_set1_epi32(0xFF);
    int64_t nb = n / 32;
    float id[GROUP], mins[GROUP];
    uint16_t dh[GROUP], mh[GROUP];
    while (nb > 0) {
        const int g = nb < GROUP ? (int)nb : GROUP;
        asym_scales(x, g, 15, id, dh, mh, mins);
        for (int b = 0; b < g; b++) {
            uint8_t *yb = y + 20 * b;
            __m256i q[4];
            asym_codes(x + 32 * b, mins[b], id[b], 15, 1, q);
            memcpy(yb, &dh[b], 2);
            memcpy(yb + 2, &mh[b], 2);
            const __m256i lo = _mm256_and_si256(_mm256_or_si256(q[0], _mm256_slli_epi32(q[2], 4)), lowbyte);
            const __m256i hi = _mm256_and_si256(_mm256_or_si256(q[1], _mm256_slli_epi32(q[3], 4)), lowbyte);
            _mm_storeu_si128((__m128i *)(yb + 4), pack_bytes16(lo, hi));
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
            __m256i q[4];
            asym_codes(x + 32 * b, mins[b], id[b], 31, 0, q);
            memcpy(yb, &dh[b], 2);
            memcpy(yb + 2, &mh[b], 2);
            pack5(q, yb + 4, yb + 8);
        }
        x += 32 * g;
        y += 24 * g;
        nb -= g;
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

/* 32 bytes (values 0..255) -> 4 x 8 floats */
static inline void bytes_to_f32(__m256i b, __m256 f[4])
{
    const __m128i lo = _mm256_castsi256_si128(b), hi = _mm256_extracti128_si256(b, 1);
    f[0] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(lo));
    f[1] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8)));
    f[2] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(hi));
    f[3] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8)));
}

/* y = d1 * q - m1 for 32 codes */
static inline void affine32(float *y, __m256i codes, float d1, float m1)
{
    __m256 f[4];
    bytes_to_f32(codes, f);
    const __m256 dv = _mm256_set1_ps(d1), mv = _mm256_set1_ps(m1);
    for (int k = 0; k < 4; k++)
        _mm256_storeu_ps(y + 8 * k, _mm256_sub_ps(_mm256_mul_ps(dv, f[k]), mv));
}

static void dq_q4_K(const void *restrict src, float *restrict dst, size_t nb)
{
    const uint8_t *b = src;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (size_t i = 0; i < nb; i++, b += 144) {
        const float d = h2f(b), dmin = h2f(b + 2);
        for (int c = 0; c < 4; c++, dst += 64) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(b + 16 + 32 * c));
            int sc, m;
            k4_scale_min(b + 4, 2 * c, &sc, &m);
            affine32(dst, _mm256_and_si256(q, m4), d * (float)sc, dmin * (float)m);
            k4_scale_min(b + 4, 2 * c + 1, &sc, &m);
            affine32(dst + 32, _mm256_and_si256(_mm256_srli_epi16(q, 4), m4), d * (float)sc,
                     dmin * (float)m);
        }
    }
}

static void dq_q5_K(const void *restrict src, float *restrict dst, size_t nb)
{
    const uint8_t *b = src;
    const __m256i m4 = _mm256_set1_epi8(0x0F), sixteen = _mm256_set1_epi8(16);
    for (size_t i = 0; i < nb; i++, b += 176) {
        const float d = h2f(b), dmin = h2f(b + 2);
        const __m256i qh = _mm256_loadu_si256((const __m256i *)(b + 16));
        for (int c = 0; c < 4; c++, dst += 64) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(b + 48 + 32 * c));
            const __m256i b0 = _mm256_set1_epi8((char)(1 << (2 * c)));
            const __m256i b1 = _mm256_set1_epi8((char)(2 << (2 * c)));
            const __m256i h0 = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, b0), b0), sixteen);
            const __m256i h1 = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, b1), b1), sixteen);
            int sc, m;
            k4_scale_min(b + 4, 2 * c, &sc, &m);
            affine32(dst, _mm256_or_si256(_mm256_and_si256(q, m4), h0), d * (float)sc,
                     dmin * (float)m);
            k4_scale_min(b + 4, 2 * c + 1, &sc, &m);
            affine32(dst + 32,
                     _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), h1),
                     d * (float)sc, dmin * (float)m);
        }
    }
}

/* 32 signed byte codes, y[0..15] = s0 * q, y[16..31] = s1 * q */
static inline void scaled32(float *y, __m256i codes, float s0, float s1)
{
    const __m128i lo = _mm256_castsi256_si128(codes), hi = _mm256_extracti128_si256(codes, 1);
    const __m256 a = _mm256_set1_ps(s0), c = _mm256_set1_ps(s1);
    _mm256_storeu_ps(y, _mm256_mul_ps(a, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo))));
    _mm256_storeu_ps(y + 8, _mm256_mul_ps(a, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8)))));
    _mm256_storeu_ps(y + 16, _mm256_mul_ps(c, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi))));
    _mm256_storeu_ps(y + 24, _mm256_mul_ps(c, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8)))));
}

static void dq_q6_K(const void *restrict src, float *restrict dst, size_t nb)
{
    const uint8_t *b = src;
    const __m256i m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(3);
    const __m256i b32 = _mm256_set1_epi8(32);
    for (size_t i = 0; i < nb; i++, b += 210) {
        const float d = h2f(b + 208);
        const int8_t *sc = (const int8_t *)(b + 192);
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
            const int8_t *s = sc + 8 * h;
            scaled32(dst, q1, d * (float)s[0], d * (float)s[1]);
            scaled32(dst + 32, q2, d * (float)s[2], d * (float)s[3]);
            scaled32(dst + 64, q3, d * (float)s[4], d * (float)s[5]);
            scaled32(dst + 96, q4, d * (float)s[6], d * (float)s[7]);
        }
    }
}


/* ---------------------------------------------------------------------------------------
 * K-quant quantizers: the vector layer of kern_kq.h, 8 lanes
 */
#define KQ_W 8
typedef __m256 vf;
typedef __m256i vi;
typedef __m256 vm;
static inline vf vf_set(float f) { return _mm256_set1_ps(f); }
static inline vf vf_load(const float *p) { return _mm256_loadu_ps(p); }
static inline void vf_store(float *p, vf v) { _mm256_storeu_ps(p, v); }
static inline vf vf_add(vf a, vf b) { return _mm256_add_ps(a, b); }
static inline vf vf_sub(vf a, vf b) { return _mm256_sub_ps(a, b); }
static inline vf vf_mul(vf a, vf b) { return _mm256_mul_ps(a, b); }
static inline vf vf_div(vf a, vf b) { return _mm256_div_ps(a, b); }
static inline vf vf_sqrt(vf a) { return _mm256_sqrt_ps(a); }
static inline vf vf_abs(vf a) { return _mm256_andnot_ps(_mm256_set1_ps(sign_bit.f), a); }
static inline vf vf_neg(vf a) { return _mm256_xor_ps(_mm256_set1_ps(sign_bit.f), a); }
static inline vf vf_min(vf a, vf b) { return _mm256_min_ps(a, b); }
static inline vf vf_max(vf a, vf b) { return _mm256_max_ps(a, b); }
static inline vm vf_lt(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
static inline vm vf_gt(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
static inline vm vf_le(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_LE_OQ); }
static inline vm vf_ne(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_NEQ_UQ); }
static inline vf vf_sel(vm m, vf t, vf f) { return _mm256_blendv_ps(f, t, m); }
static inline vi vi_nearest(vf v)
{
    const __m256i i = _mm256_castps_si256(_mm256_add_ps(v, _mm256_set1_ps(12582912.0f)));
    return _mm256_sub_epi32(_mm256_and_si256(i, _mm256_set1_epi32(0x007FFFFF)),
                            _mm256_set1_epi32(0x00400000));
}
static inline vi vi_clamp(vi v, int lo, int hi)
{
    return _mm256_min_epi32(_mm256_max_epi32(v, _mm256_set1_epi32(lo)), _mm256_set1_epi32(hi));
}
static inline vf vi_tof(vi v) { return _mm256_cvtepi32_ps(v); }
static inline vi vi_fromf(vf v) { return _mm256_cvttps_epi32(v); }
static inline vi vi_add_const(vi v, int c) { return _mm256_add_epi32(v, _mm256_set1_epi32(c)); }
static inline vi vi_sel(vm m, vi t, vi f)
{
    return _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(f), _mm256_castsi256_ps(t), m));
}
static inline void vi_store(int32_t *p, vi v) { _mm256_storeu_si256((__m256i *)p, v); }
static inline void vi_store_u8(uint8_t *p, vi v) /* lanes hold 0..255 */
{
    const __m128i w = _mm_packus_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    _mm_storel_epi64((__m128i *)p, _mm_packus_epi16(w, w));
}
static inline vm vm_and(vm a, vm b) { return _mm256_and_ps(a, b); }
static inline vm vm_or(vm a, vm b) { return _mm256_or_ps(a, b); }
static inline int vm_any(vm m) { return _mm256_movemask_ps(m) != 0; }

static inline int vm_all(vm m) { return _mm256_movemask_ps(m) == 0xFF; }

#include "kern/kern_kq.h"

/* ---------------------------------------------------------------------------------------
 * The table
 */
const struct kern_table kern_table_avx2 = {
    .name = "avx2",
    .dq = {
        [QF_TYPE_F32] = dq_f32,   [QF_TYPE_F16] = dq_f16,   [QF_TYPE_BF16] = dq_bf16,
        [QF_TYPE_Q4_0] = dq_q4_0, [QF_TYPE_Q4_1] = dq_q4_1, [QF_TYPE_Q5_0] = dq_q5_0,
        [QF_TYPE_Q5_1] = dq_q5_1, [QF_TYPE_Q8_0] = dq_q8_0, [QF_TYPE_Q4_K] = dq_q4_K,
        [QF_TYPE_Q5_K] = dq_q5_K, [QF_TYPE_Q6_K] = dq_q6_K,
    },
    .q = {
        [QF_TYPE_F32] = q_f32,    [QF_TYPE_F16] = q_f16,    [QF_TYPE_BF16] = q_bf16,
        [QF_TYPE_Q4_0] = q_q4_0,  [QF_TYPE_Q4_1] = q_q4_1,  [QF_TYPE_Q5_0] = q_q5_0,
        [QF_TYPE_Q5_1] = q_q5_1,  [QF_TYPE_Q8_0] = q_q8_0,  [QF_TYPE_Q2_K] = kq_q2_K,
        [QF_TYPE_Q3_K] = kq_q3_K, [QF_TYPE_Q4_K] = kq_q4_K, [QF_TYPE_Q5_K] = kq_q5_K,
        [QF_TYPE_Q6_K] = kq_q6_K,
    },
};

#else /* not x86: nothing to build */
typedef int kern_avx2_unused;
#endif
