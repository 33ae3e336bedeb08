/* tests/test_probes_util.h — hand-made hook event sequences shaped like a
 * forward pass, for testing probes/ without a model. */
#ifndef SS_TESTS_TEST_PROBES_UTIL_H
#define SS_TESTS_TEST_PROBES_UTIL_H

#include <stdint.h>

#include "../model/hooks.h"
#include "../probes/probes.h"

/* Fire every hook point of one sequence of sh->T positions through hooks, in the
 * forward pass's order, with deterministic pseudo-random data from seed; attention
 * and logits arrive in tiles of `tile` rows. Attention rows are a softmax with a
 * strong first key; with sh->attn_sinks a learned sink takes part of every row (attn_sink fires
 * after the tiles), and MoE layers (sh->layer_moe) fire router_probs and router_weights. Returns the first hook's non-zero result (err filled). */
int test_fire_sequence(const struct hook_set *hooks, const struct probes_shape *sh,
                       unsigned seed, int tile, struct ss_error *err);
/* The same, straight into a seq_stats (reset first, with tokens 0..T-1 mod vocab). */
void test_feed_sequence(struct seq_stats *s, unsigned seed, int tile);

#endif
