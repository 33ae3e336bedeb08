/* report/report_int.h — internal: the state shared by the parts of the page.
 * report.c loads the runs and writes the sections in order into one FILE*
 * (the temporary file); each part returns an enum ss_status. */
#ifndef SS_REPORT_REPORT_INT_H
#define SS_REPORT_REPORT_INT_H

#include <jansson.h>
#include <stdio.h>

#include "../runfile/runfile.h"
#include "report.h"

struct report_ctx {
    const struct report_options *o;
    struct analyze_run *runs;         /* statistics of each run (labels set) */
    struct runfile **rf;              /* each run open, for maps and provenance */
    int n;
    int has_maps[REPORT_MAX_RUNS];    /* the run has attention maps in the explorer */
    json_t *data;                     /* the explorer's data (maps.c), NULL without maps */
    FILE *out;
    struct report_result *res;
};

/* page.c: the sections made of tables and text */
void page_head(struct report_ctx *c);
enum ss_status page_tables(struct report_ctx *c, struct ss_error *err);   /* summary, compare, audit */
enum ss_status page_provenance(struct report_ctx *c, struct ss_error *err);
void page_explorer(struct report_ctx *c);  /* controls + the data block, when c->data */
void page_end(struct report_ctx *c);       /* script, closing tags */
void page_text(FILE *out, const char *s);  /* HTML-escaped text */

/* figures.c: every plot kind the runs support, as inline SVG */
enum ss_status figures_write(struct report_ctx *c, struct ss_error *err);

/* maps.c: the attention maps of sequence o->seq of each run into c->data */
enum ss_status maps_collect(struct report_ctx *c, struct ss_error *err);
/* Probability -> 16-bit code of the page's log scale and back (page.js decodes the same way). */
unsigned maps_encode(double p);
double maps_decode(unsigned code);
/* Standard base64 of n bytes (malloc'd, NUL-terminated), NULL when out of memory. */
char *maps_base64(const unsigned char *b, size_t n);

/* assets.c: report/page.js and report/page.css, compiled in (Makefile) */
extern const char report_page_js[];
extern const char report_page_css[];

#endif
