/* check_bnb.c - bitsandbytes 4-bit (NF4 / FP4, plain and double-quantized absmax): checkpoints
 * written by bitsandbytes' own quantize_4bit against its own dequantize_4bit, the encoders
 * against the bytes it wrote, the spec's worked NF4 example and rejection of inconsistent
 * layers. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qf/qf.h"
#include "fx_open.h"
#include "layout_int.h"
#include "st_tmp.h"

Suite *suite_bnb(void);

static const char *const layers[2] = {"model.layers.0.mlp.down_proj",
                                      "model.layers.0.self_attn.k_proj"};
static const uint64_t lout[2] = {128, 64}, lin[2] = {384, 256};

/* a whole tensor's bytes (malloc'd) */
static uint8_t *bytes_of(struct qf_model *m, const char *layer, const char *part, uint64_t *n)
{
    char nm[256];
    struct qf_error e;
    snprintf(nm, sizeof nm, "%s%s%s", layer, part ? "." : "", part ? part : "");
    const struct qf_tensor *t = qf_model_find_tensor(m, nm);
    ck_assert_msg(t != NULL, "%s missing", nm);
    uint8_t *b = malloc(t->nbytes);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(qf_model_read(m, t, 0, b, (size_t)t->nbytes, &e), QF_OK);
    if (n)
        *n = t->nbytes;
    return b;
}

static float *f32_of(struct qf_model *m, const char *layer, const char *part, uint64_t *n)
{
    char nm[256];
    snprintf(nm, sizeof nm, "%s.%s", layer, part);
    const struct qf_tensor *t = qf_model_find_tensor(m, nm);
    ck_assert_msg(t != NULL, "%s missing", nm);
    uint8_t *b = bytes_of(m, layer, part, NULL);
    float *f = malloc(t->nelem * sizeof *f);
    ck_assert_int_eq(qf_dequantize(t->type, b, f, t->nelem), QF_OK);
    free(b);
    if (n)
        *n = t->nelem;
    return f;
}

/* ---------------------------------------------------------------------------------------
 * Fixtures (tests/fixtures/st-bnb-*, README there): reference.safetensors holds
 * "<layer>.weight.dequant", bitsandbytes' dequantize_4bit result (fp16 values, stored as F16);
 * st-bnb-orig/orig.safetensors the fp16 weights that were quantized. */
struct bnb_case {
    const char *dir;
    int fp4, nested;
};

static const struct bnb_case cases[] = {
    {"st-bnb-nf4-bs64", 0, 0},
    {"st-bnb-nf4-bs64-dq", 0, 1},
    {"st-bnb-fp4-bs64", 1, 0},
    {"st-bnb-fp4-bs64-dq", 1, 1},
};

START_TEST(fixture_reference)
{
    const struct bnb_case *c = &cases[_i];
    struct qf_error e;
    struct qf_layout *l;
    struct qf_model *m = fx_open(c->dir, "model.safetensors", 0);
    struct qf_model *r = fx_open(c->dir, "reference.safetensors", QF_OPEN_NO_CONFIG);
    ck_assert_msg(qf_layout_scan(m, 0, &l, &e) == QF_OK, "%s", e.msg);
    ck_assert_str_eq(qf_layout_name(l), "bitsandbytes");
    ck_assert_uint_eq(qf_layout_n_tensors(l), 3);
    ck_assert_ptr_null(qf_layout_warning(l, 0)); /* config agrees with the tensors */
    const struct qf_ltensor *bias = qf_layout_find(l, "model.layers.0.self_attn.k_proj.bias");
    ck_assert_ptr_nonnull(bias);
    ck_assert_str_eq(bias->scheme, "f16");
    char want_scheme[64];
    snprintf(want_scheme, sizeof want_scheme, "bnb %s b64%s", c->fp4 ? "fp4" : "nf4",
             c->nested ? " double-quant" : "");
    for (int k = 0; k < 2; k++) {
        char nm[256];
        snprintf(nm, sizeof nm, "%s.weight", layers[k]);
        const struct qf_ltensor *t = qf_layout_find(l, nm);
        ck_assert_msg(t != NULL, "%s missing", nm);
        ck_assert_str_eq(t->scheme, want_scheme);
        ck_assert_int_eq(t->family, QF_LAYOUT_BNB);
        ck_assert_int_eq(t->n_dims, 2);
        ck_assert_uint_eq(t->shape[0], lout[k]);
        ck_assert_uint_eq(t->shape[1], lin[k]);
        ck_assert_int_eq(t->bits, 4);
        ck_assert_int_eq(t->group_size, 64);
        ck_assert_ptr_nonnull(t->parts[QF_LPART_QWEIGHT]);
        ck_assert_ptr_nonnull(t->parts[QF_LPART_SCALES]);
        ck_assert_ptr_nonnull(t->parts[QF_LPART_AUX0]);
        ck_assert_ptr_nonnull(t->parts[QF_LPART_AUX3]);
        ck_assert_int_eq(t->parts[QF_LPART_AUX1] != NULL, c->nested);
        ck_assert_int_eq(t->parts[QF_LPART_AUX2] != NULL, c->nested);
        if (k == 0) {
            /* from the tensor table by hand: codes 24576, quant_map 64; plain: absmax F32
             * 768 x 4 + quant_state 79; nested: absmax U8 768 + nested_absmax 3 x 4 +
             * nested_quant_map 1024 + quant_state 169 */
            uint64_t bytes = c->nested ? 24576 + 768 + 12 + 1024 + 64 + 169
                                       : 24576 + 3072 + 64 + 79;
            ck_assert_uint_eq(t->nbytes, bytes);
            ck_assert_double_eq_tol(t->bpw, (double)bytes * 8 / (128 * 384), 1e-12);
        }
        uint64_t n = lout[k] * lin[k];
        float *got = malloc(n * sizeof *got);
        ck_assert_int_eq(qf_layout_dequantize(m, l, t, 0, UINT64_MAX, got, &e), QF_OK);
        float *want = f32_of(r, nm, "dequant", NULL);
        /* bit-identical: f32 products (and f32 nested absmax) rounded to fp16, as bnb does */
        uint64_t nd = 0;
        for (uint64_t j = 0; j < n; j++)
            nd += memcmp(&got[j], &want[j], 4) != 0;
        ck_assert_msg(nd == 0, "%s %s: %llu of %llu elements differ", c->dir, layers[k],
                      (unsigned long long)nd, (unsigned long long)n);
        /* a row range in the middle: blocks never cross rows here (in % 64 == 0), but the
         * flat element index must start at row0 * in */
        ck_assert_int_eq(qf_layout_dequantize(m, l, t, 5, 3, got, &e), QF_OK);
        ck_assert_int_eq(memcmp(got, want + 5 * lin[k], 3 * lin[k] * 4), 0);
        free(got);
        free(want);
    }
    qf_layout_free(l);
    qf_model_close(m);
    qf_model_close(r);
}
END_TEST

/* nested_offset from the quant_state JSON */
static float json_offset(const uint8_t *qs, uint64_t n)
{
    char buf[512];
    ck_assert_uint_lt(n, sizeof buf);
    memcpy(buf, qs, n);
    buf[n] = '\0';
    const char *p = strstr(buf, "\"nested_offset\": ");
    ck_assert_ptr_nonnull(p);
    return (float)strtod(p + 17, NULL);
}

START_TEST(encode_matches_fixture)
{
    const struct bnb_case *c = &cases[_i];
    struct qf_model *m = fx_open(c->dir, "model.safetensors", 0);
    struct qf_model *o = fx_open("st-bnb-orig", "orig.safetensors", QF_OPEN_NO_CONFIG);
    float code[16], dyn[256];
    qfi_bnb_code4(c->fp4, code);
    qfi_bnb_dynamic_map(dyn);
    for (int k = 0; k < 2; k++) {
        char nm[256];
        snprintf(nm, sizeof nm, "%s.weight", layers[k]);
        uint64_t n = lout[k] * lin[k], nb = n / 64, wn;
        uint8_t *wb = bytes_of(m, nm, NULL, &wn);
        ck_assert_uint_eq(wn, n / 2);
        /* the stored code book is get_4bit_type's */
        float *qm = f32_of(m, nm, "quant_map", NULL);
        ck_assert_int_eq(memcmp(qm, code, sizeof code), 0);
        /* unpack the file's codes and pack them again */
        uint8_t *codes = malloc(n), *packed = malloc(n / 2);
        for (uint64_t j = 0; j < n; j++)
            codes[j] = j % 2 ? wb[j / 2] & 15 : wb[j / 2] >> 4;
        qfi_bnb_pack4(codes, n, 0, packed);
        ck_assert_int_eq(memcmp(packed, wb, n / 2), 0);
        /* quantize the original weights */
        float *w = f32_of(o, nm, "orig", NULL);
        float *am = malloc(nb * sizeof *am);
        uint8_t *q = malloc(n);
        qfi_bnb_quantize_blocks(w, n, 64, code, 16, am, q);
        qfi_bnb_pack4(q, n, 0, packed);
        uint64_t nd = 0;
        for (uint64_t j = 0; j < n / 2; j++)
            nd += packed[j] != wb[j];
        ck_assert_msg(nd == 0, "%s %s: %llu of %llu code bytes differ", c->dir, layers[k],
                      (unsigned long long)nd, (unsigned long long)(n / 2));
        if (!c->nested) {
            float *fam = f32_of(m, nm, "absmax", NULL);
            ck_assert_int_eq(memcmp(am, fam, nb * 4), 0);
            free(fam);
        } else {
            /* double quant: offset, U8 codes, nested absmax, the dynamic map */
            uint8_t *fq = bytes_of(m, nm, "absmax", NULL);
            snprintf(nm, sizeof nm, "%s.weight.quant_state.bitsandbytes__%s", layers[k],
                     c->fp4 ? "fp4" : "nf4");
            const struct qf_tensor *qst = qf_model_find_tensor(m, nm);
            ck_assert_ptr_nonnull(qst);
            uint8_t qsb[512];
            struct qf_error e;
            ck_assert_int_eq(qf_model_read(m, qst, 0, qsb, (size_t)qst->nbytes, &e), QF_OK);
            snprintf(nm, sizeof nm, "%s.weight", layers[k]);
            float *fna = f32_of(m, nm, "nested_absmax", NULL);
            float *fmap = f32_of(m, nm, "nested_quant_map", NULL);
            uint64_t nnb = (nb + 255) / 256;
            uint8_t *qa = malloc(nb);
            float *na = malloc(nnb * sizeof *na), *scratch = malloc(nb * sizeof *scratch);
            float off = qfi_bnb_double_quant(am, nb, 256, fmap, qa, na, scratch);
            ck_assert_float_eq(off, json_offset(qsb, qst->nbytes));
            ck_assert_int_eq(memcmp(na, fna, nnb * 4), 0);
            ck_assert_int_eq(memcmp(qa, fq, nb), 0);
            /* our dynamic map against the stored one */
            ck_assert_int_eq(memcmp(dyn, fmap, sizeof dyn), 0);
            free(qa);
            free(na);
            free(scratch);
            free(fna);
            free(fmap);
            free(fq);
        }
        free(am);
        free(q);
        free(w);
        free(codes);
        free(packed);
        free(qm);
        free(wb);
    }
    qf_model_close(m);
    qf_model_close(o);
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * Hand-made checkpoints */

/* The spec's worked NF4 example: [1.0, -2.0, 0.0, 0.5], absmax 2.0 -> codes 12, 0, 7, 10 ->
 * bytes 0xC0 0x7A -> [0.88142, -2.0, 0.0, 0.49222] (quant_map[12] * 2, quant_map[10] * 2). */
START_TEST(spec_nf4_example)
{
    static const float x[4] = {1.0f, -2.0f, 0.0f, 0.5f};
    float code[16], am;
    uint8_t q[4], b[2];
    qfi_bnb_code4(0, code);
    qfi_bnb_quantize_blocks(x, 4, 64, code, 16, &am, q);
    ck_assert_float_eq(am, 2.0f);
    ck_assert_uint_eq(q[0], 12);
    ck_assert_uint_eq(q[1], 0);
    ck_assert_uint_eq(q[2], 7);
    ck_assert_uint_eq(q[3], 10);
    qfi_bnb_pack4(q, 4, 0, b);
    ck_assert_uint_eq(b[0], 0xC0);
    ck_assert_uint_eq(b[1], 0x7A);
    /* the same as a 2 x 2 float32 layer: decoded through the layout */
    static const char qs[] =
        "{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"float32\", \"shape\": [2, 2]}";
    struct st_part t[4] = {
        {"l.weight", "U8", 2, {2, 1}, b, 2},
        {"l.weight.absmax", "F32", 1, {1, 0}, &am, 4},
        {"l.weight.quant_map", "F32", 1, {16, 0}, code, 64},
        {"l.weight.quant_state.bitsandbytes__nf4", "U8", 1, {sizeof qs - 1, 0}, qs,
         sizeof qs - 1},
    };
    st_write(t, 4, "{\"quantization_config\": {\"quant_method\": \"bitsandbytes\", "
                   "\"load_in_4bit\": true, \"bnb_4bit_quant_type\": \"nf4\"}}");
    struct qf_model *m;
    struct qf_layout *l;
    struct qf_error e;
    ck_assert_msg(st_scan(&m, &l, &e) == QF_OK, "%s", e.msg);
    const struct qf_ltensor *lt = qf_layout_find(l, "l.weight");
    ck_assert_ptr_nonnull(lt);
    ck_assert_str_eq(lt->scheme, "bnb nf4 b64");
    float out[4];
    ck_assert_int_eq(qf_layout_dequantize(m, l, lt, 0, UINT64_MAX, out, &e), QF_OK);
    ck_assert_float_eq(out[0], 0.44070982933044434f * 2.0f);
    ck_assert_float_eq_tol(out[0], 0.88142f, 1e-5f);
    ck_assert_float_eq(out[1], -2.0f);
    ck_assert_float_eq(out[2], 0.0f);
    ck_assert_float_eq(out[3], 0.24611230194568634f * 2.0f);
    ck_assert_float_eq_tol(out[3], 0.49222f, 1e-5f);
    qf_layout_free(l);
    qf_model_close(m);
}
END_TEST

/* FP4 table as the spec lists it; odd counts pad with the code of 0.0 (NF4 7). */
START_TEST(code_books)
{
    static const float fp4[16] = {0.0f,       0.0052083f,  0.6666667f, 1.0f,
                                  0.3333333f, 0.5f,        0.1666667f, 0.25f,
                                  0.0f,       -0.0052083f, -0.6666667f, -1.0f,
                                  -0.3333333f, -0.5f,      -0.1666667f, -0.25f};
    float code[16], dyn[256];
    qfi_bnb_code4(1, code);
    for (int k = 0; k < 16; k++)
        ck_assert_float_eq_tol(code[k], fp4[k], 1e-7f);
    ck_assert_int_eq(signbit(code[8]), 0); /* the Python integer -0 in get_4bit_type */
    qfi_bnb_code4(0, code);
    ck_assert_uint_eq(qfi_bnb_code_of_zero(code, 16), 7);
    uint8_t q[3] = {12, 0, 7}, b[2];
    qfi_bnb_pack4(q, 3, qfi_bnb_code_of_zero(code, 16), b);
    ck_assert_uint_eq(b[0], 0xC0);
    ck_assert_uint_eq(b[1], 0x77);
    qfi_bnb_dynamic_map(dyn);
    ck_assert_float_eq_tol(dyn[0], -0.99296875f, 1e-7f);
    ck_assert_float_eq(dyn[127], 0.0f);
    ck_assert_float_eq(dyn[255], 1.0f);
    /* the spec's construction in double: for i = 0..6 the 2^i midpoints of
     * linspace(0.1, 1, 2^i + 1) times 10^(i-6), both signs, plus 0 and 1, sorted; the stored
     * float32 values agree to float32 precision */
    double want[256];
    int nw = 0;
    for (int i = 0; i < 7; i++) {
        int steps = (1 << i) + 1;
        for (int k = 0; k + 1 < steps; k++) {
            double mid = 0.1 + 0.9 * (k + 0.5) / (steps - 1);
            want[nw++] = mid * pow(10.0, i - 6);
            want[nw++] = -mid * pow(10.0, i - 6);
        }
    }
    want[nw++] = 0.0;
    want[nw++] = 1.0;
    ck_assert_int_eq(nw, 256);
    for (int x = 1; x < 256; x++) /* insertion sort */
        for (int y = x; y > 0 && want[y - 1] > want[y]; y--) {
            double t = want[y];
            want[y] = want[y - 1];
            want[y - 1] = t;
        }
    for (int k = 0; k < 256; k++)
        ck_assert_msg(fabs(dyn[k] - want[k]) <= 4e-7 * fabs(want[k]), "map[%d] = %.9g, spec %.9g",
                      k, dyn[k], want[k]);
}
END_TEST

/* n = 3 x 5 = 15: one partial block (blocksize 64) and an odd count, whose last low nibble is
 * the pad (the code of 0.0, NF4 7). Values k - 7 for k = 0..14: absmax 7; -7 -> code 0 -> -7,
 * 0 -> 7 -> 0, 7 -> 15 -> 7; 1 -> 1/7 = 0.1429, nearest NF4 0.16093 (code 9) -> 1.126511 ->
 * f16 1.126953125 (1154 x 2^-10). */
START_TEST(odd_partial_block)
{
    float x[15], code[16], am;
    uint8_t q[15], b[8];
    for (int k = 0; k < 15; k++)
        x[k] = (float)(k - 7);
    qfi_bnb_code4(0, code);
    qfi_bnb_quantize_blocks(x, 15, 64, code, 16, &am, q);
    ck_assert_float_eq(am, 7.0f);
    ck_assert_uint_eq(q[0], 0);
    ck_assert_uint_eq(q[7], 7);
    ck_assert_uint_eq(q[8], 9);
    ck_assert_uint_eq(q[14], 15);
    qfi_bnb_pack4(q, 15, qfi_bnb_code_of_zero(code, 16), b);
    ck_assert_uint_eq(b[7], 0xF7);
    static const char qs[] =
        "{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"float16\", \"shape\": [3, 5]}";
    struct st_part t[4] = {
        {"l.weight", "U8", 2, {8, 1}, b, 8},
        {"l.weight.absmax", "F32", 1, {1, 0}, &am, 4},
        {"l.weight.quant_map", "F32", 1, {16, 0}, code, 64},
        {"l.weight.quant_state.bitsandbytes__nf4", "U8", 1, {sizeof qs - 1, 0}, qs,
         sizeof qs - 1},
    };
    st_write(t, 4, "{\"quantization_config\": {\"quant_method\": \"bitsandbytes\"}}");
    struct qf_model *m;
    struct qf_layout *l;
    struct qf_error e;
    ck_assert_msg(st_scan(&m, &l, &e) == QF_OK, "%s", e.msg);
    const struct qf_ltensor *lt = qf_layout_find(l, "l.weight");
    ck_assert_uint_eq(lt->shape[0], 3);
    ck_assert_uint_eq(lt->shape[1], 5);
    float out[15];
    ck_assert_int_eq(qf_layout_dequantize(m, l, lt, 0, UINT64_MAX, out, &e), QF_OK);
    ck_assert_float_eq(out[0], -7.0f);
    ck_assert_float_eq(out[7], 0.0f);
    ck_assert_float_eq(out[8], 1.126953125f);
    ck_assert_float_eq(out[14], 7.0f);
    /* the last row alone starts at flat element 10: x = 3 -> 3/7 = 0.4286, nearest NF4
     * 0.44071 (code 12) -> 3.0849688 -> f16 3.0859375 (1580 x 2^-9) */
    ck_assert_int_eq(qf_layout_dequantize(m, l, lt, 2, 1, out, &e), QF_OK);
    ck_assert_float_eq(out[0], 3.0859375f);
    ck_assert_float_eq(out[4], 7.0f);
    qf_layout_free(l);
    qf_model_close(m);
}
END_TEST

struct bad_case {
    int variant;
    int code;
    const char *needle;
};

#define BNB_CFG "{\"quantization_config\": {\"quant_method\": \"bitsandbytes\", \"load_in_4bit\": true}}"
static const char qs_ok[] =
    "{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"float16\", \"shape\": [2, 64]}";

static const struct bad_case bad[] = {
    {1, QF_EFORMAT, "missing tensor 'layer.weight.absmax'"},
    {2, QF_EFORMAT, "absmax must be a 1-D f32 tensor, found f16"},
    {3, QF_EFORMAT, "absmax has 3 blocks, expected 2"},
    {4, QF_EFORMAT, "weight has 32 bytes, quant_state shape [2, 64] needs 64"},
    {5, QF_EFORMAT, "quant_state JSON malformed: invalid JSON"},
    {6, QF_EFORMAT, "quant_state JSON malformed: shape must be a list [out, in]"},
    {7, QF_EFORMAT, "quant_state says quant_type \"fp4\" but the tensor is named "
                    "bitsandbytes__nf4"},
    {8, QF_EFORMAT, "quant_map must be F32 [16]"},
    {9, QF_EFORMAT, "without a 'layer.weight.quant_state.bitsandbytes__nf4'"},
    {10, QF_EFORMAT, "missing tensor 'layer.weight.nested_absmax'"},
    {11, QF_EUNSUPPORTED, "bitsandbytes 8-bit"},
    {12, QF_EFORMAT, "but no quantization config"},
    {13, QF_EFORMAT, "quant_state JSON malformed: unknown key 'foo'"},
};

START_TEST(rejects)
{
    const struct bad_case *c = &bad[_i];
    static uint8_t w[64], am_u8[2];
    static float am[3] = {1.0f, 1.0f, 1.0f}, code[16];
    static uint16_t am16[2];
    const char *qs = qs_ok;
    if (c->variant == 5)
        qs = "{\"quant_type\": \"nf4\", \"blocksize\": 64,";
    else if (c->variant == 6)
        qs = "{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"float16\", \"shape\": 7}";
    else if (c->variant == 7)
        qs = "{\"quant_type\": \"fp4\", \"blocksize\": 64, \"dtype\": \"float16\", "
             "\"shape\": [2, 64]}";
    else if (c->variant == 10)
        qs = "{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"float16\", \"shape\": "
             "[2, 64], \"nested_blocksize\": 256, \"nested_dtype\": \"float32\", "
             "\"nested_offset\": 0.5}";
    else if (c->variant == 13)
        qs = "{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"float16\", \"shape\": "
             "[2, 64], \"foo\": 1}";
    qfi_bnb_code4(0, code);
    struct st_part t[4] = {
        {"layer.weight", "U8", 2, {c->variant == 4 ? 32 : 64, 1}, w,
         c->variant == 4 ? 32 : 64},
        {"layer.weight.absmax", "F32", 1, {c->variant == 3 ? 3 : 2, 0}, am,
         c->variant == 3 ? 12 : 8},
        {"layer.weight.quant_map", "F32", 1, {c->variant == 8 ? 8 : 16, 0}, code,
         c->variant == 8 ? 32 : 64},
        {"layer.weight.quant_state.bitsandbytes__nf4", "U8", 1, {strlen(qs), 0}, qs, strlen(qs)},
    };
    if (c->variant == 2)
        t[1] = (struct st_part){"layer.weight.absmax", "F16", 1, {2, 0}, am16, 4};
    if (c->variant == 10)
        t[1] = (struct st_part){"layer.weight.absmax", "U8", 1, {2, 0}, am_u8, 2};
    int n = 4;
    if (c->variant == 1)
        t[1] = t[3], n = 3;
    if (c->variant == 9)
        n = 3;
    const char *cfg = BNB_CFG;
    if (c->variant == 11)
        cfg = "{\"quantization_config\": {\"quant_method\": \"bitsandbytes\", "
              "\"load_in_8bit\": true, \"load_in_4bit\": false}}";
    if (c->variant == 12)
        cfg = NULL;
    st_write(t, n, cfg);
    struct qf_error e;
    struct qf_model *m;
    struct qf_layout *l;
    int rc = st_scan(&m, &l, &e);
    int named = c->code != QF_EFORMAT || c->variant == 12 || strstr(e.msg, "'layer") != NULL;
    ck_assert_msg(rc == c->code && strstr(e.msg, c->needle) && named,
                  "[%s] code %d (want %d), message '%s'", c->needle, rc, c->code, e.msg);
    ck_assert_ptr_null(l);
}
END_TEST

/* the config disagreeing with the tensors is reported, and the tensors win */
START_TEST(config_mismatch_warns)
{
    static uint8_t w[64];
    static float am[2] = {1.0f, 1.0f}, code[16];
    qfi_bnb_code4(0, code);
    struct st_part t[4] = {
        {"layer.weight", "U8", 2, {64, 1}, w, 64},
        {"layer.weight.absmax", "F32", 1, {2, 0}, am, 8},
        {"layer.weight.quant_map", "F32", 1, {16, 0}, code, 64},
        {"layer.weight.quant_state.bitsandbytes__nf4", "U8", 1, {strlen(qs_ok), 0}, qs_ok,
         strlen(qs_ok)},
    };
    st_write(t, 4, "{\"quantization_config\": {\"quant_method\": \"bitsandbytes\", "
                   "\"load_in_4bit\": true, \"bnb_4bit_quant_type\": \"fp4\", "
                   "\"bnb_4bit_use_double_quant\": true}}");
    struct qf_error e;
    struct qf_model *m;
    struct qf_layout *l;
    ck_assert_msg(st_scan(&m, &l, &e) == QF_OK, "%s", e.msg);
    ck_assert_ptr_nonnull(strstr(qf_layout_warning(l, 0), "bnb_4bit_quant_type \"fp4\""));
    ck_assert_ptr_nonnull(strstr(qf_layout_warning(l, 1), "bnb_4bit_use_double_quant=true"));
    ck_assert_str_eq(qf_layout_tensor(l, 0)->scheme, "bnb nf4 b64");
    /* all codes 0 = -1.0 times absmax 1, rounded to f16 */
    float out[128];
    ck_assert_int_eq(qf_layout_dequantize(m, l, qf_layout_tensor(l, 0), 0, UINT64_MAX, out, &e),
                     QF_OK);
    for (int k = 0; k < 128; k++)
        ck_assert_float_eq(out[k], -1.0f);
    qf_layout_free(l);
    qf_model_close(m);
}
END_TEST

Suite *suite_bnb(void)
{
    Suite *s = suite_create("bnb");
    TCase *tc = tcase_create("fixtures");
    tcase_add_loop_test(tc, fixture_reference, 0, (int)(sizeof cases / sizeof cases[0]));
    tcase_add_loop_test(tc, encode_matches_fixture, 0, (int)(sizeof cases / sizeof cases[0]));
    tcase_add_test(tc, code_books);
    suite_add_tcase(s, tc);
    TCase *th = tcase_create("hand-made");
    tcase_add_checked_fixture(th, st_setup, st_teardown);
    tcase_add_test(th, spec_nf4_example);
    tcase_add_test(th, odd_partial_block);
    tcase_add_loop_test(th, rejects, 0, (int)(sizeof bad / sizeof bad[0]));
    tcase_add_test(th, config_mismatch_warns);
    suite_add_tcase(s, th);
    return s;
}
