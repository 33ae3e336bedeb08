/* runfile/axes.c — every axis of every dataset checked against the file's own dimensions
 * before it is read: the 1-D dimension scales at the root ("/layer", "/stream", ...) that
 * the writer attaches to each axis (docs/SCHEMA.md). A dataset whose axis disagrees with
 * its scale (act_top_index with 1 stream in a file of 4) is refused, so no reader indexes
 * past what it read, whatever extents it asked for.
 *
 * The axis names per dataset come from the schema (runfile/schema.h). A file without
 * a scale (older writers, hand-made files) is checked against its root attributes
 * (n_layers, n_heads, context_length, n_seqs, ...) or the schema's fixed sizes. */
#include "trust.h"
#include "schema.h"

#include <stdio.h>
#include <string.h>

static long long scale_extent_of(hid_t file, const char *name);

/* A numeric scalar root attribute as an integer, or -1. */
static long long root_count(hid_t file, const char *name)
{
    if (H5Aexists(file, name) <= 0)
        return -1;
    hid_t a = H5Aopen(file, name, H5P_DEFAULT);
    if (a < 0)
        return -1;
    hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
    long long v = -1;
    H5T_class_t cls = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
    if ((cls == H5T_INTEGER || cls == H5T_FLOAT) && sp >= 0 && H5Sget_simple_extent_npoints(sp) == 1) {
        double d = -1;
        if (H5Aread(a, H5T_NATIVE_DOUBLE, &d) < 0 || !(d >= 0 && d < 1e15))
            d = -1;
        v = (long long)d;
    }
    if (t >= 0)
        H5Tclose(t);
    if (sp >= 0)
        H5Sclose(sp);
    H5Aclose(a);
    return v;
}

/* Without its scale, a dimension's extent from the root attributes or the schema's
 * fixed sizes (docs/SCHEMA.md); -1 when neither knows it. */
static long long fallback_extent(hid_t file, const char *name)
{
    static const struct { const char *dim, *attr; long long fixed; } fb[] = {
        {"layer", "n_layers", -1}, {"head", "n_heads", -1}, {"pos", "context_length", -1},
        {"query", "context_length", -1}, {"key", "context_length", -1}, {"seq", "n_seqs", -1},
        {"hidden_dim", "hidden", -1}, {"vocab", "vocab", -1}, {"stream", NULL, 4}, {"coord", NULL, 3},
        {"gate_threshold", NULL, 3}, {"out_threshold", NULL, 2}, {"gate_bin", NULL, 50},
    };
    for (size_t i = 0; i < sizeof fb / sizeof fb[0]; i++)
        if (!strcmp(name, fb[i].dim))
            return fb[i].attr ? root_count(file, fb[i].attr) : fb[i].fixed;
    return -1;
}

/* Extent of the root scale "/name", else its fallback; -1 when unknown. */
static long long dim_extent(hid_t file, const char *name)
{
    long long n = scale_extent_of(file, name);
    return n >= 0 ? n : fallback_extent(file, name);
}

/* Extent of the root scale "/name", or -1 when it is missing or not 1-D. */
static long long scale_extent_of(hid_t file, const char *name)
{
    char p[64];
    snprintf(p, sizeof p, "/%s", name);
    if (H5Lexists(file, p, H5P_DEFAULT) <= 0)
        return -1;
    hid_t d = H5Dopen2(file, p, H5P_DEFAULT);
    if (d < 0)
        return -1;
    hid_t sp = H5Dget_space(d);
    hsize_t n = 0;
    int nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    if (nd == 1 && H5Sget_simple_extent_dims(sp, &n, NULL) < 0)
        nd = -1;
    if (sp >= 0)
        H5Sclose(sp);
    H5Dclose(d);
    return nd == 1 ? (long long)n : -1;
}

enum ss_status rf_axes_check(hid_t file, const char *path, const char *dset, int nd, const hsize_t *dims,
                             struct ss_error *err)
{
    const struct rf_dataset *a = rf_schema_find(dset);
    if (!a)
        return SS_OK; /* a dimension scale itself, or a dataset of a newer minor version */
    if (a->ndim != nd)
        return ss_fail(err, SS_ERR_INPUT, "%s: dataset %s has rank %d, the schema says %d", path, dset, nd, a->ndim);
    long long want[4];
    int bad = -1;
    for (int i = 0; i < nd; i++) {
        want[i] = dim_extent(file, a->dims[i]);
        /* attention dumps of --heads: the head axis is the scale /attn_head instead */
        if (want[i] != (long long)dims[i] && !strcmp(a->dims[i], "head") && a->ndim == 4 &&
            scale_extent_of(file, "attn_head") == (long long)dims[i])
            want[i] = (long long)dims[i];
        if (bad < 0 && want[i] >= 0 && (unsigned long long)want[i] != (unsigned long long)dims[i])
            bad = i;
    }
    if (bad < 0)
        return SS_OK;
    char got[160] = "[", exp[160] = "[";
    for (int i = 0; i < nd; i++) {
        size_t g = strlen(got), e = strlen(exp);
        snprintf(got + g, sizeof got - g, "%s%llu", i ? ", " : "", (unsigned long long)dims[i]);
        if (want[i] >= 0)
            snprintf(exp + e, sizeof exp - e, "%s%lld", i ? ", " : "", want[i]);
        else
            snprintf(exp + e, sizeof exp - e, "%s*", i ? ", " : "");
    }
    return ss_fail(err, SS_ERR_INPUT, "%s: dataset %s has shape %s], expected %s] (axis %d must match the "
                   "file's dimension %s)", path, dset, got, exp, bad, a->dims[bad]);
}
