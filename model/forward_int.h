/* model/forward_int.h — what the parts of the forward pass share (not a public header):
 * the run state's buffers (model/run_state.c), one pass's context and its hook firing
 * (model/forward.c), and the attention of one layer (model/attention.c). */
#ifndef SS_MODEL_FORWARD_INT_H
#define SS_MODEL_FORWARD_INT_H

#include "model.h"
#include "ops.h"

struct run_state {
    int max_T, attn_tile, logits_tile;
    int max_B;                 /* windows of max_T positions a pass may stack (model_forward_batch) */
    int logits_held;           /* positions of logits held at once: logits_tile, or up to that many over
                                * several short windows of a batch */
    int n_scores;              /* attention tiles computed at once (threads at creation) */
    struct model_config cfg;   /* the shapes the buffers were sized for */
    /* the activations below hold max_B windows: [B * T, ...], window b at rows b*T.. */
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
    float *logits;             /* [logits_held, vocab] (positions held at once) */
    float *wscratch;           /* [n_scores, LINEAR_SLICE, widest weight row] float32 weight rows */
    float *sink_share;         /* [T, n_heads] softmax share of the learned sinks (cfg.v.attn_sinks only) */
    void *arena;
};

/* The LM head's sgemm and its hook go in blocks of at most LOGITS_ROWS positions. */
#define LOGITS_ROWS 256

/* Columns of the widest weight matrix (the n_in of a linear_forward). */
size_t forward_widest_in(const struct model_config *c);
/* Rotated dims of each head. */
int forward_rope_dims(const struct model_config *c);
/* Threads of opts (default: OpenBLAS's processors), clamped to 1..256. */
int forward_threads(const struct forward_opts *o);
/* Windows a run state made with opts holds (opts->batch, at least 1). */
int forward_batch_of(const struct forward_opts *o);

struct pass {
    const struct model *m;
    const struct hook_set *hooks;      /* the current window's (hooks_of[b]) */
    const struct hook_set *const *hooks_of; /* [B] each window's subscribers */
    struct ss_error *err;
    int T, threads;
    int B;                     /* windows in the pass; activations are [B * T, ...] */
    struct linear_exec lin;    /* threads and weight scratch for linear_forward */
    const struct attn_mask *mask; /* NULL: causal (+ the checkpoint's window) */
    const struct hook_edit *edits;
    int n_edits;
};

/* Point p's event with data of shape [s0, s1, s2] (ndim of them): edits first (editable
 * points), then the subscribers. Non-zero: a callback stopped the pass (ps->err says why). */
enum ss_status forward_fire(struct pass *ps, enum hook_point p, int layer, const float *data, int ndim, int64_t s0,
                            int64_t s1, int64_t s2, int head, int q0);

#define FIRE(...)                                       \
    do {                                                \
        enum ss_status st_ = forward_fire(__VA_ARGS__); \
        if (st_)                                        \
            return st_;                                 \
    } while (0)

/* Causal softmax attention of layer `layer`: q[T, nh, D], k/v[T, n_kv, D] -> att[T, nh, D]
 * (model/attention.c); attn_scores / attn_probs fire per tile. */
enum ss_status attention_forward(struct pass *ps, struct run_state *rs, int layer);

#endif
