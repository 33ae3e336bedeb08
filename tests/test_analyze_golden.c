/* Golden outputs of summary, compare and audit in every format, compared byte for
 * byte with tests/golden/analyze/<case>.<format>. SS_UPDATE_GOLDEN=1 rewrites them
 * (review the diff by eye: the values must be the runmaker's, see test_runmaker.h). */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test_runmaker.h"
#include "test_util.h"

#define GOLDEN_DIR "tests/golden/analyze"
#define RUN_DIR "tests/out/analyze-golden"

static char out[1 << 18], err[1 << 14];
static const char *const formats[] = {"text", "csv", "json", "markdown", "latex"};

static int make_runs(void)
{
    mkdir("tests/out", 0755);
    mkdir(RUN_DIR, 0755);
    struct test_run_spec s;
    test_run_spec_default(&s);
    if (test_runmaker_write(RUN_DIR "/base.h5", &s))
        return -1;
    s.gate_kind = "headwise";
    s.sink_scale = 0.1;
    s.act_scale = 10;
    s.perplexity = 18;
    return test_runmaker_write(RUN_DIR "/gated.h5", &s);
}

static void spit(const char *path, const char *s)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(s, f);
        fclose(f);
    }
}

/* Compare out with the golden file of case/format; print the first differing line. */
static void check_golden(const char *name, const char *fmt)
{
    char path[512], actual[512];
    snprintf(path, sizeof path, GOLDEN_DIR "/%s.%s", name, fmt);
    snprintf(actual, sizeof actual, RUN_DIR "/%s.%s.actual", name, fmt);
    const char *upd = getenv("SS_UPDATE_GOLDEN");
    if (upd && !strcmp(upd, "1")) {
        mkdir("tests/golden", 0755);
        mkdir(GOLDEN_DIR, 0755);
        spit(path, out);
        printf("\n    wrote %s", path);
        return;
    }
    size_t n = 0;
    char *g = test_read_file(path, &n);
    if (!g) {
        printf("\n    %s missing (SS_UPDATE_GOLDEN=1 writes it)", path);
        CU_FAIL("golden file missing");
        return;
    }
    int same = n == strlen(out) && memcmp(g, out, n) == 0;
    if (!same) {
        spit(actual, out);
        int line = 1;
        size_t i = 0;
        while (i < n && out[i] && g[i] == out[i]) {
            if (g[i] == '\n')
                line++;
            i++;
        }
        printf("\n    %s differs from the output at line %d (output in %s)", path, line, actual);
    }
    CU_ASSERT(same);
    free(g);
}

static void test_golden_summary(void)
{
    CU_ASSERT_EQUAL_FATAL(make_runs(), 0);
    for (int i = 0; i < 5; i++) {
        CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "summary", RUN_DIR "/base.h5", "--per-layer",
                                 "--per-head", "--format", formats[i], NULL), 0);
        check_golden("summary_base", formats[i]);
        CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "summary", RUN_DIR "/gated.h5", "--per-layer",
                                 "--format", formats[i], NULL), 0);
        check_golden("summary_gated", formats[i]);
    }
}

static void test_golden_compare(void)
{
    CU_ASSERT_EQUAL_FATAL(make_runs(), 0);
    for (int i = 0; i < 5; i++) {
        CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "compare", RUN_DIR "/base.h5", RUN_DIR "/gated.h5",
                                 "--labels", "baseline,gated", "--format", formats[i], NULL), 0);
        CU_ASSERT_EQUAL(err[0], 0);
        check_golden("compare", formats[i]);
    }
}

static void test_golden_audit(void)
{
    CU_ASSERT_EQUAL_FATAL(make_runs(), 0);
    for (int i = 0; i < 3; i += 2) {
        CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "audit", RUN_DIR "/base.h5",
                                 "--max-first-token-share", "0.52", "--max-sink-rate", "0.5", "--max-activation", "250",
                                 "--format", formats[i], NULL), 1);
        check_golden("audit_fail", formats[i]);
        CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "audit", RUN_DIR "/gated.h5",
                                 "--max-first-token-share", "0.1", "--max-sink-rate", "0.05", "--layers", "1",
                                 "--format", formats[i], NULL), 0);
        check_golden("audit_pass", formats[i]);
    }
}

SS_SUITE(analyze_golden)
{
    CU_pSuite s = CU_add_suite("analyze_golden", NULL, NULL);
    CU_add_test(s, "summary in every format", test_golden_summary);
    CU_add_test(s, "compare in every format", test_golden_compare);
    CU_add_test(s, "audit text and json", test_golden_audit);
}
