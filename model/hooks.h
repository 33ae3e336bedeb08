/* model/hooks.h — named hook points of the forward pass.
 *
 * A probe subscribes a callback to a point by name ("attn_probs", "gate", ...);
 * model_forward calls it with a read-only view of the tensor. A point with no
 * subscriber costs nothing (tensors computed only for it, e.g. attn_scores copies,
 * are skipped). Callbacks must not keep the pointer past their return.
 *
 * Shapes per event (T = sequence length, D = head_dim, G = gate_dim):
 *   point        layer   shape                      notes
 *   attn_norm    l       [T, hidden]                attention's input: the normed layer input (the
 *                                                   residual itself for post-LN OPT and OLMo 2)
 *   q            l       [T, n_heads, D]            after QK-norm and RoPE
 *   k            l       [T, n_kv, D]               after QK-norm and RoPE
 *   v            l       [T, n_kv, D]
 *   gate         l       [T, n_heads, G]            gate values actually applied (after --gate mode);
 *                                                   gated checkpoints only (G = 0: never fires)
 *   attn_scores  l       [nq, nk] tile              pre-softmax q.k/sqrt(D) for head `head`,
 *                                                   queries q0..q0+nq, keys 0..nk (nk = q0+nq);
 *                                                   masked (key > query) entries are -INFINITY
 *   attn_probs   l       [nq, nk] tile              softmax of the above; masked entries are 0. With
 *                                                   learned sinks (gpt_oss) the sink logit joins the
 *                                                   softmax and a row sums to 1 - its attn_sink share
 *   attn_sink    l       [T, n_heads]               learned-sink checkpoints only (gpt_oss): per query
 *                                                   and head, the softmax share taken by the head's
 *                                                   sink logit; fires once per layer, after all heads
 *   attn_out     l       [T, n_heads, D]            attention output (SDPA) before the gate
 *   attn_gated   l       [T, n_heads, D]            attn_out * gate (== attn_out when ungated)
 *   o_proj       l       [T, hidden]                what attention adds to the residual: o_proj output,
 *                                                   after the family's post-attention norm if any
 *   resid_mid    l       [T, hidden]                residual after attention
 *   ffn_norm     l       [T, hidden]                the FFN's input (its norm's output; the layer input
 *                                                   under a parallel residual, the residual itself
 *                                                   for post-LN OPT and OLMo 2)
 *   router_probs l       [T, n_experts]             MoE layers only: softmax over all experts of the
 *                                                   router logits (before top-k; model/moe.h)
 *   router_weights l     [T, n_experts]             MoE layers only: the weight each expert's output
 *                                                   gets per token (0 for experts not chosen; the k
 *                                                   chosen ones after the family's renormalisation)
 *   ffn_out      l       [T, hidden]                what the FFN adds: down_proj output (after the
 *                                                   family's post-FFN norm if any)
 *   resid_post   l       [T, hidden]                residual leaving the layer
 *   final_norm   -1      [T, hidden]                the final norm's output (the residual when the
 *                                                   family has none: OPT 350m)
 * docs/SCHEMA.md ("Model families") states what the streams mean per family.
 *   logits       -1      [n, vocab] tile            positions p0..p0+n
 * Within a layer the points fire in the order of this table (= enum hook_point).
 * In particular gate fires before attention, so a subscriber holds the layer's
 * gate values when attn_out arrives (probes/stats.c relies on it).
 * The attention tiles of one (layer, head) arrive in increasing q0 and cover all
 * T queries; heads arrive in increasing order within a layer. */
#ifndef SS_MODEL_HOOKS_H
#define SS_MODEL_HOOKS_H

#include <stdint.h>

#include "../common/error.h"

enum hook_point {
    HOOK_ATTN_NORM = 0,
    HOOK_Q,
    HOOK_K,
    HOOK_V,
    HOOK_GATE,
    HOOK_ATTN_SCORES,
    HOOK_ATTN_PROBS,
    HOOK_ATTN_SINK,
    HOOK_ATTN_OUT,
    HOOK_ATTN_GATED,
    HOOK_O_PROJ,
    HOOK_RESID_MID,
    HOOK_FFN_NORM,
    HOOK_ROUTER_PROBS,
    HOOK_ROUTER_WEIGHTS,
    HOOK_FFN_OUT,
    HOOK_RESID_POST,
    HOOK_FINAL_NORM,
    HOOK_LOGITS,
    HOOK_COUNT
};

/* "attn_norm", "q", ... as in the table above; NULL when out of range. */
const char *hook_point_name(enum hook_point p);
/* The point named `name`, or -1. */
int hook_point_find(const char *name);

struct hook_event {
    enum hook_point point;
    int layer;                 /* -1 for final_norm and logits */
    const float *data;         /* row-major, shape below */
    int ndim;
    int64_t shape[3];
    int head;                  /* attention tiles: query head; else -1 */
    int q0;                    /* attention tiles: first query; logits tiles: first position; else 0 */
    int T;                     /* sequence length of this forward */
};

/* Return 0 to continue; non-zero stops the forward pass (fill err). */
typedef int (*hook_fn)(void *user, const struct hook_event *ev, struct ss_error *err);

#define HOOK_MAX_SUBSCRIBERS 8

struct hook_set {
    int n[HOOK_COUNT];
    hook_fn fn[HOOK_COUNT][HOOK_MAX_SUBSCRIBERS];
    void *user[HOOK_COUNT][HOOK_MAX_SUBSCRIBERS];
};

void hook_set_init(struct hook_set *h);
/* Subscribe fn to the point named `name`; SS_ERR_INPUT for an unknown name or a full point. */
enum ss_status hook_set_add(struct hook_set *h, const char *name, hook_fn fn, void *user,
                            struct ss_error *err);
static inline int hook_set_wants(const struct hook_set *h, enum hook_point p)
{
    return h && h->n[p] > 0;
}

/* ---- edits: writable hook points (the interventions of `run`) ----------------
 * An edit receives the whole tensor of a point in the forward pass's own buffer
 * and may change it in place. It runs before the point's read-only subscribers
 * and before the pass uses the tensor downstream, so the change propagates: an
 * edit of resid_post is what the next layer reads, an edit of gate is the gate
 * that multiplies attn_out. Attention and logits tiles (attn_scores, attn_probs,
 * logits) and the readouts attn_sink, router_probs and router_weights are not editable: attention is changed through the mask options of
 * struct forward_opts (model/model.h) instead. Edits are given per forward call
 * (forward_opts.edits), in the order they run. */
typedef int (*hook_edit_fn)(void *user, const struct hook_event *ev, float *data, struct ss_error *err);

struct hook_edit {
    enum hook_point point;
    int layer;                 /* the layer it applies to; -1: every layer */
    hook_edit_fn fn;
    void *user;
};

/* 1 when edits may subscribe to p (whole tensors), else 0. */
static inline int hook_point_editable(enum hook_point p)
{
    /* tiles, and the readouts of routing and sinks (editing them would change nothing downstream) */
    return p >= 0 && p < HOOK_COUNT && p != HOOK_ATTN_SCORES && p != HOOK_ATTN_PROBS && p != HOOK_ATTN_SINK &&
           p != HOOK_ROUTER_PROBS && p != HOOK_ROUTER_WEIGHTS && p != HOOK_LOGITS;
}

#endif
