/* pipeline/pipeline.c — pipeline_run: output safety (write OUT.tmp-PID, rename when
 * complete, never leave a file at OUT on failure or signal), the sequence loop with the
 * probes subscribed, --resume records. */
#include "pipeline.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/fingerprint.h"
#include "../common/outfile.h"
#include "../common/index_list.h"
#include "../common/version.h"
#include "../model/model.h"
#include "../tokenizer/tokenizer.h"
#include "../runfile/h5write.h"
#include "../probes/probes.h"
#include "run_ctx.h"

struct combine {               /* a->dist, rank 0: what combining the records cost */
    double t0, bytes;
};

/* Bytes of the n records (what rank 0 reads to combine a spread run). */
static double records_bytes(const char *out, int n)
{
    char path[4300];
    struct stat st;
    double sum = 0;
    for (int seq = 0; seq < n; seq++) {
        run_record_path(path, sizeof path, out, seq);
        if (stat(path, &st) == 0)
            sum += (double)st.st_size;
    }
    return sum;
}

/* After a complete run: drop OUT.partial/ with its records and any seq_*.tmp-PID
 * a killed run left behind. Only the seq_* names this file writes are removed. */
static void remove_records(const char *out)
{
    char dir[4200], path[4500];
    snprintf(dir, sizeof dir, "%s.partial", out);
    DIR *d = opendir(dir);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));)
        if (!strncmp(e->d_name, "seq_", 4)) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    closedir(d);
    rmdir(dir);
}

/* The whole run into tmp (then renamed by the caller). */
static enum ss_status run_into(struct run_ctx *c, const char *tmp, double t_load, struct ss_error *err)
{
    const struct model_config *cfg = &c->m->cfg;
    enum ss_status s = SS_OK;
    int from_records = c->a->resume || c->a->dist; /* a->dist: computed before (run_spread) */
    if (c->a->resume && !c->a->dist && (s = run_records(c, err)))
        return s;
    if (from_records)
        probes_reset_totals(c->p);
    double tw0 = clock_now_s();
    struct h5w *w = NULL;
    s = h5w_create(&w, tmp, err);
    if (s)
        return s;
    s = probes_create_datasets(c->p, w, c->seqs.n, c->tk != NULL, err);
    c->t_write += clock_now_s() - tw0;
    for (int seq = 0; from_records && seq < c->seqs.n && !s; seq++) {
        char path[4300];
        struct h5w *rec = NULL;
        run_record_path(path, sizeof path, c->a->out, seq);
        s = h5w_open(&rec, path, 0, err);
        if (!s)
            s = probes_record_load(c->p, rec, seq, err);
        h5w_close(rec, NULL);
    }
    if (!from_records && !s)
        s = run_windows(c, w, err);
    tw0 = clock_now_s();
    if (!s)
        s = probes_write_results(c->p, w, err);
    char bos[32];
    snprintf(bos, sizeof bos, c->seqs.bos >= 0 ? "%d" : "none", c->seqs.bos);
    int threads = c->a->threads > 0 ? c->a->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    struct probes_meta meta = {
        SINKSCOPE_VERSION, c->a->model_dir, cfg->model_type, c->m->config_json, cfg->n_layers, cfg->n_heads,
        cfg->n_kv_heads, cfg->head_dim, cfg->hidden, cfg->vocab, gate_kind_name(cfg->gate), c->a->gate, threads,
        c->seqs.T, c->seqs.n, bos, c->seqs.source, c->a->sink_epsilon, t_load, c->t_forward, 0,
    };
    c->t_write += clock_now_s() - tw0;
    meta.time_write_s = c->t_write;
    meta.time_probes_s = c->t_probes >= 0 ? c->t_probes : run_probe_seconds(c);
    if (!s)
        s = probes_write_meta(w, &meta, err);
    struct probes_interventions pi;
    run_interv_meta(&c->ri, c->a, cfg, &pi);
    snprintf(pi.sweep, sizeof pi.sweep, "%s", c->a->sweep ? c->a->sweep : "");
    if (!s)
        s = probes_write_interventions(w, &pi, err);
    probes_release(c->p); /* the file closed before its rename, not after */
    enum ss_status cs = h5w_close(w, s ? NULL : err);
    return s ? s : cs;
}

/* a->dist: this process's windows into records, then the meeting of all processes;
 * on rank 0, *cb then measures the combining that follows (run_into from records). */
static enum ss_status run_spread(struct run_ctx *c, struct combine *cb, struct ss_error *err)
{
    enum ss_status s = run_records(c, err);
    c->t_probes = run_probe_seconds(c);
    c->dist_met = 1;
    s = c->a->dist->finish(c->a->dist, s, &c->t_forward, &c->t_probes, err);
    cb->t0 = clock_now_s();
    if (!s && run_is_root(c->a))
        cb->bytes = records_bytes(c->a->out, c->seqs.n);
    return s;
}

static void fingerprint(struct run_ctx *c)
{
    const struct pipeline_opts *a = c->a;
    /* the version too: a record's accumulator layout may change between versions; the
     * weights by what they are (size, mtime, header hash), not by their path */
    snprintf(c->command, sizeof c->command,
             "sinkscope=%s model=%s weights=%016llx gate=%s T=%d bos=%d dump=%s layers=%s heads=%s f16=%d eps=%.17g "
             "stats=%d text=%d rope=%s mask=%s window=%d sinks=%d ablate=%s",
             SINKSCOPE_VERSION, a->model_dir, (unsigned long long)fingerprint_dir(a->model_dir), a->gate, c->seqs.T, c->seqs.bos, a->dump ? a->dump : "", a->layers ? a->layers : "all",
             a->heads ? a->heads : "all", a->dump_f16, a->sink_epsilon, !a->no_stats, c->tk != NULL,
             a->rope_scaling ? a->rope_scaling : "", a->mask_keys ? a->mask_keys : "", a->window, a->sink_tokens,
             a->ablate ? a->ablate : "");
}

/* The forward's own gate mode: constant=mean runs native plus an edit. */
static const char *gate_mode_of(const struct pipeline_opts *a)
{
    return a->gate && !strcmp(a->gate, "constant=mean") ? "native" : a->gate;
}

void pipeline_opts_init(struct pipeline_opts *o)
{
    memset(o, 0, sizeof *o);
    o->bos = "auto";
    o->gate = "native";
    o->sink_epsilon = 0.3;
    o->sink_tokens = -1;
    o->log = stderr;
}

enum ss_status pipeline_opts_check(const struct pipeline_opts *a, struct ss_error *err)
{
    struct gate_mode gm;
    /* constant=mean is an edit built by a first pass (pipeline/interv.c); the forward's own mode stays native */
    if (gate_mode_parse(&gm, gate_mode_of(a)) != 0)
        return ss_fail(err, SS_ERR_INPUT, "--gate: '%s' is not native, off, constant=X or constant=mean", a->gate);
    if (a->dump && probes_dump_parse(a->dump) < 0)
        return ss_fail(err, SS_ERR_INPUT, "--dump: '%s' is not a list of attention, gates, hidden, logits", a->dump);
    return SS_OK;
}

/* What the probes dump: the layer and head selections of --layers and --heads. */
struct selection {
    unsigned char *layer_sel, *head_mask;
    int *head_sel, n_head_sel;
};

static void selection_free(struct selection *sel)
{
    free(sel->layer_sel);
    free(sel->head_mask);
    free(sel->head_sel);
}

static enum ss_status selection_make(struct selection *sel, const struct pipeline_opts *a,
                                     const struct model_config *cfg, struct ss_error *err)
{
    int n_picked;
    memset(sel, 0, sizeof *sel);
    sel->layer_sel = malloc(cfg->n_layers);
    sel->head_mask = malloc(cfg->n_heads);
    sel->head_sel = malloc(cfg->n_heads * sizeof *sel->head_sel);
    if (!sel->layer_sel || !sel->head_mask || !sel->head_sel)
        return ss_fail(err, SS_ERR_NOMEM, "out of memory");
    enum ss_status s;
    if ((s = index_list_mask(a->layers ? a->layers : "all", cfg->n_layers, "--layers", "layer", sel->layer_sel,
                             &n_picked, err)) ||
        (s = index_list_mask(a->heads ? a->heads : "all", cfg->n_heads, "--heads", "head", sel->head_mask,
                             &n_picked, err)))
        return s;
    for (int h = 0; h < cfg->n_heads; h++)
        if (sel->head_mask[h])
            sel->head_sel[sel->n_head_sel++] = h;
    return SS_OK;
}

/* The tokenizer (optional for token_ids), the sequences and the model; *t_load: seconds. */
static enum ss_status load_inputs(struct run_ctx *c, const struct model_config *cfg, double *t_load,
                                  struct ss_error *err)
{
    const struct pipeline_opts *a = c->a;
    enum ss_status s = tokenizer_load(&c->tk, a->model_dir, err);
    if (s) {
        if (!a->token_ids)
            return s;
        c->tk = NULL; /* token_ids run without a tokenizer: no /token_text */
        ss_error_clear(err);
    }
    if ((s = run_input_build(a, c->tk, cfg->vocab, &c->seqs, err)))
        return s;
    if (cfg->max_pos > 0 && c->seqs.T > cfg->max_pos && a->log) /* length extrapolation is a use: warn, run */
        fprintf(a->log, "sinkscope run: warning: %d positions per sequence, over max_position_embeddings %d of %s; "
                "results beyond %d positions are extrapolation\n", c->seqs.T, cfg->max_pos, a->model_dir, cfg->max_pos);
    double t0 = clock_now_s();
    c->m = calloc(1, sizeof *c->m);
    if (!c->m)
        return ss_fail(err, SS_ERR_NOMEM, "out of memory");
    if ((s = model_load(c->m, a->model_dir, err))) {
        free(c->m);
        c->m = NULL;
        return s;
    }
    *t_load = clock_now_s() - t0;
    return SS_OK;
}

/* The forward state, the probes and their subscriptions. */
static enum ss_status make_probes(struct run_ctx *c, const struct selection *sel, int dump, struct ss_error *err)
{
    const struct pipeline_opts *a = c->a;
    const struct model_config *cfg = &c->m->cfg;
    struct probes_opts po = {
        .shape = {cfg->n_layers, cfg->n_heads, cfg->n_kv_heads, cfg->head_dim, cfg->hidden, cfg->vocab,
                  model_config_gate_dim(cfg), c->seqs.T, attn_mask_window(&c->ri.mask, cfg), c->ri.mask.sink_tokens,
                  cfg->v.n_experts, cfg->v.top_k, cfg->v.n_experts > 0 ? cfg->v.layer_moe : NULL, cfg->v.attn_sinks},
        .n_seqs = c->seqs.n,
        .sink_epsilon = a->sink_epsilon,
        .stats = !a->no_stats,
        .dump = (unsigned)dump,
        .layer_sel = sel->layer_sel,
        .head_sel = sel->head_sel,
        .n_head_sel = sel->n_head_sel,
        .dump_f16 = a->dump_f16,
        .stop = c->stop,
    };
    gate_mode_parse(&c->fo.gate, gate_mode_of(a));
    rope_factor_for_length(&c->ri.rope, c->seqs.T); /* yarn:auto */
    c->fo.rope = c->ri.has_rope ? &c->ri.rope : NULL; /* the run state's RoPE tables follow it */
    c->fo.threads = a->threads;
    enum ss_status s;
    /* windows per pass: --batch (at most the windows there are), else the memory plan's */
    c->batch = a->batch > 0 ? (a->batch < c->seqs.n ? a->batch : c->seqs.n)
                            : run_memory_batch(cfg, c->m->mapped_bytes, c->seqs.T, &c->fo, c->seqs.n);
    c->fo.batch = c->batch;
    struct run_memory rm; /* refuse, before any forward work, a run this machine cannot hold */
    run_memory_plan(&rm, cfg, c->m->mapped_bytes, c->seqs.T, &c->fo);
    if ((s = run_memory_check(&rm, a->model_dir, c->seqs.T, err)))
        return s;
    if ((s = run_state_new(&c->rs, cfg, c->seqs.T, &c->fo, err)) ||
        (s = run_interv_apply(&c->ri, c->m, c->rs, &c->seqs, &c->fo, err)))
        return s;
    c->pw = calloc(c->batch, sizeof *c->pw);
    c->hw = calloc(c->batch, sizeof *c->hw);
    c->hwp = calloc(c->batch, sizeof *c->hwp);
    c->tokbuf = malloc((size_t)c->batch * c->seqs.T * sizeof *c->tokbuf);
    if (!c->pw || !c->hw || !c->hwp || !c->tokbuf)
        return ss_fail(err, SS_ERR_NOMEM, "out of memory for a batch of %d windows", c->batch);
    for (int b = 0; b < c->batch; b++) { /* window b's events to its own probes, each subscribed alike */
        hook_set_init(&c->hw[b]);
        c->hwp[b] = &c->hw[b];
        if ((s = probes_new(&c->pw[b], &po, err)) || (s = probes_subscribe(c->pw[b], &c->hw[b], err)))
            return s;
    }
    c->p = c->pw[0];
    return SS_OK;
}

static void ctx_free(struct run_ctx *c)
{
    for (int b = 0; c->pw && b < c->batch; b++)
        probes_free(c->pw[b]);
    free(c->pw), free(c->hw), free(c->hwp), free(c->tokbuf);
    if (c->rs)
        run_state_free(c->rs);
    if (c->m) {
        model_free(c->m);
        free(c->m);
    }
    if (c->tk)
        tokenizer_free(c->tk);
    run_seqs_free(&c->seqs);
    run_interv_free(&c->ri);
}

enum ss_status pipeline_run(const struct pipeline_opts *a, volatile sig_atomic_t *stop, struct ss_error *err)
{
    static volatile sig_atomic_t never;
    struct run_ctx c = {0};
    struct model_config cfg;
    struct selection sel = {0};
    char tmp[PATH_MAX + 32] = "";
    double t_load = 0;
    struct combine combine = {0};
    enum ss_status s;
    c.a = a;
    c.stop = stop ? stop : &never;
    if ((s = pipeline_opts_check(a, err)) || (s = outfile_check(a->out, a->force, err)) ||
        (s = model_config_load(&cfg, a->model_dir, err)) || (s = run_interv_parse(&c.ri, a, &cfg, err)))
        goto done;
    if (run_is_root(a)) /* under MPI only rank 0 writes OUT, and another host's PIDs are not ours to judge */
        outfile_clean_stale(a->out); /* OUT.tmp-PID of a run that was killed */
    int dump = a->dump ? probes_dump_parse(a->dump) : 0;
    /* a baseline in a batch with gated runs */
    if ((dump & PROBES_DUMP_GATES) && cfg.gate == GATE_KIND_NONE && a->log && run_is_root(a))
        fprintf(a->log, "sinkscope run: warning: %s has no attention-output gate; --dump gates writes no /gates\n",
                a->model_dir);
    if ((s = selection_make(&sel, a, &cfg, err)) || (s = load_inputs(&c, &cfg, &t_load, err)) ||
        (s = make_probes(&c, &sel, dump, err)))
        goto done;
    fingerprint(&c);
    c.t_start = clock_now_s();
    c.t_probes = -1;
    if (a->dist && ((s = run_spread(&c, &combine, err)) || !run_is_root(a)))
        goto done;
    outfile_tmp_name(a->out, tmp, sizeof tmp);
    s = run_into(&c, tmp, t_load, err);
    if (!s && *c.stop)
        s = ss_fail(err, SS_ERR_INTERRUPTED, "interrupted");
    if (!s)
        s = outfile_commit(tmp, a->out, a->force, err);
    if (!s && (a->resume || a->dist))
        remove_records(a->out);
    if (!s && a->dist && !a->quiet && a->log) /* the cost of combining, where it is paid (docs/SCALING.md) */
        fprintf(a->log, "sinkscope run: %d windows of %d ranks combined from %.1f MB of records in %.3f s\n",
                c.seqs.n, a->dist->size, combine.bytes / 1e6, clock_now_s() - combine.t0);
done:
    if (a->dist && !c.dist_met) /* every process meets in finish once, also after a failed setup */
        s = a->dist->finish(a->dist, s, &c.t_forward, &c.t_probes, err);
    if (s && tmp[0])
        unlink(tmp);
    if (s == SS_ERR_INTERRUPTED) {
        /* a->dist: finish may name the ranks that died instead of "interrupted" */
        char why[1024];
        snprintf(why, sizeof why, "%s", a->dist && err && strcmp(err->msg, "interrupted") ? err->msg : "interrupted");
        ss_fail(err, SS_ERR_INTERRUPTED, "%s: %s; nothing written%s", a->out, why,
                a->resume || a->dist ? " (finished sequences kept for --resume)" : "");
    }
    ctx_free(&c);
    selection_free(&sel);
    if (s && err)
        err->status = s;
    return s;
}
