/* pipeline/run_ctx.h — what pipeline.c (setup, output safety) and windows.c (the windows
 * through the model, in batches, into the run file or --resume records) share. Not public. */
#ifndef SS_PIPELINE_RUN_CTX_H
#define SS_PIPELINE_RUN_CTX_H

#include "pipeline.h"

#include "../model/model.h"
#include "../probes/probes.h"
#include "interv.h"

struct h5w;

struct run_ctx {
    const struct pipeline_opts *a;
    volatile sig_atomic_t *stop;
    struct model *m;
    struct run_state *rs;
    struct tokenizer *tk;
    struct run_seqs seqs;
    struct probes *p;          /* the run's probes: its totals, its datasets; window 0 of a batch */
    int batch;                 /* windows per forward pass (--batch, or the memory plan's) */
    struct probes **pw;        /* [batch] window b's probes (pw[0] = p) */
    struct hook_set *hw;       /* [batch] their subscriptions */
    const struct hook_set **hwp; /* [batch] pointers to them, as model_forward_batch takes */
    int32_t *tokbuf;           /* [batch, T] tokens of the windows of a pass */
    struct forward_opts fo;
    struct run_interv ri;      /* --rope-scaling, --mask-keys, --window, --ablate, ... (pipeline/interv.c) */
    char command[2048];        /* what a --resume record must match */
    double t_forward, t_write;
    double t_probes;           /* < 0: this process's probe seconds; else the job's (a->dist) */
    double t_start;
    int done;                  /* sequences finished in this invocation (progress) */
    int finished;              /* a->dist: windows of this process computed or kept */
    int dist_met;              /* a->dist: finish was called */
};

/* Under a->dist, only rank 0 speaks (progress, warnings) and writes OUT. */
static inline int run_is_root(const struct pipeline_opts *a)
{
    return !a->dist || a->dist->rank == 0;
}

/* OUT.partial/seq_NNNNNN.h5, the --resume record of window seq. */
void run_record_path(char *buf, size_t n, const char *out, int seq);
/* Every window into w (row = window), c->batch per forward pass. */
enum ss_status run_windows(struct run_ctx *c, struct h5w *w, struct ss_error *err);
/* --resume and a->dist: every window of this process without a matching record into
 * its record file, c->batch per forward pass (pipeline/windows.c). */
enum ss_status run_records(struct run_ctx *c, struct ss_error *err);
/* Seconds inside the hooks of every window's probes. */
double run_probe_seconds(const struct run_ctx *c);

#endif
