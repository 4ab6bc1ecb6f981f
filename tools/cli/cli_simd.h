/* cli_simd.h - --simd and the SIMD line of --version, over qf/kernels.h when the library
 * has it (a build without kernels knows only "scalar"). */
#ifndef CLI_SIMD_H
#define CLI_SIMD_H

#include <stdio.h>

/* Force a kernel level by name; 0 on success, -1 if unknown or unsupported on this CPU. */
int cli_simd_set(const char *level);
/* Print the usable levels, one per line, best last. */
void cli_simd_list(FILE *f);
/* Print "simd: LEVEL" for --version. */
void cli_simd_version(FILE *f);

#endif /* CLI_SIMD_H */
