/* check_lwrite.c - writing GPTQ / AWQ layouts: the packers against the specs' hand-worked
 * words and against the bytes AutoGPTQ / AutoAWQ wrote (codes recovered by unpacking the
 * fixtures), the round-to-nearest parameters against the tools' own parameters computed from
 * the same original weights, and whole checkpoints written, read back and dequantized. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qf/qf.h"
#include "qf/lwrite.h"
#include "lwrite_int.h"

Suite *suite_lwrite(void);

/* ---------------------------------------------------------------------------------------
 * Helpers */
#include "lw_tmp.h"

static float *read_f32(struct qf_model *m, const char *name, uint64_t *n)
{
    const struct qf_tensor *t;
    uint8_t *b = read_all(m, name, &t);
    float *f = malloc(t->nelem * sizeof *f);
    ck_assert_int_eq(qf_dequantize(t->type, b, f, t->nelem), QF_OK);
    free(b);
    *n = t->nelem;
    return f;
}

/* field k (b bits) of a little-endian bitstream of words stride bytes apart (spec §3) */
static uint32_t field(const uint8_t *base, uint64_t stride, uint64_t k, int b)
{
    uint64_t bit = k * (uint64_t)b, w = bit / 32, sh = bit % 32;
    uint64_t v = le32(base + w * stride);
    if (sh + (uint64_t)b > 32)
        v |= (uint64_t)le32(base + (w + 1) * stride) << 32;
    return (uint32_t)(v >> sh) & ((1u << b) - 1);
}

static void words_to_le(const uint32_t *w, uint64_t n, uint8_t *dst)
{
    qfi_lw_store_words(w, n, dst);
}

/* ---------------------------------------------------------------------------------------
 * Spec examples */

/* gptq.md §10 / awq.md §6: in = out = 8, G = 4, codes (2i + o) mod 16, zeros 1 + o and 8 */
START_TEST(spec_example_gptq_awq)
{
    uint8_t q[64], z[16];
    for (int o = 0; o < 8; o++) {
        for (int i = 0; i < 8; i++)
            q[o * 8 + i] = (uint8_t)((2 * i + o) % 16);
        z[o] = (uint8_t)(1 + o);
        z[8 + o] = 8;
    }
    uint32_t qw[8] = {0}, z1[2] = {0}, z2[2] = {0};
    qfi_gptq_pack_qweight(q, 0, 8, 8, 8, 4, qw);
    qfi_gptq_pack_qzeros(z, 0, 8, 8, 2, 4, 1, z1);
    qfi_gptq_pack_qzeros(z, 0, 8, 8, 2, 4, 0, z2);
    static const uint32_t want_qw[8] = {0xECA86420, 0xFDB97531, 0x0ECA8642, 0x1FDB9753,
                                        0x20ECA864, 0x31FDB975, 0x420ECA86, 0x531FDB97};
    ck_assert_int_eq(memcmp(qw, want_qw, sizeof qw), 0);
    ck_assert_uint_eq(z1[0], 0x76543210);
    ck_assert_uint_eq(z1[1], 0x77777777);
    ck_assert_uint_eq(z2[0], 0x87654321);
    ck_assert_uint_eq(z2[1], 0x88888888);
    uint8_t bytes[32];
    words_to_le(qw, 8, bytes);
    static const uint8_t want_b[8] = {0x20, 0x64, 0xA8, 0xEC, 0x31, 0x75, 0xB9, 0xFD};
    ck_assert_int_eq(memcmp(bytes, want_b, 8), 0);
    /* chunked in two halves of rows gives the same words */
    uint32_t qw2[8] = {0};
    qfi_gptq_pack_qweight(q, 0, 3, 8, 8, 4, qw2);
    qfi_gptq_pack_qweight(q + 24, 3, 5, 8, 8, 4, qw2);
    ck_assert_int_eq(memcmp(qw, qw2, sizeof qw), 0);

    uint32_t aw[8] = {0}, az[2] = {0};
    qfi_awq_pack_gemm(q, z, 0, 8, 8, 8, 2, aw, az);
    static const uint32_t want_aw[8] = {0x75316420, 0x97538642, 0xB975A864, 0xDB97CA86,
                                        0xFDB9ECA8, 0x1FDB0ECA, 0x31FD20EC, 0x531F420E};
    ck_assert_int_eq(memcmp(aw, want_aw, sizeof aw), 0);
    ck_assert_uint_eq(az[0], 0x86427531);
    ck_assert_uint_eq(az[1], 0x88888888);
}
END_TEST

/* gptq.md §10: 32 rows of codes k mod 8 at 3 bits; §5: symmetric zero-point words */
START_TEST(spec_words_3bit_and_sym)
{
    uint8_t q[32];
    for (int k = 0; k < 32; k++)
        q[k] = (uint8_t)(k % 8);
    uint32_t w[3] = {0};
    qfi_gptq_pack_qweight(q, 0, 1, 1, 32, 3, w);
    ck_assert_uint_eq(w[0], 0x88FAC688);
    ck_assert_uint_eq(w[1], 0xC688FAC6);
    ck_assert_uint_eq(w[2], 0xFAC688FA);
    static const struct { int b; uint32_t v1[3], v2[3]; } sym[] = {
        {4, {0x77777777, 0x77777777, 0x77777777}, {0x88888888, 0x88888888, 0x88888888}},
        {8, {0x7F7F7F7F, 0x7F7F7F7F, 0x7F7F7F7F}, {0x80808080, 0x80808080, 0x80808080}},
        {2, {0x55555555, 0x55555555, 0x55555555}, {0xAAAAAAAA, 0xAAAAAAAA, 0xAAAAAAAA}},
        {3, {0xDB6DB6DB, 0xB6DB6DB6, 0x6DB6DB6D}, {0x24924924, 0x49249249, 0x92492492}},
    };
    for (size_t s = 0; s < sizeof sym / sizeof sym[0]; s++) {
        uint8_t z[32];
        memset(z, 1 << (sym[s].b - 1), sizeof z);
        int nw = sym[s].b == 3 ? 3 : sym[s].b == 8 ? 8 : sym[s].b;
        uint32_t a[8] = {0}, b[8] = {0};
        qfi_gptq_pack_qzeros(z, 0, 32, 32, 1, sym[s].b, 1, a);
        qfi_gptq_pack_qzeros(z, 0, 32, 32, 1, sym[s].b, 0, b);
        for (int k = 0; k < nw; k++) {
            ck_assert_uint_eq(a[k], sym[s].v1[k % 3]);
            ck_assert_uint_eq(b[k], sym[s].v2[k % 3]);
        }
    }
    /* v1 with z = 0: the field is all ones and its neighbours are untouched (no borrow) */
    uint8_t z[8] = {3, 0, 5, 1, 1, 1, 1, 1};
    uint32_t v = 0;
    qfi_gptq_pack_qzeros(z, 0, 8, 8, 1, 4, 1, &v);
    ck_assert_uint_eq(v, 0x000004F2);
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * Fixtures: unpack the tools' tensors to codes, pack them again, compare bytes */
struct fx {
    const char *dir;
    int awq;      /* 0 GPTQ, 1 AWQ GEMM, 2 AWQ GEMV */
    int bits;
    int64_t G;    /* -1 per channel */
};

static const struct fx fixtures[] = {
    {"st-gptq-b4-g128-asym-descact", 0, 4, 128}, {"st-gptq-b3-g32-sym-descact", 0, 3, 32},
    {"st-gptq-b8-gnone-sym", 0, 8, -1},          {"st-gptq-b3-gnone-asym", 0, 3, -1},
    {"st-gptq-b2-g32-asym", 0, 2, 32},           {"st-gptq-b4-g128-sym", 0, 4, 128},
    {"st-gptq-b4-gnone-asym-descact", 0, 4, -1}, {"st-awq-gemm-b4-g128", 1, 4, 128},
    {"st-awq-gemv-b4-g64", 2, 4, 64},
};

static const char *const layers[] = {"model.layers.0.mlp.down_proj",
                                     "model.layers.0.self_attn.k_proj"};
static const uint64_t layer_out[] = {128, 64}, layer_in[] = {384, 256};

static struct qf_model *open_fixture(const char *dir)
{
    char p[512];
    struct qf_error e;
    struct qf_model *m;
    snprintf(p, sizeof p, "fixtures/%s/model.safetensors", dir);
    ck_assert_msg(qf_model_open(p, NULL, QF_OPEN_NO_CONFIG, &m, &e) == QF_OK, "%s", e.msg);
    return m;
}

START_TEST(fixture_bytes)
{
    const struct fx *f = &fixtures[_i];
    struct qf_model *m = open_fixture(f->dir);
    for (int L = 0; L < 2; L++) {
        char nm[256];
        uint64_t out = layer_out[L], in = layer_in[L];
        uint64_t G = f->G == -1 ? in : (uint64_t)f->G, ng = in / G;
        const struct qf_tensor *tq, *tz, *ts;
        snprintf(nm, sizeof nm, "%s.qweight", layers[L]);
        uint8_t *qw = read_all(m, nm, &tq);
        snprintf(nm, sizeof nm, "%s.qzeros", layers[L]);
        uint8_t *qz = read_all(m, nm, &tz);
        snprintf(nm, sizeof nm, "%s.scales", layers[L]);
        uint8_t *sc = read_all(m, nm, &ts);
        uint8_t *q = malloc(out * in), *z = malloc(ng * out);
        uint32_t *pw = calloc(tq->nbytes / 4, 4), *pz = calloc(tz->nbytes / 4, 4);
        uint8_t *bw = malloc(tq->nbytes), *bz = malloc(tz->nbytes);
        int b = f->bits, maxq = (1 << b) - 1;
        if (f->awq == 0) {
            for (uint64_t o = 0; o < out; o++)
                for (uint64_t i = 0; i < in; i++)
                    q[o * in + i] = (uint8_t)field(qw + 4 * o, 4 * out, i, b);
            /* v1: z = stored + 1 (the tools' cuda_old reading, wrapping all-ones to 0) */
            uint64_t zc = tz->shape[1];
            for (uint64_t g = 0; g < ng; g++)
                for (uint64_t o = 0; o < out; o++)
                    z[g * out + o] =
                        (uint8_t)((field(qz + 4 * g * zc, 4, o, b) + 1) & (uint32_t)maxq);
            qfi_gptq_pack_qweight(q, 0, out, out, in, b, pw);
            qfi_gptq_pack_qzeros(z, 0, out, out, ng, b, 1, pz);
        } else if (f->awq == 1) {
            static const int rev[8] = {0, 4, 1, 5, 2, 6, 3, 7};
            for (uint64_t o = 0; o < out; o++) {
                for (uint64_t i = 0; i < in; i++)
                    q[o * in + i] =
                        (uint8_t)((le32(qw + 4 * (i * (out / 8) + o / 8)) >> (4 * rev[o % 8])) & 15);
                for (uint64_t g = 0; g < ng; g++)
                    z[g * out + o] =
                        (uint8_t)((le32(qz + 4 * (g * (out / 8) + o / 8)) >> (4 * rev[o % 8])) & 15);
            }
            qfi_awq_pack_gemm(q, z, 0, out, out, in, ng, pw, pz);
        } else {
            uint64_t wz = tz->shape[1];
            ck_assert_uint_eq(wz, qfi_awq_gemv_zeros_width(in, G));
            float *s = malloc(ng * out * sizeof *s);
            for (uint64_t o = 0; o < out; o++) {
                for (uint64_t i = 0; i < in; i++)
                    q[o * in + i] = (uint8_t)((le32(qw + 4 * (o * (in / 8) + i / 8)) >> (4 * (i % 8))) & 15);
                for (uint64_t g = 0; g < ng; g++) {
                    z[g * out + o] = (uint8_t)((le32(qz + 4 * (o * wz + g / 8)) >> (4 * (g % 8))) & 15);
                    uint16_t h = (uint16_t)(sc[2 * (o * 8 * wz + g)] | sc[2 * (o * 8 * wz + g) + 1] << 8);
                    s[g * out + o] = qfi_lw_f16_value(h);
                }
            }
            uint16_t *ps = calloc(ts->nelem, 2);
            qfi_awq_pack_gemv(q, z, s, 0, out, out, in, ng, wz, pw, pz, ps);
            uint8_t *bs = malloc(ts->nbytes);
            for (uint64_t k = 0; k < ts->nelem; k++) {
                bs[2 * k] = (uint8_t)ps[k];
                bs[2 * k + 1] = (uint8_t)(ps[k] >> 8);
            }
            ck_assert_msg(memcmp(bs, sc, ts->nbytes) == 0, "%s %s: GEMV scales differ", f->dir,
                          layers[L]);
            free(bs);
            free(ps);
            free(s);
        }
        words_to_le(pw, tq->nbytes / 4, bw);
        words_to_le(pz, tz->nbytes / 4, bz);
        ck_assert_msg(memcmp(bw, qw, tq->nbytes) == 0, "%s %s: qweight differs", f->dir,
                      layers[L]);
        ck_assert_msg(memcmp(bz, qz, tz->nbytes) == 0, "%s %s: qzeros differ", f->dir,
                      layers[L]);
        free(q), free(z), free(pw), free(pz), free(bw), free(bz), free(qw), free(qz), free(sc);
    }
    qf_model_close(m);
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * Round-to-nearest parameters against the tools', from the same original k_proj weights
 * (fixtures/quant-orig: fp16 values, 64 x 256). */
static float *orig_kproj(void)
{
    struct qf_error e;
    struct qf_model *m;
    ck_assert_msg(qf_model_open("fixtures/quant-orig/k_proj-orig.safetensors", NULL,
                                QF_OPEN_NO_CONFIG, &m, &e) == QF_OK, "%s", e.msg);
    uint64_t n;
    float *w = read_f32(m, "model.layers.0.self_attn.k_proj.weight.orig", &n);
    ck_assert_uint_eq(n, 64 * 256);
    qf_model_close(m);
    return w;
}

/* AutoAWQ is plain RTN: scales, zeros and codes all reproduce */
START_TEST(awq_rtn_matches_autoawq)
{
    float *w = orig_kproj();
    const struct { const char *dir; uint64_t G; int gemv; } c[] = {
        {"st-awq-gemm-b4-g128", 128, 0}, {"st-awq-gemv-b4-g64", 64, 1}};
    for (int k = 0; k < 2; k++) {
        uint64_t out = 64, in = 256, ng = in / c[k].G;
        float *s = malloc(ng * out * sizeof *s);
        uint8_t *z = malloc(ng * out), *q = malloc(out * in);
        /* two chunks of rows */
        qfi_awq_encode_rows(w, 0, 24, out, in, c[k].G, s, z, q);
        qfi_awq_encode_rows(w + 24 * in, 24, 40, out, in, c[k].G, s, z, q + 24 * in);
        struct qf_model *m = open_fixture(c[k].dir);
        const struct qf_tensor *tq, *tz, *ts;
        uint8_t *fq = read_all(m, "model.layers.0.self_attn.k_proj.qweight", &tq);
        uint8_t *fz = read_all(m, "model.layers.0.self_attn.k_proj.qzeros", &tz);
        uint8_t *fs = read_all(m, "model.layers.0.self_attn.k_proj.scales", &ts);
        uint32_t *pw = calloc(tq->nbytes / 4, 4), *pz = calloc(tz->nbytes / 4, 4);
        uint16_t *ps = calloc(ts->nelem, 2);
        if (c[k].gemv) {
            qfi_awq_pack_gemv(q, z, s, 0, out, out, in, ng, tz->shape[1], pw, pz, ps);
        } else {
            qfi_awq_pack_gemm(q, z, 0, out, out, in, ng, pw, pz);
            for (uint64_t j = 0; j < ng * out; j++)
                ps[j] = qfi_lw_f16(s[j]);
        }
        uint8_t *b = malloc(tq->nbytes);
        for (uint64_t j = 0; j < ts->nelem; j++)
            ck_assert_msg((uint16_t)(fs[2 * j] | fs[2 * j + 1] << 8) == ps[j],
                          "%s: scale %llu differs", c[k].dir, (unsigned long long)j);
        words_to_le(pz, tz->nbytes / 4, b);
        ck_assert_msg(memcmp(b, fz, tz->nbytes) == 0, "%s: qzeros differ", c[k].dir);
        words_to_le(pw, tq->nbytes / 4, b);
        ck_assert_msg(memcmp(b, fq, tq->nbytes) == 0, "%s: qweight differs", c[k].dir);
        free(b), free(pw), free(pz), free(ps), free(fq), free(fz), free(fs), free(s), free(z),
            free(q);
        qf_model_close(m);
    }
    free(w);
}
END_TEST

/* AutoGPTQ's scales and zeros come from find_params on the original weights for every
 * per-channel layer and for the first group of a layer without act-order (later groups see
 * GPTQ's error feedback; codes are GPTQ's, not RTN's, so only parameters are compared). */
START_TEST(gptq_params_match_autogptq)
{
    float *w = orig_kproj();
    const struct { const char *dir; int bits, sym; uint64_t G; } c[] = {
        {"st-gptq-b8-gnone-sym", 8, 1, 256},  {"st-gptq-b3-gnone-asym", 3, 0, 256},
        {"st-gptq-b4-gnone-asym-descact", 4, 0, 256}, {"st-gptq-b4-g128-sym", 4, 1, 128},
        {"st-gptq-b2-g32-asym", 2, 0, 32}};
    uint64_t n_spoilt = 0;
    for (int k = 0; k < 5; k++) {
        struct qf_model *m = open_fixture(c[k].dir);
        const struct qf_tensor *tz;
        uint8_t *fz = read_all(m, "model.layers.0.self_attn.k_proj.qzeros", &tz);
        uint8_t *fs = read_all(m, "model.layers.0.self_attn.k_proj.scales", NULL);
        int maxq = (1 << c[k].bits) - 1, blk_zero = 0;
        for (uint64_t o = 0; o < 64; o++) {
            float s;
            int z;
            qfi_gptq_find_params(w + o * 256, c[k].G, 1, c[k].bits, c[k].sym, &s, &z);
            uint16_t want = (uint16_t)(fs[2 * o] | fs[2 * o + 1] << 8);
            ck_assert_msg(qfi_lw_f16(s) == want, "%s row %llu: scale %04x, AutoGPTQ %04x",
                          c[k].dir, (unsigned long long)o, qfi_lw_f16(s), want);
            uint32_t fld = field(fz, 4, o, c[k].bits);
            if (o % 32 == 0)
                blk_zero = 0;
            blk_zero |= z == 0;
            /* v1 stores z - 1. AutoGPTQ's packer ORs z = 0 in as 0xFFFFFFFF << shift, which
             * turns every later bit of that word to one (a 3-bit field straddling into the
             * next word keeps its high bits) */
            uint32_t exp = (uint32_t)(z - 1) & (uint32_t)maxq;
            if (exp != fld) {
                ck_assert_msg(blk_zero && (fld | exp) == fld,
                              "%s row %llu: zero %d, stored field %u", c[k].dir,
                              (unsigned long long)o, z, fld);
                n_spoilt++;
            }
        }
        free(fz);
        free(fs);
        qf_model_close(m);
    }
    ck_assert_uint_gt(n_spoilt, 0); /* the underflow cases do occur here */
    free(w);
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * Whole checkpoints */
struct wtensor {
    const char *name;
    int type;
    int n_dims;
    uint64_t shape[2];
    const float *data;
};

static void write_model(const char *path, const struct wtensor *t, int n)
{
    struct qf_error e;
    struct qf_writer *w = lw_new_writer(path);
    for (int k = 0; k < n; k++)
        ck_assert_int_eq(qf_writer_add_tensor(w, t[k].name, t[k].type, t[k].n_dims, t[k].shape, &e),
                         QF_OK);
    ck_assert_int_eq(qf_writer_begin_data(w, &e), QF_OK);
    for (int k = 0; k < n; k++) {
        uint64_t ne = t[k].shape[0] * (t[k].n_dims > 1 ? t[k].shape[1] : 1);
        size_t es = qf_type_info(t[k].type)->block_bytes;
        uint8_t *b = malloc(ne * es);
        ck_assert_int_ge(qf_quantize(t[k].type, t[k].data, b, 1, ne, NULL), 0);
        ck_assert_int_eq(qf_writer_write(w, b, ne * es, &e), QF_OK);
        free(b);
    }
    ck_assert_msg(qf_writer_commit(w, &e) == QF_OK, "%s", e.msg);
    qf_writer_free(w);
}

static int run_lwrite(const char *in, const char *outdir, const struct qf_lwrite_opts *o,
                      struct qf_lwrite_plan **plan_out, struct qf_model **m_out,
                      struct qf_error *e)
{
    struct qf_model *m;
    ck_assert_msg(qf_model_open(in, NULL, 0, &m, e) == QF_OK, "%s", e->msg);
    struct qf_lwrite_plan *p;
    int rc = qf_lwrite_plan_new(m, o, &p, e);
    if (rc) {
        qf_model_close(m);
        return rc;
    }
    struct qf_lwrite_run_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.no_fsync = 1;
    ro.chunk_elems = 1000; /* several chunks per layer */
    rc = qf_lwrite_run(p, outdir, &ro, e);
    *plan_out = p;
    *m_out = m;
    return rc;
}

/* AutoAWQ's own bytes from a float model holding the original k_proj */
START_TEST(awq_checkpoint_equals_autoawq)
{
    mk_tmp();
    float *w = orig_kproj();
    float norm[256];
    for (int k = 0; k < 256; k++)
        norm[k] = 1.0f + (float)k / 256.0f;
    struct wtensor t[] = {
        {"model.layers.0.input_layernorm.weight", QF_TYPE_F32, 1, {256, 0}, norm},
        {"model.layers.0.self_attn.k_proj.weight", QF_TYPE_F16, 2, {64, 256}, w},
    };
    char in[512], out[512], p2[600];
    snprintf(in, sizeof in, "%s/in.safetensors", tmpdir);
    write_model(in, t, 2);
    const struct { const char *dir; int ver; int64_t G; } c[] = {
        {"st-awq-gemm-b4-g128", QF_LW_AWQ_GEMM, 128}, {"st-awq-gemv-b4-g64", QF_LW_AWQ_GEMV, 64}};
    for (int k = 0; k < 2; k++) {
        snprintf(out, sizeof out, "%s/out%d", tmpdir, k);
        struct qf_lwrite_opts o;
        qf_lwrite_opts_init(&o);
        o.layout = "awq";
        o.group_size = c[k].G;
        o.awq_version = c[k].ver;
        struct qf_error e;
        struct qf_lwrite_plan *p;
        struct qf_model *m;
        ck_assert_msg(run_lwrite(in, out, &o, &p, &m, &e) == QF_OK, "%s", e.msg);
        ck_assert_str_eq(qf_lwrite_plan_scheme(p), k ? "awq gemv int4 g64" : "awq gemm int4 g128");
        ck_assert_uint_eq(qf_lwrite_plan_n_items(p), 2);
        ck_assert_int_eq(qf_lwrite_plan_item(p, 0)->quantized, 0);
        const struct qf_lwrite_item *it = qf_lwrite_plan_item(p, 1);
        ck_assert_int_eq(it->quantized, 1);
        ck_assert_int_eq(it->measured, 1);
        /* AutoAWQ's case.json: max |dequant - orig| = 0.0306854248046875 for k_proj g128 */
        if (k == 0)
            ck_assert_double_eq(it->stats.max_abs, 0.0306854248046875);
        snprintf(p2, sizeof p2, "%s/model.safetensors", out);
        struct qf_model *a, *f = open_fixture(c[k].dir);
        ck_assert_msg(qf_model_open(p2, NULL, 0, &a, &e) == QF_OK, "%s", e.msg);
        static const char *const parts[] = {"qweight", "qzeros", "scales"};
        for (int j = 0; j < 3; j++) {
            char nm[128];
            snprintf(nm, sizeof nm, "model.layers.0.self_attn.k_proj.%s", parts[j]);
            const struct qf_tensor *ta, *tf;
            uint8_t *ba = read_all(a, nm, &ta), *bf = read_all(f, nm, &tf);
            ck_assert_uint_eq(ta->nbytes, tf->nbytes);
            ck_assert_int_eq(ta->type, tf->type);
            ck_assert_msg(memcmp(ba, bf, ta->nbytes) == 0, "%s: %s differs", c[k].dir, nm);
            free(ba);
            free(bf);
        }
        /* reads back as the fixture's layout and dequantizes as AutoAWQ did */
        struct qf_layout *l;
        ck_assert_msg(qf_layout_scan(a, 0, &l, &e) == QF_OK, "%s", e.msg);
        ck_assert_str_eq(qf_layout_name(l), "awq");
        const struct qf_ltensor *lt = qf_layout_find(l, "model.layers.0.self_attn.k_proj.weight");
        ck_assert_ptr_nonnull(lt);
        float *d = malloc(64 * 256 * sizeof *d);
        ck_assert_int_eq(qf_layout_dequantize(a, l, lt, 0, UINT64_MAX, d, &e), QF_OK);
        double mx = 0;
        for (int j = 0; j < 64 * 256; j++)
            mx = fmax(mx, fabs((double)d[j] - (double)w[j]));
        ck_assert_double_eq(mx, it->stats.max_abs);
        free(d);
        qf_layout_free(l);
        /* config.json: AutoAWQ's quantization_config */
        qf_model_close(a);
        ck_assert_msg(qf_model_open(p2, NULL, 0, &a, &e) == QF_OK, "%s", e.msg);
        const struct qf_kv *kv = qf_model_find_kv(a, "quantization_config.version");
        ck_assert_ptr_nonnull(kv);
        ck_assert_int_eq(strncmp(kv->val.v.s.ptr, k ? "gemv" : "gemm", 4), 0);
        kv = qf_model_find_kv(a, "quantization_config.zero_point");
        ck_assert_ptr_nonnull(kv);
        ck_assert_uint_eq(kv->val.v.u, 1);
        qf_model_close(a);
        qf_model_close(f);
        qf_lwrite_plan_free(p);
        qf_model_close(m);
    }
    free(w);
    rm_tree(tmpdir);
}
END_TEST

/* GPTQ from floats: every bits / group / sym combination reads back as written; the values
 * equal s * (q - z) of the spec with s, z, q from the encoder (computed here again) */
struct gcase {
    int bits, sym, fmt;
    int64_t G;
    const char *scheme;
};
static const struct gcase gcases[] = {
    {4, 1, QF_LW_GPTQ_AUTO, 128, "gptq int4 g128 sym v1"},
    {4, 0, QF_LW_GPTQ_V2, 32, "gptq int4 g32 asym v2"},
    {3, 1, QF_LW_GPTQ_AUTO, 64, "gptq int3 g64 sym v1"},
    {3, 0, QF_LW_GPTQ_AUTO, -1, "gptq int3 per-channel asym v1"},
    {2, 0, QF_LW_GPTQ_V1, 32, "gptq int2 g32 asym v1"},
    {8, 1, QF_LW_GPTQ_AUTO, -1, "gptq int8 per-channel sym v1"},
    {8, 0, QF_LW_GPTQ_AUTO, 128, "gptq int8 g128 asym v1"},
};

static float synth(uint64_t o, uint64_t i)
{
    /* values of both signs in every group: no asymmetric zero point is 0 */
    uint64_t h = (o * 2654435761u + i * 40503u) % 1000;
    return ((float)h - 500.0f) / 5000.0f + ((i % 7 == 3) ? -0.05f : 0.0f);
}

START_TEST(gptq_roundtrip)
{
    const struct gcase *c = &gcases[_i];
    mk_tmp();
    enum { OUT = 96, IN = 256 };
    float *w = malloc(OUT * IN * sizeof *w), emb[8 * 64], norm[64];
    for (uint64_t o = 0; o < OUT; o++)
        for (uint64_t i = 0; i < IN; i++)
            w[o * IN + i] = synth(o, i);
    for (int k = 0; k < 8 * 64; k++)
        emb[k] = (float)k / 512.0f;
    for (int k = 0; k < 64; k++)
        norm[k] = 1.0f;
    struct wtensor t[] = {
        {"model.embed_tokens.weight", QF_TYPE_F32, 2, {8, 64}, emb},
        {"model.layers.0.mlp.up_proj.weight", QF_TYPE_BF16, 2, {OUT, IN}, w},
        {"model.layers.0.post_attention_layernorm.weight", QF_TYPE_F32, 1, {64, 0}, norm},
        {"model.layers.0.mlp.fc_odd.weight", QF_TYPE_F32, 2, {8, 64}, emb},
        {"lm_head.weight", QF_TYPE_F32, 2, {8, 64}, emb},
    };
    char in[512], out[512], p2[600];
    snprintf(in, sizeof in, "%s/in.safetensors", tmpdir);
    snprintf(out, sizeof out, "%s/out", tmpdir);
    write_model(in, t, 5);
    struct qf_lwrite_opts o;
    qf_lwrite_opts_init(&o);
    o.layout = "gptq";
    o.bits = c->bits;
    o.sym = c->sym;
    o.group_size = c->G;
    o.gptq_format = c->fmt;
    struct qf_error e;
    struct qf_lwrite_plan *p;
    struct qf_model *m;
    ck_assert_msg(run_lwrite(in, out, &o, &p, &m, &e) == QF_OK, "%s", e.msg);
    ck_assert_str_eq(qf_lwrite_plan_scheme(p), c->scheme);
    for (size_t k = 0; k < qf_lwrite_plan_n_items(p); k++)
        ck_assert_int_eq(qf_lwrite_plan_item(p, k)->quantized, k == 1);
    const struct qf_lwrite_item *it = qf_lwrite_plan_item(p, 1);
    ck_assert_int_eq(qf_lwrite_plan_item(p, 0)->out_type, QF_TYPE_F32);

    /* expected: the input as stored (BF16) encoded again */
    float *wb = malloc(OUT * IN * sizeof *wb);
    uint16_t *hb = malloc(OUT * IN * 2);
    qf_quantize(QF_TYPE_BF16, w, hb, 1, OUT * IN, NULL);
    qf_dequantize(QF_TYPE_BF16, hb, wb, OUT * IN);
    uint64_t ng = c->G == -1 ? 1 : IN / (uint64_t)c->G;
    float *s = malloc(ng * OUT * sizeof *s), tmp[IN];
    uint8_t *z = malloc(ng * OUT), *q = malloc(OUT * IN);
    qfi_gptq_encode_rows(wb, 0, OUT, OUT, IN, ng, NULL, NULL, c->bits, c->sym, s, z, q, tmp);

    snprintf(p2, sizeof p2, "%s/model.safetensors", out);
    struct qf_model *a;
    ck_assert_msg(qf_model_open(p2, NULL, 0, &a, &e) == QF_OK, "%s", e.msg);
    struct qf_layout *l;
    ck_assert_msg(qf_layout_scan(a, 0, &l, &e) == QF_OK, "%s", e.msg);
    ck_assert_str_eq(qf_layout_name(l), "gptq");
    ck_assert_ptr_null(qf_layout_warning(l, 0));
    const struct qf_ltensor *lt = qf_layout_find(l, "model.layers.0.mlp.up_proj.weight");
    ck_assert_ptr_nonnull(lt);
    ck_assert_str_eq(lt->scheme, c->scheme);
    float *d = malloc(OUT * IN * sizeof *d);
    ck_assert_int_eq(qf_layout_dequantize(a, l, lt, 0, UINT64_MAX, d, &e), QF_OK);
    double mx = 0, sse = 0;
    uint64_t G = IN / ng;
    for (uint64_t oo = 0; oo < OUT; oo++)
        for (uint64_t i = 0; i < IN; i++) {
            uint64_t g = i / G;
            float want = s[g * OUT + oo] * (float)((int)q[oo * IN + i] - z[g * OUT + oo]);
            ck_assert_msg(memcmp(&want, &d[oo * IN + i], 4) == 0, "[%llu,%llu] %g != %g",
                          (unsigned long long)oo, (unsigned long long)i, d[oo * IN + i], want);
            double df = (double)d[oo * IN + i] - (double)wb[oo * IN + i];
            mx = fmax(mx, fabs(df));
            sse += df * df;
            /* RTN: within half a step (plus the f16 rounding of the scale) unless clipped */
        }
    ck_assert_double_eq(mx, it->stats.max_abs);
    ck_assert_double_eq_tol(sse, it->stats.sse, 1e-12);
    ck_assert(it->stats.snr_db > (c->bits == 2 ? 5.0 : c->bits == 3 ? 12.0 : 18.0));
    /* plain tensors passed through exactly */
    const struct qf_tensor *pt = qf_model_find_tensor(a, "lm_head.weight");
    ck_assert_ptr_nonnull(pt);
    ck_assert_int_eq(pt->type, QF_TYPE_F32);
    ck_assert_ptr_nonnull(qf_model_find_tensor(a, "model.layers.0.mlp.fc_odd.weight"));
    ck_assert_ptr_null(qf_model_find_tensor(a, "model.layers.0.mlp.up_proj.weight"));
    /* quantize_config.json as AutoGPTQ writes it */
    const struct qf_kv *kv = qf_model_find_kv(a, "quantize_config.checkpoint_format");
    ck_assert_ptr_nonnull(kv);
    const char *fmt = c->fmt == QF_LW_GPTQ_V2 ? "gptq_v2" : "gptq";
    ck_assert_uint_eq(kv->val.v.s.len, strlen(fmt));
    ck_assert_int_eq(memcmp(kv->val.v.s.ptr, fmt, strlen(fmt)), 0);
    kv = qf_model_find_kv(a, "quantization_config.group_size");
    ck_assert_ptr_nonnull(kv);
    ck_assert_int_eq(kv->val.v.i, c->G);
    qf_layout_free(l);
    qf_model_close(a);
    free(d), free(s), free(z), free(q), free(wb), free(hb), free(w);
    qf_lwrite_plan_free(p);
    qf_model_close(m);
    rm_tree(tmpdir);
}
END_TEST

/* A zero point of 0: AUTO writes gptq_v2 (with a note), V1 refuses before writing */
START_TEST(gptq_v1_cannot_hold_zero_0)
{
    mk_tmp();
    enum { OUT = 32, IN = 64 };
    float w[OUT * IN];
    for (int k = 0; k < OUT * IN; k++)
        w[k] = (float)(k % 13) / 13.0f - (k / IN == 5 ? 0.0f : 0.5f); /* row 5: all >= 0 */
    struct wtensor t[] = {{"model.layers.3.self_attn.o_proj.weight", QF_TYPE_F32, 2, {OUT, IN}, w}};
    char in[512], out[512];
    snprintf(in, sizeof in, "%s/in.safetensors", tmpdir);
    write_model(in, t, 1);
    struct qf_lwrite_opts o;
    qf_lwrite_opts_init(&o);
    o.layout = "gptq";
    o.sym = 0;
    o.group_size = 32;
    struct qf_error e;
    struct qf_lwrite_plan *p;
    struct qf_model *m;
    snprintf(out, sizeof out, "%s/auto", tmpdir);
    ck_assert_msg(run_lwrite(in, out, &o, &p, &m, &e) == QF_OK, "%s", e.msg);
    ck_assert_str_eq(qf_lwrite_plan_scheme(p), "gptq int4 g32 asym v2");
    ck_assert_ptr_nonnull(strstr(qf_lwrite_plan_note(p, 0), "gptq_v2"));
    qf_lwrite_plan_free(p);
    qf_model_close(m);
    char p2[600];
    snprintf(p2, sizeof p2, "%s/model.safetensors", out);
    struct qf_model *a;
    ck_assert_int_eq(qf_model_open(p2, NULL, 0, &a, &e), QF_OK);
    const struct qf_tensor *tz;
    uint8_t *qz = read_all(a, "model.layers.3.self_attn.o_proj.qzeros", &tz);
    /* row 5, both groups: v2 field 0 */
    ck_assert_uint_eq(field(qz, 4, 5, 4), 0);
    ck_assert_uint_eq(field(qz + 4 * (OUT * 4 / 32), 4, 5, 4), 0);
    free(qz);
    qf_model_close(a);

    o.gptq_format = QF_LW_GPTQ_V1;
    snprintf(out, sizeof out, "%s/v1", tmpdir);
    ck_assert_int_eq(run_lwrite(in, out, &o, &p, &m, &e), QF_EUNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(e.msg, "o_proj"));
    snprintf(p2, sizeof p2, "%s/model.safetensors", out);
    ck_assert_int_ne(access(p2, F_OK), 0);
    qf_lwrite_plan_free(p);
    qf_model_close(m);
    rm_tree(tmpdir);
}
END_TEST

/* A GPTQ act-order checkpoint re-encoded: its g_idx is kept, groups follow it */
START_TEST(gptq_act_order_kept)
{
    mk_tmp();
    char out[512], p2[600];
    snprintf(out, sizeof out, "%s/out", tmpdir);
    struct qf_lwrite_opts o;
    qf_lwrite_opts_init(&o);
    o.layout = "gptq";
    o.sym = 0;
    o.gptq_format = QF_LW_GPTQ_V2;
    struct qf_error e;
    struct qf_lwrite_plan *p;
    struct qf_model *m;
    ck_assert_msg(run_lwrite("fixtures/st-gptq-b4-g128-asym-descact/model.safetensors", out, &o,
                             &p, &m, &e) == QF_OK, "%s", e.msg);
    ck_assert_str_eq(qf_lwrite_plan_scheme(p), "gptq int4 g128 asym act-order v2");
    snprintf(p2, sizeof p2, "%s/model.safetensors", out);
    struct qf_model *a;
    ck_assert_int_eq(qf_model_open(p2, NULL, 0, &a, &e), QF_OK);
    for (int L = 0; L < 2; L++) {
        char nm[128];
        snprintf(nm, sizeof nm, "%s.g_idx", layers[L]);
        const struct qf_tensor *t1, *t2;
        uint8_t *g1 = read_all(m, nm, &t1), *g2 = read_all(a, nm, &t2);
        ck_assert_uint_eq(t1->nbytes, t2->nbytes);
        ck_assert_int_eq(memcmp(g1, g2, t1->nbytes), 0);
        free(g1);
        free(g2);
    }
    /* the bias of k_proj is passed through as it was (F16) */
    const struct qf_tensor *b = qf_model_find_tensor(a, "model.layers.0.self_attn.k_proj.bias");
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(b->type, QF_TYPE_F16);
    struct qf_layout *l;
    ck_assert_msg(qf_layout_scan(a, 0, &l, &e) == QF_OK, "%s", e.msg);
    const struct qf_ltensor *lt = qf_layout_find(l, "model.layers.0.mlp.down_proj.weight");
    ck_assert_str_eq(lt->scheme, "gptq int4 g128 asym act-order v2");
    /* re-encoding AutoGPTQ's dequantized values with the same groups is close to them:
     * they lie on a grid of 16 levels per group already */
    const struct qf_lwrite_item *it = qf_lwrite_plan_item(p, 0);
    ck_assert_str_eq(it->name, "model.layers.0.mlp.down_proj.weight");
    ck_assert(it->stats.snr_db > 30.0);
    qf_layout_free(l);
    qf_model_close(a);
    qf_lwrite_plan_free(p);
    qf_model_close(m);
    rm_tree(tmpdir);
}
END_TEST

/* The bytes do not depend on the chunk of rows (one row at a time, a few rows, all rows) */
static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)len);
    ck_assert_uint_eq(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

START_TEST(chunking_invariant)
{
    mk_tmp();
    enum { OUT = 64, IN = 128 };
    float *w = malloc(OUT * IN * sizeof *w);
    for (uint64_t o = 0; o < OUT; o++)
        for (uint64_t i = 0; i < IN; i++)
            w[o * IN + i] = synth(o, i) * (o == 7 ? -1.0f : 1.0f);
    struct wtensor t[] = {{"model.layers.0.mlp.down_proj.weight", QF_TYPE_F32, 2, {OUT, IN}, w}};
    char in[512];
    snprintf(in, sizeof in, "%s/in.safetensors", tmpdir);
    write_model(in, t, 1);
    static const char *const lay[] = {"gptq", "awq", "awq"};
    for (int k = 0; k < 3; k++) {
        uint8_t *first = NULL;
        size_t n0 = 0;
        static const uint64_t chunks[] = {1, 3 * IN + 5, 1u << 20};
        for (int c = 0; c < 3; c++) {
            struct qf_error e;
            struct qf_model *m;
            struct qf_lwrite_plan *p;
            ck_assert_int_eq(qf_model_open(in, NULL, 0, &m, &e), QF_OK);
            struct qf_lwrite_opts o;
            qf_lwrite_opts_init(&o);
            o.layout = lay[k];
            o.group_size = 32;
            o.sym = k ? -1 : 0;
            o.awq_version = k == 2 ? QF_LW_AWQ_GEMV : QF_LW_AWQ_GEMM;
            ck_assert_int_eq(qf_lwrite_plan_new(m, &o, &p, &e), QF_OK);
            struct qf_lwrite_run_opts ro;
            memset(&ro, 0, sizeof ro);
            ro.no_fsync = 1;
            ro.force = 1;
            ro.chunk_elems = chunks[c];
            char out[600];
            snprintf(out, sizeof out, "%s/o%d%d", tmpdir, k, c);
            ck_assert_msg(qf_lwrite_run(p, out, &ro, &e) == QF_OK, "%s", e.msg);
            snprintf(out, sizeof out, "%s/o%d%d/model.safetensors", tmpdir, k, c);
            size_t n;
            uint8_t *b = slurp(out, &n);
            if (!first) {
                first = b;
                n0 = n;
            } else {
                ck_assert_uint_eq(n, n0);
                ck_assert_msg(memcmp(b, first, n) == 0, "%s: chunk %llu changes the bytes",
                              lay[k], (unsigned long long)chunks[c]);
                free(b);
            }
            qf_lwrite_plan_free(p);
            qf_model_close(m);
        }
        free(first);
    }
    free(w);
    rm_tree(tmpdir);
}
END_TEST

/* NaN and infinities in the input: no crash, counted, the rest encoded normally */
START_TEST(nonfinite_inputs)
{
    mk_tmp();
    enum { OUT = 32, IN = 64 };
    float w[OUT * IN];
    for (int k = 0; k < OUT * IN; k++)
        w[k] = (float)(k % 11) / 11.0f - 0.5f;
    w[3] = NAN;
    w[IN + 5] = INFINITY;
    w[2 * IN + 7] = -INFINITY;
    for (int k = 0; k < IN; k++)
        w[5 * IN + k] = NAN; /* a whole row */
    struct wtensor t[] = {{"model.layers.0.self_attn.v_proj.weight", QF_TYPE_F32, 2, {OUT, IN}, w}};
    char in[512], out[512];
    snprintf(in, sizeof in, "%s/in.safetensors", tmpdir);
    write_model(in, t, 1);
    static const char *const lay[] = {"gptq", "awq"};
    for (int k = 0; k < 2; k++) {
        struct qf_lwrite_opts o;
        qf_lwrite_opts_init(&o);
        o.layout = lay[k];
        o.group_size = 32;
        o.sym = k ? -1 : 0;
        struct qf_error e;
        struct qf_lwrite_plan *p;
        struct qf_model *m;
        snprintf(out, sizeof out, "%s/o%d", tmpdir, k);
        ck_assert_msg(run_lwrite(in, out, &o, &p, &m, &e) == QF_OK, "%s", e.msg);
        const struct qf_lwrite_item *it = qf_lwrite_plan_item(p, 0);
        ck_assert_uint_eq(it->stats.n_nonfinite, 3 + IN);
        ck_assert_uint_eq(it->stats.n, OUT * IN - 3 - IN);
        ck_assert(isfinite(it->stats.rmse) && it->stats.rmse < 0.05);
        qf_lwrite_plan_free(p);
        qf_model_close(m);
    }
    rm_tree(tmpdir);
}
END_TEST

/* Lossless repack from a GPTQ / AWQ input: the tools' bytes come out again where the target
 * layout is the same, and the codes, zero points and scales are kept across layouts. */
struct rcase {
    const char *src, *layout;
    int ver, sym;
    const char *same_as; /* a fixture holding the same codes in the target layout, or NULL */
    const char *scheme;
};
static const struct rcase rcases[] = {
    {"st-awq-gemm-b4-g128", "awq", QF_LW_AWQ_GEMV, -1, "st-awq-gemv-b4-g128", "awq gemv int4 g128"},
    {"st-awq-gemv-b4-g128", "awq", QF_LW_AWQ_GEMM, -1, "st-awq-gemm-b4-g128", "awq gemm int4 g128"},
    {"st-awq-gemm-b4-g128", "gptq", 0, -1, NULL, "gptq int4 g128 asym v1"},
    {"st-gptq-b4-g128-sym", "awq", QF_LW_AWQ_GEMM, -1, NULL, "awq gemm int4 g128"},
    {"st-gptq-b4-g128-asym-descact", "gptq", 0, -1, NULL, "gptq int4 g128 asym act-order v1"},
};

/* codes [out][in] and zero points [ng][out] of a layer in an open layout */
static void layer_codes(struct qf_model *m, const char *base, uint64_t out, uint64_t in,
                        uint8_t *q, uint8_t *z, uint16_t *s)
{
    struct qf_error e;
    struct qf_layout *l;
    ck_assert_msg(qf_layout_scan(m, 0, &l, &e) == QF_OK, "%s", e.msg);
    char nm[256];
    snprintf(nm, sizeof nm, "%s.weight", base);
    const struct qf_ltensor *t = qf_layout_find(l, nm);
    ck_assert_ptr_nonnull(t);
    uint64_t ng = in / (uint64_t)t->group_size;
    const struct qf_tensor *pw = t->parts[QF_LPART_QWEIGHT], *pz = t->parts[QF_LPART_QZEROS];
    const struct qf_tensor *ps = t->parts[QF_LPART_SCALES];
    uint8_t *w = read_all(m, pw->name, NULL), *zz = read_all(m, pz->name, NULL);
    uint8_t *ss = read_all(m, ps->name, NULL);
    float *sf = malloc(ps->nelem * sizeof *sf), *sc = malloc(ng * out * sizeof *sc);
    ck_assert_int_eq(qf_dequantize(QF_TYPE_F16, ss, sf, ps->nelem), QF_OK);
    if (t->family == QF_LAYOUT_GPTQ) {
        qfi_gptq_unpack_rows(w, out, in, t->bits, 0, out, q);
        ck_assert_int_eq(qfi_gptq_unpack_zeros(zz, out, ng, t->bits, t->zero_offset, z), QF_OK);
        memcpy(sc, sf, ng * out * sizeof *sc);
    } else {
        int gemv = t->family == QF_LAYOUT_AWQ_GEMV;
        qfi_awq_unpack_rows(w, gemv, out, in, 0, out, q);
        qfi_awq_unpack_params(zz, sf, gemv, out, ng, pz->shape[1], sc, z);
    }
    for (uint64_t k = 0; k < ng * out; k++)
        s[k] = qfi_lw_f16(sc[k]);
    free(w), free(zz), free(ss), free(sf), free(sc);
    qf_layout_free(l);
}

START_TEST(repack_fixtures)
{
    const struct rcase *c = &rcases[_i];
    mk_tmp();
    char src[512], out[512], p2[600];
    snprintf(src, sizeof src, "fixtures/%s/model.safetensors", c->src);
    snprintf(out, sizeof out, "%s/out", tmpdir);
    struct qf_lwrite_opts o;
    qf_lwrite_opts_init(&o);
    o.layout = c->layout;
    o.awq_version = c->ver;
    o.sym = c->sym;
    struct qf_error e;
    struct qf_lwrite_plan *p;
    struct qf_model *m, *a;
    ck_assert_msg(run_lwrite(src, out, &o, &p, &m, &e) == QF_OK, "%s", e.msg);
    ck_assert_str_eq(qf_lwrite_plan_scheme(p), c->scheme);
    ck_assert_ptr_nonnull(strstr(qf_lwrite_plan_note(p, 0), "2 of 2 layers repacked"));
    snprintf(p2, sizeof p2, "%s/model.safetensors", out);
    ck_assert_msg(qf_model_open(p2, NULL, 0, &a, &e) == QF_OK, "%s", e.msg);
    for (int L = 0; L < 2; L++) {
        const struct qf_lwrite_item *it = NULL;
        char wn[256];
        snprintf(wn, sizeof wn, "%s.weight", layers[L]);
        for (size_t k = 0; k < qf_lwrite_plan_n_items(p); k++)
            if (!strcmp(qf_lwrite_plan_item(p, k)->name, wn))
                it = qf_lwrite_plan_item(p, k);
        ck_assert_ptr_nonnull(it);
        ck_assert_int_eq(it->repacked, 1);
        ck_assert_int_eq(it->lossy, 0);
        uint64_t O = layer_out[L], I = layer_in[L], ng = I / 128;
        uint8_t *q1 = malloc(O * I), *q2 = malloc(O * I), z1[8 * 128], z2[8 * 128];
        uint16_t s1[8 * 128], s2[8 * 128];
        layer_codes(m, layers[L], O, I, q1, z1, s1);
        layer_codes(a, layers[L], O, I, q2, z2, s2);
        ck_assert_int_eq(memcmp(q1, q2, O * I), 0);
        ck_assert_int_eq(memcmp(z1, z2, ng * O), 0);
        ck_assert_int_eq(memcmp(s1, s2, ng * O * 2), 0);
        free(q1);
        free(q2);
        if (c->same_as) {
            /* AutoAWQ packed the same scales and zeros in the other layout: same bytes */
            struct qf_model *f = open_fixture(c->same_as);
            static const char *const parts[] = {"qweight", "qzeros", "scales"};
            for (int j = 0; j < 3; j++) {
                char nm[256];
                snprintf(nm, sizeof nm, "%s.%s", layers[L], parts[j]);
                const struct qf_tensor *ta, *tf;
                uint8_t *ba = read_all(a, nm, &ta), *bf = read_all(f, nm, &tf);
                ck_assert_uint_eq(ta->nbytes, tf->nbytes);
                ck_assert_msg(memcmp(ba, bf, ta->nbytes) == 0, "%s differs from %s", nm,
                              c->same_as);
                free(ba);
                free(bf);
            }
            qf_model_close(f);
        }
        if (!strcmp(c->src, "st-gptq-b4-g128-asym-descact")) {
            /* same layout, same convention: AutoGPTQ's bytes, g_idx included */
            static const char *const parts[] = {"qweight", "qzeros", "scales", "g_idx"};
            for (int j = 0; j < 4; j++) {
                char nm[256];
                snprintf(nm, sizeof nm, "%s.%s", layers[L], parts[j]);
                const struct qf_tensor *ta, *tf;
                uint8_t *ba = read_all(a, nm, &ta), *bf = read_all(m, nm, &tf);
                ck_assert_uint_eq(ta->nbytes, tf->nbytes);
                ck_assert_msg(memcmp(ba, bf, ta->nbytes) == 0, "%s differs", nm);
                free(ba);
                free(bf);
            }
        }
    }
    qf_model_close(a);
    qf_lwrite_plan_free(p);
    qf_model_close(m);
    rm_tree(tmpdir);
}
END_TEST

/* A v1 zero point of 2^bits (AutoGPTQ's underflow) cannot be repacked: encoded again */
START_TEST(repack_v1_underflow_falls_back)
{
    mk_tmp();
    char out[512];
    snprintf(out, sizeof out, "%s/out", tmpdir);
    struct qf_lwrite_opts o;
    qf_lwrite_opts_init(&o);
    o.layout = "gptq";
    struct qf_error e;
    struct qf_lwrite_plan *p;
    struct qf_model *m;
    ck_assert_msg(run_lwrite("fixtures/st-gptq-b2-g32-asym/model.safetensors", out, &o, &p, &m,
                             &e) == QF_OK, "%s", e.msg);
    int fell = 0;
    const char *nt;
    for (size_t i = 0; (nt = qf_lwrite_plan_note(p, i)); i++)
        fell += strstr(nt, "encoded again instead of repacked") != NULL;
    ck_assert_int_eq(fell, 2);
    ck_assert_int_eq(qf_lwrite_plan_item(p, 0)->repacked, 0);
    ck_assert_int_eq(qf_lwrite_plan_item(p, 0)->lossy, 1);
    qf_lwrite_plan_free(p);
    qf_model_close(m);
    rm_tree(tmpdir);
}
END_TEST

/* Option checks and the selection rule */
START_TEST(plan_rules)
{
    mk_tmp();
    float w[48 * 64];
    for (int k = 0; k < 48 * 64; k++)
        w[k] = (float)(k % 17) - 8.0f;
    struct wtensor t[] = {
        {"model.layers.0.self_attn.q_proj.weight", QF_TYPE_F32, 2, {32, 64}, w},
        {"model.layers.0.mlp.gate_proj.weight", QF_TYPE_F32, 2, {48, 64}, w},
        {"model.layers.0.mlp.gate_proj.bias", QF_TYPE_F32, 1, {48, 0}, w},
        {"model.norm.weight", QF_TYPE_F32, 1, {64, 0}, w},
        {"model.embed_tokens.weight", QF_TYPE_F32, 2, {32, 64}, w},
        {"model.q_proj.weight", QF_TYPE_F32, 2, {32, 64}, w},
    };
    char in[512];
    snprintf(in, sizeof in, "%s/in.safetensors", tmpdir);
    write_model(in, t, 6);
    struct qf_error e;
    struct qf_model *m;
    ck_assert_int_eq(qf_model_open(in, NULL, 0, &m, &e), QF_OK);
    struct qf_lwrite_opts o;
    qf_lwrite_opts_init(&o);
    o.layout = "gptq";
    o.group_size = 32;
    struct qf_lwrite_plan *p;
    ck_assert_msg(qf_lwrite_plan_new(m, &o, &p, &e) == QF_OK, "%s", e.msg);
    ck_assert_int_eq(qf_lwrite_plan_item(p, 0)->quantized, 1);
    ck_assert_int_eq(qf_lwrite_plan_item(p, 1)->quantized, 0); /* out 48: not a multiple of 32 */
    ck_assert_ptr_nonnull(strstr(qf_lwrite_plan_note(p, 0), "gate_proj"));
    for (int k = 2; k < 6; k++)
        ck_assert_int_eq(qf_lwrite_plan_item(p, (size_t)k)->quantized, 0);
    ck_assert_str_eq(qf_lwrite_plan_scheme(p), "gptq int4 g32 sym v1");
    qf_lwrite_plan_free(p);
    /* AWQ: 48 rows fit (multiple of 8) */
    o.layout = "awq";
    ck_assert_msg(qf_lwrite_plan_new(m, &o, &p, &e) == QF_OK, "%s", e.msg);
    ck_assert_int_eq(qf_lwrite_plan_item(p, 1)->quantized, 1);
    qf_lwrite_plan_free(p);
    /* refused options */
    static const struct { const char *layout; int bits, sym; int64_t G; int ver; } bad[] = {
        {"gptq", 5, -1, 128, 0}, {"awq", 8, -1, 128, 0}, {"awq", 4, 1, 128, 0},
        {"awq", 4, -1, -1, 0},   {"awq", 4, -1, 96, QF_LW_AWQ_GEMV}, {"nf4", 4, -1, 64, 0},
        {"gptq", 4, -1, -7, 0},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        o.layout = bad[k].layout;
        o.bits = bad[k].bits;
        o.sym = bad[k].sym;
        o.group_size = bad[k].G;
        o.awq_version = bad[k].ver;
        p = NULL;
        ck_assert_int_eq(qf_lwrite_plan_new(m, &o, &p, &e), QF_EINVAL);
        ck_assert_ptr_null(p);
    }
    /* group 64 divides nothing here but q_proj (in 64): still one layer */
    qf_model_close(m);
    rm_tree(tmpdir);
}
END_TEST

Suite *suite_lwrite(void)
{
    Suite *s = suite_create("lwrite");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, spec_example_gptq_awq);
    tcase_add_test(tc, spec_words_3bit_and_sym);
    tcase_add_loop_test(tc, fixture_bytes, 0, (int)(sizeof fixtures / sizeof fixtures[0]));
    tcase_add_test(tc, awq_rtn_matches_autoawq);
    tcase_add_test(tc, gptq_params_match_autogptq);
    tcase_add_test(tc, awq_checkpoint_equals_autoawq);
    tcase_add_loop_test(tc, gptq_roundtrip, 0, (int)(sizeof gcases / sizeof gcases[0]));
    tcase_add_test(tc, gptq_v1_cannot_hold_zero_0);
    tcase_add_test(tc, gptq_act_order_kept);
    tcase_add_test(tc, chunking_invariant);
    tcase_add_loop_test(tc, repack_fixtures, 0, (int)(sizeof rcases / sizeof rcases[0]));
    tcase_add_test(tc, repack_v1_underflow_falls_back);
    tcase_add_test(tc, nonfinite_inputs);
    tcase_add_test(tc, plan_rules);
    suite_add_tcase(s, tc);
    return s;
}
