/* plots/style.c — the one shared look of every figure: terminal, fonts, viridis, line colours. */
#include <math.h>

#include "plot_int.h"

/* Okabe & Ito (2008), colour-blind safe; yellow last (weak on white). */
static const char *const okabe_ito[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                        "#E69F00", "#56B4E9", "#000000", "#F0E442"};

const char *plot_color(int i) { return okabe_ito[((i % 8) + 8) % 8]; }

#define PLOT_FONT "DejaVu Sans"
#define PLOT_FONT_PT 8

void plot_style_terminal(struct plot_ctx *c)
{
    struct gp *g = &c->g;
    double w = c->w_in, h = c->h_in;
    long px = lround(w * PLOT_DPI), py = lround(h * PLOT_DPI);
    double scale = PLOT_DPI / 96.0; /* pixel cairo terminals lay text out at 96 dpi */
    gp_printf(g, "# sinkscope figure: run with  cd THIS_DIR && gnuplot %s  (writes %s)\n",
              GP_SCRIPT_NAME, g->out_name);
    switch (g->fmt) {
    case PLOT_FORMAT_PNG:
        gp_printf(g, "set terminal pngcairo size %ld,%ld noenhanced font '%s,%d' fontscale %.3f linewidth %.3f\n",
                  px, py, PLOT_FONT, PLOT_FONT_PT, scale, scale * 0.5);
        break;
    case PLOT_FORMAT_SVG:
        /* the svg terminal sizes the key from the nominal font size: scale the size, not fontscale */
        gp_printf(g, "set terminal svg size %ld,%ld fixed noenhanced font '%s,%.1f' linewidth %.3f background '#ffffff'\n",
                  px, py, PLOT_FONT, PLOT_FONT_PT * scale, scale * 0.5);
        break;
    case PLOT_FORMAT_PDF:
        gp_printf(g, "set terminal pdfcairo size %.3fin,%.3fin noenhanced font '%s,%d' fontscale 1 linewidth 1\n",
                  w, h, PLOT_FONT, PLOT_FONT_PT);
        break;
    case PLOT_FORMAT_TEX:
        /* text typeset by LaTeX in the document's font family (naming DejaVu Sans there
         * only makes LaTeX substitute it) at the size the layout assumes; graphics in NAME.pdf */
        gp_printf(g, "set terminal cairolatex pdf input size %.3fin,%.3fin font ',%d' fontscale 1 linewidth 1 "
                     "header '\\fontsize{%d}{%g}\\selectfont'\n",
                  w, h, PLOT_FONT_PT, PLOT_FONT_PT, PLOT_FONT_PT * 1.2);
        break;
    }
    gp_printf(g, "set output %s\n", gp_q(g, g->out_name));
    /* line types persist across `reset`: define them once */
    for (int i = 0; i < 8; i++)
        gp_printf(g, "set linetype %d lc rgb '%s' lw 2 pt 7 ps 0.45 dt solid\n", i + 1, plot_color(i));
}

void plot_style_page(struct plot_ctx *c)
{
    struct gp *g = &c->g;
    gp_printf(g, "\n# ---- page ----\nreset\nset encoding utf8\n");
    if (g->fmt != PLOT_FORMAT_TEX)
        gp_printf(g, "set termoption noenhanced\n");
    /* viridis (matplotlib), defined here because gnuplot 5.4 has no built-in one */
    gp_printf(g, "set palette defined (0 '#440154', 1 '#482878', 2 '#3e4989', 3 '#31688e', 4 '#26828e', "
                 "5 '#1f9e89', 6 '#35b779', 7 '#6ece58', 8 '#b5de2b', 9 '#fde725')\n");
    gp_printf(g, "set palette maxcolors 0\n");
    gp_printf(g, "set tics out scale 0.5 nomirror\nset border 3 lw 1\n");
    gp_printf(g, "set grid back lc rgb '#e0e0e0' lw 1 dt solid\n");
    gp_printf(g, "set key top right noopaque samplen 2 spacing 1.1 reverse Left\n");
}

void plot_style_heatmap(struct plot_ctx *c, int n_cols, int n_rows)
{
    struct gp *g = &c->g;
    gp_printf(g, "unset grid\nset border 15 lw 1\nset xtics out scale 0.4 mirror\nset ytics out scale 0.4 mirror\n");
    gp_printf(g, "set xrange [-0.5:%g]\nset yrange [%g:-0.5]\n", n_cols - 0.5, n_rows - 0.5);
    gp_printf(g, "set size square\nset colorbox\nset cbtics scale 0.3 out nomirror font ',7'\n");
    if (c->o->log_scale)
        gp_printf(g, "set logscale cb\nset cbrange [1e-4:1]\nset format cb '1e%%T'\n");
    else
        gp_printf(g, "unset logscale cb\nset cbrange [0:*]\nset format cb '%%.2g'\n");
}

void plot_key_below(struct plot_ctx *c, int bottom, int show)
{
    struct gp *g = &c->g;
    if (bottom)
        gp_printf(g, "set bmargin 6\n");
    else
        gp_printf(g, "unset bmargin\n"); /* back to automatic */
    if (show)
        gp_printf(g, "set key at screen 0.5, screen 0.01 center bottom horizontal maxcols 4 width 2\n");
    else
        gp_printf(g, "unset key\n");
}
