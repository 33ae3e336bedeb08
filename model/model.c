/* model/model.c — load a checkpoint: config.json + safetensors -> float32 weights in
 * one arena. Every tensor the config implies must exist with the implied shape; no
 * other tensor may exist (a silently ignored bias would give wrong maps). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "model.h"
#include "safetensors.h"

/* A tensor the config implies: a small one (1-D) lands in *slot as float32, a
 * matrix in *wslot as a view of the checkpoint. */
struct spec {
    char name[96];
    float **slot;
    struct weight *wslot;
    int ndim;
    int64_t shape[2];
};

static void spec_add(struct spec *s, int *n, const char *name, void *slot, int64_t d0, int64_t d1)
{
    struct spec *p = &s[(*n)++];
    snprintf(p->name, sizeof p->name, "%s", name);
    p->slot = d1 ? NULL : slot;
    p->wslot = d1 ? slot : NULL;
    p->ndim = d1 ? 2 : 1;
    p->shape[0] = d0;
    p->shape[1] = d1;
}

/* The tensors a config implies, with their shapes and destinations. */
static int specs_build(struct model *m, struct spec *s)
{
    const struct model_config *c = &m->cfg;
    int n = 0;
    int64_t H = c->hidden, D = c->head_dim, kv = (int64_t)c->n_kv_heads * D, qo = model_config_q_out(c);
    spec_add(s, &n, "model.embed_tokens.weight", &m->w.embed, c->vocab, H);
    spec_add(s, &n, "model.norm.weight", &m->w.final_norm, H, 0);
    if (!c->tied)
        spec_add(s, &n, "lm_head.weight", &m->w.lm_head, c->vocab, H);
    for (int l = 0; l < c->n_layers; l++) {
        struct layer_weights *w = &m->w.layers[l];
        char b[96];
#define ADD(suffix, slot, d0, d1)                                         \
    do {                                                                  \
        snprintf(b, sizeof b, "model.layers.%d.%s", l, suffix);           \
        spec_add(s, &n, b, slot, d0, d1);                                 \
    } while (0)
        ADD("input_layernorm.weight", &w->attn_norm, H, 0);
        ADD("self_attn.q_proj.weight", &w->wq, qo, H);
        ADD("self_attn.k_proj.weight", &w->wk, kv, H);
        ADD("self_attn.v_proj.weight", &w->wv, kv, H);
        ADD("self_attn.o_proj.weight", &w->wo, H, (int64_t)c->n_heads * D);
        if (c->qkv_bias) {
            ADD("self_attn.q_proj.bias", &w->bq, qo, 0);
            ADD("self_attn.k_proj.bias", &w->bk, kv, 0);
            ADD("self_attn.v_proj.bias", &w->bv, kv, 0);
        }
        if (c->o_bias)
            ADD("self_attn.o_proj.bias", &w->bo, H, 0);
        if (c->qk_norm) {
            ADD("self_attn.q_norm.weight", &w->q_norm, D, 0);
            ADD("self_attn.k_norm.weight", &w->k_norm, D, 0);
        }
        ADD("post_attention_layernorm.weight", &w->ffn_norm, H, 0);
        ADD("mlp.gate_proj.weight", &w->w_gate, c->ffn, H);
        ADD("mlp.up_proj.weight", &w->w_up, c->ffn, H);
        ADD("mlp.down_proj.weight", &w->w_down, H, c->ffn);
#undef ADD
    }
    return n;
}

static void shape_str(char *b, size_t n, int ndim, const int64_t *sh)
{
    int k = snprintf(b, n, "[");
    for (int i = 0; i < ndim && k < (int)n; i++)
        k += snprintf(b + k, n - k, i ? ", %lld" : "%lld", (long long)sh[i]);
    if (k < (int)n)
        snprintf(b + k, n - k, "]");
}

static const char *dtype_short(enum st_dtype d)
{
    return d == ST_DTYPE_F32 ? "f32" : d == ST_DTYPE_BF16 ? "bf16" : d == ST_DTYPE_F16 ? "f16" : "?";
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static void read_config_text(struct model *m, const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    size_t n = fread(m->config_json, 1, sizeof m->config_json - 1, f);
    m->config_json[n] = 0;
    fclose(f);
}

/* Point every matrix at its mapped bytes (with its NaN/Inf check) and convert the
 * small tensors into one float32 arena. ts[i] is the validated tensor of specs[i]. */
static enum ss_status weights_place(struct model *m, const struct st_set *set, const struct spec *specs,
                                    const struct st_tensor **ts, int ns, struct ss_error *err)
{
    size_t small = 0;
    for (int i = 0; i < ns; i++)
        small += specs[i].slot ? st_numel(ts[i]) : 0;
    m->wlog = calloc(1, sizeof *m->wlog);
    m->checks = calloc(ns, sizeof *m->checks);
    if (!m->wlog || !m->checks || posix_memalign(&m->arena, 64, small * sizeof(float) + 64)) {
        m->arena = NULL;
        return ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", m->dir);
    }
    weight_guard_install();
    float *p = m->arena;
    for (int i = 0; i < ns; i++) {
        const struct st_tensor *t = ts[i];
        const struct st_file *f = &set->files[t->file];
        m->checks[i] = (struct weight_check){f->path, t->name, 0, m->wlog};
        if (specs[i].wslot) {
            *specs[i].wslot = (struct weight){f->map + f->data_off + t->begin, (enum weight_dtype)t->dtype,
                                              specs[i].shape[0], specs[i].shape[1], &m->checks[i]};
            m->mapped_bytes += t->end - t->begin;
            continue;
        }
        size_t bad = 0;
        enum ss_status st = st_read_f32(set, t, p, &bad, err);
        if (st)
            return st;
        if (bad) {
            fprintf(stderr, "sinkscope: warning: %s: tensor '%s' has %zu NaN/Inf values\n", f->path, t->name, bad);
            m->checks[i].warned = 1;
            m->wlog->n_nonfinite++;
        }
        *specs[i].slot = p;
        p += st_numel(t);
    }
    return SS_OK;
}

enum ss_status model_load(struct model *m, const char *dir, struct ss_error *err)
{
    memset(m, 0, sizeof *m);
    snprintf(m->dir, sizeof m->dir, "%s", dir);
    enum ss_status st = model_config_load(&m->cfg, dir, err);
    if (st)
        return st;
    read_config_text(m, dir);
    struct st_set set;
    if ((st = st_open_dir(&set, dir, err)))
        return st;
    struct model_config *c = &m->cfg;
    c->tied = st_find(&set, "lm_head.weight") == NULL;
    struct spec *specs = NULL;
    /* Every layer has at least 9 tensors: a config promising more layers than the
     * files can hold fails here, before tables sized by n_layers are allocated. */
    char last[96];
    snprintf(last, sizeof last, "model.layers.%d.input_layernorm.weight", c->n_layers - 1);
    if ((int64_t)c->n_layers * 9 + 2 > set.n_tensors || !st_find(&set, last)) {
        st = ss_fail(err, SS_ERR_INPUT, "%s: tensor '%s' is missing (config.json says num_hidden_layers %d)", dir,
                     last, c->n_layers);
        goto out;
    }
    m->w.layers = calloc(c->n_layers, sizeof *m->w.layers);
    specs = malloc(((size_t)c->n_layers * 16 + 4) * sizeof *specs);
    if (!m->w.layers || !specs) {
        st = ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", dir);
        goto out;
    }
    int ns = specs_build(m, specs);
    /* Check names, shapes and dtypes first: a bad checkpoint fails before any big allocation. */
    size_t total = 0;
    const struct st_tensor **ts = calloc(ns, sizeof *ts);
    if (!ts) {
        st = ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", dir);
        goto out;
    }
    for (int i = 0; i < ns && !st; i++) {
        const struct st_tensor *t = st_find(&set, specs[i].name);
        char a[96], b[96];
        if (!t) {
            st = ss_fail(err, SS_ERR_INPUT, "%s: tensor '%s' is missing (config.json implies it)", dir, specs[i].name);
            break;
        }
        int same = t->ndim == specs[i].ndim;
        for (int d = 0; same && d < t->ndim; d++)
            same = t->shape[d] == specs[i].shape[d];
        if (!same) {
            shape_str(a, sizeof a, t->ndim, t->shape);
            shape_str(b, sizeof b, specs[i].ndim, specs[i].shape);
            st = ss_fail(err, SS_ERR_INPUT, "%s: tensor '%s' has shape %s but config.json implies %s", st_path(&set, t),
                         t->name, a, b);
            break;
        }
        if (t->dtype != ST_DTYPE_F32 && t->dtype != ST_DTYPE_BF16 && t->dtype != ST_DTYPE_F16) {
            st = ss_fail(err, SS_ERR_INPUT, "%s: tensor '%s': unsupported dtype %s (F32, BF16 and F16 are)",
                         st_path(&set, t), t->name, t->dtype_name);
            break;
        }
        ts[i] = t;
        total += st_numel(t);
    }
    for (int i = 0; i < set.n_tensors && !st; i++) {
        const struct st_tensor *t = &set.tensors[i];
        int known = ends_with(t->name, ".rotary_emb.inv_freq");
        for (int j = 0; j < ns && !known; j++)
            known = ts[j] == t;
        if (!known)
            st = ss_fail(err, SS_ERR_INPUT, "%s: unexpected tensor '%s' (not part of a %s model with this config.json)",
                         st_path(&set, t), t->name, c->model_type);
    }
    if (!st)
        st = weights_place(m, &set, specs, ts, ns, err);
    if (!st) {
        if (c->tied)
            m->w.lm_head = m->w.embed;
        snprintf(c->dtype, sizeof c->dtype, "%s", dtype_short(ts[0]->dtype));
        m->n_params = total;
    }
    free(ts);
out:
    free(specs);
    if (!st && !(m->st = malloc(sizeof set)))
        st = ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", dir);
    if (st) {
        st_close(&set);
        model_free(m);
    } else {
        memcpy(m->st, &set, sizeof set); /* the maps live as long as the model */
    }
    return st;
}

void model_free(struct model *m)
{
    if (m->st) {
        st_close(m->st);
        free(m->st);
    }
    free(m->arena);
    free(m->w.layers);
    free(m->checks);
    free(m->wlog);
    m->st = m->arena = NULL;
    m->checks = NULL;
    m->wlog = NULL;
    memset(&m->w, 0, sizeof m->w);
}
