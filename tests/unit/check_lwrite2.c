/* check_lwrite2.c - writing compressed-tensors, bitsandbytes and MLX layouts from float
 * weights: the original weights the tools quantized, written through qf_lwrite, give the
 * tools' own tensors byte for byte and their quantization_config key for key; the output
 * reads back as its layout and dequantizes to the tools' reference values. */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qf/qf.h"
#include "qf/lwrite.h"
#include "lw_tmp.h"

Suite *suite_lwrite2(void);

static void rm_tmp(void) { rm_tree(tmpdir); }

static struct qf_model *open_path(const char *path, unsigned flags)
{
    struct qf_model *m;
    struct qf_error e;
    ck_assert_msg(qf_model_open(path, NULL, flags, &m, &e) == QF_OK, "%s: %s", path, e.msg);
    return m;
}

static float *f32_of(struct qf_model *m, const char *name)
{
    const struct qf_tensor *t;
    uint8_t *b = read_all(m, name, &t);
    float *f = malloc(t->nelem * sizeof *f);
    ck_assert_int_eq(qf_dequantize(t->type, b, f, t->nelem), QF_OK);
    free(b);
    return f;
}

/* The two layers of every fixture case, and their original weights renamed "*.weight" (as a
 * float checkpoint holds them) in tmpdir/in.safetensors, in the dtype the tool was given. */
static const char *const layers[] = {"model.layers.0.mlp.down_proj",
                                     "model.layers.0.self_attn.k_proj"};
static const uint64_t lout[] = {128, 64}, lin[] = {384, 256};

static void write_input(const char *orig_dir, int type, char *in, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "fixtures/%s/orig.safetensors", orig_dir);
    struct qf_model *o = open_path(path, QF_OPEN_NO_CONFIG);
    snprintf(in, n, "%s/in-%s.safetensors", tmpdir, orig_dir);
    struct qf_error e;
    struct qf_writer *w = lw_new_writer(in);
    char nm[256];
    for (int k = 0; k < 2; k++) {
        snprintf(nm, sizeof nm, "%s.weight", layers[k]);
        uint64_t sh[2] = {lout[k], lin[k]};
        ck_assert_int_eq(qf_writer_add_tensor(w, nm, type, 2, sh, &e), QF_OK);
    }
    ck_assert_int_eq(qf_writer_begin_data(w, &e), QF_OK);
    for (int k = 0; k < 2; k++) {
        const struct qf_tensor *t;
        snprintf(nm, sizeof nm, "%s.weight.orig", layers[k]);
        uint8_t *b = read_all(o, nm, &t);
        ck_assert_int_eq(t->type, type);
        ck_assert_int_eq(qf_writer_write(w, b, (size_t)t->nbytes, &e), QF_OK);
        free(b);
    }
    ck_assert_msg(qf_writer_commit(w, &e) == QF_OK, "%s", e.msg);
    qf_writer_free(w);
    qf_model_close(o);
}

static struct qf_lwrite_plan *run(const char *in, const char *out, const struct qf_lwrite_opts *o,
                                  struct qf_model **mp)
{
    struct qf_error e;
    struct qf_model *m = open_path(in, 0);
    struct qf_lwrite_plan *p;
    ck_assert_msg(qf_lwrite_plan_new(m, o, &p, &e) == QF_OK, "%s", e.msg);
    struct qf_lwrite_run_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.no_fsync = 1;
    ro.chunk_elems = 1000; /* several chunks of rows per layer */
    ck_assert_msg(qf_lwrite_run(p, out, &ro, &e) == QF_OK, "%s", e.msg);
    *mp = m;
    return p;
}

/* quantization_config of dir/config.json equals the fixture's, key for key */
static void same_qconfig(const char *dir, const char *fixture)
{
    char a[1024], b[1024];
    snprintf(a, sizeof a, "%s/config.json", dir);
    snprintf(b, sizeof b, "fixtures/%s/config.json", fixture);
    json_error_t je;
    json_t *ja = json_load_file(a, 0, &je), *jb = json_load_file(b, 0, &je);
    ck_assert_ptr_nonnull(ja);
    ck_assert_ptr_nonnull(jb);
    json_t *qa = json_object_get(ja, "quantization_config");
    json_t *qb = json_object_get(jb, "quantization_config");
    ck_assert_ptr_nonnull(qa);
    ck_assert_ptr_nonnull(qb);
    char *sa = json_dumps(qa, JSON_SORT_KEYS), *sb = json_dumps(qb, JSON_SORT_KEYS);
    ck_assert_msg(json_equal(qa, qb), "%s: quantization_config\n%s\n!=\n%s", fixture, sa, sb);
    free(sa);
    free(sb);
    json_decref(ja);
    json_decref(jb);
}

/* every tensor of the fixture's model.safetensors but the biases (not ours: the input has
 * none) is in out/model.safetensors with the same type, shape and bytes; no other tensor */
static void same_tensors(const char *dir, const char *fixture)
{
    char a[1024], b[1024];
    snprintf(a, sizeof a, "%s/model.safetensors", dir);
    snprintf(b, sizeof b, "fixtures/%s/model.safetensors", fixture);
    struct qf_model *ma = open_path(a, QF_OPEN_NO_CONFIG), *mb = open_path(b, QF_OPEN_NO_CONFIG);
    size_t nb = 0;
    for (size_t i = 0; i < qf_model_n_tensors(mb); i++) {
        const struct qf_tensor *tb = qf_model_tensor(mb, i), *ta;
        size_t n = strlen(tb->name);
        if (n > 5 && !strcmp(tb->name + n - 5, ".bias"))
            continue;
        nb++;
        uint8_t *da = read_all(ma, tb->name, &ta), *db = read_all(mb, tb->name, NULL);
        ck_assert_int_eq(ta->type, tb->type);
        ck_assert_int_eq(ta->n_dims, tb->n_dims);
        for (int d = 0; d < tb->n_dims; d++)
            ck_assert_uint_eq(ta->shape[d], tb->shape[d]);
        ck_assert_msg(memcmp(da, db, tb->nbytes) == 0, "%s: %s differs", fixture, tb->name);
        free(da);
        free(db);
    }
    ck_assert_uint_eq(qf_model_n_tensors(ma), nb);
    qf_model_close(ma);
    qf_model_close(mb);
}

/* the output reads back as layout `name`; every layer dequantizes to the fixture's
 * reference "weight.dequant" values exactly, and the writer's measured max error is
 * max |dequant - orig| */
static void reads_back(const char *dir, const char *fixture, const char *orig_dir,
                       const char *name, const struct qf_lwrite_plan *p, int exact_err)
{
    char a[1024], r[1024], o[1024];
    snprintf(a, sizeof a, "%s/model.safetensors", dir);
    snprintf(r, sizeof r, "fixtures/%s/reference.safetensors", fixture);
    snprintf(o, sizeof o, "fixtures/%s/orig.safetensors", orig_dir);
    struct qf_model *ma = open_path(a, 0), *mr = open_path(r, QF_OPEN_NO_CONFIG);
    struct qf_model *mo = open_path(o, QF_OPEN_NO_CONFIG);
    struct qf_layout *l;
    struct qf_error e;
    ck_assert_msg(qf_layout_scan(ma, 0, &l, &e) == QF_OK, "%s", e.msg);
    ck_assert_str_eq(qf_layout_name(l), name);
    for (int k = 0; k < 2; k++) {
        char nm[256];
        snprintf(nm, sizeof nm, "%s.weight", layers[k]);
        const struct qf_ltensor *lt = qf_layout_find(l, nm);
        ck_assert_ptr_nonnull(lt);
        ck_assert_int_ne(lt->family, QF_LAYOUT_PLAIN);
        float *d = malloc(lout[k] * lin[k] * sizeof *d);
        ck_assert_int_eq(qf_layout_dequantize(ma, l, lt, 0, UINT64_MAX, d, &e), QF_OK);
        snprintf(nm, sizeof nm, "%s.weight.dequant", layers[k]);
        float *ref = f32_of(mr, nm);
        snprintf(nm, sizeof nm, "%s.weight.orig", layers[k]);
        float *w = f32_of(mo, nm);
        double mx = 0;
        for (uint64_t j = 0; j < lout[k] * lin[k]; j++) {
            ck_assert_msg(d[j] == ref[j], "%s %s: value %llu %g != %g", fixture, layers[k],
                          (unsigned long long)j, d[j], ref[j]);
            mx = fmax(mx, fabs((double)d[j] - (double)w[j]));
        }
        const struct qf_lwrite_item *it = NULL;
        for (size_t i = 0; i < qf_lwrite_plan_n_items(p); i++)
            if (!strncmp(qf_lwrite_plan_item(p, i)->name, layers[k], strlen(layers[k])))
                it = qf_lwrite_plan_item(p, i);
        ck_assert_ptr_nonnull(it);
        ck_assert_int_eq(it->quantized, 1);
        ck_assert_int_eq(it->lossy, 1);
        ck_assert_int_eq(it->measured, 1);
        if (exact_err)
            ck_assert_msg(it->stats.max_abs == mx, "%s %s: measured max %g, read back %g",
                          fixture, layers[k], it->stats.max_abs, mx);
        else /* the error measured without the absmax's own rounding: close, not equal */
            ck_assert_msg(fabs(it->stats.max_abs - mx) <= 0.1 * mx,
                          "%s %s: measured max %g, read back %g", fixture, layers[k],
                          it->stats.max_abs, mx);
        free(d);
        free(ref);
        free(w);
    }
    qf_layout_free(l);
    qf_model_close(ma);
    qf_model_close(mr);
    qf_model_close(mo);
}

/* ---------------------------------------------------------------------------------------
 * compressed-tensors (llm-compressor 0.12.3 fixtures from BF16 weights) */
struct ct_case {
    const char *fixture, *layout;
    int64_t G;
    int sym;
    const char *scheme;
};
static const struct ct_case ct_cases[] = {
    {"st-ct-int4-g128-sym", "ct-int4", 0, -1, "compressed-tensors int4 g128 sym"},
    {"st-ct-int4-g128-asym", "ct-int4", 128, 0, "compressed-tensors int4 g128 asym"},
    {"st-ct-int4-channel-sym", "ct-int4", -1, 1, "compressed-tensors int4 per-channel sym"},
    {"st-ct-int4-channel-asym", "ct-int4", -1, 0, "compressed-tensors int4 per-channel asym"},
    {"st-ct-int8-g128-sym", "ct-int8", 0, -1, "compressed-tensors int8 g128 sym"},
    {"st-ct-fp8-e4m3-channel", "ct-fp8", 0, -1, "compressed-tensors fp8 e4m3 per-channel"},
};

/* the original weights of orig_dir (dtype type) written with options o: scheme, tensors,
 * quantization_config and read-back values as the fixture's */
static void fixture_case(const char *orig_dir, int type, const struct qf_lwrite_opts *o,
                         const char *fixture, const char *scheme, const char *lname,
                         int exact_err)
{
    mk_tmp();
    char in[600], out[600];
    write_input(orig_dir, type, in, sizeof in);
    snprintf(out, sizeof out, "%s/out", tmpdir);
    struct qf_model *m;
    struct qf_lwrite_plan *p = run(in, out, o, &m);
    ck_assert_str_eq(qf_lwrite_plan_scheme(p), scheme);
    same_tensors(out, fixture);
    same_qconfig(out, fixture);
    reads_back(out, fixture, orig_dir, lname, p, exact_err);
    qf_lwrite_plan_free(p);
    qf_model_close(m);
    rm_tmp();
}

START_TEST(ct_equals_llm_compressor)
{
    const struct ct_case *c = &ct_cases[_i];
    struct qf_lwrite_opts o;
    qf_lwrite_opts_init(&o);
    o.layout = c->layout;
    o.group_size = c->G;
    o.sym = c->sym;
    fixture_case("st-ct-orig", QF_TYPE_BF16, &o, c->fixture, c->scheme, "compressed-tensors", 1);
}
END_TEST


/* ---------------------------------------------------------------------------------------
 * bitsandbytes (bitsandbytes' default backend fixtures from F16 weights, blocksize 64) */
struct bnb_case {
    const char *fixture, *layout;
    int dq;
    const char *scheme;
};
static const struct bnb_case bnb_cases[] = {
    {"st-bnb-nf4-bs64", "bnb-nf4", 0, "bitsandbytes nf4 bs64"},
    {"st-bnb-fp4-bs64", "bnb-fp4", 0, "bitsandbytes fp4 bs64"},
    {"st-bnb-nf4-bs64-dq", "bnb-nf4", 1, "bitsandbytes nf4 bs64 double-quant"},
    {"st-bnb-fp4-bs64-dq", "bnb-fp4", 1, "bitsandbytes fp4 bs64 double-quant"},
};

START_TEST(bnb_equals_bitsandbytes)
{
    const struct bnb_case *c = &bnb_cases[_i];
    struct qf_lwrite_opts o;
    qf_lwrite_opts_init(&o);
    o.layout = c->layout;
    o.double_quant = c->dq;
    fixture_case("st-bnb-orig", QF_TYPE_F16, &o, c->fixture, c->scheme, "bitsandbytes", !c->dq);
}
END_TEST

/* option checks: bits, group sizes and symmetry the targets refuse, and a group size that
 * leaves no layer to quantize (384 and 256 in features) */
START_TEST(target_options)
{
    static const struct {
        const char *layout;
        int bits;
        int64_t G;
        int sym, rc;
    } c[] = {
        {"ct-int4", 8, 0, -1, QF_EINVAL},         {"ct-fp8", 0, 128, -1, QF_EINVAL},
        {"ct-fp8", 0, 0, 0, QF_EINVAL},           {"ct-int4", 0, 100, -1, QF_EUNSUPPORTED},
        {"bnb-nf4", 8, 0, -1, QF_EINVAL},         {"bnb-nf4", 0, 0, 0, QF_EINVAL},
        {"bnb-nf4", 0, 96, -1, QF_EINVAL},        {"bnb-nf4", 0, 512, -1, QF_EUNSUPPORTED},
        {"bnb-nf4", 0, 128, -1, QF_OK},           {"mlx", 5, 0, -1, QF_EINVAL},
        {"mlx", 0, 256, -1, QF_EINVAL},           {"mlx", 0, 0, 1, QF_EINVAL},
        {"nf4", 0, 0, -1, QF_EINVAL},
    };
    mk_tmp();
    char in[600];
    write_input("st-bnb-orig", QF_TYPE_F16, in, sizeof in);
    struct qf_model *m = open_path(in, 0);
    for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
        struct qf_lwrite_opts o;
        struct qf_lwrite_plan *p = NULL;
        struct qf_error e;
        qf_lwrite_opts_init(&o);
        o.layout = c[k].layout;
        o.bits = c[k].bits;
        o.group_size = c[k].G;
        o.sym = c[k].sym;
        ck_assert_msg(qf_lwrite_plan_new(m, &o, &p, &e) == c[k].rc, "case %zu", k);
        if (p)
            ck_assert_str_eq(qf_lwrite_plan_scheme(p), "bitsandbytes nf4 bs128");
        qf_lwrite_plan_free(p);
    }
    qf_model_close(m);
    rm_tmp();
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * MLX affine (no MLX fixture from original weights: a hand-worked group and the decoding
 * rule of the spec) */

/* a float model of one [8, 64] linear layer plus a norm, values f(r, k), in dtype type */
static void write_synth(const char *path, int type, float (*f)(uint64_t, uint64_t))
{
    struct qf_error e;
    struct qf_writer *w = lw_new_writer(path);
    uint64_t sh[2] = {8, 64}, sn[1] = {64};
    ck_assert_int_eq(qf_writer_add_tensor(w, "model.norm.weight", type, 1, sn, &e), QF_OK);
    ck_assert_int_eq(qf_writer_add_tensor(w, "model.layers.0.mlp.up_proj.weight", type, 2, sh, &e),
                     QF_OK);
    ck_assert_int_eq(qf_writer_begin_data(w, &e), QF_OK);
    float v[8 * 64];
    uint8_t b[8 * 64 * 2];
    for (uint64_t k = 0; k < 64; k++)
        v[k] = 1.0f;
    ck_assert_int_ge(qf_quantize(type, v, b, 1, 64, NULL), 0);
    ck_assert_int_eq(qf_writer_write(w, b, 128, &e), QF_OK);
    for (uint64_t r = 0; r < 8; r++)
        for (uint64_t k = 0; k < 64; k++)
            v[r * 64 + k] = f(r, k);
    ck_assert_int_ge(qf_quantize(type, v, b, 1, 8 * 64, NULL), 0);
    ck_assert_int_eq(qf_writer_write(w, b, sizeof b, &e), QF_OK);
    ck_assert_msg(qf_writer_commit(w, &e) == QF_OK, "%s", e.msg);
    qf_writer_free(w);
}

/* 0, 0.5, ..., 7.5 repeated: mlx's quantizer takes the edge of larger magnitude, 7.5, as the
 * bias and s = 7.5 / round(7.5 / -0.5) = -0.5, so the code of x is (7.5 - x) / 0.5 = 15 - 2x,
 * exactly: words 0x89abcdef 0x01234567 (LSB-first), scale -0.5, bias 7.5, no error */
static float grid(uint64_t r, uint64_t k)
{
    (void)r;
    return 0.5f * (float)(k % 16);
}

static float wave(uint64_t r, uint64_t k)
{
    return sinf((float)(r * 64 + k) * 0.37f) * (0.5f + (float)r * 0.25f);
}

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* the synthetic model f in dtype type written as mlx (bits, G; 0 = defaults) into out, a new
 * folder under a new tmpdir */
static struct qf_lwrite_plan *mlx_run(int type, float (*f)(uint64_t, uint64_t), int bits,
                                      int64_t G, char *out, size_t n, struct qf_model **m)
{
    mk_tmp();
    char in[600];
    snprintf(in, sizeof in, "%s/in.safetensors", tmpdir);
    snprintf(out, n, "%s/out", tmpdir);
    write_synth(in, type, f);
    struct qf_lwrite_opts o;
    qf_lwrite_opts_init(&o);
    o.layout = "mlx";
    o.bits = bits;
    o.group_size = G;
    return run(in, out, &o, m);
}

START_TEST(mlx_hand_worked)
{
    char out[600], p2[1024];
    struct qf_model *m;
    struct qf_lwrite_plan *p = mlx_run(QF_TYPE_F16, grid, 0, 0, out, sizeof out, &m);
    ck_assert_str_eq(qf_lwrite_plan_scheme(p), "mlx affine int4 g64");
    const struct qf_lwrite_item *it = qf_lwrite_plan_item(p, 1);
    ck_assert_int_eq(it->quantized, 1);
    ck_assert_int_eq(it->measured, 1);
    ck_assert_double_eq(it->stats.max_abs, 0.0);
    snprintf(p2, sizeof p2, "%s/model.safetensors", out);
    struct qf_model *a = open_path(p2, 0);
    const struct qf_tensor *t;
    uint8_t *wq = read_all(a, "model.layers.0.mlp.up_proj.weight", &t);
    ck_assert_int_eq(t->type, QF_TYPE_U32);
    ck_assert_uint_eq(t->shape[0], 8);
    ck_assert_uint_eq(t->shape[1], 8);
    for (int j = 0; j < 64; j++)
        ck_assert_uint_eq(le32(wq + 4 * j), j % 2 ? 0x01234567u : 0x89abcdefu);
    uint8_t *sc = read_all(a, "model.layers.0.mlp.up_proj.scales", &t);
    ck_assert_int_eq(t->type, QF_TYPE_F16);
    uint8_t *bi = read_all(a, "model.layers.0.mlp.up_proj.biases", NULL);
    for (int r = 0; r < 8; r++) {
        ck_assert_uint_eq(le16(sc + 2 * r), 0xb800); /* -0.5 */
        ck_assert_uint_eq(le16(bi + 2 * r), 0x4780); /* 7.5 */
    }
    ck_assert_ptr_null(qf_model_find_tensor(a, "model.norm.scales"));
    free(wq);
    free(sc);
    free(bi);
    qf_model_close(a);
    /* config.json: mlx-lm's "quantization" and its copy */
    snprintf(p2, sizeof p2, "%s/config.json", out);
    json_error_t je;
    json_t *j = json_load_file(p2, 0, &je);
    ck_assert_ptr_nonnull(j);
    json_t *q = json_object_get(j, "quantization");
    ck_assert_ptr_nonnull(q);
    ck_assert_int_eq(json_integer_value(json_object_get(q, "group_size")), 64);
    ck_assert_int_eq(json_integer_value(json_object_get(q, "bits")), 4);
    ck_assert(json_equal(q, json_object_get(j, "quantization_config")));
    json_decref(j);
    qf_lwrite_plan_free(p);
    qf_model_close(m);
    rm_tmp();
}
END_TEST

/* bits 2..8, groups 32 / 64, F16 and BF16: read back as mlx; every value is s * q + b of
 * the stored words (unpacked here by the spec's rule) in f32 rounded to the dtype, every code
 * is the nearest level of its group (within half a step of the input unless clamped), and
 * the writer's measured max error is the read-back one */
START_TEST(mlx_rule)
{
    static const struct { int bits, G, type; } c[] = {
        {4, 64, QF_TYPE_F16}, {8, 64, QF_TYPE_BF16}, {3, 32, QF_TYPE_F16}, {2, 32, QF_TYPE_BF16}};
    const int b = c[_i].bits, G = c[_i].G, type = c[_i].type;
    char out[600], p2[1024];
    struct qf_model *m;
    struct qf_lwrite_plan *p = mlx_run(type, wave, b, G, out, sizeof out, &m);
    const struct qf_lwrite_item *it = qf_lwrite_plan_item(p, 1);
    snprintf(p2, sizeof p2, "%s/model.safetensors", out);
    struct qf_model *a = open_path(p2, 0);
    struct qf_layout *l;
    struct qf_error e;
    ck_assert_msg(qf_layout_scan(a, 0, &l, &e) == QF_OK, "%s", e.msg);
    ck_assert_str_eq(qf_layout_name(l), "mlx");
    const struct qf_ltensor *lt = qf_layout_find(l, "model.layers.0.mlp.up_proj.weight");
    ck_assert_ptr_nonnull(lt);
    float d[8 * 64];
    ck_assert_int_eq(qf_layout_dequantize(a, l, lt, 0, 8, d, &e), QF_OK);
    const struct qf_tensor *tw;
    uint8_t *wq = read_all(a, "model.layers.0.mlp.up_proj.weight", &tw);
    ck_assert_uint_eq(tw->shape[1], 64 * (uint64_t)b / 32);
    float *s = f32_of(a, "model.layers.0.mlp.up_proj.scales");
    float *bs = f32_of(a, "model.layers.0.mlp.up_proj.biases");
    float *x = f32_of(m, "model.layers.0.mlp.up_proj.weight");
    const int ng = 64 / G;
    double mx = 0;
    for (int r = 0; r < 8; r++)
        for (int k = 0; k < 64; k++) {
            const uint8_t *row = wq + (size_t)r * tw->shape[1] * 4;
            uint32_t q = 0;
            for (int t = 0; t < b; t++) { /* stream bit n = bit n % 32 of word n / 32 */
                int n = k * b + t;
                uint32_t word = le32(row + 4 * (n / 32));
                q |= ((word >> (n % 32)) & 1u) << t;
            }
            float sv = s[r * ng + k / G], bv = bs[r * ng + k / G];
            float prod = sv * (float)q, want = prod + bv, got = d[r * 64 + k];
            float h;
            uint8_t hb[4];
            ck_assert_int_ge(qf_quantize(type, &want, hb, 1, 1, NULL), 0);
            ck_assert_int_eq(qf_dequantize(type, hb, &h, 1), QF_OK);
            ck_assert_msg(got == h, "r%d k%d: %g != %g", r, k, got, h);
            /* nearest level: within half a step, plus what storing s and b (|b| up to
             * 2^b |s|) in the dtype moves the level: 2^b relative roundings of each */
            const float eps = type == QF_TYPE_BF16 ? 1.0f / 256 : 1.0f / 2048;
            float lvl = (x[r * 64 + k] - bv) / sv;
            if (lvl > -0.5f && lvl < (float)((1 << b) - 1) + 0.5f)
                ck_assert_msg(fabsf(lvl - (float)q) <= 0.5f + 2.0f * (float)(1 << b) * eps,
                              "r%d k%d: code %u for level %g", r, k, q, lvl);
            mx = fmax(mx, fabs((double)got - (double)x[r * 64 + k]));
        }
    ck_assert_msg(it->stats.max_abs == mx, "measured %g, read back %g", it->stats.max_abs, mx);
    ck_assert(mx > 0);
    free(wq);
    free(s);
    free(bs);
    free(x);
    qf_layout_free(l);
    qf_model_close(a);
    qf_lwrite_plan_free(p);
    qf_model_close(m);
    rm_tmp();
}
END_TEST

Suite *suite_lwrite2(void)
{
    Suite *s = suite_create("lwrite2");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, ct_equals_llm_compressor, 0,
                        (int)(sizeof ct_cases / sizeof ct_cases[0]));
    tcase_add_loop_test(tc, bnb_equals_bitsandbytes, 0,
                        (int)(sizeof bnb_cases / sizeof bnb_cases[0]));
    tcase_add_test(tc, target_options);
    tcase_add_test(tc, mlx_hand_worked);
    tcase_add_loop_test(tc, mlx_rule, 0, 4);
    suite_add_tcase(s, tc);
    return s;
}
