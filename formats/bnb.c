/* bnb.c - bitsandbytes 4-bit layout (NF4 / FP4, optional double quant) inside safetensors.
 * Spec: bnb-compressed-mlx.md section (a.1).
 *
 * Per quantized layer P (Linear4bit._save_to_state_dict, QuantState.as_dict(packed=True)):
 *   P.weight                                U8 [ceil(n/2), 1]   4-bit codes of the row-major
 *                                           flattened [out, in] weight, element 2j in the high
 *                                           nibble of byte j, 2j+1 in the low nibble
 *   P.weight.absmax                         F32 [nb] (plain) or U8 [nb] (double quant),
 *                                           nb = ceil(n / blocksize)
 *   P.weight.quant_map                      F32 [16]   value = quant_map[code] * absmax[block]
 *   P.weight.nested_absmax                  F32 [ceil(nb / nested_blocksize)]  double quant
 *   P.weight.nested_quant_map               F32 [256]  double quant (8-bit dynamic map)
 *   P.weight.quant_state.bitsandbytes__nf4  U8 [len]   JSON: quant_type, blocksize, dtype,
 *     (or __fp4)                            shape, [nested_blocksize, nested_dtype, nested_offset]
 * Logical tensor "P.weight" [out, in]; parts: QWEIGHT = weight, SCALES = absmax, AUX0 =
 * quant_map, AUX1 = nested_absmax, AUX2 = nested_quant_map, AUX3 = quant_state. group_size
 * holds the blocksize, counted in flat elements (blocks may span rows).
 *
 * Decoded as bitsandbytes' default backend does (dequantize_4bit / dequantize_blockwise):
 *   double quant: absmax[b] = f32(f32(nested_quant_map[u8[b]] * nested_absmax[b / nbs]) + offset)
 *   value[k]    = f32(quant_map[code(k)] * absmax[k / blocksize]), then cast to quant_state dtype
 * Every operation is one f32 rounding, so the result is bit-identical to bitsandbytes'.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kern/kern_ref.h"
#include "layout_int.h"

#define QS_SUFFIX ".quant_state.bitsandbytes__"
#define QS_MAX_BYTES 4096 /* the packed JSON is ~170 bytes */

static const char *fpath(struct qf_model *m, const struct qf_tensor *t)
{
    return qf_model_file(m, (size_t)t->file_index)->path;
}

/* ---------------------------------------------------------------------------------------
 * Code books */
static const float nf4_table[16] = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
    -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
    0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
    0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f,
};
/* bnb's own FP4 (sign bit 3), before division by the largest magnitude 12. Code 8 is +0.0:
 * get_4bit_type lists it as the Python integer -0, which is 0 (the stored quant_maps agree). */
static const float fp4_raw[16] = {0.0f, 0.0625f,  8.0f,  12.0f,  4.0f,  6.0f,  2.0f,  3.0f,
                                  0.0f, -0.0625f, -8.0f, -12.0f, -4.0f, -6.0f, -2.0f, -3.0f};

void qfi_bnb_code4(int fp4, float code[16])
{
    for (int k = 0; k < 16; k++)
        code[k] = fp4 ? fp4_raw[k] / 12.0f : nf4_table[k]; /* get_4bit_type: data.div_(max) */
}

/* create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8), the float32 values
 * bitsandbytes stores as nested_quant_map (torch 1.13 CPU). Per the spec: for i = 0..6 the 2^i
 * midpoints of linspace(0.1, 1, 2^i + 1) times 10^(i-6), both signs, plus 0 and 1, sorted.
 * Generating them in C does not reproduce torch's float32 linspace in every last bit (12 of
 * the 256 values came out 1-2 ulp off), so the stored values are carried over as constants. */
static const float dynamic_map[256] = {
    -0x1.fc6666p-1f, -0x1.f53332p-1f, -0x1.eep-1f, -0x1.e6ccccp-1f,
    -0x1.df9998p-1f, -0x1.d86666p-1f, -0x1.d13334p-1f, -0x1.cap-1f,
    -0x1.c2ccccp-1f, -0x1.bb9998p-1f, -0x1.b46666p-1f, -0x1.ad3332p-1f,
    -0x1.a6p-1f, -0x1.9eccccp-1f, -0x1.979998p-1f, -0x1.906666p-1f,
    -0x1.893334p-1f, -0x1.82p-1f, -0x1.7acccep-1f, -0x1.73999ap-1f,
    -0x1.6c6668p-1f, -0x1.653334p-1f, -0x1.5ep-1f, -0x1.56cccep-1f,
    -0x1.4f999ap-1f, -0x1.486666p-1f, -0x1.413334p-1f, -0x1.3ap-1f,
    -0x1.32ccccp-1f, -0x1.2b999ap-1f, -0x1.246668p-1f, -0x1.1d3334p-1f,
    -0x1.16p-1f, -0x1.0eccccp-1f, -0x1.07999ap-1f, -0x1.006666p-1f,
    -0x1.f26668p-2f, -0x1.e4p-2f, -0x1.d59998p-2f, -0x1.c73334p-2f,
    -0x1.b8ccccp-2f, -0x1.aa6664p-2f, -0x1.9cp-2f, -0x1.8d9998p-2f,
    -0x1.7f3334p-2f, -0x1.70ccccp-2f, -0x1.626664p-2f, -0x1.54p-2f,
    -0x1.459998p-2f, -0x1.373334p-2f, -0x1.28ccccp-2f, -0x1.1a6668p-2f,
    -0x1.0cp-2f, -0x1.fb3334p-3f, -0x1.de6668p-3f, -0x1.c1999ap-3f,
    -0x1.a4ccccp-3f, -0x1.88p-3f, -0x1.6b3332p-3f, -0x1.4e6666p-3f,
    -0x1.31999ap-3f, -0x1.14ccccp-3f, -0x1.fp-4f, -0x1.b66668p-4f,
    -0x1.93d70ap-4f, -0x1.8851eap-4f, -0x1.7ccccep-4f, -0x1.7147aep-4f,
    -0x1.65c29p-4f, -0x1.5a3d7p-4f, -0x1.4eb85p-4f, -0x1.433334p-4f,
    -0x1.37ae14p-4f, -0x1.2c28f6p-4f, -0x1.20a3d6p-4f, -0x1.151ebap-4f,
    -0x1.09999ap-4f, -0x1.fc28f4p-5f, -0x1.e51ebap-5f, -0x1.ce147ap-5f,
    -0x1.b70a3ep-5f, -0x1.ap-5f, -0x1.88f5c2p-5f, -0x1.71eb86p-5f,
    -0x1.5ae146p-5f, -0x1.43d70ap-5f, -0x1.2ccccep-5f, -0x1.15c28ep-5f,
    -0x1.fd70a4p-6f, -0x1.cf5c26p-6f, -0x1.a147aep-6f, -0x1.733334p-6f,
    -0x1.451eb8p-6f, -0x1.170a3ep-6f, -0x1.d1eb86p-7f, -0x1.75c29p-7f,
    -0x1.3e76c8p-7f, -0x1.2c083p-7f, -0x1.19999ap-7f, -0x1.072b02p-7f,
    -0x1.e978d4p-8f, -0x1.c49ba6p-8f, -0x1.9fbe76p-8f, -0x1.7ae148p-8f,
    -0x1.56041ap-8f, -0x1.3126e8p-8f, -0x1.0c49bap-8f, -0x1.ced914p-9f,
    -0x1.851eb8p-9f, -0x1.3b645ap-9f, -0x1.e353f8p-10f,
    -0x1.4fdf3ap-10f, -0x1.eecbfep-11f, -0x1.b3d07cp-11f,
    -0x1.78d5p-11f, -0x1.3dd982p-11f, -0x1.02de02p-11f,
    -0x1.8fc506p-12f, -0x1.19ce0ap-12f, -0x1.47ae16p-13f,
    -0x1.743e96p-14f, -0x1.15df66p-14f, -0x1.6f0068p-15f,
    -0x1.64840cp-16f, -0x1.040bfep-17f, -0x1.b43528p-19f,
    -0x1.27476ep-21f, 0.0f, 0x1.27476ep-21f, 0x1.b43528p-19f,
    0x1.040bfep-17f, 0x1.64840cp-16f, 0x1.6f0068p-15f, 0x1.15df66p-14f,
    0x1.743e96p-14f, 0x1.47ae16p-13f, 0x1.19ce0ap-12f, 0x1.8fc506p-12f,
    0x1.02de02p-11f, 0x1.3dd982p-11f, 0x1.78d5p-11f, 0x1.b3d07cp-11f,
    0x1.eecbfep-11f, 0x1.4fdf3ap-10f, 0x1.e353f8p-10f, 0x1.3b645ap-9f,
    0x1.851eb8p-9f, 0x1.ced914p-9f, 0x1.0c49bap-8f, 0x1.3126e8p-8f,
    0x1.56041ap-8f, 0x1.7ae148p-8f, 0x1.9fbe76p-8f, 0x1.c49ba6p-8f,
    0x1.e978d4p-8f, 0x1.072b02p-7f, 0x1.19999ap-7f, 0x1.2c083p-7f,
    0x1.3e76c8p-7f, 0x1.75c29p-7f, 0x1.d1eb86p-7f, 0x1.170a3ep-6f,
    0x1.451eb8p-6f, 0x1.733334p-6f, 0x1.a147aep-6f, 0x1.cf5c26p-6f,
    0x1.fd70a4p-6f, 0x1.15c28ep-5f, 0x1.2ccccep-5f, 0x1.43d70ap-5f,
    0x1.5ae146p-5f, 0x1.71eb86p-5f, 0x1.88f5c2p-5f, 0x1.ap-5f,
    0x1.b70a3ep-5f, 0x1.ce147ap-5f, 0x1.e51ebap-5f, 0x1.fc28f4p-5f,
    0x1.09999ap-4f, 0x1.151ebap-4f, 0x1.20a3d6p-4f, 0x1.2c28f6p-4f,
    0x1.37ae14p-4f, 0x1.433334p-4f, 0x1.4eb85p-4f, 0x1.5a3d7p-4f,
    0x1.65c29p-4f, 0x1.7147aep-4f, 0x1.7ccccep-4f, 0x1.8851eap-4f,
    0x1.93d70ap-4f, 0x1.b66668p-4f, 0x1.fp-4f, 0x1.14ccccp-3f,
    0x1.31999ap-3f, 0x1.4e6666p-3f, 0x1.6b3332p-3f, 0x1.88p-3f,
    0x1.a4ccccp-3f, 0x1.c1999ap-3f, 0x1.de6668p-3f, 0x1.fb3334p-3f,
    0x1.0cp-2f, 0x1.1a6668p-2f, 0x1.28ccccp-2f, 0x1.373334p-2f,
    0x1.459998p-2f, 0x1.54p-2f, 0x1.626664p-2f, 0x1.70ccccp-2f,
    0x1.7f3334p-2f, 0x1.8d9998p-2f, 0x1.9cp-2f, 0x1.aa6664p-2f,
    0x1.b8ccccp-2f, 0x1.c73334p-2f, 0x1.d59998p-2f, 0x1.e4p-2f,
    0x1.f26668p-2f, 0x1.006666p-1f, 0x1.07999ap-1f, 0x1.0eccccp-1f,
    0x1.16p-1f, 0x1.1d3334p-1f, 0x1.246668p-1f, 0x1.2b999ap-1f,
    0x1.32ccccp-1f, 0x1.3ap-1f, 0x1.413334p-1f, 0x1.486666p-1f,
    0x1.4f999ap-1f, 0x1.56cccep-1f, 0x1.5ep-1f, 0x1.653334p-1f,
    0x1.6c6668p-1f, 0x1.73999ap-1f, 0x1.7acccep-1f, 0x1.82p-1f,
    0x1.893334p-1f, 0x1.906666p-1f, 0x1.979998p-1f, 0x1.9eccccp-1f,
    0x1.a6p-1f, 0x1.ad3332p-1f, 0x1.b46666p-1f, 0x1.bb9998p-1f,
    0x1.c2ccccp-1f, 0x1.cap-1f, 0x1.d13334p-1f, 0x1.d86666p-1f,
    0x1.df9998p-1f, 0x1.e6ccccp-1f, 0x1.eep-1f, 0x1.f53332p-1f,
    0x1.fc6666p-1f, 0x1p0f
};

void qfi_bnb_dynamic_map(float map[256])
{
    memcpy(map, dynamic_map, sizeof dynamic_map);
}

/* ---------------------------------------------------------------------------------------
 * Encoding (pure; for a layout writer) */

/* sorted order of a code book (stable: equal values keep their index order) and the
 * midpoints between neighbours, as bitsandbytes' default backend builds them */
static void code_bounds(const float *code, int ncode, int *order, float *bounds)
{
    for (int k = 0; k < ncode; k++) {
        int j = k;
        while (j > 0 && code[order[j - 1]] > code[k]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = k;
    }
    for (int k = 0; k + 1 < ncode; k++)
        bounds[k] = (code[order[k]] + code[order[k + 1]]) / 2.0f;
}

/* torch.bucketize(x, bounds, right=False): the number of bounds strictly below x */
static int bucketize(float x, const float *bounds, int nb)
{
    int lo = 0, hi = nb;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (bounds[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void qfi_bnb_quantize_blocks(const float *x, uint64_t n, uint64_t bs, const float *code,
                             int ncode, float *absmax, uint8_t *q)
{
    int order[256];
    float bounds[255];
    code_bounds(code, ncode, order, bounds);
    uint64_t nb = (n + bs - 1) / bs, full = n / bs;
    for (uint64_t b = 0; b < nb; b++) {
        uint64_t k0 = b * bs, k1 = k0 + bs < n ? k0 + bs : n;
        float am = 0.0f;
        for (uint64_t k = k0; k < k1; k++)
            am = fabsf(x[k]) > am ? fabsf(x[k]) : am;
        absmax[b] = am;
        float d = am > 1e-38f ? am : 1e-38f;
        float inv = 1.0f / d;
        for (uint64_t k = k0; k < k1; k++) {
            /* full blocks: x * (1 / absmax); the partial last block divides */
            float s = b < full ? x[k] * inv : x[k] / d;
            s = s < -1.0f ? -1.0f : s > 1.0f ? 1.0f : s;
            q[k] = (uint8_t)order[bucketize(s, bounds, ncode - 1)];
        }
    }
}

uint8_t qfi_bnb_code_of_zero(const float *code, int ncode)
{
    int order[256];
    float bounds[255];
    code_bounds(code, ncode, order, bounds);
    return (uint8_t)order[bucketize(0.0f, bounds, ncode - 1)];
}

void qfi_bnb_pack4(const uint8_t *codes, uint64_t n, uint8_t pad, uint8_t *bytes)
{
    for (uint64_t j = 0; j < n / 2; j++)
        bytes[j] = (uint8_t)((codes[2 * j] & 15u) << 4 | (codes[2 * j + 1] & 15u));
    if (n % 2)
        bytes[n / 2] = (uint8_t)((codes[n - 1] & 15u) << 4 | (pad & 15u));
}

float qfi_bnb_double_quant(const float *absmax, uint64_t nb, uint64_t nbs, const float map[256],
                           uint8_t *qabs, float *nested_absmax, float *scratch)
{
    /* offset = absmax.mean(): here the double-precision mean rounded to f32. This reproduces
     * the fixtures' nested_offset; torch's float32 reduction could differ in the last bit for
     * other inputs (the offset is stored, so decoding is unaffected) */
    double sum = 0.0;
    for (uint64_t b = 0; b < nb; b++)
        sum += (double)absmax[b];
    float offset = (float)(sum / (double)nb);
    for (uint64_t b = 0; b < nb; b++)
        scratch[b] = absmax[b] - offset;
    qfi_bnb_quantize_blocks(scratch, nb, nbs, map, 256, nested_absmax, qabs);
    return offset;
}

/* ---------------------------------------------------------------------------------------
 * quant_state JSON */
struct qstate {
    int fp4;
    int64_t blocksize;
    int dtype;             /* QF_TYPE_F16 / BF16 / F32 */
    uint64_t shape[2];
    int nested;
    int64_t nested_blocksize;
    float nested_offset;
};

static int dtype_of(const char *s)
{
    if (!strcmp(s, "float16"))
        return QF_TYPE_F16;
    if (!strcmp(s, "bfloat16"))
        return QF_TYPE_BF16;
    if (!strcmp(s, "float32"))
        return QF_TYPE_F32;
    return -1;
}

/* Parses the packed JSON; on failure writes a reason into why and returns -1. */
static int parse_qstate(const uint8_t *d, size_t len, struct qstate *qs, char *why, size_t wn)
{
    static const char *const known[] = {"quant_type",       "blocksize",    "dtype",
                                        "shape",            "nested_blocksize",
                                        "nested_dtype",     "nested_offset", NULL};
    memset(qs, 0, sizeof *qs);
    json_error_t je;
    json_t *j = json_loadb((const char *)d, len, JSON_REJECT_DUPLICATES, &je);
    int rc = -1;
    if (!j) {
        snprintf(why, wn, "invalid JSON: %.100s", je.text);
        return -1;
    }
    const char *key;
    json_t *v;
    if (!json_is_object(j)) {
        snprintf(why, wn, "not a JSON object");
        goto out;
    }
    json_object_foreach(j, key, v) {
        int ok = 0;
        for (int k = 0; known[k]; k++)
            ok |= !strcmp(key, known[k]);
        if (!ok) {
            snprintf(why, wn, "unknown key '%.64s'", key);
            goto out;
        }
    }
    v = json_object_get(j, "quant_type");
    if (!json_is_string(v) || (strcmp(json_string_value(v), "nf4") &&
                               strcmp(json_string_value(v), "fp4"))) {
        snprintf(why, wn, "quant_type must be \"nf4\" or \"fp4\"");
        goto out;
    }
    qs->fp4 = !strcmp(json_string_value(v), "fp4");
    v = json_object_get(j, "blocksize");
    qs->blocksize = json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
    if (qs->blocksize < 32 || qs->blocksize > 4096 || (qs->blocksize & (qs->blocksize - 1))) {
        snprintf(why, wn, "blocksize must be one of 32, 64, ..., 4096");
        goto out;
    }
    v = json_object_get(j, "dtype");
    qs->dtype = json_is_string(v) ? dtype_of(json_string_value(v)) : -1;
    if (qs->dtype < 0) {
        snprintf(why, wn, "dtype must be \"float16\", \"bfloat16\" or \"float32\"");
        goto out;
    }
    v = json_object_get(j, "shape");
    if (!json_is_array(v) || json_array_size(v) != 2) {
        snprintf(why, wn, "shape must be a list [out, in]");
        goto out;
    }
    for (size_t k = 0; k < 2; k++) {
        json_t *e = json_array_get(v, k);
        json_int_t x = json_is_integer(e) ? json_integer_value(e) : 0;
        if (x <= 0 || x >= (json_int_t)1 << 32) {
            snprintf(why, wn, "shape must be a list of two positive integers below 2^32");
            goto out;
        }
        qs->shape[k] = (uint64_t)x;
    }
    json_t *nb = json_object_get(j, "nested_blocksize"), *nd = json_object_get(j, "nested_dtype");
    json_t *no = json_object_get(j, "nested_offset");
    qs->nested = nb || nd || no;
    if (qs->nested) {
        qs->nested_blocksize = json_is_integer(nb) ? (int64_t)json_integer_value(nb) : 0;
        if (qs->nested_blocksize <= 0 || qs->nested_blocksize > 4096) {
            snprintf(why, wn, "nested_blocksize must be an integer in 1..4096");
            goto out;
        }
        if (!json_is_string(nd) || strcmp(json_string_value(nd), "float32")) {
            snprintf(why, wn, "nested_dtype must be \"float32\"");
            goto out;
        }
        double off = json_is_number(no) ? json_number_value(no) : NAN;
        if (!isfinite(off) || fabs(off) > 3.4e38) {
            snprintf(why, wn, "nested_offset must be a finite number");
            goto out;
        }
        qs->nested_offset = (float)off; /* torch.tensor(float(...)): the f32 value */
    }
    rc = 0;
out:
    json_decref(j);
    return rc;
}

static int load_qstate(struct qf_model *m, const struct qf_tensor *t, struct qstate *qs,
                       char *why, size_t wn, struct qf_error *err)
{
    const uint8_t *d;
    void *own;
    int rc = qfi_layout_load(m, t, &d, &own, err);
    if (rc)
        return rc;
    rc = parse_qstate(d, (size_t)t->nbytes, qs, why, wn) ? QF_EFORMAT : QF_OK;
    free(own);
    return rc;
}

/* ---------------------------------------------------------------------------------------
 * Scan */
static int scan_layer(struct qf_model *m, struct qf_layout *l, const struct qfi_qcfg *c,
                      const struct qf_tensor *qst, struct qf_error *err)
{
    char base[QFI_MAX_NAME + 16], nm[QFI_MAX_NAME + 48], why[160], scheme[64];
    const char *file = fpath(m, qst);
    const char *sfx = strstr(qst->name, QS_SUFFIX);
    size_t bl = (size_t)(sfx - qst->name);
    if (bl >= QFI_MAX_NAME)
        return qfi_error(err, QF_ELIMIT, 0, file, (int64_t)qst->offset, "name too long");
    memcpy(base, qst->name, bl);
    base[bl] = '\0'; /* "P.weight" */
    const char *tname = sfx + strlen(QS_SUFFIX);
#define BAD(t, ...) qfi_error(err, QF_EFORMAT, 0, file, (int64_t)(t)->offset, __VA_ARGS__)
    if (strcmp(tname, "nf4") && strcmp(tname, "fp4"))
        return BAD(qst, "bitsandbytes layer '%s': quant_state tensor suffix '%s' (expected "
                   "bitsandbytes__nf4 or bitsandbytes__fp4)", base, tname);
    if (qst->type != QF_TYPE_U8 || qst->n_dims != 1)
        return BAD(qst, "bitsandbytes layer '%s': quant_state must be a 1-D U8 tensor, found %s "
                   "with %d dims", base, qf_type_name(qst->type), qst->n_dims);
    if (qst->nbytes == 0 || qst->nbytes > QS_MAX_BYTES)
        return BAD(qst, "bitsandbytes layer '%s': quant_state of %llu bytes (1..%d)", base,
                   (unsigned long long)qst->nbytes, QS_MAX_BYTES);
    struct qstate qs;
    int rc = load_qstate(m, qst, &qs, why, sizeof why, err);
    if (rc == QF_EFORMAT)
        return BAD(qst, "bitsandbytes layer '%s': quant_state JSON malformed: %s", base, why);
    if (rc)
        return rc;
    if (qs.fp4 != !strcmp(tname, "fp4"))
        return BAD(qst, "bitsandbytes layer '%s': quant_state says quant_type \"%s\" but the "
                   "tensor is named bitsandbytes__%s", base, qs.fp4 ? "fp4" : "nf4", tname);
    const struct qf_tensor *p[QF_LPART_MAX] = {NULL};
    static const char *const part_sfx[QF_LPART_MAX] = {
        "", NULL, ".absmax", NULL, ".quant_map", ".nested_absmax", ".nested_quant_map", NULL};
    p[QF_LPART_AUX3] = qst;
    for (int k = 0; k < QF_LPART_MAX; k++) {
        if (!part_sfx[k])
            continue;
        snprintf(nm, sizeof nm, "%s%s", base, part_sfx[k]);
        p[k] = qf_model_find_tensor(m, nm);
        int needed = k != QF_LPART_AUX1 && k != QF_LPART_AUX2;
        if (!p[k] && (needed || qs.nested))
            return qfi_error(err, QF_EFORMAT, 0, file, -1,
                             "bitsandbytes layer '%s': missing tensor '%s'", base, nm);
        if (p[k] && !needed && !qs.nested)
            return BAD(p[k], "bitsandbytes layer '%s': tensor '%s' present but quant_state has "
                       "no nested_* keys", base, nm);
    }
    const struct qf_tensor *w = p[QF_LPART_QWEIGHT], *am = p[QF_LPART_SCALES];
    const struct qf_tensor *qm = p[QF_LPART_AUX0], *na = p[QF_LPART_AUX1];
    const struct qf_tensor *nq = p[QF_LPART_AUX2];
    uint64_t out = qs.shape[0], in = qs.shape[1], n = out * in; /* both < 2^32 */
    uint64_t bs = (uint64_t)qs.blocksize, nb = (n + bs - 1) / bs;
    if (w->type != QF_TYPE_U8)
        return qfi_error(err, w->type == QF_TYPE_I8 || w->type == QF_TYPE_F16 ||
                                      w->type == QF_TYPE_BF16 || w->type == QF_TYPE_F32
                                  ? QF_EUNSUPPORTED
                                  : QF_EFORMAT,
                         0, file, (int64_t)w->offset,
                         "bitsandbytes layer '%s': weight must be U8 (bnb_4bit_quant_storage "
                         "uint8), found %s", base, qf_type_name(w->type));
    if (w->nbytes != (n + 1) / 2)
        return BAD(w, "bitsandbytes layer '%s': weight has %llu bytes, quant_state shape [%llu, "
                   "%llu] needs %llu", base, (unsigned long long)w->nbytes,
                   (unsigned long long)out, (unsigned long long)in,
                   (unsigned long long)((n + 1) / 2));
    int am_type = qs.nested ? QF_TYPE_U8 : QF_TYPE_F32;
    if (am->type != am_type || am->n_dims != 1)
        return BAD(am, "bitsandbytes layer '%s': absmax must be a 1-D %s tensor%s, found %s with "
                   "%d dims", base, qf_type_name(am_type), qs.nested ? " (double quant)" : "",
                   qf_type_name(am->type), am->n_dims);
    if (am->nelem != nb)
        return BAD(am, "bitsandbytes layer '%s': absmax has %llu blocks, expected %llu (%llu "
                   "elements / blocksize %llu)", base, (unsigned long long)am->nelem,
                   (unsigned long long)nb, (unsigned long long)n, (unsigned long long)bs);
    if (qm->type != QF_TYPE_F32 || qm->nelem != 16 || qm->n_dims != 1)
        return BAD(qm, "bitsandbytes layer '%s': quant_map must be F32 [16], found %s with %llu "
                   "elements", base, qf_type_name(qm->type), (unsigned long long)qm->nelem);
    if (qs.nested) {
        uint64_t nbs = (uint64_t)qs.nested_blocksize, nnb = (nb + nbs - 1) / nbs;
        if (na->type != QF_TYPE_F32 || na->n_dims != 1 || na->nelem != nnb)
            return BAD(na, "bitsandbytes layer '%s': nested_absmax must be F32 [%llu], found %s "
                       "with %llu elements", base, (unsigned long long)nnb,
                       qf_type_name(na->type), (unsigned long long)na->nelem);
        if (nq->type != QF_TYPE_F32 || nq->n_dims != 1 || nq->nelem != 256)
            return BAD(nq, "bitsandbytes layer '%s': nested_quant_map must be F32 [256], found "
                       "%s with %llu elements", base, qf_type_name(nq->type),
                       (unsigned long long)nq->nelem);
    }
    /* the config describes how the model was quantized; the tensors are what loads */
    if (c && c->quant_type[0] && strcmp(c->quant_type, qs.fp4 ? "fp4" : "nf4")) {
        rc = qfi_layout_warn(l, "bitsandbytes layer '%s': %s says bnb_4bit_quant_type \"%s\", "
                             "quant_state says \"%s\"", base, c->origin, c->quant_type,
                             qs.fp4 ? "fp4" : "nf4");
        if (rc)
            return qfi_error(err, rc, 0, NULL, -1, "out of memory");
    }
    if (c && c->double_quant >= 0 && c->double_quant != qs.nested) {
        rc = qfi_layout_warn(l, "bitsandbytes layer '%s': %s says bnb_4bit_use_double_quant=%s, "
                             "the tensors are%s double-quantized", base, c->origin,
                             c->double_quant ? "true" : "false", qs.nested ? "" : " not");
        if (rc)
            return qfi_error(err, rc, 0, NULL, -1, "out of memory");
    }
#undef BAD
    snprintf(scheme, sizeof scheme, "bnb %s b%llu%s", qs.fp4 ? "fp4" : "nf4",
             (unsigned long long)bs, qs.nested ? " double-quant" : "");
    struct qf_ltensor lt;
    qfi_layout_fill_2d(&lt, NULL, QF_LAYOUT_BNB, out, in, p, 4, (int64_t)bs, 0, 1);
    return qfi_layout_add_claimed(l, &lt, base, scheme, err);
}

int qfi_layout_add_claimed(struct qf_layout *l, struct qf_ltensor *lt, const char *name,
                           const char *scheme, struct qf_error *err)
{
    lt->name = qfi_layout_strdup(l, name);
    lt->scheme = qfi_layout_strdup(l, scheme);
    if (!lt->name || !lt->scheme)
        return qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory");
    for (int k = 0; k < QF_LPART_MAX; k++)
        if (lt->parts[k])
            l->claimed[lt->parts[k]->index] = 1;
    return qfi_layout_add(l, lt, err);
}

static int ends_with(const char *s, size_t len, const char *suf)
{
    size_t b = strlen(suf);
    return len >= b && !memcmp(s + len - b, suf, b);
}

int qfi_bnb_scan(struct qf_model *m, struct qf_layout *l, const struct qfi_qcfg *c,
                 struct qf_error *err)
{
    if (c && c->load_in_8bit == 1 && c->load_in_4bit != 1)
        return qfi_error(err, QF_EUNSUPPORTED, 0, c->origin, -1,
                         "bitsandbytes 8-bit (LLM.int8, load_in_8bit) is not supported; only "
                         "4-bit NF4 / FP4");
    size_t n = qf_model_n_tensors(m);
    for (size_t i = 0; i < n; i++) {
        const struct qf_tensor *t = qf_model_tensor(m, i);
        if (strstr(t->name, QS_SUFFIX)) {
            int rc = scan_layer(m, l, c, t, err);
            if (rc)
                return rc;
        }
    }
    /* parts of a layer whose quant_state is missing */
    static const char *const orphan[] = {".weight.absmax", ".weight.quant_map",
                                         ".weight.nested_absmax", NULL};
    for (size_t i = 0; i < n; i++) {
        const struct qf_tensor *t = qf_model_tensor(m, i);
        for (int k = 0; orphan[k] && !l->claimed[i]; k++)
            if (ends_with(t->name, t->name_len, orphan[k]))
                return qfi_error(err, QF_EFORMAT, 0, fpath(m, t), (int64_t)t->offset,
                                 "bitsandbytes layer '%.*s': tensor '%s' without a "
                                 "'%.*s.quant_state.bitsandbytes__nf4' (or __fp4) tensor",
                                 (int)(t->name_len - strlen(orphan[k]) + 7), t->name, t->name,
                                 (int)(t->name_len - strlen(orphan[k]) + 7), t->name);
    }
    return QF_OK;
}

/* ---------------------------------------------------------------------------------------
 * Dequantize */
int qfi_bnb_dequant(struct qf_model *m, const struct qf_ltensor *t, uint64_t row0,
                    uint64_t nrows, float *out, struct qf_error *err)
{
    const struct qf_tensor *w = t->parts[QF_LPART_QWEIGHT], *am = t->parts[QF_LPART_SCALES];
    const struct qf_tensor *qm = t->parts[QF_LPART_AUX0], *na = t->parts[QF_LPART_AUX1];
    const struct qf_tensor *nq = t->parts[QF_LPART_AUX2], *qst = t->parts[QF_LPART_AUX3];
    char why[160];
    struct qstate qs;
    int rc = load_qstate(m, qst, &qs, why, sizeof why, err);
    if (rc == QF_EFORMAT)
        return qfi_error(err, QF_EFORMAT, 0, fpath(m, qst), (int64_t)qst->offset,
                         "'%s': quant_state JSON malformed: %s", t->name, why);
    if (rc)
        return rc;
    uint64_t in = t->shape[1], bs = (uint64_t)t->group_size, nb = am->nelem;
    if (qs.shape[0] != t->shape[0] || qs.shape[1] != in || (uint64_t)qs.blocksize != bs ||
        qs.nested != (na != NULL) ||
        (na && na->nelem != (nb + (uint64_t)qs.nested_blocksize - 1) /
                                (uint64_t)qs.nested_blocksize))
        return qfi_error(err, QF_EINTERNAL, 0, NULL, -1, "'%s': quant_state changed", t->name);
    const uint8_t *wd = NULL, *ad = NULL;
    void *ow = NULL, *oa = NULL;
    float *code = NULL, *absmax = NULL, *nabs = NULL, *nmap = NULL;
    rc = qfi_layout_load_f32(m, qm, &code, err);
    if (!rc)
        rc = qfi_layout_load(m, w, &wd, &ow, err);
    if (!rc && qs.nested) {
        rc = qfi_layout_load(m, am, &ad, &oa, err);
        if (!rc)
            rc = qfi_layout_load_f32(m, na, &nabs, err);
        if (!rc)
            rc = qfi_layout_load_f32(m, nq, &nmap, err);
        if (!rc && !(absmax = malloc(nb * sizeof *absmax)))
            rc = qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory");
        if (!rc) {
            uint64_t nbs = (uint64_t)qs.nested_blocksize;
            for (uint64_t b = 0; b < nb; b++) {
                float v = nmap[ad[b]] * nabs[b / nbs]; /* dequantize_blockwise, f32 */
                absmax[b] = v + qs.nested_offset;      /* absmax += offset */
            }
        }
    } else if (!rc) {
        rc = qfi_layout_load_f32(m, am, &absmax, err);
    }
    if (rc)
        goto done;
    for (uint64_t r = 0; r < nrows; r++) {
        uint64_t k0 = (row0 + r) * in;
        float *dst = out + r * in;
        for (uint64_t i = 0; i < in; i++) {
            uint64_t k = k0 + i;
            unsigned byte = wd[k / 2], q = k % 2 ? byte & 15u : byte >> 4;
            dst[i] = qfi_ct_round(qs.dtype, code[q] * absmax[k / bs]);
        }
    }
done:
    free(ow);
    free(oa);
    free(code);
    free(absmax);
    free(nabs);
    free(nmap);
    return rc;
}
