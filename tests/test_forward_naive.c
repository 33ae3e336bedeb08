/* tests/test_forward_naive.c — the `forward` suite on hand-built tiny models: a naive
 * double-precision reference written here, gate modes, tile-size and thread-count independence. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../model/model.h"
#include "../model/safetensors.h"
#include "test_forward.h"
#include "test_util.h"

/* ---- hand-built tiny models and a naive reference --------------------------- */

static uint64_t rng_state;
static float rnd(void) /* uniform in [-1, 1) */
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((rng_state >> 40) / (double)(1ull << 24) * 2 - 1);
}

/* A random model with the config c (weights in one malloc'd arena). */
void tiny_build(struct model *m, const struct model_config *c, uint64_t seed)
{
    memset(m, 0, sizeof *m);
    m->cfg = *c;
    snprintf(m->dir, sizeof m->dir, "tiny");
    rng_state = seed;
    size_t H = c->hidden, D = c->head_dim, kv = c->n_kv_heads * D, qo = model_config_q_out(c);
    size_t total = model_config_n_params(c);
    float *p = m->arena = malloc(total * 4);
    m->w.layers = calloc(c->n_layers, sizeof *m->w.layers);
#define TAKE(n, scale, base) ({ float *t_ = p; for (size_t i_ = 0; i_ < (n); i_++) t_[i_] = (base) + (scale) * rnd(); p += (n); t_; })
    m->w.embed = weight_f32(TAKE(c->vocab * H, 1.0f, 0), c->vocab, H);
    m->w.final_norm = TAKE(H, 0.2f, 1);
    m->w.lm_head = c->tied ? m->w.embed : weight_f32(TAKE(c->vocab * H, 0.3f, 0), c->vocab, H);
    for (int l = 0; l < c->n_layers; l++) {
        struct layer_weights *w = &m->w.layers[l];
        float s = 1.7f / sqrtf((float)H);
        w->attn_norm = TAKE(H, 0.2f, 1);
        w->wq = weight_f32(TAKE(qo * H, 2 * s, 0), qo, H);
        w->wk = weight_f32(TAKE(kv * H, 2 * s, 0), kv, H);
        w->wv = weight_f32(TAKE(kv * H, s, 0), kv, H);
        w->wo = weight_f32(TAKE(H * c->n_heads * D, 1.7f / sqrtf((float)(c->n_heads * D)), 0), H, c->n_heads * D);
        if (c->qkv_bias) {
            w->bq = TAKE(qo, 0.3f, 0);
            w->bk = TAKE(kv, 0.3f, 0);
            w->bv = TAKE(kv, 0.3f, 0);
        }
        if (c->o_bias)
            w->bo = TAKE(H, 0.3f, 0);
        if (c->qk_norm) {
            w->q_norm = TAKE(D, 0.5f, 2);
            w->k_norm = TAKE(D, 0.5f, 2);
        }
        w->ffn_norm = TAKE(H, 0.2f, 1);
        w->w_gate = weight_f32(TAKE(c->ffn * H, s, 0), c->ffn, H);
        w->w_up = weight_f32(TAKE(c->ffn * H, s, 0), c->ffn, H);
        w->w_down = weight_f32(TAKE(H * c->ffn, 1.7f / sqrtf((float)c->ffn), 0), H, c->ffn);
    }
#undef TAKE
    m->n_params = total;
}

void tiny_config(struct model_config *c, enum gate_kind g)
{
    memset(c, 0, sizeof *c);
    strcpy(c->model_type, "qwen3");
    c->n_layers = 2, c->hidden = 24, c->n_heads = 4, c->n_kv_heads = 2, c->head_dim = 10, c->ffn = 40;
    c->vocab = 50, c->max_pos = 64, c->rms_eps = 1e-6f, c->qk_norm = 1, c->tied = 1, c->gate = g;
    c->rope.type = ROPE_TYPE_DEFAULT, c->rope.theta = 10000;
    c->bos_token_id = c->eos_token_id = -1;
}

/* Everything in double, position by position, straight from the definitions. */
struct naive_out {
    double *probs;  /* [L, nh, T, T] */
    double *hidden; /* [L, T, H] */
    double *gate;   /* [L, T, nh, gd] */
    double *logits; /* [T, V] */
};

static void naive_rmsnorm(double *y, const double *x, const float *w, int n, double eps)
{
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += x[i] * x[i];
    double r = 1 / sqrt(ss / n + eps);
    for (int i = 0; i < n; i++)
        y[i] = x[i] * r * w[i];
}

/* the float32 array behind an in-memory weight view (tiny_build's) */
#define F32(w) ((const float *)(w).data)

static void naive_linear(double *y, const double *x, const float *w, const float *b, int n_in, int n_out)
{
    for (int o = 0; o < n_out; o++) {
        double s = b ? b[o] : 0;
        for (int i = 0; i < n_in; i++)
            s += (double)w[(size_t)o * n_in + i] * x[i];
        y[o] = s;
    }
}

static void naive_forward(const struct model *m, const int32_t *tok, int T, const struct gate_mode *gm,
                          struct naive_out *no)
{
    const struct model_config *c = &m->cfg;
    int H = c->hidden, nh = c->n_heads, nkv = c->n_kv_heads, D = c->head_dim, G = nh / nkv;
    int gd = model_config_gate_dim(c), P = model_config_q_group_rows(c), qo = model_config_q_out(c), F = c->ffn;
    double *x = calloc((size_t)T * H, 8), *xn = calloc(H, 8), *qg = calloc(qo, 8);
    double *q = calloc((size_t)T * nh * D, 8), *k = calloc((size_t)T * nkv * D, 8), *v = calloc((size_t)T * nkv * D, 8);
    double *gt = calloc((size_t)T * nh * (gd + 1), 8), *att = calloc((size_t)T * nh * D, 8);
    double *o = calloc(H, 8), *a = calloc(F, 8), *b = calloc(F, 8), *sc = calloc(T, 8);
    float *inv = calloc(D / 2, 4);
    rope_inv_freq(&c->rope, D, c->max_pos, inv);
    double af = rope_attention_factor(&c->rope, c->max_pos);
    for (int t = 0; t < T; t++)
        for (int i = 0; i < H; i++)
            x[t * H + i] = F32(m->w.embed)[(size_t)tok[t] * H + i];
    for (int l = 0; l < c->n_layers; l++) {
        const struct layer_weights *w = &m->w.layers[l];
        for (int t = 0; t < T; t++) {
            naive_rmsnorm(xn, x + t * H, w->attn_norm, H, c->rms_eps);
            naive_linear(qg, xn, F32(w->wq), w->bq, H, qo);
            naive_linear(k + t * nkv * D, xn, F32(w->wk), w->bk, H, nkv * D);
            naive_linear(v + t * nkv * D, xn, F32(w->wv), w->bv, H, nkv * D);
            for (int h = 0; h < nh; h++) {
                int g = h / G, j = h % G;
                for (int d = 0; d < D; d++)
                    q[(t * nh + h) * D + d] = qg[g * P + j * D + d];
                for (int e = 0; e < gd; e++) {
                    double lg = qg[g * P + G * D + j * gd + e];
                    gt[(t * nh + h) * gd + e] = gm->kind == GATE_MODE_NATIVE ? 1 / (1 + exp(-lg))
                                                : gm->kind == GATE_MODE_OFF ? 1 : gm->value;
                }
            }
            for (int h = 0; h < nh + nkv; h++) { /* QK-norm then RoPE on each query and key head */
                double *r = h < nh ? q + (t * nh + h) * D : k + (t * nkv + h - nh) * D, tmp[256];
                if (c->qk_norm)
                    naive_rmsnorm(tmp, r, h < nh ? w->q_norm : w->k_norm, D, c->rms_eps);
                else
                    memcpy(tmp, r, D * 8);
                for (int i = 0; i < D / 2; i++) {
                    double ang = (double)t * inv[i], cs = cos(ang) * af, sn = sin(ang) * af;
                    r[i] = tmp[i] * cs - tmp[i + D / 2] * sn;
                    r[i + D / 2] = tmp[i + D / 2] * cs + tmp[i] * sn;
                }
            }
        }
        for (int h = 0; h < nh; h++)
            for (int t = 0; t < T; t++) {
                int kh = h / G;
                double mx = -INFINITY, sum = 0;
                for (int s = 0; s < T; s++) {
                    int ok = s <= t && !(c->sliding_window > 0 && t - s >= c->sliding_window);
                    double d = 0;
                    for (int i = 0; i < D; i++)
                        d += q[(t * nh + h) * D + i] * k[(s * nkv + kh) * D + i];
                    sc[s] = ok ? d / sqrt((double)D) : -INFINITY;
                    mx = fmax(mx, sc[s]);
                }
                for (int s = 0; s < T; s++)
                    sum += (sc[s] = exp(sc[s] - mx));
                for (int i = 0; i < D; i++)
                    att[(t * nh + h) * D + i] = 0;
                for (int s = 0; s < T; s++) {
                    double pr = sc[s] / sum;
                    no->probs[(((size_t)l * nh + h) * T + t) * T + s] = pr;
                    for (int i = 0; i < D; i++)
                        att[(t * nh + h) * D + i] += pr * v[(s * nkv + kh) * D + i];
                }
                for (int i = 0; gd && i < D; i++)
                    att[(t * nh + h) * D + i] *= gt[(t * nh + h) * gd + (gd == 1 ? 0 : i)];
            }
        if (gd)
            memcpy(no->gate + (size_t)l * T * nh * gd, gt, (size_t)T * nh * gd * 8);
        for (int t = 0; t < T; t++) {
            naive_linear(o, att + t * nh * D, F32(w->wo), w->bo, nh * D, H);
            for (int i = 0; i < H; i++)
                x[t * H + i] += o[i];
            naive_rmsnorm(xn, x + t * H, w->ffn_norm, H, c->rms_eps);
            naive_linear(a, xn, F32(w->w_gate), NULL, H, F);
            naive_linear(b, xn, F32(w->w_up), NULL, H, F);
            for (int i = 0; i < F; i++)
                a[i] = a[i] / (1 + exp(-a[i])) * b[i];
            naive_linear(o, a, F32(w->w_down), NULL, F, H);
            for (int i = 0; i < H; i++)
                x[t * H + i] += o[i];
        }
        memcpy(no->hidden + (size_t)l * T * H, x, (size_t)T * H * 8);
    }
    for (int t = 0; t < T; t++) {
        naive_rmsnorm(xn, x + t * H, m->w.final_norm, H, c->rms_eps);
        naive_linear(no->logits + (size_t)t * c->vocab, xn, F32(m->w.lm_head), NULL, H, c->vocab);
    }
    free(x), free(xn), free(qg), free(q), free(k), free(v), free(gt), free(att), free(o), free(a), free(b);
    free(sc), free(inv);
}

/* max |x| over n floats (scale for relative tolerances where float32 rounding grows with size) */
static double max_abs(const float *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(a[i]));
    return m;
}

static double diff_fd(const float *a, const double *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        m = isnan(d) ? INFINITY : fmax(m, d);
    }
    return m;
}

static void naive_case(const char *label, struct model_config *c, struct gate_mode gm)
{
    struct model m;
    tiny_build(&m, c, 42);
    int T = 13;
    int32_t tok[13];
    for (int t = 0; t < T; t++)
        tok[t] = (t * 17 + 3) % c->vocab;
    struct capture cp;
    struct forward_opts o = {.gate = gm, .threads = 1, .attn_tile = 4, .logits_tile = 5};
    struct ss_error e = {0};
    CU_ASSERT_EQUAL_FATAL(run_capture(&m, tok, T, &cp, &o, &e), SS_OK);
    size_t L = c->n_layers, nh = c->n_heads, gd = model_config_gate_dim(c);
    struct naive_out no = {calloc(L * nh * T * T, 8), calloc(L * T * c->hidden, 8), calloc(L * T * nh * (gd + 1), 8),
                           calloc((size_t)T * c->vocab, 8)};
    naive_forward(&m, tok, T, &gm, &no);
    double dp = diff_fd(cp.probs, no.probs, L * nh * T * T), dh = diff_fd(cp.hidden, no.hidden, L * T * c->hidden);
    double dl = diff_fd(cp.logits, no.logits, (size_t)T * c->vocab), dg = diff_fd(cp.gate, no.gate, L * T * nh * gd);
    printf("  naive %s: max |diff| probs %.2g hidden %.2g logits %.2g gate %.2g\n", label, dp, dh, dl, dg);
    CU_ASSERT(dp <= 1e-5);
    CU_ASSERT(dh <= 1e-4);
    CU_ASSERT(dl <= 1e-4);
    CU_ASSERT(dg <= 1e-6);
    CU_ASSERT_EQUAL(cp.bad_shape, 0);
    free(no.probs), free(no.hidden), free(no.gate), free(no.logits);
    capture_free(&cp);
    model_free(&m);
}

static void test_naive(void)
{
    struct model_config c;
    struct gate_mode native = {GATE_MODE_NATIVE, 0};
    tiny_config(&c, GATE_KIND_NONE);
    naive_case("qwen3 ungated", &c, native);
    tiny_config(&c, GATE_KIND_HEADWISE);
    c.qkv_bias = c.o_bias = 1;
    c.rope.type = ROPE_TYPE_LLAMA3, c.rope.factor = 8, c.rope.low_freq_factor = 1, c.rope.high_freq_factor = 4;
    c.rope.original_max_pos = 16;
    naive_case("headwise+bias+llama3", &c, native);
    tiny_config(&c, GATE_KIND_ELEMENTWISE);
    c.tied = 0;
    c.rope.type = ROPE_TYPE_YARN, c.rope.factor = 4, c.rope.original_max_pos = 16, c.rope.beta_fast = 32;
    c.rope.beta_slow = 1, c.rope.truncate = 1;
    naive_case("elementwise+yarn", &c, native);
    naive_case("elementwise constant=0.25", &c, (struct gate_mode){GATE_MODE_CONSTANT, 0.25f});
    tiny_config(&c, GATE_KIND_NONE);
    strcpy(c.model_type, "mistral");
    c.qk_norm = 0, c.n_kv_heads = 4, c.sliding_window = 5;
    naive_case("mistral MHA sliding window 5", &c, native);
}

/* --gate off on a gated model == the ungated model made of its query rows. */
static void test_gate_off(void)
{
    for (int kind = GATE_KIND_HEADWISE; kind <= GATE_KIND_ELEMENTWISE; kind++) {
        struct model_config c;
        tiny_config(&c, kind);
        c.qkv_bias = 1;
        struct model g, u;
        tiny_build(&g, &c, 7);
        u = g;
        u.cfg.gate = GATE_KIND_NONE;
        u.w.layers = calloc(c.n_layers, sizeof *u.w.layers);
        int P = model_config_q_group_rows(&c), G = c.n_heads / c.n_kv_heads, D = c.head_dim, H = c.hidden;
        float *buf = malloc((size_t)c.n_layers * (c.n_heads * D) * (H + 1) * 4), *p = buf;
        for (int l = 0; l < c.n_layers; l++) {
            u.w.layers[l] = g.w.layers[l];
            float *wq = p;
            u.w.layers[l].wq = weight_f32(wq, c.n_heads * D, H);
            p += c.n_heads * D * H;
            u.w.layers[l].bq = p;
            p += c.n_heads * D;
            for (int grp = 0; grp < c.n_kv_heads; grp++)
                for (int r = 0; r < G * D; r++) {
                    memcpy(wq + ((size_t)grp * G * D + r) * H, F32(g.w.layers[l].wq) + ((size_t)grp * P + r) * H, H * 4);
                    u.w.layers[l].bq[grp * G * D + r] = g.w.layers[l].bq[grp * P + r];
                }
        }
        int T = 11;
        int32_t tok[11];
        for (int t = 0; t < T; t++)
            tok[t] = (t * 7 + 1) % c.vocab;
        struct capture cg, cu;
        struct forward_opts og = {.gate = {GATE_MODE_OFF, 1}, .threads = 1}, ou = {.threads = 1};
        struct ss_error e = {0};
        CU_ASSERT_EQUAL(run_capture(&g, tok, T, &cg, &og, &e), SS_OK);
        CU_ASSERT_EQUAL(run_capture(&u, tok, T, &cu, &ou, &e), SS_OK);
        size_t np = (size_t)c.n_layers * c.n_heads * T * T, ng = (size_t)c.n_layers * T * c.n_heads * model_config_gate_dim(&c);
        double dl = test_max_abs_diff(cg.logits, cu.logits, (size_t)T * c.vocab), dp = test_max_abs_diff(cg.probs, cu.probs, np);
        int ones = 1;
        for (size_t i = 0; i < ng; i++)
            ones &= cg.gate[i] == 1.0f;
        double sl = fmax(1, max_abs(cu.logits, (size_t)T * c.vocab));
        printf("  gate off (%s) vs ungated: max |diff| logits %.2g (max |logit| %.3g) probs %.2g, gate hook all ones %d\n",
               gate_kind_name(kind), dl, sl, dp, ones);
        /* the q_proj sgemms differ in width, so allow float32 rounding relative to the logit scale */
        CU_ASSERT(dl <= 1e-6 * sl && dp <= 1e-6 && ones);
        /* constant=X: every gate value is X and attn_gated is exactly attn_out * X */
        struct capture cc;
        struct forward_opts oc = {.gate = {GATE_MODE_CONSTANT, 0.375f}, .threads = 1};
        CU_ASSERT_EQUAL(run_capture(&g, tok, T, &cc, &oc, &e), SS_OK);
        int exact = 1;
        for (size_t i = 0; i < ng; i++)
            exact &= cc.gate[i] == 0.375f;
        for (size_t i = 0; i < (size_t)c.n_layers * T * c.n_heads * D; i++)
            exact &= cc.attn_gated[i] == cc.attn_out[i] * 0.375f;
        printf("  gate constant=0.375 (%s): applied exactly %d\n", gate_kind_name(kind), exact);
        CU_ASSERT(exact);
        capture_free(&cg), capture_free(&cu), capture_free(&cc);
        free(buf);
        free(u.w.layers);
        model_free(&g);
    }
}

static void test_gate_mode_parse(void)
{
    struct gate_mode g;
    CU_ASSERT(gate_mode_parse(&g, "native") == 0 && g.kind == GATE_MODE_NATIVE);
    CU_ASSERT(gate_mode_parse(&g, "off") == 0 && g.kind == GATE_MODE_OFF);
    CU_ASSERT(gate_mode_parse(&g, "constant=0.5") == 0 && g.kind == GATE_MODE_CONSTANT && g.value == 0.5f);
    CU_ASSERT(gate_mode_parse(&g, "constant=") != 0);
    CU_ASSERT(gate_mode_parse(&g, "constant=x") != 0);
    CU_ASSERT(gate_mode_parse(&g, "on") != 0);
    /* an ungated model refuses constant=X; off is a no-op there */
    struct model_config c;
    tiny_config(&c, GATE_KIND_NONE);
    struct model m;
    tiny_build(&m, &c, 3);
    struct run_state *rs;
    struct ss_error e = {0};
    int32_t tok[3] = {1, 2, 3};
    struct forward_opts o = {.gate = {GATE_MODE_CONSTANT, 0.5f}, .threads = 1};
    CU_ASSERT_EQUAL_FATAL(run_state_new(&rs, &c, 3, &o, &e), SS_OK);
    CU_ASSERT_EQUAL(model_forward(&m, rs, tok, 3, NULL, &o, &e), SS_ERR_INPUT);
    o.gate.kind = GATE_MODE_OFF;
    CU_ASSERT_EQUAL(model_forward(&m, rs, tok, 3, NULL, &o, &e), SS_OK);
    tok[1] = c.vocab;
    CU_ASSERT_EQUAL(model_forward(&m, rs, tok, 3, NULL, &o, &e), SS_ERR_INPUT);
    printf("  out-of-range token: %s\n", e.msg);
    CU_ASSERT(strstr(e.msg, "tiny") && strstr(e.msg, "position 1"));
    CU_ASSERT_EQUAL(model_forward(&m, rs, tok, 4, NULL, &o, &e), SS_ERR_INPUT);
    run_state_free(rs);
    model_free(&m);
}

/* attn_tile 1, 7, 128 (and logits tiles) give the same probabilities and logits. */
static void test_tiles(void)
{
    struct model_config c;
    tiny_config(&c, GATE_KIND_HEADWISE);
    struct model m;
    tiny_build(&m, &c, 11);
    int T = 30;
    int32_t tok[30];
    for (int t = 0; t < T; t++)
        tok[t] = (t * 13 + 5) % c.vocab;
    int tiles[3][2] = {{1, 1}, {7, 4}, {128, 256}};
    struct capture cp[3];
    struct ss_error e = {0};
    for (int i = 0; i < 3; i++) {
        struct forward_opts o = {.threads = 1, .attn_tile = tiles[i][0], .logits_tile = tiles[i][1]};
        CU_ASSERT_EQUAL(run_capture(&m, tok, T, &cp[i], &o, &e), SS_OK);
    }
    size_t np = (size_t)c.n_layers * c.n_heads * T * T, nl = (size_t)T * c.vocab;
    for (int i = 1; i < 3; i++) {
        double dp = test_max_abs_diff(cp[0].probs, cp[i].probs, np), dl = test_max_abs_diff(cp[0].logits, cp[i].logits, nl);
        double sl = fmax(1, max_abs(cp[0].logits, nl));
        printf("  attn_tile %d vs 1: max |diff| probs %.2g logits %.2g (max |logit| %.3g)\n", tiles[i][0], dp, dl, sl);
        CU_ASSERT(dp <= 1e-6 && dl <= 1e-6 * sl); /* sgemm rounding differs with the tile's row count */
    }
    for (int i = 0; i < 3; i++)
        capture_free(&cp[i]);
    model_free(&m);
}

/* Thread counts 2, 3 and 7 give bit-identical tensors to 1 thread: every BLAS call
 * runs single-threaded inside tasks cut from the shapes alone. The shapes make
 * several column slices (ffn 600, vocab 530 > LINEAR_SLICE, with a partial last
 * one) and several attention tiles per batch, and are large enough that OpenBLAS's
 * own threading would change the rounding (it did, before the tasks). */
static void test_threads_identical(void)
{
    struct model_config c;
    tiny_config(&c, GATE_KIND_ELEMENTWISE);
    c.hidden = 256, c.head_dim = 64, c.ffn = 600, c.vocab = 530, c.max_pos = 128;
    struct model m;
    tiny_build(&m, &c, 21);
    int T = 100, L = c.n_layers, nh = c.n_heads, D = c.head_dim;
    int32_t tok[100];
    for (int t = 0; t < T; t++)
        tok[t] = (t * 37 + 11) % c.vocab;
    int threads[] = {1, 2, 3, 7};
    struct capture cp[4];
    struct ss_error e = {0};
    for (int i = 0; i < 4; i++) {
        struct forward_opts o = {.threads = threads[i], .attn_tile = 16, .logits_tile = 60};
        CU_ASSERT_EQUAL_FATAL(run_capture(&m, tok, T, &cp[i], &o, &e), SS_OK);
    }
    size_t tt = (size_t)L * nh * T * T, th = (size_t)L * T * nh * D;
    for (int i = 1; i < 4; i++) {
        int differ = memcmp(cp[0].probs, cp[i].probs, tt * sizeof(float)) != 0;
        differ += memcmp(cp[0].scores, cp[i].scores, tt * sizeof(float)) != 0;
        differ += memcmp(cp[0].hidden, cp[i].hidden, (size_t)L * T * c.hidden * sizeof(float)) != 0;
        differ += memcmp(cp[0].q, cp[i].q, th * sizeof(float)) != 0;
        differ += memcmp(cp[0].gate, cp[i].gate, th * sizeof(float)) != 0;
        differ += memcmp(cp[0].attn_out, cp[i].attn_out, th * sizeof(float)) != 0;
        differ += memcmp(cp[0].attn_gated, cp[i].attn_gated, th * sizeof(float)) != 0;
        differ += memcmp(cp[0].logits, cp[i].logits, (size_t)T * c.vocab * sizeof(float)) != 0;
        printf("  %d threads vs 1: %d of 8 captured tensors differ (max |diff| logits %.2g, probs %.2g)\n", threads[i],
               differ, test_max_abs_diff(cp[0].logits, cp[i].logits, (size_t)T * c.vocab),
               test_max_abs_diff(cp[0].probs, cp[i].probs, tt));
        CU_ASSERT_EQUAL(differ, 0);
    }
    for (int i = 0; i < 4; i++)
        capture_free(&cp[i]);
    model_free(&m);
}

/* The MoE path with learned sinks (the gpt_oss fixtures) gives the same bits for 1, 2 and 3
 * threads: experts in index order, tokens in position order, whatever the thread count. */
static void test_moe_threads_identical(void)
{
    static const char *const dirs[] = {"tests/fixtures/gpt_oss_bf16", "tests/fixtures/gpt_oss_mxfp4"};
    for (int d = 0; d < 2; d++) {
        struct model m;
        struct ss_error e = {0};
        CU_ASSERT_EQUAL_FATAL(model_load(&m, dirs[d], &e), SS_OK);
        const struct model_config *c = &m.cfg;
        int T = 20, L = c->n_layers, nh = c->n_heads;
        int32_t tok[20];
        for (int t = 0; t < T; t++)
            tok[t] = (t * 53 + 7) % c->vocab;
        struct capture cp[3];
        for (int i = 0; i < 3; i++) {
            struct forward_opts o = {.threads = i + 1, .attn_tile = 4, .logits_tile = 8};
            CU_ASSERT_EQUAL_FATAL(run_capture(&m, tok, T, &cp[i], &o, &e), SS_OK);
        }
        for (int i = 1; i < 3; i++) {
            int differ = memcmp(cp[0].hidden, cp[i].hidden, (size_t)L * T * c->hidden * 4) != 0;
            differ += memcmp(cp[0].probs, cp[i].probs, (size_t)L * nh * T * T * 4) != 0;
            differ += memcmp(cp[0].sink, cp[i].sink, (size_t)L * T * nh * 4) != 0;
            differ += memcmp(cp[0].router_w, cp[i].router_w, (size_t)L * T * c->v.n_experts * 4) != 0;
            differ += memcmp(cp[0].logits, cp[i].logits, (size_t)T * c->vocab * 4) != 0;
            printf("  %s: %d threads vs 1: %d of 5 tensors differ\n", dirs[d], i + 1, differ);
            CU_ASSERT_EQUAL(differ, 0);
        }
        for (int i = 0; i < 3; i++)
            capture_free(&cp[i]);
        model_free(&m);
    }
}


void forward_naive_tests(CU_pSuite s)
{
    CU_add_test(s, "matches a naive double-precision implementation", test_naive);
    CU_add_test(s, "gate off == ungated weights, constant=X exact", test_gate_off);
    CU_add_test(s, "gate modes parse; bad token ids rejected", test_gate_mode_parse);
    CU_add_test(s, "tile sizes do not change results", test_tiles);
    CU_add_test(s, "1, 2, 3 and 7 threads give bit-identical tensors", test_threads_identical);
    CU_add_test(s, "MoE with learned sinks (gpt_oss): 1, 2, 3 threads bit-identical", test_moe_threads_identical);
}
