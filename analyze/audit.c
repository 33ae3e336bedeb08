/* analyze/audit.c — `sinkscope audit`: check a run against limits (first-token
 * share per layer, sink rate, max activation per layer) and list the worst
 * (layer, head) and layers, so a training pipeline can gate on the exit status. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../common/index_list.h"
#include "analyze_int.h"

#define AUDIT_WORST 5

/* --layers through the one index-list grammar (common/index_list.h), as an ascending list. */
enum ss_status analyze_layers_parse(const char *spec, int n_layers, int **out, int *n, struct ss_error *err)
{
    *out = NULL;
    *n = 0;
    unsigned char *mark = malloc(n_layers > 0 ? n_layers : 1);
    int *sel = malloc(sizeof(int) * (n_layers > 0 ? n_layers : 1));
    int count = 0;
    enum ss_status s = mark && sel ? index_list_mask(spec, n_layers, "--layers", "layer", mark, &count, err)
                                   : ss_fail(err, SS_ERR_NOMEM, "out of memory");
    for (int l = 0; !s && l < n_layers; l++)
        if (mark[l])
            sel[(*n)++] = l;
    free(mark);
    if (s)
        free(sel);
    else
        *out = sel;
    return s;
}

struct check {
    const char *name;  /* option without dashes */
    const char *key;   /* json name of the limit */
    double limit, value;
    enum cell_kind kind;
    int exceeded;
    int nan;           /* a checked value is NaN: the audit fails (a comparison with NaN is false) */
    char where[256];   /* layers over the limit, or the layer of the value */
};

struct ranked {
    int layer, head;
    double v;
};

/* Worst first; NaN counts as the worst (and keeps the order total for qsort). */
static int by_value_desc(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    if (isnan(x->v) != isnan(y->v))
        return isnan(x->v) ? -1 : 1;
    if (!isnan(x->v) && x->v != y->v)
        return x->v < y->v ? 1 : -1;
    if (x->layer != y->layer)
        return x->layer - y->layer;
    return x->head - y->head;
}

static void append_layer(char *buf, size_t n, int l)
{
    size_t o = strlen(buf);
    if (o + 16 >= n) {
        if (o + 4 < n && strcmp(buf + o - 3, "..."))
            strcat(buf, "...");
        return;
    }
    snprintf(buf + o, n - o, "%s%d", o ? "," : "", l);
}

/* Checked layers (all when lim->layers is NULL) as a 0/1 mask. */
static char *layer_mask(const struct analyze_run *r, const struct analyze_limits *lim)
{
    char *m = calloc(r->n_layers, 1);
    if (!m)
        return NULL;
    for (int l = 0; l < r->n_layers; l++)
        m[l] = lim->layers == NULL;
    for (int i = 0; lim->layers && i < lim->n_layers; i++)
        if (lim->layers[i] >= 0 && lim->layers[i] < r->n_layers)
            m[lim->layers[i]] = 1;
    return m;
}

static double layer_act(const struct analyze_run *r, int l)
{
    return r->act_max[l * ANALYZE_STREAMS + ANALYZE_STREAM_RESID];
}

/* One checked value v (of layer l, or -1 for a run-wide value): NaN fails the check and
 * is named; otherwise over the limit fails it. The check's value is the max, NaN winning. */
static void check_value(struct check *c, double v, int l)
{
    if (isnan(v)) {
        if (!c->nan)
            c->where[0] = 0;
        c->nan = c->exceeded = 1;
        c->value = NAN;
        if (l >= 0)
            append_layer(c->where, sizeof c->where, l);
        return;
    }
    if (!isnan(c->value))
        c->value = fmax(c->value, v);
    if (v > c->limit) {
        c->exceeded = 1;
        if (l >= 0 && !c->nan)
            append_layer(c->where, sizeof c->where, l);
    }
}

static json_t *audit_json(const struct analyze_run *r, const char *mask, const struct check *ck, int nck,
                          int exceeded, const struct ranked *heads, int nh, const struct ranked *acts, int na,
                          int all_layers)
{
    json_t *o = json_object();
    json_object_set_new(o, "file", json_string(r->path));
    json_object_set_new(o, "pass", json_boolean(exceeded == 0));
    json_object_set_new(o, "exceeded", json_integer(exceeded));
    json_t *lc = json_array();
    for (int l = 0; l < r->n_layers; l++)
        if (mask[l])
            json_array_append_new(lc, json_integer(l));
    json_object_set_new(o, "layers_checked", lc);
    json_object_set_new(o, "all_layers", json_boolean(all_layers));
    json_t *lims = json_array();
    for (int i = 0; i < nck; i++) {
        const struct check *c = &ck[i];
        json_t *x = json_object();
        json_object_set_new(x, "name", json_string(c->key));
        json_object_set_new(x, "limit", json_num(c->limit));
        json_object_set_new(x, "value", json_num(c->value));
        json_object_set_new(x, "exceeded", json_boolean(c->exceeded));
        json_object_set_new(x, "nan", json_boolean(c->nan));
        json_array_append_new(lims, x);
    }
    json_object_set_new(o, "limits", lims);
    json_t *wh = json_array();
    for (int i = 0; i < nh; i++) {
        size_t k = (size_t)heads[i].layer * r->n_heads + heads[i].head;
        json_t *x = json_pack("{s:i,s:i,s:o,s:o}", "layer", heads[i].layer, "head", heads[i].head,
                              "first_token_share", json_num(r->fts[k]), "sink_alpha0", json_num(r->alpha0[k]));
        if (r->lsink_h)
            json_object_set_new(x, "learned_sink_share", json_num(r->lsink_h[k]));
        json_array_append_new(wh, x);
    }
    json_object_set_new(o, "worst_heads", wh);
    json_t *wa = json_array();
    for (int i = 0; i < na; i++) {
        const int *w = r->act_where + acts[i].layer * 3;
        json_t *x = json_pack("{s:i,s:o}", "layer", acts[i].layer, "max_activation", json_num(acts[i].v));
        json_object_set_new(x, "pos", w[0] >= 0 ? json_integer(w[1]) : json_null());
        json_object_set_new(x, "dim", w[0] >= 0 ? json_integer(w[2]) : json_null());
        json_array_append_new(wa, x);
    }
    json_object_set_new(o, "worst_activation_layers", wa);
    json_object_set_new(o, "first_token_share", json_num(r->first_token_share));
    json_object_set_new(o, "max_activation_mean", json_num(r->max_activation_mean));
    json_object_set_new(o, "max_activation", json_num(r->max_activation));
    json_object_set_new(o, "gate_mean", json_num(r->gate_mean));
    json_object_set_new(o, "perplexity", json_num(r->perplexity));
    json_object_set_new(o, "sink_rate", json_num(r->sink_rate));
    if (r->lsink_h)
        json_object_set_new(o, "learned_sink_share", json_num(r->learned_sink_share));
    if (r->moe_layer)
        json_object_set_new(o, "router_entropy_norm", json_num(r->router_entropy_norm));
    json_t *ls = json_array();
    for (int l = 0; l < r->n_layers; l++) {
        json_t *x = json_object();
        json_object_set_new(x, "layer", json_integer(l));
        json_object_set_new(x, "checked", json_boolean(mask[l]));
        json_object_set_new(x, "first_token_share", json_num(r->fts_layer[l]));
        json_object_set_new(x, "sink_alpha0", json_num(r->alpha0_layer[l]));
        json_object_set_new(x, "sink_heads", json_integer(r->sink_heads[l]));
        json_object_set_new(x, "max_activation", json_num(layer_act(r, l)));
        if (r->lsink_l)
            json_object_set_new(x, "learned_sink_share", json_num(r->lsink_l[l]));
        analyze_routing_json(x, r, l);
        json_array_append_new(ls, x);
    }
    json_object_set_new(o, "layers", ls);
    return o;
}

/* The limits asked for, each checked over the layers of mask; the number exceeded. */
static int audit_checks(const struct analyze_run *r, const struct analyze_limits *lim, const char *mask,
                        int nchecked, struct check ck[3], int *nck)
{
    int L = r->n_layers, H = r->n_heads, exceeded = 0;
    *nck = 0;
    if (!isnan(lim->max_first_token_share)) {
        struct check *c = &ck[(*nck)++];
        *c = (struct check){"max-first-token-share", "max_first_token_share", lim->max_first_token_share, -INFINITY,
                            CELL_KIND_PROB, 0, 0, ""};
        for (int l = 0; l < L; l++)
            if (mask[l])
                check_value(c, r->fts_layer[l], l);
    }
    if (!isnan(lim->max_sink_rate)) {
        struct check *c = &ck[(*nck)++];
        *c = (struct check){"max-sink-rate", "max_sink_rate", lim->max_sink_rate, -INFINITY, CELL_KIND_PROB, 0, 0, ""};
        double v = r->sink_rate;
        if (nchecked != L) {
            /* a subset: fraction of its (layer, head) whose alpha_0 (mean over sequences) > sink_epsilon */
            int s = 0;
            for (int l = 0; l < L; l++)
                if (mask[l])
                    s += r->sink_heads[l];
            v = (double)s / ((double)nchecked * H);
        }
        /* a count of heads over epsilon cannot see NaN: the alpha_0 it counts must be numbers */
        for (int l = 0; l < L; l++)
            for (int h = 0; mask[l] && h < H; h++)
                if (isnan(r->alpha0[(size_t)l * H + h])) {
                    check_value(c, NAN, l);
                    break;
                }
        check_value(c, v, -1);
    }
    if (!isnan(lim->max_activation)) {
        struct check *c = &ck[(*nck)++];
        *c = (struct check){"max-activation", "max_activation", lim->max_activation, -INFINITY, CELL_KIND_ACT, 0, 0, ""};
        for (int l = 0; l < L; l++)
            if (mask[l])
                check_value(c, layer_act(r, l), l);
    }
    for (int i = 0; i < *nck; i++)
        exceeded += ck[i].exceeded;
    return exceeded;
}

/* The checked layers' heads by first-token share and layers by max activation, worst
 * first, at most AUDIT_WORST of each. */
static void audit_rank(const struct analyze_run *r, const char *mask, struct ranked *heads, int *nh,
                       struct ranked *acts, int *na)
{
    int H = r->n_heads;
    *nh = *na = 0;
    for (int l = 0; l < r->n_layers; l++) {
        if (!mask[l])
            continue;
        for (int h = 0; h < H; h++)
            heads[(*nh)++] = (struct ranked){l, h, r->fts[(size_t)l * H + h]};
        acts[(*na)++] = (struct ranked){l, 0, layer_act(r, l)};
    }
    qsort(heads, *nh, sizeof *heads, by_value_desc);
    qsort(acts, *na, sizeof *acts, by_value_desc);
    *nh = *nh > AUDIT_WORST ? AUDIT_WORST : *nh;
    *na = *na > AUDIT_WORST ? AUDIT_WORST : *na;
}

static void limits_table(struct table *t, const struct check *ck, int nck)
{
    table_init(t, "limits");
    table_col(t, "limit", "limit", CELL_KIND_TEXT);
    table_col(t, "value", "value", CELL_KIND_PROB);
    table_col(t, "max", "max", CELL_KIND_PROB);
    table_col(t, "status", "status", CELL_KIND_TEXT);
    table_col(t, "layers", "layers over the limit", CELL_KIND_TEXT);
    for (int i = 0; i < nck; i++) {
        int row = table_row(t);
        char name[64];
        snprintf(name, sizeof name, "--%s", ck[i].name);
        table_text(t, row, 0, name);
        table_num_kind(t, row, 1, ck[i].value, ck[i].kind);
        table_num_kind(t, row, 2, ck[i].limit, ck[i].kind);
        table_text(t, row, 3, ck[i].nan ? "NaN" : ck[i].exceeded ? "EXCEEDED" : "ok");
        table_text(t, row, 4, ck[i].where[0] ? ck[i].where : "-");
    }
}

static void worst_heads_table(struct table *t, const struct analyze_run *r, const struct ranked *heads, int nh)
{
    table_init(t, "worst heads by first-token share");
    table_col(t, "layer", "layer", CELL_KIND_INT);
    table_col(t, "head", "head", CELL_KIND_INT);
    table_col(t, "first_token_share", "F-Attn", CELL_KIND_PROB);
    table_col(t, "sink_alpha0", "alpha_0", CELL_KIND_PROB);
    if (r->lsink_h) /* does a learned sink take what key 0 does not? */
        table_col(t, "learned_sink_share", "learned sink", CELL_KIND_PROB);
    for (int i = 0; i < nh; i++) {
        int row = table_row(t);
        size_t k = (size_t)heads[i].layer * r->n_heads + heads[i].head;
        table_num(t, row, 0, heads[i].layer);
        table_num(t, row, 1, heads[i].head);
        table_num(t, row, 2, r->fts[k]);
        table_num(t, row, 3, r->alpha0[k]);
        if (r->lsink_h)
            table_num(t, row, 4, r->lsink_h[k]);
    }
}

static void worst_acts_table(struct table *t, const struct analyze_run *r, const struct ranked *acts, int na)
{
    table_init(t, "worst layers by max activation (residual leaving the layer)");
    table_col(t, "layer", "layer", CELL_KIND_INT);
    table_col(t, "max_activation", "max |x|", CELL_KIND_ACT);
    table_col(t, "pos", "pos", CELL_KIND_INT);
    table_col(t, "dim", "dim", CELL_KIND_INT);
    for (int i = 0; i < na; i++) {
        int row = table_row(t);
        const int *w = r->act_where + acts[i].layer * 3;
        table_num(t, row, 0, acts[i].layer);
        table_num(t, row, 1, acts[i].v);
        table_num(t, row, 2, w[0] >= 0 ? w[1] : NAN);
        table_num(t, row, 3, w[0] >= 0 ? w[2] : NAN);
    }
}

/* The verdict lines (one per NaN check too) of a text or HTML audit. */
static void audit_verdict(FILE *out, const struct analyze_run *r, const char *mask, int nchecked,
                          const struct check *ck, int nck, int exceeded, enum analyze_format f)
{
    int L = r->n_layers, html = f == ANALYZE_FORMAT_HTML;
    char layers_desc[512] = "";
    if (nchecked == L)
        snprintf(layers_desc, sizeof layers_desc, "all %d", L);
    else
        for (int l = 0; l < L; l++)
            if (mask[l])
                append_layer(layers_desc, sizeof layers_desc, l);
    if (html) {
        fprintf(out, "<p class=\"verdict %s\">", exceeded ? "fail" : "pass");
        analyze_html_escape(out, r->label);
        fprintf(out, ": %s: %d of %d limits exceeded (layers checked: %s)</p>\n", exceeded ? "FAIL" : "PASS",
                exceeded, nck, layers_desc);
    } else {
        fprintf(out, "%s: %s: %d of %d limits exceeded (layers checked: %s)\n", r->path, exceeded ? "FAIL" : "PASS",
                exceeded, nck, layers_desc);
    }
    for (int i = 0; i < nck; i++)
        if (ck[i].nan)
            fprintf(out, "%s%s: FAIL: --%s: the checked statistic is NaN%s%s (NaN weights or activations? "
                    "an audit never passes on NaN)%s\n", html ? "<p class=\"verdict fail\">" : "",
                    html ? "" : r->path, ck[i].name, ck[i].where[0] ? " at layers " : "", ck[i].where,
                    html ? "</p>" : "");
    if (!html)
        fprintf(out, "\n");
}

enum ss_status analyze_audit(FILE *out, const struct analyze_run *r, const struct analyze_limits *lim,
                             enum analyze_format f, int *exceeded, struct ss_error *err)
{
    *exceeded = 0;
    int L = r->n_layers, H = r->n_heads;
    char *mask = layer_mask(r, lim);
    struct ranked *heads = malloc(sizeof *heads * (size_t)L * H), *acts = malloc(sizeof *acts * L);
    if (!mask || !heads || !acts) {
        free(mask), free(heads), free(acts);
        return ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", r->path);
    }
    int nchecked = 0, nck, nh, na;
    for (int l = 0; l < L; l++)
        nchecked += mask[l];
    struct check ck[3];
    *exceeded = audit_checks(r, lim, mask, nchecked, ck, &nck);
    audit_rank(r, mask, heads, &nh, acts, &na);

    enum ss_status s = SS_OK;
    if (f == ANALYZE_FORMAT_JSON) {
        s = analyze_json_emit(out, audit_json(r, mask, ck, nck, *exceeded, heads, nh, acts, na, nchecked == L), err);
    } else {
        audit_verdict(out, r, mask, nchecked, ck, nck, *exceeded, f);
        struct table t[4]; /* limits, worst heads, worst layers, and for MoE runs routing per layer */
        limits_table(&t[0], ck, nck);
        worst_heads_table(&t[1], r, heads, nh);
        worst_acts_table(&t[2], r, acts, na);
        int nt = 3;
        if (r->moe_layer)
            analyze_routing_table(&t[nt++], r);
        const struct table *ts[4] = {&t[0], &t[1], &t[2], &t[3]};
        const char *sc[4] = {0};
        analyze_print_tables(out, ts, sc, nt, f == ANALYZE_FORMAT_HTML ? f : ANALYZE_FORMAT_TEXT);
        for (int i = 0; i < nt; i++)
            table_free(&t[i]);
        if (ferror(out))
            s = ss_fail(err, SS_ERR_IO, "cannot write the output");
    }
    free(mask);
    free(heads);
    free(acts);
    return s;
}
