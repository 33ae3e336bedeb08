/* plots/plots.h — gnuplot figures of the paper's sink and gate findings, from run files.
 *
 * Reads run files only through runfile/runfile.h. Each figure is a gnuplot script
 * plus binary float32 data files in a fresh temporary directory; gnuplot runs on
 * the script without a shell, renders into that directory and the result is
 * moved to the destination only on success, so a failed plot leaves nothing.
 * What each kind shows and how it is aggregated: docs/FIGURES.md. */
#ifndef SS_PLOTS_PLOTS_H
#define SS_PLOTS_PLOTS_H

#include <signal.h>

#include "../common/error.h"

#define PLOT_MAX_RUNS 32
#define PLOT_MAX_LAYERS 16

enum plot_kind {
    PLOT_KIND_FIRST_TOKEN,    /* Fig. 2 left: first-token share per layer, one line per run */
    PLOT_KIND_ATTENTION_MAP,  /* Fig. 2 right / demo: head-averaged maps of a few layers */
    PLOT_KIND_HEAD_GRID,      /* every head of one layer */
    PLOT_KIND_GATE_HIST,      /* Fig. 3: density of gate scores on [0, 1] */
    PLOT_KIND_SDPA_MAGNITUDE, /* Fig. 4: mean |Y| before / after the gate per layer */
    PLOT_KIND_SDPA_SPARSITY,  /* Fig. 5: fraction of |Y| below 1e-2 and 1e-3 per layer */
    PLOT_KIND_ACTIVATIONS,    /* Fig. 6: max |x| of four streams per layer + first-token share */
    PLOT_KIND_GATE_LAYERS,    /* Fig. 7: per-layer mean, std, min, max of gate scores */
    PLOT_KIND_MASSIVE,        /* Sun et al.: largest activations by (token, dimension) */
    PLOT_KIND_PAPER,          /* all of the above, one page each, in one PDF */
    PLOT_KIND_CONTEXT_SWEEP,  /* PPL, F-Attn, sink rate against context length (run -c sweeps) */
    PLOT_KIND_LOSS_POSITION,  /* mean NLL per 128-position bucket, one line per run */
    PLOT_KIND_EXPERT_LOAD,    /* MoE: expert load per layer, all positions / position 0 / the rest */
    PLOT_KIND_LEARNED_SINK,   /* learned-sink share per layer and head beside the first-token share */
    PLOT_KIND_COUNT,
};

enum plot_format { PLOT_FORMAT_PNG, PLOT_FORMAT_PDF, PLOT_FORMAT_SVG, PLOT_FORMAT_TEX };

struct plot_options {
    enum plot_kind kind;
    const char *runs[PLOT_MAX_RUNS];   /* run files */
    const char *labels[PLOT_MAX_RUNS]; /* NULL: the file name without directory and .h5 */
    int n_runs;
    const char *output;                /* destination; its extension picks the format */
    const char *layers;                /* index list over each run's layers (common/index_list.h:
                                          all, i, -i, a-b, a,b; at most PLOT_MAX_LAYERS);
                                          NULL: the kind's default */
    int head;                          /* -1: mean over heads */
    int seq;                           /* sequence of the run for maps and tokens */
    double width_in, height_in;        /* <= 0: the kind's default (a paper column) */
    int log_scale;                     /* log colour scale for maps, log y for line kinds */
    const char *script_dir;            /* non-NULL: write script + data there, do not run gnuplot */
    const char *gnuplot;               /* program looked up on PATH; NULL = "gnuplot" */
    int force;                         /* replace existing regular files (common/outfile.h) */
    volatile sig_atomic_t *stop;       /* non-NULL and set (SIGINT/SIGTERM): gnuplot is killed,
                                          the temporary directory removed, SS_ERR_INTERRUPTED */
};

/* Pixel terminals (png) render at this many pixels per inch of the figure size. */
#define PLOT_DPI 200

struct plot_result {
    int pages;          /* pages (plots) rendered */
    char notes[1024];   /* `paper`: pages left out and why, "; "-separated; empty if none */
};

void plot_options_init(struct plot_options *o);
/* "first-token" -> PLOT_KIND_FIRST_TOKEN; -1 if unknown. */
int plot_kind_parse(const char *name);
const char *plot_kind_name(enum plot_kind k);
/* Format from the destination's extension (.png .pdf .svg .tex); -1 if none of them. */
int plot_format_from_path(const char *path);

/* Render one figure. SS_ERR_INPUT: a bad run file, a run lacking what the kind
 * needs (the message names the `sinkscope run` option that provides it), gnuplot
 * missing or failing (its first error line); SS_ERR_IO: destination not writable.
 * Nothing is left at o->output unless SS_OK. res may be NULL. */
enum ss_status plot_render(const struct plot_options *o, struct plot_result *res,
                           struct ss_error *err);

#endif
