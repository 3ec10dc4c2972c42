/*
** aslr.c - addresses that stay put without root.
**
** Heap objects may point at globals, string literals, functions and library
** data, so a restore needs the executable and every library at the addresses
** they had.  A process started with address randomisation re-executes itself
** once, before main and before any allocation, with
** personality(ADDR_NO_RANDOMIZE): no sysctl, no root.  argv, the environment
** and open descriptors are preserved by execve.  PERM_NO_REEXEC=1 turns it
** off; a restore into moved objects is then refused with an explanation.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <unistd.h>

#include "perm_internal.h"

#define ASLR_GUARD "PERM__REEXECED"

/*
** The constructor below is all this file is for, and a static link keeps
** only the archive members something refers to: api.c refers to this.
*/
PERM_HIDDEN const int perm__aslr_linked = 1;

static int aslr_enabled_system_wide(void) {
  int fd = open("/proc/sys/kernel/randomize_va_space", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 1;
  char c = '1';
  ssize_t n = read(fd, &c, 1);
  close(fd);
  return n != 1 || c != '0';
}

/* glibc passes (argc, argv, envp) to constructors of the main program and
** of libraries; priority 101 runs it before other constructors. */
__attribute__((constructor(101))) static void aslr_reexec(int argc, char **argv,
                                                          char **envp) {
  (void)argc;
  /* Set-user-ID programs ignore it; the guard below is the runtime's own. */
  const char *no = secure_getenv("PERM_NO_REEXEC");
  if (getenv(ASLR_GUARD) != NULL) {
    unsetenv(ASLR_GUARD); /* the program never sees it */
    return;
  }
  if (no != NULL && no[0] != '\0' && strcmp(no, "0") != 0)
    return;
  if (argv == NULL || envp == NULL || !aslr_enabled_system_wide())
    return;
  int pers = personality(0xffffffff);
  if (pers == -1 || (pers & ADDR_NO_RANDOMIZE))
    return;
  if (personality((unsigned long)pers | ADDR_NO_RANDOMIZE) == -1)
    return; /* not allowed here (seccomp): restores will say why they fail */
  setenv(ASLR_GUARD, "1", 1);
  extern char **environ;
  execve("/proc/self/exe", argv, environ);
  /* Still here: carry on with randomised addresses. */
  unsetenv(ASLR_GUARD);
  personality((unsigned long)pers);
}
