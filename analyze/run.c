/* analyze/run.c — load the statistics of a run file (never its dumps) and
 * derive the per-layer values the tables show. */
#include "analyze.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../runfile/runfile.h"
#include "../runfile/schema.h"
#include "analyze_int.h"

int analyze_format_parse(const char *s, enum analyze_format *f)
{
    static const struct { const char *name; enum analyze_format f; } names[] = {
        {"text", ANALYZE_FORMAT_TEXT}, {"csv", ANALYZE_FORMAT_CSV}, {"json", ANALYZE_FORMAT_JSON},
        {"markdown", ANALYZE_FORMAT_MARKDOWN}, {"md", ANALYZE_FORMAT_MARKDOWN},
        {"latex", ANALYZE_FORMAT_LATEX}, {"tex", ANALYZE_FORMAT_LATEX},
    };
    for (size_t i = 0; s && i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(s, names[i].name)) {
            *f = names[i].f;
            return 0;
        }
    return -1;
}

void analyze_run_free(struct analyze_run *r)
{
    double **d[] = {&r->fts, &r->fts_incl0, &r->alpha0, &r->entropy, &r->gate_mean_h, &r->gate_std_h,
                    &r->gate_min_h, &r->gate_max_h, &r->fts_layer, &r->fts_incl0_layer, &r->alpha0_layer,
                    &r->entropy_layer, &r->act_max, &r->gate_mean_l, &r->gate_std_l, &r->gate_min_l,
                    &r->gate_max_l, &r->loss_pos};
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) {
        free(*d[i]);
        *d[i] = NULL;
    }
    analyze_moe_free(r);
    free(r->top_key);
    free(r->sink_heads);
    free(r->act_where);
    r->top_key = r->sink_heads = r->act_where = NULL;
}

static enum ss_status scalar(struct runfile *rf, const char *dset, int required, double *v,
                             struct ss_error *err)
{
    *v = NAN;
    if (!required && !runfile_has(rf, dset))
        return SS_OK;
    return runfile_read_scalar(rf, dset, v, err);
}

/* Read dset with the given shape (-1: any extent) into a new array of exactly n doubles. */
static enum ss_status array(struct runfile *rf, const char *dset, int ndim, const int64_t *shape,
                            double **out, struct ss_error *err)
{
    struct rf_array a;
    enum ss_status s = runfile_read_shaped(rf, dset, ndim, shape, &a, err);
    if (s)
        return s;
    *out = a.data; /* ownership moves: rf_array_free is free(data) */
    return SS_OK;
}

/* r->loss_pos from /stats/nll [seq, pos] (NaN entries skipped: the last position). */
static enum ss_status load_loss_by_position(struct analyze_run *r, struct runfile *rf, struct ss_error *err)
{
    if (!runfile_has(rf, rf_path(RF_NLL)) || r->context_length < 2)
        return SS_OK;
    int64_t shape[2] = {-1, r->context_length};
    double *nll = NULL;
    enum ss_status s = array(rf, rf_path(RF_NLL), 2, shape, &nll, err);
    if (s)
        return s;
    int64_t nd_shape[4];
    int nd;
    if ((s = runfile_shape(rf, rf_path(RF_NLL), &nd, nd_shape, err))) {
        free(nll);
        return s;
    }
    int T = r->context_length, nb = (T + ANALYZE_LOSS_BUCKET - 1) / ANALYZE_LOSS_BUCKET;
    double *sum = calloc(2 * (size_t)nb, sizeof *sum);
    r->loss_pos = malloc(nb * sizeof *r->loss_pos);
    if (!sum || !r->loss_pos) {
        free(nll), free(sum);
        return ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", r->path);
    }
    for (int64_t q = 0; q < nd_shape[0]; q++)
        for (int t = 0; t < T; t++) {
            double v = nll[q * T + t];
            if (v == v)
                sum[t / ANALYZE_LOSS_BUCKET] += v, sum[nb + t / ANALYZE_LOSS_BUCKET] += 1;
        }
    for (int b = 0; b < nb; b++)
        r->loss_pos[b] = sum[nb + b] > 0 ? sum[b] / sum[nb + b] : NAN;
    r->n_loss = nb;
    free(nll), free(sum);
    return SS_OK;
}

/* The intervention attributes ("" / 0 when absent: files of older versions). */
static void intervention_attrs(struct analyze_run *r, struct runfile *rf)
{
    struct ss_error e;
    const struct { const char *name; char *buf; size_t n; } strs[] = {
        {"interventions", r->interventions, sizeof r->interventions},
        {"rope_scaling", r->rope_scaling, sizeof r->rope_scaling},
        {"context_sweep", r->context_sweep, sizeof r->context_sweep},
    };
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        if (runfile_attr_string(rf, NULL, strs[i].name, strs[i].buf, strs[i].n, &e) != SS_OK)
            strs[i].buf[0] = 0;
    double v;
    r->attn_window = runfile_attr_double(rf, NULL, "attn_window", &v, &e) == SS_OK && v >= 0 && v < 1e9 ? (int)v : 0;
    r->sink_tokens = runfile_attr_double(rf, NULL, "sink_tokens", &v, &e) == SS_OK && v >= 0 && v < 1e9 ? (int)v : 0;
}

/* The arrays derive fills: per-head alpha_0 and top key, per-layer means (and gates). */
static enum ss_status derived_alloc(struct analyze_run *r, struct ss_error *err)
{
    size_t L = r->n_layers ? (size_t)r->n_layers : 1, LH = (size_t)r->n_layers * r->n_heads;
    LH = LH ? LH : 1;
    r->alpha0 = malloc(sizeof(double) * LH);
    r->top_key = malloc(sizeof(int) * LH);
    r->fts_incl0_layer = malloc(sizeof(double) * L);
    r->alpha0_layer = malloc(sizeof(double) * L);
    r->entropy_layer = malloc(sizeof(double) * L);
    r->sink_heads = malloc(sizeof(int) * L);
    r->act_where = malloc(sizeof(int) * 3 * L);
    if (r->gated) {
        r->gate_mean_l = malloc(sizeof(double) * L);
        r->gate_std_l = malloc(sizeof(double) * L);
        r->gate_min_l = malloc(sizeof(double) * L);
        r->gate_max_l = malloc(sizeof(double) * L);
    }
    if (!r->alpha0 || !r->top_key || !r->fts_incl0_layer || !r->alpha0_layer || !r->entropy_layer ||
        !r->sink_heads || !r->act_where ||
        (r->gated && (!r->gate_mean_l || !r->gate_std_l || !r->gate_min_l || !r->gate_max_l)))
        return ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", r->path);
    return SS_OK;
}

/* Layer l's derived values from the datasets just read: alpha[L, H, K] (alpha_0 is entry 0),
 * top_key_pos[L, H, R] and act_top_index[L, streams, AR, 3] (NULL: absent). */
static void layer_derive(struct analyze_run *r, int l, const double *alpha, int64_t K, const double *tkp, int64_t R,
                         const double *ati, int64_t AR)
{
    int H = r->n_heads;
    double inc = 0, al = 0, en = 0, gm = 0, g2 = 0, gmin = INFINITY, gmax = -INFINITY;
    int sinks = 0;
    for (int h = 0; h < H; h++) {
        size_t i = (size_t)l * H + h;
        r->alpha0[i] = alpha[i * K];
        r->top_key[i] = tkp && R > 0 ? (int)tkp[i * R] : -1;
        inc += r->fts_incl0 ? r->fts_incl0[i] : NAN;
        al += r->alpha0[i];
        en += r->entropy[i];
        sinks += r->alpha0[i] > r->sink_epsilon;
        if (r->gated) {
            gm += r->gate_mean_h[i];
            /* every head has the same number of gate values: the pooled second moment is the mean */
            g2 += r->gate_std_h[i] * r->gate_std_h[i] + r->gate_mean_h[i] * r->gate_mean_h[i];
            gmin = fmin(gmin, r->gate_min_h[i]);
            gmax = fmax(gmax, r->gate_max_h[i]);
        }
    }
    r->fts_incl0_layer[l] = H ? inc / H : NAN;
    r->alpha0_layer[l] = H ? al / H : NAN;
    r->entropy_layer[l] = H ? en / H : NAN;
    r->sink_heads[l] = sinks;
    if (r->gated) {
        r->gate_mean_l[l] = gm / H;
        double var = g2 / H - (gm / H) * (gm / H);
        r->gate_std_l[l] = sqrt(var > 0 ? var : 0);
        r->gate_min_l[l] = gmin;
        r->gate_max_l[l] = gmax;
    }
    for (int c = 0; c < 3; c++)
        r->act_where[l * 3 + c] =
            ati && AR > 0 ? (int)ati[(((size_t)l * ANALYZE_STREAMS + ANALYZE_STREAM_RESID) * AR) * 3 + c] : -1;
}

static enum ss_status load_stats(struct analyze_run *r, struct runfile *rf, struct ss_error *err)
{
    int L = r->n_layers, H = r->n_heads;
    int64_t lh[2] = {L, H}, l1[1] = {L}, ls[2] = {L, ANALYZE_STREAMS}, lhk[3] = {L, H, -1};
    enum ss_status s;
    double *alpha = NULL, *tkp = NULL, *ati = NULL;
    if ((s = array(rf, rf_path(RF_FIRST_TOKEN_SHARE), 2, lh, &r->fts, err)) ||
        (s = array(rf, rf_path(RF_FIRST_TOKEN_SHARE_LAYER), 1, l1, &r->fts_layer, err)) ||
        (s = array(rf, rf_path(RF_SINK_ALPHA), 3, lhk, &alpha, err)) ||
        (s = array(rf, rf_path(RF_ATTN_ENTROPY), 2, lh, &r->entropy, err)) ||
        (s = array(rf, rf_path(RF_ACT_MAX), 2, ls, &r->act_max, err)))
        goto done;
    if (runfile_has(rf, rf_path(RF_FIRST_TOKEN_SHARE_INCL0)) &&
        (s = array(rf, rf_path(RF_FIRST_TOKEN_SHARE_INCL0), 2, lh, &r->fts_incl0, err)))
        goto done;
    int64_t lhr[3] = {L, H, -1};
    if (runfile_has(rf, rf_path(RF_TOP_KEY_POS)) && (s = array(rf, rf_path(RF_TOP_KEY_POS), 3, lhr, &tkp, err)))
        goto done;
    int64_t lsac[4] = {L, ANALYZE_STREAMS, -1, 3};
    if (runfile_has(rf, rf_path(RF_ACT_TOP_INDEX)) &&
        (s = array(rf, rf_path(RF_ACT_TOP_INDEX), 4, lsac, &ati, err)))
        goto done;
    r->gated = runfile_has(rf, rf_path(RF_GATE_MEAN));
    if (r->gated && ((s = array(rf, rf_path(RF_GATE_MEAN), 2, lh, &r->gate_mean_h, err)) ||
                     (s = array(rf, rf_path(RF_GATE_STD), 2, lh, &r->gate_std_h, err)) ||
                     (s = array(rf, rf_path(RF_GATE_MIN), 2, lh, &r->gate_min_h, err)) ||
                     (s = array(rf, rf_path(RF_GATE_MAX), 2, lh, &r->gate_max_h, err))))
        goto done;

    /* the sink_key axis: alpha_0 is entry 0 of each [layer, head] row */
    int64_t nd_shape[4];
    int nd;
    if ((s = runfile_shape(rf, rf_path(RF_SINK_ALPHA), &nd, nd_shape, err)))
        goto done;
    int64_t K = nd_shape[2];
    if (K < 1) {
        s = ss_fail(err, SS_ERR_INPUT, "%s: dataset /stats/sink_alpha has an empty sink_key axis", r->path);
        goto done;
    }
    int64_t R = 0, AR = 0;
    if (tkp && (s = runfile_shape(rf, rf_path(RF_TOP_KEY_POS), &nd, nd_shape, err)) == SS_OK)
        R = nd_shape[2];
    if (s)
        goto done;
    if (ati && (s = runfile_shape(rf, rf_path(RF_ACT_TOP_INDEX), &nd, nd_shape, err)) == SS_OK)
        AR = nd_shape[2];
    if (s)
        goto done;

    if ((s = derived_alloc(r, err)))
        goto done;
    for (int l = 0; l < L; l++)
        layer_derive(r, l, alpha, K, tkp, R, ati, AR);
done:
    free(alpha);
    free(tkp);
    free(ati);
    return s;
}

enum ss_status analyze_run_load(struct analyze_run *r, const char *path, const char *label,
                                struct ss_error *err)
{
    memset(r, 0, sizeof *r);
    r->router_entropy_norm = r->learned_sink_share = NAN;
    snprintf(r->path, sizeof r->path, "%s", path);
    if (label) {
        snprintf(r->label, sizeof r->label, "%s", label);
    } else {
        const char *b = strrchr(path, '/');
        snprintf(r->label, sizeof r->label, "%s", b ? b + 1 : path);
        size_t n = strlen(r->label);
        if (n > 3 && !strcmp(r->label + n - 3, ".h5"))
            r->label[n - 3] = 0;
    }
    struct runfile *rf;
    struct rf_info info;
    enum ss_status s = runfile_open_run(&rf, &info, path, err);
    if (s)
        return s;
    r->n_layers = info.n_layers;
    r->n_heads = info.n_heads;
    r->n_kv_heads = info.n_kv_heads;
    r->context_length = info.context_length;
    r->n_seqs = info.n_seqs;
    snprintf(r->model_type, sizeof r->model_type, "%s", info.model_type);
    snprintf(r->model_path, sizeof r->model_path, "%s", info.model_path);
    snprintf(r->gate_kind, sizeof r->gate_kind, "%s", info.gate_kind);
    snprintf(r->gate_mode, sizeof r->gate_mode, "%s", info.gate_mode);
    snprintf(r->bos, sizeof r->bos, "%s", info.bos);
    snprintf(r->input_source, sizeof r->input_source, "%s", info.input_source);
    r->sink_epsilon = info.sink_epsilon;

    if ((s = scalar(rf, rf_path(RF_SUMMARY_FIRST_TOKEN_SHARE), 1, &r->first_token_share, err)) ||
        (s = scalar(rf, rf_path(RF_SUMMARY_FIRST_TOKEN_SHARE_INCL0), 0, &r->first_token_share_incl0, err)) ||
        (s = scalar(rf, rf_path(RF_SUMMARY_MAX_ACTIVATION_MEAN), 1, &r->max_activation_mean, err)) ||
        (s = scalar(rf, rf_path(RF_SUMMARY_MAX_ACTIVATION), 1, &r->max_activation, err)) ||
        (s = scalar(rf, rf_path(RF_SUMMARY_GATE_MEAN), 0, &r->gate_mean, err)) ||
        (s = scalar(rf, rf_path(RF_SUMMARY_PERPLEXITY), 1, &r->perplexity, err)) ||
        (s = scalar(rf, rf_path(RF_SUMMARY_SINK_RATE), 1, &r->sink_rate, err)) ||
        (s = scalar(rf, rf_path(RF_SUMMARY_N_TOKENS), 0, &r->n_tokens, err)))
        goto done;
    intervention_attrs(r, rf);
    s = load_stats(r, rf, err);
    if (!s)
        s = load_loss_by_position(r, rf, err);
    if (!s)
        s = analyze_load_moe(r, rf, err);
done:
    runfile_close(rf);
    if (s)
        analyze_run_free(r);
    return s;
}
