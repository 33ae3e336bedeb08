/* tests/test_faults.h — the child-process helpers of the faults suites (tests/test_faults.c):
 * each command runs in a forked child (cli_main) so limits and signals hit only the child. */
#ifndef SS_TESTS_TEST_FAULTS_H
#define SS_TESTS_TEST_FAULTS_H

#include <sys/resource.h>
#include <sys/types.h>

extern char fault_model[512];  /* synth tiny + a byte-level tokenizer */
extern char fault_corpus[512]; /* 512 lines of text (SS_FAULTS_CORPUS_LINES under valgrind) */
/* The child's stdout (NULL: /dev/null) and extra environment (NAME, VALUE pairs, NULL-ended). */
extern const char *fault_child_stdout;
extern const char *fault_child_env[8];

/* Make fault_model and fault_corpus once; 0 when ready. */
int fault_base_ready(void);
/* Fork `sinkscope ARGS` with stderr into errpath and RLIMIT_FSIZE = fsize when > 0. */
pid_t fault_spawn(const char *errpath, rlim_t fsize, const char **argv);
/* Exit status of pid, or 128 + signal. */
int fault_reap(pid_t pid);
void fault_slurp(const char *path, char *buf, size_t n);
/* Names in dir other than keep (NULL-ended), printed; their count. */
int fault_strays(const char *dir, const char *const *keep);
int fault_has_prefix(const char *dir, const char *prefix);
void fault_sleep_ms(int ms);
/* Checks: exit status want_rc and one stderr line containing want (when not NULL). */
void fault_expect_failure(const char *what, int rc, int want_rc, const char *errpath, const char *want);

#endif
