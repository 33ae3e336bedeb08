/* cli/cmd_run.c — `sinkscope run`: parse the options, install the SIGINT/SIGTERM flag,
 * join the MPI job when built with MPI=1 and started by mpirun/srun (mpi/run_mpi.h),
 * call the library's pipeline_run (pipeline/pipeline.h) and map its status to an exit code. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "../pipeline/pipeline.h"
#ifdef SS_MPI
#include "../mpi/run_mpi.h"
#endif

static volatile sig_atomic_t run_stop;

static void on_signal(int sig)
{
    (void)sig;
    run_stop = 1;
}

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
            "      --gate native|off|constant=X   gate mode of gated checkpoints\n"
            "      --sink-epsilon E   sink-rate threshold (default 0.3)\n"
            "      --resume           keep finished sequences in OUT.partial/ and continue from them\n"
            "      --lossy            replace invalid UTF-8 in the input instead of refusing it\n"
            "      --quiet            no progress line\n"
            "      --force            overwrite OUT\n");
}

static int parse_pos_int(const char *s, int *v)
{
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (end == s || *end || errno || x <= 0 || x > 1 << 30)
        return -1;
    *v = (int)x;
    return 0;
}

enum { OPT_TOKEN_IDS = 1000, OPT_CORPUS, OPT_STRIDE, OPT_MAX_SEQS, OPT_BOS, OPT_DUMP, OPT_LAYERS, OPT_HEADS,
       OPT_DUMP_DTYPE, OPT_GATE, OPT_EPS, OPT_QUIET, OPT_FORCE, OPT_RESUME, OPT_LOSSY, OPT_NO_STATS };

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
#ifdef SS_MPI
    struct run_dist *dist = run_mpi_open(&run_stop, a->quiet); /* before our handlers: MPI_Init may set its own */
    a->dist = dist && dist->size > 1 ? dist : NULL;
    if (a->dist && a->dist->rank != 0)
        a->log = NULL; /* rank 0 speaks for the job */
#endif
    struct sigaction sa, old_int, old_term, old_xfsz, ign;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    run_stop = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    memset(&ign, 0, sizeof ign); /* over a file-size limit, write() then fails cleanly instead of killing us */
    ign.sa_handler = SIG_IGN;
    sigaction(SIGXFSZ, &ign, &old_xfsz);
    enum ss_status s = pipeline_run(a, &run_stop, &err);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGXFSZ, &old_xfsz, NULL);
    /* a rank's error reached rank 0, which prints it once; printed before MPI_Finalize,
     * which a job being torn down may not survive */
    int rc = !s ? EXIT_CODE_OK : a->dist && a->dist->rank != 0 ? cli_exit_code(s) : cli_report(&err);
#ifdef SS_MPI
    run_mpi_close(dist);
#endif
    return rc;
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
        {"help", no_argument, 0, 'h'},               {0, 0, 0, 0},
    };
    struct pipeline_opts a;
    pipeline_opts_init(&a);
    opterr = 0;
    int c, n_inputs = 0;
    const char *inputs[4];
    while ((c = getopt_long(argc, argv, ":m:p:f:o:c:t:h", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'm': a.model_dir = optarg; break;
        case OPT_TOKEN_IDS: a.token_ids = optarg; inputs[n_inputs++ % 4] = "--token-ids"; break;
        case 'p': a.prompt = optarg; inputs[n_inputs++ % 4] = "-p"; break;
        case 'f': a.file = optarg; inputs[n_inputs++ % 4] = "-f"; break;
        case OPT_CORPUS: a.corpus = optarg; inputs[n_inputs++ % 4] = "--corpus"; break;
        case 'o': a.out = optarg; break;
        case 'c':
            if (parse_pos_int(optarg, &a.ctx))
                return cli_usage_error("run", "-c: '%s' is not a positive integer", optarg);
            break;
        case OPT_STRIDE:
            if (parse_pos_int(optarg, &a.stride))
                return cli_usage_error("run", "--stride: '%s' is not a positive integer", optarg);
            break;
        case OPT_MAX_SEQS:
            if (parse_pos_int(optarg, &a.max_seqs))
                return cli_usage_error("run", "--max-seqs: '%s' is not a positive integer", optarg);
            break;
        case 't':
            if (parse_pos_int(optarg, &a.threads))
                return cli_usage_error("run", "-t: '%s' is not a positive integer", optarg);
            break;
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
        case ':': return cli_usage_error("run", "option %s needs a value", argv[optind - 1]);
        default: return cli_usage_error("run", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("run", "unexpected argument '%s'", argv[optind]);
    int rc = check_args(&a, n_inputs, inputs);
    return rc >= 0 ? rc : run_with_signals(&a);
}
