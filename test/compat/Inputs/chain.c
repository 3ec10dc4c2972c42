/*
** chain.c - an unmodified program (no PERM header, no PERM call) for the
** process rules of perm run and LD_PRELOAD (run-chain.test): only the
** program perm run was given persists; children start with no image.
**
**   chain NAME               count this run in a global and in a heap list
**   chain NAME fork          also fork a child that changes the globals and
**                            exits normally after the parent
**   chain NAME spawn PROG..  also run PROG (fork and exec) and wait for it
**   chain NAME signal-child  also send SIGUSR1 to a forked child and say
**                            how it ended (PERM_CHECKPOINT_SIGNAL=USR1 is
**                            the parent's: the child must get the default)
**   chain NAME reaper        reap every child from a SIGCHLD handler, as
**                            shells do (the checkpoint's child too)
**
** Prints "NAME: runs=R items=I sum=S".  Built with -DWITH_PERM and linked
** with libpermrt, its two globals are PERM (the raw section of perm.h).
*/
#ifdef WITH_PERM
#include <perm.h>
#else
#define PERM
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void reap(int signo) {
  (void)signo;
  while (waitpid(-1, NULL, WNOHANG) > 0)
    ;
}

struct item {
  struct item *next;
  int n;
};

static PERM struct item *items; /* bss */
static PERM int runs;           /* bss */

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: chain NAME [fork | spawn PROG ARGS...]\n");
    return 2;
  }
  runs++;
  struct item *it = malloc(sizeof *it);
  it->n = runs;
  it->next = items;
  items = it;
  int n = 0, sum = 0;
  for (struct item *p = items; p; p = p->next, n++)
    sum += p->n;
  printf("%s: runs=%d items=%d sum=%d\n", argv[1], runs, n, sum);
  fflush(stdout);
  if (argc > 2 && strcmp(argv[2], "fork") == 0) {
    /* The child outlives the parent: an image it wrote would win. */
    int p[2];
    if (pipe(p) != 0)
      return 1;
    pid_t pid = fork();
    if (pid < 0)
      return 1;
    if (pid == 0) {
      close(p[1]);
      char c;
      while (read(p[0], &c, 1) > 0)
        ;
      runs += 1000;
      items = NULL;
      exit(0);
    }
    close(p[0]);
  }
  if (argc > 2 && strcmp(argv[2], "reaper") == 0) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = reap;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGCHLD, &sa, NULL);
  }
  if (argc > 2 && strcmp(argv[2], "signal-child") == 0) {
    sigset_t usr1, old;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, &old); /* until the child waits for it */
    pid_t pid = fork();
    if (pid < 0)
      return 1;
    if (pid == 0) {
      sigset_t none;
      sigemptyset(&none);
      sigsuspend(&none); /* returns only if a handler took the signal */
      _exit(3);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    kill(pid, SIGUSR1);
    int status;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status))
      printf("%s: the child was killed by signal %d\n", argv[1],
             WTERMSIG(status));
    else
      printf("%s: the child exited %d\n", argv[1], WEXITSTATUS(status));
  }
  if (argc > 3 && strcmp(argv[2], "spawn") == 0) {
    pid_t pid = fork();
    if (pid < 0)
      return 1;
    if (pid == 0) {
      execvp(argv[3], &argv[3]);
      _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
      printf("%s: the child failed\n", argv[1]);
      return 1;
    }
  }
  return 0;
}
