/* tests/test_forward.c — the forward pass against (1) the Hugging Face reference
 * fixtures of tests/fixtures/ (MANIFEST lists them: each must exist and match) and
 * (2) a naive triple-loop implementation written here, on hand-built tiny models;
 * gate modes, tile-size independence and hook coverage. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../model/model.h"
#include "../model/safetensors.h"
#include "test_util.h"

/* ---- capture: hook subscribers that assemble whole tensors ------------------- */

struct capture {
    struct model_config c;
    int T;
    float *probs;   /* [L, nh, T, T] */
    float *scores;  /* [L, nh, T, T] (masked: -inf) */
    float *hidden;  /* [L, T, H] resid_post */
    float *q, *k;   /* [L, T, nh|nkv, D] */
    float *gate;    /* [L, T, nh, gd] */
    float *attn_out, *attn_gated; /* [L, T, nh, D] */
    float *logits;  /* [T, V] */
    float *router;  /* [L, T, E] router_probs (MoE layers) */
    char *router_seen; /* [L] */
    float *router_w;   /* [L, T, E] router_weights (MoE layers) */
    float *sink;       /* [L, T, nh] attn_sink (learned sinks) */
    char *sink_seen;   /* [L] */
    int bad_shape;  /* events whose shape disagrees with hooks.h */
};

static int cap_hook(void *user, const struct hook_event *ev, struct ss_error *err)
{
    struct capture *cp = user;
    const struct model_config *c = &cp->c;
    int T = cp->T, L = ev->layer, nh = c->n_heads, D = c->head_dim, nkv = c->n_kv_heads;
    int gd = model_config_gate_dim(c);
    size_t n;
    switch (ev->point) {
    case HOOK_ATTN_SCORES:
    case HOOK_ATTN_PROBS: {
        int nq = (int)ev->shape[0], nk = (int)ev->shape[1];
        if (ev->ndim != 2 || nk != ev->q0 + nq || ev->head < 0 || ev->head >= nh)
            cp->bad_shape++;
        float *dst = (ev->point == HOOK_ATTN_PROBS ? cp->probs : cp->scores) + ((size_t)L * nh + ev->head) * T * T;
        for (int i = 0; i < nq; i++)
            for (int j = 0; j < T; j++)
                dst[(size_t)(ev->q0 + i) * T + j] = j < nk ? ev->data[(size_t)i * nk + j]
                                                          : (ev->point == HOOK_ATTN_PROBS ? 0 : -INFINITY);
        return 0;
    }
    case HOOK_RESID_POST:
        n = (size_t)T * c->hidden;
        if (ev->ndim != 2 || ev->shape[0] != T || ev->shape[1] != c->hidden)
            cp->bad_shape++;
        memcpy(cp->hidden + L * n, ev->data, n * 4);
        return 0;
    case HOOK_Q:
    case HOOK_K: {
        int heads = ev->point == HOOK_Q ? nh : nkv;
        n = (size_t)T * heads * D;
        if (ev->ndim != 3 || ev->shape[0] != T || ev->shape[1] != heads || ev->shape[2] != D)
            cp->bad_shape++;
        memcpy((ev->point == HOOK_Q ? cp->q : cp->k) + L * n, ev->data, n * 4);
        return 0;
    }
    case HOOK_GATE:
        n = (size_t)T * nh * gd;
        if (ev->ndim != 3 || ev->shape[0] != T || ev->shape[1] != nh || ev->shape[2] != gd)
            cp->bad_shape++;
        memcpy(cp->gate + L * n, ev->data, n * 4);
        return 0;
    case HOOK_ATTN_OUT:
    case HOOK_ATTN_GATED:
        n = (size_t)T * nh * D;
        memcpy((ev->point == HOOK_ATTN_OUT ? cp->attn_out : cp->attn_gated) + L * n, ev->data, n * 4);
        return 0;
    case HOOK_ROUTER_PROBS: /* MoE layers only */
        n = (size_t)T * c->v.n_experts;
        if (ev->ndim != 2 || ev->shape[0] != T || ev->shape[1] != c->v.n_experts || !c->v.layer_moe[L])
            cp->bad_shape++;
        else
            memcpy(cp->router + L * n, ev->data, n * 4), cp->router_seen[L] = 1;
        return 0;
    case HOOK_ROUTER_WEIGHTS:
        n = (size_t)T * c->v.n_experts;
        if (ev->ndim != 2 || ev->shape[0] != T || ev->shape[1] != c->v.n_experts || !c->v.layer_moe[L])
            cp->bad_shape++;
        else
            memcpy(cp->router_w + L * n, ev->data, n * 4);
        return 0;
    case HOOK_ATTN_SINK: /* learned sinks only, once per layer */
        n = (size_t)T * nh;
        if (ev->ndim != 2 || ev->shape[0] != T || ev->shape[1] != nh || !c->v.attn_sinks || cp->sink_seen[L])
            cp->bad_shape++;
        else
            memcpy(cp->sink + L * n, ev->data, n * 4), cp->sink_seen[L] = 1;
        return 0;
    case HOOK_LOGITS:
        if (ev->ndim != 2 || ev->shape[1] != c->vocab || ev->q0 + ev->shape[0] > T)
            cp->bad_shape++;
        memcpy(cp->logits + (size_t)ev->q0 * c->vocab, ev->data, (size_t)ev->shape[0] * c->vocab * 4);
        return 0;
    default:
        return 0;
    }
}

static void capture_init(struct capture *cp, const struct model_config *c, int T)
{
    memset(cp, 0, sizeof *cp);
    cp->c = *c;
    cp->T = T;
    size_t L = c->n_layers, nh = c->n_heads, D = c->head_dim;
    cp->probs = calloc(L * nh * T * T, 4);
    cp->scores = calloc(L * nh * T * T, 4);
    cp->hidden = calloc(L * T * c->hidden, 4);
    cp->q = calloc(L * T * nh * D, 4);
    cp->k = calloc(L * T * c->n_kv_heads * D, 4);
    cp->gate = calloc(L * T * nh * (model_config_gate_dim(c) + 1), 4);
    cp->attn_out = calloc(L * T * nh * D, 4);
    cp->attn_gated = calloc(L * T * nh * D, 4);
    cp->logits = calloc((size_t)T * c->vocab, 4);
    cp->router = calloc(L * T * c->v.n_experts + 1, 4);
    cp->router_seen = calloc(L, 1);
    cp->router_w = calloc(L * T * c->v.n_experts + 1, 4);
    cp->sink = calloc(L * T * nh, 4);
    cp->sink_seen = calloc(L, 1);
}

static void capture_free(struct capture *cp)
{
    free(cp->probs), free(cp->scores), free(cp->hidden), free(cp->q), free(cp->k), free(cp->gate);
    free(cp->attn_out), free(cp->attn_gated), free(cp->logits), free(cp->router), free(cp->router_seen);
    free(cp->router_w), free(cp->sink), free(cp->sink_seen);
}

/* Run m on tokens with every capture hook subscribed. */
static enum ss_status run_capture(const struct model *m, const int32_t *tok, int T, struct capture *cp,
                                  const struct forward_opts *o, struct ss_error *err)
{
    capture_init(cp, &m->cfg, T);
    struct hook_set hs;
    hook_set_init(&hs);
    const char *pts[] = {"attn_scores", "attn_probs", "resid_post", "q",           "k",
                         "gate",        "attn_out",   "attn_gated", "router_probs", "logits",
                         "router_weights", "attn_sink"};
    for (size_t i = 0; i < sizeof pts / sizeof pts[0]; i++)
        hook_set_add(&hs, pts[i], cap_hook, cp, err);
    struct run_state *rs;
    enum ss_status st = run_state_new(&rs, &m->cfg, T, o, err);
    if (st)
        return st;
    st = model_forward(m, rs, tok, T, &hs, o, err);
    run_state_free(rs);
    return st;
}

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

/* ---- hand-built tiny models and a naive reference --------------------------- */

static uint64_t rng_state;
static float rnd(void) /* uniform in [-1, 1) */
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((rng_state >> 40) / (double)(1ull << 24) * 2 - 1);
}

/* A random model with the config c (weights in one malloc'd arena). */
static void tiny_build(struct model *m, const struct model_config *c, uint64_t seed)
{
    memset(m, 0, sizeof *m);
    m->cfg = *c;
    snprintf(m->dir, sizeof m->dir, "tiny");
    rng_state = seed;
    size_t H = c->hidden, D = c->head_dim, kv = c->n_kv_heads * D, qo = model_config_q_out(c);
    size_t total = model_config_n_params(c);
    float *p = m->arena = malloc(total * 4);
    m->w.layers = calloc(c->n_layers, sizeof *m->w.layers);
#define TAKE(n, scale, base) ({ float *t_ = p; for (size_t i_ = 0; i_ < (n); i_++) t_[i_] = (base) + (scale) * rnd(); p += (n); t_; })
    m->w.embed = weight_f32(TAKE(c->vocab * H, 1.0f, 0), c->vocab, H);
    m->w.final_norm = TAKE(H, 0.2f, 1);
    m->w.lm_head = c->tied ? m->w.embed : weight_f32(TAKE(c->vocab * H, 0.3f, 0), c->vocab, H);
    for (int l = 0; l < c->n_layers; l++) {
        struct layer_weights *w = &m->w.layers[l];
        float s = 1.7f / sqrtf((float)H);
        w->attn_norm = TAKE(H, 0.2f, 1);
        w->wq = weight_f32(TAKE(qo * H, 2 * s, 0), qo, H);
        w->wk = weight_f32(TAKE(kv * H, 2 * s, 0), kv, H);
        w->wv = weight_f32(TAKE(kv * H, s, 0), kv, H);
        w->wo = weight_f32(TAKE(H * c->n_heads * D, 1.7f / sqrtf((float)(c->n_heads * D)), 0), H, c->n_heads * D);
        if (c->qkv_bias) {
            w->bq = TAKE(qo, 0.3f, 0);
            w->bk = TAKE(kv, 0.3f, 0);
            w->bv = TAKE(kv, 0.3f, 0);
        }
        if (c->o_bias)
            w->bo = TAKE(H, 0.3f, 0);
        if (c->qk_norm) {
            w->q_norm = TAKE(D, 0.5f, 2);
            w->k_norm = TAKE(D, 0.5f, 2);
        }
        w->ffn_norm = TAKE(H, 0.2f, 1);
        w->w_gate = weight_f32(TAKE(c->ffn * H, s, 0), c->ffn, H);
        w->w_up = weight_f32(TAKE(c->ffn * H, s, 0), c->ffn, H);
        w->w_down = weight_f32(TAKE(H * c->ffn, 1.7f / sqrtf((float)c->ffn), 0), H, c->ffn);
    }
#undef TAKE
    m->n_params = total;
}

static void tiny_config(struct model_config *c, enum gate_kind g)
{
    memset(c, 0, sizeof *c);
    strcpy(c->model_type, "qwen3");
    c->n_layers = 2, c->hidden = 24, c->n_heads = 4, c->n_kv_heads = 2, c->head_dim = 10, c->ffn = 40;
    c->vocab = 50, c->max_pos = 64, c->rms_eps = 1e-6f, c->qk_norm = 1, c->tied = 1, c->gate = g;
    c->rope.type = ROPE_TYPE_DEFAULT, c->rope.theta = 10000;
    c->bos_token_id = c->eos_token_id = -1;
}

/* Everything in double, position by position, straight from the definitions. */
struct naive_out {
    double *probs;  /* [L, nh, T, T] */
    double *hidden; /* [L, T, H] */
    double *gate;   /* [L, T, nh, gd] */
    double *logits; /* [T, V] */
};

static void naive_rmsnorm(double *y, const double *x, const float *w, int n, double eps)
{
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += x[i] * x[i];
    double r = 1 / sqrt(ss / n + eps);
    for (int i = 0; i < n; i++)
        y[i] = x[i] * r * w[i];
}

/* the float32 array behind an in-memory weight view (tiny_build's) */
#define F32(w) ((const float *)(w).data)

static void naive_linear(double *y, const double *x, const float *w, const float *b, int n_in, int n_out)
{
    for (int o = 0; o < n_out; o++) {
        double s = b ? b[o] : 0;
        for (int i = 0; i < n_in; i++)
            s += (double)w[(size_t)o * n_in + i] * x[i];
        y[o] = s;
    }
}

static void naive_forward(const struct model *m, const int32_t *tok, int T, const struct gate_mode *gm,
                          struct naive_out *no)
{
    const struct model_config *c = &m->cfg;
    int H = c->hidden, nh = c->n_heads, nkv = c->n_kv_heads, D = c->head_dim, G = nh / nkv;
    int gd = model_config_gate_dim(c), P = model_config_q_group_rows(c), qo = model_config_q_out(c), F = c->ffn;
    double *x = calloc((size_t)T * H, 8), *xn = calloc(H, 8), *qg = calloc(qo, 8);
    double *q = calloc((size_t)T * nh * D, 8), *k = calloc((size_t)T * nkv * D, 8), *v = calloc((size_t)T * nkv * D, 8);
    double *gt = calloc((size_t)T * nh * (gd + 1), 8), *att = calloc((size_t)T * nh * D, 8);
    double *o = calloc(H, 8), *a = calloc(F, 8), *b = calloc(F, 8), *sc = calloc(T, 8);
    float *inv = calloc(D / 2, 4);
    rope_inv_freq(&c->rope, D, c->max_pos, inv);
    double af = rope_attention_factor(&c->rope, c->max_pos);
    for (int t = 0; t < T; t++)
        for (int i = 0; i < H; i++)
            x[t * H + i] = F32(m->w.embed)[(size_t)tok[t] * H + i];
    for (int l = 0; l < c->n_layers; l++) {
        const struct layer_weights *w = &m->w.layers[l];
        for (int t = 0; t < T; t++) {
            naive_rmsnorm(xn, x + t * H, w->attn_norm, H, c->rms_eps);
            naive_linear(qg, xn, F32(w->wq), w->bq, H, qo);
            naive_linear(k + t * nkv * D, xn, F32(w->wk), w->bk, H, nkv * D);
            naive_linear(v + t * nkv * D, xn, F32(w->wv), w->bv, H, nkv * D);
            for (int h = 0; h < nh; h++) {
                int g = h / G, j = h % G;
                for (int d = 0; d < D; d++)
                    q[(t * nh + h) * D + d] = qg[g * P + j * D + d];
                for (int e = 0; e < gd; e++) {
                    double lg = qg[g * P + G * D + j * gd + e];
                    gt[(t * nh + h) * gd + e] = gm->kind == GATE_MODE_NATIVE ? 1 / (1 + exp(-lg))
                                                : gm->kind == GATE_MODE_OFF ? 1 : gm->value;
                }
            }
            for (int h = 0; h < nh + nkv; h++) { /* QK-norm then RoPE on each query and key head */
                double *r = h < nh ? q + (t * nh + h) * D : k + (t * nkv + h - nh) * D, tmp[256];
                if (c->qk_norm)
                    naive_rmsnorm(tmp, r, h < nh ? w->q_norm : w->k_norm, D, c->rms_eps);
                else
                    memcpy(tmp, r, D * 8);
                for (int i = 0; i < D / 2; i++) {
                    double ang = (double)t * inv[i], cs = cos(ang) * af, sn = sin(ang) * af;
                    r[i] = tmp[i] * cs - tmp[i + D / 2] * sn;
                    r[i + D / 2] = tmp[i + D / 2] * cs + tmp[i] * sn;
                }
            }
        }
        for (int h = 0; h < nh; h++)
            for (int t = 0; t < T; t++) {
                int kh = h / G;
                double mx = -INFINITY, sum = 0;
                for (int s = 0; s < T; s++) {
                    int ok = s <= t && !(c->sliding_window > 0 && t - s >= c->sliding_window);
                    double d = 0;
                    for (int i = 0; i < D; i++)
                        d += q[(t * nh + h) * D + i] * k[(s * nkv + kh) * D + i];
                    sc[s] = ok ? d / sqrt((double)D) : -INFINITY;
                    mx = fmax(mx, sc[s]);
                }
                for (int s = 0; s < T; s++)
                    sum += (sc[s] = exp(sc[s] - mx));
                for (int i = 0; i < D; i++)
                    att[(t * nh + h) * D + i] = 0;
                for (int s = 0; s < T; s++) {
                    double pr = sc[s] / sum;
                    no->probs[(((size_t)l * nh + h) * T + t) * T + s] = pr;
                    for (int i = 0; i < D; i++)
                        att[(t * nh + h) * D + i] += pr * v[(s * nkv + kh) * D + i];
                }
                for (int i = 0; gd && i < D; i++)
                    att[(t * nh + h) * D + i] *= gt[(t * nh + h) * gd + (gd == 1 ? 0 : i)];
            }
        if (gd)
            memcpy(no->gate + (size_t)l * T * nh * gd, gt, (size_t)T * nh * gd * 8);
        for (int t = 0; t < T; t++) {
            naive_linear(o, att + t * nh * D, F32(w->wo), w->bo, nh * D, H);
            for (int i = 0; i < H; i++)
                x[t * H + i] += o[i];
            naive_rmsnorm(xn, x + t * H, w->ffn_norm, H, c->rms_eps);
            naive_linear(a, xn, F32(w->w_gate), NULL, H, F);
            naive_linear(b, xn, F32(w->w_up), NULL, H, F);
            for (int i = 0; i < F; i++)
                a[i] = a[i] / (1 + exp(-a[i])) * b[i];
            naive_linear(o, a, F32(w->w_down), NULL, F, H);
            for (int i = 0; i < H; i++)
                x[t * H + i] += o[i];
        }
        memcpy(no->hidden + (size_t)l * T * H, x, (size_t)T * H * 8);
    }
    for (int t = 0; t < T; t++) {
        naive_rmsnorm(xn, x + t * H, m->w.final_norm, H, c->rms_eps);
        naive_linear(no->logits + (size_t)t * c->vocab, xn, F32(m->w.lm_head), NULL, H, c->vocab);
    }
    free(x), free(xn), free(qg), free(q), free(k), free(v), free(gt), free(att), free(o), free(a), free(b);
    free(sc), free(inv);
}

/* max |x| over n floats (scale for relative tolerances where float32 rounding grows with size) */
static double max_abs(const float *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(a[i]));
    return m;
}

static double diff_fd(const float *a, const double *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        m = isnan(d) ? INFINITY : fmax(m, d);
    }
    return m;
}

static void naive_case(const char *label, struct model_config *c, struct gate_mode gm)
{
    struct model m;
    tiny_build(&m, c, 42);
    int T = 13;
    int32_t tok[13];
    for (int t = 0; t < T; t++)
        tok[t] = (t * 17 + 3) % c->vocab;
    struct capture cp;
    struct forward_opts o = {.gate = gm, .threads = 1, .attn_tile = 4, .logits_tile = 5};
    struct ss_error e = {0};
    CU_ASSERT_EQUAL_FATAL(run_capture(&m, tok, T, &cp, &o, &e), SS_OK);
    size_t L = c->n_layers, nh = c->n_heads, gd = model_config_gate_dim(c);
    struct naive_out no = {calloc(L * nh * T * T, 8), calloc(L * T * c->hidden, 8), calloc(L * T * nh * (gd + 1), 8),
                           calloc((size_t)T * c->vocab, 8)};
    naive_forward(&m, tok, T, &gm, &no);
    double dp = diff_fd(cp.probs, no.probs, L * nh * T * T), dh = diff_fd(cp.hidden, no.hidden, L * T * c->hidden);
    double dl = diff_fd(cp.logits, no.logits, (size_t)T * c->vocab), dg = diff_fd(cp.gate, no.gate, L * T * nh * gd);
    printf("  naive %s: max |diff| probs %.2g hidden %.2g logits %.2g gate %.2g\n", label, dp, dh, dl, dg);
    CU_ASSERT(dp <= 1e-5);
    CU_ASSERT(dh <= 1e-4);
    CU_ASSERT(dl <= 1e-4);
    CU_ASSERT(dg <= 1e-6);
    CU_ASSERT_EQUAL(cp.bad_shape, 0);
    free(no.probs), free(no.hidden), free(no.gate), free(no.logits);
    capture_free(&cp);
    model_free(&m);
}

static void test_naive(void)
{
    struct model_config c;
    struct gate_mode native = {GATE_MODE_NATIVE, 0};
    tiny_config(&c, GATE_KIND_NONE);
    naive_case("qwen3 ungated", &c, native);
    tiny_config(&c, GATE_KIND_HEADWISE);
    c.qkv_bias = c.o_bias = 1;
    c.rope.type = ROPE_TYPE_LLAMA3, c.rope.factor = 8, c.rope.low_freq_factor = 1, c.rope.high_freq_factor = 4;
    c.rope.original_max_pos = 16;
    naive_case("headwise+bias+llama3", &c, native);
    tiny_config(&c, GATE_KIND_ELEMENTWISE);
    c.tied = 0;
    c.rope.type = ROPE_TYPE_YARN, c.rope.factor = 4, c.rope.original_max_pos = 16, c.rope.beta_fast = 32;
    c.rope.beta_slow = 1, c.rope.truncate = 1;
    naive_case("elementwise+yarn", &c, native);
    naive_case("elementwise constant=0.25", &c, (struct gate_mode){GATE_MODE_CONSTANT, 0.25f});
    tiny_config(&c, GATE_KIND_NONE);
    strcpy(c.model_type, "mistral");
    c.qk_norm = 0, c.n_kv_heads = 4, c.sliding_window = 5;
    naive_case("mistral MHA sliding window 5", &c, native);
}

/* --gate off on a gated model == the ungated model made of its query rows. */
static void test_gate_off(void)
{
    for (int kind = GATE_KIND_HEADWISE; kind <= GATE_KIND_ELEMENTWISE; kind++) {
        struct model_config c;
        tiny_config(&c, kind);
        c.qkv_bias = 1;
        struct model g, u;
        tiny_build(&g, &c, 7);
        u = g;
        u.cfg.gate = GATE_KIND_NONE;
        u.w.layers = calloc(c.n_layers, sizeof *u.w.layers);
        int P = model_config_q_group_rows(&c), G = c.n_heads / c.n_kv_heads, D = c.head_dim, H = c.hidden;
        float *buf = malloc((size_t)c.n_layers * (c.n_heads * D) * (H + 1) * 4), *p = buf;
        for (int l = 0; l < c.n_layers; l++) {
            u.w.layers[l] = g.w.layers[l];
            float *wq = p;
            u.w.layers[l].wq = weight_f32(wq, c.n_heads * D, H);
            p += c.n_heads * D * H;
            u.w.layers[l].bq = p;
            p += c.n_heads * D;
            for (int grp = 0; grp < c.n_kv_heads; grp++)
                for (int r = 0; r < G * D; r++) {
                    memcpy(wq + ((size_t)grp * G * D + r) * H, F32(g.w.layers[l].wq) + ((size_t)grp * P + r) * H, H * 4);
                    u.w.layers[l].bq[grp * G * D + r] = g.w.layers[l].bq[grp * P + r];
                }
        }
        int T = 11;
        int32_t tok[11];
        for (int t = 0; t < T; t++)
            tok[t] = (t * 7 + 1) % c.vocab;
        struct capture cg, cu;
        struct forward_opts og = {.gate = {GATE_MODE_OFF, 1}, .threads = 1}, ou = {.threads = 1};
        struct ss_error e = {0};
        CU_ASSERT_EQUAL(run_capture(&g, tok, T, &cg, &og, &e), SS_OK);
        CU_ASSERT_EQUAL(run_capture(&u, tok, T, &cu, &ou, &e), SS_OK);
        size_t np = (size_t)c.n_layers * c.n_heads * T * T, ng = (size_t)c.n_layers * T * c.n_heads * model_config_gate_dim(&c);
        double dl = test_max_abs_diff(cg.logits, cu.logits, (size_t)T * c.vocab), dp = test_max_abs_diff(cg.probs, cu.probs, np);
        int ones = 1;
        for (size_t i = 0; i < ng; i++)
            ones &= cg.gate[i] == 1.0f;
        double sl = fmax(1, max_abs(cu.logits, (size_t)T * c.vocab));
        printf("  gate off (%s) vs ungated: max |diff| logits %.2g (max |logit| %.3g) probs %.2g, gate hook all ones %d\n",
               gate_kind_name(kind), dl, sl, dp, ones);
        /* the q_proj sgemms differ in width, so allow float32 rounding relative to the logit scale */
        CU_ASSERT(dl <= 1e-6 * sl && dp <= 1e-6 && ones);
        /* constant=X: every gate value is X and attn_gated is exactly attn_out * X */
        struct capture cc;
        struct forward_opts oc = {.gate = {GATE_MODE_CONSTANT, 0.375f}, .threads = 1};
        CU_ASSERT_EQUAL(run_capture(&g, tok, T, &cc, &oc, &e), SS_OK);
        int exact = 1;
        for (size_t i = 0; i < ng; i++)
            exact &= cc.gate[i] == 0.375f;
        for (size_t i = 0; i < (size_t)c.n_layers * T * c.n_heads * D; i++)
            exact &= cc.attn_gated[i] == cc.attn_out[i] * 0.375f;
        printf("  gate constant=0.375 (%s): applied exactly %d\n", gate_kind_name(kind), exact);
        CU_ASSERT(exact);
        capture_free(&cg), capture_free(&cu), capture_free(&cc);
        free(buf);
        free(u.w.layers);
        model_free(&g);
    }
}

static void test_gate_mode_parse(void)
{
    struct gate_mode g;
    CU_ASSERT(gate_mode_parse(&g, "native") == 0 && g.kind == GATE_MODE_NATIVE);
    CU_ASSERT(gate_mode_parse(&g, "off") == 0 && g.kind == GATE_MODE_OFF);
    CU_ASSERT(gate_mode_parse(&g, "constant=0.5") == 0 && g.kind == GATE_MODE_CONSTANT && g.value == 0.5f);
    CU_ASSERT(gate_mode_parse(&g, "constant=") != 0);
    CU_ASSERT(gate_mode_parse(&g, "constant=x") != 0);
    CU_ASSERT(gate_mode_parse(&g, "on") != 0);
    /* an ungated model refuses constant=X; off is a no-op there */
    struct model_config c;
    tiny_config(&c, GATE_KIND_NONE);
    struct model m;
    tiny_build(&m, &c, 3);
    struct run_state *rs;
    struct ss_error e = {0};
    int32_t tok[3] = {1, 2, 3};
    struct forward_opts o = {.gate = {GATE_MODE_CONSTANT, 0.5f}, .threads = 1};
    CU_ASSERT_EQUAL_FATAL(run_state_new(&rs, &c, 3, &o, &e), SS_OK);
    CU_ASSERT_EQUAL(model_forward(&m, rs, tok, 3, NULL, &o, &e), SS_ERR_INPUT);
    o.gate.kind = GATE_MODE_OFF;
    CU_ASSERT_EQUAL(model_forward(&m, rs, tok, 3, NULL, &o, &e), SS_OK);
    tok[1] = c.vocab;
    CU_ASSERT_EQUAL(model_forward(&m, rs, tok, 3, NULL, &o, &e), SS_ERR_INPUT);
    printf("  out-of-range token: %s\n", e.msg);
    CU_ASSERT(strstr(e.msg, "tiny") && strstr(e.msg, "position 1"));
    CU_ASSERT_EQUAL(model_forward(&m, rs, tok, 4, NULL, &o, &e), SS_ERR_INPUT);
    run_state_free(rs);
    model_free(&m);
}

/* attn_tile 1, 7, 128 (and logits tiles) give the same probabilities and logits. */
static void test_tiles(void)
{
    struct model_config c;
    tiny_config(&c, GATE_KIND_HEADWISE);
    struct model m;
    tiny_build(&m, &c, 11);
    int T = 30;
    int32_t tok[30];
    for (int t = 0; t < T; t++)
        tok[t] = (t * 13 + 5) % c.vocab;
    int tiles[3][2] = {{1, 1}, {7, 4}, {128, 256}};
    struct capture cp[3];
    struct ss_error e = {0};
    for (int i = 0; i < 3; i++) {
        struct forward_opts o = {.threads = 1, .attn_tile = tiles[i][0], .logits_tile = tiles[i][1]};
        CU_ASSERT_EQUAL(run_capture(&m, tok, T, &cp[i], &o, &e), SS_OK);
    }
    size_t np = (size_t)c.n_layers * c.n_heads * T * T, nl = (size_t)T * c.vocab;
    for (int i = 1; i < 3; i++) {
        double dp = test_max_abs_diff(cp[0].probs, cp[i].probs, np), dl = test_max_abs_diff(cp[0].logits, cp[i].logits, nl);
        double sl = fmax(1, max_abs(cp[0].logits, nl));
        printf("  attn_tile %d vs 1: max |diff| probs %.2g logits %.2g (max |logit| %.3g)\n", tiles[i][0], dp, dl, sl);
        CU_ASSERT(dp <= 1e-6 && dl <= 1e-6 * sl); /* sgemm rounding differs with the tile's row count */
    }
    for (int i = 0; i < 3; i++)
        capture_free(&cp[i]);
    model_free(&m);
}

/* Thread counts 2, 3 and 7 give bit-identical tensors to 1 thread: every BLAS call
 * runs single-threaded inside tasks cut from the shapes alone. The shapes make
 * several column slices (ffn 600, vocab 530 > LINEAR_SLICE, with a partial last
 * one) and several attention tiles per batch, and are large enough that OpenBLAS's
 * own threading would change the rounding (it did, before the tasks). */
static void test_threads_identical(void)
{
    struct model_config c;
    tiny_config(&c, GATE_KIND_ELEMENTWISE);
    c.hidden = 256, c.head_dim = 64, c.ffn = 600, c.vocab = 530, c.max_pos = 128;
    struct model m;
    tiny_build(&m, &c, 21);
    int T = 100, L = c.n_layers, nh = c.n_heads, D = c.head_dim;
    int32_t tok[100];
    for (int t = 0; t < T; t++)
        tok[t] = (t * 37 + 11) % c.vocab;
    int threads[] = {1, 2, 3, 7};
    struct capture cp[4];
    struct ss_error e = {0};
    for (int i = 0; i < 4; i++) {
        struct forward_opts o = {.threads = threads[i], .attn_tile = 16, .logits_tile = 60};
        CU_ASSERT_EQUAL_FATAL(run_capture(&m, tok, T, &cp[i], &o, &e), SS_OK);
    }
    size_t tt = (size_t)L * nh * T * T, th = (size_t)L * T * nh * D;
    for (int i = 1; i < 4; i++) {
        int differ = memcmp(cp[0].probs, cp[i].probs, tt * sizeof(float)) != 0;
        differ += memcmp(cp[0].scores, cp[i].scores, tt * sizeof(float)) != 0;
        differ += memcmp(cp[0].hidden, cp[i].hidden, (size_t)L * T * c.hidden * sizeof(float)) != 0;
        differ += memcmp(cp[0].q, cp[i].q, th * sizeof(float)) != 0;
        differ += memcmp(cp[0].gate, cp[i].gate, th * sizeof(float)) != 0;
        differ += memcmp(cp[0].attn_out, cp[i].attn_out, th * sizeof(float)) != 0;
        differ += memcmp(cp[0].attn_gated, cp[i].attn_gated, th * sizeof(float)) != 0;
        differ += memcmp(cp[0].logits, cp[i].logits, (size_t)T * c.vocab * sizeof(float)) != 0;
        printf("  %d threads vs 1: %d of 8 captured tensors differ (max |diff| logits %.2g, probs %.2g)\n", threads[i],
               differ, test_max_abs_diff(cp[0].logits, cp[i].logits, (size_t)T * c.vocab),
               test_max_abs_diff(cp[0].probs, cp[i].probs, tt));
        CU_ASSERT_EQUAL(differ, 0);
    }
    for (int i = 0; i < 4; i++)
        capture_free(&cp[i]);
    model_free(&m);
}

/* The MoE path with learned sinks (the gpt_oss fixtures) gives the same bits for 1, 2 and 3
 * threads: experts in index order, tokens in position order, whatever the thread count. */
static void test_moe_threads_identical(void)
{
    static const char *const dirs[] = {"tests/fixtures/gpt_oss_bf16", "tests/fixtures/gpt_oss_mxfp4"};
    for (int d = 0; d < 2; d++) {
        struct model m;
        struct ss_error e = {0};
        CU_ASSERT_EQUAL_FATAL(model_load(&m, dirs[d], &e), SS_OK);
        const struct model_config *c = &m.cfg;
        int T = 20, L = c->n_layers, nh = c->n_heads;
        int32_t tok[20];
        for (int t = 0; t < T; t++)
            tok[t] = (t * 53 + 7) % c->vocab;
        struct capture cp[3];
        for (int i = 0; i < 3; i++) {
            struct forward_opts o = {.threads = i + 1, .attn_tile = 4, .logits_tile = 8};
            CU_ASSERT_EQUAL_FATAL(run_capture(&m, tok, T, &cp[i], &o, &e), SS_OK);
        }
        for (int i = 1; i < 3; i++) {
            int differ = memcmp(cp[0].hidden, cp[i].hidden, (size_t)L * T * c->hidden * 4) != 0;
            differ += memcmp(cp[0].probs, cp[i].probs, (size_t)L * nh * T * T * 4) != 0;
            differ += memcmp(cp[0].sink, cp[i].sink, (size_t)L * T * nh * 4) != 0;
            differ += memcmp(cp[0].router_w, cp[i].router_w, (size_t)L * T * c->v.n_experts * 4) != 0;
            differ += memcmp(cp[0].logits, cp[i].logits, (size_t)T * c->vocab * 4) != 0;
            printf("  %s: %d threads vs 1: %d of 5 tensors differ\n", dirs[d], i + 1, differ);
            CU_ASSERT_EQUAL(differ, 0);
        }
        for (int i = 0; i < 3; i++)
            capture_free(&cp[i]);
        model_free(&m);
    }
}

/* ---- hook coverage ------------------------------------------------------------ */

struct coverage {
    const struct model_config *c;
    int T, count[HOOK_COUNT], bad, last_point, last_layer, last_head, next_q0;
    double rowsum[8 * 16];     /* learned sinks: [head, query] attn_probs row sums of the layer */
};

static int cov_hook(void *user, const struct hook_event *ev, struct ss_error *err)
{
    struct coverage *cv = user;
    const struct model_config *c = cv->c;
    int T = cv->T, H = c->hidden, nh = c->n_heads, nkv = c->n_kv_heads, D = c->head_dim;
    int64_t want[HOOK_COUNT][3] = {
        [HOOK_ATTN_NORM] = {T, H}, [HOOK_Q] = {T, nh, D}, [HOOK_K] = {T, nkv, D}, [HOOK_V] = {T, nkv, D},
        [HOOK_ATTN_OUT] = {T, nh, D}, [HOOK_GATE] = {T, nh, model_config_gate_dim(c)}, [HOOK_ATTN_GATED] = {T, nh, D},
        [HOOK_O_PROJ] = {T, H}, [HOOK_RESID_MID] = {T, H}, [HOOK_FFN_NORM] = {T, H}, [HOOK_FFN_OUT] = {T, H},
        [HOOK_RESID_POST] = {T, H}, [HOOK_FINAL_NORM] = {T, H}, [HOOK_ATTN_SINK] = {T, nh},
    };
    int p = ev->point;
    cv->count[p]++;
    if (ev->T != T)
        cv->bad++;
    if (p == HOOK_ATTN_SCORES || p == HOOK_ATTN_PROBS) {
        int nq = (int)ev->shape[0];
        if (p == HOOK_ATTN_SCORES) { /* tiles in order: (head, q0) increasing, covering all queries */
            if (ev->head != cv->last_head) {
                if (cv->next_q0 != 0 && cv->next_q0 != T)
                    cv->bad++;
                if (ev->head != cv->last_head + 1)
                    cv->bad++;
                cv->last_head = ev->head;
                cv->next_q0 = 0;
            }
            if (ev->q0 != cv->next_q0)
                cv->bad++;
            cv->next_q0 = ev->q0 + nq;
            for (int i = 0; i < nq; i++) /* masked above the diagonal with -inf */
                for (int j = ev->q0 + i + 1; j < ev->shape[1]; j++)
                    if (ev->data[(size_t)i * ev->shape[1] + j] != -INFINITY)
                        cv->bad++;
        } else {
            for (int i = 0; i < nq; i++) { /* rows sum to 1, or to 1 - the sink share (checked at attn_sink) */
                double s = 0;
                for (int j = 0; j < ev->shape[1]; j++)
                    s += ev->data[(size_t)i * ev->shape[1] + j];
                if (c->v.attn_sinks)
                    cv->rowsum[ev->head * T + ev->q0 + i] = s;
                else if (fabs(s - 1) > 1e-5)
                    cv->bad++;
            }
        }
        if (ev->ndim != 2 || ev->shape[1] != ev->q0 + nq || ev->layer < 0)
            cv->bad++;
        return 0;
    }
    if (p == HOOK_LOGITS) {
        if (ev->ndim != 2 || ev->shape[1] != c->vocab || ev->layer != -1)
            cv->bad++;
        return 0;
    }
    if (p == HOOK_ATTN_NORM)
        cv->last_head = -1, cv->next_q0 = 0;
    if (p == HOOK_ATTN_SINK) /* after every head's tiles: share in [0, 1], row sum + share = 1 */
        for (int q = 0; q < T && ev->ndim == 2 && ev->shape[1] == nh; q++)
            for (int h = 0; h < nh; h++) {
                float sh = ev->data[(size_t)q * nh + h];
                if (!(sh >= 0 && sh <= 1) || fabs(cv->rowsum[h * T + q] + sh - 1) > 1e-5)
                    cv->bad++;
            }
    int nd = want[p][2] ? 3 : 2;
    if (ev->ndim != nd || ev->shape[0] != want[p][0] || ev->shape[1] != want[p][1] ||
        (nd == 3 && ev->shape[2] != want[p][2]))
        cv->bad++;
    if ((p == HOOK_FINAL_NORM) != (ev->layer == -1))
        cv->bad++;
    /* within a layer the points come in the order of enum hook_point */
    if (ev->layer == cv->last_layer && p < cv->last_point)
        cv->bad++;
    cv->last_point = p, cv->last_layer = ev->layer;
    return 0;
}

static int stop_hook(void *user, const struct hook_event *ev, struct ss_error *err)
{
    return ss_fail(err, SS_ERR_INTERRUPTED, "stopped at %s", hook_point_name(ev->point)), 1;
}

/* Hook order and shapes, single-threaded and with 3 threads (tiles computed in batches);
 * with learned sinks (gpt_oss's attention) attn_sink fires once per layer and the
 * attn_probs rows sum to 1 - its share. */
static void hooks_check(int threads, int sinks)
{
    struct model_config c;
    tiny_config(&c, GATE_KIND_ELEMENTWISE);
    c.v.attn_sinks = sinks;
    struct model m;
    tiny_build(&m, &c, 5);
    static const float sink_logits[4] = {-1.5f, 0.0f, 1.0f, 3.0f}; /* n_heads of tiny_config */
    for (int l = 0; sinks && l < c.n_layers; l++)
        m.w.layers[l].sinks = (float *)sink_logits;
    int T = 9;
    int32_t tok[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    struct coverage cv = {&c, T, {0}, 0, -1, -2, -1, 0};
    struct hook_set hs;
    struct ss_error e = {0};
    hook_set_init(&hs);
    for (int p = 0; p < HOOK_COUNT; p++)
        CU_ASSERT_EQUAL(hook_set_add(&hs, hook_point_name(p), cov_hook, &cv, &e), SS_OK);
    CU_ASSERT_EQUAL(hook_set_add(&hs, "nope", cov_hook, &cv, &e), SS_ERR_INPUT);
    struct forward_opts o = {.threads = threads, .attn_tile = 4, .logits_tile = 4};
    struct run_state *rs;
    CU_ASSERT_EQUAL_FATAL(run_state_new(&rs, &c, T, &o, &e), SS_OK);
    CU_ASSERT_EQUAL(model_forward(&m, rs, tok, T, &hs, &o, &e), SS_OK);
    printf("  %d thread(s):\n", threads);
    int L = c.n_layers, tiles = (T + 3) / 4;
    for (int p = 0; p < HOOK_COUNT; p++) {
        int want = p == HOOK_ATTN_SCORES || p == HOOK_ATTN_PROBS ? L * c.n_heads * tiles
                   : p == HOOK_FINAL_NORM ? 1 : p == HOOK_LOGITS ? tiles
                   : p == HOOK_ROUTER_PROBS || p == HOOK_ROUTER_WEIGHTS
                       ? 0 /* dense model: MoE layers only (their fixtures check them) */
                   : p == HOOK_ATTN_SINK ? (sinks ? L : 0) : L;
        printf("  hook %-11s fired %3d times (expected %d)%s\n", hook_point_name(p), cv.count[p], want,
               sinks ? " [learned sinks]" : "");
        CU_ASSERT_EQUAL(cv.count[p], want);
    }
    printf("  hook events breaking hooks.h: %d\n", cv.bad);
    CU_ASSERT_EQUAL(cv.bad, 0);
    /* a hook returning non-zero stops the pass with its error */
    hook_set_init(&hs);
    hook_set_add(&hs, "ffn_out", stop_hook, NULL, &e);
    CU_ASSERT_EQUAL(model_forward(&m, rs, tok, T, &hs, &o, &e), SS_ERR_INTERRUPTED);
    CU_ASSERT_STRING_EQUAL(e.msg, "stopped at ffn_out");
    /* no subscriber at all: nothing fires, nothing fails */
    CU_ASSERT_EQUAL(model_forward(&m, rs, tok, T, NULL, &o, &e), SS_OK);
    run_state_free(rs);
    model_free(&m);
}

static void test_hooks(void)
{
    hooks_check(1, 0);
    hooks_check(3, 0);
    hooks_check(1, 1);
    hooks_check(3, 1);
}

SS_SUITE(forward)
{
    CU_pSuite s = CU_add_suite("forward", NULL, NULL);
    CU_add_test(s, "matches a naive double-precision implementation", test_naive);
    CU_add_test(s, "gate off == ungated weights, constant=X exact", test_gate_off);
    CU_add_test(s, "gate modes parse; bad token ids rejected", test_gate_mode_parse);
    CU_add_test(s, "tile sizes do not change results", test_tiles);
    CU_add_test(s, "1, 2, 3 and 7 threads give bit-identical tensors", test_threads_identical);
    CU_add_test(s, "MoE with learned sinks (gpt_oss): 1, 2, 3 threads bit-identical", test_moe_threads_identical);
    CU_add_test(s, "hooks fire with the shapes and order of hooks.h", test_hooks);
    CU_add_test(s, "reference fixtures from transformers", test_fixtures);
}
