/* pipeline/pipeline.h — the library's "run this": a checkpoint over inputs, with the chosen
 * probes, into one run file (docs/SCHEMA.md). The one call behind `sinkscope run`, for tests,
 * benchmarks and future drivers (MPI) alike:
 *
 *     struct pipeline_opts o;  pipeline_opts_init(&o);
 *     o.model_dir = "ckpt"; o.out = "run.h5"; o.prompt = "...";
 *     enum ss_status s = pipeline_run(&o, NULL, &err);
 *
 * Data flows one way: tokenizer/ (inputs.c: token sequences) -> model/ (forward pass with
 * hook points) -> probes/ (statistics and dumps as hook subscribers) -> runfile/ (the file).
 * Output safety: OUT.h5.tmp-PID is renamed to OUT only when complete; on failure or stop
 * nothing is left at OUT; with resume every finished sequence is kept in OUT.partial/. */
#ifndef SS_PIPELINE_PIPELINE_H
#define SS_PIPELINE_PIPELINE_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "../common/error.h"

struct tokenizer;
struct run_dist;

struct pipeline_opts {
    const char *model_dir, *out;
    const char *token_ids, *prompt, *file, *corpus; /* exactly one */
    int ctx;                   /* -c; 0 = not given */
    int stride;                /* 0 = ctx */
    int max_seqs;              /* 0 = all */
    const char *bos;           /* "auto" | "none" | id */
    const char *dump;          /* NULL or a list of attention, gates, hidden, logits */
    const char *layers, *heads;/* index lists (common/index_list.h); NULL = all */
    int dump_f16;
    int threads;               /* 0 = all cores */
    int batch;                 /* windows per forward pass (corpus mode); 0 = the memory plan's default */
    const char *gate;          /* "native" | "off" | "constant=X" | "constant=mean" */
    /* interventions (docs/EXPERIMENTS.md, pipeline/interv.c); NULL/0 = the checkpoint as trained */
    const char *rope_scaling;  /* none | linear:F | yarn:F[:ORIG] | yarn:auto[:ORIG] */
    const char *mask_keys;     /* "0,1,2,3" */
    int window, sink_tokens;   /* --window W (0 = none given), --sink-tokens S (-1 = none given) */
    const char *ablate;        /* massive=zero|mean[@LAYER] */
    const char *sweep;         /* the -c list this run belongs to (attribute context_sweep), else NULL */
    double sink_epsilon;
    int force, resume, lossy, no_stats;
    FILE *log;                 /* warnings, and progress when it is a terminal; NULL = silent */
    int quiet;                 /* no progress line */
    struct run_dist *dist;     /* NULL: this process runs every window (see struct run_dist) */
};

/* One process of a job spread over several (mpi/run_mpi.c, built by `make MPI=1`;
 * docs/SCALING.md). The process computes the windows seq % size == rank into the
 * OUT.partial/ records of --resume, then calls finish exactly once; rank 0 then
 * assembles OUT from every record in window order, as --resume does, so OUT is the
 * file one process writes, whatever size is. Ranks other than 0 write nothing to
 * log and leave their errors to rank 0. The pipeline knows nothing of MPI. */
struct run_dist {
    int rank, size;
    /* After each window of this process: `finished` of its windows are done (n windows, T tokens each, in all). */
    void (*progress)(struct run_dist *d, int finished, int n, int T);
    /* Combine the processes' statuses; returns the job's status (on rank 0 err then names
     * the failing rank, or the ranks that died). *t_forward and *t_probes, this process's
     * seconds, become the sums over processes on rank 0. */
    enum ss_status (*finish)(struct run_dist *d, enum ss_status s, double *t_forward, double *t_probes,
                             struct ss_error *err);
};

/* Defaults: bos auto, gate native, sink_epsilon 0.3, sink_tokens -1, log stderr. */
void pipeline_opts_init(struct pipeline_opts *o);
/* The option strings that need no file (gate mode, dump list): SS_ERR_INPUT naming the
 * option, so a command line can report it as a usage error before anything is read. */
enum ss_status pipeline_opts_check(const struct pipeline_opts *o, struct ss_error *err);

/* Run it. stop (may be NULL) is a signal flag: non-zero stops at the next layer with
 * SS_ERR_INTERRUPTED. Bad input: SS_ERR_INPUT / SS_ERR_IO with one line naming the file
 * or option; nothing left at o->out unless SS_OK. */
enum ss_status pipeline_run(const struct pipeline_opts *o, volatile sig_atomic_t *stop, struct ss_error *err);

/* ---- the token sequences (pipeline/inputs.c) ------------------------------------ */

/* Token sequences of one run: n sequences of T tokens each. */
struct run_seqs {
    int n, T;
    int32_t *tok;              /* [n, T] */
    int bos;                   /* id put at position 0, or -1 */
    char source[4200];         /* input_source attribute */
};

/* Build the sequences from token_ids / prompt / file / corpus. tk may be NULL
 * (only for token_ids); vocab bounds the ids. Bad input: SS_ERR_INPUT, one line. */
enum ss_status run_input_build(const struct pipeline_opts *a, const struct tokenizer *tk, int vocab,
                               struct run_seqs *out, struct ss_error *err);
void run_seqs_free(struct run_seqs *s);

#endif
