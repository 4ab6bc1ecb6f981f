/* Unit tests of the conversion engine (qf/convert.h): plan sizes and offsets against the
 * headers llama-quantize wrote, the executor's bytes for any thread count and chunk size,
 * error metrics on data with a known error, failures that leave nothing behind, exact
 * dequantization, Hugging Face conversion and importance matrices. */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qf/qf.h"

Suite *suite_convert(void);

/* ---------------------------------------------------------------------------------------
 * Helpers
 */
static char tmpdir[64];

static void tmp_setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/qf-convert-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

/* Number of entries in the temporary folder (temporary files of the writer included). */
static int tmp_count(void)
{
    DIR *d = opendir(tmpdir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static void tmp_teardown(void)
{
    DIR *d = opendir(tmpdir);
    if (!d)
        return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
            unlink(p);
        }
    closedir(d);
    rmdir(tmpdir);
}

static const char *tmp_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmpdir, name);
    return buf;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static struct qf_model *open_model(const char *path, unsigned flags)
{
    struct qf_model *m = NULL;
    struct qf_error err;
    int rc = qf_model_open(path, NULL, flags, &m, &err);
    ck_assert_msg(rc == QF_OK, "%s: %s", path, err.msg);
    return m;
}

static struct qf_convert_plan *plan_ftype(struct qf_model *m, int ftype)
{
    struct qf_convert_opts o;
    qf_convert_opts_init(&o);
    o.ftype = ftype;
    struct qf_convert_plan *p = NULL;
    struct qf_error err;
    int rc = qf_convert_plan_new(m, &o, &p, &err);
    ck_assert_msg(rc == QF_OK, "plan: %s", err.msg);
    return p;
}

static void run_plan(struct qf_convert_plan *p, const char *out, int threads, uint64_t chunk)
{
    struct qf_convert_run_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.threads = threads;
    ro.chunk_elems = chunk;
    ro.no_fsync = 1;
    struct qf_error err;
    int rc = qf_convert_run(p, out, &ro, &err);
    ck_assert_msg(rc == QF_OK, "run: %s", err.msg);
}

/* Read all of tensor t into a malloc'd buffer. */
static uint8_t *tensor_bytes(struct qf_model *m, const struct qf_tensor *t)
{
    uint8_t *b = malloc(t->nbytes ? t->nbytes : 1);
    ck_assert_ptr_nonnull(b);
    struct qf_error err;
    ck_assert_int_eq(qf_model_read(m, t, 0, b, t->nbytes, &err), QF_OK);
    return b;
}

/* A GGUF with the given F32 tensors (row-major shapes), written with the library's writer. */
struct ftensor {
    const char *name;
    int n_dims;
    uint64_t shape[2];
    const float *data;
};

static void write_f32_gguf(const char *path, const struct ftensor *t, size_t n)
{
    struct qf_writer *w;
    struct qf_error err;
    struct qf_writer_opts wo = {0};
    wo.no_fsync = 1;
    ck_assert_int_eq(qf_writer_new("gguf", path, &wo, &w, &err), QF_OK);
    struct qf_value v = {0};
    v.type = QF_V_STRING;
    v.v.s.ptr = "llama";
    v.v.s.len = 5;
    ck_assert_int_eq(qf_writer_add_kv(w, "general.architecture", &v, &err), QF_OK);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(qf_writer_add_tensor(w, t[i].name, QF_TYPE_F32, t[i].n_dims, t[i].shape,
                                              &err),
                         QF_OK);
    ck_assert_int_eq(qf_writer_begin_data(w, &err), QF_OK);
    for (size_t k = 0; k < n; k++) {
        const struct ftensor *x = &t[qf_writer_tensor_order(w, k)];
        uint64_t ne = 1;
        for (int d = 0; d < x->n_dims; d++)
            ne *= x->shape[d];
        ck_assert_int_eq(qf_writer_write(w, x->data, ne * 4, &err), QF_OK);
    }
    ck_assert_int_eq(qf_writer_commit(w, &err), QF_OK);
    qf_writer_free(w);
}

/* ---------------------------------------------------------------------------------------
 * The plan
 */

/* The plan of tiny256 Q4_K_M has exactly the layout llama-quantize wrote: same tensors, types,
 * offsets, header size and file size (the reference header is in llq-headers/). */
START_TEST(test_plan_layout)
{
    struct qf_model *m = open_model("fixtures/tiny256-bf16.gguf", 0);
    struct qf_model *ref = open_model("fixtures/llq-headers/tiny256-Q4_K_M.llq.gguf", QF_OPEN_PARTIAL);
    struct qf_convert_plan *p = plan_ftype(m, QF_FTYPE_Q4_K_M);
    ck_assert_uint_eq(qf_convert_plan_n_items(p), 21);
    ck_assert_uint_eq(qf_convert_plan_n_items(p), qf_model_n_tensors(ref));
    ck_assert_uint_eq(qf_convert_plan_file_size(p), 1143040);
    ck_assert_uint_eq(qf_convert_plan_header_size(p), 12800);
    ck_assert_uint_eq(qf_convert_plan_data_bytes(p), 1130240);
    ck_assert_uint_eq(qf_convert_plan_nelem(p), 1836288);
    ck_assert_int_eq(qf_convert_plan_ftype(p), QF_FTYPE_Q4_K_M);
    ck_assert_uint_eq(qf_convert_plan_flags(p), 0);
    uint64_t expect_off = 12800;
    int n_q6 = 0, n_q4 = 0, n_copy = 0;
    for (size_t i = 0; i < qf_convert_plan_n_items(p); i++) {
        const struct qf_convert_item *it = qf_convert_plan_item(p, i);
        const struct qf_tensor *rt = qf_model_tensor(ref, i);
        ck_assert_str_eq(it->name, rt->name);
        ck_assert_int_eq(it->type, rt->type);
        ck_assert_uint_eq(it->offset, rt->offset);
        ck_assert_uint_eq(it->nbytes, rt->nbytes);
        ck_assert_uint_eq(it->offset, expect_off);
        ck_assert_uint_eq(it->offset % 32, 0);
        expect_off += (it->nbytes + 31) / 32 * 32;
        if (it->type == QF_TYPE_Q6_K)
            n_q6++;
        if (it->type == QF_TYPE_Q4_K)
            n_q4++;
        if (it->path == QF_CONVERT_COPY) {
            n_copy++;
            ck_assert_int_eq(it->type, QF_TYPE_F32);
            ck_assert(!it->lossy);
        } else {
            ck_assert_int_eq(it->src_type, QF_TYPE_BF16);
            ck_assert(it->lossy);
        }
    }
    ck_assert_uint_eq(expect_off, 1143040);
    ck_assert_int_eq(n_q6, 3); /* output.weight, blk.1.attn_v, blk.1.ffn_down */
    ck_assert_int_eq(n_q4, 13);
    ck_assert_int_eq(n_copy, 5);
    ck_assert(qf_convert_plan_item(p, 0)->how & QF_QUANT_MIXED);
    ck_assert_str_eq(qf_convert_plan_item(p, 0)->name, "output.weight");
    /* metadata: the input's 25 keys, quantization_version and file_type moved last */
    size_t nkv = qf_convert_plan_n_kv(p);
    ck_assert_uint_eq(nkv, qf_model_n_kv(ref));
    const struct qf_value *v;
    ck_assert_str_eq(qf_convert_plan_kv(p, nkv - 2, &v), "general.quantization_version");
    ck_assert_int_eq(v->type, QF_V_U32);
    ck_assert_uint_eq(v->v.u, 2);
    ck_assert_str_eq(qf_convert_plan_kv(p, nkv - 1, &v), "general.file_type");
    ck_assert_uint_eq(v->v.u, 15);
    for (size_t i = 0; i < nkv; i++) {
        const char *k = qf_convert_plan_kv(p, i, NULL);
        const struct qf_kv *rk = qf_model_kv(ref, i);
        ck_assert_uint_eq(strlen(k), rk->key.len);
        ck_assert(memcmp(k, rk->key.ptr, rk->key.len) == 0);
    }
    ck_assert_ptr_null(qf_convert_plan_item(p, 21));
    qf_convert_plan_free(p);
    qf_model_close(ref);
    qf_model_close(m);
}
END_TEST

/* Planning errors: llama-quantize's refusals and impossible targets. */
START_TEST(test_plan_errors)
{
    struct qf_model *m = open_model("fixtures/stories260K-hf-f32.gguf", 0);
    struct qf_convert_opts o;
    struct qf_convert_plan *p = NULL;
    struct qf_error err;
    qf_convert_opts_init(&o);
    o.ftype = QF_FTYPE_Q8_0; /* 172-element rows: no fallback */
    ck_assert_int_eq(qf_convert_plan_new(m, &o, &p, &err), QF_EUNSUPPORTED);
    ck_assert_ptr_null(p);
    ck_assert_ptr_nonnull(strstr(err.msg, "blk.0.ffn_down.weight"));
    o.ftype = QF_FTYPE_Q4_K_M;
    o.format = "safetensors";
    ck_assert_int_eq(qf_convert_plan_new(m, &o, &p, &err), QF_EUNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err.msg, "safetensors cannot hold"));
    o.format = "zip";
    ck_assert_int_eq(qf_convert_plan_new(m, &o, &p, &err), QF_EINVAL);
    o.format = NULL;
    o.ftype = 4; /* removed */
    ck_assert_int_eq(qf_convert_plan_new(m, &o, &p, &err), QF_EINVAL);
    o.ftype = QF_FTYPE_Q4_K_M;
    struct qf_convert_rule bad = {"attn_(q", QF_TYPE_Q8_0};
    o.rules = &bad;
    o.n_rules = 1;
    ck_assert_int_eq(qf_convert_plan_new(m, &o, &p, &err), QF_EINVAL);
    o.rules = NULL;
    o.n_rules = 0;
    qf_model_close(m);

    /* requantizing needs the flag; dequantizing does not */
    m = open_model("fixtures/stories260K-q8_0.gguf", 0);
    o.ftype = QF_FTYPE_Q5_K_M; /* rows of 64 and 172: Q5_1 and F16 fallbacks */
    ck_assert_int_eq(qf_convert_plan_new(m, &o, &p, &err), QF_EUNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err.msg, "requantizing from q8_0"));
    o.flags = QF_CONVERT_ALLOW_REQUANTIZE;
    ck_assert_int_eq(qf_convert_plan_new(m, &o, &p, &err), QF_OK);
    qf_convert_plan_free(p);
    o.flags = 0;
    o.ftype = QF_FTYPE_F16;
    ck_assert_int_eq(qf_convert_plan_new(m, &o, &p, &err), QF_OK);
    qf_convert_plan_free(p);
    qf_model_close(m);
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * The executor
 */

/* 1 thread and N threads, any chunk size: the same bytes (and the same measured errors). */
START_TEST(test_run_threads)
{
    tmp_setup();
    struct qf_model *m = open_model("fixtures/stories260K-hf-f32.gguf", 0);
    struct qf_convert_plan *p = plan_ftype(m, QF_FTYPE_Q3_K_M);
    char a[128], b[128];
    run_plan(p, tmp_path(a, sizeof a, "a.gguf"), 1, 0);
    double snr[64];
    size_t n = qf_convert_plan_n_items(p);
    ck_assert_uint_le(n, 64);
    for (size_t i = 0; i < n; i++)
        snr[i] = qf_convert_plan_item(p, i)->stats.snr_db;
    size_t la, lb;
    uint8_t *da = slurp(a, &la);
    ck_assert_uint_eq(la, qf_convert_plan_file_size(p));
    static const struct {
        int threads;
        uint64_t chunk;
    } runs[] = {{2, 1}, {3, 100}, {4, 64 * 5}, {8, 1u << 20}, {1, 7}};
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
        run_plan(p, tmp_path(b, sizeof b, "b.gguf"), runs[r].threads, runs[r].chunk);
        uint8_t *db = slurp(b, &lb);
        ck_assert_uint_eq(la, lb);
        ck_assert_msg(memcmp(da, db, la) == 0, "threads %d chunk %llu differ", runs[r].threads,
                      (unsigned long long)runs[r].chunk);
        free(db);
        for (size_t i = 0; i < n; i++) {
            const struct qf_convert_item *it = qf_convert_plan_item(p, i);
            ck_assert_int_eq(it->measured, it->lossy);
            if (it->measured)
                ck_assert(it->stats.snr_db == snr[i]); /* bit-equal sums */
        }
        unlink(b);
    }
    /* the reference file of llama-quantize */
    uint8_t *dr = slurp("fixtures/llq-headers/stories260K-Q3_K_M.llq.gguf", &lb);
    ck_assert(memcmp(da, dr, lb) == 0);
    free(dr);
    free(da);
    qf_convert_plan_free(p);
    qf_model_close(m);
    tmp_teardown();
}
END_TEST

/* Known errors: 1 + 2^-12 rounds to 1 in F16 (error 2^-12 for each value); values on the F16
 * grid and integers in [-127, 127] in Q8_0 (scale 1) come out exact. */
START_TEST(test_error_metrics)
{
    tmp_setup();
    static float a[2 * 64], b[2 * 64], c[4 * 32];
    for (int i = 0; i < 128; i++) {
        a[i] = 1.0f + 0x1p-12f;
        b[i] = (i % 2 ? -0.5f : 2.0f) * (float)(1 + i % 4);
    }
    for (int i = 0; i < 128; i++)
        c[i] = (float)((i * 37) % 255 - 127); /* every row holds 127 or -127 */
    for (int r = 0; r < 4; r++)
        c[r * 32] = 127.0f;
    const struct ftensor ts[] = {
        {"blk.0.ffn_up.weight", 2, {2, 64}, a},
        {"blk.0.ffn_gate.weight", 2, {2, 64}, b},
        {"blk.0.ffn_down.weight", 2, {4, 32}, c},
    };
    char in[128], out[128];
    write_f32_gguf(tmp_path(in, sizeof in, "in.gguf"), ts, 3);
    struct qf_model *m = open_model(in, 0);
    struct qf_convert_plan *p = plan_ftype(m, QF_FTYPE_F16);
    run_plan(p, tmp_path(out, sizeof out, "f16.gguf"), 2, 64);
    int seen = 0;
    for (size_t i = 0; i < qf_convert_plan_n_items(p); i++) {
        const struct qf_convert_item *it = qf_convert_plan_item(p, i);
        ck_assert(it->measured);
        ck_assert_int_eq(it->type, QF_TYPE_F16);
        if (strcmp(it->name, "blk.0.ffn_up.weight") == 0) {
            ck_assert_uint_eq(it->stats.n, 128);
            ck_assert_double_eq_tol(it->stats.rmse, 0x1p-12, 1e-15);
            ck_assert_double_eq_tol(it->stats.max_abs, 0x1p-12, 1e-15);
            ck_assert_double_eq_tol(it->stats.snr_db, 20.0 * log10(4097.0), 1e-9);
            seen++;
        } else {
            ck_assert_double_eq(it->stats.sse, 0.0);
            ck_assert(isinf(it->stats.snr_db) && it->stats.snr_db > 0);
            ck_assert_double_eq(it->stats.max_abs, 0.0);
            seen++;
        }
    }
    ck_assert_int_eq(seen, 3);
    struct qf_convert_stats all;
    size_t worst;
    qf_convert_plan_totals(p, &all, &worst);
    ck_assert_str_eq(qf_convert_plan_item(p, worst)->name, "blk.0.ffn_up.weight");
    ck_assert_uint_eq(all.n, 384);
    ck_assert_double_eq_tol(all.sse, 128.0 * 0x1p-24, 1e-20);
    qf_convert_plan_free(p);

    /* Q8_0: integers with a row maximum of 127 are exact */
    struct qf_convert_opts o;
    qf_convert_opts_init(&o);
    o.type = QF_TYPE_Q8_0;
    struct qf_error err;
    ck_assert_int_eq(qf_convert_plan_new(m, &o, &p, &err), QF_OK);
    run_plan(p, tmp_path(out, sizeof out, "q8.gguf"), 1, 0);
    for (size_t i = 0; i < qf_convert_plan_n_items(p); i++) {
        const struct qf_convert_item *it = qf_convert_plan_item(p, i);
        ck_assert_int_eq(it->type, QF_TYPE_Q8_0);
        if (strcmp(it->name, "blk.0.ffn_down.weight") == 0) {
            ck_assert_double_eq(it->stats.sse, 0.0);
            ck_assert_double_eq(it->stats.rmse, 0.0);
        } else {
            ck_assert(it->stats.sse > 0.0);
        }
    }
    ck_assert_int_eq(qf_convert_plan_ftype(p), QF_FTYPE_Q8_0);
    qf_convert_plan_free(p);
    qf_model_close(m);
    tmp_teardown();
}
END_TEST

static int cancel_after_first(void *ctx, uint64_t done, uint64_t total)
{
    (void)total;
    int *calls = ctx;
    (*calls)++;
    return done > 0;
}

/* A failed or cancelled run leaves nothing: no output, no temporary file; an existing
 * output stays as it was. */
START_TEST(test_failure_leaves_nothing)
{
    tmp_setup();
    static float a[4 * 64];
    for (int i = 0; i < 4 * 64; i++)
        a[i] = (float)i / 64.0f;
    a[3 * 64 + 5] = NAN;
    const struct ftensor bad[] = {{"blk.0.ffn_up.weight", 2, {4, 64}, a}};
    char in[128], out[128];
    write_f32_gguf(tmp_path(in, sizeof in, "in.gguf"), bad, 1);
    ck_assert_int_eq(tmp_count(), 1);
    struct qf_model *m = open_model(in, 0);
    struct qf_convert_plan *p = plan_ftype(m, QF_FTYPE_F16);
    struct qf_convert_run_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.no_fsync = 1;
    ro.chunk_elems = 64; /* the NaN is in the last chunk: earlier ones were written */
    struct qf_error err;
    for (int threads = 1; threads <= 3; threads += 2) {
        ro.threads = threads;
        ck_assert_int_eq(qf_convert_run(p, tmp_path(out, sizeof out, "out.gguf"), &ro, &err),
                         QF_EFORMAT);
        ck_assert_ptr_nonnull(strstr(err.msg, "row 3"));
        ck_assert_ptr_nonnull(strstr(err.msg, "NaN or Inf"));
        ck_assert_int_eq(tmp_count(), 1);
    }
    qf_convert_plan_free(p);
    qf_model_close(m);

    /* cancelled through the progress callback; an existing output is kept */
    m = open_model("fixtures/tiny256-bf16.gguf", 0);
    p = plan_ftype(m, QF_FTYPE_Q4_K_M);
    FILE *f = fopen(out, "w");
    fputs("old", f);
    fclose(f);
    int calls = 0;
    ro.threads = 2;
    ro.chunk_elems = 4096;
    ro.progress = cancel_after_first;
    ro.ctx = &calls;
    ck_assert_int_eq(qf_convert_run(p, out, &ro, &err), QF_EIO);
    ck_assert_int_eq(err.sys_errno, 4 /* EINTR */);
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(tmp_count(), 2);
    size_t len;
    uint8_t *old = slurp(out, &len);
    ck_assert_uint_eq(len, 3);
    ck_assert(memcmp(old, "old", 3) == 0);
    free(old);
    /* a folder that does not exist */
    ck_assert_int_eq(qf_convert_run(p, "/nonexistent-dir/x.gguf", &ro, &err), QF_EIO);
    qf_convert_plan_free(p);
    qf_model_close(m);
    tmp_teardown();
}
END_TEST

/* Dequantizing gives exactly the kernels' values: stories260K Q8_0 (with F16 and F32
 * tensors) to F32, every value compared with qf_dequantize of the input. */
START_TEST(test_dequantize_exact)
{
    tmp_setup();
    struct qf_model *m = open_model("fixtures/stories260K-q8_0.gguf", 0);
    struct qf_convert_plan *p = plan_ftype(m, QF_FTYPE_ALL_F32);
    char out[128];
    run_plan(p, tmp_path(out, sizeof out, "f32.gguf"), 2, 1000);
    struct qf_model *o = open_model(out, 0);
    ck_assert_uint_eq(qf_model_n_tensors(o), 47);
    int nq = 0;
    for (size_t i = 0; i < qf_model_n_tensors(m); i++) {
        const struct qf_tensor *ti = qf_model_tensor(m, i);
        const struct qf_tensor *to = qf_model_find_tensor(o, ti->name);
        ck_assert_ptr_nonnull(to);
        ck_assert_int_eq(to->type, QF_TYPE_F32);
        ck_assert_uint_eq(to->nelem, ti->nelem);
        uint8_t *raw = tensor_bytes(m, ti);
        float *want = malloc(ti->nelem * 4);
        ck_assert_int_eq(qf_dequantize(ti->type, raw, want, ti->nelem), QF_OK);
        uint8_t *got = tensor_bytes(o, to);
        ck_assert_msg(memcmp(got, want, ti->nelem * 4) == 0, "%s differs", ti->name);
        nq += ti->type == QF_TYPE_Q8_0;
        free(raw);
        free(want);
        free(got);
    }
    ck_assert_int_eq(nq, 31);
    for (size_t i = 0; i < qf_convert_plan_n_items(p); i++)
        ck_assert(!qf_convert_plan_item(p, i)->lossy);
    qf_model_close(o);
    qf_convert_plan_free(p);
    qf_model_close(m);
    tmp_teardown();
}
END_TEST

/* A Hugging Face checkpoint to F32: every tensor bit for bit what convert_hf_to_gguf.py
 * wrote (stories260K-hf-f32.gguf), Q/K rows permuted; no tokenizer.model: no vocabulary. */
START_TEST(test_hf_to_gguf)
{
    tmp_setup();
    struct qf_model *m = open_model("fixtures/stories260K-hf", 0);
    struct qf_model *ref = open_model("fixtures/stories260K-hf-f32.gguf", 0);
    struct qf_convert_plan *p = plan_ftype(m, QF_FTYPE_ALL_F32);
    ck_assert_uint_eq(qf_convert_plan_n_items(p), 47);
    ck_assert(qf_convert_plan_flags(p) & QF_CONVERT_PLAN_NO_VOCAB);
    ck_assert_ptr_nonnull(strstr(qf_convert_plan_note(p, 0), "no vocabulary"));
    int permuted = 0;
    for (size_t i = 0; i < qf_convert_plan_n_items(p); i++) {
        const struct qf_convert_item *it = qf_convert_plan_item(p, i);
        /* the converter's order: the checkpoint's */
        ck_assert_str_eq(it->name, qf_model_tensor(ref, i)->name);
        if (it->how & QF_CONVERT_PERMUTED) {
            permuted++;
            ck_assert(strstr(it->name, "attn_q") || strstr(it->name, "attn_k"));
        }
    }
    ck_assert_int_eq(permuted, 10);
    char out[128];
    run_plan(p, tmp_path(out, sizeof out, "hf.gguf"), 3, 100);
    struct qf_model *o = open_model(out, 0);
    for (size_t i = 0; i < qf_model_n_tensors(ref); i++) {
        const struct qf_tensor *rt = qf_model_tensor(ref, i);
        const struct qf_tensor *ot = qf_model_tensor(o, i);
        ck_assert_str_eq(ot->name, rt->name);
        ck_assert_uint_eq(ot->nbytes, rt->nbytes);
        uint8_t *x = tensor_bytes(ref, rt), *y = tensor_bytes(o, ot);
        ck_assert_msg(memcmp(x, y, rt->nbytes) == 0, "%s differs", rt->name);
        free(x);
        free(y);
    }
    /* metadata from config.json */
    const struct qf_kv *kv = qf_model_find_kv(o, "llama.attention.head_count_kv");
    ck_assert_ptr_nonnull(kv);
    ck_assert_uint_eq(kv->val.v.u, 4);
    kv = qf_model_find_kv(o, "llama.rope.dimension_count");
    ck_assert_ptr_nonnull(kv);
    ck_assert_uint_eq(kv->val.v.u, 8);
    ck_assert_ptr_null(qf_model_find_kv(o, "tokenizer.ggml.tokens"));
    qf_model_close(o);
    qf_convert_plan_free(p);

    /* and back: safetensors with Hugging Face names is the original checkpoint */
    struct qf_convert_opts opt;
    qf_convert_opts_init(&opt);
    opt.ftype = QF_FTYPE_ALL_F32;
    opt.format = "safetensors";
    opt.flags = QF_CONVERT_HF_NAMES;
    struct qf_error err;
    ck_assert_int_eq(qf_convert_plan_new(ref, &opt, &p, &err), QF_OK);
    run_plan(p, tmp_path(out, sizeof out, "back.safetensors"), 2, 0);
    size_t la, lb;
    uint8_t *a = slurp(out, &la), *b = slurp("fixtures/stories260K-hf/model.safetensors", &lb);
    ck_assert_uint_eq(la, lb);
    ck_assert(memcmp(a, b, la) == 0);
    free(a);
    free(b);
    qf_convert_plan_free(p);
    qf_model_close(ref);
    qf_model_close(m);
    tmp_teardown();
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * Importance matrices (fixtures/qconvert/mkimatrix.py: value i of entry k is
 * (1 + ((37 i + 11 k) mod 101) / 25) / 8)
 */
static float imat_value(int k, int i)
{
    float s = (float)(1.0 + (double)((i * 37 + k * 11) % 101) / 25.0);
    return s / 8.0f;
}

START_TEST(test_imatrix_load)
{
    static const char *const files[] = {"fixtures/qconvert/tiny256.imatrix.gguf",
                                        "fixtures/qconvert/tiny256.imatrix.dat"};
    for (int f = 0; f < 2; f++) {
        struct qf_imatrix *im;
        struct qf_error err;
        ck_assert_int_eq(qf_imatrix_load(files[f], &im, &err), QF_OK);
        ck_assert_uint_eq(qf_imatrix_n_entries(im), 15);
        ck_assert_str_eq(qf_imatrix_dataset(im), "tiny-calibration.txt");
        ck_assert_uint_eq(qf_imatrix_chunks(im), 8);
        uint64_t ne0, nm;
        const float *v = qf_imatrix_find(im, "blk.0.ffn_down.weight", &ne0, &nm);
        ck_assert_ptr_nonnull(v);
        ck_assert_uint_eq(ne0, 768);
        ck_assert_uint_eq(nm, 1);
        for (int i = 0; i < 768; i += 17)
            ck_assert_float_eq(v[i], imat_value(7, i));
        v = qf_imatrix_find(im, "output.weight", &ne0, &nm);
        ck_assert_ptr_nonnull(v);
        ck_assert_float_eq(v[100], imat_value(0, 100));
        ck_assert_ptr_null(qf_imatrix_find(im, "token_embd.weight", NULL, NULL));
        qf_imatrix_free(im);
    }
    /* not an importance matrix, a truncated one */
    struct qf_imatrix *im;
    struct qf_error err;
    ck_assert_int_eq(qf_imatrix_load("fixtures/tiny256-bf16.gguf", &im, &err), QF_EFORMAT);
    ck_assert_int_eq(qf_imatrix_load("fixtures/qconvert/README", &im, &err), QF_EFORMAT);
    tmp_setup();
    char p[128];
    size_t len;
    uint8_t *d = slurp("fixtures/qconvert/tiny256.imatrix.dat", &len);
    FILE *f = fopen(tmp_path(p, sizeof p, "cut.dat"), "wb");
    fwrite(d, 1, 3000, f);
    fclose(f);
    ck_assert_int_eq(qf_imatrix_load(p, &im, &err), QF_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "ends early"));
    /* a NaN in the sums: the first value of the first entry (after i32 n, i32 len, name,
     * i32 ncall, i32 nval) */
    size_t at = 4 + 4 + strlen("output.weight") + 8;
    memcpy(d + at, "\x00\x00\xc0\x7f", 4);
    f = fopen(p, "wb");
    fwrite(d, 1, len, f);
    fclose(f);
    ck_assert_int_eq(qf_imatrix_load(p, &im, &err), QF_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "not finite"));
    free(d);
    tmp_teardown();
}
END_TEST

/* With an importance matrix, each row is quantized with that tensor's vector: IQ4_XS output
 * equals qf_quantize(..., imatrix) on the decoded BF16 rows; IQ2_XXS needs one. */
START_TEST(test_imatrix_quantize)
{
    tmp_setup();
    struct qf_model *m = open_model("fixtures/tiny256-bf16.gguf", 0);
    struct qf_imatrix *im;
    struct qf_error err;
    ck_assert_int_eq(qf_imatrix_load("fixtures/qconvert/tiny256.imatrix.gguf", &im, &err), QF_OK);
    struct qf_convert_opts o;
    qf_convert_opts_init(&o);
    o.ftype = QF_FTYPE_IQ4_XS;
    o.imatrix = im;
    o.imatrix_name = "tiny256.imatrix.gguf";
    struct qf_convert_plan *p = NULL;
    ck_assert_int_eq(qf_convert_plan_new(m, &o, &p, &err), QF_OK);
    char out[128];
    run_plan(p, tmp_path(out, sizeof out, "iq4.gguf"), 2, 5000);
    struct qf_model *q = open_model(out, 0);
    const struct qf_kv *kv = qf_model_find_kv(q, "quantize.imatrix.entries_count");
    ck_assert_ptr_nonnull(kv);
    ck_assert_uint_eq(kv->val.v.u, 15);
    kv = qf_model_find_kv(q, "quantize.imatrix.file");
    ck_assert_ptr_nonnull(kv);
    ck_assert_uint_eq(kv->val.v.s.len, strlen("tiny256.imatrix.gguf"));

    const struct qf_tensor *src = qf_model_find_tensor(m, "blk.0.attn_q.weight");
    const struct qf_tensor *dst = qf_model_find_tensor(q, "blk.0.attn_q.weight");
    ck_assert_int_eq(dst->type, QF_TYPE_IQ4_XS);
    uint8_t *raw = tensor_bytes(m, src);
    float *x = malloc(src->nelem * 4);
    ck_assert_int_eq(qf_dequantize(QF_TYPE_BF16, raw, x, src->nelem), QF_OK);
    const float *iv = qf_imatrix_find(im, "blk.0.attn_q.weight", NULL, NULL);
    uint8_t *want = malloc(dst->nbytes), *plain = malloc(dst->nbytes);
    ck_assert_int_eq(qf_quantize(QF_TYPE_IQ4_XS, x, want, 256, 256, iv), (int64_t)dst->nbytes);
    ck_assert_int_eq(qf_quantize(QF_TYPE_IQ4_XS, x, plain, 256, 256, NULL), (int64_t)dst->nbytes);
    uint8_t *got = tensor_bytes(q, dst);
    ck_assert(memcmp(got, want, dst->nbytes) == 0);
    ck_assert(memcmp(got, plain, dst->nbytes) != 0); /* the importance made a difference */
    free(raw);
    free(x);
    free(want);
    free(plain);
    free(got);
    qf_model_close(q);
    qf_convert_plan_free(p);

    /* IQ2_XXS without an importance matrix: planned, flagged, refused at run time */
    o.ftype = QF_FTYPE_IQ2_XXS;
    o.imatrix = NULL;
    ck_assert_int_eq(qf_convert_plan_new(m, &o, &p, &err), QF_OK);
    ck_assert(qf_convert_plan_flags(p) & QF_CONVERT_PLAN_NEEDS_IMATRIX);
    struct qf_convert_run_opts ro;
    memset(&ro, 0, sizeof ro);
    ck_assert_int_eq(qf_convert_run(p, tmp_path(out, sizeof out, "iq2.gguf"), &ro, &err),
                     QF_EINVAL);
    ck_assert_int_eq(tmp_count(), 1);
    qf_convert_plan_free(p);
    o.imatrix = im;
    ck_assert_int_eq(qf_convert_plan_new(m, &o, &p, &err), QF_OK);
    ck_assert(!(qf_convert_plan_flags(p) & QF_CONVERT_PLAN_NEEDS_IMATRIX));
    qf_convert_plan_free(p);
    qf_imatrix_free(im);
    qf_model_close(m);
    tmp_teardown();
}
END_TEST

Suite *suite_convert(void)
{
    Suite *s = suite_create("convert");
    TCase *tc = tcase_create("convert");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_plan_layout);
    tcase_add_test(tc, test_plan_errors);
    tcase_add_test(tc, test_run_threads);
    tcase_add_test(tc, test_error_metrics);
    tcase_add_test(tc, test_failure_leaves_nothing);
    tcase_add_test(tc, test_dequantize_exact);
    tcase_add_test(tc, test_hf_to_gguf);
    tcase_add_test(tc, test_imatrix_load);
    tcase_add_test(tc, test_imatrix_quantize);
    suite_add_tcase(s, tc);
    return s;
}
