/* qfmt.h - installed entry header of libqfmt (same as <qf/qf.h>). */
#ifndef QFMT_H
#define QFMT_H
#include "qf/qf.h"
#endif
