/* cpu.c - which SIMD levels this CPU and its OS can run (detected once).
 *
 * x86: CPUID says what the CPU implements; XGETBV (after checking OSXSAVE) says whether the OS
 * saves the wider register state on context switches. AVX2 needs XCR0 bits 1-2 (SSE, YMM), the
 * AVX-512 level additionally bits 5-7 (opmask, ZMM0-15 upper halves, ZMM16-31).
 */
#include "kern/kern.h"

#include <pthread.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static uint64_t read_xcr0(void)
{
    uint32_t lo, hi;
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0)); /* xgetbv */
    return ((uint64_t)hi << 32) | lo;
}

static unsigned detect(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    const int has_fma = (c >> 12) & 1, has_osxsave = (c >> 27) & 1, has_avx = (c >> 28) & 1;
    const int has_f16c = (c >> 29) & 1;
    if (!has_osxsave || !has_avx)
        return 0;
    const uint64_t xcr0 = read_xcr0();
    if ((xcr0 & 0x6) != 0x6) /* XMM and YMM state */
        return 0;
    if (__get_cpuid_max(0, NULL) < 7)
        return 0;
    __cpuid_count(7, 0, a, b, c, d);
    const int has_avx2 = (b >> 5) & 1;
    const int has_avx512f = (b >> 16) & 1, has_avx512dq = (b >> 17) & 1;
    const int has_avx512bw = (b >> 30) & 1, has_avx512vl = (b >> 31) & 1;
    unsigned f = 0;
    if (has_avx2 && has_fma && has_f16c)
        f |= KERN_CPU_AVX2;
    if ((f & KERN_CPU_AVX2) && has_avx512f && has_avx512dq && has_avx512bw && has_avx512vl &&
        (xcr0 & 0xE0) == 0xE0)
        f |= KERN_CPU_AVX512;
    return f;
}
#else
static unsigned detect(void)
{
    return 0;
}
#endif

static pthread_once_t once = PTHREAD_ONCE_INIT;
static unsigned features;

static void init(void)
{
    features = detect();
}

unsigned kern_cpu_features(void)
{
    pthread_once(&once, init);
    return features;
}
