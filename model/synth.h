/* model/synth.h — random-weight checkpoints with the exact shapes of real models,
 * for benchmarks and memory tests (`sinkscope synth`). */
#ifndef SS_MODEL_SYNTH_H
#define SS_MODEL_SYNTH_H

#include <stdint.h>

#include "model.h"

/* Real models' shapes (the paper's 1B release for gated-1b). */
#define SYNTH_PRESETS "tiny, qwen3-0.6b, llama-3.2-1b, llama-3.1-8b, gated-1b, gpt2, pythia-1b, gemma-2-2b, olmo-2-1b, gpt-oss-20b"

struct synth_opts {
    const char *preset;        /* one of SYNTH_PRESETS */
    int gate;                  /* -1: the preset's (gated-1b: headwise, others none); else enum gate_kind */
    int layers;                /* 0: the preset's */
    int bf16;                  /* 1: BF16 tensors, 0: F32 */
    uint64_t seed;
    int force;                 /* 1: a non-empty DIR gets its config.json and model.safetensors replaced */
};

/* The config of a preset with opts applied; SS_ERR_INPUT for an unknown preset. */
enum ss_status synth_config(struct model_config *c, const struct synth_opts *o, struct ss_error *err);
/* Write DIR/config.json and DIR/model.safetensors, built in DIR.tmp-PID and moved in at
 * the end. DIR is created if missing and must be empty (or o->force: its two files are
 * replaced, nothing else touched); on failure nothing is left at DIR. */
enum ss_status synth_write(const char *dir, const struct synth_opts *o, struct ss_error *err);
/* Write c as a transformers-5 config.json (rope_parameters spelling) to path. */
enum ss_status synth_write_config(const char *path, const struct model_config *c, struct ss_error *err);

#endif
