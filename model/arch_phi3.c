/* model/arch_phi3.c — Phi-3 / Phi-3.5 / Phi-4-mini: the Llama layout with fused
 * qkv_proj ([q; k; v] blocks) and gate_up_proj ([gate; up] halves), both split into
 * views at load; partial rotary; `longrope` (short factors up to
 * original_max_position_embeddings positions, long ones beyond, cos/sin scaled);
 * an optional sliding window on every layer. */
#include "arch.h"
#include "config_read.h"

#define L_(s) "model.layers.%d." s
static const struct tensor_desc tensors[] = {
    {TR_EMBED, "model.embed_tokens.weight", DIM_VOCAB, DIM_HIDDEN, WHEN_ALWAYS, 0},
    {TR_FINAL_NORM, "model.norm.weight", DIM_HIDDEN, DIM_NONE, WHEN_ALWAYS, 0},
    {TR_LM_HEAD, "lm_head.weight", DIM_VOCAB, DIM_HIDDEN, WHEN_UNTIED, 0},
    {TR_ATTN_NORM, L_("input_layernorm.weight"), DIM_HIDDEN, DIM_NONE, WHEN_ALWAYS, 0},
    {TR_QKV, L_("self_attn.qkv_proj.weight"), DIM_QKV, DIM_HIDDEN, WHEN_ALWAYS, 0},
    {TR_O, L_("self_attn.o_proj.weight"), DIM_HIDDEN, DIM_ATTN, WHEN_ALWAYS, 0},
    {TR_FFN_NORM, L_("post_attention_layernorm.weight"), DIM_HIDDEN, DIM_NONE, WHEN_ALWAYS, 0},
    {TR_GATE_UP, L_("mlp.gate_up_proj.weight"), DIM_2FFN, DIM_HIDDEN, WHEN_ALWAYS, 0},
    {TR_DOWN, L_("mlp.down_proj.weight"), DIM_HIDDEN, DIM_FFN, WHEN_ALWAYS, 0},
};

static int parse(struct model_config *c, struct cfg_reader *r)
{
    int bias;
    if (arch_parse_llama_shapes(c, r) || cfg_bool(r, NULL, "attention_bias", 0, &bias) ||
        cfg_act(r, "hidden_act", 0, ACT_SILU, &c->v.act) || cfg_int(r, NULL, "sliding_window", 0, 0, &c->sliding_window))
        return -1;
    if (bias)
        return cfg_fail(r, "attention_bias", "true is not supported");
    return cfg_rope_standard(r, c);
}

static const char *const types[] = {"phi3", NULL};

const struct arch arch_phi3 = {
    types,
    "RMSNorm, partial RoPE (longrope), pre-norm residual, SwiGLU, fused qkv_proj and gate_up_proj",
    "attention_bias true",
    parse,
    tensors,
    sizeof tensors / sizeof tensors[0],
    NULL,
    NULL,
};
