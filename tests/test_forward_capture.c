/* tests/test_forward_capture.c — hook subscribers that assemble whole tensors of a forward
 * pass for the `forward` suite (tests/test_forward.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../model/model.h"
#include "../model/safetensors.h"
#include "test_forward.h"
#include "test_util.h"


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

void capture_init(struct capture *cp, const struct model_config *c, int T)
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

void capture_free(struct capture *cp)
{
    free(cp->probs), free(cp->scores), free(cp->hidden), free(cp->q), free(cp->k), free(cp->gate);
    free(cp->attn_out), free(cp->attn_gated), free(cp->logits), free(cp->router), free(cp->router_seen);
    free(cp->router_w), free(cp->sink), free(cp->sink_seen);
}

/* Run m on tokens with every capture hook subscribed. */
enum ss_status run_capture(const struct model *m, const int32_t *tok, int T, struct capture *cp,
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
