/* tests/test_schema.c — the run-file schema (runfile/schema.h) against its prose
 * (docs/SCHEMA.md) and against a file `run` writes: every dataset of the schema is
 * documented and every documented dataset is in the schema; every dimension scale is
 * documented; a run with every optional part (gated checkpoint, tokenizer, every dump)
 * writes exactly the schema's datasets with its element types, ranks, dimension names,
 * long_name and units, except the MoE and learned-sink ones: those come from runs of the
 * Qwen3-MoE and GPT-OSS fixtures and from a file written from synthetic events with learned sinks. */
#include <CUnit/CUnit.h>
#include <hdf5.h>
#include <hdf5_hl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../probes/probes.h"
#include "../runfile/h5write.h"
#include "../runfile/schema.h"
#include "test_probes_util.h"
#include "test_tokenizer_util.h"
#include "test_util.h"

#define DOC "docs/SCHEMA.md"
#define MAX_DOC 128

static char doc_names[MAX_DOC][96];
static int n_doc;

/* The datasets the tables of docs/SCHEMA.md document: the backticked names of the first cell
 * of each row, prefixed with the section's group (/summary, /stats; others are absolute). */
static void doc_datasets(const char *text)
{
    const char *group = NULL; /* NULL outside the dataset sections */
    n_doc = 0;
    for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (!strncmp(line, "## ", 3)) {
            group = !strncmp(line, "## `/summary`", 13) ? "/summary/"
                    : !strncmp(line, "## `/stats`", 11) ? "/stats/"
                    : !strncmp(line, "## Inputs", 9) || !strncmp(line, "## Dumps", 8) ? "" : NULL;
            continue;
        }
        if (!group || line[0] != '|' || line[1] == '-')
            continue;
        const char *end = strchr(line + 1, '|');
        for (const char *p = line + 1; end && p < end;) {
            const char *a = memchr(p, '`', (size_t)(end - p));
            const char *b = a ? memchr(a + 1, '`', (size_t)(end - a - 1)) : NULL;
            if (!b)
                break;
            if (n_doc < MAX_DOC)
                snprintf(doc_names[n_doc++], sizeof doc_names[0], "%s%.*s", group, (int)(b - a - 1), a + 1);
            p = b + 1;
        }
    }
}

static int documented(const char *path)
{
    for (int i = 0; i < n_doc; i++)
        if (!strcmp(doc_names[i], path))
            return 1;
    return 0;
}

static void test_doc_matches_schema(void)
{
    size_t n = 0;
    char *text = test_read_file(DOC, &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    doc_datasets(text);
    for (int i = 0; i < RF_N_DATASETS; i++)
        if (!documented(rf_schema[i].path)) {
            printf("\n    %s is in runfile/schema.c but not documented in " DOC, rf_schema[i].path);
            CU_FAIL("schema dataset undocumented");
        }
    for (int i = 0; i < n_doc; i++)
        if (!rf_schema_find(doc_names[i]) || strcmp(rf_schema_find(doc_names[i])->path, doc_names[i])) {
            printf("\n    %s is documented in " DOC " but not in runfile/schema.c", doc_names[i]);
            CU_FAIL("documented dataset not in the schema");
        }
    for (int i = 0; i < rf_n_dims; i++) {
        char scale[64];
        snprintf(scale, sizeof scale, "`/%s`", rf_dims[i].name);
        if (!strstr(text, scale)) {
            printf("\n    dimension scale %s is not documented in " DOC, scale);
            CU_FAIL("scale undocumented");
        }
    }
    printf("\n    %d datasets and %d scales in the schema, %d datasets documented", RF_N_DATASETS, rf_n_dims, n_doc);
    CU_ASSERT_EQUAL(n_doc, RF_N_DATASETS);
    free(text);
}

/* ---- a written file against the schema ------------------------------------------ */

struct visit {
    int seen[RF_N_DATASETS];
    int bad, datasets;
};

static void attr_text(hid_t obj, const char *name, char *buf, size_t n)
{
    buf[0] = 0;
    if (H5Aexists(obj, name) <= 0)
        return;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT), t = H5Aget_type(a);
    size_t sz = H5Tget_size(t);
    if (H5Tget_class(t) == H5T_STRING && !H5Tis_variable_str(t) && sz < n) {
        memset(buf, 0, n);
        H5Aread(a, t, buf);
    }
    H5Tclose(t);
    H5Aclose(a);
}

static int type_matches(hid_t ds, enum rf_type want)
{
    hid_t t = H5Dget_type(ds);
    H5T_class_t c = H5Tget_class(t);
    size_t sz = H5Tget_size(t);
    H5Tclose(t);
    switch (want) {
    case RF_F64: return c == H5T_FLOAT && sz == 8;
    case RF_F32: return c == H5T_FLOAT && sz == 4;
    case RF_DUMP_T: return c == H5T_FLOAT && (sz == 4 || sz == 2);
    case RF_I32: return c == H5T_INTEGER && sz == 4;
    case RF_TEXT: return c == H5T_STRING;
    }
    return 0;
}

/* H5DSiterate_scales callback: the name of the (first) scale attached to an axis. */
static herr_t scale_name(hid_t ds, unsigned axis, hid_t scale, void *op)
{
    (void)ds;
    (void)axis;
    H5Iget_name(scale, op, 64);
    return 1;
}

/* One dataset of the file: a scale of rf_dims, or a schema entry with matching attributes. */
static int check_dataset(hid_t ds, const char *path, struct visit *v)
{
    char ln[256], un[64];
    if (H5DSis_scale(ds) > 0 && path[0] == '/' && !strchr(path + 1, '/'))
        return rf_dim_find(path + 1) ? 0 : (printf("\n    scale %s is not in the schema", path), 1);
    const struct rf_dataset *sd = rf_schema_find(path);
    if (!sd)
        return printf("\n    %s is not in the schema", path), 1;
    v->seen[sd - rf_schema] = 1;
    attr_text(ds, "long_name", ln, sizeof ln);
    attr_text(ds, "units", un, sizeof un);
    hid_t sp = H5Dget_space(ds);
    int ndim = H5Sget_simple_extent_ndims(sp), bad = 0;
    H5Sclose(sp);
    bad |= strcmp(ln, sd->long_name) || strcmp(un, sd->units);
    bad |= ndim != sd->ndim || !type_matches(ds, sd->type);
    for (int i = 0; !bad && i < ndim; i++) {
        char scale[64] = "";
        if (H5DSiterate_scales(ds, (unsigned)i, NULL, scale_name, scale) < 0 || strcmp(scale + 1, sd->dims[i])) {
            printf("\n    %s: axis %d has scale '%s', the schema says '/%s'", path, i, scale, sd->dims[i]);
            bad = 1;
        }
    }
    if (bad)
        printf("\n    %s: long_name '%s' units '%s' rank %d; the schema says '%s' '%s' rank %d", path, ln, un, ndim,
               sd->long_name, sd->units, sd->ndim);
    return bad;
}

static herr_t visit_object(hid_t loc, const char *name, const H5O_info_t *info, void *op)
{
    struct visit *v = op;
    if (info->type != H5O_TYPE_DATASET)
        return 0;
    char path[256];
    snprintf(path, sizeof path, "/%s", name);
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    v->bad += check_dataset(ds, path, v);
    v->datasets++;
    H5Dclose(ds);
    return 0;
}

static void visit_file(const char *path, struct visit *v)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    H5Ovisit(f, H5_INDEX_NAME, H5_ITER_NATIVE, visit_object, v);
    H5Fclose(f);
}

static void test_written_file_matches_schema(void)
{
    const char *dir = test_tmpdir("schema");
    CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
    /* the smallest gated checkpoint (3 layers, vocab 320) with a byte-level tokenizer beside it */
    const char *tok = tok_hand("schema-tok", "{\"ab\": 256, \"cd\": 257}", "[\"a b\", \"c d\"]", NULL, NULL, NULL,
                               NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
    char out[600], cmd[2048];
    snprintf(cmd, sizeof cmd, "mkdir -p %s/m && cp tests/fixtures/gated_headwise/config.json "
             "tests/fixtures/gated_headwise/model.safetensors %s/tokenizer.json %s/m/", dir, tok, dir);
    CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s/m", dir);
    snprintf(out, sizeof out, "%s/all.h5", dir);
    char err[2048];
    CU_ASSERT_EQUAL_FATAL(test_cli(NULL, 0, err, sizeof err, "run", "-m", cmd, "-p", "abcd sinks", "--dump",
                                   "attention,gates,hidden,logits", "-o", out, "--quiet", NULL), 0);
    struct visit v = {{0}, 0, 0};
    visit_file(out, &v);
    for (int i = 0; i < RF_N_DATASETS; i++)
        if (!v.seen[i] && rf_schema[i].when != RF_MOE && rf_schema[i].when != RF_SINKS) {
            printf("\n    %s (in the schema) is not in a gated run with a tokenizer and every dump", rf_schema[i].path);
            v.bad++;
        }
    printf("\n    %d datasets checked", v.datasets);
    CU_ASSERT_EQUAL(v.bad, 0);
}

/* Every dataset of the schema present `when` is in v, and v's were all the schema's. */
static void expect_when(const struct visit *v, enum rf_when when, const char *what)
{
    int bad = v->bad;
    for (int i = 0; i < RF_N_DATASETS; i++)
        if (!v->seen[i] && rf_schema[i].when == when) {
            printf("\n    %s (in the schema) is not in %s", rf_schema[i].path, what);
            bad++;
        }
    printf("\n    %d datasets of %s checked", v->datasets, what);
    CU_ASSERT_EQUAL(bad, 0);
}

static void test_moe_file_matches_schema(void)
{
    const char *dir = test_tmpdir("schema-moe");
    CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
    char out[600];
    snprintf(out, sizeof out, "%s/moe.h5", dir);
    CU_ASSERT_EQUAL_FATAL(test_cli(NULL, 0, NULL, 0, "run", "-m", "tests/fixtures/qwen3_moe_bf16", "--token-ids",
                                   "1,7,30,200,5", "-o", out, "--quiet", NULL), 0);
    struct visit v = {{0}, 0, 0};
    visit_file(out, &v);
    expect_when(&v, RF_MOE, "a Qwen3-MoE run");
    for (int i = 0; i < RF_N_DATASETS; i++)
        CU_ASSERT(!v.seen[i] || rf_schema[i].when != RF_SINKS); /* no learned sinks there */
}

static void test_gpt_oss_file_matches_schema(void)
{
    const char *dir = test_tmpdir("schema-gptoss");
    CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
    char out[600];
    snprintf(out, sizeof out, "%s/gptoss.h5", dir);
    CU_ASSERT_EQUAL_FATAL(test_cli(NULL, 0, NULL, 0, "run", "-m", "tests/fixtures/gpt_oss_bf16", "--token-ids",
                                   "1,7,30,200,5", "-o", out, "--quiet", NULL), 0);
    struct visit v = {{0}, 0, 0};
    visit_file(out, &v);
    expect_when(&v, RF_MOE, "a GPT-OSS run");
    expect_when(&v, RF_SINKS, "a GPT-OSS run (learned sinks)");
}

/* A file written from synthetic events of a learned-sink MoE shape, as `run` writes one. */
static void test_sink_file_matches_schema(void)
{
    static const unsigned char moe[2] = {1, 0};
    struct probes_opts o = {.shape = {2, 3, 1, 4, 8, 11, 0, 5, 0, 0, 4, 2, moe, 1}, .n_seqs = 1, .sink_epsilon = 0.3,
                            .stats = 1};
    const char *dir = test_tmpdir("schema-sink");
    CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
    char out[600];
    snprintf(out, sizeof out, "%s/sink.h5", dir);
    struct probes *p = NULL;
    struct h5w *w = NULL;
    struct ss_error err = {0};
    struct hook_set hooks;
    hook_set_init(&hooks);
    static const int32_t tokens[5] = {1, 2, 3, 4, 5};
    CU_ASSERT_EQUAL_FATAL(probes_new(&p, &o, &err), SS_OK);
    CU_ASSERT_EQUAL_FATAL(probes_subscribe(p, &hooks, &err), SS_OK);
    CU_ASSERT_EQUAL_FATAL(h5w_create(&w, out, &err), SS_OK);
    CU_ASSERT_EQUAL(probes_create_datasets(p, w, 1, 0, &err), SS_OK);
    CU_ASSERT_EQUAL(probes_seq_begin(p, w, 0, tokens, &err), SS_OK);
    CU_ASSERT_EQUAL(test_fire_sequence(&hooks, &o.shape, 3, 2, &err), 0);
    CU_ASSERT_EQUAL(probes_seq_end(p, 0, NULL, &err), SS_OK);
    CU_ASSERT_EQUAL(probes_write_results(p, w, &err), SS_OK);
    CU_ASSERT_EQUAL(h5w_close(w, &err), SS_OK);
    probes_free(p);
    if (err.msg[0])
        printf("\n    %s", err.msg);
    struct visit v = {{0}, 0, 0};
    visit_file(out, &v);
    expect_when(&v, RF_SINKS, "a learned-sink file");
    expect_when(&v, RF_MOE, "a learned-sink MoE file");
}

SS_SUITE(schema)
{
    CU_pSuite s = CU_add_suite("schema", NULL, NULL);
    CU_add_test(s, "docs/SCHEMA.md documents exactly the schema's datasets and scales", test_doc_matches_schema);
    CU_add_test(s, "a run with every part writes exactly the schema's datasets", test_written_file_matches_schema);
    CU_add_test(s, "a Qwen3-MoE run writes the schema's routing datasets", test_moe_file_matches_schema);
    CU_add_test(s, "learned-sink statistics written as the schema says", test_sink_file_matches_schema);
    CU_add_test(s, "a GPT-OSS run writes the schema's routing and learned-sink datasets", test_gpt_oss_file_matches_schema);
}
