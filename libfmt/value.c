/* value.c - metadata values: decoding GGUF-encoded scalars and array elements. */
#include "qf_int.h"

static const char *const vtype_names[QF_V_COUNT] = {
    "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64",
    "null",
};

const char *qf_vtype_name(int t)
{
    return (t >= 0 && t < QF_V_COUNT) ? vtype_names[t] : "?";
}

size_t qfi_vtype_size(int t)
{
    switch (t) {
    case QF_V_U8: case QF_V_I8: case QF_V_BOOL: return 1;
    case QF_V_U16: case QF_V_I16: return 2;
    case QF_V_U32: case QF_V_I32: case QF_V_F32: return 4;
    case QF_V_U64: case QF_V_I64: case QF_V_F64: return 8;
    default: return 0;
    }
}

static uint64_t load(const uint8_t *p, size_t n, unsigned enc)
{
    int be = enc & QFI_ENC_BE;
    switch (n) {
    case 1: return p[0];
    case 2: return be ? qfi_load_be16(p) : qfi_load_le16(p);
    case 4: return be ? qfi_load_be32(p) : qfi_load_le32(p);
    default: return be ? qfi_load_be64(p) : qfi_load_le64(p);
    }
}

uint64_t qfi_value_decode(int t, const uint8_t *p, uint64_t avail, unsigned enc, int depth,
                          struct qf_value *out)
{
    memset(out, 0, sizeof *out);
    out->type = t;
    size_t sz = qfi_vtype_size(t);
    if (sz) {
        if (avail < sz)
            return 0;
        uint64_t raw = load(p, sz, enc);
        switch (t) {
        case QF_V_U8: case QF_V_U16: case QF_V_U32: case QF_V_U64: out->v.u = raw; break;
        case QF_V_BOOL: out->raw_bool = (uint8_t)raw; out->v.u = raw != 0; break;
        case QF_V_I8: out->v.i = (int8_t)raw; break;
        case QF_V_I16: out->v.i = (int16_t)raw; break;
        case QF_V_I32: out->v.i = (int32_t)raw; break;
        case QF_V_I64: out->v.i = (int64_t)raw; break;
        case QF_V_F32: {
            uint32_t b = (uint32_t)raw;
            float f;
            memcpy(&f, &b, 4);
            out->v.f = f;
            break;
        }
        case QF_V_F64: {
            double d;
            memcpy(&d, &raw, 8);
            out->v.f = d;
            break;
        }
        }
        return sz;
    }
    size_t lw = (enc & QFI_ENC_LEN32) ? 4 : 8;
    if (t == QF_V_STRING) {
        if (avail < lw)
            return 0;
        uint64_t len = load(p, lw, enc);
        if (len > avail - lw)
            return 0;
        out->v.s.ptr = (const char *)p + lw;
        out->v.s.len = len;
        return lw + len;
    }
    if (t == QF_V_ARRAY) {
        if (depth >= QFI_MAX_ARRAY_DEPTH || avail < 4 + lw)
            return 0;
        uint32_t et = (uint32_t)load(p, 4, enc);
        uint64_t count = load(p + 4, lw, enc);
        if (et >= QF_V_NULL)
            return 0;
        uint64_t pos = 4 + lw;
        uint64_t esz = qfi_vtype_size((int)et);
        if (esz) {
            uint64_t n;
            if (!qfi_mul_ok(count, esz, &n) || n > avail - pos)
                return 0;
            pos += n;
        } else {
            /* every element takes at least lw bytes: reject absurd counts before walking */
            if (count > (avail - pos) / lw)
                return 0;
            for (uint64_t i = 0; i < count; i++) {
                struct qf_value tmp;
                uint64_t used = qfi_value_decode((int)et, p + pos, avail - pos, enc, depth + 1, &tmp);
                if (!used)
                    return 0;
                pos += used;
            }
        }
        out->v.a.etype = (int)et;
        out->v.a.count = count;
        out->v.a.data = p + 4 + lw;
        out->v.a.nbytes = pos - 4 - lw;
        out->v.a.enc = enc;
        return pos;
    }
    return 0;
}

void qf_array_iter_init(struct qf_array_iter *it, const struct qf_array *a)
{
    it->a = a;
    it->i = 0;
    it->pos = 0;
}

int qf_array_iter_next(struct qf_array_iter *it, struct qf_value *out)
{
    const struct qf_array *a = it->a;
    if (it->i >= a->count || it->pos > a->nbytes)
        return 0;
    uint64_t used = qfi_value_decode(a->etype, a->data + it->pos, a->nbytes - it->pos, a->enc, 1,
                                     out);
    if (!used)
        return 0; /* validated at open: cannot happen */
    it->pos += used;
    it->i++;
    return 1;
}

int qf_array_get(const struct qf_array *a, uint64_t i, struct qf_value *out)
{
    if (i >= a->count)
        return QF_ENOTFOUND;
    size_t esz = qfi_vtype_size(a->etype);
    if (esz) {
        qfi_value_decode(a->etype, a->data + i * esz, esz, a->enc, 1, out);
        return QF_OK;
    }
    struct qf_array_iter it;
    qf_array_iter_init(&it, a);
    for (uint64_t k = 0; k <= i; k++)
        if (!qf_array_iter_next(&it, out))
            return QF_EFORMAT;
    return QF_OK;
}

int qf_value_as_i64(const struct qf_value *v, int64_t *out)
{
    switch (v->type) {
    case QF_V_U8: case QF_V_U16: case QF_V_U32: case QF_V_U64: case QF_V_BOOL:
        if (v->v.u > (uint64_t)INT64_MAX)
            return QF_ELIMIT;
        *out = (int64_t)v->v.u;
        return QF_OK;
    case QF_V_I8: case QF_V_I16: case QF_V_I32: case QF_V_I64:
        *out = v->v.i;
        return QF_OK;
    case QF_V_F32: case QF_V_F64:
        if (!(v->v.f >= -9.2e18 && v->v.f <= 9.2e18) || v->v.f != (double)(int64_t)v->v.f)
            return QF_EINVAL;
        *out = (int64_t)v->v.f;
        return QF_OK;
    default:
        return QF_EINVAL;
    }
}

int qf_value_as_u64(const struct qf_value *v, uint64_t *out)
{
    switch (v->type) {
    case QF_V_U8: case QF_V_U16: case QF_V_U32: case QF_V_U64: case QF_V_BOOL:
        *out = v->v.u;
        return QF_OK;
    default: {
        int64_t i;
        int rc = qf_value_as_i64(v, &i);
        if (rc)
            return rc;
        if (i < 0)
            return QF_EINVAL;
        *out = (uint64_t)i;
        return QF_OK;
    }
    }
}

int qf_value_as_f64(const struct qf_value *v, double *out)
{
    switch (v->type) {
    case QF_V_F32: case QF_V_F64: *out = v->v.f; return QF_OK;
    case QF_V_U8: case QF_V_U16: case QF_V_U32: case QF_V_U64: case QF_V_BOOL:
        *out = (double)v->v.u;
        return QF_OK;
    case QF_V_I8: case QF_V_I16: case QF_V_I32: case QF_V_I64:
        *out = (double)v->v.i;
        return QF_OK;
    default: return QF_EINVAL;
    }
}
