/* Unit test runner: every tests/unit/check_*.c exports Suite *suite_NAME(void); the build
 * collects them into suites.h. CK_RUN_SUITE / CK_RUN_CASE narrow the run, CK_FORK=no runs
 * in-process (for gdb), QF_TAP=file writes TAP. Run from tests/ (fixtures are relative). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "suites.h"

typedef Suite *(*suite_fn)(void);
static const suite_fn suites[] = {QF_SUITES};

int main(void)
{
    SRunner *sr = srunner_create(NULL);
    for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++)
        srunner_add_suite(sr, suites[i]());
    const char *tap = getenv("QF_TAP");
    if (tap)
        srunner_set_tap(sr, tap);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
