/* tests/test_config.c — config.json variants, RoPE inv_freq against hand-computed
 * numbers, and one-line errors naming config.json and the field. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../model/model.h"
#include "test_util.h"

#define BASE "\"model_type\":\"%s\",\"num_hidden_layers\":2,\"hidden_size\":64,\"num_attention_heads\":4," \
             "\"intermediate_size\":96,\"vocab_size\":100,\"max_position_embeddings\":64"

static enum ss_status parse(struct model_config *c, struct ss_error *e, const char *fmt, const char *type)
{
    char buf[4096];
    snprintf(buf, sizeof buf, fmt, type);
    return model_config_parse(c, buf, "ck/config.json", e);
}

static double rel(double a, double b)
{
    return fabs(a - b) / fmax(fabs(b), 1e-30);
}

static void test_fields(void)
{
    struct model_config c;
    struct ss_error e = {0};
    CU_ASSERT_EQUAL_FATAL(parse(&c, &e, "{" BASE "}", "qwen3"), SS_OK);
    CU_ASSERT_EQUAL(c.n_kv_heads, 4);   /* absent: = heads */
    CU_ASSERT_EQUAL(c.head_dim, 16);    /* absent: hidden / heads */
    CU_ASSERT_EQUAL(c.qk_norm, 1);      /* qwen3 default */
    CU_ASSERT(c.qkv_bias == 0 && c.o_bias == 0 && c.gate == GATE_KIND_NONE);
    CU_ASSERT(c.rope.type == ROPE_TYPE_DEFAULT && c.rope.theta == 10000);
    CU_ASSERT_EQUAL(parse(&c, &e, "{" BASE ",\"use_qk_norm\":false,\"head_dim\":32,\"num_key_value_heads\":2}", "qwen3"), SS_OK);
    CU_ASSERT(c.qk_norm == 0 && c.head_dim == 32 && c.n_kv_heads == 2);
    CU_ASSERT_EQUAL(parse(&c, &e, "{" BASE "}", "qwen2"), SS_OK);
    CU_ASSERT(c.qkv_bias == 1 && c.o_bias == 0 && c.qk_norm == 0); /* Qwen2: q/k/v bias always */
    CU_ASSERT_EQUAL(parse(&c, &e, "{" BASE ",\"attention_bias\":true}", "llama"), SS_OK);
    CU_ASSERT(c.qkv_bias == 1 && c.o_bias == 1);
    CU_ASSERT_EQUAL(parse(&c, &e, "{" BASE ",\"qkv_bias\":true,\"num_key_value_heads\":2,"
                                  "\"headwise_attn_output_gate\":true}", "qwen3"), SS_OK);
    CU_ASSERT(c.qkv_bias == 1 && c.o_bias == 1 && c.gate == GATE_KIND_HEADWISE);
    CU_ASSERT_EQUAL(model_config_q_out(&c), 4 * 16 + 4);
    CU_ASSERT_EQUAL(model_config_q_group_rows(&c), 2 * 16 + 2);
    CU_ASSERT_EQUAL(parse(&c, &e, "{" BASE ",\"num_key_value_heads\":2,\"elementwise_attn_output_gate\":true}", "qwen3"),
                    SS_OK);
    CU_ASSERT(c.gate == GATE_KIND_ELEMENTWISE && model_config_q_out(&c) == 2 * 4 * 16 && model_config_gate_dim(&c) == 16);
    CU_ASSERT_EQUAL(parse(&c, &e, "{" BASE ",\"sliding_window\":4096,\"eos_token_id\":[7,8]}", "mistral"), SS_OK);
    CU_ASSERT(c.sliding_window == 4096 && c.eos_token_id == 7 && c.bos_token_id == -1);
    /* the paper's gated-1b release: parameter counts 1720.8 / 1721.8 / 1728.2 M */
    CU_ASSERT_EQUAL(parse(&c, &e, "{\"model_type\":\"%s\",\"num_hidden_layers\":28,\"hidden_size\":2048,"
                                  "\"num_attention_heads\":16,\"num_key_value_heads\":8,\"head_dim\":128,"
                                  "\"intermediate_size\":6144,\"vocab_size\":152064,\"tie_word_embeddings\":true}", "qwen3"),
                    SS_OK);
    size_t base = model_config_n_params(&c);
    c.gate = GATE_KIND_HEADWISE;
    size_t hw = model_config_n_params(&c);
    c.gate = GATE_KIND_ELEMENTWISE, c.ffn = 5504;
    size_t ew = model_config_n_params(&c);
    printf("  gated-1b parameters: %.2f / %.2f / %.2f M\n", base / 1e6, hw / 1e6, ew / 1e6);
    CU_ASSERT(llround(base / 1e5) == 17208 && llround(hw / 1e5) == 17218 && llround(ew / 1e5) == 17282);
}

static void test_rope_spellings(void)
{
    struct model_config a, b, d;
    struct ss_error e = {0};
    /* v5 rope_parameters and the old rope_theta + rope_scaling with "type" read the same */
    CU_ASSERT_EQUAL_FATAL(parse(&a, &e, "{" BASE ",\"rope_parameters\":{\"rope_type\":\"yarn\",\"rope_theta\":1000.0,"
                                        "\"factor\":4.0,\"original_max_position_embeddings\":16}}", "llama"), SS_OK);
    CU_ASSERT_EQUAL_FATAL(parse(&b, &e, "{" BASE ",\"rope_theta\":1000,\"rope_scaling\":{\"type\":\"yarn\","
                                        "\"factor\":4.0,\"original_max_position_embeddings\":16}}", "llama"), SS_OK);
    CU_ASSERT_EQUAL_FATAL(parse(&d, &e, "{" BASE ",\"rope_theta\":1000,\"rope_scaling\":{\"rope_type\":\"yarn\","
                                        "\"original_max_position_embeddings\":16}}", "llama"), SS_OK);
    float ia[8], ib[8], id[8];
    rope_inv_freq(&a.rope, 16, 64, ia);
    rope_inv_freq(&b.rope, 16, 64, ib);
    rope_inv_freq(&d.rope, 16, 64, id); /* factor absent: max_position_embeddings / original = 4 */
    CU_ASSERT(!memcmp(ia, ib, sizeof ia) && !memcmp(ia, id, sizeof ia));
    CU_ASSERT(a.rope.type == ROPE_TYPE_YARN && b.rope.theta == 1000 && d.rope.factor == 4);
    CU_ASSERT(a.rope.beta_fast == 32 && a.rope.beta_slow == 1 && a.rope.truncate == 1);
    /* llama3 in both spellings */
    CU_ASSERT_EQUAL(parse(&a, &e, "{" BASE ",\"rope_parameters\":{\"rope_type\":\"llama3\",\"rope_theta\":500000.0,"
                                  "\"factor\":32.0,\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,"
                                  "\"original_max_position_embeddings\":8192}}", "llama"), SS_OK);
    CU_ASSERT_EQUAL(parse(&b, &e, "{" BASE ",\"rope_theta\":500000.0,\"rope_scaling\":{\"rope_type\":\"llama3\","
                                  "\"factor\":32.0,\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,"
                                  "\"original_max_position_embeddings\":8192}}", "llama"), SS_OK);
    CU_ASSERT(a.rope.type == ROPE_TYPE_LLAMA3 && b.rope.type == ROPE_TYPE_LLAMA3 && a.rope.factor == b.rope.factor &&
              a.rope.theta == b.rope.theta && a.rope.original_max_pos == 8192 && b.rope.high_freq_factor == 4);
    /* rope_theta outside rope_parameters (some v5 files) and null rope_scaling */
    CU_ASSERT_EQUAL(parse(&a, &e, "{" BASE ",\"rope_theta\":1e6,\"rope_scaling\":null}", "qwen2"), SS_OK);
    CU_ASSERT(a.rope.type == ROPE_TYPE_DEFAULT && a.rope.theta == 1e6);
}

static void test_inv_freq_values(void)
{
    struct rope_config r = {.type = ROPE_TYPE_DEFAULT, .theta = 10000};
    float inv[64];
    rope_inv_freq(&r, 8, 64, inv); /* 10000^(-2i/8) */
    double want[4] = {1, 0.1, 0.01, 0.001}, md = 0;
    for (int i = 0; i < 4; i++)
        md = fmax(md, rel(inv[i], want[i]));
    r.type = ROPE_TYPE_LINEAR, r.factor = 4;
    rope_inv_freq(&r, 8, 64, inv);
    for (int i = 0; i < 4; i++)
        md = fmax(md, rel(inv[i], want[i] / 4));
    printf("  default/linear inv_freq: max rel diff %.2g\n", md);
    CU_ASSERT(md < 1e-6);

    /* llama3 (the llama_f16 fixture's numbers): D 32, base 1e4, factor 8, low 1, high 4, original 64.
     * wavelength 2 pi / f: < 16 kept, > 64 divided by 8, between: ((1-s)/8 + s) f, s = (64/wl - 1)/3 */
    r = (struct rope_config){.type = ROPE_TYPE_LLAMA3, .theta = 10000, .factor = 8, .low_freq_factor = 1,
                             .high_freq_factor = 4, .original_max_pos = 64};
    rope_inv_freq(&r, 32, 64, inv);
    md = 0;
    int kept = 0, divided = 0, smooth = 0;
    for (int i = 0; i < 16; i++) {
        double f = pow(10000, -2.0 * i / 32), wl = 2 * M_PI / f, w;
        if (wl < 16)
            w = f, kept++;
        else if (wl > 64)
            w = f / 8, divided++;
        else {
            double s = (64 / wl - 1) / 3;
            w = ((1 - s) / 8 + s) * f, smooth++;
        }
        md = fmax(md, rel(inv[i], w));
    }
    printf("  llama3 inv_freq: %d kept, %d smoothed, %d divided; max rel diff %.2g\n", kept, smooth, divided, md);
    CU_ASSERT(md < 1e-5 && kept == 2 && smooth > 0 && divided > 0);

    /* yarn (the oldstyle fixture): D 16, base 1000, factor 4, original 16: README numbers */
    r = (struct rope_config){.type = ROPE_TYPE_YARN, .theta = 1000, .factor = 4, .original_max_pos = 16,
                             .beta_fast = 32, .beta_slow = 1, .truncate = 1};
    rope_inv_freq(&r, 16, 64, inv);
    double yw[4] = {1.0, 0.26356, 0.044457, 0.0187474};
    md = 0;
    for (int i = 0; i < 4; i++)
        md = fmax(md, rel(inv[i], yw[i]));
    /* by hand: low = floor(16 ln(16/(64 pi)) / (2 ln 1000)) -> 0, high = ceil(16 ln(16/(2 pi)) / (2 ln 1000)) = 2;
     * ramp r_i = clamp(i/2); inv = f/4 * r + f * (1 - r) */
    for (int i = 0; i < 8; i++) {
        double f = pow(1000, -2.0 * i / 16), rp = fmin(1, i / 2.0);
        md = fmax(md, rel(inv[i], f / 4 * rp + f * (1 - rp)));
    }
    float af = rope_attention_factor(&r, 64);
    printf("  yarn inv_freq: max rel diff %.2g, attention factor %.7f (0.1 ln 4 + 1 = %.7f)\n", md, af,
           0.1 * log(4) + 1);
    CU_ASSERT(md < 2e-5);
    CU_ASSERT(fabs(af - (0.1 * log(4) + 1)) < 1e-6);
    /* truncate false: the ramp uses the unrounded correction dims */
    r.truncate = 0;
    rope_inv_freq(&r, 16, 64, inv);
    double lo = fmax(0, 16 * log(16 / (32 * 2 * M_PI)) / (2 * log(1000))), hi = 16 * log(16 / (2 * M_PI)) / (2 * log(1000));
    md = 0;
    for (int i = 0; i < 8; i++) {
        double f = pow(1000, -2.0 * i / 16), rp = fmin(1, fmax(0, (i - lo) / (hi - lo)));
        md = fmax(md, rel(inv[i], f / 4 * rp + f * (1 - rp)));
    }
    printf("  yarn truncate=false: max rel diff %.2g (ramp %.4f..%.4f)\n", md, lo, hi);
    CU_ASSERT(md < 2e-5);
    /* attention factor: explicit, and the mscale / mscale_all_dim ratio */
    r.attention_factor = 0.5;
    CU_ASSERT(rope_attention_factor(&r, 64) == 0.5f);
    r.attention_factor = 0, r.mscale = 2, r.mscale_all_dim = 1;
    CU_ASSERT(fabs(rope_attention_factor(&r, 64) - (0.2 * log(4) + 1) / (0.1 * log(4) + 1)) < 1e-6);
}

static void expect_error(const char *fmt, const char *type, const char *needle)
{
    struct model_config c;
    struct ss_error e = {0};
    enum ss_status st = parse(&c, &e, fmt, type);
    printf("  -> %s\n", e.msg);
    CU_ASSERT_EQUAL(st, SS_ERR_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "ck/config.json"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, needle));
}

static void test_errors(void)
{
    expect_error("{" BASE "}", "mamba", "unknown model type 'mamba' (supported: qwen3, qwen2, llama, mistral, gpt2, gpt_neox, opt, phi3, gemma2, gemma3_text, gemma3, olmo2, qwen3_moe, mixtral, gpt_oss)");
    expect_error("{\"num_hidden_layers\":2}", "", "'model_type'");
    expect_error("{\"model_type\":\"%s\",\"num_hidden_layers\":2,\"num_attention_heads\":4,\"intermediate_size\":96,"
                 "\"vocab_size\":100}", "qwen3", "'hidden_size' is missing");
    expect_error("{\"model_type\":\"%s\",\"num_hidden_layers\":2,\"hidden_size\":\"64\",\"num_attention_heads\":4,"
                 "\"intermediate_size\":96,\"vocab_size\":100}", "qwen3", "'hidden_size' must be an integer");
    expect_error("{" BASE ",\"rms_norm_eps\":\"small\"}", "qwen3", "'rms_norm_eps' must be a number");
    expect_error("{" BASE ",\"use_qk_norm\":1}", "qwen3", "'use_qk_norm' must be true or false");
    expect_error("{" BASE ",\"num_key_value_heads\":3}", "qwen3", "'num_key_value_heads'");
    expect_error("{" BASE ",\"headwise_attn_output_gate\":true,\"elementwise_attn_output_gate\":true}", "qwen3",
                 "cannot both");
    expect_error("{" BASE ",\"rope_scaling\":{\"type\":\"dynamic\",\"factor\":2}}", "llama", "'dynamic'");
    expect_error("{" BASE ",\"rope_scaling\":{\"type\":\"linear\"}}", "llama", "'factor' is missing");
    expect_error("{" BASE ",\"rope_parameters\":{\"rope_type\":\"llama3\",\"factor\":8}}", "llama", "'low_freq_factor'");
    expect_error("{" BASE ",\"hidden_act\":\"gelu\"}", "llama", "'hidden_act'");
    expect_error("{" BASE ",\"mlp_bias\":true}", "llama", "'mlp_bias'");
    expect_error("[1]", "", "not a JSON object");
    expect_error("{" BASE, "qwen3", "not valid JSON");
    /* model_config_load names the file it could not open */
    struct model_config c;
    struct ss_error e = {0};
    CU_ASSERT_EQUAL(model_config_load(&c, "tests/out/no-such-dir", &e), SS_ERR_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "tests/out/no-such-dir/config.json"));
}

/* The fixtures' config.json files parse to what their README says. */
static void test_fixture_configs(void)
{
    struct model_config c;
    struct ss_error e = {0};
    if (model_config_load(&c, "tests/fixtures/llama_f16", &e) == SS_OK) {
        CU_ASSERT(c.rope.type == ROPE_TYPE_LLAMA3 && c.rope.factor == 8 && c.rope.original_max_pos == 64);
    }
    if (model_config_load(&c, "tests/fixtures/oldstyle", &e) == SS_OK) {
        CU_ASSERT(c.rope.type == ROPE_TYPE_YARN && c.rope.theta == 1000 && c.rope.factor == 4 &&
                  c.rope.original_max_pos == 16);
    }
    if (model_config_load(&c, "tests/fixtures/gated_headwise", &e) == SS_OK) {
        CU_ASSERT(c.gate == GATE_KIND_HEADWISE && c.qk_norm && model_config_q_out(&c) == 4 * 32 + 4);
    }
}

SS_SUITE(config)
{
    CU_pSuite s = CU_add_suite("config", NULL, NULL);
    CU_add_test(s, "fields, defaults, biases, gates, parameter counts", test_fields);
    CU_add_test(s, "rope_parameters vs rope_theta/rope_scaling spellings", test_rope_spellings);
    CU_add_test(s, "inv_freq of default, linear, llama3, yarn vs hand-computed", test_inv_freq_values);
    CU_add_test(s, "errors name config.json and the field", test_errors);
    CU_add_test(s, "fixture configs", test_fixture_configs);
}
