/* runfile/schema.c — the tables of runfile/schema.h, in the order of docs/SCHEMA.md. */
#include "schema.h"

#include <stdio.h>
#include <string.h>

const struct rf_dataset rf_schema[RF_N_DATASETS] = {
    [RF_TOKENS] = {"/tokens", RF_I32, 2, {"seq", "pos"},
        "token ids fed to the model", "1", RF_ALWAYS},
    [RF_TOKEN_TEXT] = {"/token_text", RF_TEXT, 2, {"seq", "pos"},
        "decoded piece of each token", "1", RF_WITH_TOKENIZER},
    [RF_SUMMARY_FIRST_TOKEN_SHARE] = {"/summary/first_token_share", RF_F64, 0, {NULL},
        "F-Attn: mean over layers of first_token_share_layer", "probability", RF_ALWAYS},
    [RF_SUMMARY_FIRST_TOKEN_SHARE_INCL0] = {"/summary/first_token_share_incl0", RF_F64, 0, {NULL},
        "F-Attn including query 0", "probability", RF_ALWAYS},
    [RF_SUMMARY_MAX_ACTIVATION_MEAN] = {"/summary/max_activation_mean", RF_F64, 0, {NULL},
        "M-Act: mean over layers of max |x| of the layer output", "1", RF_ALWAYS},
    [RF_SUMMARY_MAX_ACTIVATION] = {"/summary/max_activation", RF_F64, 0, {NULL},
        "max over layers of max |x| of the layer output", "1", RF_ALWAYS},
    [RF_SUMMARY_GATE_MEAN] = {"/summary/gate_mean", RF_F64, 0, {NULL},
        "mean gate value over all layers", "1", RF_GATED},
    [RF_SUMMARY_PERPLEXITY] = {"/summary/perplexity", RF_F64, 0, {NULL},
        "exp(mean NLL of the predicted positions)", "1", RF_ALWAYS},
    [RF_SUMMARY_SINK_RATE] = {"/summary/sink_rate", RF_F64, 0, {NULL},
        "sink rate of key 0 at sink_epsilon", "1", RF_ALWAYS},
    [RF_SUMMARY_N_TOKENS] = {"/summary/n_tokens", RF_F64, 0, {NULL},
        "tokens evaluated (seq x pos)", "1", RF_ALWAYS},
    [RF_FIRST_TOKEN_SHARE] = {"/stats/first_token_share", RF_F64, 2, {"layer", "head"},
        "mean attention on key 0 over queries q >= 1", "probability", RF_ALWAYS},
    [RF_FIRST_TOKEN_SHARE_INCL0] = {"/stats/first_token_share_incl0", RF_F64, 2, {"layer", "head"},
        "mean attention on key 0 over all queries", "probability", RF_ALWAYS},
    [RF_FIRST_TOKEN_SHARE_LAYER] = {"/stats/first_token_share_layer", RF_F64, 1, {"layer"},
        "first_token_share averaged over heads", "probability", RF_ALWAYS},
    [RF_FIRST_TOKEN_PROFILE] = {"/stats/first_token_profile", RF_F64, 2, {"layer", "pos"},
        "attention on key 0 by query position, mean over heads", "probability", RF_ALWAYS},
    [RF_SINK_ALPHA] = {"/stats/sink_alpha", RF_F64, 3, {"layer", "head", "sink_key"},
        "alpha_k: mean attention key k receives from queries q >= k", "probability", RF_ALWAYS},
    [RF_SINK_RATE] = {"/stats/sink_rate", RF_F64, 1, {"sink_key"},
        "fraction of (sequence, layer, head) with alpha_k > sink_epsilon", "1", RF_ALWAYS},
    [RF_ATTN_ENTROPY] = {"/stats/attn_entropy", RF_F64, 2, {"layer", "head"},
        "attention entropy over queries q >= 1", "nats", RF_ALWAYS},
    [RF_TOP_KEY_POS] = {"/stats/top_key_pos", RF_I32, 3, {"layer", "head", "rank"},
        "key positions with the largest alpha_k, descending", "1", RF_ALWAYS},
    [RF_TOP_KEY_ALPHA] = {"/stats/top_key_alpha", RF_F64, 3, {"layer", "head", "rank"},
        "alpha_k of top_key_pos", "probability", RF_ALWAYS},
    [RF_ATTN_OUT_ABSMEAN] = {"/stats/attn_out_absmean", RF_F64, 1, {"layer"},
        "mean |Y| of the attention output before the gate", "1", RF_ALWAYS},
    [RF_ATTN_GATED_ABSMEAN] = {"/stats/attn_gated_absmean", RF_F64, 1, {"layer"},
        "mean |Y| of the attention output after the gate", "1", RF_ALWAYS},
    [RF_ATTN_OUT_FRAC_BELOW] = {"/stats/attn_out_frac_below", RF_F64, 2, {"layer", "out_threshold"},
        "fraction of |Y| before the gate below each threshold", "1", RF_ALWAYS},
    [RF_ATTN_GATED_FRAC_BELOW] = {"/stats/attn_gated_frac_below", RF_F64, 2, {"layer", "out_threshold"},
        "fraction of |Y| after the gate below each threshold", "1", RF_ALWAYS},
    [RF_ATTN_MEANGATE_FRAC_BELOW] = {"/stats/attn_meangate_frac_below", RF_F64, 2, {"layer", "out_threshold"},
        "fraction of |Y| before the gate times the layer's mean gate of the sequence below each threshold", "1", RF_GATED},
    [RF_GATE_MEAN] = {"/stats/gate_mean", RF_F64, 2, {"layer", "head"},
        "mean gate value", "1", RF_GATED},
    [RF_GATE_STD] = {"/stats/gate_std", RF_F64, 2, {"layer", "head"},
        "standard deviation of gate values", "1", RF_GATED},
    [RF_GATE_MIN] = {"/stats/gate_min", RF_F64, 2, {"layer", "head"},
        "minimum gate value", "1", RF_GATED},
    [RF_GATE_MAX] = {"/stats/gate_max", RF_F64, 2, {"layer", "head"},
        "maximum gate value", "1", RF_GATED},
    [RF_GATE_HIST] = {"/stats/gate_hist", RF_F64, 2, {"layer", "gate_bin"},
        "density of gate values on [0,1]", "1", RF_GATED},
    [RF_GATE_HIST_POOLED] = {"/stats/gate_hist_pooled", RF_F64, 1, {"gate_bin"},
        "density of gate values on [0,1], all layers", "1", RF_GATED},
    [RF_GATE_FRAC_BELOW] = {"/stats/gate_frac_below", RF_F64, 2, {"layer", "gate_threshold"},
        "fraction of gate values below each threshold", "1", RF_GATED},
    [RF_GATE_MEAN_POS0] = {"/stats/gate_mean_pos0", RF_F64, 1, {"layer"},
        "mean gate value at position 0", "1", RF_GATED},
    [RF_GATE_MEAN_REST] = {"/stats/gate_mean_rest", RF_F64, 1, {"layer"},
        "mean gate value at positions >= 1", "1", RF_GATED},
    [RF_GATE_MEAN_BY_POS] = {"/stats/gate_mean_by_pos", RF_F64, 2, {"layer", "pos"},
        "mean gate value by position", "1", RF_GATED},
    [RF_ACT_MAX] = {"/stats/act_max", RF_F64, 2, {"layer", "stream"},
        "max |x| over the run", "1", RF_ALWAYS},
    [RF_ACT_TOP_VALUE] = {"/stats/act_top_value", RF_F64, 3, {"layer", "stream", "act_rank"},
        "largest |x| over the run, descending", "1", RF_ALWAYS},
    [RF_ACT_TOP_INDEX] = {"/stats/act_top_index", RF_I32, 4, {"layer", "stream", "act_rank", "coord"},
        "(seq, pos, dim) of act_top_value", "1", RF_ALWAYS},
    [RF_ACT_MEDIAN] = {"/stats/act_median", RF_F64, 2, {"layer", "stream"},
        "median |x| of a sequence, mean over sequences", "1", RF_ALWAYS},
    [RF_ACT_MAX_OVER_MEDIAN] = {"/stats/act_max_over_median", RF_F64, 2, {"layer", "stream"},
        "act_max / act_median", "1", RF_ALWAYS},
    [RF_ACT_COUNT_100X] = {"/stats/act_count_100x", RF_F64, 2, {"layer", "stream"},
        "entries with |x| > 100 x the sequence median", "1", RF_ALWAYS},
    [RF_ACT_COUNT_1000X] = {"/stats/act_count_1000x", RF_F64, 2, {"layer", "stream"},
        "entries with |x| > 1000 x the sequence median", "1", RF_ALWAYS},
    [RF_ACT_COUNT_MASSIVE] = {"/stats/act_count_massive", RF_F64, 2, {"layer", "stream"},
        "entries with |x| > 100 and > 1000 x the sequence median", "1", RF_ALWAYS},
    [RF_RESID_POS0_NORM_RATIO] = {"/stats/resid_pos0_norm_ratio", RF_F64, 1, {"layer"},
        "||h_0|| / mean_{t>=1} ||h_t|| of the layer output", "1", RF_ALWAYS},
    [RF_VALUE_NORM] = {"/stats/value_norm", RF_F64, 2, {"layer", "pos"},
        "||v|| by position, mean over KV heads", "1", RF_ALWAYS},
    [RF_NLL] = {"/stats/nll", RF_F32, 2, {"seq", "pos"},
        "negative log-likelihood of the next token (NaN at the last position)", "nats", RF_ALWAYS},
    [RF_ATTENTION] = {"/attention/layer_LL", RF_DUMP_T, 4, {"seq", "head", "query", "key"},
        "attention probabilities (post-softmax)", "probability", RF_DUMP},
    [RF_GATES] = {"/gates/layer_LL", RF_DUMP_T, 4, {"seq", "pos", "head", "gate_dim"},
        "sigmoid gate values applied", "1", RF_DUMP},
    [RF_HIDDEN] = {"/hidden/layer_LL", RF_DUMP_T, 3, {"seq", "pos", "hidden_dim"},
        "residual stream leaving the decoder layer", "1", RF_DUMP},
    [RF_LOGITS] = {"/logits", RF_DUMP_T, 3, {"seq", "pos", "vocab"},
        "logits", "1", RF_DUMP},
};

const struct rf_dim rf_dims[] = {
    {"seq", "sequence", NULL},
    {"pos", "token position", NULL},
    {"layer", "decoder layer (0-based)", NULL},
    {"head", "query head", NULL},
    {"sink_key", "key position k of alpha_k", NULL},
    {"rank", "rank of a most-attended key", NULL},
    {"act_rank", "rank of a largest activation", NULL},
    {"gate_bin", "gate histogram bin centre", NULL},
    {"gate_threshold", "gate threshold", NULL},
    {"out_threshold", "|Y| threshold", NULL},
    {"stream", "activation stream", "attn_output attn_residual ffn_output ffn_residual"},
    {"coord", "coordinate (seq, pos, dim)", "seq pos dim"},
    {"query", "query position", NULL},
    {"key", "key position", NULL},
    {"attn_head", "dumped query head", NULL},
    {"gate_dim", "gate dimension", NULL},
    {"hidden_dim", "hidden dimension", NULL},
    {"vocab", "vocabulary id", NULL},
};
const int rf_n_dims = sizeof rf_dims / sizeof rf_dims[0];

/* Does path name a layer of the per-layer dump whose pattern ends in "layer_LL"? */
static int is_layer_of(const char *pattern, const char *path)
{
    size_t stem = strlen(pattern) - 2;
    if (strncmp(pattern, path, stem) || strcmp(pattern + stem, "LL"))
        return 0;
    const char *d = path + stem;
    size_t n = strspn(d, "0123456789");
    return (n == 2 || n == 3) && !d[n];
}

const struct rf_dataset *rf_schema_find(const char *path)
{
    for (int i = 0; i < RF_N_DATASETS; i++)
        if (!strcmp(rf_schema[i].path, path) || is_layer_of(rf_schema[i].path, path))
            return &rf_schema[i];
    return NULL;
}

void rf_layer_path(enum rf_id id, int l, int n_layers, char *buf, size_t n)
{
    const char *p = rf_schema[id].path;
    int stem = (int)strlen(p) - 2; /* without "LL" */
    snprintf(buf, n, n_layers >= 100 ? "%.*s%03d" : "%.*s%02d", stem, p, l);
}

const struct rf_dim *rf_dim_find(const char *name)
{
    for (int i = 0; i < rf_n_dims; i++)
        if (!strcmp(rf_dims[i].name, name))
            return &rf_dims[i];
    return NULL;
}
