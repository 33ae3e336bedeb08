/* model/parallel.c — a task counter shared by short-lived threads. Threads are
 * created per call: a forward pass makes a few thousand calls, ~30 us each, against
 * seconds of arithmetic, and nothing outlives the call. */
#include "parallel.h"

#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>

struct job {
    parallel_task_fn fn;
    void *ctx;
    int n_tasks;
    atomic_int next;
};

struct worker {
    struct job *job;
    int id;
};

static void *job_work(void *arg)
{
    struct worker *w = arg;
    struct job *j = w->job;
    for (int i; (i = atomic_fetch_add(&j->next, 1)) < j->n_tasks;)
        j->fn(j->ctx, i, w->id);
    return NULL;
}

void parallel_run(int n_tasks, int threads, parallel_task_fn fn, void *ctx)
{
    struct job j = {fn, ctx, n_tasks, 0};
    if (threads > n_tasks)
        threads = n_tasks;
    if (threads > 256)
        threads = 256;
    pthread_t th[256];
    struct worker wk[256];
    int started = 0;
    for (int i = 1; i < threads; i++, started++) {
        wk[i] = (struct worker){&j, i};
        if (pthread_create(&th[started], NULL, job_work, &wk[i]))
            break;
    }
    wk[0] = (struct worker){&j, 0};
    job_work(&wk[0]);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
}

void parallel_blas_init(void)
{
    openblas_set_num_threads(1);
}
