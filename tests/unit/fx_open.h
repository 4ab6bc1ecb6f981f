/* fx_open.h - open a model from tests/fixtures/<dir>/<file> in a unit test (the run starts in
 * tests/); a failure fails the test with the library's message. */
#ifndef QF_TEST_FX_OPEN_H
#define QF_TEST_FX_OPEN_H

#include <check.h>
#include <stdio.h>

#include "qf/qf.h"

static struct qf_model *fx_open(const char *dir, const char *file, unsigned flags)
{
    char p[256];
    struct qf_error e;
    struct qf_model *m;
    snprintf(p, sizeof p, "fixtures/%s/%s", dir, file);
    ck_assert_msg(qf_model_open(p, NULL, flags, &m, &e) == QF_OK, "%s: %s", p, e.msg);
    return m;
}

#endif
