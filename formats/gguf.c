/* gguf.c - the GGUF container: probe, open (single files and gguf-split sets), write plan.
 *
 * On-disk layout (spec/gguf.md; versions 1-3, little- or big-endian):
 *
 *   "GGUF" | u32 version | n_tensors | n_kv          counts u64 (v1: u32)
 *   n_kv x   { string key | u32 value_type | value }
 *   n_tensors x { string name | u32 n_dims | n_dims x dim | u32 ggml_type | u64 offset }
 *   zero padding to ALIGNMENT                        (only when n_tensors > 0)
 *   data: tensor i at data_start + offset_i, each padded to ALIGNMENT
 *
 * A string is a length (u64; v1: u32) and that many bytes without NUL. An array value is
 * u32 element_type, count (u64; v1: u32), then the elements back to back. ALIGNMENT is the u32
 * value of general.alignment, else 32. A big-endian file keeps the magic bytes "GGUF" and
 * stores every number after it byte-swapped; it is recognised by (version & 0xffff) == 0.
 *
 * The header parser is one function over a byte buffer (gg_parse). It runs twice per file: a
 * dry run that validates everything and learns the split keys (and, for a pipe, pulls exactly
 * the header bytes into a growing buffer, never a byte of tensor data), then a run that adds
 * the records to the model, borrowing keys, strings and arrays from the mapped file or the
 * header buffer. Validation follows spec/gguf.md section 8 and is at least as strict as
 * llama.cpp's reader, including its rule that tensor data is stored back to back in
 * tensor-info order, each tensor padded to ALIGNMENT.
 */
#include "qf_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#define GG_MAGIC "GGUF"
#define GG_DEFAULT_ALIGN 32u
#define GG_NAME_MAX 64     /* names must be shorter: ggml's GGML_MAX_NAME counts the NUL */
#define GG_MAX_DIMS 4
#define GG_VTYPE_COUNT 13  /* value type ids 0..12 may appear in a file */
#define GG_HDR_CHUNK 65536 /* first allocation of a pipe's header buffer */

/* ---------------------------------------------------------------------------------------
 * Cursor over the header bytes
 */
struct gg_cur {
    const uint8_t *buf;     /* header bytes (the map, or the pipe buffer) */
    uint64_t len;           /* bytes in buf */
    int whole;              /* buf is the whole file: len is the file size */
    uint64_t pos;
    int be;                 /* numbers are big-endian */
    unsigned lw;            /* width of string lengths and counts: 8, or 4 in v1 */
    unsigned enc;           /* QFI_ENC_* of arrays */
    /* pipes: bytes are pulled into own on demand; never past safe_end unless needed */
    struct qfi_source *src;
    uint8_t *own;
    uint64_t cap;
    uint64_t safe_end;      /* a lower bound of the end of the tensor infos */
    uint64_t rest_min;      /* a lower bound of the bytes after the current KV record */
    const char *path;
    struct qf_error *err;
};

QF_PRINTF(4, 5)
static int gg_fail(struct gg_cur *c, int code, uint64_t off, const char *fmt, ...)
{
    char msg[QF_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return qfi_error(c->err, code, 0, c->path, (int64_t)off, "%s", msg);
}

/* Pull bytes from a pipe until the buffer holds target bytes. Reads ahead up to safe_end at
 * most, which never passes the end of the tensor infos of a valid file. */
static int gg_fill(struct gg_cur *c, uint64_t target, const char *what)
{
    if (target > QFI_MAX_HEADER_BYTES)
        return gg_fail(c, QF_ELIMIT, c->pos,
                       "%s needs a header of more than %llu bytes (limit %llu)", what,
                       (unsigned long long)target - 1, (unsigned long long)QFI_MAX_HEADER_BYTES);
    uint64_t want = target;
    if (c->safe_end > want)
        want = c->safe_end < QFI_MAX_HEADER_BYTES ? c->safe_end : QFI_MAX_HEADER_BYTES;
    while (c->len < target) {
        if (c->len == c->cap) {
            /* grow geometrically, and only when the bytes received fill the buffer (at most
             * twice what arrived is allocated). Not capped at want: the header is pulled a
             * few bytes at a time (want grows by each string), and growing to just want made
             * every string a realloc of the whole buffer, quadratic in the header size. The
             * reads below still stop at want. */
            uint64_t nc = c->cap ? c->cap * 2 : GG_HDR_CHUNK;
            if (nc > QFI_MAX_HEADER_BYTES)
                nc = QFI_MAX_HEADER_BYTES;
            uint8_t *p = realloc(c->own, (size_t)nc);
            if (!p)
                return qfi_error(c->err, QF_ENOMEM, ENOMEM, c->path, -1, "out of memory");
            c->own = p;
            c->buf = p;
            c->cap = nc;
        }
        uint64_t lim = want < c->cap ? want : c->cap;
        int64_t r = qfi_source_read_some(c->src, c->own + c->len, (size_t)(lim - c->len), c->err);
        if (r < 0)
            return (int)r;
        if (r == 0)
            return gg_fail(c, QF_EFORMAT, c->pos,
                           "unexpected end of input: %s needs %llu bytes, only %llu left", what,
                           (unsigned long long)(target - c->pos),
                           (unsigned long long)(c->len - c->pos));
        c->len += (uint64_t)r;
    }
    return QF_OK;
}

/* Make n bytes at pos available. */
static int gg_need(struct gg_cur *c, uint64_t n, const char *what)
{
    uint64_t end;
    if (qfi_add_ok(c->pos, n, &end) && end <= c->len)
        return QF_OK;
    if (c->src && qfi_add_ok(c->pos, n, &end))
        return gg_fill(c, end, what);
    return gg_fail(c, QF_EFORMAT, c->pos,
                   "unexpected end of %s: %s needs %llu bytes, only %llu left",
                   c->whole ? "file" : "header", what, (unsigned long long)n,
                   (unsigned long long)(c->len - c->pos));
}

static uint64_t gg_ld(const struct gg_cur *c, const uint8_t *p, unsigned n)
{
    switch (n) {
    case 1: return p[0];
    case 2: return c->be ? qfi_load_be16(p) : qfi_load_le16(p);
    case 4: return c->be ? qfi_load_be32(p) : qfi_load_le32(p);
    default: return c->be ? qfi_load_be64(p) : qfi_load_le64(p);
    }
}

static int gg_u32(struct gg_cur *c, uint32_t *v, const char *what)
{
    int rc = gg_need(c, 4, what);
    if (rc)
        return rc;
    *v = (uint32_t)gg_ld(c, c->buf + c->pos, 4);
    c->pos += 4;
    return QF_OK;
}

/* A length or count: u64, or u32 in GGUF v1. */
static int gg_len(struct gg_cur *c, uint64_t *v, const char *what)
{
    int rc = gg_need(c, c->lw, what);
    if (rc)
        return rc;
    *v = gg_ld(c, c->buf + c->pos, c->lw);
    c->pos += c->lw;
    return QF_OK;
}

static uint64_t gg_left(const struct gg_cur *c)
{
    return c->len - c->pos;
}

/* A string: sets *off (offset of its bytes in buf) and *len. */
static int gg_str(struct gg_cur *c, uint64_t *off, uint64_t *len, const char *what)
{
    uint64_t at = c->pos, n;
    int rc = gg_len(c, &n, what);
    if (rc)
        return rc;
    if (c->whole && n > gg_left(c))
        return gg_fail(c, QF_EFORMAT, at, "%s has length %llu, but only %llu bytes are left",
                       what, (unsigned long long)n, (unsigned long long)gg_left(c));
    if (n > QFI_MAX_STRING)
        return gg_fail(c, QF_ELIMIT, at, "%s has length %llu, more than the limit of %llu", what,
                       (unsigned long long)n, (unsigned long long)QFI_MAX_STRING);
    if ((rc = gg_need(c, n, what)))
        return rc;
    *off = c->pos;
    *len = n;
    c->pos += n;
    return QF_OK;
}

static void gg_quote(char *q, size_t n, const struct gg_cur *c, uint64_t off, uint64_t len)
{
    qfi_quote(q, n, c->buf + off, len > 256 ? 256 : (size_t)len);
}

/* ---------------------------------------------------------------------------------------
 * A set of byte strings of the buffer (keys, tensor names), for duplicate detection. Stores
 * offsets, not pointers: a pipe's buffer moves while it grows.
 */
struct gg_slot {
    uint64_t off, len, hash, rec;
};

struct gg_set {
    struct gg_slot *s;
    size_t cap, n;
};

static uint64_t gg_hash(const uint8_t *p, uint64_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (uint64_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* Insert; returns 0 if new, 1 if already present (*first_rec = its record), or QF_ENOMEM. */
static int gg_set_add(struct gg_set *st, const uint8_t *buf, uint64_t off, uint64_t len,
                      uint64_t rec, uint64_t *first_rec)
{
    if (st->n * 2 >= st->cap) {
        size_t nc = st->cap ? st->cap * 2 : 64;
        struct gg_slot *ns = calloc(nc, sizeof *ns);
        if (!ns)
            return QF_ENOMEM;
        for (size_t i = 0; i < st->cap; i++) {
            if (!st->s[i].len)
                continue;
            size_t h = (size_t)st->s[i].hash & (nc - 1);
            while (ns[h].len)
                h = (h + 1) & (nc - 1);
            ns[h] = st->s[i];
        }
        free(st->s);
        st->s = ns;
        st->cap = nc;
    }
    /* empty strings are rejected before they get here: len 0 marks a free slot */
    uint64_t hv = gg_hash(buf + off, len);
    size_t h = (size_t)hv & (st->cap - 1);
    while (st->s[h].len) {
        const struct gg_slot *o = &st->s[h];
        if (o->hash == hv && o->len == len && memcmp(buf + o->off, buf + off, (size_t)len) == 0) {
            *first_rec = o->rec;
            return 1;
        }
        h = (h + 1) & (st->cap - 1);
    }
    st->s[h] = (struct gg_slot){off, len, hv, rec};
    st->n++;
    return 0;
}

/* ---------------------------------------------------------------------------------------
 * Parsed header summary
 */
struct gg_split_key {
    int present;
    int type;
    int64_t value;
    uint64_t rec;
};

struct gg_hdr {
    uint32_t version;
    int be;
    uint64_t n_tensors, n_kv;
    uint32_t alignment;
    uint64_t tinfo_end;
    uint64_t data_start;
    uint64_t data_size;        /* sum of align_up(nbytes) */
    uint64_t n_other_kv;       /* records other than split.* */
    struct gg_split_key split_no, split_count, split_tensors;
};

static int key_is(const struct gg_cur *c, uint64_t off, uint64_t len, const char *k)
{
    size_t n = strlen(k);
    return len == n && memcmp(c->buf + off, k, n) == 0;
}

static int is_pow2(uint64_t v)
{
    return v && !(v & (v - 1));
}

static uint64_t align_up(uint64_t x, uint64_t a, int *ovf)
{
    uint64_t r = x % a ? a - x % a : 0, out;
    if (!qfi_add_ok(x, r, &out)) {
        *ovf = 1;
        return 0;
    }
    return out;
}

/* Smallest encoded size of one value of type t (strings and arrays: their length fields). */
static uint64_t gg_min_size(const struct gg_cur *c, int t)
{
    if (t == QF_V_STRING)
        return c->lw;
    if (t == QF_V_ARRAY)
        return 4 + c->lw;
    return qfi_vtype_size(t);
}

struct gg_valctx {
    const char *key;       /* quoted key, for messages */
    int nested;            /* set when an array of arrays was seen */
};

/* Parse one value of type t at the cursor into *out (strings and arrays borrow buf). */
static int gg_value(struct gg_cur *c, int t, int depth, struct gg_valctx *vc,
                    struct qf_value *out)
{
    int rc;
    uint64_t at = c->pos;
    memset(out, 0, sizeof *out);
    out->type = t;
    size_t sz = qfi_vtype_size(t);
    if (sz) {
        if ((rc = gg_need(c, sz, "metadata value")))
            return rc;
        struct qf_value tmp;
        qfi_value_decode(t, c->buf + c->pos, sz, c->be ? QFI_ENC_BE : 0, 0, &tmp);
        *out = tmp;
        c->pos += sz;
        return QF_OK;
    }
    if (t == QF_V_STRING) {
        uint64_t off, len;
        char what[160];
        snprintf(what, sizeof what, "string value of '%s'", vc->key);
        if ((rc = gg_str(c, &off, &len, what)))
            return rc;
        out->v.s.ptr = (const char *)c->buf + off; /* re-pointed by the caller if buf moves */
        out->v.s.len = len;
        return QF_OK;
    }
    /* array */
    uint32_t et;
    uint64_t count;
    if ((rc = gg_u32(c, &et, "array element type")) || (rc = gg_len(c, &count, "array count")))
        return rc;
    if (et >= GG_VTYPE_COUNT)
        return gg_fail(c, QF_EFORMAT, at,
                       "metadata key '%s': array element type %u is invalid (expected 0..12)",
                       vc->key, et);
    uint64_t esz = gg_min_size(c, (int)et), bytes;
    if (!qfi_mul_ok(count, esz, &bytes) || (c->whole && bytes > gg_left(c)))
        return gg_fail(c, QF_EFORMAT, at,
                       "metadata key '%s': array of %llu %s elements needs at least %llu bytes, "
                       "only %llu left",
                       vc->key, (unsigned long long)count, qf_vtype_name((int)et),
                       qfi_mul_ok(count, esz, &bytes) ? (unsigned long long)bytes
                                                      : (unsigned long long)UINT64_MAX,
                       (unsigned long long)gg_left(c));
    if (count > QFI_MAX_ARRAY)
        return gg_fail(c, QF_ELIMIT, at,
                       "metadata key '%s': array of %llu elements, more than the limit of %llu",
                       vc->key, (unsigned long long)count, (unsigned long long)QFI_MAX_ARRAY);
    if (et == QF_V_ARRAY) {
        if (depth + 1 >= QFI_MAX_ARRAY_DEPTH)
            return gg_fail(c, QF_ELIMIT, at,
                           "metadata key '%s': arrays nested more than %d deep", vc->key,
                           QFI_MAX_ARRAY_DEPTH);
        vc->nested = 1;
    }
    if (c->src) {
        uint64_t se = c->pos + bytes + c->rest_min; /* all bounded by the caps: no overflow */
        if (se > c->safe_end)
            c->safe_end = se;
    }
    uint64_t start = c->pos;
    char what[200];
    snprintf(what, sizeof what, "a string element of '%s'", vc->key);
    if (et != QF_V_STRING && et != QF_V_ARRAY) {
        if ((rc = gg_need(c, bytes, "array elements")))
            return rc;
        c->pos += bytes;
    } else {
        for (uint64_t i = 0; i < count; i++) {
            if (et == QF_V_STRING) {
                uint64_t off, len;
                if ((rc = gg_str(c, &off, &len, what)))
                    return rc;
            } else {
                struct qf_value sub;
                if ((rc = gg_value(c, QF_V_ARRAY, depth + 1, vc, &sub)))
                    return rc;
            }
        }
    }
    out->v.a.etype = (int)et;
    out->v.a.count = count;
    out->v.a.data = c->buf + start;
    out->v.a.nbytes = c->pos - start;
    out->v.a.enc = c->enc;
    return QF_OK;
}

/* Parse (and, when m is not NULL, load into m) one GGUF header.
 *   m == NULL: dry run; validates and fills *h.
 *   m != NULL: adds the tensors of this file (file index fi) and, if add_kv, its metadata;
 *              checks tensor data against the file size when c->whole.
 * toff (m != NULL, may be NULL) receives each tensor's record offset, indexed from the model's
 * tensor count before the call. */
static int gg_parse(struct gg_cur *c, struct gg_hdr *h, struct qf_model *m, int fi, int add_kv,
                    unsigned flags, uint64_t *toff)
{
    int rc;
    struct gg_set keys = {0}, names = {0};
    memset(h, 0, sizeof *h);
    c->pos = 0;
    c->be = 0;
    c->lw = 8;
    c->enc = 0;

    if (c->src) {
        c->safe_end = 24; /* magic, version and two u32 counts at least */
        if ((rc = gg_fill(c, 8, "GGUF header")))
            goto out;
    }
    if (c->len < 8 && !c->src) {
        if (c->len >= 4 && memcmp(c->buf, GG_MAGIC, 4) != 0)
            goto bad_magic;
        rc = gg_fail(c, QF_EFORMAT, 0, "file too short for a GGUF header (%llu bytes)",
                     (unsigned long long)c->len);
        goto out;
    }
    if (memcmp(c->buf, GG_MAGIC, 4) != 0) {
    bad_magic:;
        char q[32];
        qfi_quote(q, sizeof q, c->buf, c->len < 4 ? (size_t)c->len : 4);
        rc = gg_fail(c, QF_EFORMAT, 0, "bad magic '%s', expected 'GGUF'", q);
        goto out;
    }
    c->pos = 4;
    uint32_t ver = qfi_load_le32(c->buf + 4);
    if (ver != 0 && (ver & 0xffffu) == 0) {
        c->be = 1;
        h->be = 1;
        ver = qfi_load_be32(c->buf + 4);
    }
    if (ver == 0) {
        rc = gg_fail(c, QF_EFORMAT, 4, "GGUF version 0 is invalid");
        goto out;
    }
    if (ver > 3) {
        rc = gg_fail(c, QF_EUNSUPPORTED, 4,
                     "GGUF version %u is not supported (expected 1, 2 or 3)", ver);
        goto out;
    }
    h->version = ver;
    c->pos = 8;
    if (ver == 1) {
        c->lw = 4;
        c->enc |= QFI_ENC_LEN32;
    }
    if (c->be)
        c->enc |= QFI_ENC_BE;

    uint64_t nt, nkv;
    if ((rc = gg_len(c, &nt, "tensor count")) || (rc = gg_len(c, &nkv, "metadata count")))
        goto out;
    if ((int64_t)nt < 0 || (int64_t)nkv < 0) {
        rc = gg_fail(c, QF_EFORMAT, 8, "%s count %llu is negative as int64",
                     (int64_t)nt < 0 ? "tensor" : "metadata",
                     (unsigned long long)((int64_t)nt < 0 ? nt : nkv));
        goto out;
    }
    /* smallest records: key of 1 byte + type + 1-byte value; name of 1 byte, n_dims 0 */
    const uint64_t min_kv = c->lw + 6, min_ti = c->lw + 17;
    uint64_t a, b, s;
    if (c->whole && (!qfi_mul_ok(nkv, min_kv, &a) || !qfi_mul_ok(nt, min_ti, &b) ||
                     !qfi_add_ok(a, b, &s) || s > gg_left(c))) {
        rc = gg_fail(c, QF_EFORMAT, 8,
                     "%llu tensors and %llu metadata records cannot fit in the %llu bytes left",
                     (unsigned long long)nt, (unsigned long long)nkv,
                     (unsigned long long)gg_left(c));
        goto out;
    }
    if (nt > QFI_MAX_TENSORS) {
        rc = gg_fail(c, QF_ELIMIT, 8, "%llu tensors, more than the limit of %llu",
                     (unsigned long long)nt, (unsigned long long)QFI_MAX_TENSORS);
        goto out;
    }
    if (nkv > QFI_MAX_KV) {
        rc = gg_fail(c, QF_ELIMIT, 8, "%llu metadata records, more than the limit of %llu",
                     (unsigned long long)nkv, (unsigned long long)QFI_MAX_KV);
        goto out;
    }
    h->n_tensors = nt;
    h->n_kv = nkv;
    h->alignment = GG_DEFAULT_ALIGN;
    if (c->src)
        c->safe_end = c->pos + nkv * min_kv + nt * min_ti;
    if (m && fi >= 0 && add_kv) {
        m->version = ver;
        m->big_endian = c->be;
    }

    /* ---- metadata ---- */
    for (uint64_t i = 0; i < nkv; i++) {
        uint64_t rec = c->pos, koff, klen;
        c->rest_min = (nkv - i - 1) * min_kv + nt * min_ti;
        if (c->src && rec + min_kv + c->rest_min > c->safe_end)
            c->safe_end = rec + min_kv + c->rest_min;
        char what[64];
        snprintf(what, sizeof what, "key of metadata record %llu", (unsigned long long)i);
        if ((rc = gg_str(c, &koff, &klen, what)))
            goto out;
        if (klen == 0) {
            rc = gg_fail(c, QF_EFORMAT, rec, "metadata record %llu has an empty key",
                         (unsigned long long)i);
            goto out;
        }
        char kq[160];
        gg_quote(kq, sizeof kq, c, koff, klen);
        if (memchr(c->buf + koff, 0, (size_t)klen)) {
            rc = gg_fail(c, QF_EFORMAT, rec, "metadata key '%s' contains a NUL byte", kq);
            goto out;
        }
        uint64_t first;
        int d = gg_set_add(&keys, c->buf, koff, klen, rec, &first);
        if (d < 0) {
            rc = qfi_error(c->err, QF_ENOMEM, ENOMEM, c->path, -1, "out of memory");
            goto out;
        }
        if (d) {
            rc = gg_fail(c, QF_EFORMAT, rec,
                         "duplicate metadata key '%s' (first at offset %llu)", kq,
                         (unsigned long long)first);
            goto out;
        }
        uint32_t vt;
        uint64_t tat = c->pos;
        if ((rc = gg_u32(c, &vt, "metadata value type")))
            goto out;
        if (vt >= GG_VTYPE_COUNT) {
            rc = gg_fail(c, QF_EFORMAT, tat,
                         "metadata key '%s' has invalid value type %u (expected 0..12)", kq, vt);
            goto out;
        }
        struct qf_value val;
        struct gg_valctx vc = {kq, 0};
        uint64_t vstart = c->pos;
        if ((rc = gg_value(c, (int)vt, 0, &vc, &val)))
            goto out;

        struct gg_split_key *sk = NULL;
        if (key_is(c, koff, klen, "general.alignment")) {
            if (vt != QF_V_U32) {
                rc = gg_fail(c, QF_EFORMAT, tat, "general.alignment has type %s, expected u32",
                             qf_vtype_name((int)vt));
                goto out;
            }
            if (!is_pow2(val.v.u)) {
                rc = gg_fail(c, QF_EFORMAT, vstart,
                             "general.alignment is %llu, expected a non-zero power of two",
                             (unsigned long long)val.v.u);
                goto out;
            }
            h->alignment = (uint32_t)val.v.u;
        } else if (key_is(c, koff, klen, "split.no")) {
            sk = &h->split_no;
        } else if (key_is(c, koff, klen, "split.count")) {
            sk = &h->split_count;
        } else if (key_is(c, koff, klen, "split.tensors.count")) {
            sk = &h->split_tensors;
        }
        if (sk) {
            sk->present = 1;
            sk->type = (int)vt;
            sk->rec = rec;
            int64_t iv = 0;
            if (vt != QF_V_STRING && vt != QF_V_ARRAY && qf_value_as_i64(&val, &iv) != QF_OK)
                iv = -1;
            sk->value = iv;
        } else {
            h->n_other_kv++;
        }

        if (m && add_kv) {
            struct qf_kv kv;
            memset(&kv, 0, sizeof kv);
            kv.key.ptr = (const char *)c->buf + koff;
            kv.key.len = klen;
            kv.val = val;
            kv.origin = "";
            kv.file_index = fi;
            kv.offset = rec;
            if ((rc = qfi_model_add_kv(m, &kv, c->err)))
                goto out;
            if (vc.nested)
                qfi_model_warn(m, "%s: metadata key '%s' is an array of arrays, which llama.cpp "
                               "rejects", c->path, kq);
            if (!qfi_utf8_valid(c->buf + koff, (size_t)klen))
                qfi_model_warn(m, "%s: metadata key '%s' is not valid UTF-8 text", c->path, kq);
        }
    }
    if (m && add_kv)
        m->alignment = h->alignment;

    /* ---- tensor infos ---- */
    size_t t0 = m ? m->n_tensors : 0;
    uint64_t expect = 0; /* the next tensor's offset */
    for (uint64_t j = 0; j < nt; j++) {
        uint64_t rec = c->pos, noff, nlen;
        if (c->src && rec + (nt - j) * min_ti > c->safe_end)
            c->safe_end = rec + (nt - j) * min_ti;
        char what[64];
        snprintf(what, sizeof what, "name of tensor %llu", (unsigned long long)j);
        if ((rc = gg_str(c, &noff, &nlen, what)))
            goto out;
        char nq[160];
        gg_quote(nq, sizeof nq, c, noff, nlen);
        if (nlen == 0) {
            rc = gg_fail(c, QF_EFORMAT, rec, "tensor %llu has an empty name",
                         (unsigned long long)j);
            goto out;
        }
        if (nlen >= GG_NAME_MAX) {
            rc = gg_fail(c, QF_EFORMAT, rec,
                         "tensor name '%s' is %llu bytes long, GGUF allows at most %d", nq,
                         (unsigned long long)nlen, GG_NAME_MAX - 1);
            goto out;
        }
        if (memchr(c->buf + noff, 0, (size_t)nlen)) {
            rc = gg_fail(c, QF_EFORMAT, rec, "tensor name '%s' contains a NUL byte", nq);
            goto out;
        }
        if (!qfi_utf8_valid(c->buf + noff, (size_t)nlen)) {
            rc = gg_fail(c, QF_EFORMAT, rec, "tensor name '%s' is not valid UTF-8", nq);
            goto out;
        }
        uint64_t first;
        int d = gg_set_add(&names, c->buf, noff, nlen, rec, &first);
        if (d < 0) {
            rc = qfi_error(c->err, QF_ENOMEM, ENOMEM, c->path, -1, "out of memory");
            goto out;
        }
        if (d) {
            rc = gg_fail(c, QF_EFORMAT, rec, "duplicate tensor name '%s' (first at offset %llu)",
                         nq, (unsigned long long)first);
            goto out;
        }
        uint32_t nd;
        uint64_t at = c->pos;
        if ((rc = gg_u32(c, &nd, "tensor dimension count")))
            goto out;
        if (nd > GG_MAX_DIMS) {
            rc = gg_fail(c, QF_EFORMAT, at, "tensor '%s' has %u dimensions, GGUF allows at most %d",
                         nq, nd, GG_MAX_DIMS);
            goto out;
        }
        int64_t ne[GG_MAX_DIMS] = {1, 1, 1, 1};
        for (uint32_t k = 0; k < nd; k++) {
            uint64_t v;
            at = c->pos;
            if ((rc = gg_len(c, &v, "tensor dimension")))
                goto out;
            if ((int64_t)v < 0) {
                rc = gg_fail(c, QF_EFORMAT, at,
                             "tensor '%s' dimension %u is %llu, negative as int64", nq, k,
                             (unsigned long long)v);
                goto out;
            }
            ne[k] = (int64_t)v;
        }
        /* llama.cpp's check, applied also when a dimension is 0 (then the others must still
         * multiply within int64: writers compute that product) */
        int64_t nz[GG_MAX_DIMS];
        for (int k = 0; k < GG_MAX_DIMS; k++)
            nz[k] = ne[k] ? ne[k] : 1;
        if (INT64_MAX / nz[1] <= nz[0] || INT64_MAX / nz[2] <= nz[0] * nz[1] ||
            INT64_MAX / nz[3] <= nz[0] * nz[1] * nz[2]) {
            rc = gg_fail(c, QF_EFORMAT, rec,
                         "tensor '%s' has dimensions %lld x %lld x %lld x %lld, whose element "
                         "count overflows int64",
                         nq, (long long)ne[0], (long long)ne[1], (long long)ne[2],
                         (long long)ne[3]);
            goto out;
        }
        uint32_t ty;
        at = c->pos;
        if ((rc = gg_u32(c, &ty, "tensor type")))
            goto out;
        const struct qf_type_info *ti = qf_type_info((int)ty);
        if ((int32_t)ty < 0) {
            rc = gg_fail(c, QF_EFORMAT, at, "tensor '%s' has invalid type id %lld", nq,
                         (long long)(int32_t)ty);
            goto out;
        }
        if (ty >= QF_GGML_TYPE_COUNT || !ti) {
            rc = gg_fail(c, QF_EUNSUPPORTED, at, "tensor '%s' has unknown type id %u (known: 0..%d)",
                         nq, ty, QF_GGML_TYPE_COUNT - 1);
            goto out;
        }
        if (!(ti->flags & QF_TYPEF_VALID) || !(ti->flags & QF_TYPEF_GGUF) || !ti->blck) {
            rc = gg_fail(c, QF_EUNSUPPORTED, at,
                         "tensor '%s' has type id %u (%s), which ggml removed", nq, ty, ti->name);
            goto out;
        }
        if ((uint64_t)ne[0] % ti->blck) {
            rc = gg_fail(c, QF_EFORMAT, rec,
                         "tensor '%s' (%s): row length %lld is not a multiple of the block "
                         "size %u",
                         nq, ti->name, (long long)ne[0], ti->blck);
            goto out;
        }
        uint64_t nelem = (uint64_t)ne[0] * (uint64_t)ne[1] * (uint64_t)ne[2] * (uint64_t)ne[3];
        uint64_t nbytes = 0;
        if (nelem && (!qfi_mul_ok(nelem / ti->blck, ti->block_bytes, &nbytes) ||
                      nbytes > (uint64_t)INT64_MAX)) {
            rc = gg_fail(c, QF_EFORMAT, rec, "tensor '%s' (%s): byte size of %llu elements "
                         "overflows", nq, ti->name, (unsigned long long)nelem);
            goto out;
        }
        uint64_t toffv;
        at = c->pos;
        if ((rc = gg_need(c, 8, "tensor offset")))
            goto out;
        toffv = gg_ld(c, c->buf + c->pos, 8);
        c->pos += 8;
        if (toffv != expect) {
            rc = gg_fail(c, QF_EFORMAT, at, "tensor '%s' has offset %llu, expected %llu", nq,
                         (unsigned long long)toffv, (unsigned long long)expect);
            goto out;
        }
        int ovf = 0;
        uint64_t padded = align_up(nbytes, h->alignment, &ovf);
        if (ovf || !qfi_add_ok(expect, padded, &expect)) {
            rc = gg_fail(c, QF_EFORMAT, at, "tensor '%s': data section size overflows", nq);
            goto out;
        }
        if (m) {
            struct qf_tensor t;
            memset(&t, 0, sizeof t);
            t.name = qfi_model_strndup(m, (const char *)c->buf + noff, (size_t)nlen);
            if (!t.name) {
                rc = qfi_error(c->err, QF_ENOMEM, ENOMEM, c->path, -1, "out of memory");
                goto out;
            }
            t.name_len = (size_t)nlen;
            t.type = (int)ty;
            t.n_dims = (int)nd;
            for (uint32_t k = 0; k < nd; k++)
                t.shape[k] = (uint64_t)ne[nd - 1 - k];
            t.nelem = nelem;
            t.file_index = fi;
            t.data_offset = toffv;
            t.offset = toffv; /* made absolute below */
            t.nbytes = nbytes;
            if ((rc = qfi_model_add_tensor(m, &t, c->err)))
                goto out;
            if (toff)
                toff[j] = rec;
        }
    }
    h->tinfo_end = c->pos;
    /* the cap a pipe meets in gg_fill holds for mapped files too */
    if (c->pos > QFI_MAX_HEADER_BYTES) {
        rc = gg_fail(c, QF_ELIMIT, 0, "header of %llu bytes exceeds the limit of %llu",
                     (unsigned long long)c->pos, (unsigned long long)QFI_MAX_HEADER_BYTES);
        goto out;
    }
    h->data_size = expect;
    if (nt == 0) {
        h->data_start = c->pos; /* no data section, no padding */
    } else {
        int ovf = 0;
        h->data_start = align_up(c->pos, h->alignment, &ovf);
        uint64_t total;
        if (ovf || !qfi_add_ok(h->data_start, expect, &total)) {
            rc = gg_fail(c, QF_EFORMAT, c->pos, "data section end overflows");
            goto out;
        }
        if (c->whole && h->data_start > c->len && !(flags & QF_OPEN_PARTIAL)) {
            rc = gg_fail(c, QF_EFORMAT, c->pos,
                         "data section starts at %llu (alignment %u), past the end of the file "
                         "(%llu bytes)",
                         (unsigned long long)h->data_start, h->alignment,
                         (unsigned long long)c->len);
            goto out;
        }
        if (c->src) {
            /* consume the padding, so that the pipe stands at the first tensor */
            c->safe_end = h->data_start;
            if (h->data_start > c->len && (rc = gg_fill(c, h->data_start, "padding")) &&
                !(flags & (QF_OPEN_PARTIAL | QF_OPEN_HEADER_ONLY)))
                goto out;
            rc = QF_OK;
        }
    }

    if (m) {
        for (size_t k = t0; k < m->n_tensors; k++)
            m->tensors[k].offset += h->data_start;
        if (c->whole) {
            uint64_t fsize = c->len;
            for (size_t k = t0; k < m->n_tensors; k++) {
                const struct qf_tensor *t = &m->tensors[k];
                uint64_t end = t->offset + t->nbytes; /* no overflow: checked above */
                if (end > fsize && !(flags & QF_OPEN_PARTIAL)) {
                    char nq[160];
                    qfi_quote(nq, sizeof nq, t->name, t->name_len);
                    rc = gg_fail(c, QF_EFORMAT, toff ? toff[k - t0] : h->tinfo_end,
                                 "tensor '%s' data [%llu, %llu) is past the end of the file "
                                 "(%llu bytes)",
                                 nq, (unsigned long long)t->offset, (unsigned long long)end,
                                 (unsigned long long)fsize);
                    goto out;
                }
            }
            uint64_t dend = h->data_start + h->data_size;
            if (nt > 0 && fsize > dend)
                qfi_model_warn(m, "%s: %llu bytes after the end of the data section", c->path,
                               (unsigned long long)(fsize - dend));
            else if (nt > 0 && fsize < dend && m->n_tensors > t0 &&
                     m->tensors[m->n_tensors - 1].offset + m->tensors[m->n_tensors - 1].nbytes <=
                         fsize)
                qfi_model_warn(m, "%s: the padding after the last tensor is missing (%llu bytes)",
                               c->path, (unsigned long long)(dend - fsize));
        }
    }
    rc = QF_OK;
out:
    free(keys.s);
    free(names.s);
    return rc;
}

/* ---------------------------------------------------------------------------------------
 * Files and split sets
 */
struct gg_file {
    struct qfi_source *src;
    const uint8_t *buf;
    uint64_t len;
    int whole;
    uint8_t *own;           /* pipe header buffer */
    struct gg_hdr h;
};

static void gg_file_release(struct gg_file *f)
{
    qfi_source_close(f->src);
    free(f->own);
    memset(f, 0, sizeof *f);
}

/* Open path and validate its header (dry run). */
static int gg_file_load(struct gg_file *f, const char *path, unsigned flags, struct qf_error *err)
{
    memset(f, 0, sizeof *f);
    int rc = qfi_source_open(path, &f->src, err);
    if (rc)
        return rc;
    struct gg_cur c;
    memset(&c, 0, sizeof c);
    c.path = f->src->path;
    c.err = err;
    if (f->src->seekable) {
        c.buf = f->src->map;
        c.len = f->src->map ? f->src->size : 0;
        c.whole = 1;
        static const uint8_t none[1];
        if (!c.buf)
            c.buf = none;
    } else {
        c.src = f->src;
        c.buf = NULL;
    }
    rc = gg_parse(&c, &f->h, NULL, -1, 0, flags, NULL);
    if (c.src) {
        f->own = c.own;
        f->buf = c.own;
        f->len = c.len;
    } else {
        f->buf = c.buf;
        f->len = c.len;
        f->whole = 1;
    }
    if (rc) {
        gg_file_release(f);
        return rc;
    }
    return QF_OK;
}

/* Add a loaded file to the model (ownership moves to m) and load its records. */
static int gg_file_emit(struct qf_model *m, struct gg_file *f, const char *role, int add_kv,
                        unsigned flags, uint64_t **toff, struct qf_error *err)
{
    struct gg_file g = *f;
    memset(f, 0, sizeof *f);
    int fi = qfi_model_add_file(m, g.src, role, err);
    if (fi < 0) {
        free(g.own);
        return fi;
    }
    if (add_kv && g.h.version == 1)
        qfi_model_warn(m, "%s: GGUF version 1, which current llama.cpp no longer loads",
                       g.src->path);
    if (add_kv && g.h.be)
        qfi_model_warn(m, "%s: big-endian GGUF: tensor data is stored big-endian", g.src->path);
    struct qfi_file *mf = &m->files[fi];
    mf->owned_header = g.own;
    mf->info.header_size = g.h.data_start;
    mf->info.size = g.src->size;
    uint64_t *to = NULL;
    if (toff) {
        size_t n0 = m->n_tensors;
        to = realloc(*toff, (n0 + g.h.n_tensors + 1) * sizeof *to);
        if (!to)
            return qfi_error(err, QF_ENOMEM, ENOMEM, g.src->path, -1, "out of memory");
        *toff = to;
        to += n0;
    }
    struct gg_cur c;
    memset(&c, 0, sizeof c);
    c.path = g.src->path;
    c.err = err;
    c.buf = g.buf ? g.buf : (const uint8_t *)"";
    c.len = g.len;
    c.whole = g.whole;
    struct gg_hdr h;
    return gg_parse(&c, &h, m, fi, add_kv, flags, to);
}

/* "PREFIX-NNNNN-of-MMMMM.gguf": sets the prefix length, part (1-based) and count. */
static int gg_split_name(const char *path, size_t *prefix_len, unsigned *part, unsigned *count)
{
    size_t n = strlen(path);
    const char *suf = ".gguf";
    if (n < 5 || strcmp(path + n - 5, suf) != 0)
        return 0;
    size_t e = n - 5, i = e;
    while (i > 0 && path[i - 1] >= '0' && path[i - 1] <= '9')
        i--;
    size_t md = e - i;
    if (md < 5 || md > 9 || i < 4 || memcmp(path + i - 4, "-of-", 4) != 0)
        return 0;
    size_t j = i - 4, k = j;
    while (k > 0 && path[k - 1] >= '0' && path[k - 1] <= '9')
        k--;
    size_t nd = j - k;
    if (nd < 5 || nd > 9 || k < 1 || path[k - 1] != '-')
        return 0;
    unsigned long no = strtoul(path + k, NULL, 10), cnt = strtoul(path + i, NULL, 10);
    /* the name must be exactly what "%s-%05d-of-%05d.gguf" gives */
    char chk[40];
    snprintf(chk, sizeof chk, "-%05lu-of-%05lu.gguf", no, cnt);
    if (strcmp(chk, path + k - 1) != 0 || no < 1 || no > cnt)
        return 0;
    if (k - 1 == 0 || path[k - 2] == '/')
        return 0; /* empty prefix */
    *prefix_len = k - 1;
    *part = (unsigned)no;
    *count = (unsigned)cnt;
    return 1;
}

static char *gg_part_path(const char *path, size_t prefix_len, unsigned k, unsigned n)
{
    size_t sz = prefix_len + 48;
    char *p = malloc(sz);
    if (p)
        snprintf(p, sz, "%.*s-%05u-of-%05u.gguf", (int)prefix_len, path, k, n);
    return p;
}

/* Check the split.* keys of part k (1-based) of n. */
static int gg_check_split_keys(const struct gg_file *f, unsigned k, unsigned n,
                               struct qf_error *err)
{
    const char *p = f->src->path;
    const struct {
        const struct gg_split_key *key;
        const char *name;
        int type;
    } want[] = {
        {&f->h.split_no, "split.no", QF_V_U16},
        {&f->h.split_count, "split.count", QF_V_U16},
        {&f->h.split_tensors, "split.tensors.count", QF_V_I32},
    };
    for (size_t i = 0; i < 3; i++) {
        if (!want[i].key->present)
            return qfi_error(err, QF_EFORMAT, 0, p, -1,
                             "part %u of a %u-part split set has no %s key", k, n, want[i].name);
        if (want[i].key->type != want[i].type)
            return qfi_error(err, QF_EFORMAT, 0, p, (int64_t)want[i].key->rec,
                             "%s has type %s, expected %s", want[i].name,
                             qf_vtype_name(want[i].key->type), qf_vtype_name(want[i].type));
    }
    if (f->h.split_count.value != (int64_t)n)
        return qfi_error(err, QF_EFORMAT, 0, p, (int64_t)f->h.split_count.rec,
                         "split.count is %lld, expected %u (part %u of %u)",
                         (long long)f->h.split_count.value, n, k, n);
    if (f->h.split_no.value != (int64_t)k - 1)
        return qfi_error(err, QF_EFORMAT, 0, p, (int64_t)f->h.split_no.rec,
                         "split.no is %lld, expected %u (part %u of %u)",
                         (long long)f->h.split_no.value, k - 1, k, n);
    return QF_OK;
}

static int gg_open_set(struct qf_model *m, struct gg_file *given, const char *path,
                       size_t prefix_len, unsigned part, unsigned n, unsigned flags,
                       struct qf_error *err)
{
    int rc = QF_OK;
    char **paths = calloc(n + 1, sizeof *paths);
    uint64_t *toff = NULL;
    struct gg_file f;
    memset(&f, 0, sizeof f);
    if (!paths) {
        gg_file_release(given);
        return qfi_error(err, QF_ENOMEM, ENOMEM, path, -1, "out of memory");
    }
    /* every part must exist: name all the missing ones */
    char miss[QF_ERROR_MSG_MAX];
    size_t ml = 0;
    unsigned n_miss = 0;
    miss[0] = '\0';
    for (unsigned k = 1; k <= n; k++) {
        paths[k] = gg_part_path(path, prefix_len, k, n);
        if (!paths[k]) {
            rc = qfi_error(err, QF_ENOMEM, ENOMEM, path, -1, "out of memory");
            goto done;
        }
        struct stat st;
        if (k != part && stat(paths[k], &st) != 0) {
            n_miss++;
            if (ml < sizeof miss)
                ml += (size_t)snprintf(miss + ml, sizeof miss - ml, "%s'%s'", n_miss > 1 ? ", " : "",
                                       paths[k]);
        }
    }
    if (n_miss) {
        rc = qfi_error(err, QF_ENOTFOUND, 0, path, -1, "split set of %u parts: %u missing: %s", n,
                       n_miss, miss);
        goto done;
    }
    int64_t total = 0;
    struct gg_hdr first;
    memset(&first, 0, sizeof first);
    int64_t *counts = calloc(n + 1, sizeof *counts);
    if (!counts) {
        rc = qfi_error(err, QF_ENOMEM, ENOMEM, path, -1, "out of memory");
        goto done;
    }
    for (unsigned k = 1; k <= n; k++) {
        if (k == part) {
            f = *given;
            memset(given, 0, sizeof *given);
        } else if ((rc = gg_file_load(&f, paths[k], flags, err))) {
            break;
        }
        if ((rc = gg_check_split_keys(&f, k, n, err)))
            break;
        if (k == 1) {
            first = f.h;
        } else if (f.h.be != first.be || f.h.version != first.version) {
            rc = qfi_error(err, QF_EFORMAT, 0, f.src->path, 4,
                           "GGUF version %u%s differs from part 1 (version %u%s)", f.h.version,
                           f.h.be ? " big-endian" : "", first.version,
                           first.be ? " big-endian" : "");
            break;
        } else if (f.h.alignment != first.alignment) {
            qfi_model_warn(m, "%s: alignment %u differs from part 1 (%u)", f.src->path,
                           f.h.alignment, first.alignment);
        }
        if (k > 1 && f.h.n_other_kv)
            qfi_model_warn(m, "%s: %llu metadata records besides split.* ignored (only part 1's "
                           "metadata is used)", f.src->path, (unsigned long long)f.h.n_other_kv);
        counts[k] = f.h.split_tensors.value;
        total += (int64_t)f.h.n_tensors;
        if ((rc = gg_file_emit(m, &f, "gguf-split", k == 1, flags, &toff, err)))
            break;
    }
    if (!rc) {
        for (unsigned k = 1; k <= n; k++)
            if (counts[k] != total) {
                const struct qfi_file *mf = &m->files[m->n_files - n + k - 1];
                rc = qfi_error(err, QF_EFORMAT, 0, mf->info.path, -1,
                               "split.tensors.count is %lld, but the %u parts hold %lld tensors",
                               (long long)counts[k], n, (long long)total);
                break;
            }
    }
    if (!rc) {
        size_t dup;
        if (qfi_model_index_tensors(m, &dup) != QF_OK) {
            const struct qf_tensor *t = &m->tensors[dup];
            char nq[160];
            qfi_quote(nq, sizeof nq, t->name, t->name_len);
            rc = qfi_error(err, QF_EFORMAT, 0, m->files[t->file_index].info.path,
                           toff ? (int64_t)toff[dup] : -1,
                           "tensor '%s' appears in more than one part of the split set", nq);
        }
    }
    free(counts);
done:
    gg_file_release(&f);
    gg_file_release(given);
    for (unsigned k = 0; k <= n; k++)
        free(paths[k]);
    free(paths);
    free(toff);
    return rc;
}

static int gguf_open(struct qf_model *m, const char *path, unsigned flags, struct qf_error *err)
{
    struct gg_file f;
    int rc = gg_file_load(&f, path, flags, err);
    if (rc)
        return rc;
    m->format = "gguf";
    size_t plen = 0;
    unsigned part = 0, count = 0;
    int named = f.src->seekable && gg_split_name(path, &plen, &part, &count);
    const struct gg_split_key *sc = &f.h.split_count;
    int64_t n = sc->present ? sc->value : 1;
    if (!(flags & QF_OPEN_NO_SET) && (n > 1 || (named && count > 1))) {
        if (!f.src->seekable) {
            qfi_model_warn(m, "%s: part of a %lld-part split set read alone from a pipe", path,
                           (long long)n);
        } else if (!sc->present) {
            qfi_model_warn(m, "%s: named like part %u of %u but has no split.count; read alone",
                           path, part, count);
        } else if (!named) {
            rc = qfi_error(err, QF_ENOTFOUND, 0, path, (int64_t)sc->rec,
                           "split.count is %lld, but the name does not end in "
                           "-NNNNN-of-MMMMM.gguf, so the other parts cannot be found",
                           (long long)n);
            gg_file_release(&f);
            return rc;
        } else if (sc->type != QF_V_U16 || n != (int64_t)count) {
            rc = qfi_error(err, QF_EFORMAT, 0, path, (int64_t)sc->rec,
                           "split.count is %lld (%s), but the file name says %u parts (u16)",
                           (long long)n, qf_vtype_name(sc->type), count);
            gg_file_release(&f);
            return rc;
        } else {
            if (count > QFI_MAX_FILES) {
                gg_file_release(&f);
                return qfi_error(err, QF_ELIMIT, 0, path, -1, "%u parts, more than the limit",
                                 count);
            }
            return gg_open_set(m, &f, path, plen, part, count, flags, err);
        }
    }
    uint64_t *toff = NULL;
    rc = gg_file_emit(m, &f, "gguf", 1, flags, &toff, err);
    if (!rc) {
        size_t dup;
        if (qfi_model_index_tensors(m, &dup) != QF_OK) /* cannot happen: checked per file */
            rc = qfi_error(err, QF_EFORMAT, 0, path, -1, "duplicate tensor name '%s'",
                           m->tensors[dup].name);
    }
    free(toff);
    return rc;
}

/* ---------------------------------------------------------------------------------------
 * Probe
 */
static int gguf_probe(const uint8_t *head, size_t len, uint64_t file_size, const char *path,
                      int is_dir)
{
    (void)file_size;
    if (is_dir)
        return 0;
    if (len >= 4 && memcmp(head, GG_MAGIC, 4) == 0)
        return 90;
    size_t n = path ? strlen(path) : 0;
    if (n > 5 && strcmp(path + n - 5, ".gguf") == 0)
        return 10;
    return 0;
}

/* ---------------------------------------------------------------------------------------
 * Writer: GGUF v3, little-endian, the layout llama.cpp writes
 */
struct gg_out {
    uint8_t *p;    /* NULL while sizing */
    uint64_t n;
    int ovf;
};

static void put(struct gg_out *o, const void *src, uint64_t n)
{
    if (o->p && n)
        memcpy(o->p + o->n, src, (size_t)n);
    if (!qfi_add_ok(o->n, n, &o->n))
        o->ovf = 1;
}

static void put_u32(struct gg_out *o, uint32_t v)
{
    uint8_t b[4];
    qfi_store_le32(b, v);
    put(o, b, 4);
}

static void put_u64(struct gg_out *o, uint64_t v)
{
    uint8_t b[8];
    qfi_store_le64(b, v);
    put(o, b, 8);
}

static void put_str(struct gg_out *o, const void *s, uint64_t len)
{
    put_u64(o, len);
    put(o, s, len);
}

/* Encode a scalar or string value (element or top level) little-endian. */
static int put_scalar(struct gg_out *o, const struct qf_value *v)
{
    uint8_t b[8];
    switch (v->type) {
    case QF_V_U8: case QF_V_I8:
        b[0] = (uint8_t)(v->type == QF_V_U8 ? v->v.u : (uint64_t)v->v.i);
        put(o, b, 1);
        return QF_OK;
    case QF_V_BOOL:
        b[0] = v->v.u ? (v->raw_bool ? v->raw_bool : 1) : 0;
        put(o, b, 1);
        return QF_OK;
    case QF_V_U16: case QF_V_I16:
        qfi_store_le16(b, (uint16_t)(v->type == QF_V_U16 ? v->v.u : (uint64_t)v->v.i));
        put(o, b, 2);
        return QF_OK;
    case QF_V_U32: case QF_V_I32:
        put_u32(o, (uint32_t)(v->type == QF_V_U32 ? v->v.u : (uint64_t)v->v.i));
        return QF_OK;
    case QF_V_U64: case QF_V_I64:
        put_u64(o, v->type == QF_V_U64 ? v->v.u : (uint64_t)v->v.i);
        return QF_OK;
    case QF_V_F32: {
        float f = (float)v->v.f;
        uint32_t u;
        memcpy(&u, &f, 4);
        put_u32(o, u);
        return QF_OK;
    }
    case QF_V_F64: {
        uint64_t u;
        memcpy(&u, &v->v.f, 8);
        put_u64(o, u);
        return QF_OK;
    }
    case QF_V_STRING:
        put_str(o, v->v.s.ptr, v->v.s.len);
        return QF_OK;
    default:
        return QF_EUNSUPPORTED;
    }
}

static int put_value(struct gg_out *o, const struct qf_value *v, const char *key,
                     const char *path, struct qf_error *err)
{
    if (v->type == QF_V_ARRAY) {
        const struct qf_array *a = &v->v.a;
        if (a->etype == QF_V_ARRAY || a->etype < 0 || a->etype >= GG_VTYPE_COUNT)
            return qfi_error(err, QF_EUNSUPPORTED, 0, path, -1,
                             "metadata key '%s': arrays of %s cannot be written to GGUF", key,
                             qf_vtype_name(a->etype));
        put_u32(o, (uint32_t)a->etype);
        put_u64(o, a->count);
        size_t esz = qfi_vtype_size(a->etype);
        if (esz && !(a->enc & QFI_ENC_BE) && a->nbytes == a->count * esz) {
            put(o, a->data, a->nbytes); /* already little-endian */
            return QF_OK;
        }
        struct qf_array_iter it;
        struct qf_value e;
        uint64_t got = 0;
        qf_array_iter_init(&it, a);
        while (qf_array_iter_next(&it, &e)) {
            put_scalar(o, &e);
            got++;
        }
        if (got != a->count)
            return qfi_error(err, QF_EINVAL, 0, path, -1,
                             "metadata key '%s': array holds %llu of %llu elements", key,
                             (unsigned long long)got, (unsigned long long)a->count);
        return QF_OK;
    }
    if (put_scalar(o, v) != QF_OK)
        return qfi_error(err, QF_EUNSUPPORTED, 0, path, -1,
                         "metadata key '%s': %s values cannot be written to GGUF", key,
                         qf_vtype_name(v->type));
    return QF_OK;
}

/* Serialize the header into o (sizing pass when o->p is NULL). */
static int gg_emit_header(struct qf_writer *w, struct gg_out *o, uint32_t align, int add_align,
                          uint64_t data_start, struct qf_error *err)
{
    put(o, GG_MAGIC, 4);
    put_u32(o, 3);
    put_u64(o, w->n_t);
    put_u64(o, w->n_kv + (add_align ? 1 : 0));
    for (size_t i = 0; i < w->n_kv; i++) {
        const struct qfi_wkv *kv = &w->kv[i];
        put_str(o, kv->key, strlen(kv->key));
        if (kv->val.type < 0 || kv->val.type >= GG_VTYPE_COUNT)
            return qfi_error(err, QF_EUNSUPPORTED, 0, w->path, -1,
                             "metadata key '%s': %s values cannot be written to GGUF", kv->key,
                             qf_vtype_name(kv->val.type));
        put_u32(o, (uint32_t)kv->val.type);
        int rc = put_value(o, &kv->val, kv->key, w->path, err);
        if (rc)
            return rc;
    }
    if (add_align) {
        put_str(o, "general.alignment", strlen("general.alignment"));
        put_u32(o, QF_V_U32);
        put_u32(o, align);
    }
    uint64_t rel = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        const struct qfi_wtensor *t = &w->t[i];
        put_str(o, t->name, strlen(t->name));
        put_u32(o, (uint32_t)t->n_dims);
        for (int k = t->n_dims - 1; k >= 0; k--)
            put_u64(o, t->shape[k]);
        put_u32(o, (uint32_t)t->type);
        put_u64(o, rel);
        int ovf = 0;
        uint64_t padded = align_up(t->nbytes, align, &ovf);
        if (ovf || !qfi_add_ok(rel, padded, &rel))
            o->ovf = 1;
    }
    if (o->p) {
        memset(o->p + o->n, 0, (size_t)(data_start - o->n));
        o->n = data_start;
    }
    return o->ovf ? qfi_error(err, QF_ELIMIT, 0, w->path, -1, "GGUF header size overflows")
                  : QF_OK;
}

static int gguf_write_plan(struct qf_writer *w, struct qf_error *err)
{
    uint32_t align = w->opts.alignment ? w->opts.alignment : GG_DEFAULT_ALIGN;
    int declared = 0;
    if (w->opts.version && w->opts.version != 3)
        return qfi_error(err, QF_EUNSUPPORTED, 0, w->path, -1,
                         "only GGUF version 3 is written (asked for %u)", w->opts.version);
    for (size_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kv[i].key, "general.alignment") != 0)
            continue;
        const struct qf_value *v = &w->kv[i].val;
        if (v->type != QF_V_U32 || !is_pow2(v->v.u) || v->v.u > UINT32_MAX)
            return qfi_error(err, QF_EINVAL, 0, w->path, -1,
                             "general.alignment must be a u32 power of two (is %s)",
                             qf_vtype_name(v->type));
        align = (uint32_t)v->v.u;
        declared = 1;
    }
    if (!is_pow2(align))
        return qfi_error(err, QF_EINVAL, 0, w->path, -1,
                         "alignment %u is not a power of two", align);
    int add_align = !declared && align != GG_DEFAULT_ALIGN;
    for (size_t i = 0; i < w->n_t; i++) {
        const struct qfi_wtensor *t = &w->t[i];
        const struct qf_type_info *ti = qf_type_info(t->type);
        size_t nl = strlen(t->name);
        if (nl == 0 || nl >= GG_NAME_MAX)
            return qfi_error(err, QF_EUNSUPPORTED, 0, w->path, -1,
                             "tensor name '%s' is %zu bytes long, GGUF allows 1 to %d", t->name,
                             nl, GG_NAME_MAX - 1);
        if (t->n_dims > GG_MAX_DIMS)
            return qfi_error(err, QF_EUNSUPPORTED, 0, w->path, -1,
                             "tensor '%s' has %d dimensions, GGUF allows at most %d", t->name,
                             t->n_dims, GG_MAX_DIMS);
        if (!ti || t->type >= QF_GGML_TYPE_COUNT || !(ti->flags & QF_TYPEF_VALID) ||
            !(ti->flags & QF_TYPEF_GGUF))
            return qfi_error(err, QF_EUNSUPPORTED, 0, w->path, -1,
                             "tensor '%s': type %s cannot be stored in GGUF", t->name,
                             qf_type_name(t->type));
    }
    struct gg_out o = {NULL, 0, 0};
    int rc = gg_emit_header(w, &o, align, add_align, 0, err);
    if (rc)
        return rc;
    int ovf = 0;
    uint64_t data_start = w->n_t ? align_up(o.n, align, &ovf) : o.n;
    if (ovf || data_start > QFI_MAX_HEADER_BYTES)
        return qfi_error(err, QF_ELIMIT, 0, w->path, -1,
                         "GGUF header of %llu bytes exceeds the limit of %llu",
                         (unsigned long long)o.n, (unsigned long long)QFI_MAX_HEADER_BYTES);
    uint8_t *hdr = malloc(data_start ? (size_t)data_start : 1);
    if (!hdr)
        return qfi_error(err, QF_ENOMEM, ENOMEM, w->path, -1, "out of memory");
    struct gg_out o2 = {hdr, 0, 0};
    rc = gg_emit_header(w, &o2, align, add_align, data_start, err);
    if (rc) {
        free(hdr);
        return rc;
    }
    uint64_t rel = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        w->t[i].offset = data_start + rel;
        rel += align_up(w->t[i].nbytes, align, &ovf); /* overflow ruled out while sizing */
    }
    if (!w->order) {
        w->order = calloc(w->n_t ? w->n_t : 1, sizeof *w->order);
        if (!w->order) {
            free(hdr);
            return qfi_error(err, QF_ENOMEM, ENOMEM, w->path, -1, "out of memory");
        }
    }
    for (size_t i = 0; i < w->n_t; i++)
        w->order[i] = i;
    free(w->header);
    w->header = hdr;
    w->header_len = (size_t)data_start;
    if (!qfi_add_ok(data_start, rel, &w->file_size))
        return qfi_error(err, QF_ELIMIT, 0, w->path, -1, "file size overflows");
    return QF_OK;
}

const struct qfi_format qfi_format_gguf = {
    .abi = 1,
    .name = "gguf",
    .probe = gguf_probe,
    .open = gguf_open,
    .write_plan = gguf_write_plan,
};
