/* mpi/run_mpi.c — the MPI side of a spread run: who this process is, progress
 * counts sent to rank 0, and the one meeting where rank 0 collects every rank's
 * status. Nothing of the statistics crosses MPI: the records on the shared
 * filesystem carry them (pipeline/pipeline.h), which is what makes the file identical to
 * a one-process run whatever the number of ranks.
 *
 * Messages, point to point: to rank 0 TAG_PROGRESS (an int) after each window and
 * TAG_STATUS (a struct report) once; from rank 0 TAG_DONE (an int) to each rank
 * once every report is in. A rank killed outright never reports; the launcher then
 * stops the others with SIGTERM (then SIGKILL, 1 s later under Open MPI), and rank 0
 * names the ranks whose report has not come MPI_GRACE_S after it saw the signal.
 * Open MPI cuts that second short as soon as another process of the node exits,
 * and a rank waiting inside MPI_Finalize exits on the signal: so the other ranks
 * wait for TAG_DONE by polling, and once stopped they linger instead of exiting. */
#include "run_mpi.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../pipeline/pipeline.h"
#include "../common/clock.h"

enum { TAG_PROGRESS = 1, TAG_STATUS = 2, TAG_DONE = 3 };
#define MPI_GRACE_S 0.3          /* well inside Open MPI's 1 s between SIGTERM and SIGKILL */
#define PROGRESS_EVERY_S 5.0     /* progress lines when stderr is not a terminal */
#define LINGER_S 3               /* a stopped rank's wait for the launcher's SIGKILL */

struct report {
    int status, pad;
    double t_forward, t_probes;
    char msg[1024];
};

struct run_mpi {
    struct run_dist d;           /* first member: the pipeline holds &d */
    volatile sig_atomic_t *stop;
    int quiet, tty;
    int n, T;                    /* windows and tokens per window (known after rank 0's first window) */
    int *finished;               /* rank 0: windows finished per rank */
    int printed_all;             /* rank 0: the last line (all windows) is out */
    struct report *rep;          /* rank 0: each rank's report */
    unsigned char *got;          /* rank 0: report received */
    double t0, t_printed;
};

static int launched(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"};
    const char *force = getenv("SINKSCOPE_MPI");
    if (force && *force)
        return strcmp(force, "0") != 0;
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (getenv(vars[i]))
            return 1;
    return 0;
}

/* A stopped rank other than 0 waits for the launcher's SIGKILL (at most LINGER_S): its
 * exit would make Open MPI kill rank 0 before rank 0 has said which rank died. */
static void linger(const struct run_mpi *m)
{
    for (int i = 0; m->d.rank != 0 && *m->stop && i < LINGER_S * 100; i++)
        usleep(10000);
}

/* A rank other than 0, its report sent: poll for rank 0's TAG_DONE (not MPI_Finalize, see above). */
static void await_done(const struct run_mpi *m)
{
    int done = 0, token;
    MPI_Request rq;
    MPI_Irecv(&token, 1, MPI_INT, 0, TAG_DONE, MPI_COMM_WORLD, &rq);
    while (!*m->stop && !done && MPI_Test(&rq, &done, MPI_STATUS_IGNORE) == MPI_SUCCESS)
        if (!done)
            usleep(2000);
    linger(m);
}

/* Rank 0: take every message that has arrived. */
static void drain(struct run_mpi *m)
{
    for (;;) {
        int flag = 0;
        MPI_Status st;
        if (MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st) != MPI_SUCCESS || !flag)
            return;
        int src = st.MPI_SOURCE;
        if (st.MPI_TAG == TAG_PROGRESS) {
            MPI_Recv(&m->finished[src], 1, MPI_INT, src, TAG_PROGRESS, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        } else {
            MPI_Recv(&m->rep[src], sizeof m->rep[src], MPI_BYTE, src, TAG_STATUS, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            m->rep[src].msg[sizeof m->rep[src].msg - 1] = 0;
            m->got[src] = 1;
        }
    }
}

/* Rank 0: one progress line over all ranks (\r-rewritten on a terminal, every few seconds otherwise). */
static void print_progress(struct run_mpi *m)
{
    if (m->quiet || m->n <= 0 || m->printed_all)
        return;
    int done = 0;
    for (int r = 0; r < m->d.size; r++)
        done += m->finished[r];
    m->printed_all = done >= m->n;
    double now = clock_now_s(), el = now - m->t0, rate = el > 0 ? done / el : 0;
    if (!m->tty && done < m->n && now - m->t_printed < PROGRESS_EVERY_S)
        return;
    m->t_printed = now;
    double left = rate > 0 ? (m->n - done) / rate : 0;
    fprintf(stderr, "%ssinkscope run: %d/%d windows on %d ranks, %.2f windows/s, %.0f tokens/s, ETA %d:%02d:%02d%s",
            m->tty ? "\r" : "", done, m->n, m->d.size, rate, rate * m->T, (int)left / 3600, (int)left / 60 % 60,
            (int)left % 60, m->tty && done < m->n ? " " : "\n");
}

static void mpi_progress(struct run_dist *d, int finished, int n, int T)
{
    struct run_mpi *m = (struct run_mpi *)d;
    if (d->rank != 0) {
        MPI_Send(&finished, 1, MPI_INT, 0, TAG_PROGRESS, MPI_COMM_WORLD);
        return;
    }
    m->n = n;
    m->T = T;
    m->finished[0] = finished;
    drain(m);
    print_progress(m);
}

/* Rank 0: the ranks that never reported, as "rank 3 died" / "ranks 1, 4 died". */
static enum ss_status name_missing(struct run_mpi *m, struct ss_error *err)
{
    char list[900] = "";
    int n = 0;
    size_t len = 0;
    for (int r = 0; r < m->d.size && len < sizeof list - 16; r++)
        if (!m->got[r])
            len += snprintf(list + len, sizeof list - len, "%s%d", n++ ? ", " : "", r);
    return ss_fail(err, SS_ERR_INTERRUPTED, "rank%s %s died (no report once the job was stopped)", n > 1 ? "s" : "",
                   list);
}

/* Rank 0: the job's status from the reports: a real error before an interruption, lower ranks first. */
static enum ss_status judge(struct run_mpi *m, double *t_forward, double *t_probes, struct ss_error *err)
{
    int worst = -1;
    *t_forward = *t_probes = 0;
    for (int r = 0; r < m->d.size; r++) {
        const struct report *p = &m->rep[r];
        *t_forward += p->t_forward;
        *t_probes += p->t_probes;
        if (p->status == SS_OK)
            continue;
        if (worst < 0 || (m->rep[worst].status == SS_ERR_INTERRUPTED && p->status != SS_ERR_INTERRUPTED))
            worst = r;
    }
    if (worst < 0)
        return SS_OK;
    const struct report *w = &m->rep[worst];
    /* the same line as rank 0's (an input every rank reads) needs no rank */
    if (worst == 0 || !strcmp(w->msg, m->rep[0].msg))
        return ss_fail(err, w->status, "%s", w->msg);
    return ss_fail(err, w->status, "rank %d: %.1000s", worst, w->msg);
}

static enum ss_status mpi_finish(struct run_dist *d, enum ss_status s, double *t_forward, double *t_probes,
                                 struct ss_error *err)
{
    struct run_mpi *m = (struct run_mpi *)d;
    struct report me = {.status = s, .t_forward = *t_forward, .t_probes = *t_probes};
    if (s && err)
        snprintf(me.msg, sizeof me.msg, "%s", err->msg);
    if (d->rank != 0) {
        MPI_Send(&me, sizeof me, MPI_BYTE, 0, TAG_STATUS, MPI_COMM_WORLD);
        await_done(m);
        return s;
    }
    m->rep[0] = me;
    m->got[0] = 1;
    double deadline = -1;
    for (;;) {
        drain(m);
        print_progress(m);
        int all = 1;
        for (int r = 0; r < d->size; r++)
            all &= m->got[r];
        if (all) {
            for (int r = 1; r < d->size; r++)
                MPI_Send(&r, 1, MPI_INT, r, TAG_DONE, MPI_COMM_WORLD);
            return judge(m, t_forward, t_probes, err);
        }
        double now = clock_now_s();
        if (*m->stop && deadline < 0)
            deadline = now + MPI_GRACE_S;
        if (deadline >= 0 && now > deadline)
            return name_missing(m, err);
        usleep(2000);
    }
}

struct run_dist *run_mpi_open(volatile sig_atomic_t *stop, int quiet)
{
    if (!launched())
        return NULL;
    int provided, rank, size;
    /* worker threads never call MPI: only the main thread does */
    MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    /* a failed call (a peer gone while the launcher tears the job down) must not abort rank 0 before it reports */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    struct run_mpi *m = calloc(1, sizeof *m);
    if (m && rank == 0) {
        m->finished = calloc(size, sizeof *m->finished);
        m->rep = calloc(size, sizeof *m->rep);
        m->got = calloc(size, 1);
    }
    if (!m || (rank == 0 && (!m->finished || !m->rep || !m->got))) {
        fprintf(stderr, "sinkscope: rank %d: out of memory\n", rank);
        MPI_Abort(MPI_COMM_WORLD, 3);
    }
    m->d = (struct run_dist){rank, size, mpi_progress, mpi_finish};
    m->stop = stop;
    m->quiet = quiet;
    m->tty = isatty(2);
    m->t0 = clock_now_s();
    return &m->d;
}

void run_mpi_close(struct run_dist *d)
{
    struct run_mpi *m = (struct run_mpi *)d;
    if (!m)
        return;
    linger(m);
    MPI_Finalize();
    free(m->finished);
    free(m->rep);
    free(m->got);
    free(m);
}
