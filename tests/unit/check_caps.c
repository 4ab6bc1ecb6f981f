/* Caps of libqf_int.h (QFI_MAX_*), as qinspect(1) documents them: a real-size vocabulary
 * (262144 tokens with scores and token types, as Gemma 3 ships) opens, and a file just over
 * each cap is refused with QF_ELIMIT (or QF_EFORMAT where another rule fires first) before
 * anything of that size is allocated. Files over the big caps are sparse: the header claims a
 * count or length, ftruncate() makes the file long enough for the "fits in the file" checks to
 * pass, so the cap itself is what refuses it (and a reader allocating by the claimed size
 * would show up as ENOMEM or a slow test, not a pass). */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qf_int.h"

#define VOCAB 262144

static char cdir[256];

static void caps_setup(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(cdir, sizeof cdir, "%s/qf-caps-XXXXXX", t && *t && strlen(t) < 200 ? t : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(cdir));
}

static void caps_teardown(void)
{
    DIR *d = opendir(cdir);
    if (!d)
        return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", cdir, e->d_name);
            unlink(p);
        }
    closedir(d);
    rmdir(cdir);
}

static const char *cpath(const char *name)
{
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", cdir, name);
    return p[k];
}

/* ---------------------------------------------------------------------------------------
 * A little-endian GGUF v3 byte builder */
struct cb {
    uint8_t *p;
    size_t n, cap;
};

static void cb_raw(struct cb *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        ck_assert_ptr_nonnull(b->p);
    }
    if (d)
        memcpy(b->p + b->n, d, n);
    else
        memset(b->p + b->n, 0, n);
    b->n += n;
}

static void cb_u32(struct cb *b, uint32_t v)
{
    uint8_t x[4];
    qfi_store_le32(x, v);
    cb_raw(b, x, 4);
}

static void cb_u64(struct cb *b, uint64_t v)
{
    uint8_t x[8];
    qfi_store_le64(x, v);
    cb_raw(b, x, 8);
}

static void cb_str(struct cb *b, const char *s)
{
    cb_u64(b, strlen(s));
    cb_raw(b, s, strlen(s));
}

static void cb_head(struct cb *b, uint64_t nt, uint64_t nkv)
{
    cb_raw(b, "GGUF", 4);
    cb_u32(b, 3);
    cb_u64(b, nt);
    cb_u64(b, nkv);
}

/* One tensor info: F32, dims innermost first, at relative offset off. */
static void cb_tensor(struct cb *b, const char *name, uint32_t nd, const uint64_t *dims,
                      uint64_t off)
{
    cb_str(b, name);
    cb_u32(b, nd);
    for (uint32_t i = 0; i < nd; i++)
        cb_u64(b, dims[i]);
    cb_u32(b, QF_TYPE_F32);
    cb_u64(b, off);
}

/* Write b to name, then extend the file (sparse) to total bytes if total > b->n. */
static const char *put_file(const char *name, struct cb *b, uint64_t total)
{
    const char *p = cpath(name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, b->p, b->n), (ssize_t)b->n);
    if (total > b->n)
        ck_assert_int_eq(ftruncate(fd, (off_t)total), 0);
    close(fd);
    free(b->p);
    memset(b, 0, sizeof *b);
    return p;
}

/* Open path; returns the code (closing the model on success) and keeps the message. */
static struct qf_error last;
static int try_open(const char *path, const char *format)
{
    struct qf_model *m = NULL;
    int rc = qf_model_open(path, format, QF_OPEN_NO_SET, &m, &last);
    qf_model_close(m);
    return rc;
}

#define ck_refused(rc)                                                                        \
    ck_assert_msg((rc) == QF_ELIMIT || (rc) == QF_EFORMAT, "expected ELIMIT/EFORMAT, got %d (%s)", \
                  (rc), last.msg)
#define ck_limit(rc) ck_assert_msg((rc) == QF_ELIMIT, "expected ELIMIT, got %d (%s)", (rc), last.msg)

/* ---------------------------------------------------------------------------------------
 * A 256k vocabulary through the writer and back */
/* Write a GGUF with a VOCAB-token vocabulary and one F32 tensor [4, 32] holding 0..127. */
static const char *write_vocab(const char *name)
{
    /* tokens: internal array encoding of strings = u64 LE length + bytes */
    struct cb tok = {0};
    uint8_t *scores = malloc((size_t)VOCAB * 4), *types = malloc((size_t)VOCAB * 4);
    ck_assert_ptr_nonnull(scores);
    ck_assert_ptr_nonnull(types);
    char s[32];
    for (uint32_t i = 0; i < VOCAB; i++) {
        snprintf(s, sizeof s, "tok%u", i);
        cb_str(&tok, s);
        float f = -(float)i;
        uint32_t fb;
        memcpy(&fb, &f, 4);
        qfi_store_le32(scores + 4 * i, fb);
        qfi_store_le32(types + 4 * i, i < 3 ? 3 : 1);
    }
    struct qf_writer *w;
    struct qf_error err;
    const char *out = cpath(name);
    struct qf_writer_opts o = {.no_fsync = 1};
    ck_assert_int_eq(qf_writer_new("gguf", out, &o, &w, &err), QF_OK);
    struct qf_value v = {.type = QF_V_STRING};
    v.v.s.ptr = "llama";
    v.v.s.len = 5;
    ck_assert_int_eq(qf_writer_add_kv(w, "general.architecture", &v, &err), QF_OK);
    v.v.s.ptr = "gpt2";
    v.v.s.len = 4;
    ck_assert_int_eq(qf_writer_add_kv(w, "tokenizer.ggml.model", &v, &err), QF_OK);
    struct qf_value a = {.type = QF_V_ARRAY};
    a.v.a = (struct qf_array){QF_V_STRING, VOCAB, tok.p, tok.n, 0};
    ck_assert_int_eq(qf_writer_add_kv(w, "tokenizer.ggml.tokens", &a, &err), QF_OK);
    a.v.a = (struct qf_array){QF_V_F32, VOCAB, scores, (uint64_t)VOCAB * 4, 0};
    ck_assert_int_eq(qf_writer_add_kv(w, "tokenizer.ggml.scores", &a, &err), QF_OK);
    a.v.a = (struct qf_array){QF_V_I32, VOCAB, types, (uint64_t)VOCAB * 4, 0};
    ck_assert_int_eq(qf_writer_add_kv(w, "tokenizer.ggml.token_type", &a, &err), QF_OK);
    uint64_t shape[2] = {4, 32};
    ck_assert_int_eq(qf_writer_add_tensor(w, "token_embd.weight", QF_TYPE_F32, 2, shape, &err),
                     QF_OK);
    ck_assert_int_eq(qf_writer_begin_data(w, &err), QF_OK);
    float data[128];
    for (int i = 0; i < 128; i++)
        data[i] = (float)i;
    ck_assert_int_eq(qf_writer_write(w, data, sizeof data, &err), QF_OK);
    ck_assert_msg(qf_writer_commit(w, &err) == QF_OK, "%s", err.msg);
    qf_writer_free(w);
    free(tok.p);
    free(scores);
    free(types);
    return out;
}

/* Every token, score and type as write_vocab wrote them, and the tensor's data. */
static void check_vocab(struct qf_model *m)
{
    struct qf_error err;
    char s[32];
    const struct qf_kv *kt = qf_model_find_kv(m, "tokenizer.ggml.tokens");
    const struct qf_kv *ks = qf_model_find_kv(m, "tokenizer.ggml.scores");
    const struct qf_kv *ky = qf_model_find_kv(m, "tokenizer.ggml.token_type");
    ck_assert_ptr_nonnull(kt);
    ck_assert_ptr_nonnull(ks);
    ck_assert_ptr_nonnull(ky);
    ck_assert_int_eq(kt->val.v.a.etype, QF_V_STRING);
    ck_assert_uint_eq(kt->val.v.a.count, VOCAB);
    ck_assert_uint_eq(ks->val.v.a.count, VOCAB);
    ck_assert_uint_eq(ky->val.v.a.count, VOCAB);
    /* walk every token: each is "tok<i>" (counted, not asserted one by one: a Check
     * assertion costs a system call) */
    struct qf_array_iter it;
    struct qf_value e;
    uint32_t i = 0, bad = 0;
    qf_array_iter_init(&it, &kt->val.v.a);
    while (qf_array_iter_next(&it, &e)) {
        snprintf(s, sizeof s, "tok%u", i);
        if (e.type != QF_V_STRING || e.v.s.len != strlen(s) || memcmp(e.v.s.ptr, s, strlen(s)))
            bad++;
        i++;
    }
    ck_assert_uint_eq(i, VOCAB);
    ck_assert_uint_eq(bad, 0);
    ck_assert_int_eq(qf_array_get(&ks->val.v.a, VOCAB - 1, &e), QF_OK);
    ck_assert(e.v.f == -(double)(VOCAB - 1));
    ck_assert_int_eq(qf_array_get(&ky->val.v.a, 2, &e), QF_OK);
    ck_assert_int_eq(e.v.i, 3);
    ck_assert_int_eq(qf_array_get(&ky->val.v.a, VOCAB - 1, &e), QF_OK);
    ck_assert_int_eq(e.v.i, 1);
    ck_assert_int_eq(qf_array_get(&ky->val.v.a, VOCAB, &e), QF_ENOTFOUND);
    ck_assert_uint_eq(qf_model_n_tensors(m), 1);
    float back[128];
    ck_assert_int_eq(qf_model_read(m, qf_model_tensor(m, 0), 0, back, sizeof back, &err), QF_OK);
    for (int k = 0; k < 128; k++)
        ck_assert(back[k] == (float)k);
}

START_TEST(test_vocab_256k)
{
    const char *out = write_vocab("vocab.gguf");
    struct qf_model *m;
    struct qf_error err;
    ck_assert_msg(qf_model_open(out, NULL, 0, &m, &err) == QF_OK, "%s", err.msg);
    check_vocab(m);
    qf_model_close(m);
}
END_TEST

/* The same through a pipe: the header (a few MB of 262144 short strings) is pulled into a
 * buffer that must grow geometrically, not by the few bytes each string adds (which made
 * this quadratic: minutes under ASan). The test's timeout is the assertion. */
START_TEST(test_vocab_256k_pipe)
{
    const char *out = write_vocab("vocab.gguf");
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        int in = open(out, O_RDONLY);
        char buf[65536];
        ssize_t r;
        while (in >= 0 && (r = read(in, buf, sizeof buf)) > 0)
            if (write(fds[1], buf, (size_t)r) != r)
                _exit(1);
        _exit(0);
    }
    close(fds[1]);
    char path[64];
    snprintf(path, sizeof path, "/dev/fd/%d", fds[0]);
    struct qf_model *m;
    struct qf_error err;
    ck_assert_msg(qf_model_open(path, "gguf", 0, &m, &err) == QF_OK, "%s", err.msg);
    ck_assert_int_eq(qf_model_file(m, 0)->seekable, 0);
    check_vocab(m);
    qf_model_close(m);
    close(fds[0]);
    int st;
    waitpid(pid, &st, 0);
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * GGUF: counts */
START_TEST(test_gguf_tensor_count)
{
    struct cb b = {0};
    uint64_t n = QFI_MAX_TENSORS + 1;
    cb_head(&b, n, 0);
    /* room for n of the smallest tensor infos (25 bytes), so only the cap can refuse it */
    int rc = try_open(put_file("nt.gguf", &b, 24 + n * 25 + 64), "gguf");
    ck_limit(rc);
    ck_assert_ptr_nonnull(strstr(last.msg, "tensors"));
}
END_TEST

START_TEST(test_gguf_kv_count)
{
    struct cb b = {0};
    uint64_t n = QFI_MAX_KV + 1;
    cb_head(&b, 0, n);
    int rc = try_open(put_file("nkv.gguf", &b, 24 + n * 14 + 64), "gguf");
    ck_limit(rc);
    ck_assert_ptr_nonnull(strstr(last.msg, "metadata records"));
}
END_TEST

START_TEST(test_gguf_array_count)
{
    struct cb b = {0};
    cb_head(&b, 0, 1);
    cb_str(&b, "a");
    cb_u32(&b, QF_V_ARRAY);
    cb_u32(&b, QF_V_U8);
    cb_u64(&b, QFI_MAX_ARRAY + 1);
    int rc = try_open(put_file("arr.gguf", &b, QFI_MAX_ARRAY + 4096), "gguf");
    ck_limit(rc);
    ck_assert_ptr_nonnull(strstr(last.msg, "limit"));
}
END_TEST

START_TEST(test_gguf_string_len)
{
    struct cb b = {0};
    cb_head(&b, 0, 1);
    cb_str(&b, "s");
    cb_u32(&b, QF_V_STRING);
    cb_u64(&b, QFI_MAX_STRING + 1);
    int rc = try_open(put_file("str.gguf", &b, QFI_MAX_STRING + 4096), "gguf");
    ck_limit(rc);
}
END_TEST

/* A header over 1 GiB: a string at the string cap plus one more record. */
START_TEST(test_gguf_header_bytes)
{
    struct cb b = {0};
    cb_head(&b, 0, 2);
    cb_str(&b, "s");
    cb_u32(&b, QF_V_STRING);
    cb_u64(&b, QFI_MAX_STRING);
    const char *p = put_file("hdr.gguf", &b, 0);
    /* the string's bytes (zeros, sparse), then record 2 */
    struct cb t = {0};
    cb_str(&t, "t");
    cb_u32(&t, QF_V_U8);
    cb_raw(&t, "x", 1);
    int fd = open(p, O_WRONLY);
    ck_assert_int_ge(fd, 0);
    off_t at = (off_t)(24 + 8 + 1 + 4 + 8 + QFI_MAX_STRING);
    ck_assert_int_eq(pwrite(fd, t.p, t.n, at), (ssize_t)t.n);
    close(fd);
    free(t.p);
    int rc = try_open(p, "gguf");
    ck_limit(rc);
}
END_TEST

/* Nested arrays: 8 levels open, 9 are refused. */
static const char *nested(const char *name, int levels)
{
    struct cb b = {0};
    cb_head(&b, 0, 1);
    cb_str(&b, "n");
    cb_u32(&b, QF_V_ARRAY);
    for (int i = 1; i < levels; i++) {
        cb_u32(&b, QF_V_ARRAY);
        cb_u64(&b, 1);
    }
    cb_u32(&b, QF_V_U8);
    cb_u64(&b, 1);
    cb_raw(&b, "\x07", 1);
    return put_file(name, &b, 0);
}

START_TEST(test_gguf_nesting)
{
    ck_assert_msg(try_open(nested("n8.gguf", QFI_MAX_ARRAY_DEPTH), "gguf") == QF_OK, "%s",
                  last.msg);
    ck_limit(try_open(nested("n9.gguf", QFI_MAX_ARRAY_DEPTH + 1), "gguf"));
}
END_TEST

/* Tensor names: 63 bytes open, 64 are refused (llama.cpp's GGML_MAX_NAME counts the NUL). */
START_TEST(test_gguf_name_len)
{
    char name[80];
    uint64_t d[1] = {8};
    for (int len = 63; len <= 64; len++) {
        memset(name, 'n', (size_t)len);
        name[len] = '\0';
        struct cb b = {0};
        cb_head(&b, 1, 0);
        cb_tensor(&b, name, 1, d, 0);
        while (b.n % 32)
            cb_raw(&b, NULL, 1);
        cb_raw(&b, NULL, 32);
        int rc = try_open(put_file(len == 63 ? "n63.gguf" : "n64.gguf", &b, 0), "gguf");
        if (len == 63)
            ck_assert_msg(rc == QF_OK, "%s", last.msg);
        else
            ck_refused(rc);
    }
}
END_TEST

/* Dimensions: 4 open, 5 are refused. */
START_TEST(test_gguf_dims)
{
    uint64_t d[5] = {2, 1, 1, 1, 1};
    for (uint32_t nd = 4; nd <= 5; nd++) {
        struct cb b = {0};
        cb_head(&b, 1, 0);
        cb_tensor(&b, "t", nd, d, 0);
        while (b.n % 32)
            cb_raw(&b, NULL, 1);
        cb_raw(&b, NULL, 32);
        int rc = try_open(put_file(nd == 4 ? "d4.gguf" : "d5.gguf", &b, 0), "gguf");
        if (nd == 4)
            ck_assert_msg(rc == QF_OK, "%s", last.msg);
        else
            ck_refused(rc);
    }
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * safetensors */
static const char *st_file(const char *name, const char *json, uint64_t hlen, size_t data)
{
    struct cb b = {0};
    cb_u64(&b, hlen ? hlen : strlen(json));
    cb_raw(&b, json, strlen(json));
    cb_raw(&b, NULL, data);
    return put_file(name, &b, 0);
}

START_TEST(test_st_header_len)
{
    /* the length alone is over the cap: refused before reading (or mapping) the JSON */
    ck_limit(try_open(st_file("h.safetensors", "{}", QFI_MAX_ST_HEADER + 1, 0), "safetensors"));
    ck_assert_ptr_nonnull(strstr(last.msg, "100000000"));
}
END_TEST

START_TEST(test_st_name_len)
{
    for (int len = QFI_MAX_NAME; len <= QFI_MAX_NAME + 1; len++) {
        char *json = malloc((size_t)len + 128);
        ck_assert_ptr_nonnull(json);
        json[0] = '{';
        json[1] = '"';
        memset(json + 2, 'n', (size_t)len);
        strcpy(json + 2 + len, "\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}");
        int rc = try_open(st_file(len == QFI_MAX_NAME ? "ok.safetensors" : "long.safetensors",
                                  json, 0, 2),
                          "safetensors");
        free(json);
        if (len == QFI_MAX_NAME)
            ck_assert_msg(rc == QF_OK, "%s", last.msg);
        else
            ck_refused(rc);
    }
}
END_TEST

START_TEST(test_st_dims)
{
    ck_assert_msg(try_open(st_file("d8.safetensors",
                                   "{\"t\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,2],"
                                   "\"data_offsets\":[0,2]}}",
                                   0, 2),
                           "safetensors") == QF_OK,
                  "%s", last.msg);
    ck_refused(try_open(st_file("d9.safetensors",
                                "{\"t\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,2],"
                                "\"data_offsets\":[0,2]}}",
                                0, 2),
                        "safetensors"));
}
END_TEST

/* config.json over 64 MiB next to valid weights: refused by its size, never read. */
START_TEST(test_json_side_file)
{
    st_file("model.safetensors",
            "{\"t\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 0, 2);
    struct cb b = {0};
    cb_raw(&b, "{\"a\":1}", 7);
    put_file("config.json", &b, QFI_MAX_JSON_BYTES + 1);
    struct qf_model *m = NULL;
    int rc = qf_model_open(cdir, NULL, 0, &m, &last);
    qf_model_close(m);
    ck_limit(rc);
    ck_assert_ptr_nonnull(strstr(last.msg, "config.json"));
    /* and without reading side files, the weights alone open */
    ck_assert_int_eq(qf_model_open(cdir, NULL, QF_OPEN_NO_CONFIG, &m, &last), QF_OK);
    qf_model_close(m);
}
END_TEST

Suite *suite_caps(void);
Suite *suite_caps(void)
{
    Suite *s = suite_create("caps");
    TCase *tc = tcase_create("caps");
    tcase_add_checked_fixture(tc, caps_setup, caps_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_vocab_256k);
    tcase_add_test(tc, test_vocab_256k_pipe);
    tcase_add_test(tc, test_gguf_tensor_count);
    tcase_add_test(tc, test_gguf_kv_count);
    tcase_add_test(tc, test_gguf_array_count);
    tcase_add_test(tc, test_gguf_string_len);
    tcase_add_test(tc, test_gguf_header_bytes);
    tcase_add_test(tc, test_gguf_nesting);
    tcase_add_test(tc, test_gguf_name_len);
    tcase_add_test(tc, test_gguf_dims);
    tcase_add_test(tc, test_st_header_len);
    tcase_add_test(tc, test_st_name_len);
    tcase_add_test(tc, test_st_dims);
    tcase_add_test(tc, test_json_side_file);
    suite_add_tcase(s, tc);
    return s;
}
