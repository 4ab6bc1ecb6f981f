/* qf_int.h - internal API shared by libfmt/ and formats/. Never installed.
 *
 * Layering: a format module (formats/X.c) exports one `const struct qfi_format qfi_format_X`
 * and keeps everything else static. It parses bytes it gets from a struct qfi_source into a
 * struct qf_model through the qfi_model_* builder functions below, and plans the header of a
 * file being written through the struct qf_writer fields.
 */
#ifndef QF_INT_H
#define QF_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "qf/qf.h"

#if defined(__GNUC__)
#define QFI_HIDDEN __attribute__((visibility("hidden")))
#else
#define QFI_HIDDEN
#endif

/* ---------------------------------------------------------------------------------------
 * Caps (documented in qinspect(1) and qf-formats(5)). Checked before allocating.
 */
#define QFI_MAX_HEADER_BYTES (1ull << 30)       /* GGUF header (metadata + tensor infos) */
#define QFI_MAX_ST_HEADER 100000000ull          /* safetensors header, as the reference */
#define QFI_MAX_TENSORS (1ull << 20)            /* tensors per file / per model set */
#define QFI_MAX_KV (1ull << 20)                 /* metadata records per file */
#define QFI_MAX_ARRAY (1ull << 30)              /* elements in one metadata array */
#define QFI_MAX_STRING (1ull << 30)             /* bytes in one string */
#define QFI_MAX_NAME 4096                       /* bytes in a tensor name (GGUF: < 64) */
#define QFI_MAX_ARRAY_DEPTH 8                   /* nested GGUF arrays */
#define QFI_MAX_JSON_BYTES (64ull << 20)        /* config.json / index.json */
#define QFI_MAX_FILES 100000                    /* files in a set */

/* ---------------------------------------------------------------------------------------
 * Overflow-safe arithmetic and little-endian loads (no alignment assumptions).
 */
static inline int qfi_add_ok(uint64_t a, uint64_t b, uint64_t *r)
{
    return !__builtin_add_overflow(a, b, r);
}
static inline int qfi_mul_ok(uint64_t a, uint64_t b, uint64_t *r)
{
    return !__builtin_mul_overflow(a, b, r);
}
static inline uint16_t qfi_load_le16(const void *p)
{
    const uint8_t *b = p;
    return (uint16_t)(b[0] | (b[1] << 8));
}
static inline uint32_t qfi_load_le32(const void *p)
{
    const uint8_t *b = p;
    return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
}
static inline uint64_t qfi_load_le64(const void *p)
{
    const uint8_t *b = p;
    return (uint64_t)qfi_load_le32(b) | ((uint64_t)qfi_load_le32(b + 4) << 32);
}
static inline uint16_t qfi_load_be16(const void *p)
{
    const uint8_t *b = p;
    return (uint16_t)((b[0] << 8) | b[1]);
}
static inline uint32_t qfi_load_be32(const void *p)
{
    const uint8_t *b = p;
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | (uint32_t)b[3];
}
static inline uint64_t qfi_load_be64(const void *p)
{
    const uint8_t *b = p;
    return ((uint64_t)qfi_load_be32(b) << 32) | (uint64_t)qfi_load_be32(b + 4);
}
static inline void qfi_store_le16(void *p, uint16_t v)
{
    uint8_t *b = p;
    b[0] = (uint8_t)v;
    b[1] = (uint8_t)(v >> 8);
}
static inline void qfi_store_le32(void *p, uint32_t v)
{
    uint8_t *b = p;
    for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> (8 * i));
}
static inline void qfi_store_le64(void *p, uint64_t v)
{
    uint8_t *b = p;
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
}

/* Grow the array *p (capacity *cap elements of sz bytes) to hold at least need elements,
 * doubling; QF_ENOMEM on overflow or allocation failure (the array is then unchanged). */
QFI_HIDDEN int qfi_grow(void **p, size_t *cap, size_t need, size_t sz);

/* Append a printf-formatted line (at most 1023 bytes kept) to the string array *v (*n used,
 * *cap allocated), for lists of notes and warnings; QF_ENOMEM if it cannot. */
QFI_HIDDEN int qfi_strv_vaddf(char ***v, size_t *n, size_t *cap, const char *fmt, va_list ap);

/* ---------------------------------------------------------------------------------------
 * Errors
 */
/* Record an error: code, errno (0 if none), file (may be NULL), offset (-1 if none) and a
 * printf message. msg ends up as "FILE: offset N: MESSAGE" (parts omitted when absent).
 * Returns code, so `return qfi_error(err, QF_EFORMAT, 0, path, off, "...")` works.
 * err may be NULL. */
QFI_HIDDEN int qfi_error(struct qf_error *err, int code, int sys_errno, const char *file,
                         int64_t offset, const char *fmt, ...) QF_PRINTF(6, 7);

/* Describe bytes for a message: a quoted, escaped, truncated copy of a possibly non-UTF-8
 * name ("blk.0.\\xff..."). Writes into buf (size n) and returns buf. */
QFI_HIDDEN const char *qfi_quote(char *buf, size_t n, const void *s, size_t len);

/* Non-zero if s[0..len) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
QFI_HIDDEN int qfi_utf8_valid(const void *s, size_t len);

/* ---------------------------------------------------------------------------------------
 * Sources: a regular file (read-only mmap) or a pipe/stdin (sequential).
 */
struct qfi_source {
    char *path;            /* as given; "-" for stdin */
    int fd;
    int seekable;          /* regular file, mapped */
    uint64_t size;         /* regular file: size at open; pipe: bytes consumed so far */
    const uint8_t *map;    /* whole file, PROT_READ, or NULL (pipe, empty file) */
    /* sequential sources: bytes consumed from the pipe; a reader may only go forward */
    uint64_t pos;
    int eof;
    int is_stdin;          /* serves the probe's read-ahead bytes first (see qfi_stream_peek) */
    uint64_t st_dev, st_ino;
    int64_t st_mtime_ns;
};

QFI_HIDDEN int qfi_source_open(const char *path, struct qfi_source **out, struct qf_error *err);
QFI_HIDDEN void qfi_source_close(struct qfi_source *s);

/* Read exactly len bytes at absolute offset off. On a pipe, off must be >= the bytes already
 * consumed (skips forward) and QF_EUNSUPPORTED is returned otherwise. A short file gives
 * QF_EFORMAT "unexpected end of file at offset N (needed M more bytes)". */
QFI_HIDDEN int qfi_source_read(struct qfi_source *s, uint64_t off, void *buf, size_t len,
                               struct qf_error *err);

/* Pipe helper: read up to len more bytes (sequentially) into buf; returns bytes read
 * (0 = EOF) or a negative code. */
QFI_HIDDEN int64_t qfi_source_read_some(struct qfi_source *s, void *buf, size_t len,
                                        struct qf_error *err);

/* Read ahead up to len (<= 256) bytes of a non-seekable input ("-" for stdin, a FIFO,
 * /dev/fd/N) for probing without losing them: the next qfi_source_open of the same path gets
 * the same descriptor and returns those bytes first. Returns bytes available or a code. */
QFI_HIDDEN int64_t qfi_stream_peek(const char *path, uint8_t *buf, size_t len,
                                   struct qf_error *err);

/* Check that a regular file was not changed (size, mtime) since open: QF_EFORMAT if it was. */
QFI_HIDDEN int qfi_source_check_unchanged(struct qfi_source *s, struct qf_error *err);

/* ---------------------------------------------------------------------------------------
 * Array encoding (struct qf_array.enc). Arrays point at GGUF-encoded elements:
 *   fixed-size elements back to back; string = len + bytes; nested array = u32 etype, count, ...
 * enc flags say how lengths and numbers are stored.
 */
#define QFI_ENC_BE 0x1      /* multi-byte values big-endian */
#define QFI_ENC_LEN32 0x2   /* string lengths and nested array counts are u32 (GGUF v1) */

/* Size in bytes of one fixed-size value of type t, or 0 for STRING/ARRAY/NULL. */
QFI_HIDDEN size_t qfi_vtype_size(int t);

/* Decode one element of type t at p (with at least avail bytes) into *out; returns the bytes
 * it occupies, or 0 if it does not fit / is invalid (only for data not validated yet). */
QFI_HIDDEN uint64_t qfi_value_decode(int t, const uint8_t *p, uint64_t avail, unsigned enc,
                                     int depth, struct qf_value *out);

/* ---------------------------------------------------------------------------------------
 * Model builder (used by format modules while opening)
 */
struct qfi_file {
    struct qf_file_info info;
    struct qfi_source *src;
    uint8_t *owned_header;  /* header bytes read into memory (pipes), freed at close */
};

struct qf_model {
    const char *format;
    uint32_t version;
    int big_endian;
    uint32_t alignment;
    struct qfi_file *files;
    size_t n_files, cap_files;
    struct qf_kv *kv;
    size_t n_kv, cap_kv;
    struct qf_tensor *tensors;
    size_t n_tensors, cap_tensors;
    char **warnings;
    size_t n_warnings, cap_warnings;
    /* memory kept alive for borrowed pointers */
    void **owned;
    size_t n_owned, cap_owned;
    /* name -> tensor index hash (open addressing), built by qfi_model_index_tensors */
    uint32_t *tindex;
    size_t tindex_cap;
};

QFI_HIDDEN struct qf_model *qfi_model_new(const char *format);

/* Add a file to the set; takes ownership of src. Returns its index or a negative code. */
QFI_HIDDEN int qfi_model_add_file(struct qf_model *m, struct qfi_source *src, const char *role,
                                  struct qf_error *err);

/* Append a metadata record. key/val may borrow memory kept alive by the model (the mapped file,
 * an owned buffer); use qfi_model_strdup / qfi_model_keep for anything else. */
QFI_HIDDEN int qfi_model_add_kv(struct qf_model *m, const struct qf_kv *kv, struct qf_error *err);

/* Append a tensor; t->name must stay alive (qfi_model_strndup). Sets t->index. Duplicate
 * detection is the caller's job via qfi_model_index_tensors. */
QFI_HIDDEN int qfi_model_add_tensor(struct qf_model *m, const struct qf_tensor *t,
                                    struct qf_error *err);

/* Build the name index over all tensors; on a duplicate name sets *dup to the later index and
 * returns QF_EFORMAT (without filling err: the caller knows the context). */
QFI_HIDDEN int qfi_model_index_tensors(struct qf_model *m, size_t *dup);

QFI_HIDDEN int qfi_model_warn(struct qf_model *m, const char *fmt, ...) QF_PRINTF(2, 3);
QFI_HIDDEN char *qfi_model_strndup(struct qf_model *m, const char *s, size_t len);
/* Take ownership of malloc'd memory (freed at close). Frees p and returns QF_ENOMEM on failure. */
QFI_HIDDEN int qfi_model_keep(struct qf_model *m, void *p);

/* Convert a parsed JSON object (jansson json_t *, passed as void * to keep jansson out of
 * this header) into metadata records with the given origin; nested objects flatten to dotted
 * keys with prefix (may be ""). Array values are encoded into an owned buffer. */
QFI_HIDDEN int qfi_model_add_json(struct qf_model *m, const void *json_obj, const char *prefix,
                                  const char *origin, int file_index, struct qf_error *err);

/* Read and parse a JSON file (size-capped, duplicates rejected, depth-capped) into a jansson
 * json_t * returned as void *; caller json_decref()s it. */
QFI_HIDDEN int qfi_json_load_file(const char *path, void **out, struct qf_error *err);

/* ---------------------------------------------------------------------------------------
 * Format modules
 */
struct qf_writer;

struct qfi_format {
    int abi;            /* 1 */
    const char *name;   /* "gguf" */
    /* Confidence 0..100 that head (the first len bytes; file_size 0 when unknown) is ours.
     * path may be used for extensions and directories (is_dir non-zero). */
    int (*probe)(const uint8_t *head, size_t len, uint64_t file_size, const char *path,
                 int is_dir);
    /* Open path (and, unless QF_OPEN_NO_SET, the rest of its set) into m. */
    int (*open)(struct qf_model *m, const char *path, unsigned flags, struct qf_error *err);
    /* Writer: lay out the declared tensors and serialize the header. Must set w->order,
     * every w->t[i].offset (absolute), w->header/w->header_len and w->file_size. */
    int (*write_plan)(struct qf_writer *w, struct qf_error *err);
    /* Byte value used to pad between tensors (0) and whether padding after the last tensor
     * up to file_size is written (the core writes zeros up to file_size). */
};

extern const struct qfi_format qfi_format_gguf;
extern const struct qfi_format qfi_format_safetensors;

QFI_HIDDEN const struct qfi_format *qfi_format_by_name(const char *name);
/* NULL-terminated list in probing order. */
QFI_HIDDEN const struct qfi_format *const *qfi_format_list(void);

/* ---------------------------------------------------------------------------------------
 * Writer state (libfmt/writer.c owns the streaming; formats fill the plan)
 */
struct qfi_wkv {
    char *key;
    struct qf_value val;  /* strings and array data deep-copied into owned memory */
};

struct qfi_wtensor {
    char *name;
    int type;
    int n_dims;
    uint64_t shape[QF_MAX_DIMS];
    uint64_t nelem;
    uint64_t nbytes;
    uint64_t offset;      /* absolute, set by write_plan */
};

struct qf_writer {
    const struct qfi_format *fmt;
    struct qf_writer_opts opts;
    char *path;           /* final path ("-" = stdout) */
    char *tmp_path;       /* temporary file (NULL for stdout) */
    int fd;
    struct qfi_wkv *kv;
    size_t n_kv, cap_kv;
    struct qfi_wtensor *t;
    size_t n_t, cap_t;
    /* plan (write_plan fills) */
    size_t *order;        /* order[k] = index of the k-th tensor in the file */
    uint8_t *header;
    size_t header_len;
    uint64_t file_size;
    /* streaming */
    int state;            /* 0 declaring, 1 data, 2 committed, 3 failed/aborted */
    size_t cur;           /* position in order */
    uint64_t cur_done;    /* bytes of order[cur] written */
    uint64_t pos;         /* bytes written to the file */
    uint8_t *buf;
    size_t buf_len, buf_cap;
};

#endif /* QF_INT_H */
