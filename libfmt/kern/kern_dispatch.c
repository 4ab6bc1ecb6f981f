/* kern_dispatch.c - public kernel API (qf/kernels.h) over the per-level kernel tables.
 *
 * At first use the level tables are completed (a NULL entry of a level takes the entry of the
 * level below: avx512 -> avx2 -> scalar on x86-64, neon -> scalar on AArch64) and the level
 * is chosen: QF_SIMD if set, else the best
 * the CPU supports. An invalid QF_SIMD is reported, never replaced by another level.
 */
#include "qf/kernels.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kern/kern.h"
#include "qf_int.h"

#if defined(__aarch64__)
enum { LVL_SCALAR, LVL_NEON, LVL_COUNT };
static const char *const level_names[LVL_COUNT] = {"scalar", "neon"};
#else
enum { LVL_SCALAR, LVL_AVX2, LVL_AVX512, LVL_COUNT };
static const char *const level_names[LVL_COUNT] = {"scalar", "avx2", "avx512"};
#endif

static struct kern_table merged[LVL_COUNT];
static int n_supported = 1; /* levels 0..n_supported-1 run on this CPU */
static pthread_once_t once = PTHREAD_ONCE_INIT;
/* Level in use, or -1 when QF_SIMD asked for something unusable. */
static _Atomic int active_level = LVL_SCALAR;

static void merge(struct kern_table *dst, const struct kern_table *lower,
                  const struct kern_table *over, const char *name)
{
    *dst = *lower;
    dst->name = name;
    if (!over)
        return;
    for (int t = 0; t < QF_TYPE_END; t++) {
        if (over->dq[t])
            dst->dq[t] = over->dq[t];
        if (over->q[t])
            dst->q[t] = over->q[t];
    }
}

/* Level index for a name: >= 0, or QF_EINVAL (unknown) / QF_EUNSUPPORTED (not on this CPU). */
static int level_from_name(const char *name)
{
    if (!name)
        return QF_EINVAL;
    if (!strcmp(name, "auto"))
        return n_supported - 1;
    for (int i = 0; i < LVL_COUNT; i++)
        if (!strcmp(name, level_names[i]))
            return i < n_supported ? i : QF_EUNSUPPORTED;
    return QF_EINVAL;
}

static void init(void)
{
    merge(&merged[LVL_SCALAR], &kern_table_scalar, NULL, level_names[LVL_SCALAR]);
#if defined(__x86_64__) || defined(__i386__)
    merge(&merged[LVL_AVX2], &merged[LVL_SCALAR], &kern_table_avx2, level_names[LVL_AVX2]);
    merge(&merged[LVL_AVX512], &merged[LVL_AVX2], &kern_table_avx512, level_names[LVL_AVX512]);
    const unsigned f = kern_cpu_features();
    if (f & KERN_CPU_AVX2)
        n_supported = (f & KERN_CPU_AVX512) ? 3 : 2;
#elif defined(__aarch64__)
    merge(&merged[LVL_NEON], &merged[LVL_SCALAR], &kern_table_neon, level_names[LVL_NEON]);
    n_supported = 2; /* Advanced SIMD is part of every AArch64 CPU */
#endif
    const char *env = getenv("QF_SIMD");
    if (env && *env) {
        const int l = level_from_name(env);
        atomic_store(&active_level, l >= 0 ? l : -1);
    } else {
        atomic_store(&active_level, n_supported - 1);
    }
}

const struct kern_table *kern_level_table(const char *name)
{
    pthread_once(&once, init);
    const int l = level_from_name(name);
    return l >= 0 ? &merged[l] : NULL;
}

const struct kern_table *kern_active_table(void)
{
    pthread_once(&once, init);
    const int l = atomic_load(&active_level);
    return l >= 0 ? &merged[l] : NULL;
}

int qf_simd_set(const char *level)
{
    pthread_once(&once, init);
    const int l = level_from_name(level);
    if (l < 0)
        return l;
    atomic_store(&active_level, l);
    return QF_OK;
}

const char *qf_simd_level(void)
{
    const struct kern_table *t = kern_active_table();
    return t ? t->name : NULL;
}

const char *qf_simd_supported(size_t i)
{
    pthread_once(&once, init);
    return i < (size_t)n_supported ? level_names[i] : NULL;
}

/* ---------------------------------------------------------------------------------------
 * Conversions
 */
static const struct qf_type_info *data_type(int type)
{
    const struct qf_type_info *ti = qf_type_info(type);
    if (!ti || !(ti->flags & QF_TYPEF_VALID) || ti->blck == 0 || ti->block_bytes == 0)
        return NULL;
    return ti;
}

int qf_type_can_dequantize(int type)
{
    return data_type(type) && kern_table_scalar.dq[type] != NULL;
}

int qf_type_can_quantize(int type)
{
    return data_type(type) && kern_table_scalar.q[type] != NULL;
}

int qf_type_needs_imatrix(int type)
{
    return type == QF_TYPE_IQ2_XXS || type == QF_TYPE_IQ2_XS || type == QF_TYPE_IQ1_S;
}

/* Blocks handed to one dequantizer call: bounds the size_t arithmetic inside kernels and keeps
 * the working set moderate. */
#define DQ_CHUNK_BLOCKS ((size_t)1 << 20)

int qf_dequantize(int type, const void *src, float *dst, uint64_t n)
{
    const struct qf_type_info *ti = data_type(type);
    if (!ti)
        return qf_type_info(type) ? QF_EUNSUPPORTED : QF_EINVAL;
    const struct kern_table *t = kern_active_table();
    if (!t || !t->dq[type])
        return QF_EUNSUPPORTED;
    if (n % ti->blck)
        return QF_EINVAL;
    if (n == 0)
        return QF_OK;
    if (!src || !dst)
        return QF_EINVAL;
    uint64_t nb = n / ti->blck;
    const uint8_t *s = src;
    while (nb) {
        const size_t k = nb < DQ_CHUNK_BLOCKS ? (size_t)nb : DQ_CHUNK_BLOCKS;
        t->dq[type](s, dst, k);
        s += k * ti->block_bytes;
        dst += k * ti->blck;
        nb -= k;
    }
    return QF_OK;
}

int64_t qf_quantize(int type, const float *src, void *dst, uint64_t nrows, uint64_t n_per_row,
                    const float *imatrix)
{
    const struct qf_type_info *ti = data_type(type);
    if (!ti)
        return qf_type_info(type) ? QF_EUNSUPPORTED : QF_EINVAL;
    const struct kern_table *t = kern_active_table();
    if (!t || !t->q[type])
        return QF_EUNSUPPORTED;
    if (n_per_row % ti->blck || n_per_row > (uint64_t)INT64_MAX)
        return QF_EINVAL;
    if (!imatrix && qf_type_needs_imatrix(type))
        return QF_EINVAL;
    uint64_t row_bytes, total, nelem;
    if (!qfi_mul_ok(n_per_row / ti->blck, ti->block_bytes, &row_bytes) ||
        !qfi_mul_ok(row_bytes, nrows, &total) || total > (uint64_t)INT64_MAX ||
        !qfi_mul_ok(n_per_row, nrows, &nelem))
        return QF_ELIMIT;
    if (total == 0)
        return 0;
    if (!src || !dst)
        return QF_EINVAL;
    uint8_t *d = dst;
    for (uint64_t r = 0; r < nrows; r++)
        t->q[type](src + r * n_per_row, d + r * row_bytes, (int64_t)n_per_row, imatrix);
    return (int64_t)total;
}
