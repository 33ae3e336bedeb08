/* tests/test_synth.c — synth round trip through our own loader, the synth/info
 * commands, and bad checkpoints (missing, misshapen, unexpected, unsupported,
 * non-finite tensors; shards) built by rewriting a synth checkpoint. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../model/model.h"
#include "../model/safetensors.h"
#include "../model/synth.h"
#include "test_util.h"

/* ---- a minimal safetensors writer for crafted variants ------------------------ */

struct entry {
    char name[96];
    char dtype[16];
    int ndim;
    int64_t shape[2];
    const void *data;
    size_t bytes;
};

static void write_entries(const char *path, const struct entry *e, int n)
{
    char *h = malloc(1 << 20);
    size_t k = 0;
    uint64_t off = 0;
    k += sprintf(h + k, "{");
    for (int i = 0; i < n; i++) {
        k += sprintf(h + k, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[", i ? "," : "", e[i].name, e[i].dtype);
        for (int d = 0; d < e[i].ndim; d++)
            k += sprintf(h + k, d ? ",%lld" : "%lld", (long long)e[i].shape[d]);
        k += sprintf(h + k, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                     (unsigned long long)(off + e[i].bytes));
        off += e[i].bytes;
    }
    k += sprintf(h + k, "}");
    while (k % 8)
        h[k++] = ' ';
    FILE *f = fopen(path, "wb");
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)((uint64_t)k >> (8 * i));
    fwrite(b, 1, 8, f);
    fwrite(h, 1, k, f);
    for (int i = 0; i < n; i++)
        fwrite(e[i].data, 1, e[i].bytes, f);
    fclose(f);
    free(h);
}

/* Entries of every tensor of src (data pointing into a copy owned by *blob). */
static int entries_of(const struct st_set *s, struct entry *e, char **blob)
{
    size_t tot = 0;
    for (int i = 0; i < s->n_tensors; i++)
        tot += s->tensors[i].end - s->tensors[i].begin;
    char *p = *blob = malloc(tot + 1);
    for (int i = 0; i < s->n_tensors; i++) {
        const struct st_tensor *t = &s->tensors[i];
        snprintf(e[i].name, sizeof e[i].name, "%s", t->name);
        snprintf(e[i].dtype, sizeof e[i].dtype, "%s", t->dtype_name);
        e[i].ndim = t->ndim;
        e[i].shape[0] = t->shape[0];
        e[i].shape[1] = t->ndim > 1 ? t->shape[1] : 0;
        e[i].bytes = t->end - t->begin;
        st_read_raw(s, t, p);
        e[i].data = p;
        p += e[i].bytes;
    }
    return s->n_tensors;
}

static int entry_find(struct entry *e, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(e[i].name, name))
            return i;
    return -1;
}

static void copy_file(const char *from, const char *to)
{
    char cmd[1500];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, to);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

static const char *synth_tiny(const char *tag, const char *dtype, const char *gate)
{
    const char *d = test_tmpdir(tag);
    static char dirs[16][600];
    static int k;
    char *dir = dirs[k++ % 16];
    snprintf(dir, 600, "%s/ck", d);
    char err[2048];
    int rc = test_cli(NULL, 0, err, sizeof err, "synth", "-o", dir, "--preset", "tiny", "--dtype", dtype, "--gate", gate,
                      "--seed", "5", NULL);
    CU_ASSERT_EQUAL(rc, 0);
    if (rc)
        printf("  synth failed: %s\n", err);
    return dir;
}

/* ---- round trip ----------------------------------------------------------------- */

static double stats_of(const float *x, size_t n, double *sd)
{
    double m = 0, v = 0;
    for (size_t i = 0; i < n; i++)
        m += x[i];
    m /= n;
    for (size_t i = 0; i < n; i++)
        v += (x[i] - m) * (x[i] - m);
    *sd = sqrt(v / n);
    return m;
}

/* stats_of over a weight matrix read as float32 */
static double weight_stats(const struct weight *w, double *sd)
{
    float *x = malloc((size_t)w->rows * w->cols * 4);
    weight_rows_f32(w, 0, w->rows, x);
    double m = stats_of(x, (size_t)w->rows * w->cols, sd);
    free(x);
    return m;
}

static int weights_same(const struct weight *a, const struct weight *b)
{
    if (a->rows != b->rows || a->cols != b->cols)
        return 0;
    size_t n = (size_t)a->rows * a->cols;
    float *x = malloc(n * 4), *y = malloc(n * 4);
    weight_rows_f32(a, 0, a->rows, x);
    weight_rows_f32(b, 0, b->rows, y);
    int same = !memcmp(x, y, n * 4);
    free(x), free(y);
    return same;
}

/* Every tensor of a equals b's, bit for bit (models of one config). */
static int models_same(const struct model *a, const struct model *b)
{
    const struct model_config *c = &a->cfg;
    int same = weights_same(&a->w.embed, &b->w.embed) && weights_same(&a->w.lm_head, &b->w.lm_head) &&
               !memcmp(a->w.final_norm, b->w.final_norm, c->hidden * 4);
    for (int l = 0; l < c->n_layers && same; l++) {
        const struct layer_weights *x = &a->w.layers[l], *y = &b->w.layers[l];
        same = weights_same(&x->wq, &y->wq) && weights_same(&x->wk, &y->wk) && weights_same(&x->wv, &y->wv) &&
               weights_same(&x->wo, &y->wo) && weights_same(&x->w_gate, &y->w_gate) &&
               weights_same(&x->w_up, &y->w_up) && weights_same(&x->w_down, &y->w_down) &&
               !memcmp(x->attn_norm, y->attn_norm, c->hidden * 4) && !memcmp(x->ffn_norm, y->ffn_norm, c->hidden * 4);
    }
    return same;
}

static void test_round_trip(void)
{
    const char *d32 = synth_tiny("synth-f32", "f32", "headwise"), *d16 = synth_tiny("synth-bf16", "bf16", "headwise");
    struct model a, b;
    struct ss_error e = {0};
    CU_ASSERT_EQUAL_FATAL(model_load(&a, d32, &e), SS_OK);
    CU_ASSERT_EQUAL_FATAL(model_load(&b, d16, &e), SS_OK);
    CU_ASSERT_EQUAL(a.n_params, model_config_n_params(&a.cfg));
    CU_ASSERT(a.cfg.gate == GATE_KIND_HEADWISE && a.cfg.tied && !strcmp(a.cfg.dtype, "f32") && !strcmp(b.cfg.dtype, "bf16"));
    /* the header is padded to 8 and the offsets follow the header order */
    char p[700];
    snprintf(p, sizeof p, "%s/model.safetensors", d32);
    struct st_set s;
    CU_ASSERT_EQUAL_FATAL(st_open_file(&s, p, &e), SS_OK);
    CU_ASSERT_EQUAL(s.files[0].data_off % 8, 0);
    int sorted = 1;
    for (int i = 1; i < s.n_tensors; i++)
        sorted &= s.tensors[i].begin == s.tensors[i - 1].end;
    CU_ASSERT(sorted);
    st_close(&s);
    /* same seed: the bf16 file holds the f32 values rounded to bf16 */
    size_t bad = 0, seen = 0;
    struct st_set s16;
    snprintf(p, sizeof p, "%s/model.safetensors", d16);
    CU_ASSERT_EQUAL_FATAL(st_open_file(&s16, p, &e), SS_OK);
    CU_ASSERT_EQUAL_FATAL(st_open_file(&s, strcat(strcpy(p, d32), "/model.safetensors"), &e), SS_OK);
    for (int i = 0; i < s.n_tensors; i++) {
        const struct st_tensor *ta = &s.tensors[i], *tb = st_find(&s16, ta->name);
        CU_ASSERT_FATAL(tb && st_numel(tb) == st_numel(ta));
        size_t n = st_numel(ta);
        float *fa = malloc(n * 4), *fb = malloc(n * 4);
        CU_ASSERT_EQUAL(st_read_f32(&s, ta, fa, NULL, &e) | st_read_f32(&s16, tb, fb, NULL, &e), SS_OK);
        for (size_t j = 0; j < n; j++)
            bad += st_bf16_to_f32(st_f32_to_bf16(fa[j])) != fb[j];
        seen += n;
        free(fa), free(fb);
    }
    st_close(&s), st_close(&s16);
    printf("  bf16 vs rounded f32 values differing: %zu of %zu\n", bad, seen);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(seen, a.n_params);
    /* the scales of synth.c: norms ~1, q_proj sd 2/sqrt(in), down_proj sd 1/sqrt(ffn) */
    double sd, mq = weight_stats(&a.w.layers[0].wq, &sd);
    printf("  q_proj mean %.4f sd %.4f (want 0, %.4f)\n", mq, sd, 2 / sqrt(a.cfg.hidden));
    CU_ASSERT(fabs(mq) < 0.01 && fabs(sd - 2 / sqrt(a.cfg.hidden)) < 0.05 * 2 / sqrt(a.cfg.hidden));
    double mn = stats_of(a.w.layers[1].attn_norm, a.cfg.hidden, &sd);
    CU_ASSERT(fabs(mn - 1) < 0.05);
    weight_stats(&a.w.layers[1].w_down, &sd);
    CU_ASSERT(fabs(sd - 1 / sqrt(a.cfg.ffn)) < 0.05 / sqrt(a.cfg.ffn));
    model_free(&b);
    /* attention is far from uniform: the peak probability of the last query exceeds 4/T */
    int T = 64;
    int32_t tok[64];
    for (int t = 0; t < T; t++)
        tok[t] = (t * 31 + 7) % a.cfg.vocab;
    struct run_state *rs;
    CU_ASSERT_EQUAL_FATAL(run_state_new(&rs, &a.cfg, T, NULL, &e), SS_OK);
    CU_ASSERT_EQUAL(model_forward(&a, rs, tok, T, NULL, NULL, &e), SS_OK);
    run_state_free(rs);
    model_free(&a);
}

static int peak_hook(void *u, const struct hook_event *ev, struct ss_error *er)
{
    (void)er;
    if (ev->q0 + ev->shape[0] != ev->T)
        return 0;
    const float *r = ev->data + (ev->shape[0] - 1) * ev->shape[1];
    double mx = 0;
    for (int j = 0; j < ev->shape[1]; j++)
        mx = fmax(mx, r[j]);
    *(double *)u += mx / 8; /* 2 layers x 4 heads */
    return 0;
}

static void test_peaked_attention(void)
{
    struct synth_opts so = {.preset = "tiny", .gate = -1, .bf16 = 0, .seed = 9};
    const char *d = test_tmpdir("synth-peak");
    char dir[600];
    snprintf(dir, sizeof dir, "%s/ck", d);
    struct ss_error e = {0};
    CU_ASSERT_EQUAL_FATAL(synth_write(dir, &so, &e), SS_OK);
    struct model m;
    CU_ASSERT_EQUAL_FATAL(model_load(&m, dir, &e), SS_OK);
    int T = 64;
    int32_t tok[64];
    for (int t = 0; t < T; t++)
        tok[t] = (t * 31 + 7) % m.cfg.vocab;
    struct run_state *rs;
    CU_ASSERT_EQUAL_FATAL(run_state_new(&rs, &m.cfg, T, NULL, &e), SS_OK);
    double peak = 0;
    struct hook_set hs;
    hook_set_init(&hs);
    hook_set_add(&hs, "attn_probs", peak_hook, &peak, &e);
    CU_ASSERT_EQUAL(model_forward(&m, rs, tok, T, &hs, NULL, &e), SS_OK);
    printf("  mean over heads/layers of the last query's peak probability: %.3f (uniform: %.3f)\n", peak, 1.0 / T);
    CU_ASSERT(peak > 4.0 / T);
    run_state_free(rs);
    model_free(&m);
}

/* ---- commands ----------------------------------------------------------------- */

static void test_commands(void)
{
    const char *dir = synth_tiny("synth-cli", "bf16", "elementwise");
    char out[8192], err[2048];
    int rc = test_cli(NULL, 0, err, sizeof err, "synth", "-o", dir, "--preset", "tiny", NULL);
    printf("  second synth into the same directory: rc %d, %s", rc, err);
    CU_ASSERT_EQUAL(rc, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "not empty"));
    CU_ASSERT_EQUAL(test_count_lines(err), 1);
    rc = test_cli(out, sizeof out, err, sizeof err, "info", "-m", dir, "-c", "4096", NULL);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "elementwise"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "q_proj layout  256 rows = 2 KV groups x P = 128"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "BF16"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "4096 positions"));
    rc = test_cli(NULL, 0, err, sizeof err, "synth", "-o", "tests/out/x-preset", "--preset", "huge", NULL);
    CU_ASSERT_EQUAL(rc, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown preset 'huge'"));
    CU_ASSERT_EQUAL(access("tests/out/x-preset/config.json", F_OK), -1);
    rc = test_cli(NULL, 0, err, sizeof err, "info", "-m", "tests/out/no-such-checkpoint", NULL);
    CU_ASSERT_EQUAL(rc, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "tests/out/no-such-checkpoint/config.json"));
    /* presets: exact shapes of the real models */
    struct model_config c;
    struct ss_error e = {0};
    struct synth_opts so = {.preset = "gated-1b", .gate = GATE_KIND_ELEMENTWISE};
    CU_ASSERT_EQUAL(synth_config(&c, &so, &e), SS_OK);
    CU_ASSERT(c.ffn == 5504 && model_config_q_out(&c) == 4096 && c.vocab == 152064 && c.n_layers == 28);
    so.gate = -1;
    CU_ASSERT_EQUAL(synth_config(&c, &so, &e), SS_OK);
    CU_ASSERT(c.gate == GATE_KIND_HEADWISE && c.ffn == 6144 && model_config_q_out(&c) == 2064);
    so.preset = "llama-3.2-1b";
    CU_ASSERT_EQUAL(synth_config(&c, &so, &e), SS_OK);
    CU_ASSERT(c.n_layers == 16 && c.head_dim == 64 && c.n_heads == 32 && c.rope.type == ROPE_TYPE_LLAMA3 &&
              c.rope.factor == 32 && c.vocab == 128256);
    so.preset = "qwen3-0.6b", so.layers = 3;
    CU_ASSERT_EQUAL(synth_config(&c, &so, &e), SS_OK);
    CU_ASSERT(c.n_layers == 3 && c.hidden == 1024 && c.head_dim == 128 && c.vocab == 151936 && c.ffn == 3072);
    /* gpt-oss-20b: its config.json read back, 20.9 B parameters (MXFP4 blocks count two a byte) */
    so.preset = "gpt-oss-20b", so.layers = 0;
    CU_ASSERT_EQUAL(synth_config(&c, &so, &e), SS_OK);
    size_t np = model_config_n_params(&c);
    printf("  gpt-oss-20b: %zu parameters\n", np);
    CU_ASSERT(c.n_layers == 24 && c.hidden == 2880 && c.n_heads == 64 && c.n_kv_heads == 8 && c.head_dim == 64 &&
              c.v.n_experts == 32 && c.v.top_k == 4 && c.v.moe_ffn == 2880 && c.vocab == 201088 && c.window == 128 &&
              c.v.layer_sliding[0] && !c.v.layer_sliding[1] && c.v.attn_sinks && c.v.experts_mxfp4 &&
              c.v.glu_limit == 7 && c.rope.type == ROPE_TYPE_YARN && c.rope.factor == 32 &&
              c.rope.original_max_pos == 4096 && !c.rope.truncate && c.qkv_bias && c.o_bias);
    CU_ASSERT(np > 20.8e9 && np < 21.0e9);
}

/* ---- bad checkpoints ------------------------------------------------------------ */

struct variant {
    const char *dir;
    struct entry e[64];
    int n;
    char *blob;
};

static void variant_begin(struct variant *v, const char *src, const char *tag)
{
    const char *d = test_tmpdir(tag);
    v->dir = d;
    char p[700];
    snprintf(p, sizeof p, "%s/config.json", src);
    char q[700];
    snprintf(q, sizeof q, "%s/config.json", d);
    copy_file(p, q);
    snprintf(p, sizeof p, "%s/model.safetensors", src);
    struct st_set s;
    struct ss_error e = {0};
    CU_ASSERT_EQUAL_FATAL(st_open_file(&s, p, &e), SS_OK);
    v->n = entries_of(&s, v->e, &v->blob);
    st_close(&s);
}

static void variant_write(struct variant *v)
{
    char p[700];
    snprintf(p, sizeof p, "%s/model.safetensors", v->dir);
    write_entries(p, v->e, v->n);
}

static void expect_load_error(const char *dir, const char *n1, const char *n2)
{
    struct model m;
    struct ss_error e = {0};
    enum ss_status st = model_load(&m, dir, &e);
    printf("  -> %s\n", e.msg);
    CU_ASSERT_EQUAL(st, SS_ERR_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, n1));
    if (n2)
        CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, n2));
}

static void test_bad_checkpoints(void)
{
    const char *src = synth_tiny("synth-src", "f32", "none");
    struct variant v;
    int i;
    /* missing tensor */
    variant_begin(&v, src, "bad-missing");
    i = entry_find(v.e, v.n, "model.layers.1.mlp.up_proj.weight");
    v.e[i] = v.e[--v.n];
    variant_write(&v);
    expect_load_error(v.dir, v.dir, "'model.layers.1.mlp.up_proj.weight' is missing");
    free(v.blob);
    /* shape disagreeing with the config */
    variant_begin(&v, src, "bad-shape");
    i = entry_find(v.e, v.n, "model.norm.weight");
    v.e[i].shape[0] = 63, v.e[i].bytes = 63 * 4;
    variant_write(&v);
    expect_load_error(v.dir, "model.safetensors", "'model.norm.weight' has shape [63] but config.json implies [64]");
    free(v.blob);
    /* an unexpected tensor (a bias the config does not have) */
    variant_begin(&v, src, "bad-extra");
    i = entry_find(v.e, v.n, "model.norm.weight");
    v.e[v.n] = v.e[i];
    snprintf(v.e[v.n++].name, 96, "model.layers.0.self_attn.o_proj.bias");
    variant_write(&v);
    expect_load_error(v.dir, "model.safetensors", "unexpected tensor 'model.layers.0.self_attn.o_proj.bias'");
    free(v.blob);
    /* unsupported dtype */
    variant_begin(&v, src, "bad-dtype");
    i = entry_find(v.e, v.n, "model.norm.weight");
    strcpy(v.e[i].dtype, "I32");
    variant_write(&v);
    expect_load_error(v.dir, "model.safetensors", "'model.norm.weight': unsupported dtype I32");
    free(v.blob);
    /* NaN in a weight: loads, one warning, counted */
    variant_begin(&v, src, "nan");
    i = entry_find(v.e, v.n, "model.layers.0.mlp.down_proj.weight");
    float nan = NAN;
    memcpy((char *)v.e[i].data + 12, &nan, 4);
    variant_write(&v);
    struct model m;
    struct ss_error e = {0};
    CU_ASSERT_EQUAL(model_load(&m, v.dir, &e), SS_OK);
    CU_ASSERT_EQUAL(m.wlog->n_nonfinite, 0); /* matrices are read when used */
    struct run_state *rs;
    int32_t tok[3] = {1, 2, 3};
    struct forward_opts fo = {.threads = 2};
    CU_ASSERT_EQUAL_FATAL(run_state_new(&rs, &m.cfg, 3, &fo, &e), SS_OK);
    for (int pass = 0; pass < 2; pass++) /* warned once, not once per pass */
        CU_ASSERT_EQUAL(model_forward(&m, rs, tok, 3, NULL, &fo, &e), SS_OK);
    CU_ASSERT_EQUAL(m.wlog->n_nonfinite, 1);
    run_state_free(rs);
    model_free(&m);
    free(v.blob);
    /* lm_head present: untied */
    variant_begin(&v, src, "untied");
    i = entry_find(v.e, v.n, "model.embed_tokens.weight");
    v.e[v.n] = v.e[i];
    snprintf(v.e[v.n++].name, 96, "lm_head.weight");
    variant_write(&v);
    CU_ASSERT_EQUAL(model_load(&m, v.dir, &e), SS_OK);
    CU_ASSERT(!m.cfg.tied && m.w.lm_head.data != m.w.embed.data);
    model_free(&m);
    /* truncated file */
    char p[700], cmd[800];
    snprintf(p, sizeof p, "%s/model.safetensors", v.dir);
    snprintf(cmd, sizeof cmd, "truncate -s -100 '%s'", p);
    CU_ASSERT_EQUAL(system(cmd), 0);
    expect_load_error(v.dir, p, "truncated");
    free(v.blob);
    /* config that disagrees: one more layer than stored */
    variant_begin(&v, src, "bad-layers");
    variant_write(&v);
    snprintf(p, sizeof p, "%s/config.json", v.dir);
    snprintf(cmd, sizeof cmd, "sed -i 's/\"num_hidden_layers\": 2/\"num_hidden_layers\": 3/' '%s'", p);
    CU_ASSERT_EQUAL(system(cmd), 0);
    expect_load_error(v.dir, "'model.layers.2.input_layernorm.weight' is missing", NULL);
    free(v.blob);
}

static void test_shards(void)
{
    const char *src = synth_tiny("shard-src", "f32", "headwise");
    struct variant v;
    variant_begin(&v, src, "shards");
    /* first half of the tensors in shard 1, the rest in shard 2, plus the index */
    int h = v.n / 2;
    char p[700];
    snprintf(p, sizeof p, "%s/model-00001-of-00002.safetensors", v.dir);
    write_entries(p, v.e, h);
    snprintf(p, sizeof p, "%s/model-00002-of-00002.safetensors", v.dir);
    write_entries(p, v.e + h, v.n - h);
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", v.dir);
    FILE *f = fopen(p, "w");
    fprintf(f, "{\"metadata\":{},\"weight_map\":{");
    for (int i = 0; i < v.n; i++)
        fprintf(f, "%s\"%s\":\"model-0000%d-of-00002.safetensors\"", i ? "," : "", v.e[i].name, i < h ? 1 : 2);
    fprintf(f, "}}");
    fclose(f);
    struct model a, b;
    struct ss_error e = {0};
    CU_ASSERT_EQUAL_FATAL(model_load(&a, v.dir, &e), SS_OK);
    CU_ASSERT_EQUAL_FATAL(model_load(&b, src, &e), SS_OK);
    CU_ASSERT_EQUAL(a.n_params, b.n_params);
    /* same weights: the sharded load equals the single file */
    CU_ASSERT(a.n_params == b.n_params && models_same(&a, &b));
    model_free(&a);
    model_free(&b);
    /* the index maps a tensor to the wrong shard */
    char cmd[1600], q[700];
    snprintf(q, sizeof q, "%s/model.safetensors.index.json", v.dir);
    snprintf(cmd, sizeof cmd, "sed -i 's/\"model.norm.weight\":\"model-00002/\"model.norm.weight\":\"model-00001/' '%s'", q);
    CU_ASSERT_EQUAL(system(cmd), 0);
    expect_load_error(v.dir, "'model.norm.weight'", "model.safetensors.index.json");
    snprintf(cmd, sizeof cmd, "sed -i 's/\"model.norm.weight\":\"model-00001/\"model.norm.weight\":\"model-00002/' '%s'", q);
    CU_ASSERT_EQUAL(system(cmd), 0);
    /* a missing shard is named */
    snprintf(p, sizeof p, "%s/model-00002-of-00002.safetensors", v.dir);
    unlink(p);
    expect_load_error(v.dir, p, "cannot open");
    free(v.blob);
}

SS_SUITE(synth)
{
    CU_pSuite s = CU_add_suite("synth", NULL, NULL);
    CU_add_test(s, "synth round trip through the loader (f32, bf16)", test_round_trip);
    CU_add_test(s, "synth attention is not uniform", test_peaked_attention);
    CU_add_test(s, "synth and info commands", test_commands);
    CU_add_test(s, "bad checkpoints rejected with file and tensor named", test_bad_checkpoints);
    CU_add_test(s, "sharded checkpoints; wrong map and missing shard", test_shards);
}
