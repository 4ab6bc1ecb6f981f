/* cli_out.h - human output: aligned tables, human sizes, colour.
 *
 * Colour is used only when stdout is a terminal and NO_COLOR is unset (or empty), so piped
 * output and test goldens never contain escape sequences.
 */
#ifndef CLI_OUT_H
#define CLI_OUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cli_msg.h"

/* "512 B", "1.09 KiB", "1.09 MiB", ... (IEC units, 3 significant digits). */
const char *cli_human_size(char *buf, size_t n, uint64_t bytes);
/* "950", "1.84 K", "1.84 M", "7.24 B", "1.20 T" (decimal units, for parameter counts). */
const char *cli_human_count(char *buf, size_t n, uint64_t v);

enum cli_color { CLI_C_RESET, CLI_C_BOLD, CLI_C_DIM, CLI_C_RED, CLI_C_GREEN, CLI_C_YELLOW,
                 CLI_C_CYAN };

/* Decide once: mode -1 auto (isatty(1) and NO_COLOR unset or empty), 0 off, 1 on. */
void cli_color_init(int mode);
/* Escape sequence of a colour, or "" when colour is off. */
const char *cli_c(enum cli_color c);

/* Column display width of a UTF-8 string (code points; invalid bytes count one each). */
size_t cli_width(const char *s);

/* A table of text cells, printed with aligned columns (two spaces between columns, the
 * last column not padded). Cells are copied. Allocation failure exits with status 2. */
struct cli_table;
struct cli_table *cli_table_new(size_t ncols);
/* Title of column col and its alignment (right != 0: right-aligned, for numbers). */
void cli_table_head(struct cli_table *t, size_t col, const char *title, int right);
/* Append a cell to the current row (printf). */
void cli_table_cell(struct cli_table *t, const char *fmt, ...) CLI_PRINTF(2, 3);
/* Append a cell holding s[0..len) escaped for the terminal, at most max_out bytes. */
void cli_table_cell_esc(struct cli_table *t, const char *s, size_t len, size_t max_out);
void cli_table_endrow(struct cli_table *t);
/* Print with indent spaces before each line; the header row first if any title was set. */
void cli_table_print(const struct cli_table *t, FILE *f, int indent);
size_t cli_table_rows(const struct cli_table *t);
void cli_table_free(struct cli_table *t);

#endif /* CLI_OUT_H */
