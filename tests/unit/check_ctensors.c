/* check_ctensors.c - compressed-tensors (pack-quantized int4/int8, float-quantized FP8) and
 * Hugging Face "fp8" layouts: checkpoints written by compressed-tensors' own code against its
 * own dequantization, the encoders against the bytes it wrote, the pack <-> GPTQ v2
 * equivalence, the spec's worked examples and rejection of inconsistent layers. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qf/qf.h"
#include "fx_open.h"
#include "layout_int.h"

Suite *suite_ctensors(void);

static const char *const layers[2] = {"model.layers.0.mlp.down_proj",
                                      "model.layers.0.self_attn.k_proj"};
static const uint64_t lout[2] = {128, 64}, lin[2] = {384, 256};

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* a whole tensor's bytes (malloc'd); NULL if absent */
static uint8_t *tensor_bytes(struct qf_model *m, const char *layer, const char *part,
                             const struct qf_tensor **tp)
{
    char nm[256];
    struct qf_error e;
    snprintf(nm, sizeof nm, "%s.%s", layer, part);
    const struct qf_tensor *t = qf_model_find_tensor(m, nm);
    if (tp)
        *tp = t;
    if (!t)
        return NULL;
    uint8_t *b = malloc(t->nbytes);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(qf_model_read(m, t, 0, b, (size_t)t->nbytes, &e), QF_OK);
    return b;
}

static float *tensor_f32(struct qf_model *m, const char *layer, const char *part)
{
    const struct qf_tensor *t;
    uint8_t *b = tensor_bytes(m, layer, part, &t);
    ck_assert_ptr_nonnull(b);
    float *f = malloc(t->nelem * sizeof *f);
    ck_assert_int_eq(qf_dequantize(t->type, b, f, t->nelem), QF_OK);
    free(b);
    return f;
}

/* ---------------------------------------------------------------------------------------
 * Fixtures (tests/fixtures/st-ct-*, README there): reference.safetensors holds
 * "<layer>.weight.dequant", compressed-tensors' decompress_weight result (bf16 values, stored
 * losslessly as BF16). */
struct ct_case {
    const char *dir;
    const char *scheme;
    uint64_t bytes_down;      /* all parts of down_proj, from the tensor table by hand */
    int bits, sym, fp8;
    uint64_t G;               /* 128, or in (channel) */
};

static const struct ct_case cases[] = {
    /* packed 128*48*4 + scale 128*3*2 + weight_shape 16 */
    {"st-ct-int4-g128-sym", "compressed-tensors pack int4 g128 sym", 24576 + 768 + 16, 4, 1, 0,
     128},
    /* + zero points [16, 3] I32 */
    {"st-ct-int4-g128-asym", "compressed-tensors pack int4 g128 asym", 24576 + 768 + 16 + 192,
     4, 0, 0, 128},
    {"st-ct-int4-channel-sym", "compressed-tensors pack int4 per-channel sym", 24576 + 256 + 16,
     4, 1, 0, 0},
    {"st-ct-int4-channel-asym", "compressed-tensors pack int4 per-channel asym",
     24576 + 256 + 16 + 64, 4, 0, 0, 0},
    /* packed 128*96*4 */
    {"st-ct-int8-g128-sym", "compressed-tensors pack int8 g128 sym", 49152 + 768 + 16, 8, 1, 0,
     128},
    /* F8_E4M3 weight 128*384 + BF16 scale [128, 1] */
    {"st-ct-fp8-e4m3-channel", "compressed-tensors fp8 e4m3 per-channel", 49152 + 256, 8, 1, 1,
     0},
};

START_TEST(fixture_reference)
{
    const struct ct_case *c = &cases[_i];
    struct qf_error e;
    struct qf_layout *l;
    struct qf_model *m = fx_open(c->dir, "model.safetensors", 0);
    struct qf_model *r = fx_open(c->dir, "reference.safetensors", QF_OPEN_NO_CONFIG);
    ck_assert_msg(qf_layout_scan(m, 0, &l, &e) == QF_OK, "%s", e.msg);
    ck_assert_str_eq(qf_layout_name(l), "compressed-tensors");
    ck_assert_uint_eq(qf_layout_n_tensors(l), 3);
    const struct qf_ltensor *bias = qf_layout_find(l, "model.layers.0.self_attn.k_proj.bias");
    ck_assert_ptr_nonnull(bias);
    ck_assert_str_eq(bias->scheme, "bf16");
    ck_assert_int_eq(bias->family, QF_LAYOUT_PLAIN);
    for (int k = 0; k < 2; k++) {
        char nm[256];
        snprintf(nm, sizeof nm, "%s.weight", layers[k]);
        const struct qf_ltensor *t = qf_layout_find(l, nm);
        ck_assert_msg(t != NULL, "%s missing", nm);
        ck_assert_str_eq(t->scheme, c->scheme);
        ck_assert_int_eq(t->family, c->fp8 ? QF_LAYOUT_CT_FLOAT : QF_LAYOUT_CT_PACK);
        ck_assert_int_eq(t->n_dims, 2);
        ck_assert_uint_eq(t->shape[0], lout[k]);
        ck_assert_uint_eq(t->shape[1], lin[k]);
        ck_assert_int_eq(t->bits, c->bits);
        ck_assert_int_eq(t->sym, c->sym);
        ck_assert_int_eq(t->group_size, (int64_t)(c->G ? c->G : lin[k]));
        ck_assert_ptr_nonnull(t->parts[QF_LPART_SCALES]);
        if (!c->fp8)
            ck_assert_ptr_nonnull(t->parts[QF_LPART_AUX0]); /* weight_shape */
        ck_assert_int_eq(t->parts[QF_LPART_QZEROS] != NULL, !c->sym);
        if (k == 0)
            ck_assert_double_eq_tol(t->bpw, (double)c->bytes_down * 8 / (128 * 384), 1e-12);
        uint64_t n = lout[k] * lin[k];
        float *got = malloc(n * sizeof *got);
        ck_assert_int_eq(qf_layout_dequantize(m, l, t, 0, UINT64_MAX, got, &e), QF_OK);
        snprintf(nm, sizeof nm, "%s.weight", layers[k]);
        float *want = tensor_f32(r, nm, "dequant");
        /* bit-identical: both compute (q - z) * scale rounded to bf16 */
        uint64_t nd = 0;
        for (uint64_t j = 0; j < n; j++)
            nd += memcmp(&got[j], &want[j], 4) != 0;
        ck_assert_msg(nd == 0, "%s %s: %llu of %llu elements differ", c->dir, layers[k],
                      (unsigned long long)nd, (unsigned long long)n);
        float part[3 * 384];
        ck_assert_int_eq(qf_layout_dequantize(m, l, t, 7, 3, part, &e), QF_OK);
        ck_assert_int_eq(memcmp(part, got + 7 * lin[k], 3 * lin[k] * 4), 0);
        ck_assert_int_eq(qf_layout_dequantize(m, l, t, lout[k] - 1, 2, part, &e), QF_EINVAL);
        free(got);
        free(want);
    }
    ck_assert_ptr_null(qf_layout_warning(l, 0));
    qf_layout_free(l);
    qf_model_close(r);
    qf_model_close(m);
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * Encoders against the fixture bytes. Zero points are recovered from the fixture by the
 * spec's rule (field o % (32/b) of word [o / (32/b)][g], minus 2^(b-1)). */
START_TEST(encode_matches_fixture)
{
    const struct ct_case *c = &cases[_i];
    struct qf_model *m = fx_open(c->dir, "model.safetensors", 0);
    struct qf_model *o = fx_open("st-ct-orig", "orig.safetensors", QF_OPEN_NO_CONFIG);
    for (int k = 0; k < 2; k++) {
        uint64_t O = lout[k], I = lin[k], G = c->G ? c->G : I, ng = I / G;
        char nm[256];
        snprintf(nm, sizeof nm, "%s.weight", layers[k]);
        float *w = tensor_f32(o, nm, "orig");
        float *s = tensor_f32(m, layers[k], "weight_scale");
        float *ps = malloc(O * ng * sizeof *ps);
        int8_t *pz = malloc(O * ng), *fz = calloc(O * ng, 1);
        /* calculate_qparams from the min/max of the original weights: the stored scales */
        if (c->fp8)
            qfi_ct_minmax_params(w, O, I, G, -448.0f, 448.0f, 1, 0, QF_TYPE_BF16, ps, pz);
        else
            qfi_ct_minmax_params(w, O, I, G, -(float)(1 << (c->bits - 1)),
                                 (float)((1 << (c->bits - 1)) - 1), c->sym, 1, QF_TYPE_BF16, ps,
                                 pz);
        ck_assert_int_eq(memcmp(ps, s, O * ng * 4), 0);
        if (c->fp8) {
            uint8_t *q = malloc(O * I);
            uint8_t *fw = tensor_bytes(m, layers[k], "weight", NULL);
            qfi_ct_fp8_quantize_rows(w, O, I, G, QF_TYPE_BF16, s, q);
            ck_assert_int_eq(memcmp(q, fw, O * I), 0);
            free(q);
            free(fw);
        } else {
            int b = c->bits;
            uint64_t pack = 32 / (uint64_t)b, wc = (I + pack - 1) / pack;
            uint8_t *fzp = tensor_bytes(m, layers[k], "weight_zero_point", NULL);
            if (fzp) {
                for (uint64_t oo = 0; oo < O; oo++)
                    for (uint64_t g = 0; g < ng; g++)
                        fz[oo * ng + g] = (int8_t)((le32(fzp + 4 * ((oo / pack) * ng + g)) >>
                                                    (b * (oo % pack))) & ((1u << b) - 1)) -
                                          (1 << (b - 1));
                ck_assert_int_eq(memcmp(pz, fz, O * ng), 0);
                /* packing the zero points gives the fixture's words */
                uint32_t *zw = calloc((O / pack) * ng, 4);
                qfi_ct_pack_zeros(fz, O, ng, b, zw);
                for (uint64_t j = 0; j < (O / pack) * ng; j++)
                    ck_assert_uint_eq(zw[j], le32(fzp + 4 * j));
                free(zw);
            } else {
                for (uint64_t j = 0; j < O * ng; j++)
                    ck_assert_int_eq(pz[j], 0);
            }
            int8_t *q = malloc(O * I);
            qfi_ct_quantize_rows(w, O, I, G, b, QF_TYPE_BF16, s, fzp ? fz : NULL, q);
            uint32_t *pw = calloc(O * wc, 4);
            qfi_ct_pack_rows(q, O, I, b, pw);
            uint8_t *fw = tensor_bytes(m, layers[k], "weight_packed", NULL);
            uint64_t nd = 0;
            for (uint64_t j = 0; j < O * wc; j++)
                nd += pw[j] != le32(fw + 4 * j);
            ck_assert_msg(nd == 0, "%s %s: %llu packed words differ", c->dir, layers[k],
                          (unsigned long long)nd);
            free(q);
            free(pw);
            free(fw);
            free(fzp);
        }
        free(w);
        free(s);
        free(ps);
        free(pz);
        free(fz);
    }
    qf_model_close(o);
    qf_model_close(m);
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * pack int4 <-> GPTQ v2 (spec b.3): the round trip is byte-identical, and the GPTQ v2
 * tensors decode (GPTQ's rule, W = s * (q - z), rounded to bf16 as compressed-tensors does)
 * to compressed-tensors' own reference. */
START_TEST(gptq_v2_equivalence)
{
    const struct ct_case *c = &cases[_i];
    struct qf_model *m = fx_open(c->dir, "model.safetensors", 0);
    struct qf_model *r = fx_open(c->dir, "reference.safetensors", QF_OPEN_NO_CONFIG);
    for (int k = 0; k < 2; k++) {
        uint64_t O = lout[k], I = lin[k], G = c->G ? c->G : I, ng = I / G;
        uint8_t *fw = tensor_bytes(m, layers[k], "weight_packed", NULL);
        uint8_t *fz = tensor_bytes(m, layers[k], "weight_zero_point", NULL);
        uint32_t *pw = malloc(O * I / 8 * 4), *zp = NULL;
        for (uint64_t j = 0; j < O * I / 8; j++)
            pw[j] = le32(fw + 4 * j);
        if (fz) {
            zp = malloc(O / 8 * ng * 4);
            for (uint64_t j = 0; j < O / 8 * ng; j++)
                zp[j] = le32(fz + 4 * j);
        }
        uint32_t *qw = malloc(O * I / 8 * 4), *qz = malloc(O / 8 * ng * 4);
        ck_assert_int_eq(qfi_ct_to_gptq_v2(pw, zp, O, I, ng, 4, qw, qz), QF_OK);
        /* decode as GPTQ: qweight [in/8][out] (input i at nibble i % 8 of row i / 8),
         * qzeros [ng][out/8] (output o at nibble o % 8), v2: zero used as stored */
        float *s = tensor_f32(m, layers[k], "weight_scale");
        char nm[256];
        snprintf(nm, sizeof nm, "%s.weight", layers[k]);
        float *want = tensor_f32(r, nm, "dequant");
        for (uint64_t o = 0; o < O; o++)
            for (uint64_t i = 0; i < I; i++) {
                uint64_t g = i / G;
                int q = (int)((qw[(i / 8) * O + o] >> (4 * (i % 8))) & 15);
                int z = (int)((qz[g * (O / 8) + o / 8] >> (4 * (o % 8))) & 15);
                float v = qfi_ct_round(QF_TYPE_BF16, s[o * ng + g] * (float)(q - z));
                ck_assert_msg(memcmp(&v, &want[o * I + i], 4) == 0, "%s [%llu, %llu]", nm,
                              (unsigned long long)o, (unsigned long long)i);
            }
        if (!zp)
            for (uint64_t j = 0; j < O / 8 * ng; j++)
                ck_assert_uint_eq(qz[j], 0x88888888u);
        uint32_t *bw = calloc(O * I / 8, 4), *bz = calloc(O / 8 * ng, 4);
        ck_assert_int_eq(qfi_gptq_v2_to_ct(qw, qz, O, I, ng, 4, zp == NULL, bw, bz), QF_OK);
        ck_assert_int_eq(memcmp(bw, pw, O * I / 8 * 4), 0);
        if (zp)
            ck_assert_int_eq(memcmp(bz, zp, O / 8 * ng * 4), 0);
        else { /* a zero point other than 8 cannot be symmetric */
            qz[0] ^= 1;
            ck_assert_int_eq(qfi_gptq_v2_to_ct(qw, qz, O, I, ng, 4, 1, bw, bz), QF_EFORMAT);
        }
        free(fw);
        free(fz);
        free(pw);
        free(zp);
        free(qw);
        free(qz);
        free(bw);
        free(bz);
        free(s);
        free(want);
    }
    qf_model_close(r);
    qf_model_close(m);
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * FP8 E4M3 encoding (spec section d): saturating, round to nearest even. */
START_TEST(e4m3_encode)
{
    static const struct {
        float x;
        uint8_t code;
    } v[] = {
        {0.0f, 0x00}, {-0.0f, 0x80}, {1.0f, 0x38}, {-2.0f, 0xC0}, {448.0f, 0x7E},
        {464.0f, 0x7E}, {1e6f, 0x7E}, {-1e6f, 0xFE}, {INFINITY, 0x7E}, {-INFINITY, 0xFE},
        {0x1p-6f, 0x08},        /* smallest normal */
        {0x1p-9f, 0x01},        /* smallest subnormal */
        {0x1p-10f, 0x00},       /* half of it: tie to even 0 */
        {0x1.8p-9f, 0x02},      /* 1.5 units: tie to even 2 */
        {0x1.4p-9f, 0x01},      /* 1.25 units */
        {1.0625f, 0x38},        /* tie between 1 and 1.125: even mantissa 0 */
        {1.1875f, 0x3A},        /* tie between 1.125 and 1.25: even mantissa 2 */
        {1.9375f, 0x40},        /* tie between 1.875 and 2: rounds up into the next binade */
        {240.0f, 0x77}, {416.0f, 0x7D}, {432.0f, 0x7E} /* 432 ties 416/448: even 448 */,
        {0x1.ep-7f, 0x08},      /* 0.9375 * 2^-6 = 7.5 units: even 8, the smallest normal */
    };
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++)
        ck_assert_msg(qfi_fp8_e4m3_encode(v[k].x) == v[k].code, "%a -> 0x%02x, expected 0x%02x",
                      (double)v[k].x, qfi_fp8_e4m3_encode(v[k].x), v[k].code);
    ck_assert_uint_eq(qfi_fp8_e4m3_encode(NAN) & 0x7F, 0x7F);
    /* every finite code decodes and encodes back to itself */
    for (int c = 0; c < 256; c++) {
        if ((c & 0x7F) == 0x7F)
            continue;
        uint8_t b = (uint8_t)c;
        float f;
        ck_assert_int_eq(qf_dequantize(QF_TYPE_F8_E4M3, &b, &f, 1), QF_OK);
        ck_assert_uint_eq(qfi_fp8_e4m3_encode(f), b);
    }
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * Hand-made checkpoints */
static char tmpdir[256];

struct wt {
    const char *name;
    int type, nd;
    uint64_t shape[2];
    const void *data;
};

static void write_ckpt(const struct wt *t, int n, const char *config)
{
    char p[512];
    struct qf_error e;
    struct qf_writer *w;
    struct qf_writer_opts o = {.keep_order = 1, .no_fsync = 1};
    snprintf(p, sizeof p, "%s/model.safetensors", tmpdir);
    unlink(p);
    /* declare everything, then stream the bytes in the same order */
    int rc = qf_writer_new("safetensors", p, &o, &w, &e);
    ck_assert_msg(rc == QF_OK, "%s", e.msg);
    for (int k = 0; k < n && !rc; k++)
        rc = qf_writer_add_tensor(w, t[k].name, t[k].type, t[k].nd, t[k].shape, &e);
    rc = rc ? rc : qf_writer_begin_data(w, &e);
    for (int k = 0; k < n && !rc; k++) {
        uint64_t ne = t[k].shape[0] * (t[k].nd > 1 ? t[k].shape[1] : 1);
        rc = qf_writer_write(w, t[k].data, (size_t)qf_type_nbytes(t[k].type, ne, ne), &e);
    }
    rc = rc ? rc : qf_writer_commit(w, &e);
    ck_assert_msg(rc == QF_OK, "%s", e.msg);
    qf_writer_free(w);
    snprintf(p, sizeof p, "%s/config.json", tmpdir);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(config, f);
    ck_assert_int_eq(fclose(f), 0);
}

static void tmp_setup(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/qf-ct-XXXXXX", t && *t ? t : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void tmp_teardown(void)
{
    char p[512];
    snprintf(p, sizeof p, "%s/model.safetensors", tmpdir);
    unlink(p);
    snprintf(p, sizeof p, "%s/config.json", tmpdir);
    unlink(p);
    rmdir(tmpdir);
}

/* open the checkpoint written last and scan its layout; on failure *m and *l are NULL */
static int scan_tmp(struct qf_model **m, struct qf_layout **l, struct qf_error *e)
{
    char p[512];
    snprintf(p, sizeof p, "%s/model.safetensors", tmpdir);
    *l = NULL;
    ck_assert_msg(qf_model_open(p, NULL, 0, m, e) == QF_OK, "%s", e->msg);
    int rc = qf_layout_scan(*m, 0, l, e);
    if (rc != QF_OK)
        qf_model_close(*m), *m = NULL;
    return rc;
}

#define CT_CFG(fmt, weights)                                                                   \
    "{\"quantization_config\": {\"quant_method\": \"compressed-tensors\", \"format\": \"" fmt    \
    "\", \"config_groups\": {\"group_0\": {\"targets\": [\"Linear\"], \"weights\": {" weights    \
    "}}}}}"
#define W_INT4(sym, gs) "\"num_bits\": 4, \"type\": \"int\", \"symmetric\": " sym ", " gs
#define CFG_SYM CT_CFG("pack-quantized", W_INT4("true", "\"strategy\": \"group\", \"group_size\": 8"))
#define CFG_ASYM CT_CFG("pack-quantized", W_INT4("false", "\"strategy\": \"group\", \"group_size\": 8"))

static uint16_t bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return (uint16_t)(u >> 16); /* exact for the values used here */
}

/* The spec's packing example: signed [-8,-1,0,1,7,2,-3,5] -> 0xD5AF9870. A 2 x 16 layer,
 * group 8: row 0 = the example then its negation (clamped), row 1 = the example reversed
 * twice; scales 0.5 / 0.25 (group 0 / 1) in row 0, 2 / 1 in row 1; asymmetric zero points
 * row 0 {1, -2}, row 1 {0, 3}. */
static const int8_t ex_q[2][16] = {
    {-8, -1, 0, 1, 7, 2, -3, 5, 7, 1, 0, -1, -7, -2, 3, -5},
    {5, -3, 2, 7, 1, 0, -1, -8, 5, -3, 2, 7, 1, 0, -1, -8},
};
static const int8_t ex_z[2][2] = {{1, -2}, {0, 3}};
static const float ex_s[2][2] = {{0.5f, 0.25f}, {2.0f, 1.0f}};

START_TEST(spec_pack_example)
{
    uint32_t w[4] = {0}, z[2] = {0};
    qfi_ct_pack_rows(&ex_q[0][0], 2, 16, 4, w);
    ck_assert_uint_eq(w[0], 0xD5AF9870u);
    /* 7,1,0,-1,-7,-2,3,-5 -> 15,9,8,7,1,6,11,3 */
    ck_assert_uint_eq(w[1], 0x3B61789Fu);
    /* 5,-3,2,7,1,0,-1,-8 -> 13,5,10,15,9,8,7,0 */
    ck_assert_uint_eq(w[2], 0x0789FA5Du);
    ck_assert_uint_eq(w[3], 0x0789FA5Du);
    qfi_ct_pack_zeros(&ex_z[0][0], 2, 2, 4, z);
    /* group 0: rows 0, 1 -> 9, 8 (0x89); group 1: -2, 3 -> 6, 11 (0xB6) */
    ck_assert_uint_eq(z[0], 0x89u);
    ck_assert_uint_eq(z[1], 0xB6u);
    /* a padded row: in = 3 at 8 bits leaves the top field 0 */
    int8_t q3[3] = {-128, 127, 0};
    uint32_t w3 = 0;
    qfi_ct_pack_rows(q3, 1, 3, 8, &w3);
    ck_assert_uint_eq(w3, 0x0080FF00u);

    uint8_t wb[16], zb[8], sb[8], shp[16];
    for (int k = 0; k < 4; k++)
        for (int b = 0; b < 4; b++)
            wb[4 * k + b] = (uint8_t)(w[k] >> (8 * b));
    for (int k = 0; k < 2; k++)
        for (int b = 0; b < 4; b++)
            zb[4 * k + b] = (uint8_t)(z[k] >> (8 * b));
    for (int k = 0; k < 4; k++) {
        uint16_t h = bf16(ex_s[k / 2][k % 2]);
        sb[2 * k] = (uint8_t)h;
        sb[2 * k + 1] = (uint8_t)(h >> 8);
    }
    memset(shp, 0, sizeof shp);
    shp[0] = 2;
    shp[8] = 16;
    for (int asym = 0; asym < 2; asym++) {
        struct qf_error e;
        struct qf_model *m;
        struct qf_layout *l;
        struct wt t[4] = {
            {"layer.weight_packed", QF_TYPE_I32, 2, {2, 2}, wb},
            {"layer.weight_scale", QF_TYPE_BF16, 2, {2, 2}, sb},
            {"layer.weight_shape", QF_TYPE_I64, 1, {2, 0}, shp},
            {"layer.weight_zero_point", QF_TYPE_I32, 2, {1, 2}, zb},
        };
        write_ckpt(t, asym ? 4 : 3, asym ? CFG_ASYM : CFG_SYM);
        ck_assert_msg(scan_tmp(&m, &l, &e) == QF_OK, "%s", e.msg);
        const struct qf_ltensor *lt = qf_layout_find(l, "layer.weight");
        ck_assert_ptr_nonnull(lt);
        ck_assert_str_eq(lt->scheme, asym ? "compressed-tensors pack int4 g8 asym"
                                          : "compressed-tensors pack int4 g8 sym");
        ck_assert_uint_eq(lt->nbytes, 16 + 8 + 16 + (asym ? 8 : 0));
        float out[32];
        ck_assert_int_eq(qf_layout_dequantize(m, l, lt, 0, UINT64_MAX, out, &e), QF_OK);
        for (int o = 0; o < 2; o++)
            for (int i = 0; i < 16; i++)
                ck_assert_float_eq(out[o * 16 + i],
                                   (float)(ex_q[o][i] - (asym ? ex_z[o][i / 8] : 0)) *
                                       ex_s[o][i / 8]);
        qf_layout_free(l);
        qf_model_close(m);
    }
}
END_TEST

static void le_words(const uint32_t *w, int n, uint8_t *dst)
{
    for (int k = 0; k < 4 * n; k++)
        dst[k] = (uint8_t)(w[k / 4] >> (8 * (k % 4)));
}

static void bf16_bytes(const float *v, int n, uint8_t *dst)
{
    for (int k = 0; k < n; k++) {
        uint16_t h = bf16(v[k]);
        dst[2 * k] = (uint8_t)h;
        dst[2 * k + 1] = (uint8_t)(h >> 8);
    }
}

/* weight_g_idx (actorder "group"): inputs 0..7 use group 1, 8..15 group 0; without actorder
 * in the config the permutation is reported. */
START_TEST(act_order_g_idx)
{
    uint32_t w[4] = {0};
    qfi_ct_pack_rows(&ex_q[0][0], 2, 16, 4, w);
    uint8_t wb[16], sb[8], shp[16] = {2, 0, 0, 0, 0, 0, 0, 0, 16}, gi[64] = {0};
    le_words(w, 4, wb);
    bf16_bytes(&ex_s[0][0], 4, sb);
    for (int i = 0; i < 8; i++)
        gi[4 * i] = 1;
    struct wt t[4] = {
        {"layer.weight_g_idx", QF_TYPE_I32, 1, {16, 0}, gi},
        {"layer.weight_packed", QF_TYPE_I32, 2, {2, 2}, wb},
        {"layer.weight_scale", QF_TYPE_BF16, 2, {2, 2}, sb},
        {"layer.weight_shape", QF_TYPE_I64, 1, {2, 0}, shp},
    };
    for (int declared = 0; declared < 2; declared++) {
        struct qf_error e;
        struct qf_model *m;
        struct qf_layout *l;
        write_ckpt(t, 4, declared ? CT_CFG("pack-quantized", W_INT4("true", "\"group_size\": 8, "
                                                                    "\"actorder\": \"group\""))
                                  : CFG_SYM);
        ck_assert_msg(scan_tmp(&m, &l, &e) == QF_OK, "%s", e.msg);
        const struct qf_ltensor *lt = qf_layout_find(l, "layer.weight");
        ck_assert_str_eq(lt->scheme, "compressed-tensors pack int4 g8 sym act-order");
        ck_assert_int_eq(lt->act_order, 1);
        ck_assert_ptr_nonnull(lt->parts[QF_LPART_G_IDX]);
        /* the layer comes first: g_idx is the first of its tensors */
        ck_assert_ptr_eq(qf_layout_tensor(l, 0), lt);
        if (declared)
            ck_assert_ptr_null(qf_layout_warning(l, 0));
        else
            ck_assert_ptr_nonnull(strstr(qf_layout_warning(l, 0), "declares no actorder"));
        float out[32];
        ck_assert_int_eq(qf_layout_dequantize(m, l, lt, 0, UINT64_MAX, out, &e), QF_OK);
        for (int o = 0; o < 2; o++)
            for (int i = 0; i < 16; i++)
                ck_assert_float_eq(out[o * 16 + i], (float)ex_q[o][i] * ex_s[o][i < 8]);
        qf_layout_free(l);
        qf_model_close(m);
    }
}
END_TEST

/* strategy "tensor", asymmetric: one scale, one I8 zero point (not packed) */
START_TEST(tensor_strategy_asym)
{
    struct qf_error e;
    struct qf_model *m;
    struct qf_layout *l;
    uint32_t w[4] = {0};
    qfi_ct_pack_rows(&ex_q[0][0], 2, 16, 4, w);
    static const float s1 = 0.5f;
    uint8_t wb[16], sb[2], shp[16] = {2, 0, 0, 0, 0, 0, 0, 0, 16}, zp = 0xFE; /* -2 */
    le_words(w, 4, wb);
    bf16_bytes(&s1, 1, sb);
    struct wt t[4] = {
        {"layer.weight_packed", QF_TYPE_I32, 2, {2, 2}, wb},
        {"layer.weight_scale", QF_TYPE_BF16, 1, {1, 0}, sb},
        {"layer.weight_shape", QF_TYPE_I64, 1, {2, 0}, shp},
        {"layer.weight_zero_point", QF_TYPE_I8, 1, {1, 0}, &zp},
    };
    write_ckpt(t, 4, CT_CFG("pack-quantized", W_INT4("false", "\"strategy\": \"tensor\"")));
    ck_assert_msg(scan_tmp(&m, &l, &e) == QF_OK, "%s", e.msg);
    const struct qf_ltensor *lt = qf_layout_find(l, "layer.weight");
    ck_assert_str_eq(lt->scheme, "compressed-tensors pack int4 per-tensor asym");
    ck_assert_int_eq(lt->group_size, 16);
    float out[32];
    ck_assert_int_eq(qf_layout_dequantize(m, l, lt, 1, 1, out, &e), QF_OK);
    for (int i = 0; i < 16; i++)
        ck_assert_float_eq(out[i], (float)(ex_q[1][i] + 2) * 0.5f);
    qf_layout_free(l);
    qf_model_close(m);
}
END_TEST

/* Two config groups (int8 per channel, int4 group 8): each layer gets the group its tensors
 * fit. */
START_TEST(two_config_groups)
{
    struct qf_error e;
    struct qf_model *m;
    struct qf_layout *l;
    uint32_t w4[4] = {0}, w8[8] = {0};
    qfi_ct_pack_rows(&ex_q[0][0], 2, 16, 4, w4);
    qfi_ct_pack_rows(&ex_q[0][0], 2, 16, 8, w8);
    ck_assert_uint_eq(w8[0], 0x81807F78u); /* -8, -1, 0, 1 + 128 = 0x78, 0x7F, 0x80, 0x81 */
    uint8_t b4[16], b8[32], s4[8], s8[4], shp[16] = {2, 0, 0, 0, 0, 0, 0, 0, 16};
    static const float sc8[2] = {0.125f, 4.0f};
    le_words(w4, 4, b4);
    le_words(w8, 8, b8);
    bf16_bytes(&ex_s[0][0], 4, s4);
    bf16_bytes(sc8, 2, s8);
    struct wt t[6] = {
        {"a.weight_packed", QF_TYPE_I32, 2, {2, 2}, b4},
        {"a.weight_scale", QF_TYPE_BF16, 2, {2, 2}, s4},
        {"a.weight_shape", QF_TYPE_I64, 1, {2, 0}, shp},
        {"b.weight_packed", QF_TYPE_I32, 2, {2, 4}, b8},
        {"b.weight_scale", QF_TYPE_BF16, 2, {2, 1}, s8},
        {"b.weight_shape", QF_TYPE_I64, 1, {2, 0}, shp},
    };
    write_ckpt(t, 6, "{\"quantization_config\": {\"quant_method\": \"compressed-tensors\", "
                     "\"format\": \"pack-quantized\", \"config_groups\": {"
                     "\"group_0\": {\"targets\": [\"re:^b$\"], \"weights\": {\"num_bits\": 8, "
                     "\"type\": \"int\", \"strategy\": \"channel\"}}, "
                     "\"group_1\": {\"targets\": [\"Linear\"], \"weights\": {\"num_bits\": 4, "
                     "\"type\": \"int\", \"strategy\": \"group\", \"group_size\": 8}}}}}");
    ck_assert_msg(scan_tmp(&m, &l, &e) == QF_OK, "%s", e.msg);
    ck_assert_str_eq(qf_layout_find(l, "a.weight")->scheme, "compressed-tensors pack int4 g8 sym");
    const struct qf_ltensor *lb = qf_layout_find(l, "b.weight");
    ck_assert_str_eq(lb->scheme, "compressed-tensors pack int8 per-channel sym");
    float out[32];
    ck_assert_int_eq(qf_layout_dequantize(m, l, lb, 0, UINT64_MAX, out, &e), QF_OK);
    for (int o = 0; o < 2; o++)
        for (int i = 0; i < 16; i++)
            ck_assert_float_eq(out[o * 16 + i], (float)ex_q[o][i] * sc8[o]);
    qf_layout_free(l);
    qf_model_close(m);
}
END_TEST

/* FP8 with bf16 scales rounds every product to bf16 (compressed-tensors computes in the scale
 * dtype): strategy "block" [2, 2] on a 3 x 3 weight, scales [2, 2].
 * 1.125 (0x39) * 1.0078125 = 1.1337890625 -> bf16 1.1328125 (17.125 units of 2^-7 -> 17). */
START_TEST(ct_fp8_block_bf16)
{
    struct qf_error e;
    struct qf_model *m;
    struct qf_layout *l;
    static const uint8_t wq[9] = {0x39, 0x38, 0xB8, 0x40, 0x30, 0x01, 0x7E, 0x00, 0x39};
    static const float wv[9] = {1.125f, 1.0f, -1.0f, 2.0f, 0.5f, 0x1p-9f, 448.0f, 0.0f, 1.125f};
    static const float sv[4] = {1.0078125f, 2.0f, 0.5f, 3.0f};
    uint8_t sb[8];
    for (int k = 0; k < 4; k++) {
        uint16_t h = bf16(sv[k]);
        sb[2 * k] = (uint8_t)h;
        sb[2 * k + 1] = (uint8_t)(h >> 8);
    }
    struct wt t[2] = {
        {"b.weight", QF_TYPE_F8_E4M3, 2, {3, 3}, wq},
        {"b.weight_scale", QF_TYPE_BF16, 2, {2, 2}, sb},
    };
    write_ckpt(t, 2, CT_CFG("float-quantized", "\"num_bits\": 8, \"type\": \"float\", "
                            "\"symmetric\": true, \"strategy\": \"block\", "
                            "\"block_structure\": [2, 2]"));
    ck_assert_msg(scan_tmp(&m, &l, &e) == QF_OK, "%s", e.msg);
    const struct qf_ltensor *lt = qf_layout_find(l, "b.weight");
    ck_assert_str_eq(lt->scheme, "compressed-tensors fp8 e4m3 block2x2");
    float out[9];
    ck_assert_int_eq(qf_layout_dequantize(m, l, lt, 0, UINT64_MAX, out, &e), QF_OK);
    /* by hand: row 0 block (0,0) scale 1.0078125 -> 1.125 * s = 1.1337890625 -> 1.1328125,
     * 1.0 * s = 1.0078125; column 2 scale 2.0 */
    static const float want[9] = {1.1328125f, 1.0078125f, -2.0f,
                                  2.015625f,  0.50390625f, 0x1p-8f,
                                  224.0f,     0.0f,        3.375f};
    for (int k = 0; k < 9; k++)
        ck_assert_msg(out[k] == want[k], "[%d] %a != %a (%g * %g)", k, (double)out[k],
                      (double)want[k], (double)wv[k], (double)sv[(k / 6) * 2 + (k % 3) / 2]);
    qf_layout_free(l);
    qf_model_close(m);
}
END_TEST

/* HF "fp8" (spec b'): W = weight * weight_scale_inv per [br, bc] block, cropped; f32 product.
 * weight 3 x 5, weight_block_size [2, 2] -> scales [2, 3]. */
START_TEST(hf_fp8_block)
{
    struct qf_error e;
    struct qf_model *m;
    struct qf_layout *l;
    /* 1, 2, -1, 0.5, 448 / 2^-9, 1.125, -2, 0, 1 / 3, 0x38.. */
    static const uint8_t wq[15] = {0x38, 0x40, 0xB8, 0x30, 0x7E, 0x01, 0x39, 0xC0, 0x00, 0x38,
                                   0x44, 0x38, 0x38, 0x38, 0xB0};
    static const float sv[6] = {1.0f, 0.1f, 4.0f, 0.5f, 3.0f, 1e-3f};
    struct wt t[3] = {
        {"lm_head.weight", QF_TYPE_F32, 1, {6, 0}, sv},
        {"x.weight", QF_TYPE_F8_E4M3, 2, {3, 5}, wq},
        {"x.weight_scale_inv", QF_TYPE_F32, 2, {2, 3}, sv},
    };
    write_ckpt(t, 3, "{\"quantization_config\": {\"quant_method\": \"fp8\", "
                     "\"activation_scheme\": \"dynamic\", \"weight_block_size\": [2, 2]}}");
    ck_assert_msg(scan_tmp(&m, &l, &e) == QF_OK, "%s", e.msg);
    ck_assert_str_eq(qf_layout_name(l), "fp8");
    ck_assert_uint_eq(qf_layout_n_tensors(l), 2);
    const struct qf_ltensor *lt = qf_layout_find(l, "x.weight");
    ck_assert_ptr_nonnull(lt);
    ck_assert_str_eq(lt->scheme, "fp8 e4m3 block2x2");
    ck_assert_int_eq(lt->family, QF_LAYOUT_FP8);
    ck_assert_uint_eq(lt->nbytes, 15 + 24);
    ck_assert_double_eq_tol(lt->bpw, 39.0 * 8 / 15, 1e-12);
    float out[15];
    ck_assert_int_eq(qf_layout_dequantize(m, l, lt, 0, UINT64_MAX, out, &e), QF_OK);
    /* rows 0-1 use scale row 0 {1, 0.1, 4}, row 2 scale row 1 {0.5, 3, 1e-3};
     * columns 0-1 / 2-3 / 4 */
    const float want[15] = {
        1.0f,        2.0f,         -1.0f * 0.1f, 0.5f * 0.1f, 448.0f * 4.0f,
        0x1p-9f,     1.125f,       -2.0f * 0.1f, 0.0f,        1.0f * 4.0f,
        3.0f * 0.5f, 1.0f * 0.5f,  1.0f * 3.0f,  1.0f * 3.0f, -0.5f * 1e-3f,
    };
    for (int k = 0; k < 15; k++)
        ck_assert_msg(out[k] == want[k], "[%d] %a != %a", k, (double)out[k], (double)want[k]);
    float row2[5];
    ck_assert_int_eq(qf_layout_dequantize(m, l, lt, 2, 1, row2, &e), QF_OK);
    ck_assert_int_eq(memcmp(row2, want + 10, sizeof row2), 0);
    ck_assert_ptr_null(qf_layout_warning(l, 0));
    qf_layout_free(l);
    qf_model_close(m);
    /* no weight_block_size: [128, 128] assumed and reported; scales [1, 1] then */
    struct wt t1[2] = {
        {"x.weight", QF_TYPE_F8_E4M3, 2, {3, 5}, wq},
        {"x.weight_scale_inv", QF_TYPE_F32, 2, {1, 1}, sv + 2},
    };
    write_ckpt(t1, 2, "{\"quantization_config\": {\"quant_method\": \"fp8\"}}");
    ck_assert_msg(scan_tmp(&m, &l, &e) == QF_OK, "%s", e.msg);
    lt = qf_layout_find(l, "x.weight");
    ck_assert_str_eq(lt->scheme, "fp8 e4m3 block128x128");
    ck_assert_ptr_nonnull(qf_layout_warning(l, 0));
    ck_assert_ptr_nonnull(strstr(qf_layout_warning(l, 0), "[128, 128]"));
    ck_assert_int_eq(qf_layout_dequantize(m, l, lt, 0, 1, out, &e), QF_OK);
    ck_assert_float_eq(out[4], 448.0f * 4.0f);
    qf_layout_free(l);
    qf_model_close(m);
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * Rejections: each names the layer. Base: the sym example above (2 x 16, group 8). */
struct bad_case {
    int variant;              /* which tensors are written (see rejects) */
    int code;
    const char *needle;       /* in the message; the case's name too */
    const char *config;
};

static const struct bad_case bad[] = {
    /* weight_shape disagrees */
    {1, QF_EFORMAT, "weight_packed shape [2, 2] disagrees with weight_shape [2, 24]",
     CFG_SYM},
    /* num_bits disagrees */
    {0, QF_EFORMAT, "num_bits=8",
     CT_CFG("pack-quantized", "\"num_bits\": 8, \"type\": \"int\", \"group_size\": 8")},
    /* packed dtype */
    {2, QF_EFORMAT, "weight_packed must be a 2-D I32 tensor, found i16",
     CFG_SYM},
    /* missing weight_shape */
    {3, QF_EFORMAT, "missing tensor 'layer.weight_shape'",
     CFG_SYM},
    /* missing zero point */
    {0, QF_EFORMAT, "'layer.weight_zero_point' is missing",
     CFG_ASYM},
    /* missing scale */
    {4, QF_EFORMAT, "missing tensor 'layer.weight_scale'",
     CFG_SYM},
    /* group not dividing */
    {0, QF_EFORMAT, "group_size 6 does not divide in_features 16",
     CT_CFG("pack-quantized", W_INT4("true", "\"group_size\": 6"))},
    /* scale shape */
    {0, QF_EFORMAT, "weight_scale shape [2, 2], expected [2, 1]",
     CT_CFG("pack-quantized", W_INT4("true", "\"strategy\": \"channel\""))},
    /* weight_shape dtype */
    {5, QF_EFORMAT, "weight_shape must be an I64 or I32",
     CFG_SYM},
    /* g_idx range */
    {6, QF_EFORMAT, "weight_g_idx[15] = 2 out of range",
     CFG_SYM},
    /* fp8 weight dtype */
    {7, QF_EFORMAT, "weight must be a 2-D F8_E4M3 tensor, found bf16",
     CT_CFG("float-quantized", "\"num_bits\": 8, \"type\": \"float\", \"strategy\": \"tensor\"")},
    /* fp8 without scale */
    {8, QF_EFORMAT, "without a weight_scale tensor",
     CT_CFG("float-quantized", "\"num_bits\": 8, \"type\": \"float\", \"strategy\": \"tensor\"")},
    /* hf fp8 scale shape */
    {9, QF_EFORMAT, "weight_scale_inv shape [1, 1], expected [2, 2]",
     "{\"quantization_config\": {\"quant_method\": \"fp8\", \"weight_block_size\": [1, 4]}}"},
    /* hf fp8 without scale */
    {8, QF_EFORMAT, "without a weight_scale_inv tensor",
     "{\"quantization_config\": {\"quant_method\": \"fp8\"}}"},
    /* format */
    {0, QF_EUNSUPPORTED, "format 'marlin-24' is not supported",
     CT_CFG("marlin-24", W_INT4("true", "\"group_size\": 8"))},
};

START_TEST(rejects)
{
    const struct bad_case *c = &bad[_i];
    struct qf_error e;
    struct qf_model *m;
    struct qf_layout *l;
    uint32_t w[4] = {0};
    qfi_ct_pack_rows(&ex_q[0][0], 2, 16, 4, w);
    uint8_t wb[16], sb[8] = {0x80, 0x3F, 0x80, 0x3F, 0x80, 0x3F, 0x80, 0x3F}, shp[16] = {2};
    uint8_t gi[64] = {0}, f8[32] = {0};
    shp[8] = c->variant == 1 ? 24 : 16;
    for (int k = 0; k < 16; k++)
        wb[k] = (uint8_t)(w[k / 4] >> (8 * (k % 4)));
    for (int i = 0; i < 16; i++)
        gi[4 * i] = (uint8_t)(i == 15 ? 2 : i / 8);
    struct wt t[4] = {
        {"layer.weight_packed", c->variant == 2 ? QF_TYPE_I16 : QF_TYPE_I32, 2,
         {2, c->variant == 2 ? 4 : 2}, wb},
        {"layer.weight_scale", QF_TYPE_BF16, 2, {2, 2}, sb},
        {"layer.weight_shape", c->variant == 5 ? QF_TYPE_F32 : QF_TYPE_I64, 1,
         {c->variant == 5 ? 4 : 2, 0}, shp},
        {"layer.weight_g_idx", QF_TYPE_I32, 1, {16, 0}, gi},
    };
    int n = c->variant == 6 ? 4 : 3;
    if (c->variant == 3)
        n = 2;
    if (c->variant == 4)
        t[1] = t[2], n = 2;
    if (c->variant >= 7) { /* FP8 layers */
        struct wt f[2] = {
            {"layer.weight", c->variant == 7 ? QF_TYPE_BF16 : QF_TYPE_F8_E4M3, 2, {2, 8}, f8},
            {c->variant == 9 ? "layer.weight_scale_inv" : "layer.weight_scale", QF_TYPE_BF16, 1,
             {1, 0}, sb},
        };
        if (c->variant == 9)
            f[1].nd = 2, f[1].shape[1] = 1;
        memcpy(t, f, sizeof f);
        n = c->variant == 8 ? 1 : 2;
    }
    write_ckpt(t, n, c->config);
    int rc = scan_tmp(&m, &l, &e);
    int named = c->code != QF_EFORMAT || strstr(e.msg, "'layer'") != NULL;
    ck_assert_msg(rc == c->code && strstr(e.msg, c->needle) && named,
                  "[%s] code %d (want %d), message '%s'", c->needle, rc, c->code, e.msg);
    ck_assert_ptr_null(l);
}
END_TEST

Suite *suite_ctensors(void)
{
    Suite *s = suite_create("ctensors");
    TCase *tc = tcase_create("fixtures");
    tcase_add_loop_test(tc, fixture_reference, 0, (int)(sizeof cases / sizeof cases[0]));
    tcase_add_loop_test(tc, encode_matches_fixture, 0, (int)(sizeof cases / sizeof cases[0]));
    /* the four int4 cases */
    tcase_add_loop_test(tc, gptq_v2_equivalence, 0, 4);
    tcase_add_test(tc, e4m3_encode);
    suite_add_tcase(s, tc);
    TCase *th = tcase_create("hand-made");
    tcase_add_checked_fixture(th, tmp_setup, tmp_teardown);
    tcase_add_test(th, spec_pack_example);
    tcase_add_test(th, act_order_g_idx);
    tcase_add_test(th, tensor_strategy_asym);
    tcase_add_test(th, two_config_groups);
    tcase_add_test(th, ct_fp8_block_bf16);
    tcase_add_test(th, hf_fp8_block);
    tcase_add_loop_test(th, rejects, 0, (int)(sizeof bad / sizeof bad[0]));
    suite_add_tcase(s, th);
    return s;
}
