/* summary, compare and audit on real run files: `synth --preset tiny` (baseline and
 * headwise-gated), `run --token-ids`, then the JSON output checked against the
 * datasets read directly with the run-file reader and the schema's definitions. */
#include <CUnit/CUnit.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../runfile/runfile.h"
#include "test_util.h"

static char out[1 << 18], err[1 << 14];
static char base_h5[600], gated_h5[600], other_h5[600];

#define IDS "5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20"

static int setup(void)
{
    if (base_h5[0])
        return 0;
    const char *dir = test_tmpdir("an-e2e");
    char mb[600], mg[600];
    snprintf(mb, sizeof mb, "%s/tiny", dir);
    snprintf(mg, sizeof mg, "%s/tiny-gated", dir);
    snprintf(base_h5, sizeof base_h5, "%s/base.h5", dir);
    snprintf(gated_h5, sizeof gated_h5, "%s/gated.h5", dir);
    snprintf(other_h5, sizeof other_h5, "%s/other.h5", dir);
    if (test_cli(NULL, 0, err, sizeof err, "synth", "-o", mb, "--preset", "tiny", NULL) ||
        test_cli(NULL, 0, err, sizeof err, "synth", "-o", mg, "--preset", "tiny", "--gate", "headwise", NULL) ||
        test_cli(NULL, 0, err, sizeof err, "run", "-m", mb, "--token-ids", IDS, "-o", base_h5, "--quiet", "-t", "1", NULL) ||
        test_cli(NULL, 0, err, sizeof err, "run", "-m", mg, "--token-ids", IDS, "-o", gated_h5, "--quiet", "-t", "1",
                 "--dump", "attention,gates", NULL) ||
        test_cli(NULL, 0, err, sizeof err, "run", "-m", mb, "--token-ids", "7,6,5,8,9,10,11,12", "-o", other_h5,
                 "--quiet", "-t", "1", NULL)) {
        printf("\n    setup failed: %s\n", err);
        base_h5[0] = 0;
        return -1;
    }
    return 0;
}

static double jnum(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static double scalar(struct runfile *rf, const char *d)
{
    double v = NAN;
    struct ss_error e;
    CU_ASSERT_EQUAL(runfile_read_scalar(rf, d, &v, &e), SS_OK);
    return v;
}

/* relative difference (JSON carries 15 significant digits) */
static double rel(double a, double b)
{
    if (isnan(a) || isnan(b))
        return INFINITY;
    return fabs(a - b) / fmax(1e-300, fmax(fabs(a), fabs(b)));
}

/* max relative |json - file| over the /summary scalars and per-layer values of one run */
static double check_run(const char *path, json_t *j, int gated)
{
    struct runfile *rf;
    struct ss_error e;
    CU_ASSERT_EQUAL_FATAL(runfile_open(&rf, path, &e), SS_OK);
    double md = 0;
    const char *names[] = {"first_token_share", "first_token_share_incl0", "max_activation_mean", "max_activation",
                           "perplexity", "sink_rate"};
    for (int i = 0; i < 6; i++) {
        char d[128];
        snprintf(d, sizeof d, "/summary/%s", names[i]);
        md = fmax(md, rel(jnum(j, names[i]), scalar(rf, d)));
    }
    if (gated)
        md = fmax(md, rel(jnum(j, "gate_mean"), scalar(rf, "/summary/gate_mean")));
    else
        CU_ASSERT(json_is_null(json_object_get(j, "gate_mean")));
    struct rf_array ftl, fts, am, gm;
    CU_ASSERT_EQUAL_FATAL(runfile_read(rf, "/stats/first_token_share_layer", &ftl, &e), SS_OK);
    CU_ASSERT_EQUAL_FATAL(runfile_read(rf, "/stats/first_token_share", &fts, &e), SS_OK);
    CU_ASSERT_EQUAL_FATAL(runfile_read(rf, "/stats/act_max", &am, &e), SS_OK);
    int L = (int)fts.shape[0], H = (int)fts.shape[1];
    json_t *layers = json_object_get(j, "layers");
    CU_ASSERT_EQUAL_FATAL((int)json_array_size(layers), L);
    double mean_l = 0;
    for (int l = 0; l < L; l++) {
        json_t *lo = json_array_get(layers, l);
        md = fmax(md, rel(jnum(lo, "first_token_share"), ftl.data[l]));
        md = fmax(md, rel(jnum(json_object_get(lo, "act_max"), "ffn_residual"), am.data[l * 4 + 3]));
        mean_l += ftl.data[l] / L;
        if (gated) {
            CU_ASSERT_EQUAL_FATAL(runfile_read(rf, "/stats/gate_mean", &gm, &e), SS_OK);
            double g = 0;
            for (int h = 0; h < H; h++)
                g += gm.data[l * H + h] / H;
            md = fmax(md, rel(jnum(lo, "gate_mean"), g));
            rf_array_free(&gm);
        }
    }
    /* schema: F-Attn is the mean over layers of the per-layer share */
    md = fmax(md, rel(jnum(j, "first_token_share"), mean_l));
    rf_array_free(&ftl);
    rf_array_free(&fts);
    rf_array_free(&am);
    runfile_close(rf);
    return md;
}

static void test_e2e_summary(void)
{
    if (setup()) {
        CU_FAIL("synth/run failed");
        return;
    }
    CU_ASSERT_EQUAL_FATAL(test_cli(out, sizeof out, err, sizeof err, "summary", base_h5, "--format", "json", NULL), 0);
    json_t *j = json_loads(out, 0, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    double mb = check_run(base_h5, j, 0);
    json_decref(j);
    CU_ASSERT_EQUAL_FATAL(test_cli(out, sizeof out, err, sizeof err, "summary", gated_h5, "--per-head", "--format",
                                   "json", NULL), 0);
    j = json_loads(out, 0, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    double mg = check_run(gated_h5, j, 1);
    json_decref(j);
    printf("\n    summary json vs run file: max relative diff baseline %g, gated %g\n", mb, mg);
    CU_ASSERT(mb < 1e-13);
    CU_ASSERT(mg < 1e-13);
    const char *fmts[] = {"text", "csv", "markdown", "latex"};
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "summary", gated_h5, "--per-layer", "--per-head",
                                 "--format", fmts[i], NULL), 0);
}

static void test_e2e_compare_audit(void)
{
    if (setup()) {
        CU_FAIL("synth/run failed");
        return;
    }
    CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "compare", base_h5, gated_h5, NULL), 0);
    CU_ASSERT_EQUAL(err[0], 0); /* same tokens, same settings */
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "gated/base"));
    CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "compare", base_h5, other_h5, NULL), 0);
    printf("\n%s", err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "context_length 8"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "different tokens"));

    /* audit around the file's own largest per-layer share */
    struct runfile *rf;
    struct ss_error e;
    struct rf_array ftl;
    CU_ASSERT_EQUAL_FATAL(runfile_open(&rf, base_h5, &e), SS_OK);
    CU_ASSERT_EQUAL_FATAL(runfile_read(rf, "/stats/first_token_share_layer", &ftl, &e), SS_OK);
    double mx = 0;
    for (size_t i = 0; i < ftl.n; i++)
        mx = fmax(mx, ftl.data[i]);
    rf_array_free(&ftl);
    runfile_close(rf);
    char below[32], above[32];
    snprintf(below, sizeof below, "%.9f", mx - 1e-6);
    snprintf(above, sizeof above, "%.9f", mx + 1e-6);
    CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "audit", base_h5, "--max-first-token-share", below, NULL), 1);
    CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "audit", base_h5, "--max-first-token-share", above, NULL), 0);
    CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "audit", gated_h5, "--max-first-token-share", "1",
                             "--max-sink-rate", "1", "--max-activation", "1e9", "--format", "json", NULL), 0);
}

SS_SUITE(analyze_e2e)
{
    CU_pSuite s = CU_add_suite("analyze_e2e", NULL, NULL);
    CU_add_test(s, "summary of real runs matches the file", test_e2e_summary);
    CU_add_test(s, "compare and audit of real runs", test_e2e_compare_audit);
}
