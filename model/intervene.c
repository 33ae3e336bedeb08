/* model/intervene.c — massive-activation ablation and per-layer constant gates
 * as edits, with their first-pass scans (model/intervene.h). */
#include "intervene.h"

#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

int massive_flag(const float *x, int n, double abs_min, double ratio, unsigned char *flag, float *scratch)
{
    for (int i = 0; i < n; i++)
        scratch[i] = fabsf(x[i]);
    qsort(scratch, n, sizeof *scratch, cmp_float);
    double med = n % 2 ? scratch[n / 2] : 0.5 * ((double)scratch[n / 2 - 1] + scratch[n / 2]);
    int k = 0;
    for (int i = 0; i < n; i++) {
        double a = fabs((double)x[i]);
        flag[i] = a >= abs_min && a >= ratio * med;
        k += flag[i];
    }
    return k;
}

/* ---- massive scan ------------------------------------------------------------- */

enum ss_status massive_scan_init(struct massive_scan *s, int n_layers, int hidden, double abs_min, double ratio,
                                 struct ss_error *err)
{
    memset(s, 0, sizeof *s);
    s->n_layers = n_layers, s->hidden = hidden, s->abs_min = abs_min, s->ratio = ratio;
    s->top_ratio_layer = -1;
    s->sum = calloc((size_t)n_layers * hidden, sizeof *s->sum);
    s->count = calloc((size_t)n_layers * hidden, sizeof *s->count);
    s->scratch = malloc(hidden * sizeof *s->scratch);
    s->flag = malloc(hidden);
    if (!s->sum || !s->count || !s->scratch || !s->flag) {
        massive_scan_free(s);
        return ss_fail(err, SS_ERR_NOMEM, "massive-activation scan: out of memory");
    }
    return SS_OK;
}

void massive_scan_free(struct massive_scan *s)
{
    free(s->sum), free(s->count), free(s->scratch), free(s->flag);
    memset(s, 0, sizeof *s);
}

static int massive_scan_hook(void *user, const struct hook_event *ev, struct ss_error *err)
{
    struct massive_scan *s = user;
    int H = s->hidden;
    double *sum = s->sum + (size_t)ev->layer * H, *cnt = s->count + (size_t)ev->layer * H;
    for (int t = 0; t < ev->T; t++) {
        const float *x = ev->data + (size_t)t * H;
        int k = massive_flag(x, H, s->abs_min, s->ratio, s->flag, s->scratch);
        /* scratch holds |x| sorted: how close the vector came to the criterion */
        double med = H % 2 ? s->scratch[H / 2] : 0.5 * ((double)s->scratch[H / 2 - 1] + s->scratch[H / 2]);
        if (s->scratch[H - 1] >= s->abs_min && med > 0 && s->scratch[H - 1] / med > s->top_ratio)
            s->top_ratio = s->scratch[H - 1] / med, s->top_ratio_layer = ev->layer;
        if (!k)
            continue;
        for (int d = 0; d < H; d++)
            if (s->flag[d])
                sum[d] += x[d], cnt[d] += 1;
    }
    return 0;
}

enum ss_status massive_scan_subscribe(struct massive_scan *s, struct hook_set *h, struct ss_error *err)
{
    return hook_set_add(h, "resid_post", massive_scan_hook, s, err);
}

double massive_scan_count(const struct massive_scan *s, int l)
{
    double n = 0;
    for (int d = 0; d < s->hidden; d++)
        n += s->count[(size_t)l * s->hidden + d];
    return n;
}

int massive_scan_first_layer(const struct massive_scan *s)
{
    for (int l = 0; l < s->n_layers; l++)
        if (massive_scan_count(s, l) > 0)
            return l;
    return -1;
}

/* ---- massive ablation --------------------------------------------------------- */

enum ss_status massive_ablation_init(struct massive_ablation *a, const struct massive_scan *s, int layer, int zero,
                                     struct ss_error *err)
{
    memset(a, 0, sizeof *a);
    a->layer = layer, a->zero = zero, a->abs_min = s->abs_min, a->ratio = s->ratio, a->hidden = s->hidden;
    a->mean = calloc(s->hidden, sizeof *a->mean);
    a->scratch = malloc(s->hidden * sizeof *a->scratch);
    a->flag = malloc(s->hidden);
    if (!a->mean || !a->scratch || !a->flag) {
        massive_ablation_free(a);
        return ss_fail(err, SS_ERR_NOMEM, "massive-activation ablation: out of memory");
    }
    for (int d = 0; d < s->hidden && layer >= 0; d++) {
        double c = s->count[(size_t)layer * s->hidden + d];
        a->mean[d] = c > 0 ? (float)(s->sum[(size_t)layer * s->hidden + d] / c) : 0.0f;
    }
    return SS_OK;
}

void massive_ablation_free(struct massive_ablation *a)
{
    free(a->mean), free(a->scratch), free(a->flag);
    a->mean = a->scratch = NULL;
    a->flag = NULL;
}

int massive_ablation_edit(void *user, const struct hook_event *ev, float *data, struct ss_error *err)
{
    struct massive_ablation *a = user;
    int H = a->hidden;
    for (int t = 0; t < ev->T; t++) {
        float *x = data + (size_t)t * H;
        if (!massive_flag(x, H, a->abs_min, a->ratio, a->flag, a->scratch))
            continue;
        for (int d = 0; d < H; d++)
            if (a->flag[d]) {
                x[d] = a->zero ? 0.0f : a->mean[d];
                a->n_ablated += 1;
            }
    }
    return 0;
}

/* ---- gates ---------------------------------------------------------------------- */

enum ss_status gate_scan_init(struct gate_scan *s, int n_layers, struct ss_error *err)
{
    s->n_layers = n_layers;
    s->sum = calloc(n_layers, sizeof *s->sum);
    s->count = calloc(n_layers, sizeof *s->count);
    if (!s->sum || !s->count) {
        gate_scan_free(s);
        return ss_fail(err, SS_ERR_NOMEM, "gate scan: out of memory");
    }
    return SS_OK;
}

void gate_scan_free(struct gate_scan *s)
{
    free(s->sum), free(s->count);
    s->sum = s->count = NULL;
}

static int gate_scan_hook(void *user, const struct hook_event *ev, struct ss_error *err)
{
    struct gate_scan *s = user;
    size_t n = (size_t)ev->shape[0] * ev->shape[1] * ev->shape[2];
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += ev->data[i];
    s->sum[ev->layer] += sum;
    s->count[ev->layer] += (double)n;
    return 0;
}

enum ss_status gate_scan_subscribe(struct gate_scan *s, struct hook_set *h, struct ss_error *err)
{
    return hook_set_add(h, "gate", gate_scan_hook, s, err);
}

void gate_scan_means(const struct gate_scan *s, float *mean)
{
    for (int l = 0; l < s->n_layers; l++)
        mean[l] = s->count[l] > 0 ? (float)(s->sum[l] / s->count[l]) : NAN;
}

int gate_constant_edit(void *user, const struct hook_event *ev, float *data, struct ss_error *err)
{
    float v = ((const float *)user)[ev->layer];
    size_t n = (size_t)ev->shape[0] * ev->shape[1] * ev->shape[2];
    for (size_t i = 0; i < n; i++)
        data[i] = v;
    return 0;
}

/* ---- a run's activation edits --------------------------------------------------- */

int intervention_parse_ablate(struct intervention *iv, const char *s)
{
    if (strncmp(s, "massive=", 8))
        return -1;
    s += 8;
    size_t n = strcspn(s, "@");
    if (n == 4 && !strncmp(s, "zero", 4))
        iv->ablate = 1;
    else if (n == 4 && !strncmp(s, "mean", 4))
        iv->ablate = 2;
    else
        return -1;
    iv->ablate_layer = -1, iv->ablate_layer_given = 0;
    if (s[n] == '@') {
        char *end;
        long l = strtol(s + n + 1, &end, 10);
        if (end == s + n + 1 || *end || l < -(1 << 20) || l > 1 << 20)
            return -1;
        iv->ablate_layer = (int)l, iv->ablate_layer_given = 1;
    }
    return 0;
}

/* One native pass over every sequence with the scans subscribed. */
static enum ss_status first_pass(struct intervention *iv, const struct model *m, struct run_state *rs,
                                 const int32_t *seqs, int n, int T, const struct forward_opts *opts,
                                 struct ss_error *err)
{
    struct hook_set hs;
    hook_set_init(&hs);
    enum ss_status s = SS_OK;
    if (iv->ablate)
        s = massive_scan_subscribe(&iv->scan, &hs, err);
    if (!s && iv->gate_mean)
        s = gate_scan_subscribe(&iv->gates, &hs, err);
    struct forward_opts fo = *opts;
    fo.edits = NULL, fo.n_edits = 0;
    for (int i = 0; i < n && !s; i++)
        s = model_forward(m, rs, seqs + (size_t)i * T, T, &hs, &fo, err);
    return s;
}

enum ss_status intervention_prepare(struct intervention *iv, const struct model *m, struct run_state *rs,
                                    const int32_t *seqs, int n, int T, struct forward_opts *opts,
                                    struct ss_error *err)
{
    const struct model_config *c = &m->cfg;
    iv->n_edits = 0;
    if (!iv->ablate && !iv->gate_mean)
        return SS_OK;
    if (iv->ablate && iv->ablate_layer_given) {
        int l = iv->ablate_layer < 0 ? c->n_layers + iv->ablate_layer : iv->ablate_layer; /* -1: the last */
        if (l < 0 || l >= c->n_layers)
            return ss_fail(err, SS_ERR_INPUT, "--ablate: layer %d is out of range (the model has %d layers, 0..%d)",
                           iv->ablate_layer, c->n_layers, c->n_layers - 1);
        iv->ablate_layer = l;
    }
    if (iv->gate_mean && c->gate == GATE_KIND_NONE)
        return ss_fail(err, SS_ERR_INPUT, "%s: --gate constant=mean needs a gated checkpoint (this one has no gate)",
                       m->dir);
    if (!iv->abs_min)
        iv->abs_min = MASSIVE_ABS_MIN;
    if (!iv->ratio)
        iv->ratio = MASSIVE_RATIO;
    enum ss_status s = SS_OK;
    if (iv->ablate)
        s = massive_scan_init(&iv->scan, c->n_layers, c->hidden, iv->abs_min, iv->ratio, err);
    if (!s && iv->gate_mean) {
        s = gate_scan_init(&iv->gates, c->n_layers, err);
        if (!s && !(iv->gate_values = malloc(c->n_layers * sizeof *iv->gate_values)))
            s = ss_fail(err, SS_ERR_NOMEM, "out of memory");
    }
    if (!s)
        s = first_pass(iv, m, rs, seqs, n, T, opts, err);
    if (s)
        return s;
    if (iv->ablate) {
        if (iv->ablate_layer < 0)
            iv->ablate_layer = massive_scan_first_layer(&iv->scan); /* -1: none anywhere, nothing ablated */
        s = massive_ablation_init(&iv->ab, &iv->scan, iv->ablate_layer, iv->ablate == 1, err);
        if (s)
            return s;
        if (iv->ablate_layer >= 0)
            iv->edits[iv->n_edits++] = (struct hook_edit){HOOK_RESID_POST, iv->ablate_layer, massive_ablation_edit, &iv->ab};
    }
    if (iv->gate_mean) {
        gate_scan_means(&iv->gates, iv->gate_values);
        iv->edits[iv->n_edits++] = (struct hook_edit){HOOK_GATE, -1, gate_constant_edit, iv->gate_values};
    }
    opts->edits = iv->edits;
    opts->n_edits = iv->n_edits;
    return SS_OK;
}

void intervention_free(struct intervention *iv)
{
    massive_scan_free(&iv->scan);
    massive_ablation_free(&iv->ab);
    gate_scan_free(&iv->gates);
    free(iv->gate_values);
    iv->gate_values = NULL;
    iv->n_edits = 0;
}
