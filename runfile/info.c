/* runfile/info.c — the one opener of run files for readers (runfile_open_run): the file and
 * the root attributes every reader needs, read and bounded in one place. */
#include "runfile.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static enum ss_status read_count(struct runfile *rf, const char *name, int *v, struct ss_error *err)
{
    double x;
    *v = 0;
    if (runfile_attr_double(rf, NULL, name, &x, err) != SS_OK)
        return SS_ERR_INPUT;
    if (!(x >= 0 && x <= RUNFILE_MAX_COUNT) || x != floor(x))
        return ss_fail(err, SS_ERR_INPUT, "%s: root attribute '%s' is %g, not a count (0 to %d)", runfile_path(rf),
                       name, x, RUNFILE_MAX_COUNT);
    *v = (int)x;
    return SS_OK;
}

static void read_string(struct runfile *rf, const char *name, char *buf, size_t n, const char *dflt)
{
    struct ss_error ignored;
    if (runfile_attr_string(rf, NULL, name, buf, n, &ignored) != SS_OK)
        snprintf(buf, n, "%s", dflt);
}

enum ss_status runfile_open_run(struct runfile **rf, struct rf_info *info, const char *path, struct ss_error *err)
{
    memset(info, 0, sizeof *info);
    enum ss_status s = runfile_open(rf, path, err);
    if (s)
        return s;
    const char *counts[] = {"n_layers", "n_heads", "n_kv_heads", "context_length", "n_seqs"};
    int *dst[] = {&info->n_layers, &info->n_heads, &info->n_kv_heads, &info->context_length, &info->n_seqs};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0] && !s; i++)
        s = read_count(*rf, counts[i], dst[i], err);
    if (!s && (info->n_layers < 1 || info->n_heads < 1))
        s = ss_fail(err, SS_ERR_INPUT, "%s: n_layers %d, n_heads %d: no layers or heads", path, info->n_layers,
                    info->n_heads);
    if (s) {
        runfile_close(*rf);
        *rf = NULL;
        return s;
    }
    read_string(*rf, "model_type", info->model_type, sizeof info->model_type, "");
    read_string(*rf, "model_path", info->model_path, sizeof info->model_path, "");
    read_string(*rf, "gate_kind", info->gate_kind, sizeof info->gate_kind, "");
    read_string(*rf, "gate_mode", info->gate_mode, sizeof info->gate_mode, "");
    read_string(*rf, "bos", info->bos, sizeof info->bos, "");
    read_string(*rf, "input_source", info->input_source, sizeof info->input_source, "");
    struct ss_error ignored;
    if (runfile_attr_double(*rf, NULL, "sink_epsilon", &info->sink_epsilon, &ignored) != SS_OK)
        info->sink_epsilon = 0.3;
    return SS_OK;
}
