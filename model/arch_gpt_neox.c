/* model/arch_gpt_neox.c — GPT-NeoX / Pythia: LayerNorm with bias, partial rotary
 * (rotary_pct of each head), fused query_key_value laid out per head ([q k v] of
 * head_dim each, split at use), parallel residual (use_parallel_residual), exact
 * GELU MLP with biases, untied embed_out. */
#include <jansson.h>

#include "arch.h"
#include "config_read.h"

#define L_(s) "gpt_neox.layers.%d." s
static const struct tensor_desc tensors[] = {
    {TR_EMBED, "gpt_neox.embed_in.weight", DIM_VOCAB, DIM_HIDDEN, WHEN_ALWAYS, 0},
    {TR_FINAL_NORM, "gpt_neox.final_layer_norm.weight", DIM_HIDDEN, DIM_NONE, WHEN_ALWAYS, 0},
    {TR_FINAL_NORM_B, "gpt_neox.final_layer_norm.bias", DIM_HIDDEN, DIM_NONE, WHEN_ALWAYS, 0},
    /* the Hub's Pythia checkpoints: embed_out; saved by transformers 5: lm_head */
    {TR_LM_HEAD, "embed_out.weight", DIM_VOCAB, DIM_HIDDEN, WHEN_UNTIED, 0, "lm_head.weight"},
    {TR_ATTN_NORM, L_("input_layernorm.weight"), DIM_HIDDEN, DIM_NONE, WHEN_ALWAYS, 0},
    {TR_ATTN_NORM_B, L_("input_layernorm.bias"), DIM_HIDDEN, DIM_NONE, WHEN_ALWAYS, 0},
    {TR_QKV, L_("attention.query_key_value.weight"), DIM_QKV, DIM_HIDDEN, WHEN_ALWAYS, 0},
    {TR_QKV_B, L_("attention.query_key_value.bias"), DIM_QKV, DIM_NONE, WHEN_QKV_BIAS, 0},
    {TR_O, L_("attention.dense.weight"), DIM_HIDDEN, DIM_ATTN, WHEN_ALWAYS, 0},
    {TR_O_B, L_("attention.dense.bias"), DIM_HIDDEN, DIM_NONE, WHEN_O_BIAS, 0},
    {TR_FFN_NORM, L_("post_attention_layernorm.weight"), DIM_HIDDEN, DIM_NONE, WHEN_ALWAYS, 0},
    {TR_FFN_NORM_B, L_("post_attention_layernorm.bias"), DIM_HIDDEN, DIM_NONE, WHEN_ALWAYS, 0},
    {TR_UP, L_("mlp.dense_h_to_4h.weight"), DIM_FFN, DIM_HIDDEN, WHEN_ALWAYS, 0},
    {TR_UP_B, L_("mlp.dense_h_to_4h.bias"), DIM_FFN, DIM_NONE, WHEN_ALWAYS, 0},
    {TR_DOWN, L_("mlp.dense_4h_to_h.weight"), DIM_HIDDEN, DIM_FFN, WHEN_ALWAYS, 0},
    {TR_DOWN_B, L_("mlp.dense_4h_to_h.bias"), DIM_HIDDEN, DIM_NONE, WHEN_ALWAYS, 0},
};

static int parse(struct model_config *c, struct cfg_reader *r)
{
    double eps, pct;
    int parallel, bias, tied;
    if (cfg_int(r, NULL, "num_hidden_layers", 1, 0, &c->n_layers) || cfg_int(r, NULL, "hidden_size", 1, 0, &c->hidden) ||
        cfg_int(r, NULL, "num_attention_heads", 1, 0, &c->n_heads) ||
        cfg_int(r, NULL, "intermediate_size", 1, 0, &c->ffn) || cfg_int(r, NULL, "vocab_size", 1, 0, &c->vocab) ||
        cfg_int(r, NULL, "max_position_embeddings", 0, 2048, &c->max_pos) ||
        cfg_num(r, NULL, "layer_norm_eps", 0, 1e-5, &eps) ||
        cfg_bool(r, NULL, "use_parallel_residual", 1, &parallel) || cfg_bool(r, NULL, "attention_bias", 1, &bias) ||
        cfg_bool(r, NULL, "tie_word_embeddings", 0, &tied) || cfg_act(r, "hidden_act", 0, ACT_GELU, &c->v.act))
        return -1;
    if (c->n_heads < 1 || c->hidden % c->n_heads)
        return cfg_fail(r, "num_attention_heads", "must divide hidden_size");
    c->n_kv_heads = c->n_heads;
    c->head_dim = c->hidden / c->n_heads;
    /* v5: rope_parameters {rope_theta, partial_rotary_factor}; older: rotary_emb_base, rotary_pct */
    json_t *params = cfg_field(r, NULL, "rope_parameters"), *scaling = cfg_field(r, NULL, "rope_scaling");
    double partial = 1;
    int old = cfg_field(r, NULL, "rotary_emb_base") != NULL;
    if (cfg_rope(r, params ? params : scaling, params ? "rope_parameters" : "rope_scaling",
                 old ? "rotary_emb_base" : "rope_theta", 10000.0, c, &c->rope, &partial) ||
        cfg_num(r, NULL, "rotary_pct", 0, partial, &pct))
        return -1;
    if (!(pct > 0 && pct <= 1))
        return cfg_fail(r, "rotary_pct", "must be in (0, 1]");
    c->v.rope_dim = (int)(c->head_dim * pct);
    if (c->v.rope_dim < 2 || c->v.rope_dim % 2)
        return cfg_fail(r, "rotary_pct", "must leave an even number of rotated dimensions");
    c->rms_eps = (float)eps;
    c->tied = tied;
    c->qkv_bias = c->o_bias = bias;
    c->v.norm = NORM_LAYER;
    c->v.norm_bias = c->v.mlp_bias = c->v.ffn_plain = c->v.qkv_per_head = 1;
    c->v.residual = parallel ? RESID_PARALLEL : RESID_PRE_NORM;
    return 0;
}

static void write_config(json_t *j, const struct model_config *c)
{
    json_object_set_new(j, "architectures", json_pack("[s]", "GPTNeoXForCausalLM"));
    arch_json_int(j, "num_hidden_layers", c->n_layers);
    arch_json_int(j, "hidden_size", c->hidden);
    arch_json_int(j, "num_attention_heads", c->n_heads);
    arch_json_int(j, "intermediate_size", c->ffn);
    arch_json_int(j, "vocab_size", c->vocab);
    arch_json_int(j, "max_position_embeddings", c->max_pos);
    json_object_set_new(j, "layer_norm_eps", json_real(c->rms_eps));
    json_object_set_new(j, "hidden_act", json_string("gelu"));
    json_object_set_new(j, "rotary_pct", json_real((double)c->v.rope_dim / c->head_dim));
    json_object_set_new(j, "rotary_emb_base", json_real(c->rope.theta));
    json_object_set_new(j, "use_parallel_residual", json_boolean(c->v.residual == RESID_PARALLEL));
    json_object_set_new(j, "tie_word_embeddings", json_boolean(c->tied));
}

static const char *const types[] = {"gpt_neox", NULL};
static const char *const ignored[] = {".attention.bias", ".attention.masked_bias", ".rotary_emb.inv_freq", NULL};

const struct arch arch_gpt_neox = {
    types,
    "LayerNorm with bias, partial RoPE, parallel (or sequential) residual, GELU MLP with biases, "
    "fused query_key_value per head",
    "rope scaling types other than default/linear/llama3/yarn",
    parse,
    tensors,
    sizeof tensors / sizeof tensors[0],
    NULL,
    ignored,
    write_config,
};
