/* probes/record.c — one finished sequence kept on disk for --resume: its
 * accumulators bit for bit and its rows of the per-sequence datasets. */
#include "probes.h"

#include <stdlib.h>
#include <string.h>

#include "../runfile/h5write.h"

enum ss_status probes_record_finish(struct probes *p, struct h5w *rec, const char *command,
                                    struct ss_error *err)
{
    const struct seq_stats *s = probes_seq_stats(p);
    enum ss_status st = SS_OK;
    if (s->buf) {
        int64_t n = (int64_t)s->n;
        const char *d[1] = {"acc"};
        st = h5w_dim(rec, "acc", n, NULL, "accumulator index", "1", err);
        if (!st)
            st = h5w_write(rec, "/record/acc", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, d, &n, s->buf,
                           "per-sequence accumulators (probes/stats.c layout)", "1", err);
    }
    if (!st)
        st = h5w_attr_string(rec, rec->file, "command", command, err);
    if (!st)
        st = h5w_attr_int(rec, rec->file, "complete", 1, err);
    return st;
}

static int read_ints(hid_t file, const char *path, int32_t *buf, int64_t n)
{
    hid_t ds = H5Dopen2(file, path, H5P_DEFAULT);
    if (ds < 0)
        return -1;
    hid_t sp = H5Dget_space(ds);
    int ok = H5Sget_simple_extent_npoints(sp) == n &&
             H5Dread(ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0;
    H5Sclose(sp);
    H5Dclose(ds);
    return ok ? 0 : -1;
}

int probes_record_matches(struct h5w *rec, const char *command, const int32_t *tokens, int T)
{
    hid_t f = rec->file;
    if (H5Aexists(f, "complete") <= 0 || H5Aexists(f, "command") <= 0)
        return 0;
    hid_t a = H5Aopen(f, "command", H5P_DEFAULT);
    hid_t t = H5Aget_type(a);
    size_t sz = H5Tget_size(t), want = strlen(command) + 1;
    char *v = H5Tis_variable_str(t) == 0 && sz == want ? malloc(sz) : NULL;
    int same = v && H5Aread(a, t, v) >= 0 && !memcmp(v, command, want);
    free(v);
    H5Tclose(t);
    H5Aclose(a);
    if (!same)
        return 0;
    int32_t *got = malloc(T * sizeof *got);
    int ok = got && read_ints(f, "/tokens", got, T) == 0 && !memcmp(got, tokens, T * sizeof *got);
    free(got);
    return ok;
}
