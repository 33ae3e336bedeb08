/* model/mxfp4.c — MXFP4 decoding (mxfp4.h). */
#include <math.h>

#include "mxfp4.h"

/* FP4 E2M1: sign bit, 2 exponent bits, 1 mantissa bit. */
static const float e2m1[16] = {0.0f,  0.5f,  1.0f,  1.5f,  2.0f,  3.0f,  4.0f,  6.0f,
                               -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};

void mxfp4_rows_f32(const uint8_t *blocks, const uint8_t *scales, int64_t groups, int64_t r0, int64_t n,
                    float *dst)
{
    for (int64_t r = r0; r < r0 + n; r++)
        for (int64_t g = 0; g < groups; g++) {
            const uint8_t *b = blocks + ((size_t)r * groups + g) * 16;
            int ex = (int)scales[(size_t)r * groups + g] - 127;
            if (ex < -126 || ex > 127) { /* 2^ex is not a normal float: ldexp value by value */
                for (int i = 0; i < 16; i++) {
                    *dst++ = ldexpf(e2m1[b[i] & 15], ex);
                    *dst++ = ldexpf(e2m1[b[i] >> 4], ex);
                }
                continue;
            }
            float sc = ldexpf(1.0f, ex); /* times a power of two: exact, the same floats as ldexp */
            for (int i = 0; i < 16; i++) {
                *dst++ = e2m1[b[i] & 15] * sc;
                *dst++ = e2m1[b[i] >> 4] * sc;
            }
        }
}
