/* probes/probes.c — the run object: statistics and dumps as hook subscribers,
 * and the per-sequence datasets of the run file (docs/SCHEMA.md). */
#include "probes.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/clock.h"
#include "../runfile/h5write.h"
#include "../runfile/schema.h"

/* A per-sequence dataset of the current target file (seq is axis 0). */
struct row_dset {
    char path[64];
    hid_t id;
    hid_t mtype;               /* memory type of a row */
    int ndim;
    int64_t shape[4];
};

struct probes {
    struct probes_opts o;
    unsigned char *layer_sel;  /* [L] */
    int *head_slot;            /* [H] position among dumped heads, or -1 */
    int n_heads_dumped;
    struct seq_stats seq;
    struct run_stats run;
    struct h5w *w;             /* target of rows and dumps */
    int row;
    const int32_t *tokens;
    struct row_dset *rows;     /* datasets of w */
    int n_rows;
    int rows_borrowed;         /* rows, w and d_* are another instance's (probes_share) */
    struct probes *totals;     /* whose run totals a finished sequence folds into (NULL: this one's) */
    int d_tokens, d_text, d_nll, d_logits; /* indices into rows, -1 if absent */
    int *d_attn, *d_gates, *d_hidden;      /* [L] indices, -1 if absent */
    float *attn_map;           /* [T, T] assembly of one head's map (attention dumps only) */
    float *nll_row;            /* [T] */
    double t_hooks;            /* wall seconds inside on_event */
};

int probes_dump_parse(const char *list)
{
    static const char *const names[] = {"attention", "gates", "hidden", "logits"};
    int mask = 0;
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        int found = -1;
        for (int i = 0; i < 4; i++)
            if (strlen(names[i]) == n && !strncmp(p, names[i], n))
                found = i;
        if (found < 0)
            return -1;
        mask |= 1 << found;
        p += n;
        if (*p == ',')
            p++;
    }
    return mask;
}

void probes_release(struct probes *p)
{
    for (int i = 0; p && !p->rows_borrowed && i < p->n_rows; i++) {
        H5Dclose(p->rows[i].id);
        H5Tclose(p->rows[i].mtype);
    }
    if (p) {
        p->n_rows = 0;
        p->d_tokens = p->d_text = p->d_nll = p->d_logits = -1;
    }
}

void probes_free(struct probes *p)
{
    if (!p)
        return;
    probes_release(p);
    if (!p->rows_borrowed)
        free(p->rows);
    seq_stats_free(&p->seq);
    run_stats_free(&p->run);
    free(p->layer_sel);
    free(p->head_slot);
    free(p->d_attn);
    free(p->d_gates);
    free(p->d_hidden);
    free(p->attn_map);
    free(p->nll_row);
    free(p);
}

enum ss_status probes_new(struct probes **out, const struct probes_opts *opts, struct ss_error *err)
{
    const struct probes_shape *sh = &opts->shape;
    struct probes *p = calloc(1, sizeof *p);
    if (!p)
        return ss_fail(err, SS_ERR_NOMEM, "probes: out of memory");
    p->o = *opts;
    int L = sh->n_layers, H = sh->n_heads;
    p->layer_sel = malloc(L ? L : 1);
    p->head_slot = malloc(H * sizeof *p->head_slot);
    p->d_attn = malloc(L * sizeof(int));
    p->d_gates = malloc(L * sizeof(int));
    p->d_hidden = malloc(L * sizeof(int));
    p->nll_row = malloc(sh->T * sizeof *p->nll_row);
    enum ss_status s = SS_OK;
    if (!p->layer_sel || !p->head_slot || !p->d_attn || !p->d_gates || !p->d_hidden || !p->nll_row) {
        probes_free(p);
        return ss_fail(err, SS_ERR_NOMEM, "probes: out of memory");
    }
    p->d_tokens = p->d_text = p->d_nll = p->d_logits = -1; /* no datasets until probes_create_datasets */
    for (int l = 0; l < L; l++) {
        p->layer_sel[l] = opts->layer_sel ? opts->layer_sel[l] : 1;
        p->d_attn[l] = p->d_gates[l] = p->d_hidden[l] = -1;
    }
    for (int h = 0; h < H; h++)
        p->head_slot[h] = opts->head_sel ? -1 : h;
    p->n_heads_dumped = opts->head_sel ? opts->n_head_sel : H;
    for (int i = 0; opts->head_sel && i < opts->n_head_sel; i++)
        p->head_slot[opts->head_sel[i]] = i;
    p->o.layer_sel = NULL;
    p->o.head_sel = NULL;
    if (opts->stats) {
        s = seq_stats_init(&p->seq, sh, err);
        if (!s)
            s = run_stats_init(&p->run, sh, opts->sink_epsilon, err);
    }
    if (!s && (opts->dump & PROBES_DUMP_ATTENTION)) {
        p->attn_map = malloc((size_t)sh->T * sh->T * sizeof *p->attn_map);
        if (!p->attn_map)
            s = ss_fail(err, SS_ERR_NOMEM, "probes: out of memory for a %d x %d attention map", sh->T, sh->T);
    }
    if (s) {
        probes_free(p);
        return s;
    }
    *out = p;
    return SS_OK;
}

const struct seq_stats *probes_seq_stats(const struct probes *p)
{
    return &p->seq;
}

const struct run_stats *probes_run_stats(const struct probes *p)
{
    return &p->run;
}

void probes_reset_totals(struct probes *p)
{
    if (!p->o.stats)
        return;
    struct run_stats fresh;
    if (run_stats_init(&fresh, &p->o.shape, p->o.sink_epsilon, NULL) == SS_OK) {
        run_stats_free(&p->run);
        p->run = fresh;
    }
}

/* ---- hook callbacks ----------------------------------------------------------- */

static struct row_dset *row_of(struct probes *p, int i)
{
    return i >= 0 ? &p->rows[i] : NULL;
}

/* Write row p->row of dataset i from data; extra axes given by sub_start/sub_count
 * (axes 1.. of the dataset; NULL = the whole row). */
static int write_row(struct probes *p, int i, const int64_t *sub_start, const int64_t *sub_count,
                     const void *data, struct ss_error *err)
{
    struct row_dset *r = row_of(p, i);
    if (!r || !p->w) {
        ss_fail(err, SS_ERR_INTERNAL, "probes: no dataset to write into (probes_create_datasets not called)");
        return 1;
    }
    int64_t start[4] = {p->row}, count[4] = {1};
    for (int a = 1; a < r->ndim; a++) {
        start[a] = sub_start ? sub_start[a - 1] : 0;
        count[a] = sub_count ? sub_count[a - 1] : r->shape[a];
    }
    return h5w_write_slab(p->w, r->id, r->mtype, start, count, data, err) != SS_OK;
}

/* Attention tile into the head's map; the map is written when its last row arrives. */
static int dump_attention(struct probes *p, const struct hook_event *ev, struct ss_error *err)
{
    int T = p->o.shape.T, slot = p->head_slot[ev->head], nq = (int)ev->shape[0];
    int64_t nk = ev->shape[1];
    if (slot < 0 || p->d_attn[ev->layer] < 0)
        return 0;
    for (int i = 0; i < nq; i++) {
        float *dst = p->attn_map + (size_t)(ev->q0 + i) * T;
        memcpy(dst, ev->data + (size_t)i * nk, nk * sizeof *dst);
        memset(dst + nk, 0, (T - nk) * sizeof *dst);
    }
    if (ev->q0 + nq < T)
        return 0;
    int64_t st[3] = {slot, 0, 0}, ct[3] = {1, T, T};
    return write_row(p, p->d_attn[ev->layer], st, ct, p->attn_map, err);
}

static int handle_event(struct probes *p, const struct hook_event *ev, struct ss_error *err);

static int on_event(void *user, const struct hook_event *ev, struct ss_error *err)
{
    struct probes *p = user;
    double t0 = clock_now_s();
    int rc = handle_event(p, ev, err);
    p->t_hooks += clock_now_s() - t0;
    return rc;
}

double probes_hook_seconds(const struct probes *p)
{
    return p->t_hooks;
}

static int handle_event(struct probes *p, const struct hook_event *ev, struct ss_error *err)
{
    /* SIGINT/SIGTERM: checked at every event (attention fires per tile), not once per
     * layer, so one long sequence stops within a fraction of a second */
    if (p->o.stop && *p->o.stop) {
        ss_fail(err, SS_ERR_INTERRUPTED, "interrupted");
        return 1;
    }
    if (p->o.stats && seq_stats_event(&p->seq, ev, err) != SS_OK)
        return 1;
    int l = ev->layer;
    if (ev->point != HOOK_LOGITS && (l < 0 || l >= p->o.shape.n_layers ||
                                     (ev->point == HOOK_ATTN_PROBS && (ev->head < 0 || ev->head >= p->o.shape.n_heads)))) {
        ss_fail(err, SS_ERR_INTERNAL, "probes: %s event for layer %d head %d", hook_point_name(ev->point), l, ev->head);
        return 1;
    }
    switch (ev->point) {
    case HOOK_ATTN_PROBS:
        if (p->attn_map && dump_attention(p, ev, err))
            return 1;
        break;
    case HOOK_GATE:
        if ((p->o.dump & PROBES_DUMP_GATES) && p->d_gates[l] >= 0 && write_row(p, p->d_gates[l], NULL, NULL, ev->data, err))
            return 1;
        break;
    case HOOK_RESID_POST:
        if ((p->o.dump & PROBES_DUMP_HIDDEN) && p->d_hidden[l] >= 0 &&
            write_row(p, p->d_hidden[l], NULL, NULL, ev->data, err))
            return 1;
        break;
    case HOOK_LOGITS:
        if (p->d_logits >= 0) {
            int64_t st[2] = {ev->q0, 0}, ct[2] = {ev->shape[0], ev->shape[1]};
            if (write_row(p, p->d_logits, st, ct, ev->data, err))
                return 1;
        }
        break;
    default:
        break;
    }
    return 0;
}

/* The statistics' hook points come from the list of statistic modules (probes/stats.c);
 * the dumps and the stop flag add theirs. */
enum ss_status probes_subscribe(struct probes *p, struct hook_set *hooks, struct ss_error *err)
{
    uint32_t points = p->o.stats ? probes_stat_points(&p->o.shape) : 0;
    points |= 1u << HOOK_RESID_POST;
    points |= 1u << HOOK_LOGITS;     /* the forward skips the LM head when nobody wants logits */
    points |= 1u << HOOK_ATTN_PROBS; /* fires per attention tile: where the stop flag is seen in time */
    if ((p->o.dump & PROBES_DUMP_GATES) && p->o.shape.gate_dim > 0)
        points |= 1u << HOOK_GATE;
    for (int pt = 0; pt < HOOK_COUNT; pt++)
        if ((points & (1u << pt)) && hook_set_add(hooks, hook_point_name(pt), on_event, p, err) != SS_OK)
            return err ? err->status : SS_ERR_INTERNAL;
    return SS_OK;
}

/* ---- datasets ------------------------------------------------------------------- */

static enum ss_status write_dims(struct probes *p, struct h5w *w, int n_seqs, struct ss_error *err)
{
    const struct probes_shape *c = &p->o.shape;
    double bins[PROBES_GATE_BINS];
    for (int i = 0; i < PROBES_GATE_BINS; i++)
        bins[i] = (i + 0.5) / PROBES_GATE_BINS;
    double *heads = malloc(c->n_heads * sizeof *heads);
    if (!heads)
        return ss_fail(err, SS_ERR_NOMEM, "probes: out of memory");
    int ns = 0;
    for (int h = 0; h < c->n_heads; h++)
        if (p->head_slot[h] >= 0)
            heads[p->head_slot[h]] = h, ns++;
    /* the extents and values of the schema's scales (runfile/schema.h: names, long_name) */
    struct {
        const char *name;
        int64_t n;
        const double *values;
    } dims[] = {
        {"seq", n_seqs, NULL},
        {"pos", c->T, NULL},
        {"layer", c->n_layers, NULL},
        {"head", c->n_heads, NULL},
        {"sink_key", PROBES_SINK_KEYS, NULL},
        {"rank", PROBES_TOP_RANKS, NULL},
        {"act_rank", PROBES_ACT_RANKS, NULL},
        {"gate_bin", PROBES_GATE_BINS, bins},
        {"gate_threshold", PROBES_GATE_THRESHOLDS, probes_gate_thresholds},
        {"out_threshold", PROBES_OUT_THRESHOLDS, probes_out_thresholds},
        {"stream", PROBES_STREAMS, NULL},
        {"coord", 3, NULL},
        {"query", c->T, NULL},
        {"key", c->T, NULL},
        {"attn_head", ns, heads},
        {"gate_dim", c->gate_dim > 0 ? c->gate_dim : 1, NULL},
        {"hidden_dim", c->hidden, NULL},
        {"vocab", c->vocab, NULL},
        {"expert", c->n_experts, NULL}, /* MoE checkpoints only */
    };
    enum ss_status s = SS_OK;
    for (size_t i = 0; i < sizeof dims / sizeof *dims && !s; i++) {
        const struct rf_dim *sd = rf_dim_find(dims[i].name);
        if ((!strcmp(dims[i].name, "attn_head") && ns == c->n_heads) || dims[i].n <= 0)
            continue; /* all heads: the dumps use "head"; no experts: a dense checkpoint */
        s = h5w_dim(w, dims[i].name, dims[i].n, dims[i].values, sd->long_name, "1", err);
    }
    for (int i = 0; i < rf_n_dims && !s; i++) { /* categorical axes name their values */
        hid_t ds = rf_dims[i].flag_meanings ? H5Dopen2(w->file, rf_dims[i].name, H5P_DEFAULT) : -1;
        if (ds >= 0) {
            s = h5w_attr_string(w, ds, "flag_meanings", rf_dims[i].flag_meanings, err);
            H5Dclose(ds);
        }
    }
    free(heads);
    return s;
}

/* Dataset sid of the schema written row by row (a sequence per row): path NULL = the schema's
 * (a per-layer dump passes its layer's), dims NULL = the schema's. */
static enum ss_status add_row_dset(struct probes *p, struct h5w *w, enum rf_id sid, const char *path,
                                   const char *const *dims, hid_t ftype, hid_t mtype, const int64_t *shape,
                                   const int64_t *chunk, int gzip, int *index, struct ss_error *err)
{
    const struct rf_dataset *sd = &rf_schema[sid];
    struct row_dset *r = &p->rows[p->n_rows];
    hid_t id;
    path = path ? path : sd->path;
    enum ss_status s = h5w_dataset(w, path, ftype, sd->ndim, dims ? dims : sd->dims, shape, chunk, gzip,
                                   sd->long_name, sd->units, &id, err);
    if (s)
        return s;
    snprintf(r->path, sizeof r->path, "%s", path);
    r->id = id;
    r->mtype = H5Tcopy(mtype);
    r->ndim = sd->ndim;
    memcpy(r->shape, shape, sd->ndim * sizeof *shape);
    *index = p->n_rows++;
    return SS_OK;
}

enum ss_status probes_create_datasets(struct probes *p, struct h5w *w, int n_seqs, int with_text,
                                      struct ss_error *err)
{
    const struct probes_shape *c = &p->o.shape;
    int L = c->n_layers, T = c->T;
    probes_release(p);
    if (!p->rows_borrowed)
        free(p->rows);
    p->rows_borrowed = 0;
    p->rows = calloc(3 * L + 4, sizeof *p->rows);
    if (!p->rows)
        return ss_fail(err, SS_ERR_NOMEM, "probes: out of memory");
    p->w = w;
    p->d_tokens = p->d_text = p->d_nll = p->d_logits = -1;
    for (int l = 0; l < L; l++)
        p->d_attn[l] = p->d_gates[l] = p->d_hidden[l] = -1;
    enum ss_status s = write_dims(p, w, n_seqs, err);
    int64_t shape[4] = {n_seqs, T};
    if (!s)
        s = add_row_dset(p, w, RF_TOKENS, NULL, NULL, H5T_STD_I32LE, H5T_NATIVE_INT32, shape, NULL, 0,
                         &p->d_tokens, err);
    hid_t str = h5w_string_type(H5W_TEXT_BYTES);
    if (!s && with_text)
        s = add_row_dset(p, w, RF_TOKEN_TEXT, NULL, NULL, str, str, shape, NULL, 0, &p->d_text, err);
    H5Tclose(str);
    if (!s && p->o.stats)
        s = add_row_dset(p, w, RF_NLL, NULL, NULL, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, shape, NULL, 0, &p->d_nll,
                         err);
    hid_t dt = p->o.dump_f16 ? h5w_half_type() : H5Tcopy(H5T_IEEE_F32LE);
    char path[64];
    for (int l = 0; l < L && !s; l++) {
        if (!p->layer_sel[l])
            continue;
        if (p->o.dump & PROBES_DUMP_ATTENTION) {
            const char *d[4] = {"seq", p->n_heads_dumped == c->n_heads ? "head" : "attn_head", "query", "key"};
            int64_t sh[4] = {n_seqs, p->n_heads_dumped, T, T};
            int64_t rows = T > 8192 ? (1 << 26) / T : T; /* one map per chunk while under 256 MiB */
            int64_t ch[4] = {1, 1, rows, T};
            rf_layer_path(RF_ATTENTION, l, L, path, sizeof path);
            s = add_row_dset(p, w, RF_ATTENTION, path, d, dt, H5T_NATIVE_FLOAT, sh, ch, 1, &p->d_attn[l], err);
            if (!s) { /* the heads stored, in order */
                int *heads = malloc(p->n_heads_dumped * sizeof *heads);
                for (int h = 0; heads && h < c->n_heads; h++)
                    if (p->head_slot[h] >= 0)
                        heads[p->head_slot[h]] = h;
                if (heads)
                    s = h5w_attr_ints(w, p->rows[p->d_attn[l]].id, "heads", heads, p->n_heads_dumped, err);
                free(heads);
            }
        }
        if (!s && (p->o.dump & PROBES_DUMP_GATES) && c->gate_dim > 0) {
            int64_t sh[4] = {n_seqs, T, c->n_heads, c->gate_dim}, ch[4] = {1, T, c->n_heads, c->gate_dim};
            rf_layer_path(RF_GATES, l, L, path, sizeof path);
            s = add_row_dset(p, w, RF_GATES, path, NULL, dt, H5T_NATIVE_FLOAT, sh, ch, 0, &p->d_gates[l], err);
        }
        if (!s && (p->o.dump & PROBES_DUMP_HIDDEN)) {
            int64_t sh[3] = {n_seqs, T, c->hidden};
            rf_layer_path(RF_HIDDEN, l, L, path, sizeof path);
            s = add_row_dset(p, w, RF_HIDDEN, path, NULL, dt, H5T_NATIVE_FLOAT, sh, NULL, 0, &p->d_hidden[l], err);
        }
    }
    if (!s && (p->o.dump & PROBES_DUMP_LOGITS)) {
        int64_t sh[3] = {n_seqs, T, c->vocab};
        s = add_row_dset(p, w, RF_LOGITS, NULL, NULL, dt, H5T_NATIVE_FLOAT, sh, NULL, 0, &p->d_logits, err);
    }
    H5Tclose(dt);
    return s;
}

enum ss_status probes_seq_begin(struct probes *p, struct h5w *w, int row, const int32_t *tokens,
                                struct ss_error *err)
{
    if (w != p->w)
        return ss_fail(err, SS_ERR_INTERNAL, "probes: sequence target is not the file whose datasets were made");
    p->row = row;
    p->tokens = tokens;
    if (p->o.stats)
        seq_stats_reset(&p->seq, tokens);
    return SS_OK;
}

enum ss_status probes_seq_end(struct probes *p, int seq, char *const *pieces, struct ss_error *err)
{
    if (p->o.stats && seq_stats_check(&p->seq, err) != SS_OK)
        return err ? err->status : SS_ERR_INTERNAL;
    if (write_row(p, p->d_tokens, NULL, NULL, p->tokens, err))
        return err ? err->status : SS_ERR_IO;
    if (p->d_text >= 0 && pieces) {
        char *v = malloc((size_t)p->o.shape.T * H5W_TEXT_BYTES);
        if (!v)
            return ss_fail(err, SS_ERR_NOMEM, "probes: out of memory");
        for (int t = 0; t < p->o.shape.T; t++)
            h5w_text_copy(v + (size_t)t * H5W_TEXT_BYTES, H5W_TEXT_BYTES, pieces[t] ? pieces[t] : "");
        int bad = write_row(p, p->d_text, NULL, NULL, v, err);
        free(v);
        if (bad)
            return err ? err->status : SS_ERR_IO;
    }
    if (p->o.stats) {
        for (int t = 0; t < p->o.shape.T; t++)
            p->nll_row[t] = (float)seq_stats_nll(&p->seq)[t];
        if (write_row(p, p->d_nll, NULL, NULL, p->nll_row, err))
            return err ? err->status : SS_ERR_IO;
        run_stats_fold(p->totals ? &p->totals->run : &p->run, &p->seq, seq);
    }
    return SS_OK;
}

void probes_share(struct probes *p, struct probes *owner)
{
    int L = p->o.shape.n_layers;
    probes_release(p);
    if (!p->rows_borrowed)
        free(p->rows);
    p->rows = owner->rows, p->n_rows = owner->n_rows, p->rows_borrowed = 1;
    p->w = owner->w;
    p->d_tokens = owner->d_tokens, p->d_text = owner->d_text, p->d_nll = owner->d_nll;
    p->d_logits = owner->d_logits;
    memcpy(p->d_attn, owner->d_attn, L * sizeof *p->d_attn);
    memcpy(p->d_gates, owner->d_gates, L * sizeof *p->d_gates);
    memcpy(p->d_hidden, owner->d_hidden, L * sizeof *p->d_hidden);
    p->totals = owner;
}

enum ss_status probes_write_results(struct probes *p, struct h5w *w, struct ss_error *err)
{
    if (!p->o.stats)
        return SS_OK;
    struct probes_results res;
    enum ss_status s = probes_results_compute(&p->run, &res, err);
    for (int i = 0; i < res.n && !s; i++) {
        const struct probes_dataset *d = &res.d[i];
        int is_int = d->is_int;
        size_t n = 1;
        for (int a = 0; a < d->ndim; a++)
            n *= d->shape[a];
        int32_t *iv = NULL;
        if (is_int) {
            iv = malloc(n * sizeof *iv);
            if (!iv) {
                s = ss_fail(err, SS_ERR_NOMEM, "probes: out of memory");
                break;
            }
            for (size_t k = 0; k < n; k++)
                iv[k] = (int32_t)d->data[k];
        }
        s = h5w_write(w, d->path, is_int ? H5T_STD_I32LE : H5T_IEEE_F64LE, is_int ? H5T_NATIVE_INT32 : H5T_NATIVE_DOUBLE,
                      d->ndim, d->dims, d->shape, is_int ? (void *)iv : (void *)d->data, d->long_name, d->units, err);
        free(iv);
    }
    if (!s) {
        hid_t ds = H5Dopen2(w->file, rf_path(RF_SINK_RATE), H5P_DEFAULT);
        if (ds >= 0) {
            s = h5w_attr_double(w, ds, "sink_epsilon", p->o.sink_epsilon, err);
            H5Dclose(ds);
        }
    }
    if (res.d)
        probes_results_free(&res);
    return s;
}

/* ---- --resume: fold a record and copy its rows (see probes/record.c) ----------- */

static enum ss_status copy_row(struct probes *p, struct h5w *rec, const struct row_dset *r, int seq,
                               struct ss_error *err)
{
    hid_t src = H5Dopen2(rec->file, r->path, H5P_DEFAULT);
    if (src < 0)
        return ss_fail(err, SS_ERR_INPUT, "%s: dataset %s missing from the record", rec->path, r->path);
    size_t n = 1;
    for (int a = 1; a < r->ndim; a++)
        n *= (size_t)r->shape[a];
    hid_t sp = H5Dget_space(src);
    int same = H5Sget_simple_extent_npoints(sp) == (hssize_t)n;
    size_t esz = H5Tget_size(r->mtype);
    void *buf = same ? malloc(n * esz) : NULL;
    enum ss_status s = SS_OK;
    if (!same)
        s = ss_fail(err, SS_ERR_INPUT, "%s: dataset %s has the wrong size", rec->path, r->path);
    else if (!buf)
        s = ss_fail(err, SS_ERR_NOMEM, "probes: out of memory copying %s", r->path);
    else if (H5Dread(src, r->mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
        s = ss_fail(err, SS_ERR_INPUT, "%s: cannot read %s", rec->path, r->path);
    else {
        p->row = seq;
        int i = (int)(r - p->rows);
        if (write_row(p, i, NULL, NULL, buf, err))
            s = err ? err->status : SS_ERR_IO;
    }
    free(buf);
    H5Sclose(sp);
    H5Dclose(src);
    return s;
}

enum ss_status probes_record_load(struct probes *p, struct h5w *rec, int seq, struct ss_error *err)
{
    if (p->o.stats) {
        hid_t ds = H5Dopen2(rec->file, "/record/acc", H5P_DEFAULT);
        hid_t sp = ds >= 0 ? H5Dget_space(ds) : H5I_INVALID_HID;
        int ok = ds >= 0 && H5Sget_simple_extent_npoints(sp) == (hssize_t)p->seq.n &&
                 H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, p->seq.buf) >= 0;
        if (sp >= 0)
            H5Sclose(sp);
        if (ds >= 0)
            H5Dclose(ds);
        if (!ok)
            return ss_fail(err, SS_ERR_INPUT, "%s: /record/acc missing or of the wrong size", rec->path);
        run_stats_fold(&p->run, &p->seq, seq);
    }
    for (int i = 0; i < p->n_rows; i++) {
        enum ss_status s = copy_row(p, rec, &p->rows[i], seq, err);
        if (s)
            return s;
    }
    return SS_OK;
}
