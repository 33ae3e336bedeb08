/* model/arch.h — the architecture table: each model family described once.
 *
 * In the spirit of llama.cpp's per-architecture tensor lists, a family is one
 * `struct arch` in its own file (model/arch_<family>.c): the model_type names it
 * answers to, a parser of its config.json keys (filling struct model_config and its
 * variants), its tensor list (names, shapes, when present) and what it refuses.
 * Config parsing, loading (model/model.c), parameter counts, synth and `info` all
 * read this table; the forward composes its blocks from cfg->v.
 *
 * Adding a family = one new arch_<family>.c with its `const struct arch` and one
 * line in arch.c's list (plus fixtures). */
#ifndef SS_MODEL_ARCH_H
#define SS_MODEL_ARCH_H

#include "model.h"

/* Where a tensor goes: a slot of struct model_weights or struct layer_weights. */
enum tensor_role {
    TR_EMBED, TR_POS_EMBED, TR_PROJ_IN, TR_PROJ_OUT, TR_FINAL_NORM, TR_FINAL_NORM_B, TR_LM_HEAD,
    TR_LAYER_FIRST,            /* the roles below are per layer */
    TR_ATTN_NORM = TR_LAYER_FIRST, TR_ATTN_NORM_B,
    TR_Q, TR_Q_B, TR_K, TR_K_B, TR_V, TR_V_B,
    TR_QKV, TR_QKV_B,          /* fused q/k/v: split into q, k, v views at load (blocks) or at use (per head) */
    TR_O, TR_O_B, TR_Q_NORM, TR_K_NORM, TR_ATTN_POST_NORM,
    TR_FFN_NORM, TR_FFN_NORM_B,
    TR_GATE, TR_UP, TR_UP_B,
    TR_GATE_UP,                /* fused [gate; up] halves: split into two views at load */
    TR_DOWN, TR_DOWN_B, TR_FFN_POST_NORM,
    TR_ROUTER,                 /* MoE layers: [n_experts, hidden] */
    TR_EXPERT_GATE, TR_EXPERT_UP, TR_EXPERT_DOWN, /* one per expert: names take (layer, expert) */
    TR_SINKS, TR_ROUTER_B,     /* learned sink logits [n_heads], router bias [n_experts] (gpt_oss) */
    /* all experts of a layer in one tensor, [E, d0, d1] (gpt_oss): the matrices stored [in, out]
     * (`transposed`), the biases [E, d0]; MXFP4: blocks [E, d0, d1/32, 16] and scales
     * [E, d0, d1/32] U8 of the [out = d0, in = d1] matrices (model/mxfp4.h) */
    TR_EXPERTS_GATE_UP, TR_EXPERTS_GATE_UP_B, TR_EXPERTS_DOWN, TR_EXPERTS_DOWN_B,
    TR_EXPERTS_GATE_UP_BLOCKS, TR_EXPERTS_GATE_UP_SCALES, TR_EXPERTS_DOWN_BLOCKS, TR_EXPERTS_DOWN_SCALES,
};
#define TR_IS_EXPERT(r) ((r) >= TR_EXPERT_GATE && (r) <= TR_EXPERT_DOWN)
#define TR_IS_STACKED(r) ((r) >= TR_EXPERTS_GATE_UP && (r) <= TR_EXPERTS_DOWN_SCALES)
#define TR_IS_BLOCKS(r) ((r) == TR_EXPERTS_GATE_UP_BLOCKS || (r) == TR_EXPERTS_DOWN_BLOCKS)
#define TR_IS_SCALES(r) ((r) == TR_EXPERTS_GATE_UP_SCALES || (r) == TR_EXPERTS_DOWN_SCALES)

/* A dimension of a tensor, evaluated against the config (arch_dim). */
enum tensor_dim {
    DIM_NONE = 0, DIM_HIDDEN, DIM_Q /* q_proj rows (gate rows included) */, DIM_ATTN /* n_heads*head_dim */,
    DIM_KV, DIM_QKV, DIM_FFN, DIM_2FFN, DIM_VOCAB, DIM_HEAD,
    DIM_POS,                   /* max_pos + pos_offset (learned positions) */
    DIM_EMBED,                 /* embed_dim */
    DIM_QNORM, DIM_KNORM,      /* head_dim (per-head QK-norm) or the whole q / k width */
    DIM_EXPERTS, DIM_MOE_FFN,  /* n_experts, an expert's FFN width */
    DIM_2MOE_FFN, DIM_HEADS,   /* twice the expert FFN width (fused gate/up), n_heads */
};

/* When a tensor is present. */
enum tensor_when {
    WHEN_ALWAYS = 0, WHEN_UNTIED, WHEN_QKV_BIAS, WHEN_O_BIAS, WHEN_QK_NORM, WHEN_PROJ, WHEN_FINAL_NORM,
    WHEN_NORM_BIAS, WHEN_FINAL_NORM_BIAS, WHEN_MLP_BIAS, WHEN_LEARNED_POS,
    WHEN_MOE_LAYER, WHEN_DENSE_LAYER, /* per layer: its FFN is (is not) the MoE block */
    WHEN_EXPERTS_PLAIN, WHEN_EXPERTS_MXFP4, /* stacked experts as floats / as MXFP4 blocks + scales */
};

struct tensor_desc {
    enum tensor_role role;
    const char *name;          /* printf format; per-layer names take the layer index (%d) */
    enum tensor_dim d0, d1;    /* shape as config.json implies it (d1 = DIM_NONE: a vector) */
    enum tensor_when when;
    int transposed;            /* stored [in, out] (GPT-2's Conv1D): transposed to [out, in] at load */
    const char *alt;           /* another name the same tensor has in some checkpoints, or NULL */
};

struct cfg_reader;             /* model/config_read.h */
struct json_t;                 /* jansson */

struct arch {
    const char *const *model_types; /* NULL-terminated: the config.json model_type values */
    const char *summary;       /* one line for `info`: norm, positions, attention, residual, FFN */
    const char *refuses;       /* what configs of this family are refused (for `info`, docs) */
    /* Fill c (shapes, eps, rope, c->v) from config.json; errors name the file and field. */
    int (*parse)(struct model_config *c, struct cfg_reader *r);
    const struct tensor_desc *tensors;
    int n_tensors;
    const char *optional_prefix; /* names may lack this prefix (the Hub's GPT-2: "transformer.") */
    const char *const *ignored; /* name suffixes stored beside weights and ignored (NULL-terminated) */
    /* The inverse of parse: c's keys into the config.json object j (synth); NULL when
     * the family has no synth preset. */
    void (*write_config)(struct json_t *j, const struct model_config *c);
    const char *prefix_alias;  /* what a checkpoint may write in place of optional_prefix (NULL: nothing) */
    /* Name prefixes of tensors stored beside the model's and ignored (NULL-terminated):
     * a multimodal checkpoint's vision tower and projector. */
    const char *const *ignored_prefixes;
};

/* Shared by the writers: "rope_parameters" of r (with partial_rotary_factor when < 1). */
void arch_write_rope(struct json_t *j, const struct rope_config *r, double partial);
/* j[k] = v (the config writers' integer keys). */
void arch_json_int(struct json_t *j, const char *k, int v);
/* The inverse of arch_parse_llama_shapes' size keys: layers, hidden, heads, KV heads, head_dim,
 * FFN, vocab and positions, in that order (model/arch_llama.c). */
void arch_write_llama_shapes(struct json_t *j, const struct model_config *c);

/* The family answering to model_type, or NULL. */
const struct arch *arch_find(const char *model_type);
/* "qwen3, qwen2, ..." : every supported model_type, for messages. */
const char *arch_supported(void);
/* All families, NULL-terminated. */
extern const struct arch *const arch_list[];

/* The first table entry of role r, or NULL. */
const struct tensor_desc *arch_tensor(const struct arch *a, enum tensor_role r);

/* The stored shape of t (ndim returned, at most 4 dims): [d0(, d1)], Conv1D's [d1, d0], or
 * the stacked experts' [E, d0(, d1)] / blocks [E, d0, d1/32, 16] / scales [E, d0, d1/32]. */
int arch_stored_shape(const struct model_config *c, const struct tensor_desc *t, int64_t shape[4]);
/* Parameters t holds per layer (per expert tensor for TR_IS_EXPERT): MXFP4 blocks count two
 * a byte, their scales none. */
size_t arch_tensor_params(const struct model_config *c, const struct tensor_desc *t);

/* The value of dimension d for config c; whether a tensor is present for c. */
int64_t arch_dim(const struct model_config *c, enum tensor_dim d);
int arch_present(const struct model_config *c, const struct tensor_desc *t);
/* Whether a per-layer tensor is present in layer l (arch_present and the MoE layer kinds). */
int arch_present_layer(const struct model_config *c, const struct tensor_desc *t, int l);
/* "blocks" description of c's variants for `info` (norm, positions, residual, FFN, ...). */
void arch_describe(const struct model_config *c, char *buf, size_t n);
/* The shape keys Llama-style configs share (layers, hidden, heads, KV heads, FFN, vocab,
 * head_dim, eps, tying, RoPE): model/arch_llama.c; read by phi3, gemma, olmo2 and the MoE
 * families too. Non-zero after a failure (r holds it). */
int arch_parse_llama_shapes(struct model_config *c, struct cfg_reader *r);

#endif
