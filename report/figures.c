/* report/figures.c — every plot kind (except the `paper` booklet and the length sweeps) drawn by plots/
 * as SVG into a temporary directory and inlined into the page. A kind the runs
 * cannot support (no gated run, no attention dump) is left out with the reason
 * plots/ gives; first-token needs only what every run has, so its failure
 * (gnuplot missing or failing) fails the report. Map kinds get the runs that
 * hold attention maps; expert-load and learned-sink the runs with routing / learned-sink
 * statistics, and are left out without a note when no run has them (dense models). Element ids of each SVG are prefixed ("f3-gpPt5") so the
 * figures' definitions do not collide in one document. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report_int.h"

#define MAX_SVG_BYTES (64u << 20)

static const char *caption(enum plot_kind k)
{
    switch (k) {
    case PLOT_KIND_FIRST_TOKEN: return "first-token share per layer, one line per run (paper Fig. 2 left)";
    case PLOT_KIND_ATTENTION_MAP: return "head-averaged attention maps of four layers, runs side by side (Fig. 2 right)";
    case PLOT_KIND_HEAD_GRID: return "every dumped head of one layer";
    case PLOT_KIND_GATE_HIST: return "density of gate scores on [0, 1] (Fig. 3)";
    case PLOT_KIND_SDPA_MAGNITUDE: return "mean |attention output| per layer before and after the gate (Fig. 4)";
    case PLOT_KIND_SDPA_SPARSITY: return "fraction of |attention output| below 1e-2 and 1e-3 (Fig. 5)";
    case PLOT_KIND_ACTIVATIONS: return "max |x| per layer of four streams, and the first-token share (Fig. 6)";
    case PLOT_KIND_GATE_LAYERS: return "per-layer mean, std, min and max of gate scores (Fig. 7)";
    case PLOT_KIND_MASSIVE: return "largest activations by (token, dimension) of one layer (Sun et al. 2024)";
    case PLOT_KIND_EXPERT_LOAD: return "share of routed tokens per layer and expert: all positions, position 0, the rest";
    case PLOT_KIND_LEARNED_SINK: return "attention taken by the learned sink next to the first-token share, per layer and head";
    default: return "";
    }
}

static char *read_all(const char *path, size_t *n, struct ss_error *err)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f)
        return ss_fail(err, SS_ERR_IO, "%s: cannot open: %s", path, strerror(errno)), NULL;
    if (fstat(fileno(f), &st) != 0 || st.st_size < 0 || (unsigned long long)st.st_size > MAX_SVG_BYTES) {
        fclose(f);
        return ss_fail(err, SS_ERR_INPUT, "%s: figure larger than %u MiB", path, MAX_SVG_BYTES >> 20), NULL;
    }
    char *b = malloc((size_t)st.st_size + 1);
    if (!b) {
        fclose(f);
        return ss_fail(err, SS_ERR_NOMEM, "out of memory"), NULL;
    }
    *n = fread(b, 1, (size_t)st.st_size, f);
    b[*n] = 0;
    fclose(f);
    return b;
}

/* The <svg> element of gnuplot's output, every id and #reference prefixed. */
static void svg_write_scoped(FILE *o, const char *svg, const char *prefix)
{
    static const char *const refs[] = {"id='", "id=\"", "href='#", "href=\"#", "url(#"};
    const char *p = strstr(svg, "<svg");
    if (!p)
        return;
    while (*p) {
        size_t hit = 0;
        for (size_t r = 0; r < sizeof refs / sizeof refs[0] && !hit; r++) {
            size_t len = strlen(refs[r]);
            int starts_attr = refs[r][0] != 'i' || p[-1] == ' ' || p[-1] == '\t' || p[-1] == '\n';
            if (starts_attr && !strncmp(p, refs[r], len))
                hit = len;
        }
        if (hit) {
            fwrite(p, 1, hit, o);
            fputs(prefix, o);
            p += hit;
        } else if (!strncmp(p, "<title>Gnuplot</title>", 22)) {
            p += 22;
        } else {
            fputc(*p++, o);
        }
    }
}

/* Draw one kind over the given runs into dir/KIND.svg and inline it. *drawn: 0 when
 * the runs do not support the kind (note written instead). */
static enum ss_status one_kind(struct report_ctx *c, enum plot_kind k, const int *sel, int nsel, const char *dir,
                               FILE *notes, int *drawn, struct ss_error *err)
{
    FILE *o = c->out;
    const char *name = plot_kind_name(k);
    char path[4200], prefix[16];
    snprintf(path, sizeof path, "%s/%s.svg", dir, name);
    snprintf(prefix, sizeof prefix, "f%d-", (int)k);
    struct plot_options po;
    plot_options_init(&po);
    po.kind = k;
    po.output = path;
    po.gnuplot = c->o->gnuplot;
    for (int i = 0; i < nsel; i++) {
        po.runs[po.n_runs] = c->runs[sel[i]].path;
        po.labels[po.n_runs++] = c->runs[sel[i]].label;
    }
    struct ss_error pe = {0};
    enum ss_status s = nsel ? plot_render(&po, NULL, &pe)
                            : ss_fail(&pe, SS_ERR_INPUT, "no run has attention maps: run with --dump attention");
    *drawn = 0;
    if (s == SS_ERR_INPUT && k != PLOT_KIND_FIRST_TOKEN) {
        fprintf(notes, "<li data-kind=\"%s\"><b>%s</b>: ", name, name);
        page_text(notes, pe.msg);
        fputs("</li>\n", notes);
        return SS_OK;
    }
    if (s) {
        *err = pe;
        return ss_prefix(err, "report: figure %s", name);
    }
    size_t n = 0;
    char *svg = read_all(path, &n, err);
    unlink(path);
    if (!svg)
        return err->status;
    /* shown at 3/4 of gnuplot's pixels (PLOT_DPI per inch): a paper column is 510 px wide,
     * the wide multi-panel kinds fill the page */
    const char *w = strstr(svg, "<svg");
    w = w ? strstr(w, " width=\"") : NULL;
    long px = w ? strtol(w + 8, NULL, 10) : 0;
    if (px > 0 && px < 100000)
        fprintf(o, "<figure class=\"fig\" id=\"fig-%s\" style=\"max-width: %ldpx\">\n", name, px * 3 / 4);
    else
        fprintf(o, "<figure class=\"fig\" id=\"fig-%s\">\n", name);
    svg_write_scoped(o, svg, prefix);
    fprintf(o, "\n<figcaption><b>%s</b>: ", name);
    page_text(o, caption(k));
    fputs("</figcaption>\n</figure>\n", o);
    free(svg);
    *drawn = 1;
    return SS_OK;
}

enum ss_status figures_write(struct report_ctx *c, struct ss_error *err)
{
    FILE *o = c->out;
    const char *tmpdir = getenv("TMPDIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/sinkscope-report-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(dir))
        return ss_fail(err, SS_ERR_IO, "%s: cannot create a temporary directory: %s", dir, strerror(errno));
    /* map kinds get the runs with maps; the MoE kinds the runs with routing / learned sinks
     * (and are left out silently when none has them: dense models) */
    int all[REPORT_MAX_RUNS], maps[REPORT_MAX_RUNS], moe[REPORT_MAX_RUNS], sinks[REPORT_MAX_RUNS];
    int nmaps = 0, nmoe = 0, nsinks = 0;
    for (int i = 0; i < c->n; i++) {
        all[i] = i;
        if (c->has_maps[i])
            maps[nmaps++] = i;
        if (c->runs[i].n_experts > 0)
            moe[nmoe++] = i;
        if (c->runs[i].lsink_l)
            sinks[nsinks++] = i;
    }
    char *notes = NULL;
    size_t notes_len = 0;
    FILE *nf = open_memstream(&notes, &notes_len);
    enum ss_status s = nf ? SS_OK : ss_fail(err, SS_ERR_NOMEM, "out of memory");
    fputs("<section id=\"figures\">\n<h2>Figures</h2>\n<p class=\"note\">Drawn by <code>sinkscope plot</code> "
          "(docs/FIGURES.md) from the run files above.</p>\n", o);
    for (int k = 0; k < PLOT_KIND_COUNT && !s; k++) {
        if (k == PLOT_KIND_PAPER || k == PLOT_KIND_CONTEXT_SWEEP || k == PLOT_KIND_LOSS_POSITION)
            continue; /* the booklet, and the length-experiment kinds (need -c sweeps) */
        const int *sel = all;
        int nsel = c->n, drawn = 0;
        if (k == PLOT_KIND_ATTENTION_MAP || k == PLOT_KIND_HEAD_GRID)
            sel = maps, nsel = nmaps;
        else if (k == PLOT_KIND_EXPERT_LOAD || k == PLOT_KIND_LEARNED_SINK) {
            sel = k == PLOT_KIND_EXPERT_LOAD ? moe : sinks;
            nsel = k == PLOT_KIND_EXPERT_LOAD ? nmoe : nsinks;
            if (!nsel)
                continue;
        }
        s = one_kind(c, (enum plot_kind)k, sel, nsel, dir, nf, &drawn, err);
        c->res->figures += drawn;
        c->res->figures_left_out += !s && !drawn;
    }
    rmdir(dir);
    if (nf && fclose(nf) == 0 && !s && notes_len)
        fprintf(o, "<p>Not drawn, as the runs lack what they need:</p>\n<ul class=\"left-out\">\n%s</ul>\n", notes);
    free(notes);
    fputs("</section>\n", o);
    return s;
}
