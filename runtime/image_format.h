/*
** image_format.h - the on-disk layout of a PERM image (format version 2;
** the readers still read version 1, see below).
**
** An image is one file, little-endian:
**
**   offset 0      header page: perm_image_header_t (the block table in it)
**   ...           metadata blocks, each page-aligned: loaded objects,
**                 registry, three runtime state sections, region runs
**   data_offset   region data, dense: each present extent's bytes at its
**                 file_offset, page-aligned, in address order
**   ...           the extent table (written last, once the data are)
**
** A full image holds every page of the region that is not zero; an address
** no extent covers reads as zero.  A delta (PERM_IMAGE_F_DELTA) holds only
** what changed since its parent, a full image or another delta named by
** file name, generation and header checksum: its present extents replace
** the parent's bytes, its zero extents (PERM_EXTENT_ZERO) make a range read
** as zeros again, and addresses it does not mention keep the parent's
** bytes.  Chains are read back to the full image and applied in order
** (image_chain.c).
**
** Every block and every present extent carries an XXH3-64 checksum; the
** header carries one over itself.  The values below are on-disk codes:
** never reused for in-memory enums; a change bumps
** PERM_IMAGE_FORMAT_VERSION.
**
** Version 1 (PERM 0.1.0) differs in three ways, which the reader translates
** (image_read.c): the header ends with header_checksum right after the block
** table; the region data are a sparse mirror (an extent's bytes at
** data_offset + addr - region_base, holes elsewhere) and extents are
** {addr, length, checksum}; a state block is the section's raw bytes.
*/
#ifndef PERM_IMAGE_FORMAT_H
#define PERM_IMAGE_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define PERM_IMAGE_MAGIC "PERMIMG\0" /* 8 bytes, first in the file */
#define PERM_IMAGE_FORMAT_VERSION 2u
#define PERM_IMAGE_FORMAT_OLDEST 1u  /* the oldest version readers accept */
#define PERM_IMAGE_HEADER_SIZE 4096u /* the header page */
#define PERM_IMAGE_MAX_BLOCKS 64u
#define PERM_IMAGE_ALIGN 4096u      /* every block and extent starts on this */
#define PERM_IMAGE_MAX_CHAIN 4096u  /* a longer chain is refused as damaged */
#define PERM_IMAGE_PARENT_NAME 256u /* bytes of header.parent_name */

/* Block types (on-disk codes). */
#define PERM_BLOCK_OBJECTS 1u  /* loaded objects: name, build-id, address */
#define PERM_BLOCK_REGISTRY 2u /* persistent globals: entries and bytes */
#define PERM_BLOCK_STATE 3u    /* one runtime state section, sparse */
#define PERM_BLOCK_RUNS 4u     /* region runs handed out (perm_image_run_t) */
#define PERM_BLOCK_EXTENTS 5u  /* region data extents (perm_image_extent_t) */

/* Header flags. */
#define PERM_IMAGE_F_RAW_GLOBALS                                               \
  0x1u /* the program was built without the plugin */
#define PERM_IMAGE_F_DELTA 0x2u /* region data are changes to the parent */
#define PERM_IMAGE_F_KNOWN 0x3u /* every flag this format defines */

/* A block: [offset, offset + length) of the file. */
typedef struct perm_image_block_s {
  uint32_t type;     /* PERM_BLOCK_* */
  uint32_t flags;    /* type-specific; for STATE, PERM_STATE_* */
  uint64_t offset;   /* in the file, PERM_IMAGE_ALIGN-aligned */
  uint64_t length;   /* bytes */
  uint64_t addr;     /* STATE: where the section lives in memory; else 0 */
  uint64_t checksum; /* XXH3-64 of the bytes */
} perm_image_block_t;

/* State section codes (block flags of a STATE block). */
#define PERM_STATE_JEMALLOC_DATA 1u
#define PERM_STATE_JEMALLOC_BSS 2u
#define PERM_STATE_RUNTIME 3u
#define PERM_STATE_COUNT 3u

typedef struct perm_image_header_s {
  char magic[8];             /* PERM_IMAGE_MAGIC */
  uint32_t format_version;   /* PERM_IMAGE_FORMAT_VERSION */
  uint32_t header_size;      /* sizeof(perm_image_header_t) */
  uint32_t page_size;        /* of the machine that wrote it */
  uint32_t flags;            /* PERM_IMAGE_F_* */
  uint64_t generation;       /* 1 for the first checkpoint of a heap */
  uint64_t time_ns;          /* CLOCK_REALTIME when the snapshot was taken */
  uint64_t region_base;      /* address of the region */
  uint64_t region_capacity;  /* bytes reserved */
  uint64_t region_top;       /* bytes of the region ever handed out */
  uint64_t data_offset;      /* file offset of the region data */
  uint64_t data_bytes;       /* bytes of region data in this file */
  uint64_t heap_allocated;   /* jemalloc stats.allocated at the snapshot */
  uint64_t heap_active;      /* jemalloc stats.active at the snapshot */
  uint64_t file_size;        /* expected size of the file */
  char runtime_version[16];  /* "0.2.0" */
  char jemalloc_version[64]; /* the private instance's version string */
  uint32_t nblocks;          /* entries used in blocks[] */
  uint32_t reserved0;
  perm_image_block_t blocks[PERM_IMAGE_MAX_BLOCKS];
  /* Version 2 from here. */
  uint64_t heap_id;           /* random, chosen when the heap was created */
  uint64_t parent_generation; /* DELTA: generation of the parent; else 0 */
  uint64_t parent_checksum;   /* DELTA: the parent's header_checksum */
  uint64_t chain_length;      /* images from the full one to this one */
  uint64_t bytes_dirtied;     /* DELTA: bytes of pages written since then */
  char parent_name[PERM_IMAGE_PARENT_NAME]; /* DELTA: the parent's file, in
                                               this file's directory */
  uint64_t reserved[8];
  uint64_t header_checksum; /* XXH3-64 of every byte above */
} perm_image_header_t;

_Static_assert(sizeof(perm_image_header_t) <= PERM_IMAGE_HEADER_SIZE,
               "the header must fit in its page");

/* Version 1's header ends with its checksum after the block table. */
#define PERM_IMAGE_V1_CHECKSUM_OFFSET offsetof(perm_image_header_t, heap_id)
#define PERM_IMAGE_V1_HEADER_SIZE (PERM_IMAGE_V1_CHECKSUM_OFFSET + 8u)

/* OBJECTS block: a count, then entries, then their NUL-terminated names. */
typedef struct perm_image_object_s {
  uint64_t load_addr;    /* dlpi_addr (0 for a non-PIE executable) */
  uint64_t name_offset;  /* from the start of the block */
  uint32_t flags;        /* PERM_OBJECT_* */
  uint32_t build_id_len; /* 0 when the object has no build-id */
  uint8_t build_id[40];
} perm_image_object_t;
#define PERM_OBJECT_MAIN 0x1u    /* the executable */
#define PERM_OBJECT_RUNTIME 0x2u /* the object holding the PERM runtime */
#define PERM_OBJECT_VDSO 0x4u    /* the kernel's vDSO: not compared */
#define PERM_OBJECT_KNOWN 0x7u

typedef struct perm_image_table_s {
  uint32_t count;
  uint32_t entry_size; /* sizeof the entry type, for forward checks */
} perm_image_table_t;

/* REGISTRY block: a table header, entries, names, then each global's bytes. */
typedef struct perm_image_global_s {
  uint64_t name_offset; /* from the start of the block */
  uint64_t addr;
  uint64_t size;
  uint64_t align;
  uint64_t type_hash;
  uint64_t data_offset; /* from the start of the block */
  uint32_t flags;       /* PERM_REG_* (include/perm_registry.h) */
  uint32_t reserved0;
} perm_image_global_t;

/*
** STATE block: a header, the pieces, then each piece's bytes back to back.
** Bytes of the section in no piece are zero: jemalloc's bss is megabytes,
** of which a few pages are used.
*/
typedef struct perm_image_state_s {
  uint64_t section_length; /* bytes of the section in memory */
  uint32_t count;          /* pieces */
  uint32_t piece_size;     /* sizeof(perm_image_piece_t) */
} perm_image_state_t;

typedef struct perm_image_piece_s {
  uint64_t offset; /* in the section */
  uint64_t length;
} perm_image_piece_t;

/* RUNS block: the parts of the region handed out to the allocator. */
typedef struct perm_image_run_s {
  uint64_t addr;
  uint64_t length;
} perm_image_run_t;

/* EXTENTS block: region data, in address order. */
typedef struct perm_image_extent_s {
  uint64_t addr;        /* in the region */
  uint64_t length;      /* a multiple of the page size */
  uint64_t file_offset; /* where the bytes are; 0 for a zero extent */
  uint64_t checksum;    /* XXH3-64 of the bytes; 0 for a zero extent */
  uint32_t flags;       /* PERM_EXTENT_* */
  uint32_t reserved0;
} perm_image_extent_t;
#define PERM_EXTENT_ZERO 0x1u /* deltas: the range reads as zeros now */

/* Version 1's extent. */
typedef struct perm_image_extent_v1_s {
  uint64_t addr, length, checksum;
} perm_image_extent_v1_t;

#endif /* PERM_IMAGE_FORMAT_H */
