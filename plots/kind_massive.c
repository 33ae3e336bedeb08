/* plots/kind_massive.c — `massive`: the largest activations of one layer's residual stream
 * by (token, dimension), from a hidden-state dump or from the statistics' top values
 * (Sun et al. 2024's massive activations). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot_int.h"
#include "../runfile/schema.h"

/* Rows (token position, dimension, |x|) of one run's largest activations. */
struct massive_data {
    double *rows;
    int n;
    int layer;
    int from_dump;
};

/* The layer massive shows for run r: the first of --layers, else the one whose residual
 * leaving it has the largest |x| (stream 3 of /stats/act_max). */
static enum ss_status massive_layer(struct plot_ctx *c, struct plot_run *r, int *layer, struct ss_error *err)
{
    struct rf_array mx = {0};
    enum ss_status st = plot_need(r, rf_path(RF_ACT_MAX), "activation statistics",
                                  "statistics are written by every `sinkscope run`", err);
    if (!st)
        st = plot_read(r, rf_path(RF_ACT_MAX), 2, r->n_layers, 4, -1, &mx, err);
    if (st)
        return st;
    *layer = 0;
    if (c->o->layers) {
        int picked[PLOT_MAX_LAYERS], np;
        if (!(st = plot_run_layers(c, r, picked, &np, err)))
            *layer = picked[0];
    } else {
        for (int k = 1; k < r->n_layers; k++)
            if (mx.data[k * 4 + 3] > mx.data[*layer * 4 + 3])
                *layer = k;
    }
    rf_array_free(&mx);
    return st;
}

/* Every (position, dimension, |x|) of sequence --seq of the dumped hidden state d. */
static enum ss_status massive_from_dump(struct plot_ctx *c, struct plot_run *r, const char *d,
                                        struct massive_data *md, struct ss_error *err)
{
    int nd, seq = c->o->seq;
    int64_t sh[4];
    enum ss_status st = runfile_shape(r->rf, d, &nd, sh, err);
    if (st)
        return st;
    if (nd != 3)
        return ss_fail(err, SS_ERR_INPUT, "%s: %s is not [seq, pos, hidden]", r->path, d);
    if (seq < 0 || seq >= sh[0])
        return ss_fail(err, SS_ERR_INPUT, "%s: --seq %d out of range: the run has sequences 0..%d", r->path, seq,
                       (int)sh[0] - 1);
    int64_t start[4] = {seq, 0, 0, 0}, count[4] = {1, sh[1], sh[2], 0};
    struct rf_array a = {0};
    if ((st = runfile_read_slab(r->rf, d, start, count, &a, err)))
        return st;
    md->n = (int)(sh[1] * sh[2]);
    md->rows = malloc((size_t)md->n * 3 * sizeof *md->rows);
    if (!md->rows) {
        rf_array_free(&a);
        return ss_fail(err, SS_ERR_NOMEM, "out of memory");
    }
    for (int64_t p = 0; p < sh[1]; p++)
        for (int64_t j = 0; j < sh[2]; j++) {
            double *row = md->rows + (size_t)(p * sh[2] + j) * 3;
            row[0] = (double)p;
            row[1] = (double)j;
            row[2] = fabs(a.data[p * sh[2] + j]);
        }
    rf_array_free(&a);
    md->from_dump = 1;
    return SS_OK;
}

/* The layer's largest activations the statistics kept (/stats/act_top_value and _index). */
static enum ss_status massive_from_stats(struct plot_run *r, int l, struct massive_data *md, struct ss_error *err)
{
    struct rf_array v = {0}, ix = {0};
    enum ss_status st = plot_read(r, rf_path(RF_ACT_TOP_VALUE), 3, r->n_layers, 4, -1, &v, err);
    if (!st)
        st = runfile_read(r->rf, rf_path(RF_ACT_TOP_INDEX), &ix, err);
    if (!st && (ix.ndim != 4 || ix.shape[0] != r->n_layers || ix.shape[3] != 3 || ix.shape[2] != v.shape[2]))
        st = ss_fail(err, SS_ERR_INPUT, "%s: /stats/act_top_index has an unexpected shape", r->path);
    if (!st) {
        int R = (int)v.shape[2];
        md->rows = malloc((size_t)R * 3 * sizeof *md->rows);
        if (!md->rows)
            st = ss_fail(err, SS_ERR_NOMEM, "out of memory");
        for (int k = 0; !st && k < R; k++) {
            size_t vi = ((size_t)l * 4 + 3) * R + k, ii = vi * 3;
            if (isnan(v.data[vi]))
                continue;
            double *row = md->rows + (size_t)md->n++ * 3;
            row[0] = ix.data[ii + 1];
            row[1] = ix.data[ii + 2];
            row[2] = v.data[vi];
        }
    }
    rf_array_free(&v);
    rf_array_free(&ix);
    return st;
}

/* Rows of run r's chosen layer: from its hidden-state dump when there is one, else from the
 * top activations the statistics kept. */
static enum ss_status massive_read(struct plot_ctx *c, struct plot_run *r, struct massive_data *md,
                                   struct ss_error *err)
{
    enum ss_status st = massive_layer(c, r, &md->layer, err);
    if (st)
        return st;
    char d[64];
    rf_layer_path(RF_HIDDEN, md->layer, r->n_layers, d, sizeof d);
    return runfile_has(r->rf, d) ? massive_from_dump(c, r, d, md, err) : massive_from_stats(r, md->layer, md, err);
}

/* Extents of run r's rows (T tokens, D dimensions), their largest |x|, and the three largest
 * at distinct (token, dimension) in best (-1: fewer). */
static void massive_extent(const struct plot_run *r, const struct massive_data *md, int *T, int *D, double *top,
                           int best[3])
{
    *T = r->n_pos > 0 ? r->n_pos : 1, *D = 1, *top = 0;
    best[0] = best[1] = best[2] = -1;
    for (int k = 0; k < md->n; k++) {
        const double *row = md->rows + (size_t)k * 3;
        if (row[1] + 1 > *D)
            *D = (int)row[1] + 1;
        if (row[0] + 1 > *T)
            *T = (int)row[0] + 1;
        *top = fmax(*top, row[2]);
        int dup = 0;
        for (int b = 0; b < 3; b++)
            if (best[b] >= 0 && md->rows[(size_t)best[b] * 3] == row[0] && md->rows[(size_t)best[b] * 3 + 1] == row[1]) {
                dup = 1;
                if (row[2] > md->rows[(size_t)best[b] * 3 + 2])
                    best[b] = k; /* same place: keep the larger (order may change slightly) */
            }
        for (int b = 0; b < 3 && !dup; b++)
            if (best[b] < 0 || row[2] > md->rows[(size_t)best[b] * 3 + 2]) {
                for (int s = 2; s > b; s--)
                    best[s] = best[s - 1];
                best[b] = k;
                break;
            }
    }
    if (r->n_layers > 0 && !md->from_dump) {
        /* without a hidden dump the dimension axis spans the model width */
        double hid = 0;
        struct ss_error e;
        if (runfile_attr_double(r->rf, NULL, "hidden", &hid, &e) == SS_OK && hid > *D)
            *D = (int)hid;
    }
}

/* One run's panel: impulses at (token, dimension, |x|), the three largest labelled. */
static void massive_panel(struct plot_ctx *c, int i, const struct massive_data *md, const char *name)
{
    struct gp *g = &c->g;
    struct plot_run *r = &c->runs[i];
    int T, D, best[3];
    double top;
    massive_extent(r, md, &T, &D, &top, best);
    char title[256];
    snprintf(title, sizeof title, "%s, layer %d: max %.4g", r->label, md->layer + 1, top);
    gp_printf(g, "set title %s\n", gp_text(g, title));
    gp_printf(g, "set view 60, 30\nset xyplane at 0\nset border 895\nunset grid\nset grid x y z back lc rgb '#e0e0e0'\n");
    gp_printf(g, "set xrange [-0.5:%g]\nset yrange [0:%d]\nset zrange [0:*]\n", T - 0.5, D);
    /* |x| is named in the figure title: a z label falls off the left edge */
    gp_printf(g, "set xlabel %s rotate parallel\nset ylabel %s rotate parallel\nunset zlabel\n", gp_text(g, "token"),
              gp_text(g, "dimension"));
    int ntok = 0;
    char **toks = plot_tokens(r, md->from_dump ? c->o->seq : 0, &ntok);
    if (md->from_dump && ntok == T)
        plot_token_tics(c, "x", toks, T, 12, 1);
    else
        gp_printf(g, "set xtics auto\n");
    plot_strings_free(toks, ntok);
    gp_printf(g, "set ytics auto\nset ztics auto\nunset key\n");
    for (int b = 0; b < 3; b++) /* label the three largest, if they stand out */
        if (best[b] >= 0 && md->rows[(size_t)best[b] * 3 + 2] >= 0.25 * top) {
            const double *row = md->rows + (size_t)best[b] * 3;
            char lab[64];
            snprintf(lab, sizeof lab, "dim %d", (int)row[1]);
            gp_printf(g, "set label %d %s at %g,%g,%g front offset 0.5,0.5 font ',7'\n", b + 1, gp_text(g, lab),
                      row[0], row[1], row[2]);
        }
    gp_printf(g, "splot %s %s using 1:2:3 with impulses lw 2 lc rgb '%s' notitle\n", gp_q(g, name),
              plot_table_fmt(md->n, 3), plot_color(i));
    gp_printf(g, "unset label\n");
}

enum ss_status plot_massive(struct plot_ctx *c, struct ss_error *err)
{
    struct gp *g = &c->g;
    struct massive_data md[PLOT_MAX_RUNS];
    char names[PLOT_MAX_RUNS][32];
    memset(md, 0, sizeof md);
    enum ss_status st = SS_OK;
    for (int i = 0; i < c->n_runs && !st; i++) {
        st = massive_read(c, &c->runs[i], &md[i], err);
        if (!st)
            st = plot_table(c, md[i].rows, md[i].n, 3, names[i], err);
    }
    if (!st) {
        plot_style_page(c);
        gp_printf(g, "set multiplot layout 1,%d title %s\n", c->n_runs,
                  gp_text(g, md[0].from_dump ? "|x| of the residual stream leaving a layer"
                                             : "The 10 largest |x| of the residual stream leaving a layer (all sequences)"));
        for (int i = 0; i < c->n_runs; i++)
            massive_panel(c, i, &md[i], names[i]);
        gp_printf(g, "unset multiplot\n");
    }
    for (int i = 0; i < c->n_runs; i++)
        free(md[i].rows);
    return st;
}
