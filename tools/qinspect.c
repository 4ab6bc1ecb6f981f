/* qinspect - tell what is in a model file: format, architecture, parameters, types, metadata,
 * tensors, memory needs and the size at other llama-quantize types.
 *
 * Uses only the public API of libqfmt (qf/qf.h). Output: human tables (default), one JSON
 * document (--json, schema in qinspect(1)) or one JSON line per tensor (--ndjson).
 * Exit status: 0 ok, 1 a label disagrees with the tensors, 2 trouble (usage, I/O, bad input).
 */
#include <fnmatch.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_msg.h"
#include "cli_opt.h"
#include "cli_out.h"
#include "qf/qf.h"

/* ---------------------------------------------------------------------------------------
 * Options
 */
enum {
    OPT_FULL = CLI_OPT_TOOL_BASE,
    OPT_CTX,
    OPT_BATCH,
    OPT_KV_TYPE,
    OPT_NDJSON,
    OPT_PARTIAL,
    OPT_NO_SET,
    OPT_RAW,
};

#define SEC_SUMMARY 0x1
#define SEC_METADATA 0x2
#define SEC_TENSORS 0x4
#define SEC_MEMORY 0x8

static const struct cli_opt opts[] = {
    {NULL, 0, 0, 0, NULL, "Sections (default: the summary; with --json: summary, metadata, tensors):"},
    {"summary", 's', 's', CLI_ARG_NONE, NULL,
     "format, architecture, parameters, bits per weight, types, label check"},
    {"metadata", 'm', 'm', CLI_ARG_NONE, NULL, "the metadata (long arrays shortened, see --full)"},
    {"tensors", 't', 't', CLI_ARG_NONE, NULL, "the tensor table"},
    {"tensor", 'T', 'T', CLI_ARG_REQUIRED, "GLOB",
     "only tensors whose name matches GLOB (fnmatch; repeatable); implies --tensors"},
    {"memory", 'M', 'M', CLI_ARG_NONE, NULL,
     "weights + KV cache, and the size at other llama-quantize types"},
    {"all", 'a', 'a', CLI_ARG_NONE, NULL, "every section"},
    {NULL, 0, 0, 0, NULL, "Details:"},
    {"full", 0, OPT_FULL, CLI_ARG_NONE, NULL, "show whole arrays and strings"},
    {"ctx", 0, OPT_CTX, CLI_ARG_REQUIRED, "N",
     "context length for the KV cache (default: the training context); implies --memory"},
    {"batch", 0, OPT_BATCH, CLI_ARG_REQUIRED, "N", "batch for the compute estimate (default 512)"},
    {"kv-type", 0, OPT_KV_TYPE, CLI_ARG_REQUIRED, "TYPE",
     "KV cache type: f16 (default), bf16, f32, q8_0, q4_0, q4_1, q5_0, q5_1, iq4_nl"},
    {"partial", 0, OPT_PARTIAL, CLI_ARG_NONE, NULL,
     "accept truncated files (tensors past the end are marked missing)"},
    {"no-set", 0, OPT_NO_SET, CLI_ARG_NONE, NULL,
     "open only the named file, not the rest of its split set or shards"},
    {"raw", 0, OPT_RAW, CLI_ARG_NONE, NULL,
     "list the physical tensors of a GPTQ/AWQ checkpoint (qweight, qzeros, scales, g_idx)\n"
     "instead of its logical tensors"},
    {NULL, 0, 0, 0, NULL, "Output:"},
    {"json", 'j', 'j', CLI_ARG_NONE, NULL, "one JSON document for all inputs (see qinspect(1))"},
    {"ndjson", 0, OPT_NDJSON, CLI_ARG_NONE, NULL, "one JSON object per tensor and line"},
    {0, 0, 0, 0, NULL, NULL},
};

static const struct cli_tool tool = {
    "qinspect",
    "[OPTION]... FILE|DIR...",
    "Tell what is in model files: GGUF (split sets too), safetensors (shards, index)\n"
    "and Hugging Face model directories. '-' reads standard input.",
    "Exit status: 0 ok, 1 a label (general.file_type, quantization_config) disagrees\n"
    "with the tensors, 2 trouble (usage, unreadable or malformed input).\n",
};

static struct {
    unsigned sections;
    int full;
    int raw;
    int json, ndjson;
    uint64_t n_ctx;      /* 0: the training context */
    uint64_t n_batch;
    int kv_type;
    unsigned open_flags;
    const char **globs;
    size_t n_globs;
    struct cli_common common;
} o;

/* ---------------------------------------------------------------------------------------
 * JSON helpers: numbers are printed by us (shortest round-trip floats, u64 beyond int64)
 * through placeholder strings replaced after json_dumps.
 */
static char nonce[32];

static json_t *jraw(const char *text)
{
    char buf[128];
    snprintf(buf, sizeof buf, "\x01\x02%s:%s", nonce, text);
    return json_string(buf);
}

/* Raw JSON texts of any length (whole scalar arrays) are kept aside and referenced by a short
 * placeholder "@N", so jansson never copies, validates or escapes them. */
static char **raws;
static size_t *raw_lens, n_raws, cap_raws;

static json_t *jraw_long(char *text, size_t len)
{
    if (n_raws == cap_raws) {
        cap_raws = cap_raws ? cap_raws * 2 : 64;
        raws = realloc(raws, cap_raws * sizeof *raws);
        raw_lens = realloc(raw_lens, cap_raws * sizeof *raw_lens);
        if (!raws || !raw_lens)
            cli_die(CLI_EXIT_TROUBLE, "out of memory");
    }
    raws[n_raws] = text; /* taken over */
    raw_lens[n_raws] = len;
    char ref[32];
    snprintf(ref, sizeof ref, "@%zu", n_raws++);
    return jraw(ref);
}

static json_t *ju64(uint64_t v)
{
    if (v <= INT64_MAX)
        return json_integer((json_int_t)v);
    char t[32];
    snprintf(t, sizeof t, "%llu", (unsigned long long)v);
    return jraw(t);
}

static void fmt_double(char *buf, size_t n, double v, int is_f32)
{
    if (isnan(v)) {
        snprintf(buf, n, "nan");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, n, v < 0 ? "-inf" : "inf");
        return;
    }
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(buf, n, "%.0f", v);
        if (strcmp(buf, "-0") == 0)
            snprintf(buf, n, "-0.0");
        return;
    }
    /* shortest round-trip: digits that round-trip stay round-tripping with more digits, so
     * binary-search the precision (4 formats instead of up to 17) */
    int lo = 1, hi = is_f32 ? 9 : 17;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        snprintf(buf, n, "%.*g", mid, v);
        double back = strtod(buf, NULL);
        if (is_f32 ? (float)back == (float)v : back == v)
            hi = mid;
        else
            lo = mid + 1;
    }
    snprintf(buf, n, "%.*g", lo, v);
}

static json_t *jdouble(double v, int is_f32)
{
    if (!isfinite(v))
        return json_null();
    char t[48];
    fmt_double(t, sizeof t, v, is_f32);
    return jraw(t);
}

/* Round to `dec` decimals for ratios (bpw, share). */
static json_t *jfixed(double v, int dec)
{
    if (!isfinite(v))
        return json_null();
    char t[48];
    snprintf(t, sizeof t, "%.*f", dec, v);
    return jraw(t);
}

/* Length of a valid UTF-8 sequence at p (avail bytes left), 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, size_t avail)
{
    unsigned c = p[0];
    size_t need;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        need = 1, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        need = 2, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        need = 3, cp = c & 0x07;
    else
        return 0;
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
    return need + 1;
}

/* A JSON string from bytes that may be invalid UTF-8 or hold NULs: each invalid byte becomes
 * U+FFFD, NUL stays (JSON escapes it). */
static json_t *jstrn(const char *s, size_t len)
{
    json_t *j = json_stringn(s, len);
    if (j)
        return j;
    if (len > SIZE_MAX / 3 - 1)
        cli_die(CLI_EXIT_TROUBLE, "out of memory");
    char *buf = malloc(len * 3 + 1);
    if (!buf)
        cli_die(CLI_EXIT_TROUBLE, "out of memory");
    size_t w = 0;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t k = utf8_seq(p + i, len - i);
        if (k) {
            memcpy(buf + w, p + i, k);
            w += k;
            i += k;
        } else {
            memcpy(buf + w, "\xef\xbf\xbd", 3);
            w += 3;
            i++;
        }
    }
    j = json_stringn(buf, w);
    free(buf);
    if (!j)
        cli_die(CLI_EXIT_TROUBLE, "out of memory");
    return j;
}

static json_t *jstr(const char *s)
{
    return s ? jstrn(s, strlen(s)) : json_null();
}

static void jset(json_t *obj, const char *key, json_t *v)
{
    if (!v)
        cli_die(CLI_EXIT_TROUBLE, "out of memory");
    json_object_set_new(obj, key, v);
}

/* Dump with placeholders replaced by their number text. */
static char *jdump(const json_t *j)
{
    /* ASCII only: a terminal showing the JSON cannot be steered by escapes or bidi marks */
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    if (!s)
        cli_die(CLI_EXIT_TROUBLE, "out of memory");
    char pat[64];
    snprintf(pat, sizeof pat, "\"\\u0001\\u0002%s:", nonce);
    size_t pl = strlen(pat);
    size_t total = strlen(s) + 1;
    for (size_t i = 0; i < n_raws; i++)
        total += raw_lens[i];
    char *out = malloc(total);
    if (!out)
        cli_die(CLI_EXIT_TROUBLE, "out of memory");
    char *w = out;
    const char *r = s;
    for (;;) {
        const char *hit = strstr(r, pat);
        if (!hit) {
            strcpy(w, r);
            break;
        }
        memcpy(w, r, (size_t)(hit - r));
        w += hit - r;
        const char *num = hit + pl;
        const char *end = strchr(num, '"');
        if (!end) { /* cannot happen: jansson closed the string */
            strcpy(w, hit);
            break;
        }
        if (*num == '@') {
            size_t k = (size_t)strtoull(num + 1, NULL, 10);
            if (k < n_raws) {
                memcpy(w, raws[k], raw_lens[k]);
                w += raw_lens[k];
            }
        } else {
            memcpy(w, num, (size_t)(end - num));
            w += end - num;
        }
        r = end + 1;
    }
    free(s);
    for (size_t i = 0; i < n_raws; i++)
        free(raws[i]);
    n_raws = 0;
    return out;
}

/* ---------------------------------------------------------------------------------------
 * Metadata values
 */
/* Human text of a scalar value (strings escaped, quoted when in_array). */
static void print_scalar(FILE *f, const struct qf_value *v, int in_array, size_t max_str)
{
    char b[64];
    switch (v->type) {
    case QF_V_U8: case QF_V_U16: case QF_V_U32: case QF_V_U64:
        fprintf(f, "%llu", (unsigned long long)v->v.u);
        break;
    case QF_V_I8: case QF_V_I16: case QF_V_I32: case QF_V_I64:
        fprintf(f, "%lld", (long long)v->v.i);
        break;
    case QF_V_F32: case QF_V_F64:
        fmt_double(b, sizeof b, v->v.f, v->type == QF_V_F32);
        fputs(b, f);
        break;
    case QF_V_BOOL:
        fputs(v->v.u ? "true" : "false", f);
        if (v->raw_bool > 1)
            fprintf(f, " (stored as %u)", v->raw_bool);
        break;
    case QF_V_STRING:
        if (in_array)
            fputc('"', f);
        cli_write_escaped(f, v->v.s.ptr, (size_t)v->v.s.len, in_array ? '"' : 0, 0, max_str);
        if (in_array)
            fputc('"', f);
        break;
    case QF_V_NULL:
        fputs("null", f);
        break;
    default:
        fputs("?", f);
    }
}

static void type_label(FILE *f, const struct qf_value *v)
{
    if (v->type == QF_V_ARRAY)
        fprintf(f, "%s[%llu]", qf_vtype_name(v->v.a.etype), (unsigned long long)v->v.a.count);
    else
        fputs(qf_vtype_name(v->type), f);
}

static void print_value(FILE *f, const struct qf_value *v, int depth, int in_array)
{
    size_t max_str = o.full ? 0 : (in_array ? 60 : 200);
    if (v->type != QF_V_ARRAY) {
        print_scalar(f, v, in_array, max_str);
        return;
    }
    uint64_t shown = o.full ? v->v.a.count : (depth ? 4 : 8);
    struct qf_array_iter it;
    struct qf_value e;
    uint64_t i = 0;
    fputc('[', f);
    qf_array_iter_init(&it, &v->v.a);
    while (i < shown && qf_array_iter_next(&it, &e)) {
        if (i)
            fputs(", ", f);
        if (depth >= 8)
            fputs("...", f);
        else
            print_value(f, &e, depth + 1, 1);
        i++;
    }
    if (v->v.a.count > i)
        fprintf(f, "%s... %llu more", i ? ", " : "", (unsigned long long)(v->v.a.count - i));
    fputc(']', f);
}

/* Array elements one metadata value may put into the JSON document without --full: the
 * document is built in memory, so a hostile 2^30-element array must not become 2^30 nodes. */
#define JSON_ARRAY_BUDGET (1u << 24)

/* Append s[0..len) as an ASCII-only JSON string: invalid UTF-8 bytes become U+FFFD, everything
 * outside printable ASCII is \u-escaped (surrogate pairs above U+FFFF), as jansson's
 * JSON_ENSURE_ASCII output would be. out must have room for 12 * len + 2 bytes. */
static size_t json_ascii_string(char *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)s;
    size_t w = 0;
    out[w++] = '"';
    for (size_t i = 0; i < len;) {
        unsigned c = p[i];
        uint32_t cp;
        size_t k = utf8_seq(p + i, len - i);
        if (!k) {
            cp = 0xfffd;
            k = 1;
        } else if (k == 1) {
            cp = c;
        } else {
            cp = c & (k == 2 ? 0x1f : k == 3 ? 0x0f : 0x07);
            for (size_t j = 1; j < k; j++)
                cp = (cp << 6) | (p[i + j] & 0x3f);
        }
        i += k;
        if (cp == '"' || cp == '\\') {
            out[w++] = '\\';
            out[w++] = (char)cp;
        } else if (cp >= 0x20 && cp < 0x7f) {
            out[w++] = (char)cp;
        } else if (cp == '\n') {
            out[w++] = '\\', out[w++] = 'n';
        } else if (cp == '\t') {
            out[w++] = '\\', out[w++] = 't';
        } else if (cp == '\r') {
            out[w++] = '\\', out[w++] = 'r';
        } else if (cp == '\b') {
            out[w++] = '\\', out[w++] = 'b';
        } else if (cp == '\f') {
            out[w++] = '\\', out[w++] = 'f';
        } else {
            uint32_t u[2];
            int n = 1;
            if (cp >= 0x10000) {
                u[0] = 0xd800 + ((cp - 0x10000) >> 10);
                u[1] = 0xdc00 + ((cp - 0x10000) & 0x3ff);
                n = 2;
            } else {
                u[0] = cp;
            }
            for (int j = 0; j < n; j++) {
                out[w++] = '\\', out[w++] = 'u';
                for (int sh = 12; sh >= 0; sh -= 4)
                    out[w++] = hex[(u[j] >> sh) & 15];
            }
        }
    }
    out[w++] = '"';
    return w;
}

/* Decimal text of v (no printf: vocabulary-sized arrays are hot). buf holds >= 21 bytes. */
static void fmt_u64(char *buf, uint64_t v)
{
    char t[24];
    int n = 0;
    do {
        t[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (int i = 0; i < n; i++)
        buf[i] = t[n - 1 - i];
    buf[n] = '\0';
}

/* A scalar array (numbers, booleans, strings) written straight to text: one placeholder
 * instead of a node per element (a 256k-entry vocabulary would otherwise dominate the run). */
static json_t *json_num_array(const struct qf_array *arr, uint64_t *budget, int *cut)
{
    size_t cap = 4096, len = 0;
    char *t = malloc(cap);
    if (!t)
        cli_die(CLI_EXIT_TROUBLE, "out of memory");
    t[len++] = '[';
    struct qf_array_iter it;
    struct qf_value e;
    qf_array_iter_init(&it, arr);
    while (qf_array_iter_next(&it, &e)) {
        if (*budget == 0) {
            *cut = 1;
            break;
        }
        (*budget)--;
        if (e.type == QF_V_STRING) {
            uint64_t need;
            if (e.v.s.len > (SIZE_MAX - 64) / 12 - 1 || __builtin_add_overflow((uint64_t)len, 12 * e.v.s.len + 4, &need))
                cli_die(CLI_EXIT_TROUBLE, "out of memory");
            if (need > cap) {
                cap = (size_t)need * 2;
                char *q = realloc(t, cap);
                if (!q)
                    cli_die(CLI_EXIT_TROUBLE, "out of memory");
                t = q;
            }
            if (len > 1)
                t[len++] = ',';
            len += json_ascii_string(t + len, e.v.s.ptr, (size_t)e.v.s.len);
            continue;
        }
        char num[64];
        switch (e.type) {
        case QF_V_F32: case QF_V_F64:
            if (isfinite(e.v.f))
                fmt_double(num, sizeof num, e.v.f, e.type == QF_V_F32);
            else
                snprintf(num, sizeof num, "null");
            break;
        case QF_V_BOOL: snprintf(num, sizeof num, "%s", e.v.u ? "true" : "false"); break;
        case QF_V_I8: case QF_V_I16: case QF_V_I32: case QF_V_I64:
            if (e.v.i < 0) {
                num[0] = '-';
                fmt_u64(num + 1, 0 - (uint64_t)e.v.i);
            } else {
                fmt_u64(num, (uint64_t)e.v.i);
            }
            break;
        default: fmt_u64(num, e.v.u); break;
        }
        size_t nl = strlen(num);
        if (len + nl + 3 > cap) {
            cap = cap * 2 + nl;
            char *q = realloc(t, cap);
            if (!q)
                cli_die(CLI_EXIT_TROUBLE, "out of memory");
            t = q;
        }
        if (len > 1)
            t[len++] = ',';
        memcpy(t + len, num, nl);
        len += nl;
    }
    t[len++] = ']';
    return jraw_long(t, len);
}

static json_t *json_value(const struct qf_value *v, int depth, uint64_t *budget, int *cut)
{
    switch (v->type) {
    case QF_V_U8: case QF_V_U16: case QF_V_U32: case QF_V_U64: return ju64(v->v.u);
    case QF_V_I8: case QF_V_I16: case QF_V_I32: case QF_V_I64:
        return json_integer((json_int_t)v->v.i);
    case QF_V_F32: case QF_V_F64: return jdouble(v->v.f, v->type == QF_V_F32);
    case QF_V_BOOL: return json_boolean(v->v.u);
    case QF_V_STRING: return jstrn(v->v.s.ptr, (size_t)v->v.s.len);
    case QF_V_ARRAY: {
        if (depth < 16 && v->v.a.etype != QF_V_ARRAY)
            return json_num_array(&v->v.a, budget, cut);
        json_t *a = json_array();
        if (!a)
            return NULL;
        if (depth >= 16)
            return a;
        struct qf_array_iter it;
        struct qf_value e;
        qf_array_iter_init(&it, &v->v.a);
        while (qf_array_iter_next(&it, &e)) {
            if (*budget == 0) {
                *cut = 1;
                break;
            }
            (*budget)--;
            json_t *x = json_value(&e, depth + 1, budget, cut);
            if (!x || json_array_append_new(a, x))
                cli_die(CLI_EXIT_TROUBLE, "out of memory");
        }
        return a;
    }
    default: return json_null();
    }
}

/* ---------------------------------------------------------------------------------------
 * Per-model facts
 */
struct type_stat {
    uint64_t tensors, params, bytes;
};

struct label {
    int present;          /* a label was found */
    char text[96];        /* "Q4_K_M", "gptq 4-bit group 128" */
    const char *source;   /* "general.file_type", "quantization_config" */
    int ftype;            /* GGUF: the id; -1 otherwise */
    int status;           /* 0 unchecked, 1 match, 2 mismatch */
    uint64_t checked, differing;
    char detail[512];     /* one line: why unchecked / what differs */
    json_t *diffs;        /* array of {tensor, type, expected} */
};

struct report {
    const char *path;
    struct qf_model *m;
    int is_gguf;
    struct qf_arch arch;
    struct type_stat st[QF_TYPE_END];
    uint64_t params, bytes, n_tensors;
    struct label lab;
    int quantized_layout;  /* safetensors with a quantization_config or packed tensors */
    struct qf_layout *lay; /* its logical tensors (NULL with --raw or when unreadable) */
};

static int kv_uint(const struct qf_model *m, const char *key, uint64_t *out)
{
    const struct qf_kv *kv = qf_model_find_kv(m, key);
    return kv && kv->val.type != QF_V_ARRAY && qf_value_as_u64(&kv->val, out) == QF_OK;
}

static const struct qf_kv *kv_str(const struct qf_model *m, const char *key)
{
    const struct qf_kv *kv = qf_model_find_kv(m, key);
    return kv && kv->val.type == QF_V_STRING ? kv : NULL;
}

static void collect(struct report *r)
{
    struct qf_model *m = r->m;
    r->n_tensors = qf_model_n_tensors(m);
    for (size_t i = 0; i < r->n_tensors; i++) {
        const struct qf_tensor *t = qf_model_tensor(m, i);
        r->params += t->nelem;
        r->bytes += t->nbytes;
        if (t->type >= 0 && t->type < QF_TYPE_END) {
            r->st[t->type].tensors++;
            r->st[t->type].params += t->nelem;
            r->st[t->type].bytes += t->nbytes;
        }
        size_t nl = t->name_len;
        if (nl >= 8 && strcmp(t->name + nl - 8, ".qweight") == 0)
            r->quantized_layout = 1;
    }
    qf_arch_from_model(m, &r->arch);
    if (qf_model_find_kv(m, "quantization_config.quant_method") ||
        qf_model_find_kv(m, "quantize_config.bits") || qf_model_find_kv(m, "quant_config.w_bit") ||
        qf_model_find_kv(m, "quantization.bits")) /* mlx-lm */
        r->quantized_layout = 1;
}

/* ---------------------------------------------------------------------------------------
 * Label check
 */
static void lab_diff(struct label *l, const char *tensor, size_t len, const char *type,
                     const char *expected)
{
    if (!l->diffs)
        l->diffs = json_array();
    if (json_array_size(l->diffs) >= 64)
        return;
    json_t *d = json_object();
    jset(d, "tensor", jstrn(tensor, len));
    jset(d, "type", jstr(type));
    jset(d, "expected", jstr(expected));
    json_array_append_new(l->diffs, d);
}

static void check_gguf_label(struct report *r)
{
    struct label *l = &r->lab;
    uint64_t ft;
    l->ftype = -1;
    if (!kv_uint(r->m, "general.file_type", &ft))
        return;
    l->present = 1;
    l->source = "general.file_type";
    l->ftype = ft > INT32_MAX ? -1 : (int)ft;
    const struct qf_ftype_info *fi = qf_ftype_info(l->ftype);
    if (!fi) {
        snprintf(l->text, sizeof l->text, "%llu", (unsigned long long)ft);
        snprintf(l->detail, sizeof l->detail, "unknown file type %llu", (unsigned long long)ft);
        return;
    }
    snprintf(l->text, sizeof l->text, "%s", fi->name);
    if (fi->removed || fi->base_type < 0) {
        snprintf(l->detail, sizeof l->detail, "%s is not a type today's llama-quantize writes",
                 fi->name);
        return;
    }
    size_t nt = qf_model_n_tensors(r->m);
    if (nt == 0) {
        snprintf(l->detail, sizeof l->detail, "no tensors");
        return;
    }
    /* predictions of the known llama-quantize versions: a tensor agrees with the label if
     * its type is one of them */
    unsigned base_flags = qf_model_find_kv(r->m, "quantize.imatrix.file") ? QF_QUANT_IMATRIX : 0;
    const unsigned variants[3] = {0, QF_QUANT_RECIPE_NEW,
                                  QF_QUANT_RECIPE_NEW | QF_QUANT_FALLBACK_F16};
    int *pred[3] = {NULL, NULL, NULL};
    int ok_any = 0;
    char why[QF_ERROR_MSG_MAX] = "";
    for (int k = 0; k < 3; k++) {
        pred[k] = malloc(nt * sizeof(int));
        if (!pred[k])
            cli_die(CLI_EXIT_TROUBLE, "out of memory");
        struct qf_quant_opts qo = {base_flags | variants[k], -1, -1};
        struct qf_error err;
        if (qf_ftype_plan(r->m, l->ftype, &qo, pred[k], &err) != QF_OK) {
            if (!why[0])
                snprintf(why, sizeof why, "%s", err.msg);
            free(pred[k]);
            pred[k] = NULL;
        } else {
            ok_any = 1;
        }
    }
    if (!ok_any) {
        snprintf(l->detail, sizeof l->detail, "%s", why);
        return;
    }
    for (size_t i = 0; i < nt; i++) {
        const struct qf_tensor *t = qf_model_tensor(r->m, i);
        if (!qf_ftype_eligible(t->name, t->n_dims, t->shape, NULL))
            continue;
        l->checked++;
        int match = 0, first = -1;
        for (int k = 0; k < 3; k++) {
            if (!pred[k])
                continue;
            if (first < 0)
                first = pred[k][i];
            if (pred[k][i] == t->type)
                match = 1;
        }
        if (!match) {
            if (l->differing == 0) {
                char q[200];
                snprintf(l->detail, sizeof l->detail, "first: '%s' is %s, expected %s",
                         cli_escape(q, sizeof q, t->name, t->name_len), qf_type_name(t->type),
                         qf_type_name(first));
            }
            l->differing++;
            lab_diff(l, t->name, t->name_len, qf_type_name(t->type), qf_type_name(first));
        }
    }
    for (int k = 0; k < 3; k++)
        free(pred[k]);
    l->status = l->differing ? 2 : 1;
}

/* Find a sibling tensor: name with suffix `from` replaced by `to`. */
static const struct qf_tensor *sibling(const struct qf_model *m, const struct qf_tensor *t,
                                       const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to);
    if (t->name_len < fl)
        return NULL;
    size_t base = t->name_len - fl;
    char *nm = malloc(base + tl + 1);
    if (!nm)
        return NULL;
    memcpy(nm, t->name, base);
    memcpy(nm + base, to, tl + 1);
    const struct qf_tensor *s = qf_model_find_tensor(m, nm);
    free(nm);
    return s;
}

static void check_st_label(struct report *r)
{
    struct label *l = &r->lab;
    struct qf_model *m = r->m;
    l->ftype = -1;
    size_t nt = qf_model_n_tensors(m);
    size_t n_qweight = 0, n_packed = 0, n_absmax = 0, n_f8 = 0;
    for (size_t i = 0; i < nt; i++) {
        const struct qf_tensor *t = qf_model_tensor(m, i);
        size_t nl = t->name_len;
        if (nl >= 8 && strcmp(t->name + nl - 8, ".qweight") == 0)
            n_qweight++;
        if (nl >= 14 && strcmp(t->name + nl - 14, ".weight_packed") == 0)
            n_packed++;
        if (nl >= 7 && strcmp(t->name + nl - 7, ".absmax") == 0)
            n_absmax++;
        if (t->type == QF_TYPE_F8_E4M3 || t->type == QF_TYPE_F8_E5M2)
            n_f8++;
    }
    /* the label: config.json's quantization_config, else AutoGPTQ's quantize_config.json,
     * else legacy AutoAWQ's quant_config.json */
    char method[40] = "";
    const char *pre = NULL;
    const struct qf_kv *qm = kv_str(m, "quantization_config.quant_method");
    uint64_t tmp;
    if (qm) {
        pre = "quantization_config.";
        cli_escape(method, sizeof method, qm->val.v.s.ptr, (size_t)qm->val.v.s.len);
        for (char *p = method; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
    } else if (kv_uint(m, "quantize_config.bits", &tmp)) {
        pre = "quantize_config.";
        snprintf(method, sizeof method, "gptq");
    } else if (kv_uint(m, "quant_config.w_bit", &tmp)) {
        pre = "quant_config.";
        snprintf(method, sizeof method, "awq");
    }
    if (!pre) {
        if (n_qweight) {
            l->present = 1;
            l->source = "quantization_config";
            snprintf(l->text, sizeof l->text, "none");
            l->status = 2;
            l->checked = n_qweight;
            l->differing = n_qweight;
            snprintf(l->detail, sizeof l->detail,
                     "%zu packed '.qweight' tensors but no quantization_config", n_qweight);
        }
        return;
    }
    l->present = 1;
    l->source = strcmp(pre, "quantization_config.") == 0 ? "quantization_config"
                : strcmp(pre, "quantize_config.") == 0   ? "quantize_config.json"
                                                         : "quant_config.json";
    char key[64];
    uint64_t bits = 0;
    int64_t gs = 0;
#define PKEY(k) (snprintf(key, sizeof key, "%s%s", pre, k), key)
    int have_bits = kv_uint(m, PKEY("bits"), &bits) || kv_uint(m, PKEY("w_bit"), &bits);
    const struct qf_kv *gkv = qf_model_find_kv(m, PKEY("group_size"));
    if (!gkv)
        gkv = qf_model_find_kv(m, PKEY("q_group_size"));
    int have_gs = gkv && qf_value_as_i64(&gkv->val, &gs) == QF_OK;
    const struct qf_kv *ver = kv_str(m, PKEY("version"));
#undef PKEY
    if (have_bits && have_gs)
        snprintf(l->text, sizeof l->text, "%s %llu-bit group %lld", method,
                 (unsigned long long)bits, (long long)gs);
    else if (have_bits)
        snprintf(l->text, sizeof l->text, "%s %llu-bit", method, (unsigned long long)bits);
    else
        snprintf(l->text, sizeof l->text, "%s", method);

    int gptq = strcmp(method, "gptq") == 0, awq = strcmp(method, "awq") == 0;
    if (gptq || awq) {
        int gemv = awq && ver && ver->val.v.s.len >= 4 && memcmp(ver->val.v.s.ptr, "gemv", 4) == 0;
        if (n_qweight == 0) {
            l->status = 2;
            snprintf(l->detail, sizeof l->detail, "no '.qweight' tensors for %s", method);
            return;
        }
        for (size_t i = 0; i < nt; i++) {
            const struct qf_tensor *t = qf_model_tensor(m, i);
            size_t nl = t->name_len;
            if (!(nl >= 8 && strcmp(t->name + nl - 8, ".qweight") == 0) || t->n_dims != 2)
                continue;
            const struct qf_tensor *qz = sibling(m, t, ".qweight", ".qzeros");
            const struct qf_tensor *sc = sibling(m, t, ".qweight", ".scales");
            if (!qz || !sc || qz->n_dims != 2 || sc->n_dims != 2 || gemv)
                continue;
            l->checked++;
            /* qzeros pack out * bits / 32 words per group row (GPTQ and AWQ GEMM alike) */
            uint64_t out_f = sc->shape[1], words = qz->shape[1], G = sc->shape[0];
            uint64_t tb = out_f ? words * 32 / out_f : 0;
            uint64_t in_f = 0;
            if (gptq) {
                const struct qf_tensor *gi = sibling(m, t, ".qweight", ".g_idx");
                in_f = gi && gi->n_dims == 1 ? gi->shape[0]
                       : tb ? t->shape[0] * 32 / tb : 0;
            } else {
                in_f = t->shape[0];
            }
            char got[64] = "", want[64] = "";
            if (have_bits && out_f && words * 32 % out_f == 0 && tb != bits) {
                snprintf(got, sizeof got, "%llu-bit", (unsigned long long)tb);
                snprintf(want, sizeof want, "%llu-bit", (unsigned long long)bits);
            } else if (have_gs && in_f && G) {
                uint64_t expect_g = gs <= 0 ? 1 : (in_f + (uint64_t)gs - 1) / (uint64_t)gs;
                if (expect_g != G) {
                    snprintf(got, sizeof got, "%llu groups", (unsigned long long)G);
                    snprintf(want, sizeof want, "%llu groups", (unsigned long long)expect_g);
                }
            }
            if (got[0]) {
                if (l->differing == 0) {
                    char q[200];
                    snprintf(l->detail, sizeof l->detail, "first: '%s' is %s, expected %s",
                             cli_escape(q, sizeof q, t->name, t->name_len), got, want);
                }
                l->differing++;
                lab_diff(l, t->name, t->name_len, got, want);
            }
        }
        l->status = l->differing ? 2 : l->checked ? 1 : 0;
        if (!l->checked && !l->differing)
            snprintf(l->detail, sizeof l->detail, "the tensor shapes do not pin the %s",
                     gemv ? "padded GEMV layout down" : "parameters down");
        return;
    }
    size_t expect = 0;
    const char *what = NULL;
    if (strcmp(method, "compressed-tensors") == 0) {
        expect = n_packed || n_f8 ? 1 : 0;
        what = "'.weight_packed' or float8 tensors";
    } else if (strcmp(method, "bitsandbytes") == 0) {
        expect = n_absmax;
        what = "'.absmax' tensors";
    } else if (strcmp(method, "fp8") == 0 || strcmp(method, "fbgemm_fp8") == 0) {
        expect = n_f8;
        what = "float8 tensors";
    }
    if (what) {
        l->checked = 1;
        l->status = expect ? 1 : 2;
        l->differing = expect ? 0 : 1;
        if (!expect)
            snprintf(l->detail, sizeof l->detail, "no %s for %s", what, method);
    } else {
        snprintf(l->detail, sizeof l->detail, "%s layouts are not checked", method);
    }
}

/* ---------------------------------------------------------------------------------------
 * Memory and what-if
 */
static const int whatif_ftypes[] = {
    QF_FTYPE_ALL_F32, QF_FTYPE_F16, QF_FTYPE_BF16, QF_FTYPE_Q8_0, QF_FTYPE_Q6_K,
    QF_FTYPE_Q5_K_M, QF_FTYPE_Q4_K_M, QF_FTYPE_Q4_0, QF_FTYPE_Q3_K_M, QF_FTYPE_Q2_K,
};
#define N_WHATIF (sizeof whatif_ftypes / sizeof whatif_ftypes[0])

struct whatif {
    int ftype;
    int ok;
    uint64_t bytes;
    char why[QF_ERROR_MSG_MAX];
    uint64_t type_count[QF_TYPE_END];
};

static void compute_whatif(const struct report *r, struct whatif *w)
{
    size_t nt = qf_model_n_tensors(r->m);
    int *types = malloc((nt ? nt : 1) * sizeof(int));
    if (!types)
        cli_die(CLI_EXIT_TROUBLE, "out of memory");
    for (size_t k = 0; k < N_WHATIF; k++) {
        memset(&w[k], 0, sizeof w[k]);
        w[k].ftype = whatif_ftypes[k];
        if (r->quantized_layout) {
            snprintf(w[k].why, sizeof w[k].why, "not computed for pre-quantized checkpoints");
            continue;
        }
        struct qf_quant_opts qo = {0, -1, -1};
        struct qf_error err;
        if (qf_ftype_plan(r->m, whatif_ftypes[k], &qo, types, &err) != QF_OK) {
            snprintf(w[k].why, sizeof w[k].why, "%s", err.msg);
            continue;
        }
        w[k].ok = 1;
        for (size_t i = 0; i < nt && w[k].ok; i++) {
            const struct qf_tensor *t = qf_model_tensor(r->m, i);
            uint64_t row = t->n_dims ? t->shape[t->n_dims - 1] : 1;
            int64_t b = qf_type_nbytes(types[i], row, t->nelem);
            if (b < 0) {
                char q[200];
                w[k].ok = 0;
                snprintf(w[k].why, sizeof w[k].why, "'%s' has no size as %s",
                         cli_escape(q, sizeof q, t->name, t->name_len), qf_type_name(types[i]));
                break;
            }
            w[k].bytes += (uint64_t)b;
            if (types[i] >= 0 && types[i] < QF_TYPE_END)
                w[k].type_count[types[i]]++;
        }
    }
    free(types);
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t effective_ctx(const struct report *r)
{
    if (o.n_ctx)
        return o.n_ctx;
    return (r->arch.known & QF_ARCH_N_CTX) ? r->arch.n_ctx_train : 0;
}

/* ---------------------------------------------------------------------------------------
 * Tensor selection
 */
static int selected(const struct qf_tensor *t)
{
    if (o.n_globs == 0)
        return 1;
    for (size_t i = 0; i < o.n_globs; i++)
        if (fnmatch(o.globs[i], t->name, 0) == 0)
            return 1;
    return 0;
}

static double tensor_bpw(const struct qf_tensor *t)
{
    return t->nelem ? (double)t->nbytes * 8.0 / (double)t->nelem : 0.0;
}

/* Sorted type indices for the per-type table: bytes descending, then type id. */
static size_t sorted_types(const struct report *r, int *idx)
{
    size_t n = 0;
    for (int t = 0; t < QF_TYPE_END; t++)
        if (r->st[t].tensors)
            idx[n++] = t;
    for (size_t i = 1; i < n; i++) {
        int v = idx[i];
        size_t j = i;
        while (j > 0 && r->st[idx[j - 1]].bytes < r->st[v].bytes) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = v;
    }
    return n;
}

/* ---------------------------------------------------------------------------------------
 * Human output
 */
static void print_str_kv(FILE *f, const char *label, const struct qf_kv *kv)
{
    if (!kv)
        return;
    fprintf(f, "  %-14s", label);
    cli_write_escaped(f, kv->val.v.s.ptr, (size_t)kv->val.v.s.len, 0, 0, o.full ? 0 : 200);
    fputc('\n', f);
}

static void print_arch_line(FILE *f, const struct qf_arch *a)
{
    char line[512];
    size_t n = 0;
#define ADD(...)                                                                              \
    do {                                                                                      \
        if (n < sizeof line)                                                                  \
            n += (size_t)snprintf(line + n, sizeof line - n, __VA_ARGS__);                    \
    } while (0)
    if (a->known & QF_ARCH_N_LAYER)
        ADD("%s%llu layer%s", n ? ", " : "", (unsigned long long)a->n_layer,
            a->n_layer == 1 ? "" : "s");
    if (a->known & QF_ARCH_N_EMBD)
        ADD("%swidth %llu", n ? ", " : "", (unsigned long long)a->n_embd);
    if (a->known & QF_ARCH_N_FF)
        ADD("%sfeed-forward %llu", n ? ", " : "", (unsigned long long)a->n_ff);
    if (a->known & QF_ARCH_N_HEAD) {
        ADD("%s%llu head%s", n ? ", " : "", (unsigned long long)a->n_head,
            a->n_head == 1 ? "" : "s");
        if ((a->known & QF_ARCH_N_HEAD_KV) && a->n_head_kv != a->n_head)
            ADD(" (%llu KV)", (unsigned long long)a->n_head_kv);
    }
    if (a->known & QF_ARCH_HEAD_DIM) {
        if (a->head_dim_k == a->head_dim_v)
            ADD("%shead size %llu", n ? ", " : "", (unsigned long long)a->head_dim_k);
        else
            ADD("%shead size %llu/%llu", n ? ", " : "", (unsigned long long)a->head_dim_k,
                (unsigned long long)a->head_dim_v);
    }
    if (a->known & QF_ARCH_N_EXPERT && a->n_expert > 1)
        ADD("%s%llu experts (%llu used)", n ? ", " : "", (unsigned long long)a->n_expert,
            (unsigned long long)a->n_expert_used);
    if (a->known & QF_ARCH_N_CTX)
        ADD("%scontext %llu", n ? ", " : "", (unsigned long long)a->n_ctx_train);
    if (a->known & QF_ARCH_N_VOCAB)
        ADD("%svocabulary %llu", n ? ", " : "", (unsigned long long)a->n_vocab);
    if (a->tied_embeddings == 1)
        ADD("%stied embeddings", n ? ", " : "");
#undef ADD
    if (n)
        fprintf(f, "  %-14s%s\n", "shape:", line);
}

static void human_layout_summary(FILE *f, const struct report *r);

static void human_summary(FILE *f, const struct report *r)
{
    struct qf_model *m = r->m;
    char a[32], b[32];
    fprintf(f, "  %-14s%s v%u", "format:", qf_model_format(m), qf_model_version(m));
    if (r->is_gguf)
        fprintf(f, ", %s-endian, alignment %u", qf_model_big_endian(m) ? "big" : "little",
                qf_model_alignment(m));
    fputc('\n', f);
    size_t nf = qf_model_n_files(m);
    if (nf == 1) {
        const struct qf_file_info *fi = qf_model_file(m, 0);
        if (fi->seekable)
            fprintf(f, "  %-14s%llu bytes (%s), header %llu bytes\n", "size:",
                    (unsigned long long)fi->size, cli_human_size(a, sizeof a, fi->size),
                    (unsigned long long)fi->header_size);
        else
            fprintf(f, "  %-14sa stream, header %llu bytes\n", "size:",
                    (unsigned long long)fi->header_size);
    } else {
        uint64_t total = 0;
        for (size_t i = 0; i < nf; i++)
            total += qf_model_file(m, i)->size;
        fprintf(f, "  %-14s%zu, %llu bytes (%s)\n", "files:", nf, (unsigned long long)total,
                cli_human_size(a, sizeof a, total));
        for (size_t i = 0; i < nf; i++) {
            const struct qf_file_info *fi = qf_model_file(m, i);
            fprintf(f, "  %-14s", "");
            cli_write_escaped(f, fi->path, strlen(fi->path), 0, 0, 0);
            fprintf(f, "  %s, %llu bytes\n", fi->role, (unsigned long long)fi->size);
        }
    }
    if (r->arch.name[0]) {
        fprintf(f, "  %-14s", "architecture:");
        cli_write_escaped(f, r->arch.name, strlen(r->arch.name), 0, 0, 0);
        if (r->arch.hf_arch[0]) {
            fputs(" (", f);
            cli_write_escaped(f, r->arch.hf_arch, strlen(r->arch.hf_arch), 0, 0, 0);
            fputc(')', f);
        }
        fputc('\n', f);
    }
    print_arch_line(f, &r->arch);
    print_str_kv(f, "name:", kv_str(m, "general.name"));
    if (r->lab.present) {
        fprintf(f, "  %-14s", r->is_gguf ? "file type:" : "quantization:");
        if (r->lab.ftype >= 0)
            fprintf(f, "%s (%d)", r->lab.text, r->lab.ftype);
        else
            fputs(r->lab.text, f);
        if (r->lab.status == 1)
            fprintf(f, ", matches the tensors\n");
        else if (r->lab.status == 2)
            fprintf(f, ", %llu of %llu %s differ\n", (unsigned long long)r->lab.differing,
                    (unsigned long long)r->lab.checked,
                    r->is_gguf ? "quantizable tensors" : "checked tensors");
        else
            fprintf(f, "%s%s\n", r->lab.detail[0] ? ", not checked: " : "", r->lab.detail);
    }
    if (r->lay)
        human_layout_summary(f, r);
    fprintf(f, "  %-14s%llu\n", "tensors:", (unsigned long long)r->n_tensors);
    uint64_t missing = 0;
    for (size_t i = 0; i < r->n_tensors; i++)
        missing += !qf_model_tensor_complete(m, qf_model_tensor(m, i));
    if (missing)
        fprintf(f, "  %-14s%llu tensors lie past the end of the data (truncated file)\n",
                "incomplete:", (unsigned long long)missing);
    fprintf(f, "  %-14s%llu", "parameters:", (unsigned long long)r->params);
    if (r->params >= 1000)
        fprintf(f, " (%s)", cli_human_count(a, sizeof a, r->params));
    fprintf(f, "\n  %-14s%llu bytes", "tensor data:", (unsigned long long)r->bytes);
    if (r->bytes >= 1024)
        fprintf(f, " (%s)", cli_human_size(b, sizeof b, r->bytes));
    fputc('\n', f);
    if (r->params)
        fprintf(f, "  %-14s%.3f\n", "bits/weight:", (double)r->bytes * 8.0 / (double)r->params);
    int idx[QF_TYPE_END];
    size_t nt = sorted_types(r, idx);
    if (nt) {
        struct cli_table *t = cli_table_new(5);
        cli_table_head(t, 0, "type", 0);
        cli_table_head(t, 1, "tensors", 1);
        cli_table_head(t, 2, "parameters", 1);
        cli_table_head(t, 3, "bytes", 1);
        cli_table_head(t, 4, "share", 1);
        for (size_t i = 0; i < nt; i++) {
            const struct type_stat *s = &r->st[idx[i]];
            cli_table_cell(t, "%s", qf_type_name(idx[i]));
            cli_table_cell(t, "%llu", (unsigned long long)s->tensors);
            cli_table_cell(t, "%llu", (unsigned long long)s->params);
            cli_table_cell(t, "%llu", (unsigned long long)s->bytes);
            cli_table_cell(t, "%.1f%%",
                           r->bytes ? 100.0 * (double)s->bytes / (double)r->bytes : 0.0);
            cli_table_endrow(t);
        }
        fputc('\n', f);
        cli_table_print(t, f, 2);
        cli_table_free(t);
    }
}

static void human_metadata(FILE *f, const struct report *r)
{
    size_t n = qf_model_n_kv(r->m);
    const char *cur_origin = NULL;
    struct cli_table *t = NULL;
    for (size_t i = 0; i <= n; i++) {
        const struct qf_kv *kv = i < n ? qf_model_kv(r->m, i) : NULL;
        const char *origin = kv ? (kv->origin ? kv->origin : "") : NULL;
        if (t && (!kv || strcmp(origin, cur_origin) != 0)) {
            cli_table_print(t, f, 2);
            cli_table_free(t);
            t = NULL;
        }
        if (!kv)
            break;
        if (!t) {
            size_t cnt = 0;
            for (size_t k = i; k < n; k++) {
                const struct qf_kv *x = qf_model_kv(r->m, k);
                if (strcmp(x->origin ? x->origin : "", origin) != 0)
                    break;
                cnt++;
            }
            fprintf(f, "%smetadata", i ? "\n" : "");
            if (*origin) {
                fputs(" (", f);
                cli_write_escaped(f, origin, strlen(origin), 0, 0, 0);
                fputc(')', f);
            }
            fprintf(f, ": %zu key%s\n", cnt, cnt == 1 ? "" : "s");
            t = cli_table_new(3);
            cur_origin = origin;
        }
        cli_table_cell_esc(t, kv->key.ptr, (size_t)kv->key.len, o.full ? 0 : 120);
        char *buf = NULL;
        size_t sz = 0;
        FILE *mf = open_memstream(&buf, &sz);
        if (!mf)
            cli_die(CLI_EXIT_TROUBLE, "out of memory");
        type_label(mf, &kv->val);
        fclose(mf);
        cli_table_cell(t, "%s", buf);
        free(buf);
        buf = NULL;
        mf = open_memstream(&buf, &sz);
        if (!mf)
            cli_die(CLI_EXIT_TROUBLE, "out of memory");
        print_value(mf, &kv->val, 0, 0);
        fclose(mf);
        cli_table_cell(t, "%s", buf);
        free(buf);
        cli_table_endrow(t);
    }
    if (n == 0)
        fprintf(f, "metadata: 0 keys\n");
}

static int lselected(const struct qf_ltensor *t)
{
    if (o.n_globs == 0)
        return 1;
    for (size_t i = 0; i < o.n_globs; i++)
        if (fnmatch(o.globs[i], t->name, 0) == 0)
            return 1;
    return 0;
}

static void fmt_shape(char *shape, size_t n, int nd, const uint64_t *dims)
{
    size_t k = 0;
    k += (size_t)snprintf(shape + k, n - k, "[");
    for (int d = 0; d < nd && k < n; d++)
        k += (size_t)snprintf(shape + k, n - k, "%s%llu", d ? ", " : "",
                              (unsigned long long)dims[d]);
    if (k < n)
        snprintf(shape + k, n - k, "]");
}

/* Layout summary: the layout, how many layers it quantizes and their true bits per weight
 * (every byte of qweight, qzeros, scales and g_idx over out x in). */
static void human_layout_summary(FILE *f, const struct report *r)
{
    size_t n = qf_layout_n_tensors(r->lay), nq = 0;
    uint64_t qb = 0, qe = 0;
    for (size_t i = 0; i < n; i++) {
        const struct qf_ltensor *t = qf_layout_tensor(r->lay, i);
        if (t->family != QF_LAYOUT_PLAIN) {
            nq++;
            qb += t->nbytes;
            qe += t->nelem;
        }
    }
    fprintf(f, "  %-14s%s, %zu logical tensors, %zu quantized", "layout:",
            qf_layout_name(r->lay), n, nq);
    if (qe)
        fprintf(f, " (%.4f bits per weight)", (double)qb * 8.0 / (double)qe);
    fputc('\n', f);
}

static void human_ltensors(FILE *f, const struct report *r)
{
    size_t n = qf_layout_n_tensors(r->lay), shown = 0;
    struct cli_table *t = cli_table_new(6);
    size_t c = 0;
    cli_table_head(t, c++, "#", 1);
    cli_table_head(t, c++, "name", 0);
    cli_table_head(t, c++, "scheme", 0);
    cli_table_head(t, c++, "shape", 0);
    cli_table_head(t, c++, "bytes", 1);
    cli_table_head(t, c++, "bpw", 1);
    for (size_t i = 0; i < n; i++) {
        const struct qf_ltensor *x = qf_layout_tensor(r->lay, i);
        if (!lselected(x))
            continue;
        shown++;
        cli_table_cell(t, "%zu", i);
        cli_table_cell_esc(t, x->name, strlen(x->name), o.full ? 0 : 96);
        cli_table_cell(t, "%s", x->scheme);
        char shape[256];
        fmt_shape(shape, sizeof shape, x->n_dims, x->shape);
        cli_table_cell(t, "%s", shape);
        cli_table_cell(t, "%llu", (unsigned long long)x->nbytes);
        cli_table_cell(t, "%.4f", x->bpw);
        cli_table_endrow(t);
    }
    if (o.n_globs)
        fprintf(f, "logical tensors: %zu of %zu (%zu physical; --raw lists them)\n", shown, n,
                qf_model_n_tensors(r->m));
    else
        fprintf(f, "logical tensors: %zu (%zu physical; --raw lists them)\n", n,
                qf_model_n_tensors(r->m));
    if (shown)
        cli_table_print(t, f, 2);
    cli_table_free(t);
}

static void human_tensors(FILE *f, const struct report *r)
{
    if (r->lay) {
        human_ltensors(f, r);
        return;
    }
    size_t n = qf_model_n_tensors(r->m);
    int multi = qf_model_n_files(r->m) > 1;
    struct cli_table *t = cli_table_new(multi ? 8 : 7);
    size_t c = 0, shown = 0;
    cli_table_head(t, c++, "#", 1);
    cli_table_head(t, c++, "name", 0);
    cli_table_head(t, c++, "type", 0);
    cli_table_head(t, c++, "shape", 0);
    if (multi)
        cli_table_head(t, c++, "file", 1);
    cli_table_head(t, c++, "offset", 1);
    cli_table_head(t, c++, "bytes", 1);
    cli_table_head(t, c++, "bpw", 1);
    for (size_t i = 0; i < n; i++) {
        const struct qf_tensor *x = qf_model_tensor(r->m, i);
        if (!selected(x))
            continue;
        shown++;
        cli_table_cell(t, "%zu", i);
        cli_table_cell_esc(t, x->name, x->name_len, o.full ? 0 : 96);
        cli_table_cell(t, "%s%s", qf_type_name(x->type),
                       qf_model_tensor_complete(r->m, x) ? "" : " (missing)");
        char shape[256];
        size_t k = 0;
        k += (size_t)snprintf(shape + k, sizeof shape - k, "[");
        for (int d = 0; d < x->n_dims && k < sizeof shape; d++)
            k += (size_t)snprintf(shape + k, sizeof shape - k, "%s%llu", d ? ", " : "",
                                  (unsigned long long)x->shape[d]);
        if (k < sizeof shape)
            snprintf(shape + k, sizeof shape - k, "]");
        cli_table_cell(t, "%s", shape);
        if (multi)
            cli_table_cell(t, "%d", x->file_index);
        cli_table_cell(t, "%llu", (unsigned long long)x->offset);
        cli_table_cell(t, "%llu", (unsigned long long)x->nbytes);
        cli_table_cell(t, "%.2f", tensor_bpw(x));
        cli_table_endrow(t);
    }
    if (o.n_globs)
        fprintf(f, "tensors: %zu of %zu\n", shown, n);
    else
        fprintf(f, "tensors: %zu\n", n);
    if (shown)
        cli_table_print(t, f, 2);
    cli_table_free(t);
}

static const char *kv_type_name(void)
{
    return qf_type_name(o.kv_type);
}

static void human_memory(FILE *f, const struct report *r)
{
    char a[32];
    uint64_t ctx = effective_ctx(r);
    struct qf_mem_estimate me;
    int rc = ctx ? qf_arch_mem_estimate(&r->arch, ctx, o.n_batch, o.kv_type, o.kv_type, &me)
                 : QF_EINVAL;
    if (ctx)
        fprintf(f, "memory: context %llu, batch %llu, KV cache %s\n", (unsigned long long)ctx,
                (unsigned long long)(o.n_batch < ctx ? o.n_batch : ctx), kv_type_name());
    else
        fprintf(f, "memory:\n");
    struct cli_table *t = cli_table_new(4);
    cli_table_cell(t, "weights");
    cli_table_cell(t, "%llu", (unsigned long long)r->bytes);
    cli_table_cell(t, "%s", cli_human_size(a, sizeof a, r->bytes));
    cli_table_endrow(t);
    if (rc == QF_OK) {
        cli_table_cell(t, "KV cache");
        cli_table_cell(t, "%llu", (unsigned long long)me.kv_bytes);
        cli_table_cell(t, "%s", cli_human_size(a, sizeof a, me.kv_bytes));
        if (r->arch.known & QF_ARCH_KV_PER_LAYER)
            cli_table_cell(t, "%llu tokens x %llu KV heads over all layers x (%llu + %llu) x %s",
                           (unsigned long long)ctx, (unsigned long long)r->arch.kv_layers_sum,
                           (unsigned long long)r->arch.head_dim_k,
                           (unsigned long long)r->arch.head_dim_v, kv_type_name());
        else
            cli_table_cell(t, "%llu layers x %llu tokens x %llu KV heads x (%llu + %llu) x %s",
                           (unsigned long long)r->arch.n_layer, (unsigned long long)ctx,
                           (unsigned long long)r->arch.n_head_kv,
                           (unsigned long long)r->arch.head_dim_k,
                           (unsigned long long)r->arch.head_dim_v, kv_type_name());
        cli_table_endrow(t);
        cli_table_cell(t, "compute (est.)");
        cli_table_cell(t, "%llu", (unsigned long long)me.compute_bytes);
        cli_table_cell(t, "%s", cli_human_size(a, sizeof a, me.compute_bytes));
        cli_table_cell(t, "logits, activations, one layer's attention scores (F32)");
        cli_table_endrow(t);
        uint64_t total = sat_add(sat_add(r->bytes, me.kv_bytes), me.compute_bytes);
        cli_table_cell(t, "total");
        cli_table_cell(t, "%llu", (unsigned long long)total);
        cli_table_cell(t, "%s", cli_human_size(a, sizeof a, total));
        cli_table_endrow(t);
    }
    cli_table_print(t, f, 2);
    cli_table_free(t);
    if (rc != QF_OK) {
        if (!ctx)
            fprintf(f, "  KV cache: unknown context length (use --ctx)\n");
        else if (rc == QF_EFORMAT)
            fprintf(f, "  KV cache: head size %llu is not a multiple of the %s block\n",
                    (unsigned long long)r->arch.head_dim_k, kv_type_name());
        else if (rc == QF_ELIMIT)
            fprintf(f, "  KV cache: too large to count in 64 bits\n");
        else
            fprintf(f, "  KV cache: the architecture facts are incomplete (layers, KV heads, "
                       "head size)\n");
    }

    struct whatif w[N_WHATIF];
    compute_whatif(r, w);
    fprintf(f, "\nsize by llama-quantize type (default mix, this model's tensor shapes):\n");
    t = cli_table_new(5);
    cli_table_head(t, 0, "type", 0);
    cli_table_head(t, 1, "bytes", 1);
    cli_table_head(t, 2, "size", 1);
    cli_table_head(t, 3, "bpw", 1);
    cli_table_head(t, 4, "tensor types", 0);
    for (size_t k = 0; k < N_WHATIF; k++) {
        cli_table_cell(t, "%s", qf_ftype_name(w[k].ftype));
        if (!w[k].ok) {
            cli_table_cell(t, "-");
            cli_table_cell(t, "-");
            cli_table_cell(t, "-");
            cli_table_cell_esc(t, w[k].why, strlen(w[k].why), 0);
            cli_table_endrow(t);
            continue;
        }
        cli_table_cell(t, "%llu", (unsigned long long)w[k].bytes);
        cli_table_cell(t, "%s", cli_human_size(a, sizeof a, w[k].bytes));
        cli_table_cell(t, "%.2f", r->params ? (double)w[k].bytes * 8.0 / (double)r->params : 0.0);
        char mix[256];
        size_t n = 0;
        mix[0] = '\0';
        for (int ty = 0; ty < QF_TYPE_END && n < sizeof mix; ty++)
            if (w[k].type_count[ty])
                n += (size_t)snprintf(mix + n, sizeof mix - n, "%s%s x%llu", n ? " " : "",
                                      qf_type_name(ty), (unsigned long long)w[k].type_count[ty]);
        cli_table_cell(t, "%s", mix);
        cli_table_endrow(t);
    }
    cli_table_print(t, f, 2);
    cli_table_free(t);
}

static void human_report(FILE *f, const struct report *r, int first)
{
    if (!first)
        fputc('\n', f);
    fputs(cli_c(CLI_C_BOLD), f);
    cli_write_escaped(f, r->path, strlen(r->path), 0, 0, 0);
    fprintf(f, "%s\n", *cli_c(CLI_C_BOLD) ? cli_c(CLI_C_RESET) : "");
    int need_gap = 0;
    if (o.sections & SEC_SUMMARY) {
        human_summary(f, r);
        need_gap = 1;
    }
    if (o.sections & SEC_METADATA) {
        if (need_gap)
            fputc('\n', f);
        human_metadata(f, r);
        need_gap = 1;
    }
    if (o.sections & SEC_TENSORS) {
        if (need_gap)
            fputc('\n', f);
        human_tensors(f, r);
        need_gap = 1;
    }
    if (o.sections & SEC_MEMORY) {
        if (need_gap)
            fputc('\n', f);
        human_memory(f, r);
    }
}

/* ---------------------------------------------------------------------------------------
 * JSON output
 */
static json_t *json_tensor(const struct report *r, const struct qf_tensor *t, int with_path)
{
    json_t *j = json_object();
    if (with_path)
        jset(j, "path", jstr(r->path));
    jset(j, "index", ju64(t->index));
    jset(j, "name", jstrn(t->name, t->name_len));
    jset(j, "type", jstr(qf_type_name(t->type)));
    json_t *shape = json_array(), *ne = json_array();
    for (int d = 0; d < t->n_dims; d++) {
        json_array_append_new(shape, ju64(t->shape[d]));
        json_array_append_new(ne, ju64(t->shape[t->n_dims - 1 - d]));
    }
    jset(j, "shape", shape);
    jset(j, "ne", ne);
    jset(j, "elements", ju64(t->nelem));
    jset(j, "file", json_integer(t->file_index));
    jset(j, "offset", ju64(t->offset));
    jset(j, "data_offset", ju64(t->data_offset));
    jset(j, "bytes", ju64(t->nbytes));
    jset(j, "bpw", jfixed(tensor_bpw(t), 4));
    jset(j, "complete", json_boolean(qf_model_tensor_complete(r->m, t)));
    return j;
}

static json_t *json_ltensor(const struct qf_ltensor *t)
{
    json_t *j = json_object();
    jset(j, "name", jstr(t->name));
    jset(j, "scheme", jstr(t->scheme));
    json_t *shape = json_array();
    for (int d = 0; d < t->n_dims; d++)
        json_array_append_new(shape, ju64(t->shape[d]));
    jset(j, "shape", shape);
    jset(j, "elements", ju64(t->nelem));
    jset(j, "bytes", ju64(t->nbytes));
    jset(j, "bpw", jfixed(t->bpw, 4));
    json_t *parts = json_array();
    for (size_t k = 0; k < t->n_parts; k++)
        if (t->parts[k])
            json_array_append_new(parts, jstr(t->parts[k]->name));
    jset(j, "parts", parts);
    return j;
}

static json_t *json_layout(const struct report *r)
{
    json_t *j = json_object();
    size_t n = qf_layout_n_tensors(r->lay), nq = 0;
    uint64_t qb = 0, qe = 0;
    for (size_t i = 0; i < n; i++) {
        const struct qf_ltensor *t = qf_layout_tensor(r->lay, i);
        if (t->family != QF_LAYOUT_PLAIN) {
            nq++;
            qb += t->nbytes;
            qe += t->nelem;
        }
    }
    jset(j, "name", jstr(qf_layout_name(r->lay)));
    jset(j, "logical_tensors", ju64(n));
    jset(j, "quantized", ju64(nq));
    jset(j, "quantized_bits_per_weight", qe ? jfixed((double)qb * 8.0 / (double)qe, 4) : json_null());
    json_t *warn = json_array();
    for (size_t i = 0; qf_layout_warning(r->lay, i); i++)
        json_array_append_new(warn, jstr(qf_layout_warning(r->lay, i)));
    jset(j, "warnings", warn);
    if (o.sections & SEC_TENSORS) {
        json_t *ts = json_array();
        for (size_t i = 0; i < n; i++) {
            const struct qf_ltensor *t = qf_layout_tensor(r->lay, i);
            if (lselected(t))
                json_array_append_new(ts, json_ltensor(t));
        }
        jset(j, "tensors", ts);
    }
    return j;
}

static json_t *json_arch(const struct qf_arch *a)
{
    json_t *j = json_object();
    jset(j, "name", a->name[0] ? jstr(a->name) : json_null());
    jset(j, "hf_architecture", a->hf_arch[0] ? jstr(a->hf_arch) : json_null());
    jset(j, "source", a->source[0] ? jstr(a->source) : json_null());
#define F(key, bit, val) jset(j, key, (a->known & (bit)) ? ju64(val) : json_null())
    F("n_layer", QF_ARCH_N_LAYER, a->n_layer);
    F("n_embd", QF_ARCH_N_EMBD, a->n_embd);
    F("n_ff", QF_ARCH_N_FF, a->n_ff);
    F("n_head", QF_ARCH_N_HEAD, a->n_head);
    F("n_head_kv", QF_ARCH_N_HEAD_KV, a->n_head_kv);
    F("head_dim_k", QF_ARCH_HEAD_DIM, a->head_dim_k);
    F("head_dim_v", QF_ARCH_HEAD_DIM, a->head_dim_v);
    F("n_ctx_train", QF_ARCH_N_CTX, a->n_ctx_train);
    F("n_vocab", QF_ARCH_N_VOCAB, a->n_vocab);
    F("n_expert", QF_ARCH_N_EXPERT, a->n_expert);
#undef F
    jset(j, "tied_embeddings", a->tied_embeddings < 0 ? json_null()
                                                      : json_boolean(a->tied_embeddings));
    return j;
}

static json_t *json_label(const struct report *r)
{
    const struct label *l = &r->lab;
    if (!l->present)
        return json_null();
    json_t *j = json_object();
    jset(j, "source", jstr(l->source));
    jset(j, "label", jstr(l->text));
    jset(j, "ftype", l->ftype >= 0 ? json_integer(l->ftype) : json_null());
    jset(j, "status", jstr(l->status == 1 ? "match" : l->status == 2 ? "mismatch" : "unchecked"));
    jset(j, "checked", ju64(l->checked));
    jset(j, "differing", ju64(l->differing));
    jset(j, "detail", l->detail[0] ? jstr(l->detail) : json_null());
    jset(j, "differences", l->diffs ? json_incref(l->diffs) : json_array());
    return j;
}

static json_t *json_summary(const struct report *r)
{
    json_t *j = json_object();
    const struct qf_kv *nm = kv_str(r->m, "general.name");
    jset(j, "architecture", r->arch.name[0] ? jstr(r->arch.name) : json_null());
    jset(j, "name", nm ? jstrn(nm->val.v.s.ptr, (size_t)nm->val.v.s.len) : json_null());
    if (r->lab.ftype >= 0) {
        json_t *ft = json_object();
        jset(ft, "id", json_integer(r->lab.ftype));
        jset(ft, "name", jstr(r->lab.text));
        jset(j, "file_type", ft);
    } else {
        jset(j, "file_type", json_null());
    }
    jset(j, "tensors", ju64(r->n_tensors));
    jset(j, "parameters", ju64(r->params));
    jset(j, "tensor_bytes", ju64(r->bytes));
    jset(j, "bits_per_weight",
         r->params ? jfixed((double)r->bytes * 8.0 / (double)r->params, 4) : json_null());
    json_t *types = json_array();
    int idx[QF_TYPE_END];
    size_t nt = sorted_types(r, idx);
    for (size_t i = 0; i < nt; i++) {
        const struct type_stat *s = &r->st[idx[i]];
        json_t *x = json_object();
        jset(x, "type", jstr(qf_type_name(idx[i])));
        jset(x, "tensors", ju64(s->tensors));
        jset(x, "parameters", ju64(s->params));
        jset(x, "bytes", ju64(s->bytes));
        jset(x, "share", jfixed(r->bytes ? (double)s->bytes / (double)r->bytes : 0.0, 4));
        json_array_append_new(types, x);
    }
    jset(j, "types", types);
    return j;
}

static json_t *json_metadata(const struct report *r)
{
    json_t *j = json_object();
    size_t n = qf_model_n_kv(r->m);
    for (size_t i = 0; i < n; i++) {
        const struct qf_kv *kv = qf_model_kv(r->m, i);
        json_t *e = json_object();
        const struct qf_value *v = &kv->val;
        jset(e, "type", jstr(qf_vtype_name(v->type)));
        if (v->type == QF_V_ARRAY) {
            jset(e, "element_type", jstr(qf_vtype_name(v->v.a.etype)));
            jset(e, "count", ju64(v->v.a.count));
        }
        if (kv->origin && *kv->origin)
            jset(e, "origin", jstr(kv->origin));
        uint64_t budget = o.full ? UINT64_MAX : JSON_ARRAY_BUDGET;
        int cut = 0;
        json_t *val = json_value(v, 0, &budget, &cut);
        if (v->type == QF_V_ARRAY)
            jset(e, "truncated", json_boolean(cut));
        jset(e, "value", val);
        /* the key as valid UTF-8; a key seen before gets "@origin" or "#index" appended */
        json_t *ks = jstrn(kv->key.ptr, (size_t)kv->key.len);
        const char *k = json_string_value(ks);
        char *alt = NULL;
        if (!k || strlen(k) != json_string_length(ks) || json_object_get(j, k)) {
            size_t need = json_string_length(ks) + 64 + (kv->origin ? strlen(kv->origin) : 0);
            alt = malloc(need);
            if (!alt)
                cli_die(CLI_EXIT_TROUBLE, "out of memory");
            size_t kl = k ? strlen(k) : 0;
            memcpy(alt, k ? k : "", kl);
            if (kv->origin && *kv->origin && json_object_get(j, k ? k : "") &&
                strlen(k) == json_string_length(ks))
                snprintf(alt + kl, need - kl, "@%s", kv->origin);
            else
                snprintf(alt + kl, need - kl, "#%zu", i);
            if (json_object_get(j, alt))
                snprintf(alt + kl, need - kl, "#%zu", i);
        }
        jset(j, alt ? alt : k, e);
        free(alt);
        json_decref(ks);
    }
    return j;
}

static json_t *json_memory(const struct report *r)
{
    json_t *j = json_object();
    uint64_t ctx = effective_ctx(r);
    struct qf_mem_estimate me;
    int rc = ctx ? qf_arch_mem_estimate(&r->arch, ctx, o.n_batch, o.kv_type, o.kv_type, &me)
                 : QF_EINVAL;
    jset(j, "n_ctx", ctx ? ju64(ctx) : json_null());
    jset(j, "n_batch", ju64(ctx && o.n_batch > ctx ? ctx : o.n_batch));
    jset(j, "kv_type", jstr(kv_type_name()));
    jset(j, "weights_bytes", ju64(r->bytes));
    if (rc == QF_OK) {
        jset(j, "k_bytes", ju64(me.k_bytes));
        jset(j, "v_bytes", ju64(me.v_bytes));
        jset(j, "kv_bytes", ju64(me.kv_bytes));
        jset(j, "compute_bytes_estimate", ju64(me.compute_bytes));
        jset(j, "total_bytes", ju64(sat_add(sat_add(r->bytes, me.kv_bytes), me.compute_bytes)));
        jset(j, "error", json_null());
    } else {
        jset(j, "k_bytes", json_null());
        jset(j, "v_bytes", json_null());
        jset(j, "kv_bytes", json_null());
        jset(j, "compute_bytes_estimate", json_null());
        jset(j, "total_bytes", json_null());
        jset(j, "error", jstr(!ctx ? "unknown context length"
                              : rc == QF_EFORMAT ? "head size not a multiple of the KV type's block"
                              : rc == QF_ELIMIT  ? "too large to count in 64 bits"
                                                 : "incomplete architecture facts"));
    }
    return j;
}

static json_t *json_whatif(const struct report *r)
{
    struct whatif w[N_WHATIF];
    compute_whatif(r, w);
    json_t *a = json_array();
    for (size_t k = 0; k < N_WHATIF; k++) {
        json_t *x = json_object();
        jset(x, "ftype", jstr(qf_ftype_name(w[k].ftype)));
        jset(x, "id", json_integer(w[k].ftype));
        if (w[k].ok) {
            jset(x, "bytes", ju64(w[k].bytes));
            jset(x, "bits_per_weight",
                 r->params ? jfixed((double)w[k].bytes * 8.0 / (double)r->params, 4)
                           : json_null());
            json_t *tc = json_object();
            for (int ty = 0; ty < QF_TYPE_END; ty++)
                if (w[k].type_count[ty])
                    jset(tc, qf_type_name(ty), ju64(w[k].type_count[ty]));
            jset(x, "types", tc);
            jset(x, "refused", json_null());
        } else {
            jset(x, "bytes", json_null());
            jset(x, "bits_per_weight", json_null());
            jset(x, "types", json_null());
            jset(x, "refused", jstr(w[k].why));
        }
        json_array_append_new(a, x);
    }
    return a;
}

static json_t *json_report(const struct report *r)
{
    struct qf_model *m = r->m;
    json_t *j = json_object();
    jset(j, "path", jstr(r->path));
    jset(j, "format", jstr(qf_model_format(m)));
    jset(j, "version", json_integer(qf_model_version(m)));
    jset(j, "big_endian", json_boolean(qf_model_big_endian(m)));
    jset(j, "alignment", r->is_gguf ? json_integer(qf_model_alignment(m)) : json_null());
    json_t *files = json_array();
    for (size_t i = 0; i < qf_model_n_files(m); i++) {
        const struct qf_file_info *fi = qf_model_file(m, i);
        json_t *x = json_object();
        jset(x, "path", jstr(fi->path));
        jset(x, "role", jstr(fi->role));
        jset(x, "size", ju64(fi->size));
        jset(x, "header_size", ju64(fi->header_size));
        json_array_append_new(files, x);
    }
    jset(j, "files", files);
    json_t *warn = json_array();
    for (size_t i = 0; qf_model_warning(m, i); i++)
        json_array_append_new(warn, jstr(qf_model_warning(m, i)));
    jset(j, "warnings", warn);
    if (o.sections & SEC_SUMMARY) {
        jset(j, "summary", json_summary(r));
        jset(j, "architecture", json_arch(&r->arch));
        jset(j, "label_check", json_label(r));
    }
    if (o.sections & SEC_METADATA)
        jset(j, "metadata", json_metadata(r));
    if (r->lay)
        jset(j, "layout", json_layout(r));
    if (o.sections & SEC_TENSORS) {
        json_t *ts = json_array();
        for (size_t i = 0; i < qf_model_n_tensors(m); i++) {
            const struct qf_tensor *t = qf_model_tensor(m, i);
            if (selected(t))
                json_array_append_new(ts, json_tensor(r, t, 0));
        }
        jset(j, "tensors", ts);
    }
    if (o.sections & SEC_MEMORY) {
        jset(j, "memory", json_memory(r));
        jset(j, "what_if", json_whatif(r));
    }
    return j;
}

/* ---------------------------------------------------------------------------------------
 * Driver
 */
static void version_extra(FILE *f)
{
    fprintf(f, "jansson %s\n", JANSSON_VERSION);
}

static void parse_args(int argc, char **argv, struct cli_parser *p)
{
    memset(&o, 0, sizeof o);
    o.n_batch = 512;
    o.kv_type = QF_TYPE_F16;
    o.common.progress = -1;
    unsigned sel = 0;
    int mem = 0;
    cli_opt_init(p, &tool, opts, argc, argv);
    const char *arg;
    int id;
    while ((id = cli_opt_next(p, &arg)) != -1) {
        if (cli_opt_common(p, id, arg, &o.common, version_extra))
            continue;
        switch (id) {
        case 's': sel |= SEC_SUMMARY; break;
        case 'm': sel |= SEC_METADATA; break;
        case 't': sel |= SEC_TENSORS; break;
        case 'T':
            sel |= SEC_TENSORS;
            o.globs = realloc(o.globs, (o.n_globs + 1) * sizeof *o.globs);
            if (!o.globs)
                cli_die(CLI_EXIT_TROUBLE, "out of memory");
            o.globs[o.n_globs++] = arg;
            break;
        case 'M': sel |= SEC_MEMORY; break;
        case 'a': sel |= SEC_SUMMARY | SEC_METADATA | SEC_TENSORS | SEC_MEMORY; break;
        case 'j': o.json = 1; break;
        case OPT_NDJSON: o.ndjson = 1; break;
        case OPT_FULL: o.full = 1; break;
        case OPT_CTX:
            o.n_ctx = cli_parse_count("ctx", arg, 1ull << 40);
            if (o.n_ctx == 0)
                cli_usage_die("option '--ctx' needs a length of at least 1");
            mem = 1;
            break;
        case OPT_BATCH:
            o.n_batch = cli_parse_count("batch", arg, 1ull << 40);
            if (o.n_batch == 0)
                cli_usage_die("option '--batch' needs a size of at least 1");
            break;
        case OPT_KV_TYPE: {
            int t = qf_type_from_name(arg);
            const struct qf_type_info *ti = t >= 0 ? qf_type_info(t) : NULL;
            if (!ti || !(ti->flags & QF_TYPEF_VALID) || !(ti->flags & QF_TYPEF_GGUF) ||
                (ti->flags & QF_TYPEF_INT)) {
                char w[64];
                cli_usage_die("unknown KV cache type '%s'", cli_escape(w, sizeof w, arg, strlen(arg)));
            }
            o.kv_type = t;
            break;
        }
        case OPT_PARTIAL: o.open_flags |= QF_OPEN_PARTIAL; break;
        case OPT_NO_SET: o.open_flags |= QF_OPEN_NO_SET; break;
        case OPT_RAW: o.raw = 1; break;
        default: cli_usage_die("unhandled option");
        }
    }
    if (mem)
        sel |= SEC_MEMORY;
    if (o.json && o.ndjson)
        cli_usage_die("options '--json' and '--ndjson' exclude each other");
    if (sel)
        o.sections = sel;
    else
        o.sections = o.json ? (SEC_SUMMARY | SEC_METADATA | SEC_TENSORS) : SEC_SUMMARY;
    if (cli_opt_rest(p) >= argc)
        cli_usage_die("no input files");
}

static void make_nonce(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ ((uint64_t)getpid() << 40) ^
                 (uint64_t)(uintptr_t)&ts;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    snprintf(nonce, sizeof nonce, "qf%016llx", (unsigned long long)x);
}

int main(int argc, char **argv)
{
    struct cli_parser p;
    parse_args(argc, argv, &p);
    make_nonce();
    cli_color_init(-1);

    int status = CLI_EXIT_OK, trouble = 0, mismatch = 0, first = 1;
    json_t *doc = NULL, *models = NULL, *errors = NULL;
    if (o.json) {
        doc = json_object();
        models = json_array();
        errors = json_array();
        jset(doc, "qinspect", json_integer(1));
        jset(doc, "models", models);
        jset(doc, "errors", errors);
    }
    for (int i = cli_opt_rest(&p); i < argc; i++) {
        const char *path = argv[i];
        struct report r;
        memset(&r, 0, sizeof r);
        r.path = path;
        struct qf_error err;
        qf_error_clear(&err);
        unsigned flags = o.open_flags;
        if (strcmp(path, "-") == 0)
            flags |= QF_OPEN_HEADER_ONLY;
        int rc = qf_model_open(path, o.common.format, flags, &r.m, &err);
        if (rc != QF_OK) {
            char q[600];
            if (err.msg[0])
                cli_error("%s", err.msg);
            else
                cli_error("cannot open '%s': %s", cli_escape(q, sizeof q, path, strlen(path)),
                          qf_strerror(rc));
            if (errors) {
                json_t *e = json_object();
                jset(e, "path", jstr(path));
                jset(e, "message", jstr(err.msg[0] ? err.msg : qf_strerror(rc)));
                json_array_append_new(errors, e);
            }
            trouble = 1;
            continue;
        }
        const char *fmt = qf_model_format(r.m);
        r.is_gguf = fmt && strcmp(fmt, "gguf") == 0;
        collect(&r);
        if (r.is_gguf)
            check_gguf_label(&r);
        else
            check_st_label(&r);
        for (size_t k = 0; qf_model_warning(r.m, k); k++)
            cli_warn("%s", qf_model_warning(r.m, k));
        if (r.quantized_layout && !o.raw) {
            /* a layout the library cannot read falls back to the physical view (a method it
             * does not know: a note; inconsistent parts: trouble) */
            qf_error_clear(&err);
            int lrc = qf_layout_scan(r.m, 0, &r.lay, &err);
            if (lrc != QF_OK) {
                r.lay = NULL;
                if (lrc == QF_EUNSUPPORTED) {
                    cli_info(3, "%s (listing physical tensors)", err.msg);
                } else {
                    /* malformed (exit 2), also when the label mismatch below explains it */
                    if (r.lab.status != 2)
                        cli_error("%s (listing physical tensors)", err.msg);
                    trouble = 1;
                }
            } else {
                for (size_t k = 0; qf_layout_warning(r.lay, k); k++)
                    cli_warn("%s", qf_layout_warning(r.lay, k));
            }
        }
        if (r.lab.status == 2) {
            char q[600];
            mismatch = 1;
            cli_warn("'%s': %s %s does not match the tensors: %llu of %llu %s differ (%s)",
                     cli_escape(q, sizeof q, path, strlen(path)), r.lab.source, r.lab.text,
                     (unsigned long long)r.lab.differing, (unsigned long long)r.lab.checked,
                     r.is_gguf ? "quantizable tensors" : "checked tensors", r.lab.detail);
            /* -v: every difference (the first 64) */
            for (size_t k = 0; cli_level >= 3 && k < json_array_size(r.lab.diffs); k++) {
                json_t *d = json_array_get(r.lab.diffs, k);
                const char *tn = json_string_value(json_object_get(d, "tensor"));
                char tq[300];
                cli_info(3, "'%s': '%s' is %s, expected %s",
                         cli_escape(q, sizeof q, path, strlen(path)),
                         cli_escape(tq, sizeof tq, tn ? tn : "", tn ? strlen(tn) : 0),
                         json_string_value(json_object_get(d, "type")),
                         json_string_value(json_object_get(d, "expected")));
            }
        }
        if (o.json) {
            json_array_append_new(models, json_report(&r));
        } else if (o.ndjson) {
            for (size_t k = 0; k < qf_model_n_tensors(r.m); k++) {
                const struct qf_tensor *t = qf_model_tensor(r.m, k);
                if (!selected(t))
                    continue;
                json_t *x = json_tensor(&r, t, 1);
                char *s = jdump(x);
                fprintf(stdout, "%s\n", s);
                free(s);
                json_decref(x);
            }
        } else {
            human_report(stdout, &r, first);
            first = 0;
        }
        json_decref(r.lab.diffs);
        qf_layout_free(r.lay);
        qf_model_close(r.m);
    }
    if (doc) {
        char *s = jdump(doc);
        fprintf(stdout, "%s\n", s);
        free(s);
        json_decref(doc);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error("cannot write to standard output");
        trouble = 1;
    }
    free(o.globs);
    cli_opt_release(&p);
    if (trouble)
        status = CLI_EXIT_TROUBLE;
    else if (mismatch)
        status = CLI_EXIT_NO;
    return status;
}
