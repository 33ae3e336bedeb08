/* tests/test_runmaker_moe.c — the routing and learned-sink datasets of test_runmaker_moe.h. */
#include "test_runmaker_moe.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../runfile/h5write.h"
#include "../runfile/schema.h"

double test_runmaker_lsink(int l, int h)
{
    return 0.3 + 0.1 * l + 0.05 * h;
}

/* Dataset id of the schema with its dims, long_name and units, from doubles (int32 when the schema says). */
static enum ss_status put(struct h5w *w, enum rf_id id, int64_t n0, int64_t n1, const double *v, struct ss_error *err)
{
    const struct rf_dataset *sd = &rf_schema[id];
    int64_t shape[2] = {n0, n1};
    size_t n = sd->ndim == 0 ? 1 : sd->ndim == 1 ? (size_t)n0 : (size_t)(n0 * n1);
    if (sd->type != RF_I32)
        return h5w_write(w, sd->path, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, sd->ndim, sd->dims, shape, v, sd->long_name,
                         sd->units, err);
    int *iv = malloc(n * sizeof *iv);
    for (size_t i = 0; iv && i < n; i++)
        iv[i] = (int)v[i];
    enum ss_status s = iv ? h5w_write(w, sd->path, H5T_STD_I32LE, H5T_NATIVE_INT, sd->ndim, sd->dims, shape, iv,
                                      sd->long_name, sd->units, err)
                          : SS_ERR_NOMEM;
    free(iv);
    return s;
}

static enum ss_status add_routing(struct h5w *w, const struct test_run_spec *s, struct ss_error *err)
{
    enum { E = TEST_RUNMAKER_EXPERTS };
    int L = s->n_layers, T = s->T;
    static const double load[E] = {0.1, 0.2, 0.3, 0.4}, pos0[E] = {0, 0.5, 0, 0.5};
    double *moe = malloc(sizeof(double) * L), *ld = malloc(sizeof(double) * L * E);
    double *p0 = malloc(sizeof(double) * L * E), *rest = malloc(sizeof(double) * L * E);
    double *wm = malloc(sizeof(double) * L * E), *ent = malloc(sizeof(double) * L), *entn = malloc(sizeof(double) * L);
    double sum_n = 0;
    int n_moe = 0;
    enum ss_status st = moe && ld && p0 && rest && wm && ent && entn ? SS_OK : SS_ERR_NOMEM;
    for (int l = 0; !st && l < L; l++) {
        moe[l] = 1 - l % 2;
        double z = 0;
        for (int e = 0; e < E; e++)
            z += load[e] - pos0[e] / T;
        for (int e = 0; e < E; e++) {
            ld[l * E + e] = moe[l] ? load[e] : NAN;
            p0[l * E + e] = moe[l] ? pos0[e] : NAN;
            rest[l * E + e] = moe[l] ? (load[e] - pos0[e] / T) / z : NAN;
            wm[l * E + e] = moe[l] ? 0.5 + 0.05 * e : NAN;
        }
        ent[l] = moe[l] ? 0.9 + 0.1 * l : NAN;
        entn[l] = ent[l] / log(E);
        if (moe[l])
            sum_n += entn[l], n_moe++;
    }
    double summary = sum_n / n_moe;
    if (!st)
        st = h5w_dim(w, "expert", E, NULL, rf_dim_find("expert")->long_name, "1", err);
    if (!st && !(st = put(w, RF_MOE_LAYER, L, 0, moe, err)) && !(st = put(w, RF_EXPERT_LOAD, L, E, ld, err)) &&
        !(st = put(w, RF_EXPERT_LOAD_POS0, L, E, p0, err)) && !(st = put(w, RF_EXPERT_LOAD_REST, L, E, rest, err)) &&
        !(st = put(w, RF_EXPERT_WEIGHT_MEAN, L, E, wm, err)) && !(st = put(w, RF_ROUTER_ENTROPY, L, 0, ent, err)) &&
        !(st = put(w, RF_ROUTER_ENTROPY_NORM, L, 0, entn, err)))
        st = put(w, RF_SUMMARY_ROUTER_ENTROPY_NORM, 0, 0, &summary, err);
    free(moe), free(ld), free(p0), free(rest), free(wm), free(ent), free(entn);
    return st;
}

static enum ss_status add_sinks(struct h5w *w, const struct test_run_spec *s, struct ss_error *err)
{
    int L = s->n_layers, H = s->n_heads;
    double *sh = malloc(sizeof(double) * L * H), *sh0 = malloc(sizeof(double) * L * H);
    double *lay = malloc(sizeof(double) * L), all = 0;
    enum ss_status st = sh && sh0 && lay ? SS_OK : SS_ERR_NOMEM;
    for (int l = 0; !st && l < L; l++) {
        lay[l] = 0;
        for (int h = 0; h < H; h++) {
            sh[l * H + h] = test_runmaker_lsink(l, h);
            sh0[l * H + h] = sh[l * H + h] + 0.01;
            lay[l] += sh[l * H + h] / H;
        }
        all += lay[l] / L;
    }
    if (!st && !(st = put(w, RF_LEARNED_SINK_SHARE, L, H, sh, err)) &&
        !(st = put(w, RF_LEARNED_SINK_SHARE_INCL0, L, H, sh0, err)) &&
        !(st = put(w, RF_LEARNED_SINK_SHARE_LAYER, L, 0, lay, err)))
        st = put(w, RF_SUMMARY_LEARNED_SINK_SHARE, 0, 0, &all, err);
    free(sh), free(sh0), free(lay);
    return st;
}

int test_runmaker_add_moe(const char *path, const struct test_run_spec *s, int routing, int sinks)
{
    struct h5w *w = NULL;
    struct ss_error err = {0};
    enum ss_status st = h5w_open(&w, path, 1, &err);
    if (!st && routing)
        st = add_routing(w, s, &err);
    if (!st && sinks)
        st = add_sinks(w, s, &err);
    if (w && h5w_close(w, st ? NULL : &err) && !st)
        st = err.status;
    if (st)
        fprintf(stderr, "runmaker: %s: %s\n", path, err.msg[0] ? err.msg : "out of memory");
    return st ? -1 : 0;
}
