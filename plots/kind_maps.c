/* plots/kind_maps.c — attention maps over token positions: a few layers (Fig. 2 right,
 * the released demo) and every head of one layer (massive activations: kind_massive.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot_int.h"
#include "../runfile/schema.h"

#define HINT_ATTN "run with --dump attention"
#define MAP_FLOOR 1e-4 /* log colour scale: zeros (masked keys) are drawn at this floor */
#define MAP_MAX_PIXELS 512 /* longer maps are mean-pooled in square blocks to at most this */

static void attn_name(const struct plot_run *r, int l, char *buf, size_t n)
{
    rf_layer_path(RF_ATTENTION, l, r->n_layers, buf, n);
}

static int has_attn(struct plot_run *r, int l)
{
    char d[64];
    attn_name(r, l, d, sizeof d);
    return runfile_has(r->rf, d);
}

/* The dumped layer closest to want (ties: the lower), or -1 if none is dumped. */
static int nearest_dumped(struct plot_run *r, int want)
{
    for (int dist = 0; dist < r->n_layers; dist++) {
        if (want - dist >= 0 && want - dist < r->n_layers && has_attn(r, want - dist))
            return want - dist;
        if (want + dist < r->n_layers && want + dist >= 0 && has_attn(r, want + dist))
            return want + dist;
    }
    return -1;
}

/* Layers to draw for run r: the --layers list (each must be dumped), else the paper
 * demo's four (indices 0, L/4-1, 3L/4-1, L-1 = layers 1, 7, 21, 28 of 28), moved to
 * the nearest dumped layer, duplicates dropped. */
static enum ss_status map_layers(struct plot_ctx *c, struct plot_run *r, int *out, int *n,
                                 struct ss_error *err)
{
    const struct plot_options *o = c->o;
    char d[64];
    *n = 0;
    if (nearest_dumped(r, 0) < 0)
        return ss_fail(err, SS_ERR_INPUT, "%s has no attention maps: %s", r->path, HINT_ATTN);
    if (o->layers) {
        int picked[PLOT_MAX_LAYERS], np;
        enum ss_status s = plot_run_layers(c, r, picked, &np, err);
        if (s)
            return s;
        for (int k = 0; k < np; k++) {
            int l = picked[k];
            attn_name(r, l, d, sizeof d);
            if (!runfile_has(r->rf, d))
                return ss_fail(err, SS_ERR_INPUT, "%s has no attention map of layer index %d: %s --layers %d",
                               r->path, l, HINT_ATTN, l);
            out[(*n)++] = l;
        }
        return SS_OK;
    }
    int L = r->n_layers;
    int want[4] = {0, L / 4 - 1, 3 * L / 4 - 1, L - 1};
    for (int k = 0; k < 4; k++) {
        int l = nearest_dumped(r, want[k] < 0 ? 0 : want[k]);
        int dup = 0;
        for (int j = 0; j < *n; j++)
            dup |= out[j] == l;
        if (!dup)
            out[(*n)++] = l;
    }
    /* ascending order */
    for (int i = 1; i < *n; i++)
        for (int j = i; j > 0 && out[j - 1] > out[j]; j--) {
            int t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return SS_OK;
}

/* Position of head `head` inside the dumped heads of dset, or -1 with err set. */
static int dumped_head_index(struct plot_run *r, const char *dset, int head, int n_dumped,
                             struct ss_error *err)
{
    int *heads = malloc(sizeof(int) * (size_t)(n_dumped > 0 ? n_dumped : 1)), k = 0;
    if (!heads) {
        ss_fail(err, SS_ERR_NOMEM, "out of memory");
        return -1;
    }
    if (runfile_dumped_heads(r->rf, dset, n_dumped, r->n_heads, heads, err)) {
        free(heads);
        return -1;
    }
    while (k < n_dumped && heads[k] != head)
        k++;
    free(heads);
    if (k < n_dumped)
        return k;
    ss_fail(err, SS_ERR_INPUT, "%s: head %d was not dumped in %s: run with --dump attention --heads %d", r->path,
            head, dset, head);
    return -1;
}

/* The map as drawn: n x n pixels, each the mean of a pool x pool block of positions. */
struct map_img {
    float *px;
    int n, pool, n_tok; /* pixels per side, block side, positions per side */
};

/* One [T, T] map of layer l, sequence seq: head h (index in the dump) or, h < 0,
 * the mean over the dumped heads; mean-pooled when T > MAP_MAX_PIXELS. */
static enum ss_status read_map(struct plot_ctx *c, struct plot_run *r, int l, int h, struct map_img *out,
                               struct ss_error *err)
{
    char d[64];
    attn_name(r, l, d, sizeof d);
    int nd;
    int64_t sh[4];
    enum ss_status st = runfile_shape(r->rf, d, &nd, sh, err);
    if (st)
        return st;
    if (nd != 4 || sh[2] != sh[3] || sh[1] < 1)
        return ss_fail(err, SS_ERR_INPUT, "%s: %s is not [seq, head, query, key]", r->path, d);
    if (c->o->seq < 0 || c->o->seq >= sh[0])
        return ss_fail(err, SS_ERR_INPUT, "%s: --seq %d out of range: the run has sequences 0..%d", r->path,
                       c->o->seq, (int)sh[0] - 1);
    int n = (int)sh[2], H = (int)sh[1];
    float *m = calloc((size_t)n * (size_t)n, sizeof *m);
    if (!m)
        return ss_fail(err, SS_ERR_NOMEM, "out of memory");
    int h0 = h < 0 ? 0 : h, h1 = h < 0 ? H : h + 1;
    for (int k = h0; k < h1; k++) {
        int64_t start[4] = {c->o->seq, k, 0, 0}, count[4] = {1, 1, n, n};
        struct rf_array a = {0};
        st = runfile_read_slab(r->rf, d, start, count, &a, err);
        if (st) {
            free(m);
            return st;
        }
        for (size_t i = 0; i < (size_t)n * n; i++)
            m[i] += (float)(a.data[i] / (h1 - h0));
        rf_array_free(&a);
    }
    int f = (n + MAP_MAX_PIXELS - 1) / MAP_MAX_PIXELS, np = (n + f - 1) / f;
    if (f > 1) { /* in place: block (i, j) only reads rows >= i*f, written after */
        for (int i = 0; i < np; i++)
            for (int j = 0; j < np; j++) {
                double s = 0;
                int cnt = 0;
                for (int q = i * f; q < n && q < (i + 1) * f; q++)
                    for (int k = j * f; k < n && k < (j + 1) * f; k++, cnt++)
                        s += m[(size_t)q * n + k];
                m[(size_t)i * np + j] = (float)(s / cnt);
            }
    }
    if (c->o->log_scale)
        for (size_t i = 0; i < (size_t)np * np; i++)
            if (!(m[i] >= MAP_FLOOR))
                m[i] = (float)MAP_FLOOR;
    out->px = m;
    out->n = np;
    out->pool = f;
    out->n_tok = n;
    return SS_OK;
}

#define MAP_XLABEL 1 /* draw "key" below this panel */
#define MAP_YLABEL 2 /* draw "query" left of it */
#define MAP_ROOM 4   /* keep margins for axis labels (same in every panel, so panels align) */
#define MAP_SHARED 8 /* head grid: one fixed colour range for every panel */
#define MAP_TOPROW 32 /* leave room above for the figure title */

/* Emit one heatmap panel: n x n pixels in data file name, each pool x pool positions
 * of n_tok (toks: their pieces, or NULL). */
static void map_panel(struct plot_ctx *c, const char *name, int n, int pool, int n_tok, char **toks,
                      const char *title, int max_labels, int axis_labels)
{
    struct gp *g = &c->g;
    plot_style_heatmap(c, n, n);
    int wx = plot_token_tics(c, "x", toks, n_tok, max_labels, pool);
    int wy = plot_token_tics(c, "y", toks, n_tok, max_labels, pool);
    /* character units of the 8 pt font; tick labels are 7 pt, x ones rotated by 60 degrees */
    gp_printf(g, "set bmargin %.1f\nset lmargin %.1f\nset tmargin %.1f\nset rmargin %d\n",
              (axis_labels & MAP_ROOM ? 2.2 : 1.0) + 0.36 * wx, (axis_labels & MAP_ROOM ? 4.0 : 2.0) + 0.95 * wy,
              axis_labels & MAP_TOPROW ? 3.2 : 1.8, 1);
    if (axis_labels & MAP_XLABEL)
        gp_printf(g, "set xlabel %s\n", gp_text(g, "key"));
    else
        gp_printf(g, "unset xlabel\n");
    if (axis_labels & MAP_YLABEL)
        gp_printf(g, "set ylabel %s\n", gp_text(g, "query"));
    else
        gp_printf(g, "unset ylabel\n");
    if (axis_labels & MAP_SHARED) {
        gp_printf(g, c->o->log_scale ? "set cbrange [%g:1]\n" : "set cbrange [0:1]\n", MAP_FLOOR);
    }
    gp_printf(g, "set title %s\n", gp_text(g, title));
    gp_printf(g, "plot %s binary array=%dx%d format='%%float32' endian=little with image notitle\n",
              gp_q(g, name), n, n);
}

/* Layer l's map of run r (head --head, else the mean over the dumped heads) into data file
 * name; im keeps its size, pooling and token count (its pixels are freed). */
static enum ss_status map_layer_load(struct plot_ctx *c, struct plot_run *r, int l, struct map_img *im, char *name,
                                     struct ss_error *err)
{
    int h = -1;
    enum ss_status st = SS_OK;
    if (c->o->head >= 0) {
        char d[64];
        int nd;
        int64_t sh[4];
        attn_name(r, l, d, sizeof d);
        st = runfile_shape(r->rf, d, &nd, sh, err);
        if (!st && (h = dumped_head_index(r, d, c->o->head, (int)sh[1], err)) < 0)
            st = err->status;
    }
    if (!st)
        st = read_map(c, r, l, h, im, err);
    if (!st)
        st = gp_data(&c->g, im->px, (size_t)im->n * (size_t)im->n, name, err);
    free(im->px);
    im->px = NULL;
    return st;
}

enum ss_status plot_attention_map(struct plot_ctx *c, struct ss_error *err)
{
    struct gp *g = &c->g;
    const struct plot_options *o = c->o;
    int layers[PLOT_MAX_RUNS][PLOT_MAX_LAYERS], nl[PLOT_MAX_RUNS], most = 0;
    for (int i = 0; i < c->n_runs; i++) {
        enum ss_status st = map_layers(c, &c->runs[i], layers[i], &nl[i], err);
        if (st)
            return st;
        if (nl[i] > most)
            most = nl[i];
    }
    /* data first, so a missing piece fails before any script text */
    char (*names)[32] = calloc((size_t)PLOT_MAX_RUNS * PLOT_MAX_LAYERS, 32);
    int T[PLOT_MAX_RUNS][PLOT_MAX_LAYERS], pool[PLOT_MAX_RUNS][PLOT_MAX_LAYERS], ntk[PLOT_MAX_RUNS][PLOT_MAX_LAYERS];
    if (!names)
        return ss_fail(err, SS_ERR_NOMEM, "out of memory");
    for (int i = 0; i < c->n_runs; i++)
        for (int k = 0; k < nl[i]; k++) {
            struct map_img im = {0};
            enum ss_status st = map_layer_load(c, &c->runs[i], layers[i][k], &im, names[i * PLOT_MAX_LAYERS + k], err);
            T[i][k] = im.n;
            pool[i][k] = im.pool;
            ntk[i][k] = im.n_tok;
            if (st) {
                free(names);
                return st;
            }
        }
    /* each run a block of panels (2 wide, as the demo's 2x2 grid), runs side by side */
    int bc = most >= 2 ? 2 : 1, br = (most + bc - 1) / bc;
    /* as many token labels as fit beside a map at 7 pt with a little air (~9 pt each) */
    double side_in = fmin(c->w_in / (bc * c->n_runs) - 1.3, c->h_in / br - 1.0);
    int max_labels = (int)(side_in * 72 / 9 + 1e-6);
    max_labels = max_labels < 4 ? 4 : max_labels > 32 ? 32 : max_labels;
    plot_style_page(c);
    gp_printf(g, "set multiplot layout %d,%d\n", br, bc * c->n_runs);
    for (int rr = 0; rr < br; rr++)
        for (int i = 0; i < c->n_runs; i++) {
            struct plot_run *r = &c->runs[i];
            int ntok = 0;
            char **toks = plot_tokens(r, o->seq, &ntok);
            for (int cc = 0; cc < bc; cc++) {
                int k = rr * bc + cc;
                if (k >= nl[i]) {
                    gp_printf(g, "set multiplot next\n");
                    continue;
                }
                char title[200];
                if (o->head >= 0)
                    snprintf(title, sizeof title, "%s, layer %d, head %d", r->label, layers[i][k] + 1, o->head);
                else
                    snprintf(title, sizeof title, "%s, layer %d", r->label, layers[i][k] + 1);
                if (pool[i][k] > 1)
                    snprintf(title + strlen(title), sizeof title - strlen(title), " (%dx%d pooled)",
                             pool[i][k], pool[i][k]);
                int lab = MAP_ROOM | (rr == br - 1 || k + bc >= nl[i] ? MAP_XLABEL : 0) |
                          (i == 0 && cc == 0 ? MAP_YLABEL : 0);
                map_panel(c, names[i * PLOT_MAX_LAYERS + k], T[i][k], pool[i][k], ntk[i][k],
                          ntok == ntk[i][k] ? toks : NULL, title, max_labels, lab);
            }
            plot_strings_free(toks, ntok);
        }
    gp_printf(g, "unset multiplot\n");
    free(names);
    return SS_OK;
}

/* One run's panels of the head grid: the layer, its dumped heads (at most 64) and their maps. */
struct grid_run {
    int layer, H, T, pool, ntk, first; /* first: index of its first data file in names */
    int head[64];              /* the model's number of each dumped head */
};

/* The layer the head grid shows for run r: the first of --layers, else the dumped layer
 * nearest three quarters of the depth. */
static enum ss_status grid_layer_pick(struct plot_ctx *c, struct plot_run *r, int *layer, struct ss_error *err)
{
    if (nearest_dumped(r, 0) < 0)
        return ss_fail(err, SS_ERR_INPUT, "%s has no attention maps: %s", r->path, HINT_ATTN);
    if (!c->o->layers) {
        int want = 3 * r->n_layers / 4 - 1;
        *layer = nearest_dumped(r, want < 0 ? 0 : want);
        return SS_OK;
    }
    int picked[PLOT_MAX_LAYERS], np;
    enum ss_status s = plot_run_layers(c, r, picked, &np, err);
    if (s)
        return s;
    *layer = picked[0];
    if (!has_attn(r, *layer))
        return ss_fail(err, SS_ERR_INPUT, "%s has no attention map of layer index %d: %s --layers %d", r->path,
                       *layer, HINT_ATTN, *layer);
    return SS_OK;
}

/* Fill gr for run r, writing one data file per head into names from *n_files on. */
static enum ss_status grid_run_load(struct plot_ctx *c, struct plot_run *r, struct grid_run *gr, char (*names)[32],
                                    int *n_files, struct ss_error *err)
{
    char d[64];
    int nd;
    int64_t sh[4];
    enum ss_status st = grid_layer_pick(c, r, &gr->layer, err);
    if (st)
        return st;
    attn_name(r, gr->layer, d, sizeof d);
    if ((st = runfile_shape(r->rf, d, &nd, sh, err)))
        return st;
    if (nd != 4)
        return ss_fail(err, SS_ERR_INPUT, "%s: %s is not [seq, head, query, key]", r->path, d);
    gr->H = (int)(sh[1] > 64 ? 64 : sh[1]);
    int *hd = sh[1] > 0 && sh[1] <= r->n_heads ? malloc(sizeof(int) * (size_t)sh[1]) : NULL;
    if (!hd)
        return ss_fail(err, SS_ERR_INPUT, "%s: %s holds %lld heads (the model has %d)", r->path, d, (long long)sh[1],
                       r->n_heads);
    st = runfile_dumped_heads(r->rf, d, (int)sh[1], r->n_heads, hd, err);
    memcpy(gr->head, hd, sizeof(int) * (size_t)gr->H);
    free(hd);
    gr->first = *n_files;
    for (int h = 0; !st && h < gr->H; h++) {
        struct map_img im = {0};
        st = read_map(c, r, gr->layer, h, &im, err);
        gr->T = im.n;
        gr->pool = im.pool;
        gr->ntk = im.n_tok;
        if (!st)
            st = gp_data(&c->g, im.px, (size_t)im.n * (size_t)im.n, names[(*n_files)++], err);
        free(im.px);
    }
    return st;
}

enum ss_status plot_head_grid(struct plot_ctx *c, struct ss_error *err)
{
    struct gp *g = &c->g;
    const struct plot_options *o = c->o;
    struct grid_run gr[PLOT_MAX_RUNS];
    char names[PLOT_MAX_RUNS * 64][32];
    int n_files = 0, most = 1;
    for (int i = 0; i < c->n_runs; i++) {
        enum ss_status st = grid_run_load(c, &c->runs[i], &gr[i], names, &n_files, err);
        if (st)
            return st;
        most = gr[i].H > most ? gr[i].H : most;
    }
    int bc = (int)ceil(sqrt((double)most)), br = (most + bc - 1) / bc;
    plot_style_page(c);
    char mt[256];
    int same = 1;
    for (int i = 1; i < c->n_runs; i++)
        same &= gr[i].layer == gr[0].layer;
    if (same)
        snprintf(mt, sizeof mt, "Attention maps of every head, layer %d (query down, key across)", gr[0].layer + 1);
    else
        snprintf(mt, sizeof mt, "Attention maps of every head (query down, key across)");
    gp_printf(g, "set multiplot layout %d,%d title %s\n", br, bc * c->n_runs, gp_text(g, mt));
    for (int rr = 0; rr < br; rr++)
        for (int i = 0; i < c->n_runs; i++) {
            struct plot_run *r = &c->runs[i];
            int ntok = 0;
            char **toks = plot_tokens(r, o->seq, &ntok);
            for (int cc = 0; cc < bc; cc++) {
                int h = rr * bc + cc;
                if (h >= gr[i].H) {
                    gp_printf(g, "set multiplot next\n");
                    continue;
                }
                char title[200];
                if (same)
                    snprintf(title, sizeof title, "%s, head %d", r->label, gr[i].head[h]);
                else
                    snprintf(title, sizeof title, "%s, layer %d, head %d", r->label, gr[i].layer + 1, gr[i].head[h]);
                /* token labels only where panels have room for them */
                int words = ntok == gr[i].ntk && gr[i].ntk <= 16 && c->w_in / (bc * c->n_runs) >= 1.6;
                map_panel(c, names[gr[i].first + h], gr[i].T, gr[i].pool, gr[i].ntk, words ? toks : NULL, title, 8,
                          MAP_SHARED | (rr == 0 ? MAP_TOPROW : 0));
            }
            plot_strings_free(toks, ntok);
        }
    gp_printf(g, "unset multiplot\n");
    return SS_OK;
}
