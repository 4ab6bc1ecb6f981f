/* check_lwrite_repack.c - lossless repacks between layouts: the layout writer's GGUF Q4_0 /
 * Q8_0 -> GPTQ sym g32, compressed-tensors pack <-> GPTQ, and the conversion engine's GPTQ /
 * AWQ -> GGUF Q4_0 / Q8_0 / Q4_1. Each is checked three ways: words worked by hand from the specs (ggml-types.md Q4_0 / Q8_0, gptq.md section 3),
 * the decoded values of the output against the input's (and, for compressed-tensors, against
 * the reference values its own decompressor produced), and the way back through the inverse
 * kernels giving the input's bytes again. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qf/qf.h"
#include "qf/lwrite.h"
#include "qf/convert.h"
#include "layout_int.h"
#include "lw_tmp.h"
#include "repack_int.h"

Suite *suite_lwrite_repack(void);


static float *decoded(struct qf_model *m, const struct qf_layout *l, const char *name)
{
    struct qf_error e;
    const struct qf_ltensor *t = qf_layout_find(l, name);
    ck_assert_msg(t != NULL, "no logical tensor %s", name);
    float *f = malloc(t->nelem * sizeof *f);
    ck_assert_ptr_nonnull(f);
    ck_assert_msg(qf_layout_dequantize(m, l, t, 0, UINT64_MAX, f, &e) == QF_OK, "%s", e.msg);
    return f;
}

/* plan + run with a given layout writer configuration; every quantized item must be a
 * lossless repack, never measured */
static void convert(const char *in, const char *outdir, const struct qf_lwrite_opts *o,
                    size_t want_layers, int want_repacked)
{
    struct qf_error e;
    struct qf_model *m;
    struct qf_lwrite_plan *p;
    ck_assert_msg(qf_model_open(in, NULL, 0, &m, &e) == QF_OK, "%s", e.msg);
    ck_assert_msg(qf_lwrite_plan_new(m, o, &p, &e) == QF_OK, "%s", e.msg);
    size_t nq = 0, nr = 0;
    for (size_t i = 0; i < qf_lwrite_plan_n_items(p); i++) {
        const struct qf_lwrite_item *it = qf_lwrite_plan_item(p, i);
        nq += it->quantized != 0;
        nr += it->quantized && it->repacked && !it->lossy;
    }
    ck_assert_uint_eq(nq, want_layers);
    ck_assert_uint_eq(nr, want_repacked ? want_layers : 0);
    struct qf_lwrite_run_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.no_fsync = 1;
    ck_assert_msg(qf_lwrite_run(p, outdir, &ro, &e) == QF_OK, "%s", e.msg);
    for (size_t i = 0; want_repacked && i < qf_lwrite_plan_n_items(p); i++)
        ck_assert_int_eq(qf_lwrite_plan_item(p, i)->measured, 0); /* nothing decoded */
    qf_lwrite_plan_free(p);
    qf_model_close(m);
}

/* qf_convert of a checkpoint to GGUF `type` (small chunks, two threads); the number of lossy
 * items whose name is one of want[0..nw) */
static int to_gguf(const char *in, const char *out, int type, const char *const *want, int nw)
{
    struct qf_error e;
    struct qf_model *m;
    struct qf_convert_plan *p;
    ck_assert_msg(qf_model_open(in, NULL, 0, &m, &e) == QF_OK, "%s", e.msg);
    struct qf_convert_opts o;
    qf_convert_opts_init(&o);
    o.ftype = -1;
    o.type = type;
    ck_assert_msg(qf_convert_plan_new(m, &o, &p, &e) == QF_OK, "%s", e.msg);
    struct qf_convert_run_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.threads = 2;
    ro.chunk_elems = 1000; /* several chunks per layer, not whole words of rows */
    ro.no_fsync = 1;
    ck_assert_msg(qf_convert_run(p, out, &ro, &e) == QF_OK, "%s", e.msg);
    int nl = 0, found = 0;
    for (size_t i = 0; i < qf_convert_plan_n_items(p); i++) {
        const struct qf_convert_item *it = qf_convert_plan_item(p, i);
        for (int k = 0; k < nw; k++)
            if (!strcmp(it->name, want[k])) {
                found++;
                nl += it->lossy;
                ck_assert_int_eq(it->type, type);
            }
    }
    ck_assert_int_eq(found, nw);
    qf_convert_plan_free(p);
    qf_model_close(m);
    return nl;
}

/* ---------------------------------------------------------------------------------------
 * GGUF Q4_0 / Q8_0 -> GPTQ sym g32 */
static const char *const glayer[] = {"blk.0.attn_q", "blk.0.ffn_down"};
static const uint64_t gout[] = {64, 32}, gin[] = {128, 96};

/* a GGUF with two linear layers of type `type` and an F32 norm; row 0's first block is set
 * by hand (d = 1.0 and the codes below), the rest quantized from a smooth pattern */
static void write_gguf(const char *path, int type)
{
    struct qf_error e;
    struct qf_writer *w;
    struct qf_writer_opts o;
    memset(&o, 0, sizeof o);
    o.keep_order = 1;
    o.no_fsync = 1;
    ck_assert_msg(qf_writer_new("gguf", path, &o, &w, &e) == QF_OK, "%s", e.msg);
    struct qf_value v;
    memset(&v, 0, sizeof v);
    v.type = QF_V_STRING;
    v.v.s.ptr = "llama";
    v.v.s.len = 5;
    ck_assert_int_eq(qf_writer_add_kv(w, "general.architecture", &v, &e), QF_OK);
    for (int k = 0; k < 2; k++) {
        char nm[64];
        snprintf(nm, sizeof nm, "%s.weight", glayer[k]);
        uint64_t sh[2] = {gout[k], gin[k]};
        ck_assert_msg(qf_writer_add_tensor(w, nm, type, 2, sh, &e) == QF_OK, "%s", e.msg);
    }
    uint64_t nsh[1] = {128};
    ck_assert_int_eq(qf_writer_add_tensor(w, "blk.0.attn_norm.weight", QF_TYPE_F32, 1, nsh, &e),
                     QF_OK);
    ck_assert_int_eq(qf_writer_begin_data(w, &e), QF_OK);
    for (int k = 0; k < 2; k++) {
        uint64_t n = gout[k] * gin[k];
        float *f = malloc(n * sizeof *f);
        for (uint64_t j = 0; j < n; j++)
            f[j] = sinf(0.37f * (float)j + (float)k) * (1.0f + (float)(j % 7));
        size_t bs = type == QF_TYPE_Q4_0 ? 18 : 34;
        uint8_t *b = malloc(n / 32 * bs);
        ck_assert_int_ge(qf_quantize(type, f, b, gout[k], gin[k], NULL), 0);
        b[0] = 0x00, b[1] = 0x3c; /* d = 1.0 */
        for (int j = 0; j < 32; j++) {
            if (type == QF_TYPE_Q4_0 && j < 16) /* inputs 0..15 codes 0..15, 16..31 15..0 */
                b[2 + j] = (uint8_t)(j | (15 - j) << 4);
            else if (type == QF_TYPE_Q8_0) /* qs -128, -1, 0, 127, then j - 16 */
                b[2 + j] = (uint8_t)(int8_t)(j == 0 ? -128 : j == 1 ? -1 : j == 2 ? 0
                                             : j == 3 ? 127 : j - 16);
        }
        ck_assert_int_eq(qf_writer_write(w, b, n / 32 * bs, &e), QF_OK);
        free(b);
        free(f);
    }
    float norm[128];
    for (int j = 0; j < 128; j++)
        norm[j] = 1.0f + (float)j / 128.0f;
    ck_assert_int_eq(qf_writer_write(w, norm, sizeof norm, &e), QF_OK);
    ck_assert_msg(qf_writer_commit(w, &e) == QF_OK, "%s", e.msg);
    qf_writer_free(w);
}

struct gcase {
    int type, bits, fmt; /* fmt: QF_LW_GPTQ_V1 / _V2 */
};
static const struct gcase gcases[] = {
    {QF_TYPE_Q4_0, 4, QF_LW_GPTQ_V1},
    {QF_TYPE_Q4_0, 4, QF_LW_GPTQ_V2},
    {QF_TYPE_Q8_0, 8, QF_LW_GPTQ_V1},
    {QF_TYPE_Q8_0, 8, QF_LW_GPTQ_V2},
};

START_TEST(gguf_to_gptq)
{
    const struct gcase *c = &gcases[_i];
    struct qf_error e;
    char in[512], out[512], st[600];
    mk_tmp();
    snprintf(in, sizeof in, "%s/in.gguf", tmpdir);
    snprintf(out, sizeof out, "%s/gptq", tmpdir);
    snprintf(st, sizeof st, "%s/model.safetensors", out);
    write_gguf(in, c->type);
    struct qf_lwrite_opts o;
    qf_lwrite_opts_init(&o);
    o.layout = "gptq";
    o.bits = c->bits;
    o.group_size = 32;
    o.sym = 1;
    o.gptq_format = c->fmt;
    convert(in, out, &o, 2, 1);

    struct qf_model *a, *b;
    struct qf_layout *la, *lb;
    ck_assert_msg(qf_model_open(in, NULL, 0, &a, &e) == QF_OK, "%s", e.msg);
    ck_assert_msg(qf_model_open(st, NULL, 0, &b, &e) == QF_OK, "%s", e.msg);
    ck_assert_msg(qf_layout_scan(a, 0, &la, &e) == QF_OK, "%s", e.msg);
    ck_assert_msg(qf_layout_scan(b, 0, &lb, &e) == QF_OK, "%s", e.msg);
    const int v1 = c->fmt == QF_LW_GPTQ_V1;
    for (int k = 0; k < 2; k++) {
        char nm[64];
        const uint64_t O = gout[k], I = gin[k], ng = I / 32;
        snprintf(nm, sizeof nm, "%s.weight", glayer[k]);
        const struct qf_ltensor *t = qf_layout_find(lb, nm);
        ck_assert_ptr_nonnull(t);
        ck_assert_int_eq(t->family, QF_LAYOUT_GPTQ);
        ck_assert_int_eq(t->bits, c->bits);
        ck_assert_int_eq(t->group_size, 32);
        ck_assert_uint_eq(t->shape[0], O);
        ck_assert_uint_eq(t->shape[1], I);
        /* decoded values: identical to the GGUF blocks' */
        float *fa = decoded(a, la, nm), *fb = decoded(b, lb, nm);
        uint64_t nd = 0;
        for (uint64_t j = 0; j < O * I; j++)
            nd += memcmp(&fa[j], &fb[j], 4) != 0;
        ck_assert_msg(nd == 0, "%s: %llu values differ", nm, (unsigned long long)nd);
        /* row 0's first block, worked by hand */
        if (c->bits == 4) {
            ck_assert_float_eq(fb[0], -8.0f);
            ck_assert_float_eq(fb[15], 7.0f);
            ck_assert_float_eq(fb[16], 7.0f);
        } else {
            ck_assert_float_eq(fb[0], -128.0f);
            ck_assert_float_eq(fb[3], 127.0f);
        }
        free(fa);
        free(fb);
        /* the words: qweight [I*b/32, O], column 0 holds row 0 */
        snprintf(nm, sizeof nm, "%s.qweight", glayer[k]);
        uint8_t *qw = read_all(b, nm, NULL);
        snprintf(nm, sizeof nm, "%s.qzeros", glayer[k]);
        uint8_t *qz = read_all(b, nm, NULL);
        snprintf(nm, sizeof nm, "%s.scales", glayer[k]);
        uint8_t *sc = read_all(b, nm, NULL);
        snprintf(nm, sizeof nm, "%s.g_idx", glayer[k]);
        uint8_t *gi = read_all(b, nm, NULL);
        if (c->bits == 4) {
            ck_assert_uint_eq(le32(qw + 0 * 4 * O), 0x76543210u);
            ck_assert_uint_eq(le32(qw + 1 * 4 * O), 0xFEDCBA98u);
            ck_assert_uint_eq(le32(qw + 2 * 4 * O), 0x89ABCDEFu);
            ck_assert_uint_eq(le32(qw + 3 * 4 * O), 0x01234567u);
            ck_assert_uint_eq(le32(qz), v1 ? 0x77777777u : 0x88888888u);
        } else {
            ck_assert_uint_eq(le32(qw), 0xFF807F00u); /* codes qs + 128: 0, 127, 128, 255 */
            ck_assert_uint_eq(le32(qz), v1 ? 0x7F7F7F7Fu : 0x80808080u);
        }
        ck_assert_uint_eq(sc[0] | sc[1] << 8, 0x3c00);
        ck_assert_uint_eq(le32(gi + 4 * 95), 2);
        /* and back: the GGUF blocks byte for byte */
        snprintf(nm, sizeof nm, "%s.weight", glayer[k]);
        const struct qf_tensor *bt;
        uint8_t *blk = read_all(a, nm, &bt);
        uint8_t *back = malloc(bt->nbytes);
        int zf = v1 ? QFI_GPTQ_V1 : QFI_GPTQ_V2;
        int rc = c->bits == 4 ? qfi_repack_gptq_to_q4_0(I, O, 32, zf, gi, qw, qz, sc, back, &e)
                              : qfi_repack_gptq_to_q8_0(I, O, 32, zf, gi, qw, qz, sc, back, &e);
        ck_assert_msg(rc == QF_OK, "%s", e.msg);
        ck_assert_int_eq(memcmp(back, blk, bt->nbytes), 0);
        ck_assert_uint_eq(bt->nbytes, O * ng * (c->bits == 4 ? 18 : 34));
        free(back);
        free(blk);
        free(qw);
        free(qz);
        free(sc);
        free(gi);
    }
    /* GGUF -> GPTQ -> GGUF (qf_convert): the same blocks, made from the codes, not measured */
    char back[600];
    snprintf(back, sizeof back, "%s/back.gguf", tmpdir);
    const char *const lw[] = {"blk.0.attn_q.weight", "blk.0.ffn_down.weight"};
    ck_assert_int_eq(to_gguf(st, back, c->type, lw, 2), 0);
    struct qf_model *g;
    ck_assert_msg(qf_model_open(back, NULL, 0, &g, &e) == QF_OK, "%s", e.msg);
    for (int k = 0; k < 2; k++) {
        const struct qf_tensor *t1, *t2;
        uint8_t *x = read_all(a, lw[k], &t1), *y = read_all(g, lw[k], &t2);
        ck_assert_int_eq(t2->type, c->type);
        ck_assert_uint_eq(t2->nbytes, t1->nbytes);
        ck_assert_int_eq(memcmp(x, y, t1->nbytes), 0);
        free(x);
        free(y);
    }
    qf_model_close(g);
    /* the norm passes through */
    const struct qf_ltensor *nt = qf_layout_find(lb, "blk.0.attn_norm.weight");
    ck_assert_ptr_nonnull(nt);
    ck_assert_int_eq(nt->parts[0]->type, QF_TYPE_F32);
    qf_layout_free(la);
    qf_layout_free(lb);
    qf_model_close(a);
    qf_model_close(b);
    rm_tree(tmpdir);
}
END_TEST

/* Another scheme than the blocks' (bits, group size, asymmetric) is encoded, not repacked */
START_TEST(gguf_other_scheme_encoded)
{
    char in[512], out[512];
    mk_tmp();
    snprintf(in, sizeof in, "%s/in.gguf", tmpdir);
    write_gguf(in, QF_TYPE_Q8_0);
    struct qf_lwrite_opts o;
    qf_lwrite_opts_init(&o);
    o.layout = "gptq";
    o.bits = 8;
    o.group_size = 32;
    o.sym = 0;
    snprintf(out, sizeof out, "%s/asym", tmpdir);
    convert(in, out, &o, 2, 0);
    o.sym = 1;
    o.group_size = -1; /* per channel */
    snprintf(out, sizeof out, "%s/chan", tmpdir);
    convert(in, out, &o, 2, 0);
    o.group_size = 32;
    o.bits = 4;
    snprintf(out, sizeof out, "%s/b4", tmpdir);
    convert(in, out, &o, 2, 0);
    rm_tree(tmpdir);
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * compressed-tensors pack -> GPTQ */
static const char *const clayer[] = {"model.layers.0.mlp.down_proj",
                                     "model.layers.0.self_attn.k_proj"};
static const uint64_t cout[] = {128, 64}, cin[] = {384, 256};

struct ccase {
    const char *dir;
    int bits, fmt, sym; /* target */
};
static const struct ccase ccases[] = {
    {"st-ct-int4-g128-asym", 4, QF_LW_GPTQ_V2, 0},
    {"st-ct-int4-g128-sym", 4, QF_LW_GPTQ_V2, 0},
    {"st-ct-int4-g128-sym", 4, QF_LW_GPTQ_V1, 1},
    {"st-ct-int4-channel-sym", 4, QF_LW_GPTQ_V2, 1},
    {"st-ct-int4-channel-asym", 4, QF_LW_GPTQ_V2, 0},
    {"st-ct-int8-g128-sym", 8, QF_LW_GPTQ_V2, 1},
};

/* f32 -> bf16 -> f32, round to nearest even (compressed-tensors decodes in bf16) */
static float bf16_round(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    memcpy(&x, &u, 4);
    return x;
}

START_TEST(ct_to_gptq)
{
    const struct ccase *c = &ccases[_i];
    struct qf_error e;
    char in[256], ref[256], out[512], st[600];
    mk_tmp();
    snprintf(in, sizeof in, "fixtures/%s/model.safetensors", c->dir);
    snprintf(ref, sizeof ref, "fixtures/%s/reference.safetensors", c->dir);
    snprintf(out, sizeof out, "%s/gptq", tmpdir);
    snprintf(st, sizeof st, "%s/model.safetensors", out);
    struct qf_lwrite_opts o;
    qf_lwrite_opts_init(&o);
    o.layout = "gptq";
    o.bits = c->bits;
    o.sym = c->sym;
    o.gptq_format = c->fmt;
    convert(in, out, &o, 2, 1);

    struct qf_model *a, *b, *r;
    struct qf_layout *la, *lb;
    ck_assert_msg(qf_model_open(in, NULL, 0, &a, &e) == QF_OK, "%s", e.msg);
    ck_assert_msg(qf_model_open(st, NULL, 0, &b, &e) == QF_OK, "%s", e.msg);
    ck_assert_msg(qf_model_open(ref, NULL, QF_OPEN_NO_CONFIG, &r, &e) == QF_OK, "%s", e.msg);
    ck_assert_msg(qf_layout_scan(a, 0, &la, &e) == QF_OK, "%s", e.msg);
    ck_assert_msg(qf_layout_scan(b, 0, &lb, &e) == QF_OK, "%s", e.msg);
    for (int k = 0; k < 2; k++) {
        char nm[128];
        const uint64_t O = cout[k], I = cin[k], n = O * I;
        snprintf(nm, sizeof nm, "%s.weight", clayer[k]);
        const struct qf_ltensor *ta = qf_layout_find(la, nm), *tb = qf_layout_find(lb, nm);
        ck_assert_ptr_nonnull(ta);
        ck_assert_ptr_nonnull(tb);
        ck_assert_int_eq(tb->family, QF_LAYOUT_GPTQ);
        ck_assert_int_eq(tb->group_size, ta->group_size);
        float *fa = decoded(a, la, nm), *fb = decoded(b, lb, nm);
        snprintf(nm, sizeof nm, "%s.weight.dequant", clayer[k]);
        const struct qf_tensor *rt;
        uint8_t *rb = read_all(r, nm, &rt);
        float *fr = malloc(n * sizeof *fr);
        ck_assert_int_eq(qf_dequantize(rt->type, rb, fr, n), QF_OK);
        /* GPTQ's f32 (q - z) * scale is exact (small integer times an f16 scale); rounded to
         * bf16 it is compressed-tensors' own decoded value, bit for bit */
        uint64_t nd = 0;
        for (uint64_t j = 0; j < n; j++) {
            float g = bf16_round(fb[j]);
            nd += memcmp(&g, &fa[j], 4) != 0 || memcmp(&g, &fr[j], 4) != 0;
        }
        ck_assert_msg(nd == 0, "%s %s: %llu values differ", c->dir, clayer[k],
                      (unsigned long long)nd);
        free(fa);
        free(fb);
        free(fr);
        free(rb);
        if (c->fmt != QF_LW_GPTQ_V2)
            continue;
        /* and back (qfi_gptq_v2_to_ct): weight_packed and weight_zero_point byte for byte */
        const uint64_t pk = 32u / (unsigned)c->bits, ng = I / (uint64_t)ta->group_size;
        snprintf(nm, sizeof nm, "%s.qweight", clayer[k]);
        uint8_t *qw = read_all(b, nm, NULL);
        snprintf(nm, sizeof nm, "%s.qzeros", clayer[k]);
        uint8_t *qz = read_all(b, nm, NULL);
        uint32_t *w = malloc(4 * (I / pk) * O), *z = malloc(4 * ng * (O / pk));
        uint32_t *pw = malloc(4 * (I / pk) * O), *pz = malloc(4 * ng * (O / pk));
        for (uint64_t j = 0; j < (I / pk) * O; j++)
            w[j] = le32(qw + 4 * j);
        for (uint64_t j = 0; j < ng * (O / pk); j++)
            z[j] = le32(qz + 4 * j);
        ck_assert_int_eq(qfi_gptq_v2_to_ct(w, z, O, I, ng, c->bits, ta->sym, pw, pz), QF_OK);
        snprintf(nm, sizeof nm, "%s.weight_packed", clayer[k]);
        uint8_t *ip = read_all(a, nm, NULL);
        for (uint64_t j = 0; j < (I / pk) * O; j++)
            ck_assert_uint_eq(pw[j], le32(ip + 4 * j));
        free(ip);
        if (!ta->sym) {
            snprintf(nm, sizeof nm, "%s.weight_zero_point", clayer[k]);
            uint8_t *iz = read_all(a, nm, NULL);
            for (uint64_t j = 0; j < ng * (O / pk); j++)
                ck_assert_uint_eq(pz[j], le32(iz + 4 * j));
            free(iz);
        }
        free(qw);
        free(qz);
        free(w);
        free(z);
        free(pw);
        free(pz);
    }
    if (c->fmt == QF_LW_GPTQ_V2) {
        /* and back through the layout writer (GPTQ -> ct-int4 / ct-int8, repacked): the
         * words and weight_shape byte for byte, the scales the same values (written in the
         * target's scale dtype, F16 here: the GPTQ checkpoint's) */
        char ct[600], cst[700];
        snprintf(ct, sizeof ct, "%s/ct", tmpdir);
        snprintf(cst, sizeof cst, "%s/model.safetensors", ct);
        qf_lwrite_opts_init(&o);
        o.layout = c->bits == 4 ? "ct-int4" : "ct-int8";
        o.sym = qf_layout_find(la, "model.layers.0.mlp.down_proj.weight")->sym;
        convert(st, ct, &o, 2, 1);
        struct qf_model *d;
        ck_assert_msg(qf_model_open(cst, NULL, 0, &d, &e) == QF_OK, "%s", e.msg);
        static const char *const sfx[] = {".weight_packed", ".weight_shape",
                                          ".weight_zero_point", ".weight_scale"};
        for (int k = 0; k < 2; k++)
            for (int j = 0; j < 4; j++) {
                char nm[160];
                snprintf(nm, sizeof nm, "%s%s", clayer[k], sfx[j]);
                const struct qf_tensor *t1 = qf_model_find_tensor(a, nm);
                const struct qf_tensor *t2 = qf_model_find_tensor(d, nm);
                ck_assert_int_eq(t1 != NULL, t2 != NULL);
                if (!t1)
                    continue;
                uint8_t *x = read_all(a, nm, NULL), *y = read_all(d, nm, NULL);
                ck_assert_uint_eq(t1->nelem, t2->nelem);
                if (j < 3) {
                    ck_assert_int_eq(t1->type, t2->type);
                    ck_assert_int_eq(memcmp(x, y, t1->nbytes), 0);
                } else {
                    float *f1 = malloc(4 * t1->nelem), *f2 = malloc(4 * t1->nelem);
                    ck_assert_int_eq(qf_dequantize(t1->type, x, f1, t1->nelem), QF_OK);
                    ck_assert_int_eq(qf_dequantize(t2->type, y, f2, t2->nelem), QF_OK);
                    ck_assert_int_eq(memcmp(f1, f2, 4 * t1->nelem), 0);
                    free(f1);
                    free(f2);
                }
                free(x);
                free(y);
            }
        qf_model_close(d);
    }
    qf_layout_free(la);
    qf_layout_free(lb);
    qf_model_close(a);
    qf_model_close(b);
    qf_model_close(r);
    rm_tree(tmpdir);
}
END_TEST

/* AUTO v1 / v2 with asymmetric zero points decides on decoded zeros: encoded (still exact) */
START_TEST(ct_auto_format_encoded)
{
    char out[512];
    mk_tmp();
    snprintf(out, sizeof out, "%s/auto", tmpdir);
    struct qf_lwrite_opts o;
    qf_lwrite_opts_init(&o);
    o.layout = "gptq";
    convert("fixtures/st-ct-int4-g128-asym/model.safetensors", out, &o, 2, 0);
    rm_tree(tmpdir);
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * GPTQ / AWQ checkpoints -> GGUF Q4_0 / Q4_1 (qf_convert) */
struct qcase {
    const char *dir;
    int type, exact; /* exact: decoded values bit for bit (Q4_0; Q4_1 of zero points 8) */
};
static const struct qcase qcases[] = {
    {"st-gptq-b4-g128-sym", QF_TYPE_Q4_0, 1},
    {"st-gptq-b4-g128-sym", QF_TYPE_Q4_1, 1}, /* m = -8 * scale: exact in f16 */
    {"st-gptq-b4-g128-asym", QF_TYPE_Q4_1, 0},
    {"st-awq-gemm-b4-g128", QF_TYPE_Q4_1, 0},
};

static float f16_value(const uint8_t *p)
{
    float f;
    uint16_t h = (uint16_t)(p[0] | p[1] << 8);
    qf_dequantize(QF_TYPE_F16, &h, &f, 1);
    return f;
}

START_TEST(gptq_to_gguf)
{
    const struct qcase *c = &qcases[_i];
    struct qf_error e;
    char in[256], out[512];
    mk_tmp();
    snprintf(in, sizeof in, "fixtures/%s/model.safetensors", c->dir);
    snprintf(out, sizeof out, "%s/o.gguf", tmpdir);
    const char *const lw[] = {"model.layers.0.mlp.down_proj.weight",
                              "model.layers.0.self_attn.k_proj.weight"};
    ck_assert_int_eq(to_gguf(in, out, c->type, lw, 2), c->type == QF_TYPE_Q4_1 ? 2 : 0);
    struct qf_model *a, *g;
    struct qf_layout *la;
    ck_assert_msg(qf_model_open(in, NULL, 0, &a, &e) == QF_OK, "%s", e.msg);
    ck_assert_msg(qf_model_open(out, NULL, 0, &g, &e) == QF_OK, "%s", e.msg);
    ck_assert_msg(qf_layout_scan(a, 0, &la, &e) == QF_OK, "%s", e.msg);
    for (int k = 0; k < 2; k++) {
        const struct qf_ltensor *lt = qf_layout_find(la, lw[k]);
        ck_assert_ptr_nonnull(lt);
        const uint64_t n = lt->nelem, bs = c->type == QF_TYPE_Q4_0 ? 18 : 20;
        float *want = decoded(a, la, lw[k]), *got = malloc(n * sizeof *got);
        const struct qf_tensor *t;
        uint8_t *blk = read_all(g, lw[k], &t);
        ck_assert_uint_eq(t->shape[0], lt->shape[0]);
        ck_assert_uint_eq(t->shape[1], lt->shape[1]);
        ck_assert_int_eq(qf_dequantize(c->type, blk, got, n), QF_OK);
        double mx = 0;
        for (uint64_t j = 0; j < n; j++) {
            if (c->exact) {
                ck_assert_msg(memcmp(&got[j], &want[j], 4) == 0, "%s [%llu]: %g != %g", lw[k],
                              (unsigned long long)j, got[j], want[j]);
                continue;
            }
            /* Q4_1: d = scale and the codes exact; m = f16(-scale * zero) off by at most half
             * an f16 ulp (2^-11 relative), plus the f32 rounding of both sides and, for AWQ,
             * the f16 rounding of AutoAWQ's decoded value (awq.c) */
            float m = f16_value(blk + bs * (j / 32) + 2);
            double d = fabs((double)got[j] - (double)want[j]);
            double bound = ldexp(fabs(m), -11) * 1.001 + 1e-6 * (fabs(want[j]) + fabs(m));
            if (lt->family == QF_LAYOUT_AWQ_GEMM)
                bound += ldexp(fabs(want[j]), -11) * 1.001;
            ck_assert_msg(d <= bound, "%s [%llu]: error %g over %g", lw[k],
                          (unsigned long long)j, d, bound);
            mx = d > mx ? d : mx;
        }
        if (!c->exact)
            ck_assert_msg(mx > 0, "%s: m rounding never met", lw[k]); /* not the trivial case */
        free(want);
        free(got);
        free(blk);
    }
    qf_layout_free(la);
    qf_model_close(a);
    qf_model_close(g);
    rm_tree(tmpdir);
}
END_TEST

Suite *suite_lwrite_repack(void)
{
    Suite *s = suite_create("lwrite_repack");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, gguf_to_gptq, 0, (int)(sizeof gcases / sizeof gcases[0]));
    tcase_add_test(tc, gguf_other_scheme_encoded);
    tcase_add_loop_test(tc, ct_to_gptq, 0, (int)(sizeof ccases / sizeof ccases[0]));
    tcase_add_test(tc, ct_auto_format_encoded);
    tcase_add_loop_test(tc, gptq_to_gguf, 0, (int)(sizeof qcases / sizeof qcases[0]));
    suite_add_tcase(s, tc);
    return s;
}
