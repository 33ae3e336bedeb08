/* tests/test_report.c — `sinkscope report` from run files made by test_runmaker: the
 * page's tables carry the runs' numbers, figures are inline SVG with scoped ids,
 * the explorer's data decodes to the dumped maps, nothing refers outside the page,
 * and the writer's rules (no clobber, nothing left on failure, one-line errors).
 * The page in a real browser: tests/browser/report_check.py (make test runs both). */
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../report/report_int.h"
#include "test_runmaker.h"
#include "test_runmaker_moe.h"
#include "test_util.h"

static const char *dir;
static char base_h5[512], gated_h5[512], bare_h5[512], moe_h5[512];
static struct test_run_spec base_spec, gated_spec;

static int suite_init(void)
{
    dir = test_tmpdir("report-runs");
    if (!dir)
        return -1;
    snprintf(base_h5, sizeof base_h5, "%s/base.h5", dir);
    snprintf(gated_h5, sizeof gated_h5, "%s/gated.h5", dir);
    snprintf(bare_h5, sizeof bare_h5, "%s/bare.h5", dir);
    snprintf(moe_h5, sizeof moe_h5, "%s/moe.h5", dir);
    test_run_spec_default(&base_spec);
    base_spec.n_layers = 3;
    base_spec.T = 10;
    base_spec.with_attention = 1;
    base_spec.model_path = "models/base";
    gated_spec = base_spec;
    gated_spec.gate_kind = "headwise";
    gated_spec.sink_scale = 0.2;
    gated_spec.act_scale = 10;
    gated_spec.model_path = "models/gated";
    struct test_run_spec bare;
    test_run_spec_default(&bare);
    return test_runmaker_write(base_h5, &base_spec) || test_runmaker_write(gated_h5, &gated_spec) ||
           test_runmaker_write(bare_h5, &bare) || test_runmaker_write(moe_h5, &bare) ||
           test_runmaker_add_moe(moe_h5, &bare, 1, 1);
}

static long file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

static int count(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* Files in d (a stray OUT.tmp-PID would show here). */
static int dir_entries(const char *d)
{
    DIR *dp = opendir(d);
    int n = 0;
    for (struct dirent *e; dp && (e = readdir(dp));)
        n += e->d_name[0] != '.';
    if (dp)
        closedir(dp);
    return n;
}

/* The explorer's JSON block of the page, parsed. */
static json_t *page_data(const char *html)
{
    const char *tag = "<script type=\"application/json\" id=\"ss-data\">";
    const char *a = strstr(html, tag), *b = a ? strstr(a, "</script>") : NULL;
    if (!b)
        return NULL;
    a += strlen(tag);
    return json_loadb(a, (size_t)(b - a), 0, NULL);
}

/* A[q, k] of head index h from a layer's base64 codes (n positions). */
static double decoded(const char *b64, int n, int h, int q, int k)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t tri = (size_t)n * (n + 1) / 2, byte = 2 * ((size_t)h * tri + (size_t)q * (q + 1) / 2 + (size_t)k);
    unsigned char two[2];
    for (int j = 0; j < 2; j++) { /* byte i of the stream is in base64 group i / 3 */
        size_t i = byte + j, g = i / 3;
        unsigned v = 0;
        for (int c = 0; c < 4; c++)
            v = v << 6 | (b64[4 * g + c] == '=' ? 0u : (unsigned)(strchr(al, b64[4 * g + c]) - al));
        two[j] = (unsigned char)(v >> (16 - 8 * (i % 3)));
    }
    return maps_decode(two[0] | two[1] << 8);
}

static void test_codes(void)
{
    CU_ASSERT_EQUAL(maps_encode(0), 0);
    CU_ASSERT_EQUAL(maps_encode(1e-10), 0);
    CU_ASSERT_EQUAL(maps_encode(NAN), 0);
    CU_ASSERT_EQUAL(maps_encode(1), 65535);
    CU_ASSERT_EQUAL(maps_decode(0), 0);
    double worst = 0;
    for (double p = 1.01e-9; p <= 1; p *= 1.37) { /* (1e-9 itself is code 1: 3.2e-4 off) */
        double r = fabs(maps_decode(maps_encode(p)) - p) / p;
        worst = r > worst ? r : worst;
    }
    printf("\n    16-bit log codes: worst relative error %.2e over 1e-9..1\n", worst);
    CU_ASSERT(worst < 1.7e-4);
    const char *in[] = {"", "f", "fo", "foo", "foob"}, *want[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg=="};
    for (int i = 0; i < 5; i++) {
        char *s = maps_base64((const unsigned char *)in[i], strlen(in[i]));
        CU_ASSERT_STRING_EQUAL(s, want[i]);
        free(s);
    }
}

/* Every "http" in the page is an XML namespace name, never something to fetch. */
static void check_self_contained(const char *html)
{
    int http = count(html, "http:") + count(html, "https:"), ns = count(html, "http://www.w3.org/");
    CU_ASSERT_EQUAL(http, ns);
    const char *never[] = {"<link", " src=", "@import", "<iframe", "<object", "fetch(", "XMLHttpRequest"};
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++)
        CU_ASSERT_PTR_NULL(strstr(html, never[i]));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "Content-Security-Policy\" content=\"default-src 'none'"));
}

static void check_explorer_data(const char *html)
{
    json_t *d = page_data(html);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    json_t *runs = json_object_get(d, "runs");
    CU_ASSERT_EQUAL(json_array_size(runs), 2);
    json_t *r0 = json_array_get(runs, 0), *toks = json_object_get(r0, "tokens");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r0, "label")), "base");
    int n = (int)json_integer_value(json_object_get(r0, "n"));
    CU_ASSERT_EQUAL(n, base_spec.T);
    /* the runmaker's token text: id 1 "<|endoftext|>", id 2 " a&b_%é", else "tok<id>" */
    CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(toks, 1)), "<|endoftext|>");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(toks, 2)), " a&b_%\xc3\xa9");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(toks, 5)), "tok5");
    json_t *layers = json_object_get(r0, "layers");
    CU_ASSERT_EQUAL_FATAL(json_array_size(layers), (size_t)base_spec.n_layers);
    double worst = 0;
    for (int l = 0; l < base_spec.n_layers; l++) {
        json_t *lo = json_array_get(layers, l);
        const char *b64 = json_string_value(json_object_get(lo, "maps"));
        CU_ASSERT_EQUAL_FATAL(json_array_size(json_object_get(lo, "heads")), (size_t)base_spec.n_heads);
        CU_ASSERT_EQUAL_FATAL(strlen(b64), ((size_t)base_spec.n_heads * n * (n + 1) + 2) / 3 * 4);
        for (int h = 0; h < base_spec.n_heads; h++)
            for (int q = 0; q < n; q++)
                for (int k = 0; k <= q; k++) {
                    double f = test_runmaker_fts(&base_spec, l, h);
                    double want = q == 0 ? 1 : k == 0 ? f : (1 - f) / q, got = decoded(b64, n, h, q, k);
                    double rel = fabs(got - want) / want;
                    worst = rel > worst ? rel : worst;
                }
    }
    printf("    explorer maps: worst relative error %.2e vs the dumped maps\n", worst);
    CU_ASSERT(worst < 2e-4);
    json_decref(d);
    /* JSON in a script block: no '<' at all, so no "</script>" or "<!--" */
    const char *a = strstr(html, "id=\"ss-data\">"), *b = a ? strstr(a, "</script>") : NULL;
    CU_ASSERT(a && b && !memchr(a + 13, '<', (size_t)(b - a - 13)));
}

/* Two runs with maps, an audit, every figure: the tables hold the runs' numbers. */
static void test_full_page(void)
{
    const char *d = test_tmpdir("report-full");
    char out[600], msg[1024], err[1024];
    snprintf(out, sizeof out, "%s/r.html", d);
    int rc = test_cli(msg, sizeof msg, err, sizeof err, "report", base_h5, gated_h5, "--labels", "base,gated",
                      "--max-sink-rate", "0.3", "-o", out, NULL);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "9 figures, 0 left out; explorer: 2 runs with maps; audit: 1 of 2"));
    size_t n;
    char *html = test_read_file(out, &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(html);
    CU_ASSERT_EQUAL(strncmp(html, "<!DOCTYPE html>", 15), 0);
    CU_ASSERT(n > 20 && !strcmp(html + n - 8, "</html>\n"));
    check_self_contained(html);
    /* the headline: F-Attn = mean over layers and heads of fts(l, h) (test_runmaker.h) */
    char cell[256];
    double fts = 0;
    for (int l = 0; l < base_spec.n_layers; l++)
        for (int h = 0; h < base_spec.n_heads; h++)
            fts += test_runmaker_fts(&base_spec, l, h) / (base_spec.n_layers * base_spec.n_heads);
    snprintf(cell, sizeof cell, "<td class=\"n\">%.3f</td><td class=\"n\">%.3f</td><td class=\"n\">%.3f</td></tr>",
             fts, base_spec.perplexity, test_runmaker_sink_rate(&base_spec));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, cell));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "<section id=\"compare\">"));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "<caption>per layer: F-Attn</caption>"));
    /* audit: base's sink rate is over 0.3, gated's (sink_scale 0.2) under it */
    CU_ASSERT(test_runmaker_sink_rate(&base_spec) > 0.3 && test_runmaker_sink_rate(&gated_spec) <= 0.3);
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "<p class=\"verdict fail\">base: FAIL: 1 of 1 limits exceeded"));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "<p class=\"verdict pass\">gated: PASS: 0 of 1 limits exceeded"));
    /* figures: every kind, ids scoped per figure */
    const char *kinds[] = {"first-token", "attention-map", "head-grid", "gate-hist", "sdpa-magnitude",
                           "sdpa-sparsity", "activations", "gate-layers", "massive"};
    for (int k = 0; k < 9; k++) {
        char id[64];
        snprintf(id, sizeof id, "<figure class=\"fig\" id=\"fig-%s\" style=\"max-width: ", kinds[k]);
        const char *fig = strstr(html, id);
        CU_ASSERT(fig && strstr(fig, "px\">\n<svg") == strchr(fig + strlen(id), 'p'));
    }
    /* dense runs: the MoE kinds are left out without a note */
    CU_ASSERT_PTR_NULL(strstr(html, "expert-load"));
    CU_ASSERT_PTR_NULL(strstr(html, "learned-sink"));
    CU_ASSERT_EQUAL(count(html, "id='gpPt0'"), 0);
    CU_ASSERT_EQUAL(count(html, "id='f0-gpPt0'"), 1);
    CU_ASSERT_EQUAL(count(html, "<?xml"), 0);
    /* provenance: attributes and the command line */
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "<tr><th>model_path</th><td>models/gated</td></tr>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "<code>sinkscope report "));
    check_explorer_data(html);
    /* the script and style are report/page.js and page.css byte for byte */
    const char *assets[] = {"report/page.js", "report/page.css"};
    for (int i = 0; i < 2; i++) {
        char *a = test_read_file(assets[i], &n);
        CU_ASSERT(a && n > 1000 && strstr(html, a));
        free(a);
    }
    free(html);
    CU_ASSERT_EQUAL(dir_entries(d), 1);
}

/* A run without maps: no explorer, the map figures are listed as left out with the hint. */
static void test_no_maps(void)
{
    const char *d = test_tmpdir("report-nomaps");
    char out[600], err[1024];
    snprintf(out, sizeof out, "%s/r.html", d);
    int rc = test_cli(NULL, 0, err, sizeof err, "report", bare_h5, "-o", out, NULL);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    size_t n;
    char *html = test_read_file(out, &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(html);
    CU_ASSERT_PTR_NULL(strstr(html, "id=\"explorer\""));
    CU_ASSERT_PTR_NULL(strstr(html, "<script"));
    CU_ASSERT_PTR_NULL(strstr(html, "id=\"compare\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "<li data-kind=\"attention-map\"><b>attention-map</b>: no run has attention "
                                        "maps: run with --dump attention</li>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "<li data-kind=\"gate-hist\">"));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "id=\"fig-first-token\""));
    check_self_contained(html);
    free(html);
}

/* A MoE run with learned sinks next to a dense one: both MoE figures, drawn from the MoE run only. */
static void test_moe_figures(void)
{
    const char *d = test_tmpdir("report-moe");
    char out[600], msg[1024], err[1024];
    snprintf(out, sizeof out, "%s/r.html", d);
    int rc = test_cli(msg, sizeof msg, err, sizeof err, "report", moe_h5, bare_h5, "--labels", "moerun,denserun", "-o",
                      out,
                      NULL);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    size_t n;
    char *html = test_read_file(out, &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(html);
    const char *kinds[] = {"expert-load", "learned-sink"};
    for (int k = 0; k < 2; k++) {
        char id[64];
        snprintf(id, sizeof id, "<figure class=\"fig\" id=\"fig-%s\"", kinds[k]);
        const char *fig = strstr(html, id), *end = fig ? strstr(fig, "</figure>") : NULL;
        CU_ASSERT_FATAL(fig && end);
        /* drawn from the MoE run only (the dense run has nothing to draw): one run's three
         * expert-load panels; the learned-sink legend names that run alone */
        char *svg = strndup(fig, (size_t)(end - fig));
        if (k == 0)
            CU_ASSERT_EQUAL(count(svg, "<text>all positions</text>"), 1);
        if (k == 1)
            CU_ASSERT(strstr(svg, "moerun") && !strstr(svg, "denserun"));
        free(svg);
    }
    CU_ASSERT_PTR_NULL(strstr(html, "<li data-kind=\"expert-load\">"));
    check_self_contained(html);
    free(html);
}

/* An existing page is never replaced without --force; with it, it is. */
static void test_no_clobber(void)
{
    const char *d = test_tmpdir("report-clobber");
    char out[600], err[1024];
    snprintf(out, sizeof out, "%s/r.html", d);
    FILE *f = fopen(out, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("keep me\n", f);
    fclose(f);
    int rc = test_cli(NULL, 0, err, sizeof err, "report", bare_h5, "--no-figures", "-o", out, NULL);
    CU_ASSERT_EQUAL(rc, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "exists; use --force"));
    CU_ASSERT_EQUAL(test_count_lines(err), 1);
    CU_ASSERT_EQUAL(file_size(out), 8);
    rc = test_cli(NULL, 0, err, sizeof err, "report", bare_h5, "--no-figures", "--force", "-o", out, NULL);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT(file_size(out) > 1000);
    CU_ASSERT_EQUAL(dir_entries(d), 1);
}

/* Bad input that needs maps or a missing directory (the rest: tests/cases/badinput.test). */
static void test_bad_input(void)
{
    const char *d = test_tmpdir("report-bad");
    char out[600], nodir[700], err[1024];
    snprintf(out, sizeof out, "%s/r.html", d);
    snprintf(nodir, sizeof nodir, "%s/missing/r.html", d);
    int rc = test_cli(NULL, 0, err, sizeof err, "report", base_h5, "--seq", "7", "--no-figures", "-o", out, NULL);
    CU_ASSERT_EQUAL(rc, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "base.h5: --seq 7 out of range"));
    CU_ASSERT_EQUAL(test_count_lines(err), 1);
    rc = test_cli(NULL, 0, err, sizeof err, "report", base_h5, "--no-figures", "-o", nodir, NULL);
    CU_ASSERT_EQUAL(rc, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "does not exist"));
    CU_ASSERT_EQUAL(test_count_lines(err), 1);
    CU_ASSERT_EQUAL(dir_entries(d), 0);
}

/* gnuplot missing: the report fails (first-token needs only statistics) unless --no-figures. */
static void test_gnuplot_missing(void)
{
    const char *d = test_tmpdir("report-nognuplot");
    char out[600], err[1024];
    snprintf(out, sizeof out, "%s/r.html", d);
    char *old = strdup(getenv("PATH") ? getenv("PATH") : "");
    setenv("PATH", d, 1);
    int rc = test_cli(NULL, 0, err, sizeof err, "report", base_h5, "-o", out, NULL);
    int rc2 = test_cli(NULL, 0, NULL, 0, "report", base_h5, "--no-figures", "-o", out, NULL);
    setenv("PATH", old, 1);
    free(old);
    CU_ASSERT_EQUAL(rc, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "install gnuplot-nox"));
    CU_ASSERT_EQUAL(test_count_lines(err), 1);
    CU_ASSERT_EQUAL(rc2, 0);
    CU_ASSERT(file_size(out) > 1000);
}

SS_SUITE(report)
{
    CU_pSuite s = CU_add_suite("report", suite_init, NULL);
    CU_add_test(s, "16-bit log codes and base64", test_codes);
    CU_add_test(s, "two runs: tables, audit, figures, explorer data, provenance", test_full_page);
    CU_add_test(s, "a run without maps: no explorer, map figures left out", test_no_maps);
    CU_add_test(s, "MoE and learned-sink figures from the runs that have them", test_moe_figures);
    CU_add_test(s, "no clobber without --force", test_no_clobber);
    CU_add_test(s, "--seq beyond the maps, missing directory: exit 2, one line", test_bad_input);
    CU_add_test(s, "gnuplot missing", test_gnuplot_missing);
}
