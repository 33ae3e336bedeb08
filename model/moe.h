/* model/moe.h — the mixture-of-experts block shared by qwen3_moe, mixtral and
 * gpt_oss: a router picks top_k experts per token, each expert runs as one sgemm
 * over the tokens routed to it (gather, compute, scatter with the router weights).
 * T = positions, H = hidden, E = experts, K = top_k, I = expert FFN width. */
#ifndef SS_MODEL_MOE_H
#define SS_MODEL_MOE_H

#include "../common/error.h"
#include "ops.h"
#include "weight.h"

enum moe_router_kind {
    MOE_ROUTER_SOFTMAX_TOPK = 0, /* softmax over all E logits, top-k of the probabilities,
                                  * renormalised over the k when norm_topk (qwen3_moe; mixtral always) */
    MOE_ROUTER_TOPK_SOFTMAX,     /* top-k of the logits, softmax over the k (gpt_oss) */
};
enum moe_glu_kind {
    MOE_GLU_SWIGLU = 0,          /* gate_up rows = [gate (I); up (I)]: silu(g) * u */
    MOE_GLU_CLAMPED,             /* gate_up rows interleaved g0 u0 g1 u1 ..: g = min(g, limit),
                                  * u = clamp(u, -limit, limit), (u + 1) * g * sigmoid(alpha g) (gpt_oss) */
};

struct moe_config {
    int n_experts, top_k, hidden, ffn;
    enum moe_router_kind router;
    int norm_topk;
    enum moe_glu_kind glu;
    float alpha, limit;          /* MOE_GLU_CLAMPED only */
};

struct moe_weights {
    struct weight router;        /* [E, H] */
    const float *router_b;       /* [E] or NULL */
    const struct weight *gate_up; /* E views of [2I, H], or NULL: gate and up below */
    const float *gate_up_b;      /* [E, 2I] or NULL */
    const struct weight *down;   /* E views of [H, I] */
    const float *down_b;         /* [E, H] or NULL */
    const struct weight *gate, *up; /* with gate_up NULL: E views of [I, H] each (per-expert
                                  * checkpoints: qwen3_moe, mixtral; SwiGLU only) */
};

/* From logits[T, E]: probs[T, E] = softmax over all E (what router statistics read),
 * idx[T, K] the chosen experts (highest first; ties to the lower index) and
 * w[T, K] their weights as cfg->router says. */
void moe_route(const struct moe_config *cfg, const float *logits, int T, float *probs, int *idx, float *w);

/* Bytes one MoE step of T positions allocates: the router's logits, probabilities, weights
 * and choices (model/forward.c) and moe_experts_forward's scratch. */
size_t moe_step_bytes(const struct moe_config *cfg, int T);

/* out[T, H] = sum over k of w[t, k] * expert_{idx[t, k]}(x[t]). Experts run in index
 * order, each over its tokens in position order, so every token's sum has a fixed
 * order whatever the thread count. */
enum ss_status moe_experts_forward(float *out, const float *x, const struct moe_config *cfg,
                                   const struct moe_weights *mw, const int *idx, const float *w, int T,
                                   const struct linear_exec *ex, struct ss_error *err);

#endif
