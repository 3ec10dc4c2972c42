/*
** image_read.c - the image reader, shared by restore and the perm tool.
** Every check names the file and what is wrong with it.
*/
#define _GNU_SOURCE
#define XXH_STATIC_LINKING_ONLY
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "image.h"
#include "sys.h"

const char *perm__image_block_name(uint32_t type, uint32_t flags) {
  switch (type) {
  case PERM_BLOCK_OBJECTS:
    return "the loaded-objects block";
  case PERM_BLOCK_REGISTRY:
    return "the registry block";
  case PERM_BLOCK_RUNS:
    return "the region-runs block";
  case PERM_BLOCK_EXTENTS:
    return "the extent table";
  case PERM_BLOCK_STATE:
    switch (flags) {
    case PERM_STATE_JEMALLOC_DATA:
      return "the allocator state block (data)";
    case PERM_STATE_JEMALLOC_BSS:
      return "the allocator state block (bss)";
    case PERM_STATE_RUNTIME:
      return "the runtime state block";
    }
    return "a state block";
  }
  return "an unknown block";
}

void perm__image_close(perm_image_t *img) {
  if (img->fd >= 0)
    close(img->fd);
  img->fd = -1;
}

int perm__image_open(perm_image_t *img, const char *path) {
  memset(img, 0, sizeof *img);
  snprintf(img->path, sizeof img->path, "%s", path);
  img->fd = perm__sys_open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
  if (img->fd < 0)
    return perm__errorf_errno(errno, "cannot open the image '%s'", path);
  struct stat st;
  if (fstat(img->fd, &st) != 0) {
    int rc = perm__errorf_errno(errno, "cannot stat the image '%s'", path);
    perm__image_close(img);
    return rc;
  }
  img->file_size = (uint64_t)st.st_size;
  img->file_blocks = (uint64_t)st.st_blocks * 512u;
  int rc = 0;
  perm_image_header_t *h = &img->hdr;
  if (!S_ISREG(st.st_mode)) {
    rc = perm__errorf(EINVAL, "'%s' is not a regular file, so not a PERM image",
                      path);
  } else if (img->file_size < sizeof *h ||
             perm__sys_pread_all(img->fd, h, sizeof *h, 0) != 0) {
    if (img->file_size >= 8 && perm__sys_pread_all(img->fd, h, 8, 0) == 0 &&
        memcmp(h->magic, PERM_IMAGE_MAGIC, 8) == 0)
      rc = perm__errorf(EINVAL,
                        "the image '%s' is truncated: %" PRIu64
                        " bytes, not even a header (restore '%s.prev')",
                        path, img->file_size, path);
    else
      rc = perm__errorf(
          EINVAL, "'%s' is not a PERM image (%" PRIu64 " bytes, no header)",
          path, img->file_size);
  } else if (memcmp(h->magic, PERM_IMAGE_MAGIC, 8) != 0) {
    rc = perm__errorf(EINVAL, "'%s' is not a PERM image (bad magic)", path);
  } else if (h->format_version != PERM_IMAGE_FORMAT_VERSION ||
             h->header_size != sizeof *h) {
    rc = perm__errorf(EINVAL,
                      "the image '%s' has format version %u; this runtime "
                      "reads version %u (PERM %s)",
                      path, h->format_version, PERM_IMAGE_FORMAT_VERSION,
                      PERM_RUNTIME_VERSION);
  } else if (XXH3_64bits(h, offsetof(perm_image_header_t, header_checksum)) !=
             h->header_checksum) {
    rc = perm__errorf(EINVAL,
                      "the header of the image '%s' is corrupted (checksum "
                      "mismatch); the previous image may be in '%s.prev'",
                      path, path);
  } else if (h->file_size != img->file_size) {
    rc = perm__errorf(EINVAL,
                      "the image '%s' is %s: %" PRIu64 " bytes on disk, the "
                      "header says %" PRIu64 " (restore '%s.prev')",
                      path,
                      img->file_size < h->file_size ? "truncated" : "too long",
                      img->file_size, h->file_size, path);
  } else if (h->page_size != perm__page_size()) {
    rc = perm__errorf(EINVAL,
                      "the image '%s' was written with %u-byte pages, this "
                      "machine has %zu",
                      path, h->page_size, perm__page_size());
  } else if (h->nblocks > PERM_IMAGE_MAX_BLOCKS) {
    rc = perm__errorf(EINVAL, "the image '%s' has a corrupted block table",
                      path);
  } else {
    for (uint32_t i = 0; i < h->nblocks && rc == 0; i++) {
      const perm_image_block_t *b = &h->blocks[i];
      if (b->offset % PERM_IMAGE_ALIGN != 0 || b->offset > img->file_size ||
          b->length > img->file_size - b->offset)
        rc = perm__errorf(EINVAL,
                          "the image '%s' is corrupted: %s lies outside the "
                          "file",
                          path, perm__image_block_name(b->type, b->flags));
    }
    if (rc == 0 && (h->data_offset > img->file_size ||
                    h->region_top > img->file_size - h->data_offset))
      rc = perm__errorf(EINVAL,
                        "the image '%s' is corrupted: region data "
                        "lies outside the file",
                        path);
  }
  if (rc != 0)
    perm__image_close(img);
  return rc;
}

const perm_image_block_t *perm__image_find(const perm_image_t *img,
                                           uint32_t type, uint32_t flags) {
  for (uint32_t i = 0; i < img->hdr.nblocks; i++) {
    const perm_image_block_t *b = &img->hdr.blocks[i];
    if (b->type == type && (flags == 0 || b->flags == flags))
      return b;
  }
  return NULL;
}

int perm__image_read_block_into(const perm_image_t *img,
                                const perm_image_block_t *b, void *dst) {
  int rc = perm__sys_pread_all(img->fd, dst, b->length, (off_t)b->offset);
  if (rc != 0)
    return perm__errorf(-rc, "cannot read %s of the image '%s': %s",
                        perm__image_block_name(b->type, b->flags), img->path,
                        strerror(-rc));
  if (XXH3_64bits(dst, b->length) != b->checksum)
    return perm__errorf(EINVAL,
                        "%s of the image '%s' is corrupted (checksum "
                        "mismatch); the previous image may be in '%s.prev'",
                        perm__image_block_name(b->type, b->flags), img->path,
                        img->path);
  return 0;
}

int perm__image_read_block(const perm_image_t *img, const perm_image_block_t *b,
                           void **out) {
  void *buf = perm__tmalloc(b->length ? b->length : 1);
  if (buf == NULL)
    return perm__errorf(ENOMEM, "out of memory reading the image '%s'",
                        img->path);
  int rc = perm__image_read_block_into(img, b, buf);
  if (rc != 0) {
    perm__tfree(buf);
    return rc;
  }
  *out = buf;
  return 0;
}

int perm__image_read_extent(const perm_image_t *img,
                            const perm_image_extent_t *e, void *dst) {
  const perm_image_header_t *h = &img->hdr;
  if (e->addr < h->region_base || e->length > h->region_top ||
      e->addr - h->region_base > h->region_top - e->length)
    return perm__errorf(EINVAL,
                        "the image '%s' is corrupted: an extent lies "
                        "outside the region",
                        img->path);
  off_t off = (off_t)(h->data_offset + (e->addr - h->region_base));
  uint64_t sum;
  if (dst != NULL) {
    int rc = perm__sys_pread_all(img->fd, dst, e->length, off);
    if (rc != 0)
      return perm__errorf(-rc, "cannot read region data of the image '%s': %s",
                          img->path, strerror(-rc));
    sum = XXH3_64bits(dst, e->length);
  } else {
    enum { CHUNK = 1 << 20 };
    char *buf = perm__tmalloc(CHUNK);
    if (buf == NULL)
      return perm__errorf(ENOMEM, "out of memory verifying '%s'", img->path);
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    for (uint64_t done = 0; done < e->length;) {
      size_t n = e->length - done > CHUNK ? CHUNK : e->length - done;
      int rc = perm__sys_pread_all(img->fd, buf, n, off + (off_t)done);
      if (rc != 0) {
        perm__tfree(buf);
        return perm__errorf(-rc,
                            "cannot read region data of the image '%s': %s",
                            img->path, strerror(-rc));
      }
      XXH3_64bits_update(&st, buf, n);
      done += n;
    }
    sum = XXH3_64bits_digest(&st);
    perm__tfree(buf);
  }
  if (sum != e->checksum)
    return perm__errorf(EINVAL,
                        "region data of the image '%s' is corrupted at "
                        "0x%" PRIx64 "+%" PRIu64 " (checksum mismatch); the "
                        "previous image may be in '%s.prev'",
                        img->path, e->addr, e->length, img->path);
  return 0;
}
