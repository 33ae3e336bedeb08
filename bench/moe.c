/* bench/moe.c — one gpt-oss-20b expert (hidden 2880, expert FFN 2880: gate_up [5760, 2880],
 * down [2880, 2880]) run by moe_experts_forward over N routed tokens, with the expert
 * weights stored as MXFP4 (as released), as BF16 and as float32, against OpenBLAS
 * sgemm alone on the same shapes; alternating in one process (the machine is noisy).
 * usage: moe [N_TOKENS [THREADS [REPS]]]   (default 64 2 5: a 512-token window routes
 * 512*4/32 = 64 tokens to an expert on average). Prints tokens/s and bytes per expert. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../model/moe.h"
#include "../model/mxfp4.h"
#include "../model/safetensors.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

enum { HID = 2880, FF = 2880 };

int main(int argc, char **argv)
{
    int N = argc > 1 ? atoi(argv[1]) : 64, threads = argc > 2 ? atoi(argv[2]) : 2, reps = argc > 3 ? atoi(argv[3]) : 5;
    size_t n_gu = (size_t)2 * FF * HID, n_dn = (size_t)HID * FF;
    uint8_t *bl = malloc((n_gu + n_dn) / 2), *sc = malloc((n_gu + n_dn) / 32);
    float *f32 = malloc(sizeof(float) * (n_gu + n_dn));
    uint16_t *b16 = malloc(2 * (n_gu + n_dn));
    float *x = malloc(sizeof(float) * (size_t)N * HID), *out = malloc(sizeof(float) * (size_t)N * HID);
    float *gu = malloc(sizeof(float) * (size_t)N * 2 * FF), *ye = malloc(sizeof(float) * (size_t)N * HID);
    struct ss_error err = {0};
    srand(1);
    for (size_t i = 0; i < (n_gu + n_dn) / 2; i++)
        bl[i] = (uint8_t)rand();
    for (size_t i = 0; i < (n_gu + n_dn) / 32; i++)
        sc[i] = (uint8_t)(120 + rand() % 4);
    mxfp4_rows_f32(bl, sc, HID / 32, 0, 2 * FF, f32);
    mxfp4_rows_f32(bl + n_gu / 2, sc + n_gu / 32, FF / 32, 0, HID, f32 + n_gu);
    for (size_t i = 0; i < n_gu + n_dn; i++)
        b16[i] = st_f32_to_bf16(f32[i]); /* exact: FP4 values times powers of two */
    for (size_t i = 0; i < (size_t)N * HID; i++)
        x[i] = (float)(rand() % 200 - 100) / 100.0f;
    struct moe_config cfg = {1, 1, HID, FF, MOE_ROUTER_TOPK_SOFTMAX, 0, MOE_GLU_CLAMPED, 1.702f, 7.0f};
    struct weight w4[2] = {weight_mxfp4(bl, sc, 2 * FF, HID), weight_mxfp4(bl + n_gu / 2, sc + n_gu / 32, HID, FF)};
    struct weight wb[2] = {{b16, WEIGHT_BF16, 2 * FF, HID, NULL, NULL}, {b16 + n_gu, WEIGHT_BF16, HID, FF, NULL, NULL}};
    struct weight wf[2] = {weight_f32(f32, 2 * FF, HID), weight_f32(f32 + n_gu, HID, FF)};
    const char *names[3] = {"mxfp4", "bf16", "f32"};
    struct weight *ws[3] = {w4, wb, wf};
    size_t bytes[3] = {(n_gu + n_dn) / 2 + (n_gu + n_dn) / 32, 2 * (n_gu + n_dn), 4 * (n_gu + n_dn)};
    int *idx = calloc((size_t)N, sizeof(int));
    float *wt = malloc(sizeof(float) * (size_t)N);
    for (int t = 0; t < N; t++)
        wt[t] = 1.0f;
    struct linear_exec ex = {threads, malloc(sizeof(float) * threads * LINEAR_SLICE * (size_t)HID), LINEAR_SLICE * (size_t)HID};
    double best[4] = {1e9, 1e9, 1e9, 1e9};
    openblas_set_num_threads(1);
    for (int r = 0; r < reps; r++) {
        for (int k = 0; k < 3; k++) {
            struct moe_weights mw = {weight_f32(NULL, 0, 0), NULL, &ws[k][0], NULL, &ws[k][1], NULL};
            double t0 = now();
            if (moe_experts_forward(out, x, &cfg, &mw, idx, wt, N, &ex, &err)) {
                fprintf(stderr, "moe: %s\n", err.msg);
                return 3;
            }
            double dt = now() - t0;
            best[k] = dt < best[k] ? dt : best[k];
        }
        openblas_set_num_threads(threads);
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, 2 * FF, HID, 1, x, HID, f32, HID, 0, gu, 2 * FF);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, HID, FF, 1, gu, 2 * FF, f32 + n_gu, FF, 0, ye, FF);
        double dt = now() - t0;
        openblas_set_num_threads(1);
        best[3] = dt < best[3] ? dt : best[3];
    }
    printf("moe expert (gpt-oss-20b shapes, %d tokens, %d threads, best of %d):\n", N, threads, reps);
    for (int k = 0; k < 3; k++)
        printf("  %-6s %9.0f tokens/s  %6.1f MB per expert  %.2fx sgemm alone\n", names[k], N / best[k],
               bytes[k] / 1e6, best[3] / best[k]);
    printf("  sgemm  %9.0f tokens/s  (OpenBLAS on float32 copies, %d threads)\n", N / best[3], threads);
    free(bl), free(sc), free(f32), free(b16), free(x), free(out), free(gu), free(ye), free(idx), free(wt), free(ex.scratch);
    return 0;
}
