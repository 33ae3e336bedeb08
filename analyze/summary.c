/* analyze/summary.c — `sinkscope summary`: the headline row in the shape of the
 * paper's Table 4, per-layer and per-head tables, and the JSON document. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze_int.h"

const char *const analyze_stream_names[ANALYZE_STREAMS] = {"attn_output", "attn_residual", "ffn_output",
                                                           "ffn_residual"};

json_t *json_num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *layer_json(const struct analyze_run *r, int l, int per_head)
{
    json_t *o = json_object();
    json_object_set_new(o, "layer", json_integer(l));
    json_object_set_new(o, "first_token_share", json_num(r->fts_layer[l]));
    json_object_set_new(o, "first_token_share_incl0", json_num(r->fts_incl0_layer[l]));
    json_object_set_new(o, "sink_alpha0", json_num(r->alpha0_layer[l]));
    json_object_set_new(o, "sink_heads", json_integer(r->sink_heads[l]));
    json_object_set_new(o, "attn_entropy", json_num(r->entropy_layer[l]));
    json_t *am = json_object();
    for (int s = 0; s < ANALYZE_STREAMS; s++)
        json_object_set_new(am, analyze_stream_names[s], json_num(r->act_max[l * ANALYZE_STREAMS + s]));
    json_object_set_new(o, "act_max", am);
    const int *w = r->act_where + l * 3;
    if (w[0] >= 0)
        json_object_set_new(o, "act_max_where", json_pack("{s:i,s:i,s:i}", "seq", w[0], "pos", w[1], "dim", w[2]));
    else
        json_object_set_new(o, "act_max_where", json_null());
    json_object_set_new(o, "gate_mean", json_num(r->gated ? r->gate_mean_l[l] : NAN));
    json_object_set_new(o, "gate_std", json_num(r->gated ? r->gate_std_l[l] : NAN));
    json_object_set_new(o, "gate_min", json_num(r->gated ? r->gate_min_l[l] : NAN));
    json_object_set_new(o, "gate_max", json_num(r->gated ? r->gate_max_l[l] : NAN));
    if (r->lsink_l)
        json_object_set_new(o, "learned_sink_share", json_num(r->lsink_l[l]));
    analyze_routing_json(o, r, l);
    if (per_head) {
        json_t *hs = json_array();
        for (int h = 0; h < r->n_heads; h++) {
            size_t i = (size_t)l * r->n_heads + h;
            json_t *ho = json_object();
            json_object_set_new(ho, "head", json_integer(h));
            json_object_set_new(ho, "first_token_share", json_num(r->fts[i]));
            json_object_set_new(ho, "first_token_share_incl0", json_num(r->fts_incl0 ? r->fts_incl0[i] : NAN));
            json_object_set_new(ho, "sink_alpha0", json_num(r->alpha0[i]));
            json_object_set_new(ho, "attn_entropy", json_num(r->entropy[i]));
            json_object_set_new(ho, "top_key_pos", r->top_key[i] >= 0 ? json_integer(r->top_key[i]) : json_null());
            json_object_set_new(ho, "gate_mean", json_num(r->gated ? r->gate_mean_h[i] : NAN));
            json_object_set_new(ho, "gate_std", json_num(r->gated ? r->gate_std_h[i] : NAN));
            json_object_set_new(ho, "gate_min", json_num(r->gated ? r->gate_min_h[i] : NAN));
            json_object_set_new(ho, "gate_max", json_num(r->gated ? r->gate_max_h[i] : NAN));
            if (r->lsink_h)
                json_object_set_new(ho, "learned_sink_share", json_num(r->lsink_h[i]));
            json_array_append_new(hs, ho);
        }
        json_object_set_new(o, "heads", hs);
    }
    return o;
}

json_t *analyze_run_json(const struct analyze_run *r, int per_head)
{
    json_t *o = json_object();
    json_object_set_new(o, "file", json_string(r->path));
    json_object_set_new(o, "label", json_string(r->label));
    json_object_set_new(o, "model_type", json_string(r->model_type));
    json_object_set_new(o, "model_path", json_string(r->model_path));
    json_object_set_new(o, "gate_kind", json_string(r->gate_kind));
    json_object_set_new(o, "gate_mode", json_string(r->gate_mode));
    json_object_set_new(o, "bos", json_string(r->bos));
    json_object_set_new(o, "input_source", json_string(r->input_source));
    json_object_set_new(o, "n_layers", json_integer(r->n_layers));
    json_object_set_new(o, "n_heads", json_integer(r->n_heads));
    json_object_set_new(o, "n_kv_heads", json_integer(r->n_kv_heads));
    json_object_set_new(o, "context_length", json_integer(r->context_length));
    json_object_set_new(o, "interventions", json_string(r->interventions));
    json_object_set_new(o, "rope_scaling", json_string(r->rope_scaling));
    json_object_set_new(o, "attn_window", json_integer(r->attn_window));
    json_object_set_new(o, "sink_tokens", json_integer(r->sink_tokens));
    json_object_set_new(o, "context_sweep", json_string(r->context_sweep));
    if (r->loss_pos) {
        json_t *lp = json_object(), *v = json_array();
        json_object_set_new(lp, "bucket", json_integer(ANALYZE_LOSS_BUCKET));
        for (int b = 0; b < r->n_loss; b++)
            json_array_append_new(v, json_num(r->loss_pos[b]));
        json_object_set_new(lp, "mean_nll", v);
        json_object_set_new(o, "loss_by_position", lp);
    }
    json_object_set_new(o, "n_seqs", json_integer(r->n_seqs));
    json_object_set_new(o, "sink_epsilon", json_num(r->sink_epsilon));
    json_object_set_new(o, "first_token_share", json_num(r->first_token_share));
    json_object_set_new(o, "first_token_share_incl0", json_num(r->first_token_share_incl0));
    json_object_set_new(o, "max_activation_mean", json_num(r->max_activation_mean));
    json_object_set_new(o, "max_activation", json_num(r->max_activation));
    json_object_set_new(o, "gate_mean", json_num(r->gate_mean));
    json_object_set_new(o, "perplexity", json_num(r->perplexity));
    json_object_set_new(o, "sink_rate", json_num(r->sink_rate));
    json_object_set_new(o, "n_tokens", isfinite(r->n_tokens) ? json_integer((json_int_t)r->n_tokens) : json_null());
    if (r->lsink_h)
        json_object_set_new(o, "learned_sink_share", json_num(r->learned_sink_share));
    if (r->moe_layer) {
        json_object_set_new(o, "n_experts", json_integer(r->n_experts));
        json_object_set_new(o, "router_entropy_norm", json_num(r->router_entropy_norm));
    }
    json_t *ls = json_array();
    for (int l = 0; l < r->n_layers; l++)
        json_array_append_new(ls, layer_json(r, l, per_head));
    json_object_set_new(o, "layers", ls);
    return o;
}

enum ss_status analyze_json_emit(FILE *out, json_t *v, struct ss_error *err)
{
    if (!v)
        return ss_fail(err, SS_ERR_NOMEM, "out of memory building JSON");
    int rc = json_dumpf(v, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    json_decref(v);
    if (rc != 0)
        return ss_fail(err, SS_ERR_IO, "cannot write the JSON output");
    fputc('\n', out);
    return SS_OK;
}

void analyze_headline_table(struct table *t, const struct analyze_run *r, enum analyze_format f)
{
    table_col(t, "label", "run", CELL_KIND_TEXT);
    table_col(t, "gate_mean", "Gate Score", CELL_KIND_PROB);
    table_col(t, "max_activation_mean", "M-Act", CELL_KIND_ACT);
    table_col(t, "first_token_share", "F-Attn", CELL_KIND_PROB);
    table_col(t, "perplexity", "PPL", CELL_KIND_PROB);
    table_col(t, "sink_rate", "Sink rate", CELL_KIND_PROB);
    if (r->lsink_h) /* where the run has them: a learned sink's share beside F-Attn, the router's entropy */
        table_col(t, "learned_sink_share", "Learned sink", CELL_KIND_PROB);
    if (r->moe_layer)
        table_col(t, "router_entropy_norm", "Router H/ln E", CELL_KIND_PROB);
    if (f == ANALYZE_FORMAT_CSV) {
        table_col(t, "first_token_share_incl0", "F-Attn incl. q=0", CELL_KIND_PROB);
        table_col(t, "max_activation", "max |x|", CELL_KIND_ACT);
        table_col(t, "n_tokens", "tokens", CELL_KIND_INT);
        table_col(t, "file", "file", CELL_KIND_TEXT);
    }
}

void analyze_headline_row(struct table *t, const struct analyze_run *r, enum analyze_format f)
{
    int row = table_row(t);
    table_text(t, row, 0, r->label);
    table_num(t, row, 1, r->gate_mean);
    table_num(t, row, 2, r->max_activation_mean);
    table_num(t, row, 3, r->first_token_share);
    table_num(t, row, 4, r->perplexity);
    table_num(t, row, 5, r->sink_rate);
    int c = 6;
    if (r->lsink_h)
        table_num(t, row, c++, r->learned_sink_share);
    if (r->moe_layer)
        table_num(t, row, c++, r->router_entropy_norm);
    if (f == ANALYZE_FORMAT_CSV) {
        table_num(t, row, c++, r->first_token_share_incl0);
        table_num(t, row, c++, r->max_activation);
        table_num(t, row, c++, r->n_tokens);
        table_text(t, row, c, r->path);
    }
}

void analyze_print_tables(FILE *out, const struct table *const *t, const char *const *scopes, int n,
                          enum analyze_format f)
{
    if (f == ANALYZE_FORMAT_CSV) {
        table_csv(out, t, scopes, n);
        return;
    }
    for (int i = 0; i < n; i++) {
        if (i)
            fputc('\n', out);
        table_print(out, t[i], f);
    }
}

/* The four gate columns of the layer and head tables (gated runs only). */
static void gate_cols(struct table *t)
{
    table_col(t, "gate_mean", "gate mean", CELL_KIND_PROB);
    table_col(t, "gate_std", "gate std", CELL_KIND_PROB);
    table_col(t, "gate_min", "gate min", CELL_KIND_PROB);
    table_col(t, "gate_max", "gate max", CELL_KIND_PROB);
}

static void gate_cells(struct table *t, int row, int c, double mean, double std, double min, double max)
{
    table_num(t, row, c, mean);
    table_num(t, row, c + 1, std);
    table_num(t, row, c + 2, min);
    table_num(t, row, c + 3, max);
}

static void layer_table(struct table *t, const struct analyze_run *r)
{
    table_init(t, "per layer (0-based)");
    table_col(t, "layer", "layer", CELL_KIND_INT);
    table_col(t, "first_token_share", "F-Attn", CELL_KIND_PROB);
    table_col(t, "first_token_share_incl0", "F-Attn incl. q=0", CELL_KIND_PROB);
    table_col(t, "sink_alpha0", "alpha_0", CELL_KIND_PROB);
    table_col(t, "sink_heads", "sink heads", CELL_KIND_INT);
    table_col(t, "attn_entropy", "entropy", CELL_KIND_PROB);
    table_col(t, "act_max_attn_output", "max attn_out", CELL_KIND_ACT);
    table_col(t, "act_max_attn_residual", "max attn_res", CELL_KIND_ACT);
    table_col(t, "act_max_ffn_output", "max ffn_out", CELL_KIND_ACT);
    table_col(t, "act_max_ffn_residual", "max ffn_res", CELL_KIND_ACT);
    table_col(t, "act_max_pos", "at pos", CELL_KIND_INT);
    table_col(t, "act_max_dim", "at dim", CELL_KIND_INT);
    if (r->gated)
        gate_cols(t);
    if (r->lsink_l)
        table_col(t, "learned_sink_share", "learned sink", CELL_KIND_PROB);
    for (int l = 0; l < r->n_layers; l++) {
        int row = table_row(t), c = 0;
        table_num(t, row, c++, l);
        table_num(t, row, c++, r->fts_layer[l]);
        table_num(t, row, c++, r->fts_incl0_layer[l]);
        table_num(t, row, c++, r->alpha0_layer[l]);
        table_num(t, row, c++, r->sink_heads[l]);
        table_num(t, row, c++, r->entropy_layer[l]);
        for (int s = 0; s < ANALYZE_STREAMS; s++)
            table_num(t, row, c++, r->act_max[l * ANALYZE_STREAMS + s]);
        const int *w = r->act_where + l * 3;
        table_num(t, row, c++, w[0] >= 0 ? w[1] : NAN);
        table_num(t, row, c++, w[0] >= 0 ? w[2] : NAN);
        if (r->gated)
            gate_cells(t, row, c, r->gate_mean_l[l], r->gate_std_l[l], r->gate_min_l[l], r->gate_max_l[l]);
        if (r->lsink_l)
            table_num(t, row, c + (r->gated ? 4 : 0), r->lsink_l[l]);
    }
}

static void head_table(struct table *t, const struct analyze_run *r)
{
    table_init(t, "per head");
    table_col(t, "layer", "layer", CELL_KIND_INT);
    table_col(t, "head", "head", CELL_KIND_INT);
    table_col(t, "first_token_share", "F-Attn", CELL_KIND_PROB);
    table_col(t, "first_token_share_incl0", "F-Attn incl. q=0", CELL_KIND_PROB);
    table_col(t, "sink_alpha0", "alpha_0", CELL_KIND_PROB);
    table_col(t, "attn_entropy", "entropy", CELL_KIND_PROB);
    table_col(t, "top_key_pos", "top key", CELL_KIND_INT);
    if (r->gated)
        gate_cols(t);
    if (r->lsink_h)
        table_col(t, "learned_sink_share", "learned sink", CELL_KIND_PROB);
    for (int l = 0; l < r->n_layers; l++)
        for (int h = 0; h < r->n_heads; h++) {
            size_t i = (size_t)l * r->n_heads + h;
            int row = table_row(t), c = 0;
            table_num(t, row, c++, l);
            table_num(t, row, c++, h);
            table_num(t, row, c++, r->fts[i]);
            table_num(t, row, c++, r->fts_incl0 ? r->fts_incl0[i] : NAN);
            table_num(t, row, c++, r->alpha0[i]);
            table_num(t, row, c++, r->entropy[i]);
            table_num(t, row, c++, r->top_key[i] >= 0 ? r->top_key[i] : NAN);
            if (r->gated)
                gate_cells(t, row, c, r->gate_mean_h[i], r->gate_std_h[i], r->gate_min_h[i], r->gate_max_h[i]);
            if (r->lsink_h)
                table_num(t, row, c + (r->gated ? 4 : 0), r->lsink_h[i]);
        }
}

enum ss_status analyze_summary(FILE *out, const struct analyze_run *r, int per_layer, int per_head,
                               enum analyze_format f, struct ss_error *err)
{
    if (f == ANALYZE_FORMAT_JSON)
        return analyze_json_emit(out, analyze_run_json(r, per_head), err);
    if (f == ANALYZE_FORMAT_TEXT)
        fprintf(out, "%s: %s (%s), gate %s (%s), %d layers x %d heads, %d sequences x %d positions, bos %s\n\n",
                r->path, r->model_type[0] ? r->model_type : "?", r->model_path[0] ? r->model_path : "?",
                r->gate_kind[0] ? r->gate_kind : "?", r->gate_mode[0] ? r->gate_mode : "?", r->n_layers,
                r->n_heads, r->n_seqs, r->context_length, r->bos[0] ? r->bos : "?");
    if (f == ANALYZE_FORMAT_TEXT && r->interventions[0])
        fprintf(out, "interventions: %s\n\n", r->interventions);
    if (f == ANALYZE_FORMAT_TEXT && r->loss_pos) {
        fprintf(out, "loss by position (mean NLL per %d positions):", ANALYZE_LOSS_BUCKET);
        for (int b = 0; b < r->n_loss; b++)
            fprintf(out, " %.3f", r->loss_pos[b]);
        fprintf(out, "\n\n");
    }
    struct table head, layers, heads, routing;
    table_init(&head, f == ANALYZE_FORMAT_CSV ? "" : "headline (paper Table 4 columns)");
    analyze_headline_table(&head, r, f);
    analyze_headline_row(&head, r, f);
    const struct table *ts[4] = {&head};
    const char *scopes[4] = {"run"};
    int n = 1;
    if (per_layer) {
        layer_table(&layers, r);
        scopes[n] = "layer";
        ts[n++] = &layers;
    }
    int routed = per_layer && r->moe_layer;
    if (routed) {
        analyze_routing_table(&routing, r);
        scopes[n] = "routing";
        ts[n++] = &routing;
    }
    if (per_head) {
        head_table(&heads, r);
        scopes[n] = "head";
        ts[n++] = &heads;
    }
    analyze_print_tables(out, ts, scopes, n, f);
    table_free(&head);
    if (per_layer)
        table_free(&layers);
    if (routed)
        table_free(&routing);
    if (per_head)
        table_free(&heads);
    if (ferror(out))
        return ss_fail(err, SS_ERR_IO, "cannot write the output");
    return SS_OK;
}
