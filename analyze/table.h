/* analyze/table.h — internal: a table of text and number cells rendered as
 * aligned text, csv, markdown, latex (booktabs) or html. JSON is built per command. */
#ifndef SS_ANALYZE_TABLE_H
#define SS_ANALYZE_TABLE_H

#include <stdio.h>

#include "analyze.h"

/* How a number is written in text/markdown/latex (csv always uses %.10g). */
enum cell_kind {
    CELL_KIND_TEXT,
    CELL_KIND_PROB,  /* %.3f */
    CELL_KIND_ACT,   /* %.1f */
    CELL_KIND_INT,   /* %.0f */
    CELL_KIND_RATIO, /* %.3f */
    CELL_KIND_DIFF_PROB, /* %+.3f */
    CELL_KIND_DIFF_ACT,  /* %+.1f */
};

#define TABLE_MAX_COLS 48

struct table_col {
    char key[160];  /* csv header / machine name */
    char head[160]; /* human header */
    enum cell_kind kind;
};

struct table_cell {
    double v;       /* NaN: missing, written "-" (empty in csv) */
    char *s;        /* text cell when non-NULL */
    int kind;       /* -1: the column's kind, else an enum cell_kind for this cell */
};

struct table {
    char title[256];
    int ncols, nrows, cap;
    struct table_col cols[TABLE_MAX_COLS];
    struct table_cell *cells; /* nrows x ncols */
};

void table_init(struct table *t, const char *title);
void table_free(struct table *t);
void table_col(struct table *t, const char *key, const char *head, enum cell_kind kind);
/* Start a row; cells are then set by column index; returns the row or -1 (no memory). */
int table_row(struct table *t);
void table_num(struct table *t, int row, int col, double v);
void table_text(struct table *t, int row, int col, const char *s);
/* A number written with its own kind (rows of different quantities in one column). */
void table_num_kind(struct table *t, int row, int col, double v, enum cell_kind kind);

/* Render tables one after another (csv: one table per call, see table_csv). */
void table_print(FILE *out, const struct table *t, enum analyze_format f);
/* CSV of several tables as one: header "scope" + the union of keys, in order of first
 * appearance; each row gets its table's scope name, empty cells where its table lacks a key. */
void table_csv(FILE *out, const struct table *const *tables, const char *const *scopes, int n);

/* Number as written by kind (buf >= 64). */
const char *table_fmt(char *buf, double v, enum cell_kind kind);
void latex_escape(FILE *out, const char *s);

#endif
