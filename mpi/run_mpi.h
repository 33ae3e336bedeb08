/* mpi/run_mpi.h — `sinkscope run` as one process of an MPI job (mpirun, srun).
 * Compiled only by `make MPI=1` (mpicc, -DSS_MPI); cli/cmd_run.c is its one user.
 * The job's design is in pipeline/pipeline.h (struct run_dist): each rank computes its
 * windows into the --resume records, the ranks meet once, rank 0 assembles. */
#ifndef SS_MPI_RUN_MPI_H
#define SS_MPI_RUN_MPI_H

#include <signal.h>

struct run_dist;

/* Under an MPI launcher (Open MPI's mpirun sets OMPI_COMM_WORLD_SIZE, srun and PMIx
 * launchers PMIX_RANK or PMI_RANK; SINKSCOPE_MPI=1 forces, =0 refuses): initialise
 * MPI and return this process's part of the job (size may be 1). Otherwise NULL,
 * and the binary is the serial one. stop is the run's signal flag: launchers stop
 * the other ranks with SIGTERM when one dies. quiet: rank 0 prints no progress. */
struct run_dist *run_mpi_open(volatile sig_atomic_t *stop, int quiet);

/* Finalise MPI and free d (NULL: nothing). */
void run_mpi_close(struct run_dist *d);

#endif
