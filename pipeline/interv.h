/* pipeline/interv.h — internal: the interventions of one pipeline run
 * (pipeline/interv.c; docs/EXPERIMENTS.md). */
#ifndef SS_PIPELINE_INTERV_H
#define SS_PIPELINE_INTERV_H

#include "../model/intervene.h"
#include "../model/model.h"
#include "../probes/probes.h"
#include "pipeline.h"

struct run_interv {
    struct rope_config rope;
    int has_rope;
    int *keys, n_keys;         /* --mask-keys */
    struct attn_mask mask;
    struct intervention iv;    /* --ablate, --gate constant=mean */
};
/* Parse the options against the config (bad values: SS_ERR_INPUT, one line). */
enum ss_status run_interv_parse(struct run_interv *ri, const struct pipeline_opts *a, const struct model_config *cfg,
                                struct ss_error *err);
/* Check the mask against the sequences, run the first pass if one is needed and
 * set fo's mask and edits (fo->rope is set before run_state_new). */
enum ss_status run_interv_apply(struct run_interv *ri, const struct model *m, struct run_state *rs,
                                const struct run_seqs *seqs, struct forward_opts *fo, struct ss_error *err);
void run_interv_free(struct run_interv *ri);
/* The run-file attributes of the interventions (after the run: ablated counts). */
void run_interv_meta(const struct run_interv *ri, const struct pipeline_opts *a, const struct model_config *cfg,
                     struct probes_interventions *pi);

#endif
