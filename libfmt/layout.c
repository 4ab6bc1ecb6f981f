/* layout.c - quantized layouts: read the quantization config, let the family's module group the
 * physical tensors, pass everything else through, and dispatch dequantization. */
#include "qf/layout.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layout_int.h"

/* ---------------------------------------------------------------------------------------
 * Layout object */
int qfi_layout_add(struct qf_layout *l, const struct qf_ltensor *t, struct qf_error *err)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64;
        void *p = realloc(l->t, nc * sizeof *l->t);
        if (!p)
            return qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory listing logical tensors");
        l->t = p;
        l->cap = nc;
    }
    l->t[l->n++] = *t;
    return QF_OK;
}

static int keep(struct qf_layout *l, void *p)
{
    if (!p)
        return QF_ENOMEM;
    if (l->n_owned == l->cap_owned) {
        size_t nc = l->cap_owned ? l->cap_owned * 2 : 64;
        void **q = realloc(l->owned, nc * sizeof *q);
        if (!q) {
            free(p);
            return QF_ENOMEM;
        }
        l->owned = q;
        l->cap_owned = nc;
    }
    l->owned[l->n_owned++] = p;
    return QF_OK;
}

char *qfi_layout_strdup(struct qf_layout *l, const char *s)
{
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n + 1);
    return keep(l, p) == QF_OK ? p : NULL;
}

int qfi_layout_warn(struct qf_layout *l, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (l->n_warnings == l->cap_warnings) {
        size_t nc = l->cap_warnings ? l->cap_warnings * 2 : 8;
        char **q = realloc(l->warnings, nc * sizeof *q);
        if (!q)
            return QF_ENOMEM;
        l->warnings = q;
        l->cap_warnings = nc;
    }
    char *s = strdup(buf);
    if (!s)
        return QF_ENOMEM;
    l->warnings[l->n_warnings++] = s;
    return QF_OK;
}

void qf_layout_free(struct qf_layout *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n_owned; i++)
        free(l->owned[i]);
    for (size_t i = 0; i < l->n_warnings; i++)
        free(l->warnings[i]);
    free(l->owned);
    free(l->warnings);
    free(l->claimed);
    free(l->t);
    free(l);
}

const char *qf_layout_name(const struct qf_layout *l) { return l ? l->name : NULL; }
size_t qf_layout_n_tensors(const struct qf_layout *l) { return l ? l->n : 0; }

const struct qf_ltensor *qf_layout_tensor(const struct qf_layout *l, size_t i)
{
    return l && i < l->n ? &l->t[i] : NULL;
}

const struct qf_ltensor *qf_layout_find(const struct qf_layout *l, const char *name)
{
    if (!l || !name)
        return NULL;
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->t[i].name, name))
            return &l->t[i];
    return NULL;
}

const char *qf_layout_warning(const struct qf_layout *l, size_t i)
{
    return l && i < l->n_warnings ? l->warnings[i] : NULL;
}

/* ---------------------------------------------------------------------------------------
 * Tensor data */
#define LAYOUT_MAX_LOAD (4ull << 30)

int qfi_layout_load(struct qf_model *m, const struct qf_tensor *t, const uint8_t **data,
                    void **owned, struct qf_error *err)
{
    *owned = NULL;
    const void *p = qf_model_map(m, t);
    if (p || t->nbytes == 0) {
        *data = p;
        return QF_OK;
    }
    if (t->nbytes > LAYOUT_MAX_LOAD)
        return qfi_error(err, QF_ELIMIT, 0, qf_model_file(m, (size_t)t->file_index)->path,
                         (int64_t)t->offset, "tensor '%s': %llu bytes exceed the %llu-byte cap",
                         t->name, (unsigned long long)t->nbytes,
                         (unsigned long long)LAYOUT_MAX_LOAD);
    void *b = malloc((size_t)t->nbytes);
    if (!b)
        return qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory reading tensor '%s'", t->name);
    int rc = qf_model_read(m, t, 0, b, (size_t)t->nbytes, err);
    if (rc) {
        free(b);
        return rc;
    }
    *data = b;
    *owned = b;
    return QF_OK;
}

int qfi_layout_load_f32(struct qf_model *m, const struct qf_tensor *t, float **out,
                        struct qf_error *err)
{
    const uint8_t *d;
    void *own;
    *out = NULL;
    int rc = qfi_layout_load(m, t, &d, &own, err);
    if (rc)
        return rc;
    float *f = malloc((t->nelem ? t->nelem : 1) * sizeof *f);
    if (!f) {
        free(own);
        return qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory reading tensor '%s'", t->name);
    }
    rc = qf_dequantize(t->type, d, f, t->nelem);
    free(own);
    if (rc) {
        free(f);
        return qfi_error(err, rc, 0, NULL, -1, "tensor '%s': cannot convert %s to f32", t->name,
                         qf_type_name(t->type));
    }
    *out = f;
    return QF_OK;
}

/* ---------------------------------------------------------------------------------------
 * Config */
static const char *const cfg_prefix[][2] = {
    {"quantize_config.", "quantize_config.json"},
    {"quant_config.", "quant_config.json"},
    {"quantization_config.", "config.json"},
    {"quantization.", "config.json"}, /* mlx-lm */
};

static const struct qf_kv *cfg_find(const struct qf_model *m, const char *prefix,
                                    const char *const *keys)
{
    char k[128];
    for (; *keys; keys++) {
        snprintf(k, sizeof k, "%s%s", prefix, *keys);
        const struct qf_kv *kv = qf_model_find_kv(m, k);
        if (kv && kv->val.type != QF_V_NULL)
            return kv;
    }
    return NULL;
}

static void cfg_str(const struct qf_kv *kv, char *dst, size_t n)
{
    dst[0] = '\0';
    if (!kv || kv->val.type != QF_V_STRING)
        return;
    size_t len = kv->val.v.s.len < n - 1 ? (size_t)kv->val.v.s.len : n - 1;
    for (size_t i = 0; i < len; i++)
        dst[i] = (char)tolower((unsigned char)kv->val.v.s.ptr[i]);
    dst[len] = '\0';
}

static int64_t cfg_int(const struct qf_kv *kv, int64_t dflt)
{
    int64_t v;
    if (kv && qf_value_as_i64(&kv->val, &v) == QF_OK)
        return v;
    return dflt;
}

/* Fills c from the first config source that names a method or bits; returns 1 if found. */
static int read_cfg(const struct qf_model *m, struct qfi_qcfg *c)
{
    static const char *const k_method[] = {"quant_method", "method", NULL};
    static const char *const k_bits[] = {"bits", "w_bit", "wbits", NULL};
    static const char *const k_group[] = {"group_size", "q_group_size", NULL};
    static const char *const k_format[] = {"checkpoint_format", "format", NULL};
    static const char *const k_version[] = {"version", NULL};
    static const char *const k_sym[] = {"sym", NULL};
    static const char *const k_zp[] = {"zero_point", NULL};
    static const char *const k_desc[] = {"desc_act", NULL};
    static const char *const k_qtype[] = {"bnb_4bit_quant_type", NULL};
    static const char *const k_dq[] = {"bnb_4bit_use_double_quant", NULL};
    static const char *const k_4bit[] = {"load_in_4bit", NULL};
    static const char *const k_8bit[] = {"load_in_8bit", NULL};
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < sizeof cfg_prefix / sizeof cfg_prefix[0]; i++) {
        const char *p = cfg_prefix[i][0];
        const struct qf_kv *meth = cfg_find(m, p, k_method), *bits = cfg_find(m, p, k_bits);
        if (!meth && !bits)
            continue;
        c->origin = cfg_prefix[i][1];
        cfg_str(meth, c->method, sizeof c->method);
        cfg_str(cfg_find(m, p, k_format), c->format, sizeof c->format);
        cfg_str(cfg_find(m, p, k_version), c->version, sizeof c->version);
        c->bits = cfg_int(bits, -1);
        c->group_size = cfg_int(cfg_find(m, p, k_group), 0);
        const struct qf_kv *sym = cfg_find(m, p, k_sym), *zp = cfg_find(m, p, k_zp);
        c->sym = sym ? (cfg_int(sym, 1) != 0) : zp ? (cfg_int(zp, 0) == 0) : -1;
        const struct qf_kv *da = cfg_find(m, p, k_desc);
        c->desc_act = da ? (cfg_int(da, 0) != 0) : -1;
        cfg_str(cfg_find(m, p, k_qtype), c->quant_type, sizeof c->quant_type);
        const struct qf_kv *dq = cfg_find(m, p, k_dq), *l4 = cfg_find(m, p, k_4bit);
        const struct qf_kv *l8 = cfg_find(m, p, k_8bit);
        c->double_quant = dq ? (cfg_int(dq, 0) != 0) : -1;
        c->load_in_4bit = l4 ? (cfg_int(l4, 0) != 0) : -1;
        c->load_in_8bit = l8 ? (cfg_int(l8, 0) != 0) : -1;
        if (!c->method[0] && !strcmp(c->origin, "config.json") &&
            (qfi_mlx_has_config(m) || qfi_mlx_triples(m)))
            strcpy(c->method, "mlx");
        if (!c->method[0] && !strcmp(c->format, "gptq"))
            strcpy(c->method, "gptq");
        return 1;
    }
    return 0;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !memcmp(s + a - b, suf, b);
}

/* ---------------------------------------------------------------------------------------
 * Scan */
static int cmp_first_index(const void *a, const void *b)
{
    const struct qf_ltensor *ta = a, *tb = b;
    uint64_t x = UINT64_MAX, y = UINT64_MAX;
    for (int i = 0; i < QF_LPART_MAX; i++) {
        if (ta->parts[i] && ta->parts[i]->index < x)
            x = ta->parts[i]->index;
        if (tb->parts[i] && tb->parts[i]->index < y)
            y = tb->parts[i]->index;
    }
    return x < y ? -1 : x > y;
}

int qf_layout_scan(struct qf_model *m, unsigned flags, struct qf_layout **out,
                   struct qf_error *err)
{
    (void)flags;
    if (!m || !out)
        return qfi_error(err, QF_EINVAL, 0, NULL, -1, "qf_layout_scan: NULL argument");
    *out = NULL;
    struct qf_layout *l = calloc(1, sizeof *l);
    size_t nt = qf_model_n_tensors(m);
    if (!l || !(l->claimed = calloc(nt ? nt : 1, 1))) {
        free(l);
        return qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory scanning the layout");
    }
    l->name = "none";
    struct qfi_qcfg c;
    int rc = QF_OK;
    if (read_cfg(m, &c)) {
        if (!strcmp(c.method, "gptq")) {
            l->name = "gptq";
            rc = qfi_gptq_scan(m, l, &c, err);
        } else if (!strcmp(c.method, "awq")) {
            l->name = "awq";
            rc = qfi_awq_scan(m, l, &c, err);
        } else if (!strcmp(c.method, "compressed-tensors")) {
            l->name = "compressed-tensors";
            rc = qfi_ct_scan(m, l, &c, err);
        } else if (!strcmp(c.method, "fp8")) {
            l->name = "fp8";
            rc = qfi_fp8_scan(m, l, &c, err);
        } else if (!strcmp(c.method, "bitsandbytes")) {
            l->name = "bitsandbytes";
            rc = qfi_bnb_scan(m, l, &c, err);
        } else if (!strcmp(c.method, "mlx")) {
            l->name = "mlx";
            rc = qfi_mlx_scan(m, l, &c, err);
        } else {
            rc = qfi_error(err, QF_EUNSUPPORTED, 0, c.origin, -1,
                           "quantization method '%s' is not supported (gptq, awq, "
                           "compressed-tensors, fp8, bitsandbytes, mlx)",
                           c.method[0] ? c.method : "(none)");
        }
    } else if (qfi_mlx_triples(m)) {
        l->name = "mlx";
        rc = qfi_mlx_scan(m, l, NULL, err);
    } else {
        for (size_t i = 0; i < nt; i++) {
            const struct qf_tensor *t = qf_model_tensor(m, i);
            if (strstr(t->name, ".quant_state.bitsandbytes__")) {
                rc = qfi_error(err, QF_EFORMAT, 0, qf_model_file(m, (size_t)t->file_index)->path,
                               (int64_t)t->offset,
                               "tensor '%s' is a bitsandbytes 4-bit layer part but no "
                               "quantization config (config.json quantization_config) was found",
                               t->name);
                break;
            }
            if (ends_with(t->name, ".qweight") || ends_with(t->name, ".qzeros")) {
                rc = qfi_error(err, QF_EFORMAT, 0, qf_model_file(m, (size_t)t->file_index)->path,
                               (int64_t)t->offset,
                               "tensor '%s' is a quantized layer part but no quantization config "
                               "(config.json quantization_config, quantize_config.json) was found",
                               t->name);
                break;
            }
        }
    }
    for (size_t i = 0; rc == QF_OK && i < nt; i++) {
        if (l->claimed[i])
            continue;
        const struct qf_tensor *t = qf_model_tensor(m, i);
        struct qf_ltensor lt;
        memset(&lt, 0, sizeof lt);
        lt.name = t->name;
        lt.scheme = qf_type_name(t->type);
        lt.family = QF_LAYOUT_PLAIN;
        lt.n_dims = t->n_dims;
        memcpy(lt.shape, t->shape, sizeof lt.shape);
        lt.nelem = t->nelem;
        lt.parts[0] = t;
        lt.n_parts = 1;
        lt.nbytes = t->nbytes;
        lt.bpw = t->nelem ? (double)t->nbytes * 8.0 / (double)t->nelem : 0.0;
        rc = qfi_layout_add(l, &lt, err);
    }
    if (rc) {
        qf_layout_free(l);
        return rc;
    }
    qsort(l->t, l->n, sizeof *l->t, cmp_first_index);
    *out = l;
    return QF_OK;
}

/* ---------------------------------------------------------------------------------------
 * Dequantize */
static int plain_dequant(struct qf_model *m, const struct qf_ltensor *t, uint64_t row0,
                         uint64_t nrows, float *out, struct qf_error *err)
{
    const struct qf_tensor *p = t->parts[0];
    uint64_t row_len = p->n_dims ? p->shape[p->n_dims - 1] : 1;
    uint64_t n, start;
    if (!qfi_mul_ok(nrows, row_len, &n) || !qfi_mul_ok(row0, row_len, &start))
        return qfi_error(err, QF_EINVAL, 0, NULL, -1, "tensor '%s': row range overflows", t->name);
    int64_t off = qf_type_nbytes(p->type, row_len, start);
    int64_t len = qf_type_nbytes(p->type, row_len, n);
    if (off < 0 || len < 0)
        return qfi_error(err, QF_EUNSUPPORTED, 0, NULL, -1, "tensor '%s': type %s has no row size",
                         t->name, qf_type_name(p->type));
    if (!qf_type_can_dequantize(p->type))
        return qfi_error(err, QF_EUNSUPPORTED, 0, NULL, -1, "tensor '%s': no decoder for type %s",
                         t->name, qf_type_name(p->type));
    const uint8_t *map = qf_model_map(m, p);
    if (map)
        return qf_dequantize(p->type, map + off, out, n) == QF_OK
                   ? QF_OK
                   : qfi_error(err, QF_EUNSUPPORTED, 0, NULL, -1, "tensor '%s': decode failed",
                               t->name);
    void *b = malloc(len ? (size_t)len : 1);
    if (!b)
        return qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory reading tensor '%s'", t->name);
    int rc = qf_model_read(m, p, (uint64_t)off, b, (size_t)len, err);
    if (!rc && qf_dequantize(p->type, b, out, n) != QF_OK)
        rc = qfi_error(err, QF_EUNSUPPORTED, 0, NULL, -1, "tensor '%s': decode failed", t->name);
    free(b);
    return rc;
}

int qf_layout_dequantize(struct qf_model *m, const struct qf_layout *l,
                         const struct qf_ltensor *t, uint64_t row0, uint64_t nrows, float *out,
                         struct qf_error *err)
{
    if (!m || !l || !t || !out || t < l->t || t >= l->t + l->n)
        return qfi_error(err, QF_EINVAL, 0, NULL, -1, "qf_layout_dequantize: bad argument");
    uint64_t rows = 1;
    if (t->family != QF_LAYOUT_PLAIN)
        rows = t->shape[0];
    else if (t->n_dims > 0 && t->shape[t->n_dims - 1] > 0)
        rows = t->nelem / t->shape[t->n_dims - 1];
    else if (t->n_dims > 0)
        rows = 0;
    if (row0 > rows)
        return qfi_error(err, QF_EINVAL, 0, NULL, -1, "tensor '%s': row %llu past %llu rows",
                         t->name, (unsigned long long)row0, (unsigned long long)rows);
    if (nrows == UINT64_MAX || nrows > rows - row0) {
        if (nrows != UINT64_MAX)
            return qfi_error(err, QF_EINVAL, 0, NULL, -1, "tensor '%s': rows %llu+%llu past %llu",
                             t->name, (unsigned long long)row0, (unsigned long long)nrows,
                             (unsigned long long)rows);
        nrows = rows - row0;
    }
    if (nrows == 0)
        return QF_OK;
    switch (t->family) {
    case QF_LAYOUT_PLAIN:
        return plain_dequant(m, t, row0, nrows, out, err);
    case QF_LAYOUT_GPTQ:
        return qfi_gptq_dequant(m, t, row0, nrows, out, err);
    case QF_LAYOUT_AWQ_GEMM:
    case QF_LAYOUT_AWQ_GEMV:
        return qfi_awq_dequant(m, t, row0, nrows, out, err);
    case QF_LAYOUT_CT_PACK:
    case QF_LAYOUT_CT_FLOAT:
        return qfi_ct_dequant(m, t, row0, nrows, out, err);
    case QF_LAYOUT_FP8:
        return qfi_fp8_dequant(m, t, row0, nrows, out, err);
    case QF_LAYOUT_BNB:
        return qfi_bnb_dequant(m, t, row0, nrows, out, err);
    case QF_LAYOUT_MLX:
        return qfi_mlx_dequant(m, t, row0, nrows, out, err);
    default:
        return qfi_error(err, QF_EINTERNAL, 0, NULL, -1, "tensor '%s': unknown family", t->name);
    }
}
