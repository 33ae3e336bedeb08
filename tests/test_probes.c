/* Statistics of probes/ on hand-made hook events with hand-computed answers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../probes/probes.h"
#include "test_probes_util.h"
#include "test_util.h"

#define NEAR(a, b, tol)                                                                    \
    do {                                                                                   \
        double a_ = (a), b_ = (b);                                                         \
        if (!(fabs(a_ - b_) <= (tol)))                                                     \
            printf("\n  %s = %.10g, expected %.10g (diff %.3g)\n", #a, a_, b_, fabs(a_ - b_)); \
        CU_ASSERT(fabs(a_ - b_) <= (tol));                                                 \
    } while (0)

static struct probes_shape shape_of(int L, int H, int kv, int D, int hidden, int vocab, int G, int T)
{
    struct probes_shape s = {L, H, kv, D, hidden, vocab, G, T};
    return s;
}

/* Accumulators for shape sh with sink epsilon eps, and their release with the results. */
static void stats_open(struct seq_stats *s, struct run_stats *r, const struct probes_shape *sh, double eps)
{
    CU_ASSERT_EQUAL_FATAL(seq_stats_init(s, sh, NULL), SS_OK);
    CU_ASSERT_EQUAL_FATAL(run_stats_init(r, sh, eps, NULL), SS_OK);
}

static void stats_close(struct probes_results *res, struct run_stats *r, struct seq_stats *s)
{
    probes_results_free(res);
    run_stats_free(r);
    seq_stats_free(s);
}

static void fire(struct seq_stats *s, enum hook_point p, int layer, int head, int q0, const float *data,
                 int ndim, int64_t a, int64_t b, int64_t c)
{
    struct hook_event ev = {p, layer, data, ndim, {a, b, c}, head, q0, s->shape.T};
    struct ss_error err = {0};
    CU_ASSERT_EQUAL(seq_stats_event(s, &ev, &err), SS_OK);
}

/* The 4x4 map of the first-token, alpha and entropy tests. */
static const float map4[16] = {
    1.0f, 0, 0, 0,
    0.5f, 0.5f, 0, 0,
    0.25f, 0.25f, 0.5f, 0,
    0.1f, 0.2f, 0.3f, 0.4f,
};

/* Feed map4 as tiles of `tile` rows (each tile [nq, q0+nq], as the forward does). */
static void feed_map4(struct seq_stats *s, int layer, int head, int tile, const float *map)
{
    for (int q0 = 0; q0 < 4; q0 += tile) {
        int nq = q0 + tile > 4 ? 4 - q0 : tile, nk = q0 + nq;
        float buf[16];
        for (int i = 0; i < nq; i++)
            for (int k = 0; k < nk; k++)
                buf[i * nk + k] = map[(q0 + i) * 4 + k];
        fire(s, HOOK_ATTN_PROBS, layer, head, q0, buf, 2, nq, nk, 0);
    }
}

/* One sequence whose only attention map is the 4x4 map (layer 0, head 0), folded and computed. */
static void map4_results(struct seq_stats *s, struct run_stats *r, struct probes_results *res,
                         const struct probes_shape *sh, double eps, const float *map)
{
    stats_open(s, r, sh, eps);
    seq_stats_reset(s, NULL);
    feed_map4(s, 0, 0, 4, map);
    run_stats_fold(r, s, 0);
    CU_ASSERT_EQUAL_FATAL(probes_results_compute(r, res, NULL), SS_OK);
}

static const struct probes_dataset *get(const struct probes_results *r, const char *path)
{
    const struct probes_dataset *d = probes_results_find(r, path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    return d;
}

static void test_attention_4x4(void)
{
    struct probes_shape sh = shape_of(1, 1, 1, 2, 4, 3, 0, 4);
    struct seq_stats s;
    struct run_stats r;
    struct probes_results res;
    map4_results(&s, &r, &res, &sh, 0.45, map4);
    double tol = 1e-7;
    /* first-token share: (0.5 + 0.25 + 0.1) / 3; with query 0: (1 + 0.85) / 4 */
    NEAR(get(&res, "/stats/first_token_share")->data[0], 0.85 / 3, tol);
    NEAR(get(&res, "/stats/first_token_share_incl0")->data[0], 1.85 / 4, tol);
    NEAR(get(&res, "/stats/first_token_share_layer")->data[0], 0.85 / 3, tol);
    NEAR(get(&res, "/summary/first_token_share")->data[0], 0.85 / 3, tol);
    const double *prof = get(&res, "/stats/first_token_profile")->data;
    NEAR(prof[0], 1.0, tol);
    NEAR(prof[1], 0.5, tol);
    NEAR(prof[3], 0.1, tol);
    /* alpha_k = mean over q >= k of A[q,k] */
    const double *alpha = get(&res, "/stats/sink_alpha")->data;
    NEAR(alpha[0], 1.85 / 4, tol);
    NEAR(alpha[1], 0.95 / 3, tol);
    NEAR(alpha[2], 0.8 / 2, tol);
    NEAR(alpha[3], 0.4, tol);
    /* at epsilon 0.45 only key 0 is a sink */
    const double *rate = get(&res, "/stats/sink_rate")->data;
    NEAR(rate[0], 1.0, 0);
    NEAR(rate[1], 0.0, 0);
    NEAR(rate[2], 0.0, 0);
    NEAR(get(&res, "/summary/sink_rate")->data[0], 1.0, 0);
    /* entropy of rows 1..3: ln 2; 2 (0.25 ln 4) + 0.5 ln 2; -(0.1 ln .1 + .2 ln .2 + .3 ln .3 + .4 ln .4) */
    double e1 = 0.6931471806, e2 = 0.6931471806 + 0.3465735903;
    double e3 = 0.2302585093 + 0.3218875825 + 0.3611918412 + 0.3665162927;
    NEAR(get(&res, "/stats/attn_entropy")->data[0], (e1 + e2 + e3) / 3, 1e-6);
    /* most-attended keys: 0 (.4625), 2 (.4), 3 (.4), 1 (.3167); a 5th does not exist */
    const double *tp = get(&res, "/stats/top_key_pos")->data, *ta = get(&res, "/stats/top_key_alpha")->data;
    CU_ASSERT_EQUAL(get(&res, "/stats/top_key_pos")->is_int, 1);
    NEAR(tp[0], 0, 0);
    NEAR(tp[1], 2, 0);
    NEAR(tp[2], 3, 0);
    NEAR(tp[3], 1, 0);
    NEAR(tp[4], -1, 0);
    NEAR(ta[0], 0.4625, tol);
    NEAR(ta[3], 0.95 / 3, tol);
    stats_close(&res, &r, &s);
}

/* A sliding window of 2 keys: each query sees itself and the key before. alpha_k is
 * the mean over the queries that can see k (k and k + 1), not over every q >= k. */
static void test_alpha_window(void)
{
    static const float win4[16] = {
        1.0f, 0, 0, 0,
        0.6f, 0.4f, 0, 0,
        0, 0.3f, 0.7f, 0,
        0, 0, 0.2f, 0.8f,
    };
    struct probes_shape sh = shape_of(1, 1, 1, 2, 4, 3, 0, 4);
    sh.window = 2;
    struct seq_stats s;
    struct run_stats r;
    struct probes_results res;
    map4_results(&s, &r, &res, &sh, 0.3, win4);
    const double *a = get(&res, "/stats/sink_alpha")->data;
    printf("\n  window 2: alpha_0..3 = %.3f %.3f %.3f %.3f", a[0], a[1], a[2], a[3]);
    NEAR(a[0], (1.0 + 0.6) / 2, 1e-7); /* full causal would give 1.6 / 4 */
    NEAR(a[1], (0.4 + 0.3) / 2, 1e-7);
    NEAR(a[2], (0.7 + 0.2) / 2, 1e-7);
    NEAR(a[3], 0.8, 1e-7);
    const double *rate = get(&res, "/stats/sink_rate")->data;
    NEAR(rate[0], 1.0, 0);
    NEAR(rate[1], 1.0, 0); /* alpha_1 = 0.35 > 0.3; counted over q >= 1 it would be 0.7/3 = 0.23 */
    stats_close(&res, &r, &s);
}

/* Two sequences, two heads: per-(layer, head) means over sequences; sink rate over (seq, layer, head). */
static void test_attention_aggregation(void)
{
    static const float uniform4[16] = {
        1.0f, 0, 0, 0,
        0.5f, 0.5f, 0, 0,
        1 / 3.0f, 1 / 3.0f, 1 / 3.0f, 0,
        0.25f, 0.25f, 0.25f, 0.25f,
    };
    struct probes_shape sh = shape_of(1, 2, 1, 2, 4, 3, 0, 4);
    struct seq_stats s;
    struct run_stats r;
    struct probes_results res;
    stats_open(&s, &r, &sh, 0.3);
    for (int seq = 0; seq < 2; seq++) {
        seq_stats_reset(&s, NULL);
        feed_map4(&s, 0, 0, 2, seq == 0 ? map4 : uniform4);
        feed_map4(&s, 0, 1, 3, uniform4);
        run_stats_fold(&r, &s, seq);
    }
    CU_ASSERT_EQUAL_FATAL(probes_results_compute(&r, &res, NULL), SS_OK);
    double u = (0.5 + 1 / 3.0 + 0.25) / 3; /* uniform rows: 1/(q+1) */
    const double *f = get(&res, "/stats/first_token_share")->data;
    NEAR(f[0], (0.85 / 3 + u) / 2, 1e-7);
    NEAR(f[1], u, 1e-7);
    NEAR(get(&res, "/stats/first_token_share_layer")->data[0], ((0.85 / 3 + u) / 2 + u) / 2, 1e-7);
    /* alpha_1: map4 0.95/3 (> 0.3), uniform (0.5 + 1/3 + 0.25)/3 = 0.361 (> 0.3);
     * alpha_2: map4 0.4, uniform (1/3 + 1/4)/2 = 0.2917 (< 0.3): 1 of 4 (seq, head) */
    const double *rate = get(&res, "/stats/sink_rate")->data;
    NEAR(rate[0], 1.0, 0);
    NEAR(rate[1], 1.0, 0);
    NEAR(rate[2], 0.25, 0);
    NEAR(get(&res, "/stats/sink_alpha")->data[2], (0.4 + (1 / 3.0 + 0.25) / 2) / 2, 1e-7);
    /* profile averages heads then sequences: position 3 = ((0.1 + 0.25)/2 + 0.25) / 2 */
    NEAR(get(&res, "/stats/first_token_profile")->data[3], ((0.1 + 0.25) / 2 + 0.25) / 2, 1e-7);
    stats_close(&res, &r, &s);
}

/* The same map in tiles of 1, 2, 3 and 4 rows gives bit-identical accumulators. */
static void test_tile_invariance(void)
{
    struct probes_shape sh = shape_of(1, 1, 1, 2, 4, 3, 0, 4);
    struct seq_stats s, ref;
    CU_ASSERT_EQUAL_FATAL(seq_stats_init(&s, &sh, NULL), SS_OK);
    CU_ASSERT_EQUAL_FATAL(seq_stats_init(&ref, &sh, NULL), SS_OK);
    feed_map4(&ref, 0, 0, 4, map4);
    for (int tile = 1; tile <= 3; tile++) {
        seq_stats_reset(&s, NULL);
        feed_map4(&s, 0, 0, tile, map4);
        double md = 0;
        for (size_t i = 0; i < s.n; i++)
            md = fmax(md, fabs(s.buf[i] - ref.buf[i]));
        printf("\n  tile %d rows: max diff of accumulators %g", tile, md);
        CU_ASSERT(memcmp(s.buf, ref.buf, s.n * sizeof *s.buf) == 0);
    }
    seq_stats_free(&s);
    seq_stats_free(&ref);
    /* a whole synthetic sequence (2 layers, elementwise gates, T = 7) */
    struct probes_shape sh2 = shape_of(2, 2, 1, 4, 8, 11, 4, 7);
    CU_ASSERT_EQUAL_FATAL(seq_stats_init(&s, &sh2, NULL), SS_OK);
    CU_ASSERT_EQUAL_FATAL(seq_stats_init(&ref, &sh2, NULL), SS_OK);
    test_feed_sequence(&ref, 5, 7);
    for (int tile = 1; tile <= 3; tile += 2) {
        test_feed_sequence(&s, 5, tile);
        CU_ASSERT(memcmp(s.buf, ref.buf, s.n * sizeof *s.buf) == 0);
    }
    CU_ASSERT_EQUAL(seq_stats_check(&s, NULL), SS_OK);
    seq_stats_free(&s);
    seq_stats_free(&ref);
}

static void test_gates(void)
{
    /* [T=2, H=2, G=2] */
    static const float g[8] = {0.0f, 0.05f, 0.2f, 1.0f, /* t0: h0, h1 */
                               0.6f, 0.005f, 0.3f, 0.4f}; /* t1 */
    struct probes_shape sh = shape_of(1, 2, 1, 2, 4, 3, 2, 2);
    struct seq_stats s;
    struct run_stats r;
    struct probes_results res;
    stats_open(&s, &r, &sh, 0.3);
    fire(&s, HOOK_GATE, 0, -1, 0, g, 3, 2, 2, 2);
    run_stats_fold(&r, &s, 0);
    CU_ASSERT_EQUAL_FATAL(probes_results_compute(&r, &res, NULL), SS_OK);
    double tol = 1e-7;
    const double *m = get(&res, "/stats/gate_mean")->data;
    NEAR(m[0], 0.655 / 4, tol);
    NEAR(m[1], 1.9 / 4, tol);
    /* std of {0, .05, .6, .005}: sqrt(mean of squares - mean^2) */
    NEAR(get(&res, "/stats/gate_std")->data[0], sqrt(0.362525 / 4 - (0.655 / 4) * (0.655 / 4)), 1e-6);
    NEAR(get(&res, "/stats/gate_min")->data[0], 0.0, 0);
    NEAR(get(&res, "/stats/gate_max")->data[0], 0.6, 1e-7);
    NEAR(get(&res, "/stats/gate_min")->data[1], 0.2, 1e-7);
    NEAR(get(&res, "/stats/gate_max")->data[1], 1.0, 0);
    /* 8 values, bin width 0.02: bin 0 holds 0 and 0.005; density = count * 50 / 8 */
    const double *h = get(&res, "/stats/gate_hist")->data;
    NEAR(h[0], 12.5, 0);
    NEAR(h[2], 6.25, 0);
    NEAR(h[10], 6.25, 0);
    NEAR(h[49], 6.25, 0);
    NEAR(h[1], 0, 0);
    double total = 0;
    for (int k = 0; k < PROBES_GATE_BINS; k++)
        total += get(&res, "/stats/gate_hist_pooled")->data[k];
    NEAR(total, PROBES_GATE_BINS, 1e-9);
    const double *below = get(&res, "/stats/gate_frac_below")->data;
    NEAR(below[0], 2 / 8.0, 0);
    NEAR(below[1], 3 / 8.0, 0);
    NEAR(below[2], 6 / 8.0, 0);
    NEAR(get(&res, "/stats/gate_mean_pos0")->data[0], 1.25 / 4, tol);
    NEAR(get(&res, "/stats/gate_mean_rest")->data[0], 1.305 / 4, tol);
    NEAR(get(&res, "/stats/gate_mean_by_pos")->data[1], 1.305 / 4, tol);
    NEAR(get(&res, "/summary/gate_mean")->data[0], 2.555 / 8, tol);
    stats_close(&res, &r, &s);
}

static void test_attn_output(void)
{
    static const float y[4] = {0.005f, -0.5f, 0.0005f, 2.0f};
    static const float yg[4] = {0.0001f, -0.1f, 0.2f, 0.00001f};
    struct probes_shape sh = shape_of(2, 1, 1, 2, 4, 3, 0, 2);
    struct seq_stats s;
    struct run_stats r;
    struct probes_results res;
    stats_open(&s, &r, &sh, 0.3);
    fire(&s, HOOK_ATTN_OUT, 0, -1, 0, y, 3, 2, 1, 2);
    fire(&s, HOOK_ATTN_GATED, 0, -1, 0, yg, 3, 2, 1, 2);
    fire(&s, HOOK_ATTN_OUT, 1, -1, 0, y, 3, 2, 1, 2); /* layer 1: no attn_gated event (ungated) */
    run_stats_fold(&r, &s, 0);
    CU_ASSERT_EQUAL_FATAL(probes_results_compute(&r, &res, NULL), SS_OK);
    const double *oa = get(&res, "/stats/attn_out_absmean")->data, *ga = get(&res, "/stats/attn_gated_absmean")->data;
    const double *of = get(&res, "/stats/attn_out_frac_below")->data, *gf = get(&res, "/stats/attn_gated_frac_below")->data;
    NEAR(oa[0], 2.5055 / 4, 1e-7);
    NEAR(of[0], 0.5, 0);
    NEAR(of[1], 0.25, 0);
    NEAR(ga[0], 0.30011 / 4, 1e-7);
    NEAR(gf[0], 0.5, 0);
    NEAR(gf[1], 0.5, 0);
    NEAR(ga[1], oa[1], 0);
    NEAR(gf[3], of[3], 0);
    CU_ASSERT_PTR_NULL(probes_results_find(&res, "/stats/gate_mean")); /* ungated run */
    CU_ASSERT_PTR_NULL(probes_results_find(&res, "/summary/gate_mean"));
    CU_ASSERT_PTR_NULL(probes_results_find(&res, "/stats/attn_meangate_frac_below"));
    stats_close(&res, &r, &s);
}

/* The Fig. 5 control: |Y| x gbar(l, s), gbar the mean gate of the layer in that
 * sequence (over positions, heads and gate dims), below 1e-2 and 1e-3. Elementwise
 * gates, T = 2, H = 2, D = G = 2, two sequences; layer 1 has every gate 1 (--gate off). */
static void test_meangate_control(void)
{
    /* gates [T, H, G]; seq 0 sums to 3.2 -> gbar 0.4; seq 1 sums to 0.4 -> gbar 0.05 */
    static const float g0[8] = {0.0f, 0.2f, 0.3f, 0.3f, 0.9f, 0.1f, 0.7f, 0.7f};
    static const float g1[8] = {0.02f, 0.08f, 0.05f, 0.05f, 0.1f, 0.0f, 0.04f, 0.06f};
    static const float ones[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    /* Y [T, H, D]. seq 0 x 0.4: .008 .012 .0008 .00096 .04 .00004 .02 .0104 -> 4 below 1e-2, 3 below 1e-3
     *              seq 1 x 0.05: .015 .0075 .0006 .025 .00095 .1 .000055 .005 -> 5 below 1e-2, 3 below 1e-3
     * (a run-wide gbar of 0.225 gives 3 below 1e-2 in seq 1; each entry's own gate 5 in seq 0) */
    static const float y0[8] = {0.02f, -0.03f, 0.002f, 0.0024f, 0.1f, -0.0001f, 0.05f, 0.026f};
    static const float y1[8] = {0.3f, -0.15f, 0.012f, 0.5f, 0.019f, 2.0f, -0.0011f, 0.1f};
    const float *gates[2] = {g0, g1}, *ys[2] = {y0, y1};
    struct probes_shape sh = shape_of(2, 2, 1, 2, 4, 3, 2, 2);
    struct seq_stats s;
    struct run_stats r;
    struct probes_results res;
    stats_open(&s, &r, &sh, 0.3);
    for (int seq = 0; seq < 2; seq++) {
        seq_stats_reset(&s, NULL);
        fire(&s, HOOK_GATE, 0, -1, 0, gates[seq], 3, 2, 2, 2);
        fire(&s, HOOK_ATTN_OUT, 0, -1, 0, ys[seq], 3, 2, 2, 2);
        fire(&s, HOOK_GATE, 1, -1, 0, ones, 3, 2, 2, 2);
        fire(&s, HOOK_ATTN_OUT, 1, -1, 0, ys[seq], 3, 2, 2, 2);
        run_stats_fold(&r, &s, seq);
    }
    CU_ASSERT_EQUAL_FATAL(probes_results_compute(&r, &res, NULL), SS_OK);
    const struct probes_dataset *d = get(&res, "/stats/attn_meangate_frac_below");
    CU_ASSERT_EQUAL(d->ndim, 2);
    CU_ASSERT_EQUAL(d->shape[0], 2);
    CU_ASSERT_EQUAL(d->shape[1], PROBES_OUT_THRESHOLDS);
    CU_ASSERT_STRING_EQUAL(d->dims[1], "out_threshold");
    const double *m = d->data, *of = get(&res, "/stats/attn_out_frac_below")->data;
    printf("\n  layer 0: %g %g, layer 1: %g %g", m[0], m[1], m[2], m[3]);
    NEAR(m[0], 9 / 16.0, 0);
    NEAR(m[1], 6 / 16.0, 0);
    /* gbar = 1: the control is the before-gate fraction (seq 0: .002 .0024 .0001; seq 1: .0011) */
    NEAR(m[2], 4 / 16.0, 0);
    NEAR(m[3], 1 / 16.0, 0);
    NEAR(m[2], of[2], 0);
    NEAR(m[3], of[3], 0);
    probes_results_free(&res);
    run_stats_free(&r);
    /* attn_out before the layer's gate event cannot be scaled: an error, not a wrong value */
    struct ss_error err = {0};
    seq_stats_reset(&s, NULL);
    struct hook_event ev = {HOOK_ATTN_OUT, 0, y0, 3, {2, 2, 2}, -1, 0, 2};
    CU_ASSERT_EQUAL(seq_stats_event(&s, &ev, &err), SS_ERR_INTERNAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "before its gate"));
    seq_stats_free(&s);
}

static void test_massive_activations(void)
{
    /* [T=2, hidden=4]; |x| sorted: .5 .5 1 1 2 3 200 4000 -> median 1.5 */
    static const float x[8] = {1, -2, 3, -4000, 0.5f, 0.5f, 1, 200};
    static const float x2[8] = {1, 1, 1, 1, 1, 1, 1, 5000}; /* second sequence: median 1 */
    struct probes_shape sh = shape_of(1, 1, 1, 2, 4, 3, 0, 2);
    struct seq_stats s;
    struct run_stats r;
    struct probes_results res;
    stats_open(&s, &r, &sh, 0.3);
    fire(&s, HOOK_RESID_POST, 0, -1, 0, x, 2, 2, 4, 0);
    fire(&s, HOOK_FFN_OUT, 0, -1, 0, x2, 2, 2, 4, 0);
    run_stats_fold(&r, &s, 0);
    seq_stats_reset(&s, NULL);
    fire(&s, HOOK_RESID_POST, 0, -1, 0, x2, 2, 2, 4, 0);
    fire(&s, HOOK_FFN_OUT, 0, -1, 0, x, 2, 2, 4, 0);
    run_stats_fold(&r, &s, 1);
    CU_ASSERT_EQUAL_FATAL(probes_results_compute(&r, &res, NULL), SS_OK);
    int RP = 3; /* stream index of resid_post */
    NEAR(get(&res, "/stats/act_max")->data[RP], 5000, 0);
    NEAR(get(&res, "/stats/act_median")->data[RP], (1.5 + 1) / 2, 1e-12);
    NEAR(get(&res, "/stats/act_max_over_median")->data[RP], 5000 / 1.25, 1e-9);
    /* seq 0: > 150: {200, 4000}; seq 1: > 100: {5000} */
    NEAR(get(&res, "/stats/act_count_100x")->data[RP], 3, 0);
    /* seq 0: > 1500: {4000}; seq 1: > 1000: {5000} */
    NEAR(get(&res, "/stats/act_count_1000x")->data[RP], 2, 0);
    NEAR(get(&res, "/stats/act_count_massive")->data[RP], 2, 0);
    /* top values over the run with (seq, pos, dim) */
    const double *tv = get(&res, "/stats/act_top_value")->data + RP * PROBES_ACT_RANKS;
    const double *ti = get(&res, "/stats/act_top_index")->data + RP * PROBES_ACT_RANKS * 3;
    NEAR(tv[0], 5000, 0);
    NEAR(ti[0], 1, 0);
    NEAR(ti[1], 1, 0);
    NEAR(ti[2], 3, 0);
    NEAR(tv[1], 4000, 0);
    NEAR(ti[3], 0, 0);
    NEAR(ti[4], 0, 0);
    NEAR(ti[5], 3, 0);
    NEAR(tv[2], 200, 0);
    NEAR(tv[3], 3, 0);
    NEAR(tv[4], 2, 0);
    NEAR(tv[9], 1, 0);
    /* M-Act: one layer, so mean = max = act_max of resid_post */
    NEAR(get(&res, "/summary/max_activation_mean")->data[0], 5000, 0);
    NEAR(get(&res, "/summary/max_activation")->data[0], 5000, 0);
    /* ||h_0|| / ||h_1||, mean over the two sequences */
    double r0 = sqrt(1 + 4 + 9 + 16e6) / sqrt(0.25 + 0.25 + 1 + 40000), r1 = 2 / sqrt(3 + 25e6);
    NEAR(get(&res, "/stats/resid_pos0_norm_ratio")->data[0], (r0 + r1) / 2, 1e-9);
    /* ffn_output stream got the sequences the other way round */
    NEAR(get(&res, "/stats/act_max")->data[2], 5000, 0);
    NEAR(get(&res, "/stats/act_top_index")->data[2 * PROBES_ACT_RANKS * 3], 0, 0);
    stats_close(&res, &r, &s);
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static void test_median(void)
{
    float a[] = {5, 1, 3};
    NEAR(probes_median(a, 3), 3, 0);
    float b[] = {4, 1, 3, 2};
    NEAR(probes_median(b, 4), 2.5, 0);
    float c[] = {7};
    NEAR(probes_median(c, 1), 7, 0);
    float d[] = {2, 2, 2, 2, 2, 1};
    NEAR(probes_median(d, 6), 2, 0);
    /* random arrays (with many ties) against sorting */
    srand(7);
    int bad = 0;
    for (int trial = 0; trial < 300; trial++) {
        size_t n = 1 + rand() % 200;
        float x[200], y[200];
        for (size_t i = 0; i < n; i++)
            x[i] = y[i] = (float)(rand() % (trial % 2 ? 5 : 1000));
        qsort(y, n, sizeof *y, cmp_float);
        double want = n % 2 ? y[n / 2] : 0.5 * ((double)y[n / 2 - 1] + y[n / 2]);
        bad += probes_median(x, n) != want;
    }
    CU_ASSERT_EQUAL(bad, 0);
    /* the stream path (radix select on float bits) on odd and even sizes, ties, signs, zeros */
    for (int trial = 0; trial < 40; trial++) {
        int T = 1 + trial % 7, hidden = 1 + (trial * 13) % 29;
        struct probes_shape sh = shape_of(1, 1, 1, 2, hidden, 3, 0, T);
        struct seq_stats s;
        CU_ASSERT_EQUAL_FATAL(seq_stats_init(&s, &sh, NULL), SS_OK);
        float x[7 * 29], y[7 * 29];
        int n = T * hidden;
        for (int i = 0; i < n; i++) {
            x[i] = (float)((rand() % 9) - 4) * (trial % 3 ? 0.37f : 1e-3f) * (rand() % 4 ? 1.0f : 1e4f);
            y[i] = fabsf(x[i]);
        }
        fire(&s, HOOK_RESID_POST, 0, -1, 0, x, 2, T, hidden, 0);
        qsort(y, n, sizeof *y, cmp_float);
        double want = n % 2 ? y[n / 2] : 0.5 * ((double)y[n / 2 - 1] + y[n / 2]);
        /* the run's act_median of one sequence is that sequence's median (divided by 1) */
        struct run_stats r;
        struct probes_results res;
        CU_ASSERT_EQUAL_FATAL(run_stats_init(&r, &sh, 0.3, NULL), SS_OK);
        run_stats_fold(&r, &s, 0);
        CU_ASSERT_EQUAL_FATAL(probes_results_compute(&r, &res, NULL), SS_OK);
        double got = get(&res, "/stats/act_median")->data[3];
        if (got != want)
            printf("\n  stream median %g, sorted %g (n %d)", got, want, n);
        CU_ASSERT_EQUAL(got, want);
        stats_close(&res, &r, &s);
    }
}

static void test_value_norm_and_nll(void)
{
    /* v [T=3, kv=2, D=2] */
    static const float v[12] = {3, 4, 0, 1, 1, 0, 0, 0, 0, 2, 2, 0};
    /* logits [3, vocab 3]; tokens 0 2 1 */
    static const float z[9] = {0, 0, 0, 1, 2, 3, 9, 9, 9};
    static const int32_t tok[3] = {0, 2, 1};
    struct probes_shape sh = shape_of(1, 1, 2, 2, 4, 3, 0, 3);
    struct seq_stats s;
    struct run_stats r;
    struct probes_results res;
    stats_open(&s, &r, &sh, 0.3);
    seq_stats_reset(&s, tok);
    fire(&s, HOOK_V, 0, -1, 0, v, 3, 3, 2, 2);
    fire(&s, HOOK_LOGITS, -1, -1, 0, z, 2, 1, 3, 0);     /* tile of 1 row */
    fire(&s, HOOK_LOGITS, -1, -1, 1, z + 3, 2, 2, 3, 0); /* tile of 2 rows */
    double n0 = log(3.0), n1 = 3 + log(exp(-2.0) + exp(-1.0) + 1) - 2;
    const double *nll = seq_stats_nll(&s);
    NEAR(nll[0], n0, 1e-6);
    NEAR(nll[1], n1, 1e-6);
    CU_ASSERT(isnan(nll[2]));
    run_stats_fold(&r, &s, 0);
    CU_ASSERT_EQUAL_FATAL(probes_results_compute(&r, &res, NULL), SS_OK);
    const double *vn = get(&res, "/stats/value_norm")->data;
    NEAR(vn[0], 3, 1e-12);
    NEAR(vn[1], 0.5, 1e-12);
    NEAR(vn[2], 2, 1e-12);
    NEAR(get(&res, "/summary/perplexity")->data[0], exp((n0 + n1) / 2), 1e-5);
    NEAR(get(&res, "/summary/n_tokens")->data[0], 3, 0);
    stats_close(&res, &r, &s);
}

static void test_shape_mismatch_and_check(void)
{
    struct probes_shape sh = shape_of(1, 1, 1, 2, 4, 3, 0, 4);
    struct seq_stats s;
    struct ss_error err = {0};
    CU_ASSERT_EQUAL_FATAL(seq_stats_init(&s, &sh, NULL), SS_OK);
    float x[8] = {0};
    struct hook_event ev = {HOOK_RESID_POST, 0, x, 2, {2, 4, 0}, -1, 0, 2};
    CU_ASSERT_EQUAL(seq_stats_event(&s, &ev, &err), SS_ERR_INTERNAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "resid_post"));
    ev.layer = 3;
    ev.shape[0] = 4;
    CU_ASSERT_EQUAL(seq_stats_event(&s, &ev, &err), SS_ERR_INTERNAL);
    /* nothing fired: the check names the first missing point */
    CU_ASSERT_EQUAL(seq_stats_check(&s, &err), SS_ERR_INTERNAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "attn_probs"));
    /* a full synthetic sequence passes */
    test_feed_sequence(&s, 1, 2);
    CU_ASSERT_EQUAL(seq_stats_check(&s, &err), SS_OK);
    seq_stats_free(&s);
}

SS_SUITE(probes)
{
    CU_pSuite s = CU_add_suite("probes", NULL, NULL);
    CU_add_test(s, "4x4 map: first-token share, alpha_k, sink rate, entropy, top keys", test_attention_4x4);
    CU_add_test(s, "attention means over sequences and heads", test_attention_aggregation);
    CU_add_test(s, "alpha_k with a sliding window: queries that can see k", test_alpha_window);
    CU_add_test(s, "attention tiles of any height give identical accumulators", test_tile_invariance);
    CU_add_test(s, "gate mean, std, min, max, histogram, thresholds, position 0", test_gates);
    CU_add_test(s, "attention output before and after the gate", test_attn_output);
    CU_add_test(s, "pre-gate output x mean gate (Fig. 5 control), by hand", test_meangate_control);
    CU_add_test(s, "massive activations: max, median, counts, top 10, norm ratio", test_massive_activations);
    CU_add_test(s, "median by quickselect equals sorting", test_median);
    CU_add_test(s, "value norms, NLL and perplexity", test_value_norm_and_nll);
    CU_add_test(s, "shape mismatches and missing events are errors", test_shape_mismatch_and_check);
}
