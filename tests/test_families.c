/* tests/test_families.c — the architecture table (model/arch.h): every family's
 * table is well formed, its config.json spellings (the Hub's and transformers 5's)
 * read the same, a missing or contradictory field is one line naming the file and
 * the field, and the synth presets have the real models' parameter counts. The
 * forward itself is checked against transformers in the forward suite (fixtures). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../model/arch.h"
#include "../model/synth.h"
#include "test_util.h"

/* Per-layer names take exactly one %d, the others none. */
static void test_tables(void)
{
    int bad = 0, n = 0;
    for (int i = 0; arch_list[i]; i++) {
        const struct arch *a = arch_list[i];
        int embed = 0;
        for (int j = 0; j < a->n_tensors; j++, n++) {
            const char *nm = a->tensors[j].name, *p = strstr(nm, "%d");
            int per_layer = a->tensors[j].role >= TR_LAYER_FIRST;
            if (p && TR_IS_EXPERT(a->tensors[j].role)) /* experts: (layer, expert) */
                p = strstr(p + 1, "%d");
            if (per_layer != (p != NULL) || (p && strstr(p + 1, "%")) || (!p && strchr(nm, '%'))) {
                printf("  %s: bad name format '%s'\n", a->model_types[0], nm);
                bad++;
            }
            embed += a->tensors[j].role == TR_EMBED;
        }
        bad += embed != 1 || a->tensors[0].role != TR_EMBED; /* the loader finds the layout by the first entry */
        CU_ASSERT_PTR_EQUAL(arch_find(a->model_types[0]), a);
    }
    printf("  %d tensor entries in %s: %d bad\n", n, arch_supported(), bad);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_PTR_NULL(arch_find("mamba"));
}

static enum ss_status parse_file(struct model_config *c, const char *path, struct ss_error *e)
{
    size_t n;
    char *text = test_read_file(path, &n);
    if (!text)
        return ss_fail(e, SS_ERR_IO, "%s: cannot read", path);
    enum ss_status st = model_config_parse(c, text, path, e);
    free(text);
    return st;
}

/* The Hub's spelling (fixtures' config.json, verbatim) and transformers 5's
 * (tests/fixtures/v5configs/NAME.json: the same config saved by save_pretrained)
 * give the same config. */
static void test_spellings(void)
{
    static const char *const names[] = {"gpt2_bf16", "gpt2_hub", "pythia_f16", "opt_f16", "opt350_bf16",
                                        "phi3_long", "phi3_short", "gemma2_bf16", "gemma3_f16", "olmo2_f32",
                                        "gpt_oss_bf16"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char p1[256], p2[256];
        snprintf(p1, sizeof p1, "tests/fixtures/%s/config.json", names[i]);
        snprintf(p2, sizeof p2, "tests/fixtures/v5configs/%s.json", names[i]);
        struct model_config a, b;
        struct ss_error e = {0};
        CU_ASSERT_EQUAL_FATAL(parse_file(&a, p1, &e), SS_OK);
        CU_ASSERT_EQUAL_FATAL(parse_file(&b, p2, &e), SS_OK);
        int same = a.arch == b.arch && a.n_layers == b.n_layers && a.hidden == b.hidden && a.n_heads == b.n_heads &&
                   a.n_kv_heads == b.n_kv_heads && a.head_dim == b.head_dim && a.ffn == b.ffn && a.vocab == b.vocab &&
                   a.max_pos == b.max_pos && a.rms_eps == b.rms_eps && a.tied == b.tied && a.qk_norm == b.qk_norm &&
                   a.sliding_window == b.sliding_window && a.window == b.window &&
                   !memcmp(&a.rope, &b.rope, sizeof a.rope) && !memcmp(&a.v, &b.v, sizeof a.v);
        char d[512];
        arch_describe(&a, d, sizeof d);
        printf("  %-12s %s spellings agree %d: %s\n", names[i], a.model_type, same, d);
        CU_ASSERT(same);
    }
}

/* config (as JSON), the field the one-line error must name */
static const struct {
    const char *json, *field;
} bad_configs[] = {
#define QMOE "{\"model_type\":\"qwen3_moe\",\"num_hidden_layers\":2,\"hidden_size\":64,\"num_attention_heads\":4," \
             "\"intermediate_size\":96,\"vocab_size\":50,\"moe_intermediate_size\":32,\"num_experts\":4,"
    {QMOE "\"num_experts_per_tok\":5}", "'num_experts_per_tok' must be in [1, min(experts, 64)]"},
    {QMOE "\"num_experts_per_tok\":2,\"mlp_only_layers\":[2]}", "'mlp_only_layers' must list layer indices"},
    {QMOE "\"num_experts_per_tok\":2,\"mlp_only_layers\":1}", "'mlp_only_layers' must be a list"},
    {"{\"model_type\":\"mixtral\",\"num_hidden_layers\":2,\"hidden_size\":64,\"num_attention_heads\":4,"
     "\"intermediate_size\":96,\"vocab_size\":50,\"num_experts_per_tok\":2}", "'num_local_experts' is missing"},
#define OSS "{\"model_type\":\"gpt_oss\",\"num_hidden_layers\":2,\"hidden_size\":64,\"num_attention_heads\":4," \
            "\"num_key_value_heads\":2,\"head_dim\":16,\"intermediate_size\":64,\"vocab_size\":50,\"num_local_experts\":4," \
            "\"num_experts_per_tok\":2,"
    {OSS "\"sliding_window\":0}", "'sliding_window' must be positive when layer_types has sliding layers"},
    {OSS "\"quantization_config\":[1]}", "'quantization_config' must be an object"},
    {OSS "\"quantization_config\":{\"bits\":4}}", "'quantization_config' has no quant_method"},
    {OSS "\"intermediate_size\":48,\"quantization_config\":{\"quant_method\":\"mxfp4\"}}",
     "'intermediate_size' must be a multiple of 32 for MXFP4 experts"},
    {OSS "\"swiglu_limit\":0}", "'swiglu_limit' must be positive"},
    {"{\"model_type\":\"gpt2\",\"n_layer\":2,\"n_head\":4,\"vocab_size\":50,\"n_positions\":32}", "'n_embd' is missing"},
    {"{\"model_type\":\"gpt2\",\"n_layer\":2,\"n_embd\":64,\"n_head\":5,\"vocab_size\":50,\"n_positions\":32}", "'n_head'"},
    {"{\"model_type\":\"gpt2\",\"n_layer\":2,\"n_embd\":64,\"n_head\":4,\"vocab_size\":50,\"n_positions\":32,"
     "\"scale_attn_by_inverse_layer_idx\":true}", "'scale_attn_by_inverse_layer_idx' true is not supported"},
    {"{\"model_type\":\"gpt2\",\"n_layer\":2,\"n_embd\":64,\"n_head\":4,\"vocab_size\":50,\"n_positions\":32,"
     "\"reorder_and_upcast_attn\":true}", "'reorder_and_upcast_attn' true is not supported"},
    {"{\"model_type\":\"gpt2\",\"n_layer\":2,\"n_embd\":64,\"n_head\":4,\"vocab_size\":50,\"n_positions\":32,"
     "\"activation_function\":\"tanh\"}", "'activation_function' must be one of"},
    {"{\"model_type\":\"gpt_neox\",\"num_hidden_layers\":2,\"hidden_size\":64,\"num_attention_heads\":4,"
     "\"vocab_size\":50}", "'intermediate_size' is missing"},
    {"{\"model_type\":\"gpt_neox\",\"num_hidden_layers\":2,\"hidden_size\":64,\"num_attention_heads\":4,"
     "\"intermediate_size\":128,\"vocab_size\":50,\"rotary_pct\":1.5}", "'rotary_pct' must be in (0, 1]"},
    {"{\"model_type\":\"opt\",\"num_hidden_layers\":2,\"hidden_size\":64,\"num_attention_heads\":4,"
     "\"vocab_size\":50,\"max_position_embeddings\":32}", "'ffn_dim' is missing"},
    {"{\"model_type\":\"opt\",\"num_hidden_layers\":2,\"hidden_size\":64,\"num_attention_heads\":4,\"ffn_dim\":96,"
     "\"vocab_size\":50,\"max_position_embeddings\":32,\"enable_bias\":false}", "'enable_bias' false"},
    {"{\"model_type\":\"phi3\",\"num_hidden_layers\":2,\"hidden_size\":64,\"num_attention_heads\":4,"
     "\"intermediate_size\":96,\"vocab_size\":50,\"partial_rotary_factor\":0.5,\"original_max_position_embeddings\":16,"
     "\"rope_scaling\":{\"type\":\"longrope\",\"short_factor\":[1,2,3],\"long_factor\":[1,2,3]}}",
     "'short_factor' must have one entry per rotated frequency"},
    {"{\"model_type\":\"phi3\",\"num_hidden_layers\":2,\"hidden_size\":64,\"num_attention_heads\":4,"
     "\"intermediate_size\":96,\"vocab_size\":50,\"original_max_position_embeddings\":16,"
     "\"rope_scaling\":{\"type\":\"longrope\",\"short_factor\":[1,2,3,4,5,6,7,8]}}", "'long_factor' is missing"},
    {"{\"model_type\":\"gemma2\",\"num_hidden_layers\":2,\"hidden_size\":64,\"num_attention_heads\":4,"
     "\"intermediate_size\":96,\"vocab_size\":50,\"layer_types\":[\"full_attention\"]}", "'layer_types' must list one"},
    {"{\"model_type\":\"gemma2\",\"num_hidden_layers\":2,\"hidden_size\":64,\"num_attention_heads\":4,"
     "\"intermediate_size\":96,\"vocab_size\":50,\"query_pre_attn_scalar\":0}", "'query_pre_attn_scalar' must be positive"},
    {"{\"model_type\":\"gemma3_text\",\"num_hidden_layers\":2,\"hidden_size\":64,\"num_attention_heads\":4,"
     "\"intermediate_size\":96,\"vocab_size\":50,\"layer_types\":[\"full_attention\",\"local\"]}", "'layer_types' must hold"},
    {"{\"model_type\":\"gemma3\",\"vision_config\":{}}", "'text_config' is missing"},
    {"{\"model_type\":\"gemma3\",\"text_config\":[]}", "'text_config' must be an object"},
    {"{\"model_type\":\"olmo2\",\"num_hidden_layers\":2,\"hidden_size\":64,\"num_attention_heads\":4,"
     "\"intermediate_size\":96,\"vocab_size\":50,\"attention_bias\":true}", "'attention_bias' true is not supported"},
    {"{\"model_type\":\"olmo2\",\"hidden_size\":64,\"num_attention_heads\":4,\"intermediate_size\":96,"
     "\"vocab_size\":50}", "'num_hidden_layers' is missing"},
};

static void test_bad_configs(void)
{
    for (size_t i = 0; i < sizeof bad_configs / sizeof bad_configs[0]; i++) {
        struct model_config c;
        struct ss_error e = {0};
        enum ss_status st = model_config_parse(&c, bad_configs[i].json, "ck/config.json", &e);
        int ok = st == SS_ERR_INPUT && !strncmp(e.msg, "ck/config.json: field ", 22) && strstr(e.msg, bad_configs[i].field) &&
                 !strchr(e.msg, '\n');
        printf("  -> %s%s\n", e.msg, ok ? "" : "  (expected field " /* the needle follows */);
        if (!ok)
            printf("     %s\n", bad_configs[i].field);
        CU_ASSERT(ok);
    }
}

/* Parameters of the presets' full shapes = the real checkpoints' counts; the config
 * synth writes reads back as the same config. */
static void test_presets(void)
{
    static const struct {
        const char *preset;
        size_t params; /* 0: printed only */
    } p[] = {{"gpt2", 124439808}, {"pythia-1b", 1011781632}, {"gemma-2-2b", 2614341888}, {"olmo-2-1b", 0},
             {"qwen3-0.6b", 596049920}};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) {
        struct synth_opts o = {.preset = p[i].preset, .gate = -1, .bf16 = 1, .seed = 1};
        struct model_config c;
        struct ss_error e = {0};
        CU_ASSERT_EQUAL_FATAL(synth_config(&c, &o, &e), SS_OK);
        size_t n = model_config_n_params(&c);
        printf("  preset %-11s %-12s %zu parameters%s\n", p[i].preset, c.model_type, n,
               p[i].params && n != p[i].params ? "  (differs from the real checkpoint)" : "");
        if (p[i].params)
            CU_ASSERT_EQUAL(n, p[i].params);
    }
}

/* Learned positions bound the sequence: one line naming the limit, no read past the table. */
static void test_learned_positions(void)
{
    struct model m;
    struct ss_error e = {0};
    CU_ASSERT_EQUAL_FATAL(model_load(&m, "tests/fixtures/gpt2_hub", &e), SS_OK);
    int32_t tok[33] = {0};
    struct run_state *rs;
    struct forward_opts o = {.threads = 1};
    CU_ASSERT_EQUAL_FATAL(run_state_new(&rs, &m.cfg, 33, &o, &e), SS_OK);
    CU_ASSERT_EQUAL(model_forward(&m, rs, tok, 32, NULL, &o, &e), SS_OK);
    CU_ASSERT_EQUAL(model_forward(&m, rs, tok, 33, NULL, &o, &e), SS_ERR_INPUT);
    printf("  33 tokens on 32 learned positions: %s\n", e.msg);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "32 learned positions"));
    run_state_free(rs);
    model_free(&m);
}

/* A multimodal gemma3 config reads the text part: the sparse text_config of the Hub's
 * files (Gemma3TextConfig's defaults for the rest) = the gemma3_text fixture's config;
 * a bad field inside it names text_config; an unexpected tensor is still refused. */
static void test_gemma3_multimodal(void)
{
    struct model_config a, b;
    struct ss_error e = {0};
    CU_ASSERT_EQUAL_FATAL(parse_file(&a, "tests/fixtures/gemma3_f16/config.json", &e), SS_OK);
    CU_ASSERT_EQUAL_FATAL(parse_file(&b, "tests/fixtures/gemma3mm_hub/config.json", &e), SS_OK);
    int same = a.n_layers == b.n_layers && a.hidden == b.hidden && a.n_heads == b.n_heads &&
               a.n_kv_heads == b.n_kv_heads && a.head_dim == b.head_dim && a.ffn == b.ffn && a.vocab == b.vocab &&
               a.max_pos == b.max_pos && a.rms_eps == b.rms_eps && a.qk_norm == b.qk_norm && a.window == b.window &&
               !memcmp(&a.rope, &b.rope, sizeof a.rope) && !memcmp(&a.v, &b.v, sizeof a.v);
    printf("  gemma3mm_hub (sparse text_config) reads as gemma3_f16: %d\n", same);
    CU_ASSERT(same);
    const char *bad = "{\"model_type\":\"gemma3\",\"text_config\":{\"query_pre_attn_scalar\":0}}";
    CU_ASSERT_EQUAL(model_config_parse(&b, bad, "ck/config.json", &e), SS_ERR_INPUT);
    printf("  -> %s\n", e.msg);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "ck/config.json (text_config): field 'query_pre_attn_scalar'"));
    /* every stored tensor but the vision ones is the text model's: an extra one is refused */
    char dir[] = "/tmp/ss_g3mm_XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cp tests/fixtures/gemma3mm_hub/config.json tests/fixtures/gemma3mm_hub/model.safetensors %s/ && "
             "sed -i 's/multi_modal_projector.mm_input/multi_modal_projektor.mm_input/' " /* same length: the header stays valid */
             "%s/model.safetensors", dir, dir);
    CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
    struct model m;
    CU_ASSERT_EQUAL(model_load(&m, dir, &e), SS_ERR_INPUT);
    printf("  -> %s\n", e.msg);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "unexpected tensor 'multi_modal_projektor.mm_input_projection_weight'"));
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

SS_SUITE(families)
{
    CU_pSuite s = CU_add_suite("families", NULL, NULL);
    CU_add_test(s, "every family's tensor table is well formed", test_tables);
    CU_add_test(s, "the Hub's and transformers 5's config spellings agree", test_spellings);
    CU_add_test(s, "a missing or contradictory field names the file and the field", test_bad_configs);
    CU_add_test(s, "multimodal gemma3: text_config with defaults, vision tensors ignored, others refused",
                test_gemma3_multimodal);
    CU_add_test(s, "presets have the real models' parameter counts", test_presets);
    CU_add_test(s, "learned positions bound the sequence length", test_learned_positions);
}
