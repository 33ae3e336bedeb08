/* tests/test_plots_fake.h — a small schema-shaped run file with only what plots/ reads,
 * written with the HDF5 API directly (the plots suite's inputs; tests/test_runmaker.h makes
 * complete ones). Baseline: a first-token sink from layer 1 on and large activations;
 * gated: neither, gates mostly near 0. Values are smooth functions of layer and head. */
#ifndef SS_TESTS_TEST_PLOTS_FAKE_H
#define SS_TESTS_TEST_PLOTS_FAKE_H

struct fake_run {
    int gated, attention, hidden_dump;
    int L, H, T, S;
};

/* Write the run file o describes at path; 0 on success. */
int make_run(const char *path, const struct fake_run *o);

#endif
