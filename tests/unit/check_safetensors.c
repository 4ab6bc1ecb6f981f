/* check_safetensors.c - the safetensors container: reference-written fixtures, the spec's byte
 * examples, every validation rule, truncation, shards, pipes and the hostile corpus. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qf/qf.h"
#include "qf_int.h" /* the module's probe, called directly */

Suite *suite_safetensors(void);

/* ---------------------------------------------------------------------------------------
 * Helpers */
static char tmpdir[256];

static void mk_tmpdir(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/qf-st-XXXXXX", t && *t ? t : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void rm_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *de;
        while (d && (de = readdir(d)) != NULL) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            char p[1024];
            snprintf(p, sizeof p, "%s/%s", path, de->d_name);
            rm_tree(p);
        }
        if (d)
            closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static void rm_tmpdir(void)
{
    if (tmpdir[0])
        rm_tree(tmpdir);
    tmpdir[0] = '\0';
}

static const char *tpath(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc(n > 0 ? (size_t)n : 1);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

/* A safetensors file: N = len(json) (no padding), the JSON, then datalen bytes 0,1,2,... */
static size_t mk_st(uint8_t *out, size_t cap, const char *json, size_t jlen, size_t datalen)
{
    ck_assert_uint_le(8 + jlen + datalen, cap);
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)((uint64_t)jlen >> (8 * i));
    memcpy(out + 8, json, jlen);
    for (size_t i = 0; i < datalen; i++)
        out[8 + jlen + i] = (uint8_t)i;
    return 8 + jlen + datalen;
}

static void write_str(const char *path, const char *s)
{
    write_file(path, s, strlen(s));
}

static void write_st(const char *path, const char *json, size_t datalen)
{
    static uint8_t buf[1 << 16];
    size_t n = mk_st(buf, sizeof buf, json, strlen(json), datalen);
    write_file(path, buf, n);
}

static const struct qf_kv *kv_of(const struct qf_model *m, const char *key, const char *origin)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i < qf_model_n_kv(m); i++) {
        const struct qf_kv *kv = qf_model_kv(m, i);
        if (kv->key.len == kl && !memcmp(kv->key.ptr, key, kl) && !strcmp(kv->origin, origin))
            return kv;
    }
    return NULL;
}

static int64_t kv_int(const struct qf_model *m, const char *key, const char *origin)
{
    const struct qf_kv *kv = kv_of(m, key, origin);
    ck_assert_msg(kv != NULL, "no key %s (%s)", key, origin);
    int64_t v;
    ck_assert_int_eq(qf_value_as_i64(&kv->val, &v), QF_OK);
    return v;
}

static int kv_str_is(const struct qf_model *m, const char *key, const char *origin, const char *s)
{
    const struct qf_kv *kv = kv_of(m, key, origin);
    return kv && kv->val.type == QF_V_STRING && kv->val.v.s.len == strlen(s) &&
           !memcmp(kv->val.v.s.ptr, s, strlen(s));
}

/* Open must fail with code and a message containing what. */
static void expect_fail(const char *path, unsigned flags, int code, const char *what)
{
    struct qf_model *m = NULL;
    struct qf_error e;
    int rc = qf_model_open(path, "safetensors", flags, &m, &e);
    ck_assert_msg(rc == code, "%s: expected code %d, got %d (%s)", path, code, rc,
                  rc ? e.msg : "opened");
    ck_assert_ptr_null(m);
    ck_assert_int_eq(e.code, code);
    ck_assert_msg(strstr(e.msg, what) != NULL, "message '%s' lacks '%s'", e.msg, what);
}

static struct qf_model *must_open(const char *path, const char *format, unsigned flags)
{
    struct qf_model *m = NULL;
    struct qf_error e;
    int rc = qf_model_open(path, format, flags, &m, &e);
    ck_assert_msg(rc == QF_OK, "open %s: %s", path, e.msg);
    return m;
}

/* ---------------------------------------------------------------------------------------
 * Expected headers of the reference-written fixtures, computed with python3's json module
 * from the files (tensors sorted by data_offsets). */
struct exp_t {
    const char *name, *dtype;
    int nd;
    uint64_t shape[2];
    uint64_t begin, end;
};

static const struct exp_t stories_exp[] = {
    {"model.embed_tokens.weight", "F32", 2, {512, 64}, 0, 131072},
    {"model.layers.0.input_layernorm.weight", "F32", 1, {64}, 131072, 131328},
    {"model.layers.0.mlp.down_proj.weight", "F32", 2, {64, 172}, 131328, 175360},
    {"model.layers.0.mlp.gate_proj.weight", "F32", 2, {172, 64}, 175360, 219392},
    {"model.layers.0.mlp.up_proj.weight", "F32", 2, {172, 64}, 219392, 263424},
    {"model.layers.0.post_attention_layernorm.weight", "F32", 1, {64}, 263424, 263680},
    {"model.layers.0.self_attn.k_proj.weight", "F32", 2, {32, 64}, 263680, 271872},
    {"model.layers.0.self_attn.o_proj.weight", "F32", 2, {64, 64}, 271872, 288256},
    {"model.layers.0.self_attn.q_proj.weight", "F32", 2, {64, 64}, 288256, 304640},
    {"model.layers.0.self_attn.v_proj.weight", "F32", 2, {32, 64}, 304640, 312832},
    {"model.layers.1.input_layernorm.weight", "F32", 1, {64}, 312832, 313088},
    {"model.layers.1.mlp.down_proj.weight", "F32", 2, {64, 172}, 313088, 357120},
    {"model.layers.1.mlp.gate_proj.weight", "F32", 2, {172, 64}, 357120, 401152},
    {"model.layers.1.mlp.up_proj.weight", "F32", 2, {172, 64}, 401152, 445184},
    {"model.layers.1.post_attention_layernorm.weight", "F32", 1, {64}, 445184, 445440},
    {"model.layers.1.self_attn.k_proj.weight", "F32", 2, {32, 64}, 445440, 453632},
    {"model.layers.1.self_attn.o_proj.weight", "F32", 2, {64, 64}, 453632, 470016},
    {"model.layers.1.self_attn.q_proj.weight", "F32", 2, {64, 64}, 470016, 486400},
    {"model.layers.1.self_attn.v_proj.weight", "F32", 2, {32, 64}, 486400, 494592},
    {"model.layers.2.input_layernorm.weight", "F32", 1, {64}, 494592, 494848},
    {"model.layers.2.mlp.down_proj.weight", "F32", 2, {64, 172}, 494848, 538880},
    {"model.layers.2.mlp.gate_proj.weight", "F32", 2, {172, 64}, 538880, 582912},
    {"model.layers.2.mlp.up_proj.weight", "F32", 2, {172, 64}, 582912, 626944},
    {"model.layers.2.post_attention_layernorm.weight", "F32", 1, {64}, 626944, 627200},
    {"model.layers.2.self_attn.k_proj.weight", "F32", 2, {32, 64}, 627200, 635392},
    {"model.layers.2.self_attn.o_proj.weight", "F32", 2, {64, 64}, 635392, 651776},
    {"model.layers.2.self_attn.q_proj.weight", "F32", 2, {64, 64}, 651776, 668160},
    {"model.layers.2.self_attn.v_proj.weight", "F32", 2, {32, 64}, 668160, 676352},
    {"model.layers.3.input_layernorm.weight", "F32", 1, {64}, 676352, 676608},
    {"model.layers.3.mlp.down_proj.weight", "F32", 2, {64, 172}, 676608, 720640},
    {"model.layers.3.mlp.gate_proj.weight", "F32", 2, {172, 64}, 720640, 764672},
    {"model.layers.3.mlp.up_proj.weight", "F32", 2, {172, 64}, 764672, 808704},
    {"model.layers.3.post_attention_layernorm.weight", "F32", 1, {64}, 808704, 808960},
    {"model.layers.3.self_attn.k_proj.weight", "F32", 2, {32, 64}, 808960, 817152},
    {"model.layers.3.self_attn.o_proj.weight", "F32", 2, {64, 64}, 817152, 833536},
    {"model.layers.3.self_attn.q_proj.weight", "F32", 2, {64, 64}, 833536, 849920},
    {"model.layers.3.self_attn.v_proj.weight", "F32", 2, {32, 64}, 849920, 858112},
    {"model.layers.4.input_layernorm.weight", "F32", 1, {64}, 858112, 858368},
    {"model.layers.4.mlp.down_proj.weight", "F32", 2, {64, 172}, 858368, 902400},
    {"model.layers.4.mlp.gate_proj.weight", "F32", 2, {172, 64}, 902400, 946432},
    {"model.layers.4.mlp.up_proj.weight", "F32", 2, {172, 64}, 946432, 990464},
    {"model.layers.4.post_attention_layernorm.weight", "F32", 1, {64}, 990464, 990720},
    {"model.layers.4.self_attn.k_proj.weight", "F32", 2, {32, 64}, 990720, 998912},
    {"model.layers.4.self_attn.o_proj.weight", "F32", 2, {64, 64}, 998912, 1015296},
    {"model.layers.4.self_attn.q_proj.weight", "F32", 2, {64, 64}, 1015296, 1031680},
    {"model.layers.4.self_attn.v_proj.weight", "F32", 2, {32, 64}, 1031680, 1039872},
    {"model.norm.weight", "F32", 1, {64}, 1039872, 1040128},
};

static const struct exp_t tiny_exp[] = {
    {"lm_head.weight", "BF16", 2, {512, 256}, 0, 262144},
    {"model.embed_tokens.weight", "BF16", 2, {512, 256}, 262144, 524288},
    {"model.layers.0.input_layernorm.weight", "BF16", 1, {256}, 524288, 524800},
    {"model.layers.0.mlp.down_proj.weight", "BF16", 2, {256, 768}, 524800, 918016},
    {"model.layers.0.mlp.gate_proj.weight", "BF16", 2, {768, 256}, 918016, 1311232},
    {"model.layers.0.mlp.up_proj.weight", "BF16", 2, {768, 256}, 1311232, 1704448},
    {"model.layers.0.post_attention_layernorm.weight", "BF16", 1, {256}, 1704448, 1704960},
    {"model.layers.0.self_attn.k_proj.weight", "BF16", 2, {128, 256}, 1704960, 1770496},
    {"model.layers.0.self_attn.o_proj.weight", "BF16", 2, {256, 256}, 1770496, 1901568},
    {"model.layers.0.self_attn.q_proj.weight", "BF16", 2, {256, 256}, 1901568, 2032640},
    {"model.layers.0.self_attn.v_proj.weight", "BF16", 2, {128, 256}, 2032640, 2098176},
    {"model.layers.1.input_layernorm.weight", "BF16", 1, {256}, 2098176, 2098688},
    {"model.layers.1.mlp.down_proj.weight", "BF16", 2, {256, 768}, 2098688, 2491904},
    {"model.layers.1.mlp.gate_proj.weight", "BF16", 2, {768, 256}, 2491904, 2885120},
    {"model.layers.1.mlp.up_proj.weight", "BF16", 2, {768, 256}, 2885120, 3278336},
    {"model.layers.1.post_attention_layernorm.weight", "BF16", 1, {256}, 3278336, 3278848},
    {"model.layers.1.self_attn.k_proj.weight", "BF16", 2, {128, 256}, 3278848, 3344384},
    {"model.layers.1.self_attn.o_proj.weight", "BF16", 2, {256, 256}, 3344384, 3475456},
    {"model.layers.1.self_attn.q_proj.weight", "BF16", 2, {256, 256}, 3475456, 3606528},
    {"model.layers.1.self_attn.v_proj.weight", "BF16", 2, {128, 256}, 3606528, 3672064},
    {"model.norm.weight", "BF16", 1, {256}, 3672064, 3672576},
};

static const struct exp_t gptq_exp[] = {
    {"model.layers.0.mlp.down_proj.g_idx", "I32", 1, {384}, 0, 1536},
    {"model.layers.0.mlp.down_proj.qweight", "I32", 2, {48, 128}, 1536, 26112},
    {"model.layers.0.mlp.down_proj.qzeros", "I32", 2, {3, 16}, 26112, 26304},
    {"model.layers.0.mlp.down_proj.scales", "F16", 2, {3, 128}, 26304, 27072},
    {"model.layers.0.self_attn.k_proj.bias", "F16", 1, {64}, 27072, 27200},
    {"model.layers.0.self_attn.k_proj.g_idx", "I32", 1, {256}, 27200, 28224},
    {"model.layers.0.self_attn.k_proj.qweight", "I32", 2, {32, 64}, 28224, 36416},
    {"model.layers.0.self_attn.k_proj.qzeros", "I32", 2, {2, 8}, 36416, 36480},
    {"model.layers.0.self_attn.k_proj.scales", "F16", 2, {2, 64}, 36480, 36736},
};

static const struct exp_t fp8_exp[] = {
    {"model.layers.0.mlp.down_proj.weight", "F8_E4M3", 2, {128, 384}, 0, 49152},
    {"model.layers.0.mlp.down_proj.weight_scale", "BF16", 2, {128, 1}, 49152, 49408},
    {"model.layers.0.self_attn.k_proj.bias", "BF16", 1, {64}, 49408, 49536},
    {"model.layers.0.self_attn.k_proj.weight", "F8_E4M3", 2, {64, 256}, 49536, 65920},
    {"model.layers.0.self_attn.k_proj.weight_scale", "BF16", 2, {64, 1}, 65920, 66048},
};

/* Every tensor as expected, and its data equal to the file's bytes at 8 + N + begin. */
static void check_tensors(struct qf_model *m, const char *file, uint64_t n_hdr,
                          const struct exp_t *exp, size_t n_exp, int file_index)
{
    size_t flen;
    uint8_t *raw = read_all(file, &flen);
    ck_assert_uint_eq(qf_model_n_tensors(m), n_exp);
    for (size_t i = 0; i < n_exp; i++) {
        const struct qf_tensor *t = qf_model_tensor(m, i);
        ck_assert_str_eq(t->name, exp[i].name);
        ck_assert_uint_eq(t->name_len, strlen(exp[i].name));
        ck_assert_int_eq(t->type, qf_type_from_st_dtype(exp[i].dtype, strlen(exp[i].dtype)));
        ck_assert_int_eq(t->n_dims, exp[i].nd);
        uint64_t ne = 1;
        for (int d = 0; d < exp[i].nd; d++) {
            ck_assert_uint_eq(t->shape[d], exp[i].shape[d]);
            ne *= exp[i].shape[d];
        }
        ck_assert_uint_eq(t->nelem, ne);
        ck_assert_uint_eq(t->data_offset, exp[i].begin);
        ck_assert_uint_eq(t->offset, 8 + n_hdr + exp[i].begin);
        ck_assert_uint_eq(t->nbytes, exp[i].end - exp[i].begin);
        ck_assert_int_eq(t->file_index, file_index);
        ck_assert_int_eq(qf_model_tensor_complete(m, t), 1);
        ck_assert_ptr_eq(qf_model_find_tensor(m, exp[i].name), t);
        uint8_t *buf = malloc(t->nbytes ? t->nbytes : 1);
        struct qf_error e;
        ck_assert_int_eq(qf_model_read(m, t, 0, buf, t->nbytes, &e), QF_OK);
        ck_assert(memcmp(buf, raw + 8 + n_hdr + exp[i].begin, t->nbytes) == 0);
        free(buf);
    }
    free(raw);
}

/* ---------------------------------------------------------------------------------------
 * Probe */
START_TEST(test_probe)
{
    int (*probe)(const uint8_t *, size_t, uint64_t, const char *, int) =
        qfi_format_safetensors.probe;
    ck_assert_str_eq(qfi_format_safetensors.name, "safetensors");
    static const uint8_t hdr[] = "\x40\0\0\0\0\0\0\0{\"attn.0\":{\"dtype\"";
    static const uint8_t ws[] = "\x40\0\0\0\0\0\0\0 \n\t\r{\"a\"";
    int hi = probe(hdr, sizeof hdr - 1, 96, "x.bin", 0);
    ck_assert_int_ge(hi, 90);
    ck_assert_int_eq(probe(ws, sizeof ws - 1, 96, "x.bin", 0), hi);
    ck_assert_int_eq(probe(hdr, sizeof hdr - 1, 0, "-", 0), hi); /* size unknown: a pipe */
    ck_assert_int_eq(probe(hdr, sizeof hdr - 1, 71, "x.bin", 0), 0); /* N past the end */
    ck_assert_int_eq(probe((const uint8_t *)"GGUF\3\0\0\0\0\0", 10, 1000, "x.bin", 0), 0);
    ck_assert_int_eq(probe((const uint8_t *)"\x40\0\0\0\0\0\0\0[1]", 11, 96, "x", 0), 0);
    ck_assert_int_eq(probe((const uint8_t *)"\x01\0\0\0\0\0\0\0{", 9, 96, "x", 0), 0);
    ck_assert_int_eq(probe((const uint8_t *)"", 0, 0, "m.safetensors.index.json", 0), 90);
    int named = probe((const uint8_t *)"junk", 4, 4, "dir/m.safetensors", 0);
    ck_assert_int_gt(named, 0);
    ck_assert_int_lt(named, hi);
    ck_assert_int_ge(probe(NULL, 0, 0, "fixtures/stories260K-hf", 1), 90);
    ck_assert_int_ge(probe(NULL, 0, 0, "fixtures/st-gptq-b4-g128-sym", 1), 90);
    ck_assert_int_eq(probe(NULL, 0, 0, "unit", 1), 0);
    /* through qf_model_open with no format: the auction must pick safetensors */
    struct qf_model *m = must_open("fixtures/stories260K-hf/model.safetensors", NULL, 0);
    ck_assert_str_eq(qf_model_format(m), "safetensors");
    ck_assert_uint_eq(qf_model_version(m), 0);
    qf_model_close(m);
    m = must_open("fixtures/tiny256-hf", NULL, 0);
    ck_assert_str_eq(qf_model_format(m), "safetensors");
    qf_model_close(m);
    /* a leading-whitespace header still probes as safetensors */
    mk_tmpdir();
    write_st(tpath("x.bin"), " \t\n{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2);
    m = must_open(tpath("x.bin"), NULL, 0);
    ck_assert_str_eq(qf_model_format(m), "safetensors");
    ck_assert_uint_eq(qf_model_n_tensors(m), 1);
    qf_model_close(m);
    /* a file named .safetensors with junk: the auction gives it to us and the error is ours */
    write_file(tpath("junk.safetensors"), "\xff\xff\xff\xff\xff\xff\xff\xff{}", 10);
    struct qf_error e;
    ck_assert_int_eq(qf_model_open(tpath("junk.safetensors"), NULL, 0, &m, &e), QF_ELIMIT);
    ck_assert_ptr_nonnull(strstr(e.msg, "header length"));
    /* an HF directory with config.json but no weights */
    mkdir(tpath("noweights"), 0755);
    write_str(tpath("noweights/config.json"), "{\"hidden_size\": 8}");
    ck_assert_int_eq(qf_model_open(tpath("noweights"), NULL, 0, &m, &e), QF_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(e.msg, "config.json but no weights"));
    rm_tmpdir();
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * Reference-written fixtures */
START_TEST(test_stories_file)
{
    const char *f = "fixtures/stories260K-hf/model.safetensors";
    struct qf_model *m = must_open(f, "safetensors", 0);
    ck_assert_str_eq(qf_model_format(m), "safetensors");
    check_tensors(m, f, 4856, stories_exp, sizeof stories_exp / sizeof stories_exp[0], 0);
    /* files: the weights, then config.json */
    ck_assert_uint_eq(qf_model_n_files(m), 2);
    const struct qf_file_info *fi = qf_model_file(m, 0);
    ck_assert_str_eq(fi->path, f);
    ck_assert_str_eq(fi->role, "safetensors");
    ck_assert_uint_eq(fi->size, 1044992);
    ck_assert_uint_eq(fi->header_size, 8 + 4856);
    ck_assert_int_eq(fi->seekable, 1);
    ck_assert_str_eq(qf_model_file(m, 1)->role, "config");
    /* __metadata__ */
    ck_assert(kv_str_is(m, "format", "__metadata__", "pt"));
    /* config.json, unprefixed */
    ck_assert_int_eq(kv_int(m, "hidden_size", "config.json"), 64);
    ck_assert_int_eq(kv_int(m, "intermediate_size", "config.json"), 172);
    ck_assert_int_eq(kv_int(m, "num_hidden_layers", "config.json"), 5);
    ck_assert_int_eq(kv_int(m, "num_key_value_heads", "config.json"), 4);
    ck_assert_int_eq(kv_int(m, "vocab_size", "config.json"), 512);
    const struct qf_kv *tie = kv_of(m, "tie_word_embeddings", "config.json");
    ck_assert_ptr_nonnull(tie);
    ck_assert_int_eq(tie->val.type, QF_V_BOOL);
    ck_assert_uint_eq(tie->val.v.u, 1);
    ck_assert(kv_str_is(m, "model_type", "config.json", "llama"));
    const struct qf_kv *arch = kv_of(m, "architectures", "config.json");
    ck_assert_ptr_nonnull(arch);
    ck_assert_int_eq(arch->val.type, QF_V_ARRAY);
    struct qf_value v0;
    ck_assert_int_eq(qf_array_get(&arch->val.v.a, 0, &v0), QF_OK);
    ck_assert_int_eq(v0.type, QF_V_STRING);
    ck_assert_uint_eq(v0.v.s.len, 16);
    ck_assert(!memcmp(v0.v.s.ptr, "LlamaForCausalLM", 16));
    double eps;
    ck_assert_int_eq(qf_value_as_f64(&kv_of(m, "rms_norm_eps", "config.json")->val, &eps), QF_OK);
    ck_assert(eps == 1e-5);
    /* the first weight, by value: embed_tokens[0][0] read through the map */
    const float *emb = qf_model_map(m, qf_model_find_tensor(m, "model.embed_tokens.weight"));
    ck_assert_ptr_nonnull(emb);
    ck_assert_ptr_null(qf_model_warning(m, 0));
    qf_model_close(m);

    /* QF_OPEN_NO_CONFIG: the weights alone */
    m = must_open(f, "safetensors", QF_OPEN_NO_CONFIG);
    ck_assert_uint_eq(qf_model_n_files(m), 1);
    ck_assert_uint_eq(qf_model_n_kv(m), 1);
    ck_assert_ptr_null(qf_model_find_kv(m, "hidden_size"));
    qf_model_close(m);
}
END_TEST

START_TEST(test_tiny256_dir)
{
    struct qf_model *m = must_open("fixtures/tiny256-hf", NULL, 0);
    check_tensors(m, "fixtures/tiny256-hf/model.safetensors", 2224, tiny_exp,
                  sizeof tiny_exp / sizeof tiny_exp[0], 0);
    ck_assert_uint_eq(qf_model_file(m, 0)->size, 3674808);
    ck_assert_uint_eq(qf_model_file(m, 0)->header_size, 2232);
    ck_assert_int_eq(kv_int(m, "hidden_size", "config.json"), 256);
    ck_assert_int_eq(kv_int(m, "intermediate_size", "config.json"), 768);
    ck_assert_int_eq(kv_int(m, "num_hidden_layers", "config.json"), 2);
    ck_assert_int_eq(kv_int(m, "num_attention_heads", "config.json"), 4);
    const struct qf_kv *tie = kv_of(m, "tie_word_embeddings", "config.json");
    ck_assert_ptr_nonnull(tie);
    ck_assert_int_eq(tie->val.type, QF_V_BOOL);
    ck_assert_uint_eq(tie->val.v.u, 0);
    ck_assert(kv_str_is(m, "torch_dtype", "config.json", "bfloat16"));
    ck_assert(kv_str_is(m, "format", "__metadata__", "pt"));
    for (size_t i = 0; i < qf_model_n_tensors(m); i++)
        ck_assert_int_eq(qf_model_tensor(m, i)->type, QF_TYPE_BF16);
    qf_model_close(m);
}
END_TEST

START_TEST(test_gptq_fixture)
{
    const char *f = "fixtures/st-gptq-b4-g128-sym/model.safetensors";
    struct qf_model *m = must_open("fixtures/st-gptq-b4-g128-sym", NULL, 0);
    check_tensors(m, f, 1104, gptq_exp, sizeof gptq_exp / sizeof gptq_exp[0], 0);
    /* AutoGPTQ's __metadata__, all strings, in file order */
    static const char *const meta[][2] = {
        {"format", "pt"}, {"auto_gptq_version", "0.8.0.dev0"}, {"gptq_bits", "4"},
        {"gptq_group_size", "128"}, {"gptq_desc_act", "False"}, {"gptq_damp_percent", "0.01"},
        {"gptq_checkpoint_format", "gptq"}, {"gptq_quant_method", "gptq"},
    };
    for (size_t i = 0; i < 8; i++) {
        const struct qf_kv *kv = qf_model_kv(m, i);
        ck_assert_str_eq(kv->origin, "__metadata__");
        ck_assert_uint_eq(kv->key.len, strlen(meta[i][0]));
        ck_assert(!memcmp(kv->key.ptr, meta[i][0], kv->key.len));
        ck_assert(kv_str_is(m, meta[i][0], "__metadata__", meta[i][1]));
    }
    /* config.json's quantization_config, flattened; quantize_config.json prefixed */
    ck_assert_int_eq(kv_int(m, "quantization_config.bits", "config.json"), 4);
    ck_assert_int_eq(kv_int(m, "quantization_config.group_size", "config.json"), 128);
    ck_assert(kv_str_is(m, "quantization_config.quant_method", "config.json", "gptq"));
    ck_assert_int_eq(kv_int(m, "quantize_config.bits", "quantize_config.json"), 4);
    ck_assert_int_eq(kv_int(m, "quantize_config.group_size", "quantize_config.json"), 128);
    ck_assert(kv_str_is(m, "quantize_config.checkpoint_format", "quantize_config.json", "gptq"));
    const struct qf_kv *sym = kv_of(m, "quantize_config.sym", "quantize_config.json");
    ck_assert_ptr_nonnull(sym);
    ck_assert_int_eq(sym->val.type, QF_V_BOOL);
    ck_assert_uint_eq(sym->val.v.u, 1);
    ck_assert_uint_eq(qf_model_n_files(m), 3);
    ck_assert_str_eq(qf_model_file(m, 2)->role, "config");
    qf_model_close(m);
}
END_TEST

START_TEST(test_fp8_fixture)
{
    const char *f = "fixtures/st-ct-fp8-e4m3-channel/model.safetensors";
    struct qf_model *m = must_open(f, NULL, 0);
    check_tensors(m, f, 552, fp8_exp, sizeof fp8_exp / sizeof fp8_exp[0], 0);
    ck_assert_int_eq(qf_model_tensor(m, 0)->type, QF_TYPE_F8_E4M3);
    ck_assert(kv_str_is(m, "quantization_config.quant_method", "config.json", "compressed-tensors"));
    ck_assert(kv_str_is(m, "quantization_config.config_groups.group_0.weights.strategy",
                        "config.json", "channel"));
    qf_model_close(m);
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * Writer: the reference's byte examples (spec section 6) */
static void write_model(const char *path, const struct qf_writer_opts *o, size_t nkv,
                        const char *const (*kv)[2], size_t nt, const char *const *names,
                        const int *types, const int *nds, const uint64_t (*shapes)[4],
                        const void *const *data)
{
    struct qf_writer *w;
    struct qf_error e;
    ck_assert_int_eq(qf_writer_new("safetensors", path, o, &w, &e), QF_OK);
    for (size_t i = 0; i < nkv; i++) {
        struct qf_value v = {.type = QF_V_STRING};
        v.v.s.ptr = kv[i][1];
        v.v.s.len = strlen(kv[i][1]);
        ck_assert_int_eq(qf_writer_add_kv(w, kv[i][0], &v, &e), QF_OK);
    }
    for (size_t i = 0; i < nt; i++)
        ck_assert_int_eq(qf_writer_add_tensor(w, names[i], types[i], nds[i], shapes[i], &e), QF_OK);
    ck_assert_msg(qf_writer_begin_data(w, &e) == QF_OK, "%s", e.msg);
    for (size_t k = 0; k < nt; k++) {
        size_t i = qf_writer_tensor_order(w, k);
        uint64_t ne = 1;
        for (int d = 0; d < nds[i]; d++)
            ne *= shapes[i][d];
        int64_t nb = qf_type_nbytes(types[i], nds[i] ? shapes[i][nds[i] - 1] : 1, ne);
        ck_assert_int_ge(nb, 0);
        ck_assert_int_eq(qf_writer_write(w, data[i], (size_t)nb, &e), QF_OK);
    }
    ck_assert_msg(qf_writer_commit(w, &e) == QF_OK, "%s", e.msg);
    qf_writer_free(w);
}

static const float f0_5[6] = {0, 1, 2, 3, 4, 5};

START_TEST(test_spec_examples)
{
    mk_tmpdir();
    size_t n;
    uint8_t *b;
    /* attn.0 F32 [1,2,3]: N = 64, no padding */
    {
        const char *names[] = {"attn.0"};
        const int types[] = {QF_TYPE_F32}, nds[] = {3};
        const uint64_t shapes[][4] = {{1, 2, 3}};
        const void *data[] = {f0_5};
        write_model(tpath("a.safetensors"), NULL, 0, NULL, 1, names, types, nds, shapes, data);
        b = read_all(tpath("a.safetensors"), &n);
        static const uint8_t expect[] =
            "\x40\0\0\0\0\0\0\0"
            "{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}"
            "\x00\x00\x00\x00\x00\x00\x80\x3f\x00\x00\x00\x40\x00\x00\x40\x40\x00\x00\x80\x40"
            "\x00\x00\xa0\x40";
        ck_assert_uint_eq(n, 8 + 64 + 24);
        ck_assert_uint_eq(sizeof expect - 1, n);
        ck_assert(memcmp(b, expect, n) == 0);
        free(b);
        struct qf_model *m = must_open(tpath("a.safetensors"), NULL, QF_OPEN_NO_CONFIG);
        const struct qf_tensor *t = qf_model_tensor(m, 0);
        ck_assert_str_eq(t->name, "attn.0");
        ck_assert_uint_eq(t->offset, 72);
        float back[6];
        ck_assert_int_eq(qf_model_read(m, t, 0, back, sizeof back, NULL), QF_OK);
        ck_assert(memcmp(back, f0_5, sizeof back) == 0);
        qf_model_close(m);
    }
    /* attn0 [1,1,2,3]: 65 bytes of JSON + 7 spaces, N = 72 */
    {
        const char *names[] = {"attn0"};
        const int types[] = {QF_TYPE_F32}, nds[] = {4};
        const uint64_t shapes[][4] = {{1, 1, 2, 3}};
        const void *data[] = {f0_5};
        write_model(tpath("b.safetensors"), NULL, 0, NULL, 1, names, types, nds, shapes, data);
        b = read_all(tpath("b.safetensors"), &n);
        static const char hdr[] =
            "{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],\"data_offsets\":[0,24]}}       ";
        ck_assert_uint_eq(sizeof hdr - 1, 72);
        ck_assert_uint_eq(n, 8 + 72 + 24);
        ck_assert(memcmp(b, "\x48\0\0\0\0\0\0\0", 8) == 0);
        ck_assert(memcmp(b + 8, hdr, 72) == 0);
        free(b);
    }
    /* {} + 6 spaces, N = 8 */
    {
        write_model(tpath("c.safetensors"), NULL, 0, NULL, 0, NULL, NULL, NULL, NULL, NULL);
        b = read_all(tpath("c.safetensors"), &n);
        ck_assert_uint_eq(n, 16);
        ck_assert(memcmp(b, "\x08\0\0\0\0\0\0\0{}      ", 16) == 0);
        free(b);
        struct qf_model *m = must_open(tpath("c.safetensors"), NULL, QF_OPEN_NO_CONFIG);
        ck_assert_uint_eq(qf_model_n_tensors(m), 0);
        ck_assert_uint_eq(qf_model_n_kv(m), 0);
        qf_model_close(m);
    }
    /* {"__metadata__":{"framework":"pt"}} + 5 spaces, N = 40 */
    {
        const char *const kv[][2] = {{"framework", "pt"}};
        write_model(tpath("d.safetensors"), NULL, 1, kv, 0, NULL, NULL, NULL, NULL, NULL);
        b = read_all(tpath("d.safetensors"), &n);
        ck_assert_uint_eq(n, 48);
        ck_assert(memcmp(b, "\x28\0\0\0\0\0\0\0{\"__metadata__\":{\"framework\":\"pt\"}}     ",
                         48) == 0);
        free(b);
        struct qf_model *m = must_open(tpath("d.safetensors"), NULL, QF_OPEN_NO_CONFIG);
        ck_assert(kv_str_is(m, "framework", "__metadata__", "pt"));
        qf_model_close(m);
    }
    rm_tmpdir();
}
END_TEST

START_TEST(test_writer_order)
{
    mk_tmpdir();
    /* one tensor of several dtypes: written U64, I64, F64, F32, BF16, F16, I8, U8, BOOL, F4;
     * equal dtypes by name */
    const char *names[] = {"b", "z", "a", "c", "f16", "bf", "u64", "i64", "f64", "i8", "u8", "f4"};
    const int types[] = {QF_TYPE_BOOL, QF_TYPE_F32, QF_TYPE_F32, QF_TYPE_BOOL, QF_TYPE_F16,
                         QF_TYPE_BF16, QF_TYPE_U64, QF_TYPE_I64, QF_TYPE_F64, QF_TYPE_I8,
                         QF_TYPE_U8, QF_TYPE_F4};
    const int nds[] = {1, 1, 0, 1, 1, 1, 1, 1, 1, 2, 1, 1};
    const uint64_t shapes[][4] = {{3}, {2}, {0}, {1}, {2}, {1}, {1}, {1}, {1}, {0, 5}, {3}, {4}};
    static const uint8_t zeros[64];
    const void *data[12];
    for (int i = 0; i < 12; i++)
        data[i] = zeros;
    write_model(tpath("o.safetensors"), NULL, 0, NULL, 12, names, types, nds, shapes, data);
    size_t n;
    uint8_t *b = read_all(tpath("o.safetensors"), &n);
    static const char hdr[] =
        "{\"u64\":{\"dtype\":\"U64\",\"shape\":[1],\"data_offsets\":[0,8]},"
        "\"i64\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[8,16]},"
        "\"f64\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[16,24]},"
        "\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[24,28]},"
        "\"z\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[28,36]},"
        "\"bf\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[36,38]},"
        "\"f16\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[38,42]},"
        "\"i8\":{\"dtype\":\"I8\",\"shape\":[0,5],\"data_offsets\":[42,42]},"
        "\"u8\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[42,45]},"
        "\"f4\":{\"dtype\":\"F4\",\"shape\":[4],\"data_offsets\":[45,47]},"
        "\"b\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[47,50]},"
        "\"c\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[50,51]}}";
    size_t hl = sizeof hdr - 1, padded = (hl + 7) / 8 * 8;
    ck_assert_uint_eq(b[0] | (b[1] << 8), padded);
    ck_assert(memcmp(b + 8, hdr, hl) == 0);
    for (size_t i = hl; i < padded; i++)
        ck_assert_uint_eq(b[8 + i], ' ');
    ck_assert_uint_eq(n, 8 + padded + 51);
    free(b);
    /* read back: offset order, scalar a, empty i8 */
    struct qf_model *m = must_open(tpath("o.safetensors"), NULL, QF_OPEN_NO_CONFIG);
    ck_assert_uint_eq(qf_model_n_tensors(m), 12);
    ck_assert_str_eq(qf_model_tensor(m, 0)->name, "u64");
    ck_assert_str_eq(qf_model_tensor(m, 3)->name, "a");
    ck_assert_int_eq(qf_model_tensor(m, 3)->n_dims, 0);
    ck_assert_uint_eq(qf_model_tensor(m, 3)->nelem, 1);
    ck_assert_str_eq(qf_model_tensor(m, 7)->name, "i8");
    ck_assert_uint_eq(qf_model_tensor(m, 7)->nbytes, 0);
    ck_assert_int_eq(qf_model_tensor(m, 9)->type, QF_TYPE_F4);
    ck_assert_uint_eq(qf_model_tensor(m, 9)->nbytes, 2);
    qf_model_close(m);

    /* keep_order: declaration order */
    struct qf_writer_opts o = {.keep_order = 1, .no_fsync = 1};
    write_model(tpath("k.safetensors"), &o, 0, NULL, 3, names, types, nds, shapes, data);
    b = read_all(tpath("k.safetensors"), &n);
    static const char khdr[] = "{\"b\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[0,3]},"
                               "\"z\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[3,11]},"
                               "\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[11,15]}}";
    ck_assert(memcmp(b + 8, khdr, sizeof khdr - 1) == 0);
    free(b);
    rm_tmpdir();
}
END_TEST

START_TEST(test_writer_escape)
{
    mk_tmpdir();
    /* serde_json escaping: \" \\ \b \f \n \r \t, other controls \u00xx lowercase, DEL and
     * non-ASCII raw, '/' raw */
    const char *names[] = {"q\"b\\s/\x01\x1f\x7f\xc3\xa9\b\f\n\r\t"};
    const int types[] = {QF_TYPE_U8}, nds[] = {1};
    const uint64_t shapes[][4] = {{1}};
    const void *data[] = {"x"};
    const char *const kv[][2] = {{"k\"\n", "v\x02\xe2\x82\xac"}, {"format", "pt"}};
    write_model(tpath("e.safetensors"), NULL, 2, kv, 1, names, types, nds, shapes, data);
    size_t n;
    uint8_t *b = read_all(tpath("e.safetensors"), &n);
    static const char hdr[] =
        "{\"__metadata__\":{\"k\\\"\\n\":\"v\\u0002\xe2\x82\xac\",\"format\":\"pt\"},"
        "\"q\\\"b\\\\s/\\u0001\\u001f\x7f\xc3\xa9\\b\\f\\n\\r\\t\":"
        "{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}";
    ck_assert_msg(memcmp(b + 8, hdr, sizeof hdr - 1) == 0, "header: %.*s", (int)(n - 9), b + 8);
    free(b);
    struct qf_model *m = must_open(tpath("e.safetensors"), NULL, QF_OPEN_NO_CONFIG);
    ck_assert_str_eq(qf_model_tensor(m, 0)->name, names[0]);
    ck_assert(kv_str_is(m, "k\"\n", "__metadata__", "v\x02\xe2\x82\xac"));
    ck_assert_str_eq(qf_model_kv(m, 1)->key.ptr, "format");
    qf_model_close(m);
    rm_tmpdir();
}
END_TEST

START_TEST(test_writer_refuses)
{
    mk_tmpdir();
    struct qf_writer *w;
    struct qf_error e;
    uint64_t shape[2] = {2, 256};
    /* a ggml block type has no dtype */
    ck_assert_int_eq(qf_writer_new("safetensors", tpath("q.safetensors"), NULL, &w, &e), QF_OK);
    ck_assert_int_eq(qf_writer_add_tensor(w, "ok", QF_TYPE_F32, 2, shape, &e), QF_OK);
    ck_assert_int_eq(qf_writer_add_tensor(w, "blk.0.q4k", QF_TYPE_Q4_K, 2, shape, &e), QF_OK);
    ck_assert_int_eq(qf_writer_begin_data(w, &e), QF_EUNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(e.msg, "blk.0.q4k"));
    ck_assert_ptr_nonnull(strstr(e.msg, "q4_K"));
    qf_writer_free(w);
    /* metadata other than strings */
    ck_assert_int_eq(qf_writer_new("safetensors", tpath("q.safetensors"), NULL, &w, &e), QF_OK);
    struct qf_value v = {.type = QF_V_U32};
    v.v.u = 7;
    ck_assert_int_eq(qf_writer_add_kv(w, "general.alignment", &v, &e), QF_OK);
    ck_assert_int_eq(qf_writer_begin_data(w, &e), QF_EUNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(e.msg, "general.alignment"));
    qf_writer_free(w);
    /* nothing appears at the path */
    struct stat st;
    ck_assert_int_ne(stat(tpath("q.safetensors"), &st), 0);
    rm_tmpdir();
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * Round trips: read -> qf_model_save -> the same bytes */
static void roundtrip(const char *src, const struct qf_writer_opts *o)
{
    mk_tmpdir();
    struct qf_model *m = must_open(src, "safetensors", 0);
    struct qf_error e;
    struct qf_writer_opts oo = {.no_fsync = 1};
    if (o)
        oo = *o;
    ck_assert_msg(qf_model_save(m, "safetensors", tpath("out.safetensors"), &oo, &e) == QF_OK,
                  "%s", e.msg);
    qf_model_close(m);
    size_t a, b;
    uint8_t *pa = read_all(src, &a), *pb = read_all(tpath("out.safetensors"), &b);
    ck_assert_uint_eq(a, b);
    ck_assert(memcmp(pa, pb, a) == 0);
    free(pa);
    free(pb);
    rm_tmpdir();
}

START_TEST(test_roundtrip)
{
    roundtrip("fixtures/stories260K-hf/model.safetensors", NULL);
    roundtrip("fixtures/tiny256-hf/model.safetensors", NULL);
    /* mixed dtypes sorted by name (not the reference order): identical with keep_order */
    struct qf_writer_opts o = {.keep_order = 1, .no_fsync = 1};
    roundtrip("fixtures/st-gptq-b4-g128-sym/model.safetensors", &o);
    roundtrip("fixtures/st-ct-fp8-e4m3-channel/model.safetensors", &o);
}
END_TEST

START_TEST(test_roundtrip_reorders)
{
    /* without keep_order the GPTQ file comes out in the reference order: I32 before F16 */
    mk_tmpdir();
    struct qf_model *m = must_open("fixtures/st-gptq-b4-g128-sym", NULL, 0);
    struct qf_writer_opts o = {.no_fsync = 1};
    struct qf_error e;
    ck_assert_int_eq(qf_model_save(m, "safetensors", tpath("r.safetensors"), &o, &e), QF_OK);
    struct qf_model *r = must_open(tpath("r.safetensors"), NULL, QF_OPEN_NO_CONFIG);
    ck_assert_uint_eq(qf_model_n_tensors(r), 9);
    static const char *const order[] = {
        "model.layers.0.mlp.down_proj.g_idx",        "model.layers.0.mlp.down_proj.qweight",
        "model.layers.0.mlp.down_proj.qzeros",       "model.layers.0.self_attn.k_proj.g_idx",
        "model.layers.0.self_attn.k_proj.qweight",   "model.layers.0.self_attn.k_proj.qzeros",
        "model.layers.0.mlp.down_proj.scales",       "model.layers.0.self_attn.k_proj.bias",
        "model.layers.0.self_attn.k_proj.scales",
    };
    for (size_t i = 0; i < 9; i++) {
        const struct qf_tensor *t = qf_model_tensor(r, i), *s = qf_model_find_tensor(m, order[i]);
        ck_assert_str_eq(t->name, order[i]);
        ck_assert_uint_eq(t->nbytes, s->nbytes);
        ck_assert(memcmp(qf_model_map(r, t), qf_model_map(m, s), t->nbytes) == 0);
    }
    /* only __metadata__ strings were written, in order */
    ck_assert_uint_eq(qf_model_n_kv(r), 8);
    ck_assert(kv_str_is(r, "gptq_bits", "__metadata__", "4"));
    ck_assert_str_eq(qf_model_kv(r, 1)->key.ptr, "auto_gptq_version");
    qf_model_close(r);
    qf_model_close(m);
    rm_tmpdir();
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * Validation: one crafted file per rule */
struct bad {
    const char *json;
    size_t datalen;
    int code;
    const char *what;
};

#define T1(x) "{\"a\":{" x "}}"

static const struct bad bads[] = {
    /* JSON and schema */
    {"{\"a\":", 0, QF_EFORMAT, "not valid JSON"},
    {"[]", 0, QF_EFORMAT, "must be a JSON object"},
    {"{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
     "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 2, QF_EFORMAT, "duplicate"},
    {T1("\"dtype\":\"F31\",\"shape\":[1],\"data_offsets\":[0,4]"), 4, QF_EFORMAT, "unknown dtype \"F31\""},
    {T1("\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]"), 4, QF_EFORMAT, "unknown dtype \"f32\""},
    {T1("\"dtype\":\"F32 \",\"shape\":[1],\"data_offsets\":[0,4]"), 4, QF_EFORMAT, "unknown dtype"},
    {T1("\"dtype\":\"Q4_K\",\"shape\":[1],\"data_offsets\":[0,4]"), 4, QF_EFORMAT, "unknown dtype"},
    {T1("\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]"), 4, QF_EFORMAT, "dtype must be a string"},
    {T1("\"dtype\":\"F32\",\"data_offsets\":[0,4]"), 4, QF_EFORMAT, "missing field \"shape\""},
    {T1("\"shape\":[1],\"data_offsets\":[0,4]"), 4, QF_EFORMAT, "missing field \"dtype\""},
    {T1("\"dtype\":\"F32\",\"shape\":[1]"), 4, QF_EFORMAT, "missing field \"data_offsets\""},
    {T1("\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]"), 4, QF_EFORMAT, "shape[0] must be a non-negative integer"},
    {T1("\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]"), 4, QF_EFORMAT, "shape[0] must be a non-negative integer"},
    {T1("\"dtype\":\"F32\",\"shape\":[1,\"2\"],\"data_offsets\":[0,8]"), 8, QF_EFORMAT, "shape[1]"},
    {T1("\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]"), 4, QF_EFORMAT, "shape must be an array"},
    {T1("\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]"), 4, QF_ELIMIT, "9 dimensions"},
    {T1("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]"), 4, QF_EFORMAT, "data_offsets must be an array of 2"},
    {T1("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]"), 4, QF_EFORMAT, "data_offsets must be an array of 2"},
    {T1("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,-4]"), 4, QF_EFORMAT, "data_offsets[1] must be a non-negative integer"},
    {T1("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4.5]"), 4, QF_EFORMAT, "data_offsets[1]"},
    {T1("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":{}"), 4, QF_EFORMAT, "data_offsets must be an array"},
    {"{\"a\":[1,2]}", 0, QF_EFORMAT, "tensor 'a': expected an object"},
    {"{\"a\\u0000b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, QF_EFORMAT, "NUL"},
    {"{\"__metadata__\":{\"format\":1}}", 0, QF_EFORMAT, "__metadata__ value of 'format' must be a string"},
    {"{\"__metadata__\":{\"x\":{\"y\":\"z\"}}}", 0, QF_EFORMAT, "must be a string"},
    {"{\"__metadata__\":[\"pt\"]}", 0, QF_EFORMAT, "__metadata__ must be an object"},
    {"{\"__metadata__\":{\"format\":\"pt\",\"format\":\"pt\"}}", 0, QF_EFORMAT, "duplicate"},
    /* layout */
    {T1("\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,16]"), 16, QF_EFORMAT,
     "tensor 'a' data_offsets [0,16] but F32 [2,3] needs 24 bytes"},
    {T1("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]"), 8, QF_EFORMAT, "gap"},
    {"{\"a\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]},"
     "\"b\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[4,12]}}", 12, QF_EFORMAT,
     "tensor 'b' data_offsets [4,12] overlap tensor 'a' [0,8]"},
    {"{\"a\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]},"
     "\"b\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]}}", 8, QF_EFORMAT, "overlap"},
    {"{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
     "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[8,12]}}", 12, QF_EFORMAT, "gap"},
    {"{\"a\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]},"
     "\"b\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[8,4]}}", 8, QF_EFORMAT, "end before they begin"},
    {T1("\"dtype\":\"U8\",\"shape\":[4294967296,4294967296,2],\"data_offsets\":[0,0]"), 0, QF_EFORMAT, "element count overflows"},
    {T1("\"dtype\":\"U64\",\"shape\":[2305843009213693952],\"data_offsets\":[0,0]"), 0, QF_EFORMAT, "bit size overflows"},
    {T1("\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,1]"), 1, QF_EFORMAT, "12 bits is not a whole number of bytes"},
    {T1("\"dtype\":\"F6_E2M3\",\"shape\":[2],\"data_offsets\":[0,1]"), 1, QF_EFORMAT, "not a whole number of bytes"},
    {T1("\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]"), 5, QF_EFORMAT, "1 trailing byte: the tensors end at offset"},
    {T1("\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]"), 3, QF_EFORMAT, "truncated"},
    {"{}", 1, QF_EFORMAT, "offset 10: 1 trailing byte"},
    {"{}", 3, QF_EFORMAT, "3 trailing bytes"},
    {T1("\"dtype\":\"U8\",\"shape\":[1000000000000],\"data_offsets\":[0,1000000000000]"), 0, QF_EFORMAT, "truncated"},
    {T1("\"dtype\":\"U8\",\"shape\":[9223372036854775807],\"data_offsets\":[0,9223372036854775807]"), 0, QF_EFORMAT, "bit size overflows"},
    {T1("\"dtype\":\"U8\",\"shape\":[18446744073709551615],\"data_offsets\":[0,1]"), 1, QF_EFORMAT, "not valid JSON"},
};

START_TEST(test_validation)
{
    mk_tmpdir();
    for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
        write_st(tpath("bad.safetensors"), bads[i].json, bads[i].datalen);
        expect_fail(tpath("bad.safetensors"), QF_OPEN_NO_CONFIG, bads[i].code, bads[i].what);
    }
    rm_tmpdir();
}
END_TEST

START_TEST(test_validation_raw)
{
    mk_tmpdir();
    const char *p = tpath("raw.safetensors");
    /* fewer than 8 bytes */
    write_file(p, "", 0);
    expect_fail(p, 0, QF_EFORMAT, "at least 8");
    write_file(p, "\x02\0\0\0\0\0\0", 7);
    expect_fail(p, 0, QF_EFORMAT, "file has 7 bytes");
    /* N = 0 and 1 */
    write_file(p, "\0\0\0\0\0\0\0\0", 8);
    expect_fail(p, 0, QF_EFORMAT, "too small");
    write_file(p, "\x01\0\0\0\0\0\0\0{", 9);
    expect_fail(p, 0, QF_EFORMAT, "too small");
    /* N over the reference maximum, and at 2^64-1 */
    write_file(p, "\x01\xe1\xf5\x05\0\0\0\0{}", 10); /* 100000001 */
    expect_fail(p, 0, QF_ELIMIT, "header length 100000001 exceeds the maximum of 100000000");
    write_file(p, "\xff\xff\xff\xff\xff\xff\xff\xff{}", 10);
    expect_fail(p, 0, QF_ELIMIT, "exceeds the maximum");
    /* N past the end of the file */
    write_file(p, "\x10\0\0\0\0\0\0\0{}      ", 16);
    expect_fail(p, 0, QF_EFORMAT, "runs past the end of the file");
    /* not UTF-8: the offset is the bad byte's */
    write_file(p, "\x0a\0\0\0\0\0\0\0{\"a\xff\":1}  ", 18);
    expect_fail(p, 0, QF_EFORMAT, "offset 11: header is not valid UTF-8 (byte 0xff)");
    write_file(p, "\x0a\0\0\0\0\0\0\0{\"\xed\xa0\x80\":1} ", 18); /* a surrogate */
    expect_fail(p, 0, QF_EFORMAT, "not valid UTF-8");
    write_file(p, "\x0a\0\0\0\0\0\0\0{\"\xc0\xaf\":1}  ", 18); /* overlong '/' */
    expect_fail(p, 0, QF_EFORMAT, "not valid UTF-8");
    /* NUL padding is not JSON whitespace */
    write_file(p, "\x08\0\0\0\0\0\0\0{}\0\0\0\0\0\0", 16);
    expect_fail(p, 0, QF_EFORMAT, "not valid JSON");
    /* deep nesting fails cleanly */
    size_t depth = 100000;
    uint8_t *deep = malloc(8 + depth);
    for (int i = 0; i < 8; i++)
        deep[i] = (uint8_t)((uint64_t)depth >> (8 * i));
    memset(deep + 8, '[', depth);
    write_file(p, deep, 8 + depth);
    expect_fail(p, 0, QF_EFORMAT, "not valid JSON");
    memset(deep + 8, ' ', depth);
    deep[8] = '{';
    for (size_t i = 1; i + 5 < depth; i += 5)
        memcpy(deep + 8 + i, "\"\":{", 4);
    write_file(p, deep, 8 + depth);
    expect_fail(p, 0, QF_EFORMAT, "not valid JSON");
    free(deep);
    /* the message names the file and the offset */
    struct qf_model *m;
    struct qf_error e;
    write_st(p, T1("\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,16]"), 16);
    ck_assert_int_eq(qf_model_open(p, NULL, 0, &m, &e), QF_EFORMAT);
    char want[600];
    snprintf(want, sizeof want,
             "%s: offset 8: tensor 'a' data_offsets [0,16] but F32 [2,3] needs 24 bytes", p);
    ck_assert_str_eq(e.msg, want);
    ck_assert_str_eq(e.file, p);
    ck_assert_int_eq(e.offset, 8);
    rm_tmpdir();
}
END_TEST

START_TEST(test_accepts)
{
    mk_tmpdir();
    const char *p = tpath("ok.safetensors");
    struct qf_model *m;
    /* leading and trailing JSON whitespace inside N, no padding to 8 */
    write_st(p, "\r\n\t {\"a\":{\"dtype\":\"I16\",\"shape\":[3],\"data_offsets\":[0,6]}}\t\n ", 6);
    m = must_open(p, NULL, QF_OPEN_NO_CONFIG);
    ck_assert_uint_eq(qf_model_n_tensors(m), 1);
    ck_assert_int_eq(qf_model_tensor(m, 0)->type, QF_TYPE_I16);
    qf_model_close(m);
    /* JSON order is not offset order; zero-sized tensors share offsets; scalars; null metadata;
     * extra fields are ignored with a warning */
    write_st(p,
             "{\"__metadata__\":null,"
             "\"late\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[5,9]},"
             "\"empty2\":{\"dtype\":\"F32\",\"shape\":[0,7],\"data_offsets\":[5,5]},"
             "\"s\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[4,5],\"extra\":1},"
             "\"first\":{\"dtype\":\"BF16\",\"shape\":[2,1],\"data_offsets\":[0,4]},"
             "\"empty1\":{\"dtype\":\"F64\",\"shape\":[0],\"data_offsets\":[5,5]}}",
             9);
    m = must_open(p, NULL, QF_OPEN_NO_CONFIG);
    static const char *const order[] = {"first", "s", "empty2", "empty1", "late"};
    ck_assert_uint_eq(qf_model_n_tensors(m), 5);
    for (size_t i = 0; i < 5; i++)
        ck_assert_str_eq(qf_model_tensor(m, i)->name, order[i]);
    const struct qf_tensor *s = qf_model_tensor(m, 1);
    ck_assert_int_eq(s->n_dims, 0);
    ck_assert_uint_eq(s->nelem, 1);
    ck_assert_uint_eq(s->nbytes, 1);
    uint8_t v;
    ck_assert_int_eq(qf_model_read(m, s, 0, &v, 1, NULL), QF_OK);
    ck_assert_uint_eq(v, 4); /* data byte i is i */
    ck_assert_uint_eq(qf_model_n_kv(m), 0);
    ck_assert_ptr_nonnull(qf_model_warning(m, 0));
    ck_assert_ptr_nonnull(strstr(qf_model_warning(m, 0), "fields other than"));
    qf_model_close(m);
    /* every dtype of the table, with its size */
    static const struct {
        const char *d;
        unsigned bits;
    } dt[] = {{"BOOL", 8},  {"F4", 4},       {"F6_E2M3", 6},     {"F6_E3M2", 6},
              {"U8", 8},    {"I8", 8},       {"F8_E5M2", 8},     {"F8_E4M3", 8},
              {"F8_E8M0", 8}, {"F8_E4M3FNUZ", 8}, {"F8_E5M2FNUZ", 8}, {"I16", 16},
              {"U16", 16},  {"F16", 16},     {"BF16", 16},       {"I32", 32},
              {"U32", 32},  {"F32", 32},     {"C64", 64},        {"F64", 64},
              {"I64", 64},  {"U64", 64}};
    for (size_t i = 0; i < sizeof dt / sizeof dt[0]; i++) {
        char js[200];
        unsigned nb = 8 * dt[i].bits / 8; /* 8 elements */
        snprintf(js, sizeof js, "{\"t\":{\"dtype\":\"%s\",\"shape\":[2,4],\"data_offsets\":[0,%u]}}",
                 dt[i].d, nb);
        write_st(p, js, nb);
        m = must_open(p, NULL, QF_OPEN_NO_CONFIG);
        ck_assert_int_eq(qf_model_tensor(m, 0)->type, qf_type_from_st_dtype(dt[i].d, strlen(dt[i].d)));
        ck_assert_str_eq(qf_type_st_dtype(qf_model_tensor(m, 0)->type), dt[i].d);
        ck_assert_uint_eq(qf_model_tensor(m, 0)->nbytes, nb);
        qf_model_close(m);
    }
    rm_tmpdir();
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * Truncation at every byte */
START_TEST(test_truncation)
{
    mk_tmpdir();
    static uint8_t full[512];
    const char *js = "{\"__metadata__\":{\"format\":\"pt\"},"
                     "\"w\":{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[0,12]},"
                     "\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[12,24]}}";
    size_t jl = strlen(js);
    size_t n = mk_st(full, sizeof full, js, jl, 24);
    const char *p = tpath("t.safetensors");
    write_file(p, full, n);
    struct qf_model *m = must_open(p, NULL, QF_OPEN_NO_CONFIG);
    qf_model_close(m);
    for (size_t len = 0; len < n; len++) {
        write_file(p, full, len);
        struct qf_error e;
        m = NULL;
        int rc = qf_model_open(p, "safetensors", QF_OPEN_NO_CONFIG, &m, &e);
        ck_assert_msg(rc == QF_EFORMAT, "length %zu: rc %d", len, rc);
        ck_assert(e.msg[0] != '\0');
        /* with QF_OPEN_PARTIAL a whole header is enough */
        rc = qf_model_open(p, "safetensors", QF_OPEN_NO_CONFIG | QF_OPEN_PARTIAL, &m, &e);
        if (len < 8 + jl) {
            ck_assert_msg(rc == QF_EFORMAT, "partial, length %zu: rc %d", len, rc);
            continue;
        }
        ck_assert_msg(rc == QF_OK, "partial, length %zu: %s", len, e.msg);
        ck_assert_uint_eq(qf_model_n_tensors(m), 2);
        const struct qf_tensor *w = qf_model_tensor(m, 0), *b = qf_model_tensor(m, 1);
        ck_assert_int_eq(qf_model_tensor_complete(m, w), len >= 8 + jl + 12);
        ck_assert_int_eq(qf_model_tensor_complete(m, b), 0);
        uint8_t buf[12];
        ck_assert_int_eq(qf_model_read(m, b, 0, buf, 12, &e), QF_EFORMAT);
        if (len >= 8 + jl + 12) {
            ck_assert_int_eq(qf_model_read(m, w, 0, buf, 12, &e), QF_OK);
            ck_assert(memcmp(buf, full + 8 + jl, 12) == 0);
        }
        qf_model_close(m);
    }
    rm_tmpdir();
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * Shards: stories260K split in three by our writer, with an index */
static void write_subset(struct qf_model *m, const char *path, size_t from, size_t to,
                         const char *dup_name)
{
    struct qf_writer *w;
    struct qf_error e;
    struct qf_writer_opts o = {.no_fsync = 1};
    ck_assert_int_eq(qf_writer_new("safetensors", path, &o, &w, &e), QF_OK);
    struct qf_value v = {.type = QF_V_STRING};
    v.v.s.ptr = "pt";
    v.v.s.len = 2;
    ck_assert_int_eq(qf_writer_add_kv(w, "format", &v, &e), QF_OK);
    for (size_t i = from; i < to; i++) {
        const struct qf_tensor *t = qf_model_tensor(m, i);
        ck_assert_int_eq(qf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->shape, &e), QF_OK);
    }
    const struct qf_tensor *d = dup_name ? qf_model_find_tensor(m, dup_name) : NULL;
    if (d)
        ck_assert_int_eq(qf_writer_add_tensor(w, "zzz.extra", d->type, d->n_dims, d->shape, &e),
                         QF_OK);
    ck_assert_int_eq(qf_writer_begin_data(w, &e), QF_OK);
    size_t nt = to - from + (d ? 1 : 0);
    for (size_t k = 0; k < nt; k++) {
        size_t i = qf_writer_tensor_order(w, k);
        const struct qf_tensor *t = i < to - from ? qf_model_tensor(m, from + i) : d;
        ck_assert_int_eq(qf_writer_write(w, qf_model_map(m, t), t->nbytes, &e), QF_OK);
    }
    ck_assert_msg(qf_writer_commit(w, &e) == QF_OK, "%s", e.msg);
    qf_writer_free(w);
}

static const char *shard_names[3] = {"model-00001-of-00003.safetensors",
                                     "model-00002-of-00003.safetensors",
                                     "model-00003-of-00003.safetensors"};

/* Index text; mutate: 0 plain, 1 drop the first tensor, 2 add a tensor not in any shard,
 * 3 point one tensor outside the directory, 4 wrong total_size, 5 name the wrong shard */
static void write_index(struct qf_model *m, const char *dir, int mutate)
{
    size_t cap = 1 << 16, o = 0;
    char *s = malloc(cap);
    uint64_t total = 0;
    for (size_t i = 0; i < qf_model_n_tensors(m); i++)
        total += qf_model_tensor(m, i)->nbytes;
    o += (size_t)snprintf(s + o, cap - o, "{\n  \"metadata\": {\n    \"total_size\": %llu,\n"
                                          "    \"note\": \"split\"\n  },\n  \"weight_map\": {",
                          (unsigned long long)(mutate == 4 ? total + 1 : total));
    for (size_t i = mutate == 1 ? 1 : 0; i < qf_model_n_tensors(m); i++) {
        const char *shard = shard_names[i / 16];
        if (mutate == 3 && i == 20)
            shard = "../model-00002-of-00003.safetensors";
        if (mutate == 5 && i == 20)
            shard = shard_names[2];
        o += (size_t)snprintf(s + o, cap - o, "%s\n    \"%s\": \"%s\"", i > (mutate == 1) ? "," : "",
                              qf_model_tensor(m, i)->name, shard);
    }
    if (mutate == 2)
        o += (size_t)snprintf(s + o, cap - o, ",\n    \"lm_head.weight\": \"%s\"", shard_names[2]);
    o += (size_t)snprintf(s + o, cap - o, "\n  }\n}\n");
    char p[600];
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
    write_file(p, s, o);
    free(s);
}

static void make_shards(struct qf_model *src, const char *dir)
{
    mkdir(dir, 0755);
    char p[600];
    for (int k = 0; k < 3; k++) {
        snprintf(p, sizeof p, "%s/%s", dir, shard_names[k]);
        write_subset(src, p, (size_t)k * 16, k == 2 ? 47 : (size_t)(k + 1) * 16, NULL);
    }
    write_index(src, dir, 0);
    size_t n;
    uint8_t *c = read_all("fixtures/stories260K-hf/config.json", &n);
    snprintf(p, sizeof p, "%s/config.json", dir);
    write_file(p, c, n);
    free(c);
}

static void check_sharded(struct qf_model *m, struct qf_model *src)
{
    ck_assert_str_eq(qf_model_format(m), "safetensors");
    ck_assert_uint_eq(qf_model_n_tensors(m), 47);
    for (size_t i = 0; i < 47; i++) {
        const struct qf_tensor *t = qf_model_tensor(m, i), *s = qf_model_tensor(src, i);
        ck_assert_str_eq(t->name, s->name);
        ck_assert_int_eq(t->file_index, (int)(i / 16 < 2 ? i / 16 : 2));
        ck_assert_uint_eq(t->nbytes, s->nbytes);
        uint8_t *buf = malloc(t->nbytes);
        ck_assert_int_eq(qf_model_read(m, t, 0, buf, t->nbytes, NULL), QF_OK);
        ck_assert(memcmp(buf, qf_model_map(src, s), t->nbytes) == 0);
        free(buf);
    }
    /* the first tensor of shard 2 starts its data region */
    ck_assert_uint_eq(qf_model_tensor(m, 16)->data_offset, 0);
    ck_assert_uint_eq(qf_model_n_files(m), 5);
    for (int k = 0; k < 3; k++) {
        ck_assert_str_eq(qf_model_file(m, (size_t)k)->role, "shard");
        ck_assert_ptr_nonnull(strstr(qf_model_file(m, (size_t)k)->path, shard_names[k]));
    }
    ck_assert_str_eq(qf_model_file(m, 3)->role, "index");
    ck_assert_ptr_nonnull(strstr(qf_model_file(m, 3)->path, "model.safetensors.index.json"));
    ck_assert_str_eq(qf_model_file(m, 4)->role, "config");
    ck_assert_int_eq(kv_int(m, "total_size", "index.json"), 1040128);
    ck_assert(kv_str_is(m, "note", "index.json", "split"));
    ck_assert_int_eq(kv_int(m, "hidden_size", "config.json"), 64);
    /* __metadata__ once, though every shard has it */
    size_t nfmt = 0;
    for (size_t i = 0; i < qf_model_n_kv(m); i++)
        if (!strcmp(qf_model_kv(m, i)->origin, "__metadata__"))
            nfmt++;
    ck_assert_uint_eq(nfmt, 1);
    ck_assert(kv_str_is(m, "format", "__metadata__", "pt"));
    ck_assert_ptr_null(qf_model_warning(m, 0));
}

START_TEST(test_shards)
{
    mk_tmpdir();
    struct qf_model *src = must_open("fixtures/stories260K-hf/model.safetensors", NULL, 0);
    const char *dir = tpath("sh");
    make_shards(src, dir);
    char p[600];
    struct qf_model *m = must_open(dir, NULL, 0);
    check_sharded(m, src);
    qf_model_close(m);
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
    m = must_open(p, NULL, 0);
    check_sharded(m, src);
    qf_model_close(m);
    snprintf(p, sizeof p, "%s/%s", dir, shard_names[1]);
    m = must_open(p, NULL, 0);
    check_sharded(m, src);
    qf_model_close(m);
    /* QF_OPEN_NO_SET: that shard alone */
    m = must_open(p, NULL, QF_OPEN_NO_SET | QF_OPEN_NO_CONFIG);
    ck_assert_uint_eq(qf_model_n_tensors(m), 16);
    ck_assert_str_eq(qf_model_tensor(m, 0)->name, qf_model_tensor(src, 16)->name);
    ck_assert_uint_eq(qf_model_n_files(m), 1);
    qf_model_close(m);
    /* sharded output of qf_model_save is one file again, same data */
    struct qf_error e;
    m = must_open(dir, NULL, 0);
    struct qf_writer_opts o = {.no_fsync = 1};
    ck_assert_int_eq(qf_model_save(m, "safetensors", tpath("merged.safetensors"), &o, &e), QF_OK);
    qf_model_close(m);
    size_t a, b;
    uint8_t *pa = read_all("fixtures/stories260K-hf/model.safetensors", &a);
    uint8_t *pb = read_all(tpath("merged.safetensors"), &b);
    ck_assert_uint_eq(a, b);
    ck_assert(memcmp(pa, pb, a) == 0);
    free(pa);
    free(pb);
    qf_model_close(src);
    rm_tmpdir();
}
END_TEST

START_TEST(test_shards_bad)
{
    mk_tmpdir();
    struct qf_model *src = must_open("fixtures/stories260K-hf/model.safetensors", NULL, 0);
    const char *dir = tpath("sh");
    make_shards(src, dir);
    char idx[600], s2[600], s3[600];
    snprintf(idx, sizeof idx, "%s/model.safetensors.index.json", dir);
    snprintf(s2, sizeof s2, "%s/%s", dir, shard_names[1]);
    snprintf(s3, sizeof s3, "%s/%s", dir, shard_names[2]);

    /* index entries that disagree with the shards */
    write_index(src, dir, 1);
    expect_fail(dir, 0, QF_EFORMAT, "tensor 'model.embed_tokens.weight' is in this shard but not "
                                    "in the index weight_map");
    write_index(src, dir, 2);
    expect_fail(idx, 0, QF_EFORMAT, "tensor 'lm_head.weight' listed in weight_map is not in its "
                                    "shard 'model-00003-of-00003.safetensors'");
    write_index(src, dir, 3);
    expect_fail(dir, 0, QF_EFORMAT, "shards must be plain file names");
    write_index(src, dir, 5);
    expect_fail(s2, 0, QF_EFORMAT, "weight_map puts it in 'model-00003-of-00003.safetensors'");
    /* a wrong total_size is only a warning (writers differ) */
    write_index(src, dir, 4);
    struct qf_model *m = must_open(dir, NULL, 0);
    ck_assert_uint_eq(qf_model_n_tensors(m), 47);
    ck_assert_ptr_nonnull(qf_model_warning(m, 0));
    ck_assert_ptr_nonnull(strstr(qf_model_warning(m, 0), "total_size is 1040129"));
    qf_model_close(m);
    write_index(src, dir, 0);

    /* a tensor in two shards */
    write_subset(src, s3, 32, 47, "model.layers.0.input_layernorm.weight");
    /* the extra tensor is called zzz.extra: first not in weight_map */
    expect_fail(dir, 0, QF_EFORMAT, "'zzz.extra' is in this shard but not in the index");
    /* now truly a duplicate name: shard 3 repeats a tensor of shard 2 */
    {
        struct qf_writer *w;
        struct qf_error e;
        struct qf_writer_opts o = {.no_fsync = 1};
        ck_assert_int_eq(qf_writer_new("safetensors", s3, &o, &w, &e), QF_OK);
        for (size_t i = 31; i < 47; i++) {
            const struct qf_tensor *t = qf_model_tensor(src, i);
            ck_assert_int_eq(qf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->shape, &e),
                             QF_OK);
        }
        ck_assert_int_eq(qf_writer_begin_data(w, &e), QF_OK);
        for (size_t k = 0; k < 16; k++) {
            const struct qf_tensor *t = qf_model_tensor(src, 31 + qf_writer_tensor_order(w, k));
            ck_assert_int_eq(qf_writer_write(w, qf_model_map(src, t), t->nbytes, &e), QF_OK);
        }
        ck_assert_int_eq(qf_writer_commit(w, &e), QF_OK);
        qf_writer_free(w);
    }
    char want[1024];
    snprintf(want, sizeof want, "tensor '%s' is also in '%s'", qf_model_tensor(src, 31)->name, s2);
    expect_fail(dir, 0, QF_EFORMAT, want);
    write_subset(src, s3, 32, 47, NULL);

    /* a broken shard is reported as itself */
    {
        size_t n;
        uint8_t *b = read_all(s2, &n);
        write_file(s2, b, n - 1);
        free(b);
        expect_fail(idx, 0, QF_EFORMAT, "model-00002-of-00003.safetensors: offset");
        write_subset(src, s2, 16, 32, NULL);
    }

    /* a missing shard: from the index, from another shard, and without any index */
    unlink(s2);
    expect_fail(dir, 0, QF_ENOTFOUND, "shard 'model-00002-of-00003.safetensors' listed in "
                                      "weight_map is missing (1 of 3 shards missing)");
    expect_fail(s3, 0, QF_ENOTFOUND, "is missing");
    unlink(idx);
    expect_fail(s3, 0, QF_ENOTFOUND, "no index file and shard 'model-00002-of-00003.safetensors'");
    expect_fail(dir, 0, QF_ENOTFOUND, "missing");
    /* shards by name only: the set opens, with a warning */
    write_subset(src, s2, 16, 32, NULL);
    m = must_open(s3, NULL, 0);
    ck_assert_uint_eq(qf_model_n_tensors(m), 47);
    ck_assert_str_eq(qf_model_tensor(m, 0)->name, "model.embed_tokens.weight");
    ck_assert_ptr_nonnull(qf_model_warning(m, 0));
    ck_assert_ptr_nonnull(strstr(qf_model_warning(m, 0), "no model.safetensors.index.json"));
    qf_model_close(m);
    m = must_open(dir, NULL, 0);
    ck_assert_uint_eq(qf_model_n_tensors(m), 47);
    qf_model_close(m);

    /* index JSON that is not an index */
    write_str(idx, "{\"metadata\":{}}");
    expect_fail(idx, 0, QF_EFORMAT, "weight_map");
    write_str(idx, "{\"weight_map\":{\"a\":1}}");
    expect_fail(idx, 0, QF_EFORMAT, "must name a shard file");
    write_str(idx, "{\"weight_map\":{\"a\":\"/etc/passwd\"}}");
    expect_fail(idx, 0, QF_EFORMAT, "plain file names");
    write_str(idx, "{\"weight_map\":{\"a\":\"..\"}}");
    expect_fail(idx, 0, QF_EFORMAT, "plain file names");
    write_str(idx, "{\"weight_map\":{\"a\":\"pytorch_model-00001-of-00002.bin\"}}");
    expect_fail(idx, 0, QF_EUNSUPPORTED, "not a .safetensors file");
    write_str(idx, "{\"weight_map\":{\"a\":\"b\"},\"weight_map\":{}}");
    expect_fail(idx, 0, QF_EFORMAT, "duplicate");
    qf_model_close(src);
    rm_tmpdir();
}
END_TEST

START_TEST(test_dirs)
{
    mk_tmpdir();
    struct qf_model *m;
    /* empty directory */
    mkdir(tpath("empty"), 0755);
    expect_fail(tpath("empty"), 0, QF_ENOTFOUND, "no *.safetensors");
    /* config.json alone */
    mkdir(tpath("cfg"), 0755);
    write_str(tpath("cfg/config.json"), "{}");
    expect_fail(tpath("cfg"), 0, QF_ENOTFOUND, "config.json but no weights");
    /* two unrelated files, no model.safetensors */
    mkdir(tpath("two"), 0755);
    write_st(tpath("two/a.safetensors"), "{}", 0);
    write_st(tpath("two/b.safetensors"), "{}", 0);
    expect_fail(tpath("two"), 0, QF_EINVAL, "name one");
    /* ... but with model.safetensors that one is the model (reference.safetensors beside it) */
    write_st(tpath("two/model.safetensors"),
             "{\"x\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
    m = must_open(tpath("two"), NULL, 0);
    ck_assert_uint_eq(qf_model_n_tensors(m), 1);
    ck_assert_str_eq(qf_model_tensor(m, 0)->name, "x");
    qf_model_close(m);
    /* a broken config.json beside good weights is an error naming it */
    write_str(tpath("two/config.json"), "{\"a\":");
    expect_fail(tpath("two/model.safetensors"), 0, QF_EFORMAT, "config.json");
    m = must_open(tpath("two/model.safetensors"), NULL, QF_OPEN_NO_CONFIG);
    qf_model_close(m);
    /* generation_config.json and quant_config.json, prefixed */
    write_str(tpath("two/config.json"), "{\"hidden_size\": 3}");
    write_str(tpath("two/generation_config.json"), "{\"max_length\": 77}");
    write_str(tpath("two/quant_config.json"), "{\"w_bit\": 4, \"version\": \"GEMM\"}");
    m = must_open(tpath("two"), NULL, 0);
    ck_assert_int_eq(kv_int(m, "hidden_size", "config.json"), 3);
    ck_assert_int_eq(kv_int(m, "generation_config.max_length", "generation_config.json"), 77);
    ck_assert_int_eq(kv_int(m, "quant_config.w_bit", "quant_config.json"), 4);
    ck_assert(kv_str_is(m, "quant_config.version", "quant_config.json", "GEMM"));
    ck_assert_uint_eq(qf_model_n_files(m), 4);
    qf_model_close(m);
    rm_tmpdir();
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * Pipes */
static pid_t feed_pipe(const char *file, size_t limit, int *rfd)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        size_t n;
        uint8_t *b = read_all(file, &n);
        if (limit < n)
            n = limit;
        size_t o = 0;
        while (o < n) {
            ssize_t w = write(fds[1], b + o, n - o);
            if (w <= 0)
                _exit(1);
            o += (size_t)w;
        }
        _exit(0);
    }
    close(fds[1]);
    *rfd = fds[0];
    return pid;
}

static void read_all_sequential(struct qf_model *m, const char *file)
{
    size_t n;
    uint8_t *raw = read_all(file, &n);
    for (size_t i = 0; i < qf_model_n_tensors(m); i++) {
        const struct qf_tensor *t = qf_model_tensor(m, i);
        uint8_t *buf = malloc(t->nbytes ? t->nbytes : 1);
        struct qf_error e;
        ck_assert_msg(qf_model_read(m, t, 0, buf, t->nbytes, &e) == QF_OK, "%s", e.msg);
        ck_assert(memcmp(buf, raw + t->offset, t->nbytes) == 0);
        free(buf);
    }
    free(raw);
}

START_TEST(test_pipe_devfd)
{
    const char *f = "fixtures/stories260K-hf/model.safetensors";
    int fd;
    pid_t pid = feed_pipe(f, SIZE_MAX, &fd);
    char p[64];
    snprintf(p, sizeof p, "/dev/fd/%d", fd);
    struct qf_model *m = must_open(p, "safetensors", 0);
    ck_assert_str_eq(qf_model_format(m), "safetensors");
    ck_assert_uint_eq(qf_model_n_files(m), 1);
    ck_assert_int_eq(qf_model_file(m, 0)->seekable, 0);
    ck_assert_uint_eq(qf_model_file(m, 0)->header_size, 4864);
    ck_assert_uint_eq(qf_model_n_tensors(m), 47);
    for (size_t i = 0; i < 47; i++) {
        const struct qf_tensor *t = qf_model_tensor(m, i);
        ck_assert_str_eq(t->name, stories_exp[i].name);
        ck_assert_uint_eq(t->offset, 4864 + stories_exp[i].begin);
        ck_assert_uint_eq(t->nbytes, stories_exp[i].end - stories_exp[i].begin);
    }
    read_all_sequential(m, f);
    /* going back is refused */
    uint8_t b[4];
    struct qf_error e;
    ck_assert_int_eq(qf_model_read(m, qf_model_tensor(m, 0), 0, b, 4, &e), QF_EUNSUPPORTED);
    qf_model_close(m);
    close(fd);
    waitpid(pid, NULL, 0);
}
END_TEST

START_TEST(test_pipe_stdin)
{
    const char *f = "fixtures/tiny256-hf/model.safetensors";
    int fd;
    pid_t pid = feed_pipe(f, SIZE_MAX, &fd);
    ck_assert_int_eq(dup2(fd, 0), 0);
    close(fd);
    struct qf_model *m = must_open("-", NULL, 0);
    ck_assert_str_eq(qf_model_format(m), "safetensors");
    ck_assert_uint_eq(qf_model_n_tensors(m), 21);
    ck_assert_str_eq(qf_model_file(m, 0)->path, "-");
    ck_assert(kv_str_is(m, "format", "__metadata__", "pt"));
    ck_assert_ptr_null(qf_model_find_kv(m, "hidden_size")); /* no directory, no config */
    read_all_sequential(m, f);
    qf_model_close(m);
    waitpid(pid, NULL, 0);
}
END_TEST

START_TEST(test_pipe_truncated)
{
    const char *f = "fixtures/stories260K-hf/model.safetensors";
    static const size_t cuts[] = {0, 5, 8, 100, 4863};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        int fd;
        pid_t pid = feed_pipe(f, cuts[i], &fd);
        char p[64];
        snprintf(p, sizeof p, "/dev/fd/%d", fd);
        struct qf_model *m = NULL;
        struct qf_error e;
        ck_assert_int_eq(qf_model_open(p, "safetensors", 0, &m, &e), QF_EFORMAT);
        ck_assert_ptr_null(m);
        ck_assert(e.msg[0]);
        close(fd);
        waitpid(pid, NULL, 0);
    }
    /* header whole, data cut: the open succeeds, the read of the missing part fails */
    int fd;
    pid_t pid = feed_pipe(f, 100000, &fd);
    char p[64];
    snprintf(p, sizeof p, "/dev/fd/%d", fd);
    struct qf_model *m = must_open(p, "safetensors", 0);
    const struct qf_tensor *t = qf_model_tensor(m, 0); /* 131072 bytes */
    uint8_t *buf = malloc(t->nbytes);
    struct qf_error e;
    ck_assert_int_eq(qf_model_read(m, t, 0, buf, t->nbytes, &e), QF_EFORMAT);
    free(buf);
    qf_model_close(m);
    close(fd);
    waitpid(pid, NULL, 0);
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * The hostile corpus: every entry must be refused with a message */
START_TEST(test_hostile)
{
    DIR *d = opendir("hostile/safetensors");
    ck_assert_ptr_nonnull(d);
    struct dirent *de;
    size_t n = 0;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || !strcmp(de->d_name, "README") ||
            !strcmp(de->d_name, "README.md"))
            continue;
        char p[512];
        snprintf(p, sizeof p, "hostile/safetensors/%s", de->d_name);
        for (int fmt = 0; fmt < 2; fmt++) {
            struct qf_model *m = NULL;
            struct qf_error e;
            qf_error_clear(&e);
            int rc = qf_model_open(p, fmt ? "safetensors" : NULL, 0, &m, &e);
            ck_assert_msg(rc < 0, "%s was accepted", p);
            ck_assert_ptr_null(m);
            ck_assert_msg(e.msg[0] != '\0', "%s: empty message", p);
            ck_assert_int_eq(e.code, rc);
        }
        n++;
    }
    closedir(d);
    ck_assert_uint_ge(n, 30);
}
END_TEST

Suite *suite_safetensors(void)
{
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("read");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_probe);
    tcase_add_test(tc, test_stories_file);
    tcase_add_test(tc, test_tiny256_dir);
    tcase_add_test(tc, test_gptq_fixture);
    tcase_add_test(tc, test_fp8_fixture);
    tcase_add_test(tc, test_accepts);
    suite_add_tcase(s, tc);
    tc = tcase_create("write");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_spec_examples);
    tcase_add_test(tc, test_writer_order);
    tcase_add_test(tc, test_writer_escape);
    tcase_add_test(tc, test_writer_refuses);
    tcase_add_test(tc, test_roundtrip);
    tcase_add_test(tc, test_roundtrip_reorders);
    suite_add_tcase(s, tc);
    tc = tcase_create("validate");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_validation);
    tcase_add_test(tc, test_validation_raw);
    tcase_add_test(tc, test_truncation);
    tcase_add_test(tc, test_hostile);
    suite_add_tcase(s, tc);
    tc = tcase_create("sets");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_shards);
    tcase_add_test(tc, test_shards_bad);
    tcase_add_test(tc, test_dirs);
    suite_add_tcase(s, tc);
    tc = tcase_create("pipes");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_pipe_devfd);
    tcase_add_test(tc, test_pipe_stdin);
    tcase_add_test(tc, test_pipe_truncated);
    suite_add_tcase(s, tc);
    return s;
}
