/*
** heat.c - an Open MPI program that survives being killed: a 1-D heat
** equation split across ranks, each rank keeping its part of the domain in
** its own persistent heap (one image per rank), with a collective checkpoint
** every few steps.  Rerun after a crash, every rank resumes from its image
** and the result is the one an uninterrupted run gives.
** Test: test/examples/mpi-heat.test.
**
**   mpirun -np N heat DIR STEPS EVERY [KILL_AT]
**
** KILL_AT: rank 1 kills itself (SIGKILL) after that step, as a node failure.
*/
#include <mpi.h>
#include <perm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CELLS_PER_RANK 4096

PERM long step;      /* the last step completed */
PERM double *u;      /* this rank's cells, with one ghost cell at each end */
PERM int saved_size; /* the number of ranks that wrote the images */

static void die(int rank, const char *what) {
  fprintf(stderr, "rank %d: %s: %s\n", rank, what, perm_error());
  MPI_Abort(MPI_COMM_WORLD, 1);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (argc < 4) {
    if (rank == 0)
      fprintf(stderr, "usage: heat DIR STEPS EVERY [KILL_AT]\n");
    MPI_Finalize();
    return 2;
  }
  long steps = atol(argv[2]), every = atol(argv[3]);
  long kill_at = argc > 4 ? atol(argv[4]) : -1;
  char path[4096];
  snprintf(path, sizeof path, "%s/heat.%d.img", argv[1], rank);

  /* After MPI_Init: MPI's own buffers stay transient. */
  if (perm_open(path, "a+") != 0)
    die(rank, "perm_open");
  if (!perm_restored()) {
    u = calloc(CELLS_PER_RANK + 2, sizeof *u);
    for (int i = 1; i <= CELLS_PER_RANK; i++) { /* a hot spot per rank */
      long g = (long)rank * CELLS_PER_RANK + i;
      u[i] = (g % 1000 < 50) ? 100.0 : 0.0;
    }
    step = 0;
    saved_size = size;
  } else if (saved_size != size) {
    fprintf(stderr, "rank %d: the images were written by %d ranks, not %d\n",
            rank, saved_size, size);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  /* Every rank must resume from the same step. */
  long lo, hi;
  MPI_Allreduce(&step, &lo, 1, MPI_LONG, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(&step, &hi, 1, MPI_LONG, MPI_MAX, MPI_COMM_WORLD);
  if (lo != hi) {
    if (rank == 0)
      fprintf(stderr,
              "ranks restored steps %ld to %ld: a crash during the "
              "collective checkpoint; restore the ranks at step %ld "
              "from their .prev images\n",
              lo, hi, hi);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  if (rank == 0)
    printf("%s at step %ld on %d ranks\n",
           perm_restored() ? "resumed" : "started", step, size);
  fflush(stdout);

  int left = rank > 0 ? rank - 1 : MPI_PROC_NULL;
  int right = rank < size - 1 ? rank + 1 : MPI_PROC_NULL;
  double *next = malloc((CELLS_PER_RANK + 2) * sizeof *next);
  while (step < steps) {
    MPI_Sendrecv(&u[1], 1, MPI_DOUBLE, left, 0, &u[CELLS_PER_RANK + 1], 1,
                 MPI_DOUBLE, right, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    MPI_Sendrecv(&u[CELLS_PER_RANK], 1, MPI_DOUBLE, right, 1, &u[0], 1,
                 MPI_DOUBLE, left, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (left == MPI_PROC_NULL)
      u[0] = u[1];
    if (right == MPI_PROC_NULL)
      u[CELLS_PER_RANK + 1] = u[CELLS_PER_RANK];
    for (int i = 1; i <= CELLS_PER_RANK; i++)
      next[i] = u[i] + 0.25 * (u[i - 1] - 2 * u[i] + u[i + 1]);
    memcpy(&u[1], &next[1], CELLS_PER_RANK * sizeof *u);
    step++;
    if (step % every == 0) { /* collective checkpoint */
      MPI_Barrier(MPI_COMM_WORLD);
      if (perm_checkpoint() != 0)
        die(rank, "perm_checkpoint");
      MPI_Barrier(MPI_COMM_WORLD);
    }
    if (step == kill_at && rank == 1) {
      printf("rank 1 killed after step %ld\n", step);
      fflush(stdout);
      kill(getpid(), SIGKILL);
    }
  }
  free(next);
  double local = 0, weighted = 0, total, wtotal;
  for (int i = 1; i <= CELLS_PER_RANK; i++) {
    local += u[i];
    weighted += u[i] * u[i];
  }
  MPI_Reduce(&local, &total, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
  MPI_Reduce(&weighted, &wtotal, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
  if (rank == 0)
    printf("step %ld: heat %.6f, energy %.9f\n", step, total, wtotal);
  MPI_Finalize();
  return 0;
}
