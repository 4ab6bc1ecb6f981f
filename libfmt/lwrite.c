/* lwrite.c - writing quantized layouts (GPTQ, AWQ, compressed-tensors, bitsandbytes, MLX) as
 * Hugging Face-style checkpoints.
 *
 * Structure (see qf/lwrite.h for the contract):
 *  - a target module (struct lw_mod) per output layout: option checks, the shapes it can
 *    hold, its tensors, chunk encoding, and its quantization_config. GPTQ, AWQ,
 *    compressed-tensors (ct-int4 / ct-int8 / ct-fp8), bitsandbytes (bnb-nf4 / bnb-fp4) and
 *    MLX are here, the last three built on the pure encoders of formats/ctensors.c, bnb.c
 *    and mlx.c; these take their scale dtype from the input (first_float_type);
 *  - lossless repack: when the input layer is already quantized in a form the target holds
 *    as it is (can_repack: same bits and groups, f16 scales; awq.md §4), its codes, zero points
 *    and scales are unpacked (qfi_*_unpack_*) and packed by the target module instead of
 *    dequantize + encode. A faster direct path for one (source family, target layout) pair
 *    goes into the repack table (struct lw_repack), which is consulted first: GPTQ 4-bit <->
 *    AWQ GEMM use the word-level kernels of libfmt/repack.c (no decoding at all), GGUF Q4_0 /
 *    Q8_0 -> GPTQ sym g32 its block kernels, compressed-tensors pack <-> GPTQ the transposes
 *    of formats/ctensors.c; the way back to GGUF blocks is the conversion engine's
 *    (libfmt/convert_layout.c);
 *    Adding a layout (say "mlx", from formats/mlx.c's pure encoders): write its struct lw_mod
 *    (setup: check and default the options; fits: the shapes it holds; nbytes and declare: its
 *    tensors of one layer, in writing order; begin: zeroed buffers of one layer's packed
 *    output via begin_common; encode: parameters and codes of a chunk of rows into L->scale,
 *    L->zero, L->q; pack: those codes into the buffers; recon: the values its reference
 *    decoder gives, for the error; write: the buffers, in declaration order; config: its
 *    quantization_config; sidecar: a second config file or NULL), add it to `mods`, accept
 *    its name in qf_lwrite_plan_new's callers (qconvert --layout), and extend can_repack if
 *    another layout's codes fit it unchanged;
 *  - the driver: plan (one item per logical input tensor), optional GPTQ pre-pass (the v1/v2
 *    choice needs every zero point before the header is written), then per item: plain
 *    tensors copied or decoded to F16 in chunks, quantized layers decoded a chunk of rows at a
 *    time, encoded into the layer's packed buffers and written when the layer is complete.
 */
#include "qf/lwrite.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qf/kernels.h"
#include "qf/types.h"
#include "qf/writer.h"
#include "layout_int.h"
#include "lwrite_int.h"
#include "repack_int.h"

/* ---------------------------------------------------------------------------------------
 * Helpers shared with the encoders */
uint16_t qfi_lw_f16(float v)
{
    uint16_t h;
    if (v > 65504.0f)
        v = 65504.0f;
    else if (v < -65504.0f)
        v = -65504.0f;
    if (qf_quantize(QF_TYPE_F16, &v, &h, 1, 1, NULL) < 0)
        return 0x7e00;
    return h;
}

float qfi_lw_f16_value(uint16_t h)
{
    float f = 0.0f;
    qf_dequantize(QF_TYPE_F16, &h, &f, 1);
    return f;
}

void qfi_lw_store_words(const uint32_t *w, uint64_t n, uint8_t *dst)
{
    for (uint64_t i = 0; i < n; i++)
        qfi_store_le32(dst + 4 * i, w[i]);
}

/* ---------------------------------------------------------------------------------------
 * Plan */
struct lw_layer {
    uint64_t out, in, ng, wz;
    uint32_t *qw, *qz, *gidx, *perm, *goff;
    uint64_t n_qw, n_qz;
    uint16_t *sc;
    uint64_t n_sc;
    float *scale, *tmp;
    uint8_t *zero, *q;
};

struct lw_mod;

struct qf_lwrite_plan {
    struct qf_model *m;
    struct qf_layout *l;
    const struct lw_mod *mod;
    struct qf_lwrite_opts o;
    int bits, sym;
    int64_t G;            /* as configured: -1 per channel */
    int v1;               /* GPTQ: -1 undecided (AUTO, asymmetric), 0 v2, 1 v1 */
    int any_act;
    struct qf_lwrite_item *it;
    size_t n, cap;
    char **notes;
    size_t n_notes, cap_notes;
    char scheme[96];
    char *skipped;        /* AWQ modules_to_not_convert: JSON array text, built at plan time */
    int stype;            /* compressed-tensors / bitsandbytes / MLX: the scale dtype */
};

struct lw_mod {
    const char *name;
    int (*setup)(struct qf_lwrite_plan *p, struct qf_error *err);
    /* NULL if a [out, in] layer fits, else why not */
    const char *(*fits)(const struct qf_lwrite_plan *p, uint64_t out, uint64_t in);
    uint64_t (*nbytes)(const struct qf_lwrite_plan *p, uint64_t out, uint64_t in);
    int (*declare)(const struct qf_lwrite_plan *p, const char *base, uint64_t out, uint64_t in,
                   struct qf_writer *w, struct qf_error *err);
    int (*begin)(const struct qf_lwrite_plan *p, struct lw_layer *L, uint64_t chunk_rows);
    /* parameters and codes of rows [o0, o0 + n) of w (L->scale, L->zero, L->q) */
    void (*encode)(const struct qf_lwrite_plan *p, struct lw_layer *L, const float *w,
                   uint64_t o0, uint64_t n);
    /* pack the chunk's codes (and what else is per row) into the layer's buffers */
    void (*pack)(const struct qf_lwrite_plan *p, struct lw_layer *L, uint64_t o0, uint64_t n);
    /* the chunk's values as the layout's reference decoder gives them */
    void (*recon)(const struct qf_lwrite_plan *p, const struct lw_layer *L, uint64_t o0,
                  uint64_t n, float *what);
    int (*write)(const struct qf_lwrite_plan *p, struct lw_layer *L, struct qf_writer *w,
                 struct qf_error *err);
    json_t *(*config)(const struct qf_lwrite_plan *p);
    const char *sidecar; /* a second config file holding quantization_config, or NULL */
};

/* Lossless repack hook: writes the target's tensors of one layer straight from the source
 * layer's parts. `can` says whether this layer qualifies (bits, g_idx, group size); `run`
 * writes the same tensors `declare` declared. */
struct lw_repack {
    int src_family;      /* enum qf_lfamily */
    const char *dst;     /* target module name */
    int (*can)(const struct qf_lwrite_plan *p, const struct qf_ltensor *src);
    int (*run)(const struct qf_lwrite_plan *p, const struct qf_ltensor *src,
               struct qf_writer *w, struct qf_error *err);
};
/* GPTQ 4-bit <-> AWQ GEMM with the transposition kernels of libfmt/repack.c (awq.md section 4):
 * qweight and qzeros repacked word by word, scales copied byte for byte, g_idx = i / G. A layer
 * qualifies when the plan repacks it (can_repack) and, in addition: no act-order (AWQ has no
 * g_idx), in and out multiples of 8, AWQ GEMM, and zero points the target's words hold (AWQ: no
 * GPTQ v1 all-ones field, which decodes to 16; GPTQ v1: no zero point 0). Other layers take the
 * generic repack or the lossy path. Not measured: the codes are unchanged by construction. */
static int can_repack(const struct qf_lwrite_plan *p, const struct qf_ltensor *t, int keep_act);

static int rp_dims(const struct qf_lwrite_plan *p, const struct qf_ltensor *src, uint64_t *out,
                   uint64_t *in, uint64_t *G)
{
    const struct qf_tensor *qw = src->parts[QF_LPART_QWEIGHT], *qz = src->parts[QF_LPART_QZEROS];
    const struct qf_tensor *sc = src->parts[QF_LPART_SCALES];
    *out = src->shape[0];
    *in = src->shape[1];
    *G = (uint64_t)src->group_size;
    return can_repack(p, src, 0) && src->bits == 4 && !src->act_order && *G && *in % *G == 0 &&
           *in % 8 == 0 && *out % 8 == 0 && qw && qw->nbytes == *in * *out / 2 && qz &&
           qz->nbytes == *in / *G * *out / 2 && sc && sc->nbytes == *in / *G * *out * 2;
}

/* do the layer's zero points (as stored) hold a value `bad`? (GPTQ v1: stored 15 = 16) */
static int rp_has_zero(const struct qf_lwrite_plan *p, const struct qf_ltensor *src,
                       uint32_t bad)
{
    const uint8_t *d;
    void *own;
    struct qf_error e;
    const struct qf_tensor *qz = src->parts[QF_LPART_QZEROS];
    if (qfi_layout_load(p->m, qz, &d, &own, &e))
        return 1; /* unreadable: the generic path reports it */
    int hit = 0;
    for (uint64_t k = 0; !hit && k < qz->nbytes / 4; k++)
        for (int f = 0; f < 8; f++)
            hit |= ((qfi_load_le32(d + 4 * k) >> (4 * f)) & 15) == bad;
    free(own);
    return hit;
}

static int can_gptq_awq(const struct qf_lwrite_plan *p, const struct qf_ltensor *src)
{
    uint64_t out, in, G;
    return rp_dims(p, src, &out, &in, &G) && p->o.awq_version == QF_LW_AWQ_GEMM &&
           !(src->zero_offset && rp_has_zero(p, src, 15));
}

static int can_awq_gptq(const struct qf_lwrite_plan *p, const struct qf_ltensor *src)
{
    uint64_t out, in, G;
    return rp_dims(p, src, &out, &in, &G) && p->v1 >= 0 && !(p->v1 && rp_has_zero(p, src, 0));
}

/* the target's tensors, in the order gptq_declare / awq_declare (GEMM) declared them */
static int run_repack(const struct qf_lwrite_plan *p, const struct qf_ltensor *src,
                      struct qf_writer *w, struct qf_error *err)
{
    uint64_t out, in, G;
    rp_dims(p, src, &out, &in, &G);
    const int to_awq = src->family == QF_LAYOUT_GPTQ;
    const uint64_t nq = in * out / 2, nz = in / G * out / 2;
    const uint8_t *qw = NULL, *qz = NULL, *sc = NULL, *gi = NULL;
    void *o1 = NULL, *o2 = NULL, *o3 = NULL, *o4 = NULL;
    uint8_t *dq = malloc(nq), *dz = malloc(nz), *dg = to_awq ? NULL : malloc(4 * in);
    int rc = dq && dz && (to_awq || dg) ? QF_OK
                                        : qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory");
    rc = rc ? rc : qfi_layout_load(p->m, src->parts[QF_LPART_QWEIGHT], &qw, &o1, err);
    rc = rc ? rc : qfi_layout_load(p->m, src->parts[QF_LPART_QZEROS], &qz, &o2, err);
    rc = rc ? rc : qfi_layout_load(p->m, src->parts[QF_LPART_SCALES], &sc, &o3, err);
    if (!rc && to_awq && src->parts[QF_LPART_G_IDX])
        rc = qfi_layout_load(p->m, src->parts[QF_LPART_G_IDX], &gi, &o4, err);
    if (!rc && to_awq)
        rc = qfi_repack_gptq_to_awq(in, out, G, src->zero_offset ? QFI_GPTQ_V1 : QFI_GPTQ_V2,
                                    QFI_V1Z_REFUSE, gi, qw, qz, dq, dz, NULL, err);
    else if (!rc)
        rc = qfi_repack_awq_to_gptq(in, out, G, p->v1 ? QFI_GPTQ_V1 : QFI_GPTQ_V2, qw, qz, dq,
                                    dz, dg, err);
    if (rc && err) {
        char why[QF_ERROR_MSG_MAX];
        snprintf(why, sizeof why, "%s", err->msg);
        rc = qfi_error(err, rc, 0, NULL, -1, "'%s': %s", src->name, why);
    }
    rc = rc ? rc : qf_writer_write(w, dq, (size_t)nq, err);
    rc = rc ? rc : qf_writer_write(w, dz, (size_t)nz, err);
    rc = rc ? rc : qf_writer_write(w, sc, (size_t)(4 * nz), err);
    if (!rc && !to_awq)
        rc = qf_writer_write(w, dg, (size_t)(4 * in), err);
    free(o1);
    free(o2);
    free(o3);
    free(o4);
    free(dq);
    free(dz);
    free(dg);
    return rc;
}

/* ---------------------------------------------------------------------------------------
 * More direct repacks: GGUF Q4_0 / Q8_0 and compressed-tensors pack -> GPTQ */
static int write_words(struct qf_writer *w, const uint32_t *v, uint64_t n, struct qf_error *err);
static int write_halves(struct qf_writer *w, const uint16_t *v, uint64_t n,
                        struct qf_error *err);

/* an error of a kernel, prefixed with the layer's name */
static int rp_layer_error(const struct qf_ltensor *src, int rc, struct qf_error *err)
{
    if (!rc || !err)
        return rc;
    char why[QF_ERROR_MSG_MAX];
    snprintf(why, sizeof why, "%s", err->msg);
    return qfi_error(err, rc, 0, NULL, -1, "'%s': %s", src->name, why);
}

/* GGUF Q4_0 / Q8_0 -> GPTQ 4 / 8-bit sym g32 (ggml-types.md, gptq.md section 3): (q - 8) * d
 * and qs * d are GPTQ's scale * (code - 2^(b-1)) with the block's f16 d as the group's scale,
 * so qfi_repack_q{4,8}_0_to_gptq move the codes and the d bytes, and the zero points are
 * 2^(b-1). The GGUF rows are the output channels; names and llama.cpp's Q/K row order stay as
 * the plan has them. A layer qualifies when the target is that scheme exactly (bits, sym,
 * group size 32) and the shapes are whole blocks. */
static int rp_gguf_bits(const struct qf_ltensor *src)
{
    const struct qf_tensor *t = src->parts[0];
    return !t ? 0 : t->type == QF_TYPE_Q4_0 ? 4 : t->type == QF_TYPE_Q8_0 ? 8 : 0;
}

static int can_gguf_gptq(const struct qf_lwrite_plan *p, const struct qf_ltensor *src)
{
    const int b = rp_gguf_bits(src);
    const uint64_t out = src->shape[0], in = src->shape[1];
    return b && p->bits == b && p->sym && p->G == 32 && p->v1 >= 0 && src->n_dims == 2 &&
           in % 32 == 0 && out % 8 == 0 && src->nelem == out * in &&
           src->parts[0]->nbytes == src->nelem / 32 * (b == 4 ? 18u : 34u);
}

static int run_gguf_gptq(const struct qf_lwrite_plan *p, const struct qf_ltensor *src,
                         struct qf_writer *w, struct qf_error *err)
{
    const int b = rp_gguf_bits(src);
    const uint64_t out = src->shape[0], in = src->shape[1], ng = in / 32;
    const uint64_t nq = in * out / 8 * (uint64_t)b, nz = ng * out / 8 * (uint64_t)b;
    const uint64_t ns = 2 * ng * out, ni = 4 * in;
    const uint8_t *blk = NULL;
    void *own = NULL;
    uint8_t *o = malloc((size_t)(nq + nz + ns + ni));
    int rc = o ? QF_OK : qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory");
    rc = rc ? rc : qfi_layout_load(p->m, src->parts[0], &blk, &own, err);
    if (!rc) {
        const int zf = p->v1 ? QFI_GPTQ_V1 : QFI_GPTQ_V2;
        rc = b == 4 ? qfi_repack_q4_0_to_gptq(in, out, zf, blk, o, o + nq, o + nq + nz,
                                              o + nq + nz + ns, err)
                    : qfi_repack_q8_0_to_gptq(in, out, zf, blk, o, o + nq, o + nq + nz,
                                              o + nq + nz + ns, err);
        rc = rp_layer_error(src, rc, err);
    }
    rc = rc ? rc : qf_writer_write(w, o, (size_t)(nq + nz + ns + ni), err);
    free(own);
    free(o);
    return rc;
}

/* compressed-tensors pack (b = 2, 4, 8) -> GPTQ (formats/ctensors.c qfi_ct_to_gptq_v2): the
 * words are GPTQ v2's transposed, zero points included (a symmetric layer's are 2^(b-1));
 * v1 zero points through qfi_repack_zeros_v2_to_v1 (symmetric targets only, so no zero point
 * 0 arises). weight_scale [out, ngroups] is transposed to GPTQ's [ngroups, out] F16, so the
 * layer qualifies only when every scale is an f16 value (F16 scales; BF16 / F32 ones that
 * convert exactly). Also: same bits and group size, no act-order, not strategy "tensor", and
 * v2 or a symmetric target (an AUTO asymmetric target decides v1 / v2 on decoded zeros). */
/* same bits and groups as the target, no act-order */
static int rp_groups_ok(const struct qf_lwrite_plan *p, const struct qf_ltensor *src)
{
    const uint64_t in = src->shape[1], G = (uint64_t)src->group_size;
    return src->bits == p->bits && !src->act_order && src->group_size > 0 &&
           G == (p->G == -1 ? in : (uint64_t)p->G) && in % G == 0;
}

static int rp_ct_shapes(const struct qf_lwrite_plan *p, const struct qf_ltensor *src)
{
    const struct qf_tensor *wp = src->parts[QF_LPART_QWEIGHT], *zp = src->parts[QF_LPART_QZEROS];
    const struct qf_tensor *sc = src->parts[QF_LPART_SCALES];
    const uint64_t out = src->shape[0], in = src->shape[1], G = (uint64_t)src->group_size;
    const int b = src->bits;
    if ((b != 2 && b != 4 && b != 8) || !rp_groups_ok(p, src) || (p->sym && !src->sym) ||
        !(p->v1 == 0 || (p->v1 == 1 && p->sym)))
        return 0;
    const uint64_t pk = 32u / (unsigned)b, ng = in / G;
    if (in % pk || out % pk || !wp || wp->type != QF_TYPE_I32 || wp->n_dims != 2 ||
        wp->shape[0] != out || wp->shape[1] != in / pk || !sc || sc->n_dims != 2 ||
        sc->shape[0] != out || sc->shape[1] != ng)
        return 0;
    return src->sym || (zp && zp->type == QF_TYPE_I32 && zp->n_dims == 2 &&
                        zp->shape[0] == out / pk && zp->shape[1] == ng);
}

/* the scales as F16 [ngroups, out] (h may be NULL: only check); 0 if one is not an f16 value */
static int rp_ct_scales(const struct qf_lwrite_plan *p, const struct qf_ltensor *src, uint16_t *h)
{
    const uint64_t out = src->shape[0], ng = src->shape[1] / (uint64_t)src->group_size;
    float *s;
    struct qf_error e;
    if (qfi_layout_load_f32(p->m, src->parts[QF_LPART_SCALES], &s, &e))
        return 0; /* unreadable: the generic path reports it */
    int ok = 1;
    for (uint64_t o = 0; ok && o < out; o++)
        for (uint64_t g = 0; ok && g < ng; g++) {
            float v = s[o * ng + g];
            uint16_t f = qfi_lw_f16(v);
            ok = isfinite(v) && qfi_lw_f16_value(f) == v;
            if (h)
                h[g * out + o] = f;
        }
    free(s);
    return ok;
}

static int can_ct_gptq(const struct qf_lwrite_plan *p, const struct qf_ltensor *src)
{
    return rp_ct_shapes(p, src) && rp_ct_scales(p, src, NULL);
}

/* a tensor's I32 words, aligned and in host order (malloc'd) */
static int rp_words(const struct qf_lwrite_plan *p, const struct qf_tensor *t, uint32_t **res,
                    struct qf_error *err)
{
    const uint8_t *d;
    void *own;
    *res = NULL;
    int rc = qfi_layout_load(p->m, t, &d, &own, err);
    if (rc)
        return rc;
    uint64_t n = t->nbytes / 4;
    uint32_t *v = malloc((size_t)(n ? 4 * n : 4));
    for (uint64_t k = 0; v && k < n; k++)
        v[k] = qfi_load_le32(d + 4 * k);
    free(own);
    *res = v;
    return v ? QF_OK : qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory");
}

static int run_ct_gptq(const struct qf_lwrite_plan *p, const struct qf_ltensor *src,
                       struct qf_writer *w, struct qf_error *err)
{
    const uint64_t out = src->shape[0], in = src->shape[1], G = (uint64_t)src->group_size;
    const int b = src->bits;
    const uint64_t ng = in / G, nq = in / (32u / (unsigned)b) * out;
    const uint64_t nz = ng * (out / (32u / (unsigned)b));
    uint32_t *wp = NULL, *zp = NULL, *gi = malloc((size_t)(4 * in));
    uint32_t *qw = malloc((size_t)(4 * nq)), *qz = malloc((size_t)(4 * nz + 4));
    uint32_t *z1 = malloc((size_t)(4 * nz + 4));
    uint16_t *h = malloc((size_t)(2 * ng * out));
    int rc = gi && qw && qz && z1 && h ? QF_OK
                                      : qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory");
    rc = rc ? rc : rp_words(p, src->parts[QF_LPART_QWEIGHT], &wp, err);
    if (!rc && !src->sym)
        rc = rp_words(p, src->parts[QF_LPART_QZEROS], &zp, err);
    if (!rc && !rp_ct_scales(p, src, h))
        rc = qfi_error(err, QF_EFORMAT, 0, NULL, -1, "'%s': weight_scale changed while read",
                       src->name);
    if (!rc && qfi_ct_to_gptq_v2(wp, zp, out, in, ng, b, qw, qz))
        rc = qfi_error(err, QF_EINTERNAL, 0, NULL, -1, "'%s': ct repack", src->name);
    if (!rc && p->v1) {
        qfi_lw_store_words(qz, nz, (uint8_t *)z1);
        rc = rp_layer_error(src, qfi_repack_zeros_v2_to_v1(z1, qz, b, ng, out, err), err);
        for (uint64_t k = 0; !rc && k < nz; k++) /* back to host order for write_words */
            qz[k] = qfi_load_le32(qz + k);
    }
    for (uint64_t i = 0; !rc && i < in; i++)
        gi[i] = (uint32_t)(i / G);
    rc = rc ? rc : write_words(w, qw, nq, err);
    rc = rc ? rc : write_words(w, qz, nz, err);
    rc = rc ? rc : write_halves(w, h, ng * out, err);
    rc = rc ? rc : write_words(w, gi, in, err);
    free(wp);
    free(zp);
    free(gi);
    free(qw);
    free(qz);
    free(z1);
    free(h);
    return rc;
}

/* GPTQ (b = 4, 8) -> compressed-tensors pack (formats/ctensors.c qfi_gptq_v2_to_ct): the
 * inverse of run_ct_gptq. weight_packed is qweight transposed, weight_zero_point (asymmetric
 * targets) qzeros in v2 transposed; a symmetric target needs every zero point 2^(b-1). Scales
 * are transposed into the target's scale dtype: the layer qualifies only when each f16 scale
 * is a value of it (F16, F32; BF16 when exact). Same bits and group size, no act-order, GPTQ
 * v1 zero points that v2 holds (no all-ones field). */
static int write_vals(struct qf_writer *w, int type, const float *v, uint64_t n,
                      struct qf_error *err);

/* the layer's zero points as GPTQ v2 words in host order (malloc'd), NULL if v2 cannot hold
 * them or they cannot be read */
static uint32_t *rp_v2_zeros(const struct qf_lwrite_plan *p, const struct qf_ltensor *src,
                             struct qf_error *err)
{
    const struct qf_tensor *qz = src->parts[QF_LPART_QZEROS];
    const uint64_t n = qz->nbytes / 4;
    const uint8_t *d;
    void *own;
    if (qfi_layout_load(p->m, qz, &d, &own, err))
        return NULL;
    uint8_t *v2 = malloc((size_t)(4 * n + 4));
    uint32_t *z = malloc((size_t)(4 * n + 4));
    int rc = v2 && z ? QF_OK : qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory");
    if (!rc && src->zero_offset)
        rc = rp_layer_error(src, qfi_repack_zeros_v1_to_v2(d, v2, src->bits,
                                                           qz->nbytes / 4 / (src->shape[0] *
                                                           (uint64_t)src->bits / 32),
                                                           src->shape[0], QFI_V1Z_REFUSE, NULL,
                                                           err), err);
    else if (!rc)
        memcpy(v2, d, (size_t)(4 * n));
    for (uint64_t k = 0; !rc && k < n; k++)
        z[k] = qfi_load_le32(v2 + 4 * k);
    free(own);
    free(v2);
    if (rc) {
        free(z);
        return NULL;
    }
    return z;
}

static int can_gptq_ct(const struct qf_lwrite_plan *p, const struct qf_ltensor *src)
{
    const struct qf_tensor *qw = src->parts[QF_LPART_QWEIGHT], *qz = src->parts[QF_LPART_QZEROS];
    const struct qf_tensor *sc = src->parts[QF_LPART_SCALES];
    const uint64_t out = src->shape[0], in = src->shape[1], G = (uint64_t)src->group_size;
    const int b = src->bits;
    if ((b != 4 && b != 8) || !rp_groups_ok(p, src) || !qw || !qz || !sc ||
        sc->type != QF_TYPE_F16 || (p->stype != QF_TYPE_F16 && p->stype != QF_TYPE_F32 &&
                                    p->stype != QF_TYPE_BF16))
        return 0;
    const uint64_t pk = 32u / (unsigned)b, ng = in / G;
    if (in % pk || out % pk || qw->nbytes != 4 * (in / pk) * out ||
        qz->nbytes != 4 * ng * (out / pk) || sc->nbytes != 2 * ng * out)
        return 0;
    struct qf_error e;
    uint32_t *z = rp_v2_zeros(p, src, &e);
    int ok = z != NULL;
    const uint32_t half = 1u << (b - 1), mask = (1u << b) - 1u;
    for (uint64_t k = 0; ok && p->sym && k < ng * (out / pk); k++)
        for (uint64_t f = 0; ok && f < pk; f++)
            ok = ((z[k] >> (f * (unsigned)b)) & mask) == half;
    free(z);
    if (!ok || p->stype != QF_TYPE_BF16)
        return ok;
    float *s; /* BF16 scales: every f16 one must be a bf16 value */
    if (qfi_layout_load_f32(p->m, sc, &s, &e))
        return 0;
    for (uint64_t k = 0; ok && k < ng * out; k++) {
        uint32_t bits;
        memcpy(&bits, &s[k], 4);
        ok = (bits & 0xffffu) == 0;
    }
    free(s);
    return ok;
}

static int run_gptq_ct(const struct qf_lwrite_plan *p, const struct qf_ltensor *src,
                       struct qf_writer *w, struct qf_error *err)
{
    const uint64_t out = src->shape[0], in = src->shape[1], G = (uint64_t)src->group_size;
    const int b = src->bits;
    const uint64_t pk = 32u / (unsigned)b, ng = in / G, nq = (in / pk) * out;
    const uint64_t nz = ng * (out / pk);
    uint32_t *qw = NULL, *qz = NULL, *pw = malloc((size_t)(4 * nq)), *pz = malloc((size_t)(4 * nz));
    float *s = NULL, *st = malloc((size_t)(4 * ng * out));
    int rc = pw && pz && st ? QF_OK : qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory");
    rc = rc ? rc : rp_words(p, src->parts[QF_LPART_QWEIGHT], &qw, err);
    if (!rc && !(qz = rp_v2_zeros(p, src, err)))
        rc = err && err->code ? err->code : QF_EFORMAT;
    rc = rc ? rc : qfi_layout_load_f32(p->m, src->parts[QF_LPART_SCALES], &s, err);
    if (!rc && qfi_gptq_v2_to_ct(qw, qz, out, in, ng, b, p->sym, pw, pz))
        rc = qfi_error(err, QF_EFORMAT, 0, NULL, -1, "'%s': zero points changed while read",
                       src->name);
    for (uint64_t o = 0; !rc && o < out; o++)
        for (uint64_t g = 0; g < ng; g++)
            st[o * ng + g] = s[g * out + o];
    rc = rc ? rc : write_words(w, pw, nq, err);
    rc = rc ? rc : write_vals(w, p->stype, st, ng * out, err);
    if (!rc) {
        uint8_t sh[16];
        qfi_store_le32(sh, (uint32_t)out);
        qfi_store_le32(sh + 4, (uint32_t)(out >> 32));
        qfi_store_le32(sh + 8, (uint32_t)in);
        qfi_store_le32(sh + 12, (uint32_t)(in >> 32));
        rc = qf_writer_write(w, sh, sizeof sh, err);
    }
    if (!rc && !p->sym)
        rc = write_words(w, pz, nz, err);
    free(qw);
    free(qz);
    free(pw);
    free(pz);
    free(s);
    free(st);
    return rc;
}

static const struct lw_repack repacks[] = {
    {QF_LAYOUT_GPTQ, "awq", can_gptq_awq, run_repack},
    {QF_LAYOUT_AWQ_GEMM, "gptq", can_awq_gptq, run_repack},
    {QF_LAYOUT_PLAIN, "gptq", can_gguf_gptq, run_gguf_gptq},
    {QF_LAYOUT_CT_PACK, "gptq", can_ct_gptq, run_ct_gptq},
    {QF_LAYOUT_GPTQ, "ct-int4", can_gptq_ct, run_gptq_ct},
    {QF_LAYOUT_GPTQ, "ct-int8", can_gptq_ct, run_gptq_ct},
};

static const struct lw_repack *find_repack(const struct qf_lwrite_plan *p,
                                           const struct qf_ltensor *src)
{
    for (size_t i = 0; i < sizeof repacks / sizeof repacks[0]; i++)
        if (repacks[i].dst && repacks[i].src_family == src->family &&
            !strcmp(repacks[i].dst, p->mod->name) && repacks[i].can(p, src))
            return &repacks[i];
    return NULL;
}

static int note(struct qf_lwrite_plan *p, const char *fmt, ...) QF_PRINTF(2, 3);
static int note(struct qf_lwrite_plan *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = qfi_strv_vaddf(&p->notes, &p->n_notes, &p->cap_notes, fmt, ap);
    va_end(ap);
    return rc;
}

static uint64_t ngroups_of(const struct qf_lwrite_plan *p, uint64_t in)
{
    return p->G == -1 ? 1 : in / (uint64_t)p->G;
}

static void layer_free(struct lw_layer *L)
{
    free(L->qw);
    free(L->qz);
    free(L->gidx);
    free(L->perm);
    free(L->goff);
    free(L->sc);
    free(L->scale);
    free(L->tmp);
    free(L->zero);
    free(L->q);
    memset(L, 0, sizeof *L);
}

/* write n host-order words as LE bytes through a bounded buffer */
static int write_words(struct qf_writer *w, const uint32_t *v, uint64_t n, struct qf_error *err)
{
    uint8_t buf[1 << 14];
    for (uint64_t k = 0; k < n;) {
        uint64_t m = n - k < sizeof buf / 4 ? n - k : sizeof buf / 4;
        qfi_lw_store_words(v + k, m, buf);
        int rc = qf_writer_write(w, buf, (size_t)(4 * m), err);
        if (rc)
            return rc;
        k += m;
    }
    return QF_OK;
}

static int write_halves(struct qf_writer *w, const uint16_t *v, uint64_t n,
                        struct qf_error *err)
{
    uint8_t buf[1 << 14];
    for (uint64_t k = 0; k < n;) {
        uint64_t m = n - k < sizeof buf / 2 ? n - k : sizeof buf / 2;
        for (uint64_t i = 0; i < m; i++)
            qfi_store_le16(buf + 2 * i, v[k + i]);
        int rc = qf_writer_write(w, buf, (size_t)(2 * m), err);
        if (rc)
            return rc;
        k += m;
    }
    return QF_OK;
}

static int add_tensor2(struct qf_writer *w, const char *base, const char *sfx, int type,
                       uint64_t d0, uint64_t d1, int n_dims, struct qf_error *err)
{
    char nm[QFI_MAX_NAME + 32];
    snprintf(nm, sizeof nm, "%s%s", base, sfx);
    uint64_t sh[2] = {d0, d1};
    return qf_writer_add_tensor(w, nm, type, n_dims, sh, err);
}

/* common buffers: params of the whole layer, codes and scratch of one chunk */
static int begin_common(struct lw_layer *L, uint64_t chunk_rows)
{
    uint64_t np = L->ng * L->out;
    L->scale = malloc(np * sizeof *L->scale);
    L->zero = malloc(np ? np : 1);
    L->q = malloc(chunk_rows * L->in);
    L->tmp = malloc(L->in * sizeof *L->tmp);
    return L->scale && L->zero && L->q && L->tmp ? QF_OK : QF_ENOMEM;
}

/* ---------------------------------------------------------------------------------------
 * GPTQ target */
static int gptq_setup(struct qf_lwrite_plan *p, struct qf_error *err)
{
    if (p->bits != 2 && p->bits != 3 && p->bits != 4 && p->bits != 8)
        return qfi_error(err, QF_EINVAL, 0, NULL, -1, "GPTQ bits %d (2, 3, 4 or 8)", p->bits);
    if (p->sym < 0)
        p->sym = 1;
    if (p->o.gptq_format < QF_LW_GPTQ_AUTO || p->o.gptq_format > QF_LW_GPTQ_V2)
        return qfi_error(err, QF_EINVAL, 0, NULL, -1, "GPTQ format %d", p->o.gptq_format);
    /* symmetric zero points are 2^(b-1) > 0: v1 always holds them */
    p->v1 = p->o.gptq_format == QF_LW_GPTQ_V2 ? 0
          : p->sym || p->o.gptq_format == QF_LW_GPTQ_V1 ? 1 : -1;
    return QF_OK;
}

static const char *gptq_fits(const struct qf_lwrite_plan *p, uint64_t out, uint64_t in)
{
    if (in % 32 || out % 32)
        return "in and out features must be multiples of 32 (AutoGPTQ's shapes)";
    if (p->G != -1 && in % (uint64_t)p->G)
        return "the group size does not divide in features";
    return NULL;
}

static uint64_t gptq_nbytes(const struct qf_lwrite_plan *p, uint64_t out, uint64_t in)
{
    uint64_t b = (uint64_t)p->bits, ng = ngroups_of(p, in);
    return 4 * (in * b / 32) * out + 4 * ng * (out * b / 32) + 2 * ng * out + 4 * in;
}

static int gptq_declare(const struct qf_lwrite_plan *p, const char *base, uint64_t out,
                        uint64_t in, struct qf_writer *w, struct qf_error *err)
{
    uint64_t b = (uint64_t)p->bits, ng = ngroups_of(p, in);
    int rc = add_tensor2(w, base, ".qweight", QF_TYPE_I32, in * b / 32, out, 2, err);
    rc = rc ? rc : add_tensor2(w, base, ".qzeros", QF_TYPE_I32, ng, out * b / 32, 2, err);
    rc = rc ? rc : add_tensor2(w, base, ".scales", QF_TYPE_F16, ng, out, 2, err);
    rc = rc ? rc : add_tensor2(w, base, ".g_idx", QF_TYPE_I32, in, 0, 1, err);
    return rc;
}

static int gptq_begin(const struct qf_lwrite_plan *p, struct lw_layer *L, uint64_t chunk_rows)
{
    uint64_t b = (uint64_t)p->bits;
    L->n_qw = (L->in * b / 32) * L->out;
    L->n_qz = L->ng * (L->out * b / 32);
    L->qw = calloc(L->n_qw ? L->n_qw : 1, 4);
    L->qz = calloc(L->n_qz ? L->n_qz : 1, 4);
    if (!L->qw || !L->qz)
        return QF_ENOMEM;
    return begin_common(L, chunk_rows);
}

static void gptq_encode(const struct qf_lwrite_plan *p, struct lw_layer *L, const float *w,
                        uint64_t o0, uint64_t n)
{
    qfi_gptq_encode_rows(w, o0, n, L->out, L->in, L->ng, L->perm, L->goff, p->bits, p->sym,
                         L->scale, L->zero, L->q, L->tmp);
}

static void gptq_pack(const struct qf_lwrite_plan *p, struct lw_layer *L, uint64_t o0,
                      uint64_t n)
{
    qfi_gptq_pack_qweight(L->q, o0, n, L->out, L->in, p->bits, L->qw);
}

static void gptq_recon(const struct qf_lwrite_plan *p, const struct lw_layer *L, uint64_t o0,
                       uint64_t n, float *what)
{
    (void)p;
    uint64_t G = L->in / L->ng;
    for (uint64_t r = 0; r < n; r++)
        for (uint64_t i = 0; i < L->in; i++) {
            uint64_t g = L->gidx ? L->gidx[i] : i / G;
            uint64_t k = g * L->out + o0 + r;
            what[r * L->in + i] = L->scale[k] * (float)((int)L->q[r * L->in + i] - L->zero[k]);
        }
}

static int gptq_write(const struct qf_lwrite_plan *p, struct lw_layer *L, struct qf_writer *w,
                      struct qf_error *err)
{
    qfi_gptq_pack_qzeros(L->zero, 0, L->out, L->out, L->ng, p->bits, p->v1 == 1, L->qz);
    int rc = write_words(w, L->qw, L->n_qw, err);
    rc = rc ? rc : write_words(w, L->qz, L->n_qz, err);
    if (rc)
        return rc;
    uint64_t np = L->ng * L->out;
    uint16_t *h = malloc((np ? np : 1) * sizeof *h);
    uint32_t *gi = malloc(L->in * sizeof *gi);
    if (!h || !gi) {
        free(h);
        free(gi);
        return qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory");
    }
    for (uint64_t k = 0; k < np; k++)
        h[k] = qfi_lw_f16(L->scale[k]);
    uint64_t G = L->in / L->ng;
    for (uint64_t i = 0; i < L->in; i++)
        gi[i] = L->gidx ? L->gidx[i] : (uint32_t)(i / G);
    rc = write_halves(w, h, np, err);
    rc = rc ? rc : write_words(w, gi, L->in, err);
    free(h);
    free(gi);
    return rc;
}

static json_t *gptq_config(const struct qf_lwrite_plan *p)
{
    /* AutoGPTQ BaseQuantizeConfig.to_dict(), in its order */
    json_t *c = json_object();
    json_object_set_new(c, "bits", json_integer(p->bits));
    json_object_set_new(c, "group_size", json_integer(p->G));
    json_object_set_new(c, "damp_percent", json_real(0.01));
    json_object_set_new(c, "desc_act", json_boolean(p->any_act));
    json_object_set_new(c, "static_groups", json_false());
    json_object_set_new(c, "sym", json_boolean(p->sym));
    json_object_set_new(c, "true_sequential", json_true());
    json_object_set_new(c, "model_name_or_path", json_null());
    json_object_set_new(c, "model_file_base_name", json_string("model"));
    json_object_set_new(c, "quant_method", json_string("gptq"));
    json_object_set_new(c, "checkpoint_format", json_string(p->v1 == 0 ? "gptq_v2" : "gptq"));
    return c;
}

/* ---------------------------------------------------------------------------------------
 * AWQ target */
static int awq_setup(struct qf_lwrite_plan *p, struct qf_error *err)
{
    if (p->bits != 4)
        return qfi_error(err, QF_EINVAL, 0, NULL, -1, "AWQ is 4-bit only (bits %d)", p->bits);
    if (p->sym == 1)
        return qfi_error(err, QF_EINVAL, 0, NULL, -1,
                         "AWQ GEMM/GEMV hold zero points only (asymmetric); symmetric AWQ is "
                         "the Marlin layout, not written");
    p->sym = 0;
    if (p->G == -1)
        return qfi_error(err, QF_EINVAL, 0, NULL, -1, "AWQ needs a group size (no per-channel)");
    if (p->o.awq_version == QF_LW_AWQ_GEMV && p->G != 32 && p->G != 64 && p->G < 128)
        return qfi_error(err, QF_EINVAL, 0, NULL, -1,
                         "AWQ GEMV group size %lld (32, 64 or at least 128)", (long long)p->G);
    if (p->o.awq_version != QF_LW_AWQ_GEMM && p->o.awq_version != QF_LW_AWQ_GEMV)
        return qfi_error(err, QF_EINVAL, 0, NULL, -1, "AWQ version %d", p->o.awq_version);
    return QF_OK;
}

static const char *awq_fits(const struct qf_lwrite_plan *p, uint64_t out, uint64_t in)
{
    if (out % 8)
        return "out features must be a multiple of 8";
    if (in % (uint64_t)p->G)
        return "the group size does not divide in features";
    if (p->o.awq_version == QF_LW_AWQ_GEMV && in % 8)
        return "in features must be a multiple of 8 (GEMV)";
    return NULL;
}

static uint64_t awq_nbytes(const struct qf_lwrite_plan *p, uint64_t out, uint64_t in)
{
    uint64_t ng = in / (uint64_t)p->G;
    if (p->o.awq_version == QF_LW_AWQ_GEMV) {
        uint64_t wz = qfi_awq_gemv_zeros_width(in, (uint64_t)p->G);
        return 4 * out * (in / 8) + 4 * out * wz + 2 * out * 8 * wz;
    }
    return 4 * in * (out / 8) + 4 * ng * (out / 8) + 2 * ng * out;
}

static int awq_declare(const struct qf_lwrite_plan *p, const char *base, uint64_t out,
                       uint64_t in, struct qf_writer *w, struct qf_error *err)
{
    uint64_t ng = in / (uint64_t)p->G;
    int rc;
    if (p->o.awq_version == QF_LW_AWQ_GEMV) {
        uint64_t wz = qfi_awq_gemv_zeros_width(in, (uint64_t)p->G);
        rc = add_tensor2(w, base, ".qweight", QF_TYPE_I32, out, in / 8, 2, err);
        rc = rc ? rc : add_tensor2(w, base, ".qzeros", QF_TYPE_I32, out, wz, 2, err);
        rc = rc ? rc : add_tensor2(w, base, ".scales", QF_TYPE_F16, out, 8 * wz, 2, err);
    } else {
        rc = add_tensor2(w, base, ".qweight", QF_TYPE_I32, in, out / 8, 2, err);
        rc = rc ? rc : add_tensor2(w, base, ".qzeros", QF_TYPE_I32, ng, out / 8, 2, err);
        rc = rc ? rc : add_tensor2(w, base, ".scales", QF_TYPE_F16, ng, out, 2, err);
    }
    return rc;
}

static int awq_begin(const struct qf_lwrite_plan *p, struct lw_layer *L, uint64_t chunk_rows)
{
    if (p->o.awq_version == QF_LW_AWQ_GEMV) {
        L->wz = qfi_awq_gemv_zeros_width(L->in, L->in / L->ng);
        L->n_qw = L->out * (L->in / 8);
        L->n_qz = L->out * L->wz;
        L->n_sc = L->out * 8 * L->wz;
    } else {
        L->n_qw = L->in * (L->out / 8);
        L->n_qz = L->ng * (L->out / 8);
        L->n_sc = L->ng * L->out;
    }
    L->qw = calloc(L->n_qw ? L->n_qw : 1, 4);
    L->qz = calloc(L->n_qz ? L->n_qz : 1, 4);
    L->sc = calloc(L->n_sc ? L->n_sc : 1, 2);
    if (!L->qw || !L->qz || !L->sc)
        return QF_ENOMEM;
    return begin_common(L, chunk_rows);
}

static void awq_encode(const struct qf_lwrite_plan *p, struct lw_layer *L, const float *w,
                       uint64_t o0, uint64_t n)
{
    (void)p;
    qfi_awq_encode_rows(w, o0, n, L->out, L->in, L->in / L->ng, L->scale, L->zero, L->q);
}

static void awq_pack(const struct qf_lwrite_plan *p, struct lw_layer *L, uint64_t o0,
                     uint64_t n)
{
    if (p->o.awq_version == QF_LW_AWQ_GEMV)
        qfi_awq_pack_gemv(L->q, L->zero, L->scale, o0, n, L->out, L->in, L->ng, L->wz, L->qw,
                          L->qz, L->sc);
    else
        qfi_awq_pack_gemm(L->q, L->zero, o0, n, L->out, L->in, L->ng, L->qw, L->qz);
}

static void awq_recon(const struct qf_lwrite_plan *p, const struct lw_layer *L, uint64_t o0,
                      uint64_t n, float *what)
{
    (void)p;
    uint64_t G = L->in / L->ng;
    /* as the reader decodes AWQ: (q - z) * scale rounded to f16 */
    for (uint64_t r = 0; r < n; r++)
        for (uint64_t i = 0; i < L->in; i++) {
            uint64_t k = (i / G) * L->out + o0 + r;
            float v = (float)((int)L->q[r * L->in + i] - L->zero[k]) * L->scale[k];
            what[r * L->in + i] = qfi_lw_f16_value(qfi_lw_f16(v));
        }
}

static int awq_write(const struct qf_lwrite_plan *p, struct lw_layer *L, struct qf_writer *w,
                     struct qf_error *err)
{
    if (p->o.awq_version != QF_LW_AWQ_GEMV)
        for (uint64_t k = 0; k < L->n_sc; k++)
            L->sc[k] = qfi_lw_f16(L->scale[k]);
    int rc = write_words(w, L->qw, L->n_qw, err);
    rc = rc ? rc : write_words(w, L->qz, L->n_qz, err);
    rc = rc ? rc : write_halves(w, L->sc, L->n_sc, err);
    return rc;
}

static json_t *awq_config(const struct qf_lwrite_plan *p)
{
    /* AutoAWQ AwqConfig.to_transformers_dict() */
    json_t *c = json_object();
    json_object_set_new(c, "quant_method", json_string("awq"));
    json_object_set_new(c, "zero_point", json_true());
    json_object_set_new(c, "group_size", json_integer(p->G));
    json_object_set_new(c, "bits", json_integer(4));
    json_object_set_new(c, "version",
                        json_string(p->o.awq_version == QF_LW_AWQ_GEMV ? "gemv" : "gemm"));
    json_t *skip = p->skipped ? json_loads(p->skipped, 0, NULL) : NULL;
    json_object_set_new(c, "modules_to_not_convert", skip ? skip : json_null());
    return c;
}

/* ---------------------------------------------------------------------------------------
 * Helpers of the layouts below */

/* n floats (already values of type) as F16 / BF16 / F32 little-endian bytes */
static int write_vals(struct qf_writer *w, int type, const float *v, uint64_t n,
                      struct qf_error *err)
{
    uint8_t buf[1 << 14];
    const unsigned sz = type == QF_TYPE_F32 ? 4u : 2u;
    for (uint64_t k = 0; k < n;) {
        uint64_t m = n - k < sizeof buf / sz ? n - k : sizeof buf / sz;
        for (uint64_t i = 0; i < m; i++) {
            float x = v[k + i];
            uint32_t bits;
            memcpy(&bits, &x, 4);
            if (type == QF_TYPE_F32)
                qfi_store_le32(buf + 4 * i, bits);
            else if (type == QF_TYPE_BF16)
                qfi_store_le16(buf + 2 * i, (uint16_t)(bits >> 16) /* x is a bf16 value */);
            else
                qfi_store_le16(buf + 2 * i, qfi_lw_f16(x));
        }
        int rc = qf_writer_write(w, buf, (size_t)(sz * m), err);
        if (rc)
            return rc;
        k += m;
    }
    return QF_OK;
}

static int is_linear(const char *name, const struct qf_ltensor *t);

/* The dtype of the first linear layer when it is F16, BF16 or F32 (the dtype the producing
 * tools keep for scales), a quantized layer's BF16 / F32 scales' dtype, else F16 (GGUF block
 * types). */
static int first_float_type(const struct qf_lwrite_plan *p)
{
    for (size_t i = 0; i < qf_layout_n_tensors(p->l); i++) {
        const struct qf_ltensor *t = qf_layout_tensor(p->l, i);
        if (!t->parts[0] || !is_linear(t->name, t))
            continue;
        if (t->family == QF_LAYOUT_PLAIN)
            return t->parts[0]->type == QF_TYPE_BF16 || t->parts[0]->type == QF_TYPE_F32
                       ? t->parts[0]->type
                       : QF_TYPE_F16;
        const struct qf_tensor *sc = t->parts[QF_LPART_SCALES];
        if (sc && (sc->type == QF_TYPE_BF16 || sc->type == QF_TYPE_F32))
            return sc->type;
        return QF_TYPE_F16;
    }
    return QF_TYPE_F16;
}

/* ---------------------------------------------------------------------------------------
 * compressed-tensors targets (spec bnb-compressed-mlx.md part B): "ct-int4" / "ct-int8"
 * pack-quantized (weight_packed I32 [out, ceil(in / (32/b))], weight_scale [out, ngroups],
 * weight_shape I64 [2], asymmetric: weight_zero_point I32 [ceil(out / (32/b)), ngroups]) and
 * "ct-fp8" float-quantized (weight F8_E4M3 [out, in], weight_scale [out, 1]). Encoding is
 * llm-compressor's min/max observer and compressed-tensors' quantize (qfi_ct_minmax_params,
 * qfi_ct_quantize_rows / qfi_ct_fp8_quantize_rows), every operation rounded to the scale
 * dtype (the model's dtype: the input's F16 / BF16 / F32); codes and zero points kept as
 * int8 in L->q / L->zero, scales [out, ngroups] in L->scale. */
static int ct_is_fp8(const struct qf_lwrite_plan *p) { return !strcmp(p->mod->name, "ct-fp8"); }

static int ct_setup(struct qf_lwrite_plan *p, struct qf_error *err)
{
    const int fp8 = ct_is_fp8(p), want = fp8 ? 8 : p->mod->name[6] - '0';
    if (p->o.bits && p->o.bits != want)
        return qfi_error(err, QF_EINVAL, 0, NULL, -1, "%s holds %d bits (bits %d)",
                         p->mod->name, want, p->o.bits);
    p->bits = want;
    if (fp8) {
        if (p->o.group_size && p->o.group_size != -1)
            return qfi_error(err, QF_EINVAL, 0, NULL, -1,
                             "ct-fp8 is per output channel (group size -1 only)");
        if (p->sym == 0)
            return qfi_error(err, QF_EINVAL, 0, NULL, -1, "ct-fp8 is symmetric only");
        p->G = -1;
    }
    if (p->sym < 0)
        p->sym = 1; /* llm-compressor's W4A16 / W8A16 / FP8 presets */
    p->stype = first_float_type(p);
    return QF_OK;
}

static const char *ct_fits(const struct qf_lwrite_plan *p, uint64_t out, uint64_t in)
{
    (void)out;
    if (p->G != -1 && in % (uint64_t)p->G)
        return "the group size does not divide in features";
    return NULL;
}

static uint64_t ct_words(const struct qf_lwrite_plan *p, uint64_t n)
{
    const uint64_t pk = 32u / (unsigned)p->bits;
    return (n + pk - 1) / pk;
}

static uint64_t ct_nbytes(const struct qf_lwrite_plan *p, uint64_t out, uint64_t in)
{
    const uint64_t ng = ngroups_of(p, in), ss = p->stype == QF_TYPE_F32 ? 4 : 2;
    if (ct_is_fp8(p))
        return out * in + ss * out;
    return 4 * out * ct_words(p, in) + ss * out * ng + 16 +
           (p->sym ? 0 : 4 * ct_words(p, out) * ng);
}

static int ct_declare(const struct qf_lwrite_plan *p, const char *base, uint64_t out,
                      uint64_t in, struct qf_writer *w, struct qf_error *err)
{
    const uint64_t ng = ngroups_of(p, in);
    if (ct_is_fp8(p)) {
        int rc = add_tensor2(w, base, ".weight", QF_TYPE_F8_E4M3, out, in, 2, err);
        return rc ? rc : add_tensor2(w, base, ".weight_scale", p->stype, out, 1, 2, err);
    }
    int rc = add_tensor2(w, base, ".weight_packed", QF_TYPE_I32, out, ct_words(p, in), 2, err);
    rc = rc ? rc : add_tensor2(w, base, ".weight_scale", p->stype, out, ng, 2, err);
    rc = rc ? rc : add_tensor2(w, base, ".weight_shape", QF_TYPE_I64, 2, 0, 1, err);
    if (!rc && !p->sym)
        rc = add_tensor2(w, base, ".weight_zero_point", QF_TYPE_I32, ct_words(p, out), ng, 2,
                         err);
    return rc;
}

static int ct_begin(const struct qf_lwrite_plan *p, struct lw_layer *L, uint64_t chunk_rows)
{
    /* FP8: the layer's e4m3 bytes in the words of qw */
    L->n_qw = ct_is_fp8(p) ? (L->out * L->in + 3) / 4 : L->out * ct_words(p, L->in);
    L->n_qz = p->sym ? 0 : ct_words(p, L->out) * L->ng;
    L->qw = calloc(L->n_qw ? L->n_qw : 1, 4);
    L->qz = calloc(L->n_qz ? L->n_qz : 1, 4);
    if (!L->qw || !L->qz)
        return QF_ENOMEM;
    int rc = begin_common(L, chunk_rows);
    if (!rc)
        memset(L->zero, 0, (size_t)(L->ng * L->out) + (L->ng * L->out == 0));
    return rc;
}

static void ct_encode(const struct qf_lwrite_plan *p, struct lw_layer *L, const float *w,
                      uint64_t o0, uint64_t n)
{
    const uint64_t G = L->in / L->ng;
    float *s = L->scale + o0 * L->ng;
    int8_t *z = (int8_t *)L->zero + o0 * L->ng;
    if (ct_is_fp8(p)) {
        qfi_ct_minmax_params(w, n, L->in, G, -448.0f, 448.0f, 1, 0, p->stype, s, z);
        qfi_ct_fp8_quantize_rows(w, n, L->in, G, p->stype, s, L->q);
        return;
    }
    const float qmin = -(float)(1 << (p->bits - 1)), qmax = (float)((1 << (p->bits - 1)) - 1);
    qfi_ct_minmax_params(w, n, L->in, G, qmin, qmax, p->sym, 1, p->stype, s, z);
    qfi_ct_quantize_rows(w, n, L->in, G, p->bits, p->stype, s, p->sym ? NULL : z,
                         (int8_t *)L->q);
}

static void ct_pack(const struct qf_lwrite_plan *p, struct lw_layer *L, uint64_t o0, uint64_t n)
{
    if (ct_is_fp8(p))
        memcpy((uint8_t *)L->qw + o0 * L->in, L->q, n * L->in);
    else
        qfi_ct_pack_rows((const int8_t *)L->q, n, L->in, p->bits, L->qw + o0 * ct_words(p, L->in));
}

static void ct_recon(const struct qf_lwrite_plan *p, const struct lw_layer *L, uint64_t o0,
                     uint64_t n, float *what)
{
    /* as compressed-tensors dequantizes: (q - z) * s (FP8: e4m3(q) * s) in the scale dtype */
    const uint64_t G = L->in / L->ng;
    float lut[256];
    if (ct_is_fp8(p))
        for (int c = 0; c < 256; c++) {
            uint8_t b = (uint8_t)c;
            qf_dequantize(QF_TYPE_F8_E4M3, &b, &lut[c], 1);
        }
    for (uint64_t r = 0; r < n; r++)
        for (uint64_t i = 0; i < L->in; i++) {
            const uint64_t k = (o0 + r) * L->ng + i / G;
            const float s = L->scale[k];
            float v = ct_is_fp8(p) ? lut[L->q[r * L->in + i]]
                                   : (float)((int)((const int8_t *)L->q)[r * L->in + i] -
                                             (int)((const int8_t *)L->zero)[k]);
            what[r * L->in + i] = qfi_ct_round(p->stype, v * s);
        }
}

static int ct_write(const struct qf_lwrite_plan *p, struct lw_layer *L, struct qf_writer *w,
                    struct qf_error *err)
{
    if (ct_is_fp8(p)) {
        int rc = qf_writer_write(w, L->qw, (size_t)(L->out * L->in), err);
        return rc ? rc : write_vals(w, p->stype, L->scale, L->out, err);
    }
    int rc = write_words(w, L->qw, L->n_qw, err);
    rc = rc ? rc : write_vals(w, p->stype, L->scale, L->out * L->ng, err);
    if (!rc) {
        uint8_t sh[16];
        qfi_store_le32(sh, (uint32_t)L->out);
        qfi_store_le32(sh + 4, (uint32_t)(L->out >> 32));
        qfi_store_le32(sh + 8, (uint32_t)L->in);
        qfi_store_le32(sh + 12, (uint32_t)(L->in >> 32));
        rc = qf_writer_write(w, sh, sizeof sh, err);
    }
    if (!rc && !p->sym) {
        qfi_ct_pack_zeros((const int8_t *)L->zero, L->out, L->ng, p->bits, L->qz);
        rc = write_words(w, L->qz, L->n_qz, err);
    }
    return rc;
}

/* QuantizationArgs.model_dump() */
static json_t *ct_args(const struct qf_lwrite_plan *p, int is_float, const char *strategy,
                       int64_t G, int dynamic, const char *observer)
{
    json_t *a = json_object();
    json_object_set_new(a, "actorder", json_null());
    json_object_set_new(a, "block_structure", json_null());
    json_object_set_new(a, "dynamic", json_boolean(dynamic));
    json_object_set_new(a, "group_size", G > 0 ? json_integer(G) : json_null());
    json_object_set_new(a, "num_bits", json_integer(p->bits));
    json_object_set_new(a, "observer", observer ? json_string(observer) : json_null());
    json_object_set_new(a, "observer_kwargs", json_object());
    json_object_set_new(a, "strategy", json_string(strategy));
    json_object_set_new(a, "symmetric", json_boolean(p->sym));
    json_object_set_new(a, "type", json_string(is_float ? "float" : "int"));
    return a;
}

static json_t *ct_config(const struct qf_lwrite_plan *p)
{
    /* QuantizationConfig.model_dump() as llm-compressor saves it (fixtures ct-*) */
    const int fp8 = ct_is_fp8(p);
    const char *fmt = fp8 ? "float-quantized" : "pack-quantized";
    json_t *g = json_object(), *groups = json_object(), *c = json_object();
    json_object_set_new(g, "format", json_string(fmt));
    /* FP8 is llm-compressor's FP8_DYNAMIC: activations quantized per token at run time */
    json_object_set_new(g, "input_activations",
                        fp8 ? ct_args(p, 1, "token", -1, 1, NULL) : json_null());
    json_object_set_new(g, "output_activations", json_null());
    json_t *tg = json_array();
    json_array_append_new(tg, json_string("Linear"));
    json_object_set_new(g, "targets", tg);
    json_object_set_new(g, "weights", ct_args(p, fp8, p->G == -1 ? "channel" : "group",
                                              p->G, 0, "minmax"));
    json_object_set_new(groups, "group_0", g);
    json_object_set_new(c, "config_groups", groups);
    json_object_set_new(c, "format", json_string(fmt));
    json_object_set_new(c, "global_compression_ratio", json_null());
    json_t *ign = p->skipped ? json_loads(p->skipped, 0, NULL) : NULL;
    if (!ign)
        ign = json_array();
    json_array_append_new(ign, json_string("lm_head"));
    json_object_set_new(c, "ignore", ign);
    json_object_set_new(c, "kv_cache_scheme", json_null());
    json_object_set_new(c, "quant_method", json_string("compressed-tensors"));
    json_object_set_new(c, "quantization_status", json_string("compressed"));
    json_object_set_new(c, "sparsity_config", json_object());
    json_object_set_new(c, "transform_config", json_object());
    /* the compressed-tensors release whose files these are laid out as */
    json_object_set_new(c, "version", json_string("0.12.3.dev23+g52792be0"));
    return c;
}

/* ---------------------------------------------------------------------------------------
 * bitsandbytes 4-bit targets (spec bnb-compressed-mlx.md part A): "bnb-nf4" / "bnb-fp4",
 * blocks of G (the blocksize, default 64) consecutive elements of the flattened weight,
 * quantized by bitsandbytes' blockwise quantizer (qfi_bnb_quantize_blocks): weight U8
 * [out * in / 2, 1] (two codes a byte, the first in the high nibble), absmax F32 [nblocks]
 * (absmax per block in L->scale), quant_map F32 [16] and quant_state.bitsandbytes__<type>,
 * the JSON of the quantization state. --double-quant (o.double_quant): absmax minus its mean
 * quantized again in blocks of 256 with the dynamic map (absmax U8, nested_absmax F32,
 * nested_quant_map F32 [256]; the mean is the JSON's nested_offset). Blocks lie inside rows
 * (in a multiple of G), so rows are encoded chunk by chunk; the double quantization needs
 * the whole layer's absmax and is done when the layer is written (and, for the length of
 * the JSON declared in the header, once more in declare from the decoded layer). The
 * measured error is that of the 4-bit codes with the exact absmax: the 8-bit rounding of a
 * double-quantized absmax is not included. */
#define BNB_NESTED_BS 256

static int bnb_is_fp4(const struct qf_lwrite_plan *p) { return !strcmp(p->mod->name, "bnb-fp4"); }

static int bnb_setup(struct qf_lwrite_plan *p, struct qf_error *err)
{
    if (p->o.bits && p->o.bits != 4)
        return qfi_error(err, QF_EINVAL, 0, NULL, -1, "%s is 4-bit (bits %d)", p->mod->name,
                         p->o.bits);
    if (p->o.sym >= 0)
        return qfi_error(err, QF_EINVAL, 0, NULL, -1,
                         "%s has no zero points (--sym / --asym do not apply)", p->mod->name);
    p->bits = 4;
    p->sym = 1;
    p->G = p->o.group_size ? p->o.group_size : 64;
    if (p->G < 64 || p->G > 4096 || (p->G & (p->G - 1)))
        return qfi_error(err, QF_EINVAL, 0, NULL, -1,
                         "bitsandbytes blocksize %lld (64, 128, ... 4096)", (long long)p->G);
    p->stype = first_float_type(p);
    return QF_OK;
}

static const char *bnb_fits(const struct qf_lwrite_plan *p, uint64_t out, uint64_t in)
{
    (void)out;
    if (in % (uint64_t)p->G)
        return "in features must be a multiple of the blocksize";
    return NULL;
}

static const char *dtype_name(int t)
{
    return t == QF_TYPE_BF16 ? "bfloat16" : t == QF_TYPE_F32 ? "float32" : "float16";
}

/* Python's repr of the float32 x widened to a double: the shortest round-trip digits */
static void py_repr(float x, char *buf, size_t n)
{
    const double d = (double)x;
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    if (!strpbrk(buf, ".eni"))
        snprintf(buf + strlen(buf), n - strlen(buf), ".0");
}

/* QuantState.as_dict(packed=True)'s JSON as bitsandbytes stores it (json.dumps) */
static char *bnb_qstate(const struct qf_lwrite_plan *p, uint64_t out, uint64_t in,
                        float offset)
{
    char off[64], *s = malloc(512);
    if (!s)
        return NULL;
    int k = snprintf(s, 512,
                     "{\"quant_type\": \"%s\", \"blocksize\": %lld, \"dtype\": \"%s\", "
                     "\"shape\": [%llu, %llu]",
                     bnb_is_fp4(p) ? "fp4" : "nf4", (long long)p->G, dtype_name(p->stype),
                     (unsigned long long)out, (unsigned long long)in);
    if (p->o.double_quant) {
        py_repr(offset, off, sizeof off);
        k += snprintf(s + k, 512 - (size_t)k,
                      ", \"nested_blocksize\": %d, \"nested_dtype\": \"float32\", "
                      "\"nested_offset\": %s",
                      BNB_NESTED_BS, off);
    }
    snprintf(s + k, 512 - (size_t)k, "}");
    return s;
}

static uint64_t bnb_nblocks(const struct qf_lwrite_plan *p, uint64_t out, uint64_t in)
{
    return out * (in / (uint64_t)p->G);
}

static uint64_t bnb_nbytes(const struct qf_lwrite_plan *p, uint64_t out, uint64_t in)
{
    const uint64_t nb = bnb_nblocks(p, out, in);
    uint64_t n = out * in / 2 + 64 + 200; /* codes, quant_map, about the JSON */
    if (p->o.double_quant)
        return n + nb + 4 * ((nb + BNB_NESTED_BS - 1) / BNB_NESTED_BS) + 4 * 256;
    return n + 4 * nb;
}

/* the nested_offset the double quantization of layer base will store: the mean of its
 * absmax (qfi_bnb_double_quant's arithmetic, on the same decoded values) */
static int bnb_offset(const struct qf_lwrite_plan *p, const char *base, uint64_t out,
                      uint64_t in, float *offset, struct qf_error *err)
{
    char nm[QFI_MAX_NAME + 16];
    snprintf(nm, sizeof nm, "%s.weight", base);
    const struct qf_ltensor *t = qf_layout_find(p->l, nm);
    const uint64_t G = (uint64_t)p->G, ng = in / G;
    uint64_t rows = (1u << 16) / in ? (1u << 16) / in : 1;
    float *w = malloc(rows * in * sizeof *w), *am = malloc(rows * ng * sizeof *am);
    uint8_t *q = malloc(rows * in);
    int rc = !t ? qfi_error(err, QF_EINTERNAL, 0, NULL, -1, "'%s': not in the layout", nm)
           : w && am && q ? QF_OK
                          : qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory");
    double sum = 0.0;
    float code[16];
    qfi_bnb_code4(bnb_is_fp4(p), code);
    for (uint64_t o0 = 0; !rc && o0 < out; o0 += rows) {
        const uint64_t n = out - o0 < rows ? out - o0 : rows;
        rc = qf_layout_dequantize(p->m, p->l, t, o0, n, w, err);
        if (rc)
            break;
        qfi_bnb_quantize_blocks(w, n * in, G, code, 16, am, q);
        for (uint64_t b = 0; b < n * ng; b++)
            sum += (double)am[b];
    }
    *offset = (float)(sum / (double)(out * ng));
    free(w);
    free(am);
    free(q);
    return rc;
}

static int bnb_declare(const struct qf_lwrite_plan *p, const char *base, uint64_t out,
                       uint64_t in, struct qf_writer *w, struct qf_error *err)
{
    const uint64_t nb = bnb_nblocks(p, out, in);
    const int dq = p->o.double_quant;
    float offset = 0.0f;
    int rc = dq ? bnb_offset(p, base, out, in, &offset, err) : QF_OK;
    char *js = rc ? NULL : bnb_qstate(p, out, in, offset);
    if (!rc && !js)
        rc = qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory");
    char sfx[64];
    snprintf(sfx, sizeof sfx, ".weight.quant_state.bitsandbytes__%s",
             bnb_is_fp4(p) ? "fp4" : "nf4");
    rc = rc ? rc : add_tensor2(w, base, ".weight", QF_TYPE_U8, out * in / 2, 1, 2, err);
    rc = rc ? rc : add_tensor2(w, base, ".weight.absmax", dq ? QF_TYPE_U8 : QF_TYPE_F32, nb, 0,
                               1, err);
    if (!rc && dq) {
        rc = add_tensor2(w, base, ".weight.nested_absmax", QF_TYPE_F32,
                         (nb + BNB_NESTED_BS - 1) / BNB_NESTED_BS, 0, 1, err);
        rc = rc ? rc : add_tensor2(w, base, ".weight.nested_quant_map", QF_TYPE_F32, 256, 0, 1,
                                   err);
    }
    rc = rc ? rc : add_tensor2(w, base, ".weight.quant_map", QF_TYPE_F32, 16, 0, 1, err);
    rc = rc ? rc : add_tensor2(w, base, sfx, QF_TYPE_U8, strlen(js), 0, 1, err);
    free(js);
    return rc;
}

static int bnb_begin(const struct qf_lwrite_plan *p, struct lw_layer *L, uint64_t chunk_rows)
{
    (void)p;
    L->n_qw = (L->out * L->in / 2 + 3) / 4; /* the layer's code bytes */
    L->qw = calloc(L->n_qw ? L->n_qw : 1, 4);
    if (!L->qw)
        return QF_ENOMEM;
    return begin_common(L, chunk_rows);
}

static void bnb_encode(const struct qf_lwrite_plan *p, struct lw_layer *L, const float *w,
                       uint64_t o0, uint64_t n)
{
    float code[16];
    qfi_bnb_code4(bnb_is_fp4(p), code);
    qfi_bnb_quantize_blocks(w, n * L->in, L->in / L->ng, code, 16, L->scale + o0 * L->ng,
                            L->q);
}

static void bnb_pack(const struct qf_lwrite_plan *p, struct lw_layer *L, uint64_t o0, uint64_t n)
{
    (void)p;
    qfi_bnb_pack4(L->q, n * L->in, 0, (uint8_t *)L->qw + o0 * L->in / 2);
}

static void bnb_recon(const struct qf_lwrite_plan *p, const struct lw_layer *L, uint64_t o0,
                      uint64_t n, float *what)
{
    /* as bitsandbytes dequantizes: code[q] * absmax in f32, then the dtype */
    float code[16];
    qfi_bnb_code4(bnb_is_fp4(p), code);
    const uint64_t G = L->in / L->ng;
    for (uint64_t r = 0; r < n; r++)
        for (uint64_t i = 0; i < L->in; i++)
            what[r * L->in + i] = qfi_ct_round(
                p->stype, code[L->q[r * L->in + i]] * L->scale[(o0 + r) * L->ng + i / G]);
}

static int bnb_write(const struct qf_lwrite_plan *p, struct lw_layer *L, struct qf_writer *w,
                     struct qf_error *err)
{
    const uint64_t nb = L->out * L->ng, nn = (nb + BNB_NESTED_BS - 1) / BNB_NESTED_BS;
    float code[16], map[256], offset = 0.0f;
    qfi_bnb_code4(bnb_is_fp4(p), code);
    int rc = qf_writer_write(w, L->qw, (size_t)(L->out * L->in / 2), err);
    if (!rc && p->o.double_quant) {
        uint8_t *qa = malloc(nb ? nb : 1);
        float *nested = malloc(nn * sizeof *nested + 4), *scratch = malloc(nb * 4 + 4);
        if (!qa || !nested || !scratch)
            rc = qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory");
        if (!rc) {
            qfi_bnb_dynamic_map(map);
            offset = qfi_bnb_double_quant(L->scale, nb, BNB_NESTED_BS, map, qa, nested,
                                          scratch);
            rc = qf_writer_write(w, qa, (size_t)nb, err);
        }
        rc = rc ? rc : write_vals(w, QF_TYPE_F32, nested, nn, err);
        rc = rc ? rc : write_vals(w, QF_TYPE_F32, map, 256, err);
        free(qa);
        free(nested);
        free(scratch);
    } else if (!rc) {
        rc = write_vals(w, QF_TYPE_F32, L->scale, nb, err);
    }
    rc = rc ? rc : write_vals(w, QF_TYPE_F32, code, 16, err);
    if (!rc) {
        char *js = bnb_qstate(p, L->out, L->in, offset);
        rc = js ? qf_writer_write(w, js, strlen(js), err)
                : qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory");
        free(js);
    }
    return rc;
}

static json_t *bnb_config(const struct qf_lwrite_plan *p)
{
    /* transformers BitsAndBytesConfig.to_dict() (fixtures bnb-*) */
    json_t *c = json_object();
    json_object_set_new(c, "_load_in_4bit", json_true());
    json_object_set_new(c, "_load_in_8bit", json_false());
    json_object_set_new(c, "bnb_4bit_compute_dtype", json_string(dtype_name(p->stype)));
    json_object_set_new(c, "bnb_4bit_quant_storage", json_string("uint8"));
    json_object_set_new(c, "bnb_4bit_quant_type", json_string(bnb_is_fp4(p) ? "fp4" : "nf4"));
    json_object_set_new(c, "bnb_4bit_use_double_quant", json_boolean(p->o.double_quant));
    json_object_set_new(c, "llm_int8_enable_fp32_cpu_offload", json_false());
    json_object_set_new(c, "llm_int8_has_fp16_weight", json_false());
    json_t *skip = p->skipped ? json_loads(p->skipped, 0, NULL) : NULL;
    json_object_set_new(c, "llm_int8_skip_modules", skip ? skip : json_null());
    json_object_set_new(c, "llm_int8_threshold", json_real(6.0));
    json_object_set_new(c, "load_in_4bit", json_true());
    json_object_set_new(c, "load_in_8bit", json_false());
    json_object_set_new(c, "quant_method", json_string("bitsandbytes"));
    return c;
}

/* ---------------------------------------------------------------------------------------
 * MLX affine target (spec bnb-compressed-mlx.md part C): "mlx", bits 2, 3, 4, 6 or 8
 * (default 4), groups of 32, 64 (default) or 128 inputs: weight U32 [out, in * bits / 32]
 * (per row an LSB-first bitstream of codes), scales and biases [out, ngroups] in the
 * model's dtype. Codes come from mlx's reference quantizer (qfi_mlx_quantize, f32 scales);
 * scales and biases are then rounded to the dtype as mlx stores them (L->scale and, in
 * L->tmp, the biases, both [out, ngroups]). mlx-lm's loader quantizes a layer when its
 * "scales" exist, so unquantized layers need no entry in "quantization". */
static int mlx_setup(struct qf_lwrite_plan *p, struct qf_error *err)
{
    p->bits = p->o.bits ? p->o.bits : 4;
    if (p->bits != 2 && p->bits != 3 && p->bits != 4 && p->bits != 6 && p->bits != 8)
        return qfi_error(err, QF_EINVAL, 0, NULL, -1, "MLX bits %d (2, 3, 4, 6 or 8)", p->bits);
    if (p->o.sym >= 0)
        return qfi_error(err, QF_EINVAL, 0, NULL, -1,
                         "MLX affine has a bias per group (--sym / --asym do not apply)");
    p->sym = 0;
    p->G = p->o.group_size ? p->o.group_size : 64;
    if (p->G != 32 && p->G != 64 && p->G != 128)
        return qfi_error(err, QF_EINVAL, 0, NULL, -1, "MLX group size %lld (32, 64 or 128)",
                         (long long)p->G);
    p->stype = first_float_type(p);
    return QF_OK;
}

static const char *mlx_fits(const struct qf_lwrite_plan *p, uint64_t out, uint64_t in)
{
    (void)out;
    if (in % (uint64_t)p->G || in * (uint64_t)p->bits % 32)
        return "in features must be a multiple of the group size";
    return NULL;
}

static uint64_t mlx_nbytes(const struct qf_lwrite_plan *p, uint64_t out, uint64_t in)
{
    const uint64_t ss = p->stype == QF_TYPE_F32 ? 4 : 2;
    return 4 * out * (in * (uint64_t)p->bits / 32) + 2 * ss * out * ngroups_of(p, in);
}

static int mlx_declare(const struct qf_lwrite_plan *p, const char *base, uint64_t out,
                       uint64_t in, struct qf_writer *w, struct qf_error *err)
{
    const uint64_t ng = ngroups_of(p, in);
    int rc = add_tensor2(w, base, ".weight", QF_TYPE_U32, out, in * (uint64_t)p->bits / 32, 2,
                         err);
    rc = rc ? rc : add_tensor2(w, base, ".scales", p->stype, out, ng, 2, err);
    rc = rc ? rc : add_tensor2(w, base, ".biases", p->stype, out, ng, 2, err);
    return rc;
}

static int mlx_begin(const struct qf_lwrite_plan *p, struct lw_layer *L, uint64_t chunk_rows)
{
    L->n_qw = L->out * (L->in * (uint64_t)p->bits / 32);
    L->qw = calloc(L->n_qw ? L->n_qw : 1, 4);
    if (!L->qw || begin_common(L, chunk_rows))
        return QF_ENOMEM;
    const uint64_t np = L->ng * L->out > L->in ? L->ng * L->out : L->in;
    float *t = realloc(L->tmp, np * sizeof *t); /* the biases */
    if (!t)
        return QF_ENOMEM;
    L->tmp = t;
    return QF_OK;
}

static void mlx_encode(const struct qf_lwrite_plan *p, struct lw_layer *L, const float *w,
                       uint64_t o0, uint64_t n)
{
    float *s = L->scale + o0 * L->ng, *b = L->tmp + o0 * L->ng;
    qfi_mlx_quantize(w, n, L->in, L->in / L->ng, p->bits, s, b, L->q);
    for (uint64_t k = 0; k < n * L->ng; k++) {
        s[k] = qfi_ct_round(p->stype, s[k]);
        b[k] = qfi_ct_round(p->stype, b[k]);
    }
}

static void mlx_pack(const struct qf_lwrite_plan *p, struct lw_layer *L, uint64_t o0, uint64_t n)
{
    qfi_mlx_pack(L->q, n, L->in, p->bits, L->qw + o0 * (L->in * (uint64_t)p->bits / 32));
}

static void mlx_recon(const struct qf_lwrite_plan *p, const struct lw_layer *L, uint64_t o0,
                      uint64_t n, float *what)
{
    /* as mlx dequantizes: scale * q + bias in f32, rounded once to the dtype */
    const uint64_t G = L->in / L->ng;
    for (uint64_t r = 0; r < n; r++)
        for (uint64_t i = 0; i < L->in; i++) {
            const uint64_t k = (o0 + r) * L->ng + i / G;
            const float prod = L->scale[k] * (float)L->q[r * L->in + i];
            what[r * L->in + i] = qfi_ct_round(p->stype, prod + L->tmp[k]);
        }
}

static int mlx_write(const struct qf_lwrite_plan *p, struct lw_layer *L, struct qf_writer *w,
                     struct qf_error *err)
{
    int rc = write_words(w, L->qw, L->n_qw, err);
    rc = rc ? rc : write_vals(w, p->stype, L->scale, L->out * L->ng, err);
    rc = rc ? rc : write_vals(w, p->stype, L->tmp, L->out * L->ng, err);
    return rc;
}

static json_t *mlx_config(const struct qf_lwrite_plan *p)
{
    /* mlx-lm's "quantization" (written again as "quantization_config") */
    json_t *c = json_object();
    json_object_set_new(c, "group_size", json_integer(p->G));
    json_object_set_new(c, "bits", json_integer(p->bits));
    return c;
}

/* a module whose functions are <pfx>_setup ... <pfx>_config, no sidecar */
#define LW_MOD(name, pfx)                                                                    \
    {name,        pfx##_setup, pfx##_fits,  pfx##_nbytes, pfx##_declare, pfx##_begin,        \
     pfx##_encode, pfx##_pack, pfx##_recon, pfx##_write,  pfx##_config,  NULL}
static const struct lw_mod mods[] = {
    {"gptq", gptq_setup, gptq_fits, gptq_nbytes, gptq_declare, gptq_begin, gptq_encode,
     gptq_pack, gptq_recon, gptq_write, gptq_config, "quantize_config.json"},
    {"awq", awq_setup, awq_fits, awq_nbytes, awq_declare, awq_begin, awq_encode, awq_pack,
     awq_recon, awq_write, awq_config, NULL},
    LW_MOD("ct-int4", ct),  LW_MOD("ct-int8", ct),  LW_MOD("ct-fp8", ct),
    LW_MOD("bnb-nf4", bnb), LW_MOD("bnb-fp4", bnb), LW_MOD("mlx", mlx),
};
#undef LW_MOD

/* ---------------------------------------------------------------------------------------
 * Which tensors are quantized */
static int in_block(const char *name)
{
    static const char *const pre[] = {"layers.", "blk.", "h.", "blocks."};
    for (size_t k = 0; k < sizeof pre / sizeof pre[0]; k++) {
        size_t pl = strlen(pre[k]);
        for (const char *s = name; (s = strstr(s, pre[k])); s++) {
            if (s != name && s[-1] != '.')
                continue;
            const char *d = s + pl;
            if (*d < '0' || *d > '9')
                continue;
            while (*d >= '0' && *d <= '9')
                d++;
            if (*d == '.')
                return 1;
        }
    }
    return 0;
}

static int is_linear(const char *name, const struct qf_ltensor *t)
{
    static const char *const lin[] = {
        "fc1", "fc2", "fc_in", "fc_out", "dense", "dense_h_to_4h", "dense_4h_to_h",
        "query_key_value", "c_attn", "c_proj", "c_fc", "w1", "w2", "w3", "wq", "wk", "wv", "wo",
        "attn_q", "attn_k", "attn_v", "attn_output", "attn_qkv", "ffn_gate", "ffn_up",
        "ffn_down"};
    size_t n = strlen(name);
    if (t->n_dims != 2 || !t->shape[0] || !t->shape[1] || n < 8 ||
        strcmp(name + n - 7, ".weight") != 0 || !in_block(name))
        return 0;
    const char *end = name + n - 7, *start = end;
    while (start > name && start[-1] != '.')
        start--;
    size_t ml = (size_t)(end - start);
    if (ml >= 5 && !memcmp(end - 5, "_proj", 5))
        return 1;
    for (size_t k = 0; k < sizeof lin / sizeof lin[0]; k++)
        if (strlen(lin[k]) == ml && !memcmp(start, lin[k], ml))
            return 1;
    return 0;
}

/* ---------------------------------------------------------------------------------------
 * Plan */
/* Can the target hold the input layer's codes, zero points and f16 scales as they are? */
static int can_repack(const struct qf_lwrite_plan *p, const struct qf_ltensor *t, int keep_act)
{
    const struct qf_tensor *sc = t->parts[QF_LPART_SCALES];
    uint64_t G = p->G == -1 ? t->shape[1] : (uint64_t)p->G;
    if (t->family != QF_LAYOUT_GPTQ && t->family != QF_LAYOUT_AWQ_GEMM &&
        t->family != QF_LAYOUT_AWQ_GEMV)
        return 0;
    if (strcmp(p->mod->name, "gptq") && strcmp(p->mod->name, "awq"))
        return 0; /* the other targets hold other codes: always encoded */
    if (!sc || sc->type != QF_TYPE_F16 || t->bits != p->bits || (uint64_t)t->group_size != G)
        return 0;
    if (t->act_order && !keep_act)
        return 0;
    return !p->sym || t->sym; /* a symmetric target needs the input's zero points 2^(b-1) */
}

void qf_lwrite_opts_init(struct qf_lwrite_opts *o)
{
    memset(o, 0, sizeof *o);
    o->sym = -1;
}

void qf_lwrite_plan_free(struct qf_lwrite_plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_notes; i++)
        free(p->notes[i]);
    free(p->notes);
    free(p->it);
    free(p->skipped);
    qf_layout_free(p->l);
    free(p);
}

size_t qf_lwrite_plan_n_items(const struct qf_lwrite_plan *p) { return p ? p->n : 0; }
const struct qf_lwrite_item *qf_lwrite_plan_item(const struct qf_lwrite_plan *p, size_t i)
{
    return p && i < p->n ? &p->it[i] : NULL;
}
const char *qf_lwrite_plan_note(const struct qf_lwrite_plan *p, size_t i)
{
    return p && i < p->n_notes ? p->notes[i] : NULL;
}

static void make_scheme(struct qf_lwrite_plan *p)
{
    char gs[32];
    if (p->G == -1)
        snprintf(gs, sizeof gs, "per-channel");
    else
        snprintf(gs, sizeof gs, "g%lld", (long long)p->G);
    if (!strcmp(p->mod->name, "gptq"))
        snprintf(p->scheme, sizeof p->scheme, "gptq int%d %s %s%s %s", p->bits, gs,
                 p->sym ? "sym" : "asym", p->any_act ? " act-order" : "",
                 p->v1 < 0 ? "v1|v2" : p->v1 ? "v1" : "v2");
    else if (!strcmp(p->mod->name, "ct-fp8"))
        snprintf(p->scheme, sizeof p->scheme, "compressed-tensors fp8 e4m3 per-channel");
    else if (!strcmp(p->mod->name, "mlx"))
        snprintf(p->scheme, sizeof p->scheme, "mlx affine int%d %s", p->bits, gs);
    else if (!strncmp(p->mod->name, "bnb-", 4))
        snprintf(p->scheme, sizeof p->scheme, "bitsandbytes %s bs%lld%s", p->mod->name + 4,
                 (long long)p->G, p->o.double_quant ? " double-quant" : "");
    else if (!strncmp(p->mod->name, "ct-", 3))
        snprintf(p->scheme, sizeof p->scheme, "compressed-tensors int%d %s %s", p->bits, gs,
                 p->sym ? "sym" : "asym");
    else
        snprintf(p->scheme, sizeof p->scheme, "awq %s int4 %s",
                 p->o.awq_version == QF_LW_AWQ_GEMV ? "gemv" : "gemm", gs);
}

const char *qf_lwrite_plan_scheme(const struct qf_lwrite_plan *p) { return p ? p->scheme : NULL; }

static int plain_type(int t)
{
    const char *d = qf_type_st_dtype(t);
    return d ? t : QF_TYPE_F16;
}

static int append_skipped(struct qf_lwrite_plan *p, const char *name)
{
    json_t *a = p->skipped ? json_loads(p->skipped, 0, NULL) : json_array();
    size_t n = strlen(name);
    if (!a)
        return QF_ENOMEM;
    json_array_append_new(a, json_stringn(name, n > 7 ? n - 7 : n)); /* the module name */
    char *s = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    if (!s)
        return QF_ENOMEM;
    free(p->skipped);
    p->skipped = s;
    return QF_OK;
}

int qf_lwrite_plan_new(struct qf_model *m, const struct qf_lwrite_opts *o,
                       struct qf_lwrite_plan **out, struct qf_error *err)
{
    if (!m || !o || !out)
        return qfi_error(err, QF_EINVAL, 0, NULL, -1, "qf_lwrite_plan_new: NULL argument");
    *out = NULL;
    const struct lw_mod *mod = NULL;
    for (size_t k = 0; o->layout && k < sizeof mods / sizeof mods[0]; k++)
        if (!strcmp(o->layout, mods[k].name))
            mod = &mods[k];
    if (!mod)
        return qfi_error(err, QF_EINVAL, 0, NULL, -1, "unknown layout '%s' (gptq, awq, ct-int4, ct-int8, "
                                                "ct-fp8, bnb-nf4, bnb-fp4, mlx)",
                         o->layout ? o->layout : "(none)");
    struct qf_lwrite_plan *p = calloc(1, sizeof *p);
    if (!p)
        return qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory");
    p->m = m;
    p->mod = mod;
    p->o = *o;
    p->bits = o->bits ? o->bits : 4;
    p->sym = o->sym;
    int rc = qf_layout_scan(m, 0, &p->l, err);
    if (rc) {
        qf_lwrite_plan_free(p);
        return rc;
    }
    /* group size: asked, else the input layout's, else 128; a GPTQ (or compressed-tensors
     * int) input re-encoded as GPTQ also keeps its bits and symmetry unless asked otherwise */
    p->G = o->group_size;
    for (size_t i = 0; i < qf_layout_n_tensors(p->l); i++) {
        const struct qf_ltensor *t = qf_layout_tensor(p->l, i);
        if (t->family == QF_LAYOUT_PLAIN)
            continue;
        if (p->G == 0)
            p->G = (uint64_t)t->group_size == t->shape[1] && t->group_size != 128
                       ? -1 : t->group_size;
        /* compressed-tensors int codes are GPTQ's (transposed): kept likewise */
        const int keep = t->family == QF_LAYOUT_GPTQ ||
                         (t->family == QF_LAYOUT_CT_PACK && (t->bits == 2 || t->bits == 4 ||
                                                             t->bits == 8));
        if (keep && !strcmp(mod->name, "gptq")) {
            if (!o->bits)
                p->bits = t->bits;
            if (o->sym < 0)
                p->sym = t->sym;
        }
        if (!keep && !strcmp(mod->name, "gptq") && o->sym < 0)
            p->sym = 0; /* AWQ codes are asymmetric: GPTQ holds them as they are */
        break;
    }
    if (p->G == 0)
        p->G = 128;
    if (p->G < -1 || p->G == 0 || p->G > (int64_t)1 << 31) {
        rc = qfi_error(err, QF_EINVAL, 0, NULL, -1, "group size %lld (a positive number or -1)",
                       (long long)p->G);
        goto fail;
    }
    if ((rc = mod->setup(p, err)))
        goto fail;
    size_t n = qf_layout_n_tensors(p->l), nq = 0, nr = 0;
    p->it = calloc(n ? n : 1, sizeof *p->it);
    if (!p->it) {
        rc = qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        const struct qf_ltensor *t = qf_layout_tensor(p->l, i);
        struct qf_lwrite_item *it = &p->it[p->n++];
        it->name = t->name;
        it->src = t;
        it->n_dims = t->n_dims;
        memcpy(it->shape, t->shape, sizeof it->shape);
        const char *why = NULL;
        if (is_linear(t->name, t) && !(why = mod->fits(p, t->shape[0], t->shape[1]))) {
            it->quantized = 1;
            it->lossy = 1;
            it->ngroups = ngroups_of(p, t->shape[1]);
            it->nbytes = mod->nbytes(p, t->shape[0], t->shape[1]);
            if (t->family == QF_LAYOUT_GPTQ && t->act_order && !strcmp(mod->name, "gptq")) {
                if (!o->no_act_order && p->G != -1 && t->group_size == p->G) {
                    it->act_order = 1;
                    p->any_act = 1;
                } else if ((rc = note(p, "'%s': the input's act-order g_idx is not kept "
                                         "(group size changed or --no-act-order)", t->name))) {
                    goto oom;
                }
            } else if (t->act_order && (rc = note(p, "'%s': act-order g_idx dropped (%s has "
                                                     "no g_idx)", t->name, mod->name))) {
                goto oom;
            }
            if ((it->repacked = can_repack(p, t, it->act_order) || find_repack(p, t)))
                it->lossy = 0, nr++;
            nq++;
            continue;
        }
        if (why) {
            if ((rc = note(p, "'%s' [%llu, %llu] kept unquantized: %s", t->name,
                           (unsigned long long)t->shape[0], (unsigned long long)t->shape[1],
                           why)))
                goto oom;
            if (strcmp(mod->name, "gptq") && (rc = append_skipped(p, t->name)))
                goto oom;
        }
        it->out_type = t->family == QF_LAYOUT_PLAIN ? plain_type(t->parts[0]->type)
                                                     : QF_TYPE_F16;
        it->lossy = t->family != QF_LAYOUT_PLAIN || it->out_type != t->parts[0]->type;
        int64_t nb = qf_type_nbytes(it->out_type, t->n_dims ? t->shape[t->n_dims - 1] : 1,
                                    t->nelem);
        it->nbytes = nb > 0 ? (uint64_t)nb : 0;
    }
    if (nq == 0) {
        rc = qfi_error(err, QF_EUNSUPPORTED, 0, NULL, -1,
                       "no linear layer to quantize (2-D '*_proj.weight'-style tensors inside "
                       "'layers.N.' / 'blk.N.' blocks that fit the %s shapes)", mod->name);
        goto fail;
    }
    if (nr && (rc = note(p, "%zu of %zu layers repacked from the input's codes without loss",
                         nr, nq)))
        goto oom;
    make_scheme(p);
    *out = p;
    return QF_OK;
oom:
    rc = qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory");
fail:
    qf_lwrite_plan_free(p);
    return rc;
}

void qf_lwrite_plan_totals(const struct qf_lwrite_plan *p, struct qf_convert_stats *all,
                           size_t *worst)
{
    struct qf_convert_stats s;
    memset(&s, 0, sizeof s);
    size_t w = SIZE_MAX;
    for (size_t k = 0; p && k < p->n; k++) {
        const struct qf_lwrite_item *it = &p->it[k];
        if (!it->measured)
            continue;
        s.n += it->stats.n;
        s.n_nonfinite += it->stats.n_nonfinite;
        s.sum_sq += it->stats.sum_sq;
        s.sse += it->stats.sse;
        s.max_abs = it->stats.max_abs > s.max_abs ? it->stats.max_abs : s.max_abs;
        if (w == SIZE_MAX || it->stats.snr_db < p->it[w].stats.snr_db)
            w = k;
    }
    s.rmse = s.n ? sqrt(s.sse / (double)s.n) : 0.0;
    s.snr_db = s.sse > 0 ? 10.0 * log10(s.sum_sq / s.sse) : INFINITY;
    if (all)
        *all = s;
    if (worst)
        *worst = w;
}

/* ---------------------------------------------------------------------------------------
 * Run */
struct lw_run {
    struct qf_lwrite_plan *p;
    const struct qf_lwrite_run_opts *ro;
    uint64_t chunk, done, total;
    float *w, *what;
    uint64_t wcap;
};

static void stats_add(struct qf_convert_stats *s, const float *x, const float *y, uint64_t n)
{
    for (uint64_t k = 0; k < n; k++) {
        if (!isfinite(x[k])) {
            s->n_nonfinite++;
            continue;
        }
        double d = (double)y[k] - (double)x[k];
        s->n++;
        s->sum_sq += (double)x[k] * (double)x[k];
        s->sse += d * d;
        if (fabs(d) > s->max_abs)
            s->max_abs = fabs(d);
    }
}

static void stats_end(struct qf_lwrite_item *it)
{
    struct qf_convert_stats *s = &it->stats;
    s->rmse = s->n ? sqrt(s->sse / (double)s->n) : 0.0;
    s->snr_db = s->sse > 0 ? 10.0 * log10(s->sum_sq / s->sse) : INFINITY;
    it->measured = 1;
}

static int grow_bufs(struct lw_run *R, uint64_t n, struct qf_error *err)
{
    if (n <= R->wcap)
        return QF_OK;
    free(R->w);
    free(R->what);
    R->w = malloc(n * sizeof *R->w);
    R->what = malloc(n * sizeof *R->what);
    R->wcap = R->w && R->what ? n : 0;
    return R->wcap ? QF_OK : qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory");
}

static int tick(struct lw_run *R, uint64_t bytes, struct qf_error *err)
{
    R->done += bytes;
    if (R->ro->progress && R->ro->progress(R->ro->ctx, R->done, R->total))
        return qfi_error(err, QF_EIO, EINTR, NULL, -1, "cancelled");
    return QF_OK;
}

static uint64_t rows_per_chunk(const struct lw_run *R, uint64_t row_len)
{
    uint64_t r = row_len ? R->chunk / row_len : 1;
    return r ? r : 1;
}

/* The act-order g_idx of a GPTQ input layer, validated, and its group order. */
static int load_gidx(struct lw_run *R, const struct qf_lwrite_item *it, struct lw_layer *L,
                     struct qf_error *err)
{
    const struct qf_tensor *gt = it->src->parts[QF_LPART_G_IDX];
    if (!gt || gt->nbytes != 4 * L->in)
        return qfi_error(err, QF_EFORMAT, 0, NULL, -1, "'%s': g_idx missing", it->name);
    L->gidx = malloc(L->in * sizeof *L->gidx);
    L->perm = malloc(L->in * sizeof *L->perm);
    L->goff = malloc((L->ng + 1) * sizeof *L->goff);
    if (!L->gidx || !L->perm || !L->goff)
        return qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory");
    int rc = qf_model_read(R->p->m, gt, 0, L->gidx, (size_t)gt->nbytes, err);
    if (rc)
        return rc;
    for (uint64_t i = 0; i < L->in; i++)
        L->gidx[i] = qfi_load_le32(&L->gidx[i]);
    if (qfi_gptq_group_order(L->gidx, L->in, L->ng, L->perm, L->goff))
        return qfi_error(err, QF_EFORMAT, 0, qf_model_file(R->p->m, (size_t)gt->file_index)->path,
                         (int64_t)gt->offset, "'%s': g_idx out of range", it->name);
    return QF_OK;
}

/* The lossless repack path: the input layer's qweight, read row by row, and its zero points
 * and scales, read once. A GPTQ v1 zero point of 2^bits (the all-ones field) fits no field:
 * such a layer takes the lossy path instead. */
struct lw_src {
    const uint8_t *qw;
    void *own_qw;
};

static int src_begin(struct lw_run *R, struct qf_lwrite_item *it, struct lw_layer *L,
                     struct lw_src *S, struct qf_error *err)
{
    const struct qf_ltensor *t = it->src;
    const uint8_t *qz;
    void *own_qz;
    float *sc;
    int rc = qfi_layout_load(R->p->m, t->parts[QF_LPART_QZEROS], &qz, &own_qz, err);
    if (rc)
        return rc;
    if ((rc = qfi_layout_load_f32(R->p->m, t->parts[QF_LPART_SCALES], &sc, err))) {
        free(own_qz);
        return rc;
    }
    if (t->family == QF_LAYOUT_GPTQ) {
        memcpy(L->scale, sc, L->ng * L->out * sizeof *sc);
        if (qfi_gptq_unpack_zeros(qz, L->out, L->ng, t->bits, t->zero_offset, L->zero)) {
            it->repacked = 0;
            it->lossy = 1;
            rc = note(R->p, "'%s': a GPTQ v1 zero point is 2^%d (an all-ones field), which no "
                            "%d-bit field holds: encoded again instead of repacked",
                      it->name, t->bits, t->bits);
        }
    } else {
        qfi_awq_unpack_params(qz, sc, t->family == QF_LAYOUT_AWQ_GEMV, L->out, L->ng,
                              t->parts[QF_LPART_QZEROS]->shape[1], L->scale, L->zero);
    }
    free(own_qz);
    free(sc);
    if (rc)
        return qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory");
    if (it->repacked)
        rc = qfi_layout_load(R->p->m, t->parts[QF_LPART_QWEIGHT], &S->qw, &S->own_qw, err);
    return rc;
}

static void src_rows(const struct qf_lwrite_item *it, struct lw_layer *L, const struct lw_src *S,
                     uint64_t o0, uint64_t n)
{
    const struct qf_ltensor *t = it->src;
    if (t->family == QF_LAYOUT_GPTQ)
        qfi_gptq_unpack_rows(S->qw, L->out, L->in, t->bits, o0, n, L->q);
    else
        qfi_awq_unpack_rows(S->qw, t->family == QF_LAYOUT_AWQ_GEMV, L->out, L->in, o0, n, L->q);
}

/* Encode one quantized layer chunk by chunk: from the decoded input (round-to-nearest), or
 * from the input's codes (repack). measure: compare with the decoded input. */
static int encode_layer(struct lw_run *R, struct qf_lwrite_item *it, struct lw_layer *L,
                        int measure, struct qf_error *err)
{
    struct qf_lwrite_plan *p = R->p;
    memset(L, 0, sizeof *L);
    L->out = it->shape[0];
    L->in = it->shape[1];
    L->ng = it->ngroups;
    uint64_t cr = rows_per_chunk(R, L->in);
    if (cr > L->out)
        cr = L->out;
    int rc = p->mod->begin(p, L, cr);
    if (rc)
        return qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory for layer '%s'", it->name);
    if (it->act_order && (rc = load_gidx(R, it, L, err)))
        return rc;
    if ((rc = grow_bufs(R, cr * L->in, err)))
        return rc;
    struct lw_src S;
    memset(&S, 0, sizeof S);
    if (it->repacked && (rc = src_begin(R, it, L, &S, err)))
        return rc;
    if (measure)
        memset(&it->stats, 0, sizeof it->stats);
    for (uint64_t o0 = 0; !rc && o0 < L->out; o0 += cr) {
        uint64_t n = L->out - o0 < cr ? L->out - o0 : cr;
        rc = qf_layout_dequantize(p->m, p->l, it->src, o0, n, R->w, err);
        if (rc)
            break;
        if (it->repacked)
            src_rows(it, L, &S, o0, n);
        else
            p->mod->encode(p, L, R->w, o0, n);
        p->mod->pack(p, L, o0, n);
        if (measure) {
            p->mod->recon(p, L, o0, n, R->what);
            stats_add(&it->stats, R->w, R->what, n * L->in);
        }
    }
    free(S.own_qw);
    if (!rc && measure)
        stats_end(it);
    return rc;
}

static int write_plain(struct lw_run *R, struct qf_lwrite_item *it, struct qf_writer *w,
                       struct qf_error *err)
{
    struct qf_lwrite_plan *p = R->p;
    const struct qf_ltensor *t = it->src;
    if (t->family == QF_LAYOUT_PLAIN && it->out_type == t->parts[0]->type) {
        const struct qf_tensor *pt = t->parts[0];
        uint64_t step = 4 * R->chunk;
        if (grow_bufs(R, R->chunk, err))
            return QF_ENOMEM;
        for (uint64_t off = 0; off < pt->nbytes; off += step) {
            size_t len = (size_t)(pt->nbytes - off < step ? pt->nbytes - off : step);
            int rc = qf_model_read(p->m, pt, off, R->w, len, err);
            rc = rc ? rc : qf_writer_write(w, R->w, len, err);
            rc = rc ? rc : tick(R, len, err);
            if (rc)
                return rc;
        }
        return QF_OK;
    }
    /* decode to f32, encode as F16 */
    uint64_t row_len = t->n_dims ? t->shape[t->n_dims - 1] : 1;
    uint64_t rows = row_len ? t->nelem / row_len : 0;
    if (t->family != QF_LAYOUT_PLAIN)
        rows = t->shape[0], row_len = t->shape[1];
    uint64_t cr = rows_per_chunk(R, row_len);
    if (grow_bufs(R, cr * row_len, err))
        return QF_ENOMEM;
    for (uint64_t r0 = 0; r0 < rows; r0 += cr) {
        uint64_t n = rows - r0 < cr ? rows - r0 : cr;
        int rc = qf_layout_dequantize(p->m, p->l, t, r0, n, R->w, err);
        if (rc)
            return rc;
        uint16_t *h = (uint16_t *)(void *)R->what;
        if (qf_quantize(QF_TYPE_F16, R->w, h, n, row_len, NULL) < 0)
            return qfi_error(err, QF_EINTERNAL, 0, NULL, -1, "'%s': f16 encoding", it->name);
        uint8_t *b = (uint8_t *)R->what; /* the f16 values, made little-endian in place */
        for (uint64_t k = 0; k < n * row_len; k++) {
            uint16_t v = h[k];
            qfi_store_le16(b + 2 * k, v);
        }
        rc = qf_writer_write(w, b, (size_t)(2 * n * row_len), err);
        rc = rc ? rc : tick(R, 2 * n * row_len, err);
        if (rc)
            return rc;
    }
    return QF_OK;
}

static int pathcat(char *dst, size_t n, const char *dir, const char *name, struct qf_error *err)
{
    if ((size_t)snprintf(dst, n, "%s/%s", dir, name) >= n)
        return qfi_error(err, QF_ELIMIT, 0, dir, -1, "output path too long");
    return QF_OK;
}

/* Write a small file atomically: temporary file in dir, fsync, rename. */
static int write_small(const char *dir, const char *name, const char *data, size_t len,
                       int no_fsync, struct qf_error *err)
{
    char path[4096], tmp[4096];
    int rc = pathcat(path, sizeof path, dir, name, err);
    if (rc)
        return rc;
    if ((size_t)snprintf(tmp, sizeof tmp, "%s/.%s.qf-tmp-%ld-XXXXXX", dir, name,
                         (long)getpid()) >= sizeof tmp)
        return qfi_error(err, QF_ELIMIT, 0, dir, -1, "output path too long");
    int fd = mkstemp(tmp);
    if (fd < 0)
        return qfi_error(err, QF_EIO, errno, tmp, -1, "cannot create: %s", strerror(errno));
    int e = 0;
    for (size_t o = 0; o < len && !e;) {
        ssize_t k = write(fd, data + o, len - o);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            e = errno ? errno : EIO;
        else
            o += (size_t)k;
    }
    if (!e && !no_fsync && fsync(fd) != 0)
        e = errno;
    if (!e && fchmod(fd, 0644) != 0)
        e = errno;
    if (close(fd) != 0 && !e)
        e = errno;
    if (!e && rename(tmp, path) != 0)
        e = errno;
    if (e) {
        unlink(tmp);
        return qfi_error(err, QF_EIO, e, path, -1, "cannot write: %s", strerror(e));
    }
    return QF_OK;
}

/* The input's config.json with "quantization_config" added as the last key, its text kept as
 * it was (numbers stay as written); NULL if it cannot be spliced (then it is re-serialised). */
static char *splice_config(const char *path, const char *qc_text)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *t = NULL;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n > 0 && (uint64_t)n <= QFI_MAX_JSON_BYTES && fseek(f, 0, SEEK_SET) == 0 &&
        (t = malloc((size_t)n + strlen(qc_text) + 64)) && fread(t, 1, (size_t)n, f) != (size_t)n) {
        free(t);
        t = NULL;
    }
    fclose(f);
    if (!t)
        return NULL;
    long e = n - 1; /* the object's closing brace: the last non-blank character */
    while (e >= 0 && (t[e] == ' ' || t[e] == '\n' || t[e] == '\r' || t[e] == '\t'))
        e--;
    long b = e - 1;
    while (b >= 0 && (t[b] == ' ' || t[b] == '\n' || t[b] == '\r' || t[b] == '\t'))
        b--;
    if (e < 1 || t[e] != '}' || b < 0) {
        free(t);
        return NULL;
    }
    sprintf(t + b + 1, "%s\n  \"quantization_config\": %s\n}\n", t[b] == '{' ? "" : ",",
            qc_text);
    return t;
}

static int write_configs(struct qf_lwrite_plan *p, const char *dir, int no_fsync,
                         struct qf_error *err)
{
    json_t *root = NULL;
    const char *cfg_path = NULL;
    for (size_t i = 0; i < qf_model_n_files(p->m); i++) {
        const struct qf_file_info *f = qf_model_file(p->m, i);
        const char *b = strrchr(f->path, '/');
        b = b ? b + 1 : f->path;
        if (f->role && !strcmp(f->role, "config") && !strcmp(b, "config.json")) {
            void *j;
            int rc = qfi_json_load_file(f->path, &j, err);
            if (rc)
                return rc;
            root = j;
            cfg_path = f->path;
            break;
        }
    }
    if (!root)
        root = json_object();
    json_t *qc = p->mod->config(p);
    char *s = NULL, *qt = NULL;
    int rc = QF_OK, had_qc = root && json_object_get(root, "quantization_config") != NULL;
    /* MLX: mlx-lm reads "quantization" (and writes it again as "quantization_config") */
    const int mlx = !strcmp(p->mod->name, "mlx");
    const int had_q = mlx && root && json_object_get(root, "quantization") != NULL;
    if (!root || !qc || json_object_set(root, "quantization_config", qc) ||
        (mlx && json_object_set(root, "quantization", qc))) {
        rc = qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory");
        goto done;
    }
    /* transformers' PretrainedConfig.to_json_string: sorted keys, indent 2, final newline;
     * nested under quantization_config, so indented by 2 more */
    qt = json_dumps(qc, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (!qt) {
        rc = qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory");
        goto done;
    }
    size_t nl = 0;
    for (const char *c = qt; *c; c++)
        nl += *c == '\n';
    char *qi = malloc(strlen(qt) + 2 * nl + 1);
    if (!qi) {
        rc = qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory");
        goto done;
    }
    size_t o = 0;
    for (const char *c = qt; *c; c++) {
        qi[o++] = *c;
        if (*c == '\n')
            qi[o++] = ' ', qi[o++] = ' ';
    }
    qi[o] = '\0';
    free(qt);
    qt = qi;
    if (cfg_path && !had_qc && !mlx) {
        s = splice_config(cfg_path, qt);
    } else if (cfg_path && !had_qc && !had_q) { /* both keys appended */
        char *two = malloc(2 * strlen(qt) + 32);
        if (two) {
            sprintf(two, "%s,\n  \"quantization\": %s", qt, qt);
            s = splice_config(cfg_path, two);
            free(two);
        }
    }
    if (!s) {
        json_object_del(root, "quantization_config");
        s = json_object_size(root) ? json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
        size_t sl = s ? strlen(s) : 0;
        char *s2 = malloc(sl + strlen(qt) + 64);
        if (!s2) {
            rc = qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory");
            goto done;
        }
        if (s) { /* every key, then quantization_config last, as the splice does */
            memcpy(s2, s, sl - 2); /* drop "\n}" */
            sprintf(s2 + sl - 2, ",\n  \"quantization_config\": %s\n}\n", qt);
        } else {
            sprintf(s2, "{\n  \"quantization_config\": %s\n}\n", qt);
        }
        free(s);
        s = s2;
    }
    rc = write_small(dir, "config.json", s, strlen(s), no_fsync, err);
    if (!rc && p->mod->sidecar) {
        /* AutoGPTQ's save_pretrained: json.dump(indent=2), no final newline */
        char *q = json_dumps(qc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (!q)
            rc = qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory");
        else
            rc = write_small(dir, p->mod->sidecar, q, strlen(q), no_fsync, err);
        free(q);
    }
done:
    free(s);
    free(qt);
    json_decref(qc);
    json_decref(root);
    return rc;
}

static int kv_str(struct qf_writer *w, const char *k, const char *v, struct qf_error *err)
{
    struct qf_value val;
    memset(&val, 0, sizeof val);
    val.type = QF_V_STRING;
    val.v.s.ptr = v;
    val.v.s.len = strlen(v);
    return qf_writer_add_kv(w, k, &val, err);
}

static int st_metadata(const struct qf_lwrite_plan *p, struct qf_writer *w, struct qf_error *err)
{
    int rc = kv_str(w, "format", "pt", err);
    if (rc || strcmp(p->mod->name, "gptq"))
        return rc;
    char b[32], g[32];
    snprintf(b, sizeof b, "%d", p->bits);
    snprintf(g, sizeof g, "%lld", (long long)p->G);
    rc = kv_str(w, "gptq_bits", b, err);
    rc = rc ? rc : kv_str(w, "gptq_group_size", g, err);
    rc = rc ? rc : kv_str(w, "gptq_desc_act", p->any_act ? "True" : "False", err);
    rc = rc ? rc : kv_str(w, "gptq_damp_percent", "0.01", err);
    rc = rc ? rc : kv_str(w, "gptq_checkpoint_format", p->v1 == 0 ? "gptq_v2" : "gptq", err);
    rc = rc ? rc : kv_str(w, "gptq_quant_method", "gptq", err);
    return rc;
}

/* GPTQ AUTO / V1 with asymmetric zero points: find whether any zero point is 0 */
static int prepass(struct lw_run *R, struct qf_error *err)
{
    struct qf_lwrite_plan *p = R->p;
    for (size_t i = 0; i < p->n; i++) {
        struct qf_lwrite_item *it = &p->it[i];
        if (!it->quantized)
            continue;
        struct lw_layer L;
        int rc = encode_layer(R, it, &L, 0, err);
        uint64_t nz = 0;
        for (uint64_t k = 0; !rc && k < L.ng * L.out; k++)
            nz += L.zero[k] == 0;
        layer_free(&L);
        if (rc)
            return rc;
        if (nz && p->o.gptq_format == QF_LW_GPTQ_V1)
            return qfi_error(err, QF_EUNSUPPORTED, 0, NULL, -1,
                             "'%s': %llu asymmetric zero points are 0, which GPTQ v1 cannot "
                             "store (gptq_v2 can: use the v2 format, or symmetric)",
                             it->name, (unsigned long long)nz);
        if (nz && p->v1 != 0) {
            p->v1 = 0;
            if (note(p, "'%s': %llu zero points are 0, which GPTQ v1 cannot store: writing "
                        "checkpoint_format gptq_v2", it->name, (unsigned long long)nz))
                return qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory");
        }
    }
    if (p->v1 < 0)
        p->v1 = 1;
    make_scheme(p);
    return QF_OK;
}

int qf_lwrite_run(struct qf_lwrite_plan *p, const char *dir, const struct qf_lwrite_run_opts *ro,
                  struct qf_error *err)
{
    struct qf_lwrite_run_opts dflt;
    if (!ro) {
        memset(&dflt, 0, sizeof dflt);
        ro = &dflt;
    }
    if (!p || !dir || !*dir)
        return qfi_error(err, QF_EINVAL, 0, NULL, -1, "qf_lwrite_run: bad argument");
    struct stat st;
    int mk = stat(dir, &st) != 0;
    if (mk && errno != ENOENT)
        return qfi_error(err, QF_EIO, errno, dir, -1, "cannot use the directory: %s",
                         strerror(errno));
    if (!mk && !S_ISDIR(st.st_mode))
        return qfi_error(err, QF_EIO, ENOTDIR, dir, -1, "not a directory");
    const char *files[] = {"model.safetensors", "config.json", p->mod->sidecar};
    char path[4096];
    for (size_t k = 0; k < 3 && !ro->force; k++) {
        if (!files[k])
            continue;
        int rc = pathcat(path, sizeof path, dir, files[k], err);
        if (rc)
            return rc;
        if (access(path, F_OK) == 0)
            return qfi_error(err, QF_EIO, EEXIST, path, -1, "exists");
    }
    struct lw_run R;
    memset(&R, 0, sizeof R);
    R.p = p;
    R.ro = ro;
    R.chunk = ro->chunk_elems ? ro->chunk_elems : (1u << 20);
    for (size_t i = 0; i < p->n; i++)
        R.total += p->it[i].nbytes;
    int rc = QF_OK;
    if (p->v1 < 0 || (p->o.gptq_format == QF_LW_GPTQ_V1 && !p->sym))
        rc = prepass(&R, err);
    if (!rc && mk && mkdir(dir, 0777) != 0) /* only now: a refused model leaves nothing */
        rc = qfi_error(err, QF_EIO, errno, dir, -1, "cannot create the directory: %s",
                       strerror(errno));
    struct qf_writer *w = NULL;
    struct qf_writer_opts wo;
    memset(&wo, 0, sizeof wo);
    wo.keep_order = 1;
    wo.no_fsync = ro->no_fsync;
    if (!rc)
        rc = pathcat(path, sizeof path, dir, "model.safetensors", err);
    if (!rc)
        rc = qf_writer_new("safetensors", path, &wo, &w, err);
    if (!rc)
        rc = st_metadata(p, w, err);
    for (size_t i = 0; !rc && i < p->n; i++) {
        const struct qf_lwrite_item *it = &p->it[i];
        if (it->quantized) {
            char base[QFI_MAX_NAME + 8];
            size_t bl = strlen(it->name) - 7; /* ".weight" */
            if (bl >= sizeof base)
                bl = sizeof base - 1;
            memcpy(base, it->name, bl);
            base[bl] = '\0';
            rc = p->mod->declare(p, base, it->shape[0], it->shape[1], w, err);
        } else {
            rc = qf_writer_add_tensor(w, it->name, it->out_type, it->n_dims, it->shape, err);
        }
    }
    if (!rc)
        rc = qf_writer_begin_data(w, err);
    for (size_t i = 0; !rc && i < p->n; i++) {
        struct qf_lwrite_item *it = &p->it[i];
        if (!it->quantized) {
            rc = write_plain(&R, it, w, err);
            continue;
        }
        const struct lw_repack *rp = find_repack(p, it->src);
        if (rp) {
            rc = rp->run(p, it->src, w, err);
            rc = rc ? rc : tick(&R, it->nbytes, err);
            continue;
        }
        struct lw_layer L;
        rc = encode_layer(&R, it, &L, 1, err);
        if (!rc)
            rc = p->mod->write(p, &L, w, err);
        layer_free(&L);
        rc = rc ? rc : tick(&R, it->nbytes, err);
    }
    if (!rc)
        rc = qf_writer_commit(w, err);
    qf_writer_free(w);
    free(R.w);
    free(R.what);
    if (!rc)
        rc = write_configs(p, dir, ro->no_fsync, err);
    return rc;
}
