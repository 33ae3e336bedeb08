/* plots/gp.h — internal: a gnuplot script being built, its data files, and running it.
 *
 * The script and every data file live in one directory (mkdtemp, or the user's
 * --script-only DIR); the script names data and output relative to it, so it
 * runs as `cd DIR && gnuplot plot.gp`. User text enters the script only through
 * gp_q / gp_text, which single-quote it (doubling quotes): gnuplot expands
 * backquotes and backslashes inside double quotes, never inside single quotes. */
#ifndef SS_PLOTS_GP_H
#define SS_PLOTS_GP_H

#include <stddef.h>

#include "../common/error.h"
#include "plots.h"

#define GP_SCRIPT_NAME "plot.gp"

struct gp {
    char dir[4096];        /* absolute directory of script and data */
    int keep;              /* --script-only: leave the directory */
    enum plot_format fmt;
    char out_name[256];    /* output file name inside dir (basename of the destination) */
    char *buf;             /* script text */
    size_t len, cap;
    int oom;
    int n_data;
    char ring[8][1024];    /* gp_q / gp_text results, reused round-robin */
    int ring_next;
};

/* Create the directory (script_dir, or a fresh mkdtemp one when NULL). */
enum ss_status gp_open(struct gp *g, const char *script_dir, enum plot_format fmt,
                       const char *dest, struct ss_error *err);
/* Remove the temporary directory and its files (unless keep); free the script. */
void gp_close(struct gp *g);

void gp_printf(struct gp *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s single-quoted for a gnuplot script, newlines replaced by spaces, long text cut. */
const char *gp_q(struct gp *g, const char *s);
/* Label text: escaped for LaTeX on the .tex terminal, then quoted like gp_q. */
const char *gp_text(struct gp *g, const char *s);

/* Write n little-endian float32 values as data file "dNN.f32"; name receives it. */
enum ss_status gp_data(struct gp *g, const float *v, size_t n, char name[32], struct ss_error *err);

/* Write the script; unless keep, run gnuplot on it (no shell) and move the output
 * to dest (with cairolatex also the .pdf beside it) under the no-clobber rule of
 * common/outfile.h (force: replace regular files). *stop set while gnuplot runs kills
 * it: SS_ERR_INTERRUPTED, nothing at dest. prog: program on PATH. gnuplot
 * still running after $SINKSCOPE_GNUPLOT_TIMEOUT seconds (default 120) is killed:
 * SS_ERR_INPUT "DEST: PROG timed out after N s ...", nothing at dest. */
enum ss_status gp_finish(struct gp *g, const char *prog, const char *dest, int force,
                         volatile sig_atomic_t *stop, struct ss_error *err);

/* Look prog up like execvp (a name with '/' is taken as is, else each $PATH entry);
 * 1 and its absolute path in full (n bytes) when found executable, else 0. */
int gp_find_program(const char *prog, char *full, size_t n);

#endif
