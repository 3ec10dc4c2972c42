/*
** error.c - the calling thread's last error message, and verbose logging.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "perm_internal.h"

/* Per-thread, so perm_error() is thread-safe without locks. */
static __thread char perm_error_buf[2048];

/*
** Formatted aside, then copied: an argument may be the previous message
** (perm__error_message()), which formatting straight into the buffer
** would overwrite while it is read.
*/
static int error_vset(int err, int with_errno, const char *fmt, va_list ap) {
  char msg[sizeof perm_error_buf];
  msg[0] = '\0';
  int n = vsnprintf(msg, sizeof msg, fmt, ap);
  if (with_errno && n >= 0 && (size_t)n < sizeof msg)
    snprintf(msg + n, sizeof msg - (size_t)n, ": %s", strerror(err));
  memcpy(perm_error_buf, msg, strlen(msg) + 1);
  if (perm__verbose_enabled())
    fprintf(stderr, "perm: error: %s\n", perm_error_buf);
  return -err;
}

int perm__errorf(int err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = error_vset(err, 0, fmt, ap);
  va_end(ap);
  return rc;
}

int perm__errorf_errno(int err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = error_vset(err, 1, fmt, ap);
  va_end(ap);
  return rc;
}

const char *perm__error_message(void) { return perm_error_buf; }
void perm__error_clear(void) { perm_error_buf[0] = '\0'; }

void perm__error_set_raw(const char *msg) {
  if (msg != perm_error_buf)
    snprintf(perm_error_buf, sizeof perm_error_buf, "%s", msg);
}

int perm__verbose_enabled(void) {
  /* Read every time: cheap, and a test may set it after start-up. */
  const char *v = secure_getenv("PERM_VERBOSE");
  return v != NULL && v[0] != '\0' && strcmp(v, "0") != 0;
}

void perm__verbose(const char *fmt, ...) {
  if (!perm__verbose_enabled())
    return;
  char buf[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  fprintf(stderr, "perm[%d]: %s\n", (int)getpid(), buf);
}

uint64_t perm__now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

size_t perm__page_size(void) {
  static size_t page;
  if (page == 0)
    page = (size_t)sysconf(_SC_PAGESIZE);
  return page;
}
