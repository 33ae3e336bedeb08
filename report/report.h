/* report/report.h — one self-contained HTML page per study: the summary, compare
 * and audit tables, every figure the runs support (gnuplot SVG, inline), the
 * provenance of each run, and an attention explorer when runs hold attention maps.
 *
 * Reads run files through runfile/, analyze/ and plots/ (never model/). The page
 * needs no network: CSS, SVG, data (JSON) and the explorer's script are inline and
 * its Content-Security-Policy forbids every fetch. Written to DEST.tmp-PID beside
 * the destination and renamed into place when complete; an existing destination
 * is never replaced without force. What the page holds: README.md "Reports". */
#ifndef SS_REPORT_REPORT_H
#define SS_REPORT_REPORT_H

#include <stddef.h>

#include "../analyze/analyze.h"
#include "../common/error.h"
#include "../plots/plots.h"

#define REPORT_MAX_RUNS PLOT_MAX_RUNS
#define REPORT_MAP_TOKENS 128 /* default --map-tokens: positions of the explorer's maps */

struct report_options {
    const char *runs[REPORT_MAX_RUNS];
    const char *labels[REPORT_MAX_RUNS]; /* NULL: file name without .h5 (paths when those collide) */
    int n_runs;
    const char *output;                  /* the .html destination */
    int force;                           /* replace an existing regular file */
    int audit;                           /* audit every run against limits */
    struct analyze_limits limits;        /* layers/n_layers unused: see audit_layers */
    const char *audit_layers;            /* analyze_layers_parse spec, NULL = every layer */
    int seq;                             /* sequence shown by the explorer */
    int map_tokens;                      /* explorer: first positions of that sequence kept */
    int figures;                         /* 0: no figures (no gnuplot needed) */
    const char *command_line;            /* shown in the provenance; may be NULL */
    const char *tool_version;            /* sinkscope's version, for the provenance */
    const char *gnuplot;                 /* NULL: "gnuplot" on PATH */
};

struct report_result {
    size_t bytes;         /* size of the page */
    int figures;          /* figures drawn */
    int figures_left_out; /* kinds the runs do not support */
    int explorer_runs;    /* runs with attention maps in the explorer */
    int audit_exceeded;   /* runs with a limit exceeded (0 without audit) */
};

void report_options_init(struct report_options *o);

/* Write the page. SS_ERR_INPUT: a bad or foreign run file, an option out of range (one
 * line naming the file); SS_ERR_IO: the destination exists (without force) or cannot be
 * written. Nothing is left at o->output (nor a temporary file) unless SS_OK. res may be NULL. */
enum ss_status report_write(const struct report_options *o, struct report_result *res, struct ss_error *err);

#endif
