/* Run-file reader (runfile/runfile.h) on files made by the runmaker, and on bad files:
 * each must give one line naming the file, never a crash. */
#include <CUnit/CUnit.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../runfile/runfile.h"
#include "test_runmaker.h"
#include "test_util.h"

static const char *make_run(const char *tag, const struct test_run_spec *s)
{
    static char paths[16][600];
    static int next;
    const char *dir = test_tmpdir(tag);
    char *p = paths[next++ % 16];
    snprintf(p, 600, "%s/run.h5", dir);
    CU_ASSERT_EQUAL_FATAL(test_runmaker_write(p, s), 0);
    return p;
}

static void test_read_values(void)
{
    struct test_run_spec s;
    test_run_spec_default(&s);
    s.n_layers = 3;
    s.n_heads = 4;
    s.gate_kind = "headwise";
    const char *path = make_run("rf-values", &s);
    struct runfile *rf;
    struct ss_error e = {0};
    CU_ASSERT_EQUAL_FATAL(runfile_open(&rf, path, &e), SS_OK);
    CU_ASSERT_STRING_EQUAL(runfile_path(rf), path);

    struct rf_array a;
    CU_ASSERT_EQUAL_FATAL(runfile_read(rf, "/stats/first_token_share", &a, &e), SS_OK);
    CU_ASSERT_EQUAL(a.ndim, 2);
    CU_ASSERT_EQUAL(a.shape[0], 3);
    CU_ASSERT_EQUAL(a.shape[1], 4);
    CU_ASSERT_EQUAL(a.n, 12);
    double md = 0;
    for (int l = 0; l < 3; l++)
        for (int h = 0; h < 4; h++)
            md = fmax(md, fabs(a.data[l * 4 + h] - test_runmaker_fts(&s, l, h)));
    printf("\n    first_token_share max diff %g\n", md);
    CU_ASSERT(md < 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(a.data[2 * 4 + 3], 0.5 + 0.08 + 0.03, 1e-12);
    rf_array_free(&a);
    CU_ASSERT_PTR_NULL(a.data);

    /* int32 and float32 datasets come back as double */
    CU_ASSERT_EQUAL_FATAL(runfile_read(rf, "/tokens", &a, &e), SS_OK);
    CU_ASSERT_EQUAL(a.shape[0], 2);
    CU_ASSERT_EQUAL(a.shape[1], 8);
    CU_ASSERT_EQUAL(a.data[9], 9);
    rf_array_free(&a);
    CU_ASSERT_EQUAL_FATAL(runfile_read(rf, "/stats/nll", &a, &e), SS_OK);
    CU_ASSERT_DOUBLE_EQUAL(a.data[0], log(20), 1e-6);
    CU_ASSERT(isnan(a.data[7]));
    rf_array_free(&a);

    double v = 0;
    CU_ASSERT_EQUAL(runfile_read_scalar(rf, "/summary/perplexity", &v, &e), SS_OK);
    CU_ASSERT_DOUBLE_EQUAL(v, 20, 1e-5);
    CU_ASSERT_EQUAL(runfile_read_scalar(rf, "/stats/first_token_share", &v, &e), SS_ERR_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "not a scalar"));

    int64_t want[2] = {3, -1};
    CU_ASSERT_EQUAL(runfile_read_shaped(rf, "/stats/attn_entropy", 2, want, &a, &e), SS_OK);
    CU_ASSERT_DOUBLE_EQUAL(a.data[5], 1.11, 1e-12);
    rf_array_free(&a);
    int64_t bad[2] = {2, 4};
    CU_ASSERT_EQUAL(runfile_read_shaped(rf, "/stats/attn_entropy", 2, bad, &a, &e), SS_ERR_INPUT);
    printf("    %s\n", e.msg);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, path));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "[3, 4]"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "[2, 4]"));
    CU_ASSERT_PTR_NULL(a.data);

    int nd;
    int64_t sh[4];
    CU_ASSERT_EQUAL(runfile_shape(rf, "/stats/act_top_index", &nd, sh, &e), SS_OK);
    CU_ASSERT_EQUAL(nd, 4);
    CU_ASSERT_EQUAL(sh[0], 3);
    CU_ASSERT_EQUAL(sh[1], 4);
    CU_ASSERT_EQUAL(sh[2], 10);
    CU_ASSERT_EQUAL(sh[3], 3);

    CU_ASSERT_EQUAL(runfile_read(rf, "/stats/nope", &a, &e), SS_ERR_INPUT);
    printf("    %s\n", e.msg);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, path));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "/stats/nope missing"));
    CU_ASSERT_EQUAL(runfile_read(rf, "/nogroup/x", &a, &e), SS_ERR_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "missing"));
    CU_ASSERT_EQUAL(runfile_read(rf, "/token_text", &a, &e), SS_ERR_INPUT); /* strings */
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "not numeric"));

    CU_ASSERT_EQUAL(runfile_has(rf, "/stats/gate_mean"), 1);
    CU_ASSERT_EQUAL(runfile_has(rf, "/stats"), 0);      /* a group, not a dataset */
    CU_ASSERT_EQUAL(runfile_has(rf, "/attention/layer_00"), 0);
    CU_ASSERT_EQUAL(runfile_has(rf, "stats/gate_mean"), 0); /* not absolute */

    char buf[256];
    CU_ASSERT_EQUAL(runfile_attr_string(rf, NULL, "schema", buf, sizeof buf, &e), SS_OK);
    CU_ASSERT_STRING_EQUAL(buf, "sinkscope/1");
    CU_ASSERT_EQUAL(runfile_attr_string(rf, NULL, "gate_kind", buf, sizeof buf, &e), SS_OK);
    CU_ASSERT_STRING_EQUAL(buf, "headwise");
    CU_ASSERT_EQUAL(runfile_attr_string(rf, NULL, "n_heads", buf, sizeof buf, &e), SS_OK);
    CU_ASSERT_STRING_EQUAL(buf, "4");
    CU_ASSERT_EQUAL(runfile_attr_string(rf, "/stats/attn_entropy", "units", buf, sizeof buf, &e), SS_OK);
    CU_ASSERT_STRING_EQUAL(buf, "nats");
    CU_ASSERT_EQUAL(runfile_attr_double(rf, NULL, "sink_epsilon", &v, &e), SS_OK);
    CU_ASSERT_DOUBLE_EQUAL(v, 0.3, 1e-15);
    CU_ASSERT_EQUAL(runfile_attr_double(rf, NULL, "n_layers", &v, &e), SS_OK);
    CU_ASSERT_EQUAL(v, 3);
    CU_ASSERT_EQUAL(runfile_attr_double(rf, "/stats/sink_rate", "sink_epsilon", &v, &e), SS_OK);
    CU_ASSERT_EQUAL(runfile_attr_double(rf, NULL, "gate_kind", &v, &e), SS_ERR_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "not a number"));
    CU_ASSERT_EQUAL(runfile_attr_string(rf, NULL, "nope", buf, sizeof buf, &e), SS_ERR_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "'nope'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, path));
    CU_ASSERT_EQUAL(runfile_attr_string(rf, "/nope", "x", buf, sizeof buf, &e), SS_ERR_INPUT);

    char **txt;
    int n;
    CU_ASSERT_EQUAL_FATAL(runfile_token_text(rf, 0, &txt, &n, &e), SS_OK);
    CU_ASSERT_EQUAL(n, 8);
    CU_ASSERT_STRING_EQUAL(txt[0], "tok0");
    CU_ASSERT_STRING_EQUAL(txt[1], "<|endoftext|>");
    CU_ASSERT_STRING_EQUAL(txt[2], " a&b_%\xc3\xa9");
    runfile_strings_free(txt, n);
    CU_ASSERT_EQUAL_FATAL(runfile_token_text(rf, 1, &txt, &n, &e), SS_OK);
    CU_ASSERT_STRING_EQUAL(txt[0], "tok8");
    runfile_strings_free(txt, n);
    CU_ASSERT_EQUAL(runfile_token_text(rf, 2, &txt, &n, &e), SS_ERR_INPUT);
    CU_ASSERT_PTR_NULL(txt);
    runfile_close(rf);
}

static void test_slab_and_dumps(void)
{
    struct test_run_spec s;
    test_run_spec_default(&s);
    s.with_attention = 1;
    s.with_gates = 1;
    s.gate_kind = "elementwise";
    s.dump_gzip = 1;
    const char *path = make_run("rf-slab", &s);
    struct runfile *rf;
    struct ss_error e = {0};
    CU_ASSERT_EQUAL_FATAL(runfile_open(&rf, path, &e), SS_OK);
    int64_t st[4] = {1, 1, 0, 0}, ct[4] = {1, 1, 8, 8};
    struct rf_array a;
    CU_ASSERT_EQUAL_FATAL(runfile_read_slab(rf, "/attention/layer_01", st, ct, &a, &e), SS_OK);
    CU_ASSERT_EQUAL(a.ndim, 4);
    CU_ASSERT_EQUAL(a.shape[2], 8);
    CU_ASSERT_EQUAL(a.n, 64);
    double f = test_runmaker_fts(&s, 1, 1), md = 0;
    for (int q = 1; q < 8; q++) {
        double row = 0;
        for (int k = 0; k < 8; k++)
            row += a.data[q * 8 + k];
        md = fmax(md, fabs(row - 1));
        md = fmax(md, fabs(a.data[q * 8] - f));
    }
    printf("\n    attention slab: max |row sum - 1|, |A[q,0] - fts| %g\n", md);
    CU_ASSERT(md < 1e-6);
    CU_ASSERT_EQUAL(a.data[0 * 8 + 1], 0);
    rf_array_free(&a);
    int64_t st2[4] = {0, 0, 3, 0}, ct2[4] = {2, 2, 1, 8};
    CU_ASSERT_EQUAL_FATAL(runfile_read_slab(rf, "/attention/layer_00", st2, ct2, &a, &e), SS_OK);
    CU_ASSERT_EQUAL(a.n, 32);
    CU_ASSERT_DOUBLE_EQUAL(a.data[8 * 3 + 1], (1 - test_runmaker_fts(&s, 0, 1)) / 3, 1e-6);
    rf_array_free(&a);
    int64_t st3[4] = {0, 0, 4, 0}, ct3[4] = {1, 1, 5, 8};
    CU_ASSERT_EQUAL(runfile_read_slab(rf, "/attention/layer_00", st3, ct3, &a, &e), SS_ERR_INPUT);
    printf("    %s\n", e.msg);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "outside"));
    char buf[64];
    CU_ASSERT_EQUAL(runfile_attr_string(rf, "/attention/layer_00", "heads", buf, sizeof buf, &e), SS_OK);
    CU_ASSERT_STRING_EQUAL(buf, "0,1");
    int hd[3] = {-1, -1, -1};
    CU_ASSERT_EQUAL(runfile_dumped_heads(rf, "/attention/layer_00", 2, 4, hd, &e), SS_OK);
    CU_ASSERT(hd[0] == 0 && hd[1] == 1);
    CU_ASSERT_EQUAL(runfile_dumped_heads(rf, "/gates/layer_00", 3, 4, hd, &e), SS_OK); /* no attribute: 0..n-1 */
    CU_ASSERT(hd[0] == 0 && hd[1] == 1 && hd[2] == 2);
    CU_ASSERT_EQUAL(runfile_dumped_heads(rf, "/attention/layer_00", 3, 4, hd, &e), SS_ERR_INPUT);
    printf("    %s\n", e.msg);
    CU_ASSERT(strncmp(e.msg, path, strlen(path)) == 0 && strstr(e.msg, "names 2"));
    CU_ASSERT_EQUAL(runfile_dumped_heads(rf, "/attention/layer_00", 2, 1, hd, &e), SS_ERR_INPUT);
    printf("    %s\n", e.msg);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "names head 1 (the model has 1)"));
    int nd;
    int64_t sh[4];
    CU_ASSERT_EQUAL(runfile_shape(rf, "/gates/layer_00", &nd, sh, &e), SS_OK);
    CU_ASSERT_EQUAL(sh[3], 4);
    runfile_close(rf);
}

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    if (n)
        fwrite(p, 1, n, f);
    fclose(f);
}

/* Open must fail with SS_ERR_INPUT/IO and one line naming the file containing `what`. */
static void expect_open_error(const char *path, const char *what)
{
    struct runfile *rf = (struct runfile *)1;
    struct ss_error e = {0};
    enum ss_status s = runfile_open(&rf, path, &e);
    printf("    %s\n", e.msg);
    CU_ASSERT(s == SS_ERR_INPUT || s == SS_ERR_IO);
    CU_ASSERT_PTR_NULL(rf);
    CU_ASSERT_EQUAL(strncmp(e.msg, path, strlen(path)), 0);
    CU_ASSERT_PTR_NULL(strchr(e.msg, '\n'));
    if (what)
        CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, what));
    if (s == SS_OK)
        runfile_close(rf);
}

static void test_bad_files(void)
{
    const char *dir = test_tmpdir("rf-bad");
    char p[600];
    printf("\n");
    snprintf(p, sizeof p, "%s/missing.h5", dir);
    expect_open_error(p, "No such file");
    expect_open_error(dir, "directory");
    snprintf(p, sizeof p, "%s/empty.h5", dir);
    write_bytes(p, "", 0);
    expect_open_error(p, "empty");
    snprintf(p, sizeof p, "%s/text.h5", dir);
    const char *txt = "this is a text file, not HDF5\n";
    write_bytes(p, txt, strlen(txt));
    expect_open_error(p, "not an HDF5 file");
    snprintf(p, sizeof p, "%s/garbage.h5", dir);
    unsigned char g[4096];
    unsigned x = 12345;
    for (size_t i = 0; i < sizeof g; i++)
        g[i] = (unsigned char)((x = x * 1103515245u + 12345u) >> 16);
    write_bytes(p, g, sizeof g);
    expect_open_error(p, "not an HDF5 file");

    struct test_run_spec s;
    test_run_spec_default(&s);
    s.schema = "";
    snprintf(p, sizeof p, "%s/noschema.h5", dir);
    CU_ASSERT_EQUAL_FATAL(test_runmaker_write(p, &s), 0);
    expect_open_error(p, "not a sinkscope run file (no root attribute 'schema')");
    s.schema = "othertool/1";
    snprintf(p, sizeof p, "%s/foreign.h5", dir);
    CU_ASSERT_EQUAL_FATAL(test_runmaker_write(p, &s), 0);
    expect_open_error(p, "schema 'othertool/1'");
    s.schema = "sinkscope/2";
    snprintf(p, sizeof p, "%s/newer.h5", dir);
    CU_ASSERT_EQUAL_FATAL(test_runmaker_write(p, &s), 0);
    expect_open_error(p, "newer");
    s.schema = "sinkscope/one";
    snprintf(p, sizeof p, "%s/malformed.h5", dir);
    CU_ASSERT_EQUAL_FATAL(test_runmaker_write(p, &s), 0);
    expect_open_error(p, "malformed schema");
    s.schema = NULL;
    s.vlen_strings = 1; /* global-heap strings are refused before libhdf5 reads them */
    snprintf(p, sizeof p, "%s/vlen.h5", dir);
    CU_ASSERT_EQUAL_FATAL(test_runmaker_write(p, &s), 0);
    expect_open_error(p, "variable-length string");
    s.vlen_strings = 0;
    /* fuzz_runfile's crash: a vlen attribute whose corrupt global-heap object made
     * libhdf5's H5HG_read segfault; now refused with one line. */
    expect_open_error("fuzz/crashes/runfile-hdf5-H5HG_read-overlap.h5", "variable-length string");
    s.schema = "sinkscope/1.3"; /* a minor version is fine */
    snprintf(p, sizeof p, "%s/minor.h5", dir);
    CU_ASSERT_EQUAL_FATAL(test_runmaker_write(p, &s), 0);
    struct runfile *rf;
    struct ss_error e;
    CU_ASSERT_EQUAL(runfile_open(&rf, p, &e), SS_OK);
    runfile_close(rf);
}

static const char *all_dsets[] = {
    "/tokens", "/stats/first_token_share", "/stats/first_token_share_layer", "/stats/sink_alpha",
    "/stats/sink_rate", "/stats/attn_entropy", "/stats/act_max", "/stats/act_top_index", "/stats/nll",
    "/stats/gate_mean", "/summary/perplexity", "/summary/first_token_share", "/attention/layer_00",
    "/attention/layer_01", "/gates/layer_01",
};

/* Read everything through the API; any outcome but a crash is fine; count errors. */
static hsize_t ids_in_use(void)
{
    hsize_t t = 0, s = 0, a = 0;
    H5Inmembers(H5I_DATATYPE, &t);
    H5Inmembers(H5I_DATASPACE, &s);
    H5Inmembers(H5I_ATTR, &a);
    return t + s + a;
}

static int read_everything(const char *path, int *opened)
{
    hsize_t ids0 = ids_in_use();
    struct runfile *rf;
    struct ss_error e = {0};
    *opened = 0;
    if (runfile_open(&rf, path, &e) != SS_OK) {
        CU_ASSERT_EQUAL(strncmp(e.msg, path, strlen(path)), 0);
        CU_ASSERT_EQUAL(ids_in_use(), ids0);
        return 1;
    }
    *opened = 1;
    int errors = 0;
    for (size_t i = 0; i < sizeof all_dsets / sizeof all_dsets[0]; i++) {
        struct rf_array a;
        if (runfile_read(rf, all_dsets[i], &a, &e) != SS_OK) {
            CU_ASSERT_EQUAL(strncmp(e.msg, path, strlen(path)), 0);
            errors++;
        }
        rf_array_free(&a);
    }
    char **t;
    int n;
    if (runfile_token_text(rf, 0, &t, &n, &e) == SS_OK)
        runfile_strings_free(t, n);
    else
        errors++;
    char buf[128];
    if (runfile_attr_string(rf, NULL, "gate_kind", buf, sizeof buf, &e) != SS_OK)
        errors++;
    runfile_close(rf);
    /* every HDF5 object the reader opened is closed again, error paths included */
    ssize_t left = H5Fget_obj_count((hid_t)H5F_OBJ_ALL, H5F_OBJ_ALL);
    if (left != 0)
        printf("\n    %s: %zd HDF5 objects left open\n", path, left);
    CU_ASSERT_EQUAL(left, 0);
    /* and every datatype, dataspace and attribute id */
    if (ids_in_use() != ids0)
        printf("\n    %s: %llu HDF5 ids leaked\n", path, (unsigned long long)(ids_in_use() - ids0));
    CU_ASSERT_EQUAL(ids_in_use(), ids0);
    return errors;
}

static void test_truncated_and_corrupt(void)
{
    struct test_run_spec s;
    test_run_spec_default(&s);
    s.gate_kind = "headwise";
    s.with_attention = 1;
    s.with_gates = 1;
    s.T = 32;
    const char *path = make_run("rf-corrupt", &s);
    size_t n = 0;
    char *orig = test_read_file(path, &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(orig);
    int opened;
    CU_ASSERT_EQUAL(read_everything(path, &opened), 0);
    CU_ASSERT_EQUAL(opened, 1);

    /* truncated at several points: must be refused at open */
    char p[700];
    snprintf(p, sizeof p, "%s.cut", path);
    size_t cuts[] = {8, 100, 1000, n / 3, n / 2, n - 100, n - 1};
    int refused = 0;
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        write_bytes(p, orig, cuts[i]);
        struct runfile *rf;
        struct ss_error e = {0};
        if (runfile_open(&rf, p, &e) == SS_OK) {
            runfile_close(rf);
        } else {
            refused++;
            if (i >= 2)
                CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "truncated"));
            if (i == 3)
                printf("\n    %s\n", e.msg);
        }
    }
    printf("    truncated files refused at open: %d of %zu\n", refused, sizeof cuts / sizeof cuts[0]);
    CU_ASSERT_EQUAL(refused, (int)(sizeof cuts / sizeof cuts[0]));

    /* garbage bytes over blocks of the file: errors or (wrong) values, never a crash */
    int trials = 0, failed_open = 0, failed_reads = 0;
    unsigned x = 777;
    for (size_t off = 0; off < n; off += n / 97 + 1) {
        char *c = malloc(n);
        memcpy(c, orig, n);
        size_t len = 64 + (off % 3) * 200;
        for (size_t i = off; i < off + len && i < n; i++)
            c[i] = (char)((x = x * 1103515245u + 12345u) >> 16);
        write_bytes(p, c, n);
        free(c);
        int errs = read_everything(p, &opened);
        trials++;
        failed_open += !opened;
        failed_reads += opened && errs;
    }
    printf("    corrupted copies: %d, refused at open %d, some reads failed %d\n", trials, failed_open,
           failed_reads);
    CU_ASSERT(failed_open + failed_reads > 0);
    free(orig);
    unlink(p);
}

SS_SUITE(runfile)
{
    CU_pSuite s = CU_add_suite("runfile", NULL, NULL);
    CU_add_test(s, "reads values, shapes, attributes, token text", test_read_values);
    CU_add_test(s, "reads slabs of dumps", test_slab_and_dumps);
    CU_add_test(s, "refuses bad files with one line naming the file", test_bad_files);
    CU_add_test(s, "truncated and corrupted files never crash", test_truncated_and_corrupt);
}
