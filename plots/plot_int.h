/* plots/plot_int.h — internal: the state shared by the figure kinds.
 * Every kind function emits one page (one plot or one multiplot) into c->g;
 * on failure plot_render rolls the script back, so a kind may fail midway. */
#ifndef SS_PLOTS_PLOT_INT_H
#define SS_PLOTS_PLOT_INT_H

#include <stdint.h>

#include "../runfile/runfile.h"
#include "gp.h"
#include "plots.h"

struct plot_run {
    struct runfile *rf;
    const char *path;
    char label[128];
    int n_layers, n_heads, n_seqs, n_pos;
    int gated;              /* gate_kind != none */
    char gate_kind[32];
};

struct plot_ctx {
    const struct plot_options *o;
    struct plot_run runs[PLOT_MAX_RUNS];
    int n_runs;
    struct gp g;
    double w_in, h_in;      /* page size in inches */
    int in_paper;           /* rendering a page of `paper` */
};

/* style.c */
void plot_style_terminal(struct plot_ctx *c);  /* set terminal + output, once */
void plot_style_page(struct plot_ctx *c);      /* reset + shared style, at each page */
void plot_style_heatmap(struct plot_ctx *c, int n_cols, int n_rows); /* image axes, palette, cb scale */
/* Line colour i (Okabe-Ito, colour-blind safe) as "#rrggbb". */
const char *plot_color(int i);

/* A figure-wide legend below the panels of a multiplot: every panel of the bottom
 * row (bottom != 0) keeps room for it; only the panel with show != 0 draws it. */
void plot_key_below(struct plot_ctx *c, int bottom, int show);

/* util.c */
/* Fail with "PATH has no WHAT: HINT" unless the dataset exists. */
enum ss_status plot_need(struct plot_run *r, const char *dset, const char *what, const char *hint,
                         struct ss_error *err);
/* Read a dataset checking its rank and extents (-1 = any). */
enum ss_status plot_read(struct plot_run *r, const char *dset, int ndim, int64_t d0, int64_t d1,
                         int64_t d2, struct rf_array *a, struct ss_error *err);
/* Write rows x cols doubles (row-major) as float32 data; name receives the file name. */
enum ss_status plot_table(struct plot_ctx *c, const double *v, int rows, int cols, char name[32],
                          struct ss_error *err);
/* The `binary ...` clause for a table written by plot_table. Static buffer ring. */
const char *plot_table_fmt(int rows, int cols);
/* A short tick label for a token piece (visible spaces/newlines, at most max_chars characters). */
void plot_token_label(const char *piece, char *out, size_t n, int max_chars);
/* Emit `set xtics (...)` (axis "x" or "y") with token labels (or, pieces NULL, positions)
 * thinned to at most max_labels, for a map pooled pool x pool (1: not pooled);
 * returns the widest label in characters (for explicit margins: gnuplot's automatic
 * margins collapse a square plot when x labels are rotated). */
int plot_token_tics(struct plot_ctx *c, const char *axis, char **pieces, int n, int max_labels, int pool);
/* Token pieces of sequence seq of a run, or NULL when /token_text is absent (ids then). */
char **plot_tokens(struct plot_run *r, int seq, int *n);
void plot_strings_free(char **s, int n);
/* o->layers over run r's layers, in the order written, into out (room for PLOT_MAX_LAYERS);
 * *n = 0 without --layers. Fails naming the run when an index is outside its layers. */
enum ss_status plot_run_layers(const struct plot_ctx *c, const struct plot_run *r, int *out, int *n,
                               struct ss_error *err);
/* Runs selected for a gate kind: those with gate statistics; fails naming the hint if none. */
int plot_gated_runs(struct plot_ctx *c, int *idx, const char *kind, struct ss_error *err);

/* The figure kinds (kind_layers.c, kind_maps.c, kind_gates.c). */
enum ss_status plot_first_token(struct plot_ctx *c, struct ss_error *err);
enum ss_status plot_sdpa_magnitude(struct plot_ctx *c, struct ss_error *err);
enum ss_status plot_sdpa_sparsity(struct plot_ctx *c, struct ss_error *err);
enum ss_status plot_activations(struct plot_ctx *c, struct ss_error *err);
enum ss_status plot_attention_map(struct plot_ctx *c, struct ss_error *err);
enum ss_status plot_head_grid(struct plot_ctx *c, struct ss_error *err);
enum ss_status plot_massive(struct plot_ctx *c, struct ss_error *err); /* kind_massive.c */
enum ss_status plot_gate_hist(struct plot_ctx *c, struct ss_error *err);
enum ss_status plot_gate_layers(struct plot_ctx *c, struct ss_error *err);
enum ss_status plot_context_sweep(struct plot_ctx *c, struct ss_error *err); /* kind_context.c */
enum ss_status plot_loss_position(struct plot_ctx *c, struct ss_error *err);
enum ss_status plot_expert_load(struct plot_ctx *c, struct ss_error *err);  /* kind_moe.c */
enum ss_status plot_learned_sink(struct plot_ctx *c, struct ss_error *err);

#endif
