/* check_mlx.c - MLX affine layout (weight U32 / scales / biases): the spec's worked quantizer
 * and packing examples, decoding through the layout API, configs (mlx-lm "quantization", its
 * "quantization_config" copy, per-layer entries, none), a quantize -> pack -> decode round trip
 * and rejection of inconsistent layers. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qf/qf.h"
#include "layout_int.h"
#include "st_tmp.h"

Suite *suite_mlx(void);

/* Spec: group min -1, max 2, 4-bit: s = -0.2, bias = 2; w = -1 -> q = 15, w = 0 -> q = 10,
 * w = 2 -> q = 0. The other values of the group lie in between. */
START_TEST(spec_quantize_example)
{
    float w[32], s, b;
    uint8_t q[32];
    for (int k = 0; k < 32; k++)
        w[k] = 0.5f;
    w[0] = -1.0f;
    w[1] = 2.0f;
    w[2] = 0.0f;
    w[3] = 1.0f; /* (1 - 2) / -0.2 = 5 */
    qfi_mlx_quantize(w, 1, 32, 32, 4, &s, &b, q);
    ck_assert_float_eq(s, 2.0f / -10.0f);
    ck_assert_float_eq(b, 2.0f);
    ck_assert_uint_eq(q[0], 15);
    ck_assert_uint_eq(q[1], 0);
    ck_assert_uint_eq(q[2], 10);
    ck_assert_uint_eq(q[3], 5);
    /* mirrored: min -2, max 1 (|min| > |max|): s = 3/15 = 0.2, edge = min = -2,
     * q0 = round(-2 / 0.2) = -10, s = -2 / -10, bias = -2; w = -2 -> 0, 0 -> 10, 1 -> 15 */
    for (int k = 0; k < 32; k++)
        w[k] = -0.5f;
    w[0] = -2.0f;
    w[1] = 1.0f;
    w[2] = 0.0f;
    qfi_mlx_quantize(w, 1, 32, 32, 4, &s, &b, q);
    ck_assert_float_eq(s, -2.0f / -10.0f);
    ck_assert_float_eq(b, -2.0f);
    ck_assert_uint_eq(q[0], 0);
    ck_assert_uint_eq(q[1], 15);
    ck_assert_uint_eq(q[2], 10);
    /* a group that does not contain 0 in its range: q0 = round(edge / s) may still be 0 only
     * when the edge is within half a step of 0; all zeros gives s = -1e-7, bias 0, q 0 */
    for (int k = 0; k < 32; k++)
        w[k] = 0.0f;
    qfi_mlx_quantize(w, 1, 32, 32, 4, &s, &b, q);
    ck_assert_float_eq(s, -1e-7f);
    ck_assert_float_eq(b, 0.0f);
    ck_assert_uint_eq(q[5], 0);
}
END_TEST

/* Spec: 4-bit codes 0..7 -> 0x76543210. 3-bit: code k at stream bits [3k, 3k + 3): code 10
 * (bits 30..32) and code 21 (bits 63..65) straddle words. Codes 10 = 5 (101b) and 21 = 3
 * (011b), the rest 0: word 0 bit 30 = 1; word 1 bit 0 = 1 (bit 2 of 5), bit 31 = 1 (bit 0 of
 * 3); word 2 bit 0 = 1 (bit 1 of 3). */
START_TEST(spec_pack_example)
{
    uint8_t q[32] = {0, 1, 2, 3, 4, 5, 6, 7};
    uint32_t w[4] = {0};
    qfi_mlx_pack(q, 1, 8, 4, w);
    ck_assert_uint_eq(w[0], 0x76543210u);
    memset(q, 0, sizeof q);
    q[10] = 5;
    q[21] = 3;
    memset(w, 0, sizeof w);
    qfi_mlx_pack(q, 1, 32, 3, w);
    ck_assert_uint_eq(w[0], 0x40000000u);
    ck_assert_uint_eq(w[1], 0x80000001u);
    ck_assert_uint_eq(w[2], 0x00000001u);
    /* two rows are independent streams */
    uint8_t q2[16] = {15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    memset(w, 0, sizeof w);
    qfi_mlx_pack(q2, 2, 8, 4, w);
    ck_assert_uint_eq(w[0], 0x0000000Fu);
    ck_assert_uint_eq(w[1], 0x10000000u);
}
END_TEST

static void le_words(const uint32_t *w, int n, uint8_t *dst)
{
    for (int k = 0; k < 4 * n; k++)
        dst[k] = (uint8_t)(w[k / 4] >> (8 * (k % 4)));
}

/* The spec example as a 2 x 32 layer, group 32, 4-bit: row 0 codes 15, 10, 0, 5, ... with
 * scale -0.2 and bias 2 in F32: decodes to exactly -1, 0, 2, 1 (-0.2f * 15 rounds to -3,
 * -0.2f * 10 to -2); row 1 the same codes with F16 scales: f16(-0.2) = -0.199951171875, so
 * q = 10 decodes to 2 - 1.99951171875 = 0.00048828125 (an f16 value). */
START_TEST(decode_spec_example)
{
    uint8_t q[64] = {0};
    for (int r = 0; r < 2; r++) {
        q[32 * r + 0] = 15;
        q[32 * r + 1] = 10;
        q[32 * r + 2] = 0;
        q[32 * r + 3] = 5;
    }
    uint32_t w[8] = {0};
    qfi_mlx_pack(q, 2, 32, 4, w);
    uint8_t wb[32];
    le_words(w, 8, wb);
    float s32[2] = {-0.2f, -0.2f}, b32[2] = {2.0f, 2.0f};
    uint16_t s16[2] = {0xB266, 0xB266}, b16[2] = {0x4000, 0x4000}; /* -0.19995, 2.0 */
    struct qf_error e;
    struct qf_model *m;
    struct qf_layout *l;
    for (int f16 = 0; f16 < 2; f16++) {
        struct st_part t[3] = {
            {"model.layers.0.mlp.up_proj.biases", f16 ? "F16" : "F32", 2, {2, 1},
             f16 ? (const void *)b16 : (const void *)b32, f16 ? 4u : 8u},
            {"model.layers.0.mlp.up_proj.scales", f16 ? "F16" : "F32", 2, {2, 1},
             f16 ? (const void *)s16 : (const void *)s32, f16 ? 4u : 8u},
            {"model.layers.0.mlp.up_proj.weight", "U32", 2, {2, 4}, wb, 32},
        };
        st_write(t, 3, "{\"quantization\": {\"group_size\": 32, \"bits\": 4}}");
        ck_assert_msg(st_scan(&m, &l, &e) == QF_OK, "%s", e.msg);
        ck_assert_str_eq(qf_layout_name(l), "mlx");
        ck_assert_uint_eq(qf_layout_n_tensors(l), 1);
        const struct qf_ltensor *lt = qf_layout_find(l, "model.layers.0.mlp.up_proj.weight");
        ck_assert_ptr_nonnull(lt);
        ck_assert_str_eq(lt->scheme, "mlx affine int4 g32");
        ck_assert_int_eq(lt->family, QF_LAYOUT_MLX);
        ck_assert_uint_eq(lt->shape[0], 2);
        ck_assert_uint_eq(lt->shape[1], 32);
        ck_assert_int_eq(lt->bits, 4);
        ck_assert_int_eq(lt->group_size, 32);
        /* 32 weight bytes + 2 x 2 scales/biases of 4 (F32) or 2 (F16) bytes, over 64 weights */
        ck_assert_double_eq_tol(lt->bpw, (32.0 + (f16 ? 8 : 16)) * 8 / 64, 1e-12);
        float out[64];
        ck_assert_int_eq(qf_layout_dequantize(m, l, lt, 0, UINT64_MAX, out, &e), QF_OK);
        for (int r = 0; r < 2; r++) {
            if (!f16) {
                ck_assert_float_eq(out[32 * r + 0], -1.0f);
                ck_assert_float_eq(out[32 * r + 1], 0.0f);
                ck_assert_float_eq(out[32 * r + 2], 2.0f);
                ck_assert_float_eq(out[32 * r + 3], 1.0f);
            } else {
                ck_assert_float_eq(out[32 * r + 1], 0.00048828125f);
                ck_assert_float_eq(out[32 * r + 2], 2.0f);
            }
        }
        /* row 1 alone */
        ck_assert_int_eq(qf_layout_dequantize(m, l, lt, 1, 1, out, &e), QF_OK);
        ck_assert_float_eq(out[2], 2.0f);
        qf_layout_free(l);
        qf_model_close(m);
    }
}
END_TEST

/* quantize -> pack -> file -> decode: every value within half a step of the original, for
 * 2, 3, 4, 6 and 8 bits (F32 scales, so no rounding of the parameters) */
START_TEST(round_trip)
{
    static const int bits_of[5] = {2, 3, 4, 6, 8};
    int bits = bits_of[_i];
    enum { R = 3, IN = 128, G = 64, NG = IN / G };
    float w[R * IN], s[R * NG], b[R * NG], out[R * IN];
    uint8_t q[R * IN];
    uint32_t words[R * IN * 8 / 32];
    for (int k = 0; k < R * IN; k++) /* deterministic, uneven, both signs */
        w[k] = (float)sin(0.37 * k + 0.1 * (k % 7)) * (k % 64 == 5 ? 3.0f : 0.05f);
    qfi_mlx_quantize(w, R, IN, G, bits, s, b, q);
    memset(words, 0, sizeof words);
    qfi_mlx_pack(q, R, IN, bits, words);
    int wc = IN * bits / 32;
    uint8_t wb[sizeof words];
    le_words(words, R * wc, wb);
    struct st_part t[3] = {
        {"emb.weight", "U32", 2, {R, (uint64_t)wc}, wb, (size_t)(R * wc * 4)},
        {"emb.scales", "F32", 2, {R, NG}, s, sizeof s},
        {"emb.biases", "F32", 2, {R, NG}, b, sizeof b},
    };
    char cfg[128];
    snprintf(cfg, sizeof cfg, "{\"quantization\": {\"group_size\": %d, \"bits\": %d, "
             "\"mode\": \"affine\"}}", G, bits);
    st_write(t, 3, cfg);
    struct qf_error e;
    struct qf_model *m;
    struct qf_layout *l;
    ck_assert_msg(st_scan(&m, &l, &e) == QF_OK, "%s", e.msg);
    const struct qf_ltensor *lt = qf_layout_find(l, "emb.weight");
    ck_assert_ptr_nonnull(lt);
    char want[32];
    snprintf(want, sizeof want, "mlx affine int%d g%d", bits, G);
    ck_assert_str_eq(lt->scheme, want);
    ck_assert_uint_eq(lt->shape[1], IN);
    ck_assert_int_eq(qf_layout_dequantize(m, l, lt, 0, UINT64_MAX, out, &e), QF_OK);
    for (int r = 0; r < R; r++)
        for (int k = 0; k < IN; k++) {
            int g = r * NG + k / G;
            ck_assert_uint_lt(q[r * IN + k], 1u << bits);
            float step = fabsf(s[g]);
            ck_assert_msg(fabsf(out[r * IN + k] - w[r * IN + k]) <= step * 0.5f * 1.0001f,
                          "bits %d [%d][%d]: %g decoded from %g, step %g", bits, r, k,
                          out[r * IN + k], w[r * IN + k], step);
        }
    qf_layout_free(l);
    qf_model_close(m);
}
END_TEST

/* configs: the "quantization_config" copy alone, a per-layer entry, a layer marked false
 * (left as plain tensors), and no config at all (mlx-lm defaults, with a warning) */
START_TEST(configs)
{
    uint8_t wa[2 * 8 * 4] = {0}, wb8[2 * 16 * 4] = {0};
    uint16_t sc[4] = {0x3C00, 0x3C00, 0x3C00, 0x3C00}, bi[4] = {0};
    /* a: 2 x 64 at 4 bits (8 words per row), 1 group of 64; b: 2 x 64 at 8 bits, 2 groups */
    struct st_part t[6] = {
        {"a.biases", "F16", 2, {2, 1}, bi, 4},   {"a.scales", "F16", 2, {2, 1}, sc, 4},
        {"a.weight", "U32", 2, {2, 8}, wa, 64},  {"b.biases", "F16", 2, {2, 2}, bi, 8},
        {"b.scales", "F16", 2, {2, 2}, sc, 8},   {"b.weight", "U32", 2, {2, 16}, wb8, 128},
    };
    struct qf_error e;
    struct qf_model *m;
    struct qf_layout *l;
    st_write(t, 6, "{\"quantization_config\": {\"group_size\": 64, \"bits\": 4, "
                   "\"b\": {\"group_size\": 32, \"bits\": 8}}}");
    ck_assert_msg(st_scan(&m, &l, &e) == QF_OK, "%s", e.msg);
    ck_assert_str_eq(qf_layout_find(l, "a.weight")->scheme, "mlx affine int4 g64");
    ck_assert_str_eq(qf_layout_find(l, "b.weight")->scheme, "mlx affine int8 g32");
    ck_assert_ptr_null(qf_layout_warning(l, 0));
    qf_layout_free(l);
    qf_model_close(m);
    /* a marked false: its three tensors stay plain */
    st_write(t, 3, "{\"quantization\": {\"group_size\": 64, \"bits\": 4, \"a\": false}}");
    ck_assert_msg(st_scan(&m, &l, &e) == QF_OK, "%s", e.msg);
    ck_assert_uint_eq(qf_layout_n_tensors(l), 3);
    ck_assert_int_eq(qf_layout_find(l, "a.weight")->family, QF_LAYOUT_PLAIN);
    qf_layout_free(l);
    qf_model_close(m);
    /* no config: the triple with mlx-lm's defaults */
    st_write(t, 3, NULL);
    ck_assert_msg(st_scan(&m, &l, &e) == QF_OK, "%s", e.msg);
    ck_assert_str_eq(qf_layout_name(l), "mlx");
    ck_assert_str_eq(qf_layout_find(l, "a.weight")->scheme, "mlx affine int4 g64");
    ck_assert_ptr_nonnull(strstr(qf_layout_warning(l, 0), "no quantization config"));
    qf_layout_free(l);
    qf_model_close(m);
}
END_TEST

struct bad_case {
    int variant;
    int code;
    const char *needle;
    const char *config;
};

#define MLX_CFG "{\"quantization\": {\"group_size\": 32, \"bits\": 4}}"

static const struct bad_case bad[] = {
    {1, QF_EFORMAT, "biases f32 [2, 1] disagree with scales f32 [2, 2]", MLX_CFG},
    {0, QF_EFORMAT, "group_size 48 does not divide in_features 64",
     "{\"quantization\": {\"group_size\": 48, \"bits\": 4}}"},
    {2, QF_EFORMAT, "weight must be a 2-D U32 tensor, found i32", MLX_CFG},
    {3, QF_EFORMAT, "missing tensor 'layer.biases'", MLX_CFG},
    {4, QF_EFORMAT, "scales shape [2, 1], expected [2, 2]", MLX_CFG},
    {0, QF_EUNSUPPORTED, "mode 'mxfp4'",
     "{\"quantization\": {\"group_size\": 32, \"bits\": 4, \"mode\": \"mxfp4\"}}"},
    {0, QF_EFORMAT, "bits 7", "{\"quantization\": {\"group_size\": 32, \"bits\": 7}}"},
    {0, QF_EFORMAT, "not a whole number of 3-bit codes",
     "{\"quantization\": {\"group_size\": 32, \"bits\": 3}}"},
    {5, QF_EFORMAT, "scales must be a 2-D F16/BF16/F32 tensor, found u8", MLX_CFG},
};

START_TEST(rejects)
{
    const struct bad_case *c = &bad[_i];
    static uint8_t wb[64], sb[16], bb[16];
    /* layer: 2 x 64 at 4 bits = 8 words per row, 2 groups of 32 */
    struct st_part t[3] = {
        {"layer.weight", c->variant == 2 ? "I32" : "U32", 2, {2, 8}, wb, 64},
        {"layer.scales", c->variant == 5 ? "U8" : "F32", 2, {2, c->variant == 4 ? 1 : 2}, sb,
         c->variant == 5 ? 4 : c->variant == 4 ? 8 : 16},
        {"layer.biases", "F32", 2, {2, c->variant == 1 ? 1 : 2}, bb, c->variant == 1 ? 8 : 16},
    };
    if (c->variant == 4)
        t[2] = (struct st_part){"layer.biases", "F32", 2, {2, 1}, bb, 8};
    st_write(t, c->variant == 3 ? 2 : 3, c->config);
    struct qf_error e;
    struct qf_model *m;
    struct qf_layout *l;
    int rc = st_scan(&m, &l, &e);
    ck_assert_msg(rc == c->code && strstr(e.msg, c->needle) && strstr(e.msg, "'layer'"),
                  "[%s] code %d (want %d), message '%s'", c->needle, rc, c->code, e.msg);
    ck_assert_ptr_null(l);
}
END_TEST

/* tests/fixtures/st-mlx-tiny (mkmlx.py there): codes 0..7 repeated in both rows of a [2, 64]
 * 4-bit layer; group 0 scale f16(-0.2) = -0.199951171875, bias 2; group 1 scale f16(0.1) =
 * 0.0999755859375, bias 0; results rounded to f16:
 *   q = 0 -> 2;  q = 5 -> 2 - 0.999755859375 = 1.000244140625 -> 1 (below half an f16 ulp)
 *   group 1: q = 7 -> 0.6998291015625 -> 0.69970703125 (1433 x 2^-11);  q = 1 -> 0.0999755859375 */
START_TEST(fixture_tiny)
{
    struct qf_error e;
    struct qf_model *m;
    struct qf_layout *l;
    ck_assert_msg(qf_model_open("fixtures/st-mlx-tiny", NULL, 0, &m, &e) == QF_OK, "%s", e.msg);
    ck_assert_msg(qf_layout_scan(m, 0, &l, &e) == QF_OK, "%s", e.msg);
    ck_assert_str_eq(qf_layout_name(l), "mlx");
    const struct qf_ltensor *t = qf_layout_find(l, "model.layers.0.mlp.up_proj.weight");
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(t->scheme, "mlx affine int4 g32");
    float out[128];
    ck_assert_int_eq(qf_layout_dequantize(m, l, t, 0, UINT64_MAX, out, &e), QF_OK);
    for (int r = 0; r < 2; r++) {
        ck_assert_float_eq(out[64 * r + 0], 2.0f);
        ck_assert_float_eq(out[64 * r + 5], 1.0f);
        ck_assert_float_eq(out[64 * r + 32 + 7], 0.69970703125f);
        ck_assert_float_eq(out[64 * r + 32 + 1], 0.0999755859375f);
        ck_assert_float_eq(out[64 * r + 32 + 0], 0.0f);
    }
    qf_layout_free(l);
    qf_model_close(m);
}
END_TEST

Suite *suite_mlx(void)
{
    Suite *s = suite_create("mlx");
    TCase *tc = tcase_create("encode");
    tcase_add_test(tc, spec_quantize_example);
    tcase_add_test(tc, spec_pack_example);
    tcase_add_test(tc, fixture_tiny);
    suite_add_tcase(s, tc);
    TCase *th = tcase_create("hand-made");
    tcase_add_checked_fixture(th, st_setup, st_teardown);
    tcase_add_test(th, decode_spec_example);
    tcase_add_loop_test(th, round_trip, 0, 5);
    tcase_add_test(th, configs);
    tcase_add_loop_test(th, rejects, 0, (int)(sizeof bad / sizeof bad[0]));
    suite_add_tcase(s, th);
    return s;
}
