/* Fuzz target: the sequential readers. The input arrives through a pipe, as from
 * `curl ... | qinspect -`: the GGUF reader pulls exactly the header bytes into a growing
 * buffer, the safetensors reader reads its JSON, tensor data can only be read forward, and the
 * probe reads ahead and hands those bytes back to the reader it picks. */
#include "fuzz_common.h"

#include <fcntl.h>

/* A pipe holding data, its write end closed; returns the read end or -1. */
static int pipe_with(const uint8_t *data, size_t size)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    if (size > 65536 && fcntl(fds[1], F_SETPIPE_SZ, (int)size) < (int)size)
        goto fail;
    if (size && write(fds[1], data, size) != (ssize_t)size)
        goto fail;
    close(fds[1]);
    return fds[0];
fail:
    close(fds[0]);
    close(fds[1]);
    return -1;
}

static void via_pipe(const uint8_t *data, size_t size, const char *format, unsigned flags,
                     const char *spelling)
{
    int fd = pipe_with(data, size);
    if (fd < 0)
        return;
    char path[64];
    snprintf(path, sizeof path, spelling, fd);
    struct qf_model *m = NULL;
    struct qf_error err;
    if (qf_model_open(path, format, flags, &m, &err) == QF_OK) {
        volatile uint64_t sink = 0;
        for (size_t i = 0; i < qf_model_n_kv(m); i++) {
            const struct qf_kv *kv = qf_model_kv(m, i);
            if (kv->val.type == QF_V_ARRAY) {
                struct qf_array_iter it;
                struct qf_value v;
                qf_array_iter_init(&it, &kv->val.v.a);
                while (qf_array_iter_next(&it, &v))
                    sink += (uint64_t)v.type;
            }
        }
        /* forward reads in file order: what a streaming consumer does */
        uint8_t buf[256];
        for (size_t i = 0; i < qf_model_n_tensors(m); i++) {
            const struct qf_tensor *t = qf_model_tensor(m, i);
            size_t n = t->nbytes < sizeof buf ? (size_t)t->nbytes : sizeof buf;
            if (qf_model_read(m, t, 0, buf, n, &err) == QF_OK && n)
                sink += buf[n - 1];
        }
        (void)sink;
        qf_model_close(m);
    }
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned k;
    if (size > (1u << 20))
        return 0;
    via_pipe(data, size, "gguf", QF_OPEN_NO_SET, "/proc/self/fd/%d");
    via_pipe(data, size, "gguf", QF_OPEN_NO_SET | QF_OPEN_HEADER_ONLY, "/proc/self/fd/%d");
    via_pipe(data, size, "safetensors", QF_OPEN_NO_SET | QF_OPEN_NO_CONFIG, "/proc/self/fd/%d");
    /* probing keeps the bytes it read ahead for the next open of the same path: alternate the
     * spelling so a pipe of an earlier input is never taken for this one */
    via_pipe(data, size, NULL, QF_OPEN_NO_SET | QF_OPEN_NO_CONFIG,
             (k++ & 1) ? "/dev/fd/%d" : "/proc/self/fd/%d");
    return 0;
}
