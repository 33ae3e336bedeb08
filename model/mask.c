/* model/mask.c — which keys each query sees: causal, the sliding window (the
 * checkpoint's or the run's) with its sink tokens, minus masked keys. The
 * attention tiles of model/forward.c call attn_mask_row on every score row, so
 * every statistic downstream sees the masked probabilities. */
#include <math.h>

#include "model.h"

int attn_mask_window(const struct attn_mask *m, const struct model_config *c)
{
    return m && m->window > 0 ? m->window : c->sliding_window;
}

void attn_mask_row(const struct attn_mask *m, int window, int q, float *r, int nk)
{
    for (int k = q + 1; k < nk; k++)
        r[k] = -INFINITY;
    int S = m ? m->sink_tokens : 0;
    if (window > 0)
        for (int k = S; k <= q - window; k++)
            r[k] = -INFINITY;
    if (!m || m->n_masked_keys <= 0)
        return;
    float own = r[q];
    for (int i = 0; i < m->n_masked_keys; i++) {
        int k = m->masked_keys[i];
        if (k >= 0 && k <= q)
            r[k] = -INFINITY;
    }
    for (int k = 0; k <= q; k++)
        if (r[k] != -INFINITY)
            return;
    r[q] = own; /* no key left: the query keeps its own */
}

enum ss_status attn_mask_check(const struct attn_mask *m, int T, struct ss_error *err)
{
    if (m->window < 0)
        return ss_fail(err, SS_ERR_INPUT, "--window: %d is not a positive number of keys", m->window);
    if (m->sink_tokens < 0)
        return ss_fail(err, SS_ERR_INPUT, "--sink-tokens: %d is negative", m->sink_tokens);
    if (m->n_masked_keys <= 0)
        return SS_OK;
    int valid = 0;
    for (int i = 0; i < m->n_masked_keys; i++) {
        if (m->masked_keys[i] < 0)
            return ss_fail(err, SS_ERR_INPUT, "--mask-keys: position %d is negative", m->masked_keys[i]);
        valid += m->masked_keys[i] < T;
    }
    if (!valid)
        return ss_fail(err, SS_ERR_INPUT, "--mask-keys: no listed position lies inside the %d positions of a sequence", T);
    return SS_OK;
}
