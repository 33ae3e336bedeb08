/* model/parallel.h — run a fixed set of tasks on a number of threads.
 *
 * The caller cuts the work into tasks from the problem's shape alone, and every
 * task runs single-threaded BLAS, so results are bit-identical for any thread
 * count (OpenBLAS's own threading partitions by thread count and changes the
 * rounding). */
#ifndef SS_MODEL_PARALLEL_H
#define SS_MODEL_PARALLEL_H

/* `worker` in [0, threads) names the thread running the task (0: the caller's), so
 * a task can use scratch that belongs to its thread. */
typedef void (*parallel_task_fn)(void *ctx, int task, int worker);

/* Run fn(ctx, i, worker) for i in [0, n_tasks) on up to `threads` threads (the caller's
 * thread is one of them) and return when all are done. Tasks are handed out in
 * order; a thread that cannot be started leaves its share to the others. */
void parallel_run(int n_tasks, int threads, parallel_task_fn fn, void *ctx);

/* Make OpenBLAS single-threaded in this process (the tasks are the parallelism). */
void parallel_blas_init(void);

#endif
