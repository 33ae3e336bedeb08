/* probes/stat_attn_output.c — the attention output before and after the gate (docs/SCHEMA.md,
 * Gates 5, the paper's Fig. 4 and 5): mean |Y| and the fractions of |Y| below thresholds, and
 * for gated checkpoints the Fig. 5 control: |Y| before the gate scaled by the layer's mean
 * gate of the sequence instead of by each entry's own gate. That mean comes from the layer's
 * gate event, which fires before attn_out (model/hooks.h). */
#include <math.h>
#include <string.h>

#include "stat.h"

#define NO PROBES_OUT_THRESHOLDS

struct out_acc {               /* one sequence */
    double *out_abssum;        /* [L] sum |Y| before the gate */
    double *out_below;         /* [L,NO] counts |Y| < probes_out_thresholds */
    double *gated_abssum;      /* [L] after the gate */
    double *gated_below;       /* [L,NO] */
    double *meangate_below;    /* [L,NO] counts |Y| * gbar < thresholds (gated runs) */
    double *out_seen, *gated_seen; /* [L] */
    double *gate_sum;          /* [L,H] sum of the gate values applied (for gbar) */
    double *gate_seen;         /* [L] */
};

struct out_tot {
    double *out_abssum, *out_below, *gated_abssum, *gated_below, *meangate_below;
};

static size_t acc_layout(const struct probes_shape *c, double *base, struct out_acc *v)
{
    size_t L = c->n_layers, o = 0;
    STAT_FIELD(v, out_abssum, base, o, L);
    STAT_FIELD(v, out_below, base, o, L * NO);
    STAT_FIELD(v, gated_abssum, base, o, L);
    STAT_FIELD(v, gated_below, base, o, L * NO);
    STAT_FIELD(v, meangate_below, base, o, L * NO);
    STAT_FIELD(v, out_seen, base, o, L);
    STAT_FIELD(v, gated_seen, base, o, L);
    STAT_FIELD(v, gate_sum, base, o, L * c->n_heads);
    STAT_FIELD(v, gate_seen, base, o, L);
    return o;
}

static size_t tot_layout(const struct probes_shape *c, double *base, struct out_tot *v)
{
    size_t L = c->n_layers, o = 0;
    STAT_FIELD(v, out_abssum, base, o, L);
    STAT_FIELD(v, out_below, base, o, L * NO);
    STAT_FIELD(v, gated_abssum, base, o, L);
    STAT_FIELD(v, gated_below, base, o, L * NO);
    STAT_FIELD(v, meangate_below, base, o, L * NO);
    return o;
}

static size_t seq_size(const struct probes_shape *c)
{
    struct out_acc v;
    return acc_layout(c, NULL, &v);
}

static size_t run_size(const struct probes_shape *c)
{
    struct out_tot v;
    return tot_layout(c, NULL, &v);
}

/* The layer's gate sums per head, in the order the gate statistics sum them (bit-equal gbar). */
static void gate_sums(const struct probes_shape *c, struct out_acc *s, int l, const float *g)
{
    int H = c->n_heads, G = c->gate_dim;
    for (int t = 0; t < c->T; t++)
        for (int h = 0; h < H; h++) {
            const float *x = g + ((size_t)t * H + h) * G;
            double sum = 0;
            for (int d = 0; d < G; d++)
                sum += (double)x[d];
            s->gate_sum[(size_t)l * H + h] += sum;
        }
    s->gate_seen[l] = 1;
}

/* gbar(l, s): mean gate of layer l over this sequence's positions, heads and gate dims. */
static double layer_gate_mean(const struct probes_shape *c, const struct out_acc *s, int l)
{
    double sum = 0;
    for (int h = 0; h < c->n_heads; h++)
        sum += s->gate_sum[(size_t)l * c->n_heads + h];
    return sum / ((double)c->T * c->n_heads * c->gate_dim);
}

/* attention output [T, H, D] of layer l before (gated = 0) or after the gate. */
static void attn_output(const struct probes_shape *c, struct out_acc *s, int l, int gated, const float *y)
{
    size_t n = (size_t)c->T * c->n_heads * c->head_dim;
    int control = !gated && c->gate_dim > 0;
    double gbar = control ? layer_gate_mean(c, s, l) : 0;
    double sum = 0, b0 = 0, b1 = 0, m0 = 0, m1 = 0;
    for (size_t i = 0; i < n; i++) {
        double a = fabsf(y[i]), ag = a * gbar;
        sum += a;
        b0 += a < probes_out_thresholds[0];
        b1 += a < probes_out_thresholds[1];
        m0 += ag < probes_out_thresholds[0];
        m1 += ag < probes_out_thresholds[1];
    }
    double *abssum = gated ? s->gated_abssum : s->out_abssum;
    double *below = (gated ? s->gated_below : s->out_below) + (size_t)l * NO;
    abssum[l] = sum;
    below[0] = b0;
    below[1] = b1;
    if (control) {
        s->meangate_below[(size_t)l * NO] = m0;
        s->meangate_below[(size_t)l * NO + 1] = m1;
    }
    (gated ? s->gated_seen : s->out_seen)[l] = 1;
}

static enum ss_status event(const struct stat_seq *q, double *acc, const struct hook_event *ev,
                            struct ss_error *err)
{
    const struct probes_shape *c = q->shape;
    int l = ev->layer;
    struct out_acc s;
    acc_layout(c, acc, &s);
    if (ev->point == HOOK_GATE) {
        if (!stat_shape_is(ev, 3, c->T, c->n_heads, c->gate_dim))
            return stat_bad_shape(ev, err);
        gate_sums(c, &s, l, ev->data);
        return SS_OK;
    }
    if (ev->point == HOOK_ATTN_OUT && c->gate_dim > 0 && !s.gate_seen[l])
        return ss_fail(err, SS_ERR_INTERNAL, "probes: attn_out of layer %d arrived before its gate event "
                       "(model/hooks.h: gate fires first)", l);
    if (!stat_shape_is(ev, 3, c->T, c->n_heads, c->head_dim))
        return stat_bad_shape(ev, err);
    attn_output(c, &s, l, ev->point == HOOK_ATTN_GATED, ev->data);
    return SS_OK;
}

static enum ss_status check(const double *acc, const struct probes_shape *c, struct ss_error *err)
{
    struct out_acc s;
    acc_layout(c, (double *)acc, &s);
    for (int l = 0; l < c->n_layers; l++)
        if (!s.out_seen[l])
            return ss_fail(err, SS_ERR_INTERNAL, "probes: no attn_out event for layer %d", l);
    return SS_OK;
}

static void fold(double *tot, const double *acc, const struct stat_fold *f)
{
    const struct probes_shape *c = f->shape;
    int L = c->n_layers;
    struct out_acc s;
    struct out_tot r;
    acc_layout(c, (double *)acc, &s);
    tot_layout(c, tot, &r);
    stat_add(r.out_abssum, s.out_abssum, L);
    stat_add(r.out_below, s.out_below, (size_t)L * NO);
    stat_add(r.meangate_below, s.meangate_below, (size_t)L * NO);
    for (int l = 0; l < L; l++) { /* ungated models may not fire attn_gated: it equals attn_out */
        int g = s.gated_seen[l] != 0;
        r.gated_abssum[l] += g ? s.gated_abssum[l] : s.out_abssum[l];
        for (int k = 0; k < NO; k++)
            r.gated_below[l * NO + k] += (g ? s.gated_below : s.out_below)[l * NO + k];
    }
}

static void results(struct stat_results *b, const double *tot, const struct probes_shape *c, int n_seqs)
{
    int L = c->n_layers;
    double out_n = (double)n_seqs * c->T * c->n_heads * (double)c->head_dim;
    struct out_tot r;
    tot_layout(c, (double *)tot, &r);
    double *oabs = stat_push(b, RF_ATTN_OUT_ABSMEAN, L, 0, 0, 0);
    double *gabs = stat_push(b, RF_ATTN_GATED_ABSMEAN, L, 0, 0, 0);
    double *ofr = stat_push(b, RF_ATTN_OUT_FRAC_BELOW, L, NO, 0, 0);
    double *gfr = stat_push(b, RF_ATTN_GATED_FRAC_BELOW, L, NO, 0, 0);
    if (!gfr)
        return;
    for (int l = 0; l < L; l++) {
        oabs[l] = r.out_abssum[l] / out_n;
        gabs[l] = r.gated_abssum[l] / out_n;
        for (int k = 0; k < NO; k++) {
            ofr[l * NO + k] = r.out_below[l * NO + k] / out_n;
            gfr[l * NO + k] = r.gated_below[l * NO + k] / out_n;
        }
    }
    if (c->gate_dim <= 0)
        return;
    double *mfr = stat_push(b, RF_ATTN_MEANGATE_FRAC_BELOW, L, NO, 0, 0);
    for (int i = 0; mfr && i < L * NO; i++) /* pooled like the before/after fractions */
        mfr[i] = r.meangate_below[i] / out_n;
}

const struct stat_module stat_attn_output = {
    .name = "attn_output",
    .points = STAT_POINT(HOOK_GATE) | STAT_POINT(HOOK_ATTN_OUT) | STAT_POINT(HOOK_ATTN_GATED),
    .seq_size = seq_size,
    .event = event,
    .check = check,
    .run_size = run_size,
    .fold = fold,
    .results = results,
};
