/* convert.c - the conversion engine: a plan (names, types, paths, sizes, offsets, metadata),
 * then a streaming executor (reader -> worker threads over row chunks -> ordered writer).
 *
 * Specs: gguf-hash-and-tools.md §3 (llama-quantize: output KVs and order §3.3, eligibility
 * §3.4, mixing §3.5 via qf/ftype.h, fallbacks §3.6, imatrix §3.7, per-tensor processing §3.8),
 * hf-to-gguf-naming.md (names, Q/K permutation, config.json and tokenizer keys),
 * ggml-types.md §8 (output rows must hold finite values).
 *
 * Determinism: every chunk is converted independently and its error sums are kept per row,
 * added up by the writing thread row by row in file order, so the bytes and the reported
 * errors are the same for any thread count and any chunk size.
 */
#include "qf/convert.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "qf_int.h"
#include "convert_layout_int.h"
#include "qf/layout.h"

#define DEFAULT_CHUNK_ELEMS (1u << 20)
#define MAX_TOKENIZER_BYTES (64u << 20)
#define MAX_IMATRIX_BYTES (4ull << 30)

/* ---------------------------------------------------------------------------------------
 * Small helpers
 */
static int str_eq(const struct qf_str *s, const char *c)
{
    size_t n = strlen(c);
    return s->len == n && memcmp(s->ptr, c, n) == 0;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && memcmp(s + a - b, suf, b) == 0;
}

static int is_float_type(int t)
{
    return t == QF_TYPE_F32 || t == QF_TYPE_F16 || t == QF_TYPE_BF16;
}

static int is_quant_type(int t)
{
    const struct qf_type_info *ti = qf_type_info(t);
    return ti && (ti->flags & QF_TYPEF_QUANT);
}

/* ---------------------------------------------------------------------------------------
 * Importance matrix
 */
struct imat_entry {
    char *name;
    uint64_t ne0, n_mat;
    float *v;
};

struct qf_imatrix {
    struct imat_entry *e;
    size_t n, cap;
    char *dataset;
    uint64_t chunks;
};

void qf_imatrix_free(struct qf_imatrix *im)
{
    if (!im)
        return;
    for (size_t i = 0; i < im->n; i++) {
        free(im->e[i].name);
        free(im->e[i].v);
    }
    free(im->e);
    free(im->dataset);
    free(im);
}

size_t qf_imatrix_n_entries(const struct qf_imatrix *im)
{
    return im ? im->n : 0;
}

const char *qf_imatrix_dataset(const struct qf_imatrix *im)
{
    return im && im->dataset ? im->dataset : "";
}

uint64_t qf_imatrix_chunks(const struct qf_imatrix *im)
{
    return im ? im->chunks : 0;
}

const float *qf_imatrix_find(const struct qf_imatrix *im, const char *name, uint64_t *ne0,
                             uint64_t *n_mat)
{
    if (!im || !name)
        return NULL;
    for (size_t i = 0; i < im->n; i++)
        if (strcmp(im->e[i].name, name) == 0) {
            if (ne0)
                *ne0 = im->e[i].ne0;
            if (n_mat)
                *n_mat = im->e[i].n_mat;
            return im->e[i].v;
        }
    return NULL;
}

static int imat_add(struct qf_imatrix *im, const char *name, size_t nlen, uint64_t ne0,
                    uint64_t n_mat, float *v)
{
    if (qfi_grow((void **)&im->e, &im->cap, im->n + 1, sizeof *im->e))
        return QF_ENOMEM;
    char *nm = malloc(nlen + 1);
    if (!nm)
        return QF_ENOMEM;
    memcpy(nm, name, nlen);
    nm[nlen] = '\0';
    im->e[im->n].name = nm;
    im->e[im->n].ne0 = ne0;
    im->e[im->n].n_mat = n_mat;
    im->e[im->n].v = v;
    im->n++;
    return QF_OK;
}

static int imat_check_finite(const float *v, uint64_t n, const char *path, const char *name,
                             struct qf_error *err)
{
    for (uint64_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return qfi_error(err, QF_EFORMAT, 0, path, -1,
                             "importance matrix entry '%s' holds a non-finite value at %llu",
                             name, (unsigned long long)i);
    return QF_OK;
}

/* GGUF imatrix: tensors NAME.in_sum2 (F32, [n_mat, ne0]) and NAME.counts (F32, [n_mat, 1]);
 * keys imatrix.datasets (array of strings) and imatrix.chunk_count. */
static int imat_load_gguf(struct qf_imatrix *im, const char *path, struct qf_error *err)
{
    struct qf_model *m;
    int rc = qf_model_open(path, "gguf", QF_OPEN_NO_SET, &m, err);
    if (rc)
        return rc;
    const struct qf_kv *kv = qf_model_find_kv(m, "imatrix.datasets");
    if (kv && kv->val.type == QF_V_ARRAY && kv->val.v.a.etype == QF_V_STRING &&
        kv->val.v.a.count > 0) {
        struct qf_value e;
        if (qf_array_get(&kv->val.v.a, 0, &e) == QF_OK && e.type == QF_V_STRING) {
            im->dataset = malloc(e.v.s.len + 1);
            if (!im->dataset) {
                rc = qfi_error(err, QF_ENOMEM, ENOMEM, path, -1, "out of memory");
                goto out;
            }
            memcpy(im->dataset, e.v.s.ptr, e.v.s.len);
            im->dataset[e.v.s.len] = '\0';
        }
    }
    kv = qf_model_find_kv(m, "imatrix.chunk_count");
    uint64_t cc;
    if (kv && qf_value_as_u64(&kv->val, &cc) == QF_OK)
        im->chunks = cc;
    size_t nt = qf_model_n_tensors(m);
    for (size_t i = 0; i < nt; i++) {
        const struct qf_tensor *t = qf_model_tensor(m, i);
        if (!ends_with(t->name, ".in_sum2"))
            continue;
        size_t blen = t->name_len - strlen(".in_sum2");
        char cname[QFI_MAX_NAME + 16];
        if (blen + 8 >= sizeof cname) {
            rc = qfi_error(err, QF_ELIMIT, 0, path, -1, "imatrix tensor name too long");
            goto out;
        }
        memcpy(cname, t->name, blen);
        memcpy(cname + blen, ".counts", 8);
        const struct qf_tensor *c = qf_model_find_tensor(m, cname);
        cname[blen] = '\0';
        if (!c) {
            rc = qfi_error(err, QF_EFORMAT, 0, path, -1, "imatrix entry '%s' has no counts",
                           cname);
            goto out;
        }
        if (t->type != QF_TYPE_F32 || c->type != QF_TYPE_F32 || t->n_dims < 1 ||
            t->n_dims > 2 || c->nelem == 0) {
            rc = qfi_error(err, QF_EFORMAT, 0, path, -1,
                           "imatrix entry '%s': expected F32 sums and counts", cname);
            goto out;
        }
        uint64_t ne0 = t->shape[t->n_dims - 1];
        uint64_t n_mat = t->n_dims == 2 ? t->shape[0] : 1;
        if (ne0 == 0 || c->nelem != n_mat) {
            rc = qfi_error(err, QF_EFORMAT, 0, path, -1,
                           "imatrix entry '%s': %llu counts for %llu matrices", cname,
                           (unsigned long long)c->nelem, (unsigned long long)n_mat);
            goto out;
        }
        uint64_t bytes;
        if (!qfi_mul_ok(t->nelem, 4, &bytes) || bytes > MAX_IMATRIX_BYTES) {
            rc = qfi_error(err, QF_ELIMIT, 0, path, -1, "imatrix entry '%s' is too large",
                           cname);
            goto out;
        }
        float *v = malloc((size_t)bytes);
        float *cnt = malloc((size_t)n_mat * 4);
        if (!v || !cnt) {
            free(v);
            free(cnt);
            rc = qfi_error(err, QF_ENOMEM, ENOMEM, path, -1, "out of memory");
            goto out;
        }
        rc = qf_model_read(m, t, 0, v, (size_t)bytes, err);
        if (!rc)
            rc = qf_model_read(m, c, 0, cnt, (size_t)n_mat * 4, err);
        if (!rc)
            rc = imat_check_finite(v, t->nelem, path, cname, err);
        if (!rc)
            rc = imat_check_finite(cnt, n_mat, path, cname, err);
        if (rc) {
            free(v);
            free(cnt);
            goto out;
        }
        for (uint64_t j = 0; j < n_mat; j++)
            for (uint64_t k = 0; k < ne0; k++)
                v[j * ne0 + k] = cnt[j] > 0.0f ? v[j * ne0 + k] / cnt[j] : 1.0f;
        free(cnt);
        if (imat_add(im, cname, blen, ne0, n_mat, v)) {
            free(v);
            rc = qfi_error(err, QF_ENOMEM, ENOMEM, path, -1, "out of memory");
            goto out;
        }
    }
    if (im->n == 0)
        rc = qfi_error(err, QF_EFORMAT, 0, path, -1,
                       "no importance matrix entries (no '*.in_sum2' tensors)");
out:
    qf_model_close(m);
    return rc;
}

/* The .dat format: i32 n; n x {i32 len, name, i32 ncall, i32 nval, f32[nval]};
 * optional i32 last_call, i32 len, dataset. Values are divided by ncall. */
static int imat_load_dat(struct qf_imatrix *im, const char *path, const uint8_t *d, uint64_t size,
                         struct qf_error *err)
{
    uint64_t pos = 0;
#define NEED(k)                                                                                 \
    do {                                                                                        \
        if (size - pos < (uint64_t)(k))                                                         \
            return qfi_error(err, QF_EFORMAT, 0, path, (int64_t)pos,                            \
                             "imatrix file ends early (needed %llu more bytes)",                \
                             (unsigned long long)(k));                                          \
    } while (0)
    NEED(4);
    int32_t n = (int32_t)qfi_load_le32(d);
    pos = 4;
    if (n <= 0 || (uint64_t)n > QFI_MAX_TENSORS)
        return qfi_error(err, QF_EFORMAT, 0, path, 0,
                         "not an importance matrix (GGUF, or .dat with a positive entry count)");
    for (int32_t i = 0; i < n; i++) {
        NEED(4);
        uint32_t len = qfi_load_le32(d + pos);
        pos += 4;
        if (len == 0 || len > QFI_MAX_NAME)
            return qfi_error(err, QF_EFORMAT, 0, path, (int64_t)pos - 4,
                             "imatrix entry name length %u (expected 1..%u)", len, QFI_MAX_NAME);
        NEED(len);
        const char *name = (const char *)d + pos;
        pos += len;
        NEED(8);
        int32_t ncall = (int32_t)qfi_load_le32(d + pos);
        int32_t nval = (int32_t)qfi_load_le32(d + pos + 4);
        pos += 8;
        if (nval <= 0)
            return qfi_error(err, QF_EFORMAT, 0, path, (int64_t)pos - 4,
                             "imatrix entry with %d values", nval);
        NEED((uint64_t)nval * 4);
        float *v = malloc((size_t)nval * 4);
        if (!v)
            return qfi_error(err, QF_ENOMEM, ENOMEM, path, -1, "out of memory");
        for (int32_t k = 0; k < nval; k++) {
            uint32_t u = qfi_load_le32(d + pos + 4 * (uint64_t)k);
            memcpy(&v[k], &u, 4);
            if (!isfinite(v[k])) {
                free(v);
                return qfi_error(err, QF_EFORMAT, 0, path, (int64_t)(pos + 4 * (uint64_t)k),
                                 "importance matrix value is not finite");
            }
            if (ncall > 0)
                v[k] /= (float)ncall;
        }
        pos += (uint64_t)nval * 4;
        if (imat_add(im, name, len, (uint64_t)nval, 1, v)) {
            free(v);
            return qfi_error(err, QF_ENOMEM, ENOMEM, path, -1, "out of memory");
        }
    }
    if (size - pos >= 4) {
        int32_t last = (int32_t)qfi_load_le32(d + pos);
        im->chunks = last > 0 ? (uint64_t)last : 0;
        pos += 4;
        if (size - pos >= 4) {
            uint32_t len = qfi_load_le32(d + pos);
            pos += 4;
            if (len > 0 && len <= size - pos && len < (1u << 20)) {
                im->dataset = malloc(len + 1);
                if (!im->dataset)
                    return qfi_error(err, QF_ENOMEM, ENOMEM, path, -1, "out of memory");
                memcpy(im->dataset, d + pos, len);
                im->dataset[len] = '\0';
            }
        }
    }
#undef NEED
    return QF_OK;
}

/* ne0 of an entry loaded from a .dat file covers all experts: split it once the tensor's
 * row length is known (see plan_imatrix). */

int qf_imatrix_load(const char *path, struct qf_imatrix **out, struct qf_error *err)
{
    *out = NULL;
    struct qf_imatrix *im = calloc(1, sizeof *im);
    if (!im)
        return qfi_error(err, QF_ENOMEM, ENOMEM, path, -1, "out of memory");
    struct qfi_source *s;
    int rc = qfi_source_open(path, &s, err);
    if (rc) {
        free(im);
        return rc;
    }
    uint8_t head[4] = {0};
    if (s->size >= 4)
        rc = qfi_source_read(s, 0, head, 4, err);
    if (!rc && memcmp(head, "GGUF", 4) == 0) {
        qfi_source_close(s);
        rc = imat_load_gguf(im, path, err);
    } else if (!rc) {
        if (!s->seekable || !s->map || s->size > MAX_IMATRIX_BYTES)
            rc = qfi_error(err, QF_EUNSUPPORTED, 0, path, -1,
                           "importance matrix must be a regular file of at most 4 GiB");
        else
            rc = imat_load_dat(im, path, s->map, s->size, err);
        qfi_source_close(s);
    } else {
        qfi_source_close(s);
    }
    if (rc) {
        qf_imatrix_free(im);
        return rc;
    }
    *out = im;
    return QF_OK;
}

/* ---------------------------------------------------------------------------------------
 * Plan structures
 */
struct pkv {
    char *key;
    struct qf_value val; /* may borrow from the model or from plan-owned memory */
};

struct pextra {
    size_t src_index;       /* input tensor index */
    int perm_heads;         /* Q/K permutation: heads (0 = none) */
    int perm_inverse;       /* GGUF -> HF direction */
    const float *imat;      /* importance per column (n_imat vectors of ne0) or NULL */
    uint64_t n_imat;
    const struct qf_ltensor *lt; /* a quantized layer of the input's layout (GPTQ, AWQ, ...):
                                    decoded by qf_layout_dequantize, or repacked */
    int repack;             /* QFI_CL_*: its blocks made from its codes (convert_layout.c) */
};

struct qf_convert_plan {
    struct qf_model *m;
    struct qf_convert_opts o;
    const char *format;      /* "gguf" / "safetensors" */
    struct qf_convert_item *items; /* declaration order */
    struct pextra *ex;
    size_t n_items;
    size_t *order;           /* file order -> declaration index */
    struct pkv *kv;
    size_t n_kv, cap_kv;
    char **notes;
    size_t n_notes, cap_notes;
    void **owned;
    size_t n_owned, cap_owned;
    unsigned flags;
    int ftype_written;
    uint64_t file_size, header_size, data_bytes, nelem;
    struct qf_layout *l;     /* the input's quantized layout, NULL if it has none */
};

static void *keep(struct qf_convert_plan *p, void *mem)
{
    if (!mem)
        return NULL;
    if (qfi_grow((void **)&p->owned, &p->cap_owned, p->n_owned + 1, sizeof *p->owned)) {
        free(mem);
        return NULL;
    }
    p->owned[p->n_owned++] = mem;
    return mem;
}

static char *pstrndup(struct qf_convert_plan *p, const char *s, size_t n)
{
    char *c = malloc(n + 1);
    if (!c)
        return NULL;
    memcpy(c, s, n);
    c[n] = '\0';
    return keep(p, c);
}

static int note(struct qf_convert_plan *p, const char *fmt, ...) QF_PRINTF(2, 3);
static int note(struct qf_convert_plan *p, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char *c = strdup(buf);
    if (!c || qfi_grow((void **)&p->notes, &p->cap_notes, p->n_notes + 1, sizeof *p->notes)) {
        free(c);
        return QF_ENOMEM;
    }
    p->notes[p->n_notes++] = c;
    return QF_OK;
}

/* Append or replace (keeping the position of the first) a metadata record. */
static int kv_put(struct qf_convert_plan *p, const char *key, const struct qf_value *v)
{
    for (size_t i = 0; i < p->n_kv; i++)
        if (strcmp(p->kv[i].key, key) == 0) {
            p->kv[i].val = *v;
            return QF_OK;
        }
    if (qfi_grow((void **)&p->kv, &p->cap_kv, p->n_kv + 1, sizeof *p->kv))
        return QF_ENOMEM;
    char *k = pstrndup(p, key, strlen(key));
    if (!k)
        return QF_ENOMEM;
    p->kv[p->n_kv].key = k;
    p->kv[p->n_kv].val = *v;
    p->n_kv++;
    return QF_OK;
}

static void kv_remove(struct qf_convert_plan *p, const char *key)
{
    for (size_t i = 0; i < p->n_kv; i++)
        if (strcmp(p->kv[i].key, key) == 0) {
            memmove(&p->kv[i], &p->kv[i + 1], (p->n_kv - i - 1) * sizeof *p->kv);
            p->n_kv--;
            return;
        }
}

static int kv_u32(struct qf_convert_plan *p, const char *key, uint64_t v)
{
    struct qf_value x = {0};
    x.type = QF_V_U32;
    x.v.u = (uint32_t)v;
    return kv_put(p, key, &x);
}

static int kv_f32(struct qf_convert_plan *p, const char *key, double v)
{
    struct qf_value x = {0};
    x.type = QF_V_F32;
    x.v.f = (double)(float)v;
    return kv_put(p, key, &x);
}

static int kv_bool(struct qf_convert_plan *p, const char *key, int v)
{
    struct qf_value x = {0};
    x.type = QF_V_BOOL;
    x.v.u = v ? 1 : 0;
    x.raw_bool = v ? 1 : 0;
    return kv_put(p, key, &x);
}

static int kv_str(struct qf_convert_plan *p, const char *key, const char *s, size_t len)
{
    struct qf_value x = {0};
    x.type = QF_V_STRING;
    char *c = pstrndup(p, s, len);
    if (!c)
        return QF_ENOMEM;
    x.v.s.ptr = c;
    x.v.s.len = len;
    return kv_put(p, key, &x);
}

/* An array value over plan-owned encoded data (GGUF v3 encoding, little-endian). */
static int kv_array(struct qf_convert_plan *p, const char *key, int etype, uint64_t count,
                    uint8_t *data, uint64_t nbytes)
{
    if (!keep(p, data))
        return QF_ENOMEM;
    struct qf_value x = {0};
    x.type = QF_V_ARRAY;
    x.v.a.etype = etype;
    x.v.a.count = count;
    x.v.a.data = data;
    x.v.a.nbytes = nbytes;
    x.v.a.enc = 0;
    return kv_put(p, key, &x);
}

/* ---------------------------------------------------------------------------------------
 * Hugging Face input: config.json values
 */
static const struct qf_kv *cfg_find(const struct qf_model *m, const char *key)
{
    size_t n = qf_model_n_kv(m);
    char tc[160];
    snprintf(tc, sizeof tc, "text_config.%s", key);
    const struct qf_kv *alt = NULL;
    for (size_t i = 0; i < n; i++) {
        const struct qf_kv *kv = qf_model_kv(m, i);
        if (strcmp(kv->origin, "config.json") != 0)
            continue;
        if (str_eq(&kv->key, key))
            return kv;
        if (!alt && str_eq(&kv->key, tc))
            alt = kv;
    }
    return alt;
}

/* First of the NULL-terminated keys that is present and numeric. */
static int cfg_num(const struct qf_model *m, const char *const *keys, double *out)
{
    for (; *keys; keys++) {
        const struct qf_kv *kv = cfg_find(m, *keys);
        if (kv && kv->val.type != QF_V_BOOL && qf_value_as_f64(&kv->val, out) == QF_OK)
            return 1;
    }
    return 0;
}

static int cfg_u64(const struct qf_model *m, const char *const *keys, uint64_t *out)
{
    double d;
    if (!cfg_num(m, keys, &d) || !(d >= 0) || d > 4294967295.0 || d != floor(d))
        return 0;
    *out = (uint64_t)d;
    return 1;
}

static const struct qf_str *cfg_string(const struct qf_model *m, const char *key)
{
    const struct qf_kv *kv = cfg_find(m, key);
    return kv && kv->val.type == QF_V_STRING ? &kv->val.v.s : NULL;
}

#define KEYS(...) ((const char *const[]){__VA_ARGS__, NULL})

static char *model_dir(const struct qf_model *m);

/* gguf-py's display name of a model directory: '-' and '_' become spaces, lower-case words
 * that are not versions or numbers get a capital ("hf" -> "Hf"). */
static size_t id_to_title(const char *id, char *out, size_t n)
{
    size_t o = 0;
    const char *s = id;
    while (*s && o + 1 < n) {
        while (*s == ' ' || *s == '-' || *s == '_')
            s++;
        const char *e = s;
        while (*e && *e != ' ' && *e != '-' && *e != '_')
            e++;
        if (e == s)
            break;
        int lower = 0, upper = 0;
        for (const char *c = s; c < e; c++) {
            lower |= *c >= 'a' && *c <= 'z';
            upper |= *c >= 'A' && *c <= 'Z';
        }
        int version = (*s == 'v' && e - s > 1 && s[1] >= '0' && s[1] <= '9') ||
                      (*s >= '0' && *s <= '9');
        int title = lower && !upper && !version;
        if (o && o + 1 < n)
            out[o++] = ' ';
        int start = 1;
        for (const char *c = s; c < e && o + 1 < n; c++) {
            char ch = *c;
            int alpha = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
            if (title && alpha)
                ch = start ? (char)(ch & ~0x20) : (char)(ch | 0x20);
            start = !alpha;
            out[o++] = ch;
        }
        s = e;
    }
    out[o] = '\0';
    return o;
}

/* general.name from the directory, general.size_label from the parameter count (gguf-py's
 * model_weight_count_rounded_notation). */
static int hf_name_kvs(struct qf_convert_plan *p)
{
    char *dir = model_dir(p->m);
    if (!dir)
        return QF_ENOMEM;
    const char *base = strrchr(dir, '/');
    base = base && base[1] ? base + 1 : dir;
    char name[256];
    size_t nl = id_to_title(base, name, sizeof name);
    int rc = QF_OK;
    if (nl && strcmp(base, ".") != 0 && strcmp(base, "/") != 0)
        rc = kv_str(p, "general.name", name, nl);
    free(dir);
    double c = (double)p->nelem, x;
    char suf;
    if (c > 1e12)
        x = c * 1e-12, suf = 'T';
    else if (c > 1e9)
        x = c * 1e-9, suf = 'B';
    else if (c > 1e6)
        x = c * 1e-6, suf = 'M';
    else
        x = c * 1e-3, suf = 'K';
    char digits[64];
    snprintf(digits, sizeof digits, "%.0f", nearbyint(x));
    const char *d = digits;
    while (*d == '0')
        d++;
    int fix = 2 - (int)strlen(d);
    if (fix < 0)
        fix = 0;
    char label[80];
    int ll = snprintf(label, sizeof label, "%.*f%c", fix, x, suf);
    if (!rc && p->nelem)
        rc = kv_str(p, "general.size_label", label, (size_t)ll);
    return rc;
}

/* config.json -> {arch}.* keys (hf-to-gguf-naming.md §5). */
static int hf_model_kvs(struct qf_convert_plan *p, const struct qf_arch *a, struct qf_error *err)
{
    const struct qf_model *m = p->m;
    const char *arch = a->name;
    char k[128];
    uint64_t u;
    double d;
    int rc = kv_str(p, "general.architecture", arch, strlen(arch));
    rc = rc ? rc : kv_str(p, "general.type", "model", 5);
    rc = rc ? rc : hf_name_kvs(p);
#define U32KEY(suffix, keys)                                                                    \
    if (!rc && cfg_u64(m, keys, &u)) {                                                          \
        snprintf(k, sizeof k, "%s." suffix, arch);                                              \
        rc = kv_u32(p, k, u);                                                                   \
    }
#define F32KEY(suffix, keys)                                                                    \
    if (!rc && cfg_num(m, keys, &d)) {                                                          \
        snprintf(k, sizeof k, "%s." suffix, arch);                                              \
        rc = kv_f32(p, k, d);                                                                   \
    }
    U32KEY("block_count", KEYS("n_layers", "num_hidden_layers", "n_layer", "num_layers"));
    U32KEY("context_length", KEYS("max_position_embeddings", "n_ctx", "n_positions", "max_length",
                                  "max_sequence_length", "model_max_length"));
    U32KEY("embedding_length", KEYS("hidden_size", "n_embd", "dim"));
    U32KEY("feed_forward_length", KEYS("intermediate_size", "n_inner", "hidden_dim"));
    U32KEY("attention.head_count", KEYS("num_attention_heads", "n_head", "n_heads"));
    U32KEY("attention.head_count_kv", KEYS("num_key_value_heads", "n_kv_heads"));
    F32KEY("rope.freq_base",
           KEYS("rope_theta", "rope_parameters.rope_theta", "rope_scaling.rope_theta",
                "global_rope_theta", "rope_global_theta", "rope_theta_global", "rotary_emb_base"));
    F32KEY("attention.layer_norm_rms_epsilon", KEYS("rms_norm_eps", "norm_eps"));
    F32KEY("attention.layer_norm_epsilon",
           KEYS("layer_norm_eps", "layer_norm_epsilon", "norm_epsilon"));
    U32KEY("attention.key_length", KEYS("head_dim"));
    U32KEY("attention.value_length", KEYS("head_dim"));
    U32KEY("expert_count", KEYS("num_local_experts", "num_experts"));
    U32KEY("expert_used_count", KEYS("num_experts_per_tok", "num_experts_per_token"));
    if (rc)
        return qfi_error(err, rc, 0, NULL, -1, "out of memory");

    /* RoPE scaling */
    const struct qf_str *rt = cfg_string(m, "rope_parameters.rope_type");
    const char *pre = "rope_parameters.";
    if (!rt) {
        rt = cfg_string(m, "rope_scaling.rope_type");
        pre = "rope_scaling.";
    }
    if (!rt) {
        rt = cfg_string(m, "rope_scaling.type");
        pre = "rope_scaling.";
    }
    if (rt && !str_eq(rt, "default")) {
        char fk[96];
        snprintf(fk, sizeof fk, "%sfactor", pre);
        int has_factor = cfg_num(m, KEYS(fk), &d);
        if (str_eq(rt, "linear") && has_factor) {
            snprintf(k, sizeof k, "%s.rope.scaling.type", arch);
            rc = kv_str(p, k, "linear", 6);
            snprintf(k, sizeof k, "%s.rope.scaling.factor", arch);
            rc = rc ? rc : kv_f32(p, k, d);
        } else if (str_eq(rt, "yarn") && has_factor) {
            snprintf(k, sizeof k, "%s.rope.scaling.type", arch);
            rc = kv_str(p, k, "yarn", 4);
            snprintf(k, sizeof k, "%s.rope.scaling.factor", arch);
            rc = rc ? rc : kv_f32(p, k, d);
            snprintf(fk, sizeof fk, "%soriginal_max_position_embeddings", pre);
            if (!rc && cfg_u64(m, KEYS(fk), &u)) {
                snprintf(k, sizeof k, "%s.rope.scaling.original_context_length", arch);
                rc = kv_u32(p, k, u);
            }
        } else if (str_eq(rt, "longrope") || str_eq(rt, "su")) {
            snprintf(k, sizeof k, "%s.rope.scaling.type", arch);
            rc = kv_str(p, k, "longrope", 8);
        } else {
            char q[64];
            return qfi_error(err, QF_EUNSUPPORTED, 0, NULL, -1,
                             "config.json: rope scaling '%s' is not converted (llama3 needs a "
                             "generated rope_freqs tensor)",
                             qfi_quote(q, sizeof q, rt->ptr, rt->len));
        }
        if (rc)
            return qfi_error(err, rc, 0, NULL, -1, "out of memory");
    }
    return QF_OK;
#undef U32KEY
#undef F32KEY
}

/* ---------------------------------------------------------------------------------------
 * Hugging Face input: the SentencePiece vocabulary (tokenizer.model, a protobuf ModelProto)
 */
struct vocab {
    uint64_t n;
    char **tok;
    size_t *len;
    float *score;
    int32_t *type;
};

static void vocab_free(struct vocab *v)
{
    if (v->tok)
        for (uint64_t i = 0; i < v->n; i++)
            free(v->tok[i]);
    free(v->tok);
    free(v->len);
    free(v->score);
    free(v->type);
    memset(v, 0, sizeof *v);
}

static int pb_varint(const uint8_t *d, uint64_t n, uint64_t *pos, uint64_t *out)
{
    uint64_t v = 0;
    for (int s = 0; s < 64; s += 7) {
        if (*pos >= n)
            return -1;
        uint8_t b = d[(*pos)++];
        v |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* Skip a field of wire type wt. */
static int pb_skip(const uint8_t *d, uint64_t n, uint64_t *pos, unsigned wt)
{
    uint64_t v;
    switch (wt) {
    case 0: return pb_varint(d, n, pos, &v);
    case 1: if (n - *pos < 8) return -1; *pos += 8; return 0;
    case 5: if (n - *pos < 4) return -1; *pos += 4; return 0;
    case 2:
        if (pb_varint(d, n, pos, &v) || v > n - *pos)
            return -1;
        *pos += v;
        return 0;
    default: return -1;
    }
}

/* Read the pieces of tokenizer.model into v (ids 0..pieces-1). */
static int spm_load(const char *path, struct vocab *v, uint64_t vocab_size, struct qf_error *err)
{
    struct qfi_source *s;
    int rc = qfi_source_open(path, &s, err);
    if (rc)
        return rc;
    if (!s->seekable || s->size > MAX_TOKENIZER_BYTES || (s->size && !s->map)) {
        qfi_source_close(s);
        return qfi_error(err, QF_EUNSUPPORTED, 0, path, -1,
                         "tokenizer.model must be a regular file of at most 64 MiB");
    }
    const uint8_t *d = s->map;
    uint64_t n = s->size, pos = 0;
    /* first pass: count pieces */
    uint64_t pieces = 0;
    while (pos < n) {
        uint64_t key, len;
        uint64_t at = pos;
        if (pb_varint(d, n, &pos, &key))
            goto bad;
        if ((key >> 3) == 1 && (key & 7) == 2) {
            if (pb_varint(d, n, &pos, &len) || len > n - pos)
                goto bad;
            pos += len;
            pieces++;
        } else if (pb_skip(d, n, &pos, (unsigned)(key & 7))) {
            pos = at;
            goto bad;
        }
    }
    if (pieces == 0 || pieces > QFI_MAX_ARRAY) {
        qfi_source_close(s);
        return qfi_error(err, QF_EFORMAT, 0, path, -1,
                         "tokenizer.model holds %llu pieces (expected a SentencePiece model)",
                         (unsigned long long)pieces);
    }
    uint64_t total = vocab_size > pieces ? vocab_size : pieces;
    if (total > (1u << 24)) {
        qfi_source_close(s);
        return qfi_error(err, QF_ELIMIT, 0, path, -1, "vocabulary of %llu tokens is too large",
                         (unsigned long long)total);
    }
    v->n = total;
    v->tok = calloc(total, sizeof *v->tok);
    v->len = calloc(total, sizeof *v->len);
    v->score = calloc(total, sizeof *v->score);
    v->type = calloc(total, sizeof *v->type);
    if (!v->tok || !v->len || !v->score || !v->type) {
        qfi_source_close(s);
        return qfi_error(err, QF_ENOMEM, ENOMEM, path, -1, "out of memory");
    }
    /* padding ids as convert_hf_to_gguf.py: "[PAD{i}]", score -10000, UNUSED */
    for (uint64_t i = pieces; i < total; i++) {
        char b[40];
        int l = snprintf(b, sizeof b, "[PAD%llu]", (unsigned long long)i);
        v->tok[i] = strdup(b);
        if (!v->tok[i]) {
            qfi_source_close(s);
            return qfi_error(err, QF_ENOMEM, ENOMEM, path, -1, "out of memory");
        }
        v->len[i] = (size_t)l;
        v->score[i] = -10000.0f;
        v->type[i] = 5;
    }
    pos = 0;
    uint64_t id = 0;
    while (pos < n && id < pieces) {
        uint64_t key, len;
        if (pb_varint(d, n, &pos, &key))
            goto bad;
        if (!((key >> 3) == 1 && (key & 7) == 2)) {
            if (pb_skip(d, n, &pos, (unsigned)(key & 7)))
                goto bad;
            continue;
        }
        if (pb_varint(d, n, &pos, &len) || len > n - pos)
            goto bad;
        uint64_t end = pos + len;
        const uint8_t *piece = NULL;
        uint64_t plen = 0;
        float score = 0.0f;
        uint64_t type = 1;
        while (pos < end) {
            uint64_t k2, l2;
            if (pb_varint(d, end, &pos, &k2))
                goto bad;
            unsigned f = (unsigned)(k2 >> 3), wt = (unsigned)(k2 & 7);
            if (f == 1 && wt == 2) {
                if (pb_varint(d, end, &pos, &l2) || l2 > end - pos)
                    goto bad;
                piece = d + pos;
                plen = l2;
                pos += l2;
            } else if (f == 2 && wt == 5) {
                if (end - pos < 4)
                    goto bad;
                uint32_t u = qfi_load_le32(d + pos);
                memcpy(&score, &u, 4);
                pos += 4;
            } else if (f == 3 && wt == 0) {
                if (pb_varint(d, end, &pos, &type))
                    goto bad;
            } else if (pb_skip(d, end, &pos, wt)) {
                goto bad;
            }
        }
        v->tok[id] = malloc(plen + 1);
        if (!v->tok[id]) {
            qfi_source_close(s);
            return qfi_error(err, QF_ENOMEM, ENOMEM, path, -1, "out of memory");
        }
        if (plen)
            memcpy(v->tok[id], piece, plen);
        v->tok[id][plen] = '\0';
        v->len[id] = plen;
        v->score[id] = score;
        /* sentencepiece types: NORMAL 1, UNKNOWN 2, CONTROL 3, USER_DEFINED 4, UNUSED 5,
         * BYTE 6; the converter keeps UNKNOWN, CONTROL, UNUSED and BYTE, else NORMAL */
        v->type[id] = (type == 2 || type == 3 || type == 5 || type == 6) ? (int32_t)type : 1;
        id++;
    }
    qfi_source_close(s);
    return QF_OK;
bad:
    qfi_source_close(s);
    return qfi_error(err, QF_EFORMAT, 0, path, (int64_t)pos,
                     "malformed tokenizer.model (expected a SentencePiece protobuf)");
}

/* tokenizer_config.json added_tokens_decoder: {"id": {"content": ..., "special": bool}} */
static int spm_added(struct vocab *v, json_t *tc, const char *path, struct qf_error *err)
{
    json_t *dec = json_object_get(tc, "added_tokens_decoder");
    if (!json_is_object(dec))
        return QF_OK;
    const char *ks;
    json_t *val;
    json_object_foreach(dec, ks, val) {
        char *end;
        errno = 0;
        unsigned long long id = strtoull(ks, &end, 10);
        if (errno || *end || end == ks || id >= v->n)
            continue;
        json_t *c = json_object_get(val, "content");
        if (!json_is_string(c))
            continue;
        const char *s = json_string_value(c);
        size_t sl = json_string_length(c);
        int special = json_is_true(json_object_get(val, "special"));
        char *t = malloc(sl + 1);
        if (!t)
            return qfi_error(err, QF_ENOMEM, ENOMEM, path, -1, "out of memory");
        size_t o = 0;
        for (size_t i = 0; i < sl; i++) {
            /* user-defined tokens: U+2581 (e2 96 81) pre-normalised to a space */
            if (!special && i + 2 < sl && (uint8_t)s[i] == 0xe2 && (uint8_t)s[i + 1] == 0x96 &&
                (uint8_t)s[i + 2] == 0x81) {
                t[o++] = ' ';
                i += 2;
            } else {
                t[o++] = s[i];
            }
        }
        t[o] = '\0';
        free(v->tok[id]);
        v->tok[id] = t;
        v->len[id] = o;
        v->type[id] = special ? 3 : 4;
        v->score[id] = -1000.0f;
    }
    return QF_OK;
}

static int vocab_kvs(struct qf_convert_plan *p, const struct vocab *v)
{
    uint64_t nb = 0;
    for (uint64_t i = 0; i < v->n; i++)
        nb += 8 + v->len[i];
    uint8_t *toks = malloc(nb ? nb : 1);
    uint8_t *sc = malloc(v->n * 4);
    uint8_t *ty = malloc(v->n * 4);
    if (!toks || !sc || !ty) {
        free(toks);
        free(sc);
        free(ty);
        return QF_ENOMEM;
    }
    uint64_t o = 0;
    for (uint64_t i = 0; i < v->n; i++) {
        qfi_store_le64(toks + o, v->len[i]);
        memcpy(toks + o + 8, v->tok[i], v->len[i]);
        o += 8 + v->len[i];
        uint32_t u;
        memcpy(&u, &v->score[i], 4);
        qfi_store_le32(sc + 4 * i, u);
        qfi_store_le32(ty + 4 * i, (uint32_t)v->type[i]);
    }
    int rc = kv_array(p, "tokenizer.ggml.tokens", QF_V_STRING, v->n, toks, nb);
    if (rc) {
        free(sc);
        free(ty);
        return rc;
    }
    rc = kv_array(p, "tokenizer.ggml.scores", QF_V_F32, v->n, sc, v->n * 4);
    if (rc) {
        free(ty);
        return rc;
    }
    return kv_array(p, "tokenizer.ggml.token_type", QF_V_I32, v->n, ty, v->n * 4);
}

/* Find a token id by its text in tokenizer.json "added_tokens". */
static int added_token_id(json_t *tj, const char *content, uint64_t *id)
{
    json_t *arr = json_object_get(tj, "added_tokens");
    size_t i;
    json_t *e;
    if (!json_is_array(arr))
        return 0;
    json_array_foreach(arr, i, e) {
        json_t *c = json_object_get(e, "content");
        json_t *n = json_object_get(e, "id");
        if (json_is_string(c) && json_is_integer(n) && strcmp(json_string_value(c), content) == 0 &&
            json_integer_value(n) >= 0) {
            *id = (uint64_t)json_integer_value(n);
            return 1;
        }
    }
    return 0;
}

static char *join_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s/%s", dir, name);
    return s;
}

static int file_exists(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f)
        fclose(f);
    return f != NULL;
}

/* Tokenizer keys (hf-to-gguf-naming.md §6) for a SentencePiece model; a directory with only
 * a BPE tokenizer.json, or none, gets QF_CONVERT_PLAN_NO_VOCAB. */
static int hf_tokenizer_kvs(struct qf_convert_plan *p, const char *dir, struct qf_error *err)
{
    int rc = QF_OK;
    char *spm = join_path(dir, "tokenizer.model");
    char *tcp = join_path(dir, "tokenizer_config.json");
    char *tjp = join_path(dir, "tokenizer.json");
    json_t *tc = NULL, *tj = NULL;
    struct vocab v = {0};
    if (!spm || !tcp || !tjp) {
        rc = qfi_error(err, QF_ENOMEM, ENOMEM, NULL, -1, "out of memory");
        goto out;
    }
    if (!file_exists(spm)) {
        p->flags |= QF_CONVERT_PLAN_NO_VOCAB;
        if (file_exists(tjp))
            rc = note(p, "no vocabulary: '%s' (BPE) is not converted, only tokenizer.model", tjp);
        else
            rc = note(p, "no vocabulary: no tokenizer.model in '%s'", dir);
        goto out;
    }
    if (file_exists(tcp) && (rc = qfi_json_load_file(tcp, (void **)&tc, err)))
        goto out;
    if (file_exists(tjp) && (rc = qfi_json_load_file(tjp, (void **)&tj, err)))
        goto out;
    uint64_t vs = 0;
    cfg_u64(p->m, KEYS("vocab_size"), &vs);
    if ((rc = spm_load(spm, &v, vs, err)))
        goto out;
    if (tc && (rc = spm_added(&v, tc, tcp, err)))
        goto out;
    rc = kv_str(p, "tokenizer.ggml.model", "llama", 5);
    rc = rc ? rc : kv_str(p, "tokenizer.ggml.pre", "default", 7);
    rc = rc ? rc : vocab_kvs(p, &v);
    if (rc) {
        rc = qfi_error(err, rc, 0, NULL, -1, "out of memory");
        goto out;
    }
    /* special token ids: tokenizer_config.json <type>_token looked up in tokenizer.json
     * added_tokens, else config.json <type>_token_id; ids past the vocabulary skipped */
    static const struct {
        const char *typ, *key;
    } sp[] = {{"bos", "tokenizer.ggml.bos_token_id"},     {"eos", "tokenizer.ggml.eos_token_id"},
              {"unk", "tokenizer.ggml.unknown_token_id"}, {"sep", "tokenizer.ggml.seperator_token_id"},
              {"pad", "tokenizer.ggml.padding_token_id"}, {"cls", "tokenizer.ggml.cls_token_id"},
              {"mask", "tokenizer.ggml.mask_token_id"}};
    int found[7] = {0};
    uint64_t ids[7] = {0};
    int seq[7], nseq = 0;
    for (int i = 0; i < 7 && tc && tj; i++) {
        char k[32];
        snprintf(k, sizeof k, "%s_token", sp[i].typ);
        json_t *e = json_object_get(tc, k);
        if (json_is_object(e))
            e = json_object_get(e, "content");
        if (json_is_string(e) && added_token_id(tj, json_string_value(e), &ids[i]) &&
            ids[i] < v.n) {
            found[i] = 1;
            seq[nseq++] = i;
        }
    }
    for (int i = 0; i < 7; i++) {
        char k[32];
        uint64_t id;
        snprintf(k, sizeof k, "%s_token_id", sp[i].typ);
        if (!found[i] && cfg_u64(p->m, KEYS(k), &id) && id < v.n) {
            found[i] = 1;
            ids[i] = id;
            seq[nseq++] = i;
        }
    }
    for (int j = 0; j < nseq && !rc; j++)
        rc = kv_u32(p, sp[seq[j]].key, ids[seq[j]]);
    static const char *const addt[] = {"bos", "eos", "unk", "sep", "pad", "cls", "mask"};
    for (int i = 0; i < 7 && tc && !rc; i++) {
        char k[40], gk[64];
        snprintf(k, sizeof k, "add_%s_token", addt[i]);
        json_t *e = json_object_get(tc, k);
        if (json_is_boolean(e)) {
            snprintf(gk, sizeof gk, "tokenizer.ggml.add_%s_token", addt[i]);
            rc = kv_bool(p, gk, json_is_true(e));
        }
    }
    if (tc && !rc) {
        json_t *ct = json_object_get(tc, "chat_template");
        if (json_is_string(ct))
            rc = kv_str(p, "tokenizer.chat_template", json_string_value(ct),
                        json_string_length(ct));
        json_t *asp = json_object_get(tc, "add_prefix_space");
        if (!rc && json_is_boolean(asp))
            rc = kv_bool(p, "tokenizer.ggml.add_space_prefix", json_is_true(asp));
    }
    if (rc)
        rc = qfi_error(err, rc, 0, NULL, -1, "out of memory");
out:
    vocab_free(&v);
    if (tc)
        json_decref(tc);
    if (tj)
        json_decref(tj);
    free(spm);
    free(tcp);
    free(tjp);
    return rc;
}

/* ---------------------------------------------------------------------------------------
 * Names
 */
/* Converter-dropped Hugging Face tensors. */
static int hf_dropped(const char *name)
{
    return ends_with(name, "rotary_emb.inv_freq") || ends_with(name, "attention.masked_bias") ||
           ends_with(name, "attention.bias");
}

/* GGUF -> Hugging Face names of the Llama family (the inverse of qf_arch_gguf_tensor_name). */
static int hf_name(const char *g, char *buf, size_t n)
{
    static const struct {
        const char *gguf, *hf;
    } glob[] = {{"token_embd", "model.embed_tokens"},
                {"output_norm", "model.norm"},
                {"output", "lm_head"}},
      layer[] = {{"attn_norm", "input_layernorm"},   {"attn_q", "self_attn.q_proj"},
                 {"attn_k", "self_attn.k_proj"},     {"attn_v", "self_attn.v_proj"},
                 {"attn_output", "self_attn.o_proj"}, {"ffn_norm", "post_attention_layernorm"},
                 {"ffn_gate", "mlp.gate_proj"},      {"ffn_up", "mlp.up_proj"},
                 {"ffn_down", "mlp.down_proj"}};
    const char *suf = ends_with(g, ".weight") ? ".weight" : ends_with(g, ".bias") ? ".bias" : NULL;
    if (!suf)
        return QF_ENOTFOUND;
    size_t base = strlen(g) - strlen(suf);
    for (size_t i = 0; i < sizeof glob / sizeof glob[0]; i++)
        if (strlen(glob[i].gguf) == base && strncmp(g, glob[i].gguf, base) == 0) {
            int l = snprintf(buf, n, "%s%s", glob[i].hf, suf);
            return l < 0 || (size_t)l >= n ? QF_ELIMIT : l;
        }
    if (strncmp(g, "blk.", 4) != 0)
        return QF_ENOTFOUND;
    const char *d = g + 4, *e = d;
    while (*e >= '0' && *e <= '9')
        e++;
    if (e == d || *e != '.' || e - d > 9)
        return QF_ENOTFOUND;
    const char *part = e + 1;
    size_t plen = strlen(part) - strlen(suf);
    for (size_t i = 0; i < sizeof layer / sizeof layer[0]; i++)
        if (strlen(layer[i].gguf) == plen && strncmp(part, layer[i].gguf, plen) == 0) {
            int l = snprintf(buf, n, "model.layers.%.*s.%s%s", (int)(e - d), d, layer[i].hf, suf);
            return l < 0 || (size_t)l >= n ? QF_ELIMIT : l;
        }
    return QF_ENOTFOUND;
}

/* "blk.N.<part>.weight|bias" */
static int is_layer_part(const char *name, const char *part)
{
    if (strncmp(name, "blk.", 4) != 0)
        return 0;
    const char *e = name + 4;
    while (*e >= '0' && *e <= '9')
        e++;
    if (e == name + 4 || *e != '.')
        return 0;
    e++;
    size_t pl = strlen(part);
    return strncmp(e, part, pl) == 0 && (strcmp(e + pl, ".weight") == 0 || strcmp(e + pl, ".bias") == 0);
}

/* ---------------------------------------------------------------------------------------
 * Type choice
 */
/* Shape fallback of gguf-hash-and-tools.md §3.6 for types chosen outside the recipe (rules,
 * single-type targets). */
static int fallback_type(int t, uint64_t ne0, unsigned qflags, int *fell)
{
    const struct qf_type_info *ti = qf_type_info(t);
    uint64_t blck = ti && ti->blck ? ti->blck : 1;
    *fell = 0;
    if (ne0 % blck == 0)
        return t;
    *fell = 1;
    int fb;
    switch (t) {
    case QF_TYPE_IQ1_S: case QF_TYPE_IQ1_M: case QF_TYPE_IQ2_XXS: case QF_TYPE_IQ2_XS:
    case QF_TYPE_IQ2_S: case QF_TYPE_IQ3_XXS: case QF_TYPE_IQ3_S: case QF_TYPE_IQ4_XS:
        fb = QF_TYPE_IQ4_NL;
        break;
    case QF_TYPE_Q2_K: case QF_TYPE_Q3_K:
        fb = (qflags & QF_QUANT_RECIPE_NEW) ? QF_TYPE_Q4_0 : QF_TYPE_IQ4_NL;
        break;
    case QF_TYPE_Q2_0: case QF_TYPE_TQ1_0: case QF_TYPE_TQ2_0: fb = QF_TYPE_Q4_0; break;
    case QF_TYPE_Q4_K: fb = QF_TYPE_Q5_0; break;
    case QF_TYPE_Q5_K: fb = QF_TYPE_Q5_1; break;
    case QF_TYPE_Q6_K: fb = QF_TYPE_Q8_0; break;
    default:
        if ((qflags & QF_QUANT_FALLBACK_F16) && blck <= 32)
            return QF_TYPE_F16;
        return QF_EUNSUPPORTED;
    }
    if (ne0 % qf_type_info(fb)->blck != 0)
        return QF_TYPE_F16;
    return fb;
}

struct crule {
    regex_t re;
    int type;
};

/* Types llama-quantize refuses to make without an importance matrix (§3.7). */
static int needs_imatrix(int type, int ftype)
{
    switch (type) {
    case QF_TYPE_IQ3_XXS: case QF_TYPE_IQ2_XXS: case QF_TYPE_IQ2_XS: case QF_TYPE_IQ2_S:
    case QF_TYPE_IQ1_M: case QF_TYPE_IQ1_S:
        return 1;
    case QF_TYPE_Q2_K:
        return ftype == QF_FTYPE_Q2_K_S;
    default:
        return 0;
    }
}

/* ---------------------------------------------------------------------------------------
 * Layout: lay the declared file out without creating it (the writer's format module plans
 * the header; convert.c lives in libfmt and may use the writer's internal state).
 */
static int declare(const struct qf_convert_plan *p, struct qf_writer *w, struct qf_error *err)
{
    int rc = QF_OK;
    for (size_t i = 0; i < p->n_kv && !rc; i++)
        rc = qf_writer_add_kv(w, p->kv[i].key, &p->kv[i].val, err);
    for (size_t i = 0; i < p->n_items && !rc; i++) {
        const struct qf_convert_item *it = &p->items[i];
        rc = qf_writer_add_tensor(w, it->name, it->type, it->n_dims, it->shape, err);
    }
    return rc;
}

static struct qf_writer_opts writer_opts(const struct qf_convert_plan *p, int no_fsync)
{
    struct qf_writer_opts wo;
    memset(&wo, 0, sizeof wo);
    wo.alignment = p->o.alignment;
    wo.no_fsync = no_fsync;
    return wo;
}

static int layout(struct qf_convert_plan *p, struct qf_error *err)
{
    const struct qfi_format *fmt = qfi_format_by_name(p->format);
    if (!fmt || !fmt->write_plan)
        return qfi_error(err, QF_EUNSUPPORTED, 0, NULL, -1, "cannot write format '%s'", p->format);
    struct qf_writer *w = calloc(1, sizeof *w);
    if (!w)
        return qfi_error(err, QF_ENOMEM, ENOMEM, NULL, -1, "out of memory");
    w->fmt = fmt;
    w->fd = -1;
    w->opts = writer_opts(p, 1);
    w->path = strdup("(plan)");
    if (!w->path) {
        free(w);
        return qfi_error(err, QF_ENOMEM, ENOMEM, NULL, -1, "out of memory");
    }
    int rc = declare(p, w, err);
    if (!rc) {
        w->order = calloc(w->n_t ? w->n_t : 1, sizeof *w->order);
        if (!w->order)
            rc = qfi_error(err, QF_ENOMEM, ENOMEM, NULL, -1, "out of memory");
        for (size_t i = 0; !rc && i < w->n_t; i++)
            w->order[i] = i;
    }
    if (!rc)
        rc = fmt->write_plan(w, err);
    if (!rc) {
        p->order = malloc((p->n_items ? p->n_items : 1) * sizeof *p->order);
        if (!p->order)
            rc = qfi_error(err, QF_ENOMEM, ENOMEM, NULL, -1, "out of memory");
    }
    if (!rc) {
        for (size_t k = 0; k < p->n_items; k++) {
            p->order[k] = w->order[k];
            p->items[k].offset = w->t[k].offset;
        }
        p->file_size = w->file_size;
        p->header_size = w->header_len;
    }
    qf_writer_free(w);
    return rc;
}

/* ---------------------------------------------------------------------------------------
 * Planning
 */
void qf_convert_opts_init(struct qf_convert_opts *o)
{
    memset(o, 0, sizeof *o);
    o->ftype = -1;
    o->type = -1;
    o->quant.output_type = -1;
    o->quant.token_embd_type = -1;
}

struct sitem {
    size_t idx;
    const char *name;
};

static int sitem_cmp(const void *a, const void *b)
{
    const struct sitem *x = a, *y = b;
    int c = qf_ftype_name_cmp(x->name, y->name);
    if (c)
        return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int is_split_key(const struct qf_str *k)
{
    return str_eq(k, "split.no") || str_eq(k, "split.count") || str_eq(k, "split.tensors.count");
}

/* The file type written for a single-type target: the file type whose base type it is. */
static int ftype_of_type(int type)
{
    size_t n;
    const struct qf_ftype_info *l = qf_ftype_list(&n);
    if (type == QF_TYPE_F32)
        return QF_FTYPE_ALL_F32;
    for (size_t i = 0; i < n; i++)
        if (!l[i].removed && l[i].base_type == type && l[i].id != QF_FTYPE_GUESSED)
            return l[i].id;
    return -1;
}

static int gguf_kvs(struct qf_convert_plan *p, struct qf_error *err)
{
    const struct qf_model *m = p->m;
    size_t n = qf_model_n_kv(m);
    int rc = QF_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        const struct qf_kv *kv = qf_model_kv(m, i);
        if (kv->origin[0] || kv->file_index != 0 || is_split_key(&kv->key) ||
            str_eq(&kv->key, "general.quantization_version") ||
            str_eq(&kv->key, "general.file_type"))
            continue;
        if (memchr(kv->key.ptr, 0, kv->key.len))
            continue; /* cannot be written (the reader refuses such keys anyway) */
        char *k = pstrndup(p, kv->key.ptr, kv->key.len);
        if (!k)
            return qfi_error(err, QF_ENOMEM, ENOMEM, NULL, -1, "out of memory");
        rc = kv_put(p, k, &kv->val);
    }
    return rc ? qfi_error(err, rc, 0, NULL, -1, "out of memory") : QF_OK;
}

/* Model directory of a safetensors input (where config.json and the tokenizer live). */
static char *model_dir(const struct qf_model *m)
{
    size_t n = qf_model_n_files(m);
    const char *path = NULL;
    for (size_t i = 0; i < n && !path; i++)
        if (strcmp(qf_model_file(m, i)->role, "config") == 0)
            path = qf_model_file(m, i)->path;
    if (!path && n)
        path = qf_model_file(m, 0)->path;
    if (!path)
        return NULL;
    const char *sl = strrchr(path, '/');
    if (!sl)
        return strdup(".");
    size_t l = sl == path ? 1 : (size_t)(sl - path);
    char *d = malloc(l + 1);
    if (d) {
        memcpy(d, path, l);
        d[l] = '\0';
    }
    return d;
}

static int plan_fail(struct qf_convert_plan *p, int rc)
{
    qf_convert_plan_free(p);
    return rc;
}

int qf_convert_plan_new(struct qf_model *m, const struct qf_convert_opts *opts,
                        struct qf_convert_plan **out, struct qf_error *err)
{
    qf_error_clear(err);
    *out = NULL;
    if (!m || !opts)
        return qfi_error(err, QF_EINVAL, 0, NULL, -1, "no model or options");
    struct qf_convert_plan *p = calloc(1, sizeof *p);
    if (!p)
        return qfi_error(err, QF_ENOMEM, ENOMEM, NULL, -1, "out of memory");
    p->m = m;
    p->o = *opts;
    p->ftype_written = -1;
    struct qf_convert_opts *o = &p->o;
    struct crule *rules = NULL;
    size_t n_rules_ok = 0;
    struct sitem *sorted = NULL;
    char **names = NULL;
    size_t nt = qf_model_n_tensors(m);
    int rc = QF_OK;
    char q[200];

    /* options */
    p->format = (!o->format || strcmp(o->format, "gguf") == 0) ? "gguf"
                : strcmp(o->format, "safetensors") == 0    ? "safetensors"
                                                           : NULL;
    if (!p->format)
        return plan_fail(p, qfi_error(err, QF_EINVAL, 0, NULL, -1, "unknown output format '%s'",
                                      o->format));
    const int out_gguf = strcmp(p->format, "gguf") == 0;
    const struct qf_ftype_info *fi = NULL;
    int base;
    if (o->ftype >= 0) {
        fi = qf_ftype_info(o->ftype);
        if (!fi || fi->removed || fi->base_type == QF_TYPE_INVALID)
            return plan_fail(p, qfi_error(err, QF_EINVAL, 0, NULL, -1, "invalid file type %d",
                                          o->ftype));
        base = fi->base_type;
        p->ftype_written = o->ftype;
    } else {
        base = o->type;
        const struct qf_type_info *ti = qf_type_info(base);
        if (!ti || !(ti->flags & QF_TYPEF_VALID) || !qf_type_can_quantize(base))
            return plan_fail(p, qfi_error(err, QF_EINVAL, 0, NULL, -1,
                                          "no target type (or one that cannot be written)"));
        p->ftype_written = ftype_of_type(base);
    }
    const int base_quant = is_quant_type(base);
    if (o->imatrix)
        o->quant.flags |= QF_QUANT_IMATRIX;
    /* the types convert_hf_to_gguf.py writes itself: from a checkpoint, those are made as it
     * makes them (its order, its metadata order, F16 for rows its quantizer cannot take);
     * other types as llama-quantize would make them from its output */
    const int hf_native = base == QF_TYPE_F32 || base == QF_TYPE_F16 || base == QF_TYPE_BF16 ||
                          (o->ftype >= 0 && (base == QF_TYPE_Q8_0 || base == QF_TYPE_TQ1_0 ||
                                             base == QF_TYPE_TQ2_0));
    if (hf_native && strcmp(qf_model_format(m) ? qf_model_format(m) : "", "gguf") != 0)
        o->quant.flags |= QF_QUANT_FALLBACK_F16;
    if (o->quant.output_type >= 0 && !qf_type_can_quantize(o->quant.output_type))
        return plan_fail(p, qfi_error(err, QF_EINVAL, 0, NULL, -1,
                                      "cannot make %s tensors (output tensor type)",
                                      qf_type_name(o->quant.output_type)));
    if (o->quant.token_embd_type >= 0 && !qf_type_can_quantize(o->quant.token_embd_type))
        return plan_fail(p, qfi_error(err, QF_EINVAL, 0, NULL, -1,
                                      "cannot make %s tensors (token embedding type)",
                                      qf_type_name(o->quant.token_embd_type)));
    if (o->n_rules) {
        rules = calloc(o->n_rules, sizeof *rules);
        if (!rules)
            return plan_fail(p, qfi_error(err, QF_ENOMEM, ENOMEM, NULL, -1, "out of memory"));
        for (size_t i = 0; i < o->n_rules; i++) {
            char *pat = strdup(o->rules[i].pattern ? o->rules[i].pattern : "");
            if (!pat) {
                rc = qfi_error(err, QF_ENOMEM, ENOMEM, NULL, -1, "out of memory");
                goto fail;
            }
            for (char *c = pat; *c; c++) /* llama-quantize lower-cases patterns */
                if (*c >= 'A' && *c <= 'Z')
                    *c = (char)(*c - 'A' + 'a');
            int r = regcomp(&rules[i].re, pat, REG_EXTENDED | REG_NOSUB);
            free(pat);
            if (r) {
                rc = qfi_error(err, QF_EINVAL, 0, NULL, -1, "bad tensor type pattern '%s'",
                               o->rules[i].pattern);
                goto fail;
            }
            n_rules_ok++;
            rules[i].type = o->rules[i].type;
            if (!qf_type_can_quantize(rules[i].type)) {
                rc = qfi_error(err, QF_EINVAL, 0, NULL, -1, "cannot make %s tensors (pattern '%s')",
                               qf_type_name(rules[i].type), o->rules[i].pattern);
                goto fail;
            }
        }
    }

    /* input */
    const char *ifmt = qf_model_format(m);
    const int in_gguf = ifmt && strcmp(ifmt, "gguf") == 0;
    if (in_gguf && qf_model_big_endian(m)) {
        rc = qfi_error(err, QF_EUNSUPPORTED, 0, NULL, -1,
                       "big-endian GGUF tensor data is not converted");
        goto fail;
    }
    struct qf_arch arch;
    qf_arch_from_model(m, &arch);
    int hf = 0, permute = 0;
    /* a quantized layout (GPTQ, AWQ, ...): its layers are items of their logical shape; a
     * layout that does not read (bad g_idx, parts missing) is refused as it is */
    if (!in_gguf) {
        if ((rc = qf_layout_scan(m, 0, &p->l, err))) {
            p->l = NULL;
            goto fail;
        }
        size_t nl = 0;
        for (size_t i = 0; i < qf_layout_n_tensors(p->l); i++)
            nl += qf_layout_tensor(p->l, i)->family != QF_LAYOUT_PLAIN;
        if (!nl) {
            qf_layout_free(p->l);
            p->l = NULL;
        }
    }
    if (!in_gguf) {
        hf = strcmp(arch.source, "config.json") == 0;
        if (hf) {
            if (strcmp(arch.name, "llama") != 0 && strcmp(arch.name, "qwen2") != 0) {
                rc = qfi_error(err, QF_EUNSUPPORTED, 0, NULL, -1,
                               "architecture '%s' (%s) is not converted (the Llama and Qwen2 "
                               "families are)",
                               arch.name[0] ? arch.name : "?",
                               arch.hf_arch[0] ? arch.hf_arch : "no architectures in config.json");
                goto fail;
            }
            permute = strcmp(arch.name, "llama") == 0;
            for (size_t i = 0; !p->l && i < qf_model_n_kv(m); i++) {
                const struct qf_kv *kv = qf_model_kv(m, i);
                if (strcmp(kv->origin, "config.json") == 0 && kv->key.len >= 20 &&
                    memcmp(kv->key.ptr, "quantization_config.", 20) == 0) {
                    rc = qfi_error(err, QF_EUNSUPPORTED, 0, NULL, -1,
                                   "quantized checkpoints (config.json quantization_config) are "
                                   "not converted");
                    goto fail;
                }
            }
            if ((arch.known & (QF_ARCH_N_HEAD | QF_ARCH_N_HEAD_KV)) !=
                    (QF_ARCH_N_HEAD | QF_ARCH_N_HEAD_KV) && permute) {
                rc = qfi_error(err, QF_EUNSUPPORTED, 0, NULL, -1,
                               "config.json gives no attention head counts (needed to permute "
                               "Q/K rows)");
                goto fail;
            }
        } else if (note(p, "no config.json: tensor names kept, no architecture metadata")) {
            rc = qfi_error(err, QF_ENOMEM, ENOMEM, NULL, -1, "out of memory");
            goto fail;
        }
    }
    if ((permute || (o->flags & QF_CONVERT_HF_NAMES)) &&
        (arch.n_head > 65536 || arch.n_head_kv > 65536)) {
        rc = qfi_error(err, QF_EFORMAT, 0, NULL, -1, "implausible attention head count %llu",
                       (unsigned long long)arch.n_head);
        goto fail;
    }
    int inv_permute = 0;
    if (!out_gguf && (o->flags & QF_CONVERT_HF_NAMES)) {
        if (!in_gguf || strcmp(arch.name, "llama") != 0) {
            rc = qfi_error(err, QF_EUNSUPPORTED, 0, NULL, -1,
                           "Hugging Face names are written for GGUF inputs of the llama "
                           "architecture only (this is '%s')", arch.name[0] ? arch.name : "?");
            goto fail;
        }
        if (!(arch.known & QF_ARCH_N_HEAD)) {
            rc = qfi_error(err, QF_EUNSUPPORTED, 0, NULL, -1,
                           "no llama.attention.head_count: cannot un-permute Q/K rows");
            goto fail;
        }
        inv_permute = 1;
    }

    /* items, in input order first */
    p->items = calloc(nt ? nt : 1, sizeof *p->items);
    p->ex = calloc(nt ? nt : 1, sizeof *p->ex);
    names = calloc(nt ? nt : 1, sizeof *names); /* GGUF names (recipe and order) */
    sorted = calloc(nt ? nt : 1, sizeof *sorted);
    if (!p->items || !p->ex || !names || !sorted) {
        rc = qfi_error(err, QF_ENOMEM, ENOMEM, NULL, -1, "out of memory");
        goto fail;
    }
    size_t n = 0;
    const size_t nsrc = p->l ? qf_layout_n_tensors(p->l) : nt;
    for (size_t i = 0; i < nsrc; i++) {
        const struct qf_ltensor *lt = p->l ? qf_layout_tensor(p->l, i) : NULL;
        const struct qf_tensor *t =
            !lt ? qf_model_tensor(m, i)
                : lt->parts[lt->family == QF_LAYOUT_PLAIN ? 0 : QF_LPART_QWEIGHT];
        if (lt && lt->family == QF_LAYOUT_PLAIN)
            lt = NULL;
        const char *tname = lt ? lt->name : t->name;
        const size_t tlen = lt ? strlen(lt->name) : t->name_len;
        char buf[QFI_MAX_NAME + 64];
        const char *g = tname;
        if (hf) {
            int r = qf_arch_gguf_tensor_name(tname, buf, sizeof buf);
            if (r < 0) {
                if (hf_dropped(tname))
                    continue;
                rc = qfi_error(err, QF_EUNSUPPORTED, 0, NULL, -1,
                               "cannot map tensor '%s' to a GGUF name",
                               qfi_quote(q, sizeof q, tname, tlen));
                goto fail;
            }
            g = buf;
        }
        if (t->n_dims > 4 && out_gguf) {
            rc = qfi_error(err, QF_EUNSUPPORTED, 0, NULL, -1,
                           "tensor '%s' has %d dimensions (GGUF holds at most 4)",
                           qfi_quote(q, sizeof q, tname, tlen), t->n_dims);
            goto fail;
        }
        names[n] = pstrndup(p, g, strlen(g));
        if (!names[n]) {
            rc = qfi_error(err, QF_ENOMEM, ENOMEM, NULL, -1, "out of memory");
            goto fail;
        }
        struct qf_convert_item *it = &p->items[n];
        it->src = t;
        it->src_type = t->type;
        it->n_dims = t->n_dims;
        memcpy(it->shape, t->shape, sizeof it->shape);
        it->nelem = t->nelem;
        it->name = names[n];
        p->ex[n].src_index = i;
        if (lt) { /* decoded values of the layer's logical shape */
            it->src_type = QF_TYPE_F32;
            it->n_dims = lt->n_dims;
            memcpy(it->shape, lt->shape, sizeof it->shape);
            it->nelem = lt->nelem;
            p->ex[n].lt = lt;
        }
        if (permute && (is_layer_part(g, "attn_q") || is_layer_part(g, "attn_k"))) {
            p->ex[n].perm_heads = (int)(is_layer_part(g, "attn_q") ? arch.n_head : arch.n_head_kv);
            if (p->ex[n].perm_heads <= 0) {
                rc = qfi_error(err, QF_EFORMAT, 0, NULL, -1,
                               "tensor '%s': config.json gives no attention head count to "
                               "permute its rows with", g);
                goto fail;
            }
        }
        if (inv_permute && (is_layer_part(g, "attn_q") || is_layer_part(g, "attn_k"))) {
            p->ex[n].perm_heads =
                (int)(is_layer_part(g, "attn_q") || !(arch.known & QF_ARCH_N_HEAD_KV)
                          ? arch.n_head
                          : arch.n_head_kv);
            p->ex[n].perm_inverse = 1;
            if (p->ex[n].perm_heads <= 0) {
                rc = qfi_error(err, QF_EFORMAT, 0, NULL, -1,
                               "tensor '%s': no attention head count to un-permute its rows with",
                               g);
                goto fail;
            }
        }
        if (inv_permute) {
            char hb[QFI_MAX_NAME + 64];
            if (hf_name(g, hb, sizeof hb) >= 0) {
                it->name = pstrndup(p, hb, strlen(hb));
                if (!it->name) {
                    rc = qfi_error(err, QF_ENOMEM, ENOMEM, NULL, -1, "out of memory");
                    goto fail;
                }
            }
        }
        sorted[n].idx = n;
        sorted[n].name = names[n];
        n++;
    }
    p->n_items = n;
    qsort(sorted, n, sizeof *sorted, sitem_cmp);

    /* model facts for the recipe */
    struct qf_quant_model mi;
    qf_quant_model_init(&mi, m);
    struct qf_quant_state st;
    memset(&st, 0, sizeof st);
    const int float_target = !base_quant;
    size_t n_no_imat = 0;

    for (size_t k = 0; k < n; k++) {
        size_t i = sorted[k].idx;
        struct qf_convert_item *it = &p->items[i];
        const char *g = names[i];
        const uint64_t ne0 = it->n_dims ? it->shape[it->n_dims - 1] : 1;
        int cur = it->src_type;
        int eligible = qf_ftype_eligible(g, it->n_dims, it->shape, &o->quant);
        /* the HF converter writes tensors llama-quantize would not touch as F32 */
        if (hf && !eligible && (is_float_type(cur) || (qf_type_info(cur) &&
                                                       (qf_type_info(cur)->flags & QF_TYPEF_FLOAT))))
            cur = QF_TYPE_F32;
        int t = cur;
        unsigned how = 0;
        const int is_out = strcmp(g, "output.weight") == 0;
        const int is_tok =
            strcmp(g, "token_embd.weight") == 0 || strcmp(g, "per_layer_token_embd.weight") == 0;
        int ruled = 0;
        if (eligible && base_quant && !(is_out && o->quant.output_type >= 0) &&
            !(is_tok && o->quant.token_embd_type >= 0)) {
            for (size_t r = 0; r < o->n_rules; r++)
                if (regexec(&rules[r].re, g, 0, NULL, 0) == 0) {
                    int fell;
                    t = fallback_type(rules[r].type, ne0, o->quant.flags, &fell);
                    how = QF_CONVERT_BY_RULE | QF_QUANT_MIXED | (fell ? QF_QUANT_FALLBACK : 0);
                    ruled = 1;
                    break;
                }
        }
        if (!ruled && fi) {
            t = qf_ftype_tensor_type(o->ftype, &mi, &o->quant, &st, g, it->n_dims, it->shape, cur,
                                     &how);
        } else if (!ruled) {
            if (!eligible) {
                how = QF_QUANT_KEPT;
            } else {
                int want = base;
                if (is_out && o->quant.output_type >= 0)
                    want = o->quant.output_type;
                else if (is_tok && o->quant.token_embd_type >= 0)
                    want = o->quant.token_embd_type;
                int fell = 0;
                t = is_quant_type(want) ? fallback_type(want, ne0, o->quant.flags, &fell) : want;
                how = (want != base ? QF_QUANT_MIXED : 0) | (fell ? QF_QUANT_FALLBACK : 0);
            }
        }
        if (t < 0) {
            if (fi)
                rc = qfi_error(err, QF_EUNSUPPORTED, 0, NULL, -1,
                               "tensor '%s': rows of %llu elements fit no type of the %s recipe "
                               "(llama-quantize refuses this model)",
                               g, (unsigned long long)ne0, fi->name);
            else
                rc = qfi_error(err, QF_EUNSUPPORTED, 0, NULL, -1,
                               "tensor '%s': rows of %llu elements are not whole %s blocks and "
                               "no fallback type fits",
                               g, (unsigned long long)ne0, qf_type_name(base));
            goto fail;
        }
        /* dequantizing targets make every quantized tensor float, kept ones too */
        if (float_target && is_quant_type(t) && (how & QF_QUANT_KEPT))
            t = QF_TYPE_F32;
        if (!out_gguf && !qf_type_st_dtype(t)) {
            if (!(how & QF_QUANT_KEPT) || !is_quant_type(it->src_type)) {
                rc = qfi_error(err, QF_EUNSUPPORTED, 0, NULL, -1,
                               "tensor '%s': safetensors cannot hold %s data (convert to F32, "
                               "F16 or BF16)",
                               g, qf_type_name(t));
                goto fail;
            }
            t = QF_TYPE_F32;
        }
        if (out_gguf && (!qf_type_info(t) || !(qf_type_info(t)->flags & QF_TYPEF_GGUF))) {
            rc = qfi_error(err, QF_EUNSUPPORTED, 0, NULL, -1,
                           "tensor '%s': GGUF cannot hold %s data (convert with --type F32, "
                           "F16 or BF16)",
                           g, qf_type_name(t));
            goto fail;
        }
        if (is_quant_type(it->src_type) && t != it->src_type && is_quant_type(t) &&
            !(o->flags & QF_CONVERT_ALLOW_REQUANTIZE)) {
            rc = qfi_error(err, QF_EUNSUPPORTED, 0, NULL, -1,
                           "tensor '%s': requantizing from %s to %s is disabled "
                           "(--allow-requantize)",
                           g, qf_type_name(it->src_type), qf_type_name(t));
            goto fail;
        }
        it->type = t;
        it->how = how;
        it->path = (t == it->src_type) ? QF_CONVERT_COPY : QF_CONVERT_REQUANTIZE;
        if (p->ex[i].lt) { /* a layout's layer: decoded (or repacked), never copied */
            it->path = QF_CONVERT_REQUANTIZE;
            p->ex[i].repack = qfi_cl_repack_kind(m, p->ex[i].lt, t);
        }
        if (it->path == QF_CONVERT_REQUANTIZE &&
            (!qf_type_can_dequantize(it->src_type) || !qf_type_can_quantize(t))) {
            rc = qfi_error(err, QF_EUNSUPPORTED, 0, NULL, -1,
                           "tensor '%s': no conversion from %s to %s", g,
                           qf_type_name(it->src_type), qf_type_name(t));
            goto fail;
        }
        it->lossy = it->path == QF_CONVERT_REQUANTIZE && t != QF_TYPE_F32 &&
                    p->ex[i].repack != QFI_CL_Q4_0 && p->ex[i].repack != QFI_CL_Q8_0;
        if (p->ex[i].perm_heads) {
            uint64_t rows = it->shape[0];
            uint64_t h = (uint64_t)p->ex[i].perm_heads;
            if (it->n_dims < 1 || it->n_dims > 2 || h == 0 || rows % (2 * h) != 0) {
                rc = qfi_error(err, QF_EUNSUPPORTED, 0, NULL, -1,
                               "tensor '%s': %llu rows cannot be permuted for %llu heads", g,
                               (unsigned long long)rows, (unsigned long long)h);
                goto fail;
            }
            if (it->n_dims == 1 && qf_type_info(it->src_type)->blck != 1) {
                rc = qfi_error(err, QF_EUNSUPPORTED, 0, NULL, -1,
                               "tensor '%s': a %s vector cannot be permuted", g,
                               qf_type_name(it->src_type));
                goto fail;
            }
            it->how |= QF_CONVERT_PERMUTED;
        }
        int64_t nb = qf_type_nbytes(t, ne0, it->nelem);
        if (nb < 0) {
            rc = qfi_error(err, (int)nb, 0, NULL, -1,
                           "tensor '%s': %s rows of %llu elements are not whole blocks", g,
                           qf_type_name(t), (unsigned long long)ne0);
            goto fail;
        }
        it->nbytes = (uint64_t)nb;
        /* importance matrix */
        if (it->lossy && is_quant_type(t)) {
            uint64_t ine0 = 0, inm = 0;
            const float *iv = o->imatrix ? qf_imatrix_find(o->imatrix, g, &ine0, &inm) : NULL;
            uint64_t per_mat = ne0 * (it->n_dims >= 2 ? it->shape[it->n_dims - 2] : 1);
            uint64_t nmat = it->n_dims >= 3 && per_mat ? it->nelem / per_mat : 1;
            if (iv && inm == 1 && nmat > 1 && ine0 == ne0 * nmat) { /* .dat: all experts in one */
                inm = nmat;
                ine0 = ne0;
            }
            if (iv && (ine0 != ne0 || (inm != 1 && inm != nmat))) {
                if (!is_tok) {
                    rc = qfi_error(err, QF_EFORMAT, 0, o->imatrix_name, -1,
                                   "importance matrix entry '%s' has %llu x %llu values, the "
                                   "tensor needs %llu x %llu",
                                   g, (unsigned long long)inm, (unsigned long long)ine0,
                                   (unsigned long long)nmat, (unsigned long long)ne0);
                    goto fail;
                }
                iv = NULL;
            }
            p->ex[i].imat = iv;
            p->ex[i].n_imat = iv ? inm : 0;
            if (o->imatrix && !iv && !is_tok)
                n_no_imat++;
            if (!iv && ((needs_imatrix(t, o->ftype) && !is_tok && !is_out) ||
                        qf_type_needs_imatrix(t))) {
                if (!(p->flags & QF_CONVERT_PLAN_NEEDS_IMATRIX) &&
                    note(p, "%s needs an importance matrix for %s tensors (first: '%s')",
                         fi ? fi->name : qf_type_name(base), qf_type_name(t), g)) {
                    rc = qfi_error(err, QF_ENOMEM, ENOMEM, NULL, -1, "out of memory");
                    goto fail;
                }
                p->flags |= QF_CONVERT_PLAN_NEEDS_IMATRIX;
            }
        }
        p->data_bytes += it->nbytes;
        p->nelem += it->nelem;
    }

    if (n_no_imat && note(p, "%zu quantized tensor%s no importance matrix entry (quantized "
                             "without one)", n_no_imat, n_no_imat == 1 ? " has" : "s have")) {
        rc = qfi_error(err, QF_ENOMEM, ENOMEM, NULL, -1, "out of memory");
        goto fail;
    }

    /* declaration order: llama.cpp's loader order, except that a Hugging Face checkpoint
     * converted to a type convert_hf_to_gguf.py writes keeps its own order, as that does */
    if (in_gguf || !hf_native) {
        struct qf_convert_item *ni = malloc((n ? n : 1) * sizeof *ni);
        struct pextra *ne = malloc((n ? n : 1) * sizeof *ne);
        if (!ni || !ne) {
            free(ni);
            free(ne);
            rc = qfi_error(err, QF_ENOMEM, ENOMEM, NULL, -1, "out of memory");
            goto fail;
        }
        for (size_t k = 0; k < n; k++) {
            ni[k] = p->items[sorted[k].idx];
            ne[k] = p->ex[sorted[k].idx];
        }
        free(p->items);
        free(p->ex);
        p->items = ni;
        p->ex = ne;
    }

    /* metadata */
    if (out_gguf) {
        if (in_gguf) {
            rc = gguf_kvs(p, err);
        } else if (hf) {
            rc = hf_model_kvs(p, &arch, err);
        }
        if (rc)
            goto fail;
        if (hf) {
            if (hf_native && p->ftype_written >= 0 && (rc = kv_u32(p, "general.file_type",
                                                      (uint64_t)p->ftype_written))) {
                rc = qfi_error(err, rc, 0, NULL, -1, "out of memory");
                goto fail;
            }
            uint64_t u;
            if (!strcmp(arch.name, "llama")) {
                if ((cfg_u64(m, KEYS("vocab_size"), &u) && kv_u32(p, "llama.vocab_size", u)) ||
                    ((arch.known & QF_ARCH_HEAD_DIM) &&
                     kv_u32(p, "llama.rope.dimension_count", arch.head_dim_k))) {
                    rc = qfi_error(err, QF_ENOMEM, ENOMEM, NULL, -1, "out of memory");
                    goto fail;
                }
            }
            char *dir = model_dir(m);
            if (!dir) {
                rc = qfi_error(err, QF_ENOMEM, ENOMEM, NULL, -1, "out of memory");
                goto fail;
            }
            rc = hf_tokenizer_kvs(p, dir, err);
            free(dir);
            if (rc)
                goto fail;
        } else if (!in_gguf) {
            p->flags |= QF_CONVERT_PLAN_NO_VOCAB;
        }
        if (kv_u32(p, "general.quantization_version", 2)) {
            rc = qfi_error(err, QF_ENOMEM, ENOMEM, NULL, -1, "out of memory");
            goto fail;
        }
        /* last, as llama-quantize sets it (the converter's own types: in its place above) */
        if (!(hf && hf_native) && p->ftype_written >= 0) {
            kv_remove(p, "general.file_type");
            if (kv_u32(p, "general.file_type", (uint64_t)p->ftype_written)) {
                rc = qfi_error(err, QF_ENOMEM, ENOMEM, NULL, -1, "out of memory");
                goto fail;
            }
        }
        if (o->imatrix) {
            const char *f = o->imatrix_name ? o->imatrix_name : "";
            const char *ds = qf_imatrix_dataset(o->imatrix);
            rc = kv_str(p, "quantize.imatrix.file", f, strlen(f));
            rc = rc ? rc : kv_str(p, "quantize.imatrix.dataset", ds, strlen(ds));
            rc = rc ? rc : kv_u32(p, "quantize.imatrix.entries_count",
                                  qf_imatrix_n_entries(o->imatrix));
            if (!rc && qf_imatrix_chunks(o->imatrix))
                rc = kv_u32(p, "quantize.imatrix.chunks_count", qf_imatrix_chunks(o->imatrix));
            if (rc) {
                rc = qfi_error(err, QF_ENOMEM, ENOMEM, NULL, -1, "out of memory");
                goto fail;
            }
        }
    } else if (kv_str(p, "format", "pt", 2)) {
        rc = qfi_error(err, QF_ENOMEM, ENOMEM, NULL, -1, "out of memory");
        goto fail;
    }

    rc = layout(p, err);
    if (rc)
        goto fail;
    for (size_t i = 0; i < n_rules_ok; i++)
        regfree(&rules[i].re);
    free(rules);
    free(sorted);
    free(names);
    *out = p;
    return QF_OK;
fail:
    for (size_t i = 0; i < n_rules_ok; i++)
        regfree(&rules[i].re);
    free(rules);
    free(sorted);
    free(names);
    return plan_fail(p, rc);
}

void qf_convert_plan_free(struct qf_convert_plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_owned; i++)
        free(p->owned[i]);
    for (size_t i = 0; i < p->n_notes; i++)
        free(p->notes[i]);
    free(p->owned);
    free(p->notes);
    free(p->kv);
    free(p->items);
    free(p->ex);
    qf_layout_free(p->l);
    free(p->order);
    free(p);
}

size_t qf_convert_plan_n_items(const struct qf_convert_plan *p)
{
    return p ? p->n_items : 0;
}

const struct qf_convert_item *qf_convert_plan_item(const struct qf_convert_plan *p, size_t i)
{
    if (!p || i >= p->n_items)
        return NULL;
    return &p->items[p->order[i]];
}

uint64_t qf_convert_plan_file_size(const struct qf_convert_plan *p)
{
    return p ? p->file_size : 0;
}

uint64_t qf_convert_plan_header_size(const struct qf_convert_plan *p)
{
    return p ? p->header_size : 0;
}

uint64_t qf_convert_plan_data_bytes(const struct qf_convert_plan *p)
{
    return p ? p->data_bytes : 0;
}

uint64_t qf_convert_plan_nelem(const struct qf_convert_plan *p)
{
    return p ? p->nelem : 0;
}

unsigned qf_convert_plan_flags(const struct qf_convert_plan *p)
{
    return p ? p->flags : 0;
}

int qf_convert_plan_ftype(const struct qf_convert_plan *p)
{
    return p ? p->ftype_written : -1;
}

const char *qf_convert_plan_note(const struct qf_convert_plan *p, size_t i)
{
    return p && i < p->n_notes ? p->notes[i] : NULL;
}

size_t qf_convert_plan_n_kv(const struct qf_convert_plan *p)
{
    return p ? p->n_kv : 0;
}

const char *qf_convert_plan_kv(const struct qf_convert_plan *p, size_t i,
                               const struct qf_value **val)
{
    if (!p || i >= p->n_kv)
        return NULL;
    if (val)
        *val = &p->kv[i].val;
    return p->kv[i].key;
}

void qf_convert_plan_totals(const struct qf_convert_plan *p, struct qf_convert_stats *all,
                            size_t *worst)
{
    struct qf_convert_stats s;
    memset(&s, 0, sizeof s);
    size_t w = SIZE_MAX;
    double wsnr = INFINITY;
    for (size_t k = 0; p && k < p->n_items; k++) {
        const struct qf_convert_item *it = qf_convert_plan_item(p, k);
        if (!it->measured)
            continue;
        s.n += it->stats.n;
        s.n_nonfinite += it->stats.n_nonfinite;
        s.sum_sq += it->stats.sum_sq;
        s.sse += it->stats.sse;
        if (it->stats.max_abs > s.max_abs)
            s.max_abs = it->stats.max_abs;
        if (w == SIZE_MAX || it->stats.snr_db < wsnr) {
            w = k;
            wsnr = it->stats.snr_db;
        }
    }
    s.rmse = s.n ? sqrt(s.sse / (double)s.n) : 0.0;
    s.snr_db = s.sse > 0 ? 10.0 * log10(s.sum_sq / s.sse) : INFINITY;
    if (all)
        *all = s;
    if (worst)
        *worst = w;
}

/* ---------------------------------------------------------------------------------------
 * Executor
 */
struct chunk_stats {
    uint64_t n, nonfinite;
    double sum_sq, sse, max_abs;
};

struct slot {
    int state; /* 0 free, 1 claimed, 2 ready */
    uint64_t seq;
    uint8_t *buf;
    const uint8_t *ptr; /* data to write */
    size_t len;
    int rc;
    struct qf_error err;
    struct chunk_stats cs;
    /* per-row sums of squared errors and values: added up row by row in file order by the
     * writer, so the totals do not depend on where chunks begin */
    double *row_sse, *row_ss;
    uint64_t nrows;
};

struct wbufs {
    uint8_t *raw;
    float *f;
    float *dq;
};

struct exec {
    struct qf_convert_plan *p;
    uint64_t chunk_elems, copy_bytes;
    uint64_t *first;  /* first chunk of file-order item k (n_items + 1 entries) */
    uint64_t n_chunks;
    size_t raw_cap, f_cap, out_cap, rows_cap;
    struct slot *slots;
    size_t nslots;
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done;
    uint64_t next_claim, next_write;
    int stop;
};

static uint64_t item_ne0(const struct qf_convert_item *it)
{
    return it->n_dims ? it->shape[it->n_dims - 1] : 1;
}

static uint64_t item_rows(const struct qf_convert_item *it)
{
    uint64_t ne0 = item_ne0(it);
    return ne0 ? it->nelem / ne0 : 0;
}

static int rowwise(const struct qf_convert_item *it)
{
    return it->path == QF_CONVERT_REQUANTIZE || (it->how & QF_CONVERT_PERMUTED);
}

static uint64_t rows_per_chunk(const struct exec *x, const struct qf_convert_item *it)
{
    uint64_t ne0 = item_ne0(it);
    uint64_t r = ne0 ? x->chunk_elems / ne0 : 1;
    if (x->p->ex[it - x->p->items].repack) /* whole words of output channels */
        r = (r + 7) / 8 * 8;
    return r ? r : 1;
}

static uint64_t row_bytes(int type, uint64_t ne0)
{
    int64_t b = qf_type_nbytes(type, ne0, ne0);
    return b > 0 ? (uint64_t)b : 0;
}

/* Source row of output row r of a permuted tensor (hf-to-gguf-naming.md §3). */
static uint64_t perm_src(uint64_t r, uint64_t rows, uint64_t heads, int inverse)
{
    uint64_t d = rows / heads, h = r / d, w = r % d, half = d / 2;
    if (!inverse) /* GGUF row h*d + 2i + j <- HF row h*d + j*half + i */
        return h * d + (w % 2) * half + w / 2;
    /* HF row h*d + j*half + i <- GGUF row h*d + 2i + j */
    return h * d + 2 * (w % half) + w / half;
}

/* Read nr rows starting at output row r0 of item it into raw (source type). */
static int read_rows(struct exec *x, const struct qf_convert_item *it, const struct pextra *ex,
                     uint64_t r0, uint64_t nr, uint8_t *raw, struct qf_error *err)
{
    struct qf_model *m = x->p->m;
    const uint64_t ne0 = item_ne0(it);
    const uint64_t rb = row_bytes(it->src_type, ne0);
    if (!ex->perm_heads)
        return qf_model_read(m, it->src, r0 * rb, raw, (size_t)(nr * rb), err);
    const uint64_t heads = (uint64_t)ex->perm_heads;
    if (it->n_dims == 1) { /* a bias: permute elements within the one row */
        const uint64_t es = qf_type_info(it->src_type)->block_bytes;
        for (uint64_t e = 0; e < ne0; e++) {
            uint64_t s = perm_src(e, ne0, heads, ex->perm_inverse);
            int rc = qf_model_read(m, it->src, s * es, raw + e * es, (size_t)es, err);
            if (rc)
                return rc;
        }
        return QF_OK;
    }
    const uint64_t rows = it->shape[0];
    for (uint64_t r = 0; r < nr; r++) {
        uint64_t s = perm_src(r0 + r, rows, heads, ex->perm_inverse);
        int rc = qf_model_read(m, it->src, s * rb, raw + r * rb, (size_t)rb, err);
        if (rc)
            return rc;
    }
    return QF_OK;
}

/* Source row (output channel) of output row r of item it. */
static uint64_t src_row(const struct qf_convert_item *it, const struct pextra *ex, uint64_t r)
{
    return ex->perm_heads ? perm_src(r, it->shape[0], (uint64_t)ex->perm_heads, ex->perm_inverse)
                          : r;
}

/* Decoded values of output rows [r0, r0 + nr) of a layout's layer. */
static int layout_rows(struct exec *x, const struct qf_convert_item *it, const struct pextra *ex,
                       uint64_t r0, uint64_t nr, float *f, struct qf_error *err)
{
    struct qf_convert_plan *p = x->p;
    if (!ex->perm_heads)
        return qf_layout_dequantize(p->m, p->l, ex->lt, r0, nr, f, err);
    const uint64_t ne0 = item_ne0(it);
    for (uint64_t r = 0; r < nr; r++) {
        int rc = qf_layout_dequantize(p->m, p->l, ex->lt, src_row(it, ex, r0 + r), 1,
                                      f + r * ne0, err);
        if (rc)
            return rc;
    }
    return QF_OK;
}

/* Blocks of output rows [r0, r0 + nr) of a layout's layer made from its codes. */
static int repack_rows(struct exec *x, const struct qf_convert_item *it,
                       const struct pextra *ex, uint64_t r0, uint64_t nr, uint8_t *out,
                       struct qf_error *err)
{
    uint64_t *cols = malloc((size_t)(nr ? nr : 1) * sizeof *cols);
    if (!cols)
        return qfi_error(err, QF_ENOMEM, ENOMEM, NULL, -1, "out of memory");
    for (uint64_t r = 0; r < nr; r++)
        cols[r] = src_row(it, ex, r0 + r);
    int rc = qfi_cl_repack_rows(x->p->m, ex->lt, ex->repack, cols, nr, out, err);
    free(cols);
    return rc;
}

/* Convert chunk seq into slot s. */
static void process(struct exec *x, uint64_t seq, struct slot *s, struct wbufs *b)
{
    struct qf_convert_plan *p = x->p;
    /* find the item: last k with first[k] <= seq */
    size_t lo = 0, hi = p->n_items;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (x->first[mid] <= seq)
            lo = mid;
        else
            hi = mid;
    }
    while (lo + 1 < p->n_items && x->first[lo + 1] <= seq)
        lo++;
    const size_t di = p->order[lo];
    const struct qf_convert_item *it = &p->items[di];
    const struct pextra *ex = &p->ex[di];
    const uint64_t c = seq - x->first[lo];
    memset(&s->cs, 0, sizeof s->cs);
    s->nrows = 0;
    s->rc = QF_OK;
    s->ptr = s->buf;
    if (!rowwise(it)) { /* plain copy of a byte range */
        uint64_t off = c * x->copy_bytes;
        uint64_t len = it->nbytes - off < x->copy_bytes ? it->nbytes - off : x->copy_bytes;
        /* read, not mapped: mapped pages would count against the memory budget */
        s->len = (size_t)len;
        s->rc = qf_model_read(p->m, it->src, off, s->buf, (size_t)len, &s->err);
        return;
    }
    const uint64_t ne0 = item_ne0(it), rows = item_rows(it);
    const uint64_t rpc = rows_per_chunk(x, it);
    const uint64_t r0 = c * rpc, nr = rows - r0 < rpc ? rows - r0 : rpc;
    const uint64_t nel = nr * ne0;
    if (it->path == QF_CONVERT_COPY) { /* permuted copy */
        s->len = (size_t)(nr * row_bytes(it->type, ne0));
        s->rc = read_rows(x, it, ex, r0, nr, s->buf, &s->err);
        return;
    }
    int rc = ex->lt ? layout_rows(x, it, ex, r0, nr, b->f, &s->err)
                    : read_rows(x, it, ex, r0, nr, b->raw, &s->err);
    if (rc) {
        s->rc = rc;
        return;
    }
    rc = ex->lt ? QF_OK : qf_dequantize(it->src_type, b->raw, b->f, nel);
    if (rc) {
        s->rc = qfi_error(&s->err, rc, 0, NULL, -1, "tensor '%s': cannot decode %s data",
                          it->name, qf_type_name(it->src_type));
        return;
    }
    for (uint64_t i = 0; i < nel; i++)
        if (!isfinite(b->f[i]))
            s->cs.nonfinite++;
    /* quantize, expert by expert where an importance matrix has one vector per expert */
    const uint64_t orb = row_bytes(it->type, ne0);
    const uint64_t rows_per_mat = it->n_dims >= 2 ? it->shape[it->n_dims - 2] : 1;
    uint64_t r = ex->repack ? nr : 0;
    if (ex->repack && (rc = repack_rows(x, it, ex, r0, nr, s->buf, &s->err))) {
        s->rc = rc;
        return;
    }
    while (r < nr) {
        uint64_t mat = (r0 + r) / rows_per_mat;
        uint64_t end = ex->n_imat > 1 ? (mat + 1) * rows_per_mat - r0 : nr;
        if (end > nr)
            end = nr;
        const float *im = ex->imat ? ex->imat + (ex->n_imat > 1 ? mat * ne0 : 0) : NULL;
        int64_t q = qf_quantize(it->type, b->f + r * ne0, s->buf + r * orb, end - r, ne0, im);
        if (q < 0) {
            s->rc = qfi_error(&s->err, (int)q, 0, NULL, -1, "tensor '%s': cannot encode %s data",
                              it->name, qf_type_name(it->type));
            return;
        }
        r = end;
    }
    s->len = (size_t)(nr * orb);
    /* check (ggml-types.md §8: no non-finite values or scales) and measure */
    const float *dq = b->f;
    if (it->type != QF_TYPE_F32) {
        rc = qf_dequantize(it->type, s->buf, b->dq, nel);
        if (rc) {
            s->rc = qfi_error(&s->err, rc, 0, NULL, -1, "tensor '%s': cannot decode %s data",
                              it->name, qf_type_name(it->type));
            return;
        }
        dq = b->dq;
    }
    double sse = 0, ss = 0, mx = 0;
    for (uint64_t i = 0; i < nel; i++) {
        if (it->lossy && i % ne0 == 0 && i) {
            s->row_sse[i / ne0 - 1] = sse;
            s->row_ss[i / ne0 - 1] = ss;
            sse = ss = 0;
        }
        if (!isfinite(dq[i])) {
            s->rc = qfi_error(&s->err, QF_EFORMAT, 0, NULL, -1,
                              "tensor '%s' row %llu: the %s output would hold a non-finite "
                              "value (the input has %s)",
                              it->name, (unsigned long long)(r0 + i / ne0),
                              qf_type_name(it->type),
                              isfinite(b->f[i]) ? "values out of range" : "NaN or Inf");
            return;
        }
        if (it->lossy) {
            double e = (double)dq[i] - (double)b->f[i];
            double ae = fabs(e);
            sse += e * e;
            ss += (double)b->f[i] * (double)b->f[i];
            if (ae > mx)
                mx = ae;
        }
    }
    if (it->lossy && nr) {
        s->row_sse[nr - 1] = sse;
        s->row_ss[nr - 1] = ss;
    }
    s->nrows = it->lossy ? nr : 0;
    s->cs.n = it->lossy ? nel : 0;
    s->cs.max_abs = mx;
}

static void *worker(void *arg)
{
    struct exec *x = arg;
    struct wbufs b = {malloc(x->raw_cap), malloc(x->f_cap * sizeof(float)),
                      malloc(x->f_cap * sizeof(float))};
    int oom = !b.raw || !b.f || !b.dq;
    for (;;) {
        pthread_mutex_lock(&x->mu);
        while (!x->stop && x->next_claim < x->n_chunks &&
               x->next_claim >= x->next_write + x->nslots)
            pthread_cond_wait(&x->cv_work, &x->mu);
        if (x->stop || x->next_claim >= x->n_chunks) {
            pthread_mutex_unlock(&x->mu);
            break;
        }
        uint64_t seq = x->next_claim++;
        struct slot *s = &x->slots[seq % x->nslots];
        s->state = 1;
        s->seq = seq;
        pthread_mutex_unlock(&x->mu);
        if (oom)
            s->rc = qfi_error(&s->err, QF_ENOMEM, ENOMEM, NULL, -1, "out of memory");
        else
            process(x, seq, s, &b);
        pthread_mutex_lock(&x->mu);
        s->state = 2;
        pthread_cond_broadcast(&x->cv_done);
        pthread_mutex_unlock(&x->mu);
    }
    free(b.raw);
    free(b.f);
    free(b.dq);
    return NULL;
}

/* Chunk table and buffer sizes. */
static int exec_init(struct exec *x, struct qf_convert_plan *p, const struct qf_convert_run_opts *ro,
                     struct qf_error *err)
{
    memset(x, 0, sizeof *x);
    x->p = p;
    x->chunk_elems = ro && ro->chunk_elems ? ro->chunk_elems : DEFAULT_CHUNK_ELEMS;
    if (x->chunk_elems > (1ull << 32))
        x->chunk_elems = 1ull << 32;
    x->copy_bytes = x->chunk_elems * 4;
    x->first = malloc((p->n_items + 1) * sizeof *x->first);
    if (!x->first)
        return qfi_error(err, QF_ENOMEM, ENOMEM, NULL, -1, "out of memory");
    uint64_t total = 0;
    x->out_cap = 1;
    x->raw_cap = 1;
    x->f_cap = 1;
    x->rows_cap = 1;
    for (size_t k = 0; k < p->n_items; k++) {
        const struct qf_convert_item *it = qf_convert_plan_item(p, k);
        x->first[k] = total;
        uint64_t nc;
        if (!rowwise(it)) {
            nc = (it->nbytes + x->copy_bytes - 1) / x->copy_bytes;
            if (nc && x->copy_bytes > x->out_cap)
                x->out_cap = x->copy_bytes;
        } else {
            uint64_t rows = item_rows(it), rpc = rows_per_chunk(x, it), ne0 = item_ne0(it);
            if (rpc > rows)
                rpc = rows;
            nc = rpc ? (rows + rpc - 1) / rpc : 0;
            uint64_t ob = rpc * row_bytes(it->type, ne0), ib = rpc * row_bytes(it->src_type, ne0);
            uint64_t fe = rpc * ne0;
            if (ob > x->out_cap)
                x->out_cap = ob;
            if (it->lossy && rpc > x->rows_cap)
                x->rows_cap = rpc;
            if (it->path == QF_CONVERT_REQUANTIZE) {
                if (ib > x->raw_cap)
                    x->raw_cap = ib;
                if (fe > x->f_cap)
                    x->f_cap = fe;
            }
        }
        total += nc;
    }
    x->first[p->n_items] = total;
    x->n_chunks = total;
    if (x->out_cap > SIZE_MAX / 4 || x->raw_cap > SIZE_MAX / 4 || x->f_cap > SIZE_MAX / 16 ||
        x->rows_cap > SIZE_MAX / 16)
        return qfi_error(err, QF_ELIMIT, 0, NULL, -1, "a row is too large to convert");
    return QF_OK;
}

int qf_convert_run(struct qf_convert_plan *p, const char *path, const struct qf_convert_run_opts *ro,
                   struct qf_error *err)
{
    qf_error_clear(err);
    if (!p || !path)
        return qfi_error(err, QF_EINVAL, 0, NULL, -1, "no plan or path");
    if (p->flags & QF_CONVERT_PLAN_NEEDS_IMATRIX)
        return qfi_error(err, QF_EINVAL, 0, path, -1, "%s",
                         p->n_notes ? p->notes[0] : "an importance matrix is needed");
    int threads = ro && ro->threads > 0 ? ro->threads : 1;
    if (threads > 256)
        threads = 256;
    struct exec x;
    int rc = exec_init(&x, p, ro, err);
    if (rc) {
        free(x.first);
        return rc;
    }
    for (size_t k = 0; k < p->n_items; k++)
        p->items[k].measured = 0;

    struct qf_writer_opts wo = writer_opts(p, ro ? ro->no_fsync : 0);
    struct qf_writer *w = NULL;
    rc = qf_writer_new(p->format, path, &wo, &w, err);
    if (!rc)
        rc = declare(p, w, err);
    if (!rc)
        rc = qf_writer_begin_data(w, err);
    if (!rc) {
        int same = qf_writer_file_size(w) == p->file_size;
        for (size_t k = 0; same && k < p->n_items; k++)
            same = qf_writer_tensor_order(w, k) == p->order[k];
        if (!same)
            rc = qfi_error(err, QF_EINTERNAL, 0, path, -1, "the writer's layout differs from the plan");
    }
    x.nslots = threads > 1 ? 2 * (size_t)threads : 1;
    x.slots = rc ? NULL : calloc(x.nslots, sizeof *x.slots);
    if (!rc && !x.slots)
        rc = qfi_error(err, QF_ENOMEM, ENOMEM, path, -1, "out of memory");
    for (size_t i = 0; !rc && i < x.nslots; i++) {
        x.slots[i].buf = malloc(x.out_cap);
        x.slots[i].row_sse = malloc(x.rows_cap * sizeof(double));
        x.slots[i].row_ss = malloc(x.rows_cap * sizeof(double));
        if (!x.slots[i].buf || !x.slots[i].row_sse || !x.slots[i].row_ss)
            rc = qfi_error(err, QF_ENOMEM, ENOMEM, path, -1, "out of memory");
    }
    struct wbufs b1 = {NULL, NULL, NULL};
    pthread_t *tids = NULL;
    int started = 0, sync_ok = 0;
    if (!rc && threads == 1) {
        b1.raw = malloc(x.raw_cap);
        b1.f = malloc(x.f_cap * sizeof(float));
        b1.dq = malloc(x.f_cap * sizeof(float));
        if (!b1.raw || !b1.f || !b1.dq)
            rc = qfi_error(err, QF_ENOMEM, ENOMEM, path, -1, "out of memory");
    } else if (!rc) {
        if (pthread_mutex_init(&x.mu, NULL) == 0) {
            if (pthread_cond_init(&x.cv_work, NULL) == 0) {
                if (pthread_cond_init(&x.cv_done, NULL) == 0)
                    sync_ok = 1;
                else
                    pthread_cond_destroy(&x.cv_work);
            }
            if (!sync_ok)
                pthread_mutex_destroy(&x.mu);
        }
        tids = calloc((size_t)threads, sizeof *tids);
        if (!sync_ok || !tids)
            rc = qfi_error(err, QF_ENOMEM, ENOMEM, path, -1, "cannot start threads");
        for (int i = 0; !rc && i < threads; i++) {
            if (pthread_create(&tids[i], NULL, worker, &x) != 0) {
                rc = qfi_error(err, QF_ENOMEM, EAGAIN, path, -1, "cannot start threads");
                break;
            }
            started++;
        }
    }

    /* the writing loop: chunks in file order */
    uint64_t done = 0;
    size_t k = 0;
    struct chunk_stats acc;
    memset(&acc, 0, sizeof acc);
    for (uint64_t seq = 0; !rc && seq < x.n_chunks; seq++) {
        struct slot *s = &x.slots[seq % x.nslots];
        if (threads == 1) {
            s->seq = seq;
            process(&x, seq, s, &b1);
        } else {
            pthread_mutex_lock(&x.mu);
            while (!(s->state == 2 && s->seq == seq))
                pthread_cond_wait(&x.cv_done, &x.mu);
            pthread_mutex_unlock(&x.mu);
        }
        if (s->rc) {
            rc = s->rc;
            if (err)
                *err = s->err;
        }
        if (!rc)
            rc = qf_writer_write(w, s->ptr, s->len, err);
        if (!rc) {
            /* the item this chunk belongs to, and its error sums (in file order) */
            while (k + 1 < p->n_items && x.first[k + 1] <= seq)
                k++;
            acc.n += s->cs.n;
            acc.nonfinite += s->cs.nonfinite;
            for (uint64_t r = 0; r < s->nrows; r++) {
                acc.sse += s->row_sse[r];
                acc.sum_sq += s->row_ss[r];
            }
            if (s->cs.max_abs > acc.max_abs)
                acc.max_abs = s->cs.max_abs;
            if (seq + 1 == x.first[k + 1]) { /* last chunk of item k */
                struct qf_convert_item *it = &p->items[p->order[k]];
                if (it->lossy) {
                    struct qf_convert_stats *st = &it->stats;
                    st->n = acc.n;
                    st->n_nonfinite = acc.nonfinite;
                    st->sse = acc.sse;
                    st->sum_sq = acc.sum_sq;
                    st->max_abs = acc.max_abs;
                    st->rmse = acc.n ? sqrt(acc.sse / (double)acc.n) : 0.0;
                    st->snr_db = acc.sse > 0 ? 10.0 * log10(acc.sum_sq / acc.sse) : INFINITY;
                    it->measured = 1;
                }
                memset(&acc, 0, sizeof acc);
            }
            done += s->len;
            if (ro && ro->progress && ro->progress(ro->ctx, done, p->data_bytes))
                rc = qfi_error(err, QF_EIO, EINTR, path, -1, "interrupted");
        }
        if (threads > 1) {
            pthread_mutex_lock(&x.mu);
            s->state = 0;
            x.next_write = seq + 1;
            pthread_cond_broadcast(&x.cv_work);
            pthread_mutex_unlock(&x.mu);
        }
    }
    if (started || sync_ok) {
        pthread_mutex_lock(&x.mu);
        x.stop = 1;
        pthread_cond_broadcast(&x.cv_work);
        pthread_mutex_unlock(&x.mu);
        for (int i = 0; i < started; i++)
            pthread_join(tids[i], NULL);
    }
    if (sync_ok) {
        pthread_cond_destroy(&x.cv_done);
        pthread_cond_destroy(&x.cv_work);
        pthread_mutex_destroy(&x.mu);
    }
    /* lossy tensors of zero elements were never visited */
    for (size_t i = 0; !rc && i < p->n_items; i++)
        if (p->items[i].lossy && !p->items[i].measured && p->items[i].nelem == 0) {
            p->items[i].measured = 1;
            p->items[i].stats.snr_db = INFINITY;
        }
    if (!rc)
        rc = qf_writer_commit(w, err);
    qf_writer_free(w); /* removes the temporary file unless committed */
    free(tids);
    free(b1.raw);
    free(b1.f);
    free(b1.dq);
    for (size_t i = 0; x.slots && i < x.nslots; i++) {
        free(x.slots[i].buf);
        free(x.slots[i].row_sse);
        free(x.slots[i].row_ss);
    }
    free(x.slots);
    free(x.first);
    return rc;
}
