/*
** forge.c - changes one field of a PERM image and recomputes the checksums
** that cover it, so the image passes every checksum yet breaks a rule that
** only 'perm check''s table and layout checks can catch.
**
**   forge IMAGE FIELD VALUE
**
** FIELD is one of
**   header.data_bytes  header.region_top  header.generation
**   block.N.offset                  (entry N of the header's block table)
**   objects.count  objects.N.name_offset  objects.N.build_id_len
**   registry.count registry.N.name_offset registry.N.data_offset
**   runs.count     runs.N.addr     runs.N.length
**   extents.count  extents.N.addr  extents.N.length
** VALUE is decimal, or hex with 0x.  Built with -lxxhash.
*/
#define _GNU_SOURCE
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "image_format.h"

static void die(const char *msg) {
  fprintf(stderr, "forge: %s\n", msg);
  exit(2);
}

static perm_image_block_t *find(perm_image_header_t *h, uint32_t type) {
  for (uint32_t i = 0; i < h->nblocks; i++)
    if (h->blocks[i].type == type)
      return &h->blocks[i];
  die("no such block");
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 4)
    die("usage: forge IMAGE FIELD VALUE");
  uint64_t v = strtoull(argv[3], NULL, 0);
  int fd = open(argv[1], O_RDWR);
  if (fd < 0)
    die("cannot open the image");
  perm_image_header_t h;
  if (pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h)
    die("cannot read the header");

  char what[64], field[64];
  unsigned idx = 0;
  if (sscanf(argv[2], "header.%63s", field) == 1) {
    if (strcmp(field, "data_bytes") == 0)
      h.data_bytes = v;
    else if (strcmp(field, "region_top") == 0)
      h.region_top = v;
    else if (strcmp(field, "generation") == 0)
      h.generation = v;
    else
      die("unknown header field");
  } else if (sscanf(argv[2], "block.%u.%63s", &idx, field) == 2) {
    if (idx >= h.nblocks || strcmp(field, "offset") != 0)
      die("bad block field");
    h.blocks[idx].offset = v;
  } else if (sscanf(argv[2], "%63[a-z].%63s", what, field) == 2) {
    static const struct {
      const char *name;
      uint32_t type;
      size_t entry;
    } kinds[] = {
        {"objects", PERM_BLOCK_OBJECTS, sizeof(perm_image_object_t)},
        {"registry", PERM_BLOCK_REGISTRY, sizeof(perm_image_global_t)},
        {"runs", PERM_BLOCK_RUNS, sizeof(perm_image_run_t)},
        {"extents", PERM_BLOCK_EXTENTS, sizeof(perm_image_extent_t)},
    };
    size_t k = 0;
    while (k < 4 && strcmp(kinds[k].name, what) != 0)
      k++;
    if (k == 4)
      die("unknown block");
    perm_image_block_t *b = find(&h, kinds[k].type);
    char *buf = malloc(b->length);
    if (buf == NULL ||
        pread(fd, buf, b->length, (off_t)b->offset) != (ssize_t)b->length)
      die("cannot read the block");
    perm_image_table_t *t = (perm_image_table_t *)buf;
    char name[64];
    if (strcmp(field, "count") == 0) {
      t->count = (uint32_t)v;
    } else if (sscanf(field, "%u.%63s", &idx, name) == 2) {
      char *e = buf + sizeof *t + idx * kinds[k].entry;
      if (idx >= t->count)
        die("no such entry");
#define SET(type, member)                                                      \
  if (strcmp(name, #member) == 0) {                                            \
    ((type *)e)->member = v;                                                   \
    goto done;                                                                 \
  }
      if (kinds[k].type == PERM_BLOCK_OBJECTS) {
        SET(perm_image_object_t, name_offset)
        SET(perm_image_object_t, build_id_len)
      } else if (kinds[k].type == PERM_BLOCK_REGISTRY) {
        SET(perm_image_global_t, name_offset)
        SET(perm_image_global_t, data_offset)
      } else if (kinds[k].type == PERM_BLOCK_RUNS) {
        SET(perm_image_run_t, addr)
        SET(perm_image_run_t, length)
      } else {
        SET(perm_image_extent_t, addr)
        SET(perm_image_extent_t, length)
      }
      die("unknown entry field");
    } else {
      die("unknown block field");
    }
  done:
    b->checksum = XXH3_64bits(buf, b->length);
    if (pwrite(fd, buf, b->length, (off_t)b->offset) != (ssize_t)b->length)
      die("cannot write the block");
    free(buf);
  } else {
    die("unknown field");
  }
  h.header_checksum =
      XXH3_64bits(&h, offsetof(perm_image_header_t, header_checksum));
  if (pwrite(fd, &h, sizeof h, 0) != (ssize_t)sizeof h)
    die("cannot write the header");
  close(fd);
  return 0;
}
