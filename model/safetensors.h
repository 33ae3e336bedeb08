/* model/safetensors.h — read-only safetensors files (one file or a sharded set).
 *
 * Every rule of the reference reader is enforced at open: header length <= 100 MB,
 * header is a JSON object without duplicate keys, `__metadata__` is a string map,
 * entries are {dtype, shape, data_offsets}, offsets tile the data region with no
 * holes or overlaps, byte size == dtype size x shape (overflow-checked), data end ==
 * file size. Files are mmapped; tensor data may be unaligned, so it is only ever
 * memcpy'd out of the map. */
#ifndef SS_MODEL_SAFETENSORS_H
#define SS_MODEL_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "../common/error.h"

enum st_dtype {
    ST_DTYPE_F32 = 0,
    ST_DTYPE_BF16,
    ST_DTYPE_F16,
    ST_DTYPE_I32,
    ST_DTYPE_OTHER,            /* a valid safetensors dtype we do not convert (name kept) */
};

#define ST_MAX_DIMS 8

struct st_tensor {
    char *name;
    enum st_dtype dtype;
    char dtype_name[16];
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    uint64_t begin, end;       /* byte offsets relative to the data region */
    int file;                  /* index into st_set.files */
};

struct st_file {
    char *path;
    int fd;
    uint8_t *map;
    size_t size;               /* file size */
    size_t data_off;           /* 8 + header length */
};

struct st_set {
    struct st_file *files;
    int n_files;
    struct st_tensor *tensors;
    int n_tensors;
};

/* Open one .safetensors file into an empty (zeroed) set. */
enum ss_status st_open_file(struct st_set *s, const char *path, struct ss_error *err);
/* Open DIR/model.safetensors, or the shards named by DIR/model.safetensors.index.json
 * (every tensor of the map must be in the shard the map names, and vice versa). */
enum ss_status st_open_dir(struct st_set *s, const char *dir, struct ss_error *err);
void st_close(struct st_set *s);

const struct st_tensor *st_find(const struct st_set *s, const char *name);
/* Elements of t (product of its shape; 1 for a 0-rank tensor). */
uint64_t st_numel(const struct st_tensor *t);
const char *st_path(const struct st_set *s, const struct st_tensor *t);

/* Convert t (F32, BF16 or F16) to float32 into dst[numel]; the mapped pages are
 * released (MADV_DONTNEED) as conversion proceeds. *n_nonfinite (may be NULL)
 * receives the count of NaN/Inf values. Other dtypes: SS_ERR_INPUT naming file,
 * tensor and dtype. */
enum ss_status st_read_f32(const struct st_set *s, const struct st_tensor *t, float *dst,
                           size_t *n_nonfinite, struct ss_error *err);
/* dst[n] = src[n] (F32, BF16 or F16, little-endian, any alignment) as float32,
 * exactly; returns how many of the values are NaN/Inf. */
size_t st_convert_f32(enum st_dtype dt, const void *src, size_t n, float *dst);
/* Ask the kernel to read t's pages ahead (asynchronously): reads of many small
 * tensors of a cold file then overlap instead of waiting one by one. */
void st_prefetch(const struct st_set *s, const struct st_tensor *t);
/* Copy the raw bytes of t (any dtype) into dst[t->end - t->begin]. */
void st_read_raw(const struct st_set *s, const struct st_tensor *t, void *dst);

/* Scalar conversions (little-endian storage). */
float st_bf16_to_f32(uint16_t h);
float st_f16_to_f32(uint16_t h);
uint16_t st_f32_to_bf16(float f);  /* round to nearest even */
uint16_t st_f32_to_f16(float f);   /* round to nearest even */

#endif
