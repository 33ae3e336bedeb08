/* runfile/runfile.h — reading a sinkscope run file (docs/SCHEMA.md).
 *
 * runfile/ holds the run-file format: probes/ writes it through runfile/h5write.h and
 * this is the read side that analyze/ and plots/ use, so they never touch model/.
 * Every failure names the file: "runs/a.h5: dataset /stats/gate_mean missing". */
#ifndef SS_PROBES_RUNFILE_H
#define SS_PROBES_RUNFILE_H

#include <stddef.h>
#include <stdint.h>

#include "../common/error.h"

#define RUNFILE_SCHEMA_NAME "sinkscope"
#define RUNFILE_SCHEMA_MAJOR 1

struct runfile;

/* Open read-only and check the root attribute `schema` ("sinkscope/1"): a file
 * that is not HDF5, not a sinkscope run, from a newer major version, truncated
 * or corrupt gives SS_ERR_INPUT with one line naming the file. */
enum ss_status runfile_open(struct runfile **rf, const char *path, struct ss_error *err);
void runfile_close(struct runfile *rf);
const char *runfile_path(const struct runfile *rf);

/* The root attributes every reader needs (docs/SCHEMA.md, "Root attributes"), bounded once:
 * the five counts are required whole numbers in 0..RUNFILE_MAX_COUNT, with at least one
 * layer and head; the strings are "" when absent, sink_epsilon 0.3 when absent. */
#define RUNFILE_MAX_COUNT 10000000
struct rf_info {
    int n_layers, n_heads, n_kv_heads, context_length, n_seqs;
    char model_type[64], model_path[1024], gate_kind[32], gate_mode[64], bos[64], input_source[1024];
    double sink_epsilon;
};
/* runfile_open, then the root attributes into info: the one opener of analyze/ and plots/
 * (runfile/info.c). On failure nothing stays open. */
enum ss_status runfile_open_run(struct runfile **rf, struct rf_info *info, const char *path,
                                struct ss_error *err);

/* 1 if the dataset (absolute path, e.g. "/stats/gate_mean") exists. */
int runfile_has(struct runfile *rf, const char *dset);

/* A numeric dataset read whole, converted to double. */
struct rf_array {
    int ndim;
    int64_t shape[4];
    size_t n;                  /* product of shape (1 for a scalar) */
    double *data;
};
void rf_array_free(struct rf_array *a);

/* Read a numeric dataset of rank <= 4. Missing dataset: SS_ERR_INPUT naming it. */
enum ss_status runfile_read(struct runfile *rf, const char *dset, struct rf_array *out,
                            struct ss_error *err);
/* Read and check the rank and (where want_shape[i] >= 0) each extent. */
enum ss_status runfile_read_shaped(struct runfile *rf, const char *dset, int ndim,
                                   const int64_t *want_shape, struct rf_array *out,
                                   struct ss_error *err);
enum ss_status runfile_read_scalar(struct runfile *rf, const char *dset, double *v,
                                   struct ss_error *err);
/* A hyperslab of a float dataset of rank <= 4: start/count per axis; into a new
 * rf_array of rank ndim with shape = count. For attention maps without reading all. */
enum ss_status runfile_read_slab(struct runfile *rf, const char *dset, const int64_t *start,
                                 const int64_t *count, struct rf_array *out, struct ss_error *err);
/* Shape of a dataset without reading it. */
enum ss_status runfile_shape(struct runfile *rf, const char *dset, int *ndim, int64_t shape[4],
                             struct ss_error *err);

/* Root (or, with obj != NULL, an object's) attribute as a string; numbers are
 * formatted with %g. SS_ERR_INPUT when absent. */
enum ss_status runfile_attr_string(struct runfile *rf, const char *obj, const char *name,
                                   char *buf, size_t n, struct ss_error *err);
enum ss_status runfile_attr_double(struct runfile *rf, const char *obj, const char *name,
                                   double *v, struct ss_error *err);

/* The model's head numbers of the n_dumped heads of attention-map dataset dset (axis 1):
 * its `heads` attribute (written by run --heads), else 0..n_dumped-1. SS_ERR_INPUT when
 * the attribute does not hold exactly n_dumped heads, each in 0..n_heads-1. */
enum ss_status runfile_dumped_heads(struct runfile *rf, const char *dset, int n_dumped, int n_heads, int *heads,
                                    struct ss_error *err);

/* Names of the root attributes in creation order (at most RUNFILE_MAX_ATTRS, names of at
 * most 255 bytes; caller frees with runfile_strings_free). For provenance listings that
 * show attributes this reader does not know (interventions of newer runs). */
#define RUNFILE_MAX_ATTRS 256
enum ss_status runfile_attr_names(struct runfile *rf, char ***out, int *n, struct ss_error *err);

/* Row `seq` of /token_text as n strings (caller frees each and the array with
 * runfile_strings_free). Absent dataset: SS_ERR_INPUT. */
enum ss_status runfile_token_text(struct runfile *rf, int seq, char ***out, int *n,
                                  struct ss_error *err);
void runfile_strings_free(char **s, int n);

#endif
