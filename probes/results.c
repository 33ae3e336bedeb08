/* probes/results.c — run totals -> the /stats and /summary datasets of
 * docs/SCHEMA.md (names, dimensions, long_name and units from runfile/schema.h).
 * Pure arithmetic; the writer (probes/probes.c) stores them. */
#include "probes.h"

#include "../runfile/schema.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RESULTS 64

struct builder {
    struct probes_results *res;
    struct ss_error *err;
    int failed;
};

/* Append dataset id of the schema (runfile/schema.h: path, dims, long_name, units, type)
 * with extents n[0..ndim-1]; returns its zeroed data. */
static double *push(struct builder *b, enum rf_id id, int64_t n0, int64_t n1, int64_t n2, int64_t n3)
{
    const struct rf_dataset *sd = &rf_schema[id];
    if (b->failed)
        return NULL;
    if (b->res->n >= MAX_RESULTS) {
        b->failed = 1;
        ss_fail(b->err, SS_ERR_INTERNAL, "probes: more than %d result datasets", MAX_RESULTS);
        return NULL;
    }
    struct probes_dataset *d = &b->res->d[b->res->n];
    memset(d, 0, sizeof *d);
    snprintf(d->path, sizeof d->path, "%s", sd->path);
    d->long_name = sd->long_name;
    d->units = sd->units;
    d->is_int = sd->type == RF_I32;
    d->ndim = sd->ndim;
    int64_t ext[4] = {n0, n1, n2, n3};
    size_t n = 1;
    for (int i = 0; i < sd->ndim; i++) {
        d->dims[i] = sd->dims[i];
        d->shape[i] = ext[i];
        n *= (size_t)ext[i];
    }
    d->data = calloc(n ? n : 1, sizeof *d->data);
    if (!d->data) {
        b->failed = 1;
        ss_fail(b->err, SS_ERR_NOMEM, "probes: out of memory for %s", sd->path);
        return NULL;
    }
    b->res->n++;
    return d->data;
}

#define D0(b, id) push(b, id, 0, 0, 0, 0)
#define D1(b, id, n0) push(b, id, n0, 0, 0, 0)
#define D2(b, id, n0, n1) push(b, id, n0, n1, 0, 0)
#define D3(b, id, n0, n1, n2) push(b, id, n0, n1, n2, 0)
#define D4(b, id, n0, n1, n2, n3) push(b, id, n0, n1, n2, n3)

static double mean_of(const double *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    return n ? s / n : NAN;
}

/* /stats attention datasets (1-3). */
static void attention_results(struct builder *b, const struct run_stats *r)
{
    const struct probes_shape *c = &r->shape;
    int L = c->n_layers, H = c->n_heads, T = c->T, K = PROBES_SINK_KEYS, R = PROBES_TOP_RANKS;
    double S = r->n_seqs;
    double *fts = D2(b, RF_FIRST_TOKEN_SHARE, L, H);
    double *fts0 = D2(b, RF_FIRST_TOKEN_SHARE_INCL0, L, H);
    double *ftl = D1(b, RF_FIRST_TOKEN_SHARE_LAYER, L);
    double *prof = D2(b, RF_FIRST_TOKEN_PROFILE, L, T);
    double *alpha = D3(b, RF_SINK_ALPHA, L, H, K);
    double *rate = D1(b, RF_SINK_RATE, K);
    double *ent = D2(b, RF_ATTN_ENTROPY, L, H);
    double *tpos = D3(b, RF_TOP_KEY_POS, L, H, R);
    double *talpha = D3(b, RF_TOP_KEY_ALPHA, L, H, R);
    if (b->failed)
        return;
    for (int l = 0; l < L; l++) {
        double layer_sum = 0;
        for (int h = 0; h < H; h++) {
            size_t lh = (size_t)l * H + h;
            fts[lh] = r->fts[lh] / S;
            fts0[lh] = r->fts0[lh] / S;
            ent[lh] = r->entropy[lh] / S;
            layer_sum += fts[lh];
            const double *a = r->alpha + lh * T;
            for (int k = 0; k < K; k++)
                alpha[lh * K + k] = k < T ? a[k] / S : NAN;
            /* top R keys: repeated selection, ties to the lower position */
            for (int rank = 0; rank < R; rank++) {
                int best = -1;
                for (int k = 0; k < T; k++) {
                    int taken = 0;
                    for (int j = 0; j < rank; j++)
                        taken |= tpos[lh * R + j] == k;
                    if (!taken && (best < 0 || a[k] > a[best]))
                        best = k;
                }
                tpos[lh * R + rank] = best;
                talpha[lh * R + rank] = best >= 0 ? a[best] / S : NAN;
            }
        }
        ftl[l] = layer_sum / H;
        for (int t = 0; t < T; t++)
            prof[(size_t)l * T + t] = r->profile[(size_t)l * T + t] / S;
    }
    for (int k = 0; k < K; k++)
        rate[k] = k < T ? r->sink_count[k] / (S * L * H) : NAN;
}

/* /stats gate datasets (4) and attention output before/after the gate (5). */
static void gate_results(struct builder *b, const struct run_stats *r)
{
    const struct probes_shape *c = &r->shape;
    int L = c->n_layers, H = c->n_heads, T = c->T, G = c->gate_dim, B = PROBES_GATE_BINS;
    int NT = PROBES_GATE_THRESHOLDS, NO = PROBES_OUT_THRESHOLDS;
    double S = r->n_seqs, per_head = S * T * G, per_layer = per_head * H;
    double out_n = S * T * H * (double)c->head_dim;
    double *oabs = D1(b, RF_ATTN_OUT_ABSMEAN, L);
    double *gabs = D1(b, RF_ATTN_GATED_ABSMEAN, L);
    double *ofr = D2(b, RF_ATTN_OUT_FRAC_BELOW, L, NO);
    double *gfr = D2(b, RF_ATTN_GATED_FRAC_BELOW, L, NO);
    if (b->failed)
        return;
    for (int l = 0; l < L; l++) {
        oabs[l] = r->out_abssum[l] / out_n;
        gabs[l] = r->gated_abssum[l] / out_n;
        for (int k = 0; k < NO; k++) {
            ofr[l * NO + k] = r->out_below[l * NO + k] / out_n;
            gfr[l * NO + k] = r->gated_below[l * NO + k] / out_n;
        }
    }
    if (G <= 0)
        return;
    double *mfr = D2(b, RF_ATTN_MEANGATE_FRAC_BELOW, L, NO);
    if (b->failed)
        return;
    for (int i = 0; i < L * NO; i++) /* pooled like the before/after fractions */
        mfr[i] = r->meangate_below[i] / out_n;
    double *mean = D2(b, RF_GATE_MEAN, L, H);
    double *std = D2(b, RF_GATE_STD, L, H);
    double *mn = D2(b, RF_GATE_MIN, L, H);
    double *mx = D2(b, RF_GATE_MAX, L, H);
    double *hist = D2(b, RF_GATE_HIST, L, B);
    double *pooled = D1(b, RF_GATE_HIST_POOLED, B);
    double *below = D2(b, RF_GATE_FRAC_BELOW, L, NT);
    double *pos0 = D1(b, RF_GATE_MEAN_POS0, L);
    double *rest = D1(b, RF_GATE_MEAN_REST, L);
    double *bypos = D2(b, RF_GATE_MEAN_BY_POS, L, T);
    if (b->failed)
        return;
    for (int l = 0; l < L; l++) {
        for (int h = 0; h < H; h++) {
            size_t lh = (size_t)l * H + h;
            double m = r->gate_sum[lh] / per_head, var = r->gate_sumsq[lh] / per_head - m * m;
            mean[lh] = m;
            std[lh] = sqrt(var > 0 ? var : 0);
            mn[lh] = r->gate_min[lh];
            mx[lh] = r->gate_max[lh];
        }
        for (int k = 0; k < B; k++) {
            hist[l * B + k] = r->gate_hist[l * B + k] * B / per_layer;
            pooled[k] += r->gate_hist[l * B + k] * B / (per_layer * L);
        }
        for (int k = 0; k < NT; k++)
            below[l * NT + k] = r->gate_below[l * NT + k] / per_layer;
        pos0[l] = r->gate_pos0[l] / (S * H * G);
        rest[l] = T > 1 ? r->gate_rest[l] / (S * (T - 1) * H * G) : NAN;
        for (int t = 0; t < T; t++)
            bypos[(size_t)l * T + t] = r->gate_by_pos[(size_t)l * T + t] / (S * H * G);
    }
}

/* /stats massive-activation datasets (6). */
static void activation_results(struct builder *b, const struct run_stats *r)
{
    const struct probes_shape *c = &r->shape;
    int L = c->n_layers, T = c->T, NS = PROBES_STREAMS, A = PROBES_ACT_RANKS;
    double S = r->n_seqs;
    size_t LS = (size_t)L * NS;
    double *mx = D2(b, RF_ACT_MAX, L, NS);
    double *tv = D3(b, RF_ACT_TOP_VALUE, L, NS, A);
    double *ti = D4(b, RF_ACT_TOP_INDEX, L, NS, A, 3);
    double *med = D2(b, RF_ACT_MEDIAN, L, NS);
    double *ratio = D2(b, RF_ACT_MAX_OVER_MEDIAN, L, NS);
    double *c100 = D2(b, RF_ACT_COUNT_100X, L, NS);
    double *c1000 = D2(b, RF_ACT_COUNT_1000X, L, NS);
    double *cm = D2(b, RF_ACT_COUNT_MASSIVE, L, NS);
    double *rr = D1(b, RF_RESID_POS0_NORM_RATIO, L);
    double *vn = D2(b, RF_VALUE_NORM, L, T);
    if (b->failed)
        return;
    for (size_t i = 0; i < LS; i++) {
        mx[i] = r->act_max[i];
        med[i] = r->act_median[i] / S;
        ratio[i] = mx[i] / med[i];
        c100[i] = r->act_c100[i];
        c1000[i] = r->act_c1000[i];
        cm[i] = r->act_massive[i];
    }
    memcpy(tv, r->act_top_val, LS * A * sizeof *tv);
    memcpy(ti, r->act_top_idx, LS * A * 3 * sizeof *ti);
    for (int l = 0; l < L; l++) {
        rr[l] = r->resid_ratio[l] / S;
        for (int t = 0; t < T; t++)
            vn[(size_t)l * T + t] = r->value_norm[(size_t)l * T + t] / S;
    }
}

/* /summary scalars (paper Table 4 columns). */
static void summary_results(struct builder *b, const struct run_stats *r)
{
    const struct probes_shape *c = &r->shape;
    int L = c->n_layers;
    const struct probes_dataset *ftl = probes_results_find(b->res, rf_path(RF_FIRST_TOKEN_SHARE_LAYER));
    const struct probes_dataset *fts0 = probes_results_find(b->res, rf_path(RF_FIRST_TOKEN_SHARE_INCL0));
    const struct probes_dataset *rate = probes_results_find(b->res, rf_path(RF_SINK_RATE));
    double *f = D0(b, RF_SUMMARY_FIRST_TOKEN_SHARE);
    double *f0 = D0(b, RF_SUMMARY_FIRST_TOKEN_SHARE_INCL0);
    double *mam = D0(b, RF_SUMMARY_MAX_ACTIVATION_MEAN);
    double *ma = D0(b, RF_SUMMARY_MAX_ACTIVATION);
    double *gm = c->gate_dim > 0 ? D0(b, RF_SUMMARY_GATE_MEAN) : NULL;
    double *ppl = D0(b, RF_SUMMARY_PERPLEXITY);
    double *sr = D0(b, RF_SUMMARY_SINK_RATE);
    double *nt = D0(b, RF_SUMMARY_N_TOKENS);
    if (b->failed)
        return;
    *f = mean_of(ftl->data, L);
    double s0 = 0;
    for (size_t i = 0; i < (size_t)L * c->n_heads; i++)
        s0 += fts0->data[i];
    *f0 = s0 / ((double)L * c->n_heads);
    double sum = 0, mx = 0;
    for (int l = 0; l < L; l++) {
        double v = r->act_max[l * PROBES_STREAMS + PROBES_STREAMS - 1];
        sum += v;
        mx = v > mx ? v : mx;
    }
    *mam = sum / L;
    *ma = mx;
    if (gm) {
        double g = 0;
        for (size_t i = 0; i < (size_t)L * c->n_heads; i++)
            g += r->gate_sum[i];
        *gm = g / ((double)r->n_seqs * c->T * L * c->n_heads * c->gate_dim);
    }
    *ppl = exp(r->nll_sum[0] / r->nll_count[0]);
    *sr = rate->data[0];
    *nt = (double)r->n_seqs * c->T;
}

enum ss_status probes_results_compute(const struct run_stats *r, struct probes_results *out,
                                      struct ss_error *err)
{
    memset(out, 0, sizeof *out);
    if (r->n_seqs <= 0)
        return ss_fail(err, SS_ERR_INTERNAL, "probes: no sequence was folded");
    out->d = calloc(MAX_RESULTS, sizeof *out->d);
    if (!out->d)
        return ss_fail(err, SS_ERR_NOMEM, "probes: out of memory for results");
    struct builder b = {out, err, 0};
    attention_results(&b, r);
    gate_results(&b, r);
    activation_results(&b, r);
    summary_results(&b, r);
    if (b.failed) {
        probes_results_free(out);
        return err ? err->status : SS_ERR_NOMEM;
    }
    return SS_OK;
}

void probes_results_free(struct probes_results *res)
{
    for (int i = 0; i < res->n; i++)
        free(res->d[i].data);
    free(res->d);
    memset(res, 0, sizeof *res);
}

const struct probes_dataset *probes_results_find(const struct probes_results *res, const char *path)
{
    for (int i = 0; i < res->n; i++)
        if (!strcmp(res->d[i].path, path))
            return &res->d[i];
    return NULL;
}
