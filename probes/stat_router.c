/* probes/stat_router.c — routing statistics of mixture-of-experts checkpoints (docs/SCHEMA.md,
 * Routing): per layer and expert the load (share of the layer's routed token slots), at
 * position 0 and over positions >= 1 (does the sink token have its own expert?), the mean
 * router weight of the tokens that chose the expert; per layer the router entropy. From
 * router_probs (softmax over all experts) and router_weights (the k chosen experts' weights,
 * 0 elsewhere), which fire in the MoE layers only; dense layers of the model are NaN rows. */
#include <math.h>
#include <string.h>

#include "stat.h"

/* The same fields in a sequence's accumulator and in the run totals (plain sums). */
struct router_acc {
    double *slots0;            /* [L,E] times the expert was chosen at position 0 */
    double *slots_rest;        /* [L,E] times it was chosen at positions >= 1 */
    double *weight;            /* [L,E] sum of its router weight over the tokens that chose it */
    double *entropy;           /* [L] sum over tokens of -sum_e p ln p of router_probs */
    double *seen;              /* [L] (sequence only) bit 0: router_probs fired, bit 1: router_weights */
};

static size_t layout(const struct probes_shape *c, double *base, struct router_acc *v, int with_seen)
{
    size_t L = c->n_layers, E = c->n_experts, o = 0;
    STAT_FIELD(v, slots0, base, o, L * E);
    STAT_FIELD(v, slots_rest, base, o, L * E);
    STAT_FIELD(v, weight, base, o, L * E);
    STAT_FIELD(v, entropy, base, o, L);
    v->seen = NULL;
    if (with_seen)
        STAT_FIELD(v, seen, base, o, L);
    return o;
}

static size_t seq_size(const struct probes_shape *c)
{
    struct router_acc v;
    return layout(c, NULL, &v, 1);
}

static size_t run_size(const struct probes_shape *c)
{
    struct router_acc v;
    return layout(c, NULL, &v, 0);
}

/* router_probs [T, E] of layer l: the entropy of every token's distribution (0 ln 0 = 0). */
static void router_probs(const struct probes_shape *c, struct router_acc *s, int l, const float *p)
{
    int E = c->n_experts;
    double ent = 0;
    for (int t = 0; t < c->T; t++)
        for (int e = 0; e < E; e++) {
            double v = p[(size_t)t * E + e];
            ent -= v > 0 ? v * log(v) : 0;
        }
    s->entropy[l] += ent;
}

/* router_weights [T, E] of layer l: a non-zero weight is a chosen (token, expert) slot. */
static void router_weights(const struct probes_shape *c, struct router_acc *s, int l, const float *w)
{
    int E = c->n_experts;
    double *slots0 = s->slots0 + (size_t)l * E, *rest = s->slots_rest + (size_t)l * E;
    double *wsum = s->weight + (size_t)l * E;
    for (int t = 0; t < c->T; t++)
        for (int e = 0; e < E; e++) {
            double v = w[(size_t)t * E + e];
            if (v == 0)
                continue;
            *(t == 0 ? &slots0[e] : &rest[e]) += 1;
            wsum[e] += v;
        }
}

static enum ss_status event(const struct stat_seq *q, double *acc, const struct hook_event *ev,
                            struct ss_error *err)
{
    const struct probes_shape *c = q->shape;
    int l = ev->layer, probs = ev->point == HOOK_ROUTER_PROBS;
    if (!c->layer_moe[l])
        return ss_fail(err, SS_ERR_INTERNAL, "probes: %s event for layer %d, a dense layer", hook_point_name(ev->point),
                       l);
    if (!stat_shape_is(ev, 2, c->T, c->n_experts, 0))
        return stat_bad_shape(ev, err);
    struct router_acc s;
    layout(c, acc, &s, 1);
    if (probs)
        router_probs(c, &s, l, ev->data);
    else
        router_weights(c, &s, l, ev->data);
    s.seen[l] = (double)((int)s.seen[l] | (probs ? 1 : 2));
    return SS_OK;
}

static enum ss_status check(const double *acc, const struct probes_shape *c, struct ss_error *err)
{
    struct router_acc s;
    layout(c, (double *)acc, &s, 1);
    for (int l = 0; l < c->n_layers; l++)
        if (c->layer_moe[l] && s.seen[l] != 3)
            return ss_fail(err, SS_ERR_INTERNAL, "probes: no %s event for MoE layer %d",
                           (int)s.seen[l] & 1 ? "router_weights" : "router_probs", l);
    return SS_OK;
}

static void fold(double *tot, const double *acc, const struct stat_fold *f)
{
    const struct probes_shape *c = f->shape;
    size_t L = c->n_layers, LE = L * c->n_experts;
    struct router_acc s, r;
    layout(c, (double *)acc, &s, 1);
    layout(c, tot, &r, 0);
    stat_add(r.slots0, s.slots0, LE);
    stat_add(r.slots_rest, s.slots_rest, LE);
    stat_add(r.weight, s.weight, LE);
    stat_add(r.entropy, s.entropy, L);
}

/* out[e] = n[e] / sum_e n[e] (+ m[e] when m): shares of the layer's slots; NaN without slots. */
static void shares(double *out, const double *n, const double *m, int E)
{
    double total = 0;
    for (int e = 0; e < E; e++)
        total += n[e] + (m ? m[e] : 0);
    for (int e = 0; e < E; e++)
        out[e] = total > 0 ? (n[e] + (m ? m[e] : 0)) / total : NAN;
}

static void results(struct stat_results *b, const double *tot, const struct probes_shape *c, int n_seqs)
{
    int L = c->n_layers, E = c->n_experts;
    struct router_acc r;
    layout(c, (double *)tot, &r, 0);
    double *moe = stat_push(b, RF_MOE_LAYER, L, 0, 0, 0);
    double *load = stat_push(b, RF_EXPERT_LOAD, L, E, 0, 0);
    double *load0 = stat_push(b, RF_EXPERT_LOAD_POS0, L, E, 0, 0);
    double *rest = stat_push(b, RF_EXPERT_LOAD_REST, L, E, 0, 0);
    double *wmean = stat_push(b, RF_EXPERT_WEIGHT_MEAN, L, E, 0, 0);
    double *ent = stat_push(b, RF_ROUTER_ENTROPY, L, 0, 0, 0);
    double *entn = stat_push(b, RF_ROUTER_ENTROPY_NORM, L, 0, 0, 0);
    if (!entn)
        return;
    for (int l = 0; l < L; l++) {
        size_t le = (size_t)l * E;
        moe[l] = c->layer_moe[l];
        if (!c->layer_moe[l]) { /* a dense layer: no router, nothing to share */
            for (int e = 0; e < E; e++)
                load[le + e] = load0[le + e] = rest[le + e] = wmean[le + e] = NAN;
            ent[l] = entn[l] = NAN;
            continue;
        }
        shares(load + le, r.slots0 + le, r.slots_rest + le, E);
        shares(load0 + le, r.slots0 + le, NULL, E);
        shares(rest + le, r.slots_rest + le, NULL, E);
        for (int e = 0; e < E; e++) {
            double chosen = r.slots0[le + e] + r.slots_rest[le + e];
            wmean[le + e] = chosen > 0 ? r.weight[le + e] / chosen : NAN;
        }
        ent[l] = r.entropy[l] / ((double)n_seqs * c->T);
        entn[l] = E > 1 ? ent[l] / log(E) : NAN;
    }
}

/* The normalised router entropy averaged over the MoE layers. */
static void summary(struct stat_results *b, const double *tot, const struct probes_shape *c, int n_seqs)
{
    const double *entn = stat_find(b, RF_ROUTER_ENTROPY_NORM);
    double *out = stat_push(b, RF_SUMMARY_ROUTER_ENTROPY_NORM, 0, 0, 0, 0);
    if (!out || !entn)
        return;
    double s = 0;
    int n = 0;
    for (int l = 0; l < c->n_layers; l++)
        if (c->layer_moe[l])
            s += entn[l], n++;
    *out = n ? s / n : NAN;
    (void)tot;
    (void)n_seqs;
}

const struct stat_module stat_router = {
    .name = "router",
    .points = STAT_POINT(HOOK_ROUTER_PROBS) | STAT_POINT(HOOK_ROUTER_WEIGHTS),
    .moe_only = 1,
    .seq_size = seq_size,
    .event = event,
    .check = check,
    .run_size = run_size,
    .fold = fold,
    .results = results,
    .summary = summary,
};
