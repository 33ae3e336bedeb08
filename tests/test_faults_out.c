/* tests/test_faults_out.c — faults of issue 14 around outputs and signals, each in a forked
 * child (tests/test_faults.h): output lost on stdout (/dev/full) must not exit 0; two runs
 * writing one new name at once cannot both succeed; SIGTERM during plot leaves no
 * $TMPDIR/sinkscope-plot-*; SIGINT during one long sequence is honoured within a second. */
#include <CUnit/CUnit.h>
#include <hdf5.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/clock.h"
#include "test_faults.h"
#include "test_util.h"

/* A small run file of the faults model in dir. */
static void small_run(const char *dir, char *run, size_t n, const char *errp)
{
    snprintf(run, n, "%s/r.h5", dir);
    const char *argv[] = {"run", "-m", fault_model, "--token-ids", "1,2,3,4", "-o", run, "-t", "1", "--quiet", NULL};
    CU_ASSERT_EQUAL_FATAL(fault_reap(fault_spawn(errp, 0, argv)), 0);
}

/* summary, compare, info, tokenize, audit with stdout on /dev/full: exit 2, one line. */
static void test_stdout_full(void)
{
    CU_ASSERT_EQUAL_FATAL(fault_base_ready(), 0);
    const char *dir = test_tmpdir("fault-devfull");
    char run[600], errp[600];
    snprintf(errp, sizeof errp, "%s/../fault-devfull.err", dir);
    small_run(dir, run, sizeof run, errp);
    const char *cmds[][8] = {
        {"summary", run, NULL},
        {"compare", run, run, NULL},
        {"info", "-m", fault_model, NULL},
        {"tokenize", "-m", fault_model, "-p", "hello", NULL},
        {"audit", run, "--max-sink-rate", "1", NULL},
    };
    fault_child_stdout = "/dev/full";
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        int rc = fault_reap(fault_spawn(errp, 0, cmds[i]));
        fault_expect_failure(cmds[i][0], rc, 2, errp, "cannot write");
    }
    fault_child_stdout = NULL;
}

/* Two runs to the same new OUT without --force at once: one wins, the other exits 2 and
 * replaces nothing; the file at OUT is complete. */
static void test_two_writers(void)
{
    CU_ASSERT_EQUAL_FATAL(fault_base_ready(), 0);
    const char *dir = test_tmpdir("fault-two-writers");
    char out[600], e1[600], e2[600];
    snprintf(out, sizeof out, "%s/r.h5", dir);
    snprintf(e1, sizeof e1, "%s/../fault-two-writers-1.err", dir);
    snprintf(e2, sizeof e2, "%s/../fault-two-writers-2.err", dir);
    const char *argv[] = {"run", "-m", fault_model, "--corpus", fault_corpus, "-c", "256", "--max-seqs", "3",
                          "-o", out, "-t", "1", "--quiet", NULL};
    pid_t a = fault_spawn(e1, 0, argv), b = fault_spawn(e2, 0, argv);
    int ra = fault_reap(a), rb = fault_reap(b);
    printf("\n    exits %d and %d", ra, rb);
    CU_ASSERT((ra == 0) + (rb == 0) == 1);
    if (ra != 0)
        fault_expect_failure("the losing writer", ra, 2, e1, out);
    if (rb != 0)
        fault_expect_failure("the losing writer", rb, 2, e2, out);
    const char *keep[] = {"r.h5", NULL};
    CU_ASSERT_EQUAL(fault_strays(dir, keep), 0);
    const char *sargv[] = {"summary", out, NULL};
    CU_ASSERT_EQUAL(fault_reap(fault_spawn(e1, 0, sargv)), 0);
}

/* SIGTERM while gnuplot runs (a stand-in that sleeps): exit 130, no figure, no temporary
 * directory left in $TMPDIR. */
static void test_sigterm_during_plot(void)
{
    CU_ASSERT_EQUAL_FATAL(fault_base_ready(), 0);
    const char *dir = test_tmpdir("fault-plot-term");
    char run[600], out[600], errp[600], bin[600], gp[700], tmpd[600], path[4800];
    snprintf(errp, sizeof errp, "%s/../fault-plot-term.err", dir);
    small_run(dir, run, sizeof run, errp);
    snprintf(out, sizeof out, "%s/fig.png", dir);
    snprintf(bin, sizeof bin, "%s/bin", dir);
    snprintf(tmpd, sizeof tmpd, "%s/tmp", dir);
    CU_ASSERT_EQUAL_FATAL(mkdir(bin, 0755), 0);
    CU_ASSERT_EQUAL_FATAL(mkdir(tmpd, 0755), 0);
    snprintf(gp, sizeof gp, "%s/gnuplot", bin);
    FILE *f = fopen(gp, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("#!/bin/sh\nexec sleep 30\n", f);
    fclose(f);
    chmod(gp, 0755);
    snprintf(path, sizeof path, "%s:%s", bin, getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    fault_child_env[0] = "PATH";
    fault_child_env[1] = path;
    fault_child_env[2] = "TMPDIR";
    fault_child_env[3] = tmpd;
    fault_child_env[4] = NULL;
    const char *argv[] = {"plot", "first-token", run, "-o", out, NULL};
    pid_t pid = fault_spawn(errp, 0, argv);
    fault_child_env[0] = NULL;
    for (int i = 0; i < 3000 && !fault_has_prefix(tmpd, "sinkscope-plot-"); i++)
        fault_sleep_ms(10);
    CU_ASSERT(fault_has_prefix(tmpd, "sinkscope-plot-"));
    fault_sleep_ms(200);
    kill(pid, SIGTERM);
    int rc = fault_reap(pid);
    fault_expect_failure("plot after SIGTERM", rc, 130, errp, "interrupted");
    CU_ASSERT_EQUAL(fault_strays(tmpd, NULL), 0);
    const char *keep[] = {"r.h5", "bin", "tmp", NULL};
    CU_ASSERT_EQUAL(fault_strays(dir, keep), 0);
}

/* SIGINT in the middle of one long sequence (no statistics: the cheapest hooks) stops the
 * run within a second (20 s under valgrind, which make valgrind marks by shrinking the corpus). */
static void test_sigint_long_sequence(void)
{
    CU_ASSERT_EQUAL_FATAL(fault_base_ready(), 0);
    const char *dir = test_tmpdir("fault-long-seq");
    char out[600], errp[600], ids[600];
    snprintf(out, sizeof out, "%s/r.h5", dir);
    snprintf(errp, sizeof errp, "%s/../fault-long-seq.err", dir);
    snprintf(ids, sizeof ids, "%s/ids.txt", dir);
    FILE *f = fopen(ids, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    for (int i = 0; i < 12000; i++)
        fprintf(f, "%d,", 1 + i % 500);
    fclose(f);
    char arg[700];
    snprintf(arg, sizeof arg, "@%s", ids);
    const char *argv[] = {"run", "-m", fault_model, "--token-ids", arg, "--no-stats", "-o", out, "-t", "1",
                          "--quiet", NULL};
    pid_t pid = fault_spawn(errp, 0, argv);
    char tmpname[64];
    snprintf(tmpname, sizeof tmpname, "r.h5.tmp-%d", (int)pid);
    for (int i = 0; i < 6000 && !fault_has_prefix(dir, tmpname); i++) /* the forward pass has begun */
        fault_sleep_ms(10);
    fault_sleep_ms(300);
    double t0 = clock_now_s();
    kill(pid, SIGINT);
    int rc = fault_reap(pid);
    double took = clock_now_s() - t0, limit = getenv("SS_FAULTS_CORPUS_LINES") ? 20.0 : 1.0;
    printf("\n    stopped %.3f s after SIGINT (limit %.0f s)", took, limit);
    char err[4096];
    fault_slurp(errp, err, sizeof err);
    CU_ASSERT_EQUAL(rc, 130);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "interrupted"));
    CU_ASSERT(took < limit);
    const char *keep[] = {"ids.txt", NULL};
    CU_ASSERT_EQUAL(fault_strays(dir, keep), 0);
}

/* --resume after the weights at the same path changed: the finished records are refused
 * (the fingerprint is what the weights are, not their path). */
static void test_resume_changed_weights(void)
{
    CU_ASSERT_EQUAL_FATAL(fault_base_ready(), 0);
    const char *dir = test_tmpdir("fault-resume-weights");
    char model[600], out[600], errp[600], cmd[2000];
    snprintf(model, sizeof model, "%s/m", dir);
    snprintf(out, sizeof out, "%s/r.h5", dir);
    snprintf(errp, sizeof errp, "%s/../fault-resume-weights.err", dir);
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s'", fault_model, model);
    CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
    const char *argv[] = {"run", "-m", model, "--corpus", fault_corpus, "-c", "256", "--max-seqs", "3", "-o", out,
                          "-t", "1", "--quiet", "--resume", NULL};
    fault_child_env[0] = "SINKSCOPE_TEST_FAIL_AFTER";
    fault_child_env[1] = "1";
    fault_child_env[2] = NULL;
    int rc = fault_reap(fault_spawn(errp, 0, argv));
    fault_child_env[0] = NULL;
    CU_ASSERT_EQUAL_FATAL(rc, 2); /* one record finished, then a simulated disk error */
    /* new weights behind the same path: one byte of the data region flipped */
    snprintf(cmd, sizeof cmd, "%s/model.safetensors", model);
    FILE *f = fopen(cmd, "r+b");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fseek(f, -2, SEEK_END);
    int c = fgetc(f);
    fseek(f, -2, SEEK_END);
    fputc(c ^ 0x40, f);
    fclose(f);
    rc = fault_reap(fault_spawn(errp, 0, argv));
    fault_expect_failure("--resume after the weights changed", rc, 2, errp, "different command or input");
    CU_ASSERT_EQUAL(access(out, F_OK), -1);
}

/* A run file held open for writing by another process (HDF5 file lock): summary names
 * that, not "corrupt HDF5 file". */
static void test_locked_run_file(void)
{
    CU_ASSERT_EQUAL_FATAL(fault_base_ready(), 0);
    const char *dir = test_tmpdir("fault-locked");
    char run[600], errp[600], ready[700];
    snprintf(errp, sizeof errp, "%s/../fault-locked.err", dir);
    small_run(dir, run, sizeof run, errp);
    snprintf(ready, sizeof ready, "%s/ready", dir);
    fflush(stdout);
    pid_t w = fork();
    if (w == 0) { /* the other writer: holds the file open read-write until killed */
        hid_t f = H5Fopen(run, H5F_ACC_RDWR, H5P_DEFAULT);
        FILE *r = fopen(ready, "w");
        if (r)
            fclose(r);
        if (f >= 0)
            pause();
        _exit(1);
    }
    for (int i = 0; i < 500 && access(ready, F_OK) != 0; i++)
        fault_sleep_ms(10);
    const char *argv[] = {"summary", run, NULL};
    int rc = fault_reap(fault_spawn(errp, 0, argv));
    kill(w, SIGKILL);
    fault_reap(w);
    fault_expect_failure("summary of a file open for writing", rc, 2, errp, "another process");
}

/* Paths up to PATH_MAX work (no ~500-byte buffers): a checkpoint with its tokenizer, a run and
 * a summary 3 KB deep; a message about a missing file there still says what is wrong. */
static void test_long_paths(void)
{
    CU_ASSERT_EQUAL_FATAL(fault_base_ready(), 0);
    const char *dir = test_tmpdir("fault-long-path");
    static char deep[4096], model[4200], run[4200], missing[4200], cmd[8600], errp[600];
    snprintf(errp, sizeof errp, "%s/../fault-long-path.err", dir);
    size_t o = (size_t)snprintf(deep, sizeof deep, "%s", dir);
    for (int i = 0; i < 14; i++) {
        o += (size_t)snprintf(deep + o, sizeof deep - o, "/%0200d", i);
        CU_ASSERT_EQUAL_FATAL(mkdir(deep, 0755), 0);
    }
    snprintf(model, sizeof model, "%s/m", deep);
    snprintf(run, sizeof run, "%s/r.h5", deep);
    snprintf(missing, sizeof missing, "%s/missing.h5", deep);
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s'", fault_model, model);
    CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
    const char *rargv[] = {"run", "-m", model, "-p", "hello", "-o", run, "-t", "1", "--quiet", NULL};
    CU_ASSERT_EQUAL(fault_reap(fault_spawn(errp, 0, rargv)), 0);
    const char *sargv[] = {"summary", run, NULL};
    CU_ASSERT_EQUAL(fault_reap(fault_spawn(errp, 0, sargv)), 0);
    const char *margv[] = {"summary", missing, NULL};
    int rc = fault_reap(fault_spawn(errp, 0, margv));
    fault_expect_failure("summary of a missing file 3 KB deep", rc, 2, errp, "missing.h5: cannot open");
}

SS_SUITE(faults_out)
{
    CU_pSuite s = CU_add_suite("faults_out", NULL, NULL);
    CU_add_test(s, "stdout on /dev/full: summary, compare, info, tokenize, audit exit 2", test_stdout_full);
    CU_add_test(s, "two runs to one new -o at once: one wins, nothing replaced", test_two_writers);
    CU_add_test(s, "SIGTERM during plot leaves no $TMPDIR/sinkscope-plot-*", test_sigterm_during_plot);
    CU_add_test(s, "SIGINT during one long sequence honoured within a second", test_sigint_long_sequence);
    CU_add_test(s, "--resume refuses records made with other weights at the same path", test_resume_changed_weights);
    CU_add_test(s, "a run file open for writing elsewhere is named as such", test_locked_run_file);
    CU_add_test(s, "paths up to PATH_MAX; a long path in a message keeps the problem", test_long_paths);
}
