/* model/moe.c — router and experts of the mixture-of-experts block (moe.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "moe.h"

/* idx[K] = the K largest of v[n], highest first, ties to the lower index (torch.topk's order). */
static void topk_pick(const float *v, int n, int K, int *idx)
{
    for (int k = 0; k < K; k++) {
        int best = -1;
        for (int e = 0; e < n; e++) {
            int taken = 0;
            for (int j = 0; j < k; j++)
                taken |= idx[j] == e;
            if (!taken && (best < 0 || v[e] > v[best]))
                best = e;
        }
        idx[k] = best;
    }
}

static void softmax_vec(float *p, const float *l, int n)
{
    float m = l[0], s = 0;
    for (int i = 1; i < n; i++)
        m = l[i] > m ? l[i] : m;
    for (int i = 0; i < n; i++)
        s += p[i] = expf(l[i] - m);
    for (int i = 0; i < n; i++)
        p[i] /= s;
}

void moe_route(const struct moe_config *cfg, const float *logits, int T, float *probs, int *idx, float *w)
{
    int E = cfg->n_experts, K = cfg->top_k;
    for (int t = 0; t < T; t++) {
        const float *l = logits + (size_t)t * E;
        float *p = probs + (size_t)t * E, *wt = w + (size_t)t * K;
        int *it = idx + (size_t)t * K;
        softmax_vec(p, l, E);
        if (cfg->router == MOE_ROUTER_TOPK_SOFTMAX) {
            float lk[K];
            topk_pick(l, E, K, it);
            for (int k = 0; k < K; k++)
                lk[k] = l[it[k]];
            softmax_vec(wt, lk, K);
            continue;
        }
        topk_pick(p, E, K, it);
        float s = 0;
        for (int k = 0; k < K; k++)
            s += wt[k] = p[it[k]];
        if (cfg->norm_topk)
            for (int k = 0; k < K; k++)
                wt[k] /= s;
    }
}

/* a[n, I] = glu(gu[n, 2I]) as cfg->glu says. */
static void moe_glu_forward(const struct moe_config *cfg, float *a, const float *gu, int n)
{
    int I = cfg->ffn;
    for (int r = 0; r < n; r++) {
        const float *row = gu + (size_t)r * 2 * I;
        for (int i = 0; i < I; i++) {
            float g, u;
            if (cfg->glu == MOE_GLU_CLAMPED) {
                g = fminf(row[2 * i], cfg->limit);
                u = fminf(fmaxf(row[2 * i + 1], -cfg->limit), cfg->limit);
                a[(size_t)r * I + i] = (u + 1.0f) * (g / (1.0f + expf(-cfg->alpha * g)));
            } else {
                g = row[i];
                u = row[I + i];
                a[(size_t)r * I + i] = g / (1.0f + expf(-g)) * u;
            }
        }
    }
}

size_t moe_step_bytes(const struct moe_config *cfg, int T)
{
    size_t t = (size_t)T, E = cfg->n_experts, K = cfg->top_k, H = cfg->hidden, I = cfg->ffn;
    size_t router = sizeof(float) * t * (2 * E + K) + sizeof(int) * t * K + 1;
    size_t experts = sizeof(float) * t * (3 * H + 3 * I + 1) + sizeof(int) * (t ? t : 1);
    return router + experts;
}

enum ss_status moe_experts_forward(float *out, const float *x, const struct moe_config *cfg,
                                   const struct moe_weights *mw, const int *idx, const float *w, int T,
                                   const struct linear_exec *ex, struct ss_error *err)
{
    int H = cfg->hidden, I = cfg->ffn, K = cfg->top_k;
    /* xe[T, H] gathered rows, gu[T, 2I], a[T, I], ye[T, H]; tok/wt[T]: where each row goes */
    float *xe = malloc(sizeof(float) * (size_t)T * (3 * (size_t)H + 3 * (size_t)I + 1));
    int *tok = malloc(sizeof(int) * (size_t)(T ? T : 1));
    if (!xe || !tok) {
        free(xe);
        free(tok);
        return ss_fail(err, SS_ERR_NOMEM, "moe: cannot allocate scratch for %d positions", T);
    }
    float *gu = xe + (size_t)T * H, *a = gu + (size_t)T * 2 * I, *ye = a + (size_t)T * I, *wt = ye + (size_t)T * H;
    memset(out, 0, sizeof(float) * (size_t)T * H);
    for (int e = 0; e < cfg->n_experts; e++) {
        int n = 0;
        for (int t = 0; t < T; t++)
            for (int k = 0; k < K; k++)
                if (idx[(size_t)t * K + k] == e) {
                    memcpy(xe + (size_t)n * H, x + (size_t)t * H, sizeof(float) * H);
                    tok[n] = t;
                    wt[n++] = w[(size_t)t * K + k];
                }
        if (!n)
            continue;
        if (mw->gate_up) {
            linear_forward(gu, xe, &mw->gate_up[e], mw->gate_up_b ? mw->gate_up_b + (size_t)e * 2 * I : NULL, n, ex);
            moe_glu_forward(cfg, a, gu, n);
        } else { /* gate [n, I] in gu, up [n, I] in a: a = silu(gate) * up */
            linear_forward(gu, xe, &mw->gate[e], NULL, n, ex);
            linear_forward(a, xe, &mw->up[e], NULL, n, ex);
            for (size_t i = 0; i < (size_t)n * I; i++)
                a[i] *= gu[i] / (1.0f + expf(-gu[i]));
        }
        linear_forward(ye, a, &mw->down[e], mw->down_b ? mw->down_b + (size_t)e * H : NULL, n, ex);
        for (int r = 0; r < n; r++)
            for (int c = 0; c < H; c++)
                out[(size_t)tok[r] * H + c] += wt[r] * ye[(size_t)r * H + c];
    }
    free(xe);
    free(tok);
    return SS_OK;
}
