/* runfile/trust.c — see trust.h. */
#include "trust.h"

#include <stdio.h>
#include <string.h>

static enum ss_status check_filters(hid_t dcpl, const char *path, const char *dset, struct ss_error *err)
{
    int nf = H5Pget_nfilters(dcpl);
    if (nf < 0)
        return ss_fail(err, SS_ERR_INPUT, "%s: dataset %s: unreadable filter pipeline (corrupt file?)", path, dset);
    for (int i = 0; i < nf; i++) {
        unsigned flags = 0, conf = 0;
        size_t nel = 0;
        char name[64] = "";
        H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &nel, NULL, sizeof name, name, &conf);
        if (id != H5Z_FILTER_DEFLATE && id != H5Z_FILTER_SHUFFLE && id != H5Z_FILTER_FLETCHER32)
            return ss_fail(err, SS_ERR_INPUT,
                           "%s: dataset %s uses filter %d%s%s%s (sinkscope reads deflate, shuffle and fletcher32 only)",
                           path, dset, (int)id, name[0] ? " (" : "", name, name[0] ? ")" : "");
    }
    return SS_OK;
}

enum ss_status rf_trust_dataset(hid_t d, const char *path, const char *dset, struct ss_error *err)
{
    hid_t dcpl = H5Dget_create_plist(d);
    if (dcpl < 0)
        return ss_fail(err, SS_ERR_INPUT, "%s: dataset %s: unreadable creation properties (corrupt file?)", path, dset);
    enum ss_status s = SS_OK;
    H5D_layout_t lay = H5Pget_layout(dcpl);
    int next = H5Pget_external_count(dcpl);
    if (next != 0)
        s = ss_fail(err, SS_ERR_INPUT, "%s: dataset %s keeps its data in external files (refused: a run file must be "
                    "self-contained)", path, dset);
    else if (lay == H5D_VIRTUAL)
        s = ss_fail(err, SS_ERR_INPUT, "%s: dataset %s is virtual (maps other files; refused)", path, dset);
    else if (lay < 0)
        s = ss_fail(err, SS_ERR_INPUT, "%s: dataset %s: unreadable layout (corrupt file?)", path, dset);
    else
        s = check_filters(dcpl, path, dset, err);
    H5Pclose(dcpl);
    if (s)
        return s;
    /* bytes declared against bytes stored */
    hid_t t = H5Dget_type(d), sp = H5Dget_space(d);
    size_t esz = t >= 0 ? H5Tget_size(t) : 0;
    hssize_t np = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    if (t >= 0)
        H5Tclose(t);
    if (sp >= 0)
        H5Sclose(sp);
    if (esz == 0 || np < 0)
        return ss_fail(err, SS_ERR_INPUT, "%s: dataset %s: unreadable type or shape (corrupt file?)", path, dset);
    hsize_t declared;
    if (__builtin_mul_overflow((hsize_t)np, (hsize_t)esz, &declared))
        return ss_fail(err, SS_ERR_INPUT, "%s: dataset %s declares more than 2^64 bytes", path, dset);
    hsize_t stored = lay == H5D_COMPACT ? declared : H5Dget_storage_size(d);
    hsize_t ratio = lay == H5D_CHUNKED ? RF_TRUST_MAX_RATIO : 1, can;
    if (__builtin_mul_overflow(stored, ratio, &can) || __builtin_add_overflow(can, RF_TRUST_SLACK, &can))
        can = (hsize_t)-1;
    if (declared > can)
        return ss_fail(err, SS_ERR_INPUT, "%s: dataset %s declares %lld values (%llu bytes) but stores %llu bytes "
                       "(a size bomb or a truncated file)", path, dset, (long long)np,
                       (unsigned long long)declared, (unsigned long long)stored);
    return SS_OK;
}

struct visit {
    const char *path;
    struct ss_error *err;
    enum ss_status s;
    long n;
};

static herr_t visit_link(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    struct visit *v = data;
    if (++v->n > RF_TRUST_MAX_LINKS) {
        v->s = ss_fail(v->err, SS_ERR_INPUT, "%s: more than %d objects (not a sinkscope run file?)", v->path,
                       RF_TRUST_MAX_LINKS);
        return -1;
    }
    if (info->type != H5L_TYPE_HARD) {
        const char *k = info->type == H5L_TYPE_EXTERNAL ? "an external link (to another file)"
                        : info->type == H5L_TYPE_SOFT   ? "a soft link"
                                                        : "a user-defined link";
        v->s = ss_fail(v->err, SS_ERR_INPUT, "%s: /%s is %s; refused: sinkscope writes hard links only", v->path,
                       name, k);
        return -1;
    }
    H5O_info_t oi;
    if (H5Oget_info_by_name2(g, name, &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0) {
        v->s = ss_fail(v->err, SS_ERR_INPUT, "%s: /%s: unreadable object (corrupt file?)", v->path, name);
        return -1;
    }
    if (oi.type != H5O_TYPE_DATASET)
        return 0;
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    if (d < 0) {
        v->s = ss_fail(v->err, SS_ERR_INPUT, "%s: /%s is not a readable dataset (corrupt file?)", v->path, name);
        return -1;
    }
    char full[1100];
    snprintf(full, sizeof full, "/%s", name);
    v->s = rf_trust_dataset(d, v->path, full, v->err);
    H5Dclose(d);
    return v->s ? -1 : 0;
}

enum ss_status rf_trust_file(hid_t file, const char *path, struct ss_error *err)
{
    struct visit v = {path, err, SS_OK, 0};
    herr_t rc = H5Lvisit(file, H5_INDEX_NAME, H5_ITER_NATIVE, visit_link, &v);
    if (v.s)
        return v.s;
    if (rc < 0)
        return ss_fail(err, SS_ERR_INPUT, "%s: cannot list the objects of the file (corrupt file?)", path);
    return SS_OK;
}
