/* runfile/schema.c — the tables of runfile/schema.h, in the order of docs/SCHEMA.md. */
#include "schema.h"

#include <stdio.h>
#include <string.h>

/* The dims of an entry: D("layer", "head") -> rank 2, {"layer", "head"}. */
#define RF_DIMS(...) (int)(sizeof((const char *[]){NULL, __VA_ARGS__}) / sizeof(const char *) - 1), {__VA_ARGS__}
#define RF_ENTRY(id, path, type, when, dims, long_name, units) [RF_##id] = {path, type, dims, long_name, units, when},

const struct rf_dataset rf_schema[RF_N_DATASETS] = {RF_DATASETS(RF_ENTRY, RF_DIMS)};

const struct rf_dim rf_dims[] = {
    {"seq", "sequence", NULL},
    {"pos", "token position", NULL},
    {"layer", "decoder layer (0-based)", NULL},
    {"head", "query head", NULL},
    {"sink_key", "key position k of alpha_k", NULL},
    {"rank", "rank of a most-attended key", NULL},
    {"act_rank", "rank of a largest activation", NULL},
    {"gate_bin", "gate histogram bin centre", NULL},
    {"gate_threshold", "gate threshold", NULL},
    {"out_threshold", "|Y| threshold", NULL},
    {"stream", "activation stream", "attn_output attn_residual ffn_output ffn_residual"},
    {"coord", "coordinate (seq, pos, dim)", "seq pos dim"},
    {"query", "query position", NULL},
    {"key", "key position", NULL},
    {"attn_head", "dumped query head", NULL},
    {"gate_dim", "gate dimension", NULL},
    {"hidden_dim", "hidden dimension", NULL},
    {"vocab", "vocabulary id", NULL},
    {"expert", "expert of a MoE layer (0-based)", NULL},
};
const int rf_n_dims = sizeof rf_dims / sizeof rf_dims[0];

/* Does path name a layer of the per-layer dump whose pattern ends in "layer_LL"? */
static int is_layer_of(const char *pattern, const char *path)
{
    size_t stem = strlen(pattern) - 2;
    if (strncmp(pattern, path, stem) || strcmp(pattern + stem, "LL"))
        return 0;
    const char *d = path + stem;
    size_t n = strspn(d, "0123456789");
    return (n == 2 || n == 3) && !d[n];
}

const struct rf_dataset *rf_schema_find(const char *path)
{
    for (int i = 0; i < RF_N_DATASETS; i++)
        if (!strcmp(rf_schema[i].path, path) || is_layer_of(rf_schema[i].path, path))
            return &rf_schema[i];
    return NULL;
}

void rf_layer_path(enum rf_id id, int l, int n_layers, char *buf, size_t n)
{
    const char *p = rf_schema[id].path;
    int stem = (int)strlen(p) - 2; /* without "LL" */
    snprintf(buf, n, n_layers >= 100 ? "%.*s%03d" : "%.*s%02d", stem, p, l);
}

const struct rf_dim *rf_dim_find(const char *name)
{
    for (int i = 0; i < rf_n_dims; i++)
        if (!strcmp(rf_dims[i].name, name))
            return &rf_dims[i];
    return NULL;
}
