/* Unit tests of the libqfmt core: type table, value decoding, errors, UTF-8, sources, JSON. */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qf_int.h"

Suite *suite_core(void);

START_TEST(test_type_table)
{
    /* sizes from the ggml type table */
    ck_assert_uint_eq(qf_type_info(QF_TYPE_Q4_K)->block_bytes, 144);
    ck_assert_uint_eq(qf_type_info(QF_TYPE_Q4_K)->blck, 256);
    ck_assert_uint_eq(qf_type_info(QF_TYPE_IQ1_M)->block_bytes, 56);
    ck_assert_uint_eq(qf_type_info(QF_TYPE_TQ1_0)->block_bytes, 54);
    ck_assert_uint_eq(qf_type_info(QF_TYPE_MXFP4)->block_bytes, 17);
    ck_assert_str_eq(qf_type_name(QF_TYPE_Q6_K), "q6_K");
    ck_assert_double_eq_tol(qf_type_bpw(QF_TYPE_Q6_K), 6.5625, 1e-12);
    ck_assert_double_eq_tol(qf_type_bpw(QF_TYPE_IQ2_XXS), 2.0625, 1e-12);
    /* removed ids are known but invalid */
    ck_assert_ptr_nonnull(qf_type_info(4));
    ck_assert(!(qf_type_info(4)->flags & QF_TYPEF_VALID));
    ck_assert(qf_type_info(36)->flags & QF_TYPEF_REMOVED);
    ck_assert_ptr_null(qf_type_info(43));
    ck_assert_ptr_null(qf_type_info(-1));
    ck_assert_int_eq(qf_type_from_name("Q4_K"), QF_TYPE_Q4_K);
    ck_assert_int_eq(qf_type_from_name("bf16"), QF_TYPE_BF16);
    ck_assert_int_eq(qf_type_from_name("q4_2"), QF_TYPE_INVALID);
    ck_assert_int_eq(qf_type_from_st_dtype("F8_E4M3", 7), QF_TYPE_F8_E4M3);
    ck_assert_int_eq(qf_type_from_st_dtype("f32", 3), QF_TYPE_INVALID); /* case-sensitive */
    ck_assert_str_eq(qf_type_st_dtype(QF_TYPE_BF16), "BF16");
    ck_assert_ptr_null(qf_type_st_dtype(QF_TYPE_Q8_0));
}
END_TEST

START_TEST(test_type_nbytes)
{
    ck_assert_int_eq(qf_type_nbytes(QF_TYPE_Q8_0, 4096, 4096ull * 4096), 4096ll * 128 * 34);
    ck_assert_int_eq(qf_type_nbytes(QF_TYPE_Q4_K, 172, 172), QF_EFORMAT);
    ck_assert_int_eq(qf_type_nbytes(QF_TYPE_F32, 0, 0), 0);
    ck_assert_int_eq(qf_type_nbytes(4, 32, 32), QF_EFORMAT);
    ck_assert_int_eq(qf_type_nbytes(QF_TYPE_F64, 1, UINT64_MAX / 4), QF_ELIMIT);
    ck_assert_int_eq(qf_type_nbytes(QF_TYPE_F4, 6, 12), 6);
}
END_TEST

START_TEST(test_value_decode)
{
    struct qf_value v;
    const uint8_t le[] = {0x01, 0x02, 0x03, 0x04};
    ck_assert_uint_eq(qfi_value_decode(QF_V_U32, le, 4, 0, 0, &v), 4);
    ck_assert_uint_eq(v.v.u, 0x04030201u);
    ck_assert_uint_eq(qfi_value_decode(QF_V_U32, le, 4, QFI_ENC_BE, 0, &v), 4);
    ck_assert_uint_eq(v.v.u, 0x01020304u);
    ck_assert_uint_eq(qfi_value_decode(QF_V_U32, le, 3, 0, 0, &v), 0); /* short */
    const uint8_t i16[] = {0xfe, 0xff};
    qfi_value_decode(QF_V_I16, i16, 2, 0, 0, &v);
    ck_assert_int_eq(v.v.i, -2);
    const uint8_t f32[] = {0x00, 0x00, 0xc0, 0x3f};
    qfi_value_decode(QF_V_F32, f32, 4, 0, 0, &v);
    ck_assert(v.v.f == 1.5);
    const uint8_t b[] = {2};
    qfi_value_decode(QF_V_BOOL, b, 1, 0, 0, &v);
    ck_assert_uint_eq(v.v.u, 1);
    ck_assert_uint_eq(v.raw_bool, 2);
    /* string with u64 length and with u32 length (v1) */
    const uint8_t s64[] = {3, 0, 0, 0, 0, 0, 0, 0, 'a', 'b', 'c'};
    ck_assert_uint_eq(qfi_value_decode(QF_V_STRING, s64, sizeof s64, 0, 0, &v), 11);
    ck_assert_uint_eq(v.v.s.len, 3);
    ck_assert(memcmp(v.v.s.ptr, "abc", 3) == 0);
    ck_assert_uint_eq(qfi_value_decode(QF_V_STRING, s64, 10, 0, 0, &v), 0);
    const uint8_t s32[] = {2, 0, 0, 0, 'h', 'i'};
    ck_assert_uint_eq(qfi_value_decode(QF_V_STRING, s32, 6, QFI_ENC_LEN32, 0, &v), 6);
    /* array of 2 strings, then nested array of u8 */
    const uint8_t arr[] = {8, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 'x',
                           2, 0, 0, 0, 0, 0, 0, 0, 'y', 'z'};
    ck_assert_uint_eq(qfi_value_decode(QF_V_ARRAY, arr, sizeof arr, 0, 0, &v), sizeof arr);
    ck_assert_int_eq(v.v.a.etype, QF_V_STRING);
    ck_assert_uint_eq(v.v.a.count, 2);
    struct qf_value e;
    ck_assert_int_eq(qf_array_get(&v.v.a, 1, &e), QF_OK);
    ck_assert_uint_eq(e.v.s.len, 2);
    ck_assert(memcmp(e.v.s.ptr, "yz", 2) == 0);
    ck_assert_int_eq(qf_array_get(&v.v.a, 2, &e), QF_ENOTFOUND);
    struct qf_array_iter it;
    qf_array_iter_init(&it, &v.v.a);
    int n = 0;
    while (qf_array_iter_next(&it, &e))
        n++;
    ck_assert_int_eq(n, 2);
    /* count that cannot fit is refused without walking */
    uint8_t huge[12] = {8, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f};
    ck_assert_uint_eq(qfi_value_decode(QF_V_ARRAY, huge, sizeof huge, 0, 0, &v), 0);
    uint8_t hugeu32[12] = {4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x40};
    ck_assert_uint_eq(qfi_value_decode(QF_V_ARRAY, hugeu32, sizeof hugeu32, 0, 0, &v), 0);
    /* nesting deeper than the cap is refused */
    uint8_t deep[12 * 10];
    for (int d = 0; d < 10; d++) {
        qfi_store_le32(deep + 12 * d, QF_V_ARRAY);
        qfi_store_le64(deep + 12 * d + 4, d == 9 ? 0 : 1);
    }
    ck_assert_uint_eq(qfi_value_decode(QF_V_ARRAY, deep, sizeof deep, 0, 0, &v), 0);
    ck_assert_uint_eq(qfi_value_decode(QF_V_ARRAY, deep + 12 * 3, sizeof deep - 36, 0, 0, &v),
                      sizeof deep - 36);
}
END_TEST

START_TEST(test_value_convert)
{
    struct qf_value v = {.type = QF_V_I32};
    v.v.i = -5;
    int64_t i;
    uint64_t u;
    double d;
    ck_assert_int_eq(qf_value_as_i64(&v, &i), QF_OK);
    ck_assert_int_eq(i, -5);
    ck_assert_int_eq(qf_value_as_u64(&v, &u), QF_EINVAL);
    v.type = QF_V_U64;
    v.v.u = UINT64_MAX;
    ck_assert_int_eq(qf_value_as_u64(&v, &u), QF_OK);
    ck_assert_int_eq(qf_value_as_i64(&v, &i), QF_ELIMIT);
    ck_assert_int_eq(qf_value_as_f64(&v, &d), QF_OK);
    v.type = QF_V_STRING;
    ck_assert_int_eq(qf_value_as_f64(&v, &d), QF_EINVAL);
    ck_assert_str_eq(qf_vtype_name(QF_V_F64), "f64");
    ck_assert_str_eq(qf_vtype_name(99), "?");
}
END_TEST

START_TEST(test_error_format)
{
    struct qf_error e;
    qf_error_clear(&e);
    ck_assert_int_eq(qfi_error(&e, QF_EFORMAT, 0, "m.gguf", 24, "bad %s", "thing"), QF_EFORMAT);
    ck_assert_str_eq(e.msg, "m.gguf: offset 24: bad thing");
    ck_assert_int_eq(e.offset, 24);
    qfi_error(&e, QF_EIO, 2, "x", -1, "gone");
    ck_assert_str_eq(e.msg, "x: gone");
    ck_assert_str_eq(qf_strerror(QF_ELIMIT), "limit exceeded");
    ck_assert_int_eq(qfi_error(NULL, QF_EINVAL, 0, NULL, -1, "x"), QF_EINVAL);
    char q[16];
    ck_assert_str_eq(qfi_quote(q, sizeof q, "a\xff'b", 4), "a\\xff\\'b");
    ck_assert_str_eq(qfi_quote(q, sizeof q, "0123456789abcdefghij", 20), "0123456789ab...");
}
END_TEST

START_TEST(test_utf8)
{
    ck_assert(qfi_utf8_valid("hello", 5));
    ck_assert(qfi_utf8_valid("\xc3\xa9", 2));
    ck_assert(qfi_utf8_valid("\xf0\x9f\x98\x80", 4));
    ck_assert(!qfi_utf8_valid("\xc3", 1));          /* truncated */
    ck_assert(!qfi_utf8_valid("\xc0\xaf", 2));      /* overlong */
    ck_assert(!qfi_utf8_valid("\xed\xa0\x80", 3));  /* surrogate */
    ck_assert(!qfi_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    ck_assert(!qfi_utf8_valid("\xff", 1));
}
END_TEST

START_TEST(test_source_file_and_pipe)
{
    char path[] = "/tmp/qf-src-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "0123456789", 10), 10);
    close(fd);
    struct qfi_source *s;
    struct qf_error err;
    ck_assert_int_eq(qfi_source_open(path, &s, &err), QF_OK);
    ck_assert(s->seekable);
    ck_assert_uint_eq(s->size, 10);
    char buf[8];
    ck_assert_int_eq(qfi_source_read(s, 3, buf, 4, &err), QF_OK);
    ck_assert(memcmp(buf, "3456", 4) == 0);
    ck_assert_int_eq(qfi_source_read(s, 8, buf, 4, &err), QF_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "unexpected end of file"));
    ck_assert_int_eq(qfi_source_read(s, UINT64_MAX - 1, buf, 4, &err), QF_EFORMAT);
    ck_assert_int_eq(qfi_source_check_unchanged(s, &err), QF_OK);
    /* the file grows: detected */
    FILE *fp = fopen(path, "ab");
    fputs("x", fp);
    fclose(fp);
    ck_assert_int_eq(qfi_source_check_unchanged(s, &err), QF_EFORMAT);
    qfi_source_close(s);
    unlink(path);

    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(write(p[1], "abcdefgh", 8), 8);
    close(p[1]);
    char dev[32];
    snprintf(dev, sizeof dev, "/dev/fd/%d", p[0]);
    ck_assert_int_eq(qfi_source_open(dev, &s, &err), QF_OK);
    ck_assert(!s->seekable);
    ck_assert_int_eq(qfi_source_read(s, 2, buf, 3, &err), QF_OK);
    ck_assert(memcmp(buf, "cde", 3) == 0);
    ck_assert_int_eq(qfi_source_read(s, 0, buf, 1, &err), QF_EUNSUPPORTED);
    ck_assert_int_eq(qfi_source_read(s, 6, buf, 4, &err), QF_EFORMAT);
    qfi_source_close(s);
    close(p[0]);
    ck_assert_int_eq(qfi_source_open("/nonexistent/qf", &s, &err), QF_EIO);
    ck_assert_str_eq(err.msg, "/nonexistent/qf: cannot open: No such file or directory");
}
END_TEST

static const struct qf_kv *kv(struct qf_model *m, const char *k)
{
    const struct qf_kv *r = qf_model_find_kv(m, k);
    ck_assert_msg(r != NULL, "missing key %s", k);
    return r;
}

START_TEST(test_json_metadata)
{
    const char *text = "{\"hidden_size\": 64, \"rms_norm_eps\": 1e-05, \"tie\": true, "
                       "\"name\": \"x\\u00e9\", \"nothing\": null, \"ids\": [1, 2, 3], "
                       "\"mix\": [1, 2.5], \"objs\": [{\"a\": 1}, {\"b\": [2]}], "
                       "\"nested\": [[1, 2], [3]], \"empty\": {}, "
                       "\"quantization_config\": {\"bits\": 4, \"inner\": {\"sym\": false}}}";
    json_error_t je;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    ck_assert_ptr_nonnull(j);
    struct qf_model *m = qfi_model_new("test");
    struct qf_error err;
    ck_assert_int_eq(qfi_model_add_json(m, j, "", "config.json", 0, &err), QF_OK);
    json_decref(j);
    ck_assert_int_eq(kv(m, "hidden_size")->val.type, QF_V_I64);
    ck_assert_int_eq(kv(m, "hidden_size")->val.v.i, 64);
    ck_assert_str_eq(kv(m, "hidden_size")->origin, "config.json");
    ck_assert(kv(m, "rms_norm_eps")->val.v.f == 1e-05);
    ck_assert_uint_eq(kv(m, "tie")->val.v.u, 1);
    ck_assert_uint_eq(kv(m, "name")->val.v.s.len, 3);
    ck_assert_int_eq(kv(m, "nothing")->val.type, QF_V_NULL);
    const struct qf_array *a = &kv(m, "ids")->val.v.a;
    ck_assert_int_eq(a->etype, QF_V_I64);
    ck_assert_uint_eq(a->count, 3);
    struct qf_value e;
    qf_array_get(a, 2, &e);
    ck_assert_int_eq(e.v.i, 3);
    a = &kv(m, "mix")->val.v.a;
    ck_assert_int_eq(a->etype, QF_V_F64);
    qf_array_get(a, 1, &e);
    ck_assert(e.v.f == 2.5);
    a = &kv(m, "objs")->val.v.a;
    ck_assert_int_eq(a->etype, QF_V_STRING);
    qf_array_get(a, 1, &e);
    ck_assert_uint_eq(e.v.s.len, strlen("{\"b\":[2]}"));
    ck_assert(memcmp(e.v.s.ptr, "{\"b\":[2]}", e.v.s.len) == 0);
    a = &kv(m, "nested")->val.v.a;
    ck_assert_int_eq(a->etype, QF_V_ARRAY);
    qf_array_get(a, 0, &e);
    ck_assert_uint_eq(e.v.a.count, 2);
    ck_assert_ptr_null(qf_model_find_kv(m, "empty"));
    ck_assert_int_eq(kv(m, "quantization_config.bits")->val.v.i, 4);
    ck_assert_uint_eq(kv(m, "quantization_config.inner.sym")->val.v.u, 0);
    qf_model_close(m);
}
END_TEST

START_TEST(test_json_file_errors)
{
    char path[] = "/tmp/qf-json-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    const char *dup = "{\"a\": 1, \"a\": 2}";
    ck_assert_int_eq(write(fd, dup, strlen(dup)), (ssize_t)strlen(dup));
    close(fd);
    void *j;
    struct qf_error err;
    ck_assert_int_eq(qfi_json_load_file(path, &j, &err), QF_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "duplicate"));
    /* deep nesting is refused by the parser, no stack overflow */
    FILE *fp = fopen(path, "wb");
    for (int i = 0; i < 100000; i++)
        fputc('[', fp);
    fclose(fp);
    ck_assert_int_eq(qfi_json_load_file(path, &j, &err), QF_EFORMAT);
    fp = fopen(path, "wb");
    fputs("[1, 2]", fp);
    fclose(fp);
    ck_assert_int_eq(qfi_json_load_file(path, &j, &err), QF_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "object"));
    unlink(path);
}
END_TEST

START_TEST(test_model_index_dup)
{
    struct qf_model *m = qfi_model_new("test");
    struct qf_error err;
    struct qf_tensor t = {0};
    const char *names[] = {"a", "b", "c", "b"};
    for (int i = 0; i < 4; i++) {
        t.name = names[i];
        t.name_len = 1;
        ck_assert_int_eq(qfi_model_add_tensor(m, &t, &err), QF_OK);
    }
    size_t dup = 0;
    ck_assert_int_eq(qfi_model_index_tensors(m, &dup), QF_EFORMAT);
    ck_assert_uint_eq(dup, 3);
    qf_model_close(m);
    m = qfi_model_new("test");
    char name[4000][16];
    for (int i = 0; i < 4000; i++) {
        snprintf(name[i], sizeof name[i], "t%d", i);
        t.name = name[i];
        t.name_len = strlen(name[i]);
        qfi_model_add_tensor(m, &t, &err);
    }
    ck_assert_int_eq(qfi_model_index_tensors(m, &dup), QF_OK);
    ck_assert_uint_eq(qf_model_find_tensor(m, "t3999")->index, 3999);
    ck_assert_ptr_null(qf_model_find_tensor(m, "t4000"));
    qf_model_close(m);
}
END_TEST

START_TEST(test_open_errors)
{
    struct qf_model *m;
    struct qf_error err;
    ck_assert_int_eq(qf_model_open("/nonexistent/x.gguf", NULL, 0, &m, &err), QF_EIO);
    ck_assert_ptr_null(m);
    ck_assert_int_eq(qf_model_open("x", "nosuchformat", 0, &m, &err), QF_EINVAL);
    char path[] = "/tmp/qf-empty-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    ck_assert_int_lt(qf_model_open(path, NULL, 0, &m, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, path));
    fd = open(path, O_WRONLY | O_TRUNC);
    ck_assert_int_eq(write(fd, "hello world, not a model", 24), 24);
    close(fd);
    ck_assert_int_eq(qf_model_open(path, NULL, 0, &m, &err), QF_EUNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err.msg, "not a GGUF or safetensors file"));
    unlink(path);
}
END_TEST

/* A pipe given by path is probed without losing the bytes the probe reads. */
START_TEST(test_open_pipe_probe)
{
    FILE *fp = fopen("fixtures/stories260K-q8_0.gguf", "rb");
    ck_assert_ptr_nonnull(fp);
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        char buf[65536];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, fp)) > 0)
            if (write(p[1], buf, n) != (ssize_t)n)
                break;
        _exit(0);
    }
    fclose(fp);
    close(p[1]);
    char dev[32];
    snprintf(dev, sizeof dev, "/dev/fd/%d", p[0]);
    struct qf_model *m;
    struct qf_error err;
    ck_assert_msg(qf_model_open(dev, NULL, 0, &m, &err) == QF_OK, "%s", err.msg);
    ck_assert_str_eq(qf_model_format(m), "gguf");
    ck_assert_uint_eq(qf_model_n_tensors(m), 47);
    ck_assert_uint_eq(qf_model_n_kv(m), 25);
    qf_model_close(m);
    close(p[0]);
    waitpid(pid, NULL, 0);
}
END_TEST

/* Duplicate tensor names are refused however many tensors are declared. */
START_TEST(test_writer_duplicate_names)
{
    char dir[] = "/tmp/qf-wdup-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/m.gguf", dir);
    const size_t counts[] = {2, 5000};
    for (size_t c = 0; c < 2; c++) {
        struct qf_writer *w;
        struct qf_error err;
        ck_assert_int_eq(qf_writer_new("gguf", path, NULL, &w, &err), QF_OK);
        uint64_t shape[1] = {4};
        char name[32];
        for (size_t i = 0; i < counts[c]; i++) {
            snprintf(name, sizeof name, "t%zu", i == counts[c] - 1 ? (size_t)0 : i);
            ck_assert_int_eq(qf_writer_add_tensor(w, name, QF_TYPE_F32, 1, shape, &err), QF_OK);
        }
        ck_assert_int_eq(qf_writer_begin_data(w, &err), QF_EINVAL);
        ck_assert_ptr_nonnull(strstr(err.msg, "duplicate tensor name 't0'"));
        qf_writer_free(w);
        ck_assert_int_ne(access(path, F_OK), 0);
    }
    ck_assert_int_eq(rmdir(dir), 0); /* no temporary file left either */
}
END_TEST

Suite *suite_core(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_type_table);
    tcase_add_test(tc, test_type_nbytes);
    tcase_add_test(tc, test_value_decode);
    tcase_add_test(tc, test_value_convert);
    tcase_add_test(tc, test_error_format);
    tcase_add_test(tc, test_utf8);
    tcase_add_test(tc, test_source_file_and_pipe);
    tcase_add_test(tc, test_json_metadata);
    tcase_add_test(tc, test_json_file_errors);
    tcase_add_test(tc, test_model_index_dup);
    tcase_add_test(tc, test_open_errors);
    tcase_add_test(tc, test_open_pipe_probe);
    tcase_add_test(tc, test_writer_duplicate_names);
    suite_add_tcase(s, tc);
    return s;
}
