/* check_kern.c - kernels: golden vectors written by llama.cpp / gguf-py, imatrix variants,
 * scalar conversions, FP8 decoders, the public API, and SIMD == scalar at every level.
 *
 * Golden files (fixtures/golden/<type>.gguf, see fixtures/golden/README.md): golden.f32 is the
 * input (16 rows x 256), golden.<type> the reference quantization (golden.<type>.c where the
 * gguf-py bytes differ from the x86-64 C build we reproduce), golden.<type>.dequant the reference
 * dequantization of golden.<type>. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qf/qf.h"
#include "kern/kern.h"

#define GOLDEN_ROWS 16
#define GOLDEN_COLS 256
#define GOLDEN_N (GOLDEN_ROWS * GOLDEN_COLS)

#if defined(__aarch64__)
static const char *const levels[] = {"scalar", "neon"};
static const char *const foreign_level = "avx2"; /* a level of another architecture */
#else
static const char *const levels[] = {"scalar", "avx2", "avx512"};
static const char *const foreign_level = "neon";
#endif
#define N_LEVELS (sizeof levels / sizeof levels[0])

static uint32_t fbits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float ufloat(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* ---------------------------------------------------------------------------------------
 * Golden vectors
 */
struct golden {
    int type;
    const char *file;      /* fixtures/golden/<file>.gguf, tensor golden.<file> */
    const char *quant_ref; /* tensor whose bytes our quantizer must reproduce */
    const char *extra;     /* another quantized variant with its own .dequant, or NULL */
};

static const struct golden goldens[] = {
    {QF_TYPE_F16, "f16", "golden.f16", NULL},
    {QF_TYPE_BF16, "bf16", "golden.bf16", NULL},
    {QF_TYPE_Q4_0, "q4_0", "golden.q4_0.c", "golden.q4_0.c"},
    {QF_TYPE_Q4_1, "q4_1", "golden.q4_1", NULL},
    {QF_TYPE_Q5_0, "q5_0", "golden.q5_0.c", "golden.q5_0.c"},
    {QF_TYPE_Q5_1, "q5_1", "golden.q5_1", NULL},
    {QF_TYPE_Q8_0, "q8_0", "golden.q8_0", NULL},
    {QF_TYPE_Q2_K, "q2_k", "golden.q2_k", "golden.q2_k.c_fma"},
    {QF_TYPE_Q3_K, "q3_k", "golden.q3_k", NULL},
    {QF_TYPE_Q4_K, "q4_k", "golden.q4_k", "golden.q4_k.c_fma"},
    {QF_TYPE_Q5_K, "q5_k", "golden.q5_k", "golden.q5_k.c_fma"},
    {QF_TYPE_Q6_K, "q6_k", "golden.q6_k", NULL},
};
#define N_GOLDEN (int)(sizeof goldens / sizeof goldens[0])

static struct qf_model *golden_open(const struct golden *g)
{
    char path[256];
    snprintf(path, sizeof path, "fixtures/golden/%s.gguf", g->file);
    struct qf_model *m = NULL;
    struct qf_error err;
    const int rc = qf_model_open(path, NULL, 0, &m, &err);
    ck_assert_msg(rc == QF_OK, "open %s: %s", path, err.msg);
    return m;
}

/* Read a tensor of the expected type and byte size into a new buffer. */
static void *golden_read(struct qf_model *m, const char *name, int type, uint64_t nbytes)
{
    const struct qf_tensor *t = qf_model_find_tensor(m, name);
    ck_assert_msg(t != NULL, "tensor %s missing", name);
    ck_assert_int_eq(t->type, type);
    ck_assert_uint_eq(t->nelem, GOLDEN_N);
    ck_assert_uint_eq(t->nbytes, nbytes);
    void *buf = malloc(nbytes);
    ck_assert_ptr_nonnull(buf);
    struct qf_error err;
    ck_assert_msg(qf_model_read(m, t, 0, buf, nbytes, &err) == QF_OK, "read %s: %s", name,
                  err.msg);
    return buf;
}

static uint64_t golden_bytes(int type)
{
    const int64_t n = qf_type_nbytes(type, GOLDEN_COLS, GOLDEN_N);
    ck_assert_int_gt(n, 0);
    return (uint64_t)n;
}

/* Bit-exact float comparison; names the first difference. */
/* (Check records every passing assertion, so loops look for the first difference and
 * assert once.) */
static void assert_same_floats(const float *a, const float *b, size_t n, const char *what)
{
    size_t i = 0;
    while (i < n && fbits(a[i]) == fbits(b[i]))
        i++;
    if (i < n)
        ck_assert_msg(0, "%s: element %zu: %08x != %08x (%g vs %g)", what, i, fbits(a[i]),
                      fbits(b[i]), a[i], b[i]);
}

static void assert_same_bytes(const uint8_t *a, const uint8_t *b, size_t n, const char *what)
{
    size_t i = 0;
    while (i < n && a[i] == b[i])
        i++;
    if (i < n)
        ck_assert_msg(0, "%s: byte %zu: %02x != %02x", what, i, a[i], b[i]);
}

/* quantize golden.f32 -> bytes of golden.<type>(.c), at every level and through the API */
START_TEST(test_golden_quantize)
{
    const struct golden *g = &goldens[_i];
    struct qf_model *m = golden_open(g);
    const uint64_t nbytes = golden_bytes(g->type);
    float *x = golden_read(m, "golden.f32", QF_TYPE_F32, GOLDEN_N * 4);
    uint8_t *want = golden_read(m, g->quant_ref, g->type, nbytes);
    uint8_t *got = malloc(nbytes);
    const uint64_t row_bytes = nbytes / GOLDEN_ROWS;
    char what[96];
    for (size_t l = 0; l < N_LEVELS; l++) {
        const struct kern_table *kt = kern_level_table(levels[l]);
        if (!kt)
            continue;
        ck_assert_ptr_nonnull(kt->q[g->type]);
        memset(got, 0x5A, nbytes);
        for (int r = 0; r < GOLDEN_ROWS; r++)
            kt->q[g->type](x + r * GOLDEN_COLS, got + r * row_bytes, GOLDEN_COLS, NULL);
        snprintf(what, sizeof what, "%s quantize (%s)", g->quant_ref, levels[l]);
        assert_same_bytes(got, want, nbytes, what);
    }
    memset(got, 0x5A, nbytes);
    ck_assert_int_eq(qf_quantize(g->type, x, got, GOLDEN_ROWS, GOLDEN_COLS, NULL), (int64_t)nbytes);
    assert_same_bytes(got, want, nbytes, "qf_quantize");
    free(x);
    free(want);
    free(got);
    qf_model_close(m);
}
END_TEST

static void check_dequant(struct qf_model *m, int type, const char *qname, uint64_t nbytes)
{
    char dqname[96], what[128];
    snprintf(dqname, sizeof dqname, "%s.dequant", qname);
    uint8_t *q = golden_read(m, qname, type, nbytes);
    float *want = golden_read(m, dqname, QF_TYPE_F32, GOLDEN_N * 4);
    float *got = malloc(GOLDEN_N * 4);
    const struct qf_type_info *ti = qf_type_info(type);
    for (size_t l = 0; l < N_LEVELS; l++) {
        const struct kern_table *kt = kern_level_table(levels[l]);
        if (!kt)
            continue;
        memset(got, 0x5A, GOLDEN_N * 4);
        kt->dq[type](q, got, GOLDEN_N / ti->blck);
        snprintf(what, sizeof what, "%s (%s)", dqname, levels[l]);
        assert_same_floats(got, want, GOLDEN_N, what);
    }
    memset(got, 0x5A, GOLDEN_N * 4);
    ck_assert_int_eq(qf_dequantize(type, q, got, GOLDEN_N), QF_OK);
    assert_same_floats(got, want, GOLDEN_N, "qf_dequantize");
    free(q);
    free(want);
    free(got);
}

/* dequantize golden.<type> (and the extra variant) -> bits of its .dequant */
START_TEST(test_golden_dequantize)
{
    const struct golden *g = &goldens[_i];
    struct qf_model *m = golden_open(g);
    char name[64];
    snprintf(name, sizeof name, "golden.%s", g->file);
    check_dequant(m, g->type, name, golden_bytes(g->type));
    if (g->extra)
        check_dequant(m, g->type, g->extra, golden_bytes(g->type));
    qf_model_close(m);
}
END_TEST

/* Known values in the golden data, as described by the fixture README. */
START_TEST(test_golden_landmarks)
{
    struct qf_model *m = golden_open(&goldens[0]);
    float *x = golden_read(m, "golden.f32", QF_TYPE_F32, GOLDEN_N * 4);
    uint8_t *h = golden_read(m, "golden.f16", QF_TYPE_F16, GOLDEN_N * 2);
    float *dq = golden_read(m, "golden.f16.dequant", QF_TYPE_F32, GOLDEN_N * 4);
    int n_inf = 0, n_65504 = 0;
    for (int i = 0; i < GOLDEN_N; i++) {
        if (isinf(dq[i]))
            n_inf++;
        if (x[i] == 65519.0f) {
            ck_assert_float_eq(dq[i], 65504.0f);
            n_65504++;
        }
        ck_assert_uint_eq(kern_f32_to_f16(x[i]), (uint16_t)(h[2 * i] | h[2 * i + 1] << 8));
    }
    ck_assert_int_eq(n_inf, 2); /* 1e5 -> +inf, -65520 -> -inf */
    ck_assert_int_ge(n_65504, 1);
    /* row 3 is all +0.0: Q4_0 stores d = -0.0 (0x8000) and codes 8 */
    struct qf_model *m4 = golden_open(&goldens[2]);
    uint8_t *q4 = golden_read(m4, "golden.q4_0.c", QF_TYPE_Q4_0, golden_bytes(QF_TYPE_Q4_0));
    uint8_t blk[18];
    kern_q_q4_0(x + 3 * GOLDEN_COLS, blk, 32, NULL);
    ck_assert_uint_eq(blk[0], 0x00);
    ck_assert_uint_eq(blk[1], 0x80);
    for (int j = 2; j < 18; j++)
        ck_assert_uint_eq(blk[j], 0x88);
    assert_same_bytes(blk, q4 + 3 * 8 * 18, 18, "q4_0 zero block");
    free(x);
    free(h);
    free(dq);
    free(q4);
    qf_model_close(m);
    qf_model_close(m4);
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * Imatrix variants. No golden file covers them (the fixtures were made without an importance
 * matrix), so we check (a) properties that follow from the spec formulas and (b) digests of
 * our output on the golden input with a fixed imatrix, computed once with ggml's reference
 * quantizer (ggml-org/ggml d99724f2 built with -ffp-contract=off, ggml_quantize_chunk path).
 */
static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static const struct {
    int type;
    uint64_t h256; /* 16 rows of 256 */
    uint64_t h512; /* the same 4096 values as 8 rows of 512 */
} imatrix_digests[] = {
    {QF_TYPE_Q4_0, 0xffa35da74bce4764ull, 0x8c120097dc750859ull},
    {QF_TYPE_Q4_1, 0x0dcebadeb014a28dull, 0xfd35f8c317cfc3b3ull},
    {QF_TYPE_Q5_0, 0x76497ac464ea9090ull, 0x0468806ad18353deull},
    {QF_TYPE_Q5_1, 0x9989e0c741f6cd66ull, 0x29c89b0bded52064ull},
    {QF_TYPE_Q8_0, 0x31d39021c5cae42bull, 0x31d39021c5cae42bull},
    {QF_TYPE_Q2_K, 0xf604be85634e5a9dull, 0x9b0efd867383687aull},
    {QF_TYPE_Q3_K, 0x9bcea3a434d1d667ull, 0xf3f72ec476bfbe15ull},
    {QF_TYPE_Q4_K, 0x8091f8c74184b3abull, 0x589a390410423825ull},
    {QF_TYPE_Q5_K, 0xe074d4decbf80113ull, 0x77e9519828cbd027ull},
    {QF_TYPE_Q6_K, 0x699a1c72b94add41ull, 0xa53be56319e565baull},
};

START_TEST(test_imatrix_digests)
{
    const int type = imatrix_digests[_i].type;
    struct qf_model *m = golden_open(&goldens[0]);
    float *x = golden_read(m, "golden.f32", QF_TYPE_F32, GOLDEN_N * 4);
    float imx[512];
    for (int i = 0; i < 512; i++)
        imx[i] = 0.25f + (float)((i * 37) % 101) / 16.0f;
    const uint64_t nbytes = golden_bytes(type);
    uint8_t *out = malloc(nbytes);
    for (size_t l = 0; l < N_LEVELS; l++) {
        if (!kern_level_table(levels[l]))
            continue;
        ck_assert_int_eq(qf_simd_set(levels[l]), QF_OK);
        ck_assert_int_eq(qf_quantize(type, x, out, 16, 256, imx), (int64_t)nbytes);
        ck_assert_msg(fnv1a(out, nbytes) == imatrix_digests[_i].h256, "%s 16x256 (%s): %016llx",
                      qf_type_name(type), levels[l], (unsigned long long)fnv1a(out, nbytes));
        ck_assert_int_eq(qf_quantize(type, x, out, 8, 512, imx), (int64_t)nbytes);
        ck_assert_msg(fnv1a(out, nbytes) == imatrix_digests[_i].h512, "%s 8x512 (%s): %016llx",
                      qf_type_name(type), levels[l], (unsigned long long)fnv1a(out, nbytes));
    }
    ck_assert_int_eq(qf_simd_set("auto"), QF_OK);
    free(out);
    free(x);
    qf_model_close(m);
}
END_TEST

/* Spec §5.7/§6.8 properties of the weighted fits. */
START_TEST(test_imatrix_properties)
{
    float x[512], imx[512], w2[512];
    uint8_t a[1024], b[1024];
    uint64_t s = 12345;
    for (int i = 0; i < 512; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((int)(s >> 40) % 2001 - 1000) / 997.0f;
        imx[i] = 1.0f + (float)(i % 5);
    }
    /* Q8_0 ignores the imatrix */
    kern_q_q8_0(x, a, 512, NULL);
    kern_q_q8_0(x, b, 512, imx);
    assert_same_bytes(a, b, 16 * 34, "q8_0 imatrix ignored");
    /* Q6_K uses the imatrix directly as the weights of QX, whose default weights are x^2 */
    for (int i = 0; i < 512; i++)
        w2[i] = x[i] * x[i];
    kern_q_q6_K(x, a, 512, NULL);
    kern_q_q6_K(x, b, 512, w2);
    assert_same_bytes(a, b, 2 * 210, "q6_K imatrix = x^2");
    /* The imatrix must change the result of the weighted types (here: a non-uniform one). */
    static const int types[] = {QF_TYPE_Q4_0, QF_TYPE_Q4_1, QF_TYPE_Q5_0, QF_TYPE_Q5_1,
                                QF_TYPE_Q2_K, QF_TYPE_Q3_K, QF_TYPE_Q4_K, QF_TYPE_Q5_K};
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        const int64_t n = qf_quantize(types[k], x, a, 1, 512, NULL);
        ck_assert_int_gt(n, 0);
        ck_assert_int_eq(qf_quantize(types[k], x, b, 1, 512, imx), n);
        ck_assert_msg(memcmp(a, b, (size_t)n) != 0, "%s: imatrix had no effect",
                      qf_type_name(types[k]));
    }
    /* Exact grid: x = (l - 8) * d with d = 2^-4 and the absmax at -8d. The weighted QX fit of
     * Q4_0 must recover d and the codes whatever the (positive) weights. */
    for (int i = 0; i < 32; i++) {
        const int l = i == 5 ? 0 : (i * 7) % 16;
        x[i] = (float)(l - 8) * 0.0625f;
    }
    kern_q_q4_0(x, a, 32, imx);
    ck_assert_uint_eq(a[0] | a[1] << 8, 0x2C00); /* d = 0.0625 */
    for (int j = 0; j < 16; j++) {
        const unsigned l0 = j == 5 ? 0 : (unsigned)(j * 7) % 16, l1 = (unsigned)((j + 16) * 7) % 16;
        ck_assert_uint_eq(a[2 + j], l0 | l1 << 4); /* codes l: y = (l - 8) * d */
    }
    /* Exact affine grid for Q4_1: x = 0.25 * l - 1, l = 0..15; QKX3 finds scale 0.25, min -1. */
    for (int i = 0; i < 32; i++)
        x[i] = 0.25f * (float)(i % 16) - 1.0f;
    kern_q_q4_1(x, a, 32, imx);
    ck_assert_uint_eq(a[0] | a[1] << 8, 0x3400); /* 0.25 */
    ck_assert_uint_eq(a[2] | a[3] << 8, 0xBC00); /* -1.0 */
    for (int j = 0; j < 16; j++)
        ck_assert_uint_eq(a[4 + j], (unsigned)(j | j << 4));
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * Scalar conversions (spec §2)
 */
START_TEST(test_f16_conversions)
{
    /* round-trip of every non-NaN half; NaNs come back quiet with their sign and payload */
    uint32_t bad = 0x10000;
    for (uint32_t h = 0; h < 65536 && bad == 0x10000; h++) {
        const float f = kern_f16_to_f32((uint16_t)h);
        if ((h & 0x7C00) == 0x7C00 && (h & 0x3FF)) {
            if (!isnan(f) ||
                fbits(f) != (((h & 0x8000u) << 16) | 0x7FC00000u | ((h & 0x3FFu) << 13)) ||
                kern_f32_to_f16(f) != ((h & 0x8000u) | 0x7E00u))
                bad = h;
        } else if (kern_f32_to_f16(f) != h) {
            bad = h;
        }
    }
    ck_assert_msg(bad == 0x10000, "f16 %04x does not round-trip", bad);
    ck_assert_uint_eq(kern_f32_to_f16(65504.0f), 0x7BFF);
    ck_assert_uint_eq(kern_f32_to_f16(65519.0f), 0x7BFF);
    ck_assert_uint_eq(kern_f32_to_f16(65520.0f), 0x7C00);
    ck_assert_uint_eq(kern_f32_to_f16(-1e5f), 0xFC00);
    ck_assert_uint_eq(kern_f32_to_f16(1.0f + 0x1p-11f), 0x3C00);         /* tie -> even */
    ck_assert_uint_eq(kern_f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3C02);     /* tie -> even (up) */
    ck_assert_uint_eq(kern_f32_to_f16(2049.0f), 0x6800);
    ck_assert_uint_eq(kern_f32_to_f16(2051.0f), 0x6802);
    ck_assert_uint_eq(kern_f32_to_f16(0x1p-25f), 0x0000);                /* tie -> 0 */
    ck_assert_uint_eq(kern_f32_to_f16(-0x1p-25f), 0x8000);
    ck_assert_uint_eq(kern_f32_to_f16(0x1.000002p-25f), 0x0001);
    ck_assert_uint_eq(kern_f32_to_f16(1.5f * 0x1p-24f), 0x0002);         /* tie -> even */
    ck_assert_uint_eq(kern_f32_to_f16(0x1p-14f), 0x0400);
    ck_assert_uint_eq(kern_f32_to_f16(0x1.ffcp-15f), 0x0400); /* tie rounds up into the normals */
    ck_assert_uint_eq(kern_f32_to_f16(1e-40f), 0x0000);
    ck_assert_uint_eq(kern_f32_to_f16(-0.0f), 0x8000);
    ck_assert_uint_eq(kern_f32_to_f16(ufloat(0x7F800001u)), 0x7E00); /* sNaN */
    ck_assert_uint_eq(kern_f32_to_f16(ufloat(0xFFFFFFFFu)), 0xFE00);
    ck_assert_uint_eq(kern_f32_to_f16(INFINITY), 0x7C00);
    ck_assert_uint_eq(fbits(kern_f16_to_f32(0x0001)), fbits(0x1p-24f));
    ck_assert_uint_eq(fbits(kern_f16_to_f32(0x8000)), 0x80000000u);
    ck_assert_uint_eq(fbits(kern_f16_to_f32(0x7C00)), 0x7F800000u);
    ck_assert_uint_eq(fbits(kern_f16_to_f32(0x7C01)), 0x7FC02000u); /* sNaN quieted */
}
END_TEST

START_TEST(test_bf16_conversions)
{
    ck_assert_uint_eq(kern_f32_to_bf16(1.0f), 0x3F80);
    ck_assert_uint_eq(kern_f32_to_bf16(1.0f + 0x1p-8f), 0x3F80);     /* tie -> even */
    ck_assert_uint_eq(kern_f32_to_bf16(1.0f + 3 * 0x1p-8f), 0x3F82); /* tie -> even (up) */
    ck_assert_uint_eq(kern_f32_to_bf16(257.0f), 0x4380);
    ck_assert_uint_eq(kern_f32_to_bf16(ufloat(0x7F7FFFFFu)), 0x7F80); /* max float -> inf */
    ck_assert_uint_eq(kern_f32_to_bf16(ufloat(0x00000001u)), 0x0000);
    ck_assert_uint_eq(kern_f32_to_bf16(ufloat(0x00018000u)), 0x0002); /* subnormal tie, kept */
    ck_assert_uint_eq(kern_f32_to_bf16(ufloat(0x7F800001u)), 0x7FC0); /* sNaN quieted */
    ck_assert_uint_eq(kern_f32_to_bf16(ufloat(0xFF812345u)), 0xFFC1);
    ck_assert_uint_eq(kern_f32_to_bf16(-INFINITY), 0xFF80);
    uint32_t h = 0;
    while (h < 65536 && fbits(kern_bf16_to_f32((uint16_t)h)) == h << 16)
        h++;
    ck_assert_uint_eq(h, 65536);
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * FP8 decoders: every code against the format definition (bnb-compressed-mlx.md §d), written
 * here independently with ldexp in double precision.
 */
static double fp8_value(unsigned b, int ebits, int mbits, int bias, int fnuz, int fn)
{
    const int s = (b >> 7) & 1, e = (int)((b >> mbits) & ((1u << ebits) - 1)),
              m = (int)(b & ((1u << mbits) - 1));
    if (fnuz && b == 0x80)
        return NAN;
    if (fn && e == (1 << ebits) - 1 && m == (1 << mbits) - 1)
        return NAN;
    if (!fnuz && !fn && e == (1 << ebits) - 1)
        return m ? NAN : (s ? -INFINITY : INFINITY);
    double v = e ? ldexp(1.0 + ldexp(m, -mbits), e - bias) : ldexp(ldexp(m, -mbits), 1 - bias);
    return s ? -v : v;
}

START_TEST(test_fp8_decoders)
{
    const struct {
        int type, ebits, mbits, bias, fnuz, fn;
    } f[] = {
        {QF_TYPE_F8_E4M3, 4, 3, 7, 0, 1},
        {QF_TYPE_F8_E5M2, 5, 2, 15, 0, 0},
        {QF_TYPE_F8_E4M3FNUZ, 4, 3, 8, 1, 0},
        {QF_TYPE_F8_E5M2FNUZ, 5, 2, 16, 1, 0},
    };
    uint8_t codes[256];
    float out[256];
    for (int i = 0; i < 256; i++)
        codes[i] = (uint8_t)i;
    for (size_t k = 0; k < sizeof f / sizeof f[0]; k++) {
        ck_assert_int_eq(qf_dequantize(f[k].type, codes, out, 256), QF_OK);
        for (int i = 0; i < 256; i++) {
            const double want = fp8_value((unsigned)i, f[k].ebits, f[k].mbits, f[k].bias,
                                          f[k].fnuz, f[k].fn);
            if (isnan(want))
                ck_assert_msg(isnan(out[i]), "%s code %02x", qf_type_name(f[k].type), i);
            else
                ck_assert_msg(fbits(out[i]) == fbits((float)want), "%s code %02x: %g != %g",
                              qf_type_name(f[k].type), i, out[i], want);
        }
    }
    /* landmarks from the spec table */
    ck_assert_int_eq(qf_dequantize(QF_TYPE_F8_E4M3, codes, out, 256), QF_OK);
    ck_assert_float_eq(out[0x7E], 448.0f);
    ck_assert_float_eq(out[0x08], 0x1p-6f);
    ck_assert_float_eq(out[0x01], 0x1p-9f);
    ck_assert_uint_eq(fbits(out[0x80]), 0x80000000u);
    ck_assert(isnan(out[0x7F]) && isnan(out[0xFF]));
    ck_assert_int_eq(qf_dequantize(QF_TYPE_F8_E5M2, codes, out, 256), QF_OK);
    ck_assert_float_eq(out[0x7B], 57344.0f);
    ck_assert_float_eq(out[0x04], 0x1p-14f);
    ck_assert_float_eq(out[0x01], 0x1p-16f);
    ck_assert(isinf(out[0x7C]) && out[0xFC] < 0 && isinf(out[0xFC]));
    ck_assert(isnan(out[0x7D]));
    ck_assert_int_eq(qf_dequantize(QF_TYPE_F8_E4M3FNUZ, codes, out, 256), QF_OK);
    ck_assert_float_eq(out[0x7F], 240.0f);
    ck_assert(isnan(out[0x80]));
    ck_assert_int_eq(qf_dequantize(QF_TYPE_F8_E5M2FNUZ, codes, out, 256), QF_OK);
    ck_assert_float_eq(out[0x7F], 57344.0f);
    ck_assert(isnan(out[0x80]));
    ck_assert_int_eq(qf_dequantize(QF_TYPE_F8_E8M0, codes, out, 256), QF_OK);
    for (int i = 0; i < 255; i++)
        ck_assert_uint_eq(fbits(out[i]), fbits((float)ldexp(1.0, i - 127)));
    ck_assert(isnan(out[0xFF]));
    ck_assert_float_eq(out[127], 1.0f);
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * Public API
 */
START_TEST(test_api)
{
    float x[64], y[64];
    uint8_t b[256] = {0};
    for (int i = 0; i < 64; i++)
        x[i] = (float)i - 31.5f;
    ck_assert_int_eq(qf_dequantize(QF_TYPE_Q4_0, b, y, 33), QF_EINVAL);
    ck_assert_int_eq(qf_dequantize(QF_TYPE_Q4_0, NULL, y, 32), QF_EINVAL);
    ck_assert_int_eq(qf_dequantize(QF_TYPE_Q4_0, NULL, NULL, 0), QF_OK);
    ck_assert_int_eq(qf_dequantize(4, b, y, 32), QF_EUNSUPPORTED);             /* removed id */
    ck_assert_int_eq(qf_dequantize(QF_TYPE_F6_E2M3, b, y, 4), QF_EUNSUPPORTED); /* no kernel */
    ck_assert_int_eq(qf_dequantize(999, b, y, 4), QF_EINVAL);
    ck_assert_int_eq(qf_quantize(QF_TYPE_Q8_0, x, b, 2, 32, NULL), 68);
    ck_assert_int_eq(qf_quantize(QF_TYPE_Q8_0, x, b, 1, 48, NULL), QF_EINVAL);
    ck_assert_int_eq(qf_quantize(QF_TYPE_Q8_0, x, b, 0, 32, NULL), 0);
    ck_assert_int_eq(qf_quantize(QF_TYPE_Q8_0, x, b, UINT64_MAX, 32, NULL), QF_ELIMIT);
    ck_assert_int_eq(qf_quantize(QF_TYPE_I32, x, b, 1, 4, NULL), QF_EUNSUPPORTED);
    ck_assert_int_eq(qf_quantize(QF_TYPE_F16, x, b, 1, 64, NULL), 128);
    ck_assert_uint_eq(b[0] | b[1] << 8, 0xCFE0); /* -31.5 */
    ck_assert_int_eq(qf_quantize(QF_TYPE_IQ2_XXS, x, b, 1, 256, NULL), QF_EINVAL);
    ck_assert_int_eq(qf_type_needs_imatrix(QF_TYPE_IQ1_S), 1);
    ck_assert_int_eq(qf_type_needs_imatrix(QF_TYPE_Q4_K), 0);
    ck_assert_int_eq(qf_type_can_quantize(QF_TYPE_Q6_K), 1);
    ck_assert_int_eq(qf_type_can_quantize(QF_TYPE_F8_E4M3), 0);
    ck_assert_int_eq(qf_type_can_dequantize(QF_TYPE_F8_E4M3), 1);
    ck_assert_int_eq(qf_type_can_dequantize(QF_TYPE_C64), 0);
    /* Q8_0 of -31.5..31.5: d = 31.5/127, codes = round(x * 127/31.5) */
    ck_assert_int_eq(qf_quantize(QF_TYPE_Q8_0, x, b, 1, 32, NULL), 34);
    ck_assert_uint_eq(b[0] | b[1] << 8, kern_f32_to_f16(31.5f / 127.0f));
    ck_assert_int_eq((int8_t)b[2], -127);
    ck_assert_int_eq((int8_t)b[33], -2); /* x = -0.5: roundf(-0.5 * 127/31.5) */
}
END_TEST

START_TEST(test_simd_levels)
{
    ck_assert_str_eq(qf_simd_supported(0), "scalar");
    size_t n = 0;
    while (qf_simd_supported(n))
        n++;
    ck_assert_int_ge(n, 1);
    ck_assert_int_eq(qf_simd_set("bogus"), QF_EINVAL);
    ck_assert_int_eq(qf_simd_set(foreign_level), QF_EINVAL);
    ck_assert_int_eq(qf_simd_set(NULL), QF_EINVAL);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(qf_simd_set(qf_simd_supported(i)), QF_OK);
        ck_assert_str_eq(qf_simd_level(), qf_simd_supported(i));
    }
    for (size_t i = n; i < N_LEVELS; i++)
        ck_assert_int_eq(qf_simd_set(levels[i]), QF_EUNSUPPORTED);
    ck_assert_int_eq(qf_simd_set("auto"), QF_OK);
    ck_assert_str_eq(qf_simd_level(), qf_simd_supported(n - 1));
#if defined(__aarch64__)
    ck_assert_int_eq(n, 2);
#else
    const unsigned f = kern_cpu_features();
    ck_assert_int_eq(n, (f & KERN_CPU_AVX512) ? 3 : (f & KERN_CPU_AVX2) ? 2 : 1);
#endif
}
END_TEST

/* QF_SIMD is read once per process: only meaningful in a fresh (forked) test process. */
START_TEST(test_simd_env)
{
    const char *fork_env = getenv("CK_FORK");
    if (fork_env && !strcmp(fork_env, "no"))
        return;
    setenv("QF_SIMD", "avx1024", 1);
    float y[32];
    uint8_t b[34] = {0};
    ck_assert_ptr_null(qf_simd_level());
    ck_assert_int_eq(qf_dequantize(QF_TYPE_Q8_0, b, y, 32), QF_EUNSUPPORTED);
    ck_assert_int_eq(qf_simd_set("scalar"), QF_OK);
    ck_assert_int_eq(qf_dequantize(QF_TYPE_Q8_0, b, y, 32), QF_OK);
    unsetenv("QF_SIMD");
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * SIMD == scalar, byte for byte, on random and adversarial inputs, odd lengths and pointers
 * that are not aligned (quantized bytes offset by 1; floats offset by one float: a float
 * pointer off by one byte would be undefined behaviour for the scalar reference itself).
 */
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd32(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}
static float frand(void) /* roughly N(0,1) */
{
    float s = 0;
    for (int i = 0; i < 4; i++)
        s += (float)(rnd32() & 0xFFFF) / 65536.0f;
    return (s - 2.0f) * 1.7f;
}

enum { K_RANDOM, K_ZERO, K_NAN, K_INF, K_SUBNORMAL, K_TIES, K_NEGMAX, K_OUTLIER, K_SIGNED_ZERO,
       K_CONST, K_BITS, K_TINY, K_HALF_INT, K_F16_EDGE, K_GRID, K_SCALED, K_NONNEG_ZEROS,
       K_NONPOS_ZEROS, K_ALL_ZEROS_SIGNED, K_IQ4_EDGE, K_NEAR_EPS, K_COUNT };

/* IQ4_NL levels: K_IQ4_EDGE puts -127 * sc at element 7 of every 32, which makes the scale
 * trial t = 0 of the IQ4 search compute v = x / sc exactly, and the other elements within two
 * ulps of the midpoints between neighbouring levels, where the nearest-level choice flips. */
static const int iq4_levels[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                   1,    13,   25,  38,  53,  69,  89,  113};

static void fill(float *x, size_t n, int kind)
{
    const float sc = ldexpf(1.0f, (int)(rnd32() % 24) - 12);
    for (size_t i = 0; i < n; i++) {
        float v = frand() * sc;
        switch (kind) {
        case K_ZERO: v = 0.0f; break;
        case K_NAN: if (rnd32() % 9 == 0) v = ufloat(0x7FC00000u | (rnd32() & 0x803FFFFFu)); break;
        case K_INF: if (rnd32() % 11 == 0) v = rnd32() & 1 ? INFINITY : -INFINITY; break;
        case K_SUBNORMAL: v = ufloat(rnd32() & 0x807FFFFFu); break;
        case K_TIES: v = ((float)(int)(rnd32() % 33) - 16.0f + 0.5f) * 0x1p-7f * 3.0f; break;
        case K_NEGMAX: v = -fabsf(v) * (i % 32 == 7 ? 3.0f : 1.0f); break;
        case K_OUTLIER: if (i % 97 == 13) v = 1e6f * (rnd32() & 1 ? 1 : -1); break;
        case K_SIGNED_ZERO: v = rnd32() % 3 ? (rnd32() & 1 ? -0.0f : 0.0f) : v; break;
        case K_CONST: v = -0.7f; break;
        case K_BITS: v = ufloat(rnd32() << 1 | (rnd32() & 1)); break;
        case K_TINY: v = (rnd32() & 1 ? 1 : -1) * ldexpf(1.0f + (float)(rnd32() % 8) / 8, -24 - (int)(rnd32() % 4)); break;
        case K_HALF_INT: v = ((float)(int)(rnd32() % 255) - 127.0f) * 0.5f; break;
        case K_F16_EDGE: v = (rnd32() & 1 ? 1 : -1) * (65504.0f + (float)(rnd32() % 32)); break;
        case K_GRID: v = (float)(int)(rnd32() % 16) * 0.125f - 1.0f; break;
        case K_SCALED: v = frand() * ldexpf(1.0f, (int)((i / 32) % 40) - 20); break;
        /* zero extremes whose sign depends on which zero comes first */
        case K_NONNEG_ZEROS: v = rnd32() % 3 ? fabsf(v) : (rnd32() & 1 ? -0.0f : 0.0f); break;
        case K_NONPOS_ZEROS: v = rnd32() % 3 ? -fabsf(v) : (rnd32() & 1 ? -0.0f : 0.0f); break;
        case K_ALL_ZEROS_SIGNED: v = rnd32() & 1 ? -0.0f : 0.0f; break;
        /* magnitudes around the 1e-15 all-zero limit of the fits (2^-50 below, 2^-49 above),
         * with zeros: weights x^2 near the bottom of the float range, sums that underflow */
        case K_NEAR_EPS:
            v = rnd32() % 3 == 0 ? 0.0f
                                 : (rnd32() & 1 ? 1 : -1) *
                                       ldexpf(1.0f + (float)(rnd32() % 16) / 16, -50 + (int)(rnd32() % 3));
            break;
        case K_IQ4_EDGE:
            if (i % 32 == 7) {
                v = -127.0f * sc;
            } else {
                const int m = 1 + (int)(rnd32() % 15);
                v = (float)(iq4_levels[m - 1] + iq4_levels[m]) * 0.5f;
                for (int u = (int)(rnd32() % 5); u > 0; u--)
                    v = nextafterf(v, rnd32() & 1 ? INFINITY : -INFINITY);
                v *= sc;
            }
            break;
        default: break;
        }
        x[i] = v;
    }
}

/* dequantizer input: random bytes; with finite_scales, fp16/f32 scale fields are made finite
 * by clearing their top exponent bit so arithmetic paths are covered too */
static void fill_blocks(uint8_t *b, size_t nbytes, int finite)
{
    for (size_t i = 0; i < nbytes; i++)
        b[i] = (uint8_t)rnd32();
    if (finite)
        for (size_t i = 1; i < nbytes; i += 2)
            b[i] &= 0xBF;
}

/* Two float results agree: same bits, or both NaN when the kernel does arithmetic (which NaN
 * payload survives x*NaN + NaN is the compiler's choice in the reference too). */
static int same_float(float a, float b, int exact)
{
    return fbits(a) == fbits(b) || (!exact && isnan(a) && isnan(b));
}

static const int simd_types[] = {
    QF_TYPE_F32,  QF_TYPE_F16,  QF_TYPE_BF16, QF_TYPE_Q4_0, QF_TYPE_Q4_1, QF_TYPE_Q5_0,
    QF_TYPE_Q5_1, QF_TYPE_Q8_0, QF_TYPE_Q8_1, QF_TYPE_Q2_K, QF_TYPE_Q3_K, QF_TYPE_Q4_K,
    QF_TYPE_Q5_K, QF_TYPE_Q6_K, QF_TYPE_Q8_K, QF_TYPE_F64,  QF_TYPE_I8,   QF_TYPE_I16,
    QF_TYPE_I32,  QF_TYPE_I64,  QF_TYPE_F8_E4M3, QF_TYPE_F8_E5M2, QF_TYPE_F8_E8M0,
};
#define N_SIMD_TYPES (int)(sizeof simd_types / sizeof simd_types[0])

static size_t max_blocks(const struct qf_type_info *ti)
{
    /* 3 x vector width + 1, the width counted in blocks of the widest kernel (16 lanes of
     * elements for plain types, 16 blocks of 32, 8 super-blocks of 256) */
    return ti->blck == 1 ? 3 * 64 + 1 : ti->blck == 32 ? 3 * 16 + 1 : 3 * 8 + 1;
}

START_TEST(test_simd_dequantize)
{
    const int type = simd_types[_i];
    const struct qf_type_info *ti = qf_type_info(type);
    const size_t maxb = max_blocks(ti);
    const size_t nmax = maxb * ti->blck;
    uint8_t *src = malloc(maxb * ti->block_bytes + 1);
    float *a = malloc((nmax + 1) * 4), *b = malloc((nmax + 1) * 4);
    const int exact = ti->blck == 1;
    for (size_t l = 1; l < N_LEVELS; l++) {
        const struct kern_table *kt = kern_level_table(levels[l]);
        if (!kt)
            continue;
        for (size_t nb = 0; nb <= maxb; nb++) {
            for (int rep = 0; rep < 4; rep++) {
                const int off = rep & 1;
                fill_blocks(src + off, nb * ti->block_bytes, rep >= 2);
                memset(a, 0x11, (nmax + 1) * 4);
                memset(b, 0x11, (nmax + 1) * 4);
                kern_table_scalar.dq[type](src + off, a + off, nb);
                kt->dq[type](src + off, b + off, nb);
                size_t i = 0;
                while (i <= nmax && same_float(a[i], b[i], exact))
                    i++;
                if (i <= nmax)
                    ck_assert_msg(0, "%s dequantize %s: %zu blocks, element %zu: %08x != %08x",
                                  ti->name, levels[l], nb, i, fbits(a[i]), fbits(b[i]));
            }
        }
    }
    free(src);
    free(a);
    free(b);
}
END_TEST

static const int simd_qtypes[] = {
    QF_TYPE_F32,  QF_TYPE_F16,  QF_TYPE_BF16, QF_TYPE_Q4_0, QF_TYPE_Q4_1, QF_TYPE_Q5_0,
    QF_TYPE_Q5_1, QF_TYPE_Q8_0, QF_TYPE_Q8_1, QF_TYPE_Q2_K, QF_TYPE_Q3_K, QF_TYPE_Q4_K,
    QF_TYPE_Q5_K, QF_TYPE_Q6_K, QF_TYPE_Q8_K, QF_TYPE_IQ4_NL, QF_TYPE_IQ4_XS,
};
#define N_SIMD_QTYPES (int)(sizeof simd_qtypes / sizeof simd_qtypes[0])

START_TEST(test_simd_quantize)
{
    const int type = simd_qtypes[_i];
    const struct qf_type_info *ti = qf_type_info(type);
    const size_t maxb = max_blocks(ti);
    const size_t nmax = maxb * ti->blck;
    float *x = malloc((nmax + 1) * 4), *imx = malloc((nmax + 1) * 4);
    uint8_t *a = malloc(maxb * ti->block_bytes + 1), *b = malloc(maxb * ti->block_bytes + 1);
    const int weighted = ti->blck > 1;
    for (size_t l = 1; l < N_LEVELS; l++) {
        const struct kern_table *kt = kern_level_table(levels[l]);
        if (!kt)
            continue;
        for (int kind = 0; kind < K_COUNT; kind++) {
            for (size_t nb = 0; nb <= maxb; nb++) {
                if (ti->blck == 256 && kind != K_RANDOM && nb > 9 && nb % 4)
                    continue; /* keep the slow reference K-quant fits affordable */
                for (int im = 0; im <= weighted; im++) {
                    const int off = (int)(nb + (size_t)kind + (size_t)im) & 1;
                    const size_t n = nb * ti->blck, nbytes = nb * ti->block_bytes;
                    fill(x + off, n, kind);
                    for (size_t i = 0; i < n; i++)
                        imx[i] = (kind == K_ZERO && i % 3 == 0) ? 0.0f : 0.5f + (float)(rnd32() % 64) / 16.0f;
                    memset(a, 0x33, nbytes + 1);
                    memset(b, 0x33, nbytes + 1);
                    kern_table_scalar.q[type](x + off, a + off, (int64_t)n, im ? imx : NULL);
                    kt->q[type](x + off, b + off, (int64_t)n, im ? imx : NULL);
                    size_t i = 0;
                    while (i < nbytes + 1 && a[i] == b[i])
                        i++;
                    if (i < nbytes + 1)
                        ck_assert_msg(0,
                                      "%s quantize %s: kind %d, %zu blocks, imatrix %d, byte %zu "
                                      "(block %zu +%zu): %02x != %02x",
                                      ti->name, levels[l], kind, nb, im, i,
                                      (i - (size_t)off) / ti->block_bytes,
                                      (i - (size_t)off) % ti->block_bytes, a[i], b[i]);
                }
            }
        }
    }
    free(x);
    free(imx);
    free(a);
    free(b);
}
END_TEST

Suite *suite_kern(void);
Suite *suite_kern(void)
{
    Suite *s = suite_create("kern");
    TCase *tc = tcase_create("golden");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_golden_quantize, 0, N_GOLDEN);
    tcase_add_loop_test(tc, test_golden_dequantize, 0, N_GOLDEN);
    tcase_add_test(tc, test_golden_landmarks);
    suite_add_tcase(s, tc);
    tc = tcase_create("imatrix");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_imatrix_digests, 0,
                        (int)(sizeof imatrix_digests / sizeof imatrix_digests[0]));
    tcase_add_test(tc, test_imatrix_properties);
    suite_add_tcase(s, tc);
    tc = tcase_create("convert");
    tcase_add_test(tc, test_f16_conversions);
    tcase_add_test(tc, test_bf16_conversions);
    tcase_add_test(tc, test_fp8_decoders);
    suite_add_tcase(s, tc);
    tc = tcase_create("api");
    tcase_add_test(tc, test_api);
    tcase_add_test(tc, test_simd_levels);
    tcase_add_test(tc, test_simd_env);
    suite_add_tcase(s, tc);
    tc = tcase_create("simd");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_simd_dequantize, 0, N_SIMD_TYPES);
    tcase_add_loop_test(tc, test_simd_quantize, 0, N_SIMD_QTYPES);
    suite_add_tcase(s, tc);
    return s;
}
