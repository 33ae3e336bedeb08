/* model/config.c — config.json into struct model_config: finds the family by
 * model_type (model/arch.h), lets its parser read the family's keys with the readers
 * below, then checks what every family must satisfy. Reads transformers v5
 * `rope_parameters` and the older top-level `rope_theta` + `rope_scaling` (with
 * "type" or "rope_type"). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "config_read.h"
#include "model.h"

#include <limits.h>
#include <sys/stat.h>

#include "../common/readfile.h"

const char *gate_kind_name(enum gate_kind k)
{
    switch (k) {
    case GATE_KIND_HEADWISE: return "headwise";
    case GATE_KIND_ELEMENTWISE: return "elementwise";
    default: return "none";
    }
}

int model_config_gate_dim(const struct model_config *c)
{
    return c->gate == GATE_KIND_HEADWISE ? 1 : c->gate == GATE_KIND_ELEMENTWISE ? c->head_dim : 0;
}

int model_config_q_group_rows(const struct model_config *c)
{
    int G = c->n_heads / c->n_kv_heads;
    return G * c->head_dim + G * model_config_gate_dim(c);
}

int model_config_q_out(const struct model_config *c)
{
    return c->n_kv_heads * model_config_q_group_rows(c);
}

size_t model_config_n_params(const struct model_config *c)
{
    const struct arch *a = c->arch ? c->arch : arch_find(c->model_type);
    if (!a)
        return 0;
    size_t n = 0;
    for (int i = 0; i < a->n_tensors; i++) {
        const struct tensor_desc *t = &a->tensors[i];
        size_t e = arch_tensor_params(c, t);
        if (t->role < TR_LAYER_FIRST) {
            n += arch_present(c, t) ? e : 0;
            continue;
        }
        for (int l = 0; l < c->n_layers; l++) /* per layer: MoE layers hold router and experts instead of the FFN */
            n += arch_present_layer(c, t, l) ? e * (TR_IS_EXPERT(t->role) ? (size_t)c->v.n_experts : 1) : 0;
    }
    return n;
}

/* ---- field readers: each failure is one line naming the file and the field ---- */

int cfg_fail(struct cfg_reader *r, const char *field, const char *what)
{
    if (!r->failed)
        ss_fail(r->err, SS_ERR_INPUT, "%s: field '%s' %s", r->path, field, what);
    r->failed = 1;
    return -1;
}

json_t *cfg_field(struct cfg_reader *r, json_t *o, const char *k)
{
    if (!o)
        o = r->root;
    json_t *v = json_is_object(o) ? json_object_get(o, k) : NULL;
    return json_is_null(v) ? NULL : v;
}

int cfg_int(struct cfg_reader *r, json_t *o, const char *k, int required, int def, int *out)
{
    json_t *v = cfg_field(r, o, k);
    *out = def;
    if (r->failed)
        return -1;
    if (!v)
        return required ? cfg_fail(r, k, "is missing") : 0;
    if (!json_is_integer(v))
        return cfg_fail(r, k, "must be an integer");
    json_int_t x = json_integer_value(v);
    if (x < 0 || x > 1000000000)
        return cfg_fail(r, k, "is out of range");
    *out = (int)x;
    return 0;
}

int cfg_num(struct cfg_reader *r, json_t *o, const char *k, int required, double def, double *out)
{
    json_t *v = cfg_field(r, o, k);
    *out = def;
    if (r->failed)
        return -1;
    if (!v)
        return required ? cfg_fail(r, k, "is missing") : 0;
    if (!json_is_number(v))
        return cfg_fail(r, k, "must be a number");
    *out = json_number_value(v);
    if (!isfinite(*out))
        return cfg_fail(r, k, "is not finite");
    return 0;
}

int cfg_bool(struct cfg_reader *r, json_t *o, const char *k, int def, int *out)
{
    json_t *v = cfg_field(r, o, k);
    *out = def;
    if (r->failed)
        return -1;
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return cfg_fail(r, k, "must be true or false");
    *out = json_is_true(v);
    return 0;
}

int cfg_enum(struct cfg_reader *r, json_t *o, const char *k, const char *const *names, int def, int *out)
{
    json_t *v = cfg_field(r, o, k);
    *out = def;
    if (r->failed)
        return -1;
    if (!v)
        return 0;
    char what[200];
    int n = snprintf(what, sizeof what, "must be one of");
    for (int i = 0; names[i]; i++) {
        if (json_is_string(v) && !strcmp(json_string_value(v), names[i])) {
            *out = i;
            return 0;
        }
        n += snprintf(what + n, n < (int)sizeof what ? sizeof what - n : 0, "%s \"%s\"", i ? "," : "", names[i]);
    }
    return cfg_fail(r, k, what);
}

int cfg_act(struct cfg_reader *r, const char *k, int required, enum act_kind def, enum act_kind *out)
{
    static const char *const names[] = {"silu", "gelu", "gelu_new", "gelu_pytorch_tanh", "relu", "swish", NULL};
    static const enum act_kind kinds[] = {ACT_SILU, ACT_GELU, ACT_GELU_TANH, ACT_GELU_TANH, ACT_RELU, ACT_SILU};
    int i;
    *out = def;
    if (required && !cfg_field(r, NULL, k))
        return cfg_fail(r, k, "is missing");
    if (cfg_enum(r, NULL, k, names, -1, &i))
        return -1;
    if (i >= 0)
        *out = kinds[i];
    return 0;
}

/* bos/eos: an integer, a list (first entry) or absent (-1). */
static int get_token_id(struct cfg_reader *r, const char *k, int *out)
{
    json_t *v = cfg_field(r, NULL, k);
    *out = -1;
    if (v && json_is_array(v))
        v = json_array_size(v) ? json_array_get(v, 0) : NULL;
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1000000000)
        return cfg_fail(r, k, "must be a token id");
    *out = (int)json_integer_value(v);
    return 0;
}

static void dtype_from_name(char *dst, const char *s)
{
    dst[0] = 0;
    if (!s)
        return;
    if (!strcmp(s, "float32"))
        strcpy(dst, "f32");
    else if (!strcmp(s, "bfloat16"))
        strcpy(dst, "bf16");
    else if (!strcmp(s, "float16"))
        strcpy(dst, "f16");
}

/* longrope: short_factor / long_factor lists of equal length. */
static int read_factors(struct cfg_reader *r, json_t *src, const char *k, float *dst, int *n)
{
    json_t *a = cfg_field(r, src, k);
    if (!a)
        return cfg_fail(r, k, "is missing (longrope needs it)");
    if (!json_is_array(a) || json_array_size(a) < 1 || json_array_size(a) > ROPE_MAX_FACTORS)
        return cfg_fail(r, k, "must be a list of 1 to 256 numbers");
    if (*n && (int)json_array_size(a) != *n)
        return cfg_fail(r, k, "must have as many entries as short_factor");
    *n = (int)json_array_size(a);
    for (int i = 0; i < *n; i++) {
        json_t *x = json_array_get(a, i);
        if (!json_is_number(x) || !(json_number_value(x) > 0) || !isfinite(json_number_value(x)))
            return cfg_fail(r, k, "must hold positive numbers");
        dst[i] = (float)json_number_value(x);
    }
    return 0;
}

/* phi3's longrope: original_max_position_embeddings in the rope object (v5) or at
 * the top level; factor absent = max_position_embeddings / original. */
static int rope_longrope(struct cfg_reader *r, json_t *src, const struct model_config *c, struct rope_config *rp)
{
    double f, of;
    rp->type = ROPE_TYPE_LONGROPE;
    if (cfg_num(r, NULL, "original_max_position_embeddings", 0, 0, &of) ||
        cfg_num(r, src, "original_max_position_embeddings", 0, of, &of) || cfg_num(r, src, "factor", 0, 0, &f) ||
        cfg_num(r, src, "attention_factor", 0, 0, &rp->attention_factor) ||
        read_factors(r, src, "short_factor", rp->short_factor, &rp->n_factors) ||
        read_factors(r, src, "long_factor", rp->long_factor, &rp->n_factors))
        return -1;
    rp->original_max_pos = (int)of;
    if (rp->original_max_pos <= 1)
        return cfg_fail(r, "original_max_position_embeddings", "is missing or not above 1 (longrope needs it)");
    rp->factor = f > 0 ? f : (double)c->max_pos / rp->original_max_pos;
    return 0;
}

int cfg_rope(struct cfg_reader *r, json_t *src, const char *sname, const char *theta_key, double theta_def,
             const struct model_config *c, struct rope_config *rp, double *partial)
{
    if (src && !json_is_object(src))
        return cfg_fail(r, sname, "must be an object");
    memset(rp, 0, sizeof *rp);
    double theta;
    if (cfg_field(r, src, "rope_theta")) {
        if (cfg_num(r, src, "rope_theta", 1, 0, &theta))
            return -1;
    } else if (cfg_num(r, NULL, theta_key, 0, theta_def, &theta))
        return -1;
    if (theta <= 1)
        return cfg_fail(r, theta_key, "must be greater than 1");
    rp->theta = theta;
    json_t *jt = cfg_field(r, src, "rope_type");
    if (!jt)
        jt = cfg_field(r, src, "type");
    const char *type = "default";
    if (jt) {
        if (!json_is_string(jt))
            return cfg_fail(r, sname, "has a rope type that is not a string");
        type = json_string_value(jt);
    }
    double f, of;
    if (!strcmp(type, "default")) {
        rp->type = ROPE_TYPE_DEFAULT;
    } else if (!strcmp(type, "linear")) {
        rp->type = ROPE_TYPE_LINEAR;
        if (cfg_num(r, src, "factor", 1, 1, &rp->factor))
            return -1;
    } else if (!strcmp(type, "llama3")) {
        rp->type = ROPE_TYPE_LLAMA3;
        if (cfg_num(r, src, "factor", 1, 1, &rp->factor) || cfg_num(r, src, "low_freq_factor", 1, 1, &rp->low_freq_factor) ||
            cfg_num(r, src, "high_freq_factor", 1, 4, &rp->high_freq_factor) ||
            cfg_num(r, src, "original_max_position_embeddings", 1, 0, &of))
            return -1;
        rp->original_max_pos = (int)of;
        if (rp->high_freq_factor <= rp->low_freq_factor)
            return cfg_fail(r, "high_freq_factor", "must exceed low_freq_factor");
    } else if (!strcmp(type, "yarn")) {
        rp->type = ROPE_TYPE_YARN;
        if (cfg_num(r, src, "original_max_position_embeddings", 0, c->max_pos, &of) ||
            cfg_num(r, src, "factor", 0, 0, &f) || cfg_num(r, src, "attention_factor", 0, 0, &rp->attention_factor) ||
            cfg_num(r, src, "mscale", 0, 0, &rp->mscale) || cfg_num(r, src, "mscale_all_dim", 0, 0, &rp->mscale_all_dim) ||
            cfg_num(r, src, "beta_fast", 0, 0, &rp->beta_fast) || cfg_num(r, src, "beta_slow", 0, 0, &rp->beta_slow) ||
            cfg_bool(r, src, "truncate", 1, &rp->truncate))
            return -1;
        rp->original_max_pos = (int)of;
        if (rp->original_max_pos <= 0)
            return cfg_fail(r, "original_max_position_embeddings", "must be positive");
        /* transformers: a missing factor is max_position_embeddings / original; a given one must be positive */
        if (cfg_field(r, src, "factor") && f <= 0)
            return cfg_fail(r, "factor", "must be positive");
        rp->factor = cfg_field(r, src, "factor") ? f : (double)c->max_pos / rp->original_max_pos;
        if (!rp->beta_fast) /* `or` defaults: 0 counts as absent */
            rp->beta_fast = 32;
        if (!rp->beta_slow)
            rp->beta_slow = 1;
    } else if (!strcmp(type, "longrope")) {
        if (rope_longrope(r, src, c, rp))
            return -1;
    } else {
        char what[160];
        snprintf(what, sizeof what, "has rope type '%.40s' (supported: default, linear, llama3, yarn, longrope)", type);
        return cfg_fail(r, sname, what);
    }
    if (rp->type != ROPE_TYPE_DEFAULT && rp->factor <= 0)
        return cfg_fail(r, "factor", "must be positive");
    if (partial && (cfg_num(r, NULL, "partial_rotary_factor", 0, 1, partial) ||
                    cfg_num(r, src, "partial_rotary_factor", 0, *partial, partial)))
        return -1;
    if (partial && !(*partial > 0 && *partial <= 1))
        return cfg_fail(r, "partial_rotary_factor", "must be in (0, 1]");
    return 0;
}

int cfg_rope_standard(struct cfg_reader *r, struct model_config *c)
{
    json_t *params = cfg_field(r, NULL, "rope_parameters"), *scaling = cfg_field(r, NULL, "rope_scaling");
    double partial = 1;
    if (cfg_rope(r, params ? params : scaling, params ? "rope_parameters" : "rope_scaling", "rope_theta", 10000.0, c,
                 &c->rope, &partial))
        return -1;
    c->v.rope_dim = (int)(c->head_dim * partial); /* transformers: int(head_dim * factor) */
    if (c->v.rope_dim < 2 || c->v.rope_dim % 2)
        return cfg_fail(r, "partial_rotary_factor", "must leave an even number of rotated dimensions");
    if (c->rope.type == ROPE_TYPE_LONGROPE && c->rope.n_factors != c->v.rope_dim / 2)
        return cfg_fail(r, "short_factor", "must have one entry per rotated frequency (rotary dims / 2)");
    return 0;
}

int cfg_layer_types(struct cfg_reader *r, struct model_config *c, int pattern)
{
    json_t *lt = cfg_field(r, NULL, "layer_types");
    if (c->n_layers > MODEL_MAX_LAYERS_TYPED)
        return cfg_fail(r, "num_hidden_layers", "is too large for per-layer attention types");
    if (!lt) {
        for (int l = 0; l < c->n_layers; l++)
            c->v.layer_sliding[l] = pattern > 0 && (l + 1) % pattern != 0;
        return 0;
    }
    if (!json_is_array(lt) || (int)json_array_size(lt) != c->n_layers)
        return cfg_fail(r, "layer_types", "must list one type per layer (num_hidden_layers)");
    for (int l = 0; l < c->n_layers; l++) {
        const char *t = json_string_value(json_array_get(lt, l));
        if (!t || (strcmp(t, "sliding_attention") && strcmp(t, "full_attention")))
            return cfg_fail(r, "layer_types", "must hold \"sliding_attention\" or \"full_attention\"");
        c->v.layer_sliding[l] = !strcmp(t, "sliding_attention");
    }
    return 0;
}

/* What every family must satisfy once its parser has run. */
static int config_check(struct cfg_reader *r, struct model_config *c)
{
    if (c->n_layers < 1)
        return cfg_fail(r, "num_hidden_layers", "must be at least 1");
    if (c->hidden < 1 || c->n_heads < 1 || c->n_kv_heads < 1 || c->ffn < 1 || c->vocab < 1)
        return cfg_fail(r, c->hidden < 1 ? "hidden_size" : c->n_heads < 1 ? "num_attention_heads"
                           : c->n_kv_heads < 1 ? "num_key_value_heads" : c->ffn < 1 ? "intermediate_size" : "vocab_size",
                       "must be positive");
    if (c->n_heads % c->n_kv_heads)
        return cfg_fail(r, "num_key_value_heads", "must divide num_attention_heads");
    if (c->head_dim < 2 || c->head_dim % 2)
        return cfg_fail(r, "head_dim", "must be even and positive (or hidden_size / num_attention_heads)");
    if (!(c->rms_eps > 0))
        return cfg_fail(r, c->v.norm == NORM_LAYER ? "layer_norm_eps" : "rms_norm_eps", "must be positive");
    if (c->v.pos == POS_LEARNED && c->max_pos < 1)
        return cfg_fail(r, "max_position_embeddings", "must be positive (learned positions)");
    return 0;
}

enum ss_status model_config_parse(struct model_config *c, const char *text, const char *path, struct ss_error *err)
{
    memset(c, 0, sizeof *c);
    c->bos_token_id = c->eos_token_id = -1;
    json_error_t je;
    json_t *root = json_loads(text, 0, &je);
    if (!root)
        return ss_fail(err, SS_ERR_INPUT, "%s: not valid JSON: %s (line %d)", path, je.text, je.line);
    struct cfg_reader r = {path, err, 0, root};
    if (!json_is_object(root)) {
        ss_fail(err, SS_ERR_INPUT, "%s: not a JSON object", path);
        json_decref(root);
        return SS_ERR_INPUT;
    }
    json_t *mt = cfg_field(&r, NULL, "model_type");
    if (!mt)
        cfg_fail(&r, "model_type", "is missing");
    else if (!json_is_string(mt))
        cfg_fail(&r, "model_type", "must be a string");
    else if (!(c->arch = arch_find(json_string_value(mt)))) {
        ss_fail(err, SS_ERR_INPUT, "%s: unknown model type '%.40s' (supported: %s)", path, json_string_value(mt),
                arch_supported());
        r.failed = 1;
    } else
        snprintf(c->model_type, sizeof c->model_type, "%s", json_string_value(mt));
    if (!r.failed && !c->arch->parse(c, &r) && !config_check(&r, c) && !get_token_id(&r, "bos_token_id", &c->bos_token_id))
        get_token_id(&r, "eos_token_id", &c->eos_token_id);
    json_t *dt = cfg_field(&r, NULL, "dtype");
    if (!dt)
        dt = cfg_field(&r, NULL, "torch_dtype");
    dtype_from_name(c->dtype, json_is_string(dt) ? json_string_value(dt) : NULL);
    json_decref(root);
    return r.failed ? SS_ERR_INPUT : SS_OK;
}

enum ss_status model_config_load(struct model_config *c, const char *dir, struct ss_error *err)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/config.json", dir);
    struct stat st;
    if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode))
        return ss_fail(err, SS_ERR_INPUT, "%s: not a directory (give the checkpoint directory)", dir);
    char *buf = NULL;
    size_t n = 0;
    enum ss_status s = readfile_all(path, READFILE_LIMIT_JSON, "config", &buf, &n, err);
    if (s == SS_ERR_INPUT && stat(dir, &st) != 0)
        return ss_fail(err, SS_ERR_INPUT, "%s: cannot read: no such checkpoint directory %s", path, dir);
    if (s)
        return s;
    s = model_config_parse(c, buf, path, err);
    free(buf);
    return s ? s : model_config_check_limits(c, path, err);
}
