/* model/arch_gpt_oss.c — GPT-OSS: Llama-style attention with q/k/v/o biases, a learned
 * sink logit per head that joins every softmax (model/attention.c), layers alternating
 * sliding-window and full attention (`layer_types`), YaRN RoPE, and in every layer the MoE
 * block of model/moe.h: router with bias, top-k of the logits then softmax over the k,
 * experts with biases and the interleaved clamped SwiGLU (alpha 1.702, `swiglu_limit`).
 *
 * Experts are stored all in one tensor per layer and projection, as transformers 5.17's
 * save_pretrained writes them (mlp.experts.gate_up_proj [E, H, 2I] with gate/up
 * interleaved by column, down_proj [E, I, H]: [in, out], read transposed in place; biases
 * [E, 2I] / [E, H]), or, with quantization_config quant_method "mxfp4" (the released
 * checkpoints), as `gate_up_proj_blocks` / `_scales` and `down_proj_blocks` / `_scales`
 * (model/mxfp4.h), decoded slice by slice. */
#include <string.h>

#include <jansson.h>
#include "arch_moe.h"

static const struct tensor_desc gpt_oss_tensors[] = {
    ATTN_TENSORS,
    {TR_SINKS, L_("self_attn.sinks"), DIM_HEADS, DIM_NONE, WHEN_ALWAYS, 0, NULL},
    {TR_ROUTER, L_("mlp.router.weight"), DIM_EXPERTS, DIM_HIDDEN, WHEN_MOE_LAYER, 0, NULL},
    {TR_ROUTER_B, L_("mlp.router.bias"), DIM_EXPERTS, DIM_NONE, WHEN_MOE_LAYER, 0, NULL},
    {TR_EXPERTS_GATE_UP, L_("mlp.experts.gate_up_proj"), DIM_HIDDEN, DIM_2MOE_FFN, WHEN_EXPERTS_PLAIN, 1, NULL},
    {TR_EXPERTS_DOWN, L_("mlp.experts.down_proj"), DIM_MOE_FFN, DIM_HIDDEN, WHEN_EXPERTS_PLAIN, 1, NULL},
    {TR_EXPERTS_GATE_UP_BLOCKS, L_("mlp.experts.gate_up_proj_blocks"), DIM_2MOE_FFN, DIM_HIDDEN, WHEN_EXPERTS_MXFP4, 0, NULL},
    {TR_EXPERTS_GATE_UP_SCALES, L_("mlp.experts.gate_up_proj_scales"), DIM_2MOE_FFN, DIM_HIDDEN, WHEN_EXPERTS_MXFP4, 0, NULL},
    {TR_EXPERTS_DOWN_BLOCKS, L_("mlp.experts.down_proj_blocks"), DIM_HIDDEN, DIM_MOE_FFN, WHEN_EXPERTS_MXFP4, 0, NULL},
    {TR_EXPERTS_DOWN_SCALES, L_("mlp.experts.down_proj_scales"), DIM_HIDDEN, DIM_MOE_FFN, WHEN_EXPERTS_MXFP4, 0, NULL},
    {TR_EXPERTS_GATE_UP_B, L_("mlp.experts.gate_up_proj_bias"), DIM_2MOE_FFN, DIM_NONE, WHEN_ALWAYS, 0, NULL},
    {TR_EXPERTS_DOWN_B, L_("mlp.experts.down_proj_bias"), DIM_HIDDEN, DIM_NONE, WHEN_ALWAYS, 0, NULL},
};

/* GptOssConfig's defaults (configuration_gpt_oss.py) where Llama's differ, for keys a config leaves out. */
static void gpt_oss_defaults(struct model_config *c, struct cfg_reader *r)
{
    if (!cfg_field(r, NULL, "head_dim"))
        c->head_dim = 64;
    if (!cfg_field(r, NULL, "num_key_value_heads"))
        c->n_kv_heads = 8;
    if (!cfg_field(r, NULL, "rms_norm_eps"))
        c->rms_eps = 1e-5f;
}

/* RoPE: rope_parameters or rope_theta + rope_scaling as usual, but the base defaults to
 * 150000 and a config with neither gets GptOssConfig's YaRN (factor 32 over 4096, beta
 * 32/1, not truncated). */
static int gpt_oss_rope(struct model_config *c, struct cfg_reader *r)
{
    json_t *params = cfg_field(r, NULL, "rope_parameters"), *scaling = cfg_field(r, NULL, "rope_scaling");
    json_t *src = params ? params : scaling;
    double partial = 1;
    if (cfg_rope(r, src, params ? "rope_parameters" : "rope_scaling", "rope_theta", 150000.0, c, &c->rope, &partial))
        return -1;
    if (partial != 1)
        return cfg_fail(r, "partial_rotary_factor", "other than 1 is not supported");
    if (!src) {
        double theta = c->rope.theta;
        c->rope = (struct rope_config){.type = ROPE_TYPE_YARN, .theta = theta, .factor = 32, .original_max_pos = 4096,
                                       .beta_fast = 32, .beta_slow = 1, .truncate = 0};
    }
    c->v.rope_dim = c->head_dim;
    return 0;
}

/* quantization_config: absent (experts as floats) or quant_method "mxfp4". */
static int gpt_oss_quant(struct model_config *c, struct cfg_reader *r)
{
    json_t *q = cfg_field(r, NULL, "quantization_config");
    if (!q)
        return 0;
    static const char *const methods[] = {"mxfp4", NULL};
    int m;
    if (!json_is_object(q))
        return cfg_fail(r, "quantization_config", "must be an object");
    if (!cfg_field(r, q, "quant_method"))
        return cfg_fail(r, "quantization_config", "has no quant_method");
    if (cfg_enum(r, q, "quant_method", methods, -1, &m))
        return -1;
    c->v.experts_mxfp4 = 1;
    if (c->hidden % 32 || c->v.moe_ffn % 32)
        return cfg_fail(r, c->hidden % 32 ? "hidden_size" : "intermediate_size",
                        "must be a multiple of 32 for MXFP4 experts");
    return 0;
}

static int parse_gpt_oss(struct model_config *c, struct cfg_reader *r)
{
    int attn_bias;
    double limit;
    if (arch_parse_llama_shapes(c, r))
        return -1;
    gpt_oss_defaults(c, r);
    if (arch_parse_moe(c, r, "num_local_experts") || cfg_int(r, NULL, "sliding_window", 0, 128, &c->window) ||
        cfg_bool(r, NULL, "attention_bias", 1, &attn_bias) || cfg_num(r, NULL, "swiglu_limit", 0, 7.0, &limit) ||
        cfg_layer_types(r, c, 2) || gpt_oss_rope(c, r))
        return -1;
    if (!(limit > 0))
        return cfg_fail(r, "swiglu_limit", "must be positive");
    int sliding = 0;
    for (int l = 0; l < c->n_layers; l++)
        sliding |= c->v.layer_sliding[l];
    if (sliding && c->window < 1)
        return cfg_fail(r, "sliding_window", "must be positive when layer_types has sliding layers");
    c->v.moe_ffn = c->ffn;
    c->qkv_bias = c->o_bias = attn_bias;
    memset(c->v.layer_moe, 1, (size_t)c->n_layers);
    c->v.attn_sinks = 1;
    c->v.router_topk_softmax = 1;
    c->v.glu_limit = (float)limit;
    return gpt_oss_quant(c, r);
}


/* The keys parse reads, in the released checkpoints' spelling (rope_scaling + rope_theta). */
static void write_gpt_oss(json_t *j, const struct model_config *c)
{
    json_object_set_new(j, "architectures", json_pack("[s]", "GptOssForCausalLM"));
    arch_write_llama_shapes(j, c);
    arch_json_int(j, "num_local_experts", c->v.n_experts);
    arch_json_int(j, "num_experts_per_tok", c->v.top_k);
    arch_json_int(j, "sliding_window", c->window);
    json_object_set_new(j, "rms_norm_eps", json_real(c->rms_eps));
    json_object_set_new(j, "hidden_act", json_string("silu"));
    json_object_set_new(j, "attention_bias", json_boolean(c->qkv_bias));
    json_object_set_new(j, "tie_word_embeddings", json_boolean(c->tied));
    json_object_set_new(j, "swiglu_limit", json_real(c->v.glu_limit));
    json_t *lt = json_array();
    for (int l = 0; l < c->n_layers; l++)
        json_array_append_new(lt, json_string(c->v.layer_sliding[l] ? "sliding_attention" : "full_attention"));
    json_object_set_new(j, "layer_types", lt);
    json_object_set_new(j, "rope_theta", json_real(c->rope.theta));
    json_object_set_new(j, "rope_scaling", json_pack("{s:s,s:f,s:i,s:f,s:f,s:b}", "rope_type", "yarn", "factor",
                                                     c->rope.factor, "original_max_position_embeddings",
                                                     c->rope.original_max_pos, "beta_fast", c->rope.beta_fast,
                                                     "beta_slow", c->rope.beta_slow, "truncate", c->rope.truncate));
    if (c->v.experts_mxfp4)
        json_object_set_new(j, "quantization_config", json_pack("{s:s}", "quant_method", "mxfp4"));
}

static const char *const gpt_oss_types[] = {"gpt_oss", NULL};

const struct arch arch_gpt_oss = {
    gpt_oss_types,
    "RMSNorm, YaRN RoPE, pre-norm residual, q/k/v/o biases, a learned sink logit per head in the softmax, "
    "sliding/full layers (layer_types); MoE FFN in every layer (router bias, top-k of the logits, softmax over "
    "the k, experts with biases and clamped SwiGLU; floats or MXFP4)",
    "partial rotary; quantization methods other than mxfp4; hidden_act other than silu",
    parse_gpt_oss,
    gpt_oss_tensors,
    sizeof gpt_oss_tensors / sizeof gpt_oss_tensors[0],
    NULL,
    NULL,
    write_gpt_oss,
};
