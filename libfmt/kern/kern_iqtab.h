/* kern_iqtab.h - lookup grids of the ggml i-quant types and the quantizers' search tables
 * (internal to libfmt/kern).
 *
 * Grids (kern_iqtab.c, generated from the spec's table listing by tests/kern/mkiqtab.py) are
 * packed little-endian byte vectors: byte j of entry i, (grid[i] >> 8*j) & 0xff, is the value
 * of element j of that group of 8 (u64 grids) or 4 (u32 grids). iq1s_grid bytes are int8
 * values -1, 0, +1.
 *
 * Search tables (struct kern_iqgrid) are what the IQ1/IQ2/IQ3 quantizers need to put a
 * pattern of levels onto the grid: every grid entry as idealised levels, a map from a pattern
 * to its grid index, and for each pattern that is not on the grid, the list of its nearest
 * grid entries. They are built once per process on first use (pthread_once) and are then
 * read-only and thread-safe.
 */
#ifndef QF_KERN_IQTAB_H
#define QF_KERN_IQTAB_H

#include <stdint.h>

extern const uint8_t kern_kmask_iq2xs[8];      /* 1 << j */
extern const uint8_t kern_ksigns_iq2xs[128];   /* s7 | parity(s7) << 7 */
extern const int8_t kern_kvalues_iq4nl[16];    /* IQ4_NL / IQ4_XS levels */
extern const int8_t kern_kvalues_fp4[16];      /* E2M1 values doubled (MXFP4, NVFP4) */
extern const uint64_t kern_iq2xxs_grid[256];   /* bytes in {8, 25, 43} */
extern const uint64_t kern_iq2xs_grid[512];
extern const uint64_t kern_iq2s_grid[1024];
extern const uint32_t kern_iq3xxs_grid[256];   /* bytes in {4, 12, 20, 28, 36, 44, 52, 62} */
extern const uint32_t kern_iq3s_grid[512];     /* bytes in {1, 3, ..., 15} */
extern const uint64_t kern_iq1s_grid[2048];    /* int8 bytes in {-1, 0, +1} */

/* Which grid a search table describes. */
enum kern_iqg {
    KERN_IQG_2XXS,  /* 256 x 8, 2-bit levels, 2 neighbour distances */
    KERN_IQG_2XS,   /* 512 x 8, 2 distances */
    KERN_IQG_2S,    /* 1024 x 8, 1 distance */
    KERN_IQG_1S,    /* 2048 x 8, 3 distances (IQ1_S and IQ1_M) */
    KERN_IQG_3XXS,  /* 256 x 4, 3-bit levels, 2 distances */
    KERN_IQG_3S,    /* 512 x 4, 3 distances */
    KERN_IQG_COUNT
};

/* A grid as the quantizers see it. A pattern is the group's level indices l_j packed as
 * u = sum l_j << (bits*j) (bits = 2 for 8-element groups with l in 0..2, 3 for 4-element
 * groups with l in 0..7). levels[g*group + j] = 2*l_j + 1 for grid entry g (the idealised
 * odd levels the quantizers work with; for IQ1 they stand for -1, 0, +1).
 * map[u] >= 0: the grid index of pattern u. map[u] < 0: pattern u is off the grid and
 * neigh[-map[u] - 1] is the count n of its nearest entries, followed by their n indices,
 * ordered by squared distance (of the odd levels) and then by index: all entries at the
 * nwant smallest distinct distances. Patterns with a 2-bit field equal to 3 never occur and
 * map to KERN_IQG_NOPATTERN. */
#define KERN_IQG_NOPATTERN INT32_MIN
struct kern_iqgrid {
    int size;          /* grid entries */
    int group;         /* elements per entry: 8 or 4 */
    int bits;          /* bits per level in a pattern: 2 or 3 */
    uint32_t map_size; /* number of patterns (1 << bits*group, 2-bit: 43692 used) */
    const uint8_t *levels;
    const int32_t *map;
    const uint16_t *neigh;
};

/* The search table of grid g, built on first call (thread-safe). NULL only if memory could
 * not be allocated (then every later call returns NULL too). */
const struct kern_iqgrid *kern_iqgrid_get(enum kern_iqg g);

/* ---------------------------------------------------------------------------------------
 * SIMD dequantizers (kern_iq_avx2.c), x86 with GCC or clang only. Same signature and the same
 * float bits as kern_dq_<t> for every input. *_avx2 need KERN_CPU_AVX2, *_avx512 need
 * KERN_CPU_AVX512 (kern.h, kern_cpu_features()); they are meant for the dispatch tables.
 */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define KERN_IQ_X86 1
#else
#define KERN_IQ_X86 0
#endif
#if KERN_IQ_X86
#include <stddef.h>
void kern_dq_iq4_nl_avx2(const void *restrict src, float *restrict dst, size_t nblocks);
void kern_dq_iq4_xs_avx2(const void *restrict src, float *restrict dst, size_t nblocks);
void kern_dq_tq1_0_avx2(const void *restrict src, float *restrict dst, size_t nblocks);
void kern_dq_tq2_0_avx2(const void *restrict src, float *restrict dst, size_t nblocks);
void kern_dq_iq4_nl_avx512(const void *restrict src, float *restrict dst, size_t nblocks);
void kern_dq_iq4_xs_avx512(const void *restrict src, float *restrict dst, size_t nblocks);
void kern_dq_tq1_0_avx512(const void *restrict src, float *restrict dst, size_t nblocks);
void kern_dq_tq2_0_avx512(const void *restrict src, float *restrict dst, size_t nblocks);
#endif

#endif /* QF_KERN_IQTAB_H */
