/* probes/results.c — run totals -> the /stats and /summary datasets of docs/SCHEMA.md: each
 * statistic module (probes/stat.h) computes its own; this file holds the list they append to
 * (names, dimensions, long_name and units from runfile/schema.h). Pure arithmetic; the writer
 * (probes/probes.c) stores them. */
#include "probes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stat.h"

#define MAX_RESULTS RF_N_DATASETS /* at most one of each */

struct stat_results {
    struct probes_results *res;
    struct ss_error *err;
    int failed;
};

double *stat_push(struct stat_results *b, enum rf_id id, int64_t n0, int64_t n1, int64_t n2, int64_t n3)
{
    const struct rf_dataset *sd = &rf_schema[id];
    if (b->failed)
        return NULL;
    if (b->res->n >= MAX_RESULTS) {
        b->failed = 1;
        ss_fail(b->err, SS_ERR_INTERNAL, "probes: more than %d result datasets", MAX_RESULTS);
        return NULL;
    }
    struct probes_dataset *d = &b->res->d[b->res->n];
    memset(d, 0, sizeof *d);
    snprintf(d->path, sizeof d->path, "%s", sd->path);
    d->long_name = sd->long_name;
    d->units = sd->units;
    d->is_int = sd->type == RF_I32;
    d->ndim = sd->ndim;
    int64_t ext[4] = {n0, n1, n2, n3};
    size_t n = 1;
    for (int i = 0; i < sd->ndim; i++) {
        d->dims[i] = sd->dims[i];
        d->shape[i] = ext[i];
        n *= (size_t)ext[i];
    }
    d->data = calloc(n ? n : 1, sizeof *d->data);
    if (!d->data) {
        b->failed = 1;
        ss_fail(b->err, SS_ERR_NOMEM, "probes: out of memory for %s", sd->path);
        return NULL;
    }
    b->res->n++;
    return d->data;
}

const double *stat_find(const struct stat_results *b, enum rf_id id)
{
    const struct probes_dataset *d = probes_results_find(b->res, rf_path(id));
    return d ? d->data : NULL;
}

enum ss_status probes_results_compute(const struct run_stats *r, struct probes_results *out, struct ss_error *err)
{
    memset(out, 0, sizeof *out);
    if (r->n_seqs <= 0)
        return ss_fail(err, SS_ERR_INTERNAL, "probes: no sequence was folded");
    out->d = calloc(MAX_RESULTS, sizeof *out->d);
    if (!out->d)
        return ss_fail(err, SS_ERR_NOMEM, "probes: out of memory for results");
    struct stat_results b = {out, err, 0};
    run_stats_results(r, &b);
    if (b.failed) {
        probes_results_free(out);
        return err ? err->status : SS_ERR_NOMEM;
    }
    return SS_OK;
}

void probes_results_free(struct probes_results *res)
{
    for (int i = 0; i < res->n; i++)
        free(res->d[i].data);
    free(res->d);
    memset(res, 0, sizeof *res);
}

const struct probes_dataset *probes_results_find(const struct probes_results *res, const char *path)
{
    for (int i = 0; i < res->n; i++)
        if (!strcmp(res->d[i].path, path))
            return &res->d[i];
    return NULL;
}
