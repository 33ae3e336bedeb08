#include "test_probes_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A hash of (seed, a, b, c, d) mapped to [0, 1): tile-independent data. */
static double unit(unsigned seed, unsigned a, unsigned b, unsigned c, unsigned d)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull ^ a * 0xBF58476D1CE4E5B9ull ^ b * 0x94D049BB133111EBull ^
                 c * 0x2545F4914F6CDD1Dull ^ d * 0x632BE59BD9B4E019ull;
    x ^= x >> 31;
    x *= 0xD6E8FEB86659FD93ull;
    x ^= x >> 29;
    return (double)(x >> 11) / 9007199254740992.0;
}

static int emit(const struct hook_set *h, enum hook_point p, int layer, const float *data, int ndim,
                int64_t a, int64_t b, int64_t c, int head, int q0, int T, struct ss_error *err)
{
    struct hook_event ev = {p, layer, data, ndim, {a, b, c}, head, q0, T};
    for (int i = 0; i < h->n[p]; i++) {
        int rc = h->fn[p][i](h->user[p][i], &ev, err);
        if (rc)
            return rc;
    }
    return 0;
}

static void fill(float *x, size_t n, unsigned seed, unsigned tag, unsigned layer, double scale)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((unit(seed, tag, layer, (unsigned)i, 0) * 2 - 1) * scale);
}

/* Learned-sink share of (layer l, head h) at query q: in [0.05, 0.65). */
static double sink_share(unsigned seed, int l, int h, int q)
{
    return 0.05 + 0.6 * unit(seed, 12, l * 131 + h, q, 0);
}

/* router_probs [T, E] (softmax of random logits) and router_weights [T, E] (the top-k of each
 * token renormalised, 0 elsewhere) of MoE layer l, as model/moe.c would emit them. */
static int fire_router(const struct hook_set *hooks, const struct probes_shape *sh, unsigned seed, int l,
                       struct ss_error *err)
{
    int T = sh->T, E = sh->n_experts, K = sh->top_k;
    float *p = calloc((size_t)T * E, sizeof *p), *w = calloc((size_t)T * E, sizeof *w);
    for (int t = 0; t < T; t++) {
        float *pt = p + (size_t)t * E, *wt = w + (size_t)t * E;
        double sum = 0, chosen = 0;
        for (int e = 0; e < E; e++)
            sum += pt[e] = (float)exp(4 * unit(seed, 13, l, t, e));
        for (int e = 0; e < E; e++)
            pt[e] = (float)(pt[e] / sum);
        for (int k = 0; k < K; k++) { /* the k largest, ties to the lower expert */
            int best = -1;
            for (int e = 0; e < E; e++)
                if (wt[e] == 0 && (best < 0 || pt[e] > pt[best]))
                    best = e;
            wt[best] = pt[best];
            chosen += pt[best];
        }
        for (int e = 0; e < E; e++)
            wt[e] = (float)(wt[e] / chosen);
    }
    int rc = emit(hooks, HOOK_ROUTER_PROBS, l, p, 2, T, E, 0, -1, 0, T, err);
    if (!rc)
        rc = emit(hooks, HOOK_ROUTER_WEIGHTS, l, w, 2, T, E, 0, -1, 0, T, err);
    free(p);
    free(w);
    return rc;
}

int test_fire_sequence(const struct hook_set *hooks, const struct probes_shape *sh, unsigned seed,
                       int tile, struct ss_error *err)
{
    int T = sh->T, H = sh->n_heads, D = sh->head_dim, G = sh->gate_dim, rc = 0;
    size_t big = (size_t)T * (sh->hidden > H * D ? sh->hidden : H * D);
    size_t nz = (size_t)tile * (sh->vocab > T ? sh->vocab : T);
    float *x = malloc(big * sizeof *x), *t = malloc(nz * sizeof *t);
    float *y = malloc((size_t)T * H * D * sizeof *y);
    for (int l = 0; l < sh->n_layers && !rc; l++) {
        fill(x, (size_t)T * sh->n_kv_heads * D, seed, 1, l, 2.0);
        rc = emit(hooks, HOOK_V, l, x, 3, T, sh->n_kv_heads, D, -1, 0, T, err);
        if (G > 0 && !rc) { /* gates [T, H, G] fire before attention, as in model/forward.c */
            for (size_t i = 0; i < (size_t)T * H * G; i++)
                x[i] = (float)unit(seed, 4, l, (unsigned)i, 0);
            rc = emit(hooks, HOOK_GATE, l, x, 3, T, H, G, -1, 0, T, err);
        }
        for (int h = 0; h < H && !rc; h++)
            for (int q0 = 0; q0 < T && !rc; q0 += tile) {
                int nq = q0 + tile > T ? T - q0 : tile, nk = q0 + nq;
                for (int i = 0; i < nq; i++) {
                    int q = q0 + i;
                    double sum = 0;
                    float *row = t + (size_t)i * nk;
                    for (int k = 0; k < nk; k++) {
                        double s = k <= q ? exp(4 * unit(seed, 2, l * 131 + h, q, k) + (k == 0) * 3.0) : 0;
                        row[k] = (float)s;
                        sum += s;
                    }
                    if (sh->attn_sinks) /* the sink's share leaves the keys 1 - s */
                        sum /= 1 - sink_share(seed, l, h, q);
                    for (int k = 0; k < nk; k++)
                        row[k] = (float)(row[k] / sum);
                }
                rc = emit(hooks, HOOK_ATTN_PROBS, l, t, 2, nq, nk, 0, h, q0, T, err);
            }
        if (sh->attn_sinks && !rc) { /* [T, H] after all heads' tiles */
            for (int q = 0; q < T; q++)
                for (int h = 0; h < H; h++)
                    y[(size_t)q * H + h] = (float)sink_share(seed, l, h, q);
            rc = emit(hooks, HOOK_ATTN_SINK, l, y, 2, T, H, 0, -1, 0, T, err);
        }
        fill(y, (size_t)T * H * D, seed, 3, l, 1.0);
        if (!rc)
            rc = emit(hooks, HOOK_ATTN_OUT, l, y, 3, T, H, D, -1, 0, T, err);
        if (G > 0 && !rc) {
            for (size_t i = 0; i < (size_t)T * H * D; i++)
                y[i] *= x[i / D * G + (G > 1 ? i % D : 0)]; /* y (t, h, d) times gate (t, h, d or 0) */
            if (!rc)
                rc = emit(hooks, HOOK_ATTN_GATED, l, y, 3, T, H, D, -1, 0, T, err);
        }
        static const enum hook_point streams[4] = {HOOK_O_PROJ, HOOK_RESID_MID, HOOK_FFN_OUT, HOOK_RESID_POST};
        for (int s = 0; s < 4 && !rc; s++) {
            if (s == 2 && sh->n_experts > 0 && sh->layer_moe[l]) /* routing fires before ffn_out */
                rc = fire_router(hooks, sh, seed, l, err);
            if (rc)
                break;
            fill(x, (size_t)T * sh->hidden, seed, 5 + s, l, 1.0);
            x[(size_t)(l % T) * sh->hidden] = 50.0f * (l + 1) * (s + 1); /* a massive entry */
            rc = emit(hooks, streams[s], l, x, 2, T, sh->hidden, 0, -1, 0, T, err);
        }
    }
    for (int p0 = 0; p0 < T && !rc; p0 += tile) {
        int n = p0 + tile > T ? T - p0 : tile;
        for (int i = 0; i < n; i++) /* per position, so tiles do not change the data */
            fill(t + (size_t)i * sh->vocab, sh->vocab, seed, 9, p0 + i, 3.0);
        rc = emit(hooks, HOOK_LOGITS, -1, t, 2, n, sh->vocab, 0, -1, p0, T, err);
    }
    free(x);
    free(t);
    free(y);
    return rc;
}

static int to_stats(void *user, const struct hook_event *ev, struct ss_error *err)
{
    return seq_stats_event(user, ev, err) != SS_OK;
}

void test_feed_sequence(struct seq_stats *s, unsigned seed, int tile)
{
    static int32_t tokens[4096];
    for (int i = 0; i < s->shape.T && i < 4096; i++)
        tokens[i] = i % s->shape.vocab;
    seq_stats_reset(s, tokens);
    struct hook_set h;
    hook_set_init(&h);
    const char *points[] = {"v", "attn_probs", "attn_sink", "attn_out", "gate", "attn_gated", "o_proj",
                            "resid_mid", "router_probs", "router_weights", "ffn_out", "resid_post", "logits"};
    for (size_t i = 0; i < sizeof points / sizeof *points; i++)
        hook_set_add(&h, points[i], to_stats, s, NULL);
    test_fire_sequence(&h, &s->shape, seed, tile, NULL);
}
