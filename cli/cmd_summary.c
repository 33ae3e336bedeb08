/* cli/cmd_summary.c — `sinkscope summary RUN.h5`: headline row (paper Table 4
 * columns), per-layer and per-head tables; formats in docs/CLI-OUTPUT.md. */
#include <getopt.h>
#include <stdio.h>

#include "../analyze/analyze.h"
#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sinkscope summary RUN.h5 [--per-layer] [--per-head] [--format FMT]\n"
            "  --per-layer       a table with one row per layer (0-based)\n"
            "  --per-head        a table with one row per (layer, head)\n"
            "  -f, --format FMT  text (default), csv, json, markdown, latex\n"
            "Headline columns as in the paper's Table 4: Gate Score (mean gate, '-' ungated),\n"
            "M-Act (mean over layers of the max |x| leaving each layer), F-Attn (first-token\n"
            "attention, queries q >= 1), PPL, Sink rate (alpha_0 > sink_epsilon).\n");
}

int cmd_summary(int argc, char **argv)
{
    static const struct option opts[] = {
        {"per-layer", no_argument, NULL, 'L'}, {"per-head", no_argument, NULL, 'H'},
        {"format", required_argument, NULL, 'f'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int per_layer = 0, per_head = 0, c;
    enum analyze_format fmt = ANALYZE_FORMAT_TEXT;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":f:h", opts, NULL)) != -1) {
        switch (c) {
        case 'L': per_layer = 1; break;
        case 'H': per_head = 1; break;
        case 'f':
            if (analyze_format_parse(optarg, &fmt))
                return cli_usage_error("summary", "unknown format '%s' (text, csv, json, markdown, latex)", optarg);
            break;
        case 'h': usage(stdout); return EXIT_CODE_OK;
        default: return cli_option_error("summary", c, argv);
        }
    }
    if (optind >= argc)
        return cli_usage_error("summary", "a run file is required");
    if (argc - optind > 1)
        return cli_usage_error("summary", "one run file expected, got %d (use 'sinkscope compare')", argc - optind);
    struct ss_error err = {0};
    struct analyze_run run;
    if (analyze_run_load(&run, argv[optind], NULL, &err))
        return cli_report(&err);
    enum ss_status s = analyze_summary(stdout, &run, per_layer, per_head, fmt, &err);
    analyze_run_free(&run);
    fflush(stdout);
    return s ? cli_report(&err) : EXIT_CODE_OK;
}
