/* bench/tokenizer.c — tokenizer load time and encode throughput on one core.
 * usage: tokenizer TOKENIZER(.json|DIR) TEXTFILE [REPEATS]
 * Prints load seconds (best of 3) and encode MB/s (best of REPEATS), wall and CPU time, tokens. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../tokenizer/tokenizer.h"

static double clock_s(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
static double now(void) { return clock_s(CLOCK_MONOTONIC); }
static double cpu(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); } /* robust when the machine is shared */

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s TOKENIZER TEXTFILE [REPEATS]\n", argv[0]);
        return 2;
    }
    int reps = argc > 3 ? atoi(argv[3]) : 3;
    FILE *f = fopen(argv[2], "rb");
    if (!f) {
        perror(argv[2]);
        return 2;
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)len + 1);
    if (!text || fread(text, 1, (size_t)len, f) != (size_t)len) {
        fprintf(stderr, "%s: cannot read\n", argv[2]);
        return 2;
    }
    fclose(f);

    struct ss_error err = {0};
    struct tokenizer *tk = NULL;
    double best_load = 1e9, best_load_cpu = 1e9;
    for (int i = 0; i < 3; i++) {
        tokenizer_free(tk);
        double t0 = now(), c0 = cpu();
        if (tokenizer_load(&tk, argv[1], &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 2;
        }
        double t = now() - t0, c = cpu() - c0;
        if (t < best_load)
            best_load = t;
        if (c < best_load_cpu)
            best_load_cpu = c;
    }
    double best = 1e9, best_cpu = 1e9;
    int n = 0;
    for (int r = 0; r < reps; r++) {
        int32_t *ids;
        double t0 = now(), c0 = cpu();
        if (tokenizer_encode(tk, text, (size_t)len, 1, &ids, &n, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 2;
        }
        double t = now() - t0, c = cpu() - c0;
        if (t < best)
            best = t;
        if (c < best_cpu)
            best_cpu = c;
        free(ids);
    }
    printf("sinkscope tokenizer: vocab %d, load %.3f s wall, %.3f s CPU (best of 3)\n", tokenizer_vocab_size(tk),
           best_load, best_load_cpu);
    printf("sinkscope tokenizer: encode %.2f MB: %.3f s wall = %.2f MB/s, %.3f s CPU = %.2f MB/s; %d tokens "
           "(%.2f bytes/token), best of %d\n",
           (double)len / 1e6, best, (double)len / 1e6 / best, best_cpu, (double)len / 1e6 / best_cpu, n,
           n ? (double)len / n : 0.0, reps);
    tokenizer_free(tk);
    free(text);
    return 0;
}
