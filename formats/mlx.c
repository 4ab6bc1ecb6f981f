/* mlx.c - MLX affine quantization (mlx / mlx-lm) inside safetensors. Spec:
 * bnb-compressed-mlx.md section (c).
 *
 * Per quantized layer P (QuantizedLinear / QuantizedEmbedding):
 *   P.weight  U32 [out, in * bits / 32]  per row a little-endian bitstream of b-bit codes,
 *                                        code k at stream bits [b*k, b*k + b), stream bit n =
 *                                        bit n % 32 of word n / 32
 *   P.scales  F16/BF16/F32 [out, in / group_size]
 *   P.biases  same dtype and shape as scales
 * config.json: "quantization": {"group_size": 64, "bits": 4, "mode": "affine", "<module>":
 * {"group_size", "bits"} or false, ...} (mlx-lm also writes a "quantization_config" copy).
 * Without a config, the tensor triples are recognised with mlx-lm's defaults (64, 4).
 * Logical tensor "P.weight" [out, in]; parts: QWEIGHT = weight, SCALES = scales, QZEROS =
 * biases.
 *
 * Decoded: w = scales * q + biases per group, computed in f32 (no fused multiply-add) and
 * rounded once to the scales' dtype, as MLX's dequantize kernels compute in float and store
 * the scales' type. (MLX's fallback graph rounds the product to the dtype first; the two can
 * differ in the last bit for f16 / bf16 scales.)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layout_int.h"

static const char *fpath(struct qf_model *m, const struct qf_tensor *t)
{
    return qf_model_file(m, (size_t)t->file_index)->path;
}

/* ---------------------------------------------------------------------------------------
 * Encoding (pure; for a layout writer) */
void qfi_mlx_quantize(const float *w, uint64_t nrows, uint64_t in, uint64_t G, int bits,
                      float *scales, float *biases, uint8_t *q)
{
    uint64_t ng = in / G;
    float nmax = (float)((1u << bits) - 1);
    for (uint64_t r = 0; r < nrows; r++) {
        for (uint64_t g = 0; g < ng; g++) {
            const float *x = w + r * in + g * G;
            float mn = x[0], mx = x[0];
            for (uint64_t k = 1; k < G; k++) {
                mn = x[k] < mn ? x[k] : mn;
                mx = x[k] > mx ? x[k] : mx;
            }
            /* mlx/ops.cpp affine_quantize fallback: zero exactly representable */
            float s = (mx - mn) / nmax;
            s = s > 1e-7f ? s : 1e-7f;
            float edge;
            if (fabsf(mn) > fabsf(mx)) {
                edge = mn;
            } else {
                s = -s;
                edge = mx;
            }
            float q0 = nearbyintf(edge / s), bias = 0.0f;
            if (q0 != 0.0f) {
                s = edge / q0;
                bias = edge;
            }
            for (uint64_t k = 0; k < G; k++) {
                float v = nearbyintf((x[k] - bias) / s);
                v = !(v > 0.0f) ? 0.0f : v > nmax ? nmax : v;
                q[r * in + g * G + k] = (uint8_t)v;
            }
            scales[r * ng + g] = s;
            biases[r * ng + g] = bias;
        }
    }
}

void qfi_mlx_pack(const uint8_t *q, uint64_t nrows, uint64_t in, int bits, uint32_t *words)
{
    uint64_t wc = in * (uint64_t)bits / 32;
    for (uint64_t r = 0; r < nrows; r++) {
        uint32_t *row = words + r * wc;
        for (uint64_t k = 0; k < in; k++) {
            uint64_t bit = k * (uint64_t)bits;
            uint64_t v = (uint64_t)(q[r * in + k] & ((1u << bits) - 1)) << (bit % 32);
            row[bit / 32] |= (uint32_t)v;
            if (bit % 32 + (uint64_t)bits > 32)
                row[bit / 32 + 1] |= (uint32_t)(v >> 32);
        }
    }
}

/* ---------------------------------------------------------------------------------------
 * Config */
static const struct qf_kv *kv2(const struct qf_model *m, const char *a, const char *b)
{
    char k[QFI_MAX_NAME + 64];
    static const char *const root[] = {"quantization.", "quantization_config."};
    for (int r = 0; r < 2; r++) {
        snprintf(k, sizeof k, "%s%s%s", root[r], a, b);
        const struct qf_kv *kv = qf_model_find_kv(m, k);
        if (kv && kv->val.type != QF_V_NULL)
            return kv;
    }
    return NULL;
}

int qfi_mlx_has_config(const struct qf_model *m)
{
    return kv2(m, "", "bits") || kv2(m, "", "group_size");
}

/* per-layer parameters: the module's own entry, else the defaults; 0 if the config marks the
 * module as not quantized (false), -1 on a malformed value (reason in why) */
static int layer_params(const struct qf_model *m, const char *mod, int64_t *G, int64_t *bits,
                        char *why, size_t wn)
{
    char p[QFI_MAX_NAME + 24];
    const struct qf_kv *own = kv2(m, "", mod);
    if (own && own->val.type == QF_V_BOOL) {
        int64_t v;
        if (qf_value_as_i64(&own->val, &v) == QF_OK && v == 0)
            return 0;
    }
    snprintf(p, sizeof p, "%s.", mod);
    const struct qf_kv *kb = kv2(m, p, "bits"), *kg = kv2(m, p, "group_size");
    const struct qf_kv *km = kv2(m, p, "mode");
    if (!kb)
        kb = kv2(m, "", "bits");
    if (!kg)
        kg = kv2(m, "", "group_size");
    if (!km)
        km = kv2(m, "", "mode");
    if (km && (km->val.type != QF_V_STRING || km->val.v.s.len != 6 ||
               memcmp(km->val.v.s.ptr, "affine", 6))) {
        snprintf(why, wn, "mode '%.*s' (only affine is supported)",
                 km->val.type == QF_V_STRING ? (int)km->val.v.s.len : 1,
                 km->val.type == QF_V_STRING ? km->val.v.s.ptr : "?");
        return -2;
    }
    if ((kb && qf_value_as_i64(&kb->val, bits) != QF_OK) ||
        (kg && qf_value_as_i64(&kg->val, G) != QF_OK)) {
        snprintf(why, wn, "bits / group_size must be integers");
        return -1;
    }
    if (*bits != 2 && *bits != 3 && *bits != 4 && *bits != 5 && *bits != 6 && *bits != 8) {
        snprintf(why, wn, "bits %lld (MLX affine: 2, 3, 4, 5, 6, 8)", (long long)*bits);
        return -1;
    }
    if (*G <= 0 || *G > (1ll << 31)) {
        snprintf(why, wn, "group_size %lld must be positive", (long long)*G);
        return -1;
    }
    return 1;
}

/* ---------------------------------------------------------------------------------------
 * Scan */
static int is_float(int type)
{
    return type == QF_TYPE_F16 || type == QF_TYPE_BF16 || type == QF_TYPE_F32;
}

static int scan_layer(struct qf_model *m, struct qf_layout *l, const struct qf_tensor *sc,
                      int have_cfg, struct qf_error *err)
{
    static const char SFX[] = ".scales";
    char base[QFI_MAX_NAME + 16], nm[QFI_MAX_NAME + 32], why[160], scheme[64];
    const char *file = fpath(m, sc);
    size_t bl = sc->name_len - strlen(SFX);
    if (bl >= QFI_MAX_NAME)
        return qfi_error(err, QF_ELIMIT, 0, file, (int64_t)sc->offset, "name too long");
    memcpy(base, sc->name, bl);
    base[bl] = '\0';
    int64_t G = 64, bits = 4;
    int lp = have_cfg ? layer_params(m, base, &G, &bits, why, sizeof why) : 1;
    if (lp == 0)
        return QF_OK;
    if (lp < 0)
        return qfi_error(err, lp == -2 ? QF_EUNSUPPORTED : QF_EFORMAT, 0, "config.json", -1,
                         "MLX layer '%s': %s", base, why);
    snprintf(nm, sizeof nm, "%s.weight", base);
    const struct qf_tensor *w = qf_model_find_tensor(m, nm);
#define BAD(t, ...) qfi_error(err, QF_EFORMAT, 0, file, (int64_t)(t)->offset, __VA_ARGS__)
    if (!w)
        return BAD(sc, "MLX layer '%s': missing tensor '%s'", base, nm);
    snprintf(nm, sizeof nm, "%s.biases", base);
    const struct qf_tensor *bi = qf_model_find_tensor(m, nm);
    if (!bi)
        return BAD(sc, "MLX layer '%s': missing tensor '%s' (affine mode stores biases)", base,
                   nm);
    if (w->type != QF_TYPE_U32 || w->n_dims != 2)
        return BAD(w, "MLX layer '%s': weight must be a 2-D U32 tensor, found %s with %d dims",
                   base, qf_type_name(w->type), w->n_dims);
    if (!is_float(sc->type) || sc->n_dims != 2)
        return BAD(sc, "MLX layer '%s': scales must be a 2-D F16/BF16/F32 tensor, found %s with "
                   "%d dims", base, qf_type_name(sc->type), sc->n_dims);
    if (bi->type != sc->type || bi->n_dims != 2 || bi->shape[0] != sc->shape[0] ||
        bi->shape[1] != sc->shape[1])
        return BAD(bi, "MLX layer '%s': biases %s [%llu, %llu] disagree with scales %s [%llu, "
                   "%llu]", base, qf_type_name(bi->type), (unsigned long long)bi->shape[0],
                   (unsigned long long)(bi->n_dims > 1 ? bi->shape[1] : 0),
                   qf_type_name(sc->type), (unsigned long long)sc->shape[0],
                   (unsigned long long)sc->shape[1]);
    uint64_t out = w->shape[0], wc = w->shape[1], ub = (uint64_t)bits, g = (uint64_t)G;
    if (out == 0 || wc == 0 || out >= (1ull << 32) || wc >= (1ull << 32))
        return BAD(w, "MLX layer '%s': empty or oversized weight", base);
    if ((wc * 32) % ub)
        return BAD(w, "MLX layer '%s': weight has %llu words per row, not a whole number of "
                   "%lld-bit codes", base, (unsigned long long)wc, (long long)bits);
    uint64_t in = wc * 32 / ub;
    if (in >= (1ull << 32))
        return BAD(w, "MLX layer '%s': in_features %llu too large", base, (unsigned long long)in);
    if (in % g)
        return BAD(w, "MLX layer '%s': group_size %lld does not divide in_features %llu", base,
                   (long long)G, (unsigned long long)in);
    if (sc->shape[0] != out || sc->shape[1] != in / g)
        return BAD(sc, "MLX layer '%s': scales shape [%llu, %llu], expected [%llu, %llu] "
                   "(in_features %llu / group_size %lld)", base,
                   (unsigned long long)sc->shape[0], (unsigned long long)sc->shape[1],
                   (unsigned long long)out, (unsigned long long)(in / g),
                   (unsigned long long)in, (long long)G);
#undef BAD
    if (!have_cfg) {
        int rc = qfi_layout_warn(l, "MLX layer '%s': no quantization config; assuming mlx-lm's "
                                 "defaults bits 4, group_size 64", base);
        if (rc)
            return qfi_error(err, rc, 0, NULL, -1, "out of memory");
    }
    const struct qf_tensor *p[QF_LPART_MAX] = {NULL};
    p[QF_LPART_QWEIGHT] = w;
    p[QF_LPART_SCALES] = sc;
    p[QF_LPART_QZEROS] = bi;
    snprintf(scheme, sizeof scheme, "mlx affine int%lld g%lld", (long long)bits, (long long)G);
    struct qf_ltensor lt;
    snprintf(nm, sizeof nm, "%s.weight", base);
    qfi_layout_fill_2d(&lt, NULL, QF_LAYOUT_MLX, out, in, p, (int)bits, G, 0, 0);
    return qfi_layout_add_claimed(l, &lt, nm, scheme, err);
}

int qfi_mlx_triples(const struct qf_model *m)
{
    char nm[QFI_MAX_NAME + 32];
    size_t n = qf_model_n_tensors(m);
    for (size_t i = 0; i < n; i++) {
        const struct qf_tensor *t = qf_model_tensor(m, i);
        size_t sl = strlen(".scales");
        if (t->name_len <= sl || t->name_len >= QFI_MAX_NAME ||
            strcmp(t->name + t->name_len - sl, ".scales"))
            continue;
        snprintf(nm, sizeof nm, "%.*s.biases", (int)(t->name_len - sl), t->name);
        if (!qf_model_find_tensor(m, nm))
            continue;
        snprintf(nm, sizeof nm, "%.*s.weight", (int)(t->name_len - sl), t->name);
        const struct qf_tensor *w = qf_model_find_tensor(m, nm);
        if (w && w->type == QF_TYPE_U32)
            return 1;
    }
    return 0;
}

int qfi_mlx_scan(struct qf_model *m, struct qf_layout *l, const struct qfi_qcfg *c,
                 struct qf_error *err)
{
    (void)c;
    int have_cfg = qfi_mlx_has_config(m);
    size_t n = qf_model_n_tensors(m);
    for (size_t i = 0; i < n; i++) {
        const struct qf_tensor *t = qf_model_tensor(m, i);
        size_t sl = strlen(".scales");
        if (t->name_len > sl && !strcmp(t->name + t->name_len - sl, ".scales")) {
            int rc = scan_layer(m, l, t, have_cfg, err);
            if (rc)
                return rc;
        }
    }
    /* parts left over: biases whose layer has no scales, or (with an MLX config) a packed U32
     * weight without scales, are a layer missing a part, not plain tensors */
    for (size_t i = 0; i < n; i++) {
        const struct qf_tensor *t = qf_model_tensor(m, i);
        if (l->claimed[i])
            continue;
        const char *sfx = NULL;
        if (t->name_len > 7 && !strcmp(t->name + t->name_len - 7, ".biases"))
            sfx = ".biases";
        else if (have_cfg && t->type == QF_TYPE_U32 && t->n_dims == 2 && t->name_len > 7 &&
                 !strcmp(t->name + t->name_len - 7, ".weight"))
            sfx = ".weight";
        if (!sfx)
            continue;
        char nm[QFI_MAX_NAME + 16];
        snprintf(nm, sizeof nm, "%.*s.scales", (int)(t->name_len - strlen(sfx)), t->name);
        if (qf_model_find_tensor(m, nm))
            continue; /* a layer its config leaves unquantized */
        return qfi_error(err, QF_EFORMAT, 0, fpath(m, t), (int64_t)t->offset,
                         "MLX layer '%.*s': '%s' without its '.scales' tensor",
                         (int)(t->name_len - strlen(sfx)), t->name, t->name);
    }
    return QF_OK;
}

/* ---------------------------------------------------------------------------------------
 * Dequantize */
int qfi_mlx_dequant(struct qf_model *m, const struct qf_ltensor *t, uint64_t row0,
                    uint64_t nrows, float *out, struct qf_error *err)
{
    const struct qf_tensor *w = t->parts[QF_LPART_QWEIGHT], *sc = t->parts[QF_LPART_SCALES];
    const struct qf_tensor *bi = t->parts[QF_LPART_QZEROS];
    uint64_t in = t->shape[1], G = (uint64_t)t->group_size, ng = in / G;
    unsigned b = (unsigned)t->bits;
    uint64_t wc = w->shape[1];
    const uint8_t *wd = NULL;
    void *ow = NULL;
    float *s = NULL, *z = NULL;
    int rc = qfi_layout_load(m, w, &wd, &ow, err);
    if (!rc)
        rc = qfi_layout_load_f32(m, sc, &s, err);
    if (!rc)
        rc = qfi_layout_load_f32(m, bi, &z, err);
    if (rc)
        goto done;
    for (uint64_t r = 0; r < nrows; r++) {
        uint64_t o = row0 + r;
        const uint8_t *row = wd + o * wc * 4;
        float *dst = out + r * in;
        for (uint64_t k = 0; k < in; k++) {
            uint64_t bit = k * b, wi = bit / 32;
            uint64_t v = qfi_load_le32(row + 4 * wi);
            if (bit % 32 + b > 32)
                v |= (uint64_t)qfi_load_le32(row + 4 * (wi + 1)) << 32;
            float q = (float)((v >> (bit % 32)) & ((1u << b) - 1));
            uint64_t g = o * ng + k / G;
            float prod = s[g] * q;
            dst[k] = qfi_ct_round(sc->type, prod + z[g]);
        }
    }
done:
    free(ow);
    free(s);
    free(z);
    return rc;
}
