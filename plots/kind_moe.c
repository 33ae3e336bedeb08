/* plots/kind_moe.c — figures of mixture-of-experts and learned-sink runs (docs/SCHEMA.md, Routing,
 * Learned sinks): expert load per layer as a layer x expert heatmap, over all positions, at
 * position 0 and over positions >= 1 (does the sink token have its own expert?); the learned
 * sink's share per layer and head beside the first-token share (does a learned sink replace the
 * first-token sink?). Runs without the statistics are left out. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "plot_int.h"
#include "../runfile/schema.h"

#define HINT_MOE "routing statistics are written by `sinkscope run` of a mixture-of-experts checkpoint"
#define HINT_SINK "learned-sink statistics are written by `sinkscope run` of a checkpoint with learned sinks (gpt_oss)"

/* Runs that have dataset id; fails naming what is needed when none has it. */
static int runs_with(struct plot_ctx *c, enum rf_id id, int *idx, const char *what, const char *hint,
                     struct ss_error *err)
{
    int n = 0;
    for (int i = 0; i < c->n_runs; i++)
        if (runfile_has(c->runs[i].rf, rf_path(id)))
            idx[n++] = i;
    if (!n)
        ss_fail(err, SS_ERR_INPUT, "%s has no %s: %s", c->runs[0].path, what, hint);
    return n;
}

/* Tics of an axis of n entries numbered from first, at most ~12 labels. */
static void axis_tics(struct plot_ctx *c, const char *axis, int n, int first)
{
    int step = n <= 10 ? 1 : n <= 24 ? 2 : n <= 64 ? 8 : n <= 128 ? 16 : 32;
    gp_printf(&c->g, "set %stics %d, %d, %d\n", axis, first, step, first + n - 1);
}

/* One heatmap panel: rows = layers (1-based, top to bottom), columns = experts or heads (0-based). */
static void heat_panel(struct plot_ctx *c, const char *name, int cols, int rows, const char *xlabel,
                       const char *title, double cbmax)
{
    struct gp *g = &c->g;
    gp_printf(g, "unset grid\nset border 15 lw 1\nset xtics out scale 0.4 mirror\nset ytics out scale 0.4 mirror\n");
    gp_printf(g, "set xrange [-0.5:%g]\nset yrange [%g:0.5]\n", cols - 0.5, rows + 0.5);
    axis_tics(c, "x", cols, 0);
    axis_tics(c, "y", rows, 1);
    gp_printf(g, "set xlabel %s\nset ylabel %s\nset title %s\n", gp_text(g, xlabel), gp_text(g, "layer"),
              gp_text(g, title));
    gp_printf(g, "set colorbox\nset cbtics scale 0.3 out nomirror\nset format cb '%%.2g'\n");
    if (cbmax > 0)
        gp_printf(g, "set cbrange [0:%g]\n", cbmax);
    else
        gp_printf(g, "set cbrange [0:*]\n");
    /* NaN (dense layers) is left blank */
    gp_printf(g, "plot %s binary array=%dx%d origin=(0,1) format='%%float32' endian=little with image notitle\n",
              gp_q(g, name), cols, rows);
}

/* expert-load: per run with routing a row of three heatmaps, all positions / position 0 / the rest. */
enum ss_status plot_expert_load(struct plot_ctx *c, struct ss_error *err)
{
    static const enum rf_id ids[3] = {RF_EXPERT_LOAD, RF_EXPERT_LOAD_POS0, RF_EXPERT_LOAD_REST};
    static const char *const titles[3] = {"all positions", "position 0", "positions >= 1"};
    int idx[PLOT_MAX_RUNS], E[PLOT_MAX_RUNS];
    char names[PLOT_MAX_RUNS][3][32];
    int n = runs_with(c, RF_EXPERT_LOAD, idx, "routing statistics", HINT_MOE, err);
    if (!n)
        return err->status;
    for (int j = 0; j < n; j++) {
        struct plot_run *r = &c->runs[idx[j]];
        for (int p = 0; p < 3; p++) {
            struct rf_array a = {0};
            enum ss_status st = plot_read(r, rf_path(ids[p]), 2, r->n_layers, -1, -1, &a, err);
            if (!st)
                st = plot_table(c, a.data, r->n_layers, (int)a.shape[1], names[j][p], err);
            E[j] = st ? 0 : (int)a.shape[1];
            rf_array_free(&a);
            if (st)
                return st;
        }
    }
    struct gp *g = &c->g;
    plot_style_page(c);
    gp_printf(g, "set multiplot layout %d,3 title %s\n", n,
              gp_text(g, "Expert load per layer (share of routed slots; blank: dense layer)"));
    for (int j = 0; j < n; j++) {
        const struct plot_run *r = &c->runs[idx[j]];
        for (int p = 0; p < 3; p++) {
            char t[200];
            snprintf(t, sizeof t, n > 1 ? "%s: %s" : "%.0s%s", r->label, titles[p]);
            heat_panel(c, names[j][p], E[j], r->n_layers, "expert", t, 0);
        }
    }
    gp_printf(g, "unset multiplot\n");
    return SS_OK;
}

/* [L, H] of dataset id into a float table; its name in name. */
static enum ss_status layer_head_table(struct plot_ctx *c, struct plot_run *r, enum rf_id id, char name[32],
                                       struct ss_error *err)
{
    struct rf_array a = {0};
    enum ss_status st = plot_read(r, rf_path(id), 2, r->n_layers, r->n_heads, -1, &a, err);
    if (!st)
        st = plot_table(c, a.data, r->n_layers, r->n_heads, name, err);
    rf_array_free(&a);
    return st;
}

/* Rows (layer + 1, value) of a [layer] dataset. */
static enum ss_status per_layer_table(struct plot_ctx *c, struct plot_run *r, enum rf_id id, char name[32],
                                      struct ss_error *err)
{
    struct rf_array a = {0};
    enum ss_status st = plot_read(r, rf_path(id), 1, r->n_layers, -1, -1, &a, err);
    double *t = st ? NULL : malloc(sizeof *t * 2 * (size_t)r->n_layers);
    if (!st && !t)
        st = ss_fail(err, SS_ERR_NOMEM, "out of memory");
    for (int l = 0; !st && l < r->n_layers; l++)
        t[2 * l] = l + 1, t[2 * l + 1] = a.data[l];
    if (!st)
        st = plot_table(c, t, r->n_layers, 2, name, err);
    free(t);
    rf_array_free(&a);
    return st;
}

/* learned-sink: the first run with learned sinks as two layer x head heatmaps on one colour scale
 * (learned sink, first-token share), and per layer both shares of every run as lines. */
enum ss_status plot_learned_sink(struct plot_ctx *c, struct ss_error *err)
{
    int idx[PLOT_MAX_RUNS];
    if (!runs_with(c, RF_LEARNED_SINK_SHARE, idx, "learned-sink statistics", HINT_SINK, err))
        return err->status;
    struct plot_run *r0 = &c->runs[idx[0]];
    char sink_map[32], fts_map[32], sink_l[PLOT_MAX_RUNS][32], fts_l[PLOT_MAX_RUNS][32];
    enum ss_status st = layer_head_table(c, r0, RF_LEARNED_SINK_SHARE, sink_map, err);
    if (!st)
        st = layer_head_table(c, r0, RF_FIRST_TOKEN_SHARE, fts_map, err);
    int L = 1;
    for (int i = 0; i < c->n_runs && !st; i++) {
        struct plot_run *r = &c->runs[i];
        L = r->n_layers > L ? r->n_layers : L;
        sink_l[i][0] = 0;
        if (runfile_has(r->rf, rf_path(RF_LEARNED_SINK_SHARE_LAYER)))
            st = per_layer_table(c, r, RF_LEARNED_SINK_SHARE_LAYER, sink_l[i], err);
        if (!st)
            st = per_layer_table(c, r, RF_FIRST_TOKEN_SHARE_LAYER, fts_l[i], err);
    }
    if (st)
        return st;
    struct gp *g = &c->g;
    char t[200];
    plot_style_page(c);
    gp_printf(g, "set multiplot layout 1,3 title %s\n",
              gp_text(g, "Learned sink vs first token (share of attention, queries q >= 1)"));
    snprintf(t, sizeof t, "%s: learned sink", r0->label);
    heat_panel(c, sink_map, r0->n_heads, r0->n_layers, "head", t, 1);
    snprintf(t, sizeof t, "%s: first token (key 0)", r0->label);
    heat_panel(c, fts_map, r0->n_heads, r0->n_layers, "head", t, 1);
    plot_style_page(c);
    gp_printf(g, "set xlabel %s\nset ylabel %s\nset xrange [0.5:%g]\nset yrange [0:1]\nset ytics 0.2\n",
              gp_text(g, "layer"), gp_text(g, "share of attention"), L + 0.5);
    axis_tics(c, "x", L, 1);
    gp_printf(g, "set title %s\nset key below vertical maxrows 3\nplot ", gp_text(g, "per layer, mean over heads"));
    for (int i = 0; i < c->n_runs; i++) {
        const struct plot_run *r = &c->runs[i];
        if (sink_l[i][0]) {
            snprintf(t, sizeof t, "%s: learned sink", r->label);
            gp_printf(g, "%s %s using 1:2 with linespoints lt %d title %s, \\\n     ", gp_q(g, sink_l[i]),
                      plot_table_fmt(r->n_layers, 2), i + 1, gp_text(g, t));
        }
        snprintf(t, sizeof t, "%s: key 0", r->label);
        gp_printf(g, "%s %s using 1:2 with linespoints lt %d dt 2 title %s%s", gp_q(g, fts_l[i]),
                  plot_table_fmt(r->n_layers, 2), i + 1, gp_text(g, t), i + 1 < c->n_runs ? ", \\\n     " : "\n");
    }
    gp_printf(g, "unset multiplot\n");
    return SS_OK;
}
