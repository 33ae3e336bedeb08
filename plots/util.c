/* plots/util.c — reading run data for figures, data tables, token tick labels. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot_int.h"
#include "../runfile/schema.h"

#include "../common/index_list.h"

enum ss_status plot_need(struct plot_run *r, const char *dset, const char *what, const char *hint,
                         struct ss_error *err)
{
    if (runfile_has(r->rf, dset))
        return SS_OK;
    return ss_fail(err, SS_ERR_INPUT, "%s has no %s: %s", r->path, what, hint);
}

enum ss_status plot_read(struct plot_run *r, const char *dset, int ndim, int64_t d0, int64_t d1,
                         int64_t d2, struct rf_array *a, struct ss_error *err)
{
    int64_t want[4] = {d0, d1, d2, -1};
    return runfile_read_shaped(r->rf, dset, ndim, want, a, err);
}

enum ss_status plot_table(struct plot_ctx *c, const double *v, int rows, int cols, char name[32],
                          struct ss_error *err)
{
    size_t n = (size_t)rows * (size_t)cols;
    float *f = malloc((n ? n : 1) * sizeof *f);
    if (!f)
        return ss_fail(err, SS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        f[i] = (float)v[i];
    enum ss_status st = gp_data(&c->g, f, n, name, err);
    free(f);
    return st;
}

const char *plot_table_fmt(int rows, int cols)
{
    static char ring[4][512];
    static int next;
    char *b = ring[next++ % 4];
    int o = snprintf(b, 512, "binary record=(%d) format='", rows);
    for (int i = 0; i < cols && o < 480; i++)
        o += snprintf(b + o, 512 - (size_t)o, "%%float32");
    snprintf(b + o, 512 - (size_t)o, "' endian=little");
    return b;
}

void plot_token_label(const char *piece, char *out, size_t n, int max_chars)
{
    char tmp[256];
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)piece;
    /* a piece made of whitespace alone shows what it is; otherwise trim it */
    int all_space = 1;
    for (const unsigned char *q = p; *q; q++)
        if (*q != ' ' && *q != '\n' && *q != '\t' && *q != '\r')
            all_space = 0;
    if (all_space) {
        for (; *p && o + 3 < sizeof tmp; p++) {
            const char *s = *p == '\n' ? "\\n" : *p == '\t' ? "\\t" : *p == '\r' ? "\\r" : "_";
            memcpy(tmp + o, s, strlen(s));
            o += strlen(s);
        }
        if (!o)
            memcpy(tmp + o++, "_", 1); /* empty piece */
    } else {
        while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
            p++;
        for (; *p && o + 1 < sizeof tmp; p++)
            tmp[o++] = (*p < 0x20 || *p == 0x7f) ? '?' : (char)*p;
        while (o && (tmp[o - 1] == ' ' || tmp[o - 1] == '?'))
            o--;
    }
    tmp[o] = 0;
    /* cut at max_chars UTF-8 characters */
    size_t i = 0;
    int chars = 0;
    while (tmp[i] && chars < max_chars) {
        i++;
        while (((unsigned char)tmp[i] & 0xC0) == 0x80)
            i++;
        chars++;
    }
    if (tmp[i])
        snprintf(out, n, "%.*s..", (int)i, tmp);
    else
        snprintf(out, n, "%s", tmp);
}

int plot_token_tics(struct plot_ctx *c, const char *axis, char **pieces, int n, int max_labels, int pool)
{
    struct gp *g = &c->g;
    int step = n > max_labels ? (n + max_labels - 1) / max_labels : 1;
    if (!pieces && pool <= 1) {
        /* positions: a round step (1, 2, 5 x 10^k); x labels are wider, so fewer */
        int want = !strcmp(axis, "x") ? (max_labels + 1) / 2 : max_labels;
        double raw = (double)n / (want < 2 ? 2 : want), nice = 1;
        while (nice < raw)
            nice *= (((int)lround(log10(nice) * 3)) % 3 == 1) ? 2.5 : 2; /* 1, 2, 5, 10, 20, 50 */
        gp_printf(g, "set %stics %g\n", axis, nice);
        return n >= 1000 ? 4 : n >= 100 ? 3 : 2;
    }
    if (pool < 1)
        pool = 1;
    int widest = 1;
    if (!strcmp(axis, "x"))
        gp_printf(g, "set xtics rotate by 60 right font ',7' (");
    else
        gp_printf(g, "set ytics font ',7' (");
    for (int i = 0; i < n; i += step) {
        char lab[96];
        if (pieces)
            plot_token_label(pieces[i], lab, sizeof lab, 7);
        else
            snprintf(lab, sizeof lab, "%d", i);
        /* gnuplot reads explicit tic labels as format strings: double every % (after
         * any LaTeX escaping, so \% becomes \%%) */
        const char *q = gp_text(g, lab);
        char fmt[2100];
        size_t o = 0;
        for (; *q && o + 3 < sizeof fmt; q++) {
            if (*q == '%')
                fmt[o++] = '%';
            fmt[o++] = *q;
        }
        fmt[o] = 0;
        /* a pooled map has pixel j covering positions j*pool .. j*pool+pool-1 */
        gp_printf(g, "%s%s %g", i ? ", " : "", fmt, (i + 0.5) / pool - 0.5);
        int chars = 0;
        for (const char *q = lab; *q; q++)
            chars += ((unsigned char)*q & 0xC0) != 0x80;
        if (chars > widest)
            widest = chars;
    }
    gp_printf(g, ")\n");
    return widest;
}

char **plot_tokens(struct plot_run *r, int seq, int *n)
{
    *n = 0;
    struct ss_error e;
    if (runfile_has(r->rf, rf_path(RF_TOKEN_TEXT))) {
        char **s = NULL;
        int m = 0;
        if (runfile_token_text(r->rf, seq, &s, &m, &e) == SS_OK) {
            char **out = calloc((size_t)(m ? m : 1), sizeof *out);
            for (int i = 0; out && i < m; i++)
                out[i] = strdup(s[i] ? s[i] : "");
            runfile_strings_free(s, m);
            *n = m;
            return out;
        }
    }
    if (!runfile_has(r->rf, rf_path(RF_TOKENS)))
        return NULL;
    struct rf_array a = {0};
    if (runfile_read(r->rf, rf_path(RF_TOKENS), &a, &e) != SS_OK || a.ndim != 2 || seq >= a.shape[0]) {
        rf_array_free(&a);
        return NULL;
    }
    int m = (int)a.shape[1];
    char **out = calloc((size_t)(m ? m : 1), sizeof *out);
    for (int i = 0; out && i < m; i++) {
        char b[32];
        snprintf(b, sizeof b, "#%.0f", a.data[(size_t)seq * (size_t)m + (size_t)i]); /* an id, not a position */
        out[i] = strdup(b);
    }
    rf_array_free(&a);
    *n = out ? m : 0;
    return out;
}

void plot_strings_free(char **s, int n)
{
    for (int i = 0; s && i < n; i++)
        free(s[i]);
    free(s);
}

int plot_gated_runs(struct plot_ctx *c, int *idx, const char *kind, struct ss_error *err)
{
    int n = 0;
    for (int i = 0; i < c->n_runs; i++)
        if (c->runs[i].gated && runfile_has(c->runs[i].rf, rf_path(RF_GATE_MEAN)))
            idx[n++] = i;
    if (!n)
        ss_fail(err, SS_ERR_INPUT,
                "%s has no gate scores (gate_kind %s): %s needs a run of a gated checkpoint",
                c->runs[0].path, c->runs[0].gate_kind, kind);
    return n;
}

enum ss_status plot_run_layers(const struct plot_ctx *c, const struct plot_run *r, int *out, int *n,
                               struct ss_error *err)
{
    *n = 0;
    if (!c->o->layers)
        return SS_OK;
    int *all = malloc(sizeof(int) * (size_t)(r->n_layers > 0 ? r->n_layers : 1));
    if (!all)
        return ss_fail(err, SS_ERR_NOMEM, "out of memory");
    enum ss_status s = index_list_parse(c->o->layers, r->n_layers, "--layers", "layer", all, n, err);
    if (s)
        ss_prefix(err, "%s", r->path);
    else if (*n > PLOT_MAX_LAYERS)
        s = ss_fail(err, SS_ERR_INPUT, "%s: --layers '%s' picks %d layers; a figure shows at most %d", r->path,
                    c->o->layers, *n, PLOT_MAX_LAYERS);
    else
        memcpy(out, all, sizeof(int) * (size_t)*n);
    free(all);
    if (s)
        *n = 0;
    return s;
}
