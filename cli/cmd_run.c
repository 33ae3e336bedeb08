/* cli/cmd_run.c — `sinkscope run`: parse the options, install the SIGINT/SIGTERM flag,
 * join the MPI job when built with MPI=1 and started by mpirun/srun (mpi/run_mpi.h),
 * call the library's pipeline_run (pipeline/pipeline.h) and map its status to an exit code. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "../pipeline/pipeline.h"
#ifdef SS_MPI
#include "../mpi/run_mpi.h"
#endif

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sinkscope run -m DIR (--token-ids 1,2,3 | -p TEXT | -f FILE | --corpus FILE) -o OUT.h5\n"
            "                     [options]\n"
            "  -m, --model DIR        Hugging Face checkpoint directory\n"
            "      --token-ids LIST   token ids 1,2,3 or @FILE with such a list (no BOS unless --bos ID)\n"
            "  -p, --prompt TEXT      one prompt, tokenized with DIR/tokenizer.json\n"
            "  -f, --file FILE        one prompt read from FILE\n"
            "      --corpus FILE      plain text or JSONL ({\"text\": ...} per line; documents joined by EOS),\n"
            "                         cut into windows of -c tokens (the last partial window is dropped)\n"
            "  -o, --output OUT.h5    run file (docs/SCHEMA.md); never overwritten without --force\n"
            "  -c, --context N        tokens per sequence (corpus default 512; prompts must fit)\n"
            "      --stride N         corpus: text tokens between window starts (default: no overlap)\n"
            "      --max-seqs N       corpus: at most N windows\n"
            "      --bos auto|none|ID BOS at position 0 (auto: tokenizer_config.json; none for --token-ids)\n"
            "      --dump LIST        attention,gates,hidden,logits: full tensors (attention is T x T per head)\n"
            "      --layers LIST      layers dumped (statistics cover all): all, i, -i (from the end),\n"
            "                         a-b, and lists of these: 0,5-7,-1 (default all)\n"
            "      --heads LIST       heads of the attention dumps, same grammar (default all)\n"
            "      --dump-dtype f32|f16\n"
            "  -t, --threads N        worker threads (default: all cores); results are identical for any N\n"
            "      --batch N          windows per forward pass, each weight converted once for all of them\n"
            "                         (default: up to 1024 positions per pass, at most 8 windows, as memory\n"
            "                         allows; `info -c CTX` prints it); results are identical for any N\n"
            "      --gate native|off|constant=X|constant=mean   gate mode of gated checkpoints (mean:\n"
            "                         each layer's own mean gate, from a first pass over the input)\n"
            "  interventions (recorded in the run file; docs/EXPERIMENTS.md):\n"
            "      --rope-scaling none|linear:F|yarn:F[:ORIG]|yarn:auto[:ORIG]   RoPE in place of the\n"
            "                         checkpoint's (ORIG default: max_position_embeddings; YaRN as\n"
            "                         transformers; auto: F = context / ORIG, at least 1)\n"
            "      --mask-keys LIST   key positions removed from every query's softmax (0,1,2,3)\n"
            "      --window W         query q sees keys q-W < k <= q, every layer (positions not re-indexed)\n"
            "      --sink-tokens S    with a window: the first S keys stay visible\n"
            "      --ablate massive=zero|mean[@LAYER]   massive activations (|x| >= 100 and >= 1000x\n"
            "                         the median |x| of the vector) leaving LAYER (default: the first\n"
            "                         layer that has them) set to 0 or their first-pass mean\n"
            "  -c N[,N...]            --corpus: several contexts, one run file each, OUT-cN.h5\n"
            "      --sink-epsilon E   sink-rate threshold (default 0.3)\n"
            "      --resume           keep finished sequences in OUT.partial/ and continue from them\n"
            "      --lossy            replace invalid UTF-8 in the input instead of refusing it\n"
            "      --quiet            no progress line\n"
            "      --force            overwrite OUT\n");
}

enum { OPT_TOKEN_IDS = 1000, OPT_CORPUS, OPT_STRIDE, OPT_MAX_SEQS, OPT_BOS, OPT_DUMP, OPT_LAYERS, OPT_HEADS,
       OPT_DUMP_DTYPE, OPT_GATE, OPT_EPS, OPT_QUIET, OPT_FORCE, OPT_RESUME, OPT_LOSSY, OPT_NO_STATS,
       OPT_ROPE, OPT_MASK_KEYS, OPT_WINDOW, OPT_SINKS, OPT_ABLATE, OPT_BATCH };

/* The combinations getopt cannot see; -1 when the options are fine, else the exit code. */
static int check_args(const struct pipeline_opts *a, int n_inputs, const char *const *inputs)
{
    if (!a->model_dir)
        return cli_usage_error("run", "-m DIR is required");
    if (!a->out || !a->out[0])
        return cli_usage_error("run", "-o OUT.h5 is required (an empty name is not a file)");
    if (n_inputs == 0)
        return cli_usage_error("run", "give one input: --token-ids, -p, -f or --corpus");
    if (n_inputs > 1)
        return cli_usage_error("run", "%s and %s contradict: give one input", inputs[0], inputs[1]);
    if (!a->corpus && (a->stride || a->max_seqs))
        return cli_usage_error("run", "%s applies to --corpus only", a->stride ? "--stride" : "--max-seqs");
    if (!a->dump && (a->layers || a->heads || a->dump_f16))
        return cli_usage_error("run", "%s selects dumps: add --dump", a->layers ? "--layers" : a->heads ? "--heads" : "--dump-dtype");
    struct ss_error err = {0};
    if (pipeline_opts_check(a, &err))
        return cli_usage_error("run", "%s", err.msg);
    return -1;
}

/* pipeline_run with SIGINT/SIGTERM setting the stop flag (and SIGXFSZ ignored) meanwhile. */
static int run_with_signals(const struct pipeline_opts *opts)
{
    struct ss_error err = {0};
    struct pipeline_opts job = *opts, *a = &job;
    volatile sig_atomic_t *stop = cli_signals_catch();
#ifdef SS_MPI
    struct run_dist *dist = run_mpi_open(stop, a->quiet);
    a->dist = dist && dist->size > 1 ? dist : NULL;
    if (a->dist && a->dist->rank != 0)
        a->log = NULL; /* rank 0 speaks for the job */
#endif
    enum ss_status s = pipeline_run(a, stop, &err);
    cli_signals_restore();
    /* a rank's error reached rank 0, which prints it once; printed before MPI_Finalize,
     * which a job being torn down may not survive */
    int rc = !s ? EXIT_CODE_OK : a->dist && a->dist->rank != 0 ? cli_exit_code(s) : cli_report(&err);
#ifdef SS_MPI
    run_mpi_close(dist);
#endif
    return rc;
}

/* OUT with "-cN" before a trailing ".h5". */
static void sweep_name(char *buf, size_t n, const char *out, int ctx)
{
    size_t len = strlen(out);
    if (len > 3 && !strcmp(out + len - 3, ".h5"))
        snprintf(buf, n, "%.*s-c%d.h5", (int)(len - 3), out, ctx);
    else
        snprintf(buf, n, "%s-c%d", out, ctx);
}

/* -c A,B,C: one run per context into OUT-cA.h5, ... (every output checked first). */
static int run_sweep(const struct pipeline_opts *a0, const char *list, int n_inputs, const char *const *inputs)
{
    int ctx[16], n = 0;
    const char *p = list;
    while (1) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v <= 0 || v > 1 << 30 || (*end && *end != ','))
            return cli_usage_error("run", "-c: '%s' is not a list of positive integers like 512,1024", list);
        if (n == 16)
            return cli_usage_error("run", "-c: '%s' has more than 16 contexts", list);
        ctx[n++] = (int)v;
        if (!*end)
            break;
        p = end + 1;
    }
    if (!a0->corpus)
        return cli_usage_error("run", "-c with several contexts applies to --corpus only");
    int rc = check_args(a0, n_inputs, inputs);
    if (rc >= 0)
        return rc;
    char names[16][4200];
    struct stat st;
    for (int i = 0; i < n; i++) {
        sweep_name(names[i], sizeof names[i], a0->out, ctx[i]);
        if (!a0->force && stat(names[i], &st) == 0) {
            fprintf(stderr, "sinkscope run: %s: exists; use --force to overwrite it\n", names[i]);
            return EXIT_CODE_BAD_INPUT;
        }
    }
    for (int i = 0; i < n; i++) {
        struct pipeline_opts a = *a0;
        a.ctx = ctx[i];
        a.out = names[i];
        a.sweep = list;
        if (!a.quiet)
            fprintf(stderr, "sinkscope run: context %d -> %s\n", ctx[i], names[i]);
        if ((rc = run_with_signals(&a)))
            return rc;
    }
    return EXIT_CODE_OK;
}

/* The options that take one integer: where it goes in struct pipeline_opts, its least
 * value (the most is 2^30) and what the message says it must be. */
static const struct int_opt {
    int opt;
    const char *name;
    long lo;
    const char *want;
    size_t off;
} int_opts[] = {
    {'c', "-c", 1, "a positive integer", offsetof(struct pipeline_opts, ctx)},
    {OPT_WINDOW, "--window", 1, "a positive number of keys", offsetof(struct pipeline_opts, window)},
    {OPT_SINKS, "--sink-tokens", 0, "a number of keys >= 0", offsetof(struct pipeline_opts, sink_tokens)},
    {OPT_STRIDE, "--stride", 1, "a positive integer", offsetof(struct pipeline_opts, stride)},
    {OPT_MAX_SEQS, "--max-seqs", 1, "a positive integer", offsetof(struct pipeline_opts, max_seqs)},
    {'t', "-t", 1, "a positive integer", offsetof(struct pipeline_opts, threads)},
    {OPT_BATCH, "--batch", 1, "a positive integer", offsetof(struct pipeline_opts, batch)},
};

static const struct int_opt *int_opt_find(int c)
{
    for (size_t i = 0; i < sizeof int_opts / sizeof *int_opts; i++)
        if (int_opts[i].opt == c)
            return &int_opts[i];
    return NULL;
}

int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},        {"token-ids", required_argument, 0, OPT_TOKEN_IDS},
        {"prompt", required_argument, 0, 'p'},       {"file", required_argument, 0, 'f'},
        {"corpus", required_argument, 0, OPT_CORPUS}, {"output", required_argument, 0, 'o'},
        {"context", required_argument, 0, 'c'},      {"stride", required_argument, 0, OPT_STRIDE},
        {"max-seqs", required_argument, 0, OPT_MAX_SEQS}, {"bos", required_argument, 0, OPT_BOS},
        {"dump", required_argument, 0, OPT_DUMP},    {"layers", required_argument, 0, OPT_LAYERS},
        {"heads", required_argument, 0, OPT_HEADS},  {"dump-dtype", required_argument, 0, OPT_DUMP_DTYPE},
        {"threads", required_argument, 0, 't'},      {"gate", required_argument, 0, OPT_GATE},
        {"sink-epsilon", required_argument, 0, OPT_EPS}, {"quiet", no_argument, 0, OPT_QUIET},
        {"force", no_argument, 0, OPT_FORCE},        {"resume", no_argument, 0, OPT_RESUME},
        {"lossy", no_argument, 0, OPT_LOSSY},        {"no-stats", no_argument, 0, OPT_NO_STATS},
        {"rope-scaling", required_argument, 0, OPT_ROPE}, {"mask-keys", required_argument, 0, OPT_MASK_KEYS},
        {"window", required_argument, 0, OPT_WINDOW}, {"sink-tokens", required_argument, 0, OPT_SINKS},
        {"ablate", required_argument, 0, OPT_ABLATE}, {"batch", required_argument, 0, OPT_BATCH},
        {"help", no_argument, 0, 'h'},               {0, 0, 0, 0},
    };
    struct pipeline_opts a;
    pipeline_opts_init(&a);
    const char *ctx_list = NULL;
    opterr = 0;
    int c, n_inputs = 0;
    const char *inputs[4];
    while ((c = getopt_long(argc, argv, ":m:p:f:o:c:t:h", opts, NULL)) != -1) {
        char *end;
        const struct int_opt *io = int_opt_find(c);
        if (io && !(c == 'c' && strchr(optarg, ','))) {
            if (cli_int_option(optarg, io->lo, 1 << 30, (int *)((char *)&a + io->off)))
                return cli_usage_error("run", "%s: '%s' is not %s", io->name, optarg, io->want);
            continue;
        }
        switch (c) {
        case 'm': a.model_dir = optarg; break;
        case OPT_TOKEN_IDS: a.token_ids = optarg; inputs[n_inputs++ % 4] = "--token-ids"; break;
        case 'p': a.prompt = optarg; inputs[n_inputs++ % 4] = "-p"; break;
        case 'f': a.file = optarg; inputs[n_inputs++ % 4] = "-f"; break;
        case OPT_CORPUS: a.corpus = optarg; inputs[n_inputs++ % 4] = "--corpus"; break;
        case 'o': a.out = optarg; break;
        case 'c': /* a list is a sweep, checked in run_sweep; one context is an integer option */
            ctx_list = optarg;
            break;
        case OPT_ROPE: a.rope_scaling = optarg; break;
        case OPT_MASK_KEYS: a.mask_keys = optarg; break;
        case OPT_ABLATE: a.ablate = optarg; break;
        case OPT_BOS: a.bos = optarg; break;
        case OPT_DUMP: a.dump = optarg; break;
        case OPT_LAYERS: a.layers = optarg; break;
        case OPT_HEADS: a.heads = optarg; break;
        case OPT_DUMP_DTYPE:
            if (strcmp(optarg, "f32") && strcmp(optarg, "f16"))
                return cli_usage_error("run", "--dump-dtype: '%s' is not f32 or f16", optarg);
            a.dump_f16 = !strcmp(optarg, "f16");
            break;
        case OPT_GATE: a.gate = optarg; break;
        case OPT_EPS:
            errno = 0;
            a.sink_epsilon = strtod(optarg, &end);
            if (end == optarg || *end || errno || !(a.sink_epsilon >= 0 && a.sink_epsilon <= 1))
                return cli_usage_error("run", "--sink-epsilon: '%s' is not a number in [0, 1]", optarg);
            break;
        case OPT_QUIET: a.quiet = 1; break;
        case OPT_FORCE: a.force = 1; break;
        case OPT_RESUME: a.resume = 1; break;
        case OPT_LOSSY: a.lossy = 1; break;
        case OPT_NO_STATS: a.no_stats = 1; break;
        case 'h': usage(stdout); return EXIT_CODE_OK;
        default: return cli_option_error("run", c, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error("run", "unexpected argument '%s'", argv[optind]);
    if (ctx_list)
        return run_sweep(&a, ctx_list, n_inputs, inputs);
    int rc = check_args(&a, n_inputs, inputs);
    return rc >= 0 ? rc : run_with_signals(&a);
}
