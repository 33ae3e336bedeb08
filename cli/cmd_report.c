/* cli/cmd_report.c — `sinkscope report RUN.h5 [RUN2.h5 ...] -o report.html`: one
 * self-contained HTML page (report/report.h). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../report/report.h"
#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sinkscope report RUN.h5 [RUN2.h5 ...] -o REPORT.html [options]\n"
            "One HTML file that opens anywhere, offline: summary and compare tables, every figure\n"
            "the runs support, an attention explorer for runs with --dump attention, provenance.\n"
            "  -o, --output FILE          the page (never overwritten without --force)\n"
            "      --force                overwrite FILE\n"
            "  -l, --labels A,B,...       run names (default: file names without .h5)\n"
            "      --max-first-token-share X, --max-sink-rate Y, --max-activation Z, --layers SPEC\n"
            "                             audit every run against these limits (as `sinkscope audit`);\n"
            "                             the verdicts are in the page, the exit status stays 0\n"
            "      --seq S                sequence shown by the explorer (default 0)\n"
            "      --map-tokens N         explorer: first N positions of that sequence (default %d, at most 1024)\n"
            "      --no-figures           leave the figures out (no gnuplot needed)\n"
            "Exit status: 0 written, 2 bad input (nothing written), 3 internal error.\n",
            REPORT_MAP_TOKENS);
}

static int parse_limit(const char *opt, const char *s, double *v)
{
    char *end;
    *v = strtod(s, &end);
    if (end == s || *end || !isfinite(*v) || *v < 0)
        return cli_usage_error("report", "%s must be a non-negative number (got '%s')", opt, s);
    return 0;
}

static int parse_count(const char *opt, const char *s, int lo, int *v)
{
    if (cli_int_option(s, lo, 1000000, v))
        return cli_usage_error("report", "%s must be an integer >= %d (got '%s')", opt, lo, s);
    return 0;
}

/* argv joined with spaces, arguments with unusual characters single-quoted (malloc'd). */
static char *command_line(int argc, char **argv)
{
    size_t n = 16;
    for (int i = 0; i < argc; i++)
        n += 4 * strlen(argv[i]) + 3;
    char *s = malloc(n), *p = s;
    if (!s)
        return NULL;
    p += sprintf(p, "sinkscope");
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int plain = *a && strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./,=:+@%") == strlen(a);
        *p++ = ' ';
        if (plain) {
            p += sprintf(p, "%s", a);
            continue;
        }
        *p++ = '\'';
        for (; *a; a++)
            p += *a == '\'' ? sprintf(p, "'\\''") : sprintf(p, "%c", *a);
        *p++ = '\'';
    }
    *p = 0;
    return s;
}

enum { OPT_FORCE = 256, OPT_FTS, OPT_SINK, OPT_ACT, OPT_LAYERS, OPT_SEQ, OPT_TOKENS, OPT_NOFIG };

/* Options into o (labels into the caller's buffer). -1: go on; else the exit status
 * (0 after --help). */
static int parse_options(int argc, char **argv, struct report_options *o, char *labels, size_t cap)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},   {"labels", required_argument, NULL, 'l'},
        {"force", no_argument, NULL, OPT_FORCE},    {"max-first-token-share", required_argument, NULL, OPT_FTS},
        {"max-sink-rate", required_argument, NULL, OPT_SINK},
        {"max-activation", required_argument, NULL, OPT_ACT},
        {"layers", required_argument, NULL, OPT_LAYERS}, {"seq", required_argument, NULL, OPT_SEQ},
        {"map-tokens", required_argument, NULL, OPT_TOKENS}, {"no-figures", no_argument, NULL, OPT_NOFIG},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    int c, rc = -1;
    opterr = 0;
    while (rc < 0 && (c = getopt_long(argc, argv, "o:l:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': o->output = optarg; break;
        case 'l': snprintf(labels, cap, ",%s", optarg); break; /* leading ',': given */
        case OPT_FORCE: o->force = 1; break;
        case OPT_FTS: rc = parse_limit("--max-first-token-share", optarg, &o->limits.max_first_token_share); break;
        case OPT_SINK: rc = parse_limit("--max-sink-rate", optarg, &o->limits.max_sink_rate); break;
        case OPT_ACT: rc = parse_limit("--max-activation", optarg, &o->limits.max_activation); break;
        case OPT_LAYERS: o->audit_layers = optarg; break;
        case OPT_SEQ: rc = parse_count("--seq", optarg, 0, &o->seq); break;
        case OPT_TOKENS: rc = parse_count("--map-tokens", optarg, 1, &o->map_tokens); break;
        case OPT_NOFIG: o->figures = 0; break;
        case 'h': usage(stdout); return EXIT_CODE_OK;
        default: return cli_usage_error("report", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
        if (rc == 0) /* a limit parsed */
            rc = -1;
        o->audit |= c == OPT_FTS || c == OPT_SINK || c == OPT_ACT;
    }
    if (rc >= 0)
        return rc;
    if (optind >= argc)
        return cli_usage_error("report", "missing run file");
    if (argc - optind > REPORT_MAX_RUNS)
        return cli_usage_error("report", "at most %d run files", REPORT_MAX_RUNS);
    if (!o->output)
        return cli_usage_error("report", "missing -o FILE.html");
    if (o->audit_layers && !o->audit)
        return cli_usage_error("report", "--layers selects the audited layers: give a limit too");
    for (; optind < argc; optind++)
        o->runs[o->n_runs++] = argv[optind];
    return -1;
}

int cmd_report(int argc, char **argv)
{
    struct report_options o;
    report_options_init(&o);
    o.limits = (struct analyze_limits){NAN, NAN, NAN, NULL, 0};
    o.tool_version = SINKSCOPE_VERSION;
    char *typed = command_line(argc, argv); /* as typed: getopt permutes argv */
    if (!typed)
        return cli_report(&(struct ss_error){SS_ERR_NOMEM, "out of memory"});
    o.command_line = typed;
    char labels[4096] = "";
    int rc = parse_options(argc, argv, &o, labels, sizeof labels);
    if (rc < 0 && labels[0])
        rc = cli_labels("report", labels + 1, o.labels, o.n_runs);
    struct ss_error err = {0};
    struct report_result res;
    int written = rc < 0 && report_write(&o, &res, &err) == SS_OK;
    if (rc < 0 && !written)
        rc = cli_report(&err);
    free(typed);
    if (!written)
        return rc;
    printf("wrote %s (%.1f KiB: %d figure%s, %d left out; explorer: %d run%s with maps", o.output, res.bytes / 1024.0,
           res.figures, res.figures == 1 ? "" : "s", res.figures_left_out, res.explorer_runs,
           res.explorer_runs == 1 ? "" : "s");
    if (o.audit)
        printf("; audit: %d of %d run%s exceed a limit", res.audit_exceeded, o.n_runs, o.n_runs == 1 ? "" : "s");
    printf(")\n");
    return EXIT_CODE_OK;
}
