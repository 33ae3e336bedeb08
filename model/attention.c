/* model/attention.c — causal softmax attention of one layer, head by head in tiles of
 * attn_tile query rows: scores[nq, nk] = Q K^T / sqrt(D) for keys 0..nk = q0+nq, never a
 * T x T buffer; up to `threads` tiles of a head are computed at once, and their hooks
 * fire in tile order. With learned sinks (gpt_oss) each head's sink logit joins every
 * row's softmax; its share per (query, head) fires as attn_sink after all heads. */
#include <cblas.h>
#include <math.h>

#include "blocks.h"
#include "forward_int.h"
#include "parallel.h"

/* Stages of one attention tile; a hook between two stages splits them. */
enum { ATTN_SCORES = 1, ATTN_SOFTMAX = 2, ATTN_PV = 4 };

/* Up to n_scores consecutive query tiles of head h, from row q0; tile b uses
 * scores buffer b. */
struct attn_job {
    struct run_state *rs;
    int T, h, q0, stages;
    int W;                     /* this layer's window (0: full causal) */
    float scale, cap;          /* score scale; soft-cap (0: none) */
    const struct attn_mask *mask; /* --mask-keys, --sink-tokens (model/mask.c) */
    const float *sinks;        /* [n_heads] learned sink logits joining the softmax (gpt_oss), or NULL */
};

static void attn_tile_geometry(const struct attn_job *j, int b, int *qa, int *nq)
{
    int at = j->rs->attn_tile;
    *qa = j->q0 + b * at;
    *nq = j->T - *qa < at ? j->T - *qa : at;
}

static float *attn_tile_scores(const struct attn_job *j, int b)
{
    return j->rs->scores + (size_t)b * j->rs->attn_tile * j->rs->max_T;
}

/* Tile b: S[nq, nk] = mask(Q[qa.., D] K[0..nk, D]^T / sqrt(D)), softmax over keys,
 * att[qa.., h, D] = S V[0..nk, D]; nk = qa + nq (causal). */
static void attn_tile_run(void *ctx, int b, int worker)
{
    const struct attn_job *j = ctx;
    struct run_state *rs = j->rs;
    const struct model_config *c = &rs->cfg;
    int nh = c->n_heads, nkv = c->n_kv_heads, D = c->head_dim, G = nh / nkv, W = j->W, qa, nq;
    attn_tile_geometry(j, b, &qa, &nq);
    int nk = qa + nq;
    float *S = attn_tile_scores(j, b);
    if (j->stages & ATTN_SCORES) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, nk, D, j->scale, rs->q + ((size_t)qa * nh + j->h) * D,
                    nh * D, rs->k + (size_t)(j->h / G) * D, nkv * D, 0.0f, S, nk);
        if (j->cap > 0) /* soft-capping (gemma2) acts on the scaled scores, before the mask */
            softcap_forward(S, (size_t)nq * nk, j->cap);
        for (int i = 0; i < nq; i++)
            attn_mask_row(j->mask, W, qa + i, S + (size_t)i * nk, nk);
    }
    if (j->stages & ATTN_SOFTMAX) {
        if (j->sinks) /* one more column per row; its share goes to sink_share[q, h] */
            softmax_rows_sink(S, nq, nk, j->sinks[j->h], rs->sink_share + (size_t)qa * nh + j->h, nh);
        else
            softmax_rows(S, nq, nk);
    }
    if (j->stages & ATTN_PV)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nq, D, nk, 1.0f, S, nk, rs->v + (size_t)(j->h / G) * D,
                    nkv * D, 0.0f, rs->att + ((size_t)qa * nh + j->h) * D, nh * D);
}

/* Fire hook p on the n tiles of job j, in query order. */
static enum ss_status attn_fire(struct pass *ps, const struct attn_job *j, int n, enum hook_point p, int layer)
{
    for (int b = 0; b < n; b++) {
        int qa, nq;
        attn_tile_geometry(j, b, &qa, &nq);
        FIRE(ps, p, layer, attn_tile_scores(j, b), 2, nq, qa + nq, 0, j->h, qa);
    }
    return SS_OK;
}

/* A stage runs on all tiles of a
 * batch at once; the hooks between stages fire on the calling thread. */
enum ss_status attention_forward(struct pass *ps, struct run_state *rs, int layer)
{
    const struct model_config *c = &rs->cfg;
    int W = c->sliding_window ? c->sliding_window : c->v.layer_sliding[layer] ? c->window : 0;
    if (ps->mask && ps->mask->window > 0) /* --window replaces every layer's own window */
        W = ps->mask->window;
    float scale = c->v.attn_scale > 0 ? c->v.attn_scale : (float)(1.0 / sqrt((double)c->head_dim));
    /* each stage and the hook that may follow it (HOOK_COUNT: none) */
    static const struct { int stage; enum hook_point after; } plan[] = {
        {ATTN_SCORES, HOOK_ATTN_SCORES}, {ATTN_SOFTMAX, HOOK_ATTN_PROBS}, {ATTN_PV, HOOK_COUNT}};
    int T = ps->T, at = rs->attn_tile;
    int batch = ps->threads < rs->n_scores ? ps->threads : rs->n_scores;
    const float *sinks = c->v.attn_sinks ? ps->m->w.layers[layer].sinks : NULL;
    for (int h = 0; h < rs->cfg.n_heads; h++)
        for (int q0 = 0; q0 < T; q0 += batch * at) {
            int n = (T - q0 + at - 1) / at;
            n = n < batch ? n : batch;
            struct attn_job j = {rs, T, h, q0, 0, W, scale, c->v.attn_softcap, ps->mask, sinks};
            for (size_t i = 0; i < sizeof plan / sizeof plan[0]; i++) {
                j.stages |= plan[i].stage; /* stages run together up to a hook somebody hears */
                int hook = plan[i].after != HOOK_COUNT && hook_set_wants(ps->hooks, plan[i].after);
                if (!hook && plan[i].after != HOOK_COUNT)
                    continue;
                parallel_run(n, ps->threads, attn_tile_run, &j);
                j.stages = 0;
                enum ss_status st;
                if (hook && (st = attn_fire(ps, &j, n, plan[i].after, layer)))
                    return st;
            }
        }
    if (sinks) /* every head's share of every query is in: [T, n_heads] */
        FIRE(ps, HOOK_ATTN_SINK, layer, rs->sink_share, 2, T, rs->cfg.n_heads, 0, -1, 0);
    return SS_OK;
}
