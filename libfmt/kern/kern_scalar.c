/* kern_scalar.c - scalar reference kernels for plain, legacy (Q4_0..Q8_1), K-quant and FP8 types.
 *
 * This file is the specification the SIMD tables are tested against. It follows the reference
 * quantizers of ggml (spec: ggml-types.md §2, §4, §5.1-5.7, §6, §9) operation by operation:
 * every float expression is evaluated in float32, in the order written, one rounding per
 * operation (the build uses -ffp-contract=off, and products and sums are written as separate
 * statements where the order matters), sums accumulate in element order starting from 0.
 * Quantized bytes therefore equal those of an x86-64 llama-quantize built without FMA
 * contraction, including the importance-matrix (imatrix) variants.
 *
 * Pinned-down corner cases (the reference leaves them to the compiler / C undefined behaviour):
 *  - float -> small int casts are done as x86's cvttss2si (kern_cvtt_i32) followed by taking
 *    the low bits, which is what the x86-64 reference build does;
 *  - fp16 -> f32 quiets signalling NaNs (sets the top mantissa bit, keeps the payload), as the
 *    reference's multiply-based conversion and the F16C instruction do;
 *  - Q8_K blocks of all zeros get zero bsums (the reference leaves them unwritten).
 *
 * All multi-byte fields are little-endian; blocks are packed with no padding.
 */
#include "kern/kern.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "qf_int.h"

#define QK_K 256
#define GROUP_EPS 1e-15f

static inline uint32_t f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline float load_f16(const uint8_t *p)
{
    return kern_f16_to_f32(qfi_load_le16(p));
}

static inline void store_f16(uint8_t *p, float f)
{
    qfi_store_le16(p, kern_f32_to_f16(f));
}

static inline int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* =======================================================================================
 * Scalar conversions (spec §2)
 */

/* IEEE binary16 -> binary32, exact. NaNs keep sign and payload with the quiet bit set. */
float kern_f16_to_f32(uint16_t h)
{
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1Fu;
    const uint32_t man = h & 0x3FFu;
    if (exp == 0x1F)
        return u2f(sign | 0x7F800000u | (man << 13) | (man ? 0x00400000u : 0));
    if (exp == 0) {
        /* zero or subnormal: man * 2^-24, exact in float32 */
        float v = (float)man * 0x1p-24f;
        return u2f(sign | f2u(v));
    }
    return u2f(sign | ((exp + 112u) << 23) | (man << 13));
}

/* binary32 -> binary16, round to nearest even, gradual underflow, overflow to Inf,
 * NaN -> sign | 0x7E00 (payload dropped). */
uint16_t kern_f32_to_f16(float f)
{
    const uint32_t u = f2u(f);
    const uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    const uint32_t a = u & 0x7FFFFFFFu;
    if (a > 0x7F800000u)
        return sign | 0x7E00u;
    if (a >= 0x477FF000u) /* >= 65520: rounds to Inf (65520 is a tie that goes to the even Inf) */
        return sign | 0x7C00u;
    if (a >= 0x38800000u) { /* >= 2^-14: normal binary16 */
        uint32_t r = a - 0x38000000u; /* rebias the exponent from 127 to 15 */
        r += 0x0FFFu + ((r >> 13) & 1u);
        return (uint16_t)(sign | (r >> 13));
    }
    if (a < 0x33000000u) /* < 2^-25: rounds to zero */
        return sign;
    /* subnormal binary16: count units of 2^-24 */
    const uint32_t e = a >> 23;                  /* 102..112 */
    const uint32_t m = (a & 0x7FFFFFu) | 0x800000u;
    const uint32_t shift = 126u - e;             /* 14..24 */
    uint32_t q = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (q & 1u)))
        q++;
    return (uint16_t)(sign | q);
}

float kern_bf16_to_f32(uint16_t h)
{
    return u2f((uint32_t)h << 16);
}

/* binary32 -> bfloat16: NaN keeps sign and top payload and is forced quiet; everything else
 * rounds to nearest even (overflow goes to Inf, subnormals are kept). */
uint16_t kern_f32_to_bf16(float f)
{
    const uint32_t u = f2u(f);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u)
        return (uint16_t)((u >> 16) | 0x0040u);
    return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

/* =======================================================================================
 * Plain types (spec §4): one element per "block", little-endian, no header.
 */
KERN_DQ(f32)
{
    const uint8_t *s = src;
    for (size_t i = 0; i < nblocks; i++)
        dst[i] = u2f(qfi_load_le32(s + 4 * i));
}

KERN_Q(f32)
{
    (void)imatrix;
    uint8_t *d = dst;
    for (int64_t i = 0; i < n_per_row; i++)
        qfi_store_le32(d + 4 * i, f2u(src[i]));
}

KERN_DQ(f16)
{
    const uint8_t *s = src;
    for (size_t i = 0; i < nblocks; i++)
        dst[i] = kern_f16_to_f32(qfi_load_le16(s + 2 * i));
}

KERN_Q(f16)
{
    (void)imatrix;
    uint8_t *d = dst;
    for (int64_t i = 0; i < n_per_row; i++)
        qfi_store_le16(d + 2 * i, kern_f32_to_f16(src[i]));
}

KERN_DQ(bf16)
{
    const uint8_t *s = src;
    for (size_t i = 0; i < nblocks; i++)
        dst[i] = kern_bf16_to_f32(qfi_load_le16(s + 2 * i));
}

KERN_Q(bf16)
{
    (void)imatrix;
    uint8_t *d = dst;
    for (int64_t i = 0; i < n_per_row; i++)
        qfi_store_le16(d + 2 * i, kern_f32_to_bf16(src[i]));
}

/* Wider and integer types convert with C's rules (round to nearest even, NaN stays NaN,
 * out-of-range doubles become Inf). */
KERN_DQ(f64)
{
    const uint8_t *s = src;
    for (size_t i = 0; i < nblocks; i++) {
        uint64_t u = qfi_load_le64(s + 8 * i);
        double v;
        memcpy(&v, &u, sizeof v);
        dst[i] = (float)v;
    }
}

KERN_DQ(i8)
{
    const uint8_t *s = src;
    for (size_t i = 0; i < nblocks; i++)
        dst[i] = (float)kern_low_s8(s[i]);
}

KERN_DQ(i16)
{
    const uint8_t *s = src;
    for (size_t i = 0; i < nblocks; i++) {
        int32_t v = qfi_load_le16(s + 2 * i);
        dst[i] = (float)(v >= 32768 ? v - 65536 : v);
    }
}

KERN_DQ(i32)
{
    const uint8_t *s = src;
    for (size_t i = 0; i < nblocks; i++) {
        uint32_t u = qfi_load_le32(s + 4 * i);
        int64_t v = u >= 0x80000000u ? (int64_t)u - 0x100000000LL : (int64_t)u;
        dst[i] = (float)v;
    }
}

KERN_DQ(i64)
{
    const uint8_t *s = src;
    for (size_t i = 0; i < nblocks; i++) {
        uint64_t u = qfi_load_le64(s + 8 * i);
        int64_t v;
        memcpy(&v, &u, sizeof v); /* two's complement reinterpretation */
        dst[i] = (float)v;
    }
}

void kern_dq_u8(const void *restrict src, float *restrict dst, size_t n)
{
    const uint8_t *s = src;
    for (size_t i = 0; i < n; i++)
        dst[i] = (float)s[i];
}

void kern_dq_bool(const void *restrict src, float *restrict dst, size_t n)
{
    const uint8_t *s = src;
    for (size_t i = 0; i < n; i++)
        dst[i] = s[i] ? 1.0f : 0.0f;
}

void kern_dq_u16(const void *restrict src, float *restrict dst, size_t n)
{
    const uint8_t *s = src;
    for (size_t i = 0; i < n; i++)
        dst[i] = (float)qfi_load_le16(s + 2 * i);
}

void kern_dq_u32(const void *restrict src, float *restrict dst, size_t n)
{
    const uint8_t *s = src;
    for (size_t i = 0; i < n; i++)
        dst[i] = (float)qfi_load_le32(s + 4 * i);
}

void kern_dq_u64(const void *restrict src, float *restrict dst, size_t n)
{
    const uint8_t *s = src;
    for (size_t i = 0; i < n; i++)
        dst[i] = (float)qfi_load_le64(s + 8 * i);
}

/* =======================================================================================
 * FP8 code books (bnb-compressed-mlx.md §d): one element per byte. NaN encodings decode to a
 * quiet NaN of the same sign.
 */

/* E4M3FN: S.EEEE.MMM, bias 7, no Inf, S.1111.111 = NaN, max 448. */
KERN_DQ(f8_e4m3)
{
    const uint8_t *s = src;
    for (size_t i = 0; i < nblocks; i++) {
        const uint32_t b = s[i], sign = (b & 0x80u) << 24, e = (b >> 3) & 0xFu, m = b & 7u;
        if (e == 15 && m == 7)
            dst[i] = u2f(sign | 0x7FC00000u);
        else if (e == 0)
            dst[i] = u2f(sign | f2u((float)m * 0x1p-9f));
        else
            dst[i] = u2f(sign | ((e + 120u) << 23) | (m << 20));
    }
}

/* E5M2: the upper byte of a binary16. */
KERN_DQ(f8_e5m2)
{
    const uint8_t *s = src;
    for (size_t i = 0; i < nblocks; i++)
        dst[i] = kern_f16_to_f32((uint16_t)(s[i] << 8));
}

/* E8M0 (MX scale): 2^(e-127), e = 0 gives the float32 subnormal 2^-127, 0xFF = NaN. */
KERN_DQ(f8_e8m0)
{
    const uint8_t *s = src;
    for (size_t i = 0; i < nblocks; i++) {
        const uint32_t e = s[i];
        dst[i] = e == 0xFF ? u2f(0x7FC00000u) : e == 0 ? u2f(0x00400000u) : u2f(e << 23);
    }
}

/* E4M3FNUZ: bias 8, no Inf, no -0; 0x80 is the only NaN; max 240. */
KERN_DQ(f8_e4m3fnuz)
{
    const uint8_t *s = src;
    for (size_t i = 0; i < nblocks; i++) {
        const uint32_t b = s[i], sign = (b & 0x80u) << 24, e = (b >> 3) & 0xFu, m = b & 7u;
        if (b == 0x80)
            dst[i] = u2f(0x7FC00000u);
        else if (e == 0)
            dst[i] = u2f(sign | f2u((float)m * 0x1p-10f));
        else
            dst[i] = u2f(sign | ((e + 119u) << 23) | (m << 20));
    }
}

/* E5M2FNUZ: bias 16, no Inf, no -0; 0x80 is the only NaN; max 57344. */
KERN_DQ(f8_e5m2fnuz)
{
    const uint8_t *s = src;
    for (size_t i = 0; i < nblocks; i++) {
        const uint32_t b = s[i], sign = (b & 0x80u) << 24, e = (b >> 2) & 0x1Fu, m = b & 3u;
        if (b == 0x80)
            dst[i] = u2f(0x7FC00000u);
        else if (e == 0)
            dst[i] = u2f(sign | f2u((float)m * 0x1p-17f));
        else
            dst[i] = u2f(sign | ((e + 111u) << 23) | (m << 21));
    }
}

/* =======================================================================================
 * Legacy block types (spec §5). D = fp16 scale, M = fp16 min.
 */

/* Q4_0, 18 bytes / 32 elements:
 *   [0..1]  d  fp16
 *   [2..17] qs byte j: low nibble = code of element j, high nibble = code of element j+16
 *   y = (q - 8) * D */
KERN_DQ(q4_0)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nblocks; i++, b += 18, dst += 32) {
        const float d = load_f16(b);
        for (int j = 0; j < 16; j++) {
            dst[j] = (float)((b[2 + j] & 0x0F) - 8) * d;
            dst[j + 16] = (float)((b[2 + j] >> 4) - 8) * d;
        }
    }
}

/* Largest-magnitude value with its sign, first occurrence wins, NaNs never win. */
static float signed_absmax(const float *x, int n)
{
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++) {
        const float a = fabsf(x[j]);
        if (amax < a) {
            amax = a;
            max = x[j];
        }
    }
    return max;
}

/* Shared body of the Q4_0 / Q5_0 reference: d = max / -nmax, code = min(2nmax-1,
 * (int8)(x*id + nmax+0.5)). Codes are returned as the reference holds them in a uint8_t. */
static float sym_codes_ref(const float *x, int nmax, uint8_t q[32])
{
    const float max = signed_absmax(x, 32);
    const float d = max / (float)-nmax;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const float bias = (float)nmax + 0.5f;
    for (int j = 0; j < 32; j++) {
        float t = x[j] * id;
        t = t + bias;
        int v = kern_low_s8(kern_cvtt_i32(t));
        if (v > 2 * nmax - 1)
            v = 2 * nmax - 1;
        q[j] = (uint8_t)v;
    }
    return d;
}

static void q4_0_row_ref(const float *x, uint8_t *y, int64_t nb)
{
    uint8_t q[32];
    for (int64_t i = 0; i < nb; i++, x += 32, y += 18) {
        store_f16(y, sym_codes_ref(x, 8, q));
        /* no masking: an out-of-range code would spill into the high nibble, as in ggml */
        for (int j = 0; j < 16; j++)
            y[2 + j] = (uint8_t)(q[j] | (q[j + 16] << 4));
    }
}

/* Asymmetric min/max of a 32-block; NaNs never win. */
static void minmax32(const float *x, float *pmin, float *pmax)
{
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < 32; j++) {
        const float v = x[j];
        if (v < min)
            min = v;
        if (v > max)
            max = v;
    }
    *pmin = min;
    *pmax = max;
}

/* ----- weighted fits shared by the imatrix and K-quant paths (spec §6.2) ----- */

/* QX (make_qx_quants, rmse mode 1): symmetric levels in [-nmax, nmax-1], codes l + nmax in L.
 * Weights qw, or x^2 when qw is NULL. */
static float fit_qx(int n, int nmax, const float *x, int8_t *L, const float *qw)
{
    float max = 0.0f, amax = 0.0f;
    for (int i = 0; i < n; i++) {
        const float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < GROUP_EPS) {
        for (int i = 0; i < n; i++)
            L[i] = 0;
        return 0.0f;
    }
    float iscale = (float)-nmax / max;
    float sumlx = 0.0f, suml2 = 0.0f;
    for (int i = 0; i < n; i++) {
        const int l = clampi(kern_nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)(l + nmax);
        const float w = qw ? qw[i] : x[i] * x[i];
        float t = w * x[i];
        t = t * (float)l;
        sumlx = sumlx + t;
        t = w * (float)l;
        t = t * (float)l;
        suml2 = suml2 + t;
    }
    float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    int8_t Lt[64];
    for (int is = -9; is <= 9; is++) {
        if (is == 0)
            continue;
        float num = 0.1f * (float)is;
        num = (float)nmax + num;
        iscale = -num / max;
        sumlx = suml2 = 0.0f;
        for (int i = 0; i < n; i++) {
            const int l = clampi(kern_nearest_int(iscale * x[i]), -nmax, nmax - 1);
            Lt[i] = (int8_t)(l + nmax);
            const float w = qw ? qw[i] : x[i] * x[i];
            float t = w * x[i];
            t = t * (float)l;
            sumlx = sumlx + t;
            t = w * (float)l;
            t = t * (float)l;
            suml2 = suml2 + t;
        }
        if (suml2 > 0.0f && sumlx * sumlx > best * suml2) {
            memcpy(L, Lt, (size_t)n);
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* Q3S (make_q3_quants with rmse): n values, levels [-nmax, nmax-1], weights x^2, then up to 5
 * coordinate-descent passes. Codes l + nmax in L (all 0 for an all-zero group). */
static float fit_q3(int n, int nmax, const float *x, int8_t *L)
{
    float max = 0.0f, amax = 0.0f;
    for (int i = 0; i < n; i++) {
        const float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < GROUP_EPS) {
        for (int i = 0; i < n; i++)
            L[i] = 0;
        return 0.0f;
    }
    const float iscale = (float)-nmax / max;
    float sumlx = 0.0f, suml2 = 0.0f;
    for (int i = 0; i < n; i++) {
        const int l = clampi(kern_nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)l;
        const float w = x[i] * x[i];
        float t = w * x[i];
        t = t * (float)l;
        sumlx = sumlx + t;
        t = w * (float)l;
        t = t * (float)l;
        suml2 = suml2 + t;
    }
    for (int itry = 0; itry < 5; itry++) {
        int n_changed = 0;
        for (int i = 0; i < n; i++) {
            const float w = x[i] * x[i];
            const float wx = w * x[i];
            float slx = sumlx - wx * (float)L[i];
            if (slx > 0.0f) {
                float t = w * (float)L[i];
                t = t * (float)L[i];
                float sl2 = suml2 - t;
                float r = x[i] * sl2;
                r = r / slx;
                const int nl = clampi(kern_nearest_int(r), -nmax, nmax - 1);
                if (nl != L[i]) {
                    slx = slx + wx * (float)nl;
                    t = w * (float)nl;
                    t = t * (float)nl;
                    sl2 = sl2 + t;
                    float lhs = slx * slx;
                    lhs = lhs * suml2;
                    float rhs = sumlx * sumlx;
                    rhs = rhs * sl2;
                    if (sl2 > 0.0f && lhs > rhs) {
                        L[i] = (int8_t)nl;
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
    for (int i = 0; i < n; i++)
        L[i] = (int8_t)(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* QKX2 / QKX3 (make_qkx2_quants / make_qkx3_quants with weights): weighted affine fit
 * x ~ scale*L + mn, L in [0, nmax], mn <= 0. Returns scale, *the_min = -mn. use_mad selects
 * absolute instead of squared error. The degenerate test differs between the two reference
 * functions (max == min vs max <= min) but they agree on every input: after mn is clamped to
 * <= 0, max < mn is impossible, and NaN makes both tests false. */
static float fit_qkx(int n, int nmax, const float *x, const float *w, uint8_t *L,
                     float *the_min, float rmin, float rdelta, int nstep, int use_mad)
{
    float min = x[0], max = x[0];
    float sum_w = w[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min)
            min = x[i];
        if (x[i] > max)
            max = x[i];
        sum_w = sum_w + w[i];
        sum_x = sum_x + w[i] * x[i];
    }
    if (min > 0.0f)
        min = 0.0f;
    if (max <= min) {
        memset(L, 0, (size_t)n);
        *the_min = -min;
        return 0.0f;
    }
    float iscale = (float)nmax / (max - min);
    float scale = 1.0f / iscale;
    float best = 0.0f;
    for (int i = 0; i < n; i++) {
        const int l = kern_nearest_int(iscale * (x[i] - min));
        L[i] = (uint8_t)clampi(l, 0, nmax);
        float diff = scale * (float)L[i];
        diff = diff + min;
        diff = diff - x[i];
        diff = use_mad ? fabsf(diff) : diff * diff;
        best = best + w[i] * diff;
    }
    uint8_t Laux[32];
    for (int is = 0; is <= nstep; is++) {
        float num = rdelta * (float)is;
        num = rmin + num;
        num = num + (float)nmax;
        iscale = num / (max - min);
        float sum_l = 0.0f, sum_l2 = 0.0f, sum_xl = 0.0f;
        for (int i = 0; i < n; i++) {
            const int l = clampi(kern_nearest_int(iscale * (x[i] - min)), 0, nmax);
            Laux[i] = (uint8_t)l;
            const float wl = w[i] * (float)l;
            sum_l = sum_l + wl;
            sum_l2 = sum_l2 + wl * (float)l;
            sum_xl = sum_xl + wl * x[i];
        }
        float D = sum_w * sum_l2;
        D = D - sum_l * sum_l;
        if (D > 0.0f) {
            float a = sum_w * sum_xl;
            a = a - sum_x * sum_l;
            float this_scale = a / D;
            float b = sum_l2 * sum_x;
            b = b - sum_l * sum_xl;
            float this_min = b / D;
            if (this_min > 0.0f) {
                this_min = 0.0f;
                this_scale = sum_xl / sum_l2;
            }
            float cur = 0.0f;
            for (int i = 0; i < n; i++) {
                float diff = this_scale * (float)Laux[i];
                diff = diff + this_min;
                diff = diff - x[i];
                diff = use_mad ? fabsf(diff) : diff * diff;
                cur = cur + w[i] * diff;
            }
            if (cur < best) {
                memcpy(L, Laux, (size_t)n);
                best = cur;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

/* QP (make_qp_quants): non-negative values v quantized to L in [0, nmax] with weights qw.
 * L is uint8_t as in the reference, so negative levels wrap. Returns the fitted scale. */
static float fit_qp(int n, int nmax, const float *v, uint8_t *L, const float *qw)
{
    float max = 0.0f;
    for (int i = 0; i < n; i++)
        max = max > v[i] ? max : v[i];
    if (max < GROUP_EPS) {
        for (int i = 0; i < n; i++)
            L[i] = 0;
        return 0.0f;
    }
    float iscale = (float)nmax / max;
    for (int i = 0; i < n; i++)
        L[i] = (uint8_t)kern_nearest_int(iscale * v[i]);
    const float scale = 1.0f / iscale;
    float best_mse = 0.0f;
    for (int i = 0; i < n; i++) {
        const float diff = v[i] - scale * (float)L[i];
        float t = qw[i] * diff;
        best_mse = best_mse + t * diff;
    }
    for (int is = -4; is <= 4; is++) {
        if (is == 0)
            continue;
        float num = 0.1f * (float)is;
        num = num + (float)nmax;
        const float iscale_is = num / max;
        const float scale_is = 1.0f / iscale_is;
        float mse = 0.0f;
        for (int i = 0; i < n; i++) {
            int l = kern_nearest_int(iscale_is * v[i]);
            if (l > nmax)
                l = nmax;
            const float diff = v[i] - scale_is * (float)l;
            float t = qw[i] * diff;
            mse = mse + t * diff;
        }
        if (mse < best_mse) {
            best_mse = mse;
            iscale = iscale_is;
        }
    }
    float sumlx = 0.0f, suml2 = 0.0f;
    for (int i = 0; i < n; i++) {
        int l = kern_nearest_int(iscale * v[i]);
        if (l > nmax)
            l = nmax;
        L[i] = (uint8_t)l;
        float t = qw[i] * v[i];
        sumlx = sumlx + t * (float)l;
        t = qw[i] * (float)l;
        suml2 = suml2 + t * (float)l;
    }
    for (int itry = 0; itry < 5; itry++) {
        int n_changed = 0;
        for (int i = 0; i < n; i++) {
            const float w = qw[i];
            const float wx = w * v[i];
            float slx = sumlx - wx * (float)L[i];
            float t = w * (float)L[i];
            float sl2 = suml2 - t * (float)L[i];
            if (slx > 0.0f && sl2 > 0.0f) {
                float r = v[i] * sl2;
                int nl = kern_nearest_int(r / slx);
                if (nl > nmax)
                    nl = nmax;
                if (nl != L[i]) {
                    slx = slx + wx * (float)nl;
                    t = w * (float)nl;
                    sl2 = sl2 + t * (float)nl;
                    float lhs = slx * slx;
                    lhs = lhs * suml2;
                    float rhs = sumlx * sumlx;
                    rhs = rhs * sl2;
                    if (lhs > rhs) {
                        L[i] = (uint8_t)nl;
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
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* Row statistic of the imatrix paths: sum of x^2 over n values, in order. */
static float sum_sq(const float *x, int64_t n)
{
    float s = 0.0f;
    for (int64_t j = 0; j < n; j++)
        s = s + x[j] * x[j];
    return s;
}

/* Importance weights w_i = qw_i * sqrt(sigma2 + x_i^2) (spec §5.7, §6.8). */
static void imatrix_weights(const float *x, const float *qw, float sigma2, float *w, int n)
{
    for (int j = 0; j < n; j++) {
        float t = x[j] * x[j];
        t = sigma2 + t;
        w[j] = qw[j] * sqrtf(t);
    }
}

KERN_Q(q4_0)
{
    uint8_t *y = dst;
    const int64_t nb = n_per_row / 32;
    if (!imatrix) {
        q4_0_row_ref(src, y, nb);
        return;
    }
    const float sigma2 = sum_sq(src, n_per_row) / (float)n_per_row;
    float w[32];
    int8_t L[32];
    for (int64_t ib = 0; ib < nb; ib++) {
        const float *xb = src + 32 * ib;
        imatrix_weights(xb, imatrix + 32 * ib, sigma2, w, 32);
        store_f16(y + 18 * ib, fit_qx(32, 8, xb, L, w));
        for (int j = 0; j < 16; j++)
            y[18 * ib + 2 + j] = (uint8_t)(L[j] | (L[j + 16] << 4));
    }
}

/* Q4_1, 20 bytes / 32 elements:
 *   [0..1] d fp16, [2..3] m fp16, [4..19] qs (nibbles as Q4_0)
 *   y = q * D + M */
KERN_DQ(q4_1)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nblocks; i++, b += 20, dst += 32) {
        const float d = load_f16(b), m = load_f16(b + 2);
        for (int j = 0; j < 16; j++) {
            float v0 = (float)(b[4 + j] & 0x0F) * d;
            float v1 = (float)(b[4 + j] >> 4) * d;
            dst[j] = v0 + m;
            dst[j + 16] = v1 + m;
        }
    }
}

/* Shared body of the Q4_1 / Q5_1 reference: d = (max - min)/nmax, code = trunc((x-min)*id+0.5)
 * (Q4_1 clamps the int8 to 15, Q5_1 takes the low byte unclamped). */
static void asym_codes_ref(const float *x, int nmax, int clamp, uint8_t *yd, uint8_t *ym,
                           uint8_t q[32])
{
    float min, max;
    minmax32(x, &min, &max);
    const float d = (max - min) / (float)nmax;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_f16(yd, d);
    store_f16(ym, min);
    for (int j = 0; j < 32; j++) {
        float t = x[j] - min;
        t = t * id;
        t = t + 0.5f;
        int v = kern_cvtt_i32(t);
        if (clamp) {
            v = kern_low_s8(v);
            if (v > nmax)
                v = nmax;
        }
        q[j] = (uint8_t)((uint32_t)v & 0xFF);
    }
}

/* Affine imatrix fit of Q4_1 / Q5_1: QKX3 with (rmin, rdelta, nstep) = (-0.9, 0.05, 36). */
static void asym_codes_imatrix(const float *xb, const float *qw, float sigma2, int nmax,
                               uint8_t *yd, uint8_t *ym, uint8_t L[32])
{
    float w[32], min;
    imatrix_weights(xb, qw, sigma2, w, 32);
    const float d = fit_qkx(32, nmax, xb, w, L, &min, -0.9f, 0.05f, 36, 0);
    store_f16(yd, d);
    store_f16(ym, -min);
}

KERN_Q(q4_1)
{
    uint8_t *y = dst;
    const int64_t nb = n_per_row / 32;
    const float sigma2 = imatrix ? sum_sq(src, n_per_row) / (float)n_per_row : 0.0f;
    uint8_t q[32];
    for (int64_t ib = 0; ib < nb; ib++, y += 20) {
        const float *xb = src + 32 * ib;
        if (imatrix)
            asym_codes_imatrix(xb, imatrix + 32 * ib, sigma2, 15, y, y + 2, q);
        else
            asym_codes_ref(xb, 15, 1, y, y + 2, q);
        for (int j = 0; j < 16; j++)
            y[4 + j] = (uint8_t)(q[j] | (q[j + 16] << 4));
    }
}

/* Q5_0, 22 bytes / 32 elements:
 *   [0..1] d fp16, [2..5] qh u32 LE: bit j = bit 4 of the code of element j,
 *   [6..21] qs: low nibble = low 4 bits of element j, high nibble = element j+16
 *   y = (q - 16) * D */
KERN_DQ(q5_0)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nblocks; i++, b += 22, dst += 32) {
        const float d = load_f16(b);
        const uint32_t qh = qfi_load_le32(b + 2);
        for (int j = 0; j < 16; j++) {
            const int q0 = (b[6 + j] & 0x0F) | (int)(((qh >> j) & 1u) << 4);
            const int q1 = (b[6 + j] >> 4) | (int)(((qh >> (j + 16)) & 1u) << 4);
            dst[j] = (float)(q0 - 16) * d;
            dst[j + 16] = (float)(q1 - 16) * d;
        }
    }
}

/* Pack 32 five-bit codes (Q5_0 / Q5_1): qh then qs. */
static void pack_q5(const uint8_t q[32], uint8_t *qh, uint8_t *qs)
{
    uint32_t h = 0;
    for (int j = 0; j < 16; j++) {
        qs[j] = (uint8_t)((q[j] & 0x0F) | ((q[j + 16] & 0x0F) << 4));
        h |= ((q[j] & 0x10u) >> 4) << j;
        h |= ((q[j + 16] & 0x10u) >> 4) << (j + 16);
    }
    qfi_store_le32(qh, h);
}

KERN_Q(q5_0)
{
    uint8_t *y = dst;
    const int64_t nb = n_per_row / 32;
    const float sigma2 = imatrix ? sum_sq(src, n_per_row) / (float)n_per_row : 0.0f;
    uint8_t q[32];
    float w[32];
    int8_t L[32];
    for (int64_t ib = 0; ib < nb; ib++, y += 22) {
        const float *xb = src + 32 * ib;
        if (imatrix) {
            imatrix_weights(xb, imatrix + 32 * ib, sigma2, w, 32);
            store_f16(y, fit_qx(32, 16, xb, L, w));
            for (int j = 0; j < 32; j++)
                q[j] = (uint8_t)L[j];
        } else {
            store_f16(y, sym_codes_ref(xb, 16, q));
        }
        pack_q5(q, y + 2, y + 6);
    }
}

/* Q5_1, 24 bytes / 32 elements:
 *   [0..1] d fp16, [2..3] m fp16, [4..7] qh u32 LE, [8..23] qs (as Q5_0)
 *   y = q * D + M */
KERN_DQ(q5_1)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nblocks; i++, b += 24, dst += 32) {
        const float d = load_f16(b), m = load_f16(b + 2);
        const uint32_t qh = qfi_load_le32(b + 4);
        for (int j = 0; j < 16; j++) {
            const int q0 = (b[8 + j] & 0x0F) | (int)(((qh >> j) & 1u) << 4);
            const int q1 = (b[8 + j] >> 4) | (int)(((qh >> (j + 16)) & 1u) << 4);
            float v0 = (float)q0 * d;
            float v1 = (float)q1 * d;
            dst[j] = v0 + m;
            dst[j + 16] = v1 + m;
        }
    }
}

KERN_Q(q5_1)
{
    uint8_t *y = dst;
    const int64_t nb = n_per_row / 32;
    const float sigma2 = imatrix ? sum_sq(src, n_per_row) / (float)n_per_row : 0.0f;
    uint8_t q[32];
    for (int64_t ib = 0; ib < nb; ib++, y += 24) {
        const float *xb = src + 32 * ib;
        if (imatrix)
            asym_codes_imatrix(xb, imatrix + 32 * ib, sigma2, 31, y, y + 2, q);
        else
            asym_codes_ref(xb, 31, 0, y, y + 2, q);
        pack_q5(q, y + 4, y + 8);
    }
}

/* Q8_0, 34 bytes / 32 elements: [0..1] d fp16, [2..33] qs int8.  y = qs * D.
 * Quantize: amax = max |x| (as MAX(amax, |x|): a NaN is kept only if it is the last element),
 * d = amax/127, qs = roundf(x * id). The imatrix is ignored. */
KERN_DQ(q8_0)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nblocks; i++, b += 34, dst += 32) {
        const float d = load_f16(b);
        for (int j = 0; j < 32; j++)
            dst[j] = (float)kern_low_s8(b[2 + j]) * d;
    }
}

/* Shared by Q8_0 and Q8_1: returns the unrounded d, writes the 32 codes. */
static float q8_codes(const float *x, int8_t q[32])
{
    float amax = 0.0f;
    for (int j = 0; j < 32; j++) {
        const float a = fabsf(x[j]);
        amax = amax > a ? amax : a;
    }
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < 32; j++)
        q[j] = (int8_t)kern_low_s8(kern_cvtt_i32(roundf(x[j] * id)));
    return d;
}

KERN_Q(q8_0)
{
    (void)imatrix;
    uint8_t *y = dst;
    int8_t q[32];
    for (int64_t ib = 0; ib < n_per_row / 32; ib++, y += 34) {
        store_f16(y, q8_codes(src + 32 * ib, q));
        memcpy(y + 2, q, 32);
    }
}

/* Q8_1, 36 bytes / 32 elements: [0..1] d fp16, [2..3] s fp16 = d * sum(qs), [4..35] qs int8.
 * An intermediate type of ggml's dot products; y = qs * D. */
KERN_DQ(q8_1)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nblocks; i++, b += 36, dst += 32) {
        const float d = load_f16(b);
        for (int j = 0; j < 32; j++)
            dst[j] = (float)kern_low_s8(b[4 + j]) * d;
    }
}

KERN_Q(q8_1)
{
    (void)imatrix;
    uint8_t *y = dst;
    int8_t q[32];
    for (int64_t ib = 0; ib < n_per_row / 32; ib++, y += 36) {
        const float d = q8_codes(src + 32 * ib, q);
        int sum = 0;
        for (int j = 0; j < 32; j++)
            sum += q[j];
        store_f16(y, d);
        store_f16(y + 2, (float)sum * d);
        memcpy(y + 4, q, 32);
    }
}

/* =======================================================================================
 * K-quants (spec §6): super-blocks of 256 elements.
 */

/* Pack 2-bit codes L[256] (values 0..3) as Q2_K / Q3_K do: element 128h + 32s + l goes to
 * bits 2s..2s+1 of qs[32h + l]. */
static void pack_2bit(const uint8_t *L, uint8_t *qs)
{
    for (int j = 0; j < QK_K; j += 128)
        for (int l = 0; l < 32; l++)
            qs[j / 4 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
                                      (L[j + l + 96] << 6));
}

/* Q2_K, 84 bytes / 256 elements:
 *   [0..15]  scales: sub-block k (16 elements) low nibble = scale code, high nibble = min code
 *   [16..79] qs: 2-bit codes, element 128h + 32s + l at bits 2s of qs[32h + l]
 *   [80..81] d fp16 (scale of scales), [82..83] dmin fp16 (scale of mins)
 *   y = (D * sc_k) * q - Dmin * m_k */
KERN_DQ(q2_K)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nblocks; i++, b += 84) {
        const float d = load_f16(b + 80), dmin = load_f16(b + 82);
        const uint8_t *q = b + 16;
        int is = 0;
        for (int n = 0; n < QK_K; n += 128, q += 32) {
            for (int s = 0; s < 4; s++) {
                for (int half = 0; half < 2; half++) {
                    const uint8_t sc = b[is++];
                    const float dl = d * (float)(sc & 0xF), ml = dmin * (float)(sc >> 4);
                    for (int l = 0; l < 16; l++) {
                        const float v = dl * (float)((q[16 * half + l] >> (2 * s)) & 3);
                        *dst++ = v - ml;
                    }
                }
            }
        }
    }
}

/* Re-quantization of Q2_K with the stored (rounded) scales; sub-blocks whose scale decodes to 0
 * keep their codes from the fit. */
static void q2_K_requant(const float *x, const uint8_t *sc, float dm, float mm, uint8_t *L)
{
    for (int j = 0; j < 16; j++) {
        const float d = dm * (float)(sc[j] & 0xF);
        if (d == 0.0f)
            continue;
        const float m = mm * (float)(sc[j] >> 4);
        for (int ii = 0; ii < 16; ii++) {
            float t = x[16 * j + ii] + m;
            L[16 * j + ii] = (uint8_t)clampi(kern_nearest_int(t / d), 0, 3);
        }
    }
}

/* Scale/min codes of a Q2_K block from its 16 sub-block fits: scales, d, dmin.
 * sw NULL: reference rule (max/15); else QP weighted by sw (imatrix path). */
void kern_q2_K_scales(const float *scales, const float *mins, const float *sw, uint8_t *y)
{
    uint8_t *sc = y;
    if (sw) {
        uint8_t Ls[16], Lm[16];
        const float dm = fit_qp(16, 15, scales, Ls, sw);
        const float mm = fit_qp(16, 15, mins, Lm, sw);
        store_f16(y + 80, dm);
        store_f16(y + 82, mm);
        for (int j = 0; j < 16; j++)
            sc[j] = (uint8_t)(Ls[j] | (Lm[j] << 4));
    } else {
        float max_scale = 0.0f, max_min = 0.0f;
        for (int j = 0; j < 16; j++) {
            if (scales[j] > max_scale)
                max_scale = scales[j];
            if (mins[j] > max_min)
                max_min = mins[j];
        }
        if (max_scale > 0.0f) {
            const float iscale = 15.0f / max_scale;
            for (int j = 0; j < 16; j++)
                sc[j] = (uint8_t)kern_nearest_int(iscale * scales[j]);
            store_f16(y + 80, max_scale / 15.0f);
        } else {
            memset(sc, 0, 16);
            store_f16(y + 80, 0.0f);
        }
        if (max_min > 0.0f) {
            const float iscale = 15.0f / max_min;
            for (int j = 0; j < 16; j++)
                sc[j] = (uint8_t)(sc[j] | ((uint32_t)kern_nearest_int(iscale * mins[j]) << 4));
            store_f16(y + 82, max_min / 15.0f);
        } else {
            store_f16(y + 82, 0.0f);
        }
    }
}

void kern_q2_K_pack(const uint8_t *L, uint8_t *y)
{
    pack_2bit(L, y + 16);
}

void kern_q2_K_finish(const float *x, const float *scales, const float *mins, const float *sw,
                      uint8_t *L, uint8_t *y)
{
    kern_q2_K_scales(scales, mins, sw, y);
    q2_K_requant(x, y, load_f16(y + 80), load_f16(y + 82), L);
    kern_q2_K_pack(L, y);
}

/* Sub-block fits of Q2_K: reference QKX2(16, 3) with w = |x|, absolute error; imatrix QKX3
 * with w = qw * sqrt(sum x^2 / 256 + x^2). */
static void q2_K_block(const float *x, const float *qw, uint8_t *y)
{
    uint8_t L[QK_K];
    float w[16], sw[16], mins[16], scales[16];
    const float sigma2 = qw ? sum_sq(x, QK_K) / (float)QK_K : 0.0f;
    for (int j = 0; j < 16; j++) {
        if (qw) {
            imatrix_weights(x + 16 * j, qw + 16 * j, sigma2, w, 16);
            float s = 0.0f;
            for (int l = 0; l < 16; l++)
                s = s + w[l];
            sw[j] = s;
            scales[j] = fit_qkx(16, 3, x + 16 * j, w, L + 16 * j, &mins[j], -0.9f, 0.05f, 36, 0);
        } else {
            for (int l = 0; l < 16; l++)
                w[l] = fabsf(x[16 * j + l]);
            scales[j] = fit_qkx(16, 3, x + 16 * j, w, L + 16 * j, &mins[j], -0.5f, 0.1f, 15, 1);
        }
    }
    kern_q2_K_finish(x, scales, mins, qw ? sw : NULL, L, y);
}

KERN_Q(q2_K)
{
    uint8_t *y = dst;
    for (int64_t i = 0; i < n_per_row / QK_K; i++)
        q2_K_block(src + QK_K * i, imatrix ? imatrix + QK_K * i : NULL, y + 84 * i);
}

/* Q3_K, 110 bytes / 256 elements:
 *   [0..31]    hmask: bit (e div 32) of hmask[e mod 32] = high bit of the code of element e
 *   [32..95]   qs: low 2 bits, packed as Q2_K
 *   [96..107]  scales: 16 six-bit scales biased by 32; scale j has its low nibble in byte j
 *              (j < 8, low) or byte j-8 (high nibble), its top 2 bits at bit 2(j div 4) of
 *              byte 8 + j mod 4
 *   [108..109] d fp16
 *   y = (D * (sc_j - 32)) * (low - (high bit ? 0 : 4)) */
static int q3_K_scale(const uint8_t *s, int j)
{
    int lo = j < 8 ? (s[j] & 0xF) : (s[j - 8] >> 4);
    int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (lo | (hi << 4)) - 32;
}

KERN_DQ(q3_K)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nblocks; i++, b += 110) {
        const float d = load_f16(b + 108);
        const uint8_t *hm = b, *q = b + 32;
        int is = 0;
        unsigned m = 1;
        for (int n = 0; n < QK_K; n += 128, q += 32) {
            for (int s = 0; s < 4; s++, m <<= 1) {
                for (int half = 0; half < 2; half++) {
                    const float dl = d * (float)q3_K_scale(b + 96, is++);
                    for (int l = 0; l < 16; l++) {
                        const int k = 16 * half + l;
                        const int v = ((q[k] >> (2 * s)) & 3) - ((hm[k] & m) ? 0 : 4);
                        *dst++ = dl * (float)v;
                    }
                }
            }
        }
    }
}

/* Pack a 6-bit code l (0..63) as scale j of Q3_K (scales zeroed beforehand). */
static void q3_K_put_scale(uint8_t *s, int j, int l)
{
    if (j < 8)
        s[j] = (uint8_t)(l & 0xF);
    else
        s[j - 8] = (uint8_t)(s[j - 8] | ((l & 0xF) << 4));
    l >>= 4;
    s[8 + j % 4] = (uint8_t)(s[8 + j % 4] | (l << (2 * (j / 4))));
}

/* Scale codes and d of a Q3_K block from its 16 sub-block fits. sw NULL: reference rule
 * (scale of largest magnitude / -32); else QX(16 scales, nmax 32) weighted by sw. */
void kern_q3_K_scales(const float *scales, const float *sw, uint8_t *y)
{
    memset(y + 96, 0, 12);
    if (sw) {
        int8_t Ls[16];
        const float d_block = fit_qx(16, 32, scales, Ls, sw);
        for (int j = 0; j < 16; j++)
            q3_K_put_scale(y + 96, j, Ls[j]);
        store_f16(y + 108, d_block);
    } else {
        float max_scale = 0.0f, amax = 0.0f;
        for (int j = 0; j < 16; j++) {
            const float a = fabsf(scales[j]);
            if (a > amax) {
                amax = a;
                max_scale = scales[j];
            }
        }
        if (max_scale != 0.0f) {
            const float iscale = -32.0f / max_scale;
            for (int j = 0; j < 16; j++) {
                int l = kern_low_s8(kern_nearest_int(iscale * scales[j]));
                l = clampi(l, -32, 31) + 32;
                q3_K_put_scale(y + 96, j, l);
            }
            store_f16(y + 108, 1.0f / iscale);
        } else {
            store_f16(y + 108, 0.0f);
        }
    }
}

/* High bits into hmask, low 2 bits into qs, from codes 0..7 (the reference tests code > 3 and
 * subtracts 4: for codes 0..7 that is bit 2, and the rest is bits 0-1). */
void kern_q3_K_pack(const int8_t *L, uint8_t *y)
{
    uint8_t *hm = y, *qs = y + 32;
    for (int l = 0; l < 32; l++) {
        unsigned h = 0;
        for (int k = 0; k < 8; k++)
            h |= (unsigned)((L[32 * k + l] >> 2) & 1) << k;
        hm[l] = (uint8_t)h;
    }
    for (int j = 0; j < QK_K; j += 128)
        for (int l = 0; l < 32; l++)
            qs[j / 4 + l] = (uint8_t)((L[j + l] & 3) | ((L[j + l + 32] & 3) << 2) |
                                      ((L[j + l + 64] & 3) << 4) | ((L[j + l + 96] & 3) << 6));
}

/* Scale codes, re-quantization (sub-blocks whose stored scale is 0 keep their fitted codes)
 * and packing of a Q3_K block from its fits. */
void kern_q3_K_finish(const float *x, const float *scales, const float *sw, int8_t *L,
                      uint8_t *y)
{
    kern_q3_K_scales(scales, sw, y);
    const float d_all = load_f16(y + 108);
    for (int j = 0; j < 16; j++) {
        const float d = d_all * (float)q3_K_scale(y + 96, j);
        if (d == 0.0f)
            continue;
        for (int ii = 0; ii < 16; ii++)
            L[16 * j + ii] = (int8_t)(clampi(kern_nearest_int(x[16 * j + ii] / d), -4, 3) + 4);
    }
    kern_q3_K_pack(L, y);
}

/* Sub-block fits of Q3_K: reference Q3S(16, 4); imatrix QX(16, 4) with
 * w = qw * sqrt(2 sum x^2 / 256 + x^2). */
static void q3_K_block(const float *x, const float *qw, uint8_t *y)
{
    int8_t L[QK_K];
    float scales[16], w[16], sw[16];
    float sigma2 = 0.0f;
    if (qw) {
        sigma2 = 2.0f * sum_sq(x, QK_K);
        sigma2 = sigma2 / (float)QK_K;
    }
    for (int j = 0; j < 16; j++) {
        if (qw) {
            imatrix_weights(x + 16 * j, qw + 16 * j, sigma2, w, 16);
            float s = 0.0f;
            for (int l = 0; l < 16; l++)
                s = s + w[l];
            sw[j] = s;
            scales[j] = fit_qx(16, 4, x + 16 * j, L + 16 * j, w);
        } else {
            scales[j] = fit_q3(16, 4, x + 16 * j, L + 16 * j);
        }
    }
    kern_q3_K_finish(x, scales, qw ? sw : NULL, L, y);
}

KERN_Q(q3_K)
{
    uint8_t *y = dst;
    for (int64_t i = 0; i < n_per_row / QK_K; i++)
        q3_K_block(src + QK_K * i, imatrix ? imatrix + QK_K * i : NULL, y + 110 * i);
}

/* The 12-byte scale/min block of Q4_K and Q5_K (spec §6.1): 8 pairs of 6-bit values.
 *   j < 4:  sc = b[j] & 63, m = b[j+4] & 63
 *   j >= 4: sc = (b[j+4] & 15) | (b[j-4] >> 6) << 4, m = (b[j+4] >> 4) | (b[j] >> 6) << 4 */
static void k4_get_scale_min(const uint8_t *b, int j, int *sc, int *m)
{
    if (j < 4) {
        *sc = b[j] & 63;
        *m = b[j + 4] & 63;
    } else {
        *sc = (b[j + 4] & 0xF) | ((b[j - 4] >> 6) << 4);
        *m = (b[j + 4] >> 4) | ((b[j] >> 6) << 4);
    }
}

/* Set pair j, in order j = 0..7, exactly as the reference does (values are bytes; bits above
 * 6 of an out-of-range value spill the way they do there). */
static void k4_put_scale_min(uint8_t *b, int j, uint8_t ls, uint8_t lm)
{
    if (j < 4) {
        b[j] = ls;
        b[j + 4] = lm;
    } else {
        b[j + 4] = (uint8_t)((ls & 0xF) | ((lm & 0xF) << 4));
        b[j - 4] = (uint8_t)(b[j - 4] | ((ls >> 4) << 6));
        b[j] = (uint8_t)(b[j] | ((lm >> 4) << 6));
    }
}

/* Q4_K, 144 bytes / 256 elements:
 *   [0..1] d fp16, [2..3] dmin fp16, [4..15] scales (k4 pairs), [16..143] qs
 *   element 64c + 32t + l: q = (qs[32c + l] >> 4t) & 15, sub-block j = 2c + t
 *   y = (D * sc_j) * q - Dmin * m_j */
KERN_DQ(q4_K)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nblocks; i++, b += 144) {
        const float d = load_f16(b), dmin = load_f16(b + 2);
        const uint8_t *q = b + 16;
        for (int c = 0; c < 4; c++, q += 32) {
            for (int t = 0; t < 2; t++) {
                int sc, m;
                k4_get_scale_min(b + 4, 2 * c + t, &sc, &m);
                const float d1 = d * (float)sc, m1 = dmin * (float)m;
                for (int l = 0; l < 32; l++) {
                    const float v = d1 * (float)((q[l] >> (4 * t)) & 0xF);
                    *dst++ = v - m1;
                }
            }
        }
    }
}

/* Sub-block fit of Q4_K / Q5_K without imatrix: w_i = sqrt(sum x^2 / 32) + |x_i|. */
static float k45_fit_ref(const float *x, int nmax, float rmin, int nstep, uint8_t *L,
                         float *min)
{
    float w[32];
    float sum_x2 = 0.0f;
    for (int l = 0; l < 32; l++)
        sum_x2 = sum_x2 + x[l] * x[l];
    const float av_x = sqrtf(sum_x2 / 32.0f);
    for (int l = 0; l < 32; l++)
        w[l] = av_x + fabsf(x[l]);
    return fit_qkx(32, nmax, x, w, L, min, rmin, 0.1f, nstep, 0);
}

/* Imatrix sub-block fits of Q4_K/Q5_K: sigma2 = 2 sum x^2 / 256, QKX3. */
static void k45_fit_imatrix(const float *x, const float *qw, int nmax, uint8_t *L,
                            float *scales, float *mins, float *sw)
{
    float sigma2 = 2.0f * sum_sq(x, QK_K);
    sigma2 = sigma2 / (float)QK_K;
    float w[32];
    for (int j = 0; j < 8; j++) {
        imatrix_weights(x + 32 * j, qw + 32 * j, sigma2, w, 32);
        float s = 0.0f;
        for (int l = 0; l < 32; l++)
            s = s + w[l];
        sw[j] = s;
        scales[j] = fit_qkx(32, nmax, x + 32 * j, w, L + 32 * j, &mins[j], -0.9f, 0.05f, 36, 0);
    }
}

/* Scale/min codes, d and dmin of a Q4_K (nmax 15) or Q5_K (nmax 31) block from its 8
 * sub-block fits. sw NULL: reference rule (max/63); else QP(8, 63) weighted by sw, with the
 * extra MIN(63, .) that the reference applies to Q5_K only. */
void kern_q45_K_scales(int nmax, const float *scales, const float *mins, const float *sw,
                       uint8_t *y)
{
    uint8_t *ysc = y + 4;
    if (sw) {
        uint8_t Ls[8], Lm[8];
        const float d_block = fit_qp(8, 63, scales, Ls, sw);
        const float m_block = fit_qp(8, 63, mins, Lm, sw);
        for (int j = 0; j < 8; j++) {
            uint8_t ls = Ls[j], lm = Lm[j];
            if (nmax == 31) {
                if (ls > 63)
                    ls = 63;
                if (lm > 63)
                    lm = 63;
            }
            k4_put_scale_min(ysc, j, ls, lm);
        }
        store_f16(y, d_block);
        store_f16(y + 2, m_block);
    } else {
        float max_scale = 0.0f, max_min = 0.0f;
        for (int j = 0; j < 8; j++) {
            if (scales[j] > max_scale)
                max_scale = scales[j];
            if (mins[j] > max_min)
                max_min = mins[j];
        }
        const float inv_scale = max_scale > 0.0f ? 63.0f / max_scale : 0.0f;
        const float inv_min = max_min > 0.0f ? 63.0f / max_min : 0.0f;
        for (int j = 0; j < 8; j++) {
            uint8_t ls = (uint8_t)kern_nearest_int(inv_scale * scales[j]);
            uint8_t lm = (uint8_t)kern_nearest_int(inv_min * mins[j]);
            if (ls > 63)
                ls = 63;
            if (lm > 63)
                lm = 63;
            k4_put_scale_min(ysc, j, ls, lm);
        }
        store_f16(y, max_scale / 63.0f);
        store_f16(y + 2, max_min / 63.0f);
    }
}

/* Pack codes 0..nmax. Q5_K: the reference moves codes > 15 down by 16 and sets their qh bit;
 * for codes 0..31 that is bit 4 into qh and bits 0-3 into the nibble (no data-dependent
 * branches). */
void kern_q45_K_pack(int nmax, const uint8_t *L, uint8_t *y)
{
    if (nmax == 15) {
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++)
                y[16 + 32 * c + l] = (uint8_t)(L[64 * c + l] | (L[64 * c + 32 + l] << 4));
        return;
    }
    uint8_t *qh = y + 16, *ql = y + 48;
    for (int l = 0; l < 32; l++) {
        unsigned h = 0;
        for (int c = 0; c < 4; c++) {
            const unsigned l1 = L[64 * c + l], l2 = L[64 * c + 32 + l];
            h |= ((l1 >> 4) & 1u) << (2 * c);
            h |= ((l2 >> 4) & 1u) << (2 * c + 1);
            ql[32 * c + l] = (uint8_t)((l1 & 15u) | ((l2 & 15u) << 4));
        }
        qh[l] = (uint8_t)h;
    }
}

/* Scale codes, re-quantization with the stored scales (zero-scale sub-blocks keep their
 * fitted L) and packing of a Q4_K / Q5_K block from its fits. */
void kern_q45_K_finish(int nmax, const float *x, const float *scales, const float *mins,
                       const float *sw, uint8_t *L, uint8_t *y)
{
    uint8_t *ysc = y + 4;
    kern_q45_K_scales(nmax, scales, mins, sw, y);
    const float dall = load_f16(y), mall = load_f16(y + 2);
    for (int j = 0; j < 8; j++) {
        int sc, m;
        k4_get_scale_min(ysc, j, &sc, &m);
        const float d = dall * (float)sc;
        if (d == 0.0f)
            continue;
        const float dm = mall * (float)m;
        for (int ii = 0; ii < 32; ii++) {
            const float t = x[32 * j + ii] + dm;
            L[32 * j + ii] = (uint8_t)clampi(kern_nearest_int(t / d), 0, nmax);
        }
    }
    kern_q45_K_pack(nmax, L, y);
}

static void k45_row(int nmax, float rmin, int nstep, size_t bytes, const float *src, uint8_t *y,
                    int64_t n_per_row, const float *imatrix)
{
    uint8_t L[QK_K];
    float scales[8], mins[8], sw[8];
    for (int64_t i = 0; i < n_per_row / QK_K; i++, y += bytes) {
        const float *x = src + QK_K * i;
        if (imatrix) {
            k45_fit_imatrix(x, imatrix + QK_K * i, nmax, L, scales, mins, sw);
        } else {
            for (int j = 0; j < 8; j++)
                scales[j] = k45_fit_ref(x + 32 * j, nmax, rmin, nstep, L + 32 * j, &mins[j]);
        }
        kern_q45_K_finish(nmax, x, scales, mins, imatrix ? sw : NULL, L, y);
    }
}

KERN_Q(q4_K)
{
    k45_row(15, -1.0f, 20, 144, src, dst, n_per_row, imatrix);
}

/* Q5_K, 176 bytes / 256 elements:
 *   [0..1] d, [2..3] dmin, [4..15] scales (k4 pairs), [16..47] qh, [48..175] qs
 *   element 64c + 32t + l: q = ((qs[32c + l] >> 4t) & 15) + 16 * bit (2c + t) of qh[l]
 *   y = (D * sc_j) * q - Dmin * m_j, j = 2c + t */
KERN_DQ(q5_K)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nblocks; i++, b += 176) {
        const float d = load_f16(b), dmin = load_f16(b + 2);
        const uint8_t *qh = b + 16, *q = b + 48;
        for (int c = 0; c < 4; c++, q += 32) {
            for (int t = 0; t < 2; t++) {
                int sc, m;
                k4_get_scale_min(b + 4, 2 * c + t, &sc, &m);
                const float d1 = d * (float)sc, m1 = dmin * (float)m;
                const unsigned hbit = 1u << (2 * c + t);
                for (int l = 0; l < 32; l++) {
                    const int v = ((q[l] >> (4 * t)) & 0xF) + ((qh[l] & hbit) ? 16 : 0);
                    const float p = d1 * (float)v;
                    *dst++ = p - m1;
                }
            }
        }
    }
}

KERN_Q(q5_K)
{
    k45_row(31, -0.5f, 15, 176, src, dst, n_per_row, imatrix);
}

/* Q6_K, 210 bytes / 256 elements:
 *   [0..127]   ql: element 128h + 32u + l: low 4 bits at nibble (u div 2) of ql[64h + 32(u mod 2) + l]
 *   [128..191] qh: its high 2 bits at bits 2u of qh[32h + l]
 *   [192..207] scales: int8 per 16-element sub-block
 *   [208..209] d fp16
 *   y = (D * scale) * (q - 32) */
KERN_DQ(q6_K)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nblocks; i++, b += 210, dst += QK_K) {
        const float d = load_f16(b + 208);
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = b + 64 * h, *qh = b + 128 + 32 * h;
            const uint8_t *sc = b + 192 + 8 * h;
            float *yy = dst + 128 * h;
            for (int l = 0; l < 32; l++) {
                const int is = l / 16;
                const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                yy[l] = d * (float)kern_low_s8(sc[is]) * (float)q1;
                yy[l + 32] = d * (float)kern_low_s8(sc[is + 2]) * (float)q2;
                yy[l + 64] = d * (float)kern_low_s8(sc[is + 4]) * (float)q3;
                yy[l + 96] = d * (float)kern_low_s8(sc[is + 6]) * (float)q4;
            }
        }
    }
}

/* Scale codes and d of a Q6_K block from its 16 sub-block fits. Returns 0 when every scale
 * is (nearly) zero: then the whole block is zero bytes and nothing else is to be done. */
int kern_q6_K_scales(const float *scales, uint8_t *y)
{
    float max_scale = 0.0f, max_abs = 0.0f;
    for (int ib = 0; ib < 16; ib++) {
        const float a = fabsf(scales[ib]);
        if (a > max_abs) {
            max_abs = a;
            max_scale = scales[ib];
        }
    }
    if (max_abs < GROUP_EPS) {
        memset(y, 0, 210);
        return 0;
    }
    const float iscale = -128.0f / max_scale;
    store_f16(y + 208, 1.0f / iscale);
    int8_t *ysc = (int8_t *)(y + 192);
    for (int ib = 0; ib < 16; ib++) {
        int v = kern_nearest_int(iscale * scales[ib]);
        if (v > 127)
            v = 127;
        ysc[ib] = (int8_t)kern_low_s8(v);
    }
    return 1;
}

/* Pack codes 0..63 into ql / qh. */
void kern_q6_K_pack(const int8_t *L, uint8_t *y)
{
    uint8_t *ql = y, *qh = y + 128;
    for (int h = 0; h < 2; h++) {
        const int8_t *Lh = L + 128 * h;
        for (int l = 0; l < 32; l++) {
            const int q1 = Lh[l], q2 = Lh[l + 32], q3 = Lh[l + 64], q4 = Lh[l + 96];
            ql[64 * h + l] = (uint8_t)((q1 & 0xF) | ((q3 & 0xF) << 4));
            ql[64 * h + l + 32] = (uint8_t)((q2 & 0xF) | ((q4 & 0xF) << 4));
            qh[32 * h + l] =
                (uint8_t)((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
        }
    }
}

/* Scale codes, re-quantization (zero-scale sub-blocks keep their fitted codes) and packing of
 * a Q6_K block from its fits (QX(16, 32), codes 0..63 in L). */
void kern_q6_K_finish(const float *x, const float *scales, int8_t *L, uint8_t *y)
{
    if (!kern_q6_K_scales(scales, y))
        return;
    const int8_t *ysc = (const int8_t *)(y + 192);
    const float dall = load_f16(y + 208);
    for (int j = 0; j < 16; j++) {
        const float d = dall * (float)ysc[j];
        if (d == 0.0f)
            continue;
        for (int ii = 0; ii < 16; ii++)
            L[16 * j + ii] = (int8_t)(clampi(kern_nearest_int(x[16 * j + ii] / d), -32, 31) + 32);
    }
    kern_q6_K_pack(L, y);
}

/* Sub-block fits of Q6_K: QX(16, 32) with weights x^2, or the imatrix values themselves. */
KERN_Q(q6_K)
{
    uint8_t *y = dst;
    int8_t L[QK_K];
    float scales[16];
    for (int64_t i = 0; i < n_per_row / QK_K; i++, y += 210) {
        const float *x = src + QK_K * i;
        for (int ib = 0; ib < 16; ib++) {
            const float *qw = imatrix ? imatrix + QK_K * i + 16 * ib : NULL;
            scales[ib] = fit_qx(16, 32, x + 16 * ib, L + 16 * ib, qw);
        }
        kern_q6_K_finish(x, scales, L, y);
    }
}

/* Q8_K, 292 bytes / 256 elements: [0..3] d float32, [4..259] qs int8,
 * [260..291] bsums int16 (sum of each group of 16 qs). y = d * qs. Intermediate type. */
KERN_DQ(q8_K)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < nblocks; i++, b += 292) {
        const float d = u2f(qfi_load_le32(b));
        for (int j = 0; j < QK_K; j++)
            *dst++ = d * (float)kern_low_s8(b[4 + j]);
    }
}

KERN_Q(q8_K)
{
    (void)imatrix;
    uint8_t *y = dst;
    for (int64_t i = 0; i < n_per_row / QK_K; i++, y += 292) {
        const float *x = src + QK_K * i;
        float max = 0.0f, amax = 0.0f;
        for (int j = 0; j < QK_K; j++) {
            const float ax = fabsf(x[j]);
            if (ax > amax) {
                amax = ax;
                max = x[j];
            }
        }
        if (amax == 0.0f) {
            memset(y, 0, 292);
            continue;
        }
        const float iscale = -127.0f / max;
        int8_t q[QK_K];
        for (int j = 0; j < QK_K; j++) {
            int v = kern_nearest_int(iscale * x[j]);
            if (v > 127)
                v = 127;
            q[j] = (int8_t)kern_low_s8(v);
        }
        memcpy(y + 4, q, QK_K);
        for (int j = 0; j < 16; j++) {
            int sum = 0;
            for (int ii = 0; ii < 16; ii++)
                sum += q[16 * j + ii];
            qfi_store_le16(y + 260 + 2 * j, (uint16_t)(sum & 0xFFFF));
        }
        qfi_store_le32(y, f2u(1.0f / iscale));
    }
}

/* =======================================================================================
 * The reference table (this file's kernels and those of kern_iq.c)
 */
const struct kern_table kern_table_scalar = {
    .name = "scalar",
    .dq = {
        [QF_TYPE_F32] = kern_dq_f32,     [QF_TYPE_F16] = kern_dq_f16,
        [QF_TYPE_BF16] = kern_dq_bf16,   [QF_TYPE_F64] = kern_dq_f64,
        [QF_TYPE_I8] = kern_dq_i8,       [QF_TYPE_I16] = kern_dq_i16,
        [QF_TYPE_I32] = kern_dq_i32,     [QF_TYPE_I64] = kern_dq_i64,
        [QF_TYPE_Q4_0] = kern_dq_q4_0,   [QF_TYPE_Q4_1] = kern_dq_q4_1,
        [QF_TYPE_Q5_0] = kern_dq_q5_0,   [QF_TYPE_Q5_1] = kern_dq_q5_1,
        [QF_TYPE_Q8_0] = kern_dq_q8_0,   [QF_TYPE_Q8_1] = kern_dq_q8_1,
        [QF_TYPE_Q2_K] = kern_dq_q2_K,   [QF_TYPE_Q3_K] = kern_dq_q3_K,
        [QF_TYPE_Q4_K] = kern_dq_q4_K,   [QF_TYPE_Q5_K] = kern_dq_q5_K,
        [QF_TYPE_Q6_K] = kern_dq_q6_K,   [QF_TYPE_Q8_K] = kern_dq_q8_K,
        [QF_TYPE_BOOL] = kern_dq_bool,   [QF_TYPE_U8] = kern_dq_u8,
        [QF_TYPE_U16] = kern_dq_u16,     [QF_TYPE_U32] = kern_dq_u32,
        [QF_TYPE_U64] = kern_dq_u64,
        [QF_TYPE_F8_E4M3] = kern_dq_f8_e4m3,
        [QF_TYPE_F8_E5M2] = kern_dq_f8_e5m2,
        [QF_TYPE_F8_E8M0] = kern_dq_f8_e8m0,
        [QF_TYPE_F8_E4M3FNUZ] = kern_dq_f8_e4m3fnuz,
        [QF_TYPE_F8_E5M2FNUZ] = kern_dq_f8_e5m2fnuz,
        /* kern_iq.c */
        [QF_TYPE_IQ2_XXS] = kern_dq_iq2_xxs, [QF_TYPE_IQ2_XS] = kern_dq_iq2_xs,
        [QF_TYPE_IQ2_S] = kern_dq_iq2_s,     [QF_TYPE_IQ3_XXS] = kern_dq_iq3_xxs,
        [QF_TYPE_IQ3_S] = kern_dq_iq3_s,     [QF_TYPE_IQ1_S] = kern_dq_iq1_s,
        [QF_TYPE_IQ1_M] = kern_dq_iq1_m,     [QF_TYPE_IQ4_NL] = kern_dq_iq4_nl,
        [QF_TYPE_IQ4_XS] = kern_dq_iq4_xs,   [QF_TYPE_TQ1_0] = kern_dq_tq1_0,
        [QF_TYPE_TQ2_0] = kern_dq_tq2_0,     [QF_TYPE_MXFP4] = kern_dq_mxfp4,
        [QF_TYPE_NVFP4] = kern_dq_nvfp4,     [QF_TYPE_Q1_0] = kern_dq_q1_0,
        [QF_TYPE_Q2_0] = kern_dq_q2_0,       [QF_TYPE_F4] = kern_dq_f4,
    },
    .q = {
        [QF_TYPE_F32] = kern_q_f32,      [QF_TYPE_F16] = kern_q_f16,
        [QF_TYPE_BF16] = kern_q_bf16,
        [QF_TYPE_Q4_0] = kern_q_q4_0,    [QF_TYPE_Q4_1] = kern_q_q4_1,
        [QF_TYPE_Q5_0] = kern_q_q5_0,    [QF_TYPE_Q5_1] = kern_q_q5_1,
        [QF_TYPE_Q8_0] = kern_q_q8_0,    [QF_TYPE_Q8_1] = kern_q_q8_1,
        [QF_TYPE_Q2_K] = kern_q_q2_K,    [QF_TYPE_Q3_K] = kern_q_q3_K,
        [QF_TYPE_Q4_K] = kern_q_q4_K,    [QF_TYPE_Q5_K] = kern_q_q5_K,
        [QF_TYPE_Q6_K] = kern_q_q6_K,    [QF_TYPE_Q8_K] = kern_q_q8_K,
        /* kern_iq.c */
        [QF_TYPE_IQ2_XXS] = kern_q_iq2_xxs, [QF_TYPE_IQ2_XS] = kern_q_iq2_xs,
        [QF_TYPE_IQ2_S] = kern_q_iq2_s,     [QF_TYPE_IQ3_XXS] = kern_q_iq3_xxs,
        [QF_TYPE_IQ3_S] = kern_q_iq3_s,     [QF_TYPE_IQ1_S] = kern_q_iq1_s,
        [QF_TYPE_IQ1_M] = kern_q_iq1_m,     [QF_TYPE_IQ4_NL] = kern_q_iq4_nl,
        [QF_TYPE_IQ4_XS] = kern_q_iq4_xs,   [QF_TYPE_TQ1_0] = kern_q_tq1_0,
        [QF_TYPE_TQ2_0] = kern_q_tq2_0,     [QF_TYPE_MXFP4] = kern_q_mxfp4,
        [QF_TYPE_NVFP4] = kern_q_nvfp4,     [QF_TYPE_Q1_0] = kern_q_q1_0,
        [QF_TYPE_Q2_0] = kern_q_q2_0,
    },
};
