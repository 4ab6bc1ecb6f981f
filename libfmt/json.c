/* json.c - JSON side files (config.json, index.json, ...) as metadata records.
 * Parsing is jansson's; this file maps JSON values onto qf_value (see qf/model.h). */
#include "qf_int.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#define MAX_KEY 65536

int qfi_json_load_file(const char *path, void **out, struct qf_error *err)
{
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return qfi_error(err, QF_EIO, errno, path, -1, "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        return qfi_error(err, QF_EIO, errno, path, -1, "not a regular file");
    }
    if ((uint64_t)st.st_size > QFI_MAX_JSON_BYTES) {
        fclose(fp);
        return qfi_error(err, QF_ELIMIT, 0, path, -1, "JSON file of %llu bytes exceeds the %llu-byte cap",
                         (unsigned long long)st.st_size, (unsigned long long)QFI_MAX_JSON_BYTES);
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n ? n : 1);
    if (!buf) {
        fclose(fp);
        return qfi_error(err, QF_ENOMEM, ENOMEM, path, -1, "out of memory");
    }
    size_t got = fread(buf, 1, n, fp);
    fclose(fp);
    if (got != n) {
        free(buf);
        return qfi_error(err, QF_EIO, 0, path, -1, "short read");
    }
    json_error_t je;
    json_t *j = json_loadb(buf, n, JSON_REJECT_DUPLICATES, &je);
    free(buf);
    if (!j)
        return qfi_error(err, QF_EFORMAT, 0, path, je.position, "invalid JSON: %s (line %d)",
                         je.text, je.line);
    if (!json_is_object(j)) {
        json_decref(j);
        return qfi_error(err, QF_EFORMAT, 0, path, 0, "expected a JSON object at top level");
    }
    *out = j;
    return QF_OK;
}

/* A growable byte buffer for encoding arrays. */
struct buf {
    uint8_t *p;
    size_t len, cap;
    int oom;
};

static void put(struct buf *b, const void *d, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n > b->cap) {
        size_t nc = b->cap ? b->cap : 64;
        while (nc < b->len + n)
            nc *= 2;
        uint8_t *q = realloc(b->p, nc);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = nc;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void put64(struct buf *b, uint64_t v)
{
    uint8_t t[8];
    qfi_store_le64(t, v);
    put(b, t, 8);
}

static void put32(struct buf *b, uint32_t v)
{
    uint8_t t[4];
    qfi_store_le32(t, v);
    put(b, t, 4);
}

/* Element type for an array: one scalar type shared by all elements, nested arrays, or
 * STRING (each element as compact JSON text) for anything else. */
static int array_etype(const json_t *a)
{
    size_t n = json_array_size(a);
    if (n == 0)
        return QF_V_I64;
    int t = -1;
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(a, i);
        int et;
        switch (json_typeof(e)) {
        case JSON_INTEGER: et = QF_V_I64; break;
        case JSON_REAL: et = QF_V_F64; break;
        case JSON_TRUE: case JSON_FALSE: et = QF_V_BOOL; break;
        case JSON_STRING: et = QF_V_STRING; break;
        case JSON_ARRAY: et = QF_V_ARRAY; break;
        default: return -2; /* objects, null: JSON text */
        }
        if (t < 0)
            t = et;
        else if (t != et) {
            if ((t == QF_V_I64 && et == QF_V_F64) || (t == QF_V_F64 && et == QF_V_I64))
                t = QF_V_F64;
            else
                return -2;
        }
    }
    return t;
}

static void encode_elems(struct buf *b, const json_t *a, int et, int depth);

static void encode_array_value(struct buf *b, const json_t *a, int depth)
{
    int et = array_etype(a);
    if (et == -2 || depth >= QFI_MAX_ARRAY_DEPTH - 1)
        et = QF_V_STRING;
    put32(b, (uint32_t)et);
    put64(b, json_array_size(a));
    encode_elems(b, a, et, depth);
}

static void encode_elems(struct buf *b, const json_t *a, int et, int depth)
{
    size_t n = json_array_size(a);
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(a, i);
        switch (et) {
        case QF_V_I64: put64(b, (uint64_t)json_integer_value(e)); break;
        case QF_V_F64: {
            double d = json_number_value(e);
            uint64_t u;
            memcpy(&u, &d, 8);
            put64(b, u);
            break;
        }
        case QF_V_BOOL: {
            uint8_t v = json_is_true(e);
            put(b, &v, 1);
            break;
        }
        case QF_V_ARRAY: encode_array_value(b, e, depth + 1); break;
        default: {
            if (json_is_string(e)) {
                put64(b, json_string_length(e));
                put(b, json_string_value(e), json_string_length(e));
            } else {
                char *s = json_dumps(e, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
                if (!s) {
                    b->oom = 1;
                    return;
                }
                put64(b, strlen(s));
                put(b, s, strlen(s));
                free(s);
            }
        }
        }
    }
}

static int add_value(struct qf_model *m, const char *key, size_t klen, const json_t *v,
                     const char *origin, int file_index, struct qf_error *err)
{
    struct qf_kv kv;
    memset(&kv, 0, sizeof kv);
    kv.origin = origin;
    kv.file_index = file_index;
    char *k = qfi_model_strndup(m, key, klen);
    if (!k)
        return qfi_error(err, QF_ENOMEM, ENOMEM, origin, -1, "out of memory");
    kv.key.ptr = k;
    kv.key.len = klen;
    switch (json_typeof(v)) {
    case JSON_INTEGER:
        kv.val.type = QF_V_I64;
        kv.val.v.i = (int64_t)json_integer_value(v);
        break;
    case JSON_REAL:
        kv.val.type = QF_V_F64;
        kv.val.v.f = json_real_value(v);
        break;
    case JSON_TRUE: case JSON_FALSE:
        kv.val.type = QF_V_BOOL;
        kv.val.v.u = json_is_true(v);
        kv.val.raw_bool = (uint8_t)kv.val.v.u;
        break;
    case JSON_NULL:
        kv.val.type = QF_V_NULL;
        break;
    case JSON_STRING: {
        char *s = qfi_model_strndup(m, json_string_value(v), json_string_length(v));
        if (!s)
            return qfi_error(err, QF_ENOMEM, ENOMEM, origin, -1, "out of memory");
        kv.val.type = QF_V_STRING;
        kv.val.v.s.ptr = s;
        kv.val.v.s.len = json_string_length(v);
        break;
    }
    case JSON_ARRAY: {
        struct buf b = {0};
        encode_array_value(&b, v, 0);
        if (b.oom || !b.p) {
            free(b.p);
            if (!b.oom) { /* cannot happen: header always written */
                return qfi_error(err, QF_EINTERNAL, 0, origin, -1, "empty array encoding");
            }
            return qfi_error(err, QF_ENOMEM, ENOMEM, origin, -1, "out of memory");
        }
        if (qfi_model_keep(m, b.p))
            return qfi_error(err, QF_ENOMEM, ENOMEM, origin, -1, "out of memory");
        if (!qfi_value_decode(QF_V_ARRAY, b.p, b.len, 0, 0, &kv.val))
            return qfi_error(err, QF_EINTERNAL, 0, origin, -1, "array encoding of '%s'", k);
        break;
    }
    default:
        return qfi_error(err, QF_EINTERNAL, 0, origin, -1, "unexpected JSON value");
    }
    return qfi_model_add_kv(m, &kv, err);
}

static int add_object(struct qf_model *m, const json_t *obj, char *key, size_t klen,
                      const char *origin, int file_index, int depth, struct qf_error *err)
{
    const char *k;
    const json_t *v;
    if (depth > 64)
        return qfi_error(err, QF_ELIMIT, 0, origin, -1, "objects nested deeper than 64 levels");
    json_object_foreach((json_t *)obj, k, v) {
        size_t kl = strlen(k);
        size_t nl = klen + (klen ? 1 : 0) + kl;
        if (nl >= MAX_KEY)
            return qfi_error(err, QF_ELIMIT, 0, origin, -1, "key longer than %d bytes", MAX_KEY);
        if (klen)
            key[klen] = '.';
        memcpy(key + klen + (klen ? 1 : 0), k, kl);
        key[nl] = '\0';
        int rc = json_is_object(v) && json_object_size(v) > 0
                     ? add_object(m, v, key, nl, origin, file_index, depth + 1, err)
                     : json_is_object(v) ? QF_OK /* empty object: nothing to record */
                                         : add_value(m, key, nl, v, origin, file_index, err);
        key[klen] = '\0';
        if (rc)
            return rc;
    }
    return QF_OK;
}

int qfi_model_add_json(struct qf_model *m, const void *json_obj, const char *prefix,
                       const char *origin, int file_index, struct qf_error *err)
{
    const json_t *obj = json_obj;
    if (!json_is_object(obj))
        return qfi_error(err, QF_EFORMAT, 0, origin, -1, "expected a JSON object");
    char *key = malloc(MAX_KEY);
    if (!key)
        return qfi_error(err, QF_ENOMEM, ENOMEM, origin, -1, "out of memory");
    size_t pl = prefix ? strlen(prefix) : 0;
    if (pl >= MAX_KEY / 2) {
        free(key);
        return qfi_error(err, QF_EINVAL, 0, origin, -1, "prefix too long");
    }
    memcpy(key, prefix ? prefix : "", pl + 1);
    int rc = add_object(m, obj, key, pl, origin, file_index, 0, err);
    free(key);
    return rc;
}
