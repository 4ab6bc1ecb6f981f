/* qf/model.h - a model: one or more files read as one set of metadata and tensors.
 *
 * A model is opened from a path: a GGUF file (any part of a split set), a safetensors file
 * (any shard of a sharded checkpoint), a model.safetensors.index.json, a Hugging Face model
 * directory (config.json + weights), or "-" for standard input (read sequentially).
 *
 * Everything returned by the accessors is borrowed: valid until qf_model_close() on that model.
 * A model may be read from several threads at once (qf_model_read is thread-safe); opening and
 * closing are not concurrent with any other use of the same model.
 */
#ifndef QF_MODEL_H
#define QF_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "qf/error.h"
#include "qf/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------
 * Metadata values
 *
 * The value types are GGUF's (same ids), plus QF_V_NULL for JSON null. Values read from JSON
 * (config.json, __metadata__) map to: integer -> I64 (U64 if above INT64_MAX), other number ->
 * F64, true/false -> BOOL, string -> STRING, null -> NULL, array -> ARRAY (elements of one
 * scalar type when they all share it; arrays of objects or mixed arrays become an ARRAY of
 * STRING holding each element's compact JSON text), nested object -> flattened with dotted
 * keys ("quantization_config.bits").
 */
enum qf_vtype {
    QF_V_U8 = 0,
    QF_V_I8 = 1,
    QF_V_U16 = 2,
    QF_V_I16 = 3,
    QF_V_U32 = 4,
    QF_V_I32 = 5,
    QF_V_F32 = 6,
    QF_V_BOOL = 7,
    QF_V_STRING = 8,
    QF_V_ARRAY = 9,
    QF_V_U64 = 10,
    QF_V_I64 = 11,
    QF_V_F64 = 12,
    QF_V_NULL = 13,
    QF_V_COUNT = 14
};

/* A string that is not NUL-terminated (bytes as stored in the file; may be non-UTF-8). */
struct qf_str {
    const char *ptr;
    uint64_t len;
};

/* An array value: a view of its encoded elements. Elements are decoded on access with
 * qf_array_get / qf_array_iter_*; a view costs nothing for huge arrays (256k tokens). */
struct qf_array {
    int etype;            /* enum qf_vtype of the elements (QF_V_ARRAY for nested arrays) */
    uint64_t count;       /* number of elements */
    const uint8_t *data;  /* encoded elements (internal encoding; use the accessors) */
    uint64_t nbytes;      /* encoded size */
    unsigned enc;         /* encoding flags, internal */
};

struct qf_value {
    int type; /* enum qf_vtype */
    union {
        uint64_t u;    /* U8, U16, U32, U64, BOOL (0/1; raw byte kept in .raw_bool) */
        int64_t i;     /* I8, I16, I32, I64 */
        double f;      /* F32 (exactly widened), F64 */
        struct qf_str s;
        struct qf_array a;
    } v;
    uint8_t raw_bool;  /* for BOOL: the byte as stored (validation reports values other than 0/1) */
};

/* One metadata record. origin says where it came from: "" for the container's own metadata,
 * or the side file's name ("config.json", "__metadata__", "index.json"). */
struct qf_kv {
    struct qf_str key;
    struct qf_value val;
    const char *origin;
    int file_index;       /* the file of the set it was read from */
    uint64_t offset;      /* byte offset of the record in that file (0 for JSON) */
};

/* Decode element i of an array. Strings are borrowed views. O(1) for fixed-size elements;
 * O(i) for string or nested arrays: walk those with qf_array_iter_*.
 * Returns QF_ENOTFOUND if i >= count. */
QF_API int qf_array_get(const struct qf_array *a, uint64_t i, struct qf_value *out);

/* Sequential iteration, O(1) per element for every element type. */
struct qf_array_iter {
    const struct qf_array *a;
    uint64_t i;
    uint64_t pos;
};
QF_API void qf_array_iter_init(struct qf_array_iter *it, const struct qf_array *a);
/* Returns 1 and fills *out while elements remain, 0 at the end. */
QF_API int qf_array_iter_next(struct qf_array_iter *it, struct qf_value *out);

/* Name of a value type ("u32", "string", "array", ...). */
QF_API const char *qf_vtype_name(int t);

/* Convenience: value as integer / double. Returns QF_EINVAL if the value is not numeric
 * (bool counts as numeric 0/1). qf_value_as_u64 fails on negative values. */
QF_API int qf_value_as_i64(const struct qf_value *v, int64_t *out);
QF_API int qf_value_as_u64(const struct qf_value *v, uint64_t *out);
QF_API int qf_value_as_f64(const struct qf_value *v, double *out);

/* ---------------------------------------------------------------------------------------
 * Tensors (physical: as stored)
 */
#define QF_MAX_DIMS 8

struct qf_tensor {
    const char *name;        /* NUL-terminated copy; names with embedded NUL are rejected */
    size_t name_len;
    int type;                /* enum qf_type */
    int n_dims;              /* 0 for a safetensors scalar */
    uint64_t shape[QF_MAX_DIMS]; /* row-major (NumPy/PyTorch) order: shape[n_dims-1] is the row */
    uint64_t nelem;          /* product of shape (1 for a scalar) */
    int file_index;          /* file of the set holding the data */
    uint64_t offset;         /* absolute byte offset of the data in that file */
    uint64_t data_offset;    /* offset as written in the container (GGUF: relative to the data
                                section; safetensors: data_offsets[0]) */
    uint64_t nbytes;         /* exact data size */
    uint64_t index;          /* position in the model's tensor list */
};

/* ---------------------------------------------------------------------------------------
 * Files of a model
 */
struct qf_file_info {
    const char *path;        /* as opened ("-" for stdin) */
    uint64_t size;           /* bytes; for a pipe, the bytes read so far */
    const char *role;        /* "gguf", "gguf-split", "safetensors", "shard", "index", "config" */
    uint64_t header_size;    /* bytes of container header (GGUF: data_start; safetensors: 8+N) */
    int seekable;            /* 0 for pipes */
};

/* ---------------------------------------------------------------------------------------
 * Model
 */
struct qf_model;

/* Open flags */
#define QF_OPEN_NO_SET 0x01     /* open only the named file, not the split/shard set */
#define QF_OPEN_NO_CONFIG 0x02  /* don't read config.json and friends next to a safetensors file */
#define QF_OPEN_HEADER_ONLY 0x04/* for pipes: stop after the header (tensor data not readable) */
#define QF_OPEN_PARTIAL 0x08    /* accept tensor data that lies past the end of a file (a truncated
                                   download): the header must be whole; such tensors are listed
                                   by qf_model_tensor_complete() == 0 and reads of them fail */

/* Open a model. On success *out is set and QF_OK returned; on failure err (if not NULL) says
 * which file, which byte offset and what was expected vs found. format may be NULL (probe)
 * or a format name ("gguf", "safetensors") to skip probing. Caller closes with qf_model_close. */
QF_API int qf_model_open(const char *path, const char *format, unsigned flags,
                         struct qf_model **out, struct qf_error *err);

/* Close and free. NULL is a no-op. */
QF_API void qf_model_close(struct qf_model *m);

/* Container format name ("gguf", "safetensors") and version (GGUF 1..3; safetensors 0). */
QF_API const char *qf_model_format(const struct qf_model *m);
QF_API uint32_t qf_model_version(const struct qf_model *m);
/* Non-zero if the (GGUF) file was big-endian. */
QF_API int qf_model_big_endian(const struct qf_model *m);
/* GGUF alignment (32 default); 0 for formats without one. */
QF_API uint32_t qf_model_alignment(const struct qf_model *m);

QF_API size_t qf_model_n_files(const struct qf_model *m);
QF_API const struct qf_file_info *qf_model_file(const struct qf_model *m, size_t i);

QF_API size_t qf_model_n_kv(const struct qf_model *m);
QF_API const struct qf_kv *qf_model_kv(const struct qf_model *m, size_t i);
/* First record with this key, or NULL. */
QF_API const struct qf_kv *qf_model_find_kv(const struct qf_model *m, const char *key);

QF_API size_t qf_model_n_tensors(const struct qf_model *m);
QF_API const struct qf_tensor *qf_model_tensor(const struct qf_model *m, size_t i);
QF_API const struct qf_tensor *qf_model_find_tensor(const struct qf_model *m, const char *name);

/* 1 if all of tensor t's bytes are inside its file, 0 if the file is too short (only possible
 * with QF_OPEN_PARTIAL). */
QF_API int qf_model_tensor_complete(const struct qf_model *m, const struct qf_tensor *t);

/* Warnings collected while opening (non-fatal oddities), one line each; NULL past the end. */
QF_API const char *qf_model_warning(const struct qf_model *m, size_t i);

/* Read len bytes of tensor t's data starting at byte off (relative to the tensor) into buf.
 * Fails with QF_EFORMAT if the data lies past the end of the file (truncated download) and
 * with QF_EUNSUPPORTED on a sequential source read out of order. Thread-safe on seekable
 * sources. */
QF_API int qf_model_read(struct qf_model *m, const struct qf_tensor *t, uint64_t off, void *buf,
                         size_t len, struct qf_error *err);

/* Borrow a pointer to tensor data when the file is memory-mapped and the whole tensor is
 * present, else NULL. Valid until qf_model_close. */
QF_API const void *qf_model_map(struct qf_model *m, const struct qf_tensor *t);

#ifdef __cplusplus
}
#endif
#endif /* QF_MODEL_H */
