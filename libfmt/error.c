/* error.c - error records, message helpers and UTF-8 checks. */
#include "qf_int.h"

#include <stdio.h>

const char *qf_strerror(int code)
{
    switch (code) {
    case QF_OK: return "success";
    case QF_EINVAL: return "invalid argument";
    case QF_EIO: return "input/output error";
    case QF_ENOMEM: return "out of memory";
    case QF_EFORMAT: return "malformed input";
    case QF_EUNSUPPORTED: return "not supported";
    case QF_ELIMIT: return "limit exceeded";
    case QF_ENOTFOUND: return "not found";
    case QF_EINTERNAL: return "internal error";
    default: return "unknown error";
    }
}

void qf_error_clear(struct qf_error *err)
{
    if (!err)
        return;
    err->code = QF_OK;
    err->sys_errno = 0;
    err->offset = -1;
    err->file[0] = '\0';
    err->msg[0] = '\0';
}

int qfi_error(struct qf_error *err, int code, int sys_errno, const char *file, int64_t offset,
              const char *fmt, ...)
{
    if (!err)
        return code;
    err->code = code;
    err->sys_errno = sys_errno;
    err->offset = offset;
    snprintf(err->file, sizeof err->file, "%s", file ? file : "");
    size_t n = 0;
    if (file && *file)
        n += (size_t)snprintf(err->msg, sizeof err->msg, "%s: ", file);
    if (offset >= 0 && n < sizeof err->msg)
        n += (size_t)snprintf(err->msg + n, sizeof err->msg - n, "offset %lld: ", (long long)offset);
    if (n < sizeof err->msg) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg + n, sizeof err->msg - n, fmt, ap);
        va_end(ap);
    }
    return code;
}

const char *qfi_quote(char *buf, size_t n, const void *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = s;
    size_t o = 0;
    if (n == 0)
        return buf;
    for (size_t i = 0; i < len; i++) {
        unsigned c = p[i];
        char tmp[5];
        size_t k = 0;
        if (c == '\\' || c == '\'') {
            tmp[k++] = '\\';
            tmp[k++] = (char)c;
        } else if (c >= 0x20 && c < 0x7f) {
            tmp[k++] = (char)c;
        } else {
            tmp[k++] = '\\';
            tmp[k++] = 'x';
            tmp[k++] = hex[c >> 4];
            tmp[k++] = hex[c & 15];
        }
        if (o + k + 4 > n) { /* keep room for "..." and NUL */
            if (o + 4 <= n) {
                memcpy(buf + o, "...", 3);
                o += 3;
            }
            break;
        }
        memcpy(buf + o, tmp, k);
        o += k;
    }
    buf[o < n ? o : n - 1] = '\0';
    return buf;
}

int qfi_utf8_valid(const void *s, size_t len)
{
    const unsigned char *p = s, *end = p + len;
    while (p < end) {
        unsigned c = *p;
        if (c < 0x80) {
            p++;
            continue;
        }
        size_t need;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if ((size_t)(end - p) <= need)
            return 0;
        for (size_t i = 1; i <= need; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if ((need == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (need == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return 0;
        p += need + 1;
    }
    return 1;
}
