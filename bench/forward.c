/* bench/forward.c — forward-pass throughput against OpenBLAS sgemm on the same shapes.
 * usage: forward [MODEL_DIR [T [THREADS]]]   (default build/bench-models/gated-1b 512 2)
 * Writes `synth --preset gated-1b` (bf16) into MODEL_DIR when it has no config.json.
 * Prints load time, tokens/s and GFLOP/s of the forward (without and with the lm_head),
 * sgemm GFLOP/s on the projection shapes of one layer measured in the same run, their
 * ratio, and peak RSS against 1.1 x float32 weights + 256 MB. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "../model/model.h"
#include "../model/synth.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

static int no_op(void *user, const struct hook_event *ev, struct ss_error *err)
{
    (void)user, (void)ev, (void)err;
    return 0;
}

/* Best-of-3 seconds of out[T, N] = a[T, K] @ w[N, K]^T. */
static double time_sgemm(const float *a, const float *w, float *out, int T, int N, int K)
{
    double best = 1e30;
    for (int r = 0; r < 3; r++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, N, K, 1.0f, a, K, w, K, 0.0f, out, N);
        double dt = now() - t0;
        best = dt < best ? dt : best;
    }
    return best;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "build/bench-models/gated-1b";
    int T = argc > 2 ? atoi(argv[2]) : 512, threads = argc > 3 ? atoi(argv[3]) : 2;
    struct ss_error err = {0};
    char cfg_path[4200];
    snprintf(cfg_path, sizeof cfg_path, "%s/config.json", dir);
    if (access(cfg_path, F_OK) != 0) {
        struct synth_opts so = {.preset = "gated-1b", .gate = -1, .bf16 = 1, .seed = 1};
        printf("writing synth gated-1b (bf16) to %s ...\n", dir);
        fflush(stdout);
        double t0 = now();
        if (synth_write(dir, &so, &err)) {
            fprintf(stderr, "bench forward: %s\n", err.msg);
            return 2;
        }
        printf("  synth: %.1f s\n", now() - t0);
    }
    double t0 = now();
    struct model m;
    if (model_load(&m, dir, &err)) {
        fprintf(stderr, "bench forward: %s\n", err.msg);
        return 2;
    }
    double t_load = now() - t0, rss_load = peak_rss_mb();
    const struct model_config *c = &m.cfg;
    double wmb = m.n_params * 4.0 / 1048576.0;
    printf("model %s: %s, %d layers, gate %s, %s weights, %.3f B params = %.0f MB float32\n", dir, c->model_type,
           c->n_layers, gate_kind_name(c->gate), c->dtype, m.n_params * 1e-9, wmb);
    printf("load: %.2f s, peak RSS after load %.0f MB\n", t_load, rss_load);

    struct forward_opts fo = {.threads = threads};
    struct run_state *rs;
    if (run_state_new(&rs, c, T, &fo, &err)) {
        fprintf(stderr, "bench forward: %s\n", err.msg);
        return 2;
    }
    int32_t *tok = malloc(T * sizeof *tok);
    for (int t = 0; t < T; t++)
        tok[t] = (int32_t)((t * 7919u + 13) % (unsigned)c->vocab);

    /* FLOPs: projections, causal attention (QK^T and PV over t+1 keys), and the lm_head */
    double H = c->hidden, D = c->head_dim, kv = (double)c->n_kv_heads * D, qo = model_config_q_out(c);
    double proj_layer = 2.0 * T * (H * qo + 2 * H * kv + c->n_heads * D * H + 3 * H * c->ffn);
    double attn_layer = 4.0 * D * c->n_heads * (T * (T + 1.0) / 2);
    double lm = 2.0 * T * H * c->vocab;
    double fl_body = c->n_layers * (proj_layer + attn_layer);

    struct hook_set with_logits;
    hook_set_init(&with_logits);
    hook_set_add(&with_logits, "logits", no_op, NULL, &err);
    double tb = now();
    if (model_forward(&m, rs, tok, T, NULL, &fo, &err)) {
        fprintf(stderr, "bench forward: %s\n", err.msg);
        return 2;
    }
    tb = now() - tb;
    double tl = now();
    if (model_forward(&m, rs, tok, T, &with_logits, &fo, &err)) {
        fprintf(stderr, "bench forward: %s\n", err.msg);
        return 2;
    }
    tl = now() - tl;

    /* sgemm alone on the projection shapes of one layer (layer 0's weights) and the lm_head */
    size_t K = c->ffn > c->hidden ? c->ffn : c->hidden;
    float *a = malloc((size_t)T * K * sizeof *a), *out = malloc((size_t)T * (c->vocab > qo ? c->vocab : (int)qo) * 4);
    for (size_t i = 0; i < (size_t)T * K; i++)
        a[i] = (float)((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
    openblas_set_num_threads(threads);
    const struct layer_weights *w = &m.w.layers[0];
    int Hi = c->hidden, A = c->n_heads * c->head_dim, KV = c->n_kv_heads * c->head_dim;
    double ts = time_sgemm(a, w->wq, out, T, (int)qo, Hi) + time_sgemm(a, w->wk, out, T, KV, Hi) +
                time_sgemm(a, w->wv, out, T, KV, Hi) + time_sgemm(a, w->wo, out, T, Hi, A) +
                time_sgemm(a, w->w_gate, out, T, c->ffn, Hi) + time_sgemm(a, w->w_up, out, T, c->ffn, Hi) +
                time_sgemm(a, w->w_down, out, T, Hi, c->ffn);
    double tlm = time_sgemm(a, m.w.lm_head, out, T, c->vocab, Hi);
    double g_sgemm = proj_layer / ts * 1e-9, g_sgemm_lm = (c->n_layers * proj_layer + lm) / (c->n_layers * ts + tlm) * 1e-9;
    double g_body = fl_body / tb * 1e-9, g_all = (fl_body + lm) / tl * 1e-9;

    printf("forward T=%d, %d threads (OpenBLAS %s)\n", T, threads, openblas_get_config());
    printf("  without lm_head: %.2f s, %.1f tokens/s, %.1f GFLOP/s (%.0f GFLOP)\n", tb, T / tb, g_body, fl_body * 1e-9);
    printf("  with logits:     %.2f s, %.1f tokens/s, %.1f GFLOP/s (%.0f GFLOP)\n", tl, T / tl, g_all,
           (fl_body + lm) * 1e-9);
    printf("sgemm on the same shapes: %.1f GFLOP/s (layer projections), %.1f GFLOP/s (with lm_head)\n", g_sgemm,
           g_sgemm_lm);
    printf("ratio forward/sgemm: %.0f %% without lm_head, %.0f %% with logits (target >= 60 %%)\n",
           100 * g_body / g_sgemm, 100 * g_all / g_sgemm_lm);
    double rss = peak_rss_mb(), limit = 1.1 * wmb + 256;
    printf("peak RSS %.0f MB vs 1.1 x f32 weights + 256 MB = %.0f MB: %s\n", rss, limit, rss <= limit ? "ok" : "OVER");
    free(a), free(out), free(tok);
    run_state_free(rs);
    model_free(&m);
    return 0;
}
