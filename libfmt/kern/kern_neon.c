/* kern_neon.c - AArch64 Advanced SIMD (NEON) kernels. NEON is part of every AArch64 CPU, so no
 * run-time detection is needed; the table exists only in AArch64 builds.
 *
 * As on x86, every kernel reproduces kern_scalar.c bit for bit: each element gets the same float
 * operations in the same order (multiplies and adds are separate instructions: this file is
 * compiled with -ffp-contract=off like the reference, so the compiler cannot fuse them into
 * FMLA), conversions are exact (small integers to float, f16 to f32), and blocks whose inputs the
 * vector path cannot mirror (NaN in a Q8_0 block) take the scalar function. Block data is read
 * with unaligned byte loads; AArch64 Linux is little-endian like the files.
 */
#include "kern/kern.h"

#if defined(__aarch64__)

#include <arm_neon.h>
#include <string.h>

#include "kern/kern_iqtab.h"

static inline float h2f(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, 2);
    return kern_f16_to_f32(h);
}

/* 16 signed bytes -> four float vectors */
static inline void s8x16_to_f32(int8x16_t q, float32x4_t out[4])
{
    const int16x8_t lo = vmovl_s8(vget_low_s8(q)), hi = vmovl_s8(vget_high_s8(q));
    out[0] = vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo)));
    out[1] = vcvtq_f32_s32(vmovl_s16(vget_high_s16(lo)));
    out[2] = vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi)));
    out[3] = vcvtq_f32_s32(vmovl_s16(vget_high_s16(hi)));
}

/* dst[0..15] = q * d (the reference's order: (float)q * d) */
static inline void store_mul16(float *dst, int8x16_t q, float d)
{
    float32x4_t f[4];
    s8x16_to_f32(q, f);
    const float32x4_t vd = vdupq_n_f32(d);
    for (int k = 0; k < 4; k++)
        vst1q_f32(dst + 4 * k, vmulq_f32(f[k], vd));
}

/* dst[0..15] = q * d + m, the product rounded before the sum */
static inline void store_mul_add16(float *dst, int8x16_t q, float d, float m)
{
    float32x4_t f[4];
    s8x16_to_f32(q, f);
    const float32x4_t vd = vdupq_n_f32(d), vm = vdupq_n_f32(m);
    for (int k = 0; k < 4; k++)
        vst1q_f32(dst + 4 * k, vaddq_f32(vmulq_f32(f[k], vd), vm));
}

/* dst[0..15] = q * d - m */
static inline void store_mul_sub16(float *dst, int8x16_t q, float d, float m)
{
    float32x4_t f[4];
    s8x16_to_f32(q, f);
    const float32x4_t vd = vdupq_n_f32(d), vm = vdupq_n_f32(m);
    for (int k = 0; k < 4; k++)
        vst1q_f32(dst + 4 * k, vsubq_f32(vmulq_f32(vd, f[k]), vm));
}

/* ---------------------------------------------------------------------------------------
 * Plain types
 */
static void dq_f16(const void *restrict src, float *restrict dst, size_t n)
{
    const uint8_t *s = src;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const float16x8_t h = vreinterpretq_f16_u8(vld1q_u8(s + 2 * i));
        vst1q_f32(dst + i, vcvt_f32_f16(vget_low_f16(h)));
        vst1q_f32(dst + i + 4, vcvt_high_f32_f16(h));
    }
    kern_dq_f16(s + 2 * i, dst + i, n - i);
}

/* f32 -> f16 round to nearest even; NaN becomes sign | 0x7E00 as in kern_f32_to_f16 (the
 * hardware would keep payload bits instead). */
static void q_f16(const float *restrict src, void *restrict dst, int64_t n, const float *imx)
{
    (void)imx;
    uint8_t *d = dst;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float32x4_t x = vld1q_f32(src + i);
        uint16x4_t h = vreinterpret_u16_f16(vcvt_f16_f32(x));
        const uint32x4_t nan = vmvnq_u32(vceqq_f32(x, x));
        const uint16x4_t qnan = vorr_u16(vand_u16(h, vdup_n_u16(0x8000)), vdup_n_u16(0x7E00));
        h = vbsl_u16(vmovn_u32(nan), qnan, h);
        vst1_u8(d + 2 * i, vreinterpret_u8_u16(h));
    }
    kern_q_f16(src + i, d + 2 * i, n - i, NULL);
}

static void dq_bf16(const void *restrict src, float *restrict dst, size_t n)
{
    const uint8_t *s = src;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const uint16x8_t h = vreinterpretq_u16_u8(vld1q_u8(s + 2 * i));
        vst1q_f32(dst + i, vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(h), 16)));
        vst1q_f32(dst + i + 4, vreinterpretq_f32_u32(vshll_high_n_u16(h, 16)));
    }
    kern_dq_bf16(s + 2 * i, dst + i, n - i);
}

/* f32 -> bf16: NaN -> (u >> 16) | 0x40, else (u + 0x7FFF + lsb) >> 16, as kern_f32_to_bf16 */
static void q_bf16(const float *restrict src, void *restrict dst, int64_t n, const float *imx)
{
    (void)imx;
    uint8_t *d = dst;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const uint32x4_t u = vld1q_u32((const uint32_t *)(const void *)(src + i));
        const uint32x4_t lsb = vandq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(1));
        const uint32x4_t r = vshrq_n_u32(vaddq_u32(vaddq_u32(u, vdupq_n_u32(0x7FFF)), lsb), 16);
        const uint32x4_t q = vorrq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(0x40));
        const uint32x4_t nan = vcgtq_u32(vandq_u32(u, vdupq_n_u32(0x7FFFFFFF)),
                                         vdupq_n_u32(0x7F800000));
        vst1_u8(d + 2 * i, vreinterpret_u8_u16(vmovn_u32(vbslq_u32(nan, q, r))));
    }
    kern_q_bf16(src + i, d + 2 * i, n - i, NULL);
}

/* ---------------------------------------------------------------------------------------
 * Legacy blocks
 */
static void dq_q8_0(const void *restrict src, float *restrict dst, size_t nb)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nb; i++, b += 34, dst += 32) {
        const float d = h2f(b);
        store_mul16(dst, vld1q_s8((const int8_t *)(b + 2)), d);
        store_mul16(dst + 16, vld1q_s8((const int8_t *)(b + 18)), d);
    }
}

/* Q8_0: amax by MAX(amax, |x|) in order (only the NaN case depends on the order: such blocks go
 * to the scalar code), d = amax / 127, q = roundf(x * id) (round half away from zero). */
static void q_q8_0(const float *restrict src, void *restrict dst, int64_t n, const float *imx)
{
    uint8_t *y = dst;
    for (int64_t ib = 0; ib < n / 32; ib++, y += 34) {
        const float *x = src + 32 * ib;
        float32x4_t v[8];
        uint32x4_t ok = vdupq_n_u32(0xFFFFFFFFu);
        float32x4_t amax = vdupq_n_f32(0.0f);
        for (int k = 0; k < 8; k++) {
            v[k] = vld1q_f32(x + 4 * k);
            ok = vandq_u32(ok, vceqq_f32(v[k], v[k]));
            amax = vmaxq_f32(amax, vabsq_f32(v[k]));
        }
        const float am = vmaxvq_f32(amax);
        const float d = am / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        /* NaN, an infinite amax or a scale so small that id overflows: products leave the int32
         * range, where the reference's conversion gives INT32_MIN and FCVTZS saturates */
        if (vminvq_u32(ok) == 0 || !(am <= 3.0e38f) || !(id <= 1.0e30f)) {
            kern_q_q8_0(x, y, 32, imx);
            continue;
        }
        uint16_t h = kern_f32_to_f16(d);
        memcpy(y, &h, 2);
        const float32x4_t vid = vdupq_n_f32(id);
        int32x4_t q[8];
        for (int k = 0; k < 8; k++)
            q[k] = vcvtq_s32_f32(vrndaq_f32(vmulq_f32(v[k], vid)));
        for (int k = 0; k < 2; k++) {
            const int16x8_t a = vcombine_s16(vmovn_s32(q[4 * k]), vmovn_s32(q[4 * k + 1]));
            const int16x8_t c = vcombine_s16(vmovn_s32(q[4 * k + 2]), vmovn_s32(q[4 * k + 3]));
            vst1q_s8((int8_t *)(y + 2 + 16 * k), vcombine_s8(vmovn_s16(a), vmovn_s16(c)));
        }
    }
}

static void dq_q4_0(const void *restrict src, float *restrict dst, size_t nb)
{
    const uint8_t *b = src;
    const int8x16_t eight = vdupq_n_s8(8);
    for (size_t i = 0; i < nb; i++, b += 18, dst += 32) {
        const float d = h2f(b);
        const uint8x16_t q = vld1q_u8(b + 2);
        store_mul16(dst, vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0F))), eight), d);
        store_mul16(dst + 16, vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), eight), d);
    }
}

static void dq_q4_1(const void *restrict src, float *restrict dst, size_t nb)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nb; i++, b += 20, dst += 32) {
        const float d = h2f(b), m = h2f(b + 2);
        const uint8x16_t q = vld1q_u8(b + 4);
        store_mul_add16(dst, vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0F))), d, m);
        store_mul_add16(dst + 16, vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), d, m);
    }
}

/* bit j of the 32-bit qh for j = 0..15 (lo) and 16..31 (hi), as 0x10 per byte */
static inline void q5_high(uint32_t qh, uint8x16_t *lo, uint8x16_t *hi)
{
    static const uint8_t bits[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    const uint8x16_t m = vld1q_u8(bits);
    const uint8x8_t b0 = vdup_n_u8((uint8_t)qh), b1 = vdup_n_u8((uint8_t)(qh >> 8));
    const uint8x8_t b2 = vdup_n_u8((uint8_t)(qh >> 16)), b3 = vdup_n_u8((uint8_t)(qh >> 24));
    *lo = vandq_u8(vtstq_u8(vcombine_u8(b0, b1), m), vdupq_n_u8(0x10));
    *hi = vandq_u8(vtstq_u8(vcombine_u8(b2, b3), m), vdupq_n_u8(0x10));
}

static void dq_q5_0(const void *restrict src, float *restrict dst, size_t nb)
{
    const uint8_t *b = src;
    const int8x16_t sixteen = vdupq_n_s8(16);
    for (size_t i = 0; i < nb; i++, b += 22, dst += 32) {
        const float d = h2f(b);
        uint32_t qh;
        memcpy(&qh, b + 2, 4);
        uint8x16_t hl, hh;
        q5_high(qh, &hl, &hh);
        const uint8x16_t q = vld1q_u8(b + 6);
        const uint8x16_t q0 = vorrq_u8(vandq_u8(q, vdupq_n_u8(0x0F)), hl);
        const uint8x16_t q1 = vorrq_u8(vshrq_n_u8(q, 4), hh);
        store_mul16(dst, vsubq_s8(vreinterpretq_s8_u8(q0), sixteen), d);
        store_mul16(dst + 16, vsubq_s8(vreinterpretq_s8_u8(q1), sixteen), d);
    }
}

static void dq_q5_1(const void *restrict src, float *restrict dst, size_t nb)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nb; i++, b += 24, dst += 32) {
        const float d = h2f(b), m = h2f(b + 2);
        uint32_t qh;
        memcpy(&qh, b + 4, 4);
        uint8x16_t hl, hh;
        q5_high(qh, &hl, &hh);
        const uint8x16_t q = vld1q_u8(b + 8);
        const uint8x16_t q0 = vorrq_u8(vandq_u8(q, vdupq_n_u8(0x0F)), hl);
        const uint8x16_t q1 = vorrq_u8(vshrq_n_u8(q, 4), hh);
        store_mul_add16(dst, vreinterpretq_s8_u8(q0), d, m);
        store_mul_add16(dst + 16, vreinterpretq_s8_u8(q1), d, m);
    }
}

static void dq_iq4_nl(const void *restrict src, float *restrict dst, size_t nb)
{
    const uint8_t *b = src;
    const int8x16_t tab = vld1q_s8(kern_kvalues_iq4nl);
    for (size_t i = 0; i < nb; i++, b += 18, dst += 32) {
        const float d = h2f(b);
        const uint8x16_t q = vld1q_u8(b + 2);
        const int8x16_t v0 = vqtbl1q_s8(tab, vandq_u8(q, vdupq_n_u8(0x0F)));
        const int8x16_t v1 = vqtbl1q_s8(tab, vshrq_n_u8(q, 4));
        /* the reference multiplies d * K[q]: same product, multiplication commutes exactly */
        store_mul16(dst, v0, d);
        store_mul16(dst + 16, v1, d);
    }
}

/* ---------------------------------------------------------------------------------------
 * K blocks
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

/* Q4_K / Q5_K: y = (D * sc) * q - Dmin * m per 32-element sub-block (qh NULL for Q4_K) */
static void dq_k45(const uint8_t *b, const uint8_t *qh, const uint8_t *q, float *dst)
{
    const float d = h2f(b), dmin = h2f(b + 2);
    for (int c = 0; c < 4; c++, q += 32) {
        for (int t = 0; t < 2; t++) {
            int sc, m;
            k4_scale_min(b + 4, 2 * c + t, &sc, &m);
            const float d1 = d * (float)sc, m1 = dmin * (float)m;
            const uint8_t hbit = (uint8_t)(1u << (2 * c + t));
            for (int h = 0; h < 2; h++) {
                const uint8x16_t raw = vld1q_u8(q + 16 * h);
                uint8x16_t v = t ? vshrq_n_u8(raw, 4) : vandq_u8(raw, vdupq_n_u8(0x0F));
                if (qh)
                    v = vorrq_u8(v, vandq_u8(vtstq_u8(vld1q_u8(qh + 16 * h), vdupq_n_u8(hbit)),
                                             vdupq_n_u8(16)));
                store_mul_sub16(dst, vreinterpretq_s8_u8(v), d1, m1);
                dst += 16;
            }
        }
    }
}

static void dq_q4_K(const void *restrict src, float *restrict dst, size_t nb)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nb; i++, b += 144, dst += 256)
        dq_k45(b, NULL, b + 16, dst);
}

static void dq_q5_K(const void *restrict src, float *restrict dst, size_t nb)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nb; i++, b += 176, dst += 256)
        dq_k45(b, b + 16, b + 48, dst);
}

/* Q6_K: y = (D * scale) * (q - 32), the product (D * scale) formed first as in the reference */
static void dq_q6_K(const void *restrict src, float *restrict dst, size_t nb)
{
    const uint8_t *b = src;
    const int8x16_t m32 = vdupq_n_s8(32);
    const uint8x16_t m4 = vdupq_n_u8(0x0F), m3 = vdupq_n_u8(3);
    for (size_t i = 0; i < nb; i++, b += 210, dst += 256) {
        const float d = h2f(b + 208);
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = b + 64 * h, *qh = b + 128 + 32 * h;
            const int8_t *sc = (const int8_t *)(b + 192 + 8 * h);
            float *yy = dst + 128 * h;
            for (int half = 0; half < 2; half++) {
                const int l = 16 * half, is = half;
                const uint8x16_t a = vld1q_u8(ql + l), c = vld1q_u8(ql + l + 32);
                const uint8x16_t hb = vld1q_u8(qh + l);
                const uint8x16_t q1 = vorrq_u8(vandq_u8(a, m4), vshlq_n_u8(vandq_u8(hb, m3), 4));
                const uint8x16_t q2 = vorrq_u8(vandq_u8(c, m4),
                                               vshlq_n_u8(vandq_u8(vshrq_n_u8(hb, 2), m3), 4));
                const uint8x16_t q3 = vorrq_u8(vshrq_n_u8(a, 4),
                                               vshlq_n_u8(vandq_u8(vshrq_n_u8(hb, 4), m3), 4));
                const uint8x16_t q4 = vorrq_u8(vshrq_n_u8(c, 4), vshlq_n_u8(vshrq_n_u8(hb, 6), 4));
                store_mul16(yy + l, vsubq_s8(vreinterpretq_s8_u8(q1), m32), d * (float)sc[is]);
                store_mul16(yy + l + 32, vsubq_s8(vreinterpretq_s8_u8(q2), m32),
                            d * (float)sc[is + 2]);
                store_mul16(yy + l + 64, vsubq_s8(vreinterpretq_s8_u8(q3), m32),
                            d * (float)sc[is + 4]);
                store_mul16(yy + l + 96, vsubq_s8(vreinterpretq_s8_u8(q4), m32),
                            d * (float)sc[is + 6]);
            }
        }
    }
}

const struct kern_table kern_table_neon = {
    .name = "neon",
    .dq = {
        [QF_TYPE_F16] = dq_f16,     [QF_TYPE_BF16] = dq_bf16,
        [QF_TYPE_Q8_0] = dq_q8_0,   [QF_TYPE_Q4_0] = dq_q4_0,
        [QF_TYPE_Q4_1] = dq_q4_1,   [QF_TYPE_Q5_0] = dq_q5_0,
        [QF_TYPE_Q5_1] = dq_q5_1,   [QF_TYPE_IQ4_NL] = dq_iq4_nl,
        [QF_TYPE_Q4_K] = dq_q4_K,   [QF_TYPE_Q5_K] = dq_q5_K,
        [QF_TYPE_Q6_K] = dq_q6_K,
    },
    .q = {
        [QF_TYPE_F16] = q_f16,      [QF_TYPE_BF16] = q_bf16,
        [QF_TYPE_Q8_0] = q_q8_0,
    },
};

#else
/* not an AArch64 build: nothing here (ISO C forbids an empty translation unit) */
typedef int kern_neon_unused;
#endif
