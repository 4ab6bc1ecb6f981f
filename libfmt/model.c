/* model.c - the model: builder used by the format modules, accessors, open and read. */
#include "qf_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *qf_version(void)
{
    return QF_VERSION_STRING;
}

int qfi_grow(void **p, size_t *cap, size_t need, size_t sz)
{
    if (need <= *cap)
        return QF_OK;
    size_t nc = *cap ? *cap : 16;
    while (nc < need) {
        if (nc > SIZE_MAX / 2 / sz)
            return QF_ENOMEM;
        nc *= 2;
    }
    void *q = realloc(*p, nc * sz);
    if (!q)
        return QF_ENOMEM;
    *p = q;
    *cap = nc;
    return QF_OK;
}

int qfi_strv_vaddf(char ***v, size_t *n, size_t *cap, const char *fmt, va_list ap)
{
    char buf[1024];
    vsnprintf(buf, sizeof buf, fmt, ap);
    char *c = strdup(buf);
    if (!c || qfi_grow((void **)v, cap, *n + 1, sizeof **v)) {
        free(c);
        return QF_ENOMEM;
    }
    (*v)[(*n)++] = c;
    return QF_OK;
}

struct qf_model *qfi_model_new(const char *format)
{
    struct qf_model *m = calloc(1, sizeof *m);
    if (m)
        m->format = format;
    return m;
}

void qf_model_close(struct qf_model *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_files; i++) {
        qfi_source_close(m->files[i].src);
        free(m->files[i].owned_header);
    }
    for (size_t i = 0; i < m->n_warnings; i++)
        free(m->warnings[i]);
    for (size_t i = 0; i < m->n_owned; i++)
        free(m->owned[i]);
    free(m->files);
    free(m->kv);
    free(m->tensors);
    free(m->warnings);
    free(m->owned);
    free(m->tindex);
    free(m);
}

int qfi_model_keep(struct qf_model *m, void *p)
{
    if (qfi_grow((void **)&m->owned, &m->cap_owned, m->n_owned + 1, sizeof *m->owned)) {
        free(p);
        return QF_ENOMEM;
    }
    m->owned[m->n_owned++] = p;
    return QF_OK;
}

char *qfi_model_strndup(struct qf_model *m, const char *s, size_t len)
{
    if (len == SIZE_MAX)
        return NULL;
    char *p = malloc(len + 1);
    if (!p)
        return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return qfi_model_keep(m, p) ? NULL : p;
}

int qfi_model_add_file(struct qf_model *m, struct qfi_source *src, const char *role,
                       struct qf_error *err)
{
    if (m->n_files >= QFI_MAX_FILES ||
        qfi_grow((void **)&m->files, &m->cap_files, m->n_files + 1, sizeof *m->files)) {
        qfi_source_close(src);
        return qfi_error(err, QF_ENOMEM, 0, src ? src->path : NULL, -1, "too many files");
    }
    struct qfi_file *f = &m->files[m->n_files];
    memset(f, 0, sizeof *f);
    f->src = src;
    f->info.path = src->path;
    f->info.size = src->size;
    f->info.role = role;
    f->info.seekable = src->seekable;
    return (int)m->n_files++;
}

int qfi_model_add_kv(struct qf_model *m, const struct qf_kv *kv, struct qf_error *err)
{
    if (m->n_kv >= QFI_MAX_KV)
        return qfi_error(err, QF_ELIMIT, 0, NULL, -1, "more than %llu metadata records",
                         (unsigned long long)QFI_MAX_KV);
    if (qfi_grow((void **)&m->kv, &m->cap_kv, m->n_kv + 1, sizeof *m->kv))
        return qfi_error(err, QF_ENOMEM, ENOMEM, NULL, -1, "out of memory");
    m->kv[m->n_kv] = *kv;
    if (!m->kv[m->n_kv].origin)
        m->kv[m->n_kv].origin = "";
    m->n_kv++;
    return QF_OK;
}

int qfi_model_add_tensor(struct qf_model *m, const struct qf_tensor *t, struct qf_error *err)
{
    if (m->n_tensors >= QFI_MAX_TENSORS)
        return qfi_error(err, QF_ELIMIT, 0, NULL, -1, "more than %llu tensors",
                         (unsigned long long)QFI_MAX_TENSORS);
    if (qfi_grow((void **)&m->tensors, &m->cap_tensors, m->n_tensors + 1, sizeof *m->tensors))
        return qfi_error(err, QF_ENOMEM, ENOMEM, NULL, -1, "out of memory");
    m->tensors[m->n_tensors] = *t;
    m->tensors[m->n_tensors].index = m->n_tensors;
    m->n_tensors++;
    free(m->tindex); /* stale */
    m->tindex = NULL;
    m->tindex_cap = 0;
    return QF_OK;
}

static uint64_t hash_name(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

int qfi_model_index_tensors(struct qf_model *m, size_t *dup)
{
    free(m->tindex);
    m->tindex = NULL;
    size_t cap = 16;
    while (cap < m->n_tensors * 2)
        cap *= 2;
    uint32_t *tab = malloc(cap * sizeof *tab);
    if (!tab)
        return QF_ENOMEM;
    memset(tab, 0xff, cap * sizeof *tab);
    for (size_t i = 0; i < m->n_tensors; i++) {
        const struct qf_tensor *t = &m->tensors[i];
        size_t h = (size_t)hash_name(t->name, t->name_len) & (cap - 1);
        while (tab[h] != UINT32_MAX) {
            const struct qf_tensor *o = &m->tensors[tab[h]];
            if (o->name_len == t->name_len && memcmp(o->name, t->name, t->name_len) == 0) {
                free(tab);
                if (dup)
                    *dup = i;
                return QF_EFORMAT;
            }
            h = (h + 1) & (cap - 1);
        }
        tab[h] = (uint32_t)i;
    }
    m->tindex = tab;
    m->tindex_cap = cap;
    return QF_OK;
}

int qfi_model_warn(struct qf_model *m, const char *fmt, ...)
{
    if (m->n_warnings >= 1000)
        return QF_OK; /* enough said */
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char *s = strdup(buf);
    if (!s || qfi_grow((void **)&m->warnings, &m->cap_warnings, m->n_warnings + 1, sizeof *m->warnings)) {
        free(s);
        return QF_ENOMEM;
    }
    m->warnings[m->n_warnings++] = s;
    return QF_OK;
}

/* ---------------------------------------------------------------------------------------
 * Accessors */
const char *qf_model_format(const struct qf_model *m) { return m->format; }
uint32_t qf_model_version(const struct qf_model *m) { return m->version; }
int qf_model_big_endian(const struct qf_model *m) { return m->big_endian; }
uint32_t qf_model_alignment(const struct qf_model *m) { return m->alignment; }
size_t qf_model_n_files(const struct qf_model *m) { return m->n_files; }
size_t qf_model_n_kv(const struct qf_model *m) { return m->n_kv; }
size_t qf_model_n_tensors(const struct qf_model *m) { return m->n_tensors; }

const struct qf_file_info *qf_model_file(const struct qf_model *m, size_t i)
{
    return i < m->n_files ? &m->files[i].info : NULL;
}

const struct qf_kv *qf_model_kv(const struct qf_model *m, size_t i)
{
    return i < m->n_kv ? &m->kv[i] : NULL;
}

const struct qf_kv *qf_model_find_kv(const struct qf_model *m, const char *key)
{
    size_t len = strlen(key);
    for (size_t i = 0; i < m->n_kv; i++)
        if (m->kv[i].key.len == len && memcmp(m->kv[i].key.ptr, key, len) == 0)
            return &m->kv[i];
    return NULL;
}

const struct qf_tensor *qf_model_tensor(const struct qf_model *m, size_t i)
{
    return i < m->n_tensors ? &m->tensors[i] : NULL;
}

const struct qf_tensor *qf_model_find_tensor(const struct qf_model *m, const char *name)
{
    size_t len = strlen(name);
    if (!m->tindex) { /* the index is built at open; without it (no memory), scan */
        for (size_t i = 0; i < m->n_tensors; i++)
            if (m->tensors[i].name_len == len && memcmp(m->tensors[i].name, name, len) == 0)
                return &m->tensors[i];
        return NULL;
    }
    size_t h = (size_t)hash_name(name, len) & (m->tindex_cap - 1);
    while (m->tindex[h] != UINT32_MAX) {
        const struct qf_tensor *t = &m->tensors[m->tindex[h]];
        if (t->name_len == len && memcmp(t->name, name, len) == 0)
            return t;
        h = (h + 1) & (m->tindex_cap - 1);
    }
    return NULL;
}

const char *qf_model_warning(const struct qf_model *m, size_t i)
{
    return i < m->n_warnings ? m->warnings[i] : NULL;
}

int qf_model_tensor_complete(const struct qf_model *m, const struct qf_tensor *t)
{
    if (t->file_index < 0 || (size_t)t->file_index >= m->n_files)
        return 0;
    const struct qfi_file *f = &m->files[t->file_index];
    if (!f->src->seekable)
        return 1; /* not knowable ahead of reading */
    uint64_t end;
    return qfi_add_ok(t->offset, t->nbytes, &end) && end <= f->src->size;
}

int qf_model_read(struct qf_model *m, const struct qf_tensor *t, uint64_t off, void *buf,
                  size_t len, struct qf_error *err)
{
    uint64_t end;
    if (t->file_index < 0 || (size_t)t->file_index >= m->n_files)
        return qfi_error(err, QF_EINVAL, 0, NULL, -1, "tensor has no file");
    if (!qfi_add_ok(off, len, &end) || end > t->nbytes)
        return qfi_error(err, QF_EINVAL, 0, m->files[t->file_index].info.path, -1,
                         "read of bytes [%llu,%llu) outside tensor '%s' (%llu bytes)",
                         (unsigned long long)off, (unsigned long long)end, t->name,
                         (unsigned long long)t->nbytes);
    struct qfi_source *s = m->files[t->file_index].src;
    int rc = qfi_source_read(s, t->offset + off, buf, len, err);
    /* a tensor past the end of the file as opened (QF_OPEN_PARTIAL) gets its own message; a
     * file that shrank since keeps qfi_source_read's */
    if (rc == QF_EFORMAT && err && s->seekable &&
        (!qfi_add_ok(t->offset, t->nbytes, &end) || end > s->size))
        qfi_error(err, QF_EFORMAT, 0, s->path, (int64_t)(t->offset + off),
                  "tensor '%s' is incomplete: file has %llu bytes, tensor data ends at %llu",
                  t->name, (unsigned long long)s->size, (unsigned long long)(t->offset + t->nbytes));
    return rc;
}

const void *qf_model_map(struct qf_model *m, const struct qf_tensor *t)
{
    if (t->file_index < 0 || (size_t)t->file_index >= m->n_files)
        return NULL;
    struct qfi_source *s = m->files[t->file_index].src;
    uint64_t end;
    if (!s->map || !qfi_add_ok(t->offset, t->nbytes, &end) || end > s->size)
        return NULL;
    return s->map + t->offset;
}

/* ---------------------------------------------------------------------------------------
 * Open: probe (an auction of confidences) then the winner's open */
int qf_model_open(const char *path, const char *format, unsigned flags, struct qf_model **out,
                  struct qf_error *err)
{
    qf_error_clear(err);
    *out = NULL;
    if (!path || !*path)
        return qfi_error(err, QF_EINVAL, 0, NULL, -1, "empty path");
    const struct qfi_format *fmt = NULL;
    if (format) {
        fmt = qfi_format_by_name(format);
        if (!fmt)
            return qfi_error(err, QF_EINVAL, 0, path, -1, "unknown format '%s'", format);
    } else {
        uint8_t head[64];
        int64_t n = 0;
        uint64_t fsize = 0;
        int is_dir = 0;
        struct stat st;
        if (strcmp(path, "-") != 0 && stat(path, &st) != 0)
            return qfi_error(err, QF_EIO, errno, path, -1, "cannot open: %s", strerror(errno));
        if (strcmp(path, "-") == 0 || (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))) {
            n = qfi_stream_peek(path, head, sizeof head, err);
            if (n < 0)
                return (int)n;
        } else {
            is_dir = S_ISDIR(st.st_mode);
            if (!is_dir) {
                FILE *fp = fopen(path, "rb");
                if (!fp)
                    return qfi_error(err, QF_EIO, errno, path, -1, "cannot open: %s",
                                     strerror(errno));
                n = (int64_t)fread(head, 1, sizeof head, fp);
                fclose(fp);
                fsize = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
            }
        }
        int best = 0;
        for (const struct qfi_format *const *f = qfi_format_list(); *f; f++) {
            if (!(*f)->probe || !(*f)->open)
                continue;
            int c = (*f)->probe(head, (size_t)n, fsize, path, is_dir);
            if (c > best) {
                best = c;
                fmt = *f;
            }
        }
        if (!fmt) {
            if (is_dir)
                return qfi_error(err, QF_EUNSUPPORTED, 0, path, -1,
                                 "directory holds no model (no *.gguf, *.safetensors or index)");
            if (n == 0)
                return qfi_error(err, QF_EFORMAT, 0, path, 0, "empty file");
            return qfi_error(err, QF_EUNSUPPORTED, 0, path, 0,
                             "not a GGUF or safetensors file (unrecognised first bytes)");
        }
    }
    struct qf_model *m = qfi_model_new(fmt->name);
    if (!m)
        return qfi_error(err, QF_ENOMEM, ENOMEM, path, -1, "out of memory");
    int rc = fmt->open(m, path, flags, err);
    if (rc < 0) {
        if (err && err->code == QF_OK)
            qfi_error(err, rc, 0, path, -1, "%s", qf_strerror(rc));
        qf_model_close(m);
        return rc;
    }
    /* the name index, so that lookups never modify a model other threads may be reading */
    if (!m->tindex)
        qfi_model_index_tensors(m, NULL);
    *out = m;
    return QF_OK;
}
