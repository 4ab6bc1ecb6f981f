/* safetensors.c - the safetensors container, sharded checkpoints and Hugging Face model
 * directories (spec: safetensors.md, after huggingface/safetensors tensor.rs).
 *
 * On disk:
 *   offset 0     u64 LE  N, the byte length of the header (N <= 100,000,000)
 *   offset 8     N bytes UTF-8 JSON object, optionally surrounded by JSON whitespace:
 *                  {"__metadata__": {"k": "v", ...},                      (optional)
 *                   "<name>": {"dtype": "F32", "shape": [d0, ...], "data_offsets": [B, E]}, ...}
 *   offset 8+N   data: every tensor at 8+N+B, E-B bytes, little-endian, C order.
 * The data region is covered exactly: sorted by (B,E) the ranges start at 0, touch each other
 * and end at the end of the file. No alignment is promised.
 *
 * Sharded checkpoints: model-00001-of-0000K.safetensors ... with model.safetensors.index.json
 *   {"metadata": {"total_size": <bytes of tensor data>}, "weight_map": {"<tensor>": "<shard>"}}
 * Each shard is a complete safetensors file. config.json and friends next to the weights are
 * read as metadata (origin "config.json", ...).
 */
#include "qf_int.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#define ST_NAME "safetensors"
#define QBUF 160 /* quoted names in messages */

/* The dtype enum of the reference crate, in declaration order ("increasing alignment"); the
 * writer orders tensors by this rank, descending. */
static const struct {
    const char *name;
    int type;
    unsigned bits;
} st_dtypes[] = {
    {"BOOL", QF_TYPE_BOOL, 8},
    {"F4", QF_TYPE_F4, 4},
    {"F6_E2M3", QF_TYPE_F6_E2M3, 6},
    {"F6_E3M2", QF_TYPE_F6_E3M2, 6},
    {"U8", QF_TYPE_U8, 8},
    {"I8", QF_TYPE_I8, 8},
    {"F8_E5M2", QF_TYPE_F8_E5M2, 8},
    {"F8_E4M3", QF_TYPE_F8_E4M3, 8},
    {"F8_E8M0", QF_TYPE_F8_E8M0, 8},
    {"F8_E4M3FNUZ", QF_TYPE_F8_E4M3FNUZ, 8},
    {"F8_E5M2FNUZ", QF_TYPE_F8_E5M2FNUZ, 8},
    {"I16", QF_TYPE_I16, 16},
    {"U16", QF_TYPE_U16, 16},
    {"F16", QF_TYPE_F16, 16},
    {"BF16", QF_TYPE_BF16, 16},
    {"I32", QF_TYPE_I32, 32},
    {"U32", QF_TYPE_U32, 32},
    {"F32", QF_TYPE_F32, 32},
    {"C64", QF_TYPE_C64, 64},
    {"F64", QF_TYPE_F64, 64},
    {"I64", QF_TYPE_I64, 64},
    {"U64", QF_TYPE_U64, 64},
};
#define N_DTYPES (sizeof st_dtypes / sizeof st_dtypes[0])

static int dtype_rank(int type)
{
    for (size_t i = 0; i < N_DTYPES; i++)
        if (st_dtypes[i].type == type)
            return (int)i;
    return -1;
}

/* ---------------------------------------------------------------------------------------
 * Paths */
static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && memcmp(s + a - b, suf, b) == 0;
}

static const char *path_base(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* Directory part of p ("." when p has none); caller frees. */
static char *path_dir(const char *p)
{
    const char *s = strrchr(p, '/');
    if (!s)
        return strdup(".");
    if (s == p)
        return strdup("/");
    size_t n = (size_t)(s - p);
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, p, n);
        d[n] = '\0';
    }
    return d;
}

static char *path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p)
        return NULL;
    memcpy(p, dir, a);
    size_t o = a;
    if (a && dir[a - 1] != '/')
        p[o++] = '/';
    memcpy(p + o, name, b + 1);
    return p;
}

static int is_regular(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* "<prefix>-<i>-of-<n>.safetensors" with decimal i, n and 1 <= i <= n: fills the prefix length,
 * the numbers and the digit counts (the sibling names are rebuilt with the same widths). */
struct shard_name {
    size_t prefix_len;
    unsigned long i, n;
    int iw, nw;
};

static int parse_digits(const char *s, size_t len, unsigned long *v)
{
    if (len == 0 || len > 9)
        return 0;
    unsigned long x = 0;
    for (size_t k = 0; k < len; k++) {
        if (s[k] < '0' || s[k] > '9')
            return 0;
        x = x * 10 + (unsigned long)(s[k] - '0');
    }
    *v = x;
    return 1;
}

static int parse_shard_name(const char *base, struct shard_name *sn)
{
    static const char ext[] = ".safetensors";
    size_t len = strlen(base), el = sizeof ext - 1;
    if (len <= el || memcmp(base + len - el, ext, el) != 0)
        return 0;
    size_t e = len - el; /* end of "<n>" */
    size_t k = e;
    while (k > 0 && base[k - 1] >= '0' && base[k - 1] <= '9')
        k--;
    size_t nstart = k;
    if (k < 4 || memcmp(base + k - 4, "-of-", 4) != 0)
        return 0;
    k -= 4;
    size_t iend = k;
    while (k > 0 && base[k - 1] >= '0' && base[k - 1] <= '9')
        k--;
    if (k < 1 || base[k - 1] != '-')
        return 0;
    if (!parse_digits(base + k, iend - k, &sn->i) || !parse_digits(base + nstart, e - nstart, &sn->n))
        return 0;
    if (sn->i < 1 || sn->i > sn->n || sn->n > QFI_MAX_FILES)
        return 0;
    sn->prefix_len = k - 1;
    sn->iw = (int)(iend - k);
    sn->nw = (int)(e - nstart);
    return 1;
}

/* ---------------------------------------------------------------------------------------
 * Probe */
static int dir_scan_probe(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return 0;
    int config = 0, weights = 0, index = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        if (strcmp(n, "config.json") == 0)
            config = 1;
        else if (ends_with(n, ".safetensors") && n[0] != '.')
            weights = 1;
        else if (ends_with(n, ".safetensors.index.json") && n[0] != '.')
            index = 1;
    }
    closedir(d);
    if (index || (weights && config))
        return 90;
    if (weights)
        return 80;
    if (config)
        return 20; /* an HF directory without weights: let open() say so */
    return 0;
}

static int st_probe(const uint8_t *head, size_t len, uint64_t file_size, const char *path,
                    int is_dir)
{
    if (is_dir)
        return path ? dir_scan_probe(path) : 0;
    if (len >= 9) {
        uint64_t n = qfi_load_le64(head);
        int sane = n >= 2 && n <= QFI_MAX_ST_HEADER && (file_size == 0 || n <= file_size - 8);
        size_t k = 8;
        while (k < len && (head[k] == ' ' || head[k] == '\t' || head[k] == '\n' || head[k] == '\r'))
            k++;
        if (sane && k < len && head[k] == '{')
            return 95;
    }
    if (path && ends_with(path, ".safetensors.index.json"))
        return 90;
    if (path && ends_with(path, ".safetensors"))
        return 60; /* named so: open() explains what is wrong with it */
    return 0;
}

/* ---------------------------------------------------------------------------------------
 * Reading one file */

/* Offset of the first byte that is not valid UTF-8 (same rules as qfi_utf8_valid), or len. */
static size_t utf8_bad_at(const uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint32_t cp, min;
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1, cp = c & 0x1f, min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2, cp = c & 0x0f, min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return i;
        }
        if (len - i <= need)
            return i;
        for (size_t k = 1; k <= need; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return i;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return i;
        i += need + 1;
    }
    return len;
}

struct st_tinfo {
    const char *name; /* borrowed from the JSON tree */
    size_t name_len;
    int type;
    unsigned bits;
    int n_dims;
    uint64_t shape[QF_MAX_DIMS];
    uint64_t nelem, nbytes;
    uint64_t begin, end;
    size_t order; /* position in the JSON object: ties of (begin, end) keep it */
};

static int cmp_tinfo(const void *a, const void *b)
{
    const struct st_tinfo *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* State shared by the files of one set. */
struct st_set {
    json_t *meta_seen; /* __metadata__ keys recorded so far (first value wins) */
    int meta_conflict_warned;
};

/* "[d0,d1,...]" of a shape, for messages. */
static const char *fmt_shape(char *buf, size_t n, const uint64_t *shape, int nd)
{
    size_t o = 0;
    o += (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < nd && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%llu", i ? "," : "", (unsigned long long)shape[i]);
    if (o < n)
        snprintf(buf + o, n - o, "]");
    return buf;
}

/* A JSON value that is a non-negative integer. */
static int json_uint(const json_t *v, uint64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return 0;
    *out = (uint64_t)json_integer_value(v);
    return 1;
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return json_integer_value(v) < 0 ? "a negative integer" : "an integer";
    case JSON_REAL: return "a non-integer number";
    case JSON_TRUE: case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

/* Parse one tensor entry of the header into *t. */
static int parse_entry(const char *path, const char *name, size_t name_len, const json_t *v,
                       struct st_tinfo *t, size_t *n_extra, struct qf_error *err)
{
    char q[QBUF];
    qfi_quote(q, sizeof q, name, name_len);
    if (memchr(name, '\0', name_len))
        return qfi_error(err, QF_EFORMAT, 0, path, 8, "tensor name '%s' contains a NUL byte", q);
    if (name_len > QFI_MAX_NAME)
        return qfi_error(err, QF_ELIMIT, 0, path, 8,
                         "tensor name of %zu bytes exceeds the %d-byte cap ('%s')", name_len,
                         QFI_MAX_NAME, q);
    if (!json_is_object(v))
        return qfi_error(err, QF_EFORMAT, 0, path, 8,
                         "tensor '%s': expected an object {dtype, shape, data_offsets}, found %s", q,
                         json_kind(v));
    const json_t *dt = json_object_get(v, "dtype");
    const json_t *sh = json_object_get(v, "shape");
    const json_t *of = json_object_get(v, "data_offsets");
    if (!dt || !sh || !of)
        return qfi_error(err, QF_EFORMAT, 0, path, 8, "tensor '%s': missing field \"%s\"", q,
                         !dt ? "dtype" : !sh ? "shape" : "data_offsets");
    size_t nfields = json_object_size(v);
    if (nfields > 3)
        *n_extra += 1;
    memset(t, 0, sizeof *t);
    t->name = name;
    t->name_len = name_len;
    /* dtype: exactly one of the table's strings */
    if (!json_is_string(dt))
        return qfi_error(err, QF_EFORMAT, 0, path, 8, "tensor '%s': dtype must be a string, found %s",
                         q, json_kind(dt));
    const char *ds = json_string_value(dt);
    size_t dl = json_string_length(dt);
    t->type = qf_type_from_st_dtype(ds, dl);
    int rank = t->type == QF_TYPE_INVALID ? -1 : dtype_rank(t->type);
    if (rank < 0 || strlen(st_dtypes[rank].name) != dl || memcmp(st_dtypes[rank].name, ds, dl)) {
        char dq[64];
        return qfi_error(err, QF_EFORMAT, 0, path, 8, "tensor '%s': unknown dtype \"%s\"", q,
                         qfi_quote(dq, sizeof dq, ds, dl));
    }
    t->bits = st_dtypes[rank].bits;
    /* shape: array of non-negative integers */
    if (!json_is_array(sh))
        return qfi_error(err, QF_EFORMAT, 0, path, 8, "tensor '%s': shape must be an array, found %s",
                         q, json_kind(sh));
    size_t nd = json_array_size(sh);
    if (nd > QF_MAX_DIMS)
        return qfi_error(err, QF_ELIMIT, 0, path, 8,
                         "tensor '%s': shape has %zu dimensions, at most %d are supported", q, nd,
                         QF_MAX_DIMS);
    t->n_dims = (int)nd;
    for (size_t i = 0; i < nd; i++) {
        const json_t *d = json_array_get(sh, i);
        if (!json_uint(d, &t->shape[i]))
            return qfi_error(err, QF_EFORMAT, 0, path, 8,
                             "tensor '%s': shape[%zu] must be a non-negative integer, found %s", q, i,
                             json_kind(d));
    }
    /* data_offsets: exactly two non-negative integers */
    if (!json_is_array(of) || json_array_size(of) != 2)
        return qfi_error(err, QF_EFORMAT, 0, path, 8,
                         "tensor '%s': data_offsets must be an array of 2 integers, found %s%s", q,
                         json_kind(of), json_is_array(of) ? " of another length" : "");
    for (size_t i = 0; i < 2; i++) {
        const json_t *d = json_array_get(of, i);
        if (!json_uint(d, i ? &t->end : &t->begin))
            return qfi_error(err, QF_EFORMAT, 0, path, 8,
                             "tensor '%s': data_offsets[%zu] must be a non-negative integer, found %s",
                             q, i, json_kind(d));
    }
    return QF_OK;
}

/* Read the 8-byte length and the header of file fi into *hdr (borrowed from the map, or read
 * from a pipe into memory the model owns). */
static int read_header(struct qf_model *m, int fi, const uint8_t **hdr, uint64_t *n_out,
                       struct qf_error *err)
{
    struct qfi_source *s = m->files[fi].src;
    const char *path = s->path;
    uint8_t lenb[8];
    uint64_t n;
    if (s->seekable) {
        if (s->size < 8)
            return qfi_error(err, QF_EFORMAT, 0, path, 0,
                             "file has %llu bytes, a safetensors file needs at least 8 "
                             "(the header length)",
                             (unsigned long long)s->size);
        n = qfi_load_le64(s->map);
    } else {
        size_t got = 0;
        while (got < 8) {
            int64_t r = qfi_source_read_some(s, lenb + got, 8 - got, err);
            if (r < 0)
                return (int)r;
            if (r == 0)
                return qfi_error(err, QF_EFORMAT, 0, path, (int64_t)got,
                                 "input ends after %zu bytes, a safetensors file needs at least 8 "
                                 "(the header length)",
                                 got);
            got += (size_t)r;
        }
        n = qfi_load_le64(lenb);
    }
    if (n > QFI_MAX_ST_HEADER)
        return qfi_error(err, QF_ELIMIT, 0, path, 0,
                         "header length %llu exceeds the maximum of %llu bytes",
                         (unsigned long long)n, (unsigned long long)QFI_MAX_ST_HEADER);
    if (n < 2)
        return qfi_error(err, QF_EFORMAT, 0, path, 0,
                         "header length %llu is too small to hold a JSON object (at least 2 bytes)",
                         (unsigned long long)n);
    if (s->seekable) {
        if (n > s->size - 8)
            return qfi_error(err, QF_EFORMAT, 0, path, 0,
                             "header length %llu runs past the end of the file (8 + %llu > %llu "
                             "bytes)",
                             (unsigned long long)n, (unsigned long long)n,
                             (unsigned long long)s->size);
        *hdr = s->map + 8;
    } else {
        /* grow with the input, so a short pipe that claims a huge header costs little */
        size_t cap = n < 65536 ? (size_t)n : 65536, got = 0;
        uint8_t *buf = malloc(cap);
        if (!buf)
            return qfi_error(err, QF_ENOMEM, ENOMEM, path, 8, "out of memory");
        while (got < n) {
            if (got == cap) {
                size_t nc = cap * 2 < n ? cap * 2 : (size_t)n;
                uint8_t *b2 = realloc(buf, nc);
                if (!b2) {
                    free(buf);
                    return qfi_error(err, QF_ENOMEM, ENOMEM, path, 8, "out of memory");
                }
                buf = b2;
                cap = nc;
            }
            int64_t r = qfi_source_read_some(s, buf + got, cap - got, err);
            if (r < 0) {
                free(buf);
                return (int)r;
            }
            if (r == 0) {
                free(buf);
                return qfi_error(err, QF_EFORMAT, 0, path, (int64_t)(8 + got),
                                 "input ends inside the header (%zu of %llu header bytes)", got,
                                 (unsigned long long)n);
            }
            got += (size_t)r;
        }
        m->files[fi].owned_header = buf;
        *hdr = buf;
    }
    *n_out = n;
    return QF_OK;
}

/* Record the __metadata__ object of file fi as string records. */
static int add_metadata(struct qf_model *m, int fi, const json_t *meta, struct st_set *set,
                        struct qf_error *err)
{
    const char *path = m->files[fi].info.path;
    if (json_is_null(meta))
        return QF_OK; /* the reference reads it as an absent Option */
    if (!json_is_object(meta))
        return qfi_error(err, QF_EFORMAT, 0, path, 8,
                         "__metadata__ must be an object of strings, found %s", json_kind(meta));
    /* check everything first: a bad entry rejects the file */
    for (void *it = json_object_iter((json_t *)meta); it;
         it = json_object_iter_next((json_t *)meta, it)) {
        const char *k = json_object_iter_key(it);
        size_t kl = json_object_iter_key_len(it);
        const json_t *v = json_object_iter_value(it);
        char q[QBUF];
        if (!json_is_string(v))
            return qfi_error(err, QF_EFORMAT, 0, path, 8,
                             "__metadata__ value of '%s' must be a string, found %s",
                             qfi_quote(q, sizeof q, k, kl), json_kind(v));
        if (memchr(k, '\0', kl))
            return qfi_error(err, QF_EFORMAT, 0, path, 8,
                             "__metadata__ key '%s' contains a NUL byte", qfi_quote(q, sizeof q, k, kl));
    }
    for (void *it = json_object_iter((json_t *)meta); it;
         it = json_object_iter_next((json_t *)meta, it)) {
        const char *k = json_object_iter_key(it);
        size_t kl = json_object_iter_key_len(it);
        json_t *v = json_object_iter_value(it);
        if (set && set->meta_seen) {
            const json_t *old = json_object_getn(set->meta_seen, k, kl);
            if (old) {
                if (!json_equal(old, v) && !set->meta_conflict_warned) {
                    char q[QBUF];
                    qfi_model_warn(m, "%s: __metadata__ '%s' differs from the first shard's value "
                                      "(first value kept)",
                                   path, qfi_quote(q, sizeof q, k, kl));
                    set->meta_conflict_warned = 1;
                }
                continue;
            }
            if (json_object_setn(set->meta_seen, k, kl, v))
                return qfi_error(err, QF_ENOMEM, ENOMEM, path, -1, "out of memory");
        }
        struct qf_kv kv;
        memset(&kv, 0, sizeof kv);
        char *ks = qfi_model_strndup(m, k, kl);
        char *vs = ks ? qfi_model_strndup(m, json_string_value(v), json_string_length(v)) : NULL;
        if (!vs)
            return qfi_error(err, QF_ENOMEM, ENOMEM, path, -1, "out of memory");
        kv.key.ptr = ks;
        kv.key.len = kl;
        kv.val.type = QF_V_STRING;
        kv.val.v.s.ptr = vs;
        kv.val.v.s.len = json_string_length(v);
        kv.origin = "__metadata__";
        kv.file_index = fi;
        int rc = qfi_model_add_kv(m, &kv, err);
        if (rc)
            return rc;
    }
    return QF_OK;
}

/* Validate the sorted tensors (reference steps 8-13) against the data region. */
static int check_layout(struct qf_model *m, int fi, uint64_t n, struct st_tinfo *ts, size_t nt,
                        unsigned flags, struct qf_error *err)
{
    struct qfi_source *s = m->files[fi].src;
    const char *path = s->path;
    uint64_t base = 8 + n, start = 0;
    char q[QBUF], q2[QBUF], shp[QBUF];
    for (size_t i = 0; i < nt; i++) {
        struct st_tinfo *t = &ts[i];
        qfi_quote(q, sizeof q, t->name, t->name_len);
        if (t->begin != start) {
            if (t->begin > start)
                return qfi_error(err, QF_EFORMAT, 0, path, (int64_t)(base + start),
                                 "tensor '%s' data_offsets [%llu,%llu] leave a gap: expected it to "
                                 "begin at %llu, %s",
                                 q, (unsigned long long)t->begin, (unsigned long long)t->end,
                                 (unsigned long long)start,
                                 i ? "where the previous tensor ends" : "the start of the data");
            qfi_quote(q2, sizeof q2, ts[i - 1].name, ts[i - 1].name_len);
            return qfi_error(err, QF_EFORMAT, 0, path, (int64_t)(base + t->begin),
                             "tensor '%s' data_offsets [%llu,%llu] overlap tensor '%s' [%llu,%llu]",
                             q, (unsigned long long)t->begin, (unsigned long long)t->end, q2,
                             (unsigned long long)ts[i - 1].begin, (unsigned long long)ts[i - 1].end);
        }
        if (t->end < t->begin)
            return qfi_error(err, QF_EFORMAT, 0, path, 8,
                             "tensor '%s' data_offsets [%llu,%llu] end before they begin", q,
                             (unsigned long long)t->begin, (unsigned long long)t->end);
        uint64_t ne = 1, nbits;
        for (int d = 0; d < t->n_dims; d++)
            if (!qfi_mul_ok(ne, t->shape[d], &ne))
                return qfi_error(err, QF_EFORMAT, 0, path, 8,
                                 "tensor '%s' shape %s: element count overflows 64 bits", q,
                                 fmt_shape(shp, sizeof shp, t->shape, t->n_dims));
        if (!qfi_mul_ok(ne, t->bits, &nbits))
            return qfi_error(err, QF_EFORMAT, 0, path, 8,
                             "tensor '%s' %s shape %s: bit size overflows 64 bits", q,
                             st_dtypes[dtype_rank(t->type)].name,
                             fmt_shape(shp, sizeof shp, t->shape, t->n_dims));
        if (nbits % 8)
            return qfi_error(err, QF_EFORMAT, 0, path, 8,
                             "tensor '%s' %s shape %s: %llu bits is not a whole number of bytes", q,
                             st_dtypes[dtype_rank(t->type)].name,
                             fmt_shape(shp, sizeof shp, t->shape, t->n_dims),
                             (unsigned long long)nbits);
        t->nelem = ne;
        t->nbytes = nbits / 8;
        if (t->end - t->begin != t->nbytes)
            return qfi_error(err, QF_EFORMAT, 0, path, 8,
                             "tensor '%s' data_offsets [%llu,%llu] but %s %s needs %llu bytes", q,
                             (unsigned long long)t->begin, (unsigned long long)t->end,
                             st_dtypes[dtype_rank(t->type)].name,
                             fmt_shape(shp, sizeof shp, t->shape, t->n_dims),
                             (unsigned long long)t->nbytes);
        start = t->end;
    }
    uint64_t total;
    if (!qfi_add_ok(base, start, &total))
        return qfi_error(err, QF_EFORMAT, 0, path, 8,
                         "data region of %llu bytes after an %llu-byte header overflows",
                         (unsigned long long)start, (unsigned long long)base);
    if (!s->seekable)
        return QF_OK; /* a pipe's length is only known at its end */
    if (total < s->size)
        return qfi_error(err, QF_EFORMAT, 0, path, (int64_t)total,
                         "%llu trailing byte%s: the tensors end at offset %llu but the file has "
                         "%llu bytes",
                         (unsigned long long)(s->size - total), s->size - total == 1 ? "" : "s",
                         (unsigned long long)total,
                         (unsigned long long)s->size);
    if (total > s->size && !(flags & QF_OPEN_PARTIAL)) {
        size_t k = 0;
        while (k < nt && base + ts[k].end <= s->size)
            k++;
        qfi_quote(q, sizeof q, ts[k < nt ? k : nt - 1].name, ts[k < nt ? k : nt - 1].name_len);
        return qfi_error(err, QF_EFORMAT, 0, path, (int64_t)s->size,
                         "file is truncated: it has %llu bytes but the header describes %llu "
                         "(tensor '%s' is cut off)",
                         (unsigned long long)s->size, (unsigned long long)total, q);
    }
    return QF_OK;
}

/* Parse and validate file fi (already added to m) and append its tensors. */
static int parse_file(struct qf_model *m, int fi, unsigned flags, struct st_set *set,
                      struct qf_error *err)
{
    const char *path = m->files[fi].info.path;
    const uint8_t *hdr = NULL;
    uint64_t n = 0;
    int rc = read_header(m, fi, &hdr, &n, err);
    if (rc)
        return rc;
    m->files[fi].info.header_size = 8 + n;
    m->files[fi].info.size = m->files[fi].src->size;
    size_t bad = utf8_bad_at(hdr, (size_t)n);
    if (bad < n)
        return qfi_error(err, QF_EFORMAT, 0, path, (int64_t)(8 + bad),
                         "header is not valid UTF-8 (byte 0x%02x)", hdr[bad]);
    json_error_t je;
    json_t *root = json_loadb((const char *)hdr, (size_t)n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
                              &je);
    if (!root)
        return qfi_error(err, QF_EFORMAT, 0, path, (int64_t)(8 + (je.position > 0 ? je.position : 0)),
                         "header is not valid JSON: %s", je.text);
    if (!json_is_object(root)) {
        rc = qfi_error(err, QF_EFORMAT, 0, path, 8, "header must be a JSON object, found %s",
                       json_kind(root));
        json_decref(root);
        return rc;
    }
    size_t cnt = json_object_size(root);
    if (cnt > QFI_MAX_TENSORS + 1) {
        json_decref(root);
        return qfi_error(err, QF_ELIMIT, 0, path, 8, "header lists %zu tensors, the cap is %llu",
                         cnt, (unsigned long long)QFI_MAX_TENSORS);
    }
    struct st_tinfo *ts = calloc(cnt ? cnt : 1, sizeof *ts);
    if (!ts) {
        json_decref(root);
        return qfi_error(err, QF_ENOMEM, ENOMEM, path, -1, "out of memory");
    }
    size_t nt = 0, n_extra = 0;
    const json_t *meta = NULL;
    for (void *it = json_object_iter(root); it && !rc; it = json_object_iter_next(root, it)) {
        const char *k = json_object_iter_key(it);
        size_t kl = json_object_iter_key_len(it);
        const json_t *v = json_object_iter_value(it);
        if (kl == 12 && memcmp(k, "__metadata__", 12) == 0) {
            meta = v;
            continue;
        }
        rc = parse_entry(path, k, kl, v, &ts[nt], &n_extra, err);
        ts[nt].order = nt;
        nt++;
    }
    if (!rc && nt > QFI_MAX_TENSORS)
        rc = qfi_error(err, QF_ELIMIT, 0, path, 8, "header lists %zu tensors, the cap is %llu", nt,
                       (unsigned long long)QFI_MAX_TENSORS);
    if (!rc && meta)
        rc = add_metadata(m, fi, meta, set, err);
    if (!rc) {
        qsort(ts, nt, sizeof *ts, cmp_tinfo);
        rc = check_layout(m, fi, n, ts, nt, flags, err);
    }
    for (size_t i = 0; i < nt && !rc; i++) {
        struct qf_tensor t;
        memset(&t, 0, sizeof t);
        t.name = qfi_model_strndup(m, ts[i].name, ts[i].name_len);
        if (!t.name) {
            rc = qfi_error(err, QF_ENOMEM, ENOMEM, path, -1, "out of memory");
            break;
        }
        t.name_len = ts[i].name_len;
        t.type = ts[i].type;
        t.n_dims = ts[i].n_dims;
        memcpy(t.shape, ts[i].shape, sizeof t.shape);
        t.nelem = ts[i].nelem;
        t.file_index = fi;
        t.data_offset = ts[i].begin;
        t.offset = 8 + n + ts[i].begin;
        t.nbytes = ts[i].nbytes;
        rc = qfi_model_add_tensor(m, &t, err);
    }
    if (!rc && n_extra)
        qfi_model_warn(m, "%s: %zu tensor entr%s carry fields other than dtype, shape and "
                          "data_offsets (ignored)",
                       path, n_extra, n_extra == 1 ? "y" : "ies");
    free(ts);
    json_decref(root);
    return rc;
}

/* Open path as a source, add it with role, parse it. Returns the file index or a code. */
static int add_st_file(struct qf_model *m, const char *path, const char *role, unsigned flags,
                       struct st_set *set, struct qf_error *err)
{
    struct qfi_source *src;
    int rc = qfi_source_open(path, &src, err);
    if (rc)
        return rc;
    int fi = qfi_model_add_file(m, src, role, err);
    if (fi < 0)
        return fi;
    rc = parse_file(m, fi, flags, set, err);
    return rc ? rc : fi;
}

/* ---------------------------------------------------------------------------------------
 * Side files: config.json and friends */
static const struct {
    const char *file, *prefix;
} side_files[] = {
    {"config.json", ""},
    {"quantize_config.json", "quantize_config"},
    {"quant_config.json", "quant_config"},
    {"generation_config.json", "generation_config"},
};

static int add_configs(struct qf_model *m, const char *dir, struct qf_error *err)
{
    for (size_t i = 0; i < sizeof side_files / sizeof side_files[0]; i++) {
        char *p = path_join(dir, side_files[i].file);
        if (!p)
            return qfi_error(err, QF_ENOMEM, ENOMEM, dir, -1, "out of memory");
        if (!is_regular(p)) {
            free(p);
            continue;
        }
        void *json = NULL;
        int rc = qfi_json_load_file(p, &json, err);
        struct qfi_source *src = NULL;
        if (!rc)
            rc = qfi_source_open(p, &src, err);
        free(p);
        if (rc) {
            if (json)
                json_decref(json);
            return rc;
        }
        int fi = qfi_model_add_file(m, src, "config", err);
        rc = fi < 0 ? fi
                    : qfi_model_add_json(m, json, side_files[i].prefix, side_files[i].file, fi, err);
        json_decref(json);
        if (rc)
            return rc;
    }
    return QF_OK;
}

static int finish_configs(struct qf_model *m, const char *weights_path, unsigned flags,
                          struct qf_error *err)
{
    if (flags & QF_OPEN_NO_CONFIG)
        return QF_OK;
    char *dir = path_dir(weights_path);
    if (!dir)
        return qfi_error(err, QF_ENOMEM, ENOMEM, weights_path, -1, "out of memory");
    int rc = add_configs(m, dir, err);
    free(dir);
    return rc;
}

/* ---------------------------------------------------------------------------------------
 * Sets of shards */

/* After all shards are in: names unique across the set. */
static int check_unique(struct qf_model *m, struct qf_error *err)
{
    size_t dup;
    int rc = qfi_model_index_tensors(m, &dup);
    if (rc == QF_OK)
        return QF_OK;
    if (rc != QF_EFORMAT)
        return qfi_error(err, rc, 0, NULL, -1, "out of memory");
    const struct qf_tensor *t = &m->tensors[dup];
    size_t first = 0;
    while (first < dup && !(m->tensors[first].name_len == t->name_len &&
                            memcmp(m->tensors[first].name, t->name, t->name_len) == 0))
        first++;
    char q[QBUF];
    qfi_quote(q, sizeof q, t->name, t->name_len);
    return qfi_error(err, QF_EFORMAT, 0, m->files[t->file_index].info.path, 8,
                     "tensor '%s' is also in '%s': a tensor may be in only one shard", q,
                     m->files[m->tensors[first].file_index].info.path);
}

struct shard_ent {
    const char *name; /* borrowed from the index JSON */
    unsigned long num;
    int numbered;
};

static int cmp_shard(const void *a, const void *b)
{
    const struct shard_ent *x = a, *y = b;
    if (x->numbered != y->numbered)
        return x->numbered ? -1 : 1;
    if (x->numbered && x->num != y->num)
        return x->num < y->num ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int plain_file_name(const char *s, size_t len)
{
    if (len == 0 || memchr(s, '\0', len) || memchr(s, '/', len) || memchr(s, '\\', len))
        return 0;
    return !(len == 1 && s[0] == '.') && !(len == 2 && s[0] == '.' && s[1] == '.');
}

static int open_index(struct qf_model *m, const char *index_path, unsigned flags,
                      struct qf_error *err)
{
    void *jv;
    int rc = qfi_json_load_file(index_path, &jv, err);
    if (rc)
        return rc;
    json_t *root = jv;
    json_t *wm = json_object_get(root, "weight_map");
    json_t *meta = json_object_get(root, "metadata");
    struct shard_ent *sh = NULL;
    size_t nsh = 0;
    char *dir = NULL;
    struct st_set set = {0};
    char q[QBUF], q2[QBUF];
    if (!wm || !json_is_object(wm)) {
        rc = qfi_error(err, QF_EFORMAT, 0, index_path, -1,
                       "index needs a \"weight_map\" object (tensor name -> shard file), found %s",
                       wm ? json_kind(wm) : "none");
        goto out;
    }
    if (meta && !json_is_object(meta) && !json_is_null(meta)) {
        rc = qfi_error(err, QF_EFORMAT, 0, index_path, -1,
                       "index \"metadata\" must be an object, found %s", json_kind(meta));
        goto out;
    }
    size_t nw = json_object_size(wm);
    if (nw > QFI_MAX_TENSORS) {
        rc = qfi_error(err, QF_ELIMIT, 0, index_path, -1,
                       "weight_map lists %zu tensors, the cap is %llu", nw,
                       (unsigned long long)QFI_MAX_TENSORS);
        goto out;
    }
    if (nw == 0) {
        rc = qfi_error(err, QF_EFORMAT, 0, index_path, -1, "weight_map is empty: no shards listed");
        goto out;
    }
    /* the distinct shard names, in shard-number order */
    json_t *seen = json_object();
    sh = calloc(nw, sizeof *sh);
    if (!seen || !sh) {
        json_decref(seen);
        rc = qfi_error(err, QF_ENOMEM, ENOMEM, index_path, -1, "out of memory");
        goto out;
    }
    for (void *it = json_object_iter(wm); it; it = json_object_iter_next(wm, it)) {
        const char *k = json_object_iter_key(it);
        size_t kl = json_object_iter_key_len(it);
        json_t *v = json_object_iter_value(it);
        if (!json_is_string(v)) {
            rc = qfi_error(err, QF_EFORMAT, 0, index_path, -1,
                           "weight_map entry '%s' must name a shard file, found %s",
                           qfi_quote(q, sizeof q, k, kl), json_kind(v));
            break;
        }
        const char *f = json_string_value(v);
        size_t fl = json_string_length(v);
        if (!plain_file_name(f, fl)) {
            rc = qfi_error(err, QF_EFORMAT, 0, index_path, -1,
                           "weight_map entry '%s' points to '%s': shards must be plain file names "
                           "in the index's directory",
                           qfi_quote(q, sizeof q, k, kl), qfi_quote(q2, sizeof q2, f, fl));
            break;
        }
        if (!ends_with(f, ".safetensors")) {
            rc = qfi_error(err, QF_EUNSUPPORTED, 0, index_path, -1,
                           "weight_map entry '%s' points to '%s', which is not a .safetensors file",
                           qfi_quote(q, sizeof q, k, kl), qfi_quote(q2, sizeof q2, f, fl));
            break;
        }
        if (json_object_get(seen, f))
            continue;
        if (json_object_set_new(seen, f, json_true())) {
            rc = qfi_error(err, QF_ENOMEM, ENOMEM, index_path, -1, "out of memory");
            break;
        }
        struct shard_name sn;
        sh[nsh].name = f;
        sh[nsh].numbered = parse_shard_name(f, &sn);
        sh[nsh].num = sh[nsh].numbered ? sn.i : 0;
        nsh++;
    }
    json_decref(seen);
    if (rc)
        goto out;
    if (nsh > QFI_MAX_FILES) {
        rc = qfi_error(err, QF_ELIMIT, 0, index_path, -1, "index lists %zu shards, the cap is %d",
                       nsh, QFI_MAX_FILES);
        goto out;
    }
    qsort(sh, nsh, sizeof *sh, cmp_shard);
    dir = path_dir(index_path);
    if (!dir) {
        rc = qfi_error(err, QF_ENOMEM, ENOMEM, index_path, -1, "out of memory");
        goto out;
    }
    /* every shard must be there before any is read */
    size_t missing = 0, first_missing = 0;
    for (size_t i = 0; i < nsh; i++) {
        char *p = path_join(dir, sh[i].name);
        if (!p) {
            rc = qfi_error(err, QF_ENOMEM, ENOMEM, index_path, -1, "out of memory");
            goto out;
        }
        if (!is_regular(p)) {
            if (!missing)
                first_missing = i;
            missing++;
        }
        free(p);
    }
    if (missing) {
        rc = qfi_error(err, QF_ENOTFOUND, ENOENT, index_path, -1,
                       "shard '%s' listed in weight_map is missing (%zu of %zu shards missing)",
                       qfi_quote(q, sizeof q, sh[first_missing].name, strlen(sh[first_missing].name)),
                       missing, nsh);
        goto out;
    }
    set.meta_seen = json_object();
    if (!set.meta_seen) {
        rc = qfi_error(err, QF_ENOMEM, ENOMEM, index_path, -1, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < nsh && !rc; i++) {
        char *p = path_join(dir, sh[i].name);
        if (!p) {
            rc = qfi_error(err, QF_ENOMEM, ENOMEM, index_path, -1, "out of memory");
            break;
        }
        int fi = add_st_file(m, p, "shard", flags, &set, err);
        free(p);
        if (fi < 0)
            rc = fi;
    }
    if (rc)
        goto out;
    /* the index itself is a file of the set */
    struct qfi_source *src;
    rc = qfi_source_open(index_path, &src, err);
    if (rc)
        goto out;
    int ifi = qfi_model_add_file(m, src, "index", err);
    if (ifi < 0) {
        rc = ifi;
        goto out;
    }
    if (meta && json_is_object(meta) &&
        (rc = qfi_model_add_json(m, meta, "", "index.json", ifi, err)))
        goto out;
    if ((rc = check_unique(m, err)))
        goto out;
    /* shards and weight_map agree, both ways */
    uint64_t sum = 0;
    for (size_t i = 0; i < m->n_tensors; i++) {
        const struct qf_tensor *t = &m->tensors[i];
        const char *spath = m->files[t->file_index].info.path;
        const char *sbase = path_base(spath);
        const json_t *v = json_object_getn(wm, t->name, t->name_len);
        qfi_quote(q, sizeof q, t->name, t->name_len);
        if (!v) {
            rc = qfi_error(err, QF_EFORMAT, 0, spath, 8,
                           "tensor '%s' is in this shard but not in the index weight_map", q);
            goto out;
        }
        if (strcmp(json_string_value(v), sbase) != 0) {
            rc = qfi_error(err, QF_EFORMAT, 0, spath, 8,
                           "tensor '%s' is in this shard but weight_map puts it in '%s'", q,
                           qfi_quote(q2, sizeof q2, json_string_value(v),
                                     json_string_length(v)));
            goto out;
        }
        sum += t->nbytes; /* each file's data fits in the file: no overflow across 100000 */
    }
    if (m->n_tensors != nw) {
        for (void *it = json_object_iter(wm); it; it = json_object_iter_next(wm, it)) {
            const char *k = json_object_iter_key(it);
            size_t kl = json_object_iter_key_len(it);
            if (kl == strlen(k) && qf_model_find_tensor(m, k))
                continue;
            json_t *v = json_object_iter_value(it);
            rc = qfi_error(err, QF_EFORMAT, 0, index_path, -1,
                           "tensor '%s' listed in weight_map is not in its shard '%s'",
                           qfi_quote(q, sizeof q, k, kl),
                           qfi_quote(q2, sizeof q2, json_string_value(v), json_string_length(v)));
            goto out;
        }
    }
    const json_t *ts = meta && json_is_object(meta) ? json_object_get(meta, "total_size") : NULL;
    if (ts) {
        if (!json_is_integer(ts))
            qfi_model_warn(m, "%s: metadata.total_size is %s, expected an integer", index_path,
                           json_kind(ts));
        else if ((uint64_t)json_integer_value(ts) != sum || json_integer_value(ts) < 0)
            qfi_model_warn(m, "%s: metadata.total_size is %lld but the shards hold %llu bytes of "
                              "tensor data",
                           index_path, (long long)json_integer_value(ts), (unsigned long long)sum);
    }
    rc = finish_configs(m, index_path, flags, err);
out:
    json_decref(set.meta_seen);
    free(sh);
    free(dir);
    json_decref(root);
    return rc;
}

/* Shards found by name ("<prefix>-00001-of-00003.safetensors") when there is no index. */
static int open_siblings(struct qf_model *m, const char *path, const struct shard_name *sn,
                         unsigned flags, struct qf_error *err)
{
    char *dir = path_dir(path);
    const char *base = path_base(path);
    size_t blen = strlen(base);
    size_t plen = strlen(dir);
    /* a name of the same shape, digits rewritten */
    size_t cap = plen + blen + 32;
    char *p = malloc(cap);
    struct st_set set = {0};
    set.meta_seen = json_object();
    int rc = QF_OK;
    if (!dir || !p || !set.meta_seen) {
        rc = qfi_error(err, QF_ENOMEM, ENOMEM, path, -1, "out of memory");
        goto out;
    }
    const char *nstr = base + sn->prefix_len + 1 + (size_t)sn->iw + 4;
    size_t missing = 0;
    unsigned long first_missing = 0;
    for (int pass = 0; pass < 2 && !rc; pass++) {
        for (unsigned long i = 1; i <= sn->n && !rc; i++) {
            snprintf(p, cap, "%s/%.*s-%0*lu-of-%.*s.safetensors", dir, (int)sn->prefix_len, base,
                     sn->iw, i, sn->nw, nstr);
            if (pass == 0) {
                if (!is_regular(p) && !missing++)
                    first_missing = i;
            } else {
                int fi = add_st_file(m, p, "shard", flags, &set, err);
                if (fi < 0)
                    rc = fi;
            }
        }
        if (pass == 0 && missing) {
            snprintf(p, cap, "%.*s-%0*lu-of-%.*s.safetensors", (int)sn->prefix_len, base, sn->iw,
                     first_missing, sn->nw, nstr);
            rc = qfi_error(err, QF_ENOTFOUND, ENOENT, path, -1,
                           "no index file and shard '%s' of the set is missing (%zu of %lu "
                           "shards missing)",
                           p, missing, sn->n);
        }
    }
    if (!rc)
        rc = check_unique(m, err);
    if (!rc && sn->n > 1)
        qfi_model_warn(m, "%s: no %.*s.safetensors.index.json: shards found by name, the tensor "
                          "list is not cross-checked",
                       path, (int)sn->prefix_len, base);
    if (!rc)
        rc = finish_configs(m, path, flags, err);
out:
    json_decref(set.meta_seen);
    free(p);
    free(dir);
    return rc;
}

static int open_single(struct qf_model *m, const char *path, unsigned flags, struct qf_error *err)
{
    int fi = add_st_file(m, path, "safetensors", flags, NULL, err);
    if (fi < 0)
        return fi;
    if (!m->files[fi].src->seekable)
        return QF_OK; /* a pipe has no directory of side files */
    return finish_configs(m, path, flags, err);
}

/* A shard named by the user: its index if there is one, else its siblings by name. */
static int open_file(struct qf_model *m, const char *path, unsigned flags, struct qf_error *err)
{
    struct shard_name sn;
    const char *base = path_base(path);
    if ((flags & QF_OPEN_NO_SET) || !parse_shard_name(base, &sn) || !is_regular(path))
        return open_single(m, path, flags, err);
    char *dir = path_dir(path);
    char *idx = NULL;
    if (dir) {
        size_t n = strlen(dir) + sn.prefix_len + 40;
        idx = malloc(n);
        if (idx)
            snprintf(idx, n, "%s/%.*s.safetensors.index.json", dir, (int)sn.prefix_len, base);
    }
    free(dir);
    if (!idx)
        return qfi_error(err, QF_ENOMEM, ENOMEM, path, -1, "out of memory");
    int rc;
    if (is_regular(idx))
        rc = open_index(m, idx, flags, err);
    else
        rc = open_siblings(m, path, &sn, flags, err);
    free(idx);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A directory: its index, its one (or model.) safetensors file, or its shard set. */
static int open_dir(struct qf_model *m, const char *dir, unsigned flags, struct qf_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return qfi_error(err, QF_EIO, errno, dir, -1, "cannot read directory: %s", strerror(errno));
    char **idx = NULL, **st = NULL;
    size_t nidx = 0, nst = 0, cidx = 0, cst = 0;
    int config = 0, rc = QF_OK;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        char ***arr = NULL;
        size_t *cnt = NULL, *cap = NULL;
        if (strcmp(n, "config.json") == 0)
            config = 1;
        if (n[0] == '.')
            continue; /* hidden files, our own temporary outputs */
        if (ends_with(n, ".safetensors.index.json"))
            arr = &idx, cnt = &nidx, cap = &cidx;
        else if (ends_with(n, ".safetensors"))
            arr = &st, cnt = &nst, cap = &cst;
        if (!arr)
            continue;
        if (*cnt >= QFI_MAX_FILES) {
            rc = qfi_error(err, QF_ELIMIT, 0, dir, -1, "more than %d safetensors files",
                           QFI_MAX_FILES);
            break;
        }
        if (*cnt == *cap) {
            size_t nc = *cap ? *cap * 2 : 16;
            char **q = realloc(*arr, nc * sizeof *q);
            if (!q) {
                rc = qfi_error(err, QF_ENOMEM, ENOMEM, dir, -1, "out of memory");
                break;
            }
            *arr = q;
            *cap = nc;
        }
        if (!((*arr)[*cnt] = strdup(n))) {
            rc = qfi_error(err, QF_ENOMEM, ENOMEM, dir, -1, "out of memory");
            break;
        }
        (*cnt)++;
    }
    closedir(d);
    if (rc)
        goto out;
    if (nidx)
        qsort(idx, nidx, sizeof *idx, cmp_str);
    if (nst)
        qsort(st, nst, sizeof *st, cmp_str);
    const char *pick = NULL;
    int pick_index = 0;
    if (nidx) {
        pick_index = 1;
        for (size_t i = 0; i < nidx; i++)
            if (strcmp(idx[i], "model.safetensors.index.json") == 0)
                pick = idx[i];
        if (!pick && nidx == 1)
            pick = idx[0];
        if (!pick) {
            rc = qfi_error(err, QF_EINVAL, 0, dir, -1,
                           "directory has %zu safetensors indexes ('%s', '%s'...): name one", nidx,
                           idx[0], idx[1]);
            goto out;
        }
    } else if (nst) {
        for (size_t i = 0; i < nst; i++)
            if (strcmp(st[i], "model.safetensors") == 0)
                pick = st[i];
        if (!pick) {
            /* all shards of one set, or a single file */
            struct shard_name a, b;
            int same = parse_shard_name(st[0], &a);
            for (size_t i = 1; i < nst && same; i++)
                same = parse_shard_name(st[i], &b) && b.prefix_len == a.prefix_len &&
                       memcmp(st[i], st[0], a.prefix_len) == 0 && b.n == a.n;
            if (nst == 1 || same)
                pick = st[0];
        }
        if (!pick) {
            rc = qfi_error(err, QF_EINVAL, 0, dir, -1,
                           "directory has %zu unrelated .safetensors files ('%s', '%s'...) and no "
                           "index: name one",
                           nst, st[0], st[1]);
            goto out;
        }
    } else {
        rc = qfi_error(err, QF_ENOTFOUND, 0, dir, -1,
                       config ? "directory has config.json but no weights (no *.safetensors file "
                                "or *.safetensors.index.json)"
                              : "directory holds no *.safetensors file or "
                                "*.safetensors.index.json");
        goto out;
    }
    char *p = path_join(dir, pick);
    if (!p) {
        rc = qfi_error(err, QF_ENOMEM, ENOMEM, dir, -1, "out of memory");
        goto out;
    }
    rc = pick_index ? open_index(m, p, flags, err) : open_file(m, p, flags & ~QF_OPEN_NO_SET, err);
    free(p);
out:
    for (size_t i = 0; i < nidx; i++)
        free(idx[i]);
    for (size_t i = 0; i < nst; i++)
        free(st[i]);
    free(idx);
    free(st);
    return rc;
}

static int st_open(struct qf_model *m, const char *path, unsigned flags, struct qf_error *err)
{
    m->format = ST_NAME;
    m->version = 0;
    m->alignment = 0;
    if (strcmp(path, "-") == 0)
        return open_single(m, path, flags | QF_OPEN_NO_CONFIG, err);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return open_dir(m, path, flags, err);
    if (ends_with(path, ".index.json"))
        return open_index(m, path, flags, err);
    return open_file(m, path, flags, err);
}

/* ---------------------------------------------------------------------------------------
 * Writer: the reference's layout (dtype rank descending, then name), compact JSON as
 * serde_json writes it, padded with spaces to a multiple of 8. */
struct sbuf {
    char *p;
    size_t len, cap;
    int fail; /* 1 out of memory, 2 over the cap */
};

static void sb_put(struct sbuf *b, const void *d, size_t n)
{
    if (b->fail)
        return;
    if (n > QFI_MAX_ST_HEADER + 8 || b->len + n > QFI_MAX_ST_HEADER + 8) {
        b->fail = 2;
        return;
    }
    if (b->len + n > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->len + n)
            nc *= 2;
        char *q = realloc(b->p, nc);
        if (!q) {
            b->fail = 1;
            return;
        }
        b->p = q;
        b->cap = nc;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void sb_str(struct sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_u64(struct sbuf *b, uint64_t v)
{
    char t[24];
    int n = snprintf(t, sizeof t, "%llu", (unsigned long long)v);
    sb_put(b, t, (size_t)n);
}

/* A JSON string as serde_json escapes it: \" \\ \b \f \n \r \t, other controls \u00xx, and
 * everything else (DEL, non-ASCII UTF-8) raw. */
static void sb_jstr(struct sbuf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    sb_put(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *e = NULL;
        char u[7];
        if (c == '"')
            e = "\\\"";
        else if (c == '\\')
            e = "\\\\";
        else if (c == '\b')
            e = "\\b";
        else if (c == '\f')
            e = "\\f";
        else if (c == '\n')
            e = "\\n";
        else if (c == '\r')
            e = "\\r";
        else if (c == '\t')
            e = "\\t";
        else if (c < 0x20) {
            memcpy(u, "\\u00", 4);
            u[4] = hex[c >> 4];
            u[5] = hex[c & 15];
            u[6] = '\0';
            e = u;
        }
        if (!e)
            continue;
        sb_put(b, s + run, i - run);
        sb_str(b, e);
        run = i + 1;
    }
    sb_put(b, s + run, len - run);
    sb_put(b, "\"", 1);
}

struct wsort {
    int rank;
    const char *name;
    size_t index;
};

static int cmp_write_order(const void *a, const void *b)
{
    const struct wsort *x = a, *y = b;
    if (x->rank != y->rank)
        return x->rank > y->rank ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int cmp_wsort_name(const void *a, const void *b)
{
    return strcmp(((const struct wsort *)a)->name, ((const struct wsort *)b)->name);
}

static int st_write_plan(struct qf_writer *w, struct qf_error *err)
{
    const char *path = w->path;
    for (size_t i = 0; i < w->n_kv; i++) {
        const struct qfi_wkv *kv = &w->kv[i];
        if (kv->val.type != QF_V_STRING)
            return qfi_error(err, QF_EUNSUPPORTED, 0, path, -1,
                             "metadata '%s' is %s: safetensors __metadata__ holds strings only",
                             kv->key, qf_vtype_name(kv->val.type));
        if (!qfi_utf8_valid(kv->key, strlen(kv->key)) ||
            !qfi_utf8_valid(kv->val.v.s.ptr, (size_t)kv->val.v.s.len))
            return qfi_error(err, QF_EINVAL, 0, path, -1,
                             "metadata '%s': keys and values must be valid UTF-8", kv->key);
    }
    for (size_t i = 0; i < w->n_t; i++) {
        const struct qfi_wtensor *t = &w->t[i];
        if (dtype_rank(t->type) < 0)
            return qfi_error(err, QF_EUNSUPPORTED, 0, path, -1,
                             "tensor '%s': type %s has no safetensors dtype", t->name,
                             qf_type_name(t->type));
        if (!qfi_utf8_valid(t->name, strlen(t->name)))
            return qfi_error(err, QF_EINVAL, 0, path, -1,
                             "tensor name '%s' is not valid UTF-8", t->name);
        uint64_t nbits;
        if (!qfi_mul_ok(t->nelem, st_dtypes[dtype_rank(t->type)].bits, &nbits) || nbits % 8 ||
            nbits / 8 != t->nbytes)
            return qfi_error(err, QF_EINVAL, 0, path, -1,
                             "tensor '%s': %llu %s elements are not a whole number of bytes",
                             t->name, (unsigned long long)t->nelem, qf_type_name(t->type));
    }
    /* the reference order (dtype rank descending, then name) or the declaration order; names
     * must be unique either way */
    struct wsort *ws = calloc(w->n_t ? w->n_t : 1, sizeof *ws);
    if (!ws)
        return qfi_error(err, QF_ENOMEM, ENOMEM, path, -1, "out of memory");
    for (size_t i = 0; i < w->n_t; i++) {
        ws[i].rank = dtype_rank(w->t[i].type);
        ws[i].name = w->t[i].name;
        ws[i].index = i;
    }
    qsort(ws, w->n_t, sizeof *ws, cmp_wsort_name);
    for (size_t k = 1; k < w->n_t; k++)
        if (strcmp(ws[k].name, ws[k - 1].name) == 0) {
            int rc = qfi_error(err, QF_EINVAL, 0, path, -1, "duplicate tensor name '%s'",
                               ws[k].name);
            free(ws);
            return rc;
        }
    if (w->opts.keep_order) {
        for (size_t i = 0; i < w->n_t; i++)
            ws[i].index = i;
    } else {
        qsort(ws, w->n_t, sizeof *ws, cmp_write_order);
    }
    size_t *order = w->order;
    if (!order && !(order = w->order = calloc(w->n_t ? w->n_t : 1, sizeof *order))) {
        free(ws);
        return qfi_error(err, QF_ENOMEM, ENOMEM, path, -1, "out of memory");
    }
    for (size_t k = 0; k < w->n_t; k++)
        order[k] = ws[k].index;
    free(ws);
    struct sbuf b = {0};
    sb_put(&b, "\0\0\0\0\0\0\0\0", 8); /* N, filled in below */
    sb_put(&b, "{", 1);
    if (w->n_kv) {
        sb_str(&b, "\"__metadata__\":{");
        for (size_t i = 0; i < w->n_kv; i++) {
            if (i)
                sb_put(&b, ",", 1);
            sb_jstr(&b, w->kv[i].key, strlen(w->kv[i].key));
            sb_put(&b, ":", 1);
            sb_jstr(&b, w->kv[i].val.v.s.ptr, (size_t)w->kv[i].val.v.s.len);
        }
        sb_put(&b, "}", 1);
        if (w->n_t)
            sb_put(&b, ",", 1);
    }
    uint64_t off = 0;
    for (size_t k = 0; k < w->n_t && !b.fail; k++) {
        const struct qfi_wtensor *t = &w->t[order[k]];
        if (k)
            sb_put(&b, ",", 1);
        sb_jstr(&b, t->name, strlen(t->name));
        sb_str(&b, ":{\"dtype\":\"");
        sb_str(&b, st_dtypes[dtype_rank(t->type)].name);
        sb_str(&b, "\",\"shape\":[");
        for (int d = 0; d < t->n_dims; d++) {
            if (d)
                sb_put(&b, ",", 1);
            sb_u64(&b, t->shape[d]);
        }
        sb_str(&b, "],\"data_offsets\":[");
        sb_u64(&b, off);
        sb_put(&b, ",", 1);
        uint64_t end;
        if (!qfi_add_ok(off, t->nbytes, &end)) {
            free(b.p);
            return qfi_error(err, QF_ELIMIT, 0, path, -1, "total tensor data overflows 64 bits");
        }
        sb_u64(&b, end);
        sb_str(&b, "]}");
        off = end;
    }
    sb_put(&b, "}", 1);
    while (!b.fail && (b.len - 8) % 8)
        sb_put(&b, " ", 1);
    if (b.fail) {
        free(b.p);
        return b.fail == 1 ? qfi_error(err, QF_ENOMEM, ENOMEM, path, -1, "out of memory")
                           : qfi_error(err, QF_ELIMIT, 0, path, -1,
                                       "header would exceed the %llu-byte maximum",
                                       (unsigned long long)QFI_MAX_ST_HEADER);
    }
    uint64_t n = b.len - 8;
    if (n > QFI_MAX_ST_HEADER) {
        free(b.p);
        return qfi_error(err, QF_ELIMIT, 0, path, -1,
                         "header of %llu bytes exceeds the %llu-byte maximum",
                         (unsigned long long)n, (unsigned long long)QFI_MAX_ST_HEADER);
    }
    qfi_store_le64(b.p, n);
    uint64_t pos = 8 + n, total;
    for (size_t k = 0; k < w->n_t; k++) {
        struct qfi_wtensor *t = &w->t[order[k]];
        t->offset = pos;
        pos += t->nbytes; /* cannot overflow: checked above against 64 bits, plus < 2^27 */
    }
    if (!qfi_add_ok(8 + n, off, &total)) {
        free(b.p);
        return qfi_error(err, QF_ELIMIT, 0, path, -1, "file size overflows 64 bits");
    }
    free(w->header);
    w->header = (uint8_t *)b.p;
    w->header_len = b.len;
    w->file_size = total;
    return QF_OK;
}

const struct qfi_format qfi_format_safetensors = {
    .abi = 1,
    .name = ST_NAME,
    .probe = st_probe,
    .open = st_open,
    .write_plan = st_write_plan,
};
