/* cli_msg.c - program name, display level and one-line messages. */
#include "cli_msg.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *prog = "qtools";
int cli_level = 2;

void cli_set_prog(const char *name)
{
    if (name && *name) {
        const char *slash = strrchr(name, '/');
        prog = slash ? slash + 1 : name;
    }
}

const char *cli_prog(void)
{
    return prog;
}

static void vmsg(const char *tag, const char *fmt, va_list ap)
{
    fflush(stdout); /* keep stdout and stderr in order on a shared terminal */
    fprintf(stderr, "%s: %s", prog, tag);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void cli_error(const char *fmt, ...)
{
    if (cli_level < 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    vmsg("", fmt, ap);
    va_end(ap);
}

void cli_warn(const char *fmt, ...)
{
    if (cli_level < 2)
        return;
    va_list ap;
    va_start(ap, fmt);
    vmsg("warning: ", fmt, ap);
    va_end(ap);
}

void cli_info(int level, const char *fmt, ...)
{
    if (cli_level < level)
        return;
    va_list ap;
    va_start(ap, fmt);
    vmsg("", fmt, ap);
    va_end(ap);
}

void cli_die(int status, const char *fmt, ...)
{
    if (cli_level >= 1) {
        va_list ap;
        va_start(ap, fmt);
        vmsg("", fmt, ap);
        va_end(ap);
    }
    exit(status);
}

void cli_usage_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg("", fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try '%s --help' for more information.\n", prog);
    exit(CLI_EXIT_TROUBLE);
}

/* Length of a valid UTF-8 sequence at p (at most avail bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t avail)
{
    unsigned c = p[0];
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
    if (avail < need + 1)
        return 0;
    for (size_t i = 1; i <= need; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    /* C1 controls and the bidi overrides are not shown raw on a terminal */
    if ((cp >= 0x80 && cp < 0xa0) || (cp >= 0x202a && cp <= 0x202e) ||
        (cp >= 0x2066 && cp <= 0x2069))
        return 0;
    return need + 1;
}

/* Escape one unit at s[i]; writes into out (>= 8 bytes), returns bytes consumed. */
static size_t esc_unit(const unsigned char *s, size_t len, size_t i, int quote, int ascii_only,
                       char *out, size_t *outn)
{
    static const char hex[] = "0123456789abcdef";
    unsigned c = s[i];
    size_t k = 0;
    if (c == '\\' || (quote && c == (unsigned)quote)) {
        out[k++] = '\\';
        out[k++] = (char)c;
    } else if (c >= 0x20 && c < 0x7f) {
        out[k++] = (char)c;
    } else if (c == '\n') {
        out[k++] = '\\';
        out[k++] = 'n';
    } else if (c == '\t') {
        out[k++] = '\\';
        out[k++] = 't';
    } else if (c == '\r') {
        out[k++] = '\\';
        out[k++] = 'r';
    } else {
        size_t u = (!ascii_only && c >= 0x80) ? utf8_len(s + i, len - i) : 0;
        if (u) {
            memcpy(out, s + i, u);
            *outn = u;
            return u;
        }
        out[k++] = '\\';
        out[k++] = 'x';
        out[k++] = hex[c >> 4];
        out[k++] = hex[c & 15];
    }
    *outn = k;
    return 1;
}

int cli_write_escaped(FILE *f, const char *s, size_t len, int quote, int ascii_only,
                      size_t max_out)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t done = 0;
    for (size_t i = 0; i < len;) {
        char tmp[8];
        size_t k;
        size_t used = esc_unit(p, len, i, quote, ascii_only, tmp, &k);
        if (max_out && done + k > max_out) {
            fputs("...", f);
            return 1;
        }
        fwrite(tmp, 1, k, f);
        done += k;
        i += used;
    }
    return 0;
}

const char *cli_escape(char *buf, size_t n, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    if (n == 0)
        return buf;
    for (size_t i = 0; i < len;) {
        char tmp[8];
        size_t k;
        size_t used = esc_unit(p, len, i, '\'', 0, tmp, &k);
        if (o + k + 4 > n) {
            if (o + 4 <= n) {
                memcpy(buf + o, "...", 3);
                o += 3;
            }
            break;
        }
        memcpy(buf + o, tmp, k);
        o += k;
        i += used;
    }
    buf[o < n ? o : n - 1] = '\0';
    return buf;
}
