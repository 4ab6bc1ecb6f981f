/* kern_iq.c - scalar reference kernels of the i-quants (IQ1_S ... IQ4_XS), the ternary types
 * (TQ1_0, TQ2_0), the 4-bit floats (MXFP4, NVFP4, safetensors F4) and Q1_0 / Q2_0.
 *
 * Block layouts are given before each type as byte offsets; multi-byte fields are little-endian
 * and read with qfi_load_le*, so the code is independent of host byte order and alignment.
 * Every formula follows the ggml types spec (ggml-types.md §5.8-5.13, §7) in float32, each
 * operation rounded in the order written, no fused multiply-add (this file is built with
 * -ffp-contract=off). Where a C expression like `a * b * c` appears, it means (a * b) * c, as
 * C evaluates it; reordering any of these changes the last bit and breaks bit-identity.
 *
 * Quantizers reproduce what llama-quantize (ggml_quantize_chunk) writes on x86-64:
 *   - IQ4_NL uses the ntry = 7 search of quantize_iq4_nl (not the ntry = -1 row reference),
 *   - IQ2_XXS, IQ2_XS and IQ1_S need importance weights in ggml; imatrix == NULL here means
 *     all-ones importance (bit-identical to passing a vector of 1.0f),
 *   - the IQ1/IQ2/IQ3 searches follow ggml's procedure step by step, including its
 *     neighbour lists (kern_iqtab.c) and the IQ3_S output layout quirk (see kern_q_iq3_s);
 *   - where ggml reads stale or uninitialised memory (the shift flags of an all-zero block in
 *     IQ1_S / IQ1_M) we write what ggml's later fix writes (no shift).
 * Inputs ggml leaves undefined (NaN, +-Inf, all-zero importance weights) never crash. NaN
 * inputs still give finite scales (a NaN element becomes 0, -d for Q1_0, or zeroes its block
 * or super-block); +-Inf and magnitudes beyond the fp16 range may give infinite scales, as
 * they do upstream.
 */
#include "kern/kern_ref.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "kern/kern_iqtab.h"
#include "qf_int.h"

#define QK_K 256

/* ---------------------------------------------------------------------------------------
 * Shared helpers
 */

/* Round to nearest, ties to even, as ggml's nearest_int: adding 1.5 * 2^23 leaves the integer
 * in the low mantissa bits. Exact for |f| <= 4194303; for anything else (huge, Inf, NaN) the
 * result is some integer in [-4194304, 4194303], never undefined behaviour. */
static inline int iq_nint(float f)
{
    float v = f + 12582912.f;
    int32_t i;
    memcpy(&i, &v, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

/* (int)roundf(v) (ties away from zero) for |v| small; NaN gives 0 and the magnitude is capped
 * so the conversion is always defined. */
static inline int iq_round(float v)
{
    if (!(v == v))
        return 0;
    if (v > 1e9f)
        return 1000000000;
    if (v < -1e9f)
        return -1000000000;
    return (int)roundf(v);
}

static inline int iq_min(int a, int b) { return a < b ? a : b; }
static inline int iq_clamp(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }
/* ggml's MAX(a, b) for floats: (a > b ? a : b) - keeps b when a is NaN. */
static inline float iq_fmax(float a, float b) { return a > b ? a : b; }

static inline float iq_h2f(const uint8_t *p) { return kern_f16_to_f32(qfi_load_le16(p)); }
static inline void iq_f2h(uint8_t *p, float f) { qfi_store_le16(p, kern_f32_to_f16(f)); }

/* Element j of a packed grid entry. */
static inline unsigned iq_gb(uint64_t e, int j) { return (unsigned)(e >> (8 * j)) & 0xff; }

/* ---------------------------------------------------------------------------------------
 * Q1_0 (18 bytes, 128 elements): d (fp16) | 16 bytes of sign bits, bit e%8 of byte e/8 set
 * when x_e >= 0. y = bit ? D : -D.
 */
KERN_DQ(q1_0)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nblocks; i++, b += 18, dst += 128) {
        const float d = iq_h2f(b), nd = -d;
        for (int j = 0; j < 128; j++)
            dst[j] = (b[2 + j / 8] >> (j % 8)) & 1 ? d : nd;
    }
}

KERN_Q(q1_0)
{
    (void)imatrix;
    uint8_t *y = dst;
    for (int64_t i = 0; i < n_per_row / 128; i++, src += 128, y += 18) {
        float sum = 0.0f;
        for (int j = 0; j < 128; j++)
            if (src[j] == src[j])   /* NaN is skipped (it would make d NaN; undefined upstream) */
                sum += fabsf(src[j]);
        iq_f2h(y, sum / 128);
        memset(y + 2, 0, 16);
        for (int j = 0; j < 128; j++)
            if (src[j] >= 0.0f)
                y[2 + j / 8] |= (uint8_t)(1u << (j % 8));
    }
}

/* ---------------------------------------------------------------------------------------
 * Q2_0 (18 bytes, 64 elements): d (fp16) | 16 bytes, element e in bits 2(e%4).. of byte e/4.
 * y = (q - 1) * D, codes 0..3 = -1, 0, +1, +2.
 */
KERN_DQ(q2_0)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nblocks; i++, b += 18, dst += 64) {
        const float d = iq_h2f(b);
        for (int j = 0; j < 64; j++)
            dst[j] = (float)(((b[2 + j / 4] >> (2 * (j % 4))) & 3) - 1) * d;
    }
}

KERN_Q(q2_0)
{
    (void)imatrix;
    uint8_t *y = dst;
    for (int64_t i = 0; i < n_per_row / 64; i++, src += 64, y += 18) {
        float amax = 0.0f;
        for (int j = 0; j < 64; j++) {
            const float a = fabsf(src[j]);
            if (a > amax)
                amax = a;
        }
        const float d = amax;
        const float id = d > 0.0f ? 1.0f / d : 0.0f;
        iq_f2h(y, d);
        memset(y + 2, 0, 16);
        for (int j = 0; j < 64; j++) {
            const int q = iq_clamp(iq_round(src[j] * id) + 1, 0, 3);
            y[2 + j / 4] |= (uint8_t)(q << (2 * (j % 4)));
        }
    }
}

/* ---------------------------------------------------------------------------------------
 * 4-bit floats. kern_kvalues_fp4 is the E2M1 table doubled (0 1 2 3 4 6 8 12, sign bit 3),
 * so MXFP4 and NVFP4 use half their nominal scale.
 */

/* E8M0 byte e -> 2^(e-128) (float subnormals for e = 0, 1). e = 255 is invalid data; it
 * decodes to 2^127 here (a bit pattern, no NaN handling, as the reference). */
static inline float e8m0_half(uint8_t e)
{
    uint32_t bits = e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* UE4M3 scale byte -> value / 2 (bit 7 ignored; 0x00 and 0x7F give 0). */
static inline float ue4m3_half(uint8_t u)
{
    if (u == 0 || u == 0x7f)
        return 0.0f;
    const int e = (u >> 3) & 0xf, m = u & 7;
    const float raw = e == 0 ? ldexpf((float)m, -9) : ldexpf(1.0f + (float)m / 8.0f, e - 7);
    return raw * 0.5f;
}

/* float -> UE4M3 as the NVFP4 reference quantizer: magnitude clamped to 448, round half up on
 * the 3-bit mantissa; not (x > 0) gives 0. */
static uint8_t f32_to_ue4m3(float x)
{
    if (!(x > 0.0f))
        return 0;
    if (x > 448.0f)
        x = 448.0f;
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    int e = (int)((bits >> 23) & 0xff) - 127 + 7;
    if (e <= 0) {
        int m = (int)(x * 512.0f + 0.5f);
        if (m > 7)
            m = 7;
        return m < 1 ? 0 : (uint8_t)m;
    }
    if (e >= 15)
        return 0x7e;
    int m = (int)((bits >> 20) & 7) + (int)((bits >> 19) & 1);
    if (m > 7) {
        m = 0;
        if (++e >= 15)
            return 0x7e;
    }
    return (uint8_t)((e << 3) | m);
}

/* Code whose (doubled) value times s is nearest to x; ties keep the lower code, so +0 (code
 * 0) wins over -0 (code 8). NaN x gives code 0. */
static inline uint8_t fp4_best(float x, float s)
{
    int best = 0;
    float best_err = fabsf((float)kern_kvalues_fp4[0] * s - x);
    for (int i = 1; i < 16; i++) {
        const float err = fabsf((float)kern_kvalues_fp4[i] * s - x);
        if (err < best_err) {
            best = i;
            best_err = err;
        }
    }
    return (uint8_t)best;
}

/* MXFP4 (17 bytes, 32 elements): e (E8M0) | qs[16]: byte j low nibble = element j, high
 * nibble = element j+16. y = kv[q] * 2^(e-128). */
KERN_DQ(mxfp4)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nblocks; i++, b += 17, dst += 32) {
        const float d = e8m0_half(b[0]);
        for (int j = 0; j < 16; j++) {
            dst[j] = (float)kern_kvalues_fp4[b[1 + j] & 0xf] * d;
            dst[j + 16] = (float)kern_kvalues_fp4[b[1 + j] >> 4] * d;
        }
    }
}

KERN_Q(mxfp4)
{
    (void)imatrix;
    uint8_t *y = dst;
    for (int64_t i = 0; i < n_per_row / 32; i++, src += 32, y += 17) {
        float amax = 0.0f;
        for (int j = 0; j < 32; j++)
            if (amax < fabsf(src[j]))
                amax = fabsf(src[j]);
        uint8_t e = 0;
        if (amax > 0.0f) {
            /* log2f as the reference (it may round up just below a power of two); the value
             * is clamped to the valid exponents where the reference's cast is undefined. */
            const float fe = floorf(log2f(amax)) - 2 + 127;
            e = fe <= 0.0f ? 0 : fe >= 254.0f ? 254 : (uint8_t)fe;
        }
        const float d = e8m0_half(e);
        y[0] = e;
        for (int j = 0; j < 16; j++)
            y[1 + j] = (uint8_t)(fp4_best(src[j], d) | fp4_best(src[j + 16], d) << 4);
    }
}

/* NVFP4 (36 bytes, 64 elements): d[4] (UE4M3, one per 16-element sub-block) | qs[32]:
 * sub-block s uses qs[8s .. 8s+7], byte j low nibble = element 16s+j, high = 16s+j+8.
 * y = kv[q] * ue4m3_half(d[s]). */
KERN_DQ(nvfp4)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nblocks; i++, b += 36) {
        for (int s = 0; s < 4; s++, dst += 16) {
            const float d = ue4m3_half(b[s]);
            const uint8_t *q = b + 4 + 8 * s;
            for (int j = 0; j < 8; j++) {
                dst[j] = (float)kern_kvalues_fp4[q[j] & 0xf] * d;
                dst[j + 8] = (float)kern_kvalues_fp4[q[j] >> 4] * d;
            }
        }
    }
}

KERN_Q(nvfp4)
{
    (void)imatrix;
    uint8_t *y = dst;
    for (int64_t i = 0; i < n_per_row / 64; i++, y += 36) {
        for (int s = 0; s < 4; s++, src += 16) {
            float amax = 0.0f;
            for (int j = 0; j < 16; j++)
                if (amax < fabsf(src[j]))
                    amax = fabsf(src[j]);
            const uint8_t u = f32_to_ue4m3(amax / 6.0f);
            const float d = ue4m3_half(u);
            y[s] = u;
            for (int j = 0; j < 8; j++)
                y[4 + 8 * s + j] = (uint8_t)(fp4_best(src[j], d) | fp4_best(src[j + 8], d) << 4);
        }
    }
}

/* safetensors F4: E2M1 values two per byte, low nibble first (one "block" = 1 byte = 2 values).
 * Magnitudes 0 0.5 1 1.5 2 3 4 6, bit 3 the sign (code 8 is -0). */
KERN_DQ(f4)
{
    static const float e2m1[16] = {0.0f,  0.5f,  1.0f,  1.5f,  2.0f,  3.0f,  4.0f,  6.0f,
                                   -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};
    const uint8_t *b = src;
    for (size_t i = 0; i < nblocks; i++) {
        dst[2 * i] = e2m1[b[i] & 0xf];
        dst[2 * i + 1] = e2m1[b[i] >> 4];
    }
}

/* ---------------------------------------------------------------------------------------
 * Ternary types. Trit t = roundf(x/max|x|) + 1 in {0, 1, 2}; value (t - 1) * D.
 */

static inline int tq_trit(float v)
{
    return iq_clamp(iq_round(v) + 1, 0, 2);
}

/* Trit n (0 = most significant) of a base-3 packed byte: ((b * 3^n mod 256) * 3) >> 8. */
static inline int tq_unpack(uint8_t b, int n)
{
    static const uint8_t pow3[5] = {1, 3, 9, 27, 81};
    const uint8_t q = (uint8_t)(b * pow3[n]);
    return (q * 3) >> 8;
}

/* Byte holding trits t0..t4 (t0 most significant): ceil(v * 256 / 243). */
static inline uint8_t tq_pack(const int *t)
{
    unsigned v = 0;
    for (int n = 0; n < 5; n++)
        v = v * 3 + (unsigned)t[n];
    return (uint8_t)((v * 256 + 242) / 243);
}

/* TQ1_0 (54 bytes, 256 elements): qs[48] | qh[4] | d (fp16) at 52.
 *   qs[m], m < 32: trits of elements m + 32n (n = 0..4), elements 0..159;
 *   qs[32 + m], m < 16: elements 160 + m + 16n, elements 160..239;
 *   qh[j]: elements 240 + j + 4n, n = 0..3, the fifth trit 0. */
KERN_DQ(tq1_0)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nblocks; i++, b += 54, dst += 256) {
        const float d = iq_h2f(b + 52);
        for (int n = 0; n < 5; n++)
            for (int m = 0; m < 32; m++)
                dst[m + 32 * n] = (float)(tq_unpack(b[m], n) - 1) * d;
        for (int n = 0; n < 5; n++)
            for (int m = 0; m < 16; m++)
                dst[160 + m + 16 * n] = (float)(tq_unpack(b[32 + m], n) - 1) * d;
        for (int n = 0; n < 4; n++)
            for (int j = 0; j < 4; j++)
                dst[240 + j + 4 * n] = (float)(tq_unpack(b[48 + j], n) - 1) * d;
    }
}

/* max|x| over a block; NaN elements are skipped (upstream they make d NaN) and quantize to 0. */
static float tq_amax(const float *x)
{
    float amax = 0.0f;
    for (int j = 0; j < QK_K; j++)
        if (fabsf(x[j]) > amax)
            amax = fabsf(x[j]);
    return amax;
}

KERN_Q(tq1_0)
{
    (void)imatrix;
    uint8_t *y = dst;
    for (int64_t i = 0; i < n_per_row / QK_K; i++, src += QK_K, y += 54) {
        const float d = tq_amax(src);
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        int t[5];
        for (int m = 0; m < 32; m++) {
            for (int n = 0; n < 5; n++)
                t[n] = tq_trit(src[m + 32 * n] * id);
            y[m] = tq_pack(t);
        }
        for (int m = 0; m < 16; m++) {
            for (int n = 0; n < 5; n++)
                t[n] = tq_trit(src[160 + m + 16 * n] * id);
            y[32 + m] = tq_pack(t);
        }
        for (int j = 0; j < 4; j++) {
            for (int n = 0; n < 4; n++)
                t[n] = tq_trit(src[240 + j + 4 * n] * id);
            t[4] = 0;
            y[48 + j] = tq_pack(t);
        }
        iq_f2h(y + 52, d);
    }
}

/* TQ2_0 (66 bytes, 256 elements): qs[64] | d (fp16) at 64. Element 128c + 32l + m is
 * (qs[32c + m] >> 2l) & 3. */
KERN_DQ(tq2_0)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nblocks; i++, b += 66, dst += 256) {
        const float d = iq_h2f(b + 64);
        for (int c = 0; c < 2; c++)
            for (int l = 0; l < 4; l++)
                for (int m = 0; m < 32; m++)
                    dst[128 * c + 32 * l + m] = (float)(((b[32 * c + m] >> (2 * l)) & 3) - 1) * d;
    }
}

KERN_Q(tq2_0)
{
    (void)imatrix;
    uint8_t *y = dst;
    for (int64_t i = 0; i < n_per_row / QK_K; i++, src += QK_K, y += 66) {
        const float d = tq_amax(src);
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        for (int c = 0; c < 2; c++)
            for (int m = 0; m < 32; m++) {
                unsigned q = 0;
                for (int l = 0; l < 4; l++)
                    q |= (unsigned)tq_trit(src[128 * c + 32 * l + m] * id) << (2 * l);
                y[32 * c + m] = (uint8_t)q;
            }
        iq_f2h(y + 64, d);
    }
}

/* ---------------------------------------------------------------------------------------
 * IQ4_NL and IQ4_XS: 16 non-linear levels K = kern_kvalues_iq4nl.
 */

/* Index of the level nearest to v: 0 below K[0], 15 above K[15], else the bracketing pair
 * (lo, hi) decides with (v - K[lo]) < (K[hi] - v) ? lo : hi. NaN gives 15 (defined, harmless). */
static inline int iq4_best(float v)
{
    const int8_t *K = kern_kvalues_iq4nl;
    if (v <= K[0])
        return 0;
    if (!(v < K[15]))
        return 15;
    int lo = 0, hi = 15;
    while (hi - lo > 1) {
        const int mid = (lo + hi) / 2;
        if (v < K[mid])
            hi = mid;
        else
            lo = mid;
    }
    return v - K[lo] < K[hi] - v ? lo : hi;
}

/* IQ4_NL (18 bytes, 32 elements): d (fp16) | qs[16], byte j low nibble = element j, high =
 * element j+16. y = D * K[q]. */
KERN_DQ(iq4_nl)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nblocks; i++, b += 18, dst += 32) {
        const float d = iq_h2f(b);
        for (int j = 0; j < 16; j++) {
            dst[j] = d * (float)kern_kvalues_iq4nl[b[2 + j] & 0xf];
            dst[j + 16] = d * (float)kern_kvalues_iq4nl[b[2 + j] >> 4];
        }
    }
}

/* IQ4_XS (136 bytes, 256 elements): d (fp16) | scales_h (u16) | scales_l[4] | qs[128].
 * Block g (32 elements): ls = low nibble g%2 of scales_l[g/2] | bits 2g..2g+1 of scales_h << 4;
 * qs[16g ..] as IQ4_NL; y = (D * (ls - 32)) * K[q]. */
KERN_DQ(iq4_xs)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nblocks; i++, b += 136) {
        const float d = iq_h2f(b);
        const unsigned sh = qfi_load_le16(b + 2);
        for (int g = 0; g < 8; g++, dst += 32) {
            const int ls = ((b[4 + g / 2] >> (4 * (g % 2))) & 0xf) | (int)(((sh >> (2 * g)) & 3) << 4);
            const float dl = d * (float)(ls - 32);
            const uint8_t *q = b + 8 + 16 * g;
            for (int j = 0; j < 16; j++) {
                dst[j] = dl * (float)kern_kvalues_iq4nl[q[j] & 0xf];
                dst[j + 16] = dl * (float)kern_kvalues_iq4nl[q[j] >> 4];
            }
        }
    }
}

/* Best scale of one 32-element block (spec §7.11 steps 1-3, ntry = 7): codes into L, the
 * scale returned (0 for an all-zero block, whose L is left untouched). */
static float iq4_block(const float *x, const float *w, uint8_t *L)
{
    const int8_t *K = kern_kvalues_iq4nl;
    const int ntry = 7;
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 32; j++) {
        const float ax = fabsf(x[j]);
        if (ax > amax) {
            amax = ax;
            max = x[j];
        }
    }
    if (amax < 1e-15f)
        return 0.0f;
    float d = -max / (float)K[0];
    float id = 1 / d;
    float sumqx = 0, sumq2 = 0;
    for (int j = 0; j < 32; j++) {
        const int l = iq4_best(id * x[j]);
        L[j] = (uint8_t)l;
        const float q = (float)K[l];
        sumqx += w[j] * q * x[j];
        sumq2 += w[j] * q * q;
    }
    d = sumq2 > 0 ? sumqx / sumq2 : 0.0f;
    float best = d * sumqx;
    for (int t = -ntry; t <= ntry; t++) {
        id = (float)(t + K[0]) / max;
        sumqx = sumq2 = 0;
        for (int j = 0; j < 32; j++) {
            const float q = (float)K[iq4_best(id * x[j])];
            sumqx += w[j] * q * x[j];
            sumq2 += w[j] * q * q;
        }
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            d = sumqx / sumq2;
            best = d * sumqx;
        }
    }
    return d;
}

/* Importance weights of IQ4 blocks: x^2 without imatrix, else qw * sqrt(sigma2 + x^2) with
 * sigma2 = 2 * sum(x^2) / sb over the (super-)block of sb elements. */
static void iq4_weights(const float *x, const float *qw, float sigma2, float *w)
{
    for (int j = 0; j < 32; j++)
        w[j] = qw ? qw[j] * sqrtf(sigma2 + x[j] * x[j]) : x[j] * x[j];
}

static float iq4_sigma2(const float *x, int sb)
{
    float s = 0;
    for (int j = 0; j < sb; j++)
        s += x[j] * x[j];
    return s * (2.f / (float)sb);
}

static void iq4_pack(uint8_t *qs, const uint8_t *L)
{
    for (int j = 0; j < 16; j++)
        qs[j] = (uint8_t)(L[j] | L[j + 16] << 4);
}

KERN_Q(iq4_nl)
{
    uint8_t *y = dst;
    float w[32];
    uint8_t L[32];
    for (int64_t i = 0; i < n_per_row / 32; i++, src += 32, y += 18) {
        const float *qw = imatrix ? imatrix + 32 * i : NULL;
        iq4_weights(src, qw, qw ? iq4_sigma2(src, 32) : 0.0f, w);
        const float d = iq4_block(src, w, L);
        iq_f2h(y, d);
        /* re-quantize with the unrounded scale (also for an all-zero block: codes 8) */
        const float id = d != 0.0f ? 1 / d : 0.0f;
        for (int j = 0; j < 32; j++)
            L[j] = (uint8_t)iq4_best(id * src[j]);
        iq4_pack(y + 2, L);
    }
}

KERN_Q(iq4_xs)
{
    uint8_t *y = dst;
    float w[32], scales[8];
    uint8_t L[32];
    for (int64_t i = 0; i < n_per_row / QK_K; i++, src += QK_K, y += 136) {
        const float *qwb = imatrix ? imatrix + QK_K * i : NULL;
        const float sigma2 = qwb ? iq4_sigma2(src, QK_K) : 0.0f;
        float max_scale = 0, amax_scale = 0;
        for (int g = 0; g < 8; g++) {
            iq4_weights(src + 32 * g, qwb ? qwb + 32 * g : NULL, sigma2, w);
            scales[g] = iq4_block(src + 32 * g, w, L);
            const float ad = fabsf(scales[g]);
            if (ad > amax_scale) {
                amax_scale = ad;
                max_scale = scales[g];
            }
        }
        const float d = -max_scale / 32;
        iq_f2h(y, d);
        const float id = d != 0.0f ? 1 / d : 0.0f;
        unsigned sh = 0;
        memset(y + 4, 0, 4);
        for (int g = 0; g < 8; g++) {
            const int l = iq_clamp(iq_nint(id * scales[g]), -32, 31);
            const float dl = d * (float)l;
            const float idl = dl != 0.0f ? 1 / dl : 0.0f;
            const float *xb = src + 32 * g;
            for (int j = 0; j < 32; j++)
                L[j] = (uint8_t)iq4_best(idl * xb[j]);
            iq4_pack(y + 8 + 16 * g, L);
            const unsigned ls = (unsigned)(l + 32);
            y[4 + g / 2] |= (uint8_t)((ls & 0xf) << (4 * (g % 2)));
            sh |= (ls >> 4) << (2 * g);
        }
        qfi_store_le16(y + 2, (uint16_t)sh);
    }
}

/* ---------------------------------------------------------------------------------------
 * IQ2 / IQ3 / IQ1 dequantizers
 */

/* IQ2_XXS (66 bytes): d | 8 groups of 32 elements, each two u32 LE words a0 a1: byte l of a0
 * = grid index (kern_iq2xxs_grid) of 8-element sub-group l; a1 bits 7l..7l+6 its sign field
 * (expanded with parity by ksigns), bits 28..31 the scale s. db = (D*(0.5+s))*0.25,
 * y = (db*grid)*sign. */
KERN_DQ(iq2_xxs)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nblocks; i++, b += 66) {
        const float d = iq_h2f(b);
        for (int g = 0; g < 8; g++) {
            const uint32_t a0 = qfi_load_le32(b + 2 + 8 * g), a1 = qfi_load_le32(b + 6 + 8 * g);
            const float db = d * (0.5f + (float)(a1 >> 28)) * 0.25f;
            for (int l = 0; l < 4; l++, dst += 8) {
                const uint64_t e = kern_iq2xxs_grid[(a0 >> (8 * l)) & 0xff];
                const uint8_t s = kern_ksigns_iq2xs[(a1 >> (7 * l)) & 127];
                for (int j = 0; j < 8; j++)
                    dst[j] = db * (float)iq_gb(e, j) * (s & kern_kmask_iq2xs[j] ? -1.f : 1.f);
            }
        }
    }
}

/* IQ2_XS (74 bytes): d | qs[32] u16 LE: entry 4g+l = 9-bit grid index | 7-bit sign field << 9
 * | scales[8] at 66: byte g low nibble for sub-groups 0,1 of group g, high for 2,3. */
KERN_DQ(iq2_xs)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nblocks; i++, b += 74) {
        const float d = iq_h2f(b);
        for (int g = 0; g < 8; g++) {
            const float db[2] = {d * (0.5f + (float)(b[66 + g] & 0xf)) * 0.25f,
                                 d * (0.5f + (float)(b[66 + g] >> 4)) * 0.25f};
            for (int l = 0; l < 4; l++, dst += 8) {
                const unsigned q = qfi_load_le16(b + 2 + 2 * (4 * g + l));
                const uint64_t e = kern_iq2xs_grid[q & 511];
                const uint8_t s = kern_ksigns_iq2xs[q >> 9];
                for (int j = 0; j < 8; j++)
                    dst[j] = db[l / 2] * (float)iq_gb(e, j) * (s & kern_kmask_iq2xs[j] ? -1.f : 1.f);
            }
        }
    }
}

/* IQ2_S (82 bytes): d | qs[32] low index bits (byte 4g+l) | signs[32] full 8-bit masks |
 * qh[8]: byte g bits 2l..2l+1 = index bits 8..9 | scales[8] as IQ2_XS. Grid kern_iq2s_grid. */
KERN_DQ(iq2_s)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nblocks; i++, b += 82) {
        const float d = iq_h2f(b);
        for (int g = 0; g < 8; g++) {
            const float db[2] = {d * (0.5f + (float)(b[74 + g] & 0xf)) * 0.25f,
                                 d * (0.5f + (float)(b[74 + g] >> 4)) * 0.25f};
            for (int l = 0; l < 4; l++, dst += 8) {
                const unsigned idx = b[2 + 4 * g + l] | ((unsigned)(b[66 + g] >> (2 * l)) & 3) << 8;
                const uint64_t e = kern_iq2s_grid[idx];
                const uint8_t s = b[34 + 4 * g + l];
                for (int j = 0; j < 8; j++)
                    dst[j] = db[l / 2] * (float)iq_gb(e, j) * (s & kern_kmask_iq2xs[j] ? -1.f : 1.f);
            }
        }
    }
}

/* IQ3_XXS (98 bytes): d | qs[64]: 8 grid indices (kern_iq3xxs_grid, 4 values each) per group
 * | 8 u32 LE at 66, one per group: bits 7l.. sign field of sub-group l, bits 28..31 scale.
 * Sub-group l uses indices qs[8g+2l] (elements 0..3) and qs[8g+2l+1] (4..7).
 * db = (D*(0.5+s))*0.5. */
KERN_DQ(iq3_xxs)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nblocks; i++, b += 98) {
        const float d = iq_h2f(b);
        for (int g = 0; g < 8; g++) {
            const uint32_t a = qfi_load_le32(b + 66 + 4 * g);
            const float db = d * (0.5f + (float)(a >> 28)) * 0.5f;
            for (int l = 0; l < 4; l++, dst += 8) {
                const uint8_t s = kern_ksigns_iq2xs[(a >> (7 * l)) & 127];
                const uint32_t e1 = kern_iq3xxs_grid[b[2 + 8 * g + 2 * l]];
                const uint32_t e2 = kern_iq3xxs_grid[b[2 + 8 * g + 2 * l + 1]];
                for (int j = 0; j < 4; j++) {
                    dst[j] = db * (float)iq_gb(e1, j) * (s & kern_kmask_iq2xs[j] ? -1.f : 1.f);
                    dst[j + 4] = db * (float)iq_gb(e2, j) * (s & kern_kmask_iq2xs[j + 4] ? -1.f : 1.f);
                }
            }
        }
    }
}

/* IQ3_S (110 bytes): d | qs[64] low index bits, qs[8g+k] | qh[8]: byte g bit k = index bit 8
 * of qs[8g+k] | signs[32]: byte 4g+l = sign mask of sub-group l | scales[4]: byte p low
 * nibble = group 2p, high = 2p+1. db = D*(1+2s). Grid kern_iq3s_grid. */
KERN_DQ(iq3_s)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nblocks; i++, b += 110) {
        const float d = iq_h2f(b);
        for (int g = 0; g < 8; g++) {
            const int s4 = (b[106 + g / 2] >> (4 * (g % 2))) & 0xf;
            const float db = d * (float)(1 + 2 * s4);
            const unsigned qh = b[66 + g];
            for (int l = 0; l < 4; l++, dst += 8) {
                const uint32_t e1 = kern_iq3s_grid[b[2 + 8 * g + 2 * l] | ((qh >> (2 * l)) & 1) << 8];
                const uint32_t e2 = kern_iq3s_grid[b[2 + 8 * g + 2 * l + 1] | ((qh >> (2 * l + 1)) & 1) << 8];
                const uint8_t s = b[74 + 4 * g + l];
                for (int j = 0; j < 4; j++) {
                    dst[j] = db * (float)iq_gb(e1, j) * (s & kern_kmask_iq2xs[j] ? -1.f : 1.f);
                    dst[j + 4] = db * (float)iq_gb(e2, j) * (s & kern_kmask_iq2xs[j + 4] ? -1.f : 1.f);
                }
            }
        }
    }
}

#define IQ1_DELTA 0.125f

/* IQ1_S (50 bytes): d | qs[32] low index bits (byte 4g+l) | qh[8] u16 LE at 34: bits 3l..3l+2
 * = index bits 8..10 of sub-group l, bits 12..14 scale s, bit 15 shift sign.
 * dl = D*(2s+1), y = dl*(grid + delta), grid int8 in kern_iq1s_grid. */
KERN_DQ(iq1_s)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nblocks; i++, b += 50) {
        const float d = iq_h2f(b);
        for (int g = 0; g < 8; g++) {
            const unsigned qh = qfi_load_le16(b + 34 + 2 * g);
            const float dl = d * (float)(2 * ((qh >> 12) & 7) + 1);
            const float delta = qh & 0x8000 ? -IQ1_DELTA : IQ1_DELTA;
            for (int l = 0; l < 4; l++, dst += 8) {
                const uint64_t e = kern_iq1s_grid[b[2 + 4 * g + l] | ((qh >> (3 * l)) & 7) << 8];
                for (int j = 0; j < 8; j++)
                    dst[j] = dl * ((float)(int8_t)iq_gb(e, j) + delta);
            }
        }
    }
}

/* IQ1_M (56 bytes): qs[32] low index bits (byte 4g+k) | qh[16]: nibble k%2 of byte 2g+k/2
 * holds index bits 8..10 (bits 0..2) and the shift sign (bit 3) of 8-group k | scales: four
 * u16 LE w0..w3 at 48. The fp16 super-scale is (w0>>12) | (w1>>8 & 0xf0) | (w2>>4 & 0xf00) |
 * (w3 & 0xf000); group g uses w[g/2] >> 6(g%2): bits 0..2 scale of 8-groups 0,1, bits 3..5
 * of 8-groups 2,3. */
KERN_DQ(iq1_m)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nblocks; i++, b += 56) {
        unsigned w[4];
        for (int k = 0; k < 4; k++)
            w[k] = qfi_load_le16(b + 48 + 2 * k);
        const uint16_t h = (uint16_t)((w[0] >> 12) | ((w[1] >> 8) & 0x00f0) | ((w[2] >> 4) & 0x0f00) |
                                      (w[3] & 0xf000));
        const float d = kern_f16_to_f32(h);
        for (int g = 0; g < 8; g++) {
            const unsigned sc = w[g / 2] >> (6 * (g % 2));
            const float dl[2] = {d * (float)(2 * (sc & 7) + 1), d * (float)(2 * ((sc >> 3) & 7) + 1)};
            for (int k = 0; k < 4; k++, dst += 8) {
                const unsigned nib = (unsigned)(b[32 + 2 * g + k / 2] >> (4 * (k % 2))) & 0xf;
                const uint64_t e = kern_iq1s_grid[b[4 * g + k] | (nib & 7) << 8];
                const float delta = nib & 8 ? -IQ1_DELTA : IQ1_DELTA;
                for (int j = 0; j < 8; j++)
                    dst[j] = dl[k / 2] * ((float)(int8_t)iq_gb(e, j) + delta);
            }
        }
    }
}

/* ---------------------------------------------------------------------------------------
 * IQ1/IQ2/IQ3 quantizers (spec §7.12), following ggml's procedure:
 *  - work on |x| with the signs kept apart (IQ2/IQ3) and on idealised odd levels 2l+1;
 *  - try a range of inverse scales; a group whose rounded levels are not a grid pattern is
 *    replaced by the best of the pattern's precomputed neighbour list (kern_iqtab.c);
 *  - keep the trial with the largest (sum w x q)^2 / sum w q^2, refit, and store each block
 *    scale as a 4-bit (IQ2/IQ3) or 3-bit (IQ1) multiple of the super-block scale.
 * A grid search table that could not be allocated gives all-zero blocks (scale 0).
 */

/* sum over a super-block of x^2, in element order */
static float iq_sumx2(const float *x)
{
    float s = 0;
    for (int i = 0; i < QK_K; i++)
        s += x[i] * x[i];
    return s;
}

/* weights qw * sqrt(sigma2 + x^2); qw == NULL stands for all-ones importance */
static void iq_wimat(const float *x, const float *qw, float sigma2, float *w, int n)
{
    for (int i = 0; i < n; i++)
        w[i] = qw ? qw[i] * sqrtf(sigma2 + x[i] * x[i]) : sqrtf(sigma2 + x[i] * x[i]);
}

/* Pattern of n levels of `bits` bits each. */
static inline unsigned iq_pattern(const int8_t *L, int n, int bits)
{
    unsigned u = 0;
    for (int i = 0; i < n; i++)
        u |= (unsigned)L[i] << (bits * i);
    return u;
}

/* Grid index of pattern u, or -1 (with *list set to its neighbour list) when off the grid. */
static inline int iq_lookup(const struct kern_iqgrid *G, unsigned u, const uint16_t **list)
{
    const int32_t m = G->map[u & (G->map_size - 1)];
    if (m >= 0)
        return m;
    if (m == KERN_IQG_NOPATTERN) {   /* impossible for clamped levels; stay defined */
        *list = NULL;
        return -1;
    }
    *list = G->neigh + (-m - 1);
    return -1;
}

/* Levels (0..) of grid entry gi into L. */
static inline void iq_grid_levels(const struct kern_iqgrid *G, int gi, int8_t *L)
{
    const uint8_t *lv = G->levels + (size_t)gi * (size_t)G->group;
    for (int i = 0; i < G->group; i++)
        L[i] = (int8_t)((lv[i] - 1) / 2);
}

/* IQ2/IQ3: neighbour minimising sum w (scale q - x)^2 (strict <, list order); w = sqrt of the
 * weights. Levels of the winner into L, its index returned. */
static int iq_best_neighbour(const struct kern_iqgrid *G, const uint16_t *list, const float *xval,
                             const float *w, float scale, int8_t *L)
{
    int gi = -1;
    if (list) {
        float best_d2 = FLT_MAX;
        for (int j = 1; j <= list[0]; j++) {
            const uint8_t *lv = G->levels + (size_t)list[j] * (size_t)G->group;
            float d2 = 0;
            for (int i = 0; i < G->group; i++) {
                const float diff = scale * (float)lv[i] - xval[i];
                d2 += w[i] * diff * diff;
            }
            if (d2 < best_d2) {
                best_d2 = d2;
                gi = list[j];
            }
        }
        if (gi < 0)   /* every distance NaN or infinite: take the nearest pattern */
            gi = list[1];
    }
    if (gi < 0)
        gi = 0;
    iq_grid_levels(G, gi, L);
    return gi;
}

/* Levels of a group for inverse scale id: clamp(nint(0.5 (id x - 1)), 0, nl - 1). */
static inline void iq_levels(const float *xval, float id, int nl, int8_t *L, int n)
{
    for (int i = 0; i < n; i++)
        L[i] = (int8_t)iq_clamp(iq_nint(0.5f * (id * xval[i] - 1)), 0, nl - 1);
}

/* Put ngroups groups onto the grid: levels for inverse scale id, and for a group off the grid
 * its best neighbour at scale nscale (the reference passes 1/id while searching and the found
 * scale when refitting). Per-group on-grid flags into on (may be NULL). Levels are 0..2 for
 * the 2-bit grids (odd levels 1, 3, 5) and 0..7 for the 3-bit ones. */
static void iq_to_grid(const struct kern_iqgrid *G, const float *xval, const float *waux,
                       float id, float nscale, int ngroups, int8_t *L, int *on)
{
    const int n = G->group;
    for (int k = 0; k < ngroups; k++) {
        iq_levels(xval + n * k, id, G->bits == 2 ? 3 : 8, L + n * k, n);
        const uint16_t *list;
        const int gi = iq_lookup(G, iq_pattern(L + n * k, n, G->bits), &list);
        if (on)
            on[k] = gi >= 0;
        if (gi < 0)
            iq_best_neighbour(G, list, xval + n * k, waux + n * k, nscale, L + n * k);
    }
}

/* sum w x q and sum w q^2 with q = 2L + 1 */
static void iq_sums(const float *xval, const float *w, const int8_t *L, int n, float *sqx, float *sq2)
{
    float sumqx = 0, sumq2 = 0;
    for (int i = 0; i < n; i++) {
        const float q = (float)(2 * L[i] + 1);
        sumqx += w[i] * xval[i] * q;
        sumq2 += w[i] * q * q;
    }
    *sqx = sumqx;
    *sq2 = sumq2;
}

/* Signs of an 8-group for the parity-coded types: xval = |x|; with an odd number of
 * negatives the element of least w x^2 keeps its sign (xval negative) so the stored 7 bits
 * plus parity describe the group. Returns the 7-bit sign field. */
static unsigned iq_signs_parity(const float *x, const float *w, float *xval)
{
    unsigned s = 0;
    int nflip = 0;
    for (int i = 0; i < 8; i++) {
        if (x[i] >= 0)
            xval[i] = x[i];
        else {
            xval[i] = -x[i];
            nflip++;
            s |= 1u << i;
        }
    }
    if (nflip % 2) {
        int imin = 0;
        float min = w[0] * x[0] * x[0];
        for (int i = 1; i < 8; i++) {
            const float ax = w[i] * x[i] * x[i];
            if (ax < min) {
                min = ax;
                imin = i;
            }
        }
        xval[imin] = -xval[imin];
        s ^= 1u << imin;
    }
    return s & 127;
}

/* Full 8-bit sign mask, xval = |x| (IQ2_S, IQ3_S). */
static unsigned iq_signs_full(const float *x, float *xval)
{
    unsigned s = 0;
    for (int i = 0; i < 8; i++) {
        if (x[i] >= 0)
            xval[i] = x[i];
        else {
            xval[i] = -x[i];
            s |= 1u << i;
        }
    }
    return s;
}

static float iq_max_of(const float *v, int n)
{
    float m = v[0];
    for (int i = 1; i < n; i++)
        m = iq_fmax(m, v[i]);
    return m;
}

/* ggml's make_qp_quants(n, nmax, x, L, w): a positive-scale fit with levels 0..nmax, used
 * for the first IQ2_XXS scale. Levels are kept as uint8_t as the reference does (a negative
 * level wraps, which feeds back into its error sums; reproduced on purpose). */
static float iq_make_qp(int n, int nmax, const float *x, const float *w)
{
    uint8_t L[32];
    float max = 0;
    for (int i = 0; i < n; i++)
        max = iq_fmax(max, x[i]);
    if (max == 0)
        return 0.f;
    float iscale = (float)nmax / max;
    for (int i = 0; i < n; i++)
        L[i] = (uint8_t)iq_nint(iscale * x[i]);
    float scale = 1 / iscale;
    float best_mse = 0;
    for (int i = 0; i < n; i++) {
        const float diff = x[i] - scale * (float)L[i];
        best_mse += w[i] * diff * diff;
    }
    for (int is = -4; is <= 4; is++) {
        if (is == 0)
            continue;
        const float iscale_is = (0.1f * (float)is + (float)nmax) / max;
        const float scale_is = 1 / iscale_is;
        float mse = 0;
        for (int i = 0; i < n; i++) {
            const int l = iq_min(nmax, iq_nint(iscale_is * x[i]));
            const float diff = x[i] - scale_is * (float)l;
            mse += w[i] * diff * diff;
        }
        if (mse < best_mse) {
            best_mse = mse;
            iscale = iscale_is;
        }
    }
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        const int l = iq_min(nmax, iq_nint(iscale * x[i]));
        L[i] = (uint8_t)l;
        sumlx += w[i] * x[i] * (float)l;
        suml2 += w[i] * (float)l * (float)l;
    }
    for (int itry = 0; itry < 5; itry++) {
        int n_changed = 0;
        for (int i = 0; i < n; i++) {
            float slx = sumlx - w[i] * x[i] * (float)L[i];
            float sl2 = suml2 - w[i] * (float)L[i] * (float)L[i];
            if (slx > 0 && sl2 > 0) {
                const int new_l = iq_min(nmax, iq_nint(x[i] * sl2 / slx));
                if (new_l != L[i]) {
                    slx += w[i] * x[i] * (float)new_l;
                    sl2 += w[i] * (float)new_l * (float)new_l;
                    if (slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = (uint8_t)new_l;
                        sumlx = slx;
                        suml2 = sl2;
                        n_changed++;
                    }
                }
            }
        }
        if (!n_changed)
            break;
    }
    return sumlx / suml2;
}

/* 4-bit block-scale code of scale s against super-scale d (id = 1/d). */
static inline unsigned iq_scale4(float id, float s, int maxv)
{
    return (unsigned)iq_clamp(iq_nint(0.5f * (id * s - 1)), 0, maxv);
}

/* IQ2_XXS: 8 blocks of 32, each 4 groups from the 256-grid, parity signs, 4-bit scale. */
KERN_Q(iq2_xxs)
{
    const struct kern_iqgrid *G = kern_iqgrid_get(KERN_IQG_2XXS);
    uint8_t *y = dst;
    float weight[32], xval[32], waux[32], scales[8];
    int8_t L[32], Laux[32];
    for (int64_t ibl = 0; ibl < n_per_row / QK_K; ibl++, y += 66) {
        const float *xbl = src + QK_K * ibl;
        uint32_t q2[16] = {0};
        float max_scale = 0;
        const float sigma2 = iq_sumx2(xbl) / QK_K;
        for (int ib = 0; ib < 8; ib++) {
            const float *xb = xbl + 32 * ib;
            unsigned signs[4];
            scales[ib] = 0;
            iq_wimat(xb, imatrix ? imatrix + QK_K * ibl + 32 * ib : NULL, sigma2, weight, 32);
            for (int i = 0; i < 32; i++)
                waux[i] = sqrtf(weight[i]);
            for (int k = 0; k < 4; k++)
                signs[k] = iq_signs_parity(xb + 8 * k, weight + 8 * k, xval + 8 * k);
            if (!G || iq_max_of(xval, 32) < 1e-15f)
                continue;
            float scale = iq_make_qp(32, 4, xval, weight);
            const float eff_max = scale * 3;
            if (!(eff_max > 0))
                continue;
            float best = 0;
            memset(L, 0, sizeof L);
            for (int is = -6; is <= 6; is++) {
                const float id = (5 + (float)is * 0.1f) / eff_max;
                iq_to_grid(G, xval, waux, id, 1 / id, 4, Laux, NULL);
                float sumqx, sumq2;
                iq_sums(xval, weight, Laux, 32, &sumqx, &sumq2);
                if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                    scale = sumqx / sumq2;
                    best = scale * sumqx;
                    memcpy(L, Laux, 32);
                }
            }
            if (scale > 0) {
                iq_to_grid(G, xval, waux, 1 / scale, scale, 4, L, NULL);
                float sumqx, sumq2;
                iq_sums(xval, weight, L, 32, &sumqx, &sumq2);
                if (sumq2 > 0)
                    scale = sumqx / sumq2;
            }
            if (scale < 0) {   /* not expected; keep the stored scale non-negative */
                scale = -scale;
                for (int k = 0; k < 4; k++)
                    signs[k] = ~signs[k] & 127;
            }
            if (!(scale >= 0) || scale > FLT_MAX)
                continue;
            for (int k = 0; k < 4; k++) {
                const uint16_t *list;
                int gi = iq_lookup(G, iq_pattern(L + 8 * k, 8, 2), &list);
                if (gi < 0)
                    gi = 0;
                q2[2 * ib] |= (uint32_t)gi << (8 * k);
                q2[2 * ib + 1] |= signs[k] << (7 * k);
            }
            scales[ib] = scale;
            max_scale = iq_fmax(max_scale, scale);
        }
        memset(y, 0, 66);
        if (max_scale == 0)
            continue;
        const float d = max_scale / 31;
        iq_f2h(y, d);
        const float id = 1 / d;
        for (int ib = 0; ib < 8; ib++) {
            q2[2 * ib + 1] |= (uint32_t)iq_scale4(id, scales[ib], 15) << 28;
            qfi_store_le32(y + 2 + 8 * ib, q2[2 * ib]);
            qfi_store_le32(y + 6 + 8 * ib, q2[2 * ib + 1]);
        }
    }
}

/* The scale search shared by IQ2_XS, IQ2_S, IQ3_XXS and IQ3_S over one block of n values:
 * trials id = (kq + is*step)/max for is in [-ntry, ntry], starting from scale0 with every
 * group's on-grid flag init_on; then, if some group of the best trial was off the grid, the
 * off-grid groups (all groups with refit_all) are re-placed at the found scale and the scale
 * refitted. Levels into L; the scale returned. */
static float iq_search(const struct kern_iqgrid *G, const float *xval, const float *weight,
                       const float *waux, int n, float max, int kq, float step, int ntry,
                       int init_on, int refit_all, int8_t *L)
{
    const int gs = G->group, ngroups = n / gs;
    int8_t Laux[32];
    int on[8], on_aux[8];
    float best = 0, scale = max / (float)kq;
    memset(L, 0, (size_t)n);
    for (int k = 0; k < ngroups; k++)
        on[k] = init_on;
    for (int is = -ntry; is <= ntry; is++) {
        const float id = ((float)kq + (float)is * step) / max;
        iq_to_grid(G, xval, waux, id, 1 / id, ngroups, Laux, on_aux);
        float sumqx, sumq2;
        iq_sums(xval, weight, Laux, n, &sumqx, &sumq2);
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            scale = sumqx / sumq2;
            best = scale * sumqx;
            memcpy(L, Laux, (size_t)n);
            memcpy(on, on_aux, sizeof on);
        }
    }
    int n_off = 0;
    for (int k = 0; k < ngroups; k++)
        n_off += !on[k];
    if (n_off > 0 && scale > 0) {
        const float id = 1 / scale;
        for (int k = 0; k < ngroups; k++)
            if (refit_all || !on[k])
                iq_to_grid(G, xval + gs * k, waux + gs * k, id, scale, 1, L + gs * k, NULL);
        float sumqx, sumq2;
        iq_sums(xval, weight, L, n, &sumqx, &sumq2);
        if (sumq2 > 0)
            scale = sumqx / sumq2;
    }
    return scale;
}

/* Grid index of the levels of group L (index 0 if, impossibly, they are off the grid). */
static inline int iq_index(const struct kern_iqgrid *G, const int8_t *L)
{
    const uint16_t *list;
    const int gi = iq_lookup(G, iq_pattern(L, G->group, G->bits), &list);
    return gi < 0 ? 0 : gi;
}

/* A usable block scale: finite and >= 0 (NaN from degenerate weights is dropped). */
static inline int iq_scale_ok(float s)
{
    return s >= 0 && s <= FLT_MAX;
}

/* IQ2_XS: 16 blocks of 16 (two 8-groups from the 512-grid), parity signs, 4-bit scales. */
KERN_Q(iq2_xs)
{
    const struct kern_iqgrid *G = kern_iqgrid_get(KERN_IQG_2XS);
    uint8_t *y = dst;
    float weight[16], xval[16], waux[16], scales[16];
    int8_t L[16];
    for (int64_t ibl = 0; ibl < n_per_row / QK_K; ibl++, y += 74) {
        const float *xbl = src + QK_K * ibl;
        uint16_t q2[32] = {0};
        float max_scale = 0;
        const float sigma2 = iq_sumx2(xbl) / QK_K;
        for (int ib = 0; ib < 16; ib++) {
            const float *xb = xbl + 16 * ib;
            unsigned signs[2];
            scales[ib] = 0;
            iq_wimat(xb, imatrix ? imatrix + QK_K * ibl + 16 * ib : NULL, sigma2, weight, 16);
            for (int i = 0; i < 16; i++)
                waux[i] = sqrtf(weight[i]);
            for (int k = 0; k < 2; k++)
                signs[k] = iq_signs_parity(xb + 8 * k, weight + 8 * k, xval + 8 * k);
            const float max = iq_max_of(xval, 16);
            if (!G || max < 1e-15f)
                continue;
            float scale = iq_search(G, xval, weight, waux, 16, max, 5, 0.1f, 9, 1, 0, L);
            if (scale < 0) {
                scale = -scale;
                for (int k = 0; k < 2; k++)
                    signs[k] = ~signs[k] & 127;
            }
            if (!iq_scale_ok(scale))
                continue;
            for (int k = 0; k < 2; k++)
                q2[2 * ib + k] = (uint16_t)(iq_index(G, L + 8 * k) | signs[k] << 9);
            scales[ib] = scale;
            max_scale = iq_fmax(max_scale, scale);
        }
        memset(y, 0, 74);
        if (max_scale == 0)
            continue;
        const float d = max_scale / 31;
        iq_f2h(y, d);
        const float id = 1 / d;
        for (int ib = 0; ib < 16; ib++)
            y[66 + ib / 2] |= (uint8_t)(iq_scale4(id, scales[ib], 15) << (4 * (ib % 2)));
        for (int k = 0; k < 32; k++)
            qfi_store_le16(y + 2 + 2 * k, q2[k]);
    }
}

/* IQ2_S: 16 blocks of 16 from the 1024-grid, explicit 8-bit signs, 4-bit scales; weights
 * 0.25 sigma2 + x^2 without imatrix. */
KERN_Q(iq2_s)
{
    const struct kern_iqgrid *G = kern_iqgrid_get(KERN_IQG_2S);
    uint8_t *y = dst;
    float weight[16], xval[16], waux[16], scales[16];
    int8_t L[16];
    for (int64_t ibl = 0; ibl < n_per_row / QK_K; ibl++, y += 82) {
        const float *xbl = src + QK_K * ibl;
        float max_scale = 0;
        const float sigma2 = 2 * iq_sumx2(xbl) / QK_K;
        memset(y, 0, 82);
        for (int ib = 0; ib < 16; ib++) {
            const float *xb = xbl + 16 * ib;
            unsigned signs[2];
            scales[ib] = 0;
            if (imatrix)
                iq_wimat(xb, imatrix + QK_K * ibl + 16 * ib, sigma2, weight, 16);
            else
                for (int i = 0; i < 16; i++)
                    weight[i] = 0.25f * sigma2 + xb[i] * xb[i];
            for (int i = 0; i < 16; i++)
                waux[i] = sqrtf(weight[i]);
            for (int k = 0; k < 2; k++)
                signs[k] = iq_signs_full(xb + 8 * k, xval + 8 * k);
            const float max = iq_max_of(xval, 16);
            if (!G || max < 1e-8f)
                continue;
            float scale = iq_search(G, xval, weight, waux, 16, max, 5, 0.1f, 9, 1, 0, L);
            if (scale < 0) {
                scale = -scale;
                for (int k = 0; k < 2; k++)
                    signs[k] = ~signs[k] & 255;
            }
            if (!iq_scale_ok(scale))
                continue;
            for (int k = 0; k < 2; k++) {
                const int i8 = 2 * ib + k, gi = iq_index(G, L + 8 * k);
                y[2 + i8] = (uint8_t)(gi & 255);
                y[66 + i8 / 4] |= (uint8_t)((gi >> 8) << (2 * (i8 % 4)));
                y[34 + i8] = (uint8_t)signs[k];
            }
            scales[ib] = scale;
            max_scale = iq_fmax(max_scale, scale);
        }
        if (max_scale == 0)
            continue;
        const float d = max_scale / 31;
        iq_f2h(y, d * 0.9875f);
        const float id = 1 / d;
        for (int ib = 0; ib < 16; ib++)
            y[74 + ib / 2] |= (uint8_t)(iq_scale4(id, scales[ib], 15) << (4 * (ib % 2)));
    }
}

/* IQ3_XXS: 8 blocks of 32 = eight 4-groups from the 256-grid, parity signs per 8, 4-bit
 * scales; weights x^2 without imatrix. */
KERN_Q(iq3_xxs)
{
    const struct kern_iqgrid *G = kern_iqgrid_get(KERN_IQG_3XXS);
    uint8_t *y = dst;
    float weight[32], xval[32], waux[32], scales[8];
    int8_t L[32];
    for (int64_t ibl = 0; ibl < n_per_row / QK_K; ibl++, y += 98) {
        const float *xbl = src + QK_K * ibl;
        uint32_t ss[8] = {0};
        float max_scale = 0;
        const float sigma2 = 2 * iq_sumx2(xbl) / QK_K;
        memset(y, 0, 98);
        for (int ib = 0; ib < 8; ib++) {
            const float *xb = xbl + 32 * ib;
            unsigned signs[4];
            scales[ib] = 0;
            if (imatrix)
                iq_wimat(xb, imatrix + QK_K * ibl + 32 * ib, sigma2, weight, 32);
            else
                for (int i = 0; i < 32; i++)
                    weight[i] = xb[i] * xb[i];
            for (int i = 0; i < 32; i++)
                waux[i] = sqrtf(weight[i]);
            for (int k = 0; k < 4; k++)
                signs[k] = iq_signs_parity(xb + 8 * k, weight + 8 * k, xval + 8 * k);
            const float max = iq_max_of(xval, 32);
            if (!G || max < 1e-8f)
                continue;
            float scale = iq_search(G, xval, weight, waux, 32, max, 15, 0.2f, 15, 1, 0, L);
            if (scale < 0) {
                scale = -scale;
                for (int k = 0; k < 4; k++)
                    signs[k] = ~signs[k] & 127;
            }
            if (!iq_scale_ok(scale))
                continue;
            for (int k = 0; k < 8; k++)
                y[2 + 8 * ib + k] = (uint8_t)iq_index(G, L + 4 * k);
            ss[ib] = signs[0] | signs[1] << 7 | signs[2] << 14 | signs[3] << 21;
            scales[ib] = scale;
            max_scale = iq_fmax(max_scale, scale);
        }
        if (max_scale == 0) {
            memset(y, 0, 98);
            continue;
        }
        const float d = max_scale / 31;
        iq_f2h(y, d * 1.0125f);
        const float id = 1 / d;
        for (int ib = 0; ib < 8; ib++)
            qfi_store_le32(y + 66 + 4 * ib, ss[ib] | (uint32_t)iq_scale4(id, scales[ib], 15) << 28);
    }
}

/* IQ3_S: 8 blocks of 32 from the 512-grid, explicit 8-bit signs, 4-bit scales.
 *
 * Layout quirk reproduced from the reference: for a 32-block whose values are all exactly
 * zero, the reference skips the block without advancing its qs/signs output position, so
 * the following blocks' grid indices and sign bytes land one block early (while their qh
 * bits and scales stay in place) and the last slots stay zero. Files written by llama-quantize
 * have this layout, and so do ours (set IQ3S_REFERENCE_LAYOUT to 0 for the fixed layout). */
#ifndef IQ3S_REFERENCE_LAYOUT
#define IQ3S_REFERENCE_LAYOUT 1
#endif
KERN_Q(iq3_s)
{
    const struct kern_iqgrid *G = kern_iqgrid_get(KERN_IQG_3S);
    uint8_t *y = dst;
    float weight[32], xval[32], waux[32], scales[8];
    int8_t L[32];
    for (int64_t ibl = 0; ibl < n_per_row / QK_K; ibl++, y += 110) {
        const float *xbl = src + QK_K * ibl;
        float max_scale = 0;
        int qs_pos = 0, sg_pos = 0;
        const float sigma2 = 2 * iq_sumx2(xbl) / QK_K;
        memset(y, 0, 110);
        for (int ib = 0; ib < 8; ib++) {
            const float *xb = xbl + 32 * ib;
            unsigned signs[4];
            scales[ib] = 0;
            if (imatrix)
                iq_wimat(xb, imatrix + QK_K * ibl + 32 * ib, sigma2, weight, 32);
            else
                for (int i = 0; i < 32; i++)
                    weight[i] = xb[i] * xb[i];
            for (int i = 0; i < 32; i++)
                waux[i] = sqrtf(weight[i]);
            for (int k = 0; k < 4; k++)
                signs[k] = iq_signs_full(xb + 8 * k, xval + 8 * k);
            const float max = iq_max_of(xval, 32);
            if (!IQ3S_REFERENCE_LAYOUT && max == 0) {
                qs_pos += 8;
                sg_pos += 4;
            }
            if (!G || max == 0)
                continue;
            float scale = iq_search(G, xval, weight, waux, 32, max, 15, 0.2f, 9, 0, 1, L);
            if (scale < 0) {
                scale = -scale;
                for (int k = 0; k < 4; k++)
                    signs[k] = ~signs[k] & 255;
            }
            if (!iq_scale_ok(scale))
                scale = 0;
            for (int k = 0; k < 8; k++) {
                const int gi = iq_index(G, L + 4 * k);
                y[2 + qs_pos + k] = (uint8_t)(gi & 255);
                y[66 + ib] |= (uint8_t)((gi >> 8) << k);
            }
            for (int k = 0; k < 4; k++)
                y[74 + sg_pos + k] = (uint8_t)signs[k];
            qs_pos += 8;
            sg_pos += 4;
            scales[ib] = scale;
            max_scale = iq_fmax(max_scale, scale);
        }
        if (max_scale == 0)
            continue;
        const float d = max_scale / 31;
        iq_f2h(y, d * 1.033f);
        const float id = 1 / d;
        for (int ib = 0; ib < 8; ib += 2)
            y[106 + ib / 2] = (uint8_t)(iq_scale4(id, scales[ib], 15) | iq_scale4(id, scales[ib + 1], 15) << 4);
    }
}

/* ---------------------------------------------------------------------------------------
 * IQ1_S / IQ1_M: ternary groups of 8 from the 2048-grid plus a shift +-delta. The block's
 * values are sorted once; every split of the sorted order into (-1, 0, +1) runs is scored
 * exactly with prefix sums, for each shift sign (IQ1_M: for each of the 4 combinations of
 * the two 8-groups' shifts).
 */

/* Stable ascending order of x[0..n) into idx (ties keep index order, as the reference's
 * merge sort does). */
static void iq1_sort(const float *x, int n, int *idx)
{
    for (int i = 0; i < n; i++) {
        int j = i;
        while (j > 0 && x[idx[j - 1]] > x[i]) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = i;
    }
}

/* Neighbour of an off-grid ternary group minimising sum w (scale xx[l] - x)^2. */
static int iq1_best_neighbour(const struct kern_iqgrid *G, const uint16_t *list, const float *x,
                              const float *w, float scale, const float *xx, int8_t *L)
{
    int gi = -1;
    if (list) {
        float best = FLT_MAX;
        for (int j = 1; j <= list[0]; j++) {
            const uint8_t *lv = G->levels + (size_t)list[j] * 8;
            float d2 = 0;
            for (int i = 0; i < 8; i++) {
                const float q = xx[(lv[i] - 1) / 2];
                const float diff = scale * q - x[i];
                d2 += w[i] * diff * diff;
            }
            if (d2 < best) {
                best = d2;
                gi = list[j];
            }
        }
        if (gi < 0)
            gi = list[1];
    }
    if (gi < 0)
        gi = 0;
    iq_grid_levels(G, gi, L);
    return gi;
}

static const float iq1_xp[3] = {-1 + IQ1_DELTA, IQ1_DELTA, 1 + IQ1_DELTA};
static const float iq1_xm[3] = {-1 - IQ1_DELTA, -IQ1_DELTA, 1 - IQ1_DELTA};

/* Grid indices of the groups of L (off-grid groups replaced by their best neighbour under
 * shift table xx[k]); returns 1 if all groups were on the grid. */
static int iq1_to_grid(const struct kern_iqgrid *G, const float *xb, const float *w, float scale,
                       const float *const *xx, int ngroups, int8_t *L, int *index)
{
    int all_on = 1;
    for (int k = 0; k < ngroups; k++) {
        const uint16_t *list;
        int gi = iq_lookup(G, iq_pattern(L + 8 * k, 8, 2), &list);
        if (gi < 0) {
            all_on = 0;
            gi = iq1_best_neighbour(G, list, xb + 8 * k, w + 8 * k, scale, xx[k], L + 8 * k);
        }
        index[k] = gi;
    }
    return all_on;
}

/* Refit of the scale on the grid entries chosen: sum w q x / sum w q^2 if both positive. */
static float iq1_refit(const struct kern_iqgrid *G, const float *xb, const float *w,
                       const float *const *xx, int ngroups, const int *index, float scale)
{
    float sumqx = 0, sumq2 = 0;
    for (int k = 0; k < ngroups; k++) {
        const uint8_t *lv = G->levels + (size_t)index[k] * 8;
        for (int j = 0; j < 8; j++) {
            const float q = xx[k][(lv[j] - 1) / 2];
            sumqx += w[8 * k + j] * q * xb[8 * k + j];
            sumq2 += w[8 * k + j] * q * q;
        }
    }
    return sumqx > 0 && sumq2 > 0 ? sumqx / sumq2 : scale;
}

/* IQ1_S: 8 blocks of 32, one shift sign per block, 3-bit scales, super-scale *1.125. */
KERN_Q(iq1_s)
{
    const struct kern_iqgrid *G = kern_iqgrid_get(KERN_IQG_1S);
    uint8_t *y = dst;
    float weight[32], scales[8], sumx[33], sumw[33];
    int idx[32], index[4], shifts[8];
    int8_t L[32];
    for (int64_t ibl = 0; ibl < n_per_row / QK_K; ibl++, y += 50) {
        const float *xbl = src + QK_K * ibl;
        float max_scale = 0;
        const float sigma2 = 2 * iq_sumx2(xbl) / QK_K;
        memset(y, 0, 50);
        for (int ib = 0; ib < 8; ib++) {
            const float *xb = xbl + 32 * ib;
            scales[ib] = 0;
            shifts[ib] = 1;
            iq_wimat(xb, imatrix ? imatrix + QK_K * ibl + 32 * ib : NULL, sigma2, weight, 32);
            float max = fabsf(xb[0]);
            for (int i = 1; i < 32; i++)
                max = iq_fmax(max, fabsf(xb[i]));
            if (!G || max < 1e-12f)
                continue;
            iq1_sort(xb, 32, idx);
            sumx[0] = sumw[0] = 0;
            for (int j = 0; j < 32; j++) {
                const int i = idx[j];
                sumx[j + 1] = sumx[j] + weight[i] * xb[i];
                sumw[j + 1] = sumw[j] + weight[i];
            }
            float best_score = -FLT_MIN, scale = max;
            int besti1 = -1, besti2 = -1, best_shift = 0;
            for (int i1 = 0; i1 <= 32; i1++) {
                for (int i2 = i1; i2 <= 32; i2++) {
                    for (int sh = 0; sh < 2; sh++) {
                        const float *xx = sh ? iq1_xm : iq1_xp;
                        const float sumqx = (sumx[i1] - sumx[0]) * xx[0] + (sumx[i2] - sumx[i1]) * xx[1] +
                                            (sumx[32] - sumx[i2]) * xx[2];
                        const float sumq2 = (sumw[i1] - sumw[0]) * xx[0] * xx[0] +
                                            (sumw[i2] - sumw[i1]) * xx[1] * xx[1] +
                                            (sumw[32] - sumw[i2]) * xx[2] * xx[2];
                        if (sumq2 > 0 && sumqx * sumqx > best_score * sumq2) {
                            scale = sumqx / sumq2;
                            best_score = scale * sumqx;
                            besti1 = i1;
                            besti2 = i2;
                            best_shift = sh ? -1 : 1;
                        }
                    }
                }
            }
            if (besti1 < 0)
                continue;
            for (int j = 0; j < 32; j++)
                L[idx[j]] = (int8_t)(j < besti1 ? 0 : j < besti2 ? 1 : 2);
            if (scale < 0) {
                for (int j = 0; j < 32; j++)
                    L[j] = (int8_t)(2 - L[j]);
                scale = -scale;
                best_shift = -best_shift;
            }
            const float *xx = best_shift == 1 ? iq1_xp : iq1_xm;
            const float *const xxk[4] = {xx, xx, xx, xx};
            if (!iq1_to_grid(G, xb, weight, scale, xxk, 4, L, index))
                scale = iq1_refit(G, xb, weight, xxk, 4, index, scale);
            if (!iq_scale_ok(scale))
                continue;
            unsigned h = 0;
            for (int k = 0; k < 4; k++) {
                y[2 + 4 * ib + k] = (uint8_t)(index[k] & 255);
                h |= (unsigned)(index[k] >> 8) << (3 * k);
            }
            qfi_store_le16(y + 34 + 2 * ib, (uint16_t)h);
            scales[ib] = scale;
            shifts[ib] = best_shift;
            max_scale = iq_fmax(max_scale, scale);
        }
        if (max_scale == 0)
            continue;
        const float d = max_scale / 15;
        iq_f2h(y, d * 1.125f);
        const float id = 1 / d;
        for (int ib = 0; ib < 8; ib++) {
            unsigned l = iq_scale4(id, scales[ib], 7);
            if (shifts[ib] == -1)
                l |= 8;
            qfi_store_le16(y + 34 + 2 * ib, (uint16_t)(qfi_load_le16(y + 34 + 2 * ib) | l << 12));
        }
    }
}

/* IQ1_M: 16 blocks of 16 (two 8-groups, a shift sign each), 3-bit scales; the fp16
 * super-scale, refitted over the whole super-block and multiplied by 1.1125, is spread over
 * the top nibbles of the four scale words. Weights x^2 without imatrix. */
KERN_Q(iq1_m)
{
    static const uint8_t masks[4] = {0x00, 0x80, 0x08, 0x88};
    const struct kern_iqgrid *G = kern_iqgrid_get(KERN_IQG_1S);
    uint8_t *y = dst;
    float weight[16], scales[16];
    int idx[16], index[2], shifts[16];
    int8_t L[16];
    for (int64_t ibl = 0; ibl < n_per_row / QK_K; ibl++, y += 56) {
        const float *xbl = src + QK_K * ibl;
        const float *qwb = imatrix ? imatrix + QK_K * ibl : NULL;
        float max_scale = 0;
        const float sigma2 = 2 * iq_sumx2(xbl) / QK_K;
        unsigned sc[4] = {0, 0, 0, 0};
        memset(y, 0, 56);
        for (int ib = 0; ib < 16; ib++) {
            const float *xb = xbl + 16 * ib;
            scales[ib] = 0;
            shifts[ib] = 0;
            if (qwb)
                iq_wimat(xb, qwb + 16 * ib, sigma2, weight, 16);
            else
                for (int i = 0; i < 16; i++)
                    weight[i] = xb[i] * xb[i];
            float max = fabsf(xb[0]);
            for (int i = 1; i < 16; i++)
                max = iq_fmax(max, fabsf(xb[i]));
            if (!G || max < 1e-7f)
                continue;
            iq1_sort(xb, 16, idx);
            /* shift table of the first / second 8-group for combination k:
             * 0: +,+  1: +,-  2: -,+  3: -,- */
            float best_score = -FLT_MIN, scale = max;
            int besti1 = -1, besti2 = -1, best_k = -1;
            for (int i1 = 0; i1 <= 16; i1++) {
                for (int i2 = i1; i2 <= 16; i2++) {
                    float sumqx[4] = {0, 0, 0, 0}, sumq2[4] = {0, 0, 0, 0};
                    for (int j = 0; j < 16; j++) {
                        const int i = idx[j], lev = j < i1 ? 0 : j < i2 ? 1 : 2;
                        for (int k = 0; k < 4; k++) {
                            const int neg = i < 8 ? k >= 2 : k % 2;
                            const float q = (neg ? iq1_xm : iq1_xp)[lev];
                            sumqx[k] += weight[i] * q * xb[i];
                            sumq2[k] += weight[i] * q * q;
                        }
                    }
                    for (int k = 0; k < 4; k++) {
                        if (sumq2[k] > 0 && sumqx[k] * sumqx[k] > best_score * sumq2[k]) {
                            scale = sumqx[k] / sumq2[k];
                            best_score = scale * sumqx[k];
                            besti1 = i1;
                            besti2 = i2;
                            best_k = k;
                        }
                    }
                }
            }
            if (best_k < 0)
                continue;
            for (int j = 0; j < 16; j++)
                L[idx[j]] = (int8_t)(j < besti1 ? 0 : j < besti2 ? 1 : 2);
            if (scale < 0) {
                for (int j = 0; j < 16; j++)
                    L[j] = (int8_t)(2 - L[j]);
                scale = -scale;
                best_k = 3 - best_k;
            }
            const float *const xxk[2] = {best_k < 2 ? iq1_xp : iq1_xm, best_k % 2 == 0 ? iq1_xp : iq1_xm};
            if (!iq1_to_grid(G, xb, weight, scale, xxk, 2, L, index))
                scale = iq1_refit(G, xb, weight, xxk, 2, index, scale);
            if (!iq_scale_ok(scale))
                continue;
            y[2 * ib] = (uint8_t)(index[0] & 255);
            y[2 * ib + 1] = (uint8_t)(index[1] & 255);
            y[32 + ib] = (uint8_t)((index[0] >> 8) | (index[1] >> 8) << 4);
            scales[ib] = scale;
            shifts[ib] = best_k;
            max_scale = iq_fmax(max_scale, scale);
        }
        if (max_scale == 0)
            continue;
        float d = max_scale / 15;
        const float id = 1 / d;
        float sumqx = 0, sumq2 = 0;
        for (int ib = 0; ib < 16; ib++) {
            const int l = (int)iq_scale4(id, scales[ib], 7);
            sc[ib / 4] |= (unsigned)l << (3 * (ib % 4));
            y[32 + ib] |= masks[shifts[ib]];
            const float *xb = xbl + 16 * ib;
            if (qwb)
                iq_wimat(xb, qwb + 16 * ib, sigma2, weight, 16);
            else
                for (int i = 0; i < 16; i++)
                    weight[i] = xb[i] * xb[i];
            for (int k = 0; k < 2; k++) {
                const float *xx = (k == 0 ? shifts[ib] < 2 : shifts[ib] % 2 == 0) ? iq1_xp : iq1_xm;
                const unsigned gi = y[2 * ib + k] | (((unsigned)y[32 + ib] << (8 - 4 * k)) & 0x700);
                const uint8_t *lv = G->levels + (size_t)gi * 8;
                for (int j = 0; j < 8; j++) {
                    const float q = xx[(lv[j] - 1) / 2] * (float)(2 * l + 1);
                    sumqx += weight[8 * k + j] * q * xb[8 * k + j];
                    sumq2 += weight[8 * k + j] * q * q;
                }
            }
        }
        if (sumq2 > 0)
            d = sumqx / sumq2;
        const unsigned s = kern_f32_to_f16(d * 1.1125f);
        sc[0] |= (s & 0x000f) << 12;
        sc[1] |= (s & 0x00f0) << 8;
        sc[2] |= (s & 0x0f00) << 4;
        sc[3] |= (s & 0xf000);
        for (int k = 0; k < 4; k++)
            qfi_store_le16(y + 48 + 2 * k, (uint16_t)sc[k]);
    }
}
