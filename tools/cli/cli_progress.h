/* cli_progress.h - a progress line on stderr.
 *
 * Shown only when stderr is a terminal (or forced with --progress), at most 6 updates a
 * second, and cleared at the end so that stderr keeps only messages. Stdout is never
 * touched: it carries results.
 */
#ifndef CLI_PROGRESS_H
#define CLI_PROGRESS_H

#include <stdint.h>

struct cli_progress {
    int on;            /* 1 if lines are drawn */
    uint64_t total;    /* 0: unknown */
    uint64_t done;
    double last;       /* time of the last update, seconds */
    double start;
    int drawn;         /* a line is on the screen */
    char label[64];
};

/* mode: -1 auto (isatty(2) and display level >= 2), 0 off, 1 on. */
void cli_progress_start(struct cli_progress *p, const char *label, uint64_t total, int mode);
/* Set the amount done (bytes or items); redraws if 1/6 s passed since the last draw. */
void cli_progress_update(struct cli_progress *p, uint64_t done);
/* Clear the line. */
void cli_progress_end(struct cli_progress *p);

#endif /* CLI_PROGRESS_H */
