/* model/arch_opt.c — OPT: learned positions with an offset of 2, LayerNorm with
 * bias (eps 1e-5, fixed), q/k/v/out projections with biases, ReLU MLP with biases,
 * pre-LN (do_layer_norm_before, 125m and most) or post-LN (350m: no final norm), and
 * project_in / project_out when word_embed_proj_dim differs from hidden_size. */
#include "arch.h"
#include "config_read.h"

#define L_(s) "model.decoder.layers.%d." s
static const struct tensor_desc tensors[] = {
    {TR_EMBED, "model.decoder.embed_tokens.weight", DIM_VOCAB, DIM_EMBED, WHEN_ALWAYS, 0},
    {TR_POS_EMBED, "model.decoder.embed_positions.weight", DIM_POS, DIM_HIDDEN, WHEN_ALWAYS, 0},
    {TR_PROJ_IN, "model.decoder.project_in.weight", DIM_HIDDEN, DIM_EMBED, WHEN_PROJ, 0},
    {TR_PROJ_OUT, "model.decoder.project_out.weight", DIM_EMBED, DIM_HIDDEN, WHEN_PROJ, 0},
    {TR_FINAL_NORM, "model.decoder.final_layer_norm.weight", DIM_HIDDEN, DIM_NONE, WHEN_FINAL_NORM, 0},
    {TR_FINAL_NORM_B, "model.decoder.final_layer_norm.bias", DIM_HIDDEN, DIM_NONE, WHEN_FINAL_NORM_BIAS, 0},
    {TR_LM_HEAD, "lm_head.weight", DIM_VOCAB, DIM_EMBED, WHEN_UNTIED, 0},
    {TR_ATTN_NORM, L_("self_attn_layer_norm.weight"), DIM_HIDDEN, DIM_NONE, WHEN_ALWAYS, 0},
    {TR_ATTN_NORM_B, L_("self_attn_layer_norm.bias"), DIM_HIDDEN, DIM_NONE, WHEN_ALWAYS, 0},
    {TR_Q, L_("self_attn.q_proj.weight"), DIM_Q, DIM_HIDDEN, WHEN_ALWAYS, 0},
    {TR_Q_B, L_("self_attn.q_proj.bias"), DIM_Q, DIM_NONE, WHEN_QKV_BIAS, 0},
    {TR_K, L_("self_attn.k_proj.weight"), DIM_KV, DIM_HIDDEN, WHEN_ALWAYS, 0},
    {TR_K_B, L_("self_attn.k_proj.bias"), DIM_KV, DIM_NONE, WHEN_QKV_BIAS, 0},
    {TR_V, L_("self_attn.v_proj.weight"), DIM_KV, DIM_HIDDEN, WHEN_ALWAYS, 0},
    {TR_V_B, L_("self_attn.v_proj.bias"), DIM_KV, DIM_NONE, WHEN_QKV_BIAS, 0},
    {TR_O, L_("self_attn.out_proj.weight"), DIM_HIDDEN, DIM_ATTN, WHEN_ALWAYS, 0},
    {TR_O_B, L_("self_attn.out_proj.bias"), DIM_HIDDEN, DIM_NONE, WHEN_O_BIAS, 0},
    {TR_FFN_NORM, L_("final_layer_norm.weight"), DIM_HIDDEN, DIM_NONE, WHEN_ALWAYS, 0},
    {TR_FFN_NORM_B, L_("final_layer_norm.bias"), DIM_HIDDEN, DIM_NONE, WHEN_ALWAYS, 0},
    {TR_UP, L_("fc1.weight"), DIM_FFN, DIM_HIDDEN, WHEN_ALWAYS, 0},
    {TR_UP_B, L_("fc1.bias"), DIM_FFN, DIM_NONE, WHEN_MLP_BIAS, 0},
    {TR_DOWN, L_("fc2.weight"), DIM_HIDDEN, DIM_FFN, WHEN_ALWAYS, 0},
    {TR_DOWN_B, L_("fc2.bias"), DIM_HIDDEN, DIM_NONE, WHEN_MLP_BIAS, 0},
};

static int parse(struct model_config *c, struct cfg_reader *r)
{
    int before, remove_final, bias, affine, tied;
    if (cfg_int(r, NULL, "num_hidden_layers", 1, 0, &c->n_layers) || cfg_int(r, NULL, "hidden_size", 1, 0, &c->hidden) ||
        cfg_int(r, NULL, "num_attention_heads", 1, 0, &c->n_heads) || cfg_int(r, NULL, "ffn_dim", 1, 0, &c->ffn) ||
        cfg_int(r, NULL, "vocab_size", 1, 0, &c->vocab) ||
        cfg_int(r, NULL, "max_position_embeddings", 1, 0, &c->max_pos) ||
        cfg_int(r, NULL, "word_embed_proj_dim", 0, c->hidden, &c->v.embed_dim) ||
        cfg_bool(r, NULL, "do_layer_norm_before", 1, &before) ||
        cfg_bool(r, NULL, "_remove_final_layer_norm", 0, &remove_final) ||
        cfg_bool(r, NULL, "enable_bias", 1, &bias) || cfg_bool(r, NULL, "layer_norm_elementwise_affine", 1, &affine) ||
        cfg_bool(r, NULL, "tie_word_embeddings", 1, &tied) ||
        cfg_act(r, "activation_function", 0, ACT_RELU, &c->v.act))
        return -1;
    if (!affine)
        return cfg_fail(r, "layer_norm_elementwise_affine", "false is not supported");
    if (!bias)
        return cfg_fail(r, "enable_bias", "false is not supported");
    if (c->n_heads < 1 || c->hidden % c->n_heads)
        return cfg_fail(r, "num_attention_heads", "must divide hidden_size");
    if (c->v.embed_dim < 1)
        return cfg_fail(r, "word_embed_proj_dim", "must be positive");
    c->n_kv_heads = c->n_heads;
    c->head_dim = c->hidden / c->n_heads;
    c->rms_eps = 1e-5f; /* nn.LayerNorm's default: OPT has no eps in its config */
    c->tied = tied;
    c->qkv_bias = c->o_bias = 1;
    c->v.norm = NORM_LAYER;
    c->v.norm_bias = c->v.mlp_bias = c->v.ffn_plain = 1;
    c->v.pos = POS_LEARNED;
    c->v.pos_offset = 2;
    c->v.residual = before ? RESID_PRE_NORM : RESID_POST_LN;
    c->v.no_final_norm = !before || remove_final;
    return 0;
}

static const char *const types[] = {"opt", NULL};

const struct arch arch_opt = {
    types,
    "LayerNorm with bias, learned positions (offset 2), pre- or post-LN residual, ReLU MLP with biases, "
    "project_in/out when word_embed_proj_dim differs",
    "enable_bias false, layer_norm_elementwise_affine false",
    parse,
    tensors,
    sizeof tensors / sizeof tensors[0],
    NULL,
    NULL,
};
