/* model/ops.h — the operations of the forward pass, one function each, float32,
 * row-major. T = positions, C = channels. Weights are [out, in] as in HF. */
#ifndef SS_MODEL_OPS_H
#define SS_MODEL_OPS_H

#include <stddef.h>

#include "weight.h"

/* out[T, C] = x / sqrt(mean(x^2) + eps) * w[C]   (out may equal x) */
void rmsnorm_forward(float *out, const float *x, const float *w, int T, int C, float eps);

/* Threads and their float32 scratch for weight rows (LINEAR_SLICE rows of the
 * widest weight per thread; NULL when every weight is an in-memory float32 view). */
struct linear_exec {
    int threads;
    float *scratch;            /* [threads, scratch_floats] */
    size_t scratch_floats;
};

/* out[T, n_out] = x[T, n_in] @ w[n_out, n_in]^T (+ b[n_out]), n_out = w->rows,
 * n_in = w->cols: an sgemm over all T positions for each slice of LINEAR_SLICE
 * output columns, slices spread over ex->threads threads; each task converts its
 * slice of w into its thread's scratch first (exact), so the sgemm sees the same
 * floats whatever the stored dtype. The slicing depends on n_out only, so the
 * result is the same for every thread count. */
#define LINEAR_SLICE 256
void linear_forward(float *out, const float *x, const struct weight *w, const float *b, int T,
                    const struct linear_exec *ex);

/* linear_forward whose sgemm goes over the positions in blocks of `rows`: each
 * slice of w is converted once and reused for every block, and each block's sgemm
 * is the call linear_forward makes for a T of `rows` positions (same floats, same
 * order). The LM head uses it so the head is converted once per forward pass. */
void linear_forward_rows(float *out, const float *x, const struct weight *w, const float *b, int T, int rows,
                         const struct linear_exec *ex);

/* linear_forward_rows over n_seg segments of T positions stacked in x[n_seg * T, n_in]
 * (the windows of a batch): each slice of w is converted once for all of them, and
 * each segment gets exactly the sgemm calls linear_forward_rows makes for it alone,
 * so a segment's numbers do not depend on n_seg. */
void linear_forward_segs(float *out, const float *x, const struct weight *w, const float *b, int n_seg, int T,
                         int rows, const struct linear_exec *ex);

/* cos/sin[T, D/2] of angle p * inv_freq[i], times `scale` (yarn attention factor). */
void rope_table_fill(float *cos_t, float *sin_t, const float *inv_freq, float scale, int T, int D);


/* Softmax of each row of s[nq, nk] over its entries that are not -INFINITY
 * (those become 0). Query row i sits at absolute position q0 + i. */
void softmax_rows(float *s, int nq, int nk);

/* softmax_rows with one more logit per row, `sink`, that joins each softmax and is then
 * dropped: row entries sum to 1 - share[i * share_stride], the sink's share (gpt_oss's
 * learned sinks). A row of NaN scores gives NaN entries and share. */
void softmax_rows_sink(float *s, int nq, int nk, float sink, float *share, int share_stride);

/* h[n] = silu(g[n]) * h[n]  (SwiGLU) */
void swiglu_forward(float *h, const float *g, size_t n);

/* g[n] = 1 / (1 + exp(-g[n])) */
void sigmoid_forward(float *g, size_t n);

#endif
