/* The setup of tests/cases/analyze_golden.test (golden outputs of summary, compare and
 * audit in every format): the three run files the cases read (base, gated, moe), written once per process
 * by the runmaker (see test_runmaker.h). */
#include <CUnit/CUnit.h>
#include <sys/stat.h>

#include "test_cases.h"
#include "test_runmaker.h"
#include "test_runmaker_moe.h"

#define RUN_DIR "tests/out/analyze-golden"

static int make_runs(void)
{
    mkdir("tests/out", 0755);
    mkdir(RUN_DIR, 0755);
    struct test_run_spec s;
    test_run_spec_default(&s);
    if (test_runmaker_write(RUN_DIR "/base.h5", &s))
        return -1;
    /* a MoE run with learned sinks (test_runmaker_moe.h): the base run plus routing and sink datasets */
    if (test_runmaker_write(RUN_DIR "/moe.h5", &s) || test_runmaker_add_moe(RUN_DIR "/moe.h5", &s, 1, 1))
        return -1;
    s.gate_kind = "headwise";
    s.sink_scale = 0.1;
    s.act_scale = 10;
    s.perplexity = 18;
    return test_runmaker_write(RUN_DIR "/gated.h5", &s);
}

static void golden_runs(const char *dir)
{
    static int made = -1;
    (void)dir;
    if (made < 0)
        made = make_runs();
    CU_ASSERT_EQUAL_FATAL(made, 0);
}

const struct case_setup analyze_golden_setups[] = {
    {"golden_runs", golden_runs},
    {NULL, NULL},
};
