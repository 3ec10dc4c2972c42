/*
** environ.c - PERM's environment: with PERM_FNAME set, the runtime opens the
** image before main (before the program's first persistent allocation) and
** checkpoints at exit, as LLNL PERM did; PERM_CHECKPOINT_SIGNAL names a
** signal that takes a checkpoint while the program runs.
**
** A malformed value stops the program at start-up with a message naming the
** variable: running on without the persistence the user asked for would
** lose their state silently.  This is the one place the runtime ends a
** process, because no caller exists to return an error to.
**
** The checkpoint at exit must run before the program's destructors: they
** unregister its persistent globals (the plugin's module destructors) and
** free what C++ static objects own.  A handler registered with atexit() from
** this library's constructor would run after all of them, because glibc
** registers the destructors' caller (_dl_fini) later, in
** __libc_start_main.  So the runtime wraps __libc_start_main and registers
** its handler as main starts: it then runs first at exit.
**
** Which process owns the image.  PERM_FNAME and LD_PRELOAD are inherited by
** every child, and a child that opened the image too would overwrite it at
** its exit with its own state (a shell's commands, a command substitution's
** seq, a wrapper's readlink).  So the first process started with PERM_FNAME
** records itself in PERM__OWNER as "pid:PERM_FNAME"; children inherit it and
** exec keeps it.  A process whose pid is another is a child of the owner: it
** runs with no image (nothing is opened, nothing written at exit, no signal
** thread), whatever program it is.  exec keeps the pid, so each program of an
** exec chain (sh, env, the program: perm run names itself the owner before it
** execs the first) owns the image in turn; only the last one reaches exit
** and writes it.  An unmodified program on the way
** (libperm-preload.so, perm__env_preloaded) does not restore an image another
** program wrote: it runs with no image too, and the program it execs restores.
** A different PERM_FNAME makes a new owner: a child given its own image.
** A forked child of the owner inherits the heap but not the image: it does
** not checkpoint at exit.
**
** This file reads PERM_* (and the MPI rank for %r) with secure_getenv, so
** set-user-ID and set-group-ID programs ignore them: whoever starts such a
** program must not choose the files it writes.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dlfcn.h>
#include <link.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "../include/perm.h"
#include "config.h"
#include "environ.h"
#include "image.h"
#include "objects.h"
#include "perm_internal.h"
#include "safepoint.h"

#define ENV_DEFAULT_SIZE (1ull << 30) /* PERM's default for PERM_SIZE */
#define ENV_OWNER "PERM__OWNER"       /* "pid:PERM_FNAME" of the owner */

typedef struct environ_s {
  int signal_pipe[2]; /* the handler writes, the checkpoint thread reads */
  int signo;          /* PERM_CHECKPOINT_SIGNAL, 0 = none */
  pid_t signal_owner; /* the process the signal checkpoints */
  int thread_tid;     /* the checkpoint thread, 0 = none */
  int at_exit;        /* PERM_CHECKPOINT_AT_EXIT */
  int at_exit_armed;  /* env_at_exit is registered, to run before destructors */
  int started;        /* main was reached through __libc_start_main */
  int owner;          /* this process owns PERM_FNAME's image; -1 = not
                         decided yet */
  int preloaded;      /* libperm-preload.so: the program is unmodified */
  pid_t opener;       /* the process that opened the image */
  char path[4096];    /* PERM_FNAME, expanded */
  int (*main)(int, char **, char **); /* the program's, while we wrap it */
} environ_t;

static environ_t env_state = {.signal_pipe = {-1, -1}, .owner = -1};

static const char *env_rank(void) {
  static const char *const vars[] = {
      "OMPI_COMM_WORLD_RANK", "PMIX_RANK",   "PMI_RANK", "PMI_ID",
      "MV2_COMM_WORLD_RANK",  "SLURM_PROCID"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
    const char *v = secure_getenv(vars[i]);
    if (v != NULL && *v)
      return v;
  }
  return "0";
}

/* PERM_FNAME with %r (MPI rank), %p (pid), %h (host name), %% expanded. */
int perm__expand_fname(const char *in, char *out, size_t size) {
  size_t k = 0;
  for (const char *p = in; *p; p++) {
    char tmp[256];
    const char *add = tmp;
    if (*p != '%') {
      tmp[0] = *p;
      tmp[1] = '\0';
    } else {
      switch (*++p) {
      case 'r':
        add = env_rank();
        break;
      case 'p':
        snprintf(tmp, sizeof tmp, "%d", (int)getpid());
        break;
      case 'h':
        if (gethostname(tmp, sizeof tmp) != 0)
          snprintf(tmp, sizeof tmp, "localhost");
        tmp[sizeof tmp - 1] = '\0';
        break;
      case '%':
        snprintf(tmp, sizeof tmp, "%%");
        break;
      default:
        return perm__errorf(EINVAL,
                            "PERM_FNAME='%s': unknown '%%%c'; use %%r (MPI "
                            "rank), %%p (process id), %%h (host name) or %%%%",
                            in, *p ? *p : ' ');
      }
    }
    size_t n = strlen(add);
    if (k + n >= size)
      return perm__errorf(ENAMETOOLONG, "PERM_FNAME='%s' is too long", in);
    memcpy(out + k, add, n);
    k += n;
  }
  out[k] = '\0';
  return 0;
}

static int env_signal(const char *v, int *signo) {
  *signo = 0;
  if (v == NULL || *v == '\0')
    return 0;
  const char *name = strncmp(v, "SIG", 3) == 0 ? v + 3 : v;
  char *end;
  long n = strtol(name, &end, 10);
  if (*end == '\0' && n > 0 && n < NSIG)
    *signo = (int)n;
  for (int s = 1; s < NSIG && *signo == 0; s++) {
    const char *abbrev = sigabbrev_np(s);
    if (abbrev != NULL && strcmp(abbrev, name) == 0)
      *signo = s;
  }
  if (*signo == SIGKILL || *signo == SIGSTOP || *signo == 0)
    return perm__errorf(EINVAL,
                        "PERM_CHECKPOINT_SIGNAL='%s' is not a signal "
                        "that can be caught (example: USR1)",
                        v);
  if (*signo == perm__safepoint_signal())
    return perm__errorf(EINVAL,
                        "PERM_CHECKPOINT_SIGNAL='%s' is SIGRTMAX-1, which "
                        "PERM keeps for itself (README.PERM, section 6); "
                        "choose another (example: USR1)",
                        v);
  return 0;
}

static void env_on_signal(int signo) {
  int saved = errno;
  /*
  ** A forked child inherits the handler, not the image (nor the thread): it
  ** gets the signal's default action, as it would without PERM, instead of
  ** making its parent checkpoint.
  */
  if (getpid() != env_state.signal_owner) {
    sigset_t self;
    sigemptyset(&self);
    sigaddset(&self, signo);
    signal(signo, SIG_DFL);
    pthread_sigmask(SIG_UNBLOCK, &self, NULL); /* now, not after return */
    raise(signo);
    errno = saved;
    return;
  }
  char c = 1;
  ssize_t n = write(env_state.signal_pipe[1], &c, 1); /* async-signal-safe */
  (void)n;
  errno = saved;
}

/* Checkpoints on request, off the signal handler (fork is no handler job). */
static void *env_checkpoint_thread(void *arg) {
  (void)arg;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  __atomic_store_n(&env_state.thread_tid, (int)gettid(), __ATOMIC_RELEASE);
  char c;
  for (;;) {
    ssize_t n = read(env_state.signal_pipe[0], &c, 1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return NULL;
    if (perm_checkpoint() != 0)
      fprintf(stderr, "perm: checkpoint on signal %s failed: %s\n",
              sigabbrev_np(env_state.signo), perm_error());
    else
      perm__verbose("checkpoint on signal %s written",
                    sigabbrev_np(env_state.signo));
  }
}

int perm__is_own_thread(int tid) {
  return tid != 0 &&
         tid == __atomic_load_n(&env_state.thread_tid, __ATOMIC_ACQUIRE);
}

static void env_at_exit(void) {
  int writable = 0;
  if (!env_state.at_exit || getpid() != env_state.opener ||
      !perm__is_open(&writable) || !writable)
    return;
  /*
  ** A shell's SIGCHLD handler reaps any child (bash's waitpid(-1)), and an
  ** ignored SIGCHLD lets the kernel reap it: either would take the
  ** checkpoint's result.  The program is ending; its handler has no more
  ** children to wait for that matter to it.
  */
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigaction(SIGCHLD, &dfl, NULL);
  if (perm_checkpoint() != 0)
    fprintf(stderr, "perm: checkpoint at exit of '%s' failed: %s\n",
            env_state.path, perm_error());
}

__attribute__((noreturn)) static void env_fatal(void) {
  fprintf(stderr, "perm: %s\n", perm_error());
  _exit(1);
}

/*
** Registered by the constructor, so it runs after the destructors: only a
** fallback for programs whose main was not reached through the wrapper.
*/
static void env_at_exit_late(void) {
  if (!env_state.at_exit_armed)
    env_at_exit();
}

static void env_arm_at_exit(void) {
  if (!env_state.at_exit_armed) {
    env_state.at_exit_armed = 1;
    atexit(env_at_exit);
  }
}

static int env_main(int argc, char **argv, char **envp) {
  env_state.started = 1;
  if (env_state.opener != 0) {
    /* The executable's globals are registered now: were they restored? */
    if (perm__open_started() != 0) {
      char msg[2100];
      snprintf(msg, sizeof msg, "%s (from PERM_FNAME and PERM_MODE)",
               perm_error());
      perm__error_set_raw(msg);
      env_fatal();
    }
    env_arm_at_exit();
  }
  return env_state.main(argc, argv, envp);
}

typedef int (*env_start_main_t)(int (*)(int, char **, char **), int, char **,
                                void (*)(void), void (*)(void),
                                void (*)(void), void *);

/*
** glibc's program entry, called by the executable's _start: the real one
** registers the destructors' runner, runs the executable's constructors,
** then calls env_main.
*/
__attribute__((visibility("default"))) int
__libc_start_main(int (*main)(int, char **, char **), int argc, char **argv,
                  void (*init)(void), void (*fini)(void),
                  void (*rtld_fini)(void), void *stack_end) {
  env_start_main_t real =
      (env_start_main_t)dlsym(RTLD_NEXT, "__libc_start_main");
  if (real == NULL)
    abort(); /* no libc below us: nothing can run */
  env_state.main = main;
  return real(env_main, argc, argv, init, fini, rtld_fini, stack_end);
}


/* A PERM_* variable; NULL when unset, empty, or the program is set-user-ID. */
static const char *env_get(const char *name) {
  const char *v = secure_getenv(name);
  return v != NULL && *v ? v : NULL;
}

/*
** Is this process the owner of the image PERM_FNAME names (the file's
** opening comment)?  1 yes, 0 no, or -errno with the message set.
*/
static int env_claim(const char *fname) {
  pid_t self = getpid();
  const char *owner = secure_getenv(ENV_OWNER);
  if (owner != NULL) {
    char *end;
    long pid = strtol(owner, &end, 10);
    if (end != owner && *end == ':' && strcmp(end + 1, fname) == 0)
      return pid == (long)self; /* exec keeps the pid: the chain owns it */
  }
  char value[4200];
  if (snprintf(value, sizeof value, "%d:%s", (int)self, fname) >=
      (int)sizeof value)
    return perm__errorf(ENAMETOOLONG, "PERM_FNAME='%s' is too long", fname);
  if (setenv(ENV_OWNER, value, 1) != 0)
    return perm__errorf_errno(errno, "cannot set %s for PERM_FNAME='%s'",
                              ENV_OWNER, fname);
  return 1;
}

/* Decides once whether this process owns the image; fatal on failure. */
static int env_owner(void) {
  if (env_state.owner < 0) {
    const char *fname = env_get("PERM_FNAME");
    int rc = fname != NULL ? env_claim(fname) : 0;
    if (rc < 0)
      env_fatal();
    env_state.owner = rc;
  }
  return env_state.owner;
}

/* Is *arg inside the executable, the first object dl_iterate_phdr visits? */
static int env_in_executable(struct dl_phdr_info *info, size_t size,
                             void *arg) {
  (void)size;
  uintptr_t *addr = arg;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type == PT_LOAD &&
        *addr - (info->dlpi_addr + ph->p_vaddr) < ph->p_memsz)
      return 1;
  }
  return -1; /* not there: stop */
}

/*
** Is another PERM runtime in this process (called from the preload
** library)?  A shared libpermrt comes after the preload library in the
** search order; a static one is in the executable, which then exports the
** wrapped __libc_start_main (nothing else in a process defines it there).
** Two runtimes would compete for one region and one image.
*/
static int env_other_runtime(char *name, size_t size) {
  void *next = dlsym(RTLD_NEXT, "perm__registry_add");
  Dl_info info;
  if (next != NULL) {
    snprintf(name, size, "%s",
             dladdr(next, &info) != 0 && info.dli_fname != NULL
                 ? info.dli_fname
                 : "libpermrt.so");
    return 1;
  }
  uintptr_t start = (uintptr_t)dlsym(RTLD_DEFAULT, "__libc_start_main");
  if (start != 0 && dl_iterate_phdr(env_in_executable, &start) == 1) {
    snprintf(name, size, "libpermrt.a, linked into the executable");
    return 1;
  }
  return 0;
}

int perm__env_preloaded(void) {
  env_state.preloaded = 1;
  /*
  ** A child of an owner that dropped PERM_FNAME (env -u) but kept
  ** LD_PRELOAD is not the user's mistake: it runs with no image.
  */
  if (env_get("PERM_FNAME") == NULL && env_get(ENV_OWNER) == NULL &&
      !getauxval(AT_SECURE)) {
    perm__errorf(EINVAL, "libperm-preload.so needs PERM_FNAME, the image to "
                         "keep the program's state in (or use 'perm run "
                         "--image FILE -- PROGRAM')");
    env_fatal();
  }
  if (!env_owner())
    return 0;
  char other[600];
  if (env_other_runtime(other, sizeof other)) {
    perm__errorf(EINVAL,
                 "libperm-preload.so is loaded into a program that has the "
                 "PERM runtime already (%s); run it without LD_PRELOAD or "
                 "perm run: PERM_FNAME opens its image",
                 other);
    env_fatal();
  }
  return 1;
}

/*
** An unmodified program on the way to the owner's last program (a shell,
** env, a wrapper script's interpreter, each exec'ing the next in the same
** process) finds the image that program wrote.  Restoring it would be wrong
** and would fail: this program's data are known only by address, which
** another program does not share.  So when the image's executable is another
** program, this one runs with no image, and says so under PERM_VERBOSE.  A
** rebuild of the same program (same path) is not on the way: its open goes
** on and names the builds.  Any problem reading the image is left to the
** open, which reports it.  Returns 1 to run with no image.
*/
static int env_on_the_way(const char *path, const char *mode) {
  if (mode[0] == 'w')
    return 0; /* a new heap: the image is not read */
  perm_image_view_t img;
  int other = 0;
  perm_objects_verdict_t v;
  memset(&v, 0, sizeof v);
  if (perm__image_view_open(&img, path, 0, NULL) == 0) {
    /*
    ** The executable is the table's first entry, so the verdict on it holds
    ** even when a library that comes later differs (rc != 0).
    */
    perm__objects_check(img.objects_block, img.objects_len, path, &v);
    other = v.main == PERM_MAIN_OTHER;
  }
  perm__image_view_close(&img);
  perm__error_clear();
  if (other)
    perm__verbose("%s runs with no image: '%s' was written by %s, another "
                  "program (this one is on the way to it: a shell, env or a "
                  "wrapper)",
                  v.reader, path, v.writer);
  return other;
}

__attribute__((constructor(103))) static void env_start(void) {
  /* Not the owner: the runtime stays out of the program's way. */
  if (!env_owner()) {
    const char *mode = env_get("PERM_MODE");
    if (env_get("PERM_FNAME") == NULL && env_get(ENV_OWNER) == NULL &&
        (mode != NULL || env_get("PERM_CHECKPOINT_SIGNAL") != NULL)) {
      perm__errorf(EINVAL,
                   "%s is set but PERM_FNAME is not: name the image "
                   "with PERM_FNAME",
                   mode != NULL ? "PERM_MODE" : "PERM_CHECKPOINT_SIGNAL");
      env_fatal();
    }
    return;
  }
  perm_config_t cfg;
  if (perm__config_load(&cfg) != 0)
    env_fatal();
  int b;
  if (perm__parse_bool("PERM_VERBOSE", secure_getenv("PERM_VERBOSE"), &b) !=
          0 ||
      perm__parse_bool("PERM_NO_REEXEC", secure_getenv("PERM_NO_REEXEC"),
                       &b) != 0)
    env_fatal();
  const char *fname = env_get("PERM_FNAME");
  const char *exitv = secure_getenv("PERM_CHECKPOINT_AT_EXIT");
  if (perm__parse_bool("PERM_CHECKPOINT_AT_EXIT", exitv, &env_state.at_exit) !=
      0)
    env_fatal();
  if (exitv == NULL)
    env_state.at_exit = 1; /* PERM's behaviour */
  if (env_signal(secure_getenv("PERM_CHECKPOINT_SIGNAL"), &env_state.signo) !=
      0)
    env_fatal();
  if (perm__expand_fname(fname, env_state.path, sizeof env_state.path) != 0)
    env_fatal();
  const char *mode = env_get("PERM_MODE");
  if (mode == NULL)
    mode = "w+";
  if (env_state.preloaded && env_on_the_way(env_state.path, mode))
    return;
  uint64_t size = env_get("PERM_SIZE") != NULL ? cfg.size : ENV_DEFAULT_SIZE;
  /* The thread first, so its thread data are not in the persistent heap. */
  if (env_state.signo != 0) {
    pthread_t th;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = env_on_signal;
    sa.sa_flags = SA_RESTART;
    env_state.signal_owner = getpid();
    if (pipe2(env_state.signal_pipe, O_CLOEXEC) != 0 ||
        fcntl(env_state.signal_pipe[1], F_SETFL, O_NONBLOCK) != 0 ||
        pthread_create(&th, NULL, env_checkpoint_thread, NULL) != 0 ||
        sigaction(env_state.signo, &sa, NULL) != 0) {
      perm__errorf_errno(errno, "PERM_CHECKPOINT_SIGNAL: cannot set up the "
                                "checkpoint thread");
      env_fatal();
    }
    pthread_detach(th);
  }
  if (perm__open(env_state.path, mode, size,
                 PERM_OPEN_SHARED | PERM_OPEN_STARTUP) != 0) {
    char msg[2100];
    snprintf(msg, sizeof msg, "%s (from PERM_FNAME and PERM_MODE)",
             perm_error());
    perm__error_set_raw(msg);
    env_fatal();
  }
  env_state.opener = getpid();
  if (env_state.started)
    env_arm_at_exit(); /* a library loaded with dlopen: main has begun */
  else
    atexit(env_at_exit_late);
}
