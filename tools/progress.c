/*
** progress.c - the progress line of long verifications, and names made
** safe for a terminal.
*/
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

static uint64_t progress_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void tool_progress_init(tool_progress_t *p, int wanted, const char *label) {
  p->enabled = wanted && isatty(STDOUT_FILENO);
  p->shown = 0;
  p->label = label;
  p->start_ns = p->last_ns = progress_now();
}

void tool_progress_update(tool_progress_t *p, uint64_t done, uint64_t total) {
  if (!p->enabled)
    return;
  uint64_t now = progress_now();
  if (now - p->last_ns < 100000000u && done < total)
    return;
  p->last_ns = now;
  double secs = (double)(now - p->start_ns) / 1e9;
  char d[32], t[32], speed[32];
  tool_human_bytes(d, sizeof d, done);
  tool_human_bytes(t, sizeof t, total);
  tool_human_bytes(speed, sizeof speed,
                   secs > 0 ? (uint64_t)((double)done / secs) : 0);
  char name[256];
  printf("\r%s: verifying %s of %s (%3.0f%%), %s/s\033[K",
         tool_printable(name, sizeof name, p->label), d, t,
         total ? 100.0 * (double)done / (double)total : 100.0, speed);
  fflush(stdout);
  p->shown = 1;
}

void tool_progress_clear(tool_progress_t *p) {
  if (!p->shown)
    return;
  printf("\r\033[K");
  fflush(stdout);
  p->shown = 0;
}

const char *tool_printable(char *buf, size_t size, const char *s) {
  size_t k = 0;
  for (const unsigned char *c = (const unsigned char *)s; *c && k + 5 < size;
       c++) {
    if (*c < 0x20 || *c == 0x7f)
      k += (size_t)snprintf(buf + k, size - k, "\\x%02x", *c);
    else if (*c == '\\')
      buf[k++] = '\\', buf[k++] = '\\';
    else
      buf[k++] = (char)*c;
  }
  buf[k] = '\0';
  return buf;
}
