/* runfile/runfile.c — see runfile.h. The read side of the run file over the
 * HDF5 C API: opening, datasets and slabs (attributes and token text: runfile/strings.c). HDF5's own error printing is off: every failure becomes one
 * "FILE: problem" line, and nothing here trusts the file's contents (ranks,
 * sizes, types) before checking them, so a corrupt file is an error, not a crash. */
#include "runfile_int.h"
#include "trust.h"

#include <errno.h>
#include <stdarg.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum ss_status rf_fail(const char *path, struct ss_error *err, const char *fmt, ...)
{
    char buf[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return ss_fail(err, SS_ERR_INPUT, "%s: %s", path, buf);
}

/* H5Ewalk2 callback: sets *data when an error on the stack says "truncated". */
static herr_t rf_walk_truncated(unsigned n, const H5E_error2_t *e, void *data)
{
    (void)n;
    if (e->desc && strstr(e->desc, "truncated"))
        *(int *)data = 1;
    return 0;
}

static int rf_stack_says_truncated(void)
{
    int truncated = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, rf_walk_truncated, &truncated);
    return truncated;
}

/* H5Ewalk2 callback: sets *data when the file lock was refused (another process has
 * the file open for writing: HDF5 1.10 locks files it opens). */
static herr_t rf_walk_locked(unsigned n, const H5E_error2_t *e, void *data)
{
    (void)n;
    if (e->desc && (strstr(e->desc, "unable to lock") || strstr(e->desc, "lock the file")))
        *(int *)data = 1;
    return 0;
}

int rf_read_string_attr(hid_t attr, char *buf, size_t n)
{
    int rc = -1;
    hid_t ft = H5Aget_type(attr);
    hid_t space = H5Aget_space(attr);
    if (ft < 0 || space < 0 || H5Tget_class(ft) != H5T_STRING || H5Sget_simple_extent_npoints(space) != 1)
        goto done;
    /* Variable-length strings live in the global heap, whose object lengths
     * libhdf5 1.10 trusts: a corrupt one crashes H5Aread (fuzz/crashes/).
     * sinkscope writes fixed-length strings only, so vlen ones are refused. */
    if (H5Tis_variable_str(ft) != 0) {
        rc = -2;
    } else {
        size_t sz = H5Tget_size(ft);
        if (sz == 0 || sz > (1u << 24))
            goto done;
        char *tmp = calloc(1, sz + 1);
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, sz);
        H5Tset_cset(mt, H5Tget_cset(ft)); /* HDF5 converts no ASCII <-> UTF-8 */
        if (tmp && H5Aread(attr, mt, tmp) >= 0) {
            tmp[sz] = 0;
            snprintf(buf, n, "%s", tmp);
            rc = 0;
        }
        H5Tclose(mt);
        free(tmp);
    }
done:
    if (ft >= 0)
        H5Tclose(ft);
    if (space >= 0)
        H5Sclose(space);
    return rc;
}

/* Check the `schema` attribute: "sinkscope/MAJOR" with MAJOR <= RUNFILE_SCHEMA_MAJOR. */
static enum ss_status rf_check_schema(struct runfile *rf, struct ss_error *err)
{
    if (H5Aexists(rf->file, "schema") <= 0)
        return RF_FAIL(rf, err, "not a sinkscope run file (no root attribute 'schema')");
    hid_t a = H5Aopen(rf->file, "schema", H5P_DEFAULT);
    if (a < 0)
        return RF_FAIL(rf, err, "corrupt file: cannot open the attribute 'schema'");
    char s[256];
    int rc = rf_read_string_attr(a, s, sizeof s);
    H5Aclose(a);
    if (rc == -2)
        return RF_FAIL(rf, err, "not a sinkscope run file (attribute 'schema' is a variable-length string; "
                                "sinkscope writes fixed-length strings)");
    if (rc)
        return RF_FAIL(rf, err, "not a sinkscope run file (attribute 'schema' is not a string)");
    size_t nl = strlen(RUNFILE_SCHEMA_NAME);
    if (strncmp(s, RUNFILE_SCHEMA_NAME, nl) || s[nl] != '/')
        return RF_FAIL(rf, err, "not a sinkscope run file (schema '%s')", s);
    char *end;
    errno = 0;
    long major = strtol(s + nl + 1, &end, 10);
    if (end == s + nl + 1 || errno || major < 1 || (*end && *end != '.'))
        return RF_FAIL(rf, err, "malformed schema '%s' (expected '%s/%d')", s, RUNFILE_SCHEMA_NAME,
                       RUNFILE_SCHEMA_MAJOR);
    if (major > RUNFILE_SCHEMA_MAJOR)
        return RF_FAIL(rf, err, "schema '%s' is newer than this sinkscope reads (%s/%d); upgrade sinkscope", s,
                       RUNFILE_SCHEMA_NAME, RUNFILE_SCHEMA_MAJOR);
    return SS_OK;
}

enum ss_status runfile_open(struct runfile **out, const char *path, struct ss_error *err)
{
    *out = NULL;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    struct stat st;
    if (stat(path, &st) != 0)
        return ss_fail(err, SS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return ss_fail(err, SS_ERR_INPUT, "%s: is a directory, not a run file", path);
    if (st.st_size == 0)
        return rf_fail(path, err, "empty file, not an HDF5 run file");
    FILE *f = fopen(path, "rb");
    if (!f)
        return ss_fail(err, SS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    fclose(f);
    htri_t is = H5Fis_hdf5(path);
    if (is <= 0)
        return rf_fail(path, err, "not an HDF5 file");

    struct runfile *rf = calloc(1, sizeof *rf);
    if (!rf)
        return ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", path);
    snprintf(rf->path, sizeof rf->path, "%s", path);
    rf->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (rf->file < 0) {
        int locked = 0;
        H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, rf_walk_locked, &locked);
        enum ss_status s = locked ? ss_fail(err, SS_ERR_IO, "%s: open for writing by another process (HDF5 file "
                                            "lock); read it when that writer has finished", path)
                           : rf_stack_says_truncated()
                               ? RF_FAIL(rf, err, "truncated HDF5 file (incomplete copy or write?)")
                               : RF_FAIL(rf, err, "corrupt HDF5 file (cannot open it)");
        free(rf);
        return s;
    }
    enum ss_status s = rf_check_schema(rf, err);
    if (!s)
        s = rf_trust_file(rf->file, rf->path, err);
    if (s) {
        runfile_close(rf);
        return s;
    }
    *out = rf;
    return SS_OK;
}

void runfile_close(struct runfile *rf)
{
    if (!rf)
        return;
    if (rf->file >= 0)
        H5Fclose(rf->file);
    free(rf);
}

const char *runfile_path(const struct runfile *rf)
{
    return rf ? rf->path : "";
}

/* 1 if every link along the absolute path exists (H5Lexists fails on a missing parent). */
int rf_link_exists(hid_t file, const char *path)
{
    char buf[1024];
    if (!path || path[0] != '/' || strlen(path) >= sizeof buf)
        return 0;
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            if (p > buf + 1 && H5Lexists(file, buf, H5P_DEFAULT) <= 0)
                return 0;
            if (!c)
                break;
            *p = c;
        }
    }
    return 1;
}

int runfile_has(struct runfile *rf, const char *dset)
{
    if (!rf || !rf_link_exists(rf->file, dset))
        return 0;
    hid_t d = H5Dopen2(rf->file, dset, H5P_DEFAULT);
    if (d < 0)
        return 0;
    H5Dclose(d);
    return 1;
}

void rf_array_free(struct rf_array *a)
{
    if (!a)
        return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

/* Open dset and its dataspace, checking it is numeric of rank <= 4. */
static enum ss_status rf_open_numeric(struct runfile *rf, const char *dset, hid_t *d, hid_t *space,
                                      int *ndim, hsize_t dims[4], struct ss_error *err)
{
    *d = *space = H5I_INVALID_HID;
    if (!rf_link_exists(rf->file, dset))
        return RF_FAIL(rf, err, "dataset %s missing", dset);
    *d = H5Dopen2(rf->file, dset, H5P_DEFAULT);
    if (*d < 0)
        return RF_FAIL(rf, err, "%s is not a readable dataset (corrupt file?)", dset);
    hid_t t = H5Dget_type(*d);
    H5T_class_t cls = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
    if (t >= 0)
        H5Tclose(t);
    enum ss_status s = SS_OK;
    if (cls != H5T_INTEGER && cls != H5T_FLOAT) {
        s = RF_FAIL(rf, err, "dataset %s is not numeric", dset);
        goto fail;
    }
    *space = H5Dget_space(*d);
    int nd = *space >= 0 ? H5Sget_simple_extent_ndims(*space) : -1;
    if (nd < 0) {
        s = RF_FAIL(rf, err, "dataset %s: unreadable shape (corrupt file?)", dset);
        goto fail;
    }
    if (nd > 4) {
        s = RF_FAIL(rf, err, "dataset %s has rank %d (at most 4 supported)", dset, nd);
        goto fail;
    }
    if (H5Sget_simple_extent_dims(*space, dims, NULL) < 0) {
        s = RF_FAIL(rf, err, "dataset %s: unreadable shape (corrupt file?)", dset);
        goto fail;
    }
    if ((s = rf_axes_check(rf->file, rf->path, dset, nd, dims, err)))
        goto fail;
    *ndim = nd;
    return SS_OK;
fail:
    if (*space >= 0)
        H5Sclose(*space);
    H5Dclose(*d);
    *d = *space = H5I_INVALID_HID;
    return s;
}

/* Allocate out for rank nd and extents ext; 0 or an error (size overflow, memory). */
static enum ss_status rf_alloc(struct runfile *rf, const char *dset, int nd, const hsize_t *ext,
                               struct rf_array *out, struct ss_error *err)
{
    memset(out, 0, sizeof *out);
    out->ndim = nd;
    size_t n = 1;
    for (int i = 0; i < nd; i++) {
        out->shape[i] = (int64_t)ext[i];
        if (ext[i] && n > (SIZE_MAX / sizeof(double)) / ext[i])
            return RF_FAIL(rf, err, "dataset %s is too large to read", dset);
        n *= (size_t)ext[i];
    }
    out->n = n;
    out->data = malloc((n ? n : 1) * sizeof(double));
    if (!out->data)
        return ss_fail(err, SS_ERR_NOMEM, "%s: out of memory reading %s (%zu values)", rf->path, dset, n);
    return SS_OK;
}

enum ss_status runfile_read(struct runfile *rf, const char *dset, struct rf_array *out,
                            struct ss_error *err)
{
    memset(out, 0, sizeof *out);
    hid_t d, space;
    int nd;
    hsize_t dims[4] = {0};
    enum ss_status s = rf_open_numeric(rf, dset, &d, &space, &nd, dims, err);
    if (s)
        return s;
    s = rf_alloc(rf, dset, nd, dims, out, err);
    if (!s && out->n && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out->data) < 0)
        s = RF_FAIL(rf, err, "cannot read dataset %s (truncated or corrupt file?)", dset);
    H5Sclose(space);
    H5Dclose(d);
    if (s)
        rf_array_free(out);
    return s;
}

static void rf_shape_str(char *buf, size_t n, int nd, const int64_t *sh, int wildcard)
{
    size_t o = 0;
    o += snprintf(buf + o, n - o, "[");
    for (int i = 0; i < nd && o < n; i++) {
        if (wildcard && sh[i] < 0)
            o += snprintf(buf + o, n - o, "%s*", i ? ", " : "");
        else
            o += snprintf(buf + o, n - o, "%s%lld", i ? ", " : "", (long long)sh[i]);
    }
    if (o < n)
        snprintf(buf + o, n - o, "]");
}

enum ss_status runfile_read_shaped(struct runfile *rf, const char *dset, int ndim,
                                   const int64_t *want_shape, struct rf_array *out,
                                   struct ss_error *err)
{
    int nd;
    int64_t sh[4];
    enum ss_status s = runfile_shape(rf, dset, &nd, sh, err);
    if (s) {
        memset(out, 0, sizeof *out);
        return s;
    }
    int ok = nd == ndim;
    for (int i = 0; ok && i < ndim; i++)
        if (want_shape && want_shape[i] >= 0 && want_shape[i] != sh[i])
            ok = 0;
    if (!ok) {
        char got[128], want[128];
        int64_t w[4] = {-1, -1, -1, -1};
        for (int i = 0; want_shape && i < ndim && i < 4; i++)
            w[i] = want_shape[i];
        rf_shape_str(got, sizeof got, nd, sh, 0);
        rf_shape_str(want, sizeof want, ndim, w, 1);
        memset(out, 0, sizeof *out);
        return RF_FAIL(rf, err, "dataset %s has shape %s, expected %s", dset, got, want);
    }
    return runfile_read(rf, dset, out, err);
}

enum ss_status runfile_read_scalar(struct runfile *rf, const char *dset, double *v,
                                   struct ss_error *err)
{
    struct rf_array a;
    enum ss_status s = runfile_read(rf, dset, &a, err);
    if (s)
        return s;
    if (a.n != 1) {
        rf_array_free(&a);
        return RF_FAIL(rf, err, "dataset %s is not a scalar (%zu values)", dset, a.n);
    }
    *v = a.data[0];
    rf_array_free(&a);
    return SS_OK;
}

enum ss_status runfile_read_slab(struct runfile *rf, const char *dset, const int64_t *start,
                                 const int64_t *count, struct rf_array *out, struct ss_error *err)
{
    memset(out, 0, sizeof *out);
    hid_t d, space;
    int nd;
    hsize_t dims[4] = {0};
    enum ss_status s = rf_open_numeric(rf, dset, &d, &space, &nd, dims, err);
    if (s)
        return s;
    hsize_t st[4] = {0}, ct[4] = {0};
    for (int i = 0; i < nd; i++) {
        if (start[i] < 0 || count[i] < 0 || (hsize_t)start[i] > dims[i] ||
            (hsize_t)count[i] > dims[i] - (hsize_t)start[i]) {
            s = RF_FAIL(rf, err, "dataset %s: slab [%lld +%lld] outside axis %d of extent %llu", dset,
                        (long long)start[i], (long long)count[i], i, (unsigned long long)dims[i]);
            goto done;
        }
        st[i] = (hsize_t)start[i];
        ct[i] = (hsize_t)count[i];
    }
    s = rf_alloc(rf, dset, nd, ct, out, err);
    if (s || out->n == 0)
        goto done;
    hid_t mem = H5Screate_simple(nd ? nd : 1, nd ? ct : (hsize_t[]){1}, NULL);
    if (nd && H5Sselect_hyperslab(space, H5S_SELECT_SET, st, NULL, ct, NULL) < 0)
        s = RF_FAIL(rf, err, "dataset %s: cannot select the slab", dset);
    else if (H5Dread(d, H5T_NATIVE_DOUBLE, mem, space, H5P_DEFAULT, out->data) < 0)
        s = RF_FAIL(rf, err, "cannot read dataset %s (truncated or corrupt file?)", dset);
    H5Sclose(mem);
done:
    H5Sclose(space);
    H5Dclose(d);
    if (s)
        rf_array_free(out);
    return s;
}

enum ss_status runfile_shape(struct runfile *rf, const char *dset, int *ndim, int64_t shape[4],
                             struct ss_error *err)
{
    hid_t d, space;
    hsize_t dims[4] = {0};
    enum ss_status s = rf_open_numeric(rf, dset, &d, &space, ndim, dims, err);
    if (s)
        return s;
    for (int i = 0; i < 4; i++)
        shape[i] = i < *ndim ? (int64_t)dims[i] : 0;
    H5Sclose(space);
    H5Dclose(d);
    return SS_OK;
}

