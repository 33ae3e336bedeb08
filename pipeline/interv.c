/* pipeline/interv.c — the intervention options of a run (--rope-scaling,
 * --mask-keys, --window, --sink-tokens, --ablate, --gate constant=mean) turned
 * into forward options (model/model.h, model/intervene.h), their first pass and
 * the run-file attributes that record them. */
#include "interv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../model/model.h"

/* "0,1,2,3" into keys (malloc'd); -1 when malformed. */
static int parse_keys(const char *s, int **keys)
{
    int n = 1;
    for (const char *p = s; *p; p++)
        n += *p == ',';
    *keys = malloc(n * sizeof **keys);
    if (!*keys)
        return -1;
    const char *p = s;
    for (int i = 0; i < n; i++) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > 1 << 30 || (*end && *end != ','))
            return -1;
        (*keys)[i] = (int)v;
        p = end + 1;
    }
    return n;
}

enum ss_status run_interv_parse(struct run_interv *ri, const struct pipeline_opts *a, const struct model_config *cfg,
                                struct ss_error *err)
{
    memset(ri, 0, sizeof *ri);
    char why[256];
    if (a->rope_scaling) {
        if (rope_scaling_parse(&ri->rope, &cfg->rope, cfg->max_pos, a->rope_scaling, why, sizeof why))
            return ss_fail(err, SS_ERR_INPUT, "--rope-scaling: %s", why);
        ri->has_rope = 1;
    }
    if (a->mask_keys && (ri->n_keys = parse_keys(a->mask_keys, &ri->keys)) < 0)
        return ss_fail(err, SS_ERR_INPUT, "--mask-keys: '%s' is not a list of key positions like 0,1,2,3",
                       a->mask_keys);
    ri->mask.window = a->window;
    ri->mask.sink_tokens = a->sink_tokens > 0 ? a->sink_tokens : 0;
    ri->mask.masked_keys = ri->keys;
    ri->mask.n_masked_keys = ri->n_keys > 0 ? ri->n_keys : 0;
    if (a->sink_tokens >= 0 && attn_mask_window(&ri->mask, cfg) <= 0)
        return ss_fail(err, SS_ERR_INPUT, "--sink-tokens needs a window (--window W; %s has none)", a->model_dir);
    if (a->ablate && intervention_parse_ablate(&ri->iv, a->ablate))
        return ss_fail(err, SS_ERR_INPUT, "--ablate: '%s' is not massive=zero or massive=mean, optionally @LAYER",
                       a->ablate);
    ri->iv.gate_mean = a->gate && !strcmp(a->gate, "constant=mean");
    return SS_OK;
}

enum ss_status run_interv_apply(struct run_interv *ri, const struct model *m, struct run_state *rs,
                                const struct run_seqs *seqs, struct forward_opts *fo, struct ss_error *err)
{
    enum ss_status s = attn_mask_check(&ri->mask, seqs->T, err);
    if (s)
        return s;
    fo->mask = ri->mask;
    fo->rope = ri->has_rope ? &ri->rope : NULL;
    return intervention_prepare(&ri->iv, m, rs, seqs->tok, seqs->n, seqs->T, fo, err);
}

void run_interv_free(struct run_interv *ri)
{
    intervention_free(&ri->iv);
    free(ri->keys);
    ri->keys = NULL;
}

void run_interv_meta(const struct run_interv *ri, const struct pipeline_opts *a, const struct model_config *cfg,
                     struct probes_interventions *pi)
{
    memset(pi, 0, sizeof *pi);
    rope_config_describe(ri->has_rope ? &ri->rope : &cfg->rope, cfg->max_pos, pi->rope, sizeof pi->rope);
    pi->rope_replaced = ri->has_rope;
    pi->window = attn_mask_window(&ri->mask, cfg);
    pi->sink_tokens = ri->mask.sink_tokens;
    snprintf(pi->mask_keys, sizeof pi->mask_keys, "%s", a->mask_keys ? a->mask_keys : "");
    snprintf(pi->ablate, sizeof pi->ablate, "%s", a->ablate ? a->ablate : "");
    pi->ablate_layer = ri->iv.ablate ? ri->iv.ablate_layer : -1;
    pi->ablated_entries = ri->iv.ablate ? ri->iv.ab.n_ablated : 0;
    size_t o = 0;
    for (int l = 0; ri->iv.gate_mean && ri->iv.gate_values && l < cfg->n_layers && o < sizeof pi->gate_values - 16; l++)
        o += snprintf(pi->gate_values + o, sizeof pi->gate_values - o, "%s%.6g", l ? "," : "", ri->iv.gate_values[l]);
    /* one line naming every intervention in force ("" = the checkpoint as trained) */
    o = 0;
    char *d = pi->summary;
    size_t n = sizeof pi->summary;
#define ADD(...) o += (size_t)snprintf(d + o, o < n ? n - o : 0, __VA_ARGS__)
    if (ri->has_rope)
        ADD("%srope=%s", o ? " " : "", pi->rope);
    if (a->window)
        ADD("%swindow=%d", o ? " " : "", a->window);
    if (pi->sink_tokens)
        ADD("%ssink_tokens=%d", o ? " " : "", pi->sink_tokens);
    if (a->mask_keys)
        ADD("%smask_keys=%s", o ? " " : "", a->mask_keys);
    if (a->ablate) {
        const struct massive_scan *sc = &ri->iv.scan;
        if (pi->ablate_layer >= 0)
            ADD("%sablate=%s@%d(%.0f entries)", o ? " " : "", ri->iv.ablate == 1 ? "zero" : "mean", pi->ablate_layer,
                pi->ablated_entries);
        else if (sc->top_ratio_layer >= 0)
            ADD("%sablate=%s(none met the criterion; largest max/median |x| %.0f, layer %d)", o ? " " : "",
                ri->iv.ablate == 1 ? "zero" : "mean", sc->top_ratio, sc->top_ratio_layer);
        else
            ADD("%sablate=%s(none met the criterion; no |x| >= %g)", o ? " " : "", ri->iv.ablate == 1 ? "zero" : "mean",
                sc->abs_min);
    }
    if (ri->iv.gate_mean)
        ADD("%sgate=constant=mean", o ? " " : "");
#undef ADD
    if (o >= n)
        d[n - 1] = 0;
}
