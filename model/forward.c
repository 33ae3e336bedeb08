/* model/forward.c — whole-sequence prefill with hook points (model/hooks.h).
 *
 * Every projection is an sgemm over all T positions (in fixed slices of output
 * columns, model/ops.h); attention is model/attention.c. Logits are held logits_tile
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
        rope_partial_forward(rs->q, cs, sn, T, nh, D, forward_rope_dims(c), nh * D);
        rope_partial_forward(rs->k, cs, sn, T, nkv, D, forward_rope_dims(c), nkv * D);
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
    struct pass ps = {m, hooks, err ? err : &local, T, forward_threads(opts), {0}, opts ? &opts->mask : NULL,
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
    ps.lin = (struct linear_exec){ps.threads, rs->wscratch, LINEAR_SLICE * forward_widest_in(c)};

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

