/* model/ops.c — elementwise and row operations; the matrix products are OpenBLAS. */
#include "ops.h"
#include "parallel.h"

#include <cblas.h>
#include <math.h>
#include <stddef.h>

void rmsnorm_forward(float *out, const float *x, const float *w, int T, int C, float eps)
{
    for (int t = 0; t < T; t++) {
        const float *xr = x + (size_t)t * C;
        float *o = out + (size_t)t * C;
        double ss = 0;
        for (int i = 0; i < C; i++)
            ss += (double)xr[i] * xr[i];
        float r = (float)(1.0 / sqrt(ss / C + eps));
        for (int i = 0; i < C; i++)
            o[i] = w[i] * (xr[i] * r);
    }
}

/* One slice of linear_forward: out[:, c0..c0+n] from rows c0.. of w. */
struct linear_job {
    float *out;
    const float *x, *b;
    const struct weight *w;
    const struct linear_exec *ex;
    int n_seg, T, rows;        /* n_seg segments of T positions, each in blocks of `rows` */
};

static void linear_slice(void *ctx, int task, int worker)
{
    const struct linear_job *j = ctx;
    int n_in = (int)j->w->cols, n_out = (int)j->w->rows;
    int c0 = task * LINEAR_SLICE, n = n_out - c0 < LINEAR_SLICE ? n_out - c0 : LINEAR_SLICE;
    const float *wr = weight_rows_direct(j->w, c0);
    if (!wr) {
        float *s = j->ex->scratch + (size_t)worker * j->ex->scratch_floats;
        weight_rows_f32(j->w, c0, n, s);
        wr = s;
    }
    float *o = j->out + c0;
    size_t N = (size_t)j->n_seg * j->T;
    for (size_t s0 = 0; s0 < N; s0 += j->T) /* each segment: x[s0 + p0.., :] @ slice^T, one block at a time */
        for (int p0 = 0; p0 < j->T; p0 += j->rows) {
            int m = j->T - p0 < j->rows ? j->T - p0 : j->rows;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, n_in, 1.0f, j->x + (s0 + p0) * n_in, n_in, wr,
                        n_in, 0.0f, o + (s0 + p0) * n_out, n_out);
        }
    if (j->b)
        for (size_t t = 0; t < N; t++)
            for (int i = 0; i < n; i++)
                o[(size_t)t * n_out + i] += j->b[c0 + i];
}

void linear_forward(float *out, const float *x, const struct weight *w, const float *b, int T,
                    const struct linear_exec *ex)
{
    linear_forward_rows(out, x, w, b, T, T, ex);
}

void linear_forward_rows(float *out, const float *x, const struct weight *w, const float *b, int T, int rows,
                         const struct linear_exec *ex)
{
    linear_forward_segs(out, x, w, b, 1, T, rows, ex);
}

void linear_forward_segs(float *out, const float *x, const struct weight *w, const float *b, int n_seg, int T,
                         int rows, const struct linear_exec *ex)
{
    struct linear_job j = {out, x, b, w, ex, n_seg, T, rows < 1 ? T : rows};
    parallel_run((int)((w->rows + LINEAR_SLICE - 1) / LINEAR_SLICE), ex->threads, linear_slice, &j);
}

void rope_table_fill(float *cos_t, float *sin_t, const float *inv_freq, float scale, int T, int D)
{
    int half = D / 2;
    for (int p = 0; p < T; p++)
        for (int i = 0; i < half; i++) {
            float a = (float)p * inv_freq[i]; /* float32 angle, as the reference */
            cos_t[(size_t)p * half + i] = (float)cos((double)a) * scale;
            sin_t[(size_t)p * half + i] = (float)sin((double)a) * scale;
        }
}

/* One row r[nk] softmaxed together with one more logit `extra` (-INFINITY: none), whose
 * share goes to *share (NULL: not wanted). NaN anywhere: a NaN row, never a silent row of
 * zeros; a fully masked row (causally impossible) becomes zeros. */
static void softmax_row(float *r, int nk, float extra, float *share)
{
    float mx = extra;
    int nan = extra != extra;
    for (int j = 0; j < nk; j++) {
        mx = r[j] > mx ? r[j] : mx;
        nan |= r[j] != r[j];
    }
    if (nan || mx == -INFINITY) {
        for (int j = 0; j < nk; j++)
            r[j] = nan ? NAN : 0;
        if (share)
            *share = nan ? NAN : 0;
        return;
    }
    float e = expf(extra - mx), sum = e; /* e = 0 exactly without an extra logit */
    for (int j = 0; j < nk; j++) {
        r[j] = expf(r[j] - mx);
        sum += r[j];
    }
    float inv = 1.0f / sum;
    for (int j = 0; j < nk; j++)
        r[j] *= inv;
    if (share)
        *share = e * inv;
}

void softmax_rows(float *s, int nq, int nk)
{
    for (int i = 0; i < nq; i++)
        softmax_row(s + (size_t)i * nk, nk, -INFINITY, NULL);
}

void softmax_rows_sink(float *s, int nq, int nk, float sink, float *share, int share_stride)
{
    for (int i = 0; i < nq; i++)
        softmax_row(s + (size_t)i * nk, nk, sink, share + (size_t)i * share_stride);
}

void swiglu_forward(float *h, const float *g, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h[i] *= g[i] / (1.0f + expf(-g[i]));
}

void sigmoid_forward(float *g, size_t n)
{
    for (size_t i = 0; i < n; i++)
        g[i] = 1.0f / (1.0f + expf(-g[i]));
}
