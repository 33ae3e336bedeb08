/* model/config.c — config.json (qwen3, qwen2, llama, mistral and the paper's gated
 * Qwen3) into struct model_config. Reads transformers v5 `rope_parameters` and the
 * older top-level `rope_theta` + `rope_scaling` (with "type" or "rope_type"). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

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
    size_t H = c->hidden, D = c->head_dim, kv = (size_t)c->n_kv_heads * D, qo = model_config_q_out(c);
    size_t per = 2 * H + qo * H + 2 * kv * H + H * (size_t)c->n_heads * D + 3 * H * (size_t)c->ffn;
    if (c->qkv_bias)
        per += qo + 2 * kv;
    if (c->o_bias)
        per += H;
    if (c->qk_norm)
        per += 2 * D;
    return (size_t)c->n_layers * per + (size_t)c->vocab * H * (c->tied ? 1 : 2) + H;
}

/* ---- field readers: each failure is one line naming the file and the field ---- */

struct reader {
    const char *path;
    struct ss_error *err;
    int failed;
};

static int fail_field(struct reader *r, const char *field, const char *what)
{
    if (!r->failed)
        ss_fail(r->err, SS_ERR_INPUT, "%s: field '%s' %s", r->path, field, what);
    r->failed = 1;
    return -1;
}

/* Present and not null. */
static json_t *field(json_t *o, const char *k)
{
    json_t *v = o ? json_object_get(o, k) : NULL;
    return json_is_null(v) ? NULL : v;
}

static int get_int(struct reader *r, json_t *o, const char *k, int required, int def, int *out)
{
    json_t *v = field(o, k);
    *out = def;
    if (!v)
        return required ? fail_field(r, k, "is missing") : 0;
    if (!json_is_integer(v))
        return fail_field(r, k, "must be an integer");
    json_int_t x = json_integer_value(v);
    if (x < 0 || x > 1000000000)
        return fail_field(r, k, "is out of range");
    *out = (int)x;
    return 0;
}

static int get_num(struct reader *r, json_t *o, const char *k, int required, double def, double *out)
{
    json_t *v = field(o, k);
    *out = def;
    if (!v)
        return required ? fail_field(r, k, "is missing") : 0;
    if (!json_is_number(v))
        return fail_field(r, k, "must be a number");
    *out = json_number_value(v);
    if (!isfinite(*out))
        return fail_field(r, k, "is not finite");
    return 0;
}

static int get_bool(struct reader *r, json_t *o, const char *k, int def, int *out)
{
    json_t *v = field(o, k);
    *out = def;
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return fail_field(r, k, "must be true or false");
    *out = json_is_true(v);
    return 0;
}

/* bos/eos: an integer, a list (first entry) or absent (-1). */
static int get_token_id(struct reader *r, json_t *o, const char *k, int *out)
{
    json_t *v = field(o, k);
    *out = -1;
    if (v && json_is_array(v))
        v = json_array_size(v) ? json_array_get(v, 0) : NULL;
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1000000000)
        return fail_field(r, k, "must be a token id");
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

/* RoPE: v5 `rope_parameters` or old `rope_theta` + `rope_scaling`. */
static int parse_rope(struct reader *r, json_t *root, struct model_config *c)
{
    struct rope_config *rp = &c->rope;
    json_t *params = field(root, "rope_parameters"), *scaling = field(root, "rope_scaling");
    const char *sname = params ? "rope_parameters" : "rope_scaling";
    json_t *src = params ? params : scaling;
    if (src && !json_is_object(src))
        return fail_field(r, sname, "must be an object");
    memset(rp, 0, sizeof *rp);
    double theta;
    if (field(src, "rope_theta")) {
        if (get_num(r, src, "rope_theta", 1, 0, &theta))
            return -1;
    } else if (get_num(r, root, "rope_theta", 0, 10000.0, &theta))
        return -1;
    if (theta <= 1)
        return fail_field(r, "rope_theta", "must be greater than 1");
    rp->theta = theta;
    json_t *jt = field(src, "rope_type");
    if (!jt)
        jt = field(src, "type");
    const char *type = "default";
    if (jt) {
        if (!json_is_string(jt))
            return fail_field(r, sname, "has a rope type that is not a string");
        type = json_string_value(jt);
    }
    double f, of;
    if (!strcmp(type, "default")) {
        rp->type = ROPE_TYPE_DEFAULT;
    } else if (!strcmp(type, "linear")) {
        rp->type = ROPE_TYPE_LINEAR;
        if (get_num(r, src, "factor", 1, 1, &rp->factor))
            return -1;
    } else if (!strcmp(type, "llama3")) {
        rp->type = ROPE_TYPE_LLAMA3;
        if (get_num(r, src, "factor", 1, 1, &rp->factor) || get_num(r, src, "low_freq_factor", 1, 1, &rp->low_freq_factor) ||
            get_num(r, src, "high_freq_factor", 1, 4, &rp->high_freq_factor) ||
            get_num(r, src, "original_max_position_embeddings", 1, 0, &of))
            return -1;
        rp->original_max_pos = (int)of;
        if (rp->high_freq_factor <= rp->low_freq_factor)
            return fail_field(r, "high_freq_factor", "must exceed low_freq_factor");
    } else if (!strcmp(type, "yarn")) {
        rp->type = ROPE_TYPE_YARN;
        if (get_num(r, src, "original_max_position_embeddings", 0, c->max_pos, &of) ||
            get_num(r, src, "factor", 0, 0, &f) || get_num(r, src, "attention_factor", 0, 0, &rp->attention_factor) ||
            get_num(r, src, "mscale", 0, 0, &rp->mscale) || get_num(r, src, "mscale_all_dim", 0, 0, &rp->mscale_all_dim) ||
            get_num(r, src, "beta_fast", 0, 0, &rp->beta_fast) || get_num(r, src, "beta_slow", 0, 0, &rp->beta_slow) ||
            get_bool(r, src, "truncate", 1, &rp->truncate))
            return -1;
        rp->original_max_pos = (int)of;
        if (rp->original_max_pos <= 0)
            return fail_field(r, "original_max_position_embeddings", "must be positive");
        /* transformers: a missing factor is max_position_embeddings / original; a given one must be positive */
        if (field(src, "factor") && f <= 0)
            return fail_field(r, "factor", "must be positive");
        rp->factor = field(src, "factor") ? f : (double)c->max_pos / rp->original_max_pos;
        if (!rp->beta_fast) /* `or` defaults: 0 counts as absent */
            rp->beta_fast = 32;
        if (!rp->beta_slow)
            rp->beta_slow = 1;
    } else {
        char what[160];
        snprintf(what, sizeof what, "has rope type '%.40s' (supported: default, linear, llama3, yarn)", type);
        return fail_field(r, sname, what);
    }
    if (rp->type != ROPE_TYPE_DEFAULT && rp->factor <= 0)
        return fail_field(r, "factor", "must be positive");
    double prf;
    if (get_num(r, src, "partial_rotary_factor", 0, 1, &prf) || get_num(r, root, "partial_rotary_factor", 0, prf, &prf))
        return -1;
    if (prf != 1)
        return fail_field(r, "partial_rotary_factor", "other than 1 is not supported");
    return 0;
}

enum ss_status model_config_parse(struct model_config *c, const char *text, const char *path, struct ss_error *err)
{
    memset(c, 0, sizeof *c);
    json_error_t je;
    json_t *root = json_loads(text, 0, &je);
    if (!root)
        return ss_fail(err, SS_ERR_INPUT, "%s: not valid JSON: %s (line %d)", path, je.text, je.line);
    struct reader r = {path, err, 0};
    if (!json_is_object(root)) {
        ss_fail(err, SS_ERR_INPUT, "%s: not a JSON object", path);
        json_decref(root);
        return SS_ERR_INPUT;
    }
    json_t *mt = field(root, "model_type");
    if (!mt)
        fail_field(&r, "model_type", "is missing");
    else if (!json_is_string(mt))
        fail_field(&r, "model_type", "must be a string");
    else {
        const char *t = json_string_value(mt);
        if (strcmp(t, "qwen3") && strcmp(t, "qwen2") && strcmp(t, "llama") && strcmp(t, "mistral")) {
            ss_fail(err, SS_ERR_INPUT, "%s: unknown model type '%.40s' (supported: qwen3, qwen2, llama, mistral)", path, t);
            r.failed = 1;
        } else
            snprintf(c->model_type, sizeof c->model_type, "%s", t);
    }
    int qwen3 = !strcmp(c->model_type, "qwen3"), qwen2 = !strcmp(c->model_type, "qwen2");
    double eps;
    int hw = 0, ew = 0, attn_bias = 0, qkv_bias = 0, mlp_bias = 0, sw = 0, tied = 0;
    if (r.failed || get_int(&r, root, "num_hidden_layers", 1, 0, &c->n_layers) ||
        get_int(&r, root, "hidden_size", 1, 0, &c->hidden) ||
        get_int(&r, root, "num_attention_heads", 1, 0, &c->n_heads) ||
        get_int(&r, root, "num_key_value_heads", 0, c->n_heads, &c->n_kv_heads) ||
        get_int(&r, root, "intermediate_size", 1, 0, &c->ffn) || get_int(&r, root, "vocab_size", 1, 0, &c->vocab) ||
        get_int(&r, root, "max_position_embeddings", 0, 2048, &c->max_pos) ||
        get_num(&r, root, "rms_norm_eps", 0, 1e-6, &eps) ||
        get_int(&r, root, "head_dim", 0, c->n_heads ? c->hidden / c->n_heads : 0, &c->head_dim) ||
        get_bool(&r, root, "use_qk_norm", qwen3, &c->qk_norm) ||
        get_bool(&r, root, "headwise_attn_output_gate", 0, &hw) ||
        get_bool(&r, root, "elementwise_attn_output_gate", 0, &ew) ||
        get_bool(&r, root, "attention_bias", 0, &attn_bias) || get_bool(&r, root, "qkv_bias", 0, &qkv_bias) ||
        get_bool(&r, root, "mlp_bias", 0, &mlp_bias) || get_bool(&r, root, "use_sliding_window", 0, &sw) ||
        get_bool(&r, root, "tie_word_embeddings", 0, &tied) || get_token_id(&r, root, "bos_token_id", &c->bos_token_id) ||
        get_token_id(&r, root, "eos_token_id", &c->eos_token_id))
        goto out;
    if (c->n_layers < 1)
        fail_field(&r, "num_hidden_layers", "must be at least 1");
    else if (c->hidden < 1 || c->n_heads < 1 || c->n_kv_heads < 1 || c->ffn < 1 || c->vocab < 1)
        fail_field(&r, c->hidden < 1 ? "hidden_size" : c->n_heads < 1 ? "num_attention_heads"
                       : c->n_kv_heads < 1 ? "num_key_value_heads" : c->ffn < 1 ? "intermediate_size" : "vocab_size",
                   "must be positive");
    else if (c->n_heads % c->n_kv_heads)
        fail_field(&r, "num_key_value_heads", "must divide num_attention_heads");
    else if (c->head_dim < 2 || c->head_dim % 2)
        fail_field(&r, "head_dim", "must be even and positive (or hidden_size / num_attention_heads)");
    else if (hw && ew)
        fail_field(&r, "elementwise_attn_output_gate", "and headwise_attn_output_gate cannot both be true");
    else if (mlp_bias)
        fail_field(&r, "mlp_bias", "true is not supported");
    else if (sw && strcmp(c->model_type, "mistral"))
        fail_field(&r, "use_sliding_window", "true is not supported");
    else if (!(eps > 0))
        fail_field(&r, "rms_norm_eps", "must be positive");
    if (r.failed)
        goto out;
    json_t *act = field(root, "hidden_act");
    if (act && (!json_is_string(act) || strcmp(json_string_value(act), "silu"))) {
        fail_field(&r, "hidden_act", "must be \"silu\"");
        goto out;
    }
    if (!strcmp(c->model_type, "mistral") && get_int(&r, root, "sliding_window", 0, 0, &c->sliding_window))
        goto out;
    c->rms_eps = (float)eps;
    c->gate = hw ? GATE_KIND_HEADWISE : ew ? GATE_KIND_ELEMENTWISE : GATE_KIND_NONE;
    c->qkv_bias = qwen2 || attn_bias || qkv_bias; /* Qwen2: q/k/v biases always */
    c->o_bias = attn_bias || qkv_bias;            /* paper's qkv_bias, llama's attention_bias: o_proj too */
    c->tied = tied;
    json_t *dt = field(root, "dtype");
    if (!dt)
        dt = field(root, "torch_dtype");
    dtype_from_name(c->dtype, json_is_string(dt) ? json_string_value(dt) : NULL);
    parse_rope(&r, root, c);
out:
    json_decref(root);
    return r.failed ? SS_ERR_INPUT : SS_OK;
}

enum ss_status model_config_load(struct model_config *c, const char *dir, struct ss_error *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "rb");
    if (!f)
        return ss_fail(err, SS_ERR_INPUT, "%s: cannot open (is %s a checkpoint directory?)", path, dir);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap || cap >= (64u << 20))
            break;
        char *nb = realloc(buf, cap * 2 + 1);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    fclose(f);
    if (!buf)
        return ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", path);
    buf[n] = 0;
    enum ss_status st = model_config_parse(c, buf, path, err);
    free(buf);
    return st;
}
