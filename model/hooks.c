#include "hooks.h"

#include <string.h>

static const char *const names[HOOK_COUNT] = {
    "attn_norm", "q", "k", "v", "gate", "attn_scores", "attn_probs", "attn_sink", "attn_out",
    "attn_gated", "o_proj", "resid_mid", "ffn_norm", "router_probs", "router_weights", "ffn_out",
    "resid_post", "final_norm", "logits",
};

const char *hook_point_name(enum hook_point p)
{
    return (p >= 0 && p < HOOK_COUNT) ? names[p] : NULL;
}

int hook_point_find(const char *name)
{
    for (int i = 0; i < HOOK_COUNT; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

void hook_set_init(struct hook_set *h)
{
    memset(h, 0, sizeof *h);
}

enum ss_status hook_set_add(struct hook_set *h, const char *name, hook_fn fn, void *user,
                            struct ss_error *err)
{
    int p = hook_point_find(name);
    if (p < 0)
        return ss_fail(err, SS_ERR_INPUT, "unknown hook point '%s'", name);
    if (h->n[p] >= HOOK_MAX_SUBSCRIBERS)
        return ss_fail(err, SS_ERR_INPUT, "hook point '%s' has %d subscribers already", name,
                       HOOK_MAX_SUBSCRIBERS);
    h->fn[p][h->n[p]] = fn;
    h->user[p][h->n[p]] = user;
    h->n[p]++;
    return SS_OK;
}
