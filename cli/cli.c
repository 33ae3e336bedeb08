#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <getopt.h>

int cli_exit_code(enum ss_status s)
{
    switch (s) {
    case SS_OK: return EXIT_CODE_OK;
    case SS_ERR_INPUT:
    case SS_ERR_IO: return EXIT_CODE_BAD_INPUT;
    case SS_ERR_INTERRUPTED: return EXIT_CODE_INTERRUPTED;
    default: return EXIT_CODE_INTERNAL;
    }
}

int cli_report(const struct ss_error *e)
{
    fprintf(stderr, "sinkscope: %s\n", e->msg[0] ? e->msg : "unknown error");
    return cli_exit_code(e->status);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "sinkscope %s: %s (see 'sinkscope %s --help')\n", cmd, buf, cmd);
    return EXIT_CODE_BAD_INPUT;
}

int cli_option_error(const char *cmd, int c, char **argv)
{
    const char *word = optind > 0 ? argv[optind - 1] : "?";
    if (c == ':')
        return cli_usage_error(cmd, "option %s needs a value", word);
    return cli_usage_error(cmd, "unknown option '%s'", word);
}

struct command {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
};

static const struct command commands[] = {
    {"run", cmd_run, "run a checkpoint on text or token ids, write statistics and dumps to HDF5"},
    {"info", cmd_info, "show a checkpoint's config, gate layout, parameters and memory"},
    {"synth", cmd_synth, "write a random-weight checkpoint with a real model's shapes"},
    {"tokenize", cmd_tokenize, "tokenize text with a checkpoint's tokenizer.json"},
    {"summary", cmd_summary, "headline table (paper Table 4 columns) and per-layer tables of a run"},
    {"compare", cmd_compare, "runs side by side with ratios and differences"},
    {"audit", cmd_audit, "check a run against limits; exit 1 when one is exceeded"},
    {"plot", cmd_plot, "gnuplot figures of the paper's sink and gate findings"},
    {"report", cmd_report, "one self-contained HTML page: tables, figures, attention explorer"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: sinkscope COMMAND [OPTIONS]   (sinkscope COMMAND --help for its options)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\nexit status: 0 ok, 1 audit limit exceeded, 2 bad input, 3 internal error\n");
}

/* Output on stdout is the product of summary, compare, info, tokenize, audit: a write
 * that failed (a full disk, /dev/full, a closed pipe) must not exit 0. Checked once
 * here for every command, after its last printf. */
static int stdout_checked(const char *cmd, int rc)
{
    errno = 0;
    int failed = fflush(stdout) != 0;
    int e = errno;
    if (!failed && !ferror(stdout))
        return rc;
    clearerr(stdout);
    if (rc != EXIT_CODE_OK && rc != EXIT_CODE_LIMIT)
        return rc; /* the command failed and said so already */
    fprintf(stderr, "sinkscope %s: cannot write to standard output: %s\n", cmd,
            e ? strerror(e) : "write error");
    return rc == EXIT_CODE_OK || rc == EXIT_CODE_LIMIT ? EXIT_CODE_BAD_INPUT : rc;
}

int cli_main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_CODE_BAD_INPUT;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return EXIT_CODE_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("sinkscope %s\n", SINKSCOPE_VERSION);
        return EXIT_CODE_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) {
            optind = 0; /* commands use getopt_long; reset for in-process reuse (tests) */
            return stdout_checked(commands[i].name, commands[i].fn(argc - 1, argv + 1));
        }
    fprintf(stderr, "sinkscope: unknown command '%s' (see 'sinkscope --help')\n", argv[1]);
    return EXIT_CODE_BAD_INPUT;
}

int cli_int_option(const char *s, long lo, long hi, int *v)
{
    char *end;
    errno = 0; /* range-checked as a long before the cast: 4294967297 must not wrap to 1 */
    long x = strtol(s, &end, 10);
    if (end == s || *end || errno || x < lo || x > hi)
        return -1;
    *v = (int)x;
    return 0;
}

int cli_labels(const char *cmd, char *s, const char **out, int n_runs)
{
    int n = 0;
    for (char *p = s;; n++) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = 0;
        if (!*p)
            return cli_usage_error(cmd, "--labels: empty name %d", n + 1);
        if (n < n_runs)
            out[n] = p;
        if (!comma)
            break;
        p = comma + 1;
    }
    if (n + 1 != n_runs)
        return cli_usage_error(cmd, "--labels gives %d names for %d run files", n + 1, n_runs);
    return -1;
}
