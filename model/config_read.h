/* model/config_read.h — readers of config.json fields for the families' parsers
 * (model/arch_*.c). Each failure is one line naming the file and the field; after
 * the first failure every reader returns -1 without touching the error again. */
#ifndef SS_MODEL_CONFIG_READ_H
#define SS_MODEL_CONFIG_READ_H

#include <jansson.h>

#include "model.h"

struct cfg_reader {
    const char *path;
    struct ss_error *err;
    int failed;
    json_t *root;              /* the object the fields are read from */
};

/* Fail with "PATH: field 'FIELD' WHAT"; returns -1. */
int cfg_fail(struct cfg_reader *r, const char *field, const char *what);
/* The field k of o (o NULL: the root), NULL when absent or null. */
json_t *cfg_field(struct cfg_reader *r, json_t *o, const char *k);
/* Integer in [0, 1e9]; absent: def, or a failure when required. */
int cfg_int(struct cfg_reader *r, json_t *o, const char *k, int required, int def, int *out);
/* Finite number; absent: def, or a failure when required. */
int cfg_num(struct cfg_reader *r, json_t *o, const char *k, int required, double def, double *out);
int cfg_bool(struct cfg_reader *r, json_t *o, const char *k, int def, int *out);
/* A string field that must be one of names[] (NULL-terminated): its index, def when absent. */
int cfg_enum(struct cfg_reader *r, json_t *o, const char *k, const char *const *names, int def, int *out);
/* hidden_act / activation_function: silu, gelu, gelu_new, gelu_pytorch_tanh, relu. */
int cfg_act(struct cfg_reader *r, const char *k, int required, enum act_kind def, enum act_kind *out);
/* RoPE of src (an object in v5 `rope_parameters` or old `rope_scaling` spelling; NULL:
 * none) with the base from src or the root's `theta_key`; partial_rotary_factor from
 * src or the root into *partial. */
int cfg_rope(struct cfg_reader *r, json_t *src, const char *sname, const char *theta_key, double theta_def,
             const struct model_config *c, struct rope_config *rp, double *partial);
/* The usual RoPE of a family: `rope_parameters` or `rope_theta` + `rope_scaling`; sets
 * c->rope and c->v.rope_dim (partial_rotary_factor). */
int cfg_rope_standard(struct cfg_reader *r, struct model_config *c);
/* layer_types (["sliding_attention" | "full_attention", ...]) into c->v.layer_sliding;
 * absent: every `pattern`-th layer (1-based) is full, the others sliding (pattern 0:
 * all full). */
int cfg_layer_types(struct cfg_reader *r, struct model_config *c, int pattern);

#endif
