/* model/blocks.h — the family-dependent blocks of the forward pass (model/arch.h
 * picks them through struct model_variant), float32, row-major, one function each.
 * T = positions, C = channels. */
#ifndef SS_MODEL_BLOCKS_H
#define SS_MODEL_BLOCKS_H

#include <stddef.h>

#include "model.h"

/* out[T, C] = norm(x) of kind k: RMSNorm (w), RMSNorm (1 + w) or LayerNorm (w, b);
 * out may equal x. */
void norm_forward(enum norm_kind k, float *out, const float *x, const float *w, const float *b, int T, int C,
                  float eps);

/* x[n] = act(x[n]) for SiLU, GELU (erf), GELU (tanh form) and ReLU. */
void act_forward(enum act_kind k, float *x, size_t n);

/* h[n] = act(g[n]) * h[n]: the gated MLP (SwiGLU, GeGLU). */
void gated_act_forward(enum act_kind k, float *h, float *g, size_t n);

/* x[n] = tanh(x[n] / cap) * cap (soft-capping; -INFINITY stays). */
void softcap_forward(float *x, size_t n, float cap);

/* Rotate-half RoPE on the first R dims of each of the n heads (head size D) of
 * x[T, n, D] (row stride `stride` floats): pairs (i, i + R/2), i < R/2. R = D is full
 * rotary; the last D - R dims pass through. */
void rope_partial_forward(float *x, const float *cos_t, const float *sin_t, int T, int n, int D, int R, int stride);

#endif
