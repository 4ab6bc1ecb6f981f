/* gptq.c - GPTQ layout (AutoGPTQ / GPTQModel) inside safetensors.
 *
 * Per linear layer P (spec: gptq.md):
 *   P.qweight I32 [ceil(in*b/32), out]  b-bit codes, per output column a little-endian bitstream
 *                                       along the input dimension (input i at bit i*b)
 *   P.qzeros  I32 [ngroups, ceil(out*b/32)]  zero points, bitstream along the output dimension;
 *                                       stored as z-1 (v1, "gptq") or z (v2, "gptq_v2")
 *   P.scales  F16/BF16/F32 [ngroups, out]
 *   P.g_idx   I32 [in]                  scale/zero row of each input (act-order when not i/G)
 * Decoded: W[o][i] = scales[g][o] * (q[i][o] - z[g][o]), g = g_idx[i], in f32 (exact).
 * v1 zero points are decoded field-wise as (stored & maxq) + 1: a field written as -1 by the
 * packer (asymmetric z = 0) reads as 2^b, as AutoGPTQ's act-order kernels and llama.cpp read it.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layout_int.h"
#include "lwrite_int.h"

#define SUFFIX ".qweight"

static const char *fpath(struct qf_model *m, const struct qf_tensor *t)
{
    return qf_model_file(m, (size_t)t->file_index)->path;
}

/* Field idx (b bits) of a bitstream of 32-bit LE words spaced stride bytes apart. The caller
 * guarantees the words holding bits [idx*b, idx*b + b) exist. */
static uint32_t stream_field(const uint8_t *base, uint64_t stride, uint64_t idx, int b)
{
    uint64_t bit = idx * (uint64_t)b, w = bit / 32;
    unsigned sh = (unsigned)(bit % 32);
    uint64_t v = qfi_load_le32(base + w * stride);
    if (sh + (unsigned)b > 32)
        v |= (uint64_t)qfi_load_le32(base + (w + 1) * stride) << 32;
    return (uint32_t)(v >> sh) & ((1u << b) - 1);
}

static int is_float(int type)
{
    return type == QF_TYPE_F16 || type == QF_TYPE_BF16 || type == QF_TYPE_F32;
}

static int scan_layer(struct qf_model *m, struct qf_layout *l, const struct qfi_qcfg *c,
                      const struct qf_tensor *qw, struct qf_error *err)
{
    char base[QFI_MAX_NAME + 16], nm[QFI_MAX_NAME + 32];
    size_t bl = qw->name_len - strlen(SUFFIX);
    if (bl >= QFI_MAX_NAME)
        return qfi_error(err, QF_ELIMIT, 0, fpath(m, qw), (int64_t)qw->offset, "name too long");
    memcpy(base, qw->name, bl);
    base[bl] = '\0';
    const struct qf_tensor *p[QF_LPART_MAX] = {qw, NULL, NULL, NULL};
    static const char *const sfx[QF_LPART_G_IDX + 1] = {".qweight", ".qzeros", ".scales", ".g_idx"};
    for (int k = 1; k <= QF_LPART_G_IDX; k++) {
        snprintf(nm, sizeof nm, "%s%s", base, sfx[k]);
        p[k] = qf_model_find_tensor(m, nm);
        if (!p[k] && k != QF_LPART_G_IDX)
            return qfi_error(err, QF_EFORMAT, 0, fpath(m, qw), -1,
                             "GPTQ layer '%s': missing tensor '%s'", base, nm);
    }
    const struct qf_tensor *qz = p[1], *sc = p[2], *gi = p[3];
    const char *file = fpath(m, qw);
#define BAD(t, ...) qfi_error(err, QF_EFORMAT, 0, file, (int64_t)(t)->offset, __VA_ARGS__)
    if (qw->type != QF_TYPE_I32 || qw->n_dims != 2)
        return BAD(qw, "GPTQ layer '%s': qweight must be a 2-D I32 tensor, found %s with %d dims",
                   base, qf_type_name(qw->type), qw->n_dims);
    if (qz->type != QF_TYPE_I32 || qz->n_dims != 2)
        return BAD(qz, "GPTQ layer '%s': qzeros must be a 2-D I32 tensor, found %s with %d dims",
                   base, qf_type_name(qz->type), qz->n_dims);
    if (!is_float(sc->type) || sc->n_dims != 2)
        return BAD(sc, "GPTQ layer '%s': scales must be a 2-D F16/BF16/F32 tensor, found %s with "
                   "%d dims", base, qf_type_name(sc->type), sc->n_dims);
    if (gi && (gi->type != QF_TYPE_I32 || gi->n_dims != 1))
        return BAD(gi, "GPTQ layer '%s': g_idx must be a 1-D I32 tensor, found %s with %d dims",
                   base, qf_type_name(gi->type), gi->n_dims);
    int64_t b = c->bits;
    if (b != 2 && b != 3 && b != 4 && b != 8)
        return qfi_error(err, b < 0 ? QF_EFORMAT : QF_EUNSUPPORTED, 0, c->origin, -1,
                         "GPTQ layer '%s': bits %lld in %s (expected 2, 3, 4 or 8)", base,
                         (long long)b, c->origin);
    uint64_t out = qw->shape[1], wrows = qw->shape[0];
    uint64_t in = gi ? gi->shape[0] : wrows * 32 / (uint64_t)b;
    if (out == 0 || in == 0 || in >= (1ull << 32) || out >= (1ull << 32))
        return BAD(qw, "GPTQ layer '%s': empty or oversized shape", base);
    uint64_t need = (in * (uint64_t)b + 31) / 32;
    if (wrows != need) {
        uint64_t implied = wrows * 32 % in == 0 ? wrows * 32 / in : 0;
        return BAD(qw, "GPTQ layer '%s': qweight has %llu rows, expected %llu for in=%llu at "
                   "%lld bits (%s declares bits=%lld; the tensors imply %llu)", base,
                   (unsigned long long)wrows, (unsigned long long)need, (unsigned long long)in,
                   (long long)b, c->origin, (long long)b, (unsigned long long)implied);
    }
    int64_t G = c->group_size;
    if (G == 0)
        return qfi_error(err, QF_EFORMAT, 0, c->origin, -1,
                         "GPTQ layer '%s': %s has no group_size", base, c->origin);
    if (G == -1)
        G = (int64_t)in;
    if (G < 0 || in % (uint64_t)G != 0)
        return qfi_error(err, QF_EFORMAT, 0, c->origin, -1,
                         "GPTQ layer '%s': group_size %lld does not divide in_features %llu", base,
                         (long long)c->group_size, (unsigned long long)in);
    uint64_t ng = in / (uint64_t)G;
    if (sc->shape[0] != ng || sc->shape[1] != out)
        return BAD(sc, "GPTQ layer '%s': scales shape [%llu, %llu], expected [%llu, %llu]", base,
                   (unsigned long long)sc->shape[0], (unsigned long long)sc->shape[1],
                   (unsigned long long)ng, (unsigned long long)out);
    uint64_t zc = (out * (uint64_t)b + 31) / 32;
    if (qz->shape[0] != ng || qz->shape[1] != zc)
        return BAD(qz, "GPTQ layer '%s': qzeros shape [%llu, %llu], expected [%llu, %llu]", base,
                   (unsigned long long)qz->shape[0], (unsigned long long)qz->shape[1],
                   (unsigned long long)ng, (unsigned long long)zc);
    int act = 0;
    if (gi) {
        const uint8_t *d;
        void *own;
        int rc = qfi_layout_load(m, gi, &d, &own, err);
        if (rc)
            return rc;
        for (uint64_t i = 0; i < in; i++) {
            int32_t g = (int32_t)qfi_load_le32(d + 4 * i);
            if (g < 0 || (uint64_t)g >= ng) {
                free(own);
                return BAD(gi, "GPTQ layer '%s': g_idx[%llu] = %d out of range [0, %llu)", base,
                           (unsigned long long)i, (int)g, (unsigned long long)ng);
            }
            if ((uint64_t)g != i / (uint64_t)G)
                act = 1;
        }
        free(own);
    }
    if (act && c->desc_act == 0)
        qfi_layout_warn(l, "GPTQ layer '%s': g_idx is permuted but %s declares desc_act=false",
                        base, c->origin);
    int v2 = !strcmp(c->format, "gptq_v2");
    if (c->format[0] && !v2 && strcmp(c->format, "gptq"))
        return qfi_error(err, QF_EUNSUPPORTED, 0, c->origin, -1,
                         "GPTQ layer '%s': checkpoint_format '%s' is not supported (gptq, gptq_v2)",
                         base, c->format);
    int sym = c->sym;
    if (sym < 0) {
        qfi_layout_warn(l, "%s: no 'sym' key; assuming sym=true", c->origin);
        sym = 1;
    }
    if (sym) {
        /* a symmetric config means every zero is 2^(b-1) */
        const uint8_t *d;
        void *own;
        int rc = qfi_layout_load(m, qz, &d, &own, err);
        if (rc)
            return rc;
        uint32_t want = (1u << (b - 1)) - (v2 ? 0u : 1u);
        uint64_t bad = 0;
        for (uint64_t g = 0; g < ng && !bad; g++)
            for (uint64_t o = 0; o < out; o++)
                if (stream_field(d + g * zc * 4, 4, o, (int)b) != want) {
                    bad = 1;
                    break;
                }
        free(own);
        if (bad)
            qfi_layout_warn(l, "GPTQ layer '%s': %s declares sym=true but qzeros hold other "
                            "zero points than %u", base, c->origin, (1u << (b - 1)));
    }
    char scheme[96];
    char gs[32];
    if ((uint64_t)G == in && c->group_size == -1)
        snprintf(gs, sizeof gs, "per-channel");
    else
        snprintf(gs, sizeof gs, "g%lld", (long long)G);
    snprintf(scheme, sizeof scheme, "gptq int%lld %s %s%s %s", (long long)b, gs,
             sym ? "sym" : "asym", act ? " act-order" : "", v2 ? "v2" : "v1");
    struct qf_ltensor lt;
    memset(&lt, 0, sizeof lt);
    snprintf(nm, sizeof nm, "%s.weight", base);
    lt.name = qfi_layout_strdup(l, nm);
    lt.scheme = qfi_layout_strdup(l, scheme);
    if (!lt.name || !lt.scheme)
        return qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory");
    lt.family = QF_LAYOUT_GPTQ;
    lt.n_dims = 2;
    lt.shape[0] = out;
    lt.shape[1] = in;
    lt.nelem = out * in;
    lt.n_parts = QF_LPART_MAX;
    for (int k = 0; k < QF_LPART_MAX; k++) {
        lt.parts[k] = p[k];
        if (p[k]) {
            lt.nbytes += p[k]->nbytes;
            l->claimed[p[k]->index] = 1;
        }
    }
    lt.bpw = (double)lt.nbytes * 8.0 / (double)lt.nelem;
    lt.bits = (int)b;
    lt.group_size = G;
    lt.sym = sym;
    lt.act_order = act;
    lt.zero_offset = v2 ? 0 : 1;
#undef BAD
    return qfi_layout_add(l, &lt, err);
}

int qfi_gptq_scan(struct qf_model *m, struct qf_layout *l, const struct qfi_qcfg *c,
                  struct qf_error *err)
{
    size_t n = qf_model_n_tensors(m);
    for (size_t i = 0; i < n; i++) {
        const struct qf_tensor *t = qf_model_tensor(m, i);
        if (t->name_len > strlen(SUFFIX) &&
            !strcmp(t->name + t->name_len - strlen(SUFFIX), SUFFIX)) {
            int rc = scan_layer(m, l, c, t, err);
            if (rc)
                return rc;
        }
    }
    return QF_OK;
}

int qfi_gptq_dequant(struct qf_model *m, const struct qf_ltensor *t, uint64_t row0,
                     uint64_t nrows, float *out, struct qf_error *err)
{
    const struct qf_tensor *qw = t->parts[QF_LPART_QWEIGHT], *qz = t->parts[QF_LPART_QZEROS];
    const struct qf_tensor *sc = t->parts[QF_LPART_SCALES], *gi = t->parts[QF_LPART_G_IDX];
    uint64_t O = t->shape[0], in = t->shape[1], G = (uint64_t)t->group_size;
    uint64_t zc = qz->shape[1];
    int b = t->bits;
    const uint8_t *w = NULL, *z = NULL, *g = NULL;
    void *ow = NULL, *oz = NULL, *og = NULL;
    float *s = NULL;
    uint32_t *gidx = malloc(in * sizeof *gidx);
    int rc = gidx ? QF_OK : qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory");
    if (!rc)
        rc = qfi_layout_load(m, qw, &w, &ow, err);
    if (!rc)
        rc = qfi_layout_load(m, qz, &z, &oz, err);
    if (!rc && gi)
        rc = qfi_layout_load(m, gi, &g, &og, err);
    if (!rc)
        rc = qfi_layout_load_f32(m, sc, &s, err);
    if (rc)
        goto done;
    for (uint64_t i = 0; i < in; i++) {
        uint32_t v = g ? qfi_load_le32(g + 4 * i) : (uint32_t)(i / G);
        if (v >= sc->shape[0]) { /* the file changed under us: scan checked this */
            rc = qfi_error(err, QF_EFORMAT, 0, NULL, -1, "'%s': g_idx out of range", t->name);
            goto done;
        }
        gidx[i] = v;
    }
    for (uint64_t r = 0; r < nrows; r++) {
        uint64_t o = row0 + r;
        float *dst = out + r * in;
        for (uint64_t i = 0; i < in; i++) {
            uint32_t gg = gidx[i];
            int32_t q = (int32_t)stream_field(w + 4 * o, 4 * O, i, b);
            int32_t zz = (int32_t)stream_field(z + gg * zc * 4, 4, o, b) + t->zero_offset;
            dst[i] = s[gg * O + o] * (float)(q - zz);
        }
    }
done:
    free(gidx);
    free(ow);
    free(oz);
    free(og);
    free(s);
    return rc;
}

/* ---------------------------------------------------------------------------------------
 * Encoding (writer side, see lwrite_int.h): AutoGPTQ's round-to-nearest parameters and the
 * bit packing of spec §3-§5. */
void qfi_gptq_find_params(const float *x, uint64_t n, uint64_t stride, int bits, int sym,
                          float *scale, int *zero)
{
    float maxq = (float)((1u << bits) - 1);
    float xmin = 0.0f, xmax = 0.0f;
    for (uint64_t k = 0; k < n; k++) {
        float v = x[k * stride];
        if (!isfinite(v))
            continue;
        if (v < xmin)
            xmin = v;
        if (v > xmax)
            xmax = v;
    }
    if (sym) {
        xmax = fabsf(xmin) > xmax ? fabsf(xmin) : xmax;
        if (xmin < 0.0f)
            xmin = -xmax;
    }
    if (xmin == 0.0f && xmax == 0.0f) {
        xmin = -1.0f;
        xmax = 1.0f;
    }
    float s = (xmax - xmin) / maxq;
    if (!(s > 0.0f)) /* a denormal range divided down to 0 */
        s = FLT_MIN;
    *scale = s;
    if (sym) {
        *zero = (int)((1u << bits) / 2);
    } else {
        float z = nearbyintf(-xmin / s);
        *zero = !(z >= 0.0f) ? 0 : z > maxq ? (int)maxq : (int)z;
    }
}

int qfi_gptq_group_order(const uint32_t *gidx, uint64_t in, uint64_t ngroups, uint32_t *perm,
                         uint32_t *goff)
{
    memset(goff, 0, (ngroups + 1) * sizeof *goff);
    for (uint64_t i = 0; i < in; i++) {
        if (gidx[i] >= ngroups)
            return QF_EFORMAT;
        goff[gidx[i] + 1]++;
    }
    for (uint64_t g = 0; g < ngroups; g++)
        goff[g + 1] += goff[g];
    for (uint64_t i = 0; i < in; i++)
        perm[goff[gidx[i]]++] = (uint32_t)i;
    for (uint64_t g = ngroups; g > 0; g--) /* the fill advanced every start to the next one */
        goff[g] = goff[g - 1];
    goff[0] = 0;
    return QF_OK;
}

static uint8_t code_of(float v, float s, int z, int maxq)
{
    if (isnan(v))
        return (uint8_t)z;
    float c = nearbyintf(v / s) + (float)z;
    return !(c > 0.0f) ? 0 : c >= (float)maxq ? (uint8_t)maxq : (uint8_t)c;
}

void qfi_gptq_encode_rows(const float *w, uint64_t o0, uint64_t nrows, uint64_t out,
                          uint64_t in, uint64_t ngroups, const uint32_t *perm,
                          const uint32_t *goff, int bits, int sym, float *scale, uint8_t *zero,
                          uint8_t *q, float *tmp)
{
    int maxq = (1 << bits) - 1;
    uint64_t G = in / ngroups;
    for (uint64_t r = 0; r < nrows; r++) {
        const float *row = w + r * in;
        uint64_t o = o0 + r;
        for (uint64_t g = 0; g < ngroups; g++) {
            float s;
            int z;
            if (perm) {
                uint64_t a = goff[g], e = goff[g + 1];
                for (uint64_t k = a; k < e; k++)
                    tmp[k - a] = row[perm[k]];
                qfi_gptq_find_params(tmp, e - a, 1, bits, sym, &s, &z);
                for (uint64_t k = a; k < e; k++)
                    q[r * in + perm[k]] = code_of(row[perm[k]], s, z, maxq);
            } else {
                qfi_gptq_find_params(row + g * G, G, 1, bits, sym, &s, &z);
                for (uint64_t i = g * G; i < (g + 1) * G; i++)
                    q[r * in + i] = code_of(row[i], s, z, maxq);
            }
            scale[g * out + o] = qfi_lw_f16_value(qfi_lw_f16(s));
            zero[g * out + o] = (uint8_t)z;
        }
    }
}

/* OR field v (b bits) at bit position bit of a bitstream of words spaced stride apart */
static void put_field(uint32_t *base, uint64_t stride, uint64_t bit, int b, uint32_t v)
{
    uint64_t wi = bit / 32;
    unsigned sh = (unsigned)(bit % 32);
    base[wi * stride] |= v << sh;
    if (sh + (unsigned)b > 32)
        base[(wi + 1) * stride] |= v >> (32 - sh);
}

void qfi_gptq_pack_qweight(const uint8_t *q, uint64_t o0, uint64_t nrows, uint64_t out,
                           uint64_t in, int bits, uint32_t *qw)
{
    uint32_t mask = (1u << bits) - 1;
    for (uint64_t r = 0; r < nrows; r++)
        for (uint64_t i = 0; i < in; i++)
            put_field(qw + o0 + r, out, i * (uint64_t)bits, bits, q[r * in + i] & mask);
}

void qfi_gptq_pack_qzeros(const uint8_t *z, uint64_t o0, uint64_t n, uint64_t out,
                          uint64_t ngroups, int bits, int v1, uint32_t *qz)
{
    uint32_t mask = (1u << bits) - 1;
    uint64_t zc = (out * (uint64_t)bits + 31) / 32;
    for (uint64_t g = 0; g < ngroups; g++)
        for (uint64_t o = o0; o < o0 + n; o++) {
            uint32_t v = z[g * out + o];
            put_field(qz + g * zc, 1, o * (uint64_t)bits, bits, (v1 ? v - 1u : v) & mask);
        }
}

/* Codes and parameters of an existing GPTQ layer (the lossless repack path). */
void qfi_gptq_unpack_rows(const uint8_t *qw, uint64_t out, uint64_t in, int bits, uint64_t o0,
                          uint64_t nrows, uint8_t *q)
{
    for (uint64_t r = 0; r < nrows; r++)
        for (uint64_t i = 0; i < in; i++)
            q[r * in + i] = (uint8_t)stream_field(qw + 4 * (o0 + r), 4 * out, i, bits);
}

int qfi_gptq_unpack_zeros(const uint8_t *qz, uint64_t out, uint64_t ngroups, int bits,
                          int zero_offset, uint8_t *zero)
{
    uint64_t zc = (out * (uint64_t)bits + 31) / 32;
    int bad = 0;
    for (uint64_t g = 0; g < ngroups; g++)
        for (uint64_t o = 0; o < out; o++) {
            uint32_t z = stream_field(qz + 4 * g * zc, 4, o, bits) + (uint32_t)zero_offset;
            bad |= z >> bits != 0; /* v1 all-ones field: 2^bits */
            zero[g * out + o] = (uint8_t)z;
        }
    return bad ? QF_ERANGE_ZERO : QF_OK;
}
