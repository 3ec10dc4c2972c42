/*
** interpose.c - the malloc family every program linked with PERM gets.
**
** While an image is open (and not in "x" mode) every allocation of every
** thread comes from the private jemalloc and persists; before perm_open and
** after perm_close glibc serves them and they are transient.  free, realloc
** and malloc_usable_size dispatch by address, so a pointer from either side
** is always handled by its owner.  C++ operator new/delete reach us through
** libstdc++'s malloc/free.
*/
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <link.h>
#include <stdint.h>
#include <string.h>
#include <sys/auxv.h>

#include "heap.h"

/* glibc's allocator, under its own names. */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);

#define PERM_EXPORT __attribute__((visibility("default")))

/*
** A call into the private jemalloc, through the fork gate (heap.h): one load
** and a plain (tail) call, unless a fork is pending or threads must publish
** their state.  Every function here that makes such a call is PERM_GATED:
** a thread whose instruction pointer is in one counts as inside.
*/
#define GATED(type, call)                                                      \
  __extension__({                                                              \
    type r_;                                                                   \
    if (__builtin_expect(perm__gate_open_fast(), 1)) {                         \
      r_ = (call);                                                             \
    } else {                                                                   \
      perm_thread_t *t_ = perm__heap_enter();                                  \
      r_ = (call);                                                             \
      perm__heap_leave(t_);                                                    \
    }                                                                          \
    r_;                                                                        \
  })

/*
** A persistent allocation of bytes.  NULL with ENOMEM is not the answer yet:
** arenas may hold freed pages that another arena needs (perm__heap_reclaim
** gives them back, then it is tried once more); what still fails is a
** request that does not fit, reported once under PERM_VERBOSE.  The region
** itself stays silent: jemalloc asks it for more than it needs, and copes.
*/
#define PERSISTENT(call, bytes)                                                \
  __extension__({                                                              \
    void *p_ = GATED(void *, call);                                            \
    if (__builtin_expect(p_ == NULL, 0) && errno == ENOMEM) {                  \
      if (perm__heap_reclaim(bytes))                                           \
        p_ = GATED(void *, call);                                              \
      if (p_ == NULL && errno == ENOMEM)                                       \
        perm__heap_out_of_memory(bytes);                                       \
    }                                                                          \
    p_;                                                                        \
  })

/* n * size, or SIZE_MAX when that overflows (a request nothing can meet). */
static size_t interpose_bytes(size_t n, size_t size) {
  size_t bytes;
  return __builtin_mul_overflow(n, size, &bytes) ? SIZE_MAX : bytes;
}

PERM_GATED static void gated_free(void *ptr) {
  if (__builtin_expect(perm__gate_open_fast(), 1)) {
    permje_free(ptr);
    return;
  }
  perm_thread_t *t = perm__heap_enter();
  permje_free(ptr);
  perm__heap_leave(t);
}

/*------------------------------------------------------------ threads ---*/

typedef int (*interpose_pthread_create_t)(pthread_t *, const pthread_attr_t *,
                                          void *(*)(void *), void *);
static interpose_pthread_create_t interpose_real_pthread_create;

/* Found before main: dlsym may allocate. */
__attribute__((constructor(101))) static void interpose_find_pthread_create(void) {
  interpose_real_pthread_create =
      (interpose_pthread_create_t)dlsym(RTLD_NEXT, "pthread_create");
}

/* What the new thread runs: it joins the table of threads first. */
typedef struct interpose_start_s {
  void *(*start)(void *);
  void *arg;
} interpose_start_t;

static void *interpose_thread_start(void *p) {
  interpose_start_t s = *(interpose_start_t *)p;
  __libc_free(p);
  perm__thread_join(); /* before its first call into the allocator */
  return s.start(s.arg);
}

/* The first thread turns the fork gate on, while its creator is alone. */
PERM_EXPORT int pthread_create(pthread_t *thread, const pthread_attr_t *attr,
                               void *(*start)(void *), void *arg) {
  perm__heap_threads_begin();
  if (interpose_real_pthread_create == NULL)
    interpose_find_pthread_create();
  if (interpose_real_pthread_create == NULL)
    return EAGAIN;
  interpose_start_t *s = __libc_malloc(sizeof *s);
  if (s == NULL)
    return EAGAIN;
  s->start = start;
  s->arg = arg;
  int rc = interpose_real_pthread_create(thread, attr, interpose_thread_start, s);
  if (rc != 0)
    __libc_free(s);
  return rc;
}

/*
** A thread of PERM's own (collapse.c): it never calls the allocator, so it
** is not announced and does not turn the fork gate on; it blocks every
** signal, so a program's handler never runs on it (and allocates there).
*/
int perm__own_thread_create(pthread_t *thread, void *(*start)(void *),
                            void *arg) {
  if (interpose_real_pthread_create == NULL)
    interpose_find_pthread_create();
  if (interpose_real_pthread_create == NULL)
    return EAGAIN;
  pthread_attr_t attr;
  sigset_t all, old;
  int rc = pthread_attr_init(&attr);
  if (rc != 0)
    return rc;
  pthread_attr_setstacksize(&attr, 256 * 1024);
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  rc = interpose_real_pthread_create(thread, &attr, start, arg);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  return rc;
}

/*
** The dynamic loader's own allocations (link maps of libraries opened with
** dlopen, e.g. libgcc_s by pthread_exit; threads' TLS vectors) belong to this
** process, not to the program's state: they stay transient, recognised by the
** caller's address inside ld.so's code.
*/
typedef struct interpose_ldso_s {
  uintptr_t lo, len; /* ld.so's executable segment */
} interpose_ldso_t;

static interpose_ldso_t interpose_ldso;

static int interpose_find_ldso(struct dl_phdr_info *info, size_t size,
                               void *arg) {
  (void)size;
  uintptr_t base = *(uintptr_t *)arg;
  if (info->dlpi_addr != base)
    return 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
      interpose_ldso.lo = base + ph->p_vaddr;
      interpose_ldso.len = ph->p_memsz;
    }
  }
  return 1;
}

void perm__interpose_init(void) {
  uintptr_t base = (uintptr_t)getauxval(AT_BASE);
  if (base != 0 && interpose_ldso.len == 0)
    dl_iterate_phdr(interpose_find_ldso, &base);
}

static inline int interpose_persistent_for(const void *caller) {
  return __atomic_load_n(&perm__dispatch.persistent, __ATOMIC_RELAXED) &&
         (uintptr_t)caller - interpose_ldso.lo >= interpose_ldso.len;
}

#define interpose_persistent()                                                 \
  interpose_persistent_for(__builtin_return_address(0))

/* glibc exports no __libc_ name for it; found lazily, never inside malloc. */
static size_t (*interpose_libc_usable)(void *);

static size_t libc_usable_size(void *p) {
  if (interpose_libc_usable == NULL)
    interpose_libc_usable =
        (size_t(*)(void *))dlsym(RTLD_NEXT, "malloc_usable_size");
  return interpose_libc_usable != NULL ? interpose_libc_usable(p) : 0;
}

/* malloc's rare half: the gate is closed, or the heap gave NULL. */
PERM_GATED __attribute__((noinline)) static void *
interpose_malloc_slow(size_t size) {
  return PERSISTENT(permje_malloc(size), size);
}

/* The common case keeps nothing across the call but the result. */
PERM_EXPORT PERM_GATED void *malloc(size_t size) {
  if (__builtin_expect(!interpose_persistent(), 0))
    return __libc_malloc(size);
  if (__builtin_expect(perm__gate_open_fast(), 1)) {
    void *p = permje_malloc(size);
    if (__builtin_expect(p != NULL, 1))
      return p;
  }
  return interpose_malloc_slow(size);
}

PERM_EXPORT PERM_GATED void free(void *ptr) {
  if (perm__in_region(ptr))
    gated_free(ptr);
  else
    __libc_free(ptr);
}

PERM_EXPORT PERM_GATED void *calloc(size_t n, size_t size) {
  return interpose_persistent()
             ? PERSISTENT(permje_calloc(n, size), interpose_bytes(n, size))
             : __libc_calloc(n, size);
}

PERM_EXPORT PERM_GATED void *realloc(void *ptr, size_t size) {
  if (ptr == NULL)
    return interpose_persistent() ? PERSISTENT(permje_malloc(size), size)
                                  : __libc_malloc(size);
  if (!perm__in_region(ptr))
    return __libc_realloc(ptr, size);
  /* realloc(p, 0) frees p: its NULL is no failure, and must not be retried. */
  return size == 0 ? GATED(void *, permje_realloc(ptr, size))
                   : PERSISTENT(permje_realloc(ptr, size), size);
}

PERM_EXPORT PERM_GATED void *reallocarray(void *ptr, size_t n, size_t size) {
  size_t bytes;
  if (__builtin_mul_overflow(n, size, &bytes)) {
    errno = ENOMEM;
    return NULL;
  }
  return realloc(ptr, bytes);
}

PERM_EXPORT PERM_GATED int posix_memalign(void **out, size_t align, size_t size) {
  if (interpose_persistent()) {
    int rc = GATED(int, permje_posix_memalign(out, align, size));
    if (__builtin_expect(rc == ENOMEM, 0)) {
      if (perm__heap_reclaim(size))
        rc = GATED(int, permje_posix_memalign(out, align, size));
      if (rc == ENOMEM)
        perm__heap_out_of_memory(size);
    }
    return rc;
  }
  if (align < sizeof(void *) || (align & (align - 1)) != 0)
    return EINVAL;
  void *p = __libc_memalign(align, size);
  if (p == NULL)
    return ENOMEM;
  *out = p;
  return 0;
}

PERM_EXPORT PERM_GATED void *aligned_alloc(size_t align, size_t size) {
  return interpose_persistent()
             ? PERSISTENT(permje_aligned_alloc(align, size), size)
             : __libc_memalign(align, size);
}

PERM_EXPORT PERM_GATED void *memalign(size_t align, size_t size) {
  return interpose_persistent() ? PERSISTENT(permje_memalign(align, size), size)
                                : __libc_memalign(align, size);
}

PERM_EXPORT PERM_GATED void *valloc(size_t size) {
  return interpose_persistent() ? PERSISTENT(permje_valloc(size), size)
                                : __libc_valloc(size);
}

PERM_EXPORT PERM_GATED void *pvalloc(size_t size) {
  if (!interpose_persistent())
    return __libc_pvalloc(size);
  size_t page = perm__page_size();
  size_t bytes = size == 0 ? page : (size + page - 1) & ~(page - 1);
  return PERSISTENT(permje_valloc(bytes), bytes);
}

PERM_EXPORT PERM_GATED size_t malloc_usable_size(void *ptr) {
  if (ptr == NULL)
    return 0;
  return perm__in_region(ptr) ? GATED(size_t, permje_malloc_usable_size(ptr))
                              : libc_usable_size(ptr);
}

/*------------------------------------------------- always persistent ---*/

PERM_EXPORT PERM_GATED void *perm_malloc(size_t size) {
  if (!perm__heap_ready()) {
    errno = ENOMEM;
    return NULL;
  }
  return PERSISTENT(permje_malloc(size), size);
}

PERM_EXPORT PERM_GATED void *perm_calloc(size_t n, size_t size) {
  if (!perm__heap_ready()) {
    errno = ENOMEM;
    return NULL;
  }
  return PERSISTENT(permje_calloc(n, size), interpose_bytes(n, size));
}

PERM_EXPORT PERM_GATED void *perm_realloc(void *ptr, size_t size) {
  if (ptr != NULL && !perm__in_region(ptr))
    return __libc_realloc(ptr, size); /* owner keeps it */
  if (!perm__heap_ready()) {
    errno = ENOMEM;
    return NULL;
  }
  if (ptr != NULL && size == 0)
    return GATED(void *, permje_realloc(ptr, size)); /* a free */
  return PERSISTENT(permje_realloc(ptr, size), size);
}

PERM_EXPORT PERM_GATED void *perm_aligned_alloc(size_t align, size_t size) {
  if (!perm__heap_ready()) {
    errno = ENOMEM;
    return NULL;
  }
  return PERSISTENT(permje_aligned_alloc(align, size), size);
}

PERM_EXPORT PERM_GATED void perm_free(void *ptr) { free(ptr); }

/*---------------------------------------------- the runtime's own memory ---*/

void *perm__tmalloc(size_t size) { return __libc_malloc(size); }
void *perm__tcalloc(size_t n, size_t size) { return __libc_calloc(n, size); }
void *perm__trealloc(void *p, size_t size) { return __libc_realloc(p, size); }
void perm__tfree(void *p) { __libc_free(p); }

char *perm__tstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = __libc_malloc(n);
  if (d != NULL)
    memcpy(d, s, n);
  return d;
}
