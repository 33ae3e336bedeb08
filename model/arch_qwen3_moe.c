/* model/arch_qwen3_moe.c — Qwen3-MoE and Mixtral: the Llama/Qwen3 attention (QK-norm
 * per head for qwen3_moe, a sliding window when Mixtral sets one) with the FFN of
 * the MoE layers replaced by the expert block of model/moe.h. Experts are read in
 * the layout transformers 5.17's save_pretrained writes (checked on a saved tiny
 * model, tests/fixtures/README.md): one 2-D tensor per expert and projection,
 * mlp.experts.E.{gate,up,down}_proj (qwen3_moe) or
 * block_sparse_moe.experts.E.w1/w3/w2 (mixtral, as its released checkpoints). */
#include <string.h>

#include <jansson.h>
#include "arch.h"
#include "config_read.h"

int arch_parse_llama_shapes(struct model_config *c, struct cfg_reader *r);

#define L_(s) "model.layers.%d." s
#define ATTN_TENSORS                                                                            \
    {TR_EMBED, "model.embed_tokens.weight", DIM_VOCAB, DIM_HIDDEN, WHEN_ALWAYS, 0, NULL},        \
    {TR_FINAL_NORM, "model.norm.weight", DIM_HIDDEN, DIM_NONE, WHEN_ALWAYS, 0, NULL},            \
    {TR_LM_HEAD, "lm_head.weight", DIM_VOCAB, DIM_HIDDEN, WHEN_UNTIED, 0, NULL},                 \
    {TR_ATTN_NORM, L_("input_layernorm.weight"), DIM_HIDDEN, DIM_NONE, WHEN_ALWAYS, 0, NULL},    \
    {TR_Q, L_("self_attn.q_proj.weight"), DIM_Q, DIM_HIDDEN, WHEN_ALWAYS, 0, NULL},              \
    {TR_K, L_("self_attn.k_proj.weight"), DIM_KV, DIM_HIDDEN, WHEN_ALWAYS, 0, NULL},             \
    {TR_V, L_("self_attn.v_proj.weight"), DIM_KV, DIM_HIDDEN, WHEN_ALWAYS, 0, NULL},             \
    {TR_O, L_("self_attn.o_proj.weight"), DIM_HIDDEN, DIM_ATTN, WHEN_ALWAYS, 0, NULL},           \
    {TR_Q_B, L_("self_attn.q_proj.bias"), DIM_Q, DIM_NONE, WHEN_QKV_BIAS, 0, NULL},              \
    {TR_K_B, L_("self_attn.k_proj.bias"), DIM_KV, DIM_NONE, WHEN_QKV_BIAS, 0, NULL},             \
    {TR_V_B, L_("self_attn.v_proj.bias"), DIM_KV, DIM_NONE, WHEN_QKV_BIAS, 0, NULL},             \
    {TR_O_B, L_("self_attn.o_proj.bias"), DIM_HIDDEN, DIM_NONE, WHEN_O_BIAS, 0, NULL},           \
    {TR_Q_NORM, L_("self_attn.q_norm.weight"), DIM_QNORM, DIM_NONE, WHEN_QK_NORM, 0, NULL},      \
    {TR_K_NORM, L_("self_attn.k_norm.weight"), DIM_KNORM, DIM_NONE, WHEN_QK_NORM, 0, NULL},      \
    {TR_FFN_NORM, L_("post_attention_layernorm.weight"), DIM_HIDDEN, DIM_NONE, WHEN_ALWAYS, 0, NULL}

static const struct tensor_desc qwen3_moe_tensors[] = {
    ATTN_TENSORS,
    {TR_GATE, L_("mlp.gate_proj.weight"), DIM_FFN, DIM_HIDDEN, WHEN_DENSE_LAYER, 0, NULL},
    {TR_UP, L_("mlp.up_proj.weight"), DIM_FFN, DIM_HIDDEN, WHEN_DENSE_LAYER, 0, NULL},
    {TR_DOWN, L_("mlp.down_proj.weight"), DIM_HIDDEN, DIM_FFN, WHEN_DENSE_LAYER, 0, NULL},
    {TR_ROUTER, L_("mlp.gate.weight"), DIM_EXPERTS, DIM_HIDDEN, WHEN_MOE_LAYER, 0, NULL},
    {TR_EXPERT_GATE, L_("mlp.experts.%d.gate_proj.weight"), DIM_MOE_FFN, DIM_HIDDEN, WHEN_MOE_LAYER, 0, NULL},
    {TR_EXPERT_UP, L_("mlp.experts.%d.up_proj.weight"), DIM_MOE_FFN, DIM_HIDDEN, WHEN_MOE_LAYER, 0, NULL},
    {TR_EXPERT_DOWN, L_("mlp.experts.%d.down_proj.weight"), DIM_HIDDEN, DIM_MOE_FFN, WHEN_MOE_LAYER, 0, NULL},
};

static const struct tensor_desc mixtral_tensors[] = {
    ATTN_TENSORS,
    {TR_ROUTER, L_("block_sparse_moe.gate.weight"), DIM_EXPERTS, DIM_HIDDEN, WHEN_MOE_LAYER, 0, NULL},
    {TR_EXPERT_GATE, L_("block_sparse_moe.experts.%d.w1.weight"), DIM_MOE_FFN, DIM_HIDDEN, WHEN_MOE_LAYER, 0, NULL},
    {TR_EXPERT_UP, L_("block_sparse_moe.experts.%d.w3.weight"), DIM_MOE_FFN, DIM_HIDDEN, WHEN_MOE_LAYER, 0, NULL},
    {TR_EXPERT_DOWN, L_("block_sparse_moe.experts.%d.w2.weight"), DIM_HIDDEN, DIM_MOE_FFN, WHEN_MOE_LAYER, 0, NULL},
};

#define MOE_MAX_EXPERTS 1024
#define MOE_MAX_TOP_K 64

/* Experts, top-k and the bounds shared by both families; n_experts from either key
 * (Qwen3-MoE's released configs say num_experts, transformers 5.17 writes num_local_experts). */
static int parse_moe(struct model_config *c, struct cfg_reader *r, const char *ne_key)
{
    struct model_variant *v = &c->v;
    enum act_kind act;
    if (cfg_int(r, NULL, ne_key, 0, 0, &v->n_experts) ||
        (!v->n_experts && cfg_int(r, NULL, "num_local_experts", 1, 0, &v->n_experts)) ||
        cfg_int(r, NULL, "num_experts_per_tok", 1, 0, &v->top_k) || cfg_act(r, "hidden_act", 0, ACT_SILU, &act))
        return -1;
    if (act != ACT_SILU)
        return cfg_fail(r, "hidden_act", "must be \"silu\"");
    if (v->n_experts < 1 || v->n_experts > MOE_MAX_EXPERTS)
        return cfg_fail(r, ne_key, "must be in [1, 1024]");
    if (v->top_k < 1 || v->top_k > v->n_experts || v->top_k > MOE_MAX_TOP_K)
        return cfg_fail(r, "num_experts_per_tok", "must be in [1, min(experts, 64)]");
    if (c->n_layers > MODEL_MAX_LAYERS_TYPED)
        return cfg_fail(r, "num_hidden_layers", "above 1024 is not supported for MoE families");
    if (cfg_rope_standard(r, c))
        return -1;
    if (c->v.rope_dim != c->head_dim)
        return cfg_fail(r, "partial_rotary_factor", "other than 1 is not supported");
    return 0;
}

/* Qwen3-MoE: layer l is sparse when it is not in mlp_only_layers and (l + 1) is a
 * multiple of decoder_sparse_step (modeling_qwen3_moe.py's Qwen3MoeDecoderLayer). */
static int parse_qwen3_moe(struct model_config *c, struct cfg_reader *r)
{
    int step = 1, attn_bias = 0, sw = 0;
    if (arch_parse_llama_shapes(c, r) || parse_moe(c, r, "num_experts") ||
        cfg_int(r, NULL, "moe_intermediate_size", 1, 0, &c->v.moe_ffn) ||
        cfg_int(r, NULL, "decoder_sparse_step", 0, 1, &step) || cfg_bool(r, NULL, "norm_topk_prob", 0, &c->v.norm_topk) ||
        cfg_bool(r, NULL, "attention_bias", 0, &attn_bias) || cfg_bool(r, NULL, "use_sliding_window", 0, &sw))
        return -1;
    if (sw)
        return cfg_fail(r, "use_sliding_window", "true is not supported");
    if (c->v.moe_ffn < 1)
        return cfg_fail(r, "moe_intermediate_size", "must be at least 1");
    c->qk_norm = 1;
    c->qkv_bias = c->o_bias = attn_bias;
    json_t *mlp_only = cfg_field(r, NULL, "mlp_only_layers");
    if (mlp_only && !json_is_array(mlp_only))
        return cfg_fail(r, "mlp_only_layers", "must be a list of layer indices");
    for (int l = 0; l < c->n_layers; l++)
        c->v.layer_moe[l] = step > 0 && (l + 1) % step == 0;
    size_t i;
    json_t *e;
    json_array_foreach(mlp_only, i, e) {
        if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) >= c->n_layers)
            return cfg_fail(r, "mlp_only_layers", "must list layer indices below num_hidden_layers");
        c->v.layer_moe[json_integer_value(e)] = 0;
    }
    return 0;
}

/* Mixtral: every layer sparse, softmax over all experts then the top k renormalised
 * (= softmax over the chosen logits); expert width intermediate_size. */
static int parse_mixtral(struct model_config *c, struct cfg_reader *r)
{
    if (arch_parse_llama_shapes(c, r) || parse_moe(c, r, "num_local_experts") ||
        cfg_int(r, NULL, "sliding_window", 0, 0, &c->sliding_window))
        return -1;
    c->v.moe_ffn = c->ffn;
    c->v.norm_topk = 1;
    memset(c->v.layer_moe, 1, (size_t)c->n_layers);
    return 0;
}

static const char *const qwen3_moe_types[] = {"qwen3_moe", NULL};
static const char *const mixtral_types[] = {"mixtral", NULL};

const struct arch arch_qwen3_moe = {
    qwen3_moe_types,
    "RMSNorm, RoPE, pre-norm residual, QK-norm; MoE FFN (softmax router, top-k, norm_topk_prob) in the sparse layers, SwiGLU",
    "use_sliding_window true; hidden_act other than silu; partial rotary; fused 3-D expert tensors",
    parse_qwen3_moe,
    qwen3_moe_tensors,
    sizeof qwen3_moe_tensors / sizeof qwen3_moe_tensors[0],
    NULL,
    NULL,
    NULL,
};

const struct arch arch_mixtral = {
    mixtral_types,
    "RMSNorm, RoPE, pre-norm residual, optional sliding window; MoE FFN (top-k, softmax over the chosen) in every layer",
    "hidden_act other than silu; partial rotary; fused 3-D expert tensors",
    parse_mixtral,
    mixtral_tensors,
    sizeof mixtral_tensors / sizeof mixtral_tensors[0],
    NULL,
    NULL,
    NULL,
};
