/* qf/writer.h - writing a model file: plan (declare everything), then stream the data.
 *
 * 1. qf_writer_new(format, path, ...)      creates "<dir>/.<name>.qf-tmp-<pid>-XXXXXX" next to
 *                                        path, locked (flock) while the writer lives
 *                                        ("-" writes to stdout, no temporary file)
 * 2. qf_writer_add_kv / qf_writer_add_tensor  declare metadata and tensors, in output order
 * 3. qf_writer_begin_data                  writes the header (every offset is known now)
 * 4. qf_writer_write                       streams tensor data in declaration order, any chunking
 * 5. qf_writer_commit                      pads, checks every declared byte arrived, fsyncs, renames
 *    or qf_writer_abort                    removes the temporary file
 * qf_writer_free on an uncommitted writer aborts it. Nothing ever appears at path unless
 * commit succeeded. Not thread-safe: one thread per writer.
 */
#ifndef QF_WRITER_H
#define QF_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "qf/error.h"
#include "qf/model.h"

#ifdef __cplusplus
extern "C" {
#endif

struct qf_writer;

/* Writer options; zero-initialise and set what you need. */
struct qf_writer_opts {
    uint32_t alignment;   /* GGUF: data alignment, 0 = 32 (or general.alignment if declared) */
    uint32_t version;     /* GGUF: 0 = 3 (only 3 is written) */
    int keep_order;       /* safetensors: keep declaration order instead of the reference
                             writer's order (dtype size descending, then name) */
    int no_fsync;         /* skip fsync (tests) */
};

/* Create a writer for format "gguf" or "safetensors". */
QF_API int qf_writer_new(const char *format, const char *path, const struct qf_writer_opts *opts,
                         struct qf_writer **out, struct qf_error *err);

/* Declare one metadata record. For safetensors only string values are kept (__metadata__);
 * other types are refused with QF_EUNSUPPORTED. Array values are copied element by element
 * (an array borrowed from an open model may be passed directly). Keys must be unique. */
QF_API int qf_writer_add_kv(struct qf_writer *w, const char *key, const struct qf_value *val,
                            struct qf_error *err);

/* Declare a tensor: name, type, row-major shape. Its size is computed by the type's size rule.
 * Names must be unique. */
QF_API int qf_writer_add_tensor(struct qf_writer *w, const char *name, int type, int n_dims,
                                const uint64_t *shape, struct qf_error *err);

/* Write the header. After this, no more declarations. */
QF_API int qf_writer_begin_data(struct qf_writer *w, struct qf_error *err);

/* Final byte size of the output file and the absolute data offset of tensor i (in declaration
 * order, after begin_data, which for safetensors may have reordered the tensors: the data must
 * then be written in the order of qf_writer_tensor_order). */
QF_API uint64_t qf_writer_file_size(const struct qf_writer *w);
QF_API size_t qf_writer_tensor_order(const struct qf_writer *w, size_t k);

/* Append data bytes of the tensors, in write order, chunked any way. Padding between tensors
 * is inserted automatically. */
QF_API int qf_writer_write(struct qf_writer *w, const void *buf, size_t len, struct qf_error *err);

/* Finish: final padding, verify sizes, fsync, rename into place. */
QF_API int qf_writer_commit(struct qf_writer *w, struct qf_error *err);
/* Discard the output. */
QF_API void qf_writer_abort(struct qf_writer *w);
/* Free (aborting if not committed). NULL is a no-op. */
QF_API void qf_writer_free(struct qf_writer *w);

/* Remove the temporary files that writers of target_path left behind when they were killed
 * before commit or abort: ".<name>.qf-tmp-<pid>-XXXXXX" beside target_path whose process <pid>
 * is gone (kill(pid, 0) fails with ESRCH) and whose lock is free. Files of live writers, of
 * this process, and names of any other shape are left alone; target_path itself is never
 * touched. Returns the number of files removed, QF_EINVAL for an empty path or "-", QF_EIO
 * if the directory cannot be read. Only meaningful for writers on the same host. */
QF_API int qf_writer_clean_stale(const char *target_path);

/* Copy a whole open model (metadata and tensors, same types) to a new file of the given
 * format. GGUF -> GGUF reproduces a canonical input byte for byte. */
QF_API int qf_model_save(struct qf_model *m, const char *format, const char *path,
                         const struct qf_writer_opts *opts, struct qf_error *err);

#ifdef __cplusplus
}
#endif
#endif /* QF_WRITER_H */
