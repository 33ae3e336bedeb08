/* model/arch_olmo2.c — OLMo 2: RMSNorm after attention and after the MLP (no norm
 * before them: h = x + norm(attn(x))), QK-norm over the whole q / k projection before
 * the split into heads, RoPE, SwiGLU, untied head. */
#include <jansson.h>

#include "arch.h"
#include "config_read.h"

#define L_(s) "model.layers.%d." s
static const struct tensor_desc tensors[] = {
    {TR_EMBED, "model.embed_tokens.weight", DIM_VOCAB, DIM_HIDDEN, WHEN_ALWAYS, 0},
    {TR_FINAL_NORM, "model.norm.weight", DIM_HIDDEN, DIM_NONE, WHEN_ALWAYS, 0},
    {TR_LM_HEAD, "lm_head.weight", DIM_VOCAB, DIM_HIDDEN, WHEN_UNTIED, 0},
    {TR_Q, L_("self_attn.q_proj.weight"), DIM_Q, DIM_HIDDEN, WHEN_ALWAYS, 0},
    {TR_K, L_("self_attn.k_proj.weight"), DIM_KV, DIM_HIDDEN, WHEN_ALWAYS, 0},
    {TR_V, L_("self_attn.v_proj.weight"), DIM_KV, DIM_HIDDEN, WHEN_ALWAYS, 0},
    {TR_O, L_("self_attn.o_proj.weight"), DIM_HIDDEN, DIM_ATTN, WHEN_ALWAYS, 0},
    {TR_Q_NORM, L_("self_attn.q_norm.weight"), DIM_QNORM, DIM_NONE, WHEN_QK_NORM, 0},
    {TR_K_NORM, L_("self_attn.k_norm.weight"), DIM_KNORM, DIM_NONE, WHEN_QK_NORM, 0},
    {TR_ATTN_POST_NORM, L_("post_attention_layernorm.weight"), DIM_HIDDEN, DIM_NONE, WHEN_ALWAYS, 0},
    {TR_GATE, L_("mlp.gate_proj.weight"), DIM_FFN, DIM_HIDDEN, WHEN_ALWAYS, 0},
    {TR_UP, L_("mlp.up_proj.weight"), DIM_FFN, DIM_HIDDEN, WHEN_ALWAYS, 0},
    {TR_DOWN, L_("mlp.down_proj.weight"), DIM_HIDDEN, DIM_FFN, WHEN_ALWAYS, 0},
    {TR_FFN_POST_NORM, L_("post_feedforward_layernorm.weight"), DIM_HIDDEN, DIM_NONE, WHEN_ALWAYS, 0},
};

static int parse(struct model_config *c, struct cfg_reader *r)
{
    int bias;
    if (arch_parse_llama_shapes(c, r) || cfg_bool(r, NULL, "attention_bias", 0, &bias) ||
        cfg_act(r, "hidden_act", 0, ACT_SILU, &c->v.act))
        return -1;
    if (bias)
        return cfg_fail(r, "attention_bias", "true is not supported");
    c->qk_norm = 1;
    c->v.qk_norm_whole = 1;
    c->v.residual = RESID_OUTPUT_NORM;
    if (cfg_rope_standard(r, c))
        return -1;
    if (c->v.rope_dim != c->head_dim)
        return cfg_fail(r, "partial_rotary_factor", "other than 1 is not supported");
    return 0;
}

static void write_config(json_t *j, const struct model_config *c)
{
    json_object_set_new(j, "architectures", json_pack("[s]", "Olmo2ForCausalLM"));
    arch_json_int(j, "num_hidden_layers", c->n_layers);
    arch_json_int(j, "hidden_size", c->hidden);
    arch_json_int(j, "num_attention_heads", c->n_heads);
    arch_json_int(j, "num_key_value_heads", c->n_kv_heads);
    arch_json_int(j, "intermediate_size", c->ffn);
    arch_json_int(j, "vocab_size", c->vocab);
    arch_json_int(j, "max_position_embeddings", c->max_pos);
    json_object_set_new(j, "rms_norm_eps", json_real(c->rms_eps));
    json_object_set_new(j, "hidden_act", json_string("silu"));
    json_object_set_new(j, "tie_word_embeddings", json_boolean(c->tied));
    arch_write_rope(j, &c->rope, 1);
}

static const char *const types[] = {"olmo2", NULL};

const struct arch arch_olmo2 = {
    types,
    "RMSNorm after attention and MLP (output norms), QK-norm over the whole projection, RoPE, SwiGLU",
    "attention_bias true, partial rotary",
    parse,
    tensors,
    sizeof tensors / sizeof tensors[0],
    NULL,
    NULL,
    write_config,
};
