/* check_layout.c - quantized layouts: GPTQ and AWQ checkpoints packed by AutoGPTQ / AutoAWQ
 * against those projects' own dequantization, the specs' hand-worked examples, and rejection of
 * inconsistent layers. */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qf/qf.h"

Suite *suite_layout(void);

/* ---------------------------------------------------------------------------------------
 * Fixtures: model.safetensors as written by the project, reference.safetensors holding
 * "<layer>.weight.dequant" (the project's own dequantization, F32 [out, in]). */
struct ref_case {
    const char *dir;
    const char *layout;
    const char *scheme_down;  /* scheme of model.layers.0.mlp.down_proj.weight */
    const char *scheme_k;     /* scheme of model.layers.0.self_attn.k_proj.weight */
    double bpw_down;
    uint64_t ndiff_down, ndiff_k; /* elements differing from the reference (see the case) */
};

static const struct ref_case cases[] = {
    {"st-gptq-b4-g128-asym-descact", "gptq", "gptq int4 g128 asym act-order v1",
     "gptq int4 g128 asym act-order v1", 27072.0 * 8 / (128 * 384), 0, 0},
    {"st-gptq-b3-g32-sym-descact", "gptq", "gptq int3 g32 sym act-order v1",
     "gptq int3 g32 sym act-order v1", 23616.0 * 8 / (128 * 384), 0, 0},
    {"st-gptq-b8-gnone-sym", "gptq", "gptq int8 per-channel sym v1", "gptq int8 per-channel sym v1",
     51072.0 * 8 / (128 * 384), 0, 0},
    /* v1 zero underflow: fields written as -1 (all ones) decode as 8, as AutoGPTQ's 3-bit
     * reader does too */
    {"st-gptq-b3-gnone-asym", "gptq", "gptq int3 per-channel asym v1",
     "gptq int3 per-channel asym v1", 20272.0 * 8 / (128 * 384), 0, 0},
    /* v1 zero underflow at 2 bits: AutoGPTQ's qlinear_cuda_old wraps an all-ones field to
     * zero 0, (stored + 1) & 3; this library (like qlinear_cuda and llama.cpp) reads it as 4.
     * Those elements differ; the rest are bit-identical. */
    {"st-gptq-b2-g32-asym", "gptq", "gptq int2 g32 asym v1", "gptq int2 g32 asym v1",
     17280.0 * 8 / (128 * 384), 4000, 3072},
    {"st-awq-gemm-b4-g128", "awq", "awq gemm int4 g128", "awq gemm int4 g128",
     25536.0 * 8 / (128 * 384), 0, 0},
    {"st-awq-gemv-b4-g64", "awq", "awq gemv int4 g64", "awq gemv int4 g64",
     29696.0 * 8 / (128 * 384), 0, 0},
};

static void check_layer(struct qf_model *m, struct qf_layout *l, struct qf_model *r,
                        const char *name, uint64_t out_f, uint64_t in_f, const char *scheme,
                        uint64_t ndiff_want)
{
    struct qf_error e;
    const struct qf_ltensor *t = qf_layout_find(l, name);
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(t->scheme, scheme);
    ck_assert_int_eq(t->n_dims, 2);
    ck_assert_uint_eq(t->shape[0], out_f);
    ck_assert_uint_eq(t->shape[1], in_f);
    float *got = malloc(out_f * in_f * sizeof *got), *want = malloc(out_f * in_f * sizeof *want);
    ck_assert_ptr_nonnull(got);
    ck_assert_ptr_nonnull(want);
    ck_assert_int_eq(qf_layout_dequantize(m, l, t, 0, UINT64_MAX, got, &e), QF_OK);
    char rn[256];
    snprintf(rn, sizeof rn, "%s.dequant", name);
    const struct qf_tensor *rt = qf_model_find_tensor(r, rn);
    ck_assert_ptr_nonnull(rt);
    ck_assert_uint_eq(rt->nbytes, out_f * in_f * 4);
    ck_assert_int_eq(qf_model_read(r, rt, 0, want, (size_t)rt->nbytes, &e), QF_OK);
    uint64_t nd = 0;
    for (uint64_t k = 0; k < out_f * in_f; k++)
        nd += memcmp(&got[k], &want[k], 4) != 0;
    ck_assert_msg(nd == ndiff_want, "%s: %llu elements differ, expected %llu", name,
                  (unsigned long long)nd, (unsigned long long)ndiff_want);
    /* a row range gives the same rows */
    float *part = malloc(3 * in_f * sizeof *part);
    ck_assert_int_eq(qf_layout_dequantize(m, l, t, 5, 3, part, &e), QF_OK);
    ck_assert_int_eq(memcmp(part, got + 5 * in_f, 3 * in_f * sizeof *part), 0);
    ck_assert_int_eq(qf_layout_dequantize(m, l, t, out_f - 1, 2, part, &e), QF_EINVAL);
    free(part);
    free(got);
    free(want);
}

START_TEST(fixture_reference)
{
    const struct ref_case *c = &cases[_i];
    char p[256];
    struct qf_error e;
    struct qf_model *m, *r;
    struct qf_layout *l;
    snprintf(p, sizeof p, "fixtures/%s/model.safetensors", c->dir);
    ck_assert_msg(qf_model_open(p, NULL, 0, &m, &e) == QF_OK, "%s", e.msg);
    snprintf(p, sizeof p, "fixtures/%s/reference.safetensors", c->dir);
    ck_assert_msg(qf_model_open(p, NULL, QF_OPEN_NO_CONFIG, &r, &e) == QF_OK, "%s", e.msg);
    ck_assert_msg(qf_layout_scan(m, 0, &l, &e) == QF_OK, "%s", e.msg);
    ck_assert_str_eq(qf_layout_name(l), c->layout);
    /* down_proj, k_proj and k_proj's bias (passed through as f16) */
    ck_assert_uint_eq(qf_layout_n_tensors(l), 3);
    const struct qf_ltensor *bias = qf_layout_find(l, "model.layers.0.self_attn.k_proj.bias");
    ck_assert_ptr_nonnull(bias);
    ck_assert_str_eq(bias->scheme, "f16");
    ck_assert_int_eq(bias->family, QF_LAYOUT_PLAIN);
    ck_assert_uint_eq(bias->shape[0], 64);
    ck_assert_double_eq_tol(bias->bpw, 16.0, 1e-12);
    check_layer(m, l, r, "model.layers.0.mlp.down_proj.weight", 128, 384, c->scheme_down,
                c->ndiff_down);
    check_layer(m, l, r, "model.layers.0.self_attn.k_proj.weight", 64, 256, c->scheme_k,
                c->ndiff_k);
    const struct qf_ltensor *d = qf_layout_find(l, "model.layers.0.mlp.down_proj.weight");
    ck_assert_double_eq_tol(d->bpw, c->bpw_down, 1e-9);
    ck_assert_ptr_null(qf_layout_warning(l, 0));
    qf_layout_free(l);
    qf_model_close(r);
    qf_model_close(m);
}
END_TEST

/* The 2-bit underflow case: the layer's GPTQ qzeros words hold all-ones fields, and the
 * elements that differ from AutoGPTQ's qlinear_cuda_old are exactly 4 * scale away from it
 * (zero 4 here, 0 there). */
START_TEST(gptq_v1_underflow_is_4_scales)
{
    struct qf_error e;
    struct qf_model *m, *r;
    struct qf_layout *l;
    ck_assert_int_eq(qf_model_open("fixtures/st-gptq-b2-g32-asym/model.safetensors", NULL, 0, &m,
                                   &e), QF_OK);
    ck_assert_int_eq(qf_model_open("fixtures/st-gptq-b2-g32-asym/reference.safetensors", NULL,
                                   QF_OPEN_NO_CONFIG, &r, &e), QF_OK);
    ck_assert_int_eq(qf_layout_scan(m, 0, &l, &e), QF_OK);
    const struct qf_ltensor *t = qf_layout_find(l, "model.layers.0.self_attn.k_proj.weight");
    const struct qf_tensor *sc = t->parts[QF_LPART_SCALES];
    ck_assert_uint_eq(sc->shape[0], 8);
    uint16_t sh[8 * 64];
    float s[8 * 64], got[64 * 256], want[64 * 256];
    ck_assert_int_eq(qf_model_read(m, sc, 0, sh, sizeof sh, &e), QF_OK);
    ck_assert_int_eq(qf_dequantize(QF_TYPE_F16, sh, s, 8 * 64), QF_OK);
    ck_assert_int_eq(qf_layout_dequantize(m, l, t, 0, UINT64_MAX, got, &e), QF_OK);
    const struct qf_tensor *rt = qf_model_find_tensor(r, "model.layers.0.self_attn.k_proj.weight.dequant");
    ck_assert_int_eq(qf_model_read(r, rt, 0, want, sizeof want, &e), QF_OK);
    for (int o = 0; o < 64; o++)
        for (int i = 0; i < 256; i++) {
            float a = got[o * 256 + i], b = want[o * 256 + i];
            if (a != b)
                ck_assert_float_eq(b - a, 4.0f * s[(i / 32) * 64 + o]);
        }
    qf_layout_free(l);
    qf_model_close(r);
    qf_model_close(m);
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * Hand-made checkpoints: a tiny safetensors writer and a config.json beside it. */
static char tmpdir[256];

static void mk_tmpdir(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/qf-layout-XXXXXX", t && *t ? t : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void rm_tmpdir(void)
{
    DIR *d = opendir(tmpdir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        char p[512];
        if (de->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", tmpdir, de->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(tmpdir);
}

struct wt {
    const char *name, *dtype;
    int nd;
    uint64_t shape[2];
    const void *data;
    size_t nbytes;
};

static void write_st(const struct wt *t, int n)
{
    char hdr[4096], p[512];
    size_t hl = 0;
    uint64_t off = 0;
    hl += (size_t)snprintf(hdr + hl, sizeof hdr - hl, "{");
    for (int k = 0; k < n; k++) {
        hl += (size_t)snprintf(hdr + hl, sizeof hdr - hl, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[",
                               k ? "," : "", t[k].name, t[k].dtype);
        for (int d = 0; d < t[k].nd; d++)
            hl += (size_t)snprintf(hdr + hl, sizeof hdr - hl, "%s%llu", d ? "," : "",
                                   (unsigned long long)t[k].shape[d]);
        hl += (size_t)snprintf(hdr + hl, sizeof hdr - hl, "],\"data_offsets\":[%llu,%llu]}",
                               (unsigned long long)off, (unsigned long long)(off + t[k].nbytes));
        off += t[k].nbytes;
    }
    hl += (size_t)snprintf(hdr + hl, sizeof hdr - hl, "}");
    while (hl % 8)
        hdr[hl++] = ' ';
    snprintf(p, sizeof p, "%s/model.safetensors", tmpdir);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    uint8_t len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    fwrite(len, 1, 8, f);
    fwrite(hdr, 1, hl, f);
    for (int k = 0; k < n; k++)
        fwrite(t[k].data, 1, t[k].nbytes, f);
    ck_assert_int_eq(fclose(f), 0);
}

static void write_config(const char *json)
{
    char p[512];
    snprintf(p, sizeof p, "%s/config.json", tmpdir);
    if (!json) {
        unlink(p);
        return;
    }
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(json, f);
    ck_assert_int_eq(fclose(f), 0);
}

static int open_scan(struct qf_model **m, struct qf_layout **l, struct qf_error *e)
{
    char p[512];
    snprintf(p, sizeof p, "%s/model.safetensors", tmpdir);
    ck_assert_msg(qf_model_open(p, NULL, 0, m, e) == QF_OK, "%s", e->msg);
    *l = NULL;
    int rc = qf_layout_scan(*m, 0, l, e);
    if (rc) {
        qf_model_close(*m);
        *m = NULL;
    }
    return rc;
}

static void le32s(uint8_t *dst, const uint32_t *w, int n)
{
    for (int k = 0; k < n; k++)
        for (int b = 0; b < 4; b++)
            dst[4 * k + b] = (uint8_t)(w[k] >> (8 * b));
}

/* gptq.md section 10: in = out = 8, 4 bits, G = 4, codes (2i + o) mod 16, zeros 1 + o and 8,
 * scales 0.125 and 0.25. */
static uint8_t ex_qweight[32], ex_qzeros_v1[8], ex_qzeros_v2[8], ex_scales[32], ex_gidx[32];

static void gptq_example(void)
{
    static const uint32_t qw[8] = {0xECA86420, 0xFDB97531, 0x0ECA8642, 0x1FDB9753,
                                   0x20ECA864, 0x31FDB975, 0x420ECA86, 0x531FDB97};
    static const uint32_t z1[2] = {0x76543210, 0x77777777}, z2[2] = {0x87654321, 0x88888888};
    static const uint32_t gi[8] = {0, 0, 0, 0, 1, 1, 1, 1};
    le32s(ex_qweight, qw, 8);
    le32s(ex_qzeros_v1, z1, 2);
    le32s(ex_qzeros_v2, z2, 2);
    le32s(ex_gidx, gi, 8);
    for (int k = 0; k < 16; k++) {
        uint16_t h = k < 8 ? 0x3000 : 0x3400;
        ex_scales[2 * k] = (uint8_t)h;
        ex_scales[2 * k + 1] = (uint8_t)(h >> 8);
    }
    /* the spec's on-disk bytes */
    static const uint8_t qw_bytes[8] = {0x20, 0x64, 0xA8, 0xEC, 0x31, 0x75, 0xB9, 0xFD};
    static const uint8_t z1_bytes[8] = {0x10, 0x32, 0x54, 0x76, 0x77, 0x77, 0x77, 0x77};
    ck_assert_int_eq(memcmp(ex_qweight, qw_bytes, 8), 0);
    ck_assert_int_eq(memcmp(ex_qzeros_v1, z1_bytes, 8), 0);
}

static float ex_value(int o, int i)
{
    int q = (2 * i + o) % 16;
    return i < 4 ? 0.125f * (float)(q - (1 + o)) : 0.25f * (float)(q - 8);
}

static void write_gptq(const void *qzeros, const void *gidx, const char *scales_dtype,
                       uint64_t scales_rows)
{
    struct wt t[5] = {
        {"lm_head.weight", "F32", 2, {2, 4}, ex_scales, 32},
        {"layer.g_idx", "I32", 1, {8, 0}, gidx, 32},
        {"layer.qweight", "I32", 2, {1, 8}, ex_qweight, 32},
        {"layer.qzeros", "I32", 2, {2, 1}, qzeros, 8},
        {"layer.scales", scales_dtype, 2, {scales_rows, 8}, ex_scales, scales_rows * 16},
    };
    write_st(t, 5);
}

#define CFG_GPTQ(extra)                                                                            \
    "{\"quantization_config\": {\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": 4, "    \
    "\"desc_act\": false" extra "}}"

START_TEST(gptq_spec_example)
{
    struct qf_error e;
    struct qf_model *m;
    struct qf_layout *l;
    gptq_example();
    for (int v2 = 0; v2 < 2; v2++) {
        mk_tmpdir();
        write_gptq(v2 ? ex_qzeros_v2 : ex_qzeros_v1, ex_gidx, "F16", 2);
        write_config(v2 ? CFG_GPTQ(", \"sym\": false, \"checkpoint_format\": \"gptq_v2\"")
                        : CFG_GPTQ(", \"sym\": false, \"checkpoint_format\": \"gptq\""));
        ck_assert_msg(open_scan(&m, &l, &e) == QF_OK, "%s", e.msg);
        ck_assert_str_eq(qf_layout_name(l), "gptq");
        ck_assert_uint_eq(qf_layout_n_tensors(l), 2);
        /* the group first appears at g_idx, after lm_head.weight */
        ck_assert_str_eq(qf_layout_tensor(l, 0)->name, "lm_head.weight");
        const struct qf_ltensor *t = qf_layout_tensor(l, 1);
        ck_assert_str_eq(t->name, "layer.weight");
        ck_assert_str_eq(t->scheme, v2 ? "gptq int4 g4 asym v2" : "gptq int4 g4 asym v1");
        ck_assert_int_eq(t->zero_offset, v2 ? 0 : 1);
        ck_assert_uint_eq(t->nbytes, 32 + 8 + 32 + 32);
        ck_assert_double_eq_tol(t->bpw, 104.0 * 8 / 64, 1e-12);
        float w[64];
        ck_assert_int_eq(qf_layout_dequantize(m, l, t, 0, UINT64_MAX, w, &e), QF_OK);
        for (int o = 0; o < 8; o++)
            for (int i = 0; i < 8; i++)
                ck_assert_float_eq(w[o * 8 + i], ex_value(o, i));
        /* rows o = 2 and o = 7 as printed in the spec */
        static const float o2[8] = {-0.125f, 0.125f, 0.375f, 0.625f, 0.5f, 1.0f, 1.5f, -2.0f};
        static const float o7[8] = {-0.125f, 0.125f, 0.375f, 0.625f, 1.75f, -1.75f, -1.25f, -0.75f};
        ck_assert_int_eq(memcmp(w + 16, o2, sizeof o2), 0);
        ck_assert_int_eq(memcmp(w + 56, o7, sizeof o7), 0);
        /* the plain tensor passes through */
        const struct qf_ltensor *p = qf_layout_tensor(l, 0);
        ck_assert_str_eq(p->scheme, "f32");
        float pw[8];
        ck_assert_int_eq(qf_layout_dequantize(m, l, p, 1, 1, pw, &e), QF_OK);
        ck_assert_int_eq(memcmp(pw, ex_scales + 16, 16), 0);
        qf_layout_free(l);
        qf_model_close(m);
        rm_tmpdir();
    }
}
END_TEST

/* The 3-bit packing check of gptq.md section 10: 32 rows with codes k mod 8 in one column
 * pack to the words 0x88FAC688, 0xC688FAC6, 0xFAC688FA; zero 4 (sym, v1 stores 3), scale 1. */
START_TEST(gptq_3bit_words)
{
    struct qf_error e;
    struct qf_model *m;
    struct qf_layout *l;
    static const uint32_t qw[3] = {0x88FAC688, 0xC688FAC6, 0xFAC688FA};
    uint8_t qwb[12], qzb[4], gib[128], scb[2] = {0x00, 0x3C};
    uint32_t z = 3, gi[32] = {0};
    le32s(qwb, qw, 3);
    le32s(qzb, &z, 1);
    le32s(gib, gi, 32);
    mk_tmpdir();
    struct wt t[4] = {
        {"x.g_idx", "I32", 1, {32, 0}, gib, 128},
        {"x.qweight", "I32", 2, {3, 1}, qwb, 12},
        {"x.qzeros", "I32", 2, {1, 1}, qzb, 4},
        {"x.scales", "F16", 2, {1, 1}, scb, 2},
    };
    write_st(t, 4);
    write_config("{\"quantization_config\": {\"quant_method\": \"gptq\", \"bits\": 3, "
                 "\"group_size\": -1, \"sym\": true, \"desc_act\": false}}");
    ck_assert_msg(open_scan(&m, &l, &e) == QF_OK, "%s", e.msg);
    const struct qf_ltensor *lt = qf_layout_find(l, "x.weight");
    ck_assert_ptr_nonnull(lt);
    ck_assert_str_eq(lt->scheme, "gptq int3 per-channel sym v1");
    ck_assert_uint_eq(lt->shape[0], 1);
    ck_assert_uint_eq(lt->shape[1], 32);
    float w[32];
    ck_assert_int_eq(qf_layout_dequantize(m, l, lt, 0, 1, w, &e), QF_OK);
    for (int k = 0; k < 32; k++)
        ck_assert_float_eq(w[k], (float)(k % 8 - 4));
    ck_assert_ptr_null(qf_layout_warning(l, 0));
    qf_layout_free(l);
    qf_model_close(m);
    rm_tmpdir();
}
END_TEST

/* act-order: g_idx sends inputs 0..3 to group 1 and 4..7 to group 0. */
START_TEST(gptq_act_order)
{
    struct qf_error e;
    struct qf_model *m;
    struct qf_layout *l;
    gptq_example();
    static const uint32_t gi[8] = {1, 1, 1, 1, 0, 0, 0, 0};
    uint8_t gib[32];
    le32s(gib, gi, 8);
    mk_tmpdir();
    write_gptq(ex_qzeros_v1, gib, "F16", 2);
    write_config(CFG_GPTQ(", \"sym\": false"));
    ck_assert_msg(open_scan(&m, &l, &e) == QF_OK, "%s", e.msg);
    const struct qf_ltensor *t = qf_layout_find(l, "layer.weight");
    ck_assert_str_eq(t->scheme, "gptq int4 g4 asym act-order v1");
    ck_assert_int_eq(t->act_order, 1);
    /* the config says desc_act=false: reported */
    ck_assert_ptr_nonnull(qf_layout_warning(l, 0));
    ck_assert_ptr_nonnull(strstr(qf_layout_warning(l, 0), "desc_act=false"));
    float w[64];
    ck_assert_int_eq(qf_layout_dequantize(m, l, t, 0, UINT64_MAX, w, &e), QF_OK);
    for (int o = 0; o < 8; o++)
        for (int i = 0; i < 8; i++) {
            int q = (2 * i + o) % 16;
            float want = i < 4 ? 0.25f * (float)(q - 8) : 0.125f * (float)(q - (1 + o));
            ck_assert_float_eq(w[o * 8 + i], want);
        }
    qf_layout_free(l);
    qf_model_close(m);
    rm_tmpdir();
}
END_TEST

/* awq.md section 6: the same matrix in the AWQ GEMM layout. */
START_TEST(awq_spec_example)
{
    struct qf_error e;
    struct qf_model *m;
    struct qf_layout *l;
    gptq_example();
    static const uint32_t qw[8] = {0x75316420, 0x97538642, 0xB975A864, 0xDB97CA86,
                                   0xFDB9ECA8, 0x1FDB0ECA, 0x31FD20EC, 0x531F420E};
    static const uint32_t qz[2] = {0x86427531, 0x88888888};
    uint8_t qwb[32], qzb[8];
    le32s(qwb, qw, 8);
    le32s(qzb, qz, 2);
    mk_tmpdir();
    struct wt t[3] = {
        {"a.qweight", "I32", 2, {8, 1}, qwb, 32},
        {"a.qzeros", "I32", 2, {2, 1}, qzb, 8},
        {"a.scales", "F16", 2, {2, 8}, ex_scales, 32},
    };
    write_st(t, 3);
    write_config("{\"quantization_config\": {\"quant_method\": \"awq\", \"bits\": 4, "
                 "\"group_size\": 4, \"zero_point\": true, \"version\": \"gemm\"}}");
    ck_assert_msg(open_scan(&m, &l, &e) == QF_OK, "%s", e.msg);
    ck_assert_str_eq(qf_layout_name(l), "awq");
    const struct qf_ltensor *lt = qf_layout_find(l, "a.weight");
    ck_assert_ptr_nonnull(lt);
    ck_assert_str_eq(lt->scheme, "awq gemm int4 g4");
    ck_assert_ptr_null(lt->parts[QF_LPART_G_IDX]);
    float w[64];
    ck_assert_int_eq(qf_layout_dequantize(m, l, lt, 0, UINT64_MAX, w, &e), QF_OK);
    for (int o = 0; o < 8; o++)
        for (int i = 0; i < 8; i++)
            ck_assert_float_eq(w[o * 8 + i], ex_value(o, i));
    qf_layout_free(l);
    qf_model_close(m);
    /* the same tensors declared GEMV do not fit that layout */
    write_config("{\"quantization_config\": {\"quant_method\": \"awq\", \"bits\": 4, "
                 "\"group_size\": 4, \"zero_point\": true, \"version\": \"gemv\"}}");
    ck_assert_int_ne(open_scan(&m, &l, &e), QF_OK);
    ck_assert_ptr_nonnull(strstr(e.msg, "'a'"));
    rm_tmpdir();
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * Rejections: each names the layer and what was expected. */
struct bad_case {
    const char *what;
    int variant;
    const char *config;
    int code;
    const char *needle;
};

static const struct bad_case bad[] = {
    {"g_idx out of range", 1, CFG_GPTQ(", \"sym\": false"), QF_EFORMAT, "g_idx[7] = 2 out of range"},
    {"scales rows", 2, CFG_GPTQ(", \"sym\": false"), QF_EFORMAT, "scales shape [3, 8], expected [2, 8]"},
    {"no config", 0, NULL, QF_EFORMAT, "no quantization config"},
    {"group size", 0,
     "{\"quantization_config\": {\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": 3}}",
     QF_EFORMAT, "group_size 3 does not divide in_features 8"},
    {"scales dtype", 3, CFG_GPTQ(", \"sym\": false"), QF_EFORMAT, "scales must be"},
    {"bits disagree", 0,
     "{\"quantization_config\": {\"quant_method\": \"gptq\", \"bits\": 8, \"group_size\": 4}}",
     QF_EFORMAT, "qweight has 1 rows, expected 2"},
    {"method", 0, "{\"quantization_config\": {\"quant_method\": \"hqq\", \"bits\": 4}}",
     QF_EUNSUPPORTED, "'hqq'"},
    {"checkpoint format", 0, CFG_GPTQ(", \"checkpoint_format\": \"marlin\""), QF_EUNSUPPORTED,
     "marlin"},
};

START_TEST(rejects)
{
    const struct bad_case *c = &bad[_i];
    struct qf_error e;
    struct qf_model *m;
    struct qf_layout *l;
    gptq_example();
    static const uint32_t gi_bad[8] = {0, 0, 0, 0, 1, 1, 1, 2};
    uint8_t gib[32];
    le32s(gib, gi_bad, 8);
    mk_tmpdir();
    if (c->variant == 1)
        write_gptq(ex_qzeros_v1, gib, "F16", 2);
    else if (c->variant == 2) {
        uint8_t sc3[48] = {0};
        struct wt t[4] = {
            {"layer.g_idx", "I32", 1, {8, 0}, ex_gidx, 32},
            {"layer.qweight", "I32", 2, {1, 8}, ex_qweight, 32},
            {"layer.qzeros", "I32", 2, {2, 1}, ex_qzeros_v1, 8},
            {"layer.scales", "F16", 2, {3, 8}, sc3, 48},
        };
        write_st(t, 4);
    } else if (c->variant == 3)
        write_gptq(ex_qzeros_v1, ex_gidx, "I16", 2);
    else
        write_gptq(ex_qzeros_v1, ex_gidx, "F16", 2);
    write_config(c->config);
    int rc = open_scan(&m, &l, &e);
    ck_assert_msg(rc == c->code, "%s: code %d, expected %d (%s)", c->what, rc, c->code, e.msg);
    ck_assert_msg(strstr(e.msg, c->needle) != NULL, "%s: message '%s' lacks '%s'", c->what, e.msg,
                  c->needle);
    if (c->code == QF_EFORMAT && c->variant != 0)
        ck_assert_msg(strstr(e.msg, "'layer'") != NULL, "%s: '%s' names no layer", c->what, e.msg);
    ck_assert_ptr_null(l);
    rm_tmpdir();
}
END_TEST

/* A symmetric declaration with asymmetric zero points is reported, not fatal. */
START_TEST(sym_mismatch_warns)
{
    struct qf_error e;
    struct qf_model *m;
    struct qf_layout *l;
    gptq_example();
    mk_tmpdir();
    write_gptq(ex_qzeros_v1, ex_gidx, "F16", 2);
    write_config(CFG_GPTQ(", \"sym\": true"));
    ck_assert_msg(open_scan(&m, &l, &e) == QF_OK, "%s", e.msg);
    ck_assert_ptr_nonnull(qf_layout_warning(l, 0));
    ck_assert_ptr_nonnull(strstr(qf_layout_warning(l, 0), "sym=true"));
    ck_assert_str_eq(qf_layout_find(l, "layer.weight")->scheme, "gptq int4 g4 sym v1");
    qf_layout_free(l);
    qf_model_close(m);
    rm_tmpdir();
}
END_TEST

/* A plain model: every tensor passes through, layout "none". */
START_TEST(plain_model)
{
    struct qf_error e;
    struct qf_model *m;
    struct qf_layout *l;
    ck_assert_int_eq(qf_model_open("fixtures/st-ct-fp8-e4m3-channel/model.safetensors", NULL,
                                   QF_OPEN_NO_CONFIG, &m, &e), QF_OK);
    ck_assert_int_eq(qf_layout_scan(m, 0, &l, &e), QF_OK);
    ck_assert_str_eq(qf_layout_name(l), "none");
    ck_assert_uint_eq(qf_layout_n_tensors(l), qf_model_n_tensors(m));
    for (size_t i = 0; i < qf_layout_n_tensors(l); i++) {
        ck_assert_ptr_eq(qf_layout_tensor(l, i)->parts[0], qf_model_tensor(m, i));
        ck_assert_str_eq(qf_layout_tensor(l, i)->scheme, qf_type_name(qf_model_tensor(m, i)->type));
    }
    qf_layout_free(l);
    qf_model_close(m);
}
END_TEST

Suite *suite_layout(void)
{
    Suite *s = suite_create("layout");
    TCase *tc = tcase_create("layout");
    tcase_add_loop_test(tc, fixture_reference, 0, (int)(sizeof cases / sizeof cases[0]));
    tcase_add_test(tc, gptq_v1_underflow_is_4_scales);
    tcase_add_test(tc, gptq_spec_example);
    tcase_add_test(tc, gptq_3bit_words);
    tcase_add_test(tc, gptq_act_order);
    tcase_add_test(tc, awq_spec_example);
    tcase_add_loop_test(tc, rejects, 0, (int)(sizeof bad / sizeof bad[0]));
    tcase_add_test(tc, sym_mismatch_warns);
    tcase_add_test(tc, plain_model);
    suite_add_tcase(s, tc);
    return s;
}
