/* check_repack.c - lossless repacking between GPTQ, AWQ and GGUF block layouts: the specs'
 * worked examples (gptq.md section 10, awq.md section 6), every SIMD level against the scalar
 * reference, round trips on checkpoints packed by AutoGPTQ / AutoAWQ, and the dequantized
 * values of the repacked layers against the library's dequantization of the originals. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qf/qf.h"
#include "repack_int.h"

Suite *suite_repack(void);

static void le32s(uint8_t *dst, const uint32_t *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        qfi_store_le32(dst + 4 * i, w[i]);
}

static uint32_t ld(const void *p, uint64_t i)
{
    return qfi_load_le32((const uint8_t *)p + 4 * i);
}

/* the levels this CPU runs: "scalar", then "avx2", "avx512" where supported */
static const struct qfi_repack_fns *level(size_t i)
{
    const char *n = qf_simd_supported(i);
    return n ? qfi_repack_fns_level(n) : NULL;
}

/* ---------------------------------------------------------------------------------------
 * The worked example: in = out = 8, G = 4, codes (2i + o) mod 16, zeros 1..8 / 8.
 */
static const uint32_t ex_gptq_qw[8] = {0xECA86420, 0xFDB97531, 0x0ECA8642, 0x1FDB9753,
                                       0x20ECA864, 0x31FDB975, 0x420ECA86, 0x531FDB97};
static const uint32_t ex_awq_qw[8] = {0x75316420, 0x97538642, 0xB975A864, 0xDB97CA86,
                                      0xFDB9ECA8, 0x1FDB0ECA, 0x31FD20EC, 0x531F420E};
static const uint32_t ex_v1[2] = {0x76543210, 0x77777777}, ex_v2[2] = {0x87654321, 0x88888888};
static const uint32_t ex_awq_qz[2] = {0x86427531, 0x88888888};

START_TEST(spec_example)
{
    uint8_t gq[32], aq[32], v1[8], v2[8], az[8], o1[32], o2[8], gi[32];
    struct qf_error e;
    struct qfi_repack_report rep;
    le32s(gq, ex_gptq_qw, 8);
    le32s(aq, ex_awq_qw, 8);
    le32s(v1, ex_v1, 2);
    le32s(v2, ex_v2, 2);
    le32s(az, ex_awq_qz, 2);
    for (size_t l = 0; level(l); l++) {
        ck_assert_int_eq(qf_simd_set(level(l)->name), QF_OK);
        /* GPTQ v1 and v2 -> AWQ */
        ck_assert_int_eq(qfi_repack_gptq_to_awq(8, 8, 4, QFI_GPTQ_V1, QFI_V1Z_REFUSE, NULL, gq,
                                                v1, o1, o2, &rep, &e), QF_OK);
        ck_assert_mem_eq(o1, aq, 32);
        ck_assert_mem_eq(o2, az, 8);
        ck_assert_uint_eq(rep.ambiguous_zeros, 0);
        memset(o2, 0xAB, sizeof o2);
        ck_assert_int_eq(qfi_repack_gptq_to_awq(8, 8, 4, QFI_GPTQ_V2, QFI_V1Z_REFUSE, NULL, gq,
                                                v2, o1, o2, &rep, &e), QF_OK);
        ck_assert_mem_eq(o2, az, 8);
        /* AWQ -> GPTQ v1 / v2, with the trivial g_idx 0 0 0 0 1 1 1 1 */
        ck_assert_int_eq(qfi_repack_awq_to_gptq(8, 8, 4, QFI_GPTQ_V1, aq, az, o1, o2, gi, &e),
                         QF_OK);
        ck_assert_mem_eq(o1, gq, 32);
        ck_assert_mem_eq(o2, v1, 8);
        for (uint32_t i = 0; i < 8; i++)
            ck_assert_uint_eq(ld(gi, i), i / 4);
        ck_assert_int_eq(qfi_repack_awq_to_gptq(8, 8, 4, QFI_GPTQ_V2, aq, az, o1, o2, NULL, &e),
                         QF_OK);
        ck_assert_mem_eq(o2, v2, 8);
    }
    ck_assert_int_eq(qf_simd_set("auto"), QF_OK);
    /* the byte image of the GPTQ qweight given in gptq.md section 10 */
    static const uint8_t bytes[16] = {0x20, 0x64, 0xA8, 0xEC, 0x31, 0x75, 0xB9, 0xFD,
                                      0x42, 0x86, 0xCA, 0x0E, 0x53, 0x97, 0xDB, 0x1F};
    ck_assert_int_eq(qfi_repack_awq_to_gptq(8, 8, 4, QFI_GPTQ_V1, aq, az, o1, o2, NULL, &e),
                     QF_OK);
    ck_assert_mem_eq(o1, bytes, 16);
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * SIMD levels == scalar reference
 */
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* one size: fill (0 random, 1 zeros, 2 all ones, 3 one bit), compare every level with the
 * scalar reference at misaligned offsets, and check both round trips */
static void one_size(uint64_t in, uint64_t out, int fill, size_t mis)
{
    const size_t n = (size_t)(in * out / 2); /* bytes of either qweight */
    uint8_t *src = malloc(n + 8), *ref = malloc(n + 8), *got = malloc(n + 8), *back = malloc(n);
    ck_assert(src && ref && got && back);
    uint8_t *s = src + mis, *g = got + (mis ^ 3);
    for (size_t i = 0; i < n; i++)
        s[i] = fill == 0 ? (uint8_t)rnd() : fill == 1 ? 0 : fill == 2 ? 0xFF
                                                                    : (i % 37 == 5 ? 0x10 : 0);
    const struct qfi_repack_fns *sc = level(0);
    ck_assert_str_eq(sc->name, "scalar");
    for (int dir = 0; dir < 2; dir++) {
        (dir ? sc->a2g : sc->g2a)(s, ref, in, out);
        /* the transposition is a bijection: back to the input */
        (dir ? sc->g2a : sc->a2g)(ref, back, in, out);
        ck_assert_msg(!memcmp(back, s, n), "scalar round trip %llu x %llu dir %d",
                      (unsigned long long)in, (unsigned long long)out, dir);
        for (size_t l = 1; level(l); l++) {
            const struct qfi_repack_fns *f = level(l);
            memset(got, 0x5A, n + 8);
            (dir ? f->a2g : f->g2a)(s, g, in, out);
            ck_assert_msg(!memcmp(g, ref, n), "%s != scalar: in %llu out %llu dir %d fill %d",
                          f->name, (unsigned long long)in, (unsigned long long)out, dir, fill);
            /* nothing written outside the destination */
            for (size_t i = 0; i < (mis ^ 3); i++)
                ck_assert_uint_eq(got[i], 0x5A);
            for (size_t i = (mis ^ 3) + n; i < n + 8; i++)
                ck_assert_uint_eq(got[i], 0x5A);
            (dir ? f->g2a : f->a2g)(g, back, in, out);
            ck_assert(!memcmp(back, s, n));
        }
    }
    free(src);
    free(ref);
    free(got);
    free(back);
}

START_TEST(simd_equals_scalar)
{
    /* out: below, at and around the 8- and 16-tile vector widths (64 and 128 columns) */
    static const uint64_t outs[] = {8, 16, 24, 56, 64, 72, 120, 128, 136, 200, 256, 1032};
    static const uint64_t ins[] = {8, 16, 24, 128, 136};
    for (size_t a = 0; a < sizeof ins / sizeof ins[0]; a++)
        for (size_t b = 0; b < sizeof outs / sizeof outs[0]; b++)
            for (int fill = 0; fill < 4; fill++)
                one_size(ins[a], outs[b], fill, (a + b + (size_t)fill) % 4);
}
END_TEST

/* one random code set checked element by element against the layout tables */
START_TEST(element_positions)
{
    const uint64_t in = 24, out = 136;
    uint8_t q[24][136];
    uint8_t *gq = calloc(in * out / 2, 1), *aq = malloc(in * out / 2);
    for (uint64_t i = 0; i < in; i++)
        for (uint64_t o = 0; o < out; o++) {
            q[i][o] = (uint8_t)(rnd() & 15);
            /* gptq.md section 3: word [i/8][o], bits 4(i%8) */
            uint8_t *w = gq + 4 * ((i / 8) * out + o);
            qfi_store_le32(w, qfi_load_le32(w) | (uint32_t)q[i][o] << (4 * (i % 8)));
        }
    for (size_t l = 0; level(l); l++) {
        level(l)->g2a(gq, aq, in, out);
        /* awq.md section 1: nibble p of word [i][c] = column 8c + [0,2,4,6,1,3,5,7][p] */
        static const int order[8] = {0, 2, 4, 6, 1, 3, 5, 7};
        for (uint64_t i = 0; i < in; i++)
            for (uint64_t c = 0; c < out / 8; c++)
                for (int p = 0; p < 8; p++)
                    ck_assert_uint_eq((ld(aq, i * (out / 8) + c) >> (4 * p)) & 15,
                                      q[i][8 * c + (uint64_t)order[p]]);
    }
    free(gq);
    free(aq);
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * Fixtures (AutoGPTQ / AutoAWQ checkpoints): round trips and dequantized values
 */
struct layer {
    struct qf_model *m;
    struct qf_layout *l;
    const struct qf_ltensor *t;
    uint64_t in, out, G;
    void *qw, *qz, *sc, *gi; /* copies of the parts (gi NULL if absent) */
    size_t nqw, nqz, nsc;
};

static void *part(struct layer *y, int role, size_t *n)
{
    const struct qf_tensor *p = y->t->parts[role];
    if (!p)
        return NULL;
    struct qf_error e;
    void *b = malloc(p->nbytes);
    ck_assert_ptr_nonnull(b);
    ck_assert_msg(qf_model_read(y->m, p, 0, b, p->nbytes, &e) == QF_OK, "%s", e.msg);
    if (n)
        *n = p->nbytes;
    return b;
}

static void layer_open_path(struct layer *y, const char *p, const char *name)
{
    struct qf_error e;
    ck_assert_msg(qf_model_open(p, NULL, 0, &y->m, &e) == QF_OK, "%s", e.msg);
    ck_assert_msg(qf_layout_scan(y->m, 0, &y->l, &e) == QF_OK, "%s", e.msg);
    y->t = qf_layout_find(y->l, name);
    ck_assert_ptr_nonnull(y->t);
    y->out = y->t->shape[0];
    y->in = y->t->shape[1];
    y->G = (uint64_t)y->t->group_size;
    y->qw = part(y, QF_LPART_QWEIGHT, &y->nqw);
    y->qz = part(y, QF_LPART_QZEROS, &y->nqz);
    y->sc = part(y, QF_LPART_SCALES, &y->nsc);
    y->gi = part(y, QF_LPART_G_IDX, NULL);
}

static void layer_open(struct layer *y, const char *dir, const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "fixtures/%s/model.safetensors", dir);
    layer_open_path(y, p, name);
}

static void layer_close(struct layer *y)
{
    free(y->qw);
    free(y->qz);
    free(y->sc);
    free(y->gi);
    qf_layout_free(y->l);
    qf_model_close(y->m);
}

static float *dequant_lib(struct layer *y)
{
    struct qf_error e;
    float *w = malloc(y->in * y->out * sizeof *w);
    ck_assert_ptr_nonnull(w);
    ck_assert_msg(qf_layout_dequantize(y->m, y->l, y->t, 0, UINT64_MAX, w, &e) == QF_OK, "%s",
                  e.msg);
    return w;
}

static float f16(const void *p, uint64_t i)
{
    float f;
    ck_assert_int_eq(qf_dequantize(QF_TYPE_F16, (const uint8_t *)p + 2 * i, &f, 1), QF_OK);
    return f;
}

static float round_f16(float x)
{
    uint8_t h[2];
    float f;
    ck_assert_int_eq(qf_quantize(QF_TYPE_F16, &x, h, 1, 1, NULL), 2);
    ck_assert_int_eq(qf_dequantize(QF_TYPE_F16, h, &f, 1), QF_OK);
    return f;
}

/* AWQ code / zero by awq.md section 1 */
static int awq_field(const void *buf, uint64_t row, uint64_t col, uint64_t out)
{
    static const int inv[8] = {0, 4, 1, 5, 2, 6, 3, 7};
    return (int)((ld(buf, row * (out / 8) + col / 8) >> (4 * inv[col % 8])) & 15);
}

/* GPTQ code / zero by gptq.md sections 3-5 (4 bits; zero + offset) */
static int gptq_code(const void *qw, uint64_t i, uint64_t o, uint64_t out)
{
    return (int)((ld(qw, (i / 8) * out + o) >> (4 * (i % 8))) & 15);
}

static int gptq_zero(const void *qz, uint64_t g, uint64_t o, uint64_t out, int v1)
{
    return (int)((ld(qz, g * (out / 8) + o / 8) >> (4 * (o % 8))) & 15) + v1;
}

static const struct {
    const char *dir;
    int awq;   /* 0: GPTQ v1 checkpoint, 1: AWQ GEMM */
    int has_z0; /* has a zero point 0 (then AWQ -> GPTQ v1 is refused) */
} fx[] = {
    {"st-gptq-b4-g128-sym", 0, 0},
    {"st-gptq-b4-g128-asym", 0, 0},
    {"st-gptq-b4-g32-sym", 0, 0},
    {"st-awq-gemm-b4-g128", 1, 0},
    {"st-awq-gemm-b4-g64", 1, 0},
};
static const char *const fx_layers[2] = {"model.layers.0.mlp.down_proj.weight",
                                         "model.layers.0.self_attn.k_proj.weight"};

START_TEST(fixture_round_trips)
{
    const int c = _i / 2;
    struct layer y;
    struct qf_error e;
    struct qfi_repack_report rep;
    layer_open(&y, fx[c].dir, fx_layers[_i % 2]);
    const uint64_t in = y.in, out = y.out, G = y.G, ng = in / G;
    ck_assert_uint_eq(y.nqw, in * out / 2);
    ck_assert_uint_eq(y.nqz, ng * out / 2);
    uint8_t *qw1 = malloc(y.nqw), *qz1 = malloc(y.nqz), *qw2 = malloc(y.nqw),
            *qz2 = malloc(y.nqz), *gi = malloc(4 * in);
    float *want = dequant_lib(&y);
    for (size_t l = 0; level(l); l++) {
        ck_assert_int_eq(qf_simd_set(level(l)->name), QF_OK);
        if (!fx[c].awq) {
            ck_assert_int_eq(y.t->zero_offset, 1);
            ck_assert_ptr_nonnull(y.gi);
            ck_assert_msg(qfi_repack_gptq_to_awq(in, out, G, QFI_GPTQ_V1, QFI_V1Z_REFUSE, y.gi,
                                                 y.qw, y.qz, qw1, qz1, &rep, &e) == QF_OK,
                          "%s", e.msg);
            ck_assert_uint_eq(rep.ambiguous_zeros, 0);
            /* the AWQ layer, read by awq.md's formula, gives the library's GPTQ values */
            for (uint64_t o = 0; o < out; o++)
                for (uint64_t i = 0; i < in; i++) {
                    const int q = awq_field(qw1, i, o, out), z = awq_field(qz1, i / G, o, out);
                    const float w = f16(y.sc, (i / G) * out + o) * (float)(q - z);
                    ck_assert_msg(w == want[o * in + i], "%s [%llu,%llu]: %g != %g", fx[c].dir,
                                  (unsigned long long)o, (unsigned long long)i, (double)w,
                                  (double)want[o * in + i]);
                }
            /* and back, byte for byte, with the same g_idx */
            ck_assert_int_eq(qfi_repack_awq_to_gptq(in, out, G, QFI_GPTQ_V1, qw1, qz1, qw2, qz2,
                                                    gi, &e), QF_OK);
            ck_assert(!memcmp(qw2, y.qw, y.nqw));
            ck_assert(!memcmp(qz2, y.qz, y.nqz));
            ck_assert(!memcmp(gi, y.gi, 4 * in));
        } else {
            ck_assert_int_eq(y.t->zero_offset, 0);
            ck_assert_int_eq(qfi_repack_awq_to_gptq(in, out, G, QFI_GPTQ_V2, y.qw, y.qz, qw1, qz1,
                                                    gi, &e), QF_OK);
            /* GPTQ formula on the repacked layer, rounded to f16 as AutoAWQ's dequant is */
            for (uint64_t o = 0; o < out; o++)
                for (uint64_t i = 0; i < in; i++) {
                    const int q = gptq_code(qw1, i, o, out), z = gptq_zero(qz1, i / G, o, out, 0);
                    const float w = round_f16((float)(q - z) * f16(y.sc, (i / G) * out + o));
                    ck_assert_msg(w == want[o * in + i], "%s [%llu,%llu]: %g != %g", fx[c].dir,
                                  (unsigned long long)o, (unsigned long long)i, (double)w,
                                  (double)want[o * in + i]);
                }
            ck_assert_int_eq(qfi_repack_gptq_to_awq(in, out, G, QFI_GPTQ_V2, QFI_V1Z_REFUSE, gi,
                                                    qw1, qz1, qw2, qz2, &rep, &e), QF_OK);
            ck_assert(!memcmp(qw2, y.qw, y.nqw));
            ck_assert(!memcmp(qz2, y.qz, y.nqz));
            /* through GPTQ v1 too, when no zero point is 0 */
            int rc = qfi_repack_awq_to_gptq(in, out, G, QFI_GPTQ_V1, y.qw, y.qz, qw1, qz1, NULL,
                                            &e);
            if (fx[c].has_z0) {
                ck_assert_int_eq(rc, QF_EUNSUPPORTED);
            } else {
                ck_assert_int_eq(rc, QF_OK);
                ck_assert_int_eq(qfi_repack_gptq_to_awq(in, out, G, QFI_GPTQ_V1, QFI_V1Z_REFUSE,
                                                        NULL, qw1, qz1, qw2, qz2, &rep, &e),
                                 QF_OK);
                ck_assert(!memcmp(qw2, y.qw, y.nqw));
                ck_assert(!memcmp(qz2, y.qz, y.nqz));
            }
        }
    }
    ck_assert_int_eq(qf_simd_set("auto"), QF_OK);
    free(want);
    free(qw1);
    free(qz1);
    free(qw2);
    free(qz2);
    free(gi);
    layer_close(&y);
}
END_TEST

/* act-order g_idx has no AWQ or GGUF equivalent: refused with the reason */
START_TEST(act_order_refused)
{
    struct layer y;
    struct qf_error e;
    struct qfi_repack_report rep;
    layer_open(&y, "st-gptq-b4-g128-asym-descact", fx_layers[0]);
    ck_assert_int_eq(y.t->act_order, 1);
    uint8_t *qw = malloc(y.nqw), *qz = malloc(y.nqz), *blk = malloc(y.in * y.out);
    ck_assert_int_eq(qfi_repack_gptq_to_awq(y.in, y.out, y.G, QFI_GPTQ_V1, QFI_V1Z_WRAP, y.gi,
                                            y.qw, y.qz, qw, qz, &rep, &e), QF_EUNSUPPORTED);
    ck_assert_msg(strstr(e.msg, "act-order g_idx"), "%s", e.msg);
    ck_assert_int_eq(qfi_repack_gptq_to_q4_1(y.in, y.out, y.G, QFI_GPTQ_V1, QFI_V1Z_WRAP, y.gi,
                                             y.qw, y.qz, y.sc, blk, &rep, &e), QF_EUNSUPPORTED);
    ck_assert_msg(strstr(e.msg, "act-order g_idx"), "%s", e.msg);
    /* without the g_idx the layer would repack (the caller must pass it) */
    ck_assert_int_eq(qfi_repack_gptq_to_awq(y.in, y.out, y.G, QFI_GPTQ_V1, QFI_V1Z_WRAP, NULL,
                                            y.qw, y.qz, qw, qz, &rep, &e), QF_OK);
    free(qw);
    free(qz);
    free(blk);
    layer_close(&y);
}
END_TEST

START_TEST(bad_dimensions)
{
    uint8_t b[64] = {0};
    struct qf_error e;
    ck_assert_int_eq(qfi_repack_gptq_to_awq(8, 12, 8, QFI_GPTQ_V2, 0, NULL, b, b, b + 32,
                                            b + 48, NULL, &e), QF_EINVAL);
    ck_assert_int_eq(qfi_repack_gptq_to_awq(12, 8, 4, QFI_GPTQ_V2, 0, NULL, b, b, b + 32,
                                            b + 48, NULL, &e), QF_EINVAL);
    ck_assert_int_eq(qfi_repack_awq_to_gptq(16, 8, 3, QFI_GPTQ_V2, b, b, b + 32, b + 48, NULL,
                                            &e), QF_EINVAL);
    ck_assert_int_eq(qfi_repack_awq_to_gptq(8, 8, 8, 7, b, b, b + 32, b + 48, NULL, &e),
                     QF_EINVAL);
    ck_assert_int_eq(qfi_repack_awq_to_gptq(1ull << 40, 1ull << 40, 8, QFI_GPTQ_V2, b, b, b, b,
                                            NULL, &e), QF_ELIMIT);
    /* GGUF blocks need groups of whole 32-element blocks */
    ck_assert_int_eq(qfi_repack_gptq_to_q4_0(64, 8, 16, QFI_GPTQ_V2, NULL, b, b, b, b, &e),
                     QF_EUNSUPPORTED);
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * GPTQ v1 <-> v2 zero points (gptq.md section 5)
 */
START_TEST(zeros_v1_v2)
{
    struct qf_error e;
    struct qfi_repack_report rep;
    uint8_t a[12], b[12], c[12];
    /* the section 10 words; the symmetric constants of every width */
    static const struct {
        int bits;
        uint64_t out;
        uint32_t v1[3], v2[3];
    } k[] = {
        {4, 8, {0x76543210}, {0x87654321}},
        {4, 8, {0x77777777}, {0x88888888}},
        {8, 4, {0x7F7F7F7F}, {0x80808080}},
        {2, 16, {0x55555555}, {0xAAAAAAAA}},
        {3, 32, {0xDB6DB6DB, 0xB6DB6DB6, 0x6DB6DB6D}, {0x24924924, 0x49249249, 0x92492492}},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        const size_t nw = k[i].bits == 3 ? 3 : 1;
        le32s(a, k[i].v1, nw);
        ck_assert_int_eq(qfi_repack_zeros_v1_to_v2(a, b, k[i].bits, 1, k[i].out,
                                                   QFI_V1Z_REFUSE, &rep, &e), QF_OK);
        for (size_t w = 0; w < nw; w++)
            ck_assert_uint_eq(ld(b, w), k[i].v2[w]);
        ck_assert_int_eq(qfi_repack_zeros_v2_to_v1(b, c, k[i].bits, 1, k[i].out, &e), QF_OK);
        ck_assert_mem_eq(c, a, 4 * nw);
    }
    /* the ambiguous all-ones v1 field: refused, or read as 0, or as GPTQModel's borrow */
    qfi_store_le32(a, 0x765F3210); /* column 4 stored as 15 */
    ck_assert_int_eq(qfi_repack_zeros_v1_to_v2(a, b, 4, 1, 8, QFI_V1Z_REFUSE, &rep, &e),
                     QF_EUNSUPPORTED);
    ck_assert_msg(strstr(e.msg, "group 0 column 4") && strstr(e.msg, "ambiguous"), "%s", e.msg);
    ck_assert_int_eq(qfi_repack_zeros_v1_to_v2(a, b, 4, 1, 8, QFI_V1Z_WRAP, &rep, &e), QF_OK);
    ck_assert_uint_eq(ld(b, 0), 0x87604321);
    ck_assert_uint_eq(rep.ambiguous_zeros, 1);
    ck_assert_uint_eq(rep.first_col, 4);
    /* GPTQModel: v2 0x87604321 - 0x11111111 = 0x764F3210 (column 5 borrowed); + back */
    qfi_store_le32(a, 0x764F3210);
    ck_assert_int_eq(qfi_repack_zeros_v1_to_v2(a, b, 4, 1, 8, QFI_V1Z_WORD, &rep, &e), QF_OK);
    ck_assert_uint_eq(ld(b, 0), 0x87604321);
    ck_assert_uint_eq(rep.ambiguous_zeros, 1);
    /* v2 -> v1 cannot store a zero point 0 */
    qfi_store_le32(a, 0x87604321);
    ck_assert_int_eq(qfi_repack_zeros_v2_to_v1(a, b, 4, 1, 8, &e), QF_EUNSUPPORTED);
    ck_assert_msg(strstr(e.msg, "group 0 column 4"), "%s", e.msg);
    /* 3-bit field straddling two words (column 10): v1 7 there is ambiguous */
    uint32_t w3[3] = {0xDB6DB6DB, 0xB6DB6DB6, 0x6DB6DB6D};
    w3[0] |= 3u << 30;
    w3[1] |= 1u;
    le32s(a, w3, 3);
    ck_assert_int_eq(qfi_repack_zeros_v1_to_v2(a, b, 3, 1, 32, QFI_V1Z_WRAP, &rep, &e), QF_OK);
    ck_assert_uint_eq(rep.ambiguous_zeros, 1);
    ck_assert_uint_eq(rep.first_col, 10);
    ck_assert_uint_eq(ld(b, 0), 0x24924924u & ~(3u << 30));
    ck_assert_uint_eq(ld(b, 1), 0x49249249u & ~1u);
    /* AWQ zero point 0 to GPTQ v1: refused with the reason */
    uint8_t qw[32] = {0}, qz[8], o1[32], o2[8];
    qfi_store_le32(qz, 0x88888880);
    qfi_store_le32(qz + 4, 0x88888888);
    ck_assert_int_eq(qfi_repack_awq_to_gptq(8, 8, 4, QFI_GPTQ_V1, qw, qz, o1, o2, NULL, &e),
                     QF_EUNSUPPORTED);
    ck_assert_msg(strstr(e.msg, "zero point 0 at group 0 column 0"), "%s", e.msg);
    ck_assert_int_eq(qfi_repack_awq_to_gptq(8, 8, 4, QFI_GPTQ_V2, qw, qz, o1, o2, NULL, &e),
                     QF_OK);
    ck_assert_uint_eq(ld(o2, 0), 0x88888880);
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * GGUF blocks (ggml-types.md section 5)
 */
/* Q4_0, out = 8 rows of two blocks; block (o, b): d = (o + 1) / 4 * (b ? -1 : 1), byte j =
 * j | (15 - j) << 4, so element j = j and element j + 16 = 15 - j. */
static void q4_0_tensor(uint8_t *t)
{
    for (int o = 0; o < 8; o++)
        for (int b = 0; b < 2; b++) {
            uint8_t *blk = t + (o * 2 + b) * 18;
            float d = (float)(o + 1) / 4 * (b ? -1.0f : 1.0f);
            ck_assert_int_eq(qf_quantize(QF_TYPE_F16, &d, blk, 1, 1, NULL), 2);
            for (int j = 0; j < 16; j++)
                blk[2 + j] = (uint8_t)(j | (15 - j) << 4);
        }
}

START_TEST(q4_0_gptq)
{
    uint8_t t[8 * 2 * 18], back[8 * 2 * 18], qw[8 * 8 * 4], qz[2 * 4], sc[2 * 8 * 2], gi[64 * 4];
    struct qf_error e;
    q4_0_tensor(t);
    ck_assert_int_eq(qfi_repack_q4_0_to_gptq(64, 8, QFI_GPTQ_V1, t, qw, qz, sc, gi, &e), QF_OK);
    /* block inputs 0..7 hold 0..7, 8..15 hold 8..15, 16..23 hold 15..8, 24..31 hold 7..0 */
    static const uint32_t rows[4] = {0x76543210, 0xFEDCBA98, 0x89ABCDEF, 0x01234567};
    for (uint64_t r = 0; r < 8; r++)
        for (uint64_t o = 0; o < 8; o++)
            ck_assert_uint_eq(ld(qw, r * 8 + o), rows[r % 4]);
    ck_assert_uint_eq(ld(qz, 0), 0x77777777);
    ck_assert_uint_eq(ld(qz, 1), 0x77777777);
    for (uint64_t o = 0; o < 8; o++) {
        ck_assert_float_eq(f16(sc, o), (float)(o + 1) / 4);
        ck_assert_float_eq(f16(sc, 8 + o), -(float)(o + 1) / 4);
    }
    for (uint32_t i = 0; i < 64; i++)
        ck_assert_uint_eq(ld(gi, i), i / 32);
    /* same floats: GGUF's (q - 8) * d against GPTQ's scale * (q - z) */
    float want[512];
    ck_assert_int_eq(qf_dequantize(QF_TYPE_Q4_0, t, want, 512), QF_OK);
    for (uint64_t o = 0; o < 8; o++)
        for (uint64_t i = 0; i < 64; i++)
            ck_assert_float_eq(f16(sc, (i / 32) * 8 + o) *
                                   (float)(gptq_code(qw, i, o, 8) - gptq_zero(qz, i / 32, o, 8, 1)),
                               want[o * 64 + i]);
    /* and back, exact, from v1 and from v2 zeros, also with a larger group of whole blocks */
    ck_assert_int_eq(qfi_repack_gptq_to_q4_0(64, 8, 32, QFI_GPTQ_V1, gi, qw, qz, sc, back, &e),
                     QF_OK);
    ck_assert_mem_eq(back, t, sizeof t);
    uint8_t qz2[8];
    ck_assert_int_eq(qfi_repack_q4_0_to_gptq(64, 8, QFI_GPTQ_V2, t, qw, qz2, sc, NULL, &e), QF_OK);
    ck_assert_uint_eq(ld(qz2, 0), 0x88888888);
    ck_assert_int_eq(qfi_repack_gptq_to_q4_0(64, 8, 32, QFI_GPTQ_V2, NULL, qw, qz2, sc, back,
                                             &e), QF_OK);
    ck_assert_mem_eq(back, t, sizeof t);
    /* an asymmetric zero point has no Q4_0 form */
    qfi_store_le32(qz2 + 4, 0x88888988);
    ck_assert_int_eq(qfi_repack_gptq_to_q4_0(64, 8, 32, QFI_GPTQ_V2, NULL, qw, qz2, sc, back,
                                             &e), QF_EUNSUPPORTED);
    ck_assert_msg(strstr(e.msg, "zero point 9 at group 1 column 2"), "%s", e.msg);
}
END_TEST

START_TEST(q8_0_gptq)
{
    /* 8 rows of one block: qs[e] = 8e - 128 + o (codes 8e + o) */
    uint8_t t[8 * 34], back[8 * 34], qw[8 * 8 * 4], qz[8], sc[16];
    struct qf_error e;
    for (int o = 0; o < 8; o++) {
        float d = 0.5f + (float)o;
        ck_assert_int_eq(qf_quantize(QF_TYPE_F16, &d, t + o * 34, 1, 1, NULL), 2);
        for (int j = 0; j < 32; j++)
            t[o * 34 + 2 + j] = (uint8_t)(int8_t)(8 * j - 128 + o);
    }
    ck_assert_int_eq(qfi_repack_q8_0_to_gptq(32, 8, QFI_GPTQ_V1, t, qw, qz, sc, NULL, &e), QF_OK);
    for (uint64_t r = 0; r < 8; r++)
        for (uint64_t o = 0; o < 8; o++) {
            uint32_t w = 0; /* inputs 4r..4r+3, code 8i + o, bytes LSB first */
            for (uint32_t k = 0; k < 4; k++)
                w |= (uint32_t)(8 * (4 * r + k) + o) << (8 * k);
            ck_assert_uint_eq(ld(qw, r * 8 + o), w);
        }
    ck_assert_uint_eq(ld(qz, 0), 0x7F7F7F7F);
    ck_assert_uint_eq(ld(qz, 1), 0x7F7F7F7F);
    float want[256];
    ck_assert_int_eq(qf_dequantize(QF_TYPE_Q8_0, t, want, 256), QF_OK);
    for (uint64_t o = 0; o < 8; o++)
        for (uint64_t i = 0; i < 32; i++) {
            const int q = (int)((ld(qw, (i / 4) * 8 + o) >> (8 * (i % 4))) & 255);
            ck_assert_float_eq(f16(sc, o) * (float)(q - 128), want[o * 32 + i]);
        }
    ck_assert_int_eq(qfi_repack_gptq_to_q8_0(32, 8, 32, QFI_GPTQ_V1, NULL, qw, qz, sc, back, &e),
                     QF_OK);
    ck_assert_mem_eq(back, t, sizeof t);
}
END_TEST

/* GPTQ int4 asym -> Q4_1 with hand-worked m values */
START_TEST(gptq_to_q4_1)
{
    /* in 32, out 8, g32: codes q = (i + o) % 16; scales 0.5 (columns 0-3), 0x2E66 (4-7);
     * zeros (v2) 3 (columns 0-3), 5 (4-7) */
    uint8_t qw[4 * 8 * 4], qz[4], sc[16], blk[8 * 20];
    struct qf_error e;
    struct qfi_repack_report rep;
    for (uint64_t r = 0; r < 4; r++)
        for (uint64_t o = 0; o < 8; o++) {
            uint32_t w = 0;
            for (uint32_t k = 0; k < 8; k++)
                w |= (uint32_t)((8 * r + k + o) % 16) << (4 * k);
            qfi_store_le32(qw + 4 * (r * 8 + o), w);
        }
    for (int o = 0; o < 8; o++)
        qfi_store_le16(sc + 2 * o, o < 4 ? 0x3800 : 0x2E66);
    qfi_store_le32(qz, 0x55553333);
    ck_assert_int_eq(qfi_repack_gptq_to_q4_1(32, 8, 32, QFI_GPTQ_V2, QFI_V1Z_REFUSE, NULL, qw,
                                             qz, sc, blk, &rep, &e), QF_OK);
    /* 0.5 * 3 = 1.5 is exact; 0x2E66 = 0.0999755859375, times 5 = 0.4998779296875, halfway
     * between the f16 neighbours 0.498779296875 + 2^-12 steps: 2047.5 steps of 2^-12, ties to
     * even -> 0.5, an error of 2^-13 */
    for (int o = 0; o < 8; o++) {
        ck_assert_uint_eq(qfi_load_le16(blk + 20 * o), o < 4 ? 0x3800 : 0x2E66);
        ck_assert_float_eq(f16(blk + 20 * o + 2, 0), o < 4 ? -1.5f : -0.5f);
        for (int j = 0; j < 16; j++)
            ck_assert_uint_eq(blk[20 * o + 4 + j], ((j + o) % 16) | ((j + 16 + o) % 16) << 4);
    }
    ck_assert_double_eq(rep.q41_max_m_err, 1.0 / 8192);
    /* the largest weight error, recomputed from GGUF's own Q4_1 dequantization */
    float got[256];
    ck_assert_int_eq(qf_dequantize(QF_TYPE_Q4_1, blk, got, 256), QF_OK);
    double mx = 0;
    for (int o = 0; o < 8; o++)
        for (int i = 0; i < 32; i++) {
            const int q = (i + o) % 16, z = o < 4 ? 3 : 5;
            const float w = (o < 4 ? 0.5f : 0.0999755859375f) * (float)(q - z);
            mx = fmax(mx, fabs((double)got[o * 32 + i] - (double)w));
            if (o < 4)
                ck_assert_float_eq(got[o * 32 + i], w);
        }
    ck_assert_double_eq(rep.q41_max_abs_err, mx);
    ck_assert(mx >= 1.0 / 8192 - 1e-9 && mx < 1.0 / 4096);
    /* the same layer in AWQ gives the same blocks */
    uint8_t aqw[sizeof qw], aqz[4], blk2[sizeof blk];
    ck_assert_int_eq(qfi_repack_gptq_to_awq(32, 8, 32, QFI_GPTQ_V2, QFI_V1Z_REFUSE, NULL, qw, qz,
                                            aqw, aqz, NULL, &e), QF_OK);
    ck_assert_int_eq(qfi_repack_awq_to_q4_1(32, 8, 32, aqw, aqz, sc, blk2, &rep, &e), QF_OK);
    ck_assert_mem_eq(blk2, blk, sizeof blk);
    /* a minimum beyond f16 is refused */
    qfi_store_le16(sc, 0x7BFF); /* 65504 * 3 */
    ck_assert_int_eq(qfi_repack_gptq_to_q4_1(32, 8, 32, QFI_GPTQ_V2, QFI_V1Z_REFUSE, NULL, qw,
                                             qz, sc, blk, &rep, &e), QF_EUNSUPPORTED);
}
END_TEST

/* AutoGPTQ checkpoints -> GGUF blocks: the blocks' own dequantization (qf_dequantize) gives
 * the library's GPTQ values exactly for the symmetric ones (and g32 goes back byte for byte);
 * the asymmetric one -> Q4_1 differs by the f16 rounding of m, as the report says. */
static const struct {
    const char *dir;
    int type;
} fxg[] = {
    {"st-gptq-b4-g32-sym", QF_TYPE_Q4_0},
    {"st-gptq-b4-g128-sym", QF_TYPE_Q4_0},
    {"st-gptq-b8-gnone-sym", QF_TYPE_Q8_0},
    {"st-gptq-b4-g128-asym", QF_TYPE_Q4_1},
};

START_TEST(fixture_gguf_blocks)
{
    struct layer y;
    struct qf_error e;
    struct qfi_repack_report rep;
    const int c = _i / 2, type = fxg[c].type;
    layer_open(&y, fxg[c].dir, fx_layers[_i % 2]);
    const uint64_t in = y.in, out = y.out, G = y.G;
    const size_t bb = type == QF_TYPE_Q4_0 ? 18 : type == QF_TYPE_Q8_0 ? 34 : 20;
    uint8_t *blk = malloc(in / 32 * bb * out);
    float *want = dequant_lib(&y), *got = malloc(in * out * sizeof *got);
    int rc = type == QF_TYPE_Q4_0 ? qfi_repack_gptq_to_q4_0(in, out, G, QFI_GPTQ_V1, y.gi, y.qw,
                                                            y.qz, y.sc, blk, &e)
           : type == QF_TYPE_Q8_0 ? qfi_repack_gptq_to_q8_0(in, out, G, QFI_GPTQ_V1, y.gi, y.qw,
                                                            y.qz, y.sc, blk, &e)
                                  : qfi_repack_gptq_to_q4_1(in, out, G, QFI_GPTQ_V1,
                                                            QFI_V1Z_REFUSE, y.gi, y.qw, y.qz,
                                                            y.sc, blk, &rep, &e);
    ck_assert_msg(rc == QF_OK, "%s: %s", fxg[c].dir, e.msg);
    ck_assert_int_eq(qf_dequantize(type, blk, got, in * out), QF_OK);
    if (type != QF_TYPE_Q4_1) {
        ck_assert_msg(!memcmp(got, want, in * out * sizeof *got), "%s", fxg[c].dir);
    } else {
        double mx = 0;
        for (uint64_t k = 0; k < in * out; k++)
            mx = fmax(mx, fabs((double)got[k] - (double)want[k]));
        ck_assert_double_eq(mx, rep.q41_max_abs_err);
        /* half an f16 step of the largest |m| at most, plus the f32 rounding of q * d + m */
        ck_assert(rep.q41_max_m_err > 0 && rep.q41_max_m_err <= mx * (1 + 1e-6) + 1e-12);
        ck_assert(mx < 1e-3);
    }
    if (G == 32 && type == QF_TYPE_Q4_0) {
        uint8_t *qw = malloc(y.nqw), *qz = malloc(y.nqz), *sc = malloc(y.nsc),
                *gi = malloc(4 * in);
        ck_assert_int_eq(qfi_repack_q4_0_to_gptq(in, out, QFI_GPTQ_V1, blk, qw, qz, sc, gi, &e),
                         QF_OK);
        ck_assert(!memcmp(qw, y.qw, y.nqw));
        ck_assert(!memcmp(qz, y.qz, y.nqz));
        ck_assert(!memcmp(sc, y.sc, y.nsc));
        ck_assert(!memcmp(gi, y.gi, 4 * in));
        free(qw);
        free(qz);
        free(sc);
        free(gi);
    }
    /* an asymmetric layer has no Q4_0 form */
    if (type == QF_TYPE_Q4_1)
        ck_assert_int_eq(qfi_repack_gptq_to_q4_0(in, out, G, QFI_GPTQ_V1, y.gi, y.qw, y.qz, y.sc,
                                                 blk, &e), QF_EUNSUPPORTED);
    free(blk);
    free(want);
    free(got);
    layer_close(&y);
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * The layout writer (qf/lwrite.h) takes these kernels for GPTQ 4-bit <-> AWQ GEMM: the layers
 * are marked repacked, not decoded (no measured error), and the written tensors are the
 * kernels' bytes (GPTQ -> AWQ) and the original checkpoint's (and back). */
static void rm_dir(const char *dir)
{
    char p[600];
    static const char *const files[] = {"model.safetensors", "config.json",
                                        "quantize_config.json"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

static void lwrite_to(const char *model, const char *layout, const char *dir)
{
    struct qf_error e;
    struct qf_model *m;
    struct qf_lwrite_plan *pl;
    struct qf_lwrite_opts o;
    struct qf_lwrite_run_opts ro;
    ck_assert_msg(qf_model_open(model, NULL, 0, &m, &e) == QF_OK, "%s", e.msg);
    qf_lwrite_opts_init(&o);
    o.layout = layout;
    o.sym = 0;
    ck_assert_msg(qf_lwrite_plan_new(m, &o, &pl, &e) == QF_OK, "%s", e.msg);
    memset(&ro, 0, sizeof ro);
    ro.no_fsync = 1;
    ck_assert_msg(qf_lwrite_run(pl, dir, &ro, &e) == QF_OK, "%s", e.msg);
    size_t nq = 0;
    for (size_t i = 0; i < qf_lwrite_plan_n_items(pl); i++) {
        const struct qf_lwrite_item *it = qf_lwrite_plan_item(pl, i);
        if (!it->quantized)
            continue;
        nq++;
        ck_assert_int_eq(it->repacked, 1);
        ck_assert_int_eq(it->lossy, 0);
        ck_assert_int_eq(it->measured, 0);
    }
    ck_assert_uint_eq(nq, 2);
    qf_lwrite_plan_free(pl);
    qf_model_close(m);
}

static void same_part(struct layer *a, struct layer *b, int role)
{
    size_t na, nb;
    void *x = part(a, role, &na), *y = part(b, role, &nb);
    ck_assert_uint_eq(na, nb);
    ck_assert(!memcmp(x, y, na));
    free(x);
    free(y);
}

START_TEST(lwrite_fast_path)
{
    char d1[200], d2[256], p[300];
    snprintf(d1, sizeof d1, "%s/qf-repack-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(d1));
    snprintf(d2, sizeof d2, "%s/back", d1);
    lwrite_to("fixtures/st-gptq-b4-g128-asym/model.safetensors", "awq", d1);
    snprintf(p, sizeof p, "%s/model.safetensors", d1);
    lwrite_to(p, "gptq", d2);
    for (int k = 0; k < 2; k++) {
        struct layer g, a, b;
        struct qf_error e;
        layer_open(&g, "st-gptq-b4-g128-asym", fx_layers[k]);
        layer_open_path(&a, p, fx_layers[k]);
        uint8_t *qw = malloc(g.nqw), *qz = malloc(g.nqz);
        ck_assert_int_eq(qfi_repack_gptq_to_awq(g.in, g.out, g.G, QFI_GPTQ_V1, QFI_V1Z_REFUSE,
                                                g.gi, g.qw, g.qz, qw, qz, NULL, &e), QF_OK);
        ck_assert(a.nqw == g.nqw && !memcmp(a.qw, qw, g.nqw));
        ck_assert(a.nqz == g.nqz && !memcmp(a.qz, qz, g.nqz));
        ck_assert(a.nsc == g.nsc && !memcmp(a.sc, g.sc, g.nsc));
        char p2[300];
        snprintf(p2, sizeof p2, "%s/model.safetensors", d2);
        layer_open_path(&b, p2, fx_layers[k]);
        for (int role = QF_LPART_QWEIGHT; role <= QF_LPART_G_IDX; role++)
            same_part(&g, &b, role);
        free(qw);
        free(qz);
        layer_close(&g);
        layer_close(&a);
        layer_close(&b);
    }
    rm_dir(d2);
    rm_dir(d1);
}
END_TEST

Suite *suite_repack(void)
{
    Suite *s = suite_create("repack");
    TCase *tc = tcase_create("repack");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, spec_example);
    tcase_add_test(tc, simd_equals_scalar);
    tcase_add_test(tc, element_positions);
    tcase_add_loop_test(tc, fixture_round_trips, 0, (int)(2 * sizeof fx / sizeof fx[0]));
    tcase_add_test(tc, act_order_refused);
    tcase_add_test(tc, bad_dimensions);
    tcase_add_test(tc, zeros_v1_v2);
    tcase_add_test(tc, q4_0_gptq);
    tcase_add_test(tc, q8_0_gptq);
    tcase_add_test(tc, gptq_to_q4_1);
    tcase_add_loop_test(tc, fixture_gguf_blocks, 0, (int)(2 * sizeof fxg / sizeof fxg[0]));
    tcase_add_test(tc, lwrite_fast_path);
    suite_add_tcase(s, tc);
    return s;
}
