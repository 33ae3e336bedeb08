/* pipeline/windows.c — the windows of a run through the model, c->batch per forward pass
 * (model_forward_batch: each weight slice converted once per pass; every window's numbers
 * are the same whatever the batch), each window's events to its own probes instance,
 * finished in window order: into the run file, or into one --resume record each. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../runfile/h5write.h"
#include "../tokenizer/tokenizer.h"
#include "run_ctx.h"

/* Window seq is computed by this process. */
static int run_owns(const struct pipeline_opts *a, int seq)
{
    return !a->dist || seq % a->dist->size == a->dist->rank;
}

static void progress(struct run_ctx *c, int seq)
{
    if (c->a->dist) {
        c->a->dist->progress(c->a->dist, ++c->finished, c->seqs.n, c->seqs.T);
        return;
    }
    FILE *log = c->a->log;
    if (c->a->quiet || !log || !isatty(fileno(log)))
        return;
    double el = clock_now_s() - c->t_start, rate = c->done ? c->done * (double)c->seqs.T / el : 0;
    double left = rate > 0 ? (c->seqs.n - seq - 1) * (double)c->seqs.T / rate : 0;
    fprintf(log, "\rsinkscope run: %d/%d sequences, %.0f tokens/s, ETA %d:%02d:%02d ", seq + 1, c->seqs.n,
            rate, (int)left / 3600, (int)left / 60 % 60, (int)left % 60);
    if (seq + 1 == c->seqs.n)
        fputc('\n', log);
}

/* Token pieces of one sequence for /token_text (NULL entries when unknown). */
static char **pieces_of(const struct tokenizer *tk, const int32_t *tok, int T)
{
    if (!tk)
        return NULL;
    char **p = calloc(T, sizeof *p);
    for (int t = 0; p && t < T; t++)
        p[t] = tokenizer_piece(tk, tok[t]);
    return p;
}

static void pieces_free(char **p, int T)
{
    for (int t = 0; p && t < T; t++)
        free(p[t]);
    free(p);
}

/* Fault injection for tests (tests/test_run.c, tests/test_faults.c): SINKSCOPE_TEST_FAIL_AFTER=k fails
 * the sequence after k finished ones as a disk error would; SINKSCOPE_TEST_RAISE_AFTER=k
 * raises a real SIGINT once k sequences are finished; SINKSCOPE_TEST_KILL_AFTER=k
 * kills the process (SIGKILL: a rank dying, tests/test_mpi.c). Unset in normal use. */
static int env_int(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? atoi(v) : -1;
}

/* What a sequence's end checks first, as if it were computed alone: the stop flag and
 * the injected failure after k finished ones. */
static enum ss_status seq_gate(struct run_ctx *c, struct ss_error *err)
{
    if (*c->stop)
        return ss_fail(err, SS_ERR_INTERRUPTED, "interrupted");
    if (env_int("SINKSCOPE_TEST_FAIL_AFTER") == c->done)
        return ss_fail(err, SS_ERR_IO, "%s: injected write failure", c->a->out);
    return SS_OK;
}

/* Where the windows of one pass go: window i into ws[i] at row rows[i]; after its end,
 * keep(c, i) (a record's commit) when given. */
struct pass_out {
    struct h5w **ws;
    int *rows, *seqs;
    enum ss_status (*keep)(struct run_ctx *c, struct pass_out *o, int i, struct ss_error *err);
    char (*tmp)[4400];         /* records: OUT.partial/seq_N.h5.tmp-PID of window i */
};

/* Windows o->seqs[0..n) through the model in one pass, then finished in order. */
static enum ss_status run_pass(struct run_ctx *c, struct pass_out *o, int n, struct ss_error *err)
{
    int T = c->seqs.T;
    enum ss_status s = seq_gate(c, err);
    for (int i = 0; i < n && !s; i++) {
        const int32_t *tok = c->seqs.tok + (size_t)o->seqs[i] * T;
        memcpy(c->tokbuf + (size_t)i * T, tok, (size_t)T * sizeof *tok);
        s = probes_seq_begin(c->pw[i], o->ws[i], o->rows[i], tok, err);
    }
    double t0 = clock_now_s();
    if (!s)
        s = model_forward_batch(c->m, c->rs, c->tokbuf, T, n, c->hwp, &c->fo, err);
    c->t_forward += clock_now_s() - t0;
    for (int i = 0; i < n && !s; i++) {
        if (i > 0 && (s = seq_gate(c, err)))
            break;
        double t1 = clock_now_s();
        char **pieces = pieces_of(c->tk, c->seqs.tok + (size_t)o->seqs[i] * T, T);
        s = probes_seq_end(c->pw[i], o->seqs[i], pieces, err);
        pieces_free(pieces, T);
        if (!s && o->keep)
            s = o->keep(c, o, i, err);
        c->t_write += clock_now_s() - t1;
        if (s)
            break;
        c->done++;
        progress(c, o->seqs[i]);
        if (env_int("SINKSCOPE_TEST_RAISE_AFTER") == c->done)
            raise(SIGINT);
        if (env_int("SINKSCOPE_TEST_KILL_AFTER") == c->done)
            raise(SIGKILL);
    }
    return s;
}

/* A pass's buffers for c->batch windows. */
static enum ss_status pass_out_new(struct pass_out *o, int B, int records, struct ss_error *err)
{
    memset(o, 0, sizeof *o);
    o->ws = calloc(B, sizeof *o->ws);
    o->rows = calloc(B, sizeof *o->rows);
    o->seqs = calloc(B, sizeof *o->seqs);
    o->tmp = records ? calloc(B, sizeof *o->tmp) : NULL;
    if (!o->ws || !o->rows || !o->seqs || (records && !o->tmp))
        return ss_fail(err, SS_ERR_NOMEM, "out of memory");
    return SS_OK;
}

static void pass_out_free(struct pass_out *o)
{
    free(o->ws), free(o->rows), free(o->seqs), free(o->tmp);
}

enum ss_status run_windows(struct run_ctx *c, struct h5w *w, struct ss_error *err)
{
    struct pass_out o;
    enum ss_status s = pass_out_new(&o, c->batch, 0, err);
    for (int b = 1; b < c->batch; b++) /* into the run file's datasets, folded into the run's totals */
        probes_share(c->pw[b], c->p);
    for (int seq0 = 0; seq0 < c->seqs.n && !s; seq0 += c->batch) {
        int n = c->seqs.n - seq0 < c->batch ? c->seqs.n - seq0 : c->batch;
        for (int i = 0; i < n; i++)
            o.ws[i] = w, o.rows[i] = o.seqs[i] = seq0 + i;
        s = run_pass(c, &o, n, err);
    }
    pass_out_free(&o);
    return s;
}

void run_record_path(char *buf, size_t n, const char *out, int seq)
{
    snprintf(buf, n, "%s.partial/seq_%06d.h5", out, seq);
}

/* Close window i's record (really closed before another process opens it); drop it
 * unless committed. */
static enum ss_status record_close(struct run_ctx *c, struct pass_out *o, int i, enum ss_status s,
                                   struct ss_error *err)
{
    probes_release(c->pw[i]);
    enum ss_status cs = h5w_close(o->ws[i], s ? NULL : err);
    o->ws[i] = NULL;
    if (!s && cs)
        s = cs;
    char path[4300];
    run_record_path(path, sizeof path, c->a->out, o->seqs[i]);
    if (!s && rename(o->tmp[i], path) != 0)
        s = ss_fail(err, SS_ERR_IO, "%s: cannot rename into place: %s", path, strerror(errno));
    if (s)
        unlink(o->tmp[i]);
    return s;
}

static enum ss_status record_keep(struct run_ctx *c, struct pass_out *o, int i, struct ss_error *err)
{
    enum ss_status s = probes_record_finish(c->pw[i], o->ws[i], c->command, err);
    return record_close(c, o, i, s, err);
}

/* The n windows o->seqs into fresh records, one pass. */
static enum ss_status records_pass(struct run_ctx *c, struct pass_out *o, int n, struct ss_error *err)
{
    char path[4300];
    enum ss_status s = SS_OK;
    int made = 0;
    for (; made < n && !s; made++) {
        run_record_path(path, sizeof path, c->a->out, o->seqs[made]);
        snprintf(o->tmp[made], sizeof o->tmp[made], "%s.tmp-%d", path, (int)getpid());
        o->rows[made] = 0;
        s = h5w_create(&o->ws[made], o->tmp[made], err);
        if (!s)
            s = probes_create_datasets(c->pw[made], o->ws[made], 1, c->tk != NULL, err);
    }
    if (!s)
        s = run_pass(c, o, n, err);
    for (int i = 0; i < made; i++) /* the records left open: not committed */
        if (o->ws[i])
            record_close(c, o, i, s ? s : SS_ERR_INTERNAL, NULL);
    return s;
}

/* 1 when window seq has a record of this command (checked), -1 when its record is of
 * another command or input, 0 when it has none. */
static int record_state(struct run_ctx *c, int seq)
{
    char path[4300];
    run_record_path(path, sizeof path, c->a->out, seq);
    if (!c->a->resume || access(path, F_OK) != 0)
        return 0;
    struct h5w *rec = NULL;
    int ok = h5w_open(&rec, path, 0, NULL) == SS_OK &&
             probes_record_matches(rec, c->command, c->seqs.tok + (size_t)seq * c->seqs.T, c->seqs.T);
    h5w_close(rec, NULL);
    return ok ? 1 : -1;
}

/* Under a->dist only this process's windows, and without --resume even those that have
 * a record (a job reuses records only when asked to). */
enum ss_status run_records(struct run_ctx *c, struct ss_error *err)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s.partial", c->a->out);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return ss_fail(err, SS_ERR_IO, "%s: cannot create: %s", dir, strerror(errno));
    struct pass_out o;
    enum ss_status s = pass_out_new(&o, c->batch, 1, err);
    o.keep = record_keep;
    int n = 0;
    for (int seq = 0; seq < c->seqs.n && !s; seq++) {
        if (!run_owns(c->a, seq))
            continue;
        int st = record_state(c, seq);
        if (st < 0) { /* the windows before it are computed first, as one at a time would */
            if (n && (s = records_pass(c, &o, n, err)))
                break;
            n = 0;
            char path[4300];
            run_record_path(path, sizeof path, c->a->out, seq);
            s = ss_fail(err, SS_ERR_INPUT, "%s: made by a different command or input; delete %s or run without --resume",
                        path, dir);
        } else if (st > 0 && c->a->dist) {
            progress(c, seq);
        } else if (st == 0) {
            o.seqs[n++] = seq;
            if (n == c->batch) {
                s = records_pass(c, &o, n, err);
                n = 0;
            }
        }
    }
    if (!s && n)
        s = records_pass(c, &o, n, err);
    pass_out_free(&o);
    return s;
}

double run_probe_seconds(const struct run_ctx *c)
{
    double t = 0;
    for (int b = 0; b < c->batch; b++)
        t += c->pw[b] ? probes_hook_seconds(c->pw[b]) : 0;
    return t;
}
