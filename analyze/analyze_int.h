/* analyze/analyze_int.h — internal: pieces shared by summary, compare and audit. */
#ifndef SS_ANALYZE_INT_H
#define SS_ANALYZE_INT_H

#include <jansson.h>

#include "analyze.h"
#include "table.h"

extern const char *const analyze_stream_names[ANALYZE_STREAMS];

/* A real, or null for NaN (JSON has no NaN). */
json_t *json_num(double v);
/* The run's root settings, /summary scalars and `layers` array (heads with per_head). */
json_t *analyze_run_json(const struct analyze_run *r, int per_head);
/* Dump v (stolen) to out with stable key order and a final newline. */
enum ss_status analyze_json_emit(FILE *out, json_t *v, struct ss_error *err);

/* The headline row's table (paper Table 4 columns); the learned-sink share and router entropy
 * where r has them; extra columns for csv. */
void analyze_headline_table(struct table *t, const struct analyze_run *r, enum analyze_format f);
void analyze_headline_row(struct table *t, const struct analyze_run *r, enum analyze_format f);

/* ---- routing and learned sinks, where a run has them (analyze/moe.c) ---- */
struct runfile;
/* The MoE and learned-sink datasets of rf into r, those present (absent: left NULL / NaN). */
enum ss_status analyze_load_moe(struct analyze_run *r, struct runfile *rf, struct ss_error *err);
void analyze_moe_free(struct analyze_run *r);
/* Per MoE layer: normalised router entropy, the most loaded expert, the expert position 0 goes to
 * most and its load at position 0 and at positions >= 1 ("does the sink token have its own expert?"). */
void analyze_routing_table(struct table *t, const struct analyze_run *r);
/* The same for layer l into o (nothing for a dense layer or a run without routing). */
void analyze_routing_json(json_t *o, const struct analyze_run *r, int l);
/* Expert e of layer l with the largest x[l, e] (NaN skipped); -1 when none. */
int analyze_top_expert(const struct analyze_run *r, const double *x, int l);

/* Every table is printed the same way: a blank line between tables (text, markdown, latex). */
void analyze_print_tables(FILE *out, const struct table *const *t, const char *const *scopes, int n,
                          enum analyze_format f);

#endif
