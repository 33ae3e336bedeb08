/* Routing and learned-sink statistics (probes/stat_router.c, probes/stat_sink.c): hand-made
 * events with hand-computed answers, bad events, folds that equal a resumed run's, and runs of
 * the MoE fixtures whose loads, weights and entropies are recomputed here from transformers'
 * router probabilities and expert choices (tests/fixtures/qwen3_moe_bf16, mixtral_f32, gpt_oss_bf16),
 * and gpt_oss's learned-sink shares from transformers' own (attn_sink.L [T, H]). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../model/safetensors.h"
#include "../probes/probes.h"
#include "../runfile/runfile.h"
#include "test_probes_util.h"
#include "test_util.h"

#define NEAR(a, b, tol)                                                                        \
    do {                                                                                       \
        double a_ = (a), b_ = (b);                                                             \
        if (!(fabs(a_ - b_) <= (tol)))                                                         \
            printf("\n  %s = %.10g, expected %.10g (diff %.3g)\n", #a, a_, b_, fabs(a_ - b_)); \
        CU_ASSERT(fabs(a_ - b_) <= (tol));                                                     \
    } while (0)

static void fire(struct seq_stats *s, enum hook_point p, int layer, const float *data, int64_t a, int64_t b)
{
    struct hook_event ev = {p, layer, data, 2, {a, b, 0}, -1, 0, s->shape.T};
    struct ss_error err = {0};
    CU_ASSERT_EQUAL(seq_stats_event(s, &ev, &err), SS_OK);
    if (err.msg[0])
        printf("\n  %s", err.msg);
}

static const double *get(const struct probes_results *r, const char *path)
{
    const struct probes_dataset *d = probes_results_find(r, path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    return d->data;
}

/* Layer 0 routed (4 experts, top-2), layer 1 dense; 3 positions. */
static const unsigned char moe_layers[2] = {1, 0};
static const struct probes_shape moe_shape = {2, 1, 1, 2, 4, 3, 0, 3, 0, 0, 4, 2, moe_layers, 0};

/* Two sequences of router events. Slots: expert 0 x5, 1 x3, 2 x4, 3 never; at position 0
 * experts {0,1} twice; at positions >= 1: 0 x3, 1 x1, 2 x4 of 8. */
static const float weights[2][12] = {
    {0.6f, 0.4f, 0, 0, /**/ 0, 0.7f, 0.3f, 0, /**/ 0.5f, 0, 0.5f, 0},
    {0.8f, 0.2f, 0, 0, /**/ 0.9f, 0, 0.1f, 0, /**/ 0.4f, 0, 0.6f, 0},
};
/* Entropies ln 2, ln 4, 0 (sequence 0); 1.5 ln 2 at every position (sequence 1). */
static const float probs[2][12] = {
    {0.5f, 0.5f, 0, 0, /**/ 0.25f, 0.25f, 0.25f, 0.25f, /**/ 1, 0, 0, 0},
    {0.5f, 0.25f, 0.25f, 0, /**/ 0.5f, 0.25f, 0.25f, 0, /**/ 0.5f, 0.25f, 0.25f, 0},
};

static void test_router_by_hand(void)
{
    struct seq_stats s;
    struct run_stats r;
    struct probes_results res;
    CU_ASSERT_EQUAL_FATAL(seq_stats_init(&s, &moe_shape, NULL), SS_OK);
    CU_ASSERT_EQUAL_FATAL(run_stats_init(&r, &moe_shape, 0.3, NULL), SS_OK);
    for (int seq = 0; seq < 2; seq++) {
        seq_stats_reset(&s, NULL);
        fire(&s, HOOK_ROUTER_PROBS, 0, probs[seq], 3, 4);
        fire(&s, HOOK_ROUTER_WEIGHTS, 0, weights[seq], 3, 4);
        run_stats_fold(&r, &s, seq);
    }
    CU_ASSERT_EQUAL_FATAL(probes_results_compute(&r, &res, NULL), SS_OK);
    const double *load = get(&res, "/stats/expert_load"), *p0 = get(&res, "/stats/expert_load_pos0");
    const double *rest = get(&res, "/stats/expert_load_rest"), *wm = get(&res, "/stats/expert_weight_mean");
    const double *ent = get(&res, "/stats/router_entropy"), *entn = get(&res, "/stats/router_entropy_norm");
    const double *moe = get(&res, "/stats/moe_layer");
    double want_load[4] = {5 / 12.0, 3 / 12.0, 4 / 12.0, 0}, want_p0[4] = {0.5, 0.5, 0, 0};
    double want_rest[4] = {3 / 8.0, 1 / 8.0, 4 / 8.0, 0};
    double want_w[3] = {(0.6 + 0.5 + 0.8 + 0.9 + 0.4) / 5, (0.4 + 0.7 + 0.2) / 3, (0.3 + 0.5 + 0.1 + 0.6) / 4};
    for (int e = 0; e < 4; e++) {
        NEAR(load[e], want_load[e], 1e-15);
        NEAR(p0[e], want_p0[e], 1e-15);
        NEAR(rest[e], want_rest[e], 1e-15);
        if (e < 3)
            NEAR(wm[e], want_w[e], 1e-7); /* float weights */
        /* layer 1 is dense: NaN rows */
        CU_ASSERT(isnan(load[4 + e]) && isnan(p0[4 + e]) && isnan(rest[4 + e]) && isnan(wm[4 + e]));
    }
    CU_ASSERT(isnan(wm[3])); /* expert 3: never chosen */
    double h = (log(2) + log(4) + 3 * 1.5 * log(2)) / 6; /* = 1.25 ln 2 */
    NEAR(ent[0], h, 1e-7);
    NEAR(entn[0], 0.625, 1e-7);
    CU_ASSERT(isnan(ent[1]) && isnan(entn[1]));
    CU_ASSERT(moe[0] == 1 && moe[1] == 0);
    NEAR(get(&res, "/summary/router_entropy_norm")[0], 0.625, 1e-7);
    CU_ASSERT_PTR_NULL(probes_results_find(&res, "/stats/learned_sink_share")); /* no learned sinks */
    probes_results_free(&res);
    run_stats_free(&r);
    seq_stats_free(&s);
}

/* Shares s[q, h] of 2 layers, 2 heads, 3 queries; layer 1 is 0.2 everywhere. */
static const float sinks[2][6] = {
    {0.9f, 0.1f, /**/ 0.5f, 0.2f, /**/ 0.3f, 0.4f},
    {0.7f, 0.3f, /**/ 0.1f, 0.6f, /**/ 0.1f, 0.0f},
};

static void test_sink_by_hand(void)
{
    struct probes_shape sh = {2, 2, 1, 2, 4, 3, 0, 3, 0, 0, 0, 0, NULL, 1};
    struct seq_stats s;
    struct run_stats r;
    struct probes_results res;
    float flat[6] = {0.2f, 0.2f, 0.2f, 0.2f, 0.2f, 0.2f};
    CU_ASSERT_EQUAL_FATAL(seq_stats_init(&s, &sh, NULL), SS_OK);
    CU_ASSERT_EQUAL_FATAL(run_stats_init(&r, &sh, 0.3, NULL), SS_OK);
    for (int seq = 0; seq < 2; seq++) {
        seq_stats_reset(&s, NULL);
        fire(&s, HOOK_ATTN_SINK, 0, sinks[seq], 3, 2);
        fire(&s, HOOK_ATTN_SINK, 1, flat, 3, 2);
        run_stats_fold(&r, &s, seq);
    }
    CU_ASSERT_EQUAL_FATAL(probes_results_compute(&r, &res, NULL), SS_OK);
    const double *sh1 = get(&res, "/stats/learned_sink_share"), *sh0 = get(&res, "/stats/learned_sink_share_incl0");
    const double *lay = get(&res, "/stats/learned_sink_share_layer");
    /* q >= 1: head 0 mean(0.4, 0.1), head 1 mean(0.3, 0.3); all q: (1.7/3 + 0.9/3) / 2, (0.7/3 + 0.9/3) / 2 */
    NEAR(sh1[0], 0.25, 1e-7);
    NEAR(sh1[1], 0.3, 1e-7);
    NEAR(sh0[0], 2.6 / 6, 1e-7);
    NEAR(sh0[1], 1.6 / 6, 1e-7);
    NEAR(sh1[2], 0.2, 1e-7);
    NEAR(lay[0], 0.275, 1e-7);
    NEAR(lay[1], 0.2, 1e-7);
    NEAR(get(&res, "/summary/learned_sink_share")[0], 0.2375, 1e-7);
    CU_ASSERT_PTR_NULL(probes_results_find(&res, "/stats/expert_load")); /* not MoE */
    probes_results_free(&res);
    run_stats_free(&r);
    seq_stats_free(&s);
}

/* One event into s: its status, the message in err. */
static enum ss_status event_status(struct seq_stats *s, enum hook_point p, int layer, const float *x, int64_t a,
                                   int64_t b, struct ss_error *err)
{
    struct hook_event ev = {p, layer, x, 2, {a, b, 0}, -1, 0, s->shape.T};
    memset(err, 0, sizeof *err);
    return seq_stats_event(s, &ev, err);
}

static void test_bad_events(void)
{
    struct seq_stats s;
    struct ss_error err;
    float x[32] = {0};
    CU_ASSERT_EQUAL_FATAL(seq_stats_init(&s, &moe_shape, NULL), SS_OK);
    seq_stats_reset(&s, NULL);
    CU_ASSERT_EQUAL(event_status(&s, HOOK_ROUTER_PROBS, 0, x, 3, 5, &err), SS_ERR_INTERNAL); /* 5 experts */
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "router_probs"));
    CU_ASSERT_EQUAL(event_status(&s, HOOK_ROUTER_WEIGHTS, 0, x, 2, 4, &err), SS_ERR_INTERNAL); /* 2 positions */
    CU_ASSERT_EQUAL(event_status(&s, HOOK_ROUTER_WEIGHTS, 1, x, 3, 4, &err), SS_ERR_INTERNAL); /* dense layer */
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "dense"));
    seq_stats_free(&s);
    /* a whole synthetic sequence passes the check; one whose layer 1 should have routed does not */
    struct probes_shape sh = moe_shape;
    sh.attn_sinks = 1;
    CU_ASSERT_EQUAL_FATAL(seq_stats_init(&s, &sh, NULL), SS_OK);
    test_feed_sequence(&s, 2, 2);
    CU_ASSERT_EQUAL(seq_stats_check(&s, &err), SS_OK);
    seq_stats_reset(&s, NULL);
    test_feed_sequence(&s, 2, 2);
    s.shape.layer_moe = (const unsigned char[2]){1, 1}; /* now layer 1 should have routed too */
    CU_ASSERT_EQUAL(seq_stats_check(&s, &err), SS_ERR_INTERNAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "router_probs") && strstr(err.msg, "layer 1"));
    s.shape.layer_moe = moe_layers;
    CU_ASSERT_EQUAL(event_status(&s, HOOK_ATTN_SINK, 0, x, 3, 3, &err), SS_ERR_INTERNAL); /* 3 heads of 1 */
    CU_ASSERT_EQUAL(event_status(&s, HOOK_ATTN_SINK, 0, x, 3, 1, &err), SS_OK);          /* a second time */
    CU_ASSERT_EQUAL(seq_stats_check(&s, &err), SS_ERR_INTERNAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "attn_sink"));
    seq_stats_free(&s);
    /* a MoE shape without its layer list is refused */
    sh.layer_moe = NULL;
    CU_ASSERT_EQUAL(seq_stats_init(&s, &sh, &err), SS_ERR_INTERNAL);
}

/* Folding saved accumulators (what --resume does with records) gives the same bits. */
static void test_fold_from_records(void)
{
    struct probes_shape sh = moe_shape;
    sh.T = 5;
    sh.attn_sinks = 1;
    struct seq_stats s;
    struct run_stats a, b;
    struct probes_results ra, rb;
    CU_ASSERT_EQUAL_FATAL(seq_stats_init(&s, &sh, NULL), SS_OK);
    CU_ASSERT_EQUAL_FATAL(run_stats_init(&a, &sh, 0.3, NULL), SS_OK);
    CU_ASSERT_EQUAL_FATAL(run_stats_init(&b, &sh, 0.3, NULL), SS_OK);
    double *saved[3];
    for (int seq = 0; seq < 3; seq++) {
        test_feed_sequence(&s, 40 + seq, 2);
        run_stats_fold(&a, &s, seq);
        saved[seq] = malloc(s.n * sizeof(double));
        memcpy(saved[seq], s.buf, s.n * sizeof(double));
    }
    for (int seq = 0; seq < 3; seq++) {
        memcpy(s.buf, saved[seq], s.n * sizeof(double));
        run_stats_fold(&b, &s, seq);
        free(saved[seq]);
    }
    CU_ASSERT_EQUAL_FATAL(probes_results_compute(&a, &ra, NULL), SS_OK);
    CU_ASSERT_EQUAL_FATAL(probes_results_compute(&b, &rb, NULL), SS_OK);
    CU_ASSERT_EQUAL(ra.n, rb.n);
    int same = 0;
    for (int i = 0; i < ra.n && i < rb.n; i++) {
        size_t n = 1;
        for (int k = 0; k < ra.d[i].ndim; k++)
            n *= (size_t)ra.d[i].shape[k];
        same += !memcmp(ra.d[i].data, rb.d[i].data, n * sizeof(double)); /* NaN bits too */
    }
    CU_ASSERT_EQUAL(same, ra.n);
    const double *ld = get(&ra, "/stats/expert_load"), *lss = get(&ra, "/stats/learned_sink_share");
    double sum = 0;
    for (int e = 0; e < 4; e++)
        sum += ld[e];
    NEAR(sum, 1, 1e-12); /* a routed layer's loads sum to 1 */
    CU_ASSERT(lss[0] >= 0.05 && lss[0] < 0.65); /* the emitter's range */
    probes_results_free(&ra);
    probes_results_free(&rb);
    run_stats_free(&a);
    run_stats_free(&b);
    seq_stats_free(&s);
}

/* ---- end to end: a run of a MoE fixture against transformers' routing --------------- */

static float *tensor_f32(const struct st_set *s, const char *name, size_t *n)
{
    const struct st_tensor *t = st_find(s, name);
    if (!t)
        return NULL;
    *n = st_numel(t);
    float *v = malloc(*n * sizeof *v);
    if (t->dtype == ST_DTYPE_I32) {
        int32_t *iv = malloc(*n * sizeof *iv);
        st_read_raw(s, t, iv);
        for (size_t i = 0; i < *n; i++)
            v[i] = (float)iv[i];
        free(iv);
    } else
        CU_ASSERT_EQUAL(st_read_f32(s, t, v, NULL, NULL), SS_OK);
    return v;
}

/* Largest |a - b| over n values, NaN equal to NaN (a NaN against a number fails). */
static double max_diff(const double *a, const double *b, int n)
{
    double m = 0;
    for (int i = 0; i < n; i++) {
        if (isnan(a[i]) || isnan(b[i])) {
            m = isnan(a[i]) && isnan(b[i]) ? m : INFINITY;
            continue;
        }
        m = fabs(a[i] - b[i]) > m ? fabs(a[i] - b[i]) : m;
    }
    return m;
}

/* Reference statistics of a one-sequence run from router_probs.L [T,E] and router_idx.L [T,K]:
 * the weights are the chosen probabilities renormalised (norm_topk_prob / Mixtral). */
struct moe_ref {
    double load[8 * 8], pos0[8 * 8], rest[8 * 8], wmean[8 * 8], ent[8];
};

static void ref_layer(struct moe_ref *ref, int l, int E, int K, int T, const float *p, const float *idx)
{
    double n0[8] = {0}, nr[8] = {0}, ws[8] = {0}, h = 0;
    for (int t = 0; t < T; t++) {
        double z = 0;
        for (int k = 0; k < K; k++)
            z += p[t * E + (int)idx[t * K + k]];
        for (int k = 0; k < K; k++) {
            int e = (int)idx[t * K + k];
            *(t ? &nr[e] : &n0[e]) += 1;
            ws[e] += p[t * E + e] / z;
        }
        for (int e = 0; e < E; e++)
            h -= p[t * E + e] > 0 ? p[t * E + e] * log(p[t * E + e]) : 0;
    }
    for (int e = 0; e < E; e++) {
        ref->load[l * E + e] = (n0[e] + nr[e]) / ((double)T * K);
        ref->pos0[l * E + e] = n0[e] / K;
        ref->rest[l * E + e] = nr[e] / ((double)(T - 1) * K);
        ref->wmean[l * E + e] = n0[e] + nr[e] > 0 ? ws[e] / (n0[e] + nr[e]) : NAN;
    }
    ref->ent[l] = h / T;
}

/* learned_sink_share / _incl0 [L, H] and _layer [L] of a one-sequence run from attn_sink.L [T, H]. */
static void check_sinks(struct runfile *rf, const struct st_set *s, const char *name, int L, int H)
{
    double want[3][8 * 8] = {{0}};
    for (int l = 0; l < L; l++) {
        char tn[64];
        size_t n, T;
        snprintf(tn, sizeof tn, "attn_sink.%d", l);
        float *x = tensor_f32(s, tn, &n);
        CU_ASSERT_PTR_NOT_NULL_FATAL(x);
        T = n / H;
        for (int h = 0; h < H; h++) {
            double rest = 0;
            for (size_t t = 1; t < T; t++)
                rest += x[t * H + h];
            want[0][l * H + h] = rest / (T - 1);
            want[1][l * H + h] = (rest + x[h]) / T;
            want[2][l] += want[0][l * H + h] / H;
        }
        free(x);
    }
    static const char *const names[3] = {"/stats/learned_sink_share", "/stats/learned_sink_share_incl0",
                                         "/stats/learned_sink_share_layer"};
    for (int i = 0; i < 3; i++) {
        struct rf_array a = {0};
        CU_ASSERT_EQUAL_FATAL(runfile_read(rf, names[i], &a, NULL), SS_OK);
        CU_ASSERT_EQUAL_FATAL(a.n, (size_t)(i < 2 ? L * H : L));
        double d = max_diff(a.data, want[i], (int)a.n);
        printf("\n    %s %s: max |diff| vs transformers %.3g", name, names[i], d);
        CU_ASSERT(d <= 1e-5);
        rf_array_free(&a);
    }
}

static void check_moe_fixture(const char *name, int L, int E, int K, int H_sinks)
{
    char dir[256], path[300], out[600], ids[4096] = "";
    snprintf(dir, sizeof dir, "tests/fixtures/%s", name);
    snprintf(path, sizeof path, "%s/expected.safetensors", dir);
    struct st_set s = {0};
    CU_ASSERT_EQUAL_FATAL(st_open_file(&s, path, NULL), SS_OK);
    size_t T = 0, n;
    float *tok = tensor_f32(&s, "tokens", &T);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
    for (size_t i = 0; i < T; i++)
        snprintf(ids + strlen(ids), sizeof ids - strlen(ids), i ? ",%d" : "%d", (int)tok[i]);
    free(tok);
    snprintf(out, sizeof out, "%s/%s.h5", test_tmpdir("probes-moe"), name);
    CU_ASSERT_EQUAL_FATAL(test_cli(NULL, 0, NULL, 0, "run", "-m", dir, "--token-ids", ids, "-o", out, "--quiet", NULL),
                          0);
    struct moe_ref ref;
    int moe[8] = {0};
    CU_ASSERT_FATAL(L <= 8 && E <= 8 && K <= E); /* struct moe_ref's room */
    for (int l = 0; l < L; l++) {
        char pn[64], in[64];
        snprintf(pn, sizeof pn, "router_probs.%d", l);
        snprintf(in, sizeof in, "router_idx.%d", l);
        float *p = tensor_f32(&s, pn, &n), *idx = tensor_f32(&s, in, &n);
        moe[l] = p != NULL;
        if (p && idx)
            ref_layer(&ref, l, E, K, (int)T, p, idx);
        for (int e = 0; !p && e < E; e++) /* a dense layer: NaN rows */
            ref.load[l * E + e] = ref.pos0[l * E + e] = ref.rest[l * E + e] = ref.wmean[l * E + e] = NAN;
        if (!p)
            ref.ent[l] = NAN;
        free(p);
        free(idx);
    }
    struct runfile *rf = NULL;
    CU_ASSERT_EQUAL_FATAL(runfile_open(&rf, out, NULL), SS_OK);
    if (H_sinks)
        check_sinks(rf, &s, name, L, H_sinks);
    else
        CU_ASSERT_FALSE(runfile_has(rf, "/stats/learned_sink_share")); /* no learned sinks there */
    st_close(&s);
    static const char *const names[] = {"/stats/expert_load", "/stats/expert_load_pos0", "/stats/expert_load_rest",
                                        "/stats/expert_weight_mean", "/stats/router_entropy", "/stats/moe_layer"};
    const double *want[] = {ref.load, ref.pos0, ref.rest, ref.wmean, ref.ent};
    for (int i = 0; i < 6; i++) {
        struct rf_array a = {0};
        CU_ASSERT_EQUAL_FATAL(runfile_read(rf, names[i], &a, NULL), SS_OK);
        CU_ASSERT_EQUAL_FATAL(a.n, (size_t)(i < 4 ? L * E : L));
        if (i < 5) {
            double d = max_diff(a.data, want[i], (int)a.n);
            /* loads are counts: exact; weights and entropies from bf16/f32 forward passes */
            double tol = i < 3 ? 1e-12 : 1e-5;
            printf("\n    %s %s: max |diff| vs transformers %.3g", name, names[i], d);
            CU_ASSERT(d <= tol);
        } else
            for (int l = 0; l < L; l++)
                CU_ASSERT_EQUAL(a.data[l], moe[l]);
        rf_array_free(&a);
    }
    runfile_close(rf);
}

static void test_qwen3_moe_run(void) { check_moe_fixture("qwen3_moe_bf16", 3, 6, 2, 0); }
static void test_mixtral_run(void) { check_moe_fixture("mixtral_f32", 2, 4, 2, 0); }
static void test_gpt_oss_run(void) { check_moe_fixture("gpt_oss_bf16", 3, 5, 2, 4); }

SS_SUITE(probes_moe)
{
    CU_pSuite s = CU_add_suite("probes_moe", NULL, NULL);
    CU_add_test(s, "expert load, position 0, weights, entropy by hand; dense layer NaN", test_router_by_hand);
    CU_add_test(s, "learned-sink share per head, layer, run by hand", test_sink_by_hand);
    CU_add_test(s, "bad router and sink events, missing events", test_bad_events);
    CU_add_test(s, "folds of saved accumulators equal the run's (--resume)", test_fold_from_records);
    CU_add_test(s, "qwen3_moe_bf16 run: loads, weights, entropy against transformers' routing", test_qwen3_moe_run);
    CU_add_test(s, "mixtral_f32 run: loads, weights, entropy against transformers' routing", test_mixtral_run);
    CU_add_test(s, "gpt_oss_bf16 run: routing and learned-sink shares against transformers'", test_gpt_oss_run);
}
