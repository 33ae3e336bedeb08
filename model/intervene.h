/* model/intervene.h — interventions of `run` that write activations, as edits
 * (writable hook points, model/hooks.h), and the first-pass subscribers that
 * parameterize them. The attention-side interventions (--window, --sink-tokens,
 * --mask-keys) are mask options of struct forward_opts and RoPE replacement is
 * forward_opts.rope (model/model.h); --gate off|constant=X is forward_opts.gate.
 *
 * A first pass runs the corpus natively with a scan subscribed (read-only); the
 * second pass runs it with the edit built from the scan. */
#ifndef SS_MODEL_INTERVENE_H
#define SS_MODEL_INTERVENE_H

#include "../common/error.h"
#include "hooks.h"

/* Sun et al. (2024), "Massive activations": an entry x of a hidden-state vector
 * is massive when |x| >= abs_min and |x| >= ratio * median(|x_j|) over the vector
 * (median of an even count: mean of the two middle values, as numpy). */
#define MASSIVE_ABS_MIN 100.0
#define MASSIVE_RATIO 1000.0

/* flag[n] = 1 for the massive entries of x[n]; returns their count. scratch[n]. */
int massive_flag(const float *x, int n, double abs_min, double ratio, unsigned char *flag, float *scratch);

/* First pass: per (layer, hidden dim), the sum and count of massive entries of
 * resid_post (the residual stream leaving each layer), over every token. */
struct massive_scan {
    int n_layers, hidden;
    double abs_min, ratio;
    double *sum, *count;       /* [L, hidden] */
    float *scratch;            /* [hidden] */
    unsigned char *flag;       /* [hidden] */
    double top_ratio;          /* largest max|x| / median|x| of a token vector whose max |x| >= abs_min */
    int top_ratio_layer;       /* its layer (-1: no vector reached abs_min) */
};
enum ss_status massive_scan_init(struct massive_scan *s, int n_layers, int hidden, double abs_min, double ratio,
                                 struct ss_error *err);
void massive_scan_free(struct massive_scan *s);
enum ss_status massive_scan_subscribe(struct massive_scan *s, struct hook_set *h, struct ss_error *err);
/* The first layer with a massive entry, or -1. */
int massive_scan_first_layer(const struct massive_scan *s);
/* Massive entries seen at layer l. */
double massive_scan_count(const struct massive_scan *s, int l);

/* The edit: at resid_post of `layer`, every massive entry becomes 0 (zero) or
 * the first pass's mean of that dimension's massive entries at that layer. */
struct massive_ablation {
    int layer, zero;
    double abs_min, ratio;
    float *mean;               /* [hidden] (0 where the scan saw none) */
    int hidden;
    double n_ablated;          /* entries replaced, over every forward call */
    float *scratch;
    unsigned char *flag;
};
enum ss_status massive_ablation_init(struct massive_ablation *a, const struct massive_scan *s, int layer, int zero,
                                     struct ss_error *err);
void massive_ablation_free(struct massive_ablation *a);
/* hook_edit_fn; the edit to install is {HOOK_RESID_POST, a->layer, massive_ablation_edit, a}. */
int massive_ablation_edit(void *user, const struct hook_event *ev, float *data, struct ss_error *err);

/* First pass: each layer's mean gate (over positions, heads, gate dims, sequences). */
struct gate_scan {
    int n_layers;
    double *sum, *count;       /* [L] */
};
enum ss_status gate_scan_init(struct gate_scan *s, int n_layers, struct ss_error *err);
void gate_scan_free(struct gate_scan *s);
enum ss_status gate_scan_subscribe(struct gate_scan *s, struct hook_set *h, struct ss_error *err);
/* mean[L]: sum / count (NaN for a layer without gate events). */
void gate_scan_means(const struct gate_scan *s, float *mean);

/* hook_edit_fn on HOOK_GATE (every layer): each gate value of layer l becomes
 * ((const float *)user)[l]. */
int gate_constant_edit(void *user, const struct hook_event *ev, float *data, struct ss_error *err);

/* ---- a run's activation edits, end to end ------------------------------------ */

struct model;
struct run_state;
struct forward_opts;

/* What --ablate and --gate constant=mean ask for, and what their first pass found. */
struct intervention {
    int ablate;                /* 0 none, 1 zero, 2 mean */
    int ablate_layer;          /* the layer (after prepare: -1 = no massive entry anywhere) */
    int ablate_layer_given;    /* 0: the first layer with a massive entry (first pass) */
    int gate_mean;             /* --gate constant=mean */
    double abs_min, ratio;     /* criterion (MASSIVE_ABS_MIN, MASSIVE_RATIO by default) */
    /* filled by intervention_prepare */
    struct massive_scan scan;
    struct massive_ablation ab;
    struct gate_scan gates;
    float *gate_values;        /* [L] each layer's mean gate */
    struct hook_edit edits[2];
    int n_edits;
};
/* "zero" | "mean", optionally "@LAYER" (negative: from the end): 0, or -1 if malformed. */
int intervention_parse_ablate(struct intervention *iv, const char *s);
/* Validate against the model (layer range, a gate for constant=mean: SS_ERR_INPUT),
 * run the first pass over seqs[n, T] with opts (without edits) when one is
 * needed, and point opts->edits at the edits. rs must hold T positions. */
enum ss_status intervention_prepare(struct intervention *iv, const struct model *m, struct run_state *rs,
                                    const int32_t *seqs, int n, int T, struct forward_opts *opts,
                                    struct ss_error *err);
void intervention_free(struct intervention *iv);

#endif
