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

/* The headline row's table (paper Table 4 columns); extra columns for csv. */
void analyze_headline_table(struct table *t, enum analyze_format f);
void analyze_headline_row(struct table *t, const struct analyze_run *r, enum analyze_format f);

/* Every table is printed the same way: a blank line between tables (text, markdown, latex). */
void analyze_print_tables(FILE *out, const struct table *const *t, const char *const *scopes, int n,
                          enum analyze_format f);

#endif
