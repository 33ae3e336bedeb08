/* plots/kind_context.c — the length experiments (docs/EXPERIMENTS.md): metrics
 * against context length over the run files of -c sweeps, and the loss by
 * position of each run. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runfile/schema.h"
#include "plot_int.h"

#define HINT_NLL "per-position losses (/stats/nll) are written by every `sinkscope run` without --no-stats"
#define LOSS_BUCKET 128

/* The series a run belongs to: its label without a trailing "-cN" (run_sweep's names). */
static void series_of(const char *label, char *out, size_t n)
{
    snprintf(out, n, "%s", label);
    char *c = strrchr(out, '-');
    if (c && c[1] == 'c' && c[2]) {
        char *e;
        strtol(c + 2, &e, 10);
        if (!*e)
            *c = 0;
    }
}

/* max_position_embeddings from the config_json attribute (0 when absent). */
static int trained_length(struct plot_run *r)
{
    char js[1 << 15];
    struct ss_error e;
    if (runfile_attr_string(r->rf, NULL, "config_json", js, sizeof js, &e) != SS_OK)
        return 0;
    const char *p = strstr(js, "\"max_position_embeddings\"");
    p = p ? strchr(p, ':') : NULL;
    return p ? atoi(p + 1) : 0;
}

static const struct { enum rf_id dset; const char *title; int log; } sweep_metric[3] = {
    {RF_SUMMARY_PERPLEXITY, "perplexity", 1},
    {RF_SUMMARY_FIRST_TOKEN_SHARE, "F-Attn (first-token share)", 0},
    {RF_SUMMARY_SINK_RATE, "sink rate (key 0)", 0},
};

/* One data table per series (runs whose labels differ only in the context): rows (context,
 * the three metrics of v) sorted by context; rows[k] of them in table names[k]. */
static enum ss_status sweep_tables(struct plot_ctx *c, const int *sid, int ns, double (*v)[3], char (*names)[32],
                                   int *rows, struct ss_error *err)
{
    for (int k = 0; k < ns; k++) {
        double t[PLOT_MAX_RUNS * 4];
        int n = 0;
        for (int i = 0; i < c->n_runs; i++)
            if (sid[i] == k) {
                int j = n++;
                while (j > 0 && t[(j - 1) * 4] > c->runs[i].n_pos) {
                    memcpy(t + j * 4, t + (j - 1) * 4, 4 * sizeof *t);
                    j--;
                }
                t[j * 4] = c->runs[i].n_pos;
                for (int m = 0; m < 3; m++)
                    t[j * 4 + 1 + m] = v[i][m];
            }
        rows[k] = n;
        enum ss_status st = plot_table(c, t, n, 4, names[k], err);
        if (st)
            return st;
    }
    return SS_OK;
}

/* x tics at the contexts present (512, 1k, 2k, ...) and their range. */
static void sweep_tics(const struct plot_ctx *c, char *tics, size_t cap, double *lo, double *hi)
{
    size_t o = 0;
    tics[0] = 0;
    *lo = 1e30, *hi = 0;
    for (int i = 0; i < c->n_runs; i++) {
        int T = c->runs[i].n_pos, seen = 0;
        *lo = T < *lo ? T : *lo;
        *hi = T > *hi ? T : *hi;
        for (int j = 0; j < i; j++)
            seen |= c->runs[j].n_pos == T;
        if (!seen && o < cap - 32)
            o += snprintf(tics + o, cap - o, T >= 1024 && T % 1024 == 0 ? "%s'%dk' %d" : "%s'%d' %d", o ? ", " : "",
                          T >= 1024 && T % 1024 == 0 ? T / 1024 : T, T);
    }
}

enum ss_status plot_context_sweep(struct plot_ctx *c, struct ss_error *err)
{
    char series[PLOT_MAX_RUNS][128];
    int sid[PLOT_MAX_RUNS], ns = 0, trained = 0;
    double v[PLOT_MAX_RUNS][3];
    for (int i = 0; i < c->n_runs; i++) {
        char s[128];
        series_of(c->runs[i].label, s, sizeof s);
        int k = 0;
        while (k < ns && strcmp(series[k], s))
            k++;
        if (k == ns)
            snprintf(series[ns++], sizeof series[0], "%s", s);
        sid[i] = k;
        for (int m = 0; m < 3; m++) {
            enum ss_status st = plot_need(&c->runs[i], rf_path(sweep_metric[m].dset), sweep_metric[m].title, HINT_NLL,
                                          err);
            if (!st)
                st = runfile_read_scalar(c->runs[i].rf, rf_path(sweep_metric[m].dset), &v[i][m], err);
            if (st)
                return st;
        }
        int t = trained_length(&c->runs[i]);
        trained = t > trained ? t : trained;
    }
    char names[PLOT_MAX_RUNS][32], tics[512];
    int rows[PLOT_MAX_RUNS];
    double lo, hi;
    enum ss_status st = sweep_tables(c, sid, ns, v, names, rows, err);
    if (st)
        return st;
    sweep_tics(c, tics, sizeof tics, &lo, &hi);
    struct gp *g = &c->g;
    plot_style_page(c);
    gp_printf(g, "set multiplot layout 1,4\n");
    for (int m = 0; m < 3; m++) {
        gp_printf(g, "unset key\n");
        gp_printf(g, "set xrange [%g:%g]\n", lo / 1.25, hi * 1.25);
        gp_printf(g, "set logscale x 2\nset xtics (%s)\nset xlabel %s\nunset ylabel\nset title %s\n", tics,
                  gp_text(g, "context (tokens)"), gp_text(g, sweep_metric[m].title));
        gp_printf(g, sweep_metric[m].log ? "set logscale y\nunset yrange\n" : "unset logscale y\nset yrange [0:*]\n");
        if (trained > 0)
            gp_printf(g, "set arrow 1 from %d, graph 0 to %d, graph 1 nohead dt 2 lc rgb '#888888'\n", trained, trained);
        gp_printf(g, "plot ");
        for (int k = 0; k < ns; k++)
            gp_printf(g, "%s%s %s using 1:%d with linespoints lt %d title %s", k ? ", \\\n     " : "",
                      gp_q(g, names[k]), plot_table_fmt(rows[k], 4), m + 2, k + 1, gp_text(g, series[k]));
        gp_printf(g, "\nunset arrow 1\n");
    }
    /* the fourth panel holds only the legend */
    gp_printf(g, "unset arrow 1\nunset title\nunset xlabel\nunset ylabel\nunset logscale\nunset border\n"
                 "unset tics\nunset grid\nset xrange [0:1]\nset yrange [0:1]\nset key center center vertical\nplot ");
    for (int k = 0; k < ns; k++)
        gp_printf(g, "%sNaN with linespoints lt %d title %s", k ? ", " : "", k + 1, gp_text(g, series[k]));
    gp_printf(g, "\nunset multiplot\n");
    return SS_OK;
}

enum ss_status plot_loss_position(struct plot_ctx *c, struct ss_error *err)
{
    char names[PLOT_MAX_RUNS][32];
    int nb[PLOT_MAX_RUNS], trained = 0, longest = 1;
    for (int i = 0; i < c->n_runs; i++) {
        struct plot_run *r = &c->runs[i];
        struct rf_array a = {0};
        enum ss_status st = plot_need(r, rf_path(RF_NLL), "per-position losses", HINT_NLL, err);
        if (!st)
            st = plot_read(r, rf_path(RF_NLL), 2, -1, r->n_pos, -1, &a, err);
        if (st)
            return st;
        int T = r->n_pos, n = (T + LOSS_BUCKET - 1) / LOSS_BUCKET;
        double *t = calloc((size_t)n * 3, sizeof *t); /* centre, mean, count */
        if (!t) {
            rf_array_free(&a);
            return ss_fail(err, SS_ERR_NOMEM, "out of memory");
        }
        for (int64_t s = 0; s < a.shape[0]; s++)
            for (int p = 0; p < T; p++) {
                double x = a.data[s * T + p];
                if (!isnan(x))
                    t[(p / LOSS_BUCKET) * 3 + 1] += x, t[(p / LOSS_BUCKET) * 3 + 2] += 1;
            }
        for (int b = 0; b < n; b++) {
            int hi = (b + 1) * LOSS_BUCKET < T - 1 ? (b + 1) * LOSS_BUCKET : T - 1;
            t[b * 3] = 0.5 * (b * LOSS_BUCKET + hi);
            t[b * 3 + 1] = t[b * 3 + 2] > 0 ? t[b * 3 + 1] / t[b * 3 + 2] : NAN;
        }
        st = plot_table(c, t, n, 3, names[i], err);
        free(t);
        rf_array_free(&a);
        if (st)
            return st;
        nb[i] = n;
        int tl = trained_length(r);
        trained = tl > trained ? tl : trained;
        longest = T > longest ? T : longest;
    }
    struct gp *g = &c->g;
    plot_style_page(c);
    gp_printf(g, c->n_runs <= 3 ? "set key tmargin center horizontal\n" : "set key outside right center vertical\n");
    gp_printf(g, "set title %s\n", gp_text(g, "Loss by position"));
    gp_printf(g, "set xlabel %s\nset ylabel %s\nset xrange [0:%d]\n", gp_text(g, "position (128-token buckets)"),
              gp_text(g, "mean NLL (nats)"), longest);
    if (trained > 0 && trained < longest)
        gp_printf(g, "set arrow 1 from %d, graph 0 to %d, graph 1 nohead dt 2 lc rgb '#888888'\n", trained, trained);
    gp_printf(g, "plot ");
    for (int i = 0; i < c->n_runs; i++)
        gp_printf(g, "%s%s %s using 1:2 with linespoints lt %d title %s", i ? ", \\\n     " : "", gp_q(g, names[i]),
                  plot_table_fmt(nb[i], 3), i + 1, gp_text(g, c->runs[i].label));
    gp_printf(g, "\n");
    return SS_OK;
}
