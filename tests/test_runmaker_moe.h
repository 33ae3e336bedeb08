/* tests/test_runmaker_moe.h — adds the routing and learned-sink datasets (docs/SCHEMA.md,
 * Routing, Learned sinks) to a run file the runmaker wrote (tests/test_runmaker.h), with
 * closed-form values, so analyze/ and plots/ tests of MoE and learned-sink runs need no model.
 *
 * Values (l = layer, h = head, e = expert of E = 4; layers with l % 2 == 1 are dense: NaN rows):
 *   moe_layer[l]             1 - l % 2
 *   expert_load[l,e]         (0.1, 0.2, 0.3, 0.4)
 *   expert_load_pos0[l,e]    (0, 0.5, 0, 0.5)   (a tie: readers name the lower expert, 1)
 *   expert_load_rest[l,e]    (0.1, 0.2, 0.3, 0.4) - (0, 0.5, 0, 0.5) / T, renormalised to sum 1
 *   expert_weight_mean[l,e]  0.5 + 0.05 e
 *   router_entropy[l]        0.9 + 0.1 l (nats); router_entropy_norm = it / ln 4
 *   learned_sink_share[l,h]  lsink(l,h) = 0.3 + 0.1 l + 0.05 h; _incl0 = lsink + 0.01
 * /summary: the means these imply. */
#ifndef SS_TESTS_TEST_RUNMAKER_MOE_H
#define SS_TESTS_TEST_RUNMAKER_MOE_H

#include "test_runmaker.h"

#define TEST_RUNMAKER_EXPERTS 4

/* Append to path (written by test_runmaker_write with spec s) the routing datasets (routing)
 * and the learned-sink ones (sinks); 0 on success, -1 (message on stderr). */
int test_runmaker_add_moe(const char *path, const struct test_run_spec *s, int routing, int sinks);
double test_runmaker_lsink(int l, int h);

#endif
