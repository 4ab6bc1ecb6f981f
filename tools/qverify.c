/* qverify - is the download whole, well-formed and exactly what was published.
 *
 *   qverify FILE|DIR...              structural validation (every container rule, split and
 *                                    sharded sets), truncation diagnosis, --scan of the data;
 *                                    Hugging Face caches, Ollama stores and archives
 *   qverify --sha256 FILE...         checksum lines as sha256sum / xxhsum print them
 *   qverify --per-tensor FILE...     a manifest: one hash per tensor, the header, the file
 *   qverify -c MANIFEST...           check manifests of sha256sum, xxhsum, llama-gguf-hash, ours
 *
 * Everything that reads data goes through one engine: reader tasks read each file once, in
 * large sequential chunks, and hand byte ranges ("pieces") to sinks (a hash state and/or a
 * scan of one tensor, the header, the whole file); a pool of threads runs both kinds of task,
 * so files, and tensors inside a file, are hashed in parallel while each hash still sees its
 * bytes in order.
 */
#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "qf/qf.h"
#include "qf/hash.h"
#include "qf/layout.h"

#include "cli_msg.h"
#include "cli_opt.h"
#include "cli_out.h"
#include "cli_progress.h"

/* ======================================================================================
 * Small helpers
 */
static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        cli_die(CLI_EXIT_TROUBLE, "out of memory");
    return p;
}

static void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz ? sz : 1);
    if (!p)
        cli_die(CLI_EXIT_TROUBLE, "out of memory");
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        cli_die(CLI_EXIT_TROUBLE, "out of memory");
    return p;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = xmalloc(n);
    memcpy(d, s, n);
    return d;
}

static char *xstrndup(const char *s, size_t n)
{
    char *d = xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static char *xasprintf(const char *fmt, ...) CLI_PRINTF(1, 2);
static char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        cli_die(CLI_EXIT_TROUBLE, "formatting failed");
    char *s = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* Grow an array to hold at least need elements of size sz. */
static void grow(void *pp, size_t *cap, size_t need, size_t sz)
{
    void **p = pp;
    if (need <= *cap)
        return;
    size_t c = *cap ? *cap : 8;
    while (c < need)
        c *= 2;
    *p = xrealloc(*p, c * sz);
    *cap = c;
}

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir);
    if (n && dir[n - 1] == '/')
        return xasprintf("%s%s", dir, name);
    return xasprintf("%s/%s", dir, name);
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static int is_hex_string(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of a directory (no "." and ".."); NULL if it can't be read (errno set). */
static char **list_dir(const char *dir, size_t *n)
{
    DIR *d = opendir(dir);
    *n = 0;
    if (!d)
        return NULL;
    char **v = NULL;
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        grow(&v, &cap, *n + 1, sizeof *v);
        v[(*n)++] = xstrdup(de->d_name);
    }
    closedir(d);
    if (*n)
        qsort(v, *n, sizeof *v, cmp_str);
    if (!v)
        v = xcalloc(1, sizeof *v);
    return v;
}

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* A library error message without a leading "PATH: " (our lines already start with it). */
static const char *strip_path(const char *msg, const char *path)
{
    size_t n = strlen(path);
    if (strncmp(msg, path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
        return msg + n + 2;
    return msg;
}

/* ======================================================================================
 * Options and global state
 */
enum {
    OPT_SHA256 = CLI_OPT_TOOL_BASE,
    OPT_SHA1,
    OPT_XXH3,
    OPT_XXH3_64,
    OPT_XXH64,
    OPT_XXH32,
    OPT_CRC32,
    OPT_TAG,
    OPT_UUID,
    OPT_STATUS,
    OPT_STRICT,
    OPT_IGNORE_MISSING,
    OPT_MEMBERS,
    OPT_CHUNK_SIZE,
};

static const struct cli_opt opts[] = {
    {NULL, 0, 0, 0, NULL, "Checksums (lines as sha256sum / xxhsum print them):"},
    {"sha256", 0, OPT_SHA256, CLI_ARG_NONE, NULL,
     "SHA-256 (sha256sum; the Hugging Face Hub's LFS oid)"},
    {"sha1", 0, OPT_SHA1, CLI_ARG_NONE, NULL, "SHA-1 (sha1sum)"},
    {"xxh3", 0, OPT_XXH3, CLI_ARG_NONE, NULL, "XXH3 128-bit (xxhsum -H2)"},
    {"xxh3-64", 0, OPT_XXH3_64, CLI_ARG_NONE, NULL,
     "XXH3 64-bit (xxhsum -H3; llama-gguf-hash's xxh3)"},
    {"xxh64", 0, OPT_XXH64, CLI_ARG_NONE, NULL, "XXH64 (xxhsum -H1; llama-gguf-hash's default)"},
    {"xxh32", 0, OPT_XXH32, CLI_ARG_NONE, NULL, "XXH32 (xxhsum -H0)"},
    {"crc32", 0, OPT_CRC32, CLI_ARG_NONE, NULL, "CRC-32 as in zlib, gzip and zip"},
    {"tag", 0, OPT_TAG, CLI_ARG_NONE, NULL, "BSD-style lines: 'SHA256 (FILE) = HEX'"},
    {"per-tensor", 't', 't', CLI_ARG_NONE, NULL,
     "manifest: a hash per tensor, of the header and of each file"},
    {"uuid", 0, OPT_UUID, CLI_ARG_NONE, NULL,
     "with --per-tensor: add llama-gguf-hash's UUIDv5 of the tensor data"},
    {"chunk-size", 0, OPT_CHUNK_SIZE, CLI_ARG_REQUIRED, "SIZE",
     "with --per-tensor: CRC-32 per SIZE bytes of data (16M; 0: none)"},
    {"members", 0, OPT_MEMBERS, CLI_ARG_NONE, NULL,
     "hash the files inside tar/zip archives instead of the archive"},
    {NULL, 0, 0, 0, NULL, "Checking manifests:"},
    {"check", 'c', 'c', CLI_ARG_NONE, NULL,
     "read checksum lines from the operands and check them"},
    {"status", 0, OPT_STATUS, CLI_ARG_NONE, NULL, "print nothing; the exit status tells"},
    {"warn", 'w', 'w', CLI_ARG_NONE, NULL, "warn about improperly formatted lines"},
    {"strict", 0, OPT_STRICT, CLI_ARG_NONE, NULL,
     "fail on improperly formatted lines (with --scan: on warnings too)"},
    {"ignore-missing", 0, OPT_IGNORE_MISSING, CLI_ARG_NONE, NULL,
     "don't fail or report for missing files"},
    {NULL, 0, 0, 0, NULL, "Validation and speed:"},
    {"scan", 's', 's', CLI_ARG_NONE, NULL,
     "read all tensor data: NaN/Inf, all-zero tensors, bad block scales"},
    {"jobs", 'j', 'j', CLI_ARG_REQUIRED, "N", "threads (default: the online CPUs)"},
    {0, 0, 0, 0, NULL, NULL},
};

static const struct cli_tool tool = {
    "qverify",
    "[OPTION]... FILE|DIR...",
    "Check that model files are whole, well-formed and exactly what was published.",
    "Without a checksum option each FILE or DIR is validated: GGUF and safetensors\n"
    "files with their split or sharded sets, Hugging Face cache folders\n"
    "(models--ORG--NAME), Ollama stores (blobs/ and manifests/), tar and zip\n"
    "archives.\n"
    "Exit status: 0 valid or all checksums OK, 1 problems found or a mismatch,\n"
    "2 could not check.\n",
};

static struct {
    unsigned algs;         /* selected checksum algorithms */
    int tag, per_tensor, uuid, members, check, status, warn, strict, ignore_missing, scan;
    int chunk_set;
    int jobs;
    uint64_t chunk;        /* --chunk-size: bytes per chunk CRC of per-tensor manifests */
    int use_mmap;          /* QF_MMAP=1: map regular files instead of reading them */
    const char *format;
    int progress;          /* -1 auto */
} G = {.progress = -1, .chunk = 16u << 20};

/* Caps on manifests and chunk lines (documented in qverify(1), CAPS). */
#define MAX_CHUNK_LEN (1ull << 30)   /* bytes covered by one chunk CRC */
#define MAX_LINE_LEN (1u << 20)      /* bytes in one manifest line */
#define MAX_LINES (1u << 24)         /* checksum lines held from all manifests */
#define MAX_CANDIDATES 8             /* single-byte candidates confirmed per chunk */

/* Algorithm order in checksum lines (strongest first) and in per-tensor lines
 * (llama-gguf-hash's order, then ours). */
static const unsigned algs_sum_order[] = {QF_HASH_SHA256, QF_HASH_SHA1, QF_HASH_XXH3_128,
                                          QF_HASH_XXH3_64, QF_HASH_XXH64, QF_HASH_XXH32,
                                          QF_HASH_CRC32};
static const unsigned algs_gh_order[] = {QF_HASH_XXH64, QF_HASH_XXH3_64, QF_HASH_SHA1,
                                         QF_HASH_SHA256, QF_HASH_XXH3_128, QF_HASH_XXH32,
                                         QF_HASH_CRC32};
#define N_ALGS 7

/* BSD tags of sha256sum --tag and xxhsum --tag */
static const char *alg_tag(unsigned alg)
{
    switch (alg) {
    case QF_HASH_SHA256: return "SHA256";
    case QF_HASH_SHA1: return "SHA1";
    case QF_HASH_XXH3_128: return "XXH128";
    case QF_HASH_XXH3_64: return "XXH3";
    case QF_HASH_XXH64: return "XXH64";
    case QF_HASH_XXH32: return "XXH32";
    case QF_HASH_CRC32: return "CRC32";
    default: return "?";
    }
}

/* ======================================================================================
 * Names in checksum lines, escaped as coreutils does: a name holding '\\', '\n' or '\r'
 * makes the line start with '\\' and those characters are written as \\, \n, \r.
 */
static int name_needs_escape(const char *s)
{
    return strpbrk(s, "\\\n\r") != NULL;
}

static void put_escaped(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\\\", f);
        else if (*s == '\n')
            fputs("\\n", f);
        else if (*s == '\r')
            fputs("\\r", f);
        else
            putc(*s, f);
    }
}

static void put_name(FILE *f, const char *name, int esc)
{
    if (esc)
        put_escaped(f, name);
    else
        fputs(name, f);
}

/* Undo put_escaped in place; returns 0 on an invalid escape. */
static int unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (*r != '\\') {
            *w++ = *r;
            continue;
        }
        r++;
        if (*r == '\\')
            *w++ = '\\';
        else if (*r == 'n')
            *w++ = '\n';
        else if (*r == 'r')
            *w++ = '\r';
        else
            return 0;
    }
    *w = '\0';
    return 1;
}

/* One checksum line for a whole file: GNU "HEX  NAME", or BSD with --tag. XXH3 64-bit is
 * always BSD-style, as xxhsum -H3 writes it (16 hex digits alone would read as XXH64). */
static void put_sum_line(FILE *f, unsigned alg, const char *hex, const char *name, int tag)
{
    int esc = name_needs_escape(name);
    if (esc)
        putc('\\', f);
    if (tag || alg == QF_HASH_XXH3_64) {
        fprintf(f, "%s (", alg_tag(alg));
        put_name(f, name, esc);
        fprintf(f, ") = %s\n", hex);
    } else {
        fprintf(f, "%s  ", hex);
        put_name(f, name, esc);
        putc('\n', f);
    }
}

/* A typed line as llama-gguf-hash writes it: type padded to 8, two spaces, hex, two spaces,
 * name. */
static void put_typed_line(FILE *f, const char *type, const char *hex, const char *name)
{
    int esc = name_needs_escape(name);
    if (esc)
        putc('\\', f);
    fprintf(f, "%-8s  %s  ", type, hex);
    put_name(f, name, esc);
    putc('\n', f);
}

/* A name in a result line ("NAME: OK"): as coreutils' -c, escaped (after a backslash) only
 * when it holds a newline; then backslashes and newlines are escaped. */
static void put_result_name(FILE *f, const char *name)
{
    if (!strchr(name, '\n')) {
        fputs(name, f);
        return;
    }
    putc('\\', f);
    for (const char *s = name; *s; s++) {
        if (*s == '\\')
            fputs("\\\\", f);
        else if (*s == '\n')
            fputs("\\n", f);
        else
            putc(*s, f);
    }
}

/* ======================================================================================
 * Data scan: NaN/Inf of float tensors, all-zero tensors, scales of quantized blocks
 */
enum { SC_NONE, SC_F32, SC_F16, SC_BF16, SC_F64, SC_F8E4M3, SC_F8E5M2, SC_F8FNUZ, SC_E8M0,
       SC_QUANT };

/* Where the scales of a ggml block are (ggml-types.md §5-§8): up to two fp16 fields and
 * whether the reference quantizer keeps them non-negative; an f32 d (Q8_K), an E8M0 byte
 * (MXFP4), IQ1_M's split fp16, or nothing to check (NVFP4). */
struct qscale {
    int type;
    int kind; /* 0 fp16 fields, 1 f32 at 0, 2 e8m0 at 0, 3 iq1_m, 4 nothing */
    int n;
    uint16_t off[2];
    uint8_t nonneg[2];
};

static const struct qscale qscales[] = {
    {QF_TYPE_Q4_0, 0, 1, {0, 0}, {0, 0}},    {QF_TYPE_Q4_1, 0, 2, {0, 2}, {1, 0}},
    {QF_TYPE_Q5_0, 0, 1, {0, 0}, {0, 0}},    {QF_TYPE_Q5_1, 0, 2, {0, 2}, {1, 0}},
    {QF_TYPE_Q8_0, 0, 1, {0, 0}, {1, 0}},    {QF_TYPE_Q8_1, 0, 2, {0, 2}, {1, 0}},
    {QF_TYPE_Q2_K, 0, 2, {80, 82}, {1, 1}},  {QF_TYPE_Q3_K, 0, 1, {108, 0}, {0, 0}},
    {QF_TYPE_Q4_K, 0, 2, {0, 2}, {1, 1}},    {QF_TYPE_Q5_K, 0, 2, {0, 2}, {1, 1}},
    {QF_TYPE_Q6_K, 0, 1, {208, 0}, {0, 0}},  {QF_TYPE_Q8_K, 1, 1, {0, 0}, {0, 0}},
    {QF_TYPE_IQ2_XXS, 0, 1, {0, 0}, {0, 0}}, {QF_TYPE_IQ2_XS, 0, 1, {0, 0}, {0, 0}},
    {QF_TYPE_IQ3_XXS, 0, 1, {0, 0}, {0, 0}}, {QF_TYPE_IQ1_S, 0, 1, {0, 0}, {0, 0}},
    {QF_TYPE_IQ4_NL, 0, 1, {0, 0}, {0, 0}},  {QF_TYPE_IQ3_S, 0, 1, {0, 0}, {0, 0}},
    {QF_TYPE_IQ2_S, 0, 1, {0, 0}, {0, 0}},   {QF_TYPE_IQ4_XS, 0, 1, {0, 0}, {0, 0}},
    {QF_TYPE_IQ1_M, 3, 1, {0, 0}, {0, 0}},   {QF_TYPE_TQ1_0, 0, 1, {52, 0}, {1, 0}},
    {QF_TYPE_TQ2_0, 0, 1, {64, 0}, {1, 0}},  {QF_TYPE_MXFP4, 2, 1, {0, 0}, {0, 0}},
    {QF_TYPE_NVFP4, 4, 0, {0, 0}, {0, 0}},   {QF_TYPE_Q1_0, 0, 1, {0, 0}, {1, 0}},
    {QF_TYPE_Q2_0, 0, 1, {0, 0}, {1, 0}},
};

struct scan {
    int type;
    int kind;          /* SC_* */
    const struct qscale *qs;
    size_t unit;       /* bytes per element or block */
    uint8_t carry[512];
    size_t nc;
    uint64_t units;
    uint64_t nan, inf;
    uint64_t bad_scale, zero_scale, neg_scale;
    uint64_t first_bad; /* unit index of the first NaN/Inf/bad scale */
    int have_bad;
    int nonzero;       /* some byte is not zero */
};

static void scan_init(struct scan *s, int type)
{
    memset(s, 0, sizeof *s);
    s->type = type;
    const struct qf_type_info *ti = qf_type_info(type);
    s->unit = ti && ti->block_bytes && ti->blck == 1 ? ti->block_bytes
              : ti && ti->block_bytes                ? ti->block_bytes
                                                     : 1;
    switch (type) {
    case QF_TYPE_F32: s->kind = SC_F32; break;
    case QF_TYPE_C64: s->kind = SC_F32; s->unit = 4; break;
    case QF_TYPE_F16: s->kind = SC_F16; break;
    case QF_TYPE_BF16: s->kind = SC_BF16; break;
    case QF_TYPE_F64: s->kind = SC_F64; break;
    case QF_TYPE_F8_E4M3: s->kind = SC_F8E4M3; break;
    case QF_TYPE_F8_E5M2: s->kind = SC_F8E5M2; break;
    case QF_TYPE_F8_E4M3FNUZ:
    case QF_TYPE_F8_E5M2FNUZ: s->kind = SC_F8FNUZ; break;
    case QF_TYPE_F8_E8M0: s->kind = SC_E8M0; break;
    default:
        s->kind = SC_NONE;
        for (size_t i = 0; i < sizeof qscales / sizeof qscales[0]; i++)
            if (qscales[i].type == type) {
                s->kind = SC_QUANT;
                s->qs = &qscales[i];
            }
        break;
    }
    if (s->kind == SC_NONE || s->unit > sizeof s->carry) {
        s->kind = SC_NONE;
        s->unit = 1;
    }
}

static void scan_mark(struct scan *s, uint64_t unit_index)
{
    if (!s->have_bad) {
        s->have_bad = 1;
        s->first_bad = unit_index;
    }
}

static void scan_fp16(struct scan *s, uint16_t h, int nonneg, int is_d, uint64_t u)
{
    if ((h & 0x7c00) == 0x7c00) {
        s->bad_scale++;
        scan_mark(s, u);
    } else if ((h & 0x7fff) == 0) {
        if (is_d)
            s->zero_scale++;
    } else if ((h & 0x8000) && nonneg) {
        s->neg_scale++;
    }
}

static uint32_t ld32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t ld16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static void scan_quant(struct scan *s, const uint8_t *p, size_t n, uint64_t u0)
{
    const struct qscale *q = s->qs;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *b = p + i * s->unit;
        switch (q->kind) {
        case 0:
            for (int k = 0; k < q->n; k++)
                scan_fp16(s, ld16(b + q->off[k]), q->nonneg[k], k == 0, u0 + i);
            break;
        case 1: {
            uint32_t v = ld32(b);
            if ((v & 0x7f800000u) == 0x7f800000u) {
                s->bad_scale++;
                scan_mark(s, u0 + i);
            } else if ((v & 0x7fffffffu) == 0) {
                s->zero_scale++;
            }
            break;
        }
        case 2:
            if (b[0] == 0xff) {
                s->bad_scale++;
                scan_mark(s, u0 + i);
            }
            break;
        case 3: {
            uint16_t w0 = ld16(b + 48), w1 = ld16(b + 50), w2 = ld16(b + 52), w3 = ld16(b + 54);
            uint16_t d = (uint16_t)((w0 >> 12) | ((w1 >> 8) & 0x00f0) | ((w2 >> 4) & 0x0f00) |
                                    (w3 & 0xf000));
            scan_fp16(s, d, 0, 1, u0 + i);
            break;
        }
        default: break;
        }
    }
}

static void scan_units(struct scan *s, const uint8_t *p, size_t n)
{
    uint64_t u0 = s->units;
    if (!s->nonzero) {
        size_t nb = n * s->unit;
        for (size_t i = 0; i < nb; i++)
            if (p[i]) {
                s->nonzero = 1;
                break;
            }
    }
    uint64_t nan = 0, inf = 0;
    switch (s->kind) {
    case SC_F32:
        for (size_t i = 0; i < n; i++) {
            uint32_t v = ld32(p + 4 * i);
            if ((v & 0x7f800000u) == 0x7f800000u) {
                (v & 0x007fffffu) ? nan++ : inf++;
                scan_mark(s, u0 + i);
            }
        }
        break;
    case SC_F16:
        for (size_t i = 0; i < n; i++) {
            uint16_t v = ld16(p + 2 * i);
            if ((v & 0x7c00) == 0x7c00) {
                (v & 0x3ff) ? nan++ : inf++;
                scan_mark(s, u0 + i);
            }
        }
        break;
    case SC_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t v = ld16(p + 2 * i);
            if ((v & 0x7f80) == 0x7f80) {
                (v & 0x7f) ? nan++ : inf++;
                scan_mark(s, u0 + i);
            }
        }
        break;
    case SC_F64:
        for (size_t i = 0; i < n; i++) {
            uint64_t v = (uint64_t)ld32(p + 8 * i) | (uint64_t)ld32(p + 8 * i + 4) << 32;
            if ((v & 0x7ff0000000000000ull) == 0x7ff0000000000000ull) {
                (v & 0x000fffffffffffffull) ? nan++ : inf++;
                scan_mark(s, u0 + i);
            }
        }
        break;
    case SC_F8E4M3: /* float8_e4m3fn: no Inf; S.1111.111 is NaN */
        for (size_t i = 0; i < n; i++)
            if ((p[i] & 0x7f) == 0x7f) {
                nan++;
                scan_mark(s, u0 + i);
            }
        break;
    case SC_F8E5M2:
        for (size_t i = 0; i < n; i++)
            if ((p[i] & 0x7c) == 0x7c) {
                (p[i] & 3) ? nan++ : inf++;
                scan_mark(s, u0 + i);
            }
        break;
    case SC_F8FNUZ: /* the only NaN is 0x80 */
    case SC_E8M0:   /* 0xff is NaN */
        for (size_t i = 0; i < n; i++)
            if (p[i] == (s->kind == SC_E8M0 ? 0xff : 0x80)) {
                nan++;
                scan_mark(s, u0 + i);
            }
        break;
    case SC_QUANT:
        scan_quant(s, p, n, u0);
        break;
    default: break;
    }
    s->nan += nan;
    s->inf += inf;
    s->units += n;
}

static void scan_feed(struct scan *s, const uint8_t *p, size_t n)
{
    if (s->nc) {
        size_t take = s->unit - s->nc;
        if (take > n)
            take = n;
        memcpy(s->carry + s->nc, p, take);
        s->nc += take;
        p += take;
        n -= take;
        if (s->nc < s->unit)
            return;
        scan_units(s, s->carry, 1);
        s->nc = 0;
    }
    size_t whole = n / s->unit;
    if (whole)
        scan_units(s, p, whole);
    size_t rest = n - whole * s->unit;
    if (rest) {
        memcpy(s->carry, p + whole * s->unit, rest);
        s->nc = rest;
    }
}

/* ======================================================================================
 * The engine: reader tasks and sink tasks on a pool of threads
 *
 * A job is one file, read front to back in CHUNK_SIZE pieces (skipping regions no sink
 * wants). A sink is a consumer of some byte ranges of its job's file, in order: a hash
 * state, a scan, or both. Each chunk read is split into pieces, one per sink that wants a
 * part of it; a sink with queued pieces is "ready", and any idle thread may drain it (one
 * thread per sink at a time, so its bytes stay in order). Threads prefer draining to reading,
 * which bounds memory at max_chunks buffers.
 */
/* Reads are 1 MiB, so the bytes a thread reads are still in its L2 cache when it hashes them
 * (8 MiB reads measured ~20% slower for XXH3); the disk still sees large requests: the kernel
 * is asked (POSIX_FADV_WILLNEED) to read RA_SIZE ahead of the reads. */
#ifndef CHUNK_SIZE
#define CHUNK_SIZE (1u << 20)
#endif
#ifndef RA_SIZE
#define RA_SIZE (8u << 20)
#endif
#define MAX_INFLIGHT 4   /* chunks read ahead per file */
#define TO_EOF UINT64_MAX /* a range end meaning "the end of the file" */

struct range {
    uint64_t a, b; /* [a, b) absolute file offsets */
};

struct ejob;

struct chunk {
    uint8_t *buf;          /* the bytes: into own (read) or into map (mapped) */
    uint8_t *own;          /* CHUNK_SIZE buffer for read(), allocated on first need */
    void *map;             /* mmap of the region, or NULL */
    size_t map_len;
    size_t len;
    uint64_t off;
    int refs;
    struct ejob *job;
    struct chunk *next_free;
};

struct piece {
    struct chunk *c;
    size_t off, len;
};

/* A CRC-32 of a sub-range of a sink's bytes (offsets count from the sink's first byte). */
struct ccrc {
    uint64_t off, len;
    uint32_t crc;
    uint32_t want;         /* -c: the manifest's value (of the first line with this range) */
};

struct esink {
    struct ejob *job;
    struct range *r;
    size_t nr, ri;
    uint64_t total, queued, done;
    struct qf_hash *h;
    struct scan *scan;
    struct ccrc *cc;       /* chunk CRCs: sorted, disjoint (owned by the caller) */
    size_t ncc, cci;
    uint64_t cpos;         /* bytes consumed */
    struct piece *q;
    size_t qhead, qn, qcap;
    int busy, in_ready, finished, is_short;
    int bus_error;         /* the mapped file shrank under us */
    struct esink *ready_next;
};

struct ejob {
    char *path;
    int fd;
    int started, reading, eof, finished, seekable;
    uint64_t ra;    /* end of the region the kernel was asked to read ahead */
    int err;        /* errno of an open/read failure */
    int changed;    /* a mapped page vanished: the file shrank while it was read */
    uint64_t size;  /* size at open (seekable files) */
    uint64_t pos, end;
    struct esink **sinks;
    size_t nsinks, capsinks, next;
    struct esink **active;
    size_t nactive, capactive;
    int inflight;
    size_t unfinished;
};

struct eng {
    pthread_mutex_t mu;
    pthread_cond_t cv, main_cv;
    struct ejob **jobs;
    size_t njobs, capjobs, next_start, jobs_left;
    struct ejob **open; /* started, unfinished */
    size_t nopen, capopen, max_open;
    struct esink *ready_head, *ready_tail;
    struct chunk *free_chunks;
    size_t nchunks, max_chunks;
    int nthreads;
    size_t page;
    uint64_t total_bytes, done_bytes;
};

static struct eng E;

static void on_sigbus(int sig);

static void eng_init(int nthreads)
{
    pthread_mutex_init(&E.mu, NULL);
    pthread_cond_init(&E.cv, NULL);
    pthread_cond_init(&E.main_cv, NULL);
    E.nthreads = nthreads < 1 ? 1 : nthreads;
    long pg = sysconf(_SC_PAGESIZE);
    E.page = pg > 0 ? (size_t)pg : 4096;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigbus;
    sa.sa_flags = SA_NODEFER; /* the guard jumps out of the handler without sigsetjmp's mask */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, NULL);
    E.max_open = (size_t)E.nthreads + 1;
    E.max_chunks = 2 * (size_t)E.nthreads + 4;
}

static struct ejob *eng_add_job(const char *path)
{
    struct ejob *j = xcalloc(1, sizeof *j);
    j->path = xstrdup(path);
    j->fd = -1;
    grow(&E.jobs, &E.capjobs, E.njobs + 1, sizeof *E.jobs);
    E.jobs[E.njobs++] = j;
    E.jobs_left++;
    return j;
}

static uint64_t ranges_total(const struct range *r, size_t nr)
{
    uint64_t t = 0;
    for (size_t i = 0; i < nr; i++)
        t += r[i].b - r[i].a;
    return t;
}

/* A sink over ranges (sorted, disjoint; the last may end at TO_EOF) of job j, feeding a hash
 * of algs (0: none) and/or a scan of type scan_type (-1: none). */
static struct esink *eng_add_sink(struct ejob *j, const struct range *r, size_t nr,
                                  unsigned algs, int scan_type)
{
    struct esink *s = xcalloc(1, sizeof *s);
    s->job = j;
    s->r = xmalloc((nr ? nr : 1) * sizeof *s->r);
    if (nr)
        memcpy(s->r, r, nr * sizeof *r);
    s->nr = nr;
    s->total = ranges_total(r, nr);
    if (algs && qf_hash_new(algs, &s->h) != QF_OK)
        cli_die(CLI_EXIT_TROUBLE, "cannot set up hashing");
    if (scan_type >= 0) {
        s->scan = xmalloc(sizeof *s->scan);
        scan_init(s->scan, scan_type);
    }
    grow(&j->sinks, &j->capsinks, j->nsinks + 1, sizeof *j->sinks);
    j->sinks[j->nsinks++] = s;
    j->unfinished++;
    uint64_t end = nr ? r[nr - 1].b : 0;
    if (end > j->end)
        j->end = end;
    return s;
}

static struct esink *eng_add_range_sink(struct ejob *j, uint64_t a, uint64_t b, unsigned algs,
                                        int scan_type)
{
    struct range r = {a, b};
    return eng_add_sink(j, &r, 1, algs, scan_type);
}

static int sink_cmp(const void *a, const void *b)
{
    const struct esink *x = *(struct esink *const *)a, *y = *(struct esink *const *)b;
    uint64_t xa = x->nr ? x->r[0].a : 0, ya = y->nr ? y->r[0].a : 0;
    return xa < ya ? -1 : xa > ya;
}

/* --- below, E.mu is held unless a comment says otherwise --- */

static void ready_push(struct esink *s)
{
    if (s->in_ready || s->busy || !s->qn)
        return;
    s->in_ready = 1;
    s->ready_next = NULL;
    if (E.ready_tail)
        E.ready_tail->ready_next = s;
    else
        E.ready_head = s;
    E.ready_tail = s;
}

static struct esink *ready_pop(void)
{
    struct esink *s = E.ready_head;
    if (!s)
        return NULL;
    E.ready_head = s->ready_next;
    if (!E.ready_head)
        E.ready_tail = NULL;
    s->in_ready = 0;
    return s;
}

static void job_finish(struct ejob *j)
{
    if (j->finished)
        return;
    j->finished = 1;
    if (j->fd >= 0)
        close(j->fd);
    j->fd = -1;
    for (size_t i = 0; i < E.nopen; i++)
        if (E.open[i] == j) {
            E.open[i] = E.open[--E.nopen];
            break;
        }
    E.jobs_left--;
    pthread_cond_broadcast(&E.main_cv);
}

static void sink_finish(struct esink *s)
{
    if (s->finished)
        return;
    s->finished = 1;
    if (s->h)
        qf_hash_final(s->h);
    struct ejob *j = s->job;
    j->unfinished--;
    if (!j->unfinished && j->eof)
        job_finish(j);
}

static void chunk_free(struct chunk *c)
{
    if (c->map) {
        munmap(c->map, c->map_len);
        c->map = NULL;
    }
    c->next_free = E.free_chunks;
    E.free_chunks = c;
}

static void chunk_release(struct chunk *c)
{
    if (--c->refs > 0)
        return;
    c->job->inflight--;
    chunk_free(c);
}

static void enqueue(struct esink *s, struct chunk *c, size_t off, size_t len)
{
    if (s->qn == s->qcap) {
        size_t nc = s->qcap ? 2 * s->qcap : 8;
        struct piece *q = xmalloc(nc * sizeof *q);
        for (size_t i = 0; i < s->qn; i++)
            q[i] = s->q[(s->qhead + i) % s->qcap];
        free(s->q);
        s->q = q;
        s->qhead = 0;
        s->qcap = nc;
    }
    s->q[(s->qhead + s->qn) % s->qcap] = (struct piece){c, off, len};
    s->qn++;
    s->queued += len;
    c->refs++;
    ready_push(s);
}

/* The job reached its end (or failed): sinks that will get no more data finish once their
 * queue is drained; a sink that got fewer bytes than it wanted is short. */
static void job_eof(struct ejob *j)
{
    j->eof = 1;
    for (size_t i = 0; i < j->nsinks; i++) {
        struct esink *s = j->sinks[i];
        if (s->finished)
            continue;
        if (!j->seekable && !j->err && s->nr && s->r[s->nr - 1].b == TO_EOF)
            s->total = s->queued; /* a pipe ends where it ends */
        if (s->queued < s->total)
            s->is_short = 1;
        if (!s->qn && !s->busy)
            sink_finish(s);
    }
    j->nactive = 0;
    if (!j->unfinished)
        job_finish(j);
}

/* First sink not yet activated that wants any bytes, or NULL. */
static struct esink *next_sink(struct ejob *j)
{
    while (j->next < j->nsinks) {
        struct esink *s = j->sinks[j->next];
        if (s->nr && s->total && !s->finished)
            return s;
        j->next++;
    }
    return NULL;
}

/* Hand the bytes of chunk c to every sink whose ranges meet it. */
static void dispatch(struct ejob *j, struct chunk *c)
{
    uint64_t ca = c->off, cb = c->off + c->len;
    struct esink *s;
    while ((s = next_sink(j)) && s->r[0].a < cb) {
        grow(&j->active, &j->capactive, j->nactive + 1, sizeof *j->active);
        j->active[j->nactive++] = s;
        j->next++;
    }
    c->refs = 1; /* held while dispatching */
    j->inflight++;
    size_t w = 0;
    for (size_t k = 0; k < j->nactive; k++) {
        s = j->active[k];
        while (s->ri < s->nr) {
            const struct range *r = &s->r[s->ri];
            if (r->a >= cb)
                break;
            uint64_t a = r->a > ca ? r->a : ca, b = r->b < cb ? r->b : cb;
            if (a < b)
                enqueue(s, c, (size_t)(a - ca), (size_t)(b - a));
            if (r->b > cb)
                break;
            s->ri++;
        }
        if (s->ri < s->nr)
            j->active[w++] = s;
    }
    j->nactive = w;
    chunk_release(c);
}

/* Is reading j's next chunk useful now? Only if a sink will be free to take it: reading
 * ahead for sinks that other threads are busy with only moves the data between cores (for
 * fast hashes that costs more than it saves; the kernel's readahead covers the disk). */
static int job_wants_read(struct ejob *j)
{
    if (j->inflight == 0)
        return 1;
    for (size_t k = 0; k < j->nactive; k++)
        if (!j->active[k]->busy && !j->active[k]->qn)
            return 1;
    struct esink *nx = next_sink(j);
    return nx && nx->r[0].a < j->pos + CHUNK_SIZE;
}

/* Next job to read from: an open one with room for a chunk, else the next unstarted one. */
static struct ejob *pick_job(void)
{
    if (!E.free_chunks && E.nchunks >= E.max_chunks)
        return NULL;
    for (size_t i = 0; i < E.nopen; i++) {
        struct ejob *j = E.open[i];
        if (j->started && !j->reading && !j->eof && j->inflight < MAX_INFLIGHT &&
            job_wants_read(j))
            return j;
    }
    if (E.nopen < E.max_open && E.next_start < E.njobs) {
        struct ejob *j = E.jobs[E.next_start++];
        grow(&E.open, &E.capopen, E.nopen + 1, sizeof *E.open);
        E.open[E.nopen++] = j;
        return j;
    }
    return NULL;
}

static struct chunk *chunk_get(struct ejob *j)
{
    struct chunk *c = E.free_chunks;
    if (c) {
        E.free_chunks = c->next_free;
    } else {
        c = xcalloc(1, sizeof *c);
        E.nchunks++;
    }
    c->job = j;
    c->refs = 0;
    return c;
}

/* Open a job's file (lock not held). */
static void job_open(struct ejob *j)
{
    int fd = strcmp(j->path, "-") == 0 ? dup(0) : open(j->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        j->err = errno;
        return;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        j->err = errno;
        close(fd);
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        j->err = EISDIR;
        close(fd);
        return;
    }
    j->seekable = S_ISREG(st.st_mode);
    j->size = j->seekable ? (uint64_t)st.st_size : 0;
#ifdef POSIX_FADV_SEQUENTIAL
    if (j->seekable)
        posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    j->fd = fd;
}

/* Read up to len bytes at off (lock not held); bytes read (short only at EOF) or -errno. */
static ssize_t job_read(struct ejob *j, uint8_t *buf, size_t len, uint64_t off)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = j->seekable ? pread(j->fd, buf + got, len - got, (off_t)(off + got))
                                : read(j->fd, buf + got, len - got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/* First use of a job, after job_open: settle "to EOF" ranges, finish empty sinks. */
static void job_started(struct ejob *j)
{
    if (j->err) {
        j->eof = 1;
        for (size_t i = 0; i < j->nsinks; i++)
            j->sinks[i]->is_short = 1;
        job_eof(j);
        return;
    }
    for (size_t i = 0; i < j->nsinks; i++) {
        struct esink *s = j->sinks[i];
        if (j->seekable && s->nr && s->r[s->nr - 1].b == TO_EOF) {
            s->r[s->nr - 1].b = j->size > s->r[s->nr - 1].a ? j->size : s->r[s->nr - 1].a;
            s->total = ranges_total(s->r, s->nr);
        }
    }
    qsort(j->sinks, j->nsinks, sizeof *j->sinks, sink_cmp);
    if (j->seekable && j->end > j->size)
        j->end = j->size;
    for (size_t i = 0; i < j->nsinks; i++)
        if (j->sinks[i]->total == 0 && !(!j->seekable && j->sinks[i]->nr &&
                                          j->sinks[i]->r[j->sinks[i]->nr - 1].b == TO_EOF))
            sink_finish(j->sinks[i]);
    if (!next_sink(j))
        job_eof(j);
}

/* Feed n bytes (the next of the sink's stream) to the chunk CRCs they meet. */
static void ccrc_feed(struct esink *s, const uint8_t *d, size_t n)
{
    uint64_t a = s->cpos, b = a + n;
    while (s->cci < s->ncc) {
        struct ccrc *k = &s->cc[s->cci];
        if (k->off >= b)
            break;
        uint64_t x = k->off > a ? k->off : a, e = k->off + k->len, y = e < b ? e : b;
        if (x < y)
            k->crc = qf_crc32(k->crc, d + (x - a), (size_t)(y - x));
        if (e > b)
            break;
        s->cci++;
    }
    s->cpos = b;
}

static void sink_consume(struct esink *s, const struct piece *p)
{
    const uint8_t *d = p->c->buf + p->off;
    if (s->h)
        qf_hash_update(s->h, d, p->len);
    if (s->scan)
        scan_feed(s->scan, d, p->len);
    if (s->ncc)
        ccrc_feed(s, d, p->len);
}

/* Mapped files are read without a copy; if one shrinks while we hash it, touching the lost
 * pages raises SIGBUS. The handler jumps back here and the sink fails ("changed while
 * read") instead of the process dying. */
static _Thread_local sigjmp_buf *bus_guard;

static void on_sigbus(int sig)
{
    if (bus_guard)
        siglongjmp(*bus_guard, 1);
    signal(sig, SIG_DFL);
    raise(sig);
}

static int consume_guarded(struct esink *s, const struct piece *p)
{
    sigjmp_buf jb;
    if (sigsetjmp(jb, 0)) {
        bus_guard = NULL;
        return 0;
    }
    bus_guard = &jb;
    sink_consume(s, p);
    bus_guard = NULL;
    return 1;
}

/* Drain up to 64 pieces of a ready sink (called with the lock, drops it while hashing). */
static void run_sink(struct esink *s)
{
    struct piece batch[64];
    size_t n = 0;
    while (s->qn && n < sizeof batch / sizeof batch[0]) {
        batch[n++] = s->q[s->qhead];
        s->qhead = (s->qhead + 1) % s->qcap;
        s->qn--;
    }
    s->busy = 1;
    pthread_mutex_unlock(&E.mu);
    uint64_t bytes = 0;
    int bus = s->bus_error;
    for (size_t i = 0; i < n; i++) {
        if (!bus)
            bus = !consume_guarded(s, &batch[i]);
        bytes += batch[i].len;
    }
    pthread_mutex_lock(&E.mu);
    if (bus && !s->bus_error) {
        s->bus_error = 1;
        s->is_short = 1;
        s->job->err = s->job->err ? s->job->err : EIO;
        s->job->changed = 1;
    }
    s->busy = 0;
    s->done += bytes;
    for (size_t i = 0; i < n; i++)
        chunk_release(batch[i].c);
    if (s->qn)
        ready_push(s);
    else if (s->done == s->total || s->job->eof)
        sink_finish(s);
}

/* Read the next chunk of job j (called with the lock, drops it while reading). */
static void run_read(struct ejob *j)
{
    j->reading = 1;
    if (!j->started) {
        j->started = 1;
        pthread_mutex_unlock(&E.mu);
        job_open(j);
        pthread_mutex_lock(&E.mu);
        j->reading = 0;
        job_started(j);
        return;
    }
    struct esink *nx = next_sink(j);
    if (!j->nactive && nx && nx->r[0].a > j->pos && j->seekable)
        j->pos = nx->r[0].a; /* skip a region no sink wants */
    if ((!j->nactive && !nx) || (j->seekable && j->pos >= j->end)) {
        j->reading = 0;
        job_eof(j);
        return;
    }
    uint64_t off = j->pos;
    size_t len = CHUNK_SIZE;
    if (j->seekable && j->end - off < len)
        len = (size_t)(j->end - off);
    struct chunk *c = chunk_get(j);
    pthread_mutex_unlock(&E.mu);
    ssize_t n = -1;
    if (j->seekable && G.use_mmap) {
        /* map the window (no copy: the hashes read the page cache), and ask the kernel to
         * start reading the next one */
        uint64_t al = off & ~(uint64_t)(E.page - 1);
        size_t ml = (size_t)(off - al) + len;
        void *m = mmap(NULL, ml, PROT_READ, MAP_PRIVATE | MAP_POPULATE, j->fd, (off_t)al);
        if (m != MAP_FAILED) {
            c->map = m;
            c->map_len = ml;
            c->buf = (uint8_t *)m + (off - al);
            n = (ssize_t)len;
#ifdef POSIX_FADV_WILLNEED
            if (off + len < j->end)
                posix_fadvise(j->fd, (off_t)(off + len), CHUNK_SIZE, POSIX_FADV_WILLNEED);
#endif
        }
    }
#ifdef POSIX_FADV_WILLNEED
    if (j->seekable && !c->map) {
        if (j->ra < off + len)
            j->ra = off + len;
        if (j->ra < j->end && j->ra - off < RA_SIZE) {
            posix_fadvise(j->fd, (off_t)j->ra, RA_SIZE, POSIX_FADV_WILLNEED);
            j->ra += RA_SIZE;
        }
    }
#endif
    if (!c->map) {
        if (!c->own) {
            void *buf;
            if (posix_memalign(&buf, 4096, CHUNK_SIZE))
                cli_die(CLI_EXIT_TROUBLE, "out of memory");
            c->own = buf;
        }
        c->buf = c->own;
        n = job_read(j, c->buf, len, off);
    }
    pthread_mutex_lock(&E.mu);
    j->reading = 0;
    if (n <= 0) {
        chunk_free(c);
        if (n < 0)
            j->err = (int)-n;
        job_eof(j);
        return;
    }
    c->len = (size_t)n;
    c->off = off;
    j->pos = off + (uint64_t)n;
    E.done_bytes += (uint64_t)n;
    dispatch(j, c);
    if (j->seekable && ((size_t)n < len || j->pos >= j->end))
        job_eof(j); /* a short read: the file shrank since it was opened */
}

static void *worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&E.mu);
    for (;;) {
        struct esink *s = ready_pop();
        struct ejob *j;
        if (s)
            run_sink(s);
        else if ((j = pick_job()))
            run_read(j);
        else if (E.jobs_left == 0)
            break;
        else {
            pthread_cond_wait(&E.cv, &E.mu);
            continue;
        }
        pthread_cond_broadcast(&E.cv);
    }
    pthread_cond_broadcast(&E.cv);
    pthread_mutex_unlock(&E.mu);
    return NULL;
}

/* Run all jobs added so far. poll (may be NULL) is called from this thread about 6 times a
 * second and at the end, without the lock, to print finished results in order. */
static void eng_run(void (*poll)(void))
{
    E.total_bytes = E.done_bytes = 0;
    for (size_t i = E.next_start; i < E.njobs; i++) {
        struct stat st;
        uint64_t e = E.jobs[i]->end;
        if (stat(E.jobs[i]->path, &st) == 0 && S_ISREG(st.st_mode) && e > (uint64_t)st.st_size)
            e = (uint64_t)st.st_size;
        E.total_bytes += e == TO_EOF ? 0 : e;
    }
    struct cli_progress prog;
    cli_progress_start(&prog, "qverify", E.total_bytes, G.progress);
    /* no more threads than sinks: a thread with nothing to take only wakes up and sleeps
     * again each time a chunk is read, and the chunks it reads move between cores */
    uint64_t nsinks = 0;
    for (size_t i = E.next_start; i < E.njobs; i++)
        nsinks += E.jobs[i]->nsinks;
    int nthreads = nsinks < (uint64_t)E.nthreads ? (int)(nsinks ? nsinks : 1) : E.nthreads;
    pthread_t *t = xcalloc((size_t)nthreads, sizeof *t);
    int nt = 0;
    if (E.jobs_left) {
        for (int i = 0; i < nthreads; i++)
            if (pthread_create(&t[nt], NULL, worker, NULL) == 0)
                nt++;
        if (!nt)
            cli_die(CLI_EXIT_TROUBLE, "cannot start threads");
    }
    pthread_mutex_lock(&E.mu);
    while (E.jobs_left) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 160 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&E.main_cv, &E.mu, &ts);
        uint64_t done = E.done_bytes;
        pthread_mutex_unlock(&E.mu);
        if (poll) {
            int drawn = prog.drawn;
            if (drawn)
                cli_progress_end(&prog), prog.on = 1;
            poll();
        }
        cli_progress_update(&prog, done);
        pthread_mutex_lock(&E.mu);
    }
    pthread_mutex_unlock(&E.mu);
    for (int i = 0; i < nt; i++)
        pthread_join(t[i], NULL);
    free(t);
    cli_progress_end(&prog);
    if (poll)
        poll();
}

static const char *job_errstr(const struct ejob *j)
{
    return j->changed ? "file shrank while it was read" : strerror(j->err);
}

static int job_is_done(struct ejob *j)
{
    pthread_mutex_lock(&E.mu);
    int d = j->finished;
    pthread_mutex_unlock(&E.mu);
    return d;
}

/* 1 if the sink saw all of its bytes. */
static int sink_ok(const struct esink *s)
{
    return s->finished && !s->is_short && s->done == s->total;
}

static const char *sink_hex(const struct esink *s, unsigned alg, char *buf)
{
    if (!s->h || qf_hash_hex(s->h, alg, buf, 2 * QF_HASH_MAX_DIGEST + 1) <= 0)
        snprintf(buf, 2 * QF_HASH_MAX_DIGEST + 1, "?");
    return buf;
}

/* ======================================================================================
 * Layout of one model file (its own tensors only), for per-tensor hashing and checking
 */
struct tinfo {
    char *name;
    int type;
    uint64_t off, nbytes;
    int complete;
};

struct layout {
    int is_model;          /* opened as GGUF/safetensors */
    int code;              /* QF_* of the open (0 ok) */
    char *err;             /* message when the open failed */
    char format[16];
    uint64_t header_size, file_size;
    struct tinfo *t;       /* in the container's order */
    size_t nt;
    size_t n_incomplete;
};

static void layout_free(struct layout *L)
{
    for (size_t i = 0; i < L->nt; i++)
        free(L->t[i].name);
    free(L->t);
    free(L->err);
    memset(L, 0, sizeof *L);
}

/* Open path alone (no set, no config files, truncated data accepted) and copy its layout.
 * Returns 0 (L->is_model says whether it is a model) or -1 if the file is a model that can't
 * be read (L->err says why). */
static int layout_read(const char *path, struct layout *L)
{
    memset(L, 0, sizeof *L);
    if (!G.format && ends_with(path, ".json"))
        return 0; /* an index or config: hashed as a file, its tensors live in the shards */
    struct stat st;
    if (!G.format && stat(path, &st) == 0 && (!S_ISREG(st.st_mode) || st.st_size == 0))
        return 0; /* empty: no container to read */
    struct qf_model *m;
    struct qf_error err;
    int rc = qf_model_open(path, G.format, QF_OPEN_NO_SET | QF_OPEN_NO_CONFIG | QF_OPEN_PARTIAL,
                           &m, &err);
    L->code = rc;
    if (rc == QF_EUNSUPPORTED && !G.format)
        return 0; /* not a model: whole-file checksums only */
    if (rc != QF_OK) {
        L->err = xstrdup(err.msg[0] ? err.msg : qf_strerror(rc));
        return -1;
    }
    L->is_model = 1;
    snprintf(L->format, sizeof L->format, "%s", qf_model_format(m));
    const struct qf_file_info *fi = qf_model_file(m, 0);
    L->header_size = fi ? fi->header_size : 0;
    L->file_size = fi ? fi->size : 0;
    size_t n = qf_model_n_tensors(m);
    L->t = xcalloc(n, sizeof *L->t);
    for (size_t i = 0; i < n; i++) {
        const struct qf_tensor *t = qf_model_tensor(m, i);
        if (t->file_index != 0)
            continue;
        struct tinfo *ti = &L->t[L->nt++];
        ti->name = xstrndup(t->name, t->name_len);
        ti->type = t->type;
        ti->off = t->offset;
        ti->nbytes = t->nbytes;
        ti->complete = qf_model_tensor_complete(m, t);
        if (!ti->complete)
            L->n_incomplete++;
    }
    qf_model_close(m);
    return 0;
}

static int tinfo_off_cmp(const void *a, const void *b)
{
    const struct tinfo *x = *(struct tinfo *const *)a, *y = *(struct tinfo *const *)b;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* Ranges of all tensor data in file order (adjacent ranges merged); NULL if a tensor is
 * incomplete (the concatenation can't be hashed). */
static struct range *layout_data_ranges(const struct layout *L, size_t *nr)
{
    *nr = 0;
    if (L->n_incomplete)
        return NULL;
    struct tinfo **v = xmalloc((L->nt ? L->nt : 1) * sizeof *v);
    for (size_t i = 0; i < L->nt; i++)
        v[i] = &L->t[i];
    qsort(v, L->nt, sizeof *v, tinfo_off_cmp);
    struct range *r = xmalloc((L->nt ? L->nt : 1) * sizeof *r);
    size_t n = 0;
    for (size_t i = 0; i < L->nt; i++) {
        if (!v[i]->nbytes)
            continue;
        if (n && r[n - 1].b == v[i]->off)
            r[n - 1].b += v[i]->nbytes;
        else if (n && v[i]->off < r[n - 1].b) {
            /* overlapping tensors (not produced by our readers): hash them as stored */
            if (v[i]->off + v[i]->nbytes > r[n - 1].b)
                r[n - 1].b = v[i]->off + v[i]->nbytes;
        } else
            r[n++] = (struct range){v[i]->off, v[i]->off + v[i]->nbytes};
    }
    free(v);
    *nr = n;
    return r;
}

/* llama-gguf-hash's UUIDv5: SHA-1 over this namespace and the tensor data (gguf-hash §1.2) */
static const uint8_t uuid_ns[16] = {0xef, 0x00, 0x12, 0x06, 0xda, 0xdc, 0x5f, 0x6d,
                                    0xa1, 0x5f, 0x33, 0x59, 0xe5, 0x77, 0xd4, 0xe5};

static void uuid_from_sha1(const struct qf_hash *h, char out[37])
{
    uint8_t d[20];
    if (qf_hash_digest(h, QF_HASH_SHA1, d, sizeof d) != 20) {
        snprintf(out, 37, "?");
        return;
    }
    d[6] = (uint8_t)((d[6] & 0x0f) | 0x50);
    d[8] = (uint8_t)((d[8] & 0x3f) | 0x80);
    char hex[33];
    qf_hash_tohex(d, 16, hex);
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

/* ======================================================================================
 * Operands: files, directories (walked in name order), "-"
 */
struct flist {
    char **v;
    size_t n, cap;
};

static void flist_add(struct flist *f, const char *p)
{
    grow(&f->v, &f->cap, f->n + 1, sizeof *f->v);
    f->v[f->n++] = xstrdup(p);
}

/* Add path, or the regular files under it. Returns 0, or 2 if something can't be read. */
static int expand_operand(const char *path, struct flist *out, int depth)
{
    struct stat st;
    if (strcmp(path, "-") == 0) {
        flist_add(out, path);
        return 0;
    }
    if (stat(path, &st) != 0) {
        cli_error("%s: %s", path, strerror(errno));
        return CLI_EXIT_TROUBLE;
    }
    if (!S_ISDIR(st.st_mode)) {
        flist_add(out, path);
        return 0;
    }
    if (depth > 64) {
        cli_error("%s: directories nested too deeply", path);
        return CLI_EXIT_TROUBLE;
    }
    size_t n;
    char **names = list_dir(path, &n);
    if (!names) {
        cli_error("%s: %s", path, strerror(errno));
        return CLI_EXIT_TROUBLE;
    }
    int st_ret = 0;
    for (size_t i = 0; i < n; i++) {
        char *p = path_join(path, names[i]);
        struct stat ls;
        /* follow links to files; never follow links to directories (no loops) */
        if (lstat(p, &ls) == 0 && S_ISLNK(ls.st_mode) && stat(p, &st) == 0 &&
            S_ISDIR(st.st_mode)) {
            free(p);
            continue;
        }
        int r = expand_operand(p, out, depth + 1);
        if (r > st_ret)
            st_ret = r;
        free(p);
    }
    free_list(names, n);
    return st_ret;
}

/* ======================================================================================
 * Archives (libarchive): members are read in order, never extracted
 */
static int is_archive_magic(const uint8_t *h, size_t n)
{
    if (n >= 4 && h[0] == 'P' && h[1] == 'K' && ((h[2] == 3 && h[3] == 4) || (h[2] == 5 && h[3] == 6)))
        return 1; /* zip */
    if (n >= 2 && h[0] == 0x1f && h[1] == 0x8b)
        return 1; /* gzip */
    if (n >= 3 && memcmp(h, "BZh", 3) == 0)
        return 1;
    if (n >= 6 && memcmp(h, "\xfd" "7zXZ\0", 6) == 0)
        return 1;
    if (n >= 4 && memcmp(h, "\x28\xb5\x2f\xfd", 4) == 0)
        return 1; /* zstd */
    if (n >= 6 && memcmp(h, "7z\xbc\xaf\x27\x1c", 6) == 0)
        return 1;
    if (n >= 262 && memcmp(h + 257, "ustar", 5) == 0)
        return 1;
    return 0;
}

static int file_is_archive(const char *path)
{
    uint8_t h[512];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, h, sizeof h);
    close(fd);
    return n > 0 && is_archive_magic(h, (size_t)n);
}

struct member {
    char *name;
    int64_t size;
    struct qf_hash *h;
    uint8_t head[64]; /* first bytes, to tell models apart */
    size_t nhead;
    char *err;         /* read error inside this member */
};

/* libarchive's message without trailing newlines */
static char *arch_err(struct archive *a, const char *dflt)
{
    const char *m = archive_error_string(a);
    char *s = xstrdup(m ? m : dflt);
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

struct archive_result {
    struct member *m;
    size_t n, cap;
    char *err;         /* error opening or walking the archive */
};

static void archive_result_free(struct archive_result *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->m[i].name);
        qf_hash_free(r->m[i].h);
        free(r->m[i].err);
    }
    free(r->m);
    free(r->err);
    memset(r, 0, sizeof *r);
}

/* Hash every regular member (want(name) decides, NULL: all) with algs. */
static void archive_hash(const char *path, unsigned algs, int (*want)(const char *name),
                         struct archive_result *res)
{
    memset(res, 0, sizeof *res);
    struct archive *a = archive_read_new();
    if (!a)
        cli_die(CLI_EXIT_TROUBLE, "out of memory");
    archive_read_support_filter_all(a);
    archive_read_support_format_all(a);
    archive_read_support_format_raw(a);
    if (archive_read_open_filename(a, path, 1 << 20) != ARCHIVE_OK) {
        res->err = arch_err(a, "cannot open");
        archive_read_free(a);
        return;
    }
    uint8_t *buf = xmalloc(RA_SIZE);
    struct archive_entry *e;
    int r;
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
        if (archive_entry_filetype(e) != AE_IFREG)
            continue;
        const char *name = archive_entry_pathname(e);
        if (!name)
            name = "?";
        if (want && !want(name))
            continue;
        grow(&res->m, &res->cap, res->n + 1, sizeof *res->m);
        struct member *m = &res->m[res->n++];
        memset(m, 0, sizeof *m);
        m->name = xstrdup(name);
        m->size = archive_entry_size_is_set(e) ? archive_entry_size(e) : -1;
        if (qf_hash_new(algs, &m->h) != QF_OK)
            cli_die(CLI_EXIT_TROUBLE, "cannot set up hashing");
        int64_t got = 0;
        for (;;) {
            la_ssize_t n = archive_read_data(a, buf, RA_SIZE);
            if (n < 0) {
                m->err = arch_err(a, "read error");
                break;
            }
            if (n == 0)
                break;
            if (m->nhead < sizeof m->head) {
                size_t k = sizeof m->head - m->nhead;
                if (k > (size_t)n)
                    k = (size_t)n;
                memcpy(m->head + m->nhead, buf, k);
                m->nhead += k;
            }
            qf_hash_update(m->h, buf, (size_t)n);
            got += n;
        }
        qf_hash_final(m->h);
        if (m->size < 0)
            m->size = got;
        if (m->err) {
            res->err = xasprintf("%s: %s", m->name, m->err);
            break;
        }
    }
    if (r == ARCHIVE_FATAL && !res->err)
        res->err = arch_err(a, "damaged archive");
    free(buf);
    archive_read_free(a);
}

/* ======================================================================================
 * Hash mode: checksum lines, per-tensor manifests
 */
struct hfile {
    char *path;
    int archive;          /* --members: hashed member by member, in the printing thread */
    struct ejob *job;
    struct esink *whole, *header, *concat, *uuid;
    struct esink **tsink; /* per tensor (NULL for incomplete ones) */
    struct ccrc **tcc;    /* per tensor: chunk CRCs (--chunk-size) */
    size_t *tncc;
    struct ccrc *hcc;     /* chunk CRCs of the header */
    size_t nhcc;
    struct layout L;
    int layout_failed;
    int printed;
};

static struct hfile *HF;
static size_t HF_n, HF_printed;
static int HF_status;

static unsigned algs_or_default(unsigned dflt)
{
    return G.algs ? G.algs : dflt;
}

/* Chunks of size bytes covering [0, total) (the last one shorter); NULL when there are none. */
static struct ccrc *chunk_grid(uint64_t total, uint64_t size, size_t *n)
{
    *n = 0;
    if (!total || !size)
        return NULL;
    uint64_t k = total / size + (total % size != 0);
    struct ccrc *g = xcalloc((size_t)k, sizeof *g);
    for (uint64_t i = 0; i < k; i++) {
        g[i].off = i * size;
        g[i].len = total - g[i].off < size ? total - g[i].off : size;
    }
    *n = (size_t)k;
    return g;
}

/* Number of chunks of size bytes in total bytes. */
static uint64_t chunk_count(uint64_t total, uint64_t size)
{
    return size ? total / size + (total % size != 0) : 0;
}

/* "crc32@OFF+LEN" lines of a grid of chunk CRCs; prefix "header:" or "". */
static void put_chunk_lines(const struct esink *s, const struct ccrc *cc, size_t n,
                            const char *prefix, const char *name)
{
    if (!s || !sink_ok(s))
        return;
    for (size_t i = 0; i < n; i++) {
        char ty[80], hex[9];
        snprintf(ty, sizeof ty, "%scrc32@%llu+%llu", prefix, (unsigned long long)cc[i].off,
                 (unsigned long long)cc[i].len);
        snprintf(hex, sizeof hex, "%08x", (unsigned)cc[i].crc);
        put_typed_line(stdout, ty, hex, name);
    }
}

/* Largest number of chunk lines one file may get (qverify(1), CAPS). */
#define MAX_FILE_CHUNKS (1u << 22)

static void hash_print_members(struct hfile *f)
{
    unsigned algs = algs_or_default(QF_HASH_SHA256);
    struct archive_result ar;
    archive_hash(f->path, algs, NULL, &ar);
    char hex[2 * QF_HASH_MAX_DIGEST + 1];
    for (size_t i = 0; i < ar.n; i++) {
        if (ar.m[i].err)
            break;
        char *nm = xasprintf("%s:%s", f->path, ar.m[i].name);
        for (size_t k = 0; k < N_ALGS; k++) {
            unsigned a = algs_sum_order[k];
            if (algs & a) {
                qf_hash_hex(ar.m[i].h, a, hex, sizeof hex);
                put_sum_line(stdout, a, hex, nm, G.tag);
            }
        }
        free(nm);
    }
    if (ar.err) {
        cli_error("%s: %s", f->path, ar.err);
        HF_status = CLI_EXIT_TROUBLE;
    }
    archive_result_free(&ar);
}

static void hash_print_file(struct hfile *f)
{
    char hex[2 * QF_HASH_MAX_DIGEST + 1];
    if (f->archive) {
        hash_print_members(f);
        return;
    }
    struct ejob *j = f->job;
    if (j->err) {
        cli_error("%s: %s", f->path, job_errstr(j));
        HF_status = CLI_EXIT_TROUBLE;
        return;
    }
    if (!sink_ok(f->whole)) {
        cli_error("%s: file changed while it was read", f->path);
        HF_status = CLI_EXIT_TROUBLE;
        return;
    }
    unsigned algs = algs_or_default(G.per_tensor ? QF_HASH_XXH64 : QF_HASH_SHA256);
    if (G.per_tensor && f->L.is_model) {
        for (size_t i = 0; i < f->L.nt; i++) {
            struct esink *s = f->tsink[i];
            char *nm = xasprintf("%s:%s", f->path, f->L.t[i].name);
            for (size_t k = 0; k < N_ALGS; k++) {
                unsigned a = algs_gh_order[k];
                if (!(algs & a))
                    continue;
                if (s && sink_ok(s))
                    put_typed_line(stdout, qf_hash_name(a), sink_hex(s, a, hex), nm);
            }
            if (f->tcc)
                put_chunk_lines(s, f->tcc[i], f->tncc[i], "", nm);
            free(nm);
        }
        if (f->concat) {
            for (size_t k = 0; k < N_ALGS; k++) {
                unsigned a = algs_gh_order[k];
                if ((algs & a) && sink_ok(f->concat))
                    put_typed_line(stdout, qf_hash_name(a), sink_hex(f->concat, a, hex),
                                   f->path);
            }
        }
        if (f->uuid && sink_ok(f->uuid)) {
            char u[37];
            uuid_from_sha1(f->uuid->h, u);
            put_typed_line(stdout, "uuid", u, f->path);
        }
        if (f->header && sink_ok(f->header)) {
            for (size_t k = 0; k < N_ALGS; k++) {
                unsigned a = algs_gh_order[k];
                if (!(algs & a))
                    continue;
                char *ty = xasprintf("header:%s", qf_hash_name(a));
                put_typed_line(stdout, ty, sink_hex(f->header, a, hex), f->path);
                free(ty);
            }
            put_chunk_lines(f->header, f->hcc, f->nhcc, "header:", f->path);
        }
    }
    for (size_t k = 0; k < N_ALGS; k++) {
        unsigned a = algs_sum_order[k];
        if (algs & a)
            put_sum_line(stdout, a, sink_hex(f->whole, a, hex), f->path, G.tag);
    }
}

static void hash_poll(void)
{
    while (HF_printed < HF_n && (HF[HF_printed].archive || job_is_done(HF[HF_printed].job))) {
        hash_print_file(&HF[HF_printed]);
        HF_printed++;
    }
    fflush(stdout);
}

static int run_hash(char **operands, int n)
{
    struct flist fl = {0};
    int status = 0;
    for (int i = 0; i < n; i++) {
        int r = expand_operand(operands[i], &fl, 0);
        if (r > status)
            status = r;
    }
    unsigned algs = algs_or_default(G.per_tensor ? QF_HASH_XXH64 : QF_HASH_SHA256);
    HF = xcalloc(fl.n, sizeof *HF);
    HF_n = fl.n;
    for (size_t i = 0; i < fl.n; i++) {
        struct hfile *f = &HF[i];
        f->path = fl.v[i];
        if (G.members && strcmp(f->path, "-") != 0 && file_is_archive(f->path)) {
            f->archive = 1;
            continue;
        }
        f->job = eng_add_job(f->path);
        f->whole = eng_add_range_sink(f->job, 0, TO_EOF, algs, -1);
        if (!G.per_tensor || strcmp(f->path, "-") == 0)
            continue;
        if (layout_read(f->path, &f->L) != 0) {
            cli_warn("%s: no per-tensor hashes: %s", f->path, strip_path(f->L.err, f->path));
            status = CLI_EXIT_TROUBLE;
            continue;
        }
        if (!f->L.is_model)
            continue;
        f->tsink = xcalloc(f->L.nt, sizeof *f->tsink);
        /* chunk CRCs, unless they would be too many */
        uint64_t nchunks = chunk_count(f->L.header_size, G.chunk);
        for (size_t t = 0; t < f->L.nt; t++)
            if (f->L.t[t].complete)
                nchunks += chunk_count(f->L.t[t].nbytes, G.chunk);
        int chunks = G.chunk != 0;
        if (chunks && nchunks > MAX_FILE_CHUNKS) {
            cli_error("%s: --chunk-size %llu gives %llu chunks, more than %u: no chunk lines",
                      f->path, (unsigned long long)G.chunk, (unsigned long long)nchunks,
                      MAX_FILE_CHUNKS);
            status = CLI_EXIT_TROUBLE;
            chunks = 0;
        }
        if (chunks) {
            f->tcc = xcalloc(f->L.nt, sizeof *f->tcc);
            f->tncc = xcalloc(f->L.nt, sizeof *f->tncc);
        }
        for (size_t t = 0; t < f->L.nt; t++) {
            struct tinfo *ti = &f->L.t[t];
            if (!ti->complete)
                continue;
            f->tsink[t] = eng_add_range_sink(f->job, ti->off, ti->off + ti->nbytes, algs, -1);
            if (chunks) {
                f->tcc[t] = chunk_grid(ti->nbytes, G.chunk, &f->tncc[t]);
                f->tsink[t]->cc = f->tcc[t];
                f->tsink[t]->ncc = f->tncc[t];
            }
        }
        if (f->L.n_incomplete) {
            cli_warn("%s: %zu tensors are incomplete (file truncated): no hashes for them",
                     f->path, f->L.n_incomplete);
            status = CLI_EXIT_TROUBLE;
        }
        size_t nr;
        struct range *r = layout_data_ranges(&f->L, &nr);
        if (r) {
            f->concat = eng_add_sink(f->job, r, nr, algs, -1);
            if (G.uuid) {
                f->uuid = eng_add_sink(f->job, r, nr, QF_HASH_SHA1, -1);
                qf_hash_update(f->uuid->h, uuid_ns, sizeof uuid_ns);
            }
            free(r);
        }
        f->header = eng_add_range_sink(f->job, 0, f->L.header_size, algs, -1);
        if (chunks) {
            f->hcc = chunk_grid(f->L.header_size, G.chunk, &f->nhcc);
            f->header->cc = f->hcc;
            f->header->ncc = f->nhcc;
        }
    }
    free(fl.v); /* the paths now belong to HF */
    eng_run(hash_poll);
    if (HF_status > status)
        status = HF_status;
    for (size_t i = 0; i < HF_n; i++) {
        struct hfile *f = &HF[i];
        if (f->tcc)
            for (size_t t = 0; t < f->L.nt; t++)
                free(f->tcc[t]);
        free(f->tcc);
        free(f->tncc);
        free(f->hcc);
        layout_free(&f->L);
    }
    return status;
}

/* ======================================================================================
 * Check mode (-c): manifests of sha256sum, xxhsum, llama-gguf-hash and qverify
 */
enum { LK_WHOLE, LK_MODEL, LK_TENSOR, LK_HEADER, LK_UUID, LK_MEMBER, LK_CHUNK, LK_HCHUNK };
enum { RES_PENDING, RES_OK, RES_MISMATCH, RES_READFAIL, RES_IGNORED };

struct cfile;

struct mline {
    size_t manifest;       /* index into the manifest list */
    size_t lineno;
    int typed;             /* llama-gguf-hash style "TYPE  HEX  NAME" */
    int kind;              /* LK_* */
    unsigned alg;          /* 0 for uuid */
    int le;                /* xxhsum --little-endian value */
    uint8_t digest[QF_HASH_MAX_DIGEST];
    char uuid[40];
    char *name;            /* unescaped */
    char *file, *tensor;   /* what it refers to */
    uint64_t coff, clen;   /* LK_CHUNK, LK_HCHUNK: "crc32@COFF+CLEN" */
    long ti;               /* tensor index in the file's layout (-1: none) */
    long cidx;             /* chunk lines: index of its CRC in the subject's grid (-1: none) */
    int aux;               /* a chunk line whose subject has hash lines: locates, isn't counted */
    struct cfile *cf;
    int result;
    char *why;             /* detail for the result line */
};

struct cfile {
    char *path;
    int missing, err;
    int need_layout;
    struct layout L;
    int layout_rc;
    unsigned whole_algs, model_algs, header_algs;
    int need_uuid;
    unsigned *talgs;
    struct ejob *job;
    struct esink *whole, *model, *header, *uuid, **tsink;
    struct ccrc **tcc;     /* per tensor: CRCs of the chunks the manifest lists */
    size_t *tncc;
    struct ccrc *hcc;      /* chunks of the header (absolute offsets) */
    size_t nhcc;
    struct esink *hchunks; /* the sink computing hcc */
    int is_archive;        /* LK_MEMBER lines: hashed by archive_hash */
    struct archive_result ar;
    int done;
};

struct manifest {
    const char *path;
    size_t n_lines, n_malformed, n_mismatch, n_readfail, n_ok, n_proper;
    int unreadable;
};

static struct mline *ML;
static size_t ML_n, ML_cap, ML_printed;
static struct cfile **CF;
static size_t CF_n, CF_cap;
static struct manifest *MF;
static size_t MF_n;

static int type_word_alg(const char *w, size_t n, unsigned *alg)
{
    char buf[16];
    if (n == 0 || n >= sizeof buf)
        return 0;
    memcpy(buf, w, n);
    buf[n] = '\0';
    static const char *const words[] = {"xxh64", "xxh3", "sha1", "sha256", "xxh128", "xxh32",
                                        "crc32"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcmp(buf, words[i]) == 0) {
            *alg = qf_hash_from_name(buf);
            return 1;
        }
    return 0;
}

/* Algorithm of a GNU line from the length of its hex digits. */
static unsigned gnu_alg(size_t hexlen)
{
    switch (hexlen) {
    case 64: return QF_HASH_SHA256;
    case 40: return QF_HASH_SHA1;
    case 32: return QF_HASH_XXH3_128;
    case 16: return QF_HASH_XXH64;
    case 8: return (G.algs & QF_HASH_XXH32) && !(G.algs & QF_HASH_CRC32) ? QF_HASH_XXH32
                                                                         : QF_HASH_CRC32;
    default: return 0;
    }
}

/* A decimal number of up to 19 digits at *p (advanced past it). */
static int parse_u64(const char **p, const char *end, uint64_t *v)
{
    const char *q = *p;
    uint64_t x = 0;
    int n = 0;
    while (q < end && *q >= '0' && *q <= '9' && n < 19) {
        x = x * 10 + (uint64_t)(*q++ - '0');
        n++;
    }
    if (!n || (q < end && *q >= '0' && *q <= '9'))
        return 0;
    *p = q;
    *v = x;
    return 1;
}

/* A chunk type word "[header:]crc32@OFF+LEN" of n bytes: 1 (sets *hdr, *off, *len), else 0.
 * LEN is 1 to MAX_CHUNK_LEN and OFF + LEN must not wrap. */
static int chunk_word(const char *w, size_t n, int *hdr, uint64_t *off, uint64_t *len)
{
    const char *end = w + n;
    *hdr = 0;
    if (n > 7 && strncmp(w, "header:", 7) == 0) {
        *hdr = 1;
        w += 7;
    }
    if ((size_t)(end - w) < 6 || strncmp(w, "crc32@", 6) != 0)
        return 0;
    w += 6;
    if (!parse_u64(&w, end, off) || w >= end || *w++ != '+' || !parse_u64(&w, end, len) ||
        w != end)
        return 0;
    return *len >= 1 && *len <= MAX_CHUNK_LEN && *off <= UINT64_MAX - *len;
}

/* Parse one manifest line into *ml. Returns 1 (a checksum line), 0 (blank or comment),
 * -1 (improperly formatted). */
static int parse_line(char *line, struct mline *ml)
{
    size_t len = strlen(line);
    if (len && line[len - 1] == '\n')
        line[--len] = '\0';
    if (len && line[len - 1] == '\r')
        line[--len] = '\0';
    char *p = line;
    while (*p == ' ' || *p == '\t')
        p++;
    if (!*p || *p == '#')
        return 0;
    int esc = 0;
    if (*p == '\\') {
        esc = 1;
        p++;
    }
    memset(ml, 0, sizeof *ml);
    char *name = NULL, *hex = NULL;
    size_t hexlen = 0;

    /* BSD: TAG (NAME) = HEX */
    size_t tl = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");
    if (tl && p[tl] == ' ' && p[tl + 1] == '(') {
        char tag[32];
        if (tl >= sizeof tag)
            return -1;
        memcpy(tag, p, tl);
        tag[tl] = '\0';
        if (tl > 3 && strcmp(tag + tl - 3, "_LE") == 0) {
            ml->le = 1;
            tag[tl - 3] = '\0';
        }
        ml->alg = qf_hash_from_name(tag);
        char *close = strstr(p + tl + 2, ") = ");
        if (!ml->alg || !close)
            return -1;
        for (char *q; (q = strstr(close + 1, ") = "));)
            close = q; /* the last one: names may hold ") = " */
        name = xstrndup(p + tl + 2, (size_t)(close - (p + tl + 2)));
        hex = close + 4;
        hexlen = strlen(hex);
        ml->kind = LK_WHOLE;
    } else {
        size_t w = strcspn(p, " \t");
        unsigned alg = 0;
        int header = 0, chunk = 0;
        if (w > 7 && strncmp(p, "header:", 7) == 0 && type_word_alg(p + 7, w - 7, &alg))
            header = 1;
        else if (memchr(p, '@', w) && chunk_word(p, w, &header, &ml->coff, &ml->clen)) {
            chunk = 1;
            alg = QF_HASH_CRC32;
        }
        if (header || chunk || type_word_alg(p, w, &alg) ||
            (w == 4 && strncmp(p, "uuid", 4) == 0)) {
            /* typed: TYPE  HEX  NAME */
            ml->typed = 1;
            ml->alg = alg;
            ml->kind = chunk ? (header ? LK_HCHUNK : LK_CHUNK)
                       : header ? LK_HEADER
                       : alg    ? LK_MODEL
                                : LK_UUID;
            char *q = p + w;
            while (*q == ' ' || *q == '\t')
                q++;
            hex = q;
            hexlen = strcspn(q, " \t");
            q += hexlen;
            if (*q != ' ' && *q != '\t')
                return -1;
            while (*q == ' ' || *q == '\t')
                q++;
            if (!*q)
                return -1;
            name = xstrdup(q);
        } else {
            /* GNU: HEX [ *]NAME */
            hexlen = strspn(p, "0123456789abcdefABCDEF");
            if (p[hexlen] != ' ' || !(ml->alg = gnu_alg(hexlen)))
                return -1;
            hex = p;
            char *q = p + hexlen + 1;
            if (*q == ' ' || *q == '*')
                q++;
            if (!*q)
                return -1;
            name = xstrdup(q);
            ml->kind = LK_WHOLE;
        }
    }
    if (esc && !unescape(name)) {
        free(name);
        return -1;
    }
    if (ml->kind == LK_UUID) {
        if (hexlen != 36) {
            free(name);
            return -1;
        }
        for (size_t i = 0; i < 36; i++)
            ml->uuid[i] = (char)tolower((unsigned char)hex[i]);
        ml->uuid[36] = '\0';
    } else {
        size_t sz = qf_hash_size(ml->alg);
        if (hexlen != 2 * sz || qf_hash_fromhex(hex, hexlen, ml->digest, sz) != QF_OK) {
            free(name);
            return -1;
        }
        if (ml->le) /* xxhsum --little-endian: the same value, bytes reversed */
            for (size_t i = 0; i < sz / 2; i++) {
                uint8_t t = ml->digest[i];
                ml->digest[i] = ml->digest[sz - 1 - i];
                ml->digest[sz - 1 - i] = t;
            }
    }
    ml->name = name;
    return 1;
}

static int path_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static struct cfile *cfile_get(const char *path)
{
    for (size_t i = 0; i < CF_n; i++)
        if (strcmp(CF[i]->path, path) == 0)
            return CF[i];
    struct cfile *c = xcalloc(1, sizeof *c);
    c->path = xstrdup(path);
    grow(&CF, &CF_cap, CF_n + 1, sizeof *CF);
    CF[CF_n++] = c;
    return c;
}

/* Decide what file (and tensor or archive member) each line refers to. */
static void resolve_lines(size_t from)
{
    for (size_t i = from; i < ML_n; i++) {
        struct mline *l = &ML[i];
        /* a run of lines about one subject (a tensor and its chunks): resolved once */
        struct mline *pv = i > from ? &ML[i - 1] : NULL;
        if (pv && pv->typed && l->typed && pv->tensor && strcmp(pv->name, l->name) == 0 &&
            (pv->kind == LK_TENSOR || pv->kind == LK_CHUNK) &&
            (l->kind == LK_MODEL || l->kind == LK_CHUNK)) {
            if (l->kind == LK_MODEL)
                l->kind = LK_TENSOR;
            l->file = xstrdup(pv->file);
            l->tensor = xstrdup(pv->tensor);
            l->cf = pv->cf;
            continue;
        }
        if (l->kind == LK_WHOLE) {
            l->file = xstrdup(l->name);
            if (!path_exists(l->name)) {
                /* ARCHIVE:MEMBER, as "qverify --members" writes it */
                for (char *c = strchr(l->name, ':'); c; c = strchr(c + 1, ':')) {
                    char *a = xstrndup(l->name, (size_t)(c - l->name));
                    if (path_exists(a) && file_is_archive(a)) {
                        free(l->file);
                        l->file = a;
                        l->tensor = xstrdup(c + 1);
                        l->kind = LK_MEMBER;
                        break;
                    }
                    free(a);
                }
            }
        } else if ((l->kind == LK_MODEL && !path_exists(l->name)) || l->kind == LK_CHUNK) {
            /* FILE:TENSOR: the longest existing file (or, when missing, the longest name of
             * another line) before a ':' */
            char *best = NULL;
            for (char *c = strchr(l->name, ':'); c; c = strchr(c + 1, ':')) {
                size_t n = (size_t)(c - l->name);
                char *a = xstrndup(l->name, n);
                int ok = path_exists(a);
                for (size_t k = from; !ok && k < ML_n; k++)
                    ok = ML[k].typed && strcmp(ML[k].name, a) == 0;
                if (ok) {
                    free(best);
                    best = a;
                } else
                    free(a);
            }
            if (!best) {
                char *c = strchr(l->name, ':');
                if (c)
                    best = xstrndup(l->name, (size_t)(c - l->name));
            }
            if (best) {
                if (l->kind == LK_MODEL)
                    l->kind = LK_TENSOR;
                l->tensor = xstrdup(l->name + strlen(best) + 1);
                l->file = best;
            } else
                l->file = xstrdup(l->name);
        } else {
            l->file = xstrdup(l->name);
        }
        l->cf = cfile_get(l->file);
    }
}

static int read_manifest(size_t mi)
{
    struct manifest *m = &MF[mi];
    FILE *f = strcmp(m->path, "-") == 0 ? stdin : fopen(m->path, "r");
    if (!f) {
        cli_error("%s: %s", m->path, strerror(errno));
        m->unreadable = 1;
        return -1;
    }
    size_t from = ML_n;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    size_t lineno = 0;
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (memchr(line, '\0', (size_t)n) || (size_t)n > MAX_LINE_LEN) {
            m->n_malformed++;
            if (G.warn && !G.status)
                cli_info(1, "%s: %zu: %s", m->path, lineno,
                         (size_t)n > MAX_LINE_LEN ? "line longer than 1 MiB" : "NUL byte in line");
            if (cap > 2 * MAX_LINE_LEN) { /* don't keep a huge buffer for the next lines */
                free(line);
                line = NULL;
                cap = 0;
            }
            continue;
        }
        struct mline ml;
        int r = parse_line(line, &ml);
        if (r == 0)
            continue;
        /* a checksum option selects lines; chunk lines stay, to locate damage */
        if (r < 0 || (G.algs && ml.alg && !(G.algs & ml.alg) && ml.kind != LK_CHUNK &&
                      ml.kind != LK_HCHUNK)) {
            if (r < 0) {
                m->n_malformed++;
                if (G.warn && !G.status)
                    cli_info(1, "%s: %zu: improperly formatted checksum line", m->path, lineno);
            } else
                free(ml.name);
            continue;
        }
        if (r > 0 && ML_n >= MAX_LINES) {
            cli_error("%s: %zu: more than %u checksum lines in all", m->path, lineno,
                      MAX_LINES);
            free(ml.name);
            m->unreadable = 1;
            break;
        }
        ml.manifest = mi;
        ml.lineno = lineno;
        ml.ti = ml.cidx = -1;
        grow(&ML, &ML_cap, ML_n + 1, sizeof *ML);
        ML[ML_n++] = ml;
        m->n_proper++;
    }
    int rerr = ferror(f);
    free(line);
    if (f != stdin)
        fclose(f);
    if (rerr) {
        cli_error("%s: read error", m->path);
        m->unreadable = 1;
        return -1;
    }
    resolve_lines(from);
    return 0;
}

static int tensor_index(const struct layout *L, const char *name)
{
    for (size_t i = 0; i < L->nt; i++)
        if (strcmp(L->t[i].name, name) == 0)
            return (int)i;
    return -1;
}

static uint32_t load_be32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static int chunk_line_cmp(const void *a, const void *b)
{
    const struct mline *x = *(struct mline *const *)a, *y = *(struct mline *const *)b;
    if (x->ti != y->ti)
        return x->ti < y->ti ? -1 : 1;
    if (x->coff != y->coff)
        return x->coff < y->coff ? -1 : 1;
    if (x->clen != y->clen)
        return x->clen < y->clen ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* The grid of CRCs for the chunk lines v[0..n) of one subject, sorted by chunk_line_cmp:
 * lines with the same range share an entry (cidx); a line overlapping the previous entry
 * or reaching past limit bytes is refused (why). */
static struct ccrc *chunk_grid_of(struct mline **v, size_t n, uint64_t limit, const char *what,
                                  size_t *ng)
{
    struct ccrc *g = xcalloc(n, sizeof *g);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        struct mline *l = v[i];
        if (l->coff + l->clen > limit) {
            l->why = xasprintf("chunk bytes %llu-%llu, the %s has %llu",
                               (unsigned long long)l->coff,
                               (unsigned long long)(l->coff + l->clen - 1), what,
                               (unsigned long long)limit);
            continue;
        }
        if (k && g[k - 1].off == l->coff && g[k - 1].len == l->clen) {
            l->cidx = (long)(k - 1);
            continue;
        }
        if (k && l->coff < g[k - 1].off + g[k - 1].len) {
            l->why = xasprintf("chunk bytes %llu-%llu overlap another chunk line",
                               (unsigned long long)l->coff,
                               (unsigned long long)(l->coff + l->clen - 1));
            continue;
        }
        g[k] = (struct ccrc){l->coff, l->clen, 0, load_be32(l->digest)};
        l->cidx = (long)k++;
    }
    *ng = k;
    return g;
}

/* Chunk lines of c: the header's (absolute offsets, no layout needed) get their own sink;
 * the tensors' grids are attached to the tensor sinks by cfile_plan. */
static void plan_chunks(struct cfile *c, int have_layout, int has_tensor_lines,
                        int has_header_lines)
{
    struct mline **v = NULL;
    size_t nv = 0, cap = 0;
    for (size_t i = 0; i < ML_n; i++) {
        struct mline *l = &ML[i];
        if (l->cf != c || l->kind != LK_HCHUNK)
            continue;
        l->aux = has_header_lines;
        grow(&v, &cap, nv + 1, sizeof *v);
        v[nv++] = l;
    }
    if (nv) {
        qsort(v, nv, sizeof *v, chunk_line_cmp);
        c->hcc = chunk_grid_of(v, nv, UINT64_MAX, "header", &c->nhcc);
        if (c->nhcc) {
            const struct ccrc *e = &c->hcc[c->nhcc - 1];
            c->hchunks = eng_add_range_sink(c->job, 0, e->off + e->len, 0, -1);
            c->hchunks->cc = c->hcc;
            c->hchunks->ncc = c->nhcc;
        }
    }
    nv = 0;
    for (size_t i = 0; i < ML_n; i++) {
        struct mline *l = &ML[i];
        if (l->cf != c || l->kind != LK_CHUNK)
            continue;
        l->aux = l->ti >= 0 ? c->talgs[l->ti] != 0 : has_tensor_lines;
        if (!have_layout || l->ti < 0 || !c->L.t[l->ti].complete)
            continue;
        grow(&v, &cap, nv + 1, sizeof *v);
        v[nv++] = l;
    }
    if (nv) {
        qsort(v, nv, sizeof *v, chunk_line_cmp);
        c->tcc = xcalloc(c->L.nt, sizeof *c->tcc);
        c->tncc = xcalloc(c->L.nt, sizeof *c->tncc);
        for (size_t i = 0, j; i < nv; i = j) {
            long t = v[i]->ti;
            for (j = i + 1; j < nv && v[j]->ti == t; j++)
                ;
            c->tcc[t] = chunk_grid_of(v + i, j - i, c->L.t[t].nbytes, "tensor", &c->tncc[t]);
        }
    }
    free(v);
}

/* Set up the reads of one file for the lines that refer to it. */
static void cfile_plan(struct cfile *c)
{
    struct stat st;
    if (stat(c->path, &st) != 0) {
        c->missing = errno == ENOENT;
        c->err = errno;
        c->done = 1;
        return;
    }
    int has_tensor_lines = 0, has_header_lines = 0;
    for (size_t i = 0; i < ML_n; i++) {
        struct mline *l = &ML[i];
        if (l->cf != c)
            continue;
        has_tensor_lines |= l->kind == LK_TENSOR;
        has_header_lines |= l->kind == LK_HEADER;
        if (l->kind == LK_MEMBER)
            c->is_archive = 1;
        if (l->kind == LK_WHOLE)
            c->whole_algs |= l->alg;
        else if (l->kind != LK_MEMBER)
            c->need_layout = 1;
    }
    if (c->is_archive)
        return;
    if (c->need_layout) {
        c->layout_rc = layout_read(c->path, &c->L);
        if (c->layout_rc == 0 && c->L.is_model)
            c->talgs = xcalloc(c->L.nt, sizeof *c->talgs);
    }
    int have_layout = c->need_layout && c->layout_rc == 0 && c->L.is_model;
    const struct mline *prev = NULL; /* runs of lines about one tensor: looked up once */
    for (size_t i = 0; i < ML_n; i++) {
        struct mline *l = &ML[i];
        if (l->cf != c || !have_layout)
            continue;
        if ((l->kind == LK_TENSOR || l->kind == LK_CHUNK) && l->tensor) {
            if (prev && strcmp(prev->tensor, l->tensor) == 0)
                l->ti = prev->ti;
            else
                l->ti = tensor_index(&c->L, l->tensor);
            prev = l;
        }
        if (l->kind == LK_MODEL)
            c->model_algs |= l->alg;
        else if (l->kind == LK_HEADER)
            c->header_algs |= l->alg;
        else if (l->kind == LK_UUID)
            c->need_uuid = 1;
        else if (l->kind == LK_TENSOR && l->ti >= 0)
            c->talgs[l->ti] |= l->alg;
    }
    c->job = eng_add_job(c->path);
    if (c->whole_algs)
        c->whole = eng_add_range_sink(c->job, 0, TO_EOF, c->whole_algs, -1);
    plan_chunks(c, have_layout, has_tensor_lines, has_header_lines);
    if (!have_layout)
        return;
    if (c->header_algs)
        c->header = eng_add_range_sink(c->job, 0, c->L.header_size, c->header_algs, -1);
    c->tsink = xcalloc(c->L.nt, sizeof *c->tsink);
    for (size_t t = 0; t < c->L.nt; t++) {
        size_t ncc = c->tncc ? c->tncc[t] : 0;
        if (!(c->talgs[t] || ncc) || !c->L.t[t].complete)
            continue;
        c->tsink[t] = eng_add_range_sink(c->job, c->L.t[t].off,
                                         c->L.t[t].off + c->L.t[t].nbytes, c->talgs[t], -1);
        c->tsink[t]->cc = ncc ? c->tcc[t] : NULL;
        c->tsink[t]->ncc = ncc;
    }
    if (c->model_algs || c->need_uuid) {
        size_t nr;
        struct range *r = layout_data_ranges(&c->L, &nr);
        if (r) {
            if (c->model_algs)
                c->model = eng_add_sink(c->job, r, nr, c->model_algs, -1);
            if (c->need_uuid) {
                c->uuid = eng_add_sink(c->job, r, nr, QF_HASH_SHA1, -1);
                qf_hash_update(c->uuid->h, uuid_ns, sizeof uuid_ns);
            }
            free(r);
        }
    }
}

static int digest_eq(const struct esink *s, const struct mline *l)
{
    uint8_t d[QF_HASH_MAX_DIGEST];
    int n = qf_hash_digest(s->h, l->alg, d, sizeof d);
    return n > 0 && memcmp(d, l->digest, (size_t)n) == 0;
}

/* Result of one line once its file is done. */
static void line_result(struct mline *l)
{
    struct cfile *c = l->cf;
    if (c->missing && G.ignore_missing) {
        l->result = RES_IGNORED;
        return;
    }
    if (c->err || (c->job && c->job->err)) {
        l->result = RES_READFAIL;
        return;
    }
    if (l->kind == LK_MEMBER) {
        for (size_t i = 0; i < c->ar.n; i++) {
            struct member *m = &c->ar.m[i];
            if (strcmp(m->name, l->tensor) != 0)
                continue;
            uint8_t d[QF_HASH_MAX_DIGEST];
            int n = qf_hash_digest(m->h, l->alg, d, sizeof d);
            if (m->err)
                l->result = RES_READFAIL, l->why = xstrdup(m->err);
            else
                l->result = n > 0 && memcmp(d, l->digest, (size_t)n) == 0 ? RES_OK : RES_MISMATCH;
            return;
        }
        if (c->ar.err) {
            l->result = RES_READFAIL;
            l->why = xstrdup(c->ar.err);
        } else {
            l->result = RES_MISMATCH;
            l->why = xstrdup("no such member in the archive");
        }
        return;
    }
    if (l->kind == LK_WHOLE) {
        l->result = sink_ok(c->whole) && digest_eq(c->whole, l) ? RES_OK : RES_MISMATCH;
        return;
    }
    if (l->kind == LK_HCHUNK) {
        int ok = l->cidx >= 0 && sink_ok(c->hchunks) &&
                 c->hcc[l->cidx].crc == load_be32(l->digest);
        l->result = ok ? RES_OK : RES_MISMATCH;
        if (!ok && !l->why)
            l->why = xasprintf("header bytes %llu-%llu", (unsigned long long)l->coff,
                               (unsigned long long)(l->coff + l->clen - 1));
        return;
    }
    /* lines that need the file's layout */
    if (c->layout_rc != 0 || !c->L.is_model) {
        l->result = RES_MISMATCH;
        l->why = c->L.err ? xasprintf("cannot read tensors: %s", strip_path(c->L.err, c->path))
                          : xstrdup("not a GGUF or safetensors file");
        return;
    }
    if (l->kind == LK_HEADER) {
        l->result = sink_ok(c->header) && digest_eq(c->header, l) ? RES_OK : RES_MISMATCH;
        if (l->result != RES_OK)
            l->why = xasprintf("header, bytes 0-%llu",
                               (unsigned long long)(c->L.header_size ? c->L.header_size - 1 : 0));
        return;
    }
    if (l->kind == LK_MODEL || l->kind == LK_UUID) {
        struct esink *s = l->kind == LK_MODEL ? c->model : c->uuid;
        if (!s) {
            l->result = RES_MISMATCH;
            l->why = xasprintf("truncated: %zu tensors incomplete", c->L.n_incomplete);
            return;
        }
        int ok = sink_ok(s);
        if (ok && l->kind == LK_UUID) {
            char u[37];
            uuid_from_sha1(s->h, u);
            ok = strcmp(u, l->uuid) == 0;
        } else if (ok) {
            ok = digest_eq(s, l);
        }
        l->result = ok ? RES_OK : RES_MISMATCH;
        return;
    }
    /* LK_TENSOR, LK_CHUNK */
    int t = l->tensor ? tensor_index(&c->L, l->tensor) : -1;
    if (t < 0) {
        l->result = RES_MISMATCH;
        l->why = xstrdup("no such tensor");
        return;
    }
    const struct tinfo *ti = &c->L.t[t];
    unsigned long long a = ti->off, b = ti->off + ti->nbytes;
    if (!ti->complete) {
        l->result = RES_MISMATCH;
        l->why = xasprintf("truncated: data at bytes %llu-%llu, file ends at %llu", a, b - 1,
                           (unsigned long long)c->L.file_size);
        return;
    }
    if (l->kind == LK_CHUNK) {
        int ok = l->cidx >= 0 && c->tsink[t] && sink_ok(c->tsink[t]) &&
                 c->tcc[t][l->cidx].crc == load_be32(l->digest);
        l->result = ok ? RES_OK : RES_MISMATCH;
        if (!ok && !l->why)
            l->why = xasprintf("data at bytes %llu-%llu", a + l->coff, a + l->coff + l->clen - 1);
        return;
    }
    l->result = sink_ok(c->tsink[t]) && digest_eq(c->tsink[t], l) ? RES_OK : RES_MISMATCH;
    if (l->result != RES_OK)
        l->why = b > a ? xasprintf("data at bytes %llu-%llu", a, b - 1) : xstrdup("empty tensor");
}

/* How a line's subject is shown in results. */
static void put_subject(FILE *f, const struct mline *l)
{
    put_result_name(f, l->name);
    if (l->kind == LK_MODEL)
        fputs(" (tensor data)", f);
    else if (l->kind == LK_HEADER)
        fputs(" (header)", f);
    else if (l->kind == LK_UUID)
        fputs(" (uuid)", f);
    else if (l->kind == LK_CHUNK)
        fputs(" (chunks)", f);
    else if (l->kind == LK_HCHUNK)
        fputs(" (header chunks)", f);
}

static int same_subject(const struct mline *a, const struct mline *b)
{
    return a->manifest == b->manifest && a->kind == b->kind && a->typed == b->typed &&
           a->typed && strcmp(a->name, b->name) == 0;
}

/* Print the result of the group of lines starting at i (consecutive typed lines about the
 * same subject print one result); returns the index after the group. Counts every line. */
static size_t check_print_group(size_t i)
{
    size_t g = i + 1;
    while (g < ML_n && same_subject(&ML[i], &ML[g]))
        g++;
    int res = RES_IGNORED;
    const char *why = NULL;
    struct mline *l = &ML[i];
    if (l->aux)
        return g; /* chunk lines beside hash lines of their subject: they only locate */
    for (size_t k = i; k < g; k++) {
        struct mline *x = &ML[k];
        struct manifest *m = &MF[x->manifest];
        if (x->result == RES_OK)
            m->n_ok++;
        else if (x->result == RES_MISMATCH)
            m->n_mismatch++;
        else if (x->result == RES_READFAIL)
            m->n_readfail++;
        if (x->result == RES_IGNORED)
            continue;
        if (res == RES_IGNORED || x->result > res)
            res = x->result;
        if (x->result != RES_OK && x->why && !why)
            why = x->why;
    }
    if (res == RES_IGNORED)
        return g;
    struct cfile *c = l->cf;
    if (res == RES_READFAIL && !why && (c->err || (c->job && c->job->err)))
        cli_error("%s: %s", c->path, c->err ? strerror(c->err) : job_errstr(c->job));
    if (G.status || (res == RES_OK && cli_level < 2))
        return g;
    put_subject(stdout, l);
    if (res == RES_OK)
        fputs(": OK\n", stdout);
    else if (res == RES_READFAIL && !why)
        fputs(": FAILED open or read\n", stdout);
    else if (why)
        printf(": FAILED (%s)\n", why);
    else
        fputs(": FAILED\n", stdout);
    return g;
}

static int cfile_ready(struct cfile *c)
{
    return c->done || (c->job && !c->is_archive && job_is_done(c->job));
}

static void check_poll(void)
{
    while (ML_printed < ML_n) {
        struct mline *l = &ML[ML_printed];
        if (!cfile_ready(l->cf))
            break;
        size_t g = ML_printed + 1;
        while (g < ML_n && same_subject(l, &ML[g]))
            g++;
        for (size_t k = ML_printed; k < g; k++)
            if (ML[k].result == RES_PENDING)
                line_result(&ML[k]);
        ML_printed = check_print_group(ML_printed);
    }
    fflush(stdout);
}

/* Re-read bytes [base, base + total) of path once with each candidate of the chunk at coff
 * (relative to base) patched in, hash them with the algorithms of the lines exp and set ok[k]
 * when every line's digest matches; have[k] gets the byte found in the file. Returns 0, or -1
 * when the bytes can't be read. */
static int confirm_candidates(const char *path, uint64_t base, uint64_t total, uint64_t coff,
                              const struct qf_crc32_fix *cand, size_t nc,
                              struct mline *const *exp, size_t ne, int *ok, uint8_t *have)
{
    unsigned algs = 0;
    for (size_t i = 0; i < ne; i++)
        algs |= exp[i]->alg;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || !algs) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    uint8_t *buf = xmalloc(CHUNK_SIZE);
    struct qf_hash *pre = NULL, *st[MAX_CANDIDATES] = {0};
    int rc = -1;
    if (qf_hash_new(algs, &pre) != QF_OK)
        goto out;
    uint64_t pos = 0;
    for (int phase = 0; phase < 2; phase++) {
        uint64_t end = phase ? total : coff;
        while (pos < end) {
            size_t n = end - pos < CHUNK_SIZE ? (size_t)(end - pos) : CHUNK_SIZE;
            ssize_t got = pread(fd, buf, n, (off_t)(base + pos));
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0)
                goto out;
            n = (size_t)got;
            if (!phase) {
                qf_hash_update(pre, buf, n);
            } else {
                for (size_t k = 0; k < nc; k++) {
                    uint64_t p = coff + cand[k].pos;
                    int in = p >= pos && p < pos + n;
                    if (in) {
                        have[k] = buf[p - pos];
                        buf[p - pos] ^= cand[k].xor;
                    }
                    qf_hash_update(st[k], buf, n);
                    if (in)
                        buf[p - pos] ^= cand[k].xor;
                }
            }
            pos += n;
        }
        if (!phase)
            for (size_t k = 0; k < nc; k++)
                if (qf_hash_dup(pre, &st[k]) != QF_OK)
                    goto out;
    }
    for (size_t k = 0; k < nc; k++) {
        qf_hash_final(st[k]);
        ok[k] = 1;
        for (size_t i = 0; i < ne; i++) {
            uint8_t d[QF_HASH_MAX_DIGEST];
            int n = qf_hash_digest(st[k], exp[i]->alg, d, sizeof d);
            if (n <= 0 || memcmp(d, exp[i]->digest, (size_t)n) != 0)
                ok[k] = 0;
        }
    }
    rc = 0;
out:
    for (size_t k = 0; k < nc; k++)
        qf_hash_free(st[k]);
    qf_hash_free(pre);
    free(buf);
    close(fd);
    return rc;
}

/* Report where the bytes of one subject (a tensor, or the header when tensor is NULL) differ
 * from the chunk lines: one byte exactly when a single chunk differs, a single-byte change
 * explains its CRC and the subject's hash lines (exp) confirm it; else the differing chunks'
 * byte ranges. base: file offset of the subject; total: its length (0: unknown). */
static void locate_subject(const char *path, const char *tensor, const struct esink *s,
                           const struct ccrc *cc, size_t ncc, uint64_t base, uint64_t total,
                           struct mline *const *exp, size_t ne)
{
    if (!s || !sink_ok(s))
        return;
    size_t nbad = 0, bad = 0;
    for (size_t i = 0; i < ncc; i++)
        if (cc[i].crc != cc[i].want) {
            nbad++;
            bad = i;
        }
    if (!nbad)
        return;
    /* (a chunk outside [0, total) could not be checked against the subject's hashes) */
    if (nbad == 1 && ne && total && cc[bad].off + cc[bad].len <= total) {
        struct qf_crc32_fix cand[MAX_CANDIDATES];
        size_t nc = qf_crc32_locate(cc[bad].crc, cc[bad].want, cc[bad].len, cand,
                                    MAX_CANDIDATES);
        int ok[MAX_CANDIDATES] = {0};
        uint8_t have[MAX_CANDIDATES] = {0};
        if (nc >= 1 && nc <= MAX_CANDIDATES &&
            confirm_candidates(path, base, total, cc[bad].off, cand, nc, exp, ne, ok,
                               have) == 0) {
            size_t nok = 0, k1 = 0;
            for (size_t k = 0; k < nc; k++)
                if (ok[k]) {
                    nok++;
                    k1 = k;
                }
            if (nok == 1) {
                unsigned long long rel = cc[bad].off + cand[k1].pos;
                unsigned h = have[k1], w = (unsigned)(have[k1] ^ cand[k1].xor);
                if (tensor)
                    cli_info(1, "%s: tensor %s: byte at offset %llu (file offset %llu) is "
                             "0x%02x, manifest says 0x%02x", path, tensor, rel,
                             (unsigned long long)base + rel, h, w);
                else
                    cli_info(1, "%s: header: byte at offset %llu is 0x%02x, manifest says "
                             "0x%02x", path, rel, h, w);
                return;
            }
        }
    }
    /* the ranges of the differing chunks, neighbours merged */
    for (size_t i = 0; i < ncc;) {
        if (cc[i].crc == cc[i].want) {
            i++;
            continue;
        }
        unsigned long long a = cc[i].off, b = cc[i].off + cc[i].len;
        for (i++; i < ncc && cc[i].crc != cc[i].want && cc[i].off == b; i++)
            b = cc[i].off + cc[i].len;
        if (tensor)
            cli_info(1, "%s: tensor %s: bytes %llu-%llu (file bytes %llu-%llu) differ", path,
                     tensor, a, b - 1, (unsigned long long)base + a,
                     (unsigned long long)base + b - 1);
        else
            cli_info(1, "%s: header: bytes %llu-%llu differ", path, a, b - 1);
    }
}

/* Chunk lines of one file: locate the damage in its header and in each tensor. */
static void locate_file(struct cfile *c)
{
    struct mline **exp = NULL;
    size_t ne = 0, cap = 0;
    if (c->nhcc) {
        for (size_t i = 0; i < ML_n; i++)
            if (ML[i].cf == c && ML[i].kind == LK_HEADER) {
                grow(&exp, &cap, ne + 1, sizeof *exp);
                exp[ne++] = &ML[i];
            }
        /* the header's length: where the chunk lines (contiguous from 0) end, else the
         * length the file's layout gives */
        uint64_t total = 0;
        for (size_t i = 0; i < c->nhcc && c->hcc[i].off == total; i++)
            total += c->hcc[i].len;
        if (c->hcc[0].off != 0 || total != c->hcc[c->nhcc - 1].off + c->hcc[c->nhcc - 1].len)
            total = c->layout_rc == 0 && c->L.is_model ? c->L.header_size : 0;
        locate_subject(c->path, NULL, c->hchunks, c->hcc, c->nhcc, 0, total, exp, ne);
    }
    if (c->tcc) {
        for (size_t t = 0; t < c->L.nt; t++) {
            size_t nbad = 0;
            for (size_t i = 0; i < c->tncc[t]; i++)
                nbad += c->tcc[t][i].crc != c->tcc[t][i].want;
            if (!nbad || !c->tsink[t] || !sink_ok(c->tsink[t]))
                continue;
            ne = 0;
            for (size_t i = 0; i < ML_n; i++)
                if (ML[i].cf == c && ML[i].kind == LK_TENSOR && ML[i].ti == (long)t) {
                    grow(&exp, &cap, ne + 1, sizeof *exp);
                    exp[ne++] = &ML[i];
                }
            const struct tinfo *ti = &c->L.t[t];
            locate_subject(c->path, ti->name, c->tsink[t], c->tcc[t], c->tncc[t], ti->off,
                           ti->nbytes, exp, ne);
        }
    }
    free(exp);
}

/* Per file: say what the per-tensor lines tell about the damage. */
static void check_diagnose(void)
{
    if (G.status || cli_level < 1)
        return;
    for (size_t k = 0; k < CF_n; k++) {
        struct cfile *c = CF[k];
        size_t nt = 0, bad_t = 0, bad_h = 0, nh = 0, bad_w = 0;
        for (size_t i = 0; i < ML_n; i++) {
            struct mline *l = &ML[i];
            if (l->cf != c)
                continue;
            int bad = l->result == RES_MISMATCH;
            if (l->kind == LK_TENSOR) {
                nt++;
                bad_t += bad;
            } else if (l->kind == LK_HEADER) {
                nh++;
                bad_h += bad;
            } else if (l->kind == LK_WHOLE)
                bad_w += bad;
        }
        if (!nt || (!bad_t && !bad_h && !bad_w)) {
            locate_file(c);
            continue;
        }
        /* distinct tensors that failed */
        size_t dt = 0, dn = 0;
        const char *prev = NULL;
        for (size_t i = 0; i < ML_n; i++) {
            struct mline *l = &ML[i];
            if (l->cf != c || l->kind != LK_TENSOR)
                continue;
            if (!prev || strcmp(prev, l->tensor) != 0) {
                dn++;
                prev = l->tensor;
            }
        }
        prev = NULL;
        for (size_t i = 0; i < ML_n; i++) {
            struct mline *l = &ML[i];
            if (l->cf != c || l->kind != LK_TENSOR || l->result != RES_MISMATCH)
                continue;
            if (!prev || strcmp(prev, l->tensor) != 0) {
                dt++;
                prev = l->tensor;
            }
        }
        if (!dt && nh && bad_h)
            cli_info(1, "%s: tensor data identical, header differs (metadata only)", c->path);
        else if (!dt && bad_w)
            cli_info(1, "%s: tensor data identical%s, other bytes differ (padding)", c->path,
                     nh ? " and header" : "");
        else if (dt)
            cli_info(1, "%s: %zu of %zu tensors differ%s", c->path, dt, dn,
                     nh ? (bad_h ? ", header differs too" : ", header identical") : "");
        locate_file(c);
    }
}

static int run_check(char **operands, int n)
{
    static char dash[] = "-";
    char *stdin_only[1] = {dash};
    if (n == 0) {
        operands = stdin_only;
        n = 1;
    }
    MF = xcalloc((size_t)n, sizeof *MF);
    MF_n = (size_t)n;
    int trouble = 0;
    for (int i = 0; i < n; i++) {
        MF[i].path = operands[i];
        if (read_manifest((size_t)i) != 0)
            trouble = 1;
    }
    for (size_t k = 0; k < CF_n; k++)
        cfile_plan(CF[k]);
    eng_run(check_poll);
    /* archive members, one pass per archive */
    for (size_t k = 0; k < CF_n; k++) {
        struct cfile *c = CF[k];
        if (!c->is_archive || c->done)
            continue;
        unsigned algs = 0;
        for (size_t i = 0; i < ML_n; i++)
            if (ML[i].cf == c && ML[i].kind == LK_MEMBER)
                algs |= ML[i].alg;
        archive_hash(c->path, algs ? algs : QF_HASH_SHA256, NULL, &c->ar);
        c->done = 1;
    }
    check_poll();
    check_diagnose();
    int ok = !trouble;
    for (size_t i = 0; i < MF_n; i++) {
        struct manifest *m = &MF[i];
        if (m->unreadable) {
            ok = 0;
            continue;
        }
        if (!m->n_proper) {
            cli_error("%s: no properly formatted checksum lines found", m->path);
            ok = 0;
            continue;
        }
        if (!G.status) {
            if (m->n_malformed)
                cli_info(1, "WARNING: %zu line%s improperly formatted", m->n_malformed,
                         m->n_malformed == 1 ? " is" : "s are");
            if (m->n_readfail)
                cli_info(1, "WARNING: %zu listed file%s could not be read", m->n_readfail,
                         m->n_readfail == 1 ? "" : "s");
            if (m->n_mismatch)
                cli_info(1, "WARNING: %zu computed checksum%s did NOT match", m->n_mismatch,
                         m->n_mismatch == 1 ? "" : "s");
        }
        if (G.ignore_missing && !m->n_ok && !m->n_mismatch && !m->n_readfail) {
            if (!G.status)
                cli_error("%s: no file was verified", m->path);
            ok = 0;
        }
        if (m->n_mismatch || m->n_readfail || (G.strict && m->n_malformed))
            ok = 0;
    }
    if (trouble)
        return CLI_EXIT_TROUBLE;
    return ok ? CLI_EXIT_OK : CLI_EXIT_NO;
}

/* ======================================================================================
 * Verify mode: structure, truncation, --scan, Hugging Face caches, Ollama stores, archives
 */
enum { CK_SCAN, CK_SHA256, CK_GITSHA1 };

struct vcheck {
    int kind;
    struct esink *s;
    char *where;         /* file the tensor is in, relative to the subject (or NULL) */
    char *label;         /* tensor name, or blob name */
    char *users;         /* for blobs: the snapshot files or manifests that use it */
    int type;            /* tensor type */
    uint64_t off, nbytes;
    uint8_t expect[QF_HASH_MAX_DIGEST];
};

struct vline {
    int sev;             /* 0 note, 1 warning, 2 problem, 3 trouble */
    char *text;
};

struct vrep {
    char *subject;
    struct vline *l;
    size_t nl, capl;
    struct vcheck *ck;
    size_t nck, capck;
    struct ejob **jobs;
    size_t njobs, capjobs;
    char *summary;       /* shown after "OK: " when nothing is wrong */
    int printed;
};

static struct vrep **VR;
static size_t VR_n, VR_cap, VR_printed;
static int VR_status;

/* files already validated as part of a set (realpaths), so a walk opens each set once */
static char **Seen;
static size_t Seen_n, Seen_cap;

static void seen_add(const char *path)
{
    char *rp = realpath(path, NULL);
    grow(&Seen, &Seen_cap, Seen_n + 1, sizeof *Seen);
    Seen[Seen_n++] = rp ? rp : xstrdup(path);
}

static int seen_has(const char *path)
{
    char *rp = realpath(path, NULL);
    const char *p = rp ? rp : path;
    int found = 0;
    for (size_t i = 0; i < Seen_n && !found; i++)
        found = strcmp(Seen[i], p) == 0;
    free(rp);
    return found;
}

static struct vrep *vrep_new(const char *subject)
{
    struct vrep *r = xcalloc(1, sizeof *r);
    r->subject = xstrdup(subject);
    grow(&VR, &VR_cap, VR_n + 1, sizeof *VR);
    VR[VR_n++] = r;
    return r;
}

static void vsay(struct vrep *r, int sev, const char *fmt, ...) CLI_PRINTF(3, 4);
static void vsay(struct vrep *r, int sev, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = xmalloc((size_t)(n < 0 ? 0 : n) + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)(n < 0 ? 0 : n) + 1, fmt, ap);
    va_end(ap);
    grow(&r->l, &r->capl, r->nl + 1, sizeof *r->l);
    r->l[r->nl++] = (struct vline){sev, s};
}

/* One job per file path, shared by every report that reads it (one read of the file). */
static struct ejob *job_for(struct vrep *r, const char *path)
{
    struct ejob *j = NULL;
    for (size_t i = 0; i < E.njobs && !j; i++)
        if (strcmp(E.jobs[i]->path, path) == 0)
            j = E.jobs[i];
    if (!j)
        j = eng_add_job(path);
    for (size_t i = 0; i < r->njobs; i++)
        if (r->jobs[i] == j)
            return j;
    grow(&r->jobs, &r->capjobs, r->njobs + 1, sizeof *r->jobs);
    r->jobs[r->njobs++] = j;
    return j;
}

/* Note that `user` refers to the blob named `blob` (for the damage report). */
static void blob_user(struct vrep *r, const char *blob, const char *user)
{
    for (size_t i = 0; i < r->nck; i++) {
        struct vcheck *c = &r->ck[i];
        if ((c->kind != CK_SHA256 && c->kind != CK_GITSHA1) || strcmp(c->label, blob) != 0)
            continue;
        char *u = c->users ? xasprintf("%s, %s", c->users, user) : xstrdup(user);
        free(c->users);
        c->users = u;
    }
}

static struct vcheck *vcheck_add(struct vrep *r, int kind, const char *label)
{
    grow(&r->ck, &r->capck, r->nck + 1, sizeof *r->ck);
    struct vcheck *c = &r->ck[r->nck++];
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->label = xstrdup(label);
    return c;
}

/* "path" shown relative to a report's subject when it lies under it */
static const char *rel_to(const char *path, const char *subject)
{
    size_t n = strlen(subject);
    if (strncmp(path, subject, n) == 0 && path[n] == '/')
        return path + n + 1;
    return path;
}

/* ---- Git LFS pointer files ---- */

/* If path is a Git LFS pointer (git-lfs spec: < 1024 bytes, "version https://git-lfs..."),
 * fill oid/size and return 1. */
static int lfs_pointer(const char *path, char oid[65], unsigned long long *size)
{
    char buf[1024];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    char extra;
    ssize_t more = n == (ssize_t)sizeof buf - 1 ? read(fd, &extra, 1) : 0;
    close(fd);
    if (n <= 0 || more > 0)
        return 0;
    buf[n] = '\0';
    if (strncmp(buf, "version https://git-lfs.github.com/spec/", 40) != 0)
        return 0;
    oid[0] = '\0';
    *size = 0;
    const char *o = strstr(buf, "\noid sha256:");
    if (o && strspn(o + 12, "0123456789abcdef") >= 64) {
        memcpy(oid, o + 12, 64);
        oid[64] = '\0';
    }
    const char *s = strstr(buf, "\nsize ");
    if (s)
        *size = strtoull(s + 6, NULL, 10);
    return 1;
}

/* ---- models ---- */

static void add_scan_checks(struct vrep *r, struct qf_model *m, const char *where)
{
    size_t nt = qf_model_n_tensors(m);
    for (size_t i = 0; i < nt; i++) {
        const struct qf_tensor *t = qf_model_tensor(m, i);
        if (!qf_model_tensor_complete(m, t) || !t->nbytes)
            continue;
        const struct qf_file_info *fi = qf_model_file(m, (size_t)t->file_index);
        if (!fi)
            continue;
        struct ejob *j = job_for(r, fi->path);
        struct vcheck *c = vcheck_add(r, CK_SCAN, t->name);
        c->where = where ? xstrdup(where) : NULL;
        c->type = t->type;
        c->off = t->offset;
        c->nbytes = t->nbytes;
        c->s = eng_add_range_sink(j, t->offset, t->offset + t->nbytes, 0, t->type);
    }
}

static uint64_t align_up(uint64_t x, uint32_t a)
{
    if (a <= 1)
        return x;
    uint64_t r = x % a;
    return r ? x + (a - r) : x;
}

/* Which tensors of a partially opened model lie (partly) past the end of their file. */
static void diagnose_truncation(struct vrep *r, struct qf_model *m, const char *pre)
{
    size_t nf = qf_model_n_files(m), nt = qf_model_n_tensors(m);
    for (size_t f = 0; f < nf; f++) {
        const struct qf_file_info *fi = qf_model_file(m, f);
        uint64_t end = 0;
        size_t ninc = 0, nft = 0;
        for (size_t i = 0; i < nt; i++) {
            const struct qf_tensor *t = qf_model_tensor(m, i);
            if ((size_t)t->file_index != f)
                continue;
            nft++;
            if (t->offset + t->nbytes > end)
                end = t->offset + t->nbytes;
            if (!qf_model_tensor_complete(m, t))
                ninc++;
        }
        if (!ninc)
            continue;
        uint64_t expect = end;
        if (strcmp(qf_model_format(m), "gguf") == 0)
            expect = align_up(end, qf_model_alignment(m));
        const char *fp = rel_to(fi->path, r->subject);
        vsay(r, 2, "%s%s%s%struncated: %llu of %llu bytes present, %llu bytes missing", pre,
             nf > 1 ? "file " : "", nf > 1 ? fp : "", nf > 1 ? ": " : "",
             (unsigned long long)fi->size, (unsigned long long)expect,
             (unsigned long long)(expect - fi->size));
        size_t shown = 0, limit = cli_level >= 3 ? SIZE_MAX : 10;
        for (size_t i = 0; i < nt; i++) {
            const struct qf_tensor *t = qf_model_tensor(m, i);
            if ((size_t)t->file_index != f || qf_model_tensor_complete(m, t))
                continue;
            if (shown++ >= limit)
                continue;
            uint64_t have = fi->size > t->offset ? fi->size - t->offset : 0;
            vsay(r, 2, "%sincomplete tensor '%s': bytes %llu-%llu, %llu of %llu bytes missing",
                 pre, t->name, (unsigned long long)t->offset,
                 (unsigned long long)(t->offset + t->nbytes - 1),
                 (unsigned long long)(t->nbytes - have), (unsigned long long)t->nbytes);
        }
        if (shown > limit)
            vsay(r, 2, "%s... and %zu more incomplete tensors (-v lists them all)", pre,
                 shown - limit);
        vsay(r, 2, "%s%zu of %zu tensors%s%s incomplete", pre, ninc, nft, nf > 1 ? " in " : "",
             nf > 1 ? fp : "");
    }
}

static char *model_summary(struct qf_model *m)
{
    size_t nf = qf_model_n_files(m);
    uint64_t bytes = 0;
    for (size_t i = 0; i < nf; i++)
        bytes += qf_model_file(m, i)->size;
    const char *fmt = qf_model_format(m);
    char ver[16] = "";
    if (strcmp(fmt, "gguf") == 0)
        snprintf(ver, sizeof ver, " v%u", qf_model_version(m));
    return xasprintf("%s%s, %zu tensors, %zu file%s, %llu bytes", fmt, ver,
                     qf_model_n_tensors(m), nf, nf == 1 ? "" : "s", (unsigned long long)bytes);
}

/* The layout rules: a quantized checkpoint's parts must agree with each other and with its
 * config (qf_layout_scan). A disagreement is a problem; a method libqfmt does not read is said
 * and left unchecked. A recognised layout is named in the summary *sum. */
static void check_layout(struct vrep *r, struct qf_model *m, const char *path, const char *pre,
                         char **sum)
{
    struct qf_layout *lay = NULL;
    struct qf_error err;
    int rc = qf_layout_scan(m, 0, &lay, &err);
    if (rc == QF_EFORMAT) {
        vsay(r, 2, "%s%s", pre, strip_path(err.msg, path));
        return;
    }
    if (rc == QF_EUNSUPPORTED) {
        vsay(r, 1, "%s%s; its layout is not checked", pre, strip_path(err.msg, path));
        return;
    }
    if (rc != QF_OK) {
        vsay(r, 3, "%s%s", pre, strip_path(err.msg, path));
        return;
    }
    const char *w;
    for (size_t i = 0; (w = qf_layout_warning(lay, i)); i++)
        vsay(r, 1, "%s%s", pre, strip_path(w, path));
    size_t nq = 0;
    for (size_t i = 0; i < qf_layout_n_tensors(lay); i++)
        nq += qf_layout_tensor(lay, i)->family != QF_LAYOUT_PLAIN;
    if (nq) {
        char *s2 = xasprintf("%s, %s layout with %zu quantized layer%s", *sum,
                             qf_layout_name(lay), nq, nq == 1 ? "" : "s");
        free(*sum);
        *sum = s2;
    }
    qf_layout_free(lay);
}

/* Validate one model (a file, a set through any of its files, an index, a model folder).
 * where (may be NULL) prefixes every finding: the file's name relative to the subject. */
static void verify_model(struct vrep *r, const char *path, const char *format, const char *where)
{
    char *pre = where ? xasprintf("%s: ", where) : xstrdup("");
    char oid[65];
    unsigned long long lsize;
    struct qf_model *m = NULL;
    struct qf_error err;
    int rc;
    if (lfs_pointer(path, oid, &lsize)) {
        vsay(r, 2, "%sa Git LFS pointer, not the file (oid sha256:%s, %llu bytes): fetch it "
                   "with 'git lfs pull'",
             pre, oid[0] ? oid : "?", lsize);
        goto out;
    }
    rc = qf_model_open(path, format, 0, &m, &err);
    if (rc == QF_OK) {
        size_t nf = qf_model_n_files(m);
        for (size_t i = 0; i < nf; i++)
            seen_add(qf_model_file(m, i)->path);
        const char *w;
        for (size_t i = 0; (w = qf_model_warning(m, i)); i++)
            vsay(r, 1, "%s%s", pre, strip_path(w, path));
        char *sum = model_summary(m);
        check_layout(r, m, path, pre, &sum);
        if (where)
            vsay(r, 0, "%s%s", pre, sum);
        else {
            free(r->summary);
            r->summary = sum;
            sum = NULL;
        }
        free(sum);
        if (G.scan)
            add_scan_checks(r, m, where);
        qf_model_close(m);
        goto out;
    }
    if ((rc == QF_EUNSUPPORTED && !format) || rc == QF_EIO || rc == QF_ENOMEM ||
        rc == QF_EINVAL) {
        vsay(r, 3, "%s%s", pre, strip_path(err.msg, path));
        goto out;
    }
    /* malformed, truncated or an incomplete set: is it a truncated download? */
    if (qf_model_open(path, format, QF_OPEN_PARTIAL, &m, &(struct qf_error){0}) == QF_OK) {
        size_t nf = qf_model_n_files(m), ninc = 0;
        for (size_t i = 0; i < nf; i++)
            seen_add(qf_model_file(m, i)->path);
        for (size_t i = 0; i < qf_model_n_tensors(m); i++)
            ninc += !qf_model_tensor_complete(m, qf_model_tensor(m, i));
        if (ninc) {
            diagnose_truncation(r, m, pre);
            if (G.scan)
                add_scan_checks(r, m, where);
            qf_model_close(m);
            goto out;
        }
        qf_model_close(m);
    }
    vsay(r, 2, "%s%s", pre, strip_path(err.msg, path));
out:
    free(pre);
}

/* ---- Hugging Face cache ---- */

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_hf_repo(const char *dir)
{
    const char *b = base_name(dir);
    char *bl = path_join(dir, "blobs"), *sn = path_join(dir, "snapshots");
    int yes = (strncmp(b, "models--", 8) == 0 || strncmp(b, "datasets--", 10) == 0 ||
               strncmp(b, "spaces--", 8) == 0 || is_dir(bl)) &&
              is_dir(sn);
    free(bl);
    free(sn);
    return yes;
}

static int is_model_file_name(const char *n)
{
    return ends_with(n, ".gguf") || ends_with(n, ".safetensors") ||
           ends_with(n, ".safetensors.index.json");
}

/* Split part k > 1 of a "-0000k-of-0000n.gguf" set */
static int is_later_split_part(const char *n)
{
    const char *p = strstr(n, "-of-");
    if (!p || p < n + 6 || !ends_with(n, ".gguf"))
        return 0;
    const char *k = p - 5;
    if (k[-1] != '-' || !is_hex_string(k, 5))
        return 0;
    return strncmp(k, "00001", 5) != 0;
}

static void collect_files(const char *dir, struct flist *out, int depth)
{
    size_t n;
    char **names = list_dir(dir, &n);
    if (!names)
        return;
    for (size_t i = 0; i < n; i++) {
        char *p = path_join(dir, names[i]);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode) && depth < 32)
            collect_files(p, out, depth + 1);
        else if (S_ISLNK(st.st_mode) || S_ISREG(st.st_mode))
            flist_add(out, p);
        free(p);
    }
    free_list(names, n);
}

/* Validate the model files found in a list of paths: indexes first, then the rest, each set
 * once. Findings go into `into` (prefixed with the file's relative path) or, when it is NULL,
 * into a new report per model. Returns how many models were validated. */
static size_t verify_model_files(struct flist *fl, struct vrep *into)
{
    size_t found = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < fl->n; i++) {
            const char *p = fl->v[i];
            const char *b = base_name(p);
            int idx = ends_with(b, ".safetensors.index.json");
            if (pass == 0 ? !idx : (idx || !is_model_file_name(b)))
                continue;
            if (seen_has(p))
                continue;
            if (pass == 1 && is_later_split_part(b)) {
                /* normally validated through part 1; look at it only if that is missing */
                int have_first = 0;
                for (size_t k = 0; k < fl->n && !have_first; k++)
                    have_first = fl->v[k] != p && strstr(base_name(fl->v[k]), "-00001-of-") &&
                                 ends_with(fl->v[k], ".gguf");
                if (have_first)
                    continue;
            }
            struct stat st;
            if (stat(p, &st) != 0)
                continue; /* a dangling link: reported by the caller */
            found++;
            if (into)
                verify_model(into, p, NULL, rel_to(p, into->subject));
            else
                verify_model(vrep_new(p), p, NULL, NULL);
        }
    }
    return found;
}

/* Read a small text file (a ref) into buf, trimmed. */
static int read_small(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t k = fread(buf, 1, n - 1, f);
    fclose(f);
    buf[k] = '\0';
    while (k && isspace((unsigned char)buf[k - 1]))
        buf[--k] = '\0';
    return 0;
}

/* A Hugging Face cache repository: models--ORG--NAME/{blobs,refs,snapshots} */
static void verify_hf_repo(const char *repo)
{
    struct vrep *r = vrep_new(repo);
    char *blobs = path_join(repo, "blobs"), *snaps = path_join(repo, "snapshots"),
         *refs = path_join(repo, "refs");
    size_t nb = 0, n_sha = 0, n_git = 0;
    char **bn = list_dir(blobs, &nb);
    for (size_t i = 0; bn && i < nb; i++) {
        char *p = path_join(blobs, bn[i]);
        struct stat st;
        if (stat(p, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(p);
            continue;
        }
        size_t len = strlen(bn[i]);
        if (ends_with(bn[i], ".incomplete")) {
            vsay(r, 2, "blobs/%s: incomplete download (%llu bytes so far)", bn[i],
                 (unsigned long long)st.st_size);
        } else if ((len == 64 || len == 40) && is_hex_string(bn[i], len)) {
            /* LFS files are named by their sha256, plain git files by their git blob sha1 */
            struct vcheck *c = vcheck_add(r, len == 64 ? CK_SHA256 : CK_GITSHA1, bn[i]);
            qf_hash_fromhex(bn[i], len, c->expect, len / 2);
            struct ejob *j = job_for(r, p);
            c->s = eng_add_range_sink(j, 0, TO_EOF, len == 64 ? QF_HASH_SHA256 : QF_HASH_SHA1, -1);
            if (len == 40) {
                char pre[48];
                int k = snprintf(pre, sizeof pre, "blob %llu", (unsigned long long)st.st_size);
                qf_hash_update(c->s->h, pre, (size_t)k + 1); /* with its NUL */
            }
            len == 64 ? n_sha++ : n_git++;
        } else {
            vsay(r, 1, "blobs/%s: not named by a checksum", bn[i]);
        }
        free(p);
    }
    if (!bn)
        vsay(r, 2, "no blobs/ folder");
    /* refs/<name> holds a commit that must have a snapshot */
    struct flist rf = {0};
    collect_files(refs, &rf, 0);
    for (size_t i = 0; i < rf.n; i++) {
        char rev[128];
        if (read_small(rf.v[i], rev, sizeof rev) != 0)
            continue;
        char *sd = path_join(snaps, rev);
        if (!is_dir(sd))
            vsay(r, 2, "%s points at %s, which has no snapshot", rel_to(rf.v[i], repo), rev);
        free(sd);
    }
    /* snapshots/<rev>/...: links into blobs/ */
    struct flist sf = {0};
    collect_files(snaps, &sf, 0);
    size_t n_links = 0;
    for (size_t i = 0; i < sf.n; i++) {
        struct stat ls, st;
        if (lstat(sf.v[i], &ls) != 0)
            continue;
        if (S_ISLNK(ls.st_mode)) {
            n_links++;
            char tgt[PATH_MAX];
            ssize_t k = readlink(sf.v[i], tgt, sizeof tgt - 1);
            tgt[k > 0 ? k : 0] = '\0';
            blob_user(r, base_name(tgt), rel_to(sf.v[i], repo));
            if (stat(sf.v[i], &st) != 0)
                vsay(r, 2, "%s: dangling link to %s", rel_to(sf.v[i], repo), tgt);
            else if (!strstr(tgt, "blobs/"))
                vsay(r, 1, "%s: links outside blobs/ (%s)", rel_to(sf.v[i], repo), tgt);
        }
    }
    size_t nsnap = 0;
    char **sn = list_dir(snaps, &nsnap);
    free_list(sn, sn ? nsnap : 0);
    verify_model_files(&sf, r);
    r->summary = xasprintf("%zu blobs checked against their names (%zu sha256, %zu git sha1), "
                           "%zu snapshot%s, %zu link%s, %zu ref%s",
                           n_sha + n_git, n_sha, n_git, nsnap, nsnap == 1 ? "" : "s", n_links,
                           n_links == 1 ? "" : "s", rf.n, rf.n == 1 ? "" : "s");
    for (size_t i = 0; i < rf.n; i++)
        free(rf.v[i]);
    free(rf.v);
    for (size_t i = 0; i < sf.n; i++)
        free(sf.v[i]);
    free(sf.v);
    if (bn)
        free_list(bn, nb);
    free(blobs);
    free(snaps);
    free(refs);
}

/* ---- Ollama ---- */

static int is_ollama(const char *dir)
{
    char *b = path_join(dir, "blobs"), *m = path_join(dir, "manifests");
    int yes = is_dir(b) && is_dir(m);
    free(b);
    free(m);
    return yes;
}

/* Blob path of a "sha256:HEX" digest, or NULL if malformed. */
static char *ollama_blob(const char *dir, const char *digest)
{
    if (!digest || strncmp(digest, "sha256:", 7) != 0 || strlen(digest) != 71 ||
        !is_hex_string(digest + 7, 64))
        return NULL;
    return xasprintf("%s/blobs/sha256-%s", dir, digest + 7);
}

static void verify_ollama(const char *dir)
{
    struct vrep *r = vrep_new(dir);
    char *blobs = path_join(dir, "blobs"), *mans = path_join(dir, "manifests");
    size_t nb = 0, nver = 0;
    char **bn = list_dir(blobs, &nb);
    for (size_t i = 0; bn && i < nb; i++) {
        char *p = path_join(blobs, bn[i]);
        size_t len = strlen(bn[i]);
        if (strstr(bn[i], "-partial")) {
            vsay(r, 2, "blobs/%s: incomplete download", bn[i]);
        } else if (len == 71 && (strncmp(bn[i], "sha256-", 7) == 0 ||
                                 strncmp(bn[i], "sha256:", 7) == 0) &&
                   is_hex_string(bn[i] + 7, 64)) {
            struct vcheck *c = vcheck_add(r, CK_SHA256, bn[i]);
            qf_hash_fromhex(bn[i] + 7, 64, c->expect, 32);
            c->s = eng_add_range_sink(job_for(r, p), 0, TO_EOF, QF_HASH_SHA256, -1);
            nver++;
        } else {
            vsay(r, 1, "blobs/%s: not named by a digest", bn[i]);
        }
        free(p);
    }
    struct flist mf = {0};
    collect_files(mans, &mf, 0);
    size_t nman = 0, nmodel = 0;
    for (size_t i = 0; i < mf.n; i++) {
        const char *mp = rel_to(mf.v[i], dir);
        struct stat st;
        if (stat(mf.v[i], &st) != 0 || st.st_size > (16 << 20)) {
            vsay(r, 2, "%s: unreadable or too large for a manifest", mp);
            continue;
        }
        json_error_t je;
        json_t *root = json_load_file(mf.v[i], JSON_REJECT_DUPLICATES, &je);
        if (!root || !json_is_object(root)) {
            vsay(r, 2, "%s: not a JSON manifest (line %d: %s)", mp, je.line, je.text);
            json_decref(root);
            continue;
        }
        nman++;
        json_t *layers = json_object_get(root, "layers");
        size_t nl = json_is_array(layers) ? json_array_size(layers) : 0;
        for (size_t k = 0; k <= nl; k++) {
            json_t *e = k < nl ? json_array_get(layers, k) : json_object_get(root, "config");
            if (!json_is_object(e))
                continue;
            const char *dg = json_string_value(json_object_get(e, "digest"));
            const char *mt = json_string_value(json_object_get(e, "mediaType"));
            json_t *sz = json_object_get(e, "size");
            char *bp = ollama_blob(dir, dg);
            if (!bp) {
                vsay(r, 2, "%s: malformed digest '%s'", mp, dg ? dg : "(none)");
                continue;
            }
            struct stat bs;
            blob_user(r, base_name(bp), mp);
            if (stat(bp, &bs) != 0) {
                vsay(r, 2, "%s: blob %s is missing", mp, dg + 7);
            } else if (json_is_integer(sz) && json_integer_value(sz) != (json_int_t)bs.st_size) {
                vsay(r, 2, "%s: blob %s has %llu bytes, the manifest says %lld", mp, dg + 7,
                     (unsigned long long)bs.st_size, (long long)json_integer_value(sz));
            } else if (mt && strcmp(mt, "application/vnd.ollama.image.model") == 0 &&
                       !seen_has(bp)) {
                char *where = xasprintf("blobs/sha256-%.12s... (model of %s)", dg + 7, mp);
                verify_model(r, bp, NULL, where);
                seen_add(bp);
                free(where);
                nmodel++;
            }
            free(bp);
        }
        json_decref(root);
    }
    r->summary = xasprintf("%zu blobs checked against their digests, %zu manifest%s, %zu model%s",
                           nver, nman, nman == 1 ? "" : "s", nmodel, nmodel == 1 ? "" : "s");
    for (size_t i = 0; i < mf.n; i++)
        free(mf.v[i]);
    free(mf.v);
    if (bn)
        free_list(bn, nb);
    free(blobs);
    free(mans);
}

/* ---- archives ---- */

static const char *head_kind(const uint8_t *h, size_t n)
{
    if (n >= 4 && memcmp(h, "GGUF", 4) == 0)
        return "gguf";
    if (n >= 4 && memcmp(h, "FUGG", 4) == 0)
        return "gguf (big-endian)";
    if (n >= 9 && h[8] == '{' && !h[7] && !h[6] && !h[5])
        return "safetensors";
    return NULL;
}

static void verify_archive(const char *path)
{
    struct vrep *r = vrep_new(path);
    struct archive_result ar;
    archive_hash(path, QF_HASH_SHA256, NULL, &ar);
    size_t models = 0;
    for (size_t i = 0; i < ar.n; i++) {
        struct member *m = &ar.m[i];
        char hex[65];
        qf_hash_hex(m->h, QF_HASH_SHA256, hex, sizeof hex);
        const char *k = head_kind(m->head, m->nhead);
        models += k != NULL;
        if (!m->err)
            vsay(r, 0, "member '%s': %lld bytes, sha256 %s%s%s%s", m->name, (long long)m->size,
                 hex, k ? ", " : "", k ? k : "",
                 k ? " (hashed only: not validated inside an archive)" : "");
    }
    if (ar.err)
        vsay(r, 2, "%s", ar.err);
    r->summary = xasprintf("%zu member%s read to the end without error (%zu model file%s "
                           "hashed, not validated)",
                           ar.n, ar.n == 1 ? "" : "s", models, models == 1 ? "" : "s");
    archive_result_free(&ar);
}

/* ---- operands ---- */

static void verify_operand(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        struct vrep *r = vrep_new(path);
        vsay(r, 3, "%s", strerror(errno));
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        if (is_hf_repo(path)) {
            verify_hf_repo(path);
            return;
        }
        if (is_ollama(path)) {
            verify_ollama(path);
            return;
        }
        char *om = path_join(path, "models");
        if (is_ollama(om)) {
            verify_ollama(om);
            free(om);
            return;
        }
        free(om);
        /* a cache root (models--*), else any folder: every model inside */
        size_t n;
        char **names = list_dir(path, &n);
        size_t repos = 0;
        for (size_t i = 0; names && i < n; i++) {
            char *p = path_join(path, names[i]);
            if (is_dir(p) && is_hf_repo(p)) {
                verify_hf_repo(p);
                repos++;
            }
            free(p);
        }
        if (names)
            free_list(names, n);
        if (repos)
            return;
        struct flist fl = {0};
        collect_files(path, &fl, 0);
        size_t found = verify_model_files(&fl, NULL);
        for (size_t i = 0; i < fl.n; i++) {
            const char *b = base_name(fl.v[i]);
            if ((ends_with(b, ".tar") || ends_with(b, ".zip") || ends_with(b, ".tgz") ||
                 ends_with(b, ".tar.gz") || ends_with(b, ".tar.zst") || ends_with(b, ".tar.xz")) &&
                file_is_archive(fl.v[i])) {
                verify_archive(fl.v[i]);
                found++;
            }
        }
        if (!found) {
            struct vrep *r = vrep_new(path);
            vsay(r, 3, "no model files (*.gguf, *.safetensors) or archives found");
        }
        for (size_t i = 0; i < fl.n; i++)
            free(fl.v[i]);
        free(fl.v);
        return;
    }
    if (file_is_archive(path)) {
        verify_archive(path);
        return;
    }
    verify_model(vrep_new(path), path, G.format, NULL);
}

/* ---- results ---- */

/* Turn the data checks of a report into findings (its jobs are done). */
static void vrep_finish(struct vrep *r)
{
    for (size_t i = 0; i < r->nck; i++) {
        struct vcheck *c = &r->ck[i];
        char pre[512];
        snprintf(pre, sizeof pre, "%s%s", c->where ? c->where : "", c->where ? ": " : "");
        if (c->kind == CK_SHA256 || c->kind == CK_GITSHA1) {
            unsigned alg = c->kind == CK_SHA256 ? QF_HASH_SHA256 : QF_HASH_SHA1;
            const char *what = c->kind == CK_SHA256 ? "sha256" : "git blob sha1";
            uint8_t d[QF_HASH_MAX_DIGEST];
            if (c->s->job->err) {
                vsay(r, 3, "blobs/%s: %s", c->label, job_errstr(c->s->job));
            } else if (!sink_ok(c->s) || qf_hash_digest(c->s->h, alg, d, sizeof d) < 0) {
                vsay(r, 3, "blobs/%s: could not be read to the end", c->label);
            } else if (memcmp(d, c->expect, qf_hash_size(alg)) != 0) {
                char hex[65];
                qf_hash_tohex(d, qf_hash_size(alg), hex);
                vsay(r, 2, "blobs/%s: %s of the content is %s: the blob is damaged%s%s%s",
                     c->label, what, hex, c->users ? " (used by " : "",
                     c->users ? c->users : "", c->users ? ")" : "");
            }
            continue;
        }
        /* CK_SCAN */
        struct scan *s = c->s->scan;
        const char *tn = qf_type_name(c->type);
        if (!sink_ok(c->s)) {
            vsay(r, 3, "%stensor '%s': data could not be read", pre, c->label);
            continue;
        }
        uint64_t bad_at = c->off + s->first_bad * s->unit;
        if (s->nan || s->inf) {
            char what[64];
            if (s->nan && s->inf)
                snprintf(what, sizeof what, "%llu NaN, %llu Inf", (unsigned long long)s->nan,
                         (unsigned long long)s->inf);
            else
                snprintf(what, sizeof what, "%llu %s",
                         (unsigned long long)(s->nan ? s->nan : s->inf), s->nan ? "NaN" : "Inf");
            vsay(r, 2, "%stensor '%s' (%s): %s (first at element %llu, byte %llu)", pre,
                 c->label, tn, what, (unsigned long long)s->first_bad,
                 (unsigned long long)bad_at);
        }
        if (s->bad_scale)
            vsay(r, 2, "%stensor '%s' (%s): %llu of %llu blocks have a non-finite scale (first: "
                       "block %llu at byte %llu)",
                 pre, c->label, tn, (unsigned long long)s->bad_scale,
                 (unsigned long long)s->units, (unsigned long long)s->first_bad,
                 (unsigned long long)bad_at);
        if (!s->nonzero)
            vsay(r, 1, "%stensor '%s' (%s): all %llu bytes are zero", pre, c->label, tn,
                 (unsigned long long)c->nbytes);
        else if (s->kind == SC_QUANT && s->units && s->zero_scale == s->units)
            vsay(r, 1, "%stensor '%s' (%s): every block has a zero scale", pre, c->label, tn);
        if (s->neg_scale)
            vsay(r, 1, "%stensor '%s' (%s): %llu blocks have a negative scale (reference "
                       "quantizers write none)",
                 pre, c->label, tn, (unsigned long long)s->neg_scale);
    }
}

static int vrep_ready(struct vrep *r)
{
    for (size_t i = 0; i < r->njobs; i++)
        if (!job_is_done(r->jobs[i]))
            return 0;
    return 1;
}

static void vrep_print(struct vrep *r)
{
    vrep_finish(r);
    int worst = 0;
    for (size_t i = 0; i < r->nl; i++)
        if (r->l[i].sev > worst)
            worst = r->l[i].sev;
    int status = worst >= 3 ? CLI_EXIT_TROUBLE
                 : worst == 2 || (worst == 1 && G.strict) ? CLI_EXIT_NO
                                                          : CLI_EXIT_OK;
    if (status > VR_status)
        VR_status = status;
    if (G.status)
        return;
    for (size_t i = 0; i < r->nl; i++) {
        int sev = r->l[i].sev;
        if (sev == 0 && cli_level < 2)
            continue;
        if (sev == 3) {
            cli_error("%s: %s", r->subject, r->l[i].text);
            continue;
        }
        put_result_name(stdout, r->subject);
        printf(": %s%s\n", sev == 1 ? "warning: " : "", r->l[i].text);
    }
    if (worst >= 3)
        return;
    if (status == CLI_EXIT_OK) {
        if (cli_level >= 2) {
            put_result_name(stdout, r->subject);
            printf(": OK%s%s%s\n", r->summary ? " (" : "", r->summary ? r->summary : "",
                   r->summary ? ")" : "");
        }
    } else {
        put_result_name(stdout, r->subject);
        fputs(": FAILED\n", stdout);
    }
}

static void verify_poll(void)
{
    while (VR_printed < VR_n && vrep_ready(VR[VR_printed]))
        vrep_print(VR[VR_printed++]);
    fflush(stdout);
}

static int run_verify(char **operands, int n)
{
    for (int i = 0; i < n; i++)
        verify_operand(operands[i]);
    eng_run(verify_poll);
    return VR_status;
}

/* ======================================================================================
 * main
 */
int main(int argc, char **argv)
{
    struct cli_parser p;
    struct cli_common common = {.progress = -1};
    cli_opt_init(&p, &tool, opts, argc, argv);
    const char *arg;
    int id;
    long jobs = 0;
    while ((id = cli_opt_next(&p, &arg)) != -1) {
        if (cli_opt_common(&p, id, arg, &common, NULL))
            continue;
        switch (id) {
        case OPT_SHA256: G.algs |= QF_HASH_SHA256; break;
        case OPT_SHA1: G.algs |= QF_HASH_SHA1; break;
        case OPT_XXH3: G.algs |= QF_HASH_XXH3_128; break;
        case OPT_XXH3_64: G.algs |= QF_HASH_XXH3_64; break;
        case OPT_XXH64: G.algs |= QF_HASH_XXH64; break;
        case OPT_XXH32: G.algs |= QF_HASH_XXH32; break;
        case OPT_CRC32: G.algs |= QF_HASH_CRC32; break;
        case OPT_TAG: G.tag = 1; break;
        case 't': G.per_tensor = 1; break;
        case OPT_UUID: G.uuid = 1; break;
        case OPT_MEMBERS: G.members = 1; break;
        case 'c': G.check = 1; break;
        case OPT_STATUS: G.status = 1; break;
        case 'w': G.warn = 1; break;
        case OPT_STRICT: G.strict = 1; break;
        case OPT_IGNORE_MISSING: G.ignore_missing = 1; break;
        case 's': G.scan = 1; break;
        case 'j': jobs = (long)cli_parse_count("jobs", arg, 4096); break;
        case OPT_CHUNK_SIZE:
            G.chunk = cli_parse_count("chunk-size", arg, MAX_CHUNK_LEN);
            G.chunk_set = 1;
            break;
        default: cli_usage_die("unhandled option");
        }
    }
    G.format = common.format;
    G.progress = common.progress;
    if (G.status)
        G.progress = 0;
    int first = cli_opt_rest(&p);
    char **ops = argv + first;
    int nops = argc - first;
    int hashing = G.algs || G.per_tensor || G.members;
    if (G.uuid && !G.per_tensor)
        cli_usage_die("--uuid needs --per-tensor");
    if (G.chunk_set && !G.per_tensor)
        cli_usage_die("--chunk-size needs --per-tensor");
    if (G.check && (G.per_tensor || G.members || G.tag || G.scan))
        cli_usage_die("--check takes manifests; it can't be combined with --per-tensor, "
                      "--members, --tag or --scan");
    if (hashing && G.scan)
        cli_usage_die("--scan validates; use it without checksum options");
    if (!G.check && (G.status || G.warn || G.ignore_missing))
        cli_usage_die("--status, --warn and --ignore-missing go with --check");
    if (!G.check && nops == 0)
        cli_usage_die("no FILE or DIR given");
    if (jobs <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        jobs = n > 0 ? n : 1;
    }
    G.jobs = (int)(jobs > 256 ? 256 : jobs);
    const char *mm = getenv("QF_MMAP");
    G.use_mmap = mm && *mm && strcmp(mm, "0") != 0;
    eng_init(G.jobs);
    int status;
    if (G.check)
        status = run_check(ops, nops);
    else if (hashing)
        status = run_hash(ops, nops);
    else
        status = run_verify(ops, nops);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error("write error: %s", strerror(errno));
        status = CLI_EXIT_TROUBLE;
    }
    cli_opt_release(&p);
    return status;
}
