/* cli_opt.c - option tables -> getopt_long, --help and --version. */
#include "cli_opt.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli_msg.h"
#include "cli_simd.h"
#include "qf/qf.h"

const struct cli_opt cli_common_opts[] = {
    {NULL, 0, 0, 0, NULL, "Common options:"},
    {"help", 'h', CLI_OPT_HELP, CLI_ARG_NONE, NULL, "show this help and exit"},
    {"version", 'V', CLI_OPT_VERSION, CLI_ARG_NONE, NULL,
     "show the tool, library and SIMD versions and exit"},
    {"quiet", 'q', CLI_OPT_QUIET, CLI_ARG_NONE, NULL,
     "print less (warnings off; twice: errors off too)"},
    {"verbose", 'v', CLI_OPT_VERBOSE, CLI_ARG_NONE, NULL, "print more (repeatable)"},
    {"progress", 0, CLI_OPT_PROGRESS, CLI_ARG_NONE, NULL,
     "show progress on stderr even when it is not a terminal"},
    {"no-progress", 0, CLI_OPT_NO_PROGRESS, CLI_ARG_NONE, NULL, "never show progress"},
    {"simd", 0, CLI_OPT_SIMD, CLI_ARG_REQUIRED, "LEVEL",
     "force a kernel level (scalar, avx2, avx512); 'list' prints the usable ones"},
    {"format", 0, CLI_OPT_FORMAT, CLI_ARG_REQUIRED, "NAME",
     "read inputs as this container format (gguf, safetensors) instead of probing"},
    {0, 0, 0, 0, NULL, NULL},
};

static int is_end(const struct cli_opt *o)
{
    return !o->lng && !o->shrt && !o->help;
}

static int is_heading(const struct cli_opt *o)
{
    return !o->lng && !o->shrt && o->help;
}

void cli_opt_init(struct cli_parser *p, const struct cli_tool *tool, const struct cli_opt *tool_opts,
                  int argc, char **argv)
{
    memset(p, 0, sizeof *p);
    p->tool = tool;
    p->tables[0] = tool_opts;
    p->tables[1] = cli_common_opts;
    p->argc = argc;
    p->argv = argv;
    cli_set_prog(tool->name);

    size_t n = 0;
    for (int t = 0; t < 2; t++)
        for (const struct cli_opt *o = p->tables[t]; o && !is_end(o); o++)
            n++;
    struct option *lo = calloc(n + 1, sizeof *lo);
    char *so = calloc(3 * n + 2, 1);
    if (!lo || !so)
        cli_die(CLI_EXIT_TROUBLE, "out of memory");
    size_t nl = 0, ns = 0;
    so[ns++] = ':'; /* report missing arguments as ':' */
    for (int t = 0; t < 2; t++) {
        for (const struct cli_opt *o = p->tables[t]; o && !is_end(o); o++) {
            if (is_heading(o))
                continue;
            /* a duplicate is a bug in the tool's table */
            for (size_t k = 0; k < nl; k++)
                if (o->lng && strcmp(lo[k].name, o->lng) == 0)
                    cli_die(CLI_EXIT_TROUBLE, "option table: duplicate '--%s'", o->lng);
            if (o->shrt && strchr(so + 1, o->shrt))
                cli_die(CLI_EXIT_TROUBLE, "option table: duplicate '-%c'", o->shrt);
            if (o->lng) {
                lo[nl].name = o->lng;
                lo[nl].has_arg = o->arg == CLI_ARG_REQUIRED   ? required_argument
                                 : o->arg == CLI_ARG_OPTIONAL ? optional_argument
                                                              : no_argument;
                lo[nl].flag = NULL;
                lo[nl].val = o->id;
                nl++;
            }
            if (o->shrt) {
                so[ns++] = (char)o->shrt;
                if (o->arg == CLI_ARG_REQUIRED)
                    so[ns++] = ':';
                else if (o->arg == CLI_ARG_OPTIONAL) {
                    so[ns++] = ':';
                    so[ns++] = ':';
                }
            }
        }
    }
    p->longopts = lo;
    p->shortopts = so;
    optind = 1;
    opterr = 0;
}

void cli_opt_release(struct cli_parser *p)
{
    free(p->longopts);
    free(p->shortopts);
    p->longopts = NULL;
    p->shortopts = NULL;
}

static const struct cli_opt *find_by_id(const struct cli_parser *p, int id)
{
    for (int t = 0; t < 2; t++)
        for (const struct cli_opt *o = p->tables[t]; o && !is_end(o); o++)
            if (!is_heading(o) && o->id == id)
                return o;
    return NULL;
}

static const struct cli_opt *find_by_short(const struct cli_parser *p, int c)
{
    for (int t = 0; t < 2; t++)
        for (const struct cli_opt *o = p->tables[t]; o && !is_end(o); o++)
            if (o->shrt == c)
                return o;
    return NULL;
}

/* The option word that was just processed, for messages ("--ctx" of "--ctx=5"). */
static void offending(const struct cli_parser *p, char *buf, size_t n)
{
    int i = optind - 1;
    const char *w = (i >= 1 && i < p->argc) ? p->argv[i] : "?";
    size_t len = strcspn(w, "=");
    cli_escape(buf, n, w, len);
}

int cli_opt_next(struct cli_parser *p, const char **arg)
{
    int idx = -1;
    *arg = NULL;
    int c = getopt_long(p->argc, p->argv, p->shortopts, p->longopts, &idx);
    if (c == -1)
        return -1;
    char w[160];
    if (c == '?') {
        if (optopt && !find_by_short(p, optopt) && optopt < 0x100) {
            cli_usage_die("unknown option '-%c'", optopt);
        }
        const struct cli_opt *o = optopt ? find_by_id(p, optopt) : NULL;
        offending(p, w, sizeof w);
        if (o && o->arg == CLI_ARG_NONE && o->lng)
            cli_usage_die("option '--%s' takes no argument", o->lng);
        if (strncmp(w, "--", 2) == 0) {
            /* an unknown or ambiguous abbreviation */
            size_t len = strlen(w + 2), hits = 0;
            const struct option *lo = p->longopts;
            for (size_t k = 0; lo[k].name; k++)
                if (len && strncmp(lo[k].name, w + 2, len) == 0)
                    hits++;
            if (hits > 1)
                cli_usage_die("option '%s' is ambiguous", w);
            cli_usage_die("unknown option '%s'", w);
        }
        cli_usage_die("unknown option '%s'", w);
    }
    if (c == ':') {
        const struct cli_opt *o = find_by_id(p, optopt);
        if (o && o->lng && !(o->shrt && optopt == o->shrt && p->argv[optind - 1][1] != '-'))
            cli_usage_die("option '--%s' needs an argument (%s)", o->lng,
                          o->metavar ? o->metavar : "value");
        if (o && o->shrt)
            cli_usage_die("option '-%c' needs an argument (%s)", o->shrt,
                          o->metavar ? o->metavar : "value");
        cli_usage_die("an option needs an argument");
    }
    *arg = optarg;
    return c;
}

int cli_opt_rest(const struct cli_parser *p)
{
    (void)p;
    return optind;
}

/* Write text wrapped at 79 columns, continuation lines indented to col. */
static void wrap(FILE *f, const char *text, int col)
{
    const int width = 79 - col;
    const char *p = text;
    while (*p) {
        size_t len = strlen(p);
        if ((int)len <= width) {
            fprintf(f, "%s\n", p);
            return;
        }
        int cut = width;
        while (cut > 0 && p[cut] != ' ')
            cut--;
        if (cut == 0) /* one long word */
            cut = (int)strcspn(p, " ");
        fprintf(f, "%.*s\n", cut, p);
        p += cut;
        while (*p == ' ')
            p++;
        if (*p)
            fprintf(f, "%*s", col, "");
    }
}

static void help_table(FILE *f, const struct cli_opt *t)
{
    const int col = 28;
    for (const struct cli_opt *o = t; o && !is_end(o); o++) {
        if (is_heading(o)) {
            fprintf(f, "\n%s\n", o->help);
            continue;
        }
        if (!o->help)
            continue;
        char left[128];
        int n;
        if (o->shrt && o->lng)
            n = snprintf(left, sizeof left, "  -%c, --%s", o->shrt, o->lng);
        else if (o->shrt)
            n = snprintf(left, sizeof left, "  -%c", o->shrt);
        else
            n = snprintf(left, sizeof left, "      --%s", o->lng);
        if (o->metavar && n > 0 && (size_t)n < sizeof left) {
            if (o->arg == CLI_ARG_OPTIONAL)
                n += snprintf(left + n, sizeof left - (size_t)n, "[=%s]", o->metavar);
            else if (o->lng)
                n += snprintf(left + n, sizeof left - (size_t)n, "=%s", o->metavar);
            else
                n += snprintf(left + n, sizeof left - (size_t)n, " %s", o->metavar);
        }
        if (n >= col - 1)
            fprintf(f, "%s\n%*s", left, col, "");
        else
            fprintf(f, "%-*s", col, left);
        wrap(f, o->help, col);
    }
}

void cli_opt_help(const struct cli_parser *p, FILE *f)
{
    const struct cli_tool *t = p->tool;
    fprintf(f, "Usage: %s %s\n", t->name, t->synopsis);
    if (t->summary)
        fprintf(f, "%s\n", t->summary);
    if (p->tables[0] && !is_end(p->tables[0]) && !is_heading(p->tables[0]))
        fprintf(f, "\nOptions:\n");
    help_table(f, p->tables[0]);
    help_table(f, p->tables[1]);
    if (t->epilog)
        fprintf(f, "\n%s", t->epilog);
}

void cli_opt_version(const struct cli_parser *p, FILE *f, void (*extra)(FILE *f))
{
    fprintf(f, "%s %s\n", p->tool->name, QF_VERSION_STRING);
    fprintf(f, "libqfmt %s\n", qf_version());
    cli_simd_version(f);
    if (extra)
        extra(f);
}

int cli_opt_common(struct cli_parser *p, int id, const char *arg, struct cli_common *c,
                   void (*version_extra)(FILE *f))
{
    switch (id) {
    case CLI_OPT_HELP:
        cli_opt_help(p, stdout);
        exit(fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_TROUBLE);
    case CLI_OPT_VERSION:
        cli_opt_version(p, stdout, version_extra);
        exit(fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_TROUBLE);
    case CLI_OPT_QUIET:
        if (cli_level > 0)
            cli_level--;
        return 1;
    case CLI_OPT_VERBOSE:
        if (cli_level < 4)
            cli_level++;
        return 1;
    case CLI_OPT_PROGRESS:
        c->progress = 1;
        return 1;
    case CLI_OPT_NO_PROGRESS:
        c->progress = 0;
        return 1;
    case CLI_OPT_SIMD:
        if (strcmp(arg, "list") == 0) {
            cli_simd_list(stdout);
            exit(fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_TROUBLE);
        }
        if (cli_simd_set(arg) != 0)
            cli_usage_die("unsupported SIMD level '%s' (see --simd=list)", arg);
        c->simd = arg;
        return 1;
    case CLI_OPT_FORMAT:
        if (strcmp(arg, "gguf") != 0 && strcmp(arg, "safetensors") != 0)
            cli_usage_die("unknown format '%s' (gguf, safetensors)", arg);
        c->format = arg;
        return 1;
    default:
        return 0;
    }
}

unsigned long long cli_parse_count(const char *name, const char *arg, unsigned long long max)
{
    char *end;
    char w[64];
    if (!arg || !(*arg >= '0' && *arg <= '9'))
        cli_usage_die("option '--%s' needs a number, not '%s'", name,
                      cli_escape(w, sizeof w, arg ? arg : "", arg ? strlen(arg) : 0));
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    unsigned shift = 0;
    if (*end == 'k' || *end == 'K')
        shift = 10, end++;
    else if (*end == 'M')
        shift = 20, end++;
    else if (*end == 'G')
        shift = 30, end++;
    if (errno || *end || (shift && v > (max >> shift)) || (v << shift) > max)
        cli_usage_die("bad value '%s' for option '--%s' (at most %llu)",
                      cli_escape(w, sizeof w, arg, strlen(arg)), name, max);
    return v << shift;
}
