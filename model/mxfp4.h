/* model/mxfp4.h — MXFP4 weights (gpt-oss experts): `*_blocks` U8 [.., rows, G, 16]
 * hold two FP4 E2M1 values per byte (low nibble first), `*_scales` U8 [.., rows, G]
 * one E8M0 exponent (biased by 127) per 32 values. Row r of a [rows, G*32] matrix is
 * blocks[r] (the [out, in] layout of a linear layer). Decoded a slice at a time,
 * never expanded whole. */
#ifndef SS_MODEL_MXFP4_H
#define SS_MODEL_MXFP4_H

#include <stddef.h>
#include <stdint.h>

/* dst[n, G*32] = rows r0..r0+n of the matrix of `blocks`/`scales` (G groups per row),
 * value = e2m1[nibble] * 2^(scale - 127), exact in float32 (as transformers'
 * integrations/mxfp4.py computes it with ldexp). */
void mxfp4_rows_f32(const uint8_t *blocks, const uint8_t *scales, int64_t groups, int64_t r0, int64_t n,
                    float *dst);

#endif
