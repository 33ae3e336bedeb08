/* analyze/compare.c — `sinkscope compare`: runs side by side with ratios and
 * differences against the first run, overall and per layer, and the checks that
 * the runs are comparable (same tokens, same settings). */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../runfile/runfile.h"
#include "../runfile/schema.h"
#include "analyze_int.h"

struct metric {
    const char *key, *head;
    enum cell_kind kind, dkind;
    double (*run)(const struct analyze_run *r);
    double (*layer)(const struct analyze_run *r, int l);
    int (*has)(const struct analyze_run *r); /* NULL: every run; else shown when a run has it */
};

static double m_gate(const struct analyze_run *r) { return r->gate_mean; }
static double m_mact(const struct analyze_run *r) { return r->max_activation_mean; }
static double m_amax(const struct analyze_run *r) { return r->max_activation; }
static double m_fts(const struct analyze_run *r) { return r->first_token_share; }
static double m_fts0(const struct analyze_run *r) { return r->first_token_share_incl0; }
static double m_ppl(const struct analyze_run *r) { return r->perplexity; }
static double m_sink(const struct analyze_run *r) { return r->sink_rate; }

static double m_lsink(const struct analyze_run *r) { return r->learned_sink_share; }
static double m_router(const struct analyze_run *r) { return r->router_entropy_norm; }
static int has_lsink(const struct analyze_run *r) { return r->lsink_h != NULL; }
static int has_router(const struct analyze_run *r) { return r->moe_layer != NULL; }

static double l_fts(const struct analyze_run *r, int l) { return r->fts_layer[l]; }
static double l_alpha(const struct analyze_run *r, int l) { return r->alpha0_layer[l]; }
static double l_act(const struct analyze_run *r, int l) { return r->act_max[l * ANALYZE_STREAMS + ANALYZE_STREAM_RESID]; }
static double l_gate(const struct analyze_run *r, int l) { return r->gated ? r->gate_mean_l[l] : NAN; }
static double l_lsink(const struct analyze_run *r, int l) { return r->lsink_l ? r->lsink_l[l] : NAN; }
static double l_router(const struct analyze_run *r, int l)
{
    return r->moe_layer ? r->router_entropy_norm_l[l] : NAN;
}

static const struct metric overall[] = {
    {"gate_mean", "Gate Score", CELL_KIND_PROB, CELL_KIND_DIFF_PROB, m_gate, NULL},
    {"max_activation_mean", "M-Act", CELL_KIND_ACT, CELL_KIND_DIFF_ACT, m_mact, NULL},
    {"first_token_share", "F-Attn", CELL_KIND_PROB, CELL_KIND_DIFF_PROB, m_fts, NULL},
    {"perplexity", "PPL", CELL_KIND_PROB, CELL_KIND_DIFF_PROB, m_ppl, NULL},
    {"sink_rate", "Sink rate", CELL_KIND_PROB, CELL_KIND_DIFF_PROB, m_sink, NULL},
    {"first_token_share_incl0", "F-Attn incl. q=0", CELL_KIND_PROB, CELL_KIND_DIFF_PROB, m_fts0, NULL},
    {"max_activation", "max |x|", CELL_KIND_ACT, CELL_KIND_DIFF_ACT, m_amax, NULL},
    {"learned_sink_share", "Learned sink", CELL_KIND_PROB, CELL_KIND_DIFF_PROB, m_lsink, NULL, has_lsink},
    {"router_entropy_norm", "Router H/ln E", CELL_KIND_PROB, CELL_KIND_DIFF_PROB, m_router, NULL, has_router},
};
#define N_OVERALL (int)(sizeof overall / sizeof overall[0])

static const struct metric per_layer[] = {
    {"first_token_share", "F-Attn", CELL_KIND_PROB, CELL_KIND_DIFF_PROB, NULL, l_fts},
    {"sink_alpha0", "alpha_0", CELL_KIND_PROB, CELL_KIND_DIFF_PROB, NULL, l_alpha},
    {"max_activation", "max |x| leaving the layer", CELL_KIND_ACT, CELL_KIND_DIFF_ACT, NULL, l_act},
    {"gate_mean", "gate mean", CELL_KIND_PROB, CELL_KIND_DIFF_PROB, NULL, l_gate},
    {"learned_sink_share", "learned sink share", CELL_KIND_PROB, CELL_KIND_DIFF_PROB, NULL, l_lsink, has_lsink},
    {"router_entropy_norm", "router entropy / ln E", CELL_KIND_PROB, CELL_KIND_DIFF_PROB, NULL, l_router, has_router},
};
#define N_LAYER (int)(sizeof per_layer / sizeof per_layer[0])

/* Is metric m shown for these runs? (those with `has`: when at least one run has it) */
static int shown(const struct metric *m, const struct analyze_run *runs, int n)
{
    for (int i = 0; m->has && i < n; i++)
        if (m->has(&runs[i]))
            return 1;
    return !m->has;
}

static double ratio(double b, double a)
{
    return (isfinite(a) && isfinite(b) && a != 0) ? b / a : NAN;
}

static double lval(const struct metric *m, const struct analyze_run *r, int l)
{
    return l < r->n_layers ? m->layer(r, l) : NAN;
}

/* ---- checks ---- */

static void warn(struct analyze_warnings *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct analyze_warnings *w, const char *fmt, ...)
{
    if (w->n >= ANALYZE_MAX_WARNINGS)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->msg[w->n++], sizeof w->msg[0], fmt, ap);
    va_end(ap);
}

static enum ss_status read_tokens(const char *path, struct rf_array *a, int *present, struct ss_error *err)
{
    struct runfile *rf;
    memset(a, 0, sizeof *a);
    *present = 0;
    enum ss_status s = runfile_open(&rf, path, err);
    if (s)
        return s;
    if (runfile_has(rf, rf_path(RF_TOKENS))) {
        *present = 1;
        s = runfile_read(rf, rf_path(RF_TOKENS), a, err);
    }
    runfile_close(rf);
    return s;
}

enum ss_status analyze_compare_check(struct analyze_run *runs, int n, struct analyze_warnings *w,
                                     struct ss_error *err)
{
    memset(w, 0, sizeof *w);
    const struct analyze_run *a = &runs[0];
    struct rf_array ta;
    int has_a;
    enum ss_status s = read_tokens(a->path, &ta, &has_a, err);
    if (s)
        return s;
    for (int i = 1; i < n; i++) {
        const struct analyze_run *b = &runs[i];
#define SETTING_INT(f)                                                                              \
    if (a->f != b->f)                                                                               \
        warn(w, "settings differ: %s has " #f " %d, %s has %d", b->path, b->f, a->path, a->f);
#define SETTING_STR(f)                                                                              \
    if (strcmp(a->f, b->f))                                                                         \
        warn(w, "settings differ: %s has " #f " '%s', %s has '%s'", b->path, b->f, a->path, a->f);
        SETTING_INT(context_length)
        SETTING_INT(n_seqs)
        SETTING_STR(bos)
        SETTING_STR(gate_mode)
        SETTING_STR(interventions)
        SETTING_INT(n_layers)
        SETTING_INT(n_heads)
        if (a->sink_epsilon != b->sink_epsilon)
            warn(w, "settings differ: %s has sink_epsilon %g, %s has %g", b->path, b->sink_epsilon, a->path,
                 a->sink_epsilon);
#undef SETTING_INT
#undef SETTING_STR
        struct rf_array tb;
        int has_b;
        if ((s = read_tokens(b->path, &tb, &has_b, err))) {
            rf_array_free(&ta);
            return s;
        }
        if (!has_a || !has_b) {
            warn(w, "cannot check that the runs saw the same tokens: %s has no /tokens", has_a ? b->path : a->path);
        } else if (ta.ndim != 2 || tb.ndim != 2 || ta.shape[0] != tb.shape[0] || ta.shape[1] != tb.shape[1]) {
            warn(w, "runs saw different tokens: %s has %lld x %lld tokens, %s has %lld x %lld", b->path,
                 (long long)tb.shape[0], (long long)(tb.ndim > 1 ? tb.shape[1] : 1), a->path, (long long)ta.shape[0],
                 (long long)(ta.ndim > 1 ? ta.shape[1] : 1));
        } else {
            size_t diff = 0, first = 0;
            for (size_t k = 0; k < ta.n; k++)
                if (ta.data[k] != tb.data[k] && diff++ == 0)
                    first = k;
            if (diff)
                warn(w, "runs saw different tokens: %s differs from %s at %zu of %zu positions (first at seq %lld, pos %lld)",
                     b->path, a->path, diff, ta.n, (long long)(first / ta.shape[1]), (long long)(first % ta.shape[1]));
        }
        rf_array_free(&tb);
    }
    rf_array_free(&ta);
    return SS_OK;
}

/* ---- tables ---- */

/* metric | run 1 .. run n | run i / run 1 | run i - run 1 */
static void overall_table(struct table *t, const struct analyze_run *runs, int n)
{
    table_init(t, "overall");
    char h[600];
    table_col(t, "metric", "metric", CELL_KIND_TEXT);
    for (int i = 0; i < n; i++)
        table_col(t, runs[i].label, runs[i].label, CELL_KIND_PROB);
    for (int i = 1; i < n; i++) {
        snprintf(h, sizeof h, "%s/%s", runs[i].label, runs[0].label);
        table_col(t, h, h, CELL_KIND_RATIO);
    }
    for (int i = 1; i < n; i++) {
        snprintf(h, sizeof h, "%s-%s", runs[i].label, runs[0].label);
        table_col(t, h, h, CELL_KIND_DIFF_PROB);
    }
    for (int m = 0; m < N_OVERALL; m++) {
        const struct metric *mt = &overall[m];
        if (!shown(mt, runs, n))
            continue;
        int row = table_row(t), c = 0;
        table_text(t, row, c++, mt->head);
        double a = mt->run(&runs[0]);
        for (int i = 0; i < n; i++)
            table_num_kind(t, row, c++, mt->run(&runs[i]), mt->kind);
        for (int i = 1; i < n; i++)
            table_num(t, row, c++, ratio(mt->run(&runs[i]), a));
        for (int i = 1; i < n; i++)
            table_num_kind(t, row, c++, mt->run(&runs[i]) - a, mt->dkind);
    }
}

static int max_layers(const struct analyze_run *runs, int n)
{
    int L = 0;
    for (int i = 0; i < n; i++)
        if (runs[i].n_layers > L)
            L = runs[i].n_layers;
    return L;
}

static void layer_table(struct table *t, const struct metric *mt, const struct analyze_run *runs, int n)
{
    char h[600];
    snprintf(h, sizeof h, "per layer: %s", mt->head);
    table_init(t, h);
    table_col(t, "layer", "layer", CELL_KIND_INT);
    for (int i = 0; i < n; i++)
        table_col(t, runs[i].label, runs[i].label, mt->kind);
    for (int i = 1; i < n; i++) {
        snprintf(h, sizeof h, "%s/%s", runs[i].label, runs[0].label);
        table_col(t, h, h, CELL_KIND_RATIO);
    }
    for (int i = 1; i < n; i++) {
        snprintf(h, sizeof h, "%s-%s", runs[i].label, runs[0].label);
        table_col(t, h, h, mt->dkind);
    }
    int L = max_layers(runs, n);
    for (int l = 0; l < L; l++) {
        int row = table_row(t), c = 0;
        table_num(t, row, c++, l);
        double a = lval(mt, &runs[0], l);
        for (int i = 0; i < n; i++)
            table_num(t, row, c++, lval(mt, &runs[i], l));
        for (int i = 1; i < n; i++)
            table_num(t, row, c++, ratio(lval(mt, &runs[i], l), a));
        for (int i = 1; i < n; i++)
            table_num(t, row, c++, lval(mt, &runs[i], l) - a);
    }
}

static int any_gated(const struct analyze_run *runs, int n)
{
    for (int i = 0; i < n; i++)
        if (runs[i].gated)
            return 1;
    return 0;
}

/* csv: one row per (scope, layer, metric, run) */
/* One row of the long CSV: value b of run r against a of the reference run ref. */
static int csv_row(struct table *t, const char *scope, const char *key, const struct analyze_run *r,
                   const struct analyze_run *ref, double b, double a)
{
    int row = table_row(t);
    table_text(t, row, 0, scope);
    table_text(t, row, 2, key);
    table_text(t, row, 3, r->label);
    table_num(t, row, 4, b);
    table_num(t, row, 5, ratio(b, a));
    table_num(t, row, 6, b - a);
    table_text(t, row, 7, ref->label);
    return row;
}

static void csv_long(FILE *out, const struct analyze_run *runs, int n)
{
    struct table t;
    table_init(&t, "");
    table_col(&t, "scope", "scope", CELL_KIND_TEXT);
    table_col(&t, "layer", "layer", CELL_KIND_INT);
    table_col(&t, "metric", "metric", CELL_KIND_TEXT);
    table_col(&t, "run", "run", CELL_KIND_TEXT);
    table_col(&t, "value", "value", CELL_KIND_PROB);
    table_col(&t, "ratio", "ratio", CELL_KIND_RATIO);
    table_col(&t, "diff", "diff", CELL_KIND_PROB);
    table_col(&t, "reference", "reference", CELL_KIND_TEXT);
    for (int m = 0; m < N_OVERALL; m++)
        for (int i = 0; i < n && shown(&overall[m], runs, n); i++)
            csv_row(&t, "run", overall[m].key, &runs[i], &runs[0], overall[m].run(&runs[i]), overall[m].run(&runs[0]));
    int L = max_layers(runs, n), gated = any_gated(runs, n);
    for (int l = 0; l < L; l++)
        for (int m = 0; m < N_LAYER; m++) {
            if ((per_layer[m].layer == l_gate && !gated) || !shown(&per_layer[m], runs, n))
                continue;
            for (int i = 0; i < n; i++) {
                int row = csv_row(&t, "layer", per_layer[m].key, &runs[i], &runs[0], lval(&per_layer[m], &runs[i], l),
                                  lval(&per_layer[m], &runs[0], l));
                table_num(&t, row, 1, l);
            }
        }
    const struct table *ts[1] = {&t};
    const char *sc[1] = {NULL};
    table_csv(out, ts, sc, 1);
    table_free(&t);
}

static json_t *metrics_json(const struct analyze_run *a, const struct analyze_run *b, int l, int want_ratio)
{
    json_t *o = json_object();
    const struct analyze_run pair[2] = {*a, *b};
    if (l < 0) {
        for (int m = 0; m < N_OVERALL; m++) {
            if (!shown(&overall[m], pair, 2))
                continue;
            double va = overall[m].run(a), vb = overall[m].run(b);
            json_object_set_new(o, overall[m].key, json_num(want_ratio ? ratio(vb, va) : vb - va));
        }
    } else {
        for (int m = 0; m < N_LAYER; m++) {
            if (!shown(&per_layer[m], pair, 2))
                continue;
            double va = lval(&per_layer[m], a, l), vb = lval(&per_layer[m], b, l);
            json_object_set_new(o, per_layer[m].key, json_num(want_ratio ? ratio(vb, va) : vb - va));
        }
    }
    return o;
}

static json_t *compare_json(const struct analyze_run *runs, int n, const struct analyze_warnings *w)
{
    json_t *o = json_object();
    json_object_set_new(o, "reference", json_string(runs[0].label));
    json_t *rs = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(rs, analyze_run_json(&runs[i], 0));
    json_object_set_new(o, "runs", rs);
    json_t *ds = json_array();
    int L = max_layers(runs, n);
    for (int i = 1; i < n; i++) {
        json_t *d = json_object();
        json_object_set_new(d, "label", json_string(runs[i].label));
        json_object_set_new(d, "reference", json_string(runs[0].label));
        json_object_set_new(d, "ratio", metrics_json(&runs[0], &runs[i], -1, 1));
        json_object_set_new(d, "diff", metrics_json(&runs[0], &runs[i], -1, 0));
        json_t *ls = json_array();
        for (int l = 0; l < L; l++) {
            json_t *lo = json_object();
            json_object_set_new(lo, "layer", json_integer(l));
            json_object_set_new(lo, "ratio", metrics_json(&runs[0], &runs[i], l, 1));
            json_object_set_new(lo, "diff", metrics_json(&runs[0], &runs[i], l, 0));
            json_array_append_new(ls, lo);
        }
        json_object_set_new(d, "layers", ls);
        json_array_append_new(ds, d);
    }
    json_object_set_new(o, "differences", ds);
    json_t *ws = json_array();
    for (int i = 0; w && i < w->n; i++)
        json_array_append_new(ws, json_string(w->msg[i]));
    json_object_set_new(o, "warnings", ws);
    return o;
}

enum ss_status analyze_compare(FILE *out, const struct analyze_run *runs, int n,
                               const struct analyze_warnings *w, enum analyze_format f,
                               struct ss_error *err)
{
    if (n < 1)
        return ss_fail(err, SS_ERR_INPUT, "compare: no runs");
    if (f == ANALYZE_FORMAT_JSON)
        return analyze_json_emit(out, compare_json(runs, n, w), err);
    if (f == ANALYZE_FORMAT_CSV) {
        csv_long(out, runs, n);
    } else {
        if (f == ANALYZE_FORMAT_TEXT)
            for (int i = 0; i < n; i++)
                fprintf(out, "%s: %s (%s), gate %s (%s), %d layers x %d heads, %d x %d tokens\n", runs[i].label,
                        runs[i].model_type[0] ? runs[i].model_type : "?", runs[i].path,
                        runs[i].gate_kind[0] ? runs[i].gate_kind : "?", runs[i].gate_mode[0] ? runs[i].gate_mode : "?",
                        runs[i].n_layers, runs[i].n_heads, runs[i].n_seqs, runs[i].context_length);
        for (int i = 0; f == ANALYZE_FORMAT_TEXT && i < n; i++)
            if (runs[i].interventions[0])
                fprintf(out, "%s: interventions %s\n", runs[i].label, runs[i].interventions);
        if (f == ANALYZE_FORMAT_TEXT)
            fputc('\n', out);
        struct table ts[1 + N_LAYER];
        const struct table *tp[1 + N_LAYER];
        const char *sc[1 + N_LAYER] = {0};
        int nt = 0;
        overall_table(&ts[nt], runs, n);
        tp[nt] = &ts[nt];
        nt++;
        for (int m = 0; m < N_LAYER; m++) {
            if ((per_layer[m].layer == l_gate && !any_gated(runs, n)) || !shown(&per_layer[m], runs, n))
                continue;
            layer_table(&ts[nt], &per_layer[m], runs, n);
            tp[nt] = &ts[nt];
            nt++;
        }
        analyze_print_tables(out, tp, sc, nt, f);
        for (int i = 0; i < nt; i++)
            table_free(&ts[i]);
    }
    if (ferror(out))
        return ss_fail(err, SS_ERR_IO, "cannot write the output");
    return SS_OK;
}
