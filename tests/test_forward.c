/* tests/test_forward.c — the `forward` suite: the forward pass against the Hugging Face
 * reference fixtures of tests/fixtures/ (MANIFEST lists them: each must exist and match),
 * max |diff| printed per tensor; with the tests of test_forward_naive.c (a naive reference on
 * hand-built tiny models, gate modes, tiles, threads) and test_forward_hooks.c (hook coverage). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../model/model.h"
#include "../model/safetensors.h"
#include "test_forward.h"
#include "test_util.h"


/* ---- reference fixtures ----------------------------------------------------- */

/* A fixture's expected tensors: expected.safetensors, and where the reference was computed in
 * float64, expected_f32.safetensors from transformers in float32 (ex32, else NULL). */
struct fixture_refs {
    struct st_set ex, ex32;
    int has32;
};

/* Max |a - b| between tensor tname of x and ref[n], or -1 when x lacks it. */
static double ref_spread(const struct st_set *x, const char *tname, const float *ref, size_t n)
{
    const struct st_tensor *t = st_find(x, tname);
    if (!t || st_numel(t) != n)
        return -1;
    float *v = malloc(n * 4);
    struct ss_error e = {0};
    double d = st_read_f32(x, t, v, NULL, &e) ? -1 : test_max_abs_diff(v, ref, n);
    free(v);
    return d;
}

/* got[n] against the expected tensor tname: max |diff| <= tol, or, for a float64
 * reference, <= 3 x how far transformers' own float32 result is from it when that is
 * more (ill-conditioned fixtures: sinkscope must be about as accurate as transformers). */
static int fixture_compare(const char *name, const float *got, const struct fixture_refs *r, const char *tname,
                           size_t n, double tol)
{
    const struct st_tensor *t = st_find(&r->ex, tname);
    if (!t) {
        printf("  fixture %s: expected tensor %s missing\n", name, tname);
        return 1;
    }
    if (st_numel(t) != n) {
        printf("  fixture %s tensor %s: %llu elements expected, %zu computed\n", name, tname,
               (unsigned long long)st_numel(t), n);
        return 1;
    }
    float *ref = malloc(n * 4);
    struct ss_error e = {0};
    st_read_f32(&r->ex, t, ref, NULL, &e);
    double scale = 0;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(ref[i]));
    double d = test_max_abs_diff(got, ref, n), d32 = r->has32 ? ref_spread(&r->ex32, tname, ref, n) : 0;
    int bad = !(d <= fmax(tol, 3 * d32)) || d32 < 0;
    printf("  fixture %s tensor %s: max |diff| = %.3g (max |ref| %.3g, tol %.1g", name, tname, d, scale, tol);
    if (r->has32)
        printf("; transformers float32 vs float64 %.3g", d32);
    printf(")%s\n", bad ? "  FAIL" : "");
    free(ref);
    return bad;
}

/* The experts the router probabilities p[T, E] pick (top k, ties to the lower index, as
 * model/moe.c routes) against transformers' router_idx.L [T, K]; 0 when all agree. */
static int router_choice_check(const char *name, int l, const float *p, const struct st_set *ex, int T, int E, int K)
{
    char tn[64];
    snprintf(tn, sizeof tn, "router_idx.%d", l);
    const struct st_tensor *t = st_find(ex, tn);
    if (!t || st_numel(t) != (size_t)T * K || t->dtype != ST_DTYPE_I32) {
        printf("  fixture %s: %s missing or not I32 [%d, %d]\n", name, tn, T, K);
        return 1;
    }
    int32_t *ref = malloc((size_t)T * K * 4);
    st_read_raw(ex, t, ref);
    int same = 0, bad = 0;
    for (int i = 0; i < T; i++) {
        int idx[64] = {0};
        for (int k = 0; k < K && k < 64; k++) { /* k-th largest, ties to the lower index */
            int best = -1;
            for (int e = 0; e < E; e++) {
                int taken = 0;
                for (int j = 0; j < k; j++)
                    taken |= idx[j] == e;
                if (!taken && (best < 0 || p[(size_t)i * E + e] > p[(size_t)i * E + best]))
                    best = e;
            }
            idx[k] = best;
            if (best == ref[(size_t)i * K + k])
                same++;
            else
                bad++;
        }
    }
    printf("  fixture %s %s: %d of %d expert choices equal%s\n", name, tn, same, T * K, bad ? "  FAIL" : "");
    free(ref);
    return bad != 0;
}

/* The router_weights events w[T, E] (dense: 0 for experts not chosen) against transformers'
 * router_w.L [T, K] placed at router_idx.L. */
static int router_weights_check(const char *name, int l, const float *w, const struct st_set *ex, int T, int E, int K)
{
    char tw[64], ti[64];
    snprintf(tw, sizeof tw, "router_w.%d", l);
    snprintf(ti, sizeof ti, "router_idx.%d", l);
    const struct st_tensor *a = st_find(ex, tw), *b = st_find(ex, ti);
    if (!a || !b || st_numel(a) != (size_t)T * K || st_numel(b) != (size_t)T * K || b->dtype != ST_DTYPE_I32) {
        printf("  fixture %s: %s / %s missing or not [%d, %d]\n", name, tw, ti, T, K);
        return 1;
    }
    float *wk = malloc((size_t)T * K * 4), *ref = calloc((size_t)T * E, 4);
    int32_t *idx = malloc((size_t)T * K * 4);
    struct ss_error e = {0};
    st_read_f32(ex, a, wk, NULL, &e);
    st_read_raw(ex, b, idx);
    for (size_t i = 0; i < (size_t)T * K; i++)
        if (idx[i] >= 0 && idx[i] < E)
            ref[i / K * E + idx[i]] = wk[i];
    double d = test_max_abs_diff(w, ref, (size_t)T * E);
    int bad = !(d <= 1e-5);
    printf("  fixture %s tensor %s (dense at %s): max |diff| = %.3g (tol 1e-05)%s\n", name, tw, ti, d,
           bad ? "  FAIL" : "");
    free(wk), free(ref), free(idx);
    return bad;
}

/* MXFP4 checkpoints: layer 0's experts as model/mxfp4.c decodes them against transformers'
 * convert_moe_packed_tensors (mxfp4_gate_up.0 [E, H, 2I], mxfp4_down.0 [E, I, H]), element
 * by element; 0 when absent. */
static int mxfp4_check(const char *name, const struct model *m, const struct st_set *ex)
{
    static const char *const tn[2] = {"mxfp4_gate_up.0", "mxfp4_down.0"};
    int fails = 0;
    for (int p = 0; p < 2; p++) {
        const struct st_tensor *t = st_find(ex, tn[p]);
        if (!t)
            continue;
        const struct weight *w = p ? m->w.layers[0].ex_down : m->w.layers[0].ex_gate_up;
        int64_t E = m->cfg.v.n_experts, R = w[0].rows, C = w[0].cols;
        if (w[0].dtype != WEIGHT_MXFP4 || st_numel(t) != (size_t)(E * R * C)) {
            printf("  fixture %s: %s: not MXFP4 experts of %lld x %lld x %lld\n", name, tn[p], (long long)E,
                   (long long)C, (long long)R);
            fails++;
            continue;
        }
        float *ref = malloc(st_numel(t) * 4), *got = malloc(st_numel(t) * 4), *rows = malloc((size_t)(R * C) * 4);
        struct ss_error e = {0};
        st_read_f32(ex, t, ref, NULL, &e);
        for (int64_t x = 0; x < E; x++) { /* [out, in] rows -> transformers' [E, in, out] */
            weight_rows_f32(&w[x], 0, R, rows);
            for (int64_t r = 0; r < R; r++)
                for (int64_t c = 0; c < C; c++)
                    got[(x * C + c) * R + r] = rows[r * C + c];
        }
        double d = test_max_abs_diff(got, ref, st_numel(t));
        printf("  fixture %s tensor %s: dequantised weights max |diff| = %.3g (tol 0)%s\n", name, tn[p], d,
               d != 0 ? "  FAIL" : "");
        fails += d != 0;
        free(ref), free(got), free(rows);
    }
    return fails;
}

/* 0 = passed, 1 = failed, -1 = absent */
static int fixture_check(const char *name)
{
    char dir[512], exp[600];
    snprintf(dir, sizeof dir, "tests/fixtures/%.200s", name);
    snprintf(exp, sizeof exp, "%.520s/expected.safetensors", dir);
    if (access(dir, F_OK) != 0)
        return -1;
    struct model m;
    struct ss_error e = {0};
    if (model_load(&m, dir, &e)) {
        printf("  fixture %s: load failed: %s\n", name, e.msg);
        return 1;
    }
    struct fixture_refs rf = {0};
    if (st_open_file(&rf.ex, exp, &e)) {
        printf("  fixture %s: %s\n", name, e.msg);
        model_free(&m);
        return 1;
    }
    snprintf(exp, sizeof exp, "%.520s/expected_f32.safetensors", dir);
    rf.has32 = access(exp, F_OK) == 0;
    if (rf.has32 && st_open_file(&rf.ex32, exp, &e)) {
        printf("  fixture %s: %s\n", name, e.msg);
        st_close(&rf.ex);
        model_free(&m);
        return 1;
    }
    const struct st_tensor *tt = st_find(&rf.ex, "tokens");
    int T = tt ? (int)st_numel(tt) : 0, fails = 0;
    int32_t *tok = malloc((T + 1) * 4);
    if (tt)
        st_read_raw(&rf.ex, tt, tok);
    struct capture cp;
    struct forward_opts o = {.threads = 1, .attn_tile = 7, .logits_tile = 6};
    if (!tt || run_capture(&m, tok, T, &cp, &o, &e)) {
        printf("  fixture %s: forward failed: %s\n", name, e.msg);
        fails = 1;
    } else {
        const struct model_config *c = &m.cfg;
        size_t nh = c->n_heads, D = c->head_dim, H = c->hidden, gd = model_config_gate_dim(c);
        fails += fixture_compare(name, cp.logits, &rf, "logits", (size_t)T * c->vocab, 1e-4);
        for (int l = 0; l < c->n_layers; l++) {
            char tn[64];
            snprintf(tn, sizeof tn, "attn_probs.%d", l);
            fails += fixture_compare(name, cp.probs + l * nh * T * T, &rf, tn, nh * T * T, 1e-5);
            snprintf(tn, sizeof tn, "hidden.%d", l);
            fails += fixture_compare(name, cp.hidden + l * T * H, &rf, tn, T * H, 1e-4);
            snprintf(tn, sizeof tn, "q.%d", l);
            fails += fixture_compare(name, cp.q + l * T * nh * D, &rf, tn, T * nh * D, 1e-4);
            snprintf(tn, sizeof tn, "k.%d", l);
            fails += fixture_compare(name, cp.k + l * T * c->n_kv_heads * D, &rf, tn, T * c->n_kv_heads * D, 1e-4);
            if (gd) {
                snprintf(tn, sizeof tn, "gate.%d", l);
                fails += fixture_compare(name, cp.gate + l * T * nh * gd, &rf, tn, T * nh * gd, 1e-5);
            }
            snprintf(tn, sizeof tn, "router_probs.%d", l);
            size_t TE = (size_t)T * c->v.n_experts;
            if (st_find(&rf.ex, tn) || (c->v.n_experts && c->v.layer_moe[l])) { /* both sides agree which layers route */
                if (!cp.router_seen[l])
                    printf("  fixture %s: layer %d: no router_probs event\n", name, l), fails++;
                fails += fixture_compare(name, cp.router + l * TE, &rf, tn, TE, 1e-5);
                fails += router_choice_check(name, l, cp.router + l * TE, &rf.ex, T, c->v.n_experts, c->v.top_k);
                fails += router_weights_check(name, l, cp.router_w + l * TE, &rf.ex, T, c->v.n_experts, c->v.top_k);
            } else if (cp.router_seen[l])
                printf("  fixture %s: router_probs fired in dense layer %d\n", name, l), fails++;
            snprintf(tn, sizeof tn, "attn_sink.%d", l);
            if (st_find(&rf.ex, tn) || c->v.attn_sinks) { /* both sides agree the model has learned sinks */
                if (!cp.sink_seen[l])
                    printf("  fixture %s: layer %d: no attn_sink event\n", name, l), fails++;
                fails += fixture_compare(name, cp.sink + l * T * nh, &rf, tn, T * nh, 1e-5);
            }
        }
        if (cp.bad_shape)
            printf("  fixture %s: %d hook events with a wrong shape\n", name, cp.bad_shape), fails++;
        fails += mxfp4_check(name, &m, &rf.ex);
    }
    capture_free(&cp);
    free(tok);
    st_close(&rf.ex);
    if (rf.has32)
        st_close(&rf.ex32);
    model_free(&m);
    return fails ? 1 : 0;
}

static const char *const known_fixtures[] = {"qwen3_bf16", "qwen2_f32", "llama_f16", "gated_headwise",
                                             "gated_elementwise", "sharded", "oldstyle", "mistral_sw"};

static void test_fixtures(void)
{
    char names[32][256];
    int n = 0, manifest = 0;
    FILE *f = fopen("tests/fixtures/MANIFEST", "r");
    if (f) {
        manifest = 1;
        char line[256];
        while (n < 32 && fgets(line, sizeof line, f)) {
            line[strcspn(line, " \t\r\n#")] = 0;
            if (line[0])
                snprintf(names[n++], sizeof names[0], "%s", line);
        }
        fclose(f);
    } else {
        for (size_t i = 0; i < sizeof known_fixtures / sizeof known_fixtures[0]; i++)
            snprintf(names[n++], sizeof names[0], "%s", known_fixtures[i]);
    }
    int checked = 0;
    for (int i = 0; i < n; i++) {
        int r = fixture_check(names[i]);
        if (r < 0) {
            if (!manifest) {
                test_skip("fixture %s absent (tests/fixtures/gen_fixtures.py writes it)", names[i]);
                continue;
            }
            printf("  fixture %s: absent but listed in MANIFEST\n", names[i]);
            CU_FAIL_FATAL("fixture listed in MANIFEST is absent");
        }
        checked++;
        CU_ASSERT_EQUAL(r, 0);
    }
    if (manifest) {
        CU_ASSERT(checked > 0);
    } else
        test_skip("no tests/fixtures/MANIFEST: fixtures not generated");
}

SS_SUITE(forward)
{
    CU_pSuite s = CU_add_suite("forward", NULL, NULL);
    forward_naive_tests(s);
    forward_hooks_tests(s);
    CU_add_test(s, "reference fixtures from transformers", test_fixtures);
}
