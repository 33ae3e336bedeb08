/* probes/stat_values.c — value-vector norms by position (docs/SCHEMA.md, 6): ||v_t|| mean
 * over KV heads, the quantity sinks are known to shrink at the sink position. */
#include <math.h>
#include <string.h>

#include "stat.h"

/* accumulator: [L,T] norms, then [L] seen; totals: [L,T] sums over sequences */
static size_t seq_size(const struct probes_shape *c) { return (size_t)c->n_layers * c->T + c->n_layers; }
static size_t run_size(const struct probes_shape *c) { return (size_t)c->n_layers * c->T; }

/* value vectors [T, n_kv, D] of layer l. */
static void value_vectors(const struct probes_shape *c, double *norm, double *seen, int l, const float *v)
{
    for (int t = 0; t < c->T; t++) {
        double sum = 0;
        for (int h = 0; h < c->n_kv_heads; h++) {
            const float *x = v + ((size_t)t * c->n_kv_heads + h) * c->head_dim;
            double sq = 0;
            for (int d = 0; d < c->head_dim; d++)
                sq += (double)x[d] * x[d];
            sum += sqrt(sq);
        }
        norm[(size_t)l * c->T + t] = sum / c->n_kv_heads;
    }
    seen[l] = 1;
}

static enum ss_status event(const struct stat_seq *q, double *acc, const struct hook_event *ev,
                            struct ss_error *err)
{
    const struct probes_shape *c = q->shape;
    if (!stat_shape_is(ev, 3, c->T, c->n_kv_heads, c->head_dim))
        return stat_bad_shape(ev, err);
    value_vectors(c, acc, acc + run_size(c), ev->layer, ev->data);
    return SS_OK;
}

static enum ss_status check(const double *acc, const struct probes_shape *c, struct ss_error *err)
{
    for (int l = 0; l < c->n_layers; l++)
        if (!acc[run_size(c) + l])
            return ss_fail(err, SS_ERR_INTERNAL, "probes: no v event for layer %d", l);
    return SS_OK;
}

static void fold(double *tot, const double *acc, const struct stat_fold *f)
{
    stat_add(tot, acc, run_size(f->shape));
}

static void results(struct stat_results *b, const double *tot, const struct probes_shape *c, int n_seqs)
{
    double *vn = stat_push(b, RF_VALUE_NORM, c->n_layers, c->T, 0, 0);
    for (size_t i = 0; vn && i < run_size(c); i++)
        vn[i] = tot[i] / n_seqs;
}

const struct stat_module stat_values = {
    .name = "values",
    .points = STAT_POINT(HOOK_V),
    .seq_size = seq_size,
    .event = event,
    .check = check,
    .run_size = run_size,
    .fold = fold,
    .results = results,
};
