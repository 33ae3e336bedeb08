/* plots/gp.c — build a gnuplot script with its data files and run gnuplot on it without a shell. */
#include "gp.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/outfile.h"

#define GP_ERR_NAME "gnuplot.err"
#define GP_TIMEOUT_ENV "SINKSCOPE_GNUPLOT_TIMEOUT"
#define GP_TIMEOUT_DEFAULT_S 120.0

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

enum ss_status gp_open(struct gp *g, const char *script_dir, enum plot_format fmt,
                       const char *dest, struct ss_error *err)
{
    memset(g, 0, sizeof *g);
    g->fmt = fmt;
    snprintf(g->out_name, sizeof g->out_name, "%s", base_name(dest));
    if (script_dir) {
        if (mkdir(script_dir, 0755) != 0 && errno != EEXIST)
            return ss_fail(err, SS_ERR_IO, "%s: cannot create directory: %s", script_dir, strerror(errno));
        struct stat st;
        if (stat(script_dir, &st) != 0 || !S_ISDIR(st.st_mode))
            return ss_fail(err, SS_ERR_IO, "%s: not a directory", script_dir);
        if (!realpath(script_dir, g->dir))
            return ss_fail(err, SS_ERR_IO, "%s: %s", script_dir, strerror(errno));
        g->keep = 1;
    } else {
        const char *tmp = getenv("TMPDIR");
        if (!tmp || !*tmp)
            tmp = "/tmp";
        snprintf(g->dir, sizeof g->dir, "%s/sinkscope-plot-XXXXXX", tmp);
        if (!mkdtemp(g->dir)) {
            int e = errno;
            g->dir[0] = 0;
            return ss_fail(err, SS_ERR_IO, "%s: cannot create a temporary directory: %s", tmp, strerror(e));
        }
    }
    return SS_OK;
}

void gp_close(struct gp *g)
{
    if (g->dir[0] && !g->keep) {
        DIR *d = opendir(g->dir);
        if (d) {
            struct dirent *e;
            char p[4400];
            while ((e = readdir(d))) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                    continue;
                snprintf(p, sizeof p, "%s/%s", g->dir, e->d_name);
                unlink(p);
            }
            closedir(d);
        }
        rmdir(g->dir);
    }
    free(g->buf);
    g->buf = NULL;
    g->len = g->cap = 0;
    g->dir[0] = 0;
}

void gp_printf(struct gp *g, const char *fmt, ...)
{
    if (g->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(g->buf ? g->buf + g->len : NULL, g->buf ? g->cap - g->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            g->oom = 1;
            return;
        }
        if (g->buf && g->len + (size_t)n < g->cap) {
            g->len += (size_t)n;
            return;
        }
        size_t cap = g->cap ? g->cap * 2 : 1 << 16;
        while (cap < g->len + (size_t)n + 1)
            cap *= 2;
        char *nb = realloc(g->buf, cap);
        if (!nb) {
            g->oom = 1;
            return;
        }
        g->buf = nb;
        g->cap = cap;
    }
}

/* Append s to out (capacity n, at *o) unless it would not fit; 0 when full. */
static int put(char *out, size_t n, size_t *o, const char *s)
{
    size_t l = strlen(s);
    if (*o + l + 8 > n)
        return 0;
    memcpy(out + *o, s, l);
    *o += l;
    return 1;
}

/* Quote (and for LaTeX escape) s into the next ring buffer. Text that does not
 * fit is cut at a UTF-8 character boundary. */
static const char *quote(struct gp *g, const char *s, int latex)
{
    char *out = g->ring[g->ring_next++ % 8];
    size_t n = sizeof g->ring[0], o = 0;
    out[o++] = '\'';
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        char one[2] = {(char)*p, 0};
        const char *piece = one;
        if (*p == '\'')
            piece = "''";
        else if (*p == '\n' || *p == '\r' || *p == '\t')
            piece = " ";
        else if (latex) {
            switch (*p) {
            case '\\': piece = "\\textbackslash{}"; break;
            case '#': piece = "\\#"; break;
            case '$': piece = "\\$"; break;
            case '%': piece = "\\%"; break;
            case '&': piece = "\\&"; break;
            case '_': piece = "\\_"; break;
            case '{': piece = "\\{"; break;
            case '}': piece = "\\}"; break;
            case '~': piece = "\\textasciitilde{}"; break;
            case '^': piece = "\\textasciicircum{}"; break;
            case '|': piece = "\\textbar{}"; break;
            case '<': piece = "\\textless{}"; break;
            case '>': piece = "\\textgreater{}"; break;
            default: break;
            }
        }
        if (!put(out, n, &o, piece)) {
            while (o > 1 && ((unsigned char)out[o - 1] & 0xC0) == 0x80)
                o--; /* drop a partial UTF-8 sequence */
            if (o > 1 && ((unsigned char)out[o - 1] & 0xC0) == 0xC0)
                o--;
            break;
        }
    }
    out[o++] = '\'';
    out[o] = 0;
    return out;
}

const char *gp_q(struct gp *g, const char *s) { return quote(g, s, 0); }

const char *gp_text(struct gp *g, const char *s) { return quote(g, s, g->fmt == PLOT_FORMAT_TEX); }

enum ss_status gp_data(struct gp *g, const float *v, size_t n, char name[32], struct ss_error *err)
{
    snprintf(name, 32, "d%02d.f32", g->n_data++);
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", g->dir, name);
    FILE *f = fopen(p, "wb");
    if (!f)
        return ss_fail(err, SS_ERR_IO, "%s: %s", p, strerror(errno));
    /* float32 little-endian: the script says endian=little; this host is little-endian */
    size_t w = n ? fwrite(v, sizeof *v, n, f) : 0;
    int bad = (w != n) | (fclose(f) != 0);
    if (bad)
        return ss_fail(err, SS_ERR_IO, "%s: write failed: %s", p, strerror(errno));
    return SS_OK;
}

int gp_find_program(const char *prog, char *full, size_t n)
{
    char cand[8300];
    struct stat st;
    if (strchr(prog, '/')) {
        if (stat(prog, &st) != 0 || !S_ISREG(st.st_mode) || access(prog, X_OK) != 0)
            return 0;
        return realpath(prog, full) && strlen(full) < n; /* full is PATH_MAX-sized by callers */
    }
    const char *path = getenv("PATH");
    if (!path)
        return 0;
    while (*path) {
        size_t l = strcspn(path, ":");
        snprintf(cand, sizeof cand, "%.*s/%s", l ? (int)(l < 4096 ? l : 4096) : 1, l ? path : ".", prog);
        if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0 && realpath(cand, full) &&
            strlen(full) < n)
            return 1;
        path += l;
        if (*path == ':')
            path++;
    }
    return 0;
}

/* The first line of gnuplot's stderr that locates an error ("plot.gp" line N: ...),
 * else its first non-empty line. */
static void first_error_line(const char *errpath, char *line, size_t n)
{
    line[0] = 0;
    FILE *f = fopen(errpath, "r");
    if (!f)
        return;
    char buf[1024];
    char first[1024] = "";
    while (fgets(buf, sizeof buf, f)) {
        buf[strcspn(buf, "\r\n")] = 0;
        if (strstr(buf, "\" line ") || !strncmp(buf, "line ", 5)) {
            snprintf(line, n, "%s", buf);
            fclose(f);
            return;
        }
        const char *t = buf + strspn(buf, " \t");
        if (!first[0] && *t && strcmp(t, "^"))
            snprintf(first, sizeof first, "%s", t);
    }
    fclose(f);
    snprintf(line, n, "%s", first[0] ? first : "no message");
}

/* Copy src to dst (for a destination on another file system). */
static int copy_file(const char *src, const char *dst)
{
    int in = open(src, O_RDONLY);
    if (in < 0)
        return -1;
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0) {
        int e = errno;
        close(in);
        errno = e;
        return -1;
    }
    char buf[1 << 16];
    ssize_t r;
    int rc = 0;
    while ((r = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)r) != r) {
            rc = -1;
            break;
        }
    if (r < 0)
        rc = -1;
    int e = errno;
    close(in);
    if (close(out) != 0)
        rc = -1;
    errno = e;
    return rc;
}

/* Move src to "dst.tmp-PID" beside dst (rename, or copy across file systems), then
 * put it at dst under the no-clobber rule (common/outfile.h). */
static enum ss_status move_into_place(const char *src, const char *dst, int force, struct ss_error *err)
{
    char tmp[PATH_MAX + 32];
    if (outfile_tmp_name(dst, tmp, sizeof tmp))
        return ss_fail(err, SS_ERR_INPUT, "%s: path too long", dst);
    if (rename(src, tmp) != 0) {
        if (errno != EXDEV || copy_file(src, tmp) != 0) {
            int e = errno;
            unlink(tmp);
            return ss_fail(err, SS_ERR_IO, "%s: cannot write: %s", dst, strerror(e));
        }
    }
    enum ss_status st = outfile_commit(tmp, dst, force, err);
    if (st)
        unlink(tmp);
    return st;
}

/* Seconds gnuplot may run: $SINKSCOPE_GNUPLOT_TIMEOUT, else 120. A hung gnuplot
 * (a broken font setup, a huge map) must not hang a pipeline that plots. */
static enum ss_status gnuplot_timeout(double *limit_s, struct ss_error *err)
{
    const char *v = getenv(GP_TIMEOUT_ENV);
    *limit_s = GP_TIMEOUT_DEFAULT_S;
    if (!v || !*v)
        return SS_OK;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !(x > 0) || x > 1e7) /* also refuses nan and inf */
        return ss_fail(err, SS_ERR_INPUT, "%s='%.64s': not a positive number of seconds", GP_TIMEOUT_ENV, v);
    *limit_s = x;
    return SS_OK;
}

/* Wait at most limit_s for pid: 1 when it ended (status filled), 0 when time ran out.
 * Polls (1 ms, doubling to 20 ms) rather than catching SIGCHLD: library code leaves
 * the process's signal handling alone. */
static int wait_child(pid_t pid, double limit_s, volatile sig_atomic_t *stop, int *status)
{
    double deadline = clock_now_s() + limit_s;
    long step_ns = 1000000;
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            return 1;
        if (r < 0 && errno != EINTR) { /* ECHILD: reaped elsewhere (SIGCHLD ignored); as before, success */
            *status = 0;
            return 1;
        }
        if (clock_now_s() >= deadline || (stop && *stop))
            return 0;
        struct timespec ts = {0, step_ns};
        nanosleep(&ts, NULL);
        step_ns = step_ns < 20000000 ? step_ns * 2 : step_ns;
    }
}

/* Run prog on the script in g->dir; 0 when it exited 0 within the time limit, else fills
 * err (dest names the figure in the timeout message). */
static enum ss_status run_gnuplot(struct gp *g, const char *prog, const char *dest, volatile sig_atomic_t *stop,
                                  struct ss_error *err)
{
    char exe[4096];
    if (!gp_find_program(prog, exe, sizeof exe))
        return ss_fail(err, SS_ERR_INPUT, "%s not found on PATH: install gnuplot-nox (apt-get install gnuplot-nox)", prog);
    double limit_s;
    enum ss_status ts = gnuplot_timeout(&limit_s, err);
    if (ts)
        return ts;
    char errpath[4400];
    snprintf(errpath, sizeof errpath, "%s/%s", g->dir, GP_ERR_NAME);
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0)
        return ss_fail(err, SS_ERR_IO, "pipe: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(pfd[0]);
        close(pfd[1]);
        return ss_fail(err, SS_ERR_IO, "fork: %s", strerror(e));
    }
    if (pid == 0) {
        int e = 0;
        int fe = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fn = open("/dev/null", O_RDWR);
        if (chdir(g->dir) != 0 || fe < 0 || fn < 0 || dup2(fn, 0) < 0 || dup2(fn, 1) < 0 ||
            dup2(fe, 2) < 0)
            e = errno ? errno : EIO;
        if (!e) {
            char *argv[] = {(char *)prog, GP_SCRIPT_NAME, NULL};
            execv(exe, argv);
            e = errno;
        }
        if (write(pfd[1], &e, sizeof e) < 0) { /* nothing more to do */ }
        _exit(127);
    }
    close(pfd[1]);
    int child_errno = 0;
    ssize_t r;
    do
        r = read(pfd[0], &child_errno, sizeof child_errno);
    while (r < 0 && errno == EINTR);
    close(pfd[0]);
    int status = 0;
    if (!wait_child(pid, limit_s, stop, &status)) {
        /* SIGKILL: a hung gnuplot may not honour SIGTERM; its partial output dies with
         * the temporary directory (gp_close), nothing reached dest */
        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        if (stop && *stop)
            return ss_fail(err, SS_ERR_INTERRUPTED, "%s: interrupted; nothing written", dest);
        return ss_fail(err, SS_ERR_INPUT, "%s: %s timed out after %g s (%s sets the limit)", dest, prog, limit_s,
                       GP_TIMEOUT_ENV);
    }
    if (r == (ssize_t)sizeof child_errno) {
        if (child_errno == ENOENT)
            return ss_fail(err, SS_ERR_INPUT, "%s not found on PATH: install gnuplot-nox (apt-get install gnuplot-nox)", prog);
        return ss_fail(err, SS_ERR_INPUT, "cannot run %s: %s", prog, strerror(child_errno));
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char line[1024];
        first_error_line(errpath, line, sizeof line);
        if (WIFSIGNALED(status))
            return ss_fail(err, SS_ERR_INPUT, "%s killed by signal %d: %s", prog, WTERMSIG(status), line);
        return ss_fail(err, SS_ERR_INPUT, "%s failed (exit %d): %s (--script-only DIR keeps the script)",
                       prog, WEXITSTATUS(status), line);
    }
    return SS_OK;
}

enum ss_status gp_finish(struct gp *g, const char *prog, const char *dest, int force,
                         volatile sig_atomic_t *stop, struct ss_error *err)
{
    if (g->oom)
        return ss_fail(err, SS_ERR_NOMEM, "%s: out of memory building the gnuplot script", dest);
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", g->dir, GP_SCRIPT_NAME);
    FILE *f = fopen(p, "w");
    if (!f)
        return ss_fail(err, SS_ERR_IO, "%s: %s", p, strerror(errno));
    size_t w = fwrite(g->buf, 1, g->len, f);
    if ((w != g->len) | (fclose(f) != 0))
        return ss_fail(err, SS_ERR_IO, "%s: write failed: %s", p, strerror(errno));
    if (g->keep)
        return SS_OK;

    enum ss_status st = run_gnuplot(g, prog, dest, stop, err);
    if (st != SS_OK)
        return st;
    if (stop && *stop)
        return ss_fail(err, SS_ERR_INTERRUPTED, "%s: interrupted; nothing written", dest);
    char out[4400];
    snprintf(out, sizeof out, "%s/%s", g->dir, g->out_name);
    struct stat sb;
    if (stat(out, &sb) != 0 || sb.st_size == 0) {
        char line[1024];
        snprintf(p, sizeof p, "%s/%s", g->dir, GP_ERR_NAME);
        first_error_line(p, line, sizeof line);
        return ss_fail(err, SS_ERR_INPUT, "%s: gnuplot wrote no output: %s", dest, line);
    }
    if (g->fmt == PLOT_FORMAT_TEX) {
        /* cairolatex writes NAME.tex and the graphics NAME.pdf it includes */
        size_t lo = strlen(g->out_name), ld = strlen(dest);
        if (lo < 4 || ld < 4)
            return ss_fail(err, SS_ERR_INTERNAL, "%s: bad .tex name", dest);
        char gsrc[4400], gdst[4200];
        snprintf(gsrc, sizeof gsrc, "%s/%.*s.pdf", g->dir, (int)(lo - 4), g->out_name);
        snprintf(gdst, sizeof gdst, "%.*s.pdf", (int)(ld - 4), dest);
        st = move_into_place(gsrc, gdst, force, err);
        if (st != SS_OK)
            return st;
        st = move_into_place(out, dest, force, err);
        if (st != SS_OK)
            unlink(gdst);
        return st;
    }
    return move_into_place(out, dest, force, err);
}
