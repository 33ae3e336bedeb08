/* runfile/schema.h — the run file described once (docs/SCHEMA.md is its prose): every dataset
 * with its path, element type, dimensions, long_name, units and when it is present, and every
 * dimension scale. The writer (probes/) takes names, dimensions and attributes from here and
 * every reader (analyze/, plots/) names datasets through rf_path(); tests/test_schema.c checks
 * that docs/SCHEMA.md documents exactly these datasets and that a written file matches them.
 * A new dataset is one entry here (and its row in docs/SCHEMA.md). */
#ifndef SS_RUNFILE_SCHEMA_H
#define SS_RUNFILE_SCHEMA_H

#include <stddef.h>

enum rf_id {
    RF_TOKENS,
    RF_TOKEN_TEXT,
    RF_SUMMARY_FIRST_TOKEN_SHARE,
    RF_SUMMARY_FIRST_TOKEN_SHARE_INCL0,
    RF_SUMMARY_MAX_ACTIVATION_MEAN,
    RF_SUMMARY_MAX_ACTIVATION,
    RF_SUMMARY_GATE_MEAN,
    RF_SUMMARY_PERPLEXITY,
    RF_SUMMARY_SINK_RATE,
    RF_SUMMARY_N_TOKENS,
    RF_FIRST_TOKEN_SHARE,
    RF_FIRST_TOKEN_SHARE_INCL0,
    RF_FIRST_TOKEN_SHARE_LAYER,
    RF_FIRST_TOKEN_PROFILE,
    RF_SINK_ALPHA,
    RF_SINK_RATE,
    RF_ATTN_ENTROPY,
    RF_TOP_KEY_POS,
    RF_TOP_KEY_ALPHA,
    RF_ATTN_OUT_ABSMEAN,
    RF_ATTN_GATED_ABSMEAN,
    RF_ATTN_OUT_FRAC_BELOW,
    RF_ATTN_GATED_FRAC_BELOW,
    RF_ATTN_MEANGATE_FRAC_BELOW,
    RF_GATE_MEAN,
    RF_GATE_STD,
    RF_GATE_MIN,
    RF_GATE_MAX,
    RF_GATE_HIST,
    RF_GATE_HIST_POOLED,
    RF_GATE_FRAC_BELOW,
    RF_GATE_MEAN_POS0,
    RF_GATE_MEAN_REST,
    RF_GATE_MEAN_BY_POS,
    RF_ACT_MAX,
    RF_ACT_TOP_VALUE,
    RF_ACT_TOP_INDEX,
    RF_ACT_MEDIAN,
    RF_ACT_MAX_OVER_MEDIAN,
    RF_ACT_COUNT_100X,
    RF_ACT_COUNT_1000X,
    RF_ACT_COUNT_MASSIVE,
    RF_RESID_POS0_NORM_RATIO,
    RF_VALUE_NORM,
    RF_NLL,
    RF_ATTENTION,
    RF_GATES,
    RF_HIDDEN,
    RF_LOGITS,
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
