/* fuzz/fuzz_runfile_struct.c — run files changed in their structure, not only their bytes
 * (issue 14). The input is a recipe of up to 8 edits applied through the HDF5 API to a copy
 * of a valid run file (fuzz/corpus/runfile/run_gated_dump.h5, or $SS_FUZZ_RUNFILE_TEMPLATE):
 * a dataset reshaped (rank and extents, huge ones stored as unwritten chunks), moved to
 * external storage, turned into an external or soft link, passed through an unknown
 * filter, deleted, retyped, filled with NaN / Inf / huge values; a dimension scale resized;
 * a root count changed. Then everything that reads run files runs on it: analyze_run_load
 * and the summary in every format, the audit with every limit, and every plot kind in
 * --script-only mode (the readers and the data tables; no gnuplot). Contract: no crash, no
 * sanitizer report, every failure one line; an accepted file is usable. */
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../analyze/analyze.h"
#include "../plots/plots.h"
#include "fuzz_util.h"

#define MAX_NAMES 256

static char names[MAX_NAMES][128];
static int n_names;

static herr_t collect(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    (void)info;
    (void)data;
    H5O_info_t oi;
    if (n_names < MAX_NAMES && H5Oget_info_by_name2(g, name, &oi, H5O_INFO_BASIC, H5P_DEFAULT) >= 0 &&
        oi.type == H5O_TYPE_DATASET && strlen(name) + 2 < sizeof names[0])
        snprintf(names[n_names++], sizeof names[0], "/%s", name);
    return 0;
}

static const char *template_path(void)
{
    const char *t = getenv("SS_FUZZ_RUNFILE_TEMPLATE");
    return t && *t ? t : "fuzz/corpus/runfile/run_gated_dump.h5";
}

/* Bytes of the recipe, 0 once it is used up. */
struct rd {
    const uint8_t *p;
    size_t n;
};
static unsigned next(struct rd *r)
{
    if (!r->n)
        return 0;
    r->n--;
    return *r->p++;
}

static void put_f64(hid_t f, const char *name, int nd, const hsize_t *dims, hid_t dcpl, int write, double v)
{
    hid_t sp = H5Screate_simple(nd, dims, NULL);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t ds = H5Dcreate2(f, name, H5T_IEEE_F64LE, sp, lcpl, dcpl, H5P_DEFAULT);
    hssize_t np = H5Sget_simple_extent_npoints(sp);
    if (ds >= 0 && write && np > 0 && np <= (1 << 16)) {
        double *buf = malloc(sizeof(double) * (size_t)np);
        for (hssize_t i = 0; buf && i < np; i++)
            buf[i] = v;
        if (buf)
            H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
        free(buf);
    }
    if (ds >= 0)
        H5Dclose(ds);
    H5Pclose(lcpl);
    H5Sclose(sp);
}

static const double values[] = {NAN, INFINITY, -INFINITY, 1e300, -1.0, 0.0, 2.0, 1e9};

/* One structural edit of the dataset name (op from the recipe). */
static void edit(hid_t f, const char *name, unsigned op, struct rd *r, const char *dir)
{
    H5E_BEGIN_TRY { H5Ldelete(f, name, H5P_DEFAULT); } H5E_END_TRY;
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    int nd = 1 + (int)(next(r) % 4);
    hsize_t dims[4], chunk[4];
    for (int i = 0; i < nd; i++) {
        unsigned b = next(r);
        dims[i] = b & 0x80 ? (hsize_t)1 << (b % 34) : b % 12;
        chunk[i] = dims[i] ? (dims[i] < 64 ? dims[i] : 64) : 1;
    }
    char p[512];
    switch (op) {
    case 0: /* reshaped: small ones written, huge ones declared over unwritten chunks */
        H5Pset_chunk(dcpl, nd, chunk);
        put_f64(f, name, nd, dims, dcpl, 1, values[next(r) % 8]);
        break;
    case 1: /* external storage */
        snprintf(p, sizeof p, "%s", next(r) & 1 ? "/etc/hostname" : "/dev/zero");
        H5Pset_external(dcpl, p, 0, 1 << 20);
        dims[0] = 1 + next(r) % 8;
        put_f64(f, name, 1, dims, dcpl, 0, 0);
        break;
    case 2: /* external link (to a missing file, or to this one) */
        snprintf(p, sizeof p, "%s/%s", dir, next(r) & 1 ? "run.h5" : "nowhere.h5");
        H5Lcreate_external(p, "/stats/act_max", f, name, H5P_DEFAULT, H5P_DEFAULT);
        break;
    case 3: /* soft link to another dataset */
        H5Lcreate_soft(names[next(r) % n_names], f, name, H5P_DEFAULT, H5P_DEFAULT);
        break;
    case 4: /* an unknown filter */
        H5Pset_chunk(dcpl, nd, chunk);
        H5Pset_filter(dcpl, (H5Z_filter_t)(256 + next(r)), H5Z_FLAG_OPTIONAL, 0, NULL);
        put_f64(f, name, nd, dims, dcpl, 1, 0.5);
        break;
    case 5: /* deleted */
        break;
    case 6: { /* retyped: a fixed-length string */
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, 1 + next(r) % 16);
        hid_t sp = H5Screate_simple(nd, dims, NULL);
        hid_t ds = H5Dcreate2(f, name, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (ds >= 0)
            H5Dclose(ds);
        H5Sclose(sp);
        H5Tclose(t);
        break;
    }
    default: /* same rank as a scale or statistic, one value everywhere */
        put_f64(f, name, nd, dims, H5P_DEFAULT, 1, values[op % 8]);
        break;
    }
    H5Pclose(dcpl);
}

/* A root count changed (n_layers, n_heads, context_length, n_seqs). */
static void edit_root(hid_t f, struct rd *r)
{
    static const char *const attrs[] = {"n_layers", "n_heads", "context_length", "n_seqs"};
    const char *a = attrs[next(r) % 4];
    unsigned b = next(r);
    int v = b & 0x80 ? (int)(1u << (b % 31)) : (int)(b % 9) - 1;
    H5E_BEGIN_TRY { H5Adelete(f, a); } H5E_END_TRY;
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t at = H5Acreate2(f, a, H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (at >= 0) {
        H5Awrite(at, H5T_NATIVE_INT, &v);
        H5Aclose(at);
    }
    H5Sclose(sp);
}

static void read_everything(const char *path, const char *dir, FILE *devnull)
{
    struct analyze_run run;
    struct ss_error err = {0};
    enum ss_status st = analyze_run_load(&run, path, NULL, &err);
    fuzz_check_error(st, &err);
    if (st == SS_OK) {
        for (int f = ANALYZE_FORMAT_TEXT; f <= ANALYZE_FORMAT_LATEX; f++) {
            struct ss_error e = {0};
            fuzz_check_error(analyze_summary(devnull, &run, 1, 1, (enum analyze_format)f, &e), &e);
        }
        struct analyze_limits lim = {.max_first_token_share = 0.5, .max_sink_rate = 0.5, .max_activation = 10};
        int exceeded = 0;
        struct ss_error e = {0};
        fuzz_check_error(analyze_audit(devnull, &run, &lim, ANALYZE_FORMAT_TEXT, &exceeded, &e), &e);
        analyze_run_free(&run);
    }
    char sdir[400], out[400];
    snprintf(sdir, sizeof sdir, "%s/script", dir);
    snprintf(out, sizeof out, "%s/fig.pdf", dir);
    for (int k = 0; k < PLOT_KIND_COUNT; k++) {
        struct plot_options o;
        plot_options_init(&o);
        o.kind = (enum plot_kind)k;
        o.runs[0] = path;
        o.n_runs = 1;
        o.output = out;
        o.script_dir = sdir;
        struct ss_error e = {0};
        fuzz_check_error(plot_render(&o, NULL, &e), &e);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *dir = fuzz_dir("runstruct");
    char path[400];
    snprintf(path, sizeof path, "%s/run.h5", dir);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (!n_names) {
        hid_t t = H5Fopen(template_path(), H5F_ACC_RDONLY, H5P_DEFAULT);
        if (t < 0) {
            fprintf(stderr, "fuzz: cannot open the template %s\n", template_path());
            abort();
        }
        H5Lvisit(t, H5_INDEX_NAME, H5_ITER_NATIVE, collect, NULL);
        H5Fclose(t);
        if (!n_names)
            abort();
    }
    static char *tmpl;
    static size_t tmpl_n;
    if (!tmpl) { /* the template once, written afresh for every input (no fork per input) */
        FILE *t = fopen(template_path(), "rb");
        if (!t || fseek(t, 0, SEEK_END) || (long)(tmpl_n = (size_t)ftell(t)) <= 0 || fseek(t, 0, SEEK_SET) ||
            !(tmpl = malloc(tmpl_n)) || fread(tmpl, 1, tmpl_n, t) != tmpl_n)
            abort();
        fclose(t);
    }
    fuzz_write(path, (const uint8_t *)tmpl, tmpl_n);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0)
        abort();
    struct rd r = {data, size};
    for (int i = 0; i < 8 && r.n; i++) {
        unsigned op = next(&r);
        if (op % 11 == 10)
            edit_root(f, &r);
        else
            edit(f, names[next(&r) % n_names], op % 11, &r, dir);
    }
    H5Fclose(f);
    static FILE *devnull;
    if (!devnull)
        devnull = fopen("/dev/null", "w");
    read_everything(path, dir, devnull);
    return 0;
}
