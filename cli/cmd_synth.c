/* cli/cmd_synth.c — `sinkscope synth`: a random-weight checkpoint with a real model's shapes. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../model/synth.h"
#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sinkscope synth -o DIR --preset NAME [--gate none|headwise|elementwise] [--layers N]\n"
            "                       [--dtype bf16|f32] [--seed S] [--force]\n"
            "  -o, --output DIR    new or empty directory for config.json and model.safetensors\n"
            "      --force         DIR may be non-empty: replace its config.json and model.safetensors\n"
            "      --preset NAME   " SYNTH_PRESETS "\n"
            "                      (real models' shapes; gated-1b: the paper's 1B release)\n"
            "      --gate KIND     output gate inside q_proj (default: headwise for gated-1b, none otherwise;\n"
            "                      gated-1b elementwise narrows the FFN to 5504 as the paper does)\n"
            "      --layers N      keep only N decoder layers (default: the preset's)\n"
            "      --dtype T       bf16 (default) or f32\n"
            "      --seed S        random seed (default 1)\n");
}

int cmd_synth(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'}, {"preset", required_argument, NULL, 'P'},
        {"gate", required_argument, NULL, 'g'},   {"layers", required_argument, NULL, 'L'},
        {"dtype", required_argument, NULL, 'd'},  {"seed", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},         {"force", no_argument, NULL, 'f'},
        {NULL, 0, NULL, 0},
    };
    struct synth_opts so = {.gate = -1, .bf16 = 1, .seed = 1};
    const char *out = NULL;
    char *end;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'P': so.preset = optarg; break;
        case 'g':
            if (!strcmp(optarg, "none")) so.gate = GATE_KIND_NONE;
            else if (!strcmp(optarg, "headwise")) so.gate = GATE_KIND_HEADWISE;
            else if (!strcmp(optarg, "elementwise")) so.gate = GATE_KIND_ELEMENTWISE;
            else return cli_usage_error("synth", "--gate must be none, headwise or elementwise (got '%s')", optarg);
            break;
        case 'L':
            if (cli_int_option(optarg, 1, 1000, &so.layers))
                return cli_usage_error("synth", "--layers must be an integer from 1 to 1000 (got '%s')", optarg);
            break;
        case 'd':
            if (!strcmp(optarg, "bf16")) so.bf16 = 1;
            else if (!strcmp(optarg, "f32")) so.bf16 = 0;
            else return cli_usage_error("synth", "--dtype must be bf16 or f32 (got '%s')", optarg);
            break;
        case 's':
            so.seed = strtoull(optarg, &end, 10);
            if (*end || !*optarg)
                return cli_usage_error("synth", "--seed must be a non-negative integer (got '%s')", optarg);
            break;
        case 'f': so.force = 1; break;
        case 'h': usage(stdout); return EXIT_CODE_OK;
        default: return cli_option_error("synth", c, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error("synth", "unexpected argument '%s'", argv[optind]);
    if (!out)
        return cli_usage_error("synth", "-o DIR is required");
    if (!so.preset)
        return cli_usage_error("synth", "--preset is required");
    struct ss_error err = {0};
    struct model_config cfg;
    if (synth_config(&cfg, &so, &err) || synth_write(out, &so, &err))
        return cli_report(&err);
    printf("wrote %s: %s %s, %d layers, gate %s, %zu parameters\n", out, so.preset, cfg.dtype, cfg.n_layers,
           gate_kind_name(cfg.gate), model_config_n_params(&cfg));
    return EXIT_CODE_OK;
}
