/* model/run_state.c — the buffers of a forward pass, sized once for max_T positions
 * (struct run_state, model/forward_int.h): activations, attention tiles, RoPE tables,
 * held logits and the threads' weight scratch, in one aligned arena. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "forward_int.h"

size_t forward_widest_in(const struct model_config *c)
{
    size_t w = c->hidden, a = (size_t)c->n_heads * c->head_dim, e = c->v.embed_dim;
    w = a > w ? a : w;
    w = e > w ? e : w;
    w = (size_t)c->v.moe_ffn > w ? (size_t)c->v.moe_ffn : w;
    return (size_t)c->ffn > w ? (size_t)c->ffn : w;
}

int forward_rope_dims(const struct model_config *c)
{
    return c->v.rope_dim > 0 ? c->v.rope_dim : c->head_dim;
}

/* Floats of each buffer, in the order of struct run_state (activations for B windows
 * of T positions, `held` positions of logits); sizes rounded to 64 bytes. */
static int buffer_sizes(const struct model_config *c, int T1, int B, int at, int held, int ns, size_t *n)
{
    size_t T = (size_t)T1 * B, H = c->hidden, nh = c->n_heads, D = c->head_dim, kv = c->n_kv_heads;
    size_t gd = model_config_gate_dim(c);
    size_t R = forward_rope_dims(c), two = c->v.local_rope || c->rope.type == ROPE_TYPE_LONGROPE;
    size_t E = c->v.embed_dim && c->v.embed_dim != c->hidden ? c->v.embed_dim : 0;
    size_t sz[] = {
        T * H, T * H, T * ((size_t)model_config_q_out(c) + 2 * kv * D), T * nh * D, T * kv * D, T * kv * D,
        T * nh * gd, T * nh * D, gd ? T * nh * D : 0, T * H, T * (size_t)c->ffn, T * (size_t)c->ffn,
        (size_t)ns * at * T1, T1 * R / 2, T1 * R / 2, two * T1 * R / 2, two * T1 * R / 2, T * E,
        (size_t)held * c->vocab,
        (size_t)ns * LINEAR_SLICE * forward_widest_in(c), c->v.attn_sinks ? T1 * nh : 0, /* sinks: one window */
    };
    int k = (int)(sizeof sz / sizeof sz[0]);
    for (int i = 0; i < k; i++)
        n[i] = (sz[i] + 15) / 16 * 16;
    return k;
}

/* By default LOGITS_HELD positions of logits are held at once, so the head (the
 * largest weight) is converted once per forward pass up to that many positions. */
#define LOGITS_HELD 512

/* The tiles for max_T positions and B windows: attention rows, logits positions per
 * window (at most max_T) and logits held (up to the tile, spread over short windows). */
static void tiles_default(const struct forward_opts *o, int max_T, int B, int *at, int *lt, int *held)
{
    *at = o && o->attn_tile > 0 ? o->attn_tile : 128;
    *lt = o && o->logits_tile > 0 ? o->logits_tile : LOGITS_HELD;
    *held = (size_t)*lt < (size_t)max_T * B ? *lt : max_T * B;
    *at = *at < max_T ? *at : max_T;
    *lt = *lt < max_T ? *lt : max_T;
}

int forward_batch_of(const struct forward_opts *o)
{
    return o && o->batch > 1 ? o->batch : 1;
}

int forward_threads(const struct forward_opts *o)
{
    int n = o && o->threads > 0 ? o->threads : openblas_get_num_procs();
    return n < 1 ? 1 : n > 256 ? 256 : n;
}

size_t run_state_bytes(const struct model_config *c, int max_T, const struct forward_opts *opts)
{
    int at, lt, held, B = forward_batch_of(opts);
    tiles_default(opts, max_T, B, &at, &lt, &held);
    size_t n[24], tot = 0;
    int k = buffer_sizes(c, max_T, B, at, held, forward_threads(opts), n);
    for (int i = 0; i < k; i++)
        tot += n[i];
    return tot * sizeof(float) + sizeof(struct run_state);
}

int forward_opts_threads(const struct forward_opts *opts)
{
    return forward_threads(opts);
}

size_t run_state_scratch_bytes(const struct model_config *c, const struct forward_opts *opts)
{
    return (size_t)forward_threads(opts) * LINEAR_SLICE * forward_widest_in(c) * sizeof(float);
}

/* cos/sin tables of the rotated dims: the config's RoPE, and a second one where a
 * layer or a sequence length picks another (gemma3 local base, longrope long factors). */
static int rope_tables_fill(struct run_state *rs, const struct model_config *c, int max_T)
{
    int R = forward_rope_dims(c);
    float *inv = malloc(R / 2 * sizeof *inv);
    if (!inv)
        return -1;
    rope_inv_freq(&c->rope, R, c->max_pos, inv);
    float af = rope_attention_factor(&c->rope, c->max_pos);
    rope_table_fill(rs->cos_t, rs->sin_t, inv, af, max_T, R);
    if (rs->cos2) {
        struct rope_config second = c->v.local_rope ? c->v.rope_local : c->rope;
        if (!c->v.local_rope) /* longrope: the long factors in place of the short ones */
            memcpy(second.short_factor, second.long_factor, sizeof second.short_factor);
        rope_inv_freq(&second, R, c->max_pos, inv);
        rope_table_fill(rs->cos2, rs->sin2, inv, rope_attention_factor(&second, c->max_pos), max_T, R);
    }
    free(inv);
    return 0;
}

enum ss_status run_state_new(struct run_state **out, const struct model_config *c, int max_T,
                             const struct forward_opts *opts, struct ss_error *err)
{
    *out = NULL;
    if (max_T < 1)
        return ss_fail(err, SS_ERR_INPUT, "run state: need at least one position (got %d)", max_T);
    struct run_state *rs = calloc(1, sizeof *rs);
    if (!rs)
        return ss_fail(err, SS_ERR_NOMEM, "run state: out of memory");
    rs->max_T = max_T;
    rs->max_B = forward_batch_of(opts);
    rs->cfg = *c;
    tiles_default(opts, max_T, rs->max_B, &rs->attn_tile, &rs->logits_tile, &rs->logits_held);
    size_t n[24], tot = 0;
    rs->n_scores = forward_threads(opts);
    int k = buffer_sizes(c, max_T, rs->max_B, rs->attn_tile, rs->logits_held, rs->n_scores, n);
    for (int i = 0; i < k; i++)
        tot += n[i];
    if (posix_memalign(&rs->arena, 64, tot * sizeof(float) + 64)) {
        int B = rs->max_B;
        free(rs);
        return ss_fail(err, SS_ERR_NOMEM, "run state: cannot allocate %.2f GB of activations for %d x %d positions",
                       tot * 4e-9, B, max_T);
    }
    madvise(rs->arena, tot * sizeof(float), MADV_HUGEPAGE);
    float **bufs[] = {&rs->x, &rs->xn, &rs->qg, &rs->q, &rs->k, &rs->v, &rs->gate, &rs->att, &rs->attg,
                      &rs->o, &rs->hb, &rs->hb2, &rs->scores, &rs->cos_t, &rs->sin_t, &rs->cos2, &rs->sin2,
                      &rs->xe, &rs->logits, &rs->wscratch, &rs->sink_share};
    float *p = rs->arena;
    for (int i = 0; i < k; i++) {
        *bufs[i] = n[i] ? p : NULL;
        p += n[i];
    }
    if (opts && opts->rope) /* --rope-scaling: the tables and the run state's config follow the override */
        rs->cfg.rope = *opts->rope;
    if (rope_tables_fill(rs, &rs->cfg, max_T)) {
        run_state_free(rs);
        return ss_fail(err, SS_ERR_NOMEM, "run state: out of memory");
    }
    *out = rs;
    return SS_OK;
}

void run_state_free(struct run_state *rs)
{
    if (!rs)
        return;
    free(rs->arena);
    free(rs);
}
