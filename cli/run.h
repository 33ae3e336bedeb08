/* cli/run.h — pieces of `sinkscope run` (cli/cmd_run.c parses, cli/run_input.c
 * builds the token sequences, cli/run_exec.c runs them into the run file). */
#ifndef SS_CLI_RUN_H
#define SS_CLI_RUN_H

#include <signal.h>
#include <stdint.h>

#include "../common/error.h"

struct tokenizer;

struct run_args {
    const char *model_dir, *out;
    const char *token_ids, *prompt, *file, *corpus; /* exactly one */
    int ctx;                   /* -c; 0 = not given */
    int stride;                /* 0 = ctx */
    int max_seqs;              /* 0 = all */
    const char *bos;           /* "auto" | "none" | id */
    const char *dump;          /* NULL or list */
    const char *layers, *heads;/* NULL = all */
    int dump_f16;
    int threads;               /* 0 = all cores */
    const char *gate;          /* "native" | "off" | "constant=X" */
    double sink_epsilon;
    int quiet, force, resume, lossy, no_stats;
};

/* Token sequences of one run: n sequences of T tokens each. */
struct run_seqs {
    int n, T;
    int32_t *tok;              /* [n, T] */
    int bos;                   /* id put at position 0, or -1 */
    char source[4200];         /* input_source attribute */
};

/* Build the sequences from --token-ids / -p / -f / --corpus. tk may be NULL
 * (only for --token-ids); vocab bounds the ids. Bad input: SS_ERR_INPUT, one line. */
enum ss_status run_input_build(const struct run_args *a, const struct tokenizer *tk, int vocab,
                               struct run_seqs *out, struct ss_error *err);
void run_seqs_free(struct run_seqs *s);

/* Execute the run (model loaded inside); returns the exit code. stop is the signal flag. */
int run_execute(const struct run_args *a, volatile sig_atomic_t *stop);

#endif
