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

/* What the safetensors headers say (no data read): tying, dtypes, stored parameters. */
struct stored {
    int n_files, dt_count[4], mxfp4;
    size_t params, bytes;
    char dtype[16];            /* the embedding's dtype: the checkpoint's */
    char lm_name[160];         /* the output head's tensor name, or "output head" */
};

static enum ss_status stored_scan(struct stored *st, struct model_config *cfg, const char *dir, struct ss_error *err)
{
    struct st_set set;
    memset(st, 0, sizeof *st);
    if (st_open_dir(&set, dir, err))
        return err->status;
    const struct tensor_desc *lm = arch_tensor(cfg->arch, TR_LM_HEAD), *et = arch_tensor(cfg->arch, TR_EMBED);
    cfg->tied = !lm || (!st_find(&set, lm->name) && !(lm->alt && st_find(&set, lm->alt)));
    snprintf(st->lm_name, sizeof st->lm_name, "%s", lm ? lm->name : "output head");
    for (int i = 0; i < set.n_tensors; i++) {
        const struct st_tensor *t = &set.tensors[i];
        size_t nl = strlen(t->name), packed = !strcmp(t->dtype_name, "U8") && nl > 7;
        /* MXFP4 (gpt_oss): a *_blocks byte holds two parameters, *_scales hold none */
        int blocks = packed && !strcmp(t->name + nl - 7, "_blocks"), scales = packed && !strcmp(t->name + nl - 7, "_scales");
        st->mxfp4 += blocks || scales;
        st->params += scales ? 0 : st_numel(t) * (blocks ? 2 : 1);
        st->bytes += t->end - t->begin;
        if (t->dtype <= ST_DTYPE_I32)
            st->dt_count[t->dtype]++;
    }
    const struct st_tensor *emb = st_find(&set, et->name);
    const char *pre = cfg->arch->optional_prefix; /* the Hub's GPT-2 leaves "transformer." out */
    if (!emb && pre && !strncmp(et->name, pre, strlen(pre))) {
        char alias[160]; /* multimodal Gemma 3 Hub files: "language_model.model." for "model.language_model." */
        snprintf(alias, sizeof alias, "%s%s", cfg->arch->prefix_alias ? cfg->arch->prefix_alias : "",
                 et->name + strlen(pre));
        emb = st_find(&set, alias);
    }
    st->n_files = set.n_files;
    snprintf(st->dtype, sizeof st->dtype, "%s", emb ? emb->dtype_name : "?");
    st_close(&set);
    return SS_OK;
}

/* Shapes, norms, biases, tying and the gate layout. */
static void shape_lines(const struct model_config *cfg, const char *lm_name)
{
    int G = cfg->n_heads / cfg->n_kv_heads, D = cfg->head_dim, P = model_config_q_group_rows(cfg);
    printf("layers         %d\n", cfg->n_layers);
    printf("hidden         %d\n", cfg->hidden);
    printf("heads          %d query, %d key/value (GQA group G = %d), head_dim %d\n", cfg->n_heads, cfg->n_kv_heads, G, D);
    printf("ffn            %d (%s)\n", cfg->ffn, cfg->v.ffn_plain ? "plain MLP" : "gated MLP");
    printf("vocab          %d\n", cfg->vocab);
    printf("max_positions  %d\n", cfg->max_pos);
    position_lines(cfg);
    printf("norm_eps       %g\n", cfg->rms_eps);
    printf("qk_norm        %s\n", cfg->qk_norm ? "yes (q_norm/k_norm on head_dim, queries only)" : "no");
    printf("biases         q/k/v %s, o_proj %s\n", cfg->qkv_bias ? "yes" : "no", cfg->o_bias ? "yes" : "no");
    if (cfg->sliding_window)
        printf("sliding_window %d\n", cfg->sliding_window);
    printf("embeddings     %s %s\n", cfg->tied ? "tied: no" : "untied:", lm_name);
    printf("gate           %s", gate_kind_name(cfg->gate));
    if (cfg->gate == GATE_KIND_NONE) {
        printf(" (q_proj %d rows = %d heads x %d)\n", model_config_q_out(cfg), cfg->n_heads, D);
        return;
    }
    int gd = model_config_gate_dim(cfg);
    printf(" (gate_dim %d)\n", gd);
    printf("q_proj layout  %d rows = %d KV groups x P = %d; in group g (rows g*%d + ...):\n", model_config_q_out(cfg),
           cfg->n_kv_heads, P, P);
    printf("               queries of heads g*%d+j at [j*%d, j*%d+%d), j < %d\n", G, D, D, D, G);
    printf("               gates   of heads g*%d+j at [%d + j*%d, %d + j*%d+%d)\n", G, G * D, gd, G * D, gd, gd);
}

/* The memory plan of a run at ctx positions (batch 0: run's default) against the machine. */
static void memory_lines(const struct model_config *cfg, const struct stored *st, int ctx, int batch)
{
    struct forward_opts fo = {0};
    struct run_memory rm;
    fo.batch = batch ? batch : run_memory_batch(cfg, st->bytes, ctx, &fo, RUN_BATCH_AUTO);
    run_memory_plan(&rm, cfg, st->bytes, ctx, &fo);
    double have = (double)machine_memory_bytes();
    char b1[32], b2[32], b3[32], b4[32], b5[32];
    printf("memory         %s at %d positions x %d window(s) per pass%s, %d thread(s): weights %s (%s, mapped) + "
           "activations %s + scratch %s\n",
           bytes_str(b1, 32, (double)rm.total), ctx, rm.batch, batch ? "" : " (run's default)", rm.threads,
           bytes_str(b2, 32, (double)rm.weights), st->dtype, bytes_str(b3, 32, (double)rm.activations),
           bytes_str(b4, 32, (double)(rm.scratch + rm.small)));
    printf("machine        %s of memory: %s\n", bytes_str(b5, 32, have),
           !have ? "unknown" : rm.total <= have ? "the run fits" : "the run does NOT fit (run refuses it)");
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
    struct stored st;
    if (model_config_load(&cfg, dir, &err) || stored_scan(&st, &cfg, dir, &err))
        return cli_report(&err);
    printf("checkpoint     %s (%d safetensors file%s)\n", dir, st.n_files, st.n_files == 1 ? "" : "s");
    family_lines(&cfg);
    shape_lines(&cfg, st.lm_name);
    printf("dtype          %s (tensors: %d F32, %d BF16, %d F16", st.dtype, st.dt_count[ST_DTYPE_F32],
           st.dt_count[ST_DTYPE_BF16], st.dt_count[ST_DTYPE_F16]);
    printf(st.mxfp4 ? ", %d U8 MXFP4 blocks/scales)\n" : ")\n", st.mxfp4);
    if (cfg.v.n_experts)
        printf("experts        %d, top-%d per token, expert FFN %d%s\n", cfg.v.n_experts, cfg.v.top_k, cfg.v.moe_ffn,
               cfg.v.experts_mxfp4 ? ", MXFP4" : "");
    printf("parameters     %zu stored (%.3f B); config implies %zu\n", st.params, st.params * 1e-9,
           model_config_n_params(&cfg));
    memory_lines(&cfg, &st, ctx, batch);
    return EXIT_CODE_OK;
}
