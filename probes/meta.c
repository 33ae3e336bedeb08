/* probes/meta.c — root attributes of the run file (docs/SCHEMA.md). */
#include "probes.h"

#include <stdio.h>
#include <time.h>

#include "../runfile/h5write.h"
#include "../runfile/runfile.h"

enum ss_status probes_write_meta(struct h5w *w, const struct probes_meta *m, struct ss_error *err)
{
    char schema[32], created[32];
    snprintf(schema, sizeof schema, "%s/%d", RUNFILE_SCHEMA_NAME, RUNFILE_SCHEMA_MAJOR);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    hid_t f = w->file;
    const struct {
        const char *name, *value;
    } strs[] = {
        {"schema", schema}, {"tool_version", m->tool_version}, {"created", created},
        {"model_path", m->model_path}, {"model_type", m->model_type}, {"config_json", m->config_json},
        {"gate_kind", m->gate_kind}, {"gate_mode", m->gate_mode}, {"bos", m->bos},
        {"input_source", m->input_source},
    };
    const struct {
        const char *name;
        int value;
    } ints[] = {
        {"n_layers", m->n_layers}, {"n_heads", m->n_heads}, {"n_kv_heads", m->n_kv_heads},
        {"head_dim", m->head_dim}, {"hidden", m->hidden}, {"vocab", m->vocab}, {"threads", m->threads},
        {"context_length", m->context_length}, {"n_seqs", m->n_seqs},
    };
    const struct {
        const char *name;
        double value;
    } dbls[] = {
        {"sink_epsilon", m->sink_epsilon}, {"time_load_s", m->time_load_s},
        {"time_forward_s", m->time_forward_s}, {"time_write_s", m->time_write_s},
        {"time_probes_s", m->time_probes_s},
    };
    enum ss_status s = SS_OK;
    for (size_t i = 0; i < sizeof strs / sizeof *strs && !s; i++)
        s = h5w_attr_string(w, f, strs[i].name, strs[i].value ? strs[i].value : "", err);
    for (size_t i = 0; i < sizeof ints / sizeof *ints && !s; i++)
        s = h5w_attr_int(w, f, ints[i].name, ints[i].value, err);
    for (size_t i = 0; i < sizeof dbls / sizeof *dbls && !s; i++)
        s = h5w_attr_double(w, f, dbls[i].name, dbls[i].value, err);
    return s;
}

enum ss_status probes_write_interventions(struct h5w *w, const struct probes_interventions *pi,
                                          struct ss_error *err)
{
    hid_t f = w->file;
    enum ss_status s = h5w_attr_string(w, f, "interventions", pi->summary, err);
    if (!s)
        s = h5w_attr_string(w, f, "rope_scaling", pi->rope, err);
    if (!s)
        s = h5w_attr_int(w, f, "attn_window", pi->window, err);
    if (!s)
        s = h5w_attr_int(w, f, "sink_tokens", pi->sink_tokens, err);
    if (!s)
        s = h5w_attr_string(w, f, "mask_keys", pi->mask_keys, err);
    if (!s)
        s = h5w_attr_string(w, f, "ablate", pi->ablate, err);
    if (!s)
        s = h5w_attr_int(w, f, "ablate_layer", pi->ablate_layer, err);
    if (!s)
        s = h5w_attr_double(w, f, "ablated_entries", pi->ablated_entries, err);
    if (!s)
        s = h5w_attr_string(w, f, "gate_constant_values", pi->gate_values, err);
    if (!s)
        s = h5w_attr_string(w, f, "context_sweep", pi->sweep, err);
    return s;
}
