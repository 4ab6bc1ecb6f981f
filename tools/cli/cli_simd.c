/* cli_simd.c - --simd and --version's SIMD line. Uses qf/kernels.h when the library provides
 * it; otherwise only the scalar level exists. */
#include "cli_simd.h"

#include <string.h>

#if defined(__has_include)
#if __has_include("qf/kernels.h")
#define CLI_HAVE_KERNELS 1
#include "qf/kernels.h"
#endif
#endif

#ifndef CLI_HAVE_KERNELS
int cli_simd_set(const char *level)
{
    return strcmp(level, "scalar") == 0 ? 0 : -1;
}

void cli_simd_list(FILE *f)
{
    fputs("scalar\n", f);
}

void cli_simd_version(FILE *f)
{
    fputs("simd: scalar\n", f);
}
#else
int cli_simd_set(const char *level)
{
    return qf_simd_set(level) == QF_OK ? 0 : -1;
}

void cli_simd_list(FILE *f)
{
    for (size_t i = 0; qf_simd_supported(i); i++)
        fprintf(f, "%s\n", qf_simd_supported(i));
}

void cli_simd_version(FILE *f)
{
    const char *l = qf_simd_level();
    fprintf(f, "simd: %s (supported:", l ? l : "none (QF_SIMD names an unusable level)");
    for (size_t i = 0; qf_simd_supported(i); i++)
        fprintf(f, " %s", qf_simd_supported(i));
    fputs(")\n", f);
}
#endif
