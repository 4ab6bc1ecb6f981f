/* Unit tests of the streaming multi-hash (qf/hash.h). Expected digests are the FIPS 180 /
 * RFC 3174 examples and values printed by sha256sum, sha1sum, xxhsum 0.8.1 and Python's
 * zlib.crc32 for the same inputs. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "qf/hash.h"

Suite *suite_hash(void);

/* The test pattern: byte i = (31 i + 7) mod 251, the first n bytes. */
static uint8_t *pattern(size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)((i * 31 + 7) % 251);
    return p;
}

/* Hex digest of data with one algorithm, fed in chunks following the sizes in steps
 * (cycled), through a state holding all algorithms when all is set. */
static const char *digest_hex(unsigned alg, const void *data, size_t len, const size_t *steps,
                              size_t nsteps, int all, char *buf)
{
    struct qf_hash *h;
    ck_assert_int_eq(qf_hash_new(all ? QF_HASH_ALL : alg, &h), QF_OK);
    const uint8_t *p = data;
    size_t k = 0;
    while (len) {
        size_t n = nsteps ? steps[k++ % nsteps] : len;
        if (n > len)
            n = len;
        ck_assert_int_eq(qf_hash_update(h, p, n), QF_OK);
        p += n;
        len -= n;
    }
    ck_assert_int_eq(qf_hash_final(h), QF_OK);
    ck_assert_int_eq(qf_hash_hex(h, alg, buf, 2 * QF_HASH_MAX_DIGEST + 1),
                     (int)(2 * qf_hash_size(alg)));
    qf_hash_free(h);
    return buf;
}

struct kat {
    unsigned alg;
    const char *hex;
};

static void check_kats(const void *data, size_t len, const struct kat *k, size_t n)
{
    static const size_t odd[] = {1, 7, 63, 64, 65, 4095, (128u << 10) + 1, 3};
    char buf[2 * QF_HASH_MAX_DIGEST + 1];
    for (size_t i = 0; i < n; i++) {
        ck_assert_str_eq(digest_hex(k[i].alg, data, len, NULL, 0, 0, buf), k[i].hex);
        ck_assert_str_eq(digest_hex(k[i].alg, data, len, NULL, 0, 1, buf), k[i].hex);
        ck_assert_str_eq(digest_hex(k[i].alg, data, len, odd, 8, 1, buf), k[i].hex);
        ck_assert_str_eq(digest_hex(k[i].alg, data, len, odd + 1, 1, 0, buf), k[i].hex);
        uint8_t d[QF_HASH_MAX_DIGEST];
        ck_assert_int_eq(qf_hash_buffer(k[i].alg, data, len, d), (int)qf_hash_size(k[i].alg));
        ck_assert_str_eq(qf_hash_tohex(d, qf_hash_size(k[i].alg), buf), k[i].hex);
    }
}

START_TEST(test_empty)
{
    static const struct kat k[] = {
        {QF_HASH_SHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {QF_HASH_SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
        {QF_HASH_XXH3_128, "99aa06d3014798d86001c324468d497f"},
        {QF_HASH_XXH3_64, "2d06800538d394c2"},
        {QF_HASH_XXH64, "ef46db3751d8e999"},
        {QF_HASH_XXH32, "02cc5d05"},
        {QF_HASH_CRC32, "00000000"},
    };
    check_kats("", 0, k, sizeof k / sizeof k[0]);
}
END_TEST

START_TEST(test_abc)
{
    static const struct kat k[] = {
        {QF_HASH_SHA256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {QF_HASH_SHA1, "a9993e364706816aba3e25717850c26c9cd0d89d"},
        {QF_HASH_XXH3_128, "06b05ab6733a618578af5f94892f3950"},
        {QF_HASH_XXH3_64, "78af5f94892f3950"},
        {QF_HASH_XXH64, "44bc2cf5ad770999"},
        {QF_HASH_XXH32, "32d153ff"},
        {QF_HASH_CRC32, "352441c2"},
    };
    check_kats("abc", 3, k, sizeof k / sizeof k[0]);
    /* FIPS 180-2 two-block example */
    static const struct kat k2[] = {
        {QF_HASH_SHA256, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    const char *s = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    check_kats(s, strlen(s), k2, 1);
}
END_TEST

START_TEST(test_check_value)
{
    /* the "123456789" check value of CRC-32 (0xCBF43926) and the other algorithms */
    static const struct kat k[] = {
        {QF_HASH_CRC32, "cbf43926"},
        {QF_HASH_SHA256, "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225"},
        {QF_HASH_XXH3_128, "33119477ede5dcd5e9716427681d5860"},
        {QF_HASH_XXH3_64, "72dcb18b67a17dff"},
        {QF_HASH_XXH64, "8cb841db40e6ae83"},
        {QF_HASH_XXH32, "937bad67"},
    };
    check_kats("123456789", 9, k, sizeof k / sizeof k[0]);
}
END_TEST

START_TEST(test_million_a)
{
    size_t n = 1000000;
    char *a = malloc(n);
    ck_assert_ptr_nonnull(a);
    memset(a, 'a', n);
    static const struct kat k[] = {
        {QF_HASH_SHA256, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
        {QF_HASH_SHA1, "34aa973cd4c4daa4f61eeb2bdbad27316534016f"},
        {QF_HASH_XXH3_128, "a545df8e384a9579b1fd6fae5285c4eb"},
        {QF_HASH_XXH64, "dc483aaa9b4fdc40"},
        {QF_HASH_CRC32, "dc25bfbc"},
    };
    check_kats(a, n, k, sizeof k / sizeof k[0]);
    free(a);
}
END_TEST

/* Lengths that cross the internal code paths of XXH3 (<= 16, 17..128, 129..240, > 240) and
 * the slice size of the multi-hash. */
START_TEST(test_pattern_lengths)
{
    uint8_t *p = pattern(1000003);
    static const struct kat k5[] = {
        {QF_HASH_XXH3_128, "2fbb16712b4bf1d5752a86982353f4f3"},
        {QF_HASH_XXH64, "808815858624dd4e"},
        {QF_HASH_SHA256, "a7fed79902b79407088f9cc6584f7506f82d8be43dc419ff5ab1969dfdd245f5"},
        {QF_HASH_CRC32, "f22ae8fd"},
    };
    static const struct kat k17[] = {
        {QF_HASH_XXH3_128, "d443578f2c4e2fb495c34448580e19c8"},
        {QF_HASH_XXH64, "0bbe879c6150fef5"},
        {QF_HASH_SHA256, "ab40fc588ad269c3e66b174f38b90af2257c31f62af9df7b4b678761f6d17e9e"},
        {QF_HASH_CRC32, "fdcb529c"},
    };
    static const struct kat k200[] = {
        {QF_HASH_XXH3_128, "7d5b21c921158e644ec0706f02ef2a5b"},
        {QF_HASH_XXH64, "2a8f4e118a067024"},
        {QF_HASH_SHA256, "766dfab5b7f4e937312651f12894795699cee3a1a0d79c74980941134d9bf36f"},
        {QF_HASH_CRC32, "857833c4"},
    };
    static const struct kat k241[] = {
        {QF_HASH_XXH3_128, "f91b3cb8ed0fa91a07525dbc14902c7f"},
        {QF_HASH_XXH64, "8eb8008aff0fc7be"},
        {QF_HASH_SHA256, "dfd2acfa4b2c7bf49c9ccb0184e4a3b613bdc3bc02d738828c1e5d5c2d6bb28c"},
        {QF_HASH_CRC32, "97e3b7ce"},
    };
    static const struct kat k4097[] = {
        {QF_HASH_XXH3_128, "22c91150c609c71b0e3fb0f184aa2f34"},
        {QF_HASH_XXH64, "36b2cc6a97496105"},
        {QF_HASH_SHA256, "ba52bf55ef7022eab0b1400b863d432b7f445d58c50191f6370c90915cdbff57"},
        {QF_HASH_CRC32, "fbea3a76"},
    };
    static const struct kat kall[] = {
        {QF_HASH_SHA256, "a79aaccf39831e39ad9382f03c515510dcde695830c65a91620160cbe434b410"},
        {QF_HASH_SHA1, "d9f4c8e629a21effd219b3418086f97ba866c320"},
        {QF_HASH_XXH3_128, "aaa535a1dc7aea887b3986442546fd2e"},
        {QF_HASH_XXH3_64, "7b3986442546fd2e"},
        {QF_HASH_XXH64, "65566c8f44a1a236"},
        {QF_HASH_XXH32, "48155ddf"},
        {QF_HASH_CRC32, "ac01adf2"},
    };
    check_kats(p, 5, k5, 4);
    check_kats(p, 17, k17, 4);
    check_kats(p, 200, k200, 4);
    check_kats(p, 241, k241, 4);
    check_kats(p, 4097, k4097, 4);
    check_kats(p, 1000003, kall, sizeof kall / sizeof kall[0]);
    free(p);
}
END_TEST

/* Every split point of a short input gives the same digest as one update. */
START_TEST(test_every_split)
{
    uint8_t *p = pattern(300);
    struct qf_hash *one, *two;
    ck_assert_int_eq(qf_hash_new(QF_HASH_ALL, &one), QF_OK);
    ck_assert_int_eq(qf_hash_update(one, p, 300), QF_OK);
    ck_assert_int_eq(qf_hash_final(one), QF_OK);
    ck_assert_int_eq(qf_hash_new(QF_HASH_ALL, &two), QF_OK);
    for (size_t cut = 0; cut <= 300; cut++) {
        ck_assert_int_eq(qf_hash_reset(two), QF_OK);
        ck_assert_int_eq(qf_hash_update(two, p, cut), QF_OK);
        ck_assert_int_eq(qf_hash_update(two, p + cut, 0), QF_OK);
        ck_assert_int_eq(qf_hash_update(two, p + cut, 300 - cut), QF_OK);
        ck_assert_int_eq(qf_hash_final(two), QF_OK);
        ck_assert_uint_eq(qf_hash_count(two), 300);
        for (unsigned a = 1; a <= QF_HASH_CRC32; a <<= 1) {
            uint8_t d1[QF_HASH_MAX_DIGEST], d2[QF_HASH_MAX_DIGEST];
            int n = qf_hash_digest(one, a, d1, sizeof d1);
            ck_assert_int_eq(n, (int)qf_hash_size(a));
            ck_assert_int_eq(qf_hash_digest(two, a, d2, sizeof d2), n);
            ck_assert_mem_eq(d1, d2, (size_t)n);
        }
    }
    qf_hash_free(one);
    qf_hash_free(two);
    free(p);
}
END_TEST

START_TEST(test_api_errors)
{
    struct qf_hash *h = NULL;
    ck_assert_int_eq(qf_hash_new(0, &h), QF_EINVAL);
    ck_assert_ptr_null(h);
    ck_assert_int_eq(qf_hash_new(0x80, &h), QF_EINVAL);
    ck_assert_int_eq(qf_hash_new(QF_HASH_XXH64, &h), QF_OK);
    uint8_t d[QF_HASH_MAX_DIGEST];
    char hex[65];
    /* not finished yet */
    ck_assert_int_eq(qf_hash_digest(h, QF_HASH_XXH64, d, sizeof d), QF_EINVAL);
    ck_assert_int_eq(qf_hash_update(h, "abc", 3), QF_OK);
    ck_assert_int_eq(qf_hash_final(h), QF_OK);
    ck_assert_int_eq(qf_hash_final(h), QF_OK);
    ck_assert_int_eq(qf_hash_update(h, "x", 1), QF_EINVAL);
    /* algorithm not in the set, buffer too small */
    ck_assert_int_eq(qf_hash_digest(h, QF_HASH_SHA256, d, sizeof d), QF_EINVAL);
    ck_assert_int_eq(qf_hash_digest(h, QF_HASH_XXH64, d, 7), QF_EINVAL);
    ck_assert_int_eq(qf_hash_hex(h, QF_HASH_XXH64, hex, 16), QF_EINVAL);
    ck_assert_int_eq(qf_hash_hex(h, QF_HASH_XXH64, hex, 17), 16);
    ck_assert_str_eq(hex, "44bc2cf5ad770999");
    ck_assert_uint_eq(qf_hash_algs(h), QF_HASH_XXH64);
    /* reset starts over */
    ck_assert_int_eq(qf_hash_reset(h), QF_OK);
    ck_assert_int_eq(qf_hash_final(h), QF_OK);
    ck_assert_int_eq(qf_hash_hex(h, QF_HASH_XXH64, hex, sizeof hex), 16);
    ck_assert_str_eq(hex, "ef46db3751d8e999");
    qf_hash_free(h);
    qf_hash_free(NULL);
}
END_TEST

START_TEST(test_names_hex)
{
    ck_assert_uint_eq(qf_hash_from_name("SHA256"), QF_HASH_SHA256);
    ck_assert_uint_eq(qf_hash_from_name("XXH128"), QF_HASH_XXH3_128);
    ck_assert_uint_eq(qf_hash_from_name("XXH3"), QF_HASH_XXH3_64);
    ck_assert_uint_eq(qf_hash_from_name("xxh64"), QF_HASH_XXH64);
    ck_assert_uint_eq(qf_hash_from_name("crc32"), QF_HASH_CRC32);
    ck_assert_uint_eq(qf_hash_from_name("md5"), 0);
    ck_assert_str_eq(qf_hash_name(QF_HASH_XXH3_128), "xxh128");
    ck_assert_str_eq(qf_hash_name(QF_HASH_XXH3_64), "xxh3");
    ck_assert_ptr_null(qf_hash_name(QF_HASH_SHA1 | QF_HASH_SHA256));
    ck_assert_uint_eq(qf_hash_size(QF_HASH_SHA1), 20);
    ck_assert_uint_eq(qf_hash_size(3), 0);
    uint8_t b[4];
    ck_assert_int_eq(qf_hash_fromhex("DeadBeef", 8, b, 4), QF_OK);
    ck_assert_uint_eq(b[0], 0xde);
    ck_assert_uint_eq(b[3], 0xef);
    ck_assert_int_eq(qf_hash_fromhex("deadbee", 7, b, 4), QF_EINVAL);
    ck_assert_int_eq(qf_hash_fromhex("deadbeeg", 8, b, 4), QF_EINVAL);
}
END_TEST

Suite *suite_hash(void)
{
    Suite *s = suite_create("hash");
    TCase *tc = tcase_create("hash");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_empty);
    tcase_add_test(tc, test_abc);
    tcase_add_test(tc, test_check_value);
    tcase_add_test(tc, test_million_a);
    tcase_add_test(tc, test_pattern_lengths);
    tcase_add_test(tc, test_every_split);
    tcase_add_test(tc, test_api_errors);
    tcase_add_test(tc, test_names_hex);
    suite_add_tcase(s, tc);
    return s;
}
