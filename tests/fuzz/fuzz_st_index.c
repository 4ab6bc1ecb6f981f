/* Fuzz target: sharded safetensors checkpoints. The input becomes model.safetensors.index.json
 * in a private directory beside two small valid shards (tensors a, b in shard 1 and c in
 * shard 2) and a config.json; the set is then opened three ways: the directory, the index
 * file, and a shard (which finds its index). */
#include "fuzz_common.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

static char dir[64];

static void cleanup(void)
{
    static const char *const names[] = {"model.safetensors.index.json",
                                        "model-00001-of-00002.safetensors",
                                        "model-00002-of-00002.safetensors", "config.json"};
    char p[128];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

static int put(const char *name, const void *data, size_t len)
{
    char p[128];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    int ok = write(fd, data, len) == (ssize_t)len;
    close(fd);
    return ok ? 0 : -1;
}

/* A safetensors file: 8-byte length, the JSON header, then data bytes 0, 1, 2, ... */
static int put_shard(const char *name, const char *json, size_t data_len)
{
    size_t hl = strlen(json);
    uint8_t buf[512];
    if (8 + hl + data_len > sizeof buf)
        return -1;
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, json, hl);
    for (size_t i = 0; i < data_len; i++)
        buf[8 + hl + i] = (uint8_t)i;
    return put(name, buf, 8 + hl + data_len);
}

static int setup(void)
{
    if (dir[0])
        return 0;
    snprintf(dir, sizeof dir, "%s", "/tmp/qf-fuzz-index.XXXXXX");
    if (!mkdtemp(dir)) {
        dir[0] = '\0';
        return -1;
    }
    atexit(cleanup);
    if (put_shard("model-00001-of-00002.safetensors",
                  "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                  "\"b\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[8,16]}}",
                  16) ||
        put_shard("model-00002-of-00002.safetensors",
                  "{\"__metadata__\":{\"format\":\"pt\"},"
                  "\"c\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,6]}}",
                  6))
        return -1;
    static const char config[] = "{\"architectures\":[\"LlamaForCausalLM\"],"
                                 "\"model_type\":\"llama\",\"hidden_size\":2}";
    return put("config.json", config, sizeof config - 1);
}

static void try_open(const char *path, const char *format, unsigned flags)
{
    struct qf_model *m = NULL;
    struct qf_error err;
    if (qf_model_open(path, format, flags, &m, &err) != QF_OK)
        return;
    volatile uint64_t sink = 0;
    uint8_t buf[16];
    for (size_t i = 0; i < qf_model_n_tensors(m); i++) {
        const struct qf_tensor *t = qf_model_tensor(m, i);
        size_t n = t->nbytes < sizeof buf ? (size_t)t->nbytes : sizeof buf;
        if (qf_model_read(m, t, 0, buf, n, &err) == QF_OK && n)
            sink += buf[0];
        sink += qf_model_find_tensor(m, t->name) == t;
    }
    for (size_t i = 0; i < qf_model_n_kv(m); i++)
        sink += qf_model_kv(m, i)->val.type;
    for (size_t i = 0; qf_model_warning(m, i); i++)
        sink++;
    (void)sink;
    qf_model_close(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (setup() != 0 || put("model.safetensors.index.json", data, size) != 0)
        return 0;
    char p[128];
    try_open(dir, NULL, 0);
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
    try_open(p, "safetensors", QF_OPEN_NO_CONFIG);
    snprintf(p, sizeof p, "%s/model-00002-of-00002.safetensors", dir);
    try_open(p, NULL, QF_OPEN_PARTIAL);
    return 0;
}
