/*
** readback.c - a checkpoint's image read back before it is committed, and
** compared page by page with the memory the child wrote it from.
**
** A delta holds only the pages the kernel's write tracking reported (and
** the runtime's journal of purges); a page changed without being reported
** is silently stale in every later restore.  That is a defect of the
** tracking, or of the kernel, and nothing in the image shows it: checksums
** cover what was written, not what was left out.  With PERM_READBACK=1 the
** child compares the whole chain with its memory, which is the snapshot,
** before the rename that would commit the image.  It costs a read of the
** chain per checkpoint: a check for tests and for a user who suspects the
** tracking, not for production.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "image.h"
#include "readback.h"
#include "sys.h"

#define READBACK_CHUNK (1u << 20)

static int readback_differs(const char *name, uint64_t addr, const char *from) {
  return perm__errorf(EIO,
                      "checkpoint of '%s': read back, its image differs from "
                      "memory at 0x%" PRIx64 " (%s): a change the write "
                      "tracking missed, a defect of PERM or of the kernel "
                      "(please report it with 'uname -r'); the image was not "
                      "committed, the previous ones are kept",
                      name, addr, from);
}

/* Is [p, p+len) all zero bytes? */
static int readback_zero(const unsigned char *p, uint64_t len) {
  for (uint64_t i = 0; i < len; i++)
    if (p[i] != 0)
      return 0;
  return 1;
}

static int readback_piece(const perm_chain_t *c, const perm_chain_piece_t *p,
                          const char *name, unsigned char *buf) {
  const perm_image_t *img = &c->views[p->image].img;
  for (uint64_t o = 0; o < p->length; o += READBACK_CHUNK) {
    uint64_t n =
        p->length - o < READBACK_CHUNK ? p->length - o : READBACK_CHUNK;
    int rc = perm__sys_pread_all(img->fd, buf, n, (off_t)(p->file_offset + o));
    if (rc != 0)
      return perm__errorf_errno(-rc,
                                "checkpoint of '%s': cannot read back "
                                "'%s'",
                                name, img->path);
    const unsigned char *mem = (const unsigned char *)(uintptr_t)(p->addr + o);
    if (memcmp(buf, mem, n) != 0) {
      uint64_t at = 0;
      while (at < n && buf[at] == mem[at])
        at++;
      char from[4200];
      snprintf(from, sizeof from,
               "its bytes come from '%s', generation %" PRIu64, img->path,
               img->hdr.generation);
      return readback_differs(name, (p->addr + o + at) & ~4095ull, from);
    }
  }
  return 0;
}

int perm__readback_check(const char *path, const char *name,
                         const perm_ranges_t *runs) {
  perm_chain_t c;
  int rc = perm__chain_open(&c, path, 0, NULL);
  if (rc != 0)
    return rc;
  unsigned char *buf = perm__tmalloc(READBACK_CHUNK);
  if (buf == NULL) {
    perm__chain_close(&c);
    return perm__errorf(ENOMEM,
                        "checkpoint of '%s': out of memory reading "
                        "its image back",
                        name);
  }
  for (size_t i = 0; i < c.nmap && rc == 0; i++)
    rc = readback_piece(&c, &c.map[i], name, buf);
  /* What no piece holds restores as zero: so must it be in memory. */
  size_t k = 0;
  for (size_t r = 0; r < runs->n && rc == 0; r++) {
    uint64_t a = runs->v[r].addr, end = a + runs->v[r].length;
    while (a < end && rc == 0) {
      while (k < c.nmap && c.map[k].addr + c.map[k].length <= a)
        k++;
      uint64_t stop = end;
      if (k < c.nmap && c.map[k].addr <= a) {
        a = c.map[k].addr + c.map[k].length; /* compared above */
        continue;
      }
      if (k < c.nmap && c.map[k].addr < stop)
        stop = c.map[k].addr;
      if (!readback_zero((const unsigned char *)(uintptr_t)a, stop - a)) {
        uint64_t at = a;
        while (*(const unsigned char *)(uintptr_t)at == 0)
          at++;
        rc = readback_differs(name, at & ~4095ull,
                              "no image of the chain holds it, so it would "
                              "restore as zero");
      }
      a = stop;
    }
  }
  perm__tfree(buf);
  perm__chain_close(&c);
  return rc;
}
