/* probes/stat_activations.c — massive activations (docs/SCHEMA.md, 6; Sun et al. 2024): per
 * layer and stream (attention output after o_proj, the residual after attention, the FFN
 * output, the residual leaving the layer) the max |x|, the 10 largest with their (seq, pos,
 * dim), the median, counts of entries far above it, and the position-0 norm ratio of the
 * residual; M-Act and the max activation for /summary. */
#include <math.h>
#include <string.h>

#include "stat.h"

#define NS PROBES_STREAMS
#define NA PROBES_ACT_RANKS

struct act_acc {               /* one sequence, [L, NS] unless noted */
    double *max, *median, *c100, *c1000, *massive;
    double *top_val;           /* [L,NS,NA] descending */
    double *top_idx;           /* [L,NS,NA,2] (pos, dim) */
    double *seen;
    double *resid_ratio;       /* [L] ||h_0|| / mean_{t>=1} ||h_t|| of resid_post */
};

struct act_tot {
    double *max, *median, *c100, *c1000, *massive;
    double *top_val;           /* [L,NS,NA] */
    double *top_idx;           /* [L,NS,NA,3] (seq, pos, dim) */
    double *resid_ratio;       /* [L] */
};

static size_t acc_layout(const struct probes_shape *c, double *base, struct act_acc *v)
{
    size_t L = c->n_layers, LS = L * NS, o = 0;
    STAT_FIELD(v, max, base, o, LS);
    STAT_FIELD(v, median, base, o, LS);
    STAT_FIELD(v, c100, base, o, LS);
    STAT_FIELD(v, c1000, base, o, LS);
    STAT_FIELD(v, massive, base, o, LS);
    STAT_FIELD(v, top_val, base, o, LS * NA);
    STAT_FIELD(v, top_idx, base, o, LS * NA * 2);
    STAT_FIELD(v, seen, base, o, LS);
    STAT_FIELD(v, resid_ratio, base, o, L);
    return o;
}

static size_t tot_layout(const struct probes_shape *c, double *base, struct act_tot *v)
{
    size_t L = c->n_layers, LS = L * NS, o = 0;
    STAT_FIELD(v, max, base, o, LS);
    STAT_FIELD(v, median, base, o, LS);
    STAT_FIELD(v, c100, base, o, LS);
    STAT_FIELD(v, c1000, base, o, LS);
    STAT_FIELD(v, massive, base, o, LS);
    STAT_FIELD(v, top_val, base, o, LS * NA);
    STAT_FIELD(v, top_idx, base, o, LS * NA * 3);
    STAT_FIELD(v, resid_ratio, base, o, L);
    return o;
}

static size_t seq_size(const struct probes_shape *c)
{
    struct act_acc v;
    return acc_layout(c, NULL, &v);
}

static size_t run_size(const struct probes_shape *c)
{
    struct act_tot v;
    return tot_layout(c, NULL, &v);
}

/* Top lists empty: values -1 (below any |x|), indices -1. */
static void seq_reset(double *acc, const struct probes_shape *c)
{
    struct act_acc s;
    memset(acc, 0, acc_layout(c, acc, &s) * sizeof *acc);
    for (size_t i = 0; i < (size_t)c->n_layers * NS * NA; i++) {
        s.top_val[i] = -1;
        s.top_idx[2 * i] = s.top_idx[2 * i + 1] = -1;
    }
}

static void run_init(double *tot, const struct probes_shape *c)
{
    struct act_tot r;
    memset(tot, 0, tot_layout(c, tot, &r) * sizeof *tot);
    for (size_t i = 0; i < (size_t)c->n_layers * NS * NA; i++) {
        r.top_val[i] = -1;
        r.top_idx[3 * i] = r.top_idx[3 * i + 1] = r.top_idx[3 * i + 2] = -1;
    }
}

static uint32_t float_bits(float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

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
static void stream_values(const struct stat_seq *q, struct act_acc *s, int l, int st, const float *x)
{
    const struct probes_shape *c = q->shape;
    size_t n = (size_t)c->T * c->hidden, ls = (size_t)l * PROBES_STREAMS + st;
    double *tv = s->top_val + ls * PROBES_ACT_RANKS, *ti = s->top_idx + ls * PROBES_ACT_RANKS * 2;
    float mx = 0, floor_ = -1;
    uint32_t *hist = q->radix;
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
    double med = radix_median(x, n, hist, q->scratch);
    double t100 = 100 * med, t1000 = 1000 * med;
    size_t c100 = 0, c1000 = 0, massive = 0;
    for (size_t i = 0; i < n; i++) {
        double v = abs_value(x[i]);
        c100 += v > t100;
        c1000 += v > t1000;
        massive += v > t1000 && v > 100;
    }
    s->max[ls] = mx;
    s->median[ls] = med;
    s->c100[ls] = c100;
    s->c1000[ls] = c1000;
    s->massive[ls] = massive;
    s->seen[ls] = 1;
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

static enum ss_status event(const struct stat_seq *q, double *acc, const struct hook_event *ev,
                            struct ss_error *err)
{
    const struct probes_shape *c = q->shape;
    int st = ev->point == HOOK_O_PROJ ? 0 : ev->point == HOOK_RESID_MID ? 1 : ev->point == HOOK_FFN_OUT ? 2 : 3;
    if (!stat_shape_is(ev, 2, c->T, c->hidden, 0))
        return stat_bad_shape(ev, err);
    struct act_acc s;
    acc_layout(c, acc, &s);
    stream_values(q, &s, ev->layer, st, ev->data);
    return SS_OK;
}

static enum ss_status check(const double *acc, const struct probes_shape *c, struct ss_error *err)
{
    struct act_acc s;
    acc_layout(c, (double *)acc, &s);
    for (int l = 0; l < c->n_layers; l++)
        for (int st = 0; st < NS; st++)
            if (!s.seen[l * NS + st])
                return ss_fail(err, SS_ERR_INTERNAL, "probes: no %s event for layer %d", probes_stream_name(st), l);
    return SS_OK;
}

/* Merge a sequence's top list into the run's: descending, earlier (seq, pos, dim) first on ties. */
static void merge_top(double *rv, double *ri, const double *sv, const double *si, int seq)
{
    double v[NA], idx[NA * 3];
    int a = 0, b = 0;
    for (int k = 0; k < NA; k++) {
        if (b >= NA || (a < NA && rv[a] >= sv[b])) {
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

static void fold(double *tot, const double *acc, const struct stat_fold *f)
{
    const struct probes_shape *c = f->shape;
    size_t LS = (size_t)c->n_layers * NS;
    struct act_acc s;
    struct act_tot r;
    acc_layout(c, (double *)acc, &s);
    tot_layout(c, tot, &r);
    for (size_t i = 0; i < LS; i++) {
        r.max[i] = s.max[i] > r.max[i] ? s.max[i] : r.max[i];
        merge_top(r.top_val + i * NA, r.top_idx + i * NA * 3, s.top_val + i * NA, s.top_idx + i * NA * 2, f->seq);
    }
    stat_add(r.median, s.median, LS);
    stat_add(r.c100, s.c100, LS);
    stat_add(r.c1000, s.c1000, LS);
    stat_add(r.massive, s.massive, LS);
    stat_add(r.resid_ratio, s.resid_ratio, c->n_layers);
}

static void results(struct stat_results *b, const double *tot, const struct probes_shape *c, int n_seqs)
{
    int L = c->n_layers;
    double S = n_seqs;
    size_t LS = (size_t)L * NS;
    struct act_tot r;
    tot_layout(c, (double *)tot, &r);
    double *mx = stat_push(b, RF_ACT_MAX, L, NS, 0, 0);
    double *tv = stat_push(b, RF_ACT_TOP_VALUE, L, NS, NA, 0);
    double *ti = stat_push(b, RF_ACT_TOP_INDEX, L, NS, NA, 3);
    double *med = stat_push(b, RF_ACT_MEDIAN, L, NS, 0, 0);
    double *ratio = stat_push(b, RF_ACT_MAX_OVER_MEDIAN, L, NS, 0, 0);
    double *c100 = stat_push(b, RF_ACT_COUNT_100X, L, NS, 0, 0);
    double *c1000 = stat_push(b, RF_ACT_COUNT_1000X, L, NS, 0, 0);
    double *cm = stat_push(b, RF_ACT_COUNT_MASSIVE, L, NS, 0, 0);
    double *rr = stat_push(b, RF_RESID_POS0_NORM_RATIO, L, 0, 0, 0);
    if (!rr)
        return;
    for (size_t i = 0; i < LS; i++) {
        mx[i] = r.max[i];
        med[i] = r.median[i] / S;
        ratio[i] = mx[i] / med[i];
        c100[i] = r.c100[i];
        c1000[i] = r.c1000[i];
        cm[i] = r.massive[i];
    }
    memcpy(tv, r.top_val, LS * NA * sizeof *tv);
    memcpy(ti, r.top_idx, LS * NA * 3 * sizeof *ti);
    for (int l = 0; l < L; l++)
        rr[l] = r.resid_ratio[l] / S;
}

/* M-Act: mean over layers of the max |x| leaving the layer; and its max. */
static void summary(struct stat_results *b, const double *tot, const struct probes_shape *c, int n_seqs)
{
    int L = c->n_layers;
    struct act_tot r;
    tot_layout(c, (double *)tot, &r);
    double *mam = stat_push(b, RF_SUMMARY_MAX_ACTIVATION_MEAN, 0, 0, 0, 0);
    double *ma = stat_push(b, RF_SUMMARY_MAX_ACTIVATION, 0, 0, 0, 0);
    if (!ma)
        return;
    double sum = 0, mx = 0;
    for (int l = 0; l < L; l++) {
        double v = r.max[l * NS + NS - 1];
        sum += v;
        mx = v > mx ? v : mx;
    }
    *mam = sum / L;
    *ma = mx;
    (void)n_seqs;
}

const struct stat_module stat_activations = {
    .name = "activations",
    .points = STAT_POINT(HOOK_O_PROJ) | STAT_POINT(HOOK_RESID_MID) | STAT_POINT(HOOK_FFN_OUT) |
              STAT_POINT(HOOK_RESID_POST),
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
