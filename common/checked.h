/* common/checked.h — size arithmetic that cannot wrap.
 *
 * Every product of sizes taken from an input (heads x head_dim, layers x heads x T x T,
 * a dataset's extents) goes through these: they return 0 and the result, or -1 when it
 * does not fit, so the caller reports "too large" instead of allocating a wrapped size. */
#ifndef SS_COMMON_CHECKED_H
#define SS_COMMON_CHECKED_H

#include <stddef.h>
#include <stdint.h>

static inline int ck_mul_size(size_t a, size_t b, size_t *out)
{
    return __builtin_mul_overflow(a, b, out) ? -1 : 0;
}

static inline int ck_add_size(size_t a, size_t b, size_t *out)
{
    return __builtin_add_overflow(a, b, out) ? -1 : 0;
}

/* a * b as an int (for counts that index int arrays); -1 on overflow or a negative factor. */
static inline int ck_mul_int(int a, int b, int *out)
{
    return a < 0 || b < 0 || __builtin_mul_overflow(a, b, out) ? -1 : 0;
}

/* Product of n extents times elem bytes; -1 when it exceeds SIZE_MAX. */
static inline int ck_product(const uint64_t *ext, int n, size_t elem, size_t *out)
{
    size_t p = elem;
    for (int i = 0; i < n; i++)
        if (__builtin_mul_overflow(p, ext[i], &p))
            return -1;
    *out = p;
    return 0;
}

#endif
