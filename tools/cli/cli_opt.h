/* cli_opt.h - one option table per tool, turned into getopt_long arrays and --help text.
 *
 * A tool declares
 *     static const struct cli_opt opts[] = {
 *         {NULL, 0, 0, 0, NULL, "Selection:"},                 (a heading in --help)
 *         {"tensor", 't', 't', CLI_ARG_REQUIRED, "GLOB", "show tensors matching GLOB"},
 *         {"ctx", 0, OPT_CTX, CLI_ARG_REQUIRED, "N", "context length for the KV cache"},
 *         {0},
 *     };
 * and loops over cli_opt_next(). The common options (cli_common_opts: -h -V -q -v
 * --progress --no-progress --simd --format) are appended to every tool's table and handled
 * by cli_opt_common(). Bad usage never returns: it prints one error line and "Try ..." and
 * exits with status 2.
 */
#ifndef CLI_OPT_H
#define CLI_OPT_H

#include <stdio.h>

enum cli_argkind { CLI_ARG_NONE = 0, CLI_ARG_REQUIRED = 1, CLI_ARG_OPTIONAL = 2 };

struct cli_opt {
    const char *lng;     /* long name without "--"; NULL with help set: a heading */
    int shrt;            /* short option letter, or 0 */
    int id;              /* what cli_opt_next returns: the letter, or a tool enum >= 256 */
    int arg;             /* enum cli_argkind */
    const char *metavar; /* argument name in --help ("N"), NULL for flags */
    const char *help;    /* one line; NULL hides the option from --help */
};

/* Ids of the common options (short letters where they have one). */
enum {
    CLI_OPT_HELP = 'h',
    CLI_OPT_VERSION = 'V',
    CLI_OPT_QUIET = 'q',
    CLI_OPT_VERBOSE = 'v',
    CLI_OPT_PROGRESS = 0x7f00,
    CLI_OPT_NO_PROGRESS,
    CLI_OPT_SIMD,
    CLI_OPT_FORMAT,
    CLI_OPT_TOOL_BASE = 0x100 /* tools number their long-only options from here */
};

extern const struct cli_opt cli_common_opts[];

/* What a tool says about itself, for --help and --version. */
struct cli_tool {
    const char *name;     /* "qinspect" */
    const char *synopsis; /* "[OPTION]... FILE|DIR..." */
    const char *summary;  /* one line under the usage line */
    const char *epilog;   /* text after the options (may be NULL) */
};

/* Settings of the common options after parsing. */
struct cli_common {
    int progress;         /* -1 auto (stderr is a terminal), 0 off, 1 on */
    const char *simd;     /* --simd=LEVEL or NULL */
    const char *format;   /* --format=NAME or NULL */
};

struct cli_parser {
    const struct cli_tool *tool;
    const struct cli_opt *tables[2];
    void *longopts;       /* struct option[] */
    char *shortopts;
    int argc;
    char **argv;
};

/* Build the getopt_long arrays for tool_opts + cli_common_opts. Exits with status 2 on a
 * table error (duplicate names: a programming error, caught by every test run). */
void cli_opt_init(struct cli_parser *p, const struct cli_tool *tool, const struct cli_opt *tool_opts,
                  int argc, char **argv);

/* Next option: returns its id and sets *arg (NULL when it has none), or -1 when options end
 * (then cli_opt_rest gives the index of the first operand). Unknown options, missing or
 * unexpected arguments exit via cli_usage_die. Options and operands may be mixed (GNU). */
int cli_opt_next(struct cli_parser *p, const char **arg);
int cli_opt_rest(const struct cli_parser *p);

/* Handle a common option. Returns 1 if id was one (--help and --version print and exit 0),
 * 0 otherwise. version_extra (may be NULL) prints extra --version lines. */
int cli_opt_common(struct cli_parser *p, int id, const char *arg, struct cli_common *c,
                   void (*version_extra)(FILE *f));

/* Write --help: usage line, summary, option table (tool options, then common ones), epilog. */
void cli_opt_help(const struct cli_parser *p, FILE *f);

/* Print "NAME VERSION" and the library lines of --version. */
void cli_opt_version(const struct cli_parser *p, FILE *f, void (*extra)(FILE *f));

void cli_opt_release(struct cli_parser *p);

/* Parse a non-negative decimal integer with an optional binary suffix (k, K, M, G: x1024^n)
 * for option `name`; bad values exit via cli_usage_die. */
unsigned long long cli_parse_count(const char *name, const char *arg, unsigned long long max);

#endif /* CLI_OPT_H */
