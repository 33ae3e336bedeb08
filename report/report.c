/* report/report.c — report_write: check the options and the destination, load
 * every run, then write the page section by section into DEST.tmp-PID and put
 * it in place. Any failure removes the temporary file: nothing is left at DEST. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report_int.h"
#include "../common/outfile.h"

#define MAX_MAP_TOKENS 1024 /* one head's map read as doubles: 8 MiB */

void report_options_init(struct report_options *o)
{
    memset(o, 0, sizeof *o);
    o->map_tokens = REPORT_MAP_TOKENS;
    o->figures = 1;
}

static enum ss_status check_options(const struct report_options *o, struct ss_error *err)
{
    if (o->n_runs < 1 || o->n_runs > REPORT_MAX_RUNS)
        return ss_fail(err, SS_ERR_INPUT, "report: give 1 to %d run files", REPORT_MAX_RUNS);
    if (!o->output || !*o->output)
        return ss_fail(err, SS_ERR_INPUT, "report: no output file (-o FILE.html)");
    if (strpbrk(o->output, "\n\r"))
        return ss_fail(err, SS_ERR_INPUT, "report: file names with newlines are not supported");
    for (int i = 0; i < o->n_runs; i++)
        if (strpbrk(o->runs[i], "\n\r"))
            return ss_fail(err, SS_ERR_INPUT, "report: file names with newlines are not supported");
    if (o->seq < 0)
        return ss_fail(err, SS_ERR_INPUT, "report: --seq must be >= 0");
    if (o->map_tokens < 1 || o->map_tokens > MAX_MAP_TOKENS)
        return ss_fail(err, SS_ERR_INPUT, "report: --map-tokens must be 1 to %d", MAX_MAP_TOKENS);
    return SS_OK;
}

/* Default labels (file names) that collide become the paths, as in `compare`. */
static void unique_labels(struct report_ctx *c)
{
    for (int i = 0; i < c->n; i++)
        for (int k = i + 1; k < c->n; k++)
            if (!c->o->labels[i] && !c->o->labels[k] && !strcmp(c->runs[i].label, c->runs[k].label)) {
                for (int m = 0; m < c->n; m++)
                    if (!c->o->labels[m]) {
                        const char *p = c->runs[m].path;
                        size_t len = strlen(p), cap = sizeof c->runs[m].label;
                        const char *tail = len < cap ? p : p + (len - (cap - 1));
                        memcpy(c->runs[m].label, tail, strlen(tail) + 1);
                    }
                return;
            }
}

static enum ss_status load_runs(struct report_ctx *c, struct ss_error *err)
{
    for (int i = 0; i < c->o->n_runs; i++) {
        enum ss_status s = analyze_run_load(&c->runs[i], c->o->runs[i], c->o->labels[i], err);
        if (s)
            return s;
        c->n = i + 1;
        s = runfile_open(&c->rf[i], c->o->runs[i], err);
        if (s)
            return s;
    }
    unique_labels(c);
    return SS_OK;
}

static enum ss_status write_page(struct report_ctx *c, struct ss_error *err)
{
    page_head(c);
    enum ss_status s = page_tables(c, err);
    if (!s && c->o->figures)
        s = figures_write(c, err);
    if (!s) {
        page_explorer(c);
        s = page_provenance(c, err);
    }
    if (!s)
        page_end(c);
    return s;
}

/* The page into tmp, flushed and synced. */
static enum ss_status write_tmp(struct report_ctx *c, const char *tmp, struct ss_error *err)
{
    c->out = fopen(tmp, "wx");
    if (!c->out)
        return ss_fail(err, SS_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    enum ss_status s = write_page(c, err);
    if (!s) {
        long size = ftell(c->out);
        c->res->bytes = size > 0 ? (size_t)size : 0;
    }
    if (!s && (fflush(c->out) != 0 || ferror(c->out) || fsync(fileno(c->out)) != 0))
        s = ss_fail(err, SS_ERR_IO, "%s: cannot write: %s", c->o->output, strerror(errno));
    if (fclose(c->out) != 0 && !s)
        s = ss_fail(err, SS_ERR_IO, "%s: cannot write: %s", c->o->output, strerror(errno));
    c->out = NULL;
    return s;
}

enum ss_status report_write(const struct report_options *o, struct report_result *res, struct ss_error *err)
{
    struct report_result dummy;
    if (!res)
        res = &dummy;
    memset(res, 0, sizeof *res);
    enum ss_status s = check_options(o, err);
    if (!s)
        s = outfile_check(o->output, o->force, err);
    if (s)
        return s;
    struct report_ctx c = {.o = o, .res = res};
    c.runs = calloc((size_t)o->n_runs, sizeof *c.runs);
    c.rf = calloc((size_t)o->n_runs, sizeof *c.rf);
    char tmp[PATH_MAX + 32];
    if (!c.runs || !c.rf)
        s = ss_fail(err, SS_ERR_NOMEM, "out of memory");
    else if (outfile_tmp_name(o->output, tmp, sizeof tmp))
        s = ss_fail(err, SS_ERR_INPUT, "%s: path too long", o->output);
    if (!s)
        s = load_runs(&c, err);
    if (!s)
        s = maps_collect(&c, err);
    if (!s) {
        s = write_tmp(&c, tmp, err);
        if (!s)
            s = outfile_commit(tmp, o->output, o->force, err);
        if (s)
            unlink(tmp);
    }
    for (int i = 0; i < c.n; i++) {
        analyze_run_free(&c.runs[i]);
        if (c.rf[i])
            runfile_close(c.rf[i]);
    }
    free(c.runs);
    free(c.rf);
    json_decref(c.data);
    return s;
}
