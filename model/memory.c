/* model/memory.c — what a run needs in memory, and whether this machine has it.
 *
 * Weights stay mapped (model/weight.h): every byte of the checkpoint's tensors is
 * read once per forward and stays resident (page cache mapped into the process),
 * so it counts in full. The rest is the run state (activations and weight scratch)
 * and the float32 copies of the small tensors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h"
#include "moe.h"

/* float32 values of the 1-D tensors model_load converts (norms, biases) */
static size_t small_floats(const struct model_config *c)
{
    size_t H = c->hidden, kv = (size_t)c->n_kv_heads * c->head_dim, per = 2 * H;
    if (c->qkv_bias)
        per += (size_t)model_config_q_out(c) + 2 * kv;
    if (c->o_bias)
        per += H;
    if (c->qk_norm)
        per += 2 * (size_t)c->head_dim;
    if (c->v.attn_sinks)
        per += (size_t)c->n_heads;
    if (c->v.glu_limit > 0) /* gpt_oss: router and expert biases */
        per += (size_t)c->v.n_experts * (1 + 2 * (size_t)c->v.moe_ffn + H);
    return per * c->n_layers + H;
}

/* The MoE step's temporaries (router logits/probabilities/choices, gathered tokens, expert
 * outputs: model/moe.h), allocated per layer and freed after it. */
static size_t moe_bytes(const struct model_config *c, int max_T)
{
    if (!c->v.n_experts)
        return 0;
    struct moe_config mc = {c->v.n_experts, c->v.top_k, c->hidden, c->v.moe_ffn, 0, 0, 0, 0, 0};
    return moe_step_bytes(&mc, max_T);
}

void run_memory_plan(struct run_memory *rm, const struct model_config *c, size_t stored_bytes, int max_T,
                     const struct forward_opts *opts)
{
    rm->weights = stored_bytes;
    rm->threads = forward_opts_threads(opts);
    rm->batch = opts && opts->batch > 1 ? opts->batch : 1;
    rm->small = small_floats(c) * sizeof(float);
    rm->scratch = run_state_scratch_bytes(c, opts);
    rm->activations = run_state_bytes(c, max_T, opts) - rm->scratch + moe_bytes(c, max_T);
    rm->total = rm->weights + rm->small + rm->scratch + rm->activations;
}

int run_memory_batch(const struct model_config *c, size_t stored_bytes, int max_T, const struct forward_opts *opts,
                     int n_windows)
{
    size_t have = machine_memory_bytes();
    struct forward_opts o = opts ? *opts : (struct forward_opts){0};
    int cap = n_windows < RUN_BATCH_AUTO ? n_windows : RUN_BATCH_AUTO, best = 1;
    if (max_T > 0 && cap > RUN_BATCH_POSITIONS / max_T)
        cap = RUN_BATCH_POSITIONS / max_T;
    for (int B = 2; B <= cap; B++) {
        struct run_memory rm;
        o.batch = B;
        run_memory_plan(&rm, c, stored_bytes, max_T, &o);
        if (have && rm.total > have / 2)
            break;
        best = B;
    }
    return best;
}

/* A number from the first line of `path` ("max" and unreadable: 0). */
static size_t file_number(const char *path)
{
    FILE *f = fopen(path, "r");
    unsigned long long v = 0;
    if (f) {
        if (fscanf(f, "%llu", &v) != 1)
            v = 0;
        fclose(f);
    }
    return (size_t)v;
}

size_t machine_memory_bytes(void)
{
    const char *o = getenv("SINKSCOPE_MEMORY_BYTES");
    if (o && *o)
        return (size_t)strtoull(o, NULL, 10);
    long pages = sysconf(_SC_PHYS_PAGES), pg = sysconf(_SC_PAGESIZE);
    size_t phys = pages > 0 && pg > 0 ? (size_t)pages * (size_t)pg : 0;
    size_t cg = file_number("/sys/fs/cgroup/memory.max"); /* cgroup v2; v1 below */
    if (!cg)
        cg = file_number("/sys/fs/cgroup/memory/memory.limit_in_bytes");
    return cg && (cg < phys || !phys) ? cg : phys;
}

/* "1.26 GB" | "221.0 MB" | "12 KB" */
static const char *size_str(char *b, size_t n, size_t x)
{
    if (x >= 1000000000)
        snprintf(b, n, "%.2f GB", x * 1e-9);
    else if (x >= 1000000)
        snprintf(b, n, "%.1f MB", x * 1e-6);
    else
        snprintf(b, n, "%.0f KB", x * 1e-3);
    return b;
}

enum ss_status run_memory_check(const struct run_memory *rm, const char *what, int max_T, struct ss_error *err)
{
    size_t have = machine_memory_bytes();
    if (!have || rm->total <= have)
        return SS_OK;
    char a[5][24], win[48] = "";
    if (rm->batch > 1)
        snprintf(win, sizeof win, " (%d windows per pass)", rm->batch);
    return ss_fail(err, SS_ERR_INPUT,
                   "%s: a run at %d positions%s needs %s (weights %s mapped, activations %s, scratch %s) but this "
                   "machine has %s of memory", what, max_T, win, size_str(a[0], 24, rm->total), size_str(a[1], 24, rm->weights),
                   size_str(a[2], 24, rm->activations), size_str(a[3], 24, rm->scratch + rm->small),
                   size_str(a[4], 24, have));
}
