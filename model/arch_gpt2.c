/* model/arch_gpt2.c — GPT-2: LayerNorm with bias, learned absolute positions, fused
 * c_attn ([q; k; v] blocks, split into views at load), Conv1D weights stored [in, out]
 * (transposed at load), GELU (gelu_new = tanh form), tied head. The Hub's original
 * checkpoints name tensors without `transformer.` and store the causal-mask buffers
 * h.N.attn.bias / h.N.attn.masked_bias beside the weights: both are accepted. */
#include <jansson.h>

#include "arch.h"
#include "config_read.h"

#define L_(s) "transformer.h.%d." s
static const struct tensor_desc tensors[] = {
    {TR_EMBED, "transformer.wte.weight", DIM_VOCAB, DIM_HIDDEN, WHEN_ALWAYS, 0},
    {TR_POS_EMBED, "transformer.wpe.weight", DIM_POS, DIM_HIDDEN, WHEN_ALWAYS, 0},
    {TR_FINAL_NORM, "transformer.ln_f.weight", DIM_HIDDEN, DIM_NONE, WHEN_ALWAYS, 0},
    {TR_FINAL_NORM_B, "transformer.ln_f.bias", DIM_HIDDEN, DIM_NONE, WHEN_ALWAYS, 0},
    {TR_LM_HEAD, "lm_head.weight", DIM_VOCAB, DIM_HIDDEN, WHEN_UNTIED, 0},
    {TR_ATTN_NORM, L_("ln_1.weight"), DIM_HIDDEN, DIM_NONE, WHEN_ALWAYS, 0},
    {TR_ATTN_NORM_B, L_("ln_1.bias"), DIM_HIDDEN, DIM_NONE, WHEN_ALWAYS, 0},
    {TR_QKV, L_("attn.c_attn.weight"), DIM_QKV, DIM_HIDDEN, WHEN_ALWAYS, 1},
    {TR_QKV_B, L_("attn.c_attn.bias"), DIM_QKV, DIM_NONE, WHEN_ALWAYS, 0},
    {TR_O, L_("attn.c_proj.weight"), DIM_HIDDEN, DIM_ATTN, WHEN_ALWAYS, 1},
    {TR_O_B, L_("attn.c_proj.bias"), DIM_HIDDEN, DIM_NONE, WHEN_ALWAYS, 0},
    {TR_FFN_NORM, L_("ln_2.weight"), DIM_HIDDEN, DIM_NONE, WHEN_ALWAYS, 0},
    {TR_FFN_NORM_B, L_("ln_2.bias"), DIM_HIDDEN, DIM_NONE, WHEN_ALWAYS, 0},
    {TR_UP, L_("mlp.c_fc.weight"), DIM_FFN, DIM_HIDDEN, WHEN_ALWAYS, 1},
    {TR_UP_B, L_("mlp.c_fc.bias"), DIM_FFN, DIM_NONE, WHEN_ALWAYS, 0},
    {TR_DOWN, L_("mlp.c_proj.weight"), DIM_HIDDEN, DIM_FFN, WHEN_ALWAYS, 1},
    {TR_DOWN_B, L_("mlp.c_proj.bias"), DIM_HIDDEN, DIM_NONE, WHEN_ALWAYS, 0},
};

static int parse(struct model_config *c, struct cfg_reader *r)
{
    double eps;
    int inv_layer, upcast, scale, cross;
    if (cfg_int(r, NULL, "n_layer", 1, 0, &c->n_layers) || cfg_int(r, NULL, "n_embd", 1, 0, &c->hidden) ||
        cfg_int(r, NULL, "n_head", 1, 0, &c->n_heads) || cfg_int(r, NULL, "vocab_size", 1, 0, &c->vocab) ||
        cfg_int(r, NULL, "n_positions", 1, 0, &c->max_pos) ||
        cfg_int(r, NULL, "n_inner", 0, 4 * c->hidden, &c->ffn) ||
        cfg_num(r, NULL, "layer_norm_epsilon", 0, 1e-5, &eps) ||
        cfg_bool(r, NULL, "scale_attn_by_inverse_layer_idx", 0, &inv_layer) ||
        cfg_bool(r, NULL, "reorder_and_upcast_attn", 0, &upcast) ||
        cfg_bool(r, NULL, "scale_attn_weights", 1, &scale) || cfg_bool(r, NULL, "add_cross_attention", 0, &cross) ||
        cfg_act(r, "activation_function", 0, ACT_GELU_TANH, &c->v.act))
        return -1;
    if (inv_layer)
        return cfg_fail(r, "scale_attn_by_inverse_layer_idx", "true is not supported");
    if (upcast)
        return cfg_fail(r, "reorder_and_upcast_attn", "true is not supported");
    if (cross)
        return cfg_fail(r, "add_cross_attention", "true is not supported (decoder-only models)");
    if (c->n_heads < 1 || c->hidden % c->n_heads)
        return cfg_fail(r, "n_head", "must divide n_embd");
    c->n_kv_heads = c->n_heads;
    c->head_dim = c->hidden / c->n_heads;
    c->rms_eps = (float)eps;
    c->tied = 1;
    c->qkv_bias = c->o_bias = 1;
    c->v.norm = NORM_LAYER;
    c->v.norm_bias = c->v.mlp_bias = c->v.ffn_plain = 1;
    c->v.pos = POS_LEARNED;
    c->v.attn_scale = scale ? 0 : 1.0f;
    return 0;
}

static void write_config(json_t *j, const struct model_config *c)
{
    json_object_set_new(j, "architectures", json_pack("[s]", "GPT2LMHeadModel"));
    arch_json_int(j, "n_layer", c->n_layers);
    arch_json_int(j, "n_embd", c->hidden);
    arch_json_int(j, "n_head", c->n_heads);
    arch_json_int(j, "n_inner", c->ffn);
    arch_json_int(j, "n_positions", c->max_pos);
    arch_json_int(j, "n_ctx", c->max_pos);
    arch_json_int(j, "vocab_size", c->vocab);
    json_object_set_new(j, "layer_norm_epsilon", json_real(c->rms_eps));
    json_object_set_new(j, "activation_function", json_string("gelu_new"));
}

static const char *const types[] = {"gpt2", NULL};
static const char *const ignored[] = {".attn.bias", ".attn.masked_bias", NULL};

const struct arch arch_gpt2 = {
    types,
    "LayerNorm with bias, learned positions, pre-norm residual, GELU MLP with biases, fused c_attn, Conv1D [in, out]",
    "scale_attn_by_inverse_layer_idx true, reorder_and_upcast_attn true, add_cross_attention true",
    parse,
    tensors,
    sizeof tensors / sizeof tensors[0],
    "transformer.",
    ignored,
    write_config,
};
