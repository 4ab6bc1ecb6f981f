/* lw_tmp.h - helpers of the layout writer suites (check_lwrite.c, check_lwrite_repack.c): a
 * temporary directory, its removal, little-endian words, whole tensors read back and a
 * safetensors writer.
 * Header-only; one copy per suite file. */
#ifndef QF_TEST_LW_TMP_H
#define QF_TEST_LW_TMP_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qf/qf.h"

static char tmpdir[256];

static inline void mk_tmp(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s/qf-lwrite-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static inline void rm_tree(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static inline uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* a whole tensor's bytes (malloc'd) */
static inline uint8_t *read_all(struct qf_model *m, const char *name,
                                const struct qf_tensor **tp)
{
    struct qf_error e;
    const struct qf_tensor *t = qf_model_find_tensor(m, name);
    ck_assert_msg(t != NULL, "no tensor %s", name);
    uint8_t *b = malloc(t->nbytes ? t->nbytes : 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(qf_model_read(m, t, 0, b, (size_t)t->nbytes, &e), QF_OK);
    if (tp)
        *tp = t;
    return b;
}

/* a safetensors writer into path keeping the declaration order, without fsync */
static inline struct qf_writer *lw_new_writer(const char *path)
{
    struct qf_error e;
    struct qf_writer *w;
    struct qf_writer_opts o;
    memset(&o, 0, sizeof o);
    o.keep_order = 1;
    o.no_fsync = 1;
    ck_assert_msg(qf_writer_new("safetensors", path, &o, &w, &e) == QF_OK, "%s", e.msg);
    return w;
}

#endif /* QF_TEST_LW_TMP_H */
