/* bench_repack - single-thread throughput of the GPTQ <-> AWQ qweight repack kernels.
 *
 * For every SIMD level the CPU supports and both directions, repacks one 64 MiB qweight
 * (in = 8192, out = 16384, 4-bit) and prints GB/s of qweight bytes (read once, written once per
 * pass), by the thread's CPU time (CLOCK_THREAD_CPUTIME_ID: a loaded machine does not lower it)
 * and by wall time. Every level's output is compared with the scalar reference's. The verdict
 * compares the best level's CPU-time figure with the target of 4 GB/s.
 *
 * usage: bench_repack [--quick]      --quick: 8 MiB layer, shorter timing windows
 * Exit status 1 if a level's bytes differ from the scalar reference.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qf/qf.h"
#include "repack_int.h"

#define TARGET_GBS 4.0

static double clock_s(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    int quick = argc > 1 && !strcmp(argv[1], "--quick");
    const uint64_t in = quick ? 2048 : 8192, out = quick ? 8192 : 16384;
    const size_t n = (size_t)(in * out / 2);
    const double min_time = quick ? 0.1 : 0.5;
    uint8_t *src = malloc(n), *dst = malloc(n), *ref = malloc(n);
    if (!src || !dst || !ref) {
        fprintf(stderr, "bench_repack: out of memory\n");
        return 1;
    }
    uint64_t s = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < n; i += 8) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        memcpy(src + i, &s, 8);
    }
    printf("GPTQ <-> AWQ 4-bit qweight repack, in %llu x out %llu (%.0f MiB), single thread\n",
           (unsigned long long)in, (unsigned long long)out, (double)n / (1 << 20));
    printf("%-12s %-8s %10s %10s %7s\n", "direction", "level", "GB/s cpu", "GB/s wall", "passes");
    int st = 0;
    double best[2] = {0, 0};
    for (int dir = 0; dir < 2; dir++) {
        const struct qfi_repack_fns *sc = qfi_repack_fns_level("scalar");
        (dir ? sc->a2g : sc->g2a)(src, ref, in, out);
        for (size_t l = 0; qf_simd_supported(l); l++) {
            const struct qfi_repack_fns *f = qfi_repack_fns_level(qf_simd_supported(l));
            const qfi_repack_qw_fn fn = dir ? f->a2g : f->g2a;
            memset(dst, 0, n);
            fn(src, dst, in, out); /* warm: pages mapped */
            if (memcmp(dst, ref, n)) {
                printf("%s %s: output differs from the scalar reference\n",
                       dir ? "AWQ->GPTQ" : "GPTQ->AWQ", f->name);
                st = 1;
            }
            int passes = 0;
            const double c0 = clock_s(CLOCK_THREAD_CPUTIME_ID), w0 = clock_s(CLOCK_MONOTONIC);
            double c1;
            do {
                fn(src, dst, in, out);
                passes++;
                c1 = clock_s(CLOCK_THREAD_CPUTIME_ID);
            } while (c1 - c0 < min_time);
            const double w1 = clock_s(CLOCK_MONOTONIC);
            const double gc = (double)n * passes / (c1 - c0) / 1e9;
            const double gw = (double)n * passes / (w1 - w0) / 1e9;
            if (gc > best[dir])
                best[dir] = gc;
            printf("%-12s %-8s %10.2f %10.2f %7d\n", dir ? "AWQ->GPTQ" : "GPTQ->AWQ", f->name, gc,
                   gw, passes);
        }
    }
    for (int dir = 0; dir < 2; dir++)
        printf("%s best %.2f GB/s (CPU time): %s the %.0f GB/s target\n",
               dir ? "AWQ->GPTQ" : "GPTQ->AWQ", best[dir], best[dir] >= TARGET_GBS ? "meets"
                                                                                : "below",
               TARGET_GBS);
    free(src);
    free(dst);
    free(ref);
    return st;
}
