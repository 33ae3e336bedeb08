/* tests/test_badinput.c — the breakers of the bad-input catalogue (issue 8). The cases
 * themselves are data: tests/cases/badinput.test (format: tests/test_cases.h), run by
 * tests/test_cases.c. Each breaker here is a named setup: it copies what its case needs
 * from the valid inputs (case_model(), case_run(), case_tokenizer(): `synth --preset tiny`,
 * a real `run` of it, a byte-level tokenizer) into the case's directory and breaks it
 * there. A new case needs a new breaker only when no existing one makes its input. */
#include <CUnit/CUnit.h>
#include <hdf5.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <math.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_cases.h"
#include "test_util.h"


/* ---- file helpers ----------------------------------------------------------- */

static int sh(const char *fmt, const char *a, const char *b)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, fmt, a, b);
    return system(cmd);
}

static void put_file(const char *dir, const char *name, const void *data, size_t n)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fwrite(data, 1, n, f), n);
    fclose(f);
}

static void put_text(const char *dir, const char *name, const char *text)
{
    put_file(dir, name, text, strlen(text));
}

/* Copy the valid checkpoint into dir. */
static void copy_model(const char *dir)
{
    CU_ASSERT_EQUAL(sh("cp '%s'/config.json '%s'/", case_model(), dir), 0);
    CU_ASSERT_EQUAL(sh("cp '%s'/model.safetensors '%s'/", case_model(), dir), 0);
}

/* dir/model.safetensors = src's with its header passed through edit (data region kept). */
static void edit_header_from(const char *src, const char *dir, void (*edit)(json_t *h))
{
    size_t n = 0;
    char p[1024];
    snprintf(p, sizeof p, "%s/model.safetensors", src);
    char *buf = test_read_file(p, &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
    uint64_t hl = 0;
    memcpy(&hl, buf, 8);
    json_t *h = json_loadb(buf + 8, hl, 0, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    edit(h);
    char *text = json_dumps(h, JSON_COMPACT);
    size_t tl = strlen(text), padded = (tl + 7) / 8 * 8;
    size_t data_n = n - 8 - hl;
    char *out = malloc(8 + padded + data_n);
    uint64_t nl = padded;
    memcpy(out, &nl, 8);
    memcpy(out + 8, text, tl);
    memset(out + 8 + tl, ' ', padded - tl);
    memcpy(out + 8 + padded, buf + 8 + hl, data_n);
    put_file(dir, "model.safetensors", out, 8 + padded + data_n);
    free(out);
    free(text);
    json_decref(h);
    free(buf);
}

static void edit_header(const char *dir, void (*edit)(json_t *h))
{
    edit_header_from(case_model(), dir, edit);
}

/* dir/config.json = src's passed through edit. */
static void edit_config_from(const char *src, const char *dir, void (*edit)(json_t *c))
{
    char p[1024];
    snprintf(p, sizeof p, "%s/config.json", src);
    json_t *c = json_load_file(p, 0, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    edit(c);
    snprintf(p, sizeof p, "%s/config.json", dir);
    CU_ASSERT_EQUAL(json_dump_file(c, p, JSON_INDENT(2)), 0);
    json_decref(c);
}

static void edit_config(const char *dir, void (*edit)(json_t *c))
{
    edit_config_from(case_model(), dir, edit);
}

static json_t *tensor(json_t *h, const char *name)
{
    json_t *t = json_object_get(h, name);
    CU_ASSERT_PTR_NOT_NULL(t);
    return t;
}

static void set_offsets(json_t *h, const char *name, json_int_t b, json_int_t e)
{
    json_object_set_new(tensor(h, name), "data_offsets", json_pack("[II]", b, e));
}

/* ---- checkpoint breakers (setup functions: dir is the case directory) ------- */

#define EMBED "model.embed_tokens.weight"        /* BF16 [512, 64], bytes [0, 65536) */
#define NORM0 "model.layers.0.input_layernorm.weight" /* BF16 [64], right after EMBED */
#define UP0 "model.layers.0.mlp.up_proj.weight"

static void st_truncated(const char *d)
{
    copy_model(d);
    char p[1024];
    snprintf(p, sizeof p, "%s/model.safetensors", d);
    CU_ASSERT_EQUAL(truncate(p, 100000), 0);
}
static void st_tiny_file(const char *d)
{
    copy_model(d);
    put_file(d, "model.safetensors", "\x10\x00\x00", 3);
}
static void st_header_too_long(const char *d)
{
    copy_model(d);
    char p[1024];
    snprintf(p, sizeof p, "%s/model.safetensors", d);
    FILE *f = fopen(p, "r+b");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    uint64_t big = 200000000;
    fwrite(&big, 8, 1, f);
    fclose(f);
}
static void st_header_not_object(const char *d)
{
    copy_model(d);
    static const char bad[] = "\x08\0\0\0\0\0\0\0[1,2,3]";
    put_file(d, "model.safetensors", bad, sizeof bad - 1);
}
static void h_overlap(json_t *h) { set_offsets(h, NORM0, 65536 - 64, 65536 + 64); }
static void st_overlap(const char *d)
{
    copy_model(d);
    edit_header(d, h_overlap);
}
static void h_out_of_range(json_t *h) { set_offsets(h, "model.norm.weight", 262912 + 4096, 263040 + 4096); }
static void st_out_of_range(const char *d)
{
    copy_model(d);
    edit_header(d, h_out_of_range);
}
static void h_reversed(json_t *h) { set_offsets(h, EMBED, 65536, 0); }
static void st_reversed(const char *d)
{
    copy_model(d);
    edit_header(d, h_reversed);
}
static void h_byte_size(json_t *h) { json_object_set_new(tensor(h, EMBED), "shape", json_pack("[ii]", 513, 64)); }
static void st_byte_size(const char *d)
{
    copy_model(d);
    edit_header(d, h_byte_size);
}
static void h_dtype_i16(json_t *h) { json_object_set_new(tensor(h, EMBED), "dtype", json_string("I16")); }
static void st_dtype_unsupported(const char *d)
{
    copy_model(d);
    edit_header(d, h_dtype_i16);
}
static void h_dtype_q4(json_t *h) { json_object_set_new(tensor(h, EMBED), "dtype", json_string("Q4")); }
static void st_dtype_unknown(const char *d)
{
    copy_model(d);
    edit_header(d, h_dtype_q4);
}
static void h_rename_up(json_t *h)
{
    json_t *t = json_incref(tensor(h, UP0));
    json_object_del(h, UP0);
    json_object_set_new(h, "model.layers.0.mlp.up_proj.weightX", t);
}
static void st_missing_tensor(const char *d)
{
    copy_model(d);
    edit_header(d, h_rename_up);
}
static void c_hidden32(json_t *c) { json_object_set_new(c, "hidden_size", json_integer(32)); }
static void st_shape_vs_config(const char *d)
{
    copy_model(d);
    edit_config(d, c_hidden32);
}
static void st_no_weights(const char *d)
{
    copy_model(d);
    char p[1024];
    snprintf(p, sizeof p, "%s/model.safetensors", d);
    unlink(p);
}
/* The sharded reference fixture with its second shard missing. */
static void st_missing_shard(const char *d)
{
    CU_ASSERT_EQUAL(sh("cp tests/fixtures/sharded/config.json tests/fixtures/sharded/model.safetensors.index.json "
                       "tests/fixtures/sharded/model-00001-of-00002.safetensors '%s'/%s", d, ""), 0);
}
static void st_shard_traversal(const char *d)
{
    copy_model(d);
    put_text(d, "model.safetensors.index.json",
             "{\"weight_map\": {\"" EMBED "\": \"../../../etc/passwd\"}}");
}
/* A sparse 1 GiB file: over READFILE_LIMIT_JSON, refused from its size before any byte is read. */
static void put_huge(const char *d, const char *name)
{
    put_text(d, name, "{");
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", d, name);
    CU_ASSERT_EQUAL(truncate(p, (off_t)1 << 30), 0);
}
static void st_index_huge(const char *d)
{
    copy_model(d);
    put_huge(d, "model.safetensors.index.json");
}

/* ---- config breakers ---------------------------------------------------------- */

static void c_no_layers(json_t *c) { json_object_del(c, "num_hidden_layers"); }
static void c_heads_string(json_t *c) { json_object_set_new(c, "num_attention_heads", json_string("four")); }
static void c_model_type(json_t *c) { json_object_set_new(c, "model_type", json_string("mamba")); }
static void c_gemma3_no_text(json_t *c) { json_object_set_new(c, "model_type", json_string("gemma3")); }
static void c_zero_heads(json_t *c) { json_object_set_new(c, "num_attention_heads", json_integer(0)); }
static void c_kv_3(json_t *c) { json_object_set_new(c, "num_key_value_heads", json_integer(3)); }
static void c_layers_float(json_t *c) { json_object_set_new(c, "num_hidden_layers", json_real(2.5)); }
/* found by the catalogue's author: ten million layers used to allocate 13.7 GB before failing */
static void c_layers_huge(json_t *c) { json_object_set_new(c, "num_hidden_layers", json_integer(10000000)); }
static void c_yarn_factor_0(json_t *c)
{
    json_object_set_new(c, "rope_parameters",
                        json_pack("{s:s, s:f, s:f, s:i}", "rope_type", "yarn", "rope_theta", 10000.0, "factor", 0.0,
                                  "original_max_position_embeddings", 16));
}
#define CONFIG_SETUP(fn, ed)       \
    static void fn(const char *d)  \
    {                              \
        copy_model(d);             \
        edit_config(d, ed);        \
    }
CONFIG_SETUP(cfg_missing_field, c_no_layers)
CONFIG_SETUP(cfg_mistyped_field, c_heads_string)
CONFIG_SETUP(cfg_unknown_type, c_model_type)
CONFIG_SETUP(cfg_zero_heads, c_zero_heads)
CONFIG_SETUP(cfg_gemma3_no_text, c_gemma3_no_text)
CONFIG_SETUP(cfg_kv_not_divisor, c_kv_3)
CONFIG_SETUP(cfg_fractional, c_layers_float)
CONFIG_SETUP(cfg_layers_huge, c_layers_huge)
CONFIG_SETUP(cfg_yarn_factor_0, c_yarn_factor_0)
static void c_layers_1e9(json_t *c) { json_object_set_new(c, "num_hidden_layers", json_integer(1000000000)); }
static void c_max_pos_0(json_t *c) { json_object_set_new(c, "max_position_embeddings", json_integer(0)); }
static void c_heads_2_32(json_t *c) /* 65536 heads x head_dim 65536 = 2^32 */
{
    json_object_set_new(c, "num_attention_heads", json_integer(65536));
    json_object_set_new(c, "num_key_value_heads", json_integer(65536));
    json_object_set_new(c, "head_dim", json_integer(65536));
}
static void c_max_pos_4(json_t *c) { json_object_set_new(c, "max_position_embeddings", json_integer(4)); }
CONFIG_SETUP(cfg_layers_1e9, c_layers_1e9)
CONFIG_SETUP(cfg_max_pos_0, c_max_pos_0)
CONFIG_SETUP(cfg_heads_2_32, c_heads_2_32)
CONFIG_SETUP(cfg_max_pos_4, c_max_pos_4)
static void cfg_not_json(const char *d)
{
    copy_model(d);
    put_text(d, "config.json", "{\"model_type\": \"qwen3\",");
}
static void cfg_missing(const char *d)
{
    copy_model(d);
    char p[1024];
    snprintf(p, sizeof p, "%s/config.json", d);
    unlink(p);
}

/* ---- tokenizer breakers: dir/tokenizer.json from the valid one, edited ------- */

static void edit_tokenizer(const char *d, const char *key, const char *sub, json_t *value)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/tokenizer.json", case_tokenizer());
    json_t *t = json_load_file(p, 0, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    json_t *o = sub ? json_object_get(t, sub) : t;
    if (value)
        json_object_set_new(o, key, value);
    else
        json_object_del(o, key);
    snprintf(p, sizeof p, "%s/tokenizer.json", d);
    CU_ASSERT_EQUAL(json_dump_file(t, p, 0), 0);
    json_decref(t);
}
static void tok_wordpiece(const char *d) { edit_tokenizer(d, "type", "model", json_string("WordPiece")); }
static void tok_no_vocab(const char *d) { edit_tokenizer(d, "vocab", "model", NULL); }
static void tok_bad_merge(const char *d) { edit_tokenizer(d, "merges", "model", json_pack("[s]", "h zzz")); }
static void tok_bad_pretok(const char *d)
{
    edit_tokenizer(d, "pre_tokenizer", NULL, json_pack("{s:s}", "type", "Whitespace"));
}
/* Catastrophic backtracking under PCRE2's per-call match limit: each of the 10 KB prompt's
 * matches tries ~10^4 ways before matching one "a" (over 60 s without the regex budget). */
static void tok_backtrack(const char *d)
{
    edit_tokenizer(d, "pre_tokenizer", NULL,
                   json_pack("{s:s, s:{s:s}, s:s}", "type", "Split", "pattern", "Regex", "(?:a|aa){0,20}c|a",
                             "behavior", "Isolated"));
    char *p = malloc(10241);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    memset(p, 'a', 10240);
    p[10240] = 0;
    put_text(d, "prompt.txt", p);
    free(p);
}
static void tok_no_vocab_model(const char *d)
{
    copy_model(d);
    tok_no_vocab(d);
}
static void tok_not_json(const char *d) { put_text(d, "tokenizer.json", "{\"model\": {\"type\": \"BPE\""); }

/* A checkpoint with the valid tokenizer beside it (for prompts). */
static void with_tokenizer(const char *d)
{
    copy_model(d);
    CU_ASSERT_EQUAL(sh("cp '%s'/tokenizer.json '%s'/", case_tokenizer(), d), 0);
}
static void tok_config_huge(const char *d)
{
    with_tokenizer(d);
    put_huge(d, "tokenizer_config.json");
}
/* A regular file where a directory is expected: open() fails with ENOTDIR even for root,
 * so this is how the catalogue checks that an unreadable directory is reported with the
 * system's reason (EACCES goes through the same errno-naming path, but root bypasses it). */
static void plain_file(const char *d) { put_text(d, "file", "not a directory"); }
static void prompt_bad_utf8(const char *d)
{
    with_tokenizer(d);
    put_text(d, "prompt.txt", "caf\xc3\xa9 ok \xff then");
}
static void prompt_empty(const char *d)
{
    with_tokenizer(d);
    put_text(d, "prompt.txt", "");
}
static void prompt_long(const char *d)
{
    with_tokenizer(d);
    put_text(d, "prompt.txt", "abcdefghijklmnopqrstuvwxyz abcdefghijklmnopqrstuvwxyz");
}
static void ids_file_bad(const char *d) { put_text(d, "ids.txt", "1, 2, three\n"); }

/* ---- run-file breakers ------------------------------------------------------- */

static void run_copy(const char *d)
{
    CU_ASSERT_EQUAL(sh("cp '%s' '%s'/run.h5", case_run(), d), 0);
}
static void run_truncated(const char *d)
{
    run_copy(d);
    char p[1024];
    snprintf(p, sizeof p, "%s/run.h5", d);
    CU_ASSERT_EQUAL(truncate(p, 20000), 0);
}
static void run_not_hdf5(const char *d) { put_text(d, "run.h5", "this is not an HDF5 file\n"); }
static void run_zero_bytes(const char *d) { put_text(d, "run.h5", ""); }
/* Set the root attribute `schema` of dir/run.h5 to s. */
static void run_schema(const char *d, const char *s)
{
    run_copy(d);
    char p[1024];
    snprintf(p, sizeof p, "%s/run.h5", d);
    hid_t f = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    H5Adelete(f, "schema");
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(s) + 1);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, "schema", t, sp, H5P_DEFAULT, H5P_DEFAULT);
    CU_ASSERT(a >= 0);
    H5Awrite(a, t, s);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    H5Fclose(f);
}
static void run_schema_other(const char *d) { run_schema(d, "otherformat/1"); }
static void run_schema_newer(const char *d) { run_schema(d, "sinkscope/2"); }
/* Replace dataset name of dir/run.h5 with a float64 [n0, n1] dataset (n0 = 0: just delete it). */
static void run_replace(const char *d, const char *name, hsize_t n0, hsize_t n1)
{
    run_copy(d);
    char p[1024];
    snprintf(p, sizeof p, "%s/run.h5", d);
    hid_t f = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    CU_ASSERT(H5Ldelete(f, name, H5P_DEFAULT) >= 0);
    if (n0) {
        hsize_t dims[2] = {n0, n1};
        hid_t sp = H5Screate_simple(2, dims, NULL);
        hid_t ds = H5Dcreate2(f, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        CU_ASSERT(ds >= 0);
        double v[64] = {0};
        H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
        H5Dclose(ds);
        H5Sclose(sp);
    }
    H5Fclose(f);
}
static void run_missing_summary(const char *d) { run_replace(d, "/summary/first_token_share", 0, 0); }
static void run_missing_stats(const char *d) { run_replace(d, "/stats/first_token_share", 0, 0); }
static void run_wrong_shape(const char *d) { run_replace(d, "/stats/first_token_share", 3, 5); }
/* The run file's own directory: a second valid copy beside a broken one. */
static void run_pair_truncated(const char *d)
{
    run_truncated(d);
    CU_ASSERT_EQUAL(sh("cp '%s' '%s'/good.h5", case_run(), d), 0);
}
static void run_existing_out(const char *d)
{
    run_copy(d);
    put_text(d, "out.h5", "precious");
}

/* ---- hostile run files (issue 14): links, storage, filters, sizes, shapes, NaN ---- */

/* Open dir/run.h5 (a copy of the valid run) for writing; delete name when given. */
static hid_t run_open_rw(const char *d, const char *name)
{
    run_copy(d);
    char p[1024];
    snprintf(p, sizeof p, "%s/run.h5", d);
    hid_t f = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    if (name)
        CU_ASSERT(H5Ldelete(f, name, H5P_DEFAULT) >= 0);
    return f;
}

/* A float64 dataset of rank nd at name with creation properties dcpl; data written when v. */
static void run_put(hid_t f, const char *name, int nd, const hsize_t *dims, hid_t dcpl, const double *v)
{
    hid_t sp = H5Screate_simple(nd, dims, NULL);
    hid_t ds = H5Dcreate2(f, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    CU_ASSERT_FATAL(ds >= 0);
    if (v)
        CU_ASSERT(H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Dclose(ds);
    H5Sclose(sp);
}

/* /summary/first_token_share stored in /etc/passwd (external storage). */
static void run_external_storage(const char *d)
{
    hid_t f = run_open_rw(d, "/summary/first_token_share");
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    CU_ASSERT(H5Pset_external(dcpl, "/etc/passwd", 0, 8) >= 0);
    run_put(f, "/summary/first_token_share", 1, (hsize_t[]){1}, dcpl, NULL);
    H5Pclose(dcpl);
    H5Fclose(f);
}
/* /summary/first_token_share an external link into a FIFO (reading it would hang). */
static void run_external_link_fifo(const char *d)
{
    hid_t f = run_open_rw(d, "/summary/first_token_share");
    char p[1024];
    snprintf(p, sizeof p, "%s/fifo", d);
    CU_ASSERT_EQUAL(mkfifo(p, 0600), 0);
    CU_ASSERT(H5Lcreate_external(p, "/x", f, "/summary/first_token_share", H5P_DEFAULT, H5P_DEFAULT) >= 0);
    H5Fclose(f);
}
/* /stats/first_token_share a soft link to another dataset of the same shape. */
static void run_soft_link(const char *d)
{
    hid_t f = run_open_rw(d, "/stats/first_token_share");
    CU_ASSERT(H5Lcreate_soft("/stats/attn_entropy", f, "/stats/first_token_share", H5P_DEFAULT, H5P_DEFAULT) >= 0);
    H5Fclose(f);
}
/* /stats/first_token_share through a user-defined (unregistered, optional) filter 32000. */
static void run_filter_unknown(const char *d)
{
    hid_t f = run_open_rw(d, NULL);
    hid_t ds = H5Dopen2(f, "/stats/first_token_share", H5P_DEFAULT);
    hid_t sp = H5Dget_space(ds);
    hsize_t dims[2];
    H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp);
    H5Dclose(ds);
    H5Ldelete(f, "/stats/first_token_share", H5P_DEFAULT);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 2, dims);
    CU_ASSERT(H5Pset_filter(dcpl, 32000, H5Z_FLAG_OPTIONAL, 0, NULL) >= 0);
    double v[4096] = {0};
    run_put(f, "/stats/first_token_share", 2, dims, dcpl, v);
    H5Pclose(dcpl);
    H5Fclose(f);
}
/* A dataset declaring far more values than its storage holds (chunked, never written). */
static void run_bomb(const char *d, const char *name, int nd, const hsize_t *dims, const hsize_t *chunk)
{
    hid_t f = run_open_rw(d, NULL);
    char parent[256];
    snprintf(parent, sizeof parent, "%.*s", (int)(strrchr(name, '/') - name), name);
    if (H5Lexists(f, parent, H5P_DEFAULT) > 0 && H5Lexists(f, name, H5P_DEFAULT) > 0)
        H5Ldelete(f, name, H5P_DEFAULT);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, nd, chunk);
    H5Pset_deflate(dcpl, 1);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t sp = H5Screate_simple(nd, dims, NULL);
    hid_t ds = H5Dcreate2(f, name, H5T_IEEE_F32LE, sp, lcpl, dcpl, H5P_DEFAULT);
    CU_ASSERT(ds >= 0);
    H5Dclose(ds);
    H5Sclose(sp);
    H5Pclose(lcpl);
    H5Pclose(dcpl);
    H5Fclose(f);
}
static void run_values_bomb(const char *d)
{
    run_bomb(d, "/stats/nll", 2, (hsize_t[]){20000, 10000}, (hsize_t[]){1000, 1000}); /* 2e8 values */
}
static void run_map_bomb(const char *d)
{
    run_bomb(d, "/attention/layer_00", 4, (hsize_t[]){1, 4, 6000, 6000}, (hsize_t[]){1, 1, 6000, 6000});
}
/* /stats/act_top_index with 1 stream instead of 4, data written (a reader trusting its
 * own stream count would index past the buffer). */
static void run_top_index_1stream(const char *d)
{
    hid_t f = run_open_rw(d, "/stats/act_top_index");
    hsize_t dims[4] = {2, 1, 10, 3};
    double v[60] = {0};
    run_put(f, "/stats/act_top_index", 4, dims, H5P_DEFAULT, v);
    H5Fclose(f);
}
/* Every float statistic the audit checks is NaN. */
static void run_all_nan(const char *d)
{
    hid_t f = run_open_rw(d, NULL);
    const char *names[] = {"/stats/first_token_share_layer", "/stats/first_token_share", "/stats/sink_alpha",
                           "/stats/act_max", "/summary/sink_rate", "/summary/first_token_share", NULL};
    for (int i = 0; names[i]; i++) {
        hid_t ds = H5Dopen2(f, names[i], H5P_DEFAULT);
        CU_ASSERT_FATAL(ds >= 0);
        hid_t sp = H5Dget_space(ds);
        hssize_t n = H5Sget_simple_extent_npoints(sp);
        double *v = malloc(sizeof(double) * (size_t)n);
        for (hssize_t k = 0; k < n; k++)
            v[k] = NAN;
        CU_ASSERT(H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
        free(v);
        H5Sclose(sp);
        H5Dclose(ds);
    }
    H5Fclose(f);
}

/* ---- hostile destinations and inputs (issue 14) ------------------------------ */

static void out_dangling_symlink(const char *d)
{
    char p[1024], t[1024];
    snprintf(p, sizeof p, "%s/out.h5", d);
    snprintf(t, sizeof t, "%s/target.h5", d);
    CU_ASSERT_EQUAL(symlink(t, p), 0);
}
/* OUT.tmp-PID of a process that no longer exists (a SIGKILLed run). */
static void out_stale_tmp(const char *d)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    waitpid(pid, NULL, 0);
    char name[64];
    snprintf(name, sizeof name, "out.h5.tmp-%d", (int)pid);
    put_text(d, name, "half a run file");
}
static void tok_json_dir(const char *d)
{
    copy_model(d);
    char p[1024];
    snprintf(p, sizeof p, "%s/tokenizer.json", d);
    CU_ASSERT_EQUAL(mkdir(p, 0755), 0);
}
static void tok_bos_unknown(const char *d)
{
    with_tokenizer(d);
    put_text(d, "tokenizer_config.json", "{\"add_bos_token\": true, \"bos_token\": \"<|no-such-bos|>\"}");
}
static void prompt_dir(const char *d)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/prompt.txt", d);
    CU_ASSERT_EQUAL(mkdir(p, 0755), 0);
}
/* The valid checkpoint with NaN weights in layer 0's q_proj (BF16 0x7fc0). */
static void st_nan_weights(const char *d)
{
    copy_model(d);
    size_t n = 0;
    char p[1024];
    snprintf(p, sizeof p, "%s/model.safetensors", d);
    char *buf = test_read_file(p, &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
    uint64_t hl = 0;
    memcpy(&hl, buf, 8);
    json_t *h = json_loadb(buf + 8, hl, 0, NULL);
    json_t *off = json_object_get(tensor(h, "model.layers.0.self_attn.q_proj.weight"), "data_offsets");
    size_t b = (size_t)json_integer_value(json_array_get(off, 0)), e = (size_t)json_integer_value(json_array_get(off, 1));
    for (size_t i = 8 + hl + b; i + 1 < 8 + hl + e && i + 1 < n; i += 2) {
        buf[i] = (char)0xc0;
        buf[i + 1] = 0x7f;
    }
    json_decref(h);
    put_file(d, "model.safetensors", buf, n);
    free(buf);
}

/* ---- gpt_oss breakers: a broken copy of tests/fixtures/gpt_oss_{mxfp4,bf16} ---- */

#define OSS_MX "tests/fixtures/gpt_oss_mxfp4"
#define OSS_BF "tests/fixtures/gpt_oss_bf16"
static void oss_copy(const char *src, const char *d, int config, int weights)
{
    if (config)
        CU_ASSERT_EQUAL(sh("cp '%s'/config.json '%s'/", src, d), 0);
    if (weights)
        CU_ASSERT_EQUAL(sh("cp '%s'/model.safetensors '%s'/", src, d), 0);
}
static void h_rename(json_t *h, const char *from, const char *to)
{
    json_t *t = json_incref(tensor(h, from));
    json_object_del(h, from);
    json_object_set_new(h, to, t);
}
static void h_oss_no_sinks(json_t *h) { h_rename(h, "model.layers.1.self_attn.sinks", "model.layers.1.self_attn.sinkz"); }
static void h_oss_sinks_2x2(json_t *h)
{
    json_object_set_new(tensor(h, "model.layers.1.self_attn.sinks"), "shape", json_pack("[ii]", 2, 2));
}
static void h_oss_blocks_shape(json_t *h) /* the same bytes in another shape */
{
    json_object_set_new(tensor(h, "model.layers.0.mlp.experts.gate_up_proj_blocks"), "shape",
                        json_pack("[iiii]", 5, 64, 4, 16));
}
static void h_oss_blocks_i8(json_t *h)
{
    json_object_set_new(tensor(h, "model.layers.2.mlp.experts.down_proj_scales"), "dtype", json_string("I8"));
}
static void h_oss_gate_up_out_in(json_t *h) /* [E, out, in] instead of save_pretrained's [E, in, out] */
{
    json_object_set_new(tensor(h, "model.layers.0.mlp.experts.gate_up_proj"), "shape", json_pack("[iii]", 5, 128, 64));
}
static void h_oss_no_router_bias(json_t *h) { h_rename(h, "model.layers.2.mlp.router.bias", "model.layers.2.mlp.router.b"); }
static void c_oss_quant_gptq(json_t *c)
{
    json_object_set_new(c, "quantization_config", json_pack("{s:s}", "quant_method", "gptq"));
}
static void c_oss_quant_mxfp4(json_t *c)
{
    json_object_set_new(c, "quantization_config", json_pack("{s:s}", "quant_method", "mxfp4"));
}
static void c_oss_limit_neg(json_t *c) { json_object_set_new(c, "swiglu_limit", json_real(-7)); }
static void c_oss_types_short(json_t *c) { json_object_set_new(c, "layer_types", json_pack("[ss]", "sliding_attention", "full_attention")); }
#define OSS_HEADER(fn, src, ed)                \
    static void fn(const char *d)              \
    {                                          \
        oss_copy(src, d, 1, 0);                \
        edit_header_from(src, d, ed);          \
    }
#define OSS_CONFIG(fn, src, ed)                \
    static void fn(const char *d)              \
    {                                          \
        oss_copy(src, d, 0, 1);                \
        edit_config_from(src, d, ed);          \
    }
OSS_HEADER(oss_no_sinks, OSS_MX, h_oss_no_sinks)
OSS_HEADER(oss_sinks_shape, OSS_MX, h_oss_sinks_2x2)
OSS_HEADER(oss_blocks_shape, OSS_MX, h_oss_blocks_shape)
OSS_HEADER(oss_scales_dtype, OSS_MX, h_oss_blocks_i8)
OSS_HEADER(oss_gate_up_orientation, OSS_BF, h_oss_gate_up_out_in)
OSS_HEADER(oss_no_router_bias, OSS_BF, h_oss_no_router_bias)
OSS_CONFIG(oss_quant_unknown, OSS_MX, c_oss_quant_gptq)
OSS_CONFIG(oss_mxfp4_config_bf16_files, OSS_BF, c_oss_quant_mxfp4)
OSS_CONFIG(oss_limit_negative, OSS_BF, c_oss_limit_neg)
OSS_CONFIG(oss_layer_types_short, OSS_BF, c_oss_types_short)
static void oss_valid(const char *d) { oss_copy(OSS_MX, d, 1, 1); }

/* ---- the named setups (tests/cases/badinput.test refers to them by name) ---- */

#define SETUP(fn) {#fn, fn}
const struct case_setup badinput_setups[] = {
    SETUP(st_truncated), SETUP(st_tiny_file), SETUP(st_header_too_long), SETUP(st_header_not_object),
    SETUP(st_overlap), SETUP(st_out_of_range), SETUP(st_reversed), SETUP(st_byte_size),
    SETUP(st_dtype_unsupported), SETUP(st_dtype_unknown), SETUP(st_missing_tensor), SETUP(st_shape_vs_config),
    SETUP(st_no_weights), SETUP(st_missing_shard), SETUP(st_shard_traversal), SETUP(cfg_missing_field),
    SETUP(cfg_mistyped_field), SETUP(cfg_unknown_type), SETUP(cfg_gemma3_no_text), SETUP(cfg_zero_heads), SETUP(cfg_kv_not_divisor),
    SETUP(cfg_fractional), SETUP(cfg_layers_huge), SETUP(cfg_yarn_factor_0), SETUP(cfg_not_json),
    SETUP(cfg_missing), SETUP(tok_wordpiece), SETUP(tok_no_vocab), SETUP(tok_bad_merge),
    SETUP(tok_bad_pretok), SETUP(tok_backtrack), SETUP(plain_file), SETUP(tok_config_huge), SETUP(st_index_huge), SETUP(tok_no_vocab_model), SETUP(tok_not_json), SETUP(with_tokenizer),
    SETUP(prompt_bad_utf8), SETUP(prompt_empty), SETUP(prompt_long), SETUP(ids_file_bad),
    SETUP(run_copy), SETUP(run_truncated), SETUP(run_not_hdf5), SETUP(run_zero_bytes),
    SETUP(run_schema_other), SETUP(run_schema_newer), SETUP(run_missing_summary), SETUP(run_missing_stats),
    SETUP(run_wrong_shape), SETUP(run_pair_truncated), SETUP(run_existing_out),
    SETUP(run_external_storage), SETUP(run_external_link_fifo), SETUP(run_soft_link), SETUP(run_filter_unknown),
    SETUP(run_values_bomb), SETUP(run_map_bomb), SETUP(run_top_index_1stream), SETUP(run_all_nan),
    SETUP(out_dangling_symlink), SETUP(out_stale_tmp), SETUP(prompt_dir), SETUP(st_nan_weights),
    SETUP(cfg_layers_1e9), SETUP(cfg_max_pos_0), SETUP(cfg_heads_2_32), SETUP(cfg_max_pos_4),
    SETUP(tok_json_dir), SETUP(tok_bos_unknown),
    SETUP(oss_valid), SETUP(oss_no_sinks), SETUP(oss_sinks_shape), SETUP(oss_blocks_shape), SETUP(oss_scales_dtype),
    SETUP(oss_gate_up_orientation), SETUP(oss_no_router_bias), SETUP(oss_quant_unknown),
    SETUP(oss_mxfp4_config_bf16_files), SETUP(oss_limit_negative), SETUP(oss_layer_types_short),
    {NULL, NULL},
};
