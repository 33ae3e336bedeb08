/* probes/stat_gates.c — gate statistics of gated checkpoints (docs/SCHEMA.md, Gates 4):
 * mean, std, min, max per (layer, head), the density on [0, 1], fractions below thresholds,
 * position 0 against the rest, by position; the mean gate of the run for /summary. From the
 * gate values actually applied (after --gate). */
#include <math.h>
#include <string.h>

#include "stat.h"

/* The same fields in a sequence's accumulator and in the run totals (sums, min, max). */
struct gate_acc {
    double *sum, *sumsq, *min, *max; /* [L,H] */
    double *hist;              /* [L,B] counts */
    double *below;             /* [L,3] counts below probes_gate_thresholds */
    double *pos0;              /* [L] sum at position 0 */
    double *rest;              /* [L] sum at positions >= 1 */
    double *by_pos;            /* [L,T] sum over heads and gate dims */
    double *seen;              /* [L] (sequence only) */
};

static size_t layout(const struct probes_shape *c, double *base, struct gate_acc *v, int with_seen)
{
    size_t L = c->n_layers, H = c->n_heads, T = c->T, o = 0;
    STAT_FIELD(v, sum, base, o, L * H);
    STAT_FIELD(v, sumsq, base, o, L * H);
    STAT_FIELD(v, min, base, o, L * H);
    STAT_FIELD(v, max, base, o, L * H);
    STAT_FIELD(v, hist, base, o, L * PROBES_GATE_BINS);
    STAT_FIELD(v, below, base, o, L * PROBES_GATE_THRESHOLDS);
    STAT_FIELD(v, pos0, base, o, L);
    STAT_FIELD(v, rest, base, o, L);
    STAT_FIELD(v, by_pos, base, o, L * T);
    if (with_seen)
        STAT_FIELD(v, seen, base, o, L);
    return o;
}

static size_t seq_size(const struct probes_shape *c)
{
    struct gate_acc v;
    return layout(c, NULL, &v, 1);
}

static size_t run_size(const struct probes_shape *c)
{
    struct gate_acc v;
    return layout(c, NULL, &v, 0);
}

/* Sums 0, min +inf, max -inf. */
static void reset(double *buf, const struct probes_shape *c, int with_seen)
{
    struct gate_acc v;
    memset(buf, 0, layout(c, NULL, &v, with_seen) * sizeof *buf);
    layout(c, buf, &v, with_seen);
    for (size_t i = 0; i < (size_t)c->n_layers * c->n_heads; i++) {
        v.min[i] = INFINITY;
        v.max[i] = -INFINITY;
    }
}

static void seq_reset(double *acc, const struct probes_shape *c) { reset(acc, c, 1); }
static void run_init(double *tot, const struct probes_shape *c) { reset(tot, c, 0); }

/* gate values [T, H, G] of layer l. */
static void gate_values(const struct probes_shape *c, struct gate_acc *s, int l, const float *g)
{
    int H = c->n_heads, G = c->gate_dim, B = PROBES_GATE_BINS;
    double *hist = s->hist + (size_t)l * B, *below = s->below + (size_t)l * PROBES_GATE_THRESHOLDS;
    for (int t = 0; t < c->T; t++) {
        double pos_sum = 0;
        for (int h = 0; h < H; h++) {
            size_t lh = (size_t)l * H + h;
            const float *x = g + ((size_t)t * H + h) * G;
            double sum = 0, sq = 0, mn = s->min[lh], mx = s->max[lh];
            for (int d = 0; d < G; d++) {
                double v = x[d];
                sum += v;
                sq += v * v;
                mn = v < mn ? v : mn;
                mx = v > mx ? v : mx;
                int bin = !(v > 0) ? 0 : v >= 1 ? B - 1 : (int)(v * B);
                hist[bin] += 1;
                for (int k = 0; k < PROBES_GATE_THRESHOLDS; k++)
                    below[k] += v < probes_gate_thresholds[k];
            }
            s->sum[lh] += sum;
            s->sumsq[lh] += sq;
            s->min[lh] = mn;
            s->max[lh] = mx;
            pos_sum += sum;
        }
        s->by_pos[(size_t)l * c->T + t] += pos_sum;
        if (t == 0)
            s->pos0[l] += pos_sum;
        else
            s->rest[l] += pos_sum;
    }
    s->seen[l] = 1;
}

static enum ss_status event(const struct stat_seq *q, double *acc, const struct hook_event *ev,
                            struct ss_error *err)
{
    const struct probes_shape *c = q->shape;
    if (!stat_shape_is(ev, 3, c->T, c->n_heads, c->gate_dim))
        return stat_bad_shape(ev, err);
    struct gate_acc s;
    layout(c, acc, &s, 1);
    gate_values(c, &s, ev->layer, ev->data);
    return SS_OK;
}

static enum ss_status check(const double *acc, const struct probes_shape *c, struct ss_error *err)
{
    struct gate_acc s;
    layout(c, (double *)acc, &s, 1);
    for (int l = 0; l < c->n_layers; l++)
        if (!s.seen[l])
            return ss_fail(err, SS_ERR_INTERNAL, "probes: no gate event for layer %d", l);
    return SS_OK;
}

static void fold(double *tot, const double *acc, const struct stat_fold *f)
{
    const struct probes_shape *c = f->shape;
    size_t L = c->n_layers, LH = L * c->n_heads;
    struct gate_acc s, r;
    layout(c, (double *)acc, &s, 1);
    layout(c, tot, &r, 0);
    for (size_t lh = 0; lh < LH; lh++) {
        r.min[lh] = s.min[lh] < r.min[lh] ? s.min[lh] : r.min[lh];
        r.max[lh] = s.max[lh] > r.max[lh] ? s.max[lh] : r.max[lh];
    }
    stat_add(r.sum, s.sum, LH);
    stat_add(r.sumsq, s.sumsq, LH);
    stat_add(r.hist, s.hist, L * PROBES_GATE_BINS);
    stat_add(r.below, s.below, L * PROBES_GATE_THRESHOLDS);
    stat_add(r.pos0, s.pos0, L);
    stat_add(r.rest, s.rest, L);
    stat_add(r.by_pos, s.by_pos, L * c->T);
}

static void results(struct stat_results *b, const double *tot, const struct probes_shape *c, int n_seqs)
{
    int L = c->n_layers, H = c->n_heads, T = c->T, G = c->gate_dim, B = PROBES_GATE_BINS, NT = PROBES_GATE_THRESHOLDS;
    double S = n_seqs, per_head = S * T * G, per_layer = per_head * H;
    struct gate_acc r;
    layout(c, (double *)tot, &r, 0);
    double *mean = stat_push(b, RF_GATE_MEAN, L, H, 0, 0);
    double *std = stat_push(b, RF_GATE_STD, L, H, 0, 0);
    double *mn = stat_push(b, RF_GATE_MIN, L, H, 0, 0);
    double *mx = stat_push(b, RF_GATE_MAX, L, H, 0, 0);
    double *hist = stat_push(b, RF_GATE_HIST, L, B, 0, 0);
    double *pooled = stat_push(b, RF_GATE_HIST_POOLED, B, 0, 0, 0);
    double *below = stat_push(b, RF_GATE_FRAC_BELOW, L, NT, 0, 0);
    double *pos0 = stat_push(b, RF_GATE_MEAN_POS0, L, 0, 0, 0);
    double *rest = stat_push(b, RF_GATE_MEAN_REST, L, 0, 0, 0);
    double *bypos = stat_push(b, RF_GATE_MEAN_BY_POS, L, T, 0, 0);
    if (!bypos)
        return;
    for (int l = 0; l < L; l++) {
        for (int h = 0; h < H; h++) {
            size_t lh = (size_t)l * H + h;
            double m = r.sum[lh] / per_head, var = r.sumsq[lh] / per_head - m * m;
            mean[lh] = m;
            std[lh] = sqrt(var > 0 ? var : 0);
            mn[lh] = r.min[lh];
            mx[lh] = r.max[lh];
        }
        for (int k = 0; k < B; k++) {
            hist[l * B + k] = r.hist[l * B + k] * B / per_layer;
            pooled[k] += r.hist[l * B + k] * B / (per_layer * L);
        }
        for (int k = 0; k < NT; k++)
            below[l * NT + k] = r.below[l * NT + k] / per_layer;
        pos0[l] = r.pos0[l] / (S * H * G);
        rest[l] = T > 1 ? r.rest[l] / (S * (T - 1) * H * G) : NAN;
        for (int t = 0; t < T; t++)
            bypos[(size_t)l * T + t] = r.by_pos[(size_t)l * T + t] / (S * H * G);
    }
}

/* The mean gate value over all layers, tokens, heads and gate dims. */
static void summary(struct stat_results *b, const double *tot, const struct probes_shape *c, int n_seqs)
{
    struct gate_acc r;
    layout(c, (double *)tot, &r, 0);
    double *gm = stat_push(b, RF_SUMMARY_GATE_MEAN, 0, 0, 0, 0);
    if (!gm)
        return;
    double g = 0;
    for (size_t i = 0; i < (size_t)c->n_layers * c->n_heads; i++)
        g += r.sum[i];
    *gm = g / ((double)n_seqs * c->T * c->n_layers * c->n_heads * c->gate_dim);
}

const struct stat_module stat_gates = {
    .name = "gates",
    .points = STAT_POINT(HOOK_GATE),
    .gated_only = 1,
    .seq_size = seq_size,
    .seq_reset = seq_reset,
    .event = event,
    .check = check,
    .run_size = run_size,
    .run_init = run_init,
    .fold = fold,
    .results = results,
    .summary = summary,
};
