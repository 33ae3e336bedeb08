/* analyze/moe.c — the routing statistics of mixture-of-experts runs and the learned-sink share
 * (docs/SCHEMA.md, Routing and Learned sinks) for summary, compare and audit: loaded only when
 * the run file has them, shown only then. */
#include <math.h>
#include <stdlib.h>

#include "../runfile/runfile.h"
#include "../runfile/schema.h"
#include "analyze_int.h"

void analyze_moe_free(struct analyze_run *r)
{
    double **d[] = {&r->expert_load, &r->expert_load_pos0, &r->expert_load_rest, &r->router_entropy_norm_l,
                    &r->lsink_h, &r->lsink_l};
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) {
        free(*d[i]);
        *d[i] = NULL;
    }
    free(r->moe_layer);
    r->moe_layer = NULL;
}

/* dset with the given shape (-1: any extent) into *out, owned. */
static enum ss_status read_into(struct runfile *rf, enum rf_id id, int ndim, const int64_t *shape, double **out,
                                struct ss_error *err)
{
    struct rf_array a;
    enum ss_status s = runfile_read_shaped(rf, rf_path(id), ndim, shape, &a, err);
    if (!s)
        *out = a.data;
    return s;
}

static enum ss_status load_routing(struct analyze_run *r, struct runfile *rf, struct ss_error *err)
{
    int L = r->n_layers;
    int64_t le[2] = {L, -1}, l1[1] = {L}, shape[4];
    int nd;
    double *moe = NULL;
    enum ss_status s;
    if ((s = runfile_shape(rf, rf_path(RF_EXPERT_LOAD), &nd, shape, err)))
        return s;
    if (nd != 2 || shape[1] < 1 || shape[1] > 1 << 20)
        return ss_fail(err, SS_ERR_INPUT, "%s: dataset %s is not [layer, expert]", r->path, rf_path(RF_EXPERT_LOAD));
    le[1] = shape[1];
    if ((s = read_into(rf, RF_MOE_LAYER, 1, l1, &moe, err)) ||
        (s = read_into(rf, RF_EXPERT_LOAD, 2, le, &r->expert_load, err)) ||
        (s = read_into(rf, RF_EXPERT_LOAD_POS0, 2, le, &r->expert_load_pos0, err)) ||
        (s = read_into(rf, RF_EXPERT_LOAD_REST, 2, le, &r->expert_load_rest, err)) ||
        (s = read_into(rf, RF_ROUTER_ENTROPY_NORM, 1, l1, &r->router_entropy_norm_l, err)))
        goto done;
    r->moe_layer = malloc(sizeof(int) * (L ? L : 1));
    if (!r->moe_layer) {
        s = ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", r->path);
        goto done;
    }
    for (int l = 0; l < L; l++)
        r->moe_layer[l] = moe[l] != 0;
    r->n_experts = (int)shape[1];
    if (runfile_has(rf, rf_path(RF_SUMMARY_ROUTER_ENTROPY_NORM)))
        s = runfile_read_scalar(rf, rf_path(RF_SUMMARY_ROUTER_ENTROPY_NORM), &r->router_entropy_norm, err);
done:
    free(moe);
    return s;
}

enum ss_status analyze_load_moe(struct analyze_run *r, struct runfile *rf, struct ss_error *err)
{
    enum ss_status s = SS_OK;
    r->router_entropy_norm = r->learned_sink_share = NAN;
    if (runfile_has(rf, rf_path(RF_EXPERT_LOAD)) && (s = load_routing(r, rf, err)))
        return s;
    if (!runfile_has(rf, rf_path(RF_LEARNED_SINK_SHARE)))
        return SS_OK;
    int64_t lh[2] = {r->n_layers, r->n_heads}, l1[1] = {r->n_layers};
    if ((s = read_into(rf, RF_LEARNED_SINK_SHARE, 2, lh, &r->lsink_h, err)) ||
        (s = read_into(rf, RF_LEARNED_SINK_SHARE_LAYER, 1, l1, &r->lsink_l, err)))
        return s;
    if (runfile_has(rf, rf_path(RF_SUMMARY_LEARNED_SINK_SHARE)))
        s = runfile_read_scalar(rf, rf_path(RF_SUMMARY_LEARNED_SINK_SHARE), &r->learned_sink_share, err);
    return s;
}

int analyze_top_expert(const struct analyze_run *r, const double *x, int l)
{
    int best = -1;
    for (int e = 0; x && e < r->n_experts; e++) {
        double v = x[(size_t)l * r->n_experts + e];
        if (!isnan(v) && (best < 0 || v > x[(size_t)l * r->n_experts + best]))
            best = e;
    }
    return best;
}

/* The value of expert e (or NaN for e < 0) of layer l. */
static double at(const struct analyze_run *r, const double *x, int l, int e)
{
    return e >= 0 ? x[(size_t)l * r->n_experts + e] : NAN;
}

void analyze_routing_table(struct table *t, const struct analyze_run *r)
{
    char title[128];
    snprintf(title, sizeof title, "routing per MoE layer (%d experts; uniform load %.3f)", r->n_experts,
             r->n_experts ? 1.0 / r->n_experts : NAN);
    table_init(t, title);
    table_col(t, "layer", "layer", CELL_KIND_INT);
    table_col(t, "router_entropy_norm", "router H/ln E", CELL_KIND_PROB);
    table_col(t, "top_expert", "top expert", CELL_KIND_INT);
    table_col(t, "top_expert_load", "its load", CELL_KIND_PROB);
    table_col(t, "pos0_expert", "pos-0 expert", CELL_KIND_INT);
    table_col(t, "pos0_expert_load_pos0", "its load at pos 0", CELL_KIND_PROB);
    table_col(t, "pos0_expert_load_rest", "its load at pos >= 1", CELL_KIND_PROB);
    for (int l = 0; r->moe_layer && l < r->n_layers; l++) {
        if (!r->moe_layer[l])
            continue;
        int top = analyze_top_expert(r, r->expert_load, l), p0 = analyze_top_expert(r, r->expert_load_pos0, l);
        int row = table_row(t), c = 0;
        table_num(t, row, c++, l);
        table_num(t, row, c++, r->router_entropy_norm_l[l]);
        table_num(t, row, c++, top >= 0 ? top : NAN);
        table_num(t, row, c++, at(r, r->expert_load, l, top));
        table_num(t, row, c++, p0 >= 0 ? p0 : NAN);
        table_num(t, row, c++, at(r, r->expert_load_pos0, l, p0));
        table_num(t, row, c++, at(r, r->expert_load_rest, l, p0));
    }
}

void analyze_routing_json(json_t *o, const struct analyze_run *r, int l)
{
    if (!r->moe_layer)
        return;
    json_object_set_new(o, "moe", json_boolean(r->moe_layer[l]));
    if (!r->moe_layer[l])
        return;
    int top = analyze_top_expert(r, r->expert_load, l), p0 = analyze_top_expert(r, r->expert_load_pos0, l);
    json_object_set_new(o, "router_entropy_norm", json_num(r->router_entropy_norm_l[l]));
    json_t *load = json_array();
    for (int e = 0; e < r->n_experts; e++)
        json_array_append_new(load, json_num(at(r, r->expert_load, l, e)));
    json_object_set_new(o, "expert_load", load);
    json_object_set_new(o, "top_expert", top >= 0 ? json_integer(top) : json_null());
    json_object_set_new(o, "pos0_expert", p0 >= 0 ? json_integer(p0) : json_null());
    json_object_set_new(o, "pos0_expert_load_pos0", json_num(at(r, r->expert_load_pos0, l, p0)));
    json_object_set_new(o, "pos0_expert_load_rest", json_num(at(r, r->expert_load_rest, l, p0)));
}
