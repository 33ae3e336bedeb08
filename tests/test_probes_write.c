/* The run-file writer: statistics, dumps, dimension scales and attributes,
 * read back with plain HDF5 calls (and with h5py/xarray when Debian's are installed). */
#include <hdf5.h>
#include <hdf5_hl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../runfile/h5write.h"
#include "../probes/probes.h"
#include "test_probes_util.h"
#include "test_util.h"

static const struct probes_shape wshape = {2, 2, 1, 4, 8, 11, 4, 7}; /* elementwise gates */

/* Write a 2-sequence run with synthetic events to path; returns the probes (caller frees). */
static struct probes *write_run(const char *path, unsigned dump, int f16, const int *head_sel, int n_head_sel)
{
    struct probes_opts o = {0};
    o.shape = wshape;
    o.n_seqs = 2;
    o.sink_epsilon = 0.3;
    o.stats = 1;
    o.dump = dump;
    o.dump_f16 = f16;
    o.head_sel = head_sel;
    o.n_head_sel = n_head_sel;
    struct probes *p = NULL;
    struct ss_error err = {0};
    struct h5w *w = NULL;
    CU_ASSERT_EQUAL_FATAL(probes_new(&p, &o, &err), SS_OK);
    struct hook_set hooks;
    hook_set_init(&hooks);
    CU_ASSERT_EQUAL_FATAL(probes_subscribe(p, &hooks, &err), SS_OK);
    CU_ASSERT_EQUAL_FATAL(h5w_create(&w, path, &err), SS_OK);
    if (probes_create_datasets(p, w, 2, 1, &err) != SS_OK)
        printf("\n  %s", err.msg);
    CU_ASSERT_EQUAL_FATAL(err.status, SS_OK);
    static int32_t tokens[2][7];
    char *pieces[7];
    char text[7][8];
    for (int seq = 0; seq < 2; seq++) {
        for (int t = 0; t < 7; t++) {
            tokens[seq][t] = (t * 3 + seq) % 11;
            snprintf(text[t], sizeof text[t], "t%dé", tokens[seq][t]);
            pieces[t] = text[t];
        }
        CU_ASSERT_EQUAL(probes_seq_begin(p, w, seq, tokens[seq], &err), SS_OK);
        CU_ASSERT_EQUAL(test_fire_sequence(&hooks, &wshape, 11 + seq, 3, &err), 0);
        CU_ASSERT_EQUAL(probes_seq_end(p, seq, pieces, &err), SS_OK);
        if (err.msg[0])
            printf("\n  %s", err.msg);
    }
    CU_ASSERT_EQUAL(probes_write_results(p, w, &err), SS_OK);
    struct probes_meta m = {"test", "/no/model", "qwen3", "{}", 2, 2, 1, 4, 8, 11, "elementwise", "native",
                            1, 7, 2, "none", "token-ids", 0.3, 0.1, 0.2, 0.3};
    CU_ASSERT_EQUAL(probes_write_meta(w, &m, &err), SS_OK);
    CU_ASSERT_EQUAL(h5w_close(w, &err), SS_OK);
    if (err.msg[0])
        printf("\n  %s\n", err.msg);
    return p;
}

static int has_string_attr(hid_t obj, const char *name)
{
    if (H5Aexists(obj, name) <= 0)
        return 0;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT), t = H5Aget_type(a);
    int ok = H5Tget_class(t) == H5T_STRING && H5Tis_variable_str(t) == 0 && H5Tget_cset(t) == H5T_CSET_UTF8;
    /* fixed-length: variable-length strings are refused by readers (h5write.c says why) */
    H5Tclose(t);
    H5Aclose(a);
    return ok;
}

/* Every dataset: long_name + units, and each axis with a scale attached whose label is the dim name. */
static herr_t check_dataset(hid_t loc, const char *name, const H5O_info_t *info, void *op)
{
    int *bad = op;
    if (info->type != H5O_TYPE_DATASET)
        return 0;
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    if (H5DSis_scale(ds) > 0) {
        H5Dclose(ds);
        return 0;
    }
    if (!has_string_attr(ds, "long_name") || !has_string_attr(ds, "units")) {
        printf("\n  %s lacks long_name/units", name);
        (*bad)++;
    }
    hid_t sp = H5Dget_space(ds);
    int nd = H5Sget_simple_extent_ndims(sp);
    H5Sclose(sp);
    for (int i = 0; i < nd; i++) {
        char label[64] = "";
        if (H5DSget_num_scales(ds, i) != 1 || H5DSget_label(ds, i, label, sizeof label) <= 0) {
            printf("\n  %s axis %d has no dimension scale", name, i);
            (*bad)++;
        }
    }
    H5Dclose(ds);
    return 0;
}

static double read_scalar(hid_t f, const char *path)
{
    double v = NAN;
    hid_t ds = H5Dopen2(f, path, H5P_DEFAULT);
    if (ds >= 0) {
        H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v);
        H5Dclose(ds);
    }
    return v;
}

static void test_writer_stats_dims_attrs(void)
{
    const char *dir = test_tmpdir("probes-write");
    char path[600];
    snprintf(path, sizeof path, "%s/run.h5", dir);
    struct probes *p = write_run(path, 0, 0, NULL, 0);
    struct probes_results res;
    CU_ASSERT_EQUAL_FATAL(probes_results_compute(probes_run_stats(p), &res, NULL), SS_OK);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    /* every result dataset is in the file with its values */
    double maxdiff = 0;
    for (int i = 0; i < res.n; i++) {
        const struct probes_dataset *d = &res.d[i];
        hid_t ds = H5Dopen2(f, d->path, H5P_DEFAULT);
        CU_ASSERT(ds >= 0);
        if (ds < 0) {
            printf("\n  missing %s", d->path);
            continue;
        }
        size_t n = 1;
        for (int a = 0; a < d->ndim; a++)
            n *= d->shape[a];
        double *v = malloc(n * sizeof *v);
        H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
        for (size_t k = 0; k < n; k++)
            if (!(isnan(v[k]) && isnan(d->data[k])))
                maxdiff = fmax(maxdiff, fabs(v[k] - d->data[k]));
        free(v);
        H5Dclose(ds);
    }
    printf("\n  %d result datasets, max |file - computed| %g", res.n, maxdiff);
    CU_ASSERT(maxdiff == 0);
    CU_ASSERT(res.n >= 40);
    /* the summary names scripts rely on */
    static const char *const names[] = {"first_token_share", "max_activation_mean", "max_activation", "gate_mean",
                                        "perplexity", "sink_rate", "first_token_share_incl0", "n_tokens"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char sp[64];
        snprintf(sp, sizeof sp, "/summary/%s", names[i]);
        CU_ASSERT(isfinite(read_scalar(f, sp)));
    }
    CU_ASSERT_EQUAL(read_scalar(f, "/summary/n_tokens"), 14);
    int bad = 0;
    H5Ovisit(f, H5_INDEX_NAME, H5_ITER_NATIVE, check_dataset, &bad);
    CU_ASSERT_EQUAL(bad, 0);
    /* root attributes */
    static const char *const sattrs[] = {"schema", "tool_version", "created", "model_path", "model_type",
                                         "config_json", "gate_kind", "gate_mode", "bos", "input_source"};
    for (size_t i = 0; i < sizeof sattrs / sizeof *sattrs; i++)
        CU_ASSERT(has_string_attr(f, sattrs[i]));
    static const char *const nattrs[] = {"n_layers", "n_heads", "n_kv_heads", "head_dim", "hidden", "vocab",
                                         "threads", "context_length", "n_seqs", "sink_epsilon", "time_load_s",
                                         "time_forward_s", "time_write_s", "time_probes_s"};
    for (size_t i = 0; i < sizeof nattrs / sizeof *nattrs; i++)
        CU_ASSERT(H5Aexists(f, nattrs[i]) > 0);
    hid_t a = H5Aopen(f, "schema", H5P_DEFAULT), t = H5Aget_type(a);
    char schema[64] = "";
    CU_ASSERT(H5Tget_size(t) < sizeof schema && H5Aread(a, t, schema) >= 0);
    CU_ASSERT_STRING_EQUAL(schema, "sinkscope/1");
    H5Tclose(t);
    H5Aclose(a);
    /* /tokens and /token_text rows */
    int32_t tok[14];
    hid_t ds = H5Dopen2(f, "/tokens", H5P_DEFAULT);
    H5Dread(ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, tok);
    H5Dclose(ds);
    CU_ASSERT_EQUAL(tok[7 + 2], (2 * 3 + 1) % 11);
    ds = H5Dopen2(f, "/token_text", H5P_DEFAULT);
    static char txt[14][H5W_TEXT_BYTES];
    hid_t st = h5w_string_type(H5W_TEXT_BYTES);
    CU_ASSERT(H5Dread(ds, st, H5S_ALL, H5S_ALL, H5P_DEFAULT, txt) >= 0);
    CU_ASSERT_STRING_EQUAL(txt[9], "t7é");
    H5Tclose(st);
    H5Dclose(ds);
    CU_ASSERT(H5Lexists(f, "/attention", H5P_DEFAULT) <= 0); /* no dumps asked */
    H5Fclose(f);
    probes_results_free(&res);
    probes_free(p);
}

/* Capture the first (layer 1, head 1) map of sequence 1 from the synthetic events. */
static int capture_map(void *user, const struct hook_event *ev, struct ss_error *err)
{
    float *map = user;
    if (ev->layer == 1 && ev->head == 1)
        for (int i = 0; i < ev->shape[0]; i++)
            for (int k = 0; k < ev->shape[1]; k++)
                map[(ev->q0 + i) * 7 + k] = ev->data[i * ev->shape[1] + k];
    return 0;
}

static void check_dumps(int f16)
{
    const char *dir = test_tmpdir("probes-dump");
    char path[600];
    snprintf(path, sizeof path, "%s/run.h5", dir);
    int heads[1] = {1};
    struct probes *p = write_run(path, PROBES_DUMP_ATTENTION | PROBES_DUMP_GATES | PROBES_DUMP_HIDDEN |
                                           PROBES_DUMP_LOGITS, f16, heads, 1);
    probes_free(p);
    float want[49] = {0}, got[49];
    struct hook_set h;
    hook_set_init(&h);
    hook_set_add(&h, "attn_probs", capture_map, want, NULL);
    test_fire_sequence(&h, &wshape, 12, 7, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    hid_t ds = H5Dopen2(f, "/attention/layer_01", H5P_DEFAULT);
    CU_ASSERT_FATAL(ds >= 0);
    hid_t sp = H5Dget_space(ds);
    hsize_t dims[4], st[4] = {1, 0, 0, 0}, ct[4] = {1, 1, 7, 7};
    H5Sget_simple_extent_dims(sp, dims, NULL);
    CU_ASSERT(dims[0] == 2 && dims[1] == 1 && dims[2] == 7 && dims[3] == 7);
    H5Sselect_hyperslab(sp, H5S_SELECT_SET, st, NULL, ct, NULL);
    hid_t ms = H5Screate_simple(4, ct, NULL);
    CU_ASSERT(H5Dread(ds, H5T_NATIVE_FLOAT, ms, sp, H5P_DEFAULT, got) >= 0);
    double md = test_max_abs_diff(got, want, 49);
    printf("\n  attention dump (%s) max diff %g", f16 ? "f16" : "f32", md);
    CU_ASSERT(md <= (f16 ? 1e-3 : 0));
    CU_ASSERT_EQUAL(got[0 * 7 + 3], 0); /* above the diagonal */
    hid_t t = H5Dget_type(ds);
    CU_ASSERT_EQUAL(H5Tget_size(t), f16 ? 2u : 4u);
    H5Tclose(t);
    /* chunked one map per chunk, gzip + shuffle */
    hid_t dcpl = H5Dget_create_plist(ds);
    hsize_t chunk[4];
    CU_ASSERT_EQUAL(H5Pget_chunk(dcpl, 4, chunk), 4);
    CU_ASSERT(chunk[0] == 1 && chunk[1] == 1 && chunk[2] == 7 && chunk[3] == 7);
    CU_ASSERT_EQUAL(H5Pget_nfilters(dcpl), 2);
    H5Pclose(dcpl);
    CU_ASSERT(H5Aexists(ds, "heads") > 0);
    char label[32] = "";
    H5DSget_label(ds, 1, label, sizeof label);
    CU_ASSERT_STRING_EQUAL(label, "attn_head");
    H5Sclose(ms);
    H5Sclose(sp);
    H5Dclose(ds);
    static const char *const others[] = {"/attention/layer_00", "/gates/layer_00", "/gates/layer_01",
                                         "/hidden/layer_00", "/hidden/layer_01", "/logits"};
    for (size_t i = 0; i < sizeof others / sizeof *others; i++)
        CU_ASSERT(H5Lexists(f, others[i], H5P_DEFAULT) > 0);
    int bad = 0;
    H5Ovisit(f, H5_INDEX_NAME, H5_ITER_NATIVE, check_dataset, &bad);
    CU_ASSERT_EQUAL(bad, 0);
    H5Fclose(f);
}

static void test_dumps_f32(void)
{
    check_dumps(0);
}

static void test_dumps_f16(void)
{
    check_dumps(1);
}

/* Python users: h5py sees labelled dims, xarray + h5netcdf opens /stats with named dims. */
static void test_python_reads(void)
{
    if (system("/usr/bin/python3 -c 'import h5py' 2>/dev/null") != 0) {
        test_skip("python3-h5py not installed (make deps installs it)");
        return;
    }
    const char *dir = test_tmpdir("probes-py");
    char path[600], cmd[2048];
    snprintf(path, sizeof path, "%s/run.h5", dir);
    probes_free(write_run(path, PROBES_DUMP_ATTENTION, 1, NULL, 0));
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import h5py,sys\n"
             "f=h5py.File('%s','r')\n"
             "d=f['stats/first_token_share']\n"
             "assert [x.label for x in d.dims]==['layer','head'], [x.label for x in d.dims]\n"
             "assert f['attention/layer_00'].dtype=='float16'\n"
             "assert f.attrs['schema'].decode()=='sinkscope/1'\n"
             "assert float(f['summary/first_token_share'][()])>0\"",
             path);
    CU_ASSERT_EQUAL(system(cmd), 0);
    if (system("/usr/bin/python3 -c 'import xarray, h5netcdf' 2>/dev/null") != 0) {
        test_skip("python3-xarray/python3-h5netcdf not installed (make deps installs them)");
        return;
    }
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import xarray as xr\n"
             "ds=xr.open_dataset('%s',engine='h5netcdf',group='stats')\n"
             "assert ds['first_token_share'].dims==('layer','head'), ds['first_token_share'].dims\n"
             "assert ds['act_top_index'].dims==('layer','stream','act_rank','coord')\n"
             "s=xr.open_dataset('%s',engine='h5netcdf',group='summary')\n"
             "assert 'perplexity' in s\"",
             path, path);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

/* The stop flag (set by SIGINT/SIGTERM) ends the forward at the next layer. */
static void test_stop_flag(void)
{
    volatile sig_atomic_t stop = 0;
    struct probes_opts o = {0};
    o.shape = wshape;
    o.n_seqs = 1;
    o.sink_epsilon = 0.3;
    o.stop = &stop;
    struct probes *p = NULL;
    struct ss_error err = {0};
    CU_ASSERT_EQUAL_FATAL(probes_new(&p, &o, &err), SS_OK); /* statistics off: only the flag is watched */
    struct hook_set hooks;
    hook_set_init(&hooks);
    CU_ASSERT_EQUAL_FATAL(probes_subscribe(p, &hooks, &err), SS_OK);
    CU_ASSERT_EQUAL(test_fire_sequence(&hooks, &wshape, 1, 7, &err), 0);
    stop = 1;
    CU_ASSERT_NOT_EQUAL(test_fire_sequence(&hooks, &wshape, 1, 7, &err), 0);
    CU_ASSERT_EQUAL(err.status, SS_ERR_INTERRUPTED);
    probes_free(p);
}

SS_SUITE(probes_write)
{
    CU_pSuite s = CU_add_suite("probes_write", NULL, NULL);
    CU_add_test(s, "statistics, summary, dims, long_name/units and root attributes read back", test_writer_stats_dims_attrs);
    CU_add_test(s, "attention, gate, hidden and logits dumps (f32)", test_dumps_f32);
    CU_add_test(s, "dumps as IEEE half (f16)", test_dumps_f16);
    CU_add_test(s, "h5py and xarray read the file with named dimensions", test_python_reads);
    CU_add_test(s, "the stop flag interrupts at the next layer", test_stop_flag);
}
