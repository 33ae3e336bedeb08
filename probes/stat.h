/* probes/stat.h — a statistic as a module. Each probes/stat_<name>.c defines one
 * struct stat_module and probes/stats.c lists them (STAT_MODULES); everything else —
 * which hook points probes subscribe to, the per-sequence accumulator buffer, the check
 * that every point fired, the fold into run totals (--resume replays exactly these folds
 * from saved accumulators), the /stats and /summary datasets — comes from that list.
 * Adding a statistic: one stat_<name>.c, its entry in STAT_MODULES, its datasets in
 * runfile/schema.c (names, dims, long_name, units) and docs/SCHEMA.md (tests/test_schema.c
 * fails until both agree).
 *
 * Accumulators are flat arrays of doubles, so a finished sequence can be saved and restored
 * bit for bit; a module lays its fields out in its own part of the buffer (STAT_FIELD). */
#ifndef SS_PROBES_STAT_H
#define SS_PROBES_STAT_H

#include <stddef.h>
#include <stdint.h>

#include "../runfile/schema.h"
#include "probes.h"

/* What a module's event callback sees besides its accumulator. */
struct stat_seq {
    const struct probes_shape *shape;
    const int32_t *tokens;     /* [T] of the current sequence (NLL targets); may be NULL */
    float *scratch;            /* [max(T * hidden, vocab)] shared scratch, not part of the record */
    uint32_t *radix;           /* [65536] shared scratch */
};

/* What a module's fold sees: the run's shape, the sequence's index, the run options. */
struct stat_fold {
    const struct probes_shape *shape;
    int seq;
    double sink_epsilon;
};

/* The /stats and /summary datasets being built (probes/results.c). */
struct stat_results;
/* Append dataset id of the schema with extents n0.. (as many as its dims); its zeroed data,
 * or NULL after a failure (the builder remembers it: results stop at the first). */
double *stat_push(struct stat_results *b, enum rf_id id, int64_t n0, int64_t n1, int64_t n2, int64_t n3);
/* A dataset pushed before (by any module), or NULL. */
const double *stat_find(const struct stat_results *b, enum rf_id id);

struct stat_module {
    const char *name;
    uint32_t points;           /* STAT_POINT(HOOK_...) of every hook point it reduces */
    int gated_only;            /* 1: only for gated checkpoints (gate_dim > 0) */
    int moe_only;              /* 1: only for mixture-of-experts checkpoints (n_experts > 0) */
    int sinks_only;            /* 1: only for learned-sink checkpoints (attn_sinks) */
    /* per-sequence accumulator: its size in doubles, its state before the first event
     * (seq_reset NULL: all zeros) */
    size_t (*seq_size)(const struct probes_shape *c);
    void (*seq_reset)(double *acc, const struct probes_shape *c);
    /* one hook event (the layer is already checked; the shape is the module's to check) */
    enum ss_status (*event)(const struct stat_seq *q, double *acc, const struct hook_event *ev,
                            struct ss_error *err);
    /* after the forward pass: SS_ERR_INTERNAL naming a point that did not fire completely */
    enum ss_status (*check)(const double *acc, const struct probes_shape *c, struct ss_error *err);
    /* run totals: size, initial state, and how a sequence's accumulator folds in (in
     * sequence order: the totals, and the file, do not depend on threads or resumption;
     * run_init NULL: all zeros) */
    size_t (*run_size)(const struct probes_shape *c);
    void (*run_init)(double *tot, const struct probes_shape *c);
    void (*fold)(double *tot, const double *acc, const struct stat_fold *f);
    /* the datasets from the totals of n_seqs sequences: /stats first, then /summary */
    void (*results)(struct stat_results *b, const double *tot, const struct probes_shape *c, int n_seqs);
    void (*summary)(struct stat_results *b, const double *tot, const struct probes_shape *c, int n_seqs);
};

#define STAT_POINT(p) (1u << (p))

/* Lay out consecutive fields in an accumulator: `base` NULL only counts. */
#define STAT_FIELD(view, field, base, off, count) \
    ((view)->field = (base) ? (base) + (off) : NULL, (off) += (count))

/* SS_ERR_INTERNAL: ev's shape is not what the run's shape says it must be. */
enum ss_status stat_bad_shape(const struct hook_event *ev, struct ss_error *err);
/* ev is [a] / [a, b] / [a, b, c] (ndim 1..3). */
int stat_shape_is(const struct hook_event *ev, int ndim, int64_t a, int64_t b, int64_t c);
/* dst[i] += src[i] */
void stat_add(double *dst, const double *src, size_t n);

/* The modules (stat_<name>.c). */
extern const struct stat_module stat_attention, stat_attn_output, stat_gates, stat_activations,
    stat_values, stat_likelihood, stat_router, stat_sink;

/* GCC: vectorize these branch-free loops even at -O1/-O2 (clang has no such attribute). */
#if defined(__GNUC__) && !defined(__clang__)
#define SS_HOT_LOOP __attribute__((optimize("O3", "no-trapping-math")))
#else
#define SS_HOT_LOOP
#endif

#endif
