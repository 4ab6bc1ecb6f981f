/* Faults: what the writer and the readers do when the world misbehaves.
 *   - a full disk (RLIMIT_FSIZE in a forked child, SIGXFSZ ignored): a clear QF_EIO naming the
 *     output, nothing at the target path, no temporary file left;
 *   - a read-only target directory: a clear error, nothing written, an old file kept;
 *   - a writer killed mid-stream: no file at the target, a recognisable temporary file,
 *     which qf_writer_clean_stale() removes once its process is gone (and only then);
 *   - an input that changes while being read: qfi_source_check_unchanged and qf_model_read's
 *     pread path report it instead of crashing or returning short data;
 *   - the fixtures themselves: hashed when the suites are built (before any test runs) and
 *     compared by a test here and again when the unit run exits, so no test may write to them.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qf_int.h"

#define FIX "fixtures/"

static char fdir[256];

static void faults_setup(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(fdir, sizeof fdir, "%s/qf-faults-XXXXXX", t && *t && strlen(t) < 200 ? t : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(fdir));
}

/* Remove dir and everything in it (one level of subdirectories, made writable first). */
static void rm_tree(const char *dir)
{
    chmod(dir, 0700);
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            struct stat st;
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
                rm_tree(p);
            else
                unlink(p);
        }
    closedir(d);
    rmdir(dir);
}

static void faults_teardown(void)
{
    rm_tree(fdir);
}

static const char *fpath(const char *name)
{
    static char p[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(p[k], sizeof p[k], "%s/%s", fdir, name);
    return p[k];
}

/* Names in dir, sorted, joined with '|' into buf ("" when empty). */
static const char *dir_list(const char *dir, char *buf, size_t n)
{
    char names[64][256];
    size_t k = 0;
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d)) && k < 64)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            snprintf(names[k++], sizeof names[0], "%s", e->d_name);
    closedir(d);
    for (size_t i = 1; i < k; i++) /* few names: insertion sort */
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char t[256];
            memcpy(t, names[j], sizeof t);
            memcpy(names[j], names[j - 1], sizeof t);
            memcpy(names[j - 1], t, sizeof t);
        }
    buf[0] = '\0';
    for (size_t i = 0; i < k; i++)
        snprintf(buf + strlen(buf), n - strlen(buf), "%s%s", i ? "|" : "", names[i]);
    return buf;
}

static int exists(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0;
}

static void copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY);
    ck_assert_msg(in >= 0, "cannot open %s", from);
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(out, 0);
    char buf[65536];
    ssize_t r;
    while ((r = read(in, buf, sizeof buf)) > 0)
        ck_assert_int_eq(write(out, buf, (size_t)r), r);
    close(in);
    close(out);
}

/* ---------------------------------------------------------------------------------------
 * What a forked child reports back through a pipe */
struct outcome {
    int stage;      /* 0 new, 1 add, 2 begin_data, 3 write, 4 commit, 5 all succeeded */
    int code;
    int sys_errno;
    char msg[QF_ERROR_MSG_MAX];
    char tmp_seen[256]; /* a temporary file seen after the failure, before free */
};

/* Write one F32 tensor of nfloat floats to path through the writer, reporting the first
 * failure. Runs in the calling process. */
static void write_model(const char *path, size_t nfloat, struct outcome *o)
{
    memset(o, 0, sizeof *o);
    struct qf_writer *w = NULL;
    struct qf_error err;
    struct qf_writer_opts opts = {.no_fsync = 1};
    int rc = qf_writer_new("gguf", path, &opts, &w, &err);
    uint64_t shape[1] = {nfloat};
    if (!rc && ++o->stage)
        rc = qf_writer_add_tensor(w, "t", QF_TYPE_F32, 1, shape, &err);
    if (!rc && ++o->stage)
        rc = qf_writer_begin_data(w, &err);
    float chunk[4096];
    for (size_t i = 0; i < 4096; i++)
        chunk[i] = (float)i;
    if (!rc && ++o->stage)
        for (size_t done = 0; done < nfloat && !rc; done += 4096)
            rc = qf_writer_write(w, chunk, (nfloat - done < 4096 ? nfloat - done : 4096) * 4, &err);
    if (!rc && ++o->stage)
        rc = qf_writer_commit(w, &err);
    if (!rc)
        o->stage++;
    else {
        o->code = rc;
        o->sys_errno = err.sys_errno;
        snprintf(o->msg, sizeof o->msg, "%s", err.msg);
        if (w && w->tmp_path && exists(w->tmp_path))
            snprintf(o->tmp_seen, sizeof o->tmp_seen, "%s", w->tmp_path);
    }
    qf_writer_free(w);
}

/* Run write_model in a child after prep(); the outcome comes back through a pipe. */
static void in_child(void (*prep)(void), const char *path, size_t nfloat, struct outcome *o)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        struct outcome r;
        memset(&r, 0, sizeof r);
        r.stage = -1;
        if (prep)
            prep();
        write_model(path, nfloat, &r);
        ssize_t k = write(fds[1], &r, sizeof r);
        _exit(k == (ssize_t)sizeof r ? 0 : 1);
    }
    close(fds[1]);
    ssize_t got = read(fds[0], o, sizeof *o);
    close(fds[0]);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child failed (status %d)", st);
    ck_assert_int_eq(got, (ssize_t)sizeof *o);
}

/* ---------------------------------------------------------------------------------------
 * Full disk */
static void small_fsize(void)
{
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {65536, 65536};
    setrlimit(RLIMIT_FSIZE, &rl);
}

START_TEST(test_full_disk)
{
    char ls[1024];
    /* 4 MiB of data: the failure comes from a write while streaming (the buffer is 1 MiB) */
    struct outcome o;
    const char *out = fpath("big.gguf");
    in_child(small_fsize, out, 1u << 20, &o);
    ck_assert_int_eq(o.stage, 3);
    ck_assert_int_eq(o.code, QF_EIO);
    ck_assert_int_eq(o.sys_errno, EFBIG);
    ck_assert_msg(strstr(o.msg, "big.gguf") && strstr(o.msg, "write failed"), "%s", o.msg);
    /* the temporary file was there until the writer was freed, then removed */
    ck_assert_msg(strstr(o.tmp_seen, "/.big.gguf.qf-tmp-"), "tmp '%s'", o.tmp_seen);
    ck_assert(!exists(out));
    ck_assert(!exists(o.tmp_seen));
    ck_assert_str_eq(dir_list(fdir, ls, sizeof ls), "");

    /* 200 KiB: everything fits in the buffer, so the commit's flush is what fails */
    out = fpath("small.gguf");
    in_child(small_fsize, out, 50000, &o);
    ck_assert_int_eq(o.stage, 4);
    ck_assert_int_eq(o.code, QF_EIO);
    ck_assert_int_eq(o.sys_errno, EFBIG);
    ck_assert_msg(strstr(o.msg, "small.gguf") && strstr(o.msg, "File too large"), "%s", o.msg);
    ck_assert(!exists(out));
    ck_assert_str_eq(dir_list(fdir, ls, sizeof ls), "");

    /* the same writes without the limit succeed (the failure was the limit) */
    in_child(NULL, out, 50000, &o);
    ck_assert_msg(o.stage == 5, "%s", o.msg);
    struct stat st;
    ck_assert_int_eq(stat(out, &st), 0);
    ck_assert_int_gt(st.st_size, 200000);
    ck_assert_str_eq(dir_list(fdir, ls, sizeof ls), "small.gguf");
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * Read-only target directory (root ignores permissions: the child drops to nobody) */
static void as_nobody(void)
{
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
        _exit(3);
}

START_TEST(test_readonly_dir)
{
    char ls[1024];
    char ro[512];
    snprintf(ro, sizeof ro, "%s/ro", fdir);
    ck_assert_int_eq(mkdir(ro, 0755), 0);
    char old[600];
    snprintf(old, sizeof old, "%s/old.gguf", ro);
    FILE *f = fopen(old, "w");
    ck_assert_ptr_nonnull(f);
    fputs("old contents", f);
    fclose(f);
    ck_assert_int_eq(chmod(ro, 0555), 0);
    ck_assert_int_eq(chmod(fdir, 0755), 0); /* nobody may pass through */
    struct outcome o;
    char out[600];
    snprintf(out, sizeof out, "%s/new.gguf", ro);
    in_child(as_nobody, out, 1000, &o);
    ck_assert_int_eq(o.stage, 0);
    ck_assert_int_eq(o.code, QF_EIO);
    ck_assert_int_eq(o.sys_errno, EACCES);
    ck_assert_msg(strstr(o.msg, "new.gguf") && strstr(o.msg, "cannot create output") &&
                      strstr(o.msg, "Permission denied"),
                  "%s", o.msg);
    /* replacing an existing file is refused the same way, and the old file is kept */
    in_child(as_nobody, old, 1000, &o);
    ck_assert_int_eq(o.stage, 0);
    ck_assert_int_eq(o.code, QF_EIO);
    ck_assert_str_eq(dir_list(ro, ls, sizeof ls), "old.gguf");
    f = fopen(old, "r");
    ck_assert_ptr_nonnull(f);
    char back[32] = {0};
    ck_assert_ptr_nonnull(fgets(back, sizeof back, f));
    fclose(f);
    ck_assert_str_eq(back, "old contents");
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * A writer killed mid-stream, and qf_writer_clean_stale */

/* Fork a writer of path that streams some data, then waits to be killed. Returns its pid
 * once its temporary file holds data. */
static pid_t start_writer(const char *path)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        struct qf_writer *w;
        struct qf_error err;
        uint64_t shape[1] = {1u << 20};
        static float chunk[1 << 18];
        if (qf_writer_new("gguf", path, NULL, &w, &err) ||
            qf_writer_add_tensor(w, "t", QF_TYPE_F32, 1, shape, &err) ||
            qf_writer_begin_data(w, &err) || qf_writer_write(w, chunk, sizeof chunk, &err) ||
            qf_writer_write(w, chunk, sizeof chunk, &err)) /* 2 MiB: the buffer was flushed */
            _exit(1);
        char c = 'r';
        if (write(fds[1], &c, 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    close(fds[1]);
    char c = 0;
    ck_assert_int_eq(read(fds[0], &c, 1), 1);
    close(fds[0]);
    return pid;
}

static void kill_writer(pid_t pid)
{
    int st;
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

START_TEST(test_killed_writer)
{
    char ls[1024], want[256];
    const char *out = fpath("out.gguf");
    pid_t pid = start_writer(out);
    /* while it lives: its file is there and clean_stale leaves it alone */
    ck_assert_int_eq(qf_writer_clean_stale(out), 0);
    dir_list(fdir, ls, sizeof ls);
    snprintf(want, sizeof want, ".out.gguf.qf-tmp-%ld-", (long)pid);
    ck_assert_msg(strncmp(ls, want, strlen(want)) == 0 && !strchr(ls, '|'), "dir: %s", ls);
    kill_writer(pid);
    /* killed: no output, one recognisable temporary file with the data streamed so far */
    ck_assert(!exists(out));
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s/%s", fdir, dir_list(fdir, ls, sizeof ls));
    ck_assert_msg(strncmp(ls, want, strlen(want)) == 0 && strlen(ls) == strlen(want) + 6,
                  "dir: %s", ls);
    struct stat st;
    ck_assert_int_eq(stat(tmp, &st), 0);
    ck_assert_int_ge(st.st_size, 1 << 20);
    /* other names stay: another target's leftover, the target itself, look-alikes */
    static const char *const keep[] = {".other.gguf.qf-tmp-999999999-abcdef",
                                       ".out.gguf.qf-tmp-x-abcdef", ".out.gguf.qf-tmp-12-abc",
                                       "out.gguf.qf-tmp-999999999-abcdef", "out.gguf"};
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
        close(open(fpath(keep[i]), O_WRONLY | O_CREAT, 0644));
    ck_assert_int_eq(qf_writer_clean_stale(out), 1);
    ck_assert(!exists(tmp));
    ck_assert_str_eq(dir_list(fdir, ls, sizeof ls),
                     ".other.gguf.qf-tmp-999999999-abcdef|.out.gguf.qf-tmp-12-abc|"
                     ".out.gguf.qf-tmp-x-abcdef|out.gguf|out.gguf.qf-tmp-999999999-abcdef");
    ck_assert_int_eq(qf_writer_clean_stale(out), 0);
    ck_assert_int_eq(qf_writer_clean_stale(fpath("other.gguf")), 1);
    ck_assert_int_eq(qf_writer_clean_stale("-"), QF_EINVAL);
    ck_assert_int_eq(qf_writer_clean_stale(""), QF_EINVAL);
    ck_assert_int_eq(qf_writer_clean_stale(fpath("nodir/x.gguf")), QF_EIO);
}
END_TEST

/* A dead pid whose file is still locked (a writer in another PID namespace) is left alone. */
START_TEST(test_stale_locked)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(0);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    char name[128];
    snprintf(name, sizeof name, ".m.gguf.qf-tmp-%ld-a1b2c3", (long)pid);
    int fd = open(fpath(name), O_WRONLY | O_CREAT, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(flock(fd, LOCK_EX | LOCK_NB), 0);
    ck_assert_int_eq(qf_writer_clean_stale(fpath("m.gguf")), 0);
    ck_assert(exists(fpath(name)));
    close(fd); /* the lock goes with it */
    ck_assert_int_eq(qf_writer_clean_stale(fpath("m.gguf")), 1);
    ck_assert(!exists(fpath(name)));
}
END_TEST

/* A target named without a directory: the temporary file and the cleaning use ".". */
START_TEST(test_stale_cwd)
{
    char cwd[512];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_int_eq(chdir(fdir), 0);
    pid_t pid = start_writer("here.gguf");
    kill_writer(pid);
    char ls[1024];
    dir_list(".", ls, sizeof ls);
    ck_assert_msg(strncmp(ls, ".here.gguf.qf-tmp-", 18) == 0, "%s", ls);
    ck_assert_int_eq(qf_writer_clean_stale("here.gguf"), 1);
    ck_assert_str_eq(dir_list(".", ls, sizeof ls), "");
    ck_assert_int_eq(chdir(cwd), 0);
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * Inputs that change while being read */
START_TEST(test_source_changed)
{
    const char *p = fpath("src.gguf");
    copy_file(FIX "stories260K-q8_0.gguf", p);
    struct qfi_source *s;
    struct qf_error err;
    ck_assert_int_eq(qfi_source_open(p, &s, &err), QF_OK);
    ck_assert_uint_eq(s->size, 344416);
    ck_assert_int_eq(qfi_source_check_unchanged(s, &err), QF_OK);
    /* grows */
    int fd = open(p, O_WRONLY | O_APPEND);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "xyz", 3), 3);
    close(fd);
    ck_assert_int_eq(qfi_source_check_unchanged(s, &err), QF_EFORMAT);
    ck_assert_msg(strstr(err.msg, "changed while being read") && strstr(err.msg, "344419"), "%s",
                  err.msg);
    qfi_source_close(s);
    /* same size, new mtime */
    ck_assert_int_eq(qfi_source_open(p, &s, &err), QF_OK);
    struct timespec ts[2] = {{0, UTIME_OMIT}, {1000000000, 0}};
    ck_assert_int_eq(utimensat(AT_FDCWD, p, ts, 0), 0);
    ck_assert_int_eq(qfi_source_check_unchanged(s, &err), QF_EFORMAT);
    qfi_source_close(s);
    /* shrinks: a read past the new end fails cleanly (pread, not the map: no SIGBUS) */
    ck_assert_int_eq(qfi_source_open(p, &s, &err), QF_OK);
    ck_assert_int_eq(truncate(p, 1000), 0);
    ck_assert_int_eq(qfi_source_check_unchanged(s, &err), QF_EFORMAT);
    uint8_t buf[64];
    ck_assert_int_eq(qfi_source_read(s, 900, buf, 64, &err), QF_OK);
    ck_assert_int_eq(qfi_source_read(s, 990, buf, 64, &err), QF_EFORMAT);
    ck_assert_msg(strstr(err.msg, "shrank") && err.offset == 1000, "%s", err.msg);
    ck_assert_int_eq(qfi_source_read(s, 300000, buf, 64, &err), QF_EFORMAT);
    ck_assert_msg(strstr(err.msg, "shrank"), "%s", err.msg);
    qfi_source_close(s);
}
END_TEST

START_TEST(test_model_shrank)
{
    const char *p = fpath("m.gguf");
    copy_file(FIX "stories260K-q8_0.gguf", p);
    struct qf_model *m;
    struct qf_error err;
    ck_assert_int_eq(qf_model_open(p, NULL, 0, &m, &err), QF_OK);
    const struct qf_tensor *last = qf_model_tensor(m, qf_model_n_tensors(m) - 1);
    const struct qf_tensor *first = qf_model_tensor(m, 0);
    ck_assert_uint_lt(first->offset + 64, last->offset);
    uint8_t a[64], b[64];
    ck_assert_int_eq(qf_model_read(m, last, 0, a, sizeof a, &err), QF_OK);
    ck_assert_int_eq(truncate(p, (off_t)(first->offset + 64)), 0);
    /* what is still there reads as before; what went away is an error saying so */
    ck_assert_int_eq(qf_model_read(m, first, 0, b, 64, &err), QF_OK);
    ck_assert_int_eq(qf_model_read(m, last, 0, b, sizeof b, &err), QF_EFORMAT);
    ck_assert_msg(strstr(err.msg, "m.gguf") && strstr(err.msg, "shrank while being read"), "%s",
                  err.msg);
    ck_assert_int_eq(err.offset, (int64_t)last->offset);
    /* and a read across the new end names the first byte that is missing */
    ck_assert_int_eq(qf_model_read(m, first, 32, b, 64, &err), QF_EFORMAT);
    ck_assert_int_eq(err.offset, (int64_t)(first->offset + 64));
    qf_model_close(m);
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * Fixtures never change: hashed when the suites are built, before any test runs */
struct fhash {
    char path[256];
    uint8_t d[32];
};
static struct fhash *fx;
static size_t fx_n;
static pid_t fx_pid;

static void hash_tree(const char *dir, struct fhash **v, size_t *n, size_t *cap)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char p[256];
        if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= sizeof p)
            continue;
        struct stat st;
        if (lstat(p, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            hash_tree(p, v, n, cap);
            continue;
        }
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 64;
            *v = realloc(*v, *cap * sizeof **v);
            if (!*v)
                abort();
        }
        struct fhash *h = &(*v)[(*n)++];
        memset(h, 0, sizeof *h);
        snprintf(h->path, sizeof h->path, "%s", p);
        struct qf_hash *hs;
        if (qf_hash_new(QF_HASH_SHA256, &hs) != QF_OK)
            abort();
        int fd = open(p, O_RDONLY);
        static uint8_t buf[1 << 16];
        ssize_t r;
        while (fd >= 0 && (r = read(fd, buf, sizeof buf)) > 0)
            qf_hash_update(hs, buf, (size_t)r);
        if (fd >= 0)
            close(fd);
        qf_hash_update(hs, &st.st_mode, sizeof st.st_mode); /* symlinks, odd files too */
        qf_hash_final(hs);
        qf_hash_digest(hs, QF_HASH_SHA256, h->d, sizeof h->d);
        qf_hash_free(hs);
    }
    closedir(d);
}

static int cmp_fhash(const void *a, const void *b)
{
    return strcmp(((const struct fhash *)a)->path, ((const struct fhash *)b)->path);
}

/* Compare the fixtures now with the baseline; returns the first difference or NULL. */
static const char *fixtures_diff(char *why, size_t n)
{
    struct fhash *now = NULL;
    size_t nn = 0, cap = 0;
    hash_tree("fixtures", &now, &nn, &cap);
    if (nn) /* directory order is not sorted */
        qsort(now, nn, sizeof *now, cmp_fhash);
    const char *r = why;
    size_t i = 0, j = 0; /* both sorted: walk them side by side */
    for (;;) {
        int c = i < nn && j < fx_n ? strcmp(now[i].path, fx[j].path) : i < nn ? -1 : j < fx_n;
        if (i >= nn && j >= fx_n) {
            r = NULL;
            break;
        }
        if (c < 0)
            snprintf(why, n, "'%s' appeared during the unit run (a test wrote into fixtures/, "
                     "or the tree changed meanwhile)", now[i].path);
        else if (c > 0) {
            /* not something a test does by accident (and in a shared working tree, someone
             * tidying up): say so, don't fail */
            fprintf(stderr, "tests/fixtures: note: '%s' disappeared during the unit run\n",
                    fx[j].path);
            j++;
            continue;
        } else if (memcmp(now[i].d, fx[j].d, 32) != 0)
            snprintf(why, n, "'%s' changed during the unit run", now[i].path);
        else {
            i++, j++;
            continue;
        }
        break;
    }
    free(now);
    return r;
}

static void fixtures_at_exit(void)
{
    if (getpid() != fx_pid || !fx_n)
        return; /* a forked test exiting, or no baseline */
    char why[400];
    if (fixtures_diff(why, sizeof why)) {
        fprintf(stderr, "tests/fixtures: %s\n", why);
        _exit(EXIT_FAILURE);
    }
}

START_TEST(test_fixtures_unchanged)
{
    ck_assert_msg(fx_n > 20, "no fixture baseline (%zu files): run from tests/", fx_n);
    char why[400];
    const char *d = fixtures_diff(why, sizeof why);
    ck_assert_msg(d == NULL, "%s", d);
}
END_TEST

Suite *suite_faults(void);
Suite *suite_faults(void)
{
    if (!fx) {
        size_t cap = 0;
        hash_tree("fixtures", &fx, &fx_n, &cap);
        if (fx_n)
            qsort(fx, fx_n, sizeof *fx, cmp_fhash);
        fx_pid = getpid();
        atexit(fixtures_at_exit);
    }
    Suite *s = suite_create("faults");
    TCase *tc = tcase_create("faults");
    tcase_add_checked_fixture(tc, faults_setup, faults_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_full_disk);
    tcase_add_test(tc, test_readonly_dir);
    tcase_add_test(tc, test_killed_writer);
    tcase_add_test(tc, test_stale_locked);
    tcase_add_test(tc, test_stale_cwd);
    tcase_add_test(tc, test_source_changed);
    tcase_add_test(tc, test_model_shrank);
    tcase_add_test(tc, test_fixtures_unchanged);
    suite_add_tcase(s, tc);
    return s;
}
