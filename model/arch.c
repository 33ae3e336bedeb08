/* model/arch.c — the list of families and what every reader of the table needs:
 * dimension values, presence conditions, the supported names, a description. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "arch.h"

extern const struct arch arch_llama, arch_gpt2, arch_gpt_neox, arch_opt, arch_phi3, arch_gemma2, arch_gemma3,
    arch_gemma3_mm, arch_olmo2, arch_qwen3_moe, arch_mixtral, arch_gpt_oss;

const struct arch *const arch_list[] = {&arch_llama,  &arch_gpt2,      &arch_gpt_neox, &arch_opt,
                                        &arch_phi3,   &arch_gemma2,    &arch_gemma3,   &arch_gemma3_mm,
                                        &arch_olmo2,  &arch_qwen3_moe, &arch_mixtral,  &arch_gpt_oss,
                                        NULL};

const struct arch *arch_find(const char *model_type)
{
    for (int i = 0; arch_list[i]; i++)
        for (int j = 0; arch_list[i]->model_types[j]; j++)
            if (!strcmp(arch_list[i]->model_types[j], model_type))
                return arch_list[i];
    return NULL;
}

const char *arch_supported(void)
{
    static char buf[512];
    if (!buf[0]) {
        int n = 0;
        for (int i = 0; arch_list[i]; i++)
            for (int j = 0; arch_list[i]->model_types[j]; j++)
                n += snprintf(buf + n, n < (int)sizeof buf ? sizeof buf - n : 0, "%s%s", n ? ", " : "",
                              arch_list[i]->model_types[j]);
    }
    return buf;
}

const struct tensor_desc *arch_tensor(const struct arch *a, enum tensor_role r)
{
    for (int i = 0; a && i < a->n_tensors; i++)
        if (a->tensors[i].role == r)
            return &a->tensors[i];
    return NULL;
}

int64_t arch_dim(const struct model_config *c, enum tensor_dim d)
{
    int64_t D = c->head_dim, q = model_config_q_out(c), kv = (int64_t)c->n_kv_heads * D;
    switch (d) {
    case DIM_HIDDEN: return c->hidden;
    case DIM_Q: return q;
    case DIM_ATTN: return (int64_t)c->n_heads * D;
    case DIM_KV: return kv;
    case DIM_QKV: return q + 2 * kv;
    case DIM_FFN: return c->ffn;
    case DIM_2FFN: return 2 * (int64_t)c->ffn;
    case DIM_VOCAB: return c->vocab;
    case DIM_HEAD: return D;
    case DIM_POS: return (int64_t)c->max_pos + c->v.pos_offset;
    case DIM_EMBED: return c->v.embed_dim ? c->v.embed_dim : c->hidden;
    case DIM_QNORM: return c->v.qk_norm_whole ? (int64_t)c->n_heads * D : D;
    case DIM_KNORM: return c->v.qk_norm_whole ? kv : D;
    case DIM_EXPERTS: return c->v.n_experts;
    case DIM_MOE_FFN: return c->v.moe_ffn;
    case DIM_2MOE_FFN: return 2 * (int64_t)c->v.moe_ffn;
    case DIM_HEADS: return c->n_heads;
    default: return 0;
    }
}

int arch_present(const struct model_config *c, const struct tensor_desc *t)
{
    switch (t->when) {
    case WHEN_UNTIED: return !c->tied;
    case WHEN_QKV_BIAS: return c->qkv_bias;
    case WHEN_O_BIAS: return c->o_bias;
    case WHEN_QK_NORM: return c->qk_norm;
    case WHEN_PROJ: return c->v.embed_dim && c->v.embed_dim != c->hidden;
    case WHEN_FINAL_NORM: return !c->v.no_final_norm;
    case WHEN_NORM_BIAS: return c->v.norm_bias;
    case WHEN_FINAL_NORM_BIAS: return c->v.norm_bias && !c->v.no_final_norm;
    case WHEN_MLP_BIAS: return c->v.mlp_bias;
    case WHEN_LEARNED_POS: return c->v.pos == POS_LEARNED;
    case WHEN_EXPERTS_PLAIN: return !c->v.experts_mxfp4;
    case WHEN_EXPERTS_MXFP4: return c->v.experts_mxfp4;
    default: return 1;
    }
}

int arch_stored_shape(const struct model_config *c, const struct tensor_desc *t, int64_t s[4])
{
    int64_t a = arch_dim(c, t->d0), b = t->d1 ? arch_dim(c, t->d1) : 0;
    if (!TR_IS_STACKED(t->role)) {
        s[0] = t->transposed ? b : a, s[1] = t->transposed ? a : b;
        return b ? 2 : 1;
    }
    s[0] = c->v.n_experts, s[1] = a, s[2] = b, s[3] = 16;
    if (TR_IS_BLOCKS(t->role) || TR_IS_SCALES(t->role)) {
        s[2] = b / 32;
        return TR_IS_BLOCKS(t->role) ? 4 : 3;
    }
    return b ? 3 : 2;
}

size_t arch_tensor_params(const struct model_config *c, const struct tensor_desc *t)
{
    size_t n = (size_t)arch_dim(c, t->d0) * (t->d1 ? (size_t)arch_dim(c, t->d1) : 1);
    if (TR_IS_SCALES(t->role))
        return 0;
    return TR_IS_STACKED(t->role) ? n * (size_t)c->v.n_experts : n;
}

int arch_present_layer(const struct model_config *c, const struct tensor_desc *t, int l)
{
    int moe = l >= 0 && l < MODEL_MAX_LAYERS_TYPED && c->v.layer_moe[l];
    if (t->when == WHEN_MOE_LAYER)
        return moe;
    if (t->when == WHEN_DENSE_LAYER)
        return !moe;
    return arch_present(c, t);
}

void arch_describe(const struct model_config *c, char *buf, size_t n)
{
    static const char *const norms[] = {"RMSNorm", "RMSNorm (1 + w)", "LayerNorm"};
    static const char *const resid[] = {"pre-norm", "parallel (attn + ffn of the same input)",
                                        "post-LN (norm after each residual add)",
                                        "sandwich (norms before and after attention and FFN)",
                                        "output norms (norm after attention and after FFN)"};
    static const char *const acts[] = {"SiLU", "GELU (erf)", "GELU (tanh)", "ReLU"};
    int rd = c->v.rope_dim ? c->v.rope_dim : c->head_dim;
    char pos[96];
    if (c->v.pos == POS_LEARNED)
        snprintf(pos, sizeof pos, "learned positions (offset %d)", c->v.pos_offset);
    else
        snprintf(pos, sizeof pos, "RoPE on %d of %d dims%s", rd, c->head_dim, c->v.local_rope ? ", local base on sliding layers" : "");
    int k = snprintf(buf, n, "%s%s, %s, %s residual, %s %s%s", norms[c->v.norm], c->v.norm_bias ? " with bias" : "",
                     pos, resid[c->v.residual], c->v.ffn_plain ? "MLP" : "gated MLP", acts[c->v.act],
                     c->v.mlp_bias ? " with biases" : "");
    if (c->v.attn_softcap > 0 && k < (int)n)
        k += snprintf(buf + k, n - k, ", attention soft-cap %g", c->v.attn_softcap);
    if (c->v.final_softcap > 0 && k < (int)n)
        k += snprintf(buf + k, n - k, ", logit soft-cap %g", c->v.final_softcap);
    if (c->v.embed_scale > 0 && k < (int)n)
        k += snprintf(buf + k, n - k, ", embeddings x %g", c->v.embed_scale);
    if (c->v.attn_sinks && k < (int)n)
        k += snprintf(buf + k, n - k, ", a learned sink logit per head in the softmax");
    if (c->v.n_experts && k < (int)n)
        k += snprintf(buf + k, n - k, ", MoE %d experts top-%d (%s)%s", c->v.n_experts, c->v.top_k,
                      c->v.router_topk_softmax ? "softmax over the chosen logits" : "softmax, then top-k",
                      c->v.glu_limit > 0 ? ", clamped SwiGLU with biases" : "");
    if (c->v.qk_norm_whole && k < (int)n)
        k += snprintf(buf + k, n - k, ", QK-norm over the whole projection");
    if (c->v.embed_dim && c->v.embed_dim != c->hidden && k < (int)n)
        snprintf(buf + k, n - k, ", project_in/out %d <-> %d", c->v.embed_dim, c->hidden);
}

void arch_json_int(json_t *j, const char *k, int v)
{
    json_object_set_new(j, k, json_integer(v));
}

void arch_write_rope(json_t *j, const struct rope_config *r, double partial)
{
    static const char *const types[] = {"default", "linear", "llama3", "yarn", "longrope"};
    json_t *rp = json_object();
    json_object_set_new(rp, "rope_type", json_string(types[r->type]));
    json_object_set_new(rp, "rope_theta", json_real(r->theta));
    if (r->type != ROPE_TYPE_DEFAULT)
        json_object_set_new(rp, "factor", json_real(r->factor));
    if (r->type == ROPE_TYPE_LLAMA3) {
        json_object_set_new(rp, "low_freq_factor", json_real(r->low_freq_factor));
        json_object_set_new(rp, "high_freq_factor", json_real(r->high_freq_factor));
    }
    if (r->type == ROPE_TYPE_LLAMA3 || r->type == ROPE_TYPE_YARN)
        json_object_set_new(rp, "original_max_position_embeddings", json_integer(r->original_max_pos));
    if (partial < 1)
        json_object_set_new(rp, "partial_rotary_factor", json_real(partial));
    json_object_set_new(j, "rope_parameters", rp);
}
