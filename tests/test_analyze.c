/* summary, compare and audit on run files made by the runmaker: values, formats,
 * warnings, exit codes, and bad files (exit 2, one line naming the file). */
#include <CUnit/CUnit.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_runmaker.h"
#include "test_util.h"

static char out[1 << 18], err[1 << 14];

static const char *mk(const char *dir, const char *name, const struct test_run_spec *s)
{
    static char paths[32][600];
    static int next;
    char *p = paths[next++ % 32];
    snprintf(p, 600, "%s/%s", dir, name);
    CU_ASSERT_EQUAL_FATAL(test_runmaker_write(p, s), 0);
    return p;
}

static json_t *parse(const char *s)
{
    json_error_t je;
    json_t *j = json_loads(s, 0, &je);
    if (!j)
        printf("\n    JSON error: %s (line %d)\n", je.text, je.line);
    return j;
}

static double jnum(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static void test_summary_json_values(void)
{
    const char *dir = test_tmpdir("an-sum");
    struct test_run_spec s;
    test_run_spec_default(&s);
    s.n_layers = 3;
    s.n_heads = 4;
    s.gate_kind = "elementwise";
    const char *p = mk(dir, "g.h5", &s);
    CU_ASSERT_EQUAL_FATAL(test_cli(out, sizeof out, err, sizeof err, "summary", p, "--per-head", "--format", "json", NULL), 0);
    json_t *j = parse(out);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    double f0 = 0, am = 0, gm = 0, md = 0;
    for (int l = 0; l < 3; l++) {
        for (int h = 0; h < 4; h++) {
            f0 += test_runmaker_fts(&s, l, h) / 12;
            gm += test_runmaker_gate_mean(&s, l, h) / 12;
        }
        am += test_runmaker_act_max(&s, l, 3) / 3;
    }
    md = fmax(md, fabs(jnum(j, "first_token_share") - f0));
    md = fmax(md, fabs(jnum(j, "max_activation_mean") - am));
    md = fmax(md, fabs(jnum(j, "max_activation") - test_runmaker_act_max(&s, 2, 3)));
    md = fmax(md, fabs(jnum(j, "gate_mean") - gm));
    md = fmax(md, fabs(jnum(j, "sink_rate") - test_runmaker_sink_rate(&s)));
    CU_ASSERT_DOUBLE_EQUAL(jnum(j, "perplexity"), 20, 1e-5);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "n_layers")), 3);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "gate_kind")), "elementwise");
    json_t *layers = json_object_get(j, "layers");
    CU_ASSERT_EQUAL_FATAL(json_array_size(layers), 3);
    for (int l = 0; l < 3; l++) {
        json_t *lo = json_array_get(layers, l);
        double fl = 0, gl = 0, gmin = 1, g2 = 0;
        int sinks = 0;
        for (int h = 0; h < 4; h++) {
            fl += test_runmaker_fts(&s, l, h) / 4;
            gl += test_runmaker_gate_mean(&s, l, h) / 4;
            g2 += (0.05 * 0.05 + pow(test_runmaker_gate_mean(&s, l, h), 2)) / 4;
            gmin = fmin(gmin, 0.001 * (l + 1));
            sinks += test_runmaker_fts_incl0(&s, l, h) > 0.3;
        }
        CU_ASSERT_EQUAL(json_integer_value(json_object_get(lo, "layer")), l);
        md = fmax(md, fabs(jnum(lo, "first_token_share") - fl));
        md = fmax(md, fabs(jnum(lo, "gate_mean") - gl));
        md = fmax(md, fabs(jnum(lo, "gate_std") - sqrt(g2 - gl * gl)));
        md = fmax(md, fabs(jnum(lo, "gate_min") - gmin));
        md = fmax(md, fabs(jnum(lo, "gate_max") - 0.9));
        CU_ASSERT_EQUAL(json_integer_value(json_object_get(lo, "sink_heads")), sinks);
        json_t *act = json_object_get(lo, "act_max");
        md = fmax(md, fabs(jnum(act, "attn_output") - test_runmaker_act_max(&s, l, 0)));
        md = fmax(md, fabs(jnum(act, "ffn_residual") - test_runmaker_act_max(&s, l, 3)));
        json_t *heads = json_object_get(lo, "heads");
        CU_ASSERT_EQUAL_FATAL(json_array_size(heads), 4);
        for (int h = 0; h < 4; h++) {
            json_t *ho = json_array_get(heads, h);
            md = fmax(md, fabs(jnum(ho, "first_token_share") - test_runmaker_fts(&s, l, h)));
            md = fmax(md, fabs(jnum(ho, "sink_alpha0") - test_runmaker_fts_incl0(&s, l, h)));
            md = fmax(md, fabs(jnum(ho, "attn_entropy") - test_runmaker_entropy(&s, l, h)));
            md = fmax(md, fabs(jnum(ho, "gate_mean") - test_runmaker_gate_mean(&s, l, h)));
        }
    }
    printf("\n    summary json vs runmaker formulas: max diff %g\n", md);
    CU_ASSERT(md < 1e-9);
    json_decref(j);

    /* ungated: gate_mean null, no per-head key without --per-head */
    test_run_spec_default(&s);
    p = mk(dir, "u.h5", &s);
    CU_ASSERT_EQUAL_FATAL(test_cli(out, sizeof out, err, sizeof err, "summary", p, "--format=json", NULL), 0);
    j = parse(out);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT(json_is_null(json_object_get(j, "gate_mean")));
    json_t *l0 = json_array_get(json_object_get(j, "layers"), 0);
    CU_ASSERT_PTR_NOT_NULL(l0);
    CU_ASSERT_PTR_NULL(json_object_get(l0, "heads"));
    CU_ASSERT(json_is_null(json_object_get(l0, "gate_mean")));
    json_decref(j);
}

static int count_char(const char *s, char c)
{
    int n = 0;
    for (; *s; s++)
        n += *s == c;
    return n;
}

static void test_summary_formats(void)
{
    const char *dir = test_tmpdir("an-fmt");
    struct test_run_spec s;
    test_run_spec_default(&s);
    s.n_layers = 3;
    const char *p = mk(dir, "run_1%&.h5", &s);

    /* text: ungated gate score is "-"; per-layer table has L rows */
    CU_ASSERT_EQUAL_FATAL(test_cli(out, sizeof out, err, sizeof err, "summary", p, "--per-layer", NULL), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "Gate Score"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "M-Act"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "F-Attn"));
    char *row = strstr(out, "\nrun_1%&");
    CU_ASSERT_PTR_NOT_NULL_FATAL(row);
    char first[32];
    CU_ASSERT_EQUAL(sscanf(row + 1, "%*s %31s", first), 1);
    CU_ASSERT_STRING_EQUAL(first, "-");
    CU_ASSERT_EQUAL(err[0], 0);

    /* csv: header + 1 run + 3 layers + 6 heads, every row with the header's field count */
    CU_ASSERT_EQUAL_FATAL(test_cli(out, sizeof out, err, sizeof err, "summary", p, "--per-layer", "--per-head",
                                   "--format", "csv", NULL), 0);
    CU_ASSERT_EQUAL(test_count_lines(out), 1 + 1 + 3 + 6);
    CU_ASSERT_EQUAL(strncmp(out, "scope,", 6), 0);
    int fields = -1, same = 1;
    for (char *line = out; *line;) {
        char *nl = strchr(line, '\n');
        *nl = 0;
        int f = count_char(line, ',');
        if (fields < 0)
            fields = f;
        same &= f == fields;
        line = nl + 1;
    }
    CU_ASSERT(same);

    /* markdown: every line of a table starts and ends with '|' */
    CU_ASSERT_EQUAL_FATAL(test_cli(out, sizeof out, err, sizeof err, "summary", p, "--per-layer", "--format", "markdown", NULL), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "| run | Gate Score | M-Act | F-Attn | PPL | Sink rate |\n|---|---:|"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "| run_1%& | - |"));

    /* latex: booktabs, escaped */
    CU_ASSERT_EQUAL_FATAL(test_cli(out, sizeof out, err, sizeof err, "summary", p, "--format", "latex", NULL), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\\toprule"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\\midrule"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\\bottomrule"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "run\\_1\\%\\& & - &"));
    CU_ASSERT_PTR_NULL(strstr(out, "run_1"));

    CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "summary", p, "--format", "xml", NULL), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown format"));
    CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "summary", NULL), 2);
    CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "summary", p, p, NULL), 2);
}

static void test_compare(void)
{
    const char *dir = test_tmpdir("an-cmp");
    struct test_run_spec a, b;
    test_run_spec_default(&a);
    b = a;
    b.gate_kind = "headwise";
    b.sink_scale = 0.1;
    b.act_scale = 10;
    b.perplexity = 18;
    const char *pa = mk(dir, "a.h5", &a), *pb = mk(dir, "b.h5", &b);
    CU_ASSERT_EQUAL_FATAL(test_cli(out, sizeof out, err, sizeof err, "compare", pa, pb, "--labels", "base,gated",
                                   "--format", "json", NULL), 0);
    CU_ASSERT_EQUAL(err[0], 0); /* same tokens and settings: no warning */
    json_t *j = parse(out);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "reference")), "base");
    CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "runs")), 2);
    json_t *d = json_array_get(json_object_get(j, "differences"), 0);
    json_t *ratio = json_object_get(d, "ratio"), *diff = json_object_get(d, "diff");
    double md = 0;
    md = fmax(md, fabs(jnum(ratio, "first_token_share") - 0.1));
    md = fmax(md, fabs(jnum(ratio, "max_activation_mean") - 0.1));
    md = fmax(md, fabs(jnum(ratio, "perplexity") - 0.9));
    md = fmax(md, fabs(jnum(diff, "perplexity") + 2));
    json_t *l1 = json_array_get(json_object_get(d, "layers"), 1);
    md = fmax(md, fabs(jnum(json_object_get(l1, "ratio"), "max_activation") - 0.1));
    md = fmax(md, fabs(jnum(json_object_get(l1, "diff"), "first_token_share") -
                       (0.1 - 1) * (test_runmaker_fts(&a, 1, 0) + test_runmaker_fts(&a, 1, 1)) / 2));
    printf("\n    compare ratios/diffs vs expected: max diff %g\n", md);
    CU_ASSERT(md < 1e-5);
    CU_ASSERT(json_is_null(json_object_get(ratio, "gate_mean"))); /* baseline has no gate */
    CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "warnings")), 0);
    json_decref(j);

    /* text and three runs: columns for every run, ratios against the first */
    CU_ASSERT_EQUAL_FATAL(test_cli(out, sizeof out, err, sizeof err, "compare", pa, pb, pa, "-l", "a,b,a2", NULL), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "b/a"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "b-a"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "a2/a"));
    /* the same file name twice: labelled by path */
    CU_ASSERT_EQUAL_FATAL(test_cli(out, sizeof out, err, sizeof err, "compare", pa, pb, pa, NULL), 0);
    char both[1400];
    snprintf(both, sizeof both, "%s/%s", pb, pa);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, both));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "per layer: F-Attn"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "per layer: gate mean"));

    /* csv: one row per (scope, layer, metric, run) */
    CU_ASSERT_EQUAL_FATAL(test_cli(out, sizeof out, err, sizeof err, "compare", pa, pb, "--format", "csv", NULL), 0);
    CU_ASSERT_EQUAL(strncmp(out, "scope,layer,metric,run,value,ratio,diff,reference\n", 49), 0);
    CU_ASSERT_EQUAL(test_count_lines(out), 1 + 7 * 2 + 2 * 4 * 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "run,,first_token_share,b,"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "layer,1,max_activation,b,20,0.1,-180,a\n"));

    /* different tokens, context length, bos, gate mode: warnings on stderr, exit 0 */
    struct test_run_spec c = a;
    c.token_offset = 3;
    const char *pc = mk(dir, "c.h5", &c);
    CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "compare", pa, pc, NULL), 0);
    printf("    %s", err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "different tokens"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "first at seq 0, pos 0"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, pc));
    CU_ASSERT_EQUAL(test_count_lines(err), 1);
    c = a;
    c.T = 16;
    c.bos = "151643";
    c.gate_mode = "off";
    pc = mk(dir, "d.h5", &c);
    CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "compare", pa, pc, "--format", "json", NULL), 0);
    printf("%s", err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "context_length 16"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "bos '151643'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "gate_mode 'off'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "different tokens"));
    CU_ASSERT_EQUAL(test_count_lines(err), 4);
    j = parse(out);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "warnings")), 4);
    json_decref(j);
    /* a different number of layers: per-layer rows for all, '-' where a run has none */
    c = a;
    c.n_layers = 3;
    pc = mk(dir, "e.h5", &c);
    CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "compare", pa, pc, NULL), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "n_layers 3"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\n    2      -  0.585      -      -\n"));

    CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "compare", pa, NULL), 2);
    CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "compare", pa, pb, "--labels", "x", NULL), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "1 names for 2 run files"));
    CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "compare", pa, pb, "--labels", "x,", NULL), 2);
}

static void test_audit(void)
{
    const char *dir = test_tmpdir("an-audit");
    struct test_run_spec s;
    test_run_spec_default(&s);
    s.n_layers = 4;
    s.n_heads = 3;
    s.peak_layer = 2;
    s.peak_head = 1;
    s.peak_fts = 0.95;
    const char *p = mk(dir, "a.h5", &s);
    /* layer 2's share: (0.58 + 0.95 + 0.60) / 3 = 0.71; the others 0.51, 0.55, 0.63 */
    CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "audit", p, "--max-first-token-share", "0.72", NULL), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "PASS"));
    CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "audit", p, "--max-first-token-share", "0.70", NULL), 1);
    printf("\n%s", out);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "FAIL"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "0.710"));
    /* the worst (layer, head) comes first */
    char *w = strstr(out, "worst heads");
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    int l = -1, h = -1;
    double v = 0;
    char *line = strchr(strchr(w, '\n') + 1, '\n') + 1;
    CU_ASSERT_EQUAL(sscanf(line, "%d %d %lf", &l, &h, &v), 3);
    CU_ASSERT_EQUAL(l, 2);
    CU_ASSERT_EQUAL(h, 1);
    CU_ASSERT_DOUBLE_EQUAL(v, 0.95, 1e-9);
    /* --layers: layer 2 is not checked */
    CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "audit", p, "--max-first-token-share", "0.70",
                             "--layers", "0-1,3", NULL), 0);
    CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "audit", p, "--max-first-token-share", "0.60",
                             "--layers", "0-1,3", "--format", "json", NULL), 1);
    json_t *j = parse(out);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT(json_is_false(json_object_get(j, "pass")));
    CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "layers_checked")), 3);
    json_t *lim = json_array_get(json_object_get(j, "limits"), 0);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(lim, "name")), "max_first_token_share");
    CU_ASSERT_DOUBLE_EQUAL(jnum(lim, "value"), 0.63, 1e-12);
    json_t *wh = json_array_get(json_object_get(j, "worst_heads"), 0);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(wh, "layer")), 3);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(wh, "head")), 2);
    CU_ASSERT_DOUBLE_EQUAL(jnum(j, "first_token_share"), (0.51 + 0.55 + 0.71 + 0.63) / 4, 1e-12);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "layers")), 4);
    json_decref(j);

    /* negative indices count from the end; "all" is every layer */
    CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "audit", p, "--max-first-token-share", "0.62",
                             "--layers", "-1", NULL), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "layers checked: 3)"));
    CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "audit", p, "--max-first-token-share", "0.62",
                             "--layers", "0--3", NULL), 0);
    CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "audit", p, "--max-first-token-share", "0.70",
                             "--layers", "1--2", NULL), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "layers checked: 1,2)"));
    CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "audit", p, "--max-first-token-share", "0.70",
                             "--layers", "all", NULL), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "layers checked: all 4)"));

    /* sink rate: every alpha_0 is above 0.3 except none -> 1; subset definition over heads */
    CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "audit", p, "--max-sink-rate", "0.99", NULL), 1);
    CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "audit", p, "--max-sink-rate", "1", NULL), 0);
    /* activations: layer 3 has 100 * 4 * 4 / 4 = 400 */
    CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "audit", p, "--max-activation", "399", NULL), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "400.0"));
    CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "audit", p, "--max-activation", "400", NULL), 0);
    CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "audit", p, "--max-activation", "399", "--layers",
                             "0,1,2", NULL), 0);
    /* two limits, one exceeded: still exit 1 */
    CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "audit", p, "--max-activation", "1000",
                             "--max-first-token-share", "0.5", NULL), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "1 of 2 limits exceeded"));

    /* errors: exit 2 */
    CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "audit", p, NULL), 2);
    CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "audit", p, "--max-sink-rate", "x", NULL), 2);
    CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "audit", p, "--max-sink-rate", "-1", NULL), 2);
    CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "audit", p, "--max-sink-rate", "1", "--layers", "4", NULL), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, p));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "outside"));
    CU_ASSERT_EQUAL(test_count_lines(err), 1);
    CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "audit", p, "--max-sink-rate", "1", "--layers", "2-1", NULL), 2);
    CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "audit", p, "--max-sink-rate", "1", "--layers", "a", NULL), 2);
    CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "audit", p, "--max-sink-rate", "1", "--layers", "-5", NULL), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "layer -5 is outside"));
    CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "audit", p, "--max-sink-rate", "1", "--layers", "0,", NULL), 2);
    CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "audit", p, "--max-sink-rate", "1", "--layers", "", NULL), 2);
    CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "audit", p, "--max-sink-rate", "1", "--format", "csv", NULL), 2);
}

/* Each bad file: exit 2 and one line on stderr naming the file, for every command. */
static void expect_bad(const char *path, const char *what)
{
    const char *runs[][8] = {
        {"summary", path, "--per-layer", NULL},
        {"audit", path, "--max-sink-rate", "0.5", NULL},
        {"compare", path, path, NULL},
    };
    for (int i = 0; i < 3; i++) {
        int rc = test_cli(out, sizeof out, err, sizeof err, runs[i][0], runs[i][1], runs[i][2], runs[i][3],
                          runs[i][4], NULL);
        CU_ASSERT_EQUAL(rc, 2);
        CU_ASSERT_EQUAL(test_count_lines(err), 1);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
        if (what)
            CU_ASSERT_PTR_NOT_NULL(strstr(err, what));
        CU_ASSERT_EQUAL(out[0], 0);
        if (i == 0)
            printf("    %s", err);
    }
}

static void test_bad_files(void)
{
    const char *dir = test_tmpdir("an-bad");
    char p[700];
    printf("\n");
    snprintf(p, sizeof p, "%s/missing.h5", dir);
    expect_bad(p, "No such file");
    snprintf(p, sizeof p, "%s/empty.h5", dir);
    FILE *f = fopen(p, "wb");
    fclose(f);
    expect_bad(p, "empty");
    snprintf(p, sizeof p, "%s/text.h5", dir);
    f = fopen(p, "wb");
    fputs("hello\n", f);
    fclose(f);
    expect_bad(p, "not an HDF5 file");

    struct test_run_spec s;
    test_run_spec_default(&s);
    const char *good = mk(dir, "good.h5", &s);
    /* truncated copy */
    snprintf(p, sizeof p, "%s/truncated.h5", dir);
    char cmd[2000];
    snprintf(cmd, sizeof cmd, "head -c 20000 '%s' > '%s'", good, p);
    CU_ASSERT_EQUAL(system(cmd), 0);
    expect_bad(p, "truncated");

    s.schema = "";
    expect_bad(mk(dir, "noschema.h5", &s), "not a sinkscope run");
    s.schema = "h5py-demo/3";
    expect_bad(mk(dir, "foreign.h5", &s), "not a sinkscope run");
    s.schema = "sinkscope/2";
    expect_bad(mk(dir, "newer.h5", &s), "newer");
    s.schema = NULL;
    s.omit = "/stats/act_max";
    expect_bad(mk(dir, "noact.h5", &s), "/stats/act_max missing");
    s.omit = "/summary/perplexity";
    expect_bad(mk(dir, "noppl.h5", &s), "/summary/perplexity missing");
    s.omit = NULL;
    s.wrong_shape = "/stats/first_token_share";
    expect_bad(mk(dir, "shape.h5", &s), "shape [3, 2], expected [2, 2]");
    s.wrong_shape = "/stats/act_max";
    expect_bad(mk(dir, "shape2.h5", &s), "expected [2, 4]");

    /* compare: a bad second file is named, not the first */
    s.wrong_shape = NULL;
    snprintf(p, sizeof p, "%s/text.h5", dir);
    CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "compare", good, p, NULL), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, p));
    CU_ASSERT_PTR_NULL(strstr(err, good));
}

SS_SUITE(analyze)
{
    CU_pSuite s = CU_add_suite("analyze", NULL, NULL);
    CU_add_test(s, "summary json carries the file's values", test_summary_json_values);
    CU_add_test(s, "summary text, csv, markdown, latex", test_summary_formats);
    CU_add_test(s, "compare ratios, differences, warnings", test_compare);
    CU_add_test(s, "audit limits, layers, exit codes", test_audit);
    CU_add_test(s, "bad files: exit 2, one line naming the file", test_bad_files);
}
