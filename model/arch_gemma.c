/* model/arch_gemma.c — Gemma 2 and Gemma 3 (text): embeddings x sqrt(hidden),
 * RMSNorm x (1 + w), four norms per layer (before and after attention and MLP),
 * scores scaled by query_pre_attn_scalar^-1/2, GELU-tanh gated MLP, layers sliding
 * (window) or full by `layer_types` (or the older pattern). Gemma 2: attention-logit
 * and final-logit soft-capping. Gemma 3: per-head QK-norm (1 + w); sliding layers use
 * RoPE base rope_local_base_freq unscaled, full layers rope_theta with the scaling. */
#include <math.h>
#include <string.h>

#include <jansson.h>
#include "arch.h"
#include "config_read.h"

/* One table, two spellings: Gemma2/3ForCausalLM ("model.") and the language model
 * inside Gemma3ForConditionalGeneration ("model.language_model."). */
#define GEMMA_TENSORS(P, HEAD, HEAD_ALT)                                                                       \
    {TR_EMBED, P "embed_tokens.weight", DIM_VOCAB, DIM_HIDDEN, WHEN_ALWAYS, 0, NULL},                          \
    {TR_FINAL_NORM, P "norm.weight", DIM_HIDDEN, DIM_NONE, WHEN_ALWAYS, 0, NULL},                              \
    {TR_LM_HEAD, HEAD, DIM_VOCAB, DIM_HIDDEN, WHEN_UNTIED, 0, HEAD_ALT},                                       \
    {TR_ATTN_NORM, P "layers.%d.input_layernorm.weight", DIM_HIDDEN, DIM_NONE, WHEN_ALWAYS, 0, NULL},          \
    {TR_Q, P "layers.%d.self_attn.q_proj.weight", DIM_Q, DIM_HIDDEN, WHEN_ALWAYS, 0, NULL},                    \
    {TR_K, P "layers.%d.self_attn.k_proj.weight", DIM_KV, DIM_HIDDEN, WHEN_ALWAYS, 0, NULL},                   \
    {TR_V, P "layers.%d.self_attn.v_proj.weight", DIM_KV, DIM_HIDDEN, WHEN_ALWAYS, 0, NULL},                   \
    {TR_O, P "layers.%d.self_attn.o_proj.weight", DIM_HIDDEN, DIM_ATTN, WHEN_ALWAYS, 0, NULL},                 \
    {TR_Q_NORM, P "layers.%d.self_attn.q_norm.weight", DIM_QNORM, DIM_NONE, WHEN_QK_NORM, 0, NULL},            \
    {TR_K_NORM, P "layers.%d.self_attn.k_norm.weight", DIM_KNORM, DIM_NONE, WHEN_QK_NORM, 0, NULL},            \
    {TR_ATTN_POST_NORM, P "layers.%d.post_attention_layernorm.weight", DIM_HIDDEN, DIM_NONE, WHEN_ALWAYS, 0,   \
     NULL},                                                                                                    \
    {TR_FFN_NORM, P "layers.%d.pre_feedforward_layernorm.weight", DIM_HIDDEN, DIM_NONE, WHEN_ALWAYS, 0, NULL}, \
    {TR_GATE, P "layers.%d.mlp.gate_proj.weight", DIM_FFN, DIM_HIDDEN, WHEN_ALWAYS, 0, NULL},                  \
    {TR_UP, P "layers.%d.mlp.up_proj.weight", DIM_FFN, DIM_HIDDEN, WHEN_ALWAYS, 0, NULL},                      \
    {TR_DOWN, P "layers.%d.mlp.down_proj.weight", DIM_HIDDEN, DIM_FFN, WHEN_ALWAYS, 0, NULL},                  \
    {TR_FFN_POST_NORM, P "layers.%d.post_feedforward_layernorm.weight", DIM_HIDDEN, DIM_NONE, WHEN_ALWAYS, 0,  \
     NULL},

static const struct tensor_desc tensors[] = {GEMMA_TENSORS("model.", "lm_head.weight", NULL)};
/* Gemma3ForConditionalGeneration's module names are "model.language_model.*" +
 * "lm_head.weight" (a state_dict saved as is); its save_pretrained (transformers 5.17,
 * checked: the "gemma3" -> "llava" conversion mapping, reversed on save) and the Hub's
 * original files write "language_model.model.*" (+ "language_model.lm_head.weight" when
 * untied), read through prefix_alias. */
static const struct tensor_desc tensors_mm[] = {
    GEMMA_TENSORS("model.language_model.", "lm_head.weight", "language_model.lm_head.weight")};

/* What Gemma 2 and 3 share; `pattern` is the older every-Nth-layer-is-full rule. */
static int parse_common(struct model_config *c, struct cfg_reader *r, int pattern)
{
    int bias, tied;
    double qpas, acap, fcap;
    const char *act_key = cfg_field(r, NULL, "hidden_activation") ? "hidden_activation" : "hidden_act";
    if (arch_parse_llama_shapes(c, r) || cfg_bool(r, NULL, "tie_word_embeddings", 1, &tied) ||
        cfg_bool(r, NULL, "attention_bias", 0, &bias) || cfg_act(r, act_key, 0, ACT_GELU_TANH, &c->v.act) ||
        cfg_num(r, NULL, "query_pre_attn_scalar", 0, 256, &qpas) ||
        cfg_num(r, NULL, "attn_logit_softcapping", 0, 0, &acap) ||
        cfg_num(r, NULL, "final_logit_softcapping", 0, 0, &fcap) ||
        cfg_int(r, NULL, "sliding_window", 0, 4096, &c->window) ||
        cfg_int(r, NULL, "sliding_window_pattern", 0, pattern, &pattern) || cfg_layer_types(r, c, pattern))
        return -1;
    if (bias)
        return cfg_fail(r, "attention_bias", "true is not supported");
    if (!(qpas > 0))
        return cfg_fail(r, "query_pre_attn_scalar", "must be positive");
    if (acap < 0 || fcap < 0)
        return cfg_fail(r, acap < 0 ? "attn_logit_softcapping" : "final_logit_softcapping", "must not be negative");
    if (c->window < 1)
        return cfg_fail(r, "sliding_window", "must be positive");
    c->tied = tied;
    c->v.norm = NORM_RMS_OFFSET;
    c->v.residual = RESID_SANDWICH;
    c->v.attn_scale = (float)pow(qpas, -0.5);
    c->v.attn_softcap = (float)acap;
    c->v.final_softcap = (float)fcap;
    c->v.embed_scale = (float)sqrt((double)c->hidden); /* transformers: hidden_size**0.5 as a float32 tensor */
    return 0;
}

static int parse_gemma2(struct model_config *c, struct cfg_reader *r)
{
    if (parse_common(c, r, 2) || cfg_rope_standard(r, c))
        return -1;
    if (c->v.rope_dim != c->head_dim)
        return cfg_fail(r, "partial_rotary_factor", "other than 1 is not supported");
    return 0;
}

/* v5: rope_parameters {"full_attention": {...}, "sliding_attention": {...}};
 * older: rope_theta + rope_scaling (full layers), rope_local_base_freq (sliding). */
static int parse_gemma3(struct model_config *c, struct cfg_reader *r)
{
    if (parse_common(c, r, 6))
        return -1;
    json_t *params = cfg_field(r, NULL, "rope_parameters");
    json_t *full = cfg_field(r, params, "full_attention"), *slide = cfg_field(r, params, "sliding_attention");
    if (params && full) {
        if (cfg_rope(r, full, "rope_parameters", "rope_theta", 1e6, c, &c->rope, NULL) ||
            cfg_rope(r, slide, "rope_parameters", "rope_local_base_freq", 10000.0, c, &c->v.rope_local, NULL))
            return -1;
    } else {
        double local;
        if (cfg_rope(r, params ? params : cfg_field(r, NULL, "rope_scaling"), params ? "rope_parameters" : "rope_scaling",
                     "rope_theta", 1e6, c, &c->rope, NULL) ||
            cfg_num(r, NULL, "rope_local_base_freq", 0, 10000.0, &local))
            return -1;
        if (local <= 1)
            return cfg_fail(r, "rope_local_base_freq", "must be greater than 1");
        c->v.rope_local = (struct rope_config){.type = ROPE_TYPE_DEFAULT, .theta = local};
    }
    c->qk_norm = 1;
    c->v.local_rope = 1;
    return 0;
}

/* model_type "gemma3" (Gemma3ForConditionalGeneration): the language model's keys
 * are under `text_config`, over Gemma3TextConfig's defaults for the keys absent
 * there (the Hub's files give only a few); the vision settings are not read. */
static int parse_gemma3_mm(struct model_config *c, struct cfg_reader *r)
{
    json_t *text = cfg_field(r, NULL, "text_config");
    if (!text)
        return cfg_fail(r, "text_config", "is missing (a gemma3 config nests the language model's settings there)");
    if (!json_is_object(text))
        return cfg_fail(r, "text_config", "must be an object");
    json_t *merged = json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:f, s:s, s:i, s:i}", "vocab_size",
                               262208, "hidden_size", 2304, "intermediate_size", 9216, "num_hidden_layers", 26,
                               "num_attention_heads", 8, "num_key_value_heads", 4, "head_dim", 256,
                               "max_position_embeddings", 131072, "rms_norm_eps", 1e-6, "hidden_activation",
                               "gelu_pytorch_tanh", "query_pre_attn_scalar", 256, "sliding_window", 4096);
    if (!merged || json_object_update(merged, text)) {
        json_decref(merged);
        return cfg_fail(r, "text_config", "could not be read (out of memory)");
    }
    char path[600];
    snprintf(path, sizeof path, "%s (text_config)", r->path);
    json_t *root = r->root;
    const char *top = r->path;
    r->root = merged, r->path = path;
    int rc = parse_gemma3(c, r);
    r->root = root, r->path = top;
    json_decref(merged);
    return rc;
}

static void write_config(json_t *j, const struct model_config *c)
{
    json_object_set_new(j, "architectures", json_pack("[s]", "Gemma2ForCausalLM"));
    arch_write_llama_shapes(j, c);
    arch_json_int(j, "sliding_window", c->window);
    json_object_set_new(j, "rms_norm_eps", json_real(c->rms_eps));
    json_object_set_new(j, "hidden_activation", json_string("gelu_pytorch_tanh"));
    double qpas = 1.0 / ((double)c->v.attn_scale * c->v.attn_scale); /* back from the float32 scale */
    json_object_set_new(j, "query_pre_attn_scalar", json_real(fabs(qpas - round(qpas)) < 1e-3 ? round(qpas) : qpas));
    json_object_set_new(j, "attn_logit_softcapping", json_real(c->v.attn_softcap));
    json_object_set_new(j, "final_logit_softcapping", json_real(c->v.final_softcap));
    json_object_set_new(j, "tie_word_embeddings", json_boolean(c->tied));
    json_t *lt = json_array();
    for (int l = 0; l < c->n_layers; l++)
        json_array_append_new(lt, json_string(c->v.layer_sliding[l] ? "sliding_attention" : "full_attention"));
    json_object_set_new(j, "layer_types", lt);
    arch_write_rope(j, &c->rope, 1);
}

static const char *const types2[] = {"gemma2", NULL};
static const char *const types3[] = {"gemma3_text", NULL};
static const char *const types3mm[] = {"gemma3", NULL};
/* Both spellings of the vision tower and projector (see tensors_mm; 5.17 writes
 * "vision_tower.embeddings.*", older files "vision_tower.vision_model.*"). */
static const char *const vision_prefixes[] = {"model.vision_tower.", "model.multi_modal_projector.", "vision_tower.",
                                              "multi_modal_projector.", NULL};

const struct arch arch_gemma2 = {
    types2,
    "RMSNorm (1 + w) before and after attention and MLP, embeddings x sqrt(hidden), RoPE, GELU-tanh gated MLP, "
    "sliding/full layers, attention and final soft-capping",
    "attention_bias true, partial rotary",
    parse_gemma2,
    tensors,
    sizeof tensors / sizeof tensors[0],
    NULL,
    NULL,
    write_config,
};

const struct arch arch_gemma3 = {
    types3,
    "Gemma 2's layer plus per-head QK-norm (1 + w); sliding layers use rope_local_base_freq, full layers rope_theta "
    "with the scaling",
    "attention_bias true",
    parse_gemma3,
    tensors,
    sizeof tensors / sizeof tensors[0],
    NULL,
    NULL,
};

/* The text part of a multimodal Gemma 3 checkpoint: the same layers; the vision tower
 * and multi-modal projector tensors are ignored by name prefix (sinkscope feeds text
 * only), any other tensor is still refused. */
const struct arch arch_gemma3_mm = {
    .model_types = types3mm,
    .summary = "Gemma 3 text layers (text_config) of a multimodal checkpoint; vision tower and projector ignored",
    .refuses = "attention_bias true; a gemma3 config without text_config",
    .parse = parse_gemma3_mm,
    .tensors = tensors_mm,
    .n_tensors = sizeof tensors_mm / sizeof tensors_mm[0],
    .optional_prefix = "model.language_model.",
    .prefix_alias = "language_model.model.",
    .ignored_prefixes = vision_prefixes,
};
