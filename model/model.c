/* model/model.c — load a checkpoint: config.json + safetensors -> float32 weights in
 * one arena. Every tensor the config implies must exist with the implied shape; no
 * other tensor may exist (a silently ignored bias would give wrong maps). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "arch.h"
#include "model.h"
#include "safetensors.h"
#include "../common/readfile.h"

/* A tensor the config implies: a small one (1-D) lands in *slot as float32, a
 * matrix in *wslot as a view of the checkpoint (a transposed one, stored [in, out],
 * as a float32 copy turned to [out, in]). shape is as stored. */
struct spec {
    char name[96];
    const char *alt;           /* the tensor's other name (tensor_desc.alt), or NULL */
    float **slot;
    struct weight *wslot;      /* stacked experts: the first of n_experts views */
    int ndim, transposed;
    int64_t shape[4];
    const struct tensor_desc *desc;
};

/* The float32 / weight slot of a role (layer l for per-layer roles). */
static void role_slot(struct model *m, int l, int e, enum tensor_role r, float ***f, struct weight **w)
{
    struct model_weights *mw = &m->w;
    struct layer_weights *lw = l >= 0 ? &mw->layers[l] : NULL;
    *f = NULL, *w = NULL;
    switch (r) {
    case TR_EMBED: *w = &mw->embed; break;
    case TR_POS_EMBED: *w = &mw->pos_embed; break;
    case TR_PROJ_IN: *w = &mw->proj_in; break;
    case TR_PROJ_OUT: *w = &mw->proj_out; break;
    case TR_FINAL_NORM: *f = &mw->final_norm; break;
    case TR_FINAL_NORM_B: *f = &mw->final_norm_b; break;
    case TR_LM_HEAD: *w = &mw->lm_head; break;
    case TR_ATTN_NORM: *f = &lw->attn_norm; break;
    case TR_ATTN_NORM_B: *f = &lw->attn_norm_b; break;
    case TR_Q: *w = &lw->wq; break;
    case TR_Q_B: *f = &lw->bq; break;
    case TR_K: *w = &lw->wk; break;
    case TR_K_B: *f = &lw->bk; break;
    case TR_V: *w = &lw->wv; break;
    case TR_V_B: *f = &lw->bv; break;
    case TR_QKV: *w = &lw->wqkv; break;
    case TR_QKV_B: *f = &lw->bqkv; break;
    case TR_O: *w = &lw->wo; break;
    case TR_O_B: *f = &lw->bo; break;
    case TR_Q_NORM: *f = &lw->q_norm; break;
    case TR_K_NORM: *f = &lw->k_norm; break;
    case TR_ATTN_POST_NORM: *f = &lw->attn_post_norm; break;
    case TR_FFN_NORM: *f = &lw->ffn_norm; break;
    case TR_FFN_NORM_B: *f = &lw->ffn_norm_b; break;
    case TR_GATE: *w = &lw->w_gate; break;
    case TR_UP: *w = &lw->w_up; break;
    case TR_UP_B: *f = &lw->b_up; break;
    case TR_GATE_UP: *w = &lw->w_gate; break; /* split into w_gate and w_up after loading */
    case TR_DOWN: *w = &lw->w_down; break;
    case TR_DOWN_B: *f = &lw->b_down; break;
    case TR_FFN_POST_NORM: *f = &lw->ffn_post_norm; break;
    case TR_ROUTER: *w = &lw->router; break;
    case TR_EXPERT_GATE: *w = &lw->ex_gate[e]; break;
    case TR_EXPERT_UP: *w = &lw->ex_up[e]; break;
    case TR_EXPERT_DOWN: *w = &lw->ex_down[e]; break;
    case TR_SINKS: *f = &lw->sinks; break;
    case TR_ROUTER_B: *f = &lw->router_b; break;
    case TR_EXPERTS_GATE_UP: case TR_EXPERTS_GATE_UP_BLOCKS: case TR_EXPERTS_GATE_UP_SCALES: *w = lw->ex_gate_up; break;
    case TR_EXPERTS_DOWN: case TR_EXPERTS_DOWN_BLOCKS: case TR_EXPERTS_DOWN_SCALES: *w = lw->ex_down; break;
    case TR_EXPERTS_GATE_UP_B: *f = &lw->ex_gate_up_b; break;
    case TR_EXPERTS_DOWN_B: *f = &lw->ex_down_b; break;
    default: break;
    }
}

/* The name a table entry has in this checkpoint: the optional prefix `strip` left
 * out, or spelled `with` instead (the family's prefix_alias), when the checkpoint does
 * so; expert tensors take (layer, expert). */
static void spec_name2(char *dst, size_t n, const char *fmt, int l, int e, const char *strip, const char *with)
{
    char full[128];
    snprintf(full, sizeof full, fmt, l, e);
    size_t k = strip ? strlen(strip) : 0;
    if (k && !strncmp(full, strip, k))
        snprintf(dst, n, "%s%s", with ? with : "", full + k);
    else
        snprintf(dst, n, "%s", full);
}

/* The tensors the config implies (the family's table), with shapes and destinations. */
static void spec_name(char *dst, size_t n, const char *fmt, int l, const char *strip, const char *with)
{
    spec_name2(dst, n, fmt, l, 0, strip, with);
}

static int specs_build(struct model *m, struct spec *s, const char *strip)
{
    const struct model_config *c = &m->cfg;
    const struct arch *a = c->arch;
    int n = 0;
    for (int i = 0; i < a->n_tensors; i++) {
        const struct tensor_desc *t = &a->tensors[i];
        if (!arch_present(c, t))
            continue;
        int per_layer = t->role >= TR_LAYER_FIRST, ne = TR_IS_EXPERT(t->role) ? c->v.n_experts : 1;
        for (int l = 0; l < (per_layer ? c->n_layers : 1); l++)
          for (int e = 0; e < ne && (!per_layer || arch_present_layer(c, t, l)); e++) {
            struct spec *p = &s[n++];
            spec_name2(p->name, sizeof p->name, t->name, l, e, strip, a->prefix_alias);
            p->alt = t->alt;
            float **f;
            struct weight *w;
            role_slot(m, per_layer ? l : -1, e, t->role, &f, &w);
            p->slot = f, p->wslot = w;
            p->desc = t;
            p->ndim = arch_stored_shape(c, t, p->shape);
            p->transposed = t->transposed && !TR_IS_STACKED(t->role); /* stacked: read transposed in place */
        }
    }
    return n;
}

/* Rows r0..r0+n of w as a weight of its own (same bytes, same check). */
static struct weight weight_rows_view(const struct weight *w, int64_t r0, int64_t n)
{
    size_t es = w->dtype == WEIGHT_F32 ? 4 : 2;
    struct weight v = *w;
    v.data = (const char *)w->data + (size_t)r0 * w->cols * es;
    v.rows = n;
    return v;
}

/* Fused tensors stored as blocks become views: c_attn / qkv_proj = [q; k; v],
 * gate_up_proj = [gate; up]. A per-head fused qkv (gpt_neox) stays fused. */
static void fused_split(struct model *m)
{
    const struct model_config *c = &m->cfg;
    int64_t q = model_config_q_out(c), kv = (int64_t)c->n_kv_heads * c->head_dim;
    for (int l = 0; l < c->n_layers; l++) {
        struct layer_weights *w = &m->w.layers[l];
        if (w->wqkv.data && !c->v.qkv_per_head) {
            w->wq = weight_rows_view(&w->wqkv, 0, q);
            w->wk = weight_rows_view(&w->wqkv, q, kv);
            w->wv = weight_rows_view(&w->wqkv, q + kv, kv);
            w->wqkv = (struct weight){0};
            if (w->bqkv)
                w->bq = w->bqkv, w->bk = w->bqkv + q, w->bv = w->bqkv + q + kv, w->bqkv = NULL;
        }
        if (w->w_gate.data && w->w_gate.rows == 2 * (int64_t)c->ffn) {
            struct weight gu = w->w_gate;
            w->w_gate = weight_rows_view(&gu, 0, c->ffn);
            w->w_up = weight_rows_view(&gu, c->ffn, c->ffn);
        }
    }
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

/* config.json verbatim for the run file's metadata, through the one bounded reader (the
 * config was parsed by model_config_load; past the buffer the copy is truncated, as model.h says). */
static enum ss_status read_config_text(struct model *m, const char *dir, struct ss_error *err)
{
    char path[PATH_MAX + 16];
    if (snprintf(path, sizeof path, "%s/config.json", dir) >= (int)sizeof path)
        return ss_fail(err, SS_ERR_INPUT, "%s: path too long", dir);
    char *text;
    size_t n;
    enum ss_status st = readfile_all(path, READFILE_LIMIT_JSON, "config", &text, &n, err);
    if (st)
        return st;
    if (n > sizeof m->config_json - 1)
        n = sizeof m->config_json - 1;
    memcpy(m->config_json, text, n);
    m->config_json[n] = 0;
    free(text);
    return SS_OK;
}

/* The E views of a layer's stacked experts (model/arch.h TR_EXPERTS_*) over the mapped
 * bytes at p: matrices stored [in, out] read transposed; MXFP4 blocks are the views' data,
 * their scales (placed after them) complete each view. */
static void stacked_place(const struct spec *s, const uint8_t *p, enum st_dtype dt, struct weight_check *chk)
{
    enum tensor_role r = s->desc->role;
    int64_t E = s->shape[0], a = s->shape[1], b = s->shape[2];
    size_t es = dt == ST_DTYPE_F32 ? 4 : 2;
    for (int64_t e = 0; e < E; e++) {
        struct weight *w = &s->wslot[e];
        if (TR_IS_SCALES(r)) {
            w->scales = p + (size_t)(e * a * b);
        } else if (TR_IS_BLOCKS(r)) { /* [out = a, in = 32 b] */
            *w = weight_mxfp4(p + (size_t)(e * a * b * 16), NULL, a, b * 32);
            w->check = chk;
        } else { /* stored [in = a, out = b] */
            *w = (struct weight){p + (size_t)(e * a * b) * es, (enum weight_dtype)dt, b, a, chk, NULL, 1};
        }
    }
}

/* Point every matrix at its mapped bytes (with its NaN/Inf check) and convert the
 * small tensors into one float32 arena. ts[i] is the validated tensor of specs[i]. */
static enum ss_status weights_place(struct model *m, const struct st_set *set, const struct spec *specs,
                                    const struct st_tensor **ts, int ns, struct ss_error *err)
{
    size_t small = 0;
    for (int i = 0; i < ns; i++)
        small += specs[i].slot || specs[i].transposed ? st_numel(ts[i]) : 0;
    m->wlog = calloc(1, sizeof *m->wlog);
    m->checks = calloc(ns, sizeof *m->checks);
    if (!m->wlog || !m->checks || posix_memalign(&m->arena, 64, small * sizeof(float) + 64)) {
        m->arena = NULL;
        return ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", m->dir);
    }
    weight_guard_install();
    for (int i = 0; i < ns; i++) /* the small tensors of a cold checkpoint: one burst of reads, not 2L+1 waits */
        if (specs[i].slot)
            st_prefetch(set, ts[i]);
    float *p = m->arena;
    for (int i = 0; i < ns; i++) {
        const struct st_tensor *t = ts[i];
        const struct st_file *f = &set->files[t->file];
        m->checks[i] = (struct weight_check){f->path, t->name, 0, m->wlog};
        if (specs[i].wslot && TR_IS_STACKED(specs[i].desc->role)) {
            stacked_place(&specs[i], f->map + f->data_off + t->begin, t->dtype, &m->checks[i]);
            m->mapped_bytes += t->end - t->begin;
            continue;
        }
        if (specs[i].wslot && !specs[i].transposed) {
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
        if (specs[i].transposed) { /* [in, out] -> [out, in], in place through a copy */
            int64_t in = specs[i].shape[0], out = specs[i].shape[1];
            float *tmp = malloc((size_t)in * out * sizeof *tmp);
            if (!tmp)
                return ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", m->dir);
            memcpy(tmp, p, (size_t)in * out * sizeof *tmp);
            for (int64_t r = 0; r < in; r++)
                for (int64_t o = 0; o < out; o++)
                    p[(size_t)o * in + r] = tmp[(size_t)r * out + o];
            free(tmp);
            *specs[i].wslot = weight_f32(p, out, in);
        } else
            *specs[i].slot = p;
        p += st_numel(t);
    }
    return SS_OK;
}

/* What the files say about the layout: the prefix the Hub's older files leave out
 * (GPT-2: "transformer.") or spell otherwise (multimodal Gemma 3: "language_model.model."
 * for "model.language_model."; returned, or NULL), tying (no output head stored) and the
 * per-layer entries of the family's table. */
static const char *layout_detect(struct model_config *c, const struct st_set *set, int *per_layer)
{
    const struct arch *a = c->arch;
    const char *strip = NULL;
    char nm[128];
    spec_name(nm, sizeof nm, a->tensors[0].name, 0, a->optional_prefix, a->prefix_alias);
    if (a->optional_prefix && !st_find(set, a->tensors[0].name) && st_find(set, nm))
        strip = a->optional_prefix;
    c->tied = 1;
    *per_layer = 0;
    for (int i = 0; i < a->n_tensors; i++) {
        if (a->tensors[i].role == TR_LM_HEAD) {
            spec_name(nm, sizeof nm, a->tensors[i].name, 0, strip, a->prefix_alias);
            c->tied = st_find(set, nm) == NULL && !(a->tensors[i].alt && st_find(set, a->tensors[i].alt));
        }
        *per_layer += a->tensors[i].role < TR_LAYER_FIRST ? 0 : TR_IS_EXPERT(a->tensors[i].role) ? c->v.n_experts : 1;
    }
    return strip;
}

/* The stored tensor of spec p, its shape and dtype checked; NULL with err set. */
static const struct st_tensor *spec_check(const struct st_set *set, const struct spec *p, const char *dir,
                                          struct ss_error *err)
{
    const struct st_tensor *t = st_find(set, p->name);
    if (!t && p->alt)
        t = st_find(set, p->alt);
    char a[96], b[96];
    if (!t) {
        ss_fail(err, SS_ERR_INPUT, "%s: tensor '%s' is missing (config.json implies it)", dir, p->name);
        return NULL;
    }
    int same = t->ndim == p->ndim;
    for (int d = 0; same && d < t->ndim; d++)
        same = t->shape[d] == p->shape[d];
    if (!same) {
        shape_str(a, sizeof a, t->ndim, t->shape);
        shape_str(b, sizeof b, p->ndim, p->shape);
        ss_fail(err, SS_ERR_INPUT, "%s: tensor '%s' has shape %s but config.json implies %s", st_path(set, t), t->name,
                a, b);
        return NULL;
    }
    int packed = TR_IS_BLOCKS(p->desc->role) || TR_IS_SCALES(p->desc->role);
    if (packed != !strcmp(t->dtype_name, "U8")) {
        ss_fail(err, SS_ERR_INPUT, "%s: tensor '%s': dtype %s, but MXFP4 %s are U8", st_path(set, t), t->name,
                t->dtype_name, packed ? "blocks and scales" : "blocks and scales only");
        return NULL;
    }
    if (!packed && t->dtype != ST_DTYPE_F32 && t->dtype != ST_DTYPE_BF16 && t->dtype != ST_DTYPE_F16) {
        ss_fail(err, SS_ERR_INPUT, "%s: tensor '%s': unsupported dtype %s (F32, BF16 and F16 are)", st_path(set, t),
                t->name, t->dtype_name);
        return NULL;
    }
    return t;
}

/* Every tensor of the files is one the family reads (ts[0..ns)), or one it ignores
 * (rotary caches, vision towers); anything else is refused, naming the file. */
static enum ss_status unexpected_check(const struct model_config *c, const struct st_set *set,
                                       const struct st_tensor **ts, int ns, struct ss_error *err)
{
    const struct arch *a = c->arch;
    for (int i = 0; i < set->n_tensors; i++) {
        const struct st_tensor *t = &set->tensors[i];
        int known = ends_with(t->name, ".rotary_emb.inv_freq");
        for (int j = 0; a->ignored && a->ignored[j] && !known; j++)
            known = ends_with(t->name, a->ignored[j]);
        for (int j = 0; a->ignored_prefixes && a->ignored_prefixes[j] && !known; j++)
            known = !strncmp(t->name, a->ignored_prefixes[j], strlen(a->ignored_prefixes[j]));
        for (int j = 0; j < ns && !known; j++)
            known = ts[j] == t;
        if (!known)
            return ss_fail(err, SS_ERR_INPUT,
                           "%s: unexpected tensor '%s' (not part of a %s model with this config.json)",
                           st_path(set, t), t->name, c->model_type);
    }
    return SS_OK;
}

/* The per-layer weight table and, for MoE families, the expert views it points into
 * ([n_layers, 3, n_experts]: gate (or gate_up), up, down). Non-zero: out of memory. */
static int layer_tables_new(struct model *m)
{
    const struct model_config *c = &m->cfg;
    size_t E = (size_t)c->v.n_experts;
    if (!(m->w.layers = calloc(c->n_layers, sizeof *m->w.layers)))
        return -1;
    if (!E)
        return 0;
    if (!(m->w.experts = calloc((size_t)c->n_layers * 3 * E, sizeof *m->w.experts)))
        return -1;
    for (int l = 0; l < c->n_layers; l++) {
        struct weight *x = m->w.experts + (size_t)l * 3 * E;
        m->w.layers[l].ex_gate = x, m->w.layers[l].ex_up = x + E, m->w.layers[l].ex_down = x + 2 * E;
        m->w.layers[l].ex_gate_up = x;
    }
    return 0;
}

enum ss_status model_load(struct model *m, const char *dir, struct ss_error *err)
{
    memset(m, 0, sizeof *m);
    snprintf(m->dir, sizeof m->dir, "%s", dir);
    enum ss_status st = model_config_load(&m->cfg, dir, err);
    if (st)
        return st;
    if ((st = read_config_text(m, dir, err)))
        return st;
    struct st_set set;
    if ((st = st_open_dir(&set, dir, err)))
        return st;
    struct model_config *c = &m->cfg;
    const struct arch *a = c->arch;
    int per_layer;
    const char *strip = layout_detect(c, &set, &per_layer);
    struct spec *specs = NULL;
    /* A config promising more layers than the files can hold fails here, before
     * tables sized by n_layers are allocated (every family has >= 4 tensors a layer). */
    char last[128];
    for (int i = 0; i < a->n_tensors; i++)
        if (a->tensors[i].role >= TR_LAYER_FIRST) {
            spec_name(last, sizeof last, a->tensors[i].name, c->n_layers - 1, strip, a->prefix_alias);
            break;
        }
    if ((int64_t)c->n_layers * 4 + 1 > set.n_tensors || !st_find(&set, last)) {
        st = ss_fail(err, SS_ERR_INPUT, "%s: tensor '%s' is missing (config.json says %d layers)", dir, last,
                     c->n_layers);
        goto out;
    }
    specs = malloc(((size_t)c->n_layers * per_layer + a->n_tensors) * sizeof *specs);
    if (layer_tables_new(m) || !specs) {
        st = ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", dir);
        goto out;
    }
    int ns = specs_build(m, specs, strip);
    /* Check names, shapes and dtypes first: a bad checkpoint fails before any big allocation. */
    size_t total = 0;
    const struct st_tensor **ts = calloc(ns, sizeof *ts);
    if (!ts) {
        st = ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", dir);
        goto out;
    }
    for (int i = 0; i < ns && !st; i++) {
        const struct st_tensor *t = spec_check(&set, &specs[i], dir, err);
        if (!t) {
            st = SS_ERR_INPUT;
            break;
        }
        ts[i] = t;
        total += TR_IS_SCALES(specs[i].desc->role) ? 0 : st_numel(t) * (TR_IS_BLOCKS(specs[i].desc->role) ? 2 : 1);
    }
    if (!st)
        st = unexpected_check(c, &set, ts, ns, err);
    if (!st)
        st = weights_place(m, &set, specs, ts, ns, err);
    if (!st) {
        fused_split(m);
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
    free(m->w.experts);
    free(m->checks);
    free(m->wlog);
    m->st = m->arena = NULL;
    m->checks = NULL;
    m->wlog = NULL;
    memset(&m->w, 0, sizeof m->w);
}
