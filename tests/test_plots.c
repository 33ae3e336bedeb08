/* tests/test_plots.c — every figure kind renders from run files made here; outputs
 * are checked by signature and size; failures leave nothing at the destination. */
#include <dirent.h>
#include <hdf5.h>
#include <hdf5_hl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../plots/gp.h"
#include "../plots/plot_int.h"
#include "../plots/plots.h"
#include "test_plots_fake.h"
#include "test_runmaker.h"
#include "test_util.h"

static const char *dir_runs;
static char base_h5[512], gated_h5[512], bare_h5[512];

static int suite_init(void)
{
    dir_runs = test_tmpdir("plots-runs");
    if (!dir_runs)
        return -1;
    snprintf(base_h5, sizeof base_h5, "%s/baseline.h5", dir_runs);
    snprintf(gated_h5, sizeof gated_h5, "%s/gated.h5", dir_runs);
    snprintf(bare_h5, sizeof bare_h5, "%s/bare.h5", dir_runs);
    struct fake_run b = {.gated = 0, .attention = 1, .hidden_dump = 1, .L = 6, .H = 4, .T = 12, .S = 2};
    struct fake_run g = b;
    g.gated = 1;
    struct fake_run n = b; /* a baseline without dumps */
    n.attention = 0;
    n.hidden_dump = 0;
    return make_run(base_h5, &b) || make_run(gated_h5, &g) || make_run(bare_h5, &n);
}

/* ---- output checks ---- */

static long file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

static unsigned char *slurp(const char *p, long *n)
{
    *n = file_size(p);
    if (*n < 0)
        return NULL;
    unsigned char *b = malloc((size_t)*n + 1);
    FILE *f = fopen(p, "rb");
    if (!b || !f || fread(b, 1, (size_t)*n, f) != (size_t)*n) {
        free(b);
        if (f)
            fclose(f);
        return NULL;
    }
    fclose(f);
    b[*n] = 0;
    return b;
}

/* PNG signature and IHDR width/height. */
static int png_size(const char *p, unsigned *w, unsigned *h)
{
    long n;
    unsigned char *b = slurp(p, &n);
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    int ok = b && n > 24 && !memcmp(b, sig, 8) && !memcmp(b + 12, "IHDR", 4);
    if (ok) {
        *w = (unsigned)b[16] << 24 | (unsigned)b[17] << 16 | (unsigned)b[18] << 8 | b[19];
        *h = (unsigned)b[20] << 24 | (unsigned)b[21] << 16 | (unsigned)b[22] << 8 | b[23];
    }
    free(b);
    return ok ? 0 : -1;
}

/* Pages of a PDF: "/Type /Page" objects (not "/Pages"). -1 if not a PDF. */
static int pdf_pages(const char *p)
{
    long n;
    unsigned char *b = slurp(p, &n);
    if (!b || n < 5 || memcmp(b, "%PDF", 4)) {
        free(b);
        return -1;
    }
    int pages = 0;
    for (long i = 0; i + 11 <= n; i++)
        if (!memcmp(b + i, "/Type /Page", 11) && (i + 11 == n || b[i + 11] != 's'))
            pages++;
    free(b);
    return pages;
}

static const char *const all_kinds[] = {"first-token", "attention-map",  "head-grid",   "gate-hist", "sdpa-magnitude",
                                        "sdpa-sparsity", "activations", "gate-layers", "massive"};

static void test_every_kind_png(void)
{
    const char *d = test_tmpdir("plots-png");
    for (size_t k = 0; k < sizeof all_kinds / sizeof all_kinds[0]; k++) {
        char out[600], err[2048];
        snprintf(out, sizeof out, "%s/%s.png", d, all_kinds[k]);
        int rc = test_cli(NULL, 0, err, sizeof err, "plot", all_kinds[k], base_h5, gated_h5, "-o", out,
                          "--labels", "baseline,gated", "--size", "900,600", NULL);
        unsigned w = 0, h = 0;
        int ok = png_size(out, &w, &h) == 0;
        printf("\n  %-15s rc=%d png=%d %ux%u %s", all_kinds[k], rc, ok, w, h, rc ? err : "");
        CU_ASSERT_EQUAL(rc, 0);
        CU_ASSERT_TRUE(ok);
        CU_ASSERT_EQUAL(w, 900);
        CU_ASSERT_EQUAL(h, 600);
    }
}

static void test_default_size_png(void)
{
    const char *d = test_tmpdir("plots-defsize");
    char out[600];
    snprintf(out, sizeof out, "%s/ft.png", d);
    int rc = test_cli(NULL, 0, NULL, 0, "plot", "first-token", base_h5, "-o", out, NULL);
    unsigned w = 0, h = 0;
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(png_size(out, &w, &h), 0);
    /* a paper column: 3.4 in at PLOT_DPI */
    CU_ASSERT_EQUAL(w, (unsigned)lround(3.4 * PLOT_DPI));
    snprintf(out, sizeof out, "%s/ft-in.png", d);
    rc = test_cli(NULL, 0, NULL, 0, "plot", "first-token", base_h5, "-o", out, "--size", "2in,1.5in", NULL);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(png_size(out, &w, &h), 0);
    CU_ASSERT_EQUAL(w, 2 * PLOT_DPI);
    CU_ASSERT_EQUAL(h, (unsigned)lround(1.5 * PLOT_DPI));
}

/* Where pdflatex is installed (not in CI: texlive is large), NAME.tex must compile
 * in a minimal document with no error and no font substitution. */
static void tex_compile(const char *dir, const char *name)
{
    if (access("/usr/bin/pdflatex", X_OK) != 0) {
        printf("\n  pdflatex not installed: %s.tex not compiled", name);
        return;
    }
    char path[700], cmd[1600];
    snprintf(path, sizeof path, "%s/doc.tex", dir);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fprintf(f, "\\documentclass{article}\\usepackage{graphicx}\\usepackage{color}\n"
               "\\usepackage[paperwidth=10in,paperheight=10in,margin=0.5in]{geometry}\n"
               "\\begin{document}\\input{%s.tex}\\end{document}\n", name);
    fclose(f);
    snprintf(cmd, sizeof cmd, "cd '%s' && pdflatex -interaction=nonstopmode -halt-on-error doc.tex >/dev/null 2>&1",
             dir);
    int rc = system(cmd);
    snprintf(path, sizeof path, "%s/doc.log", dir);
    long n;
    unsigned char *log = slurp(path, &n);
    int subst = log && strstr((char *)log, "LaTeX Font Warning") != NULL;
    printf("\n  pdflatex %s.tex: exit %d, font substitutions %s", name, rc, subst ? "yes" : "none");
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_FALSE(subst);
    free(log);
}

static void test_pdf_svg_tex(void)
{
    const char *d = test_tmpdir("plots-fmt");
    char out[600], err[2048];
    snprintf(out, sizeof out, "%s/ft.pdf", d);
    CU_ASSERT_EQUAL(test_cli(NULL, 0, err, sizeof err, "plot", "first-token", base_h5, gated_h5, "-o", out, NULL), 0);
    CU_ASSERT_EQUAL(pdf_pages(out), 1);

    snprintf(out, sizeof out, "%s/map.svg", d);
    CU_ASSERT_EQUAL(test_cli(NULL, 0, err, sizeof err, "plot", "attention-map", base_h5, "-o", out, NULL), 0);
    long n;
    unsigned char *b = slurp(out, &n);
    CU_ASSERT_PTR_NOT_NULL(b);
    CU_ASSERT_TRUE(b && (!strncmp((char *)b, "<?xml", 5) || !strncmp((char *)b, "<svg", 4)));
    CU_ASSERT_TRUE(b && strstr((char *)b, "</svg>") != NULL);
    free(b);

    /* cairolatex: NAME.tex including NAME (the .pdf beside it), with LaTeX-escaped token labels */
    snprintf(out, sizeof out, "%s/map.tex", d);
    int rc = test_cli(NULL, 0, err, sizeof err, "plot", "attention-map", base_h5, "-o", out, "--size", "8in,8in", NULL); /* room for every label */
    CU_ASSERT_EQUAL(rc, 0);
    b = slurp(out, &n);
    CU_ASSERT_TRUE(b && strstr((char *)b, "{map}") != NULL);
    CU_ASSERT_TRUE(b && strstr((char *)b, "a\\_b") != NULL); /* token " a_b^{c}" escaped */
    CU_ASSERT_TRUE(b && strstr((char *)b, "100\\%\\$\\#") != NULL); /* " 100%$#&~\\" */
    /* text in the document's font family at the 8 pt the layout assumes */
    CU_ASSERT_TRUE(b && strstr((char *)b, "\\fontsize{8}") != NULL && strstr((char *)b, "\\fontfamily") == NULL);
    free(b);
    snprintf(out, sizeof out, "%s/map.pdf", d);
    CU_ASSERT_EQUAL(pdf_pages(out), 1);
    tex_compile(d, "map");
}

static void test_paper_pages(void)
{
    const char *d = test_tmpdir("plots-paper");
    char out[600], err[2048];
    snprintf(out, sizeof out, "%s/paper.pdf", d);
    int rc = test_cli(NULL, 0, err, sizeof err, "plot", "paper", base_h5, gated_h5, "-o", out, NULL);
    printf("\n  paper: rc=%d pages=%d %s", rc, pdf_pages(out), err);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(pdf_pages(out), 9);
    /* without attention dumps the two map pages are left out, with a note naming the option */
    snprintf(out, sizeof out, "%s/paper-nomaps.pdf", d);
    rc = test_cli(NULL, 0, err, sizeof err, "plot", "paper", bare_h5, gated_h5, "-o", out, NULL);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(pdf_pages(out), 7);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "--dump attention"));
    /* paper needs a PDF */
    snprintf(out, sizeof out, "%s/paper.png", d);
    rc = test_cli(NULL, 0, err, sizeof err, "plot", "paper", base_h5, gated_h5, "-o", out, NULL);
    CU_ASSERT_EQUAL(rc, 2);
    CU_ASSERT_EQUAL(file_size(out), -1);
}

static void test_missing_data(void)
{
    const char *d = test_tmpdir("plots-missing");
    char out[600], err[2048];
    snprintf(out, sizeof out, "%s/g.png", d);
    int rc = test_cli(NULL, 0, err, sizeof err, "plot", "gate-hist", base_h5, "-o", out, NULL);
    CU_ASSERT_EQUAL(rc, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "no gate scores"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, base_h5));
    CU_ASSERT_EQUAL(file_size(out), -1);
    rc = test_cli(NULL, 0, err, sizeof err, "plot", "gate-layers", base_h5, "-o", out, NULL);
    CU_ASSERT_EQUAL(rc, 2);
    CU_ASSERT_EQUAL(file_size(out), -1);
    snprintf(out, sizeof out, "%s/m.png", d);
    rc = test_cli(NULL, 0, err, sizeof err, "plot", "attention-map", bare_h5, "-o", out, NULL);
    CU_ASSERT_EQUAL(rc, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "has no attention maps: run with --dump attention"));
    CU_ASSERT_EQUAL(file_size(out), -1);
    rc = test_cli(NULL, 0, err, sizeof err, "plot", "head-grid", bare_h5, "-o", out, NULL);
    CU_ASSERT_EQUAL(rc, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "--dump attention"));
    CU_ASSERT_EQUAL(file_size(out), -1);
    /* a layer that was not dumped / out of range, a head out of range */
    rc = test_cli(NULL, 0, err, sizeof err, "plot", "attention-map", base_h5, "--layers", "99", "-o", out, NULL);
    CU_ASSERT_EQUAL(rc, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "outside"));
    rc = test_cli(NULL, 0, err, sizeof err, "plot", "attention-map", base_h5, "--head", "4", "-o", out, NULL);
    CU_ASSERT_EQUAL(rc, 2);
    CU_ASSERT_EQUAL(file_size(out), -1);
    /* not a run file */
    rc = test_cli(NULL, 0, err, sizeof err, "plot", "first-token", out, "-o", out, NULL);
    CU_ASSERT_EQUAL(rc, 2);
    CU_ASSERT_EQUAL(file_size(out), -1);
}

static void test_bad_options(void)
{
    const char *d = test_tmpdir("plots-opts");
    char out[600], err[2048];
    snprintf(out, sizeof out, "%s/x.jpg", d);
    CU_ASSERT_EQUAL(test_cli(NULL, 0, err, sizeof err, "plot", "first-token", base_h5, "-o", out, NULL), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, ".png, .pdf, .svg or .tex"));
    snprintf(out, sizeof out, "%s/x.png", d);
    CU_ASSERT_EQUAL(test_cli(NULL, 0, err, sizeof err, "plot", "sinks", base_h5, "-o", out, NULL), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown kind 'sinks'"));
    CU_ASSERT_EQUAL(test_cli(NULL, 0, err, sizeof err, "plot", "first-token", base_h5, gated_h5, "--labels", "one",
                             "-o", out, NULL), 2);
    CU_ASSERT_EQUAL(test_cli(NULL, 0, err, sizeof err, "plot", "first-token", base_h5, "--size", "0,3", "-o", out, NULL), 2);
    CU_ASSERT_EQUAL(test_cli(NULL, 0, err, sizeof err, "plot", "first-token", base_h5, NULL), 2);
    CU_ASSERT_EQUAL(file_size(out), -1);
}

/* PATH without gnuplot: one line naming the package, exit 2, nothing written. */
static void test_gnuplot_missing(void)
{
    const char *d = test_tmpdir("plots-nognuplot");
    char out[600], err[2048];
    snprintf(out, sizeof out, "%s/x.png", d);
    char *old = strdup(getenv("PATH") ? getenv("PATH") : "");
    setenv("PATH", d, 1);
    int rc = test_cli(NULL, 0, err, sizeof err, "plot", "first-token", base_h5, "-o", out, NULL);
    setenv("PATH", old, 1);
    free(old);
    CU_ASSERT_EQUAL(rc, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "install gnuplot-nox"));
    CU_ASSERT_EQUAL(test_count_lines(err), 1);
    CU_ASSERT_EQUAL(file_size(out), -1);
}

/* A gnuplot that fails after writing part of the output: the first error line is
 * reported and the destination stays untouched. */
static void test_gnuplot_fails(void)
{
    const char *d = test_tmpdir("plots-gpfail");
    char bin[600], fake[700], out[600], err[2048];
    snprintf(bin, sizeof bin, "%s/bin", d);
    mkdir(bin, 0755);
    snprintf(fake, sizeof fake, "%s/gnuplot", bin);
    FILE *f = fopen(fake, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fprintf(f, "#!/bin/sh\nprintf 'partial' > x.png\necho '         plot foo' >&2\necho '              ^' >&2\n"
               "echo '\"plot.gp\" line 7: undefined variable: foo' >&2\necho 'more' >&2\nexit 1\n");
    fclose(f);
    chmod(fake, 0755);
    snprintf(out, sizeof out, "%s/x.png", d);
    char *old = strdup(getenv("PATH") ? getenv("PATH") : "");
    setenv("PATH", bin, 1);
    int rc = test_cli(NULL, 0, err, sizeof err, "plot", "first-token", base_h5, "-o", out, NULL);
    setenv("PATH", old, 1);
    free(old);
    printf("\n  %s", err);
    CU_ASSERT_EQUAL(rc, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "\"plot.gp\" line 7: undefined variable: foo"));
    CU_ASSERT_EQUAL(test_count_lines(err), 1);
    CU_ASSERT_EQUAL(file_size(out), -1);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Entries of dir other than . and .. (-1 when unreadable). */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

/* A gnuplot that hangs: killed after SINKSCOPE_GNUPLOT_TIMEOUT seconds, one line naming
 * the output and the limit, no output and no temporary directory left. */
static void test_gnuplot_timeout(void)
{
    const char *d = test_tmpdir("plots-gptimeout");
    char bin[600], fake[700], tmp[600], pidfile[4200], out[600], err[2048];
    snprintf(bin, sizeof bin, "%s/bin", d);
    snprintf(tmp, sizeof tmp, "%s/tmp", d);
    char abs_d[4096];
    CU_ASSERT_PTR_NOT_NULL_FATAL(realpath(d, abs_d)); /* gnuplot runs in its own directory */
    snprintf(pidfile, sizeof pidfile, "%s/gnuplot.pid", abs_d);
    mkdir(bin, 0755);
    mkdir(tmp, 0755);
    snprintf(fake, sizeof fake, "%s/gnuplot", bin);
    FILE *f = fopen(fake, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    /* exec: the process waited for is the sleep itself */
    fprintf(f, "#!/bin/sh\necho $$ > '%s'\nprintf 'partial' > x.png\nexec sleep 30\n", pidfile);
    fclose(f);
    chmod(fake, 0755);
    snprintf(out, sizeof out, "%s/x.png", d);
    char *old_path = strdup(getenv("PATH") ? getenv("PATH") : "");
    char *old_tmp = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
    char path[1400];
    snprintf(path, sizeof path, "%s:%s", bin, old_path); /* sh and sleep still found */
    setenv("PATH", path, 1);
    setenv("TMPDIR", tmp, 1);
    setenv("SINKSCOPE_GNUPLOT_TIMEOUT", "1", 1);
    double t0 = now_s();
    int rc = test_cli(NULL, 0, err, sizeof err, "plot", "first-token", base_h5, "-o", out, NULL);
    double took = now_s() - t0;
    /* a limit that is not a positive number is refused before gnuplot runs */
    setenv("SINKSCOPE_GNUPLOT_TIMEOUT", "soon", 1);
    char err2[2048];
    int rc2 = test_cli(NULL, 0, err2, sizeof err2, "plot", "first-token", base_h5, "-o", out, NULL);
    unsetenv("SINKSCOPE_GNUPLOT_TIMEOUT");
    setenv("PATH", old_path, 1);
    if (old_tmp)
        setenv("TMPDIR", old_tmp, 1);
    else
        unsetenv("TMPDIR");
    free(old_path);
    free(old_tmp);
    printf("\n  rc=%d after %.2f s: %s", rc, took, err);
    CU_ASSERT_EQUAL(rc, 2);
    char want[700];
    snprintf(want, sizeof want, "%s: gnuplot timed out after 1 s", out);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
    CU_ASSERT_EQUAL(test_count_lines(err), 1);
    CU_ASSERT(took >= 1 && took < 10);
    CU_ASSERT_EQUAL(file_size(out), -1);
    CU_ASSERT_EQUAL(count_entries(tmp), 0); /* the temporary directory is gone */
    f = fopen(pidfile, "r");
    int pid = 0;
    CU_ASSERT_TRUE(f && fscanf(f, "%d", &pid) == 1);
    if (f)
        fclose(f);
    CU_ASSERT_TRUE(pid > 0 && kill(pid, 0) != 0); /* killed and reaped */
    printf("\n  bad limit: rc=%d %s", rc2, err2);
    CU_ASSERT_EQUAL(rc2, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err2, "SINKSCOPE_GNUPLOT_TIMEOUT='soon'"));
    CU_ASSERT_EQUAL(file_size(out), -1);
}

static void test_unwritable_destination(void)
{
    const char *d = test_tmpdir("plots-unwritable");
    char out[600], err[2048];
    snprintf(out, sizeof out, "%s/no-such-dir/x.png", d);
    int rc = test_cli(NULL, 0, err, sizeof err, "plot", "first-token", base_h5, "-o", out, NULL);
    CU_ASSERT_EQUAL(rc, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot write"));
    CU_ASSERT_EQUAL(file_size(out), -1);
    /* the destination is a directory */
    snprintf(out, sizeof out, "%s/dir.png", d);
    mkdir(out, 0755);
    rc = test_cli(NULL, 0, err, sizeof err, "plot", "first-token", base_h5, "-o", out, NULL);
    CU_ASSERT_EQUAL(rc, 2);
    /* a parent that is a file */
    snprintf(out, sizeof out, "%s/x.png/y.png", base_h5);
    rc = test_cli(NULL, 0, err, sizeof err, "plot", "first-token", base_h5, "-o", out, NULL);
    CU_ASSERT_EQUAL(rc, 2);
}

/* Names with quotes and labels with backquotes reach gnuplot as data, never as commands. */
static void test_quoting(void)
{
    const char *d = test_tmpdir("plots-quote");
    char out[600], err[2048], pwn[600];
    snprintf(out, sizeof out, "%s/it's a \"test\".png", d);
    snprintf(pwn, sizeof pwn, "%s/pwned", d);
    char label[700];
    snprintf(label, sizeof label, "a`touch '%s'`,b$(touch x)'\\", pwn);
    int rc = test_cli(NULL, 0, err, sizeof err, "plot", "first-token", base_h5, gated_h5, "-o", out, "--labels", label,
                      NULL);
    unsigned w, h;
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(png_size(out, &w, &h), 0);
    CU_ASSERT_EQUAL(file_size(pwn), -1);

    struct gp g;
    memset(&g, 0, sizeof g);
    CU_ASSERT_STRING_EQUAL(gp_q(&g, "a'b"), "'a''b'");
    CU_ASSERT_STRING_EQUAL(gp_q(&g, "x\ny"), "'x y'");
    CU_ASSERT_STRING_EQUAL(gp_q(&g, "`ls` \\n"), "'`ls` \\n'");
    g.fmt = PLOT_FORMAT_TEX;
    CU_ASSERT_STRING_EQUAL(gp_text(&g, "a_b%"), "'a\\_b\\%'");
    g.fmt = PLOT_FORMAT_PNG;
    CU_ASSERT_STRING_EQUAL(gp_text(&g, "a_b%"), "'a_b%'");
    /* long text is cut on a character boundary and stays quoted */
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    big[1000] = '\xc3';
    big[1001] = '\xa9';
    const char *q = gp_q(&g, big);
    size_t n = strlen(q);
    CU_ASSERT_TRUE(n < sizeof g.ring[0] && q[0] == '\'' && q[n - 1] == '\'');
}

static void test_token_labels(void)
{
    char b[64];
    plot_token_label(" sink", b, sizeof b, 8);
    CU_ASSERT_STRING_EQUAL(b, "sink");
    plot_token_label("\n", b, sizeof b, 8);
    CU_ASSERT_STRING_EQUAL(b, "\\n");
    plot_token_label("  ", b, sizeof b, 8);
    CU_ASSERT_STRING_EQUAL(b, "__");
    plot_token_label(" mechanism", b, sizeof b, 7);
    CU_ASSERT_STRING_EQUAL(b, "mechani..");
    plot_token_label(" \xc3\xa9t\xc3\xa9\xc3\xa9\xc3\xa9", b, sizeof b, 3);
    CU_ASSERT_STRING_EQUAL(b, "\xc3\xa9t\xc3\xa9..");
    plot_token_label("a\x01" "b", b, sizeof b, 8);
    CU_ASSERT_STRING_EQUAL(b, "a?b");
}

/* --script-only leaves an editable script + data and runs nothing. */
static void test_script_only(void)
{
    const char *d = test_tmpdir("plots-script");
    char out[600], sdir[600], p[700], err[2048];
    snprintf(out, sizeof out, "%s/fig.png", d);
    snprintf(sdir, sizeof sdir, "%s/script", d);
    int rc = test_cli(NULL, 0, err, sizeof err, "plot", "attention-map", base_h5, gated_h5, "-o", out, "--script-only",
                      sdir, "--log", "--size", "30in,10in", NULL);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(file_size(out), -1);
    snprintf(p, sizeof p, "%s/plot.gp", sdir);
    long n;
    unsigned char *b = slurp(p, &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_PTR_NOT_NULL(strstr((char *)b, "set output 'fig.png'"));
    CU_ASSERT_PTR_NOT_NULL(strstr((char *)b, "set logscale cb"));
    CU_ASSERT_PTR_NOT_NULL(strstr((char *)b, "#fde725")); /* viridis defined */
    CU_ASSERT_PTR_NOT_NULL(strstr((char *)b, "'it''s'")); /* token label quoted */
    free(b);
    /* 6 layers: default indices 0, 6/4-1 = 0, 3*6/4-1 = 3, 5 -> 3 maps per run, [T, T] float32 */
    snprintf(p, sizeof p, "%s/d00.f32", sdir);
    CU_ASSERT_EQUAL(file_size(p), 12 * 12 * 4);
    snprintf(p, sizeof p, "%s/d05.f32", sdir);
    CU_ASSERT_EQUAL(file_size(p), 12 * 12 * 4);
    snprintf(p, sizeof p, "%s/d06.f32", sdir);
    CU_ASSERT_EQUAL(file_size(p), -1);
}

/* The head-averaged map written for gnuplot equals the mean of the stored heads. */
static void test_map_values(void)
{
    const char *d = test_tmpdir("plots-mapvals");
    char out[600], sdir[600], p[700];
    snprintf(out, sizeof out, "%s/fig.png", d);
    snprintf(sdir, sizeof sdir, "%s/s", d);
    CU_ASSERT_EQUAL(test_cli(NULL, 0, NULL, 0, "plot", "attention-map", base_h5, "--layers", "2", "--seq", "1", "-o",
                             out, "--script-only", sdir, NULL), 0);
    snprintf(p, sizeof p, "%s/d00.f32", sdir);
    long n;
    unsigned char *b = slurp(p, &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(n, 12 * 12 * 4);
    hid_t f = H5Fopen(base_h5, H5F_ACC_RDONLY, H5P_DEFAULT);
    float *a = malloc(2 * 4 * 12 * 12 * sizeof *a);
    H5LTread_dataset_float(f, "/attention/layer_02", a);
    H5Fclose(f);
    float want[144];
    for (int i = 0; i < 144; i++) {
        double s = 0;
        for (int h = 0; h < 4; h++)
            s += a[(1 * 4 + h) * 144 + i];
        want[i] = (float)(s / 4);
    }
    double diff = test_max_abs_diff((const float *)b, want, 144);
    printf("\n  head-mean map layer 2 seq 1: max |diff| = %g", diff);
    CU_ASSERT_TRUE(diff < 1e-6);
    free(a);
    free(b);
}

/* A long map is mean-pooled in square blocks before it reaches gnuplot. */
static void test_map_pooling(void)
{
    const char *d = test_tmpdir("plots-pool");
    char path[600], out[600], sdir[600], p[700];
    snprintf(path, sizeof path, "%s/long.h5", d);
    struct fake_run lr = {.gated = 0, .attention = 1, .L = 1, .H = 1, .T = 600, .S = 1};
    CU_ASSERT_EQUAL_FATAL(make_run(path, &lr), 0);
    snprintf(out, sizeof out, "%s/long.png", d);
    snprintf(sdir, sizeof sdir, "%s/s", d);
    CU_ASSERT_EQUAL(test_cli(NULL, 0, NULL, 0, "plot", "attention-map", path, "-o", out, "--script-only", sdir, NULL), 0);
    snprintf(p, sizeof p, "%s/d00.f32", sdir);
    long n;
    float *px = (float *)slurp(p, &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(px);
    CU_ASSERT_EQUAL(n, 300 * 300 * 4); /* 600 positions, blocks of 2 */
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    float *a = malloc(600 * 600 * sizeof *a);
    H5LTread_dataset_float(f, "/attention/layer_00", a);
    H5Fclose(f);
    double worst = 0;
    for (int i = 0; i < 300; i += 37)
        for (int j = 0; j <= i; j += 11) {
            double want = (a[(2 * i) * 600 + 2 * j] + a[(2 * i) * 600 + 2 * j + 1] + a[(2 * i + 1) * 600 + 2 * j] +
                           a[(2 * i + 1) * 600 + 2 * j + 1]) / 4;
            worst = fmax(worst, fabs(want - px[i * 300 + j]));
        }
    printf("\n  pooled 600 -> 300: max |diff| = %g", worst);
    CU_ASSERT_TRUE(worst < 1e-6);
    free(a);
    free(px);
    CU_ASSERT_EQUAL(test_cli(NULL, 0, NULL, 0, "plot", "attention-map", path, "-o", out, NULL), 0);
    unsigned w, h;
    CU_ASSERT_EQUAL(png_size(out, &w, &h), 0);
}

/* Run files from the shared runmaker (schema-conformant, closed-form values):
 * every kind renders, and the first-token line gnuplot receives is the runmaker's
 * mean over heads. */
static void test_runmaker_runs(void)
{
    const char *d = test_tmpdir("plots-runmaker");
    char base[600], gated[600], out[700], err[2048];
    struct test_run_spec b, g;
    test_run_spec_default(&b);
    b.n_layers = 8;
    b.n_heads = 4;
    b.n_kv_heads = 2;
    b.T = 16;
    b.with_attention = 1;
    g = b;
    g.gate_kind = "headwise";
    g.with_gates = 1;
    g.sink_scale = 0.1;
    g.act_scale = 10;
    snprintf(base, sizeof base, "%s/base.h5", d);
    snprintf(gated, sizeof gated, "%s/gated.h5", d);
    CU_ASSERT_EQUAL_FATAL(test_runmaker_write(base, &b), 0);
    CU_ASSERT_EQUAL_FATAL(test_runmaker_write(gated, &g), 0);
    for (size_t k = 0; k < sizeof all_kinds / sizeof all_kinds[0]; k++) {
        snprintf(out, sizeof out, "%s/%s.png", d, all_kinds[k]);
        int rc = test_cli(NULL, 0, err, sizeof err, "plot", all_kinds[k], base, gated, "-o", out, NULL);
        unsigned w = 0, h = 0;
        printf("\n  %-15s rc=%d %s", all_kinds[k], rc, rc ? err : "");
        CU_ASSERT_EQUAL(rc, 0);
        CU_ASSERT_EQUAL(png_size(out, &w, &h), 0);
    }
    snprintf(out, sizeof out, "%s/paper.pdf", d);
    CU_ASSERT_EQUAL(test_cli(NULL, 0, err, sizeof err, "plot", "paper", base, gated, "-o", out, NULL), 0);
    CU_ASSERT_EQUAL(pdf_pages(out), 9);

    char sdir[700], p[800];
    snprintf(sdir, sizeof sdir, "%s/ft", d);
    snprintf(out, sizeof out, "%s/ft.png", d);
    CU_ASSERT_EQUAL(test_cli(NULL, 0, NULL, 0, "plot", "first-token", base, "-o", out, "--script-only", sdir, NULL), 0);
    snprintf(p, sizeof p, "%s/d00.f32", sdir);
    long n;
    float *t = (float *)slurp(p, &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(n, 8 * 2 * 4);
    float want[16];
    for (int l = 0; l < 8; l++) {
        double m = 0;
        for (int h = 0; h < 4; h++)
            m += test_runmaker_fts(&b, l, h) / 4;
        want[2 * l] = (float)(l + 1); /* layers numbered from 1 */
        want[2 * l + 1] = (float)m;
    }
    double diff = test_max_abs_diff(t, want, 16);
    printf("\n  first-token table vs runmaker: max |diff| = %g", diff);
    CU_ASSERT_TRUE(diff < 1e-6);
    free(t);
}

/* Occurrences of needle in the file at path (-1 when unreadable). */
static int count_in_file(const char *path, const char *needle)
{
    long n;
    char *b = (char *)slurp(path, &n);
    if (!b)
        return -1;
    int k = 0;
    for (const char *p = b; (p = strstr(p, needle)); p++)
        k++;
    free(b);
    return k;
}

/* sdpa-sparsity: a gated run with /stats/attn_meangate_frac_below gets the third curve
 * (its values, in each of the two panels and the legend); a gated file without it (an
 * older sinkscope) and a baseline plot without one. */
static void test_sparsity_control(void)
{
    const char *d = test_tmpdir("plots-sparsity");
    char base[600], gated[600], old[600], out[700], sdir[700], p[800], err[2048];
    struct test_run_spec b, g, o;
    test_run_spec_default(&b);
    b.n_layers = 5;
    g = b;
    g.gate_kind = "elementwise";
    o = g;
    o.omit = "/stats/attn_meangate_frac_below";
    snprintf(base, sizeof base, "%s/base.h5", d);
    snprintf(gated, sizeof gated, "%s/gated.h5", d);
    snprintf(old, sizeof old, "%s/old.h5", d);
    CU_ASSERT_EQUAL_FATAL(test_runmaker_write(base, &b), 0);
    CU_ASSERT_EQUAL_FATAL(test_runmaker_write(gated, &g), 0);
    CU_ASSERT_EQUAL_FATAL(test_runmaker_write(old, &o), 0);
    snprintf(out, sizeof out, "%s/s.png", d);
    snprintf(sdir, sizeof sdir, "%s/script", d);
    CU_ASSERT_EQUAL_FATAL(test_cli(NULL, 0, err, sizeof err, "plot", "sdpa-sparsity", base, gated, old, "-o", out,
                                   "--script-only", sdir, NULL), 0);
    snprintf(p, sizeof p, "%s/plot.gp", sdir);
    int n = count_in_file(p, "'pre-gate x mean gate'");
    printf("\n  control curves in the script: %d (expected 3: two panels and the legend)", n);
    CU_ASSERT_EQUAL(n, 3);
    CU_ASSERT_EQUAL(count_in_file(p, "'base (no gate)'"), 3);
    CU_ASSERT_EQUAL(count_in_file(p, "'old:'"), 1); /* old: before and after only */
    CU_ASSERT_EQUAL(count_in_file(p, "'after gate'"), 6);
    /* tables in plot order: base d00; gated d01 before, d02 after, d03 control; old d04, d05 */
    snprintf(p, sizeof p, "%s/d03.f32", sdir);
    long bytes;
    float *t = (float *)slurp(p, &bytes);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(bytes, 5 * 3 * 4);
    float want[15];
    for (int l = 0; l < 5; l++) {
        want[3 * l] = (float)(l + 1);
        want[3 * l + 1] = (float)test_runmaker_meangate_frac(&g, l, 0);
        want[3 * l + 2] = (float)test_runmaker_meangate_frac(&g, l, 1);
    }
    CU_ASSERT_TRUE(test_max_abs_diff(t, want, 15) < 1e-7);
    free(t);
    snprintf(p, sizeof p, "%s/d06.f32", sdir);
    CU_ASSERT_EQUAL(file_size(p), -1);
    /* each renders: all three (log y), the old file alone, the baseline alone */
    unsigned w, h;
    snprintf(out, sizeof out, "%s/all.png", d);
    CU_ASSERT_EQUAL(test_cli(NULL, 0, err, sizeof err, "plot", "sdpa-sparsity", base, gated, old, "--log", "-o", out,
                             NULL), 0);
    CU_ASSERT_EQUAL(png_size(out, &w, &h), 0);
    snprintf(out, sizeof out, "%s/old.png", d);
    CU_ASSERT_EQUAL(test_cli(NULL, 0, err, sizeof err, "plot", "sdpa-sparsity", old, "-o", out, NULL), 0);
    CU_ASSERT_EQUAL(png_size(out, &w, &h), 0);
    snprintf(out, sizeof out, "%s/base.png", d);
    CU_ASSERT_EQUAL(test_cli(NULL, 0, err, sizeof err, "plot", "sdpa-sparsity", base, "-o", out, NULL), 0);
    CU_ASSERT_EQUAL(png_size(out, &w, &h), 0);
}

/* Run files written by `sinkscope run` on synth tiny checkpoints (random weights). */
static void test_real_runs(void)
{
    const char *d = test_tmpdir("plots-real");
    char mb[600], mg[600], rb[600], rg[600], out[700], err[2048];
    snprintf(mb, sizeof mb, "%s/tiny", d);
    snprintf(mg, sizeof mg, "%s/tiny-gated", d);
    snprintf(rb, sizeof rb, "%s/base.h5", d);
    snprintf(rg, sizeof rg, "%s/gated.h5", d);
    CU_ASSERT_EQUAL_FATAL(test_cli(NULL, 0, err, sizeof err, "synth", "-o", mb, "--preset", "tiny", NULL), 0);
    CU_ASSERT_EQUAL_FATAL(
        test_cli(NULL, 0, err, sizeof err, "synth", "-o", mg, "--preset", "tiny", "--gate", "headwise", NULL), 0);
    const char *ids = "5,17,3,99,42,7,300,11,250,64,8,1";
    CU_ASSERT_EQUAL_FATAL(test_cli(NULL, 0, err, sizeof err, "run", "-m", mb, "--token-ids", ids, "-o", rb, "--dump",
                                   "attention,gates,hidden", "--quiet", "-t", "1", NULL), 0);
    CU_ASSERT_EQUAL_FATAL(test_cli(NULL, 0, err, sizeof err, "run", "-m", mg, "--token-ids", ids, "-o", rg, "--dump",
                                   "attention,gates,hidden", "--quiet", "-t", "1", NULL), 0);
    for (size_t k = 0; k < sizeof all_kinds / sizeof all_kinds[0]; k++) {
        snprintf(out, sizeof out, "%s/%s.png", d, all_kinds[k]);
        int rc = test_cli(NULL, 0, err, sizeof err, "plot", all_kinds[k], rb, rg, "--labels", "baseline,gated", "-o",
                          out, "--size", "1200,800", NULL);
        unsigned w = 0, h = 0;
        printf("\n  %-15s rc=%d %s", all_kinds[k], rc, rc ? err : "");
        CU_ASSERT_EQUAL(rc, 0);
        CU_ASSERT_EQUAL(png_size(out, &w, &h), 0);
        CU_ASSERT_EQUAL(w, 1200);
        CU_ASSERT_EQUAL(h, 800);
    }
    snprintf(out, sizeof out, "%s/paper.pdf", d);
    CU_ASSERT_EQUAL(test_cli(NULL, 0, err, sizeof err, "plot", "paper", rb, rg, "-o", out, NULL), 0);
    CU_ASSERT_EQUAL(pdf_pages(out), 9);
    /* the baseline alone has no gates */
    snprintf(out, sizeof out, "%s/gh.png", d);
    CU_ASSERT_EQUAL(test_cli(NULL, 0, err, sizeof err, "plot", "gate-hist", rb, "-o", out, NULL), 2);
    CU_ASSERT_EQUAL(file_size(out), -1);
}

SS_SUITE(plots)
{
    CU_pSuite s = CU_add_suite("plots", suite_init, NULL);
    CU_add_test(s, "every kind renders a PNG of the asked size", test_every_kind_png);
    CU_add_test(s, "default size is a paper column; --size units", test_default_size_png);
    CU_add_test(s, "PDF, SVG and cairolatex outputs", test_pdf_svg_tex);
    CU_add_test(s, "paper: one page per kind, missing data leaves pages out", test_paper_pages);
    CU_add_test(s, "missing gates / maps name the run option, nothing written", test_missing_data);
    CU_add_test(s, "bad options exit 2", test_bad_options);
    CU_add_test(s, "gnuplot missing from PATH", test_gnuplot_missing);
    CU_add_test(s, "gnuplot failure reports its error line, leaves nothing", test_gnuplot_fails);
    CU_add_test(s, "hung gnuplot killed after SINKSCOPE_GNUPLOT_TIMEOUT, leaves nothing", test_gnuplot_timeout);
    CU_add_test(s, "unwritable destination", test_unwritable_destination);
    CU_add_test(s, "quotes and backquotes stay data", test_quoting);
    CU_add_test(s, "token tick labels", test_token_labels);
    CU_add_test(s, "--script-only keeps script and data", test_script_only);
    CU_add_test(s, "head-averaged map values", test_map_values);
    CU_add_test(s, "long maps are mean-pooled", test_map_pooling);
    CU_add_test(s, "runmaker run files: every kind, values", test_runmaker_runs);
    CU_add_test(s, "sdpa-sparsity: third curve when the run has it", test_sparsity_control);
    CU_add_test(s, "real run files of synth tiny checkpoints", test_real_runs);
}
