/* probes/stat_sink.c — the learned attention sink of gpt_oss-style checkpoints (docs/SCHEMA.md,
 * Learned sinks): per layer and head the softmax share taken by the head's sink logit, over
 * queries q >= 1 (to set beside first_token_share, which excludes query 0 too) and over all
 * queries; per layer; the run's mean for /summary. From the attn_sink point [T, H]. */
#include <math.h>
#include <string.h>

#include "stat.h"

struct sink_acc {              /* one sequence */
    double *rest;              /* [L,H] sum over q >= 1 of the sink share */
    double *q0;                /* [L,H] the share at query 0 */
    double *seen;              /* [L] */
};

struct sink_tot {              /* the run: sums over sequences of per-sequence means */
    double *share, *share0;    /* [L,H] over q >= 1, over all q */
};

static size_t acc_layout(const struct probes_shape *c, double *base, struct sink_acc *v)
{
    size_t L = c->n_layers, H = c->n_heads, o = 0;
    STAT_FIELD(v, rest, base, o, L * H);
    STAT_FIELD(v, q0, base, o, L * H);
    STAT_FIELD(v, seen, base, o, L);
    return o;
}

static size_t tot_layout(const struct probes_shape *c, double *base, struct sink_tot *v)
{
    size_t LH = (size_t)c->n_layers * c->n_heads, o = 0;
    STAT_FIELD(v, share, base, o, LH);
    STAT_FIELD(v, share0, base, o, LH);
    return o;
}

static size_t seq_size(const struct probes_shape *c)
{
    struct sink_acc v;
    return acc_layout(c, NULL, &v);
}

static size_t run_size(const struct probes_shape *c)
{
    struct sink_tot v;
    return tot_layout(c, NULL, &v);
}

static enum ss_status event(const struct stat_seq *q, double *acc, const struct hook_event *ev,
                            struct ss_error *err)
{
    const struct probes_shape *c = q->shape;
    int H = c->n_heads, l = ev->layer;
    if (!stat_shape_is(ev, 2, c->T, H, 0))
        return stat_bad_shape(ev, err);
    struct sink_acc s;
    acc_layout(c, acc, &s);
    const float *x = ev->data;
    for (int h = 0; h < H; h++) {
        double sum = 0;
        for (int t = 1; t < c->T; t++)
            sum += x[(size_t)t * H + h];
        s.rest[(size_t)l * H + h] += sum;
        s.q0[(size_t)l * H + h] += x[h];
    }
    s.seen[l] += 1;
    return SS_OK;
}

static enum ss_status check(const double *acc, const struct probes_shape *c, struct ss_error *err)
{
    struct sink_acc s;
    acc_layout(c, (double *)acc, &s);
    for (int l = 0; l < c->n_layers; l++)
        if (s.seen[l] != 1)
            return ss_fail(err, SS_ERR_INTERNAL, "probes: attn_sink fired %g times for layer %d, not once", s.seen[l],
                           l);
    return SS_OK;
}

static void fold(double *tot, const double *acc, const struct stat_fold *f)
{
    const struct probes_shape *c = f->shape;
    int T = c->T;
    struct sink_acc s;
    struct sink_tot r;
    acc_layout(c, (double *)acc, &s);
    tot_layout(c, tot, &r);
    for (size_t lh = 0; lh < (size_t)c->n_layers * c->n_heads; lh++) {
        r.share[lh] += T > 1 ? s.rest[lh] / (T - 1) : NAN;
        r.share0[lh] += (s.rest[lh] + s.q0[lh]) / T;
    }
}

static void results(struct stat_results *b, const double *tot, const struct probes_shape *c, int n_seqs)
{
    int L = c->n_layers, H = c->n_heads;
    struct sink_tot r;
    tot_layout(c, (double *)tot, &r);
    double *share = stat_push(b, RF_LEARNED_SINK_SHARE, L, H, 0, 0);
    double *share0 = stat_push(b, RF_LEARNED_SINK_SHARE_INCL0, L, H, 0, 0);
    double *layer = stat_push(b, RF_LEARNED_SINK_SHARE_LAYER, L, 0, 0, 0);
    if (!layer)
        return;
    for (int l = 0; l < L; l++) {
        double sum = 0;
        for (int h = 0; h < H; h++) {
            size_t lh = (size_t)l * H + h;
            share[lh] = r.share[lh] / n_seqs;
            share0[lh] = r.share0[lh] / n_seqs;
            sum += share[lh];
        }
        layer[l] = sum / H;
    }
}

/* The mean over layers and heads of learned_sink_share (queries q >= 1). */
static void summary(struct stat_results *b, const double *tot, const struct probes_shape *c, int n_seqs)
{
    const double *layer = stat_find(b, RF_LEARNED_SINK_SHARE_LAYER);
    double *out = stat_push(b, RF_SUMMARY_LEARNED_SINK_SHARE, 0, 0, 0, 0);
    if (!out || !layer)
        return;
    double s = 0;
    for (int l = 0; l < c->n_layers; l++)
        s += layer[l];
    *out = s / c->n_layers;
    (void)tot;
    (void)n_seqs;
}

const struct stat_module stat_sink = {
    .name = "sink",
    .points = STAT_POINT(HOOK_ATTN_SINK),
    .sinks_only = 1,
    .seq_size = seq_size,
    .event = event,
    .check = check,
    .run_size = run_size,
    .fold = fold,
    .results = results,
    .summary = summary,
};
