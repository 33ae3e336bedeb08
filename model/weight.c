/* model/weight.c — stored weights read as float32, a few rows at a time, with
 * the NaN/Inf warning and the SIGBUS guard of mapped checkpoints. */
#include "weight.h"

#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "mxfp4.h"
#include "safetensors.h"

_Static_assert(WEIGHT_F32 == (int)ST_DTYPE_F32 && WEIGHT_BF16 == (int)ST_DTYPE_BF16 &&
                   WEIGHT_F16 == (int)ST_DTYPE_F16,
               "weight dtypes are safetensors dtypes");

struct weight weight_f32(const float *data, int64_t rows, int64_t cols)
{
    return (struct weight){data, WEIGHT_F32, rows, cols, NULL, NULL};
}

struct weight weight_mxfp4(const uint8_t *blocks, const uint8_t *scales, int64_t rows, int64_t cols)
{
    return (struct weight){blocks, WEIGHT_MXFP4, rows, cols, NULL, scales};
}

/* dst[n, cols] = rows r0.. of a view stored [cols, rows]: for each stored row j, its
 * values r0..r0+n (contiguous) become column j of dst; returns how many are NaN/Inf. */
static size_t rows_convert_transposed(const struct weight *w, int64_t r0, int64_t n, float *dst)
{
    size_t es = w->dtype == WEIGHT_F32 ? 4 : 2, bad = 0;
    float tmp[256];
    for (int64_t j = 0; j < w->cols; j++)
        for (int64_t i0 = 0; i0 < n; i0 += 256) {
            size_t m = n - i0 < 256 ? (size_t)(n - i0) : 256;
            bad += st_convert_f32((enum st_dtype)w->dtype, (const char *)w->data + ((size_t)j * w->rows + r0 + i0) * es,
                                  m, tmp);
            for (size_t i = 0; i < m; i++)
                dst[(size_t)(i0 + i) * w->cols + j] = tmp[i];
        }
    return bad;
}

/* dst[n, cols] = rows r0.. of w as float32; returns how many are NaN/Inf. */
static size_t rows_convert(const struct weight *w, int64_t r0, int64_t n, float *dst)
{
    size_t count = (size_t)n * w->cols, bad = 0;
    if (w->transposed && w->dtype != WEIGHT_MXFP4)
        return rows_convert_transposed(w, r0, n, dst);
    if (w->dtype != WEIGHT_MXFP4)
        return st_convert_f32((enum st_dtype)w->dtype, (const char *)w->data + (size_t)r0 * w->cols * 
                              (w->dtype == WEIGHT_F32 ? 4 : 2), count, dst);
    mxfp4_rows_f32(w->data, w->scales, w->cols / 32, r0, n, dst);
    for (size_t i = 0; i < count; i++) /* scale 255 (E8M0 NaN) gives Inf, as ldexp does in transformers */
        bad += !isfinite(dst[i]);
    return bad;
}

/* One warning per tensor, from whichever thread meets its first NaN/Inf. */
static void check_report(struct weight_check *c, size_t bad)
{
    if (!bad || atomic_exchange(&c->warned, 1))
        return;
    fprintf(stderr, "sinkscope: warning: %s: tensor '%s' has NaN/Inf values (%zu in the first slice read that has any)\n", c->path,
            c->name, bad);
    atomic_fetch_add(&c->log->n_nonfinite, 1);
}

/* ---- SIGBUS guard: a read of a vanished mapping jumps back to its conversion ---- */

static _Thread_local sigjmp_buf *guard_jmp; /* set while this thread reads mapped weights */
static struct sigaction guard_prev;
static pthread_once_t guard_once = PTHREAD_ONCE_INIT;

static void guard_handler(int sig, siginfo_t *si, void *uc)
{
    if (guard_jmp)
        siglongjmp(*guard_jmp, 1);
    /* not a weight read: put back what was there; the faulting access runs again under it */
    sigaction(SIGBUS, &guard_prev, NULL);
    (void)sig, (void)si, (void)uc;
}

static void guard_init(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = guard_handler;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER; /* NODEFER: no signal mask to restore after the jump */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &guard_prev);
}

void weight_guard_install(void)
{
    pthread_once(&guard_once, guard_init);
}

enum ss_status weight_log_error(struct weight_log *log, struct ss_error *err)
{
    const char *p = log ? atomic_load(&log->vanished) : NULL;
    if (!p)
        return SS_OK;
    return ss_fail(err, SS_ERR_INPUT,
                   "%s: the weights could not be read: the file was truncated or overwritten while this run had it "
                   "mapped", p);
}

void weight_rows_f32(const struct weight *w, int64_t r0, int64_t n, float *dst)
{
    size_t count = (size_t)n * w->cols;
    if (!w->check) { /* an in-memory view: nothing to guard or check */
        rows_convert(w, r0, n, dst);
        return;
    }
    sigjmp_buf jb;
    if (sigsetjmp(jb, 0)) {
        guard_jmp = NULL;
        memset(dst, 0, count * sizeof *dst);
        const char *none = NULL;
        atomic_compare_exchange_strong(&w->check->log->vanished, &none, w->check->path);
        return;
    }
    guard_jmp = &jb;
    size_t bad = rows_convert(w, r0, n, dst);
    guard_jmp = NULL;
    check_report(w->check, bad);
}

const float *weight_rows_direct(const struct weight *w, int64_t r0)
{
    if (w->dtype != WEIGHT_F32 || (uintptr_t)w->data % 4 || w->check || w->transposed)
        return NULL;
    return (const float *)w->data + (size_t)r0 * w->cols;
}
