/* Unit tests of single-byte error location from CRC-32s (qf_crc32_locate) and of state
 * duplication (qf_hash_dup). The oracle is brute force: patch every byte of a buffer with
 * every non-zero pattern and compare zlib CRC-32s; the location must name exactly the
 * patches the brute force finds. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "qf/hash.h"

Suite *suite_crcloc(void);

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static uint8_t *random_buf(size_t n)
{
    uint8_t *b = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(b);
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)rnd();
    return b;
}

/* Every (pos, xor) whose patch of good gives the CRC crc_bad, by brute force; returns the
 * count and stores up to max of them in decreasing position order. */
static size_t brute(const uint8_t *good, size_t n, uint32_t crc_bad, struct qf_crc32_fix *out,
                    size_t max)
{
    uint8_t *w = malloc(n);
    ck_assert_ptr_nonnull(w);
    memcpy(w, good, n);
    size_t found = 0;
    for (size_t k = 0; k < n; k++) {
        size_t p = n - 1 - k;
        for (unsigned e = 1; e < 256; e++) {
            w[p] = (uint8_t)(good[p] ^ e);
            if (qf_crc32(0, w, n) == crc_bad) {
                if (found < max) {
                    out[found].pos = p;
                    out[found].xor = (uint8_t)e;
                }
                found++;
            }
        }
        w[p] = good[p];
    }
    free(w);
    return found;
}

/* The check value of CRC-32 and qf_crc32 continuing across calls. */
START_TEST(test_crc32_value)
{
    ck_assert_uint_eq(qf_crc32(0, "123456789", 9), 0xCBF43926u);
    uint32_t c = qf_crc32(0, "1234", 4);
    ck_assert_uint_eq(qf_crc32(c, "56789", 5), 0xCBF43926u);
    ck_assert_uint_eq(qf_crc32(0, "", 0), 0u);
}
END_TEST

/* One flipped byte in random buffers of lengths that are and are not multiples of 8, at the
 * first, last and random positions: the location names it, and for these short lengths
 * nothing else (the brute force agrees on the whole candidate set). */
START_TEST(test_single_byte_short)
{
    static const size_t lens[] = {1, 2, 3, 5, 7, 8, 9, 13, 31, 64, 65, 127, 255, 301};
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        size_t n = lens[li];
        uint8_t *good = random_buf(n), *bad = malloc(n);
        ck_assert_ptr_nonnull(bad);
        size_t pos[3] = {0, n - 1, (size_t)(rnd() % n)};
        for (int pi = 0; pi < 3; pi++) {
            uint8_t e = (uint8_t)(rnd() % 255 + 1);
            memcpy(bad, good, n);
            bad[pos[pi]] ^= e;
            uint32_t cg = qf_crc32(0, good, n), cb = qf_crc32(0, bad, n);
            struct qf_crc32_fix got[8], want[8];
            size_t ng = qf_crc32_locate(cb, cg, n, got, 8);
            size_t nw = brute(good, n, cb, want, 8);
            ck_assert_uint_eq(nw, 1);
            ck_assert_uint_eq(ng, nw);
            ck_assert_uint_eq(got[0].pos, pos[pi]);
            ck_assert_uint_eq(got[0].xor, e);
            ck_assert_uint_eq(want[0].pos, pos[pi]);
            /* the arguments' order only swaps which side is "have": same xor */
            ck_assert_uint_eq(qf_crc32_locate(cg, cb, n, got, 8), 1);
            ck_assert_uint_eq(got[0].xor, e);
        }
        free(good);
        free(bad);
    }
}
END_TEST

/* Every position and every pattern of a 1-byte and a 3-byte string. */
START_TEST(test_tiny_exhaustive)
{
    for (size_t n = 1; n <= 3; n++) {
        uint8_t good[3] = {0x5a, 0x00, 0xff}, bad[3];
        uint32_t cg = qf_crc32(0, good, n);
        for (size_t p = 0; p < n; p++)
            for (unsigned e = 1; e < 256; e++) {
                memcpy(bad, good, n);
                bad[p] ^= (uint8_t)e;
                struct qf_crc32_fix f[2];
                ck_assert_uint_eq(qf_crc32_locate(qf_crc32(0, bad, n), cg, n, f, 2), 1);
                ck_assert_uint_eq(f[0].pos, p);
                ck_assert_uint_eq(f[0].xor, e);
            }
    }
}
END_TEST

/* Errors of two or more bytes: whatever candidates the location gives are exactly those of
 * the brute force (usually none). */
START_TEST(test_multi_byte_matches_brute_force)
{
    for (int it = 0; it < 40; it++) {
        size_t n = 2 + (size_t)(rnd() % 200);
        uint8_t *good = random_buf(n), *bad = malloc(n);
        ck_assert_ptr_nonnull(bad);
        memcpy(bad, good, n);
        int k = 2 + (int)(rnd() % 3);
        for (int i = 0; i < k; i++)
            bad[rnd() % n] ^= (uint8_t)(rnd() % 255 + 1);
        uint32_t cg = qf_crc32(0, good, n), cb = qf_crc32(0, bad, n);
        struct qf_crc32_fix got[16], want[16];
        size_t ng = qf_crc32_locate(cb, cg, n, got, 16);
        size_t nw = brute(good, n, cb, want, 16);
        ck_assert_uint_eq(ng, nw);
        for (size_t i = 0; i < ng && i < 16; i++) {
            ck_assert_uint_eq(got[i].pos, want[i].pos);
            ck_assert_uint_eq(got[i].xor, want[i].xor);
        }
        free(good);
        free(bad);
    }
}
END_TEST

/* A 16 MiB chunk (the default chunk of per-tensor manifests) and a 1 MiB + 3 one: the true
 * error is among the candidates, and every candidate, patched in, gives the bad CRC. */
START_TEST(test_long_chunks)
{
    static const size_t lens[] = {(16u << 20), (1u << 20) + 3};
    for (size_t li = 0; li < 2; li++) {
        size_t n = lens[li];
        uint8_t *good = random_buf(n);
        uint32_t cg = qf_crc32(0, good, n);
        size_t pos[3] = {0, n - 1, (size_t)(rnd() % n)};
        for (int pi = 0; pi < 3; pi++) {
            uint8_t e = (uint8_t)(rnd() % 255 + 1);
            good[pos[pi]] ^= e;
            uint32_t cb = qf_crc32(0, good, n);
            good[pos[pi]] ^= e;
            struct qf_crc32_fix f[64];
            size_t nf = qf_crc32_locate(cb, cg, n, f, 64);
            ck_assert_uint_ge(nf, 1);
            ck_assert_uint_le(nf, 64);
            int seen = 0;
            for (size_t i = 0; i < nf; i++) {
                if (i)
                    ck_assert_uint_lt(f[i].pos, f[i - 1].pos);
                seen |= f[i].pos == pos[pi] && f[i].xor == e;
                good[f[i].pos] ^= f[i].xor;
                ck_assert_uint_eq(qf_crc32(0, good, n), cb);
                good[f[i].pos] ^= f[i].xor;
            }
            ck_assert(seen);
        }
        free(good);
    }
}
END_TEST

/* Equal CRCs, zero length, and the max + 1 stop. */
START_TEST(test_edges)
{
    struct qf_crc32_fix f[1];
    ck_assert_uint_eq(qf_crc32_locate(0x12345678u, 0x12345678u, 100, f, 1), 0);
    ck_assert_uint_eq(qf_crc32_locate(1, 2, 0, f, 1), 0);
    uint8_t b[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    uint32_t cg = qf_crc32(0, b, 9);
    b[4] ^= 0x80;
    uint32_t cb = qf_crc32(0, b, 9);
    ck_assert_uint_eq(qf_crc32_locate(cb, cg, 9, NULL, 0), 1); /* "more than 0" */
    ck_assert_uint_eq(qf_crc32_locate(cb, cg, 9, f, 1), 1);
    ck_assert_uint_eq(f[0].pos, 4);
    ck_assert_uint_eq(f[0].xor, 0x80);
}
END_TEST

/* A duplicated state goes on independently and gives the digests of the whole input. */
START_TEST(test_hash_dup)
{
    uint8_t *d = random_buf(100000);
    struct qf_hash *a, *b, *c;
    ck_assert_int_eq(qf_hash_new(QF_HASH_ALL, &a), QF_OK);
    ck_assert_int_eq(qf_hash_new(QF_HASH_ALL, &c), QF_OK);
    ck_assert_int_eq(qf_hash_update(a, d, 40000), QF_OK);
    ck_assert_int_eq(qf_hash_dup(a, &b), QF_OK);
    ck_assert_int_eq(qf_hash_update(a, d + 40000, 60000), QF_OK);
    ck_assert_int_eq(qf_hash_update(b, "x", 1), QF_OK); /* b diverges */
    ck_assert_int_eq(qf_hash_update(c, d, 100000), QF_OK);
    qf_hash_final(a);
    qf_hash_final(b);
    qf_hash_final(c);
    for (unsigned alg = 1; alg & QF_HASH_ALL; alg <<= 1) {
        char ha[65], hb[65], hc[65];
        ck_assert_int_gt(qf_hash_hex(a, alg, ha, sizeof ha), 0);
        ck_assert_int_gt(qf_hash_hex(b, alg, hb, sizeof hb), 0);
        ck_assert_int_gt(qf_hash_hex(c, alg, hc, sizeof hc), 0);
        ck_assert_str_eq(ha, hc);
        ck_assert_str_ne(ha, hb);
    }
    struct qf_hash *e;
    ck_assert_int_eq(qf_hash_dup(c, &e), QF_OK); /* a finished state copies its digests */
    char he[65], hc2[65];
    qf_hash_hex(e, QF_HASH_SHA256, he, sizeof he);
    qf_hash_hex(c, QF_HASH_SHA256, hc2, sizeof hc2);
    ck_assert_str_eq(he, hc2);
    ck_assert_int_eq(qf_hash_dup(NULL, &e), QF_EINVAL);
    qf_hash_free(a);
    qf_hash_free(b);
    qf_hash_free(c);
    qf_hash_free(e);
    free(d);
}
END_TEST

Suite *suite_crcloc(void)
{
    Suite *s = suite_create("crcloc");
    TCase *tc = tcase_create("crcloc");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_crc32_value);
    tcase_add_test(tc, test_single_byte_short);
    tcase_add_test(tc, test_tiny_exhaustive);
    tcase_add_test(tc, test_multi_byte_matches_brute_force);
    tcase_add_test(tc, test_long_chunks);
    tcase_add_test(tc, test_edges);
    tcase_add_test(tc, test_hash_dup);
    suite_add_tcase(s, tc);
    return s;
}
