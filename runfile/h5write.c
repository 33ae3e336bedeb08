/* runfile/h5write.c — see h5write.h. Thin wrappers over the HDF5 C API and
 * hdf5_hl's H5DS (dimension scales); each failure becomes one "FILE: ..." line. */
#include "h5write.h"

#include <hdf5_hl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL(w, err, ...) h5w_fail(w, err, __VA_ARGS__)
static enum ss_status h5w_fail(struct h5w *w, struct ss_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum ss_status h5w_fail(struct h5w *w, struct ss_error *err, const char *fmt, ...)
{
    char buf[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return ss_fail(err, SS_ERR_IO, "%s: %s", w->path, buf);
}

static enum ss_status h5w_alloc(struct h5w **w, const char *path, struct ss_error *err)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    *w = calloc(1, sizeof **w);
    if (!*w)
        return ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", path);
    snprintf((*w)->path, sizeof (*w)->path, "%s", path);
    (*w)->file = H5I_INVALID_HID;
    return SS_OK;
}

enum ss_status h5w_create(struct h5w **w, const char *path, struct ss_error *err)
{
    if (h5w_alloc(w, path, err))
        return err ? err->status : SS_ERR_NOMEM;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    /* v18 lower bound: attributes over 64 KiB (config_json) are then allowed */
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST);
    (*w)->file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if ((*w)->file < 0) {
        enum ss_status s = FAIL(*w, err, "cannot create the HDF5 file");
        free(*w);
        *w = NULL;
        return s;
    }
    return SS_OK;
}

enum ss_status h5w_open(struct h5w **w, const char *path, int rw, struct ss_error *err)
{
    if (h5w_alloc(w, path, err))
        return err ? err->status : SS_ERR_NOMEM;
    (*w)->file = H5Fopen(path, rw ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT);
    if ((*w)->file < 0) {
        enum ss_status s = ss_fail(err, SS_ERR_INPUT, "%s: not a readable HDF5 file", path);
        free(*w);
        *w = NULL;
        return s;
    }
    return SS_OK;
}

enum ss_status h5w_close(struct h5w *w, struct ss_error *err)
{
    if (!w)
        return SS_OK;
    enum ss_status s = SS_OK;
    if (w->file >= 0) {
        if (H5Fflush(w->file, H5F_SCOPE_GLOBAL) < 0)
            s = FAIL(w, err, "cannot flush the file (disk full?)");
        if (H5Fclose(w->file) < 0 && s == SS_OK)
            s = FAIL(w, err, "cannot close the file (disk full?)");
    }
    free(w);
    return s;
}

hid_t h5w_half_type(void)
{
    hid_t t = H5Tcopy(H5T_IEEE_F32LE);
    H5Tset_fields(t, 15, 10, 5, 0, 10);
    H5Tset_precision(t, 16);
    H5Tset_size(t, 2);
    H5Tset_ebias(t, 15);
    return t;
}

/* Strings are fixed-length UTF-8, never variable-length: a variable-length
 * string lives in HDF5's global heap, whose object lengths libhdf5 1.10 trusts
 * when reading, so a corrupt file could crash a reader (found by fuzz_runfile).
 * Fixed-length strings are stored inline and read back with a bounded size. */
hid_t h5w_string_type(size_t bytes)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, bytes ? bytes : 1);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

void h5w_text_copy(char *dst, size_t bytes, const char *src)
{
    size_t n = strlen(src);
    if (n > bytes - 1) {
        n = bytes - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--; /* cut before a continuation byte: keep whole characters */
    }
    memcpy(dst, src, n);
    memset(dst + n, 0, bytes - n);
}

/* ---- attributes ------------------------------------------------------------ */

static enum ss_status attr_write(struct h5w *w, hid_t obj, const char *name, hid_t type, hid_t space,
                                 const void *data, struct ss_error *err)
{
    if (H5Aexists(obj, name) > 0)
        H5Adelete(obj, name);
    hid_t a = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = a < 0 ? -1 : H5Awrite(a, type, data);
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(space);
    if (rc < 0)
        return FAIL(w, err, "cannot write attribute %s", name);
    return SS_OK;
}

enum ss_status h5w_attr_string(struct h5w *w, hid_t obj, const char *name, const char *value,
                               struct ss_error *err)
{
    const char *v = value ? value : "";
    hid_t t = h5w_string_type(strlen(v) + 1);
    enum ss_status s = attr_write(w, obj, name, t, H5Screate(H5S_SCALAR), v, err);
    H5Tclose(t);
    return s;
}

enum ss_status h5w_attr_int(struct h5w *w, hid_t obj, const char *name, int value,
                            struct ss_error *err)
{
    return attr_write(w, obj, name, H5T_NATIVE_INT, H5Screate(H5S_SCALAR), &value, err);
}

enum ss_status h5w_attr_double(struct h5w *w, hid_t obj, const char *name, double value,
                               struct ss_error *err)
{
    return attr_write(w, obj, name, H5T_NATIVE_DOUBLE, H5Screate(H5S_SCALAR), &value, err);
}

enum ss_status h5w_attr_ints(struct h5w *w, hid_t obj, const char *name, const int *v, int n,
                             struct ss_error *err)
{
    hsize_t d = n;
    return attr_write(w, obj, name, H5T_NATIVE_INT, H5Screate_simple(1, &d, NULL), v, err);
}

/* ---- datasets ---------------------------------------------------------------- */

static hid_t lcpl_intermediate(void)
{
    hid_t p = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(p, 1);
    return p;
}

enum ss_status h5w_dim(struct h5w *w, const char *name, int64_t n, const double *values,
                       const char *long_name, const char *units, struct ss_error *err)
{
    char path[256];
    snprintf(path, sizeof path, "/%s", name);
    if (H5Lexists(w->file, path, H5P_DEFAULT) > 0)
        return SS_OK;
    hsize_t d = n;
    hid_t space = H5Screate_simple(1, &d, NULL), lcpl = lcpl_intermediate();
    hid_t ftype = values ? H5T_IEEE_F64LE : H5T_STD_I32LE;
    hid_t ds = H5Dcreate2(w->file, path, ftype, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    H5Sclose(space);
    if (ds < 0)
        return FAIL(w, err, "cannot create dimension %s", path);
    herr_t rc;
    if (values) {
        rc = H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values);
    } else {
        int32_t *idx = malloc((n ? n : 1) * sizeof *idx);
        for (int64_t i = 0; i < n && idx; i++)
            idx[i] = (int32_t)i;
        rc = idx ? H5Dwrite(ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, idx) : -1;
        free(idx);
    }
    enum ss_status s = SS_OK;
    if (rc < 0 || H5DSset_scale(ds, name) < 0)
        s = FAIL(w, err, "cannot write dimension %s", path);
    if (!s)
        s = h5w_attr_string(w, ds, "long_name", long_name, err);
    if (!s)
        s = h5w_attr_string(w, ds, "units", units, err);
    H5Dclose(ds);
    return s;
}

enum ss_status h5w_dataset(struct h5w *w, const char *path, hid_t type, int ndim,
                           const char *const *dims, const int64_t *shape, const int64_t *chunk,
                           int gzip, const char *long_name, const char *units, hid_t *out,
                           struct ss_error *err)
{
    hsize_t d[8], c[8];
    for (int i = 0; i < ndim; i++) {
        d[i] = shape[i];
        c[i] = chunk ? chunk[i] : 0;
    }
    hid_t space = ndim ? H5Screate_simple(ndim, d, NULL) : H5Screate(H5S_SCALAR);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE), lcpl = lcpl_intermediate();
    if (chunk) {
        H5Pset_chunk(dcpl, ndim, c);
        if (gzip > 0) {
            H5Pset_shuffle(dcpl);
            H5Pset_deflate(dcpl, gzip);
        }
    }
    if (H5Tis_variable_str(type) <= 0) /* NaN fill would need a type-specific value; zeros are fine */
        H5Pset_fill_time(dcpl, chunk ? H5D_FILL_TIME_IFSET : H5D_FILL_TIME_NEVER);
    hid_t ds = H5Dcreate2(w->file, path, type, space, lcpl, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    H5Pclose(lcpl);
    H5Sclose(space);
    if (ds < 0)
        return FAIL(w, err, "cannot create dataset %s", path);
    enum ss_status s = h5w_attr_string(w, ds, "long_name", long_name, err);
    if (!s)
        s = h5w_attr_string(w, ds, "units", units, err);
    for (int i = 0; i < ndim && !s; i++) {
        char sp[256];
        snprintf(sp, sizeof sp, "/%s", dims[i]);
        hid_t scale = H5Dopen2(w->file, sp, H5P_DEFAULT);
        if (scale < 0) {
            s = ss_fail(err, SS_ERR_INTERNAL, "%s: %s needs dimension %s, which was not written", w->path,
                        path, sp);
            break;
        }
        hid_t ss = H5Dget_space(scale);
        hssize_t len = H5Sget_simple_extent_npoints(ss);
        H5Sclose(ss);
        if (len != shape[i])
            s = ss_fail(err, SS_ERR_INTERNAL, "%s: %s axis %d has %lld entries but %s has %lld", w->path,
                        path, i, (long long)shape[i], sp, (long long)len);
        else if (H5DSattach_scale(ds, scale, i) < 0 || H5DSset_label(ds, i, dims[i]) < 0)
            s = FAIL(w, err, "cannot attach dimension %s to %s", sp, path);
        H5Dclose(scale);
    }
    if (s) {
        H5Dclose(ds);
        return s;
    }
    *out = ds;
    return SS_OK;
}

enum ss_status h5w_write_slab(struct h5w *w, hid_t dset, hid_t mtype, const int64_t *start,
                              const int64_t *count, const void *data, struct ss_error *err)
{
    hid_t fs = H5Dget_space(dset);
    int ndim = H5Sget_simple_extent_ndims(fs);
    hsize_t st[8], ct[8];
    for (int i = 0; i < ndim; i++) {
        st[i] = start[i];
        ct[i] = count[i];
    }
    herr_t rc = ndim > 0 ? H5Sselect_hyperslab(fs, H5S_SELECT_SET, st, NULL, ct, NULL) : 0;
    hid_t ms = ndim > 0 ? H5Screate_simple(ndim, ct, NULL) : H5Screate(H5S_SCALAR);
    if (rc >= 0)
        rc = H5Dwrite(dset, mtype, ms, fs, H5P_DEFAULT, data);
    H5Sclose(ms);
    H5Sclose(fs);
    if (rc < 0) {
        char name[256] = "?";
        H5Iget_name(dset, name, sizeof name);
        return FAIL(w, err, "cannot write %s (disk full?)", name);
    }
    return SS_OK;
}

enum ss_status h5w_write(struct h5w *w, const char *path, hid_t ftype, hid_t mtype, int ndim,
                         const char *const *dims, const int64_t *shape, const void *data,
                         const char *long_name, const char *units, struct ss_error *err)
{
    hid_t ds;
    enum ss_status s = h5w_dataset(w, path, ftype, ndim, dims, shape, NULL, 0, long_name, units, &ds, err);
    if (s)
        return s;
    if (H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        s = FAIL(w, err, "cannot write %s (disk full?)", path);
    H5Dclose(ds);
    return s;
}
