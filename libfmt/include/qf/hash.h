/* qf/hash.h - streaming multi-hash: one pass over the data feeds every requested checksum.
 *
 * A struct qf_hash holds the running state of a set of algorithms (a bit mask of
 * QF_HASH_*). qf_hash_update() takes the data once and feeds each algorithm in turn, in
 * cache-sized slices, so several checksums of a file cost one read of it.
 *
 *     struct qf_hash *h;
 *     qf_hash_new(QF_HASH_SHA256 | QF_HASH_XXH64, &h);
 *     while ((n = read(fd, buf, sizeof buf)) > 0) qf_hash_update(h, buf, n);
 *     qf_hash_final(h);
 *     qf_hash_hex(h, QF_HASH_SHA256, hex, sizeof hex);   "ba7816bf..."
 *     qf_hash_free(h);
 *
 * Digests are the byte strings the usual tools print, most significant byte first:
 *   SHA256   32 bytes (FIPS 180-4; sha256sum)           SHA1    20 bytes (sha1sum, git)
 *   XXH3_128 16 bytes (xxhsum -H2, XXH128 canonical)    XXH3_64  8 bytes (xxhsum -H3)
 *   XXH64     8 bytes (xxhsum -H1, seed 0)              XXH32    4 bytes (xxhsum -H0, seed 0)
 *   CRC32     4 bytes (zlib / gzip / zip CRC-32, IEEE 802.3 polynomial)
 * SHA-256 and SHA-1 come from OpenSSL (SHA-NI where the CPU has it), the xxHash family from
 * libxxhash, CRC-32 from zlib. qf_crc32_locate finds a single-byte error from two CRC-32s.
 *
 * Thread-safety: one struct qf_hash must not be used by two threads at once; distinct
 * objects are independent. The other functions are pure.
 */
#ifndef QF_HASH_H
#define QF_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "qf/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Algorithms, one bit each. The numeric order of the bits is the order in which tools list
 * them (strongest first). */
enum qf_hash_alg {
    QF_HASH_SHA256 = 0x01,
    QF_HASH_SHA1 = 0x02,
    QF_HASH_XXH3_128 = 0x04,
    QF_HASH_XXH3_64 = 0x08,
    QF_HASH_XXH64 = 0x10,
    QF_HASH_XXH32 = 0x20,
    QF_HASH_CRC32 = 0x40,
    QF_HASH_ALL = 0x7f
};

/* Largest digest in bytes (SHA-256). */
#define QF_HASH_MAX_DIGEST 32

struct qf_hash;

/* Create a hash state for the algorithms in algs (non-zero subset of QF_HASH_ALL).
 * Returns QF_OK and sets *out, QF_EINVAL for a bad mask, QF_ENOMEM. Free with qf_hash_free. */
QF_API int qf_hash_new(unsigned algs, struct qf_hash **out);

/* Free. NULL is a no-op. */
QF_API void qf_hash_free(struct qf_hash *h);

/* Start over with no data (also after qf_hash_final). Returns QF_OK or QF_EINTERNAL if the
 * crypto library refuses to initialise. */
QF_API int qf_hash_reset(struct qf_hash *h);

/* Feed len bytes (any chunking gives the same digests). QF_EINVAL after qf_hash_final. */
QF_API int qf_hash_update(struct qf_hash *h, const void *data, size_t len);

/* Finish every algorithm; the digests can then be read any number of times. Calling it
 * twice is harmless. Returns QF_OK or QF_EINTERNAL. */
QF_API int qf_hash_final(struct qf_hash *h);

/* Copy the digest of one algorithm (a single bit) into out (n >= its size) after
 * qf_hash_final. Returns the digest size, or QF_EINVAL (not finished, algorithm not in the
 * set, buffer too small). */
QF_API int qf_hash_digest(const struct qf_hash *h, unsigned alg, uint8_t *out, size_t n);

/* Lowercase hex of the digest, NUL-terminated, into buf (n >= 2 * size + 1).
 * Returns the number of hex digits or QF_EINVAL. */
QF_API int qf_hash_hex(const struct qf_hash *h, unsigned alg, char *buf, size_t n);

/* The algorithm mask the state was created with. */
QF_API unsigned qf_hash_algs(const struct qf_hash *h);

/* Total bytes fed since creation or the last reset. */
QF_API uint64_t qf_hash_count(const struct qf_hash *h);

/* Digest size in bytes of one algorithm; 0 if alg is not a single known bit. */
QF_API size_t qf_hash_size(unsigned alg);

/* Short lowercase name of one algorithm: "sha256", "sha1", "xxh128", "xxh3", "xxh64",
 * "xxh32", "crc32" (xxh3 is the 64-bit XXH3, as llama-gguf-hash names it). NULL if unknown. */
QF_API const char *qf_hash_name(unsigned alg);

/* Algorithm bit from a name, case-insensitive; also accepts the BSD tags of sha256sum and
 * xxhsum ("SHA256", "XXH128", "XXH3", "XXH64", "XXH32", "SHA1", "CRC32") and "xxh3-128",
 * "xxh3_64". Returns 0 if unknown. */
QF_API unsigned qf_hash_from_name(const char *name);

/* One-shot digest of a buffer with one algorithm: writes qf_hash_size(alg) bytes into out.
 * Returns the digest size or a negative QF_E* code. */
QF_API int qf_hash_buffer(unsigned alg, const void *data, size_t len, uint8_t *out);

/* Lowercase hex of n bytes into buf (size >= 2n + 1). Returns buf. */
QF_API char *qf_hash_tohex(const uint8_t *bytes, size_t n, char *buf);

/* Parse 2n hex digits (either case, nothing else) into n bytes. Returns QF_OK or QF_EINVAL. */
QF_API int qf_hash_fromhex(const char *hex, size_t len, uint8_t *out, size_t n);

/* Copy a state (mid-stream or finished) into a new object: both then go on independently.
 * Returns QF_OK and sets *out, QF_EINVAL, QF_ENOMEM or QF_EINTERNAL. */
QF_API int qf_hash_dup(const struct qf_hash *h, struct qf_hash **out);

/* CRC-32 as zlib's crc32(): continue crc (0 to start) over len bytes. */
QF_API uint32_t qf_crc32(uint32_t crc, const void *data, size_t len);

/* Locating a single-byte error from two CRC-32s.
 *
 * CRC-32 is linear over GF(2): for two byte strings of the same length n, crc(a) ^ crc(b)
 * depends only on a ^ b (the initial and final inversions cancel). If a and b differ in one
 * byte, at position p by the bit pattern e (e = a[p] ^ b[p], non-zero), that "syndrome" is
 * T[e] * x^(8 (n-1-p)) mod P, where T is zlib's byte table. qf_crc32_locate walks p from
 * the end of the string to its start, dividing by x^8 once per byte, and reports every
 * (p, e) whose pattern gives the syndrome.
 *
 * A single-byte error is always among the candidates. CRC-32 does not pin it down alone:
 * for strings longer than about 11 KiB two different single-byte patterns can have the same
 * CRC (for n bytes about n * 255 / 2^32 candidates are expected besides the true one), so a
 * caller confirms each candidate with a stronger hash before reporting it. An error of more
 * than one byte gives either no candidate or false ones.
 *
 * crc_have, crc_want: zlib CRC-32s of the two strings; len: their length in bytes (any,
 * including 1). Fills out[0..max) with candidates in decreasing position order and stops
 * once max + 1 have been found. Returns the number found (max + 1 means "more than max").
 * Equal CRCs give 0. Time: one table step per byte of len. */
struct qf_crc32_fix {
    uint64_t pos;  /* byte position in the string */
    uint8_t xor;   /* have[pos] ^ want[pos] */
};
QF_API size_t qf_crc32_locate(uint32_t crc_have, uint32_t crc_want, uint64_t len,
                              struct qf_crc32_fix *out, size_t max);

#ifdef __cplusplus
}
#endif
#endif /* QF_HASH_H */
