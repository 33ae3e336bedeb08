/* The figure kinds of MoE and learned-sink runs (plots/kind_moe.c) on runmaker files with the
 * routing and sink datasets of tests/test_runmaker_moe.h: the data handed to gnuplot equals
 * the run file's, the PNG has the asked size, runs without the statistics are left out, and a
 * figure none of whose runs has them fails naming the run (exit 2, nothing written); a run file
 * whose routing datasets are incomplete is bad input to summary and plot alike. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <hdf5.h>

#include "test_runmaker.h"
#include "test_runmaker_moe.h"
#include "test_util.h"

static char moe_h5[600], base_h5[600];
static struct test_run_spec spec;

/* 4 layers (1 and 3 dense), 3 heads; base: the same without routing or sinks. */
static int make_runs(void)
{
    const char *d = test_tmpdir("plots-moe");
    test_run_spec_default(&spec);
    spec.n_layers = 4;
    spec.n_heads = 3;
    snprintf(moe_h5, sizeof moe_h5, "%s/moe.h5", d);
    snprintf(base_h5, sizeof base_h5, "%s/base.h5", d);
    return test_runmaker_write(moe_h5, &spec) || test_runmaker_add_moe(moe_h5, &spec, 1, 1) ||
           test_runmaker_write(base_h5, &spec);
}

/* Width and height of a PNG (its IHDR), or -1. */
static int png_size(const char *path, unsigned *w, unsigned *h)
{
    size_t n = 0;
    unsigned char *b = (unsigned char *)test_read_file(path, &n);
    int ok = b && n > 24 && !memcmp(b + 1, "PNG", 3);
    if (ok) {
        *w = (unsigned)b[16] << 24 | (unsigned)b[17] << 16 | (unsigned)b[18] << 8 | b[19];
        *h = (unsigned)b[20] << 24 | (unsigned)b[21] << 16 | (unsigned)b[22] << 8 | b[23];
    }
    free(b);
    return ok ? 0 : -1;
}

/* Data file k of a --script-only directory as n floats (NULL with a failure otherwise). */
static float *data_file(const char *dir, int k, size_t n)
{
    char p[700];
    size_t got = 0;
    snprintf(p, sizeof p, "%s/d%02d.f32", dir, k);
    float *v = (float *)test_read_file(p, &got);
    CU_ASSERT_EQUAL(got, n * sizeof(float));
    if (got != n * sizeof(float)) {
        free(v);
        return NULL;
    }
    return v;
}

/* expert-load: the three tables are expert_load, expert_load_pos0, expert_load_rest [layer, expert]. */
static void test_expert_load(void)
{
    CU_ASSERT_EQUAL_FATAL(make_runs(), 0);
    enum { L = 4, E = TEST_RUNMAKER_EXPERTS };
    const char *d = test_tmpdir("plots-moe-el");
    char out[700], sdir[700], err[2048];
    snprintf(out, sizeof out, "%s/el.png", d);
    snprintf(sdir, sizeof sdir, "%s/s", d);
    CU_ASSERT_EQUAL(test_cli(NULL, 0, err, sizeof err, "plot", "expert-load", base_h5, moe_h5, "-o", out,
                             "--script-only", sdir, NULL), 0); /* base is left out */
    static const double load[E] = {0.1, 0.2, 0.3, 0.4}, pos0[E] = {0, 0.5, 0, 0.5};
    float *a = data_file(sdir, 0, L * E), *b = data_file(sdir, 1, L * E);
    int bad = !a || !b;
    for (int l = 0; !bad && l < L; l++)
        for (int e = 0; e < E; e++) {
            float va = a[l * E + e], vb = b[l * E + e];
            bad |= l % 2 ? !(isnan(va) && isnan(vb)) /* dense: NaN, drawn blank */
                         : fabs(va - load[e]) > 1e-7 || fabs(vb - pos0[e]) > 1e-7;
        }
    CU_ASSERT_FALSE(bad);
    free(a);
    free(b);
    snprintf(out, sizeof out, "%s/el2.png", d);
    CU_ASSERT_EQUAL(test_cli(NULL, 0, err, sizeof err, "plot", "expert-load", moe_h5, "-o", out, "--size", "800,500",
                             NULL), 0);
    unsigned w = 0, h = 0;
    CU_ASSERT_EQUAL(png_size(out, &w, &h), 0);
    CU_ASSERT(w == 800 && h == 500);
}

/* learned-sink: the heatmaps are learned_sink_share and first_token_share [layer, head]. */
static void test_learned_sink(void)
{
    CU_ASSERT_EQUAL_FATAL(make_runs(), 0);
    enum { L = 4, H = 3 };
    const char *d = test_tmpdir("plots-moe-ls");
    char out[700], sdir[700], err[2048];
    snprintf(out, sizeof out, "%s/ls.png", d);
    snprintf(sdir, sizeof sdir, "%s/s", d);
    CU_ASSERT_EQUAL(test_cli(NULL, 0, err, sizeof err, "plot", "learned-sink", moe_h5, base_h5, "-o", out,
                             "--script-only", sdir, NULL), 0);
    float *s = data_file(sdir, 0, L * H), *f = data_file(sdir, 1, L * H);
    double ds = 0, df = 0;
    for (int l = 0; s && f && l < L; l++)
        for (int h = 0; h < H; h++) {
            ds = fmax(ds, fabs(s[l * H + h] - test_runmaker_lsink(l, h)));
            df = fmax(df, fabs(f[l * H + h] - test_runmaker_fts(&spec, l, h)));
        }
    printf("\n  learned-sink maps vs runmaker: max |diff| %g (sink), %g (first token)", ds, df);
    CU_ASSERT(s && f && ds < 1e-6 && df < 1e-6);
    free(s);
    free(f);
    snprintf(out, sizeof out, "%s/ls2.png", d);
    CU_ASSERT_EQUAL(test_cli(NULL, 0, err, sizeof err, "plot", "learned-sink", moe_h5, base_h5, "-o", out, NULL), 0);
    unsigned w = 0, h = 0;
    CU_ASSERT_EQUAL(png_size(out, &w, &h), 0);
    CU_ASSERT(w == 1400 && h == 560); /* the default 7 x 2.8 in at 200 dpi */
}

/* Neither kind draws a run without its statistics: exit 2 naming it, nothing written. */
static void test_missing(void)
{
    CU_ASSERT_EQUAL_FATAL(make_runs(), 0);
    const char *d = test_tmpdir("plots-moe-missing");
    char out[700], err[2048];
    snprintf(out, sizeof out, "%s/x.png", d);
    static const char *const kinds[2] = {"expert-load", "learned-sink"}, *const what[2] = {"routing", "learned-sink"};
    for (int k = 0; k < 2; k++) {
        CU_ASSERT_EQUAL(test_cli(NULL, 0, err, sizeof err, "plot", kinds[k], base_h5, "-o", out, NULL), 2);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, base_h5));
        CU_ASSERT_PTR_NOT_NULL(strstr(err, what[k]));
        struct stat st;
        CU_ASSERT_NOT_EQUAL(stat(out, &st), 0);
    }
}

/* /stats/expert_load_pos0 removed: one line naming the file and the dataset, exit 2. */
static void test_incomplete_routing(void)
{
    CU_ASSERT_EQUAL_FATAL(make_runs(), 0);
    hid_t f = H5Fopen(moe_h5, H5F_ACC_RDWR, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    CU_ASSERT(H5Ldelete(f, "/stats/expert_load_pos0", H5P_DEFAULT) >= 0);
    H5Fclose(f);
    char out[700], err[2048];
    snprintf(out, sizeof out, "%s/x.png", test_tmpdir("plots-moe-incomplete"));
    CU_ASSERT_EQUAL(test_cli(NULL, 0, err, sizeof err, "summary", moe_h5, NULL), 2);
    printf("\n  summary: %s", err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, moe_h5));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "expert_load_pos0"));
    CU_ASSERT_PTR_NULL(strchr(err, '\n') ? strchr(strchr(err, '\n') + 1, '\n') : NULL); /* one line */
    CU_ASSERT_EQUAL(test_cli(NULL, 0, err, sizeof err, "plot", "expert-load", moe_h5, "-o", out, NULL), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "expert_load_pos0"));
    struct stat st;
    CU_ASSERT_NOT_EQUAL(stat(out, &st), 0);
}

SS_SUITE(plots_moe)
{
    CU_pSuite s = CU_add_suite("plots_moe", NULL, NULL);
    CU_add_test(s, "expert-load: load, position 0 and rest tables; dense layers blank", test_expert_load);
    CU_add_test(s, "learned-sink: sink and first-token maps, PNG size", test_learned_sink);
    CU_add_test(s, "runs without routing or learned sinks: exit 2, nothing written", test_missing);
    CU_add_test(s, "incomplete routing datasets: summary and plot exit 2 naming the dataset", test_incomplete_routing);
}
