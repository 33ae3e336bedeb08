/* tests/test_badinput.c — the bad-input catalogue (issue 8): every case runs one
 * command in-process on a crafted input and asserts exit status 2, exactly one line
 * on stderr that contains the expected text (the file or option, and the problem),
 * nothing on the destination path, and no crash.
 *
 * Valid inputs are made once per suite: `synth --preset tiny` (a checkpoint), a
 * real `run` of it (a run file), a byte-level tokenizer (tok_hand); each case
 * copies what it needs into its own directory and breaks it there.
 * In argv, "@D" stands for the case's directory, "@M" for the valid checkpoint and
 * "@R" for the valid run file. */
#include <CUnit/CUnit.h>
#include <hdf5.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_runmaker.h"
#include "test_tokenizer_util.h"
#include "test_util.h"

static char g_model[512], g_run[512], g_tok[512];

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
    CU_ASSERT_EQUAL(sh("cp '%s'/config.json '%s'/", g_model, dir), 0);
    CU_ASSERT_EQUAL(sh("cp '%s'/model.safetensors '%s'/", g_model, dir), 0);
}

/* Rewrite dir/model.safetensors with its header passed through edit (data region kept). */
static void edit_header(const char *dir, void (*edit)(json_t *h))
{
    size_t n = 0;
    char p[1024];
    snprintf(p, sizeof p, "%s/model.safetensors", g_model);
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

/* Rewrite dir/config.json passed through edit. */
static void edit_config(const char *dir, void (*edit)(json_t *c))
{
    char p[1024];
    snprintf(p, sizeof p, "%s/config.json", g_model);
    json_t *c = json_load_file(p, 0, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    edit(c);
    snprintf(p, sizeof p, "%s/config.json", dir);
    CU_ASSERT_EQUAL(json_dump_file(c, p, JSON_INDENT(2)), 0);
    json_decref(c);
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

/* ---- config breakers ---------------------------------------------------------- */

static void c_no_layers(json_t *c) { json_object_del(c, "num_hidden_layers"); }
static void c_heads_string(json_t *c) { json_object_set_new(c, "num_attention_heads", json_string("four")); }
static void c_model_type(json_t *c) { json_object_set_new(c, "model_type", json_string("gpt_neox")); }
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
CONFIG_SETUP(cfg_kv_not_divisor, c_kv_3)
CONFIG_SETUP(cfg_fractional, c_layers_float)
CONFIG_SETUP(cfg_layers_huge, c_layers_huge)
CONFIG_SETUP(cfg_yarn_factor_0, c_yarn_factor_0)
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
    snprintf(p, sizeof p, "%s/tokenizer.json", g_tok);
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
    CU_ASSERT_EQUAL(sh("cp '%s'/tokenizer.json '%s'/", g_tok, d), 0);
}
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
    CU_ASSERT_EQUAL(sh("cp '%s' '%s'/run.h5", g_run, d), 0);
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
    CU_ASSERT_EQUAL(sh("cp '%s' '%s'/good.h5", g_run, d), 0);
}
static void run_existing_out(const char *d)
{
    run_copy(d);
    put_text(d, "out.h5", "precious");
}
static void nothing(const char *d) { (void)d; }

/* ---- the catalogue ----------------------------------------------------------- */

struct bad_case {
    const char *name;
    void (*setup)(const char *dir);
    const char *argv[16];      /* NULL-terminated */
    const char *expect[3];     /* substrings of the one stderr line (NULL-terminated) */
    const char *out;           /* file (under @D) that must not exist afterwards, or NULL */
};

#define RUN_IDS(...) {"run", "-m", "@D", "--token-ids", "1,2,3", "-o", "@D/out.h5", "--quiet", __VA_ARGS__ NULL}

static const struct bad_case checkpoint_cases[] = {
    {"truncated safetensors", st_truncated, RUN_IDS(), {"@D/model.safetensors", "truncated"}, "out.h5"},
    {"safetensors shorter than its length prefix", st_tiny_file, RUN_IDS(), {"@D/model.safetensors"}, "out.h5"},
    {"header too long", st_header_too_long, RUN_IDS(), {"@D/model.safetensors", "header length 200000000"}, "out.h5"},
    {"header not an object", st_header_not_object, RUN_IDS(), {"@D/model.safetensors", "header"}, "out.h5"},
    {"overlapping offsets", st_overlap, RUN_IDS(), {"@D/model.safetensors", NORM0, "overlap"}, "out.h5"},
    {"out-of-range offsets", st_out_of_range, RUN_IDS(), {"@D/model.safetensors", "model.norm.weight"}, "out.h5"},
    {"reversed offsets", st_reversed, RUN_IDS(), {"@D/model.safetensors", EMBED}, "out.h5"},
    {"wrong byte size", st_byte_size, RUN_IDS(), {"@D/model.safetensors", EMBED, "needs"}, "out.h5"},
    {"unsupported dtype", st_dtype_unsupported, RUN_IDS(), {"@D/model.safetensors", "I16"}, "out.h5"},
    {"unknown dtype", st_dtype_unknown, RUN_IDS(), {"@D/model.safetensors", "Q4"}, "out.h5"},
    {"missing tensor", st_missing_tensor, RUN_IDS(), {UP0, "missing"}, "out.h5"},
    {"shape disagrees with config", st_shape_vs_config, RUN_IDS(), {EMBED, "config.json implies"}, "out.h5"},
    {"no weights file", st_no_weights, RUN_IDS(), {"@D", "no model.safetensors"}, "out.h5"},
    {"missing shard", st_missing_shard, RUN_IDS(), {"model-00002-of-00002.safetensors", "cannot open"}, "out.h5"},
    {"shard path leaves the checkpoint", st_shard_traversal, RUN_IDS(), {"model.safetensors.index.json"}, "out.h5"},
    {"info on truncated safetensors", st_truncated, {"info", "-m", "@D", NULL}, {"@D/model.safetensors", "truncated"}, NULL},
};

static const struct bad_case config_cases[] = {
    {"config missing field", cfg_missing_field, RUN_IDS(), {"@D/config.json", "num_hidden_layers", "missing"}, "out.h5"},
    {"config mistyped field", cfg_mistyped_field, RUN_IDS(), {"@D/config.json", "num_attention_heads", "integer"}, "out.h5"},
    {"config unknown model_type", cfg_unknown_type, RUN_IDS(), {"@D/config.json", "gpt_neox"}, "out.h5"},
    {"config not JSON", cfg_not_json, RUN_IDS(), {"@D/config.json", "JSON"}, "out.h5"},
    {"config zero heads", cfg_zero_heads, RUN_IDS(), {"@D/config.json", "num_attention_heads"}, "out.h5"},
    {"config kv heads not a divisor", cfg_kv_not_divisor, RUN_IDS(), {"@D/config.json", "num_key_value_heads"}, "out.h5"},
    {"config fractional layers", cfg_fractional, RUN_IDS(), {"@D/config.json", "num_hidden_layers"}, "out.h5"},
    {"config missing", cfg_missing, RUN_IDS(), {"@D/config.json"}, "out.h5"},
    {"config with more layers than tensors", cfg_layers_huge, RUN_IDS(), {"model.layers.9999999.", "missing"}, "out.h5"},
    {"config yarn factor 0", cfg_yarn_factor_0, RUN_IDS(), {"@D/config.json", "factor", "positive"}, "out.h5"},
    {"info on unknown model_type", cfg_unknown_type, {"info", "-m", "@D", NULL}, {"@D/config.json", "gpt_neox"}, NULL},
};

#define TOKENIZE(...) {"tokenize", "-m", "@D/tokenizer.json", "-p", "hello", __VA_ARGS__ NULL}
static const struct bad_case tokenizer_cases[] = {
    {"tokenizer unknown model type", tok_wordpiece, TOKENIZE(), {"@D/tokenizer.json", "WordPiece"}, NULL},
    {"tokenizer missing vocab", tok_no_vocab, TOKENIZE(), {"@D/tokenizer.json", "vocab"}, NULL},
    {"tokenizer merge names unknown token", tok_bad_merge, TOKENIZE(), {"@D/tokenizer.json", "zzz"}, NULL},
    {"tokenizer unsupported pre_tokenizer", tok_bad_pretok, TOKENIZE(), {"@D/tokenizer.json", "Whitespace"}, NULL},
    {"tokenizer not JSON", tok_not_json, TOKENIZE(), {"@D/tokenizer.json"}, NULL},
    {"run with tokenizer missing vocab", tok_no_vocab_model,
     {"run", "-m", "@D", "-p", "hi", "-o", "@D/out.h5", NULL}, {"@D/tokenizer.json", "vocab"}, "out.h5"},
};

static const struct bad_case prompt_cases[] = {
    {"prompt invalid UTF-8 (run -f)", prompt_bad_utf8,
     {"run", "-m", "@D", "-f", "@D/prompt.txt", "-o", "@D/out.h5", "--quiet", NULL},
     {"@D/prompt.txt", "byte offset 9"}, "out.h5"},
    {"prompt invalid UTF-8 (tokenize -f)", prompt_bad_utf8,
     {"tokenize", "-m", "@D", "-f", "@D/prompt.txt", NULL}, {"@D/prompt.txt", "byte offset 9"}, NULL},
    {"prompt invalid UTF-8 (run -p)", with_tokenizer,
     {"run", "-m", "@D", "-p", "ab\xe2\x82", "-o", "@D/out.h5", "--quiet", NULL}, {"byte offset 2"}, "out.h5"},
    {"prompt empty (-f)", prompt_empty,
     {"run", "-m", "@D", "-f", "@D/prompt.txt", "-o", "@D/out.h5", "--quiet", NULL}, {"empty"}, "out.h5"},
    {"prompt empty (-p)", with_tokenizer,
     {"run", "-m", "@D", "-p", "", "-o", "@D/out.h5", "--quiet", NULL}, {"empty"}, "out.h5"},
    {"prompt longer than the context", prompt_long,
     {"run", "-m", "@D", "-f", "@D/prompt.txt", "-c", "8", "-o", "@D/out.h5", "--quiet", NULL}, {"8"}, "out.h5"},
    {"prompt file missing", with_tokenizer,
     {"run", "-m", "@D", "-f", "@D/nope.txt", "-o", "@D/out.h5", "--quiet", NULL}, {"@D/nope.txt"}, "out.h5"},
    {"token id out of range", nothing,
     {"run", "-m", "@M", "--token-ids", "1,2,512", "-o", "@D/out.h5", "--quiet", NULL}, {"--token-ids", "512"}, "out.h5"},
    {"token id negative", nothing,
     {"run", "-m", "@M", "--token-ids", "1,-2", "-o", "@D/out.h5", "--quiet", NULL}, {"--token-ids"}, "out.h5"},
    {"token ids not numbers (@FILE)", ids_file_bad,
     {"run", "-m", "@M", "--token-ids", "@@D/ids.txt", "-o", "@D/out.h5", "--quiet", NULL}, {"three"}, "out.h5"},
    {"prompt without a tokenizer", nothing,
     {"run", "-m", "@M", "-p", "hi", "-o", "@D/out.h5", "--quiet", NULL}, {"tokenizer.json"}, "out.h5"},
};

static const struct bad_case runfile_cases[] = {
    {"summary: truncated run file", run_truncated, {"summary", "@D/run.h5", NULL}, {"@D/run.h5"}, NULL},
    {"summary: not HDF5", run_not_hdf5, {"summary", "@D/run.h5", NULL}, {"@D/run.h5"}, NULL},
    {"summary: empty file", run_zero_bytes, {"summary", "@D/run.h5", NULL}, {"@D/run.h5"}, NULL},
    {"summary: missing file", nothing, {"summary", "@D/none.h5", NULL}, {"@D/none.h5"}, NULL},
    {"summary: wrong schema", run_schema_other, {"summary", "@D/run.h5", NULL}, {"@D/run.h5", "otherformat/1"}, NULL},
    {"summary: newer schema", run_schema_newer, {"summary", "@D/run.h5", NULL}, {"@D/run.h5", "sinkscope/2"}, NULL},
    {"summary: missing /summary dataset", run_missing_summary, {"summary", "@D/run.h5", NULL},
     {"@D/run.h5", "/summary/first_token_share"}, NULL},
    {"summary: missing /stats dataset", run_missing_stats, {"summary", "@D/run.h5", "--per-head", NULL},
     {"@D/run.h5", "/stats/first_token_share"}, NULL},
    {"summary: wrong shape", run_wrong_shape, {"summary", "@D/run.h5", "--per-head", NULL},
     {"@D/run.h5", "/stats/first_token_share"}, NULL},
    {"compare: one truncated", run_pair_truncated, {"compare", "@D/good.h5", "@D/run.h5", NULL}, {"@D/run.h5"}, NULL},
    {"compare: wrong shape", run_wrong_shape, {"compare", "@R", "@D/run.h5", NULL},
     {"@D/run.h5", "/stats/first_token_share"}, NULL},
    {"audit: missing dataset", run_missing_stats,
     {"audit", "@D/run.h5", "--max-first-token-share", "0.5", NULL}, {"@D/run.h5", "first_token_share"}, NULL},
    {"audit: newer schema", run_schema_newer,
     {"audit", "@D/run.h5", "--max-first-token-share", "0.5", NULL}, {"@D/run.h5", "sinkscope/2"}, NULL},
    {"plot: truncated run file", run_truncated,
     {"plot", "first-token", "@D/run.h5", "-o", "@D/out.png", NULL}, {"@D/run.h5"}, "out.png"},
    {"plot: wrong schema", run_schema_other,
     {"plot", "first-token", "@D/run.h5", "-o", "@D/out.png", NULL}, {"@D/run.h5"}, "out.png"},
    {"plot: attention map without dumps", run_copy,
     {"plot", "attention-map", "@D/run.h5", "-o", "@D/out.png", NULL}, {"@D/run.h5", "--dump attention"}, "out.png"},
    {"plot: gate histogram of an ungated run", run_copy,
     {"plot", "gate-hist", "@D/run.h5", "-o", "@D/out.png", NULL}, {"@D/run.h5"}, "out.png"},
};

static const struct bad_case cli_cases[] = {
    {"unknown command", nothing, {"frobnicate", NULL}, {"unknown command 'frobnicate'"}, NULL},
    {"run: empty output name", nothing, {"run", "-m", "@M", "--token-ids", "1,2", "-o", "", NULL}, {"-o", "empty"}, NULL},
    {"run: unknown option", nothing, RUN_IDS("--bogus", ), {"--bogus"}, "out.h5"},
    {"run: missing value", nothing, {"run", "-m", "@M", "--token-ids", "1,2", "-o", NULL}, {"-o"}, NULL},
    {"run: bad layer list", nothing,
     {"run", "-m", "@M", "--token-ids", "1,2", "-o", "@D/out.h5", "--dump", "attention", "--layers", "0,x", NULL},
     {"--layers", "0,x"}, "out.h5"},
    {"run: layer out of range", nothing,
     {"run", "-m", "@M", "--token-ids", "1,2", "-o", "@D/out.h5", "--dump", "attention", "--layers", "7", NULL},
     {"--layers", "7"}, "out.h5"},
    {"run: contradicting inputs", nothing,
     {"run", "-m", "@M", "--token-ids", "1,2", "-p", "hi", "-o", "@D/out.h5", NULL}, {"--token-ids", "-p"}, "out.h5"},
    {"run: --layers without --dump", nothing,
     {"run", "-m", "@M", "--token-ids", "1,2", "--layers", "0", "-o", "@D/out.h5", NULL}, {"--layers", "--dump"}, "out.h5"},
    {"run: --stride without --corpus", nothing,
     {"run", "-m", "@M", "--token-ids", "1,2", "--stride", "4", "-o", "@D/out.h5", NULL}, {"--stride"}, "out.h5"},
    {"run: bad dump kind", nothing,
     {"run", "-m", "@M", "--token-ids", "1,2", "--dump", "attention,bogus", "-o", "@D/out.h5", NULL}, {"bogus"}, "out.h5"},
    {"run: bad gate mode", nothing,
     {"run", "-m", "@M", "--token-ids", "1,2", "--gate", "constant=x", "-o", "@D/out.h5", NULL}, {"constant=x"}, "out.h5"},
    {"run: bad thread count", nothing,
     {"run", "-m", "@M", "--token-ids", "1,2", "-t", "0", "-o", "@D/out.h5", NULL}, {"-t"}, "out.h5"},
    {"run: output exists without --force", run_existing_out,
     {"run", "-m", "@M", "--token-ids", "1,2", "-o", "@D/out.h5", "--quiet", NULL}, {"@D/out.h5", "--force"}, NULL},
    {"run: output directory is a file", run_copy,
     {"run", "-m", "@M", "--token-ids", "1,2", "-o", "@D/run.h5/out.h5", "--quiet", NULL}, {"@D/run.h5/out.h5"}, NULL},
    {"summary: unknown format", nothing, {"summary", "@R", "--format", "xml", NULL}, {"xml"}, NULL},
    {"audit: bad layer list", nothing,
     {"audit", "@R", "--max-first-token-share", "0.5", "--layers", "1-x", NULL}, {"1-x"}, NULL},
    {"audit: no limit given", nothing, {"audit", "@R", NULL}, {"--max"}, NULL},
    {"audit: limit not a number", nothing, {"audit", "@R", "--max-first-token-share", "lots", NULL}, {"lots"}, NULL},
    {"plot: unknown kind", nothing, {"plot", "pie", "@R", "-o", "@D/out.png", NULL}, {"pie"}, "out.png"},
    {"plot: unknown output type", nothing, {"plot", "first-token", "@R", "-o", "@D/out.bmp", NULL}, {"out.bmp"}, "out.bmp"},
    {"compare: one run only", nothing, {"compare", "@R", NULL}, {"compare"}, NULL},
    {"synth: unknown preset", nothing, {"synth", "-o", "@D/m", "--preset", "huge", NULL}, {"huge"}, "m"},
};

/* Replace @D, @M, @R in s; returns a static buffer from a ring. */
static const char *subst(const char *s, const char *dir)
{
    static char ring[16][1200];
    static int k;
    char *o = ring[k++ % 16];
    size_t n = 0;
    for (const char *p = s; *p && n < 1100; p++) {
        const char *rep = NULL;
        if (p[0] == '@' && (p[1] == 'D' || p[1] == 'M' || p[1] == 'R'))
            rep = p[1] == 'D' ? dir : p[1] == 'M' ? g_model : g_run;
        if (rep) {
            n += (size_t)snprintf(o + n, 1200 - n, "%s", rep);
            p++;
        } else {
            o[n++] = *p;
        }
    }
    o[n] = 0;
    return o;
}

static int n_cases_run;
static int base_make(void);

static int base_ready(void)
{
    static int base = -1;
    if (base < 0)
        base = base_make();
    return base;
}

static void run_case(const struct bad_case *c)
{
    CU_ASSERT_EQUAL_FATAL(base_ready(), 0);
    char tag[64];
    snprintf(tag, sizeof tag, "bad-%d", n_cases_run++);
    const char *dir = test_tmpdir(tag);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
    c->setup(dir);
    const char *a[16] = {0};
    for (int i = 0; i < 15 && c->argv[i]; i++)
        a[i] = subst(c->argv[i], dir);
    static char out[8192], err[8192];
    int rc = test_cli(out, sizeof out, err, sizeof err, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8],
                      a[9], a[10], a[11], a[12], a[13], a[14], NULL);
    int ok = rc == 2 && test_count_lines(err) == 1;
    for (int i = 0; i < 3 && c->expect[i]; i++)
        ok &= strstr(err, subst(c->expect[i], dir)) != NULL;
    char outp[1300];
    if (c->out) {
        snprintf(outp, sizeof outp, "%s/%s", dir, c->out);
        if (access(outp, F_OK) == 0) {
            printf("\n    %s: %s exists after the failure", c->name, outp);
            ok = 0;
        }
    }
    /* no temporary file left beside the destination either */
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "ls -a '%s' | grep -q -e '\\.tmp' -e '\\.partial'", dir);
    if (system(cmd) == 0) {
        printf("\n    %s: a temporary file is left in %s", c->name, dir);
        ok = 0;
    }
    if (!ok) {
        printf("\n    FAILED case '%s': exit %d, stderr (%d lines): %s    expected:", c->name, rc,
               test_count_lines(err), err);
        for (int i = 0; i < 3 && c->expect[i]; i++)
            printf(" '%s'", subst(c->expect[i], dir));
    }
    CU_ASSERT(ok);
}

#define RUN_TABLE(fn, table)                                                   \
    static void fn(void)                                                       \
    {                                                                          \
        for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)            \
            run_case(&table[i]);                                               \
    }
RUN_TABLE(test_checkpoints, checkpoint_cases)
RUN_TABLE(test_configs, config_cases)
RUN_TABLE(test_tokenizers, tokenizer_cases)
RUN_TABLE(test_prompts, prompt_cases)
RUN_TABLE(test_runfiles, runfile_cases)
RUN_TABLE(test_cli_options, cli_cases)

/* An existing output is left byte for byte as it was. */
static void test_existing_output_untouched(void)
{
    CU_ASSERT_EQUAL_FATAL(base_ready(), 0);
    const char *dir = test_tmpdir("bad-keep");
    put_text(dir, "out.h5", "precious");
    char o[1024];
    snprintf(o, sizeof o, "%s/out.h5", dir);
    int rc = test_cli(NULL, 0, NULL, 0, "run", "-m", g_model, "--token-ids", "1,2", "-o", o, "--quiet", NULL);
    CU_ASSERT_EQUAL(rc, 2);
    size_t n = 0;
    char *s = test_read_file(o, &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_STRING_EQUAL(s, "precious");
    free(s);
}

/* Count the catalogue: the issue asks for at least 30 cases. */
static void test_catalogue_size(void)
{
    size_t n = sizeof checkpoint_cases / sizeof checkpoint_cases[0] + sizeof config_cases / sizeof config_cases[0] +
               sizeof tokenizer_cases / sizeof tokenizer_cases[0] + sizeof prompt_cases / sizeof prompt_cases[0] +
               sizeof runfile_cases / sizeof runfile_cases[0] + sizeof cli_cases / sizeof cli_cases[0];
    printf("\n    %zu bad-input cases", n);
    CU_ASSERT(n >= 30);
}

/* The valid inputs every case starts from, made by the first test that needs them
 * (tok_hand reports through CUnit, so not in the suite's init); 0 when ready. */
static int base_make(void)
{
    const char *d = test_tmpdir("bad-base");
    if (!d)
        return 1;
    snprintf(g_model, sizeof g_model, "%s/tiny", d);
    snprintf(g_run, sizeof g_run, "%s/tiny.h5", d);
    if (test_cli(NULL, 0, NULL, 0, "synth", "-o", g_model, "--preset", "tiny", NULL) != 0)
        return 1;
    if (test_cli(NULL, 0, NULL, 0, "run", "-m", g_model, "--token-ids", "1,2,3,4,5,6,7,8", "-o", g_run, "--quiet",
                 NULL) != 0)
        return 1;
    /* a byte-level tokenizer (ids 0..255 = bytes) with two merges and a special token */
    const char *t = tok_hand("bad-tok", "{\"ab\": 256, \"cd\": 257}", "[\"a b\", \"c d\"]",
                             "[{\"id\": 300, \"content\": \"<s>\", \"special\": true}]", NULL, NULL, NULL, NULL);
    if (!t)
        return 1;
    snprintf(g_tok, sizeof g_tok, "%s", t);
    return 0;
}

SS_SUITE(badinput)
{
    CU_pSuite s = CU_add_suite("badinput", NULL, NULL);
    CU_add_test(s, "catalogue has >= 30 cases", test_catalogue_size);
    CU_add_test(s, "malformed checkpoints", test_checkpoints);
    CU_add_test(s, "malformed configs", test_configs);
    CU_add_test(s, "malformed tokenizers", test_tokenizers);
    CU_add_test(s, "bad prompts and token ids", test_prompts);
    CU_add_test(s, "bad run files (summary, compare, audit, plot)", test_runfiles);
    CU_add_test(s, "bad command lines", test_cli_options);
    CU_add_test(s, "existing output untouched without --force", test_existing_output_untouched);
}
