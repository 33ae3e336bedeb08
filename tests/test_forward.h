/* tests/test_forward.h — what the parts of the `forward` suite share: hook subscribers that
 * assemble whole tensors (tests/test_forward_capture.c), and the registration of the tests in
 * test_forward_naive.c (hand-built models vs a naive reference, gate modes, tiles, threads)
 * and test_forward_hooks.c (hook coverage); the reference fixtures are test_forward.c. */
#ifndef SS_TESTS_TEST_FORWARD_H
#define SS_TESTS_TEST_FORWARD_H

#include <CUnit/CUnit.h>

#include "../model/model.h"

struct capture {
    struct model_config c;
    int T;
    float *probs;   /* [L, nh, T, T] */
    float *scores;  /* [L, nh, T, T] (masked: -inf) */
    float *hidden;  /* [L, T, H] resid_post */
    float *q, *k;   /* [L, T, nh|nkv, D] */
    float *gate;    /* [L, T, nh, gd] */
    float *attn_out, *attn_gated; /* [L, T, nh, D] */
    float *logits;  /* [T, V] */
    float *router;  /* [L, T, E] router_probs (MoE layers) */
    char *router_seen; /* [L] */
    float *router_w;   /* [L, T, E] router_weights (MoE layers) */
    float *sink;       /* [L, T, nh] attn_sink (learned sinks) */
    char *sink_seen;   /* [L] */
    int bad_shape;  /* events whose shape disagrees with hooks.h */
};

void capture_init(struct capture *cp, const struct model_config *c, int T);
void capture_free(struct capture *cp);
/* Run m on tokens with every capture hook subscribed (cp is initialised here). */
enum ss_status run_capture(const struct model *m, const int32_t *tok, int T, struct capture *cp,
                           const struct forward_opts *o, struct ss_error *err);

/* Hand-built tiny models (test_forward_naive.c): a small config of gate kind g, and a
 * model of config c with random weights from seed (free with model_free). */
void tiny_config(struct model_config *c, enum gate_kind g);
void tiny_build(struct model *m, const struct model_config *c, uint64_t seed);

void forward_naive_tests(CU_pSuite s);
void forward_hooks_tests(CU_pSuite s);

#endif
