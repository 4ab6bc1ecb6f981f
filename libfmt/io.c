/* io.c - byte sources: regular files through a read-only mmap, pipes sequentially.
 * Inputs are opened O_RDONLY and mapped PROT_READ; nothing here ever writes to an input. */
#include "qf_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Bytes of a non-seekable input (stdin, a FIFO, /dev/fd/N) read ahead by the format probe and
 * handed back to the source next opened on the same path, together with its descriptor: such
 * input can be consumed only once. Opening is not concurrent, so one pending stream suffices. */
static struct {
    char *path;
    int fd;
    uint8_t buf[256];
    size_t len, pos;
} peek = {NULL, -1, {0}, 0, 0};

int64_t qfi_stream_peek(const char *path, uint8_t *buf, size_t len, struct qf_error *err)
{
    if (!peek.path || strcmp(peek.path, path) != 0) {
        if (peek.fd >= 0)
            close(peek.fd);
        free(peek.path);
        peek.path = strdup(path);
        if (!peek.path)
            return qfi_error(err, QF_ENOMEM, ENOMEM, path, -1, "out of memory");
        peek.fd = strcmp(path, "-") == 0 ? dup(0) : open(path, O_RDONLY | O_CLOEXEC);
        peek.len = peek.pos = 0;
        if (peek.fd < 0) {
            int e = errno;
            free(peek.path);
            peek.path = NULL;
            return qfi_error(err, QF_EIO, e, path, -1, "cannot open: %s", strerror(e));
        }
    }
    if (len > sizeof peek.buf)
        len = sizeof peek.buf;
    while (peek.len < len) {
        ssize_t r = read(peek.fd, peek.buf + peek.len, sizeof peek.buf - peek.len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return qfi_error(err, QF_EIO, errno, path, -1, "read error: %s", strerror(errno));
        if (r == 0)
            break;
        peek.len += (size_t)r;
    }
    size_t n = peek.len < len ? peek.len : len;
    memcpy(buf, peek.buf, n);
    return (int64_t)n;
}

static int64_t mtime_ns(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

int qfi_source_open(const char *path, struct qfi_source **out, struct qf_error *err)
{
    *out = NULL;
    struct qfi_source *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return qfi_error(err, QF_ENOMEM, ENOMEM, path, -1, "out of memory");
    }
    int is_stdin = strcmp(path, "-") == 0;
    if (peek.path && strcmp(peek.path, path) == 0) {
        s->fd = peek.fd; /* the probe's descriptor, with its read-ahead bytes */
        s->is_stdin = 1;
        free(peek.path);
        peek.path = NULL;
        peek.fd = -1;
    } else {
        s->fd = is_stdin ? dup(0) : open(path, O_RDONLY | O_CLOEXEC);
        peek.len = peek.pos = 0;
    }
    if (s->fd < 0) {
        int e = errno;
        free(s->path);
        free(s);
        return qfi_error(err, QF_EIO, e, path, -1, "cannot open: %s", strerror(e));
    }
    struct stat st;
    if (fstat(s->fd, &st) != 0) {
        int e = errno;
        qfi_source_close(s);
        return qfi_error(err, QF_EIO, e, path, -1, "cannot stat: %s", strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        qfi_source_close(s);
        return qfi_error(err, QF_EINVAL, EISDIR, path, -1, "is a directory");
    }
    s->st_dev = (uint64_t)st.st_dev;
    s->st_ino = (uint64_t)st.st_ino;
    s->st_mtime_ns = mtime_ns(&st);
    if (S_ISREG(st.st_mode)) {
        s->seekable = 1;
        s->size = (uint64_t)st.st_size;
        if (s->size > 0) {
            if ((uint64_t)(size_t)s->size != s->size) {
                qfi_source_close(s);
                return qfi_error(err, QF_ELIMIT, 0, path, -1, "file too large to map");
            }
            void *p = mmap(NULL, (size_t)s->size, PROT_READ, MAP_PRIVATE, s->fd, 0);
            if (p == MAP_FAILED) {
                int e = errno;
                qfi_source_close(s);
                return qfi_error(err, QF_EIO, e, path, -1, "cannot map: %s", strerror(e));
            }
            s->map = p;
        }
    } else {
        s->seekable = 0; /* pipe, FIFO, character device: read strictly in order */
    }
    *out = s;
    return QF_OK;
}

void qfi_source_close(struct qfi_source *s)
{
    if (!s)
        return;
    if (s->map)
        munmap((void *)s->map, (size_t)s->size);
    if (s->fd >= 0)
        close(s->fd);
    free(s->path);
    free(s);
}

int64_t qfi_source_read_some(struct qfi_source *s, void *buf, size_t len, struct qf_error *err)
{
    if (s->seekable) {
        if (s->pos >= s->size)
            return 0;
        uint64_t n = s->size - s->pos;
        if (n > len)
            n = len;
        memcpy(buf, s->map + s->pos, (size_t)n);
        s->pos += n;
        return (int64_t)n;
    }
    if (s->eof)
        return 0;
    if (s->is_stdin && peek.pos < peek.len) {
        size_t n = peek.len - peek.pos;
        if (n > len)
            n = len;
        memcpy(buf, peek.buf + peek.pos, n);
        peek.pos += n;
        s->pos += n;
        s->size = s->pos;
        return (int64_t)n;
    }
    for (;;) {
        ssize_t r = read(s->fd, buf, len);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            return qfi_error(err, QF_EIO, e, s->path, (int64_t)s->pos, "read error: %s",
                             strerror(e));
        }
        if (r == 0)
            s->eof = 1;
        s->pos += (uint64_t)r;
        s->size = s->pos;
        return r;
    }
}

int qfi_source_read(struct qfi_source *s, uint64_t off, void *buf, size_t len,
                    struct qf_error *err)
{
    uint64_t end;
    if (!qfi_add_ok(off, len, &end))
        return qfi_error(err, QF_EFORMAT, 0, s->path, (int64_t)off, "read range overflows");
    if (s->seekable) {
        if (end > s->size)
            return qfi_error(err, QF_EFORMAT, 0, s->path, (int64_t)off,
                             "unexpected end of file (file has %llu bytes, needed %llu)",
                             (unsigned long long)s->size, (unsigned long long)end);
        /* pread rather than the map: a file that shrinks under us gives a short read and an
         * error message instead of SIGBUS */
        size_t got = 0;
        while (got < len) {
            ssize_t r = pread(s->fd, (char *)buf + got, len - got, (off_t)(off + got));
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                int e = errno;
                return qfi_error(err, QF_EIO, e, s->path, (int64_t)(off + got), "read error: %s",
                                 strerror(e));
            }
            if (r == 0)
                return qfi_error(err, QF_EFORMAT, 0, s->path, (int64_t)(off + got),
                                 "file shrank while being read (expected %llu bytes)",
                                 (unsigned long long)s->size);
            got += (size_t)r;
        }
        return QF_OK;
    }
    if (off < s->pos)
        return qfi_error(err, QF_EUNSUPPORTED, 0, s->path, (int64_t)off,
                         "cannot seek backwards in a pipe (already at %llu)",
                         (unsigned long long)s->pos);
    char skip[65536];
    while (s->pos < off) {
        uint64_t want = off - s->pos;
        int64_t r = qfi_source_read_some(s, skip, want < sizeof skip ? (size_t)want : sizeof skip,
                                         err);
        if (r < 0)
            return (int)r;
        if (r == 0)
            return qfi_error(err, QF_EFORMAT, 0, s->path, (int64_t)s->pos,
                             "unexpected end of input (needed %llu more bytes)",
                             (unsigned long long)(end - s->pos));
    }
    size_t got = 0;
    while (got < len) {
        int64_t r = qfi_source_read_some(s, (char *)buf + got, len - got, err);
        if (r < 0)
            return (int)r;
        if (r == 0)
            return qfi_error(err, QF_EFORMAT, 0, s->path, (int64_t)s->pos,
                             "unexpected end of input (needed %llu more bytes)",
                             (unsigned long long)(len - got));
        got += (size_t)r;
    }
    return QF_OK;
}

int qfi_source_check_unchanged(struct qfi_source *s, struct qf_error *err)
{
    if (!s->seekable)
        return QF_OK;
    struct stat st;
    if (fstat(s->fd, &st) != 0)
        return qfi_error(err, QF_EIO, errno, s->path, -1, "cannot stat: %s", strerror(errno));
    if ((uint64_t)st.st_size != s->size || mtime_ns(&st) != s->st_mtime_ns)
        return qfi_error(err, QF_EFORMAT, 0, s->path, -1,
                         "file changed while being read (size %llu, was %llu)",
                         (unsigned long long)st.st_size, (unsigned long long)s->size);
    return QF_OK;
}
