/* fp8.c - FP8 E4M3 weights with float scales.
 *
 * Hugging Face "fp8" (transformers FineGrainedFP8Config, DeepSeek-style; spec
 * bnb-compressed-mlx.md section b'), per linear layer P:
 *   P.weight            F8_E4M3 [out, in]
 *   P.weight_scale_inv  F32/BF16/F16 [ceil(out / br), ceil(in / bc)]
 * with [br, bc] = quantization_config.weight_block_size (default [128, 128]).
 * Decoded: W[o][i] = e4m3(weight[o][i]) * weight_scale_inv[o / br][i / bc] in f32: despite its
 * name the stored value is the multiplier (llama.cpp's converter reads it so).
 *
 * The block-wise decoder here is shared with compressed-tensors float-quantized FP8
 * (ctensors.c), which rounds every product to the scale's dtype as its torch code does.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kern/kern_ref.h"
#include "layout_int.h"

float qfi_ct_round(int type, float v)
{
    if (type == QF_TYPE_BF16)
        return kern_bf16_to_f32(kern_f32_to_bf16(v));
    if (type == QF_TYPE_F16)
        return kern_f16_to_f32(kern_f32_to_f16(v));
    return v;
}

uint8_t qfi_fp8_e4m3_encode(float x)
{
    uint8_t sign = signbit(x) ? 0x80 : 0x00;
    if (isnan(x))
        return sign | 0x7F;
    float a = fabsf(x);
    if (a >= 448.0f) /* saturate (infinities included) */
        return sign | 0x7E;
    if (a < 0x1p-6f) /* subnormal: units of 2^-9; 8 units is the smallest normal, code 0x08 */
        return sign | (uint8_t)nearbyintf(ldexpf(a, 9));
    int e;
    frexpf(a, &e); /* a = f * 2^e, f in [0.5, 1) */
    int E = e - 1;  /* -6 .. 8 */
    float q = nearbyintf((ldexpf(a, -E) - 1.0f) * 8.0f); /* exact operands, ties to even */
    if (q >= 8.0f) {
        q = 0.0f;
        E++;
    }
    /* a < 448 keeps E = 8 codes at mantissa <= 6: 0x7F (NaN) is never produced */
    return sign | (uint8_t)(((E + 7) << 3) | (int)q);
}

void qfi_layout_fill_2d(struct qf_ltensor *lt, const char *name, int family, uint64_t out,
                        uint64_t in, const struct qf_tensor *const *parts, int bits, int64_t G,
                        int64_t block_rows, int sym)
{
    memset(lt, 0, sizeof *lt);
    lt->name = name;
    lt->family = family;
    lt->n_dims = 2;
    lt->shape[0] = out;
    lt->shape[1] = in;
    lt->nelem = out * in;
    lt->n_parts = QF_LPART_MAX;
    for (int k = 0; k < QF_LPART_MAX; k++) {
        lt->parts[k] = parts[k];
        if (parts[k])
            lt->nbytes += parts[k]->nbytes;
    }
    lt->bpw = (double)lt->nbytes * 8.0 / (double)lt->nelem;
    lt->bits = bits;
    lt->group_size = G;
    lt->block_rows = block_rows;
    lt->sym = sym;
}

int qfi_fp8_dequant_rows(struct qf_model *m, const struct qf_ltensor *t, int round_type,
                         uint64_t row0, uint64_t nrows, float *out, struct qf_error *err)
{
    const struct qf_tensor *w = t->parts[QF_LPART_QWEIGHT], *sc = t->parts[QF_LPART_SCALES];
    uint64_t O = t->shape[0], in = t->shape[1];
    uint64_t br = (uint64_t)t->block_rows, bc = (uint64_t)t->group_size;
    uint64_t ncb = (in + bc - 1) / bc;
    if (br == 0 || bc == 0 || sc->nelem != ((O + br - 1) / br) * ncb || w->nbytes != O * in)
        return qfi_error(err, QF_EINTERNAL, 0, NULL, -1, "'%s': inconsistent FP8 layer", t->name);
    float lut[256];
    uint8_t codes[256];
    for (int k = 0; k < 256; k++)
        codes[k] = (uint8_t)k;
    if (qf_dequantize(w->type, codes, lut, 256) != QF_OK)
        return qfi_error(err, QF_EUNSUPPORTED, 0, NULL, -1, "'%s': no decoder for %s", t->name,
                         qf_type_name(w->type));
    float *s = NULL;
    int rc = qfi_layout_load_f32(m, sc, &s, err);
    if (rc)
        return rc;
    const uint8_t *map = qf_model_map(m, w);
    uint8_t *buf = NULL;
    if (!map) {
        buf = malloc((size_t)(nrows * in));
        if (!buf) {
            free(s);
            return qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory reading '%s'", w->name);
        }
        rc = qf_model_read(m, w, row0 * in, buf, (size_t)(nrows * in), err);
        if (rc) {
            free(buf);
            free(s);
            return rc;
        }
    }
    const uint8_t *src = map ? map + row0 * in : buf;
    for (uint64_t r = 0; r < nrows; r++) {
        const float *srow = s + ((row0 + r) / br) * ncb;
        const uint8_t *q = src + r * in;
        float *dst = out + r * in;
        for (uint64_t i = 0; i < in; i++)
            dst[i] = qfi_ct_round(round_type, lut[q[i]] * srow[i / bc]);
    }
    free(buf);
    free(s);
    return QF_OK;
}

int qfi_fp8_dequant(struct qf_model *m, const struct qf_ltensor *t, uint64_t row0,
                    uint64_t nrows, float *out, struct qf_error *err)
{
    return qfi_fp8_dequant_rows(m, t, QF_TYPE_F32, row0, nrows, out, err);
}

/* ---------------------------------------------------------------------------------------
 * Scan */
static int is_float(int type)
{
    return type == QF_TYPE_F16 || type == QF_TYPE_BF16 || type == QF_TYPE_F32;
}

/* weight_block_size: [rows, cols] of positive integers; 0 if absent, -1 if malformed */
static int block_size(const struct qf_model *m, int64_t blk[2])
{
    const struct qf_kv *kv = qf_model_find_kv(m, "quantization_config.weight_block_size");
    if (!kv || kv->val.type == QF_V_NULL)
        return 0;
    if (kv->val.type != QF_V_ARRAY || kv->val.v.a.count != 2)
        return -1;
    for (uint64_t k = 0; k < 2; k++) {
        struct qf_value v;
        if (qf_array_get(&kv->val.v.a, k, &v) != QF_OK || qf_value_as_i64(&v, &blk[k]) != QF_OK ||
            blk[k] <= 0 || blk[k] > (1ll << 32))
            return -1;
    }
    return 1;
}

int qfi_fp8_scan(struct qf_model *m, struct qf_layout *l, const struct qfi_qcfg *c,
                 struct qf_error *err)
{
    static const char SFX[] = ".weight_scale_inv";
    int64_t blk[2] = {128, 128};
    int bs = block_size(m, blk);
    if (bs < 0)
        return qfi_error(err, QF_EFORMAT, 0, c->origin, -1,
                         "%s: weight_block_size must be a list of two positive integers",
                         c->origin);
    if (bs == 0) {
        int rc = qfi_layout_warn(l, "%s: no weight_block_size; assuming [128, 128]", c->origin);
        if (rc)
            return qfi_error(err, rc, 0, NULL, -1, "out of memory");
    }
    const struct qf_kv *as = qf_model_find_kv(m, "quantization_config.activation_scheme");
    if (as && as->val.type == QF_V_STRING &&
        (as->val.v.s.len != 7 || memcmp(as->val.v.s.ptr, "dynamic", 7))) {
        int rc = qfi_layout_warn(l, "%s: activation_scheme '%.*s' (transformers accepts only "
                                 "'dynamic')", c->origin, (int)as->val.v.s.len, as->val.v.s.ptr);
        if (rc)
            return qfi_error(err, rc, 0, NULL, -1, "out of memory");
    }
    uint64_t br = (uint64_t)blk[0], bc = (uint64_t)blk[1];
    size_t n = qf_model_n_tensors(m);
    char base[QFI_MAX_NAME + 16], nm[QFI_MAX_NAME + 32], scheme[96];
    for (size_t ti = 0; ti < n; ti++) {
        const struct qf_tensor *sc = qf_model_tensor(m, ti);
        size_t sl = strlen(SFX);
        if (sc->name_len <= sl || strcmp(sc->name + sc->name_len - sl, SFX))
            continue;
        const char *file = qf_model_file(m, (size_t)sc->file_index)->path;
        size_t bl = sc->name_len - sl;
        if (bl >= QFI_MAX_NAME)
            return qfi_error(err, QF_ELIMIT, 0, file, (int64_t)sc->offset, "name too long");
        memcpy(base, sc->name, bl);
        base[bl] = '\0';
        snprintf(nm, sizeof nm, "%s.weight", base);
        const struct qf_tensor *w = qf_model_find_tensor(m, nm);
#define BAD(t, ...) qfi_error(err, QF_EFORMAT, 0, file, (int64_t)(t)->offset, __VA_ARGS__)
        if (!w)
            return BAD(sc, "FP8 layer '%s': missing tensor '%s'", base, nm);
        if (w->type != QF_TYPE_F8_E4M3 || w->n_dims != 2)
            return BAD(w, "FP8 layer '%s': weight must be a 2-D F8_E4M3 tensor, found %s with %d "
                       "dims", base, qf_type_name(w->type), w->n_dims);
        if (!is_float(sc->type) || sc->n_dims != 2)
            return BAD(sc, "FP8 layer '%s': weight_scale_inv must be a 2-D F32/BF16/F16 tensor, "
                       "found %s with %d dims", base, qf_type_name(sc->type), sc->n_dims);
        uint64_t out = w->shape[0], in = w->shape[1];
        if (out == 0 || in == 0 || out >= (1ull << 32) || in >= (1ull << 32))
            return BAD(w, "FP8 layer '%s': empty or oversized shape", base);
        uint64_t sr = (out + br - 1) / br, scn = (in + bc - 1) / bc;
        if (sc->shape[0] != sr || sc->shape[1] != scn)
            return BAD(sc, "FP8 layer '%s': weight_scale_inv shape [%llu, %llu], expected "
                       "[%llu, %llu] for weight [%llu, %llu] and %s weight_block_size "
                       "[%llu, %llu]", base, (unsigned long long)sc->shape[0],
                       (unsigned long long)sc->shape[1], (unsigned long long)sr,
                       (unsigned long long)scn, (unsigned long long)out,
                       (unsigned long long)in, c->origin, (unsigned long long)br,
                       (unsigned long long)bc);
#undef BAD
        snprintf(scheme, sizeof scheme, "fp8 e4m3 block%llux%llu", (unsigned long long)br,
                 (unsigned long long)bc);
        const struct qf_tensor *p[QF_LPART_MAX] = {NULL};
        p[QF_LPART_QWEIGHT] = w;
        p[QF_LPART_SCALES] = sc;
        struct qf_ltensor lt;
        qfi_layout_fill_2d(&lt, w->name, QF_LAYOUT_FP8, out, in, p, 8, (int64_t)bc, (int64_t)br,
                           1);
        lt.scheme = qfi_layout_strdup(l, scheme);
        if (!lt.scheme)
            return qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory");
        l->claimed[w->index] = 1;
        l->claimed[sc->index] = 1;
        int rc = qfi_layout_add(l, &lt, err);
        if (rc)
            return rc;
    }
    return qfi_fp8_orphans(m, l, "weight_scale_inv", err);
}

int qfi_fp8_orphans(struct qf_model *m, const struct qf_layout *l, const char *scale_name,
                    struct qf_error *err)
{
    size_t n = qf_model_n_tensors(m);
    for (size_t i = 0; i < n; i++) {
        const struct qf_tensor *t = qf_model_tensor(m, i);
        if (l->claimed[i] || (t->type != QF_TYPE_F8_E4M3 && t->type != QF_TYPE_F8_E5M2))
            continue;
        size_t k = t->name_len;
        if (k > 7 && !strcmp(t->name + k - 7, ".weight"))
            return qfi_error(err, QF_EFORMAT, 0, qf_model_file(m, (size_t)t->file_index)->path,
                             (int64_t)t->offset,
                             "FP8 layer '%.*s': %s weight without a %s tensor", (int)(k - 7),
                             t->name, qf_type_name(t->type), scale_name);
    }
    return QF_OK;
}
