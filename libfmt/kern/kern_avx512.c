/* kern_avx512.c - AVX-512 kernels (placeholder table while the kernels are written). */
#include "kern/kern.h"

const struct kern_table kern_table_avx512 = {.name = "avx512"};
