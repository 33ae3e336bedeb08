/* runfile/strings.c — see runfile.h: attributes (strings and numbers) and the
 * /token_text rows of a run file, read with the same distrust as its datasets. */
#include <stdlib.h>
#include <string.h>

#include "runfile_int.h"

/* Open attribute `name` of obj (NULL: the root). */
static hid_t rf_attr_open(struct runfile *rf, const char *obj, const char *name, struct ss_error *err)
{
    const char *o = obj ? obj : "/";
    if (!rf_link_exists(rf->file, o)) {
        RF_FAIL(rf, err, "object %s missing", o);
        return H5I_INVALID_HID;
    }
    if (H5Aexists_by_name(rf->file, o, name, H5P_DEFAULT) <= 0) {
        if (obj)
            RF_FAIL(rf, err, "attribute '%s' of %s missing", name, obj);
        else
            RF_FAIL(rf, err, "root attribute '%s' missing", name);
        return H5I_INVALID_HID;
    }
    hid_t a = H5Aopen_by_name(rf->file, o, name, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0)
        RF_FAIL(rf, err, "cannot read attribute '%s' of %s (corrupt file?)", name, o);
    return a;
}

/* Read a numeric attribute as doubles: *n values (malloc'd into *v). */
static int rf_attr_numbers(hid_t a, double **v, size_t *n)
{
    hid_t t = H5Aget_type(a), space = H5Aget_space(a);
    int rc = -1;
    H5T_class_t cls = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
    hssize_t np = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    if ((cls == H5T_INTEGER || cls == H5T_FLOAT) && np >= 0 && np < (1 << 24)) {
        *n = (size_t)np;
        *v = malloc((np ? np : 1) * sizeof(double));
        if (*v && (np == 0 || H5Aread(a, H5T_NATIVE_DOUBLE, *v) >= 0))
            rc = 0;
        else {
            free(*v);
            *v = NULL;
        }
    }
    if (t >= 0)
        H5Tclose(t);
    if (space >= 0)
        H5Sclose(space);
    return rc;
}

enum ss_status runfile_attr_string(struct runfile *rf, const char *obj, const char *name,
                                   char *buf, size_t n, struct ss_error *err)
{
    hid_t a = rf_attr_open(rf, obj, name, err);
    if (a < 0)
        return SS_ERR_INPUT;
    enum ss_status s = SS_OK;
    int rc = rf_read_string_attr(a, buf, n);
    if (rc == -2) {
        s = RF_FAIL(rf, err, "attribute '%s' of %s is a variable-length string (sinkscope writes fixed-length strings)",
                    name, obj ? obj : "/");
    } else if (rc != 0) {
        double *v = NULL;
        size_t m = 0;
        if (rf_attr_numbers(a, &v, &m) == 0) {
            /* numbers: %g, arrays joined by commas */
            size_t o = 0;
            if (n)
                buf[0] = 0;
            for (size_t i = 0; i < m && o < n; i++)
                o += snprintf(buf + o, n - o, "%s%g", i ? "," : "", v[i]);
            free(v);
        } else {
            s = RF_FAIL(rf, err, "attribute '%s' of %s is neither a string nor numeric", name,
                        obj ? obj : "/");
        }
    }
    H5Aclose(a);
    return s;
}

enum ss_status runfile_attr_double(struct runfile *rf, const char *obj, const char *name,
                                   double *v, struct ss_error *err)
{
    hid_t a = rf_attr_open(rf, obj, name, err);
    if (a < 0)
        return SS_ERR_INPUT;
    enum ss_status s = SS_OK;
    double *vals = NULL;
    size_t m = 0;
    char sbuf[256];
    if (rf_attr_numbers(a, &vals, &m) == 0 && m == 1) {
        *v = vals[0];
    } else if (!vals && rf_read_string_attr(a, sbuf, sizeof sbuf) == 0) {
        char *end;
        double x = strtod(sbuf, &end);
        if (end == sbuf || *end)
            s = RF_FAIL(rf, err, "attribute '%s' of %s is '%s', not a number", name, obj ? obj : "/", sbuf);
        else
            *v = x;
    } else {
        s = RF_FAIL(rf, err, "attribute '%s' of %s is not a single number", name, obj ? obj : "/");
    }
    free(vals);
    H5Aclose(a);
    return s;
}

enum ss_status runfile_dumped_heads(struct runfile *rf, const char *dset, int n_dumped, int n_heads, int *heads,
                                    struct ss_error *err)
{
    for (int h = 0; h < n_dumped; h++)
        heads[h] = h;
    if (!rf_link_exists(rf->file, dset) || H5Aexists_by_name(rf->file, dset, "heads", H5P_DEFAULT) <= 0)
        return SS_OK;
    hid_t a = rf_attr_open(rf, dset, "heads", err);
    if (a < 0)
        return SS_ERR_INPUT;
    double *v = NULL;
    size_t m = 0;
    enum ss_status s = SS_OK;
    if (rf_attr_numbers(a, &v, &m) != 0)
        s = RF_FAIL(rf, err, "attribute 'heads' of %s is not a list of head numbers", dset);
    else if (m != (size_t)n_dumped)
        s = RF_FAIL(rf, err, "%s holds %d heads but its attribute 'heads' names %zu", dset, n_dumped, m);
    for (size_t i = 0; !s && i < m; i++) {
        if (!(v[i] >= 0 && v[i] < n_heads && v[i] == (int)v[i]))
            s = RF_FAIL(rf, err, "attribute 'heads' of %s names head %g (the model has %d)", dset, v[i], n_heads);
        else
            heads[i] = (int)v[i];
    }
    free(v);
    H5Aclose(a);
    return s;
}

enum ss_status runfile_attr_names(struct runfile *rf, char ***out, int *n, struct ss_error *err)
{
    *out = NULL;
    *n = 0;
    H5O_info_t info;
    if (H5Oget_info_by_name(rf->file, "/", &info, H5P_DEFAULT) < 0)
        return RF_FAIL(rf, err, "cannot read the root group's attributes (corrupt file?)");
    if (info.num_attrs > RUNFILE_MAX_ATTRS)
        return RF_FAIL(rf, err, "the root group has %llu attributes (at most %d expected)",
                       (unsigned long long)info.num_attrs, RUNFILE_MAX_ATTRS);
    int m = (int)info.num_attrs;
    char **names = calloc(m ? (size_t)m : 1, sizeof *names);
    if (!names)
        return ss_fail(err, SS_ERR_NOMEM, "out of memory");
    for (int i = 0; i < m; i++) {
        char buf[256];
        ssize_t len = H5Aget_name_by_idx(rf->file, "/", H5_INDEX_CRT_ORDER, H5_ITER_INC, (hsize_t)i, buf,
                                         sizeof buf, H5P_DEFAULT);
        if (len < 0) /* no creation-order index: name order */
            len = H5Aget_name_by_idx(rf->file, "/", H5_INDEX_NAME, H5_ITER_INC, (hsize_t)i, buf, sizeof buf,
                                     H5P_DEFAULT);
        if (len < 0 || (size_t)len >= sizeof buf || !(names[i] = strdup(buf))) {
            runfile_strings_free(names, m);
            if (len >= 0 && (size_t)len < sizeof buf)
                return ss_fail(err, SS_ERR_NOMEM, "out of memory");
            return RF_FAIL(rf, err, "cannot read the name of root attribute %d (corrupt file?)", i);
        }
    }
    *out = names;
    *n = m;
    return SS_OK;
}

/* Row seq of the [seq, pos] fixed-length string dataset d (type ft, extent dims) as T strings. */
static enum ss_status token_row_read(struct runfile *rf, const char *dset, hid_t d, hid_t ft, hid_t space,
                                     const hsize_t dims[2], int seq, char ***out, struct ss_error *err)
{
    int T = (int)dims[1];
    hsize_t st[2] = {(hsize_t)seq, 0}, ct[2] = {1, dims[1]};
    if (H5Sselect_hyperslab(space, H5S_SELECT_SET, st, NULL, ct, NULL) < 0)
        return RF_FAIL(rf, err, "dataset %s: cannot select row %d", dset, seq);
    if (H5Tis_variable_str(ft) != 0) /* refused: see rf_read_string_attr */
        return RF_FAIL(rf, err, "dataset %s holds variable-length strings (sinkscope writes fixed-length strings)",
                       dset);
    size_t sz = H5Tget_size(ft);
    char **res = calloc(T ? T : 1, sizeof *res);
    char *raw = sz && sz < (1u << 16) ? calloc((size_t)(T ? T : 1), sz) : NULL;
    hid_t mt = H5Tcopy(H5T_C_S1), mem = H5Screate_simple(1, &ct[1], NULL);
    H5Tset_size(mt, sz ? sz : 1);
    H5Tset_cset(mt, H5Tget_cset(ft)); /* HDF5 converts no ASCII <-> UTF-8 */
    enum ss_status s = SS_OK;
    if (!res)
        s = ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", rf->path);
    else if (!raw || (T && H5Dread(d, mt, mem, space, H5P_DEFAULT, raw) < 0))
        s = RF_FAIL(rf, err, "cannot read %s row %d (truncated or corrupt file?)", dset, seq);
    for (int i = 0; !s && i < T; i++)
        if (!(res[i] = strndup(raw + (size_t)i * sz, sz)))
            s = ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", rf->path);
    free(raw);
    H5Sclose(mem);
    H5Tclose(mt);
    if (s)
        runfile_strings_free(res, T);
    else
        *out = res;
    return s;
}

enum ss_status runfile_token_text(struct runfile *rf, int seq, char ***out, int *n,
                                  struct ss_error *err)
{
    *out = NULL;
    *n = 0;
    const char *dset = "/token_text";
    if (!rf_link_exists(rf->file, dset))
        return RF_FAIL(rf, err, "dataset %s missing", dset);
    hid_t d = H5Dopen2(rf->file, dset, H5P_DEFAULT);
    if (d < 0)
        return RF_FAIL(rf, err, "%s is not a readable dataset (corrupt file?)", dset);
    enum ss_status s = SS_OK;
    hid_t ft = H5Dget_type(d), space = H5Dget_space(d);
    hsize_t dims[2];
    if (ft < 0 || space < 0 || H5Tget_class(ft) != H5T_STRING)
        s = RF_FAIL(rf, err, "dataset %s is not a string dataset", dset);
    else if (H5Sget_simple_extent_ndims(space) != 2 || H5Sget_simple_extent_dims(space, dims, NULL) < 0)
        s = RF_FAIL(rf, err, "dataset %s is not 2-D [seq, pos]", dset);
    else if (seq < 0 || (hsize_t)seq >= dims[0])
        s = RF_FAIL(rf, err, "sequence %d outside %s (%llu sequences)", seq, dset, (unsigned long long)dims[0]);
    else if (dims[1] > (1u << 28))
        s = RF_FAIL(rf, err, "dataset %s is too large", dset);
    else if (!(s = token_row_read(rf, dset, d, ft, space, dims, seq, out, err)))
        *n = (int)dims[1];
    if (ft >= 0)
        H5Tclose(ft);
    if (space >= 0)
        H5Sclose(space);
    H5Dclose(d);
    return s;
}

void runfile_strings_free(char **s, int n)
{
    if (!s)
        return;
    for (int i = 0; i < n; i++)
        free(s[i]);
    free(s);
}

