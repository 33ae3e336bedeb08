/* cli/cmd_audit.c — `sinkscope audit RUN.h5 --max-first-token-share X ...`:
 * exit 0 when every limit holds, 1 when one is exceeded, 2 on bad input. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../analyze/analyze.h"
#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sinkscope audit RUN.h5 [--max-first-token-share X] [--max-sink-rate Y]\n"
            "                       [--max-activation Z] [--layers SPEC] [--format text|json]\n"
            "  --max-first-token-share X  each checked layer's first-token share (mean over heads\n"
            "                             and queries q >= 1) must be <= X\n"
            "  --max-sink-rate Y          sink rate (alpha_0 > sink_epsilon) must be <= Y\n"
            "  --max-activation Z         each checked layer's max |x| leaving the layer must be <= Z\n"
            "  --layers LIST              0-based layers to check: all, i, -i (from the end), a-b, and\n"
            "                             lists of these: 0,5-7,-1 (default: all)\n"
            "  -f, --format FMT           text (default) or json\n"
            "At least one limit is required. Exit status: 0 all limits hold, 1 a limit is\n"
            "exceeded, 2 bad input.\n");
}

static int parse_limit(const char *opt, const char *s, double *v)
{
    char *end;
    *v = strtod(s, &end);
    if (end == s || *end || !isfinite(*v) || *v < 0)
        return cli_usage_error("audit", "%s must be a non-negative number (got '%s')", opt, s);
    return 0;
}

int cmd_audit(int argc, char **argv)
{
    static const struct option opts[] = {
        {"max-first-token-share", required_argument, NULL, 'F'},
        {"max-sink-rate", required_argument, NULL, 'S'},
        {"max-activation", required_argument, NULL, 'A'},
        {"layers", required_argument, NULL, 'L'},
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct analyze_limits lim = {NAN, NAN, NAN, NULL, 0};
    const char *layers = NULL;
    enum analyze_format fmt = ANALYZE_FORMAT_TEXT;
    int c, rc;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":f:h", opts, NULL)) != -1) {
        switch (c) {
        case 'F':
            if ((rc = parse_limit("--max-first-token-share", optarg, &lim.max_first_token_share)))
                return rc;
            break;
        case 'S':
            if ((rc = parse_limit("--max-sink-rate", optarg, &lim.max_sink_rate)))
                return rc;
            break;
        case 'A':
            if ((rc = parse_limit("--max-activation", optarg, &lim.max_activation)))
                return rc;
            break;
        case 'L': layers = optarg; break;
        case 'f':
            if (analyze_format_parse(optarg, &fmt) || (fmt != ANALYZE_FORMAT_TEXT && fmt != ANALYZE_FORMAT_JSON))
                return cli_usage_error("audit", "unknown format '%s' (text, json)", optarg);
            break;
        case 'h': usage(stdout); return EXIT_CODE_OK;
        default: return cli_option_error("audit", c, argv);
        }
    }
    if (optind >= argc)
        return cli_usage_error("audit", "a run file is required");
    if (argc - optind > 1)
        return cli_usage_error("audit", "one run file expected, got %d", argc - optind);
    if (isnan(lim.max_first_token_share) && isnan(lim.max_sink_rate) && isnan(lim.max_activation))
        return cli_usage_error("audit", "give at least one limit (--max-first-token-share, --max-sink-rate, "
                                        "--max-activation)");
    struct ss_error err = {0};
    struct analyze_run run;
    if (analyze_run_load(&run, argv[optind], NULL, &err))
        return cli_report(&err);
    int *sel = NULL, nsel = 0, exceeded = 0;
    if (layers) {
        if (analyze_layers_parse(layers, run.n_layers, &sel, &nsel, &err)) {
            ss_prefix(&err, "%s", run.path);
            analyze_run_free(&run);
            return cli_report(&err);
        }
        lim.layers = sel;
        lim.n_layers = nsel;
    }
    enum ss_status s = analyze_audit(stdout, &run, &lim, fmt, &exceeded, &err);
    fflush(stdout);
    free(sel);
    analyze_run_free(&run);
    if (s)
        return cli_report(&err);
    return exceeded ? EXIT_CODE_LIMIT : EXIT_CODE_OK;
}
