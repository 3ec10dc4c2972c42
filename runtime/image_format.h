/*
** image_format.h - the on-disk layout of a PERM image (format version 1).
**
** An image is one file, little-endian, every block page-aligned so that it
** can be mapped:
**
**   offset 0      header page: perm_image_header_t, then the block table
**   ...           blocks: objects, registry, runtime state sections,
**                 region run table, extent table
**   data_offset   region data: a mirror of the region, byte for byte at
**                 data_offset + (address - region_base); pages that were
**                 never touched, were purged or are all zero are holes,
**                 so the file is sparse and its allocated size tracks the
**                 live heap
**
** Every block and every data extent carries an XXH3-64 checksum; the header
** carries one over itself.  The values below are on-disk codes: they are
** never reused for in-memory enums, and a change bumps
** PERM_IMAGE_FORMAT_VERSION.
*/
#ifndef PERM_IMAGE_FORMAT_H
#define PERM_IMAGE_FORMAT_H

#include <stdint.h>

#define PERM_IMAGE_MAGIC "PERMIMG\0" /* 8 bytes, first in the file */
#define PERM_IMAGE_FORMAT_VERSION 1u
#define PERM_IMAGE_HEADER_SIZE 4096u /* the header page */
#define PERM_IMAGE_MAX_BLOCKS 64u
#define PERM_IMAGE_ALIGN 4096u /* every block starts on this */

/* Block types (on-disk codes). */
#define PERM_BLOCK_OBJECTS 1u  /* loaded objects: name, build-id, address */
#define PERM_BLOCK_REGISTRY 2u /* persistent globals: entries and bytes */
#define PERM_BLOCK_STATE 3u    /* one runtime state section, raw bytes */
#define PERM_BLOCK_RUNS 4u     /* region runs handed out (perm_image_run_t) */
#define PERM_BLOCK_EXTENTS 5u  /* region data extents (perm_image_extent_t) */

/* Header flags. */
#define PERM_IMAGE_F_RAW_GLOBALS                                               \
  0x1u /* the program was built without the plugin */

/* A block: [offset, offset + length) of the file. */
typedef struct perm_image_block_s {
  uint32_t type;     /* PERM_BLOCK_* */
  uint32_t flags;    /* type-specific; for STATE, PERM_STATE_* */
  uint64_t offset;   /* in the file, PERM_IMAGE_ALIGN-aligned */
  uint64_t length;   /* bytes */
  uint64_t addr;     /* STATE: where the bytes live in memory; else 0 */
  uint64_t checksum; /* XXH3-64 of the bytes */
} perm_image_block_t;

/* State section codes (block flags of a STATE block). */
#define PERM_STATE_JEMALLOC_DATA 1u
#define PERM_STATE_JEMALLOC_BSS 2u
#define PERM_STATE_RUNTIME 3u

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
  uint64_t data_offset;      /* file offset of the region mirror */
  uint64_t data_bytes;       /* bytes of region data present (not holes) */
  uint64_t heap_allocated;   /* jemalloc stats.allocated at the snapshot */
  uint64_t heap_active;      /* jemalloc stats.active at the snapshot */
  uint64_t file_size;        /* expected size of the file */
  char runtime_version[16];  /* "0.1.0" */
  char jemalloc_version[64]; /* the private instance's version string */
  uint32_t nblocks;          /* entries used in blocks[] */
  uint32_t reserved0;
  perm_image_block_t blocks[PERM_IMAGE_MAX_BLOCKS];
  uint64_t header_checksum; /* XXH3-64 of every byte above */
} perm_image_header_t;

_Static_assert(sizeof(perm_image_header_t) <= PERM_IMAGE_HEADER_SIZE,
               "the header must fit in its page");

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
  uint32_t flags;       /* PERM_REG_* */
  uint32_t reserved0;
} perm_image_global_t;

/* RUNS block: the parts of the region handed out to the allocator. */
typedef struct perm_image_run_s {
  uint64_t addr;
  uint64_t length;
} perm_image_run_t;

/* EXTENTS block: present region data, each extent in the mirror. */
typedef struct perm_image_extent_s {
  uint64_t addr;     /* file offset = data_offset + addr - region_base */
  uint64_t length;   /* a multiple of the page size */
  uint64_t checksum; /* XXH3-64 of the bytes */
} perm_image_extent_t;

#endif /* PERM_IMAGE_FORMAT_H */
