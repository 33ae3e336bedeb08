/* tests/test_weights.c — weights used in their stored dtype (issue 13).
 *
 * The forward over mapped BF16/F32 weights, converted slice by slice into thread
 * scratch, must give bit-identical tensors to the forward over the same weights
 * converted once into float32 arrays (what model_load did before weights stayed
 * mapped); and a checkpoint truncated under its map is one error naming the file,
 * not a SIGBUS. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../model/model.h"
#include "../model/ops.h"
#include "../model/safetensors.h"
#include "../model/synth.h"
#include "test_util.h"

/* Every float every hook point sends, appended in order. */
struct tape {
    float *v;
    size_t n, cap;
    int events;
};

static int tape_hook(void *user, const struct hook_event *ev, struct ss_error *err)
{
    struct tape *t = user;
    size_t n = 1;
    for (int d = 0; d < ev->ndim; d++)
        n *= (size_t)ev->shape[d];
    if (t->n + n > t->cap) {
        t->cap = (t->n + n) * 2;
        t->v = realloc(t->v, t->cap * sizeof *t->v);
    }
    memcpy(t->v + t->n, ev->data, n * sizeof *t->v);
    t->n += n;
    t->events++;
    (void)err;
    return 0;
}

static void tape_record(const struct model *m, int threads, struct tape *t)
{
    memset(t, 0, sizeof *t);
    struct hook_set hs;
    struct ss_error e = {0};
    hook_set_init(&hs);
    for (int p = 0; p < HOOK_COUNT; p++)
        CU_ASSERT_EQUAL(hook_set_add(&hs, hook_point_name(p), tape_hook, t, &e), SS_OK);
    enum { T = 21 };
    int32_t tok[T];
    for (int i = 0; i < T; i++)
        tok[i] = (i * 37 + 5) % m->cfg.vocab;
    struct forward_opts o = {.threads = threads, .attn_tile = 8, .logits_tile = 10};
    struct run_state *rs;
    CU_ASSERT_EQUAL_FATAL(run_state_new(&rs, &m->cfg, T, &o, &e), SS_OK);
    CU_ASSERT_EQUAL(model_forward(m, rs, tok, T, &hs, &o, &e), SS_OK);
    run_state_free(rs);
}

/* A copy of w as an in-memory float32 view (the old load's arena). */
static struct weight weight_copy(const struct weight *w)
{
    float *p = malloc((size_t)w->rows * w->cols * sizeof *p);
    weight_rows_f32(w, 0, w->rows, p);
    return weight_f32(p, w->rows, w->cols);
}

/* m with every matrix replaced by its float32 copy (free with copy_free). */
static void model_copy_f32(struct model *c, const struct model *m)
{
    *c = *m;
    c->w.layers = malloc(m->cfg.n_layers * sizeof *c->w.layers);
    c->w.embed = weight_copy(&m->w.embed);
    c->w.lm_head = m->cfg.tied ? c->w.embed : weight_copy(&m->w.lm_head);
    for (int l = 0; l < m->cfg.n_layers; l++) {
        struct layer_weights *d = &c->w.layers[l];
        *d = m->w.layers[l];
        struct weight *mats[] = {&d->wq, &d->wk, &d->wv, &d->wo, &d->w_gate, &d->w_up, &d->w_down};
        for (size_t i = 0; i < sizeof mats / sizeof mats[0]; i++)
            *mats[i] = weight_copy(mats[i]);
    }
}

static void copy_free(struct model *c)
{
    for (int l = 0; l < c->cfg.n_layers; l++) {
        struct layer_weights *d = &c->w.layers[l];
        const struct weight *mats[] = {&d->wq, &d->wk, &d->wv, &d->wo, &d->w_gate, &d->w_up, &d->w_down};
        for (size_t i = 0; i < sizeof mats / sizeof mats[0]; i++)
            free((void *)mats[i]->data);
    }
    free((void *)c->w.embed.data);
    if (!c->cfg.tied)
        free((void *)c->w.lm_head.data);
    free(c->w.layers);
}

static const char *synth_dir(const char *tag, int bf16, int gate)
{
    const char *dir = test_tmpdir(tag);
    struct synth_opts so = {.preset = "tiny", .gate = gate, .bf16 = bf16, .seed = 11};
    struct ss_error e = {0};
    CU_ASSERT_EQUAL(synth_write(dir, &so, &e), SS_OK);
    return dir;
}

static void test_mapped_identical(void)
{
    struct { int bf16, gate; } cases[] = {{1, GATE_KIND_ELEMENTWISE}, {1, GATE_KIND_NONE}, {0, GATE_KIND_HEADWISE}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const char *dir = synth_dir("wmap", cases[k].bf16, cases[k].gate);
        struct model m, c;
        struct ss_error e = {0};
        CU_ASSERT_EQUAL_FATAL(model_load(&m, dir, &e), SS_OK);
        CU_ASSERT(m.w.layers[0].wq.dtype == (cases[k].bf16 ? WEIGHT_BF16 : WEIGHT_F32) && m.w.layers[0].wq.check);
        model_copy_f32(&c, &m);
        for (int threads = 1; threads <= 3; threads += 2) {
            struct tape a, b;
            tape_record(&m, threads, &a);
            tape_record(&c, threads, &b); /* hooks of a tile batch fire together: same order needs same threads */
            int same = a.n == b.n && a.events == b.events && a.n && !memcmp(a.v, b.v, a.n * sizeof *a.v);
            printf("  %s gate %s, %d thread(s): %d events, %zu floats, mapped vs float32 copy %s\n",
                   cases[k].bf16 ? "bf16" : "f32", gate_kind_name(cases[k].gate), threads, a.events, a.n,
                   same ? "bit-identical" : "DIFFER");
            CU_ASSERT(same);
            for (size_t i = 0; !same && a.n == b.n && i < a.n; i++)
                if (memcmp(&a.v[i], &b.v[i], 4)) {
                    printf("  first difference at float %zu: %g vs %g\n", i, a.v[i], b.v[i]);
                    break;
                }
            free(a.v), free(b.v);
        }
        copy_free(&c);
        model_free(&m);
    }
}

static void test_truncated_under_map(void)
{
    const char *dir = synth_dir("wbus", 1, GATE_KIND_HEADWISE);
    struct model m;
    struct ss_error e = {0};
    CU_ASSERT_EQUAL_FATAL(model_load(&m, dir, &e), SS_OK);
    char path[700];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    CU_ASSERT_EQUAL_FATAL(truncate(path, 4096), 0); /* what `cp other model.safetensors` does first */
    struct tape t;
    memset(&e, 0, sizeof e);
    memset(&t, 0, sizeof t);
    struct hook_set hs;
    hook_set_init(&hs);
    CU_ASSERT_EQUAL(hook_set_add(&hs, "resid_post", tape_hook, &t, &e), SS_OK);
    int32_t tok[5] = {1, 2, 3, 4, 5};
    struct forward_opts o = {.threads = 2};
    struct run_state *rs;
    CU_ASSERT_EQUAL_FATAL(run_state_new(&rs, &m.cfg, 5, &o, &e), SS_OK);
    enum ss_status st = model_forward(&m, rs, tok, 5, &hs, &o, &e);
    printf("  -> %s\n", e.msg);
    CU_ASSERT_EQUAL(st, SS_ERR_INPUT);
    CU_ASSERT(strstr(e.msg, path) && strstr(e.msg, "truncated or overwritten"));
    CU_ASSERT_EQUAL(t.events, 0); /* no hook saw values made of unreadable weights */
    free(t.v);
    run_state_free(rs);
    model_free(&m);
}

/* info prints the plan; run refuses a machine too small before any forward work */
static void test_memory_plan(void)
{
    const char *dir = synth_dir("wmem", 1, GATE_KIND_NONE);
    char out[4096], err[1024], h5[700];
    CU_ASSERT_EQUAL(test_cli(out, sizeof out, NULL, 0, "info", "-m", dir, "-c", "64", NULL), 0);
    const char *mem = strstr(out, "memory ");
    CU_ASSERT(mem && strstr(mem, "at 64 positions") && strstr(mem, "(BF16, mapped)") && strstr(out, "machine "));
    printf("  %.*s", mem ? (int)(strchr(mem, '\n') - mem + 1) : 0, mem ? mem : "");
    snprintf(h5, sizeof h5, "%s/out.h5", dir);
    setenv("SINKSCOPE_MEMORY_BYTES", "100000", 1);
    int rc = test_cli(NULL, 0, err, sizeof err, "run", "-m", dir, "--token-ids", "1,2,3", "-o", h5, "--quiet", NULL);
    unsetenv("SINKSCOPE_MEMORY_BYTES");
    printf("  -> %s", err);
    CU_ASSERT_EQUAL(rc, 2);
    CU_ASSERT(strstr(err, "needs") && strstr(err, "this machine has 100 KB"));
    CU_ASSERT(access(h5, F_OK) != 0);
    CU_ASSERT_EQUAL(test_cli(NULL, 0, NULL, 0, "run", "-m", dir, "--token-ids", "1,2,3", "-o", h5, "--quiet", NULL), 0);
}

/* The LM head's path: one conversion per slice, sgemm in blocks of `rows`
 * positions, gives the bits of one linear_forward per block (what the head did
 * when it was converted again for every tile), for 1 and 2 threads. */
static void test_rows_blocks_identical(void)
{
    enum { N_OUT = 600, N_IN = 24, T = 9, ROWS = 4 };
    uint16_t *wb = malloc(N_OUT * N_IN * sizeof *wb);
    float *x = malloc(T * N_IN * sizeof *x), *a = malloc(T * N_OUT * sizeof *a), *b = malloc(T * N_OUT * sizeof *b);
    float *scratch = malloc(2 * LINEAR_SLICE * N_IN * sizeof *scratch);
    for (int i = 0; i < N_OUT * N_IN; i++)
        wb[i] = (uint16_t)(0x3c00 + (i * 2654435761u >> 20) % 0x800) ^ (i % 3 ? 0 : 0x8000);
    for (int i = 0; i < T * N_IN; i++)
        x[i] = sinf(0.37f * i) * 3.1f;
    struct weight w = {wb, WEIGHT_BF16, N_OUT, N_IN, NULL};
    for (int th = 1; th <= 2; th++) {
        struct linear_exec ex = {th, scratch, (size_t)LINEAR_SLICE * N_IN};
        linear_forward_rows(a, x, &w, NULL, T, ROWS, &ex);
        for (int p0 = 0; p0 < T; p0 += ROWS)
            linear_forward(b + (size_t)p0 * N_OUT, x + (size_t)p0 * N_IN, &w, NULL, T - p0 < ROWS ? T - p0 : ROWS,
                           &ex);
        CU_ASSERT_EQUAL(memcmp(a, b, T * N_OUT * sizeof *a), 0);
        CU_ASSERT(a[5 * N_OUT + 599] != 0);
    }
    free(wb), free(x), free(a), free(b), free(scratch);
}

/* A view stored [in, out] (gpt_oss's unquantised experts, weight.transposed): its rows are
 * the stored columns, for F32 and BF16, over more than the 256 values converted at a time;
 * and linear_forward over it equals linear_forward over the [out, in] copy, bit for bit. */
static void test_transposed_view(void)
{
    enum { IN = 5, OUT = 600, T = 3 };
    float *st = malloc(IN * OUT * sizeof *st), *rows = malloc(OUT * IN * sizeof *rows), *ref = malloc(OUT * IN * sizeof *ref);
    uint16_t *sb = malloc(IN * OUT * sizeof *sb);
    for (int i = 0; i < IN * OUT; i++) {
        sb[i] = st_f32_to_bf16(sinf(0.1f * i) * 2);
        st[i] = st_bf16_to_f32(sb[i]);
    }
    for (int o = 0; o < OUT; o++)
        for (int i = 0; i < IN; i++)
            ref[o * IN + i] = st[i * OUT + o];
    struct weight wf = {st, WEIGHT_F32, OUT, IN, NULL, NULL, 1}, wb = {sb, WEIGHT_BF16, OUT, IN, NULL, NULL, 1};
    int bad = 0;
    for (int k = 0; k < 2; k++) {
        weight_rows_f32(k ? &wb : &wf, 7, OUT - 7, rows);
        bad += memcmp(rows, ref + 7 * IN, (OUT - 7) * IN * sizeof *rows) != 0;
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_PTR_NULL(weight_rows_direct(&wf, 0)); /* never used in place: its rows are not contiguous */
    float x[T * IN], a[T * OUT], b[T * OUT], *scratch = malloc(LINEAR_SLICE * IN * sizeof *scratch);
    for (int i = 0; i < T * IN; i++)
        x[i] = cosf(0.3f * i);
    struct linear_exec ex = {1, scratch, (size_t)LINEAR_SLICE * IN};
    struct weight copy = weight_f32(ref, OUT, IN);
    linear_forward(a, x, &wb, NULL, T, &ex);
    linear_forward(b, x, &copy, NULL, T, &ex);
    printf("  transposed view: rows %s; linear_forward vs the [out, in] copy: %s\n", bad ? "DIFFER" : "equal",
           memcmp(a, b, sizeof a) ? "DIFFER" : "bit-identical");
    CU_ASSERT_EQUAL(memcmp(a, b, sizeof a), 0);
    free(st), free(rows), free(ref), free(sb), free(scratch);
}

SS_SUITE(weights)
{
    CU_pSuite s = CU_add_suite("weights", NULL, NULL);
    CU_add_test(s, "mapped bf16/f32 weights give the float32 forward bit for bit", test_mapped_identical);
    CU_add_test(s, "checkpoint truncated under its map: one error naming the file", test_truncated_under_map);
    CU_add_test(s, "info prints the memory plan; run refuses what cannot fit", test_memory_plan);
    CU_add_test(s, "LM head converted once, sgemm in blocks: bits of one product per block",
                test_rows_blocks_identical);
    CU_add_test(s, "weights stored [in, out] read as [out, in] views", test_transposed_view);
}
