/*
** image.h - writing and reading PERM image files (format: image_format.h).
** The reader is shared with tools/: it never touches the live runtime.
*/
#ifndef PERM_IMAGE_H
#define PERM_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "image_format.h"
#include "perm_internal.h"

/*----------------------------------------------------------------- writer ---*/

typedef struct perm_image_writer_s {
  int fd;                  /* the temporary file */
  const char *path;        /* its name, for messages */
  perm_image_header_t hdr; /* filled as blocks are written */
  uint64_t next;           /* next free, aligned offset */
} perm_image_writer_t;

PERM_HIDDEN int perm__image_writer_open(perm_image_writer_t *w,
                                        const char *path);
PERM_HIDDEN int perm__image_writer_block(perm_image_writer_t *w, uint32_t type,
                                         uint32_t flags, uint64_t addr,
                                         const void *data, size_t len);
/* A table block: a perm_image_table_t header, then count entries. */
PERM_HIDDEN int perm__image_writer_table(perm_image_writer_t *w, uint32_t type,
                                         const void *entries, size_t count,
                                         size_t entry_size);
/*
** Writes the region mirror for the runs [runs, runs+nruns) of a region based
** at base: only pages present in memory and not all zero, then the EXTENTS
** block after the mirror.
*/
PERM_HIDDEN int perm__image_writer_region(perm_image_writer_t *w, uint64_t base,
                                          uint64_t top,
                                          const perm_image_run_t *runs,
                                          size_t nruns);
/* Header, checksum, fsync.  The caller renames the file into place. */
PERM_HIDDEN int perm__image_writer_finish(perm_image_writer_t *w);
PERM_HIDDEN void perm__image_writer_abort(perm_image_writer_t *w);

/*----------------------------------------------------------------- reader ---*/

typedef struct perm_image_s {
  int fd;
  char path[4096];
  perm_image_header_t hdr;
  uint64_t file_size;   /* as found on disk */
  uint64_t file_blocks; /* bytes allocated on disk (sparse files) */
} perm_image_t;

/* Opens and validates the header: magic, version, checksum, block bounds. */
PERM_HIDDEN int perm__image_open(perm_image_t *img, const char *path);
PERM_HIDDEN void perm__image_close(perm_image_t *img);
/* The first block of that type (and STATE code, or 0 for any), or NULL. */
PERM_HIDDEN const perm_image_block_t *
perm__image_find(const perm_image_t *img, uint32_t type, uint32_t flags);
/* Reads a block into transient memory and checks its checksum. */
PERM_HIDDEN int perm__image_read_block(const perm_image_t *img,
                                       const perm_image_block_t *b, void **out);
/* Reads a block into dst (b->length bytes) and checks its checksum. */
PERM_HIDDEN int perm__image_read_block_into(const perm_image_t *img,
                                            const perm_image_block_t *b,
                                            void *dst);
/* Checksums one extent of region data, reading it into dst when non-NULL. */
PERM_HIDDEN int perm__image_read_extent(const perm_image_t *img,
                                        const perm_image_extent_t *e,
                                        void *dst);
PERM_HIDDEN const char *perm__image_block_name(uint32_t type, uint32_t flags);

#endif /* PERM_IMAGE_H */
