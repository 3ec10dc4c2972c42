/*
** image.h - writing, reading and validating PERM image files (format:
** image_format.h).
**
** The reader (image_read.c), the one validator (image_validate.c) and the
** chain reader (image_chain.c) are shared by restore and by the perm tool:
** a rule added to one is a rule of both.  They never touch the live
** runtime.  Nothing read from an image is used, mapped, copied or sized an
** allocation by before the validator has checked it against every other
** field it depends on.
*/
#ifndef PERM_IMAGE_H
#define PERM_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "image_format.h"
#include "perm_internal.h"
#include "state.h"

/*----------------------------------------------------------------- writer ---*/

typedef struct perm_image_writer_s {
  int fd;                  /* the temporary file */
  const char *path;        /* its name, for messages */
  perm_image_header_t hdr; /* filled as blocks are written */
  uint64_t next;           /* next free, aligned offset */
  /* Region data copied from files (perm__image_writer_copy). */
  perm_image_extent_t *copied;
  size_t ncopied, capcopied;
  void *copy_hash; /* XXH3 state of the extent being copied */
  char *copy_buf;
} perm_image_writer_t;

/* The file is created by the caller (checkpoint.c), empty; fd is taken. */
PERM_HIDDEN void perm__image_writer_init(perm_image_writer_t *w, int fd,
                                         const char *path);
PERM_HIDDEN int perm__image_writer_block(perm_image_writer_t *w, uint32_t type,
                                         uint32_t flags, uint64_t addr,
                                         const void *data, size_t len);
/* A table block: a perm_image_table_t header, then count entries. */
PERM_HIDDEN int perm__image_writer_table(perm_image_writer_t *w, uint32_t type,
                                         const void *entries, size_t count,
                                         size_t entry_size);
/* A STATE block of the section [addr, addr+len): its non-zero pages. */
PERM_HIDDEN int perm__image_writer_state(perm_image_writer_t *w, uint32_t code,
                                         const void *addr, size_t len);
/*
** The region data of a full image: in the runs [runs, runs+nruns), every
** page in memory that is not all zero, densely; then the EXTENTS block.
*/
PERM_HIDDEN int perm__image_writer_region(perm_image_writer_t *w,
                                          const perm_image_run_t *runs,
                                          size_t nruns);
/*
** The region data of a delta: the candidate ranges (sorted, disjoint,
** page-aligned) are written where they hold data and recorded as zero
** where they do not; then the EXTENTS block.
*/
PERM_HIDDEN int perm__image_writer_delta(perm_image_writer_t *w,
                                         const perm_image_run_t *ranges,
                                         size_t nranges);
/*
** Region data from other files (perm compact): each call appends
** [addr, addr+len) read from fd at off, in address order; copy_end writes
** the EXTENTS block.
*/
PERM_HIDDEN int perm__image_writer_copy(perm_image_writer_t *w, int fd,
                                        uint64_t off, uint64_t addr,
                                        uint64_t len);
PERM_HIDDEN int perm__image_writer_copy_end(perm_image_writer_t *w);
/* Header, checksum, fdatasync, close.  The caller renames the file. */
PERM_HIDDEN int perm__image_writer_finish(perm_image_writer_t *w);
PERM_HIDDEN void perm__image_writer_abort(perm_image_writer_t *w);

/*----------------------------------------------------------------- reader ---*/

typedef struct perm_image_s {
  int fd;
  char path[4096];
  perm_image_header_t hdr; /* in the current form, whatever the version */
  uint64_t file_size;      /* as found on disk */
  uint64_t file_blocks;    /* bytes allocated on disk (sparse files) */
  uid_t uid;               /* the file's owner */
  mode_t mode;             /* and its permission bits */
  dev_t dev;               /* the file, for "is this the same image" */
  ino_t ino;
} perm_image_t;

/*
** Opens the file and checks what locating its blocks needs: magic,
** version, header checksum, file size, block bounds.  The rest is the
** validator's.  Refuses symbolic links, naming them.
*/
PERM_HIDDEN int perm__image_open(perm_image_t *img, const char *path);
PERM_HIDDEN void perm__image_close(perm_image_t *img);
/* The first block of that type (and STATE code, or 0 for any), or NULL. */
PERM_HIDDEN const perm_image_block_t *
perm__image_find(const perm_image_t *img, uint32_t type, uint32_t flags);
/*
** Reads a block into transient memory and checks its checksum; a large
** block's checksum is checked before the memory is allocated.
*/
PERM_HIDDEN int perm__image_read_block(const perm_image_t *img,
                                       const perm_image_block_t *b, void **out);
/* Checksums one present extent, reading it into dst when non-NULL. */
PERM_HIDDEN int perm__image_read_extent(const perm_image_t *img,
                                        const perm_image_extent_t *e,
                                        void *dst);
PERM_HIDDEN const char *perm__image_block_name(uint32_t type, uint32_t flags);

/*-------------------------------------------------------------- validator ---*/

typedef void (*perm_image_report_fn)(void *arg, const char *message);
typedef void (*perm_image_progress_fn)(void *arg, uint64_t done,
                                       uint64_t total);

#define PERM_VALIDATE_ALL 0x1u  /* go on after a problem, reporting each */
#define PERM_VALIDATE_DATA 0x2u /* verify every extent's checksum too */

/* Where the validator's findings go (each may be NULL). */
typedef struct perm_image_hooks_s {
  perm_image_report_fn report; /* each problem, with PERM_VALIDATE_ALL */
  void *report_arg;
  perm_image_progress_fn progress; /* bytes of region data verified */
  void *progress_arg;
} perm_image_hooks_t;

typedef struct perm_image_state_view_s {
  uint64_t addr;   /* of the section in memory */
  uint64_t length; /* of the section */
  const perm_image_piece_t *pieces;
  uint32_t npieces;
  const unsigned char *bytes; /* the pieces' bytes, back to back */
} perm_image_state_view_t;

/* An image whose every field has been checked. */
typedef struct perm_image_view_s {
  perm_image_t img;
  unsigned flags;           /* PERM_VALIDATE_* */
  perm_image_hooks_t hooks; /* zero when none were given */
  unsigned problems;
  uint64_t verified; /* bytes whose checksum matched */
  void *blocks[PERM_IMAGE_MAX_BLOCKS]; /* checksummed contents, or NULL */
  /* Parsed tables; NULL and 0 when missing or malformed. */
  const void *objects_block;
  uint64_t objects_len;
  const perm_image_object_t *objects;
  uint32_t nobjects;
  void *registry_block; /* the restore keeps it (registry.c) */
  uint64_t registry_len;
  const perm_image_global_t *globals;
  uint32_t nglobals;
  const perm_image_run_t *runs;
  uint32_t nruns;
  const perm_image_extent_t *extents;
  uint32_t nextents;
  perm_image_extent_t *extents_v1; /* translated version 1 extents */
  int have_state[PERM_STATE_COUNT]; /* index: code - 1 */
  perm_image_state_view_t state[PERM_STATE_COUNT];
  perm_image_piece_t state_v1_piece[PERM_STATE_COUNT]; /* version 1: all */
  perm_saved_t *saved; /* the runtime state section, when it was checked */
  int saved_free_in_region; /* its free list is region data (chain checks) */
} perm_image_view_t;

/*
** Opens and validates an image: every field, count, length, offset and
** address against every other, before anything is used.  Returns 0, or
** -errno with perm__error_message() naming the first problem (the field
** and the file).  With PERM_VALIDATE_ALL, every problem goes to report and
** the view holds what could be parsed; view_close frees it either way.
*/
PERM_HIDDEN int perm__image_view_open(perm_image_view_t *v, const char *path,
                                      unsigned flags,
                                      const perm_image_hooks_t *hooks);
/*
** The runtime state's free list (free[0, nfree)) against the header and the
** runs: sorted, page-aligned, below the top, the runs its complement.
*/
PERM_HIDDEN int perm__image_check_free_list(perm_image_view_t *v,
                                            const perm_region_run_t *free);
/* Verifies every present extent's checksum (PERM_VALIDATE_DATA later). */
PERM_HIDDEN int perm__image_view_verify_data(perm_image_view_t *v);
PERM_HIDDEN void perm__image_view_close(perm_image_view_t *v);
/* The section's bytes, zeros where no piece is, into dst (length bytes). */
PERM_HIDDEN void perm__image_state_copy(const perm_image_state_view_t *s,
                                        void *dst);
/* A name inside a parsed block (its NUL was found by the validator). */
static inline const char *perm__image_name_at(const void *block, uint64_t off) {
  return (const char *)block + off;
}

/*------------------------------------------------------------------ chain ---*/

/* A piece of the region's data: bytes of one image of the chain. */
typedef struct perm_chain_piece_s {
  uint64_t addr, length;
  uint64_t file_offset;
  uint32_t image; /* index in views[] */
  uint32_t reserved0;
} perm_chain_piece_t;

/*
** An image and the images it depends on: views[0] is the one named, the
** last is the full image the chain starts from.  map is the region's data
** of views[0]'s generation: where each present page's bytes are, newest
** first applied last; pages in no piece read as zero.
*/
typedef struct perm_chain_s {
  perm_image_view_t *views;
  uint32_t n;
  perm_chain_piece_t *map;
  size_t nmap;
  uint64_t map_bytes; /* bytes the map covers */
} perm_chain_t;

/*
** Opens path and every image it depends on, validates each (flags as for
** view_open) and the links between them (file name, generation, header
** checksum, heap), and builds the map.  A missing, damaged or replaced
** parent is refused naming it.
*/
PERM_HIDDEN int perm__chain_open(perm_chain_t *c, const char *path,
                                 unsigned flags,
                                 const perm_image_hooks_t *hooks);
PERM_HIDDEN void perm__chain_close(perm_chain_t *c);
/*
** The full image's data as it was written, clipped to views[0]'s runs: the
** few long pieces a lazy restore maps before it writes what the deltas
** changed over them.  *out is freed with perm__tfree.
*/
PERM_HIDDEN int perm__chain_base_layer(const perm_chain_t *c,
                                       perm_chain_piece_t **out, size_t *n);
/*
** The name under which a chain keeps the image of that generation and
** header checksum, beside path: "PATH.GEN-CHECKSUM".
*/
PERM_HIDDEN int perm__chain_member_name(const char *path, uint64_t generation,
                                        uint64_t checksum, char *buf,
                                        size_t size);
/* Is name (a directory entry) a chain member name of the image base? */
PERM_HIDDEN int perm__chain_is_member(const char *name, const char *base);
/* The parent's path: dir(path)/parent_name, into buf. */
PERM_HIDDEN int perm__chain_parent_path(const char *path,
                                        const perm_image_header_t *h,
                                        char *buf, size_t size);

#endif /* PERM_IMAGE_H */
