/* probes/stat_attention.c — attention statistics (docs/SCHEMA.md, Attention 1-3): first-token
 * share, its profile over positions, alpha_k and the sink rate (Gu et al.), entropy, the
 * most-attended keys. From attn_probs tiles; each row is reduced whole in a fixed order
 * (keys in increasing k), so how the forward pass tiles attention does not change a bit. */
#include <math.h>
#include <string.h>

#include "stat.h"

struct attn_acc {              /* one sequence; L layers, H heads, T positions */
    double *fts_sum;           /* [L,H] sum over q >= 1 of A[q,0] */
    double *a00;               /* [L,H] A[0,0] */
    double *profile;           /* [L,T] sum over heads of A[q,0] */
    double *colsum;            /* [L,H,T] sum over q of A[q,k] */
    double *entropy_sum;       /* [L,H] sum over q >= 1 of -sum_k A ln A */
    double *rows_seen;         /* [L,H] attention rows received */
};

struct attn_tot {              /* the run: sums over sequences of per-sequence values */
    double *fts, *fts0;        /* [L,H] */
    double *profile;           /* [L,T] sum of per-sequence head means */
    double *alpha;             /* [L,H,T] */
    double *sink_count;        /* [K] (seq, layer, head) with alpha_k > eps */
    double *entropy;           /* [L,H] */
};

static size_t acc_layout(const struct probes_shape *c, double *base, struct attn_acc *v)
{
    size_t L = c->n_layers, H = c->n_heads, T = c->T, o = 0;
    STAT_FIELD(v, fts_sum, base, o, L * H);
    STAT_FIELD(v, a00, base, o, L * H);
    STAT_FIELD(v, profile, base, o, L * T);
    STAT_FIELD(v, colsum, base, o, L * H * T);
    STAT_FIELD(v, entropy_sum, base, o, L * H);
    STAT_FIELD(v, rows_seen, base, o, L * H);
    return o;
}

static size_t tot_layout(const struct probes_shape *c, double *base, struct attn_tot *v)
{
    size_t L = c->n_layers, H = c->n_heads, T = c->T, o = 0;
    STAT_FIELD(v, fts, base, o, L * H);
    STAT_FIELD(v, fts0, base, o, L * H);
    STAT_FIELD(v, profile, base, o, L * T);
    STAT_FIELD(v, alpha, base, o, L * H * T);
    STAT_FIELD(v, sink_count, base, o, PROBES_SINK_KEYS);
    STAT_FIELD(v, entropy, base, o, L * H);
    return o;
}

static size_t seq_size(const struct probes_shape *c)
{
    struct attn_acc v;
    return acc_layout(c, NULL, &v);
}

static size_t run_size(const struct probes_shape *c)
{
    struct attn_tot v;
    return tot_layout(c, NULL, &v);
}

static uint32_t float_bits(float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

/* out[k] = -a[k] ln a[k] for probabilities (0 for 0 and subnormals). ln from the
 * exponent bits plus the atanh series of the mantissa in [sqrt(1/2), sqrt(2))
 * (|t| <= 0.172, truncation < 1e-9): branch-free, so the loop vectorizes, which
 * glibc's logf does not. Relative error ~1e-7, as float rounding. */
SS_HOT_LOOP static void neg_xlogx(const float *a, float *out, int n)
{
    for (int k = 0; k < n; k++) {
        float x = a[k], m;
        uint32_t u = float_bits(x), mu = (u & 0x7fffffu) | 0x3f800000u;
        int e = (int)(u >> 23) - 127;
        memcpy(&m, &mu, sizeof m);
        int big = m > 1.41421356f;
        m = big ? m * 0.5f : m;
        e += big;
        float t = (m - 1) / (m + 1), t2 = t * t;
        float ln = (float)e * 0.693147181f +
                   2 * t * (1 + t2 * (1.0f / 3 + t2 * (1.0f / 5 + t2 * (1.0f / 7 + t2 * (1.0f / 9)))));
        out[k] = x >= 1.17549435e-38f ? -x * ln : 0.0f;
    }
}

/* One [nq, nk] tile of post-softmax probabilities of (layer, head), rows q0..q0+nq. */
static void attn_tile(const struct stat_seq *q, struct attn_acc *s, int l, int h, int q0, int nq,
                      int64_t stride, const float *A)
{
    const struct probes_shape *c = q->shape;
    size_t lh = (size_t)l * c->n_heads + h;
    double *col = s->colsum + lh * c->T;
    double fts = 0, ent = 0;
    float *hx = q->scratch; /* [T] terms of the row's entropy */
    for (int i = 0; i < nq; i++) {
        int qi = q0 + i, n = qi + 1;
        const float *row = A + (size_t)i * stride;
        for (int k = 0; k < n; k++)
            col[k] += row[k];
        neg_xlogx(row, hx, n);
        double e0 = 0, e1 = 0, e2 = 0, e3 = 0; /* four chains: the sum is latency-bound otherwise */
        int k = 0;
        for (; k + 4 <= n; k += 4) {
            e0 += hx[k];
            e1 += hx[k + 1];
            e2 += hx[k + 2];
            e3 += hx[k + 3];
        }
        for (; k < n; k++)
            e0 += hx[k];
        s->profile[(size_t)l * c->T + qi] += row[0];
        if (qi == 0) {
            s->a00[lh] = row[0];
        } else {
            fts += row[0];
            ent += (e0 + e1) + (e2 + e3);
        }
    }
    s->fts_sum[lh] += fts;
    s->entropy_sum[lh] += ent;
    s->rows_seen[lh] += nq;
}

static enum ss_status event(const struct stat_seq *q, double *acc, const struct hook_event *ev,
                            struct ss_error *err)
{
    const struct probes_shape *c = q->shape;
    int nq = ev->ndim == 2 ? (int)ev->shape[0] : -1;
    if (!(ev->ndim == 2 && ev->head >= 0 && ev->head < c->n_heads && ev->q0 >= 0 && nq >= 0 &&
          ev->q0 + nq <= c->T && ev->shape[1] >= ev->q0 + nq))
        return stat_bad_shape(ev, err);
    struct attn_acc s;
    acc_layout(c, acc, &s);
    attn_tile(q, &s, ev->layer, ev->head, ev->q0, nq, ev->shape[1], ev->data);
    return SS_OK;
}

static enum ss_status check(const double *acc, const struct probes_shape *c, struct ss_error *err)
{
    struct attn_acc s;
    acc_layout(c, (double *)acc, &s);
    for (int l = 0; l < c->n_layers; l++)
        for (int h = 0; h < c->n_heads; h++)
            if (s.rows_seen[(size_t)l * c->n_heads + h] != c->T)
                return ss_fail(err, SS_ERR_INTERNAL, "probes: attn_probs of layer %d head %d covered %g of %d rows",
                               l, h, s.rows_seen[(size_t)l * c->n_heads + h], c->T);
    return SS_OK;
}

static void fold(double *tot, const double *acc, const struct stat_fold *f)
{
    const struct probes_shape *c = f->shape;
    int L = c->n_layers, H = c->n_heads, T = c->T;
    struct attn_acc s;
    struct attn_tot r;
    acc_layout(c, (double *)acc, &s);
    tot_layout(c, tot, &r);
    for (size_t lh = 0; lh < (size_t)L * H; lh++) {
        r.fts[lh] += T > 1 ? s.fts_sum[lh] / (T - 1) : NAN;
        r.fts0[lh] += (s.fts_sum[lh] + s.a00[lh]) / T;
        r.entropy[lh] += T > 1 ? s.entropy_sum[lh] / (T - 1) : NAN;
        for (int k = 0; k < T; k++) {
            int seen_by = T - k; /* queries that can see key k: k <= q < k + window */
            if (c->window > 0 && seen_by > c->window && k >= c->sink_tokens) /* sink tokens: seen by all */
                seen_by = c->window;
            double alpha = s.colsum[lh * T + k] / seen_by;
            r.alpha[lh * T + k] += alpha;
            if (k < PROBES_SINK_KEYS)
                r.sink_count[k] += isnan(alpha) ? NAN : alpha > f->sink_epsilon; /* NaN is no "not a sink" */
        }
    }
    for (size_t i = 0; i < (size_t)L * T; i++)
        r.profile[i] += s.profile[i] / H;
}

/* The R keys with the largest alpha (a[0..T)): repeated selection, ties to the lower position. */
static void top_keys(const double *a, int T, double S, double *pos, double *val)
{
    for (int rank = 0; rank < PROBES_TOP_RANKS; rank++) {
        int best = -1;
        for (int k = 0; k < T; k++) {
            int taken = 0;
            for (int j = 0; j < rank; j++)
                taken |= pos[j] == k;
            if (!taken && (best < 0 || a[k] > a[best]))
                best = k;
        }
        pos[rank] = best;
        val[rank] = best >= 0 ? a[best] / S : NAN;
    }
}

static void results(struct stat_results *b, const double *tot, const struct probes_shape *c, int n_seqs)
{
    int L = c->n_layers, H = c->n_heads, T = c->T, K = PROBES_SINK_KEYS, R = PROBES_TOP_RANKS;
    double S = n_seqs;
    struct attn_tot r;
    tot_layout(c, (double *)tot, &r);
    double *fts = stat_push(b, RF_FIRST_TOKEN_SHARE, L, H, 0, 0);
    double *fts0 = stat_push(b, RF_FIRST_TOKEN_SHARE_INCL0, L, H, 0, 0);
    double *ftl = stat_push(b, RF_FIRST_TOKEN_SHARE_LAYER, L, 0, 0, 0);
    double *prof = stat_push(b, RF_FIRST_TOKEN_PROFILE, L, T, 0, 0);
    double *alpha = stat_push(b, RF_SINK_ALPHA, L, H, K, 0);
    double *rate = stat_push(b, RF_SINK_RATE, K, 0, 0, 0);
    double *ent = stat_push(b, RF_ATTN_ENTROPY, L, H, 0, 0);
    double *tpos = stat_push(b, RF_TOP_KEY_POS, L, H, R, 0);
    double *talpha = stat_push(b, RF_TOP_KEY_ALPHA, L, H, R, 0);
    if (!talpha)
        return;
    for (int l = 0; l < L; l++) {
        double layer_sum = 0;
        for (int h = 0; h < H; h++) {
            size_t lh = (size_t)l * H + h;
            fts[lh] = r.fts[lh] / S;
            fts0[lh] = r.fts0[lh] / S;
            ent[lh] = r.entropy[lh] / S;
            layer_sum += fts[lh];
            const double *a = r.alpha + lh * T;
            for (int k = 0; k < K; k++)
                alpha[lh * K + k] = k < T ? a[k] / S : NAN;
            top_keys(a, T, S, tpos + lh * R, talpha + lh * R);
        }
        ftl[l] = layer_sum / H;
        for (int t = 0; t < T; t++)
            prof[(size_t)l * T + t] = r.profile[(size_t)l * T + t] / S;
    }
    for (int k = 0; k < K; k++)
        rate[k] = k < T ? r.sink_count[k] / (S * L * H) : NAN;
}

/* F-Attn (mean over layers of the layer shares), the same including query 0, the sink rate of key 0. */
static void summary(struct stat_results *b, const double *tot, const struct probes_shape *c, int n_seqs)
{
    int L = c->n_layers, H = c->n_heads;
    const double *ftl = stat_find(b, RF_FIRST_TOKEN_SHARE_LAYER), *fts0 = stat_find(b, RF_FIRST_TOKEN_SHARE_INCL0);
    const double *rate = stat_find(b, RF_SINK_RATE);
    double *f = stat_push(b, RF_SUMMARY_FIRST_TOKEN_SHARE, 0, 0, 0, 0);
    double *f0 = stat_push(b, RF_SUMMARY_FIRST_TOKEN_SHARE_INCL0, 0, 0, 0, 0);
    double *sr = stat_push(b, RF_SUMMARY_SINK_RATE, 0, 0, 0, 0);
    if (!sr || !ftl || !fts0 || !rate)
        return;
    double s = 0;
    for (int l = 0; l < L; l++)
        s += ftl[l];
    *f = L ? s / L : NAN;
    double s0 = 0;
    for (size_t i = 0; i < (size_t)L * H; i++)
        s0 += fts0[i];
    *f0 = s0 / ((double)L * H);
    *sr = rate[0];
    (void)tot;
    (void)n_seqs;
}

const struct stat_module stat_attention = {
    .name = "attention",
    .points = STAT_POINT(HOOK_ATTN_PROBS),
    .seq_size = seq_size,
    .event = event,
    .check = check,
    .run_size = run_size,
    .fold = fold,
    .results = results,
    .summary = summary,
};
