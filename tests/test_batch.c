/* Corpus batching (issue 13): `run --batch N` puts N windows through each layer together
 * (model_forward_batch). Every dataset of the run file (/stats, /summary, /tokens, the
 * dumps, /dims) must be byte-identical to the one-window-at-a-time run, whatever the batch
 * and the thread count, with a window count the batch does not divide, with interventions,
 * and after an interrupted batch resumed with another batch size (also on gpt_oss: routing
 * and learned-sink statistics from saved records); the automatic batch is
 * the memory plan's. Model: the bf16 gated fixture (conversion exercised), byte tokenizer. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../model/model.h"
#include "test_util.h"

/* ---- model_forward_batch against model_forward, every hook event, several families --- */

/* Every event a window's hooks receive, in order: a header and its data, appended. */
struct trace {
    unsigned char *buf;
    size_t n, cap;
    int events;
};

static int trace_event(void *user, const struct hook_event *ev, struct ss_error *err)
{
    struct trace *t = user;
    size_t nd = (size_t)ev->shape[0] * (ev->ndim > 1 ? ev->shape[1] : 1) * (ev->ndim > 2 ? ev->shape[2] : 1);
    int64_t head[8] = {ev->point, ev->layer, ev->ndim, ev->shape[0], ev->shape[1], ev->shape[2], ev->head, ev->q0};
    size_t need = t->n + sizeof head + nd * sizeof(float);
    if (need > t->cap) {
        size_t cap = need * 2;
        unsigned char *b = realloc(t->buf, cap);
        if (!b)
            return ss_fail(err, SS_ERR_NOMEM, "trace: out of memory"), 1;
        t->buf = b, t->cap = cap;
    }
    memcpy(t->buf + t->n, head, sizeof head);
    memcpy(t->buf + t->n + sizeof head, ev->data, nd * sizeof(float));
    t->n = need;
    t->events++;
    return 0;
}

static void trace_subscribe(struct hook_set *h, struct trace *t)
{
    hook_set_init(h);
    for (int p = 0; p < HOOK_COUNT; p++)
        hook_set_add(h, hook_point_name(p), trace_event, t, NULL);
}

/* 3 windows of 9 tokens: one pass of 3 (threads 3) against three passes of 1 (threads 1). */
static void check_family(const char *name)
{
    char dir[512];
    snprintf(dir, sizeof dir, "tests/fixtures/%s", name);
    struct model m = {0};
    struct ss_error err = {0};
    if (model_load(&m, dir, &err)) {
        CU_FAIL("fixture did not load");
        printf("\n  %s: %s", name, err.msg);
        return;
    }
    enum { B = 3, T = 9 };
    int32_t tok[B * T];
    for (int i = 0; i < B * T; i++)
        tok[i] = (int32_t)((i * 37 + 5) % m.cfg.vocab);
    struct trace one[B] = {{0}}, all[B] = {{0}};
    struct hook_set h1[B], hb[B];
    const struct hook_set *hp[B];
    for (int b = 0; b < B; b++) {
        trace_subscribe(&h1[b], &one[b]);
        trace_subscribe(&hb[b], &all[b]);
        hp[b] = &hb[b];
    }
    struct forward_opts o1 = {0}, ob = {0};
    o1.threads = 1, ob.threads = 3, ob.batch = B, ob.logits_tile = 2 * T; /* the head over 2 windows, then 1 */
    o1.logits_tile = 2 * T;
    struct run_state *r1 = NULL, *rb = NULL;
    CU_ASSERT_FATAL(!run_state_new(&r1, &m.cfg, T, &o1, &err) && !run_state_new(&rb, &m.cfg, T, &ob, &err));
    for (int b = 0; b < B; b++)
        CU_ASSERT_EQUAL(model_forward(&m, r1, tok + b * T, T, &h1[b], &o1, &err), SS_OK);
    CU_ASSERT_EQUAL(model_forward_batch(&m, rb, tok, T, B, hp, &ob, &err), SS_OK);
    int differ = 0;
    for (int b = 0; b < B; b++) {
        differ += one[b].n != all[b].n || one[b].events != all[b].events || memcmp(one[b].buf, all[b].buf, one[b].n);
        CU_ASSERT(one[b].events > 10 * m.cfg.n_layers);
    }
    printf("\n  %s: %d events per window, %d of %d windows differ", name, one[0].events, differ, B);
    CU_ASSERT_EQUAL(differ, 0);
    for (int b = 0; b < B; b++)
        free(one[b].buf), free(all[b].buf);
    run_state_free(r1), run_state_free(rb);
    model_free(&m);
}

/* dense gated bf16, learned positions (gpt2), softcaps and sandwich norms (gemma2), local
 * RoPE (gemma3), MoE (mixtral), learned sinks + MoE (gpt_oss) */
static void test_batch_forward_families(void)
{
    static const char *const fams[] = {"gated_elementwise", "gpt2_bf16", "gemma2_bf16", "gemma3_f16",
                                       "mixtral_f32", "gpt_oss_bf16"};
    for (size_t i = 0; i < sizeof fams / sizeof *fams; i++)
        check_family(fams[i]);
}

static char model_dir[512], moe_dir[512], corpus[600];
static const char *run_model = model_dir; /* the checkpoint run() uses */

static const char *text =
    "Attention sinks are tokens that receive a large share of attention regardless of their content. "
    "The gated attention paper shows that a sigmoid gate after scaled dot-product attention removes them, "
    "and with them the massive activations of the residual stream. A batch of windows shares each weight.";

static int suite_init(void)
{
    const char *base = test_tmpdir("batch-model");
    if (!base)
        return 1;
    snprintf(model_dir, sizeof model_dir, "%s/gated", base);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "mkdir -p %s && cp tests/fixtures/gated_elementwise/config.json "
             "tests/fixtures/gated_elementwise/model.safetensors %s/", model_dir, model_dir);
    if (system(cmd) != 0)
        return 1;
    test_write_byte_tokenizer(model_dir);
    /* gpt_oss: MoE experts, learned sinks, sliding layers (the routing and sink statistics) */
    snprintf(moe_dir, sizeof moe_dir, "%s/gpt_oss", base);
    snprintf(cmd, sizeof cmd, "mkdir -p %s && cp tests/fixtures/gpt_oss_bf16/config.json "
             "tests/fixtures/gpt_oss_bf16/model.safetensors %s/", moe_dir, moe_dir);
    if (system(cmd) != 0)
        return 1;
    test_write_byte_tokenizer(moe_dir);
    snprintf(corpus, sizeof corpus, "%s/c.txt", base);
    FILE *f = fopen(corpus, "w");
    if (!f)
        return 1;
    fputs(text, f);
    fclose(f);
    return 0;
}

/* ---- byte-for-byte comparison of every dataset ------------------------------------ */

struct cmp {
    hid_t other;
    int compared, differ, missing;
    char first[256];
};

static herr_t cmp_dataset(hid_t obj, const char *name, const H5O_info_t *info, void *user)
{
    struct cmp *c = user;
    if (info->type != H5O_TYPE_DATASET)
        return 0;
    hid_t a = H5Dopen2(obj, name, H5P_DEFAULT), b = H5Dopen2(c->other, name, H5P_DEFAULT);
    if (b < 0) {
        c->missing++;
        H5Dclose(a);
        return 0;
    }
    hid_t ta = H5Dget_type(a), sa = H5Dget_space(a), sb = H5Dget_space(b);
    size_t n = (size_t)H5Sget_simple_extent_npoints(sa) * H5Tget_size(ta);
    int same = H5Sget_simple_extent_npoints(sa) == H5Sget_simple_extent_npoints(sb);
    char *x = malloc(n + 1), *y = malloc(n + 1);
    same = same && x && y && H5Dread(a, ta, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0 &&
           H5Dread(b, ta, H5S_ALL, H5S_ALL, H5P_DEFAULT, y) >= 0 && !memcmp(x, y, n);
    c->compared++;
    if (!same && !c->differ++)
        snprintf(c->first, sizeof c->first, "%s", name);
    free(x), free(y);
    H5Tclose(ta), H5Sclose(sa), H5Sclose(sb), H5Dclose(a), H5Dclose(b);
    return 0;
}

/* Datasets of a that differ from b's (or that b lacks), both ways; prints what it did. */
static int runs_differ(const char *a, const char *b)
{
    int bad = 0;
    for (int dir = 0; dir < 2; dir++) {
        hid_t fa = H5Fopen(dir ? b : a, H5F_ACC_RDONLY, H5P_DEFAULT), fb = H5Fopen(dir ? a : b, H5F_ACC_RDONLY, H5P_DEFAULT);
        CU_ASSERT_FATAL(fa >= 0 && fb >= 0);
        struct cmp c = {fb, 0, 0, 0, ""};
        H5Ovisit(fa, H5_INDEX_NAME, H5_ITER_NATIVE, cmp_dataset, &c);
        H5Fclose(fa), H5Fclose(fb);
        if (!dir)
            printf("\n  %d datasets compared byte for byte: %d differ%s%s, %d missing", c.compared, c.differ,
                   c.differ ? ", first " : "", c.first, c.missing);
        CU_ASSERT(c.compared > 20); /* stats, summary, tokens, dumps: a file, not an empty shell */
        bad += c.differ + c.missing;
    }
    return bad;
}

/* `run` on the corpus, -c 24, 5 windows (no batch size below divides 5), all dumps. */
static int run(const char *out, const char *batch, const char *threads, const char *extra1, const char *extra2,
               int resume)
{
    const char *argv[32];
    int n = 0;
    const char *fixed[] = {"run", "-m", run_model, "--corpus", corpus, "-c", "24", "--max-seqs", "5", "--dump",
                           "attention,gates,hidden,logits", "--quiet", "-o", out, "-t", threads};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        argv[n++] = fixed[i];
    if (batch)
        argv[n++] = "--batch", argv[n++] = batch;
    if (extra1)
        argv[n++] = extra1;
    if (extra2)
        argv[n++] = extra2;
    if (resume)
        argv[n++] = "--resume";
    argv[n] = NULL;
    char err[1024] = "";
    int rc = test_cli_argv(NULL, 0, err, sizeof err, n, argv);
    if (rc)
        printf("\n  run --batch %s -t %s: %s", batch ? batch : "auto", threads, err);
    return rc;
}

/* Batches 2, 3 and automatic (5 here), threads 1 and 3: the files of batch 1, byte for byte
 * (n_cases of them: valgrind runs this suite too). */
static void check_batches(const char *tag, const char *x1, const char *x2, size_t n_cases)
{
    const char *dir = test_tmpdir(tag);
    char ref[600], out[600];
    snprintf(ref, sizeof ref, "%s/ref.h5", dir);
    CU_ASSERT_EQUAL_FATAL(run(ref, "1", "1", x1, x2, 0), 0);
    static const char *cases[][2] = {{"3", "3"}, {"2", "1"}, {NULL, "3"}};
    for (size_t i = 0; i < n_cases && i < sizeof cases / sizeof *cases; i++) {
        snprintf(out, sizeof out, "%s/b%zu.h5", dir, i);
        CU_ASSERT_EQUAL_FATAL(run(out, cases[i][0], cases[i][1], x1, x2, 0), 0);
        CU_ASSERT_EQUAL(runs_differ(ref, out), 0);
    }
}

static void test_batch_identical(void)
{
    check_batches("batch-plain", NULL, NULL, 3);
}

/* an edit (gate constant=mean, from a first pass) and a mask, per window */
static void test_batch_identical_interventions(void)
{
    check_batches("batch-interv", "--gate=constant=mean", "--window=8", 1);
}

/* --resume after a batch interrupted midway (2 windows of the batch of 3 finished:
 * RAISE_AFTER=2), finished with batch 2 and 3 threads: the uninterrupted batch-1 file. */
static void resume_check(const char *tag, const char *const *must_have)
{
    const char *dir = test_tmpdir(tag);
    char ref[600], out[600], partial[700];
    snprintf(ref, sizeof ref, "%s/ref.h5", dir);
    snprintf(out, sizeof out, "%s/r.h5", dir);
    snprintf(partial, sizeof partial, "%s.partial", out);
    CU_ASSERT_EQUAL_FATAL(run(ref, "1", "1", NULL, NULL, 0), 0);
    setenv("SINKSCOPE_TEST_RAISE_AFTER", "2", 1);
    int rc = run(out, "3", "1", NULL, NULL, 1);
    unsetenv("SINKSCOPE_TEST_RAISE_AFTER");
    CU_ASSERT_EQUAL(rc, 130);
    int kept = 0;
    for (int s = 0; s < 5; s++) {
        char p[800];
        struct stat st;
        snprintf(p, sizeof p, "%s/seq_%06d.h5", partial, s);
        kept += stat(p, &st) == 0;
    }
    CU_ASSERT_EQUAL(kept, 2); /* windows 0 and 1 of the batch 0..2; window 2 computed, not kept */
    CU_ASSERT_EQUAL_FATAL(run(out, "2", "3", NULL, NULL, 1), 0);
    CU_ASSERT_EQUAL(runs_differ(ref, out), 0);
    hid_t f = H5Fopen(ref, H5F_ACC_RDONLY, H5P_DEFAULT); /* what the comparison covered */
    CU_ASSERT_FATAL(f >= 0);
    for (int i = 0; must_have && must_have[i]; i++) {
        int have = H5Lexists(f, must_have[i], H5P_DEFAULT) > 0;
        if (!have)
            printf("\n  %s missing from the run file", must_have[i]);
        CU_ASSERT(have);
    }
    H5Fclose(f);
}

static void test_batch_resume(void)
{
    resume_check("batch-resume", NULL);
}

/* The same on gpt_oss: the routing and learned-sink statistics fold from saved records
 * exactly as in one uninterrupted run (expert_load, learned_sink_share, ... compared). */
static void test_batch_resume_moe(void)
{
    static const char *const moe_stats[] = {"/stats", "/stats/expert_load", "/stats/expert_load_pos0",
                                            "/stats/expert_weight_mean", "/stats/router_entropy",
                                            "/stats/learned_sink_share", "/stats/learned_sink_share_incl0", NULL};
    run_model = moe_dir;
    resume_check("batch-resume-moe", moe_stats);
    run_model = model_dir;
}

/* The automatic batch is the largest B <= min(windows, RUN_BATCH_AUTO, RUN_BATCH_POSITIONS / T)
 * whose plan fits in half the machine's memory; `run --batch N` that does not fit is refused before any work. */
static void test_batch_memory_plan(void)
{
    struct model_config c;
    struct ss_error err = {0};
    CU_ASSERT_EQUAL_FATAL(model_config_load(&c, model_dir, &err), SS_OK);
    struct forward_opts fo = {0};
    fo.threads = 1;
    size_t total[RUN_BATCH_AUTO + 2];
    for (int b = 1; b <= RUN_BATCH_AUTO + 1; b++) {
        struct run_memory rm;
        fo.batch = b;
        run_memory_plan(&rm, &c, 1000000, 24, &fo);
        total[b] = rm.total;
        CU_ASSERT_EQUAL(rm.batch, b);
        if (b > 1)
            CU_ASSERT(total[b] > total[b - 1]); /* activations grow with the batch */
    }
    char mem[64];
    fo.batch = 0;
    snprintf(mem, sizeof mem, "%zu", 2 * total[3] + 1); /* half of it holds B = 3, not 4 */
    setenv("SINKSCOPE_MEMORY_BYTES", mem, 1);
    CU_ASSERT_EQUAL(run_memory_batch(&c, 1000000, 24, &fo, 100), 3);
    CU_ASSERT_EQUAL(run_memory_batch(&c, 1000000, 24, &fo, 2), 2); /* never more than the windows */
    snprintf(mem, sizeof mem, "%zu", total[1]); /* B = 1 even when half of it does not hold one */
    setenv("SINKSCOPE_MEMORY_BYTES", mem, 1);
    CU_ASSERT_EQUAL(run_memory_batch(&c, 1000000, 24, &fo, 100), 1);
    unsetenv("SINKSCOPE_MEMORY_BYTES");
    CU_ASSERT_EQUAL(run_memory_batch(&c, 1000000, 24, &fo, 100), RUN_BATCH_AUTO); /* tiny model: the cap */
    CU_ASSERT_EQUAL(run_memory_batch(&c, 1000000, RUN_BATCH_POSITIONS / 4, &fo, 100), 4); /* positions per pass */
    CU_ASSERT_EQUAL(run_memory_batch(&c, 1000000, RUN_BATCH_POSITIONS, &fo, 100), 1);
    CU_ASSERT_EQUAL(run_memory_batch(&c, 1000000, 4 * RUN_BATCH_POSITIONS, &fo, 100), 1);

    /* run: an explicit batch that cannot fit is refused, naming the batch; nothing written */
    struct model m = {0};
    CU_ASSERT_EQUAL_FATAL(model_load(&m, model_dir, &err), SS_OK);
    struct run_memory r1, r5;
    fo.batch = 1;
    run_memory_plan(&r1, &c, m.mapped_bytes, 24, &fo);
    fo.batch = 5;
    run_memory_plan(&r5, &c, m.mapped_bytes, 24, &fo);
    model_free(&m);
    const char *dir = test_tmpdir("batch-mem");
    char out[600], errs[1024] = "";
    snprintf(out, sizeof out, "%s/r.h5", dir);
    snprintf(mem, sizeof mem, "%zu", r5.total - 1); /* holds B = 1 (auto: half of it may not), not 5 */
    CU_ASSERT_FATAL(r1.total < r5.total - 1);
    setenv("SINKSCOPE_MEMORY_BYTES", mem, 1);
    int rc = test_cli(NULL, 0, errs, sizeof errs, "run", "-m", model_dir, "--corpus", corpus, "-c", "24", "--batch",
                      "5", "-t", "1", "--quiet", "-o", out, NULL);
    CU_ASSERT_EQUAL(rc, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(errs, "5 windows per pass"));
    struct stat st;
    CU_ASSERT(stat(out, &st) != 0);
    /* the same machine, automatic batch: fits */
    rc = test_cli(NULL, 0, errs, sizeof errs, "run", "-m", model_dir, "--corpus", corpus, "-c", "24", "-t", "1",
                  "--quiet", "-o", out, NULL);
    CU_ASSERT_EQUAL(rc, 0);
    unsetenv("SINKSCOPE_MEMORY_BYTES");
    /* info prints the plan of the batch asked for */
    char so[4096] = "";
    rc = test_cli(so, sizeof so, NULL, 0, "info", "-m", model_dir, "-c", "24", "-b", "5", NULL);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(so, "24 positions x 5 window(s) per pass"));
}

SS_SUITE(batch)
{
    CU_pSuite s = CU_add_suite("batch", suite_init, NULL);
    CU_add_test(s, "model_forward_batch: every hook event of every window equals model_forward's (6 families)",
                test_batch_forward_families);
    CU_add_test(s, "--batch 1/2/3/auto x -t 1/3: run files byte-identical (bf16, all dumps)", test_batch_identical);
    CU_add_test(s, "--batch 3 -t 3 with --gate constant=mean and --window", test_batch_identical_interventions);
    CU_add_test(s, "--resume after an interrupted batch, resumed with another batch: identical", test_batch_resume);
    CU_add_test(s, "the same on gpt_oss (routing and learned-sink statistics)", test_batch_resume_moe);
    CU_add_test(s, "automatic batch from the memory plan; a batch that cannot fit is refused", test_batch_memory_plan);
}
