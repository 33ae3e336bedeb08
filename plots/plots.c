/* plots/plots.c — plot_render: checks, opening runs, page sizes, the `paper` booklet. */
#include <errno.h>
#include <limits.h>
#include <strings.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/index_list.h"
#include "plot_int.h"
#include "../common/outfile.h"

typedef enum ss_status (*plot_fn)(struct plot_ctx *c, struct ss_error *err);

static const struct {
    const char *name;
    plot_fn fn;
} kinds[PLOT_KIND_COUNT] = {
    [PLOT_KIND_FIRST_TOKEN] = {"first-token", plot_first_token},
    [PLOT_KIND_ATTENTION_MAP] = {"attention-map", plot_attention_map},
    [PLOT_KIND_HEAD_GRID] = {"head-grid", plot_head_grid},
    [PLOT_KIND_GATE_HIST] = {"gate-hist", plot_gate_hist},
    [PLOT_KIND_SDPA_MAGNITUDE] = {"sdpa-magnitude", plot_sdpa_magnitude},
    [PLOT_KIND_SDPA_SPARSITY] = {"sdpa-sparsity", plot_sdpa_sparsity},
    [PLOT_KIND_ACTIVATIONS] = {"activations", plot_activations},
    [PLOT_KIND_GATE_LAYERS] = {"gate-layers", plot_gate_layers},
    [PLOT_KIND_MASSIVE] = {"massive", plot_massive},
    [PLOT_KIND_PAPER] = {"paper", NULL},
    [PLOT_KIND_CONTEXT_SWEEP] = {"context-sweep", plot_context_sweep},
    [PLOT_KIND_LOSS_POSITION] = {"loss-position", plot_loss_position},
    [PLOT_KIND_EXPERT_LOAD] = {"expert-load", plot_expert_load},
    [PLOT_KIND_LEARNED_SINK] = {"learned-sink", plot_learned_sink},
};

/* Page order of `paper`: the paper's figure order. */
static const enum plot_kind paper_pages[] = {
    PLOT_KIND_FIRST_TOKEN,    PLOT_KIND_ATTENTION_MAP, PLOT_KIND_HEAD_GRID,
    PLOT_KIND_GATE_HIST,      PLOT_KIND_SDPA_MAGNITUDE, PLOT_KIND_SDPA_SPARSITY,
    PLOT_KIND_ACTIVATIONS,    PLOT_KIND_GATE_LAYERS,   PLOT_KIND_MASSIVE,
};

#define PAPER_W_IN 10.0
#define PAPER_H_IN 6.2

void plot_options_init(struct plot_options *o)
{
    memset(o, 0, sizeof *o);
    o->head = -1;
}

int plot_kind_parse(const char *name)
{
    for (int k = 0; k < PLOT_KIND_COUNT; k++)
        if (!strcmp(name, kinds[k].name))
            return k;
    return -1;
}

const char *plot_kind_name(enum plot_kind k) { return k < PLOT_KIND_COUNT ? kinds[k].name : "?"; }

int plot_format_from_path(const char *path)
{
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash) || dot == path || (slash && dot == slash + 1))
        return -1;
    if (!strcasecmp(dot, ".png"))
        return PLOT_FORMAT_PNG;
    if (!strcasecmp(dot, ".pdf"))
        return PLOT_FORMAT_PDF;
    if (!strcasecmp(dot, ".svg"))
        return PLOT_FORMAT_SVG;
    if (!strcmp(dot, ".tex"))
        return PLOT_FORMAT_TEX;
    return -1;
}

static enum ss_status open_run(struct plot_run *r, const char *path, const char *label, struct ss_error *err)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    struct rf_info info;
    enum ss_status st = runfile_open_run(&r->rf, &info, path, err);
    if (st)
        return st;
    r->n_layers = info.n_layers;
    r->n_heads = info.n_heads;
    r->n_seqs = info.n_seqs;
    r->n_pos = info.context_length;
    snprintf(r->gate_kind, sizeof r->gate_kind, "%s", info.gate_kind[0] ? info.gate_kind : "none");
    r->gated = strcmp(r->gate_kind, "none") != 0;
    if (label) {
        snprintf(r->label, sizeof r->label, "%s", label);
    } else {
        const char *b = strrchr(path, '/');
        b = b ? b + 1 : path;
        size_t n = strlen(b);
        if (n > 3 && !strcmp(b + n - 3, ".h5"))
            n -= 3;
        snprintf(r->label, sizeof r->label, "%.*s", (int)(n < 120 ? n : 120), b);
    }
    return SS_OK;
}

static int n_gated(const struct plot_ctx *c)
{
    int n = 0;
    for (int i = 0; i < c->n_runs; i++)
        n += c->runs[i].gated;
    return n ? n : 1;
}

/* Default figure size in inches: a paper column (3.4 in) for one panel, the text
 * width (~7 in) for panels side by side. */
static void default_size(const struct plot_ctx *c, enum plot_kind k, double *w, double *h)
{
    const struct plot_options *o = c->o;
    int R = c->n_runs;
    *w = 3.4;
    *h = 2.6;
    int entries = 0; /* legend entries of the one-panel line figures */
    for (int i = 0; i < R; i++)
        entries += 1 + (k == PLOT_KIND_SDPA_MAGNITUDE && c->runs[i].gated);
    switch (k) {
    case PLOT_KIND_CONTEXT_SWEEP:
        *w = 8.0;
        *h = 2.8;
        break;
    case PLOT_KIND_LOSS_POSITION:
        if (R > 3) /* the legend goes beside the plot */
            *w = 6.8, *h = 3.0;
        break;
    case PLOT_KIND_FIRST_TOKEN:
    case PLOT_KIND_SDPA_MAGNITUDE:
        if (entries > 3) /* the legend goes beside the plot */
            *w = 5.2;
        break;
    case PLOT_KIND_SDPA_SPARSITY:
        *w = 6.8;
        break;
    case PLOT_KIND_ACTIVATIONS:
        *w = 6.8;
        *h = 0.4 + 2.2 * R;
        break;
    case PLOT_KIND_GATE_LAYERS:
        *w = fmin(3.4 * n_gated(c), 7.0);
        break;
    case PLOT_KIND_GATE_HIST:
        if (o->layers)
            *w = fmin(3.4 * n_gated(c), 7.0);
        break;
    case PLOT_KIND_ATTENTION_MAP: {
        int L = c->runs[0].n_layers, picked[PLOT_MAX_LAYERS], n = 0;
        struct ss_error ignored; /* a bad --layers is reported when the maps are drawn */
        if (!o->layers || plot_run_layers(c, &c->runs[0], picked, &n, &ignored) || n == 0)
            n = L < 4 ? L : 4;
        int bc = n >= 2 ? 2 : 1, br = (n + bc - 1) / bc;
        /* room for a label per token (9 pt each) up to 32 of them, beside ~1.3 in of margins */
        int T = c->runs[0].n_pos < 32 ? c->runs[0].n_pos : 32;
        double panel = fmin(fmax(1.3 + T * 9.0 / 72.0, 2.3), 4.0);
        *w = panel * bc * R;
        *h = panel * br;
        break;
    }
    case PLOT_KIND_HEAD_GRID: {
        int H = c->runs[0].n_heads > 0 ? c->runs[0].n_heads : 1;
        int bc = (int)ceil(sqrt((double)H)), br = (H + bc - 1) / bc;
        *w = fmin(1.7 * bc * R + 0.2, 16.0);
        *h = fmin(1.6 * br + 0.3, 16.0);
        break;
    }
    case PLOT_KIND_MASSIVE:
        *w = fmin(3.4 * R, 7.0);
        *h = 3.0;
        break;
    case PLOT_KIND_EXPERT_LOAD: /* three heatmaps a row, a row per run */
        *w = 7.0;
        *h = fmin(0.5 + 2.4 * R, 16.0);
        break;
    case PLOT_KIND_LEARNED_SINK: /* two heatmaps and a line panel */
        *w = 7.0;
        *h = 2.8;
        break;
    default:
        break;
    }
}

/* The no-clobber rule (common/outfile.h) for every file the figure writes: with
 * .tex also the graphics FILE.pdf that cairolatex writes beside it. */
static enum ss_status check_destination(const char *dest, int fmt, int force, struct ss_error *err)
{
    enum ss_status st = outfile_check(dest, force, err);
    if (st || fmt != PLOT_FORMAT_TEX)
        return st;
    char pdf[PATH_MAX + 8];
    snprintf(pdf, sizeof pdf, "%.*s.pdf", (int)strlen(dest) - 4, dest);
    st = outfile_check(pdf, force, err);
    if (st == SS_ERR_INPUT && !force)
        return ss_fail(err, SS_ERR_INPUT, "%s: exists and %s writes its graphics there; use --force to overwrite it",
                       pdf, dest);
    return st;
}

static enum ss_status check_options(const struct plot_options *o, int *fmt, struct ss_error *err)
{
    if (o->kind < 0 || o->kind >= PLOT_KIND_COUNT)
        return ss_fail(err, SS_ERR_INPUT, "plot: unknown kind");
    if (o->n_runs < 1 || o->n_runs > PLOT_MAX_RUNS)
        return ss_fail(err, SS_ERR_INPUT, "plot: give 1 to %d run files", PLOT_MAX_RUNS);
    if (!o->output || !*o->output)
        return ss_fail(err, SS_ERR_INPUT, "plot: no output file (-o FILE.png|pdf|svg|tex)");
    const char *names[] = {o->output, o->script_dir};
    for (int i = 0; i < 2; i++)
        if (names[i] && strpbrk(names[i], "\n\r"))
            return ss_fail(err, SS_ERR_INPUT, "plot: file names with newlines are not supported");
    for (int i = 0; i < o->n_runs; i++)
        if (strpbrk(o->runs[i], "\n\r"))
            return ss_fail(err, SS_ERR_INPUT, "plot: file names with newlines are not supported");
    *fmt = plot_format_from_path(o->output);
    if (*fmt < 0)
        return ss_fail(err, SS_ERR_INPUT, "%s: unknown format: the name must end in .png, .pdf, .svg or .tex",
                       o->output);
    const char *base = strrchr(o->output, '/');
    base = base ? base + 1 : o->output;
    if (strlen(base) >= 200)
        return ss_fail(err, SS_ERR_INPUT, "%s: file name too long", o->output);
    if (o->kind == PLOT_KIND_PAPER && *fmt != PLOT_FORMAT_PDF)
        return ss_fail(err, SS_ERR_INPUT, "%s: paper writes one page per figure and needs a .pdf output", o->output);
    if (o->layers && index_list_check(o->layers, "--layers", err))
        return err->status;
    if ((o->width_in > 0) != (o->height_in > 0) || o->width_in > 50 || o->height_in > 50)
        return ss_fail(err, SS_ERR_INPUT, "plot: --size must give a width and a height of at most 50 in (10000 px)");
    return SS_OK;
}

enum ss_status plot_render(const struct plot_options *o, struct plot_result *res, struct ss_error *err)
{
    struct plot_result dummy;
    if (!res)
        res = &dummy;
    memset(res, 0, sizeof *res);
    int fmt = -1;
    enum ss_status st = check_options(o, &fmt, err);
    if (st)
        return st;
    const char *prog = o->gnuplot ? o->gnuplot : "gnuplot";
    if (!o->script_dir) {
        char exe[4096];
        if (!gp_find_program(prog, exe, sizeof exe))
            return ss_fail(err, SS_ERR_INPUT, "%s not found on PATH: install gnuplot-nox (apt-get install gnuplot-nox)",
                           prog);
        st = check_destination(o->output, fmt, o->force, err);
        if (st)
            return st;
    }

    struct plot_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return ss_fail(err, SS_ERR_NOMEM, "out of memory");
    c->o = o;
    for (int i = 0; i < o->n_runs && !st; i++) {
        st = open_run(&c->runs[i], o->runs[i], o->labels[i], err);
        c->n_runs = i + 1;
    }
    if (!st) {
        if (o->width_in > 0) {
            c->w_in = o->width_in;
            c->h_in = o->height_in;
        } else if (o->kind == PLOT_KIND_PAPER) {
            c->w_in = PAPER_W_IN;
            c->h_in = PAPER_H_IN;
        } else {
            default_size(c, o->kind, &c->w_in, &c->h_in);
        }
        st = gp_open(&c->g, o->script_dir, (enum plot_format)fmt, o->output, err);
    }
    if (!st) {
        plot_style_terminal(c);
        if (o->kind != PLOT_KIND_PAPER) {
            st = kinds[o->kind].fn(c, err);
            res->pages = st ? 0 : 1;
        } else {
            c->in_paper = 1;
            size_t nn = 0;
            for (size_t p = 0; p < sizeof paper_pages / sizeof paper_pages[0] && !st; p++) {
                size_t mark = c->g.len;
                enum plot_kind k = paper_pages[p];
                st = kinds[k].fn(c, err);
                if (st == SS_ERR_INPUT) { /* this page lacks data: leave it out, say why */
                    c->g.len = mark;
                    nn += (size_t)snprintf(res->notes + nn, nn < sizeof res->notes ? sizeof res->notes - nn : 0,
                                           "%s%s left out (%s)", nn ? "; " : "", kinds[k].name, err->msg);
                    if (nn >= sizeof res->notes)
                        nn = sizeof res->notes - 1;
                    st = SS_OK;
                    ss_error_clear(err);
                } else if (!st) {
                    res->pages++;
                }
            }
            if (!st && res->pages == 0)
                st = ss_fail(err, SS_ERR_INPUT, "%s: no page of paper could be drawn: %s", o->output, res->notes);
        }
    }
    if (!st) {
        gp_printf(&c->g, "\nunset output\n");
        st = gp_finish(&c->g, prog, o->output, o->force, o->stop, err);
    }
    gp_close(&c->g);
    for (int i = 0; i < c->n_runs; i++)
        if (c->runs[i].rf)
            runfile_close(c->runs[i].rf);
    free(c);
    return st;
}
