/* cli_progress.c - rate-limited progress line on stderr. */
#include "cli_progress.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_msg.h"
#include "cli_out.h"

#define REFRESH (1.0 / 6.0)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void cli_progress_start(struct cli_progress *p, const char *label, uint64_t total, int mode)
{
    memset(p, 0, sizeof *p);
    p->on = mode < 0 ? (isatty(2) && cli_level >= 2) : mode;
    p->total = total;
    p->start = now();
    p->last = p->start - 1.0;
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
}

static void draw(struct cli_progress *p)
{
    char a[32], b[32];
    if (p->total)
        fprintf(stderr, "\r%s: %s / %s (%3.0f%%)\033[K", p->label,
                cli_human_size(a, sizeof a, p->done), cli_human_size(b, sizeof b, p->total),
                100.0 * (double)p->done / (double)p->total);
    else
        fprintf(stderr, "\r%s: %s\033[K", p->label, cli_human_size(a, sizeof a, p->done));
    fflush(stderr);
    p->drawn = 1;
}

void cli_progress_update(struct cli_progress *p, uint64_t done)
{
    p->done = done;
    if (!p->on)
        return;
    double t = now();
    if (t - p->last < REFRESH)
        return;
    p->last = t;
    draw(p);
}

void cli_progress_end(struct cli_progress *p)
{
    if (p->on && p->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    p->drawn = 0;
    p->on = 0;
}
