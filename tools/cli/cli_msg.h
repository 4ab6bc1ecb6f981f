/* cli_msg.h - messages of the q-tools: one line each, on stderr.
 *
 *   qinspect: cannot open 'm.gguf': No such file or directory
 *   qinspect: warning: 'm.gguf': general.file_type says Q4_K_M but ...
 *
 * Program name first, then what went wrong, lowercase, subjects quoted, no full stop.
 * Library errors (struct qf_error) already carry file and offset: print their msg as is.
 * The display level (0 silent .. 4 debug, default 2) is set by -q/-v; errors print at
 * level >= 1, warnings and notes at >= 2, cli_info(n, ...) at >= n.
 */
#ifndef CLI_MSG_H
#define CLI_MSG_H

#include <stdarg.h>
#include <stdio.h>

#if defined(__GNUC__)
#define CLI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define CLI_NORETURN __attribute__((noreturn))
#else
#define CLI_PRINTF(a, b)
#define CLI_NORETURN
#endif

/* Exit statuses shared by all tools (cmp(1)/diff(1) style). */
enum { CLI_EXIT_OK = 0, CLI_EXIT_NO = 1, CLI_EXIT_TROUBLE = 2 };

/* Set the program name used as message prefix (basename of argv[0] if NULL is never given;
 * tools pass their fixed name so messages do not depend on how they were invoked). */
void cli_set_prog(const char *name);
const char *cli_prog(void);

/* Display level: 0 nothing, 1 errors, 2 default (+ warnings, progress), 3 verbose, 4 debug. */
extern int cli_level;

void cli_error(const char *fmt, ...) CLI_PRINTF(1, 2);
void cli_warn(const char *fmt, ...) CLI_PRINTF(1, 2);
void cli_info(int level, const char *fmt, ...) CLI_PRINTF(2, 3);
/* cli_error, then exit(status). */
void cli_die(int status, const char *fmt, ...) CLI_PRINTF(2, 3) CLI_NORETURN;
/* Bad usage: the error line, then "Try 'PROG --help' for more information.", exit 2. */
void cli_usage_die(const char *fmt, ...) CLI_PRINTF(1, 2) CLI_NORETURN;

/* Write s[0..len) for a terminal or a one-line message: printable ASCII as is, valid UTF-8
 * sequences as is (unless ascii_only), everything else as \n, \t, \\, \xNN; quote (if not 0)
 * is escaped too. Stops after max_out output bytes and writes "..." (max_out 0: no limit).
 * Returns non-zero if it truncated. */
int cli_write_escaped(FILE *f, const char *s, size_t len, int quote, int ascii_only,
                      size_t max_out);

/* Same into a buffer (always NUL-terminated, truncated with "..." to fit). */
const char *cli_escape(char *buf, size_t n, const char *s, size_t len);

#endif /* CLI_MSG_H */
