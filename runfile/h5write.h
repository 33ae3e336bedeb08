/* runfile/h5write.h — the writing side of the run file: an HDF5 file with
 * dimension scales at the root, datasets carrying long_name/units and their
 * scales attached (so xarray + h5netcdf see named dims), UTF-8 string attributes.
 * Every error names the file: "out.h5.tmp-42: cannot write /stats/nll". */
#ifndef SS_PROBES_H5WRITE_H
#define SS_PROBES_H5WRITE_H

#include <hdf5.h>
#include <stdint.h>

#include "../common/error.h"

struct h5w {
    hid_t file;
    char path[4096];
};

/* Create (truncate) path; HDF5's own error printing is switched off. */
enum ss_status h5w_create(struct h5w **w, const char *path, struct ss_error *err);
/* Open an existing file (read-only unless rw). */
enum ss_status h5w_open(struct h5w **w, const char *path, int rw, struct ss_error *err);
/* Flush and close; an error here (disk full) means the file is not complete. */
enum ss_status h5w_close(struct h5w *w, struct ss_error *err);

/* Attributes of obj (a file, group or dataset id). Strings are scalar vlen UTF-8. */
enum ss_status h5w_attr_string(struct h5w *w, hid_t obj, const char *name, const char *value,
                               struct ss_error *err);
enum ss_status h5w_attr_int(struct h5w *w, hid_t obj, const char *name, int value,
                            struct ss_error *err);
enum ss_status h5w_attr_double(struct h5w *w, hid_t obj, const char *name, double value,
                               struct ss_error *err);
enum ss_status h5w_attr_ints(struct h5w *w, hid_t obj, const char *name, const int *v, int n,
                             struct ss_error *err);

/* Dimension scale /name (at the root, so netCDF readers see it from every
 * group) of n entries: values (float64) or, when NULL, the
 * indices 0..n-1 (int32). Replaced if it exists with another length. */
enum ss_status h5w_dim(struct h5w *w, const char *name, int64_t n, const double *values,
                       const char *long_name, const char *units, struct ss_error *err);

/* Create dataset path (parent groups created) of file type `type` with the
 * scales /<dims[i]> attached, chunked when chunk != NULL (gzip level when
 * gzip > 0, with shuffle), attributes long_name and units. *out: the dataset
 * (caller closes with H5Dclose). */
enum ss_status h5w_dataset(struct h5w *w, const char *path, hid_t type, int ndim,
                           const char *const *dims, const int64_t *shape, const int64_t *chunk,
                           int gzip, const char *long_name, const char *units, hid_t *out,
                           struct ss_error *err);
/* Write a hyperslab (start, count per axis) of memory type mtype. */
enum ss_status h5w_write_slab(struct h5w *w, hid_t dset, hid_t mtype, const int64_t *start,
                              const int64_t *count, const void *data, struct ss_error *err);
/* Create, write whole (data of memory type mtype) and close. ndim 0 = scalar. */
enum ss_status h5w_write(struct h5w *w, const char *path, hid_t ftype, hid_t mtype, int ndim,
                         const char *const *dims, const int64_t *shape, const void *data,
                         const char *long_name, const char *units, struct ss_error *err);

/* IEEE half precision built from float32 (HDF5 1.10 has no predefined one); close it. */
hid_t h5w_half_type(void);
/* Variable-length UTF-8 string type; close it. */
/* Fixed-length NUL-terminated UTF-8 string type of `bytes` bytes (see h5write.c for why not vlen). */
hid_t h5w_string_type(size_t bytes);
/* Bytes per /token_text entry: pieces longer than 127 bytes are cut at a character boundary. */
#define H5W_TEXT_BYTES 128
/* Copy src into dst[bytes], NUL-padded, cut at a UTF-8 character boundary if too long. */
void h5w_text_copy(char *dst, size_t bytes, const char *src);

#endif
