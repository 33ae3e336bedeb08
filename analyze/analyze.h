/* analyze/analyze.h — summary, compare and audit of run files (docs/SCHEMA.md),
 * rendered as text, csv, json, markdown or latex (docs/CLI-OUTPUT.md).
 *
 * Reads statistics only (never the attention/gate/hidden dumps), through
 * runfile/runfile.h. Functions return enum ss_status with one "FILE: problem"
 * line in err; output goes to the FILE* the caller gives (cli/ prints errors). */
#ifndef SS_ANALYZE_ANALYZE_H
#define SS_ANALYZE_ANALYZE_H

#include <stdio.h>

#include "../common/error.h"

enum analyze_format {
    ANALYZE_FORMAT_TEXT,
    ANALYZE_FORMAT_CSV,
    ANALYZE_FORMAT_JSON,
    ANALYZE_FORMAT_MARKDOWN,
    ANALYZE_FORMAT_LATEX,
    ANALYZE_FORMAT_HTML, /* <table> fragments for `sinkscope report` (not a --format name) */
};

/* "text", "csv", "json", "markdown" (or "md"), "latex"; 0 on success, -1 unknown. */
int analyze_format_parse(const char *s, enum analyze_format *f);

#define ANALYZE_STREAMS 4 /* attn_output, attn_residual, ffn_output, ffn_residual */
#define ANALYZE_STREAM_RESID 3

/* The statistics of one run, loaded whole (a few KiB to MiB, whatever the dumps). */
struct analyze_run {
    char path[4096];
    char label[256];
    /* root attributes ("" / 0 when an optional one is absent) */
    int n_layers, n_heads, n_kv_heads, context_length, n_seqs;
    char model_type[64], model_path[1024], gate_kind[32], gate_mode[64], bos[64], input_source[1024];
    double sink_epsilon;
    /* /summary (NaN when absent: gate_mean of ungated runs, first_token_share_incl0) */
    double first_token_share, first_token_share_incl0, max_activation_mean, max_activation;
    double gate_mean, perplexity, sink_rate, n_tokens;
    /* [layer, head] (row-major; gate_* NULL when the run has no gate statistics) */
    double *fts, *fts_incl0, *alpha0, *entropy;
    double *gate_mean_h, *gate_std_h, *gate_min_h, *gate_max_h;
    int *top_key; /* [layer, head]: the key position with the largest alpha_k */
    /* [layer] */
    double *fts_layer, *fts_incl0_layer, *alpha0_layer, *entropy_layer;
    int *sink_heads;           /* heads whose alpha_0 (mean over sequences) > sink_epsilon */
    double *act_max;           /* [layer, stream] */
    int *act_where;            /* [layer, 3]: (seq, pos, dim) of the largest |x| leaving the layer; -1 unknown */
    double *gate_mean_l, *gate_std_l, *gate_min_l, *gate_max_l; /* pooled over heads; NULL ungated */
    int gated;                 /* gate statistics present */
    /* interventions (root attributes; "" / 0 in files without them, docs/EXPERIMENTS.md) */
    char interventions[512], rope_scaling[64], context_sweep[128];
    int attn_window, sink_tokens;
    /* mixture of experts (analyze/moe.c; n_experts 0, NULL and NaN when the run has no routing statistics) */
    int n_experts;
    int *moe_layer;            /* [layer] 1: routed, 0: dense */
    double *expert_load, *expert_load_pos0, *expert_load_rest; /* [layer, expert]; NaN rows: dense layers */
    double *router_entropy_norm_l; /* [layer] */
    double router_entropy_norm;    /* /summary */
    /* learned sinks (NULL and NaN when absent) */
    double *lsink_h, *lsink_l; /* [layer, head] over queries q >= 1; [layer] */
    double learned_sink_share; /* /summary */
    /* loss by position (from /stats/nll): mean NLL of the predictions made at positions
     * [b * ANALYZE_LOSS_BUCKET, (b+1) * ANALYZE_LOSS_BUCKET), b < n_loss; NULL without /stats/nll */
    double *loss_pos;
    int n_loss;
};
#define ANALYZE_LOSS_BUCKET 128

/* s with & < > " ' written as HTML character references. */
void analyze_html_escape(FILE *out, const char *s);

/* Load the statistics of path; label NULL = the file name without directory and ".h5". */
enum ss_status analyze_run_load(struct analyze_run *r, const char *path, const char *label,
                                struct ss_error *err);
void analyze_run_free(struct analyze_run *r);

/* Headline row (paper Table 4 columns), then per-layer / per-head tables when asked.
 * JSON always carries the `layers` array (heads inside each layer with per_head). */
enum ss_status analyze_summary(FILE *out, const struct analyze_run *r, int per_layer, int per_head,
                               enum analyze_format f, struct ss_error *err);

/* Differences between the inputs or settings of runs[1..n-1] and runs[0], one line each
 * ("b.h5: saw different tokens than a.h5 (first at seq 0, pos 3)"). */
#define ANALYZE_MAX_WARNINGS 32
struct analyze_warnings {
    int n;
    char msg[ANALYZE_MAX_WARNINGS][512];
};
enum ss_status analyze_compare_check(struct analyze_run *runs, int n, struct analyze_warnings *w,
                                     struct ss_error *err);
/* Runs side by side, ratios and differences against runs[0], overall and per layer.
 * w (may be NULL) goes into the JSON output as `warnings`. */
enum ss_status analyze_compare(FILE *out, const struct analyze_run *runs, int n,
                               const struct analyze_warnings *w, enum analyze_format f,
                               struct ss_error *err);

/* Audit limits; NaN = not checked. layers NULL = every layer. */
struct analyze_limits {
    double max_first_token_share; /* each checked layer's first_token_share_layer */
    double max_sink_rate;         /* /summary/sink_rate; over a --layers subset: see CLI-OUTPUT.md */
    double max_activation;        /* each checked layer's act_max[layer, ffn_residual] */
    const int *layers;
    int n_layers;
};
/* Parse "0,2,5-7" (0-based layer indices, ranges inclusive; -k = k-th from the end,
 * so -1 is the last layer; "all") against n_layers; *out is malloc'd, sorted, without
 * duplicates. */
enum ss_status analyze_layers_parse(const char *spec, int n_layers, int **out, int *n,
                                    struct ss_error *err);
/* Check r against lim; *exceeded = number of limits exceeded (exit 1 when > 0). */
enum ss_status analyze_audit(FILE *out, const struct analyze_run *r, const struct analyze_limits *lim,
                             enum analyze_format f, int *exceeded, struct ss_error *err);

#endif
