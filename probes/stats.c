/* probes/stats.c — per-sequence accumulators fed by hook events, and their
 * fold into run totals. Definitions: docs/SCHEMA.md. Everything accumulates in
 * double in a fixed order (rows in increasing query, keys in increasing k), so
 * the result does not depend on how the forward pass tiles attention. */
#include "probes.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* GCC: vectorize these branch-free loops even at -O1/-O2 (clang has no such attribute). */
#if defined(__GNUC__) && !defined(__clang__)
#define SS_HOT_LOOP __attribute__((optimize("O3", "no-trapping-math")))
#else
#define SS_HOT_LOOP
#endif


const double probes_gate_thresholds[PROBES_GATE_THRESHOLDS] = {0.01, 0.1, 0.5};
const double probes_out_thresholds[PROBES_OUT_THRESHOLDS] = {1e-2, 1e-3};

const char *probes_stream_name(int stream)
{
    static const char *const names[PROBES_STREAMS] = {"attn_output", "attn_residual", "ffn_output",
                                                      "ffn_residual"};
    return (stream >= 0 && stream < PROBES_STREAMS) ? names[stream] : NULL;
}

/* Lay the fields out in buf (or only count them when base is NULL); returns doubles needed. */
static size_t seq_stats_layout(struct seq_stats *s, double *base)
{
    const struct probes_shape *c = &s->shape;
    size_t L = c->n_layers, H = c->n_heads, T = c->T, LS = L * PROBES_STREAMS, o = 0;
#define F(field, count) (s->field = base ? base + o : NULL, o += (count))
    F(fts_sum, L * H);
    F(a00, L * H);
    F(profile, L * T);
    F(colsum, L * H * T);
    F(entropy_sum, L * H);
    F(rows_seen, L * H);
    F(gate_sum, L * H);
    F(gate_sumsq, L * H);
    F(gate_min, L * H);
    F(gate_max, L * H);
    F(gate_hist, L * PROBES_GATE_BINS);
    F(gate_below, L * PROBES_GATE_THRESHOLDS);
    F(gate_pos0, L);
    F(gate_rest, L);
    F(gate_by_pos, L * T);
    F(gate_seen, L);
    F(out_abssum, L);
    F(out_below, L * PROBES_OUT_THRESHOLDS);
    F(gated_abssum, L);
    F(gated_below, L * PROBES_OUT_THRESHOLDS);
    F(meangate_below, L * PROBES_OUT_THRESHOLDS);
    F(out_seen, L);
    F(gated_seen, L);
    F(act_max, LS);
    F(act_median, LS);
    F(act_c100, LS);
    F(act_c1000, LS);
    F(act_massive, LS);
    F(act_top_val, LS * PROBES_ACT_RANKS);
    F(act_top_idx, LS * PROBES_ACT_RANKS * 2);
    F(stream_seen, LS);
    F(resid_ratio, L);
    F(value_norm, L * T);
    F(value_seen, L);
    F(nll, T);
    F(logit_rows, 1);
#undef F
    return o;
}

enum ss_status seq_stats_init(struct seq_stats *s, const struct probes_shape *shape,
                              struct ss_error *err)
{
    memset(s, 0, sizeof *s);
    s->shape = *shape;
    if (shape->n_layers <= 0 || shape->n_heads <= 0 || shape->T <= 0 || shape->hidden <= 0 ||
        shape->head_dim <= 0 || shape->n_kv_heads <= 0 || shape->vocab <= 0 || shape->gate_dim < 0)
        return ss_fail(err, SS_ERR_INTERNAL, "probes: bad run shape");
    s->n = seq_stats_layout(s, NULL);
    s->buf = malloc(s->n * sizeof *s->buf);
    size_t nscratch = (size_t)shape->T * shape->hidden; /* medians; also a row of attention or logits */
    nscratch = nscratch > (size_t)shape->vocab ? nscratch : (size_t)shape->vocab;
    s->scratch = malloc(nscratch * sizeof *s->scratch);
    s->radix = malloc(65536 * sizeof *s->radix);
    if (!s->buf || !s->scratch || !s->radix) {
        seq_stats_free(s);
        return ss_fail(err, SS_ERR_NOMEM, "probes: out of memory for %zu accumulators", s->n);
    }
    seq_stats_layout(s, s->buf);
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
    const struct probes_shape *c = &s->shape;
    size_t LH = (size_t)c->n_layers * c->n_heads, LS = (size_t)c->n_layers * PROBES_STREAMS;
    memset(s->buf, 0, s->n * sizeof *s->buf);
    for (size_t i = 0; i < LH; i++) {
        s->gate_min[i] = INFINITY;
        s->gate_max[i] = -INFINITY;
    }
    for (size_t i = 0; i < LS * PROBES_ACT_RANKS; i++) {
        s->act_top_val[i] = -1;
        s->act_top_idx[2 * i] = s->act_top_idx[2 * i + 1] = -1;
    }
    for (int t = 0; t < c->T; t++)
        s->nll[t] = NAN;
    s->tokens = tokens;
}

/* ---- attention ------------------------------------------------------------- */

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

/* One [nq, nk] tile of post-softmax probabilities of (layer, head), rows q0..q0+nq.
 * Each row is reduced whole in a fixed order, so tiling does not change a bit. */
static void attn_tile(struct seq_stats *s, int l, int h, int q0, int nq, int64_t stride,
                      const float *A)
{
    const struct probes_shape *c = &s->shape;
    size_t lh = (size_t)l * c->n_heads + h;
    double *col = s->colsum + lh * c->T;
    double fts = 0, ent = 0;
    float *hx = s->scratch; /* [T] terms of the row's entropy */
    for (int i = 0; i < nq; i++) {
        int q = q0 + i, n = q + 1;
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
        s->profile[(size_t)l * c->T + q] += row[0];
        if (q == 0) {
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

/* ---- gates and attention output --------------------------------------------- */

/* gate values [T, H, G] of layer l. */
static void gate_values(struct seq_stats *s, int l, const float *g)
{
    const struct probes_shape *c = &s->shape;
    int H = c->n_heads, G = c->gate_dim, B = PROBES_GATE_BINS;
    double *hist = s->gate_hist + (size_t)l * B, *below = s->gate_below + (size_t)l * PROBES_GATE_THRESHOLDS;
    for (int t = 0; t < c->T; t++) {
        double pos_sum = 0;
        for (int h = 0; h < H; h++) {
            size_t lh = (size_t)l * H + h;
            const float *x = g + ((size_t)t * H + h) * G;
            double sum = 0, sq = 0, mn = s->gate_min[lh], mx = s->gate_max[lh];
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
            s->gate_sum[lh] += sum;
            s->gate_sumsq[lh] += sq;
            s->gate_min[lh] = mn;
            s->gate_max[lh] = mx;
            pos_sum += sum;
        }
        s->gate_by_pos[(size_t)l * c->T + t] += pos_sum;
        if (t == 0)
            s->gate_pos0[l] += pos_sum;
        else
            s->gate_rest[l] += pos_sum;
    }
    s->gate_seen[l] = 1;
}

/* gbar(l, s): mean gate of layer l over this sequence's positions, heads and gate
 * dims. Needs the layer's gate event (it fires before attn_out: model/hooks.h). */
static double layer_gate_mean(const struct seq_stats *s, int l)
{
    const struct probes_shape *c = &s->shape;
    double sum = 0;
    for (int h = 0; h < c->n_heads; h++)
        sum += s->gate_sum[(size_t)l * c->n_heads + h];
    return sum / ((double)c->T * c->n_heads * c->gate_dim);
}

/* attention output [T, H, D] before (gated = 0) or after the gate. Before the gate
 * of a gated model also the control of the paper's Fig. 5: |Y| scaled by the
 * layer's mean gate gbar instead of by each entry's own gate. */
static void attn_output(struct seq_stats *s, int l, int gated, const float *y)
{
    const struct probes_shape *c = &s->shape;
    size_t n = (size_t)c->T * c->n_heads * c->head_dim;
    int control = !gated && c->gate_dim > 0;
    double gbar = control ? layer_gate_mean(s, l) : 0;
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
    double *below = (gated ? s->gated_below : s->out_below) + (size_t)l * PROBES_OUT_THRESHOLDS;
    abssum[l] = sum;
    below[0] = b0;
    below[1] = b1;
    if (control) {
        s->meangate_below[(size_t)l * PROBES_OUT_THRESHOLDS] = m0;
        s->meangate_below[(size_t)l * PROBES_OUT_THRESHOLDS + 1] = m1;
    }
    (gated ? s->gated_seen : s->out_seen)[l] = 1;
}

/* ---- massive activations ---------------------------------------------------- */

static void swapf(float *a, float *b)
{
    float t = *a;
    *a = *b;
    *b = t;
}

/* Quickselect (Hoare partition, median of three): afterwards x[k] is the
 * element of rank k, everything before it <= x[k], everything after >= x[k]. */
static void nth_element(float *x, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (hi > lo) {
        size_t mid = lo + (hi - lo) / 2;
        if (x[mid] < x[lo])
            swapf(&x[mid], &x[lo]);
        if (x[hi] < x[lo])
            swapf(&x[hi], &x[lo]);
        if (x[hi] < x[mid])
            swapf(&x[hi], &x[mid]);
        float pivot = x[mid];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (x[i] < pivot)
                i++;
            while (x[j] > pivot)
                j--;
            if (i <= j) {
                swapf(&x[i], &x[j]);
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return;
    }
}

double probes_median(float *x, size_t n)
{
    if (n == 0)
        return NAN;
    size_t k = n / 2;
    nth_element(x, n, k);
    if (n % 2)
        return x[k];
    float below = x[0];
    for (size_t i = 1; i < k; i++)
        below = x[i] > below ? x[i] : below;
    return 0.5 * ((double)below + (double)x[k]);
}

/* |x| with NaN as +inf (NaN would break the selection; it counts as huge). */
static float abs_value(float x)
{
    float v = fabsf(x);
    return v != v ? INFINITY : v;
}

/* Median of |x[i]| over n values whose top-16-bit histogram is hist: the bit
 * patterns of non-negative floats sort like their values, so the middle ranks
 * lie in one or two buckets; only those are gathered (into out) and selected.
 * Two passes over x instead of a quickselect over all of them. */
static double radix_median(const float *x, size_t n, const uint32_t *hist, float *out)
{
    size_t klo = (n - 1) / 2, khi = n / 2, cum = 0, cum_lo = 0;
    int blo = -1, bhi = -1;
    for (int b = 0; b < 65536 && bhi < 0; b++) {
        if (blo < 0 && cum + hist[b] > klo) {
            blo = b;
            cum_lo = cum;
        }
        if (cum + hist[b] > khi)
            bhi = b;
        cum += hist[b];
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        float v = abs_value(x[i]);
        int b = (int)(float_bits(v) >> 16);
        if (b == blo || b == bhi)
            out[m++] = v;
    }
    nth_element(out, m, klo - cum_lo);
    double lo = out[klo - cum_lo];
    if (khi == klo)
        return lo;
    float hi = out[klo - cum_lo + 1];
    for (size_t i = klo - cum_lo + 2; i < m; i++) /* after the selection the rest is >= lo */
        hi = out[i] < hi ? out[i] : hi;
    return 0.5 * (lo + (double)hi);
}

/* One stream [T, hidden] of layer l: max, top 10, median, counts, and for the
 * residual leaving the layer the position-0 norm ratio. */
static void stream_values(struct seq_stats *s, int l, int st, const float *x)
{
    const struct probes_shape *c = &s->shape;
    size_t n = (size_t)c->T * c->hidden, ls = (size_t)l * PROBES_STREAMS + st;
    double *tv = s->act_top_val + ls * PROBES_ACT_RANKS, *ti = s->act_top_idx + ls * PROBES_ACT_RANKS * 2;
    float mx = 0, floor_ = -1;
    uint32_t *hist = s->radix;
    memset(hist, 0, 65536 * sizeof *hist);
    for (size_t i = 0; i < n; i++) {
        float v = abs_value(x[i]);
        hist[float_bits(v) >> 16]++;
        mx = v > mx ? v : mx;
        if (v > floor_) { /* insert keeping descending order; ties keep the earlier entry */
            int r = PROBES_ACT_RANKS - 1;
            while (r > 0 && v > tv[r - 1]) {
                tv[r] = tv[r - 1];
                ti[2 * r] = ti[2 * (r - 1)];
                ti[2 * r + 1] = ti[2 * (r - 1) + 1];
                r--;
            }
            tv[r] = v;
            ti[2 * r] = (double)(i / c->hidden);
            ti[2 * r + 1] = (double)(i % c->hidden);
            floor_ = (float)tv[PROBES_ACT_RANKS - 1];
        }
    }
    double med = radix_median(x, n, hist, s->scratch);
    double t100 = 100 * med, t1000 = 1000 * med;
    size_t c100 = 0, c1000 = 0, massive = 0;
    for (size_t i = 0; i < n; i++) {
        double v = abs_value(x[i]);
        c100 += v > t100;
        c1000 += v > t1000;
        massive += v > t1000 && v > 100;
    }
    s->act_max[ls] = mx;
    s->act_median[ls] = med;
    s->act_c100[ls] = c100;
    s->act_c1000[ls] = c1000;
    s->act_massive[ls] = massive;
    s->stream_seen[ls] = 1;
    if (st == PROBES_STREAMS - 1) {
        double n0 = 0, rest = 0;
        for (int t = 0; t < c->T; t++) {
            double sq = 0;
            const float *h = x + (size_t)t * c->hidden;
            for (int d = 0; d < c->hidden; d++)
                sq += (double)h[d] * h[d];
            if (t == 0)
                n0 = sqrt(sq);
            else
                rest += sqrt(sq);
        }
        s->resid_ratio[l] = c->T > 1 ? n0 / (rest / (c->T - 1)) : NAN;
    }
}

/* value vectors [T, n_kv, D] of layer l. */
static void value_vectors(struct seq_stats *s, int l, const float *v)
{
    const struct probes_shape *c = &s->shape;
    for (int t = 0; t < c->T; t++) {
        double sum = 0;
        for (int h = 0; h < c->n_kv_heads; h++) {
            const float *x = v + ((size_t)t * c->n_kv_heads + h) * c->head_dim;
            double sq = 0;
            for (int d = 0; d < c->head_dim; d++)
                sq += (double)x[d] * x[d];
            sum += sqrt(sq);
        }
        s->value_norm[(size_t)l * c->T + t] = sum / c->n_kv_heads;
    }
    s->value_seen[l] = 1;
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
static void logits_rows(struct seq_stats *s, int p0, int n, const float *z)
{
    const struct probes_shape *c = &s->shape;
    float *ex = s->scratch; /* [vocab] */
    for (int i = 0; i < n; i++) {
        int p = p0 + i;
        if (p >= c->T - 1 || !s->tokens)
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
        s->nll[p] = (double)mx + log((s0 + s1) + (s2 + s3)) - (double)row[s->tokens[p + 1]];
    }
    s->logit_rows[0] += n;
}

/* ---- dispatch ---------------------------------------------------------------- */

static int shape_is(const struct hook_event *ev, int ndim, int64_t a, int64_t b, int64_t c)
{
    if (ev->ndim != ndim || ev->shape[0] != a)
        return 0;
    return (ndim < 2 || ev->shape[1] == b) && (ndim < 3 || ev->shape[2] == c);
}

enum ss_status seq_stats_event(struct seq_stats *s, const struct hook_event *ev,
                               struct ss_error *err)
{
    const struct probes_shape *c = &s->shape;
    int l = ev->layer, T = c->T;
    if (ev->point != HOOK_LOGITS && ev->point != HOOK_FINAL_NORM && (l < 0 || l >= c->n_layers))
        return ss_fail(err, SS_ERR_INTERNAL, "probes: %s event for layer %d of %d",
                       hook_point_name(ev->point), l, c->n_layers);
    int ok = 1;
    switch (ev->point) {
    case HOOK_ATTN_PROBS: {
        int nq = ev->ndim == 2 ? (int)ev->shape[0] : -1;
        ok = ev->ndim == 2 && ev->head >= 0 && ev->head < c->n_heads && ev->q0 >= 0 && nq >= 0 &&
             ev->q0 + nq <= T && ev->shape[1] >= ev->q0 + nq;
        if (ok)
            attn_tile(s, l, ev->head, ev->q0, nq, ev->shape[1], ev->data);
        break;
    }
    case HOOK_GATE:
        ok = c->gate_dim > 0 && shape_is(ev, 3, T, c->n_heads, c->gate_dim);
        if (ok)
            gate_values(s, l, ev->data);
        break;
    case HOOK_ATTN_OUT:
    case HOOK_ATTN_GATED:
        if (ev->point == HOOK_ATTN_OUT && c->gate_dim > 0 && !s->gate_seen[l])
            return ss_fail(err, SS_ERR_INTERNAL, "probes: attn_out of layer %d arrived before its gate event "
                           "(model/hooks.h: gate fires first)", l);
        ok = shape_is(ev, 3, T, c->n_heads, c->head_dim);
        if (ok)
            attn_output(s, l, ev->point == HOOK_ATTN_GATED, ev->data);
        break;
    case HOOK_O_PROJ:
    case HOOK_RESID_MID:
    case HOOK_FFN_OUT:
    case HOOK_RESID_POST: {
        int st = ev->point == HOOK_O_PROJ ? 0 : ev->point == HOOK_RESID_MID ? 1
               : ev->point == HOOK_FFN_OUT ? 2 : 3;
        ok = shape_is(ev, 2, T, c->hidden, 0);
        if (ok)
            stream_values(s, l, st, ev->data);
        break;
    }
    case HOOK_V:
        ok = shape_is(ev, 3, T, c->n_kv_heads, c->head_dim);
        if (ok)
            value_vectors(s, l, ev->data);
        break;
    case HOOK_LOGITS: {
        int n = ev->ndim == 2 ? (int)ev->shape[0] : -1;
        ok = ev->ndim == 2 && ev->shape[1] == c->vocab && ev->q0 >= 0 && n >= 0 && ev->q0 + n <= T;
        if (ok)
            logits_rows(s, ev->q0, n, ev->data);
        break;
    }
    default:
        break;
    }
    if (!ok)
        return ss_fail(err, SS_ERR_INTERNAL,
                       "probes: %s event of layer %d has shape [%lld,%lld,%lld] (ndim %d), not the run's",
                       hook_point_name(ev->point), l, (long long)ev->shape[0],
                       (long long)ev->shape[1], (long long)ev->shape[2], ev->ndim);
    return SS_OK;
}

enum ss_status seq_stats_check(const struct seq_stats *s, struct ss_error *err)
{
    const struct probes_shape *c = &s->shape;
    for (int l = 0; l < c->n_layers; l++) {
        for (int h = 0; h < c->n_heads; h++)
            if (s->rows_seen[(size_t)l * c->n_heads + h] != c->T)
                return ss_fail(err, SS_ERR_INTERNAL, "probes: attn_probs of layer %d head %d covered %g of %d rows",
                               l, h, s->rows_seen[(size_t)l * c->n_heads + h], c->T);
        for (int st = 0; st < PROBES_STREAMS; st++)
            if (!s->stream_seen[l * PROBES_STREAMS + st])
                return ss_fail(err, SS_ERR_INTERNAL, "probes: no %s event for layer %d",
                               probes_stream_name(st), l);
        if (!s->out_seen[l] || !s->value_seen[l])
            return ss_fail(err, SS_ERR_INTERNAL, "probes: no %s event for layer %d",
                           s->out_seen[l] ? "v" : "attn_out", l);
        if (c->gate_dim > 0 && !s->gate_seen[l])
            return ss_fail(err, SS_ERR_INTERNAL, "probes: no gate event for layer %d", l);
    }
    if (s->logit_rows[0] != c->T)
        return ss_fail(err, SS_ERR_INTERNAL, "probes: logits covered %g of %d positions",
                       s->logit_rows[0], c->T);
    return SS_OK;
}

/* ---- run totals ---------------------------------------------------------------- */

static size_t run_stats_layout(struct run_stats *r, double *base)
{
    const struct probes_shape *c = &r->shape;
    size_t L = c->n_layers, H = c->n_heads, T = c->T, LS = L * PROBES_STREAMS, o = 0;
#define F(field, count) (r->field = base ? base + o : NULL, o += (count))
    F(fts, L * H);
    F(fts0, L * H);
    F(profile, L * T);
    F(alpha, L * H * T);
    F(sink_count, PROBES_SINK_KEYS);
    F(entropy, L * H);
    F(gate_sum, L * H);
    F(gate_sumsq, L * H);
    F(gate_min, L * H);
    F(gate_max, L * H);
    F(gate_hist, L * PROBES_GATE_BINS);
    F(gate_below, L * PROBES_GATE_THRESHOLDS);
    F(gate_pos0, L);
    F(gate_rest, L);
    F(gate_by_pos, L * T);
    F(out_abssum, L);
    F(out_below, L * PROBES_OUT_THRESHOLDS);
    F(gated_abssum, L);
    F(gated_below, L * PROBES_OUT_THRESHOLDS);
    F(meangate_below, L * PROBES_OUT_THRESHOLDS);
    F(act_max, LS);
    F(act_median, LS);
    F(act_c100, LS);
    F(act_c1000, LS);
    F(act_massive, LS);
    F(act_top_val, LS * PROBES_ACT_RANKS);
    F(act_top_idx, LS * PROBES_ACT_RANKS * 3);
    F(resid_ratio, L);
    F(value_norm, L * T);
    F(nll_sum, 1);
    F(nll_count, 1);
#undef F
    return o;
}

enum ss_status run_stats_init(struct run_stats *r, const struct probes_shape *shape,
                              double sink_epsilon, struct ss_error *err)
{
    memset(r, 0, sizeof *r);
    r->shape = *shape;
    r->sink_epsilon = sink_epsilon;
    r->n = run_stats_layout(r, NULL);
    r->buf = calloc(r->n, sizeof *r->buf);
    if (!r->buf)
        return ss_fail(err, SS_ERR_NOMEM, "probes: out of memory for %zu run totals", r->n);
    run_stats_layout(r, r->buf);
    size_t LH = (size_t)shape->n_layers * shape->n_heads;
    for (size_t i = 0; i < LH; i++) {
        r->gate_min[i] = INFINITY;
        r->gate_max[i] = -INFINITY;
    }
    size_t nt = (size_t)shape->n_layers * PROBES_STREAMS * PROBES_ACT_RANKS;
    for (size_t i = 0; i < nt; i++) {
        r->act_top_val[i] = -1;
        r->act_top_idx[3 * i] = r->act_top_idx[3 * i + 1] = r->act_top_idx[3 * i + 2] = -1;
    }
    return SS_OK;
}

void run_stats_free(struct run_stats *r)
{
    free(r->buf);
    r->buf = NULL;
}

static void add(double *dst, const double *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] += src[i];
}

/* Merge a sequence's top list into the run's: descending, earlier (seq, pos, dim) first on ties. */
static void merge_top(double *rv, double *ri, const double *sv, const double *si, int seq)
{
    double v[PROBES_ACT_RANKS], idx[PROBES_ACT_RANKS * 3];
    int a = 0, b = 0;
    for (int k = 0; k < PROBES_ACT_RANKS; k++) {
        if (b >= PROBES_ACT_RANKS || (a < PROBES_ACT_RANKS && rv[a] >= sv[b])) {
            v[k] = rv[a];
            memcpy(idx + 3 * k, ri + 3 * a, 3 * sizeof *idx);
            a++;
        } else {
            v[k] = sv[b];
            idx[3 * k] = sv[b] < 0 ? -1 : seq;
            idx[3 * k + 1] = si[2 * b];
            idx[3 * k + 2] = si[2 * b + 1];
            b++;
        }
    }
    memcpy(rv, v, sizeof v);
    memcpy(ri, idx, sizeof idx);
}

void run_stats_fold(struct run_stats *r, const struct seq_stats *s, int seq)
{
    const struct probes_shape *c = &r->shape;
    int L = c->n_layers, H = c->n_heads, T = c->T;
    size_t LH = (size_t)L * H, LS = (size_t)L * PROBES_STREAMS;
    for (size_t lh = 0; lh < LH; lh++) {
        r->fts[lh] += T > 1 ? s->fts_sum[lh] / (T - 1) : NAN;
        r->fts0[lh] += (s->fts_sum[lh] + s->a00[lh]) / T;
        r->entropy[lh] += T > 1 ? s->entropy_sum[lh] / (T - 1) : NAN;
        for (int k = 0; k < T; k++) {
            int seen_by = T - k; /* queries that can see key k: k <= q < k + window */
            if (c->window > 0 && seen_by > c->window)
                seen_by = c->window;
            double alpha = s->colsum[lh * T + k] / seen_by;
            r->alpha[lh * T + k] += alpha;
            if (k < PROBES_SINK_KEYS)
                r->sink_count[k] += alpha > r->sink_epsilon;
        }
        r->gate_min[lh] = s->gate_min[lh] < r->gate_min[lh] ? s->gate_min[lh] : r->gate_min[lh];
        r->gate_max[lh] = s->gate_max[lh] > r->gate_max[lh] ? s->gate_max[lh] : r->gate_max[lh];
    }
    for (size_t i = 0; i < (size_t)L * T; i++)
        r->profile[i] += s->profile[i] / H;
    add(r->gate_sum, s->gate_sum, LH);
    add(r->gate_sumsq, s->gate_sumsq, LH);
    add(r->gate_hist, s->gate_hist, (size_t)L * PROBES_GATE_BINS);
    add(r->gate_below, s->gate_below, (size_t)L * PROBES_GATE_THRESHOLDS);
    add(r->gate_pos0, s->gate_pos0, L);
    add(r->gate_rest, s->gate_rest, L);
    add(r->gate_by_pos, s->gate_by_pos, (size_t)L * T);
    add(r->out_abssum, s->out_abssum, L);
    add(r->out_below, s->out_below, (size_t)L * PROBES_OUT_THRESHOLDS);
    add(r->meangate_below, s->meangate_below, (size_t)L * PROBES_OUT_THRESHOLDS);
    for (int l = 0; l < L; l++) { /* ungated models may not fire attn_gated: it equals attn_out */
        int g = s->gated_seen[l] != 0;
        r->gated_abssum[l] += g ? s->gated_abssum[l] : s->out_abssum[l];
        for (int k = 0; k < PROBES_OUT_THRESHOLDS; k++)
            r->gated_below[l * PROBES_OUT_THRESHOLDS + k] +=
                (g ? s->gated_below : s->out_below)[l * PROBES_OUT_THRESHOLDS + k];
    }
    for (size_t i = 0; i < LS; i++) {
        r->act_max[i] = s->act_max[i] > r->act_max[i] ? s->act_max[i] : r->act_max[i];
        merge_top(r->act_top_val + i * PROBES_ACT_RANKS, r->act_top_idx + i * PROBES_ACT_RANKS * 3,
                  s->act_top_val + i * PROBES_ACT_RANKS, s->act_top_idx + i * PROBES_ACT_RANKS * 2, seq);
    }
    add(r->act_median, s->act_median, LS);
    add(r->act_c100, s->act_c100, LS);
    add(r->act_c1000, s->act_c1000, LS);
    add(r->act_massive, s->act_massive, LS);
    add(r->resid_ratio, s->resid_ratio, L);
    add(r->value_norm, s->value_norm, (size_t)L * T);
    for (int t = 0; t < T - 1; t++) {
        r->nll_sum[0] += s->nll[t];
        r->nll_count[0] += 1;
    }
    r->n_seqs++;
}
