/* model/arch_llama.c — Llama, Mistral, Qwen2, Qwen3 and the paper's gated Qwen3:
 * RMSNorm, RoPE, pre-norm residual, SwiGLU, separate q/k/v (q_proj with the gate
 * logits fused per KV group when gated). */
#include <string.h>

#include <jansson.h>
#include "arch.h"
#include "config_read.h"

#define L_(s) "model.layers.%d." s
static const struct tensor_desc tensors[] = {
    {TR_EMBED, "model.embed_tokens.weight", DIM_VOCAB, DIM_HIDDEN, WHEN_ALWAYS, 0},
    {TR_FINAL_NORM, "model.norm.weight", DIM_HIDDEN, DIM_NONE, WHEN_ALWAYS, 0},
    {TR_LM_HEAD, "lm_head.weight", DIM_VOCAB, DIM_HIDDEN, WHEN_UNTIED, 0},
    {TR_ATTN_NORM, L_("input_layernorm.weight"), DIM_HIDDEN, DIM_NONE, WHEN_ALWAYS, 0},
    {TR_Q, L_("self_attn.q_proj.weight"), DIM_Q, DIM_HIDDEN, WHEN_ALWAYS, 0},
    {TR_K, L_("self_attn.k_proj.weight"), DIM_KV, DIM_HIDDEN, WHEN_ALWAYS, 0},
    {TR_V, L_("self_attn.v_proj.weight"), DIM_KV, DIM_HIDDEN, WHEN_ALWAYS, 0},
    {TR_O, L_("self_attn.o_proj.weight"), DIM_HIDDEN, DIM_ATTN, WHEN_ALWAYS, 0},
    {TR_Q_B, L_("self_attn.q_proj.bias"), DIM_Q, DIM_NONE, WHEN_QKV_BIAS, 0},
    {TR_K_B, L_("self_attn.k_proj.bias"), DIM_KV, DIM_NONE, WHEN_QKV_BIAS, 0},
    {TR_V_B, L_("self_attn.v_proj.bias"), DIM_KV, DIM_NONE, WHEN_QKV_BIAS, 0},
    {TR_O_B, L_("self_attn.o_proj.bias"), DIM_HIDDEN, DIM_NONE, WHEN_O_BIAS, 0},
    {TR_Q_NORM, L_("self_attn.q_norm.weight"), DIM_QNORM, DIM_NONE, WHEN_QK_NORM, 0},
    {TR_K_NORM, L_("self_attn.k_norm.weight"), DIM_KNORM, DIM_NONE, WHEN_QK_NORM, 0},
    {TR_FFN_NORM, L_("post_attention_layernorm.weight"), DIM_HIDDEN, DIM_NONE, WHEN_ALWAYS, 0},
    {TR_GATE, L_("mlp.gate_proj.weight"), DIM_FFN, DIM_HIDDEN, WHEN_ALWAYS, 0},
    {TR_UP, L_("mlp.up_proj.weight"), DIM_FFN, DIM_HIDDEN, WHEN_ALWAYS, 0},
    {TR_DOWN, L_("mlp.down_proj.weight"), DIM_HIDDEN, DIM_FFN, WHEN_ALWAYS, 0},
};

/* model/arch.h */
int arch_parse_llama_shapes(struct model_config *c, struct cfg_reader *r)
{
    double eps;
    int tied;
    if (cfg_int(r, NULL, "num_hidden_layers", 1, 0, &c->n_layers) || cfg_int(r, NULL, "hidden_size", 1, 0, &c->hidden) ||
        cfg_int(r, NULL, "num_attention_heads", 1, 0, &c->n_heads) ||
        cfg_int(r, NULL, "num_key_value_heads", 0, c->n_heads, &c->n_kv_heads) ||
        cfg_int(r, NULL, "intermediate_size", 1, 0, &c->ffn) || cfg_int(r, NULL, "vocab_size", 1, 0, &c->vocab) ||
        cfg_int(r, NULL, "max_position_embeddings", 0, 2048, &c->max_pos) ||
        cfg_num(r, NULL, "rms_norm_eps", 0, 1e-6, &eps) ||
        cfg_int(r, NULL, "head_dim", 0, c->n_heads ? c->hidden / c->n_heads : 0, &c->head_dim) ||
        cfg_bool(r, NULL, "tie_word_embeddings", 0, &tied))
        return -1;
    c->rms_eps = (float)eps;
    c->tied = tied;
    return 0;
}

/* model/arch.h */
void arch_write_llama_shapes(json_t *j, const struct model_config *c)
{
    arch_json_int(j, "num_hidden_layers", c->n_layers);
    arch_json_int(j, "hidden_size", c->hidden);
    arch_json_int(j, "num_attention_heads", c->n_heads);
    arch_json_int(j, "num_key_value_heads", c->n_kv_heads);
    arch_json_int(j, "head_dim", c->head_dim);
    arch_json_int(j, "intermediate_size", c->ffn);
    arch_json_int(j, "vocab_size", c->vocab);
    arch_json_int(j, "max_position_embeddings", c->max_pos);
}

static int parse(struct model_config *c, struct cfg_reader *r)
{
    int qwen3 = !strcmp(c->model_type, "qwen3"), qwen2 = !strcmp(c->model_type, "qwen2");
    int hw = 0, ew = 0, attn_bias = 0, qkv_bias = 0, mlp_bias = 0, sw = 0;
    enum act_kind act;
    if (arch_parse_llama_shapes(c, r) || cfg_bool(r, NULL, "use_qk_norm", qwen3, &c->qk_norm) ||
        cfg_bool(r, NULL, "headwise_attn_output_gate", 0, &hw) ||
        cfg_bool(r, NULL, "elementwise_attn_output_gate", 0, &ew) ||
        cfg_bool(r, NULL, "attention_bias", 0, &attn_bias) || cfg_bool(r, NULL, "qkv_bias", 0, &qkv_bias) ||
        cfg_bool(r, NULL, "mlp_bias", 0, &mlp_bias) || cfg_bool(r, NULL, "use_sliding_window", 0, &sw))
        return -1;
    if (hw && ew)
        return cfg_fail(r, "elementwise_attn_output_gate", "and headwise_attn_output_gate cannot both be true");
    if (mlp_bias)
        return cfg_fail(r, "mlp_bias", "true is not supported");
    if (sw && strcmp(c->model_type, "mistral"))
        return cfg_fail(r, "use_sliding_window", "true is not supported");
    if (cfg_act(r, "hidden_act", 0, ACT_SILU, &act))
        return -1;
    if (act != ACT_SILU)
        return cfg_fail(r, "hidden_act", "must be \"silu\"");
    if (!strcmp(c->model_type, "mistral") && cfg_int(r, NULL, "sliding_window", 0, 0, &c->sliding_window))
        return -1;
    c->gate = hw ? GATE_KIND_HEADWISE : ew ? GATE_KIND_ELEMENTWISE : GATE_KIND_NONE;
    c->qkv_bias = qwen2 || attn_bias || qkv_bias; /* Qwen2: q/k/v biases always */
    c->o_bias = attn_bias || qkv_bias;            /* paper's qkv_bias, llama's attention_bias: o_proj too */
    if (cfg_rope_standard(r, c))
        return -1;
    if (c->v.rope_dim != c->head_dim)
        return cfg_fail(r, "partial_rotary_factor", "other than 1 is not supported");
    return 0;
}

/* The keys parse reads, as transformers 5 writes them. */
static void write_config(json_t *j, const struct model_config *c)
{
    const char *cls = !strcmp(c->model_type, "qwen3")     ? "Qwen3ForCausalLM"
                      : !strcmp(c->model_type, "qwen2")   ? "Qwen2ForCausalLM"
                      : !strcmp(c->model_type, "mistral") ? "MistralForCausalLM" : "LlamaForCausalLM";
    json_object_set_new(j, "architectures", json_pack("[s]", cls));
    arch_write_llama_shapes(j, c);
    json_object_set_new(j, "rms_norm_eps", json_real(c->rms_eps));
    json_object_set_new(j, "hidden_act", json_string("silu"));
    json_object_set_new(j, "tie_word_embeddings", json_boolean(c->tied));
    json_object_set_new(j, "attention_bias", json_boolean(0));
    arch_write_rope(j, &c->rope, 1);
    if (!strcmp(c->model_type, "qwen3")) { /* the paper's flags (configuration_qwen3.py) */
        json_object_set_new(j, "use_qk_norm", json_boolean(c->qk_norm));
        json_object_set_new(j, "qkv_bias", json_boolean(0));
        json_object_set_new(j, "headwise_attn_output_gate", json_boolean(c->gate == GATE_KIND_HEADWISE));
        json_object_set_new(j, "elementwise_attn_output_gate", json_boolean(c->gate == GATE_KIND_ELEMENTWISE));
    }
}

static const char *const types[] = {"qwen3", "qwen2", "llama", "mistral", NULL};

const struct arch arch_llama = {
    types,
    "RMSNorm, RoPE, pre-norm residual, SwiGLU; optional QK-norm (per head), q/k/v biases, the paper's output gate",
    "mlp_bias true; use_sliding_window true outside mistral; hidden_act other than silu; partial rotary",
    parse,
    tensors,
    sizeof tensors / sizeof tensors[0],
    NULL,
    NULL,
    write_config,
};
