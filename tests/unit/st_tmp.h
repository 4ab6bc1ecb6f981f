/* st_tmp.h - hand-made safetensors checkpoints for the layout suites (check_bnb.c,
 * check_mlx.c): a temporary directory with model.safetensors (raw writer: header JSON in
 * the order given, data with no gaps) and config.json. Header-only; one copy per suite file. */
#ifndef QF_TEST_ST_TMP_H
#define QF_TEST_ST_TMP_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qf/qf.h"

struct st_part {
    const char *name;
    const char *dtype; /* safetensors dtype string, "U8", "F32", ... */
    int nd;
    uint64_t shape[2];
    const void *data;
    size_t nbytes;
};

static char st_dir[256];

static void st_setup(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(st_dir, sizeof st_dir, "%s/qf-st-XXXXXX", t && *t ? t : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(st_dir));
}

static void st_teardown(void)
{
    static const char *const files[] = {"model.safetensors", "config.json"};
    char p[512];
    for (int k = 0; k < 2; k++) {
        snprintf(p, sizeof p, "%s/%s", st_dir, files[k]);
        unlink(p);
    }
    rmdir(st_dir);
}

/* config NULL: no config.json */
static void st_write(const struct st_part *t, int n, const char *config)
{
    char p[512], hdr[8192];
    size_t hl = 0, off = 0;
    hl += (size_t)snprintf(hdr + hl, sizeof hdr - hl, "{");
    for (int k = 0; k < n; k++) {
        hl += (size_t)snprintf(hdr + hl, sizeof hdr - hl, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[",
                               k ? "," : "", t[k].name, t[k].dtype);
        for (int d = 0; d < t[k].nd; d++)
            hl += (size_t)snprintf(hdr + hl, sizeof hdr - hl, "%s%llu", d ? "," : "",
                                   (unsigned long long)t[k].shape[d]);
        hl += (size_t)snprintf(hdr + hl, sizeof hdr - hl, "],\"data_offsets\":[%zu,%zu]}", off,
                               off + t[k].nbytes);
        off += t[k].nbytes;
    }
    hl += (size_t)snprintf(hdr + hl, sizeof hdr - hl, "}");
    ck_assert_uint_lt(hl + 8, sizeof hdr);
    while (hl % 8)
        hdr[hl++] = ' ';
    snprintf(p, sizeof p, "%s/model.safetensors", st_dir);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    uint8_t len[8];
    for (int k = 0; k < 8; k++)
        len[k] = (uint8_t)((uint64_t)hl >> (8 * k));
    ck_assert_uint_eq(fwrite(len, 1, 8, f), 8);
    ck_assert_uint_eq(fwrite(hdr, 1, hl, f), hl);
    for (int k = 0; k < n; k++)
        if (t[k].nbytes)
            ck_assert_uint_eq(fwrite(t[k].data, 1, t[k].nbytes, f), t[k].nbytes);
    ck_assert_int_eq(fclose(f), 0);
    snprintf(p, sizeof p, "%s/config.json", st_dir);
    unlink(p);
    if (config) {
        f = fopen(p, "w");
        ck_assert_ptr_nonnull(f);
        fputs(config, f);
        ck_assert_int_eq(fclose(f), 0);
    }
}

/* open the checkpoint written last and scan its layout; on failure *m and *l are NULL */
static int st_scan(struct qf_model **m, struct qf_layout **l, struct qf_error *e)
{
    char p[512];
    snprintf(p, sizeof p, "%s/model.safetensors", st_dir);
    *l = NULL;
    ck_assert_msg(qf_model_open(p, NULL, 0, m, e) == QF_OK, "%s", e->msg);
    int rc = qf_layout_scan(*m, 0, l, e);
    if (rc != QF_OK)
        qf_model_close(*m), *m = NULL;
    return rc;
}

#endif /* QF_TEST_ST_TMP_H */
