/* cli/cli.h — the thin command layer: one cmd_<name>() per subcommand, each
 * parsing its options, calling the library and mapping errors to exit codes.
 * Only this folder prints user-facing errors and decides exit statuses. */
#ifndef SS_CLI_CLI_H
#define SS_CLI_CLI_H

#include <signal.h>

#include "../common/error.h"

enum exit_code {
    EXIT_CODE_OK = 0,
    EXIT_CODE_LIMIT = 1,       /* audit: a limit was exceeded */
    EXIT_CODE_BAD_INPUT = 2,   /* bad file, option or data; nothing written */
    EXIT_CODE_INTERNAL = 3,    /* out of memory or a bug */
    EXIT_CODE_INTERRUPTED = 130,
};

#include "../common/version.h" /* SINKSCOPE_VERSION */

/* Print "sinkscope: <msg>" on one line to stderr and return the exit code for e. */
int cli_report(const struct ss_error *e);
/* Print "sinkscope <cmd>: <formatted>" on stderr; returns EXIT_CODE_BAD_INPUT. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_exit_code(enum ss_status s);
/* The one message for a getopt failure: c == ':' (the optstring starts with ':'):
 * "option -m needs a value"; else "unknown option '--x'". Commands set opterr = 0. */
int cli_option_error(const char *cmd, int c, char **argv);
/* The one integer-option reader: *v = s as a whole base-10 integer in lo..hi; -1 (v untouched)
 * for anything else (empty, trailing characters, out of range, overflow). Callers word the error. */
int cli_int_option(const char *s, long lo, long hi, int *v);
/* --labels a,b,c of command cmd, cut in place in s: one non-empty name per run file into
 * out[0..n_runs). -1 when they fit, else the exit status (message printed). */
int cli_labels(const char *cmd, char *s, const char **out, int n_runs);

/* SIGINT/SIGTERM set the returned flag instead of killing the process (cli/signals.c);
 * restore puts the previous handlers back. */
volatile sig_atomic_t *cli_signals_catch(void);
void cli_signals_restore(void);

int cmd_run(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_summary(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_report(int argc, char **argv);

/* Dispatch argv[1] to its command (argv[0] is the program). Used by main and by tests. */
int cli_main(int argc, char **argv);

#endif
