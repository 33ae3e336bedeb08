/* probes/stats.c — the statistics: the list of modules (probes/stat.h) and the per-sequence
 * and run buffers that concatenate their accumulators. Definitions: docs/SCHEMA.md.
 * Everything accumulates in double in a fixed order, so the result does not depend on how
 * the forward pass tiles its work or on how many threads it uses. */
#include "probes.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stat.h"

/* The statistics, in the order their datasets are written. A new statistic is a file
 * probes/stat_<name>.c and its line here. */
static const struct stat_module *const STAT_MODULES[] = {
    &stat_attention, &stat_attn_output, &stat_gates, &stat_activations, &stat_values, &stat_likelihood,
    &stat_router, &stat_sink,
};
#define N_MODULES (int)(sizeof STAT_MODULES / sizeof STAT_MODULES[0])

const double probes_gate_thresholds[PROBES_GATE_THRESHOLDS] = {0.01, 0.1, 0.5};
const double probes_out_thresholds[PROBES_OUT_THRESHOLDS] = {1e-2, 1e-3};

const char *probes_stream_name(int stream)
{
    static const char *const names[PROBES_STREAMS] = {"attn_output", "attn_residual", "ffn_output",
                                                      "ffn_residual"};
    return (stream >= 0 && stream < PROBES_STREAMS) ? names[stream] : NULL;
}

/* Is module m computed for a run of this shape? */
static int module_on(int m, const struct probes_shape *c)
{
    const struct stat_module *sm = STAT_MODULES[m];
    return (!sm->gated_only || c->gate_dim > 0) && (!sm->moe_only || c->n_experts > 0) &&
           (!sm->sinks_only || c->attn_sinks);
}

uint32_t probes_stat_points(const struct probes_shape *c)
{
    uint32_t points = 0;
    for (int m = 0; m < N_MODULES; m++)
        if (module_on(m, c))
            points |= STAT_MODULES[m]->points;
    if (c->gate_dim <= 0) /* the gate point never fires without a gate */
        points &= ~STAT_POINT(HOOK_GATE);
    return points; /* router and sink points: only their modules (moe_only, sinks_only) want them */
}

/* ---- per-sequence accumulators ---------------------------------------------------- */

enum ss_status seq_stats_init(struct seq_stats *s, const struct probes_shape *shape, struct ss_error *err)
{
    memset(s, 0, sizeof *s);
    s->shape = *shape;
    if (shape->n_layers <= 0 || shape->n_heads <= 0 || shape->T <= 0 || shape->hidden <= 0 ||
        shape->head_dim <= 0 || shape->n_kv_heads <= 0 || shape->vocab <= 0 || shape->gate_dim < 0 ||
        shape->n_experts < 0 || (shape->n_experts > 0 && (!shape->layer_moe || shape->top_k <= 0 ||
                                                          shape->top_k > shape->n_experts)))
        return ss_fail(err, SS_ERR_INTERNAL, "probes: bad run shape");
    for (int m = 0; m < N_MODULES; m++) {
        s->off[m] = s->n;
        s->n += module_on(m, shape) ? STAT_MODULES[m]->seq_size(shape) : 0;
    }
    s->buf = malloc(s->n * sizeof *s->buf);
    size_t nscratch = (size_t)shape->T * shape->hidden; /* medians; also a row of attention or logits */
    nscratch = nscratch > (size_t)shape->vocab ? nscratch : (size_t)shape->vocab;
    s->scratch = malloc(nscratch * sizeof *s->scratch);
    s->radix = malloc(65536 * sizeof *s->radix);
    if (!s->buf || !s->scratch || !s->radix) {
        seq_stats_free(s);
        return ss_fail(err, SS_ERR_NOMEM, "probes: out of memory for %zu accumulators", s->n);
    }
    seq_stats_reset(s, NULL);
    return SS_OK;
}

void seq_stats_free(struct seq_stats *s)
{
    free(s->buf);
    free(s->scratch);
    free(s->radix);
    s->buf = NULL;
    s->scratch = NULL;
    s->radix = NULL;
}

void seq_stats_reset(struct seq_stats *s, const int32_t *tokens)
{
    for (int m = 0; m < N_MODULES; m++)
        if (module_on(m, &s->shape)) {
            const struct stat_module *md = STAT_MODULES[m];
            if (md->seq_reset)
                md->seq_reset(s->buf + s->off[m], &s->shape);
            else
                memset(s->buf + s->off[m], 0, md->seq_size(&s->shape) * sizeof *s->buf);
        }
    s->tokens = tokens;
}

const double *seq_stats_nll(const struct seq_stats *s)
{
    for (int m = 0; m < N_MODULES; m++)
        if (STAT_MODULES[m] == &stat_likelihood)
            return s->buf + s->off[m];
    return NULL;
}

enum ss_status seq_stats_event(struct seq_stats *s, const struct hook_event *ev, struct ss_error *err)
{
    const struct probes_shape *c = &s->shape;
    int l = ev->layer;
    if (ev->point != HOOK_LOGITS && ev->point != HOOK_FINAL_NORM && (l < 0 || l >= c->n_layers))
        return ss_fail(err, SS_ERR_INTERNAL, "probes: %s event for layer %d of %d", hook_point_name(ev->point), l,
                       c->n_layers);
    if (ev->point == HOOK_GATE && c->gate_dim <= 0)
        return stat_bad_shape(ev, err);
    struct stat_seq q = {c, s->tokens, s->scratch, s->radix};
    for (int m = 0; m < N_MODULES; m++)
        if ((STAT_MODULES[m]->points & STAT_POINT(ev->point)) && module_on(m, c)) {
            enum ss_status st = STAT_MODULES[m]->event(&q, s->buf + s->off[m], ev, err);
            if (st)
                return st;
        }
    return SS_OK;
}

enum ss_status seq_stats_check(const struct seq_stats *s, struct ss_error *err)
{
    for (int m = 0; m < N_MODULES; m++)
        if (module_on(m, &s->shape)) {
            enum ss_status st = STAT_MODULES[m]->check(s->buf + s->off[m], &s->shape, err);
            if (st)
                return st;
        }
    return SS_OK;
}

/* ---- run totals ---------------------------------------------------------------------- */

enum ss_status run_stats_init(struct run_stats *r, const struct probes_shape *shape, double sink_epsilon,
                              struct ss_error *err)
{
    memset(r, 0, sizeof *r);
    r->shape = *shape;
    r->sink_epsilon = sink_epsilon;
    for (int m = 0; m < N_MODULES; m++) {
        r->off[m] = r->n;
        r->n += module_on(m, shape) ? STAT_MODULES[m]->run_size(shape) : 0;
    }
    r->buf = calloc(r->n ? r->n : 1, sizeof *r->buf);
    if (!r->buf)
        return ss_fail(err, SS_ERR_NOMEM, "probes: out of memory for %zu run totals", r->n);
    for (int m = 0; m < N_MODULES; m++)
        if (module_on(m, shape) && STAT_MODULES[m]->run_init) /* else the zeros of calloc */
            STAT_MODULES[m]->run_init(r->buf + r->off[m], shape);
    return SS_OK;
}

void run_stats_free(struct run_stats *r)
{
    free(r->buf);
    r->buf = NULL;
}

void run_stats_fold(struct run_stats *r, const struct seq_stats *s, int seq)
{
    struct stat_fold f = {&r->shape, seq, r->sink_epsilon};
    for (int m = 0; m < N_MODULES; m++)
        if (module_on(m, &r->shape))
            STAT_MODULES[m]->fold(r->buf + r->off[m], s->buf + s->off[m], &f);
    r->n_seqs++;
}

/* Every module's /stats datasets, then every module's /summary scalars. */
void run_stats_results(const struct run_stats *r, struct stat_results *b)
{
    for (int phase = 0; phase < 2; phase++)
        for (int m = 0; m < N_MODULES; m++) {
            const struct stat_module *sm = STAT_MODULES[m];
            void (*fn)(struct stat_results *, const double *, const struct probes_shape *, int) =
                phase ? sm->summary : sm->results;
            if (fn && module_on(m, &r->shape))
                fn(b, r->buf + r->off[m], &r->shape, r->n_seqs);
        }
}

/* ---- helpers of the modules ------------------------------------------------------------ */

int stat_shape_is(const struct hook_event *ev, int ndim, int64_t a, int64_t b, int64_t c)
{
    if (ev->ndim != ndim || ev->shape[0] != a)
        return 0;
    return (ndim < 2 || ev->shape[1] == b) && (ndim < 3 || ev->shape[2] == c);
}

enum ss_status stat_bad_shape(const struct hook_event *ev, struct ss_error *err)
{
    return ss_fail(err, SS_ERR_INTERNAL, "probes: %s event of layer %d has shape [%lld,%lld,%lld] (ndim %d), not the run's",
                   hook_point_name(ev->point), ev->layer, (long long)ev->shape[0], (long long)ev->shape[1],
                   (long long)ev->shape[2], ev->ndim);
}

void stat_add(double *dst, const double *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] += src[i];
}
