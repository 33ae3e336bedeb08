/* analyze/table.c — see table.h. */
#include "table.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void table_init(struct table *t, const char *title)
{
    memset(t, 0, sizeof *t);
    snprintf(t->title, sizeof t->title, "%s", title ? title : "");
}

void table_free(struct table *t)
{
    for (int i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i].s);
    free(t->cells);
    t->cells = NULL;
    t->nrows = t->cap = 0;
}

void table_col(struct table *t, const char *key, const char *head, enum cell_kind kind)
{
    if (t->ncols >= TABLE_MAX_COLS || t->nrows)
        return;
    struct table_col *c = &t->cols[t->ncols++];
    snprintf(c->key, sizeof c->key, "%s", key);
    snprintf(c->head, sizeof c->head, "%s", head);
    c->kind = kind;
}

int table_row(struct table *t)
{
    if (t->nrows == t->cap) {
        int cap = t->cap ? 2 * t->cap : 16;
        struct table_cell *c = realloc(t->cells, sizeof *c * (size_t)cap * t->ncols);
        if (!c)
            return -1;
        t->cells = c;
        t->cap = cap;
    }
    struct table_cell *r = t->cells + (size_t)t->nrows * t->ncols;
    for (int i = 0; i < t->ncols; i++) {
        r[i].v = NAN;
        r[i].s = NULL;
        r[i].kind = -1;
    }
    return t->nrows++;
}

void table_num(struct table *t, int row, int col, double v)
{
    if (row >= 0 && row < t->nrows && col >= 0 && col < t->ncols)
        t->cells[(size_t)row * t->ncols + col].v = v;
}

void table_num_kind(struct table *t, int row, int col, double v, enum cell_kind kind)
{
    if (row >= 0 && row < t->nrows && col >= 0 && col < t->ncols) {
        t->cells[(size_t)row * t->ncols + col].v = v;
        t->cells[(size_t)row * t->ncols + col].kind = (int)kind;
    }
}

void table_text(struct table *t, int row, int col, const char *s)
{
    if (row < 0 || row >= t->nrows || col < 0 || col >= t->ncols)
        return;
    struct table_cell *c = &t->cells[(size_t)row * t->ncols + col];
    free(c->s);
    c->s = strdup(s ? s : "");
}

const char *table_fmt(char *buf, double v, enum cell_kind kind)
{
    if (isnan(v)) {
        strcpy(buf, "-");
        return buf;
    }
    if (isinf(v)) {
        strcpy(buf, v > 0 ? "inf" : "-inf");
        return buf;
    }
    switch (kind) {
    case CELL_KIND_ACT: snprintf(buf, 64, "%.1f", v); break;
    case CELL_KIND_INT: snprintf(buf, 64, "%.0f", v); break;
    case CELL_KIND_DIFF_PROB: snprintf(buf, 64, "%+.3f", v); break;
    case CELL_KIND_DIFF_ACT: snprintf(buf, 64, "%+.1f", v); break;
    default: snprintf(buf, 64, "%.3f", v); break;
    }
    /* no "-0.000": a difference that rounds to zero is zero */
    if (!strcmp(buf, "-0.000") || !strcmp(buf, "-0.0") || !strcmp(buf, "-0"))
        memmove(buf, buf + 1, strlen(buf));
    if (!strcmp(buf, "+0.000") || !strcmp(buf, "+0.0"))
        memmove(buf, buf + 1, strlen(buf));
    return buf;
}

static const char *cell_str(const struct table *t, int row, int col, char *buf)
{
    const struct table_cell *c = &t->cells[(size_t)row * t->ncols + col];
    if (c->s)
        return c->s;
    return table_fmt(buf, c->v, c->kind >= 0 ? (enum cell_kind)c->kind : t->cols[col].kind);
}

/* Display width: UTF-8 code points (continuation bytes do not count). */
static int width(const char *s)
{
    int w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static void pad(FILE *out, int n)
{
    for (int i = 0; i < n; i++)
        fputc(' ', out);
}

static int right_aligned(const struct table *t, int col)
{
    return t->cols[col].kind != CELL_KIND_TEXT;
}

static void print_text(FILE *out, const struct table *t)
{
    int w[TABLE_MAX_COLS];
    char buf[64];
    for (int c = 0; c < t->ncols; c++) {
        w[c] = width(t->cols[c].head);
        for (int r = 0; r < t->nrows; r++) {
            int x = width(cell_str(t, r, c, buf));
            if (x > w[c])
                w[c] = x;
        }
    }
    if (t->title[0])
        fprintf(out, "%s\n", t->title);
    for (int r = -1; r < t->nrows; r++) {
        for (int c = 0; c < t->ncols; c++) {
            const char *s = r < 0 ? t->cols[c].head : cell_str(t, r, c, buf);
            int gap = w[c] - width(s);
            if (c)
                fputs("  ", out);
            if (right_aligned(t, c))
                pad(out, gap);
            fputs(s, out);
            if (!right_aligned(t, c) && c + 1 < t->ncols)
                pad(out, gap);
        }
        fputc('\n', out);
    }
}

static void md_cell(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", out);
        else if (*s == '\n')
            fputc(' ', out);
        else
            fputc(*s, out);
    }
}

static void print_markdown(FILE *out, const struct table *t)
{
    char buf[64];
    if (t->title[0])
        fprintf(out, "**%s**\n\n", t->title);
    fputc('|', out);
    for (int c = 0; c < t->ncols; c++) {
        fputc(' ', out);
        md_cell(out, t->cols[c].head);
        fputs(" |", out);
    }
    fputs("\n|", out);
    for (int c = 0; c < t->ncols; c++)
        fputs(right_aligned(t, c) ? "---:|" : "---|", out);
    fputc('\n', out);
    for (int r = 0; r < t->nrows; r++) {
        fputc('|', out);
        for (int c = 0; c < t->ncols; c++) {
            fputc(' ', out);
            md_cell(out, cell_str(t, r, c, buf));
            fputs(" |", out);
        }
        fputc('\n', out);
    }
}

void latex_escape(FILE *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '\\': fputs("\\textbackslash{}", out); break;
        case '&': case '%': case '$': case '#': case '_': case '{': case '}':
            fputc('\\', out);
            fputc(*s, out);
            break;
        case '~': fputs("\\textasciitilde{}", out); break;
        case '^': fputs("\\textasciicircum{}", out); break;
        case '<': fputs("\\textless{}", out); break;
        case '>': fputs("\\textgreater{}", out); break;
        case '|': fputs("\\textbar{}", out); break;
        case '\n': fputc(' ', out); break;
        default: fputc(*s, out);
        }
    }
}

static void print_latex(FILE *out, const struct table *t)
{
    char buf[64];
    if (t->title[0]) {
        fputs("% ", out);
        latex_escape(out, t->title);
        fputc('\n', out);
    }
    fputs("\\begin{tabular}{", out);
    for (int c = 0; c < t->ncols; c++)
        fputc(right_aligned(t, c) ? 'r' : 'l', out);
    fputs("}\n\\toprule\n", out);
    for (int r = -1; r < t->nrows; r++) {
        for (int c = 0; c < t->ncols; c++) {
            if (c)
                fputs(" & ", out);
            const char *s = r < 0 ? t->cols[c].head : cell_str(t, r, c, buf);
            /* numbers: a minus sign in math mode; "-" alone (missing) stays a dash */
            if (r >= 0 && !t->cells[(size_t)r * t->ncols + c].s && right_aligned(t, c) && s[0] == '-' && s[1])
                fprintf(out, "$-$%s", s + 1);
            else
                latex_escape(out, s);
        }
        fputs(" \\\\\n", out);
        if (r < 0)
            fputs("\\midrule\n", out);
    }
    fputs("\\bottomrule\n\\end{tabular}\n", out);
}

void analyze_html_escape(FILE *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        default: fputc(*s, out);
        }
    }
}

/* Numbers right-aligned (class "n"); the key names each column for scripts and tests. */
static void print_html(FILE *out, const struct table *t)
{
    char buf[64];
    fputs("<table>", out);
    if (t->title[0]) {
        fputs("<caption>", out);
        analyze_html_escape(out, t->title);
        fputs("</caption>", out);
    }
    fputs("\n<thead><tr>", out);
    for (int c = 0; c < t->ncols; c++) {
        fprintf(out, "<th%s data-key=\"", right_aligned(t, c) ? " class=\"n\"" : "");
        analyze_html_escape(out, t->cols[c].key);
        fputs("\">", out);
        analyze_html_escape(out, t->cols[c].head);
        fputs("</th>", out);
    }
    fputs("</tr></thead>\n<tbody>\n", out);
    for (int r = 0; r < t->nrows; r++) {
        fputs("<tr>", out);
        for (int c = 0; c < t->ncols; c++) {
            fputs(right_aligned(t, c) ? "<td class=\"n\">" : "<td>", out);
            analyze_html_escape(out, cell_str(t, r, c, buf));
            fputs("</td>", out);
        }
        fputs("</tr>\n", out);
    }
    fputs("</tbody></table>\n", out);
}

void table_print(FILE *out, const struct table *t, enum analyze_format f)
{
    switch (f) {
    case ANALYZE_FORMAT_HTML: print_html(out, t); break;
    case ANALYZE_FORMAT_MARKDOWN: print_markdown(out, t); break;
    case ANALYZE_FORMAT_LATEX: print_latex(out, t); break;
    case ANALYZE_FORMAT_CSV: {
        const struct table *ts[1] = {t};
        const char *sc[1] = {NULL};
        table_csv(out, ts, sc, 1);
        break;
    }
    default: print_text(out, t); break;
    }
}

static void csv_field(FILE *out, const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

void table_csv(FILE *out, const struct table *const *tables, const char *const *scopes, int n)
{
    char keys[TABLE_MAX_COLS * 4][160];
    int nk = 0, with_scope = 0;
    for (int i = 0; i < n; i++) {
        with_scope |= scopes[i] != NULL;
        for (int c = 0; c < tables[i]->ncols; c++) {
            int found = 0;
            for (int k = 0; k < nk && !found; k++)
                found = !strcmp(keys[k], tables[i]->cols[c].key);
            if (!found && nk < TABLE_MAX_COLS * 4)
                snprintf(keys[nk++], 160, "%s", tables[i]->cols[c].key);
        }
    }
    if (with_scope)
        fputs("scope", out);
    for (int k = 0; k < nk; k++) {
        if (k || with_scope)
            fputc(',', out);
        csv_field(out, keys[k]);
    }
    fputc('\n', out);
    for (int i = 0; i < n; i++) {
        const struct table *t = tables[i];
        int map[TABLE_MAX_COLS * 4];
        for (int k = 0; k < nk; k++) {
            map[k] = -1;
            for (int c = 0; c < t->ncols; c++)
                if (!strcmp(keys[k], t->cols[c].key))
                    map[k] = c;
        }
        for (int r = 0; r < t->nrows; r++) {
            if (with_scope)
                csv_field(out, scopes[i] ? scopes[i] : "");
            for (int k = 0; k < nk; k++) {
                if (k || with_scope)
                    fputc(',', out);
                if (map[k] < 0)
                    continue;
                const struct table_cell *cell = &t->cells[(size_t)r * t->ncols + map[k]];
                if (cell->s)
                    csv_field(out, cell->s);
                else if (!isnan(cell->v))
                    fprintf(out, "%.10g", cell->v);
            }
            fputc('\n', out);
        }
    }
}
