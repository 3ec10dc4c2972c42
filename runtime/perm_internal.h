/*
** perm_internal.h - what every runtime file shares: error reporting,
** verbose logging, small helpers.
**
** Error rule inside the runtime (libuv's): an int function returns 0 on
** success and a negative errno on failure, after leaving a message with
** perm__errorf() that names what failed, where, and how to fix it.  Public
** functions turn that into -1 with errno set (api.c).
*/
#ifndef PERM_INTERNAL_H
#define PERM_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define PERM_HIDDEN __attribute__((visibility("hidden")))
#define PERM_RUNTIME_VERSION "0.2.0"

/* Record the calling thread's error message; returns -err (err > 0). */
PERM_HIDDEN int perm__errorf(int err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Same, appending ": strerror(err)". */
PERM_HIDDEN int perm__errorf_errno(int err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
PERM_HIDDEN const char *perm__error_message(void);
PERM_HIDDEN void perm__error_clear(void);
PERM_HIDDEN void perm__error_set_raw(const char *msg);

/* Printed on stderr only when PERM_VERBOSE is set. */
PERM_HIDDEN void perm__verbose(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
PERM_HIDDEN int perm__verbose_enabled(void);

/* Transient memory for the runtime's own use: always glibc's heap. */
PERM_HIDDEN void *perm__tmalloc(size_t size);
PERM_HIDDEN void *perm__tcalloc(size_t n, size_t size);
PERM_HIDDEN void *perm__trealloc(void *p, size_t size);
PERM_HIDDEN void perm__tfree(void *p);
PERM_HIDDEN char *perm__tstrdup(const char *s);

/* perm__open flags. */
#define PERM_OPEN_SHARED 0x1u  /* as mode letter s (mopen, PERM_FNAME) */
#define PERM_OPEN_STARTUP 0x2u /* before main: perm__open_started follows */
/* perm_open with a region capacity (0: PERM_SIZE or the default). */
PERM_HIDDEN int perm__open(const char *path, const char *mode,
                           uint64_t capacity, unsigned flags);
/*
** After a PERM_OPEN_STARTUP open, once main is reached and the program's
** globals are registered: reports the restore, and fails (message set) if
** one of them did not match the image.
*/
PERM_HIDDEN int perm__open_started(void);
/* Is tid a thread PERM itself runs (the signal checkpoint thread)? */
PERM_HIDDEN int perm__is_own_thread(int tid);
/* A thread of the runtime's own: unannounced, every signal blocked. */
PERM_HIDDEN int perm__own_thread_create(pthread_t *thread,
                                        void *(*start)(void *), void *arg);
/* Is an image open (and writable)? */
PERM_HIDDEN int perm__is_open(int *writable);

PERM_HIDDEN uint64_t perm__now_ns(void); /* CLOCK_MONOTONIC */
/* Defined by aslr.c, so that static links keep its constructor. */
PERM_HIDDEN extern const int perm__aslr_linked;
PERM_HIDDEN size_t perm__page_size(void);

#endif /* PERM_INTERNAL_H */
