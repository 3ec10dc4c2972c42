/*
** image_write.c - the image writer: page-aligned blocks with XXH3 checksums,
** and the region mirror, sparse.  It runs in the checkpoint child, so it
** allocates nothing from the persistent heap.
*/
#define _GNU_SOURCE
#define XXH_STATIC_LINKING_ONLY
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "image.h"
#include "sys.h"

static uint64_t align_up(uint64_t v, uint64_t a) {
  return (v + a - 1) & ~(a - 1);
}

int perm__image_writer_open(perm_image_writer_t *w, const char *path) {
  memset(w, 0, sizeof *w);
  w->path = path;
  w->fd = perm__sys_open(
      path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (w->fd < 0)
    return perm__errorf_errno(errno,
                              "cannot create the image '%s' (is the directory "
                              "writable, with room left?)",
                              path);
  memcpy(w->hdr.magic, PERM_IMAGE_MAGIC, 8);
  w->hdr.format_version = PERM_IMAGE_FORMAT_VERSION;
  w->hdr.header_size = sizeof(perm_image_header_t);
  w->hdr.page_size = (uint32_t)perm__page_size();
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  w->hdr.time_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
  snprintf(w->hdr.runtime_version, sizeof w->hdr.runtime_version, "%s",
           PERM_RUNTIME_VERSION);
  w->next = PERM_IMAGE_HEADER_SIZE;
  return 0;
}

static int writer_fail(perm_image_writer_t *w, int err, const char *what) {
  return perm__errorf(-err, "cannot write %s to the image '%s': %s%s", what,
                      w->path, strerror(-err),
                      -err == ENOSPC || -err == EDQUOT
                          ? " (the disk is full: free space; the previous "
                            "image is untouched)"
                          : "");
}

static int writer_add(perm_image_writer_t *w, uint32_t type, uint32_t flags,
                      uint64_t addr, uint64_t off, uint64_t len, uint64_t sum) {
  if (w->hdr.nblocks >= PERM_IMAGE_MAX_BLOCKS)
    return perm__errorf(E2BIG, "too many blocks for one image");
  w->hdr.blocks[w->hdr.nblocks++] = (perm_image_block_t){.type = type,
                                                         .flags = flags,
                                                         .offset = off,
                                                         .length = len,
                                                         .addr = addr,
                                                         .checksum = sum};
  return 0;
}

static int page_is_zero(const void *p, size_t page);

int perm__image_writer_block(perm_image_writer_t *w, uint32_t type,
                             uint32_t flags, uint64_t addr, const void *data,
                             size_t len) {
  uint64_t off = w->next;
  /* All-zero pages stay holes: jemalloc's bss is megabytes of mostly zeros. */
  size_t page = PERM_IMAGE_ALIGN;
  for (size_t done = 0; done < len; done += page) {
    size_t n = len - done < page ? len - done : page;
    const char *p = (const char *)data + done;
    if (n == page && page_is_zero(p, page))
      continue;
    int rc = perm__sys_pwrite_all(w->fd, p, n, (off_t)(off + done));
    if (rc != 0)
      return writer_fail(w, rc, perm__image_block_name(type, flags));
  }
  w->next = align_up(off + len, PERM_IMAGE_ALIGN);
  return writer_add(w, type, flags, addr, off, len, XXH3_64bits(data, len));
}

int perm__image_writer_table(perm_image_writer_t *w, uint32_t type,
                             const void *entries, size_t count,
                             size_t entry_size) {
  perm_image_table_t t = {.count = (uint32_t)count,
                          .entry_size = (uint32_t)entry_size};
  size_t len = sizeof t + count * entry_size;
  char *buf = perm__tmalloc(len);
  if (buf == NULL)
    return perm__errorf(ENOMEM, "out of memory writing %s",
                        perm__image_block_name(type, 0));
  memcpy(buf, &t, sizeof t);
  if (count)
    memcpy(buf + sizeof t, entries, count * entry_size);
  int rc = perm__image_writer_block(w, type, 0, 0, buf, len);
  perm__tfree(buf);
  return rc;
}

/*
** Which pages of [addr, addr+len) are in memory (present or swapped), from
** /proc/self/pagemap; a page never touched, or purged, reads as zero and is
** left as a hole.  Without pagemap every page is a candidate.
*/
static int writer_pagemap(int pm, uint64_t addr, size_t npages,
                          uint64_t *bits) {
  if (pm < 0)
    return -1;
  size_t page = perm__page_size();
  return perm__sys_pread_all(pm, bits, npages * 8, (off_t)(addr / page * 8));
}

static int page_is_zero(const void *p, size_t page) {
  const uint64_t *w = p;
  for (size_t i = 0; i < page / 8; i += 8)
    if ((w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] |
         w[i + 6] | w[i + 7]) != 0)
      return 0;
  return 1;
}

typedef struct extent_list_s {
  perm_image_extent_t *v;
  size_t n, cap;
} extent_list_t;

static int extent_flush(perm_image_writer_t *w, extent_list_t *l, uint64_t base,
                        uint64_t start, uint64_t end) {
  if (end == start)
    return 0;
  uint64_t off = w->hdr.data_offset + (start - base);
  int rc =
      perm__sys_pwrite_all(w->fd, (const void *)start, end - start, (off_t)off);
  if (rc != 0)
    return writer_fail(w, rc, "region data");
  if (l->n == l->cap) {
    size_t ncap = l->cap ? l->cap * 2 : 256;
    void *p = perm__trealloc(l->v, ncap * sizeof *l->v);
    if (p == NULL)
      return perm__errorf(ENOMEM, "out of memory listing region extents");
    l->v = p;
    l->cap = ncap;
  }
  l->v[l->n++] = (perm_image_extent_t){
      .addr = start,
      .length = end - start,
      .checksum = XXH3_64bits((const void *)start, end - start)};
  w->hdr.data_bytes += end - start;
  return 0;
}

/*
** After a lazy restore, parts of the region are still a private mapping of
** the old image: their untouched pages are not present, yet hold data.  The
** file-backed ranges come from /proc/self/maps (an inode number).
*/
typedef struct file_ranges_s {
  uint64_t lo[256], hi[256];
  int n;
} file_ranges_t;

static void writer_file_ranges(uint64_t base, uint64_t top, file_ranges_t *fr) {
  fr->n = 0;
  FILE *f = fopen("/proc/self/maps", "re");
  if (f == NULL)
    return;
  char line[512];
  while (fgets(line, sizeof line, f) != NULL && fr->n < 256) {
    unsigned long long lo, hi, off, inode;
    char perms[8], dev[16];
    if (sscanf(line, "%llx-%llx %7s %llx %15s %llu", &lo, &hi, perms, &off, dev,
               &inode) != 6 ||
        inode == 0)
      continue;
    if (hi <= base || lo >= base + top)
      continue;
    fr->lo[fr->n] = lo;
    fr->hi[fr->n] = hi;
    fr->n++;
  }
  fclose(f);
}

static int in_file_range(const file_ranges_t *fr, uint64_t a) {
  for (int i = 0; i < fr->n; i++)
    if (a >= fr->lo[i] && a < fr->hi[i])
      return 1;
  return 0;
}

#define WRITER_CHUNK_PAGES 4096 /* pagemap entries read at once (16 MiB) */
#define WRITER_MAX_EXTENT (64ull << 20) /* bound one checksum's span */

int perm__image_writer_region(perm_image_writer_t *w, uint64_t base,
                              uint64_t top, const perm_image_run_t *runs,
                              size_t nruns) {
  size_t page = perm__page_size();
  w->hdr.data_offset = w->next;
  int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  static uint64_t bits[WRITER_CHUNK_PAGES];
  static file_ranges_t files;
  writer_file_ranges(base, top, &files);
  extent_list_t list = {0};
  int rc = 0;
  for (size_t r = 0; r < nruns && rc == 0; r++) {
    uint64_t a = runs[r].addr, end = runs[r].addr + runs[r].length;
    uint64_t ext = 0; /* start of the extent being gathered, 0 = none */
    while (a < end && rc == 0) {
      size_t n = (size_t)((end - a) / page);
      if (n > WRITER_CHUNK_PAGES)
        n = WRITER_CHUNK_PAGES;
      int have_map = writer_pagemap(pm, a, n, bits) == 0;
      for (size_t i = 0; i < n && rc == 0; i++, a += page) {
        /* bit 63: present, bit 62: swapped */
        int in_memory = !have_map || (bits[i] >> 62) != 0 ||
                        (files.n > 0 && in_file_range(&files, a));
        int keep = in_memory && !page_is_zero((const void *)a, page);
        if (keep && ext == 0)
          ext = a;
        if (ext != 0 && (!keep || a + page - ext > WRITER_MAX_EXTENT)) {
          rc = extent_flush(w, &list, base, ext, a);
          ext = keep ? a : 0;
        }
      }
    }
    if (rc == 0 && ext != 0)
      rc = extent_flush(w, &list, base, ext, end);
  }
  if (pm >= 0)
    close(pm);
  if (rc == 0) {
    w->next = align_up(w->hdr.data_offset + top, PERM_IMAGE_ALIGN);
    rc = perm__image_writer_table(w, PERM_BLOCK_EXTENTS, list.v, list.n,
                                  sizeof(perm_image_extent_t));
  }
  perm__tfree(list.v);
  return rc;
}

int perm__image_writer_finish(perm_image_writer_t *w) {
  w->hdr.file_size = w->next;
  /* The last block may end before its page does; the size covers it. */
  int rc =
      perm__sys_ftruncate(w->fd, (off_t)w->hdr.file_size) == 0 ? 0 : -errno;
  if (rc != 0)
    return writer_fail(w, rc, "the file size");
  w->hdr.header_checksum =
      XXH3_64bits(&w->hdr, offsetof(perm_image_header_t, header_checksum));
  static char page[PERM_IMAGE_HEADER_SIZE];
  memset(page, 0, sizeof page);
  memcpy(page, &w->hdr, sizeof w->hdr);
  rc = perm__sys_pwrite_all(w->fd, page, sizeof page, 0);
  if (rc != 0)
    return writer_fail(w, rc, "the header");
  if (perm__sys_fsync(w->fd) != 0)
    return writer_fail(w, -errno, "(fsync) the data");
  if (close(w->fd) != 0) {
    w->fd = -1;
    return writer_fail(w, -errno, "(close) the data");
  }
  w->fd = -1;
  return 0;
}

void perm__image_writer_abort(perm_image_writer_t *w) {
  if (w->fd >= 0)
    close(w->fd);
  w->fd = -1;
  if (w->path != NULL)
    perm__sys_unlink(w->path);
}
