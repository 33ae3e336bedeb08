/* plots/kind_layers.c — per-layer line figures: first-token share (Fig. 2 left),
 * attention output before/after the gate (Figs. 4, 5), massive activations (Fig. 6). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot_int.h"
#include "../runfile/schema.h"

#define HINT_STATS "statistics are written by every `sinkscope run`; is this a complete run file?"

/* x axis of a per-layer plot: layers numbered from 1 as in the paper. */
static void layer_axis(struct plot_ctx *c, int n_layers)
{
    struct gp *g = &c->g;
    gp_printf(g, "set xlabel %s\n", gp_text(g, "layer"));
    gp_printf(g, "set xrange [0.5:%g]\n", n_layers + 0.5);
    if (n_layers <= 10)
        gp_printf(g, "set xtics 1\n");
    else if (n_layers <= 20)
        gp_printf(g, "set xtics 2\nset mxtics 2\n");
    else
        gp_printf(g, "set xtics %d\nset mxtics %d\n", n_layers <= 40 ? 4 : 8, n_layers <= 40 ? 4 : 8);
    gp_printf(g, "set format x '%%g'\n");
}

static int max_layers(struct plot_ctx *c)
{
    int m = 1;
    for (int i = 0; i < c->n_runs; i++)
        if (c->runs[i].n_layers > m)
            m = c->runs[i].n_layers;
    return m;
}

/* Table of rows = layers: column 0 the 1-based layer, then cols values (already [L][cols]). */
static enum ss_status layer_table(struct plot_ctx *c, const double *v, int n_layers, int cols,
                                  char name[32], struct ss_error *err)
{
    double *t = malloc((size_t)n_layers * (size_t)(cols + 1) * sizeof *t);
    if (!t)
        return ss_fail(err, SS_ERR_NOMEM, "out of memory");
    for (int l = 0; l < n_layers; l++) {
        t[(size_t)l * (cols + 1)] = l + 1;
        for (int j = 0; j < cols; j++)
            t[(size_t)l * (cols + 1) + 1 + j] = v[(size_t)l * cols + j];
    }
    enum ss_status st = plot_table(c, t, n_layers, cols + 1, name, err);
    free(t);
    return st;
}

static double mean_of(const double *v, int n)
{
    double s = 0;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(v[i])) {
            s += v[i];
            k++;
        }
    return k ? s / k : NAN;
}

/* The first-token share panel body (shared by first-token and activations). */
static enum ss_status first_token_lines(struct plot_ctx *c, int only_run, struct ss_error *err)
{
    struct gp *g = &c->g;
    char names[PLOT_MAX_RUNS][32];
    double means[PLOT_MAX_RUNS];
    int lo = only_run >= 0 ? only_run : 0, hi = only_run >= 0 ? only_run + 1 : c->n_runs;
    for (int i = lo; i < hi; i++) {
        struct plot_run *r = &c->runs[i];
        struct rf_array a = {0};
        enum ss_status st = plot_need(r, rf_path(RF_FIRST_TOKEN_SHARE_LAYER), "first-token statistics", HINT_STATS, err);
        if (!st)
            st = plot_read(r, rf_path(RF_FIRST_TOKEN_SHARE_LAYER), 1, r->n_layers, -1, -1, &a, err);
        if (!st)
            st = layer_table(c, a.data, r->n_layers, 1, names[i], err);
        means[i] = st ? NAN : mean_of(a.data, r->n_layers);
        rf_array_free(&a);
        if (st)
            return st;
    }
    gp_printf(g, "set ylabel %s\nset yrange [0:1]\nset ytics 0.2\n", gp_text(g, "first-token attention share"));
    gp_printf(g, "plot ");
    for (int i = lo; i < hi; i++) {
        char title[200];
        snprintf(title, sizeof title, "%s (mean %.3f)", c->runs[i].label, means[i]);
        gp_printf(g, "%s%s %s using 1:2 with linespoints lt %d title %s", i > lo ? ", \\\n     " : "",
                  gp_q(g, names[i]), plot_table_fmt(c->runs[i].n_layers, 2), i + 1, gp_text(g, title));
    }
    gp_printf(g, "\n");
    return SS_OK;
}

enum ss_status plot_first_token(struct plot_ctx *c, struct ss_error *err)
{
    plot_style_page(c);
    layer_axis(c, max_layers(c));
    gp_printf(&c->g, c->n_runs <= 3 ? "set key tmargin center horizontal\n" : "set key outside right center vertical\n");
    gp_printf(&c->g, "set title %s\n", gp_text(&c->g, "First-token attention"));
    return first_token_lines(c, -1, err);
}

enum ss_status plot_sdpa_magnitude(struct plot_ctx *c, struct ss_error *err)
{
    struct gp *g = &c->g;
    char before[PLOT_MAX_RUNS][32], after[PLOT_MAX_RUNS][32];
    for (int i = 0; i < c->n_runs; i++) {
        struct plot_run *r = &c->runs[i];
        struct rf_array a = {0}, b = {0};
        enum ss_status st = plot_need(r, rf_path(RF_ATTN_OUT_ABSMEAN), "attention-output statistics", HINT_STATS, err);
        if (!st)
            st = plot_read(r, rf_path(RF_ATTN_OUT_ABSMEAN), 1, r->n_layers, -1, -1, &a, err);
        if (!st)
            st = plot_read(r, rf_path(RF_ATTN_GATED_ABSMEAN), 1, r->n_layers, -1, -1, &b, err);
        if (!st)
            st = layer_table(c, a.data, r->n_layers, 1, before[i], err);
        if (!st)
            st = layer_table(c, b.data, r->n_layers, 1, after[i], err);
        rf_array_free(&a);
        rf_array_free(&b);
        if (st)
            return st;
    }
    plot_style_page(c);
    layer_axis(c, max_layers(c));
    int entries = 0;
    for (int i = 0; i < c->n_runs; i++)
        entries += 1 + c->runs[i].gated;
    /* a few entries above the plot; more beside it (the default size widens for them) */
    gp_printf(g, entries <= 3 ? "set key tmargin center horizontal\n" : "set key outside right center vertical\n");
    gp_printf(g, "set title %s\n", gp_text(g, "Attention output (SDPA) magnitude per layer"));
    gp_printf(g, "set ylabel %s\n", gp_text(g, "mean |Y|"));
    if (c->o->log_scale)
        gp_printf(g, "set logscale y\nset format y '%%g'\n");
    else
        gp_printf(g, "set yrange [0:*]\n");
    gp_printf(g, "plot ");
    for (int i = 0; i < c->n_runs; i++) {
        struct plot_run *r = &c->runs[i];
        char t1[200], t2[200];
        const char *fmt = plot_table_fmt(r->n_layers, 2);
        if (r->gated) {
            snprintf(t1, sizeof t1, "%s before gate", r->label);
            snprintf(t2, sizeof t2, "%s after gate", r->label);
            gp_printf(g, "%s%s %s using 1:2 with linespoints lt %d dt 2 pt 6 title %s, \\\n     ",
                      i ? ", \\\n     " : "", gp_q(g, before[i]), fmt, i + 1, gp_text(g, t1));
            gp_printf(g, "%s %s using 1:2 with linespoints lt %d title %s", gp_q(g, after[i]), fmt, i + 1,
                      gp_text(g, t2));
        } else {
            snprintf(t1, sizeof t1, "%s (no gate)", r->label);
            gp_printf(g, "%s%s %s using 1:2 with linespoints lt %d title %s", i ? ", \\\n     " : "",
                      gp_q(g, before[i]), fmt, i + 1, gp_text(g, t1));
        }
    }
    gp_printf(g, "\n");
    return SS_OK;
}


/* Tables [layer, 1 + thresholds] of one run's sparsity curves: 0 before the gate, 1 after it,
 * 2 the Fig. 5 control (pre-gate |Y| x mean gate; gated runs whose file has it). Returns the
 * number of curves, 0 on failure. An ungated run has one curve (after == before). */
static int sparsity_tables(struct plot_ctx *c, struct plot_run *r, char names[3][32], struct ss_error *err)
{
    const char *const dsets[3] = {rf_path(RF_ATTN_OUT_FRAC_BELOW), rf_path(RF_ATTN_GATED_FRAC_BELOW),
                                  rf_path(RF_ATTN_MEANGATE_FRAC_BELOW)};
    /* files of sinkscope before the control was added lack it: draw them without it */
    int n = !r->gated ? 1 : runfile_has(r->rf, rf_path(RF_ATTN_MEANGATE_FRAC_BELOW)) ? 3 : 2;
    if (plot_need(r, dsets[0], "attention-output statistics", HINT_STATS, err))
        return 0;
    for (int j = 0; j < n; j++) {
        struct rf_array a = {0};
        enum ss_status st = plot_read(r, dsets[j], 2, r->n_layers, 2, -1, &a, err);
        if (!st)
            st = layer_table(c, a.data, r->n_layers, 2, names[j], err);
        rf_array_free(&a);
        if (st)
            return 0;
    }
    return n;
}

enum ss_status plot_sdpa_sparsity(struct plot_ctx *c, struct ss_error *err)
{
    struct gp *g = &c->g;
    static const char *const thr[2] = {"0.01", "0.001"}; /* schema: out_threshold = (1e-2, 1e-3) */
    /* before: dashed, open circles; after: solid; control: dash-dot, filled triangles (larger: a
     * triangle looks smaller than a circle of the same size) */
    static const char *const style[3] = {" dt 2 pt 6", "", " dt 4 pt 9 ps 0.7"};
    static const char *const what[3] = {"before gate", "after gate", "pre-gate x mean gate"};
    char names[PLOT_MAX_RUNS][3][32];
    int curves[PLOT_MAX_RUNS];
    for (int i = 0; i < c->n_runs; i++) {
        curves[i] = sparsity_tables(c, &c->runs[i], names[i], err);
        if (!curves[i])
            return err ? err->status : SS_ERR_INTERNAL;
    }
    plot_style_page(c);
    /* two panels and, right of them, a panel holding only the legend: with many runs
     * a legend below or inside would crowd the data */
    gp_printf(g, "set multiplot title %s\n", gp_text(g, "Sparsity of the attention output (SDPA) per layer"));
    for (int k = 0; k <= 2; k++) {
        gp_printf(g, "set origin %g,0\nset size %g,0.92\n", k * 0.37, k < 2 ? 0.37 : 0.26);
        if (k == 2) {
            gp_printf(g, "unset border\nunset xtics\nunset ytics\nunset xlabel\nunset ylabel\nunset title\n"
                         "unset grid\nunset logscale y\nset xrange [0:1]\nset yrange [0:1]\n"
                         "set key center center vertical reverse Left samplen 2\n");
        } else {
            layer_axis(c, max_layers(c));
            char t[64];
            snprintf(t, sizeof t, "fraction of |Y| < %s", thr[k]);
            gp_printf(g, "set title %s\nset ylabel %s\nunset key\n", gp_text(g, t), gp_text(g, "fraction"));
            if (c->o->log_scale)
                gp_printf(g, "set logscale y\nset yrange [*:1]\n");
            else
                gp_printf(g, "set yrange [0:1]\n");
        }
        gp_printf(g, "plot ");
        for (int i = 0; i < c->n_runs; i++) {
            struct plot_run *r = &c->runs[i];
            const char *fmt = plot_table_fmt(r->n_layers, 3);
            char t[200];
            if (k == 2 && r->gated) { /* legend: the run's label heads its curves (an invisible sample) */
                snprintf(t, sizeof t, "%s:", r->label);
                gp_printf(g, "%sNaN with lines lc bgnd title %s", i ? ", \\\n     " : "", gp_text(g, t));
            }
            for (int j = 0; j < curves[i]; j++) {
                char src[300];
                if (r->gated)
                    snprintf(t, sizeof t, "%s", what[j]);
                else
                    snprintf(t, sizeof t, "%s (no gate)", r->label);
                if (k == 2) /* the legend panel: entries without data */
                    snprintf(src, sizeof src, "NaN");
                else
                    snprintf(src, sizeof src, "%s %s using 1:%d", gp_q(g, names[i][j]), fmt, 2 + k);
                gp_printf(g, "%s%s with linespoints lt %d%s title %s", i || j || (k == 2 && r->gated) ? ", \\\n     " : "",
                          src, i + 1, r->gated ? style[j] : "", gp_text(g, t));
            }
        }
        gp_printf(g, "\n");
    }
    gp_printf(g, "unset multiplot\n");
    return SS_OK;
}

enum ss_status plot_activations(struct plot_ctx *c, struct ss_error *err)
{
    struct gp *g = &c->g;
    static const char *const streams[4] = {"attn output", "attn residual", "FFN output", "FFN residual"};
    char names[PLOT_MAX_RUNS][32];
    double lo = INFINITY, hi = 0; /* one y range for every row, so runs compare at a glance */
    for (int i = 0; i < c->n_runs; i++) {
        struct plot_run *r = &c->runs[i];
        struct rf_array a = {0};
        enum ss_status st = plot_need(r, rf_path(RF_ACT_MAX), "activation statistics", HINT_STATS, err);
        if (!st)
            st = plot_read(r, rf_path(RF_ACT_MAX), 2, r->n_layers, 4, -1, &a, err);
        if (!st)
            st = layer_table(c, a.data, r->n_layers, 4, names[i], err);
        for (size_t k = 0; !st && k < a.n; k++)
            if (a.data[k] > 0 && isfinite(a.data[k])) {
                lo = fmin(lo, a.data[k]);
                hi = fmax(hi, a.data[k]);
            }
        rf_array_free(&a);
        if (st)
            return st;
    }
    char yrange[64] = "[*:*]";
    if (hi > 0)
        snprintf(yrange, sizeof yrange, "[%g:%g]", pow(10, floor(log10(lo))), pow(10, ceil(log10(hi))));
    plot_style_page(c);
    gp_printf(g, "set multiplot layout %d,2 rowsfirst title %s\n", c->n_runs,
              gp_text(g, "Massive activations and first-token attention per layer"));
    for (int i = 0; i < c->n_runs; i++) {
        struct plot_run *r = &c->runs[i];
        char t[200];
        layer_axis(c, max_layers(c));
        snprintf(t, sizeof t, "%s: max |x| per layer", r->label);
        gp_printf(g, "set title %s\nset ylabel %s\n", gp_text(g, t), gp_text(g, "max |x|"));
        gp_printf(g, "set logscale y\nset yrange %s\nset format y '%%g'\nset ytics 10\n", yrange);
        plot_key_below(c, i == c->n_runs - 1, i == c->n_runs - 1);
        gp_printf(g, "plot ");
        const char *fmt = plot_table_fmt(r->n_layers, 5);
        for (int s = 0; s < 4; s++)
            gp_printf(g, "%s%s %s using 1:($%d > 0 ? $%d : NaN) with linespoints lt %d title %s",
                      s ? ", \\\n     " : "", gp_q(g, names[i]), fmt, 2 + s, 2 + s, s + 1,
                      gp_text(g, streams[s]));
        gp_printf(g, "\n");
        /* right: first-token share of this run */
        gp_printf(g, "unset logscale y\nset format y '%%g'\n");
        plot_key_below(c, i == c->n_runs - 1, 0);
        snprintf(t, sizeof t, "%s: first-token share", r->label);
        gp_printf(g, "set title %s\n", gp_text(g, t));
        enum ss_status st = first_token_lines(c, i, err);
        if (st)
            return st;
    }
    gp_printf(g, "unset multiplot\n");
    return SS_OK;
}
