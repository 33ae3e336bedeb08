/* model/forward.c — whole-sequence prefill with hook points (model/hooks.h), of one
 * window or of a batch of B windows stacked as [B * T, ...] (corpus mode).
 *
 * Every projection is an sgemm over all T positions of a window (in fixed slices of
 * output columns, model/ops.h), each slice converted once for all the windows of the
 * batch; attention (model/attention.c), RoPE and hooks go window by window. Logits are held logits_tile
 * positions at a time (the LM head converted once per tile), computed and handed to
 * hooks in blocks of <= 256, skipped entirely when nobody listens. All BLAS calls are
 * single-threaded inside fixed tasks (model/parallel.h): results do not depend on the
 * thread count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blocks.h"
#include "forward_int.h"
#include "moe.h"
#include "parallel.h"

/* ---- hooks ------------------------------------------------------------------ */

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

enum ss_status forward_fire(struct pass *ps, enum hook_point p, int layer, const float *data, int ndim, int64_t s0,
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

/* Point p for each window of the pass in turn: window b's event, to its own hooks,
 * shows rows b*T.. of data[B * T, s1, s2] (s2 = 0 for 2-D points). */
static enum ss_status fire_windows(struct pass *ps, enum hook_point p, int layer, const float *data, int ndim,
                                   int64_t s1, int64_t s2)
{
    size_t per = (size_t)ps->T * s1 * (s2 ? s2 : 1);
    for (int b = 0; b < ps->B; b++) {
        ps->hooks = ps->hooks_of[b];
        FIRE(ps, p, layer, data + b * per, ndim, ps->T, s1, s2, -1, 0);
    }
    return SS_OK;
}

#define FIRE_B(...)                                        \
    do {                                                   \
        enum ss_status st_ = fire_windows(__VA_ARGS__);    \
        if (st_)                                           \
            return st_;                                    \
    } while (0)

/* out[B * T, w->rows] = x @ w^T (+ b): the sgemm calls of one window, per window. */
static void linear_pass(const struct pass *ps, float *out, const float *x, const struct weight *w, const float *b)
{
    linear_forward_segs(out, x, w, b, ps->B, ps->T, ps->T, &ps->lin);
}

/* 1 when some window's hooks want p. */
static int any_wants(const struct pass *ps, enum hook_point p)
{
    for (int b = 0; b < ps->B; b++)
        if (hook_set_wants(ps->hooks_of[b], p))
            return 1;
    return 0;
}

/* ---- one decoder layer, composed from the family's variants (cfg->v) ---------- */

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
    int T = ps->T * ps->B, nh = c->n_heads, nkv = c->n_kv_heads, D = c->head_dim; /* every row of the batch */
    static const struct gate_mode native = {GATE_MODE_NATIVE, 0};
    if (w->wqkv.data) { /* fused per head: row of head h = [q (D), k (D), v (D)] */
        linear_pass(ps, rs->qg, in, &w->wqkv, w->bqkv);
        for (size_t r = 0; r < (size_t)T * nh; r++) {
            const float *src = rs->qg + r * 3 * D;
            memcpy(rs->q + r * D, src, D * sizeof(float));
            memcpy(rs->k + r * D, src + D, D * sizeof(float));
            memcpy(rs->v + r * D, src + 2 * D, D * sizeof(float));
        }
    } else {
        linear_pass(ps, rs->qg, in, &w->wq, w->bq);
        linear_pass(ps, rs->k, in, &w->wk, w->bk);
        linear_pass(ps, rs->v, in, &w->wv, w->bv);
        split_q_gate(c, rs->qg, rs->q, rs->gate, T, opts ? &opts->gate : &native);
    }
    if (c->qk_norm) { /* queries (never the gate logits) and keys: per head, or over the whole width (olmo2) */
        int wq = v->qk_norm_whole ? nh * D : D, wk = v->qk_norm_whole ? nkv * D : D;
        norm_forward(v->norm, rs->q, rs->q, w->q_norm, NULL, T * nh * D / wq, wq, c->rms_eps);
        norm_forward(v->norm, rs->k, rs->k, w->k_norm, NULL, T * nkv * D / wk, wk, c->rms_eps);
    }
    if (v->pos == POS_ROPE) { /* positions restart at each window */
        const float *cs, *sn;
        rope_table_of(rs, l, ps->T, &cs, &sn);
        for (size_t b = 0; b < (size_t)ps->B; b++) {
            rope_partial_forward(rs->q + b * ps->T * nh * D, cs, sn, ps->T, nh, D, forward_rope_dims(c), nh * D);
            rope_partial_forward(rs->k + b * ps->T * nkv * D, cs, sn, ps->T, nkv, D, forward_rope_dims(c), nkv * D);
        }
    }
}

/* in[T, hidden] -> o[T, hidden]: gated (down(act(gate) * up)) or plain (fc2(act(fc1))). */
static void ffn_forward(struct pass *ps, const struct layer_weights *w, struct run_state *rs, const float *in)
{
    const struct model_config *c = &rs->cfg;
    size_t n = (size_t)ps->B * ps->T * c->ffn;
    linear_pass(ps, rs->hb2, in, &w->w_up, w->b_up);
    if (c->v.ffn_plain) {
        act_forward(c->v.act, rs->hb2, n);
    } else {
        linear_pass(ps, rs->hb, in, &w->w_gate, NULL);
        gated_act_forward(c->v.act, rs->hb2, rs->hb, n);
    }
    linear_pass(ps, rs->o, rs->hb2, &w->w_down, w->b_down);
}

/* in[T, hidden] -> out[T, hidden] of one window through the MoE block (model/moe.h):
 * router logits, routing (router_probs fires with the softmax over all experts,
 * router_weights with the weights applied), experts. */
static enum ss_status moe_ffn_forward(struct pass *ps, const struct layer_weights *w, struct run_state *rs,
                                      const float *in, float *out, int l, struct ss_error *err)
{
    const struct model_config *c = &rs->cfg;
    int T = ps->T, E = c->v.n_experts, K = c->v.top_k;
    struct moe_config mc = {E, K, c->hidden, c->v.moe_ffn,
                            c->v.router_topk_softmax ? MOE_ROUTER_TOPK_SOFTMAX : MOE_ROUTER_SOFTMAX_TOPK, c->v.norm_topk,
                            c->v.glu_limit > 0 ? MOE_GLU_CLAMPED : MOE_GLU_SWIGLU, 1.702f, c->v.glu_limit};
    struct moe_weights mw = {.router = w->router, .router_b = w->router_b, .down = w->ex_down, .down_b = w->ex_down_b,
                             .gate = w->ex_gate, .up = w->ex_up};
    if (c->v.glu_limit > 0) /* fused, interleaved gate/up with biases (gpt_oss) */
        mw.gate_up = w->ex_gate_up, mw.gate_up_b = w->ex_gate_up_b;
    /* logits[T, E], probs[T, E], wt[T, K], idx[T, K] */
    float *logits = malloc(sizeof(float) * (size_t)T * (2 * (size_t)E + K) + sizeof(int) * (size_t)T * K + 1);
    if (!logits)
        return ss_fail(err, SS_ERR_NOMEM, "moe: cannot allocate the router of %d positions", T);
    float *probs = logits + (size_t)T * E, *wt = probs + (size_t)T * E;
    int *idx = (int *)(wt + (size_t)T * K);
    linear_forward(logits, in, &w->router, w->router_b, T, &ps->lin);
    moe_route(&mc, logits, T, probs, idx, wt);
    enum ss_status st = forward_fire(ps, HOOK_ROUTER_PROBS, l, probs, 2, T, E, 0, -1, 0);
    if (!st && hook_set_wants(ps->hooks, HOOK_ROUTER_WEIGHTS)) { /* probs is free again: dense weights */
        memset(probs, 0, sizeof(float) * (size_t)T * E);
        for (size_t i = 0; i < (size_t)T * K; i++)
            probs[i / K * E + idx[i]] = wt[i];
        st = forward_fire(ps, HOOK_ROUTER_WEIGHTS, l, probs, 2, T, E, 0, -1, 0);
    }
    if (!st)
        st = moe_experts_forward(out, in, &mc, &mw, idx, wt, T, &ps->lin, err);
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

/* Attention of each window of the pass in turn (model/attention.c sees one window:
 * a view of the run state whose q, k, v and att start at the window's rows). */
static enum ss_status attention_windows(struct pass *ps, struct run_state *rs, int l)
{
    const struct model_config *c = &rs->cfg;
    size_t nh = c->n_heads, nkv = c->n_kv_heads, D = c->head_dim;
    for (size_t b = 0; b < (size_t)ps->B; b++) {
        struct run_state view = *rs;
        view.q += b * ps->T * nh * D, view.att += b * ps->T * nh * D;
        view.k += b * ps->T * nkv * D, view.v += b * ps->T * nkv * D;
        ps->hooks = ps->hooks_of[b];
        enum ss_status st = attention_forward(ps, &view, l);
        if (st)
            return st;
    }
    return SS_OK;
}

/* The FFN block of the pass: dense over the batch, MoE window by window. */
static enum ss_status ffn_block(struct pass *ps, const struct layer_weights *w, struct run_state *rs,
                                const float *in, int l)
{
    const struct model_config *c = &rs->cfg;
    if (!c->v.n_experts || !c->v.layer_moe[l]) {
        ffn_forward(ps, w, rs, in);
        return SS_OK;
    }
    size_t per = (size_t)ps->T * c->hidden;
    for (int b = 0; b < ps->B; b++) {
        ps->hooks = ps->hooks_of[b];
        enum ss_status st = moe_ffn_forward(ps, w, rs, in + b * per, rs->o + b * per, l, ps->err);
        if (st)
            return st;
    }
    return SS_OK;
}

static enum ss_status layer_forward(struct pass *ps, const struct model *m, struct run_state *rs, int l,
                                    const struct forward_opts *opts)
{
    const struct model_config *c = &m->cfg;
    const struct model_variant *v = &c->v;
    const struct layer_weights *w = &m->w.layers[l];
    int N = ps->B * ps->T, H = c->hidden, nh = c->n_heads, nkv = c->n_kv_heads, D = c->head_dim;
    int gd = model_config_gate_dim(c), post_ln = v->residual == RESID_POST_LN;

    /* attention reads the normed residual, or the residual itself (post-LN, output norms) */
    const float *in = rs->x;
    if (w->attn_norm && !post_ln) {
        norm_forward(v->norm, rs->xn, rs->x, w->attn_norm, w->attn_norm_b, N, H, c->rms_eps);
        in = rs->xn;
    }
    FIRE_B(ps, HOOK_ATTN_NORM, l, in, 2, H, 0);
    qkv_forward(ps, w, rs, in, l, opts);
    for (size_t b = 0; b < (size_t)ps->B; b++) { /* one window's q, k, v, gate in turn, as one pass fires them */
        size_t r = b * ps->T;
        ps->hooks = ps->hooks_of[b];
        FIRE(ps, HOOK_Q, l, rs->q + r * nh * D, 3, ps->T, nh, D, -1, 0);
        FIRE(ps, HOOK_K, l, rs->k + r * nkv * D, 3, ps->T, nkv, D, -1, 0);
        FIRE(ps, HOOK_V, l, rs->v + r * nkv * D, 3, ps->T, nkv, D, -1, 0);
        if (gd) /* complete since split_q_gate; before attention, so probes know the layer's gates at attn_out */
            FIRE(ps, HOOK_GATE, l, rs->gate + r * nh * gd, 3, ps->T, nh, gd, -1, 0);
    }

    enum ss_status st = attention_windows(ps, rs, l);
    if (st)
        return st;
    FIRE_B(ps, HOOK_ATTN_OUT, l, rs->att, 3, nh, D);
    const float *a = rs->att;
    if (gd) { /* attg = att * gate, the gate broadcast over D when headwise */
        for (size_t r = 0; r < (size_t)N * nh; r++) {
            const float *x = rs->att + r * D, *g = rs->gate + r * gd;
            float *y = rs->attg + r * D;
            for (int d = 0; d < D; d++)
                y[d] = x[d] * g[gd == 1 ? 0 : d];
        }
        a = rs->attg;
    }
    FIRE_B(ps, HOOK_ATTN_GATED, l, a, 3, nh, D);
    linear_pass(ps, rs->o, a, &w->wo, w->bo);
    if (w->attn_post_norm) /* sandwich / output norms: o_proj is the normed contribution */
        norm_forward(v->norm, rs->o, rs->o, w->attn_post_norm, NULL, N, H, c->rms_eps);
    FIRE_B(ps, HOOK_O_PROJ, l, rs->o, 2, H, 0);
    if (v->residual == RESID_PARALLEL) /* the FFN reads the layer's input, not the residual after attention */
        norm_forward(v->norm, rs->xn, rs->x, w->ffn_norm, w->ffn_norm_b, N, H, c->rms_eps);
    residual_add(c, rs->x, rs->o, w->attn_norm, w->attn_norm_b, N);
    FIRE_B(ps, HOOK_RESID_MID, l, rs->x, 2, H, 0);

    in = rs->x;
    if (v->residual == RESID_PARALLEL)
        in = rs->xn;
    else if (w->ffn_norm && !post_ln) {
        norm_forward(v->norm, rs->xn, rs->x, w->ffn_norm, w->ffn_norm_b, N, H, c->rms_eps);
        in = rs->xn;
    }
    FIRE_B(ps, HOOK_FFN_NORM, l, in, 2, H, 0);
    if ((st = ffn_block(ps, w, rs, in, l)))
        return st;
    if (w->ffn_post_norm)
        norm_forward(v->norm, rs->o, rs->o, w->ffn_post_norm, NULL, N, H, c->rms_eps);
    FIRE_B(ps, HOOK_FFN_OUT, l, rs->o, 2, H, 0);
    residual_add(c, rs->x, rs->o, w->ffn_norm, w->ffn_norm_b, N);
    FIRE_B(ps, HOOK_RESID_POST, l, rs->x, 2, H, 0);
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
    int N = ps->B * ps->T, H = c->hidden, E = m->w.proj_in.data ? c->v.embed_dim : H;
    float *dst = m->w.proj_in.data ? rs->xe : rs->x;
    for (int t = 0; t < N; t++)
        weight_rows_f32(&m->w.embed, tokens[t], 1, dst + (size_t)t * E);
    if (c->v.embed_scale > 0)
        for (size_t i = 0; i < (size_t)N * E; i++)
            dst[i] *= c->v.embed_scale;
    if (m->w.proj_in.data)
        linear_pass(ps, rs->x, rs->xe, &m->w.proj_in, NULL);
    if (c->v.pos == POS_LEARNED) /* the row of position p (in its window) is p + pos_offset; o holds one row */
        for (int t = 0; t < N; t++) {
            weight_rows_f32(&m->w.pos_embed, t % ps->T + c->v.pos_offset, 1, rs->o);
            for (int i = 0; i < H; i++)
                rs->x[(size_t)t * H + i] += rs->o[i];
        }
}

/* Windows b0..b0+n of fin[B * T, E] through the LM head, logits to their hooks in
 * blocks of `rows` positions, q0 = the block's first position in its window. Each
 * window gets model_forward's calls: tiles of logits_tile positions, blocks of rows. */
static enum ss_status head_windows(struct pass *ps, struct run_state *rs, const float *fin, int E, int b0, int n)
{
    const struct model *m = ps->m;
    int T = ps->T, V = m->cfg.vocab, tile = rs->logits_tile, rows = tile < LOGITS_ROWS ? tile : LOGITS_ROWS;
    int whole = T <= tile; /* a window is one tile: n of them share the held logits */
    for (int p0 = 0; p0 < (whole ? 1 : T); p0 += tile) {
        int np = T - p0 < tile ? T - p0 : tile;
        linear_forward_segs(rs->logits, fin + ((size_t)b0 * T + p0) * E, &m->w.lm_head, NULL, whole ? n : 1, np,
                            rows, &ps->lin);
        for (int w = 0; w < (whole ? n : 1); w++) {
            ps->hooks = ps->hooks_of[b0 + w];
            for (int q = 0; q < np; q += rows) { /* hooks see blocks of `rows` positions */
                int nb = np - q < rows ? np - q : rows;
                float *lg = rs->logits + ((size_t)w * np + q) * V;
                if (m->cfg.v.final_softcap > 0)
                    softcap_forward(lg, (size_t)nb * V, m->cfg.v.final_softcap);
                FIRE(ps, HOOK_LOGITS, -1, lg, 2, nb, V, 0, -1, p0 + q);
            }
        }
    }
    return SS_OK;
}

/* final_norm, then logits (skipped when no window's hooks want them). */
static enum ss_status final_forward(struct pass *ps, struct run_state *rs)
{
    const struct model *m = ps->m;
    const struct model_config *c = &m->cfg;
    int N = ps->B * ps->T, H = c->hidden, want_logits = any_wants(ps, HOOK_LOGITS);
    if (!want_logits && !any_wants(ps, HOOK_FINAL_NORM))
        return SS_OK;
    const float *fin = rs->x;
    if (m->w.final_norm) {
        norm_forward(c->v.norm, rs->xn, rs->x, m->w.final_norm, m->w.final_norm_b, N, H, c->rms_eps);
        fin = rs->xn;
    }
    FIRE_B(ps, HOOK_FINAL_NORM, -1, fin, 2, H, 0);
    int E = H;
    if (m->w.proj_out.data) { /* opt: back to the embedding width before the head */
        linear_pass(ps, rs->xe, fin, &m->w.proj_out, NULL);
        fin = rs->xe, E = c->v.embed_dim;
    }
    int group = ps->T <= rs->logits_tile ? rs->logits_held / ps->T : 1; /* windows per head pass */
    group = group < 1 ? 1 : group;
    for (int b0 = 0; want_logits && b0 < ps->B; b0 += group) {
        enum ss_status st = head_windows(ps, rs, fin, E, b0, ps->B - b0 < group ? ps->B - b0 : group);
        if (st)
            return st;
    }
    return SS_OK;
}

/* SS_ERR_INPUT when tokens[B * T] has an id outside the vocabulary (naming it). */
static enum ss_status tokens_check(const struct model *m, const int32_t *tokens, int T, int B, struct ss_error *err)
{
    for (size_t t = 0; t < (size_t)T * B; t++)
        if (tokens[t] < 0 || tokens[t] >= m->cfg.vocab) {
            if (B == 1)
                return ss_fail(err, SS_ERR_INPUT, "%s: token id %d at position %d is outside the vocabulary [0, %d)",
                               m->dir, (int)tokens[t], (int)t, m->cfg.vocab);
            return ss_fail(err, SS_ERR_INPUT,
                           "%s: token id %d at position %d of window %d is outside the vocabulary [0, %d)", m->dir,
                           (int)tokens[t], (int)(t % T), (int)(t / T), m->cfg.vocab);
        }
    return SS_OK;
}

enum ss_status model_forward_batch(const struct model *m, struct run_state *rs, const int32_t *tokens, int T,
                                   int B, const struct hook_set *const *hooks, const struct forward_opts *opts,
                                   struct ss_error *err)
{
    struct ss_error local = {0};
    const struct model_config *c = &m->cfg;
    struct pass ps = {m, hooks ? hooks[0] : NULL, hooks, err ? err : &local, T, forward_threads(opts), B, {0},
                      opts ? &opts->mask : NULL, opts ? opts->edits : NULL, opts ? opts->n_edits : 0};
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
    if (B < 1 || B > rs->max_B || !hooks)
        return ss_fail(err, SS_ERR_INTERNAL, "%s: batch of %d windows, but the run state holds %d", m->dir, B,
                       rs->max_B);
    enum ss_status ost = tokens_check(m, tokens, T, B, ps.err);
    if (ost)
        return ost;
    if (c->v.pos == POS_LEARNED && T > c->max_pos)
        return ss_fail(err, SS_ERR_INPUT, "%s: sequence of %d tokens exceeds the %d learned positions", m->dir, T,
                       c->max_pos);
    if (opts && (ost = opts_check(m, opts, T, ps.err)))
        return ost;
    parallel_blas_init();
    if (ps.threads > rs->n_scores) /* the scratch has one slot per thread the state was made for */
        ps.threads = rs->n_scores;
    ps.lin = (struct linear_exec){ps.threads, rs->wscratch, LINEAR_SLICE * forward_widest_in(c)};

    embed_forward(&ps, m, rs, tokens);
    for (int l = 0; l < c->n_layers; l++) {
        enum ss_status st = layer_forward(&ps, m, rs, l, opts);
        if (st || (st = weight_log_error(m->wlog, ps.err)))
            return st;
    }
    enum ss_status st = final_forward(&ps, rs);
    return st ? st : weight_log_error(m->wlog, ps.err);
}

enum ss_status model_forward(const struct model *m, struct run_state *rs, const int32_t *tokens, int T,
                             const struct hook_set *hooks, const struct forward_opts *opts, struct ss_error *err)
{
    return model_forward_batch(m, rs, tokens, T, 1, &hooks, opts, err);
}
