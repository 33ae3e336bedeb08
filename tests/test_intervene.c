/* tests/test_intervene.c — the interventions of `run` (model/intervene.h, the
 * attention mask and RoPE options of struct forward_opts) against transformers:
 * every case of tests/fixtures/interventions/cases.json is run on its stored
 * fixture and compared with expected.safetensors (gen_interventions.py):
 * logits within 1e-4, attention probabilities within 1e-5, max |diff| printed.
 * Plus the parsers and the one-line refusals of bad values. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../model/intervene.h"
#include "../model/model.h"
#include "../model/safetensors.h"
#include "test_util.h"

#define CASES_DIR "tests/fixtures/interventions"

struct probs_cap {
    int T, nh;
    float *probs;              /* [L, nh, T, T] */
    float *logits;             /* [T, V] */
    int V;
};

static int cap_hook(void *user, const struct hook_event *ev, struct ss_error *err)
{
    struct probs_cap *c = user;
    int T = c->T;
    if (ev->point == HOOK_LOGITS) {
        memcpy(c->logits + (size_t)ev->q0 * c->V, ev->data, (size_t)ev->shape[0] * c->V * 4);
        return 0;
    }
    int nq = (int)ev->shape[0], nk = (int)ev->shape[1];
    float *dst = c->probs + ((size_t)ev->layer * c->nh + ev->head) * T * T;
    for (int i = 0; i < nq; i++)
        for (int j = 0; j < T; j++)
            dst[(size_t)(ev->q0 + i) * T + j] = j < nk ? ev->data[(size_t)i * nk + j] : 0;
    return 0;
}

static int compare(const char *cname, const char *tname, const float *got, const struct st_set *ex, size_t n,
                   double tol)
{
    char key[160];
    snprintf(key, sizeof key, "%s.%s", cname, tname);
    const struct st_tensor *t = st_find(ex, key);
    if (!t || st_numel(t) != n) {
        printf("  case %s: expected tensor %s missing or of another size\n", cname, key);
        return 1;
    }
    float *ref = malloc(n * 4);
    struct ss_error e = {0};
    st_read_f32(ex, t, ref, NULL, &e);
    double d = test_max_abs_diff(got, ref, n);
    int bad = !(d <= tol);
    printf("  case %-22s %-14s max |diff| = %.3g (tol %.0e)%s\n", cname, tname, d, tol, bad ? "  FAIL" : "");
    free(ref);
    return bad;
}

/* The forward options of one case (rope kept in *rope, mask keys in keys[]). */
static int case_opts(json_t *cs, const struct model *m, struct forward_opts *o, struct rope_config *rope, int *keys,
                     struct intervention *iv)
{
    memset(o, 0, sizeof *o);
    memset(iv, 0, sizeof *iv);
    o->threads = 2, o->attn_tile = 7, o->logits_tile = 6;
    json_t *mk = json_object_get(cs, "mask_keys"), *v;
    size_t i;
    json_array_foreach(mk, i, v) keys[o->mask.n_masked_keys++] = (int)json_integer_value(v);
    o->mask.masked_keys = keys;
    o->mask.window = (int)json_integer_value(json_object_get(cs, "window"));
    o->mask.sink_tokens = (int)json_integer_value(json_object_get(cs, "sink_tokens"));
    const char *r = json_string_value(json_object_get(cs, "rope"));
    char why[200];
    if (r) {
        if (rope_scaling_parse(rope, &m->cfg.rope, m->cfg.max_pos, r, why, sizeof why))
            return printf("  rope '%s': %s\n", r, why), -1;
        o->rope = rope;
    }
    const char *ab = json_string_value(json_object_get(cs, "ablate"));
    char spec[64];
    snprintf(spec, sizeof spec, "massive=%s", ab ? ab : "");
    if (ab && intervention_parse_ablate(iv, spec))
        return printf("  ablate '%s' does not parse\n", ab), -1;
    iv->abs_min = json_number_value(json_object_get(cs, "abs_min"));
    iv->ratio = json_number_value(json_object_get(cs, "ratio"));
    const char *g = json_string_value(json_object_get(cs, "gate"));
    iv->gate_mean = g && !strcmp(g, "constant=mean");
    return 0;
}

static int run_case(json_t *cs, const struct st_set *ex)
{
    const char *name = json_string_value(json_object_get(cs, "name"));
    const char *fx = json_string_value(json_object_get(cs, "fixture"));
    char dir[300], exp[400];
    snprintf(dir, sizeof dir, "tests/fixtures/%s", fx ? fx : "?");
    snprintf(exp, sizeof exp, "%s/expected.safetensors", dir);
    struct model m;
    struct ss_error e = {0};
    if (!name || model_load(&m, dir, &e))
        return printf("  case %s: %s\n", name ? name : "?", e.msg), 1;
    struct st_set fe;
    int fails = 0;
    if (st_open_file(&fe, exp, &e)) {
        model_free(&m);
        return printf("  case %s: %s\n", name, e.msg), 1;
    }
    const struct st_tensor *tt = st_find(&fe, "tokens");
    int T = tt ? (int)st_numel(tt) : 0, keys[32];
    int32_t *tok = malloc((T + 1) * 4);
    if (tt)
        st_read_raw(&fe, tt, tok);
    struct forward_opts o;
    struct rope_config rope;
    struct intervention iv;
    struct run_state *rs = NULL;
    const struct model_config *c = &m.cfg;
    struct probs_cap cap = {T, c->n_heads, calloc((size_t)c->n_layers * c->n_heads * T * T, 4),
                            calloc((size_t)T * c->vocab, 4), c->vocab};
    struct hook_set hs;
    hook_set_init(&hs);
    hook_set_add(&hs, "attn_probs", cap_hook, &cap, &e);
    hook_set_add(&hs, "logits", cap_hook, &cap, &e);
    if (!tt || case_opts(cs, &m, &o, &rope, keys, &iv) || run_state_new(&rs, c, T, &o, &e) ||
        intervention_prepare(&iv, &m, rs, tok, 1, T, &o, &e) || model_forward(&m, rs, tok, T, &hs, &o, &e)) {
        printf("  case %s: failed: %s\n", name, e.msg);
        fails = 1;
    } else {
        if (iv.ablate)
            printf("  case %s: ablated %.0f entries at layer %d\n", name, iv.ab.n_ablated, iv.ablate_layer);
        fails += compare(name, "logits", cap.logits, ex, (size_t)T * c->vocab, 1e-4);
        for (int l = 0; l < c->n_layers; l++) {
            char tn[32];
            snprintf(tn, sizeof tn, "attn_probs.%d", l);
            fails += compare(name, tn, cap.probs + (size_t)l * c->n_heads * T * T, ex, (size_t)c->n_heads * T * T,
                             1e-5);
        }
    }
    intervention_free(&iv);
    run_state_free(rs);
    free(cap.probs), free(cap.logits), free(tok);
    st_close(&fe);
    model_free(&m);
    return fails;
}

static void test_reference_cases(void)
{
    json_error_t je;
    json_t *root = json_load_file(CASES_DIR "/cases.json", 0, &je);
    CU_ASSERT_PTR_NOT_NULL_FATAL(root);
    struct st_set ex;
    struct ss_error e = {0};
    if (st_open_file(&ex, CASES_DIR "/expected.safetensors", &e)) {
        printf("  %s\n", e.msg);
        json_decref(root);
        CU_FAIL_FATAL("expected.safetensors unreadable");
    }
    json_t *cases = json_object_get(root, "cases"), *cs;
    size_t i;
    int n = 0;
    json_array_foreach(cases, i, cs) {
        CU_ASSERT_EQUAL(run_case(cs, &ex), 0);
        n++;
    }
    CU_ASSERT(n >= 18);
    st_close(&ex);
    json_decref(root);
}

static void test_parsers(void)
{
    struct rope_config base = {ROPE_TYPE_DEFAULT, 10000}, r;
    char why[200];
    CU_ASSERT(rope_scaling_parse(&r, &base, 512, "yarn:8", why, sizeof why) == 0 && r.type == ROPE_TYPE_YARN &&
              r.factor == 8 && r.original_max_pos == 512 && r.theta == 10000);
    CU_ASSERT(rope_scaling_parse(&r, &base, 512, "yarn:2:256", why, sizeof why) == 0 && r.original_max_pos == 256);
    CU_ASSERT(rope_scaling_parse(&r, &base, 512, "linear:4", why, sizeof why) == 0 && r.type == ROPE_TYPE_LINEAR);
    CU_ASSERT(rope_scaling_parse(&r, &base, 512, "none", why, sizeof why) == 0 && r.type == ROPE_TYPE_DEFAULT);
    CU_ASSERT(rope_scaling_parse(&r, &base, 512, "yarn:auto", why, sizeof why) == 0 && r.factor == 0);
    rope_factor_for_length(&r, 2048);
    CU_ASSERT(r.factor == 4);
    CU_ASSERT(rope_scaling_parse(&r, &base, 512, "yarn:auto:256", why, sizeof why) == 0);
    rope_factor_for_length(&r, 128);
    CU_ASSERT(r.factor == 1);
    const char *bad[] = {"yarn:0", "yarn:", "yarn:x", "yarn:2:0", "yarn:2:", "linear:0.5", "ntk:2", "", "yarn:inf"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CU_ASSERT(rope_scaling_parse(&r, &base, 512, bad[i], why, sizeof why) != 0);
        CU_ASSERT(strchr(why, '\n') == NULL);
    }
    char d[64];
    rope_config_describe(&r, 512, d, sizeof d);
    struct intervention iv = {0};
    CU_ASSERT(intervention_parse_ablate(&iv, "massive=zero") == 0 && iv.ablate == 1 && !iv.ablate_layer_given);
    CU_ASSERT(intervention_parse_ablate(&iv, "massive=mean@3") == 0 && iv.ablate == 2 && iv.ablate_layer == 3);
    CU_ASSERT(intervention_parse_ablate(&iv, "massive=mean@-1") == 0 && iv.ablate_layer == -1 && iv.ablate_layer_given);
    CU_ASSERT(intervention_parse_ablate(&iv, "massive=half") != 0);
    CU_ASSERT(intervention_parse_ablate(&iv, "massive=zero@") != 0);
    CU_ASSERT(intervention_parse_ablate(&iv, "zero") != 0);
    struct attn_mask mk = {0};
    int keys[2] = {600, 700};
    mk.masked_keys = keys, mk.n_masked_keys = 2;
    CU_ASSERT_EQUAL(attn_mask_check(&mk, 512, &(struct ss_error){0}), SS_ERR_INPUT);
    keys[0] = 3;
    CU_ASSERT_EQUAL(attn_mask_check(&mk, 512, &(struct ss_error){0}), SS_OK);
    keys[0] = -1;
    CU_ASSERT_EQUAL(attn_mask_check(&mk, 512, &(struct ss_error){0}), SS_ERR_INPUT);
}

/* The criterion on hand-made vectors: |x| >= 100 and >= 1000 x median |x|. */
static void test_massive_flag(void)
{
    float x[6] = {0.1f, -0.1f, 0.1f, -150.0f, 0.1f, 99.0f}, s[6];
    unsigned char f[6];
    CU_ASSERT_EQUAL(massive_flag(x, 6, 100, 1000, f, s), 1);
    CU_ASSERT(f[3] && !f[5]);
    x[0] = x[1] = x[2] = 0.2f; /* median 0.2 -> 150 < 200: not massive */
    CU_ASSERT_EQUAL(massive_flag(x, 6, 100, 1000, f, s), 0);
}

/* Bad values through the CLI: one line, exit 2, no output file. */
static void test_cli_bad_values(void)
{
    const char *dir = test_tmpdir("intervene");
    char out[512], err[1024];
    snprintf(out, sizeof out, "%s/x.h5", dir);
    const char *m = "tests/fixtures/gated_noqknorm", *ungated = "tests/fixtures/qwen3_bf16";
    struct { const char *model, *flag, *val; } cases[] = {
        {m, "--window", "0"},           {m, "--mask-keys", "40"},      {m, "--mask-keys", "a,b"},
        {m, "--rope-scaling", "yarn:0"}, {m, "--rope-scaling", "ntk:2"}, {m, "--ablate", "massive=mean@7"},
        {m, "--ablate", "massive=half"}, {m, "--sink-tokens", "4"},    {ungated, "--gate", "constant=mean"},
        {m, "-c", "8,0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = test_cli(NULL, 0, err, sizeof err, "run", "-m", cases[i].model, "--token-ids", "1,2,3,4,5,6,7,8",
                          cases[i].flag, cases[i].val, "-o", out, "--quiet", NULL);
        printf("  %s %s -> %d: %s", cases[i].flag, cases[i].val, rc, err);
        CU_ASSERT_EQUAL(rc, 2);
        CU_ASSERT_EQUAL(test_count_lines(err), 1);
        CU_ASSERT(fopen(out, "r") == NULL);
    }
}

/* A -c sweep with interventions on a demo checkpoint: one file per context, the
 * attributes in summary's JSON, both new plot kinds drawn from the files. */
static void test_sweep_and_plots(void)
{
    const char *dir = test_tmpdir("sweep");
    char out[512], f16[512], f32[512], png[512], js[16384], err[1024];
    snprintf(out, sizeof out, "%s/s.h5", dir);
    snprintf(f16, sizeof f16, "%s/s-c16.h5", dir);
    snprintf(f32, sizeof f32, "%s/s-c32.h5", dir);
    int rc = test_cli(NULL, 0, err, sizeof err, "run", "-m", "demo/models/gated_headwise", "--corpus",
                      "demo/heldout.txt", "-c", "16,32", "--max-seqs", "1", "--rope-scaling", "yarn:auto:16",
                      "--window", "8", "--sink-tokens", "2", "--mask-keys", "1", "--gate", "constant=mean", "-o",
                      out, "--quiet", NULL);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    rc = test_cli(js, sizeof js, NULL, 0, "summary", f32, "--format", "json", NULL);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT(strstr(js, "\"rope_scaling\": \"yarn:2:16\"") != NULL);
    CU_ASSERT(strstr(js, "\"attn_window\": 8") != NULL && strstr(js, "\"sink_tokens\": 2") != NULL);
    CU_ASSERT(strstr(js, "\"context_sweep\": \"16,32\"") != NULL && strstr(js, "loss_by_position") != NULL);
    CU_ASSERT(strstr(js, "gate=constant=mean") != NULL && strstr(js, "mask_keys=1") != NULL);
    rc = test_cli(js, sizeof js, NULL, 0, "summary", f16, "--format", "json", NULL);
    CU_ASSERT(strstr(js, "\"rope_scaling\": \"yarn:1:16\"") != NULL);
    snprintf(png, sizeof png, "%s/sweep.png", dir);
    rc = test_cli(NULL, 0, err, sizeof err, "plot", "context-sweep", f16, f32, "-o", png, NULL);
    printf("  context-sweep: rc=%d %s\n", rc, rc ? err : "");
    CU_ASSERT_EQUAL(rc, 0);
    snprintf(png, sizeof png, "%s/loss.png", dir);
    rc = test_cli(NULL, 0, err, sizeof err, "plot", "loss-position", f16, f32, "-o", png, NULL);
    CU_ASSERT_EQUAL(rc, 0);
    FILE *f = fopen(png, "rb");
    CU_ASSERT_PTR_NOT_NULL(f);
    if (f)
        fclose(f);
}

SS_SUITE(intervene)
{
    CU_pSuite s = CU_add_suite("intervene", NULL, NULL);
    CU_add_test(s, "parsers and mask checks", test_parsers);
    CU_add_test(s, "massive-activation criterion", test_massive_flag);
    CU_add_test(s, "every case matches transformers (logits 1e-4, attention 1e-5)", test_reference_cases);
    CU_add_test(s, "bad values: one line, exit 2", test_cli_bad_values);
    CU_add_test(s, "-c sweep with interventions, attributes, context-sweep and loss-position plots",
                test_sweep_and_plots);
}
