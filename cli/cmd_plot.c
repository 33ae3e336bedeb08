/* cli/cmd_plot.c — `sinkscope plot KIND RUN.h5 [RUN2.h5 ...] -o FILE`: gnuplot figures. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/index_list.h"
#include "../plots/plots.h"
#include "cli.h"

static void plot_usage(FILE *f)
{
    fprintf(f,
            "usage: sinkscope plot KIND RUN.h5 [RUN2.h5 ...] -o FILE.{png,pdf,svg,tex} [options]\n"
            "\n"
            "kinds (docs/FIGURES.md):\n"
            "  first-token     first-token attention share per layer, one line per run (Fig. 2 left)\n"
            "  attention-map   attention maps of 4 layers spread over the depth, runs side by side\n"
            "                  (Fig. 2 right; needs `run --dump attention`)\n"
            "  head-grid       every head of one layer (needs `run --dump attention`)\n"
            "  gate-hist       density of gate scores on [0,1], pooled or per --layers (Fig. 3)\n"
            "  sdpa-magnitude  mean |attention output| per layer before/after the gate (Fig. 4)\n"
            "  sdpa-sparsity   fraction of |attention output| below 1e-2 and 1e-3 (Fig. 5)\n"
            "  activations     max |x| per layer of four streams + first-token share (Fig. 6)\n"
            "  gate-layers     per-layer mean, std, min, max of gate scores (Fig. 7)\n"
            "  massive         largest activations by (token, dimension) of one layer (Sun et al.)\n"
            "  paper           all of the above, one page each, in one PDF\n"
            "  context-sweep   PPL, F-Attn, sink rate against context length; one line per series of\n"
            "                  `run -c A,B,...` files (labels differing only by -cN)\n"
            "  loss-position   mean NLL per 128-position bucket, one line per run\n"
            "  expert-load     MoE runs: expert load per layer (layer x expert heatmaps), all positions,\n"
            "                  position 0 and positions >= 1\n"
            "  learned-sink    runs with learned sinks: the sink's share per layer x head beside the\n"
            "                  first-token share, and both per layer\n"
            "\n"
            "options:\n"
            "  -o, --output FILE    destination; .png .pdf .svg or .tex (cairolatex: FILE.tex + FILE.pdf)\n"
            "  --labels A,B,...     run names in legends and titles (default: file names)\n"
            "  --layers LIST        0-based layers as in the run file (figures say \"layer L+1\"):\n"
            "                       all, i, -i (from the end), a-b, and lists of these: 0,5-7,-1\n"
            "  --head H             one head instead of the mean over heads (attention-map)\n"
            "  --seq S              sequence of the run for maps and token labels (default 0)\n"
            "  --size W,H           figure size: pixels (at %d per inch), or with unit in / cm\n"
            "  --log                log colour scale for maps, log y for line figures\n"
            "  --script-only DIR    write DIR/plot.gp and its data, do not run gnuplot\n"
            "  --force              overwrite existing regular files (FILE, and FILE.pdf with .tex)\n"
            "\n"
            "environment:\n"
            "  SINKSCOPE_GNUPLOT_TIMEOUT=S  kill gnuplot after S seconds (default 120)\n",
            PLOT_DPI);
}

/* "3.4in", "8cm", "680" / "680px" -> inches. */
static int parse_length(const char *s, double *in)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || !(v > 0))
        return -1;
    if (!*end || !strcmp(end, "px"))
        *in = v / PLOT_DPI;
    else if (!strcmp(end, "in"))
        *in = v;
    else if (!strcmp(end, "cm"))
        *in = v / 2.54;
    else
        return -1;
    return 0;
}

static int parse_size(const char *s, double *w, double *h)
{
    char a[64], b[64];
    const char *comma = strchr(s, ',');
    if (!comma || comma - s >= (long)sizeof a || strlen(comma + 1) >= sizeof b)
        return -1;
    snprintf(a, sizeof a, "%.*s", (int)(comma - s), s);
    snprintf(b, sizeof b, "%s", comma + 1);
    return parse_length(a, w) || parse_length(b, h) ? -1 : 0;
}

int cmd_plot(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},  {"labels", required_argument, NULL, 'L'},
        {"layers", required_argument, NULL, 'l'},  {"head", required_argument, NULL, 'H'},
        {"seq", required_argument, NULL, 's'},     {"size", required_argument, NULL, 'z'},
        {"log", no_argument, NULL, 'g'},           {"script-only", required_argument, NULL, 'S'},
        {"force", no_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    struct plot_options o;
    plot_options_init(&o);
    char labels[1024] = "";
    int have_labels = 0;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': o.output = optarg; break;
        case 'L':
            snprintf(labels, sizeof labels, "%s", optarg);
            have_labels = 1;
            break;
        case 'l': {
            struct ss_error e = {0};
            if (index_list_check(optarg, "--layers", &e))
                return cli_usage_error("plot", "%s", e.msg);
            o.layers = optarg;
            break;
        }
        case 'H':
            if (cli_int_option(optarg, 0, 1000000, &o.head))
                return cli_usage_error("plot", "--head '%s': give a head index >= 0", optarg);
            break;
        case 's':
            if (cli_int_option(optarg, 0, 1000000, &o.seq))
                return cli_usage_error("plot", "--seq '%s': give a sequence index >= 0", optarg);
            break;
        case 'z':
            if (parse_size(optarg, &o.width_in, &o.height_in))
                return cli_usage_error("plot", "--size '%s': give W,H in pixels, or with unit in or cm (3.4in,2.5in)",
                                       optarg);
            break;
        case 'g': o.log_scale = 1; break;
        case 'S': o.script_dir = optarg; break;
        case 'F': o.force = 1; break;
        case 'h': plot_usage(stdout); return EXIT_CODE_OK;
        default:
            return cli_option_error("plot", c, argv);
        }
    }
    if (optind >= argc)
        return cli_usage_error("plot", "missing KIND");
    int kind = plot_kind_parse(argv[optind]);
    if (kind < 0)
        return cli_usage_error("plot", "unknown kind '%s'", argv[optind]);
    o.kind = (enum plot_kind)kind;
    optind++;
    if (optind >= argc)
        return cli_usage_error("plot", "missing run file");
    if (argc - optind > PLOT_MAX_RUNS)
        return cli_usage_error("plot", "at most %d run files", PLOT_MAX_RUNS);
    for (; optind < argc; optind++)
        o.runs[o.n_runs++] = argv[optind];
    if (!o.output)
        return cli_usage_error("plot", "missing -o FILE.{png,pdf,svg,tex}");
    int rc = have_labels ? cli_labels("plot", labels, o.labels, o.n_runs) : -1;
    if (rc >= 0)
        return rc;
    struct ss_error err;
    ss_error_clear(&err);
    struct plot_result res;
    o.stop = cli_signals_catch();
    enum ss_status st = plot_render(&o, &res, &err);
    cli_signals_restore();
    if (st != SS_OK)
        return cli_report(&err);
    if (res.notes[0])
        fprintf(stderr, "sinkscope plot: note: %s\n", res.notes);
    if (o.script_dir)
        printf("wrote %s/plot.gp (run: cd %s && gnuplot plot.gp)\n", o.script_dir, o.script_dir);
    else
        printf("wrote %s (%d page%s)\n", o.output, res.pages, res.pages == 1 ? "" : "s");
    return EXIT_CODE_OK;
}
