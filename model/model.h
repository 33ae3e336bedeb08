/* model/model.h — the contract of model/: a Hugging Face checkpoint in, an
 * instrumented float32 forward pass out.
 *
 * model/ includes nothing from probes/, analyze/ or plots/ (only common/).
 * Probes subscribe to named hook points (model/hooks.h); when nobody listens to a
 * point, the forward pass does no extra work for it.
 *
 * Conventions (llama2.c / llm.c): struct model_config (what config.json says),
 * struct model_weights (matrices as struct weight views of the checkpoint in its
 * stored dtype, model/weight.h; norm weights and biases as float32 arrays),
 * struct run_state (every activation, one arena). Shapes in the
 * comments are row-major, T = positions in the sequence. */
#ifndef SS_MODEL_MODEL_H
#define SS_MODEL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "../common/error.h"
#include "hooks.h"
#include "weight.h"

enum gate_kind {
    GATE_KIND_NONE = 0,
    GATE_KIND_HEADWISE,    /* one sigmoid scalar per head and token (gate_dim 1) */
    GATE_KIND_ELEMENTWISE, /* one sigmoid per head, token and head dim (gate_dim head_dim) */
};
const char *gate_kind_name(enum gate_kind k); /* "none" | "headwise" | "elementwise" */

enum rope_type {
    ROPE_TYPE_DEFAULT = 0,
    ROPE_TYPE_LINEAR,
    ROPE_TYPE_LLAMA3,
    ROPE_TYPE_YARN,
    ROPE_TYPE_LONGROPE,        /* phi3: short/long factor per frequency, chosen by sequence length */
};

#define ROPE_MAX_FACTORS 256

struct rope_config {
    enum rope_type type;
    double theta;              /* rope_theta (base) */
    double factor;             /* scaling factor (linear, llama3, yarn) */
    double low_freq_factor;    /* llama3 */
    double high_freq_factor;   /* llama3 */
    int original_max_pos;      /* llama3, yarn: original_max_position_embeddings */
    double beta_fast, beta_slow; /* yarn (defaults 32, 1) */
    double attention_factor;   /* yarn: multiplies cos/sin (0 = derive default) */
    double mscale, mscale_all_dim; /* yarn, optional */
    int truncate;              /* yarn: transformers' `truncate` (default true) */
    int n_factors;             /* longrope: entries of short_factor/long_factor (= rotary dims / 2) */
    float short_factor[ROPE_MAX_FACTORS], long_factor[ROPE_MAX_FACTORS];
};

/* The variants a family is made of (model/arch.h describes each family once; its
 * config parser fills these). The forward composes its blocks from them. */
enum norm_kind {
    NORM_RMS = 0,              /* x / rms(x) * w */
    NORM_RMS_OFFSET,           /* x / rms(x) * (1 + w)   (gemma) */
    NORM_LAYER,                /* (x - mean) / std * w + b  (LayerNorm with bias) */
};
enum pos_kind { POS_ROPE = 0, POS_LEARNED };
enum residual_kind {
    RESID_PRE_NORM = 0,        /* h = x + attn(n1(x)); out = h + ffn(n2(h)) */
    RESID_PARALLEL,            /* out = x + attn(n1(x)) + ffn(n2(x))           (gpt_neox) */
    RESID_POST_LN,             /* h = n1(x + attn(x)); out = n2(h + ffn(h))     (opt 350m) */
    RESID_SANDWICH,            /* h = x + n1b(attn(n1(x))); out = h + n2b(ffn(n2(h)))  (gemma) */
    RESID_OUTPUT_NORM,         /* h = x + n1b(attn(x)); out = h + n2b(ffn(h))   (olmo2) */
};
enum act_kind { ACT_SILU = 0, ACT_GELU, ACT_GELU_TANH, ACT_RELU };

#define MODEL_MAX_LAYERS_TYPED 1024 /* layers whose sliding/full type a config may list */

struct model_variant {
    enum norm_kind norm;
    enum pos_kind pos;
    enum residual_kind residual;
    enum act_kind act;
    int ffn_plain;             /* 0: down(act(gate(x)) * up(x)); 1: fc2(act(fc1(x))) (up = fc1) */
    int mlp_bias;              /* FFN matrices carry biases */
    int norm_bias;             /* LayerNorm bias tensors stored */
    int qkv_per_head;          /* fused q/k/v laid out per head [q k v] (gpt_neox), split at use */
    int qk_norm_whole;         /* QK-norm (c->qk_norm) over the whole q/k projection, before the split (olmo2) */
    int rope_dim;              /* rotated dims of each head (partial rotary); 0 = head_dim */
    float attn_scale;          /* multiplies q.k: query_pre_attn_scalar^-1/2 (gemma); 0 = 1/sqrt(head_dim) */
    float attn_softcap;        /* scores -> tanh(s / c) * c before the mask; 0 = none */
    float final_softcap;       /* logits -> tanh(l / c) * c; 0 = none */
    float embed_scale;         /* token embeddings multiplied by it (gemma: sqrt(hidden)); 0 = none */
    int pos_offset;            /* learned positions: row of position p is p + offset (opt: 2) */
    int embed_dim;             /* width of the token embeddings (opt word_embed_proj_dim); 0 = hidden */
    int no_final_norm;         /* no norm before the head (opt 350m) */
    int local_rope;            /* sliding layers use rope_local (gemma3) */
    struct rope_config rope_local;
    unsigned char layer_sliding[MODEL_MAX_LAYERS_TYPED]; /* 1: layer attends within sliding_window only */
    /* mixture of experts (qwen3_moe, mixtral; model/moe.h): n_experts = 0 for dense families */
    int n_experts, top_k, moe_ffn; /* experts, experts per token, expert FFN width */
    int norm_topk;             /* the k chosen probabilities renormalised to sum 1 */
    unsigned char layer_moe[MODEL_MAX_LAYERS_TYPED]; /* 1: the layer's FFN is the MoE block */
    int attn_sinks;            /* 1: every head has a learned sink logit that joins its softmax (gpt_oss;
                                * the attn_sink hook point fires) */
    int router_topk_softmax;   /* 1: top-k of the router logits, softmax over the k (gpt_oss); 0: softmax
                                * over all experts, then top-k (norm_topk) */
    float glu_limit;           /* > 0: the experts' interleaved clamped SwiGLU with this limit and alpha
                                * 1.702 (gpt_oss swiglu_limit; model/moe.h); 0: SwiGLU */
    int experts_mxfp4;         /* 1: stacked experts stored as MXFP4 blocks + scales (quant_method mxfp4) */
};

struct model_config {
    char model_type[32];       /* config.json model_type (model/arch.h lists the families) */
    const struct arch *arch;   /* the family's description */
    int n_layers;              /* num_hidden_layers */
    int hidden;                /* hidden_size */
    int n_heads;               /* num_attention_heads */
    int n_kv_heads;            /* num_key_value_heads (absent: = n_heads) */
    int head_dim;              /* head_dim (absent: hidden / n_heads) */
    int ffn;                   /* intermediate_size */
    int vocab;                 /* vocab_size */
    int max_pos;               /* max_position_embeddings */
    float rms_eps;             /* rms_norm_eps (layer_norm_eps for LayerNorm families) */
    int qk_norm;               /* per-head RMSNorm on q and k before RoPE (qwen3, use_qk_norm) */
    int qkv_bias;              /* q/k/v projections carry a bias (qwen2; qkv_bias; attention_bias) */
    int o_bias;                /* o_proj carries a bias (paper's qkv_bias; llama attention_bias) */
    int tied;                  /* lm_head.weight absent: logits use embed_tokens */
    enum gate_kind gate;       /* headwise_attn_output_gate / elementwise_attn_output_gate */
    struct rope_config rope;
    int bos_token_id, eos_token_id; /* -1 when absent */
    char dtype[8];             /* storage dtype of the weights: "f32" | "bf16" | "f16" */
    int sliding_window;        /* every layer attends to the last N keys only; 0 = full causal */
    int window;                /* the window of the layers marked in v.layer_sliding (gemma) */
    struct model_variant v;
};


/* Width of q_proj's output: n_heads*head_dim plus the fused gate logits. */
int model_config_q_out(const struct model_config *c);
/* gate values per (token, head): 0 none, 1 headwise, head_dim elementwise. */
int model_config_gate_dim(const struct model_config *c);
/* Rows of q_proj per KV group: P = G*head_dim (+ G headwise, + G*head_dim elementwise). */
int model_config_q_group_rows(const struct model_config *c);
/* Parameters implied by the config (embeddings counted once when c->tied). */
size_t model_config_n_params(const struct model_config *c);

struct layer_weights {
    float *attn_norm, *attn_norm_b; /* [hidden]                  norm before attention (LayerNorm: + bias) */
    struct weight wq;          /* [q_out, hidden]                 q_proj (gate fused, per KV group) */
    struct weight wk, wv;      /* [n_kv*head_dim, hidden]         k_proj, v_proj */
    struct weight wo;          /* [hidden, n_heads*head_dim]      o_proj */
    float *bq, *bk, *bv, *bo;  /* [q_out], [n_kv*head_dim] x2, [hidden] biases (or NULL) */
    struct weight wqkv;        /* [3*n_heads*head_dim, hidden]    fused per head (gpt_neox), else unused */
    float *bqkv;               /* [3*n_heads*head_dim]            its bias */
    float *q_norm, *k_norm;    /* [head_dim] or whole width       QK-norm (or NULL) */
    float *sinks;              /* [n_heads]                       learned sink logits (gpt_oss; or NULL) */
    float *attn_post_norm;     /* [hidden]                        norm of the attention output (gemma, olmo2) */
    float *ffn_norm, *ffn_norm_b; /* [hidden]                     norm before the FFN (post_attention_layernorm) */
    struct weight w_gate, w_up; /* [ffn, hidden]                  gate_proj / up_proj (ungated: up = fc1) */
    struct weight w_down;      /* [hidden, ffn]                   down_proj (fc2) */
    float *b_up, *b_down;      /* [ffn], [hidden]                 FFN biases (or NULL) */
    float *ffn_post_norm;      /* [hidden]                        norm of the FFN output (gemma, olmo2) */
    struct weight router;      /* [n_experts, hidden]             MoE layers: the router (mlp.gate) */
    float *router_b;           /* [n_experts]                     its bias (gpt_oss; or NULL) */
    struct weight *ex_gate_up; /* [n_experts] views of [2*moe_ffn, hidden], gate/up rows interleaved (gpt_oss;
                                * the storage of ex_gate: a family fills one or the other) */
    float *ex_gate_up_b, *ex_down_b; /* [n_experts, 2*moe_ffn], [n_experts, hidden] expert biases (or NULL) */
    struct weight *ex_gate, *ex_up, *ex_down; /* [n_experts] views: [moe_ffn, hidden] x2, [hidden, moe_ffn] */
};

struct model_weights {
    struct weight embed;       /* [vocab, embed_dim] */
    struct weight pos_embed;   /* [max_pos + pos_offset, hidden] learned positions (or empty) */
    struct weight proj_in, proj_out; /* [hidden, embed_dim], [embed_dim, hidden] (opt; or empty) */
    float *final_norm, *final_norm_b; /* [hidden] */
    struct weight lm_head;     /* [vocab, embed_dim] (== embed when tied) */
    struct layer_weights *layers; /* [n_layers] */
    struct weight *experts;    /* [n_layers, 3, n_experts] storage of the layers' ex_* views (or NULL) */
};

struct model {
    struct model_config cfg;
    struct model_weights w;
    char dir[4096];            /* the checkpoint directory as given */
    char config_json[1 << 15]; /* config.json verbatim (truncated past 32 KiB), for run-file metadata */
    size_t n_params;           /* parameters as stored (tied embeddings counted once) */
    size_t mapped_bytes;       /* bytes of the weight matrices, as stored (mapped, read on use) */
    struct weight_log *wlog;   /* NaN/Inf tensors met so far, and a vanished file (weight.h) */
    struct weight_check *checks; /* one per mapped matrix */
    void *st;                  /* the open safetensors set (struct st_set) the views point into */
    void *arena;               /* owns the float32 norm weights and biases */
};

/* Load DIR/config.json and DIR/model.safetensors (or the shards named by
 * DIR/model.safetensors.index.json). Every name, shape, dtype and offset is
 * validated; the matrices stay mapped in their stored dtype (nothing is read until
 * a forward pass uses them), norm weights and biases are converted to float32.
 * A NaN/Inf warning (stderr, one line per tensor) comes when the values are first
 * read: at load for the small tensors, at the first forward that uses a matrix
 * (m->wlog->n_nonfinite counts them). Installs the SIGBUS guard (weight.h). */
enum ss_status model_load(struct model *m, const char *dir, struct ss_error *err);
void model_free(struct model *m);

/* Parse only the config (for `info`); the weights are not read. c->tied is taken
 * from tie_word_embeddings here; model_load decides it by the absence of lm_head.weight.
 * c->dtype comes from config.json's "dtype"/"torch_dtype" ("" when absent). */
enum ss_status model_config_load(struct model_config *c, const char *dir, struct ss_error *err);
/* The sizes of a parsed config bounded before anything is sized from them (layers, int
 * products of heads x head_dim, hidden x ffn); model_config_load calls it (model/config_limits.c). */
enum ss_status model_config_check_limits(const struct model_config *c, const char *path, struct ss_error *err);
/* The same from a JSON text; `path` names it in errors. */
enum ss_status model_config_parse(struct model_config *c, const char *json, const char *path,
                                  struct ss_error *err);

/* RoPE (model/rope.c): inv_freq[head_dim/2] as transformers computes it for the
 * config's rope type, and the factor cos/sin are multiplied by (yarn; else 1). */
void rope_inv_freq(const struct rope_config *r, int head_dim, int max_pos, float *inv_freq);
float rope_attention_factor(const struct rope_config *r, int max_pos);
/* --rope-scaling: "none" | "linear:F" | "yarn:F[:ORIG]" (F >= 1; ORIG > 0, default max_pos)
 * replacing base's scaling at run time (theta kept). YaRN takes transformers' defaults
 * (beta_fast 32, beta_slow 1, truncate, attention factor 0.1 ln F + 1; the factor is F
 * even when max_pos != F * ORIG, as transformers 5.17 does after its warning).
 * "yarn:auto[:ORIG]" leaves factor 0: rope_factor_for_length sets T / ORIG (at least 1).
 * 0 on success, -1 with a reason in why[n]. */
int rope_scaling_parse(struct rope_config *out, const struct rope_config *base, int max_pos, const char *s,
                       char *why, size_t n);
void rope_factor_for_length(struct rope_config *r, int T);
/* "default" | "linear:F" | "llama3:F" | "yarn:F:ORIG" into buf (run-file attribute). */
void rope_config_describe(const struct rope_config *r, int max_pos, char *buf, size_t n);

/* ---- forward pass ---------------------------------------------------------- */

enum gate_mode_kind {
    GATE_MODE_NATIVE = 0,      /* sigmoid(gate logits): the checkpoint as trained */
    GATE_MODE_OFF,             /* gate = 1: the ungated forward of a gated checkpoint */
    GATE_MODE_CONSTANT,        /* every gate value replaced by `value` */
};
struct gate_mode {
    enum gate_mode_kind kind;
    float value;
};
/* Parse "native" | "off" | "constant=X" into *g; 0 on success, -1 if malformed. */
int gate_mode_parse(struct gate_mode *g, const char *s);

/* Which keys each query sees beyond causality (model/mask.c). A query q sees
 * keys k <= q; with a window W (window here, else the checkpoint's
 * sliding_window) only q-W < k <= q, plus the first sink_tokens keys (k < S);
 * positions are not re-indexed (a key keeps its RoPE position). Masked keys are
 * then removed from the softmax of every query that still sees another key; a
 * query left with none keeps its own key (k = q). */
struct attn_mask {
    int window;                /* 0 = the checkpoint's sliding_window (0 there: full causal) */
    int sink_tokens;           /* keys k < S stay visible under a window */
    const int *masked_keys;    /* key positions; entries >= T are ignored */
    int n_masked_keys;
};
/* The window in force: m->window if > 0, else c->sliding_window. */
int attn_mask_window(const struct attn_mask *m, const struct model_config *c);
/* Apply the mask to the score row r[0..nk) of query q (causal entries k > q too):
 * hidden entries become -INFINITY. */
void attn_mask_row(const struct attn_mask *m, int window, int q, float *r, int nk);
/* SS_ERR_INPUT (one line) for a window < 0, sink tokens < 0, a negative masked key
 * or a list naming no position < T. */
enum ss_status attn_mask_check(const struct attn_mask *m, int T, struct ss_error *err);

struct forward_opts {
    struct gate_mode gate;
    int threads;               /* worker threads (model/parallel.h); <= 0: all cores */
    int attn_tile;             /* query rows per attention tile; 0 = default (128) */
    int logits_tile;           /* positions of logits held at once (LM head converted once per tile; sgemm and
                                  hook in blocks of <= 256); 0 = default (512) */
    int batch;                 /* windows run_state_new makes room for (model_forward_batch); <= 1: one */
    /* interventions (all zero/NULL: the checkpoint as trained) */
    const struct rope_config *rope; /* RoPE in place of the config's (run_state_new builds its tables) */
    struct attn_mask mask;
    const struct hook_edit *edits;  /* writable hook points (model/hooks.h), run in order */
    int n_edits;
};

/* Activations for sequences of up to max_T positions, allocated once.
 * Never holds a T x T matrix: attention goes tile by tile. */
struct run_state;
enum ss_status run_state_new(struct run_state **rs, const struct model_config *c, int max_T,
                             const struct forward_opts *opts, struct ss_error *err);
void run_state_free(struct run_state *rs);
/* Bytes run_state_new would allocate (for `info` and memory planning), and the
 * part of them that is weight scratch (threads x LINEAR_SLICE rows of the widest
 * weight, float32). */
size_t run_state_bytes(const struct model_config *c, int max_T, const struct forward_opts *opts);
size_t run_state_scratch_bytes(const struct model_config *c, const struct forward_opts *opts);
/* The worker threads a forward with opts uses (opts->threads, or all cores). */
int forward_opts_threads(const struct forward_opts *opts);

/* ---- memory a run needs (model/memory.c) --------------------------------------- */

struct run_memory {
    size_t weights;            /* the checkpoint's tensor bytes: mapped, resident once read */
    size_t small;              /* float32 copies of norm weights and biases */
    size_t activations;        /* run_state buffers for the context (weight scratch excluded) */
    size_t scratch;            /* weight scratch of the threads */
    size_t total;
    int threads;               /* the threads planned for (opts->threads, or all cores) */
    int batch;                 /* the windows per forward pass planned for (opts->batch) */
};
/* The plan for `stored_bytes` of tensors in the files and max_T positions. */
void run_memory_plan(struct run_memory *rm, const struct model_config *c, size_t stored_bytes, int max_T,
                     const struct forward_opts *opts);
/* Windows per forward pass when none is asked for: the largest B <= min(n_windows,
 * RUN_BATCH_AUTO, RUN_BATCH_POSITIONS / max_T) whose plan (opts->batch = B) takes at most
 * half this machine's memory (the rest for the page cache and the probes), at least 1.
 * A weight slice is converted once per pass and its sgemm then reads every window's
 * input: past about RUN_BATCH_POSITIONS positions per pass the conversion is a small part
 * of the slice's work and more windows only add input traffic that no longer stays in
 * cache (bench/batch, layers only: 512-token windows gain 1.14x at B = 2 and nothing at
 * B = 4; 64- and 128-token windows 1.22x at B = 8), so 512-token windows go two at a time,
 * longer ones one at a time and short ones up to RUN_BATCH_AUTO. */
#define RUN_BATCH_AUTO 8
#define RUN_BATCH_POSITIONS 1024
int run_memory_batch(const struct model_config *c, size_t stored_bytes, int max_T, const struct forward_opts *opts,
                     int n_windows);
/* Physical memory of this machine, or the cgroup's limit when lower (bytes; 0 when
 * unknown). SINKSCOPE_MEMORY_BYTES overrides it (tests of the refusal). */
size_t machine_memory_bytes(void);
/* SS_ERR_INPUT, naming `what` and every part of the plan, when the run cannot fit. */
enum ss_status run_memory_check(const struct run_memory *rm, const char *what, int max_T, struct ss_error *err);

/* Run tokens[0..T) (one sequence) through the model, firing hooks on the way.
 * Token ids must lie in [0, vocab) (else SS_ERR_INPUT naming the position). A hook
 * that returns non-zero stops the pass and its error is returned (SS_ERR_INTERNAL
 * if the hook left err empty). opts may be NULL (native gate, all cores). Gate mode
 * constant=X on an ungated checkpoint is SS_ERR_INPUT; off is a no-op there. */
enum ss_status model_forward(const struct model *m, struct run_state *rs, const int32_t *tokens,
                             int T, const struct hook_set *hooks, const struct forward_opts *opts,
                             struct ss_error *err);

/* model_forward of B windows of T tokens each (tokens[B * T], window b at b*T) in one
 * pass: every linear converts each weight slice once for all windows and makes, per
 * window, the sgemm calls model_forward makes (linear_forward_segs), so each window's
 * tensors are model_forward's bit for bit whatever B. Embedding, RoPE, attention, masks,
 * edits and MoE routing go window by window. Window b's events go to hooks[b] only
 * (hooks[b] may repeat), in model_forward's order for that window; across windows they
 * interleave layer by layer. B must not exceed the run state's forward_opts.batch. */
enum ss_status model_forward_batch(const struct model *m, struct run_state *rs, const int32_t *tokens, int T,
                                   int B, const struct hook_set *const *hooks, const struct forward_opts *opts,
                                   struct ss_error *err);

#endif
