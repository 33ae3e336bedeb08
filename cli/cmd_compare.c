/* cli/cmd_compare.c — `sinkscope compare A.h5 B.h5 ...`: runs side by side, ratios
 * and differences against the first; warns (exit 0) when the runs are not comparable. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../analyze/analyze.h"
#include "cli.h"

#define MAX_RUNS 32

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sinkscope compare A.h5 B.h5 [C.h5 ...] [--labels a,b,c] [--format FMT]\n"
            "  -l, --labels LIST  comma-separated names of the runs (default: file names without .h5)\n"
            "  -f, --format FMT   text (default), csv, json, markdown, latex\n"
            "Ratios (run/first) and differences (run - first) are against the first run.\n"
            "Warns on stderr when the runs saw different tokens or settings.\n");
}

/* The path as a label; a path longer than the label keeps its end (the file name). */
static void label_from_path(char *label, size_t cap, const char *path)
{
    size_t n = strlen(path);
    const char *p = n < cap ? path : path + (n - (cap - 1));
    memcpy(label, p, strlen(p) + 1);
}

int cmd_compare(int argc, char **argv)
{
    static const struct option opts[] = {
        {"labels", required_argument, NULL, 'l'}, {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
    };
    char *labels_arg = NULL;
    enum analyze_format fmt = ANALYZE_FORMAT_TEXT;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":l:f:h", opts, NULL)) != -1) {
        switch (c) {
        case 'l': labels_arg = optarg; break;
        case 'f':
            if (analyze_format_parse(optarg, &fmt))
                return cli_usage_error("compare", "unknown format '%s' (text, csv, json, markdown, latex)", optarg);
            break;
        case 'h': usage(stdout); return EXIT_CODE_OK;
        default: return cli_option_error("compare", c, argv);
        }
    }
    int n = argc - optind;
    if (n < 2)
        return cli_usage_error("compare", "at least two run files are required");
    if (n > MAX_RUNS)
        return cli_usage_error("compare", "at most %d run files", MAX_RUNS);
    const char *labels[MAX_RUNS] = {0};
    char labuf[4096];
    if (labels_arg) {
        snprintf(labuf, sizeof labuf, "%s", labels_arg);
        int rc = cli_labels("compare", labuf, labels, n);
        if (rc >= 0)
            return rc;
    }
    struct analyze_run *runs = calloc(n, sizeof *runs);
    if (!runs) {
        struct ss_error e;
        ss_fail(&e, SS_ERR_NOMEM, "out of memory");
        return cli_report(&e);
    }
    struct ss_error err = {0};
    struct analyze_warnings w;
    int loaded = 0, rc = EXIT_CODE_OK;
    for (; loaded < n; loaded++)
        if (analyze_run_load(&runs[loaded], argv[optind + loaded], labels[loaded], &err)) {
            rc = cli_report(&err);
            goto done;
        }
    /* default labels (file names) that collide: use the paths instead */
    for (int i = 0; !labels_arg && i < n; i++)
        for (int k = i + 1; k < n; k++)
            if (!strcmp(runs[i].label, runs[k].label)) {
                for (int m = 0; m < n; m++)
                    label_from_path(runs[m].label, sizeof runs[m].label, runs[m].path);
                i = k = n;
            }
    if (analyze_compare_check(runs, n, &w, &err)) {
        rc = cli_report(&err);
        goto done;
    }
    for (int i = 0; i < w.n; i++)
        fprintf(stderr, "sinkscope compare: warning: %s\n", w.msg[i]);
    if (analyze_compare(stdout, runs, n, &w, fmt, &err))
        rc = cli_report(&err);
    fflush(stdout);
done:
    for (int i = 0; i < loaded; i++)
        analyze_run_free(&runs[i]);
    free(runs);
    return rc;
}
