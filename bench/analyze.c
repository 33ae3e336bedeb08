/* bench/analyze.c — `summary` on a large run file: writes (once) a schema-conformant
 * run file with ~1 GiB of uncompressed attention dumps through the test runmaker,
 * then times loading its statistics and printing every table, in process.
 * usage: analyze FILE.h5 [layers heads seqs T]   (default 4 16 4 1024: 1 GiB of maps) */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "../analyze/analyze.h"
/* the runmaker is a test helper with no library home; compiled into this program */
#include "../tests/test_runmaker.c"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 6) {
        fprintf(stderr, "usage: %s FILE.h5 [layers heads seqs T]\n", argv[0]);
        return 2;
    }
    struct test_run_spec s;
    test_run_spec_default(&s);
    s.n_layers = argc == 6 ? atoi(argv[2]) : 4;
    s.n_heads = argc == 6 ? atoi(argv[3]) : 16;
    s.n_seqs = argc == 6 ? atoi(argv[4]) : 4;
    s.T = argc == 6 ? atoi(argv[5]) : 1024;
    s.n_kv_heads = 8;
    s.head_dim = 64;
    s.hidden = 1024;
    s.vocab = 151936;
    s.gate_kind = "headwise";
    s.with_attention = 1;
    s.with_gates = 1;
    struct stat st;
    double t0 = now();
    if (stat(argv[1], &st) != 0) {
        if (test_runmaker_write(argv[1], &s))
            return 1;
        stat(argv[1], &st);
        printf("wrote %s: %.2f GiB in %.1f s\n", argv[1], st.st_size / 1073741824.0, now() - t0);
    }
    printf("run file: %.2f GiB (%d layers x %d heads, %d seqs x %d positions, attention and gate dumps)\n",
           st.st_size / 1073741824.0, s.n_layers, s.n_heads, s.n_seqs, s.T);
    FILE *null = fopen("/dev/null", "w");
    struct ss_error err = {0};
    double best = 1e9;
    for (int rep = 0; rep < 5; rep++) {
        struct analyze_run r;
        t0 = now();
        if (analyze_run_load(&r, argv[1], NULL, &err) ||
            analyze_summary(null, &r, 1, 1, ANALYZE_FORMAT_TEXT, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        analyze_run_free(&r);
        double t = now() - t0;
        if (t < best)
            best = t;
    }
    printf("summary --per-layer --per-head (load + text, in process): best of 5 %.4f s\n", best);
    fclose(null);
    return 0;
}
