/* cli/cmd_info.c — `sinkscope info`: config, gate layout, dtype, parameters, memory. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../model/arch.h"
#include "../model/model.h"
#include "../model/safetensors.h"
#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sinkscope info -m DIR [-c N] [-b N]\n"
            "  -m, --model DIR     checkpoint directory (config.json + safetensors)\n"
            "  -c, --ctx-size N    positions for the activation-memory estimate (default 2048)\n"
            "  -b, --batch N       windows per forward pass for the estimate (default: what `run` picks\n"
            "                      for a corpus of many windows)\n");
}

static void rope_line(const struct rope_config *r, int max_pos)
{
    static const char *const names[] = {"default", "linear", "llama3", "yarn", "longrope"};
    printf("rope           %s, theta %g", names[r->type], r->theta);
    if (r->type == ROPE_TYPE_LINEAR)
        printf(", factor %g", r->factor);
    if (r->type == ROPE_TYPE_LLAMA3)
        printf(", factor %g, low %g, high %g, original context %d", r->factor, r->low_freq_factor, r->high_freq_factor,
               r->original_max_pos);
    if (r->type == ROPE_TYPE_YARN)
        printf(", factor %g, original context %d, beta %g/%g, attention factor %.6g%s", r->factor, r->original_max_pos,
               r->beta_fast, r->beta_slow, rope_attention_factor(r, max_pos), r->truncate ? "" : ", no truncate");
    if (r->type == ROPE_TYPE_LONGROPE)
        printf(", %d short/long factors (long beyond %d positions), attention factor %.6g", r->n_factors,
               r->original_max_pos, rope_attention_factor(r, max_pos));
    printf("\n");
}

/* model_type, the family (model/arch.h), its blocks as this config sets them, what it refuses */
static void family_lines(const struct model_config *c)
{
    char blocks[512];
    arch_describe(c, blocks, sizeof blocks);
    printf("model_type     %s\n", c->model_type);
    printf("family         %s\n", c->arch->summary);
    printf("blocks         %s\n", blocks);
    printf("refused        %s\n", c->arch->refuses);
}

/* RoPE (global and local) and the layers with a sliding window */
static void position_lines(const struct model_config *c)
{
    if (c->v.pos == POS_ROPE)
        rope_line(&c->rope, c->max_pos);
    if (c->v.local_rope)
        printf("rope (local)   theta %g on sliding layers\n", c->v.rope_local.theta);
    if (c->window) {
        int ns = 0;
        for (int l = 0; l < c->n_layers; l++)
            ns += c->v.layer_sliding[l];
        printf("sliding layers %d of %d, window %d\n", ns, c->n_layers, c->window);
    }
}

/* "512.0 MB" below a gigabyte, "6.89 GB" above */
static const char *bytes_str(char *b, size_t n, double x)
{
    snprintf(b, n, x < 1e9 ? "%.1f MB" : "%.2f GB", x < 1e9 ? x / 1e6 : x / 1e9);
    return b;
}

int cmd_info(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'}, {"ctx-size", required_argument, NULL, 'c'},
        {"batch", required_argument, NULL, 'b'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL;
    int ctx = 2048, batch = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":m:c:b:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': dir = optarg; break;
        case 'c':
            if (cli_int_option(optarg, 1, 10000000, &ctx))
                return cli_usage_error("info", "-c must be an integer from 1 to 10000000 (got '%s')", optarg);
            break;
        case 'b':
            if (cli_int_option(optarg, 1, 100000, &batch))
                return cli_usage_error("info", "-b must be an integer from 1 to 100000 (got '%s')", optarg);
            break;
        case 'h': usage(stdout); return EXIT_CODE_OK;
        default: return cli_option_error("info", c, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error("info", "unexpected argument '%s'", argv[optind]);
    if (!dir)
        return cli_usage_error("info", "-m DIR is required");

    struct ss_error err = {0};
    struct model_config cfg;
    struct st_set set;
    if (model_config_load(&cfg, dir, &err) || st_open_dir(&set, dir, &err))
        return cli_report(&err);
    /* what the weights say: tying, dtype, stored parameters (headers only; no data read) */
    const struct tensor_desc *lm = arch_tensor(cfg.arch, TR_LM_HEAD), *et = arch_tensor(cfg.arch, TR_EMBED);
    cfg.tied = !lm || (!st_find(&set, lm->name) && !(lm->alt && st_find(&set, lm->alt)));
    size_t stored = 0, stored_bytes = 0;
    int dt_count[4] = {0}, mxfp4 = 0;
    for (int i = 0; i < set.n_tensors; i++) {
        const struct st_tensor *t = &set.tensors[i];
        size_t nl = strlen(t->name), packed = !strcmp(t->dtype_name, "U8") && nl > 7;
        /* MXFP4 (gpt_oss): a *_blocks byte holds two parameters, *_scales hold none */
        int blocks = packed && !strcmp(t->name + nl - 7, "_blocks"), scales = packed && !strcmp(t->name + nl - 7, "_scales");
        mxfp4 += blocks || scales;
        stored += scales ? 0 : st_numel(t) * (blocks ? 2 : 1);
        stored_bytes += set.tensors[i].end - set.tensors[i].begin;
        if (set.tensors[i].dtype <= ST_DTYPE_I32)
            dt_count[set.tensors[i].dtype]++;
    }
    const struct st_tensor *emb = st_find(&set, et->name);
    const char *pre = cfg.arch->optional_prefix; /* the Hub's GPT-2 leaves "transformer." out */
    if (!emb && pre && !strncmp(et->name, pre, strlen(pre))) {
        char alias[160]; /* multimodal Gemma 3 Hub files: "language_model.model." for "model.language_model." */
        snprintf(alias, sizeof alias, "%s%s", cfg.arch->prefix_alias ? cfg.arch->prefix_alias : "", et->name + strlen(pre));
        emb = st_find(&set, alias);
    }
    int n_files = set.n_files;
    char dtype[16];
    snprintf(dtype, sizeof dtype, "%s", emb ? emb->dtype_name : "?");
    st_close(&set);

    int G = cfg.n_heads / cfg.n_kv_heads, D = cfg.head_dim, P = model_config_q_group_rows(&cfg);
    printf("checkpoint     %s (%d safetensors file%s)\n", dir, n_files, n_files == 1 ? "" : "s");
    family_lines(&cfg);
    printf("layers         %d\n", cfg.n_layers);
    printf("hidden         %d\n", cfg.hidden);
    printf("heads          %d query, %d key/value (GQA group G = %d), head_dim %d\n", cfg.n_heads, cfg.n_kv_heads, G, D);
    printf("ffn            %d (%s)\n", cfg.ffn, cfg.v.ffn_plain ? "plain MLP" : "gated MLP");
    printf("vocab          %d\n", cfg.vocab);
    printf("max_positions  %d\n", cfg.max_pos);
    position_lines(&cfg);
    printf("norm_eps       %g\n", cfg.rms_eps);
    printf("qk_norm        %s\n", cfg.qk_norm ? "yes (q_norm/k_norm on head_dim, queries only)" : "no");
    printf("biases         q/k/v %s, o_proj %s\n", cfg.qkv_bias ? "yes" : "no", cfg.o_bias ? "yes" : "no");
    if (cfg.sliding_window)
        printf("sliding_window %d\n", cfg.sliding_window);
    printf("embeddings     %s %s\n", cfg.tied ? "tied: no" : "untied:", lm ? lm->name : "output head");
    printf("gate           %s", gate_kind_name(cfg.gate));
    if (cfg.gate == GATE_KIND_NONE)
        printf(" (q_proj %d rows = %d heads x %d)\n", model_config_q_out(&cfg), cfg.n_heads, D);
    else
        printf(" (gate_dim %d)\n", model_config_gate_dim(&cfg));
    if (cfg.gate != GATE_KIND_NONE) {
        int gd = model_config_gate_dim(&cfg);
        printf("q_proj layout  %d rows = %d KV groups x P = %d; in group g (rows g*%d + ...):\n", model_config_q_out(&cfg),
               cfg.n_kv_heads, P, P);
        printf("               queries of heads g*%d+j at [j*%d, j*%d+%d), j < %d\n", G, D, D, D, G);
        printf("               gates   of heads g*%d+j at [%d + j*%d, %d + j*%d+%d)\n", G, G * D, gd, G * D, gd, gd);
    }
    printf("dtype          %s (tensors: %d F32, %d BF16, %d F16", dtype, dt_count[ST_DTYPE_F32],
           dt_count[ST_DTYPE_BF16], dt_count[ST_DTYPE_F16]);
    printf(mxfp4 ? ", %d U8 MXFP4 blocks/scales)\n" : ")\n", mxfp4);
    if (cfg.v.n_experts)
        printf("experts        %d, top-%d per token, expert FFN %d%s\n", cfg.v.n_experts, cfg.v.top_k, cfg.v.moe_ffn,
               cfg.v.experts_mxfp4 ? ", MXFP4" : "");
    printf("parameters     %zu stored (%.3f B); config implies %zu\n", stored, stored * 1e-9, model_config_n_params(&cfg));
    struct forward_opts fo = {0};
    struct run_memory rm;
    fo.batch = batch ? batch : run_memory_batch(&cfg, stored_bytes, ctx, &fo, RUN_BATCH_AUTO);
    run_memory_plan(&rm, &cfg, stored_bytes, ctx, &fo);
    double have = (double)machine_memory_bytes();
    char b1[32], b2[32], b3[32], b4[32], b5[32];
    printf("memory         %s at %d positions x %d window(s) per pass%s, %d thread(s): weights %s (%s, mapped) + "
           "activations %s + scratch %s\n",
           bytes_str(b1, 32, (double)rm.total), ctx, rm.batch, batch ? "" : " (run's default)", rm.threads, bytes_str(b2, 32, (double)rm.weights), dtype,
           bytes_str(b3, 32, (double)rm.activations), bytes_str(b4, 32, (double)(rm.scratch + rm.small)));
    printf("machine        %s of memory: %s\n", bytes_str(b5, 32, have),
           !have ? "unknown" : rm.total <= have ? "the run fits" : "the run does NOT fit (run refuses it)");
    return EXIT_CODE_OK;
}
