/* report/page.c — the page's frame and its sections of tables and text: the
 * summary of each run, the compare tables, the audit verdicts, the explorer's
 * controls and data, the provenance of each run and of the page itself. Tables
 * come from analyze/ in its html format, so the page shows exactly what
 * `summary`, `compare` and `audit` print. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report_int.h"

/* The page may load nothing: no fetch, no font, no frame; images only as data: URIs
 * (gnuplot's SVG embeds raster maps that way). */
#define PAGE_CSP "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; " \
                 "base-uri 'none'; form-action 'none'"

void page_text(FILE *out, const char *s)
{
    analyze_html_escape(out, s ? s : "");
}

void page_head(struct report_ctx *c)
{
    FILE *o = c->out;
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"" PAGE_CSP "\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>sinkscope report: ", o);
    for (int i = 0; i < c->n; i++) {
        page_text(o, c->runs[i].label);
        fputs(i + 1 < c->n ? ", " : "", o);
    }
    fprintf(o, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<header>\n<h1>sinkscope report</h1>\n<p>", report_page_css);
    for (int i = 0; i < c->n; i++) {
        const struct analyze_run *r = &c->runs[i];
        fputs(i ? "; " : "", o);
        fputs("<b>", o);
        page_text(o, r->label);
        fputs("</b> (", o);
        page_text(o, r->model_type[0] ? r->model_type : "?");
        fputs(", gate ", o);
        page_text(o, r->gate_kind[0] ? r->gate_kind : "?");
        fputs(" ", o);
        page_text(o, r->gate_mode[0] ? r->gate_mode : "?");
        fprintf(o, ", %d layers x %d heads, %d x %d tokens)", r->n_layers, r->n_heads, r->n_seqs, r->context_length);
    }
    fputs("</p>\n<nav><a href=\"#summary\">summary</a>", o);
    if (c->n > 1)
        fputs(" <a href=\"#compare\">compare</a>", o);
    if (c->o->audit)
        fputs(" <a href=\"#audit\">audit</a>", o);
    if (c->o->figures)
        fputs(" <a href=\"#figures\">figures</a>", o);
    if (c->data)
        fputs(" <a href=\"#explorer\">attention explorer</a>", o);
    fputs(" <a href=\"#provenance\">provenance</a></nav>\n</header>\n", o);
}

static enum ss_status audit_section(struct report_ctx *c, struct ss_error *err)
{
    FILE *o = c->out;
    fputs("<section id=\"audit\">\n<h2>Audit</h2>\n", o);
    for (int i = 0; i < c->n; i++) {
        struct analyze_run *r = &c->runs[i];
        struct analyze_limits lim = c->o->limits;
        int *sel = NULL, nsel = 0, exceeded = 0;
        enum ss_status s = SS_OK;
        if (c->o->audit_layers) {
            s = analyze_layers_parse(c->o->audit_layers, r->n_layers, &sel, &nsel, err);
            if (s)
                return ss_prefix(err, "%s", r->path);
            lim.layers = sel;
            lim.n_layers = nsel;
        }
        fprintf(o, "<div class=\"audit\" data-run=\"%d\">\n", i);
        s = analyze_audit(o, r, &lim, ANALYZE_FORMAT_HTML, &exceeded, err);
        fputs("</div>\n", o);
        free(sel);
        if (s)
            return s;
        c->res->audit_exceeded += exceeded > 0;
    }
    fputs("</section>\n", o);
    return SS_OK;
}

enum ss_status page_tables(struct report_ctx *c, struct ss_error *err)
{
    FILE *o = c->out;
    enum ss_status s = SS_OK;
    fputs("<section id=\"summary\">\n<h2>Summary</h2>\n", o);
    for (int i = 0; i < c->n && !s; i++) {
        fprintf(o, "<details class=\"run\" open data-run=\"%d\"><summary>", i);
        page_text(o, c->runs[i].label);
        fputs(" <span class=\"path\">", o);
        page_text(o, c->runs[i].path);
        fputs("</span></summary>\n<div class=\"scroll\">\n", o);
        s = analyze_summary(o, &c->runs[i], 1, 0, ANALYZE_FORMAT_HTML, err);
        fputs("</div></details>\n", o);
    }
    fputs("</section>\n", o);
    if (!s && c->n > 1) {
        struct analyze_warnings w;
        s = analyze_compare_check(c->runs, c->n, &w, err);
        fputs("<section id=\"compare\">\n<h2>Compare</h2>\n<p>Ratios (run / first) and differences (run - first) are "
              "against the first run, ", o);
        page_text(o, c->runs[0].label);
        fputs(".</p>\n", o);
        for (int i = 0; !s && i < w.n; i++) {
            fputs("<p class=\"warning\">warning: ", o);
            page_text(o, w.msg[i]);
            fputs("</p>\n", o);
        }
        fputs("<div class=\"scroll\">\n", o);
        if (!s)
            s = analyze_compare(o, c->runs, c->n, &w, ANALYZE_FORMAT_HTML, err);
        fputs("</div>\n</section>\n", o);
    }
    if (!s && c->o->audit)
        s = audit_section(c, err);
    return s;
}

/* JSON into a <script> block: '<' as \u003c, so no "</script>" or "<!--" can occur. */
static int json_to_script(const char *buf, size_t n, void *data)
{
    FILE *o = data;
    for (size_t i = 0; i < n; i++)
        if (buf[i] == '<')
            fputs("\\u003c", o);
        else
            fputc(buf[i], o);
    return ferror(o) ? -1 : 0;
}

void page_explorer(struct report_ctx *c)
{
    if (!c->data)
        return;
    FILE *o = c->out;
    fputs("<section id=\"explorer\">\n<h2>Attention explorer</h2>\n"
          "<p class=\"note\">The attention maps the runs dumped (<code>sinkscope run --dump attention</code>), one "
          "sequence each. Hover a token to see its row, the attention that query pays to each key up to itself, as "
          "the colour of the key tokens and as bars; click a token to keep it. Without a query the colours show the "
          "mean over queries of the attention each key receives (queries q &gt;= 1 unless query 0 is included; at "
          "key 0 this is the first-token share of this sequence).</p>\n"
          "<div class=\"controls\">\n"
          "<label>run <select id=\"ex-run\"></select></label>\n"
          "<label>layer <select id=\"ex-layer\"></select></label>\n"
          "<label>head <select id=\"ex-head\"></select></label>\n"
          "<label><input type=\"checkbox\" id=\"ex-q0\"> include query 0 in the mean</label>\n"
          "<label><input type=\"checkbox\" id=\"ex-log\"> log colour scale</label>\n"
          "</div>\n<p id=\"ex-info\" class=\"note\"></p>\n<p id=\"ex-status\"></p>\n"
          "<div id=\"ex-tokens\" class=\"tokens\"></div>\n<div id=\"ex-scale\" class=\"scale\"></div>\n"
          "<svg id=\"ex-bars\" class=\"bars\" role=\"img\" aria-label=\"attention row as bars\"></svg>\n"
          "<noscript><p class=\"warning\">The explorer needs JavaScript.</p></noscript>\n</section>\n",
          o);
}

/* Root attributes shown first, in this order; the others follow as stored. */
static const char *const known_attrs[] = {
    "model_path", "model_type", "gate_kind", "gate_mode", "interventions", "input_source", "bos", "context_length",
    "n_seqs", "n_layers", "n_heads", "n_kv_heads", "head_dim", "hidden", "vocab", "sink_epsilon", "tool_version",
    "schema", "created", "threads", "time_load_s", "time_forward_s", "time_probes_s", "time_write_s",
};
#define N_KNOWN (int)(sizeof known_attrs / sizeof known_attrs[0])

static void attr_row(FILE *o, struct runfile *rf, const char *name)
{
    char buf[4096];
    struct ss_error e;
    if (runfile_attr_string(rf, NULL, name, buf, sizeof buf, &e) != SS_OK)
        return;
    fputs("<tr><th>", o);
    page_text(o, name);
    fputs("</th><td>", o);
    page_text(o, buf);
    fputs("</td></tr>\n", o);
}

static enum ss_status run_provenance(struct report_ctx *c, int i, struct ss_error *err)
{
    FILE *o = c->out;
    struct runfile *rf = c->rf[i];
    char **names = NULL;
    int n = 0;
    enum ss_status s = runfile_attr_names(rf, &names, &n, err);
    if (s)
        return s;
    fprintf(o, "<h3>");
    page_text(o, c->runs[i].label);
    fputs("</h3>\n<table class=\"kv\">\n<tr><th>file</th><td>", o);
    page_text(o, c->runs[i].path);
    fputs("</td></tr>\n", o);
    for (int k = 0; k < N_KNOWN; k++)
        attr_row(o, rf, known_attrs[k]);
    for (int a = 0; a < n; a++) {
        int known = !strcmp(names[a], "config_json");
        for (int k = 0; k < N_KNOWN && !known; k++)
            known = !strcmp(names[a], known_attrs[k]);
        if (!known)
            attr_row(o, rf, names[a]);
    }
    fputs("</table>\n", o);
    runfile_strings_free(names, n);
    char *cfg = malloc(1 << 20);
    struct ss_error e;
    if (!cfg)
        return ss_fail(err, SS_ERR_NOMEM, "out of memory");
    if (runfile_attr_string(rf, NULL, "config_json", cfg, 1 << 20, &e) == SS_OK) {
        fputs("<details><summary>config.json</summary><pre>", o);
        page_text(o, cfg);
        fputs("</pre></details>\n", o);
    }
    free(cfg);
    return SS_OK;
}

enum ss_status page_provenance(struct report_ctx *c, struct ss_error *err)
{
    FILE *o = c->out;
    char now[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fputs("<section id=\"provenance\">\n<h2>Provenance</h2>\n<table class=\"kv\">\n<tr><th>written by</th><td>sinkscope ",
          o);
    page_text(o, c->o->tool_version);
    fprintf(o, "</td></tr>\n<tr><th>written</th><td>%s</td></tr>\n<tr><th>command line</th><td><code>", now);
    page_text(o, c->o->command_line ? c->o->command_line : "(library call)");
    fputs("</code></td></tr>\n</table>\n", o);
    enum ss_status s = SS_OK;
    for (int i = 0; i < c->n && !s; i++)
        s = run_provenance(c, i, err);
    fputs("</section>\n", o);
    return s;
}

void page_end(struct report_ctx *c)
{
    FILE *o = c->out;
    if (c->data) {
        fputs("<script type=\"application/json\" id=\"ss-data\">", o);
        json_dump_callback(c->data, json_to_script, o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        fputs("</script>\n<script>\n", o);
        fputs(report_page_js, o);
        fputs("</script>\n", o);
    }
    fputs("<footer>Written by sinkscope; opens offline, loads nothing.</footer>\n</body>\n</html>\n", o);
}
