/* awq.c - AutoAWQ layouts (4-bit, zero point stored as is) inside safetensors. Spec: awq.md.
 *
 * GEMM: P.qweight I32 [in, out/8]  nibble p of word c = output column 8c + {0,2,4,6,1,3,5,7}[p]
 *       P.qzeros  I32 [in/G, out/8] same interleave
 *       P.scales  F16 [in/G, out]
 * GEMV: P.qweight I32 [out, in/8]  nibble p of word c = input 8c + p
 *       P.qzeros  I32 [out, Wz]     nibble p of word c = group 8c + p (unused nibbles 0)
 *       P.scales  F16 [out, 8*Wz]   column g = group g; the rest is padding
 *       Wz = ceil(ceil(ngroups/8) / k) * k with k = 1 (G >= 128), 2 (G = 64), 4 (G = 32)
 * Decoded as AutoAWQ's dequantize_gemm does in f16: W[o][i] = f16((q - z) * scale).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layout_int.h"
#include "lwrite_int.h"

#define SUFFIX ".qweight"

/* nibble that holds logical column j of a group of 8 (inverse of the packing order) */
static const unsigned awq_rev[8] = {0, 4, 1, 5, 2, 6, 3, 7};

static const char *fpath(struct qf_model *m, const struct qf_tensor *t)
{
    return qf_model_file(m, (size_t)t->file_index)->path;
}

static unsigned nib(const uint8_t *word, unsigned p)
{
    return (qfi_load_le32(word) >> (4 * p)) & 15u;
}

uint64_t qfi_awq_gemv_zeros_width(uint64_t in, uint64_t G)
{
    uint64_t base = (in / G + 7) / 8, k = G >= 128 ? 1 : G == 64 ? 2 : G == 32 ? 4 : 0;
    return k ? (base + k - 1) / k * k : 0;
}

static int scan_layer(struct qf_model *m, struct qf_layout *l, const struct qfi_qcfg *c,
                      const struct qf_tensor *qw, int gemv, struct qf_error *err)
{
    char base[QFI_MAX_NAME + 16], nm[QFI_MAX_NAME + 32];
    size_t bl = qw->name_len - strlen(SUFFIX);
    if (bl >= QFI_MAX_NAME)
        return qfi_error(err, QF_ELIMIT, 0, fpath(m, qw), (int64_t)qw->offset, "name too long");
    memcpy(base, qw->name, bl);
    base[bl] = '\0';
    const char *file = fpath(m, qw);
    const struct qf_tensor *p[QF_LPART_MAX] = {qw, NULL, NULL, NULL};
    static const char *const sfx[3] = {".qweight", ".qzeros", ".scales"};
    for (int k = 1; k < 3; k++) {
        snprintf(nm, sizeof nm, "%s%s", base, sfx[k]);
        if (!(p[k] = qf_model_find_tensor(m, nm)))
            return qfi_error(err, QF_EFORMAT, 0, file, -1, "AWQ layer '%s': missing tensor '%s'",
                             base, nm);
    }
    snprintf(nm, sizeof nm, "%s.g_idx", base);
    const struct qf_tensor *qz = p[1], *sc = p[2];
#define BAD(t, ...) qfi_error(err, QF_EFORMAT, 0, file, (int64_t)(t)->offset, __VA_ARGS__)
    if (qf_model_find_tensor(m, nm))
        return BAD(qw, "AWQ layer '%s': has a g_idx tensor (AWQ never reorders; GPTQ file with "
                   "an AWQ config?)", base);
    if (qw->type != QF_TYPE_I32 || qw->n_dims != 2)
        return BAD(qw, "AWQ layer '%s': qweight must be a 2-D I32 tensor, found %s with %d dims",
                   base, qf_type_name(qw->type), qw->n_dims);
    if (qz->type != QF_TYPE_I32 || qz->n_dims != 2)
        return BAD(qz, "AWQ layer '%s': qzeros must be a 2-D I32 tensor, found %s with %d dims",
                   base, qf_type_name(qz->type), qz->n_dims);
    if ((sc->type != QF_TYPE_F16 && sc->type != QF_TYPE_BF16 && sc->type != QF_TYPE_F32) ||
        sc->n_dims != 2)
        return BAD(sc, "AWQ layer '%s': scales must be a 2-D F16 tensor, found %s with %d dims",
                   base, qf_type_name(sc->type), sc->n_dims);
    if (c->bits != 4)
        return qfi_error(err, c->bits < 0 ? QF_EFORMAT : QF_EUNSUPPORTED, 0, c->origin, -1,
                         "AWQ layer '%s': bits %lld in %s (AWQ is 4-bit only)", base,
                         (long long)c->bits, c->origin);
    if (c->sym == 1)
        return qfi_error(err, QF_EUNSUPPORTED, 0, c->origin, -1,
                         "AWQ layer '%s': zero_point=false is only written in the Marlin layout",
                         base);
    int64_t Gd = c->group_size;
    uint64_t in, out, ng, G;
    if (!gemv) {
        in = qw->shape[0];
        out = qw->shape[1] * 8;
        ng = sc->shape[0];
        if (in == 0 || out == 0 || ng == 0 || in >= (1ull << 32) || out >= (1ull << 32))
            return BAD(qw, "AWQ layer '%s': empty or oversized shape", base);
        if (sc->shape[1] != out)
            return BAD(sc, "AWQ layer '%s': scales has %llu columns, expected %llu (8 x qweight "
                       "columns; GEMV file with a GEMM config?)", base,
                       (unsigned long long)sc->shape[1], (unsigned long long)out);
        G = Gd == -1 ? in : (uint64_t)Gd;
        if (Gd == 0 || (Gd < 0 && Gd != -1) || in % G != 0)
            return qfi_error(err, QF_EFORMAT, 0, c->origin, -1,
                             "AWQ layer '%s': group_size %lld does not divide in_features %llu",
                             base, (long long)Gd, (unsigned long long)in);
        if (ng != in / G)
            return BAD(sc, "AWQ layer '%s': scales has %llu rows but %s declares group_size %lld "
                       "(expected %llu rows)", base, (unsigned long long)ng, c->origin,
                       (long long)Gd, (unsigned long long)(in / G));
        if (qz->shape[0] != ng || qz->shape[1] != out / 8)
            return BAD(qz, "AWQ layer '%s': qzeros shape [%llu, %llu], expected [%llu, %llu]",
                       base, (unsigned long long)qz->shape[0], (unsigned long long)qz->shape[1],
                       (unsigned long long)ng, (unsigned long long)(out / 8));
    } else {
        out = qw->shape[0];
        in = qw->shape[1] * 8;
        if (in == 0 || out == 0 || in >= (1ull << 32) || out >= (1ull << 32))
            return BAD(qw, "AWQ layer '%s': empty or oversized shape", base);
        G = Gd == -1 ? in : (uint64_t)Gd;
        if (Gd == 0 || (Gd < 0 && Gd != -1) || in % G != 0)
            return qfi_error(err, QF_EFORMAT, 0, c->origin, -1,
                             "AWQ layer '%s': group_size %lld does not divide in_features %llu",
                             base, (long long)Gd, (unsigned long long)in);
        ng = in / G;
        uint64_t wz = qfi_awq_gemv_zeros_width(in, G);
        if (wz == 0)
            return qfi_error(err, QF_EUNSUPPORTED, 0, c->origin, -1,
                             "AWQ layer '%s': GEMV group_size %lld (expected 32, 64 or >= 128)",
                             base, (long long)Gd);
        if (qz->shape[0] != out || qz->shape[1] != wz)
            return BAD(qz, "AWQ layer '%s': qzeros shape [%llu, %llu], expected [%llu, %llu]",
                       base, (unsigned long long)qz->shape[0], (unsigned long long)qz->shape[1],
                       (unsigned long long)out, (unsigned long long)wz);
        if (sc->shape[0] != out || sc->shape[1] != 8 * wz)
            return BAD(sc, "AWQ layer '%s': scales shape [%llu, %llu], expected [%llu, %llu]",
                       base, (unsigned long long)sc->shape[0], (unsigned long long)sc->shape[1],
                       (unsigned long long)out, (unsigned long long)(8 * wz));
    }
    char scheme[64];
    snprintf(scheme, sizeof scheme, "awq %s int4 g%llu", gemv ? "gemv" : "gemm",
             (unsigned long long)G);
    struct qf_ltensor lt;
    memset(&lt, 0, sizeof lt);
    snprintf(nm, sizeof nm, "%s.weight", base);
    lt.name = qfi_layout_strdup(l, nm);
    lt.scheme = qfi_layout_strdup(l, scheme);
    if (!lt.name || !lt.scheme)
        return qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory");
    lt.family = gemv ? QF_LAYOUT_AWQ_GEMV : QF_LAYOUT_AWQ_GEMM;
    lt.n_dims = 2;
    lt.shape[0] = out;
    lt.shape[1] = in;
    lt.nelem = out * in;
    lt.n_parts = QF_LPART_MAX;
    for (int k = 0; k < 3; k++) {
        lt.parts[k] = p[k];
        lt.nbytes += p[k]->nbytes;
        l->claimed[p[k]->index] = 1;
    }
    lt.bpw = (double)lt.nbytes * 8.0 / (double)lt.nelem;
    lt.bits = 4;
    lt.group_size = (int64_t)G;
    lt.sym = 0;
#undef BAD
    return qfi_layout_add(l, &lt, err);
}

int qfi_awq_scan(struct qf_model *m, struct qf_layout *l, const struct qfi_qcfg *c,
                 struct qf_error *err)
{
    int gemv;
    if (!c->version[0] || !strcmp(c->version, "gemm") || !strcmp(c->version, "exllama") ||
        !strcmp(c->version, "ipex"))
        gemv = 0;
    else if (!strcmp(c->version, "gemv"))
        gemv = 1;
    else
        return qfi_error(err, QF_EUNSUPPORTED, 0, c->origin, -1,
                         "AWQ version '%s' is not supported (gemm, gemv)", c->version);
    size_t n = qf_model_n_tensors(m);
    for (size_t i = 0; i < n; i++) {
        const struct qf_tensor *t = qf_model_tensor(m, i);
        if (t->name_len > strlen(SUFFIX) &&
            !strcmp(t->name + t->name_len - strlen(SUFFIX), SUFFIX)) {
            int rc = scan_layer(m, l, c, t, gemv, err);
            if (rc)
                return rc;
        }
    }
    return QF_OK;
}

int qfi_awq_dequant(struct qf_model *m, const struct qf_ltensor *t, uint64_t row0,
                    uint64_t nrows, float *out, struct qf_error *err)
{
    const struct qf_tensor *qw = t->parts[QF_LPART_QWEIGHT], *qz = t->parts[QF_LPART_QZEROS];
    const struct qf_tensor *sc = t->parts[QF_LPART_SCALES];
    uint64_t O = t->shape[0], in = t->shape[1], G = (uint64_t)t->group_size;
    int gemv = t->family == QF_LAYOUT_AWQ_GEMV;
    const uint8_t *w = NULL, *z = NULL;
    void *ow = NULL, *oz = NULL;
    float *s = NULL;
    uint16_t *h = malloc(in * sizeof *h);
    int rc = h ? QF_OK : qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory");
    if (!rc)
        rc = qfi_layout_load(m, qw, &w, &ow, err);
    if (!rc)
        rc = qfi_layout_load(m, qz, &z, &oz, err);
    if (!rc)
        rc = qfi_layout_load_f32(m, sc, &s, err);
    if (rc)
        goto done;
    uint64_t wz = qz->shape[1], scols = sc->shape[1];
    for (uint64_t r = 0; r < nrows; r++) {
        uint64_t o = row0 + r;
        float *dst = out + r * in;
        for (uint64_t i = 0; i < in; i++) {
            uint64_t g = i / G;
            unsigned q, zz;
            float sv;
            if (!gemv) {
                q = nib(w + 4 * (i * (O / 8) + o / 8), awq_rev[o % 8]);
                zz = nib(z + 4 * (g * (O / 8) + o / 8), awq_rev[o % 8]);
                sv = s[g * O + o];
            } else {
                q = nib(w + 4 * (o * (in / 8) + i / 8), (unsigned)(i % 8));
                zz = nib(z + 4 * (o * wz + g / 8), (unsigned)(g % 8));
                sv = s[o * scols + g];
            }
            /* exact in f32 (11-bit scale times a 5-bit integer); rounded to f16 below */
            dst[i] = (float)((int)q - (int)zz) * sv;
        }
        /* the f16 rounding of AutoAWQ's f16 arithmetic */
        if (qf_quantize(QF_TYPE_F16, dst, h, 1, in, NULL) < 0 ||
            qf_dequantize(QF_TYPE_F16, h, dst, in) != QF_OK) {
            rc = qfi_error(err, QF_EINTERNAL, 0, NULL, -1, "'%s': f16 rounding failed", t->name);
            goto done;
        }
    }
done:
    free(h);
    free(ow);
    free(oz);
    free(s);
    return rc;
}

/* ---------------------------------------------------------------------------------------
 * Encoding (writer side, see lwrite_int.h): AutoAWQ's pseudo_quantize_tensor and packers. */
void qfi_awq_encode_rows(const float *w, uint64_t o0, uint64_t nrows, uint64_t out,
                         uint64_t in, uint64_t G, float *scale, uint8_t *zero, uint8_t *q)
{
    uint64_t ng = in / G;
    for (uint64_t r = 0; r < nrows; r++) {
        const float *row = w + r * in;
        uint64_t o = o0 + r;
        for (uint64_t g = 0; g < ng; g++) {
            const float *x = row + g * G;
            float mx = -INFINITY, mn = INFINITY;
            for (uint64_t k = 0; k < G; k++) {
                if (!isfinite(x[k]))
                    continue;
                mx = x[k] > mx ? x[k] : mx;
                mn = x[k] < mn ? x[k] : mn;
            }
            if (mx < mn) /* nothing finite */
                mx = mn = 0.0f;
            float d = mx - mn;
            float s = (d > 1e-5f ? d : 1e-5f) / 15.0f;
            float zf = -nearbyintf(mn / s);
            int z = !(zf > 0.0f) ? 0 : zf >= 15.0f ? 15 : (int)zf;
            for (uint64_t k = 0; k < G; k++) {
                float v = x[k];
                uint8_t c = (uint8_t)z;
                if (!isnan(v)) {
                    float cf = nearbyintf(v / s) + (float)z;
                    c = !(cf > 0.0f) ? 0 : cf >= 15.0f ? 15 : (uint8_t)cf;
                }
                q[r * in + g * G + k] = c;
            }
            scale[g * out + o] = qfi_lw_f16_value(qfi_lw_f16(s));
            zero[g * out + o] = (uint8_t)z;
        }
    }
}

void qfi_awq_pack_gemm(const uint8_t *q, const uint8_t *z, uint64_t o0, uint64_t nrows,
                       uint64_t out, uint64_t in, uint64_t ngroups, uint32_t *qw, uint32_t *qz)
{
    uint64_t wc = out / 8;
    for (uint64_t r = 0; r < nrows; r++) {
        uint64_t o = o0 + r, c = o / 8;
        unsigned sh = 4 * awq_rev[o % 8];
        for (uint64_t i = 0; i < in; i++)
            qw[i * wc + c] |= (uint32_t)(q[r * in + i] & 15u) << sh;
        for (uint64_t g = 0; g < ngroups; g++)
            qz[g * wc + c] |= (uint32_t)(z[g * out + o] & 15u) << sh;
    }
}

void qfi_awq_pack_gemv(const uint8_t *q, const uint8_t *z, const float *scale, uint64_t o0,
                       uint64_t nrows, uint64_t out, uint64_t in, uint64_t ngroups, uint64_t wz,
                       uint32_t *qw, uint32_t *qz, uint16_t *sc)
{
    uint64_t wc = in / 8;
    for (uint64_t r = 0; r < nrows; r++) {
        uint64_t o = o0 + r;
        for (uint64_t i = 0; i < in; i++)
            qw[o * wc + i / 8] |= (uint32_t)(q[r * in + i] & 15u) << (4 * (i % 8));
        for (uint64_t g = 0; g < ngroups; g++) {
            qz[o * wz + g / 8] |= (uint32_t)(z[g * out + o] & 15u) << (4 * (g % 8));
            sc[o * 8 * wz + g] = qfi_lw_f16(scale[g * out + o]);
        }
    }
}

/* Codes and parameters of an existing AWQ layer (the lossless repack path). scols: columns of
 * the GEMV scales (8 wz); sc: the scales as f32, as stored. */
void qfi_awq_unpack_rows(const uint8_t *qw, int gemv, uint64_t out, uint64_t in, uint64_t o0,
                         uint64_t nrows, uint8_t *q)
{
    for (uint64_t r = 0; r < nrows; r++) {
        uint64_t o = o0 + r;
        for (uint64_t i = 0; i < in; i++)
            q[r * in + i] = (uint8_t)(gemv ? nib(qw + 4 * (o * (in / 8) + i / 8), (unsigned)(i % 8))
                                           : nib(qw + 4 * (i * (out / 8) + o / 8), awq_rev[o % 8]));
    }
}

void qfi_awq_unpack_params(const uint8_t *qz, const float *sc, int gemv, uint64_t out,
                           uint64_t ngroups, uint64_t wz, float *scale, uint8_t *zero)
{
    for (uint64_t g = 0; g < ngroups; g++)
        for (uint64_t o = 0; o < out; o++) {
            if (gemv) {
                zero[g * out + o] = (uint8_t)nib(qz + 4 * (o * wz + g / 8), (unsigned)(g % 8));
                scale[g * out + o] = sc[o * 8 * wz + g];
            } else {
                zero[g * out + o] = (uint8_t)nib(qz + 4 * (g * (out / 8) + o / 8), awq_rev[o % 8]);
                scale[g * out + o] = sc[g * out + o];
            }
        }
}
