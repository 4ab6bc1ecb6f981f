/* Shared by the fuzz targets: hand the input to the library as a file (a memfd), the way the
 * tools see it, and open it with one format or by probing. */
#ifndef QF_FUZZ_COMMON_H
#define QF_FUZZ_COMMON_H
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "qf/qf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a file: a memfd holding data, reachable as path (/proc/self/fd/N). Returns the
 * descriptor (the caller closes it) or -1. */
static inline int fuzz_memfd(const uint8_t *data, size_t size, char path[64])
{
    int fd = memfd_create("fuzz", 0);
    if (fd < 0)
        return -1;
    if (size && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return -1;
    }
    snprintf(path, 64, "/proc/self/fd/%d", fd);
    return fd;
}

/* Open data as a model and touch everything an inspector would; never crashes on any input. */
static inline void fuzz_open(const uint8_t *data, size_t size, const char *format, unsigned flags)
{
    char path[64];
    int fd = fuzz_memfd(data, size, path);
    if (fd < 0)
        return;
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
        uint8_t buf[64];
        for (size_t i = 0; i < qf_model_n_tensors(m); i++) {
            const struct qf_tensor *t = qf_model_tensor(m, i);
            size_t n = t->nbytes < sizeof buf ? (size_t)t->nbytes : sizeof buf;
            if (qf_model_read(m, t, 0, buf, n, &err) == QF_OK && n)
                sink += buf[0];
        }
        (void)sink;
        qf_model_close(m);
    }
    close(fd);
}
#endif
