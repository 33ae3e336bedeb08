/* model/arch_qwen3_moe.c — Qwen3-MoE: the Qwen3 attention (QK-norm per head) with
 * the FFN of the sparse layers replaced by the expert block of model/moe.h. Experts are read in
 * the layout transformers 5.17's save_pretrained writes (checked on a saved tiny
 * model, tests/fixtures/README.md) and the released checkpoints use: one 2-D tensor
 * per expert and projection, mlp.experts.E.{gate,up,down}_proj, router mlp.gate. */
#include <string.h>

#include <jansson.h>
#include "arch_moe.h"

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

#define MOE_MAX_EXPERTS 1024
#define MOE_MAX_TOP_K 64

/* Experts, top-k and the bounds shared by both families; n_experts from either key
 * (Qwen3-MoE's released configs say num_experts, transformers 5.17 writes num_local_experts). */
int arch_parse_moe(struct model_config *c, struct cfg_reader *r, const char *ne_key)
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
    if (arch_parse_llama_shapes(c, r) || arch_parse_moe(c, r, "num_experts") ||
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

static const char *const qwen3_moe_types[] = {"qwen3_moe", NULL};

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
