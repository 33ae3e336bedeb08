/* plots/kind_gates.c — gate-score figures: densities on [0, 1] (Fig. 3) and
 * per-layer mean, std, min, max (Fig. 7). Runs without gates are left out. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot_int.h"
#include "../runfile/schema.h"

/* Overall gate mean of a run: /summary/gate_mean, else the mean of /stats/gate_mean. */
static double gate_mean_of(struct plot_run *r)
{
    double v = NAN;
    struct ss_error e;
    if (runfile_has(r->rf, rf_path(RF_SUMMARY_GATE_MEAN)) && runfile_read_scalar(r->rf, rf_path(RF_SUMMARY_GATE_MEAN), &v, &e) == SS_OK)
        return v;
    struct rf_array a = {0};
    if (runfile_read(r->rf, rf_path(RF_GATE_MEAN), &a, &e) == SS_OK && a.n) {
        double s = 0;
        for (size_t i = 0; i < a.n; i++)
            s += a.data[i];
        v = s / (double)a.n;
    }
    rf_array_free(&a);
    return v;
}

/* Histogram rows: (bin centre, density) for B bins; src points at B densities. */
static enum ss_status hist_table(struct plot_ctx *c, const double *src, int B, char name[32], struct ss_error *err)
{
    double *t = malloc((size_t)B * 2 * sizeof *t);
    if (!t)
        return ss_fail(err, SS_ERR_NOMEM, "out of memory");
    for (int b = 0; b < B; b++) {
        t[2 * b] = (b + 0.5) / B;
        t[2 * b + 1] = src[b];
    }
    enum ss_status st = plot_table(c, t, B, 2, name, err);
    free(t);
    return st;
}

static void hist_axes(struct plot_ctx *c)
{
    struct gp *g = &c->g;
    gp_printf(g, "set xlabel %s\nset ylabel %s\nset xrange [0:1]\nset xtics 0.1\nset format x '%%g'\n",
              gp_text(g, "gate score"), gp_text(g, "density"));
    if (c->o->log_scale)
        gp_printf(g, "set logscale y\nset yrange [*:*]\n");
    else
        gp_printf(g, "set yrange [0:*]\n");
}

static enum ss_status gate_hist_pooled(struct plot_ctx *c, const int *idx, int n, struct ss_error *err)
{
    struct gp *g = &c->g;
    char names[PLOT_MAX_RUNS][32];
    int bins[PLOT_MAX_RUNS];
    double means[PLOT_MAX_RUNS];
    for (int j = 0; j < n; j++) {
        struct plot_run *r = &c->runs[idx[j]];
        struct rf_array a = {0};
        enum ss_status st = plot_need(r, rf_path(RF_GATE_HIST_POOLED), "pooled gate histogram",
                                      "statistics of gated checkpoints are written by every `sinkscope run`", err);
        if (!st)
            st = plot_read(r, rf_path(RF_GATE_HIST_POOLED), 1, -1, -1, -1, &a, err);
        if (!st)
            st = hist_table(c, a.data, (int)a.shape[0], names[j], err);
        bins[j] = (int)a.shape[0];
        rf_array_free(&a);
        if (st)
            return st;
        means[j] = gate_mean_of(r);
    }
    plot_style_page(c);
    hist_axes(c);
    gp_printf(g, "set title %s\nset key top right\n",
              gp_text(g, "Gate scores, all layers pooled"));
    for (int j = 0; j < n; j++)
        if (!isnan(means[j]))
            gp_printf(g, "set arrow from %.6g, graph 0 to %.6g, graph 1 nohead dt 3 lw 1.5 lc rgb '%s' front\n",
                      means[j], means[j], plot_color(idx[j]));
    gp_printf(g, "plot ");
    for (int j = 0; j < n; j++) {
        char t[200];
        snprintf(t, sizeof t, "%s (mean %.3f)", c->runs[idx[j]].label, means[j]);
        const char *fmt = plot_table_fmt(bins[j], 2);
        gp_printf(g, "%s%s %s using 1:2 with boxes lc rgb '%s' fs transparent solid 0.25 noborder notitle, \\\n     ",
                  j ? ", \\\n     " : "", gp_q(g, names[j]), fmt, plot_color(idx[j]));
        gp_printf(g, "%s %s using 1:2 with histeps lt %d title %s", gp_q(g, names[j]), fmt, idx[j] + 1,
                  gp_text(g, t));
    }
    gp_printf(g, "\n");
    return SS_OK;
}

static enum ss_status gate_hist_layers(struct plot_ctx *c, const int *idx, int n, struct ss_error *err)
{
    struct gp *g = &c->g;
    char (*names)[32] = calloc((size_t)n * PLOT_MAX_LAYERS, 32);
    int bins[PLOT_MAX_RUNS], layers[PLOT_MAX_RUNS][PLOT_MAX_LAYERS], nl[PLOT_MAX_RUNS] = {0};
    if (!names)
        return ss_fail(err, SS_ERR_NOMEM, "out of memory");
    enum ss_status st = SS_OK;
    for (int j = 0; j < n && !st; j++) {
        struct plot_run *r = &c->runs[idx[j]];
        struct rf_array a = {0};
        st = plot_need(r, rf_path(RF_GATE_HIST), "per-layer gate histograms",
                       "statistics of gated checkpoints are written by every `sinkscope run`", err);
        if (!st)
            st = plot_read(r, rf_path(RF_GATE_HIST), 2, r->n_layers, -1, -1, &a, err);
        bins[j] = st ? 0 : (int)a.shape[1];
        if (!st)
            st = plot_run_layers(c, r, layers[j], &nl[j], err);
        for (int k = 0; k < nl[j] && !st; k++)
            st = hist_table(c, a.data + (size_t)layers[j][k] * (size_t)bins[j], bins[j],
                            names[j * PLOT_MAX_LAYERS + k], err);
        rf_array_free(&a);
    }
    if (st) {
        free(names);
        return st;
    }
    plot_style_page(c);
    gp_printf(g, "set multiplot layout 1,%d title %s\n", n, gp_text(g, "Gate scores per layer"));
    for (int j = 0; j < n; j++) {
        hist_axes(c);
        gp_printf(g, "set title %s\nset key top right\n", gp_text(g, c->runs[idx[j]].label));
        gp_printf(g, "plot ");
        for (int k = 0; k < nl[j]; k++) {
            char t[64];
            snprintf(t, sizeof t, "layer %d", layers[j][k] + 1);
            gp_printf(g, "%s%s %s using 1:2 with histeps lt %d title %s", k ? ", \\\n     " : "",
                      gp_q(g, names[j * PLOT_MAX_LAYERS + k]), plot_table_fmt(bins[j], 2), k + 1, gp_text(g, t));
        }
        gp_printf(g, "\n");
    }
    gp_printf(g, "unset multiplot\n");
    free(names);
    return SS_OK;
}

enum ss_status plot_gate_hist(struct plot_ctx *c, struct ss_error *err)
{
    int idx[PLOT_MAX_RUNS];
    int n = plot_gated_runs(c, idx, "gate-hist", err);
    if (!n)
        return err->status;
    return c->o->layers ? gate_hist_layers(c, idx, n, err) : gate_hist_pooled(c, idx, n, err);
}

enum ss_status plot_gate_layers(struct plot_ctx *c, struct ss_error *err)
{
    struct gp *g = &c->g;
    int idx[PLOT_MAX_RUNS];
    int n = plot_gated_runs(c, idx, "gate-layers", err);
    if (!n)
        return err->status;
    char names[PLOT_MAX_RUNS][32];
    for (int j = 0; j < n; j++) {
        struct plot_run *r = &c->runs[idx[j]];
        int L = r->n_layers;
        struct rf_array m = {0}, s = {0}, lo = {0}, hi = {0};
        enum ss_status st = plot_read(r, rf_path(RF_GATE_MEAN), 2, L, -1, -1, &m, err);
        if (!st)
            st = plot_read(r, rf_path(RF_GATE_STD), 2, L, m.shape[1], -1, &s, err);
        if (!st)
            st = plot_read(r, rf_path(RF_GATE_MIN), 2, L, m.shape[1], -1, &lo, err);
        if (!st)
            st = plot_read(r, rf_path(RF_GATE_MAX), 2, L, m.shape[1], -1, &hi, err);
        double *t = st ? NULL : malloc((size_t)L * 5 * sizeof *t);
        if (!st && !t)
            st = ss_fail(err, SS_ERR_NOMEM, "out of memory");
        if (!st) {
            int H = (int)m.shape[1];
            for (int l = 0; l < L; l++) {
                /* every head has the same count of gate values, so pooled moments are plain means */
                double mu = 0, sq = 0, mn = INFINITY, mx = -INFINITY;
                for (int h = 0; h < H; h++) {
                    size_t k = (size_t)l * H + h;
                    mu += m.data[k];
                    sq += s.data[k] * s.data[k] + m.data[k] * m.data[k];
                    mn = fmin(mn, lo.data[k]);
                    mx = fmax(mx, hi.data[k]);
                }
                mu /= H;
                sq /= H;
                double *row = t + (size_t)l * 5;
                row[0] = l + 1;
                row[1] = mu;
                row[2] = sqrt(fmax(0, sq - mu * mu));
                row[3] = mn;
                row[4] = mx;
            }
            st = plot_table(c, t, L, 5, names[j], err);
        }
        free(t);
        rf_array_free(&m);
        rf_array_free(&s);
        rf_array_free(&lo);
        rf_array_free(&hi);
        if (st)
            return st;
    }
    plot_style_page(c);
    gp_printf(g, "set multiplot layout 1,%d title %s\n", n, gp_text(g, "Gate scores per layer"));
    for (int j = 0; j < n; j++) {
        struct plot_run *r = &c->runs[idx[j]];
        const char *fmt = plot_table_fmt(r->n_layers, 5);
        gp_printf(g, "set xlabel %s\nset ylabel %s\nset xrange [0.5:%g]\nset yrange [0:1]\nset ytics 0.2\n",
                  gp_text(g, "layer"), gp_text(g, "gate score"), r->n_layers + 0.5);
        gp_printf(g, r->n_layers <= 10 ? "set xtics 1\n" : r->n_layers <= 20 ? "set xtics 2\n" : "set xtics 4\n");
        gp_printf(g, "set title %s\n", gp_text(g, r->label));
        plot_key_below(c, 1, j == 0);
        const char *pm = g->fmt == PLOT_FORMAT_TEX ? "mean +/- std" : "mean \xc2\xb1 std";
        gp_printf(g, "plot %s %s using 1:($2-$3):($2+$3) with filledcurves lc rgb '%s' fs transparent solid 0.25 noborder title %s, \\\n",
                  gp_q(g, names[j]), fmt, plot_color(0), gp_text(g, pm));
        gp_printf(g, "     %s %s using 1:2 with linespoints lt 1 title %s, \\\n", gp_q(g, names[j]), fmt,
                  gp_text(g, "mean"));
        gp_printf(g, "     %s %s using 1:4 with lines lt 2 dt 2 title %s, \\\n", gp_q(g, names[j]), fmt,
                  gp_text(g, "min"));
        gp_printf(g, "     %s %s using 1:5 with lines lt 3 dt 2 title %s\n", gp_q(g, names[j]), fmt,
                  gp_text(g, "max"));
    }
    gp_printf(g, "unset multiplot\n");
    return SS_OK;
}
