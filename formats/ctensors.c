/* ctensors.c - compressed-tensors (llm-compressor) layouts inside safetensors (spec
 * bnb-compressed-mlx.md section b).
 *
 * config.json quantization_config: quant_method "compressed-tensors", format (global, or per
 * config group), config_groups.<g>.weights.{num_bits, type, symmetric, strategy, group_size,
 * block_structure, actorder}.
 *
 * pack-quantized (int, 2..8 bits), per linear layer P:
 *   P.weight_packed      I32 [out, ceil(in / (32/b))]  signed q stored as q + 2^(b-1), 32/b
 *                        fields per word LSB first along the input dimension, row zero-padded
 *   P.weight_scale       F16/BF16/F32 [out, ngroups] (group), [out, 1] (channel), [1] (tensor)
 *   P.weight_zero_point  I32 [ceil(out / (32/b)), ngroups]  asymmetric group/channel: signed z
 *                        + 2^(b-1) packed along the OUTPUT dimension; I8 [1] for tensor
 *   P.weight_shape       I64/I32 [2] = [out, in]
 *   P.weight_g_idx       I32 [in]  optional (actorder "group")
 * float-quantized FP8, per layer: P.weight F8_E4M3 [out, in], P.weight_scale with the shapes
 * above or [ceil(out/br), ceil(in/bc)] for strategy "block".
 *
 * Decoded as compressed-tensors' _dequantize does it: codes and zero points are cast to the
 * scale's dtype, W = (q - z) * scale, computed in that dtype. For BF16/F16 scales every product
 * is rounded to that dtype; the integer difference and the product before rounding are exact
 * in f32, so the result is bit-identical to torch's.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layout_int.h"

#define CT_MAX_GROUPS 32

struct ct_args {
    char name[64];       /* config group name */
    int bits;            /* num_bits */
    int is_float;        /* type "float" */
    int sym;             /* 1 unless symmetric is false */
    char strategy[16];   /* "tensor", "channel", "group", "block" (inferred when null) */
    int64_t group_size;  /* 0 if absent */
    int64_t block[2];    /* block_structure, 0 if absent */
    int actorder;        /* actorder set */
    char format[32];     /* the group's format, or the global one */
};

/* A layer being checked against one config group. */
struct ct_layer {
    struct qf_ltensor lt;
    int zp_warn;         /* symmetric config, zero points present and not all zero */
};

static const char *fpath(struct qf_model *m, const struct qf_tensor *t)
{
    return qf_model_file(m, (size_t)t->file_index)->path;
}

static int is_float(int type)
{
    return type == QF_TYPE_F16 || type == QF_TYPE_BF16 || type == QF_TYPE_F32;
}

/* ---------------------------------------------------------------------------------------
 * Config groups */
static const struct qf_kv *group_kv(const struct qf_model *m, const char *g, const char *key)
{
    char k[256];
    snprintf(k, sizeof k, "quantization_config.config_groups.%s.%s", g, key);
    const struct qf_kv *kv = qf_model_find_kv(m, k);
    return kv && kv->val.type != QF_V_NULL ? kv : NULL;
}

static void kv_str(const struct qf_kv *kv, char *dst, size_t n)
{
    dst[0] = '\0';
    if (!kv || kv->val.type != QF_V_STRING)
        return;
    size_t len = kv->val.v.s.len < n - 1 ? (size_t)kv->val.v.s.len : n - 1;
    for (size_t i = 0; i < len; i++) {
        char ch = kv->val.v.s.ptr[i];
        dst[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
    }
    dst[len] = '\0';
}

static int64_t kv_int(const struct qf_kv *kv, int64_t dflt)
{
    int64_t v;
    return kv && qf_value_as_i64(&kv->val, &v) == QF_OK ? v : dflt;
}

static int read_groups(const struct qf_model *m, const struct qfi_qcfg *c, struct ct_args *g,
                       int *ng, struct qf_error *err)
{
    static const char PFX[] = "quantization_config.config_groups.", SFX[] = ".weights.num_bits";
    *ng = 0;
    size_t nkv = qf_model_n_kv(m);
    for (size_t i = 0; i < nkv; i++) {
        const struct qf_kv *kv = qf_model_kv(m, i);
        size_t kl = (size_t)kv->key.len, pl = strlen(PFX), sl = strlen(SFX);
        if (kl <= pl + sl || memcmp(kv->key.ptr, PFX, pl) ||
            memcmp(kv->key.ptr + kl - sl, SFX, sl) || kv->val.type == QF_V_NULL)
            continue;
        size_t nl = kl - pl - sl;
        if (nl >= sizeof g->name || memchr(kv->key.ptr + pl, '.', nl))
            return qfi_error(err, QF_EUNSUPPORTED, 0, c->origin, -1,
                             "%s: config group name '%.*s' is not supported", c->origin,
                             (int)nl, kv->key.ptr + pl);
        if (*ng == CT_MAX_GROUPS)
            return qfi_error(err, QF_ELIMIT, 0, c->origin, -1,
                             "%s: more than %d config groups", c->origin, CT_MAX_GROUPS);
        struct ct_args *a = &g[(*ng)++];
        memset(a, 0, sizeof *a);
        memcpy(a->name, kv->key.ptr + pl, nl);
        a->name[nl] = '\0';
        int64_t nb = kv_int(kv, -1);
        a->bits = nb >= 1 && nb <= 64 ? (int)nb : -1;
        char s[32];
        kv_str(group_kv(m, a->name, "weights.type"), s, sizeof s);
        a->is_float = !strcmp(s, "float");
        if (s[0] && strcmp(s, "float") && strcmp(s, "int"))
            return qfi_error(err, QF_EUNSUPPORTED, 0, c->origin, -1,
                             "%s: config group '%s': weights type '%s' is not supported "
                             "(int, float)", c->origin, a->name, s);
        const struct qf_kv *sym = group_kv(m, a->name, "weights.symmetric");
        a->sym = sym ? kv_int(sym, 1) != 0 : 1;
        a->group_size = kv_int(group_kv(m, a->name, "weights.group_size"), 0);
        kv_str(group_kv(m, a->name, "weights.strategy"), a->strategy, sizeof a->strategy);
        if (!a->strategy[0])
            snprintf(a->strategy, sizeof a->strategy, "%s",
                     a->group_size > 0 ? "group" : a->group_size == -1 ? "channel" : "tensor");
        a->actorder = group_kv(m, a->name, "weights.actorder") != NULL;
        const struct qf_kv *bs = group_kv(m, a->name, "weights.block_structure");
        if (bs && bs->val.type == QF_V_ARRAY && bs->val.v.a.count == 2) {
            for (uint64_t k = 0; k < 2; k++) {
                struct qf_value v;
                if (qf_array_get(&bs->val.v.a, k, &v) != QF_OK ||
                    qf_value_as_i64(&v, &a->block[k]) != QF_OK)
                    a->block[k] = 0;
            }
        }
        kv_str(group_kv(m, a->name, "format"), a->format, sizeof a->format);
        if (!a->format[0])
            snprintf(a->format, sizeof a->format, "%s", c->format);
        if (strcmp(a->format, "pack-quantized") && strcmp(a->format, "float-quantized") &&
            strcmp(a->format, "naive-quantized"))
            return qfi_error(err, QF_EUNSUPPORTED, 0, c->origin, -1,
                             "%s: config group '%s': compressed-tensors format '%s' is not "
                             "supported (pack-quantized, float-quantized)", c->origin, a->name,
                             a->format[0] ? a->format : "(none)");
    }
    if (*ng == 0)
        return qfi_error(err, QF_EFORMAT, 0, c->origin, -1,
                         "%s: compressed-tensors config without config_groups.*.weights",
                         c->origin);
    return QF_OK;
}

/* ---------------------------------------------------------------------------------------
 * Layer checks. Each fills the logical tensor or returns an error naming the layer. */
#define BAD(t, ...) qfi_error(err, QF_EFORMAT, 0, file, (int64_t)(t)->offset, __VA_ARGS__)

/* Field j (b bits) of 32-bit LE word w: (word >> b*j) & mask */
static uint32_t field(const uint8_t *p, uint64_t word, unsigned j, int b)
{
    return (qfi_load_le32(p + 4 * word) >> (j * (unsigned)b)) & ((1u << b) - 1u);
}

/* Scale shape for a strategy: rows x cols; returns the group size G (columns per scale) */
static int scale_shape(const struct ct_args *a, uint64_t out, uint64_t in, uint64_t *rows,
                       uint64_t *cols, uint64_t *br, uint64_t *bc, int64_t *G)
{
    if (!strcmp(a->strategy, "tensor")) {
        *rows = *cols = 1;
        *br = out;
        *bc = in;
    } else if (!strcmp(a->strategy, "channel")) {
        *rows = out;
        *cols = 1;
        *br = 1;
        *bc = in;
    } else if (!strcmp(a->strategy, "group")) {
        if (a->group_size <= 0)
            return -1;
        *br = 1;
        *bc = (uint64_t)a->group_size;
        *rows = out;
        *cols = (in + *bc - 1) / *bc;
    } else if (!strcmp(a->strategy, "block")) {
        if (a->block[0] <= 0 || a->block[1] <= 0)
            return -1;
        *br = (uint64_t)a->block[0];
        *bc = (uint64_t)a->block[1];
        *rows = (out + *br - 1) / *br;
        *cols = (in + *bc - 1) / *bc;
    } else {
        return -2;
    }
    *G = (int64_t)*bc;
    return 0;
}

static int check_scale(struct qf_model *m, const struct ct_args *a, const char *base,
                       const struct qf_tensor *sc, uint64_t rows, uint64_t cols,
                       struct qf_error *err)
{
    const char *file = fpath(m, sc);
    if (!is_float(sc->type))
        return BAD(sc, "compressed-tensors layer '%s': weight_scale must be F16/BF16/F32, found "
                   "%s", base, qf_type_name(sc->type));
    int ok;
    if (rows == 1 && cols == 1)
        ok = sc->nelem == 1 && sc->n_dims <= 2;
    else
        ok = sc->n_dims == 2 && sc->shape[0] == rows && sc->shape[1] == cols;
    if (!ok) {
        char got[64];
        if (sc->n_dims == 2)
            snprintf(got, sizeof got, "[%llu, %llu]", (unsigned long long)sc->shape[0],
                     (unsigned long long)sc->shape[1]);
        else
            snprintf(got, sizeof got, "%d-D with %llu elements", sc->n_dims,
                     (unsigned long long)sc->nelem);
        return BAD(sc, "compressed-tensors layer '%s': weight_scale shape %s, expected "
                   "[%llu, %llu] for strategy '%s' (config group '%s')", base, got,
                   (unsigned long long)rows, (unsigned long long)cols, a->strategy, a->name);
    }
    return QF_OK;
}

static int strategy_error(struct qf_model *m, const struct ct_args *a, const char *base,
                          const struct qf_tensor *t, int why, struct qf_error *err)
{
    const char *file = fpath(m, t);
    if (why == -1)
        return BAD(t, "compressed-tensors layer '%s': strategy '%s' without a valid %s in config "
                   "group '%s'", base, a->strategy,
                   strcmp(a->strategy, "block") ? "group_size" : "block_structure", a->name);
    return qfi_error(err, QF_EUNSUPPORTED, 0, file, (int64_t)t->offset,
                     "compressed-tensors layer '%s': strategy '%s' is not supported", base,
                     a->strategy);
}

static int pack_layer(struct qf_model *m, const struct ct_args *a, const char *base,
                      const struct qf_tensor *const *p, struct ct_layer *L, struct qf_error *err)
{
    const struct qf_tensor *wp = p[QF_LPART_QWEIGHT], *zp = p[QF_LPART_QZEROS];
    const struct qf_tensor *sc = p[QF_LPART_SCALES], *gi = p[QF_LPART_G_IDX];
    const struct qf_tensor *ws = p[QF_LPART_AUX0];
    const char *file = fpath(m, wp);
    memset(L, 0, sizeof *L);
    if (a->is_float || a->bits < 2 || a->bits > 8)
        return qfi_error(err, QF_EUNSUPPORTED, 0, file, (int64_t)wp->offset,
                         "compressed-tensors layer '%s': pack-quantized %s with num_bits %d is "
                         "not supported (int, 2..8 bits; config group '%s')", base,
                         a->is_float ? "float" : "int", a->bits, a->name);
    int b = a->bits;
    uint64_t pack = 32u / (unsigned)b;
    if (wp->type != QF_TYPE_I32 || wp->n_dims != 2)
        return BAD(wp, "compressed-tensors layer '%s': weight_packed must be a 2-D I32 tensor, "
                   "found %s with %d dims", base, qf_type_name(wp->type), wp->n_dims);
    if (!ws)
        return BAD(wp, "compressed-tensors layer '%s': missing tensor '%s.weight_shape'", base,
                   base);
    if ((ws->type != QF_TYPE_I64 && ws->type != QF_TYPE_I32) || ws->n_dims != 1 ||
        ws->shape[0] != 2)
        return BAD(ws, "compressed-tensors layer '%s': weight_shape must be an I64 or I32 [2] "
                   "tensor, found %s with %llu elements", base, qf_type_name(ws->type),
                   (unsigned long long)ws->nelem);
    if (!sc)
        return BAD(wp, "compressed-tensors layer '%s': missing tensor '%s.weight_scale'", base,
                   base);
    uint8_t wsb[16];
    int rc = qf_model_read(m, ws, 0, wsb, (size_t)ws->nbytes, err);
    if (rc)
        return rc;
    int64_t so = ws->type == QF_TYPE_I64 ? (int64_t)qfi_load_le64(wsb) : (int32_t)qfi_load_le32(wsb);
    int64_t si = ws->type == QF_TYPE_I64 ? (int64_t)qfi_load_le64(wsb + 8)
                                         : (int32_t)qfi_load_le32(wsb + 4);
    if (so <= 0 || si <= 0 || so >= (1ll << 32) || si >= (1ll << 32))
        return BAD(ws, "compressed-tensors layer '%s': weight_shape [%lld, %lld] is empty, "
                   "negative or oversized", base, (long long)so, (long long)si);
    uint64_t out = (uint64_t)so, in = (uint64_t)si, wc = (in + pack - 1) / pack;
    if (wp->shape[0] != out || wp->shape[1] != wc) {
        uint64_t implied = wp->shape[1] ? (in + wp->shape[1] - 1) / wp->shape[1] : 0;
        return BAD(wp, "compressed-tensors layer '%s': weight_packed shape [%llu, %llu] "
                   "disagrees with weight_shape [%llu, %llu] at %d bits (expected [%llu, %llu]; "
                   "config group '%s' declares num_bits=%d, the columns imply %llu values per "
                   "word)", base, (unsigned long long)wp->shape[0],
                   (unsigned long long)wp->shape[1], (unsigned long long)out,
                   (unsigned long long)in, b, (unsigned long long)out, (unsigned long long)wc,
                   a->name, b, (unsigned long long)implied);
    }
    uint64_t srows, scols, br, bc;
    int64_t G;
    int why = scale_shape(a, out, in, &srows, &scols, &br, &bc, &G);
    if (why || !strcmp(a->strategy, "block")) /* block scales exist for FP8 only */
        return strategy_error(m, a, base, wp, why ? why : -2, err);
    if (in % bc)
        return qfi_error(err, QF_EFORMAT, 0, file, (int64_t)wp->offset,
                         "compressed-tensors layer '%s': group_size %llu does not divide "
                         "in_features %llu (config group '%s')", base, (unsigned long long)bc,
                         (unsigned long long)in, a->name);
    uint64_t ng = in / bc;
    if ((rc = check_scale(m, a, base, sc, srows, scols, err)))
        return rc;
    int tensor = !strcmp(a->strategy, "tensor");
    if (zp) {
        if (tensor) {
            if (zp->type != QF_TYPE_I8 || zp->nelem != 1)
                return BAD(zp, "compressed-tensors layer '%s': weight_zero_point must be one I8 "
                           "value for strategy 'tensor', found %s with %llu elements", base,
                           qf_type_name(zp->type), (unsigned long long)zp->nelem);
        } else {
            uint64_t zr = (out + pack - 1) / pack;
            if (zp->type != QF_TYPE_I32 || zp->n_dims != 2 || zp->shape[0] != zr ||
                zp->shape[1] != ng)
                return BAD(zp, "compressed-tensors layer '%s': weight_zero_point must be I32 "
                           "[%llu, %llu], found %s with %d dims", base, (unsigned long long)zr,
                           (unsigned long long)ng, qf_type_name(zp->type), zp->n_dims);
        }
    } else if (!a->sym) {
        return BAD(wp, "compressed-tensors layer '%s': config group '%s' is asymmetric but "
                   "'%s.weight_zero_point' is missing", base, a->name, base);
    }
    int act = 0;
    if (gi) {
        if (gi->type != QF_TYPE_I32 || gi->n_dims != 1 || gi->shape[0] != in)
            return BAD(gi, "compressed-tensors layer '%s': weight_g_idx must be I32 [%llu], found "
                       "%s with %llu elements", base, (unsigned long long)in,
                       qf_type_name(gi->type), (unsigned long long)gi->nelem);
        const uint8_t *d;
        void *own;
        if ((rc = qfi_layout_load(m, gi, &d, &own, err)))
            return rc;
        for (uint64_t i = 0; i < in; i++) {
            int32_t g = (int32_t)qfi_load_le32(d + 4 * i);
            if (g < 0 || (uint64_t)g >= ng) {
                free(own);
                return BAD(gi, "compressed-tensors layer '%s': weight_g_idx[%llu] = %d out of "
                           "range [0, %llu)", base, (unsigned long long)i, (int)g,
                           (unsigned long long)ng);
            }
            act |= (uint64_t)g != i / bc;
        }
        free(own);
    }
    if (zp && a->sym) { /* symmetric: stored zero points are ignored; they should be 0 */
        const uint8_t *d;
        void *own;
        if ((rc = qfi_layout_load(m, zp, &d, &own, err)))
            return rc;
        uint32_t off = 1u << (b - 1);
        if (tensor) {
            L->zp_warn = d[0] != 0;
        } else {
            for (uint64_t o = 0; o < out && !L->zp_warn; o++)
                for (uint64_t g = 0; g < ng; g++)
                    if (field(d, (o / pack) * ng + g, (unsigned)(o % pack), b) != off) {
                        L->zp_warn = 1;
                        break;
                    }
        }
        free(own);
    }
    qfi_layout_fill_2d(&L->lt, NULL, QF_LAYOUT_CT_PACK, out, in, p, b, (int64_t)bc, 0, a->sym);
    L->lt.act_order = act;
    return QF_OK;
}

static int float_layer(struct qf_model *m, const struct ct_args *a, const char *base,
                       const struct qf_tensor *const *p, struct ct_layer *L, struct qf_error *err)
{
    const struct qf_tensor *w = p[QF_LPART_QWEIGHT], *sc = p[QF_LPART_SCALES];
    const char *file = fpath(m, w);
    memset(L, 0, sizeof *L);
    if (!a->is_float || a->bits != 8)
        return qfi_error(err, QF_EUNSUPPORTED, 0, file, (int64_t)w->offset,
                         "compressed-tensors layer '%s': %s weights with num_bits %d are not "
                         "supported (float 8; config group '%s')", base,
                         a->is_float ? "float" : "int", a->bits, a->name);
    if (!a->sym || p[QF_LPART_QZEROS])
        return qfi_error(err, QF_EUNSUPPORTED, 0, file, (int64_t)w->offset,
                         "compressed-tensors layer '%s': asymmetric FP8 is not supported", base);
    if (w->type != QF_TYPE_F8_E4M3 || w->n_dims != 2)
        return BAD(w, "compressed-tensors layer '%s': weight must be a 2-D F8_E4M3 tensor, found "
                   "%s with %d dims", base, qf_type_name(w->type), w->n_dims);
    if (p[QF_LPART_G_IDX])
        return qfi_error(err, QF_EUNSUPPORTED, 0, file, (int64_t)w->offset,
                         "compressed-tensors layer '%s': FP8 with weight_g_idx is not supported",
                         base);
    uint64_t out = w->shape[0], in = w->shape[1];
    if (out == 0 || in == 0 || out >= (1ull << 32) || in >= (1ull << 32))
        return BAD(w, "compressed-tensors layer '%s': empty or oversized shape", base);
    uint64_t srows, scols, br, bc;
    int64_t G;
    int why = scale_shape(a, out, in, &srows, &scols, &br, &bc, &G);
    if (why)
        return strategy_error(m, a, base, w, why, err);
    int rc = check_scale(m, a, base, sc, srows, scols, err);
    if (rc)
        return rc;
    qfi_layout_fill_2d(&L->lt, w->name, QF_LAYOUT_CT_FLOAT, out, in, p, 8, (int64_t)bc,
                       (int64_t)br, 1);
    return QF_OK;
}

#undef BAD

/* ---------------------------------------------------------------------------------------
 * Scan */
static const char *short_strategy(const struct ct_args *a, const struct qf_ltensor *lt,
                                  char *buf, size_t n)
{
    if (!strcmp(a->strategy, "group"))
        snprintf(buf, n, "g%lld", (long long)lt->group_size);
    else if (!strcmp(a->strategy, "block"))
        snprintf(buf, n, "block%lldx%lld", (long long)lt->block_rows, (long long)lt->group_size);
    else
        snprintf(buf, n, "per-%s", a->strategy);
    return buf;
}

static int add_layer(struct qf_layout *l, const struct ct_args *a, const char *base,
                     struct ct_layer *L, struct qf_error *err)
{
    char scheme[128], st[48], nm[QFI_MAX_NAME + 32];
    struct qf_ltensor *lt = &L->lt;
    if (lt->family == QF_LAYOUT_CT_PACK)
        snprintf(scheme, sizeof scheme, "compressed-tensors pack int%d %s %s%s", lt->bits,
                 short_strategy(a, lt, st, sizeof st), lt->sym ? "sym" : "asym",
                 lt->act_order ? " act-order" : "");
    else
        snprintf(scheme, sizeof scheme, "compressed-tensors fp8 e4m3 %s",
                 short_strategy(a, lt, st, sizeof st));
    lt->scheme = qfi_layout_strdup(l, scheme);
    if (!lt->name) {
        snprintf(nm, sizeof nm, "%s.weight", base);
        lt->name = qfi_layout_strdup(l, nm);
    }
    if (!lt->name || !lt->scheme)
        return qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory");
    if (L->zp_warn)
        qfi_layout_warn(l, "compressed-tensors layer '%s': config group '%s' is symmetric but "
                        "weight_zero_point holds non-zero zero points (ignored)", base, a->name);
    if (lt->act_order && !a->actorder)
        qfi_layout_warn(l, "compressed-tensors layer '%s': weight_g_idx is permuted but config "
                        "group '%s' declares no actorder", base, a->name);
    for (int k = 0; k < QF_LPART_MAX; k++)
        if (lt->parts[k])
            l->claimed[lt->parts[k]->index] = 1;
    return qfi_layout_add(l, lt, err);
}

/* Check the layer against the config groups of its kind; the first group that fits wins.
 * With one candidate its error is reported as is. */
static int scan_one(struct qf_model *m, struct qf_layout *l, const struct ct_args *g, int ng,
                    int packed, const char *base, const struct qf_tensor *const *p,
                    struct qf_error *err)
{
    struct ct_layer L;
    int first_rc = 0, tried = 0;
    struct qf_error first;
    memset(&first, 0, sizeof first);
    for (int k = 0; k < ng; k++) {
        int is_pack = !strcmp(g[k].format, "pack-quantized");
        if (is_pack != packed)
            continue;
        struct qf_error e;
        memset(&e, 0, sizeof e);
        int rc = packed ? pack_layer(m, &g[k], base, p, &L, &e)
                        : float_layer(m, &g[k], base, p, &L, &e);
        if (rc == QF_OK)
            return add_layer(l, &g[k], base, &L, err);
        if (rc == QF_ENOMEM || rc == QF_EIO)
            return err ? (*err = e, rc) : rc;
        if (!tried++) {
            first_rc = rc;
            first = e;
        }
    }
    if (!tried)
        return qfi_error(err, QF_EFORMAT, 0, fpath(m, p[QF_LPART_QWEIGHT]),
                         (int64_t)p[QF_LPART_QWEIGHT]->offset,
                         "compressed-tensors layer '%s': no config group has format '%s'", base,
                         packed ? "pack-quantized" : "float-quantized");
    if (err)
        *err = first;
    return first_rc;
}

int qfi_ct_scan(struct qf_model *m, struct qf_layout *l, const struct qfi_qcfg *c,
                struct qf_error *err)
{
    struct ct_args g[CT_MAX_GROUPS];
    int ng;
    int rc = read_groups(m, c, g, &ng, err);
    if (rc)
        return rc;
    static const char *const sfx[QF_LPART_MAX] = {".weight_packed", ".weight_zero_point",
                                                  ".weight_scale", ".weight_g_idx",
                                                  ".weight_shape", NULL, NULL, NULL};
    char base[QFI_MAX_NAME + 16], nm[QFI_MAX_NAME + 32];
    size_t n = qf_model_n_tensors(m);
    for (size_t ti = 0; ti < n; ti++) {
        const struct qf_tensor *t = qf_model_tensor(m, ti);
        /* a layer is found at its weight_scale: packed (weight_packed) or float (weight) */
        static const char SC[] = ".weight_scale";
        size_t sl = strlen(SC);
        if (t->name_len <= sl || strcmp(t->name + t->name_len - sl, SC))
            continue;
        size_t bl = t->name_len - sl;
        if (bl >= QFI_MAX_NAME)
            return qfi_error(err, QF_ELIMIT, 0, fpath(m, t), (int64_t)t->offset, "name too long");
        memcpy(base, t->name, bl);
        base[bl] = '\0';
        const struct qf_tensor *p[QF_LPART_MAX] = {NULL};
        for (int k = 0; k < QF_LPART_MAX; k++) {
            if (!sfx[k])
                continue;
            snprintf(nm, sizeof nm, "%s%s", base, sfx[k]);
            p[k] = qf_model_find_tensor(m, nm);
        }
        int packed = p[QF_LPART_QWEIGHT] != NULL;
        if (!packed) {
            snprintf(nm, sizeof nm, "%s.weight", base);
            p[QF_LPART_QWEIGHT] = qf_model_find_tensor(m, nm);
            if (!p[QF_LPART_QWEIGHT])
                return qfi_error(err, QF_EFORMAT, 0, fpath(m, t), (int64_t)t->offset,
                                 "compressed-tensors layer '%s': weight_scale without '%s' or "
                                 "'%s.weight_packed'", base, nm, base);
            if (p[QF_LPART_AUX0])
                return qfi_error(err, QF_EFORMAT, 0, fpath(m, t), (int64_t)t->offset,
                                 "compressed-tensors layer '%s': weight_shape without "
                                 "weight_packed", base);
        }
        rc = scan_one(m, l, g, ng, packed, base, p, err);
        if (rc)
            return rc;
    }
    /* parts of a layer without its weight_scale */
    for (size_t ti = 0; ti < n; ti++) {
        const struct qf_tensor *t = qf_model_tensor(m, ti);
        static const char WP[] = ".weight_packed";
        size_t wl = strlen(WP);
        if (!l->claimed[ti] && t->name_len > wl && !strcmp(t->name + t->name_len - wl, WP))
            return qfi_error(err, QF_EFORMAT, 0, fpath(m, t), (int64_t)t->offset,
                             "compressed-tensors layer '%.*s': missing tensor "
                             "'%.*s.weight_scale'", (int)(t->name_len - wl), t->name,
                             (int)(t->name_len - wl), t->name);
    }
    return qfi_fp8_orphans(m, l, "weight_scale", err);
}

/* ---------------------------------------------------------------------------------------
 * Dequantize */
int qfi_ct_dequant(struct qf_model *m, const struct qf_ltensor *t, uint64_t row0,
                   uint64_t nrows, float *out, struct qf_error *err)
{
    const struct qf_tensor *sc = t->parts[QF_LPART_SCALES];
    if (t->family == QF_LAYOUT_CT_FLOAT)
        return qfi_fp8_dequant_rows(m, t, sc->type, row0, nrows, out, err);
    const struct qf_tensor *wp = t->parts[QF_LPART_QWEIGHT], *zp = t->parts[QF_LPART_QZEROS];
    const struct qf_tensor *gi = t->parts[QF_LPART_G_IDX];
    uint64_t O = t->shape[0], in = t->shape[1], G = (uint64_t)t->group_size;
    int b = t->bits;
    if (b < 2 || b > 8 || G == 0 || wp->shape[0] != O)
        return qfi_error(err, QF_EINTERNAL, 0, NULL, -1, "'%s': inconsistent layer", t->name);
    uint64_t pack = 32u / (unsigned)b, wc = wp->shape[1], ng = in / G;
    int32_t off = 1 << (b - 1);
    /* packed codes, zero points (asymmetric only), g_idx */
    const struct qf_tensor *src[3] = {wp, zp && !t->sym ? zp : NULL, gi};
    const uint8_t *d[3] = {NULL, NULL, NULL};
    void *own[3] = {NULL, NULL, NULL};
    float *s = NULL;
    int rc = QF_OK;
    for (int k = 0; k < 3 && !rc; k++)
        if (src[k])
            rc = qfi_layout_load(m, src[k], &d[k], &own[k], err);
    if (rc || (rc = qfi_layout_load_f32(m, sc, &s, err)))
        goto done;
    const uint8_t *w = d[0], *z = d[1], *g = d[2];
    uint64_t scols = sc->nelem == 1 ? 0 : ng; /* tensor strategy: one scale */
    int tensor_zp = z && zp->type == QF_TYPE_I8;
    for (uint64_t r = 0; r < nrows; r++) {
        uint64_t o = row0 + r;
        float *dst = out + r * in;
        for (uint64_t i = 0; i < in; i++) {
            uint64_t gg = i / G;
            if (g) {
                gg = qfi_load_le32(g + 4 * i);
                if (gg >= ng) { /* the file changed under us: scan checked this */
                    rc = qfi_error(err, QF_EFORMAT, 0, NULL, -1, "'%s': g_idx out of range",
                                   t->name);
                    goto done;
                }
            }
            int32_t q = (int32_t)field(w, o * wc + i / pack, (unsigned)(i % pack), b) - off;
            int32_t zz = 0;
            if (tensor_zp)
                zz = (int8_t)z[0];
            else if (z)
                zz = (int32_t)field(z, (o / pack) * ng + gg, (unsigned)(o % pack), b) - off;
            float sv = scols ? s[o * scols + gg] : s[0];
            dst[i] = qfi_ct_round(sc->type, (float)(q - zz) * sv);
        }
    }
done:
    for (int k = 0; k < 3; k++)
        free(own[k]);
    free(s);
    return rc;
}

/* ---------------------------------------------------------------------------------------
 * Encoding (writer side) */
void qfi_ct_pack_rows(const int8_t *q, uint64_t nrows, uint64_t in, int bits, uint32_t *packed)
{
    uint64_t pack = 32u / (unsigned)bits, wc = (in + pack - 1) / pack;
    uint32_t off = 1u << (bits - 1), mask = (1u << bits) - 1u;
    for (uint64_t r = 0; r < nrows; r++)
        for (uint64_t i = 0; i < in; i++)
            packed[r * wc + i / pack] |= (((uint32_t)(int32_t)q[r * in + i] + off) & mask)
                                         << ((i % pack) * (unsigned)bits);
}

void qfi_ct_pack_zeros(const int8_t *z, uint64_t out, uint64_t ngroups, int bits,
                       uint32_t *packed)
{
    uint64_t pack = 32u / (unsigned)bits;
    uint32_t off = 1u << (bits - 1), mask = (1u << bits) - 1u;
    for (uint64_t o = 0; o < out; o++)
        for (uint64_t g = 0; g < ngroups; g++)
            packed[(o / pack) * ngroups + g] |=
                (((uint32_t)(int32_t)z[o * ngroups + g] + off) & mask)
                << ((o % pack) * (unsigned)bits);
}

void qfi_ct_minmax_params(const float *w, uint64_t nrows, uint64_t in, uint64_t G, float qmin,
                          float qmax, int sym, int is_int, int stype, float *scale,
                          int8_t *zero)
{
    uint64_t ng = in / G;
    float range = qmax - qmin;
    for (uint64_t r = 0; r < nrows; r++)
        for (uint64_t g = 0; g < ng; g++) {
            float lo = 0.0f, hi = 0.0f; /* min(min, 0), max(max, 0) */
            for (uint64_t i = g * G; i < (g + 1) * G; i++) {
                float v = w[r * in + i];
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
            }
            float s, zf = 0.0f;
            if (sym) {
                float mp = fabsf(lo) > fabsf(hi) ? fabsf(lo) : fabsf(hi);
                s = qfi_ct_round(stype, mp / (range / 2.0f));
            } else {
                s = qfi_ct_round(stype, qfi_ct_round(stype, hi - lo) / range);
            }
            if (s < FLT_EPSILON) /* clamp(min = f32 eps), exact in every scale dtype */
                s = FLT_EPSILON;
            if (!sym) {
                zf = qfi_ct_round(stype, qmin - qfi_ct_round(stype, lo / s));
                zf = zf < qmin ? qmin : zf > qmax ? qmax : zf;
                if (is_int)
                    zf = nearbyintf(zf);
            }
            scale[r * ng + g] = s;
            if (zero)
                zero[r * ng + g] = (int8_t)zf;
        }
}

void qfi_ct_quantize_rows(const float *w, uint64_t nrows, uint64_t in, uint64_t G, int bits,
                          int stype, const float *scale, const int8_t *zero, int8_t *q)
{
    uint64_t ng = in / G;
    float qmin = -(float)(1 << (bits - 1)), qmax = (float)((1 << (bits - 1)) - 1);
    for (uint64_t r = 0; r < nrows; r++)
        for (uint64_t i = 0; i < in; i++) {
            uint64_t g = r * ng + i / G;
            float v = qfi_ct_round(stype, w[r * in + i] / scale[g]);
            if (zero)
                v = qfi_ct_round(stype, v + (float)zero[g]);
            v = v < qmin ? qmin : v > qmax ? qmax : v;
            q[r * in + i] = (int8_t)nearbyintf(v);
        }
}

void qfi_ct_fp8_quantize_rows(const float *w, uint64_t nrows, uint64_t in, uint64_t G,
                              int stype, const float *scale, uint8_t *q)
{
    uint64_t ng = in / G;
    for (uint64_t r = 0; r < nrows; r++)
        for (uint64_t i = 0; i < in; i++) {
            float v = qfi_ct_round(stype, w[r * in + i] / scale[r * ng + i / G]);
            v = v < -448.0f ? -448.0f : v > 448.0f ? 448.0f : v; /* clamp before the cast */
            q[r * in + i] = qfi_fp8_e4m3_encode(v);
        }
}

/* ---------------------------------------------------------------------------------------
 * compressed-tensors pack <-> GPTQ v2: for b dividing 32 the fields of a word are the same
 * unsigned codes (ct's q + 2^(b-1) is GPTQ's code with zero 2^(b-1) meaning 0), so
 *   qweight[w][o] = weight_packed[o][w],  qzeros[g][w] = weight_zero_point[w][g],
 * and a symmetric layer (no zero points) has every GPTQ v2 zero field 2^(b-1). */
int qfi_ct_to_gptq_v2(const uint32_t *packed, const uint32_t *zp, uint64_t out, uint64_t in,
                      uint64_t ngroups, int bits, uint32_t *qweight, uint32_t *qzeros)
{
    if (bits <= 0 || 32 % bits)
        return QF_EUNSUPPORTED;
    uint64_t pack = 32u / (unsigned)bits, wc = (in + pack - 1) / pack;
    uint64_t zc = (out + pack - 1) / pack;
    for (uint64_t o = 0; o < out; o++)
        for (uint64_t w = 0; w < wc; w++)
            qweight[w * out + o] = packed[o * wc + w];
    uint32_t sym = 0;
    for (uint64_t j = 0; j < pack; j++)
        sym |= (1u << (bits - 1)) << (j * (unsigned)bits);
    for (uint64_t g = 0; g < ngroups; g++)
        for (uint64_t w = 0; w < zc; w++) {
            uint32_t v = zp ? zp[w * ngroups + g] : sym;
            if (!zp && w == zc - 1 && out % pack) /* fields past out stay 0 */
                v &= (1u << ((out % pack) * (unsigned)bits)) - 1u;
            qzeros[g * zc + w] = v;
        }
    return QF_OK;
}

int qfi_gptq_v2_to_ct(const uint32_t *qweight, const uint32_t *qzeros, uint64_t out,
                      uint64_t in, uint64_t ngroups, int bits, int sym, uint32_t *packed,
                      uint32_t *zp)
{
    if (bits <= 0 || 32 % bits)
        return QF_EUNSUPPORTED;
    uint64_t pack = 32u / (unsigned)bits, wc = (in + pack - 1) / pack;
    uint64_t zc = (out + pack - 1) / pack;
    uint32_t half = 1u << (bits - 1), mask = (1u << bits) - 1u;
    for (uint64_t o = 0; o < out; o++)
        for (uint64_t w = 0; w < wc; w++)
            packed[o * wc + w] = qweight[w * out + o];
    for (uint64_t g = 0; g < ngroups; g++)
        for (uint64_t w = 0; w < zc; w++) {
            uint32_t v = qzeros[g * zc + w];
            if (sym) {
                for (uint64_t j = 0; j < pack && w * pack + j < out; j++)
                    if (((v >> (j * (unsigned)bits)) & mask) != half)
                        return QF_EFORMAT; /* not symmetric */
            } else {
                zp[w * ngroups + g] = v;
            }
        }
    return QF_OK;
}
