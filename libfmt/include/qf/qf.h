/* qf/qf.h - umbrella header of libqfmt, the qtools format library.
 * Link with -lqfmt (pkg-config qfmt). */
#ifndef QF_QF_H
#define QF_QF_H

#include "qf/error.h"
#include "qf/types.h"
#include "qf/model.h"
#include "qf/writer.h"
#include "qf/kernels.h"
#include "qf/ftype.h"
#include "qf/arch.h"
#include "qf/hash.h"
#include "qf/convert.h"
#include "qf/layout.h"
#include "qf/lwrite.h"

#define QF_VERSION_MAJOR 0
#define QF_VERSION_MINOR 1
#define QF_VERSION_PATCH 0
#define QF_VERSION_STRING "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

/* Library version string ("0.1.0"). */
QF_API const char *qf_version(void);

#ifdef __cplusplus
}
#endif
#endif /* QF_QF_H */
