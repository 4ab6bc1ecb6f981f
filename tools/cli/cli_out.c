/* cli_out.c - tables, human sizes and colour for the q-tools. */
#include "cli_out.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *cli_human_size(char *buf, size_t n, uint64_t bytes)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (bytes < 1024) {
        snprintf(buf, n, "%llu B", (unsigned long long)bytes);
        return buf;
    }
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024.0 && u < 6) {
        v /= 1024.0;
        u++;
    }
    if (v >= 999.5 && u < 6) { /* 1023.9 KiB prints as 1.00 MiB */
        v /= 1024.0;
        u++;
    }
    snprintf(buf, n, v < 9.995 ? "%.2f %s" : v < 99.95 ? "%.1f %s" : "%.0f %s", v, unit[u]);
    return buf;
}

const char *cli_human_count(char *buf, size_t n, uint64_t x)
{
    static const char *const unit[] = {"", "K", "M", "B", "T", "P", "E"};
    if (x < 1000) {
        snprintf(buf, n, "%llu", (unsigned long long)x);
        return buf;
    }
    double v = (double)x;
    int u = 0;
    while (v >= 1000.0 && u < 6) {
        v /= 1000.0;
        u++;
    }
    if (v >= 999.5 && u < 6) {
        v /= 1000.0;
        u++;
    }
    snprintf(buf, n, v < 9.995 ? "%.2f %s" : v < 99.95 ? "%.1f %s" : "%.0f %s", v, unit[u]);
    return buf;
}

static int color_on = -1;

void cli_color_init(int mode)
{
    if (mode >= 0) {
        color_on = mode;
        return;
    }
    const char *nc = getenv("NO_COLOR");
    color_on = isatty(1) && !(nc && *nc);
}

const char *cli_c(enum cli_color c)
{
    static const char *const seq[] = {"\033[0m", "\033[1m", "\033[2m", "\033[31m",
                                      "\033[32m", "\033[33m", "\033[36m"};
    if (color_on < 0)
        cli_color_init(-1);
    if (!color_on || (unsigned)c >= sizeof seq / sizeof seq[0])
        return "";
    return seq[c];
}

size_t cli_width(const char *s)
{
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p & 0xc0) != 0x80)
            w++;
    return w;
}

struct cli_table {
    size_t ncols;
    char **head;
    int *right;
    int has_head;
    char **cells;      /* rows * ncols, row-major; missing cells NULL */
    size_t nrows, cap_rows;
    size_t cur;        /* cells filled in the current (last) row */
    int open;          /* current row started */
};

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        cli_die(CLI_EXIT_TROUBLE, "out of memory");
    return q;
}

struct cli_table *cli_table_new(size_t ncols)
{
    struct cli_table *t = xrealloc(NULL, sizeof *t);
    memset(t, 0, sizeof *t);
    t->ncols = ncols;
    t->head = xrealloc(NULL, ncols * sizeof *t->head);
    t->right = xrealloc(NULL, ncols * sizeof *t->right);
    for (size_t i = 0; i < ncols; i++) {
        t->head[i] = NULL;
        t->right[i] = 0;
    }
    return t;
}

void cli_table_head(struct cli_table *t, size_t col, const char *title, int right)
{
    if (col >= t->ncols)
        return;
    free(t->head[col]);
    t->head[col] = strdup(title ? title : "");
    if (!t->head[col])
        cli_die(CLI_EXIT_TROUBLE, "out of memory");
    t->right[col] = right;
    t->has_head = 1;
}

static void add_cell(struct cli_table *t, char *s)
{
    if (!t->open) {
        if (t->nrows == t->cap_rows) {
            t->cap_rows = t->cap_rows ? 2 * t->cap_rows : 16;
            t->cells = xrealloc(t->cells, t->cap_rows * t->ncols * sizeof *t->cells);
        }
        for (size_t i = 0; i < t->ncols; i++)
            t->cells[t->nrows * t->ncols + i] = NULL;
        t->nrows++;
        t->cur = 0;
        t->open = 1;
    }
    if (t->cur >= t->ncols) {
        free(s);
        return;
    }
    t->cells[(t->nrows - 1) * t->ncols + t->cur++] = s;
}

void cli_table_cell(struct cli_table *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    char *s = xrealloc(NULL, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    add_cell(t, s);
}

void cli_table_cell_esc(struct cli_table *t, const char *s, size_t len, size_t max_out)
{
    char *buf = NULL;
    size_t sz = 0;
    FILE *f = open_memstream(&buf, &sz);
    if (!f)
        cli_die(CLI_EXIT_TROUBLE, "out of memory");
    cli_write_escaped(f, s, len, 0, 0, max_out);
    if (fclose(f) != 0 || !buf)
        cli_die(CLI_EXIT_TROUBLE, "out of memory");
    add_cell(t, buf);
}

void cli_table_endrow(struct cli_table *t)
{
    if (!t->open) /* an empty row */
        add_cell(t, strdup(""));
    t->open = 0;
}

size_t cli_table_rows(const struct cli_table *t)
{
    return t->nrows;
}

static void print_row(const struct cli_table *t, char *const *row, const size_t *w, FILE *f,
                      int indent, const char *pre, const char *post)
{
    size_t last = 0;
    for (size_t c = 0; c < t->ncols; c++)
        if (row[c] && *row[c])
            last = c;
    fprintf(f, "%*s%s", indent, "", pre);
    for (size_t c = 0; c <= last; c++) {
        const char *s = row[c] ? row[c] : "";
        size_t sw = cli_width(s);
        size_t pad = w[c] > sw ? w[c] - sw : 0;
        if (c)
            fputs("  ", f);
        if (t->right[c])
            fprintf(f, "%*s%s", (int)pad, "", s);
        else if (c == last)
            fputs(s, f);
        else
            fprintf(f, "%s%*s", s, (int)pad, "");
    }
    fprintf(f, "%s\n", post);
}

void cli_table_print(const struct cli_table *t, FILE *f, int indent)
{
    size_t *w = xrealloc(NULL, t->ncols * sizeof *w);
    for (size_t c = 0; c < t->ncols; c++) {
        w[c] = t->has_head && t->head[c] ? cli_width(t->head[c]) : 0;
        for (size_t r = 0; r < t->nrows; r++) {
            const char *s = t->cells[r * t->ncols + c];
            if (s && cli_width(s) > w[c])
                w[c] = cli_width(s);
        }
    }
    if (t->has_head)
        print_row(t, t->head, w, f, indent, cli_c(CLI_C_BOLD),
                  *cli_c(CLI_C_BOLD) ? cli_c(CLI_C_RESET) : "");
    for (size_t r = 0; r < t->nrows; r++)
        print_row(t, t->cells + r * t->ncols, w, f, indent, "", "");
    free(w);
}

void cli_table_free(struct cli_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->ncols; i++)
        free(t->head[i]);
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->head);
    free(t->right);
    free(t->cells);
    free(t);
}
