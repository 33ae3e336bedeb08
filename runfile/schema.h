/* runfile/schema.h — the run file described once (docs/SCHEMA.md is its prose): every dataset
 * with its path, element type, dimensions, long_name, units and when it is present, and every
 * dimension scale. The writer (probes/) takes names, dimensions and attributes from here and
 * every reader (analyze/, plots/) names datasets through rf_path(); tests/test_schema.c checks
 * that docs/SCHEMA.md documents exactly these datasets and that a written file matches them.
 * A new dataset is one line of RF_DATASETS below (and its row in docs/SCHEMA.md). */
#ifndef SS_RUNFILE_SCHEMA_H
#define SS_RUNFILE_SCHEMA_H

#include <stddef.h>

/* Every dataset: X(ID, path, type, when, D(dims...), long_name, units); rf_id RF_<ID>. */
#define RF_DATASETS(X, D) \
    X(TOKENS, "/tokens", RF_I32, RF_ALWAYS, D("seq", "pos"), \
      "token ids fed to the model", "1") \
    X(TOKEN_TEXT, "/token_text", RF_TEXT, RF_WITH_TOKENIZER, D("seq", "pos"), \
      "decoded piece of each token", "1") \
    X(SUMMARY_FIRST_TOKEN_SHARE, "/summary/first_token_share", RF_F64, RF_ALWAYS, D(), \
      "F-Attn: mean over layers of first_token_share_layer", "probability") \
    X(SUMMARY_FIRST_TOKEN_SHARE_INCL0, "/summary/first_token_share_incl0", RF_F64, RF_ALWAYS, D(), \
      "F-Attn including query 0", "probability") \
    X(SUMMARY_MAX_ACTIVATION_MEAN, "/summary/max_activation_mean", RF_F64, RF_ALWAYS, D(), \
      "M-Act: mean over layers of max |x| of the layer output", "1") \
    X(SUMMARY_MAX_ACTIVATION, "/summary/max_activation", RF_F64, RF_ALWAYS, D(), \
      "max over layers of max |x| of the layer output", "1") \
    X(SUMMARY_GATE_MEAN, "/summary/gate_mean", RF_F64, RF_GATED, D(), \
      "mean gate value over all layers", "1") \
    X(SUMMARY_PERPLEXITY, "/summary/perplexity", RF_F64, RF_ALWAYS, D(), \
      "exp(mean NLL of the predicted positions)", "1") \
    X(SUMMARY_SINK_RATE, "/summary/sink_rate", RF_F64, RF_ALWAYS, D(), \
      "sink rate of key 0 at sink_epsilon", "1") \
    X(SUMMARY_N_TOKENS, "/summary/n_tokens", RF_F64, RF_ALWAYS, D(), \
      "tokens evaluated (seq x pos)", "1") \
    X(SUMMARY_ROUTER_ENTROPY_NORM, "/summary/router_entropy_norm", RF_F64, RF_MOE, D(), \
      "router_entropy_norm averaged over the MoE layers", "1") \
    X(SUMMARY_LEARNED_SINK_SHARE, "/summary/learned_sink_share", RF_F64, RF_SINKS, D(), \
      "learned_sink_share averaged over layers and heads", "probability") \
    X(FIRST_TOKEN_SHARE, "/stats/first_token_share", RF_F64, RF_ALWAYS, D("layer", "head"), \
      "mean attention on key 0 over queries q >= 1", "probability") \
    X(FIRST_TOKEN_SHARE_INCL0, "/stats/first_token_share_incl0", RF_F64, RF_ALWAYS, D("layer", "head"), \
      "mean attention on key 0 over all queries", "probability") \
    X(FIRST_TOKEN_SHARE_LAYER, "/stats/first_token_share_layer", RF_F64, RF_ALWAYS, D("layer"), \
      "first_token_share averaged over heads", "probability") \
    X(FIRST_TOKEN_PROFILE, "/stats/first_token_profile", RF_F64, RF_ALWAYS, D("layer", "pos"), \
      "attention on key 0 by query position, mean over heads", "probability") \
    X(SINK_ALPHA, "/stats/sink_alpha", RF_F64, RF_ALWAYS, D("layer", "head", "sink_key"), \
      "alpha_k: mean attention key k receives from queries q >= k", "probability") \
    X(SINK_RATE, "/stats/sink_rate", RF_F64, RF_ALWAYS, D("sink_key"), \
      "fraction of (sequence, layer, head) with alpha_k > sink_epsilon", "1") \
    X(ATTN_ENTROPY, "/stats/attn_entropy", RF_F64, RF_ALWAYS, D("layer", "head"), \
      "attention entropy over queries q >= 1", "nats") \
    X(TOP_KEY_POS, "/stats/top_key_pos", RF_I32, RF_ALWAYS, D("layer", "head", "rank"), \
      "key positions with the largest alpha_k, descending", "1") \
    X(TOP_KEY_ALPHA, "/stats/top_key_alpha", RF_F64, RF_ALWAYS, D("layer", "head", "rank"), \
      "alpha_k of top_key_pos", "probability") \
    X(ATTN_OUT_ABSMEAN, "/stats/attn_out_absmean", RF_F64, RF_ALWAYS, D("layer"), \
      "mean |Y| of the attention output before the gate", "1") \
    X(ATTN_GATED_ABSMEAN, "/stats/attn_gated_absmean", RF_F64, RF_ALWAYS, D("layer"), \
      "mean |Y| of the attention output after the gate", "1") \
    X(ATTN_OUT_FRAC_BELOW, "/stats/attn_out_frac_below", RF_F64, RF_ALWAYS, D("layer", "out_threshold"), \
      "fraction of |Y| before the gate below each threshold", "1") \
    X(ATTN_GATED_FRAC_BELOW, "/stats/attn_gated_frac_below", RF_F64, RF_ALWAYS, D("layer", "out_threshold"), \
      "fraction of |Y| after the gate below each threshold", "1") \
    X(ATTN_MEANGATE_FRAC_BELOW, "/stats/attn_meangate_frac_below", RF_F64, RF_GATED, D("layer", "out_threshold"), \
      "fraction of |Y| before the gate times the layer's mean gate of the sequence below each threshold", "1") \
    X(GATE_MEAN, "/stats/gate_mean", RF_F64, RF_GATED, D("layer", "head"), \
      "mean gate value", "1") \
    X(GATE_STD, "/stats/gate_std", RF_F64, RF_GATED, D("layer", "head"), \
      "standard deviation of gate values", "1") \
    X(GATE_MIN, "/stats/gate_min", RF_F64, RF_GATED, D("layer", "head"), \
      "minimum gate value", "1") \
    X(GATE_MAX, "/stats/gate_max", RF_F64, RF_GATED, D("layer", "head"), \
      "maximum gate value", "1") \
    X(GATE_HIST, "/stats/gate_hist", RF_F64, RF_GATED, D("layer", "gate_bin"), \
      "density of gate values on [0,1]", "1") \
    X(GATE_HIST_POOLED, "/stats/gate_hist_pooled", RF_F64, RF_GATED, D("gate_bin"), \
      "density of gate values on [0,1], all layers", "1") \
    X(GATE_FRAC_BELOW, "/stats/gate_frac_below", RF_F64, RF_GATED, D("layer", "gate_threshold"), \
      "fraction of gate values below each threshold", "1") \
    X(GATE_MEAN_POS0, "/stats/gate_mean_pos0", RF_F64, RF_GATED, D("layer"), \
      "mean gate value at position 0", "1") \
    X(GATE_MEAN_REST, "/stats/gate_mean_rest", RF_F64, RF_GATED, D("layer"), \
      "mean gate value at positions >= 1", "1") \
    X(GATE_MEAN_BY_POS, "/stats/gate_mean_by_pos", RF_F64, RF_GATED, D("layer", "pos"), \
      "mean gate value by position", "1") \
    X(ACT_MAX, "/stats/act_max", RF_F64, RF_ALWAYS, D("layer", "stream"), \
      "max |x| over the run", "1") \
    X(ACT_TOP_VALUE, "/stats/act_top_value", RF_F64, RF_ALWAYS, D("layer", "stream", "act_rank"), \
      "largest |x| over the run, descending", "1") \
    X(ACT_TOP_INDEX, "/stats/act_top_index", RF_I32, RF_ALWAYS, D("layer", "stream", "act_rank", "coord"), \
      "(seq, pos, dim) of act_top_value", "1") \
    X(ACT_MEDIAN, "/stats/act_median", RF_F64, RF_ALWAYS, D("layer", "stream"), \
      "median |x| of a sequence, mean over sequences", "1") \
    X(ACT_MAX_OVER_MEDIAN, "/stats/act_max_over_median", RF_F64, RF_ALWAYS, D("layer", "stream"), \
      "act_max / act_median", "1") \
    X(ACT_COUNT_100X, "/stats/act_count_100x", RF_F64, RF_ALWAYS, D("layer", "stream"), \
      "entries with |x| > 100 x the sequence median", "1") \
    X(ACT_COUNT_1000X, "/stats/act_count_1000x", RF_F64, RF_ALWAYS, D("layer", "stream"), \
      "entries with |x| > 1000 x the sequence median", "1") \
    X(ACT_COUNT_MASSIVE, "/stats/act_count_massive", RF_F64, RF_ALWAYS, D("layer", "stream"), \
      "entries with |x| > 100 and > 1000 x the sequence median", "1") \
    X(RESID_POS0_NORM_RATIO, "/stats/resid_pos0_norm_ratio", RF_F64, RF_ALWAYS, D("layer"), \
      "||h_0|| / mean_{t>=1} ||h_t|| of the layer output", "1") \
    X(VALUE_NORM, "/stats/value_norm", RF_F64, RF_ALWAYS, D("layer", "pos"), \
      "||v|| by position, mean over KV heads", "1") \
    X(MOE_LAYER, "/stats/moe_layer", RF_I32, RF_MOE, D("layer"), \
      "1: the layer's FFN is routed to experts, 0: dense", "1") \
    X(EXPERT_LOAD, "/stats/expert_load", RF_F64, RF_MOE, D("layer", "expert"), \
      "share of the layer's routed token slots taken by the expert (NaN: dense layer)", "1") \
    X(EXPERT_LOAD_POS0, "/stats/expert_load_pos0", RF_F64, RF_MOE, D("layer", "expert"), \
      "expert_load over position 0 of every sequence", "1") \
    X(EXPERT_LOAD_REST, "/stats/expert_load_rest", RF_F64, RF_MOE, D("layer", "expert"), \
      "expert_load over positions >= 1", "1") \
    X(EXPERT_WEIGHT_MEAN, "/stats/expert_weight_mean", RF_F64, RF_MOE, D("layer", "expert"), \
      "mean router weight over the tokens that chose the expert (NaN: never chosen)", "1") \
    X(ROUTER_ENTROPY, "/stats/router_entropy", RF_F64, RF_MOE, D("layer"), \
      "entropy of the router softmax over all experts, mean over tokens (NaN: dense layer)", "nats") \
    X(ROUTER_ENTROPY_NORM, "/stats/router_entropy_norm", RF_F64, RF_MOE, D("layer"), \
      "router_entropy / ln(n_experts)", "1") \
    X(LEARNED_SINK_SHARE, "/stats/learned_sink_share", RF_F64, RF_SINKS, D("layer", "head"), \
      "softmax share of the head's learned sink logit, mean over queries q >= 1", "probability") \
    X(LEARNED_SINK_SHARE_INCL0, "/stats/learned_sink_share_incl0", RF_F64, RF_SINKS, D("layer", "head"), \
      "softmax share of the head's learned sink logit, mean over all queries", "probability") \
    X(LEARNED_SINK_SHARE_LAYER, "/stats/learned_sink_share_layer", RF_F64, RF_SINKS, D("layer"), \
      "learned_sink_share averaged over heads", "probability") \
    X(NLL, "/stats/nll", RF_F32, RF_ALWAYS, D("seq", "pos"), \
      "negative log-likelihood of the next token (NaN at the last position)", "nats") \
    X(ATTENTION, "/attention/layer_LL", RF_DUMP_T, RF_DUMP, D("seq", "head", "query", "key"), \
      "attention probabilities (post-softmax)", "probability") \
    X(GATES, "/gates/layer_LL", RF_DUMP_T, RF_DUMP, D("seq", "pos", "head", "gate_dim"), \
      "sigmoid gate values applied", "1") \
    X(HIDDEN, "/hidden/layer_LL", RF_DUMP_T, RF_DUMP, D("seq", "pos", "hidden_dim"), \
      "residual stream leaving the decoder layer", "1") \
    X(LOGITS, "/logits", RF_DUMP_T, RF_DUMP, D("seq", "pos", "vocab"), \
      "logits", "1") \

enum rf_id {
#define RF_ENUM(id, path, type, when, dims, long_name, units) RF_##id,
#define RF_NODIMS(...)
    RF_DATASETS(RF_ENUM, RF_NODIMS)
#undef RF_ENUM
#undef RF_NODIMS
    RF_N_DATASETS,
};

enum rf_type {
    RF_F64,    /* float64 */
    RF_F32,    /* float32 */
    RF_I32,    /* int32 (statistics whose values are exact integers) */
    RF_TEXT,   /* fixed-length UTF-8 strings of H5W_TEXT_BYTES (runfile/h5write.h) */
    RF_DUMP_T, /* float32, or float16 with --dump-dtype f16 */
};

enum rf_when {
    RF_ALWAYS,         /* every run file */
    RF_GATED,          /* gated checkpoints only (gate_kind != none) */
    RF_MOE,            /* mixture-of-experts checkpoints only (n_experts > 0) */
    RF_SINKS,          /* learned-sink checkpoints only (gpt_oss) */
    RF_WITH_TOKENIZER, /* runs with a tokenizer (not --token-ids without one) */
    RF_DUMP,           /* with --dump; LL in the path is the layer (rf_layer_path) */
};

struct rf_dataset {
    const char *path;      /* "/stats/first_token_share"; per-layer dumps end in "layer_LL" */
    enum rf_type type;
    int ndim;              /* 0 = scalar */
    const char *dims[4];   /* dimension names = the scales at the root ("/layer") */
    const char *long_name, *units;
    enum rf_when when;
};

extern const struct rf_dataset rf_schema[RF_N_DATASETS];

static inline const char *rf_path(enum rf_id id) { return rf_schema[id].path; }
/* The entry whose path is path (per-layer dumps: "/attention/layer_07" finds RF_ATTENTION), or NULL. */
const struct rf_dataset *rf_schema_find(const char *path);
/* Path of layer l's dump (RF_ATTENTION, RF_GATES, RF_HIDDEN) in a run of n_layers layers:
 * LL zero-padded to two digits, three from 100 layers. */
void rf_layer_path(enum rf_id id, int l, int n_layers, char *buf, size_t n);

/* Dimension scales: 1-D datasets at the root named after their dimension. */
struct rf_dim {
    const char *name, *long_name;
    const char *flag_meanings; /* names of the values of a categorical axis, or NULL */
};
extern const struct rf_dim rf_dims[];
extern const int rf_n_dims;
const struct rf_dim *rf_dim_find(const char *name);

#endif
