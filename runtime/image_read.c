/*
** image_read.c - the image reader, shared by restore and the perm tool:
** opening a file, its header, its blocks and extents.  It checks only what
** locating the blocks needs; image_validate.c checks the rest.  Every
** message names the file and what is wrong with it.
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

/* Blocks larger than this have their checksum checked before allocation. */
#define READ_PRECHECK_BYTES (16u << 20)
#define READ_CHUNK (4u << 20) /* large reads: verification at disk speed */

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

/* Why open() refused the file, said so a user can act on it. */
static int read_open_error(const char *path, int err) {
  struct stat st;
  if (err == ELOOP && lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
    char target[4096];
    ssize_t n = readlink(path, target, sizeof target - 1);
    target[n > 0 ? n : 0] = '\0';
    return perm__errorf(ELOOP,
                        "the image '%s' is a symbolic link (to '%s'); PERM "
                        "does not follow links to images, which another user "
                        "could redirect: give the real path",
                        path, target);
  }
  return perm__errorf_errno(err, "cannot open the image '%s'", path);
}

/* Version 1's header, in the current form: the version 2 fields are zero. */
static int read_header_v1(perm_image_t *img, const char *page) {
  perm_image_header_t *h = &img->hdr;
  memcpy(h, page, PERM_IMAGE_V1_CHECKSUM_OFFSET);
  uint64_t sum;
  memcpy(&sum, page + PERM_IMAGE_V1_CHECKSUM_OFFSET, sizeof sum);
  if (h->header_size != PERM_IMAGE_V1_HEADER_SIZE)
    return perm__errorf(EINVAL,
                        "the header of the image '%s' is malformed: version "
                        "1 headers are %zu bytes, this one says %" PRIu32,
                        img->path, (size_t)PERM_IMAGE_V1_HEADER_SIZE,
                        h->header_size);
  if (XXH3_64bits(page, PERM_IMAGE_V1_CHECKSUM_OFFSET) != sum)
    return 1; /* the caller says "corrupted" */
  h->header_checksum = sum;
  h->chain_length = 1;
  return 0;
}

static int read_header(perm_image_t *img, const char *page) {
  perm_image_header_t *h = &img->hdr;
  const char *path = img->path;
  memcpy(h, page, sizeof *h);
  if (memcmp(h->magic, PERM_IMAGE_MAGIC, 8) != 0)
    return perm__errorf(EINVAL, "'%s' is not a PERM image (bad magic)", path);
  if (h->format_version < PERM_IMAGE_FORMAT_OLDEST ||
      h->format_version > PERM_IMAGE_FORMAT_VERSION)
    return perm__errorf(EINVAL,
                        "the image '%s' has format version %" PRIu32
                        "; this PERM (%s) reads versions %u to %u",
                        path, h->format_version, PERM_RUNTIME_VERSION,
                        PERM_IMAGE_FORMAT_OLDEST, PERM_IMAGE_FORMAT_VERSION);
  int bad;
  if (h->format_version == 1) {
    bad = read_header_v1(img, page);
    if (bad < 0)
      return bad;
  } else {
    if (h->header_size != sizeof *h)
      return perm__errorf(EINVAL,
                          "the header of the image '%s' is malformed: it "
                          "says %" PRIu32 " bytes, version %u headers are %zu",
                          path, h->header_size, PERM_IMAGE_FORMAT_VERSION,
                          sizeof *h);
    bad = XXH3_64bits(h, offsetof(perm_image_header_t, header_checksum)) !=
          h->header_checksum;
  }
  if (bad)
    return perm__errorf(EINVAL,
                        "the header of the image '%s' is corrupted (checksum "
                        "mismatch); the previous image may be in '%s.prev'",
                        path, path);
  if (h->file_size != img->file_size)
    return perm__errorf(EINVAL,
                        "the image '%s' is %s: %" PRIu64 " bytes on disk, the "
                        "header says %" PRIu64 " (restore '%s.prev')",
                        path,
                        img->file_size < h->file_size ? "truncated" : "too long",
                        img->file_size, h->file_size, path);
  if (h->nblocks > PERM_IMAGE_MAX_BLOCKS)
    return perm__errorf(EINVAL,
                        "the header of the image '%s' is malformed: %" PRIu32
                        " blocks, at most %u",
                        path, h->nblocks, PERM_IMAGE_MAX_BLOCKS);
  for (uint32_t i = 0; i < h->nblocks; i++) {
    const perm_image_block_t *b = &h->blocks[i];
    if (b->offset % PERM_IMAGE_ALIGN != 0 || b->offset > img->file_size ||
        b->length > img->file_size - b->offset)
      return perm__errorf(EINVAL,
                          "the image '%s' is corrupted: %s (block %" PRIu32
                          ", offset %" PRIu64 ", %" PRIu64 " bytes) lies "
                          "outside the file or off its alignment",
                          path, perm__image_block_name(b->type, b->flags), i,
                          b->offset, b->length);
  }
  return 0;
}

int perm__image_open(perm_image_t *img, const char *path) {
  memset(img, 0, sizeof *img);
  snprintf(img->path, sizeof img->path, "%s", path);
  img->fd = perm__sys_open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
  if (img->fd < 0)
    return read_open_error(path, errno);
  struct stat st;
  if (fstat(img->fd, &st) != 0) {
    int rc = perm__errorf_errno(errno, "cannot stat the image '%s'", path);
    perm__image_close(img);
    return rc;
  }
  img->file_size = (uint64_t)st.st_size;
  img->file_blocks = (uint64_t)st.st_blocks * 512u;
  img->uid = st.st_uid;
  img->mode = st.st_mode;
  img->dev = st.st_dev;
  img->ino = st.st_ino;
  static __thread char page[PERM_IMAGE_HEADER_SIZE];
  int rc;
  if (!S_ISREG(st.st_mode)) {
    rc = perm__errorf(EINVAL, "'%s' is not a regular file, so not a PERM image",
                      path);
  } else {
    /*
    ** A read that fails is the disk's or the file system's error, named as
    ** such, not a verdict on the contents; a short file (or one that
    ** shrank since the fstat: ENODATA) is judged by its first bytes.
    */
    int whole = img->file_size >= PERM_IMAGE_HEADER_SIZE;
    int r = whole ? perm__sys_pread_all(img->fd, page, sizeof page, 0)
                  : -ENODATA;
    if (r == -ENODATA) {
      whole = 0;
      r = img->file_size >= 8 ? perm__sys_pread_all(img->fd, page, 8, 0)
                              : -ENODATA;
    }
    if (r != 0 && r != -ENODATA)
      rc = perm__errorf(-r,
                        "cannot read the header of the image '%s': %s "
                        "(restore '%s.prev')",
                        path, strerror(-r), path);
    else if (r == 0 && whole)
      rc = read_header(img, page);
    else if (r == 0 && memcmp(page, PERM_IMAGE_MAGIC, 8) == 0)
      rc = perm__errorf(EINVAL,
                        "the image '%s' is truncated: %" PRIu64
                        " bytes, not even a header (restore '%s.prev')",
                        path, img->file_size, path);
    else
      rc = perm__errorf(
          EINVAL, "'%s' is not a PERM image (%" PRIu64 " bytes, no header)",
          path, img->file_size);
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

/* XXH3-64 of [off, off+len) of the file, read through buf (READ_CHUNK). */
static int read_hash_range(const perm_image_t *img, uint64_t off, uint64_t len,
                           char *buf, uint64_t *sum) {
  XXH3_state_t st;
  XXH3_64bits_reset(&st);
  for (uint64_t done = 0; done < len;) {
    size_t n = len - done > READ_CHUNK ? READ_CHUNK : (size_t)(len - done);
    int rc = perm__sys_pread_all(img->fd, buf, n, (off_t)(off + done));
    if (rc != 0)
      return rc;
    XXH3_64bits_update(&st, buf, n);
    done += n;
  }
  *sum = XXH3_64bits_digest(&st);
  return 0;
}

static int read_block_corrupted(const perm_image_t *img,
                                const perm_image_block_t *b) {
  return perm__errorf(EINVAL,
                      "%s of the image '%s' is corrupted (checksum "
                      "mismatch); the previous image may be in '%s.prev'",
                      perm__image_block_name(b->type, b->flags), img->path,
                      img->path);
}

static int read_block_failed(const perm_image_t *img,
                             const perm_image_block_t *b, int rc) {
  return perm__errorf(-rc, "cannot read %s of the image '%s': %s",
                      perm__image_block_name(b->type, b->flags), img->path,
                      rc == -ENODATA ? "the file ends early" : strerror(-rc));
}

int perm__image_read_block(const perm_image_t *img, const perm_image_block_t *b,
                           void **out) {
  *out = NULL;
  if (b->length > READ_PRECHECK_BYTES) {
    /* A forged length over a sparse file must not cost its size in memory. */
    char *chunk = perm__tmalloc(READ_CHUNK);
    if (chunk == NULL)
      return perm__errorf(ENOMEM, "out of memory reading the image '%s'",
                          img->path);
    uint64_t sum;
    int rc = read_hash_range(img, b->offset, b->length, chunk, &sum);
    perm__tfree(chunk);
    if (rc != 0)
      return read_block_failed(img, b, rc);
    if (sum != b->checksum)
      return read_block_corrupted(img, b);
  }
  void *buf = perm__tmalloc(b->length ? b->length : 1);
  if (buf == NULL)
    return perm__errorf(ENOMEM,
                        "out of memory reading %s (%" PRIu64 " bytes) of the "
                        "image '%s'",
                        perm__image_block_name(b->type, b->flags), b->length,
                        img->path);
  int rc = perm__sys_pread_all(img->fd, buf, b->length, (off_t)b->offset);
  if (rc != 0) {
    perm__tfree(buf);
    return read_block_failed(img, b, rc);
  }
  if (XXH3_64bits(buf, b->length) != b->checksum) {
    perm__tfree(buf);
    return read_block_corrupted(img, b);
  }
  *out = buf;
  return 0;
}

int perm__image_read_extent(const perm_image_t *img,
                            const perm_image_extent_t *e, void *dst) {
  uint64_t sum;
  int rc;
  if (dst != NULL) {
    rc = perm__sys_pread_all(img->fd, dst, e->length, (off_t)e->file_offset);
    if (rc == 0)
      sum = XXH3_64bits(dst, e->length);
  } else {
    /* Most extents are a few pages: no megabyte for each of them. */
    char *buf = perm__tmalloc(e->length < READ_CHUNK && e->length > 0
                                  ? (size_t)e->length
                                  : READ_CHUNK);
    if (buf == NULL)
      return perm__errorf(ENOMEM, "out of memory verifying '%s'", img->path);
    rc = read_hash_range(img, e->file_offset, e->length, buf, &sum);
    perm__tfree(buf);
  }
  if (rc != 0)
    return perm__errorf(-rc, "cannot read region data of the image '%s': %s",
                        img->path,
                        rc == -ENODATA ? "the file ends early" : strerror(-rc));
  if (sum != e->checksum)
    return perm__errorf(EINVAL,
                        "region data of the image '%s' is corrupted at "
                        "0x%" PRIx64 "+%" PRIu64 " (checksum mismatch); the "
                        "previous image may be in '%s.prev'",
                        img->path, e->addr, e->length, img->path);
  return 0;
}
