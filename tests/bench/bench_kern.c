/* bench_kern - single-thread throughput of the dequantize and quantize kernels.
 *
 * For every type and every SIMD level the CPU supports, prints GB/s of float32 (4 bytes per
 * value, read by quantize, written by dequantize) on a 64K-value row repeated while it stays in
 * L2, and on a 64M-value buffer (one pass: memory bound). The last column compares the best level
 * with the target throughput of the kernel (64K values). Times are the thread's CPU time
 * (CLOCK_THREAD_CPUTIME_ID), so a loaded machine does not lower the figures.
 *
 * usage: bench_kern [--quick] [--type NAME] [--level NAME] [--no-large]
 *   --quick     shorter timing windows, and the large buffer is 8M values
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qf/qf.h"
#include "kern/kern.h"

#define SMALL_N (64 * 1024)
#define ROW SMALL_N /* row length for the quantizers: 64K values */

struct target {
    int type;
    double dq, q; /* GB/s of f32 at 64K values; 0 = none given */
};

static const struct target targets[] = {
    {QF_TYPE_F32, 0, 0},      {QF_TYPE_F16, 10.4, 2.8},  {QF_TYPE_BF16, 24, 11},
    {QF_TYPE_Q4_0, 13.6, 5.6}, {QF_TYPE_Q4_1, 12, 7},    {QF_TYPE_Q5_0, 7, 0},
    {QF_TYPE_Q5_1, 0, 0},     {QF_TYPE_Q8_0, 30, 24},    {QF_TYPE_Q8_1, 0, 0},
    {QF_TYPE_Q2_K, 0, 0.7},   {QF_TYPE_Q3_K, 0, 9},      {QF_TYPE_Q4_K, 23, 0.6},
    {QF_TYPE_Q5_K, 19, 0.8},  {QF_TYPE_Q6_K, 5.8, 1.4},  {QF_TYPE_Q8_K, 0, 0},
    {QF_TYPE_IQ4_NL, 7.4, 2.6}, {QF_TYPE_IQ4_XS, 0, 0.2},
};

/* CPU time of this thread: the machine is shared, and wall time would count the time other
 * processes hold the core. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng = 0x243F6A8885A308D3ull;
static float gauss(void)
{
    float s = 0;
    for (int i = 0; i < 4; i++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        s += (float)(rng >> 40) / 16777216.0f;
    }
    return (s - 2.0f) * 1.7f;
}

static double min_time = 0.25;

/* Best GB/s over 3 windows of ~min_time/3 each, repeating fn over n values. */
typedef void (*run_fn)(const struct kern_table *kt, int type, const void *in, void *out, size_t n,
                       const float *imx);

static void run_dq(const struct kern_table *kt, int type, const void *in, void *out, size_t n,
                   const float *imx)
{
    (void)imx;
    kt->dq[type](in, out, n / qf_type_info(type)->blck);
}

static void run_q(const struct kern_table *kt, int type, const void *in, void *out, size_t n,
                  const float *imx)
{
    const struct qf_type_info *ti = qf_type_info(type);
    const size_t row_bytes = ROW / ti->blck * ti->block_bytes;
    for (size_t r = 0; r < n / ROW; r++)
        kt->q[type]((const float *)in + r * ROW, (uint8_t *)out + r * row_bytes, ROW, imx);
}

static double measure(run_fn fn, const struct kern_table *kt, int type, const void *in,
                      void *out, size_t n, const float *imx, int repeat)
{
    double best = 0;
    for (int w = 0; w < (repeat ? 3 : 1); w++) {
        double t0 = now(), t;
        size_t iters = 0;
        do {
            fn(kt, type, in, out, n, imx);
            iters++;
            t = now() - t0;
        } while (repeat && t < min_time / 3);
        const double gbs = (double)n * 4.0 * (double)iters / t / 1e9;
        if (gbs > best)
            best = gbs;
    }
    return best;
}

int main(int argc, char **argv)
{
    const char *only_type = NULL, *only_level = NULL;
    size_t large_n = (size_t)64 << 20;
    int large = 1, use_imatrix = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) {
            min_time = 0.06;
            large_n = (size_t)8 << 20;
        } else if (!strcmp(argv[i], "--type") && i + 1 < argc) {
            only_type = argv[++i];
        } else if (!strcmp(argv[i], "--level") && i + 1 < argc) {
            only_level = argv[++i];
        } else if (!strcmp(argv[i], "--no-large")) {
            large = 0;
        } else if (!strcmp(argv[i], "--imatrix")) {
            use_imatrix = 1;
        } else {
            fprintf(stderr, "usage: bench_kern [--quick] [--type NAME] [--level NAME] "
                            "[--no-large] [--imatrix]\n");
            return 2;
        }
    }
    const size_t big = large ? large_n : SMALL_N;
    float *x = malloc(big * sizeof(float));
    float *y = malloc(big * sizeof(float));
    uint8_t *q = malloc(big * 4 + 4096); /* F32 "quantizes" to 4 bytes a value */
    float *imx = malloc(ROW * sizeof(float));
    if (!x || !y || !q || !imx) {
        fprintf(stderr, "bench_kern: out of memory\n");
        return 2;
    }
    for (size_t i = 0; i < big; i++)
        x[i] = gauss() * 0.05f;
    memset(y, 1, big * sizeof(float)); /* fault the pages in before timing (non-zero: a zero
                                          memset after malloc may become calloc) */
    memset(q, 1, big * 4 + 4096);
    for (size_t i = 0; i < ROW; i++)
        imx[i] = 0.5f + (float)(i % 17) / 8.0f;

    printf("bench_kern: GB/s of float32, single thread CPU time; 64K = %d values repeated (L2)", SMALL_N);
    if (large)
        printf(", large = one pass over %zuM values (%zu MiB of float32)", big >> 20, big * 4 >> 20);
    printf("%s\n", use_imatrix ? "; quantize with imatrix" : "");
    printf("%-6s %-4s %-7s %9s %9s   %s\n", "type", "op", "level", "64K", large ? "large" : "-",
           "target (64K, best level)");
    for (size_t k = 0; k < sizeof targets / sizeof targets[0]; k++) {
        const int type = targets[k].type;
        const struct qf_type_info *ti = qf_type_info(type);
        if (only_type && qf_type_from_name(only_type) != type)
            continue;
        for (int op = 0; op < 2; op++) {
            double best = 0;
            const char *best_level = "?";
            for (size_t l = 0; qf_simd_supported(l); l++) {
                const char *lvl = qf_simd_supported(l);
                if (only_level && strcmp(lvl, only_level))
                    continue;
                const struct kern_table *kt = kern_level_table(lvl);
                if (op ? !kt->q[type] : !kt->dq[type])
                    continue;
                /* the quantized form of x, for the dequantizers */
                run_q(kern_level_table("auto"), type, x, q, big, NULL);
                const float *w = use_imatrix ? imx : NULL;
                const double s = op ? measure(run_q, kt, type, x, q, SMALL_N, w, 1)
                                    : measure(run_dq, kt, type, q, y, SMALL_N, w, 1);
                double b = 0;
                if (large)
                    b = op ? measure(run_q, kt, type, x, q, big, w, 0)
                           : measure(run_dq, kt, type, q, y, big, w, 0);
                printf("%-6s %-4s %-7s %9.2f %9.2f\n", ti->name, op ? "q" : "dq", lvl, s, b);
                fflush(stdout);
                if (s > best) {
                    best = s;
                    best_level = lvl;
                }
            }
            const double tgt = op ? targets[k].q : targets[k].dq;
            if (tgt > 0 && best > 0)
                printf("%-6s %-4s %-7s %9.2f %9s   target %.1f: %s\n", ti->name, op ? "q" : "dq",
                       best_level, best, "", tgt, best >= tgt ? "met" : "BELOW");
        }
    }
    free(x);
    free(y);
    free(q);
    free(imx);
    return 0;
}
