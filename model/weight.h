/* model/weight.h — a weight matrix as the checkpoint stores it.
 *
 * Weights stay where safetensors put them (mmapped, BF16/F16/F32, possibly
 * unaligned); whoever multiplies by one converts the rows it is about to use into
 * float32 scratch (exact for every stored dtype), so the arithmetic is the same as
 * if the whole matrix had been converted once. A view over a float32 array
 * (weight_f32) is a weight too: tests and tools build those. */
#ifndef SS_MODEL_WEIGHT_H
#define SS_MODEL_WEIGHT_H

#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>

#include "../common/error.h"

/* Stored dtypes a weight may have (the values of enum st_dtype, model/safetensors.h,
 * which model.h users need not see). */
enum weight_dtype { WEIGHT_F32 = 0, WEIGHT_BF16 = 1, WEIGHT_F16 = 2,
                    WEIGHT_MXFP4 = 16 /* blocks + scales (model/mxfp4.h); not a safetensors dtype */ };

/* What reading one model's stored weights has met so far (shared by its tensors). */
struct weight_log {
    _Atomic int n_nonfinite;   /* tensors with NaN/Inf (one warning printed for each) */
    _Atomic(const char *) vanished; /* a file whose mapped bytes could not be read
                                     * (truncated or overwritten while mapped), or NULL */
};

/* One stored tensor's bookkeeping: NaN/Inf warned about once, when first met. */
struct weight_check {
    const char *path, *name;   /* file and tensor name, for the messages */
    _Atomic int warned;        /* 1 once its NaN/Inf warning was printed */
    struct weight_log *log;
};

struct weight {
    const void *data;          /* rows*cols values of dtype, row-major ([out, in] as in HF) */
    enum weight_dtype dtype;
    int64_t rows, cols;
    struct weight_check *check; /* NULL: not checked (float32 views built in memory) */
    const uint8_t *scales;     /* WEIGHT_MXFP4: [rows, cols/32] E8M0 exponents (data = the [rows, cols/32, 16] blocks) */
    int transposed;            /* F32/BF16/F16 stored [cols, rows] ([in, out]: gpt_oss's unquantised experts):
                                * a row of the view is a column of the data, gathered when converted */
};

/* A float32 view of data[rows, cols] (not checked for NaN/Inf). */
struct weight weight_f32(const float *data, int64_t rows, int64_t cols);

/* An MXFP4 view: blocks[rows, cols/32, 16], scales[rows, cols/32] (cols a multiple of 32). */
struct weight weight_mxfp4(const uint8_t *blocks, const uint8_t *scales, int64_t rows, int64_t cols);

/* dst[n, cols] = rows r0..r0+n of w as float32. Values that are NaN/Inf produce
 * the tensor's one warning on stderr (when w->check is set). When the mapped bytes
 * cannot be read (SIGBUS: the file shrank or was overwritten under its map; caught
 * once weight_guard_install ran), dst is zeroed and w->check->log->vanished names
 * the file: the caller must test weight_log_error before trusting the result. */
void weight_rows_f32(const struct weight *w, int64_t r0, int64_t n, float *dst);

/* Rows r0.. of w usable as float32 in place (an unchecked, aligned F32 view), else
 * NULL: stored tensors are always converted, which is also where they are checked. */
const float *weight_rows_direct(const struct weight *w, int64_t r0);

/* Catch SIGBUS raised while weight_rows_f32 reads a mapped checkpoint (a handler
 * that jumps back out of the conversion; other SIGBUS keep their previous
 * disposition). Idempotent. */
void weight_guard_install(void);

/* SS_ERR_INPUT naming the file when a weight read failed (see weight_rows_f32). */
enum ss_status weight_log_error(struct weight_log *log, struct ss_error *err);

#endif
