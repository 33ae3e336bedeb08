/* model/blocks.c — norms, activations, soft-capping and partial RoPE for the
 * families of model/arch.h, computed as transformers does in float32 (sums in
 * double: the last bit may differ, never more). */
#include "blocks.h"

#include <math.h>

void norm_forward(enum norm_kind k, float *out, const float *x, const float *w, const float *b, int T, int C,
                  float eps)
{
    for (int t = 0; t < T; t++) {
        const float *xr = x + (size_t)t * C;
        float *o = out + (size_t)t * C;
        double mean = 0, ss = 0;
        if (k == NORM_LAYER) {
            for (int i = 0; i < C; i++)
                mean += xr[i];
            mean /= C;
        }
        for (int i = 0; i < C; i++)
            ss += ((double)xr[i] - mean) * ((double)xr[i] - mean);
        float r = (float)(1.0 / sqrt(ss / C + eps)), mu = (float)mean;
        for (int i = 0; i < C; i++) {
            float y = (xr[i] - mu) * r;
            o[i] = k == NORM_RMS_OFFSET ? y * (1.0f + w[i]) : k == NORM_LAYER ? y * w[i] + (b ? b[i] : 0) : w[i] * y;
        }
    }
}

static float act_one(enum act_kind k, float x)
{
    switch (k) {
    case ACT_GELU: return 0.5f * x * (1.0f + erff(x * (float)M_SQRT1_2));
    case ACT_GELU_TANH: return 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
    case ACT_RELU: return x > 0 ? x : 0;
    default: return x / (1.0f + expf(-x));
    }
}

void act_forward(enum act_kind k, float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = act_one(k, x[i]);
}

void gated_act_forward(enum act_kind k, float *h, float *g, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h[i] *= act_one(k, g[i]);
}

void softcap_forward(float *x, size_t n, float cap)
{
    for (size_t i = 0; i < n; i++)
        if (x[i] != -INFINITY)
            x[i] = tanhf(x[i] / cap) * cap;
}

void rope_partial_forward(float *x, const float *cos_t, const float *sin_t, int T, int n, int D, int R, int stride)
{
    int half = R / 2;
    for (int p = 0; p < T; p++) {
        const float *c = cos_t + (size_t)p * half, *s = sin_t + (size_t)p * half;
        for (int h = 0; h < n; h++) {
            float *v = x + (size_t)p * stride + (size_t)h * D;
            for (int i = 0; i < half; i++) {
                float a = v[i], b = v[i + half];
                v[i] = a * c[i] - b * s[i];
                v[i + half] = b * c[i] + a * s[i];
            }
        }
    }
}
