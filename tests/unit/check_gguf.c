/* Unit tests of the GGUF container (formats/gguf.c): reference-written fixtures, split sets,
 * versions 1-3, big-endian files, every validation rule, truncation, pipes, the writer and
 * byte-identical round trips. Values asserted below come from tests/fixtures (written by
 * llama.cpp's tools and gguf-py; see tests/fixtures/README). */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qf_int.h"

#define FIX "fixtures/"

/* ---------------------------------------------------------------------------------------
 * A scratch directory per test (tests run forked)
 */
static char tmpdir[256];

static void tmp_setup(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/qf-gguf-XXXXXX", t && *t && strlen(t) < 200 ? t : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
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

static const char *tmp_path(const char *name)
{
    static char p[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(p[k], sizeof p[k], "%s/%s", tmpdir, name);
    return p[k];
}

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc(sz > 0 ? (size_t)sz : 1);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(fread(p, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    *n = (size_t)sz;
    return p;
}

static void spill(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(p, 1, n, f), n);
    fclose(f);
}

/* ---------------------------------------------------------------------------------------
 * A small GGUF builder: numbers in the chosen byte order, lengths u64 (v2/v3) or u32 (v1)
 */
struct gb {
    uint8_t *p;
    size_t n, cap;
    int be;
    int v1;
};

static void gb_raw(struct gb *b, const void *s, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        ck_assert_ptr_nonnull(b->p);
    }
    if (n)
        memcpy(b->p + b->n, s, n);
    b->n += n;
}

static void gb_num(struct gb *b, uint64_t v, int w)
{
    uint8_t t[8];
    for (int i = 0; i < w; i++)
        t[b->be ? w - 1 - i : i] = (uint8_t)(v >> (8 * i));
    gb_raw(b, t, (size_t)w);
}

static void gb_u8(struct gb *b, uint8_t v) { gb_num(b, v, 1); }
static void gb_u16(struct gb *b, uint16_t v) { gb_num(b, v, 2); }
static void gb_u32(struct gb *b, uint32_t v) { gb_num(b, v, 4); }
static void gb_u64(struct gb *b, uint64_t v) { gb_num(b, v, 8); }
static void gb_len(struct gb *b, uint64_t v) { gb_num(b, v, b->v1 ? 4 : 8); }

static void gb_strn(struct gb *b, const void *s, size_t n)
{
    gb_len(b, n);
    gb_raw(b, s, n);
}

static void gb_str(struct gb *b, const char *s) { gb_strn(b, s, strlen(s)); }

static void gb_f32(struct gb *b, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    gb_u32(b, u);
}

static void gb_hdr(struct gb *b, uint32_t version, uint64_t nt, uint64_t nkv)
{
    gb_raw(b, "GGUF", 4);
    gb_u32(b, version);
    gb_len(b, nt);
    gb_len(b, nkv);
}

static void gb_kv_u32(struct gb *b, const char *k, uint32_t v)
{
    gb_str(b, k);
    gb_u32(b, QF_V_U32);
    gb_u32(b, v);
}

static void gb_kv_str(struct gb *b, const char *k, const char *v)
{
    gb_str(b, k);
    gb_u32(b, QF_V_STRING);
    gb_str(b, v);
}

static void gb_ti(struct gb *b, const char *name, uint32_t nd, const uint64_t *ne, uint32_t type,
                  uint64_t off)
{
    gb_str(b, name);
    gb_u32(b, nd);
    for (uint32_t k = 0; k < nd; k++)
        gb_len(b, ne[k]);
    gb_u32(b, type);
    gb_u64(b, off);
}

static void gb_zeros(struct gb *b, size_t n)
{
    static const uint8_t z[4096];
    while (n) {
        size_t k = n < sizeof z ? n : sizeof z;
        gb_raw(b, z, k);
        n -= k;
    }
}

static void gb_pad(struct gb *b, size_t align)
{
    while (b->n % align)
        gb_u8(b, 0);
}

static void gb_data(struct gb *b, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        gb_u8(b, (uint8_t)(seed + i * 7));
}

static void gb_free(struct gb *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* The small valid file used by many tests: 3 KVs, tensor "a" F32 ne [3,2] (24 bytes) at 0 and
 * tensor "b" Q8_0 ne [32] (34 bytes) at 32; alignment 32; data to the padded end. */
static void mk_small(struct gb *b, uint32_t version, int be)
{
    memset(b, 0, sizeof *b);
    b->be = be;
    b->v1 = version == 1;
    gb_hdr(b, version, 2, 3);
    gb_kv_str(b, "general.architecture", "test");
    gb_kv_u32(b, "test.answer", 42);
    gb_str(b, "test.words");
    gb_u32(b, QF_V_ARRAY);
    gb_u32(b, QF_V_STRING);
    gb_len(b, 3);
    gb_str(b, "alpha");
    gb_str(b, "");
    gb_str(b, "\xc3\xa9t\xc3\xa9");
    const uint64_t ne_a[2] = {3, 2}, ne_b[1] = {32};
    gb_ti(b, "a", 2, ne_a, QF_TYPE_F32, 0);
    gb_ti(b, "b", 1, ne_b, QF_TYPE_Q8_0, 32);
    gb_pad(b, 32);
    gb_data(b, 24, 1);
    gb_pad(b, 32);
    gb_data(b, 34, 100);
    gb_pad(b, 32);
}

static int open_gb(const struct gb *b, const char *name, unsigned flags, struct qf_model **m,
                   struct qf_error *e)
{
    const char *p = tmp_path(name);
    spill(p, b->p, b->n);
    return qf_model_open(p, "gguf", flags, m, e);
}

static struct qf_model *open_ok(const char *path, unsigned flags)
{
    struct qf_model *m = NULL;
    struct qf_error e;
    int rc = qf_model_open(path, NULL, flags, &m, &e);
    ck_assert_msg(rc == QF_OK, "open %s: %d %s", path, rc, e.msg);
    ck_assert_ptr_nonnull(m);
    return m;
}

static struct qf_model *open_gb_ok(const struct gb *b, unsigned flags)
{
    struct qf_model *m = NULL;
    struct qf_error e;
    int rc = open_gb(b, "t.gguf", flags, &m, &e);
    ck_assert_msg(rc == QF_OK, "open: %d %s", rc, e.msg);
    return m;
}

/* The builder's file must be rejected with code and a message naming the file and needle. */
static void expect_fail_line(const struct gb *b, unsigned flags, int code, const char *needle,
                             int line)
{
    struct qf_model *m = NULL;
    struct qf_error e;
    int rc = open_gb(b, "t.gguf", flags, &m, &e);
    ck_assert_msg(rc == code, "line %d: rc %d (%s), expected %d", line, rc, e.msg, code);
    ck_assert_ptr_null(m);
    ck_assert_int_eq(e.code, code);
    ck_assert_msg(strstr(e.msg, needle) != NULL, "line %d: message '%s' lacks '%s'", line, e.msg,
                  needle);
    ck_assert_msg(strstr(e.msg, "t.gguf: ") != NULL, "line %d: message '%s' names no file", line,
                  e.msg);
    ck_assert_msg(strchr(e.msg, '\n') == NULL, "line %d: message is not one line", line);
}
#define EXPECT_FAIL(b, code, needle) expect_fail_line((b), 0, (code), (needle), __LINE__)

static const struct qf_kv *kv_get(const struct qf_model *m, const char *key)
{
    const struct qf_kv *kv = qf_model_find_kv(m, key);
    ck_assert_msg(kv != NULL, "missing key %s", key);
    return kv;
}

static uint64_t kv_u(const struct qf_model *m, const char *key, int type)
{
    const struct qf_kv *kv = kv_get(m, key);
    ck_assert_msg(kv->val.type == type, "%s has type %s", key, qf_vtype_name(kv->val.type));
    return kv->val.v.u;
}

static void kv_str_eq(const struct qf_model *m, const char *key, const char *want)
{
    const struct qf_kv *kv = kv_get(m, key);
    ck_assert_int_eq(kv->val.type, QF_V_STRING);
    ck_assert_uint_eq(kv->val.v.s.len, strlen(want));
    ck_assert(memcmp(kv->val.v.s.ptr, want, strlen(want)) == 0);
}

static void arr_str_eq(const struct qf_array *a, uint64_t i, const char *want)
{
    struct qf_value v;
    ck_assert_int_eq(qf_array_get(a, i, &v), QF_OK);
    ck_assert_int_eq(v.type, QF_V_STRING);
    ck_assert_msg(v.v.s.len == strlen(want) && memcmp(v.v.s.ptr, want, v.v.s.len) == 0,
                  "element %llu is '%.*s', expected '%s'", (unsigned long long)i, (int)v.v.s.len,
                  v.v.s.ptr, want);
}

static double arr_f(const struct qf_array *a, uint64_t i)
{
    struct qf_value v;
    ck_assert_int_eq(qf_array_get(a, i, &v), QF_OK);
    return v.v.f;
}

static int64_t arr_i(const struct qf_array *a, uint64_t i)
{
    struct qf_value v;
    int64_t r;
    ck_assert_int_eq(qf_array_get(a, i, &v), QF_OK);
    ck_assert_int_eq(qf_value_as_i64(&v, &r), QF_OK);
    return r;
}

static int has_warning(const struct qf_model *m, const char *needle)
{
    for (size_t i = 0; qf_model_warning(m, i); i++)
        if (strstr(qf_model_warning(m, i), needle))
            return 1;
    return 0;
}

static const struct qf_tensor *tensor(const struct qf_model *m, const char *name)
{
    const struct qf_tensor *t = qf_model_find_tensor(m, name);
    ck_assert_msg(t != NULL, "missing tensor %s", name);
    return t;
}

static void count_types(const struct qf_model *m, int *counts)
{
    memset(counts, 0, sizeof(int) * QF_GGML_TYPE_COUNT);
    for (size_t i = 0; i < qf_model_n_tensors(m); i++)
        counts[qf_model_tensor(m, i)->type]++;
}

/* Save m as GGUF into the scratch directory and return the path. */
static const char *save(struct qf_model *m, const char *name)
{
    const char *out = tmp_path(name);
    struct qf_writer_opts o = {0};
    o.no_fsync = 1;
    struct qf_error e;
    int rc = qf_model_save(m, "gguf", out, &o, &e);
    ck_assert_msg(rc == QF_OK, "save: %d %s", rc, e.msg);
    return out;
}

static void files_equal(const char *a, const char *b)
{
    size_t na, nb;
    uint8_t *pa = slurp(a, &na), *pb = slurp(b, &nb);
    ck_assert_msg(na == nb, "%s has %zu bytes, %s has %zu", a, na, b, nb);
    if (memcmp(pa, pb, na) != 0) {
        size_t i = 0;
        while (pa[i] == pb[i])
            i++;
        ck_abort_msg("%s and %s differ at byte %zu", a, b, i);
    }
    free(pa);
    free(pb);
}

/* ---------------------------------------------------------------------------------------
 * Probe
 */
START_TEST(test_probe)
{
    const uint8_t gguf[8] = {'G', 'G', 'U', 'F', 3, 0, 0, 0};
    const uint8_t other[8] = {8, 0, 0, 0, 0, 0, 0, 0};
    ck_assert_int_eq(qfi_format_gguf.probe(gguf, 8, 100, "x.bin", 0), 90);
    ck_assert_int_eq(qfi_format_gguf.probe(gguf, 4, 0, "-", 0), 90);
    ck_assert_int_eq(qfi_format_gguf.probe(other, 8, 100, "model.gguf", 0), 10);
    ck_assert_int_eq(qfi_format_gguf.probe(other, 8, 100, "model.safetensors", 0), 0);
    ck_assert_int_eq(qfi_format_gguf.probe(gguf, 3, 3, "x", 0), 0);
    ck_assert_int_eq(qfi_format_gguf.probe(NULL, 0, 0, "dir.gguf", 1), 0);
    ck_assert_str_eq(qfi_format_gguf.name, "gguf");
    ck_assert_ptr_eq(qfi_format_by_name("gguf"), &qfi_format_gguf);
    /* the auction picks GGUF for a fixture without being told */
    struct qf_model *m = open_ok(FIX "stories260K-q8_0.gguf", 0);
    ck_assert_str_eq(qf_model_format(m), "gguf");
    qf_model_close(m);
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * Reference-written fixtures
 */
START_TEST(test_stories_f32)
{
    /* llama-convert-llama2c-to-ggml output: 48 F32 tensors, 19 KV, v3 */
    struct qf_model *m = open_ok(FIX "stories260K-f32.gguf", 0);
    ck_assert_str_eq(qf_model_format(m), "gguf");
    ck_assert_uint_eq(qf_model_version(m), 3);
    ck_assert_int_eq(qf_model_big_endian(m), 0);
    ck_assert_uint_eq(qf_model_alignment(m), 32);
    ck_assert_uint_eq(qf_model_n_kv(m), 19);
    ck_assert_uint_eq(qf_model_n_tensors(m), 48);
    ck_assert_uint_eq(qf_model_n_files(m), 1);
    const struct qf_file_info *fi = qf_model_file(m, 0);
    ck_assert_str_eq(fi->role, "gguf");
    ck_assert_uint_eq(fi->size, 1185376);
    ck_assert_uint_eq(fi->header_size, 14176);
    ck_assert_int_eq(fi->seekable, 1);
    ck_assert_ptr_null(qf_model_warning(m, 0));

    /* metadata, in file order */
    const struct qf_kv *tok = qf_model_kv(m, 0);
    ck_assert_uint_eq(tok->key.len, strlen("tokenizer.ggml.tokens"));
    ck_assert(memcmp(tok->key.ptr, "tokenizer.ggml.tokens", tok->key.len) == 0);
    ck_assert_uint_eq(tok->offset, 24);
    ck_assert_int_eq(tok->file_index, 0);
    ck_assert_str_eq(tok->origin, "");
    ck_assert_int_eq(tok->val.type, QF_V_ARRAY);
    ck_assert_int_eq(tok->val.v.a.etype, QF_V_STRING);
    ck_assert_uint_eq(tok->val.v.a.count, 512);
    arr_str_eq(&tok->val.v.a, 0, "<unk>");
    arr_str_eq(&tok->val.v.a, 1, "<s>");
    arr_str_eq(&tok->val.v.a, 2, "</s>");
    arr_str_eq(&tok->val.v.a, 100, "<0x61>");
    arr_str_eq(&tok->val.v.a, 259, "\xe2\x96\x81t");
    arr_str_eq(&tok->val.v.a, 511, "\xe2\x80\x8a");
    const struct qf_kv *sc = kv_get(m, "tokenizer.ggml.scores");
    ck_assert_uint_eq(sc->offset, 6470);
    ck_assert_int_eq(sc->val.v.a.etype, QF_V_F32);
    ck_assert_uint_eq(sc->val.v.a.count, 512);
    ck_assert(arr_f(&sc->val.v.a, 300) == -41.0);
    ck_assert(arr_f(&sc->val.v.a, 510) == -251.0);
    ck_assert(arr_f(&sc->val.v.a, 511) == -252.0);
    const struct qf_kv *tt = kv_get(m, "tokenizer.ggml.token_type");
    ck_assert_int_eq(tt->val.v.a.etype, QF_V_I32);
    ck_assert_int_eq(arr_i(&tt->val.v.a, 0), 2);
    ck_assert_int_eq(arr_i(&tt->val.v.a, 1), 3);
    ck_assert_int_eq(arr_i(&tt->val.v.a, 3), 6);
    ck_assert_int_eq(arr_i(&tt->val.v.a, 300), 1);
    kv_str_eq(m, "general.architecture", "llama");
    kv_str_eq(m, "tokenizer.ggml.model", "llama");
    ck_assert_uint_eq(kv_u(m, "llama.context_length", QF_V_U32), 128);
    ck_assert_uint_eq(kv_u(m, "llama.embedding_length", QF_V_U32), 64);
    ck_assert_uint_eq(kv_u(m, "llama.feed_forward_length", QF_V_U32), 172);
    ck_assert_uint_eq(kv_u(m, "llama.attention.head_count", QF_V_U32), 8);
    ck_assert_uint_eq(kv_u(m, "llama.attention.head_count_kv", QF_V_U32), 4);
    ck_assert_uint_eq(kv_u(m, "llama.block_count", QF_V_U32), 5);
    ck_assert_uint_eq(kv_u(m, "tokenizer.ggml.seperator_token_id", QF_V_U32), 0xFFFFFFFFu);
    ck_assert_uint_eq(kv_u(m, "tokenizer.ggml.padding_token_id", QF_V_U32), 0xFFFFFFFFu);
    const struct qf_kv *eps = kv_get(m, "llama.attention.layer_norm_rms_epsilon");
    ck_assert_int_eq(eps->val.type, QF_V_F32);
    ck_assert(eps->val.v.f == (double)1e-5f);
    ck_assert_ptr_null(qf_model_find_kv(m, "general.file_type"));

    /* tensors: shapes in row-major order, offsets absolute and relative */
    const struct qf_tensor *t = qf_model_tensor(m, 0);
    ck_assert_str_eq(t->name, "token_embd.weight");
    ck_assert_int_eq(t->n_dims, 2);
    ck_assert_uint_eq(t->shape[0], 512);
    ck_assert_uint_eq(t->shape[1], 64);
    ck_assert_int_eq(t->type, QF_TYPE_F32);
    ck_assert_uint_eq(t->data_offset, 0);
    ck_assert_uint_eq(t->offset, 14176);
    ck_assert_uint_eq(t->nbytes, 131072);
    ck_assert_uint_eq(t->nelem, 32768);
    t = tensor(m, "output_norm.weight");
    ck_assert_uint_eq(t->index, 1);
    ck_assert_int_eq(t->n_dims, 1);
    ck_assert_uint_eq(t->shape[0], 64);
    ck_assert_uint_eq(t->data_offset, 131072);
    t = tensor(m, "blk.0.ffn_down.weight");
    ck_assert_uint_eq(t->shape[0], 64);
    ck_assert_uint_eq(t->shape[1], 172);
    ck_assert_uint_eq(t->data_offset, 355840);
    ck_assert_uint_eq(t->nbytes, 44032);
    t = qf_model_tensor(m, 47);
    ck_assert_str_eq(t->name, "blk.4.ffn_norm.weight");
    ck_assert_uint_eq(t->data_offset, 1170944);
    ck_assert_uint_eq(t->offset, 1185120);
    ck_assert_uint_eq(t->offset + t->nbytes, 1185376);
    ck_assert_int_eq(qf_model_tensor_complete(m, t), 1);
    int counts[QF_GGML_TYPE_COUNT];
    count_types(m, counts);
    ck_assert_int_eq(counts[QF_TYPE_F32], 48);
    /* borrowed data is at the absolute offset */
    const uint8_t *p = qf_model_map(m, qf_model_tensor(m, 1));
    uint8_t buf[16];
    struct qf_error e;
    ck_assert_int_eq(qf_model_read(m, qf_model_tensor(m, 1), 0, buf, 16, &e), QF_OK);
    ck_assert_ptr_nonnull(p);
    ck_assert(memcmp(p, buf, 16) == 0);
    qf_model_close(m);
}
END_TEST

START_TEST(test_q8_0)
{
    /* convert_hf_to_gguf.py --outtype q8_0: 47 tensors F16x5 F32x11 Q8_0x31, 25 KV */
    struct qf_model *m = open_ok(FIX "stories260K-q8_0.gguf", 0);
    ck_assert_uint_eq(qf_model_n_kv(m), 25);
    ck_assert_uint_eq(qf_model_n_tensors(m), 47);
    ck_assert_uint_eq(qf_model_file(m, 0)->header_size, 14304);
    int counts[QF_GGML_TYPE_COUNT];
    count_types(m, counts);
    ck_assert_int_eq(counts[QF_TYPE_F16], 5);
    ck_assert_int_eq(counts[QF_TYPE_F32], 11);
    ck_assert_int_eq(counts[QF_TYPE_Q8_0], 31);
    ck_assert_uint_eq(kv_u(m, "general.file_type", QF_V_U32), 7);
    ck_assert_uint_eq(kv_u(m, "general.quantization_version", QF_V_U32), 2);
    ck_assert_uint_eq(kv_u(m, "llama.context_length", QF_V_U32), 512);
    ck_assert_uint_eq(kv_u(m, "llama.vocab_size", QF_V_U32), 512);
    ck_assert_uint_eq(kv_u(m, "tokenizer.ggml.add_bos_token", QF_V_BOOL), 1);
    ck_assert_uint_eq(kv_u(m, "tokenizer.ggml.add_eos_token", QF_V_BOOL), 0);
    ck_assert_uint_eq(kv_get(m, "tokenizer.ggml.add_bos_token")->val.raw_bool, 1);
    ck_assert(kv_get(m, "llama.rope.freq_base")->val.v.f == 10000.0);
    kv_str_eq(m, "general.name", "Hf");
    kv_str_eq(m, "general.type", "model");
    kv_str_eq(m, "tokenizer.ggml.pre", "default");
    ck_assert_uint_eq(kv_get(m, "general.quantization_version")->offset, 11508);
    const struct qf_tensor *t = qf_model_tensor(m, 0);
    ck_assert_str_eq(t->name, "token_embd.weight");
    ck_assert_int_eq(t->type, QF_TYPE_Q8_0);
    ck_assert_uint_eq(t->shape[0], 512);
    ck_assert_uint_eq(t->shape[1], 64);
    ck_assert_uint_eq(t->nbytes, 34816);
    t = tensor(m, "blk.0.ffn_down.weight");
    ck_assert_int_eq(t->type, QF_TYPE_F16);
    ck_assert_uint_eq(t->shape[0], 64);
    ck_assert_uint_eq(t->shape[1], 172);
    ck_assert_uint_eq(t->data_offset, 35072);
    ck_assert_uint_eq(t->nbytes, 22016);
    ck_assert_uint_eq(tensor(m, "blk.0.ffn_gate.weight")->data_offset, 57088);
    t = qf_model_tensor(m, 46);
    ck_assert_str_eq(t->name, "output_norm.weight");
    ck_assert_uint_eq(t->data_offset, 329856);
    ck_assert_uint_eq(t->offset + t->nbytes, 344416);
    qf_model_close(m);
}
END_TEST

START_TEST(test_tiny256)
{
    /* llama-quantize Q4_K_M: 21 tensors F32x5 Q4_Kx13 Q6_Kx3, 25 KV */
    struct qf_model *m = open_ok(FIX "tiny256-Q4_K_M.llq.gguf", 0);
    ck_assert_uint_eq(qf_model_n_kv(m), 25);
    ck_assert_uint_eq(qf_model_n_tensors(m), 21);
    ck_assert_uint_eq(qf_model_file(m, 0)->header_size, 12800);
    int counts[QF_GGML_TYPE_COUNT];
    count_types(m, counts);
    ck_assert_int_eq(counts[QF_TYPE_F32], 5);
    ck_assert_int_eq(counts[QF_TYPE_Q4_K], 13);
    ck_assert_int_eq(counts[QF_TYPE_Q6_K], 3);
    ck_assert_uint_eq(kv_u(m, "general.file_type", QF_V_U32), 15);
    ck_assert_uint_eq(kv_u(m, "llama.embedding_length", QF_V_U32), 256);
    ck_assert_uint_eq(kv_u(m, "llama.rope.dimension_count", QF_V_U32), 64);
    kv_str_eq(m, "general.size_label", "1.8M");
    const struct qf_tensor *t = qf_model_tensor(m, 0);
    ck_assert_str_eq(t->name, "output.weight");
    ck_assert_int_eq(t->type, QF_TYPE_Q6_K);
    ck_assert_uint_eq(t->shape[0], 512);
    ck_assert_uint_eq(t->shape[1], 256);
    ck_assert_uint_eq(t->nbytes, 107520);
    t = tensor(m, "token_embd.weight");
    ck_assert_int_eq(t->type, QF_TYPE_Q4_K);
    ck_assert_uint_eq(t->data_offset, 108544);
    ck_assert_uint_eq(t->nbytes, 73728);
    t = tensor(m, "blk.1.ffn_down.weight");
    ck_assert_int_eq(t->type, QF_TYPE_Q6_K);
    ck_assert_uint_eq(t->shape[0], 256);
    ck_assert_uint_eq(t->shape[1], 768);
    ck_assert_uint_eq(t->data_offset, 746752);
    t = qf_model_tensor(m, 20);
    ck_assert_str_eq(t->name, "blk.1.ffn_up.weight");
    ck_assert_uint_eq(t->offset + t->nbytes, 1143040);
    qf_model_close(m);
}
END_TEST

START_TEST(test_vocab_spm)
{
    /* gguf-py, zero tensors, 22 KV, 32000-token arrays; the file ends unpadded */
    struct qf_model *m = open_ok(FIX "ggml-vocab-llama-spm.gguf", 0);
    ck_assert_uint_eq(qf_model_n_tensors(m), 0);
    ck_assert_uint_eq(qf_model_n_kv(m), 22);
    ck_assert_uint_eq(qf_model_file(m, 0)->header_size, 723869);
    ck_assert_uint_eq(qf_model_file(m, 0)->size, 723869);
    kv_str_eq(m, "general.name", "llama-spm");
    ck_assert_uint_eq(kv_u(m, "llama.vocab_size", QF_V_U32), 32000);
    ck_assert_uint_eq(kv_u(m, "llama.feed_forward_length", QF_V_U32), 11008);
    const struct qf_array *tok = &kv_get(m, "tokenizer.ggml.tokens")->val.v.a;
    ck_assert_uint_eq(tok->count, 32000);
    arr_str_eq(tok, 0, "<unk>");
    arr_str_eq(tok, 1000, "ied");
    arr_str_eq(tok, 29871, "\xe2\x96\x81");
    arr_str_eq(tok, 31999, "\xe7\xbb\x99");
    /* sequential iteration agrees with random access */
    struct qf_array_iter it;
    struct qf_value v;
    uint64_t n = 0;
    qf_array_iter_init(&it, tok);
    while (qf_array_iter_next(&it, &v))
        n++;
    ck_assert_uint_eq(n, 32000);
    const struct qf_kv *sc = kv_get(m, "tokenizer.ggml.scores");
    ck_assert_uint_eq(sc->offset, 467560);
    ck_assert(arr_f(&sc->val.v.a, 1000) == -741.0);
    ck_assert(arr_f(&sc->val.v.a, 29871) == -1e9);
    ck_assert(arr_f(&sc->val.v.a, 31999) == -31740.0);
    ck_assert_int_eq(arr_i(&kv_get(m, "tokenizer.ggml.token_type")->val.v.a, 3), 6);
    qf_model_close(m);
}
END_TEST

START_TEST(test_vocab_bge)
{
    struct qf_model *m = open_ok(FIX "ggml-vocab-bert-bge.gguf", 0);
    ck_assert_uint_eq(qf_model_n_tensors(m), 0);
    ck_assert_uint_eq(qf_model_n_kv(m), 20);
    kv_str_eq(m, "general.architecture", "bert");
    kv_str_eq(m, "tokenizer.ggml.model", "bert");
    ck_assert_uint_eq(kv_u(m, "bert.attention.causal", QF_V_BOOL), 0);
    ck_assert_uint_eq(kv_u(m, "tokenizer.ggml.seperator_token_id", QF_V_U32), 102);
    ck_assert_uint_eq(kv_u(m, "tokenizer.ggml.unknown_token_id", QF_V_U32), 100);
    ck_assert_uint_eq(kv_u(m, "tokenizer.ggml.cls_token_id", QF_V_U32), 101);
    ck_assert_uint_eq(kv_u(m, "tokenizer.ggml.token_type_count", QF_V_U32), 2);
    ck_assert(kv_get(m, "bert.attention.layer_norm_epsilon")->val.v.f == (double)1e-12f);
    const struct qf_array *tok = &kv_get(m, "tokenizer.ggml.tokens")->val.v.a;
    ck_assert_uint_eq(tok->count, 30522);
    arr_str_eq(tok, 0, "[PAD]");
    arr_str_eq(tok, 100, "[UNK]");
    arr_str_eq(tok, 101, "[CLS]");
    arr_str_eq(tok, 102, "[SEP]");
    arr_str_eq(tok, 30521, "\xef\xbd\x9e");
    const struct qf_array *tt = &kv_get(m, "tokenizer.ggml.token_type")->val.v.a;
    ck_assert_uint_eq(tt->count, 30522);
    ck_assert_int_eq(arr_i(tt, 0), 3);
    ck_assert_int_eq(arr_i(tt, 2000), 1);
    ck_assert_ptr_null(qf_model_find_kv(m, "tokenizer.ggml.scores"));
    qf_model_close(m);
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * Split sets
 */
#define PART(k) FIX "stories260K-f32-0000" #k "-of-00003.gguf"

static void check_set(struct qf_model *m)
{
    ck_assert_uint_eq(qf_model_n_files(m), 3);
    ck_assert_uint_eq(qf_model_n_tensors(m), 48);
    ck_assert_uint_eq(qf_model_n_kv(m), 22); /* part 1's: the 19 of the source + split.* */
    for (size_t i = 0; i < 3; i++)
        ck_assert_str_eq(qf_model_file(m, i)->role, "gguf-split");
    ck_assert_str_eq(qf_model_file(m, 0)->path, PART(1));
    ck_assert_str_eq(qf_model_file(m, 1)->path, PART(2));
    ck_assert_str_eq(qf_model_file(m, 2)->path, PART(3));
    ck_assert_uint_eq(qf_model_file(m, 0)->header_size, 12384);
    ck_assert_uint_eq(qf_model_file(m, 1)->header_size, 1056);
    const struct qf_kv *no = kv_get(m, "split.no");
    ck_assert_int_eq(no->val.type, QF_V_U16);
    ck_assert_uint_eq(no->val.v.u, 0);
    ck_assert_uint_eq(no->offset, 11347);
    ck_assert_int_eq(no->file_index, 0);
    ck_assert_uint_eq(kv_u(m, "split.count", QF_V_U16), 3);
    const struct qf_kv *tc = kv_get(m, "split.tensors.count");
    ck_assert_int_eq(tc->val.type, QF_V_I32);
    ck_assert_int_eq(tc->val.v.i, 48);
    const struct qf_tensor *t = qf_model_tensor(m, 16);
    ck_assert_str_eq(t->name, "blk.1.attn_norm.weight");
    ck_assert_int_eq(t->file_index, 1);
    ck_assert_uint_eq(t->data_offset, 0);
    ck_assert_uint_eq(t->offset, 1056);
    t = qf_model_tensor(m, 47);
    ck_assert_str_eq(t->name, "blk.4.ffn_norm.weight");
    ck_assert_int_eq(t->file_index, 2);
    /* same tensors, same order, same bytes as the unsplit file */
    struct qf_model *one = open_ok(FIX "stories260K-f32.gguf", 0);
    for (size_t i = 0; i < 48; i++) {
        const struct qf_tensor *a = qf_model_tensor(m, i), *b = qf_model_tensor(one, i);
        ck_assert_str_eq(a->name, b->name);
        ck_assert_int_eq(a->n_dims, b->n_dims);
        ck_assert_uint_eq(a->shape[0], b->shape[0]);
        ck_assert_uint_eq(a->shape[1], b->shape[1]);
        ck_assert_uint_eq(a->nbytes, b->nbytes);
        const void *pa = qf_model_map(m, a), *pb = qf_model_map(one, b);
        ck_assert(pa && pb && memcmp(pa, pb, (size_t)a->nbytes) == 0);
    }
    qf_model_close(one);
}

START_TEST(test_split_any_part)
{
    struct qf_model *m = open_ok(PART(1), 0);
    check_set(m);
    qf_model_close(m);
    m = open_ok(PART(2), 0);
    check_set(m);
    qf_model_close(m);
    m = open_ok(PART(3), 0);
    check_set(m);
    qf_model_close(m);
}
END_TEST

START_TEST(test_split_no_set)
{
    struct qf_model *m = open_ok(PART(2), QF_OPEN_NO_SET);
    ck_assert_uint_eq(qf_model_n_files(m), 1);
    ck_assert_uint_eq(qf_model_n_tensors(m), 16);
    ck_assert_uint_eq(qf_model_n_kv(m), 3);
    ck_assert_str_eq(qf_model_file(m, 0)->role, "gguf");
    ck_assert_uint_eq(kv_u(m, "split.no", QF_V_U16), 1);
    ck_assert_uint_eq(kv_get(m, "split.count")->offset, 81);
    ck_assert_str_eq(qf_model_tensor(m, 0)->name, "blk.1.attn_norm.weight");
    qf_model_close(m);
    m = open_ok(PART(1), QF_OPEN_NO_SET);
    ck_assert_uint_eq(qf_model_n_tensors(m), 16);
    ck_assert_uint_eq(qf_model_n_kv(m), 22);
    qf_model_close(m);
}
END_TEST

/* Copy the three parts into the scratch dir as "s-0000k-of-00003.gguf", patching one byte
 * range of one part. */
static void copy_parts(int skip, int patch_part, size_t off, const void *bytes, size_t n)
{
    for (int k = 1; k <= 3; k++) {
        if (k == skip)
            continue;
        char src[128], dst[64];
        snprintf(src, sizeof src, FIX "stories260K-f32-%05d-of-00003.gguf", k);
        snprintf(dst, sizeof dst, "s-%05d-of-00003.gguf", k);
        size_t len;
        uint8_t *p = slurp(src, &len);
        if (k == patch_part)
            memcpy(p + off, bytes, n);
        spill(tmp_path(dst), p, len);
        free(p);
    }
}

static void set_fails(int code, const char *opened, const char *needle)
{
    struct qf_model *m = NULL;
    struct qf_error e;
    int rc = qf_model_open(tmp_path(opened), NULL, 0, &m, &e);
    ck_assert_msg(rc == code, "rc %d (%s), expected %d", rc, e.msg, code);
    ck_assert_msg(strstr(e.msg, needle) != NULL, "message '%s' lacks '%s'", e.msg, needle);
    ck_assert_ptr_null(m);
}

START_TEST(test_split_errors)
{
    /* a missing part, named */
    copy_parts(2, 0, 0, NULL, 0);
    set_fails(QF_ENOTFOUND, "s-00001-of-00003.gguf", "s-00002-of-00003.gguf");
    set_fails(QF_ENOTFOUND, "s-00003-of-00003.gguf", "1 missing");
    tmp_teardown();
    tmp_setup();
    /* parts 2 and 3 missing: both named */
    copy_parts(2, 0, 0, NULL, 0);
    unlink(tmp_path("s-00003-of-00003.gguf"));
    set_fails(QF_ENOTFOUND, "s-00001-of-00003.gguf", "s-00003-of-00003.gguf");
    set_fails(QF_ENOTFOUND, "s-00001-of-00003.gguf", "2 missing");
    tmp_teardown();
    tmp_setup();

    /* split.count of part 2 says 4 (u16 at 81 + 8 + 11 + 4) */
    const uint8_t four[2] = {4, 0};
    copy_parts(0, 2, 104, four, 2);
    set_fails(QF_EFORMAT, "s-00001-of-00003.gguf", "split.count is 4, expected 3");
    tmp_teardown();
    tmp_setup();
    /* split.no of part 3 says 1 (u16 at 24 + 8 + 8 + 4) */
    const uint8_t one[2] = {1, 0};
    copy_parts(0, 3, 44, one, 2);
    set_fails(QF_EFORMAT, "s-00002-of-00003.gguf", "split.no is 1, expected 2");
    tmp_teardown();
    tmp_setup();
    /* split.tensors.count of part 2 says 47 (i32 at 46 + 8 + 19 + 4) */
    const uint8_t c47[4] = {47, 0, 0, 0};
    copy_parts(0, 2, 77, c47, 4);
    set_fails(QF_EFORMAT, "s-00001-of-00003.gguf", "split.tensors.count is 47");
    tmp_teardown();
    tmp_setup();
    /* split.count of part 1 has type i16 (type id at 11404 + 8 + 11) */
    const uint8_t i16t[4] = {QF_V_I16, 0, 0, 0};
    copy_parts(0, 1, 11423, i16t, 4);
    set_fails(QF_EFORMAT, "s-00003-of-00003.gguf", "split.count has type");
    tmp_teardown();
    tmp_setup();
    /* a tensor of part 3 renamed to a name of part 1: "blk.3." -> "blk.0." (name at 106+8) */
    size_t n;
    uint8_t *p3 = slurp(PART(3), &n);
    ck_assert(memcmp(p3 + 114, "blk.3.", 6) == 0);
    free(p3);
    copy_parts(0, 3, 118, "0", 1);
    set_fails(QF_EFORMAT, "s-00001-of-00003.gguf", "more than one part");
    tmp_teardown();
    tmp_setup();
    /* the name says 4 parts, split.count says 3 */
    size_t len;
    uint8_t *p1 = slurp(PART(1), &len);
    spill(tmp_path("x-00001-of-00004.gguf"), p1, len);
    free(p1);
    set_fails(QF_EFORMAT, "x-00001-of-00004.gguf", "file name says 4 parts");
    /* split.count 3 but a name without the pattern: the parts cannot be found */
    p1 = slurp(PART(1), &len);
    spill(tmp_path("renamed.gguf"), p1, len);
    free(p1);
    set_fails(QF_ENOTFOUND, "renamed.gguf", "cannot be found");
    /* ... though the part alone opens */
    struct qf_model *m = open_ok(tmp_path("renamed.gguf"), QF_OPEN_NO_SET);
    ck_assert_uint_eq(qf_model_n_tensors(m), 16);
    qf_model_close(m);
}
END_TEST

START_TEST(test_split_named_without_keys)
{
    /* a file named like a split part but without split.count opens alone, with a warning */
    size_t len;
    uint8_t *p = slurp(FIX "stories260K-q8_0.gguf", &len);
    spill(tmp_path("q-00001-of-00002.gguf"), p, len);
    free(p);
    struct qf_model *m = open_ok(tmp_path("q-00001-of-00002.gguf"), 0);
    ck_assert_uint_eq(qf_model_n_files(m), 1);
    ck_assert_uint_eq(qf_model_n_tensors(m), 47);
    ck_assert_ptr_nonnull(qf_model_warning(m, 0));
    ck_assert_ptr_nonnull(strstr(qf_model_warning(m, 0), "split.count"));
    qf_model_close(m);
}
END_TEST

START_TEST(test_split_merge)
{
    /* saving the whole set drops split.* and gives back the unsplit file, byte for byte */
    struct qf_model *m = open_ok(PART(2), 0);
    const char *out = save(m, "merged.gguf");
    qf_model_close(m);
    files_equal(out, FIX "stories260K-f32.gguf");
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * Versions and byte orders
 */
static void check_small(struct qf_model *m, uint32_t version, int be)
{
    ck_assert_uint_eq(qf_model_version(m), version);
    ck_assert_int_eq(qf_model_big_endian(m), be);
    ck_assert_uint_eq(qf_model_n_kv(m), 3);
    ck_assert_uint_eq(qf_model_n_tensors(m), 2);
    kv_str_eq(m, "general.architecture", "test");
    ck_assert_uint_eq(kv_u(m, "test.answer", QF_V_U32), 42);
    const struct qf_array *w = &kv_get(m, "test.words")->val.v.a;
    ck_assert_int_eq(w->etype, QF_V_STRING);
    ck_assert_uint_eq(w->count, 3);
    arr_str_eq(w, 0, "alpha");
    arr_str_eq(w, 1, "");
    arr_str_eq(w, 2, "\xc3\xa9t\xc3\xa9");
    const struct qf_tensor *a = tensor(m, "a"), *b = tensor(m, "b");
    ck_assert_int_eq(a->n_dims, 2);
    ck_assert_uint_eq(a->shape[0], 2);
    ck_assert_uint_eq(a->shape[1], 3);
    ck_assert_uint_eq(a->nelem, 6);
    ck_assert_uint_eq(a->nbytes, 24);
    ck_assert_int_eq(b->type, QF_TYPE_Q8_0);
    ck_assert_int_eq(b->n_dims, 1);
    ck_assert_uint_eq(b->shape[0], 32);
    ck_assert_uint_eq(b->nbytes, 34);
    ck_assert_uint_eq(b->data_offset, 32);
    ck_assert_uint_eq(b->offset, a->offset + 32);
    ck_assert_uint_eq(a->offset % 32, 0);
    ck_assert_uint_eq(qf_model_file(m, 0)->header_size, a->offset);
    uint8_t buf[34];
    struct qf_error e;
    ck_assert_int_eq(qf_model_read(m, b, 0, buf, 34, &e), QF_OK);
    ck_assert_uint_eq(buf[0], 100);
    ck_assert_uint_eq(buf[33], (uint8_t)(100 + 33 * 7));
}

START_TEST(test_v2)
{
    struct gb b;
    mk_small(&b, 2, 0);
    struct qf_model *m = open_gb_ok(&b, 0);
    check_small(m, 2, 0);
    ck_assert_uint_eq(qf_model_file(m, 0)->header_size, 256);
    qf_model_close(m);
    gb_free(&b);
}
END_TEST

START_TEST(test_v1)
{
    struct gb b;
    mk_small(&b, 1, 0);
    struct qf_model *m = open_gb_ok(&b, 0);
    check_small(m, 1, 0);
    ck_assert_uint_eq(kv_get(m, "test.words")->val.v.a.enc & QFI_ENC_LEN32, QFI_ENC_LEN32);
    ck_assert_ptr_nonnull(qf_model_warning(m, 0));
    ck_assert_ptr_nonnull(strstr(qf_model_warning(m, 0), "version 1"));
    qf_model_close(m);
    gb_free(&b);
}
END_TEST

START_TEST(test_big_endian)
{
    struct gb b;
    mk_small(&b, 3, 1);
    /* an array of u16 and an i64, big-endian */
    struct gb x;
    memset(&x, 0, sizeof x);
    x.be = 1;
    gb_hdr(&x, 3, 1, 3);
    gb_str(&x, "be.u16s");
    gb_u32(&x, QF_V_ARRAY);
    gb_u32(&x, QF_V_U16);
    gb_u64(&x, 3);
    gb_u16(&x, 0x0102);
    gb_u16(&x, 0xfffe);
    gb_u16(&x, 7);
    gb_str(&x, "be.i64");
    gb_u32(&x, QF_V_I64);
    gb_u64(&x, (uint64_t)-5);
    gb_str(&x, "be.f32");
    gb_u32(&x, QF_V_F32);
    gb_f32(&x, 1.5f);
    const uint64_t ne[2] = {4, 3};
    gb_ti(&x, "w", 2, ne, QF_TYPE_F16, 0);
    gb_pad(&x, 32);
    gb_data(&x, 24, 9);
    gb_pad(&x, 32);

    struct qf_model *m = open_gb_ok(&b, 0);
    check_small(m, 3, 1);
    ck_assert_uint_eq(kv_get(m, "test.words")->val.v.a.enc & QFI_ENC_BE, QFI_ENC_BE);
    qf_model_close(m);

    m = open_gb_ok(&x, 0);
    ck_assert_int_eq(qf_model_big_endian(m), 1);
    const struct qf_array *a = &kv_get(m, "be.u16s")->val.v.a;
    ck_assert_int_eq(arr_i(a, 0), 0x0102);
    ck_assert_int_eq(arr_i(a, 1), 0xfffe);
    ck_assert_int_eq(arr_i(a, 2), 7);
    ck_assert_int_eq(kv_get(m, "be.i64")->val.v.i, -5);
    ck_assert(kv_get(m, "be.f32")->val.v.f == 1.5);
    const struct qf_tensor *t = tensor(m, "w");
    ck_assert_uint_eq(t->shape[0], 3);
    ck_assert_uint_eq(t->shape[1], 4);
    ck_assert_uint_eq(t->nbytes, 24);
    /* saving re-encodes the metadata little-endian */
    const char *out = save(m, "le.gguf");
    qf_model_close(m);
    m = open_ok(out, 0);
    ck_assert_int_eq(qf_model_big_endian(m), 0);
    a = &kv_get(m, "be.u16s")->val.v.a;
    ck_assert_int_eq(arr_i(a, 1), 0xfffe);
    ck_assert_int_eq(kv_get(m, "be.i64")->val.v.i, -5);
    ck_assert_uint_eq(tensor(m, "w")->shape[1], 4);
    qf_model_close(m);
    gb_free(&b);
    gb_free(&x);
}
END_TEST

START_TEST(test_big_endian_v1)
{
    struct gb b;
    mk_small(&b, 1, 1);
    struct qf_model *m = open_gb_ok(&b, 0);
    check_small(m, 1, 1);
    unsigned enc = kv_get(m, "test.words")->val.v.a.enc;
    ck_assert_uint_eq(enc, QFI_ENC_BE | QFI_ENC_LEN32);
    /* a v1 big-endian model is written back as v3 little-endian with the same values */
    const char *out = save(m, "v3.gguf");
    qf_model_close(m);
    m = open_ok(out, 0);
    check_small(m, 3, 0);
    qf_model_close(m);
    gb_free(&b);
}
END_TEST

static void gb_nested(struct gb *b, int depth)
{
    /* depth levels of arrays; the innermost holds two u8 */
    if (depth == 1) {
        gb_u32(b, QF_V_U8);
        gb_len(b, 2);
        gb_u8(b, 5);
        gb_u8(b, 6);
        return;
    }
    gb_u32(b, QF_V_ARRAY);
    gb_len(b, 1);
    gb_nested(b, depth - 1);
}

START_TEST(test_nested_arrays)
{
    struct gb b;
    memset(&b, 0, sizeof b);
    gb_hdr(&b, 3, 0, 2);
    gb_str(&b, "n.pairs");
    gb_u32(&b, QF_V_ARRAY);
    gb_u32(&b, QF_V_ARRAY);
    gb_len(&b, 2);
    gb_u32(&b, QF_V_I32);
    gb_len(&b, 2);
    gb_u32(&b, 1);
    gb_u32(&b, 2);
    gb_u32(&b, QF_V_STRING);
    gb_len(&b, 1);
    gb_str(&b, "x");
    gb_kv_u32(&b, "n.after", 9);
    struct qf_model *m = open_gb_ok(&b, 0);
    const struct qf_kv *kv = kv_get(m, "n.pairs");
    ck_assert_int_eq(kv->val.v.a.etype, QF_V_ARRAY);
    ck_assert_uint_eq(kv->val.v.a.count, 2);
    struct qf_value v;
    ck_assert_int_eq(qf_array_get(&kv->val.v.a, 1, &v), QF_OK);
    ck_assert_int_eq(v.type, QF_V_ARRAY);
    ck_assert_int_eq(v.v.a.etype, QF_V_STRING);
    arr_str_eq(&v.v.a, 0, "x");
    ck_assert_int_eq(qf_array_get(&kv->val.v.a, 0, &v), QF_OK);
    ck_assert_int_eq(arr_i(&v.v.a, 1), 2);
    ck_assert_uint_eq(kv_u(m, "n.after", QF_V_U32), 9);
    ck_assert_ptr_nonnull(qf_model_warning(m, 0));
    ck_assert_ptr_nonnull(strstr(qf_model_warning(m, 0), "array of arrays"));
    /* the writer refuses them: llama.cpp could not read the result */
    struct qf_writer_opts o = {0};
    o.no_fsync = 1;
    struct qf_error e;
    ck_assert_int_eq(qf_model_save(m, "gguf", tmp_path("out.gguf"), &o, &e), QF_EUNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(e.msg, "n.pairs"));
    qf_model_close(m);
    gb_free(&b);

    /* 8 levels are kept, 9 are too deep */
    memset(&b, 0, sizeof b);
    gb_hdr(&b, 3, 0, 1);
    gb_str(&b, "deep");
    gb_u32(&b, QF_V_ARRAY);
    gb_nested(&b, 8);
    m = open_gb_ok(&b, 0);
    qf_model_close(m);
    gb_free(&b);
    memset(&b, 0, sizeof b);
    gb_hdr(&b, 3, 0, 1);
    gb_str(&b, "deep");
    gb_u32(&b, QF_V_ARRAY);
    gb_nested(&b, 9);
    EXPECT_FAIL(&b, QF_ELIMIT, "nested");
    gb_free(&b);
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * Validation: one crafted file per rule
 */
START_TEST(test_bad_header)
{
    struct gb b;
    memset(&b, 0, sizeof b);
    gb_raw(&b, "GGUG", 4);
    gb_u32(&b, 3);
    gb_u64(&b, 0);
    gb_u64(&b, 0);
    EXPECT_FAIL(&b, QF_EFORMAT, "bad magic 'GGUG'");
    gb_free(&b);
    memset(&b, 0, sizeof b);
    gb_hdr(&b, 0, 0, 0);
    EXPECT_FAIL(&b, QF_EFORMAT, "version 0");
    gb_free(&b);
    memset(&b, 0, sizeof b);
    gb_hdr(&b, 4, 0, 0);
    EXPECT_FAIL(&b, QF_EUNSUPPORTED, "version 4 is not supported");
    gb_free(&b);
    memset(&b, 0, sizeof b);
    gb_hdr(&b, 0x10003, 0, 0); /* neither byte order gives 1..3 */
    EXPECT_FAIL(&b, QF_EUNSUPPORTED, "version 65539");
    gb_free(&b);
    memset(&b, 0, sizeof b);
    gb_raw(&b, "GGU", 3);
    EXPECT_FAIL(&b, QF_EFORMAT, "too short");
    gb_free(&b);
    /* a valid empty file: header only */
    memset(&b, 0, sizeof b);
    gb_hdr(&b, 3, 0, 0);
    struct qf_model *m = open_gb_ok(&b, 0);
    ck_assert_uint_eq(qf_model_n_kv(m), 0);
    ck_assert_uint_eq(qf_model_file(m, 0)->header_size, 24);
    qf_model_close(m);
    gb_free(&b);
}
END_TEST

START_TEST(test_bad_counts)
{
    struct gb b;
    /* tensor count negative as int64 */
    memset(&b, 0, sizeof b);
    gb_hdr(&b, 3, 1ull << 63, 0);
    EXPECT_FAIL(&b, QF_EFORMAT, "negative");
    gb_free(&b);
    memset(&b, 0, sizeof b);
    gb_hdr(&b, 3, UINT64_MAX, 0);
    EXPECT_FAIL(&b, QF_EFORMAT, "tensor count 18446744073709551615 is negative");
    gb_free(&b);
    memset(&b, 0, sizeof b);
    gb_hdr(&b, 3, 0, UINT64_MAX - 1);
    EXPECT_FAIL(&b, QF_EFORMAT, "metadata count");
    gb_free(&b);
    /* near 2^32 and 2^63: cannot fit in the file */
    memset(&b, 0, sizeof b);
    gb_hdr(&b, 3, 0, 1ull << 32);
    gb_kv_u32(&b, "a", 1);
    EXPECT_FAIL(&b, QF_EFORMAT, "4294967296 metadata records cannot fit");
    gb_free(&b);
    memset(&b, 0, sizeof b);
    gb_hdr(&b, 3, (1ull << 63) - 1, 0);
    EXPECT_FAIL(&b, QF_EFORMAT, "cannot fit");
    gb_free(&b);
    memset(&b, 0, sizeof b);
    b.v1 = 1;
    gb_hdr(&b, 1, 0xffffffffu, 0xffffffffu);
    EXPECT_FAIL(&b, QF_EFORMAT, "4294967295 tensors and 4294967295 metadata records");
    gb_free(&b);
    /* within the file but above the caps */
    memset(&b, 0, sizeof b);
    gb_hdr(&b, 3, QFI_MAX_TENSORS + 1, 0);
    gb_zeros(&b, (QFI_MAX_TENSORS + 1) * 25);
    EXPECT_FAIL(&b, QF_ELIMIT, "1048577 tensors, more than the limit");
    gb_free(&b);
}
END_TEST

START_TEST(test_bad_strings)
{
    struct gb b;
    /* key length beyond the file */
    memset(&b, 0, sizeof b);
    gb_hdr(&b, 3, 0, 1);
    gb_u64(&b, 1000);
    gb_raw(&b, "general.name", 12);
    gb_u32(&b, QF_V_U8);
    gb_u8(&b, 0);
    EXPECT_FAIL(&b, QF_EFORMAT, "key of metadata record 0 has length 1000, but only 17");
    gb_free(&b);
    /* key length 2^64-1 */
    memset(&b, 0, sizeof b);
    gb_hdr(&b, 3, 0, 1);
    gb_u64(&b, UINT64_MAX);
    gb_zeros(&b, 16);
    EXPECT_FAIL(&b, QF_EFORMAT, "has length 18446744073709551615");
    gb_free(&b);
    /* string value length beyond the file, with the key named */
    memset(&b, 0, sizeof b);
    gb_hdr(&b, 3, 0, 1);
    gb_str(&b, "general.name");
    gb_u32(&b, QF_V_STRING);
    gb_u64(&b, 1ull << 40);
    gb_raw(&b, "abc", 3);
    EXPECT_FAIL(&b, QF_EFORMAT, "string value of 'general.name' has length 1099511627776");
    gb_free(&b);
    /* a string element of an array beyond the file */
    memset(&b, 0, sizeof b);
    gb_hdr(&b, 3, 0, 1);
    gb_str(&b, "t.list");
    gb_u32(&b, QF_V_ARRAY);
    gb_u32(&b, QF_V_STRING);
    gb_u64(&b, 2);
    gb_str(&b, "ok");
    gb_u64(&b, 99);
    gb_raw(&b, "short", 5);
    EXPECT_FAIL(&b, QF_EFORMAT, "a string element of 't.list' has length 99");
    gb_free(&b);
    /* v1: u32 string length too long */
    memset(&b, 0, sizeof b);
    b.v1 = 1;
    gb_hdr(&b, 1, 0, 1);
    gb_u32(&b, 0xffffffffu);
    gb_raw(&b, "k", 1);
    gb_zeros(&b, 16);
    EXPECT_FAIL(&b, QF_EFORMAT, "has length 4294967295");
    gb_free(&b);
}
END_TEST

START_TEST(test_bad_keys)
{
    struct gb b;
    memset(&b, 0, sizeof b);
    gb_hdr(&b, 3, 0, 1);
    gb_str(&b, "");
    gb_u32(&b, QF_V_U8);
    gb_u8(&b, 1);
    gb_zeros(&b, 8);
    EXPECT_FAIL(&b, QF_EFORMAT, "metadata record 0 has an empty key");
    gb_free(&b);
    memset(&b, 0, sizeof b);
    gb_hdr(&b, 3, 0, 3);
    gb_kv_u32(&b, "a.b", 1);
    gb_kv_str(&b, "a.c", "x");
    gb_kv_str(&b, "a.b", "again");
    EXPECT_FAIL(&b, QF_EFORMAT, "duplicate metadata key 'a.b' (first at offset 24)");
    gb_free(&b);
    /* a NUL inside a key: no C string can name it */
    memset(&b, 0, sizeof b);
    gb_hdr(&b, 3, 0, 1);
    gb_strn(&b, "a\0b", 3);
    gb_u32(&b, QF_V_U8);
    gb_u8(&b, 1);
    EXPECT_FAIL(&b, QF_EFORMAT, "metadata key 'a\\x00b' contains a NUL byte");
    gb_free(&b);
    /* value type 13 (our NULL) and beyond are invalid in a file */
    memset(&b, 0, sizeof b);
    gb_hdr(&b, 3, 0, 1);
    gb_str(&b, "k");
    gb_u32(&b, 13);
    gb_u8(&b, 0);
    EXPECT_FAIL(&b, QF_EFORMAT, "metadata key 'k' has invalid value type 13");
    gb_free(&b);
    memset(&b, 0, sizeof b);
    gb_hdr(&b, 3, 0, 1);
    gb_str(&b, "k");
    gb_u32(&b, 0xffffffffu);
    gb_zeros(&b, 8);
    EXPECT_FAIL(&b, QF_EFORMAT, "invalid value type 4294967295");
    gb_free(&b);
    /* a key that is not UTF-8 is kept, with a warning */
    memset(&b, 0, sizeof b);
    gb_hdr(&b, 3, 0, 1);
    gb_strn(&b, "k\xff", 2);
    gb_u32(&b, QF_V_U8);
    gb_u8(&b, 1);
    struct qf_model *m = open_gb_ok(&b, 0);
    ck_assert_ptr_nonnull(strstr(qf_model_warning(m, 0), "k\\xff"));
    qf_model_close(m);
    gb_free(&b);
}
END_TEST

START_TEST(test_bad_arrays)
{
    struct gb b;
    memset(&b, 0, sizeof b);
    gb_hdr(&b, 3, 0, 1);
    gb_str(&b, "arr");
    gb_u32(&b, QF_V_ARRAY);
    gb_u32(&b, 13);
    gb_u64(&b, 0);
    EXPECT_FAIL(&b, QF_EFORMAT, "'arr': array element type 13 is invalid");
    gb_free(&b);
    /* count x element size beyond the file: checked before anything is walked */
    memset(&b, 0, sizeof b);
    gb_hdr(&b, 3, 0, 1);
    gb_str(&b, "arr");
    gb_u32(&b, QF_V_ARRAY);
    gb_u32(&b, QF_V_U32);
    gb_u64(&b, 5);
    gb_u32(&b, 1);
    gb_u32(&b, 2);
    EXPECT_FAIL(&b, QF_EFORMAT, "array of 5 u32 elements needs at least 20 bytes, only 8 left");
    gb_free(&b);
    /* count near 2^64: the byte count overflows */
    memset(&b, 0, sizeof b);
    gb_hdr(&b, 3, 0, 1);
    gb_str(&b, "arr");
    gb_u32(&b, QF_V_ARRAY);
    gb_u32(&b, QF_V_U64);
    gb_u64(&b, (1ull << 61) + 1);
    gb_zeros(&b, 16);
    EXPECT_FAIL(&b, QF_EFORMAT, "array of 2305843009213693953 u64");
    gb_free(&b);
    /* strings: at least 8 bytes each */
    memset(&b, 0, sizeof b);
    gb_hdr(&b, 3, 0, 1);
    gb_str(&b, "arr");
    gb_u32(&b, QF_V_ARRAY);
    gb_u32(&b, QF_V_STRING);
    gb_u64(&b, 1ull << 32);
    gb_zeros(&b, 64);
    EXPECT_FAIL(&b, QF_EFORMAT, "array of 4294967296 string elements");
    gb_free(&b);
    /* an empty array is fine */
    memset(&b, 0, sizeof b);
    gb_hdr(&b, 3, 0, 1);
    gb_str(&b, "arr");
    gb_u32(&b, QF_V_ARRAY);
    gb_u32(&b, QF_V_F64);
    gb_u64(&b, 0);
    struct qf_model *m = open_gb_ok(&b, 0);
    ck_assert_uint_eq(kv_get(m, "arr")->val.v.a.count, 0);
    ck_assert_int_eq(kv_get(m, "arr")->val.v.a.etype, QF_V_F64);
    qf_model_close(m);
    gb_free(&b);
}
END_TEST

static void mk_aligned(struct gb *b, int type, uint64_t value)
{
    memset(b, 0, sizeof *b);
    gb_hdr(b, 3, 1, 1);
    gb_str(b, "general.alignment");
    gb_u32(b, (uint32_t)type);
    gb_num(b, value, type == QF_V_U64 ? 8 : type == QF_V_U16 ? 2 : 4);
    const uint64_t ne[1] = {8};
    gb_ti(b, "t", 1, ne, QF_TYPE_F32, 0);
}

START_TEST(test_bad_alignment)
{
    struct gb b;
    mk_aligned(&b, QF_V_U32, 0);
    EXPECT_FAIL(&b, QF_EFORMAT, "general.alignment is 0, expected a non-zero power of two");
    gb_free(&b);
    mk_aligned(&b, QF_V_U32, 3);
    EXPECT_FAIL(&b, QF_EFORMAT, "general.alignment is 3");
    gb_free(&b);
    mk_aligned(&b, QF_V_U64, 64);
    EXPECT_FAIL(&b, QF_EFORMAT, "general.alignment has type u64, expected u32");
    gb_free(&b);
    mk_aligned(&b, QF_V_I32, 64);
    EXPECT_FAIL(&b, QF_EFORMAT, "general.alignment has type i32");
    gb_free(&b);
    /* 2^31 is a power of two, but the data section then starts past the end of the file */
    mk_aligned(&b, QF_V_U32, 1u << 31);
    gb_pad(&b, 64);
    gb_zeros(&b, 64);
    EXPECT_FAIL(&b, QF_EFORMAT, "data section starts at 2147483648");
    gb_free(&b);
    /* a valid alignment of 64 lays out the data at 64-byte boundaries */
    mk_aligned(&b, QF_V_U32, 64);
    gb_pad(&b, 64);
    gb_data(&b, 32, 3);
    gb_pad(&b, 64);
    struct qf_model *m = open_gb_ok(&b, 0);
    ck_assert_uint_eq(qf_model_alignment(m), 64);
    ck_assert_uint_eq(qf_model_tensor(m, 0)->offset % 64, 0);
    ck_assert_uint_eq(qf_model_file(m, 0)->header_size, 128);
    /* and survives a round trip byte for byte */
    const char *out = save(m, "a64.gguf");
    qf_model_close(m);
    files_equal(out, tmp_path("t.gguf"));
    gb_free(&b);
}
END_TEST

/* One tensor with the given name/dims/type at offset 0, then padding and enough data. */
static void mk_tensor(struct gb *b, const void *name, size_t nlen, uint32_t nd, const uint64_t *ne,
                      uint32_t type, size_t data)
{
    memset(b, 0, sizeof *b);
    gb_hdr(b, 3, 1, 0);
    gb_strn(b, name, nlen);
    gb_u32(b, nd);
    for (uint32_t k = 0; k < nd; k++)
        gb_u64(b, ne[k]);
    gb_u32(b, type);
    gb_u64(b, 0);
    gb_pad(b, 32);
    gb_zeros(b, data);
}

START_TEST(test_bad_tensor_names)
{
    struct gb b;
    const uint64_t ne[1] = {4};
    char name[80];
    memset(name, 'n', sizeof name);
    mk_tensor(&b, name, 63, 1, ne, QF_TYPE_F32, 32);
    struct qf_model *m = open_gb_ok(&b, 0);
    ck_assert_uint_eq(qf_model_tensor(m, 0)->name_len, 63);
    qf_model_close(m);
    gb_free(&b);
    mk_tensor(&b, name, 64, 1, ne, QF_TYPE_F32, 32);
    EXPECT_FAIL(&b, QF_EFORMAT, "is 64 bytes long, GGUF allows at most 63");
    gb_free(&b);
    mk_tensor(&b, "", 0, 1, ne, QF_TYPE_F32, 32);
    EXPECT_FAIL(&b, QF_EFORMAT, "tensor 0 has an empty name");
    gb_free(&b);
    mk_tensor(&b, "blk\0.w", 6, 1, ne, QF_TYPE_F32, 32);
    EXPECT_FAIL(&b, QF_EFORMAT, "tensor name 'blk\\x00.w' contains a NUL byte");
    gb_free(&b);
    mk_tensor(&b, "blk.\xff\xfe", 6, 1, ne, QF_TYPE_F32, 32);
    EXPECT_FAIL(&b, QF_EFORMAT, "tensor name 'blk.\\xff\\xfe' is not valid UTF-8");
    gb_free(&b);
    mk_tensor(&b, "\xc0\xae", 2, 1, ne, QF_TYPE_F32, 32); /* overlong '.' */
    EXPECT_FAIL(&b, QF_EFORMAT, "not valid UTF-8");
    gb_free(&b);
    /* duplicate names */
    memset(&b, 0, sizeof b);
    gb_hdr(&b, 3, 2, 0);
    gb_ti(&b, "same", 1, ne, QF_TYPE_F32, 0);
    gb_ti(&b, "same", 1, ne, QF_TYPE_F32, 32);
    gb_pad(&b, 32);
    gb_zeros(&b, 64);
    EXPECT_FAIL(&b, QF_EFORMAT, "duplicate tensor name 'same' (first at offset 24)");
    gb_free(&b);
}
END_TEST

START_TEST(test_bad_dims)
{
    struct gb b;
    const uint64_t ne5[5] = {1, 1, 1, 1, 1};
    mk_tensor(&b, "t", 1, 5, ne5, QF_TYPE_F32, 32);
    EXPECT_FAIL(&b, QF_EFORMAT, "tensor 't' has 5 dimensions, GGUF allows at most 4");
    gb_free(&b);
    const uint64_t neg[2] = {4, 1ull << 63};
    mk_tensor(&b, "t", 1, 2, neg, QF_TYPE_F32, 32);
    EXPECT_FAIL(&b, QF_EFORMAT, "tensor 't' dimension 1 is 9223372036854775808, negative");
    gb_free(&b);
    const uint64_t big[2] = {1ull << 32, 1ull << 32};
    mk_tensor(&b, "t", 1, 2, big, QF_TYPE_F32, 32);
    EXPECT_FAIL(&b, QF_EFORMAT, "element count overflows int64");
    gb_free(&b);
    const uint64_t big4[4] = {1 << 16, 1 << 16, 1 << 16, 1 << 16};
    mk_tensor(&b, "t", 1, 4, big4, QF_TYPE_I8, 32);
    EXPECT_FAIL(&b, QF_EFORMAT, "65536 x 65536 x 65536 x 65536");
    gb_free(&b);
    /* an empty tensor whose other dimensions overflow all the same */
    const uint64_t zbig[3] = {1ull << 40, 0, 1ull << 40};
    mk_tensor(&b, "t", 1, 3, zbig, QF_TYPE_F32, 32);
    EXPECT_FAIL(&b, QF_EFORMAT, "element count overflows int64");
    gb_free(&b);
    /* the element count fits, the byte count does not */
    const uint64_t bytes[2] = {1ull << 31, 1ull << 30};
    mk_tensor(&b, "t", 1, 2, bytes, QF_TYPE_F64, 32);
    EXPECT_FAIL(&b, QF_EFORMAT, "byte size of 2305843009213693952 elements overflows");
    gb_free(&b);
    /* a zero dimension is an empty tensor of 0 bytes; n_dims 0 is a scalar */
    const uint64_t zero[2] = {0, 5};
    mk_tensor(&b, "t", 1, 2, zero, QF_TYPE_Q4_0, 0);
    struct qf_model *m = open_gb_ok(&b, 0);
    ck_assert_uint_eq(qf_model_tensor(m, 0)->nbytes, 0);
    ck_assert_uint_eq(qf_model_tensor(m, 0)->nelem, 0);
    qf_model_close(m);
    gb_free(&b);
    mk_tensor(&b, "s", 1, 0, NULL, QF_TYPE_F32, 32);
    m = open_gb_ok(&b, 0);
    ck_assert_int_eq(qf_model_tensor(m, 0)->n_dims, 0);
    ck_assert_uint_eq(qf_model_tensor(m, 0)->nelem, 1);
    ck_assert_uint_eq(qf_model_tensor(m, 0)->nbytes, 4);
    qf_model_close(m);
    gb_free(&b);
}
END_TEST

START_TEST(test_bad_types)
{
    struct gb b;
    const uint64_t ne[1] = {32};
    mk_tensor(&b, "t", 1, 1, ne, 43, 64);
    EXPECT_FAIL(&b, QF_EUNSUPPORTED, "tensor 't' has unknown type id 43");
    gb_free(&b);
    mk_tensor(&b, "t", 1, 1, ne, 1000, 64);
    EXPECT_FAIL(&b, QF_EUNSUPPORTED, "unknown type id 1000");
    gb_free(&b);
    const uint32_t removed[] = {4, 5, 31, 32, 33, 36, 37, 38};
    for (size_t i = 0; i < sizeof removed / sizeof removed[0]; i++) {
        mk_tensor(&b, "t", 1, 1, ne, removed[i], 64);
        EXPECT_FAIL(&b, QF_EUNSUPPORTED, "which ggml removed");
        gb_free(&b);
    }
    mk_tensor(&b, "t", 1, 1, ne, 0xffffffffu, 64);
    EXPECT_FAIL(&b, QF_EFORMAT, "invalid type id -1");
    gb_free(&b);
    /* rows must be whole blocks */
    const uint64_t ne33[2] = {33, 2};
    mk_tensor(&b, "t", 1, 2, ne33, QF_TYPE_Q4_0, 64);
    EXPECT_FAIL(&b, QF_EFORMAT, "tensor 't' (q4_0): row length 33 is not a multiple of the block "
                                "size 32");
    gb_free(&b);
    const uint64_t ne128[1] = {128};
    mk_tensor(&b, "t", 1, 1, ne128, QF_TYPE_Q4_K, 256);
    EXPECT_FAIL(&b, QF_EFORMAT, "block size 256");
    gb_free(&b);
    /* every valid type opens with its exact size */
    for (int t = 0; t < QF_GGML_TYPE_COUNT; t++) {
        const struct qf_type_info *ti = qf_type_info(t);
        if (!(ti->flags & QF_TYPEF_VALID))
            continue;
        const uint64_t row[2] = {256, 2};
        mk_tensor(&b, "t", 1, 2, row, (uint32_t)t, 2 * 256 * 8);
        struct qf_model *m = open_gb_ok(&b, 0);
        ck_assert_uint_eq(qf_model_tensor(m, 0)->nbytes, 2 * (256 / ti->blck) * ti->block_bytes);
        qf_model_close(m);
        gb_free(&b);
    }
}
END_TEST

/* Three F32 tensors of 5, 8 and 3 floats with the given offsets; returns the position of the
 * offending offset field of tensor i via *where. */
static void mk_offsets(struct gb *b, uint64_t o1, uint64_t o2, size_t *where1, size_t *where2,
                       size_t data)
{
    memset(b, 0, sizeof *b);
    gb_hdr(b, 3, 3, 0);
    const uint64_t n1[1] = {5}, n2[1] = {8}, n3[1] = {3};
    gb_ti(b, "t0", 1, n1, QF_TYPE_F32, 0);
    gb_ti(b, "t1", 1, n2, QF_TYPE_F32, o1);
    *where1 = b->n - 8;
    gb_ti(b, "t2", 1, n3, QF_TYPE_F32, o2);
    *where2 = b->n - 8;
    gb_pad(b, 32);
    gb_data(b, data, 5);
}

START_TEST(test_bad_offsets)
{
    struct gb b;
    size_t w1, w2;
    char want[256];
    /* canonical: 0, 32, 64; data ends at 64 + 32 */
    mk_offsets(&b, 32, 64, &w1, &w2, 96);
    struct qf_model *m = open_gb_ok(&b, 0);
    ck_assert_uint_eq(qf_model_tensor(m, 2)->data_offset, 64);
    ck_assert_ptr_null(qf_model_warning(m, 0));
    qf_model_close(m);
    gb_free(&b);
    /* gap */
    mk_offsets(&b, 64, 96, &w1, &w2, 128);
    snprintf(want, sizeof want, "t.gguf: offset %zu: tensor 't1' has offset 64, expected 32", w1);
    EXPECT_FAIL(&b, QF_EFORMAT, want);
    gb_free(&b);
    /* overlap */
    mk_offsets(&b, 0, 64, &w1, &w2, 96);
    EXPECT_FAIL(&b, QF_EFORMAT, "tensor 't1' has offset 0, expected 32");
    gb_free(&b);
    /* misaligned */
    mk_offsets(&b, 20, 64, &w1, &w2, 96);
    EXPECT_FAIL(&b, QF_EFORMAT, "tensor 't1' has offset 20, expected 32");
    gb_free(&b);
    /* out of order */
    mk_offsets(&b, 64, 32, &w1, &w2, 96);
    EXPECT_FAIL(&b, QF_EFORMAT, "tensor 't1' has offset 64, expected 32");
    gb_free(&b);
    /* far out of bounds */
    mk_offsets(&b, 32, UINT64_MAX - 7, &w1, &w2, 96);
    snprintf(want, sizeof want, "offset %zu: tensor 't2' has offset 18446744073709551608, "
                                "expected 64", w2);
    EXPECT_FAIL(&b, QF_EFORMAT, want);
    gb_free(&b);
    /* data past the end of the file */
    mk_offsets(&b, 32, 64, &w1, &w2, 70);
    EXPECT_FAIL(&b, QF_EFORMAT, "tensor 't2' data");
    EXPECT_FAIL(&b, QF_EFORMAT, "past the end of the file");
    /* ... accepted as a partial download */
    struct qf_error e;
    m = NULL;
    ck_assert_int_eq(open_gb(&b, "t.gguf", QF_OPEN_PARTIAL, &m, &e), QF_OK);
    ck_assert_int_eq(qf_model_tensor_complete(m, qf_model_tensor(m, 1)), 1);
    ck_assert_int_eq(qf_model_tensor_complete(m, qf_model_tensor(m, 2)), 0);
    uint8_t buf[12];
    ck_assert_int_eq(qf_model_read(m, qf_model_tensor(m, 2), 0, buf, 12, &e), QF_EFORMAT);
    qf_model_close(m);
    gb_free(&b);
    /* the tensor data present but the final padding missing: accepted with a warning */
    mk_offsets(&b, 32, 64, &w1, &w2, 76);
    m = open_gb_ok(&b, 0);
    ck_assert_ptr_nonnull(strstr(qf_model_warning(m, 0), "padding after the last tensor"));
    qf_model_close(m);
    gb_free(&b);
    /* bytes after the data section: accepted with a warning */
    mk_offsets(&b, 32, 64, &w1, &w2, 100);
    m = open_gb_ok(&b, 0);
    ck_assert_ptr_nonnull(strstr(qf_model_warning(m, 0), "4 bytes after the end"));
    qf_model_close(m);
    gb_free(&b);
    /* the header ends, the data section does not begin: data_start past the end */
    mk_offsets(&b, 32, 64, &w1, &w2, 0);
    b.n = w2 + 8;
    EXPECT_FAIL(&b, QF_EFORMAT, "data section starts at");
    m = NULL;
    ck_assert_int_eq(open_gb(&b, "t.gguf", QF_OPEN_PARTIAL, &m, &e), QF_OK);
    ck_assert_int_eq(qf_model_tensor_complete(m, qf_model_tensor(m, 0)), 0);
    qf_model_close(m);
    gb_free(&b);
}
END_TEST

/* Every prefix of a valid file that cuts the header or tensor data is rejected cleanly; a file
 * missing only the padding after its last tensor is accepted (llama.cpp's loader does). */
static void truncate_all(const struct gb *b, size_t data_end)
{
    const char *p = tmp_path("cut.gguf");
    for (size_t n = 0; n < b->n; n++) {
        spill(p, b->p, n);
        struct qf_model *m = NULL;
        struct qf_error e;
        int rc = qf_model_open(p, "gguf", 0, &m, &e);
        if (n >= data_end) {
            ck_assert_msg(rc == QF_OK, "prefix of %zu bytes: %s", n, e.msg);
            ck_assert(has_warning(m, "padding after the last tensor"));
            qf_model_close(m);
            continue;
        }
        ck_assert_msg(rc < 0, "prefix of %zu bytes accepted", n);
        ck_assert_ptr_null(m);
        ck_assert_msg(e.msg[0] != '\0', "prefix of %zu bytes: no message", n);
        /* with QF_OPEN_PARTIAL every prefix holding the whole header opens */
        rc = qf_model_open(p, "gguf", QF_OPEN_PARTIAL, &m, &e);
        if (rc == QF_OK)
            qf_model_close(m);
        else
            ck_assert_msg(rc == QF_EFORMAT, "partial: prefix %zu: %s", n, e.msg);
    }
    spill(p, b->p, b->n);
    struct qf_model *m = open_ok(p, 0);
    qf_model_close(m);
}

START_TEST(test_truncation)
{
    struct gb b;
    /* the last tensor (34 bytes) is followed by 30 bytes of padding */
    mk_small(&b, 3, 0);
    truncate_all(&b, b.n - 30);
    gb_free(&b);
    mk_small(&b, 1, 0);
    truncate_all(&b, b.n - 30);
    gb_free(&b);
    mk_small(&b, 2, 1);
    truncate_all(&b, b.n - 30);
    gb_free(&b);
    /* the first 20000 bytes of a real file (inside the header, then inside the data) */
    size_t n;
    uint8_t *p = slurp(FIX "stories260K-q8_0.gguf", &n);
    const char *cut = tmp_path("cut.gguf");
    for (size_t k = 0; k < 20000; k += (k < 16000 ? 11 : 997)) {
        spill(cut, p, k);
        struct qf_model *m = NULL;
        struct qf_error e;
        ck_assert_int_lt(qf_model_open(cut, "gguf", 0, &m, &e), 0);
    }
    free(p);
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * Round trips: read -> save -> identical bytes
 */
START_TEST(test_roundtrip_fixtures)
{
    static const char *const files[] = {
        FIX "stories260K-f32.gguf",    FIX "stories260K-q8_0.gguf",
        FIX "tiny256-Q4_K_M.llq.gguf", FIX "ggml-vocab-llama-spm.gguf",
        FIX "ggml-vocab-bert-bge.gguf", PART(1), PART(2), PART(3),
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        struct qf_model *m = open_ok(files[i], QF_OPEN_NO_SET);
        const char *out = save(m, "rt.gguf");
        qf_model_close(m);
        files_equal(out, files[i]);
        unlink(out);
    }
}
END_TEST

START_TEST(test_roundtrip_crafted)
{
    /* v2 and v3 crafted files are canonical too (the version becomes 3) */
    struct gb b;
    mk_small(&b, 3, 0);
    struct qf_model *m = open_gb_ok(&b, 0);
    const char *out = save(m, "rt.gguf");
    qf_model_close(m);
    files_equal(out, tmp_path("t.gguf"));
    gb_free(&b);
    mk_small(&b, 2, 0);
    m = open_gb_ok(&b, 0);
    out = save(m, "rt.gguf");
    qf_model_close(m);
    size_t n;
    uint8_t *p = slurp(out, &n);
    ck_assert_uint_eq(n, b.n);
    ck_assert_uint_eq(p[4], 3);
    ck_assert(memcmp(p + 8, b.p + 8, n - 8) == 0);
    free(p);
    gb_free(&b);
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * Pipes
 */
static pid_t feed(const void *data, size_t n, int *rfd)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(p[0]);
        signal(SIGPIPE, SIG_DFL);
        const uint8_t *c = data;
        while (n) {
            ssize_t w = write(p[1], c, n);
            if (w <= 0)
                _exit(1);
            c += w;
            n -= (size_t)w;
        }
        close(p[1]);
        _exit(0);
    }
    close(p[1]);
    *rfd = p[0];
    return pid;
}

static void reap(pid_t pid, int fd)
{
    close(fd);
    int st;
    waitpid(pid, &st, 0);
}

static int open_pipe(const void *data, size_t n, unsigned flags, struct qf_model **m,
                     struct qf_error *e, pid_t *pid, int *fd)
{
    char path[32];
    *pid = feed(data, n, fd);
    snprintf(path, sizeof path, "/dev/fd/%d", *fd);
    return qf_model_open(path, "gguf", flags, m, e);
}

START_TEST(test_pipe_tensors)
{
    size_t n;
    uint8_t *p = slurp(FIX "stories260K-q8_0.gguf", &n);
    struct qf_model *ref = open_ok(FIX "stories260K-q8_0.gguf", 0);
    struct qf_model *m = NULL;
    struct qf_error e;
    pid_t pid;
    int fd;
    ck_assert_int_eq(open_pipe(p, n, 0, &m, &e, &pid, &fd), QF_OK);
    ck_assert_int_eq(qf_model_file(m, 0)->seekable, 0);
    ck_assert_uint_eq(qf_model_file(m, 0)->header_size, 14304);
    ck_assert_uint_eq(qf_model_n_kv(m), 25);
    ck_assert_uint_eq(qf_model_n_tensors(m), 47);
    ck_assert_uint_eq(kv_u(m, "general.file_type", QF_V_U32), 7);
    arr_str_eq(&kv_get(m, "tokenizer.ggml.tokens")->val.v.a, 259, "\xe2\x96\x81t");
    /* the pipe stands at the first tensor: every tensor reads back in order */
    for (size_t i = 0; i < 47; i++) {
        const struct qf_tensor *t = qf_model_tensor(m, i), *r = qf_model_tensor(ref, i);
        ck_assert_str_eq(t->name, r->name);
        ck_assert_uint_eq(t->offset, r->offset);
        uint8_t *buf = malloc((size_t)t->nbytes);
        ck_assert_int_eq(qf_model_read(m, t, 0, buf, (size_t)t->nbytes, &e), QF_OK);
        ck_assert(memcmp(buf, qf_model_map(ref, r), (size_t)t->nbytes) == 0);
        free(buf);
    }
    qf_model_close(m);
    reap(pid, fd);
    /* a pipe model saves to the same bytes */
    ck_assert_int_eq(open_pipe(p, n, 0, &m, &e, &pid, &fd), QF_OK);
    const char *out = save(m, "pipe.gguf");
    qf_model_close(m);
    reap(pid, fd);
    files_equal(out, FIX "stories260K-q8_0.gguf");
    qf_model_close(ref);
    free(p);
}
END_TEST

START_TEST(test_pipe_stdin)
{
    size_t n;
    uint8_t *p = slurp(FIX "ggml-vocab-llama-spm.gguf", &n);
    int fd;
    pid_t pid = feed(p, n, &fd);
    ck_assert_int_eq(dup2(fd, 0), 0);
    struct qf_model *m = NULL;
    struct qf_error e;
    /* probed from the first bytes of standard input, a 700 kB header read in pieces */
    int rc = qf_model_open("-", NULL, 0, &m, &e);
    ck_assert_msg(rc == QF_OK, "%s", e.msg);
    ck_assert_str_eq(qf_model_format(m), "gguf");
    ck_assert_str_eq(qf_model_file(m, 0)->path, "-");
    ck_assert_uint_eq(qf_model_n_kv(m), 22);
    const struct qf_array *tok = &kv_get(m, "tokenizer.ggml.tokens")->val.v.a;
    arr_str_eq(tok, 31999, "\xe7\xbb\x99");
    ck_assert(arr_f(&kv_get(m, "tokenizer.ggml.scores")->val.v.a, 1000) == -741.0);
    qf_model_close(m);
    reap(pid, fd);
    free(p);
}
END_TEST

START_TEST(test_pipe_errors)
{
    struct qf_model *m = NULL;
    struct qf_error e;
    pid_t pid;
    int fd;
    /* truncated inside the tensor infos */
    struct gb b;
    mk_small(&b, 3, 0);
    ck_assert_int_eq(open_pipe(b.p, 150, 0, &m, &e, &pid, &fd), QF_EFORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "unexpected end of input"));
    reap(pid, fd);
    /* every prefix fails cleanly through a pipe too */
    for (size_t k = 0; k < 200; k += 3) {
        ck_assert_int_lt(open_pipe(b.p, k, 0, &m, &e, &pid, &fd), 0);
        reap(pid, fd);
    }
    /* the whole file works, a truncated data section fails at read time */
    ck_assert_int_eq(open_pipe(b.p, b.n - 40, 0, &m, &e, &pid, &fd), QF_OK);
    uint8_t buf[34];
    ck_assert_int_eq(qf_model_read(m, tensor(m, "a"), 0, buf, 24, &e), QF_OK);
    ck_assert_int_eq(qf_model_read(m, tensor(m, "b"), 0, buf, 34, &e), QF_EFORMAT);
    qf_model_close(m);
    reap(pid, fd);
    gb_free(&b);
    /* counts above the caps are refused before reading on */
    memset(&b, 0, sizeof b);
    gb_hdr(&b, 3, 0, QFI_MAX_KV + 1);
    gb_kv_u32(&b, "a", 1);
    ck_assert_int_eq(open_pipe(b.p, b.n, 0, &m, &e, &pid, &fd), QF_ELIMIT);
    ck_assert_ptr_nonnull(strstr(e.msg, "metadata records, more than the limit"));
    reap(pid, fd);
    gb_free(&b);
    /* a string longer than the header cap */
    memset(&b, 0, sizeof b);
    gb_hdr(&b, 3, 0, 1);
    gb_str(&b, "k");
    gb_u32(&b, QF_V_STRING);
    gb_u64(&b, QFI_MAX_HEADER_BYTES);
    ck_assert_int_eq(open_pipe(b.p, b.n, 0, &m, &e, &pid, &fd), QF_ELIMIT);
    reap(pid, fd);
    gb_free(&b);
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * Writer
 */
START_TEST(test_writer)
{
    const char *path = tmp_path("w.gguf");
    struct qf_writer_opts o = {0};
    o.no_fsync = 1;
    struct qf_writer *w;
    struct qf_error e;
    ck_assert_int_eq(qf_writer_new("gguf", path, &o, &w, &e), QF_OK);
    struct qf_value v;
    memset(&v, 0, sizeof v);
#define ADD(k) ck_assert_int_eq(qf_writer_add_kv(w, k, &v, &e), QF_OK)
    v.type = QF_V_U8; v.v.u = 200; ADD("t.u8");
    v.type = QF_V_I8; v.v.i = -100; ADD("t.i8");
    v.type = QF_V_U16; v.v.u = 65000; ADD("t.u16");
    v.type = QF_V_I16; v.v.i = -30000; ADD("t.i16");
    v.type = QF_V_U32; v.v.u = 4000000000u; ADD("t.u32");
    v.type = QF_V_I32; v.v.i = -2000000000; ADD("t.i32");
    v.type = QF_V_F32; v.v.f = 0.25; ADD("t.f32");
    v.type = QF_V_BOOL; v.v.u = 1; v.raw_bool = 1; ADD("t.bool");
    v.type = QF_V_U64; v.v.u = UINT64_MAX; ADD("t.u64");
    v.type = QF_V_I64; v.v.i = INT64_MIN; ADD("t.i64");
    v.type = QF_V_F64; v.v.f = -1e300; ADD("t.f64");
    v.type = QF_V_STRING; v.v.s.ptr = "h\xc3\xa9llo"; v.v.s.len = 6; ADD("t.str");
    const uint8_t ints[12] = {1, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 3, 0, 0, 0};
    v.type = QF_V_ARRAY;
    v.v.a = (struct qf_array){QF_V_I32, 3, ints, 12, 0};
    ADD("t.ints");
    const uint8_t strs[] = {1, 0, 0, 0, 0, 0, 0, 0, 'a', 0, 0, 0, 0, 0, 0, 0, 0};
    v.v.a = (struct qf_array){QF_V_STRING, 2, strs, sizeof strs, 0};
    ADD("t.strs");
    /* a big-endian u16 array is re-encoded little-endian */
    const uint8_t be16[4] = {0x12, 0x34, 0xab, 0xcd};
    v.v.a = (struct qf_array){QF_V_U16, 2, be16, 4, QFI_ENC_BE};
    ADD("t.be16");
#undef ADD
    const uint64_t s1[2] = {2, 3}, s2[1] = {64}, s3[3] = {1, 2, 32};
    ck_assert_int_eq(qf_writer_add_tensor(w, "w.f32", QF_TYPE_F32, 2, s1, &e), QF_OK);
    ck_assert_int_eq(qf_writer_add_tensor(w, "w.q8", QF_TYPE_Q8_0, 1, s2, &e), QF_OK);
    ck_assert_int_eq(qf_writer_add_tensor(w, "w.f16", QF_TYPE_F16, 3, s3, &e), QF_OK);
    ck_assert_int_eq(qf_writer_begin_data(w, &e), QF_OK);
    uint8_t data[128];
    for (int i = 0; i < 128; i++)
        data[i] = (uint8_t)i;
    ck_assert_int_eq(qf_writer_write(w, data, 24, &e), QF_OK);
    ck_assert_int_eq(qf_writer_write(w, data, 68, &e), QF_OK);
    ck_assert_int_eq(qf_writer_write(w, data, 128, &e), QF_OK);
    uint64_t fsize = qf_writer_file_size(w);
    ck_assert_int_eq(qf_writer_commit(w, &e), QF_OK);
    qf_writer_free(w);

    struct qf_model *m = open_ok(path, 0);
    ck_assert_uint_eq(qf_model_version(m), 3);
    ck_assert_uint_eq(qf_model_n_kv(m), 15);
    ck_assert_uint_eq(qf_model_file(m, 0)->size, fsize);
    ck_assert_uint_eq(kv_u(m, "t.u8", QF_V_U8), 200);
    ck_assert_int_eq(kv_get(m, "t.i8")->val.v.i, -100);
    ck_assert_uint_eq(kv_u(m, "t.u16", QF_V_U16), 65000);
    ck_assert_int_eq(kv_get(m, "t.i16")->val.v.i, -30000);
    ck_assert_uint_eq(kv_u(m, "t.u32", QF_V_U32), 4000000000u);
    ck_assert_int_eq(kv_get(m, "t.i32")->val.v.i, -2000000000);
    ck_assert(kv_get(m, "t.f32")->val.v.f == 0.25);
    ck_assert_uint_eq(kv_u(m, "t.bool", QF_V_BOOL), 1);
    ck_assert_uint_eq(kv_u(m, "t.u64", QF_V_U64), UINT64_MAX);
    ck_assert(kv_get(m, "t.i64")->val.v.i == INT64_MIN);
    ck_assert(kv_get(m, "t.f64")->val.v.f == -1e300);
    kv_str_eq(m, "t.str", "h\xc3\xa9llo");
    const struct qf_array *a = &kv_get(m, "t.ints")->val.v.a;
    ck_assert_int_eq(arr_i(a, 1), -2);
    ck_assert_int_eq(arr_i(a, 2), 3);
    a = &kv_get(m, "t.strs")->val.v.a;
    arr_str_eq(a, 0, "a");
    arr_str_eq(a, 1, "");
    a = &kv_get(m, "t.be16")->val.v.a;
    ck_assert_uint_eq(a->enc, 0);
    ck_assert_int_eq(arr_i(a, 0), 0x1234);
    ck_assert_int_eq(arr_i(a, 1), 0xabcd);
    /* tensors: reversed dims on disk, padded to 32 */
    const struct qf_tensor *t = tensor(m, "w.f16");
    ck_assert_int_eq(t->n_dims, 3);
    ck_assert_uint_eq(t->shape[0], 1);
    ck_assert_uint_eq(t->shape[2], 32);
    ck_assert_uint_eq(t->data_offset, 32 + 96);
    ck_assert_uint_eq(tensor(m, "w.q8")->nbytes, 68);
    ck_assert_uint_eq(fsize, qf_model_file(m, 0)->header_size + 32 + 96 + 128);
    ck_assert_uint_eq(qf_model_file(m, 0)->header_size % 32, 0);
    const uint8_t *q = qf_model_map(m, tensor(m, "w.q8"));
    ck_assert(memcmp(q, data, 68) == 0);
    ck_assert_ptr_null(qf_model_warning(m, 0));
    qf_model_close(m);
}
END_TEST

START_TEST(test_writer_alignment)
{
    /* opts.alignment 64 without general.alignment: the key is added so readers agree */
    const char *path = tmp_path("a.gguf");
    struct qf_writer_opts o = {0};
    o.no_fsync = 1;
    o.alignment = 64;
    struct qf_writer *w;
    struct qf_error e;
    ck_assert_int_eq(qf_writer_new("gguf", path, &o, &w, &e), QF_OK);
    const uint64_t s[1] = {3};
    ck_assert_int_eq(qf_writer_add_tensor(w, "x", QF_TYPE_F32, 1, s, &e), QF_OK);
    ck_assert_int_eq(qf_writer_add_tensor(w, "y", QF_TYPE_F32, 1, s, &e), QF_OK);
    ck_assert_int_eq(qf_writer_begin_data(w, &e), QF_OK);
    uint8_t d[24] = {0};
    ck_assert_int_eq(qf_writer_write(w, d, 24, &e), QF_OK);
    ck_assert_int_eq(qf_writer_commit(w, &e), QF_OK);
    qf_writer_free(w);
    struct qf_model *m = open_ok(path, 0);
    ck_assert_uint_eq(qf_model_alignment(m), 64);
    ck_assert_uint_eq(kv_u(m, "general.alignment", QF_V_U32), 64);
    ck_assert_uint_eq(tensor(m, "y")->data_offset, 64);
    ck_assert_uint_eq(qf_model_file(m, 0)->size, qf_model_file(m, 0)->header_size + 128);
    qf_model_close(m);

    /* zero tensors: no padding after the header (as gguf-py writes vocab files) */
    ck_assert_int_eq(qf_writer_new("gguf", path, NULL, &w, &e), QF_OK);
    struct qf_value v = {0};
    v.type = QF_V_STRING;
    v.v.s.ptr = "abc";
    v.v.s.len = 3;
    ck_assert_int_eq(qf_writer_add_kv(w, "k", &v, &e), QF_OK);
    ck_assert_int_eq(qf_writer_begin_data(w, &e), QF_OK);
    ck_assert_uint_eq(qf_writer_file_size(w), 24 + 8 + 1 + 4 + 8 + 3);
    qf_writer_free(w);
}
END_TEST

static int plan_fails(const char *name, int type, int n_dims, const uint64_t *shape,
                      const struct qf_value *kv, struct qf_error *e)
{
    struct qf_writer *w;
    struct qf_writer_opts o = {0};
    o.no_fsync = 1;
    ck_assert_int_eq(qf_writer_new("gguf", tmp_path("bad.gguf"), &o, &w, e), QF_OK);
    int rc = QF_OK;
    if (kv)
        rc = qf_writer_add_kv(w, kv->type == QF_V_U64 ? "general.alignment" : "k", kv, e);
    if (!rc && name)
        rc = qf_writer_add_tensor(w, name, type, n_dims, shape, e);
    if (!rc)
        rc = qf_writer_begin_data(w, e);
    qf_writer_free(w);
    return rc;
}

START_TEST(test_writer_refuses)
{
    struct qf_error e;
    const uint64_t s5[5] = {1, 1, 1, 1, 32}, s1[1] = {32};
    ck_assert_int_eq(plan_fails("t", QF_TYPE_F32, 5, s5, NULL, &e), QF_EUNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(e.msg, "5 dimensions"));
    char longname[70];
    memset(longname, 'x', 64);
    longname[64] = '\0';
    ck_assert_int_eq(plan_fails(longname, QF_TYPE_F32, 1, s1, NULL, &e), QF_EUNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(e.msg, "64 bytes long"));
    ck_assert_int_eq(plan_fails("t", QF_TYPE_F8_E4M3, 1, s1, NULL, &e), QF_EUNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(e.msg, "cannot be stored in GGUF"));
    struct qf_value v = {0};
    v.type = QF_V_NULL;
    ck_assert_int_eq(plan_fails(NULL, 0, 0, NULL, &v, &e), QF_EUNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(e.msg, "null values cannot be written"));
    const uint8_t nested[12] = {QF_V_U8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    v.type = QF_V_ARRAY;
    v.v.a = (struct qf_array){QF_V_ARRAY, 1, nested, 12, 0};
    ck_assert_int_eq(plan_fails(NULL, 0, 0, NULL, &v, &e), QF_EUNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(e.msg, "arrays of array"));
    v.type = QF_V_U64;
    v.v.u = 64;
    ck_assert_int_eq(plan_fails(NULL, 0, 0, NULL, &v, &e), QF_EINVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "general.alignment must be a u32"));
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * The committed hostile files: every one is refused with a message
 */
START_TEST(test_hostile_files)
{
    DIR *d = opendir("hostile/gguf");
    ck_assert_msg(d != NULL, "no hostile/gguf directory");
    struct dirent *ent;
    int n = 0;
    while ((ent = readdir(d))) {
        size_t l = strlen(ent->d_name);
        if (l < 5 || strcmp(ent->d_name + l - 5, ".gguf") != 0)
            continue;
        char p[512];
        snprintf(p, sizeof p, "hostile/gguf/%s", ent->d_name);
        struct qf_model *m = NULL;
        struct qf_error e;
        int rc = qf_model_open(p, NULL, 0, &m, &e);
        ck_assert_msg(rc < 0, "%s was accepted", p);
        ck_assert_ptr_null(m);
        ck_assert_msg(e.msg[0] != '\0', "%s: empty message", p);
        /* the file itself, or for a broken split set the part at fault */
        ck_assert_msg(strstr(e.msg, strstr(ent->d_name, "split") ? "hostile/gguf/" : ent->d_name),
                      "%s: message '%s' names no file", p, e.msg);
        /* and also when only this file is read, and as a partial download */
        rc = qf_model_open(p, "gguf", QF_OPEN_NO_SET, &m, &e);
        if (rc == QF_OK) {
            /* only split-set problems may pass when the set is not opened */
            ck_assert_msg(strstr(ent->d_name, "split") != NULL, "%s accepted alone", p);
            qf_model_close(m);
        }
        n++;
    }
    closedir(d);
    ck_assert_int_ge(n, 30);
}
END_TEST

Suite *suite_gguf(void);
Suite *suite_gguf(void)
{
    Suite *s = suite_create("gguf");
    struct {
        const char *name;
        const TTest *tests[12];
    } cases[] = {
        {"probe", {test_probe}},
        {"fixtures", {test_stories_f32, test_q8_0, test_tiny256, test_vocab_spm, test_vocab_bge}},
        {"split",
         {test_split_any_part, test_split_no_set, test_split_errors, test_split_named_without_keys,
          test_split_merge}},
        {"versions", {test_v2, test_v1, test_big_endian, test_big_endian_v1, test_nested_arrays}},
        {"validate",
         {test_bad_header, test_bad_counts, test_bad_strings, test_bad_keys, test_bad_arrays,
          test_bad_alignment, test_bad_tensor_names, test_bad_dims, test_bad_types,
          test_bad_offsets}},
        {"truncate", {test_truncation}},
        {"roundtrip", {test_roundtrip_fixtures, test_roundtrip_crafted}},
        {"pipe", {test_pipe_tensors, test_pipe_stdin, test_pipe_errors}},
        {"writer", {test_writer, test_writer_alignment, test_writer_refuses}},
        {"hostile", {test_hostile_files}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
        tcase_set_timeout(tc, 120);
        for (size_t k = 0; k < 12 && cases[i].tests[k]; k++)
            tcase_add_test(tc, cases[i].tests[k]);
        suite_add_tcase(s, tc);
    }
    return s;
}
