/* probes/stat_likelihood.c — the likelihood (docs/SCHEMA.md, 7): the NLL of every next token
 * (the per-sequence /stats/nll rows, written by probes/probes.c from this accumulator) and
 * the perplexity of the run for /summary. From logits tiles. */
#include <math.h>
#include <string.h>

#include "stat.h"

/* accumulator: [T] NLL (NaN at T-1), then [1] positions received; totals: NLL sum, count */
static size_t seq_size(const struct probes_shape *c) { return (size_t)c->T + 1; }
static size_t run_size(const struct probes_shape *c) { return 2; }

static void seq_reset(double *acc, const struct probes_shape *c)
{
    for (int t = 0; t < c->T; t++)
        acc[t] = NAN;
    acc[c->T] = 0;
}

/* out[j] = exp(z[j] - mx) for z[j] <= mx: 2^(y) with y = (z - mx) log2 e split
 * into an integer (the exponent bits) and a fraction in [-0.5, 0.5] (degree-6
 * polynomial, relative error ~2e-7); below 2^-126 it is 0. Branch-free, so the
 * loop vectorizes, which glibc's expf does not. */
SS_HOT_LOOP static void exp_shifted(const float *z, float mx, float *out,
                                                                           int n)
{
    for (int j = 0; j < n; j++) {
        float y = (z[j] - mx) * 1.44269504f;
        y = y < -126.0f ? -126.0f : y;
        float k = __builtin_roundf(y), f = y - k;
        float p = 1.0f + f * (0.693147182f + f * (0.240226507f + f * (0.0555041087f +
                  f * (0.00961812911f + f * (0.00133335581f + f * 0.000154035304f)))));
        uint32_t bits = (uint32_t)((int)k + 127) << 23;
        float scale;
        memcpy(&scale, &bits, sizeof scale);
        out[j] = y <= -126.0f ? 0.0f : p * scale;
    }
}

/* logits rows p0..p0+n of [n, vocab]: NLL of the next token. */
static void logits_rows(const struct stat_seq *q, double *nll, int p0, int n, const float *z)
{
    const struct probes_shape *c = q->shape;
    float *ex = q->scratch; /* [vocab] */
    for (int i = 0; i < n; i++) {
        int p = p0 + i;
        if (p >= c->T - 1 || !q->tokens)
            continue;
        const float *row = z + (size_t)i * c->vocab;
        float mx = row[0];
        for (int j = 1; j < c->vocab; j++)
            mx = row[j] > mx ? row[j] : mx;
        exp_shifted(row, mx, ex, c->vocab);
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0; /* four chains, fixed order */
        int j = 0;
        for (; j + 4 <= c->vocab; j += 4) {
            s0 += ex[j];
            s1 += ex[j + 1];
            s2 += ex[j + 2];
            s3 += ex[j + 3];
        }
        for (; j < c->vocab; j++)
            s0 += ex[j];
        nll[p] = (double)mx + log((s0 + s1) + (s2 + s3)) - (double)row[q->tokens[p + 1]];
    }
    nll[c->T] += n; /* positions received */
}

static enum ss_status event(const struct stat_seq *q, double *acc, const struct hook_event *ev,
                            struct ss_error *err)
{
    const struct probes_shape *c = q->shape;
    int n = ev->ndim == 2 ? (int)ev->shape[0] : -1;
    if (!(ev->ndim == 2 && ev->shape[1] == c->vocab && ev->q0 >= 0 && n >= 0 && ev->q0 + n <= c->T))
        return stat_bad_shape(ev, err);
    logits_rows(q, acc, ev->q0, n, ev->data);
    return SS_OK;
}

static enum ss_status check(const double *acc, const struct probes_shape *c, struct ss_error *err)
{
    if (acc[c->T] != c->T)
        return ss_fail(err, SS_ERR_INTERNAL, "probes: logits covered %g of %d positions", acc[c->T], c->T);
    return SS_OK;
}

static void fold(double *tot, const double *acc, const struct stat_fold *f)
{
    for (int t = 0; t < f->shape->T - 1; t++) {
        tot[0] += acc[t];
        tot[1] += 1;
    }
}

/* Perplexity = exp(mean NLL of the predicted positions); the tokens evaluated. */
static void summary(struct stat_results *b, const double *tot, const struct probes_shape *c, int n_seqs)
{
    double *ppl = stat_push(b, RF_SUMMARY_PERPLEXITY, 0, 0, 0, 0);
    double *nt = stat_push(b, RF_SUMMARY_N_TOKENS, 0, 0, 0, 0);
    if (!nt)
        return;
    *ppl = exp(tot[0] / tot[1]);
    *nt = (double)n_seqs * c->T;
}

const struct stat_module stat_likelihood = {
    .name = "likelihood",
    .points = STAT_POINT(HOOK_LOGITS),
    .seq_size = seq_size,
    .seq_reset = seq_reset,
    .event = event,
    .check = check,
    .run_size = run_size,
    .fold = fold,
    .summary = summary,
};
