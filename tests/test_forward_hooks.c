/* tests/test_forward_hooks.c — the `forward` suite's hook coverage: every point of
 * model/hooks.h fires with its shapes, in its order, with and without learned sinks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../model/model.h"
#include "../model/safetensors.h"
#include "test_forward.h"
#include "test_util.h"

/* ---- hook coverage ------------------------------------------------------------ */

struct coverage {
    const struct model_config *c;
    int T, count[HOOK_COUNT], bad, last_point, last_layer, last_head, next_q0;
    double rowsum[8 * 16];     /* learned sinks: [head, query] attn_probs row sums of the layer */
};

static int cov_hook(void *user, const struct hook_event *ev, struct ss_error *err)
{
    struct coverage *cv = user;
    const struct model_config *c = cv->c;
    int T = cv->T, H = c->hidden, nh = c->n_heads, nkv = c->n_kv_heads, D = c->head_dim;
    int64_t want[HOOK_COUNT][3] = {
        [HOOK_ATTN_NORM] = {T, H}, [HOOK_Q] = {T, nh, D}, [HOOK_K] = {T, nkv, D}, [HOOK_V] = {T, nkv, D},
        [HOOK_ATTN_OUT] = {T, nh, D}, [HOOK_GATE] = {T, nh, model_config_gate_dim(c)}, [HOOK_ATTN_GATED] = {T, nh, D},
        [HOOK_O_PROJ] = {T, H}, [HOOK_RESID_MID] = {T, H}, [HOOK_FFN_NORM] = {T, H}, [HOOK_FFN_OUT] = {T, H},
        [HOOK_RESID_POST] = {T, H}, [HOOK_FINAL_NORM] = {T, H}, [HOOK_ATTN_SINK] = {T, nh},
    };
    int p = ev->point;
    cv->count[p]++;
    if (ev->T != T)
        cv->bad++;
    if (p == HOOK_ATTN_SCORES || p == HOOK_ATTN_PROBS) {
        int nq = (int)ev->shape[0];
        if (p == HOOK_ATTN_SCORES) { /* tiles in order: (head, q0) increasing, covering all queries */
            if (ev->head != cv->last_head) {
                if (cv->next_q0 != 0 && cv->next_q0 != T)
                    cv->bad++;
                if (ev->head != cv->last_head + 1)
                    cv->bad++;
                cv->last_head = ev->head;
                cv->next_q0 = 0;
            }
            if (ev->q0 != cv->next_q0)
                cv->bad++;
            cv->next_q0 = ev->q0 + nq;
            for (int i = 0; i < nq; i++) /* masked above the diagonal with -inf */
                for (int j = ev->q0 + i + 1; j < ev->shape[1]; j++)
                    if (ev->data[(size_t)i * ev->shape[1] + j] != -INFINITY)
                        cv->bad++;
        } else {
            for (int i = 0; i < nq; i++) { /* rows sum to 1, or to 1 - the sink share (checked at attn_sink) */
                double s = 0;
                for (int j = 0; j < ev->shape[1]; j++)
                    s += ev->data[(size_t)i * ev->shape[1] + j];
                if (c->v.attn_sinks)
                    cv->rowsum[ev->head * T + ev->q0 + i] = s;
                else if (fabs(s - 1) > 1e-5)
                    cv->bad++;
            }
        }
        if (ev->ndim != 2 || ev->shape[1] != ev->q0 + nq || ev->layer < 0)
            cv->bad++;
        return 0;
    }
    if (p == HOOK_LOGITS) {
        if (ev->ndim != 2 || ev->shape[1] != c->vocab || ev->layer != -1)
            cv->bad++;
        return 0;
    }
    if (p == HOOK_ATTN_NORM)
        cv->last_head = -1, cv->next_q0 = 0;
    if (p == HOOK_ATTN_SINK) /* after every head's tiles: share in [0, 1], row sum + share = 1 */
        for (int q = 0; q < T && ev->ndim == 2 && ev->shape[1] == nh; q++)
            for (int h = 0; h < nh; h++) {
                float sh = ev->data[(size_t)q * nh + h];
                if (!(sh >= 0 && sh <= 1) || fabs(cv->rowsum[h * T + q] + sh - 1) > 1e-5)
                    cv->bad++;
            }
    int nd = want[p][2] ? 3 : 2;
    if (ev->ndim != nd || ev->shape[0] != want[p][0] || ev->shape[1] != want[p][1] ||
        (nd == 3 && ev->shape[2] != want[p][2]))
        cv->bad++;
    if ((p == HOOK_FINAL_NORM) != (ev->layer == -1))
        cv->bad++;
    /* within a layer the points come in the order of enum hook_point */
    if (ev->layer == cv->last_layer && p < cv->last_point)
        cv->bad++;
    cv->last_point = p, cv->last_layer = ev->layer;
    return 0;
}

static int stop_hook(void *user, const struct hook_event *ev, struct ss_error *err)
{
    return ss_fail(err, SS_ERR_INTERRUPTED, "stopped at %s", hook_point_name(ev->point)), 1;
}

/* Hook order and shapes, single-threaded and with 3 threads (tiles computed in batches);
 * with learned sinks (gpt_oss's attention) attn_sink fires once per layer and the
 * attn_probs rows sum to 1 - its share. */
static void hooks_check(int threads, int sinks)
{
    struct model_config c;
    tiny_config(&c, GATE_KIND_ELEMENTWISE);
    c.v.attn_sinks = sinks;
    struct model m;
    tiny_build(&m, &c, 5);
    static const float sink_logits[4] = {-1.5f, 0.0f, 1.0f, 3.0f}; /* n_heads of tiny_config */
    for (int l = 0; sinks && l < c.n_layers; l++)
        m.w.layers[l].sinks = (float *)sink_logits;
    int T = 9;
    int32_t tok[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    struct coverage cv = {&c, T, {0}, 0, -1, -2, -1, 0};
    struct hook_set hs;
    struct ss_error e = {0};
    hook_set_init(&hs);
    for (int p = 0; p < HOOK_COUNT; p++)
        CU_ASSERT_EQUAL(hook_set_add(&hs, hook_point_name(p), cov_hook, &cv, &e), SS_OK);
    CU_ASSERT_EQUAL(hook_set_add(&hs, "nope", cov_hook, &cv, &e), SS_ERR_INPUT);
    struct forward_opts o = {.threads = threads, .attn_tile = 4, .logits_tile = 4};
    struct run_state *rs;
    CU_ASSERT_EQUAL_FATAL(run_state_new(&rs, &c, T, &o, &e), SS_OK);
    CU_ASSERT_EQUAL(model_forward(&m, rs, tok, T, &hs, &o, &e), SS_OK);
    printf("  %d thread(s):\n", threads);
    int L = c.n_layers, tiles = (T + 3) / 4;
    for (int p = 0; p < HOOK_COUNT; p++) {
        int want = p == HOOK_ATTN_SCORES || p == HOOK_ATTN_PROBS ? L * c.n_heads * tiles
                   : p == HOOK_FINAL_NORM ? 1 : p == HOOK_LOGITS ? tiles
                   : p == HOOK_ROUTER_PROBS || p == HOOK_ROUTER_WEIGHTS
                       ? 0 /* dense model: MoE layers only (their fixtures check them) */
                   : p == HOOK_ATTN_SINK ? (sinks ? L : 0) : L;
        printf("  hook %-11s fired %3d times (expected %d)%s\n", hook_point_name(p), cv.count[p], want,
               sinks ? " [learned sinks]" : "");
        CU_ASSERT_EQUAL(cv.count[p], want);
    }
    printf("  hook events breaking hooks.h: %d\n", cv.bad);
    CU_ASSERT_EQUAL(cv.bad, 0);
    /* a hook returning non-zero stops the pass with its error */
    hook_set_init(&hs);
    hook_set_add(&hs, "ffn_out", stop_hook, NULL, &e);
    CU_ASSERT_EQUAL(model_forward(&m, rs, tok, T, &hs, &o, &e), SS_ERR_INTERRUPTED);
    CU_ASSERT_STRING_EQUAL(e.msg, "stopped at ffn_out");
    /* no subscriber at all: nothing fires, nothing fails */
    CU_ASSERT_EQUAL(model_forward(&m, rs, tok, T, NULL, &o, &e), SS_OK);
    run_state_free(rs);
    model_free(&m);
}

static void test_hooks(void)
{
    hooks_check(1, 0);
    hooks_check(3, 0);
    hooks_check(1, 1);
    hooks_check(3, 1);
}


void forward_hooks_tests(CU_pSuite s)
{
    CU_add_test(s, "hooks fire with the shapes and order of hooks.h", test_hooks);
}
