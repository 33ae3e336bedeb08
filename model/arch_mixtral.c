/* model/arch_mixtral.c — Mixtral: Llama attention (a sliding window when the config sets
 * one) with every layer's FFN the MoE block of model/moe.h: softmax over all experts,
 * top-k, renormalised over the k (= softmax over the chosen logits). Experts as
 * transformers 5.17's save_pretrained and the released checkpoints store them:
 * block_sparse_moe.experts.E.w1 (gate) / w3 (up) / w2 (down), router block_sparse_moe.gate. */
#include <string.h>

#include "arch_moe.h"

static const struct tensor_desc mixtral_tensors[] = {
    ATTN_TENSORS,
    {TR_ROUTER, L_("block_sparse_moe.gate.weight"), DIM_EXPERTS, DIM_HIDDEN, WHEN_MOE_LAYER, 0, NULL},
    {TR_EXPERT_GATE, L_("block_sparse_moe.experts.%d.w1.weight"), DIM_MOE_FFN, DIM_HIDDEN, WHEN_MOE_LAYER, 0, NULL},
    {TR_EXPERT_UP, L_("block_sparse_moe.experts.%d.w3.weight"), DIM_MOE_FFN, DIM_HIDDEN, WHEN_MOE_LAYER, 0, NULL},
    {TR_EXPERT_DOWN, L_("block_sparse_moe.experts.%d.w2.weight"), DIM_HIDDEN, DIM_MOE_FFN, WHEN_MOE_LAYER, 0, NULL},
};

/* Mixtral: every layer sparse, softmax over all experts then the top k renormalised
 * (= softmax over the chosen logits); expert width intermediate_size. */
static int parse_mixtral(struct model_config *c, struct cfg_reader *r)
{
    if (arch_parse_llama_shapes(c, r) || arch_parse_moe(c, r, "num_local_experts") ||
        cfg_int(r, NULL, "sliding_window", 0, 0, &c->sliding_window))
        return -1;
    c->v.moe_ffn = c->ffn;
    c->v.norm_topk = 1;
    memset(c->v.layer_moe, 1, (size_t)c->n_layers);
    return 0;
}

static const char *const mixtral_types[] = {"mixtral", NULL};

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
