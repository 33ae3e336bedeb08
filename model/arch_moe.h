/* model/arch_moe.h — what the MoE families (arch_qwen3_moe.c, arch_mixtral.c) share:
 * the Llama-style attention tensors and the expert/top-k keys of config.json. */
#ifndef SS_MODEL_ARCH_MOE_H
#define SS_MODEL_ARCH_MOE_H

#include "arch.h"
#include "config_read.h"

/* n_experts (ne_key, else num_local_experts), num_experts_per_tok, silu, RoPE; bounded. */
int arch_parse_moe(struct model_config *c, struct cfg_reader *r, const char *ne_key);

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

#endif
