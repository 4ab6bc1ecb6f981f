/* hash.c - streaming multi-hash (qf/hash.h): SHA-256 / SHA-1 through OpenSSL EVP, the xxHash
 * family through libxxhash, CRC-32 through zlib. One update feeds every algorithm of the set
 * slice by slice, so each slice is still in the L2 cache when the next algorithm reads it. */
#include "qf/hash.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <xxhash.h>
#include <zlib.h>

/* libxxhash's x86 dispatcher picks the AVX2/AVX-512 XXH3 kernels at run time (the library
 * itself is built for baseline x86-64); the header maps the XXH3 update calls onto it. */
#if defined(__x86_64__) && defined(__has_include)
#if __has_include(<xxh_x86dispatch.h>)
#include <xxh_x86dispatch.h>
#endif
#endif


/* Slice fed to each algorithm in turn when more than one is active: small enough to stay in
 * L2 between algorithms, large enough that per-call overhead vanishes. */
#define HASH_SLICE (128u << 10)

struct qf_hash {
    unsigned algs;
    int finished;
    uint64_t count;
    EVP_MD_CTX *sha256, *sha1;
    XXH3_state_t *x3_128, *x3_64;
    XXH64_state_t *x64;
    XXH32_state_t *x32;
    uLong crc;
    uint8_t d_sha256[32], d_sha1[20], d_x3_128[16], d_x3_64[8], d_x64[8], d_x32[4], d_crc[4];
};

/* Explicitly fetched digests: with OpenSSL 3 this avoids an implicit fetch (and its locks) at
 * every init, which matters when thousands of tensors are hashed one by one. */
static EVP_MD *md_sha256, *md_sha1;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void md_fetch(void)
{
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    md_sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
#endif
}

static const EVP_MD *get_md(int which)
{
    pthread_once(&md_once, md_fetch);
    if (which == 256)
        return md_sha256 ? md_sha256 : EVP_sha256();
    return md_sha1 ? md_sha1 : EVP_sha1();
}

size_t qf_hash_size(unsigned alg)
{
    switch (alg) {
    case QF_HASH_SHA256: return 32;
    case QF_HASH_SHA1: return 20;
    case QF_HASH_XXH3_128: return 16;
    case QF_HASH_XXH3_64: return 8;
    case QF_HASH_XXH64: return 8;
    case QF_HASH_XXH32: return 4;
    case QF_HASH_CRC32: return 4;
    default: return 0;
    }
}

const char *qf_hash_name(unsigned alg)
{
    switch (alg) {
    case QF_HASH_SHA256: return "sha256";
    case QF_HASH_SHA1: return "sha1";
    case QF_HASH_XXH3_128: return "xxh128";
    case QF_HASH_XXH3_64: return "xxh3";
    case QF_HASH_XXH64: return "xxh64";
    case QF_HASH_XXH32: return "xxh32";
    case QF_HASH_CRC32: return "crc32";
    default: return NULL;
    }
}

unsigned qf_hash_from_name(const char *name)
{
    static const struct {
        const char *name;
        unsigned alg;
    } names[] = {
        {"sha256", QF_HASH_SHA256}, {"sha-256", QF_HASH_SHA256}, {"sha1", QF_HASH_SHA1},
        {"sha-1", QF_HASH_SHA1},    {"xxh128", QF_HASH_XXH3_128}, {"xxh3-128", QF_HASH_XXH3_128},
        {"xxh3_128", QF_HASH_XXH3_128}, {"xxh3", QF_HASH_XXH3_64}, {"xxh3-64", QF_HASH_XXH3_64},
        {"xxh3_64", QF_HASH_XXH3_64}, {"xxh64", QF_HASH_XXH64}, {"xxh32", QF_HASH_XXH32},
        {"crc32", QF_HASH_CRC32},
    };
    if (!name)
        return 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(name, names[i].name) == 0)
            return names[i].alg;
    return 0;
}

static int valid_mask(unsigned algs)
{
    return algs != 0 && (algs & ~(unsigned)QF_HASH_ALL) == 0;
}

void qf_hash_free(struct qf_hash *h)
{
    if (!h)
        return;
    EVP_MD_CTX_free(h->sha256);
    EVP_MD_CTX_free(h->sha1);
    XXH3_freeState(h->x3_128);
    XXH3_freeState(h->x3_64);
    XXH64_freeState(h->x64);
    XXH32_freeState(h->x32);
    free(h);
}

int qf_hash_reset(struct qf_hash *h)
{
    if (!h)
        return QF_EINVAL;
    h->finished = 0;
    h->count = 0;
    if (h->sha256 && EVP_DigestInit_ex(h->sha256, get_md(256), NULL) != 1)
        return QF_EINTERNAL;
    if (h->sha1 && EVP_DigestInit_ex(h->sha1, get_md(1), NULL) != 1)
        return QF_EINTERNAL;
    if (h->x3_128 && XXH3_128bits_reset(h->x3_128) != XXH_OK)
        return QF_EINTERNAL;
    if (h->x3_64 && XXH3_64bits_reset(h->x3_64) != XXH_OK)
        return QF_EINTERNAL;
    if (h->x64 && XXH64_reset(h->x64, 0) != XXH_OK)
        return QF_EINTERNAL;
    if (h->x32 && XXH32_reset(h->x32, 0) != XXH_OK)
        return QF_EINTERNAL;
    h->crc = crc32_z(0L, Z_NULL, 0);
    return QF_OK;
}

int qf_hash_new(unsigned algs, struct qf_hash **out)
{
    if (!out)
        return QF_EINVAL;
    *out = NULL;
    if (!valid_mask(algs))
        return QF_EINVAL;
    struct qf_hash *h = calloc(1, sizeof *h);
    if (!h)
        return QF_ENOMEM;
    h->algs = algs;
    int ok = 1;
    if ((algs & QF_HASH_SHA256) && !(h->sha256 = EVP_MD_CTX_new()))
        ok = 0;
    if ((algs & QF_HASH_SHA1) && !(h->sha1 = EVP_MD_CTX_new()))
        ok = 0;
    if ((algs & QF_HASH_XXH3_128) && !(h->x3_128 = XXH3_createState()))
        ok = 0;
    if ((algs & QF_HASH_XXH3_64) && !(h->x3_64 = XXH3_createState()))
        ok = 0;
    if ((algs & QF_HASH_XXH64) && !(h->x64 = XXH64_createState()))
        ok = 0;
    if ((algs & QF_HASH_XXH32) && !(h->x32 = XXH32_createState()))
        ok = 0;
    if (!ok) {
        qf_hash_free(h);
        return QF_ENOMEM;
    }
    int rc = qf_hash_reset(h);
    if (rc) {
        qf_hash_free(h);
        return rc;
    }
    *out = h;
    return QF_OK;
}

/* Feed one slice to every algorithm of the set. */
static int feed(struct qf_hash *h, const uint8_t *p, size_t n)
{
    if (h->sha256 && EVP_DigestUpdate(h->sha256, p, n) != 1)
        return QF_EINTERNAL;
    if (h->sha1 && EVP_DigestUpdate(h->sha1, p, n) != 1)
        return QF_EINTERNAL;
    if (h->x3_128)
        XXH3_128bits_update(h->x3_128, p, n);
    if (h->x3_64)
        XXH3_64bits_update(h->x3_64, p, n);
    if (h->x64)
        XXH64_update(h->x64, p, n);
    if (h->x32)
        XXH32_update(h->x32, p, n);
    if (h->algs & QF_HASH_CRC32)
        h->crc = crc32_z(h->crc, p, n);
    return QF_OK;
}

int qf_hash_update(struct qf_hash *h, const void *data, size_t len)
{
    if (!h || h->finished || (!data && len))
        return QF_EINVAL;
    const uint8_t *p = data;
    h->count += len;
    /* a single algorithm gets the whole buffer: nothing to keep hot between passes */
    size_t slice = (h->algs & (h->algs - 1)) ? HASH_SLICE : len;
    while (len) {
        size_t n = len < slice ? len : slice;
        int rc = feed(h, p, n);
        if (rc)
            return rc;
        p += n;
        len -= n;
    }
    return QF_OK;
}

static void store_be64(uint8_t *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (56 - 8 * i));
}

static void store_be32(uint8_t *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (24 - 8 * i));
}

int qf_hash_final(struct qf_hash *h)
{
    if (!h)
        return QF_EINVAL;
    if (h->finished)
        return QF_OK;
    unsigned int n;
    if (h->sha256 && (EVP_DigestFinal_ex(h->sha256, h->d_sha256, &n) != 1 || n != 32))
        return QF_EINTERNAL;
    if (h->sha1 && (EVP_DigestFinal_ex(h->sha1, h->d_sha1, &n) != 1 || n != 20))
        return QF_EINTERNAL;
    if (h->x3_128) {
        XXH128_hash_t v = XXH3_128bits_digest(h->x3_128);
        store_be64(h->d_x3_128, v.high64);
        store_be64(h->d_x3_128 + 8, v.low64);
    }
    if (h->x3_64)
        store_be64(h->d_x3_64, XXH3_64bits_digest(h->x3_64));
    if (h->x64)
        store_be64(h->d_x64, XXH64_digest(h->x64));
    if (h->x32)
        store_be32(h->d_x32, XXH32_digest(h->x32));
    store_be32(h->d_crc, (uint32_t)h->crc);
    h->finished = 1;
    return QF_OK;
}

static const uint8_t *digest_ptr(const struct qf_hash *h, unsigned alg)
{
    switch (alg) {
    case QF_HASH_SHA256: return h->d_sha256;
    case QF_HASH_SHA1: return h->d_sha1;
    case QF_HASH_XXH3_128: return h->d_x3_128;
    case QF_HASH_XXH3_64: return h->d_x3_64;
    case QF_HASH_XXH64: return h->d_x64;
    case QF_HASH_XXH32: return h->d_x32;
    case QF_HASH_CRC32: return h->d_crc;
    default: return NULL;
    }
}

int qf_hash_digest(const struct qf_hash *h, unsigned alg, uint8_t *out, size_t n)
{
    size_t sz = qf_hash_size(alg);
    if (!h || !out || !h->finished || !sz || !(h->algs & alg) || n < sz)
        return QF_EINVAL;
    memcpy(out, digest_ptr(h, alg), sz);
    return (int)sz;
}

char *qf_hash_tohex(const uint8_t *bytes, size_t n, char *buf)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        buf[2 * i] = digits[bytes[i] >> 4];
        buf[2 * i + 1] = digits[bytes[i] & 15];
    }
    buf[2 * n] = '\0';
    return buf;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower((unsigned char)c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int qf_hash_fromhex(const char *hex, size_t len, uint8_t *out, size_t n)
{
    if (!hex || !out || len != 2 * n)
        return QF_EINVAL;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return QF_EINVAL;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return QF_OK;
}

int qf_hash_hex(const struct qf_hash *h, unsigned alg, char *buf, size_t n)
{
    uint8_t d[QF_HASH_MAX_DIGEST];
    int sz = qf_hash_digest(h, alg, d, sizeof d);
    if (sz < 0)
        return sz;
    if (!buf || n < 2 * (size_t)sz + 1)
        return QF_EINVAL;
    qf_hash_tohex(d, (size_t)sz, buf);
    return 2 * sz;
}

unsigned qf_hash_algs(const struct qf_hash *h)
{
    return h ? h->algs : 0;
}

uint64_t qf_hash_count(const struct qf_hash *h)
{
    return h ? h->count : 0;
}

int qf_hash_buffer(unsigned alg, const void *data, size_t len, uint8_t *out)
{
    if (!qf_hash_size(alg) || !out)
        return QF_EINVAL;
    struct qf_hash *h;
    int rc = qf_hash_new(alg, &h);
    if (rc)
        return rc;
    if (!(rc = qf_hash_update(h, data, len)) && !(rc = qf_hash_final(h)))
        rc = qf_hash_digest(h, alg, out, QF_HASH_MAX_DIGEST);
    qf_hash_free(h);
    return rc;
}

int qf_hash_dup(const struct qf_hash *h, struct qf_hash **out)
{
    if (!h || !out)
        return QF_EINVAL;
    *out = NULL;
    struct qf_hash *d;
    int rc = qf_hash_new(h->algs, &d);
    if (rc)
        return rc;
    int ok = 1;
    if (h->sha256 && EVP_MD_CTX_copy_ex(d->sha256, h->sha256) != 1)
        ok = 0;
    if (h->sha1 && EVP_MD_CTX_copy_ex(d->sha1, h->sha1) != 1)
        ok = 0;
    if (h->x3_128)
        XXH3_copyState(d->x3_128, h->x3_128);
    if (h->x3_64)
        XXH3_copyState(d->x3_64, h->x3_64);
    if (h->x64)
        XXH64_copyState(d->x64, h->x64);
    if (h->x32)
        XXH32_copyState(d->x32, h->x32);
    if (!ok) {
        qf_hash_free(d);
        return QF_EINTERNAL;
    }
    d->crc = h->crc;
    d->count = h->count;
    d->finished = h->finished;
    memcpy(d->d_sha256, h->d_sha256, sizeof d->d_sha256);
    memcpy(d->d_sha1, h->d_sha1, sizeof d->d_sha1);
    memcpy(d->d_x3_128, h->d_x3_128, sizeof d->d_x3_128);
    memcpy(d->d_x3_64, h->d_x3_64, sizeof d->d_x3_64);
    memcpy(d->d_x64, h->d_x64, sizeof d->d_x64);
    memcpy(d->d_x32, h->d_x32, sizeof d->d_x32);
    memcpy(d->d_crc, h->d_crc, sizeof d->d_crc);
    *out = d;
    return QF_OK;
}

uint32_t qf_crc32(uint32_t crc, const void *data, size_t len)
{
    if (!data)
        return crc;
    return (uint32_t)crc32_z(crc, data, len);
}

/* --- single-byte error location (see qf/hash.h) ---
 * The register of the reflected CRC-32 (polynomial 0xEDB88320) takes a byte b as
 *     r' = (r >> 8) ^ T[(r ^ b) & 0xff],
 * so a zero byte multiplies r by x^8: r' = (r >> 8) ^ T[r & 0xff]. The top bytes of the 256
 * table entries are all different, so the step can be undone: the top byte of r' names
 * i = r & 0xff, and r = ((r' ^ T[i]) << 8) | i. */
static uint32_t crc_t[256];
static uint8_t crc_inv[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_tables(void)
{
    for (unsigned i = 0; i < 256; i++) {
        uint32_t r = i;
        for (int k = 0; k < 8; k++)
            r = (r & 1) ? (r >> 1) ^ 0xEDB88320u : r >> 1;
        crc_t[i] = r;
        crc_inv[r >> 24] = (uint8_t)i;
    }
}

size_t qf_crc32_locate(uint32_t crc_have, uint32_t crc_want, uint64_t len,
                       struct qf_crc32_fix *out, size_t max)
{
    uint32_t r = crc_have ^ crc_want;
    if (!r || !len)
        return 0;
    pthread_once(&crc_once, crc_tables);
    size_t found = 0;
    /* r is the syndrome of an error byte followed by k zero bytes, k = 0, 1, ... */
    for (uint64_t k = 0; k < len; k++) {
        uint8_t i = crc_inv[r >> 24];
        if (crc_t[i] == r) {
            if (found < max && out) {
                out[found].pos = len - 1 - k;
                out[found].xor = i;
            }
            if (++found > max)
                break;
        }
        r = ((r ^ crc_t[i]) << 8) | i;
    }
    return found;
}
