/* bench/batch.c — corpus batching (issue 13) inside one process: the same W windows through
 * the layers with model_forward_batch at B = 1, 2, 4, ... (W / B passes each), rounds
 * alternating, best of each. No hooks: the LM head is skipped, so what is timed is the
 * layers, where a weight slice is converted once per pass for B windows.
 * usage: batch MODEL_DIR [T [WINDOWS [ROUNDS [THREADS]]]]   (default 512 8 2 2) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../model/model.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: batch MODEL_DIR [T [WINDOWS [ROUNDS [THREADS]]]]\n");
        return 2;
    }
    int T = argc > 2 ? atoi(argv[2]) : 512, W = argc > 3 ? atoi(argv[3]) : 8;
    int R = argc > 4 ? atoi(argv[4]) : 2, threads = argc > 5 ? atoi(argv[5]) : 2;
    struct model m = {0};
    struct ss_error err = {0};
    if (T < 1 || W < 1 || R < 1 || model_load(&m, argv[1], &err)) {
        fprintf(stderr, "bench batch: %s\n", err.msg[0] ? err.msg : "bad arguments");
        return 2;
    }
    struct forward_opts fo = {0};
    fo.threads = threads, fo.batch = W;
    struct run_state *rs = NULL;
    int32_t *tok = malloc(sizeof *tok * (size_t)W * T);
    struct hook_set none;
    hook_set_init(&none);
    const struct hook_set **hooks = malloc(sizeof *hooks * W);
    if (!tok || !hooks || run_state_new(&rs, &m.cfg, T, &fo, &err)) {
        fprintf(stderr, "bench batch: %s\n", err.msg[0] ? err.msg : "out of memory");
        return 2;
    }
    for (size_t i = 0; i < (size_t)W * T; i++)
        tok[i] = (int32_t)((i * 7919 + 13) % (size_t)m.cfg.vocab);
    for (int b = 0; b < W; b++)
        hooks[b] = &none;
    double best[16];
    int n_b = 0, bs[16];
    for (int B = 1; B <= W && n_b < 16; B *= 2)
        bs[n_b] = B, best[n_b++] = 1e30;
    if (model_forward_batch(&m, rs, tok, T, 1, hooks, &fo, &err)) /* pages of the weights warm */
        return fprintf(stderr, "bench batch: %s\n", err.msg), 2;
    for (int r = 0; r < R; r++)
        for (int i = 0; i < n_b; i++) {
            double t0 = now();
            for (int w0 = 0; w0 < W; w0 += bs[i]) {
                int n = W - w0 < bs[i] ? W - w0 : bs[i];
                if (model_forward_batch(&m, rs, tok + (size_t)w0 * T, T, n, hooks, &fo, &err))
                    return fprintf(stderr, "bench batch: %s\n", err.msg), 2;
            }
            double dt = now() - t0;
            best[i] = dt < best[i] ? dt : best[i];
        }
    printf("bench batch: %s, %d layers, %d windows of %d tokens, %d threads, layers only (no head), best of %d "
           "alternating rounds:\n", argv[1], m.cfg.n_layers, W, T, threads, R);
    for (int i = 0; i < n_b; i++)
        printf("  batch %2d: %7.2f s = %7.1f tokens/s (x%.3f vs batch 1)\n", bs[i], best[i], W * (double)T / best[i],
               best[0] / best[i]);
    free(tok), free(hooks);
    run_state_free(rs);
    model_free(&m);
    return 0;
}
