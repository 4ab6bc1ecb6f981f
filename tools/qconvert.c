/* qconvert - convert and quantize models: GGUF or safetensors in, GGUF or safetensors out.
 *
 *   qconvert --type Q4_K_M in.gguf -o out.gguf       llama-quantize's recipe, byte for byte
 *   qconvert --type F16 hf-dir/ -o out.gguf          a Hugging Face checkpoint to GGUF
 *   qconvert --type F32 in.gguf -o out.safetensors   dequantize
 *   qconvert --type Q8_0 --dry-run in.gguf           print the plan, write nothing
 *   qconvert --layout gptq --bits 4 hf-dir/ -o out/  a GPTQ (or AWQ) checkpoint directory
 *
 * The tool parses options and prints; the plan and the streaming are libqfmt's
 * (qf/convert.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qf/qf.h"
#include "qf/lwrite.h"

#include "cli_msg.h"
#include "cli_opt.h"
#include "cli_out.h"
#include "cli_progress.h"

enum {
    OPT_OUTPUT_FORMAT = CLI_OPT_TOOL_BASE,
    OPT_HF_NAMES,
    OPT_PURE,
    OPT_OUTPUT_TENSOR_TYPE,
    OPT_TOKEN_EMBEDDING_TYPE,
    OPT_TENSOR_TYPE,
    OPT_LEAVE_OUTPUT,
    OPT_ALLOW_REQUANTIZE,
    OPT_IMATRIX,
    OPT_NEW_RECIPE,
    OPT_JSON,
    OPT_CHUNK,
    OPT_NO_FSYNC,
    OPT_LAYOUT,
    OPT_BITS,
    OPT_GROUP_SIZE,
    OPT_SYM,
    OPT_ASYM,
    OPT_GPTQ_FORMAT,
    OPT_AWQ_VERSION,
    OPT_NO_ACT_ORDER,
    OPT_DOUBLE_QUANT,
};

static const struct cli_opt opts[] = {
    {NULL, 0, 0, 0, NULL, "Target:"},
    {"type", 't', 't', CLI_ARG_REQUIRED, "TYPE",
     "file type as llama-quantize names it (Q4_K_M, Q8_0, IQ4_XS, F16, BF16, F32, ...) or "
     "a ggml tensor type (q4_K, mxfp4, ...) for every eligible tensor"},
    {"output", 'o', 'o', CLI_ARG_REQUIRED, "FILE", "write to FILE ('-': standard output, GGUF)"},
    {"output-format", 0, OPT_OUTPUT_FORMAT, CLI_ARG_REQUIRED, "NAME",
     "gguf or safetensors (default: from the output's extension, else gguf)"},
    {"hf-names", 0, OPT_HF_NAMES, CLI_ARG_NONE, NULL,
     "safetensors output: Hugging Face tensor names, Q/K rows un-permuted (llama)"},
    {"force", 'f', 'f', CLI_ARG_NONE, NULL, "replace an existing output file"},
    {NULL, 0, 0, 0, NULL, "Quantization (as llama-quantize):"},
    {"pure", 0, OPT_PURE, CLI_ARG_NONE, NULL, "no type mixing: every eligible tensor gets the base type"},
    {"output-tensor-type", 0, OPT_OUTPUT_TENSOR_TYPE, CLI_ARG_REQUIRED, "TYPE",
     "type of output.weight"},
    {"token-embedding-type", 0, OPT_TOKEN_EMBEDDING_TYPE, CLI_ARG_REQUIRED, "TYPE",
     "type of token_embd.weight"},
    {"tensor-type", 0, OPT_TENSOR_TYPE, CLI_ARG_REQUIRED, "PATTERN=TYPE",
     "tensors whose name matches the regular expression get TYPE (repeatable; first match wins)"},
    {"leave-output-tensor", 0, OPT_LEAVE_OUTPUT, CLI_ARG_NONE, NULL, "keep output.weight as it is"},
    {"allow-requantize", 0, OPT_ALLOW_REQUANTIZE, CLI_ARG_NONE, NULL,
     "allow quantized inputs to be quantized again"},
    {"imatrix", 0, OPT_IMATRIX, CLI_ARG_REQUIRED, "FILE",
     "importance matrix (llama-imatrix GGUF or .dat file)"},
    {"new-recipe", 0, OPT_NEW_RECIPE, CLI_ARG_NONE, NULL,
     "the later llama-quantize rules (Q2_K/Q3_K fall back to Q4_0, ...)"},
    {NULL, 0, 0, 0, NULL, "Quantized layouts (lossy; -o names a directory):"},
    {"layout", 0, OPT_LAYOUT, CLI_ARG_REQUIRED, "NAME",
     "write a gptq, awq, ct-int4, ct-int8, ct-fp8 (compressed-tensors), bnb-nf4, bnb-fp4 "
     "(bitsandbytes) or mlx checkpoint "
     "(model.safetensors, config.json, quantize_config.json) instead of --type"},
    {"bits", 0, OPT_BITS, CLI_ARG_REQUIRED, "N", "bits per weight: 2, 3, 4, 8 (gptq), 4 (awq), 2, 3, 4, 6, 8 (mlx); default 4 "
     "(ct-*: the name's)"},
    {"group-size", 0, OPT_GROUP_SIZE, CLI_ARG_REQUIRED, "N",
     "inputs per scale: 32, 64, 128 (default, or the input's), ... or -1 per output channel "
     "(gptq, ct-*); bnb-*: the blocksize (64 default, ... 4096); mlx: 32, 64 (default), 128"},
    {"sym", 0, OPT_SYM, CLI_ARG_NONE, NULL, "symmetric: zero point 2^(bits-1) (gptq default)"},
    {"asym", 0, OPT_ASYM, CLI_ARG_NONE, NULL, "asymmetric: a zero point per group (awq always)"},
    {"gptq-format", 0, OPT_GPTQ_FORMAT, CLI_ARG_REQUIRED, "FMT",
     "auto (default: v1 unless a zero point is 0, then v2), v1 (checkpoint_format gptq; "
     "refused if a zero point is 0) or v2 (gptq_v2)"},
    {"awq-version", 0, OPT_AWQ_VERSION, CLI_ARG_REQUIRED, "VER", "gemm (default) or gemv"},
    {"no-act-order", 0, OPT_NO_ACT_ORDER, CLI_ARG_NONE, NULL,
     "do not keep a GPTQ input's act-order g_idx (use natural groups)"},
    {"double-quant", 0, OPT_DOUBLE_QUANT, CLI_ARG_NONE, NULL,
     "bnb-nf4 / bnb-fp4: quantize the absmax again (bnb_4bit_use_double_quant)"},
    {NULL, 0, 0, 0, NULL, "Run:"},
    {"dry-run", 'n', 'n', CLI_ARG_NONE, NULL, "print the plan (types, paths, sizes), write nothing"},
    {"threads", 'j', 'j', CLI_ARG_REQUIRED, "N", "worker threads (default: the online CPUs, at most 16)"},
    {"chunk", 0, OPT_CHUNK, CLI_ARG_REQUIRED, "N",
     "elements per chunk of rows (default 1M; memory is about 20 bytes x N x threads)"},
    {"json", 0, OPT_JSON, CLI_ARG_NONE, NULL, "print the plan or the report as JSON on stdout"},
    {"no-fsync", 0, OPT_NO_FSYNC, CLI_ARG_NONE, NULL, NULL},
    {0, 0, 0, 0, NULL, NULL},
};

static const struct cli_tool tool = {
    "qconvert",
    "--type TYPE [OPTION]... INPUT -o OUTPUT\n"
    "  or:  qconvert --layout NAME [OPTION]... INPUT -o DIRECTORY",
    "Convert and quantize models: a GGUF file, a safetensors file or a Hugging Face\n"
    "model directory in, GGUF or safetensors out. '-' reads a GGUF from standard\n"
    "input.",
    "Exit status: 0 converted (or planned), 1 a dry run found that the conversion\n"
    "would fail (an importance matrix is missing), 2 trouble (usage, unreadable or\n"
    "malformed input, a type the input cannot get, an existing output without\n"
    "--force, I/O). Killed by SIGINT or SIGTERM, it removes its temporary file\n"
    "first.\n",
};

#define LAYOUT_NAMES "gptq, awq, ct-int4, ct-int8, ct-fp8, bnb-nf4, bnb-fp4, mlx"

static int is_layout_name(const char *s)
{
    static const char *const names[] = {"gptq",   "awq",     "ct-int4", "ct-int8",
                                        "ct-fp8", "bnb-nf4", "bnb-fp4", "mlx"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        if (!strcmp(s, names[k]))
            return 1;
    return 0;
}

#define MAX_RULES 256

static struct {
    const char *in, *out, *type_name, *out_format, *imatrix;
    int ftype, type;
    int force, dry_run, json, hf_names, no_fsync, threads;
    unsigned long long chunk;
    struct qf_convert_opts copts;
    struct qf_convert_rule rules[MAX_RULES];
    char *rule_pat[MAX_RULES];
    size_t n_rules;
    struct cli_common common;
    struct qf_lwrite_opts lopts;
    int layout_opt; /* a layout option was given */
} g;

static volatile sig_atomic_t g_signal;

static void on_signal(int sig)
{
    g_signal = sig;
}

static int parse_type(const char *opt, const char *arg)
{
    int t = qf_type_from_name(arg);
    const struct qf_type_info *ti = qf_type_info(t);
    if (t < 0 || !ti || !(ti->flags & QF_TYPEF_GGUF) || !qf_type_can_quantize(t)) {
        char w[64];
        cli_usage_die("option '--%s': unknown or unwritable tensor type '%s'", opt,
                      cli_escape(w, sizeof w, arg, strlen(arg)));
    }
    return t;
}

static void add_rule(const char *arg)
{
    const char *eq = strrchr(arg, '=');
    char w[96];
    if (!eq || eq == arg || !eq[1])
        cli_usage_die("option '--tensor-type' needs PATTERN=TYPE, not '%s'",
                      cli_escape(w, sizeof w, arg, strlen(arg)));
    if (g.n_rules >= MAX_RULES)
        cli_usage_die("too many --tensor-type options (at most %d)", MAX_RULES);
    char *pat = strndup(arg, (size_t)(eq - arg));
    if (!pat)
        cli_die(CLI_EXIT_TROUBLE, "out of memory");
    g.rule_pat[g.n_rules] = pat;
    g.rules[g.n_rules].pattern = pat;
    g.rules[g.n_rules].type = parse_type("tensor-type", eq + 1);
    g.n_rules++;
}

static void version_extra(FILE *f)
{
    (void)f;
}

static void parse_args(int argc, char **argv)
{
    struct cli_parser p;
    cli_opt_init(&p, &tool, opts, argc, argv);
    qf_convert_opts_init(&g.copts);
    g.ftype = -1;
    g.type = -1;
    g.common.progress = -1;
    qf_lwrite_opts_init(&g.lopts);
    int type_only = 0; /* an option that only --type conversions take */
    const char *arg;
    int id;
    while ((id = cli_opt_next(&p, &arg)) != -1) {
        if (cli_opt_common(&p, id, arg, &g.common, version_extra))
            continue;
        switch (id) {
        case 't': g.type_name = arg; break;
        case 'o': g.out = arg; break;
        case 'f': g.force = 1; break;
        case 'n': g.dry_run = 1; break;
        case 'j': g.threads = (int)cli_parse_count("threads", arg, 256); break;
        case OPT_CHUNK: g.chunk = cli_parse_count("chunk", arg, 1ull << 32); break;
        case OPT_JSON: g.json = 1; break;
        case OPT_NO_FSYNC: g.no_fsync = 1; break;
        case OPT_OUTPUT_FORMAT:
            if (strcmp(arg, "gguf") != 0 && strcmp(arg, "safetensors") != 0)
                cli_usage_die("unknown output format '%s' (gguf, safetensors)", arg);
            g.out_format = arg;
            break;
        case OPT_HF_NAMES: g.hf_names = 1; type_only = 1; break;
        case OPT_PURE: g.copts.quant.flags |= QF_QUANT_PURE; type_only = 1; break;
        case OPT_LEAVE_OUTPUT: g.copts.quant.flags |= QF_QUANT_LEAVE_OUTPUT; type_only = 1; break;
        case OPT_NEW_RECIPE: g.copts.quant.flags |= QF_QUANT_RECIPE_NEW; type_only = 1; break;
        case OPT_ALLOW_REQUANTIZE: g.copts.flags |= QF_CONVERT_ALLOW_REQUANTIZE; break;
        case OPT_OUTPUT_TENSOR_TYPE:
            g.copts.quant.output_type = parse_type("output-tensor-type", arg);
            type_only = 1;
            break;
        case OPT_TOKEN_EMBEDDING_TYPE:
            g.copts.quant.token_embd_type = parse_type("token-embedding-type", arg);
            type_only = 1;
            break;
        case OPT_TENSOR_TYPE: add_rule(arg); type_only = 1; break;
        case OPT_IMATRIX: g.imatrix = arg; type_only = 1; break;
        case OPT_LAYOUT:
            if (!is_layout_name(arg))
                cli_usage_die("unknown layout '%s' (%s)", arg, LAYOUT_NAMES);
            g.lopts.layout = arg;
            break;
        case OPT_BITS:
            g.lopts.bits = (int)cli_parse_count("bits", arg, 8);
            g.layout_opt = 1;
            break;
        case OPT_GROUP_SIZE:
            if (strcmp(arg, "-1") == 0)
                g.lopts.group_size = -1;
            else
                g.lopts.group_size = (int64_t)cli_parse_count("group-size", arg, 1ull << 31);
            if (g.lopts.group_size == 0)
                cli_usage_die("option '--group-size': 0 (a positive number, or -1)");
            g.layout_opt = 1;
            break;
        case OPT_SYM: g.lopts.sym = 1; g.layout_opt = 1; break;
        case OPT_ASYM: g.lopts.sym = 0; g.layout_opt = 1; break;
        case OPT_GPTQ_FORMAT:
            if (strcmp(arg, "auto") == 0)
                g.lopts.gptq_format = QF_LW_GPTQ_AUTO;
            else if (strcmp(arg, "v1") == 0 || strcmp(arg, "gptq") == 0)
                g.lopts.gptq_format = QF_LW_GPTQ_V1;
            else if (strcmp(arg, "v2") == 0 || strcmp(arg, "gptq_v2") == 0)
                g.lopts.gptq_format = QF_LW_GPTQ_V2;
            else
                cli_usage_die("unknown GPTQ format '%s' (auto, v1, v2)", arg);
            g.layout_opt = 1;
            break;
        case OPT_AWQ_VERSION:
            if (strcmp(arg, "gemm") == 0)
                g.lopts.awq_version = QF_LW_AWQ_GEMM;
            else if (strcmp(arg, "gemv") == 0)
                g.lopts.awq_version = QF_LW_AWQ_GEMV;
            else
                cli_usage_die("unknown AWQ version '%s' (gemm, gemv)", arg);
            g.layout_opt = 1;
            break;
        case OPT_NO_ACT_ORDER: g.lopts.no_act_order = 1; g.layout_opt = 1; break;
        case OPT_DOUBLE_QUANT: g.lopts.double_quant = 1; g.layout_opt = 1; break;
        default: cli_usage_die("unhandled option");
        }
    }
    int rest = cli_opt_rest(&p);
    cli_opt_release(&p);
    if (rest >= argc)
        cli_usage_die("no input file");
    if (argc - rest > 1)
        cli_usage_die("one input only (got %d operands)", argc - rest);
    g.in = argv[rest];
    if (g.lopts.layout) {
        if (g.type_name)
            cli_usage_die("--layout and --type exclude each other");
        if (type_only || g.out_format)
            cli_usage_die("--layout writes a checkpoint directory: --output-format, --hf-names, "
                          "--pure, --tensor-type, --imatrix and the type options do not apply");
        if (!g.out && !g.dry_run)
            cli_usage_die("no output directory (-o DIRECTORY, or --dry-run)");
        if (g.out && strcmp(g.out, "-") == 0)
            cli_usage_die("--layout writes a directory, not standard output");
        return;
    }
    if (g.layout_opt)
        cli_usage_die("--bits, --group-size, --sym, --asym, --gptq-format, --awq-version, "
                      "--no-act-order and --double-quant go with --layout");
    if (!g.type_name)
        cli_usage_die("no target type (--type TYPE)");
    if (!g.out && !g.dry_run)
        cli_usage_die("no output file (-o FILE, or --dry-run)");
    /* a file type name first (llama-quantize's names and ids), else a ggml type */
    int ft = qf_ftype_from_name(g.type_name);
    if (ft >= 0 && ft != QF_FTYPE_GUESSED && qf_ftype_info(ft) &&
        qf_ftype_info(ft)->base_type != QF_TYPE_INVALID) {
        g.ftype = ft;
    } else {
        int t = qf_type_from_name(g.type_name);
        const struct qf_type_info *ti = qf_type_info(t);
        if (t < 0 || !ti || !(ti->flags & QF_TYPEF_GGUF) || !qf_type_can_quantize(t)) {
            char w[64];
            cli_usage_die("unknown type '%s' (a llama-quantize file type such as Q4_K_M, or a "
                          "ggml type such as q4_K)",
                          cli_escape(w, sizeof w, g.type_name, strlen(g.type_name)));
        }
        g.type = t;
    }
    if (!g.out_format) {
        size_t l = g.out ? strlen(g.out) : 0;
        g.out_format = l >= 12 && strcasecmp(g.out + l - 12, ".safetensors") == 0 ? "safetensors"
                                                                                  : "gguf";
    }
    if (g.hf_names && strcmp(g.out_format, "safetensors") != 0)
        cli_usage_die("--hf-names is for safetensors output");
    if (g.out && strcmp(g.out, "-") == 0 && strcmp(g.out_format, "gguf") != 0)
        cli_usage_die("standard output takes GGUF only");
}

/* ---------------------------------------------------------------------------------------
 * Standard input and other pipes: spooled to an unlinked temporary file, because llama.cpp's
 * tensor order reads the input out of order.
 */
static char g_stdin_path[64];

static const char *spool(int in_fd, const char *what)
{
    const char *tmp = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/qconvert-stdin-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        cli_die(CLI_EXIT_TROUBLE, "cannot create a temporary file for %s: %s", what,
                strerror(errno));
    unlink(path);
    static char buf[1 << 16];
    for (;;) {
        ssize_t r = read(in_fd, buf, sizeof buf);
        if (r == 0)
            break;
        if (r < 0) {
            if (errno == EINTR && !g_signal)
                continue;
            cli_die(CLI_EXIT_TROUBLE, "cannot read %s: %s", what, strerror(errno));
        }
        for (ssize_t o = 0; o < r;) {
            ssize_t w = write(fd, buf + o, (size_t)(r - o));
            if (w < 0) {
                if (errno == EINTR && !g_signal)
                    continue;
                cli_die(CLI_EXIT_TROUBLE, "cannot keep a copy of %s: %s", what, strerror(errno));
            }
            o += w;
        }
        if (g_signal)
            cli_die(CLI_EXIT_TROUBLE, "interrupted");
    }
    snprintf(g_stdin_path, sizeof g_stdin_path, "/dev/fd/%d", fd);
    return g_stdin_path;
}

/* ---------------------------------------------------------------------------------------
 * Output
 */
static const char *path_name(const struct qf_convert_item *it)
{
    if (it->path == QF_CONVERT_COPY)
        return (it->how & QF_CONVERT_PERMUTED) ? "copy+permute" : "copy";
    const struct qf_type_info *a = qf_type_info(it->src_type), *b = qf_type_info(it->type);
    int aq = a && (a->flags & QF_TYPEF_QUANT), bq = b && (b->flags & QF_TYPEF_QUANT);
    if (aq && bq)
        return "requantize";
    if (aq)
        return "dequantize";
    if (bq)
        return "quantize";
    return "convert";
}

static const char *dims_str(char *buf, size_t n, int n_dims, const uint64_t *shape)
{
    size_t o = 0;
    o += (size_t)snprintf(buf + o, n - o, "[");
    for (int d = 0; d < n_dims && o < n; d++)
        o += (size_t)snprintf(buf + o, n - o, "%s%llu", d ? ", " : "",
                              (unsigned long long)shape[d]);
    if (o < n)
        snprintf(buf + o, n - o, "]");
    return buf;
}

static const char *shape_str(char *buf, size_t n, const struct qf_convert_item *it)
{
    return dims_str(buf, n, it->n_dims, it->shape);
}

static const char *notes_str(char *buf, size_t n, const struct qf_convert_item *it)
{
    buf[0] = '\0';
    size_t o = 0;
    const char *w[4];
    int k = 0;
    if (it->how & QF_CONVERT_BY_RULE)
        w[k++] = "rule";
    else if (it->how & QF_QUANT_MIXED)
        w[k++] = "mixed";
    if (it->how & QF_QUANT_FALLBACK)
        w[k++] = "fallback";
    if (it->how & QF_CONVERT_PERMUTED)
        w[k++] = "permuted";
    for (int i = 0; i < k && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%s", i ? "," : "", w[i]);
    return buf;
}

static double bpw(const struct qf_convert_plan *p)
{
    uint64_t ne = qf_convert_plan_nelem(p);
    return ne ? 8.0 * (double)qf_convert_plan_data_bytes(p) / (double)ne : 0.0;
}

static void print_plan(FILE *f, const struct qf_convert_plan *p)
{
    struct cli_table *t = cli_table_new(cli_level >= 3 ? 8 : 7);
    cli_table_head(t, 0, "name", 0);
    cli_table_head(t, 1, "shape", 0);
    cli_table_head(t, 2, "from", 0);
    cli_table_head(t, 3, "to", 0);
    cli_table_head(t, 4, "path", 0);
    cli_table_head(t, 5, "bytes", 1);
    if (cli_level >= 3) {
        cli_table_head(t, 6, "offset", 1);
        cli_table_head(t, 7, "note", 0);
    } else {
        cli_table_head(t, 6, "note", 0);
    }
    size_t n = qf_convert_plan_n_items(p), nq = 0, nc = 0;
    for (size_t i = 0; i < n; i++) {
        const struct qf_convert_item *it = qf_convert_plan_item(p, i);
        char sb[128], nb[64];
        cli_table_cell_esc(t, it->name, strlen(it->name), 96);
        cli_table_cell(t, "%s", shape_str(sb, sizeof sb, it));
        cli_table_cell(t, "%s", qf_type_name(it->src_type));
        cli_table_cell(t, "%s", qf_type_name(it->type));
        cli_table_cell(t, "%s", path_name(it));
        cli_table_cell(t, "%llu", (unsigned long long)it->nbytes);
        if (cli_level >= 3)
            cli_table_cell(t, "%llu", (unsigned long long)it->offset);
        cli_table_cell(t, "%s", notes_str(nb, sizeof nb, it));
        cli_table_endrow(t);
        if (it->path == QF_CONVERT_COPY)
            nc++;
        else
            nq++;
    }
    cli_table_print(t, f, 0);
    cli_table_free(t);
    char h[32];
    fprintf(f,
            "total: %zu tensors (%zu converted, %zu copied), %llu bytes of tensor data "
            "(%.2f bpw), file %llu bytes (%s)\n",
            n, nq, nc, (unsigned long long)qf_convert_plan_data_bytes(p), bpw(p),
            (unsigned long long)qf_convert_plan_file_size(p),
            cli_human_size(h, sizeof h, qf_convert_plan_file_size(p)));
}

static json_t *jnum(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *jstats(const struct qf_convert_stats *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "rmse", jnum(s->rmse));
    json_object_set_new(o, "max_abs", jnum(s->max_abs));
    json_object_set_new(o, "snr_db", jnum(s->snr_db));
    json_object_set_new(o, "nonfinite_inputs", json_integer((json_int_t)s->n_nonfinite));
    return o;
}

static json_t *jstr(const char *s)
{
    json_t *j = json_string(s);
    return j ? j : json_stringn("?", 1); /* names that are not UTF-8 */
}

/* add the plan's notes (note(p, i) until NULL) to a JSON report, print it on one line, free it */
static void print_json_root(json_t *root, const char *(*note)(const void *, size_t),
                            const void *p)
{
    json_t *notes = json_array();
    const char *nt;
    for (size_t i = 0; (nt = note(p, i)); i++)
        json_array_append_new(notes, jstr(nt));
    json_object_set_new(root, "notes", notes);
    char *txt = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
    json_decref(root);
    if (!txt)
        cli_die(CLI_EXIT_TROUBLE, "out of memory");
    printf("%s\n", txt);
    free(txt);
}

/* the error columns of the -v tables */
static void error_heads(struct cli_table *t, size_t c0)
{
    cli_table_head(t, c0, "rmse", 1);
    cli_table_head(t, c0 + 1, "max_abs", 1);
    cli_table_head(t, c0 + 2, "snr_db", 1);
}

static void error_cells(struct cli_table *t, const struct qf_convert_stats *s)
{
    cli_table_cell(t, "%.3g", s->rmse);
    cli_table_cell(t, "%.3g", s->max_abs);
    if (isfinite(s->snr_db))
        cli_table_cell(t, "%.2f", s->snr_db);
    else
        cli_table_cell(t, "exact");
}

static const char *convert_note(const void *p, size_t i)
{
    return qf_convert_plan_note(p, i);
}

static void print_json(const struct qf_convert_plan *p, int ran)
{
    json_t *root = json_object();
    json_object_set_new(root, "input", jstr(g.in));
    json_object_set_new(root, "output", g.out ? jstr(g.out) : json_null());
    json_object_set_new(root, "format", json_string(g.out_format));
    json_object_set_new(root, "type", jstr(g.type_name));
    int ft = qf_convert_plan_ftype(p);
    json_object_set_new(root, "file_type", ft >= 0 ? json_integer(ft) : json_null());
    json_object_set_new(root, "dry_run", json_boolean(!ran));
    json_t *arr = json_array();
    size_t n = qf_convert_plan_n_items(p);
    for (size_t i = 0; i < n; i++) {
        const struct qf_convert_item *it = qf_convert_plan_item(p, i);
        json_t *o = json_object();
        json_object_set_new(o, "name", jstr(it->name));
        json_object_set_new(o, "source", jstr(it->src->name));
        json_t *sh = json_array();
        for (int d = 0; d < it->n_dims; d++)
            json_array_append_new(sh, json_integer((json_int_t)it->shape[d]));
        json_object_set_new(o, "shape", sh);
        json_object_set_new(o, "from", json_string(qf_type_name(it->src_type)));
        json_object_set_new(o, "to", json_string(qf_type_name(it->type)));
        json_object_set_new(o, "path", json_string(path_name(it)));
        json_object_set_new(o, "bytes", json_integer((json_int_t)it->nbytes));
        json_object_set_new(o, "offset", json_integer((json_int_t)it->offset));
        json_object_set_new(o, "mixed", json_boolean(it->how & QF_QUANT_MIXED));
        json_object_set_new(o, "fallback", json_boolean(it->how & QF_QUANT_FALLBACK));
        json_object_set_new(o, "rule", json_boolean(it->how & QF_CONVERT_BY_RULE));
        json_object_set_new(o, "permuted", json_boolean(it->how & QF_CONVERT_PERMUTED));
        json_object_set_new(o, "lossy", json_boolean(it->lossy));
        json_object_set_new(o, "error", it->measured ? jstats(&it->stats) : json_null());
        json_array_append_new(arr, o);
    }
    json_object_set_new(root, "tensors", arr);
    json_t *s = json_object();
    json_object_set_new(s, "tensors", json_integer((json_int_t)n));
    json_object_set_new(s, "elements", json_integer((json_int_t)qf_convert_plan_nelem(p)));
    json_object_set_new(s, "data_bytes", json_integer((json_int_t)qf_convert_plan_data_bytes(p)));
    json_object_set_new(s, "header_bytes",
                        json_integer((json_int_t)qf_convert_plan_header_size(p)));
    json_object_set_new(s, "file_size", json_integer((json_int_t)qf_convert_plan_file_size(p)));
    json_object_set_new(s, "bpw", json_real(bpw(p)));
    json_object_set_new(s, "vocabulary",
                        json_boolean(!(qf_convert_plan_flags(p) & QF_CONVERT_PLAN_NO_VOCAB)));
    json_object_set_new(s, "needs_imatrix",
                        json_boolean(qf_convert_plan_flags(p) & QF_CONVERT_PLAN_NEEDS_IMATRIX));
    struct qf_convert_stats all;
    size_t worst;
    qf_convert_plan_totals(p, &all, &worst);
    if (ran && worst != SIZE_MAX) {
        json_object_set_new(s, "error", jstats(&all));
        const struct qf_convert_item *w = qf_convert_plan_item(p, worst);
        json_t *wo = json_object();
        json_object_set_new(wo, "name", jstr(w->name));
        json_object_set_new(wo, "snr_db", jnum(w->stats.snr_db));
        json_object_set_new(s, "worst", wo);
    } else {
        json_object_set_new(s, "error", json_null());
        json_object_set_new(s, "worst", json_null());
    }
    json_object_set_new(root, "summary", s);
    print_json_root(root, convert_note, p);
}

static void print_errors(const struct qf_convert_plan *p)
{
    size_t n = qf_convert_plan_n_items(p);
    if (cli_level >= 3) {
        struct cli_table *t = cli_table_new(6);
        cli_table_head(t, 0, "name", 0);
        cli_table_head(t, 1, "from", 0);
        cli_table_head(t, 2, "to", 0);
        error_heads(t, 3);
        for (size_t i = 0; i < n; i++) {
            const struct qf_convert_item *it = qf_convert_plan_item(p, i);
            if (!it->measured)
                continue;
            cli_table_cell_esc(t, it->name, strlen(it->name), 96);
            cli_table_cell(t, "%s", qf_type_name(it->src_type));
            cli_table_cell(t, "%s", qf_type_name(it->type));
            error_cells(t, &it->stats);
            cli_table_endrow(t);
        }
        if (cli_table_rows(t))
            cli_table_print(t, stderr, 2);
        cli_table_free(t);
    }
    struct qf_convert_stats all;
    size_t worst;
    qf_convert_plan_totals(p, &all, &worst);
    char h[32];
    if (worst == SIZE_MAX) {
        cli_info(2, "wrote '%s': %zu tensors, %s, %.2f bpw, no lossy conversion", g.out, n, cli_human_size(h, sizeof h, qf_convert_plan_file_size(p)), bpw(p));
        return;
    }
    const struct qf_convert_item *w = qf_convert_plan_item(p, worst);
    char snr[32], wsnr[32];
    snprintf(snr, sizeof snr, isfinite(all.snr_db) ? "%.2f dB" : "exact", all.snr_db);
    snprintf(wsnr, sizeof wsnr, isfinite(w->stats.snr_db) ? "%.2f dB" : "exact", w->stats.snr_db);
    cli_info(2, "wrote '%s': %zu tensors, %s, %.2f bpw; error: rmse %.3g, max %.3g, SNR %s "
                "(worst '%s' %s)",
             g.out, n, cli_human_size(h, sizeof h, qf_convert_plan_file_size(p)),
             bpw(p), all.rmse, all.max_abs, snr, w->name, wsnr);
}

/* ---------------------------------------------------------------------------------------
 * Safety checks on the output path
 */
static void check_output(struct qf_model *m)
{
    if (!g.out || strcmp(g.out, "-") == 0)
        return;
    struct stat so;
    if (stat(g.out, &so) != 0)
        return;
    size_t nf = qf_model_n_files(m);
    for (size_t i = 0; i < nf; i++) {
        struct stat si;
        const char *ip = qf_model_file(m, i)->path;
        if (stat(ip, &si) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino)
            cli_die(CLI_EXIT_TROUBLE, "refusing to overwrite the input '%s'", g.out);
    }
    if (S_ISDIR(so.st_mode))
        cli_die(CLI_EXIT_TROUBLE, "'%s' is a directory", g.out);
    if (!g.force)
        cli_die(CLI_EXIT_TROUBLE, "'%s' exists (use --force to replace it)", g.out);
}

static struct cli_progress g_progress;

static int progress_cb(void *ctx, uint64_t done, uint64_t total)
{
    (void)ctx;
    (void)total;
    cli_progress_update(&g_progress, done);
    return g_signal != 0;
}

static int default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    return n > 16 ? 16 : (int)n;
}

/* ---------------------------------------------------------------------------------------
 * --layout: a GPTQ / AWQ checkpoint directory (qf/lwrite.h)
 */
static const char *litem_to(const struct qf_lwrite_plan *p, const struct qf_lwrite_item *it)
{
    return it->quantized ? qf_lwrite_plan_scheme(p) : qf_type_name(it->out_type);
}

/* bytes of tensor data; *nq quantized layers, *nr of them repacked without loss */
static uint64_t lplan_bytes(const struct qf_lwrite_plan *p, uint64_t *nq, uint64_t *nr)
{
    uint64_t b = 0;
    *nq = *nr = 0;
    for (size_t i = 0; i < qf_lwrite_plan_n_items(p); i++) {
        b += qf_lwrite_plan_item(p, i)->nbytes;
        *nq += qf_lwrite_plan_item(p, i)->quantized != 0;
        *nr += qf_lwrite_plan_item(p, i)->repacked != 0;
    }
    return b;
}

static void print_lplan(FILE *f, const struct qf_lwrite_plan *p)
{
    struct cli_table *t = cli_table_new(5);
    cli_table_head(t, 0, "name", 0);
    cli_table_head(t, 1, "shape", 0);
    cli_table_head(t, 2, "from", 0);
    cli_table_head(t, 3, "to", 0);
    cli_table_head(t, 4, "bytes", 1);
    size_t n = qf_lwrite_plan_n_items(p);
    for (size_t i = 0; i < n; i++) {
        const struct qf_lwrite_item *it = qf_lwrite_plan_item(p, i);
        char sb[128];
        cli_table_cell_esc(t, it->name, strlen(it->name), 96);
        cli_table_cell(t, "%s", dims_str(sb, sizeof sb, it->n_dims, it->shape));
        cli_table_cell(t, "%s", it->src->scheme);
        cli_table_cell(t, "%s%s%s", litem_to(p, it), it->act_order ? " (g_idx kept)" : "",
                       it->repacked ? " (repacked)" : "");
        cli_table_cell(t, "%llu", (unsigned long long)it->nbytes);
        cli_table_endrow(t);
    }
    cli_table_print(t, f, 0);
    cli_table_free(t);
    uint64_t nq, nr, b = lplan_bytes(p, &nq, &nr);
    char h[32];
    fprintf(f, "total: %zu tensors (%llu quantized as %s), %llu bytes of tensor data (%s)\n", n,
            (unsigned long long)nq, qf_lwrite_plan_scheme(p), (unsigned long long)b,
            cli_human_size(h, sizeof h, b));
}

static const char *lwrite_note(const void *p, size_t i)
{
    return qf_lwrite_plan_note(p, i);
}

static void print_ljson(const struct qf_lwrite_plan *p, int ran)
{
    json_t *root = json_object();
    json_object_set_new(root, "input", jstr(g.in));
    json_object_set_new(root, "output", g.out ? jstr(g.out) : json_null());
    json_object_set_new(root, "layout", json_string(g.lopts.layout));
    json_object_set_new(root, "scheme", json_string(qf_lwrite_plan_scheme(p)));
    uint64_t nq, nr;
    lplan_bytes(p, &nq, &nr);
    json_object_set_new(root, "lossy", json_boolean(nr < nq));
    json_object_set_new(root, "dry_run", json_boolean(!ran));
    json_t *arr = json_array();
    size_t n = qf_lwrite_plan_n_items(p);
    for (size_t i = 0; i < n; i++) {
        const struct qf_lwrite_item *it = qf_lwrite_plan_item(p, i);
        json_t *o = json_object(), *sh = json_array();
        json_object_set_new(o, "name", jstr(it->name));
        for (int d = 0; d < it->n_dims; d++)
            json_array_append_new(sh, json_integer((json_int_t)it->shape[d]));
        json_object_set_new(o, "shape", sh);
        json_object_set_new(o, "from", jstr(it->src->scheme));
        json_object_set_new(o, "to", json_string(litem_to(p, it)));
        json_object_set_new(o, "quantized", json_boolean(it->quantized));
        json_object_set_new(o, "act_order", json_boolean(it->act_order));
        json_object_set_new(o, "repacked", json_boolean(it->repacked));
        json_object_set_new(o, "bytes", json_integer((json_int_t)it->nbytes));
        json_object_set_new(o, "error", it->measured ? jstats(&it->stats) : json_null());
        json_array_append_new(arr, o);
    }
    json_object_set_new(root, "tensors", arr);
    struct qf_convert_stats all;
    size_t worst;
    qf_lwrite_plan_totals(p, &all, &worst);
    json_object_set_new(root, "error", ran && worst != SIZE_MAX ? jstats(&all) : json_null());
    print_json_root(root, lwrite_note, p);
}

static void print_lerrors(const struct qf_lwrite_plan *p)
{
    size_t n = qf_lwrite_plan_n_items(p);
    if (cli_level >= 3) {
        struct cli_table *t = cli_table_new(4);
        cli_table_head(t, 0, "name", 0);
        error_heads(t, 1);
        for (size_t i = 0; i < n; i++) {
            const struct qf_lwrite_item *it = qf_lwrite_plan_item(p, i);
            if (!it->measured)
                continue;
            cli_table_cell_esc(t, it->name, strlen(it->name), 96);
            error_cells(t, &it->stats);
            cli_table_endrow(t);
        }
        if (cli_table_rows(t))
            cli_table_print(t, stderr, 2);
        cli_table_free(t);
    }
    struct qf_convert_stats all;
    size_t worst;
    qf_lwrite_plan_totals(p, &all, &worst);
    uint64_t nq, nr, b = lplan_bytes(p, &nq, &nr);
    char h[32], snr[32], wsnr[32], how[96];
    const struct qf_lwrite_item *w = worst != SIZE_MAX ? qf_lwrite_plan_item(p, worst) : NULL;
    snprintf(snr, sizeof snr, isfinite(all.snr_db) ? "%.2f dB" : "exact", all.snr_db);
    snprintf(wsnr, sizeof wsnr, w && isfinite(w->stats.snr_db) ? "%.2f dB" : "exact",
             w ? w->stats.snr_db : 0.0);
    if (nr == nq && !w) { /* every layer through a direct repack kernel: nothing decoded */
        cli_info(2, "wrote '%s' (%s): %zu tensors, %llu quantized, %s of tensor data; lossless "
                    "(the input's codes repacked word by word, not decoded)",
                 g.out, qf_lwrite_plan_scheme(p), n, (unsigned long long)nq,
                 cli_human_size(h, sizeof h, b));
        return;
    }
    if (nr == nq)
        snprintf(how, sizeof how, "lossless (the input's codes repacked); decoded values differ "
                                  "by");
    else if (nr)
        snprintf(how, sizeof how, "lossy (round-to-nearest; %llu layers repacked)",
                 (unsigned long long)nr);
    else
        snprintf(how, sizeof how, "lossy (round-to-nearest)");
    cli_info(2, "wrote '%s' (%s): %zu tensors, %llu quantized, %s of tensor data; %s: rmse %.3g, "
                "max %.3g, SNR %s (worst '%s' %s)",
             g.out, qf_lwrite_plan_scheme(p), n, (unsigned long long)nq,
             cli_human_size(h, sizeof h, b), how, all.rmse, all.max_abs, snr, w ? w->name : "-",
             wsnr);
}

/* the output directory must not be the input's (its config.json would be replaced) */
static void check_layout_output(struct qf_model *m)
{
    struct stat so;
    if (!g.out || stat(g.out, &so) != 0)
        return;
    if (!S_ISDIR(so.st_mode))
        cli_die(CLI_EXIT_TROUBLE, "'%s' exists and is not a directory", g.out);
    for (size_t i = 0; i < qf_model_n_files(m); i++) {
        char d[4096];
        snprintf(d, sizeof d, "%s", qf_model_file(m, i)->path);
        char *sl = strrchr(d, '/');
        if (sl)
            *sl = '\0';
        else
            snprintf(d, sizeof d, ".");
        struct stat si;
        if (stat(d, &si) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino)
            cli_die(CLI_EXIT_TROUBLE, "refusing to write into the input's directory '%s'", g.out);
    }
}

static int run_layout(struct qf_model *m)
{
    struct qf_error err;
    qf_error_clear(&err);
    if (!g.dry_run)
        check_layout_output(m);
    struct qf_lwrite_plan *plan = NULL;
    if (qf_lwrite_plan_new(m, &g.lopts, &plan, &err) != QF_OK)
        cli_die(CLI_EXIT_TROUBLE, "'%s': %s", g.in, err.msg);
    const char *nt;
    size_t shown = 0;
    for (; (nt = qf_lwrite_plan_note(plan, shown)); shown++)
        cli_warn("%s", nt);
    if (g.dry_run) {
        if (g.json)
            print_ljson(plan, 0);
        else
            print_lplan(stdout, plan);
        qf_lwrite_plan_free(plan);
        return CLI_EXIT_OK;
    }
    struct qf_lwrite_run_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.chunk_elems = g.chunk;
    ro.no_fsync = g.no_fsync;
    ro.force = g.force;
    ro.progress = progress_cb;
    uint64_t nq, nr;
    cli_progress_start(&g_progress, "quantizing", lplan_bytes(plan, &nq, &nr), g.common.progress);
    int rc = qf_lwrite_run(plan, g.out, &ro, &err);
    cli_progress_end(&g_progress);
    for (; (nt = qf_lwrite_plan_note(plan, shown)); shown++)
        cli_warn("%s", nt);
    if (rc != QF_OK) {
        int sig = g_signal;
        if (err.sys_errno == EEXIST)
            cli_error("%s (use --force to replace it)", err.msg);
        else
            cli_error("%s", err.msg[0] ? err.msg : qf_strerror(rc));
        qf_lwrite_plan_free(plan);
        if (sig) {
            signal(sig, SIG_DFL);
            raise(sig);
        }
        return CLI_EXIT_TROUBLE;
    }
    if (g.json)
        print_ljson(plan, 1);
    print_lerrors(plan);
    qf_lwrite_plan_free(plan);
    return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    cli_color_init(-1);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    const char *in = g.in;
    struct stat sti;
    if (strcmp(in, "-") == 0) {
        if (g.common.format && strcmp(g.common.format, "gguf") != 0)
            cli_usage_die("standard input must be GGUF");
        in = spool(0, "standard input");
    } else if (stat(in, &sti) == 0 && (S_ISFIFO(sti.st_mode) || S_ISCHR(sti.st_mode))) {
        /* a pipe by name (/dev/fd/N, a FIFO): read it once, like standard input */
        int fd = open(in, O_RDONLY);
        if (fd < 0)
            cli_die(CLI_EXIT_TROUBLE, "cannot open '%s': %s", in, strerror(errno));
        char what[300];
        snprintf(what, sizeof what, "'%s'", in);
        in = spool(fd, what);
        close(fd);
    }

    struct qf_error err;
    qf_error_clear(&err);
    struct qf_model *m = NULL;
    if (qf_model_open(in, g.common.format, 0, &m, &err) != QF_OK)
        cli_die(CLI_EXIT_TROUBLE, "%s", err.msg);
    const char *wn;
    for (size_t i = 0; (wn = qf_model_warning(m, i)); i++)
        cli_warn("%s", wn);
    if (g.lopts.layout) {
        int st = run_layout(m);
        qf_model_close(m);
        if (fflush(stdout) != 0)
            cli_die(CLI_EXIT_TROUBLE, "cannot write standard output: %s", strerror(errno));
        return st;
    }
    if (!g.dry_run)
        check_output(m);

    struct qf_imatrix *im = NULL;
    if (g.imatrix && qf_imatrix_load(g.imatrix, &im, &err) != QF_OK)
        cli_die(CLI_EXIT_TROUBLE, "%s", err.msg);

    g.copts.ftype = g.ftype;
    g.copts.type = g.type;
    g.copts.format = g.out_format;
    if (g.hf_names)
        g.copts.flags |= QF_CONVERT_HF_NAMES;
    g.copts.rules = g.rules;
    g.copts.n_rules = g.n_rules;
    g.copts.imatrix = im;
    g.copts.imatrix_name = g.imatrix;

    struct qf_convert_plan *plan = NULL;
    if (qf_convert_plan_new(m, &g.copts, &plan, &err) != QF_OK)
        cli_die(CLI_EXIT_TROUBLE, "'%s': %s", g.in, err.msg);
    const char *nt;
    for (size_t i = 0; (nt = qf_convert_plan_note(plan, i)); i++)
        cli_warn("%s", nt);

    int status = CLI_EXIT_OK;
    if (g.dry_run) {
        if (g.json)
            print_json(plan, 0);
        else
            print_plan(stdout, plan);
        if (qf_convert_plan_flags(plan) & QF_CONVERT_PLAN_NEEDS_IMATRIX)
            status = CLI_EXIT_NO;
    } else {
        struct qf_convert_run_opts ro;
        memset(&ro, 0, sizeof ro);
        ro.threads = g.threads ? g.threads : default_threads();
        ro.chunk_elems = g.chunk;
        ro.no_fsync = g.no_fsync;
        ro.progress = progress_cb;
        cli_progress_start(&g_progress, "converting", qf_convert_plan_data_bytes(plan),
                           g.common.progress);
        int rc = qf_convert_run(plan, g.out, &ro, &err);
        cli_progress_end(&g_progress);
        if (rc != QF_OK) {
            int sig = g_signal;
            cli_error("%s", err.msg[0] ? err.msg : qf_strerror(rc));
            qf_convert_plan_free(plan);
            qf_imatrix_free(im);
            qf_model_close(m);
            if (sig) { /* die of the signal, as the shell expects */
                signal(sig, SIG_DFL);
                raise(sig);
            }
            return CLI_EXIT_TROUBLE;
        }
        if (g.json)
            print_json(plan, 1);
        print_errors(plan);
    }
    qf_convert_plan_free(plan);
    qf_imatrix_free(im);
    qf_model_close(m);
    for (size_t i = 0; i < g.n_rules; i++)
        free(g.rule_pat[i]);
    if (fflush(stdout) != 0)
        cli_die(CLI_EXIT_TROUBLE, "cannot write standard output: %s", strerror(errno));
    return status;
}
