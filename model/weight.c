/* model/weight.c — stored weights read as float32, a few rows at a time. */
#include "weight.h"

#include <stdatomic.h>
#include <stdio.h>

#include "safetensors.h"

_Static_assert(WEIGHT_F32 == (int)ST_DTYPE_F32 && WEIGHT_BF16 == (int)ST_DTYPE_BF16 &&
                   WEIGHT_F16 == (int)ST_DTYPE_F16,
               "weight dtypes are safetensors dtypes");

struct weight weight_f32(const float *data, int64_t rows, int64_t cols)
{
    return (struct weight){data, WEIGHT_F32, rows, cols, NULL};
}

static size_t dtype_size(enum weight_dtype d)
{
    return d == WEIGHT_F32 ? 4 : 2;
}

/* One warning per tensor, from whichever thread meets its first NaN/Inf. */
static void check_report(struct weight_check *c, size_t bad)
{
    if (!bad || atomic_exchange((_Atomic int *)&c->warned, 1))
        return;
    fprintf(stderr, "sinkscope: warning: %s: tensor '%s' has NaN/Inf values (%zu in the first rows read)\n", c->path,
            c->name, bad);
    atomic_fetch_add((_Atomic int *)c->n_warned, 1);
}

void weight_rows_f32(const struct weight *w, int64_t r0, int64_t n, float *dst)
{
    const char *src = (const char *)w->data + (size_t)r0 * w->cols * dtype_size(w->dtype);
    size_t bad = st_convert_f32((enum st_dtype)w->dtype, src, (size_t)n * w->cols, dst);
    if (w->check)
        check_report(w->check, bad);
}

const float *weight_rows_direct(const struct weight *w, int64_t r0)
{
    if (w->dtype != WEIGHT_F32 || (uintptr_t)w->data % 4 || w->check)
        return NULL;
    return (const float *)w->data + (size_t)r0 * w->cols;
}
