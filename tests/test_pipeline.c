/* tests/test_pipeline.c — the library call behind `sinkscope run` (pipeline/pipeline.h),
 * driven directly as a benchmark or an MPI driver would: it writes the same file the
 * command writes, returns bad input as a status with one line, honours the stop flag, and
 * leaves nothing at the destination when it fails. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../pipeline/pipeline.h"
#include "../runfile/runfile.h"
#include "../runfile/schema.h"
#include "test_util.h"

static const char *tiny_model(void)
{
    static char dir[600];
    if (!dir[0]) {
        const char *d = test_tmpdir("pipeline");
        snprintf(dir, sizeof dir, "%s/tiny", d ? d : "tests/out");
        if (test_cli(NULL, 0, NULL, 0, "synth", "-o", dir, "--preset", "tiny", NULL) != 0)
            dir[0] = 0;
    }
    return dir;
}

/* Every /stats and /summary dataset of a equals b's exactly. */
static int same_stats(const char *a, const char *b)
{
    struct runfile *ra = NULL, *rb = NULL;
    int same = runfile_open(&ra, a, NULL) == SS_OK && runfile_open(&rb, b, NULL) == SS_OK, compared = 0;
    for (int i = 0; same && i < RF_N_DATASETS; i++) {
        const char *p = rf_schema[i].path;
        if (rf_schema[i].type != RF_F64 || !runfile_has(ra, p))
            continue;
        struct rf_array x = {0}, y = {0};
        same = runfile_read(ra, p, &x, NULL) == SS_OK && runfile_read(rb, p, &y, NULL) == SS_OK && x.n == y.n &&
               !memcmp(x.data, y.data, x.n * sizeof *x.data);
        compared++;
        rf_array_free(&x);
        rf_array_free(&y);
    }
    runfile_close(ra);
    runfile_close(rb);
    return same && compared > 20;
}

static void test_same_file_as_the_command(void)
{
    const char *m = tiny_model();
    CU_ASSERT_FATAL(m[0] != 0);
    const char *dir = test_tmpdir("pipeline-run");
    char lib[700], cli[700];
    snprintf(lib, sizeof lib, "%s/lib.h5", dir);
    snprintf(cli, sizeof cli, "%s/cli.h5", dir);
    struct pipeline_opts o;
    pipeline_opts_init(&o);
    o.model_dir = m;
    o.out = lib;
    o.token_ids = "1,2,3,4,5,6,7,8";
    o.dump = "attention";
    o.layers = "-1";
    o.log = NULL;
    struct ss_error err = {0};
    CU_ASSERT_EQUAL_FATAL(pipeline_run(&o, NULL, &err), SS_OK);
    CU_ASSERT_EQUAL_FATAL(test_cli(NULL, 0, NULL, 0, "run", "-m", m, "--token-ids", "1,2,3,4,5,6,7,8", "--dump",
                                   "attention", "--layers", "-1", "-o", cli, "--quiet", NULL), 0);
    CU_ASSERT(same_stats(lib, cli));
}

static void test_bad_input_and_stop(void)
{
    const char *m = tiny_model();
    CU_ASSERT_FATAL(m[0] != 0);
    const char *dir = test_tmpdir("pipeline-bad");
    char out[700];
    snprintf(out, sizeof out, "%s/out.h5", dir);
    struct pipeline_opts o;
    pipeline_opts_init(&o);
    o.model_dir = m;
    o.out = out;
    o.token_ids = "1,2,512";
    o.log = NULL;
    struct ss_error err = {0};
    CU_ASSERT_EQUAL(pipeline_run(&o, NULL, &err), SS_ERR_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "--token-ids"));
    CU_ASSERT_EQUAL(test_count_lines(err.msg), 1);
    CU_ASSERT_NOT_EQUAL(access(out, F_OK), 0);
    o.token_ids = "1,2,3";
    o.gate = "sideways";
    CU_ASSERT_EQUAL(pipeline_opts_check(&o, &err), SS_ERR_INPUT);
    CU_ASSERT_EQUAL(pipeline_run(&o, NULL, &err), SS_ERR_INPUT);
    o.gate = "native";
    volatile sig_atomic_t stop = 1;
    CU_ASSERT_EQUAL(pipeline_run(&o, &stop, &err), SS_ERR_INTERRUPTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "nothing written"));
    CU_ASSERT_NOT_EQUAL(access(out, F_OK), 0);
}

SS_SUITE(pipeline)
{
    CU_pSuite s = CU_add_suite("pipeline", NULL, NULL);
    CU_add_test(s, "pipeline_run writes the file `sinkscope run` writes", test_same_file_as_the_command);
    CU_add_test(s, "bad input and a stop: a status, one line, nothing written", test_bad_input_and_stop);
}
