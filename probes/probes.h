/* probes/probes.h — the contract of probes/: hook subscribers that turn a
 * forward pass into the statistics and dumps of docs/SCHEMA.md, and the HDF5
 * writer of the run file. The read side is runfile/runfile.h.
 *
 * Flow of one run (pipeline/pipeline.c):
 *   probes_new(opts) ; probes_subscribe(hooks)
 *   for each sequence s:  probes_seq_begin(target, s, tokens) ; model_forward(hooks) ;
 *                         probes_seq_end()   (folds the sequence into the run totals)
 *   probes_write_results(file)                 (/stats, /summary)
 *
 * The statistics are modules (probes/stat.h; one probes/stat_<name>.c each, listed in
 * probes/stats.c): the hook points subscribed, the accumulators, the folds and the
 * /stats and /summary datasets all come from that list.
 * Statistics never need a T x T array: attention arrives as [nq, nk] tiles and
 * is reduced row by row. Per-sequence accumulators (struct seq_stats) live in one
 * flat double buffer, so a finished sequence can be saved and restored bit for
 * bit (--resume); run totals (struct run_stats) are folds over those records in
 * sequence order, so a resumed run equals an uninterrupted one exactly.
 * probes/ includes model/hooks.h (the event type) but not model/model.h. */
#ifndef SS_PROBES_PROBES_H
#define SS_PROBES_PROBES_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/error.h"
#include "../model/hooks.h"

#define PROBES_SINK_KEYS 4        /* K: keys 0..3 of sink_alpha / sink_rate */
#define PROBES_TOP_RANKS 5        /* R: most-attended keys per (layer, head) */
#define PROBES_ACT_RANKS 10       /* largest |x| kept per (layer, stream) */
#define PROBES_GATE_BINS 50       /* B: gate histogram bins on [0, 1] */
#define PROBES_GATE_THRESHOLDS 3  /* 0.01, 0.1, 0.5 */
#define PROBES_OUT_THRESHOLDS 2   /* 1e-2, 1e-3 */
#define PROBES_STREAMS 4          /* attn_output, attn_residual, ffn_output, ffn_residual */

extern const double probes_gate_thresholds[PROBES_GATE_THRESHOLDS];
extern const double probes_out_thresholds[PROBES_OUT_THRESHOLDS];
/* "attn_output" | "attn_residual" | "ffn_output" | "ffn_residual" */
const char *probes_stream_name(int stream);

/* Shapes of one run (from the model config); T = positions of every sequence. */
struct probes_shape {
    int n_layers, n_heads, n_kv_heads, head_dim, hidden, vocab;
    int gate_dim;              /* 0 ungated, 1 headwise, head_dim elementwise */
    int T;
    int window;                /* sliding window (keys a query sees); 0 = full causal */
    int sink_tokens;           /* keys k < sink_tokens stay visible under the window */
    /* mixture of experts (probes/stat_router.c): n_experts = 0 for dense checkpoints */
    int n_experts, top_k;
    const unsigned char *layer_moe; /* [n_layers] 1: the layer routes (router_* events fire); not
                                     * owned: the model config's, alive for the run; NULL when dense */
    int attn_sinks;            /* 1: learned per-head sink logits (the attn_sink point fires) */
};

/* ---- per-sequence accumulators (probes/stats.c) ----------------------------
 * The statistics are modules (probes/stat.h, one probes/stat_<name>.c each); a sequence's
 * accumulators are theirs, concatenated in one flat double buffer (a record for --resume),
 * and so are the run totals. */

#define PROBES_MAX_MODULES 16

struct seq_stats {
    struct probes_shape shape;
    const int32_t *tokens;     /* [T] of the current sequence (NLL targets); not owned */
    size_t n;
    double *buf;               /* n doubles: every module's accumulator */
    size_t off[PROBES_MAX_MODULES]; /* where module m's starts */
    /* scratch for medians and rows (not part of the record) */
    float *scratch;            /* [max(T*hidden, vocab)] */
    uint32_t *radix;           /* [65536] histogram of the top 16 bits of |x| */
};

/* The hook points the statistics of a run of this shape reduce (bit p = enum hook_point p). */
uint32_t probes_stat_points(const struct probes_shape *shape);

enum ss_status seq_stats_init(struct seq_stats *s, const struct probes_shape *shape,
                              struct ss_error *err);
void seq_stats_free(struct seq_stats *s);
/* Zero the accumulators for a new sequence of shape.T tokens. */
void seq_stats_reset(struct seq_stats *s, const int32_t *tokens);
/* Reduce one hook event into the accumulators. SS_ERR_INTERNAL when the event's
 * shape disagrees with the run's shape. Points not used by statistics are ignored. */
enum ss_status seq_stats_event(struct seq_stats *s, const struct hook_event *ev,
                               struct ss_error *err);
/* SS_ERR_INTERNAL naming the first hook point that did not fire completely. */
enum ss_status seq_stats_check(const struct seq_stats *s, struct ss_error *err);
/* The sequence's NLL per position [T] (NaN at T-1): the /stats/nll row. */
const double *seq_stats_nll(const struct seq_stats *s);

/* Median of x[0..n) (mean of the two middle values when n is even); reorders x. */
double probes_median(float *x, size_t n);

/* ---- run totals (probes/stats.c) ------------------------------------------- */

struct run_stats {
    struct probes_shape shape;
    double sink_epsilon;
    int n_seqs;                /* folded so far */
    size_t n;
    double *buf;               /* n doubles: every module's totals */
    size_t off[PROBES_MAX_MODULES];
};

enum ss_status run_stats_init(struct run_stats *r, const struct probes_shape *shape,
                              double sink_epsilon, struct ss_error *err);
void run_stats_free(struct run_stats *r);
/* Add one finished sequence (index seq) to the totals: every module's fold. */
void run_stats_fold(struct run_stats *r, const struct seq_stats *s, int seq);
struct stat_results;
/* Every module's datasets from the totals into b (probes/results.c drives it). */
void run_stats_results(const struct run_stats *r, struct stat_results *b);

/* ---- results: the /stats and /summary datasets (probes/results.c) ---------- */

struct probes_dataset {
    char path[64];             /* "/stats/first_token_share" */
    const char *long_name, *units;
    int is_int;                /* written as int32 (values are exact in double) */
    int ndim;                  /* 0 = scalar */
    const char *dims[4];       /* dimension names, scales under /dims */
    int64_t shape[4];
    double *data;
};

struct probes_results {
    int n;
    struct probes_dataset *d;
};

/* Final statistics of the folded run. Gate datasets only when gate_dim > 0. */
enum ss_status probes_results_compute(const struct run_stats *r, struct probes_results *out,
                                      struct ss_error *err);
void probes_results_free(struct probes_results *res);
/* The dataset at path, or NULL. */
const struct probes_dataset *probes_results_find(const struct probes_results *res,
                                                 const char *path);

/* ---- the run object: statistics + dumps as hook subscribers (probes/probes.c) */

enum probes_dump {
    PROBES_DUMP_ATTENTION = 1 << 0,
    PROBES_DUMP_GATES = 1 << 1,
    PROBES_DUMP_HIDDEN = 1 << 2,
    PROBES_DUMP_LOGITS = 1 << 3,
};
/* "attention,gates,hidden,logits" -> mask; -1 for an unknown word. */
int probes_dump_parse(const char *list);

struct probes_opts {
    struct probes_shape shape;
    int n_seqs;                /* sequences of the run (extent of the seq axis) */
    double sink_epsilon;       /* default 0.3 */
    int stats;                 /* 0: no statistics (baseline for benchmarks) */
    unsigned dump;             /* enum probes_dump mask */
    const unsigned char *layer_sel; /* [n_layers], 1 = dump this layer; NULL = all */
    const int *head_sel;       /* heads dumped from attention; NULL = all */
    int n_head_sel;
    int dump_f16;              /* dumps stored as IEEE half */
    volatile sig_atomic_t *stop; /* non-zero: stop at the next layer (SS_ERR_INTERRUPTED) */
};

struct h5w;                    /* an output file being written (runfile/h5write.h) */
struct probes;

enum ss_status probes_new(struct probes **p, const struct probes_opts *opts, struct ss_error *err);
void probes_free(struct probes *p);
/* Subscribe to the hook points the statistics and dumps need. */
enum ss_status probes_subscribe(struct probes *p, struct hook_set *hooks, struct ss_error *err);

/* Create the per-sequence datasets (/tokens, /token_text, /stats/nll, dumps)
 * in w with a seq axis of n_seqs, and the /dims scales. */
enum ss_status probes_create_datasets(struct probes *p, struct h5w *w, int n_seqs,
                                      int with_text, struct ss_error *err);
/* Close the datasets made by probes_create_datasets, so that closing their file
 * really closes it (HDF5 keeps a file open, and locked, while any of its datasets
 * is): a record another process reads next (a run spread over MPI ranks) must be. */
void probes_release(struct probes *p);
/* Start a sequence: dumps go to row `row` of w's datasets. */
enum ss_status probes_seq_begin(struct probes *p, struct h5w *w, int row, const int32_t *tokens,
                                struct ss_error *err);
/* After model_forward: check every hook fired, write /tokens, /token_text (pieces
 * may be NULL) and /stats/nll rows, fold the sequence into the run as `seq`. */
enum ss_status probes_seq_end(struct probes *p, int seq, char *const *pieces,
                              struct ss_error *err);
/* Corpus batches (several windows in one forward pass, each window's events to its own
 * instance): p writes its rows into the datasets owner made (owner's file, until owner
 * makes others) and folds each finished sequence into owner's run totals; p's
 * probes_seq_end calls must then come in sequence order with owner's. Both instances
 * need the same options. probes_create_datasets on p ends the sharing of datasets. */
void probes_share(struct probes *p, struct probes *owner);
/* The finished sequence's accumulators (valid until the next probes_seq_begin). */
const struct seq_stats *probes_seq_stats(const struct probes *p);
const struct run_stats *probes_run_stats(const struct probes *p);
/* Wall seconds spent inside the probes' hook callbacks so far (statistics and dumps). */
double probes_hook_seconds(const struct probes *p);
/* Forget the folded sequences (before a resumed run is assembled from records). */
void probes_reset_totals(struct probes *p);
/* Write /stats and /summary into w. */
enum ss_status probes_write_results(struct probes *p, struct h5w *w, struct ss_error *err);

/* ---- root attributes (probes/meta.c) ------------------------------------------ */

struct probes_meta {
    const char *tool_version, *model_path, *model_type, *config_json;
    int n_layers, n_heads, n_kv_heads, head_dim, hidden, vocab;
    const char *gate_kind;     /* none | headwise | elementwise */
    const char *gate_mode;     /* native | off | constant=X */
    int threads, context_length, n_seqs;
    const char *bos;           /* "none" or the id */
    const char *input_source;  /* prompt | file:PATH | corpus:PATH | token-ids */
    double sink_epsilon;
    double time_load_s, time_forward_s, time_write_s;
    double time_probes_s;      /* part of time_forward_s spent in probe callbacks */
};

/* Write every root attribute of docs/SCHEMA.md (schema = "sinkscope/1", created = now). */
enum ss_status probes_write_meta(struct h5w *w, const struct probes_meta *m, struct ss_error *err);

/* The interventions of a run (docs/SCHEMA.md, root attributes; docs/EXPERIMENTS.md). */
struct probes_interventions {
    char summary[512];         /* "interventions": e.g. "rope=yarn:8:512 window=256 sink_tokens=4"; "" = none */
    char rope[64];             /* "rope_scaling": the RoPE in force ("default", "yarn:8:512", ...) */
    int rope_replaced;         /* 1: --rope-scaling replaced the checkpoint's */
    int window, sink_tokens;   /* "attn_window" (0 = full causal), "sink_tokens" */
    char mask_keys[256];       /* "mask_keys" ("" = none) */
    char ablate[64];           /* "ablate" ("" = none) */
    int ablate_layer;          /* "ablate_layer" (-1 = none) */
    double ablated_entries;    /* "ablated_entries": values replaced over the run */
    char gate_values[512];     /* "gate_constant_values": per-layer gates of --gate constant=mean */
    char sweep[128];           /* "context_sweep": the -c list of a sweep ("" = none) */
};
enum ss_status probes_write_interventions(struct h5w *w, const struct probes_interventions *pi,
                                          struct ss_error *err);

/* ---- sequence records for --resume (probes/record.c) --------------------------
 * OUT.h5.partial/ holds one HDF5 file per finished sequence, seq_NNNNNN.h5:
 * its rows of /tokens, /token_text, /stats/nll and dumps (a seq axis of 1) and
 * /record/acc, the sequence's accumulators bit for bit, plus the attribute
 * `command` (what must match for the record to be reused). */

/* After probes_seq_end on a record file made by probes_create_datasets(rec, 1):
 * store the accumulators and the command fingerprint. */
enum ss_status probes_record_finish(struct probes *p, struct h5w *rec, const char *command,
                                    struct ss_error *err);
/* 1 when rec is a complete record of this command with these tokens, else 0. */
int probes_record_matches(struct h5w *rec, const char *command, const int32_t *tokens, int T);
/* Fold the record as sequence seq and copy its rows into the datasets made by
 * probes_create_datasets on the final file. */
enum ss_status probes_record_load(struct probes *p, struct h5w *rec, int seq, struct ss_error *err);

#endif
