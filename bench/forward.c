/* bench/forward.c — forward-pass throughput against OpenBLAS sgemm on the same shapes.
 * usage: forward [MODEL_DIR [T [THREADS]]]   (default build/bench-models/gated-1b 512 2)
 * Writes `synth --preset gated-1b` (bf16) into MODEL_DIR when it has no config.json.
 * Prints load time, tokens/s and GFLOP/s of the forward (without and with the lm_head),
 * sgemm GFLOP/s on the same projection shapes and weights measured in the same run,
 * their ratio (whole pass, and per layer by medians, which resist other processes
 * sharing the cores), and peak RSS against 1.1 x float32 weights + 256 MB. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "../model/model.h"
#include "../model/synth.h"

/* float32 weights for the sgemm reference (converted once, outside the timings) */
#define F32(w) weight_to_f32(&(w))
static const float *weight_to_f32(const struct weight *w)
{
    float *p = malloc((size_t)w->rows * w->cols * sizeof *p);
    if (!p) {
        fprintf(stderr, "bench forward: out of memory\n");
        exit(2);
    }
    weight_rows_f32(w, 0, w->rows, p);
    return p;
}

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

/* resid_post: time each decoder layer (from the previous layer's end) */
struct layer_clock {
    double last, *dt;
};
static int layer_tick(void *user, const struct hook_event *ev, struct ss_error *err)
{
    struct layer_clock *lc = user;
    double t = now();
    lc->dt[ev->layer] = t - lc->last;
    lc->last = t;
    (void)err;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *x, int n)
{
    double *c = malloc(n * sizeof *c);
    memcpy(c, x, n * sizeof *c);
    qsort(c, n, sizeof *c, cmp_double);
    double m = n % 2 ? c[n / 2] : 0.5 * (c[n / 2 - 1] + c[n / 2]);
    free(c);
    return m;
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

    /* 1. sgemm alone: the seven projections of every layer with that layer's weights, in forward order */
    int Hi = c->hidden, A = c->n_heads * c->head_dim, KV = c->n_kv_heads * c->head_dim, L = c->n_layers;
    size_t K = c->ffn > c->hidden ? c->ffn : c->hidden;
    size_t n_out = (size_t)T * K > (size_t)256 * c->vocab ? (size_t)T * K : (size_t)256 * c->vocab;
    n_out = n_out > (size_t)T * qo ? n_out : (size_t)T * qo;
    float *a = malloc((size_t)T * K * sizeof *a), *out = malloc(n_out * sizeof *out);
    for (size_t i = 0; i < (size_t)T * K; i++)
        a[i] = (float)((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
    openblas_set_num_threads(threads);
    double *ts = calloc(L, sizeof *ts), *tf = calloc(L, sizeof *tf), *tf2 = calloc(L, sizeof *tf2);
    /* the stored weights as float32 once, outside the timings: wf[l][0..7) in forward order */
    const float *(*wf)[7] = malloc(L * sizeof *wf), *lmf = F32(m.w.lm_head);
    for (int l = 0; l < L; l++) {
        const struct layer_weights *w = &m.w.layers[l];
        const float *v[7] = {F32(w->wq), F32(w->wk), F32(w->wv), F32(w->wo), F32(w->w_gate), F32(w->w_up),
                             F32(w->w_down)};
        memcpy(wf[l], v, sizeof v);
    }
    for (int l = 0; l < L; l++) {
        const float *const *w = wf[l];
        double t1 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, (int)qo, Hi, 1.0f, a, Hi, w[0], Hi, 0.0f, out, (int)qo);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, KV, Hi, 1.0f, a, Hi, w[1], Hi, 0.0f, out, KV);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, KV, Hi, 1.0f, a, Hi, w[2], Hi, 0.0f, out, KV);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, Hi, A, 1.0f, a, A, w[3], A, 0.0f, out, Hi);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, c->ffn, Hi, 1.0f, a, Hi, w[4], Hi, 0.0f, out, c->ffn);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, c->ffn, Hi, 1.0f, a, Hi, w[5], Hi, 0.0f, out, c->ffn);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, Hi, c->ffn, 1.0f, a, c->ffn, w[6], c->ffn, 0.0f, out, Hi);
        ts[l] = now() - t1;
    }
    double tlm = 1e30; /* the lm_head in tiles of 256 positions, as the forward does */
    for (int r = 0; r < 2; r++) {
        double t1 = now();
        for (int p0 = 0; p0 < T; p0 += 256) {
            int n = T - p0 < 256 ? T - p0 : 256;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, c->vocab, Hi, 1.0f, a, Hi, lmf, Hi, 0.0f, out,
                        c->vocab);
        }
        tlm = fmin(tlm, now() - t1);
    }
    for (int l = 0; l < L; l++)
        for (int i = 0; i < 7; i++)
            free((void *)wf[l][i]);
    free(wf), free((void *)lmf);

    /* 2. the forward without and with the lm_head, each layer timed */
    struct layer_clock lc = {0, tf};
    struct hook_set hs;
    hook_set_init(&hs);
    hook_set_add(&hs, "resid_post", layer_tick, &lc, &err);
    lc.last = now();
    double tb = lc.last;
    if (model_forward(&m, rs, tok, T, &hs, &fo, &err)) {
        fprintf(stderr, "bench forward: %s\n", err.msg);
        return 2;
    }
    tb = now() - tb;
    hook_set_add(&hs, "logits", no_op, NULL, &err);
    lc.dt = tf2;
    lc.last = now();
    double tl = lc.last;
    if (model_forward(&m, rs, tok, T, &hs, &fo, &err)) {
        fprintf(stderr, "bench forward: %s\n", err.msg);
        return 2;
    }
    tl = now() - tl;

    double sum_s = 0;
    for (int l = 0; l < L; l++)
        sum_s += ts[l];
    double g_sgemm = L * proj_layer / sum_s * 1e-9, g_sgemm_lm = (L * proj_layer + lm) / (sum_s + tlm) * 1e-9;
    double g_body = fl_body / tb * 1e-9, g_all = (fl_body + lm) / tl * 1e-9;
    /* medians per layer: robust when other processes share the cores */
    double ms = median(ts, L), mf = fmin(median(tf, L), median(tf2, L));
    double gm_s = proj_layer / ms * 1e-9, gm_f = (proj_layer + attn_layer) / mf * 1e-9;

    printf("forward T=%d, %d threads (%s)\n", T, threads, openblas_get_config());
    printf("  without lm_head: %.2f s, %.1f tokens/s, %.1f GFLOP/s (%.0f GFLOP)\n", tb, T / tb, g_body, fl_body * 1e-9);
    printf("  with logits:     %.2f s, %.1f tokens/s, %.1f GFLOP/s (%.0f GFLOP)\n", tl, T / tl, g_all,
           (fl_body + lm) * 1e-9);
    printf("sgemm alone on the same shapes and weights: %.1f GFLOP/s (all layers' projections, %.2f s), "
           "%.1f GFLOP/s with the lm_head\n", g_sgemm, sum_s, g_sgemm_lm);
    printf("ratio forward/sgemm, whole pass: %.0f %% without lm_head, %.0f %% with logits (target >= 60 %%)\n",
           100 * g_body / g_sgemm, 100 * g_all / g_sgemm_lm);
    printf("ratio forward/sgemm, median layer: %.1f vs %.1f GFLOP/s = %.0f %% (layer %.3f s, its sgemms %.3f s)\n", gm_f,
           gm_s, 100 * gm_f / gm_s, mf, ms);
    free(ts), free(tf), free(tf2);
    double rss = peak_rss_mb(), limit = 1.1 * wmb + 256;
    printf("peak RSS %.0f MB vs 1.1 x f32 weights + 256 MB = %.0f MB: %s\n", rss, limit, rss <= limit ? "ok" : "OVER");
    free(a), free(out), free(tok);
    run_state_free(rs);
    model_free(&m);
    return 0;
}
