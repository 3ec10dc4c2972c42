/*
** perm.h - PERM: a persistent heap and persistent globals for C and C++.
**
** A program marks globals PERM, opens an image with perm_open(), allocates
** with malloc() as usual, and calls perm_checkpoint().  The next run restores
** the heap and the PERM globals at the same addresses.  See README.PERM.
**
** Every function is thread-safe.  Failures return -1 (or NULL), set errno and
** leave a message for perm_error(); the library prints nothing unless the
** environment variable PERM_VERBOSE is set.
*/
#ifndef PERM_H
#define PERM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PERM_VERSION_MAJOR 0
#define PERM_VERSION_MINOR 2
#define PERM_VERSION_PATCH 0

/*
** PERM marks a file-scope (or static local) variable persistent.  With the
** Clang plugin (clang-19 -fplugin=libperm.so) it is the "perm" attribute,
** which records the variable by name and type in the registry; without it,
** the variable is placed in the section "persistent", which is saved and
** restored as one nameless range, for the identical binary only.
*/
#if defined(__has_attribute)
#if __has_attribute(perm)
#define PERM __attribute__((perm))
#define PERM__PLUGIN 1
#endif
#endif
#ifndef PERM
#if defined(__has_attribute)
#if __has_attribute(retain)
#define PERM__RETAIN , retain
#endif
#endif
#ifndef PERM__RETAIN
#define PERM__RETAIN
#endif
#define PERM __attribute__((section("persistent"), used PERM__RETAIN))
#endif

/*
** Open modes are strings: "w+", "r+", "r", "a+" plus modifiers "x"
** (explicit allocation), "e" (eager restore), "s" (shared with other
** programs), "i" (incremental checkpoints).
*/
int perm_open(const char *path, const char *mode);
int perm_restored(void);
int perm_checkpoint(void);
int perm_checkpoint_async(void);
int perm_wait(void);
int perm_checkpoint_to(const char *path);
int perm_rollback(const char *path);
int perm_close(void);
int perm_register(void *addr, size_t size, const char *name);

void *perm_malloc(size_t size);
void *perm_calloc(size_t nmemb, size_t size);
void *perm_realloc(void *ptr, size_t size);
void *perm_aligned_alloc(size_t alignment, size_t size);
void perm_free(void *ptr);

typedef struct perm_stats_s {
  uint64_t allocated;     /* bytes in live allocations (jemalloc) */
  uint64_t active;        /* bytes in active pages (jemalloc) */
  uint64_t resident;      /* bytes resident (jemalloc) */
  uint64_t mapped;        /* bytes mapped by jemalloc */
  uint64_t region_base;   /* address of the persistent region */
  uint64_t region_size;   /* its capacity in bytes */
  uint64_t generation;    /* checkpoints taken over the heap's life */
  int restored;           /* 1 when this run restored an image */
  int open;               /* 1 while an image is attached */
  uint64_t last_pause_ns; /* time the program stopped for the last checkpoint */
  uint64_t last_duration_ns;   /* time until the last image was durable */
  uint64_t last_bytes_written; /* bytes of the last image file */
  uint64_t globals_restored;   /* registry entries restored by name */
  uint64_t globals_new;        /* entries in this build but not in the image */
  uint64_t globals_dropped;    /* entries in the image but not in this build */
  uint64_t last_bytes_dirtied; /* bytes of pages written since the one before
                                  (incremental checkpoints) */
  uint64_t last_data_bytes;    /* region data in the last image file */
  uint64_t chain_length;       /* images the last one needs, itself included */
  int last_incremental;        /* 1 when the last image was a delta */
  int tracking;                /* 1 when writes are tracked for deltas */
  int last_threads_waited;     /* threads the last checkpoint's fork found
                                  inside the allocator and waited for */
} perm_stats_t;

int perm_stats(perm_stats_t *stats);
const char *perm_error(void);

/*
** LLNL PERM's names (README.PERM, "For PERM users").  Define PERM_NO_COMPAT
** before including perm.h if they clash with names of your own.
*/
#ifndef PERM_NO_COMPAT
int perm(void *ptr, size_t size);
int mopen(const char *fname, const char *mode, size_t size);
int mclose(void);
int mflush(void);
int bopen(const char *fname, const char *mode);
int bclose(void);
int backup(void);
int restore(void);
extern char __start_persistent[] __attribute__((weak, visibility("hidden")));
extern char __stop_persistent[] __attribute__((weak, visibility("hidden")));
/* Bounds and size of this module's PERM block (section "persistent"). */
#define PERM_START ((void *)__start_persistent)
#define PERM_END ((void *)__stop_persistent)
#define PERM_SIZE ((size_t)((char *)PERM_END - (char *)PERM_START))
#endif

/*
** Without the plugin, every module that includes perm.h registers its
** "persistent" section as one nameless range (restored only into the
** identical binary).  The weak, hidden definition leaves one copy per module.
*/
#ifndef PERM__PLUGIN
/* Weak: a module may include perm.h without linking the runtime itself. */
void perm__registry_add_raw(void *begin, void *end) __attribute__((weak));
extern char __start_persistent[] __attribute__((weak, visibility("hidden")));
extern char __stop_persistent[] __attribute__((weak, visibility("hidden")));
__attribute__((constructor, weak, visibility("hidden"))) void
perm__register_persistent_section(void) {
  if (perm__registry_add_raw != NULL &&
      (void *)__start_persistent != (void *)__stop_persistent)
    perm__registry_add_raw(__start_persistent, __stop_persistent);
}
#endif

#ifdef __cplusplus
}
#endif

#endif /* PERM_H */
