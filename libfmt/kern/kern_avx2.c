/* kern_avx2.c - AVX2 kernels (placeholder table while the kernels are written). */
#include "kern/kern.h"

const struct kern_table kern_table_avx2 = {.name = "avx2"};
