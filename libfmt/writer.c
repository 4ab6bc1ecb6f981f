/* writer.c - planned, streamed, atomic output: a temporary file beside the target, renamed
 * into place only after the last byte and fsync. Format modules only plan the header. */
#include "qf_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define WBUF (1u << 20)
#define TMP_TAG ".qf-tmp-" /* temporary outputs: ".<name>.qf-tmp-<pid>-XXXXXX" */

int qf_writer_new(const char *format, const char *path, const struct qf_writer_opts *opts,
                  struct qf_writer **out, struct qf_error *err)
{
    *out = NULL;
    const struct qfi_format *fmt = format ? qfi_format_by_name(format) : NULL;
    if (!fmt || !fmt->write_plan)
        return qfi_error(err, QF_EUNSUPPORTED, 0, path, -1, "cannot write format '%s'",
                         format ? format : "(null)");
    struct qf_writer *w = calloc(1, sizeof *w);
    if (!w)
        return qfi_error(err, QF_ENOMEM, ENOMEM, path, -1, "out of memory");
    w->fmt = fmt;
    w->fd = -1;
    if (opts)
        w->opts = *opts;
    w->path = strdup(path);
    w->buf = malloc(WBUF);
    w->buf_cap = WBUF;
    if (!w->path || !w->buf) {
        qf_writer_free(w);
        return qfi_error(err, QF_ENOMEM, ENOMEM, path, -1, "out of memory");
    }
    if (strcmp(path, "-") == 0) {
        w->fd = dup(1);
        if (w->fd < 0) {
            int e = errno;
            qf_writer_free(w);
            return qfi_error(err, QF_EIO, e, path, -1, "cannot write to stdout: %s", strerror(e));
        }
    } else {
        /* "<dir>/.<base>.qf-tmp-<pid>-XXXXXX": same directory, so rename() is atomic; the
         * pid and a lock held while writing let qf_writer_clean_stale tell a dead writer's
         * leftover from a live writer's file */
        const char *slash = strrchr(path, '/');
        size_t dl = slash ? (size_t)(slash - path + 1) : 0;
        const char *base = path + dl;
        size_t n = strlen(path) + 48;
        w->tmp_path = malloc(n);
        if (!w->tmp_path) {
            qf_writer_free(w);
            return qfi_error(err, QF_ENOMEM, ENOMEM, path, -1, "out of memory");
        }
        snprintf(w->tmp_path, n, "%.*s.%s" TMP_TAG "%ld-XXXXXX", (int)dl, path, base,
                 (long)getpid());
        w->fd = mkstemp(w->tmp_path);
        if (w->fd < 0) {
            int e = errno;
            free(w->tmp_path);
            w->tmp_path = NULL;
            qf_writer_free(w);
            return qfi_error(err, QF_EIO, e, path, -1, "cannot create output: %s", strerror(e));
        }
        if (flock(w->fd, LOCK_EX | LOCK_NB) != 0) { /* advisory only: not fatal */
        }
        /* mkstemp makes 0600; give the output the mode a plain creat() would */
        mode_t um = umask(0);
        umask(um);
        if (fchmod(w->fd, 0666 & ~um) != 0) { /* not fatal: the data is what matters */
        }
    }
    *out = w;
    return QF_OK;
}

static int copy_value(struct qf_value *dst, const struct qf_value *src)
{
    *dst = *src;
    if (src->type == QF_V_STRING) {
        char *p = malloc(src->v.s.len + 1);
        if (!p)
            return QF_ENOMEM;
        memcpy(p, src->v.s.ptr, src->v.s.len);
        p[src->v.s.len] = '\0';
        dst->v.s.ptr = p;
    } else if (src->type == QF_V_ARRAY) {
        uint8_t *p = malloc(src->v.a.nbytes ? src->v.a.nbytes : 1);
        if (!p)
            return QF_ENOMEM;
        memcpy(p, src->v.a.data, src->v.a.nbytes);
        dst->v.a.data = p;
    }
    return QF_OK;
}

static void free_value(struct qf_value *v)
{
    if (v->type == QF_V_STRING)
        free((void *)v->v.s.ptr);
    else if (v->type == QF_V_ARRAY)
        free((void *)v->v.a.data);
}

int qf_writer_add_kv(struct qf_writer *w, const char *key, const struct qf_value *val,
                     struct qf_error *err)
{
    if (w->state != 0)
        return qfi_error(err, QF_EINVAL, 0, w->path, -1, "metadata declared after the header");
    if (!key || !*key)
        return qfi_error(err, QF_EINVAL, 0, w->path, -1, "empty metadata key");
    for (size_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->kv[i].key, key) == 0)
            return qfi_error(err, QF_EINVAL, 0, w->path, -1, "duplicate metadata key '%s'", key);
    if (w->n_kv >= QFI_MAX_KV || qfi_grow((void **)&w->kv, &w->cap_kv, w->n_kv + 1, sizeof *w->kv))
        return qfi_error(err, QF_ENOMEM, ENOMEM, w->path, -1, "out of memory");
    struct qfi_wkv *kv = &w->kv[w->n_kv];
    kv->key = strdup(key);
    if (!kv->key || copy_value(&kv->val, val)) {
        free(kv->key);
        return qfi_error(err, QF_ENOMEM, ENOMEM, w->path, -1, "out of memory");
    }
    w->n_kv++;
    return QF_OK;
}

int qf_writer_add_tensor(struct qf_writer *w, const char *name, int type, int n_dims,
                         const uint64_t *shape, struct qf_error *err)
{
    if (w->state != 0)
        return qfi_error(err, QF_EINVAL, 0, w->path, -1, "tensor declared after the header");
    if (n_dims < 0 || n_dims > QF_MAX_DIMS)
        return qfi_error(err, QF_EINVAL, 0, w->path, -1, "tensor '%s': %d dimensions", name, n_dims);
    uint64_t nelem = 1;
    for (int i = 0; i < n_dims; i++)
        if (!qfi_mul_ok(nelem, shape[i], &nelem))
            return qfi_error(err, QF_ELIMIT, 0, w->path, -1, "tensor '%s': element count overflows",
                             name);
    uint64_t row = n_dims ? shape[n_dims - 1] : 1;
    int64_t nb = qf_type_nbytes(type, row, nelem);
    if (nb < 0)
        return qfi_error(err, (int)nb, 0, w->path, -1,
                         "tensor '%s': %s rows of %llu elements are not a whole number of blocks",
                         name, qf_type_name(type), (unsigned long long)row);
    if (w->n_t >= QFI_MAX_TENSORS || qfi_grow((void **)&w->t, &w->cap_t, w->n_t + 1, sizeof *w->t))
        return qfi_error(err, QF_ENOMEM, ENOMEM, w->path, -1, "out of memory");
    struct qfi_wtensor *t = &w->t[w->n_t];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    if (!t->name)
        return qfi_error(err, QF_ENOMEM, ENOMEM, w->path, -1, "out of memory");
    t->type = type;
    t->n_dims = n_dims;
    for (int i = 0; i < n_dims; i++)
        t->shape[i] = shape[i];
    t->nelem = nelem;
    t->nbytes = (uint64_t)nb;
    w->n_t++;
    return QF_OK;
}

static int write_all(struct qf_writer *w, const void *p, size_t n, struct qf_error *err)
{
    const char *c = p;
    while (n) {
        ssize_t r = write(w->fd, c, n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            w->state = 3;
            return qfi_error(err, QF_EIO, e, w->path, (int64_t)w->pos, "write failed: %s",
                             strerror(e));
        }
        c += r;
        n -= (size_t)r;
    }
    return QF_OK;
}

static int flush(struct qf_writer *w, struct qf_error *err)
{
    int rc = write_all(w, w->buf, w->buf_len, err);
    w->buf_len = 0;
    return rc;
}

static int out(struct qf_writer *w, const void *p, size_t n, struct qf_error *err)
{
    const char *c = p;
    while (n) {
        if (w->buf_len == w->buf_cap) {
            int rc = flush(w, err);
            if (rc)
                return rc;
        }
        size_t k = w->buf_cap - w->buf_len;
        if (k > n)
            k = n;
        if (c)
            memcpy(w->buf + w->buf_len, c, k);
        else
            memset(w->buf + w->buf_len, 0, k);
        w->buf_len += k;
        w->pos += k;
        if (c)
            c += k;
        n -= k;
    }
    return QF_OK;
}

static int pad_to(struct qf_writer *w, uint64_t off, struct qf_error *err)
{
    if (off < w->pos)
        return qfi_error(err, QF_EINTERNAL, 0, w->path, (int64_t)w->pos,
                         "layout goes backwards (to %llu)", (unsigned long long)off);
    while (w->pos < off) {
        uint64_t n = off - w->pos;
        int rc = out(w, NULL, n > WBUF ? WBUF : (size_t)n, err);
        if (rc)
            return rc;
    }
    return QF_OK;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int qf_writer_begin_data(struct qf_writer *w, struct qf_error *err)
{
    if (w->state != 0)
        return qfi_error(err, QF_EINVAL, 0, w->path, -1, "header already written");
    free(w->order);
    w->order = calloc(w->n_t ? w->n_t : 1, sizeof *w->order);
    if (!w->order)
        return qfi_error(err, QF_ENOMEM, ENOMEM, w->path, -1, "out of memory");
    for (size_t i = 0; i < w->n_t; i++)
        w->order[i] = i;
    /* unique tensor names: sort pointers to the names, then compare neighbours (n log n for
     * any number of tensors) */
    if (w->n_t > 1) {
        const char **names = malloc(w->n_t * sizeof *names);
        if (!names)
            return qfi_error(err, QF_ENOMEM, ENOMEM, w->path, -1, "out of memory");
        for (size_t i = 0; i < w->n_t; i++)
            names[i] = w->t[i].name;
        qsort(names, w->n_t, sizeof *names, cmp_name);
        for (size_t i = 1; i < w->n_t; i++)
            if (strcmp(names[i - 1], names[i]) == 0) {
                int rc = qfi_error(err, QF_EINVAL, 0, w->path, -1, "duplicate tensor name '%s'",
                                   names[i]);
                free(names);
                return rc;
            }
        free(names);
    }
    int rc = w->fmt->write_plan(w, err);
    if (rc) {
        w->state = 3;
        return rc;
    }
    rc = out(w, w->header, w->header_len, err);
    if (rc)
        return rc;
    w->state = 1;
    w->cur = 0;
    w->cur_done = 0;
    return QF_OK;
}

uint64_t qf_writer_file_size(const struct qf_writer *w)
{
    return w->file_size;
}

size_t qf_writer_tensor_order(const struct qf_writer *w, size_t k)
{
    return (w->order && k < w->n_t) ? w->order[k] : k;
}

static void skip_empty(struct qf_writer *w)
{
    while (w->cur < w->n_t && w->t[w->order[w->cur]].nbytes == 0)
        w->cur++;
}

int qf_writer_write(struct qf_writer *w, const void *buf, size_t len, struct qf_error *err)
{
    if (w->state != 1)
        return qfi_error(err, QF_EINVAL, 0, w->path, -1, "writer not accepting data");
    const char *c = buf;
    while (len) {
        if (w->cur_done == 0)
            skip_empty(w);
        if (w->cur >= w->n_t) {
            w->state = 3;
            return qfi_error(err, QF_EINVAL, 0, w->path, (int64_t)w->pos,
                             "more tensor data than declared");
        }
        struct qfi_wtensor *t = &w->t[w->order[w->cur]];
        int rc;
        if (w->cur_done == 0 && (rc = pad_to(w, t->offset, err)))
            return rc;
        uint64_t left = t->nbytes - w->cur_done;
        size_t k = left < len ? (size_t)left : len;
        if ((rc = out(w, c, k, err)))
            return rc;
        c += k;
        len -= k;
        w->cur_done += k;
        if (w->cur_done == t->nbytes) {
            w->cur++;
            w->cur_done = 0;
        }
    }
    return QF_OK;
}

int qf_writer_commit(struct qf_writer *w, struct qf_error *err)
{
    if (w->state != 1)
        return qfi_error(err, QF_EINVAL, 0, w->path, -1, "nothing to commit");
    skip_empty(w);
    if (w->cur < w->n_t || w->cur_done) {
        w->state = 3;
        return qfi_error(err, QF_EINVAL, 0, w->path, (int64_t)w->pos,
                         "tensor '%s' incomplete: %llu of %llu bytes written",
                         w->t[w->order[w->cur]].name, (unsigned long long)w->cur_done,
                         (unsigned long long)w->t[w->order[w->cur]].nbytes);
    }
    int rc = pad_to(w, w->file_size, err);
    if (!rc)
        rc = flush(w, err);
    if (rc) {
        w->state = 3;
        return rc;
    }
    if (w->pos != w->file_size) {
        w->state = 3;
        return qfi_error(err, QF_EINTERNAL, 0, w->path, (int64_t)w->pos,
                         "wrote %llu bytes, planned %llu", (unsigned long long)w->pos,
                         (unsigned long long)w->file_size);
    }
    if (w->tmp_path) {
        if (!w->opts.no_fsync && fsync(w->fd) != 0) {
            int e = errno;
            w->state = 3;
            return qfi_error(err, QF_EIO, e, w->path, -1, "fsync failed: %s", strerror(e));
        }
        if (close(w->fd) != 0) {
            int e = errno;
            w->fd = -1;
            w->state = 3;
            return qfi_error(err, QF_EIO, e, w->path, -1, "close failed: %s", strerror(e));
        }
        w->fd = -1;
        if (rename(w->tmp_path, w->path) != 0) {
            int e = errno;
            w->state = 3;
            return qfi_error(err, QF_EIO, e, w->path, -1, "cannot rename into place: %s",
                             strerror(e));
        }
        free(w->tmp_path);
        w->tmp_path = NULL;
    }
    w->state = 2;
    return QF_OK;
}

void qf_writer_abort(struct qf_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0) {
        close(w->fd);
        w->fd = -1;
    }
    if (w->tmp_path) {
        unlink(w->tmp_path);
        free(w->tmp_path);
        w->tmp_path = NULL;
    }
    if (w->state != 2)
        w->state = 3;
}

void qf_writer_free(struct qf_writer *w)
{
    if (!w)
        return;
    qf_writer_abort(w);
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        free_value(&w->kv[i].val);
    }
    for (size_t i = 0; i < w->n_t; i++)
        free(w->t[i].name);
    free(w->kv);
    free(w->t);
    free(w->order);
    free(w->header);
    free(w->buf);
    free(w->path);
    free(w);
}

/* ---------------------------------------------------------------------------------------
 * Leftovers of writers that died before commit or abort */

/* If name is ".<base>.qf-tmp-<pid>-XXXXXX", return pid (> 0), else 0. */
static long stale_pid(const char *name, const char *base, size_t bl)
{
    size_t tl = strlen(TMP_TAG);
    if (name[0] != '.' || strncmp(name + 1, base, bl) != 0 ||
        strncmp(name + 1 + bl, TMP_TAG, tl) != 0)
        return 0;
    const char *p = name + 1 + bl + tl;
    long pid = 0;
    size_t digits = 0;
    for (; *p >= '0' && *p <= '9' && digits < 10; p++, digits++)
        pid = pid * 10 + (*p - '0');
    if (!digits || *p != '-' || strlen(p + 1) != 6 || pid <= 0 || (long)(pid_t)pid != pid)
        return 0;
    return pid;
}

int qf_writer_clean_stale(const char *target_path)
{
    if (!target_path || !*target_path || strcmp(target_path, "-") == 0)
        return QF_EINVAL;
    const char *slash = strrchr(target_path, '/');
    const char *base = slash ? slash + 1 : target_path;
    size_t bl = strlen(base);
    if (!bl)
        return QF_EINVAL;
    char *dir = slash ? strndup(target_path, (size_t)(slash - target_path) + 1) : strdup("./");
    if (!dir)
        return QF_ENOMEM;
    DIR *d = opendir(dir);
    if (!d) {
        free(dir);
        return QF_EIO;
    }
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long pid = stale_pid(e->d_name, base, bl);
        if (!pid || (pid_t)pid == getpid())
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue; /* alive (or not ours to signal: EPERM means it exists) */
        size_t n = strlen(dir) + strlen(e->d_name) + 1;
        char *p = malloc(n);
        if (!p)
            break;
        snprintf(p, n, "%s%s", dir, e->d_name);
        /* a writer in another PID namespace still holds its lock: leave its file alone */
        int fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
            flock(fd, LOCK_EX | LOCK_NB) == 0 && unlink(p) == 0)
            removed++;
        if (fd >= 0)
            close(fd);
        free(p);
    }
    closedir(d);
    free(dir);
    return removed;
}

/* ---------------------------------------------------------------------------------------
 * Copy a whole model */
static int is_split_key(const struct qf_str *k)
{
    static const char *const keys[] = {"split.no", "split.count", "split.tensors.count"};
    for (size_t i = 0; i < 3; i++)
        if (k->len == strlen(keys[i]) && memcmp(k->ptr, keys[i], k->len) == 0)
            return 1;
    return 0;
}

int qf_model_save(struct qf_model *m, const char *format, const char *path,
                  const struct qf_writer_opts *opts, struct qf_error *err)
{
    struct qf_writer_opts o = {0};
    if (opts)
        o = *opts;
    int to_gguf = strcmp(format, "gguf") == 0;
    if (to_gguf && !o.alignment && m->alignment)
        o.alignment = m->alignment;
    struct qf_writer *w;
    int rc = qf_writer_new(format, path, &o, &w, err);
    if (rc)
        return rc;
    char key[65536];
    for (size_t i = 0; i < m->n_kv && !rc; i++) {
        const struct qf_kv *kv = &m->kv[i];
        if (to_gguf ? (kv->origin[0] != '\0' || (m->n_files > 1 && is_split_key(&kv->key)))
                    : strcmp(kv->origin, "__metadata__") != 0)
            continue;
        if (kv->key.len >= sizeof key) {
            rc = qfi_error(err, QF_ELIMIT, 0, path, -1, "metadata key too long");
            break;
        }
        memcpy(key, kv->key.ptr, kv->key.len);
        key[kv->key.len] = '\0';
        rc = qf_writer_add_kv(w, key, &kv->val, err);
    }
    for (size_t i = 0; i < m->n_tensors && !rc; i++) {
        const struct qf_tensor *t = &m->tensors[i];
        rc = qf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->shape, err);
    }
    if (!rc)
        rc = qf_writer_begin_data(w, err);
    size_t chunk = 4u << 20;
    uint8_t *buf = rc ? NULL : malloc(chunk);
    if (!rc && !buf)
        rc = qfi_error(err, QF_ENOMEM, ENOMEM, path, -1, "out of memory");
    for (size_t k = 0; k < m->n_tensors && !rc; k++) {
        const struct qf_tensor *t = &m->tensors[qf_writer_tensor_order(w, k)];
        for (uint64_t off = 0; off < t->nbytes && !rc;) {
            size_t n = t->nbytes - off < chunk ? (size_t)(t->nbytes - off) : chunk;
            rc = qf_model_read(m, t, off, buf, n, err);
            if (!rc)
                rc = qf_writer_write(w, buf, n, err);
            off += n;
        }
    }
    free(buf);
    if (!rc)
        rc = qf_writer_commit(w, err);
    qf_writer_free(w);
    return rc;
}
