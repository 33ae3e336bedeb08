/* model/forward.c — whole-sequence prefill with hook points (model/hooks.h).
 *
 * Every projection is an sgemm over all T positions (in fixed slices of output
 * columns, model/ops.h). Attention goes head by head in tiles of attn_tile query
 * rows: scores[nq, nk] = Q K^T / sqrt(D) for keys 0..nk = q0+nq, never a T x T
 * buffer; up to `threads` tiles of a head are computed at once, and their hooks
 * fire in tile order. Logits are held logits_tile positions at a time (the LM head
 * converted once per tile), computed and handed to hooks in blocks of <= 256, skipped
 * entirely when nobody listens. All BLAS calls are single-threaded inside fixed
 * tasks (model/parallel.h): results do not depend on the thread count. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "blocks.h"
#include "model.h"
#include "moe.h"
#include "ops.h"
#include "parallel.h"

struct run_state {
    int max_T, attn_tile, logits_tile;
    int n_scores;              /* attention tiles computed at once (threads at creation) */
    struct model_config cfg;   /* the shapes the buffers were sized for */
    float *x;                  /* [T, hidden] residual stream */
    float *xn;                 /* [T, hidden] normed input of a block */
    float *qg;                 /* [T, q_out] q_proj output (queries and gate logits) */
    float *q;                  /* [T, n_heads, D] */
    float *k, *v;              /* [T, n_kv, D] */
    float *gate;               /* [T, n_heads, gate_dim] (gated only) */
    float *att;                /* [T, n_heads, D] attention output before the gate */
    float *attg;               /* [T, n_heads, D] after the gate (gated only) */
    float *o;                  /* [T, hidden] o_proj output, then FFN output */
    float *hb, *hb2;           /* [T, ffn] SwiGLU gate / up */
    float *scores;             /* [n_scores, attn_tile, max_T] attention tiles */
    float *cos_t, *sin_t;      /* [max_T, R/2] RoPE tables (yarn/longrope attention factor folded in) */
    float *cos2, *sin2;        /* [max_T, R/2] second table: gemma3's local base, longrope's long factors */
    float *xe;                 /* [T, embed_dim] token embeddings before project_in / logits input after
                                * project_out (only when embed_dim != hidden) */
    float *logits;             /* [logits_tile, vocab] (positions held at once) */
    float *wscratch;           /* [n_scores, LINEAR_SLICE, widest weight row] float32 weight rows */
    void *arena;
};

/* Columns of the widest weight matrix (the n_in of a linear_forward). */
static size_t widest_in(const struct model_config *c)
{
    size_t w = c->hidden, a = (size_t)c->n_heads * c->head_dim, e = c->v.embed_dim;
    w = a > w ? a : w;
    w = e > w ? e : w;
    w = (size_t)c->v.moe_ffn > w ? (size_t)c->v.moe_ffn : w;
    return (size_t)c->ffn > w ? (size_t)c->ffn : w;
}

/* Rotated dims of each head. */
static int rope_dims(const struct model_config *c)
{
    return c->v.rope_dim > 0 ? c->v.rope_dim : c->head_dim;
}

/* Floats of each buffer, in the order of struct run_state; sizes rounded to 64 bytes. */
static int buffer_sizes(const struct model_config *c, int T, int at, int lt, int ns, size_t *n)
{
    size_t H = c->hidden, nh = c->n_heads, D = c->head_dim, kv = c->n_kv_heads, gd = model_config_gate_dim(c);
    size_t R = rope_dims(c), two = c->v.local_rope || c->rope.type == ROPE_TYPE_LONGROPE;
    size_t E = c->v.embed_dim && c->v.embed_dim != c->hidden ? c->v.embed_dim : 0;
    size_t sz[] = {
        T * H, T * H, T * ((size_t)model_config_q_out(c) + 2 * kv * D), T * nh * D, T * kv * D, T * kv * D,
        T * nh * gd, T * nh * D, gd ? T * nh * D : 0, T * H, T * (size_t)c->ffn, T * (size_t)c->ffn,
        (size_t)ns * at * T, T * R / 2, T * R / 2, two * T * R / 2, two * T * R / 2, T * E, (size_t)lt * c->vocab,
        (size_t)ns * LINEAR_SLICE * widest_in(c),
    };
    int k = (int)(sizeof sz / sizeof sz[0]);
    for (int i = 0; i < k; i++)
        n[i] = (sz[i] + 15) / 16 * 16;
    return k;
}

/* The LM head's sgemm and its hook go in blocks of at most LOGITS_ROWS positions;
 * by default LOGITS_HELD positions of logits are held at once, so the head (the
 * largest weight) is converted once per forward pass up to that many positions. */
#define LOGITS_ROWS 256
#define LOGITS_HELD 512

static void tiles_default(const struct forward_opts *o, int *at, int *lt)
{
    *at = o && o->attn_tile > 0 ? o->attn_tile : 128;
    *lt = o && o->logits_tile > 0 ? o->logits_tile : LOGITS_HELD;
}

static int threads_of(const struct forward_opts *o)
{
    int n = o && o->threads > 0 ? o->threads : openblas_get_num_procs();
    return n < 1 ? 1 : n > 256 ? 256 : n;
}

size_t run_state_bytes(const struct model_config *c, int max_T, const struct forward_opts *opts)
{
    int at, lt;
    tiles_default(opts, &at, &lt);
    if (at > max_T)
        at = max_T;
    if (lt > max_T)
        lt = max_T;
    size_t n[24], tot = 0;
    int k = buffer_sizes(c, max_T, at, lt, threads_of(opts), n);
    for (int i = 0; i < k; i++)
        tot += n[i];
    return tot * sizeof(float) + sizeof(struct run_state);
}

int forward_opts_threads(const struct forward_opts *opts)
{
    return threads_of(opts);
}

size_t run_state_scratch_bytes(const struct model_config *c, const struct forward_opts *opts)
{
    return (size_t)threads_of(opts) * LINEAR_SLICE * widest_in(c) * sizeof(float);
}

/* cos/sin tables of the rotated dims: the config's RoPE, and a second one where a
 * layer or a sequence length picks another (gemma3 local base, longrope long factors). */
static int rope_tables_fill(struct run_state *rs, const struct model_config *c, int max_T)
{
    int R = rope_dims(c);
    float *inv = malloc(R / 2 * sizeof *inv);
    if (!inv)
        return -1;
    rope_inv_freq(&c->rope, R, c->max_pos, inv);
    float af = rope_attention_factor(&c->rope, c->max_pos);
    rope_table_fill(rs->cos_t, rs->sin_t, inv, af, max_T, R);
    if (rs->cos2) {
        struct rope_config second = c->v.local_rope ? c->v.rope_local : c->rope;
        if (!c->v.local_rope) /* longrope: the long factors in place of the short ones */
            memcpy(second.short_factor, second.long_factor, sizeof second.short_factor);
        rope_inv_freq(&second, R, c->max_pos, inv);
        rope_table_fill(rs->cos2, rs->sin2, inv, rope_attention_factor(&second, c->max_pos), max_T, R);
    }
    free(inv);
    return 0;
}

enum ss_status run_state_new(struct run_state **out, const struct model_config *c, int max_T,
                             const struct forward_opts *opts, struct ss_error *err)
{
    *out = NULL;
    if (max_T < 1)
        return ss_fail(err, SS_ERR_INPUT, "run state: need at least one position (got %d)", max_T);
    struct run_state *rs = calloc(1, sizeof *rs);
    if (!rs)
        return ss_fail(err, SS_ERR_NOMEM, "run state: out of memory");
    rs->max_T = max_T;
    rs->cfg = *c;
    tiles_default(opts, &rs->attn_tile, &rs->logits_tile);
    if (rs->attn_tile > max_T)
        rs->attn_tile = max_T;
    if (rs->logits_tile > max_T)
        rs->logits_tile = max_T;
    size_t n[24], tot = 0;
    rs->n_scores = threads_of(opts);
    int k = buffer_sizes(c, max_T, rs->attn_tile, rs->logits_tile, rs->n_scores, n);
    for (int i = 0; i < k; i++)
        tot += n[i];
    if (posix_memalign(&rs->arena, 64, tot * sizeof(float) + 64)) {
        free(rs);
        return ss_fail(err, SS_ERR_NOMEM, "run state: cannot allocate %.2f GB of activations for %d positions",
                       tot * 4e-9, max_T);
    }
    madvise(rs->arena, tot * sizeof(float), MADV_HUGEPAGE);
    float **bufs[] = {&rs->x, &rs->xn, &rs->qg, &rs->q, &rs->k, &rs->v, &rs->gate, &rs->att, &rs->attg,
                      &rs->o, &rs->hb, &rs->hb2, &rs->scores, &rs->cos_t, &rs->sin_t, &rs->cos2, &rs->sin2,
                      &rs->xe, &rs->logits, &rs->wscratch};
    float *p = rs->arena;
    for (int i = 0; i < k; i++) {
        *bufs[i] = n[i] ? p : NULL;
        p += n[i];
    }
    if (opts && opts->rope) /* --rope-scaling: the tables and the run state's config follow the override */
        rs->cfg.rope = *opts->rope;
    if (rope_tables_fill(rs, &rs->cfg, max_T)) {
        run_state_free(rs);
        return ss_fail(err, SS_ERR_NOMEM, "run state: out of memory");
    }
    *out = rs;
    return SS_OK;
}

void run_state_free(struct run_state *rs)
{
    if (!rs)
        return;
    free(rs->arena);
    free(rs);
}

/* ---- hooks ------------------------------------------------------------------ */

struct pass {
    const struct model *m;
    const struct hook_set *hooks;
    struct ss_error *err;
    int T, threads;
    struct linear_exec lin;    /* threads and weight scratch for linear_forward */
    const struct attn_mask *mask; /* NULL: causal (+ the checkpoint's window) */
    const struct hook_edit *edits;
    int n_edits;
};

/* Edits of point p at `layer`, in order. data is the pass's own buffer behind the
 * point (fire's caller hands it out read-only to subscribers; the edit runs first). */
static enum ss_status edit(struct pass *ps, const struct hook_event *ev, float *data)
{
    for (int i = 0; i < ps->n_edits; i++) {
        const struct hook_edit *e = &ps->edits[i];
        if (e->point != ev->point || (e->layer >= 0 && e->layer != ev->layer))
            continue;
        if (e->fn(e->user, ev, data, ps->err)) {
            if (ps->err->status == SS_OK)
                ss_fail(ps->err, SS_ERR_INTERNAL, "edit on '%s' stopped the forward pass", hook_point_name(ev->point));
            return ps->err->status;
        }
    }
    return SS_OK;
}

static enum ss_status fire(struct pass *ps, enum hook_point p, int layer, const float *data, int ndim, int64_t s0,
                           int64_t s1, int64_t s2, int head, int q0)
{
    if (!hook_set_wants(ps->hooks, p) && !ps->n_edits)
        return SS_OK;
    if (weight_log_error(ps->m->wlog, ps->err)) /* no hook sees values made of unreadable weights */
        return ps->err->status;
    struct hook_event ev = {p, layer, data, ndim, {s0, s1, s2}, head, q0, ps->T};
    /* every editable point's data is a run_state buffer the pass reads after this
     * point (model/hooks.h), so the edit writes through the const view */
    if (ps->n_edits && hook_point_editable(p)) {
        enum ss_status st = edit(ps, &ev, (float *)data);
        if (st)
            return st;
    }
    if (!hook_set_wants(ps->hooks, p))
        return SS_OK;
    for (int i = 0; i < ps->hooks->n[p]; i++)
        if (ps->hooks->fn[p][i](ps->hooks->user[p][i], &ev, ps->err)) {
            if (ps->err->status == SS_OK)
                ss_fail(ps->err, SS_ERR_INTERNAL, "hook on '%s' stopped the forward pass", hook_point_name(p));
            return ps->err->status;
        }
    return SS_OK;
}

#define FIRE(...)                                     \
    do {                                              \
        enum ss_status st_ = fire(__VA_ARGS__);       \
        if (st_)                                      \
            return st_;                               \
    } while (0)

/* ---- attention ---------------------------------------------------------------- */

/* Split qg[T, q_out] (per KV group: G*D queries, then G gate logits or G*D) into
 * q[T, n_heads, D] and gate[T, n_heads, gd] with the gate mode applied. */
static void split_q_gate(const struct model_config *c, const float *qg, float *q, float *gate, int T,
                         const struct gate_mode *gm)
{
    int nh = c->n_heads, D = c->head_dim, G = nh / c->n_kv_heads, gd = model_config_gate_dim(c);
    int P = model_config_q_group_rows(c), qo = model_config_q_out(c);
    for (int t = 0; t < T; t++) {
        const float *row = qg + (size_t)t * qo;
        for (int g = 0; g < c->n_kv_heads; g++) {
            memcpy(q + ((size_t)t * nh + (size_t)g * G) * D, row + (size_t)g * P, (size_t)G * D * sizeof(float));
            if (gd)
                memcpy(gate + ((size_t)t * nh + (size_t)g * G) * gd, row + (size_t)g * P + (size_t)G * D,
                       (size_t)G * gd * sizeof(float));
        }
    }
    if (!gd)
        return;
    size_t n = (size_t)T * nh * gd;
    if (gm->kind == GATE_MODE_NATIVE)
        sigmoid_forward(gate, n);
    else
        for (size_t i = 0; i < n; i++)
            gate[i] = gm->kind == GATE_MODE_OFF ? 1.0f : gm->value;
}

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
    if (j->stages & ATTN_SOFTMAX)
        softmax_rows(S, nq, nk);
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

/* Causal softmax attention of one layer, head by head, tile by tile.
 * q[T, nh, D], k/v[T, n_kv, D] -> att[T, nh, D]. A stage runs on all tiles of a
 * batch at once; the hooks between stages fire on the calling thread. */
static enum ss_status attention_forward(struct pass *ps, struct run_state *rs, int layer)
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
    for (int h = 0; h < rs->cfg.n_heads; h++)
        for (int q0 = 0; q0 < T; q0 += batch * at) {
            int n = (T - q0 + at - 1) / at;
            n = n < batch ? n : batch;
            struct attn_job j = {rs, T, h, q0, 0, W, scale, c->v.attn_softcap, ps->mask};
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
    return SS_OK;
}

/* ---- one decoder layer, composed from the family's variants (cfg->v) ---------- */

/* The RoPE table of layer l for a sequence of T positions. */
static void rope_table_of(const struct run_state *rs, int l, int T, const float **cs, const float **sn)
{
    const struct model_config *c = &rs->cfg;
    int second = c->v.local_rope ? c->v.layer_sliding[l]
                 : c->rope.type == ROPE_TYPE_LONGROPE && T > c->rope.original_max_pos;
    *cs = second ? rs->cos2 : rs->cos_t;
    *sn = second ? rs->sin2 : rs->sin_t;
}

/* in[T, hidden] -> q[T, nh, D], k/v[T, n_kv, D] (and the gate) after QK-norm and RoPE. */
static void qkv_forward(struct pass *ps, const struct layer_weights *w, struct run_state *rs, const float *in, int l,
                        const struct forward_opts *opts)
{
    const struct model_config *c = &rs->cfg;
    const struct model_variant *v = &c->v;
    int T = ps->T, nh = c->n_heads, nkv = c->n_kv_heads, D = c->head_dim;
    static const struct gate_mode native = {GATE_MODE_NATIVE, 0};
    if (w->wqkv.data) { /* fused per head: row of head h = [q (D), k (D), v (D)] */
        linear_forward(rs->qg, in, &w->wqkv, w->bqkv, T, &ps->lin);
        for (size_t r = 0; r < (size_t)T * nh; r++) {
            const float *src = rs->qg + r * 3 * D;
            memcpy(rs->q + r * D, src, D * sizeof(float));
            memcpy(rs->k + r * D, src + D, D * sizeof(float));
            memcpy(rs->v + r * D, src + 2 * D, D * sizeof(float));
        }
    } else {
        linear_forward(rs->qg, in, &w->wq, w->bq, T, &ps->lin);
        linear_forward(rs->k, in, &w->wk, w->bk, T, &ps->lin);
        linear_forward(rs->v, in, &w->wv, w->bv, T, &ps->lin);
        split_q_gate(c, rs->qg, rs->q, rs->gate, T, opts ? &opts->gate : &native);
    }
    if (c->qk_norm) { /* queries (never the gate logits) and keys: per head, or over the whole width (olmo2) */
        int wq = v->qk_norm_whole ? nh * D : D, wk = v->qk_norm_whole ? nkv * D : D;
        norm_forward(v->norm, rs->q, rs->q, w->q_norm, NULL, T * nh * D / wq, wq, c->rms_eps);
        norm_forward(v->norm, rs->k, rs->k, w->k_norm, NULL, T * nkv * D / wk, wk, c->rms_eps);
    }
    if (v->pos == POS_ROPE) {
        const float *cs, *sn;
        rope_table_of(rs, l, T, &cs, &sn);
        rope_partial_forward(rs->q, cs, sn, T, nh, D, rope_dims(c), nh * D);
        rope_partial_forward(rs->k, cs, sn, T, nkv, D, rope_dims(c), nkv * D);
    }
}

/* in[T, hidden] -> o[T, hidden]: gated (down(act(gate) * up)) or plain (fc2(act(fc1))). */
static void ffn_forward(struct pass *ps, const struct layer_weights *w, struct run_state *rs, const float *in)
{
    const struct model_config *c = &rs->cfg;
    size_t n = (size_t)ps->T * c->ffn;
    linear_forward(rs->hb2, in, &w->w_up, w->b_up, ps->T, &ps->lin);
    if (c->v.ffn_plain) {
        act_forward(c->v.act, rs->hb2, n);
    } else {
        linear_forward(rs->hb, in, &w->w_gate, NULL, ps->T, &ps->lin);
        gated_act_forward(c->v.act, rs->hb2, rs->hb, n);
    }
    linear_forward(rs->o, rs->hb2, &w->w_down, w->b_down, ps->T, &ps->lin);
}

/* in[T, hidden] -> o[T, hidden] through the MoE block (model/moe.h): router logits,
 * routing (router_probs fires with the softmax over all experts, router_weights with
 * the weights applied), experts. */
static enum ss_status moe_ffn_forward(struct pass *ps, const struct layer_weights *w, struct run_state *rs,
                                      const float *in, int l, struct ss_error *err)
{
    const struct model_config *c = &rs->cfg;
    int T = ps->T, E = c->v.n_experts, K = c->v.top_k;
    struct moe_config mc = {E, K, c->hidden, c->v.moe_ffn, MOE_ROUTER_SOFTMAX_TOPK, c->v.norm_topk,
                            MOE_GLU_SWIGLU, 0, 0};
    struct moe_weights mw = {.router = w->router, .down = w->ex_down, .gate = w->ex_gate, .up = w->ex_up};
    /* logits[T, E], probs[T, E], wt[T, K], idx[T, K] */
    float *logits = malloc(sizeof(float) * (size_t)T * (2 * (size_t)E + K) + sizeof(int) * (size_t)T * K + 1);
    if (!logits)
        return ss_fail(err, SS_ERR_NOMEM, "moe: cannot allocate the router of %d positions", T);
    float *probs = logits + (size_t)T * E, *wt = probs + (size_t)T * E;
    int *idx = (int *)(wt + (size_t)T * K);
    linear_forward(logits, in, &w->router, NULL, T, &ps->lin);
    moe_route(&mc, logits, T, probs, idx, wt);
    enum ss_status st = fire(ps, HOOK_ROUTER_PROBS, l, probs, 2, T, E, 0, -1, 0);
    if (!st && hook_set_wants(ps->hooks, HOOK_ROUTER_WEIGHTS)) { /* probs is free again: dense weights */
        memset(probs, 0, sizeof(float) * (size_t)T * E);
        for (size_t i = 0; i < (size_t)T * K; i++)
            probs[i / K * E + idx[i]] = wt[i];
        st = fire(ps, HOOK_ROUTER_WEIGHTS, l, probs, 2, T, E, 0, -1, 0);
    }
    if (!st)
        st = moe_experts_forward(rs->o, in, &mc, &mw, idx, wt, T, &ps->lin, err);
    free(logits);
    return st;
}

/* x += o, then (post-LN) x = norm(x). */
static void residual_add(const struct model_config *c, float *x, const float *o, const float *nw, const float *nb,
                         int T)
{
    for (size_t i = 0; i < (size_t)T * c->hidden; i++)
        x[i] += o[i];
    if (c->v.residual == RESID_POST_LN)
        norm_forward(c->v.norm, x, x, nw, nb, T, c->hidden, c->rms_eps);
}

static enum ss_status layer_forward(struct pass *ps, const struct model *m, struct run_state *rs, int l,
                                    const struct forward_opts *opts)
{
    const struct model_config *c = &m->cfg;
    const struct model_variant *v = &c->v;
    const struct layer_weights *w = &m->w.layers[l];
    int T = ps->T, H = c->hidden, nh = c->n_heads, nkv = c->n_kv_heads, D = c->head_dim;
    int gd = model_config_gate_dim(c), post_ln = v->residual == RESID_POST_LN;

    /* attention reads the normed residual, or the residual itself (post-LN, output norms) */
    const float *in = rs->x;
    if (w->attn_norm && !post_ln) {
        norm_forward(v->norm, rs->xn, rs->x, w->attn_norm, w->attn_norm_b, T, H, c->rms_eps);
        in = rs->xn;
    }
    FIRE(ps, HOOK_ATTN_NORM, l, in, 2, T, H, 0, -1, 0);
    qkv_forward(ps, w, rs, in, l, opts);
    FIRE(ps, HOOK_Q, l, rs->q, 3, T, nh, D, -1, 0);
    FIRE(ps, HOOK_K, l, rs->k, 3, T, nkv, D, -1, 0);
    FIRE(ps, HOOK_V, l, rs->v, 3, T, nkv, D, -1, 0);
    if (gd) /* complete since split_q_gate; before attention, so probes know the layer's gates at attn_out */
        FIRE(ps, HOOK_GATE, l, rs->gate, 3, T, nh, gd, -1, 0);

    enum ss_status st = attention_forward(ps, rs, l);
    if (st)
        return st;
    FIRE(ps, HOOK_ATTN_OUT, l, rs->att, 3, T, nh, D, -1, 0);
    const float *a = rs->att;
    if (gd) { /* attg = att * gate, the gate broadcast over D when headwise */
        for (size_t r = 0; r < (size_t)T * nh; r++) {
            const float *x = rs->att + r * D, *g = rs->gate + r * gd;
            float *y = rs->attg + r * D;
            for (int d = 0; d < D; d++)
                y[d] = x[d] * g[gd == 1 ? 0 : d];
        }
        a = rs->attg;
    }
    FIRE(ps, HOOK_ATTN_GATED, l, a, 3, T, nh, D, -1, 0);
    linear_forward(rs->o, a, &w->wo, w->bo, T, &ps->lin);
    if (w->attn_post_norm) /* sandwich / output norms: o_proj is the normed contribution */
        norm_forward(v->norm, rs->o, rs->o, w->attn_post_norm, NULL, T, H, c->rms_eps);
    FIRE(ps, HOOK_O_PROJ, l, rs->o, 2, T, H, 0, -1, 0);
    if (v->residual == RESID_PARALLEL) /* the FFN reads the layer's input, not the residual after attention */
        norm_forward(v->norm, rs->xn, rs->x, w->ffn_norm, w->ffn_norm_b, T, H, c->rms_eps);
    residual_add(c, rs->x, rs->o, w->attn_norm, w->attn_norm_b, T);
    FIRE(ps, HOOK_RESID_MID, l, rs->x, 2, T, H, 0, -1, 0);

    in = rs->x;
    if (v->residual == RESID_PARALLEL)
        in = rs->xn;
    else if (w->ffn_norm && !post_ln) {
        norm_forward(v->norm, rs->xn, rs->x, w->ffn_norm, w->ffn_norm_b, T, H, c->rms_eps);
        in = rs->xn;
    }
    FIRE(ps, HOOK_FFN_NORM, l, in, 2, T, H, 0, -1, 0);
    if (c->v.n_experts && c->v.layer_moe[l]) {
        if ((st = moe_ffn_forward(ps, w, rs, in, l, ps->err)))
            return st;
    } else
        ffn_forward(ps, w, rs, in);
    if (w->ffn_post_norm)
        norm_forward(v->norm, rs->o, rs->o, w->ffn_post_norm, NULL, T, H, c->rms_eps);
    FIRE(ps, HOOK_FFN_OUT, l, rs->o, 2, T, H, 0, -1, 0);
    residual_add(c, rs->x, rs->o, w->ffn_norm, w->ffn_norm_b, T);
    FIRE(ps, HOOK_RESID_POST, l, rs->x, 2, T, H, 0, -1, 0);
    return SS_OK;
}

static int same_shapes(const struct model_config *a, const struct model_config *b)
{
    return a->hidden == b->hidden && a->n_heads == b->n_heads && a->n_kv_heads == b->n_kv_heads &&
           a->head_dim == b->head_dim && a->ffn == b->ffn && a->vocab == b->vocab && a->gate == b->gate &&
           a->rope.type == b->rope.type && a->rope.theta == b->rope.theta && a->rope.factor == b->rope.factor &&
           a->rope.original_max_pos == b->rope.original_max_pos;
}

/* The interventions of opts, checked against the model and T (one line each). */
static enum ss_status opts_check(const struct model *m, const struct forward_opts *o, int T, struct ss_error *err)
{
    if (o->gate.kind == GATE_MODE_CONSTANT && m->cfg.gate == GATE_KIND_NONE)
        return ss_fail(err, SS_ERR_INPUT, "%s: --gate constant needs a gated checkpoint (this one has no gate)", m->dir);
    for (int i = 0; i < o->n_edits; i++) {
        const struct hook_edit *e = &o->edits[i];
        if (!hook_point_editable(e->point) || !e->fn)
            return ss_fail(err, SS_ERR_INPUT, "%s: hook point '%s' cannot be edited", m->dir,
                           hook_point_name(e->point) ? hook_point_name(e->point) : "?");
        if (e->layer >= m->cfg.n_layers)
            return ss_fail(err, SS_ERR_INPUT, "%s: edit at layer %d, but the model has %d layers (0..%d)", m->dir,
                           e->layer, m->cfg.n_layers, m->cfg.n_layers - 1);
    }
    return attn_mask_check(&o->mask, T, err);
}

/* x[T, hidden] = embed[tokens] (x embed_scale; through project_in when the embedding
 * is narrower) + learned positions. */
static void embed_forward(struct pass *ps, const struct model *m, struct run_state *rs, const int32_t *tokens)
{
    const struct model_config *c = &m->cfg;
    int T = ps->T, H = c->hidden, E = m->w.proj_in.data ? c->v.embed_dim : H;
    float *dst = m->w.proj_in.data ? rs->xe : rs->x;
    for (int t = 0; t < T; t++)
        weight_rows_f32(&m->w.embed, tokens[t], 1, dst + (size_t)t * E);
    if (c->v.embed_scale > 0)
        for (size_t i = 0; i < (size_t)T * E; i++)
            dst[i] *= c->v.embed_scale;
    if (m->w.proj_in.data)
        linear_forward(rs->x, rs->xe, &m->w.proj_in, NULL, T, &ps->lin);
    if (c->v.pos == POS_LEARNED) /* the row of position p is p + pos_offset; hb holds one row */
        for (int t = 0; t < T; t++) {
            weight_rows_f32(&m->w.pos_embed, t + c->v.pos_offset, 1, rs->o);
            for (int i = 0; i < H; i++)
                rs->x[(size_t)t * H + i] += rs->o[i];
        }
}

enum ss_status model_forward(const struct model *m, struct run_state *rs, const int32_t *tokens, int T,
                             const struct hook_set *hooks, const struct forward_opts *opts, struct ss_error *err)
{
    struct ss_error local = {0};
    const struct model_config *c = &m->cfg;
    struct pass ps = {m, hooks, err ? err : &local, T, threads_of(opts), {0}, opts ? &opts->mask : NULL,
                      opts ? opts->edits : NULL,
                      opts ? opts->n_edits : 0};
    struct model_config eff = *c;
    if (opts && opts->rope)
        eff.rope = *opts->rope;
    if (!same_shapes(&eff, &rs->cfg))
        return ss_fail(err, SS_ERR_INTERNAL, "%s: run state was made for another model", m->dir);
    if (T < 1)
        return ss_fail(err, SS_ERR_INPUT, "%s: empty token sequence", m->dir);
    if (T > rs->max_T)
        return ss_fail(err, SS_ERR_INPUT, "%s: sequence of %d tokens exceeds the run state's %d positions", m->dir, T,
                       rs->max_T);
    for (int t = 0; t < T; t++)
        if (tokens[t] < 0 || tokens[t] >= c->vocab)
            return ss_fail(err, SS_ERR_INPUT, "%s: token id %d at position %d is outside the vocabulary [0, %d)",
                           m->dir, (int)tokens[t], t, c->vocab);
    if (c->v.pos == POS_LEARNED && T > c->max_pos)
        return ss_fail(err, SS_ERR_INPUT, "%s: sequence of %d tokens exceeds the %d learned positions", m->dir, T,
                       c->max_pos);
    enum ss_status ost = opts ? opts_check(m, opts, T, ps.err) : SS_OK;
    if (ost)
        return ost;
    parallel_blas_init();
    if (ps.threads > rs->n_scores) /* the scratch has one slot per thread the state was made for */
        ps.threads = rs->n_scores;
    ps.lin = (struct linear_exec){ps.threads, rs->wscratch, LINEAR_SLICE * widest_in(c)};

    int H = c->hidden;
    embed_forward(&ps, m, rs, tokens);
    for (int l = 0; l < c->n_layers; l++) {
        enum ss_status st = layer_forward(&ps, m, rs, l, opts);
        if (st || (st = weight_log_error(m->wlog, ps.err)))
            return st;
    }
    int want_logits = hook_set_wants(hooks, HOOK_LOGITS);
    if (!want_logits && !hook_set_wants(hooks, HOOK_FINAL_NORM))
        return SS_OK;
    const float *fin = rs->x;
    if (m->w.final_norm) {
        norm_forward(c->v.norm, rs->xn, rs->x, m->w.final_norm, m->w.final_norm_b, T, H, c->rms_eps);
        fin = rs->xn;
    }
    FIRE(&ps, HOOK_FINAL_NORM, -1, fin, 2, T, H, 0, -1, 0);
    int E = H;
    if (m->w.proj_out.data) { /* opt: back to the embedding width before the head */
        linear_forward(rs->xe, fin, &m->w.proj_out, NULL, T, &ps.lin);
        fin = rs->xe, E = c->v.embed_dim;
    }
    int rows = rs->logits_tile < LOGITS_ROWS ? rs->logits_tile : LOGITS_ROWS;
    for (int p0 = 0; want_logits && p0 < T; p0 += rs->logits_tile) {
        int n = T - p0 < rs->logits_tile ? T - p0 : rs->logits_tile;
        linear_forward_rows(rs->logits, fin + (size_t)p0 * E, &m->w.lm_head, NULL, n, rows, &ps.lin);
        for (int b0 = 0; b0 < n; b0 += rows) { /* hooks see blocks of `rows` positions, as before */
            int nb = n - b0 < rows ? n - b0 : rows;
            float *lg = rs->logits + (size_t)b0 * c->vocab;
            if (c->v.final_softcap > 0)
                softcap_forward(lg, (size_t)nb * c->vocab, c->v.final_softcap);
            FIRE(&ps, HOOK_LOGITS, -1, lg, 2, nb, c->vocab, 0, -1, p0 + b0);
        }
    }
    return weight_log_error(m->wlog, ps.err);
}
