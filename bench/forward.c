/* bench/forward.c — forward-pass throughput against OpenBLAS sgemm on the same shapes.
 * usage: forward [MODEL_DIR [T [THREADS]]]   (default build/bench-models/gated-1b 512 2)
 * Writes `synth --preset gated-1b` (bf16) into MODEL_DIR when it has no config.json.
 * Prints (issue 13): load time; tokens/s and GFLOP/s of the forward without and with
 * the lm_head; where a layer's time goes, stage by stage; the projections' GFLOP/s
 * against sgemm alone on the same shapes and weights in the same run (the weights
 * stay in their stored dtype in the forward, so this ratio is what the per-slice
 * conversion costs); peak RSS against the checkpoint's bytes + 0.6 GB (taken before
 * the sgemm reference); and, for checkpoints under 1 B parameters, forwards over
 * float32 copies of the weights (the previous build's arithmetic) against forwards
 * over the stored weights, alternating in this process. */
#include <cblas.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
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

static void die(const char *msg)
{
    fprintf(stderr, "bench forward: %s\n", msg);
    exit(2);
}

/* bytes of DIR's *.safetensors files */
static double checkpoint_mb(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    double b = 0;
    char p[4400];
    while (d && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (n > 12 && !strcmp(e->d_name + n - 12, ".safetensors") && !stat(p, &st))
            b += (double)st.st_size;
    }
    if (d)
        closedir(d);
    return b / 1048576.0;
}

/* ---- stage clock: hook points that close each stage of a layer ---------------------- */

enum { ST_NORM, ST_QKV, ST_ATTN, ST_O, ST_RESID, ST_FFN, ST_ADD, N_STAGES };
static const char *stage_hook[N_STAGES] = {"attn_norm", "q", "attn_out", "o_proj", "ffn_norm", "ffn_out", "resid_post"};
static const char *stage_name[N_STAGES] = {"input norm", "q/k/v proj + qk-norm + rope", "attention (tiles)",
                                           "gate + o_proj", "residual + ffn norm", "ffn (gate/up/down + swiglu)",
                                           "residual"};
struct stage_clock {
    double last, t[N_STAGES];
    double *layer;             /* [n_layers] time per layer */
    int stage_of[64];          /* hook point -> stage */
};

static int stage_tick(void *user, const struct hook_event *ev, struct ss_error *err)
{
    struct stage_clock *sc = user;
    double t = now();
    int s = sc->stage_of[ev->point];
    sc->t[s] += t - sc->last;
    if (s == ST_ADD)
        sc->layer[ev->layer] = t - sc->layer[ev->layer];
    if (s == ST_NORM)
        sc->layer[ev->layer] = sc->last;
    sc->last = t;
    (void)err;
    return 0;
}

static int no_op(void *user, const struct hook_event *ev, struct ss_error *err)
{
    (void)user, (void)ev, (void)err;
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

/* w as an in-memory float32 view (freed by the caller) */
static struct weight weight_copy(const struct weight *w)
{
    float *p = malloc((size_t)w->rows * w->cols * sizeof *p);
    if (!p)
        die("out of memory");
    weight_rows_f32(w, 0, w->rows, p);
    return weight_f32(p, w->rows, w->cols);
}

/* The previous build's arithmetic in this process: every matrix of m as float32
 * arrays (as model_load made them before weights stayed mapped); the forward then
 * runs sgemm on them directly, with no per-slice conversion. */
static struct model model_f32_copy(const struct model *m)
{
    struct model c = *m;
    c.w.layers = malloc(m->cfg.n_layers * sizeof *c.w.layers);
    c.w.embed = weight_copy(&m->w.embed);
    c.w.lm_head = m->cfg.tied ? c.w.embed : weight_copy(&m->w.lm_head);
    for (int l = 0; l < m->cfg.n_layers; l++) {
        struct layer_weights *d = &c.w.layers[l];
        *d = m->w.layers[l];
        struct weight *ws[] = {&d->wq, &d->wk, &d->wv, &d->wo, &d->w_gate, &d->w_up, &d->w_down};
        for (int i = 0; i < 7; i++)
            *ws[i] = weight_copy(ws[i]);
    }
    return c;
}

/* Alternating forwards (body only) over the f32 copy and the stored weights: what
 * the per-slice conversion costs, measured where both see the same machine. */
static void ab_conversion(const struct model *m, struct run_state *rs, const int32_t *tok, int T,
                          const struct forward_opts *fo)
{
    struct model c = model_f32_copy(m);
    struct ss_error err = {0};
    double best[2] = {1e30, 1e30};
    for (int r = 0; r < 3; r++)
        for (int k = 0; k < 2; k++) {
            double t = now();
            if (model_forward(k ? m : &c, rs, tok, T, NULL, fo, &err))
                die(err.msg);
            best[k] = fmin(best[k], now() - t);
        }
    printf("same process, alternating, best of 3: forward over float32 copies %.2f s, over stored %s weights %.2f s "
           "-> stored/float32 time %.3f\n", best[0], m->cfg.dtype, best[1], best[1] / best[0]);
    for (int l = 0; l < m->cfg.n_layers; l++) {
        struct layer_weights *d = &c.w.layers[l];
        const struct weight *ws[] = {&d->wq, &d->wk, &d->wv, &d->wo, &d->w_gate, &d->w_up, &d->w_down};
        for (int i = 0; i < 7; i++)
            free((void *)ws[i]->data);
    }
    free((void *)c.w.embed.data);
    if (!m->cfg.tied)
        free((void *)c.w.lm_head.data);
    free(c.w.layers);
}

/* sgemm alone: out[T, w.rows] = a[T, w.cols] w^T with w as float32, converted
 * outside the timing (one layer's matrices at a time, rows in chunks). */
static double sgemm_time(const struct weight *w, const float *a, float *out, int T, float *buf, size_t buf_floats)
{
    int64_t chunk = (int64_t)(buf_floats / (size_t)w->cols), n_out = w->rows;
    chunk = chunk < 8192 ? chunk : 8192; /* out holds T x 8192 */
    double t = 0;
    for (int64_t r0 = 0; r0 < n_out; r0 += chunk) {
        int64_t n = n_out - r0 < chunk ? n_out - r0 : chunk;
        weight_rows_f32(w, r0, n, buf);
        double t1 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, (int)n, (int)w->cols, 1.0f, a, (int)w->cols, buf,
                    (int)w->cols, 0.0f, out, (int)n);
        t += now() - t1;
    }
    return t;
}

/* Two forwards, timed per stage by hooks: without the LM head (*tb; its stages and per-layer
 * times into stages1 and layer1), then with logits (*tl; sc holds that pass). */
static void timed_passes(const struct model *m, struct run_state *rs, const int32_t *tok, int T,
                         const struct forward_opts *fo, struct stage_clock *sc, double *stages1, double *layer1,
                         double *tb, double *tl)
{
    struct ss_error err = {0};
    struct hook_set hs;
    hook_set_init(&hs);
    for (int s = 0; s < N_STAGES; s++) {
        for (int p = 0; p < HOOK_COUNT; p++)
            if (!strcmp(hook_point_name(p), stage_hook[s]))
                sc->stage_of[p] = s;
        if (hook_set_add(&hs, stage_hook[s], stage_tick, sc, &err))
            die(err.msg);
    }
    *tb = sc->last = now();
    if (model_forward(m, rs, tok, T, &hs, fo, &err))
        die(err.msg);
    *tb = now() - *tb;
    memcpy(layer1, sc->layer, m->cfg.n_layers * sizeof *layer1);
    memcpy(stages1, sc->t, N_STAGES * sizeof *stages1);
    hook_set_add(&hs, "logits", no_op, NULL, &err);
    *tl = sc->last = now();
    if (model_forward(m, rs, tok, T, &hs, fo, &err))
        die(err.msg);
    *tl = now() - *tl;
}

/* OpenBLAS sgemm (its own `threads` threads) on every layer's projection shapes and weights
 * (ts[l], seconds) and on the LM head (returned), over T rows of made-up inputs. */
static double sgemm_alone(const struct model *m, int T, int threads, double *ts)
{
    const struct model_config *c = &m->cfg;
    openblas_set_num_threads(threads);
    size_t K = c->ffn > c->hidden ? c->ffn : c->hidden, buf_floats = (size_t)8192 * K;
    float *a = malloc((size_t)T * K * sizeof *a), *out = malloc((size_t)T * 8192 * sizeof *out),
          *buf = malloc(buf_floats * sizeof *buf);
    if (!a || !out || !buf)
        die("out of memory");
    for (size_t i = 0; i < (size_t)T * K; i++)
        a[i] = (float)((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
    for (int l = 0; l < c->n_layers; l++) {
        const struct layer_weights *w = &m->w.layers[l];
        const struct weight *ws[] = {&w->wq, &w->wk, &w->wv, &w->wo, &w->w_gate, &w->w_up, &w->w_down};
        for (int i = 0; i < 7; i++)
            ts[l] += sgemm_time(ws[i], a, out, T, buf, buf_floats);
    }
    double tlm = sgemm_time(&m->w.lm_head, a, out, T, buf, buf_floats);
    free(a), free(out), free(buf);
    return tlm;
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
        if (synth_write(dir, &so, &err))
            die(err.msg);
    }
    double t0 = now();
    struct model m;
    if (model_load(&m, dir, &err))
        die(err.msg);
    double t_load = now() - t0, ckpt = checkpoint_mb(dir);
    const struct model_config *c = &m.cfg;
    printf("model %s: %s, %d layers, gate %s, %s weights, %.3f B params, checkpoint %.0f MB\n", dir, c->model_type,
           c->n_layers, gate_kind_name(c->gate), c->dtype, m.n_params * 1e-9, ckpt);
    printf("load: %.3f s (target <= %s), peak RSS after load %.0f MB\n", t_load,
           c->n_layers <= 4 ? "0.3 s at 4 layers" : "1 s", peak_rss_mb());

    struct forward_opts fo = {.threads = threads};
    struct run_state *rs;
    if (run_state_new(&rs, c, T, &fo, &err))
        die(err.msg);
    int32_t *tok = malloc(T * sizeof *tok);
    for (int t = 0; t < T; t++)
        tok[t] = (int32_t)((t * 7919u + 13) % (unsigned)c->vocab);

    /* FLOPs: projections, causal attention (QK^T and PV over t+1 keys), and the lm_head */
    double H = c->hidden, D = c->head_dim, kv = (double)c->n_kv_heads * D, qo = model_config_q_out(c);
    double proj_layer = 2.0 * T * (H * qo + 2 * H * kv + c->n_heads * D * H + 3 * H * c->ffn);
    double attn_layer = 4.0 * D * c->n_heads * (T * (T + 1.0) / 2);
    double lm = 2.0 * T * H * c->vocab;
    double fl_body = c->n_layers * (proj_layer + attn_layer);
    int L = c->n_layers;

    /* 1. the forward without, then with the lm_head; stages timed by hooks */
    struct stage_clock sc = {0};
    sc.layer = calloc(L, sizeof *sc.layer);
    double *layer1 = calloc(L, sizeof *layer1), stages1[N_STAGES], tb, tl;
    timed_passes(&m, rs, tok, T, &fo, &sc, stages1, layer1, &tb, &tl);
    double rss = peak_rss_mb(), limit = ckpt + 0.6 * 1024;

    /* 2. sgemm alone (OpenBLAS's own threads) on the same shapes and weights */
    double *ts = calloc(L, sizeof *ts), tlm = sgemm_alone(&m, T, threads, ts);

    double sum_s = 0, lin = 0;
    for (int l = 0; l < L; l++)
        sum_s += ts[l];
    lin = stages1[ST_QKV] + stages1[ST_O] + stages1[ST_FFN]; /* the first pass (no logits) */
    double g_sgemm = L * proj_layer / sum_s * 1e-9, g_body = fl_body / tb * 1e-9, g_all = (fl_body + lm) / tl * 1e-9;
    printf("forward T=%d, %d threads (%s)\n", T, threads, openblas_get_config());
    printf("  without lm_head: %.2f s, %.1f tokens/s, %.1f GFLOP/s (%.0f GFLOP)\n", tb, T / tb, g_body, fl_body * 1e-9);
    printf("  with logits:     %.2f s, %.1f tokens/s, %.1f GFLOP/s (%.0f GFLOP)\n", tl, T / tl, g_all,
           (fl_body + lm) * 1e-9);
    printf("where the time goes (first pass, all layers):\n");
    double tot = 0;
    for (int s = 0; s < N_STAGES; s++)
        tot += stages1[s];
    for (int s = 0; s < N_STAGES; s++)
        printf("  %-30s %7.3f s  %5.1f %%\n", stage_name[s], stages1[s], 100 * stages1[s] / tot);
    printf("  %-30s %7.3f s  (second pass minus first)\n", "lm_head (logits tiles)", tl - tb);
    double g_lin = L * proj_layer / lin * 1e-9;
    printf("sgemm alone on the same shapes and weights: %.1f GFLOP/s (all layers' projections, %.2f s), lm_head %.2f s\n",
           g_sgemm, sum_s, tlm);
    printf("projections in the forward (stored %s weights, converted per slice): %.1f GFLOP/s = %.0f %% of sgemm "
           "(target >= 85 %%)\n", c->dtype, g_lin, 100 * g_lin / g_sgemm);
    printf("whole forward without lm_head (attention included) vs sgemm: %.0f %%; median layer %.3f s vs its sgemms "
           "%.3f s\n", 100 * g_body / g_sgemm, fmin(median(layer1, L), median(sc.layer, L)), median(ts, L));
    printf("peak RSS %.0f MB vs checkpoint %.0f MB + 0.6 GB = %.0f MB: %s\n", rss, ckpt, limit,
           rss <= limit ? "ok" : "OVER");
    free(ts);
    if (m.n_params * 4.0 < 4e9) /* the float32 copy must fit beside the map */
        ab_conversion(&m, rs, tok, T, &fo);
    free(tok), free(sc.layer), free(layer1);
    run_state_free(rs);
    model_free(&m);
    return 0;
}
