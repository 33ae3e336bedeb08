/* tests/test_mpi.c — `mpirun -np N sinkscope run` (the MPI build, build/mpi/sinkscope,
 * made by `make test` when Open MPI is installed) against the one-process run of the
 * same windows: the same file, byte for byte in every dataset and attribute (the
 * timing attributes and `created` aside), for N = 2 and 3, on a reference fixture and
 * a demo checkpoint, dumps included; a rank killed mid-run fails the job with one
 * line naming it and no output; --resume with another N then finishes it identically.
 * Without Open MPI or the MPI build the tests are listed as skips (failures under CI=true). */
#include <hdf5.h>
#include <hdf5_hl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_tokenizer_util.h"
#include "test_util.h"

#define MPI_BIN "build/mpi/sinkscope"
#define CORPUS "demo/heldout.txt"
#define DEMO_MODEL "demo/models/gated_headwise"

/* The gated_elementwise fixture (3 layers, vocab 320) with a byte-level tokenizer, so --corpus
 * works; made by the first test that asks (tok_hand asserts, so not in a suite init). */
static const char *fixture(void)
{
    static char dir[512];
    if (dir[0])
        return dir;
    const char *d = tok_hand("mpi-fixture", NULL, NULL, NULL, NULL, NULL, NULL, NULL);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cp tests/fixtures/gated_elementwise/config.json "
             "tests/fixtures/gated_elementwise/model.safetensors %s/", d ? d : "/nonexistent");
    CU_ASSERT_FATAL(d && system(cmd) == 0);
    snprintf(dir, sizeof dir, "%s", d);
    return dir;
}

/* Open MPI and the MPI build are there; else a listed skip. */
static int mpi_ready(void)
{
    if (system("command -v mpirun >/dev/null 2>&1") != 0) {
        test_skip("mpi: Open MPI is not installed (make deps MPI=1)");
        return 0;
    }
    if (access(MPI_BIN, X_OK) != 0) {
        test_skip("mpi: " MPI_BIN " is not built (make test builds it when Open MPI is installed)");
        return 0;
    }
    if (geteuid() == 0) { /* CI runs as root, which mpirun refuses unless told */
        setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
        setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    }
    return 1;
}

/* Run `mpirun --oversubscribe ARGS` (a shell command line) with its output in err; returns the exit status. */
static int mpirun(char *err, size_t nerr, const char *fmt, ...)
{
    char args[3000], cmd[4000], log[600];
    snprintf(log, sizeof log, "%s/mpirun.log", test_tmpdir("mpi-log"));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "mpirun --oversubscribe %s >%s 2>&1", args, log);
    int rc = system(cmd);
    size_t n;
    char *text = test_read_file(log, &n);
    snprintf(err, nerr, "%s", text ? text : "");
    free(text);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
}

/* ---- byte comparison of two run files ------------------------------------------------ */

static int diff_lines; /* differences printed by the current comparison (the first few only) */

static void print_diff(const char *what)
{
    if (diff_lines++ < 6)
        printf("\n    differs: %s", what);
}

static int ignored_attr(const char *name)
{
    return !strcmp(name, "created") || !strncmp(name, "time_", 5);
}

/* The values of attribute or dataset a equal those of b: type, shape, bytes (variable-length strings by content). */
static int values_equal(hid_t a, hid_t b, int is_attr, const char *what)
{
    hid_t ta = is_attr ? H5Aget_type(a) : H5Dget_type(a), tb = is_attr ? H5Aget_type(b) : H5Dget_type(b);
    hid_t sa = is_attr ? H5Aget_space(a) : H5Dget_space(a), sb = is_attr ? H5Aget_space(b) : H5Dget_space(b);
    int rank = H5Sget_simple_extent_ndims(sa), same = H5Tequal(ta, tb) > 0 && rank == H5Sget_simple_extent_ndims(sb);
    hsize_t da[8] = {0}, db[8] = {0};
    if (same && rank > 0 && rank <= 8) {
        H5Sget_simple_extent_dims(sa, da, NULL);
        H5Sget_simple_extent_dims(sb, db, NULL);
        same = !memcmp(da, db, sizeof da);
    }
    size_t n = (size_t)H5Sget_simple_extent_npoints(sa), vlen = H5Tis_variable_str(ta) > 0;
    size_t bytes = n * (vlen ? sizeof(char *) : H5Tget_size(ta));
    char *va = same ? calloc(1, bytes + 1) : NULL, *vb = same ? calloc(1, bytes + 1) : NULL;
    if (va && vb) {
        int ok = is_attr ? H5Aread(a, ta, va) >= 0 && H5Aread(b, ta, vb) >= 0
                         : H5Dread(a, ta, H5S_ALL, H5S_ALL, H5P_DEFAULT, va) >= 0 &&
                               H5Dread(b, ta, H5S_ALL, H5S_ALL, H5P_DEFAULT, vb) >= 0;
        same = ok;
        for (size_t i = 0; ok && vlen && i < n; i++) {
            const char *x = ((char **)va)[i], *y = ((char **)vb)[i];
            same &= (x && y) ? !strcmp(x, y) : x == y;
        }
        if (ok && !vlen)
            same = !memcmp(va, vb, bytes);
        if (ok && vlen) {
            H5Dvlen_reclaim(ta, sa, H5P_DEFAULT, va);
            H5Dvlen_reclaim(ta, sa, H5P_DEFAULT, vb);
        }
    }
    if (!same)
        print_diff(what);
    free(va);
    free(vb);
    H5Tclose(ta);
    H5Tclose(tb);
    H5Sclose(sa);
    H5Sclose(sb);
    return same;
}

static herr_t add_scale_name(hid_t did, unsigned dim, hid_t scale, void *op)
{
    char *buf = op;
    size_t len = strlen(buf);
    if (len < 500)
        H5Iget_name(scale, buf + len, 512 - len);
    strcat(buf, ";");
    return 0;
}

/* Dimension-scale bookkeeping (DIMENSION_LIST, REFERENCE_LIST) holds object references,
 * file addresses that differ between equal files: the scales are compared by name. */
static int scales_equal(hid_t oa, hid_t ob, const char *attr, const char *what)
{
    if (!strcmp(attr, "REFERENCE_LIST")) /* the other side of DIMENSION_LIST, checked there */
        return 1;
    hid_t sp = H5Dget_space(oa);
    int rank = H5Sget_simple_extent_ndims(sp), same = 1;
    H5Sclose(sp);
    for (int d = 0; d < rank; d++) {
        char na[512] = "", nb[512] = "";
        H5DSiterate_scales(oa, (unsigned)d, NULL, add_scale_name, na);
        H5DSiterate_scales(ob, (unsigned)d, NULL, add_scale_name, nb);
        same &= !strcmp(na, nb);
    }
    if (!same)
        print_diff(what);
    return same;
}

/* Every attribute of oa (timing aside) has an equal one on ob; returns the differences. */
static int attrs_differ(hid_t oa, hid_t ob, const char *path)
{
    H5O_info_t ia, ib;
    H5Oget_info(oa, &ia);
    H5Oget_info(ob, &ib);
    int diffs = ia.num_attrs != ib.num_attrs;
    if (diffs)
        printf("\n    %s: %d vs %d attributes", path, (int)ia.num_attrs, (int)ib.num_attrs);
    for (hsize_t i = 0; i < ia.num_attrs; i++) {
        char name[256], what[600];
        H5Aget_name_by_idx(oa, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name, H5P_DEFAULT);
        if (ignored_attr(name))
            continue;
        snprintf(what, sizeof what, "%s attribute %s", path, name);
        if (H5Aexists(ob, name) <= 0) {
            printf("\n    missing: %s", what);
            diffs++;
            continue;
        }
        if (!strcmp(name, "DIMENSION_LIST") || !strcmp(name, "REFERENCE_LIST")) {
            diffs += !scales_equal(oa, ob, name, what);
            continue;
        }
        hid_t aa = H5Aopen(oa, name, H5P_DEFAULT), ab = H5Aopen(ob, name, H5P_DEFAULT);
        diffs += !values_equal(aa, ab, 1, what);
        H5Aclose(aa);
        H5Aclose(ab);
    }
    return diffs;
}

struct cmp {
    hid_t other;
    int objects, diffs;
};

static herr_t cmp_object(hid_t loc, const char *name, const H5O_info_t *info, void *op)
{
    struct cmp *c = op;
    c->objects++;
    hid_t oa = H5Oopen(loc, name, H5P_DEFAULT), ob = -1;
    H5E_BEGIN_TRY { ob = H5Oopen(c->other, name, H5P_DEFAULT); } H5E_END_TRY;
    if (ob < 0) {
        printf("\n    missing: /%s", name);
        c->diffs++;
    } else {
        c->diffs += attrs_differ(oa, ob, name);
        if (info->type == H5O_TYPE_DATASET)
            c->diffs += !values_equal(oa, ob, 0, name);
        H5Oclose(ob);
    }
    H5Oclose(oa);
    return 0;
}

static herr_t count_object(hid_t loc, const char *name, const H5O_info_t *info, void *op)
{
    ++*(int *)op;
    return 0;
}

/* 1 when a and b hold the same objects, datasets and attributes byte for byte (timing aside). */
static int runs_identical(const char *a, const char *b)
{
    hid_t fa = H5Fopen(a, H5F_ACC_RDONLY, H5P_DEFAULT), fb = H5Fopen(b, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (fa < 0 || fb < 0) {
        printf("\n    cannot open %s", fa < 0 ? a : b);
        if (fa >= 0)
            H5Fclose(fa);
        return 0;
    }
    struct cmp c = {fb, 0, 0};
    diff_lines = 0;
    int in_b = 0;
    H5Ovisit(fa, H5_INDEX_NAME, H5_ITER_INC, cmp_object, &c);
    H5Ovisit(fb, H5_INDEX_NAME, H5_ITER_INC, count_object, &in_b);
    if (in_b != c.objects) {
        printf("\n    %d objects in %s, %d in %s", c.objects, a, in_b, b);
        c.diffs++;
    }
    H5Fclose(fa);
    H5Fclose(fb);
    printf("\n  %s vs %s: %d objects, %d differences", a, b, c.objects, c.diffs);
    return c.diffs == 0 && c.objects > 0;
}

/* ---- tests ---------------------------------------------------------------------------------- */

/* The serial reference (in-process, the default build) and N = 2 and 3 ranks of the MPI build. */
static void check_identical(const char *tag, const char *model, const char *opts)
{
    const char *dir = test_tmpdir(tag);
    char ref[600], out[600], partial[700], args[1500], err[8192];
    snprintf(ref, sizeof ref, "%s/serial.h5", dir);
    snprintf(args, sizeof args, "sinkscope run -m %s --corpus " CORPUS " %s -t 1 --quiet -o %s", model, opts, ref);
    char *argv[40];
    int argc = 0;
    char copy[1500];
    snprintf(copy, sizeof copy, "%s", args);
    for (char *t = strtok(copy, " "); t && argc < 40; t = strtok(NULL, " "))
        argv[argc++] = t;
    CU_ASSERT_EQUAL_FATAL(test_cli_argv(NULL, 0, err, sizeof err, argc - 1, (const char *const *)argv + 1), 0);
    for (int np = 2; np <= 3; np++) {
        snprintf(out, sizeof out, "%s/np%d.h5", dir, np);
        snprintf(partial, sizeof partial, "%s.partial", out);
        int rc = mpirun(err, sizeof err, "-np %d " MPI_BIN " run -m %s --corpus " CORPUS " %s -t 1 --quiet -o %s", np,
                        model, opts, out);
        if (rc)
            printf("\n  mpirun -np %d failed (%d): %s", np, rc, err);
        CU_ASSERT_EQUAL_FATAL(rc, 0);
        CU_ASSERT(runs_identical(ref, out));
        CU_ASSERT(access(partial, F_OK) != 0); /* the records are gone once OUT is in place */
    }
}

static void test_mpi_fixture(void)
{
    if (mpi_ready())
        check_identical("mpi-fixture-run", fixture(), "-c 24 --max-seqs 5 --dump attention,gates");
}

static void test_mpi_demo(void)
{
    if (mpi_ready())
        check_identical("mpi-demo-run", DEMO_MODEL, "-c 32 --max-seqs 4 --dump attention,hidden --layers 0,-1");
}

/* Rank 1 of 3 dies (SIGKILL) after its first window: one line naming it, no OUT; --resume on 2 ranks finishes. */
static void test_mpi_killed_rank_resume(void)
{
    if (!mpi_ready())
        return;
    const char *dir = test_tmpdir("mpi-kill");
    char ref[600], out[600], partial[700], run[1200], err[8192];
    snprintf(ref, sizeof ref, "%s/serial.h5", dir);
    snprintf(out, sizeof out, "%s/out.h5", dir);
    snprintf(partial, sizeof partial, "%s.partial", out);
    CU_ASSERT_EQUAL_FATAL(test_cli(NULL, 0, err, sizeof err, "run", "-m", fixture(), "--corpus", CORPUS, "-c", "24",
                                   "--max-seqs", "7", "--dump", "attention", "-t", "1", "--quiet", "-o", ref, NULL), 0);
    snprintf(run, sizeof run, "run -m %s --corpus " CORPUS " -c 24 --max-seqs 7 --dump attention -t 1 --quiet -o %s",
             fixture(), out);
    /* -q: mpirun's own report left out, so the line is sinkscope's */
    int rc = mpirun(err, sizeof err, "-q -np 1 %s %s : -np 1 env SINKSCOPE_TEST_KILL_AFTER=1 %s %s : -np 1 %s %s",
                    MPI_BIN, run, MPI_BIN, run, MPI_BIN, run);
    printf("\n  killed rank: exit %d, said: %s", rc, err);
    CU_ASSERT(rc != 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "rank 1 died"));
    CU_ASSERT_EQUAL(test_count_lines(err), 1);
    CU_ASSERT(access(out, F_OK) != 0);
    CU_ASSERT(access(partial, F_OK) == 0);
    rc = mpirun(err, sizeof err, "-np 2 %s %s --resume", MPI_BIN, run);
    if (rc)
        printf("\n  resume failed (%d): %s", rc, err);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT(runs_identical(ref, out));
    CU_ASSERT(access(partial, F_OK) != 0);
}

/* The comparison can fail: a run of other windows differs. */
static void test_mpi_compare_sees_difference(void)
{
    const char *dir = test_tmpdir("mpi-cmp");
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/a.h5", dir);
    snprintf(b, sizeof b, "%s/b.h5", dir);
    CU_ASSERT_EQUAL_FATAL(test_cli(NULL, 0, NULL, 0, "run", "-m", fixture(), "--corpus", CORPUS, "-c", "24",
                                   "--max-seqs", "2", "-t", "1", "--quiet", "-o", a, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(test_cli(NULL, 0, NULL, 0, "run", "-m", fixture(), "--corpus", CORPUS, "-c", "24",
                                   "--max-seqs", "2", "--stride", "12", "-t", "1", "--quiet", "-o", b, NULL), 0);
    CU_ASSERT(runs_identical(a, a));
    CU_ASSERT(!runs_identical(a, b));
}

SS_SUITE(mpi)
{
    CU_pSuite s = CU_add_suite("mpi", NULL, NULL);
    CU_add_test(s, "the file comparison sees a difference", test_mpi_compare_sees_difference);
    CU_add_test(s, "mpirun -np 2 and 3 equal one process on a fixture", test_mpi_fixture);
    CU_add_test(s, "mpirun -np 2 and 3 equal one process on a demo checkpoint", test_mpi_demo);
    CU_add_test(s, "a killed rank fails the job; --resume on 2 ranks finishes it", test_mpi_killed_rank_resume);
}
