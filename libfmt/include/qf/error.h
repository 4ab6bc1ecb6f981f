/* qf/error.h - error codes and error records of libqfmt.
 *
 * Every library function that can fail returns an int: QF_OK (0) or a negative QF_E* code.
 * Functions that return sizes return int64_t, negative meaning a QF_E* code.
 * Details (file name, byte offset, expected vs found) are written into a caller-provided
 * struct qf_error.  The library never prints, exits or aborts on bad input.
 */
#ifndef QF_ERROR_H
#define QF_ERROR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define QF_API __attribute__((visibility("default")))
#define QF_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define QF_API
#define QF_PRINTF(a, b)
#endif

enum {
    QF_OK = 0,
    QF_EINVAL = -1,       /* bad argument from the caller */
    QF_EIO = -2,          /* read/write/open failure; sys_errno says why */
    QF_ENOMEM = -3,       /* allocation failed */
    QF_EFORMAT = -4,      /* the input is malformed, truncated or inconsistent */
    QF_EUNSUPPORTED = -5, /* well-formed but not supported (version, type, layout) */
    QF_ELIMIT = -6,       /* a value exceeds one of the documented caps */
    QF_ENOTFOUND = -7,    /* no such tensor, key, file or part */
    QF_EINTERNAL = -8,    /* a bug in libqfmt */
};

/* Number of bytes of message kept in a struct qf_error. */
#define QF_ERROR_MSG_MAX 512

/* A filled-in error: code, errno of a failed system call (0 if none), the file and byte
 * offset concerned (offset -1 when not applicable) and a one-line message that already
 * contains the file name and offset, ready to print after the program name. */
struct qf_error {
    int code;
    int sys_errno;
    int64_t offset;
    char file[256];
    char msg[QF_ERROR_MSG_MAX];
};

/* Short, static description of a QF_E* code ("malformed input", ...). */
QF_API const char *qf_strerror(int code);

/* Reset *err to "no error". Safe on NULL. */
QF_API void qf_error_clear(struct qf_error *err);

#ifdef __cplusplus
}
#endif
#endif /* QF_ERROR_H */
